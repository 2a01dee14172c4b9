/* test_onnx_export.c — the ONNX exporter (frontend/onnx_export*.c), one
 * test per op family of its table. Each case is a text-IR graph with
 * literal constants: it is exported to memory, the ModelProto is unpacked
 * and its ONNX node list checked against the expected op_types, then the
 * file is imported again by nncc's own ONNX frontend, and the reference
 * interpreter must give the same outputs, bit for bit, on both graphs for
 * the same inputs. Also: opset and ir_version, symbolic dims as
 * dim_param, a constant graph output, and the errors (ops with no ONNX
 * form, exotic dtypes, elided data) that name the node and write nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "frontend/onnx_export.h"
#include "frontend/onnx_export_impl.h"
#include "onnx.pb-c.h"
#include "passes/passes.h"

/* The ONNX nodes of a float-to-integer cast (ex_cast), and of one to a
 * dtype ONNX Runtime's Where lacks (selected in a wider one). */
#define SAFE_CAST "IsNaN Less GreaterOrEqual Or Or Where Cast Where Where"
#define SAFE_CAST_WIDE "IsNaN Less GreaterOrEqual Or Or Where Cast " \
	"Cast Cast Where Cast Cast Cast Where Cast"

static Graph *parse(const char *src)
{
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "case.ir", &d);
	if (!g || ps_infer_shapes(g, &d) < 0)
		fail_msg("%s", d.msg);
	return g;
}

/* Input k of g: floats (j - 6) / 4 + 1/8 (never 0), integers j mod hi,
 * bools j mod 2, with j = (3 * i + k) mod 13. */
static Tensor make_input(const Graph *g, int k, int hi)
{
	const Value *v = &g->val[g->input[k]];
	int64_t n = ir_shape_numel(&v->shape);
	assert_true(n >= 0);
	size_t es = ir_dtype_size(v->dtype);
	Tensor t = {v->dtype, v->shape, calloc((size_t)n + 1, es)};
	for (int64_t i = 0; i < n; i++) {
		int j = (int)((3 * i + k) % 13);
		double x = ir_dtype_is_float(v->dtype) ? (j - 6) / 4.0 + 0.125
			: v->dtype == DT_BOOL ? j % 2 : j % hi;
		ir_elem_put(v->dtype, (char *)t.data + (size_t)i * es, x);
	}
	return t;
}

/* The op_types of the model's nodes, space-separated, into buf. */
static void op_list(const Onnx__ModelProto *mp, char *buf, size_t n)
{
	buf[0] = 0;
	for (size_t i = 0; i < mp->graph->n_node; i++) {
		size_t len = strlen(buf);
		snprintf(buf + len, n - len, "%s%s", i ? " " : "", mp->graph->node[i]->op_type);
	}
}

static bool same_elem(DType t, const void *a, const void *b)
{
	if (ir_dtype_is_float(t)) {
		double x = ir_elem_get(t, a), y = ir_elem_get(t, b);
		if (isnan(x) && isnan(y))
			return true;
	}
	return memcmp(a, b, ir_dtype_size(t)) == 0;
}

/* Exports src's graph, checks the node list is `ops`, imports it again and
 * compares both graphs' outputs on the same inputs (index inputs < hi). */
