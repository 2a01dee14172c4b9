/* test_eval.c — the reference interpreter (ir/eval*.c): elementwise ops
 * (float and integer, wrap-around and truncating division), f16/bf16
 * rounding, dtype errors, reductions, softmax (rows sum to 1, exp ratios,
 * no overflow), data movement for several dtypes, and whole-graph runs
 * with symbolic inputs and their error paths. Contraction and window ops
 * are in test_eval_nn.c. Expected values are written by hand or recomputed
 * here by independent loops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eval_check.h"

static void test_binary_float(void **state)
{
	(void)state;
	int n;
	Graph *g = one(OP_ADD, 2, &n);
	float a[] = {1, 2, 3, 4, 5, 6}, b[] = {10, 20, 30};
	Tensor in[2] = {TT(DT_F32, 2, DIMS(2, 3), a), TT(DT_F32, 1, DIMS(3), b)};
	Tensor y = run(g, n, in);
	shape_is(&y, 2, DIMS(2, 3));
	near(&y, (double[]){11, 22, 33, 14, 25, 36}, 6, 0);
	ir_tensor_free(&y);
	/* rounding to f32: 1 + 1e-8 is 1 */
	float o[] = {1}, e[] = {1e-8f};
	Tensor in1[2] = {TT(DT_F32, 1, DIMS(1), o), TT(DT_F32, 0, NULL, e)};
	y = run(g, n, in1);
	assert_true(((float *)y.data)[0] == 1.0f);
	ir_tensor_free(&y);
	ir_graph_free(g);

	g = one(OP_SUB, 2, &n);
	float c[] = {1, 2};
	Tensor in2[2] = {TT(DT_F32, 2, DIMS(2, 1), c), TT(DT_F32, 2, DIMS(1, 3), b)};
	y = run(g, n, in2);
	shape_is(&y, 2, DIMS(2, 3));
	near(&y, (double[]){-9, -19, -29, -8, -18, -28}, 6, 0);
	ir_tensor_free(&y);
	ir_graph_free(g);

	g = one(OP_MUL, 2, &n);
	double s[] = {2.5}, v[] = {1, -2, 4};
	Tensor in3[2] = {TT(DT_F64, 0, NULL, s), TT(DT_F64, 1, DIMS(3), v)};
	y = run(g, n, in3);
	near(&y, (double[]){2.5, -5, 10}, 3, 0);
	ir_tensor_free(&y);
	ir_graph_free(g);

	g = one(OP_DIV, 2, &n);
	float p[] = {1, 1, -3, 0}, q[] = {3, 0, 8, 0};
	Tensor in4[2] = {TT(DT_F32, 1, DIMS(4), p), TT(DT_F32, 1, DIMS(4), q)};
	y = run(g, n, in4);
	near(&y, (double[]){1.0 / 3, INFINITY, -0.375, NAN}, 4, 0);
	assert_true(((float *)y.data)[0] == (float)(1.0 / 3));
	ir_tensor_free(&y);
	/* shape rules run at eval too */
	Tensor in5[2] = {TT(DT_F32, 1, DIMS(4), p), TT(DT_F32, 1, DIMS(3), q)};
	run_bad(g, n, in5, "cannot broadcast [4] with [3]");
	ir_graph_free(g);
}

