/* conv_nd.c — the kernel library's general convolution
 * (nncc_rt_convnd_f32, abi.h): 3-D windows and the transposed
 * convolution, through im2col/col2im copies around the GEMM of gemm.c.
 * Built as kernels.c is (hidden symbols, no allocation, no error path). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include "abi.h"
#include "conv_direct.h"
#include "kernel_util.h"

/* Geometry of nncc_rt_convnd_f32 (p in its order); spatial index 0 is
 * depth, 1 height, 2 width. Also the job of one image and group, for the
 * chunks of its copies. */
typedef struct ConvNd {
	int64_t C, K, G;          /* channels in and out, groups */
	int64_t in[3], out[3];    /* spatial extents of x and y */
	int64_t kk[3];            /* window */
	int64_t st[3], pb[3], dl[3]; /* strides, front pads, dilations */
	int64_t ivol, ovol, kvol; /* products of in, out, kk */
	int64_t cg, kg;           /* channels in and out per group */
	const float *xg;          /* this image and group's input channels */
	float *yg;                /* this image and group's output planes */
	const float *bias;        /* this group's bias, or NULL */
	float *col;               /* scratch columns (this image's, in a block of images) */
	int64_t ldc;              /* floats from one col row to the next (transpose) */
	int64_t nchunk;           /* chunks of the copies */
} ConvNd;

/* col rows [r0, r1): col[(c*kvol + j)][o] = x_c[o*st - pb + j*dl] (0 in
 * the padding), for channels c of xg and every output position o. */
static void
im2col_nd(const ConvNd *v, int64_t r0, int64_t r1)
{
	for (int64_t r = r0; r < r1; r++) {
		int64_t c = r / v->kvol, j = r % v->kvol;
		int64_t jd = j / (v->kk[1] * v->kk[2]), jh = j / v->kk[2] % v->kk[1], jw = j % v->kk[2];
		float *row = v->col + r * v->ovol;
		const float *xc = v->xg + c * v->ivol;
		int64_t ow = jw * v->dl[2] - v->pb[2], lo, hi; /* input column o*st + ow */
		rt_valid_cols(ow, v->st[2], v->in[2], v->out[2], &lo, &hi);
		for (int64_t od = 0; od < v->out[0]; od++)
			for (int64_t oh = 0; oh < v->out[1]; oh++) {
				int64_t id = od * v->st[0] - v->pb[0] + jd * v->dl[0];
				int64_t ih = oh * v->st[1] - v->pb[1] + jh * v->dl[1];
				float *q = row + (od * v->out[1] + oh) * v->out[2];
				if (id < 0 || id >= v->in[0] || ih < 0 || ih >= v->in[1]) {
					memset(q, 0, (size_t)v->out[2] * sizeof(float));
					continue;
				}
				const float *xr = xc + (id * v->in[1] + ih) * v->in[2] + ow;
				memset(q, 0, (size_t)lo * sizeof(float));
				for (int64_t o = lo; o < hi; o++)
					q[o] = xr[o * v->st[2]];
				memset(q + hi, 0, (size_t)(v->out[2] - hi) * sizeof(float));
			}
	}
}

/* yr[i * st] += q[i] for i in [lo, hi), st 1 or 2, 16 (8) outputs a step:
 * with stride 2, q's floats spread to the even lanes. */
__attribute__((target("avx512f"))) static void
add_strided_avx512(float *yr, const float *q, int64_t lo, int64_t hi, int64_t st)
{
	if (st == 1) {
		for (int64_t i = lo; i < hi; i += 16) {
			__mmask16 m = (__mmask16)rt_lanes(0, hi - i);
			_mm512_mask_storeu_ps(yr + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, yr + i),
								       _mm512_maskz_loadu_ps(m, q + i)));
		}
		return;
	}
	const __m512i spread = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
	for (int64_t i = lo; i < hi; i += 8) {
		int64_t n = hi - i < 8 ? hi - i : 8;
		__mmask16 m = (__mmask16)rt_lanes(0, 2 * n - 1) & 0x5555; /* even lanes */
		__m512 qv = _mm512_permutexvar_ps(spread, _mm512_maskz_loadu_ps((__mmask16)rt_lanes(0, n), q + i));
		_mm512_mask_storeu_ps(yr + 2 * i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, yr + 2 * i), qv));
	}
}

