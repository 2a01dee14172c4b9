"""Train the demo CNN on Fashion-MNIST (CPU, a few minutes) and export it.

Usage: /usr/bin/python3 examples/train_fashion.py [--epochs 4] [--threads 2]
Writes examples/fashion_cnn.pt (state_dict) and examples/fashion_cnn.onnx
(eval mode, opset 13, input "input" [N,1,28,28], output "logits" [N,10]).
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fashion_model  # noqa: E402
from fashion_model import FashionCNN, num_params  # noqa: E402


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(torch.from_numpy(x[i:i + batch]))
            correct += int((logits.argmax(1).numpy() == y[i:i + batch]).sum())
    return correct


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=HERE, help="folder for fashion_cnn.pt/.onnx")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    x_train, y_train = fashion_model.load("train")
    x_test, y_test = fashion_model.load("t10k")
    print(f"train {x_train.shape}, test {x_test.shape}")

    model = FashionCNN()
    print(f"FashionCNN: {num_params(model)} parameters")
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = (len(x_train) + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch)

    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = rng.permutation(len(x_train))
        total_loss = 0.0
        for i in range(0, len(perm), args.batch):
            idx = perm[i:i + args.batch]
            xb = torch.from_numpy(x_train[idx])
            yb = torch.from_numpy(y_train[idx])
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += float(loss) * len(idx)
        acc = evaluate(model, x_test, y_test) / len(x_test)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total_loss / len(x_train):.4f}, "
              f"test accuracy {acc:.4f}, {time.time() - t0:.0f}s")

    model.eval()
    correct = evaluate(model, x_test, y_test)
    print(f"final test accuracy: {correct}/{len(x_test)} = {correct / len(x_test):.4f}")

    os.makedirs(args.out, exist_ok=True)
    pt_path = os.path.join(args.out, "fashion_cnn.pt")
    onnx_path = os.path.join(args.out, "fashion_cnn.onnx")
    torch.save(model.state_dict(), pt_path)
    dummy = torch.from_numpy(x_test[:2])
    torch.onnx.export(model, dummy, onnx_path, opset_version=13, do_constant_folding=True,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    for p in (pt_path, onnx_path):
        print(f"wrote {p} ({os.path.getsize(p)} bytes)")


if __name__ == "__main__":
    main()
