/* depthwise.c — 2-D depthwise convolutions (one input channel per group)
 * computed directly, without im2col or GEMM: part of the kernel library
 * (see kernels.c, which calls rt_conv2d_depthwise for them).
 *
 * A 3x3 window of strides (1, 1) or (2, 2) with AVX-512 takes dw3_planes
 * (output rows in blocks, each input row loaded once for the rows it
 * feeds); other windows with AVX-512 and strides 1 or 2 depthwise_avx512
 * (each output row in passes of up to 4 vectors); anything else a scalar
 * loop. The two vector kernels sum in the same order and give the same
 * bits. Threads take runs of whole planes, so the result does not depend
 * on the thread count. */
#include <stddef.h>
#include <stdint.h>

#include <immintrin.h>

#include "conv_direct.h"
#include "depthwise.h"
#include "kernel_util.h"

/* The geometry of nncc_rt_conv2d_f32 a depthwise convolution needs. */
typedef struct Dwc {
	int64_t C, H, W, K, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW;
	int64_t kg, hw; /* filters per input channel; output plane */
	const RtEpi *ep; /* the epilogue (canonical) of the outputs, or NULL */
} Dwc;

enum {
	DW_VECS = 4,    /* output vectors of 16 a depthwise pass keeps in registers */
	DW_MAX_KW = 16, /* window columns at most (depthwise_avx512) */
};

/* The lanes l < n of 16 (or 32) whose input column base + l*sw lies in
 * [0, w), as a mask: [lo, hi) with lo = ceil(-base/sw), hi = ceil((w - base)/sw). */
static inline uint32_t
dw_lanes(int64_t base, int64_t sw, int64_t w, int64_t n)
{
	int64_t lo = base < 0 ? (-base + sw - 1) / sw : 0, hi = w - base <= 0 ? 0 : (w - base + sw - 1) / sw;

	return (uint32_t)rt_lanes(lo, hi < n ? hi : n);
}

/* The depthwise planes [o0, o1) of one image with AVX-512, for strides
 * 1 and 2: each output row in passes of up to DW_VECS vectors of 16
 * columns, the window's taps multiplied into all of them (independent
 * accumulators); a tap's input vector is a masked load (stride 2: two
 * loads and a permute picking the even columns). */
__attribute__((target("avx512f"))) static void
depthwise_avx512(const Dwc *v, const float *x, const float *w, const float *bias, float *y,
		 int64_t o0, int64_t o1)
{
	const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
	const RtEpiRegs er = v->ep ? rt_epi_regs(v->ep) : (RtEpiRegs){0};

	for (int64_t o = o0; o < o1; o++) {
		const float *xc = x + o / v->kg * v->H * v->W, *wo = w + o * v->KH * v->KW;
		float *yo = y + o * v->hw;
		__m512 b = _mm512_set1_ps(bias ? bias[o] : 0.0f);
		for (int64_t ox0 = 0; ox0 < v->OW; ox0 += 16 * DW_VECS) {
			uint32_t m[DW_MAX_KW][DW_VECS]; /* per tap column and vector: the lanes in range */
			int nv = (int)((v->OW - ox0 + 15) / 16);
			if (nv > DW_VECS)
				nv = DW_VECS;
			for (int64_t j = 0; j < v->KW; j++)
				for (int k = 0; k < nv; k++) {
					int64_t ox = ox0 + 16 * k, base = ox * v->SW - v->PW + j * v->DW;
					m[j][k] = dw_lanes(base, 1, v->W, v->SW * (v->OW - ox));
				}
			for (int64_t oy = 0; oy < v->OH; oy++) {
				__m512 acc[DW_VECS];
#pragma GCC unroll 4
				for (int k = 0; k < DW_VECS; k++)
					acc[k] = b;
				for (int64_t i = 0; i < v->KH; i++) {
					int64_t iy = oy * v->SH - v->PH + i * v->DH;
					if (iy < 0 || iy >= v->H)
						continue;
					const float *xr = xc + iy * v->W + ox0 * v->SW - v->PW;
					for (int64_t j = 0; j < v->KW; j++) {
						__m512 wv = _mm512_set1_ps(wo[i * v->KW + j]);
						const float *xj = xr + j * v->DW;
#pragma GCC unroll 4
						for (int k = 0; k < DW_VECS; k++) {
							__m512 xv;
							if (k >= nv) /* constant bounds: acc stays in registers */
								break;
							if (v->SW == 1) {
								xv = _mm512_maskz_loadu_ps((__mmask16)m[j][k], xj + 16 * k);
							} else { /* input columns 32k .. 32k + 31, the even ones */
								__m512 lo = _mm512_maskz_loadu_ps((__mmask16)m[j][k], xj + 32 * k);
								__m512 hi = _mm512_maskz_loadu_ps((__mmask16)(m[j][k] >> 16),
												  xj + 32 * k + 16);
								xv = _mm512_permutex2var_ps(lo, even, hi);
							}
							acc[k] = _mm512_fmadd_ps(wv, xv, acc[k]);
						}
					}
				}
#pragma GCC unroll 4
				for (int k = 0; k < DW_VECS; k++) {
					int64_t ox = ox0 + 16 * k, n = v->OW - ox < 16 ? v->OW - ox : 16;
					if (k >= nv)
						break;
					float *q = yo + oy * v->OW + ox;
					__mmask16 mk = (__mmask16)((1u << n) - 1);
					__m512 out = v->ep ? rt_epi_v(&er, acc[k], q, mk) : acc[k];
					_mm512_mask_storeu_ps(q, mk, out);
				}
			}
		}
	}
}

