/* test_winograd.c — the kernel library's F(2x2, 3x3) and F(4x4, 3x3)
 * convolutions (runtime/winograd.c) against a float64 direct convolution,
 * within 1e-5 of each sum's magnitude: padding,
 * odd output sizes, several images per block and blocks across images,
 * filters not a whole number of GEMM tiles, more channels than one
 * micro-kernel pass, narrow (gathered) and wide (contiguous) tile rows,
 * dilations 2 to 4;
 * the same bits on 1, 2 and 3 threads (tile ranges and phases) and from a
 * cached transform; a weight transformed in the scratch on every call
 * (F(2x2, 3x3) always); and the cases it must decline. The weight
 * transform alone (winograd_wt.c) against float64 G g G^T at every panel
 * width the micro-kernels have, filters and channels not whole panels or
 * transposes, and a U past its streaming size. */
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
#include "runtime/gemm.c"
#include "runtime/gemm_ukr.c"
#include "runtime/epilogue.c"
#include "runtime/winograd.c"
#include "runtime/winograd_out.c"
#include "runtime/winograd_wt.c"

/* y (N x K x OH x OW) against the float64 direct convolution. */
static void
check(const char *what, const float *x, const float *w, const float *bias, const float *y, const int64_t *p)
{
	int64_t N = p[0], C = p[1], H = p[2], W = p[3], K = p[4], OH = p[5], OW = p[6], PH = p[11], PW = p[12];
	int64_t D = p[13];

	for (int64_t b = 0; b < N; b++)
		for (int64_t k = 0; k < K; k++)
			for (int64_t oy = 0; oy < OH; oy++)
				for (int64_t ox = 0; ox < OW; ox++) {
					double s = bias ? bias[k] : 0, mag = fabs(s);
					for (int64_t ch = 0; ch < C; ch++)
						for (int64_t i = 0; i < 3; i++)
							for (int64_t j = 0; j < 3; j++) {
								int64_t iy = oy - PH + i * D, ix = ox - PW + j * D;
								if (iy < 0 || iy >= H || ix < 0 || ix >= W)
									continue;
								double v = (double)w[((k * C + ch) * 3 + i) * 3 + j] *
									   x[((b * C + ch) * H + iy) * W + ix];
								s += v, mag += fabs(v);
							}
					float got = y[((b * K + k) * OH + oy) * OW + ox];
					if (!(fabs(got - s) <= 1e-5 * mag + 1e-6))
						fail_msg("%s: y[%lld][%lld][%lld][%lld] = %g, want %g", what, (long long)b,
							 (long long)k, (long long)oy, (long long)ox, got, s);
				}
}

