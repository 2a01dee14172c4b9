/* test_onnx_misc.c — ONNX import of the misc family (frontend/onnx_misc.c,
 * onnx_signal.c, onnx_grid.c, onnx_misc_idx.c): each model is built in C,
 * imported, evaluated by the reference interpreter and compared with
 * values worked out by hand from the ONNX specification: the window
 * functions, DFT (forward, inverse, one-sided, irfft), STFT and
 * MelWeightMatrix,
 * QLinearMatMul (half-even rounding, saturation), QLinearConv and
 * MatMulInteger,
 * RotaryEmbedding (halves and interleaved), GridSample's modes and
 * paddings, AffineGrid, RoiAlign (avg, max), Col2Im, TensorScatter, Det, DynamicQuantizeLinear;
 * and the errors for what they refuse. */
#include <math.h>

#include "onnx_build.h"

#include "ir/ir.h"
#include "passes/passes.h"

enum {
	U8 = ONNX__TENSOR_PROTO__DATA_TYPE__UINT8,
};

/* Imports b, feeds its one f32 input (if any) with x, and checks output k
 * against want (n values, within tol). */
static void check(MB *b, const float *x, int k, const double *want, int64_t n, double tol)
{
	Graph *g = load_ok(b);
	Diag d;
	diag_init(&d);
	if (ps_infer_shapes(g, &d))
		fail_msg("%s", d.msg);
	Tensor in[1], out[4];
	assert_true(g->ninput <= 1 && g->noutput <= 4);
	if (g->ninput) {
		const Value *v = &g->val[g->input[0]];
		in[0] = (Tensor){v->dtype, v->shape, (void *)x};
	}
	if (ir_eval(g, in, out, &d))
		fail_msg("eval: %s", d.msg);
	assert_int_equal(ir_shape_numel(&out[k].shape), n);
	size_t esz = ir_dtype_size(out[k].dtype);
	for (int64_t i = 0; i < n; i++) {
		double got = ir_elem_get(out[k].dtype, (const char *)out[k].data + (size_t)i * esz);
		if (!(fabs(got - want[i]) <= tol))
			fail_msg("output %d element %lld: %.9g, expected %.9g", k, (long long)i, got, want[i]);
	}
	for (int j = 0; j < g->noutput; j++)
		ir_tensor_free(&out[j]);
	ir_graph_free(g);
}

static void window_case(const char *op, int64_t size, int periodic, const double *want)
{
	MB *b = mb_new(17);
	mb_init_i64(b, "n", "", &size, 1);
	a_int(b, mb_node(b, op, "w", "n", "Y"), "periodic", periodic);
	mb_output(b, "Y");
	check(b, NULL, 0, want, size, 1e-6);
}

static void test_windows(void **state)
{
	(void)state;
	window_case("HannWindow", 4, 1, (const double[]){0, 0.5, 1, 0.5});
	window_case("HannWindow", 5, 0, (const double[]){0, 0.5, 1, 0.5, 0});
	window_case("HammingWindow", 3, 0, (const double[]){4.0 / 46, 1, 4.0 / 46});
	window_case("BlackmanWindow", 4, 1, (const double[]){0, 0.34, 1, 0.34});
}

/* DFT of x [1, N, c] along axis 1 (opset 17 attribute). */
static void dft_case(const float *x, int64_t n, int c, int inverse, int onesided, const double *want,
	int64_t nwant)
{
	MB *b = mb_new(17);
	char dims[32];
	snprintf(dims, sizeof dims, "1,%lld,%d", (long long)n, c);
	mb_input(b, "X", F32, dims);
	Onnx__NodeProto *nd = mb_node(b, "DFT", "dft", "X", "Y");
	a_int(b, nd, "inverse", inverse);
	a_int(b, nd, "onesided", onesided);
	mb_output(b, "Y");
	check(b, x, 0, want, nwant, 1e-5);
}

/* fft([1, 2, 3, 4]) = [10, -2 + 2i, -2, -2 - 2i]. */
static void test_dft(void **state)
{
	(void)state;
	const float x[4] = {1, 2, 3, 4}, spec[8] = {10, 0, -2, 2, -2, 0, -2, -2};
	dft_case(x, 4, 1, 0, 0, (const double[]){10, 0, -2, 2, -2, 0, -2, -2}, 8);
	dft_case(x, 4, 1, 0, 1, (const double[]){10, 0, -2, 2, -2, 0}, 6);
	dft_case(spec, 4, 2, 1, 0, (const double[]){1, 0, 2, 0, 3, 0, 4, 0}, 8);
	dft_case(spec, 3, 2, 1, 1, (const double[]){1, 2, 3, 4}, 4); /* irfft, L = 2 (3 - 1) */
}

