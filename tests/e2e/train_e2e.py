"""Compiled training steps against PyTorch: train_e2e.py BUILD_DIR [--case NAME]...

For each case, a small model is built in PyTorch with a fixed seed and
exported to ONNX (eval mode, initializers keep the module's parameter
names). `nncc --train --loss=L --optimizer=O` compiles the training step,
`nncc-run TRAIN.so --train 3 -i x=... -i label=... --save-weights W` runs
three steps on one batch; the same three steps run in PyTorch
(torch.optim.SGD / Adam / AdamW). The printed losses and every trained
parameter in W (safetensors, read here by hand) must match PyTorch's within
1e-4 relative: |a - b| <= 1e-4 * (|b| + 0.01 * max|b| + 1e-6), the floor for
elements near zero taken from the tensor's scale (Adam's normalized step
makes the absolute error of every element about the same). A resume check runs one
step, saves, then two more from the saved file in a new process, and
requires the parameters to equal the uninterrupted run's bit for bit.
Without --case it also checks --grad-inputs (grad.x against x.grad) and the
error paths of both tools (exit status and message, no output left behind).
"""
import argparse
import copy
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

STEPS = 3
SPREAD_RUNS = 8  # float32 PyTorch runs for the parity spread (model_case_check)


def mlp():
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5))


def mlp_tanh():
    return nn.Sequential(nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 5))


class SmallCNN(nn.Module):
    """LeNet-like: conv, relu, max-pool, conv, relu, avg-pool, linear (input [N, 1, 12, 12])."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 6, 3, stride=1)
        self.fc = nn.Linear(6 * 2 * 2, 5)

    def forward(self, x):
        h = nn.functional.max_pool2d(torch.relu(self.c1(x)), 2)
        h = nn.functional.avg_pool2d(torch.relu(self.c2(h)), 2)
        return self.fc(h.flatten(1))


class LSTMClassifier(nn.Module):
    """LSTM over a sequence (batch first), its last hidden state -> linear (input [N, 8, 6])."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(6, 16, batch_first=True)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        _, (h, _) = self.rnn(x)
        return self.fc(h[-1])


