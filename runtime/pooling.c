/* pooling.c — 1-D and 2-D max and average pooling of f32 planes: part of
 * the kernel library (see kernels.c).
 *
 * The code generator lowers pooling to a loop nest (codegen/lower_nn.c),
 * the definition the interpreter and the CUDA backend run. Its windows
 * walk the input with the stride along the vectorized output row, which
 * LLVM vectorizes with a gather per tap, one element per lane. For an f32
 * pool over a buffer the CPU backend calls this instead (nncc_abi_pool).
 *
 * With AVX-512 and strides 1 or 2, per vector of 16 outputs and window
 * column, the column's rows are reduced in registers straight from the
 * input (masked loads, padding lanes set to the identity: -inf for max,
 * 0 for a sum); a stride-2 row's 16 window columns are the even lanes of
 * two vectors (one permute); then the window's columns are reduced. No
 * store is read back: a reduced row stored and reloaded at once stalls
 * on store forwarding, which cost more than the gathers it replaced. A
 * window row outside the input reads a row of the identity, so a 3x3
 * window always has three rows and its loops unroll. A 3x3 max pool of
 * strides 1 x 1 or 2 x 2 goes the other way round (max3_tmpl): each input
 * row's three columns reduced once, in registers, and shared by the
 * output rows whose windows hold that row; up to four vectors of a row
 * walk down the rows together, so the plane is read once, in order.
 * Other strides, windows of more than 64 rows and CPUs without AVX-512
 * reduce the window's rows into a padded row, then its columns (scalar).
 * An average divides each sum by its count of positions inside [vlo, vhi)
 * per dim: the input itself when padding is excluded, the padded input
 * when it counts. Max propagates NaN as the loop's llvm.maximum does.
 *
 * Work splits into chunks of (plane, output row) runs; each output is
 * reduced by one chunk in one order, so the result does not depend on
 * the thread count. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include "conv_direct.h"
#include "kernel_util.h"

typedef struct Pool {
	const float *x;
	float *y;
	int64_t H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW;
	int avg;
	int64_t vlo[2], vhi[2]; /* counted positions of an average, per dim (h, w) */
	int64_t rows;           /* planes * OH */
	int64_t nchunk;
} Pool;

/* Positions k*d + s, k < n, inside [lo, hi). */
static int64_t
inside(int64_t s, int64_t n, int64_t d, int64_t lo, int64_t hi)
{
	int64_t c = 0;

	for (int64_t k = 0; k < n; k++)
		c += s + k * d >= lo && s + k * d < hi;
	return c;
}

static inline float
max_nan(float acc, float v)
{
	return isnan(v) || v > acc ? v : acc;
}

/* The window's rows of output row oy reduced into t[PW .. PW + W). */
static void
rows_c(const Pool *p, const float *plane, int64_t oy, float *t)
{
	int first = 1;

	for (int64_t ky = 0; ky < p->KH; ky++) {
		int64_t iy = oy * p->SH - p->PH + ky * p->DH;
		if (iy < 0 || iy >= p->H)
			continue;
		const float *r = plane + iy * p->W;
		if (first)
			memcpy(t + p->PW, r, (size_t)p->W * sizeof(float));
		else if (p->avg)
			for (int64_t i = 0; i < p->W; i++)
				t[p->PW + i] += r[i];
		else
			for (int64_t i = 0; i < p->W; i++)
				t[p->PW + i] = max_nan(t[p->PW + i], r[i]);
		first = 0;
	}
	if (first) /* no row inside: the identity */
		for (int64_t i = 0; i < p->W; i++)
			t[p->PW + i] = p->avg ? 0.0f : -INFINITY;
}

/* Output row oy from its window's rows reduced into t; ccnt: the
 * columns' counts (averages). */