static void test_binary_int(void **state)
{
	(void)state;
	int n;
	Graph *g = one(OP_DIV, 2, &n);
	int32_t a[] = {7, -7, 7, -7, INT32_MIN, 0}, b[] = {2, 2, -2, -2, -1, 5};
	Tensor in[2] = {TT(DT_I32, 1, DIMS(6), a), TT(DT_I32, 1, DIMS(6), b)};
	Tensor y = run(g, n, in);
	assert_int_equal(y.dtype, DT_I32);
	int32_t want[] = {3, -3, -3, 3, INT32_MIN, 0};
	assert_memory_equal(y.data, want, sizeof want);
	ir_tensor_free(&y);
	int32_t z[] = {1, 1, 1, 1, 0, 1};
	Tensor in0[2] = {TT(DT_I32, 1, DIMS(6), a), TT(DT_I32, 1, DIMS(6), z)};
	run_bad(g, n, in0, "integer division by zero");
	ir_graph_free(g);

	g = one(OP_ADD, 2, &n);
	int64_t c[] = {INT64_MAX, -5, 40}, d[] = {1};
	Tensor in1[2] = {TT(DT_I64, 1, DIMS(3), c), TT(DT_I64, 1, DIMS(1), d)};
	y = run(g, n, in1);
	int64_t want1[] = {INT64_MIN, -4, 41};
	assert_memory_equal(y.data, want1, sizeof want1);
	ir_tensor_free(&y);
	ir_graph_free(g);

	g = one(OP_MUL, 2, &n);
	int32_t m[] = {65536, -3}, k[] = {65536, 7};
	Tensor in2[2] = {TT(DT_I32, 1, DIMS(2), m), TT(DT_I32, 1, DIMS(2), k)};
	y = run(g, n, in2);
	int32_t want2[] = {0, -21};
	assert_memory_equal(y.data, want2, sizeof want2);
	ir_tensor_free(&y);
	ir_graph_free(g);

	g = one(OP_SUB, 2, &n);
	int64_t r[] = {10, 20}, s[] = {1, 2, 3};
	Tensor in3[2] = {TT(DT_I64, 2, DIMS(2, 1), r), TT(DT_I64, 1, DIMS(3), s)};
	y = run(g, n, in3);
	int64_t want3[] = {9, 8, 7, 19, 18, 17};
	assert_memory_equal(y.data, want3, sizeof want3);
	ir_tensor_free(&y);
	ir_graph_free(g);
}

static void test_unary(void **state)
{
	(void)state;
	float x[] = {-2, -0.5f, 0, 0.5f, 3, NAN};
	const Op ops[] = {OP_NEG, OP_ABS, OP_EXP, OP_LOG, OP_SQRT, OP_RELU, OP_SIGMOID, OP_TANH,
		OP_LEAKYRELU, OP_CLIP};
	for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
		int n;
		Graph *g = one(ops[o], 1, &n);
		Tensor in = TT(DT_F32, 1, DIMS(6), x);
		Tensor y = run(g, n, &in);
		double w[6];
		for (int i = 0; i < 6; i++) {
			double v = x[i];
			switch (ops[o]) {
			case OP_NEG: w[i] = -v; break;
			case OP_ABS: w[i] = fabs(v); break;
			case OP_EXP: w[i] = exp(v); break;
			case OP_LOG: w[i] = log(v); break;
			case OP_SQRT: w[i] = sqrt(v); break;
			case OP_RELU: w[i] = isnan(v) ? v : v > 0 ? v : 0; break;
			case OP_SIGMOID: w[i] = 1 / (1 + exp(-v)); break;
			case OP_TANH: w[i] = tanh(v); break;
			case OP_LEAKYRELU: w[i] = v < 0 ? 0.01 * v : v; break;
			default: w[i] = v; break; /* clip without bounds */
			}
		}
		near(&y, w, 6, 1e-7);
		assert_true(isnan(((float *)y.data)[5])); /* NaN in, NaN out (relu too) */
		ir_tensor_free(&y);
		ir_graph_free(g);
	}
	int n;
	Graph *g = one(OP_LEAKYRELU, 1, &n);
	ir_set_float(g, n, "alpha", 0.25);
	Tensor in = TT(DT_F32, 1, DIMS(6), x);
	Tensor y = run(g, n, &in);
	near(&y, (double[]){-0.5, -0.125, 0, 0.5, 3, NAN}, 6, 0);
	ir_tensor_free(&y);
	ir_graph_free(g);

	g = one(OP_CLIP, 1, &n);
	ir_set_float(g, n, "min", -1);
	ir_set_float(g, n, "max", 1);
	y = run(g, n, &in);
	near(&y, (double[]){-1, -0.5, 0, 0.5, 1, NAN}, 6, 0);
	ir_tensor_free(&y);
	ir_set_float(g, n, "min", 2); /* min > max: max everywhere, like numpy */
	y = run(g, n, &in);
	near(&y, (double[]){1, 1, 1, 1, 1, NAN}, 6, 0);
	ir_tensor_free(&y);
	ir_graph_free(g);

	/* integers: wrap-around neg/abs, relu, clip with inward-rounded bounds */
	int32_t xi[] = {INT32_MIN, -3, 0, 2, 5};
	Tensor ii = TT(DT_I32, 1, DIMS(5), xi);
	const Op iops[] = {OP_NEG, OP_ABS, OP_RELU, OP_CLIP};
	const int32_t iwant[][5] = {
		{INT32_MIN, 3, 0, -2, -5},
		{INT32_MIN, 3, 0, 2, 5},
		{0, 0, 0, 2, 5},
		{-2, -2, 0, 2, 3},
	};
	for (int o = 0; o < 4; o++) {
		g = one(iops[o], 1, &n);
		ir_set_float(g, n, "min", -2.5);
		ir_set_float(g, n, "max", 3.7);
		y = run(g, n, &ii);
		assert_int_equal(y.dtype, DT_I32);
		assert_memory_equal(y.data, iwant[o], sizeof iwant[o]);
		ir_tensor_free(&y);
		ir_graph_free(g);
	}
}

