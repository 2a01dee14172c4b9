"""The cases of the malformed-model corpus (malformed.py runs them).

cases(build) returns (name, kind, make, expected message) tuples: kind is
"onnx" or "ir" (nncc compiles the file) or "so" (nncc-run loads the
library); make(dir) writes the file into dir and returns its path. Each
case triggers one check; the message is what that check prints.
"""
import os
import re
import struct
import subprocess

from onnx import TensorProto, helper

I64_MAX = 2**63 - 1
I64_MIN = -2**63
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLOAT = TensorProto.FLOAT


def write(d, name, data):
    path = os.path.join(d, name)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path


def model(nodes, inputs, outputs, inits=(), opset=17, **kw):
    g = helper.make_graph(nodes, "m", inputs, outputs, initializer=list(inits))
    opsets = [] if opset is None else [helper.make_opsetid("", opset)]
    return helper.make_model(g, producer_name="nncc-malformed", opset_imports=opsets, **kw)


def vi(name, shape, dt=FLOAT):
    return helper.make_tensor_value_info(name, dt, shape)


def onnx_case(build):
    """make() for a ModelProto built by build()."""
    return lambda d: write(d, "model.onnx", build().SerializeToString())


def unary(op, shape=(1, 2, 4, 4), oshape=None, **attrs):
    """A one-node model op(x) with attributes attrs."""
    return lambda: model([helper.make_node(op, ["x"], ["y"], name="n0", **attrs)],
                         [vi("x", list(shape))], [vi("y", oshape)])


def with_init(t, op="Add"):
    """x op t for an initializer t named "w"."""
    def build():
        return model([helper.make_node(op, ["x", "w"], ["y"], name="n0")],
                     [vi("x", [2])], [vi("y", None)], [t])
    return build


def raw(name, dt, dims, data):
    t = TensorProto()
    t.name, t.data_type = name, dt
    t.dims.extend(dims)
    t.raw_data = data
    return t


# ---- ONNX: tensors -----------------------------------------------------------

def tensor_cases():
    floats = TensorProto(name="w", data_type=FLOAT, dims=[2], float_data=[1.0, 2.0, 3.0])
    seg = raw("w", FLOAT, [2], b"\0" * 8)
    seg.segment.begin, seg.segment.end = 0, 1
    string = TensorProto(name="w", data_type=TensorProto.STRING, dims=[1], string_data=[b"a"])
    return [
        ("raw-data-short", with_init(raw("w", FLOAT, [2], b"\0" * 4)),
         'raw_data holds 4 bytes; shape and type need 8'),
        ("raw-data-long", with_init(raw("w", FLOAT, [2], b"\0" * 12)),
         'raw_data holds 12 bytes; shape and type need 8'),
        ("raw-data-huge-shape", with_init(raw("w", FLOAT, [1 << 40], b"\0" * 8)),
         'raw_data holds 8 bytes; shape and type need 4398046511104'),
        ("float-data-count", with_init(floats), 'float_data holds 3 values; the shape needs 2'),
        ("dim-product-overflow", with_init(raw("w", FLOAT, [1 << 32, 1 << 32], b"")),
         'element count overflows'),
        ("byte-size-overflow", with_init(raw("w", FLOAT, [1 << 62], b"")), 'byte size overflows'),
        ("negative-dim-initializer", with_init(raw("w", FLOAT, [-2], b"")),
         'negative dimension -2'),
        ("rank-over-max-initializer", with_init(raw("w", FLOAT, [1] * 9, b"\0" * 4)),
         'rank 9 exceeds the supported 8'),
        ("segmented-tensor", with_init(seg), 'segmented tensors are unsupported'),
        ("string-tensor", with_init(string), 'element type string is unsupported'),
        ("sparse-initializer", sparse_init, 'sparse initializers are unsupported'),
    ]


def sparse_init():
    m = with_init(raw("w", FLOAT, [2], b"\0" * 8))()
    sp = m.graph.sparse_initializer.add()
    sp.values.CopyFrom(raw("s", FLOAT, [1], b"\0" * 4))
    sp.dims.extend([4])
    return m


# ---- ONNX: graph structure -----------------------------------------------------

