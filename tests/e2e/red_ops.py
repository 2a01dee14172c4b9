"""Write ONNX backend-style test folders for the reduction family:
red_ops.py OUTDIR

Reductions (ReduceMin/Prod/L1/L2/LogSum/LogSumExp/SumSquare, bool any/all),
ArgMax/ArgMin, Hardmax, CumSum/CumProd, TopK, the normalizations
(Layer/RMS/Instance/Group/Lp/MeanVariance, LRN, BatchNormalization in
training mode), Einsum, Attention, LinearAttention, FlexAttention and
RotaryEmbedding.

Each folder holds model.onnx and test_data_set_0/{input,output}_K.pb, the
expected outputs computed here with numpy from the ONNX spec's formulas
(an oracle independent of nncc). Unlike the ONNX suite's own copies, axes,
axis and the like are initializers (constant inputs), so the whole path
ONNX import -> rewrite -> fusion -> LLVM runs; onnx_folders.sh runs the folders
with `nncc test-onnx`. Integer inputs are drawn from a small range so
argmax/argmin meet ties.
"""
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

rng = np.random.default_rng(11)
OUT = sys.argv[1]


def write(name, node_type, inputs, outputs, attrs=None, inits=None, opset=18, unread=()):
    """inputs/outputs: lists of (name, array); inits: list of (name, array); unread: names of
    further node outputs that nothing reads (not graph outputs)."""
    d = os.path.join(OUT, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    node = helper.make_node(node_type, [n for n, _ in inputs] + [n for n, _ in inits or []],
                            [n for n, _ in outputs] + list(unread), **(attrs or {}))
    vi = lambda n, a: helper.make_tensor_value_info(
        n, helper.np_dtype_to_tensor_dtype(a.dtype) if hasattr(helper, "np_dtype_to_tensor_dtype")
        else onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype], a.shape)
    g = helper.make_graph([node], name, [vi(n, a) for n, a in inputs], [vi(n, a) for n, a in outputs],
                          [numpy_helper.from_array(a, n) for n, a in inits or []])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(m, os.path.join(d, "model.onnx"))
    for k, (n, a) in enumerate(inputs):
        with open(os.path.join(d, "test_data_set_0", f"input_{k}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(a, n).SerializeToString())
    for k, (n, a) in enumerate(outputs):
        with open(os.path.join(d, "test_data_set_0", f"output_{k}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(a, n).SerializeToString())


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def i64(*v):
    return np.array(v, dtype=np.int64)


# --- reductions, axes a constant input (opset 18) or an attribute (opset 13)
x = f32(3, 4, 5)
xp = np.abs(x) + 0.5
reds = {
    "ReduceMin": lambda a, ax, k: np.min(a, axis=ax, keepdims=k),
    "ReduceProd": lambda a, ax, k: np.prod(a, axis=ax, keepdims=k),
    "ReduceL1": lambda a, ax, k: np.sum(np.abs(a), axis=ax, keepdims=k),
    "ReduceL2": lambda a, ax, k: np.sqrt(np.sum(a * a, axis=ax, keepdims=k)),
    "ReduceLogSum": lambda a, ax, k: np.log(np.sum(a, axis=ax, keepdims=k)),
    "ReduceLogSumExp": lambda a, ax, k: np.log(np.sum(np.exp(a), axis=ax, keepdims=k)),
    "ReduceSumSquare": lambda a, ax, k: np.sum(a * a, axis=ax, keepdims=k),
}
for op, fn in reds.items():
    a = xp if op == "ReduceLogSum" else x
    for ax, keep in (((1,), 1), ((0, 2), 0), ((-1,), 1)):
        tag = "_".join(str(v).replace("-", "m") for v in ax)
        write(f"red_{op}_{tag}_k{keep}", op, [("x", a)],
              [("y", fn(a.astype(np.float64), ax, keep).astype(np.float32))],
              {"keepdims": keep}, [("axes", i64(*ax))])
    write(f"red_{op}_all", op, [("x", a)],
          [("y", fn(a.astype(np.float64), None, 0).astype(np.float32))], {"keepdims": 0})
    write(f"red_{op}_attr13", op, [("x", a)],
          [("y", fn(a.astype(np.float64), (2,), 1).astype(np.float32))],
          {"axes": [2]}, opset=13)
xinf = x.copy()
xinf[0, :, :] = -np.inf  # rows of -inf: log(sum(exp(x))) = -inf
xinf[1, 2, 3] = np.inf
with np.errstate(divide="ignore"):
    lse = np.log(np.sum(np.exp(xinf.astype(np.float64)), axis=1, keepdims=True))
write("red_ReduceLogSumExp_inf", "ReduceLogSumExp", [("x", xinf)], [("y", lse.astype(np.float32))],
      None, [("axes", i64(1))])
xi = rng.integers(-4, 5, size=(3, 4, 5)).astype(np.int32)
write("red_ReduceMin_int32", "ReduceMin", [("x", xi)], [("y", xi.min(axis=1, keepdims=True))],
      None, [("axes", i64(1))])
write("red_ReduceProd_int64", "ReduceProd", [("x", xi.astype(np.int64))],
      [("y", xi.astype(np.int64).prod(axis=2))], {"keepdims": 0}, [("axes", i64(2))])
write("red_ReduceL2_noop", "ReduceL2", [("x", x)], [("y", x)], {"noop_with_empty_axes": 1},
      [("axes", np.zeros((0,), np.int64))])

# --- argmax / argmin, ties among small integers
for op, fn in (("ArgMax", np.argmax), ("ArgMin", np.argmin)):
    for dt in (np.float32, np.int32):
        a = xi.astype(dt)
        for axis in (0, 1, -1):
            for last in (0, 1):
                if last:
                    flip = np.flip(a, axis=axis)
                    want = a.shape[axis] - 1 - fn(flip, axis=axis)
                else:
                    want = fn(a, axis=axis)
                write(f"arg_{op}_{dt.__name__}_{axis}_{last}", op, [("x", a)],
                      [("y", np.expand_dims(want, axis).astype(np.int64))],
                      {"axis": axis, "select_last_index": last}, opset=13)
        write(f"arg_{op}_{dt.__name__}_nokeep", op, [("x", a)],
              [("y", fn(a, axis=1).astype(np.int64))], {"axis": 1, "keepdims": 0}, opset=13)

# --- hardmax, opset 13 (one axis) and 11 (coerced to 2-D at axis)
h = np.round(f32(3, 4, 5) * 2) / 2  # ties on purpose: the first one wins


def hardmax(a, axis):
    am = np.expand_dims(np.argmax(a, axis=axis), axis)
    return (np.arange(a.shape[axis]).reshape([-1 if i == axis % a.ndim else 1 for i in range(a.ndim)])
            == am).astype(a.dtype)


for axis in (0, 1, -1):
    write(f"hardmax13_{axis}".replace("-", "m"), "Hardmax", [("x", h)], [("y", hardmax(h, axis))],
          {"axis": axis}, opset=13)
write("hardmax11_axis1", "Hardmax", [("x", h)],
      [("y", hardmax(h.reshape(3, 20), 1).reshape(3, 4, 5))], {"axis": 1}, opset=11)

# --- cumsum, axis an initializer
c = f32(4, 6)
for axis in (0, 1, -1):
    for excl in (0, 1):
        for rev in (0, 1):
            a = np.flip(c, axis) if rev else c
            s = np.cumsum(a, axis=axis)
            if excl:
                s = s - a
            if rev:
                s = np.flip(s, axis)
            write(f"cumsum_{axis}_{excl}_{rev}".replace("-", "m"), "CumSum", [("x", c)],
                  [("y", s.astype(np.float32))], {"exclusive": excl, "reverse": rev},
                  [("axis", np.array(axis, np.int64))], opset=14)
            pr = np.cumprod(a, axis=axis)
            if excl:
                pr = np.concatenate([np.ones_like(np.take(a, [0], axis=axis)),
                                     np.take(pr, range(a.shape[axis] - 1), axis=axis)], axis=axis)
            if rev:
                pr = np.flip(pr, axis)
            write(f"cumprod_{axis}_{excl}_{rev}".replace("-", "m"), "CumProd", [("x", c)],
                  [("y", pr.astype(np.float32))], {"exclusive": excl, "reverse": rev},
                  [("axis", np.array(axis, np.int64))], opset=26)
ci = xi[0]
write("cumsum_int32", "CumSum", [("x", ci)], [("y", np.cumsum(ci, axis=1).astype(np.int32))],
      None, [("axis", np.array(1, np.int32))], opset=14)

# --- normalizations
X = f32(2, 6, 3, 4).astype(np.float64)


def layernorm(a, axis, w, b, eps):
    ax = tuple(range(axis % a.ndim, a.ndim))
    mean = a.mean(axis=ax, keepdims=True)
    inv = 1 / np.sqrt(((a - mean) ** 2).mean(axis=ax, keepdims=True) + eps)
    return (a - mean) * inv * w + b, mean, inv


for axis in (1, -1):
    w = f32(*X.shape[axis % 4:]).astype(np.float64)
    b = f32(*X.shape[axis % 4:]).astype(np.float64)
    y, mean, inv = layernorm(X, axis, w, b, 1e-3)
    write(f"layernorm_{axis}".replace("-", "m"), "LayerNormalization",
          [("x", X.astype(np.float32)), ("w", w.astype(np.float32)), ("b", b.astype(np.float32))],
          [("y", y.astype(np.float32)), ("mean", mean.astype(np.float32)),
           ("inv", inv.astype(np.float32))], {"axis": axis, "epsilon": 1e-3}, opset=17)
    rms = X / np.sqrt((X * X).mean(axis=tuple(range(axis % 4, 4)), keepdims=True) + 1e-5) * w
    write(f"rmsnorm_{axis}".replace("-", "m"), "RMSNormalization",
          [("x", X.astype(np.float32)), ("w", w.astype(np.float32))],
          [("y", rms.astype(np.float32))], {"axis": axis}, opset=23)
sc, bi = f32(6).astype(np.float64), f32(6).astype(np.float64)
chan = lambda v: v.reshape(1, 6, 1, 1)
m = X.mean(axis=(2, 3), keepdims=True)
v = X.var(axis=(2, 3), keepdims=True)
write("instnorm", "InstanceNormalization",
      [("x", X.astype(np.float32)), ("s", sc.astype(np.float32)), ("b", bi.astype(np.float32))],
      [("y", ((X - m) / np.sqrt(v + 1e-4) * chan(sc) + chan(bi)).astype(np.float32))],
      {"epsilon": 1e-4}, opset=6)
G = X.reshape(2, 3, -1)
gn = ((G - G.mean(axis=2, keepdims=True)) / np.sqrt(G.var(axis=2, keepdims=True) + 1e-5)).reshape(X.shape)
write("groupnorm21", "GroupNormalization",
      [("x", X.astype(np.float32)), ("s", sc.astype(np.float32)), ("b", bi.astype(np.float32))],
      [("y", (gn * chan(sc) + chan(bi)).astype(np.float32))], {"num_groups": 3}, opset=21)
Xz = X.copy()
Xz[1, :, 2, 3] = 0  # a zero norm along axis 1 gives 0, not NaN
gsc, gbi = f32(3).astype(np.float64), f32(3).astype(np.float64)  # opset 18: per group
gn18 = (G - G.mean(axis=2, keepdims=True)) / np.sqrt(G.var(axis=2, keepdims=True) + 1e-5)
gn18 = (gn18 * gsc.reshape(1, 3, 1) + gbi.reshape(1, 3, 1)).reshape(X.shape)
write("groupnorm18", "GroupNormalization",
      [("x", X.astype(np.float32)), ("s", gsc.astype(np.float32)), ("b", gbi.astype(np.float32))],
      [("y", gn18.astype(np.float32))], {"num_groups": 3}, opset=18)
for p in (1, 2):
    nrm = np.sum(np.abs(Xz) ** p, axis=1, keepdims=True) ** (1 / p)
    y = np.where(nrm == 0, 0, Xz / np.where(nrm == 0, 1, nrm))
    write(f"lpnorm_{p}", "LpNormalization", [("x", Xz.astype(np.float32))],
          [("y", y.astype(np.float32))], {"axis": 1, "p": p}, opset=1)
mean = X.mean(axis=(0, 2, 3), keepdims=True)
sd = np.sqrt((X * X).mean(axis=(0, 2, 3), keepdims=True) - mean ** 2)
write("mvn", "MeanVarianceNormalization", [("x", X.astype(np.float32))],
      [("y", ((X - mean) / (sd + 1e-9)).astype(np.float32))], opset=13)
for size in (3, 4):
    sq = np.zeros_like(X)
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    for ch in range(X.shape[1]):
        sq[:, ch] = (X[:, max(0, ch - lo):min(X.shape[1], ch + hi + 1)] ** 2).sum(axis=1)
    y = X / (2.0 + 1e-3 / size * sq) ** 0.6
    write(f"lrn_{size}", "LRN", [("x", X.astype(np.float32))], [("y", y.astype(np.float32))],
          {"size": size, "alpha": 1e-3, "beta": 0.6, "bias": 2.0}, opset=13)

# --- einsum, against numpy's einsum
E = lambda *s: rng.standard_normal(s)  # float64, as the ONNX suite's einsum tests
einsums = [
    ("ij,jk", [E(3, 4), E(4, 5)]),
    ("...ij,...jk->...ik", [E(2, 3, 3, 4), E(3, 4, 2)]),
    ("ij,jk,kl->il", [E(2, 3), E(3, 4), E(4, 2)]),
    ("ii->i", [E(4, 4)]),
    ("ii", [E(4, 4)]),
    ("i,j->ij", [E(3), E(4)]),
    ("bAc,cA->Ab", [E(2, 3, 4), E(4, 3)]),
    ("...i,...i->...", [E(2, 5), E(5)]),
]
for k, (eq, args) in enumerate(einsums):
    write(f"einsum_{k}", "Einsum", [(f"x{j}", a) for j, a in enumerate(args)],
          [("y", np.asarray(np.einsum(eq, *args)))], {"equation": eq}, opset=12)

# --- topk, k an initializer; ties among small integers go by index
for dt in (np.float32, np.int64, np.float64):
    a = rng.integers(-3, 4, size=(3, 6, 4)).astype(dt)
    for axis in (1, -1):
        for largest in (0, 1):
            kk = 3
            order = np.argsort(-a if largest else a, axis=axis, kind="stable")
            idx = np.take(order, np.arange(kk), axis=axis)
            write(f"topk_{dt.__name__}_{axis}_{largest}".replace("-", "m"), "TopK", [("x", a)],
                  [("values", np.take_along_axis(a, idx, axis=axis)), ("indices", idx.astype(np.int64))],
                  {"axis": axis, "largest": largest}, [("k", i64(kk))], opset=11)

# --- batchnorm in training mode: batch statistics, running mean and variance
for shape in ((2, 3, 4, 5), (4, 3, 6)):
    xb = rng.standard_normal(shape)
    s, bb, mu, va = (rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3),
                     rng.random(3) + 0.5)
    ax = tuple(i for i in range(len(shape)) if i != 1)
    bm, bv = xb.mean(axis=ax), xb.var(axis=ax)
    ch = lambda v: v.reshape((1, 3) + (1,) * (len(shape) - 2))
    y = (xb - ch(bm)) / np.sqrt(ch(bv) + 1e-3) * ch(s) + ch(bb)
    f = lambda v: v.astype(np.float32)
    write(f"bn_train_{len(shape)}d", "BatchNormalization",
          [("x", f(xb)), ("s", f(s)), ("b", f(bb)), ("mean", f(mu)), ("var", f(va))],
          [("y", f(y)), ("rm", f(mu * 0.8 + bm * 0.2)), ("rv", f(va * 0.8 + bv * 0.2))],
          {"epsilon": 1e-3, "momentum": 0.8, "training_mode": 1}, opset=15)
    # before opset 14 the outputs say training (Y, mean, var, saved_mean, saved_var), Y alone
    # inference: PyTorch exports a module in train mode at opset 13 as five outputs, nothing
    # reading the last four (this once imported as inference: another loss, silently)
    ins = [("x", f(xb)), ("s", f(s)), ("b", f(bb)), ("mean", f(mu)), ("var", f(va))]
    write(f"bn_train_opset13_{len(shape)}d", "BatchNormalization", ins, [("y", f(y))],
          {"epsilon": 1e-3, "momentum": 0.8}, opset=13, unread=("rm", "rv", "sm", "sv"))
    write(f"bn_train_opset9_{len(shape)}d", "BatchNormalization", ins,
          [("y", f(y)), ("rm", f(mu * 0.8 + bm * 0.2)), ("rv", f(va * 0.8 + bv * 0.2))],
          {"epsilon": 1e-3, "momentum": 0.8}, opset=9, unread=("sm", "sv"))
    yi = (xb - ch(mu)) / np.sqrt(ch(va) + 1e-3) * ch(s) + ch(bb)
    write(f"bn_infer_opset13_{len(shape)}d", "BatchNormalization", ins, [("y", f(yi))],
          {"epsilon": 1e-3, "momentum": 0.8}, opset=13)

# --- reduce_max / reduce_min over bool: any / all
bl = rng.random((4, 3, 5)) < 0.4
for op, fn in (("ReduceMax", np.any), ("ReduceMin", np.all)):
    for ax in ((1,), (0, 2)):
        write(f"bool_{op}_{len(ax)}", op, [("x", bl)], [("y", fn(bl, axis=ax, keepdims=True))],
              None, [("axes", i64(*ax))], opset=20)


# --- attention (opset 23), numpy's softmax(scale * Q K^T + bias) V
def np_attention(Q, K, V, mask=None, pk=None, pv=None, scale=None, causal=False, hq=None, hkv=None,
                 cap=0.0, mode=0):
    three = Q.ndim == 3
    if three:
        split = lambda x, h: x.reshape(x.shape[0], x.shape[1], h, -1).transpose(0, 2, 1, 3)
        Q, K, V = split(Q, hq), split(K, hkv), split(V, hkv)
    scale = 1 / np.sqrt(Q.shape[3]) if scale is None else scale
    if pk is not None:
        K, V = np.concatenate([pk, K], 2), np.concatenate([pv, V], 2)
    present = (K, V)
    sq, skv = Q.shape[2], K.shape[2]
    bias = np.zeros((sq, skv))
    if mask is not None:
        mask = np.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, skv - mask.shape[-1])],
                      constant_values=-np.inf)
        bias = bias + mask
    if causal:
        past = 0 if pk is None else pk.shape[2]
        bias = bias + np.where(np.arange(skv)[None, :] > np.arange(sq)[:, None] + past, -np.inf, 0)
    rep = Q.shape[1] // K.shape[1]
    K, V = np.repeat(K, rep, axis=1), np.repeat(V, rep, axis=1)
    qk = scale * Q @ K.transpose(0, 1, 3, 2)
    if cap > 0:
        qk = cap * np.tanh(qk / cap)
    qb = qk + bias
    p = np.exp(qb - qb.max(-1, keepdims=True))
    p = p / p.sum(-1, keepdims=True)
    y = p @ V
    if three:
        y = y.transpose(0, 2, 1, 3).reshape(y.shape[0], sq, -1)
    return y, present[0], present[1], [qk, qk, qb, p][mode]


