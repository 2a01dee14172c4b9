#!/usr/bin/env python3
"""Autodiff end to end against PyTorch's autograd: each model is exported to
ONNX, compiled by `nncc --train --loss=mse --grad-inputs=x` and run once by
nncc-run; the loss and d(loss)/d(x) -- which backpropagates through every
layer -- must match PyTorch's within 1e-5 + 1e-4*|ref| (loss) and
1e-4 * max|ref grad| (gradient). Models: a 2-layer LSTM, a bidirectional
GRU, and a CNN with strided/padded conv, batchnorm (eval), 3x3/2 max-pool,
grouped conv, GELU (erf), a residual add, a transposed conv with
output_padding and an average pool.

usage: grad_e2e.py BUILD_DIR [MODEL...]
"""
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(4, 5, num_layers=2, batch_first=True)
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[:, -1])


class GRUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(4, 5, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(10, 3)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y[:, -1])


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(2, 4, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1, groups=2)
        self.ct = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        h = self.pool(torch.relu(self.bn(self.c1(x))))
        h = F.gelu(self.c2(h)) + h
        h = F.avg_pool2d(self.ct(h), 2)
        return self.fc(h.flatten(1))


MODELS = {"lstm": (LSTMNet, (2, 6, 4)), "gru": (GRUNet, (2, 6, 4)), "cnn": (CNN, (2, 2, 16, 16))}


def check(build, name):
    cls, shape = MODELS[name]
    torch.manual_seed(0)
    m = cls().eval()
    with torch.no_grad():  # non-trivial running statistics
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 1.5)
    x = torch.randn(*shape)
    label = torch.randn(shape[0], 3)
    d = os.path.join(build, "e2e-grad")
    os.makedirs(d, exist_ok=True)
    onnx = os.path.join(d, name + ".onnx")
    torch.onnx.export(m, (x,), onnx, input_names=["x"], output_names=["y"], opset_version=17)
    xg = x.clone().requires_grad_(True)
    loss = F.mse_loss(m(xg), label)
    loss.backward()
    np.save(os.path.join(d, name + "_x.npy"), x.numpy())
    np.save(os.path.join(d, name + "_label.npy"), label.numpy())
    so = os.path.join(d, name + ".so")
    out = os.path.join(d, "out-" + name)
    subprocess.run([os.path.join(build, "nncc"), onnx, "--train", "--loss=mse", "--optimizer=sgd",
                    "--grad-inputs=x", "-o", so], check=True)
    subprocess.run([os.path.join(build, "nncc-run"), so, "-i", "x=" + os.path.join(d, name + "_x.npy"),
                    "-i", "label=" + os.path.join(d, name + "_label.npy"), "-o", out], check=True)
    got_loss = float(np.load(os.path.join(out, "loss.npy")))
    got = np.load(os.path.join(out, "grad.x.npy"))
    ref = xg.grad.numpy()
    err = float(np.abs(got - ref).max())
    scale = float(np.abs(ref).max())
    ok = abs(got_loss - loss.item()) <= 1e-5 + 1e-4 * abs(loss.item()) and err <= 1e-4 * scale
    print(f"{'PASS' if ok else 'FAIL'} {name}: loss {got_loss:.7g} (torch {loss.item():.7g}), "
          f"grad max abs err {err:.3g} (max |grad| {scale:.3g})")
    return ok


def main():
    build = sys.argv[1]
    names = sys.argv[2:] or list(MODELS)
    ok = all([check(build, n) for n in names])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
