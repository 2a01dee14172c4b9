"""nncc — Python binding of the nncc runtime (ctypes over libnncc_rt, numpy).

    import nncc
    m = nncc.load("model.so")                 # a model compiled by nncc
    out = m.run(input=x)                      # dict: output name -> numpy array
    step = nncc.load("step.so")               # compiled with nncc --train
    loss = step.train_step(input=x, label=y)  # one step, parameters updated
    step.save_weights("w.safetensors"); step.load_weights("w.safetensors")
    nncc.compile("model.onnx", "model.so", shape={"input": (1, 1, 28, 28)})

The runtime library is found through $NNCC_RT_LIB, else next to this
package in an installed prefix (share/nncc/python -> lib/libnncc_rt.so), else
in the build tree this file sits in (build/libnncc_rt.so). The compiler
(nncc.compile) is $NNCC, else the installed or built nncc next to the
library, else `nncc` on $PATH. docs/python.md.
"""
import ctypes
import os
import shutil
import subprocess

import numpy as np

__all__ = ["load", "compile", "Model", "Error", "version"]

_HERE = os.path.dirname(os.path.abspath(__file__))

# nncc_dtype (include/nncc/nncc.h) -> numpy dtype; exotic types have none.
_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
           7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32,
           13: np.uint64}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}


class Error(RuntimeError):
    """A runtime call failed; the message is the runtime's."""


def _candidates():
    env = os.environ.get("NNCC_RT_LIB")
    if env:
        yield env
    # installed: PREFIX/share/nncc/python/nncc -> PREFIX/lib*/libnncc_rt.so
    prefix = os.path.normpath(os.path.join(_HERE, "..", "..", "..", ".."))
    for lib in ("lib", "lib64", "lib/x86_64-linux-gnu"):
        yield os.path.join(prefix, lib, "libnncc_rt.so")
    # source tree: python/nncc -> build/libnncc_rt.so
    yield os.path.join(_HERE, "..", "..", "build", "libnncc_rt.so")


def _find_lib():
    for p in _candidates():
        if os.path.isfile(p):
            return os.path.abspath(p)
    raise Error("libnncc_rt.so not found; set NNCC_RT_LIB to its path")


_lib = None
_LIB_PATH = None


class _Info(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int),
                ("dims", ctypes.POINTER(ctypes.c_int64)), ("nbytes", ctypes.c_int64)]


def _rt():
    global _lib, _LIB_PATH
    if _lib is not None:
        return _lib
    _LIB_PATH = _find_lib()
    L = ctypes.CDLL(_LIB_PATH)
    P, I, S = ctypes.c_void_p, ctypes.c_int, ctypes.c_int  # handles, ints, status
    E = ctypes.POINTER(ctypes.c_void_p)  # char **err (freed with nncc_error_free)
    sig = {
        "nncc_model_load": (S, [ctypes.c_char_p, ctypes.POINTER(P), E]),
        "nncc_model_free": (None, [P]),
        "nncc_model_name": (ctypes.c_char_p, [P]),
        "nncc_model_num_inputs": (I, [P]),
        "nncc_model_num_outputs": (I, [P]),
        "nncc_model_num_params": (I, [P]),
        "nncc_model_input_info": (S, [P, I, ctypes.POINTER(_Info)]),
        "nncc_model_output_info": (S, [P, I, ctypes.POINTER(_Info)]),
        "nncc_model_param_info": (S, [P, I, ctypes.POINTER(_Info)]),
        "nncc_model_is_training": (I, [P]),
        "nncc_session_create": (S, [P, ctypes.POINTER(P), E]),
        "nncc_session_free": (None, [P]),
        "nncc_session_set_threads": (S, [P, I, E]),
        "nncc_session_set_input": (S, [P, I, P, I, ctypes.POINTER(ctypes.c_int64), I, E]),
        "nncc_session_run": (S, [P, E]),
        "nncc_session_output": (S, [P, I, ctypes.POINTER(P)]),
        "nncc_session_train_step": (S, [P, ctypes.POINTER(ctypes.c_float), E]),
        "nncc_session_set_learning_rate": (S, [P, ctypes.c_float, E]),
        "nncc_session_step": (ctypes.c_int64, [P]),
        "nncc_session_get_param": (S, [P, ctypes.c_char_p, P, ctypes.c_int64, E]),
        "nncc_session_set_param": (S, [P, ctypes.c_char_p, P, ctypes.c_int64, E]),
        "nncc_session_save_weights": (S, [P, ctypes.c_char_p, E]),
        "nncc_session_load_weights": (S, [P, ctypes.c_char_p, E]),
        "nncc_error_free": (None, [P]),
        "nncc_status_string": (ctypes.c_char_p, [I]),
    }
    for name, (res, args) in sig.items():
        f = getattr(L, name)
        f.restype, f.argtypes = res, args
    _lib = L
    return L


