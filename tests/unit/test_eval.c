/* test_eval.c — the reference interpreter (ir/eval*.c). Every op is checked
 * on small tensors whose answer is written out by hand or recomputed here by
 * an independent, obviously-correct loop (conv through an explicitly padded
 * copy, softmax through row sums and exp ratios); pooling's ceil_mode and
 * count_include_pad cases match PyTorch's numbers; integer wrap/truncation,
 * f16/bf16 rounding, dtype errors, and whole-graph runs with symbolic
 * inputs and their error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

#define DIMS(...) (int64_t[]){__VA_ARGS__}
#define NDIMS(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

static Tensor TT(DType t, int rank, const int64_t *dims, const void *v)
{
	return (Tensor){t, ir_shape_make(rank, dims), (void *)v};
}

/* A graph holding one node of op over nin placeholder inputs. */
static Graph *one(Op op, int nin, int *node)
{
	Graph *g = ir_graph_new("t");
	int in[8];
	for (int k = 0; k < nin; k++)
		in[k] = ir_add_input(g, "i", DT_UNDEF, ir_shape_unknown());
	*node = ir_add_node(g, op, "n", in, nin, 1, NULL);
	return g;
}

/* Evaluates the node; fails the test with the message on error. */
static Tensor run(Graph *g, int node, const Tensor *in)
{
	Diag d;
	diag_init(&d);
	Tensor out;
	if (ir_eval_node(g, node, in, &out, &d))
		fail_msg("eval failed: %s", d.msg);
	return out;
}

/* Evaluates the node, expects an error containing needle. */
static void run_bad(Graph *g, int node, const Tensor *in, const char *needle)
{
	Diag d;
	diag_init(&d);
	Tensor out = {0};
	assert_int_equal(ir_eval_node(g, node, in, &out, &d), -1);
	assert_null(out.data);
	if (strncmp(d.msg, "node ", 5) || !strstr(d.msg, needle))
		fail_msg("message '%s' lacks '%s'", d.msg, needle);
}

static void shape_is(const Tensor *t, int rank, const int64_t *dims)
{
	Shape s = ir_shape_make(rank, dims);
	assert_true(ir_shape_eq(&t->shape, &s));
}

/* Compares with want (as f64) after rounding want to t's float dtype;
 * NaN must match NaN. */
static void near(const Tensor *t, const double *want, int64_t n, double tol)
{
	assert_int_equal(ir_shape_numel(&t->shape), n);
	for (int64_t i = 0; i < n; i++) {
		double got, w = want[i];
		if (t->dtype == DT_F32) {
			got = ((float *)t->data)[i];
			w = (float)w;
		} else {
			assert_int_equal(t->dtype, DT_F64);
			got = ((double *)t->data)[i];
		}
		if ((isnan(w) && isnan(got)) || got == w)
			continue;
		if (!(fabs(got - w) <= tol * fmax(1, fabs(w))))
			fail_msg("element %lld: got %.17g, want %.17g", (long long)i, got, w);
	}
}

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

