/* gemm_ukr.c — the GEMM's register-blocked micro-kernels and the rule
 * that picks one for a shape: part of the kernel library (see gemm.c,
 * which packs the panels they multiply, and winograd.c, which lays out
 * its own).
 *
 * With AVX-512: tiles of 12 x 32, 8 x 48, 6 x 64 and 4 x 96 (vectors
 * along C's columns, 24 zmm accumulators), and transposed tiles of 32 x
 * 12, 32 x 9, 32 x 8, 32 x 7 and 32 x 4 (vectors down the rows, stored
 * by scatters) for C narrow or of an awkward width; with AVX2+FMA 6 x 16;
 * a plain C 4 x 8 for anything else. Each is compiled for its ISA with a
 * target attribute, so the library needs no -m flags. Every kernel sums
 * along k in the same order, so the tile does not change the result. */
#include <stddef.h>
#include <stdint.h>

#include <immintrin.h>

#include "gemm.h"

/* Every micro-kernel (RtUkr, gemm.h) computes
 * c (mr x nr, row stride ldc) = (acc ? c : bias ? row i's bias[i] : 0) +
 * ap (mr x kc panel) * bp (kc rows of nr, row stride ldb: nr for a packed
 * panel, B's own for B read in place), of which only the first rows x
 * cols are read and written (a tile at C's edge: the panels are padded
 * with zeros). The sum is added to the bias at the store, as it would be
 * to a C filled with it; then, with ep, goes through that epilogue
 * (canonical: only the AVX-512 kernels get one). */

/* The first n lanes of 16 (none for n <= 0, all for n >= 16). */
static inline uint32_t
ukr_lanes(int64_t n)
{
	return n <= 0 ? 0 : n >= 16 ? 0xffffu : (1u << n) - 1;
}

/* The AVX-512 kernels' prefetch: npf cache lines from pf into L2, one
 * every kc / npf steps of the inner loop (at most one a step), so they
 * go out among the multiply-adds rather than in a burst that stalls the
 * core once the line fill buffers are full. The caller passes the slice
 * of the next A panel that this tile should bring in (gemm.c). */
#define UKR_PF_INIT                                                                                \
	const char *pfp = (const char *)pf;                                                        \
	int64_t pfn = pf ? npf : 0, pfe = pfn > 0 && kc / pfn > 1 ? kc / pfn : 1, pfc = pfe
#define UKR_PF_STEP                                                                                \
	if (--pfc == 0) {                                                                          \
		pfc = pfe;                                                                         \
		if (pfn > 0)                                                                       \
			_mm_prefetch(pfp, _MM_HINT_T1), pfp += 64, pfn--;                          \
	}

/* An AVX-512 micro-kernel of MR rows and NV vectors of 16 columns, with
 * MR * NV accumulators (at most 24 of the 32 zmm registers). */