def _check(status, err):
    """Raises Error with the runtime's message unless status is OK (0)."""
    L = _rt()
    if status == 0:
        return
    msg = ctypes.cast(err, ctypes.c_char_p).value if err.value else None
    if err.value:
        L.nncc_error_free(err)
    text = msg.decode() if msg else L.nncc_status_string(status).decode()
    raise Error(text)


class _Tensor:
    """One input, output or parameter as the descriptor gives it."""

    def __init__(self, info):
        self.name = info.name.decode()
        self.code = info.dtype
        self.shape = tuple(info.dims[i] for i in range(info.rank))
        self.nbytes = info.nbytes
        self.dtype = _DTYPES.get(info.dtype)

    def __repr__(self):
        return "%s: %s%s" % (self.name, np.dtype(self.dtype).name if self.dtype else
                             "dtype %d" % self.code, list(self.shape))


class Model:
    """A compiled model and one session of it (its arena and threads).

    run(**inputs) -> {output name: array}; train_step(**inputs) -> loss for
    a training step (nncc --train); save_weights/load_weights(path) in
    safetensors. Inputs given once stay set for later calls."""

    def __init__(self, path, threads=0):
        L = _rt()
        self._m = ctypes.c_void_p()
        self._s = ctypes.c_void_p()
        err = ctypes.c_void_p()
        _check(L.nncc_model_load(os.fsencode(path), ctypes.byref(self._m), ctypes.byref(err)), err)
        err = ctypes.c_void_p()
        st = L.nncc_session_create(self._m, ctypes.byref(self._s), ctypes.byref(err))
        if st != 0:
            L.nncc_model_free(self._m)
            self._m = None
            _check(st, err)
        self.path = path
        self.name = L.nncc_model_name(self._m).decode()
        self.inputs = [self._info(L.nncc_model_input_info, i)
                       for i in range(L.nncc_model_num_inputs(self._m))]
        self.outputs = [self._info(L.nncc_model_output_info, i)
                        for i in range(L.nncc_model_num_outputs(self._m))]
        self.params = [self._info(L.nncc_model_param_info, i)
                       for i in range(L.nncc_model_num_params(self._m))]
        self.is_training = bool(L.nncc_model_is_training(self._m))
        if threads:
            self.set_threads(threads)

    def _info(self, fn, i):
        info = _Info()
        _check(fn(self._m, i, ctypes.byref(info)), ctypes.c_void_p())
        return _Tensor(info)

    def close(self):
        """Frees the session and unloads the model (also done when collected)."""
        L = _lib
        if L is None:
            return
        if getattr(self, "_s", None):
            L.nncc_session_free(self._s)
            self._s = None
        if getattr(self, "_m", None):
            L.nncc_model_free(self._m)
            self._m = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def set_threads(self, n):
        """Threads the runs use, counting the caller (0: the runtime's default)."""
        err = ctypes.c_void_p()
        _check(_rt().nncc_session_set_threads(self._s, int(n), ctypes.byref(err)), err)

    def set_inputs(self, **inputs):
        """Copies the named inputs into the session (dtype and shape must match)."""
        L = _rt()
        names = [t.name for t in self.inputs]
        for name, value in inputs.items():
            if name not in names:
                raise Error("input '%s': the model's inputs are %s" % (name, ", ".join(names)))
            t = self.inputs[names.index(name)]
            a = np.ascontiguousarray(value, dtype=t.dtype) if t.dtype else np.ascontiguousarray(value)
            dims = (ctypes.c_int64 * max(a.ndim, 1))(*a.shape)
            code = _CODES.get(a.dtype, t.code) if t.dtype else t.code
            err = ctypes.c_void_p()
            _check(L.nncc_session_set_input(self._s, names.index(name), a.ctypes.data, a.ndim, dims,
                                            code, ctypes.byref(err)), err)

    def _outputs(self):
        L = _rt()
        out = {}
        for i, t in enumerate(self.outputs):
            p = ctypes.c_void_p()
            _check(L.nncc_session_output(self._s, i, ctypes.byref(p)), ctypes.c_void_p())
            raw = ctypes.string_at(p, t.nbytes)
            dt = t.dtype if t.dtype else np.uint8
            out[t.name] = np.frombuffer(raw, dtype=dt).reshape(t.shape).copy()
        return out

    def run(self, feeds=None, **inputs):
        """Sets the inputs given (by keyword, or a dict for names that are no
        Python identifiers: run({"input.1": x})), runs the model, returns
        {output name: array}."""
        self.set_inputs(**dict(feeds or {}, **inputs))
        err = ctypes.c_void_p()
        _check(_rt().nncc_session_run(self._s, ctypes.byref(err)), err)
        return self._outputs()

    def train_step(self, feeds=None, lr=None, **inputs):
        """One training step on the inputs (the batch and `label`, by keyword or
        in the dict feeds): updates the parameters and optimizer state; returns
        the step's loss (before the update)."""
        L = _rt()
        if lr is not None:
            err = ctypes.c_void_p()
            _check(L.nncc_session_set_learning_rate(self._s, float(lr), ctypes.byref(err)), err)
        self.set_inputs(**dict(feeds or {}, **inputs))
        loss = ctypes.c_float()
        err = ctypes.c_void_p()
        _check(L.nncc_session_train_step(self._s, ctypes.byref(loss), ctypes.byref(err)), err)
        return float(loss.value)

    @property
    def step(self):
        """Training steps this session has completed."""
        return int(_rt().nncc_session_step(self._s))

    def get_param(self, name):
        """The session's current value of parameter `name` (any role)."""
        t = next((p for p in self.params if p.name == name), None)
        if t is None:
            raise Error("no parameter '%s'" % name)
        a = np.empty(t.shape, dtype=t.dtype if t.dtype else np.uint8)
        err = ctypes.c_void_p()
        _check(_rt().nncc_session_get_param(self._s, name.encode(), a.ctypes.data, t.nbytes,
                                            ctypes.byref(err)), err)
        return a

    def set_param(self, name, value):
        """Overwrites training state `name` (same dtype and shape)."""
        t = next((p for p in self.params if p.name == name), None)
        if t is None:
            raise Error("no parameter '%s'" % name)
        a = np.ascontiguousarray(value, dtype=t.dtype).reshape(t.shape)
        err = ctypes.c_void_p()
        _check(_rt().nncc_session_set_param(self._s, name.encode(), a.ctypes.data, a.nbytes,
                                            ctypes.byref(err)), err)

    def save_weights(self, path):
        """Saves every parameter and the training state (safetensors)."""
        err = ctypes.c_void_p()
        _check(_rt().nncc_session_save_weights(self._s, os.fsencode(path), ctypes.byref(err)), err)

    def load_weights(self, path):
        """Loads a safetensors file into the training state (all or nothing)."""
        err = ctypes.c_void_p()
        _check(_rt().nncc_session_load_weights(self._s, os.fsencode(path), ctypes.byref(err)), err)


