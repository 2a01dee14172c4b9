"""The CUDA backend on a machine without a GPU (docs/cuda.md).

    cuda_zoo.py BUILD_DIR [--compile A,B] [--emu A,B] [--train A,B] [--emu-train A,B]

--compile: each zoo model (tests/zoo/zoo_models.py, exported into
BUILD_DIR/zoo when missing) is compiled with `nncc --target=cuda`, which
renders every kernel as CUDA C and compiles it with NVRTC to CUBINs for
sm_90 and sm_80 and to PTX; the .so's `nncc_cuda` descriptor must hold a
real sm_90 CUBIN (an ELF image) and a launch per kernel.
--emu: also runs the model's CUDA C on the host (tests/cuda/emu.h, g++,
BUILD_DIR/cuda_emu) and compares every output with the CPU backend's
(nncc-run --device cpu) at |out - ref| <= 1e-4 + 1e-3*|ref|.
--train / --emu-train: the same for the training step (nncc --train
--loss=cross_entropy, SGD with momentum); --emu-train compares the losses
of three steps with the CPU's (the same tolerance).

One line per check (PASS / FAIL NAME reason), then `cuda: N passed, M
failed`; exit 0 when all passed, 1 otherwise, 77 (ctest: skipped) when
NVRTC is not installed (scripts/install-deps.sh installs it).
"""
import argparse
import ctypes
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "zoo"))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

NVRTC = ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"]
TRAIN = ["--train", "--loss=cross_entropy", "--optimizer=sgd:lr=0.01,momentum=0.9"]
ATOL, RTOL = 1e-4, 1e-3


class Image(ctypes.Structure):
    _fields_ = [("sm", ctypes.c_int32), ("pad", ctypes.c_int32), ("data", ctypes.c_void_p),
                ("size", ctypes.c_int64)]


class Launch(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("grid", ctypes.c_uint32 * 3), ("block", ctypes.c_uint32 * 3)]


class Desc(ctypes.Structure):
    _fields_ = [("magic", ctypes.c_uint32), ("version", ctypes.c_uint32), ("nimage", ctypes.c_int32),
                ("nlaunch", ctypes.c_int32), ("image", ctypes.POINTER(Image)),
                ("launch", ctypes.POINTER(Launch)), ("device_bytes", ctypes.c_int64)]


def nvrtc_present():
    for n in NVRTC:
        try:
            ctypes.CDLL(n)
            return True
        except OSError:
            pass
    return False


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    return p.returncode, p.stdout


def check_so(so):
    """None, or what is wrong with the .so's CUDA descriptor."""
    lib = ctypes.CDLL(os.path.abspath(so))
    d = Desc.in_dll(lib, "nncc_cuda")
    if d.magic != 0x6e6e6375 or d.nimage < 1:
        return "bad nncc_cuda descriptor"
    im = d.image[0]
    head = ctypes.string_at(im.data, 4) if im.data and im.size >= 4 else b""
    if im.sm != 90 or head != b"\x7fELF":
        return f"image 0 is not an sm_90 CUBIN (sm {im.sm}, starts {head!r})"
    if d.nlaunch < 1 or d.device_bytes <= 0:
        return "no launches or no device memory"
    return None


def compare(got_dir, ref_dir):
    """None, or the first output outside the tolerance."""
    import numpy as np
    names = sorted(f for f in os.listdir(ref_dir) if f.endswith(".npy"))
    if not names:
        return "no outputs"
    for f in names:
        a = np.load(os.path.join(got_dir, f)).astype(np.float64)
        b = np.load(os.path.join(ref_dir, f)).astype(np.float64)
        if a.shape != b.shape:
            return f"{f}: shape {a.shape} vs {b.shape}"
        bad = np.abs(a - b) > ATOL + RTOL * np.abs(b)
        if bad.any() or np.isnan(a).sum() != np.isnan(b).sum():
            return f"{f}: max |diff| {np.nanmax(np.abs(a - b)):.3g} (|ref| <= {np.nanmax(np.abs(b)):.3g})"
    return None


def losses(text):
    return [float(ln.split()[3]) for ln in text.splitlines() if ln.startswith("step ")]


