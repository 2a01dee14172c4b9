/* test_rt_kernels.c — unit tests of the runtime's kernel library against
 * naive loops: matmul, conv2d on every path (im2col and GEMM, direct,
 * filters across the lanes, Winograd, the weight gradients' dot products
 * and Winograd read backwards) with its epilogues, and the 3x3 depthwise
 * kernel. (The model/session API: test_runtime.c.)
 *
 * The kernel library is compiled into this test by including its source. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnd.h"
#include "wcache.h"
#include "runtime/rt.h"
#include "runtime/kernels.c"
#include "runtime/im2col.c"
#include "runtime/conv_nd.c"
#include "runtime/gemm.c"
#include "runtime/gemm_ukr.c"
#include "runtime/epilogue.c"
#include "runtime/conv_direct.c"
#include "runtime/winograd.c"
#include "runtime/winograd_out.c"
#include "runtime/winograd_wt.c"
#include "runtime/conv_wgrad.c"
#include "runtime/wino_wgrad.c"
#include "runtime/conv_swap.c"
#include "runtime/depthwise.c"

/* Row-major reference: C = op(A) op(B), op from the trans flags. */
static void
naive_mm(const float *a, const float *b, float *c, int64_t m, int64_t n, int64_t k, int ta,
	 int tb)
{
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			double s = 0;
			for (int64_t l = 0; l < k; l++)
				s += (double)(ta ? a[l * m + i] : a[i * k + l]) *
				     (tb ? b[j * k + l] : b[l * n + j]);
			c[i * n + j] = (float)s;
		}
}

static void
assert_close(const float *got, const float *want, int64_t n, const char *what)
{
	for (int64_t i = 0; i < n; i++)
		if (!(fabsf(got[i] - want[i]) <= 1e-4f * (1 + fabsf(want[i]))))
			fail_msg("%s: element %lld: got %g, want %g", what, (long long)i, got[i], want[i]);
}

/* got against want as assert_close, or within tol times the sum of the
 * terms' magnitudes mag (a convolution of |x| and |w|): Winograd's
 * rounding follows the size of its terms, not of their sum, which a long
 * sum of random signs makes small (a weight gradient's 3200 terms). */
static void
assert_close_mag(const float *got, const float *want, const float *mag, double tol, int64_t n,
		 const char *what)
{
	for (int64_t i = 0; i < n; i++) {
		double e = fabs((double)got[i] - want[i]);
		if (!(e <= 1e-4 * (1 + fabsf(want[i])) || e <= tol * mag[i]))
			fail_msg("%s: element %lld: got %g, want %g (terms' magnitudes %g)", what, (long long)i,
				 got[i], want[i], mag[i]);
	}
}

static void
test_matmul(void **state)
{
	const int64_t m = 5, n = 7, k = 3, mk = m * k, kn = k * n, mn = m * n;
	/* A is batch [2, 3], B broadcasts over the first batch dim, C is [2, 3] */
	const int64_t bext[2] = {2, 3}, sa[2] = {3 * mk, mk}, sb[2] = {0, kn}, sc[2] = {3 * mn, mn};
	uint32_t seed = 1;
	float *a = rnd_array(6 * mk, &seed), *b = rnd_array(3 * kn, &seed);
	float *c = rnd_array(6 * mn, &seed), *want = malloc(6 * mn * sizeof(float));
	char what[64];

	assert_non_null(want);
	for (int ta = 0; ta < 2; ta++)
		for (int tb = 0; tb < 2; tb++) {
			nncc_rt_matmul_f32(a, b, c, 2, bext, sa, sb, sc, m, n, k, ta, tb, NULL);
			for (int i = 0; i < 2; i++)
				for (int j = 0; j < 3; j++)
					naive_mm(a + i * sa[0] + j * sa[1], b + j * sb[1],
						 want + i * sc[0] + j * sc[1], m, n, k, ta, tb);
			snprintf(what, sizeof what, "matmul ta=%d tb=%d", ta, tb);
			assert_close(c, want, 6 * mn, what);
		}
	/* no batch dims */
	nncc_rt_matmul_f32(a, b, c, 0, NULL, NULL, NULL, NULL, m, n, k, 0, 1, NULL);
	naive_mm(a, b, want, m, n, k, 0, 1);
	assert_close(c, want, mn, "matmul unbatched");
	/* k == 0 writes zeros */
	nncc_rt_matmul_f32(a, b, c, 0, NULL, NULL, NULL, NULL, m, n, 0, 0, 0, NULL);
	for (int64_t i = 0; i < mn; i++)
		assert_true(c[i] == 0.0f);
	free(a), free(b), free(c), free(want);
}

/* Reference convolution; p as for nncc_rt_conv2d_f32. */
static void
naive_conv(const float *x, const float *w, const float *bias, float *y, const int64_t *p)
{
	int64_t N = p[0], C = p[1], H = p[2], W = p[3], K = p[4], OH = p[5], OW = p[6];
	int64_t KH = p[7], KW = p[8], G = p[15], cg = C / G, kg = K / G;

	for (int64_t b = 0; b < N; b++)
		for (int64_t k = 0; k < K; k++)
			for (int64_t oy = 0; oy < OH; oy++)
				for (int64_t ox = 0; ox < OW; ox++) {
					double s = bias ? bias[k] : 0;
					int64_t g = k / kg;
					for (int64_t c = 0; c < cg; c++)
						for (int64_t i = 0; i < KH; i++)
							for (int64_t j = 0; j < KW; j++) {
								int64_t iy = oy * p[9] - p[11] + i * p[13];
								int64_t ix = ox * p[10] - p[12] + j * p[14];
								if (iy < 0 || iy >= H || ix < 0 || ix >= W)
									continue;
								s += (double)w[((k * cg + c) * KH + i) * KW + j] *
								     x[((b * C + g * cg + c) * H + iy) * W + ix];
							}
					y[((b * K + k) * OH + oy) * OW + ox] = (float)s;
				}
}