/* STFT of 0..5 in frames of 4 every 2: frame sums and first bins. */
static void test_stft(void **state)
{
	(void)state;
	MB *b = mb_new(17);
	mb_input(b, "X", F32, "1,6,1");
	mb_init_i64(b, "step", "", INTS(2));
	mb_init_i64(b, "len", "", INTS(4));
	mb_node(b, "STFT", "st", "X,step,,len", "Y");
	mb_output(b, "Y");
	const float x[6] = {0, 1, 2, 3, 4, 5};
	/* frame [a, a+1, a+2, a+3]: bins 4a + 6, -2 + 2i, -2 */
	check(b, x, 0, (const double[]){6, 0, -2, 2, -2, 0, 14, 0, -2, 2, -2, 0}, 12, 1e-5);
}

/* MelWeightMatrix against the specification's loops, written out here. */
static void test_mel_weight_matrix(void **state)
{
	(void)state;
	enum { M = 3, L = 16, K = L / 2 + 1 };
	const double sr = 8000, lo = 100, hi = 4000;
	MB *b = mb_new(17);
	mb_init_i64(b, "m", "", INTS(M));
	mb_init_i64(b, "l", "", INTS(L));
	mb_init_i64(b, "sr", "", INTS(8000));
	float lof = (float)lo, hif = (float)hi;
	mb_init_f32(b, "lo", "", &lof, 1);
	mb_init_f32(b, "hi", "", &hif, 1);
	mb_node(b, "MelWeightMatrix", "mel", "m,l,sr,lo,hi", "Y");
	mb_output(b, "Y");
	double want[K * M] = {0}, lm = 2595 * log10(1 + lo / 700), hm = 2595 * log10(1 + hi / 700);
	int bin[M + 2];
	for (int k = 0; k < M + 2; k++)
		bin[k] = (int)floor((L + 1) * 700 * (pow(10, (k * (hm - lm) / (M + 2) + lm) / 2595) - 1) / sr);
	for (int i = 0; i < M; i++) {
		int l = bin[i], c = bin[i + 1], h = bin[i + 2];
		if (c == l)
			want[c * M + i] = 1;
		else
			for (int j = l; j <= c; j++)
				want[j * M + i] = (double)(j - l) / (c - l);
		for (int j = c; j < h; j++)
			want[j * M + i] = (double)(h - j) / (h - c);
	}
	check(b, NULL, 0, want, K * M, 1e-6);
}

static void add_u8(MB *b, const char *name, const char *dims, const uint8_t *v, size_t n)
{
	mb_init(b, mb_tensor(b, name, U8, dims, v, n, 1));
}

/* a = [10, 20] - 10, b = [5, 7] - 5: C = 20; times 0.5 * 0.25 / ys. */
static void qlinear_case(float ys, const double *want)
{
	MB *b = mb_new(10);
	add_u8(b, "a", "1,2", (const uint8_t[]){10, 20}, 2);
	add_u8(b, "az", "", (const uint8_t[]){10}, 1);
	add_u8(b, "b", "2,1", (const uint8_t[]){5, 7}, 2);
	add_u8(b, "bz", "", (const uint8_t[]){5}, 1);
	add_u8(b, "yz", "", (const uint8_t[]){3}, 1);
	float as = 0.5f, bs = 0.25f;
	mb_init_f32(b, "as", "", &as, 1);
	mb_init_f32(b, "bs", "", &bs, 1);
	mb_init_f32(b, "ys", "", &ys, 1);
	mb_node(b, "QLinearMatMul", "q", "a,as,az,b,bs,bz,ys,yz", "Y");
	mb_output(b, "Y");
	check(b, NULL, 0, want, 1, 0);
}

static void test_integer_matmul(void **state)
{
	(void)state;
	qlinear_case(0.125f, (const double[]){23});   /* 20 + 3 */
	qlinear_case(1.0f, (const double[]){5});      /* round(2.5) = 2, + 3 */
	qlinear_case(1.0f / 1024, (const double[]){255}); /* 2560 + 3 saturates */
	MB *b = mb_new(10); /* QLinearConv: x - 10 = [0, 10, 20], w - 1 = [0, 2], bias 5 */
	add_u8(b, "x", "1,1,1,3", (const uint8_t[]){10, 20, 30}, 3);
	add_u8(b, "xz", "", (const uint8_t[]){10}, 1);
	add_u8(b, "w", "1,1,1,2", (const uint8_t[]){1, 3}, 2);
	add_u8(b, "wz", "", (const uint8_t[]){1}, 1);
	add_u8(b, "yz", "", (const uint8_t[]){3}, 1);
	float xs = 0.5f, wsc = 0.25f, ys = 0.125f;
	int32_t bias = 5;
	mb_init_f32(b, "xs", "", &xs, 1);
	mb_init_f32(b, "ws", "", &wsc, 1);
	mb_init_f32(b, "ys", "", &ys, 1);
	mb_init(b, mb_tensor(b, "B", ONNX__TENSOR_PROTO__DATA_TYPE__INT32, "1", &bias, 1, 1));
	mb_node(b, "QLinearConv", "qc", "x,xs,xz,w,ws,wz,ys,yz,B", "Y");
	mb_output(b, "Y");
	check(b, NULL, 0, (const double[]){20 + 5 + 3, 40 + 5 + 3}, 2, 0);
	b = mb_new(10);
	add_u8(b, "a", "2,2", (const uint8_t[]){1, 2, 3, 4}, 4);
	add_u8(b, "b", "2,1", (const uint8_t[]){200, 100}, 2);
	add_u8(b, "az", "", (const uint8_t[]){1}, 1);
	mb_node(b, "MatMulInteger", "mi", "a,b,az", "Y");
	mb_output(b, "Y");
	check(b, NULL, 0, (const double[]){100, 2 * 200 + 3 * 100}, 2, 0);
}