def load(path, threads=0):
    """Loads a model compiled by nncc (a .so) with one session."""
    return Model(path, threads)


def _compiler():
    env = os.environ.get("NNCC")
    if env:
        return env
    try:
        libdir = os.path.dirname(_find_lib())
    except Error:
        libdir = None
    if libdir:
        for p in (os.path.join(libdir, "nncc"), os.path.join(libdir, "..", "bin", "nncc"),
                  os.path.join(libdir, "..", "..", "bin", "nncc")):
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return os.path.abspath(p)
    p = shutil.which("nncc")
    if p:
        return p
    raise Error("the nncc compiler was not found; set NNCC to its path")


def _flag(key, value):
    opt = "--" + key.replace("_", "-")
    if value is True:
        return [opt]
    if value is False or value is None:
        return []
    if key == "shape":  # {"input": (1, 1, 28, 28)}
        return ["--shape=%s=%s" % (k, ",".join(str(int(d)) for d in v)) for k, v in value.items()]
    if key == "const":  # {"axes": "axes.npy"}
        return ["--const=%s=%s" % (k, v) for k, v in value.items()]
    if key == "opt_level":
        return ["-O%d" % int(value)]
    if isinstance(value, (list, tuple)):
        return ["%s=%s" % (opt, v) for v in value]  # --freeze=a --freeze=b
    return ["%s=%s" % (opt, value)]


def compile(model, out, **options):
    """Runs the nncc compiler: compile(model, out, shape={...}, emit="so", train=True,
    loss="mse", optimizer="adam:lr=1e-3", opt_level=2, ...). Each keyword is the
    command-line option of that name (underscores as dashes; True for a flag).
    Returns out; raises Error with the compiler's message if it fails."""
    argv = [_compiler(), os.fspath(model), "-o", os.fspath(out)]
    for k, v in options.items():
        argv += _flag(k, v)
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise Error(r.stderr.strip() or "nncc exited with status %d" % r.returncode)
    return out


def version():
    """The compiler's `nncc --version` first line."""
    r = subprocess.run([_compiler(), "--version"], stdout=subprocess.PIPE, text=True, check=True)
    return r.stdout.splitlines()[0]
