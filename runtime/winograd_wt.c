/* winograd_wt.c — the weight transform of winograd.c's convolutions,
 * U = G g G^T for every (filter, channel) pair, laid out as the GEMM
 * micro-kernel's A panels: run once per weight into the session's weight
 * cache (or per call for a weight that is not a constant). Part of the
 * kernel library. */
#include <stdint.h>

#include <immintrin.h>

#include "conv_direct.h"
#include "winograd.h"

/* G on three values, into u[0], u[st], ...: F(2x2, 3x3)'s G = [1 0 0;
 * .5 .5 .5; .5 -.5 .5; 0 0 1]; F(4x4, 3x3)'s G = [1 0 0; 1/3 1/3 1/3;
 * -1/3 1/3 -1/3; -16/15 -8/15 -4/15; 1/15 -2/15 4/15; 0 0 1]. */
__attribute__((target("avx512f"))) static inline void
gt2(__m512 g0, __m512 g1, __m512 g2, __m512 *u, int st)
{
	const __m512 half = _mm512_set1_ps(0.5f);
	__m512 s = _mm512_add_ps(g0, g2);

	u[0] = g0;
	u[st] = _mm512_mul_ps(half, _mm512_add_ps(s, g1));
	u[2 * st] = _mm512_mul_ps(half, _mm512_sub_ps(s, g1));
	u[3 * st] = g2;
}

__attribute__((target("avx512f"))) static inline void
gt4(__m512 g0, __m512 g1, __m512 g2, __m512 *u, int st)
{
	const __m512 third = _mm512_set1_ps(1.0f / 3), two = _mm512_set1_ps(2.0f), four = _mm512_set1_ps(4.0f);
	const __m512 m4_15 = _mm512_set1_ps(-4.0f / 15), r15 = _mm512_set1_ps(1.0f / 15);
	__m512 s = _mm512_add_ps(g0, g2);

	u[0] = g0;
	u[st] = _mm512_mul_ps(third, _mm512_add_ps(s, g1));
	u[2 * st] = _mm512_mul_ps(third, _mm512_sub_ps(g1, s));
	u[3 * st] = _mm512_mul_ps(m4_15, _mm512_fmadd_ps(four, g0, _mm512_fmadd_ps(two, g1, g2)));
	u[4 * st] = _mm512_mul_ps(r15, _mm512_fmadd_ps(four, g2, _mm512_fnmadd_ps(two, g1, g0)));
	u[5 * st] = g2;
}

/* rt_wino_weights: 16 filters a step across the lanes, their 3 x 3
 * taps gathered, G applied down the rows then along them. */
__attribute__((target("avx512f"))) static void
weights_avx512(const float *wt, float *uw, int64_t C, int64_t K, int64_t kp, int64_t mr, int m, int64_t g0,
	       int64_t g1)
{
	int64_t ustride = kp * C, n = m + 2, nx = n * n;
	void (*gt)(__m512, __m512, __m512, __m512 *, int) = m == 4 ? gt4 : gt2;
	__m512i off = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
					 _mm512_set1_epi32((int32_t)(C * 9)));

	for (int64_t fg = g0; fg < g1; fg++) {
		int64_t f0 = fg * 16, cnt = kp - f0 < 16 ? kp - f0 : 16;
		__mmask16 live = (__mmask16)rt_lanes(0, K - f0 < cnt ? K - f0 : cnt);
		RtWinoPut pl;
		rt_wino_put_runs(mr, C * mr, f0, cnt, &pl);
		for (int64_t c = 0; c < C; c++) {
			const float *g = wt + (f0 * C + c) * 9;
			__m512 g9[3][3], gg[6][3], o[36];
			for (int i = 0; i < 3; i++)
				for (int j = 0; j < 3; j++)
					g9[i][j] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, off, g + 3 * i + j, 4);
			for (int j = 0; j < 3; j++)
				gt(g9[0][j], g9[1][j], g9[2][j], &gg[0][j], 3);
			for (int r = 0; r < n; r++)
				gt(gg[r][0], gg[r][1], gg[r][2], o + r * n, 1);
			float *u = uw + c * mr;
			for (int xi = 0; xi < nx; xi++)
				for (int k = 0; k < pl.n; k++)
					_mm512_mask_storeu_ps(u + xi * ustride + pl.off[k], pl.mask[k], o[xi]);
		}
	}
}

void
rt_wino_weights(const float *wt, float *uw, int64_t C, int64_t K, int64_t kp, int64_t mr, int m,
		int64_t g0, int64_t g1)
{
	if (__builtin_cpu_supports("avx512f"))
		weights_avx512(wt, uw, C, K, kp, mr, m, g0, g1);
}