static void
cols_c(const Pool *p, int64_t oy, const float *t, const float *ccnt, float *y)
{
	float rc = p->avg ? (float)inside(oy * p->SH - p->PH, p->KH, p->DH, p->vlo[0], p->vhi[0]) : 1.0f;

	for (int64_t ox = 0; ox < p->OW; ox++) {
		const float *s = t + ox * p->SW;
		float a = s[0];
		for (int64_t kx = 1; kx < p->KW; kx++)
			a = p->avg ? a + s[kx * p->DW] : max_nan(a, s[kx * p->DW]);
		y[ox] = p->avg ? a / (rc * ccnt[ox]) : a;
	}
}

__attribute__((target("avx512f"))) static inline __m512
vmax_nan(__m512 acc, __m512 v)
{
	/* where acc is a number, max(acc, v), which is v where either is NaN;
	 * a NaN acc stays (merged into acc's own register: no copy) */
	return _mm512_mask_max_ps(acc, _mm512_cmp_ps_mask(acc, acc, _CMP_ORD_Q), acc, v);
}

/* Output row oy, stride SW (1 or 2), windows of at most 64 rows: per
 * vector of 16 outputs and window column, the column's rows are reduced
 * in registers straight from the input (padding lanes masked to the
 * identity; a window row outside the input reads ident, a row of the
 * identity), the 16 window columns of a stride-2 row picked as the even
 * lanes of two vectors, then reduced across the window's columns. No
 * store is read back. ccnt: the columns' counts (averages). Inlined with
 * constant SW and AVG, and with K3 for a 3x3 window of dilation 1, whose
 * loops unroll: its 9 (stride 2: 18) loads are independent. */
__attribute__((always_inline, target("avx512f"))) static inline void
row_tmpl(const Pool *p, const float *plane, int64_t oy, const float *ccnt, const float *ident, float *y,
	 const int SW, const int AVG, const int K3)
{
	const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
	const float *r[64];
	int64_t y0 = oy * p->SH - p->PH, w = p->W;
	int64_t kh = K3 ? 3 : p->KH, kw = K3 ? 3 : p->KW, dw = K3 ? 1 : p->DW;
	__m512 id = _mm512_set1_ps(AVG ? 0.0f : -INFINITY);

	for (int64_t ky = 0; ky < kh; ky++) {
		int64_t iy = y0 + ky * p->DH;
		r[ky] = iy >= 0 && iy < p->H ? plane + iy * w : ident + p->PW;
	}
	__m512 rc = _mm512_set1_ps(AVG ? (float)inside(y0, p->KH, p->DH, p->vlo[0], p->vhi[0]) : 1.0f);
	for (int64_t ox = 0; ox < p->OW; ox += 16) {
		__mmask16 m = p->OW - ox >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (p->OW - ox)) - 1);
		int64_t c = ox * SW - p->PW;
		/* every window column's vectors inside the row: plain loads */
		int in = c >= 0 && c + (kw - 1) * dw + 16 * SW <= w;
		__m512 a = id;
		for (int64_t kx = 0; kx < kw; kx++, c += dw) {
			__mmask16 m0 = in ? 0xffff : rt_lanes_inside(c, w);
			__mmask16 m1 = in ? 0xffff : rt_lanes_inside(c + 16, w);
			__m512 h0 = id, h1 = id;
			for (int64_t q = 0; q < kh; q++) {
				__m512 v0 = _mm512_mask_loadu_ps(id, m0, r[q] + c);
				h0 = AVG ? _mm512_add_ps(h0, v0) : vmax_nan(h0, v0);
				if (SW == 2) {
					__m512 v1 = _mm512_mask_loadu_ps(id, m1, r[q] + c + 16);
					h1 = AVG ? _mm512_add_ps(h1, v1) : vmax_nan(h1, v1);
				}
			}
			if (SW == 2)
				h0 = _mm512_permutex2var_ps(h0, even, h1);
			a = AVG ? _mm512_add_ps(a, h0) : vmax_nan(a, h0);
		}
		if (AVG)
			a = _mm512_div_ps(a, _mm512_mul_ps(rc, _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, ccnt + ox)));
		_mm512_mask_storeu_ps(y + ox, m, a);
	}
}

