"""Training-step benchmark: nncc against PyTorch eager, time and peak memory per step.

    train_bench.py --build DIR [--models mlp,lenet,resnet18] [--rounds R] [--steps S]
                   [--warmup W] [--threads T] [--out FILE] [--no-budget] [--one-thread]

Run by `make bench` (bench/run.sh) after the inference benchmark. For each model
(built here from a fixed seed, exported to BUILD/bench/train/M.onnx):

  1. nncc compiles one training step: cross entropy, SGD with momentum 0.9
     (`--train --loss=cross_entropy --optimizer=sgd:lr=0.01,momentum=0.9`);
     `--report` gives the planned arena. For resnet18 a second artifact is
     compiled with `--max-memory` = half that arena (unless --no-budget); when
     no plan fits, a note says so and the smallest plan reached is timed; and
     so is the plan at half of the arena without recomputation (the report's
     "without recomputation", as --keep-activations plans: what the budget's
     search starts from, and the baseline a PyTorch user's hand checkpointing
     halves; the default's plan already recomputes what costs nothing).
  2. Each measurement is one fresh subprocess (this script with --worker) that
     loads the engine, fixes its thread count (nncc_session_set_threads /
     torch.set_num_threads, the same T), runs W warm-up steps and S timed
     steps on one fixed batch, and reports the median step time and its peak
     memory: VmHWM - VmRSS, where VmRSS is read after the engine's library and
     the batch are loaded but before the model/session exist, and the high
     water mark is reset there (/proc/self/clear_refs "5"). So both engines
     count what training needs beyond the loaded code and data: parameters,
     optimizer state, activations, gradients, workspace (nncc's arena;
     PyTorch's allocator caches). Same method, same process layout: fair.
  3. The engines alternate within each round (order rotated every round);
     the reported number is the median over R rounds of the per-run medians.
     The ratios are nncc / PyTorch with T threads; --one-thread adds nncc and
     PyTorch with one thread as reference rows (a loaded machine hurts two
     threads, PyTorch's spinning OpenMP threads most), their ratios also
     against PyTorch with T threads.

nncc runs through the runtime library (libnncc_rt.so, ctypes):
nncc_session_train_step on inputs set once. PyTorch: model.train() for every
model; resnet18 is torchvision's with BatchNorm in training mode (batch
statistics, running statistics updated), exported with
torch.onnx.TrainingMode.PRESERVE, so nncc's step updates the running
statistics as training state (docs/training.md, "Batch normalization") as
PyTorch's does.
"""
import argparse
import ctypes
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

from bench_report import cpu_model

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BATCH = {"mlp": 64, "lenet": 64, "resnet18": 8}
STEPS = {"mlp": 200, "lenet": 100, "resnet18": 5}
OPT = "sgd:lr=0.01,momentum=0.9"
LOSS_RTOL = 1e-2  # nncc's and PyTorch's losses after the timed steps agree within this


def torch_model(name):
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10)), (BATCH[name], 784)
    if name == "lenet":
        class LeNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.c1 = nn.Conv2d(1, 6, 5, padding=2)
                self.c2 = nn.Conv2d(6, 16, 5)
                self.f1 = nn.Linear(400, 120)
                self.f2 = nn.Linear(120, 84)
                self.f3 = nn.Linear(84, 10)

            def forward(self, x):
                x = nn.functional.max_pool2d(torch.relu(self.c1(x)), 2)
                x = nn.functional.max_pool2d(torch.relu(self.c2(x)), 2)
                x = torch.relu(self.f1(x.flatten(1)))
                return self.f3(torch.relu(self.f2(x)))
        return LeNet(), (BATCH[name], 1, 28, 28)
    import torchvision
    m = torchvision.models.resnet18()
    for mod in m.modules():  # random statistics: no two BN tensors alike (no deduplication)
        if isinstance(mod, nn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.1, 0.1)
    return m, (BATCH[name], 3, 224, 224)


def prepare_model(m, name):
    """Training mode for every model (resnet18: BN on batch statistics)."""
    m.train()
    return m


def export(name, d):
    import torch
    path = os.path.join(d, name + "_trainmode.onnx")  # (older runs cached an eval-mode export)
    if os.path.exists(path):
        return path
    m, shape = torch_model(name)
    m = prepare_model(m, name)
    tmp = path + ".tmp.onnx"
    torch.onnx.export(m, torch.zeros(shape), tmp, opset_version=13, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE, input_names=["x"],
                      output_names=["y"])
    os.replace(tmp, path)
    return path


def data(name):
    shape = {"mlp": (BATCH["mlp"], 784), "lenet": (BATCH["lenet"], 1, 28, 28),
             "resnet18": (BATCH["resnet18"], 3, 224, 224)}[name]
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 1000 if name == "resnet18" else 10, size=shape[0]).astype(np.int64)
    return x, y


def compile_step(build, onnx, so, budget=None):
    cmd = [os.path.join(build, "nncc"), onnx, "--train", "--loss=cross_entropy",
           "--optimizer=" + OPT, "--report", "-o", so]
    if budget:
        cmd.append("--max-memory=%d" % budget)
    r = subprocess.run(cmd, capture_output=True, text=True)
    arena = re.search(r"^arena bytes: (\d+)", r.stdout, re.M)
    return r.returncode, int(arena.group(1)) if arena else None, r.stdout, r.stderr