static void test_dtype_errors(void **state)
{
	(void)state;
	int n;
	int32_t xi[] = {1, 2};
	uint8_t xb[] = {1, 0};
	Graph *g = one(OP_EXP, 1, &n);
	Tensor in = TT(DT_I32, 1, DIMS(2), xi);
	run_bad(g, n, &in, "(exp \"n\"): dtype i32 is not supported");
	ir_graph_free(g);
	g = one(OP_ADD, 2, &n);
	Tensor bb[2] = {TT(DT_BOOL, 1, DIMS(2), xb), TT(DT_BOOL, 1, DIMS(2), xb)};
	run_bad(g, n, bb, "bool");
	Tensor mix[2] = {TT(DT_I32, 1, DIMS(2), xi), TT(DT_U8, 1, DIMS(2), xb)};
	run_bad(g, n, mix, "u8");
	ir_graph_free(g);
	g = one(OP_REDUCE_MEAN, 1, &n);
	int64_t xl[] = {1, 2};
	Tensor il = TT(DT_I64, 1, DIMS(2), xl);
	run_bad(g, n, &il, "i64");
	ir_graph_free(g);
	g = one(OP_SOFTMAX, 1, &n);
	run_bad(g, n, &in, "i32");
	ir_graph_free(g);
}

/* f16/bf16: math in f64, stored with round-to-nearest-even. */
static void test_half(void **state)
{
	(void)state;
	int n;
	Graph *g = one(OP_ADD, 2, &n);
	uint16_t a[] = {0x3C00, 0x3C01, 0x7BFF, 0x0001, 0xC000};
	uint16_t b[] = {0x1000, 0x1000, 0x4C00, 0x0001, 0x3800};
	/* 1+2^-11 ties to 1; (1+2^-10)+2^-11 ties to even 1+2^-9; 65504+16 = 65520
	 * rounds to inf; 2^-24+2^-24 = 2^-23 (subnormal); -2+0.5 = -1.5 */
	uint16_t want[] = {0x3C00, 0x3C02, 0x7C00, 0x0002, 0xBE00};
	Tensor in[2] = {TT(DT_F16, 1, DIMS(5), a), TT(DT_F16, 1, DIMS(5), b)};
	Tensor y = run(g, n, in);
	assert_int_equal(y.dtype, DT_F16);
	assert_memory_equal(y.data, want, sizeof want);
	ir_tensor_free(&y);
	uint16_t c[] = {0x3F80, 0x3F81, 0x4049}, d[] = {0x3B80, 0x3B80, 0x0000};
	uint16_t wantb[] = {0x3F80, 0x3F82, 0x4049}; /* ties to even; pi-ish unchanged */
	Tensor inb[2] = {TT(DT_BF16, 1, DIMS(3), c), TT(DT_BF16, 1, DIMS(3), d)};
	y = run(g, n, inb);
	assert_memory_equal(y.data, wantb, sizeof wantb);
	ir_tensor_free(&y);
	ir_graph_free(g);
	/* subnormal results round to nearest even too: 1.5, 2.5 and 1.5 units
	 * of 2^-24 all become 2 units */
	g = one(OP_MUL, 2, &n);
	uint16_t sa[] = {0x0001, 0x0001, 0x0003}, sb[] = {0x3E00, 0x4100, 0x3800};
	Tensor insub[2] = {TT(DT_F16, 1, DIMS(3), sa), TT(DT_F16, 1, DIMS(3), sb)};
	y = run(g, n, insub);
	assert_memory_equal(y.data, ((uint16_t[]){0x0002, 0x0002, 0x0002}), 6);
	ir_tensor_free(&y);
	ir_graph_free(g);
	g = one(OP_SQRT, 1, &n);
	uint16_t s[] = {0x4400, 0xBC00}; /* 4, -1 */
	Tensor ins = TT(DT_F16, 1, DIMS(2), s);
	y = run(g, n, &ins);
	uint16_t *h = y.data;
	assert_int_equal(h[0], 0x4000); /* 2 */
	assert_true((h[1] & 0x7C00) == 0x7C00 && (h[1] & 0x3FF)); /* NaN */
	ir_tensor_free(&y);
	ir_graph_free(g);
}