static void round_trip(const char *src, const char *ops, int hi)
{
	Graph *g = parse(src);
	Diag d;
	diag_init(&d);
	void *buf;
	size_t len;
	if (fe_onnx_export_mem(g, &buf, &len, &d) < 0)
		fail_msg("export: %s", d.msg);
	Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
	assert_non_null(mp);
	assert_int_equal(mp->ir_version, EX_IR_VERSION);
	assert_int_equal(mp->n_opset_import, 1);
	assert_int_equal(mp->opset_import[0]->version, EX_OPSET);
	char got[4096];
	op_list(mp, got, sizeof got);
	if (strcmp(got, ops) != 0)
		fail_msg("ONNX nodes\n  got  %s\n  want %s", got, ops);
	onnx__model_proto__free_unpacked(mp, NULL);

	Graph *h = fe_onnx_load_mem(buf, len, "exported", &d);
	if (!h)
		fail_msg("import of the export: %s", d.msg);
	free(buf);
	assert_int_equal(h->ninput, g->ninput);
	assert_int_equal(h->noutput, g->noutput);
	Tensor in[16], a[16], b[16];
	assert_true(g->ninput <= 16 && g->noutput <= 16);
	for (int k = 0; k < g->ninput; k++)
		in[k] = make_input(g, k, hi);
	if (ir_eval(g, in, a, &d) < 0 || ir_eval(h, in, b, &d) < 0)
		fail_msg("eval: %s", d.msg);
	for (int k = 0; k < g->noutput; k++) {
		assert_int_equal(a[k].dtype, b[k].dtype);
		assert_true(ir_shape_eq(&a[k].shape, &b[k].shape));
		int64_t n = ir_shape_numel(&a[k].shape);
		size_t es = ir_dtype_size(a[k].dtype);
		for (int64_t i = 0; i < n; i++)
			if (!same_elem(a[k].dtype, (char *)a[k].data + i * es, (char *)b[k].data + i * es))
				fail_msg("output %s element %lld: %g != %g", g->val[g->output[k]].name,
					(long long)i, ir_elem_get(a[k].dtype, (char *)a[k].data + i * es),
					ir_elem_get(b[k].dtype, (char *)b[k].data + i * es));
		ir_tensor_free(&a[k]);
		ir_tensor_free(&b[k]);
	}
	for (int k = 0; k < g->ninput; k++)
		free(in[k].data);
	ir_graph_free(g);
	ir_graph_free(h);
}

/* Exporting src fails with a message containing each of want[]. */
static void export_fails(const char *src, const char *const *want, int n)
{
	Graph *g = parse(src);
	Diag d;
	diag_init(&d);
	void *buf;
	size_t len;
	assert_int_equal(fe_onnx_export_mem(g, &buf, &len, &d), -1);
	assert_null(buf);
	for (int i = 0; i < n; i++)
		if (!strstr(d.msg, want[i]))
			fail_msg("message lacks '%s':\n%s", want[i], d.msg);
	ir_graph_free(g);
}

static void test_ew_math(void **state)
{
	(void)state;
	round_trip("graph t {\n"
		"  input %x: f32[2, 3]\n  input %y: f32[2, 3]\n"
		"  %a = add(%x, %y)\n  %b = sub(%a, %y)\n  %c = mul(%b, %x)\n  %e = div(%c, %y)\n"
		"  %ax = abs(%x)\n  %p = pow(%ax, %y)\n  %n = neg(%p)\n  %ex = exp(%n)\n"
		"  %l = log(%ax)\n  %s = sqrt(%ax)\n  %r = relu(%y)\n  %sg = sigmoid(%l)\n"
		"  %t = tanh(%s)\n  %lr = leaky_relu(%x) {alpha = 0.2}\n"
		"  %c1 = clip(%x) {min = -0.5, max = 0.5}\n  %c2 = clip(%y) {max = 0.25}\n"
		"  %mx = max(%c1, %c2)\n  %mn = min(%lr, %t)\n"
		"  output %e\n  output %ex\n  output %sg\n  output %r\n  output %mx\n  output %mn\n}\n",
		"Add Sub Mul Div Abs Pow Neg Exp Log Sqrt Relu Sigmoid Tanh LeakyRelu Clip Clip Max Min",
		3);
	round_trip("graph t {\n  input %x: f32[2, 3]\n  %h: f32[2, 3] = clip(%x) {min = 0.0}\n"
		"  %i: i64[2, 3] = cast(%x) {to = \"i64\"}\n  %j = clip(%i) {min = 0.0, max = 1.0}\n"
		"  output %h\n  output %j\n}\n", "Clip " SAFE_CAST " Clip", 3);
	const char *un[] = {"sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh",
		"acosh", "atanh", "erf", "floor", "ceil", "round", "sign", "reciprocal"};
	const char *onnx[] = {"Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh",
		"Acosh", "Atanh", "Erf", "Floor", "Ceil", "Round", "Sign", "Reciprocal"};
	for (size_t i = 0; i < sizeof un / sizeof *un; i++) {
		char src[256];
		snprintf(src, sizeof src, "graph t {\n  input %%x: f64[3, 5]\n  %%y = %s(%%x)\n"
			"  output %%y\n}\n", un[i]);
		round_trip(src, onnx[i], 3);
	}
}

