/* conv_direct.c — direct 2-D convolution for few output channels, without
 * im2col: part of the kernel library (see kernels.c).
 *
 * When a convolution has few filters per group (kg <= DIRECT_MAX_KG), its
 * im2col copies cost about as much as its GEMM: each copied float feeds
 * only kg multiply-adds, and a GEMM of kg rows fills few of a tile's. Here
 * instead, for one image, a block of KB filters and one output row, the
 * accumulators hold KB x OW outputs (NV vectors of 16 per filter, KB * NV
 * <= 24 zmm registers); for every input channel and window tap the input
 * row, shifted by the tap, is loaded once (masked where it reads padding)
 * and multiplied into all KB filters. Stride and dilation 1, output rows
 * of at most 64, AVX-512 only; anything else takes the im2col path.
 *
 * Work splits into chunks of (image, filter block, run of output rows);
 * each output is summed by one chunk in one order, so the result does not
 * depend on the thread count. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include "conv_direct.h"

enum {
	DIRECT_MAX_KG = 64, /* filters per group at most */
	DIRECT_MAX_OW = 64, /* output row: four vectors at most (stride 1) */
	DIRECT_MAX_KW = 64, /* window columns at most */
	DIRECT_RUN_OW = 32, /* stride 2: output columns per run (two vectors) */
	DIRECT_S2_MAX_CG = 4, /* stride 2: input channels per group at most */
	ACROSS_MIN_TAPS = 25, /* rt_conv2d_lanes, a first layer: window taps at least (5x5) */
	ACROSS_MAX_HW = 64,   /* rt_conv2d_lanes, a small plane: output positions at most */
	ACROSS_MAX_K = 64,    /* rt_conv2d_lanes, a small plane: filters at most */
	ACCS = 24,          /* zmm accumulators */
};

/* fn(closure, ch) for ch in [0, n): on cx's threads when par, else in
 * order on this one (the pool runs a single chunk inline too). */
static void
for_chunks(const nncc_abi_ctx *cx, int par, void (*fn)(void *, int64_t), void *closure, int64_t n)
{
	if (par)
		cx->parallel_for(cx->pool, fn, closure, n);
	else
		for (int64_t ch = 0; ch < n; ch++)
			fn(closure, ch);
}

typedef struct Direct {
	const float *x, *w, *bias; /* input, weights, bias or NULL */
	float *y;                  /* output */
	int64_t C, H, W, K, OH, OW, KH, KW, PH, PW, G; /* nncc_rt_conv2d_f32's geometry */
	int64_t cg, kg, nv, kb; /* per group: channels, filters; vectors per run of columns; filters per block */
	int64_t nkb, ny, nx;    /* filter blocks per group; runs of rows, of columns per image and block */
	void (*fn)(const struct Direct *, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
		   int64_t); /* the kernel */
	const RtEpi *ep; /* the epilogue (canonical) of the outputs, or NULL */
} Direct;


/* One tap of one input channel: the input vectors (lane mask MASK(h) of
 * the h-th 16 input columns from xr) times the KB filters' weights at wt. */
#define DIRECT_TAP(S, NV, KB, MASK)                                                                \
	{                                                                                          \
		__m512 xv[NV];                                                                     \
		_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                                \
		{                                                                                  \
			if (S == 1)                                                                \
				xv[v] = _mm512_maskz_loadu_ps(MASK(v), xr + 16 * v);                \
			else                                                                       \
				xv[v] = _mm512_permutex2var_ps(                                    \
				    _mm512_maskz_loadu_ps(MASK(2 * v), xr + 32 * v), even,          \
				    _mm512_maskz_loadu_ps(MASK(2 * v + 1), xr + 32 * v + 16));      \
		}                                                                                  \
		_Pragma("GCC unroll 24") for (int f = 0; f < KB; f++)                               \
		{                                                                                  \
			__m512 wv = _mm512_set1_ps(wt[wof[f]]);                                    \
			_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[f][v] =             \
			    _mm512_fmadd_ps(wv, xv[v], acc[f][v]);                                 \
		}                                                                                  \
	}
#define DIRECT_ALL(h) 0xffff
#define DIRECT_MJ(h) mj[h]

/* The taps of one window row, every input channel: with stride 1 tap by
 * tap, the channels innermost (many, as a rule); with stride 2 (few
 * channels) channel by channel, the taps innermost, their masks read
 * from m, or none where every lane is inside the row. */
#define DIRECT_TAPS(S, NV, KB)                                                                     \
	if (S == 1) {                                                                              \
		for (int64_t j = 0; j < d->KW; j++) {                                              \
			const uint16_t *mj = m + j * S * NV;                                       \
			const float *xr = xc + j, *wt = wc + j;                                    \
			for (int64_t c = 0; c < d->cg; c++, xr += hw, wt += kk)                    \
				DIRECT_TAP(S, NV, KB, DIRECT_MJ)                                   \
		}                                                                                  \
	} else {                                                                                   \
		for (int64_t c = 0; c < d->cg; c++, xc += hw, wc += kk)                            \
			for (int64_t j = 0; j < d->KW; j++) {                                      \
				const uint16_t *mj = m + j * S * NV;                               \
				const float *xr = xc + j, *wt = wc + j;                            \
				if (inside)                                                        \
					DIRECT_TAP(S, NV, KB, DIRECT_ALL)                          \
				else                                                               \
					DIRECT_TAP(S, NV, KB, DIRECT_MJ)                           \
			}                                                                          \
	}

