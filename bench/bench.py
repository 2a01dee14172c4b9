"""Latency of nncc, PyTorch eager and ONNX Runtime on the course's model zoo,
interleaved in one run, and the GEMM micro-benchmark.

    bench.py [--build DIR] [--models mlp,lenet,...] [--batches 1,32] [--large-batches 1,8]
             [--threads 1,2] [--rounds R] [--runs MODEL[@B]=N,...] [--target-s S]
             [--warmup W] [--out-dir DIR] [--no-ort] [--no-gemm] [--no-chart] [--cmd TEXT]

Usually run as `bench/run.sh BUILD_DIR` (`make bench`), which installs
onnxruntime-node first. Steps:

  1. GEMM: `BUILD/gemm_bench --threads T --json` for each thread count T
     (nncc's runtime GEMM and OpenBLAS, square sizes 256..4096); the best
     GFLOP/s of that run at T threads is "the measured FP32 peak" at T.
  2. For each model and batch (tests/zoo/zoo_models.py, exported at that
     batch into BUILD/bench/zoo-bB/NAME, cached): compile with
     `nncc model.onnx -o model.so -O2 --report` (timed: the compile time;
     the report's total FLOPs give the GFLOPs of one inference); check the
     outputs on the exported inputs against the exported float64 reference
     (PyTorch eager in this process must also reproduce the export's own
     float32 output), each engine within |a - ref| <= atol + RTOL*|ref|
     (atol: ATOL, or 4 times PyTorch float32's own max error if larger);
     an engine that fails or disagrees is reported and not timed.
  3. Timed runs per measurement N: chosen per model and batch so that one
     measurement takes about --target-s seconds (from a short timing of
     nncc and PyTorch at 1 thread), at least 3 (--runs overrides).
  4. For each of R rounds, each model, batch and thread count: with more
     than one thread, first the cross-core probe (build/xcore_probe: whether
     the two cores share a cache right now; docs/benchmarks.md), then the
     three engines one after the other on the same inputs, in an order
     rotated every round:
       nncc     `nncc-run model.so -i NAME=IN.npy... --bench N --json --threads T`
       PyTorch  torch.set_num_threads(T), torch.no_grad(), W warm-up and N
                timed calls of model(*x) in this process
       ORT      `node bench/ort_bench.js model.onnx NAME=IN.npy... --runs N
                --warmup W --threads T`
     each reporting the median of its N runs; a cell is the median over the
     rounds of those medians.
  5. Writes OUT_DIR/results.md (table, GEMM table, checks, per-round values
     and probes, problems) and OUT_DIR/nncc_vs_ort.png (bench_report.py).

Exit status 0 when every engine ran and agreed on every model, 1 otherwise
(the results are written either way), 2 for usage errors.
Method and caveats: docs/benchmarks.md.
"""
import argparse
import json
import os
import re
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
sys.path.insert(0, os.path.join(ROOT, "tests", "zoo"))
sys.path.insert(0, HERE)
import bench_report  # noqa: E402

# The course's zoo, in table order; "large" ones get --large-batches.
MODELS = ["mlp", "lenet", "lstm", "gru", "rnn", "vae", "autoencoder", "dcgan_g", "dcgan_d",
          "squeezenet", "alexnet", "vgg11", "resnet18", "resnet50", "googlenet", "mobilenet_v2",
          "fcn_resnet50"]
ATOL, RTOL = 1e-4, 1e-3      # as tests/zoo/run_zoo.py, against the float64 reference
ENGINES = ["nncc", "torch", "ort"]
MIN_RUNS, MAX_RUNS = 3, 5000
STEP_TIMEOUT = 1800          # seconds for one compile or one measurement


class Error(Exception):
    pass


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def run(cmd, what, timeout=STEP_TIMEOUT):
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Error(f"{what}: `{shlex.join(cmd)}` timed out after {timeout} s") from None
    if r.returncode != 0:
        tail = " | ".join((r.stderr.strip() or r.stdout.strip()).splitlines()[-4:])
        raise Error(f"{what}: exit status {r.returncode}: {tail}")
    return r.stdout