/* The convolution of |x| and |w| (and |bias|) where the case is a
 * Winograd weight gradient (nncc_abi_wino_wgrad): each output's terms'
 * magnitudes, summed; else zeros. */
static float *
abs_conv(const float *x, const float *w, const float *bias, const int64_t *p, int64_t ny)
{
	int64_t N = p[0], C = p[1], H = p[2], W = p[3], K = p[4], G = p[15];
	int64_t nx = N * C * H * W, nw = K * (C / G) * p[7] * p[8];
	float *mag = calloc((size_t)ny, sizeof *mag);

	assert_non_null(mag);
	if (!nncc_abi_conv_blocks(N, p[8], p[6], p[5] * p[6]) ||
	    !nncc_abi_wino_wgrad(N, K, G, p[5], p[6], p[7], p[8], p[9], p[10], p[13], p[14]))
		return mag;
	float *ax = malloc((size_t)nx * sizeof *ax), *aw = malloc((size_t)nw * sizeof *aw);
	float *ab = bias ? malloc((size_t)K * sizeof *ab) : NULL;
	assert_true(ax && aw && (!bias || ab));
	for (int64_t i = 0; i < nx; i++)
		ax[i] = fabsf(x[i]);
	for (int64_t i = 0; i < nw; i++)
		aw[i] = fabsf(w[i]);
	for (int64_t i = 0; bias && i < K; i++)
		ab[i] = fabsf(bias[i]);
	naive_conv(ax, aw, ab, mag, p);
	free(ax), free(aw), free(ab);
	return mag;
}

/* dst plane a * nb + b = src plane b * na + a (planes of len floats) */
static float *
swapped(const float *src, int64_t na, int64_t nb, int64_t len)
{
	float *dst = malloc((size_t)(na * nb * len) * sizeof *dst);

	assert_non_null(dst);
	for (int64_t a = 0; a < na; a++)
		for (int64_t b = 0; b < nb; b++)
			memcpy(dst + (a * nb + b) * len, src + (b * na + a) * len, (size_t)len * sizeof *dst);
	return dst;
}

/* Operands laid out as p[17] says (abi.h NNCC_CONV_SWAP_*; group 1): the
 * convolution of x, w and y in those layouts is the one without them. A
 * weight gradient's fast paths (nncc_abi_conv_swaps) read and write every
 * plane in place: the Winograd weight gradient or the dot products take
 * each set of their flags themselves, the same bits; any other flags go
 * through copies (the taps flipped; x, w and y swapped with a fused
 * epilogue whose residual lies as y does). */
static void
check_swaps(const float *x, const float *w, const float *bias, float *scratch, const int64_t *p, int64_t ny,
	    const nncc_abi_ctx *ctx, size_t t)
{
	int64_t N = p[0], C = p[1], hw = p[2] * p[3], K = p[4], ohw = p[5] * p[6], kk = p[7] * p[8];
	int fast = nncc_abi_conv_swaps(N, C, p[2], p[3], K, p[5], p[6], p[7], p[8], p[9], p[10], p[13], p[14], p[15]);
	enum { X = NNCC_CONV_SWAP_X, W = NNCC_CONV_SWAP_W, F = NNCC_CONV_FLIP_W, Y = NNCC_CONV_SWAP_Y };
	static const int sets[] = {X | W | Y, X, Y, W | F, F | Y};
	char what[64];

	if (p[15] != 1)
		return;
	/* no weight cache: it knows a weight by its address, and the
	 * copies' addresses come and go */
	nncc_abi_ctx cx = *ctx;
	cx.wcache = NULL, cx.wcache_owner = NULL;
	ctx = &cx;
	float *want = malloc((size_t)ny * sizeof *want), *y = malloc((size_t)ny * sizeof *y);
	assert_true(want && y);
	nncc_rt_conv2d_f32(x, w, bias, want, scratch, p, ctx, NULL, NULL);
	for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
		int set = sets[i];
		if (!(set & F) && (set & fast) != set)
			continue;
		int64_t q[18];
		memcpy(q, p, sizeof q);
		q[17] = set;
		float *xs = set & X ? swapped(x, C, N, hw) : NULL;
		float *ws = set & W ? swapped(w, C, K, kk) : malloc((size_t)(K * C * kk) * sizeof *ws);
		assert_non_null(ws);
		if (!(set & W))
			memcpy(ws, w, (size_t)(K * C * kk) * sizeof *ws);
		for (int64_t r = 0; (set & F) && r < K * C; r++) /* reversed here, reversed back by the call */
			for (int64_t a = 0, b = kk - 1; a < b; a++, b--) {
				float v = ws[r * kk + a];
				ws[r * kk + a] = ws[r * kk + b], ws[r * kk + b] = v;
			}
		snprintf(what, sizeof what, "conv case %zu, layout flags %d", t, set);
		if (!(set & F)) { /* the fast path itself */
			int64_t room = nncc_abi_wide_scratch(N, C, K, 1, p[5], p[6], p[7], p[8], p[13], p[14]);
			assert_true(rt_conv2d_wino_wgrad(xs ? xs : x, ws, bias, y, scratch, room, q, ctx) ||
				    rt_conv2d_wide_flat(xs ? xs : x, ws, bias, y, scratch, room, q, ctx));
			float *yu = set & Y ? swapped(y, N, K, ohw) : NULL;
			assert_memory_equal(yu ? yu : y, want, (size_t)ny * sizeof *y);
			free(yu);
		}
		if (set == (W | F) && (fast & F)) { /* the Winograd weight transform reads it so */
			int64_t tm = nncc_abi_wino_m(N, C, K, p[5], p[6], p[13], 1);
			int64_t nw = nncc_abi_wino_scratch(N, C, K, p[5], p[6], p[13], 1) + nncc_abi_wino_uscratch(C, K, tm);
			float *sw = malloc((size_t)nw * sizeof *sw);
			assert_non_null(sw);
			q[16] = 1;
			assert_true(rt_conv2d_winograd(x, ws, bias, y, sw, q, ctx, NULL));
			assert_close(y, want, ny, what);
			nncc_rt_conv2d_f32(x, ws, bias, y, sw, q, ctx, NULL, NULL);
			assert_close(y, want, ny, what);
			q[16] = p[16];
			free(sw);
		}
		nncc_rt_conv2d_f32(xs ? xs : x, ws, bias, y, scratch, q, ctx, NULL, NULL);
		float *yu = set & Y ? swapped(y, N, K, ohw) : NULL;
		assert_close(yu ? yu : y, want, ny, what);
		free(yu);
		if (set == (F | Y)) { /* an add of a residual laid out as y, then ReLU */
			nncc_abi_epi e = {.n = 2, .op = {NNCC_EPI_ADD, NNCC_EPI_RELU}};
			float *res = malloc((size_t)ny * sizeof *res);
			assert_non_null(res);
			for (int64_t j = 0; j < ny; j++)
				res[j] = (float)(j % 7) - 3.0f;
			nncc_rt_conv2d_f32(x, ws, bias, y, scratch, q, ctx, &e, res);
			float *yr = swapped(y, N, K, ohw), *rr = swapped(res, N, K, ohw);
			for (int64_t j = 0; j < ny; j++)
				rr[j] = want[j] + rr[j] > 0 ? want[j] + rr[j] : 0.0f;
			assert_close(yr, rr, ny, what);
			free(res), free(yr), free(rr);
		}
		free(xs), free(ws);
	}
	free(want), free(y);
}