static Tensor reduce(Op op, const Tensor *x, const int64_t *axes, int na, int keep)
{
	int n;
	Graph *g = one(op, 1, &n);
	if (axes)
		ir_set_ints(g, n, "axes", axes, na);
	ir_set_int(g, n, "keepdims", keep);
	Tensor y = run(g, n, x);
	ir_graph_free(g);
	return y;
}

static void test_reduce(void **state)
{
	(void)state;
	float v[24];
	for (int i = 0; i < 24; i++)
		v[i] = (float)((i * 7) % 11) - 4;
	Tensor x = TT(DT_F32, 3, DIMS(2, 3, 4), v);
	double ws[8], wm[6], wx = -INFINITY;
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 4; k++) {
			ws[i * 4 + k] = 0;
			for (int j = 0; j < 3; j++)
				ws[i * 4 + k] += v[(i * 3 + j) * 4 + k];
		}
	for (int j = 0; j < 3; j++) {
		wm[j] = 0;
		for (int i = 0; i < 2; i++)
			for (int k = 0; k < 4; k++)
				wm[j] += v[(i * 3 + j) * 4 + k] / 8.0;
	}
	for (int i = 0; i < 24; i++)
		wx = fmax(wx, v[i]);
	Tensor y = reduce(OP_REDUCE_SUM, &x, DIMS(1), 1, 1);
	shape_is(&y, 3, DIMS(2, 1, 4));
	near(&y, ws, 8, 0);
	ir_tensor_free(&y);
	for (int i = 0; i < 8; i++)
		ws[i] /= 3;
	y = reduce(OP_REDUCE_MEAN, &x, DIMS(-2), 1, 1);
	shape_is(&y, 3, DIMS(2, 1, 4));
	near(&y, ws, 8, 1e-7);
	ir_tensor_free(&y);
	y = reduce(OP_REDUCE_MEAN, &x, DIMS(0, -1), 2, 0);
	shape_is(&y, 1, DIMS(3));
	near(&y, wm, 3, 1e-7);
	ir_tensor_free(&y);
	y = reduce(OP_REDUCE_MAX, &x, NULL, 0, 0);
	shape_is(&y, 0, NULL);
	near(&y, &wx, 1, 0);
	ir_tensor_free(&y);
	v[3] = NAN;
	y = reduce(OP_REDUCE_MAX, &x, DIMS(2), 1, 0);
	assert_true(isnan(((float *)y.data)[0]));
	assert_false(isnan(((float *)y.data)[1]));
	ir_tensor_free(&y);

	int32_t iv[] = {5, -7, 2, 9, 0, -1};
	Tensor xi = TT(DT_I32, 2, DIMS(2, 3), iv);
	y = reduce(OP_REDUCE_SUM, &xi, DIMS(1), 1, 0);
	assert_int_equal(y.dtype, DT_I32);
	assert_memory_equal(y.data, ((int32_t[]){0, 8}), 8);
	ir_tensor_free(&y);
	y = reduce(OP_REDUCE_MAX, &xi, DIMS(0), 1, 1);
	shape_is(&y, 2, DIMS(1, 3));
	assert_memory_equal(y.data, ((int32_t[]){9, 0, 2}), 12);
	ir_tensor_free(&y);
}

