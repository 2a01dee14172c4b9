/* kernels.c — the kernel library linked statically into every compiled
 * model: batched matmul and 2-D convolution on top of OpenBLAS's sgemm.
 *
 * Built with -fvisibility=hidden (and the entry points say so too), so each
 * model carries a private copy and two models never clash. No allocation,
 * no globals, no error path: the code generator has already checked every
 * shape; the caller provides any scratch memory (see conv2d below). Index
 * arithmetic is in int64_t; each GEMM extent must fit BLAS's int. */
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

/* col[(c*kh + i)*kw + j][oy*ow + ox] = x[c][oy*sh - ph + i*dh][ox*sw - pw + j*dw],
 * zero where that falls in the padding. x is one group of one image. */
static void
im2col(const float *x, float *col, int64_t cg, int64_t h, int64_t w, int64_t oh, int64_t ow,
       int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh,
       int64_t dw)
{
	for (int64_t c = 0; c < cg; c++)
		for (int64_t i = 0; i < kh; i++)
			for (int64_t j = 0; j < kw; j++) {
				float *row = col + ((c * kh + i) * kw + j) * oh * ow;
				const float *xc = x + c * h * w;
				for (int64_t oy = 0; oy < oh; oy++) {
					int64_t iy = oy * sh - ph + i * dh;
					float *r = row + oy * ow;
					if (iy < 0 || iy >= h) {
						memset(r, 0, (size_t)ow * sizeof(float));
						continue;
					}
					const float *xr = xc + iy * w;
					for (int64_t ox = 0; ox < ow; ox++) {
						int64_t ix = ox * sw - pw + j * dw;
						r[ox] = ix >= 0 && ix < w ? xr[ix] : 0.0f;
					}
				}
			}
}

/* p = {n, c, h, w, k, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, group}.
 * x [N,C,H,W], w [K, C/G, kh, kw], bias [K] or NULL, y [N,K,oh,ow].
 * ph/pw are the top/left pads; the bottom/right ones follow from oh/ow.
 * scratch holds (C/G)*kh*kw*oh*ow floats, and may be NULL exactly when
 * kh == kw == 1, sh == sw == 1, ph == pw == 0, oh == h and ow == w (the
 * 1x1 fast path multiplies x directly). */
HIDDEN void
nncc_rt_conv2d_f32(const float *x, const float *w, const float *bias, float *y,
		   float *scratch, const int64_t *p)
{
	int64_t N = p[0], C = p[1], H = p[2], W = p[3], K = p[4], OH = p[5], OW = p[6];
	int64_t KH = p[7], KW = p[8], SH = p[9], SW = p[10], PH = p[11], PW = p[12];
	int64_t DH = p[13], DW = p[14], G = p[15];
	int64_t cg, kg, ckk, hw = OH * OW;
	int fast;

	if (G <= 0 || C % G || K % G)
		return;
	cg = C / G;
	kg = K / G;
	ckk = cg * KH * KW;
	fast = KH == 1 && KW == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0 && OH == H &&
	       OW == W;
	for (int64_t b = 0; b < N; b++)
		for (int64_t g = 0; g < G; g++) {
			const float *xg = x + (b * C + g * cg) * H * W;
			const float *wg = w + g * kg * ckk;
			float *yg = y + (b * K + g * kg) * hw;
			if (bias)
				for (int64_t o = 0; o < kg; o++) {
					float v = bias[g * kg + o];
					for (int64_t i = 0; i < hw; i++)
						yg[o * hw + i] = v;
				}
			if (!fast) {
				im2col(xg, scratch, cg, H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW);
				xg = scratch;
			}
			/* yg (kg x hw) = wg (kg x ckk) * xg (ckk x hw) (+ bias) */
			gemm(wg, xg, yg, kg, hw, ckk, 0, 0, bias ? 1.0f : 0.0f);
		}
}