static void
test_winograd_conv(void **state)
{
	/* n c h w k ph pw bias dilation */
	static const int64_t cases[][9] = {
		{1, 32, 7, 7, 32, 1, 1, 1},      /* 4 x 4 tiles, the last row and column half */
		{1, 64, 56, 56, 64, 1, 1, 1},    /* wide rows: contiguous loads and stores */
		{2, 40, 9, 30, 35, 1, 0, 0},     /* filters past whole tiles, no column pad */
		{3, 300, 6, 5, 33, 2, 2, 1},     /* channels past one pass; pad 2 */
		{2, 32, 14, 14, 48, 0, 0, 1},    /* no pad: 12 x 12 out */
		{5, 32, 28, 20, 32, 1, 1, 1},    /* blocks across images */
		{4, 33, 3, 3, 40, 1, 1, 0},      /* 2 x 2 tiles per image, odd channels */
		{2, 32, 17, 40, 64, 1, 2, 1},    /* uneven pads, odd height */
		{1, 64, 16, 16, 48, 2, 2, 1, 2}, /* dilation 2 */
		{2, 40, 19, 13, 32, 4, 3, 0, 4}, /* dilation 4, outputs past whole tile runs */
		{1, 32, 9, 30, 32, 1, 3, 1, 3},  /* dilation 3, pads below it */
		/* F(4x4, 3x3) (above: the 56 x 56, 9 x 30, 28 x 20 and 17 x 40 planes) */
		{1, 48, 30, 70, 40, 1, 1, 1},    /* segments of 16 and 2 tiles, the last tile half out */
		{1, 260, 16, 16, 64, 1, 1, 0},   /* channels past one pass, gathered rows */
		{1, 32, 34, 66, 32, 0, 0, 1},    /* no pad: 16 whole tiles a row */
		{2, 33, 13, 13, 35, 1, 1, 1},    /* 13 x 13 (16 tiles, 3 outputs of the last row and column) */
		{1, 32, 14, 31, 40, 2, 2, 1},    /* pad 2: 16 x 33 out, a last tile column of one output */
		{3, 40, 19, 21, 33, 0, 1, 0},    /* no row pad, odd sizes, 3 images in blocks */
	};
	uint32_t seed = 11;
	int nfused = 0;
	RtPool *pool, *pool2;
	void *gs = aligned_alloc(64, 3 * NNCC_ABI_GEMM_SCRATCH);
	Cache cache = {0};
	nncc_abi_ctx ctx = {.nthreads = 3, .parallel_for = rt_pool_parallel_for, .gemm_scratch = gs,
			    .wcache = cache_get, .wcache_owner = &cache};
	nncc_abi_ctx ctx1 = ctx, ctx2 = ctx;

	ctx1.nthreads = 1, ctx1.parallel_for = NULL;
	assert_int_equal(rt_pool_new(3, &pool, NULL), NNCC_STATUS_OK);
	assert_int_equal(rt_pool_new(2, &pool2, NULL), NNCC_STATUS_OK);
	ctx.pool = pool;
	ctx2.nthreads = 2, ctx2.pool = pool2;
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f"))
		skip(); /* the kernel is AVX-512 only; the caller then takes its other paths */
	for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
		const int64_t *c = cases[t];
		int64_t N = c[0], C = c[1], H = c[2], W = c[3], K = c[4], PH = c[5], PW = c[6];
		int64_t D = c[8] ? c[8] : 1, OH = H + 2 * PH - 2 * D, OW = W + 2 * PW - 2 * D;
		int64_t p[18] = {N, C, H, W, K, OH, OW, 3, 3, 1, 1, PH, PW, D, D, 1, 0, 0};
		int64_t ny = N * K * OH * OW, nsc = nncc_abi_wino_scratch(N, C, K, OH, OW, D, 0);
		int64_t nsu = nncc_abi_wino_scratch(N, C, K, OH, OW, D, 1), nscu = nsu + nncc_abi_wino_uscratch(C, K, nncc_abi_wino_m(N, C, K, OH, OW, D, 1));
		int64_t nsf = nncc_abi_wino_scratch(N, C, K, OH, OW, D, NNCC_ABI_WINO_FUSED);
		nscu = nscu > nsc ? nscu : nsc;
		nscu = nscu > nsf ? nscu : nsf;
		float *x = rnd16_array(N * C * H * W, &seed), *w = rnd16_array(K * C * 9, &seed);
		float *bias = c[7] ? rnd16_array(K, &seed) : NULL, *sc = rnd16_array(nscu, &seed);
		float *y1 = rnd16_array(ny, &seed), *y3 = rnd16_array(ny, &seed);
		char what[64];

		snprintf(what, sizeof what, "winograd case %zu", t);
		assert_true(nncc_abi_wino(N, C, H, W, K, OH, OW, 3, 3, 1, 1, D, D, 1));
		int fills = cache.fills;
		assert_int_equal(rt_conv2d_winograd(x, w, bias, y1, sc, p, &ctx1, NULL), 1);
		assert_int_equal(cache.fills, fills + 1);
		check(what, x, w, bias, y1, p);
		if (t == 1 || t >= 11)
			assert_int_equal(nncc_abi_wino_m(N, C, K, OH, OW, D, 0), 4);
		/* 3 and 2 threads (tile ranges, whose GEMM tile may differ and
		 * with it the cached transform's layout, or phases): the same
		 * bits; a second call takes the transform from the cache */
		for (int k = 0; k < 2; k++)
			for (int twice = 0; twice < 2; twice++) {
				fills = cache.fills;
				memset(sc, 0xff, (size_t)nsc * sizeof *sc); /* NaN: nothing may read old scratch */
				memset(y3, 0, (size_t)ny * sizeof *y3);
				assert_int_equal(rt_conv2d_winograd(x, w, bias, y3, sc, p, k ? &ctx2 : &ctx, NULL), 1);
				assert_true(cache.fills <= fills + !twice);
				assert_memory_equal(y1, y3, (size_t)ny * sizeof *y1);
			}
		/* a weight that is not a constant (the cache declines): transformed
		 * into the scratch on every call when p[16] says there is room,
		 * by F(4x4, 3x3) on planes of NNCC_ABI_WINO4_U_TILES tiles or
		 * more, else F(2x2, 3x3) */
		cache.refuse = 1;
		assert_int_equal(rt_conv2d_winograd(x, w, bias, y3, sc, p, &ctx, NULL), 0);
		p[16] = 1;
		memset(y3, 0, (size_t)ny * sizeof *y3);
		int64_t tiles4 = ((OH + 3) / 4) * ((OW + 3) / 4);
		assert_int_equal(nncc_abi_wino_m(N, C, K, OH, OW, D, 1),
				 D == 1 && tiles4 >= NNCC_ABI_WINO4_U_TILES ? 4 : 2);
		assert_int_equal(rt_conv2d_winograd(x, w, bias, y3, sc, p, t % 2 ? &ctx : &ctx1, NULL), 1);
		check(what, x, w, bias, y3, p);
		if (nncc_abi_wino_m(N, C, K, OH, OW, D, 0) == nncc_abi_wino_m(N, C, K, OH, OW, D, 1))
			assert_memory_equal(y1, y3, (size_t)ny * sizeof *y1); /* the same tile: the same bits */
		memcpy(y1, y3, (size_t)ny * sizeof *y1);
		/* 2: the transform the call before (the same context) left in the
		 * scratch serves again */
		p[16] = 2;
		memset(y3, 0, (size_t)ny * sizeof *y3);
		memset(sc, 0xff, (size_t)nsu * sizeof *sc); /* the block part only */
		assert_int_equal(rt_conv2d_winograd(x, w, bias, y3, sc, p, t % 2 ? &ctx : &ctx1, NULL), 1);
		assert_memory_equal(y1, y3, (size_t)ny * sizeof *y1);
		/* the transform fused into the products, where the compiler may
		 * choose it (filters outweighing the tiles: cases 0, 3, 4, 6 by
		 * F(2x2, 3x3), 12, 14 and 15), in a scratch without room for it: the same
		 * bits on 1, 2 and 3 threads, and as through the scratch where
		 * the tile is the same; the weight lying transposed and flipped
		 * (an input gradient's) gives the same bits again */
		if (nncc_abi_wino_fuses(N, C, K, OH, OW, D)) {
			/* the scratch exactly the rule's (the products live in the
			 * GEMM slots: under ASan, a call past either fails) */
			float *ws = malloc((size_t)(K * C * 9) * sizeof *ws), *yf = malloc((size_t)ny * sizeof *yf);
			float *sf = malloc((size_t)nsf * sizeof *sf);
			assert_true(ws && yf && sf);
			nfused++;
			p[16] = NNCC_ABI_WINO_FUSED;
			memset(sf, 0xff, (size_t)nsf * sizeof *sf);
			assert_int_equal(rt_conv2d_winograd(x, w, bias, yf, sf, p, &ctx1, NULL), 1);
			check(what, x, w, bias, yf, p);
			if (nncc_abi_wino_m(N, C, K, OH, OW, D, 1) == nncc_abi_wino_m(N, C, K, OH, OW, D, NNCC_ABI_WINO_FUSED))
				assert_memory_equal(y1, yf, (size_t)ny * sizeof *y1);
			for (int64_t k = 0; k < K; k++) /* ws[c][k] = w[k][c] reversed */
				for (int64_t ch = 0; ch < C; ch++)
					for (int j = 0; j < 9; j++)
						ws[(ch * K + k) * 9 + 8 - j] = w[(k * C + ch) * 9 + j];
			for (int k = 0; k < 3; k++) {
				p[17] = k == 2 ? NNCC_CONV_SWAP_W | NNCC_CONV_FLIP_W : 0;
				memset(sf, 0xff, (size_t)nsf * sizeof *sf);
				memset(y3, 0, (size_t)ny * sizeof *y3);
				assert_int_equal(rt_conv2d_winograd(x, k == 2 ? ws : w, bias, y3, sf, p, k ? &ctx2 : &ctx, NULL), 1);
				assert_memory_equal(yf, y3, (size_t)ny * sizeof *y1);
			}
			p[17] = 0;
			nncc_abi_ctx bare = ctx; /* no GEMM slots for the panels: declined */
			bare.gemm_scratch = NULL;
			assert_int_equal(rt_conv2d_winograd(x, w, bias, y3, sf, p, &bare, NULL), 0);
			free(ws), free(yf), free(sf);
		}
		cache.refuse = 0;
		cache_drop(&cache, w);
		free(x), free(w), free(bias), free(sc), free(y1), free(y3);
	}
	assert_int_equal(nfused, 7);
	/* ResNet-18's last stage (batch 8) fuses, by F(4x4, 3x3), and its
	 * third (14 x 14: 128 tiles, 4.7 MB of them transformed); its second
	 * (28 x 28: 392 tiles, 128 filters) does not, nor the last at batch
	 * 64 (256 tiles, 18.9 MB transformed) */
	assert_true(nncc_abi_wino_fuses(8, 512, 512, 7, 7, 1));
	assert_int_equal(nncc_abi_wino_m(8, 512, 512, 7, 7, 1, NNCC_ABI_WINO_FUSED), 4);
	assert_int_equal(nncc_abi_wino_m(8, 512, 512, 7, 7, 1, 1), 2);
	assert_true(nncc_abi_wino_fuses(8, 256, 256, 14, 14, 1));
	assert_false(nncc_abi_wino_fuses(8, 128, 128, 28, 28, 1));
	assert_false(nncc_abi_wino_fuses(64, 512, 512, 7, 7, 1));
	/* declined: no cache entry, stride 2, few channels, grouped, 5x5 */
	{
		int64_t p[18] = {1, 32, 8, 8, 32, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0};
		float *x = rnd16_array(32 * 64, &seed), *w = rnd16_array(32 * 32 * 9, &seed);
		float *y = rnd16_array(32 * 64, &seed);
		float *sc = rnd16_array(nncc_abi_wino_scratch(1, 32, 32, 8, 8, 1, 0), &seed);
		cache.refuse = 1;
		assert_int_equal(rt_conv2d_winograd(x, w, NULL, y, sc, p, &ctx, NULL), 0);
		cache.refuse = 0;
		nncc_abi_ctx none = ctx;
		none.wcache = NULL;
		assert_int_equal(rt_conv2d_winograd(x, w, NULL, y, sc, p, &none, NULL), 0);
		assert_false(nncc_abi_wino(1, 32, 8, 8, 32, 4, 4, 3, 3, 2, 2, 1, 1, 1));
		assert_false(nncc_abi_wino(1, 16, 8, 8, 32, 8, 8, 3, 3, 1, 1, 1, 1, 1));
		assert_false(nncc_abi_wino(1, 64, 8, 8, 64, 8, 8, 3, 3, 1, 1, 1, 1, 2));
		assert_false(nncc_abi_wino(1, 64, 8, 8, 64, 8, 8, 5, 5, 1, 1, 1, 1, 1));
		assert_false(nncc_abi_wino(1, 64, 8, 8, 64, 8, 8, 3, 3, 1, 1, 2, 1, 1)); /* uneven dilation */
		assert_false(nncc_abi_wino(1, 64, 6, 6, 64, 6, 6, 3, 3, 1, 1, 1, 1, 1)); /* 9 tiles */
		free(x), free(w), free(y), free(sc);
	}
	cache_clear(&cache);
	rt_pool_free(pool);
	rt_pool_free(pool2);
	free(gs);
}

