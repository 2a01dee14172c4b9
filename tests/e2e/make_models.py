"""Export the end-to-end test models: make_models.py OUTDIR [--models mlp,lenet] [--force]

Writes OUTDIR/<name>.onnx, <name>.input.npy and <name>.ref.npy (see models.py).
A model whose three files exist and are newer than models.py is not exported
again unless --force is given.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402


def up_to_date(outdir, name):
    base = os.path.join(outdir, name)
    files = [base + ".onnx", base + ".input.npy", base + ".ref.npy"]
    if not all(os.path.isfile(f) for f in files):
        return False
    return os.path.getmtime(base + ".onnx") >= os.path.getmtime(models.__file__)


def describe(path):
    """'N nodes: Conv x20, Relu x17, ...' for an exported model."""
    import collections
    import onnx
    nodes = onnx.load(path).graph.node
    count = collections.Counter(n.op_type for n in nodes)
    return f"{len(nodes)} nodes: " + ", ".join(f"{op} x{k}" for op, k in sorted(count.items()))


def main():
    ap = argparse.ArgumentParser(description="export nncc's end-to-end test models")
    ap.add_argument("outdir")
    ap.add_argument("--models", default=",".join(models.MODELS),
                    help="comma-separated subset of: " + ", ".join(models.MODELS))
    ap.add_argument("--force", action="store_true", help="export even if up to date")
    args = ap.parse_args()
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in models.MODELS]
    if unknown or not names:
        ap.error(f"unknown model(s) {unknown}; known: {', '.join(models.MODELS)}")
    todo = [n for n in names if args.force or not up_to_date(args.outdir, n)]
    for name in names:
        if name not in todo:
            print(f"make_models: {os.path.join(args.outdir, name)}.onnx is up to date")
    if not todo:
        return
    import torch
    torch.set_num_threads(1)
    for name in todo:
        path = models.export(name, args.outdir)
        print(f"make_models: wrote {path} ({describe(path)})")


if __name__ == "__main__":
    main()