def last_json(out, what):
    lines = [ln for ln in out.splitlines() if ln.strip().startswith(("{", "["))]
    if not lines:
        raise Error(f"{what}: no JSON line in its output")
    return json.loads(lines[-1])


def max_err(got, ref, atol=ATOL):
    """(ok, max |got - ref|) for |got - ref| <= atol + RTOL*|ref| elementwise."""
    got, ref = np.asarray(got), np.asarray(ref)
    if got.shape != ref.shape:
        return False, float("inf")
    a, b = got.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
    d = np.abs(a - b)
    d = np.where(np.isnan(d), np.inf, d)
    return bool(np.all(d <= atol + RTOL * np.abs(b))), float(d.max()) if d.size else 0.0


# ---------------------------------------------------------------- engines

class Ort:
    def __init__(self, enabled):
        self.node, self.version, self.why = None, None, None
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
        self.node, self.version = node, r.stdout.strip()

    def cmd(self, c, runs, warmup, threads, dump=None):
        cmd = [self.node, os.path.join(HERE, "ort_bench.js"), c["onnx"]]
        cmd += [f"{n}={p}" for n, p in c["inputs"]]
        cmd += ["--runs", str(runs), "--warmup", str(warmup), "--threads", str(threads)]
        return cmd + (["--dump", dump] if dump else [])


def nncc_cmd(build, c, *extra):
    cmd = [os.path.join(build, "nncc-run"), c["so"]]
    for n, p in c["inputs"]:
        cmd += ["-i", f"{n}={p}"]
    return cmd + list(extra)


def torch_call(c):
    import torch
    with torch.no_grad():
        out = c["model"](*c["x"])
    return [out] if isinstance(out, torch.Tensor) else list(out)


def torch_time(c, threads, runs, warmup):
    import torch
    torch.set_num_threads(threads)
    times = []
    with torch.no_grad():
        for _ in range(warmup):
            c["model"](*c["x"])
        for _ in range(runs):
            t0 = time.perf_counter_ns()
            c["model"](*c["x"])
            times.append((time.perf_counter_ns() - t0) / 1e6)
    return statistics.median(times)


def measure(engine, c, build, ort, threads):
    runs, warmup = c["runs"], c["warmup"]
    if engine == "nncc":
        out = run(nncc_cmd(build, c, "--bench", str(runs), "--json", "--threads", str(threads)),
                  "nncc-run")
        return float(last_json(out, "nncc-run")["median_ms"])
    if engine == "torch":
        return torch_time(c, threads, runs, warmup)
    out = run(ort.cmd(c, runs, warmup, threads), "ort_bench.js")
    return float(last_json(out, "ort_bench.js")["median_ms"])


def probe(build):
    """The cross-core probe (bench/xcore_probe.c): (cross, same) µs per MiB,
    or None when it is not built or fails."""
    exe = os.path.join(build, "xcore_probe")
    if not os.access(exe, os.X_OK):
        return None
    try:
        j = last_json(run([exe, "--json"], "xcore_probe", timeout=60), "xcore_probe")
        return (float(j["cross_us_per_mib"]), float(j["same_us_per_mib"]))
    except Error:
        return None


# ---------------------------------------------------------------- steps

def gemm(build, threads_list, rounds, sizes):
    """{threads: [{n, nncc_gflops, openblas_gflops}]}, or an error text."""
    exe = os.path.join(build, "gemm_bench")
    if not os.access(exe, os.X_OK):
        return {}, f"{exe} not found (build it: it is a CMake target)"
    res = {}
    try:
        for t in threads_list:
            t0 = time.monotonic()
            res[t] = last_json(run([exe, "--threads", str(t), "--rounds", str(rounds), "--json"]
                                   + sizes, "gemm_bench"), "gemm_bench")
            best = max(max(r["nncc_gflops"], r["openblas_gflops"]) for r in res[t])
            log(f"gemm_bench --threads {t}: best {best:.1f} GFLOP/s "
                f"({time.monotonic() - t0:.0f} s)")
    except Error as e:
        return res, str(e)
    return res, None