/* Fused epilogues (nncc_abi_epi): the convolution with each list, on 3
 * threads with the weight cache and on one without, is the one without
 * on the same context (plain: the same path, the same sums) followed by the
 * list's definition element by element (epi_1): the same bits, whichever
 * path stores them, including zeros' signs (maximum's +0, minimum's -0:
 * every third residual cancels its sum exactly) and NaN (two residuals).
 * The lists: ReLU6's clamp, ReLU, an add, the add then ReLU, the add then
 * maximum(-0) and minimum(0.5), maximum(+0) then minimum(-0); and two
 * without the canonical form (ReLU then the add, a minimum then a
 * maximum), which take a pass after the convolution. */
/* The lean rules (NNCC_CONV_LEAN): in a scratch of exactly the code
 * generator's lean size (codegen/lower_nn.c), the same bits as y (the
 * call on ctx): Winograd weight gradients in parts, Winograd convolutions
 * with one tile; and without a context (Winograd declines) the im2col
 * fallback one band at a time, close to the sum. ASan catches a call
 * past the scratch. */
static void
check_lean(const float *x, const float *w, const float *bias, const float *y, const int64_t *p, int64_t ny,
	   const nncc_abi_ctx *ctx, size_t t, uint32_t *seed)
{
	int64_t N = p[0], C = p[1], K = p[4], OH = p[5], OW = p[6], KH = p[7], KW = p[8], G = p[15];
	int64_t ckk = C / G * KH * KW, hw = OH * OW, n;
	char what[64];

	if (KH == 1 && KW == 1 && p[9] == 1 && p[10] == 1 && p[11] == 0 && p[12] == 0 && OH == p[2] && OW == p[3])
		return; /* no scratch */
	if (nncc_abi_conv_blocks(N, KW, OW, hw)) {
		n = nncc_abi_wide_scratch_lean(N, C, K, G, OH, OW, KH, KW, p[13], p[14]);
	} else {
		int64_t nb = nncc_abi_conv_images(N, hw, ckk, K / G), b = nb > 1 ? nb * hw * (ckk + K / G) : 0;
		n = nncc_abi_conv_room(C, K, G, OH, OW, KH, KW, p[9], p[10], p[13], p[14]);
		n = b > n ? b : n;
		if (nncc_abi_wino(N, C, p[2], p[3], K, OH, OW, KH, KW, p[9], p[10], p[13], p[14], G)) {
			int64_t wl = nncc_abi_wino_scratch_lean(N, C, K, OH, OW, p[13], 0);
			n = nncc_abi_conv_band_rows_lean(OH, OW, ckk) * OW * ckk;
			n = wl > n ? wl : n;
		}
	}
	int64_t q[18];
	memcpy(q, p, sizeof q);
	q[17] |= NNCC_CONV_LEAN;
	float *sl = rnd_array(n, seed), *yl = rnd_array(ny, seed), *want = rnd_array(ny, seed);
	snprintf(what, sizeof what, "conv case %zu (lean)", t);
	nncc_rt_conv2d_f32(x, w, bias, yl, sl, q, ctx, NULL, NULL);
	assert_memory_equal(yl, y, (size_t)ny * sizeof *y);
	naive_conv(x, w, bias, want, p);
	nncc_rt_conv2d_f32(x, w, bias, yl, sl, q, NULL, NULL, NULL);
	assert_close(yl, want, ny, what);
	free(sl), free(yl), free(want);
}

