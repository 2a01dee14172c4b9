/* test_consts.c — graph inputs bound to constants at compile time
 * (frontend/bind.c, `--const NAME=FILE`): an ONNX Reshape whose shape is a
 * graph input imports once the input is bound; bad bindings (unknown name,
 * an initializer, twice, wrong dtype or shape, inconsistent symbols) fail
 * with messages naming the model, the input and the file; the text-IR path
 * binds the same way; non-tensor graph inputs get precise messages; the
 * inputs used only as shapes are told apart (frontend/onnx_uses.c). */
#include "onnx_build.h"

/* x: f32[2,3] reshaped by s (i64[dims_s]) into y. */
static MB *reshape_model(const char *dims_s)
{
	MB *b = mb_new(13);
	mb_input(b, "x", F32, "2,3");
	mb_input(b, "s", I64, dims_s);
	mb_node(b, "Reshape", "r", "x,s", "y");
	mb_output(b, "y");
	return b;
}

static FeConst i64_const(const char *name, const int64_t *v, int n)
{
	FeConst c;
	memset(&c, 0, sizeof c);
	c.name = name;
	c.dtype = DT_I64;
	c.rank = 1;
	c.dims[0] = n;
	c.data = v;
	c.nbytes = (size_t)n * 8;
	c.file = "s.npy";
	return c;
}

/* Loads b with the bindings; NULL with the message in d on failure. */
static Graph *load_bound(MB *b, const FeConst *c, int n, Diag *d)
{
	size_t len;
	uint8_t *buf = mb_pack(b, &len);
	mb_free(b);
	diag_init(d);
	Graph *g = fe_onnx_load_mem_with(buf, len, "m.onnx", c, n, d);
	free(buf);
	return g;
}

static void bound_fails(MB *b, const FeConst *c, int n, const char *needle1, const char *needle2)
{
	Diag d;
	Graph *g = load_bound(b, c, n, &d);
	if (g) {
		ir_graph_free(g);
		fail_msg("load succeeded; expected an error with \"%s\"", needle1);
	}
	if (!strstr(d.msg, "m.onnx") || !strstr(d.msg, needle1) || (needle2 && !strstr(d.msg, needle2)))
		fail_msg("message lacks \"%s\" / \"%s\":\n%s", needle1, needle2 ? needle2 : "", d.msg);
}

static void test_reshape_bound(void **state)
{
	(void)state;
	Diag d;
	/* as given, the target shape is run-time data: a reshape_dyn whose
	 * output shape is unknown (codegen refuses it) */
	Graph *g = load_bound(reshape_model("2"), NULL, 0, &d);
	if (!g)
		fail_msg("load failed: %s", d.msg);
	assert_int_equal(g->ninput, 2);
	assert_int_equal(count_op(g, OP_RESHAPE_DYN), 1);
	ir_graph_free(g);

	const int64_t shape[2] = {3, 2};
	FeConst c = i64_const("s", shape, 2);
	g = load_bound(reshape_model("2"), &c, 1, &d);
	if (!g)
		fail_msg("load failed: %s", d.msg);
	assert_int_equal(g->ninput, 1);
	assert_string_equal(g->val[g->input[0]].name, "x");
	const Value *s = value(g, "s");
	assert_int_equal(s->kind, VK_CONST);
	assert_false(s->param);
	assert_int_equal(s->nbytes, 16);
	assert_memory_equal(s->data, shape, 16);
	assert_shape(g, "y", "[3, 2]");
	assert_int_equal(count_op(g, OP_RESHAPE), 1);
	ir_graph_free(g);

	/* a symbolic extent takes the file's */
	g = load_bound(reshape_model("K"), &c, 1, &d);
	if (!g)
		fail_msg("load failed: %s", d.msg);
	assert_shape(g, "s", "[2]");
	assert_shape(g, "y", "[3, 2]");
	ir_graph_free(g);
}

static void test_bad_bindings(void **state)
{
	(void)state;
	const int64_t shape[2] = {3, 2};
	FeConst c[2] = {i64_const("s", shape, 2), i64_const("s", shape, 2)};
	bound_fails(reshape_model("2"), c, 2, "--const s=s.npy", "bound twice");

	FeConst bad = i64_const("shape", shape, 2);
	bound_fails(reshape_model("2"), &bad, 1, "no graph input of that name", "\"x\", \"s\"");

	bad = i64_const("s", shape, 2);
	bad.dtype = DT_I32;
	bad.nbytes = 8;
	bound_fails(reshape_model("2"), &bad, 1, "holds i32[2]", "declared i64[2]");

	bad = i64_const("s", shape, 1);
	bound_fails(reshape_model("2"), &bad, 1, "holds i64[1]", "declared i64[2]");

	bad = i64_const("s", shape, 2);
	bad.nbytes = 8;
	bound_fails(reshape_model("2"), &bad, 1, "holds 8 bytes", NULL);

	/* one symbol, two extents */
	MB *b = mb_new(13);
	mb_input(b, "x", F32, "2,3");
	mb_input(b, "s", I64, "K,K");
	mb_node(b, "Reshape", "r", "x,s", "y");
	mb_output(b, "y");
	bad = i64_const("s", shape, 2);
	bad.rank = 2;
	bad.dims[0] = 1;
	bad.dims[1] = 2;
	bound_fails(b, &bad, 1, "holds i64[1, 2]", "declared i64[K, K]");

	/* an initializer is not a graph input */
	b = mb_new(13);
	mb_input(b, "x", F32, "2,3");
	mb_init_i64(b, "s", "2", shape, 2);
	mb_node(b, "Reshape", "r", "x,s", "y");
	mb_output(b, "y");
	bad = i64_const("s", shape, 2);
	bound_fails(b, &bad, 1, "no graph input of that name", "constant (initializer)");
}

