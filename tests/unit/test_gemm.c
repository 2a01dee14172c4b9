/* test_gemm.c — runtime/gemm.c against a float64 reference: every
 * transpose and accumulate combination, shapes around the tile and block
 * edges (MR, NR, MC, KC, NC) of every micro-kernel (the transposed ones
 * too) and of the streamed few-row products, leading dimensions wider than the matrix,
 * and the same bits on 1, 2 and 3 threads and without a context; the
 * plain loops of a call that cannot get a scratch slot. The kernel
 * library is compiled in by including its source. */
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

/* c (m x n, ldc) against the float64 product of a and b (+ c0). */
static void
check(const float *a, int64_t lda, int ta, const float *b, int64_t ldb, int tb, const float *c0,
      const float *c, int64_t ldc, int64_t m, int64_t n, int64_t k, int acc, const char *what)
{
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			double s = acc ? c0[i * ldc + j] : 0.0, mag = fabs(s);
			for (int64_t p = 0; p < k; p++) {
				double t = (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
					   (double)(tb ? b[j * ldb + p] : b[p * ldb + j]);
				s += t;
				mag += fabs(t);
			}
			double got = c[i * ldc + j];
			if (!(fabs(got - s) <= 6e-8 * (double)(k + 2) * mag + 1e-30)) /* the worst-case bound */
				fail_msg("%s: C[%lld][%lld] = %.9g, want %.9g (sum of |terms| %g)", what,
					 (long long)i, (long long)j, got, s, mag);
		}
}