static void test_matmul(void **state)
{
	(void)state;
	int n;
	Graph *g = one(OP_MATMUL, 2, &n);
	float a[] = {1, 2, 3, 4, 5, 6}, b[] = {7, 8, 9, 10, 11, 12};
	Tensor in[2] = {TT(DT_F32, 2, DIMS(2, 3), a), TT(DT_F32, 2, DIMS(3, 2), b)};
	Tensor y = run(g, n, in);
	shape_is(&y, 2, DIMS(2, 2));
	near(&y, (double[]){58, 64, 139, 154}, 4, 0);
	ir_tensor_free(&y);
	/* 1-D operands: [3] x [3,2] -> [2]; [2,3] x [3] -> [2]; [3] x [3] -> [] */
	Tensor v1[2] = {TT(DT_F32, 1, DIMS(3), a), TT(DT_F32, 2, DIMS(3, 2), b)};
	y = run(g, n, v1);
	shape_is(&y, 1, DIMS(2));
	near(&y, (double[]){58, 64}, 2, 0);
	ir_tensor_free(&y);
	Tensor v2[2] = {TT(DT_F32, 2, DIMS(2, 3), a), TT(DT_F32, 1, DIMS(3), b)};
	y = run(g, n, v2);
	shape_is(&y, 1, DIMS(2));
	near(&y, (double[]){50, 122}, 2, 0);
	ir_tensor_free(&y);
	Tensor v3[2] = {TT(DT_F32, 1, DIMS(3), a), TT(DT_F32, 1, DIMS(3), b)};
	y = run(g, n, v3);
	shape_is(&y, 0, NULL);
	near(&y, (double[]){50}, 1, 0);
	ir_tensor_free(&y);

	/* batch broadcast [2,1,2,3] x [3,3,2] -> [2,3,2,2], against loops */
	double A[12], B[18];
	for (int i = 0; i < 12; i++)
		A[i] = i * 0.5 - 2;
	for (int i = 0; i < 18; i++)
		B[i] = (i % 7) - 3;
	Tensor bt[2] = {TT(DT_F64, 4, DIMS(2, 1, 2, 3), A), TT(DT_F64, 3, DIMS(3, 3, 2), B)};
	y = run(g, n, bt);
	shape_is(&y, 4, DIMS(2, 3, 2, 2));
	double w[24];
	for (int p = 0; p < 2; p++)
		for (int q = 0; q < 3; q++)
			for (int i = 0; i < 2; i++)
				for (int j = 0; j < 2; j++) {
					double s = 0;
					for (int k = 0; k < 3; k++)
						s += A[p * 6 + i * 3 + k] * B[q * 6 + k * 2 + j];
					w[((p * 3 + q) * 2 + i) * 2 + j] = s;
				}
	near(&y, w, 24, 0);
	ir_tensor_free(&y);
	/* trans_a and trans_b: pass the transposes, get the same product */
	float at[] = {1, 4, 2, 5, 3, 6}, bt2[] = {7, 9, 11, 8, 10, 12};
	ir_set_int(g, n, "trans_a", 1);
	ir_set_int(g, n, "trans_b", 1);
	Tensor tt[2] = {TT(DT_F32, 2, DIMS(3, 2), at), TT(DT_F32, 2, DIMS(2, 3), bt2)};
	y = run(g, n, tt);
	near(&y, (double[]){58, 64, 139, 154}, 4, 0);
	ir_tensor_free(&y);
	ir_set_int(g, n, "trans_b", 0);
	Tensor ta[2] = {TT(DT_F32, 2, DIMS(3, 2), at), TT(DT_F32, 2, DIMS(3, 2), b)};
	y = run(g, n, ta);
	near(&y, (double[]){58, 64, 139, 154}, 4, 0);
	ir_tensor_free(&y);
	ir_graph_free(g);

	g = one(OP_MATMUL, 2, &n);
	int64_t ia[] = {1, 2, 3, 4}, ib[] = {-1, 0, 2, 1};
	Tensor ii[2] = {TT(DT_I64, 2, DIMS(2, 2), ia), TT(DT_I64, 2, DIMS(2, 2), ib)};
	y = run(g, n, ii);
	int64_t iw[] = {3, 2, 5, 4};
	assert_memory_equal(y.data, iw, sizeof iw);
	ir_tensor_free(&y);
	ir_graph_free(g);
}

/* Independent conv: pad into a zeroed buffer first, then plain sums. */
static void conv_ref(const double *x, const double *w, const double *b, int N, int C, int H,
	int W, int K, int KH, int KW, const int64_t *st, const int64_t *pd, const int64_t *dl,
	int G, int OH, int OW, double *y)
{
	int PH = H + (int)(pd[0] + pd[2]), PW = W + (int)(pd[1] + pd[3]);
	double *xp = calloc((size_t)N * C * PH * PW, sizeof *xp);
	for (int n = 0; n < N; n++)
		for (int c = 0; c < C; c++)
			for (int h = 0; h < H; h++)
				for (int v = 0; v < W; v++)
					xp[((n * C + c) * PH + h + pd[0]) * PW + v + pd[1]] =
						x[((n * C + c) * H + h) * W + v];
	int Cg = C / G, Kg = K / G;
	for (int n = 0; n < N; n++)
		for (int k = 0; k < K; k++)
			for (int oh = 0; oh < OH; oh++)
				for (int ow = 0; ow < OW; ow++) {
					double s = b ? b[k] : 0;
					for (int c = 0; c < Cg; c++)
						for (int i = 0; i < KH; i++)
							for (int j = 0; j < KW; j++)
								s += w[((k * Cg + c) * KH + i) * KW + j] *
									xp[((n * C + (k / Kg) * Cg + c) * PH + oh * st[0] +
										i * dl[0]) * PW + ow * st[1] + j * dl[1]];
					y[((n * K + k) * OH + oh) * OW + ow] = s;
				}
	free(xp);
}

