#!/usr/bin/env python3
"""gen_node_tests.py OUTDIR — writes the ONNX backend node tests of Debian's
python3-onnx (onnx/backend/test/case/node/*.py, and the small "simple"
model cases of case/model/*.py such as Gradient's) as test folders
OUTDIR/test_NAME/{model.onnx,test_data_set_0/{input,output}_K.pb}, the layout
`nncc test-onnx` reads (and onnx's own `backend-test-tools generate-data`
writes). Debian's onnx is 1.12 while its numpy (1.24) dropped the old scalar
aliases (np.bool, np.object, ...) that some generators still use: they are
restored here before the generators are imported, without touching Debian's
files. Cases whose data contradicts their own model (onnx 1.12's castlike
bfloat16 cases give `like` a [1] shape for a declared [3,4]) are skipped and
listed on stderr and in OUTDIR/skipped.txt, as are the few cases whose
1.12 reference is wrong or outdated (SUPERSEDED below).
A stamp file OUTDIR/.complete (onnx and numpy versions, a hash of this
script) makes reruns a no-op; otherwise OUTDIR is rewritten from scratch."""
import hashlib
import os
import shutil
import sys
import warnings

import numpy as np

for alias, real in (("bool", bool), ("object", object), ("int", int), ("float", float),
                    ("complex", complex), ("str", str), ("long", int), ("unicode", str)):
    if alias not in np.__dict__:
        setattr(np, alias, real)

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402


# Cases whose onnx 1.12 reference is wrong or that the ONNX spec has since
# changed. Each is checked by the newer suite (../shared/onnx-tests, ONNX
# v1.22) instead.
SUPERSEDED = {
    "test_cast_FLOAT_to_BFLOAT16": "onnx 1.12 expects truncation to bfloat16; the spec now "
    "rounds to nearest even (the v1.22 suite's test_cast_FLOAT_to_BFLOAT16 checks that)",
    "test_adam_multiple": "onnx 1.12's reference uses epsilon=1e-2 but its node omits the "
    "attribute (default 1e-6); the v1.22 suite's test_adam_multiple sets it",
}


class BadCase(Exception):
    """The generator's data contradicts its own model."""


def proto_for(value, vi):
    """The .pb of one input or output, by the declared type of vi. numpy has
    no bfloat16, so onnx 1.12 hands bfloat16 data over as the uint16 bit
    patterns: those are tagged BFLOAT16 as the model declares them. Data
    whose dtype or shape contradicts a declared tensor type raises BadCase."""
    t = vi.type
    if t.HasField("sequence_type"):
        return numpy_helper.from_list(value, vi.name)
    if t.HasField("optional_type"):
        return numpy_helper.from_optional(value, vi.name)
    if t.HasField("map_type"):
        return numpy_helper.from_dict(value, vi.name)
    a = np.asarray(value)
    p = numpy_helper.from_array(a, vi.name)
    tt = t.tensor_type
    if not t.HasField("tensor_type") or not tt.elem_type:
        return p
    if tt.elem_type == onnx.TensorProto.BFLOAT16 and a.dtype == np.uint16:
        p.data_type = onnx.TensorProto.BFLOAT16
    if p.data_type != tt.elem_type:
        raise BadCase("%s: data type %s, the model declares %s" % (
            vi.name, onnx.TensorProto.DataType.Name(p.data_type),
            onnx.TensorProto.DataType.Name(tt.elem_type)))
    if tt.HasField("shape"):
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if len(dims) != a.ndim or any(d is not None and d != n for d, n in zip(dims, a.shape)):
            raise BadCase("%s: data shape %s, the model declares %s" % (
                vi.name, list(a.shape), ["?" if d is None else d for d in dims]))
    return p


def write_case(case, out):
    if case.name in SUPERSEDED:
        raise BadCase(SUPERSEDED[case.name])
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write_files(case, tmp)
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)


def write_files(case, tmp):
    os.makedirs(os.path.join(tmp, "test_data_set_0"))
    with open(os.path.join(tmp, "model.onnx"), "wb") as f:
        f.write(case.model.SerializeToString())
    inputs, outputs = case.data_sets[0]
    g = case.model.graph
    for kind, values, vis in (("input", inputs, g.input), ("output", outputs, g.output)):
        for j, v in enumerate(values):
            path = os.path.join(tmp, "test_data_set_0", "%s_%d.pb" % (kind, j))
            with open(path, "wb") as f:
                f.write(proto_for(v, vis[j]).SerializeToString())


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_node_tests.py OUTDIR")
    outdir = sys.argv[1]
    stamp = os.path.join(outdir, ".complete")
    with open(os.path.abspath(__file__), "rb") as f:
        me = hashlib.sha256(f.read()).hexdigest()[:16]
    version = "onnx %s numpy %s generator %s\n" % (onnx.__version__, np.__version__, me)
    if os.path.exists(stamp) and open(stamp).read() == version:
        return
    shutil.rmtree(outdir, ignore_errors=True)  # a build folder of ours: start clean
    warnings.simplefilter("ignore")
    import onnx.backend.test.case.node as node_test
    os.makedirs(outdir, exist_ok=True)
    try:
        cases = node_test.collect_testcases(None)
    except TypeError:
        cases = node_test.collect_testcases()
    # onnx's "simple" model cases (case/model: Gradient, Expand, Sequence,
    # ...) are small graphs in the same layout; the real-model ones need
    # downloads and are not generated.
    import onnx.backend.test.case.model as model_test
    cases += [c for c in model_test.collect_testcases() if c.kind == "simple"]
    bad = 0
    skipped = []
    for case in cases:
        try:
            write_case(case, os.path.join(outdir, case.name))
        except BadCase as e:  # onnx 1.12's data contradicts its model: not a test
            bad += 1
            skipped.append("%s: %s" % (case.name, e))
        except Exception as e:  # a case that cannot be written: say so, go on
            bad += 1
            skipped.append("%s: %s: %s" % (case.name, type(e).__name__, e))
    with open(os.path.join(outdir, "skipped.txt"), "w") as f:
        f.write("".join(line + "\n" for line in skipped))
    for line in skipped:
        print("gen_node_tests: skipped %s" % line, file=sys.stderr)
    with open(stamp, "w") as f:
        f.write(version)
    n = sum(1 for e in os.listdir(outdir) if os.path.exists(os.path.join(outdir, e, "model.onnx")))
    print("gen_node_tests: %d node tests in %s (%d cases skipped)" % (n, outdir, bad))


if __name__ == "__main__":
    main()
