/* kernels.c — the kernel library linked statically into every compiled
 * model: batched matmul and 2-D convolution on top of the GEMM of gemm.c
 * (the general 3-D and transposed convolution: conv_nd.c).
 *
 * Built with -fvisibility=hidden (and the entry points say so too), so each
 * model carries a private copy and two models never clash. No allocation,
 * no globals, no error path: the code generator has already checked every
 * shape; the caller provides any scratch memory (see conv2d below). Index
 * arithmetic is in int64_t; each GEMM extent must fit BLAS's int
 * (cpu_check_kernel refuses larger ones). The memory-bound copies around
 * a convolution's GEMM (and depthwise convolutions) split into chunks on
 * the run's threads (abi.h nncc_abi_ctx); the chunks are fixed slices, so
 * results never depend on the thread count. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include "abi.h"
#include "conv_direct.h"
#include "gemm.h"
#include "kernel_util.h"
#include "winograd.h"

/* For every index (i0, .., i{nbatch-1}) of the batch extents bext, row-major:
 * C[sum i*sc] = op(A[sum i*sa]) * op(B[sum i*sb]). A stride 0 broadcasts. */
HIDDEN void
nncc_rt_matmul_f32(const float *a, const float *b, float *c, int32_t nbatch,
		   const int64_t *bext, const int64_t *sa, const int64_t *sb, const int64_t *sc,
		   int64_t m, int64_t n, int64_t k, int32_t trans_a, int32_t trans_b, const void *ctx)
{
	int64_t idx[4] = {0, 0, 0, 0};
	int64_t oa = 0, ob = 0, oc = 0;
	int d;

	if (nbatch < 0 || nbatch > 4)
		return;
	for (d = 0; d < nbatch; d++)
		if (bext[d] <= 0)
			return;
	for (;;) {
		rt_gemm_rm(ctx, a + oa, b + ob, c + oc, m, n, k, trans_a, trans_b, 0.0f);
		/* odometer: bump the last batch dim, carry leftwards */
		for (d = nbatch - 1; d >= 0; d--) {
			idx[d]++;
			oa += sa[d], ob += sb[d], oc += sc[d];
			if (idx[d] < bext[d])
				break;
			oa -= sa[d] * idx[d], ob -= sb[d] * idx[d], oc -= sc[d] * idx[d];
			idx[d] = 0;
		}
		if (d < 0)
			return;
	}
}

enum { SHORT_RUN = 64 }; /* floats: runs shorter than this are copied inline */

/* d[0..n) = s[0..n). The runs of an im2col are often a few floats long,
 * where a call to memcpy costs more than the copy: those are done in
 * fixed-size pieces the compiler inlines. */
static inline void
copy_run(float *restrict d, const float *restrict s, int64_t n)
{
	int64_t k = 0;

	if (n >= SHORT_RUN) {
		memcpy(d, s, (size_t)n * sizeof(float));
		return;
	}
	for (; k + 8 <= n; k += 8)
		memcpy(d + k, s + k, 8 * sizeof(float));
	if (k + 4 <= n)
		memcpy(d + k, s + k, 4 * sizeof(float)), k += 4;
	if (k + 2 <= n)
		memcpy(d + k, s + k, 2 * sizeof(float)), k += 2;
	if (k < n)
		d[k] = s[k];
}

/* d[0..n) = 0, as copy_run. */
static inline void
zero_run(float *d, int64_t n)
{
	static const float z[8];
	int64_t k = 0;

	if (n >= SHORT_RUN) {
		memset(d, 0, (size_t)n * sizeof(float));
		return;
	}
	for (; k + 8 <= n; k += 8)
		memcpy(d + k, z, 8 * sizeof(float));
	if (k + 4 <= n)
		memcpy(d + k, z, 4 * sizeof(float)), k += 4;
	if (k + 2 <= n)
		memcpy(d + k, z, 2 * sizeof(float)), k += 2;
	if (k < n)
		d[k] = 0.0f;
}

/* Geometry of one convolution (p in nncc_rt_conv2d_f32's order) and the
 * image and group being worked on, for the chunks of its copies. */