#define UKR_AVX512(NAME, MR, NV)                                                                   \
	__attribute__((target("avx512f"))) static void NAME(                                       \
	    int64_t kc, const float *restrict ap, const float *restrict bp, int64_t ldb,           \
	    float *restrict c, int64_t ldc, int acc, const float *bias, int64_t rows,              \
	    int64_t cols, const float *pf, int64_t npf, const RtEpi *ep)                           \
	{                                                                                          \
		__m512 r[MR][NV], b[NV];                                                           \
		UKR_PF_INIT;                                                                       \
		_Pragma("GCC unroll 12") for (int i = 0; i < MR; i++)                               \
		{                                                                                  \
			_Pragma("GCC unroll 6") for (int v = 0; v < NV; v++) r[i][v] =              \
			    _mm512_setzero_ps();                                                   \
			_mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);                    \
		}                                                                                  \
		_Pragma("GCC unroll 2") for (int64_t p = 0; p < kc; p++, ap += MR, bp += ldb)       \
		{                                                                                  \
			UKR_PF_STEP;                                                               \
			_Pragma("GCC unroll 6") for (int v = 0; v < NV; v++) b[v] =                  \
			    _mm512_loadu_ps(bp + 16 * v);                                          \
			_Pragma("GCC unroll 12") for (int i = 0; i < MR; i++)                       \
			{                                                                          \
				__m512 a = _mm512_set1_ps(ap[i]);                                  \
				_Pragma("GCC unroll 6") for (int v = 0; v < NV; v++) r[i][v] =       \
				    _mm512_fmadd_ps(a, b[v], r[i][v]);                             \
			}                                                                          \
		}                                                                                  \
		const RtEpiRegs er = ep ? rt_epi_regs(ep) : (RtEpiRegs){0};                         \
		if (rows == MR && cols == 16 * NV) {                                               \
			_Pragma("GCC unroll 12") for (int i = 0; i < MR; i++)                       \
			    _Pragma("GCC unroll 6") for (int v = 0; v < NV; v++)                     \
			{                                                                          \
				float *q = c + i * ldc + 16 * v;                                   \
				if (acc)                                                           \
					r[i][v] = _mm512_add_ps(r[i][v], _mm512_loadu_ps(q));      \
				else if (bias)                                                     \
					r[i][v] = _mm512_add_ps(r[i][v], _mm512_set1_ps(bias[i])); \
				if (ep)                                                            \
					r[i][v] = rt_epi_v(&er, r[i][v], q, 0xffff);               \
				_mm512_storeu_ps(q, r[i][v]);                                      \
			}                                                                          \
			return;                                                                    \
		}                                                                                  \
		_Pragma("GCC unroll 12") for (int i = 0; i < MR; i++)                               \
		    _Pragma("GCC unroll 6") for (int v = 0; v < NV; v++)                             \
		{ /* an edge tile: masked on the columns, rows past C skipped */                  \
			float *q = c + i * ldc + 16 * v;                                           \
			__mmask16 mk = (__mmask16)ukr_lanes(cols - 16 * v);                         \
			if (i >= rows || !mk)                                                      \
				continue;                                                          \
			if (acc)                                                                   \
				r[i][v] = _mm512_add_ps(r[i][v], _mm512_maskz_loadu_ps(mk, q));    \
			else if (bias)                                                             \
				r[i][v] = _mm512_add_ps(r[i][v], _mm512_set1_ps(bias[i]));         \
			if (ep)                                                                    \
				r[i][v] = rt_epi_v(&er, r[i][v], q, mk);                           \
			_mm512_mask_storeu_ps(q, mk, r[i][v]);                                     \
		}                                                                                  \
	}

UKR_AVX512(ukr_avx512_12x32, 12, 2)
UKR_AVX512(ukr_avx512_8x48, 8, 3)
UKR_AVX512(ukr_avx512_6x64, 6, 4)
/* the same rows, fewer vectors: the tiles at C's right edge (RtIsa.edge) */
UKR_AVX512(ukr_avx512_12x16, 12, 1)
UKR_AVX512(ukr_avx512_8x16, 8, 1)
UKR_AVX512(ukr_avx512_8x32, 8, 2)
UKR_AVX512(ukr_avx512_6x16, 6, 1)
UKR_AVX512(ukr_avx512_6x32, 6, 2)
UKR_AVX512(ukr_avx512_6x48, 6, 3)
UKR_AVX512(ukr_avx512_4x16, 4, 1)
UKR_AVX512(ukr_avx512_4x32, 4, 2)
UKR_AVX512(ukr_avx512_4x48, 4, 3)
UKR_AVX512(ukr_avx512_4x64, 4, 4)
UKR_AVX512(ukr_avx512_4x80, 4, 5)
UKR_AVX512(ukr_avx512_4x96, 4, 6)

/* The transposed kernels, for C with few columns (a convolution's small
 * output planes): the vectors run down MR = 16 * NV rows of the A panel
 * and the NR columns of the B panel are broadcast, NR * NV accumulators;
 * each accumulator is a piece of a column of C, written (and, to
 * accumulate, read) with a scatter (gather) of stride ldc. The packed
 * panels are the same as for the kernels above. */