static void
check_epilogues(const float *x, const float *w, const float *bias, float *scratch, int64_t nsc,
		const int64_t *p, int64_t ny, nncc_abi_ctx *ctx, nncc_abi_ctx *ctx1, size_t t, uint32_t *seed)
{
	static const nncc_abi_epi lists[] = {
	    {2, {NNCC_EPI_MAX, NNCC_EPI_MIN}, {0.0f, 6.0f}},
	    {1, {NNCC_EPI_RELU}, {0}},
	    {1, {NNCC_EPI_ADD}, {0}},
	    {2, {NNCC_EPI_ADD, NNCC_EPI_RELU}, {0}},
	    {3, {NNCC_EPI_ADD, NNCC_EPI_MAX, NNCC_EPI_MIN}, {0.0f, -0.0f, 0.5f}},
	    {3, {NNCC_EPI_ADD, NNCC_EPI_MAX, NNCC_EPI_MIN}, {0.0f, 0.0f, -0.0f}},
	    {2, {NNCC_EPI_RELU, NNCC_EPI_ADD}, {0}},
	    {2, {NNCC_EPI_MIN, NNCC_EPI_MAX}, {0.25f, -0.25f}},
	};
	char what[64];
	float *plain = rnd_array(ny, seed), *res = rnd_array(ny, seed), *y = rnd_array(ny, seed);
	float *want = rnd_array(ny, seed);

	for (int k = 0; k < 2; k++) { /* 3 threads and the cache; one, none */
		nncc_abi_ctx *c = k ? ctx1 : ctx;
		nncc_rt_conv2d_f32(x, w, bias, plain, scratch, p, c, NULL, NULL);
		for (int64_t i = 0; i < ny; i++)
			res[i] = i % 3 ? res[i] : -plain[i];
		res[ny / 2] = NAN, res[ny - 1] = -NAN;
		for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
			snprintf(what, sizeof what, "conv case %zu, epilogue %zu, %d thread(s)", t, l, k ? 1 : 3);
			for (int64_t i = 0; i < ny; i++)
				want[i] = epi_1(&lists[l], plain[i], res[i]);
			memset(y, 0, (size_t)ny * sizeof *y);
			if (scratch)
				memset(scratch, 0, (size_t)nsc * sizeof *scratch);
			nncc_rt_conv2d_f32(x, w, bias, y, scratch, p, c, &lists[l], res);
			if (memcmp(y, want, (size_t)ny * sizeof *y) != 0)
				fail_msg("%s: not the unfused result", what);
		}
	}
	free(plain), free(res), free(y), free(want);
}

