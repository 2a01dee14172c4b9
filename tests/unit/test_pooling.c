/* test_pooling.c — the kernel library's max and average pooling
 * (runtime/pooling.c) against a float64 reference of ONNX's definition:
 * strides 1 and 2 (the vector paths) and 3 (the scalar one), pads on
 * every side, windows past the end (ceil mode), dilations, padding
 * counted and not counted, rows of one vector and of several (inner
 * vectors read without masks; a 3x3 max's rows in groups of up to four
 * vectors), 1-D, a window taller than the vector
 * path takes, NaN propagation through max; the same bits on 1 and 3
 * threads; and the geometries nncc_abi_pool declines. */
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
#include "runtime/rt.h"
#include "runtime/pooling.c"

/* Output size of one dim as ONNX computes it. */
static int64_t
out_dim(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, int64_t d, int ceil_mode)
{
	int64_t span = in + pb + pe - ((k - 1) * d + 1);

	return (ceil_mode ? (span + s - 1) / s : span / s) + 1;
}

static void
test_pool_against_reference(void **state)
{
	/* n c h w kh kw sh sw ph pw peh pew dh dw ceil avg cip */
	static const int64_t cases[][17] = {
		{1, 64, 31, 31, 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0, 0},  /* SqueezeNet's, ceil mode */
		{2, 3, 112, 112, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0}, /* ResNet's: inner vectors */
		{1, 2, 9, 150, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0},   /* 150 wide: groups of 4, 4, 2 vectors */
		{1, 2, 11, 301, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0},  /* stride 2, 151 wide: 4, 4, 2 */
		{1, 5, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0},   /* GoogLeNet's stride-1 branch */
		{1, 4, 9, 40, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0, 0, 0},    /* LeNet's 2x2 */
		{1, 3, 17, 50, 3, 5, 3, 3, 2, 1, 2, 2, 1, 1, 1, 0, 0},   /* stride 3: scalar */
		{2, 3, 20, 45, 3, 3, 1, 2, 2, 2, 2, 2, 2, 3, 0, 0, 0},   /* dilations */
		{1, 6, 13, 37, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0},   /* average, padding not counted */
		{1, 6, 13, 37, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1},   /* average, padding counted */
		{2, 2, 30, 70, 5, 4, 1, 1, 2, 3, 2, 1, 1, 1, 0, 1, 1},   /* average, stride 1, uneven pads */
		{1, 3, 1, 300, 1, 7, 1, 2, 0, 3, 0, 3, 1, 1, 1, 1, 0},   /* 1-D average */
		{1, 3, 1, 100, 1, 3, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0},   /* 1-D max */
		{1, 2, 80, 20, 70, 3, 1, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0},  /* 70 rows: past the vector path */
		{1, 2, 8, 8, 3, 3, 3, 3, 0, 0, 0, 0, 1, 1, 1, 1, 1},     /* ceil: last window on the end pad */
		/* 3x3 max by input rows reduced once (max3_tmpl): two rows, uneven
		 * pads at stride 1 and 2, rows of 50 (a partial last vector), and
		 * strides 1 x 2, which it leaves to row_tmpl */
		{1, 3, 2, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0},
		{2, 4, 9, 50, 3, 3, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0},
		{1, 3, 15, 33, 3, 3, 2, 2, 1, 0, 0, 1, 1, 1, 0, 0, 0},
		{1, 2, 10, 12, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0},
	};
	uint32_t seed = 5;
	RtPool *pool;
	nncc_abi_ctx ctx = {.nthreads = 3, .parallel_for = rt_pool_parallel_for};

	assert_int_equal(rt_pool_new(3, &pool, NULL), NNCC_STATUS_OK);
	ctx.pool = pool;
	for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
		const int64_t *c = cases[t];
		int64_t N = c[0], C = c[1], H = c[2], W = c[3], KH = c[4], KW = c[5], SH = c[6], SW = c[7];
		int64_t PH = c[8], PW = c[9], DH = c[12], DW = c[13];
		int avg = (int)c[15], cip = (int)c[16];
		int64_t OH = out_dim(H, KH, SH, PH, c[10], DH, (int)c[14]);
		int64_t OW = out_dim(W, KW, SW, PW, c[11], DW, (int)c[14]);
		int64_t p[19] = {N, C, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, avg,
				 cip ? -PH : 0, cip ? H + c[10] : H, cip ? -PW : 0, cip ? W + c[11] : W};
		int64_t nx = N * C * H * W, ny = N * C * OH * OW;
		float *x = malloc((size_t)nx * sizeof *x), *y1 = malloc((size_t)ny * sizeof *y1);
		float *y3 = malloc((size_t)ny * sizeof *y3);

		assert_true(nncc_abi_pool(W, OW, KW, SW, PW, DW));
		for (int64_t i = 0; i < nx; i++)
			x[i] = rnd16(&seed);
		if (!avg) /* NaN wins wherever a window holds one, first or later */
			x[1] = x[nx / 2] = x[nx - 1] = NAN;
		nncc_rt_pool2d_f32(x, y1, p, NULL);
		for (int64_t pl = 0; pl < N * C; pl++)
			for (int64_t oy = 0; oy < OH; oy++)
				for (int64_t ox = 0; ox < OW; ox++) {
					double a = avg ? 0 : -INFINITY, cnt = 0;
					int nan = 0;
					for (int64_t i = 0; i < KH; i++)
						for (int64_t j = 0; j < KW; j++) {
							int64_t iy = oy * SH - PH + i * DH, ix = ox * SW - PW + j * DW;
							int64_t ylo = cip ? -PH : 0, yhi = cip ? H + c[10] : H;
							int64_t xlo = cip ? -PW : 0, xhi = cip ? W + c[11] : W;
							cnt += iy >= ylo && iy < yhi && ix >= xlo && ix < xhi;
							if (iy < 0 || iy >= H || ix < 0 || ix >= W)
								continue;
							double v = x[(pl * H + iy) * W + ix];
							nan |= isnan(v);
							a = avg ? a + v : v > a ? v : a;
						}
					double want = avg ? a / cnt : a;
					float got = y1[(pl * OH + oy) * OW + ox];
					if (nan ? !isnan(got) : !(fabs(got - want) <= 1e-6 * (1 + fabs(want))))
						fail_msg("case %zu: y[%lld][%lld][%lld] = %g, want %g%s", t,
							 (long long)pl, (long long)oy, (long long)ox, got, want,
							 nan ? " (NaN)" : "");
				}
		nncc_rt_pool2d_f32(x, y3, p, &ctx);
		assert_memory_equal(y1, y3, (size_t)ny * sizeof *y1);
		free(x), free(y1), free(y3);
	}
	assert_false(nncc_abi_pool(5000, 2500, 3, 2, 1, 1));  /* row past NNCC_ABI_POOL_ROW */
	assert_false(nncc_abi_pool(100, 50, 3, 2, 4000, 1));  /* pad past it */
	assert_false(nncc_abi_pool(100, 3000, 3, 2, 0, 1));   /* windows read past it */
	assert_false(nncc_abi_pool(100, 50, 3, 0, 0, 1));     /* stride 0 */
	assert_true(nncc_abi_pool(4096, 2048, 2, 2, 0, 1));
	rt_pool_free(pool);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_against_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