typedef struct Conv {
	int64_t C, H, W, K, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, G;
	int64_t cg, kg, ckk, hw; /* per group: channels, filters, col rows; output plane */
	const float *xg;         /* this image and group's input channels */
	float *col;              /* im2col rows, ckk x hw */
	float *yg;               /* this image and group's output planes, kg x hw */
	const float *bias;       /* this group's bias, or NULL */
	int64_t oy0, oy1;        /* a block of output rows in col (band_conv); else 0, OH */
} Conv;

enum { VEC_RUN = 256 }; /* floats: rows up to this long are gathered 16 at a time */

/* gather_run with AVX-512, 16 outputs a step: masked loads (stride 1), two
 * masked loads and a permute of the even lanes (stride 2), or a masked
 * gather; lanes outside [lo, hi) read nothing and store 0. */
__attribute__((target("avx512f"))) static void
gather_avx512(float *q, const float *xr, int64_t lo, int64_t hi, int64_t n, int64_t stride)
{
	const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
	const __m512i idx = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int)stride));
	const __m512i even = _mm512_add_epi32(lane, lane);

	for (int64_t k = 0; k < n; k += 16) {
		int64_t a = lo - k > 0 ? lo - k : 0, b = hi - k < 16 ? hi - k : 16;
		__mmask16 st = (__mmask16)rt_lanes(0, n - k);
		__mmask16 vm = (__mmask16)rt_lanes(a, b);
		__m512 v;
		if (stride == 1) {
			v = _mm512_maskz_loadu_ps(vm, xr + k);
		} else if (stride == 2) { /* input floats [2a, 2b - 1) of the 32 from xr + 2k */
			uint64_t lm = rt_lanes(2 * a, 2 * b - 1);
			__m512 v0 = _mm512_maskz_loadu_ps((__mmask16)lm, xr + 2 * k);
			__m512 v1 = _mm512_maskz_loadu_ps((__mmask16)(lm >> 16), xr + 2 * k + 16);
			v = _mm512_maskz_permutex2var_ps(vm, v0, even, v1);
		} else {
			v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), vm, idx, xr + k * stride, 4);
		}
		_mm512_mask_storeu_ps(q + k, st, v);
	}
}

/* q[0 .. n) = xr[k * stride] for k in [lo, hi), zeros elsewhere: one row
 * of an im2col column or window (zeros, a copy or strided gather, zeros). */
static void
gather_run(float *q, const float *xr, int64_t lo, int64_t hi, int64_t n, int64_t stride)
{
	if (n <= VEC_RUN && stride * 16 <= INT32_MAX && __builtin_cpu_supports("avx512f")) {
		gather_avx512(q, xr, lo, hi, n, stride);
		return;
	}
	zero_run(q, lo);
	if (stride == 1)
		copy_run(q + lo, xr + lo, hi - lo);
	else
		for (int64_t k = lo; k < hi; k++)
			q[k] = xr[k * stride];
	zero_run(q + hi, n - hi);
}

enum {
	FLAT_OW = 16,    /* output rows narrower than this: im2col_flat */
	FLAT_HW = 1024,  /* output positions at most for im2col_flat's tables */
};

/* im2col for narrow outputs, where a call per output row would cost more
 * than its few floats: each col row is gathered 16 output positions at a
 * time over the whole plane, from tables of each position's input row
 * and column (the window's offset added per row), masked to the image. */
__attribute__((target("avx512f"))) static void
im2col_flat(const Conv *v, int64_t r0, int64_t r1)
{
	int32_t ys[FLAT_HW], xs[FLAT_HW];
	int64_t len = (v->oy1 - v->oy0) * v->OW; /* floats per col row */

	for (int64_t o = 0, oy = v->oy0, ox = 0; o < len; o++) {
		ys[o] = (int32_t)(oy * v->SH), xs[o] = (int32_t)(ox * v->SW);
		if (++ox == v->OW)
			ox = 0, oy++;
	}
	const __m512i hv = _mm512_set1_epi32((int32_t)v->H), wv = _mm512_set1_epi32((int32_t)v->W);
	const __m512i ww = _mm512_set1_epi32((int32_t)v->W);
	int64_t kk = v->KH * v->KW, c = r0 / kk, i = r0 / v->KW % v->KH, j = r0 % v->KW;
	for (int64_t r = r0; r < r1; r++) {
		const float *xc = v->xg + c * v->H * v->W;
		const __m512i di = _mm512_set1_epi32((int32_t)(i * v->DH - v->PH));
		const __m512i dj = _mm512_set1_epi32((int32_t)(j * v->DW - v->PW));
		float *row = v->col + r * len;
		for (int64_t o = 0; o < len; o += 16) {
			__mmask16 st = (__mmask16)rt_lanes(0, len - o);
			__m512i iy = _mm512_add_epi32(_mm512_maskz_loadu_epi32(st, ys + o), di);
			__m512i ix = _mm512_add_epi32(_mm512_maskz_loadu_epi32(st, xs + o), dj);
			/* 0 <= iy < H and 0 <= ix < W, as unsigned compares */
			__mmask16 in = _mm512_mask_cmplt_epu32_mask(st, iy, hv) &
				       _mm512_cmplt_epu32_mask(ix, wv);
			__m512i at = _mm512_add_epi32(_mm512_mullo_epi32(iy, ww), ix);
			_mm512_mask_storeu_ps(row + o, st,
					      _mm512_mask_i32gather_ps(_mm512_setzero_ps(), in, at, xc, 4));
		}
		if (++j == v->KW && (j = 0, ++i == v->KH))
			i = 0, c++;
	}
}

