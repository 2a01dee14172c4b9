"""Data preparation and scoring for examples/demo.sh.

  demo_eval.py prepare OUTDIR
      writes OUTDIR/test_images.npy (float32 [10000,1,28,28], normalized as in
      training) and OUTDIR/test_labels.npy (int64 [10000]) from Fashion-MNIST.
  demo_eval.py score OUTDIR LOGITS.npy [--seconds S] [--bench-json FILE]
      prints sample predictions, nncc's accuracy, PyTorch's accuracy for the
      shipped weights (fashion_cnn.pt) and the difference; exits 1 when they
      differ by more than 10 images.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
MAX_DIFF = 10  # images (0.1% of the test set)


def prepare(outdir):
    import fashion_model
    x, y = fashion_model.load("t10k")
    os.makedirs(outdir, exist_ok=True)
    for name, arr in (("test_images", x), ("test_labels", y)):
        tmp = os.path.join(outdir, name + ".tmp.npy")
        np.save(tmp, arr)
        os.replace(tmp, os.path.join(outdir, name + ".npy"))
    print(f"demo: wrote {outdir}/test_images.npy {x.shape} {x.dtype} and test_labels.npy {y.shape}")
    return 0


def torch_logits(images, weights):
    import torch
    from fashion_model import FashionCNN
    torch.set_num_threads(2)
    model = FashionCNN()
    model.load_state_dict(torch.load(weights, map_location="cpu"))
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(images), 1000):
            out.append(model(torch.from_numpy(images[i:i + 1000])).numpy())
    return np.concatenate(out)


def bench_summary(path):
    """One line from nncc-run --json, keeping whatever timing fields it has."""
    try:
        with open(path) as f:
            text = f.read().strip()
        obj = json.loads(text.splitlines()[-1]) if text else {}
    except (OSError, ValueError, IndexError) as e:
        return f"(could not read {path}: {e})"
    if not isinstance(obj, dict):
        return text
    keys = [k for k in obj if any(w in k.lower() for w in ("ms", "median", "min", "time", "lat"))]
    return ", ".join(f"{k}={obj[k]}" for k in keys) if keys else text


def score(args):
    from fashion_model import CLASSES
    labels = np.load(os.path.join(args.dir, "test_labels.npy"))
    images = np.load(os.path.join(args.dir, "test_images.npy"))
    logits = np.load(args.logits)
    n = len(labels)
    if logits.shape != (n, len(CLASSES)):
        print(f"demo: FAIL {args.logits} has shape {logits.shape}, want ({n}, {len(CLASSES)})")
        return 1
    if not np.isfinite(logits).all():
        print(f"demo: FAIL {args.logits} holds {int((~np.isfinite(logits)).sum())} non-finite values")
        return 1

    pred = logits.argmax(1)
    for i in range(10):
        print(f"image {i}: predicted {CLASSES[pred[i]]}, true {CLASSES[labels[i]]}")

    ref = torch_logits(images, args.weights)
    ref_pred = ref.argmax(1)
    ok_nncc = int((pred == labels).sum())
    ok_torch = int((ref_pred == labels).sum())
    disagree = int((pred != ref_pred).sum())
    diff = ok_nncc - ok_torch
    print(f"nncc accuracy:    {ok_nncc}/{n} = {ok_nncc / n:.2%}")
    print(f"PyTorch accuracy: {ok_torch}/{n} = {ok_torch / n:.2%}")
    print(f"difference: {diff:+d} correct predictions; the two disagree on {disagree} images; "
          f"max |logit difference| {float(np.abs(logits - ref).max()):.3g}")
    if args.seconds is not None:
        print(f"nncc-run: {n} images in {args.seconds:.3f} s wall clock "
              f"(process start, loading the model and {images.nbytes >> 20} MiB of input, writing outputs)")
    if args.bench_json:
        print(f"nncc-run --bench: {bench_summary(args.bench_json)}")
    if abs(diff) > MAX_DIFF or disagree > MAX_DIFF:
        print(f"demo: FAIL nncc and PyTorch differ on more than {MAX_DIFF} images")
        return 1
    print("demo: OK")
    return 0


def main():
    ap = argparse.ArgumentParser(description="Fashion-MNIST demo helper")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="write the test set as .npy files")
    p.add_argument("dir")
    s = sub.add_parser("score", help="score nncc's logits against the labels and PyTorch")
    s.add_argument("dir", help="folder holding test_images.npy and test_labels.npy")
    s.add_argument("logits", help="nncc-run's output logits.npy")
    s.add_argument("--weights", default=os.path.join(HERE, "fashion_cnn.pt"))
    s.add_argument("--seconds", type=float, help="wall-clock time of the nncc-run call")
    s.add_argument("--bench-json", help="file holding nncc-run --bench --json output")
    args = ap.parse_args()
    return prepare(args.dir) if args.cmd == "prepare" else score(args)


if __name__ == "__main__":
    sys.exit(main())