enum {
	DW3_MAX_VECS = 64, /* output vectors of 16 in a row of the 3x3 kernel at most */
	DW3_ROWS = 4,      /* output rows a stride-1 block of the 3x3 kernel sums at once */
};

/* The geometry of a 3x3 depthwise plane that dw3_block needs: for each
 * tap column j and output vector k, the lanes whose input column lies in
 * the row (m: one bit per input float the vector reads, 32 at stride 2),
 * whether all three taps and the store of vector k are whole (full), the
 * store mask of the last vector. */
typedef struct Dw3 {
	uint32_t m[3][DW3_MAX_VECS];
	uint8_t full[DW3_MAX_VECS];
	int inner; /* all vectors but the first and the last are whole */
	int64_t nv;
	__mmask16 last;
	const RtEpi *ep; /* Dwc's */
	RtEpiRegs er;    /* its registers, when ep */
} Dw3;

/* A tap row's three input vectors x[0..2] for 16 output columns from xp
 * (tap 0's first input column): at stride 1 three loads; at stride 2 the
 * even and the odd floats of the 32 from xp (taps 0 and 1), and the even
 * ones of the 32 from xp + 2 (tap 2). Masked loads (lanes outside the
 * row read 0; m: the taps' masks) unless the vector is whole. */
__attribute__((target("avx512f"), always_inline)) static inline void
dw3_load(__m512 xv[3], const float *xp, const uint32_t m[3], const int sw, const int masked)
{
	const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);

	if (sw == 1) {
#pragma GCC unroll 3
		for (int j = 0; j < 3; j++)
			xv[j] = masked ? _mm512_maskz_loadu_ps((__mmask16)m[j], xp + j) : _mm512_loadu_ps(xp + j);
		return;
	}
#pragma GCC unroll 2
	for (int j = 0; j < 3; j += 2) { /* tap 0's mask covers tap 1's odd floats */
		__m512 lo = masked ? _mm512_maskz_loadu_ps((__mmask16)m[j], xp + j) : _mm512_loadu_ps(xp + j);
		__m512 hi = masked ? _mm512_maskz_loadu_ps((__mmask16)(m[j] >> 16), xp + j + 16)
				   : _mm512_loadu_ps(xp + j + 16);
		xv[j] = _mm512_permutex2var_ps(lo, even, hi);
		if (j == 0)
			xv[1] = _mm512_permutex2var_ps(lo, odd, hi);
	}
}

/* A block of nr output rows (row stride ow) by nq output vectors of 16
 * columns (from vector k, input column c0 for its tap 0) of a 3x3
 * depthwise plane with row stride sh: the (nr - 1) * sh + 3 input rows
 * r[t] (NULL: a padding row, its taps skipped) are read once each, every
 * tap's vector multiplied into the output rows that use it. nr, nq, sw,
 * sh and masked are constants once inlined, so the nr x nq sums stay in
 * registers. The loads are masked if masked, else the vectors are whole. Each output's sum runs from the
 * bias through the taps in window order, row by row, as in
 * depthwise_avx512: the same bits whatever the block. */
