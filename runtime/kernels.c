/* kernels.c — the kernel library linked statically into every compiled
 * model: batched matmul and 2-D convolution on top of OpenBLAS's sgemm.
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

#include <cblas.h>

#include "abi.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* C (m x n, row-major) = op(A) * op(B) (+ C when beta is 1). A is m x k,
 * or k x m stored when trans_a; B is k x n, or n x k stored when trans_b. */
static void
gemm(const float *a, const float *b, float *c, int64_t m, int64_t n, int64_t k, int trans_a,
     int trans_b, float beta)
{
	if (m == 0 || n == 0)
		return;
	if (k == 0) { /* BLAS needs lda >= 1; the product is empty */
		if (beta == 0.0f)
			memset(c, 0, (size_t)(m * n) * sizeof(float));
		return;
	}
	cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
		    trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
		    (int)(trans_a ? m : k), b, (int)(trans_b ? k : n), beta, c, (int)n);
}

/* For every index (i0, .., i{nbatch-1}) of the batch extents bext, row-major:
 * C[sum i*sc] = op(A[sum i*sa]) * op(B[sum i*sb]). A stride 0 broadcasts. */
HIDDEN void
nncc_rt_matmul_f32(const float *a, const float *b, float *c, int32_t nbatch,
		   const int64_t *bext, const int64_t *sa, const int64_t *sb, const int64_t *sc,
		   int64_t m, int64_t n, int64_t k, int32_t trans_a, int32_t trans_b)
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
		gemm(a + oa, b + ob, c + oc, m, n, k, trans_a, trans_b, 0.0f);
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

/* The output columns [*lo, *hi) whose input column ox*sw + off falls
 * inside [0, w); the others read padding. */
static void
valid_cols(int64_t off, int64_t sw, int64_t w, int64_t ow, int64_t *lo, int64_t *hi)
{
	*lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
	*hi = w - off <= 0 ? 0 : (w - off + sw - 1) / sw;
	if (*hi > ow)
		*hi = ow;
	if (*lo > *hi)
		*lo = *hi;
}

enum { COPY_CHUNK = 16384, COPY_MAX_CHUNKS = 64 }; /* elements per chunk at least; chunks at most */

/* Chunks to split n rows holding work elements into. */
static int64_t
chunks(int64_t n, int64_t work)
{
	int64_t c = work / COPY_CHUNK;

	if (c > COPY_MAX_CHUNKS)
		c = COPY_MAX_CHUNKS;
	if (c > n)
		c = n;
	return c < 1 ? 1 : c;
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
	int64_t nrow;            /* chunks of col rows; the rest fill yg with the bias */
	int64_t nchunk;          /* chunks in all */
} Conv;

/* col rows [r0, r1), row (c*kh + i)*kw + j holding, at oy*ow + ox,
 * x[c][oy*sh - ph + i*dh][ox*sw - pw + j*dw], or 0 in the padding. Each
 * row is zeros, a copy (memcpy when sw is 1), zeros: no test per element. */
static void
im2col(const Conv *v, int64_t r0, int64_t r1)
{
	for (int64_t r = r0; r < r1; r++) {
		int64_t c = r / (v->KH * v->KW), i = r / v->KW % v->KH, j = r % v->KW;
		float *row = v->col + r * v->hw;
		const float *xc = v->xg + c * v->H * v->W;
		int64_t off = j * v->DW - v->PW, lo, hi;
		valid_cols(off, v->SW, v->W, v->OW, &lo, &hi);
		for (int64_t oy = 0; oy < v->OH; oy++) {
			int64_t iy = oy * v->SH - v->PH + i * v->DH;
			float *q = row + oy * v->OW;
			if (iy < 0 || iy >= v->H) {
				memset(q, 0, (size_t)v->OW * sizeof(float));
				continue;
			}
			const float *xr = xc + iy * v->W + off;
			memset(q, 0, (size_t)lo * sizeof(float));
			if (v->SW == 1)
				memcpy(q + lo, xr + lo, (size_t)(hi - lo) * sizeof(float));
			else
				for (int64_t ox = lo; ox < hi; ox++)
					q[ox] = xr[ox * v->SW];
			memset(q + hi, 0, (size_t)(v->OW - hi) * sizeof(float));
		}
	}
}

