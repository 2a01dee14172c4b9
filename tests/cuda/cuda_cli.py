"""The cuda target's command line and runtime on a machine without a GPU.

    cuda_cli.py BUILD_DIR

Checks, on the zoo's MLP (exported into BUILD_DIR/zoo): --emit=cuda prints
CUDA C and --emit=ptx PTX; without NVRTC (NNCC_NVRTC naming a missing
library) --target=cuda fails with exit 1, a message naming NVRTC and no
output file, while the cpu target still works; a --target=cuda model runs
on the CPU with `nncc-run --device cpu` exactly as the cpu build does; and
without a CUDA driver `nncc-run` on it fails with exit 1 and a message
saying so (with a driver: it runs, or says what is missing). Exit 77 when
NVRTC is not installed (scripts/install-deps.sh installs it).
"""
import ctypes
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "zoo"))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from cuda_zoo import nvrtc_present  # noqa: E402


def run(cmd, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def main():
    build = sys.argv[1]
    if not nvrtc_present():
        print("SKIP: NVRTC is not installed (scripts/install-deps.sh installs libnvrtc11.2)")
        return 77
    import numpy as np
    import zoo_models
    zoo = os.path.join(build, "zoo")
    if zoo_models.ensure(zoo, ["mlp"], log=lambda m: None):
        print("FAIL: cannot export the MLP")
        return 1
    onnx = os.path.join(zoo, "mlp", "model.onnx")
    inp = os.path.join(zoo, "mlp", "input.npy")
    nncc, nrun = os.path.join(build, "nncc"), os.path.join(build, "nncc-run")
    fails = []

    def expect(cond, what):
        print(("PASS  " if cond else "FAIL  ") + what, flush=True)
        if not cond:
            fails.append(what)

    with tempfile.TemporaryDirectory(prefix="nncc-cuda-cli-") as tmp:
        rc, out, err = run([nncc, onnx, "--emit=cuda"])
        expect(rc == 0 and b'extern "C" __global__' in out, "--emit=cuda prints CUDA C")
        rc, out, err = run([nncc, onnx, "--emit=ptx"])
        expect(rc == 0 and b".entry k0" in out, "--emit=ptx prints PTX")
        so = os.path.join(tmp, "m.so")
        rc, out, err = run([nncc, onnx, "--target=cuda", "-o", so],
                           {"NNCC_NVRTC": os.path.join(tmp, "no", "libnvrtc.so")})
        expect(rc == 1 and "NVRTC" in err and not os.path.exists(so),
               f"without NVRTC --target=cuda exits 1 naming NVRTC, no output ({rc}: {err.strip()})")
        rc, out, err = run([nncc, onnx, "-o", os.path.join(tmp, "cpu.so")],
                           {"NNCC_NVRTC": os.path.join(tmp, "no", "libnvrtc.so")})
        expect(rc == 0, "without NVRTC the cpu target works")
        rc, out, err = run([nncc, onnx, "--target=cuda", "-o", so])
        expect(rc == 0 and os.path.exists(so), f"--target=cuda builds ({err.strip()[-300:]})")
        for dev, d in (("cpu", "a"), (None, "b")):
            os.makedirs(os.path.join(tmp, d))
        rc, out, err = run([nrun, so, "--device", "cpu", "-i", inp, "-o", os.path.join(tmp, "a")])
        rc2, out, err2 = run([nrun, os.path.join(tmp, "cpu.so"), "-i", inp, "-o", os.path.join(tmp, "b")])
        same = rc == 0 and rc2 == 0 and np.array_equal(np.load(os.path.join(tmp, "a", "output.npy")),
                                                       np.load(os.path.join(tmp, "b", "output.npy")))
        expect(same, "nncc-run --device cpu runs a cuda build as the cpu build")
        rc, out, err = run([nrun, so, "--device", "gpu", "-i", inp])
        expect(rc == 2, "nncc-run --device gpu is a usage error")
        try:
            ctypes.CDLL("libcuda.so.1")
            driver = True
        except OSError:
            driver = False
        rc, out, err = run([nrun, so, "-i", inp])
        if driver:
            expect(rc == 0 or (rc == 1 and "CUDA" in err), f"with a driver: runs or says why ({err.strip()})")
        else:
            expect(rc == 1 and "no CUDA driver" in err and out == b"",
                   f"without a driver nncc-run exits 1 saying so ({rc}: {err.strip()})")
    print(f"cuda-cli: {len(fails)} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