__attribute__((target("avx512f"), always_inline)) static inline void
dw3_block(const float *const *r, const __m512 wv[9], __m512 b, const Dw3 *d, int64_t k, int64_t c0,
	  float *y, int64_t ow, const int nr, const int nq, const int sw, const int sh, const int masked)
{
	__m512 acc[DW3_ROWS][4];

#pragma GCC unroll 8
	for (int i = 0; i < nr; i++)
#pragma GCC unroll 8
		for (int q = 0; q < nq; q++)
			acc[i][q] = b;
#pragma GCC unroll 16
	for (int t = 0; t < (nr - 1) * sh + 3; t++) {
		if (!r[t])
			continue;
#pragma GCC unroll 8
		for (int q = 0; q < nq; q++) {
			uint32_t m[3] = {d->m[0][k + q], d->m[1][k + q], d->m[2][k + q]};
			__m512 xv[3];
			dw3_load(xv, r[t] + c0 + 16 * sw * q, m, sw, masked);
#pragma GCC unroll 8
			for (int i = 0; i < nr; i++)
#pragma GCC unroll 3
				for (int j = 0; j < 3; j++) {
					int tap = t - sh * i; /* the window row of input row t */
					if (tap >= 0 && tap < 3)
						acc[i][q] = _mm512_fmadd_ps(wv[3 * tap + j], xv[j], acc[i][q]);
				}
		}
	}
#pragma GCC unroll 8
	for (int i = 0; i < nr; i++)
#pragma GCC unroll 8
		for (int q = 0; q < nq; q++) {
			float *p = y + i * ow + 16 * (k + q);
			__mmask16 mk = k + q == d->nv - 1 ? d->last : (__mmask16)0xffff;
			_mm512_mask_storeu_ps(p, mk, d->ep ? rt_epi_v(&d->er, acc[i][q], p, mk) : acc[i][q]);
		}
}

/* n (1 to 4, at run time) vectors from k: the block of that many. */
__attribute__((target("avx512f"), always_inline)) static inline void
dw3_some(const float *const *r, const __m512 wv[9], __m512 b, const Dw3 *d, int64_t k, int64_t pw,
	 float *y, int64_t ow, int64_t n, const int nr, const int sw, const int sh, const int masked)
{
	int64_t c0 = 16 * k * sw - pw;

	switch (n) {
	case 4:
		dw3_block(r, wv, b, d, k, c0, y, ow, nr, 4, sw, sh, masked);
		break;
	case 3:
		dw3_block(r, wv, b, d, k, c0, y, ow, nr, 3, sw, sh, masked);
		break;
	case 2:
		dw3_block(r, wv, b, d, k, c0, y, ow, nr, 2, sw, sh, masked);
		break;
	case 1:
		dw3_block(r, wv, b, d, k, c0, y, ow, nr, 1, sw, sh, masked);
		break;
	}
}

/* nr output rows (input rows r[0 ..]) of a plane, across: a row of at
 * most four vectors in one block with masked loads; a wider one with its
 * first and last vectors alone, masked if they are not whole, the whole
 * ones between in groups of four, then the rest, without masks. */
__attribute__((target("avx512f"), always_inline)) static inline void
dw3_rows(const float *const *r, const __m512 wv[9], __m512 b, const Dw3 *d, int64_t pw, float *y,
	 int64_t ow, const int nr, const int sw, const int sh)
{
	int64_t k = 0, end = d->nv;

	if (d->nv <= 4) { /* a narrow row: one block, masked */
		dw3_some(r, wv, b, d, 0, pw, y, ow, d->nv, nr, sw, sh, 1);
		return;
	}
	if (!d->inner) { /* some vector inside is not whole: one at a time */
		for (; k < end; k++)
			dw3_some(r, wv, b, d, k, pw, y, ow, 1, nr, sw, sh, 1);
		return;
	}
	if (!d->full[0])
		dw3_some(r, wv, b, d, k++, pw, y, ow, 1, nr, sw, sh, 1);
	if (end > k && !d->full[end - 1])
		end--;
	for (; k + 4 <= end; k += 4)
		dw3_some(r, wv, b, d, k, pw, y, ow, 4, nr, sw, sh, 0);
	dw3_some(r, wv, b, d, k, pw, y, ow, end - k, nr, sw, sh, 0);
	if (end < d->nv)
		dw3_some(r, wv, b, d, end, pw, y, ow, 1, nr, sw, sh, 1);
}