class GRUClassifier(nn.Module):
    """GRU over a sequence (sequence first), its last hidden state -> linear (input [8, N, 6])."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(6, 12)
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        _, h = self.rnn(x)
        return self.fc(h[-1])


class SmallResNet(nn.Module):
    """A stem (conv, batch norm, relu) and two BasicBlocks (batch norm in training mode), the
    second with a strided projection shortcut; global average pool, linear (input [2, 3, 16, 16])."""

    def __init__(self):
        super().__init__()
        from torchvision.models.resnet import BasicBlock
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        down = nn.Sequential(nn.Conv2d(8, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16))
        self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 16, stride=2, downsample=down))
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        h = self.layer1(torch.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(h, 1), 1))


def frozen_bn_resnet():
    """SmallResNet exported and trained in eval mode: batch norm normalizes with its running
    statistics, which neither PyTorch nor nncc changes (a frozen BatchNorm). Its batch norm
    parameters and statistics are drawn at random: an eval-mode export merges initializers with
    equal values (fresh layers all have weight 1, bias 0), which would tie them together."""
    model = SmallResNet()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model


def resnet18():
    from torchvision.models import resnet18 as tv_resnet18
    return tv_resnet18(num_classes=10)


# input shape per model builder (default [4, 12])
INPUT = {SmallCNN: (4, 1, 12, 12), LSTMClassifier: (4, 8, 6), GRUClassifier: (8, 4, 6),
         SmallResNet: (2, 3, 16, 16), frozen_bn_resnet: (2, 3, 16, 16), resnet18: (4, 3, 64, 64)}
# models exported in training mode (torch.onnx.TrainingMode.PRESERVE): batch norm uses the
# batch's statistics and updates its running ones, which nncc keeps as state of role buffer
TRAIN_MODE = {SmallResNet, resnet18}
# models with batch norm exported in eval mode; PRESERVE keeps their BatchNormalization nodes
# (TrainingMode.EVAL would fold them into the convolutions, renaming the parameters)
PRESERVE = TRAIN_MODE | {frozen_bn_resnet}

# name: (model builder, loss, optimizer spec, torch optimizer factory, freeze prefix[, nncc flags])
CASES = {
    "lstm_sgd": (LSTMClassifier, "cross_entropy", "sgd:lr=0.1,momentum=0.9",
                 lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), None),
    "lstm_adam": (LSTMClassifier, "cross_entropy", "adam:lr=0.01",
                  lambda p: torch.optim.Adam(p, lr=0.01), None),
    "gru_adam": (GRUClassifier, "cross_entropy", "adam:lr=0.01",
                 lambda p: torch.optim.Adam(p, lr=0.01), None),
    "resnet_sgd": (SmallResNet, "cross_entropy", "sgd:lr=0.05,momentum=0.9,weight_decay=1e-4",
                   lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-4), None),
    "resnet_frozen_bn": (frozen_bn_resnet, "cross_entropy", "sgd:lr=0.05,momentum=0.9",
                         lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), None),
    "resnet_adam": (SmallResNet, "cross_entropy", "adam:lr=0.001",
                    lambda p: torch.optim.Adam(p, lr=0.001), None),
    "cnn_sgd": (SmallCNN, "cross_entropy", "sgd:lr=0.05,momentum=0.9",
                lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), None),
    "cnn_adam": (SmallCNN, "cross_entropy", "adam:lr=0.01",
                 lambda p: torch.optim.Adam(p, lr=0.01), None),
    "sgd_momentum_O0": (mlp, "cross_entropy", "sgd:lr=0.1,momentum=0.9,dampening=0.2",
                        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.2), None,
                        ["-O0"]),
    "adam_O3": (mlp_tanh, "cross_entropy", "adam:lr=0.01,weight_decay=0.05",
                lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.05), None, ["-O3"]),
    "sgd_momentum": (mlp, "cross_entropy", "sgd:lr=0.1,momentum=0.9,weight_decay=0.01",
                     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01), None),
    "sgd_nesterov": (mlp, "cross_entropy", "sgd:lr=0.05,momentum=0.8,nesterov=1",
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True), None),
    "adam": (mlp, "cross_entropy", "adam:lr=0.01",
             lambda p: torch.optim.Adam(p, lr=0.01), None),
    "adamw_mse": (mlp_tanh, "mse", "adamw:lr=0.02,weight_decay=0.1",
                  lambda p: torch.optim.AdamW(p, lr=0.02, weight_decay=0.1), None),
    "adam_freeze": (mlp, "cross_entropy", "adam:lr=0.01",
                    lambda p: torch.optim.Adam(p, lr=0.01), "0."),
}
# the full torchvision ResNet-18: `make test-train-models` (minutes, not in make test)
MODEL_CASES = {
    "resnet18_sgd": (resnet18, "cross_entropy", "sgd:lr=0.01,momentum=0.9,weight_decay=1e-4",
                     lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, weight_decay=1e-4), None),
    "resnet18_adam": (resnet18, "cross_entropy", "adam:lr=0.001",
                      lambda p: torch.optim.Adam(p, lr=0.001), None),
}
ALL_CASES = {**CASES, **MODEL_CASES}


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    hdr = json.loads(buf[8:8 + n])
    data = buf[8 + n:]
    out = {}
    dt = {"F32": np.float32, "I64": np.int64, "F64": np.float64, "U8": np.uint8}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        out[k] = np.frombuffer(data[b:e], dtype=dt[v["dtype"]]).reshape(v["shape"])
    return out, hdr.get("__metadata__", {})


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout


def close(a, b, what, atol=0.0):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    err = np.abs(a - b)
    tol = 1e-4 * (np.abs(b) + 1e-2 * np.abs(b).max() + 1e-6) + atol
    if not np.all(err <= tol):
        i = int(np.argmax(err - tol))
        sys.exit(f"FAIL: {what}: max error {err.flat[i]:.3g} at {i} (nncc {a.flat[i]:.9g}, "
                 f"torch {b.flat[i]:.9g})")
    return float(err.max()) if err.size else 0.0


def torch_steps(model, x, label, loss, opt_fn, freeze):
    """STEPS optimizer steps of model on (x, label) in PyTorch; the losses."""
    params = [p for n, p in model.named_parameters() if not (freeze and n.startswith(freeze))]
    opt = opt_fn(params)
    crit = nn.CrossEntropyLoss() if loss == "cross_entropy" else nn.MSELoss()
    ref_losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        lv = crit(model(x), label)
        ref_losses.append(lv.item())
        lv.backward()
        opt.step()
    return ref_losses


def state_of(model):
    """Parameters and running statistics by name, as float64 arrays."""
    out = {n: p.detach().double().numpy() for n, p in model.named_parameters()}
    out.update({n: b.double().numpy() for n, b in model.named_buffers()
                if not n.endswith("num_batches_tracked")})
    return out


def excess(a, b):
    """(max error / tolerance, fraction of elements beyond it) under close()'s rule."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    tol = 1e-4 * (np.abs(b) + 1e-2 * np.abs(b).max() + 1e-6)
    r = np.abs(a - b) / tol
    return float(r.max()), float((r > 1).mean())