static void
test_gemm_shapes(void **state)
{
	/* m n k, with extra leading-dimension padding; around MR 12/6/4, NR
	 * 32/16/8, MC 96, KC 512, NC 512 */
	static const int64_t shapes[][3] = {
	    {1, 1, 1},     {1, 7, 3},      {5, 1, 9},      {12, 32, 8},   {13, 33, 7},
	    {11, 31, 300}, {6, 16, 256},   {7, 17, 257},   {96, 64, 16},  {97, 65, 513},
	    {40, 520, 30}, {200, 100, 50}, {3, 1100, 20},  {130, 9, 600}, {64, 64, 64},
	    {7, 17, 1100}, {50, 515, 511},
	    /* up to 48 rows, B read in place: two KC blocks, two NC blocks */
	    {33, 1050, 270}, {24, 200, 144},
	    /* the narrow tiles: 8 x 48, 6 x 64 and 4 x 96 */
	    {16, 150, 100}, {6, 784, 25},  {6, 25, 700},   {4, 200, 30},  {3, 1000, 9},
	    /* the transposed tiles: 32 x 12, 32 x 8, 32 x 7 and 32 x 4 (7 x 7
	     * planes from k = 128 on, whole and with rows past the edge) */
	    {1000, 9, 64},  {256, 7, 100},  {100, 4, 300},  {64, 2, 300},  {70, 11, 257},
	    {320, 49, 960}, {100, 49, 300}, {70, 98, 130},
	    /* 5 x 7 tiles of 32 x 7 (MobileNetV2's 160 x 49): with A packed
	     * ahead, pieces of the tiles taken row by row, on 3 threads the
	     * end of one row of tiles, a whole one and the start of the next */
	    {160, 49, 960}, {150, 45, 200},
	    /* 3x3 planes from k = 128 on: 32 x 9, not dot products */
	    {1000, 9, 512}, {70, 9, 130},
	    /* at most 4 rows: B's rows streamed (tb: dot products, k >= 64) */
	    {1, 300, 64},   {3, 37, 100},   {4, 1030, 515}, {1, 2000, 200}, {2, 6, 63},
	};
	RtPool *pool[3] = {NULL, NULL, NULL};
	void *gs = aligned_alloc(64, 3 * NNCC_ABI_GEMM_SCRATCH);
	uint32_t seed = 3;
	char what[128];
	int packed_ahead = 0;

	(void)state;
	assert_non_null(gs);
	for (int t = 2; t <= 3; t++)
		assert_int_equal(rt_pool_new(t, &pool[t - 1], NULL), NNCC_STATUS_OK);
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], pad = (int64_t)s % 3;
		int64_t lda = (m > k ? m : k) + pad, ldb = (n > k ? n : k) + pad, ldc = n + pad;
		float *a = malloc((size_t)(lda * (m > k ? m : k)) * sizeof(float));
		float *b = malloc((size_t)(ldb * (n > k ? n : k)) * sizeof(float));
		float *c0 = malloc((size_t)(ldc * m) * sizeof(float));
		float *c = malloc((size_t)(ldc * m) * sizeof(float));
		float *c1 = malloc((size_t)(ldc * m) * sizeof(float));
		assert_true(a && b && c0 && c && c1);
		for (int64_t i = 0; i < lda * (m > k ? m : k); i++)
			a[i] = rnd(&seed);
		for (int64_t i = 0; i < ldb * (n > k ? n : k); i++)
			b[i] = rnd(&seed);
		for (int64_t i = 0; i < ldc * m; i++)
			c0[i] = rnd(&seed);
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++)
				for (int acc = 0; acc < 2; acc++)
					for (int th = 1; th <= 3; th++) {
						nncc_abi_ctx cx = {.nthreads = th,
								   .parallel_for = th > 1 ? rt_pool_parallel_for : NULL,
								   .pool = pool[th - 1], .gemm_scratch = gs};
						memcpy(c, c0, (size_t)(ldc * m) * sizeof(float));
						rt_gemm(&cx, m, n, k, a, lda, ta, b, ldb, tb, acc, c, ldc);
						snprintf(what, sizeof what, "%lldx%lldx%lld ta=%d tb=%d acc=%d threads=%d",
							 (long long)m, (long long)n, (long long)k, ta, tb, acc, th);
						check(a, lda, ta, b, ldb, tb, c0, c, ldc, m, n, k, acc, what);
						for (int64_t i = 0; i < m; i++) /* padding untouched */
							for (int64_t j = n; j < ldc; j++)
								assert_memory_equal(&c[i * ldc + j], &c0[i * ldc + j],
										    sizeof(float));
						if (th == 1)
							memcpy(c1, c, (size_t)(ldc * m) * sizeof(float));
						else if (memcmp(c, c1, (size_t)(ldc * m) * sizeof(float)))
							fail_msg("%s: not the bits of 1 thread", what);
						if (th > 1)
							continue;
						/* no context (its own scratch slot): the same bits */
						memcpy(c, c0, (size_t)(ldc * m) * sizeof(float));
						rt_gemm(NULL, m, n, k, a, lda, ta, b, ldb, tb, acc, c, ldc);
						if (memcmp(c, c1, (size_t)(ldc * m) * sizeof(float)))
							fail_msg("%s: without a context, not the bits of 1 thread", what);
						/* the plain loops (no scratch to be had) */
						memcpy(c, c0, (size_t)(ldc * m) * sizeof(float));
						gemm_plain(m, n, k, a, lda, ta, b, ldb, tb, acc, NULL, c, ldc, NULL);
						check(a, lda, ta, b, ldb, tb, c0, c, ldc, m, n, k, acc, what);
					}
		/* A a constant weight packed ahead in a cache (rt_gemm_const_a):
		 * the bits of rt_gemm, on every thread count, filled once */
		float *ak = malloc((size_t)(m * k + 1) * sizeof(float)), *rb = malloc((size_t)m * sizeof(float));
		Cache cache = {0};
		assert_non_null(ak);
		assert_non_null(rb);
		for (int64_t i = 0; i < m; i++)
			rb[i] = (float)(i % 7) * 0.375f - 1.25f;
		for (int64_t i = 0; i < m * k; i++)
			ak[i] = a[i / k * lda + i % k];
		for (int tb = 0; tb < 2; tb++)
			for (int th = 1; th <= 3; th++) {
				nncc_abi_ctx cx = {.nthreads = th, .parallel_for = th > 1 ? rt_pool_parallel_for : NULL,
						   .pool = pool[th - 1], .gemm_scratch = gs,
						   .wcache = cache_get, .wcache_owner = &cache};
				memcpy(c1, c0, (size_t)(ldc * m) * sizeof(float));
				rt_gemm(&cx, m, n, k, ak, k, 0, b, ldb, tb, 1, c1, ldc);
				for (int rep = 0; rep < 4; rep++) { /* B's blocks of either width (nc_block) */
					atomic_store(&nc_known, rep % 2 ? NC : NC_SMALL_L2);
					memcpy(c, c0, (size_t)(ldc * m) * sizeof(float));
					rt_gemm_const_a(&cx, ak, (uint32_t)tb, m, n, k, ak, b, ldb, tb, 1, NULL, c, ldc, NULL);
					snprintf(what, sizeof what, "%lldx%lldx%lld const A tb=%d threads=%d nc=%d",
						 (long long)m, (long long)n, (long long)k, tb, th, rep % 2 ? NC : NC_SMALL_L2);
					if (memcmp(c, c1, (size_t)(ldc * m) * sizeof(float)))
						fail_msg("%s: not the bits of rt_gemm", what);
				}
				atomic_store(&nc_known, 0);
				/* a row bias: the bits of C filled with it, then accumulated */
				memcpy(c1, c0, (size_t)(ldc * m) * sizeof(float));
				for (int64_t i = 0; i < m; i++)
					for (int64_t j = 0; j < n; j++)
						c1[i * ldc + j] = rb[i];
				rt_gemm(&cx, m, n, k, ak, k, 0, b, ldb, tb, 1, c1, ldc);
				memcpy(c, c0, (size_t)(ldc * m) * sizeof(float));
				rt_gemm_const_a(&cx, ak, (uint32_t)tb, m, n, k, ak, b, ldb, tb, 1, rb, c, ldc, NULL);
				if (memcmp(c, c1, (size_t)(ldc * m) * sizeof(float)))
					fail_msg("%s: with a row bias, not the bits of filling then accumulating", what);
			}
		/* A^T a constant weight stored k x m (rt_gemm_const_at, a
		 * transposed convolution's): the bits of rt_gemm with trans_a,
		 * its own cache entry beside A's */
		float *at = malloc((size_t)(m * k + 1) * sizeof(float));
		assert_non_null(at);
		for (int64_t i = 0; i < m * k; i++)
			at[i % k * m + i / k] = ak[i];
		for (int th = 1; th <= 3; th++) {
			nncc_abi_ctx cx = {.nthreads = th, .parallel_for = th > 1 ? rt_pool_parallel_for : NULL,
					   .pool = pool[th - 1], .gemm_scratch = gs,
					   .wcache = cache_get, .wcache_owner = &cache};
			memcpy(c1, c0, (size_t)(ldc * m) * sizeof(float));
			rt_gemm(&cx, m, n, k, at, m, 1, b, ldb, 0, 0, c1, ldc);
			for (int rep = 0; rep < 2; rep++) {
				memcpy(c, c0, (size_t)(ldc * m) * sizeof(float));
				rt_gemm_const_at(&cx, at, 0, m, n, k, at, b, ldb, c, ldc);
				snprintf(what, sizeof what, "%lldx%lldx%lld const A^T threads=%d", (long long)m,
					 (long long)n, (long long)k, th);
				if (memcmp(c, c1, (size_t)(ldc * m) * sizeof(float)))
					fail_msg("%s: not the bits of rt_gemm", what);
			}
		}
		free(at);
		assert_true(cache.fills <= 3); /* one per tb and one for A^T at most: each packed once */
		packed_ahead += cache.fills;
		cache_clear(&cache);
		free(ak), free(rb);
		free(a), free(b), free(c0), free(c), free(c1);
	}
	assert_true(packed_ahead >= 20); /* most shapes take the tiled path */
	for (int t = 2; t <= 3; t++)
		rt_pool_free(pool[t - 1]);
	free(gs);
}