# --- workers (one engine per process) ------------------------------------------


def rss_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def worker_nncc(a, x, y):
    rt = ctypes.CDLL(os.path.join(a.build, "libnncc_rt.so"))
    vp = ctypes.c_void_p
    err = ctypes.c_char_p()
    base = rss_kb("VmRSS")
    reset_peak()
    m, s = vp(), vp()
    if rt.nncc_model_load(a.so.encode(), ctypes.byref(m), ctypes.byref(err)) != 0:
        raise SystemExit("nncc_model_load failed: %s" % err.value)
    rt.nncc_model_find_input.argtypes = [vp, ctypes.c_char_p]
    if rt.nncc_session_create(m, ctypes.byref(s), ctypes.byref(err)) != 0:
        raise SystemExit("nncc_session_create failed: %s" % err.value)
    rt.nncc_session_set_threads.argtypes = [vp, ctypes.c_int, vp]
    rt.nncc_session_set_threads(s, a.threads, None)
    rt.nncc_session_set_input.argtypes = [vp, ctypes.c_int, vp, ctypes.c_int, vp, ctypes.c_int, vp]
    for name, arr, dt in (("x", x, 1), ("label", y, 7)):
        dims = (ctypes.c_int64 * arr.ndim)(*arr.shape)
        idx = rt.nncc_model_find_input(m, name.encode())
        if rt.nncc_session_set_input(s, idx, arr.ctypes.data, arr.ndim, dims, dt, None) != 0:
            raise SystemExit("set_input %s failed" % name)
    rt.nncc_session_train_step.argtypes = [vp, ctypes.POINTER(ctypes.c_float), vp]
    loss = ctypes.c_float()
    times = []
    for k in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        if rt.nncc_session_train_step(s, ctypes.byref(loss), None) != 0:
            raise SystemExit("train_step failed")
        if k >= a.warmup:
            times.append(time.perf_counter() - t0)
    return times, base, float(loss.value)


def worker_torch(a, x, y):
    import torch
    torch.set_num_threads(a.threads)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    base = rss_kb("VmRSS")
    reset_peak()
    m, _ = torch_model(a.model)
    m = prepare_model(m, a.model)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss()
    times = []
    for k in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = lossf(m(xt), yt)
        loss.backward()
        opt.step()
        if k >= a.warmup:
            times.append(time.perf_counter() - t0)
    return times, base, float(loss.item())


def worker(a):
    x, y = data(a.model)
    f = worker_nncc if a.engine == "nncc" else worker_torch
    times, base, loss = f(a, x, y)
    peak = rss_kb("VmHWM")
    print(json.dumps({"median_s": statistics.median(times), "peak_bytes": (peak - base) * 1024,
                      "loss": loss}))


# --- driver ------------------------------------------------------------------------


def measure(a, engine, model, so=None, threads=None):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", engine, "--model", model,
           "--build", a.build, "--threads", str(threads or a.threads), "--warmup", str(a.warmup),
           "--steps", str(a.steps or STEPS[model])]
    if so:
        cmd += ["--so", so]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("bench: %s %s failed:\n%s%s" % (engine, model, r.stdout, r.stderr))
    return json.loads(r.stdout.strip().splitlines()[-1])