static void test_ew_logic(void **state)
{
	(void)state;
	round_trip("graph t {\n"
		"  input %x: f32[2, 3]\n  input %y: f32[3]\n"
		"  %eq = equal(%x, %y)\n  %lt = less(%x, %y)\n  %le = less_equal(%x, %y)\n"
		"  %gt = greater(%x, %y)\n  %ge = greater_equal(%x, %y)\n  %nt = not(%eq)\n"
		"  %an = and(%lt, %ge)\n  %o = or(%an, %le)\n  %xo = xor(%o, %gt)\n"
		"  %w = where(%xo, %x, %y)\n  %l = log(%x)\n  %nan = isnan(%l)\n"
		"  %inf = isinf(%w) {detect_negative = 0}\n"
		"  output %nt\n  output %w\n  output %nan\n  output %inf\n}\n",
		"Equal Less LessOrEqual Greater GreaterOrEqual Not And Or Xor Where Log IsNaN IsInf", 3);
}

/* A float cast to an integer saturates (NaN gives 0), which ONNX leaves
 * undefined: the export selects the extremes itself. Other casts are one
 * Cast. */
static void test_cast(void **state)
{
	(void)state;
	round_trip("graph t {\n  const %c: f32[8] = [300.0, -5.0, 2.9, -2.9, nan, inf, -inf, 3e+09]\n"
		"  input %h: f16[4]\n"
		"  %u = cast(%c) {to = \"u8\"}\n  %s = cast(%c) {to = \"i8\"}\n"
		"  %i = cast(%c) {to = \"i32\"}\n  %l = cast(%c) {to = \"i64\"}\n"
		"  %w = cast(%h) {to = \"u64\"}\n  %b = cast(%c) {to = \"bool\"}\n"
		"  %d = cast(%l) {to = \"i8\"}\n"
		"  output %u\n  output %s\n  output %i\n  output %l\n  output %w\n  output %b\n"
		"  output %d\n}\n",
		SAFE_CAST " " SAFE_CAST_WIDE " " SAFE_CAST " " SAFE_CAST " " SAFE_CAST_WIDE " Cast Cast", 3);
}

/* Dtypes an ONNX op lacks at opset 17 (IsInf on f16, ReduceMax/Min on
 * bool) or in ONNX Runtime (Max/Min on i16/u16, Where on i8/i16/u16/
 * u32/u64/bool, BitShift on u16, counts of 16 and more included) go
 * through a wider dtype that holds every value: Casts around the op. */
static void test_widen(void **state)
{
	(void)state;
	round_trip("graph t {\n  input %h: f16[2, 3]\n  input %a: i16[2, 3]\n  input %b: u16[3]\n"
		"  input %c: bool[2, 3]\n  input %s: i8[2, 3]\n"
		"  %inf = isinf(%h) {detect_positive = 0}\n  %mx = max(%a, %a)\n"
		"  %mn = min(%b, %b)\n  %w = where(%c, %s, %s)\n"
		"  %r = reduce_max(%c) {axes = [1]}\n  %q = reduce_min(%c) {keepdims = 0}\n"
		"  output %inf\n  output %mx\n  output %mn\n  output %w\n  output %r\n  output %q\n}\n",
		"Cast IsInf Cast Cast Max Cast Cast Cast Min Cast Cast Cast Where Cast "
		"Cast ReduceMax Cast Cast ReduceMin Cast", 5);
	round_trip("graph t {\n  input %c: bool[4]\n  input %a: u32[4]\n  input %b: u64[4]\n"
		"  %x = where(%c, %a, %a)\n  %y = where(%c, %b, %b)\n  %z = where(%c, %c, %c)\n"
		"  output %x\n  output %y\n  output %z\n}\n",
		"Cast Cast Where Cast Cast Cast Where Cast Cast Cast Where Cast", 3);
	round_trip("graph t {\n  input %a: u16[2, 3]\n  const %n: u16[3] = [1, 16, 20]\n"
		"  %l = bit_shift(%a, %n) {direction = \"left\"}\n"
		"  %r = bit_shift(%a, %n) {direction = \"right\"}\n  output %l\n  output %r\n}\n",
		"Cast Cast BitShift Cast Cast Cast BitShift Cast", 3);
}

