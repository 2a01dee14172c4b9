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

enum {
	WT_CB = 16,                /* channels a step: a 16 x 16 transpose per 16 of their 144 taps */
	WT_STREAM = 8 << 20,       /* bytes of U past which its rows go out by non-temporal stores */
	WT_AHEAD = 2,              /* steps ahead whose taps are prefetched (1 to 8 measured alike) */
};

/* Prefetch the lines of the n floats at f, into L1 or (l2) L2. Inlined,
 * as its callers are: GCC finds a function of prefetches alone pure and
 * drops its calls. */
__attribute__((always_inline)) static inline void
prefetch_run(const float *f, int64_t n, const int l2)
{
	const char *a = (const char *)((uintptr_t)f & ~(uintptr_t)63), *e = (const char *)(f + n);

	for (; a < e; a += 64)
		if (l2)
			_mm_prefetch(a, _MM_HINT_T1);
		else
			_mm_prefetch(a, _MM_HINT_T0);
}

/* Prefetch the taps step `it` of weights_m reads: panel p's filters over
 * channels [c0, c0 + WT_CB). Their runs lie a row of the weight apart
 * (C x 9 floats, 18 KB for 512 channels; swapped, K x 9), each in its own
 * page, where the hardware's prefetchers do not follow: without this
 * every run was a miss to memory (a training step's weights are cold). */
__attribute__((always_inline)) static inline void
wt_prefetch(const float *wt, int64_t C, int64_t K, int64_t mr, int64_t p, int64_t c0, int swap)
{
	int64_t f0 = p * mr, nf = K - f0 < mr ? K - f0 : mr, cb = C - c0 < WT_CB ? C - c0 : WT_CB;
	int sw = (swap & NNCC_CONV_SWAP_W) != 0;

	for (int64_t r = 0; r < (sw ? cb : nf); r++)
		prefetch_run(wt + (sw ? (c0 + r) * K + f0 : (f0 + r) * C + c0) * 9, (sw ? nf : cb) * 9, 0);
}

/* rt_wino_weights for tile m (a constant, so the transforms inline):
 * panel by panel, 16 of its filters at a time across the lanes. Each
 * filter's taps of 16 channels are 144 contiguous floats, read whole and
 * turned lanes-over-filters by nine 16 x 16 transposes (a gather per tap
 * took some 35 cycles on Zen 4); each channel's nx transformed vectors
 * go to a stack copy of the panel's rows for those channels, row c at c
 * x mr (a panel of at most 16 filters stores whole vectors, the lanes
 * past mr overwritten by the next row or landing in the copy's tail), and each product's rows leave as one
 * contiguous run of whole vectors (masked stores of 12 lanes, every one
 * crossing a line, ran at one per 20 cycles); past WT_STREAM bytes of U
 * (VGG's and ResNet's 512 x 512 layers, 16.9 MB) by non-temporal stores:
 * U is read from memory by the GEMMs anyway, and a store that first reads
 * its line took the transform from 1.3 to 3.0 ms on one Zen 4 core.
 * direct (one panel of at most 16 filters, rt_wino_weights_panel): each
 * channel's vectors straight into uw's products, ustride apart, no copy. */