def mib(b):
    return "%.1f MiB" % (b / 2**20)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--models", default="mlp,lenet,resnet18")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=os.path.join(HERE, "results", "results_train.md"))
    p.add_argument("--no-budget", action="store_true")
    p.add_argument("--one-thread", action="store_true",
                   help="also nncc and PyTorch with 1 thread (reference rows)")
    p.add_argument("--cmd", default="")
    p.add_argument("--worker")
    p.add_argument("--engine")
    p.add_argument("--model")
    p.add_argument("--so")
    a = p.parse_args()
    if a.worker:
        a.engine = a.worker
        return worker(a)
    a.build = os.path.abspath(a.build)
    d = os.path.join(a.build, "bench", "train")
    os.makedirs(d, exist_ok=True)
    rows, notes, raw, bad = [], [], [], 0
    load0 = os.getloadavg()
    for model in a.models.split(","):
        onnx = export(model, d)
        so = os.path.join(d, model + "_train.so")
        rc, arena, out, err = compile_step(a.build, onnx, so)
        if rc != 0:
            raise SystemExit("bench: nncc failed on %s:\n%s" % (model, err))
        # the plan without recomputation (--keep-activations), which the default's
        # free recomputation already shrinks
        kept = re.search(r"arena (\d+) bytes without recomputation", out)
        variants = [("nncc", so, "")]
        if model == "resnet18" and not a.no_budget:
            bso = os.path.join(d, model + "_train_half.so")
            brc, barena, _, berr = compile_step(a.build, onnx, bso, arena // 2)
            if brc == 0:
                variants.append(("nncc", bso, " --max-memory=%d (half of the default plan; arena %s)"
                                 % (arena // 2, mib(barena))))
            else:
                notes.append("resnet18 at --max-memory=%d (half of the default plan's %d-byte arena, which "
                             "already recomputes what costs nothing): %s" % (arena // 2, arena, berr.strip()))
                least = re.search(r"smallest plan reached is (\d+)", berr)
                if least:  # then the smallest plan the search reaches
                    b = int(least.group(1))
                    brc, barena, _, berr = compile_step(a.build, onnx, bso, b)
                    if brc == 0:
                        variants.append(("nncc", bso, " --max-memory=%d (smallest reachable, arena %s)"
                                         % (b, mib(barena))))
            # and half of the plan that recomputes nothing, checkpointing's baseline
            if kept and int(kept.group(1)) // 2 < arena:
                k = int(kept.group(1)) // 2
                kso = os.path.join(d, model + "_train_halfkept.so")
                krc, karena, _, kerr = compile_step(a.build, onnx, kso, k)
                if krc == 0:
                    variants.append(("nncc", kso, " --max-memory=%d (half of the plan without recomputation: "
                                     "%d bytes; arena %s)" % (k, int(kept.group(1)), mib(karena))))
                else:
                    notes.append("resnet18 at --max-memory=%d (half of the plan without recomputation): %s"
                                 % (k, kerr.strip()))
        engines = variants + [("torch", None, "")]
        if a.one_thread:  # reference: a loaded machine hurts 2 threads, PyTorch's OpenMP most
            engines += [("nncc", so, " (1 thread)"), ("torch", None, " (1 thread)")]
        res = {i: [] for i in range(len(engines))}
        for r in range(a.rounds):
            order = list(range(len(engines)))
            order = order[r % len(order):] + order[:r % len(order)]
            for i in order:
                eng, path, label = engines[i]
                res[i].append(measure(a, eng, model, path, 1 if label == " (1 thread)" else None))
                print("round %d %s %s%s: %.2f ms, %s" % (r, model, eng, engines[i][2],
                      res[i][-1]["median_s"] * 1e3, mib(res[i][-1]["peak_bytes"])), file=sys.stderr)
        ref = len(variants)  # PyTorch with the same threads
        # the engines must train the same model: after the same steps on the same batch the
        # losses agree (a silent mismatch once timed inference-mode batch norm against training)
        nsteps = a.warmup + (a.steps or STEPS[model])
        lt = statistics.median(x["loss"] for x in res[ref])
        for i, (eng, path, label) in enumerate(engines):
            if eng != "nncc":
                continue
            ln = statistics.median(x["loss"] for x in res[i])
            ok = abs(ln - lt) <= LOSS_RTOL * max(1.0, abs(lt))
            notes.append("%s%s: loss after %d steps %.6g, PyTorch %.6g: %s" % (
                model, label, nsteps, ln, lt, "agree" if ok else "DISAGREE (beyond %g relative)" % LOSS_RTOL))
            bad += not ok
        tt = statistics.median(x["median_s"] for x in res[ref])
        tp = statistics.median(x["peak_bytes"] for x in res[ref])
        for i, (eng, path, label) in enumerate(engines):
            t = statistics.median(x["median_s"] for x in res[i])
            pk = statistics.median(x["peak_bytes"] for x in res[i])
            name = ("PyTorch" if eng == "torch" else "nncc") + label
            extra = " (arena %s)" % mib(arena) if i == 0 else ""
            rows.append("| %s | %d | %s%s | %.2f ms | %.2fx | %s | %.2fx |" % (
                model, BATCH[model], name, extra if eng == "nncc" else "", t * 1e3, t / tt, mib(pk), pk / tp))
        raw.append({"model": model, "arena": arena,
                    "runs": {engines[i][0] + engines[i][2]: res[i] for i in res}})
    load1 = os.getloadavg()
    head = ["| model | batch | engine | step time (median) | / PyTorch | peak memory | / PyTorch |",
            "|---|---|---|---|---|---|---|"]
    table = "\n".join(head + rows)
    print(table)
    for n in notes:
        print("note: " + n)
    try:
        import torch
        tv = torch.__version__
    except ImportError:
        tv = "?"
    with open(a.out, "w") as f:
        f.write("# Training-step benchmark\n\n%s, %s, %d threads, PyTorch %s; %d rounds, "
                "median of rounds of per-run medians; load average %.1f before, %.1f after. "
                "Command: `%s`. Method: docs/benchmarks.md and bench/train_bench.py. "
                "The ratio columns are nncc / PyTorch (%d threads): below 1, nncc is faster or "
                "smaller.\n\n%s\n\n" % (
                    datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"), cpu_model(),
                    a.threads, tv, a.rounds, load0[0], load1[0],
                    a.cmd or "bench/train_bench.py", a.threads, table))
        for n in notes:
            f.write("- %s\n" % n)
        f.write("\n<details><summary>per-run numbers</summary>\n\n```\n%s\n```\n</details>\n"
                % json.dumps(raw, indent=1))
    if bad:
        raise SystemExit("bench: nncc's and PyTorch's losses disagree (%d)" % bad)


if __name__ == "__main__":
    main()
