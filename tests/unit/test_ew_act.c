/* test_ew_act.c — the ONNX activations the ew family imports as rewrites
 * into primitives (frontend/onnx_ew.c): each model is built in C, loaded,
 * and evaluated by the reference interpreter against the activation's
 * closed form computed here (so the rewrite is checked, not just run);
 * the imported graph then goes through the differential check
 * (ew_check.h) of its kernels. Also PRelu's slope broadcast, Gelu's two
 * forms, QuantizeLinear/DequantizeLinear (per axis, blocked), and the
 * errors for integer inputs and bad attributes. */
#include "onnx_build.h"
#include "ew_check.h"

enum { N = 64 };

static double sp(double x) { return log(exp(x) + 1); }

/* The closed forms, with ONNX's defaults where `attrs` sets nothing. */
static double expect(const char *op, double x)
{
	if (!strcmp(op, "Elu")) return x > 0 ? x : 0.5 * (exp(x) - 1); /* alpha 0.5 */
	if (!strcmp(op, "Selu")) return 1.05070102214813232421875 * (x > 0 ? x : 1.67326319217681884765625 * (exp(x) - 1));
	if (!strcmp(op, "Celu")) return fmax(0, x) + fmin(0, 2 * (exp(x / 2) - 1)); /* alpha 2 */
	if (!strcmp(op, "ThresholdedRelu")) return x > 1.5 ? x : 0; /* alpha 1.5 */
	if (!strcmp(op, "Shrink")) return x < -0.5 ? x + 0.25 : x > 0.5 ? x - 0.25 : 0; /* bias 0.25 */
	if (!strcmp(op, "HardSigmoid")) return fmax(0, fmin(1, 0.2 * x + 0.5));
	if (!strcmp(op, "HardSwish")) return x * fmax(0, fmin(1, x / 6 + 0.5));
	if (!strcmp(op, "Softplus")) return sp(x);
	if (!strcmp(op, "Softsign")) return x / (1 + fabs(x));
	if (!strcmp(op, "Mish")) return x * tanh(sp(x));
	if (!strcmp(op, "Gelu")) return 0.5 * x * (1 + erf(x / sqrt(2)));
	fail_msg("no closed form for %s", op);
	return 0;
}

static Graph *act_model(const char *op)
{
	MB *b = mb_new(22);
	mb_input(b, "X", F32, "4,16");
	Onnx__NodeProto *n = mb_node(b, op, "act", "X", "Y");
	if (!strcmp(op, "Elu"))
		a_float(b, n, "alpha", 0.5f);
	if (!strcmp(op, "Celu"))
		a_float(b, n, "alpha", 2.0f);
	if (!strcmp(op, "ThresholdedRelu"))
		a_float(b, n, "alpha", 1.5f);
	if (!strcmp(op, "Shrink"))
		a_float(b, n, "bias", 0.25f);
	mb_output(b, "Y");
	return load_ok(b);
}

static void check_values(Graph *g, const char *op, const float *x, double (*f)(const char *, double, int), double tol)
{
	Diag d;
	diag_init(&d);
	Tensor in = {DT_F32, g->val[g->input[0]].shape, (void *)x}, out[1];
	if (ir_eval(g, &in, out, &d))
		fail_msg("%s: %s", op, d.msg);
	const float *y = out[0].data;
	for (int i = 0; i < N; i++) {
		double e = f(op, x[i], i);
		if (!(fabs(y[i] - e) <= tol * (1 + fabs(e))))
			fail_msg("%s(%g) = %.9g, expected %.9g", op, x[i], y[i], e);
	}
	ir_tensor_free(&out[0]);
}

static double plain(const char *op, double x, int i) { return expect(op, x); }

static void test_activations(void **state)
{
	static const char *const ops[] = {"Elu", "Selu", "Celu", "ThresholdedRelu", "Shrink", "HardSigmoid",
		"HardSwish", "Softplus", "Softsign", "Mish", "Gelu"};
	float x[N];
	for (int i = 0; i < N; i++)
		x[i] = -6 + 12.0f * (float)i / (N - 1);
	x[N / 2] = 0;
	for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
		Graph *g = act_model(ops[o]);
		check_values(g, ops[o], x, plain, 1e-6);
		ew_check_graph(g, 2);
		ir_graph_free(g);
	}
}

