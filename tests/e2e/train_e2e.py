"""Compiled training steps against PyTorch: train_e2e.py BUILD_DIR [--case NAME]...

For each case, a small model is built in PyTorch with a fixed seed and
exported to ONNX (eval mode, initializers keep the module's parameter
names). `nncc --train --loss=L --optimizer=O` compiles the training step,
`nncc-run TRAIN.so --train 3 -i x=... -i label=... --save-weights W` runs
three steps on one batch; the same three steps run in PyTorch
(torch.optim.SGD / Adam / AdamW). The printed losses and every trained
parameter in W (safetensors, read here by hand) must match PyTorch's within
1e-4 relative (|a - b| <= 1e-4 * (|b| + 1e-3)). A resume check runs one
step, saves, then two more from the saved file in a new process, and
requires the parameters to equal the uninterrupted run's bit for bit.
"""
import argparse
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


def mlp():
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5))


def mlp_tanh():
    return nn.Sequential(nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 5))


# name: (model builder, loss, optimizer spec, torch optimizer factory, freeze prefix)
CASES = {
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


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    hdr = json.loads(buf[8:8 + n])
    data = buf[8 + n:]
    out = {}
    dt = {"F32": np.float32, "I64": np.int64, "F64": np.float64}
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


def close(a, b, what):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    err = np.abs(a - b)
    tol = 1e-4 * (np.abs(b) + 1e-3)
    if not np.all(err <= tol):
        i = int(np.argmax(err - tol))
        sys.exit(f"FAIL: {what}: max error {err.flat[i]:.3g} at {i} (nncc {a.flat[i]:.9g}, "
                 f"torch {b.flat[i]:.9g})")
    return float(err.max()) if err.size else 0.0


def case(build, tmp, name):
    build_fn, loss, spec, opt_fn, freeze = CASES[name]
    torch.manual_seed(7)
    model = build_fn()
    x = torch.randn(4, 12)
    if loss == "cross_entropy":
        label = torch.tensor([0, 3, 1, 4], dtype=torch.int64)
    else:
        label = torch.randn(4, 5)
    onnx_path = os.path.join(tmp, name + ".onnx")
    torch.onnx.export(model, (x,), onnx_path, input_names=["x"], output_names=["y"],
                      do_constant_folding=False)
    np.save(os.path.join(tmp, "x.npy"), x.numpy())
    np.save(os.path.join(tmp, "label.npy"), label.numpy())

    so = os.path.join(tmp, name + ".so")
    cmd = [os.path.join(build, "nncc"), onnx_path, "--train", "--loss=" + loss,
           "--optimizer=" + spec, "-o", so]
    if freeze:
        cmd.append("--freeze=" + freeze)
    run(cmd)
    wfile = os.path.join(tmp, name + ".safetensors")
    runner = os.path.join(build, "nncc-run")
    inputs = ["-i", "x=" + os.path.join(tmp, "x.npy"), "-i", "label=" + os.path.join(tmp, "label.npy")]
    out = run([runner, so, "--train", str(STEPS)] + inputs + ["--save-weights", wfile])
    losses = [float(line.split()[3]) for line in out.splitlines() if line.startswith("step ")]

    # the same three steps in PyTorch
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
    if len(losses) != STEPS:
        sys.exit(f"FAIL: {name}: expected {STEPS} step lines, got:\n{out}")
    worst = close(losses, ref_losses, f"{name}: losses")
    w, meta = read_safetensors(wfile)
    if meta.get("step") != str(STEPS) or int(w["step"]) != STEPS:
        sys.exit(f"FAIL: {name}: step metadata {meta} / tensor {w.get('step')}")
    for n, p in model.named_parameters():
        if n not in w:
            sys.exit(f"FAIL: {name}: parameter {n} missing from {wfile} ({sorted(w)})")
        worst = max(worst, close(w[n], p.detach().numpy(), f"{name}: {n}"))

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
    print(f"PASS {name}: {STEPS} steps, max error {worst:.3g}; resume bit-exact")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="nncc-train-") as tmp:
        for name in args.case or sorted(CASES):
            case(args.build, tmp, name)


if __name__ == "__main__":
    main()
