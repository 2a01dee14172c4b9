"""The malformed-model corpus (docs/robustness.md): builds each hostile
input into OUTDIR and runs nncc (or nncc-run) on it.

  malformed.py BUILD OUTDIR [-v] [-k SUBSTRING]

Each case is one file (an ONNX model, a text-IR file, or a compiled model
library damaged on purpose) made to trigger one check; its expected message
is listed next to it. A case passes when the tool exits with status 1,
prints the expected message on stderr and leaves no output file (nncc's
-o FILE, nncc-run's -o DIR). Prints FAIL lines and `N passed, N failed`;
exits 1 if any failed.
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import malformed_cases as mc  # noqa: E402


def run_case(build, outdir, case):
    name, kind, make, expect = case
    d = os.path.join(outdir, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    path = make(d)
    if kind == "so":
        out = os.path.join(d, "out")
        cmd = [os.path.join(build, "nncc-run"), path, "-o", out]
        left = lambda: os.path.exists(out) and os.listdir(out)  # noqa: E731
    else:
        out = os.path.join(d, "out.so")
        cmd = [os.path.join(build, "nncc"), path, "-o", out]
        left = lambda: os.path.exists(out)  # noqa: E731
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "timed out"
    problems = []
    if p.returncode != 1:
        problems.append(f"exit {p.returncode}, expected 1")
    if expect not in p.stderr:
        problems.append(f"stderr lacks {expect!r}")
    if left():
        problems.append("an output file was left behind")
    if problems:
        return "; ".join(problems) + f"\n  stderr: {p.stderr.strip()[:600]}"
    return None


def main():
    args = [a for a in sys.argv[1:]]
    verbose = "-v" in args
    only = None
    if "-k" in args:
        only = args[args.index("-k") + 1]
        del args[args.index("-k"):args.index("-k") + 2]
    args = [a for a in args if a != "-v"]
    if len(args) != 2:
        raise SystemExit(__doc__)
    build, outdir = (os.path.abspath(a) for a in args)
    os.makedirs(outdir, exist_ok=True)
    cases = mc.cases(build)
    names = [c[0] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    passed = failed = 0
    for case in cases:
        if only and only not in case[0]:
            continue
        why = run_case(build, outdir, case)
        if why:
            failed += 1
            print(f"FAIL {case[0]}: {why}")
        else:
            passed += 1
            if verbose:
                print(f"PASS {case[0]}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
