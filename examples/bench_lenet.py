"""LeNet training speed, nncc against PyTorch eager: bench_lenet.py BUILD_DIR [--steps N] [--threads T]

The same model (export_models.LeNet), batch 64, Adam, on the same
Fashion-MNIST images: PyTorch eager (torch.set_num_threads(T)) runs N
training steps; nncc runs `fashion_mnist --model lenet --epochs 1
--limit-train 64*N --threads T`, whose log gives the epoch's seconds (the
training steps with batching, not the evaluation). Prints both per-step
times, the time of a full 937-step epoch each, and the ratio nncc / PyTorch
(< 1: nncc is faster). Timings on a shared machine vary; run it when the
machine is idle.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_models import LeNet  # noqa: E402
from fashion_model import MEAN, STD, _read_idx  # noqa: E402

DATA = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
B = 64


def torch_steps(n, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = _read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz"))[:n * B]
    y = _read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz"))[:n * B]
    x = torch.from_numpy(((x.astype(np.float32) / 255 - MEAN) / STD).reshape(-1, 1, 28, 28))
    y = torch.from_numpy(y.astype(np.int64))
    model = LeNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    perm = torch.randperm(n * B)
    t0 = time.perf_counter()
    for b in range(n):
        idx = perm[b * B:(b + 1) * B]
        opt.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def nncc_steps(build, n, threads):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([os.path.join(build, "fashion_mnist"), "--model", "lenet", "--epochs", "1",
                        "--limit-train", str(n * B), "--limit-test", "1000", "--threads", str(threads),
                        "--quiet", "--out", out], check=True, capture_output=True)
        with open(os.path.join(out, "log.jsonl")) as f:
            return [json.loads(l) for l in f if '"epoch"' in l][-1]["epoch_seconds"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    tt = torch_steps(a.steps, a.threads)
    tn = nncc_steps(a.build, a.steps, a.threads)
    per_epoch = 60000 // B
    print(f"LeNet, batch {B}, Adam, {a.threads} threads, {a.steps} steps")
    print(f"  pytorch eager: {1e3 * tt / a.steps:.1f} ms/step, {tt / a.steps * per_epoch:.1f} s/epoch")
    print(f"  nncc:          {1e3 * tn / a.steps:.1f} ms/step, {tn / a.steps * per_epoch:.1f} s/epoch")
    print(f"ratio nncc/pytorch = {tn / tt:.2f}")


if __name__ == "__main__":
    main()