static void test_conv(void **state)
{
	(void)state;
	int n;
	Graph *g = one(OP_CONV, 2, &n);
	float x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[] = {1, 1, 1, 1};
	Tensor in[2] = {TT(DT_F32, 4, DIMS(1, 1, 3, 3), x), TT(DT_F32, 4, DIMS(1, 1, 2, 2), w)};
	Tensor y = run(g, n, in);
	shape_is(&y, 4, DIMS(1, 1, 2, 2));
	near(&y, (double[]){12, 16, 24, 28}, 4, 0);
	ir_tensor_free(&y);
	ir_graph_free(g);

	/* everything at once: groups, strides, asymmetric pads, dilation, bias */
	g = one(OP_CONV, 3, &n);
	int64_t st[] = {2, 1}, pd[] = {1, 0, 2, 1}, dl[] = {1, 2};
	ir_set_ints(g, n, "strides", st, 2);
	ir_set_ints(g, n, "pads", pd, 4);
	ir_set_ints(g, n, "dilations", dl, 2);
	ir_set_int(g, n, "group", 2);
	enum { N = 2, C = 4, H = 5, W = 6, K = 6, KH = 3, KW = 2 };
	double X[N * C * H * W], Wt[K * (C / 2) * KH * KW], B[K];
	unsigned r = 1;
	for (size_t i = 0; i < sizeof X / sizeof *X; i++)
		X[i] = (double)((r = r * 1103515245 + 12345) >> 16 & 255) / 64 - 2;
	for (size_t i = 0; i < sizeof Wt / sizeof *Wt; i++)
		Wt[i] = (double)((r = r * 1103515245 + 12345) >> 16 & 255) / 64 - 2;
	for (int i = 0; i < K; i++)
		B[i] = i - 2.5;
	Tensor cin[3] = {TT(DT_F64, 4, DIMS(N, C, H, W), X),
		TT(DT_F64, 4, DIMS(K, C / 2, KH, KW), Wt), TT(DT_F64, 1, DIMS(K), B)};
	y = run(g, n, cin);
	/* OH = (5+1+2-3)/2+1 = 3, OW = (6+0+1-3)/1+1 = 5 */
	shape_is(&y, 4, DIMS(N, K, 3, 5));
	double want[N * K * 3 * 5];
	conv_ref(X, Wt, B, N, C, H, W, K, KH, KW, st, pd, dl, 2, 3, 5, want);
	near(&y, want, N * K * 15, 1e-12);
	ir_tensor_free(&y);
	ir_graph_free(g);
}

static Tensor pool(Op op, const Tensor *x, int k, int s, int p, int ceil, int cip, int dil)
{
	int n;
	Graph *g = one(op, 1, &n);
	ir_set_ints(g, n, "kernel", DIMS(k, k), 2);
	ir_set_ints(g, n, "strides", DIMS(s, s), 2);
	ir_set_ints(g, n, "pads", DIMS(p, p, p, p), 4);
	ir_set_int(g, n, "ceil_mode", ceil);
	if (op == OP_AVGPOOL)
		ir_set_int(g, n, "count_include_pad", cip);
	else
		ir_set_ints(g, n, "dilations", DIMS(dil, dil), 2);
	Tensor y = run(g, n, x);
	ir_graph_free(g);
	return y;
}