/* The kernels of fewer vectors for a tile at C's right edge
 * (RtIsa.edge): the bits of the whole tile's kernel on the same panels,
 * for every width they take, storing afresh, from a bias and
 * accumulating, with an epilogue, rows short of the tile. */
static void
test_gemm_edges(void **state)
{
	int cnt, tried = 0;
	const RtIsa *v = cpu_isas(&cnt);
	uint32_t seed = 5;

	(void)state;
	for (int t = 0; t < cnt; t++)
		for (int nv = 1; nv < v[t].nr / 16; nv++) {
			if (!v[t].edge[nv])
				continue;
			enum { PK = 37, LDC = 100 };
			int mr = v[t].mr, nr = v[t].nr;
			float ap[12 * PK], bp[96 * PK], bias[12], c0[12 * LDC], c1[12 * LDC], c2[12 * LDC];
			for (int i = 0; i < mr * PK; i++)
				ap[i] = rnd(&seed);
			for (int i = 0; i < nr * PK; i++)
				bp[i] = rnd(&seed);
			for (int i = 0; i < 12; i++)
				bias[i] = rnd(&seed);
			for (int i = 0; i < 12 * LDC; i++)
				c0[i] = rnd(&seed);
			RtEpi ep = {0};
			nncc_abi_epi relu = {.n = 2, .op = {NNCC_EPI_RELU, NNCC_EPI_MIN}, .c = {0, 0.5f}};
			rt_epi_init(&ep, &relu, NULL, c1);
			for (int cols = 16 * nv - 15; cols <= 16 * nv; cols += 5)
				for (int mode = 0; mode < 4; mode++) {
					int acc = mode == 1, rows = mode == 3 ? mr - 1 : mr;
					const float *b = mode == 2 ? bias : NULL;
					const RtEpi *e = mode == 3 ? &ep : NULL;
					memcpy(c1, c0, sizeof c1);
					memcpy(c2, c0, sizeof c2);
					v[t].ukr(PK, ap, bp, nr, c1, LDC, acc, b, rows, cols, NULL, 0, e);
					v[t].edge[nv](PK, ap, bp, nr, c2, LDC, acc, b, rows, cols, NULL, 0, e);
					if (memcmp(c1, c2, sizeof c1))
						fail_msg("%dx%d tile, edge of %d vectors, %d columns, mode %d: not the same "
							 "bits",
							 mr, nr, nv, cols, mode);
					tried++;
				}
		}
	if (__builtin_cpu_supports("avx512f"))
		assert_true(tried >= 11 * 4);
}