static void test_softmax(void **state)
{
	(void)state;
	int n;
	Graph *g = one(OP_SOFTMAX, 1, &n);
	double x[] = {1, 2, 3, -1, 0, 4, 1000, 1001, 1002};
	Tensor in = TT(DT_F64, 2, DIMS(3, 3), x);
	Tensor y = run(g, n, &in);
	const double *p = y.data;
	for (int i = 0; i < 3; i++) {
		assert_true(fabs(p[i * 3] + p[i * 3 + 1] + p[i * 3 + 2] - 1) < 1e-15);
		for (int j = 0; j < 3; j++)
			for (int k = 0; k < 3; k++)
				assert_true(fabs(p[i * 3 + j] / p[i * 3 + k] -
					exp(x[i * 3 + j] - x[i * 3 + k])) < 1e-12);
	}
	for (int j = 0; j < 3; j++) /* shift invariance, and no overflow at 1000 */
		assert_true(fabs(p[6 + j] - p[j]) < 1e-15);
	ir_tensor_free(&y);
	/* axis 0: columns sum to 1 */
	ir_set_int(g, n, "axis", 0);
	Tensor in0 = TT(DT_F64, 2, DIMS(2, 3), x);
	y = run(g, n, &in0);
	p = y.data;
	for (int j = 0; j < 3; j++) {
		assert_true(fabs(p[j] + p[3 + j] - 1) < 1e-15);
		assert_true(fabs(p[j] - 1 / (1 + exp(x[3 + j] - x[j]))) < 1e-15);
	}
	ir_tensor_free(&y);
	ir_graph_free(g);

	g = one(OP_LOGSOFTMAX, 1, &n);
	float xf[] = {1, 2, 3, 1000, 1001, 1002};
	Tensor inf = TT(DT_F32, 2, DIMS(2, 3), xf);
	y = run(g, n, &inf);
	double lse = log(exp(1.0) + exp(2.0) + exp(3.0));
	near(&y, (double[]){1 - lse, 2 - lse, 3 - lse, 1 - lse, 2 - lse, 3 - lse}, 6, 1e-7);
	ir_tensor_free(&y);
	ir_graph_free(g);
}

static void test_movement(void **state)
{
	(void)state;
	int n;
	Graph *g = one(OP_PAD, 1, &n);
	ir_set_ints(g, n, "pads", DIMS(1, 0, 0, 1), 4);
	ir_set_float(g, n, "value", 7);
	int32_t a[] = {1, 2, 3, 4};
	Tensor in = TT(DT_I32, 2, DIMS(2, 2), a);
	Tensor y = run(g, n, &in);
	shape_is(&y, 2, DIMS(3, 3));
	assert_memory_equal(y.data, ((int32_t[]){7, 7, 7, 1, 2, 7, 3, 4, 7}), 36);
	ir_tensor_free(&y);
	uint8_t bl[] = {0, 1};
	Tensor inb = TT(DT_BOOL, 2, DIMS(1, 2), bl);
	y = run(g, n, &inb); /* value 7 is true for bool */
	assert_memory_equal(y.data, ((uint8_t[]){1, 1, 1, 0, 1, 1}), 6);
	ir_tensor_free(&y);
	ir_set_ints(g, n, "pads", DIMS(-1, 0, 0, 0), 4);
	run_bad(g, n, &in, "non-negative");
	ir_graph_free(g);

	g = one(OP_TRANSPOSE, 1, &n);
	ir_set_ints(g, n, "perm", DIMS(1, 2, 0), 3);
	uint8_t t[24];
	for (int i = 0; i < 24; i++)
		t[i] = (uint8_t)i;
	Tensor it = TT(DT_U8, 3, DIMS(2, 3, 4), t);
	y = run(g, n, &it);
	shape_is(&y, 3, DIMS(3, 4, 2));
	const uint8_t *yt = y.data;
	for (int j = 0; j < 3; j++)
		for (int k = 0; k < 4; k++)
			for (int i = 0; i < 2; i++)
				assert_int_equal(yt[(j * 4 + k) * 2 + i], t[(i * 3 + j) * 4 + k]);
	ir_tensor_free(&y);
	ir_graph_free(g);
	g = one(OP_TRANSPOSE, 1, &n); /* default: reversed dims */
	int64_t m[] = {1, 2, 3, 4, 5, 6};
	Tensor im = TT(DT_I64, 2, DIMS(2, 3), m);
	y = run(g, n, &im);
	shape_is(&y, 2, DIMS(3, 2));
	assert_memory_equal(y.data, ((int64_t[]){1, 4, 2, 5, 3, 6}), 48);
	ir_tensor_free(&y);
	ir_graph_free(g);

	g = one(OP_CONCAT, 3, &n);
	ir_set_int(g, n, "axis", -1);
	int8_t c1[] = {1, 2}, c2[] = {3, 4, 5, 6}, c3[1] = {0};
	Tensor ic[3] = {TT(DT_I8, 2, DIMS(2, 1), c1), TT(DT_I8, 2, DIMS(2, 2), c2),
		TT(DT_I8, 2, DIMS(2, 0), c3)};
	y = run(g, n, ic);
	shape_is(&y, 2, DIMS(2, 3));
	assert_memory_equal(y.data, ((int8_t[]){1, 3, 4, 2, 5, 6}), 6);
	ir_tensor_free(&y);
	ir_set_int(g, n, "axis", 0);
	float f1[] = {1, 2}, f2[] = {3, 4, 5, 6};
	Tensor icf[3] = {TT(DT_F32, 2, DIMS(1, 2), f1), TT(DT_F32, 2, DIMS(2, 2), f2),
		TT(DT_F32, 2, DIMS(1, 2), f1)};
	y = run(g, n, icf);
	shape_is(&y, 2, DIMS(4, 2));
	near(&y, (double[]){1, 2, 3, 4, 5, 6, 1, 2}, 8, 0);
	ir_tensor_free(&y);
	ir_graph_free(g);

	/* reshape / flatten / identity keep row-major bytes */
	const Op ops[] = {OP_RESHAPE, OP_FLATTEN, OP_IDENTITY};
	const int64_t want[][2] = {{4, 6}, {2, 12}, {0, 0}};
	for (int o = 0; o < 3; o++) {
		g = one(ops[o], 1, &n);
		if (ops[o] == OP_RESHAPE)
			ir_set_ints(g, n, "shape", DIMS(-1, 6), 2);
		Tensor ir = TT(DT_U8, 3, DIMS(2, 3, 4), t);
		y = run(g, n, &ir);
		if (ops[o] == OP_IDENTITY)
			shape_is(&y, 3, DIMS(2, 3, 4));
		else
			shape_is(&y, 2, want[o]);
		assert_memory_equal(y.data, t, 24);
		ir_tensor_free(&y);
		ir_graph_free(g);
	}
}

