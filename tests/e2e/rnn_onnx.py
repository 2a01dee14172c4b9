"""ONNX RNN/GRU/LSTM attributes that PyTorch does not export, against a
numpy reference written here from the ONNX operator spec:
rnn_onnx.py BUILD_DIR

Each case builds a one-node model with onnx.helper (weights, biases,
peepholes and initial states as initializers; sequence_lens as an
initializer or a graph input), compiles it with BUILD_DIR/nncc, runs it
with BUILD_DIR/nncc-run and compares every output at 1e-5 + 1e-4 |ref|.
Covers reverse and bidirectional directions, layout 1, variable
sequence_lens (masking), clip, non-default activations with alpha/beta,
GRU linear_before_reset 0/1, LSTM input_forget and peepholes, zero and
given initial states, and a symbolic batch bound with --shape. Prints
PASS/FAIL per case; exit 1 if any failed.
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ACT = {
    "Sigmoid": lambda x, a, b: 1 / (1 + np.exp(-x)),
    "Tanh": lambda x, a, b: np.tanh(x),
    "Relu": lambda x, a, b: np.maximum(x, 0),
    "LeakyRelu": lambda x, a, b: np.where(x >= 0, x, a * x),
    "HardSigmoid": lambda x, a, b: np.clip(a * x + b, 0, 1),
    "Affine": lambda x, a, b: a * x + b,
    "ScaledTanh": lambda x, a, b: a * np.tanh(b * x),
    "Softsign": lambda x, a, b: x / (1 + np.abs(x)),
    "Softplus": lambda x, a, b: np.log1p(np.exp(x)),
    "Elu": lambda x, a, b: np.where(x >= 0, x, a * (np.exp(x) - 1)),
}
DEFAULT_AB = {"LeakyRelu": (0.01, 0), "HardSigmoid": (0.2, 0.5), "Affine": (1, 0),
              "ScaledTanh": (1, 1), "Elu": (1, 0)}


def reference(cell, X, W, R, B, lens, h0, c0, P, acts, clip, direction, layout, lbr, input_forget):
    """Y, Y_h, Y_c following the ONNX spec, one batch element at a time."""
    if layout:
        X = X.transpose(1, 0, 2)
        h0 = None if h0 is None else h0.transpose(1, 0, 2)
        c0 = None if c0 is None else c0.transpose(1, 0, 2)
    seq, batch, _ = X.shape
    ndir, gh, _ = W.shape
    ng = {"RNN": 1, "GRU": 3, "LSTM": 4}[cell]
    H = gh // ng
    per = {"RNN": 1, "GRU": 2, "LSTM": 3}[cell]
    Y = np.zeros((seq, ndir, batch, H))
    Yh = np.zeros((ndir, batch, H))
    Yc = np.zeros((ndir, batch, H))
    for d in range(ndir):
        f = [(lambda x, a=a: ACT[a[0]](np.clip(x, -clip, clip) if clip else x, a[1], a[2]))
             for a in acts[d * per:(d + 1) * per]]
        w, r = W[d], R[d]
        b = B[d] if B is not None else np.zeros(2 * gh)
        wb, rb = b[:gh], b[gh:]
        p = P[d] if P is not None else np.zeros(3 * H)
        back = direction == "reverse" or d == 1
        for n in range(batch):
            L = seq if lens is None else int(lens[n])
            h = h0[d, n] if h0 is not None else np.zeros(H)
            c = c0[d, n] if c0 is not None else np.zeros(H)
            for t in (range(L - 1, -1, -1) if back else range(L)):
                x = X[t, n]
                g = [x @ w[k * H:(k + 1) * H].T + wb[k * H:(k + 1) * H] for k in range(ng)]
                rr = [r[k * H:(k + 1) * H] for k in range(ng)]
                rbs = [rb[k * H:(k + 1) * H] for k in range(ng)]
                if cell == "RNN":
                    h = f[0](g[0] + h @ rr[0].T + rbs[0])
                elif cell == "GRU":
                    z = f[0](g[0] + h @ rr[0].T + rbs[0])
                    rg = f[0](g[1] + h @ rr[1].T + rbs[1])
                    if lbr:
                        hh = f[1](g[2] + rg * (h @ rr[2].T + rbs[2]))
                    else:
                        hh = f[1](g[2] + (rg * h) @ rr[2].T + rbs[2])
                    h = (1 - z) * hh + z * h
                else:
                    i = f[0](g[0] + h @ rr[0].T + rbs[0] + p[:H] * c)
                    fg = 1 - i if input_forget else f[0](g[2] + h @ rr[2].T + rbs[2] + p[2 * H:] * c)
                    cc = f[1](g[3] + h @ rr[3].T + rbs[3])
                    c = fg * c + i * cc
                    o = f[0](g[1] + h @ rr[1].T + rbs[1] + p[H:2 * H] * c)
                    h = o * f[2](c)
                Y[t, d, n] = h
            Yh[d, n] = h
            Yc[d, n] = c
    if layout:
        return Y.transpose(2, 0, 1, 3), Yh.transpose(1, 0, 2), Yc.transpose(1, 0, 2)
    return Y, Yh, Yc


CASES = [
    # name, cell, direction, layout, extra attributes, options
    ("rnn_reverse_lens", "RNN", "reverse", 0, {}, {"lens": [4, 2, 3]}),
    ("rnn_bidir_relu_clip", "RNN", "bidirectional", 0,
     {"activations": ["Relu", "LeakyRelu"], "activation_alpha": [0.3], "clip": 1.5}, {}),
    ("gru_bidir_layout1_lens_input", "GRU", "bidirectional", 1, {},
     {"lens": [3, 4, 1], "lens_input": True, "h0": True}),
    ("gru_lbr_hardsigmoid", "GRU", "forward", 0,
     {"linear_before_reset": 1, "activations": ["HardSigmoid", "ScaledTanh"],
      "activation_alpha": [0.25, 0.9], "activation_beta": [0.45, 1.1]}, {"h0": True}),
    ("lstm_bidir_peep_lens", "LSTM", "bidirectional", 0, {}, {"lens": [2, 4, 3], "peep": True,
                                                               "h0": True}),
    ("lstm_reverse_forget_clip", "LSTM", "reverse", 1, {"input_forget": 1, "clip": 0.8},
     {"peep": True, "h0": True}),
    ("gru_lbr_zero_state_dynbatch", "GRU", "reverse", 0, {"linear_before_reset": 1},
     {"lens": [4, 1, 3], "dynbatch": True}),
    ("lstm_peep_zero_state", "LSTM", "forward", 1, {}, {"peep": True, "lens": [3, 4, 2]}),
    ("rnn_dynbatch", "RNN", "bidirectional", 0, {}, {"dynbatch": True}),
    ("gru_softsign_elu", "GRU", "bidirectional", 0,
     {"activations": ["Softsign", "Elu", "Sigmoid", "Softplus"], "activation_alpha": [0.7]},
     {"h0": True}),
    ("lstm_affine", "LSTM", "forward", 0,
     {"activations": ["Sigmoid", "Affine", "Tanh"], "activation_alpha": [0.7],
      "activation_beta": [0.2]}, {}),
]


def run_case(build, outdir, case, rng):
    name, cell, direction, layout, attrs, opt = case
    seq, batch, I, H = 4, 3, 5, 6
    ndir = 2 if direction == "bidirectional" else 1
    ng = {"RNN": 1, "GRU": 3, "LSTM": 4}[cell]
    X = rng.standard_normal((batch, seq, I) if layout else (seq, batch, I)).astype(np.float32)
    W = (0.5 * rng.standard_normal((ndir, ng * H, I))).astype(np.float32)
    R = (0.5 * rng.standard_normal((ndir, ng * H, H))).astype(np.float32)
    B = (0.3 * rng.standard_normal((ndir, 2 * ng * H))).astype(np.float32)
    st = (batch, ndir, H) if layout else (ndir, batch, H)
    h0 = rng.standard_normal(st).astype(np.float32) if opt.get("h0") else None
    c0 = rng.standard_normal(st).astype(np.float32) if opt.get("h0") and cell == "LSTM" else None
    P = (0.5 * rng.standard_normal((ndir, 3 * H))).astype(np.float32) if opt.get("peep") else None
    lens = np.array(opt["lens"], dtype=np.int32) if "lens" in opt else None
    per = {"RNN": 1, "GRU": 2, "LSTM": 3}[cell]
    names = attrs.get("activations") or (["Tanh"] if cell == "RNN" else
                                         ["Sigmoid", "Tanh"] if cell == "GRU" else
                                         ["Sigmoid", "Tanh", "Tanh"])
    names = list(names) * (ndir if len(names) == per else 1)
    al, bl = list(attrs.get("activation_alpha", [])), list(attrs.get("activation_beta", []))
    acts = []
    for a in names:
        da, db = DEFAULT_AB.get(a, (1, 0))
        alpha = al.pop(0) if a in DEFAULT_AB and al else da
        beta = bl.pop(0) if a in ("HardSigmoid", "Affine", "ScaledTanh") and bl else db
        acts.append((a, alpha, beta))
    if "activations" in attrs:
        attrs = dict(attrs, activations=names)
    Y, Yh, Yc = reference(cell, X.astype(np.float64), W, R, B, lens,
                          None if h0 is None else h0.astype(np.float64),
                          None if c0 is None else c0.astype(np.float64), P, acts,
                          attrs.get("clip", 0), direction, layout,
                          attrs.get("linear_before_reset", 0), attrs.get("input_forget", 0))
    inits = [numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R"),
             numpy_helper.from_array(B, "B")]
    ins = ["X", "W", "R", "B", "", "", "", ""]
    xdims = list(X.shape)
    if opt.get("dynbatch"):  # a symbolic batch, bound with --shape at compile time
        xdims[0 if layout else 1] = "N"
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, xdims)]
    feeds = {"X": X}
    if lens is not None:
        ins[4] = "L"
        if opt.get("lens_input"):
            graph_inputs.append(helper.make_tensor_value_info("L", TensorProto.INT32, lens.shape))
            feeds["L"] = lens
        else:
            inits.append(numpy_helper.from_array(lens, "L"))
    if h0 is not None:
        ins[5] = "h0"
        inits.append(numpy_helper.from_array(h0, "h0"))
    if c0 is not None:
        ins[6] = "c0"
        inits.append(numpy_helper.from_array(c0, "c0"))
    if P is not None:
        ins[7] = "P"
        inits.append(numpy_helper.from_array(P, "P"))
    nin = {"RNN": 6, "GRU": 6, "LSTM": 8}[cell]
    ins = ins[:nin]
    while ins and not ins[-1]:
        ins.pop()
    outs = ["Y", "Y_h"] + (["Y_c"] if cell == "LSTM" else [])
    refs = {"Y": Y, "Y_h": Yh, "Y_c": Yc}
    node = helper.make_node(cell, ins, outs, hidden_size=H, direction=direction, layout=layout,
                            **attrs)
    g = helper.make_graph([node], name.replace("-", "_"), graph_inputs,
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, refs[o].shape)
                           for o in outs], initializer=inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    base = os.path.join(outdir, name)
    onnx.save(model, base + ".onnx")
    args = []
    for k, v in feeds.items():
        np.save(f"{base}.{k}.npy", v)
        args += ["-i", f"{k}={base}.{k}.npy"]
    os.makedirs(base + ".out", exist_ok=True)
    bind = ["--shape", "X=" + ",".join(map(str, X.shape))] if opt.get("dynbatch") else []
    for cmd in ([os.path.join(build, "nncc"), base + ".onnx", "-o", base + ".so", *bind],
                [os.path.join(build, "nncc-run"), base + ".so", *args, "-o", base + ".out"]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            return f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()}"
    for o in outs:
        got = np.load(os.path.join(base + ".out", o + ".npy")).astype(np.float64)
        if got.shape != refs[o].shape:
            return f"{o}: shape {got.shape} != {refs[o].shape}"
        err = np.abs(got - refs[o])
        if (err > 1e-5 + 1e-4 * np.abs(refs[o])).any():
            return f"{o}: max abs error {err.max():.3g}"
    return None


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} BUILD_DIR", file=sys.stderr)
        return 2
    build = sys.argv[1]
    outdir = os.path.join(build, "e2e-rnn")
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(7)
    failed = 0
    for case in CASES:
        why = run_case(build, outdir, case, rng)
        print(f"{'FAIL' if why else 'PASS'}: rnn {case[0]}{': ' + why if why else ''}")
        failed += why is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