__attribute__((target("avx512f"))) static void
row_avx512(const Pool *p, const float *plane, int64_t oy, const float *ccnt, const float *ident, float *y)
{
	int k3 = p->KH == 3 && p->KW == 3 && p->DW == 1;

	if (k3 && !p->avg) { /* the common max pools, unrolled */
		if (p->SW == 1)
			row_tmpl(p, plane, oy, ccnt, ident, y, 1, 0, 1);
		else
			row_tmpl(p, plane, oy, ccnt, ident, y, 2, 0, 1);
	} else if (p->SW == 1) {
		if (p->avg)
			row_tmpl(p, plane, oy, ccnt, ident, y, 1, 1, 0);
		else
			row_tmpl(p, plane, oy, ccnt, ident, y, 1, 0, 0);
	} else if (p->avg) {
		row_tmpl(p, plane, oy, ccnt, ident, y, 2, 1, 0);
	} else {
		row_tmpl(p, plane, oy, ccnt, ident, y, 2, 0, 0);
	}
}

/* A 3x3 max window of dilation 1 and strides s x s (1 or 2, a constant
 * once inlined): output rows [oy0, oy1) of one plane, by groups of NV
 * vectors of 16 outputs (a constant, at most 4: 64 outputs) walked down
 * the rows together, so each input row is read once, in order (a vector
 * at a time down the rows, a 56-wide output read the plane in four
 * strips: ResNet-18's stem pool 1.45-1.95 ms in its training step, 1.14-1.18
 * so). For each
 * input row the window's three columns are reduced once (stride 2: the
 * even and odd lanes of two vectors, and the even ones of two more), in
 * registers, then each output row takes the maximum of its three rows'
 * reductions: an input row shared by two output rows (three at stride 1)
 * is loaded and reduced once. Rows outside the input are the identity.
 * The maximum over the window is row_tmpl's, NaN included; where a window
 * holds several NaNs, or both zeros as its maximum, which of them comes
 * out may differ. */
/* One input row's reduction over the window's three columns for the
 * vector of outputs whose first window column is c (masked to the row
 * where edge: the lanes of the row's [0, w); else plain loads). */
__attribute__((always_inline, target("avx512f"))) static inline __m512
max3_row(const float *row, int64_t c, int64_t w, int edge, const int S)
{
	const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
	const __m512 id = _mm512_set1_ps(-INFINITY);
	const float *x = row + c;

	if (S == 1) {
		__m512 a, b, d;
		if (edge) {
			a = _mm512_mask_loadu_ps(id, rt_lanes_inside(c, w), x);
			b = _mm512_mask_loadu_ps(id, rt_lanes_inside(c + 1, w), x + 1);
			d = _mm512_mask_loadu_ps(id, rt_lanes_inside(c + 2, w), x + 2);
		} else {
			a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 1), d = _mm512_loadu_ps(x + 2);
		}
		return vmax_nan(vmax_nan(a, b), d);
	}
	__m512 lo, hi, lo2, hi2;
	if (edge) {
		lo = _mm512_mask_loadu_ps(id, rt_lanes_inside(c, w), x);
		hi = _mm512_mask_loadu_ps(id, rt_lanes_inside(c + 16, w), x + 16);
		lo2 = _mm512_mask_loadu_ps(id, rt_lanes_inside(c + 2, w), x + 2);
		hi2 = _mm512_mask_loadu_ps(id, rt_lanes_inside(c + 18, w), x + 18);
	} else {
		lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
		lo2 = _mm512_loadu_ps(x + 2), hi2 = _mm512_loadu_ps(x + 18);
	}
	return vmax_nan(vmax_nan(_mm512_permutex2var_ps(lo, even, hi), _mm512_permutex2var_ps(lo, odd, hi)),
			_mm512_permutex2var_ps(lo2, even, hi2));
}