/* c (row stride ldc) += op(A) op(B) in calls of at most NC columns each,
 * on one thread: each call packs A anew (no keep). */
static void
gemm_by_nc(void *gs, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, int ta, const float *b,
	   int64_t ldb, int tb, float *c, int64_t ldc)
{
	nncc_abi_ctx cx = {.nthreads = 1, .gemm_scratch = gs};

	for (int64_t j = 0; j < n; j += NC) {
		int64_t w = n - j < NC ? n - j : NC;
		rt_gemm(&cx, m, w, k, a, lda, ta, tb ? b + j * ldb : b + j, ldb, tb, 1, c + j, ldc);
	}
}

/* Products whose A gemm_block keeps packed over one KC block for all of
 * C's columns (more than NC columns a piece, A beyond KEEP_MIN_A): the
 * bits of the same product computed in calls of at most NC columns
 * (each packing A anew), on 1, 2 and 3 threads, and sampled elements
 * against the float64 reference. */
static void
test_gemm_keep(void **state)
{
	/* m n k: keep on 1 thread, and on 2 (1100 columns a piece) */
	static const int64_t shapes[][3] = {{130, 1500, 8200}, {100, 2200, 10500}};
	RtPool *pool[3] = {NULL, NULL, NULL};
	void *gs = aligned_alloc(64, 3 * NNCC_ABI_GEMM_SCRATCH);
	uint32_t seed = 11;
	char what[128];

	(void)state;
	assert_non_null(gs);
	for (int t = 2; t <= 3; t++)
		assert_int_equal(rt_pool_new(t, &pool[t - 1], NULL), NNCC_STATUS_OK);
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ldc = n + 3;
		assert_true(m * k >= KEEP_MIN_A && n > NC);
		float *a = malloc((size_t)(m * k) * sizeof(float)), *b = malloc((size_t)(k * n) * sizeof(float));
		float *c0 = malloc((size_t)(m * ldc) * sizeof(float)), *c = malloc((size_t)(m * ldc) * sizeof(float));
		float *c1 = malloc((size_t)(m * ldc) * sizeof(float));
		assert_true(a && b && c0 && c && c1);
		for (int64_t i = 0; i < m * k; i++)
			a[i] = rnd(&seed);
		for (int64_t i = 0; i < k * n; i++)
			b[i] = rnd(&seed);
		for (int64_t i = 0; i < m * ldc; i++)
			c0[i] = rnd(&seed);
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++) {
				int64_t lda = ta ? m : k, ldb = tb ? k : n;
				/* the reference bits: NC columns a call, A packed for each */
				memcpy(c1, c0, (size_t)(m * ldc) * sizeof(float));
				gemm_by_nc(gs, m, n, k, a, lda, ta, b, ldb, tb, c1, ldc);
				for (int th = 1; th <= 3; th++) {
					nncc_abi_ctx cx = {.nthreads = th, .parallel_for = th > 1 ? rt_pool_parallel_for : NULL,
							   .pool = pool[th - 1], .gemm_scratch = gs};
					memcpy(c, c0, (size_t)(m * ldc) * sizeof(float));
					rt_gemm(&cx, m, n, k, a, lda, ta, b, ldb, tb, 1, c, ldc);
					snprintf(what, sizeof what, "%lldx%lldx%lld ta=%d tb=%d threads=%d", (long long)m,
						 (long long)n, (long long)k, ta, tb, th);
					if (memcmp(c, c1, (size_t)(m * ldc) * sizeof(float)))
						fail_msg("%s: not the bits of calls of NC columns", what);
				}
				for (int64_t i = 0; i < m; i += 7) /* every 7th row and 13th column */
					for (int64_t j = 0; j < n; j += 13) {
						double r = c0[i * ldc + j], mag = fabs(r);
						for (int64_t p = 0; p < k; p++) {
							double t = (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
								   (double)(tb ? b[j * ldb + p] : b[p * ldb + j]);
							r += t, mag += fabs(t);
						}
						if (!(fabs(c[i * ldc + j] - r) <= 6e-8 * (double)(k + 2) * mag))
							fail_msg("%s: C[%lld][%lld] = %.9g, want %.9g", what, (long long)i,
								 (long long)j, c[i * ldc + j], r);
					}
				if (!ta) { /* a row bias (A a weight the cache would not hold): the
					    * bits of C filled with it, then accumulated */
					memcpy(c1, c0, (size_t)(m * ldc) * sizeof(float));
					for (int64_t i = 0; i < m; i++)
						for (int64_t j = 0; j < n; j++)
							c1[i * ldc + j] = c0[i * ldc];
					gemm_by_nc(gs, m, n, k, a, k, 0, b, ldb, tb, c1, ldc);
					float *rb = malloc((size_t)m * sizeof(float));
					assert_non_null(rb);
					for (int64_t i = 0; i < m; i++)
						rb[i] = c0[i * ldc];
					nncc_abi_ctx cx = {.nthreads = 2, .parallel_for = rt_pool_parallel_for,
							   .pool = pool[1], .gemm_scratch = gs};
					memcpy(c, c0, (size_t)(m * ldc) * sizeof(float));
					rt_gemm_const_a(&cx, a, 0, m, n, k, a, b, ldb, tb, 1, rb, c, ldc, NULL);
					if (memcmp(c, c1, (size_t)(m * ldc) * sizeof(float)))
						fail_msg("%lldx%lldx%lld tb=%d threads=2: with a row bias, not the bits of "
							 "filling then accumulating",
							 (long long)m, (long long)n, (long long)k, tb);
					free(rb);
				}
			}
		free(a), free(b), free(c0), free(c), free(c1);
	}
	for (int t = 2; t <= 3; t++)
		rt_pool_free(pool[t - 1]);
	free(gs);
}