def graph_cases():
    def neg_input():
        return unary("Relu", shape=(2, -3))()

    def deep_input():
        return unary("Relu", shape=[1] * 9)()

    def huge_input():
        return unary("Relu", shape=(2, I64_MAX))()

    def undefined():
        return model([helper.make_node("Relu", ["nowhere"], ["y"], name="n0")],
                     [vi("x", [2])], [vi("y", [2])])

    def twice():
        return model([helper.make_node("Relu", ["x"], ["y"], name="a"),
                      helper.make_node("Relu", ["x"], ["y"], name="b")],
                     [vi("x", [2])], [vi("y", [2])])

    def unordered():
        return model([helper.make_node("Relu", ["h"], ["y"], name="a"),
                      helper.make_node("Relu", ["x"], ["h"], name="b")],
                     [vi("x", [2])], [vi("y", [2])])

    def no_op_type():
        return model([helper.make_node("", ["x"], ["y"], name="a")], [vi("x", [2])], [vi("y", [2])])

    def no_graph():
        m = unary("Relu")()
        m.ClearField("graph")
        return m

    def deep_if():
        """If nodes nested 120 deep: the nesting limit refuses it before unpacking."""
        out = vi("y", [1])
        g = leaf = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "leaf", [], [out])
        for i in range(120):
            node = helper.make_node("If", ["c"], ["y"], name=f"if{i}", then_branch=g, else_branch=leaf)
            g = helper.make_graph([node], f"g{i}", [], [out])
        return model(list(g.node), [vi("x", [1]), vi("c", [], TensorProto.BOOL)], [out])

    def function_cycle():
        """Local functions F -> G -> F: never expanded, so refused as unknown ops."""
        f = helper.make_function("local", "F", ["a"], ["b"],
                                 [helper.make_node("G", ["a"], ["b"], domain="local")],
                                 [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])
        gfn = helper.make_function("local", "G", ["a"], ["b"],
                                   [helper.make_node("F", ["a"], ["b"], domain="local")],
                                   [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])
        m = model([helper.make_node("F", ["x"], ["y"], name="call", domain="local")],
                  [vi("x", [2])], [vi("y", [2])])
        m.functions.extend([f, gfn])
        m.opset_import.append(helper.make_opsetid("local", 1))
        return m

    def unsupported():
        return unary("Unique")()

    return [
        ("negative-dim-input", neg_input, 'graph input "x": negative dimension -3'),
        ("rank-over-max-input", deep_input, 'graph input "x": rank 9 exceeds'),
        ("huge-input-dim", huge_input, 'value "x" has a shape of more than'),
        ("undefined-input", undefined, '"nowhere"'),
        ("output-defined-twice", twice, 'output "y" is already defined'),
        ("nodes-out-of-order", unordered, 'nodes must be in topological order'),
        ("node-without-op-type", no_op_type, 'node 0 has no op_type'),
        ("model-without-graph", no_graph, 'it has no graph'),
        ("nested-subgraph-depth", deep_if, 'protobuf parse failed'),
        ("function-cycle", function_cycle, 'unsupported operators: local.F (node "call")'),
        ("unsupported-op", unsupported, 'unsupported operators: Unique'),
    ]


# ---- ONNX: opsets and attributes ---------------------------------------------------

