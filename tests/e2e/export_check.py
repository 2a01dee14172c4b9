"""`nncc --emit=onnx` on model files: export_check.py BUILD_DIR [--ort] [--strict] [MODEL...]

Each MODEL (.ir, .onnx, .nn; default: every text-IR golden of tests/ir)
that nncc loads as a model is exported at -O0, checked with `onnx.checker.check_model(full_check=True)`,
and read back by nncc. Then either nncc's IR of both (-O0, --emit=ir) is
the same up to names nncc makes unique and the `param` mark every ONNX
initializer carries, or both are compiled and run on the same inputs
(integers in [0, 3), floats from a fixed generator; symbolic dims bound to
2) and must agree within 1e-6 + 1e-6*|ref|. With --ort the export also
runs in ONNX Runtime (tests/e2e/ort_run.js, onnxruntime-node from
bench/node_modules) on those inputs and must match nncc's outputs of the
model within 1e-4 + 1e-3*|ref| (the zoo's tolerance); without node or
onnxruntime-node the script prints why and exits 77. Verdicts, one line
each:

    PASS    FILE  same IR | outputs agree (max abs error E) [; ORT E]
    N/A     FILE  not a model nncc loads (the golden tests an error), or its
                  export is refused for a documented reason: an op or dtype
                  with no ONNX form at opset 17, elided data, training
    FAIL    FILE  why

then `export-check: P passed, F failed, N not applicable`. With --strict
(models that must export, such as examples/models/*.nn) N/A counts as
FAIL. Exit 1 on any FAIL.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)
import compare  # noqa: E402

# What nncc says when it refuses an export for a documented reason.
REFUSED = ("no ONNX operator", "has no data", "cannot hold", "needs opset", "from opset",
           "no such ONNX type")
INPUT = re.compile(r"^\s*input %(\S+): (\w+)\[([^\]]*)\]")
DTYPES = {"f32": np.float32, "f64": np.float64, "i64": np.int64, "i32": np.int32,
          "u8": np.uint8, "i8": np.int8, "bool": np.bool_, "f16": np.float16}


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


def normalize(ir):
    ir = ir.split("\n", 1)[1]                      # the graph's name
    ir = re.sub(r' @"(?:[^"\\]|\\.)*"', "", ir)    # node names
    return re.sub(r"^(\s*)param ", r"\1const ", ir, flags=re.M)


def inputs_of(ir, work):
    """(name, file) of each graph input, written as .npy; None if a dtype is
    not generated here."""
    out, rng = [], np.random.default_rng(7)
    for ln in ir.splitlines():
        m = INPUT.match(ln)
        if not m:
            continue
        name, dt, dims = m.groups()
        if dt not in DTYPES:
            return None
        shape = [int(d) if d.strip().isdigit() else 2 for d in dims.split(",") if d.strip()]
        if dt in ("f32", "f64", "f16"):
            x = rng.standard_normal(shape).astype(DTYPES[dt])
        else:
            x = rng.integers(0, 3, size=shape).astype(DTYPES[dt])
        f = os.path.join(work, f"in_{len(out)}.npy")
        np.save(f, x)
        out.append((name, f, shape))
    return out


def sanitize(name):
    """nncc-run's file name for an output (tools/nncc_run.c)."""
    s = "".join(c if c.isalnum() and c.isascii() or c in "_.-" else "_" for c in name)
    return "output" if s in ("", ".", "..") else s


def outputs(build, model, ins, names, work, tag):
    """nncc's outputs of model, in graph output order, or (None, why)."""
    so = os.path.join(work, f"{tag}.so")
    cmd = [os.path.join(build, "nncc"), model, "-O0", "-o", so]
    for name, _, shape in ins:
        cmd += ["--shape", f"{name}={','.join(map(str, shape))}"]
    rc, _, err = run(cmd)
    if rc != 0:
        return None, f"nncc {tag}: {err.strip().splitlines()[-1:]}"
    out = os.path.join(work, f"out_{tag}")
    cmd = [os.path.join(build, "nncc-run"), so, "-o", out]
    for name, f, _ in ins:
        cmd += ["-i", f"{name}={f}"]
    rc, _, err = run(cmd)
    if rc != 0:
        return None, f"nncc-run {tag}: {err.strip().splitlines()[-1:]}"
    files = [sanitize(n) for n in names]
    if len(set(files)) != len(files):
        return None, "two outputs share a file name"
    return [np.load(os.path.join(out, f + ".npy")) for f in files], None


def output_names(ir):
    return [m.group(1) for m in re.finditer(r"^\s*output %(\S+)", ir, flags=re.M)]


