"""Write malformed or unsupported models for nncc's error-path tests:
bad_models.py OUTDIR

  two_unsupported.onnx  a valid graph using two ops nncc does not support
                        (RandomUniformLike and Unique); nncc must name both
  garbage.onnx          4 KiB of random bytes (fixed seed)
  truncated.onnx        the first 60% of the bytes of a valid model
  small.onnx            a valid model whose input is named "pixels_in",
                        for run-time checks (wrong input shape)
  suite/{right,wrong}   ONNX backend-style test folders for `nncc test-onnx`:
                        y = x + 1 in int64 with x[0] = 2^53; "wrong" expects
                        2^53 there, which only an exact integer compare
                        tells from the 2^53 + 1 nncc computes (PASS, FAIL)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

UNSUPPORTED_OPS = ("RandomUniformLike", "Unique")  # bad_input.sh greps for these names
SMALL_INPUT = "pixels_in"
SMALL_SHAPE = (2, 3)


def write_bytes(path, data):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def make_model(graph):
    model = helper.make_model(graph, producer_name="nncc-bad-models",
                              opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model, full_check=True)
    return model


def two_unsupported():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])
    nodes = [
        helper.make_node("RandomUniformLike", ["x"], ["h"], name="random_node", seed=1.0),
        helper.make_node("Relu", ["h"], ["r"], name="relu_node"),
        helper.make_node("Unique", ["r"], ["y"], name="unique_node"),
    ]
    return make_model(helper.make_graph(nodes, "two_unsupported", [x], [y]))


def gemm_with_weights():
    """A valid model whose bytes are mostly an initializer, so cutting it
    short lands inside a length-delimited field."""
    rng = np.random.default_rng(7)
    w = rng.standard_normal((64, 64)).astype(np.float32)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 64])
    init = helper.make_tensor("w", TensorProto.FLOAT, w.shape, w.tobytes(), raw=True)
    node = helper.make_node("Gemm", ["x", "w"], ["y"], name="gemm_node")
    return make_model(helper.make_graph([node], "gemm", [x], [y], initializer=[init]))


def small():
    x = helper.make_tensor_value_info(SMALL_INPUT, TensorProto.FLOAT, list(SMALL_SHAPE))
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, list(SMALL_SHAPE))
    nodes = [helper.make_node("Relu", [SMALL_INPUT], ["r"], name="relu_node"),
             helper.make_node("Add", ["r", SMALL_INPUT], ["out"], name="add_node")]
    return make_model(helper.make_graph(nodes, "small", [x], [y]))


def must_not_parse(path):
    try:
        onnx.load(path)
    except Exception:  # noqa: BLE001 - protobuf raises DecodeError or others
        return
    raise SystemExit(f"bad_models: {path} unexpectedly parses as ONNX; change the seed")


def int64_suite(root):
    from onnx import numpy_helper
    x = np.array([2**53, 5], dtype=np.int64)
    one = numpy_helper.from_array(np.array([1], dtype=np.int64), "one")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"])], "add1",
        [helper.make_tensor_value_info("x", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.INT64, [2])], [one])
    model = make_model(graph).SerializeToString()
    for name, ref in (("right", x + 1), ("wrong", np.array([2**53, 6], dtype=np.int64))):
        data = os.path.join(root, name, "test_data_set_0")
        os.makedirs(data, exist_ok=True)
        write_bytes(os.path.join(root, name, "model.onnx"), model)
        write_bytes(os.path.join(data, "input_0.pb"),
                    numpy_helper.from_array(x, "x").SerializeToString())
        write_bytes(os.path.join(data, "output_0.pb"),
                    numpy_helper.from_array(ref, "y").SerializeToString())


def main():
    if len(sys.argv) != 2:
        print("usage: bad_models.py OUTDIR", file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)

    write_bytes(os.path.join(out, "two_unsupported.onnx"),
                two_unsupported().SerializeToString())

    garbage = os.path.join(out, "garbage.onnx")
    write_bytes(garbage, np.random.default_rng(1234).bytes(4096))
    must_not_parse(garbage)

    whole = gemm_with_weights().SerializeToString()
    truncated = os.path.join(out, "truncated.onnx")
    write_bytes(truncated, whole[:len(whole) * 6 // 10])
    must_not_parse(truncated)

    write_bytes(os.path.join(out, "small.onnx"), small().SerializeToString())
    int64_suite(os.path.join(out, "suite"))
    print(f"bad_models: wrote two_unsupported.onnx garbage.onnx truncated.onnx small.onnx suite/ to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