#define UKR_AVX512_T(NAME, NV, NR)                                                                 \
	__attribute__((target("avx512f"))) static void NAME(                                       \
	    int64_t kc, const float *restrict ap, const float *restrict bp, int64_t ldb,           \
	    float *restrict c, int64_t ldc, int acc, const float *bias, int64_t rows,              \
	    int64_t cols, const float *pf, int64_t npf, const RtEpi *ep)                           \
	{                                                                                          \
		__m512 r[NR][NV], a[NV];                                                           \
		UKR_PF_INIT;                                                                       \
		const __m512i col = _mm512_mullo_epi32(                                            \
		    _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),        \
		    _mm512_set1_epi32((int)ldc));                                                  \
		_Pragma("GCC unroll 12") for (int j = 0; j < NR; j++)                               \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) r[j][v] = _mm512_setzero_ps(); \
		_Pragma("GCC unroll 2") for (int64_t p = 0; p < kc; p++, ap += 16 * NV, bp += ldb)  \
		{                                                                                  \
			UKR_PF_STEP;                                                               \
			_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) a[v] =                  \
			    _mm512_loadu_ps(ap + 16 * v);                                          \
			_Pragma("GCC unroll 12") for (int j = 0; j < NR; j++)                       \
			{                                                                          \
				__m512 b = _mm512_set1_ps(bp[j]);                                  \
				_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) r[j][v] =       \
				    _mm512_fmadd_ps(a[v], b, r[j][v]);                             \
			}                                                                          \
		}                                                                                  \
		const RtEpiRegs er = ep ? rt_epi_regs(ep) : (RtEpiRegs){0};                         \
		_Pragma("GCC unroll 12") for (int j = 0; j < NR; j++)                               \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                             \
		{ /* the rows of C past its edge masked off */                                   \
			float *q = c + 16 * v * ldc + j;                                           \
			__mmask16 mk = (__mmask16)ukr_lanes(rows - 16 * v);                         \
			if (j >= cols || !mk)                                                      \
				continue;                                                          \
			if (acc)                                                                   \
				r[j][v] = _mm512_add_ps(                                           \
				    r[j][v], _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, col, q, 4)); \
			else if (bias)                                                             \
				r[j][v] = _mm512_add_ps(r[j][v], _mm512_maskz_loadu_ps(mk, bias + 16 * v)); \
			if (ep) /* the residual gathered as C is */                                \
				r[j][v] = rt_epi_vr(&er, r[j][v],                                  \
						    er.res ? _mm512_mask_i32gather_ps(             \
								 _mm512_setzero_ps(), mk, col,     \
								 rt_epi_regs_res(&er, q), 4)       \
							   : _mm512_setzero_ps());                 \
			_mm512_mask_i32scatter_ps(q, mk, col, r[j][v], 4);                         \
		}                                                                                  \
	}

UKR_AVX512_T(ukr_avx512_32x4, 2, 4)
UKR_AVX512_T(ukr_avx512_32x7, 2, 7)
UKR_AVX512_T(ukr_avx512_32x9, 2, 9)
UKR_AVX512_T(ukr_avx512_32x8, 2, 8)
UKR_AVX512_T(ukr_avx512_32x12, 2, 12)

__attribute__((target("avx2,fma"))) static void
ukr_avx2(int64_t kc, const float *restrict ap, const float *restrict bp, int64_t ldb,
	 float *restrict c, int64_t ldc, int acc, const float *bias, int64_t rows, int64_t cols,
	 const float *pf, int64_t npf, const RtEpi *ep)
{
	__m256 r[6][2];

	(void)pf, (void)npf, (void)ep; /* no canonical epilogue without AVX-512 */

#pragma GCC unroll 6
	for (int i = 0; i < 6; i++)
		r[i][0] = r[i][1] = _mm256_setzero_ps();
	for (int64_t p = 0; p < kc; p++, ap += 6, bp += ldb) {
		__m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
		for (int i = 0; i < 6; i++) {
			__m256 a = _mm256_broadcast_ss(ap + i);
			r[i][0] = _mm256_fmadd_ps(a, b0, r[i][0]);
			r[i][1] = _mm256_fmadd_ps(a, b1, r[i][1]);
		}
	}
	if (rows < 6 || cols < 16) { /* an edge tile: through a buffer */
		float t[6][16];
		for (int i = 0; i < 6; i++)
			_mm256_storeu_ps(t[i], r[i][0]), _mm256_storeu_ps(t[i] + 8, r[i][1]);
		for (int64_t i = 0; i < rows; i++)
			for (int64_t j = 0; j < cols; j++)
				c[i * ldc + j] = t[i][j] + (acc ? c[i * ldc + j] : bias ? bias[i] : 0.0f);
		return;
	}
#pragma GCC unroll 6
	for (int i = 0; i < 6; i++) {
		float *q = c + i * ldc;
		if (acc) {
			r[i][0] = _mm256_add_ps(r[i][0], _mm256_loadu_ps(q));
			r[i][1] = _mm256_add_ps(r[i][1], _mm256_loadu_ps(q + 8));
		} else if (bias) {
			r[i][0] = _mm256_add_ps(r[i][0], _mm256_set1_ps(bias[i]));
			r[i][1] = _mm256_add_ps(r[i][1], _mm256_set1_ps(bias[i]));
		}
		_mm256_storeu_ps(q, r[i][0]);
		_mm256_storeu_ps(q + 8, r[i][1]);
	}
}

