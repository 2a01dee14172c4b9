/* wino_wgrad.c — the weight gradient of a 3x3 convolution of stride 1 by
 * Winograd's minimal filtering read backwards. Part of the kernel library.
 *
 * autodiff writes that gradient as a wide convolution (kernels.c): x's
 * channels as the images (n), its images as the channels (c), the output
 * adjoint as the window (kh x kw, 56 x 56 for ResNet-18's first stage),
 * and a 3 x 3 output, y[n][k][i][j] = sum over c, a, b of w[k][c][a][b] *
 * xpad[n][c][a + i][b + j]. F(2x2, 3x3) computes a 2 x 2 output tile of a
 * 3 x 3 filter from a 4 x 4 input tile; its trilinear form read with the
 * filter as the unknown gives a 3 x 3 output from a 2 x 2 window tile e
 * and the same 4 x 4 input tile d:
 *
 *     y = G^T [ (A e A^T) (.) (B^T d B) ] G
 *
 * with F(2x2, 3x3)'s B^T (the forward input transform), A = (A^T)^T its
 * output transform and G its filter transform (Lavin and Gray 2016; the
 * same points 0, 1, -1 and infinity). Summed over every tile of the
 * window and every channel, the 16 elementwise products are 16 GEMMs,
 * M[xi] (n x k) += V[xi] (n x tiles) U[xi]^T (tiles x k), 16 multiply-adds
 * a tile pair where the direct sum takes 36 (2 x 2 window positions times
 * 9 outputs): 2.25 times fewer. The tiles go in blocks of whole tile rows
 * (about BLOCK_TILES), V and U transformed into the scratch per block, M
 * accumulated across the blocks; then y = G^T M G. Every sum runs in one
 * order whatever the thread count (the GEMM sums each block in its fixed
 * order, the blocks in order). Where it runs: abi.h nncc_abi_wino_wgrad. */
#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include "conv_direct.h"
#include "gemm.h"
#include "kernel_util.h"

typedef struct WW {
	const float *x, *w;
	float *y;
	const float *bias;
	int64_t N, C, H, W, K, KH, KW, PH, PW;
	int64_t th, tw;   /* tile rows and columns of a window plane */
	int64_t lo, hi;   /* the block: tile rows [lo, hi) of all C * th */
	int64_t ld;       /* floats between rows of V and U: the most tiles a block holds */
	float *v, *u, *m; /* V: 16 x N x ld; U: 16 x K x ld; M: 16 x N x K */
	int64_t nchunk;
} WW;

/* V rows [n0, n1) of the block: for each tile row (c, ty) and tile tx,
 * B^T d B of x[n][c]'s padded rows 2ty .. 2ty+3, columns 2tx .. 2tx+3,
 * into V[xi][n][q], q the tile's place in the block. */
static void
v_rows(const WW *s, int64_t n0, int64_t n1)
{
	int64_t wp = 2 * s->tw + 2, np = s->N * s->ld;
	float r[4][wp], t[4][wp];

	for (int64_t n = n0; n < n1; n++)
		for (int64_t row = s->lo; row < s->hi; row++) {
			int64_t c = row / s->th, ty = row % s->th, q0 = (row - s->lo) * s->tw;
			const float *xc = s->x + (n * s->C + c) * s->H * s->W;
			for (int u = 0; u < 4; u++) { /* padded row 2ty + u */
				int64_t iy = 2 * ty + u - s->PH;
				memset(r[u], 0, sizeof r[u]);
				if (iy < 0 || iy >= s->H)
					continue;
				int64_t b0 = s->PW, b1 = s->PW + s->W < wp ? s->PW + s->W : wp;
				if (b1 > b0)
					memcpy(r[u] + b0, xc + iy * s->W, (size_t)(b1 - b0) * sizeof(float));
			}
			for (int64_t j = 0; j < wp; j++) { /* B^T along the rows */
				t[0][j] = r[0][j] - r[2][j];
				t[1][j] = r[1][j] + r[2][j];
				t[2][j] = r[2][j] - r[1][j];
				t[3][j] = r[1][j] - r[3][j];
			}
			for (int a = 0; a < 4; a++) { /* and along the columns, tile by tile */
				float *o = s->v + (4 * a * s->N + n) * s->ld + q0;
				const float *ta = t[a];
				for (int64_t tx = 0; tx < s->tw; tx++) {
					float d0 = ta[2 * tx], d1 = ta[2 * tx + 1], d2 = ta[2 * tx + 2], d3 = ta[2 * tx + 3];
					o[tx] = d0 - d2;
					o[np + tx] = d1 + d2;
					o[2 * np + tx] = d2 - d1;
					o[3 * np + tx] = d1 - d3;
				}
			}
		}
}