/* Output planes [o0, o1) of the group set to their bias. */
static void
fill_bias(const Conv *v, int64_t o0, int64_t o1)
{
	for (int64_t o = o0; o < o1; o++) {
		float b = v->bias[o], *q = v->yg + o * v->hw;
		for (int64_t i = 0; i < v->hw; i++)
			q[i] = b;
	}
}

/* Chunk ch of the copies before a group's GEMM: the first nrow chunks
 * split the col rows, the others the bias planes. */
static void
copy_chunk(void *closure, int64_t ch)
{
	const Conv *v = closure;
	int64_t nb = v->nchunk - v->nrow;

	if (ch < v->nrow)
		im2col(v, ch * v->ckk / v->nrow, (ch + 1) * v->ckk / v->nrow);
	else
		fill_bias(v, (ch - v->nrow) * v->kg / nb, (ch - v->nrow + 1) * v->kg / nb);
}

/* Depthwise (one input channel per group): output planes [o0, o1) of one
 * image computed directly, y[o] = bias[o] + sum_ij w[o,i,j] * x[o/kg] at
 * the window's offsets, row by row so the inner loop is a vector axpy.
 * x and y point at the image; no im2col, no GEMM of one row. */
static void
depthwise(const Conv *v, const float *x, const float *w, const float *bias, float *y, int64_t o0,
	  int64_t o1)
{
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
					valid_cols(off, v->SW, v->W, v->OW, &lo, &hi);
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

/* p = {n, c, h, w, k, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, group}.
 * x [N,C,H,W], w [K, C/G, kh, kw], bias [K] or NULL, y [N,K,oh,ow].
 * ph/pw are the top/left pads; the bottom/right ones follow from oh/ow.
 * scratch holds (C/G)*kh*kw*oh*ow floats, and may be NULL exactly when
 * kh == kw == 1, sh == sw == 1, ph == pw == 0, oh == h and ow == w (the
 * 1x1 fast path multiplies x directly). A depthwise convolution (several
 * groups of one input channel) runs directly, without scratch or GEMM. ctx
 * (an nncc_abi_ctx, or NULL) lends threads to the copies (im2col, bias)
 * of big convolutions and to depthwise planes; the GEMMs run on
 * OpenBLAS's own threads. */
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
	int fast, par;

	if (v.G <= 0 || v.C % v.G || v.K % v.G)
		return;
	v.cg = v.C / v.G;
	v.kg = v.K / v.G;
	v.ckk = v.cg * v.KH * v.KW;
	v.hw = v.OH * v.OW;
	v.col = scratch;
	fast = v.KH == 1 && v.KW == 1 && v.SH == 1 && v.SW == 1 && v.PH == 0 && v.PW == 0 &&
	       v.OH == v.H && v.OW == v.W;
	if (v.cg == 1 && v.G > 1) { /* depthwise: direct, threads over the planes */
		int64_t work = v.K * v.hw * v.KH * v.KW;
		Dw d = {&v, NULL, w, bias, NULL, chunks(v.K, work)};
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
	/* chunks of at least COPY_CHUNK elements; threads only for two chunks' worth */
	v.nrow = fast ? 0 : chunks(v.ckk, v.ckk * v.hw);
	v.nchunk = v.nrow + (bias ? chunks(v.kg, v.kg * v.hw) : 0);
	par = cx && cx->parallel_for && ((fast ? 0 : v.ckk) + (bias ? v.kg : 0)) * v.hw >= 2 * COPY_CHUNK;
	for (int64_t b = 0; b < N; b++)
		for (int64_t g = 0; g < v.G; g++) {
			const float *wg = w + g * v.kg * v.ckk;
			v.xg = x + (b * v.C + g * v.cg) * v.H * v.W;
			v.yg = y + (b * v.K + g * v.kg) * v.hw;
			v.bias = bias ? bias + g * v.kg : NULL;
			if (par)
				cx->parallel_for(cx->pool, copy_chunk, &v, v.nchunk);
			else
				for (int64_t ch = 0; ch < v.nchunk; ch++)
					copy_chunk(&v, ch);
			/* yg (kg x hw) = wg (kg x ckk) * col (ckk x hw) (+ bias) */
			gemm(wg, fast ? v.xg : v.col, v.yg, v.kg, v.hw, v.ckk, 0, 0, bias ? 1.0f : 0.0f);
		}
}
