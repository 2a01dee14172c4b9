"""`.nn` models compiled by nncc against PyTorch: compare.py BUILD_DIR.

For each model (examples/models/mlp.nn, lenet.nn, tests/nn/models/seq.nn
with lstm, gru and rnn layers, convs.nn with convolution variants, bn.nn
with batch norm), nncc compiles the training step with SGD at
rate 0 and `nncc-run --train 1 --save-weights W` writes the initial
parameters (the values nncc drew at compile time) to W, read here by hand.
The same math is written in PyTorch (torch.nn modules with those weights
loaded), and the compiled inference model's output on a random batch must
match it within 1e-4 relative. For the MLP, the training step compiled
from the model's own loss and train clauses (Adam, lr 1e-3) runs three
steps, and the printed losses must match torch.optim.Adam's; its saved
checkpoint compiled into the inference model with --weights must give
the outputs of PyTorch's model after those steps. The batch-norm model
trains three steps from its own clauses (SGD with momentum) in training
mode: the losses, the parameters and the running statistics must match
PyTorch's model.train().
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_st(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        dt = {"F32": np.float32, "I64": np.int64, "U8": np.uint8}[v["dtype"]]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=dt).reshape(v["shape"]).copy()
    return out


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("FAIL: %s\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return r.stdout


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, 10)

    def forward(self, x):
        h = torch.relu(self.fc1(x.flatten(1)))
        return self.fc3(torch.relu(self.fc2(h)))


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 16, 5, padding=2), nn.Conv2d(16, 32, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(800, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):  # eval mode: no dropout
        h = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        h = nn.functional.max_pool2d(torch.relu(self.conv2(h)), 2)
        z = torch.relu(self.fc2(torch.relu(self.fc1(h.flatten(1)))))
        return self.fc3(z)


class Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.LSTM(8, 16, batch_first=True)
        self.g1 = nn.GRU(8, 16, batch_first=True)
        self.r1 = nn.RNN(8, 16, batch_first=True)
        self.fc = nn.Linear(48, 5)

    def forward(self, x):
        a, b, c = self.l1(x)[0][:, -1], self.g1(x)[0][:, -1], self.r1(x)[0][:, -1]
        return self.fc(torch.cat([a, b, c], 1))


class BN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c, self.bn, self.fc = nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4, momentum=0.2), nn.Linear(144, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.c(x))).flatten(1))


class Convs(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
        self.up = nn.ConvTranspose2d(6, 3, 3, stride=2, padding=1, output_padding=1)
        self.c2 = nn.Conv2d(3, 2, (3, 1), dilation=(2, 1), bias=False)

    def forward(self, x):
        h = self.up(torch.relu(self.c1(x)))
        return nn.functional.avg_pool2d(self.c2(h), 2).flatten(1)


def close(a, b, what):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    tol = 1e-4 * (np.abs(b) + 0.01 * np.abs(b).max() + 1e-6)
    if a.shape != b.shape or not np.all(np.abs(a - b) <= tol):
        sys.exit("FAIL: %s: max |diff| %g" % (what, np.abs(a - b).max() if a.shape == b.shape else -1))


def check(build, tmp, name, src, module, xshape, nclass):
    nncc, runner = os.path.join(build, "nncc"), os.path.join(build, "nncc-run")
    rng = np.random.default_rng(1)
    x = rng.standard_normal(xshape).astype(np.float32)
    y = rng.integers(0, nclass, xshape[0]).astype(np.int64)
    xf, yf = os.path.join(tmp, name + "_x.npy"), os.path.join(tmp, name + "_y.npy")
    np.save(xf, x)
    np.save(yf, y)
    shape = "x=" + ",".join(map(str, xshape))
    tr, inf = os.path.join(tmp, name + "_t.so"), os.path.join(tmp, name + ".so")
    w = os.path.join(tmp, name + ".safetensors")
    run([nncc, src, "--train", "--loss=cross_entropy", "--optimizer=sgd:lr=0", "--shape", shape, "-o", tr])
    run([runner, tr, "--train", "1", "-i", "x=" + xf, "-i", "label=" + yf, "--save-weights", w])
    run([nncc, src, "--shape", shape, "-o", inf])
    out = os.path.join(tmp, name + "_out")
    run([runner, inf, "-i", "x=" + xf, "-o", out])
    got = np.load(os.path.join(out, "logits.npy"))
    weights = read_st(w)
    m = module()
    sd = m.state_dict()
    for k in sd:
        if k.endswith("num_batches_tracked") or k.endswith("running_mean") or k.endswith("running_var"):
            continue  # 0, 0 and 1 in both; the saved ones already hold one step's update
        if k not in weights:
            sys.exit("FAIL: %s: nncc saved no parameter %s (has %s)" % (name, k, sorted(weights)))
        sd[k] = torch.from_numpy(weights[k])
    m.load_state_dict(sd)
    m.eval()
    with torch.no_grad():
        want = m(torch.from_numpy(x)).numpy()
    close(got, want, name + " inference")
    print("ok: %s inference matches PyTorch (%d state_dict tensors)" % (name, len(sd)))
    return m, xf, yf, x, y


def main():
    build = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        m, xf, yf, x, y = check(build, tmp, "mlp", os.path.join(ROOT, "examples/models/mlp.nn"), MLP,
                                (16, 1, 28, 28), 10)
        check(build, tmp, "lenet", os.path.join(ROOT, "examples/models/lenet.nn"), LeNet, (8, 1, 28, 28), 10)
        check(build, tmp, "seq", os.path.join(ROOT, "tests/nn/models/seq.nn"), Seq, (4, 12, 8), 5)
        check(build, tmp, "convs", os.path.join(ROOT, "tests/nn/models/convs.nn"), Convs, (3, 4, 8, 8), 16)
        # batch norm in training mode: the model's own sgd(lr=0.1, momentum=0.9), three steps
        bsrc = os.path.join(ROOT, "tests/nn/models/bn.nn")
        bm, bxf, byf, bx, by = check(build, tmp, "bn", bsrc, BN, (8, 2, 6, 6), 3)
        tr = os.path.join(tmp, "bn_sgd.so")
        w3 = os.path.join(tmp, "bn3.safetensors")
        run([os.path.join(build, "nncc"), bsrc, "--train", "--shape", "x=8,2,6,6", "-o", tr])
        outp = run([os.path.join(build, "nncc-run"), tr, "--train", "3", "-i", "x=" + bxf, "-i", "label=" + byf,
                    "--save-weights", w3])
        got = [float(l.split()[3]) for l in outp.splitlines() if l.startswith("step")]
        bm.train()
        opt = torch.optim.SGD(bm.parameters(), lr=0.1, momentum=0.9)
        want = []
        for _ in range(3):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(bm(torch.from_numpy(bx)), torch.from_numpy(by))
            want.append(loss.item())
            loss.backward()
            opt.step()
        close(got, want, "bn training losses")
        saved = read_st(w3)
        for k, v in bm.state_dict().items():
            if not k.endswith("num_batches_tracked"):
                close(saved[k], v.numpy(), "bn after 3 steps: " + k)
        print("ok: batch norm trains as PyTorch's (losses %s, running statistics match)" % got)
        # the MLP's own clauses: cross_entropy, adam(lr=1e-3), label `label`
        tr = os.path.join(tmp, "mlp_adam.so")
        run([os.path.join(build, "nncc"), os.path.join(ROOT, "examples/models/mlp.nn"), "--train",
             "--shape", "x=16,1,28,28", "-o", tr])
        w3 = os.path.join(tmp, "mlp_adam3.safetensors")
        outp = run([os.path.join(build, "nncc-run"), tr, "--train", "3", "-i", "x=" + xf, "-i", "label=" + yf,
                    "--save-weights", w3])
        got = [float(l.split()[3]) for l in outp.splitlines() if l.startswith("step")]
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        want = []
        for _ in range(3):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(m(torch.from_numpy(x)), torch.from_numpy(y))
            want.append(loss.item())
            loss.backward()
            opt.step()
        close(got, want, "mlp training losses")
        print("ok: mlp trains as torch.optim.Adam: losses %s" % got)
        # the trained checkpoint deployed into the .nn model with --weights
        so = os.path.join(tmp, "mlp_w.so")
        run([os.path.join(build, "nncc"), os.path.join(ROOT, "examples/models/mlp.nn"), "--weights=" + w3,
             "--shape", "x=16,1,28,28", "-o", so])
        out = os.path.join(tmp, "mlp_w_out")
        run([os.path.join(build, "nncc-run"), so, "-i", "x=" + xf, "-o", out])
        with torch.no_grad():
            close(np.load(os.path.join(out, "logits.npy")), m(torch.from_numpy(x)).numpy(), "mlp --weights")
        print("ok: mlp with --weights from the checkpoint matches PyTorch after 3 steps")


if __name__ == "__main__":
    main()
