"""--max-memory and the default recomputation (passes/remat.c,
tools/remat_fit.c): remat_e2e.py BUILD_DIR

For each case a small model is exported from PyTorch (fixed seed) and its
training step compiled twice with `nncc --train --report`: without a budget,
and with `--max-memory` set between the unconstrained arena and the smallest
plan the search reached on an earlier run of this test's design (so the
budget forces the search to recompute; every training step already has its
optimizer updates early and its free recomputations, passes/remat.c).
Checks:
  - the budgeted plan's arena (the report's `arena bytes:`) is <= the budget
    and smaller than the unconstrained one, and the report lists the change;
  - three steps of `nncc-run --train` give bit-identical losses and weights
    (the saved safetensors files are compared byte for byte): recomputation
    evaluates the same kernels on the same inputs, so the results must not
    differ at all;
  - a budget below any reachable plan is exit 1 naming the smallest plan and
    its lower bound, and leaves no output file;
  - --max-memory without --train, and a malformed size, are usage errors (2).
The default recomputation (a conv/batch-norm/ReLU net whose ReLU outputs,
1.5 MiB each, the next convolution's weight gradient reads): compiled with
and without --keep-activations, the default's arena is smaller, its report
lists the pointwise values it recomputes, and three steps give the same
losses and weights bit for bit; --keep-activations without --train is a
usage error. And a net of Winograd's convolutions whose smallest plan needs
the convolutions' lean scratch (tools/remat_fit.c): at that budget it
compiles, its report says so, and three steps are bit-identical.
"""
import os
import re
import subprocess
import sys
import tempfile

import warnings

import numpy as np
import torch
import torch.nn as nn


def deep():
    return nn.Sequential(nn.Linear(12, 64), nn.Tanh(), nn.Linear(64, 64), nn.Sigmoid(),
                         nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 5)), (512, 12)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 6 * 6, 5)

    def forward(self, x):
        h = nn.functional.max_pool2d(torch.tanh(self.c1(x)), 2)
        h = torch.sigmoid(self.c2(h)) * h
        return self.fc(nn.functional.avg_pool2d(h, 2).flatten(1))


