"""Side-by-side latency of nncc, PyTorch eager and ONNX Runtime, in one run.

    bench.py [--build DIR] [--models mlp,lenet,...] [--threads 1,2] [--rounds R]
             [--runs mlp=N,...] [--warmup W] [--out FILE] [--no-ort] [--cmd TEXT]

Usually run as `bench/run.sh BUILD_DIR` (`make bench`), which installs
onnxruntime-node first. For each model (exported into BUILD/bench by
tests/e2e/make_models.py unless already there) it

  1. compiles it with `nncc M.onnx -o M.so` (-O2, the default);
  2. checks the outputs on M.input.npy: PyTorch eager (the same weights,
     rebuilt from the model's seed) against the exported M.ref.npy, nncc-run
     against PyTorch, and ORT against PyTorch, each within
     |a - b| <= TOL + TOL * |b| (TOL = 1e-4); any miss fails the run (exit 1);
  3. times, for each thread count T and each of R rounds, the three engines
     one after the other on the same input, in an order rotated every round
     so that slow phases of a noisy machine hit all of them alike:
       nncc     `nncc-run M.so -i input=M.input.npy --bench N --json --threads T`
                (one warm-up run, then N timed runs; its median)
       PyTorch  torch.set_num_threads(T), torch.no_grad(), W warm-up runs and
                N timed runs of model(x) in this process (time.perf_counter_ns)
       ORT      `node bench/ort_bench.js M.onnx M.input.npy --runs N --warmup W
                --threads T` (intra_op_num_threads T, its median)
  4. reports, per model, thread count and engine, the median over the rounds
     of the per-round medians.

The table goes to stdout and, with the date, the machine, the versions, the
command and the per-round numbers, to --out (default bench/results.md).
Method and caveats: docs/benchmarks.md.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
E2E = os.path.join(ROOT, "tests", "e2e")
sys.path.insert(0, E2E)

MODELS = ["mlp", "lenet", "resnet18", "mobilenet_v2"]
# Timed runs per measurement: each takes roughly 0.3 to 1.5 s on a 2-core machine.
RUNS = {"mlp": 2000, "lenet": 1000, "resnet18": 30, "mobilenet_v2": 50}
TOL = 1e-4
ENGINES = ["nncc", "torch", "ort"]
LABEL = {"nncc": "nncc", "torch": "PyTorch", "ort": "ORT"}


class Error(Exception):
    pass


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def run(cmd, what):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise Error(f"{what}: `{shlex.join(cmd)}` exited with status {r.returncode}:\n"
                    f"{r.stderr.strip()}")
    return r.stdout


def last_json(out, what):
    lines = [ln for ln in out.splitlines() if ln.strip().startswith("{")]
    if not lines:
        raise Error(f"{what}: no JSON line in its output:\n{out}")
    return json.loads(lines[-1])


def close(a, b, tol=TOL):
    """(ok, max |a-b|) for |a - b| <= tol + tol*|b| elementwise, same shape."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        return False, float("inf")
    diff = np.abs(a - b)
    return bool(np.all(diff <= tol + tol * np.abs(b))), float(diff.max()) if diff.size else 0.0


# ---------------------------------------------------------------- engines

