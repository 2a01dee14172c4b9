"""The ai.onnx.preview.training optimizers beyond the suite: preview_training.py BUILD_DIR

The ONNX suite's Adagrad/Momentum/Adam tests all use T = 0; these cases
use T > 0 (bias correction, Momentum's beta), norm_coefficient_post, f64
tensors and several tensors per node. Gradient cases go beyond onnx's two
scalar ones: a gradient through matmul and tanh feeding a Momentum update,
a non-scalar y, and a y the graph does not compute (exit 1). Expected outputs come from the
numpy reference functions of Debian's onnx package (its backend test
generators); each case is written as a backend-style test folder and run
with `nncc test-onnx`, which must report every one PASS.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.backend.test.case.node.adagrad import apply_adagrad
from onnx.backend.test.case.node.adam import apply_adam
from onnx.backend.test.case.node.momentum import apply_momentum, apply_nesterov

DOMAIN = "ai.onnx.preview.training"


def write(root, name, op, attrs, ins, outs, n_tensors):
    """A test folder: one node `op` over inputs ins (name -> array)."""
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    node = helper.make_node(op, list(ins), list(outs), domain=DOMAIN, **attrs)
    vi = lambda n, a: helper.make_tensor_value_info(n, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype], a.shape)
    graph = helper.make_graph([node], name, [vi(n, a) for n, a in ins.items()],
                              [vi(n, a) for n, a in outs.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid(DOMAIN, 1)])
    onnx.save(model, os.path.join(d, "model.onnx"))
    for k, a in enumerate(ins.values()):
        with open(os.path.join(d, "test_data_set_0", f"input_{k}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(a).SerializeToString())
    for k, a in enumerate(outs.values()):
        with open(os.path.join(d, "test_data_set_0", f"output_{k}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(a).SerializeToString())


def write_graph(root, name, nodes, ins, outs):
    """A test folder over a graph of several nodes (default domain and the
    training domain), inputs ins and expected outputs outs (name -> array)."""
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    vi = lambda n, a: helper.make_tensor_value_info(n, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype], a.shape)
    graph = helper.make_graph(nodes, name, [vi(n, a) for n, a in ins.items()],
                              [vi(n, a) for n, a in outs.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid(DOMAIN, 1)])
    onnx.save(model, os.path.join(d, "model.onnx"))
    for kind, vals in (("input", ins), ("output", outs)):
        for k, a in enumerate(vals.values()):
            with open(os.path.join(d, "test_data_set_0", f"{kind}_{k}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(a).SerializeToString())


def gradient_cases(root, rng):
    """Gradient: through matmul and tanh to a scalar loss, with its output
    feeding a Momentum update (the gradient's nodes must run before the
    update that the model lists after it); and of a non-scalar y (the
    gradient of the sum of its elements). Expected values are the
    derivatives worked out by hand in numpy (float64, then rounded)."""
    x = rng.standard_normal((4, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2)).astype(np.float32)
    t = rng.standard_normal((4, 2)).astype(np.float32)
    v = rng.standard_normal((3, 2)).astype(np.float32)
    r = np.array(0.1, dtype=np.float32)
    T = np.array(3, dtype=np.int64)
    h = np.tanh(x.astype(np.float64) @ w)
    loss = ((h - t) ** 2).sum()
    gw = x.T.astype(np.float64) @ (2 * (h - t) * (1 - h * h))
    wn, vn = apply_momentum(r, T, w, gw.astype(np.float32), v, 0.0, 0.9, 1.0)
    nodes = [helper.make_node("MatMul", ["X", "W"], ["P"]),
             helper.make_node("Tanh", ["P"], ["H"]),
             helper.make_node("Sub", ["H", "Tgt"], ["E"]),
             helper.make_node("Mul", ["E", "E"], ["E2"]),
             helper.make_node("ReduceSum", ["E2"], ["L"], keepdims=0),
             helper.make_node("Gradient", ["W", "X", "Tgt"], ["dW"], domain=DOMAIN,
                              xs=["W"], zs=["X", "Tgt"], y="L"),
             helper.make_node("Momentum", ["R", "T", "W", "dW", "V"], ["Wn", "Vn"], domain=DOMAIN,
                              alpha=0.9, beta=1.0, mode="standard", norm_coefficient=0.0)]
    write_graph(root, "gradient_momentum", nodes, dict(X=x, W=w, Tgt=t, R=r, T=T, V=v),
                dict(L=np.float32(loss).reshape(()), dW=gw.astype(np.float32),
                     Wn=wn.astype(np.float32), Vn=vn.astype(np.float32)))
    a = rng.standard_normal((2, 3)).astype(np.float32)
    b = rng.standard_normal((3,)).astype(np.float32)
    nodes = [helper.make_node("Mul", ["A", "B"], ["C"]),
             helper.make_node("Gradient", ["A", "B"], ["dA", "dB"], domain=DOMAIN, xs=["A", "B"], y="C")]
    write_graph(root, "gradient_tensor_y", nodes, dict(A=a, B=b),
                dict(C=a * b, dA=np.broadcast_to(b, a.shape).astype(np.float32),
                     dB=a.astype(np.float64).sum(0).astype(np.float32)))


def gradient_errors(build, root):
    """A Gradient whose y is not computed before it: exit 1 naming the node."""
    d = os.path.join(root, "bad_y")
    os.makedirs(d)
    x = np.ones(2, dtype=np.float32)
    nodes = [helper.make_node("Gradient", ["X"], ["dX"], domain=DOMAIN, xs=["X"], y="nowhere",
                              name="grad_node")]
    vi = lambda n, a: helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, a.shape)
    graph = helper.make_graph(nodes, "bad", [vi("X", x)], [vi("dX", x)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid(DOMAIN, 1)])
    onnx.save(model, os.path.join(d, "model.onnx"))
    out = os.path.join(d, "out.so")
    r = subprocess.run([os.path.join(build, "nncc"), os.path.join(d, "model.onnx"), "-o", out],
                       capture_output=True, text=True)
    if r.returncode != 1 or "grad_node" not in r.stderr or "nowhere" not in r.stderr or os.path.exists(out):
        sys.exit(f"FAIL: Gradient with an unknown y: exit {r.returncode}, stderr {r.stderr!r}")


def cases(root):
    rng = np.random.default_rng(5)
    for dt in (np.float32, np.float64):
        tag = "f32" if dt == np.float32 else "f64"
        r = np.array(0.05, dtype=np.float32)
        for t in (1, 7):
            T = np.array(t, dtype=np.int64)
            x, g, v, h = (rng.standard_normal((3, 4)).astype(dt) for _ in range(4))
            h = np.abs(h)
            x2, g2, v2, h2 = (rng.standard_normal(5).astype(dt) for _ in range(4))
            h2 = np.abs(h2)
            # Adam with both norm coefficients, two tensors
            a = dict(alpha=0.9, beta=0.99, epsilon=1e-6, norm_coefficient=0.01, norm_coefficient_post=0.02)
            o1 = apply_adam(r, T, x, g, v, h, 0.01, 0.02, 0.9, 0.99, 1e-6)
            o2 = apply_adam(r, T, x2, g2, v2, h2, 0.01, 0.02, 0.9, 0.99, 1e-6)
            write(root, f"adam_t{t}_{tag}", "Adam", a,
                  dict(R=r, T=T, X1=x, X2=x2, G1=g, G2=g2, V1=v, V2=v2, H1=h, H2=h2),
                  dict(X1n=o1[0].astype(dt), X2n=o2[0].astype(dt), V1n=o1[1].astype(dt),
                       V2n=o2[1].astype(dt), H1n=o1[2].astype(dt), H2n=o2[2].astype(dt)), 2)
            # Momentum, standard and Nesterov
            for mode, fn in (("standard", apply_momentum), ("nesterov", apply_nesterov)):
                m = dict(alpha=0.8, beta=0.3, mode=mode, norm_coefficient=0.05)
                xo, vo = fn(r, T, x, g, v, 0.05, 0.8, 0.3)
                write(root, f"momentum_{mode}_t{t}_{tag}", "Momentum", m,
                      dict(R=r, T=T, X=x, G=g, V=v), dict(Xn=xo.astype(dt), Vn=vo.astype(dt)), 1)
            # Adagrad with decay
            ad = dict(decay_factor=0.2, epsilon=1e-5, norm_coefficient=0.03)
            xo, ho = apply_adagrad(r, T, x, g, h, 0.03, 1e-5, 0.2)
            write(root, f"adagrad_t{t}_{tag}", "Adagrad", ad, dict(R=r, T=T, X=x, G=g, H=h),
                  dict(Xn=xo.astype(dt), Hn=ho.astype(dt)), 1)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: preview_training.py BUILD_DIR")
    with tempfile.TemporaryDirectory(prefix="nncc-preview-") as root, \
            tempfile.TemporaryDirectory(prefix="nncc-preview-err-") as eroot:
        cases(root)
        gradient_cases(root, np.random.default_rng(9))
        gradient_errors(sys.argv[1], eroot)
        r = subprocess.run([os.path.join(sys.argv[1], "nncc"), "test-onnx", root],
                           capture_output=True, text=True)
        print(r.stdout, end="")
        n = len(os.listdir(root))
        if r.returncode != 0 or f"{n} passed, 0 failed, 0 unsupported, 0 errors" not in r.stdout:
            sys.exit(f"FAIL: preview training ops\n{r.stderr}")
    print(f"PASS: {n} preview-training cases")


if __name__ == "__main__":
    main()