/* b plus, for 16 output columns c + sw*l - PW (c: the first's column plus
 * the pad), every window row's col row at input columns (c - jw)/sw + l
 * for the window columns jw of c's parity, inside [0, iw): in the order
 * window row, window column. */
__attribute__((always_inline, target("avx512f"))) static inline __m512
col_sum(const float *const *rows, int64_t nr, int64_t kw, int64_t ldc, int64_t c, int64_t sw, int64_t iw,
	__m512 b)
{
	__m512 a = b;

	for (int64_t q = 0; q < nr; q++)
		for (int64_t jw = (sw == 2 ? (c & 1) : 0); jw < kw; jw += sw) {
			int64_t iw0 = (c - jw) / sw; /* exact: c - jw is a multiple of sw */
			__mmask16 m = rt_lanes_inside(iw0, iw);
			if (m)
				a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(m, rows[q] + jw * ldc + iw0));
		}
	return a;
}

/* col2im_nd for a 2-D window with width stride 1 or 2 and width dilation
 * 1, gathering instead of scattering: each output row is built once in
 * registers, 16 outputs (stride 1) or 32 (stride 2: the even and odd
 * output columns, each taking contiguous input columns from the window
 * columns of its parity, then interleaved) at a time, from the bias and
 * every (window row, window column) that reaches it, in the scatter's
 * order (window row, then column), so the sums are the same bits. */
__attribute__((target("avx512f"))) static void
col2im_rows_avx512(const ConvNd *v, int64_t k0, int64_t k1)
{
	const __m512i lo16 = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
	const __m512i hi16 = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
	int64_t IH = v->in[1], IW = v->in[2], OH = v->out[1], OW = v->out[2], KH = v->kk[1], KW = v->kk[2];
	int64_t SH = v->st[1], SW = v->st[2], PH = v->pb[1], PW = v->pb[2], DH = v->dl[1];
	int64_t step = 16 * SW;

	for (int64_t k = k0; k < k1; k++) {
		const float *ck = v->col + k * KH * KW * v->ldc;
		__m512 b = _mm512_set1_ps(v->bias ? v->bias[k] : 0.0f);
		for (int64_t oh = 0; oh < OH; oh++) {
			const float *rows[64]; /* per window row reaching oh: its col rows at the input row */
			int64_t nr = 0;
			for (int64_t jh = 0; jh < KH && nr < 64; jh++) {
				int64_t t = oh + PH - jh * DH;
				if (t >= 0 && t % SH == 0 && t / SH < IH)
					rows[nr++] = ck + jh * KW * v->ldc + t / SH * IW;
			}
			float *yr = v->yg + k * v->ovol + oh * OW;
			for (int64_t ow0 = 0; ow0 < OW; ow0 += step) {
				__mmask16 m0 = rt_lanes_inside(0, OW - ow0), m1 = rt_lanes_inside(0, OW - ow0 - 16);
				if (SW == 1) {
					_mm512_mask_storeu_ps(yr + ow0, m0, col_sum(rows, nr, KW, v->ldc, ow0 + PW, 1, IW, b));
					continue;
				}
				__m512 e = col_sum(rows, nr, KW, v->ldc, ow0 + PW, 2, IW, b); /* even columns */
				__m512 o = col_sum(rows, nr, KW, v->ldc, ow0 + 1 + PW, 2, IW, b); /* odd */
				_mm512_mask_storeu_ps(yr + ow0, m0, _mm512_permutex2var_ps(e, lo16, o));
				if (m1)
					_mm512_mask_storeu_ps(yr + ow0 + 16, m1, _mm512_permutex2var_ps(e, hi16, o));
			}
		}
	}
}

/* The adjoint of im2col_nd with input and output swapped, for output
 * channels [k0, k1) of the group: yg_k = bias_k (or 0), then
 * yg_k[i*st - pb + j*dl] += col[(k*kvol + j)][i] over every input position
 * i (positions outside y are dropped). Channels own disjoint planes, so
 * chunks of channels never race. */
