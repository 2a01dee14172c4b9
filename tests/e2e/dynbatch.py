"""Dynamic batch (docs/dynamic-batch.md): one artifact compiled with
`--max N=64` against fixed-batch artifacts of the same model.

    dynbatch.py BUILD_DIR OUT_DIR [--zoo NAME,... | MODEL.onnx]

For the MLP and the LeNet CNN of examples/models (and ONNX models exported
at a fixed batch whose batch inputs get the symbolic batch N: MODEL.onnx,
or the zoo's NAMEs exported by tests/zoo/zoo_models.py into OUT_DIR),
compiles one
dynamic-batch .so and one fixed .so per batch 1, 7 and 64, then checks:
  - nncc-run of the dynamic artifact on an input file of B rows writes
    outputs of B rows equal to the fixed artifact's (rtol 1e-5), with the
    runtime's threads and with --threads 1;
  - one runtime session (ctypes over libnncc_rt.so) run at 64, 7, 1, 7 and
    64 rows in turn gives the fixed artifacts' outputs each time (rows a
    smaller run leaves alone must not leak into it), reports the run's batch
    in nncc_session_batch and nncc_session_output_info, and refuses 0 and 65
    rows and batch inputs that disagree;
  - models that mix the batch axis are refused with a message naming the
    node, and --max names a symbol the model must have.
Exit 0 when every check passes.
"""
import ctypes
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
MAX = 64
BATCHES = (1, 7, 64)
RTOL, ATOL = 1e-5, 1e-6
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def close(a, ref):
    return a.shape == ref.shape and np.allclose(a, ref, rtol=RTOL, atol=ATOL)


class Runtime:
    """The few runtime calls the session check needs."""

    def __init__(self, build):
        self.lib = ctypes.CDLL(os.path.join(build, "libnncc_rt.so"))
        L, P, I64 = self.lib, ctypes.c_void_p, ctypes.c_int64
        L.nncc_model_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(P), P]
        L.nncc_session_create.argtypes = [P, ctypes.POINTER(P), P]
        L.nncc_session_set_input.argtypes = [P, ctypes.c_int, P, ctypes.c_int,
                                             ctypes.POINTER(I64), ctypes.c_int, P]
        L.nncc_session_run.argtypes = [P, P]
        L.nncc_session_output.argtypes = [P, ctypes.c_int, ctypes.POINTER(P)]
        L.nncc_session_batch.argtypes = [P]
        L.nncc_session_batch.restype = I64
        L.nncc_model_max_batch.argtypes = [P]
        L.nncc_model_max_batch.restype = I64
        L.nncc_model_input_batched.argtypes = [P, ctypes.c_int]
        L.nncc_session_output_info.argtypes = [P, ctypes.c_int, ctypes.c_void_p]
        L.nncc_session_free.argtypes = [P]
        L.nncc_model_free.argtypes = [P]

    def load(self, path):
        m = ctypes.c_void_p()
        assert self.lib.nncc_model_load(path.encode(), ctypes.byref(m), None) == 0, path
        s = ctypes.c_void_p()
        assert self.lib.nncc_session_create(m, ctypes.byref(s), None) == 0
        return m, s

    def set_input(self, s, i, x):
        dims = (ctypes.c_int64 * x.ndim)(*x.shape)
        return self.lib.nncc_session_set_input(s, i, x.ctypes.data, x.ndim, dims, 1, None)


class Info(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int),
                ("dims", ctypes.POINTER(ctypes.c_int64)), ("nbytes", ctypes.c_int64)]