static void
ukr_plain(int64_t kc, const float *restrict ap, const float *restrict bp, int64_t ldb,
	  float *restrict c, int64_t ldc, int acc, const float *bias, int64_t rows, int64_t cols,
	  const float *pf, int64_t npf, const RtEpi *ep)
{
	float r[4][8] = {{0}};

	(void)pf, (void)npf, (void)ep; /* no canonical epilogue without AVX-512 */

	for (int64_t p = 0; p < kc; p++, ap += 4, bp += ldb)
		for (int i = 0; i < 4; i++)
			for (int j = 0; j < 8; j++)
				r[i][j] += ap[i] * bp[j];
	for (int i = 0; i < rows; i++)
		for (int j = 0; j < cols; j++)
			c[i * ldc + j] = r[i][j] + (acc ? c[i * ldc + j] : bias ? bias[i] : 0.0f);
}

/* The micro-kernels this CPU runs, the first the default; *n gets their
 * count. */
static const RtIsa *
cpu_isas(int *n)
{
	static const RtIsa avx512[] = {
	    {12, 32, ukr_avx512_12x32, 1, {NULL, ukr_avx512_12x16}},
	    {8, 48, ukr_avx512_8x48, 1, {NULL, ukr_avx512_8x16, ukr_avx512_8x32}},
	    {6, 64, ukr_avx512_6x64, 1, {NULL, ukr_avx512_6x16, ukr_avx512_6x32, ukr_avx512_6x48}},
	    {4, 96, ukr_avx512_4x96, 1,
	     {NULL, ukr_avx512_4x16, ukr_avx512_4x32, ukr_avx512_4x48, ukr_avx512_4x64, ukr_avx512_4x80}},
	    {32, 12, ukr_avx512_32x12, 1, {NULL}},
	    {32, 8, ukr_avx512_32x8, 1, {NULL}},
	    {32, 9, ukr_avx512_32x9, 1, {NULL}},
	    {32, 7, ukr_avx512_32x7, 1, {NULL}},
	    {32, 4, ukr_avx512_32x4, 1, {NULL}}};
	static const RtIsa avx2 = {6, 16, ukr_avx2, 1, {NULL}}, plain = {4, 8, ukr_plain, 0, {NULL}};

	__builtin_cpu_init();
	*n = 1;
	if (__builtin_cpu_supports("avx512f")) {
		*n = (int)(sizeof avx512 / sizeof avx512[0]);
		return avx512;
	}
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return &avx2;
	return &plain;
}

/* The micro-kernel that wastes least on padding an m x n C to whole
 * tiles, a transposed one (vectors down the rows) counted as dearer per
 * lane: those win for C a few columns wide, where every other kernel
 * wastes most of its lanes. Their stores scatter (and gather, after the
 * first KC block), which a short inner extent does not amortize: 3/2 as
 * dear below RT_GEMM_T_DEAR_K, 5/4 from there on (measured on the zoo: 7x7
 * planes of 49 columns take 32 x 7 tiles from k = 160 on, MobileNetV2
 * and ResNet-50 1.5% faster on one thread; SqueezeNet's, k = 32, lost
 * 2% with them). The first on a tie. A function of m, n and k only: the
 * same for every thread count. */
const RtIsa *
rt_gemm_isa(int64_t m, int64_t n, int64_t k)
{
	int cnt;
	const RtIsa *v = cpu_isas(&cnt), *best = v;
	int64_t least = INT64_MAX;

	for (int i = 0; i < cnt; i++) {
		int64_t padded = (m + v[i].mr - 1) / v[i].mr * v[i].mr * ((n + v[i].nr - 1) / v[i].nr * v[i].nr);
		padded *= v[i].nr >= 16 ? 4 : k < RT_GEMM_T_DEAR_K ? 6 : 5;
		if (padded < least)
			least = padded, best = &v[i];
	}
	return best;
}

int
rt_gemm_tile(int64_t m, int64_t n, int64_t k, RtTile *t)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f"))
		return 0;
	const RtIsa *v = rt_gemm_isa(m, n, k);
	t->mr = v->mr;
	t->nr = v->nr;
	t->ukr = v->ukr;
	return 1;
}

int
rt_gemm_tile_of(int mr, int nr, RtTile *t)
{
	int cnt;
	const RtIsa *v = cpu_isas(&cnt);

	for (int i = 0; i < cnt; i++)
		if (v[i].avx && v[i].mr == mr && v[i].nr == nr && __builtin_cpu_supports("avx512f")) {
			t->mr = mr, t->nr = nr, t->ukr = v[i].ukr;
			return 1;
		}
	return 0;
}