/* U rows [k0, k1) of the block: A e A^T of w[k][c]'s rows 2ty, 2ty+1,
 * columns 2tx, 2tx+1 (zeros past the window), into U[xi][k][q]. */
static void
u_rows(const WW *s, int64_t k0, int64_t k1)
{
	int64_t wp = 2 * s->tw, nu = s->K * s->ld;
	float r[2][wp], t[4][wp];

	for (int64_t k = k0; k < k1; k++)
		for (int64_t row = s->lo; row < s->hi; row++) {
			int64_t c = row / s->th, ty = row % s->th, q0 = (row - s->lo) * s->tw;
			const float *wc = s->w + (k * s->C + c) * s->KH * s->KW;
			for (int u = 0; u < 2; u++) {
				memset(r[u], 0, sizeof r[u]);
				if (2 * ty + u < s->KH)
					memcpy(r[u], wc + (2 * ty + u) * s->KW, (size_t)s->KW * sizeof(float));
			}
			for (int64_t j = 0; j < wp; j++) { /* A along the rows */
				t[0][j] = r[0][j];
				t[1][j] = r[0][j] + r[1][j];
				t[2][j] = r[0][j] - r[1][j];
				t[3][j] = -r[1][j];
			}
			for (int a = 0; a < 4; a++) {
				float *o = s->u + (4 * a * s->K + k) * s->ld + q0;
				const float *ta = t[a];
				for (int64_t tx = 0; tx < s->tw; tx++) {
					float e0 = ta[2 * tx], e1 = ta[2 * tx + 1];
					o[tx] = e0;
					o[nu + tx] = e0 + e1;
					o[2 * nu + tx] = e0 - e1;
					o[3 * nu + tx] = -e1;
				}
			}
		}
}

/* y[n][k0 ..) = G^T M[.][n][k] G (+ bias[k]), 16 filters a step across
 * the lanes, each of the 9 outputs scattered to its place in the 16
 * filters' 144 contiguous floats; the filters done (a multiple of 16).
 * The scalar loop took a quarter of layer 4's call (3.0 of 11.4 ms). */
__attribute__((target("avx512f"))) static int64_t
y_lanes(const WW *s, int64_t n)
{
	int64_t nk = s->N * s->K, k = 0;
	const __m512 h = _mm512_set1_ps(0.5f);

	for (; k + 16 <= s->K; k += 16) {
		const float *m = s->m + n * s->K + k;
		float *y = s->y + (n * s->K + k) * 9;
		__m512 b = s->bias ? _mm512_loadu_ps(s->bias + k) : _mm512_setzero_ps(), t[3][4];
		float o[9][16] __attribute__((aligned(64)));
		for (int e = 0; e < 4; e++) { /* G^T down each column e */
			__m512 m0 = _mm512_loadu_ps(m + (0 * 4 + e) * nk), m1 = _mm512_loadu_ps(m + (1 * 4 + e) * nk);
			__m512 m2 = _mm512_loadu_ps(m + (2 * 4 + e) * nk), m3 = _mm512_loadu_ps(m + (3 * 4 + e) * nk);
			__m512 p = _mm512_mul_ps(h, _mm512_add_ps(m1, m2));
			t[0][e] = _mm512_add_ps(m0, p);
			t[1][e] = _mm512_mul_ps(h, _mm512_sub_ps(m1, m2));
			t[2][e] = _mm512_add_ps(p, m3);
		}
		for (int i = 0; i < 3; i++) { /* and along each row */
			__m512 p = _mm512_mul_ps(h, _mm512_add_ps(t[i][1], t[i][2]));
			__m512 r0 = _mm512_add_ps(_mm512_add_ps(t[i][0], p), b);
			__m512 r1 = _mm512_add_ps(_mm512_mul_ps(h, _mm512_sub_ps(t[i][1], t[i][2])), b);
			__m512 r2 = _mm512_add_ps(_mm512_add_ps(p, t[i][3]), b);
			_mm512_store_ps(o[i * 3 + 0], r0);
			_mm512_store_ps(o[i * 3 + 1], r1);
			_mm512_store_ps(o[i * 3 + 2], r2);
		}
		for (int l = 0; l < 16; l++) /* filter-major: the 16 filters' 144 floats */
			for (int q = 0; q < 9; q++)
				y[l * 9 + q] = o[q][l];
	}
	return k;
}

