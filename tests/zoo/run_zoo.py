"""Run the model zoo through nncc and compare with PyTorch.

    run_zoo.py BUILD_DIR [NAME...] [--size small|large|all] [-O0..-O3]
               [--atol 1e-4] [--rtol 1e-3]
    run_zoo.py --check-lists SMALL,... WAITING,...

For each model (zoo_models.py; exported into BUILD_DIR/zoo/NAME when missing
or stale) it runs `nncc model.onnx -o model.so`, then `nncc-run` on the
exported inputs, and compares every output with PyTorch's (computed in
float64, see zoo_models.export) at |out - ref| <= atol + rtol*|ref|, atol
raised to 4 times PyTorch float32's own max error where that is larger (a
model that amplifies rounding, such as FCN-ResNet50, whose float32 PyTorch
is itself off by 1e-4; the rule of bench/bench.py's agreement check). Each
model ends with one line:

    PASS         NAME  max abs error OUT E (PyTorch f32 E32, |ref| <= M), ...
    FAIL         NAME  what went wrong (the worst error when outputs differ)
    UNSUPPORTED  NAME  nncc's message (a missing operator, attribute, ...)

and the run with `zoo: N passed, M failed (K unsupported)`; an unsupported
model counts as failed. Exit status 0 when every model passed, else 1 (2 for
usage errors). Nothing is skipped: every model asked for gets a verdict.

--check-lists checks that tests/zoo.cmake's two lists of small models (those
run by `make test`, and those still waiting for operators) are disjoint and
together name exactly the zoo's small models.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import compare  # noqa: E402
import zoo_files  # noqa: E402


def zoo():
    """zoo_models.py, imported only when needed: it imports torch (seconds)."""
    import zoo_models
    return zoo_models

STEP_TIMEOUT = 1800  # seconds per compile or run


def unsupported_msg(m):
    """nncc's messages for what it does not implement (as tools/test_onnx.c
    classifies them)."""
    return any(k in m for k in ("supported", "cannot lower", "not implemented",
                                "must be a constant"))


def last_lines(text, n=6):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:])


def run(cmd, log):
    log("+ " + " ".join(cmd))
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {STEP_TIMEOUT} s"
    if p.stdout.strip():
        log(p.stdout.rstrip())
    return p.returncode, p.stdout


def run_model(build, name, opt, atol, rtol, log):
    """Returns (verdict, detail) for one model."""
    import numpy as np
    outdir = os.path.join(build, "zoo")
    if not zoo_files.up_to_date(outdir, name):
        errors = zoo().ensure(outdir, [name], log=log)
        if name in errors:
            return "FAIL", errors[name]
    d = zoo_files.model_dir(outdir, name)
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    so = os.path.join(d, f"model{opt}.so")
    out = os.path.join(d, f"out{opt}")
    for stale in [so] + [os.path.join(out, f"{o}.npy") for o in meta["outputs"]]:
        if os.path.exists(stale):
            os.remove(stale)
    os.makedirs(out, exist_ok=True)

    t0 = time.time()
    rc, text = run([os.path.join(build, "nncc"), os.path.join(d, "model.onnx"), "-o", so, opt],
                   log)
    tcomp = time.time() - t0
    if rc is None:
        return "FAIL", f"nncc {text}"
    if rc != 0:
        msg = last_lines(text)
        if rc == 1 and unsupported_msg(text):
            return "UNSUPPORTED", msg
        return "FAIL", f"nncc exited with status {rc}: {msg}"
    if not os.path.isfile(so):
        return "FAIL", f"nncc exited 0 but wrote no {so}"

    cmd = [os.path.join(build, "nncc-run"), so, "-o", out]
    for i in meta["inputs"]:
        cmd += ["-i", f"{i}={os.path.join(d, i + '.npy')}"]
    t0 = time.time()
    rc, text = run(cmd, log)
    trun = time.time() - t0
    if rc is None:
        return "FAIL", f"nncc-run {text}"
    if rc != 0:
        return "FAIL", f"nncc-run exited with status {rc}: {last_lines(text)}"

    ok, parts = True, []
    for o in meta["outputs"]:
        got_path = os.path.join(out, f"{o}.npy")
        if not os.path.isfile(got_path):
            return "FAIL", f"nncc-run wrote no {got_path}"
        got = np.load(got_path, allow_pickle=False)
        ref = np.load(os.path.join(d, f"ref_{o}.npy"), allow_pickle=False)
        amax, e32 = meta["ref_absmax"][o], meta["torch32_err"][o]
        good, err, lines = compare.check(got, ref, max(atol, 4 * e32), rtol, f"{name}:{o}")
        log("\n".join(lines))
        ok &= good
        if err is None:
            parts.append(f"{o}: {lines[-1]}")
        else:
            parts.append(f"{o} {err:.2g} (PyTorch f32 {e32:.2g}, |ref| <= {amax:.3g})"
                         + ("" if good else f" [{lines[-1].replace('compare: ', '')}]"))
    detail = "max abs error " + ", ".join(parts) + f"; compile {tcomp:.1f} s, run {trun:.2f} s"
    return ("PASS" if ok else "FAIL"), detail


def check_lists(small, waiting):
    def split(s):
        return [n for n in s.replace(",", ";").split(";") if n]
    small, waiting = split(small), split(waiting)
    zoo_small = set(zoo().names("small"))
    problems = []
    both = set(small) & set(waiting)
    if both:
        problems.append(f"in both lists: {sorted(both)}")
    unknown = (set(small) | set(waiting)) - zoo_small
    if unknown:
        problems.append(f"not small zoo models: {sorted(unknown)}")
    missing = zoo_small - set(small) - set(waiting)
    if missing:
        problems.append(f"small zoo models in neither list: {sorted(missing)}")
    for p in problems:
        print(f"zoo: FAIL {p}")
    if not problems:
        print(f"zoo: OK {len(small)} small models in make test, {len(waiting)} waiting for ops")
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description="run nncc's model zoo against PyTorch")
    ap.add_argument("build", nargs="?")
    ap.add_argument("models", nargs="*", help="zoo models (default: all of --size)")
    ap.add_argument("--size", choices=["small", "large", "all"], default="all")
    ap.add_argument("-O", dest="opt", default="2", choices=list("0123"),
                    help="optimization level (default 2)")
    ap.add_argument("--atol", type=float, default=1e-4)
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("-v", "--verbose", action="store_true", help="print commands and outputs")
    ap.add_argument("--check-lists", nargs=2, metavar=("SMALL", "WAITING"))
    args = ap.parse_args()
    if args.check_lists:
        return check_lists(*args.check_lists)
    if not args.build:
        ap.error("BUILD_DIR is required")
    outdir = os.path.join(args.build, "zoo")
    todo = args.models
    if not todo or not all(zoo_files.up_to_date(outdir, n) for n in todo):
        todo = todo or zoo().names(args.size)
        unknown = [n for n in todo if n not in zoo().ZOO]
        if unknown:
            ap.error(f"unknown model(s) {unknown}; known: {', '.join(zoo().ZOO)}")
    for tool in ("nncc", "nncc-run"):
        if not os.access(os.path.join(args.build, tool), os.X_OK):
            print(f"zoo: {args.build}/{tool} not found (build it first)")
            return 2

    log = print if args.verbose or len(todo) == 1 else (lambda *a: None)
    counts = {"PASS": 0, "FAIL": 0, "UNSUPPORTED": 0}
    for name in todo:
        verdict, detail = run_model(args.build, name, f"-O{args.opt}", args.atol, args.rtol, log)
        counts[verdict] += 1
        print(f"{verdict:<12} {name:<13} {detail}", flush=True)
    failed = counts["FAIL"] + counts["UNSUPPORTED"]
    print(f"zoo: {counts['PASS']} passed, {failed} failed ({counts['UNSUPPORTED']} unsupported)"
          f" at atol={args.atol:g} rtol={args.rtol:g}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