def attr_cases():
    def opset(v):
        return lambda: model([helper.make_node("Relu", ["x"], ["y"], name="n0")],
                             [vi("x", [2])], [vi("y", [2])], opset=v)

    def bn(eps):
        def build():
            c = [raw(n, FLOAT, [2], b"\0" * 8) for n in ("s", "b", "m", "v")]
            return model([helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"],
                                           name="n0", epsilon=eps)],
                         [vi("x", [1, 2, 3])], [vi("y", None)], c)
        return build

    def gemm(**a):
        return lambda: model([helper.make_node("Gemm", ["x", "x"], ["y"], name="n0", **a)],
                             [vi("x", [2, 2])], [vi("y", None)])

    def red(op, **a):
        return unary(op, **a)

    def attr_twice():
        m = unary("Relu")()
        n = m.graph.node[0]
        n.attribute.extend([helper.make_attribute("alpha", 1.0), helper.make_attribute("alpha", 2.0)])
        n.op_type = "LeakyRelu"
        return m

    def k_topk(**a):
        def build():
            k = helper.make_tensor("k", TensorProto.INT64, [1], [1])
            return model([helper.make_node("TopK", ["x", "k"], ["y", "i"], name="n0", **a)],
                         [vi("x", [2, 4])], [vi("y", None), vi("i", None, TensorProto.INT64)], [k])
        return build

    def trilu(**a):
        return unary("Trilu", shape=(3, 3), **a)

    def cumsum(**a):
        def build():
            ax = helper.make_tensor("ax", TensorProto.INT64, [], [0])
            return model([helper.make_node("CumSum", ["x", "ax"], ["y"], name="n0", **a)],
                         [vi("x", [4])], [vi("y", None)], [ax])
        return build

    def reshape(**a):
        def build():
            s = helper.make_tensor("s", TensorProto.INT64, [1], [8])
            return model([helper.make_node("Reshape", ["x", "s"], ["y"], name="n0", **a)],
                         [vi("x", [2, 4])], [vi("y", None)], [s])
        return build

    flag = 'must be 0 or 1, got '
    return [
        ("opset-999", opset(999), 'imports opset 999 of the default ONNX domain; nncc knows opsets up to'),
        ("opset-28", opset(28), 'imports opset 28 of the default ONNX domain'),
        ("opset-missing", opset(None), 'imports no opset version for the default ONNX domain'),
        ("keepdims-3", red("ReduceMax", keepdims=3), '"keepdims" ' + flag + '3'),
        ("keepdims-negative", red("ReduceMean", keepdims=-1), '"keepdims" ' + flag + '-1'),
        ("ceil-mode-7", unary("MaxPool", kernel_shape=[2, 2], ceil_mode=7), '"ceil_mode" ' + flag + '7'),
        ("count-include-pad-2", unary("AveragePool", kernel_shape=[2, 2], count_include_pad=2),
         '"count_include_pad" ' + flag + '2'),
        ("transA-int64-min", gemm(transA=I64_MIN), '"transA" ' + flag + str(I64_MIN)),
        ("transB-2", gemm(transB=2), '"transB" ' + flag + '2'),
        ("epsilon-nan", bn(float("nan")), '"epsilon" must be finite, got nan'),
        ("epsilon-inf", bn(float("inf")), '"epsilon" must be finite, got inf'),
        ("epsilon-negative", bn(-1.0), '"epsilon" must be non-negative, got -1'),
        ("select-last-index-5", unary("ArgMax", select_last_index=5), '"select_last_index" ' + flag + '5'),
        ("noop-with-empty-axes-2", red("ReduceSum", noop_with_empty_axes=2), '"noop_with_empty_axes" ' + flag + '2'),
        ("largest-9", k_topk(largest=9), '"largest" ' + flag + '9'),
        ("sorted-3", k_topk(sorted=3), '"sorted" ' + flag + '3'),
        ("upper-2", trilu(upper=2), '"upper" ' + flag + '2'),
        ("exclusive-3", cumsum(exclusive=3), '"exclusive" ' + flag + '3'),
        ("reverse-4", cumsum(reverse=4), '"reverse" ' + flag + '4'),
        ("allowzero-2", reshape(allowzero=2), '"allowzero" ' + flag + '2'),
        ("storage-order-2", unary("MaxPool", kernel_shape=[2, 2], storage_order=2), '"storage_order" ' + flag + '2'),
        ("attribute-twice", attr_twice, 'attribute "alpha" is given twice'),
        ("attribute-wrong-kind", unary("MaxPool", kernel_shape=2), 'attribute "kernel_shape" is of kind int; expected ints'),
        ("attribute-unknown", unary("Relu", bogus=1), 'unsupported attribute "bogus"'),
    ]


# ---- ONNX: shape arithmetic ---------------------------------------------------------

