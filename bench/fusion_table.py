"""Fusion and memory-plan table for the four CNNs of the optimization issue.

    fusion_table.py [--build DIR] [--models a,b,...] [--check]

For each model (exported into BUILD/e2e by tests/e2e/make_models.py unless it
is already there) it runs `nncc MODEL --report` at -O0 and at -O2, counts the
ONNX nodes with the onnx package, and prints a markdown table:

    model | ONNX nodes | kernels (-O0) | kernels (-O2) | naive MB | lower bound MB |
    arena MB | arena/lower | arena/naive

Memory numbers are those of the -O2 plan; MB is 10^6 bytes. ONNX nodes count
every node of the exported graph except Constant (a value, not a computation;
their number is shown in parentheses).

--check also enforces the acceptance target on every model shown: the planned
arena at most MAX_LOWER (1.05) times the lower bound (the maximum over time of
live bytes) and at most MAX_NAIVE (0.5) times the naive bytes (every tensor its
own buffer); it exits 1 naming each model that misses it. So that the ratios
cannot pass on a wrong statistic, it also re-derives them from the memory plan
the report prints (offset, size and live range of every temporary): no two
temporaries live at the same kernel may share bytes (except an in-place pair),
the arena must hold every one, and the lower bound must equal the peak of live
bytes. The tests use this form on resnet18 and mobilenet_v2 (tests/tests.cmake).

Regenerate the table in docs/optimization.md with:
    /usr/bin/python3 bench/fusion_table.py --build build
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
E2E = os.path.join(ROOT, "tests", "e2e")
CNNS = ["resnet18", "resnet50", "googlenet", "mobilenet_v2"]
MAX_LOWER = 1.05
MAX_NAIVE = 0.5


class Error(Exception):
    pass


def export(build, names):
    """Make sure BUILD/e2e holds NAME.onnx for every name (cached)."""
    outdir = os.path.join(build, "e2e")
    cmd = [sys.executable, os.path.join(E2E, "make_models.py"), outdir, "--models", ",".join(names)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise Error(f"exporting {', '.join(names)} failed:\n{r.stdout}")
    return outdir


def onnx_nodes(path):
    import onnx
    nodes = onnx.load(path).graph.node
    consts = sum(1 for n in nodes if n.op_type == "Constant")
    return len(nodes) - consts, consts


def report(nncc, model, opt):
    """The numbers of `nncc MODEL --report OPT` (no output file: report only)."""
    cmd = [nncc, model, "--report", opt]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise Error(f"{' '.join(cmd)} exited with status {r.returncode}:\n{r.stderr}")
    out = r.stdout

    def number(pattern, what):
        m = re.search(pattern, out, re.MULTILINE)
        if not m:
            raise Error(f"{' '.join(cmd)}: no '{what}' line in the report")
        return int(m.group(1))

    return {
        "plan": parse_plan(out),
        "kernels": number(r"^total: (\d+) kernels", "total: N kernels"),
        "naive": number(r"^naive bytes: (\d+)$", "naive bytes"),
        "lower": number(r"^lower bound bytes: (\d+)$", "lower bound bytes"),
        "arena": number(r"^arena bytes: (\d+)$", "arena bytes"),
    }


PLAN_ROW = re.compile(r"^\s*t(\d+)\s+(\d+)\s+(\d+)\s+(\[(\d+),(\d+)\]|unused)\s+([a-z](\d+)|-)")
ALIAS_ROW = re.compile(r"^\s*t\d+\s+= [a-z]\d+\[\+\d+\]")


def parse_plan(out):
    """Rows of the report's memory plan: {buf: (offset, size, first, last, inplace)};
    first = last = -1 for an unused temporary, inplace = -1 for none."""
    plan, inside = {}, False
    for line in out.splitlines():
        if line.startswith("memory plan:"):
            inside = True
            continue
        if inside:
            m = PLAN_ROW.match(line)
            if m:
                live = (int(m.group(5)), int(m.group(6))) if m.group(5) else (-1, -1)
                plan[int(m.group(1))] = (int(m.group(2)), int(m.group(3))) + live + \
                    (int(m.group(8)) if m.group(8) else -1,)
            elif ALIAS_ROW.match(line):
                continue  # lives inside a concat's output, whose row covers it
            elif not line.lstrip().startswith("buf"):
                inside = False
    return plan


def verify_plan(name, rep):
    """Problems found re-deriving the memory numbers from the printed plan."""
    plan, bad = rep["plan"], []
    if not plan:
        return [f"{name}: the report prints no memory plan rows"]
    live = {b: r for b, r in plan.items() if r[2] >= 0}
    for b, (off, size, first, last, ip) in live.items():
        if off + size > rep["arena"]:
            bad.append(f"{name}: t{b} [{off}, {off + size}) outside the arena of {rep['arena']} bytes")
    items = sorted(live.items())
    for i, (a, ra) in enumerate(items):
        for b, rb in items[i + 1:]:
            if ra[4] == b or rb[4] == a:
                continue  # an in-place pair shares its bytes by design
            if ra[2] <= rb[3] and rb[2] <= ra[3] and ra[0] < rb[0] + rb[1] and rb[0] < ra[0] + ra[1]:
                bad.append(f"{name}: t{a} and t{b} are live together and overlap")
    peak = 0
    for t in range(max(r[3] for r in live.values()) + 1):
        now = sum(r[1] for r in live.values() if r[2] <= t <= r[3])
        for b, r in live.items():  # an in-place pair meeting at t holds its bytes once
            p = live.get(r[4])
            if p and r[2] == t == p[3] and r[0] == p[0]:
                now -= min(r[1], p[1])
        peak = max(peak, now)
    if peak != rep["lower"]:
        bad.append(f"{name}: peak live bytes of the plan is {peak}, report says lower bound {rep['lower']}")
    return bad


def ratio(a, b):
    return a / b if b > 0 else float("inf")


def main():
    ap = argparse.ArgumentParser(description="kernels and memory plan of the CNNs, as a markdown table")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="build folder holding nncc; models go to BUILD/e2e (default: %(default)s)")
    ap.add_argument("--models", default=",".join(CNNS), help="comma-separated (default: %(default)s)")
    ap.add_argument("--check", action="store_true",
                    help=f"exit 1 unless arena <= {MAX_LOWER} x lower bound and <= {MAX_NAIVE} x naive")
    args = ap.parse_args()
    names = [n for n in args.models.split(",") if n]
    nncc = os.path.join(args.build, "nncc")
    if not os.access(nncc, os.X_OK):
        print(f"fusion_table: {nncc} not found or not executable (build it first)", file=sys.stderr)
        return 2

    try:
        outdir = export(args.build, names)
        rows, misses = [], []
        for name in names:
            path = os.path.join(outdir, name + ".onnx")
            nodes, consts = onnx_nodes(path)
            o0 = report(nncc, path, "-O0")
            o2 = report(nncc, path, "-O2")
            lo, na = ratio(o2["arena"], o2["lower"]), ratio(o2["arena"], o2["naive"])
            rows.append((name, f"{nodes}" + (f" (+{consts} Constant)" if consts else ""),
                         o0["kernels"], o2["kernels"], f"{o2['naive'] / 1e6:.2f}",
                         f"{o2['lower'] / 1e6:.2f}", f"{o2['arena'] / 1e6:.2f}",
                         f"{lo:.3f}", f"{na:.3f}"))
            if lo > MAX_LOWER:
                misses.append(f"{name}: arena/lower bound {lo:.3f} > {MAX_LOWER}")
            if na > MAX_NAIVE:
                misses.append(f"{name}: arena/naive {na:.3f} > {MAX_NAIVE}")
            if args.check:
                misses += verify_plan(name, o2)
    except Error as e:
        print(f"fusion_table: {e}", file=sys.stderr)
        return 1

    head = ["model", "ONNX nodes", "kernels (-O0)", "kernels (-O2)", "naive MB",
            "lower bound MB", "arena MB", "arena/lower", "arena/naive"]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
    if args.check:
        for m in misses:
            print(f"fusion_table: FAIL {m}")
        if misses:
            return 1
        print(f"fusion_table: OK arena <= {MAX_LOWER} x lower bound and <= {MAX_NAIVE} x naive "
              f"for {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