def session_checks(rt, so, xs, refs):
    """xs: the model's inputs in order, (name, array of MAX rows); refs[b]:
    the fixed artifact's outputs at batch b, in order."""
    m, s = rt.load(so)
    L = rt.lib
    check(L.nncc_model_max_batch(m) == MAX and all(L.nncc_model_input_batched(m, i) == 1
                                                   for i in range(len(xs))),
          f"{so}: the descriptor says batch max {MAX}, every input batched")
    for b in (64, 7, 1, 7, 64):
        if b != 64:  # the rows past b hold another input's data
            for i, (_, x) in enumerate(xs):
                rt.set_input(s, i, np.random.default_rng(b).standard_normal(x.shape).astype(np.float32) * 100)
            L.nncc_session_run(s, None)
        st = 0
        for i, (_, x) in enumerate(xs):
            st = st or rt.set_input(s, i, np.ascontiguousarray(x[:b]))
        st = st or L.nncc_session_run(s, None)
        ok = st == 0 and L.nncc_session_batch(s) == b
        for k, ref in enumerate(refs[b]):
            info, ptr = Info(), ctypes.c_void_p()
            if not ok or L.nncc_session_output_info(s, k, ctypes.byref(info)) or \
                    L.nncc_session_output(s, k, ctypes.byref(ptr)):
                ok = False
                break
            dims = tuple(info.dims[i] for i in range(info.rank))
            out = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)),
                                        shape=(info.nbytes // 4,)).reshape(dims).copy()
            ok = dims[0] == b and close(out, ref)
        check(ok, f"{so}: one session, batch {b} after another run: {len(refs[b])} outputs match fixed batch {b}")
    x = xs[0][1]
    for bad in (0, MAX + 1):
        shape = (bad,) + x.shape[1:]
        y = np.zeros(shape, np.float32) if bad else np.zeros((1,) + x.shape[1:], np.float32)
        dims = (ctypes.c_int64 * y.ndim)(*shape)
        st = L.nncc_session_set_input(s, 0, y.ctypes.data, y.ndim, dims, 1, None)
        check(st == 1, f"{so}: set_input with {bad} rows is an invalid argument (status {st})")
    L.nncc_session_free(s)
    L.nncc_model_free(m)


def compile_ok(cmd, what):
    r = run(cmd)
    check(r.returncode == 0, what + (f": {r.stderr.strip()}" if r.returncode else ""))
    return r.returncode == 0


def model_checks(build, out, name, src, xs, rt):
    """xs: the inputs in model order, (name, f32 array of MAX rows)."""
    nncc, nrun = os.path.join(build, "nncc"), os.path.join(build, "nncc-run")
    dyn = os.path.join(out, f"{name}_dyn.so")
    if not compile_ok([nncc, src, "--max", "N=%d" % MAX, "-o", dyn], f"{name}: --max N={MAX} compiles"):
        return
    # the kernels take the batch at run time: every library call and some loops say so
    r = run([nncc, src, "--max", "N=%d" % MAX, "--emit=kernels"])
    ks = [ln for ln in r.stdout.splitlines() if ln.startswith("k")]
    calls = [ln for ln in ks if ": matmul " in ln or ": conv" in ln]
    check(r.returncode == 0 and any("(batch*" in ln for ln in ks) and
          all("the run's batch" in ln or "(m: batch" in ln for ln in calls),
          f"{name}: --emit=kernels shows run-time batch bounds ({len(calls)} calls, {len(ks)} kernels)")
    refs = {}
    for b in BATCHES:
        fx = os.path.join(out, f"{name}_{b}.so")
        shapes = []
        for n, x in xs:
            shapes += ["--shape", "%s=%s" % (n, ",".join(str(v) for v in (b,) + x.shape[1:]))]
        if not compile_ok([nncc, src] + shapes + ["-o", fx], f"{name}: batch {b} compiles"):
            return
        args = []
        for n, x in xs:
            xin = os.path.join(out, f"{name}_{n}{b}.npy")
            np.save(xin, np.ascontiguousarray(x[:b]))
            args += ["-i", f"{n}={xin}"]
        outs = {}
        for tag, so, extra in (("fixed", fx, []), ("dyn", dyn, []), ("dyn1", dyn, ["--threads", "1"])):
            d = os.path.join(out, f"{name}_{tag}_{b}")
            os.makedirs(d, exist_ok=True)
            r = run([nrun, so, "-o", d] + args + extra)
            if r.returncode != 0:
                check(False, f"{name}: nncc-run {tag} at batch {b}: {r.stderr.strip()}")
                return
            outs[tag] = {f: np.load(os.path.join(d, f)) for f in sorted(os.listdir(d))}
        refs[b] = [np.load(os.path.join(out, f"{name}_fixed_{b}", f + ".npy")) for f in output_names(fx, rt)]
        for tag in ("dyn", "dyn1"):
            same = outs[tag].keys() == outs["fixed"].keys() and all(
                close(outs[tag][f], outs["fixed"][f]) and outs[tag][f].shape[0] == b for f in outs["fixed"])
            check(same, f"{name}: {tag} artifact at batch {b} equals the fixed artifact "
                        f"({', '.join(str(v.shape) for v in outs['fixed'].values())})")
    session_checks(rt, dyn, xs, refs)


def output_names(so, rt):
    """The output names of a compiled model, in order (as nncc-run names its files)."""
    m, s = rt.load(so)
    L, names = rt.lib, []
    L.nncc_model_num_outputs.argtypes = [ctypes.c_void_p]
    L.nncc_model_output_info.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    for k in range(L.nncc_model_num_outputs(m)):
        info = Info()
        L.nncc_model_output_info(m, k, ctypes.byref(info))
        names.append("".join(c if c.isalnum() or c in "_.-" else "_" for c in info.name.decode()))
    L.nncc_session_free(s)
    L.nncc_model_free(m)
    return names


REFUSED = [  # (model body, words the message must hold)
    ("y = softmax(x, axis=0)", "node"),
    ("y = reduce_sum(x, axes=[0], keepdims=1)", "batch axis"),
    ("y = transpose(x, perm=[1, 0])", "batch"),
    ("y = reshape(x, shape=[-1])", "batch"),
    ("y = x / cast(shape(x, start=0, end=1), to=f32)", "batch size"),
]


def refusal_checks(build, out):
    nncc = os.path.join(build, "nncc")
    for i, (body, word) in enumerate(REFUSED):
        src = os.path.join(out, f"mix{i}.nn")
        with open(src, "w") as f:
            f.write(f"model mix{i}\ninput x: f32[N, 4]\n{body}\noutput y\n")
        r = run([nncc, src, "--max", "N=8", "-o", os.path.join(out, f"mix{i}.so")])
        msg = r.stderr.strip()
        check(r.returncode == 1 and "dynamic batch" in msg and word in msg,
              f"refused with a message: {body!r} -> {msg!r}")
    src = os.path.join(out, "mix0.nn")
    r = run([nncc, src, "--max", "M=8", "-o", os.path.join(out, "nosym.so")])
    check(r.returncode == 1 and "no symbolic dim named 'M'" in r.stderr,
          f"--max of a missing symbol: {r.stderr.strip()!r}")
    r = run([nncc, src, "--max", "N=1", "-o", os.path.join(out, "one.so")])
    check(r.returncode == 2, "--max N=1 is a usage error")


def two_inputs(build, out, rt):
    """Two batch inputs and a fixed one: each run takes the batch they agree on."""
    src = os.path.join(out, "two.nn")
    with open(src, "w") as f:
        f.write("model two\ninput a: f32[N, 3]\ninput b: f32[N, 3]\ninput w: f32[3]\n"
                "y = relu(a * w + b)\noutput y\n")
    so = os.path.join(out, "two.so")
    if not compile_ok([os.path.join(build, "nncc"), src, "--max", "N=5", "-o", so], "two inputs compile"):
        return
    m, s = rt.load(so)
    L = rt.lib
    check(L.nncc_model_input_batched(m, 1) == 1 and L.nncc_model_input_batched(m, 2) == 0,
          "two inputs: a and b batched, w not")
    rng = np.random.default_rng(2)
    a, b, w = (rng.standard_normal(sh).astype(np.float32) for sh in ((5, 3), (5, 3), (3,)))
    st = rt.set_input(s, 0, a[:2]) or rt.set_input(s, 1, b[:3]) or rt.set_input(s, 2, w)
    check(st == 0 and L.nncc_session_run(s, None) == 1, "two inputs of batch 2 and 3: run refused")
    st = rt.set_input(s, 1, np.ascontiguousarray(b[:2])) or L.nncc_session_run(s, None)
    ptr, info = ctypes.c_void_p(), Info()
    st = st or L.nncc_session_output_info(s, 0, ctypes.byref(info)) or L.nncc_session_output(s, 0, ctypes.byref(ptr))
    ok = st == 0 and info.dims[0] == 2 and info.nbytes == 24
    if ok:
        y = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(2, 3))
        ok = np.allclose(y, np.maximum(a[:2] * w + b[:2], 0), rtol=RTOL, atol=ATOL)
    check(ok, "two inputs of batch 2: output [2, 3] equals numpy's")
    L.nncc_session_free(s)
    L.nncc_model_free(m)