static void
col2im_nd(const ConvNd *v, int64_t k0, int64_t k1)
{
	int avx512 = __builtin_cpu_supports("avx512f");

	if (avx512 && v->kk[0] == 1 && v->in[0] == 1 && v->out[0] == 1 && v->st[2] <= 2 && v->dl[2] == 1 &&
	    v->kk[1] <= 64) {
		col2im_rows_avx512(v, k0, k1);
		return;
	}

	for (int64_t k = k0; k < k1; k++) {
		float b = v->bias ? v->bias[k] : 0.0f, *yk = v->yg + k * v->ovol;
		for (int64_t i = 0; i < v->ovol; i++)
			yk[i] = b;
	}
	const float *row = v->col + k0 * v->kvol * v->ldc;
	for (int64_t k = k0; k < k1; k++) {
		float *yk = v->yg + k * v->ovol;
		for (int64_t jd = 0; jd < v->kk[0]; jd++)
			for (int64_t jh = 0; jh < v->kk[1]; jh++)
				for (int64_t jw = 0; jw < v->kk[2]; jw++, row += v->ldc) {
					int64_t ow = jw * v->dl[2] - v->pb[2], lo, hi; /* output column i*st + ow */
					rt_valid_cols(ow, v->st[2], v->out[2], v->in[2], &lo, &hi);
					if (lo >= hi)
						continue;
					for (int64_t id = 0; id < v->in[0]; id++) {
						int64_t od = id * v->st[0] - v->pb[0] + jd * v->dl[0];
						if (od < 0 || od >= v->out[0])
							continue;
						for (int64_t ih = 0; ih < v->in[1]; ih++) {
							int64_t oh = ih * v->st[1] - v->pb[1] + jh * v->dl[1];
							if (oh < 0 || oh >= v->out[1])
								continue;
							const float *q = row + (id * v->in[1] + ih) * v->in[2];
							float *yr = yk + (od * v->out[1] + oh) * v->out[2] + ow;
							if (avx512 && v->st[2] <= 2)
								add_strided_avx512(yr, q, lo, hi, v->st[2]);
							else
								for (int64_t i = lo; i < hi; i++)
									yr[i * v->st[2]] += q[i];
						}
					}
				}
	}
}

/* Chunk ch of one image and group's copies: im2col rows (forward). */
static void
im2col_chunk(void *closure, int64_t ch)
{
	const ConvNd *v = closure;
	int64_t rows = v->cg * v->kvol;

	im2col_nd(v, ch * rows / v->nchunk, (ch + 1) * rows / v->nchunk);
}

/* Chunk ch of one image and group's copies: col2im channels (transpose). */
static void
col2im_chunk(void *closure, int64_t ch)
{
	const ConvNd *v = closure;

	col2im_nd(v, ch * v->kg / v->nchunk, (ch + 1) * v->kg / v->nchunk);
}

/* p = {transpose, n, c, d, h, w, k, od, oh, ow, kd, kh, kw, sd, sh, sw,
 * pd, ph, pw, dd, dh, dw, group} (23 values): x [N,C,d,h,w], y
 * [N,K,od,oh,ow], bias [K] or NULL. Forward: w [K, C/G, kd, kh, kw],
 * scratch (C/G)*kd*kh*kw*od*oh*ow floats (im2col, then one GEMM per image
 * and group). Transpose: w [C, K/G, kd, kh, kw], scratch
 * nncc_abi_convt_scratch floats: one GEMM per block of
 * nncc_abi_convt_images images and group into columns (the block's inputs
 * side by side first, when more than one), then col2im accumulates each
 * image's columns into y, which starts as the bias. ctx (an nncc_abi_ctx,
 * or NULL) lends threads to the im2col/col2im copies of big convolutions,
 * in fixed chunks; and to the GEMMs. */