def shape_cases():
    def conv_t():
        w = raw("w", FLOAT, [2, 2, 2, 2], b"\0" * 64)
        return model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="n0",
                                       strides=[I64_MAX, 1])],
                     [vi("x", [1, 2, 4, 4])], [vi("y", None)], [w])

    def conv_pads():
        w = raw("w", FLOAT, [2, 2, 2, 2], b"\0" * 64)
        return model([helper.make_node("Conv", ["x", "w"], ["y"], name="n0",
                                       pads=[I64_MAX, 0, I64_MAX, 0])],
                     [vi("x", [1, 2, 4, 4])], [vi("y", None)], [w])

    def pad_huge():
        p = helper.make_tensor("p", TensorProto.INT64, [2], [I64_MAX, I64_MAX])
        return model([helper.make_node("Pad", ["x", "p"], ["y"], name="n0")],
                     [vi("x", [4])], [vi("y", None)], [p])

    def concat_huge():
        return model([helper.make_node("Concat", ["x", "x", "x"], ["y"], name="n0", axis=0)],
                     [vi("x", [I64_MAX // 2])], [vi("y", None)])

    def expand_huge():
        s = helper.make_tensor("s", TensorProto.INT64, [3], [1 << 40, 1 << 40, 4])
        return model([helper.make_node("Expand", ["x", "s"], ["y"], name="n0")],
                     [vi("x", [4])], [vi("y", None)], [s])

    def tile_huge():
        r = helper.make_tensor("r", TensorProto.INT64, [1], [I64_MAX])
        return model([helper.make_node("Tile", ["x", "r"], ["y"], name="n0")],
                     [vi("x", [4])], [vi("y", None)], [r])

    def reshape_huge():
        s = helper.make_tensor("s", TensorProto.INT64, [2], [1 << 40, 1 << 40])
        return model([helper.make_node("Reshape", ["x", "s"], ["y"], name="n0")],
                     [vi("x", [4])], [vi("y", None)], [s])

    return [
        ("pool-stride-int64-max-ceil", unary("MaxPool", kernel_shape=[2, 2], strides=[I64_MAX, 1],
                                             ceil_mode=1), 'index arithmetic overflows'),
        ("pool-dim-int64-max-ceil", unary("MaxPool", shape=(1, 1, I64_MAX, 4), kernel_shape=[2, 2],
                                          ceil_mode=1), 'value "x" has a shape of more than'),
        ("pool-pads-overflow", unary("AveragePool", kernel_shape=[2, 2], pads=[I64_MAX, 0, I64_MAX, 0]),
         'window size overflows'),
        ("pool-dilation-overflow", unary("MaxPool", kernel_shape=[3, 2], dilations=[I64_MAX, 1]),
         'window size overflows'),
        ("pool-stride-zero", unary("MaxPool", kernel_shape=[2, 2], strides=[0, 1]),
         'strides value 0 is invalid'),
        ("pool-negative-pads", unary("MaxPool", kernel_shape=[2, 2], pads=[-1, 0, 0, 0]),
         'pads value -1 is invalid'),
        ("pool-window-too-big", unary("MaxPool", kernel_shape=[9, 2]), 'does not fit the padded input'),
        ("conv-transpose-stride-overflow", conv_t, 'output size overflows'),
        ("conv-pads-overflow", conv_pads, 'window size overflows'),
        ("pad-overflow", pad_huge, 'padded size overflows'),
        ("concat-overflow", concat_huge, 'concatenated size overflows'),
        ("expand-overflow", expand_huge, 'has a shape of more than 2^63 bytes'),
        ("tile-overflow", tile_huge, 'the result is too large'),
        ("reshape-overflow", reshape_huge, 'shape size overflows'),
    ]


# ---- ONNX: external data ---------------------------------------------------------------

def ext_model(location, extra=(), key_order=None, offset=None, length=None):
    """x + w with w (two floats) stored externally at location."""
    def make(d):
        w = TensorProto(name="w", data_type=FLOAT, dims=[2])
        w.data_location = TensorProto.EXTERNAL
        keys = [("location", location)] + list(extra)
        if offset is not None:
            keys.append(("offset", offset))
        if length is not None:
            keys.append(("length", length))
        for k, v in keys:
            e = w.external_data.add()
            e.key, e.value = k, v
        m = with_init(TensorProto())()
        m.graph.initializer[0].CopyFrom(w)
        write(d, "w.bin", b"\0" * 8)
        os.makedirs(os.path.join(d, "sub"), exist_ok=True)
        return write(d, "model.onnx", m.SerializeToString())
    return make


def ext_then(location, fix, **kw):
    """ext_model, then fix(d) changes the folder around it."""
    def make(d):
        path = ext_model(location, **kw)(d)
        fix(d)
        return path
    return make


def ext_cases():
    def symlink(d):
        os.symlink("w.bin", os.path.join(d, "link.bin"))

    def dirlink(d):
        os.symlink(".", os.path.join(d, "up"))

    def hardlink(d):
        os.link(os.path.join(d, "w.bin"), os.path.join(d, "w2.bin"))

    def fifo(d):
        os.mkfifo(os.path.join(d, "pipe"))

    x = 'tensor "w": external data: '
    return [
        ("ext-absolute-path", ext_model("/etc/passwd"), x + 'location "/etc/passwd" must be a relative path'),
        ("ext-traversal", ext_model("../w.bin"), x + 'location "../w.bin" leaves the model\'s folder'),
        ("ext-traversal-inner", ext_model("sub/../../w.bin"), 'leaves the model\'s folder'),
        ("ext-symlink", ext_then("link.bin", symlink), x + 'location "link.bin": "link.bin" is a symbolic link'),
        ("ext-symlink-dir", ext_then("up/w.bin", dirlink), '"up" is a symbolic link'),
        ("ext-hardlink", ext_then("w.bin", hardlink), x + '"w.bin" has 2 hard links'),
        ("ext-not-regular", ext_then("pipe", fifo), x + '"pipe" is not a regular file'),
        ("ext-directory", ext_model("sub"), x + '"sub" is not a regular file'),
        ("ext-missing-file", ext_model("nothere.bin"), x + 'cannot open "nothere.bin"'),
        ("ext-offset-past-end", ext_model("w.bin", offset="4096"), x + 'offset 4096 lies past the end'),
        ("ext-length-past-end", ext_model("w.bin", offset="4", length="8"),
         x + 'offset 4 + length 8 exceeds the 8 bytes of "w.bin"'),
        ("ext-length-mismatch", ext_model("w.bin", length="4"), x + 'holds 4 bytes; shape and type need 8'),
        ("ext-offset-not-number", ext_model("w.bin", offset="-1"), x + 'offset "-1" is not a non-negative integer'),
        ("ext-length-overflow", ext_model("w.bin", length="99999999999999999999"),
         'length "99999999999999999999" is not a non-negative integer'),
        ("ext-unknown-key", ext_model("w.bin", extra=[("basepath", "/")]), x + 'unknown key "basepath"'),
        ("ext-key-twice", ext_model("w.bin", extra=[("location", "w.bin")]), x + 'key "location" is given twice'),
        ("ext-no-location", ext_model(""), x + 'no location'),
    ]


# ---- ONNX: bytes ----------------------------------------------------------------------

def byte_cases():
    good = unary("Relu")().SerializeToString()
    return [
        ("empty-file", lambda d: write(d, "model.onnx", b""), 'it has no graph'),
        ("garbage", lambda d: write(d, "model.onnx", bytes(range(256)) * 4), 'protobuf parse failed'),
        ("truncated", lambda d: write(d, "model.onnx", good[:len(good) * 2 // 3]), 'protobuf parse failed'),
        # ONNX Runtime's 8-byte model: graph { input { type { tensor_type { shape { dim { -1 }}}}}}
        ("eight-byte-negative-dim", lambda d: write(d, "model.onnx", bytes.fromhex("3a06") +
                                                     bytes.fromhex("5a0412023a00")), 'graph input 0 has no name'),
    ]


# ---- text IR ---------------------------------------------------------------------------

def ir(body, inputs="input %x: f32[1, 2, 8, 8]"):
    text = f"graph t {{\n  {inputs}\n  %y = {body} @\"n0\"\n  output %y\n}}\n"
    return lambda d: write(d, "model.ir", text)


def ir_cases():
    return [
        ("ir-keepdims-3", ir("reduce_sum(%x) {axes = [1], keepdims = 3}"),
         "attribute 'keepdims' must be 0 or 1, got 3"),
        ("ir-ceil-mode-7", ir("maxpool(%x) {kernel = [2, 2], ceil_mode = 7}"),
         "attribute 'ceil_mode' must be 0 or 1, got 7"),
        ("ir-trans-a-int64-min", ir("matmul(%x, %x) {trans_a = -9223372036854775808}"),
         "attribute 'trans_a' must be 0 or 1, got -9223372036854775808"),
        ("ir-epsilon-nan", ir("batchnorm(%x, %c, %c, %c, %c) {epsilon = nan}",
                              "input %x: f32[1, 2, 8, 8]\n  input %c: f32[2]"),
         "attribute 'epsilon' must be finite"),
        ("ir-ratio-2", lambda d: write(d, "model.ir", "graph t {\n  input %x: f32[4]\n"
                                       "  %y, %m = dropout(%x) {ratio = 2.0} @\"n0\"\n  output %y\n}\n"),
         "attribute 'ratio' must lie in [0, 1)"),
        ("ir-pool-dim-int64-max", ir("maxpool(%x) {kernel = [2, 2], ceil_mode = 1}",
                                     "input %x: f32[1, 1, 9223372036854775807, 4]"),
         'value "x" has a shape of more than'),
        ("ir-pool-stride-int64-max", ir("maxpool(%x) {kernel = [2, 2], strides = [9223372036854775807, 1], "
                                        "ceil_mode = 1}"), 'index arithmetic overflows'),
    ]


# ---- compiled libraries -------------------------------------------------------------------

DESC = r"""
#include "abi.h"
static const int64_t dims[2] = {2, 3};
static const float w[6];
static void run(void *a, const void *const *i, void *const *o, const void *const *p, void *c)
{ (void)a; (void)i; (void)o; (void)p; (void)c; }
static const nncc_abi_tensor ins[1] = {{"x", 1, 2, dims, 24, 0}};
static const nncc_abi_tensor outs[1] = {{"y", 1, 2, dims, 24, 0}};
static const nncc_abi_tensor params[1] = {{"w", 1, 2, dims, 24, w}};
%(extra)s
const nncc_abi_model nncc_model = {
	.magic = %(magic)s, .version = %(version)s, .name = %(name)s,
	.ninputs = %(nin)s, .noutputs = %(nout)s, .nparams = %(npar)s,
	.inputs = %(ins)s, .outputs = %(outs)s, .params = %(params)s,
	.arena_bytes = 64, .run = %(run)s,
};
"""


def so_case(**over):
    """A library whose descriptor is DESC with the fields over replaced."""
    fields = dict(extra="", magic="NNCC_ABI_MAGIC", version="NNCC_ABI_VERSION", name='"m"',
                  nin="1", nout="1", npar="1", ins="ins", outs="outs", params="params", run="run")
    fields.update(over)

    def make(d):
        src = write(d, "desc.c", DESC % fields)
        lib = os.path.join(d, "model.so")
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, "-shared", "-fPIC", "-w", "-I", os.path.join(ROOT, "runtime"),
                        "-o", lib, src], check=True)
        return lib
    return make


def abi_version():
    """NNCC_ABI_VERSION of runtime/abi.h (the descriptor's second word)."""
    with open(os.path.join(ROOT, "runtime", "abi.h")) as f:
        return int(re.search(r"#define NNCC_ABI_VERSION (\d+)", f.read()).group(1))


def patched(build, offset, value):
    """A real compiled model whose descriptor's int32 at offset is value."""
    def make(d):
        x = vi("x", [2, 3])
        m = model([helper.make_node("Relu", ["x"], ["y"], name="n0")], [x], [vi("y", [2, 3])])
        src = write(d, "src.onnx", m.SerializeToString())
        lib = os.path.join(d, "model.so")
        subprocess.run([os.path.join(build, "nncc"), src, "-o", lib], check=True)
        data = bytearray(open(lib, "rb").read())
        head = struct.pack("<II", 0x6e6e6363, abi_version())
        at = data.find(head)
        assert at >= 0 and data.find(head, at + 1) < 0, "descriptor not found once"
        data[at + offset:at + offset + 4] = struct.pack("<i", value)
        return write(d, "model.so", bytes(data))
    return make


def so_cases(build):
    outside = "(const void *)0x1000"
    return [
        ("so-bad-magic", so_case(magic="0x12345678"), 'not an nncc model (descriptor magic 0x12345678)'),
        ("so-bad-version", so_case(version="99"), 'model built for ABI version 99'),
        ("so-no-symbol", so_case(extra="#define nncc_model other_symbol"),
         "no symbol 'nncc_model'"),
        ("so-inflated-inputs", so_case(nin="1000000"), 'the input array (1000000 entries) lies outside'),
        ("so-inflated-outputs", so_case(nout="100000"), 'the output array (100000 entries) lies outside'),
        ("so-inflated-params", so_case(npar="100000"), 'the param array (100000 entries) lies outside'),
        ("so-count-over-limit", so_case(nin="2000000000"), 'input count 2000000000 outside'),
        ("so-negative-count", so_case(npar="-1"), 'param count -1 outside'),
        ("so-zero-outputs", so_case(nout="0"), 'model descriptor: no outputs'),
        ("so-rank-over-max", so_case(extra="static const int64_t d40[40];\n"
                                     "static const nncc_abi_tensor o2[1] = {{\"y\", 1, 40, d40, 4, 0}};",
                                     outs="o2"), "output 'y': rank 40 outside"),
        ("so-negative-rank", so_case(extra="static const nncc_abi_tensor o2[1] = {{\"y\", 1, -1, dims, 4, 0}};",
                                     outs="o2"), "output 'y': rank -1 outside"),
        ("so-bad-dtype", so_case(extra="static const nncc_abi_tensor i2[1] = {{\"x\", 99, 2, dims, 24, 0}};",
                                 ins="i2"), "input 'x': unsupported dtype 99"),
        ("so-nbytes-mismatch", so_case(extra="static const nncc_abi_tensor i2[1] = {{\"x\", 1, 2, dims, 4, 0}};",
                                       ins="i2"), "input 'x': nbytes 4, shape says 24"),
        ("so-size-overflow", so_case(extra="static const int64_t big[2] = {1LL << 40, 1LL << 40};\n"
                                     "static const nncc_abi_tensor i2[1] = {{\"x\", 1, 2, big, 4, 0}};",
                                     ins="i2"), "input 'x': size overflows"),
        ("so-negative-dim", so_case(extra="static const int64_t neg[2] = {2, -3};\n"
                                    "static const nncc_abi_tensor i2[1] = {{\"x\", 1, 2, neg, 24, 0}};",
                                    ins="i2"), "input 'x': negative dim -3"),
        ("so-name-outside", so_case(extra=f"static const nncc_abi_tensor i2[1] = {{{{(const char *){outside}, "
                                    "1, 2, dims, 24, 0}};", ins="i2"), 'input 0 has no valid name'),
        ("so-model-name-null", so_case(name="0"), 'model descriptor: no valid name'),
        ("so-dims-outside", so_case(extra=f"static const nncc_abi_tensor i2[1] = {{{{\"x\", 1, 2, "
                                    f"(const int64_t *){outside}, 24, 0}}}};", ins="i2"),
         "input 'x': dims lie outside the model"),
        ("so-array-outside", so_case(ins=f"(const nncc_abi_tensor *){outside}"),
         'the input array (1 entries) lies outside the model'),
        ("so-run-outside", so_case(extra="#include <stdlib.h>", run="(nncc_abi_run_fn)(void *)abort"),
         'no run function in the model'),
        ("so-run-null", so_case(run="0"), 'no run function in the model'),
        ("so-param-data-outside", so_case(extra="#include <stdio.h>\nstatic const nncc_abi_tensor p2[1] = "
                                          "{{\"w\", 1, 2, dims, 24, &stdout}};", params="p2"),
         "param 'w': data lies outside the model"),
        ("so-param-no-data", so_case(extra="static const nncc_abi_tensor p2[1] = {{\"w\", 1, 2, dims, 24, 0}};",
                                     params="p2"), "param 'w': no data"),
        ("so-input-with-data", so_case(extra="static const nncc_abi_tensor i2[1] = {{\"x\", 1, 2, dims, 24, w}};",
                                       ins="i2"), "input 'x': has data"),
        ("so-compiled-version", patched(build, 4, 77), 'model built for ABI version 77'),
        ("so-compiled-inflated-inputs", patched(build, 16, 100000), 'the input array (100000 entries) lies outside'),
        ("so-compiled-zero-outputs", patched(build, 20, 0), 'model descriptor: no outputs'),
        ("so-compiled-negative-params", patched(build, 24, -5), 'param count -5 outside'),
    ]


def cases(build):
    out = []
    for group in (tensor_cases(), graph_cases(), attr_cases(), shape_cases()):
        out += [(n, "onnx", onnx_case(b), e) for n, b, e in group]
    out += [(n, "onnx", m, e) for n, m, e in byte_cases()]
    out += [(n, "onnx", m, e) for n, m, e in ext_cases()]
    out += [(n, "ir", m, e) for n, m, e in ir_cases()]
    out += [(n, "so", m, e) for n, m, e in so_cases(build)]
    return out