/* k == 0: C = 0, or unchanged when accumulating; empty m or n: nothing. */
static void
test_gemm_empty(void **state)
{
	void *gs = aligned_alloc(64, NNCC_ABI_GEMM_SCRATCH);
	nncc_abi_ctx cx = {.nthreads = 1, .gemm_scratch = gs};
	float a[4] = {1, 2, 3, 4}, c[4] = {5, 6, 7, 8};

	(void)state;
	assert_non_null(gs);
	rt_gemm(&cx, 2, 2, 0, a, 1, 0, a, 2, 0, 1, c, 2);
	assert_true(c[0] == 5 && c[3] == 8);
	rt_gemm(&cx, 0, 2, 2, a, 2, 0, a, 2, 0, 0, c, 2);
	rt_gemm(&cx, 2, 0, 2, a, 2, 0, a, 2, 0, 0, c, 2);
	assert_true(c[0] == 5 && c[3] == 8);
	rt_gemm(&cx, 2, 2, 0, a, 1, 0, a, 2, 0, 0, c, 2);
	for (int i = 0; i < 4; i++)
		assert_true(c[i] == 0.0f);
	free(gs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gemm_edges),
	    cmocka_unit_test(test_gemm_shapes),
	    cmocka_unit_test(test_gemm_keep),
	    cmocka_unit_test(test_gemm_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
