"""The exporter against the ONNX node suite: every test nncc passes is
exported with `nncc --emit=onnx` and must pass again from the export.

    export_suite.py --nncc BUILD/nncc SUITE_DIR WORK_DIR [-j N] [-O N] [--ort]

1. `nncc test-onnx SUITE_DIR` lists the passing tests (with the inputs it
   bound with --const);
2. each one's model.onnx is exported at -O N (default 0) with the same
   --const bindings into WORK_DIR/TEST/model.onnx, beside a copy of its
   test_data_set_0 without the bound inputs; the export must pass
   `onnx.checker.check_model(full_check=True)`;
3. `nncc test-onnx WORK_DIR` must pass every exported test;
4. with --ort, tests/e2e/ort_suite.js runs every export in ONNX Runtime
   against the suite's expected outputs (rtol 1e-3, atol 1e-7, as
   test-onnx). ORT rejecting a model or differing is a failure; a
   bfloat16 tensor, which onnxruntime-node cannot hand to JavaScript
   ("Unsupported data type: 16"), is counted apart.
Prints one line per failure, then the counts. Exit 0 when every exported
test passed, 1 otherwise, 2 on usage errors.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
LINE = re.compile(r"^(PASS|FAIL|UNSUPPORTED|ERROR)\s+(\S+)(?:\s+\[--const ([^\]]*)\])?")


def test_onnx(nncc, dirs, jobs, opt):
    p = subprocess.run([nncc, "test-onnx", f"-j{jobs}", f"-O{opt}"] + dirs,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    res = {}
    for ln in p.stdout.splitlines():
        m = LINE.match(ln)
        if m:
            res[m.group(2)] = (m.group(1), m.group(3).split(",") if m.group(3) else [], ln)
    return res


def graph_inputs(model):
    import onnx
    m = onnx.load(model, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    return [i.name for i in m.graph.input if i.name not in inits]


def export_one(nncc, src, dst, bound, opt):
    """Exports src/model.onnx into dst; returns None or why it failed."""
    names = graph_inputs(os.path.join(src, "model.onnx"))
    data = os.path.join(src, "test_data_set_0")
    cmd = [nncc, os.path.join(src, "model.onnx"), f"-O{opt}", "--emit=onnx",
           "-o", os.path.join(dst, "model.onnx")]
    for b in bound:
        cmd += ["--const", f"{b}={os.path.join(data, f'input_{names.index(b)}.pb')}"]
    os.makedirs(os.path.join(dst, "test_data_set_0"))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        return "export: " + " | ".join(p.stdout.strip().splitlines()[:3])
    k = 0
    for i, n in enumerate(names):
        f = os.path.join(data, f"input_{i}.pb")
        if n not in bound and os.path.exists(f):
            shutil.copy(f, os.path.join(dst, "test_data_set_0", f"input_{k}.pb"))
            k += 1
    for f in os.listdir(data):
        if f.startswith("output_"):
            shutil.copy(os.path.join(data, f), os.path.join(dst, "test_data_set_0", f))
    import onnx
    try:
        onnx.checker.check_model(onnx.load(os.path.join(dst, "model.onnx")), full_check=True)
    except Exception as e:  # noqa: BLE001 - every checker complaint fails the test
        return "onnx.checker: " + (str(e).strip().splitlines() or [type(e).__name__])[-1]
    return None


ORT_TYPES = {"float32": "float32", "float64": "float64", "int8": "int8", "uint8": "uint8",
             "int16": "int16", "uint16": "uint16", "int32": "int32", "uint32": "uint32",
             "int64": "int64", "uint64": "uint64", "bool": "bool", "float16": "float16"}


def close(got, want):
    """test-onnx's rule: exact dtype and shape, |got - want| <= 1e-7 + 1e-3*|want|,
    NaN matching NaN; None if equal enough, else why."""
    import numpy as np
    if got.dtype != want.dtype or got.shape != want.shape:
        return f"{got.dtype}{list(got.shape)} != expected {want.dtype}{list(want.shape)}"
    if want.dtype.kind in "fc":
        g, w = got.astype(np.float64), want.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            ok = (g == w) | (np.isnan(g) & np.isnan(w)) | (np.abs(g - w) <= 1e-7 + 1e-3 * np.abs(w))
    else:
        ok = got == want
    if ok.all():
        return None
    i = int(np.argmin(ok.reshape(-1)))
    return f"element {i}: {got.reshape(-1)[i]!r} != expected {want.reshape(-1)[i]!r}"


def ort_check(work, tests, fails):
    """Runs each export in ONNX Runtime (tests/e2e/ort_run.js) against the
    suite's outputs; appends failures, returns the summary line."""
    import json
    import numpy as np
    import onnx
    from onnx import numpy_helper
    if not shutil.which("node") or not os.path.isdir(
            os.path.join(ROOT, "bench", "node_modules", "onnxruntime-node")):
        return "ort: not run: node or bench/node_modules/onnxruntime-node is missing"
    jobs, notype = [], []
    for t in tests:
        d = os.path.join(work, t)
        names = graph_inputs(os.path.join(d, "model.onnx"))
        inputs, ok = [], True
        for k, n in enumerate(names):
            arr = numpy_helper.to_array(onnx.load_tensor(
                os.path.join(d, "test_data_set_0", f"input_{k}.pb")))
            ty = ORT_TYPES.get(str(arr.dtype))
            if ty is None:
                ok = False
                break
            f = os.path.join(d, "ort", f"in_{k}.bin")
            os.makedirs(os.path.dirname(f), exist_ok=True)
            np.ascontiguousarray(arr).tofile(f)
            inputs.append({"name": n, "type": ty, "dims": list(arr.shape), "file": f})
        if ok:
            jobs.append({"model": os.path.join(d, "model.onnx"), "inputs": inputs,
                         "outdir": os.path.join(d, "ort"), "test": t})
        else:
            notype.append(t)
    with open(os.path.join(work, "ort_jobs.json"), "w") as f:
        json.dump(jobs, f)
    p = subprocess.run(["node", os.path.join(ROOT, "tests", "e2e", "ort_run.js"),
                        os.path.join(work, "ort_jobs.json")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        fails.append(f"FAIL ort_run.js exited with status {p.returncode}: {p.stdout[-300:]}")
        return "ort: failed to run"
    npass = 0
    for job in jobs:
        t, d = job["test"], job["outdir"]
        err = os.path.join(d, "error.txt")
        if os.path.exists(err):
            with open(err) as f:
                msg = f.read().strip().splitlines()[0][:300]
            if "Unsupported data type: 16" in msg:  # bfloat16 crossing into JavaScript
                notype.append(t)
            else:
                fails.append(f"FAIL {t}: ONNX Runtime: {msg}")
            continue
        why, k = None, 0
        while os.path.exists(os.path.join(os.path.dirname(d), "test_data_set_0", f"output_{k}.pb")):
            want = numpy_helper.to_array(onnx.load_tensor(
                os.path.join(os.path.dirname(d), "test_data_set_0", f"output_{k}.pb")))
            with open(os.path.join(d, f"out_{k}.json")) as f:
                meta = json.load(f)
            dt = np.bool_ if meta["type"] == "bool" else np.dtype(meta["type"])
            got = np.fromfile(os.path.join(d, f"out_{k}.bin"), dtype=dt).reshape(meta["dims"])
            why = close(got, want)
            if why:
                why = f"output {k} ({meta['name']}): {why}"
                break
            k += 1
        if why:
            fails.append(f"FAIL {t}: ONNX Runtime differs: {why}")
        else:
            npass += 1
    return (f"ort: {npass} of {len(jobs)} exports match the suite's outputs in ONNX Runtime"
            f"; {len(notype)} not run: a bfloat16 input or output, which onnxruntime-node "
            "cannot hand to JavaScript")


def main():
    ap = argparse.ArgumentParser(description="nncc --emit=onnx over the ONNX node suite")
    ap.add_argument("--nncc", required=True)
    ap.add_argument("suite")
    ap.add_argument("work")
    ap.add_argument("-j", dest="jobs", type=int, default=2)
    ap.add_argument("-O", dest="opt", default="0", choices=list("0123"))
    ap.add_argument("--ort", action="store_true")
    args = ap.parse_args()
    before = test_onnx(args.nncc, [args.suite], args.jobs, "2")
    passed = sorted(t for t, (v, _, _) in before.items() if v == "PASS")
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    fails, exported = [], []
    for t in passed:
        src = t if os.path.isdir(t) else os.path.join(args.suite, t)
        why = export_one(args.nncc, src, os.path.join(args.work, t), before[t][1], args.opt)
        if why:
            fails.append(f"FAIL {t}: {why}")
            shutil.rmtree(os.path.join(args.work, t), ignore_errors=True)
        else:
            exported.append(t)
    after = test_onnx(args.nncc, [args.work], args.jobs, "2")
    again = 0
    for t in exported:
        v = after.get(t, ("MISSING", [], f"{t}: no verdict"))
        if v[0] == "PASS":
            again += 1
        else:
            fails.append(f"FAIL {t}: from the export: {v[2]}")
    ort_line = ""
    if args.ort:
        ort_line = ort_check(args.work, exported, fails)
    for f in fails:
        print(f)
    print(f"export-suite: {len(passed)} tests pass in nncc; {len(exported)} exported and "
          f"checked; {again} pass again from the export; {len(fails)} failures")
    if ort_line:
        print(ort_line)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