static double gelu_tanh(const char *op, double x, int i)
{
	return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

/* slope [4, 1] broadcast over x [4, 16]: row r uses slope r. */
static double prelu(const char *op, double x, int i)
{
	static const double slope[4] = {0.1, -2, 0, 3};
	return x < 0 ? slope[i / 16] * x : x;
}

static void test_gelu_tanh_prelu(void **state)
{
	float x[N];
	for (int i = 0; i < N; i++)
		x[i] = -5 + 10.0f * (float)i / (N - 1);
	MB *b = mb_new(20);
	mb_input(b, "X", F32, "4,16");
	a_str(b, mb_node(b, "Gelu", "g", "X", "Y"), "approximate", "tanh");
	mb_output(b, "Y");
	Graph *g = load_ok(b);
	check_values(g, "Gelu", x, gelu_tanh, 1e-6);
	ew_check_graph(g, 2);
	ir_graph_free(g);

	b = mb_new(16);
	mb_input(b, "X", F32, "4,16");
	float slope[4] = {0.1f, -2, 0, 3};
	mb_init_f32(b, "S", "4,1", slope, 4);
	mb_node(b, "PRelu", "p", "X,S", "Y");
	mb_output(b, "Y");
	g = load_ok(b);
	check_values(g, "PRelu", x, prelu, 1e-6);
	ew_check_graph(g, 2);
	ir_graph_free(g);
}

static void test_errors(void **state)
{
	MB *b = mb_new(13);
	mb_input(b, "X", I64, "4");
	mb_node(b, "Elu", "e", "X", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"e\" (Elu)", "float types only, not i64");
	b = mb_new(20);
	mb_input(b, "X", F32, "4");
	a_str(b, mb_node(b, "Gelu", "g", "X", "Y"), "approximate", "erf");
	mb_output(b, "Y");
	load_fails(b, "node \"g\" (Gelu)", "approximate must be");
}

/* QuantizeLinear per axis (u8 zero points) and DequantizeLinear blocked
 * (i8), against the formulas computed here; then their kernels. */
static void test_quantize(void **state)
{
	MB *b = mb_new(21);
	mb_input(b, "X", F32, "2,3,2");
	float sc[3] = {0.5f, 1, 2};
	uint8_t zp[3] = {10, 128, 250};
	mb_init_f32(b, "S", "3", sc, 3);
	mb_init(b, mb_tensor(b, "Z", ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, "3", zp, 3, 1));
	mb_node(b, "QuantizeLinear", "q", "X,S,Z", "Y");
	mb_output(b, "Y");
	Graph *g = load_ok(b);
	float x[12] = {-100, -1.25f, 0.25f, 0.75f, 2.5f, 3.5f, -0.5f, 7, 100, 300, -1000, 11};
	Diag d;
	diag_init(&d);
	Tensor in = {DT_F32, g->val[g->input[0]].shape, x}, out[1];
	if (ir_eval(g, &in, out, &d))
		fail_msg("%s", d.msg);
	assert_int_equal(out[0].dtype, DT_U8);
	for (int i = 0; i < 12; i++) {
		int c = i / 2 % 3;
		double q = nearbyint(x[i] / sc[c]) + zp[c];
		q = q < 0 ? 0 : q > 255 ? 255 : q;
		assert_int_equal(((uint8_t *)out[0].data)[i], (int)q);
	}
	ir_tensor_free(&out[0]);
	ew_check_graph(g, 2);
	ir_graph_free(g);

	b = mb_new(21);
	mb_input(b, "X", ONNX__TENSOR_PROTO__DATA_TYPE__INT8, "2,4");
	float bs[4] = {0.5f, 2, -1, 0.25f};
	int8_t bz[4] = {1, -3, 0, 100};
	mb_init_f32(b, "S", "2,2", bs, 4);
	mb_init(b, mb_tensor(b, "Z", ONNX__TENSOR_PROTO__DATA_TYPE__INT8, "2,2", bz, 4, 1));
	Onnx__NodeProto *n = mb_node(b, "DequantizeLinear", "dq", "X,S,Z", "Y");
	a_int(b, n, "axis", 1);
	a_int(b, n, "block_size", 2);
	mb_output(b, "Y");
	g = load_ok(b);
	int8_t xi[8] = {-128, 127, 5, -5, 0, 1, 100, -100};
	Tensor in2 = {DT_I8, g->val[g->input[0]].shape, xi};
	if (ir_eval(g, &in2, out, &d))
		fail_msg("%s", d.msg);
	assert_int_equal(out[0].dtype, DT_F32);
	for (int i = 0; i < 8; i++) {
		int p = i / 4 * 2 + i % 4 / 2;
		assert_true(((float *)out[0].data)[i] == (float)((xi[i] - bz[p]) * bs[p]));
	}
	ir_tensor_free(&out[0]);
	ew_check_graph(g, 2);
	ir_graph_free(g);

	b = mb_new(21);
	mb_input(b, "X", F32, "2,4");
	mb_init_f32(b, "S", "2,2", bs, 4);
	n = mb_node(b, "QuantizeLinear", "qb", "X,S", "Y");
	a_int(b, n, "block_size", 3);
	mb_output(b, "Y");
	load_fails(b, "node \"qb\" (QuantizeLinear)", "not a multiple of block_size 3");
}

/* DynamicQuantizeLinear: scale and zero point from the data's range. */
static void test_dynquantize(void **state)
{
	MB *b = mb_new(11);
	mb_input(b, "X", F32, "6");
	mb_node(b, "DynamicQuantizeLinear", "dq", "X", "Y,S,Z");
	mb_output(b, "Y");
	mb_output(b, "S");
	mb_output(b, "Z");
	Graph *g = load_ok(b);
	float x[6] = {1, 2.5f, -3, 4, 0.5f, 2};
	Diag d;
	diag_init(&d);
	Tensor in = {DT_F32, g->val[g->input[0]].shape, x}, out[3];
	if (ir_eval(g, &in, out, &d))
		fail_msg("%s", d.msg);
	float scale = (float)((4.0 - -3.0) / 255);
	double zp = nearbyint(3.0f / scale); /* f32 division, as the graph does */
	assert_true(*(float *)out[1].data == scale);
	assert_int_equal(*(uint8_t *)out[2].data, (int)zp);
	for (int i = 0; i < 6; i++) {
		double q = nearbyint(x[i] / scale) + zp;
		assert_int_equal(((uint8_t *)out[0].data)[i], (int)(q < 0 ? 0 : q > 255 ? 255 : q));
	}
	for (int k = 0; k < 3; k++)
		ir_tensor_free(&out[k]);
	ir_graph_free(g);
}

/* The reference rounds each primitive's f32 result, fused kernels keep
 * full precision between them: chains such as exp(x) - 1 near 0 differ by
 * more than a few ulps, by well under the 1e-3 ONNX's runner allows. */
static int setup(void **state)
{
	ew_rtol = 1e-5;
	ew_atol = 1e-7;
	return ew_setup(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_activations),
		cmocka_unit_test(test_gelu_tanh_prelu),
		cmocka_unit_test(test_quantize),
		cmocka_unit_test(test_dynquantize),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup, ew_teardown);
}
