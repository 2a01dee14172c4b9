/* test_onnx_conv.c — the ONNX import of the conv family: ConvTranspose's
 * output_shape and auto_pad become pads and output_padding, LpPool a
 * depthwise conv, ConvInteger a float conv of centered operands (while
 * exact), RNN/GRU/LSTM an unrolled expansion; and the errors
 * (ranks, shapes, attributes nncc does not support) name the node. */
#include "onnx_build.h"

static void a_strs(MB *b, Onnx__NodeProto *n, const char *name, const char *const *v, size_t k)
{
	Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
	a->n_strings = k;
	a->strings = mb_alloc(b, k * sizeof *a->strings);
	for (size_t i = 0; i < k; i++) {
		a->strings[i].len = strlen(v[i]);
		a->strings[i].data = (uint8_t *)mb_str(b, v[i]);
	}
}

/* ConvTranspose X [1,1,3,3], W [1,2,3,3], strides [3,2], plus attributes. */
static MB *convt(void)
{
	MB *b = mb_new(11);
	mb_input(b, "X", F32, "1,1,3,3");
	float w[18] = {0};
	mb_init_f32(b, "W", "1,2,3,3", w, 18);
	return b;
}

static void test_conv_transpose(void **state)
{
	(void)state;
	/* output_shape [10, 8]: natural 9 x 7, so end output padding 1 x 1 */
	MB *b = convt();
	Onnx__NodeProto *n = mb_node(b, "ConvTranspose", "ct", "X,W", "Y");
	a_ints(b, n, "strides", INTS(3, 2));
	a_ints(b, n, "output_shape", INTS(10, 8));
	mb_output(b, "Y");
	Graph *g = load_ok(b);
	const Node *c = node_of(g, "Y");
	assert_int_equal(c->op, OP_CONV_TRANSPOSE);
	assert_attr_ints(c, "pads", INTS(0, 0, 0, 0));
	assert_attr_ints(c, "output_padding", INTS(1, 1));
	assert_shape(g, "Y", "[1, 2, 10, 8]");
	ir_graph_free(g);
	/* SAME_UPPER, stride 2: out 6 x 6 of natural 7 x 7, the extra pad at the end */
	b = convt();
	n = mb_node(b, "ConvTranspose", "ct", "X,W", "Y");
	a_ints(b, n, "strides", INTS(2, 2));
	a_str(b, n, "auto_pad", "SAME_UPPER");
	mb_output(b, "Y");
	g = load_ok(b);
	assert_attr_ints(node_of(g, "Y"), "pads", INTS(0, 0, 1, 1));
	assert_shape(g, "Y", "[1, 2, 6, 6]");
	ir_graph_free(g);
	/* errors */
	b = convt();
	a_ints(b, mb_node(b, "ConvTranspose", "ct", "X,W", "Y"), "kernel_shape", INTS(2, 2));
	mb_output(b, "Y");
	load_fails(b, "node \"ct\" (ConvTranspose)", "kernel_shape does not match");
	b = convt();
	a_ints(b, mb_node(b, "ConvTranspose", "ct", "X,W", "Y"), "output_shape", INTS(10));
	mb_output(b, "Y");
	load_fails(b, "node \"ct\" (ConvTranspose)", "output_shape has 1 values");
	b = mb_new(11);
	mb_input(b, "X", F32, "1,1,3,3");
	float w[18] = {0};
	mb_init_f32(b, "W", "1,2,9", w, 18);
	mb_node(b, "ConvTranspose", "ct", "X,W", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"ct\" (ConvTranspose)", "the weight has rank 3");
}

static void test_conv_integer(void **state)
{
	(void)state;
	enum { U8 = ONNX__TENSOR_PROTO__DATA_TYPE__UINT8 };
	/* u8 x and w with zero points: casts, subs, a float conv, a cast to i32 */
	MB *b = mb_new(10);
	mb_input(b, "X", U8, "1,2,5,5");
	mb_input(b, "W", U8, "3,2,3,3");
	mb_input(b, "XZ", U8, "");
	mb_input(b, "WZ", U8, "3");
	a_ints(b, mb_node(b, "ConvInteger", "ci", "X,W,XZ,WZ", "Y"), "pads", INTS(1, 1, 1, 1));
	mb_output(b, "Y");
	Graph *g = load_ok(b);
	assert_int_equal(count_op(g, OP_CONV), 1);
	assert_int_equal(count_op(g, OP_SUB), 2);
	assert_int_equal(value(g, "Y")->dtype, DT_I32);
	assert_shape(g, "Y", "[1, 3, 5, 5]");
	ir_graph_free(g);
	/* 2 * 16 * 16 = 512 products per output may round in float32 */
	b = mb_new(10);
	mb_input(b, "X", U8, "1,2,20,20");
	mb_input(b, "W", U8, "1,2,16,16");
	mb_node(b, "ConvInteger", "ci", "X,W", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"ci\" (ConvInteger)", "512 products per output exceed");
	b = mb_new(10);
	mb_input(b, "X", F32, "1,2,4,4");
	mb_input(b, "W", F32, "1,2,1,1");
	mb_node(b, "ConvInteger", "ci", "X,W", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"ci\" (ConvInteger)", "only 8-bit inputs");
}