static void
test_conv2d(void **state)
{
	/* n c h w k kh kw sh sw ph pw pb pr dh dw group bias */
	static const int64_t cases[][17] = {
		{1, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* same padding */
		{2, 2, 7, 8, 3, 3, 2, 2, 3, 1, 0, 2, 1, 1, 1, 1, 0}, /* strides, odd pads */
		{1, 2, 9, 9, 2, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1}, /* dilation */
		{2, 4, 5, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1}, /* groups */
		{1, 4, 5, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 4, 0}, /* depthwise */
		{2, 3, 4, 5, 6, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1}, /* 1x1 fast path */
		{1, 4, 3, 3, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, 0}, /* 1x1 grouped */
		{1, 2, 3, 3, 2, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1}, /* 1x1, bottom pad only */
		{1, 1, 2, 2, 1, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1}, /* window mostly padding */
		{1, 1, 3, 2, 2, 3, 3, 2, 3, 2, 4, 2, 4, 2, 2, 1, 1}, /* columns all padding */
		{2, 3, 7, 11, 2, 2, 5, 1, 1, 0, 3, 1, 0, 1, 1, 1, 0}, /* wide, left pad only */
		{2, 8, 64, 60, 16, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1}, /* copies in chunks */
		{1, 16, 64, 64, 32, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1}, /* bias in chunks */
		{2, 3, 9, 8, 6, 3, 3, 1, 1, 2, 1, 2, 1, 2, 2, 3, 1}, /* depthwise x2, dilated */
		{1, 8, 15, 17, 8, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 8, 1}, /* depthwise 5x5, stride 2 */
		{2, 32, 56, 56, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32, 1}, /* depthwise in chunks */
		{1, 4, 8, 9, 3, 7, 8, 1, 1, 2, 2, 2, 2, 1, 1, 1, 0}, /* window wider than output */
		{2, 3, 10, 12, 2, 5, 7, 1, 2, 1, 2, 1, 2, 2, 2, 1, 1}, /* wide, dilated, strided */
		{1, 4, 6, 7, 4, 3, 9, 1, 1, 1, 3, 1, 3, 1, 1, 2, 1}, /* wide, grouped, padding */
		{2, 64, 14, 14, 16, 10, 10, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0}, /* wide, in chunks */
		{5, 4, 9, 9, 3, 6, 7, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* wide, images in blocks of 3 */
		{3, 8, 6, 7, 4, 3, 9, 1, 1, 1, 3, 1, 3, 1, 1, 2, 1}, /* wide blocks, grouped */
		{7, 2, 40, 12, 3, 3, 10, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1}, /* wide, blocks of 5 and 2 */
		{2, 3, 20, 50, 16, 3, 5, 1, 1, 1, 2, 1, 2, 1, 1, 1, 1}, /* direct: 4 vectors, 3 blocks */
		{1, 6, 10, 10, 6, 5, 5, 1, 1, 4, 4, 4, 4, 1, 1, 1, 0}, /* direct: padding 4 */
		{3, 4, 9, 20, 8, 3, 3, 1, 1, 0, 1, 2, 1, 1, 1, 2, 1}, /* direct, grouped, uneven pads */
		/* direct with stride 2 (few channels): runs of 32 columns and a
		 * last one of 3; one run of 31; 16; grouped, uneven pads, odd sizes */
		{1, 3, 40, 70, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
		{2, 3, 64, 64, 24, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1},
		{1, 4, 33, 33, 8, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 1, 0},
		{1, 8, 37, 75, 12, 5, 4, 2, 2, 2, 1, 1, 2, 1, 1, 2, 1},
		/* filters across the lanes (few channels, 25 taps or more): 64
		 * filters, 2 images; 70 (two blocks, the second masked) at stride
		 * 4; 40, 20 and 16 filters (3, 2 and 1 vectors) at strides 1 and 3 */
		{2, 3, 41, 45, 64, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1},
		{1, 3, 50, 47, 70, 11, 11, 4, 4, 2, 2, 2, 2, 1, 1, 1, 0},
		{1, 2, 20, 30, 40, 5, 5, 1, 1, 2, 1, 2, 3, 1, 1, 1, 1},
		{1, 4, 17, 19, 20, 5, 6, 3, 3, 0, 1, 2, 0, 1, 1, 1, 1},
		{1, 1, 12, 12, 16, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1},
		{2, 4, 30, 30, 3, 28, 28, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0}, /* wide direct: 2 vectors, 3 wide */
		{2, 3, 28, 28, 2, 28, 28, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1}, /* wide direct, padded, 5 wide */
		{1, 2, 40, 36, 9, 34, 30, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0}, /* wide direct: 2 vectors, 7 wide */
		{1, 2, 40, 50, 9, 34, 44, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0}, /* wide, 3 vectors: im2col */
		{4, 8, 12, 12, 80, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1}, /* small images in blocks */
		{3, 6, 9, 9, 70, 3, 3, 2, 2, 0, 0, 1, 1, 1, 1, 2, 0}, /* small, grouped, uneven pads */
		/* im2col_rows: output rows of 16, 8, 4, 2, 1; stride 2 and 1 (8
		 * and 4: filters across the lanes with the cache, DCGAN D's;
		 * without it, im2col_rows and a GEMM, the dot GEMM for 4) */
		{1, 5, 32, 32, 16, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
		{1, 16, 16, 16, 32, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
		{1, 32, 8, 8, 64, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0},
		{1, 70, 4, 4, 80, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1},
		{1, 64, 3, 3, 100, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1},
		/* im2col_tiny (a plane of at most 32 floats, a col row of at most
		 * 16): SqueezeNet's 3x3 on 3x3; a 4x8 plane at stride 2, no bias;
		 * dilation 2; grouped; 7x7 taps on 4x4 (few channels: another
		 * path may take it) */
		{1, 64, 3, 3, 100, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		{2, 7, 4, 8, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0},
		{1, 5, 5, 5, 48, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2, 1, 1},
		{1, 8, 3, 3, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1},
		{1, 3, 4, 4, 40, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, 1, 1},
		/* im2col_flat: other narrow rows, dilation, stride 2 across only */
		{1, 5, 9, 9, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		{1, 6, 28, 28, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
		{1, 4, 11, 13, 66, 3, 3, 2, 2, 2, 0, 1, 1, 2, 2, 1, 1},
		{1, 8, 7, 9, 70, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 1, 0},
		/* per-thread bands whose GEMMs would be at most 16 columns wide
		 * (3 rows of 4): one band instead, so that no band takes the
		 * dot-product path the whole plane does not */
		{1, 192, 17, 7, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
		/* a col past L2: bands of output rows (3, and 4 on 3 threads) */
		{1, 5, 64, 64, 16, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1},
		{2, 4, 70, 66, 8, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 2, 1},
		/* 3x3, stride 1, 32 channels: Winograd from the cache, in tile
		 * ranges, and in filter ranges (more filters than tiles) */
		{1, 32, 20, 20, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		{1, 64, 8, 8, 96, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		/* Winograd's output rows in segments: F(4x4, 3x3), F(2x2, 3x3) */
		{1, 32, 40, 40, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		{1, 32, 4, 40, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		/* a 1x1 on a 7x7 plane: transposed GEMM tiles (32 x 7) */
		{1, 160, 7, 7, 64, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1},
		/* small planes, filters across the lanes: 20 filters (a masked
		 * vector) on 7x7, 3 images padded at once (one by one without
		 * the cache: its packed weights take the room); 48 filters,
		 * uneven pads; 64 filters on 5x5, 4 images one by one; 5 images
		 * in blocks of 3 and 2; 24 filters, 8 rows of 2 */
		{3, 8, 7, 7, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		{2, 12, 11, 13, 48, 4, 4, 2, 2, 1, 2, 0, 1, 1, 1, 1, 0},
		{4, 6, 9, 9, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
		{5, 8, 16, 16, 32, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
		{1, 16, 8, 2, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		/* a 3x3 Winograd takes, whose im2col fallback (no context)
		 * puts its 2 images side by side (a small plane of a large
		 * weight), but one band at a time under the lean rules */
		{2, 512, 7, 7, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
		/* a first layer whose col goes in bands, in the room of one
		 * padded image and the packed weights (abi.h
		 * nncc_abi_conv_room, less than a third of the col): a stem
		 * of 7 x 7 at stride 2 across the lanes, 2 images one at a
		 * time; 8 filters (too few for the lanes) on rows too wide to
		 * go direct, by im2col in bands of 5 rows, one band's col
		 * at a time on any thread count, and of 2 rows of 168, two
		 * bands' cols at a time */
		{2, 3, 64, 64, 32, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1},
		{1, 3, 80, 80, 8, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, 1, 1},
		{1, 3, 168, 168, 8, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, 1, 0},
		/* LeNet's second weight gradient at batch 2 (a wide window over
		 * few channels: a first layer's lanes), 6 images */
		{6, 2, 14, 14, 16, 10, 10, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0},
		/* weight gradients by dot products over a padded input
		 * (conv_wgrad.c): 5x5 taps (tiles of 9, 9 and 7 taps), 7
		 * filters (a short tile); a dilated window (4 phase planes, 36
		 * taps in 4 tiles of 9 in order; and planes past PHASE_FLOATS,
		 * 64 taps in tiles of one phase: 9, 7, 9, 7, 9, 7, 9, 7),
		 * uneven pads; 2x2 taps of 4 phases (tiles of one tap, 16
		 * filters and a short one of 4); runs of over 2048 floats (one
		 * channel a block) */
		{5, 3, 20, 20, 7, 18, 18, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		{4, 3, 41, 41, 5, 19, 19, 1, 1, 1, 1, 0, 0, 2, 2, 1, 0},
		{2, 2, 100, 100, 5, 48, 48, 1, 1, 1, 1, 1, 1, 2, 2, 1, 1},
		{6, 4, 30, 30, 20, 15, 15, 1, 1, 0, 0, 0, 0, 2, 2, 1, 0},
		{2, 3, 46, 46, 4, 46, 46, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		/* a window of whole-vector rows read in place, row by row (the
		 * stem's 112 wide: here 32, dilated, 7 x 7 taps over 3
		 * images of 8 channels; and the 48 above) */
		{3, 8, 63, 63, 10, 32, 32, 1, 1, 3, 3, 3, 3, 2, 2, 1, 0},
		/* and of 8 images (past a first layer's lanes: check_swaps'
		 * layouts read in place), dilated, with a bias */
		{6, 8, 30, 30, 20, 15, 15, 1, 1, 0, 0, 0, 0, 2, 2, 1, 1},
		/* a wide window at stride 2, which the dot products refuse
		 * though their rules give the scratch: im2col in blocks of as
		 * many images as that holds (one, not four; the scratch is
		 * exactly one image's, so ASan catches a larger block) */
		{12, 3, 40, 40, 5, 16, 16, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1},
		/* and of 8 channels, whose scratch (the dot products' need)
		 * holds less than one image's col: image by image, its
		 * channels in runs (one here), the GEMMs accumulating */
		{3, 8, 40, 40, 5, 16, 16, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1},
		/* 3x3 weight gradients by Winograd (wino_wgrad.c). One block
		 * of tile rows, fused (each tile of M transformed at once):
		 * F(4x4, 3x3) on an 8x8 window (2 x 2 tiles), with a bias; on
		 * 7x7 (tiles past the window's edge) over 40 channels; F(2x2,
		 * 3x3) on 7 x 4 (fewer than 4 tiles of 4 x 4), 130 filters.
		 * Blocks, M accumulated across them: F(2x2, 3x3) on 7x7 over 64
		 * channels (8 blocks of 32 rows); 136 channels (a group of 8
		 * past whole groups of 16) by a 4 x 24 window over 40 (8 blocks
		 * of 10 tile rows of 12: V in runs of 7 tiles and 5, U^T of 8
		 * and 4); 64 channels and filters, the fewest it takes.
		 * F(4x4, 3x3), fused: a 12 x 12 window, with a bias; 136
		 * channels by 40 x 40 (runs of 3, 3, 3 and 1 tiles, and 4, 4
		 * and 2), a 29 x 30 window (its last tile row past the edge)
		 * with a bias and 72 filters (a masked group); in blocks: 10
		 * channels of 28 x 28 (7 tile rows: 8 blocks of 8 and one of 6) */
		{128, 2, 8, 8, 128, 8, 8, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		{128, 40, 7, 7, 128, 7, 7, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
		{128, 3, 7, 4, 130, 7, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
		{64, 64, 7, 7, 64, 7, 7, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
		{136, 40, 4, 24, 64, 4, 24, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
		{64, 3, 12, 12, 64, 12, 12, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		{136, 2, 40, 40, 128, 40, 40, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
		{64, 3, 29, 30, 72, 29, 30, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		{64, 10, 28, 28, 64, 28, 28, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
		/* small planes of large weights, images side by side
		 * (nncc_abi_conv_images): 17 images of 6 x 6 in blocks of 15
		 * and 2, with a bias; grouped (two weights of 512 x 576); ResNet's
		 * 7 x 7 stride-2 3x3, 3 images of 49 positions in one block; and
		 * its 1x1 (a small weight: image by image) */
		{17, 64, 12, 12, 512, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
		{5, 128, 12, 12, 1024, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 0},
		{3, 256, 14, 14, 512, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
		{3, 32, 14, 14, 64, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0},
	};
	uint32_t seed = 7;
	char what[64];
	RtPool *pool;
	void *gs = aligned_alloc(64, 3 * NNCC_ABI_GEMM_SCRATCH);
	Cache cache = {0};
	Cache refusing = {.refuse = 1};
	/* 3 threads with a weight cache (each thread's GEMMs read the same
	 * packed weights), one with it, one whose cache declines every weight
	 * (a session's, for weights being trained) */
	nncc_abi_ctx ctx = {.nthreads = 3, .parallel_for = rt_pool_parallel_for, .gemm_scratch = gs,
			    .wcache = cache_get, .wcache_owner = &cache},
		     ctx1c = {.nthreads = 1, .gemm_scratch = gs, .wcache = cache_get, .wcache_owner = &cache},
		     ctx1 = {.nthreads = 1, .gemm_scratch = gs, .wcache = cache_get, .wcache_owner = &refusing};

	assert_non_null(gs);
	/* the Winograd weight gradient's rules: 64 channels is its
	 * narrowest; F(4x4) from 16 tiles of 4 x 4, the cases above */
	assert_true(nncc_abi_wino_wgrad(64, 64, 1, 3, 3, 12, 12, 1, 1, 1, 1));
	assert_false(nncc_abi_wino_wgrad(48, 64, 1, 3, 3, 12, 12, 1, 1, 1, 1));
	assert_int_equal(nncc_abi_wino_wgrad_m(3, 12, 12), 4); /* fused: 4 tiles of 4 x 4 or more */
	assert_true(nncc_abi_wino_wgrad_fused(3, 12, 12));
	assert_int_equal(nncc_abi_wino_wgrad_m(30, 12, 12), 2); /* 9 tiles, in blocks */
	assert_false(nncc_abi_wino_wgrad_fused(30, 12, 12));
	assert_int_equal(nncc_abi_wino_wgrad_m(40, 4, 24), 2);
	assert_int_equal(nncc_abi_wino_wgrad_rows(40, 4, 24), 10);
	assert_int_equal(nncc_abi_wino_wgrad_m(3, 7, 4), 2);
	assert_true(nncc_abi_wino_wgrad_fused(3, 7, 4));
	assert_int_equal(nncc_abi_wino_wgrad_m(64, 7, 7), 2);
	assert_int_equal(nncc_abi_wino_wgrad_rows(64, 7, 7), 32);
	assert_int_equal(nncc_abi_wino_wgrad_m(64, 13, 14), 4);
	assert_int_equal(nncc_abi_wino_wgrad_m(3, 29, 30), 4);
	assert_int_equal(nncc_abi_wino_wgrad_rows(10, 28, 28), 8);
	assert_false(nncc_abi_wino_wgrad_fused(10, 28, 28));
	/* ResNet-18's stem (recomputed at the smallest --max-memory plans'
	 * peak): its scratch under 1 MB, not one image's col (7.4 MB); the
	 * rule's three cases above: their room less than a third of the col,
	 * one band's col exactly, two and a bit */
	assert_true(nncc_abi_conv_room(3, 64, 1, 112, 112, 7, 7, 2, 2, 1, 1) * 4 < (1 << 20));
	assert_int_equal(nncc_abi_conv_band_rows(112, 112, 147), 3);
	assert_true(nncc_abi_conv_room(3, 32, 1, 32, 32, 7, 7, 2, 2, 1, 1) * 3 < 147 * 32 * 32);
	assert_int_equal(nncc_abi_conv_room(3, 8, 1, 80, 80, 7, 7, 1, 1, 1, 1), 5 * 80 * 147);
	assert_int_equal(nncc_abi_conv_room(3, 8, 1, 168, 168, 7, 7, 1, 1, 1, 1) / (2 * 168 * 147), 2);
	/* where the Winograd weight gradient runs, the scratch is its need,
	 * not the dot products' (ResNet-18's first stage at batch 8: 1.6 MB,
	 * not 13.5); the cases' calls without a context, which it declines,
	 * then go by im2col within it (ASan's build checks the bounds) */
	assert_int_equal(nncc_abi_wide_scratch(64, 8, 64, 1, 3, 3, 56, 56, 1, 1),
			 nncc_abi_wino_wgrad_scratch(64, 8, 64, 56, 56));
	assert_true(nncc_abi_wide_scratch(64, 8, 64, 1, 3, 3, 56, 56, 1, 1) * 8 <
		    nncc_abi_wide_flat(64, 8, 64, 1, 3, 3, 56, 56, 1, 1));
	/* ResNet-18's last stage at batch 8 (7 x 7 windows): fused F(4x4) */
	assert_int_equal(nncc_abi_wino_wgrad_m(8, 7, 7), 4);
	assert_true(nncc_abi_wino_wgrad_fused(8, 7, 7));
	assert_int_equal(rt_pool_new(3, &pool, NULL), NNCC_STATUS_OK);
	ctx.pool = pool;
	for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
		const int64_t *c = cases[t];
		int64_t N = c[0], C = c[1], H = c[2], W = c[3], K = c[4], KH = c[5], KW = c[6];
		int64_t G = c[15];
		int64_t OH = (H + c[9] + c[11] - c[13] * (KH - 1) - 1) / c[7] + 1;
		int64_t OW = (W + c[10] + c[12] - c[14] * (KW - 1) - 1) / c[8] + 1;
		int64_t p[18] = {N, C, H, W, K, OH, OW, KH, KW, c[7], c[8], c[9], c[10], c[13], c[14], G, 0, 0};
		int64_t ny = N * K * OH * OW;
		int fast = KH == 1 && KW == 1 && c[7] == 1 && c[8] == 1 && c[9] == 0 && c[10] == 0 &&
			   OH == H && OW == W;
		float *x = rnd_array(N * C * H * W, &seed), *w = rnd_array(K * (C / G) * KH * KW, &seed);
		float *bias = c[16] ? rnd_array(K, &seed) : NULL;
		float *y = rnd_array(ny, &seed), *want = rnd_array(ny, &seed);
		int64_t nsc = nncc_abi_conv_blocks(N, KW, OW, OH * OW)
				  ? nncc_abi_wide_scratch(N, C, K, G, OH, OW, KH, KW, c[13], c[14])
				  : nncc_abi_conv_room(C, K, G, OH, OW, KH, KW, c[7], c[8], c[13], c[14]); /* the code generator's rules */
		int64_t nimg = nncc_abi_conv_images(N, OH * OW, (C / G) * KH * KW, K / G);
		if (!nncc_abi_conv_blocks(N, KW, OW, OH * OW) && nimg > 1 &&
		    nimg * OH * OW * ((C / G) * KH * KW + K / G) > nsc)
			nsc = nimg * OH * OW * ((C / G) * KH * KW + K / G);
		int wino = nncc_abi_wino(N, C, H, W, K, OH, OW, KH, KW, c[7], c[8], c[13], c[14], G);
		if (wino && nncc_abi_wino_scratch(N, C, K, OH, OW, c[13], 0) > nsc)
			nsc = nncc_abi_wino_scratch(N, C, K, OH, OW, c[13], 0);
		float *scratch = fast ? NULL : rnd_array(nsc, &seed);

		naive_conv(x, w, bias, want, p);
		/* a Winograd weight gradient: within 4e-6 of its terms'
		 * magnitudes (F(4x4, 3x3) rounds about 3 times as much as
		 * F(2x2, 3x3); float32 itself 6e-8) */
		float *mag = abs_conv(x, w, bias, p, ny);
		snprintf(what, sizeof what, "conv case %zu (no context)", t);
		nncc_rt_conv2d_f32(x, w, bias, y, scratch, p, NULL, NULL, NULL);
		assert_close(y, want, ny, what);
		/* gemm.c on one thread, the cache declining (a path that may differ:
		 * where a small plane's packed weights do not fit the scratch,
		 * the filters go across the lanes only from the cache), then
		 * on one thread with the cache and on 3: the same bits */
		snprintf(what, sizeof what, "conv case %zu", t);
		nncc_rt_conv2d_f32(x, w, bias, y, scratch, p, &ctx1, NULL, NULL);
		assert_close_mag(y, want, mag, 4e-6, ny, what);
		nncc_rt_conv2d_f32(x, w, bias, y, scratch, p, &ctx1c, NULL, NULL);
		assert_close_mag(y, want, mag, 4e-6, ny, what);
		free(mag);
		memcpy(want, y, (size_t)ny * sizeof *y);
		memset(y, 0, (size_t)ny * sizeof *y);
		if (scratch)
			memset(scratch, 0, (size_t)nsc * sizeof *scratch);
		nncc_rt_conv2d_f32(x, w, bias, y, scratch, p, &ctx, NULL, NULL);
		if (!wino) {
			assert_memory_equal(y, want, (size_t)ny * sizeof *y);
		} else { /* Winograd (the cache holds its transform): the same sums to rounding */
			naive_conv(x, w, bias, want, p);
			assert_close(y, want, ny, what);
		}
		check_lean(x, w, bias, y, p, ny, &ctx, t, &seed);
		check_epilogues(x, w, bias, scratch, nsc, p, ny, &ctx, &ctx1, t, &seed);
		check_swaps(x, w, bias, scratch, p, ny, &ctx, t);
		cache_drop(&cache, w);
		free(x), free(w), free(bias), free(y), free(want), free(scratch);
	}
	cache_clear(&cache);
	rt_pool_free(pool);
	free(gs);
}

/* The 3x3 depthwise kernel (dw3_planes: blocks of output rows, whole
 * vectors without masks) against the general one it replaces
 * (depthwise_avx512): the same bits on every geometry, and both close to
 * the float64 sum. Rows of 1 to 8 vectors (a narrow row in one masked
 * block; first and last vectors alone, whole ones in fours), the last
 * vector whole or not, pads 0 to 2 and uneven, heights that leave 0 to 3
 * rows after the blocks, two filters per channel, strides 1 and 2. */
static void
test_depthwise3x3(void **state)
{
	/* n c h w k sh sw ph pw pb pr */
	static const int64_t cases[][11] = {
		{1, 6, 112, 112, 6, 1, 1, 1, 1, 1, 1}, {1, 5, 9, 80, 5, 1, 1, 1, 1, 1, 1},
		{2, 4, 7, 7, 8, 1, 1, 1, 1, 1, 1},     {1, 3, 6, 130, 3, 1, 1, 0, 0, 0, 0},
		{1, 3, 2, 70, 3, 1, 1, 2, 2, 0, 1},    {1, 2, 5, 64, 2, 1, 1, 1, 0, 1, 2},
		{1, 4, 112, 112, 4, 2, 2, 0, 0, 1, 1}, {1, 3, 9, 150, 3, 2, 2, 1, 1, 1, 1},
		{2, 6, 14, 14, 6, 2, 2, 1, 1, 1, 1},   {1, 2, 10, 257, 4, 2, 2, 2, 1, 0, 2},
		{1, 3, 1, 33, 3, 1, 1, 1, 1, 1, 1},
	};
	uint32_t seed = 11;
	char what[64];

	if (!__builtin_cpu_supports("avx512f"))
		skip();
	for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
		const int64_t *c = cases[t];
		int64_t N = c[0], C = c[1], H = c[2], W = c[3], K = c[4];
		int64_t OH = (H + c[7] + c[9] - 3) / c[5] + 1, OW = (W + c[8] + c[10] - 3) / c[6] + 1;
		int64_t p[18] = {N, C, H, W, K, OH, OW, 3, 3, c[5], c[6], c[7], c[8], 1, 1, C, 0, 0};
		Dwc v = {.C = C, .H = H, .W = W, .K = K, .OH = OH, .OW = OW, .KH = 3, .KW = 3, .SH = c[5],
			 .SW = c[6], .PH = c[7], .PW = c[8], .DH = 1, .DW = 1, .kg = K / C, .hw = OH * OW};
		int64_t ny = N * K * OH * OW;
		float *x = rnd_array(N * C * H * W, &seed), *w = rnd_array(K * 9, &seed);
		float *bias = rnd_array(K, &seed), *y = rnd_array(ny, &seed), *ref = rnd_array(ny, &seed);
		float *want = rnd_array(ny, &seed);

		snprintf(what, sizeof what, "depthwise 3x3 case %zu", t);
		nncc_rt_conv2d_f32(x, w, bias, y, NULL, p, NULL, NULL, NULL);
		for (int64_t b = 0; b < N; b++)
			depthwise_avx512(&v, x + b * C * H * W, w, bias, ref + b * K * OH * OW, 0, K);
		assert_memory_equal(y, ref, (size_t)ny * sizeof *y);
		naive_conv(x, w, bias, want, p);
		assert_close(y, want, ny, what);
		free(x), free(w), free(bias), free(y), free(ref), free(want);
	}
}

int
main(void)
{
	const struct CMUnitTest kernels[] = {
		cmocka_unit_test(test_matmul),
		cmocka_unit_test(test_conv2d),
		cmocka_unit_test(test_depthwise3x3),
	};

	return cmocka_run_group_tests_name("kernels", kernels, NULL, NULL) != 0;
}