def model_case_check(name, w, losses, model, ref_losses, start, x, label, loss, opt_fn):
    """A large model: every tensor under the 1e-4 rule against PyTorch (float32). Where some
    miss it, the same steps also run in float64 and the table shows, per tensor, how far nncc
    and float32 PyTorch each are from it. Float32 rounding alone can move a tensor past the
    rule (Adam's first step is lr * sign(g): an element whose true gradient is below float32's
    noise gets a step of random sign; batch norm biases' gradients cancel to small sums), so
    the case then passes on parity, printed as such: nncc's fraction of elements beyond the rule
    against float64 is at most float32 PyTorch's (plus 1e-4). Exit 1 otherwise."""
    ours = {n: w[n] for n in state_of(model) if n in w}
    ref = state_of(model)
    missing = sorted(set(ref) - set(ours))
    if missing:
        sys.exit(f"FAIL: {name}: {missing[:5]} missing from the weights file")
    rows = [(excess(losses, ref_losses), "loss")] + [(excess(ours[n], ref[n]), n) for n in ref]
    worst = max(r[0][0] for r in rows)
    if worst <= 1:
        print(f"PASS {name}: {STEPS} steps, {len(ref)} tensors within 1e-4 relative of PyTorch "
              f"(worst at {worst:.3g} of the bound)")
        return
    m64 = copy.deepcopy(start).double()  # start stays the float32 start (the spread below)
    torch_steps(m64, x.double(), label, loss, opt_fn, None)
    exact = state_of(m64)
    print(f"{name}: beyond the 1e-4 rule against float32 PyTorch; float64 PyTorch as arbiter "
          f"(error / bound, fraction of elements beyond it):")
    print(f"  {'tensor':40s} {'nncc-torch32':>18s} {'nncc-torch64':>18s} {'torch32-torch64':>18s}")
    n_ours = n_ref = n_all = 0
    for (e, f), n in sorted(rows, reverse=True):
        if n == "loss":
            continue
        e64, f64 = excess(ours[n], exact[n])
        r64, g64 = excess(ref[n], exact[n])
        n_ours += f64 * ref[n].size
        n_ref += g64 * ref[n].size
        n_all += ref[n].size
        if e > 1:
            print(f"  {n:40s} {e:9.3g} {f:8.2%} {e64:9.3g} {f64:8.2%} {r64:9.3g} {g64:8.2%}")
    fo, fr = n_ours / n_all, n_ref / n_all
    print(f"  all {n_all} elements: beyond the rule against float64: nncc {fo:.4%}, "
          f"float32 PyTorch {fr:.4%}")
    against = "float32 PyTorch"
    if fo > fr + 1e-4:
        # One float32 run is one draw: a ReLU input or a max-pool tie within rounding of
        # its switch can flip in a later step and move every tensor at once. The spread
        # of float32 PyTorch runs whose start weights differ by at most an ulp or two
        # (eps * |w|, a fixed seed) says how far float32 alone lands; nncc passes if it
        # lands no farther than the farthest of them.
        spread = []
        g = torch.Generator().manual_seed(1)
        for _ in range(SPREAD_RUNS):
            m32 = copy.deepcopy(start)
            with torch.no_grad():
                for p in m32.parameters():
                    u = torch.randint(-1, 2, p.shape, generator=g).to(p.dtype)
                    p.add_(u * torch.finfo(p.dtype).eps * p.abs())
            torch_steps(m32, x, label, loss, opt_fn, None)
            st = state_of(m32)
            spread.append(sum(excess(st[n], exact[n])[1] * exact[n].size for n in ref) / n_all)
        print(f"  float32 PyTorch from start weights moved by an ulp or two, {SPREAD_RUNS} runs: "
              + ", ".join(f"{f:.4%}" for f in spread))
        if fo > max(spread) + 1e-4:
            sys.exit(f"FAIL: {name}: nncc is farther from float64 PyTorch than float32 PyTorch runs are")
        against = "float32 PyTorch runs"
    print(f"PASS (parity) {name}: worst {worst:.3g} x the 1e-4 bound against float32 PyTorch; "
          f"no farther from float64 than {against}")