A = lambda *s: rng.standard_normal(s).astype(np.float32)
att = [
    ("att4d_causal_mask", dict(Q=A(2, 3, 4, 8), K=A(2, 3, 6, 8), V=A(2, 3, 6, 5), mask=A(4, 6)),
     {"is_causal": 1}),
    ("att4d_gqa_past_pad", dict(Q=A(2, 6, 3, 4), K=A(2, 2, 3, 4), V=A(2, 2, 3, 4), mask=A(2, 1, 3, 5),
                                pk=A(2, 2, 4, 4), pv=A(2, 2, 4, 4)), {"is_causal": 1, "scale": 0.3}),
    ("att3d_gqa_softcap_qk2", dict(Q=A(2, 4, 24), K=A(2, 5, 8), V=A(2, 5, 12), mask=A(4, 5),
                                   hq=6, hkv=2), {"softcap": 1.5, "qk_matmul_output_mode": 2}),
    ("att3d_past_qk3", dict(Q=A(1, 3, 12), K=A(1, 2, 12), V=A(1, 2, 12), pk=A(1, 3, 1, 4),
                            pv=A(1, 3, 1, 4), hq=3, hkv=3), {"qk_matmul_output_mode": 3}),
]
for name, a, attrs in att:
    attrs = dict(attrs)
    if "hq" in a:
        attrs["q_num_heads"], attrs["kv_num_heads"] = a["hq"], a["hkv"]
    y, pk_, pv_, qk = np_attention(a["Q"], a["K"], a["V"], a.get("mask"), a.get("pk"), a.get("pv"),
                                   attrs.get("scale"), attrs.get("is_causal", 0), a.get("hq"),
                                   a.get("hkv"), attrs.get("softcap", 0.0),
                                   attrs.get("qk_matmul_output_mode", 0))
    ins = [(n, a[k]) for n, k in (("Q", "Q"), ("K", "K"), ("V", "V"))]
    names = ["Q", "K", "V", "attn_mask" if "mask" in a else "", "past_key" if "pk" in a else "",
             "past_value" if "pv" in a else ""]
    for n, k in (("attn_mask", "mask"), ("past_key", "pk"), ("past_value", "pv")):
        if k in a:
            ins.append((n, a[k]))
    outs = [("Y", y.astype(np.float32))]
    onames = ["Y", "", "", ""]
    if "pk" in a:
        outs += [("present_key", pk_.astype(np.float32)), ("present_value", pv_.astype(np.float32))]
        onames[1:3] = ["present_key", "present_value"]
    outs.append(("qk", qk.astype(np.float32)))
    onames[3] = "qk"
    d = os.path.join(OUT, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    while names and names[-1] == "":
        names.pop()
    node = helper.make_node("Attention", names, onames, **attrs)
    vi = lambda n, x: helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, x.shape)
    g = helper.make_graph([node], name, [vi(n, x) for n, x in ins], [vi(n, x) for n, x in outs])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 23)]),
              os.path.join(d, "model.onnx"))
    for kind, lst in (("input", ins), ("output", outs)):
        for j, (n, x) in enumerate(lst):
            with open(os.path.join(d, "test_data_set_0", f"{kind}_{j}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(x, n).SerializeToString())


# --- linear attention (opset 27): the gated delta recurrence, unrolled
def np_linear_attention(q, k, v, hq, hkv, state=None, decay=None, beta=None, erase=None, scale=None):
    B, T, _ = q.shape
    split = lambda x, h: x.reshape(B, T, h, -1).transpose(0, 2, 1, 3).astype(np.float64)
    q4, k4, v4 = split(q, hq), split(k, hkv), split(v, hkv)
    dk, dv = q4.shape[3], v4.shape[3]
    S = np.zeros((B, hkv, dk, dv)) if state is None else state.astype(np.float64)
    scale = 1 / np.sqrt(dk) if scale is None else scale
    out = np.zeros((B, hq, T, dv))
    for t in range(T):
        kt, vt = k4[:, :, t], v4[:, :, t]
        if decay is not None:
            g = split(decay, hkv)[:, :, t] if decay.shape[2] != hkv else decay[:, t, :, None]
            S = S * np.exp(g)[..., None]
        if beta is not None:
            ke = kt * split(erase, hkv)[:, :, t] if erase is not None else kt
            vt = beta[:, t, :, None] * (vt - np.einsum("bhdm,bhd->bhm", S, ke))
        S = S + kt[..., :, None] * vt[..., None, :]
        out[:, :, t] = scale * np.einsum("bhd,bhdm->bhm", q4[:, :, t], np.repeat(S, hq // hkv, axis=1))
    return out.transpose(0, 2, 1, 3).reshape(B, T, -1), S


L = lambda *s: (rng.standard_normal(s) * 0.5).astype(np.float32)
st0 = L(2, 2, 4, 3)
la_dec = -np.abs(L(2, 3, 8))
la_beta = np.abs(L(2, 3, 2))
la_erase = np.abs(L(2, 3, 8))
lq, lk, lv = L(2, 3, 16), L(2, 3, 8), L(2, 3, 6)
y, S = np_linear_attention(lq, lk, lv, 4, 2, st0, la_dec, la_beta, la_erase, 0.3)
d = os.path.join(OUT, "linattn_erase_gqa")
os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
ins = [("query", lq), ("key", lk), ("value", lv), ("past_state", st0), ("decay", la_dec),
       ("beta", la_beta), ("erase_gate", la_erase)]
outs = [("output", y.astype(np.float32)), ("present_state", S.astype(np.float32))]
node = helper.make_node("LinearAttention", [n for n, _ in ins], [n for n, _ in outs],
                        q_num_heads=4, kv_num_heads=2, scale=0.3)
vi = lambda n, x: helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, x.shape)
g = helper.make_graph([node], "linattn", [vi(n, x) for n, x in ins], [vi(n, x) for n, x in outs])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 27)]), os.path.join(d, "model.onnx"))
for kind, lst in (("input", ins), ("output", outs)):
    for j, (n, x) in enumerate(lst):
        with open(os.path.join(d, "test_data_set_0", f"{kind}_{j}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x, n).SerializeToString())

# --- FlexAttention (ai.onnx.preview, no modifier subgraphs): 3 query heads per KV head
fq, fk, fv = E(2, 6, 3, 4), E(2, 2, 5, 4), E(2, 2, 5, 3)
fy = np_attention(fq, fk, fv, scale=0.7)[0]
d = os.path.join(OUT, "flexattn_gqa")
os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
ins, outs = [("Q", fq), ("K", fk), ("V", fv)], [("Y", fy)]
node = helper.make_node("FlexAttention", ["Q", "K", "V"], ["Y"], domain="ai.onnx.preview", scale=0.7)
vi = lambda n, x: helper.make_tensor_value_info(n, onnx.TensorProto.DOUBLE, x.shape)
g = helper.make_graph([node], "flex", [vi(n, x) for n, x in ins], [vi(n, x) for n, x in outs])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 26),
                                              helper.make_opsetid("ai.onnx.preview", 1)]),
          os.path.join(d, "model.onnx"))