/* mod: integers and fmod as they are; Python's % on floats as fmod plus
 * the divisor where the signs differ. bit_shift's direction in capitals. */
static void test_ew_int(void **state)
{
	(void)state;
	round_trip("graph t {\n  input %x: f32[4, 3]\n  input %y: f32[3]\n"
		"  %m = mod(%x, %y)\n  %f = mod(%x, %y) {fmod = 1}\n  output %m\n  output %f\n}\n",
		"Mod Equal Less Less Equal Or Add Where Mod", 3);
	round_trip("graph t {\n  input %a: i64[2, 3]\n  const %b: i64[3] = [3, -2, 5]\n"
		"  %m = mod(%a, %b)\n  %u: u8[2, 3] = cast(%a) {to = \"u8\"}\n"
		"  const %s: u8[] = [2]\n  %l = bit_shift(%u, %s) {direction = \"left\"}\n"
		"  %r = bit_shift(%l, %s) {direction = \"right\"}\n"
		"  output %m\n  output %r\n}\n", "Mod Cast BitShift BitShift", 7);
}

static void test_contract(void **state)
{
	(void)state;
	round_trip("graph t {\n  input %x: f32[2, 3]\n  input %w: f32[4, 3]\n  input %v: f32[3, 4]\n"
		"  %y = matmul(%x, %w) {trans_b = 1}\n  %z = matmul(%w, %v) {trans_a = 1, trans_b = 1}\n"
		"  %u = matmul(%x, %v)\n  output %y\n  output %z\n  output %u\n}\n",
		"Transpose MatMul Transpose Transpose MatMul MatMul", 3);
	round_trip("graph t {\n  input %x: f32[1, 4, 6, 6]\n  input %w: f32[6, 2, 3, 3]\n"
		"  input %bias: f32[6]\n"
		"  %c = conv(%x, %w, %bias) {strides = [2, 1], pads = [1, 0, 1, 2], group = 2}\n"
		"  %n = conv(%x, %w, _) {dilations = [2, 2], group = 2}\n"
		"  input %k: f32[6, 2, 3, 3]\n"
		"  %t = conv_transpose(%c, %k, _) {strides = [2, 2], pads = [1, 1, 0, 0], "
		"output_padding = [1, 0], group = 3}\n"
		"  output %c\n  output %n\n  output %t\n}\n", "Conv Conv ConvTranspose", 3);
}

static void test_window_norm(void **state)
{
	(void)state;
	round_trip("graph t {\n  input %x: f32[1, 2, 7, 7]\n"
		"  %m = maxpool(%x) {kernel = [2, 2], strides = [2, 2], ceil_mode = 1}\n"
		"  %d = maxpool(%x) {kernel = [2, 3], dilations = [2, 1], pads = [1, 1, 1, 1]}\n"
		"  %a = avgpool(%x) {kernel = [3, 3], pads = [1, 1, 1, 1], count_include_pad = 1}\n"
		"  %e = avgpool(%x) {kernel = [3, 2], strides = [2, 2], pads = [1, 0, 1, 1]}\n"
		"  const %g: f32[2] = [1.5, -0.5]\n  const %b: f32[2] = [0.25, 2.0]\n"
		"  const %mu: f32[2] = [0.125, -1.0]\n  const %var: f32[2] = [2.0, 0.5]\n"
		"  %n = batchnorm(%x, %g, %b, %mu, %var) {epsilon = 0.001}\n"
		"  %s = softmax(%n) {axis = 2}\n  %l = log_softmax(%n)\n"
		"  output %m\n  output %d\n  output %a\n  output %e\n  output %s\n  output %l\n}\n",
		"MaxPool MaxPool AveragePool AveragePool BatchNormalization Softmax LogSoftmax", 3);
}