/* The planes [o0, o1) of a 3x3 depthwise convolution with strides sw
 * and sh (1 or 2 each, constants once inlined) and dilation 1: output
 * rows in blocks of DW3_ROWS at row stride 1, of 2 at row stride 2 (each
 * input row loaded once for the output rows it feeds), then one by one. */
__attribute__((target("avx512f"), always_inline)) static inline void
dw3_planes(const Dwc *v, const float *x, const float *w, const float *bias, float *y, int64_t o0,
	   int64_t o1, const int sw, const int sh)
{
	const int NR = sh == 1 ? DW3_ROWS : 2;
	Dw3 d;

	d.nv = (v->OW + 15) / 16;
	d.ep = v->ep;
	d.er = v->ep ? rt_epi_regs(v->ep) : (RtEpiRegs){0};
	d.last = (__mmask16)rt_lanes(0, v->OW - 16 * (d.nv - 1));
	for (int64_t k = 0; k < d.nv; k++) {
		uint32_t whole = sw == 1 ? 0xffffu : 0xffffffffu;
		d.full[k] = k < d.nv - 1 || d.last == (__mmask16)0xffff;
		for (int64_t j = 0; j < 3; j++) {
			d.m[j][k] = dw_lanes(16 * k * sw - v->PW + j, 1, v->W, sw * (v->OW - 16 * k));
			d.full[k] &= d.m[j][k] == whole;
		}
	}
	d.inner = 1;
	for (int64_t k = 1; k < d.nv - 1; k++)
		d.inner &= d.full[k];
	for (int64_t o = o0; o < o1; o++) {
		const float *xc = x + o / v->kg * v->H * v->W, *wo = w + o * 9;
		float *yo = y + o * v->hw;
		__m512 b = _mm512_set1_ps(bias ? bias[o] : 0.0f), wv[9];
		int64_t oy = 0;
		for (int t = 0; t < 9; t++)
			wv[t] = _mm512_set1_ps(wo[t]);
		for (; oy + NR <= v->OH; oy += NR) {
			const float *r[(DW3_ROWS - 1) * 2 + 3];
			for (int64_t t = 0; t < (NR - 1) * sh + 3; t++) {
				int64_t iy = oy * sh - v->PH + t;
				r[t] = iy < 0 || iy >= v->H ? NULL : xc + iy * v->W;
			}
			dw3_rows(r, wv, b, &d, v->PW, yo + oy * v->OW, v->OW, NR, sw, sh);
		}
		if (oy < v->OH) { /* the last rows, fewer than a block */
			const float *r[(DW3_ROWS - 1) * 2 + 3];
			int64_t nr = v->OH - oy;
			for (int64_t t = 0; t < (nr - 1) * sh + 3; t++) {
				int64_t iy = oy * sh - v->PH + t;
				r[t] = iy < 0 || iy >= v->H ? NULL : xc + iy * v->W;
			}
			if (sh == 1 && nr == 3)
				dw3_rows(r, wv, b, &d, v->PW, yo + oy * v->OW, v->OW, 3, sw, sh);
			else if (sh == 1 && nr == 2)
				dw3_rows(r, wv, b, &d, v->PW, yo + oy * v->OW, v->OW, 2, sw, sh);
			else
				dw3_rows(r, wv, b, &d, v->PW, yo + oy * v->OW, v->OW, 1, sw, sh);
		}
	}
}

/* The instances: strides 1 and 2 (a stride of 2 one way and 1 the other
 * takes depthwise_avx512). */
#define DW3_INSTANCE(name, sw, sh)                                                                  \
	__attribute__((target("avx512f"))) static void name(const Dwc *v, const float *x,           \
							     const float *w, const float *bias, float *y, \
							     int64_t o0, int64_t o1)                      \
	{                                                                                           \
		dw3_planes(v, x, w, bias, y, o0, o1, sw, sh);                                       \
	}
DW3_INSTANCE(dw3_s1, 1, 1)
DW3_INSTANCE(dw3_s2, 2, 2)
#undef DW3_INSTANCE