for kind, lst in (("input", ins), ("output", outs)):
    for j, (n, x) in enumerate(lst):
        with open(os.path.join(d, "test_data_set_0", f"{kind}_{j}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(x, n).SerializeToString())

# --- RotaryEmbedding: position ids and caches as initializers (folded gathers)
def np_rotary(x, cos, sin, pos=None, il=False, rd=0, heads=None):
    shape = x.shape
    x = x.transpose(0, 2, 1, 3) if x.ndim == 4 else x.reshape(shape[0], shape[1], heads, -1)
    rd = rd or x.shape[3]
    if pos is not None:
        cos, sin = cos[pos], sin[pos]
    cos, sin = cos[:, :, None, :], sin[:, :, None, :]
    xr = x[..., :rd]
    x1, x2 = (xr[..., 0::2], xr[..., 1::2]) if il else (xr[..., :rd // 2], xr[..., rd // 2:])
    re, im = cos * x1 - sin * x2, sin * x1 + cos * x2
    y = np.stack([re, im], -1).reshape(xr.shape) if il else np.concatenate([re, im], -1)
    y = np.concatenate([y, x[..., rd:]], -1)
    return y.reshape(shape) if len(shape) == 3 else y.transpose(0, 2, 1, 3)


for il in (0, 1):
    rx = A(2, 3, 24)
    rc, rs = A(10, 2), A(10, 2)
    rp = rng.integers(0, 10, size=(2, 3)).astype(np.int64)
    write(f"rotary_3d_pos_{il}", "RotaryEmbedding", [("x", rx)],
          [("y", np_rotary(rx, rc, rs, rp, il, 4, 4).astype(np.float32))],
          {"interleaved": il, "rotary_embedding_dim": 4, "num_heads": 4},
          [("cos_cache", rc), ("sin_cache", rs), ("position_ids", rp)], opset=23)