/* A 3x3 max window of dilation 1 and strides s x s (1 or 2, a constant
 * once inlined): output rows [oy0, oy1) of one plane, by groups of NV
 * vectors of 16 outputs (a constant, at most 4: 64 outputs) walked down
 * the rows together, so each input row is read once, in order (a vector
 * at a time down the rows, a 56-wide output read the plane in four
 * strips: ResNet-18's stem pool 1.45-1.95 ms in its training step, 1.14-1.18
 * so). For each
 * input row the window's three columns are reduced once (stride 2: the
 * even and odd lanes of two vectors, and the even ones of two more), in
 * registers, then each output row takes the maximum of its three rows'
 * reductions: an input row shared by two output rows (three at stride 1)
 * is loaded and reduced once. Rows outside the input are the identity.
 * Only a vector whose loads leave the row (the first, the last) masks
 * them, its masks made where used: kept for every vector they were 20
 * live masks of the 8 mask registers, spilled and reloaded each row
 * (the stem's pool alone: 2.2-2.9 ms on one thread). The maximum over
 * the window is row_tmpl's, NaN included; where a window holds several
 * NaNs, or both zeros as its maximum, which of them comes out may
 * differ. */
__attribute__((always_inline, target("avx512f"))) static inline void
max3_group(const Pool *p, const float *plane, int64_t oy0, int64_t oy1, float *yp, int64_t ox0, const int S,
	   const int NV)
{
	const __m512 id = _mm512_set1_ps(-INFINITY);
	int64_t w = p->W, c[4];
	int edge[4];
	__m512 h[4][3];

	for (int v = 0; v < NV; v++) {
		c[v] = (ox0 + 16 * v) * S - p->PW;
		/* the loads reach columns [c, c + 16 S + 2] */
		edge[v] = c[v] < 0 || c[v] + 16 * S + 2 > w;
		h[v][0] = h[v][1] = h[v][2] = id;
	}
	for (int64_t oy = oy0; oy < oy1; oy++) {
		int64_t fresh = oy == oy0 ? 3 : S; /* reductions to compute */
		for (int64_t f = 0; f < fresh; f++) {
			int64_t iy = oy * S - p->PH + 3 - fresh + f;
			int in = iy >= 0 && iy < p->H;
			for (int v = 0; v < NV; v++) {
				__m512 r = in ? max3_row(plane + iy * w, c[v], w, edge[v], S) : id;
				h[v][0] = h[v][1], h[v][1] = h[v][2], h[v][2] = r; /* the window's rows, in order */
			}
		}
		for (int v = 0; v < NV; v++) {
			int64_t ox = ox0 + 16 * v;
			__mmask16 mo = p->OW - ox >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (p->OW - ox)) - 1);
			_mm512_mask_storeu_ps(yp + oy * p->OW + ox, mo, vmax_nan(vmax_nan(h[v][0], h[v][1]), h[v][2]));
		}
	}
}

__attribute__((always_inline, target("avx512f"))) static inline void
max3_tmpl(const Pool *p, const float *plane, int64_t oy0, int64_t oy1, float *yp, const int S)
{
	int64_t nv = (p->OW + 15) / 16, ox0 = 0;

	for (; nv >= 4; nv -= 4, ox0 += 64)
		max3_group(p, plane, oy0, oy1, yp, ox0, S, 4);
	if (nv == 3)
		max3_group(p, plane, oy0, oy1, yp, ox0, S, 3);
	else if (nv == 2)
		max3_group(p, plane, oy0, oy1, yp, ox0, S, 2);
	else if (nv == 1)
		max3_group(p, plane, oy0, oy1, yp, ox0, S, 1);
}

__attribute__((target("avx512f"))) static void
max3_s1(const Pool *p, const float *plane, int64_t oy0, int64_t oy1, float *yp)
{
	max3_tmpl(p, plane, oy0, oy1, yp, 1);
}