/* im2col for output rows of at most 16 with stride 1 or 2: each vector
 * of col floats holds 16 / OW whole output rows, each a masked load of its
 * input row (the padding masked off) whose lanes a permute moves into
 * place (every second one with stride 2; two loads when a row spans more
 * than 16 input floats). No gathers. */
__attribute__((target("avx512f"))) static void
im2col_rows(const Conv *v, int64_t r0, int64_t r1)
{
	int64_t ow = v->OW, sw = v->SW, per = 16 / ow, step = per * ow; /* rows, floats per vector */
	int64_t len = (v->oy1 - v->oy0) * ow; /* floats per col row */
	int32_t at[16];
	for (int l = 0; l < 16; l++) /* lane l takes input float (l % ow) * sw of its row */
		at[l] = (int32_t)(l % ow * sw);
	const __m512i idx = _mm512_loadu_si512(at);
	__mmask16 put[16]; /* the lanes of a vector's q-th output row */
	for (int64_t q = 0; q < per; q++)
		put[q] = (__mmask16)rt_lanes(q * ow, (q + 1) * ow);
	/* no division per row or vector: they were most of a small layer's time */
	int64_t kk = v->KH * v->KW, c = r0 / kk, i = r0 / v->KW % v->KH, j = r0 % v->KW;
	for (int64_t r = r0; r < r1; r++) {
		const float *xc = v->xg + c * v->H * v->W;
		int64_t dj = j * v->DW - v->PW, sh = sw - 1; /* sw is 1 or 2: a shift */
		/* the output columns [lo, hi) whose input column ox*sw + dj is in the row */
		int64_t lo = dj >= 0 ? 0 : (-dj + sw - 1) >> sh;
		int64_t hi = v->W - dj <= 0 ? 0 : (v->W - dj + sw - 1) >> sh;
		hi = hi > ow ? ow : hi;
		lo = lo > hi ? hi : lo;
		/* input floats [lo*sw, (hi-1)*sw] from the row's column dj */
		uint64_t lm = rt_lanes(lo * sw, (hi - 1) * sw + 1);
		float *row = v->col + r * len;
		int64_t iy0 = i * v->DH - v->PH; /* input row of output row oy: oy*SH + iy0 */
		for (int64_t o = 0, oy = v->oy0; o < len; o += step, oy += per) {
			__m512 acc = _mm512_setzero_ps();
			for (int64_t q = 0; q < per; q++) {
				int64_t iy = (oy + q) * v->SH + iy0;
				if (oy + q >= v->oy1 || iy < 0 || iy >= v->H || !lm)
					continue;
				const float *src = xc + iy * v->W + dj;
				__m512 a = _mm512_maskz_loadu_ps((__mmask16)lm, src);
				if (ow * sw > 16) /* one row over two vectors */
					acc = _mm512_maskz_permutex2var_ps(
					    put[q], a, idx, _mm512_maskz_loadu_ps((__mmask16)(lm >> 16), src + 16));
				else
					acc = _mm512_mask_permutexvar_ps(acc, put[q], idx, a);
			}
			int64_t n = len - o < step ? len - o : step;
			_mm512_mask_storeu_ps(row + o, (__mmask16)rt_lanes(0, n), acc);
		}
		if (++j == v->KW && (j = 0, ++i == v->KH))
			i = 0, c++;
	}
}

