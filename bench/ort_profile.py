#!/usr/bin/env python3
"""Per-node times from an ONNX Runtime profile (bench/ort_bench.js --profile).

    bench/ort_profile.py PROFILE.json [--top N]

ONNX Runtime records every node's kernel time in every run; this prints,
per node, the median over the runs in microseconds, largest first, with
the op type and the share of the sum, then the sum per op type. The
profiler costs a few microseconds per node, so the numbers sit above the
unprofiled run's: compare nodes with each other, or with nncc's own
per-kernel times (`perf` over nncc-run, the kernels named k<N> in
`nncc --report`), not the totals with `make bench`'s medians.
"""
import argparse
import collections
import json
import statistics
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile")
    ap.add_argument("--top", type=int, default=40)
    a = ap.parse_args()
    try:
        with open(a.profile) as f:
            events = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"ort_profile: {a.profile}: {e}")
    runs = collections.defaultdict(list)
    op = {}
    for e in events:
        name = e.get("name", "")
        if e.get("cat") != "Node" or not name.endswith("_kernel_time"):
            continue
        node = name[: -len("_kernel_time")]
        runs[node].append(e["dur"])
        op[node] = e.get("args", {}).get("op_name", "?")
    if not runs:
        sys.exit(f"ort_profile: {a.profile}: no node times (was it written by --profile?)")
    med = {n: statistics.median(v) for n, v in runs.items()}
    total = sum(med.values())
    print(f"{len(med)} nodes, {max(len(v) for v in runs.values())} runs, "
          f"sum of per-node medians {total:.0f} us")
    for n, t in sorted(med.items(), key=lambda kv: -kv[1])[: a.top]:
        print(f"{t:9.0f} us {100 * t / total:5.1f}%  {op[n]:<20} {n}")
    per_op = collections.Counter()
    for n, t in med.items():
        per_op[op[n]] += t
    print("per op type:", ", ".join(f"{o} {t:.0f} us" for o, t in per_op.most_common()))


if __name__ == "__main__":
    main()