/* Output rows [y0, y1), columns [ox0, ox0 + 16 NV) of filters [k0, k0 +
 * kb) of image b, group g, kb <= KB; stride S (1 or 2) both ways. KB, NV
 * and S are constants, so the KB x NV accumulators live in registers
 * (every loop over them runs to a constant bound, so none indexes them at
 * run time); the filters past kb repeat the last one and are not stored.
 * With stride 2, a vector of 16 outputs reads 32 input columns: two
 * loads, and a permute that keeps the even lanes. */
#define DIRECT_ROWS(S, NV, KB)                                                                     \
	__attribute__((target("avx512f"))) static void direct##S##_##NV##x##KB(                     \
	    const Direct *d, int64_t b, int64_t g, int64_t k0, int64_t kb, int64_t y0, int64_t y1,  \
	    int64_t ox0)                                                                           \
	{                                                                                          \
		const int64_t hw = d->H * d->W, kk = d->KH * d->KW, wstride = d->cg * kk;          \
		const float *xg = d->x + (b * d->C + g * d->cg) * hw;                              \
		const float *wk = d->w + (g * d->kg + k0) * wstride;                               \
		float *yk = d->y + (b * d->K + g * d->kg + k0) * d->OH * d->OW + ox0;              \
		const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, \
						      6, 4, 2, 0);                                 \
		uint64_t out = rt_lanes(0, d->OW - ox0);                                            \
		const RtEpiRegs er = d->ep ? rt_epi_regs(d->ep) : (RtEpiRegs){0};                 \
		int64_t wof[KB];                                                                   \
		uint16_t m[DIRECT_MAX_KW * S * NV]; /* per tap column, the lanes inside the row */   \
		__m512 acc[KB][NV];                                                                \
		(void)even;                                                                        \
		for (int f = 0; f < KB; f++)                                                       \
			wof[f] = (f < kb ? f : kb - 1) * wstride;                                  \
		int inside = 1;                                                                    \
		for (int64_t j = 0; j < d->KW; j++)                                                \
			for (int h = 0; h < S * NV; h++) {                                         \
				m[j * S * NV + h] = rt_lanes_inside(ox0 * S + j - d->PW + 16 * h, d->W); \
				inside &= m[j * S * NV + h] == 0xffff;                             \
			}                                                                          \
		for (int64_t oy = y0; oy < y1; oy++) {                                             \
			_Pragma("GCC unroll 24") for (int f = 0; f < KB; f++)                       \
			{                                                                          \
				int64_t kf = g * d->kg + k0 + (f < kb ? f : kb - 1);               \
				__m512 b0 = _mm512_set1_ps(d->bias ? d->bias[kf] : 0.0f);          \
				_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[f][v] = b0; \
			}                                                                          \
			for (int64_t i = 0; i < d->KH; i++) {                                      \
				int64_t iy = oy * S - d->PH + i;                                   \
				if (iy < 0 || iy >= d->H)                                          \
					continue;                                                  \
				const float *xc = xg + iy * d->W + ox0 * S - d->PW;                \
				const float *wc = wk + i * d->KW;                                  \
				DIRECT_TAPS(S, NV, KB)                                             \
			}                                                                          \
			_Pragma("GCC unroll 24") for (int f = 0; f < KB; f++)                       \
			    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) if (f < kb)         \
			{                                                                          \
				float *q = yk + (f * d->OH + oy) * d->OW + 16 * v;                 \
				__mmask16 mk = (__mmask16)(out >> (16 * v));                        \
				_mm512_mask_storeu_ps(                                             \
				    q, mk, d->ep ? rt_epi_v(&er, acc[f][v], q, mk) : acc[f][v]);    \
			}                                                                          \
		}                                                                                  \
	}

typedef void (*DirectFn)(const Direct *, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);

#define DIRECT_SET(S)                                                                              \
	DIRECT_ROWS(S, 1, 2) DIRECT_ROWS(S, 1, 4) DIRECT_ROWS(S, 1, 6) DIRECT_ROWS(S, 1, 8)            \
	DIRECT_ROWS(S, 1, 12) DIRECT_ROWS(S, 1, 16) DIRECT_ROWS(S, 1, 24)                               \
	DIRECT_ROWS(S, 2, 2) DIRECT_ROWS(S, 2, 4) DIRECT_ROWS(S, 2, 6) DIRECT_ROWS(S, 2, 8)            \
	DIRECT_ROWS(S, 2, 12)                                                                      \
	DIRECT_ROWS(S, 3, 2) DIRECT_ROWS(S, 3, 4) DIRECT_ROWS(S, 3, 6) DIRECT_ROWS(S, 3, 8)            \
	DIRECT_ROWS(S, 4, 2) DIRECT_ROWS(S, 4, 4) DIRECT_ROWS(S, 4, 6)