def emulate(build, tmp, name, so, onnx, flags, inputs, steps):
    """None, or why the emulated CUDA C differs from the CPU backend."""
    cu = os.path.join(tmp, name + ".cu")
    rc, out = run([os.path.join(build, "nncc"), onnx, "--emit=cuda", "-o", cu] + flags)
    if rc:
        return "nncc --emit=cuda: " + out.strip()[-500:]
    kso = os.path.join(tmp, name + "_emu.so")
    rc, out = run(["g++", "-O1", "-std=c++14", "-w", "-shared", "-fPIC", "-include",
                   os.path.join(HERE, "emu.h"), "-x", "c++", cu, "-o", kso, "-lpthread"])
    if rc:
        return "g++ on the CUDA C: " + out.strip()[-800:]
    emu_dir, cpu_dir = os.path.join(tmp, name + "_emu"), os.path.join(tmp, name + "_cpu")
    os.makedirs(emu_dir, exist_ok=True)
    os.makedirs(cpu_dir, exist_ok=True)
    ins = [f"{k}={v}" for k, v in inputs]
    cmd = [os.path.join(build, "cuda_emu"), so, kso, "-o", emu_dir] + ins
    rc, emu_out = run(cmd + (["--steps", str(steps)] if steps else []))
    if rc:
        return "cuda_emu: " + emu_out.strip()[-500:]
    cmd = [os.path.join(build, "nncc-run"), so, "--device", "cpu", "-o", cpu_dir]
    for i in ins:
        cmd += ["-i", i]
    rc, cpu_out = run(cmd + (["--train", str(steps)] if steps else []))
    if rc:
        return "nncc-run --device cpu: " + cpu_out.strip()[-500:]
    if steps:
        a, b = losses(emu_out), losses(cpu_out)
        if len(a) != steps or len(b) != steps:
            return f"losses missing: emulated {a}, cpu {b}"
        for x, y in zip(a, b):
            if abs(x - y) > ATOL + RTOL * abs(y):
                return f"losses differ: emulated {a}, cpu {b}"
        return None
    return compare(emu_dir, cpu_dir)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build")
    for opt in ("compile", "emu", "train", "emu_train"):
        ap.add_argument("--" + opt.replace("_", "-"), default="")
    args = ap.parse_args()
    split = lambda s: [x for x in s.split(",") if x]  # noqa: E731
    comp, emu, train, emu_train = (split(args.compile), split(args.emu), split(args.train),
                                   split(args.emu_train))
    if not nvrtc_present():
        print("SKIP: NVRTC is not installed (Debian non-free libnvrtc11.2; scripts/install-deps.sh "
              "installs it)")
        return 77
    import numpy as np
    import zoo_models
    zoo_dir = os.path.join(args.build, "zoo")
    todo = sorted(set(comp + emu + train + emu_train))
    errors = zoo_models.ensure(zoo_dir, todo, log=lambda m: None)
    npass = nfail = 0

    def verdict(what, name, why):
        nonlocal npass, nfail
        if why:
            nfail += 1
            print(f"FAIL  {what:8s} {name}: {why}", flush=True)
        else:
            npass += 1
            print(f"PASS  {what:8s} {name}", flush=True)

    nncc = os.path.join(args.build, "nncc")
    with tempfile.TemporaryDirectory(prefix="nncc-cuda-") as tmp:
        for name in todo:
            if name in errors:
                verdict("export", name, errors[name])
                continue
            onnx = os.path.join(zoo_dir, name, "model.onnx")
            inputs = [(n, os.path.join(zoo_dir, name, n + ".npy")) for n, _, _ in zoo_models.inputs(name)]
            for mode in ("infer", "train"):
                if mode == "infer" and name not in comp + emu:
                    continue
                if mode == "train" and name not in train + emu_train:
                    continue
                flags = TRAIN if mode == "train" else []
                so = os.path.join(tmp, f"{name}_{mode}.so")
                rc, out = run([nncc, onnx, "--target=cuda", "-o", so] + flags)
                why = f"nncc --target=cuda: {out.strip()[-800:]}" if rc else check_so(so)
                verdict(mode, name, why)
                if why or name not in (emu if mode == "infer" else emu_train):
                    continue
                ins = list(inputs)
                if mode == "train":  # a label per example, classes from the reference output
                    ref = np.load(os.path.join(zoo_dir, name, "ref_output.npy"))
                    lab = np.random.default_rng(0).integers(0, ref.shape[-1], ref.shape[0])
                    lp = os.path.join(tmp, name + "_label.npy")
                    np.save(lp, lab.astype(np.int64))
                    ins.append(("label", lp))
                why = emulate(args.build, tmp, f"{name}_{mode}", so, onnx, flags, ins,
                              3 if mode == "train" else 0)
                verdict("emu-" + mode, name, why)
    print(f"cuda: {npass} passed, {nfail} failed")
    return 0 if nfail == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