def prepare(build, name, batch, zoo, ort, tmp, args):
    """Export, compile, check and size one (model, batch) case; returns its
    dict. Problems go to c["fail"][engine] (or c["fail"]["export"])."""
    import torch
    c = {"name": name, "batch": batch, "fail": {}, "diff": {}, "gflop": None, "compile_s": None}
    outdir = os.path.join(build, "bench", f"zoo-b{batch}")
    t0 = time.monotonic()
    errors = zoo.ensure(outdir, [name], log=log, batch=batch)
    if name in errors:
        c["fail"]["export"] = errors[name]
        return c
    if time.monotonic() - t0 > 1:
        log(f"{name} b{batch}: exported in {time.monotonic() - t0:.1f} s")
    d = os.path.join(outdir, name)
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    c.update(onnx=os.path.join(d, "model.onnx"), so=os.path.join(d, "model.so"),
             inputs=[(n, os.path.join(d, n + ".npy")) for n in meta["inputs"]],
             outputs=meta["outputs"])
    refs = [np.load(os.path.join(d, f"ref_{o}.npy")) for o in c["outputs"]]
    # A float32 engine may miss the float64 answer by what PyTorch's own
    # float32 output does (e.g. FCN-ResNet50 about 1e-4): allow 4 times that.
    c["atol"] = [max(ATOL, 4 * meta["torch32_err"][o]) for o in c["outputs"]]

    # nncc: compile (timed), FLOPs from --report, outputs.
    if os.path.exists(c["so"]):
        os.remove(c["so"])
    t0 = time.monotonic()
    try:
        rep = run([os.path.join(build, "nncc"), c["onnx"], "-o", c["so"], "-O2", "--report"],
                  "nncc")
        c["compile_s"] = time.monotonic() - t0
        m = re.search(r"^total: .*?(\d+) FLOPs", rep, re.M)
        c["gflop"] = int(m.group(1)) / 1e9 if m else None
        od = os.path.join(tmp, f"{name}-b{batch}-nncc")
        run(nncc_cmd(build, c, "-o", od, "--threads", "1"), "nncc-run")
        c["diff"]["nncc"] = check(c, "nncc", [np.load(os.path.join(od, o + ".npy"))
                                              for o in c["outputs"]], refs)
    except Error as e:
        c["fail"]["nncc"] = str(e)

    # PyTorch eager: the same module, rebuilt from the seed.
    if name not in args.torch_models:
        args.torch_models[name] = zoo.build(name)
    c["model"] = args.torch_models[name]
    c["x"] = [torch.from_numpy(np.load(p)) for _, p in c["inputs"]]
    torch.set_num_threads(1)
    t_torch = 0.0
    try:
        got = [o.numpy() for o in torch_call(c)]
        t0 = time.perf_counter()
        torch_call(c)
        t_torch = time.perf_counter() - t0
    except Exception as e:  # noqa: BLE001 - reported per model
        got = None
        c["fail"]["torch"] = f"PyTorch eager failed: {type(e).__name__}: {e}"
    mine = [np.load(os.path.join(d, f"torch32_{o}.npy")) for o in c["outputs"]]
    if got is None:
        pass
    elif not all(max_err(g, m)[0] for g, m in zip(got, mine)):
        c["fail"]["torch"] = ("PyTorch eager differs from the export's own float32 output "
                              "(the rebuilt model is not the exported one)")
    else:
        c["diff"]["torch"] = check(c, "torch", got, refs)

    if ort.node:
        try:
            od = os.path.join(tmp, f"{name}-b{batch}-ort")
            run(ort.cmd(c, 1, 0, 1, dump=od), "ort_bench.js")
            c["diff"]["ort"] = check(c, "ort", [np.load(os.path.join(od, o + ".npy"))
                                                for o in c["outputs"]], refs)
        except Error as e:
            c["fail"]["ort"] = str(e)

    # Timed runs: about --target-s per measurement at 1 thread.
    t_est = t_torch
    if "nncc" not in c["fail"]:
        try:
            out = run(nncc_cmd(build, c, "--bench", "3", "--json", "--threads", "1"), "nncc-run")
            t_est = max(t_est, float(last_json(out, "nncc-run")["median_ms"]) / 1e3)
        except Error as e:
            c["fail"]["nncc"] = str(e)
    c["runs"] = args.runs.get(f"{name}@{batch}", args.runs.get(name))
    if c["runs"] is None:
        c["runs"] = int(min(MAX_RUNS, max(MIN_RUNS, round(args.target_s / max(t_est, 1e-6)))))
    c["warmup"] = min(args.warmup, max(1, c["runs"] // 3))
    return c


def check(c, engine, got, refs):
    """Max |diff| over the outputs; a miss goes to c["fail"][engine]."""
    worst, bad = 0.0, []
    for o, g, r, atol in zip(c["outputs"], got, refs, c["atol"]):
        ok, d = max_err(g.reshape(r.shape) if g.size == r.size else g, r, atol)
        worst = max(worst, d)
        if not ok:
            bad.append(f"{o}: max |diff| {d:.3g}")
    if bad:
        c["fail"][engine] = (f"output disagrees with the float64 reference "
                             f"(|a-ref| <= {max(c['atol']):.3g} + {RTOL:g}|ref|): " + ", ".join(bad))
    return worst


# ---------------------------------------------------------------- main

def parse_list(text, what, ap):
    try:
        vals = [int(v) for v in text.split(",") if v]
    except ValueError:
        ap.error(f"{what} wants a comma-separated list of integers")
    if not vals or min(vals) < 1:
        ap.error(f"{what} wants values >= 1")
    return vals


def parse_runs(text, ap):
    runs = {}
    for item in filter(None, text.split(",")):
        k, _, v = item.partition("=")
        if not re.fullmatch(r"[a-z0-9_]+(@\d+)?", k) or not v.isdigit() or int(v) < 1:
            ap.error(f"bad --runs item '{item}' (want MODEL=N or MODEL@BATCH=N, N >= 1)")
        runs[k] = int(v)
    return runs


def main():
    ap = argparse.ArgumentParser(description="nncc vs PyTorch vs ONNX Runtime on the model zoo")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="build folder with nncc, nncc-run, gemm_bench; models go to BUILD/bench")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated (default: all)")
    ap.add_argument("--batches", default="1,32", help="batches of the small models (default %(default)s)")
    ap.add_argument("--large-batches", default="1,8",
                    help="batches of the large (ImageNet-size) models (default %(default)s)")
    ap.add_argument("--threads", default="1,2", help="thread counts (default %(default)s)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds (default %(default)s)")
    ap.add_argument("--runs", default="", help="timed runs, e.g. mlp=2000,resnet50@8=3 "
                    "(default: about --target-s per measurement)")
    ap.add_argument("--target-s", type=float, default=0.5,
                    help="seconds per measurement when choosing the runs (default %(default)s)")
    ap.add_argument("--warmup", type=int, default=3,
                    help="untimed runs before timing, PyTorch and ORT, at most a third of the "
                         "timed runs (nncc-run does 1; default %(default)s)")
    ap.add_argument("--gemm-rounds", type=int, default=3, help="gemm_bench --rounds (default 3)")
    ap.add_argument("--gemm-sizes", default="",
                    help="gemm_bench sizes, e.g. 256,512 (default: its own, 256..4096)")
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"),
                    help="where results.md and the chart go (default bench/results)")
    ap.add_argument("--no-ort", action="store_true", help="leave ONNX Runtime out")
    ap.add_argument("--no-gemm", action="store_true", help="leave the GEMM micro-benchmark out")
    ap.add_argument("--no-chart", action="store_true", help="write no PNG chart")
    ap.add_argument("--cmd", default=None, help="the command to record in the results")
    args = ap.parse_args()
    args.cmd = args.cmd or shlex.join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    names = [n for n in args.models.split(",") if n]
    batches = parse_list(args.batches, "--batches", ap)
    large_batches = parse_list(args.large_batches, "--large-batches", ap)
    threads_list = parse_list(args.threads, "--threads", ap)
    args.runs = parse_runs(args.runs, ap)
    if args.rounds < 1 or args.warmup < 0 or args.target_s <= 0 or args.gemm_rounds < 1:
        ap.error("need --rounds >= 1, --warmup >= 0, --target-s > 0, --gemm-rounds >= 1")
    build = os.path.abspath(args.build)
    for tool in ("nncc", "nncc-run"):
        if not os.access(os.path.join(build, tool), os.X_OK):
            print(f"bench: {build}/{tool} not found (build it first: make build)", file=sys.stderr)
            return 2
    args.load_before = bench_report.loadavg()
    t_start = time.monotonic()

    import zoo_models as zoo
    unknown = [n for n in names if n not in zoo.ZOO]
    if unknown or not names:
        ap.error(f"unknown model(s) {unknown}; known: {', '.join(zoo.ZOO)}")
    large = set(zoo.names("large"))
    ort = Ort(not args.no_ort)
    log(f"ONNX Runtime: onnxruntime-node {ort.version}" if ort.node
        else f"ONNX Runtime unavailable ({ort.why}); going on without it")

    gemm_res, gemm_err = ({}, "left out with --no-gemm") if args.no_gemm else \
        gemm(build, threads_list, args.gemm_rounds,
             [str(n) for n in parse_list(args.gemm_sizes, "--gemm-sizes", ap)] if args.gemm_sizes
             else [])
    if gemm_err:
        log(f"GEMM micro-benchmark: {gemm_err}")
    peak = {t: max(max(r["nncc_gflops"], r["openblas_gflops"]) for r in rows)
            for t, rows in gemm_res.items() if rows}

    args.torch_models = {}
    cases = []
    with tempfile.TemporaryDirectory(prefix="nncc-bench-") as tmp:
        for name in names:
            for b in (large_batches if name in large else batches):
                t0 = time.monotonic()
                c = prepare(build, name, b, zoo, ort, tmp, args)
                cases.append(c)
                fails = "; ".join(f"{k}: {v}" for k, v in c["fail"].items())
                log(f"{name} b{b}: ready in {time.monotonic() - t0:.1f} s"
                    + (f", compile {c['compile_s']:.2f} s" if c["compile_s"] else "")
                    + (f", {c['gflop']:.3g} GFLOP" if c["gflop"] else "")
                    + (f", runs {c['runs']}" if "runs" in c else "")
                    + (f" -- {fails}" if fails else ""))

    res = {}
    for r in range(args.rounds):
        order = ENGINES[r % len(ENGINES):] + ENGINES[:r % len(ENGINES)]
        t0 = time.monotonic()
        for c in cases:
            for t in threads_list:
                if t > 1:  # what the two-thread cells of this round ran under
                    p = probe(build)
                    if p:
                        res.setdefault((c["name"], c["batch"], t, "probe"), []).append(p)
                for e in order:
                    if e in c["fail"] or "export" in c["fail"] or (e == "ort" and not ort.node):
                        continue
                    try:
                        v = measure(e, c, build, ort, t)
                        res.setdefault((c["name"], c["batch"], t, e), []).append(v)
                    except Exception as err:  # noqa: BLE001 - reported per model
                        c["fail"][e] = "while timing: " + (str(err) if isinstance(err, Error)
                                                           else f"{type(err).__name__}: {err}")
        log(f"round {r + 1}/{args.rounds} ({', '.join(order)}) took {time.monotonic() - t0:.0f} s")

    os.makedirs(args.out_dir, exist_ok=True)
    rows = bench_report.rows(cases, threads_list, res, peak)
    print(bench_report.table(rows))
    chart = None
    if not args.no_chart:
        chart, why = bench_report.chart(rows, os.path.join(args.out_dir, "nncc_vs_ort.png"))
        log(f"wrote {chart}" if chart else f"no chart: {why}")
    elapsed = time.monotonic() - t_start
    info = dict(cmd=args.cmd, load_before=args.load_before, rounds=args.rounds,
                target_s=args.target_s, warmup=args.warmup, elapsed=elapsed, ort=ort.version,
                ort_why=ort.why, atol=ATOL, rtol=RTOL, threads=threads_list, chart=chart,
                gemm=gemm_res, gemm_err=gemm_err, peak=peak, root=ROOT,
                large=sorted(large & set(names)), batches=batches, large_batches=large_batches,
                gemm_rounds=args.gemm_rounds)
    path = os.path.join(args.out_dir, "results.md")
    bench_report.write(path, info, cases, rows, res)
    log(f"wrote {path} ({elapsed:.0f} s in all)")
    return 1 if any(c["fail"] for c in cases) else 0


if __name__ == "__main__":
    sys.exit(main())