DIRECT_SET(1)
DIRECT_SET(2)

/* The kernels by stride, vectors per row (1 to 4) and filters per block. */
#define DIRECT_FNS(S)                                                                              \
	{S, 1, 2, direct##S##_1x2}, {S, 1, 4, direct##S##_1x4}, {S, 1, 6, direct##S##_1x6},          \
	    {S, 1, 8, direct##S##_1x8}, {S, 1, 12, direct##S##_1x12}, {S, 1, 16, direct##S##_1x16},   \
	    {S, 1, 24, direct##S##_1x24}, {S, 2, 2, direct##S##_2x2}, {S, 2, 4, direct##S##_2x4},     \
	    {S, 2, 6, direct##S##_2x6}, {S, 2, 8, direct##S##_2x8}, {S, 2, 12, direct##S##_2x12},     \
	    {S, 3, 2, direct##S##_3x2}, {S, 3, 4, direct##S##_3x4}, {S, 3, 6, direct##S##_3x6},       \
	    {S, 3, 8, direct##S##_3x8}, {S, 4, 2, direct##S##_4x2}, {S, 4, 4, direct##S##_4x4},       \
	    {S, 4, 6, direct##S##_4x6}
static const struct {
	int s, nv, kb;
	DirectFn fn;
} direct_fns[] = {DIRECT_FNS(1), DIRECT_FNS(2)};

/* Chunk ch: (image, group, run of rows, filter block, run of columns),
 * columns fastest: a thread's run of chunks (rt_pool) is a band of rows
 * of every filter, as the next layer's im2col or GEMM tends to split
 * them, so that it finds them in its own core's cache (a VM's two vCPUs
 * may not share one: DCGAN's discriminator, 2 threads, 17% slower split
 * by filters). */
static void
direct_chunk(void *closure, int64_t ch)
{
	const Direct *d = closure;
	int64_t x = ch % d->nx, blk = ch / d->nx % d->nkb, r = ch / d->nx / d->nkb % d->ny;
	int64_t g = ch / d->nx / d->nkb / d->ny % d->G, b = ch / d->nx / d->nkb / d->ny / d->G;
	int64_t k0 = blk * d->kb, kb = d->kg - k0 < d->kb ? d->kg - k0 : d->kb;

	d->fn(d, b, g, k0, kb, r * d->OH / d->ny, (r + 1) * d->OH / d->ny, x * 16 * d->nv);
}

int
rt_conv2d_direct(const float *x, const float *w, const float *bias, float *y, const int64_t *p,
		 const nncc_abi_ctx *cx, const RtEpi *ep)
{
	int64_t N = p[0];
	Direct d = {
	    .x = x, .w = w, .bias = bias, .y = y, .C = p[1], .H = p[2], .W = p[3], .K = p[4],
	    .OH = p[5], .OW = p[6], .KH = p[7], .KW = p[8], .PH = p[11], .PW = p[12], .G = p[15],
	    .ep = rt_epi_on(ep) ? ep : NULL,
	};
	int64_t s = p[9];

	/* stride 1 and rows of at most 64; or stride 2, rows in runs of
	 * DIRECT_RUN_OW columns, few input channels (a network's first
	 * layer: its im2col copies a gather per float) */
	if (p[13] != 1 || p[14] != 1 || d.G <= 0 || d.KH * d.KW < 2 || d.KW > DIRECT_MAX_KW || p[10] != s ||
	    (s == 1 && (d.OW > DIRECT_MAX_OW || d.KW > d.OW)) ||
	    (s == 2 && (d.C / d.G > DIRECT_S2_MAX_CG || d.OW < 16)) || s > 2)
		return 0;
	d.cg = d.C / d.G;
	d.kg = d.K / d.G;
	if (d.kg > DIRECT_MAX_KG)
		return 0;
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f"))
		return 0;
	d.nv = s == 1 || d.OW <= 32 ? (d.OW + 15) / 16 : DIRECT_RUN_OW / 16;
	d.nx = (d.OW + 16 * d.nv - 1) / (16 * d.nv);
	/* the block that pads kg least to whole blocks; the widest on a tie */
	int64_t least = INT64_MAX;
	for (size_t i = 0; i < sizeof direct_fns / sizeof direct_fns[0]; i++) {
		int64_t kb = direct_fns[i].kb, padded = (d.kg + kb - 1) / kb * kb;
		if (direct_fns[i].s == s && direct_fns[i].nv == d.nv && padded <= least)
			least = padded, d.kb = kb, d.fn = direct_fns[i].fn;
	}
	d.nkb = (d.kg + d.kb - 1) / d.kb;
	/* enough chunks for every thread, a band of rows each at least,
	 * rows of at least 2 */
	int64_t blocks = N * d.G * d.nkb * d.nx, threads = cx && cx->parallel_for ? cx->nthreads : 1;
	d.ny = blocks >= 4 * threads ? 1 : (4 * threads + blocks - 1) / blocks;
	if (N * d.G < threads && d.ny < threads)
		d.ny = threads;
	if (d.ny > d.OH / 2)
		d.ny = d.OH / 2 > 0 ? d.OH / 2 : 1;
	int64_t nchunk = blocks * d.ny;
	for_chunks(cx, threads > 1 && N * d.K * d.OH * d.OW * d.cg * d.KH * d.KW >= RT_CONV_PAR_MIN_MACS,
		   direct_chunk, &d, nchunk);
	return 1;
}

/* --- filters across the lanes ---------------------------------------------------- */

/* Two kinds of convolution copy each input float to an im2col for few
 * products:
 * - a network's first layer (3 channels, a 7x7 or 11x11 window, stride 2
 *   or 4): per output position the window holds 147 to 363 products, and
 *   an im2col would copy each input float 12 to 30 times;
 * - small planes of few filters (DCGAN D's 4x4 stride-2 layers, 8x8 and
 *   4x4 outputs of 32 and 64 filters): the GEMM is a tile or two wide and
 *   its im2col costs as much as it.
 * Here the vectors run across 16 filters instead: for a block of NV x 16
 * filters and a step of R rows of P consecutive positions, the R x P x NV
 * accumulators take, per window tap and input channel, NV vector loads of
 * the packed weights and R x P broadcasts of input floats (no masks: the
 * input is first copied with its padding into the scratch). The packed
 * weights (tap-major, the filters innermost) are the session's weight
 * cache's for a constant, else packed into the scratch each call. Each
 * step's sums, P positions of 16 filters a row, leave through a 16 x 16
 * transpose as 16 runs of P outputs, one per filter (NCHW): they went by
 * scatters, into a stack buffer copied out per filter (the stem of
 * ResNet-18: 3.4 ms of its 13, the scatters some 20 cycles each). */
typedef struct Across {
	const float *x, *wp, *bias; /* input, packed weights (c, i, j) x kp */
	float *xp, *y;              /* padded images (C x hp x wpd each, xfl floats), output */
	int64_t C, H, W, K, OH, OW, KH, KW, S, PH, PW, hp, wpd, xfl, kp, nkb; /* kp: K padded to whole blocks */
	int64_t b0, rows, nrun; /* the block's first image; output rows per run, runs */
	void (*fn)(const struct Across *, int64_t, int64_t, int64_t);
	const RtEpi *ep; /* each run's rows through it once copied out */
} Across;

enum { ACROSS_RUN = 256 }; /* output positions per run (a chunk's rows) at most */

/* One step of R rows x P columns from output (oy, ox) of image xp,
 * filter block k0 (NV vectors of 16): the R x P x NV sums, from out's, in
 * registers over every tap, back to out. A function of its own: inside
 * the whole run's, GCC kept the weight vectors on the stack and reloaded
 * them for every product (DCGAN D's 8x8 layer 1.7 times as long). */
#define ACROSS_STEP(NV, R, P)                                                                       \
	__attribute__((target("avx512f"), noinline)) static void across_step_##NV##_##R##x##P(      \
	    const Across *d, const float *xp, int64_t oy, int64_t ox, int64_t k0, __m512 *out)       \
	{                                                                                          \
		const int64_t S = d->S, rs = S * d->wpd, cs = d->hp * d->wpd, ws = d->KH * d->KW * d->kp; \
		__m512 acc[R][P][NV];                                                              \
		_Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                 \
		    _Pragma("GCC unroll 24") for (int q = 0; q < P; q++)                            \
			_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[r][q][v] =          \
			    out[(r * P + q) * NV + v];                                             \
		for (int64_t i = 0; i < d->KH; i++)                                                \
			for (int64_t j = 0; j < d->KW; j++) {                                      \
				const float *xr = xp + (oy * S + i) * d->wpd + ox * S + j;         \
				const float *wr = d->wp + (i * d->KW + j) * d->kp + k0;            \
				for (int64_t c = 0; c < d->C; c++, xr += cs, wr += ws) {           \
					__m512 wv[NV];                                             \
					_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) wv[v] = \
					    _mm512_loadu_ps(wr + 16 * v);                          \
					_Pragma("GCC unroll 8") for (int r = 0; r < R; r++)          \
					    _Pragma("GCC unroll 24") for (int q = 0; q < P; q++)     \
					{                                                          \
						__m512 xb = _mm512_set1_ps(xr[r * rs + q * S]);    \
						_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) \
						    acc[r][q][v] = _mm512_fmadd_ps(wv[v], xb, acc[r][q][v]); \
					}                                                          \
				}                                                                  \
			}                                                                          \
		_Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                 \
		    _Pragma("GCC unroll 24") for (int q = 0; q < P; q++)                            \
			_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) out[(r * P + q) * NV + v] = \
			    acc[r][q][v];                                                          \
	}

/* p positions' sums of 16 filters (a[q * st], lanes over the filters)
 * as each filter's run of p outputs at y + l * plane, the first n of them
 * (the plane's edge) and the filters of mask km. */
__attribute__((target("avx512f"))) static inline void
across_put(const __m512 *a, int st, int p, int64_t n, __mmask16 km, float *y, int64_t plane)
{
	__m512 t[16];

	for (int q = 0; q < 16; q++)
		t[q] = q < p ? a[q * st] : _mm512_setzero_ps();
	rt_tr16(t);
	__mmask16 pm = (__mmask16)rt_lanes(0, n < p ? n : p);
	for (int l = 0; l < 16; l++)
		if (km >> l & 1)
			_mm512_mask_storeu_ps(y + l * plane, pm, t[l]);
}

/* Output rows of run `run` (d->rows, whole steps of R) of image img of
 * the block, filter block blk (NV vectors of 16), step by step; each
 * step's sums start from the biases, and each row's P positions of 16
 * filters are turned by a 16 x 16 transpose into 16 runs of P outputs,
 * one per filter, stored in place; the run's rows then go through the
 * epilogue. */
#define ACROSS_ROWS(NV, R, P)                                                                       \
	ACROSS_STEP(NV, R, P)                                                                       \
	__attribute__((target("avx512f"))) static void across_##NV##_##R##x##P(                     \
	    const Across *d, int64_t img, int64_t run, int64_t blk)                               \
	{                                                                                          \
		const int64_t k0 = blk * 16 * NV, plane = d->OH * d->OW;                           \
		const float *xp = d->xp + img * d->xfl;                                            \
		float *y = d->y + (d->b0 + img) * d->K * plane;                                    \
		const int64_t r0 = run * d->rows, r1 = r0 + d->rows < d->OH ? r0 + d->rows : d->OH; \
		const int64_t len = (r1 - r0) * d->OW; /* floats of a filter's rows in the run */  \
		__m512 acc[R * P * NV], b0[NV];                                                    \
		__mmask16 km[NV];                                                                  \
		for (int v = 0; v < NV; v++) {                                                     \
			km[v] = (__mmask16)rt_lanes(0, d->K - k0 - 16 * v < 16 ? d->K - k0 - 16 * v : 16); \
			b0[v] = d->bias ? _mm512_maskz_loadu_ps(km[v], d->bias + k0 + 16 * v)         \
					: _mm512_setzero_ps();                                     \
		}                                                                                  \
		for (int64_t oy = r0; oy < r1; oy += R)                                            \
			for (int64_t ox = 0; ox < d->OW; ox += P) {                                \
				for (int e = 0; e < R * P * NV; e++)                               \
					acc[e] = b0[e % NV];                                       \
				across_step_##NV##_##R##x##P(d, xp, oy, ox, k0, acc);              \
				for (int r = 0; r < R && oy + r < r1; r++)                         \
					for (int v = 0; v < NV; v++)                               \
						for (int q0 = 0; q0 < P && ox + q0 < d->OW; q0 += 16) \
							across_put(acc + (r * P + q0) * NV + v, NV, \
								   P - q0 < 16 ? P - q0 : 16,       \
								   d->OW - ox - q0, km[v],          \
								   y + (k0 + 16 * v) * plane +       \
								       (oy + r) * d->OW + ox + q0,   \
								   plane);                          \
			}                                                                          \
		if (d->ep)                                                                         \
			for (int64_t k = k0; k < k0 + 16 * NV && k < d->K; k++)                    \
				rt_epi_rows(d->ep, y + k * plane + r0 * d->OW, len, 1, len);       \
	}

ACROSS_ROWS(4, 1, 6) ACROSS_ROWS(3, 1, 8) ACROSS_ROWS(2, 1, 12) ACROSS_ROWS(2, 1, 8)
ACROSS_ROWS(2, 1, 4) ACROSS_ROWS(1, 1, 24) ACROSS_ROWS(1, 1, 16) ACROSS_ROWS(1, 1, 8)
ACROSS_ROWS(2, 2, 4) ACROSS_ROWS(2, 3, 4) ACROSS_ROWS(1, 4, 4) ACROSS_ROWS(1, 6, 4)
ACROSS_ROWS(1, 2, 8) ACROSS_ROWS(1, 3, 8)

/* The kernels by filter vectors, rows and columns per step. Four vectors
 * of four positions, or three, ran 1.3 to 1.7 times as long as two of
 * four (DCGAN D's 4x4 planes of 32 and 64 filters). */
static const struct {
	int nv, r, p;
	void (*fn)(const Across *, int64_t, int64_t, int64_t);
} across_fns[] = {
    {4, 1, 6, across_4_1x6}, {3, 1, 8, across_3_1x8}, {2, 1, 12, across_2_1x12},
    {2, 1, 8, across_2_1x8}, {2, 1, 4, across_2_1x4}, {1, 1, 24, across_1_1x24},
    {1, 1, 16, across_1_1x16}, {1, 1, 8, across_1_1x8}, {2, 2, 4, across_2_2x4},
    {2, 3, 4, across_2_3x4}, {1, 4, 4, across_1_4x4}, {1, 6, 4, across_1_6x4},
    {1, 2, 8, across_1_2x8}, {1, 3, 8, across_1_3x8},
};

/* Chunk ch: (image of the block, run of output rows, filter block),
 * blocks fastest. */
static void
across_chunk(void *closure, int64_t ch)
{
	const Across *d = closure;

	d->fn(d, ch / d->nkb / d->nrun, ch / d->nkb % d->nrun, ch % d->nkb);
}

/* Chunk img: the padded copy of image b0 + img, its planes at row PH,
 * column PW of C planes hp x wpd, zeros around (the rows and columns past
 * the input are read for positions past the plane, not stored). */
static void
across_pad(void *closure, int64_t img)
{
	const Across *d = closure;
	const float *x = d->x + (d->b0 + img) * d->C * d->H * d->W;
	float *xp = d->xp + img * d->xfl;
	int64_t w = d->W < d->wpd - d->PW ? d->W : d->wpd - d->PW; /* the columns that fit */

	memset(xp, 0, (size_t)d->xfl * sizeof(float));
	for (int64_t c = 0; c < d->C; c++)
		for (int64_t iy = 0; iy < d->H && iy + d->PH < d->hp; iy++)
			memcpy(xp + (c * d->hp + iy + d->PH) * d->wpd + d->PW, x + (c * d->H + iy) * d->W,
			       (size_t)w * sizeof(float));
}

enum { ACROSS_TAG = 0x4c }; /* weight cache tag: packed (c, i, j) x kp */

/* Whether the convolution takes the lanes: one group, dilation 1, one
 * stride both ways, output rows of at most ACROSS_RUN, at least 16
 * filters, and either a first layer's wide window (at most 4 channels,
 * 25 taps or more) or a small plane of few filters, its window no wider
 * than the plane. */
static int
across_fits(const int64_t *p)
{
	int64_t C = p[1], K = p[4], OH = p[5], OW = p[6], KH = p[7], KW = p[8], S = p[9];

	if (p[10] != S || S < 1 || S > 4 || p[13] != 1 || p[14] != 1 || p[15] != 1 || K < 16 ||
	    OW > ACROSS_RUN)
		return 0;
	if (C <= NNCC_ABI_LANES_MAX_C && KH * KW >= ACROSS_MIN_TAPS)
		return 1;
	/* not a window wider than the output (a weight gradient: its own
	 * paths; LeNet's training step on two threads was 10% slower here) */
	return OH * OW <= ACROSS_MAX_HW && K <= ACROSS_MAX_K && KH * KW > 1 && KW <= OW;
}

int
rt_conv2d_lanes(const float *x, const float *w, const float *bias, float *y, float *scratch, int64_t room,
		const int64_t *p, const nncc_abi_ctx *cx, const RtEpi *ep)
{
	int64_t N = p[0], C = p[1], H = p[2], W = p[3], K = p[4], OH = p[5], OW = p[6], KH = p[7];
	int64_t KW = p[8], S = p[9], PH = p[11], PW = p[12];
	Across d = {.bias = bias, .C = C, .H = H, .W = W, .K = K, .OH = OH, .OW = OW, .KH = KH, .KW = KW,
		    .S = S, .PH = PH, .PW = PW, .ep = ep};

	if (!scratch || !across_fits(p))
		return 0;
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f"))
		return 0;
	/* the kernel of the least cost: per step and tap, R x P x NV
	 * multiply-adds or NV + R x P loads, whichever take longer (two of
	 * either a cycle); the first in the table on a tie */
	int64_t taps = C * KH * KW, nv = 0, rr = 0, pq = 0, least = 0;
	for (size_t i = 0; i < sizeof across_fns / sizeof across_fns[0]; i++) {
		int64_t v = across_fns[i].nv, r = across_fns[i].r, q = across_fns[i].p;
		if (r > ACROSS_RUN / OW) /* a run holds a step's rows */
			continue;
		int64_t steps = (OH + r - 1) / r * ((OW + q - 1) / q) * ((K + 16 * v - 1) / (16 * v));
		int64_t cost = steps * (r * q * v > v + r * q ? r * q * v : v + r * q);
		if (!d.fn || cost < least)
			least = cost, d.fn = across_fns[i].fn, nv = v, rr = r, pq = q;
	}
	d.nkb = (K + 16 * nv - 1) / (16 * nv);
	d.kp = d.nkb * 16 * nv; /* whole blocks: the last one's loads stay inside */
	d.rows = ACROSS_RUN / OW / rr * rr;
	/* the padded input covers every position's window, and the last step's
	 * positions past the plane (read, not stored) */
	d.hp = ((OH + rr - 1) / rr * rr - 1) * S + KH;
	d.wpd = ((OW + pq - 1) / pq * pq - 1) * S + KW;
	int64_t wfl = taps * d.kp, fresh = 1;
	float *wp = NULL;
	d.xfl = C * d.hp * d.wpd;
	if (cx && cx->wcache) {
		int f = 0;
		uint64_t tag = (uint64_t)ACROSS_TAG << 56 | (uint64_t)d.kp << 32 | (uint64_t)taps;
		wp = cx->wcache(cx->wcache_owner, w, tag, wfl * (int64_t)sizeof(float), &f);
		fresh = !wp || f; /* declined (not a constant): packed into the scratch */
	}
	if (!wp) /* the weights packed into the scratch, after the images */
		room -= wfl;
	int64_t nb = room / d.xfl; /* padded images at a time */
	if (nb < 1)
		return 0;
	nb = nb < N ? nb : N;
	if (!wp)
		wp = scratch + nb * d.xfl;
	if (fresh)
		for (int64_t k = 0; k < d.kp; k++) /* wp[(c, i, j)][k] = w[k][c][i][j] */
			for (int64_t t = 0; t < taps; t++)
				wp[t * d.kp + k] = k < K ? w[k * taps + t] : 0.0f;
	d.x = x, d.xp = scratch, d.wp = wp, d.y = y;
	d.nrun = (OH + d.rows - 1) / d.rows;
	int64_t threads = cx && cx->parallel_for ? cx->nthreads : 1;
	for (d.b0 = 0; d.b0 < N; d.b0 += nb) {
		int64_t n = N - d.b0 < nb ? N - d.b0 : nb, nchunk = n * d.nrun * d.nkb;
		int par = threads > 1 && nchunk > 1 && n * K * OH * OW * taps >= RT_CONV_PAR_MIN_MACS;
		for_chunks(cx, par, across_pad, &d, n);
		for_chunks(cx, par, across_chunk, &d, nchunk);
	}
	return 1;
}

/* --- wide convolutions (weight gradients) -------------------------------------- */

/* A wide convolution: the window (a whole output adjoint, KH x KW) is
 * wider than the few output positions (the weight's taps, OH x OW). Here
 * the window's rows are the vectors: for one image b, output row oy and a
 * block of KB filters, the accumulators hold KB x OW_ sums of products of
 * a filter row (the adjoint row) and the input row shifted by ox, each a
 * vector over the window's columns (NV vectors of 16), reduced across the
 * lanes at the end. No im2col, no GEMM. Stride and dilation 1; chunks of
 * (image, group, filter block, output row). */
typedef struct WideDirect {
	const float *x, *w, *bias; /* input, weights (the adjoints), bias or NULL */
	float *y;                  /* output (the weight gradient's taps) */
	int64_t C, H, W, K, OH, OW, KH, KW, PH, PW, G; /* nncc_rt_conv2d_f32's geometry */
	int64_t cg, kg, nkb;       /* per group: channels, filters, filter blocks */
	void (*fn)(const struct WideDirect *, int64_t, int64_t, int64_t, int64_t, int64_t); /* the kernel */
	int kb;                    /* filters per block */
} WideDirect;

#define WIDE_ROW(NV, OWC, KB)                                                                      \
	__attribute__((target("avx512f"))) static void wide_##NV##_##OWC##_##KB(                    \
	    const WideDirect *d, int64_t b, int64_t g, int64_t k0, int64_t kb, int64_t oy)               \
	{                                                                                          \
		const int64_t hw = d->H * d->W, kk = d->KH * d->KW;                                \
		const float *xg = d->x + (b * d->C + g * d->cg) * hw;                              \
		int64_t wof[KB];                                                                   \
		uint32_t m[OWC][NV], wm[NV];                                                       \
		__m512 acc[KB][OWC];                                                               \
		for (int f = 0; f < KB; f++)                                                       \
			wof[f] = (g * d->kg + k0 + (f < kb ? f : kb - 1)) * d->cg * kk;            \
		_Pragma("GCC unroll 8") for (int ox = 0; ox < OWC; ox++)                            \
		    _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                              \
		{ /* window columns wx = 16v + lane with 0 <= ox + wx - PW < W */                   \
			int64_t base = ox + 16 * v - d->PW;                                        \
			uint64_t in = rt_lanes(base < 0 ? -base : 0, d->W - base);                  \
			wm[v] = (uint32_t)(rt_lanes(0, d->KW - 16 * v) & 0xffff);                   \
			m[ox][v] = (uint32_t)in & wm[v];                                           \
		}                                                                                  \
		_Pragma("GCC unroll 24") for (int f = 0; f < KB; f++)                               \
		    _Pragma("GCC unroll 8") for (int ox = 0; ox < OWC; ox++) acc[f][ox] =             \
			_mm512_setzero_ps();                                                       \
		for (int64_t c = 0; c < d->cg; c++)                                                \
			for (int64_t wy = 0; wy < d->KH; wy++) {                                   \
				int64_t iy = oy + wy - d->PH;                                      \
				if (iy < 0 || iy >= d->H)                                          \
					continue;                                                  \
				const float *xr = xg + c * hw + iy * d->W - d->PW;                 \
				const float *wr = d->w + c * kk + wy * d->KW;                      \
				_Pragma("GCC unroll 4") for (int v = 0; v < NV; v++)                \
				{                                                                  \
					__m512 wv[KB], xv[OWC];                                    \
					_Pragma("GCC unroll 24") for (int f = 0; f < KB; f++) wv[f] = \
					    _mm512_maskz_loadu_ps((__mmask16)wm[v], wr + wof[f] + 16 * v); \
					_Pragma("GCC unroll 8") for (int ox = 0; ox < OWC; ox++)     \
					    xv[ox] = _mm512_maskz_loadu_ps((__mmask16)m[ox][v],      \
									  xr + ox + 16 * v);       \
					_Pragma("GCC unroll 24") for (int f = 0; f < KB; f++)        \
					    _Pragma("GCC unroll 8") for (int ox = 0; ox < OWC; ox++)  \
						acc[f][ox] = _mm512_fmadd_ps(wv[f], xv[ox], acc[f][ox]); \
				}                                                                  \
			}                                                                          \
		_Pragma("GCC unroll 24") for (int f = 0; f < KB; f++)                               \
		    _Pragma("GCC unroll 8") for (int ox = 0; ox < OWC; ox++) if (f < kb)              \
		{                                                                                  \
			int64_t kf = g * d->kg + k0 + f;                                           \
			d->y[((b * d->K + kf) * d->OH + oy) * d->OW + ox] =                        \
			    _mm512_reduce_add_ps(acc[f][ox]) + (d->bias ? d->bias[kf] : 0.0f);     \
		}                                                                                  \
	}

WIDE_ROW(1, 3, 8) WIDE_ROW(2, 3, 4)
WIDE_ROW(1, 5, 4) WIDE_ROW(2, 5, 2)
WIDE_ROW(1, 7, 3) WIDE_ROW(2, 7, 1)

/* The kernels by vectors per window row (1 or 2) and output columns.
 * Wider windows take the im2col GEMM (wide_conv): with 3 or 4 vectors a
 * row, few filters fit the registers, every product costs a load, and
 * ResNet-18's 56-wide weight gradients made its training step 6% slower
 * (0.92 against 0.86 s on one thread; with 8 filters a block, 2 before). */
static const struct {
	int nv, ow, kb;
	void (*fn)(const WideDirect *, int64_t, int64_t, int64_t, int64_t, int64_t);
} wide_fns[] = {
    {1, 3, 8, wide_1_3_8}, {2, 3, 4, wide_2_3_4}, {1, 5, 4, wide_1_5_4},
    {2, 5, 2, wide_2_5_2}, {1, 7, 3, wide_1_7_3}, {2, 7, 1, wide_2_7_1},
};

/* Chunk ch: (image, group, filter block, output row), rows fastest. */
static void
wdirect_chunk(void *closure, int64_t ch)
{
	const WideDirect *d = closure;
	int64_t oy = ch % d->OH, blk = ch / d->OH % d->nkb, g = ch / d->OH / d->nkb % d->G;
	int64_t b = ch / d->OH / d->nkb / d->G, k0 = blk * d->kb;

	d->fn(d, b, g, k0, d->kg - k0 < d->kb ? d->kg - k0 : d->kb, oy);
}

int
rt_conv2d_wide_direct(const float *x, const float *w, const float *bias, float *y,
		      const int64_t *p, const nncc_abi_ctx *cx)
{
	int64_t N = p[0];
	WideDirect d = {
	    .x = x, .w = w, .bias = bias, .y = y, .C = p[1], .H = p[2], .W = p[3], .K = p[4],
	    .OH = p[5], .OW = p[6], .KH = p[7], .KW = p[8], .PH = p[11], .PW = p[12], .G = p[15],
	};

	if (p[9] != 1 || p[10] != 1 || p[13] != 1 || p[14] != 1 || d.G <= 0 || d.KW > 32)
		return 0;
	d.cg = d.C / d.G;
	d.kg = d.K / d.G;
	if (d.kg > DIRECT_MAX_KG) /* many filters: a GEMM of that many rows does better */
		return 0;
	int nv = (int)((d.KW + 15) / 16);
	for (size_t i = 0; i < sizeof wide_fns / sizeof wide_fns[0]; i++)
		if (wide_fns[i].nv == nv && wide_fns[i].ow == d.OW)
			d.fn = wide_fns[i].fn, d.kb = wide_fns[i].kb;
	if (!d.fn)
		return 0;
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f"))
		return 0;
	d.nkb = (d.kg + d.kb - 1) / d.kb;
	int64_t nchunk = N * d.G * d.nkb * d.OH;
	int64_t threads = cx && cx->parallel_for ? cx->nthreads : 1;
	for_chunks(cx, threads > 1 && nchunk > 1 && d.K * d.OH * d.OW * d.cg * d.KH * d.KW >= (1 << 17),
		   wdirect_chunk, &d, nchunk);
	return 1;
}
