"""The report of bench/bench.py: the markdown table, bench/results/results.md
and the PNG chart (nncc/ORT per model, log scale; % of the measured FP32
peak)."""
import datetime
import math
import os
import platform
import statistics
import subprocess

ENGINES = ["nncc", "torch", "ort"]
LABEL = {"nncc": "nncc", "torch": "PyTorch", "ort": "ORT"}


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def _out(cmd, cwd=None):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              cwd=cwd).stdout.strip()
    except OSError:
        return ""


def cpu_model():
    """The CPU's name with its family and model numbers: a virtual machine's
    name may be as vague as "AMD EPYC", and one host may change under it."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                info.setdefault(k.strip(), v.strip())
    except OSError:
        pass
    name = info.get("model name") or platform.processor() or "unknown CPU"
    if info.get("cpu family") and info.get("model"):
        name += " (family %s, model %s)" % (info["cpu family"], info["model"])
    return name


def git_rev(root):
    rev = _out(["git", "-C", root, "rev-parse", "--short", "HEAD"])
    # (bench/results is left out: this run writes its chart there before the report)
    dirty = _out(["git", "-C", root, "status", "--porcelain", "--untracked-files=no", "--", ".",
                  ":(exclude)bench/results"])
    return (rev + ("+local changes" if dirty else "")) or "unknown"


def short(msg):
    """A table cell for an engine's failure (the full message is listed
    under Problems)."""
    if any(k in msg for k in ("supported", "cannot lower", "not implemented")):
        return "unsupported"
    if "disagrees" in msg or "differs" in msg:
        return "wrong"
    return "failed"


def rows(cases, threads_list, res, peak):
    """One dict per (model, batch, threads): medians over the rounds, ratios,
    GFLOP/s, % of peak, failures."""
    out = []
    for c in cases:
        for t in threads_list:
            r = dict(name=c["name"], batch=c["batch"], threads=t, gflop=c["gflop"],
                     compile_s=c["compile_s"], ms={}, cell={})
            for e in ENGINES:
                vals = res.get((c["name"], c["batch"], t, e))
                if "export" in c["fail"]:
                    r["cell"][e] = "export failed"
                elif e in c["fail"]:
                    r["cell"][e] = short(c["fail"][e])
                elif vals:
                    r["ms"][e] = statistics.median(vals)
            nn, ort, pt = r["ms"].get("nncc"), r["ms"].get("ort"), r["ms"].get("torch")
            r["vs_ort"] = nn / ort if nn and ort else None
            r["vs_torch"] = nn / pt if nn and pt else None
            r["gflops"] = c["gflop"] / (nn / 1e3) if nn and c["gflop"] else None
            r["peak_pct"] = 100 * r["gflops"] / peak[t] if r["gflops"] and peak.get(t) else None
            out.append(r)
    return out


def fmt_ms(v):
    return f"{v:.1f}" if v >= 100 else f"{v:#.3g}"


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def table(rs):
    head = ["model", "batch", "threads", "GFLOPs", "nncc ms", "ORT ms", "PyTorch ms",
            "nncc/ORT", "nncc/PyTorch", "nncc GFLOP/s", "% of peak", "compile s"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    for r in rs:
        ms = {e: (fmt_ms(r["ms"][e]) if e in r["ms"] else r["cell"].get(e, "n/a")) for e in ENGINES}
        g = r["gflop"]
        lines.append("| " + " | ".join([
            r["name"], str(r["batch"]), str(r["threads"]),
            "n/a" if g is None else (f"{g:.3g}" if g >= 0.001 else f"{g:.2g}"),
            ms["nncc"], ms["ort"], ms["torch"], fmt(r["vs_ort"], ".2f"), fmt(r["vs_torch"], ".2f"),
            fmt(r["gflops"], ".1f"), fmt(r["peak_pct"], ".1f"), fmt(r["compile_s"], ".2f")]) + " |")
    return "\n".join(lines)


def geomeans(rs):
    """Lines: the geometric mean of nncc/ORT per (batch kind, threads)."""
    groups = {}
    for r in rs:
        if r["vs_ort"]:
            groups.setdefault((r["batch"] == 1, r["threads"]), []).append(r["vs_ort"])
    out = []
    for (one, t), v in sorted(groups.items(), key=lambda kv: (not kv[0][0], kv[0][1])):
        gm = math.exp(sum(math.log(x) for x in v) / len(v))
        out.append(f"- nncc/ORT, {'batch 1' if one else 'the second batch'}, {t} thread"
                   f"{'s' if t > 1 else ''}: geometric mean {gm:.2f} over {len(v)} models, "
                   f"worst {max(v):.2f}, best {min(v):.2f}")
    return out


def chart(rs, path):
    """Writes the PNG; returns (path, None) or (None, why)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return None, f"matplotlib unavailable ({e})"
    models = list(dict.fromkeys(r["name"] for r in rs))
    series = list(dict.fromkeys((r["batch"] == 1, r["threads"]) for r in rs))
    if not models or not any(r["vs_ort"] or r["peak_pct"] for r in rs):
        return None, "nothing to plot"
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 0.9 * len(models) + 3), 8), sharex=True)
    width = 0.8 / max(1, len(series))
    for k, (one, t) in enumerate(series):
        bs = sorted({r["batch"] for r in rs if (r["batch"] == 1) == one}, reverse=True)
        label = f"batch {'/'.join(map(str, bs))}, {t} thread{'s' if t > 1 else ''}"
        for ax, key in zip(axes, ("vs_ort", "peak_pct")):
            xs, ys = [], []
            for i, m in enumerate(models):
                for r in rs:
                    if r["name"] == m and (r["batch"] == 1) == one and r["threads"] == t \
                            and r[key]:
                        xs.append(i + (k - (len(series) - 1) / 2) * width)
                        ys.append(r[key])
            ax.bar(xs, ys, width, label=label)
    axes[0].set_yscale("log")
    vals = [r["vs_ort"] for r in rs if r["vs_ort"]]
    if vals:
        lo, hi = math.floor(math.log2(min(vals))), math.ceil(math.log2(max(vals)))
        ticks = [2.0 ** e for e in range(min(lo, -1), max(hi, 1) + 1)]
        axes[0].set_yticks(ticks)
        axes[0].set_yticklabels([f"{v:g}" for v in ticks])
        axes[0].minorticks_off()
    axes[0].axhline(1.0, color="black", linewidth=0.8)
    axes[0].set_ylabel("nncc ms / ORT ms (log; below 1: nncc faster)")
    axes[0].set_title("nncc vs ONNX Runtime, latency per inference (medians)")
    axes[0].legend(fontsize="small")
    axes[1].set_ylabel("nncc, % of measured FP32 peak")
    axes[1].set_xticks(range(len(models)))
    axes[1].set_xticklabels(models, rotation=45, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path, None


SHARED = 1.4  # cross / same below this: the two cores share a cache


def probe_line(res):
    """The header bullet on the cross-core probes of the run (bench/xcore_probe.c)."""
    ps = [p for k, v in res.items() if k[3] == "probe" for p in v]
    if not ps:
        return ["- two threads: the cross-core probe (`build/xcore_probe`) did not run"]
    shared = sum(1 for x, s in ps if x < SHARED * s)
    return [f"- two threads: before each model's two-thread measurements in each round, "
            f"`build/xcore_probe` timed one core reading back a MiB the other core had just "
            f"written: {min(x for x, _ in ps):.0f} to {max(x for x, _ in ps):.0f} µs (the same "
            f"core alone: {min(s for _, s in ps):.0f} to {max(s for _, s in ps):.0f} µs); "
            f"{shared} of {len(ps)} probes found the cores sharing a cache (cross under "
            f"{SHARED} times same); under the other {len(ps) - shared}, every activation one "
            "thread hands the other costs about twice as much and two-thread times rise "
            "(`docs/benchmarks.md`, \"Two threads on a VM\"). Per-round values and probes are at "
            "the end."]


def write(path, info, cases, rs, res):
    import torch
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    ort = (f"onnxruntime-node {info['ort']} (CPU execution provider), Node "
           f"{_out(['node', '--version'])}" if info["ort"] else f"ORT unavailable: {info['ort_why']}")
    peak = ", ".join(f"{t} thread{'s' if t > 1 else ''}: {p:.1f} GFLOP/s"
                     for t, p in sorted(info["peak"].items())) or "not measured"
    out = [
        "# Benchmark results",
        "",
        "Latency of one inference (milliseconds, median; lower is better) of nncc, ONNX Runtime",
        "and PyTorch eager on the same inputs, the course's model zoo (`tests/zoo/zoo_models.py`).",
        "Ratios are nncc / other: below 1, nncc is faster. Method: `docs/benchmarks.md`.",
        "Regenerate with `make bench` (`bench/run.sh build`).",
        "",
        f"- date: {now}",
        f"- machine: {os.cpu_count()} CPUs (nproc {_out(['nproc'])}), {cpu_model()}, Linux "
        f"{platform.release()}; load average (1, 5, 15 min) {info['load_before']} before the run, "
        f"{loadavg()} after",
        f"- command: `{info['cmd']}`",
        f"- versions: nncc {git_rev(info['root'])} (-O2), PyTorch {torch.__version__}, {ort}",
        f"- batches: {', '.join(map(str, info['batches']))}; for the large models "
        f"({', '.join(info['large']) or 'none here'}) {', '.join(map(str, info['large_batches']))}"
        " (a batch of 32 would take the run well past 40 minutes on 2 cores)",
        f"- rounds: {info['rounds']}, engines interleaved in an order rotated every round; each "
        "cell is the median over the rounds of each round's median",
        f"- timed runs per measurement: chosen per model and batch for about {info['target_s']} s "
        f"(listed below); warm-up runs: nncc-run 1, PyTorch and ORT min({info['warmup']}, runs/3)",
        "- GFLOPs: one inference, `nncc --report`'s total FLOPs; compile s: wall time of "
        "`nncc model.onnx -o model.so -O2 --report`",
        f"- % of peak: nncc's GFLOP/s over the measured FP32 peak at the same thread count, the "
        f"best GFLOP/s of the GEMM micro-benchmark below (nncc or OpenBLAS, any size): {peak}",
        f"- total time of the run: {info['elapsed'] / 60:.1f} min",
    ] + probe_line(res) + [
        "",
        table(rs),
        "",
    ]
    out += geomeans(rs)
    if info["chart"]:
        out += ["", f"![nncc vs ORT]({os.path.basename(info['chart'])})"]
    out += ["", "## GEMM micro-benchmark", "",
            "`build/gemm_bench --threads T --json`: square row-major SGEMM, nncc's runtime GEMM "
            "(`runtime/gemm.c`) against OpenBLAS's `cblas_sgemm`, same thread count; GFLOP/s, "
            f"median of {info.get('gemm_rounds', 'its')} rounds.", ""]
    if info["gemm"]:
        out += ["| n | threads | nncc GFLOP/s | OpenBLAS GFLOP/s | nncc/OpenBLAS |",
                "|---:|---:|---:|---:|---:|"]
        for t, rows_t in sorted(info["gemm"].items()):
            for g in rows_t:
                ratio = g["nncc_gflops"] / g["openblas_gflops"] if g["openblas_gflops"] else None
                out.append(f"| {g['n']} | {t} | {g['nncc_gflops']:.1f} | "
                           f"{g['openblas_gflops']:.1f} | {fmt(ratio, '.2f')} |")
        rows = [g for rows_t in info["gemm"].values() for g in rows_t]
        cores = sorted({g.get("openblas_core", "?") for g in rows})
        line = f"OpenBLAS kernels: {', '.join(cores)}"
        if any(g.get("coretype_set") for g in rows):
            line += (" (OPENBLAS_CORETYPE set by gemm_bench: this OpenBLAS did not recognise "
                     "the CPU and would have run its generic Prescott kernels, about a fifth "
                     "as fast; see bench/gemm_bench.c)")
        out += ["", line + "."]
    if info["gemm_err"]:
        out += ["", f"GEMM micro-benchmark: {info['gemm_err']}"]
    problems = [f"- {c['name']} batch {c['batch']}, {LABEL.get(k, k)}: {v}"
                for c in cases for k, v in c["fail"].items()]
    if not info["ort"]:
        problems.append(f"- ORT unavailable: {info['ort_why']}")
    out += ["", "## Problems", ""]
    out += problems or ["None: every engine ran and agreed on every model."]
    out += ["", "## Output checks", "",
            f"Before timing, each engine's outputs on the exported inputs against the float64 "
            f"reference, |a - ref| <= atol + {info['rtol']:g}·|ref| (nncc-run and ORT at 1 "
            f"thread), where atol is {info['atol']:g} or, if larger, 4 times PyTorch float32's own "
            "max error on that output; max |diff| over all outputs. Timed runs per measurement "
            "too.", "",
            "| model | batch | nncc | ORT | PyTorch | atol | timed runs |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for c in cases:
        d = c["diff"]
        out.append(f"| {c['name']} | {c['batch']} | "
                   + " | ".join(fmt(d.get(e), ".2g") for e in ("nncc", "ort", "torch"))
                   + f" | {fmt(max(c['atol']) if c.get('atol') else None, '.2g')}"
                   + f" | {c.get('runs', 'n/a')} |")
    out += ["", "## Per-round medians (ms), in round order", "",
            "| model | batch | threads | engine | rounds |", "|---|---:|---:|---|---|"]
    for c in cases:
        for t in info["threads"]:
            for e in ENGINES:
                v = res.get((c["name"], c["batch"], t, e))
                if v:
                    out.append(f"| {c['name']} | {c['batch']} | {t} | {LABEL[e]} | "
                               + ", ".join(fmt_ms(x) for x in v) + " |")
            p = res.get((c["name"], c["batch"], t, "probe"))
            if p:
                out.append(f"| {c['name']} | {c['batch']} | {t} | probe: cross / same µs per MiB | "
                           + ", ".join(f"{x:.0f} / {s:.0f}" for x, s in p) + " |")
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write("\n".join(out) + "\n")
    os.replace(tmp, path)