def one(build, path, work, ort_jobs):
    nncc = os.path.join(build, "nncc")
    rc, ir, _ = run([nncc, path, "-O0", "--emit=ir"])
    if rc != 0:
        return "N/A", "not a model nncc loads"
    exp = os.path.join(work, "exported.onnx")
    rc, _, err = run([nncc, path, "-O0", "--emit=onnx", "-o", exp])
    if rc != 0:
        first = err.strip().splitlines()[0] if err.strip() else f"status {rc}"
        if rc == 1 and any(r in err for r in REFUSED):
            return "N/A", f"refused: {first}"
        return "FAIL", f"export: {first}"
    import onnx
    try:
        onnx.checker.check_model(onnx.load(exp), full_check=True)
    except Exception as e:  # noqa: BLE001
        return "FAIL", f"onnx.checker: {(str(e).strip().splitlines() or ['?'])[-1]}"
    rc, back, err = run([nncc, exp, "-O0", "--emit=ir"])
    if rc != 0:
        return "FAIL", f"nncc cannot read the export: {err.strip()}"
    same = normalize(back) == normalize(ir)
    if same and ort_jobs is None:
        return "PASS", "same IR"
    ins = inputs_of(ir, work)
    if ins is None:
        return "FAIL", "an input dtype is not generated here"
    names = output_names(ir)
    a, why = outputs(build, path, ins, names, work, "orig")
    if why and same:  # the export is right; nncc just cannot run the model as given
        return "PASS", f"same IR; not run: {why}"
    if why:
        return "FAIL", f"IR differs and the model does not run: {why}"
    detail = "same IR"
    if not same:
        b, why = outputs(build, exp, ins, names, work, "exported")
        if why:
            return "FAIL", f"IR differs and the export does not run: {why}"
        worst = 0.0
        for n, x, y in zip(names, b, a):
            ok, err, lines = compare.check(x, y, 1e-6, 1e-6, n)
            if not ok:
                return "FAIL", f"{n}: {lines[-1]}"
            worst = max(worst, err or 0.0)
        detail = f"outputs agree (max abs error {worst:.2g})"
    if ort_jobs is not None:
        jin = []
        for name, f, shape in ins:
            x = np.load(f)
            raw = f[:-4] + ".bin"
            x.tofile(raw)
            jin.append({"name": name, "type": "bool" if x.dtype == np.bool_ else str(x.dtype),
                        "dims": shape, "file": raw})
        ort_jobs.append({"model": exp, "inputs": jin, "outdir": os.path.join(work, "ort"),
                         "want": a, "names": names})
    return "PASS", detail


def ort_compare(job):
    """(ok, detail) of ONNX Runtime's outputs against nncc's."""
    import json
    d = job["outdir"]
    if os.path.exists(os.path.join(d, "error.txt")):
        with open(os.path.join(d, "error.txt")) as f:
            return False, "ONNX Runtime: " + f.read().strip().splitlines()[0][:300]
    worst = 0.0
    for k, (n, want) in enumerate(zip(job["names"], job["want"])):
        with open(os.path.join(d, f"out_{k}.json")) as f:
            meta = json.load(f)
        dt = np.bool_ if meta["type"] == "bool" else np.dtype(meta["type"])
        got = np.fromfile(os.path.join(d, f"out_{k}.bin"), dtype=dt).reshape(meta["dims"])
        ok, err, lines = compare.check(got, want, 1e-4, 1e-3, n)
        if not ok:
            return False, f"ONNX Runtime differs: {n}: {lines[-1]}"
        worst = max(worst, err or 0.0)
    return True, f"ONNX Runtime max abs error {worst:.2g}"


def main():
    args = [a for a in sys.argv[1:] if a not in ("--ort", "--strict")]
    ort = "--ort" in sys.argv[1:]
    strict = "--strict" in sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    build = args[0]
    if ort and (not shutil.which("node") or not os.path.isdir(
            os.path.join(ROOT, "bench", "node_modules", "onnxruntime-node"))):
        print("export-check: SKIPPED, ONNX Runtime check not run: node or "
              "bench/node_modules/onnxruntime-node is missing (bench/run.sh installs it)")
        return 77
    files = args[1:] or sorted(glob.glob(os.path.join(ROOT, "tests", "ir", "**", "*.ir"),
                                         recursive=True))
    base = os.path.join(build, "export-check" + ("-strict" if strict else "")
                        + ("-ort" if ort else ""))  # ctests run in parallel
    shutil.rmtree(base, ignore_errors=True)
    jobs = [] if ort else None
    verdicts = []
    for i, f in enumerate(files):
        work = os.path.join(base, str(i))
        os.makedirs(work, exist_ok=True)
        n = len(jobs) if ort else 0
        try:
            v, why = one(build, f, work, jobs)
        except subprocess.TimeoutExpired:
            v, why = "FAIL", "timed out"
        verdicts.append([v, f, why, jobs[n] if ort and len(jobs) > n else None])
    if ort and jobs:
        import json
        with open(os.path.join(base, "jobs.json"), "w") as fp:
            json.dump([{k: j[k] for k in ("model", "inputs", "outdir")} for j in jobs], fp)
        p = subprocess.run(["node", os.path.join(HERE, "ort_run.js"),
                            os.path.join(base, "jobs.json")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            print(f"export-check: ort_run.js exited with status {p.returncode}: {p.stdout[-300:]}")
            return 1
        for v in verdicts:
            if v[3] is not None:
                ok, why = ort_compare(v[3])
                v[2] += "; " + why
                if not ok:
                    v[0] = "FAIL"
    counts = {"PASS": 0, "FAIL": 0, "N/A": 0}
    for v, f, why, _ in verdicts:
        if strict and v == "N/A":
            v = "FAIL"
        counts[v] += 1
        print(f"{v:<7} {os.path.relpath(f, ROOT)}  {why}", flush=True)
    print(f"export-check: {counts['PASS']} passed, {counts['FAIL']} failed, "
          f"{counts['N/A']} not applicable")
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
