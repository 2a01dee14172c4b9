"""External data end to end: extdata.py BUILD OUTDIR

Saves a small MLP with onnx.save_model(save_as_external_data=True) (every
weight in one file beside the model, at page-aligned offsets where onnx
puts them), compiles it with nncc, runs it with nncc-run and compares the
output with numpy; then the same model with all weights inline must give
identical bytes. Exits 1 on any difference.
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    build, out = sys.argv[1], os.path.abspath(sys.argv[2])
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(3)
    w1 = rng.standard_normal((16, 32)).astype(np.float32)
    b1 = rng.standard_normal(32).astype(np.float32)
    w2 = rng.standard_normal((32, 4)).astype(np.float32)
    x = rng.standard_normal((2, 16)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]),
             helper.make_node("Add", ["h", "b1"], ["hb"]),
             helper.make_node("Relu", ["hb"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["y"])]
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"))]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    inline = os.path.join(out, "inline.onnx")
    onnx.save_model(m, inline)
    ext_dir = os.path.join(out, "ext")
    os.makedirs(ext_dir, exist_ok=True)
    for f in os.listdir(ext_dir):
        os.remove(os.path.join(ext_dir, f))
    ext = os.path.join(ext_dir, "model.onnx")
    onnx.save_model(m, ext, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    loaded = onnx.load(ext, load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in loaded.graph.initializer)
    np.save(os.path.join(out, "x.npy"), x)
    ref = np.maximum(x @ w1 + b1, 0) @ w2
    results = {}
    for name, path in (("ext", ext), ("inline", inline)):
        lib = os.path.join(out, name + ".so")
        odir = os.path.join(out, name + "-out")
        subprocess.run([os.path.join(build, "nncc"), path, "-o", lib], check=True)
        subprocess.run([os.path.join(build, "nncc-run"), lib, "-i", os.path.join(out, "x.npy"),
                        "-o", odir], check=True)
        results[name] = np.load(os.path.join(odir, "y.npy"))
    err = float(np.max(np.abs(results["ext"] - ref)))
    same = results["ext"].tobytes() == results["inline"].tobytes()
    print(f"external data: max |y - numpy| = {err:.3g}, identical to inline weights: {same}")
    return 0 if err < 1e-4 and same else 1


if __name__ == "__main__":
    sys.exit(main())
