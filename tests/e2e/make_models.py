"""Export the end-to-end test models: make_models.py OUTDIR [--models mlp,lenet]

Writes OUTDIR/<name>.onnx, <name>.input.npy and <name>.ref.npy (see models.py).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="export nncc's end-to-end test models")
    ap.add_argument("outdir")
    ap.add_argument("--models", default=",".join(models.MODELS),
                    help="comma-separated subset of: " + ", ".join(models.MODELS))
    args = ap.parse_args()
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in models.MODELS]
    if unknown or not names:
        ap.error(f"unknown model(s) {unknown}; known: {', '.join(models.MODELS)}")
    import onnx
    import torch
    torch.set_num_threads(1)
    for name in names:
        path = models.export(name, args.outdir)
        ops = sorted({n.op_type for n in onnx.load(path).graph.node})
        print(f"make_models: wrote {path} (ops: {' '.join(ops)})")


if __name__ == "__main__":
    main()