/* x = [1, 2, 3, 4] in one head; cos = [0, 1], sin = [1, 0]. */
static void rotary_case(int interleaved, const double *want)
{
	MB *b = mb_new(23);
	mb_input(b, "X", F32, "1,1,1,4");
	mb_init_f32(b, "c", "1,1,2", (const float[]){0, 1}, 2);
	mb_init_f32(b, "s", "1,1,2", (const float[]){1, 0}, 2);
	a_int(b, mb_node(b, "RotaryEmbedding", "re", "X,c,s", "Y"), "interleaved", interleaved);
	mb_output(b, "Y");
	check(b, (const float[]){1, 2, 3, 4}, 0, want, 4, 0);
}

static void test_rotary(void **state)
{
	(void)state;
	rotary_case(0, (const double[]){-3, 2, 1, 4}); /* pairs (1, 3), (2, 4) */
	rotary_case(1, (const double[]){-2, 1, 3, 4}); /* pairs (1, 2), (3, 4) */
}

/* X [[0, 1], [2, 3]] at (x, y) = (-1, -1), (1, 1), (0, 0), (0, -1), (2, 0). */
static void grid_case(const char *mode, const char *pad, const double *want)
{
	MB *b = mb_new(22);
	mb_input(b, "X", F32, "1,1,2,2");
	mb_init_f32(b, "g", "1,1,5,2", (const float[]){-1, -1, 1, 1, 0, 0, 0, -1, 2, 0}, 10);
	Onnx__NodeProto *n = mb_node(b, "GridSample", "gs", "X,g", "Y");
	a_int(b, n, "align_corners", 1);
	a_str(b, n, "mode", mode);
	a_str(b, n, "padding_mode", pad);
	mb_output(b, "Y");
	check(b, (const float[]){0, 1, 2, 3}, 0, want, 5, 1e-6);
}

static void test_grid_sample(void **state)
{
	(void)state;
	grid_case("linear", "zeros", (const double[]){0, 3, 1.5, 0.5, 1});
	grid_case("linear", "border", (const double[]){0, 3, 1.5, 0.5, 2});
	grid_case("linear", "reflection", (const double[]){0, 3, 1.5, 0.5, 1.5});
	grid_case("nearest", "zeros", (const double[]){0, 3, 0, 0, 0}); /* 0.5 rounds to 0 */
	/* cubic at pixel centers reproduces the pixels */
	grid_case("cubic", "border", (const double[]){0, 3, 1.5, 0.5, 2});
}

/* theta = identity: the grid is the normalized pixel centers. */
static void test_affine_grid(void **state)
{
	(void)state;
	MB *b = mb_new(20);
	mb_input(b, "X", F32, "1,2,3");
	mb_init_i64(b, "sz", "4", INTS(1, 1, 1, 2));
	mb_node(b, "AffineGrid", "ag", "X,sz", "Y");
	mb_output(b, "Y");
	check(b, (const float[]){1, 0, 0, 0, 1, 0}, 0, (const double[]){-0.5, 0, 0.5, 0}, 4, 1e-6);
}

/* One 1 x 1 bin over [0, 1]^2 sampled once at (0.5, 0.5): the mean of
 * X, or in max mode the largest corner times its weight 1/4. */
static void roi_case(const char *mode, double want)
{
	MB *b = mb_new(16);
	mb_input(b, "X", F32, "1,1,2,2");
	mb_init_f32(b, "rois", "1,4", (const float[]){0, 0, 1, 1}, 4);
	mb_init_i64(b, "bi", "1", INTS(0));
	Onnx__NodeProto *n = mb_node(b, "RoiAlign", "ra", "X,rois,bi", "Y");
	a_str(b, n, "mode", mode);
	a_str(b, n, "coordinate_transformation_mode", "output_half_pixel");
	a_int(b, n, "output_height", 1);
	a_int(b, n, "output_width", 1);
	a_int(b, n, "sampling_ratio", 1);
	mb_output(b, "Y");
	check(b, (const float[]){0, 1, 2, 3}, 0, &want, 1, 1e-6);
}

