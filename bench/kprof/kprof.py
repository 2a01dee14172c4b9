"""kprof.py — time every kernel of a compiled model (the "tick profile" of
docs/performance.md).

    kprof.py --build DIR MODEL [--runs R] [--top N] [--keep DIR]
             [--nncc-arg=ARG ...] [-- NNCC-RUN ARGS...]

Compiles MODEL with DIR/nncc (plus each --nncc-arg) to LLVM IR, puts a
call to kprof_tick(k) (bench/kprof/tick.c) before each kernel call of the
run function and kprof_tick(-1) before it returns, builds that with llc-19
and the kernel library into a shared library, and runs it R times with
DIR/nncc-run and the arguments after `--` (say `--train 6 -i x=x.npy
--threads 2`). Kernels run one at a time, so a kernel's time is the gap
between two ticks. Prints, per kernel class and for the N slowest kernels
(named from `nncc --emit=kernels`), the least over every call of every run
(the noise of a shared host only adds), then the calls' median total.

Instrumented code is the same code: llc compiles the IR nncc prints, with
the same CPU, so a kernel runs as it does in nncc's own .so, give or take
the clock calls between kernels (about 50 ns each).
"""
import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
LLC = "/usr/lib/llvm-19/bin/llc"
MAXK = 1 << 14  # tick.c's MAXK

CALL = re.compile(r"^\s*(?:tail |musttail |notail )?call fastcc void @k(\d+)\(")


def instrument(ll):
    """The IR with the ticks in every exported *_run function."""
    out, inrun, nk = [], False, 0
    for line in ll.split("\n"):
        if line.startswith("define "):
            inrun = line.startswith("define void @") and "_run(" in line
        elif inrun and line == "}":
            inrun = False
        if inrun:
            m = CALL.match(line)
            if m:
                out.append("  call void @kprof_tick(i32 %s)" % m.group(1))
                nk = max(nk, int(m.group(1)) + 1)
            elif line.strip().startswith("ret "):
                out.append("  call void @kprof_tick(i32 -1)")
        out.append(line)
    if not nk:
        raise SystemExit("kprof: no kernel calls found in the run function")
    if nk > MAXK:
        raise SystemExit("kprof: %d kernels, more than tick.c's %d" % (nk, MAXK))
    out.append("declare void @kprof_tick(i32)")
    return "\n".join(out)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode:
        raise SystemExit("kprof: %s failed (%d):\n%s" % (cmd[0], r.returncode, r.stderr[-2000:]))
    return r.stdout


def kernel_names(build, model, nargs):
    text = subprocess.run([os.path.join(build, "nncc"), model, *nargs, "--emit=kernels"],
                          capture_output=True).stdout.decode("utf-8", "replace")
    names = {}
    for line in text.split("\n"):
        m = re.match(r'^k(\d+) "([^"]*)"(.*)', line)
        if m:
            names[int(m.group(1))] = (m.group(2), m.group(3).strip())
    return names


def kind(name, body):
    """A coarse class: forward or gradient; convolution call, GEMM, loop."""
    g = "grad " if name.startswith("grad") else ""
    if name.startswith("optimizer/"):
        return "optimizer"
    for op in ("conv2d", "conv_transpose", "convnd", "matmul", "pool2d"):
        if body.startswith(": " + op):
            return g + op
    return g + "loop"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", required=True)
    p.add_argument("model")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--keep", help="a directory to keep the instrumented .so and the raw times in")
    p.add_argument("--nncc-arg", action="append", default=[])
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = p.parse_args(argv[:cut])
    rargs = argv[cut + 1:]
    b = os.path.abspath(a.build)
    with tempfile.TemporaryDirectory() as tmp:
        d = os.path.abspath(a.keep) if a.keep else tmp
        os.makedirs(d, exist_ok=True)
        ll, so = os.path.join(d, "model.ll"), os.path.join(d, "kprof.so")
        run([os.path.join(b, "nncc"), a.model, *a.nncc_arg, "--emit=llvm", "-o", ll])
        with open(ll) as f:
            text = instrument(f.read())
        with open(ll, "w") as f:
            f.write(text)
        obj, tick = os.path.join(d, "model.o"), os.path.join(d, "tick.o")
        run([LLC, "-O3", "-mcpu=native", "-relocation-model=pic", "-filetype=obj", ll, "-o", obj])
        run(["cc", "-O2", "-fPIC", "-c", os.path.join(HERE, "tick.c"), "-o", tick])
        run(["cc", "-shared", "-o", so, obj, tick, os.path.join(b, "libnncc_rt_kernels.a"), "-lm"])
        least, calls = {}, []
        for r in range(a.runs):
            out = os.path.join(d, "times%d.txt" % r)
            run([os.path.join(b, "nncc-run"), so, *rargs], env=dict(os.environ, KPROF_OUT=out))
            with open(out) as f:
                for line in f:
                    w = line.split()
                    if w[0] == "call":
                        calls.append(float(w[1]))
                    else:
                        k, t = int(w[0]), float(w[1])
                        least[k] = min(t, least.get(k, t))
    names = kernel_names(b, a.model, a.nncc_arg)
    missing = sorted(set(names) - set(least))
    print("kernels timed: %d of %d" % (len(least), len(names)))
    if missing or not calls:
        raise SystemExit("kprof: kernels never timed: %s" % " ".join("k%d" % k for k in missing[:20]))
    by = collections.defaultdict(float)
    count = collections.Counter()
    for k, t in least.items():
        c = kind(*names.get(k, ("?", "")))
        by[c] += t
        count[c] += 1
    print("%-22s %10s %8s" % ("class", "ms", "kernels"))
    for c, t in sorted(by.items(), key=lambda x: -x[1]):
        print("%-22s %10.3f %8d" % (c, t, count[c]))
    print("%-22s %10.3f %8d" % ("sum of least", sum(least.values()), len(least)))
    print("calls: %d, median %.3f ms, least %.3f ms" % (len(calls), statistics.median(calls), min(calls)))
    print("\nslowest kernels (least ms):")
    for k, t in sorted(least.items(), key=lambda x: -x[1])[:a.top]:
        name, body = names.get(k, ("?", ""))
        print("k%-5d %8.3f  %-16s %-44s %s" % (k, t, kind(name, body), name[:44], body[:90]))


if __name__ == "__main__":
    sys.exit(main())