static const Onnx__AttributeProto *attr_of(const Onnx__NodeProto *p, const char *name)
{
	for (size_t i = 0; i < p->n_attribute; i++)
		if (strcmp(p->attribute[i]->name, name) == 0)
			return p->attribute[i];
	return NULL;
}

/* ceil_mode becomes floor mode with the end pads that give the IR's
 * extents (opset 17's shape rule keeps a window starting in the padding);
 * avgpool counting pads keeps ceil_mode when an end pad would grow. */
static void test_pool_ceil(void **state)
{
	(void)state;
	const char *src = "graph t {\n  input %x: f32[1, 1, 7, 2]\n"
		"  %m = maxpool(%x) {kernel = [2, 1], strides = [2, 2], ceil_mode = 1}\n"
		"  %a = avgpool(%x) {kernel = [2, 1], strides = [2, 1], ceil_mode = 1, "
		"count_include_pad = 1}\n"
		"  %e = avgpool(%x) {kernel = [3, 1], strides = [2, 2], pads = [1, 1, 1, 1], "
		"ceil_mode = 1}\n  output %m\n  output %a\n  output %e\n}\n";
	round_trip(src, "MaxPool AveragePool AveragePool", 3);
	Graph *g = parse(src);
	Diag d;
	diag_init(&d);
	void *buf;
	size_t len;
	assert_int_equal(fe_onnx_export_mem(g, &buf, &len, &d), 0);
	Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
	Onnx__NodeProto **nd = mp->graph->node;
	const Onnx__AttributeProto *pads = attr_of(nd[0], "pads");
	assert_null(attr_of(nd[0], "ceil_mode"));
	assert_non_null(pads);
	assert_int_equal(pads->n_ints, 4); /* 7 rows: 4 windows of 2, one end row; 2 cols: 1 window */
	int64_t want[4] = {0, 0, 1, 0};
	for (int i = 0; i < 4; i++)
		assert_int_equal(pads->ints[i], want[i]);
	const Onnx__AttributeProto *cm = attr_of(nd[1], "ceil_mode"); /* would need an end pad row */
	assert_non_null(cm);
	assert_int_equal(cm->i, 1);
	assert_null(attr_of(nd[2], "ceil_mode"));
	onnx__model_proto__free_unpacked(mp, NULL);
	free(buf);
	ir_graph_free(g);
}

static void test_reduce(void **state)
{
	(void)state;
	round_trip("graph t {\n  input %x: f32[2, 3, 4]\n"
		"  %s = reduce_sum(%x) {axes = [1], keepdims = 0}\n  %a = reduce_sum(%x)\n"
		"  %m = reduce_mean(%x) {axes = [0, -1]}\n  %mx = reduce_max(%x) {axes = [2], keepdims = 0}\n"
		"  %mn = reduce_min(%x) {axes = [1]}\n  %p = reduce_prod(%x) {keepdims = 0}\n"
		"  %am = argmax(%x) {axis = 1, keepdims = 0}\n  %ai = argmin(%x) {axis = -1, "
		"select_last_index = 1}\n  %c = cumsum(%x) {axis = 1, exclusive = 1, reverse = 1}\n"
		"  %v, %i = topk(%x) {axis = 2, k = 2, largest = 0}\n"
		"  output %s\n  output %a\n  output %m\n  output %mx\n  output %mn\n  output %p\n"
		"  output %am\n  output %ai\n  output %c\n  output %v\n  output %i\n}\n",
		"ReduceSum ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ArgMax ArgMin CumSum TopK",
		3);
}