HIDDEN void
nncc_rt_convnd_f32(const float *x, const float *w, const float *bias, float *y,
		   float *scratch, const int64_t *p, const void *ctx)
{
	const nncc_abi_ctx *cx = ctx;
	int transpose = p[0] != 0;
	int64_t N = p[1];
	ConvNd v = {.C = p[2], .K = p[6], .G = p[22], .col = scratch};

	for (int a = 0; a < 3; a++) {
		v.in[a] = p[3 + a];
		v.out[a] = p[7 + a];
		v.kk[a] = p[10 + a];
		v.st[a] = p[13 + a];
		v.pb[a] = p[16 + a];
		v.dl[a] = p[19 + a];
	}
	if (v.G <= 0 || v.C % v.G || v.K % v.G)
		return;
	v.ivol = v.in[0] * v.in[1] * v.in[2];
	v.ovol = v.out[0] * v.out[1] * v.out[2];
	v.kvol = v.kk[0] * v.kk[1] * v.kk[2];
	v.cg = v.C / v.G;
	v.kg = v.K / v.G;
	/* elements copied per image and group: the columns (and the planes) */
	int64_t work = transpose ? v.kg * (v.kvol * v.ivol + v.ovol) : v.cg * v.kvol * v.ovol;
	v.nchunk = rt_chunks(transpose ? v.kg : v.cg * v.kvol, work);
	int par = cx && cx->parallel_for && work >= 2 * COPY_CHUNK && v.nchunk > 1;
	void (*copy)(void *, int64_t) = transpose ? col2im_chunk : im2col_chunk;
	int64_t nb = transpose ? nncc_abi_convt_images(N, v.ivol) : 1, rows = v.kg * v.kvol;
	v.ldc = v.ivol;
	for (int64_t b0 = 0; b0 < N && nb > 1; b0 += nb) {
		/* a transposed convolution of small inputs: per group, one GEMM
		 * over a block of images, their inputs side by side (xs: cg x
		 * n*ivol), into col (rows x n*ivol), each image's columns then
		 * into its planes (a GEMM per image would be ivol columns wide:
		 * ResNet-18's strided input gradient at 7x7, 49; its packing of
		 * the weight's transpose, a training step's, every image) */
		int64_t n = N - b0 < nb ? N - b0 : nb;
		float *xs = scratch + nb * rows * v.ivol;
		v.ldc = n * v.ivol;
		for (int64_t g = 0; g < v.G; g++) {
			for (int64_t c = 0; c < v.cg; c++)
				for (int64_t b = 0; b < n; b++)
					memcpy(xs + (c * n + b) * v.ivol, x + ((b0 + b) * v.C + g * v.cg + c) * v.ivol,
					       (size_t)v.ivol * sizeof(float));
			rt_gemm_const_at(cx, w, (uint32_t)g, rows, n * v.ivol, v.cg, w + g * v.cg * rows, xs,
					 n * v.ivol, scratch, n * v.ivol);
			for (int64_t b = 0; b < n; b++) {
				v.yg = y + ((b0 + b) * v.K + g * v.kg) * v.ovol;
				v.bias = bias ? bias + g * v.kg : NULL;
				v.col = scratch + b * v.ivol;
				if (par)
					cx->parallel_for(cx->pool, copy, &v, v.nchunk);
				else
					for (int64_t ch = 0; ch < v.nchunk; ch++)
						copy(&v, ch);
			}
		}
	}
	for (int64_t b = 0; b < N && nb <= 1; b++)
		for (int64_t g = 0; g < v.G; g++) {
			v.xg = x + (b * v.C + g * v.cg) * v.ivol;
			v.yg = y + (b * v.K + g * v.kg) * v.ovol;
			v.bias = bias ? bias + g * v.kg : NULL;
			/* transpose: scratch (kg*kvol x ivol) = wg^T (kg*kvol x cg) * xg
			 * (cg x ivol); wg^T's panels from the weight cache. An input of
			 * one position (DCGAN's first layer) is a row vector times wg */
			if (transpose && v.ivol == 1)
				rt_gemm_rm(cx, v.xg, w + g * v.cg * v.kg * v.kvol, scratch, 1, v.kg * v.kvol, v.cg, 0, 0,
					   0.0f);
			else if (transpose)
				rt_gemm_const_at(cx, w, (uint32_t)g, v.kg * v.kvol, v.ivol, v.cg,
						 w + g * v.cg * v.kg * v.kvol, v.xg, v.ivol, scratch, v.ivol);
			else if (v.bias)
				for (int64_t o = 0; o < v.kg; o++)
					for (int64_t i = 0; i < v.ovol; i++)
						v.yg[o * v.ovol + i] = v.bias[o];
			if (par)
				cx->parallel_for(cx->pool, copy, &v, v.nchunk);
			else
				for (int64_t ch = 0; ch < v.nchunk; ch++)
					copy(&v, ch);
			if (!transpose) /* yg (kg x ovol) = wg (kg x cg*kvol) * col (+ bias) */
				rt_gemm_rm(cx, w + g * v.kg * v.cg * v.kvol, scratch, v.yg, v.kg, v.ovol, v.cg * v.kvol, 0, 0,
				     bias ? 1.0f : 0.0f);
		}
}