def case(build, tmp, name):
    build_fn, loss, spec, opt_fn, freeze = ALL_CASES[name][:5]
    flags = ALL_CASES[name][5] if len(ALL_CASES[name]) > 5 else []
    torch.manual_seed(7)
    model = build_fn()
    x = torch.randn(*INPUT.get(build_fn, (4, 12)))
    nbatch = x.shape[1] if build_fn is GRUClassifier else x.shape[0]
    if loss == "cross_entropy":
        label = torch.tensor([0, 3, 1, 4][:nbatch], dtype=torch.int64)
    else:
        label = torch.randn(nbatch, 5)
    onnx_path = os.path.join(tmp, name + ".onnx")
    train_mode = build_fn in TRAIN_MODE
    # in training mode the export runs the model once: its running statistics (in the module
    # and in the ONNX initializers alike) then include that batch
    model.train(train_mode)
    torch.onnx.export(model, (x,), onnx_path, input_names=["x"], output_names=["y"],
                      do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE if build_fn in PRESERVE else torch.onnx.TrainingMode.EVAL)
    np.save(os.path.join(tmp, "x.npy"), x.numpy())
    np.save(os.path.join(tmp, "label.npy"), label.numpy())

    so = os.path.join(tmp, name + ".so")
    cmd = [os.path.join(build, "nncc"), onnx_path, "--train", "--loss=" + loss,
           "--optimizer=" + spec, "-o", so] + flags
    if freeze:
        cmd.append("--freeze=" + freeze)
    if train_mode:
        cmd.append("--report")
    rep = run(cmd)
    if train_mode:  # the running statistics are state of their own kind
        stats = [b for n, b in model.named_buffers() if not n.endswith("num_batches_tracked")]
        want = f"  buffers: {4 * sum(b.numel() for b in stats)} bytes in {len(stats)} tensors"
        if want not in rep:
            sys.exit(f"FAIL: {name}: --report lacks '{want}':\n{rep}")
    wfile = os.path.join(tmp, name + ".safetensors")
    runner = os.path.join(build, "nncc-run")
    inputs = ["-i", "x=" + os.path.join(tmp, "x.npy"), "-i", "label=" + os.path.join(tmp, "label.npy")]
    out = run([runner, so, "--train", str(STEPS)] + inputs + ["--save-weights", wfile])
    losses = [float(line.split()[3]) for line in out.splitlines() if line.startswith("step ")]

    # the same three steps in PyTorch
    start = copy.deepcopy(model) if name in MODEL_CASES else None
    ref_losses = torch_steps(model, x, label, loss, opt_fn, freeze)
    if len(losses) != STEPS:
        sys.exit(f"FAIL: {name}: expected {STEPS} step lines, got:\n{out}")
    w, meta = read_safetensors(wfile)
    if meta.get("step") != str(STEPS) or int(w["step"]) != STEPS:
        sys.exit(f"FAIL: {name}: step metadata {meta} / tensor {w.get('step')}")
    if start is not None:
        model_case_check(name, w, losses, model, ref_losses, start, x, label, loss, opt_fn)
        return
    worst = close(losses, ref_losses, f"{name}: losses")
    for n, p in model.named_parameters():
        if n not in w:
            sys.exit(f"FAIL: {name}: parameter {n} missing from {wfile} ({sorted(w)})")
        worst = max(worst, close(w[n], p.detach().numpy(), f"{name}: {n}"))
    nbuf = 0
    for n, b in model.named_buffers():
        if n.endswith("num_batches_tracked"):  # not exported: only momentum=None reads it
            continue
        if n not in w:
            sys.exit(f"FAIL: {name}: buffer {n} missing from {wfile} ({sorted(w)})")
        worst = max(worst, close(w[n], b.numpy(), f"{name}: {n}"))
        nbuf += 1

    # resume: 1 step, save; 2 more from the file in a new process
    w1 = os.path.join(tmp, name + ".1.safetensors")
    w3 = os.path.join(tmp, name + ".3.safetensors")
    run([runner, so, "--train", "1"] + inputs + ["--save-weights", w1])
    out2 = run([runner, so, "--train", "2"] + inputs + ["--load-weights", w1, "--save-weights", w3])
    if not out2.startswith("step 2 "):
        sys.exit(f"FAIL: {name}: resumed run should continue at step 2:\n{out2}")
    a, _ = read_safetensors(wfile)
    b, _ = read_safetensors(w3)
    for k in a:
        if a[k].tobytes() != b[k].tobytes():
            sys.exit(f"FAIL: {name}: resumed run differs from the uninterrupted one in {k}")
    # deploy: the inference model compiled with --weights=W computes what the
    # trained PyTorch model does
    inf = os.path.join(tmp, name + ".inf.so")
    inf_onnx = onnx_path
    if train_mode:  # deployed in eval mode: batch norm with the running statistics
        model.eval()
        inf_onnx = os.path.join(tmp, name + ".eval.onnx")
        torch.onnx.export(model, (x,), inf_onnx, input_names=["x"], output_names=["y"],
                          do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    run([os.path.join(build, "nncc"), inf_onnx, "--weights=" + wfile, "-o", inf])
    outdir = os.path.join(tmp, name + ".inf")
    run([runner, inf, "-i", "x=" + os.path.join(tmp, "x.npy"), "-o", outdir])
    with torch.no_grad():
        want = model(x).numpy()
    # (the parameters agree within the bound above; their differences add up
    # in the outputs, so these get the inference tests' absolute 1e-5)
    worst = max(worst, close(np.load(os.path.join(outdir, "y.npy")), want, f"{name}: inference", 1e-5))
    bufs = f", {nbuf} running statistics" if nbuf else ""
    print(f"PASS {name}: {STEPS} steps{bufs}, max error {worst:.3g}; resume bit-exact; deployed")


def grad_inputs(build, tmp):
    """--grad-inputs=x: the output grad.x is d(loss)/d(x) at the step's start."""
    torch.manual_seed(3)
    model = mlp()
    x = torch.randn(4, 12)
    label = torch.tensor([1, 0, 4, 2], dtype=torch.int64)
    onnx_path = os.path.join(tmp, "gi.onnx")
    torch.onnx.export(model, (x,), onnx_path, input_names=["x"], output_names=["y"],
                      do_constant_folding=False)
    np.save(os.path.join(tmp, "gx.npy"), x.numpy())
    np.save(os.path.join(tmp, "glabel.npy"), label.numpy())
    so = os.path.join(tmp, "gi.so")
    run([os.path.join(build, "nncc"), onnx_path, "--train", "--loss=cross_entropy",
         "--optimizer=sgd:lr=0.1", "--grad-inputs=x", "-o", so])
    outdir = os.path.join(tmp, "gi-out")
    run([os.path.join(build, "nncc-run"), so, "--train", "1", "-i", "x=" + os.path.join(tmp, "gx.npy"),
         "-i", "label=" + os.path.join(tmp, "glabel.npy"), "-o", outdir])
    xr = x.clone().requires_grad_(True)
    lv = nn.CrossEntropyLoss()(model(xr), label)
    lv.backward()
    worst = close(np.load(os.path.join(outdir, "grad.x.npy")), xr.grad.numpy(), "grad.x")
    lossfile = [f for f in os.listdir(outdir) if f != "grad.x.npy"]  # output 0, named by loss.c
    if len(lossfile) != 1:
        sys.exit(f"FAIL: grad_inputs: outputs {sorted(os.listdir(outdir))}")
    close(np.load(os.path.join(outdir, lossfile[0])), lv.item(), "loss")
    print(f"PASS grad_inputs: grad.x max error {worst:.3g}")


def errors(build, tmp):
    """Usage errors exit 2, bad models and runs exit 1, with a message."""
    torch.manual_seed(0)
    onnx_path = os.path.join(tmp, "err.onnx")
    model = mlp()
    torch.onnx.export(model, (torch.randn(2, 12),), onnx_path, input_names=["x"],
                      output_names=["y"], do_constant_folding=False)
    # --report: the training step's memory by kind
    rep = run([os.path.join(build, "nncc"), onnx_path, "--train", "--loss=mse",
               "--optimizer=adam", "--report"])
    nparam = 4 * sum(p.numel() for p in model.parameters())
    want = [f"  parameters: {nparam} bytes in 4 tensors",
            f"  optimizer state: {2 * nparam + 12} bytes in 10 tensors (with step and lr)",
            "  saved activations: ", "  gradients: ", "  workspace: "]
    for w in want:
        if w not in rep:
            sys.exit(f"FAIL: --report of a training step lacks '{w}':\n{rep}")
    nncc, runner = os.path.join(build, "nncc"), os.path.join(build, "nncc-run")
    so, inf = os.path.join(tmp, "err_train.so"), os.path.join(tmp, "err_inf.so")
    run([nncc, onnx_path, "--train", "--loss=mse", "-o", so])
    run([nncc, onnx_path, "-o", inf])
    xfile = os.path.join(tmp, "ex.npy")
    np.save(xfile, np.zeros((2, 12), np.float32))
    lfile = os.path.join(tmp, "el.npy")
    np.save(lfile, np.zeros((2, 5), np.float32))
    cases = [
        ([nncc, onnx_path, "--loss=mse", "-o", so + "2"], 2, "need --train"),
        ([nncc, onnx_path, "--train", "-o", so + "2"], 2, "--train needs --loss"),
        ([nncc, onnx_path, "--train", "--loss=mse", "--optimizer=rmsprop", "-o", so + "2"], 2, "rmsprop"),
        ([nncc, onnx_path, "--train", "--loss=mse", "--optimizer=sgd:lr", "-o", so + "2"], 2, "KEY=VALUE"),
        ([nncc, onnx_path, "--train", "--loss=mse", "--optimizer=adam:momentum=0.9", "-o", so + "2"], 2, "momentum"),
        ([nncc, onnx_path, "--train", "--loss=hinge", "-o", so + "2"], 1, "hinge"),
        ([nncc, onnx_path, "--train", "--loss=mse", "--grad-inputs=nope", "-o", so + "2"], 1, "nope"),
        ([runner, inf, "--train", "1", "-i", "x=" + xfile], 1, "not a training step"),
        ([nncc, onnx_path, "--weights=" + xfile, "-o", so + "2"], 1, "not a safetensors file"),
        ([runner, so, "--save-weights", "w.safetensors", "-i", "x=" + xfile], 2, "need --train"),
        ([runner, so, "--train", "1", "-i", "x=" + xfile], 1, "label"),
        ([runner, so, "--train", "0"], 2, "positive count"),
        ([runner, so, "--train", "1", "--lr", "-1"], 2, "--lr"),
        ([runner, so, "--train", "1", "--load-weights", os.path.join(tmp, "missing.st"),
          "-i", "x=" + xfile, "-i", "label=" + lfile], 1, "missing.st"),
    ]
    for cmd, code, msg in cases:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != code or msg not in r.stderr:
            sys.exit(f"FAIL: {' '.join(cmd[1:])}: exit {r.returncode} (want {code}), stderr:\n{r.stderr}")
        if os.path.exists(so + "2"):
            sys.exit(f"FAIL: {' '.join(cmd[1:])} left {so}2 behind")
    print(f"PASS errors: {len(cases)} cases")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--case", action="append", choices=sorted(ALL_CASES))
    args = ap.parse_args()
    torch.set_num_threads(1)
    # PyTorch's oneDNN (mkldnn) convolutions: in this PyTorch build their float32 gradients of
    # ResNet-18 differ from float64 autograd by 1e-2 relative (without oneDNN: 1e-5, as nncc's
    # do), so the reference runs PyTorch's own convolution kernels (docs/training.md)
    torch.backends.mkldnn.enabled = False
    with tempfile.TemporaryDirectory(prefix="nncc-train-") as tmp:
        for name in args.case or sorted(CASES):
            case(args.build, tmp, name)
        if not args.case:
            grad_inputs(args.build, tmp)
            errors(args.build, tmp)


if __name__ == "__main__":
    main()