static void test_move(void **state)
{
	(void)state;
	round_trip("graph t {\n  input %x: f32[2, 3, 4]\n  input %i: i64[2, 2]\n"
		"  %p = pad(%x) {pads = [0, 1, 0, 1, 0, 2], value = 1.5}\n"
		"  %z = pad(%x) {pads = [1, 0, 0, 0, 0, 0]}\n"
		"  %t = transpose(%x) {perm = [2, 0, 1]}\n  %r = transpose(%x)\n"
		"  %c = concat(%x, %x, %x) {axis = 1}\n  %s = reshape(%c) {shape = [0, -1]}\n"
		"  %f = flatten(%x) {axis = 2}\n  %d = identity(%f)\n"
		"  %sh = shape(%x) {start = 1}\n  %g = gather(%x, %i) {axis = 1}\n"
		"  %u = unsqueeze(%x) {axes = [0, 3]}\n  %q = squeeze(%u) {axes = [0]}\n"
		"  %q2 = squeeze(%u)\n  %k = cast(%x) {to = \"i32\"}\n"
		"  const %ns: i64[2] = [4, 6]\n  %rd = reshape_dyn(%x, %ns)\n"
		"  output %p\n  output %z\n  output %t\n  output %r\n  output %s\n  output %d\n"
		"  output %sh\n  output %g\n  output %q\n  output %q2\n  output %k\n  output %rd\n}\n",
		"Pad Pad Transpose Transpose Concat Reshape Flatten Identity Shape Gather Unsqueeze "
		"Squeeze Squeeze " SAFE_CAST " Reshape", 3);
}

static void test_idx(void **state)
{
	(void)state;
	round_trip("graph t {\n  input %x: f32[4, 5]\n  input %up: f32[2, 5]\n"
		"  %s = slice(%x) {starts = [3, 1], ends = [0, 100], axes = [0, 1], steps = [-1, 2]}\n"
		"  %s2 = slice(%x) {starts = [1], ends = [-1]}\n"
		"  %e = expand(%s2) {shape = [3, 2, 5]}\n  %tl = trilu(%x) {upper = 0, k = 1}\n"
		"  %tu = trilu(%x)\n"
		"  const %ie: i64[2, 5] = [3, 0, 1, 2, 0, 1, 1, 3, 0, -1]\n"
		"  %ge = gather_elements(%x, %ie) {axis = 0}\n"
		"  const %in: i64[2, 1] = [2, 0]\n  %gn = gather_nd(%x, %in)\n"
		"  %se = scatter_elements(%x, %ie, %up) {axis = 0, reduction = \"add\"}\n"
		"  %sn = scatter_nd(%x, %in, %up) {reduction = \"mul\"}\n"
		"  %sp = scatter_nd(%x, %in, %up)\n"
		"  output %s\n  output %e\n  output %tl\n  output %tu\n  output %ge\n  output %gn\n"
		"  output %se\n  output %sn\n  output %sp\n}\n",
		"Slice Slice Expand Trilu Trilu GatherElements GatherND ScatterElements ScatterND "
		"ScatterND", 3);
}

/* Symbolic dims become dim_param; a constant output gets an Identity. */
static void test_graph_io(void **state)
{
	(void)state;
	Graph *g = parse("graph t {\n  input %x: f32[N, 3]\n  const %k: f32[2] = [1.0, 2.0]\n"
		"  %y = relu(%x)\n  output %y\n  output %k\n}\n");
	Diag d;
	diag_init(&d);
	void *buf;
	size_t len;
	assert_int_equal(fe_onnx_export_mem(g, &buf, &len, &d), 0);
	Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
	assert_non_null(mp);
	Onnx__GraphProto *gp = mp->graph;
	assert_int_equal(gp->n_input, 1);
	Onnx__TensorShapeProto *sh = gp->input[0]->type->tensor_type->shape;
	assert_int_equal(sh->n_dim, 2);
	assert_int_equal(sh->dim[0]->value_case, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM);
	assert_string_equal(sh->dim[0]->dim_param, "N");
	assert_int_equal(sh->dim[1]->dim_value, 3);
	assert_int_equal(gp->n_output, 2);
	assert_string_equal(gp->output[1]->name, "k");
	assert_int_equal(gp->n_node, 2);
	assert_string_equal(gp->node[1]->op_type, "Identity");
	assert_string_equal(gp->node[1]->output[0], "k");
	assert_int_equal(gp->n_initializer, 1);
	assert_string_not_equal(gp->initializer[0]->name, "k");
	assert_int_equal(gp->initializer[0]->raw_data.len, 8);
	onnx__model_proto__free_unpacked(mp, NULL);
	Graph *h = fe_onnx_load_mem(buf, len, "exported", &d);
	if (!h)
		fail_msg("%s", d.msg);
	const Value *x = &h->val[h->input[0]];
	assert_true(x->shape.d[0].sym > 0);
	assert_string_equal(h->sym[x->shape.d[0].sym], "N");
	free(buf);
	ir_graph_free(g);
	ir_graph_free(h);
}