def onnx_model(build, out, onnx_path, name, rt):
    """An ONNX model exported at a fixed batch B: dim 0 of every input and
    output that starts with B becomes the symbol N (the model must not fix
    the batch elsewhere)."""
    import onnx
    m = onnx.load(onnx_path)
    b0 = m.graph.input[0].type.tensor_type.shape.dim[0].dim_value
    xs = []
    rng = np.random.default_rng(1)
    for v in list(m.graph.input) + list(m.graph.output):
        dims = v.type.tensor_type.shape.dim
        if len(dims) and dims[0].dim_value == b0:
            if v in m.graph.input:
                xs.append((v.name, rng.standard_normal([MAX] + [d.dim_value for d in dims[1:]])
                           .astype(np.float32)))
            dims[0].dim_param = "N"
    src = os.path.join(out, f"{name}_dyn.onnx")
    onnx.save(m, src)
    model_checks(build, out, name, src, xs, rt)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    build, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rt = Runtime(build)
    x = np.random.default_rng(0).standard_normal((MAX, 1, 28, 28)).astype(np.float32)
    for name in ("mlp", "lenet"):
        src = os.path.join(ROOT, "examples", "models", name + ".nn")
        model_checks(build, out, name, src, [("x", x)], rt)
    refusal_checks(build, out)
    two_inputs(build, out, rt)
    if len(sys.argv) > 4 and sys.argv[3] == "--zoo":
        zoo = os.path.join(out, "zoo")
        r = run([sys.executable, os.path.join(ROOT, "tests", "zoo", "zoo_models.py"), zoo,
                 "--models", sys.argv[4]])
        check(r.returncode == 0, f"zoo models {sys.argv[4]} exported: {r.stderr.strip()[-300:]}")
        for name in sys.argv[4].split(",") if r.returncode == 0 else []:
            onnx_model(build, out, os.path.join(zoo, name, "model.onnx"), name, rt)
    elif len(sys.argv) > 3:
        onnx_model(build, out, sys.argv[3], "onnx", rt)
    print(f"{len(failures)} failed" if failures else "all dynamic-batch checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