/* col rows [r0, r1) for output rows [oy0, oy1): row (c*kh + i)*kw + j,
 * (oy1 - oy0)*ow floats, holding at (oy - oy0)*ow + ox
 * x[c][oy*sh - ph + i*dh][ox*sw - pw + j*dw], or 0 in the padding. Each
 * row is zeros, a copy (copy_run when sw is 1), zeros: no test per element. */
static void
im2col(const Conv *v, int64_t r0, int64_t r1)
{
	if (v->OW <= 16 && v->SW <= 2 && __builtin_cpu_supports("avx512f")) {
		im2col_rows(v, r0, r1);
		return;
	}
	if (v->OW < FLAT_OW && v->hw <= FLAT_HW && (int64_t)v->H * v->W <= INT32_MAX &&
	    __builtin_cpu_supports("avx512f")) {
		im2col_flat(v, r0, r1);
		return;
	}
	int64_t len = (v->oy1 - v->oy0) * v->OW; /* floats per col row */
	for (int64_t r = r0; r < r1; r++) {
		int64_t c = r / (v->KH * v->KW), i = r / v->KW % v->KH, j = r % v->KW;
		float *row = v->col + r * len;
		const float *xc = v->xg + c * v->H * v->W;
		int64_t off = j * v->DW - v->PW, lo, hi;
		rt_valid_cols(off, v->SW, v->W, v->OW, &lo, &hi);
		for (int64_t oy = v->oy0; oy < v->oy1; oy++) {
			int64_t iy = oy * v->SH - v->PH + i * v->DH;
			float *q = row + (oy - v->oy0) * v->OW;
			if (iy < 0 || iy >= v->H) {
				zero_run(q, v->OW);
				continue;
			}
			gather_run(q, xc + iy * v->W + off, lo, hi, v->OW, v->SW);
		}
	}
}

/* q[0 .. kh*kw) = the window of plane xc that output position o sees,
 * row (i, j) = xc[oy*sh - ph + i*dh][ox*sw - pw + j*dw], or 0 in the
 * padding: kh runs of kw (zeros, a copy, zeros). */
static void
window_row(const Conv *v, const float *xc, int64_t o, float *q)
{
	int64_t oy = o / v->OW, ox = o % v->OW, off = ox * v->SW - v->PW, lo, hi;

	rt_valid_cols(off, v->DW, v->W, v->KW, &lo, &hi);
	for (int64_t i = 0; i < v->KH; i++, q += v->KW) {
		int64_t iy = oy * v->SH - v->PH + i * v->DH;
		if (iy < 0 || iy >= v->H) {
			zero_run(q, v->KW);
			continue;
		}
		gather_run(q, xc + iy * v->W + off, lo, hi, v->KW, v->DW);
	}
}

/* One block of images [b0, b0 + nb) of a wide convolution (wide_conv),
 * for one group: row r = (b - b0)*hw + o of col (ckk floats) holds image
 * b's windows at output position o, channel after channel. */
typedef struct Wide {
	const Conv *v;
	const float *x; /* the whole input */
	float *col;     /* nb*hw rows of ckk */
	int64_t b0, nb, g; /* first image, images, group */
	int64_t nchunk; /* chunks of the rows */
} Wide;

static void
wide_chunk(void *closure, int64_t ch)
{
	const Wide *w = closure;
	const Conv *v = w->v;
	int64_t rows = w->nb * v->hw, kk = v->KH * v->KW;

	for (int64_t r = ch * rows / w->nchunk; r < (ch + 1) * rows / w->nchunk; r++) {
		const float *xb = w->x + ((w->b0 + r / v->hw) * v->C + w->g * v->cg) * v->H * v->W;
		for (int64_t c = 0; c < v->cg; c++)
			window_row(v, xb + c * v->H * v->W, r % v->hw, w->col + r * v->ckk + c * kk);
	}
}

/* A wide convolution (window wider than the output: the weight gradient,
 * whose window is a whole output adjoint, and whose output is a few
 * positions) over blocks of nb images (nncc_abi_wide_images): per group
 * and block, one GEMM z (kg x nb*hw) = w_g (kg x ckk) * col^T, col holding
 * the block's windows (nb*hw rows of ckk), then z goes to y (+ bias). One
 * GEMM per image would be hw columns wide, a few of a tile. scratch holds
 * col and z: nb*hw*(ckk + kg) floats. */