__attribute__((target("avx512f"))) static void
max3_s2(const Pool *p, const float *plane, int64_t oy0, int64_t oy1, float *yp)
{
	max3_tmpl(p, plane, oy0, oy1, yp, 2);
}

static void
pool_chunk(void *closure, int64_t ch)
{
	const Pool *p = closure;
	float t[NNCC_ABI_POOL_ROW], ccnt[NNCC_ABI_POOL_ROW];
	int vec = __builtin_cpu_supports("avx512f") && p->SW <= 2 && p->KH <= 64;

	if (p->avg)
		for (int64_t ox = 0; ox < p->OW; ox++)
			ccnt[ox] = (float)inside(ox * p->SW - p->PW, p->KW, p->DW, p->vlo[1], p->vhi[1]);
	if (vec) { /* the identity row, for window rows outside the input */
		for (int64_t i = 0; i < p->PW + p->W; i++)
			t[i] = p->avg ? 0.0f : -INFINITY;
	} else { /* the padded row: identity past the input */
		int64_t tn = (p->OW - 1) * p->SW + (p->KW - 1) * p->DW + 1;
		for (int64_t i = 0; i < tn; i++)
			if (i < p->PW || i >= p->PW + p->W)
				t[i] = p->avg ? 0.0f : -INFINITY;
	}
	int64_t r0 = ch * p->rows / p->nchunk, r1 = (ch + 1) * p->rows / p->nchunk;
	if (vec && !p->avg && p->KH == 3 && p->KW == 3 && p->DH == 1 && p->DW == 1 && p->SH == p->SW) {
		/* the 3x3 max pools: each plane's run of rows at once */
		for (int64_t r = r0; r < r1;) {
			int64_t pl = r / p->OH, oy = r % p->OH, n = p->OH - oy < r1 - r ? p->OH - oy : r1 - r;
			const float *x = p->x + pl * p->H * p->W;
			(p->SW == 1 ? max3_s1 : max3_s2)(p, x, oy, oy + n, p->y + pl * p->OH * p->OW);
			r += n;
		}
		return;
	}
	int64_t oy = r0 % p->OH;
	const float *x = p->x + r0 / p->OH * p->H * p->W;
	for (int64_t r = r0; r < r1; r++, oy++) { /* no division per row */
		if (oy == p->OH)
			oy = 0, x += p->H * p->W;
		float *y = p->y + r * p->OW;
		if (vec) {
			row_avx512(p, x, oy, ccnt, t, y);
		} else {
			rows_c(p, x, oy, t);
			cols_c(p, oy, t, ccnt, y);
		}
	}
}

/* p: see abi.h. */
HIDDEN void
nncc_rt_pool2d_f32(const float *x, float *y, const int64_t *p, const void *ctx)
{
	const nncc_abi_ctx *cx = ctx;
	Pool q = {
		.x = x, .y = y, .H = p[2], .W = p[3], .OH = p[4], .OW = p[5], .KH = p[6], .KW = p[7],
		.SH = p[8], .SW = p[9], .PH = p[10], .PW = p[11], .DH = p[12], .DW = p[13], .avg = p[14] != 0,
		.vlo = {p[15], p[17]}, .vhi = {p[16], p[18]},
	};

	if (!nncc_abi_pool(q.W, q.OW, q.KW, q.SW, q.PW, q.DW) || q.OH <= 0 || q.OW <= 0)
		return; /* the code generator calls only what fits (nncc_abi_pool) */
	q.rows = p[0] * p[1] * q.OH;
	int64_t work = q.rows * q.OW * q.KH * q.KW;
	q.nchunk = rt_chunks(q.rows, work);
	if (cx && cx->parallel_for && work >= 2 * COPY_CHUNK && q.nchunk > 1)
		cx->parallel_for(cx->pool, pool_chunk, &q, q.nchunk);
	else
		for (int64_t ch = 0; ch < q.nchunk; ch++)
			pool_chunk(&q, ch);
}
