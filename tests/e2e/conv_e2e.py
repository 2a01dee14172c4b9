"""End-to-end tests of the conv family (ConvTranspose, 1-D/3-D CNNs,
recurrent classifiers): conv_e2e.py BUILD_DIR MODEL

Builds MODEL (below; fixed seed, eval mode), exports it with
torch.onnx.export (input "input", output "output"), compiles it with
BUILD_DIR/nncc at -O2, runs it with BUILD_DIR/nncc-run and compares with
PyTorch's output at |out - ref| <= 1e-4 + 1e-3 |ref|. Files go to
BUILD_DIR/e2e-conv. Prints one line "PASS: ..." or "FAIL: ..."; exit 0/1.
"""
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn

OPSET = 13


class ConvT(nn.Module):
    """The brief's layer: ConvTranspose2d(stride 2, padding 1, output_padding 1)."""

    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
        return self.up(x)


class AutoEncoder(nn.Module):
    """A small convolutional autoencoder / DCGAN-style decoder: strided
    convs down, ConvTranspose2d (with a grouped and a biasless one) up."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.dec = nn.Sequential(
            nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1, groups=2),
            nn.ReLU(),
            nn.ConvTranspose2d(8, 1, 3, padding=1, dilation=1), nn.Sigmoid())

    def forward(self, x):
        return self.dec(self.enc(x))


class DCGAN(nn.Module):
    """The DCGAN generator (Radford et al.): a 100-d code through five
    ConvTranspose2d layers with BatchNorm and ReLU to a 3x64x64 Tanh image."""

    def __init__(self, nz=100, ngf=32):
        super().__init__()
        layers, c = [], nz
        for i, (k, s, p) in enumerate([(4, 1, 0), (4, 2, 1), (4, 2, 1), (4, 2, 1)]):
            out = ngf * 8 >> i
            layers += [nn.ConvTranspose2d(c, out, k, s, p, bias=False), nn.BatchNorm2d(out), nn.ReLU()]
            c = out
        layers += [nn.ConvTranspose2d(c, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


class CNN1d(nn.Module):
    """A 1-D CNN sequence classifier: Conv1d, BatchNorm1d, MaxPool1d,
    AvgPool1d, Linear."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Sequential(nn.Conv1d(3, 8, 5, padding=2), nn.BatchNorm1d(8))
        self.c2 = nn.Conv1d(8, 8, 3, stride=2, dilation=2)
        self.fc = nn.Linear(8 * 3, 5)

    def forward(self, x):
        x = nn.functional.max_pool1d(torch.relu(self.c1(x)), 2)
        x = nn.functional.avg_pool1d(torch.relu(self.c2(x)), 2)
        return self.fc(torch.flatten(x, 1))


