/* im2col.c — the copies in front of a convolution's GEMM (im2col), and
 * a wide convolution's window rows, for kernels.c. Part of the kernel
 * library (built as kernels.c is: hidden symbols, no allocation). Each
 * shape takes the copy that moves it fastest: gathers of a tiny plane,
 * whole output rows per vector, tables of positions for narrow rows,
 * masked loads and permutes, or runs of zeros, copies and strided
 * gathers. */
#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include "conv_direct.h"
#include "im2col.h"
#include "kernel_util.h"

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
		float *row = col_at(v, r, len);
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

enum {
	TINY_HW = 32,   /* input planes of at most this many floats: im2col_tiny */
	TINY_TAPS = 64, /* window taps at most for its tables */
};

/* im2col for a plane that fits two vectors and a col row that fits one
 * (SqueezeNet's 3x3 layers on a 3x3 plane at batch 1): per window tap, a
 * table of which plane float each output position takes and a mask of
 * those inside the image; then per channel the plane is loaded once and
 * each of its col rows is one permute of it. im2col_rows spent a mask, a
 * load and a permute per output row and col row, with the bounds worked
 * out anew for each col row: 1.5 ns a float on these planes. */
__attribute__((target("avx512f"))) static void
im2col_tiny(const Conv *v, int64_t r0, int64_t r1)
{
	int64_t kk = v->KH * v->KW, len = (v->oy1 - v->oy0) * v->OW, hw = v->H * v->W;
	__m512i idx[TINY_TAPS];
	__mmask16 in[TINY_TAPS];
	int32_t at[16];

	for (int64_t t = 0; t < kk; t++) {
		int64_t i = t / v->KW, j = t % v->KW, m = 0;
		for (int64_t l = 0; l < 16; l++) {
			int64_t o = v->oy0 * v->OW + l, oy = o / v->OW, ox = o % v->OW;
			int64_t iy = oy * v->SH - v->PH + i * v->DH, ix = ox * v->SW - v->PW + j * v->DW;
			int inside = l < len && iy >= 0 && iy < v->H && ix >= 0 && ix < v->W;
			at[l] = inside ? (int32_t)(iy * v->W + ix) : 0;
			m |= (int64_t)inside << l;
		}
		idx[t] = _mm512_loadu_si512(at);
		in[t] = (__mmask16)m;
	}
	__mmask16 st = (__mmask16)rt_lanes(0, len);
	__mmask16 m0 = (__mmask16)rt_lanes(0, hw), m1 = (__mmask16)rt_lanes(0, hw - 16);
	int64_t c = r0 / kk, t = r0 % kk;
	__m512 p0 = _mm512_setzero_ps(), p1 = p0;
	for (int64_t r = r0; r < r1; r++) {
		if (r == r0 || t == 0) {
			const float *xc = v->xg + c * hw;
			p0 = _mm512_maskz_loadu_ps(m0, xc);
			p1 = _mm512_maskz_loadu_ps(m1, xc + 16);
		}
		_mm512_mask_storeu_ps(col_at(v, r, len), st, _mm512_maskz_permutex2var_ps(in[t], p0, idx[t], p1));
		if (++t == kk)
			t = 0, c++;
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
		float *row = col_at(v, r, len);
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

/* Col row r (channel, window row i, window column) of a col of len
 * floats per row: where it goes, its input channel, the window column's
 * offset and the output columns [lo, hi) whose input column is inside. */
typedef struct ColRow {
	float *row;
	const float *xc;
	int64_t i, off, lo, hi;
} ColRow;

static inline ColRow
col_row(const Conv *v, int64_t r, int64_t len)
{
	int64_t c = r / (v->KH * v->KW), j = r % v->KW;
	ColRow cr = {.row = col_at(v, r, len), .xc = v->xg + c * v->H * v->W, .i = r / v->KW % v->KH,
		     .off = j * v->DW - v->PW};

	rt_valid_cols(cr.off, v->SW, v->W, v->OW, &cr.lo, &cr.hi);
	return cr;
}

/* The general rows with AVX-512 at strides 1 and 2, up to VEC_RUN
 * columns: each col row's lane masks (the window's columns inside the
 * image) once, then every output row by those (masked loads; stride 2:
 * two loads and a permute of the even lanes). A gather_run per output
 * row recomputed them for every row, and cost more than its copies at
 * ResNet-50's 28-wide rows (its stride-2 3x3 layers: 22% of the time in
 * the im2col). */
__attribute__((target("avx512f"))) static void
im2col_masked(const Conv *v, int64_t r0, int64_t r1)
{
	const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
	const __m512i even = _mm512_add_epi32(lane, lane);
	int64_t len = (v->oy1 - v->oy0) * v->OW, nv = (v->OW + 15) / 16;
	__mmask16 st[VEC_RUN / 16], vm[VEC_RUN / 16], l0[VEC_RUN / 16], l1[VEC_RUN / 16];

	for (int64_t k = 0; k < nv; k++)
		st[k] = (__mmask16)rt_lanes(0, v->OW - 16 * k);
	for (int64_t r = r0; r < r1; r++) {
		ColRow cr = col_row(v, r, len);
		int64_t i = cr.i, off = cr.off, lo = cr.lo, hi = cr.hi;
		float *row = cr.row;
		const float *xc = cr.xc;
		for (int64_t k = 0; k < nv; k++) {
			int64_t a = lo - 16 * k > 0 ? lo - 16 * k : 0;
			int64_t b = hi - 16 * k < 16 ? hi - 16 * k : 16;
			uint64_t lm = v->SW == 2 ? rt_lanes(2 * a, 2 * b - 1) : 0;
			vm[k] = (__mmask16)rt_lanes(a, b);
			l0[k] = (__mmask16)lm, l1[k] = (__mmask16)(lm >> 16);
		}
		for (int64_t oy = v->oy0; oy < v->oy1; oy++) {
			int64_t iy = oy * v->SH - v->PH + i * v->DH;
			float *q = row + (oy - v->oy0) * v->OW;
			if (iy < 0 || iy >= v->H) {
				for (int64_t k = 0; k < nv; k++)
					_mm512_mask_storeu_ps(q + 16 * k, st[k], _mm512_setzero_ps());
				continue;
			}
			const float *xr = xc + iy * v->W + off;
			if (v->SW == 1) {
				for (int64_t k = 0; k < nv; k++) {
					__m512 x0 = _mm512_maskz_loadu_ps(vm[k], xr + 16 * k);
					_mm512_mask_storeu_ps(q + 16 * k, st[k], x0);
				}
				continue;
			}
			for (int64_t k = 0; k < nv; k++) {
				__m512 x0 = _mm512_maskz_loadu_ps(l0[k], xr + 32 * k);
				__m512 x1 = _mm512_maskz_loadu_ps(l1[k], xr + 32 * k + 16);
				x0 = _mm512_maskz_permutex2var_ps(vm[k], x0, even, x1);
				_mm512_mask_storeu_ps(q + 16 * k, st[k], x0);
			}
		}
	}
}

/* col rows [r0, r1) for output rows [oy0, oy1): row (c*kh + i)*kw + j,
 * (oy1 - oy0)*ow floats, holding at (oy - oy0)*ow + ox
 * x[c][oy*sh - ph + i*dh][ox*sw - pw + j*dw], or 0 in the padding. Each
 * row is zeros, a copy (copy_run when sw is 1), zeros: no test per element. */
void
rt_im2col(const Conv *v, int64_t r0, int64_t r1)
{
	if (v->H * v->W <= TINY_HW && (v->oy1 - v->oy0) * v->OW <= 16 && v->KH * v->KW <= TINY_TAPS &&
	    __builtin_cpu_supports("avx512f")) {
		im2col_tiny(v, r0, r1);
		return;
	}
	if (v->OW <= 16 && v->SW <= 2 && __builtin_cpu_supports("avx512f")) {
		im2col_rows(v, r0, r1);
		return;
	}
	if (v->OW < FLAT_OW && v->hw <= FLAT_HW && (int64_t)v->H * v->W <= INT32_MAX &&
	    __builtin_cpu_supports("avx512f")) {
		im2col_flat(v, r0, r1);
		return;
	}
	if (v->SW <= 2 && v->OW <= VEC_RUN && __builtin_cpu_supports("avx512f")) {
		im2col_masked(v, r0, r1);
		return;
	}
	int64_t len = (v->oy1 - v->oy0) * v->OW; /* floats per col row */
	for (int64_t r = r0; r < r1; r++) {
		ColRow cr = col_row(v, r, len);
		int64_t i = cr.i, off = cr.off, lo = cr.lo, hi = cr.hi;
		float *row = cr.row;
		const float *xc = cr.xc;
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
void
rt_window_row(const Conv *v, const float *xc, int64_t o, float *q)
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