class Ort:
    def __init__(self, enabled):
        self.node = None
        self.version = None
        self.why = None
        if not enabled:
            self.why = "disabled with --no-ort"
            return
        node = shutil.which("node")
        if not node:
            self.why = "node is not installed"
            return
        r = subprocess.run([node, os.path.join(HERE, "ort_bench.js"), "--version"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            self.why = ("onnxruntime-node is not installed in bench/node_modules "
                        "(bench/run.sh installs it with npm)")
            return
        self.node = node
        self.version = r.stdout.strip()

    @property
    def available(self):
        return self.node is not None

    def cmd(self, onnx, inp, runs, warmup, threads, dump=None):
        c = [self.node, os.path.join(HERE, "ort_bench.js"), onnx, inp, "--runs", str(runs),
             "--warmup", str(warmup), "--threads", str(threads)]
        return c + (["--dump", dump] if dump else [])


def torch_model(name):
    """The eager PyTorch model of tests/e2e/models.py, rebuilt exactly as
    models.export builds it (same seed, hence the same weights)."""
    import torch
    import models
    ctor, _shape, seed = models.MODELS[name]
    torch.manual_seed(seed)
    return ctor().eval()


def torch_time(model, x, threads, runs, warmup):
    import torch
    torch.set_num_threads(threads)
    times = []
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        for _ in range(runs):
            t0 = time.perf_counter_ns()
            model(x)
            times.append((time.perf_counter_ns() - t0) / 1e6)
    return statistics.median(times)


# ---------------------------------------------------------------- steps

def export(build, names):
    outdir = os.path.join(build, "bench")
    cmd = [sys.executable, os.path.join(E2E, "make_models.py"), outdir, "--models", ",".join(names)]
    for line in run(cmd, "exporting the models").splitlines():
        log(line)
    return outdir


def check_outputs(name, m, build, ort, tmp):
    """Compare every engine's output on M.input.npy; return {engine: max abs diff}."""
    import torch
    torch.set_num_threads(1)
    with torch.no_grad():
        ref_torch = m["model"](m["x"]).numpy()
    diffs, bad = {}, []
    ok, d = close(ref_torch, np.load(m["ref"]))
    diffs["torch_vs_export"] = d
    if not ok:
        bad.append(f"PyTorch eager vs the exported {os.path.basename(m['ref'])}: max |diff| {d:.3g}")

    outdir = os.path.join(tmp, name + "-out")
    run([os.path.join(build, "nncc-run"), m["so"], "-i", "input=" + m["input"], "-o", outdir,
         "--threads", "1"], f"{name}: nncc-run")
    got = np.load(os.path.join(outdir, "output.npy"))
    ok, d = close(got.reshape(-1), ref_torch) if got.size == ref_torch.size else (False, float("inf"))
    diffs["nncc"] = d
    if not ok or got.shape != ref_torch.shape:
        bad.append(f"nncc {got.shape} vs PyTorch {ref_torch.shape}: max |diff| {d:.3g}")

    if ort.available:
        dump = os.path.join(tmp, name + ".ort.bin")
        run(ort.cmd(m["onnx"], m["input"], 1, 0, 1, dump), f"{name}: ort_bench.js")
        got = np.fromfile(dump, dtype=np.float32)
        ok, d = close(got, ref_torch)
        diffs["ort"] = d
        if not ok:
            bad.append(f"ORT vs PyTorch: max |diff| {d:.3g}")
    if bad:
        raise Error(f"{name}: outputs disagree (tolerance {TOL} abs + {TOL} rel):\n  "
                    + "\n  ".join(bad))
    return diffs


def measure(engine, m, build, ort, threads, runs, warmup):
    if engine == "nncc":
        cmd = [os.path.join(build, "nncc-run"), m["so"], "-i", "input=" + m["input"],
               "--bench", str(runs), "--json", "--threads", str(threads)]
        return float(last_json(run(cmd, "nncc-run"), "nncc-run")["median_ms"])
    if engine == "torch":
        return torch_time(m["model"], m["x"], threads, runs, warmup)
    cmd = ort.cmd(m["onnx"], m["input"], runs, warmup, threads)
    return float(last_json(run(cmd, "ort_bench.js"), "ort_bench.js")["median_ms"])


# ---------------------------------------------------------------- report

def fmt_ms(v):
    if v is None:
        return "n/a"
    return f"{v:.1f}" if v >= 100 else f"{v:#.3g}"


def fmt_ratio(a, b):
    return "n/a" if a is None or b is None or b <= 0 else f"{a / b:.2f}"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def git_rev():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        return (rev + ("+local changes" if dirty else "")) or "unknown"
    except OSError:
        return "unknown"


def table(names, threads_list, res):
    head = ["model", "threads", "nncc ms", "PyTorch ms", "ORT ms", "PyTorch/nncc", "ORT/nncc"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    for name in names:
        for t in threads_list:
            med = {e: (statistics.median(res[name, t, e]) if res.get((name, t, e)) else None)
                   for e in ENGINES}
            lines.append("| " + " | ".join([
                name, str(t), fmt_ms(med["nncc"]), fmt_ms(med["torch"]), fmt_ms(med["ort"]),
                fmt_ratio(med["torch"], med["nncc"]), fmt_ratio(med["ort"], med["nncc"])]) + " |")
    return "\n".join(lines)


def write_results(path, args, names, threads_list, res, diffs, ort, elapsed, tbl):
    import torch
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    runs = ", ".join(f"{n} {args.runs[n]}" for n in names)
    ort_line = (f"onnxruntime-node {ort.version} (CPU execution provider), Node {platform_node()}"
                if ort.available else f"ORT unavailable: {ort.why}")
    out = [
        "# Benchmark results",
        "",
        "Latency of one inference (milliseconds, lower is better) of nncc, PyTorch eager and",
        "ONNX Runtime on the same input; ratios above 1 mean nncc is faster. Method:",
        "`docs/benchmarks.md`. Regenerate with `make bench` (`bench/run.sh build`).",
        "",
        f"- date: {now}",
        f"- machine: {os.cpu_count()} CPUs (nproc {nproc()}), {cpu_model()}, "
        f"Linux {platform.release()}; load average (1, 5, 15 min) {args.load_before} before the run, "
        f"{loadavg()} after",
        f"- command: `{args.cmd}`",
        f"- versions: nncc {git_rev()} (-O2), PyTorch {torch.__version__}, {ort_line}",
        f"- rounds: {args.rounds}, engines interleaved in a rotating order; each cell is the median "
        f"over the rounds of each round's median",
        f"- timed runs per measurement: {runs}; warm-up runs: nncc-run 1, PyTorch and ORT "
        f"{args.warmup}",
        f"- total time of the run: {elapsed:.0f} s",
        "",
        tbl,
        "",
        f"Outputs checked before timing (|a - b| <= {TOL} + {TOL}·|b|), max |diff| against PyTorch eager:",
        "",
        "| model | nncc | ORT | PyTorch eager vs exported reference |",
        "|---|---:|---:|---:|",
    ]
    for n in names:
        d = diffs[n]
        out.append(f"| {n} | {d['nncc']:.2g} | "
                   f"{(format(d['ort'], '.2g') if 'ort' in d else 'n/a')} | {d['torch_vs_export']:.2g} |")
    out += ["", "Per-round medians (ms), in round order:", "",
            "| model | threads | engine | rounds |", "|---|---:|---|---|"]
    for n in names:
        for t in threads_list:
            for e in ENGINES:
                if res.get((n, t, e)):
                    out.append(f"| {n} | {t} | {LABEL[e]} | "
                               + ", ".join(fmt_ms(v) for v in res[n, t, e]) + " |")
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write("\n".join(out) + "\n")
    os.replace(tmp, path)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def nproc():
    try:
        return subprocess.run(["nproc"], stdout=subprocess.PIPE, text=True).stdout.strip()
    except OSError:
        return str(len(os.sched_getaffinity(0)))


def platform_node():
    try:
        return subprocess.run(["node", "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    except OSError:
        return "?"


# ---------------------------------------------------------------- main

def parse_runs(text):
    runs = dict(RUNS)
    for item in filter(None, text.split(",")):
        k, _, v = item.partition("=")
        if k not in RUNS or not v.isdigit() or int(v) < 1:
            raise argparse.ArgumentTypeError(f"bad --runs item '{item}' (want MODEL=N, N >= 1)")
        runs[k] = int(v)
    return runs


def main():
    ap = argparse.ArgumentParser(description="latency of nncc vs PyTorch vs ONNX Runtime")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="build folder with nncc and nncc-run; models go to BUILD/bench")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated (default: %(default)s)")
    ap.add_argument("--threads", default="1,2", help="thread counts (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds per measurement (default: %(default)s)")
    ap.add_argument("--runs", type=parse_runs, default=dict(RUNS),
                    help="timed runs per measurement, e.g. resnet18=30,mlp=5000 "
                         f"(default: {','.join(f'{k}={v}' for k, v in RUNS.items())})")
    ap.add_argument("--warmup", type=int, default=3,
                    help="untimed runs before timing, PyTorch and ORT (nncc-run does 1; default %(default)s)")
    ap.add_argument("--out", default=os.path.join(HERE, "results.md"), help="markdown results file")
    ap.add_argument("--no-ort", action="store_true", help="leave ONNX Runtime out")
    ap.add_argument("--cmd", default=None, help="the command to record in the results file")
    args = ap.parse_args()
    args.cmd = args.cmd or shlex.join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        ap.error(f"unknown model(s) {unknown}; known: {', '.join(MODELS)}")
    try:
        threads_list = [int(t) for t in args.threads.split(",") if t]
    except ValueError:
        ap.error("--threads wants a comma-separated list of counts")
    if not threads_list or min(threads_list) < 1 or args.rounds < 1 or args.warmup < 0:
        ap.error("need thread counts >= 1, --rounds >= 1 and --warmup >= 0")
    build = os.path.abspath(args.build)
    for tool in ("nncc", "nncc-run"):
        if not os.access(os.path.join(build, tool), os.X_OK):
            print(f"bench: {build}/{tool} not found (build it first: make build)", file=sys.stderr)
            return 2
    args.load_before = loadavg()

    t_start = time.monotonic()
    import torch
    ort = Ort(not args.no_ort)
    log(f"ONNX Runtime: onnxruntime-node {ort.version}" if ort.available
        else f"ONNX Runtime unavailable ({ort.why}); going on without it")
    engines = [e for e in ENGINES if e != "ort" or ort.available]

    try:
        outdir = export(build, names)
        ms, diffs = {}, {}
        with tempfile.TemporaryDirectory(prefix="nncc-bench-") as tmp:
            for name in names:
                base = os.path.join(outdir, name)
                m = {"onnx": base + ".onnx", "input": base + ".input.npy", "ref": base + ".ref.npy",
                     "so": base + ".so"}
                t0 = time.monotonic()
                run([os.path.join(build, "nncc"), m["onnx"], "-o", m["so"]], f"{name}: nncc")
                log(f"{name}: compiled in {time.monotonic() - t0:.2f} s")
                m["x"] = torch.from_numpy(np.load(m["input"]))
                m["model"] = torch_model(name)
                diffs[name] = check_outputs(name, m, build, ort, tmp)
                log(f"{name}: outputs agree (max |diff| vs PyTorch: nncc {diffs[name]['nncc']:.2g}"
                    + (f", ORT {diffs[name]['ort']:.2g}" if "ort" in diffs[name] else "") + ")")
                ms[name] = m

        res = {}
        for r in range(args.rounds):
            order = engines[r % len(engines):] + engines[:r % len(engines)]
            t0 = time.monotonic()
            for name in names:
                for t in threads_list:
                    for e in order:
                        v = measure(e, ms[name], build, ort, t, args.runs[name], args.warmup)
                        res.setdefault((name, t, e), []).append(v)
            log(f"round {r + 1}/{args.rounds} ({', '.join(LABEL[e] for e in order)}) "
                f"took {time.monotonic() - t0:.1f} s")
    except Error as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1

    tbl = table(names, threads_list, res)
    print(tbl)
    if not ort.available:
        print(f"\nORT unavailable: {ort.why}")
    elapsed = time.monotonic() - t_start
    write_results(args.out, args, names, threads_list, res, diffs, ort, elapsed, tbl)
    log(f"wrote {args.out} ({elapsed:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
