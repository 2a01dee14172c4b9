"""Export zoo models with `nncc --emit=onnx` and check the exported files.

    export_onnx.py BUILD_DIR NAME... [-O N] [--ort] [--size small|large|all]

For each zoo model (tests/zoo/zoo_models.py; exported into BUILD_DIR/zoo
when missing or stale):
  1. `nncc model.onnx -O N --emit=onnx -o exported.onnx`;
  2. python3-onnx's `onnx.checker.check_model(full_check=True)` on it;
  3. both files compiled by nncc at -O N and run by nncc-run on the zoo's
     inputs: the exported model's outputs must equal the original's, bit for
     bit when nncc's IR after the passes is the same text for both
     (`--emit=ir`), else within |d| <= 1e-5 + 1e-5*|ref|;
  4. with --ort: the exported model run in ONNX Runtime
     (bench/node_modules/onnxruntime-node through bench/ort_bench.js),
     compared with nncc-run's outputs of the original at the zoo's tolerance
     |d| <= 1e-4 + 1e-3*|ref|; the line quotes each output's max error.
Each model ends with `PASS NAME ...` or `FAIL NAME why`, the run with
`export: N passed, M failed`. Exit 0 when all passed, 1 otherwise, 2 on
usage errors, 77 (ctest's skip code) with --ort when ONNX Runtime or node is
not installed (the reason is printed).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "zoo"))
import compare  # noqa: E402
import zoo_files  # noqa: E402

ORT_JS = os.path.join(ROOT, "bench", "ort_bench.js")
ORT_PKG = os.path.join(ROOT, "bench", "node_modules", "onnxruntime-node", "package.json")
SKIP = 77


class Fail(Exception):
    pass


def run(cmd, what):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=1800)
    if p.returncode != 0:
        lines = [ln for ln in p.stdout.strip().splitlines() if ln.strip()]
        raise Fail(f"{what} exited with status {p.returncode}: {' | '.join(lines[-4:])}")
    return p.stdout


def ort_missing():
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.isfile(ORT_PKG):
        return ("onnxruntime-node is not installed in bench/node_modules "
                "(bench/run.sh installs it with npm)")
    return None


def nncc_outputs(build, model, opt, inputs, outnames, work, tag):
    so = os.path.join(work, f"{tag}.so")
    out = os.path.join(work, f"out_{tag}")
    os.makedirs(out, exist_ok=True)
    run([os.path.join(build, "nncc"), model, opt, "-o", so], f"nncc {tag}")
    cmd = [os.path.join(build, "nncc-run"), so, "-o", out]
    for name, path in inputs:
        cmd += ["-i", f"{name}={path}"]
    run(cmd, f"nncc-run {tag}")
    return [np.load(os.path.join(out, f"{o}.npy"), allow_pickle=False) for o in outnames]


def ir_text(build, model, opt, what):
    """nncc's IR after the passes, without what differs between an ONNX file
    and its export but does not change the computation: the graph name, node
    names (made unique by the export) and matmul's default trans flags."""
    text = run([os.path.join(build, "nncc"), model, opt, "--emit=ir"], what)
    text = re.sub(r' @"(?:[^"\\]|\\.)*"', "", text.split("\n", 1)[1])
    return re.sub(r" \{trans_b = 0\}| \{trans_a = 0\}", "", text)


def check_model(path):
    import onnx
    onnx.checker.check_model(onnx.load(path), full_check=True)


def one(build, name, opt, ort):
    outdir = os.path.join(build, "zoo")
    if not zoo_files.up_to_date(outdir, name):
        import zoo_models
        errors = zoo_models.ensure(outdir, [name], log=lambda *a: None)
        if name in errors:
            raise Fail(f"zoo export: {errors[name]}")
    d = zoo_files.model_dir(outdir, name)
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    work = os.path.join(d, f"export{opt}" + ("-ort" if ort else ""))  # tests run in parallel
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    src = os.path.join(d, "model.onnx")
    exp = os.path.join(work, "exported.onnx")
    nncc = os.path.join(build, "nncc")
    run([nncc, src, opt, "--emit=onnx", "-o", exp], "nncc --emit=onnx")
    try:
        check_model(exp)
    except Exception as e:  # noqa: BLE001 - any checker failure fails the model
        raise Fail(f"onnx.checker: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    inputs = [(i, os.path.join(d, f"{i}.npy")) for i in meta["inputs"]]
    outs = meta["outputs"]
    orig = nncc_outputs(build, src, opt, inputs, outs, work, "orig")
    got = nncc_outputs(build, exp, opt, inputs, outs, work, "exported")
    same_ir = (ir_text(build, src, opt, "nncc --emit=ir")
               == ir_text(build, exp, opt, "nncc --emit=ir (exported)"))
    parts = []
    for o, a, b in zip(outs, got, orig):
        if same_ir:
            if a.shape != b.shape or a.dtype != b.dtype or a.tobytes() != b.tobytes():
                raise Fail(f"{o}: same IR but outputs differ in bits")
            parts.append(f"{o} bitwise")
        else:
            ok, err, lines = compare.check(a, b, 1e-5, 1e-5, f"{name}:{o}")
            if not ok:
                raise Fail(f"{o}: exported differs from original: {lines[-1]}")
            parts.append(f"{o} {err:.2g}")
    detail = "nncc round trip " + ", ".join(parts) + (" (same IR)" if same_ir else "")
    if ort:
        dump = os.path.join(work, "out_ort")
        cmd = ["node", ORT_JS, exp] + [f"{i}={p}" for i, p in inputs]
        run(cmd + ["--runs", "1", "--warmup", "0", "--dump", dump], "onnxruntime")
        errs = []
        for o, b in zip(outs, orig):
            a = np.load(os.path.join(dump, f"{o}.npy"), allow_pickle=False)
            ok, err, lines = compare.check(a, b, 1e-4, 1e-3, f"{name}:{o}")
            if not ok:
                raise Fail(f"{o}: ONNX Runtime differs from nncc: {lines[-1]}")
            errs.append(f"{o} {err:.2g}")
        detail += "; ONNX Runtime vs nncc max abs error " + ", ".join(errs)
    return detail


def main():
    ap = argparse.ArgumentParser(description="check nncc --emit=onnx on the model zoo")
    ap.add_argument("build")
    ap.add_argument("models", nargs="*")
    ap.add_argument("-O", dest="opt", default="2", choices=list("0123"))
    ap.add_argument("--ort", action="store_true", help="also run the exports in ONNX Runtime")
    ap.add_argument("--size", choices=["small", "large", "all"], default="small",
                    help="models when none are named (default small)")
    args = ap.parse_args()
    if args.ort:
        why = ort_missing()
        if why:
            print(f"export: SKIPPED, ONNX Runtime check not run: {why}")
            return SKIP
    todo = args.models
    if not todo:
        import zoo_models
        todo = zoo_models.names(args.size)
    npass = nfail = 0
    for name in todo:
        try:
            detail = one(args.build, name, f"-O{args.opt}", args.ort)
            print(f"PASS {name:<13} {detail}", flush=True)
            npass += 1
        except (Fail, subprocess.TimeoutExpired, OSError) as e:
            print(f"FAIL {name:<13} {e}", flush=True)
            nfail += 1
    print(f"export: {npass} passed, {nfail} failed")
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