/* y rows [n0, n1): y[n][k] = G^T M[.][n][k] G (+ bias[k]). */
static void
y_rows(const WW *s, int64_t n0, int64_t n1)
{
	int64_t nk = s->N * s->K;
	int lanes = __builtin_cpu_supports("avx512f");

	for (int64_t n = n0; n < n1; n++)
		for (int64_t k = lanes ? y_lanes(s, n) : 0; k < s->K; k++) {
			const float *m = s->m + n * s->K + k;
			float t[3][4], *y = s->y + (n * s->K + k) * 9, b = s->bias ? s->bias[k] : 0.0f;
			for (int e = 0; e < 4; e++) { /* G^T down each column e */
				float m0 = m[(0 * 4 + e) * nk], m1 = m[(1 * 4 + e) * nk];
				float m2 = m[(2 * 4 + e) * nk], m3 = m[(3 * 4 + e) * nk];
				t[0][e] = m0 + 0.5f * (m1 + m2);
				t[1][e] = 0.5f * (m1 - m2);
				t[2][e] = 0.5f * (m1 + m2) + m3;
			}
			for (int i = 0; i < 3; i++) { /* and along each row */
				y[i * 3 + 0] = t[i][0] + 0.5f * (t[i][1] + t[i][2]) + b;
				y[i * 3 + 1] = 0.5f * (t[i][1] - t[i][2]) + b;
				y[i * 3 + 2] = 0.5f * (t[i][1] + t[i][2]) + t[i][3] + b;
			}
		}
}

/* rows(s, lo, hi) over [0, n), in s->nchunk fixed chunks on the threads */
typedef struct Job {
	const WW *s;
	void (*rows)(const WW *, int64_t, int64_t);
	int64_t n;
} Job;

static void
job_chunk(void *closure, int64_t ch)
{
	const Job *j = closure;

	j->rows(j->s, ch * j->n / j->s->nchunk, (ch + 1) * j->n / j->s->nchunk);
}

static void
phase(const nncc_abi_ctx *cx, void (*rows)(const WW *, int64_t, int64_t), const WW *s, int64_t n)
{
	Job j = {s, rows, n};

	if (s->nchunk > 1)
		cx->parallel_for(cx->pool, job_chunk, &j, s->nchunk);
	else
		rows(s, 0, n);
}

int
rt_conv2d_wino_wgrad(const float *x, const float *w, const float *bias, float *y, float *scratch, int64_t room,
		     const int64_t *p, const nncc_abi_ctx *cx)
{
	int64_t N = p[0], C = p[1], H = p[2], W = p[3], K = p[4], OH = p[5], OW = p[6], KH = p[7], KW = p[8];
	WW s = {.x = x, .w = w, .y = y, .bias = bias, .N = N, .C = C, .H = H, .W = W, .K = K, .KH = KH,
		.KW = KW, .PH = p[11], .PW = p[12]};

	if (!scratch || p[11] < 0 || p[12] < 0 ||
	    !nncc_abi_wino_wgrad(N, K, p[15], OH, OW, KH, KW, p[9], p[10], p[13], p[14]) ||
	    nncc_abi_wino_wgrad_scratch(N, C, K, KH, KW) > room || !cx)
		return 0;
	s.th = (KH + 1) / 2, s.tw = (KW + 1) / 2;
	int64_t rows = nncc_abi_wino_wgrad_rows(C, KH, KW);
	s.ld = rows * s.tw;
	s.m = scratch;
	s.v = s.m + 16 * N * K;
	s.u = s.v + 16 * N * s.ld;
	s.nchunk = cx && cx->parallel_for && cx->nthreads > 1 ? cx->nthreads : 1;
	for (int64_t lo = 0; lo < C * s.th; lo += rows) {
		s.lo = lo, s.hi = lo + rows < C * s.th ? lo + rows : C * s.th;
		phase(cx, v_rows, &s, N);
		phase(cx, u_rows, &s, K);
		int64_t tb = (s.hi - s.lo) * s.tw;
		for (int xi = 0; xi < 16; xi++) /* M[xi] (N x K) += V[xi] (N x tb) U[xi]^T */
			rt_gemm(cx, N, K, tb, s.v + xi * N * s.ld, s.ld, 0, s.u + xi * K * s.ld, s.ld, 1, lo > 0,
				s.m + xi * N * K, K);
	}
	phase(cx, y_rows, &s, N);
	return 1;
}