/* U = G g G^T of every (filter, channel) pair, laid out as the A panels
 * of mr filters (filters past K zero), against float64; panels split
 * into two calls (the threads' shares). */
static void
test_winograd_weights(void **state)
{
	(void)state;
	static const double g2[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
	static const double g4[6][3] = {{1, 0, 0},
					{1. / 3, 1. / 3, 1. / 3},
					{-1. / 3, 1. / 3, -1. / 3},
					{-16. / 15, -8. / 15, -4. / 15},
					{1. / 15, -2. / 15, 4. / 15},
					{0, 0, 1}};
	/* C, K, m, mr; the last writes 16 x 312 x 512 floats, past WT_STREAM */
	static const int64_t cases[][4] = {{37, 50, 2, 12}, {19, 33, 4, 6}, {16, 8, 4, 8},  {33, 70, 2, 32},
					   {20, 45, 4, 4},  {64, 64, 4, 12}, {512, 300, 2, 12}};
	uint32_t seed = 5;

	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f"))
		skip();
	for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
		int64_t C = cases[t][0], K = cases[t][1], mr = cases[t][3], kp = (K + mr - 1) / mr * mr;
		int m = (int)cases[t][2], n = m + 2, np = kp / mr;
		const double(*gm)[3] = m == 4 ? g4 : g2;
		float *w = rnd16_array(K * C * 9, &seed);
		float *u = aligned_alloc(64, (size_t)(n * n * kp * C) * sizeof *u);

		memset(u, 0xff, (size_t)(n * n * kp * C) * sizeof *u);
		rt_wino_weights(w, u, C, K, kp, mr, m, 0, np / 2, 0);
		rt_wino_weights(w, u, C, K, kp, mr, m, np / 2, np, 0);
		for (int64_t f = 0; f < kp; f++)
			for (int64_t c = 0; c < C; c++)
				for (int i = 0; i < n; i++)
					for (int j = 0; j < n; j++) {
						double want = 0, mag = 0;
						for (int a = 0; f < K && a < 3; a++)
							for (int b = 0; b < 3; b++) {
								double v = gm[i][a] * w[(f * C + c) * 9 + 3 * a + b] * gm[j][b];
								want += v, mag += fabs(v);
							}
						float got = u[(i * n + j) * kp * C + f / mr * C * mr + c * mr + f % mr];
						if (!(fabs(got - want) <= 1e-6 * mag))
							fail_msg("weights case %zu: U[%d][%lld][%lld] = %g, want %g", t,
								 i * n + j, (long long)f, (long long)c, got, want);
					}
		/* the weight lying as an input gradient's reads it (runtime/abi.h
		 * NNCC_CONV_SWAP_W, FLIP_W): C x K, each 3 x 3 reversed; and
		 * only reversed: the same U, bit for bit */
		float *ws = malloc((size_t)(K * C * 9) * sizeof *ws), *us = aligned_alloc(64, (size_t)(n * n * kp * C) * sizeof *us);
		assert_true(ws && us);
		for (int sw = 0; sw < 2; sw++) {
			for (int64_t f = 0; f < K; f++)
				for (int64_t c = 0; c < C; c++)
					for (int q = 0; q < 9; q++)
						ws[((sw ? c * K + f : f * C + c)) * 9 + 8 - q] = w[(f * C + c) * 9 + q];
			memset(us, 0xff, (size_t)(n * n * kp * C) * sizeof *us);
			int flags = NNCC_CONV_FLIP_W | (sw ? NNCC_CONV_SWAP_W : 0);
			rt_wino_weights(ws, us, C, K, kp, mr, m, 0, np / 2, flags);
			rt_wino_weights(ws, us, C, K, kp, mr, m, np / 2, np, flags);
			if (memcmp(u, us, (size_t)(n * n * kp * C) * sizeof *us))
				fail_msg("weights case %zu: U of the weight laid out by flags %d differs", t, flags);
		}
		free(ws), free(us);
		free(w), free(u);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_winograd_conv),
		cmocka_unit_test(test_winograd_weights),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
