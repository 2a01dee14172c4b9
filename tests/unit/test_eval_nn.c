/* test_eval_nn.c — the reference interpreter's matmul (1-D promotion,
 * batch broadcast, transposes, integers), conv (checked against a separate
 * implementation that pads explicitly), maxpool/avgpool (ceil_mode and
 * count_include_pad against PyTorch's numbers, -inf padding, dilation, NaN)
 * and batchnorm (by hand). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "eval_check.h"

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
					for (int j = 0; j < KW; j++) {
						int ci = (k / Kg) * Cg + c; /* input channel */
						int hi = oh * (int)st[0] + i * (int)dl[0];
						int wi = ow * (int)st[1] + j * (int)dl[1];
						s += w[((k * Cg + c) * KH + i) * KW + j] *
							xp[((n * C + ci) * PH + hi) * PW + wi];
					}
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


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matmul),
		cmocka_unit_test(test_conv),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_batchnorm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