static void test_errors(void **state)
{
	(void)state;
	export_fails("graph t {\n  input %a: i32[4]\n  input %b: i32[4]\n"
		"  %c = bitwise_and(%a, %b) @\"band\"\n  %d = relu(%c)\n"
		"  %e = bitcast(%d) {to = \"f32\"}\n  output %e\n}\n",
		(const char *[]){"node 'band' (bitwise_and)", "node 'e' (bitcast)", "opset 17"}, 3);
	export_fails("graph t {\n  input %a: f32[4]\n  %c = cast(%a) {to = \"f8e4m3fn\"}\n"
		"  output %c\n}\n", (const char *[]){"node 'c' (cast)", "f8e4m3fn"}, 2);
	export_fails("graph t {\n  input %a: f32[4]\n  param %w: f32[4] = elided\n"
		"  %c = mul(%a, %w)\n  output %c\n}\n", (const char *[]){"'w' has no data"}, 1);
	export_fails("graph t {\n  input %a: f32[1, 1, 4]\n  %c = avgpool(%a) {kernel = [2], "
		"dilations = [2]}\n  output %c\n}\n", (const char *[]){"node 'c' (avgpool)",
		"opset 19"}, 2);
	export_fails("graph t {\n  input %a: f32[4]\n  %c = cumprod(%a) {axis = 0}\n  output %c\n}\n",
		(const char *[]){"node 'c' (cumprod)"}, 1);
}

/* Every IR op has a row in the export table, but for the ones with no
 * ONNX form at opset 17 (docs/export.md lists them): a new op must get a
 * row, or be added here and to the docs. */
static void test_table(void **state)
{
	(void)state;
	const Op none[] = {OP_BITWISE_NOT, OP_BITWISE_AND, OP_BITWISE_OR, OP_BITWISE_XOR, OP_BITCAST,
		OP_CUMPROD, OP_BUFFER_UPDATE, OP_ASSIGN, OP_GRADIENT, OP_RANDOM_UNIFORM, OP_DROPOUT};
	for (int op = 0; op < OP_COUNT; op++) {
		bool listed = false;
		for (size_t i = 0; i < sizeof none / sizeof *none; i++)
			listed |= none[i] == (Op)op;
		if (listed != !ex_rules[op].fn)
			fail_msg("op %s: %s", ir_ops[op].name, listed ? "listed as having no ONNX form "
				"but has a row" : "has no row in ex_rules (onnx_export_ops.c)");
		if (ex_rules[op].fn && !ex_rules[op].op_type)
			fail_msg("op %s: a row without its ONNX op_type", ir_ops[op].name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ew_math),
		cmocka_unit_test(test_ew_logic),
		cmocka_unit_test(test_ew_int),
		cmocka_unit_test(test_widen),
		cmocka_unit_test(test_cast),
		cmocka_unit_test(test_contract),
		cmocka_unit_test(test_window_norm),
		cmocka_unit_test(test_pool_ceil),
		cmocka_unit_test(test_reduce),
		cmocka_unit_test(test_move),
		cmocka_unit_test(test_idx),
		cmocka_unit_test(test_graph_io),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