__attribute__((target("avx512f"), always_inline)) static inline void
weights_m(const float *wt, float *uw, int64_t C, int64_t K, int64_t ustride, int64_t mr, const int m,
	  int64_t p0, int64_t p1, int swap, const int direct)
{
	enum { NXMAX = 36 };
	int64_t n = m + 2, nx = n * n, run = WT_CB * mr + 16;
	int stream = !direct && nx * ustride * (int64_t)sizeof(float) > WT_STREAM;
	__m512 tap[WT_CB * 9];
	float *rows = direct ? NULL : __builtin_alloca((size_t)(nx * run) * sizeof(float) + 64);

	rows = (float *)(((uintptr_t)rows + 63) & ~(uintptr_t)63);
	/* panel by panel, each panel's channels in order; a weight lying
	 * [C][K] block of channels by block, each block's panels in order,
	 * so its reads run along its rows (a panel's filters over every
	 * channel were rows 18 KB apart for ResNet's 512 x 512) */
	int64_t ncb = (C + WT_CB - 1) / WT_CB, npl = p1 - p0;
	for (int64_t it = 0; it < npl * ncb; it++) {
		int64_t p = swap & NNCC_CONV_SWAP_W ? p0 + it % npl : p0 + it / ncb;
		int64_t c0 = (swap & NNCC_CONV_SWAP_W ? it / npl : it % ncb) * WT_CB;
		for (int64_t a = it ? WT_AHEAD : 1; a <= WT_AHEAD && it + a < npl * ncb; a++) {
			int64_t q = it + a; /* the first step also fetches the ones before its distance */
			wt_prefetch(wt, C, K, mr, swap & NNCC_CONV_SWAP_W ? p0 + q % npl : p0 + q / ncb,
				    (swap & NNCC_CONV_SWAP_W ? q / npl : q % ncb) * WT_CB, swap);
		}
		int64_t cb = C - c0 < WT_CB ? C - c0 : WT_CB, nfl = cb * 9;
		for (int64_t l0 = 0; l0 < mr; l0 += 16) {
			int64_t f0 = p * mr + l0, nf = K - f0 < 16 ? K - f0 : 16;
			nf = nf < mr - l0 ? nf : mr - l0;
			__mmask16 live = (__mmask16)rt_lanes(0, mr - l0 < 16 ? mr - l0 : 16);
			for (int64_t cc = 0; (swap & NNCC_CONV_SWAP_W) && cc < cb; cc++) {
				/* planes [c][k]: channel c's 16 filters' taps are 144
				 * contiguous floats, 9 a filter: one transpose a channel */
				__m512 r[16];
				const float *src = wt + ((c0 + cc) * K + f0) * 9;
				for (int f = 0; f < 16; f++)
					r[f] = f < nf ? _mm512_maskz_loadu_ps(0x1ff, src + f * 9) : _mm512_setzero_ps();
				rt_tr16(r);
				for (int j = 0; j < 9; j++)
					tap[cc * 9 + j] = r[j];
			}
			for (int b = 0; !(swap & NNCC_CONV_SWAP_W) && b < 9; b++) {
				__m512 r[16];
				int64_t e = 16 * b;
				__mmask16 mk = (__mmask16)rt_lanes(0, nfl - e < 16 ? nfl - e : 16);
				for (int f = 0; f < 16; f++)
					r[f] = f < nf ? _mm512_maskz_loadu_ps(mk, wt + ((f0 + f) * C + c0) * 9 + e)
						      : _mm512_setzero_ps();
				rt_tr16(r);
				for (int j = 0; j < 16; j++)
					tap[e + j] = r[j];
			}
			for (int64_t cc = 0; cc < cb; cc++) {
				__m512 g[9], gg[6][3], o[NXMAX];
				for (int j = 0; j < 9; j++) /* FLIP_W: the taps reversed */
					g[j] = tap[cc * 9 + (swap & NNCC_CONV_FLIP_W ? 8 - j : j)];
				if (m == 4) {
					for (int j = 0; j < 3; j++)
						gt4(g[j], g[3 + j], g[6 + j], &gg[0][j], 3);
					for (int r = 0; r < 6; r++)
						gt4(gg[r][0], gg[r][1], gg[r][2], o + r * 6, 1);
				} else {
					for (int j = 0; j < 3; j++)
						gt2(g[j], g[3 + j], g[6 + j], &gg[0][j], 3);
					for (int r = 0; r < 4; r++)
						gt2(gg[r][0], gg[r][1], gg[r][2], o + r * 4, 1);
				}
				if (direct) /* lanes past mr: the next row's, or the product's pad */
					for (int xi = 0; xi < nx; xi++)
						_mm512_storeu_ps(uw + xi * ustride + (c0 + cc) * mr, o[xi]);
				else if (mr <= 16) /* lanes past mr: the next row's, stored after */
					for (int xi = 0; xi < nx; xi++)
						_mm512_storeu_ps(rows + xi * run + cc * mr, o[xi]);
				else
					for (int xi = 0; xi < nx; xi++)
						_mm512_mask_storeu_ps(rows + xi * run + cc * mr + l0, live, o[xi]);
			}
		}
		int64_t len = cb * mr;
		__mmask16 tail = (__mmask16)rt_lanes(0, len % 16);
		for (int xi = 0; !direct && xi < nx; xi++) {
			const float *src = rows + xi * run;
			float *dst = uw + xi * ustride + p * C * mr + c0 * mr;
			int64_t i = 0;
			if (stream && !((uintptr_t)dst & 63))
				for (; i + 16 <= len; i += 16)
					_mm512_stream_ps(dst + i, _mm512_load_ps(src + i));
			for (; i + 16 <= len; i += 16)
				_mm512_storeu_ps(dst + i, _mm512_load_ps(src + i));
			if (tail)
				_mm512_mask_storeu_ps(dst + i, tail, _mm512_load_ps(src + i));
		}
	}
}

__attribute__((target("avx512f"))) static void
weights_avx512(const float *wt, float *uw, int64_t C, int64_t K, int64_t ustride, int64_t mr, int m,
	       int64_t p0, int64_t p1, int swap, int direct)
{
	if (direct && m == 4)
		weights_m(wt, uw, C, K, ustride, mr, 4, p0, p1, swap, 1);
	else if (direct)
		weights_m(wt, uw, C, K, ustride, mr, 2, p0, p1, swap, 1);
	else if (m == 4)
		weights_m(wt, uw, C, K, ustride, mr, 4, p0, p1, swap, 0);
	else
		weights_m(wt, uw, C, K, ustride, mr, 2, p0, p1, swap, 0);
	_mm_sfence(); /* the streamed rows, before the GEMMs' threads read them */
}

void
rt_wino_weights(const float *wt, float *uw, int64_t C, int64_t K, int64_t kp, int64_t mr, int m,
		int64_t p0, int64_t p1, int swap)
{
	if (__builtin_cpu_supports("avx512f"))
		weights_avx512(wt, uw, C, K, kp * C, mr, m, p0, p1, swap, 0);
}

void
rt_wino_weights_panel(const float *wt, float *up, int64_t C, int64_t K, int64_t mr, int m, int64_t p, int swap)
{
	if (__builtin_cpu_supports("avx512f"))
		weights_avx512(wt, up, C, K, rt_wino_panel_stride(C, mr), mr, m, p, p + 1, swap, 1);
}

/* Part `part` of `parts` of filter panel p's taps into L2 (a fused
 * convolution's next panel, while this one's products run): filters
 * [p mr, p mr + mr) over every channel, one run of the weight's memory
 * (swapped, C runs of mr x 9 floats, a row apart; a part takes whole
 * runs). */
void
rt_wino_weights_prefetch(const float *wt, int64_t C, int64_t K, int64_t mr, int64_t p, int64_t part,
			 int64_t parts, int swap)
{
	int64_t f0 = p * mr, nf = K - f0 < mr ? K - f0 : mr, n = nf * C * 9;

	if (nf <= 0)
		return;
	if (swap & NNCC_CONV_SWAP_W)
		for (int64_t c = part * C / parts; c < (part + 1) * C / parts; c++)
			prefetch_run(wt + (c * K + f0) * 9, nf * 9, 1);
	else
		prefetch_run(wt + f0 * C * 9 + part * n / parts, (part + 1) * n / parts - part * n / parts, 1);
}