/* Depthwise (one input channel per group): output planes [o0, o1) of one
 * image computed directly, y[o] = bias[o] + sum_ij w[o,i,j] * x[o/kg] at
 * the window's offsets, row by row so the inner loop is a vector axpy.
 * x and y point at the image; no im2col, no GEMM of one row. */
static void
depthwise(const Dwc *v, const float *x, const float *w, const float *bias, float *y, int64_t o0,
	  int64_t o1)
{
	if (v->KH == 3 && v->KW == 3 && v->DH == 1 && v->DW == 1 && v->SH == v->SW && v->SW <= 2 &&
	    v->OW <= 16 * DW3_MAX_VECS && __builtin_cpu_supports("avx512f")) {
		(v->SW == 1 ? dw3_s1 : dw3_s2)(v, x, w, bias, y, o0, o1);
		return;
	}
	if (v->SW <= 2 && v->KW <= DW_MAX_KW && __builtin_cpu_supports("avx512f")) {
		depthwise_avx512(v, x, w, bias, y, o0, o1);
		return;
	}
	for (int64_t o = o0; o < o1; o++) {
		const float *xc = x + o / v->kg * v->H * v->W, *wo = w + o * v->KH * v->KW;
		float *yo = y + o * v->hw, b = bias ? bias[o] : 0.0f;
		for (int64_t i = 0; i < v->hw; i++)
			yo[i] = b;
		for (int64_t oy = 0; oy < v->OH; oy++) {
			float *restrict yr = yo + oy * v->OW;
			for (int64_t i = 0; i < v->KH; i++) {
				int64_t iy = oy * v->SH - v->PH + i * v->DH;
				if (iy < 0 || iy >= v->H)
					continue;
				for (int64_t j = 0; j < v->KW; j++) {
					int64_t off = j * v->DW - v->PW, lo, hi;
					const float *restrict xr = xc + iy * v->W + off;
					float wv = wo[i * v->KW + j];
					rt_valid_cols(off, v->SW, v->W, v->OW, &lo, &hi);
					if (v->SW == 1)
						for (int64_t ox = lo; ox < hi; ox++)
							yr[ox] += wv * xr[ox];
					else
						for (int64_t ox = lo; ox < hi; ox++)
							yr[ox] += wv * xr[ox * v->SW];
				}
			}
		}
		rt_epi_rows(v->ep, yo, v->hw, 1, v->hw);
	}
}

/* The depthwise job of one image: chunk ch of nchunk covers planes. */
typedef struct Dw {
	const Dwc *v;
	const float *x, *w, *bias; /* the image's input, all weights and biases */
	float *y;                  /* the image's output */
	int64_t nchunk;
} Dw;

static void
depthwise_chunk(void *closure, int64_t ch)
{
	const Dw *d = closure;

	depthwise(d->v, d->x, d->w, d->bias, d->y, ch * d->v->K / d->nchunk, (ch + 1) * d->v->K / d->nchunk);
}

void
rt_conv2d_depthwise(const float *x, const float *w, const float *bias, float *y, const int64_t *p,
		    const nncc_abi_ctx *cx, const RtEpi *ep)
{
	int64_t N = p[0];
	Dwc v = {
		.C = p[1], .H = p[2], .W = p[3], .K = p[4], .OH = p[5], .OW = p[6], .KH = p[7],
		.KW = p[8], .SH = p[9], .SW = p[10], .PH = p[11], .PW = p[12], .DH = p[13],
		.DW = p[14], .ep = rt_epi_on(ep) ? ep : NULL,
	};
	v.kg = v.K / v.C;
	v.hw = v.OH * v.OW;
	int64_t work = v.K * v.hw * v.KH * v.KW;
	Dw d = {&v, NULL, w, bias, NULL, rt_chunks(v.K, work)};
	for (int64_t b = 0; b < N; b++) {
		d.x = x + b * v.C * v.H * v.W;
		d.y = y + b * v.K * v.hw;
		if (cx && cx->parallel_for && work >= 2 * COPY_CHUNK)
			cx->parallel_for(cx->pool, depthwise_chunk, &d, d.nchunk);
		else
			depthwise(&v, d.x, w, bias, d.y, 0, v.K);
	}
}