static void test_pools(void **state)
{
	(void)state;
	MB *b = mb_new(18);
	mb_input(b, "X", F32, "2,3,8");
	Onnx__NodeProto *n = mb_node(b, "LpPool", "lp", "X", "Y");
	a_ints(b, n, "kernel_shape", INTS(3));
	a_int(b, n, "p", 3);
	mb_output(b, "Y");
	Graph *g = load_ok(b);
	assert_int_equal(count_op(g, OP_CONV), 1);
	assert_int_equal(count_op(g, OP_POW), 2);
	assert_shape(g, "Y", "[2, 3, 6]");
	ir_graph_free(g);
	/* GlobalLpPool (p = 2) of [3, 4] and [-6, 8]: 5 and 10 */
	b = mb_new(13);
	mb_input(b, "X", F32, "2,1,2");
	mb_node(b, "GlobalLpPool", "glp", "X", "Y");
	mb_output(b, "Y");
	g = load_ok(b);
	assert_int_equal(count_op(g, OP_REDUCE_SUM), 1);
	assert_int_equal(count_op(g, OP_SQRT), 1);
	assert_shape(g, "Y", "[2, 1, 1]");
	float xv[4] = {3, 4, -6, 8}, yv[2];
	Tensor in = {DT_F32, ir_shape_make(3, (int64_t[]){2, 1, 2}), xv}, out;
	Diag d;
	diag_init(&d);
	assert_int_equal(ir_eval(g, &in, &out, &d), 0);
	memcpy(yv, out.data, sizeof yv);
	assert_true(yv[0] == 5 && yv[1] == 10);
	ir_tensor_free(&out);
	ir_graph_free(g);
	b = mb_new(13);
	mb_input(b, "X", F32, "1,2,4,4");
	a_ints(b, mb_node(b, "MaxPool", "mp", "X", "Y,I"), "kernel_shape", INTS(2, 2));
	mb_output(b, "Y");
	mb_output(b, "I");
	load_fails(b, "node \"mp\" (MaxPool)", "Indices output is unsupported");
	b = mb_new(13);
	mb_input(b, "X", F32, "1,2,4,4");
	a_ints(b, mb_node(b, "AveragePool", "ap", "X", "Y"), "kernel_shape", INTS(2));
	mb_output(b, "Y");
	load_fails(b, "node \"ap\" (AveragePool)", "kernel_shape has 1 values; expected 2");
}

/* LSTM over X [5, 2, 3], hidden 4, W/R/B initializers. */
static MB *lstm(int64_t opset, const char *wdims)
{
	MB *b = mb_new(opset);
	static float w[64 * 8];
	mb_input(b, "X", F32, "5,2,3");
	mb_init_f32(b, "W", wdims, w, strcmp(wdims, "1,16,3") == 0 ? 48 : 64);
	mb_init_f32(b, "R", "1,16,4", w, 64);
	return b;
}

static void test_rnn(void **state)
{
	(void)state;
	MB *b = lstm(14, "1,16,3");
	Onnx__NodeProto *n = mb_node(b, "LSTM", "l", "X,W,R", "Y,Yh,Yc");
	a_int(b, n, "hidden_size", 4);
	mb_output(b, "Y");
	mb_output(b, "Yh");
	mb_output(b, "Yc");
	Graph *g = load_ok(b);
	assert_shape(g, "Y", "[5, 1, 2, 4]");
	assert_shape(g, "Yh", "[1, 2, 4]");
	assert_shape(g, "Yc", "[1, 2, 4]");
	/* 4 input projections for every step at once, 4 recurrent products per
	 * step but the first (its state is still zero) */
	assert_int_equal(count_op(g, OP_MATMUL), 4 + 4 * 4);
	ir_graph_free(g);
	/* errors */
	b = lstm(14, "1,16,3");
	n = mb_node(b, "LSTM", "l", "X,W,R", "Y");
	a_int(b, n, "hidden_size", 5);
	mb_output(b, "Y");
	load_fails(b, "node \"l\" (LSTM)", "W has the wrong shape");
	b = lstm(14, "1,16,3");
	n = mb_node(b, "LSTM", "l", "X,W,R", "Y");
	a_strs(b, n, "activations", (const char *[]){"Sigmoid", "ThresholdedRelu", "Tanh"}, 3);
	mb_output(b, "Y");
	load_fails(b, "node \"l\" (LSTM)", "activation ThresholdedRelu is unsupported");
	b = lstm(14, "1,16,3");
	n = mb_node(b, "LSTM", "l", "X,W,R", "Y");
	a_strs(b, n, "activations", (const char *[]){"Sigmoid", "Tanh"}, 2);
	mb_output(b, "Y");
	load_fails(b, "node \"l\" (LSTM)", "activations has 2 names; expected 3");
	b = lstm(14, "1,16,3");
	a_str(b, mb_node(b, "LSTM", "l", "X,W,R", "Y"), "direction", "sideways");
	mb_output(b, "Y");
	load_fails(b, "node \"l\" (LSTM)", "unknown direction");
	b = lstm(14, "1,16,3");
	mb_init_i64(b, "L", "2", INTS(3, 6));
	mb_node(b, "LSTM", "l", "X,W,R,,L", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"l\" (LSTM)", "sequence_lens value 6 is outside [0, 5]");
	b = lstm(14, "16,4");
	mb_node(b, "GRU", "gr", "X,W,R", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"gr\" (GRU)", "W must be 3-D");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conv_transpose),
		cmocka_unit_test(test_conv_integer),
		cmocka_unit_test(test_pools),
		cmocka_unit_test(test_rnn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
