"""The ONNX backend node suite through the cuda target, without a GPU (a
manual check; too slow for `make test`):

    onnx_emu.py BUILD_DIR [REGEX] [--suite DIR]

For each test folder of DIR (default ../shared/onnx-tests/node from the
current folder, as `make conformance`) whose name
matches REGEX: `nncc --target=cuda` (NVRTC), the model's CUDA C compiled for
the host with tests/cuda/emu.h, run by BUILD_DIR/cuda_emu on input_K.pb,
and every output compared with output_K.pb (floats: |out - ref| <= 1e-5 +
1e-3*|ref|, equal infinities and NaN where NaN; other dtypes exactly).
Prints FAIL lines and a closing count; tests nncc does not compile for
cuda count as SKIP with the reason's class.
"""
import collections
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--suite=")]
    suite = next((a[8:] for a in sys.argv[1:] if a.startswith("--suite=")),
                 os.path.join("..", "shared", "onnx-tests", "node"))  # as the Makefile's ONNX_TESTS
    build = args[0]
    pat = re.compile(args[1] if len(args) > 1 else ".")
    import numpy as np
    import onnx
    from onnx import numpy_helper
    tests = sorted(d for d in glob.glob(os.path.join(suite, "test_*")) if pat.search(os.path.basename(d)))
    res, skips = collections.Counter(), collections.Counter()
    with tempfile.TemporaryDirectory(prefix="nncc-onnx-emu-") as tmp:
        for d in tests:
            name = os.path.basename(d)
            t = os.path.join(tmp, name)
            os.makedirs(t + "/out")
            m = onnx.load(d + "/model.onnx")
            inits = {i.name for i in m.graph.initializer}
            ins = [i.name for i in m.graph.input if i.name not in inits]
            so = t + "/m.so"
            p = subprocess.run([build + "/nncc", d + "/model.onnx", "--target=cuda", "-o", so], capture_output=True,
                               text=True)
            if p.returncode:
                res["SKIP"] += 1
                skips["cuda dtype" if "cuda target" in p.stderr else "nncc"] += 1
                continue
            subprocess.run([build + "/nncc", d + "/model.onnx", "--emit=cuda", "-o", t + "/m.cu"], check=True)
            p = subprocess.run(["g++", "-O0", "-std=c++14", "-w", "-shared", "-fPIC", "-include",
                                os.path.join(HERE, "emu.h"), "-x", "c++", t + "/m.cu", "-o", t + "/k.so", "-lpthread"],
                               capture_output=True, text=True)
            if p.returncode:
                print("FAIL", name, "g++:", p.stderr[-400:], flush=True)
                res["FAIL"] += 1
                continue
            feed = [f"{n}={d}/test_data_set_0/input_{k}.pb" for k, n in enumerate(ins)]
            p = subprocess.run([build + "/cuda_emu", so, t + "/k.so", "-o", t + "/out"] + feed, capture_output=True,
                               text=True)
            if p.returncode:
                print("FAIL", name, "cuda_emu:", p.stderr[-300:], flush=True)
                res["FAIL"] += 1
                continue
            ok = True
            for k, o in enumerate(m.graph.output):
                tp = onnx.TensorProto()
                with open(f"{d}/test_data_set_0/output_{k}.pb", "rb") as f:
                    tp.ParseFromString(f.read())
                ref = numpy_helper.to_array(tp)
                got = np.load(f"{t}/out/{re.sub(r'[^A-Za-z0-9_.-]', '_', o.name)}.npy")
                if ref.dtype.kind in "fc":
                    r, g = ref.astype(np.float64), got.astype(np.float64)
                    with np.errstate(invalid="ignore"):
                        good = g.shape == r.shape and bool(np.all((g == r) | (np.abs(g - r) <= 1e-5 + 1e-3 * np.abs(r))
                                                                  | (np.isnan(g) & np.isnan(r))))
                else:
                    good = got.shape == ref.shape and np.array_equal(got, ref)
                if not good:
                    ok = False
                    print("FAIL", name, o.name, "got", got.ravel()[:6], "ref", ref.ravel()[:6], flush=True)
            res["PASS" if ok else "FAIL"] += 1
    print(f"onnx-emu: {res['PASS']} passed, {res['FAIL']} failed, {res['SKIP']} skipped {dict(skips)}")
    return 1 if res["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