static void test_ir_binding(void **state)
{
	(void)state;
	const char *src =
		"graph t {\n"
		"  input %x: f32[2, 3]\n"
		"  input %k: i64[1]\n"
		"  %y: f32[2, 3] = relu(%x)\n"
		"  output %y\n"
		"  output %k\n"
		"}\n";
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "t.ir", &d);
	if (!g)
		fail_msg("parse failed: %s", d.msg);
	const int64_t one = 1;
	FeConst c = i64_const("k", &one, 1);
	assert_int_equal(fe_bind_consts(g, &c, 1, "t.ir", &d), 0);
	assert_int_equal(g->ninput, 1);
	assert_int_equal(value(g, "k")->kind, VK_CONST);
	assert_int_equal(ir_verify(g, &d), 0);
	c.name = "y";
	assert_int_equal(fe_bind_consts(g, &c, 1, "t.ir", &d), -1);
	assert_non_null(strstr(d.msg, "t.ir: --const y=s.npy: the model has no graph input"));
	ir_graph_free(g);
}

static void test_input_kinds(void **state)
{
	(void)state;
	/* a sequence input */
	MB *b = mb_new(13);
	mb_input(b, "x", F32, "2");
	Onnx__ValueInfoProto *vi = b->input[0];
	Onnx__TypeProto *seq = mb_alloc(b, sizeof *seq);
	onnx__type_proto__init(seq);
	Onnx__TypeProto__Sequence *st = mb_alloc(b, sizeof *st);
	onnx__type_proto__sequence__init(st);
	st->elem_type = vi->type;
	seq->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
	seq->sequence_type = st;
	vi->type = seq;
	mb_node(b, "Identity", "i", "x", "y");
	mb_output(b, "y");
	load_fails(b, "graph input \"x\"", "sequence inputs are unsupported");
	/* an element type nncc lacks */
	b = mb_new(13);
	mb_input(b, "x", 14, "2"); /* COMPLEX64 */
	mb_node(b, "Identity", "i", "x", "y");
	mb_output(b, "y");
	load_fails(b, "graph input \"x\"", "element type complex64 is unsupported");
}

/* Which graph inputs are used only as shapes (what test-onnx may bind). */
static void test_input_uses(void **state)
{
	(void)state;
	assert_true(fe_onnx_shape_position("", "Reshape", 1));
	assert_false(fe_onnx_shape_position("", "Reshape", 0));
	assert_true(fe_onnx_shape_position("ai.onnx", "ReduceSum", 1));
	assert_false(fe_onnx_shape_position("", "Pad", 2)); /* constant_value is data */
	assert_false(fe_onnx_shape_position("com.microsoft", "Reshape", 1));
	assert_false(fe_onnx_shape_position("", "Add", 1));

	const int64_t one[1] = {1};
	MB *b = mb_new(13);
	mb_input(b, "x", F32, "2,3");
	mb_input(b, "s", I64, "2");     /* Reshape.shape only */
	mb_input(b, "a", I64, "1");     /* Unsqueeze.axes and Add: data */
	mb_input(b, "o", I64, "1");     /* a graph output */
	mb_input(b, "u", I64, "1");     /* unused */
	mb_input(b, "w", I64, "1");     /* an input with an initializer: a constant */
	mb_init_i64(b, "w", "1", one, 1);
	mb_node(b, "Reshape", "r", "x,s", "y");
	mb_node(b, "Unsqueeze", "q", "y,a", "z");
	mb_node(b, "Add", "p", "a,o", "t");
	mb_output(b, "z");
	mb_output(b, "t");
	mb_output(b, "o");
	size_t len;
	uint8_t *buf = mb_pack(b, &len);
	mb_free(b);
	write_file(buf, len);
	free(buf);
	FeInputUse *u;
	Diag d;
	diag_init(&d);
	int n = fe_onnx_inputs(path, &u, &d);
	unlink(path);
	assert_int_equal(n, 5);
	const char *names[5] = {"x", "s", "a", "o", "u"};
	const bool only[5] = {false, true, false, false, false};
	const int uses[5] = {1, 1, 2, 2, 0};
	for (int i = 0; i < 5; i++) {
		assert_string_equal(u[i].name, names[i]);
		assert_int_equal(u[i].shape_only, only[i]);
		assert_int_equal(u[i].uses, uses[i]);
	}
	assert_int_equal(u[1].elem, I64);
	fe_onnx_inputs_free(u, n);
	assert_int_equal(fe_onnx_inputs("/nonexistent/model.onnx", &u, &d), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reshape_bound),
		cmocka_unit_test(test_bad_bindings),
		cmocka_unit_test(test_ir_binding),
		cmocka_unit_test(test_input_kinds),
		cmocka_unit_test(test_input_uses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