static void
wide_conv(Conv *v, int64_t N, const float *x, const float *w, const float *bias, float *y,
	  const nncc_abi_ctx *cx)
{
	int64_t nb = nncc_abi_wide_images(N, v->hw);

	for (int64_t g = 0; g < v->G; g++)
		for (int64_t b0 = 0; b0 < N; b0 += nb) {
			int64_t n = N - b0 < nb ? N - b0 : nb, rows = n * v->hw;
			float *z = v->col + rows * v->ckk;
			Wide wd = {v, x, v->col, b0, n, g, rt_chunks(rows, rows * v->ckk)};
			if (cx && cx->parallel_for && rows * v->ckk >= 2 * COPY_CHUNK && wd.nchunk > 1)
				cx->parallel_for(cx->pool, wide_chunk, &wd, wd.nchunk);
			else
				for (int64_t ch = 0; ch < wd.nchunk; ch++)
					wide_chunk(&wd, ch);
			/* z (kg x rows) = w_g (kg x ckk) * col^T (col: rows x ckk) */
			rt_gemm(cx, v->kg, rows, v->ckk, w + g * v->kg * v->ckk, v->ckk, 0, v->col, v->ckk, 1,
				0, z, rows);
			for (int64_t b = 0; b < n; b++)
				for (int64_t k = 0; k < v->kg; k++) {
					float bk = bias ? bias[g * v->kg + k] : 0.0f;
					float *yr = y + ((b0 + b) * v->K + g * v->kg + k) * v->hw;
					const float *zr = z + k * rows + b * v->hw;
					for (int64_t o = 0; o < v->hw; o++)
						yr[o] = zr[o] + bk;
				}
		}
}

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
depthwise_avx512(const Conv *v, const float *x, const float *w, const float *bias, float *y,
		 int64_t o0, int64_t o1)
{
	const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);

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
					_mm512_mask_storeu_ps(yo + oy * v->OW + ox, (__mmask16)((1u << n) - 1), acc[k]);
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
		for (int q = 0; q < nq; q++)
			_mm512_mask_storeu_ps(y + i * ow + 16 * (k + q),
					      k + q == d->nv - 1 ? d->last : (__mmask16)0xffff, acc[i][q]);
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
dw3_planes(const Conv *v, const float *x, const float *w, const float *bias, float *y, int64_t o0,
	   int64_t o1, const int sw, const int sh)
{
	const int NR = sh == 1 ? DW3_ROWS : 2;
	Dw3 d;

	d.nv = (v->OW + 15) / 16;
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
	__attribute__((target("avx512f"))) static void name(const Conv *v, const float *x,           \
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
depthwise(const Conv *v, const float *x, const float *w, const float *bias, float *y, int64_t o0,
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
	}
}

/* The depthwise job of one image: chunk ch of nchunk covers planes. */
typedef struct Dw {
	const Conv *v;
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

enum { BAND_FLOATS = 65536 }; /* col floats per band of output rows (a col too big for L2) */

/* One image and group of a convolution by im2col and GEMM, in bands of
 * output rows: each band's im2col (its own compact col), then its GEMM
 * into the band's columns of yg (row stride hw), starting each row from
 * its bias. A col that would not stay in L2 (GoogLeNet's and ResNet's
 * first 7x7, 1.8M floats) goes in bands of about BAND_FLOATS, so the GEMM
 * reads what the copy just wrote from L2, not from memory.
 *
 * On several threads, each takes a run of whole bands (at least one band
 * per thread), im2col and GEMM on its own, with its own GEMM scratch
 * slot: what a thread copies, it multiplies, and the output rows it
 * writes are the rows of the input it read (the next layer's split
 * finds them in its cache). A split of the copy by col rows and of the
 * GEMM by columns would hand half of every col to the other core, a
 * cost that doubles on a VM whose two vCPUs do not share a cache. Each
 * output is one GEMM's sum over the col rows, in the same order whatever
 * band it falls in (the tiled micro-kernels all sum along k alike; the
 * caller keeps bands off the dot-product path unless the whole plane
 * takes it too), so the result does not depend on the thread count. */
typedef struct Bands {
	const Conv *v;
	const nncc_abi_ctx *cx;
	const float *w, *wg;
	uint32_t g;
	int64_t rows, nband; /* output rows per band, bands */
	int64_t nchunk;      /* threads (runs of bands) */
	int cached;          /* the weight cache may be read from every thread */
} Bands;

static void
bands_chunk(void *closure, int64_t ch)
{
	const Bands *b = closure;
	Conv v = *b->v;
	const nncc_abi_ctx *cx = b->cx;
	nncc_abi_ctx c1;
	int64_t b0 = ch * b->nband / b->nchunk, b1 = (ch + 1) * b->nband / b->nchunk;

	if (b->nchunk > 1) { /* this thread's slot, no nested threads */
		c1 = *cx;
		c1.nthreads = 1, c1.parallel_for = NULL, c1.pool = NULL;
		c1.gemm_scratch = (char *)c1.gemm_scratch + ch * NNCC_ABI_GEMM_SCRATCH;
		if (!b->cached)
			c1.wcache = NULL;
		cx = &c1;
	}
	/* the thread's bands reuse the col of its first */
	v.col += v.ckk * v.OW * (b0 * b->rows);
	for (int64_t k = b0; k < b1; k++) {
		v.oy0 = k * b->rows;
		v.oy1 = v.OH - v.oy0 < b->rows ? v.OH : v.oy0 + b->rows;
		int64_t nb = (v.oy1 - v.oy0) * v.OW;
		im2col(&v, 0, v.ckk);
		rt_gemm_const_a(cx, b->w, b->g, v.kg, nb, v.ckk, b->wg, v.col, nb, 0, 0, v.bias,
				v.yg + v.oy0 * v.OW, v.hw);
	}
}

/* One band, the whole plane, on several threads: the copy split by col
 * rows into chunks of at least COPY_CHUNK floats. */
typedef struct Copy {
	const Conv *v;
	int64_t nchunk;
} Copy;

static void
copy_chunk(void *closure, int64_t ch)
{
	const Copy *c = closure;

	im2col(c->v, ch * c->v->ckk / c->nchunk, (ch + 1) * c->v->ckk / c->nchunk);
}

/* Bands of rows output rows (see Bands) on threads threads. */
static void
band_conv(Conv *v, const nncc_abi_ctx *cx, const float *w, uint32_t g, const float *wg, int64_t rows,
	  int64_t threads)
{
	Bands b = {v, cx, w, wg, g, rows, (v->OH + rows - 1) / rows, 1, 1};

	if (threads > 1 && b.nband > 1) {
		b.nchunk = b.nband < threads ? b.nband : threads;
		/* the weight's cache entry filled here, for each band width */
		int64_t last = v->OH - (b.nband - 1) * rows;
		b.cached = rt_gemm_const_a_ready(cx, w, g, v->kg, rows * v->OW, v->ckk, wg) &&
			   rt_gemm_const_a_ready(cx, w, g, v->kg, last * v->OW, v->ckk, wg);
		cx->parallel_for(cx->pool, bands_chunk, &b, b.nchunk);
	} else if (threads > 1) { /* then the GEMM splits as it sees fit */
		Copy c = {v, rt_chunks(v->ckk, v->ckk * v->hw)};
		cx->parallel_for(cx->pool, copy_chunk, &c, c.nchunk);
		rt_gemm_const_a(cx, w, g, v->kg, v->hw, v->ckk, wg, v->col, v->hw, 0, 0, v->bias, v->yg, v->hw);
	} else {
		bands_chunk(&b, 0);
	}
	v->oy0 = 0, v->oy1 = v->OH;
}

/* p = {n, c, h, w, k, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, group}.
 * x [N,C,H,W], w [K, C/G, kh, kw], bias [K] or NULL, y [N,K,oh,ow].
 * ph/pw are the top/left pads; the bottom/right ones follow from oh/ow.
 * scratch holds (C/G)*kh*kw*oh*ow floats (in blocks of images,
 * nncc_abi_conv_blocks: nb*oh*ow*((C/G)*kh*kw + K/G) with nb =
 * nncc_abi_wide_images(n, oh*ow), see wide_conv), and may be NULL exactly when
 * kh == kw == 1, sh == sw == 1, ph == pw == 0, oh == h and ow == w (the
 * 1x1 fast path multiplies x directly). A depthwise convolution (several
 * groups of one input channel) runs directly, without scratch or GEMM. ctx
 * (an nncc_abi_ctx, or NULL) lends threads to the im2col copies of big
 * convolutions, to depthwise planes and to the GEMMs, and holds
 * the GEMMs' packing buffers. */
HIDDEN void
nncc_rt_conv2d_f32(const float *x, const float *w, const float *bias, float *y,
		   float *scratch, const int64_t *p, const void *ctx)
{
	const nncc_abi_ctx *cx = ctx;
	int64_t N = p[0];
	Conv v = {
		.C = p[1], .H = p[2], .W = p[3], .K = p[4], .OH = p[5], .OW = p[6], .KH = p[7],
		.KW = p[8], .SH = p[9], .SW = p[10], .PH = p[11], .PW = p[12], .DH = p[13],
		.DW = p[14], .G = p[15],
	};
	int fast;

	if (v.G <= 0 || v.C % v.G || v.K % v.G)
		return;
	v.cg = v.C / v.G;
	v.kg = v.K / v.G;
	v.ckk = v.cg * v.KH * v.KW;
	v.hw = v.OH * v.OW;
	v.col = scratch;
	v.oy0 = 0, v.oy1 = v.OH;
	fast = v.KH == 1 && v.KW == 1 && v.SH == 1 && v.SW == 1 && v.PH == 0 && v.PW == 0 &&
	       v.OH == v.H && v.OW == v.W;
	if (v.cg == 1 && v.G > 1) { /* depthwise: direct, threads over the planes */
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
		return;
	}
	if (!fast && rt_conv2d_winograd(x, w, bias, y, scratch, p, cx)) /* 3x3, stride 1 */
		return;
	if (!fast && rt_conv2d_direct(x, w, bias, y, p, cx)) /* few filters: no im2col */
		return;
	/* a window wider than the output, or small images: several images per
	 * GEMM, col transposed (rows of windows) */
	if (!fast && nncc_abi_conv_blocks(N, v.KW, v.OW, v.hw)) {
		if (v.KW <= v.OW || !rt_conv2d_wide_direct(x, w, bias, y, p, cx))
			wide_conv(&v, N, x, w, bias, y, cx);
		return;
	}
	/* threads for at least two chunks' worth of copying */
	int64_t threads = cx && cx->parallel_for && v.ckk * v.hw >= 2 * COPY_CHUNK ? cx->nthreads : 1;
	/* bands: of about BAND_FLOATS col floats when the col would not stay
	 * in L2; else as many as threads when the col outweighs the weights
	 * (each thread's GEMM reads all of them: for a small plane of many
	 * filters, the threads rather split the copy by col rows and the
	 * GEMM by filters); else one, the whole plane */
	int64_t rows = v.OH;
	if (v.ckk * v.hw > BAND_FLOATS && v.ckk * v.OW * 2 <= BAND_FLOATS && v.ckk * 256 <= BAND_FLOATS) {
		rows = BAND_FLOATS / (v.ckk * v.OW);
	} else if (threads > 1 && v.hw >= v.kg) {
		/* unless a band's GEMM would take the dot-product path (every
		 * band at most RT_GEMM_DOTS_MAX_N columns) where the whole
		 * plane does not: it sums in another order, and the result
		 * would depend on the thread count */
		rows = (v.OH + threads - 1) / threads;
		if ((v.OH - (v.OH - 1) / rows * rows) * v.OW <= RT_GEMM_DOTS_MAX_N && v.hw > RT_GEMM_DOTS_MAX_N)
			rows = v.OH;
	}
	for (int64_t b = 0; b < N; b++)
		for (int64_t g = 0; g < v.G; g++) {
			const float *wg = w + g * v.kg * v.ckk;
			v.xg = x + (b * v.C + g * v.cg) * v.H * v.W;
			v.yg = y + (b * v.K + g * v.kg) * v.hw;
			v.bias = bias ? bias + g * v.kg : NULL;
			if (fast) /* yg (kg x hw) = bias + wg (kg x ckk) * x (ckk x hw) */
				rt_gemm_const_a(cx, w, (uint32_t)g, v.kg, v.hw, v.ckk, wg, v.xg, v.hw, 0, 0, v.bias,
						v.yg, v.hw);
			else
				band_conv(&v, cx, w, (uint32_t)g, wg, rows, threads);
		}
}
