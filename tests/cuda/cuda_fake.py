"""The runtime's CUDA path (runtime/cuda.c, nncc-run's default device for a
cuda build) on a machine without a GPU, through the stand-in driver
BUILD/fakecuda/libcuda.so.1 (tests/cuda/fake_libcuda.c), which runs the
model's CUDA C compiled for the host.

    cuda_fake.py BUILD_DIR

Checks on the zoo's MLP and LeNet: outputs equal the CPU backend's (1e-4 +
1e-3*|ref|); the step is captured once as a graph with one launch per
kernel and replayed on every later run (NNCC_CUDA_GRAPH=0: direct
launches); training steps (state on the device, the step counter and
weights read back, weights loaded from a checkpoint copied in) give the
CPU's losses and saved weights. Exit 77 without NVRTC.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "zoo"))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from cuda_zoo import nvrtc_present, losses, TRAIN  # noqa: E402

ATOL, RTOL = 1e-4, 1e-3


def read_st(path):
    import numpy as np
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        dt = {"F32": np.float32, "I64": np.int64, "F64": np.float64, "U8": np.uint8}[v["dtype"]]
        b, e = v["data_offsets"]
        out[k] = np.frombuffer(data[b:e], dtype=dt).reshape(v["shape"])
    return out


def main():
    build = sys.argv[1]
    if not nvrtc_present():
        print("SKIP: NVRTC is not installed (scripts/install-deps.sh installs libnvrtc11.2)")
        return 77
    import numpy as np
    import zoo_models
    zoo = os.path.join(build, "zoo")
    if zoo_models.ensure(zoo, ["mlp", "lenet"], log=lambda m: None):
        print("FAIL: cannot export the models")
        return 1
    nncc, nrun = os.path.join(build, "nncc"), os.path.join(build, "nncc-run")
    fails = []

    def expect(cond, what):
        print(("PASS  " if cond else "FAIL  ") + what, flush=True)
        if not cond:
            fails.append(what)

    with tempfile.TemporaryDirectory(prefix="nncc-cuda-fake-") as tmp:
        log = os.path.join(tmp, "log")

        def gpu_env(kso, **extra):
            e = dict(os.environ, LD_LIBRARY_PATH=os.path.join(build, "fakecuda"), NNCC_FAKE_CUDA_KERNELS=kso,
                     NNCC_FAKE_CUDA_LOG=log)
            e.update(extra)
            return e

        def run(cmd, env=None):
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            return p.returncode, p.stdout

        def build_model(name, flags):
            onnx = os.path.join(zoo, name, "model.onnx")
            so, cu, kso = (os.path.join(tmp, name + s) for s in (".so", ".cu", "_k.so"))
            for cmd in ([nncc, onnx, "--target=cuda", "-o", so] + flags, [nncc, onnx, "--emit=cuda", "-o", cu] + flags,
                        ["g++", "-O1", "-std=c++14", "-w", "-shared", "-fPIC", "-include",
                         os.path.join(HERE, "emu.h"), "-x", "c++", cu, "-o", kso, "-lpthread"]):
                rc, out = run(cmd)
                if rc:
                    return None, None, f"{cmd[0]}: {out[-500:]}"
            return so, kso, None

        def log_lines():
            if not os.path.exists(log):
                return []
            with open(log) as f:
                lines = f.read().split("\n")
            os.unlink(log)
            return [ln for ln in lines if ln]

        for name in ("mlp", "lenet"):
            so, kso, err = build_model(name, [])
            if err:
                expect(False, f"{name}: build: {err}")
                continue
            inp = os.path.join(zoo, name, "input.npy")
            ga, ca = os.path.join(tmp, name + "_gpu"), os.path.join(tmp, name + "_cpu")
            rc, out = run([nrun, so, "-i", inp, "-o", ga], gpu_env(kso))
            rc2, out2 = run([nrun, so, "--device", "cpu", "-i", inp, "-o", ca])
            ok = rc == 0 and rc2 == 0
            if ok:
                a, b = np.load(os.path.join(ga, "output.npy")), np.load(os.path.join(ca, "output.npy"))
                ok = a.shape == b.shape and bool(np.all(np.abs(a - b) <= ATOL + RTOL * np.abs(b)))
            expect(ok, f"{name}: outputs through the CUDA runtime match the CPU's ({out.strip()[-300:]})")
            lines = log_lines()
            nlaunch = None
            rc, out = run([nrun, so, "-i", inp, "--bench", "2"], gpu_env(kso))
            lines = log_lines()
            caps = [ln for ln in lines if ln.startswith("capture")]
            expect(rc == 0 and len(caps) == 1 and lines.count("graph launch") == 3 and "launch" not in lines,
                   f"{name}: captured once, replayed per run ({lines[:4]}...)")
            if caps:
                nlaunch = int(caps[0].split()[1])
            rc, out = run([nrun, so, "-i", inp, "--bench", "1"], gpu_env(kso, NNCC_CUDA_GRAPH="0"))
            lines = log_lines()
            expect(rc == 0 and nlaunch and lines.count("launch") == 2 * nlaunch and "graph launch" not in lines,
                   f"{name}: NNCC_CUDA_GRAPH=0 launches directly ({len(lines)} lines, {nlaunch} per run)")

        so, kso, err = build_model("mlp", TRAIN)
        if err:
            expect(False, f"mlp train: build: {err}")
        else:
            inp = os.path.join(zoo, "mlp", "input.npy")
            lab = os.path.join(tmp, "label.npy")
            np.save(lab, np.array([3, 7], dtype=np.int64))
            ins = ["-i", "input=" + inp, "-i", "label=" + lab]
            wg, wc, wh = (os.path.join(tmp, s) for s in ("g.st", "c.st", "half.st"))
            rc, out = run([nrun, so, "--train", "3", "--save-weights", wg] + ins, gpu_env(kso))
            rc2, out2 = run([nrun, so, "--device", "cpu", "--train", "3", "--save-weights", wc] + ins)
            la, lb = losses(out), losses(out2)
            steps = [ln.split()[1] for ln in out.splitlines() if ln.startswith("step ")]
            ok = rc == 0 and rc2 == 0 and len(la) == 3 and steps == ["1", "2", "3"] and all(
                abs(x - y) <= ATOL + RTOL * abs(y) for x, y in zip(la, lb))
            expect(ok, f"mlp train: 3 steps on the CUDA runtime give the CPU's losses ({la} vs {lb})")
            if ok:
                a, b = read_st(wg), read_st(wc)
                same = a.keys() == b.keys() and all(
                    np.all(np.abs(a[k].astype(np.float64) - b[k]) <= ATOL + RTOL * np.abs(b[k].astype(np.float64)))
                    for k in a)
                expect(same, "mlp train: the saved weights and optimizer state match the CPU's")
            rc, out = run([nrun, so, "--train", "2", "--save-weights", wh] + ins, gpu_env(kso))
            rc, out = run([nrun, so, "--train", "1", "--load-weights", wh] + ins, gpu_env(kso))
            l3 = losses(out)
            expect(rc == 0 and len(l3) == 1 and len(lb) == 3 and abs(l3[0] - lb[2]) <= ATOL + RTOL * abs(lb[2])
                   and out.startswith("step 3 "),
                   f"mlp train: a checkpoint loaded into the device continues as step 3 ({out.strip()[:80]})")
    print(f"cuda-fake: {len(fails)} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