static void test_roi_align(void **state)
{
	(void)state;
	roi_case("avg", 1.5);
	roi_case("max", 0.75);
}

/* Blocks (0, 2) at 0 and (1, 3) at 1 of a 1 x 3 image overlap at 1. */
static void test_col2im(void **state)
{
	(void)state;
	MB *b = mb_new(18);
	mb_input(b, "X", F32, "1,2,2");
	mb_init_i64(b, "img", "2", INTS(1, 3));
	mb_init_i64(b, "blk", "2", INTS(1, 2));
	mb_node(b, "Col2Im", "ci", "X,img,blk", "Y");
	mb_output(b, "Y");
	check(b, (const float[]){0, 1, 2, 3}, 0, (const double[]){0, 3, 3}, 3, 0);
}

static void test_tensor_scatter(void **state)
{
	(void)state;
	MB *b = mb_new(24);
	mb_input(b, "X", F32, "1,4,1");
	mb_init_f32(b, "u", "1,2,1", (const float[]){10, 20}, 2);
	mb_init_i64(b, "w", "1", INTS(3));
	a_str(b, mb_node(b, "TensorScatter", "ts", "X,u,w", "Y"), "mode", "circular");
	mb_output(b, "Y");
	check(b, (const float[]){0, 1, 2, 3}, 0, (const double[]){20, 1, 2, 10}, 4, 0);
}

static void det_case(const char *dims, const float *x, const double *want, int64_t n)
{
	MB *b = mb_new(22);
	mb_input(b, "X", F32, dims);
	mb_node(b, "Det", "det", "X", "Y");
	mb_output(b, "Y");
	check(b, x, 0, want, n, 1e-5);
}

static void test_det(void **state)
{
	(void)state;
	det_case("2,2,2", (const float[]){1, 2, 3, 4, 2, 0, 0, 3}, (const double[]){-2, 6}, 2);
	det_case("3,3", (const float[]){2, 0, 1, 1, 3, 2, 1, 1, 2}, (const double[]){6}, 1);
	det_case("4,4", (const float[]){1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 2, 0, 0, 0, 1, 3}, (const double[]){-12}, 1);
}

/* range [-1, 2.55]: scale 3.55 / 255, zero point round(71.83) = 72. */
static void test_dynamic_quantize(void **state)
{
	(void)state;
	const float x[4] = {0, 2, -1, 2.55f};
	for (int k = 0; k < 3; k++) {
		MB *b = mb_new(11);
		mb_input(b, "X", F32, "4");
		mb_node(b, "DynamicQuantizeLinear", "dq", "X", "Y,S,Z");
		mb_output(b, "Y");
		mb_output(b, "S");
		mb_output(b, "Z");
		if (k == 0)
			check(b, x, 0, (const double[]){72, 216, 0, 255}, 4, 0);
		else if (k == 1)
			check(b, x, 1, (const double[]){3.55 / 255}, 1, 1e-7);
		else
			check(b, x, 2, (const double[]){72}, 1, 0);
	}
}

static void test_refused(void **state)
{
	(void)state;
	MB *b = mb_new(22);
	mb_input(b, "X", F32, "5,5");
	mb_node(b, "Det", "det5", "X", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"det5\" (Det)", "at most 4 x 4");
	b = mb_new(22);
	mb_input(b, "X", F32, "1,1,2,2");
	mb_input(b, "G", F32, "1,1,1,2");
	a_str(b, mb_node(b, "GridSample", "gs", "X,G", "Y"), "mode", "lanczos");
	mb_output(b, "Y");
	load_fails(b, "node \"gs\" (GridSample)", "lanczos");
	b = mb_new(10);
	mb_input(b, "A", U8, "1,300");
	mb_input(b, "B", U8, "300,1");
	mb_node(b, "MatMulInteger", "mi", "A,B", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"mi\" (MatMulInteger)", "float32 sums exactly");
	b = mb_new(17);
	mb_input(b, "N", I64, "");
	mb_node(b, "HannWindow", "hw", "N", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"hw\" (HannWindow)", "must be a constant");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_dft),
		cmocka_unit_test(test_stft),
		cmocka_unit_test(test_mel_weight_matrix),
		cmocka_unit_test(test_integer_matmul),
		cmocka_unit_test(test_rotary),
		cmocka_unit_test(test_grid_sample),
		cmocka_unit_test(test_affine_grid),
		cmocka_unit_test(test_roi_align),
		cmocka_unit_test(test_col2im),
		cmocka_unit_test(test_tensor_scatter),
		cmocka_unit_test(test_det),
		cmocka_unit_test(test_dynamic_quantize),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