class CNN3d(nn.Module):
    """A 3-D CNN: Conv3d, BatchNorm3d, MaxPool3d, AvgPool3d, ConvTranspose3d,
    Linear."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Sequential(nn.Conv3d(2, 4, 3, padding=1), nn.BatchNorm3d(4))
        self.c2 = nn.Conv3d(4, 6, (3, 2, 2), stride=(1, 2, 2), groups=2)
        self.up = nn.ConvTranspose3d(6, 4, 2, stride=2)
        self.fc = nn.Linear(4 * 2 * 2 * 2, 3)

    def forward(self, x):
        x = nn.functional.max_pool3d(torch.relu(self.c1(x)), 2)       # 4x4x4x4
        x = torch.relu(self.c2(x))                                    # 6x2x2x2
        x = nn.functional.avg_pool3d(self.up(x), 2)                   # 4x2x2x2
        return self.fc(torch.flatten(x, 1))


class SeqClassifier(nn.Module):
    """A recurrent sequence classifier: the last step's output through a
    Linear layer. rnn is nn.LSTM, nn.GRU or nn.RNN. The initial states are
    given (random buffers, exported as initializers): PyTorch writes the
    default zero states with Expand, an op of another family."""

    def __init__(self, rnn, batch_first, batch, **kw):
        super().__init__()
        self.batch_first = batch_first
        self.lstm = rnn is nn.LSTM
        self.rnn = rnn(input_size=6, hidden_size=8, batch_first=batch_first, **kw)
        dirs = 2 if kw.get("bidirectional") else 1
        states = (kw.get("num_layers", 1) * dirs, batch, 8)
        self.register_buffer("h0", 0.5 * torch.randn(states))
        self.register_buffer("c0", 0.5 * torch.randn(states))
        self.fc = nn.Linear(8 * dirs, 4)

    def forward(self, x):
        y, _ = self.rnn(x, (self.h0, self.c0) if self.lstm else self.h0)
        last = y[:, -1] if self.batch_first else y[-1]
        return self.fc(last)


def seq(rnn, batch_first, batch, **kw):
    return lambda: SeqClassifier(rnn, batch_first, batch, **kw)


# name -> (constructor, input shape, seed)
MODELS = {
    "convt": (ConvT, (2, 4, 5, 6), 11),
    "autoencoder": (AutoEncoder, (2, 1, 16, 16), 12),
    "dcgan": (DCGAN, (2, 100, 1, 1), 24),
    "cnn1d": (CNN1d, (4, 3, 32), 13),
    "cnn3d": (CNN3d, (2, 2, 8, 8, 8), 14),
    "lstm2": (seq(nn.LSTM, False, 3, num_layers=2), (7, 3, 6), 15),
    "lstm2-bf": (seq(nn.LSTM, True, 3, num_layers=2), (3, 7, 6), 16),
    "gru": (seq(nn.GRU, False, 2), (5, 2, 6), 17),
    "gru2-bf": (seq(nn.GRU, True, 2, num_layers=2), (2, 5, 6), 18),
    "rnn-tanh": (seq(nn.RNN, False, 3, nonlinearity="tanh"), (6, 3, 6), 19),
    "rnn-relu-bf": (seq(nn.RNN, True, 3, nonlinearity="relu", num_layers=2), (3, 6, 6), 20),
    "bilstm": (seq(nn.LSTM, False, 2, bidirectional=True), (5, 2, 6), 21),
    "bilstm2-bf": (seq(nn.LSTM, True, 2, bidirectional=True, num_layers=2), (2, 5, 6), 22),
    "bigru": (seq(nn.GRU, False, 3, bidirectional=True), (4, 3, 6), 23),
}


def fail(tag, msg):
    print(f"FAIL: e2e {tag}: {msg}")
    return 1


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in MODELS:
        print(f"usage: {sys.argv[0]} BUILD_DIR MODEL ({', '.join(MODELS)})", file=sys.stderr)
        return 2
    build, name = sys.argv[1], sys.argv[2]
    ctor, shape, seed = MODELS[name]
    outdir = os.path.join(build, "e2e-conv")
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(seed)
    model = ctor().eval()
    for m in model.modules():  # non-trivial batchnorm statistics
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    base = os.path.join(outdir, name)
    torch.onnx.export(model, torch.from_numpy(x), base + ".onnx", opset_version=OPSET,
                      input_names=["input"], output_names=["output"])
    np.save(base + ".input.npy", x)
    so, out = base + ".so", base + ".out"
    os.makedirs(out, exist_ok=True)
    for cmd in ([os.path.join(build, "nncc"), base + ".onnx", "-o", so, "-O2"],
                [os.path.join(build, "nncc-run"), so, "-i", f"input={base}.input.npy", "-o", out]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return fail(name, f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()}")
    got = np.load(os.path.join(out, "output.npy"))
    if got.shape != ref.shape:
        return fail(name, f"shape {got.shape} != reference {ref.shape}")
    err = np.abs(got.astype(np.float64) - ref)
    bad = err > 1e-4 + 1e-3 * np.abs(ref)
    if bad.any():
        i = np.unravel_index(np.argmax(err), err.shape)
        return fail(name, f"{bad.sum()} elements differ; worst {got[i]} vs {ref[i]}")
    print(f"PASS: e2e {name}: max abs error {err.max():.3g} over {ref.size} elements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