static void test_pool(void **state)
{
	(void)state;
	double v16[16], v25[25], neg[25], ones[16];
	for (int i = 0; i < 25; i++) {
		v25[i] = i + 1;
		neg[i] = -(i + 1);
	}
	for (int i = 0; i < 16; i++) {
		v16[i] = i + 1;
		ones[i] = 1;
	}
	Tensor x4 = TT(DT_F64, 4, DIMS(1, 1, 4, 4), v16);
	Tensor x5 = TT(DT_F64, 4, DIMS(1, 1, 5, 5), v25);
	Tensor xn = TT(DT_F64, 4, DIMS(1, 1, 5, 5), neg);
	Tensor x1 = TT(DT_F64, 4, DIMS(1, 1, 4, 4), ones);
	Tensor y = pool(OP_MAXPOOL, &x4, 2, 2, 0, 0, 0, 1);
	near(&y, (double[]){6, 8, 14, 16}, 4, 0);
	ir_tensor_free(&y);
	y = pool(OP_AVGPOOL, &x4, 2, 2, 0, 0, 0, 1);
	near(&y, (double[]){3.5, 5.5, 11.5, 13.5}, 4, 0);
	ir_tensor_free(&y);
	/* ceil_mode: partial windows at the edge (PyTorch's numbers) */
	y = pool(OP_MAXPOOL, &x5, 2, 2, 0, 1, 0, 1);
	shape_is(&y, 4, DIMS(1, 1, 3, 3));
	near(&y, (double[]){7, 9, 10, 17, 19, 20, 22, 24, 25}, 9, 0);
	ir_tensor_free(&y);
	y = pool(OP_AVGPOOL, &x5, 2, 2, 0, 1, 0, 1);
	near(&y, (double[]){4, 6, 7.5, 14, 16, 17.5, 21.5, 23.5, 25}, 9, 0);
	ir_tensor_free(&y);
	/* count_include_pad: padded cells count, cells past H+pb do not */
	y = pool(OP_AVGPOOL, &x1, 3, 2, 1, 1, 1, 1);
	shape_is(&y, 4, DIMS(1, 1, 3, 3));
	near(&y, (double[]){4. / 9, 6. / 9, 2. / 6, 6. / 9, 1, 3. / 6, 2. / 6, 3. / 6, 1. / 4}, 9,
		1e-15);
	ir_tensor_free(&y);
	y = pool(OP_AVGPOOL, &x1, 3, 2, 1, 1, 0, 1);
	near(&y, (double[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, 9, 1e-15);
	ir_tensor_free(&y);
	/* maxpool padding is -inf, not 0 */
	y = pool(OP_MAXPOOL, &xn, 3, 1, 1, 0, 0, 1);
	near(&y, (double[]){-1, -1, -2, -3, -4, -1, -1, -2, -3, -4, -6, -6, -7, -8, -9,
		-11, -11, -12, -13, -14, -16, -16, -17, -18, -19}, 25, 0);
	ir_tensor_free(&y);
	y = pool(OP_MAXPOOL, &x5, 2, 1, 0, 0, 0, 2);
	near(&y, (double[]){13, 14, 15, 18, 19, 20, 23, 24, 25}, 9, 0);
	ir_tensor_free(&y);
	/* NaN propagates through maxpool */
	v16[5] = NAN;
	y = pool(OP_MAXPOOL, &x4, 2, 2, 0, 0, 0, 1);
	near(&y, (double[]){NAN, 8, 14, 16}, 4, 0);
	ir_tensor_free(&y);
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

static void test_batchnorm(void **state)
{
	(void)state;
	int n;
	Graph *g = one(OP_BATCHNORM, 5, &n);
	ir_set_float(g, n, "epsilon", 0.5);
	double x[] = {1, 2, 3, 4, 5, 6, 7, 8}, sc[] = {2, -1}, bi[] = {0.5, 1};
	double mu[] = {1, 6}, var[] = {3.5, 8.5};
	Tensor in[5] = {TT(DT_F64, 3, DIMS(2, 2, 2), x), TT(DT_F64, 1, DIMS(2), sc),
		TT(DT_F64, 1, DIMS(2), bi), TT(DT_F64, 1, DIMS(2), mu), TT(DT_F64, 1, DIMS(2), var)};
	Tensor y = run(g, n, in);
	/* channel 0: (x-1)/2*2+0.5; channel 1: (x-6)/3*-1+1 */
	near(&y, (double[]){0.5, 1.5, 2, 5. / 3, 4.5, 5.5, 2. / 3, 1. / 3}, 8, 1e-15);
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
		cmocka_unit_test(test_matmul),
		cmocka_unit_test(test_conv),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_reduce),
		cmocka_unit_test(test_softmax),
		cmocka_unit_test(test_batchnorm),
		cmocka_unit_test(test_movement),
		cmocka_unit_test(test_eval_graph),
		cmocka_unit_test(test_eval_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