/* y = softmax(relu(x @ w + b)), h = relu(...) also an output; x: [N, 4]. */
static Graph *small_model(int *xv)
{
	Graph *g = ir_graph_new("small");
	int nsym = ir_sym(g, "N");
	Shape xs = ir_shape_make(2, DIMS(0, 4));
	xs.d[0] = (Dim){-1, nsym};
	*xv = ir_add_input(g, "x", DT_F32, xs);
	float w[12], b[3] = {0.5f, -1, 0};
	for (int i = 0; i < 12; i++)
		w[i] = (float)(i % 5) - 2;
	int wv = ir_add_const(g, "w", DT_F32, ir_shape_make(2, DIMS(4, 3)), w, sizeof w, true);
	int bv = ir_add_const(g, "b", DT_F32, ir_shape_make(1, DIMS(3)), b, sizeof b, true);
	int mm = ir_add_node(g, OP_MATMUL, "mm", (int[]){*xv, wv}, 2, 1, NULL);
	int ad = ir_add_node(g, OP_ADD, "ad", (int[]){ir_out(g, mm, 0), bv}, 2, 1, NULL);
	int re = ir_add_node(g, OP_RELU, "h", (int[]){ir_out(g, ad, 0)}, 1, 1, NULL);
	int sm = ir_add_node(g, OP_SOFTMAX, "y", (int[]){ir_out(g, re, 0)}, 1, 1, NULL);
	ir_add_output(g, ir_out(g, sm, 0));
	ir_add_output(g, ir_out(g, re, 0));
	Diag d;
	diag_init(&d);
	for (int i = 0; i < g->nnode; i++)
		assert_int_equal(ir_infer_node(g, i, &d), 0);
	return g;
}