class ConvBN(nn.Module):
    """Three conv/batch-norm/ReLU stages (training-mode batch norm)."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(c, 24, 3, padding=1, bias=False) for c in (1, 24, 24))
        self.bns = nn.ModuleList(nn.BatchNorm2d(24) for _ in range(3))
        self.fc = nn.Linear(24, 5)

    def forward(self, x):
        for c, b in zip(self.convs, self.bns):
            x = torch.relu(b(c(x)))
        return self.fc(x.mean((2, 3)))


class Wide(nn.Module):
    """3x3 convolutions of 64 channels (Winograd's) with training-mode batch
    norm and residual adds."""

    def __init__(self):
        super().__init__()
        self.c0 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.convs = nn.ModuleList(nn.Conv2d(64, 64, 3, padding=1, bias=False) for _ in range(3))
        self.bns = nn.ModuleList(nn.BatchNorm2d(64) for _ in range(4))
        self.fc = nn.Linear(64, 5)

    def forward(self, x):
        x = torch.relu(self.bns[0](self.c0(x)))
        for c, b in zip(self.convs, self.bns[1:]):
            x = torch.relu(b(c(x))) + x
        return self.fc(x.mean((2, 3)))


def run_lean(build, tmp):
    """The smallest plan of a Winograd net needs the lean rules: the budget
    of an impossible plan's message compiles, its report says so, and three
    steps give the plain step's losses and weights bit for bit."""
    torch.manual_seed(1)
    onnx, x, y = export(tmp, "wide", Wide().train(), (8, 3, 16, 16), 7,
                        training=torch.onnx.TrainingMode.PRESERVE)
    base = ["--train", "--loss=cross_entropy", "--optimizer=sgd:lr=0.05,momentum=0.9"]
    r = nncc(build, onnx, *base, "--max-memory=1k", "-o", os.path.join(tmp, "wide.tiny.so"))
    m = re.search(r"smallest plan reached is (\d+) arena bytes .* and the convolutions' lean scratch", r.stderr)
    check(r.returncode == 1 and m is not None, "wide: the smallest plan is not the lean rules': %s" % r.stderr)
    if not m:
        return
    results = []
    for label, extra in (("plain", []), ("lean", ["--max-memory=" + m.group(1), "--report"])):
        so = os.path.join(tmp, "wide.%s.so" % label)
        r = nncc(build, onnx, *base, *extra, "-o", so)
        if r.returncode != 0:
            check(False, "wide %s: nncc exit %d: %s" % (label, r.returncode, r.stderr))
            return
        if label == "lean":
            check("the convolutions' scratch by the lean rules" in r.stdout and
                  arena_of(r.stdout) <= int(m.group(1)),
                  "wide: the report does not show the lean rules:\n%s" % r.stdout[-800:])
        results.append(three_steps(build, so, x, y, os.path.join(tmp, "wide.%s.safetensors" % label),
                                   "wide " + label))
    check(results[0][0] == results[1][0] and results[0][0].count("loss") == 3,
          "wide: losses differ:\n%s---\n%s" % (results[0][0], results[1][0]))
    check(results[0][1] == results[1][1], "wide: weights after 3 steps differ")
    print("wide: the lean rules at %s bytes; 3 steps bit-identical" % m.group(1))


def run_default(build, tmp):
    torch.manual_seed(1)
    onnx, x, y = export(tmp, "convbn", ConvBN().train(), (16, 1, 32, 32), 5,
                        training=torch.onnx.TrainingMode.PRESERVE)
    base = ["--train", "--loss=cross_entropy", "--optimizer=sgd:lr=0.05,momentum=0.9", "--report"]
    arenas, results = [], []
    for label, extra in (("keep", ["--keep-activations"]), ("default", [])):
        so = os.path.join(tmp, "convbn.%s.so" % label)
        r = nncc(build, onnx, *base, *extra, "-o", so)
        if r.returncode != 0:
            check(False, "convbn %s: nncc exit %d: %s" % (label, r.returncode, r.stderr))
            return
        arenas.append(arena_of(r.stdout))
        if label == "default":
            m = re.search(r"^recompute: arena (\d+) bytes without recomputation .* with (\d+) forward "
                          r"values recomputed in the backward pass \((\d+) pointwise by default", r.stdout, re.M)
            check(m is not None and int(m.group(1)) == arenas[0] and int(m.group(3)) > 0,
                  "convbn: the report does not show the default's recomputation:\n%s" % r.stdout[-800:])
            check(re.search(r"recomputed: \S*Relu\S* \(1572864 bytes, pointwise\)", r.stdout) is not None,
                  "convbn: no ReLU output recomputed:\n%s" % r.stdout[-800:])
        else:
            check("recompute:" not in r.stdout, "convbn: --keep-activations recomputed")
        results.append(three_steps(build, so, x, y, os.path.join(tmp, "convbn.%s.safetensors" % label),
                                   "convbn " + label))
    check(None not in arenas and arenas[1] < arenas[0],
          "convbn: default arena %s not below --keep-activations' %s" % (arenas[1], arenas[0]))
    check(results[0][0] == results[1][0] and results[0][0].count("loss") == 3,
          "convbn: losses differ:\n%s---\n%s" % (results[0][0], results[1][0]))
    check(results[0][1] == results[1][1], "convbn: weights after 3 steps differ")
    print("convbn: arena %s with --keep-activations, %s by default; 3 steps bit-identical" % tuple(arenas))


# name: (builder, optimizer, budget as a fraction of the unconstrained arena)
CASES = {
    "deep_sgd": (deep, "sgd:lr=0.1,momentum=0.9", 0.85),
    "deep_adam": (deep, "adam:lr=0.01", 0.8),
    "cnn_sgd": (lambda: (CNN(), (16, 1, 24, 24)), "sgd:lr=0.05,momentum=0.9", 0.999),
}

fails = 0
warnings.filterwarnings("ignore", category=UserWarning)  # torch.onnx's notes on the export


def check(ok, what):
    global fails
    if not ok:
        fails += 1
        print("FAIL: " + what)


def nncc(build, *args):
    return subprocess.run([os.path.join(build, "nncc"), *args], capture_output=True, text=True)


def arena_of(report):
    m = re.search(r"^arena bytes: (\d+)$", report, re.M)
    return int(m.group(1)) if m else None


def export(tmp, name, model, shape, seed, **kw):
    """model exported to TMP/NAME.onnx, and a fixed batch (inputs, labels of
    5 classes) saved next to it: (onnx, x, y)."""
    onnx = os.path.join(tmp, name + ".onnx")
    torch.onnx.export(model, torch.zeros(shape), onnx, opset_version=13, input_names=["x"],
                      output_names=["y"], do_constant_folding=False, **kw)
    rng = np.random.default_rng(seed)
    x = os.path.join(tmp, name + ".x.npy")
    y = os.path.join(tmp, name + ".y.npy")
    np.save(x, rng.standard_normal(shape).astype(np.float32))
    np.save(y, rng.integers(0, 5, size=shape[0]).astype(np.int64))
    return onnx, x, y


def three_steps(build, so, x, y, weights, what):
    """Three training steps of so on the batch: (printed losses, saved weights' bytes)."""
    t = subprocess.run([os.path.join(build, "nncc-run"), so, "--train", "3", "-i", "x=" + x,
                        "-i", "label=" + y, "--save-weights", weights], capture_output=True, text=True)
    check(t.returncode == 0, "%s: nncc-run exit %d: %s" % (what, t.returncode, t.stderr))
    with open(weights, "rb") as f:
        return t.stdout, f.read()


def run_case(build, tmp, name):
    ctor, opt, frac = CASES[name]
    torch.manual_seed(1)
    model, shape = ctor()
    onnx, x, y = export(tmp, name, model, shape, 3)
    base = ["--train", "--loss=cross_entropy", "--optimizer=" + opt, "--report"]
    results = []
    budget = None
    for label in ("plain", "budget"):
        so = os.path.join(tmp, "%s.%s.so" % (name, label))
        extra = ["--max-memory=%d" % budget] if budget else []
        r = nncc(build, onnx, *base, *extra, "-o", so)
        if r.returncode != 0:
            check(False, "%s %s: nncc exit %d: %s" % (name, label, r.returncode, r.stderr))
            return
        arena = arena_of(r.stdout)
        if budget is None:
            plain = arena
            budget = int(arena * frac)
        else:
            check(arena is not None and arena <= budget,
                  "%s: budgeted arena %s > budget %d" % (name, arena, budget))
            check(arena < plain, "%s: budgeted arena %s not below %d" % (name, arena, plain))
            check("max-memory: budget %d bytes; arena %d bytes without" % (budget, plain) in r.stdout,
                  "%s: the report does not show the arena before and after:\n%s" % (name, r.stdout[-800:]))
        results.append(three_steps(build, so, x, y, os.path.join(tmp, "%s.%s.safetensors" % (name, label)),
                                   "%s %s" % (name, label)))
    check(results[0][0] == results[1][0] and results[0][0].count("loss") == 3,
          "%s: losses differ:\n%s---\n%s" % (name, results[0][0], results[1][0]))
    check(results[0][1] == results[1][1], "%s: weights after 3 steps differ" % name)
    print("%s: arena %d -> <= %d, 3 steps bit-identical" % (name, plain, budget))

    so = os.path.join(tmp, name + ".tiny.so")
    r = nncc(build, onnx, *base[:3], "--max-memory=1k", "-o", so)
    check(r.returncode == 1, "%s: impossible budget exit %d" % (name, r.returncode))
    check(re.search(r"smallest plan reached is \d+ arena bytes \(lower bound \d+\)", r.stderr)
          is not None, "%s: impossible budget message: %s" % (name, r.stderr))
    check(not os.path.exists(so), "%s: an output was left behind" % name)


def main():
    build = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        for name in CASES:
            run_case(build, tmp, name)
        run_default(build, tmp)
        run_lean(build, tmp)
        onnx = os.path.join(tmp, "deep_sgd.onnx")
        for args, what in ((["--max-memory=1M"], "without --train"),
                           (["--train", "--loss=mse", "--max-memory=12Q"], "malformed size"),
                           (["--train", "--loss=mse", "--max-memory=0"], "zero"),
                           (["--keep-activations"], "--keep-activations without --train")):
            r = nncc(build, onnx, *args, "--report")
            check(r.returncode == 2 and ("max-memory" in r.stderr or "keep-activations" in r.stderr),
                  "--max-memory %s: exit %d: %s" % (what, r.returncode, r.stderr))
    if fails:
        print("%d failure(s)" % fails)
        sys.exit(1)
    print("remat: all passed")


if __name__ == "__main__":
    main()