static void test_eval_graph(void **state)
{
	(void)state;
	int xv;
	Graph *g = small_model(&xv);
	float x[] = {1, 0, -1, 2, 0.5f, 0.5f, 0.5f, 0.5f};
	Tensor in = TT(DT_F32, 2, DIMS(2, 4), x), out[2];
	Diag d;
	diag_init(&d);
	if (ir_eval(g, &in, out, &d))
		fail_msg("%s", d.msg);
	shape_is(&out[0], 2, DIMS(2, 3));
	shape_is(&out[1], 2, DIMS(2, 3));
	const float *w = g->val[ir_find_value(g, "w")].data, *b = g->val[ir_find_value(g, "b")].data;
	double h[6], y[6];
	for (int i = 0; i < 2; i++) {
		double s = 0;
		for (int j = 0; j < 3; j++) {
			double a = b[j];
			for (int k = 0; k < 4; k++)
				a += (double)x[i * 4 + k] * w[k * 3 + j];
			h[i * 3 + j] = (float)(a > 0 ? a : 0);
			s += exp(h[i * 3 + j]);
		}
		for (int j = 0; j < 3; j++)
			y[i * 3 + j] = exp(h[i * 3 + j]) / s;
	}
	near(&out[1], h, 6, 0);
	near(&out[0], y, 6, 1e-7);
	ir_tensor_free(&out[0]);
	ir_tensor_free(&out[1]);
	ir_graph_free(g);
}

static void eval_bad(Graph *g, const Tensor *in, const char *needle, const char *needle2)
{
	Diag d;
	diag_init(&d);
	Tensor out[4] = {{0}};
	assert_int_equal(ir_eval(g, in, out, &d), -1);
	for (int k = 0; k < g->noutput; k++)
		assert_null(out[k].data);
	if (!strstr(d.msg, needle) || (needle2 && !strstr(d.msg, needle2)))
		fail_msg("message '%s' lacks '%s'", d.msg, needle);
}

static void test_eval_errors(void **state)
{
	(void)state;
	int xv;
	Graph *g = small_model(&xv);
	float x[12] = {0};
	Tensor in = TT(DT_F32, 2, DIMS(2, 5), x);
	eval_bad(g, &in, "input \"x\"", "[2, 5]");
	int64_t xi[8] = {0};
	Tensor ini = TT(DT_I64, 2, DIMS(2, 4), xi);
	eval_bad(g, &ini, "input \"x\"", "i64");
	/* an elided constant cannot be evaluated */
	int wv = ir_find_value(g, "w");
	void *keep = g->val[wv].data;
	g->val[wv].data = NULL;
	Tensor ok = TT(DT_F32, 2, DIMS(2, 4), x);
	eval_bad(g, &ok, "\"w\"", "elided");
	g->val[wv].data = keep;
	ir_graph_free(g);

	/* symbolic dims bind consistently across inputs */
	g = ir_graph_new("two");
	int nsym = ir_sym(g, "N");
	Shape s = ir_shape_make(1, DIMS(0));
	s.d[0] = (Dim){-1, nsym};
	int a = ir_add_input(g, "a", DT_F32, s), b = ir_add_input(g, "b", DT_F32, s);
	int ad = ir_add_node(g, OP_ADD, "ad", (int[]){a, b}, 2, 1, NULL);
	ir_add_output(g, ir_out(g, ad, 0));
	Tensor two[2] = {TT(DT_F32, 1, DIMS(2), x), TT(DT_F32, 1, DIMS(3), x)};
	eval_bad(g, two, "input \"b\"", "N");
	/* a dead node is skipped; its value as an output is an error */
	g->node[ad].dead = true;
	Tensor same[2] = {TT(DT_F32, 1, DIMS(2), x), TT(DT_F32, 1, DIMS(2), x)};
	eval_bad(g, same, "output \"ad\"", NULL);
	g->node[ad].dead = false;
	Tensor out;
	Diag d;
	diag_init(&d);
	assert_int_equal(ir_eval(g, same, &out, &d), 0);
	shape_is(&out, 1, DIMS(2));
	ir_tensor_free(&out);
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binary_float),
		cmocka_unit_test(test_binary_int),
		cmocka_unit_test(test_unary),
		cmocka_unit_test(test_dtype_errors),
		cmocka_unit_test(test_half),
		cmocka_unit_test(test_reduce),
		cmocka_unit_test(test_softmax),
		cmocka_unit_test(test_movement),
		cmocka_unit_test(test_eval_graph),
		cmocka_unit_test(test_eval_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
