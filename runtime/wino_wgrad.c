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

#include <immintrin.h>

#include "conv_direct.h"
#include "gemm.h"
#include "kernel_util.h"
#include "winograd.h"

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

/* Columns 2t + j (j = 0 .. 3, t the 16 lanes) of the row run at p: the
 * run's columns [lo, hi) are inside (the rest read zero). */
__attribute__((target("avx512f"))) static inline void
deal4(const float *p, int64_t lo, int64_t hi, __m512 d[4])
{
	const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
	__m512 v[4];

	for (int k = 0; k < 4; k++) { /* loads at 0, 16, 2, 18 */
		int64_t o = (k & 1) * 16 + (k >> 1) * 2, a = lo - o < 0 ? 0 : lo - o, b = hi - o > 16 ? 16 : hi - o;
		v[k] = a < b ? _mm512_maskz_loadu_ps((__mmask16)rt_lanes(a, b), p + o) : _mm512_setzero_ps();
	}
	d[0] = _mm512_permutex2var_ps(v[0], even, v[1]);
	d[1] = _mm512_permutex2var_ps(v[0], odd, v[1]);
	d[2] = _mm512_permutex2var_ps(v[2], even, v[3]);
	d[3] = _mm512_permutex2var_ps(v[2], odd, v[3]);
}

/* The 16 transformed vectors of each of a group's 16 rows (buf[xi][row],
 * lanes over tiles) turned lanes over rows, one vector per tile, into
 * the transposed operand at op (xi stride xs, tile stride ld): the first
 * cnt tiles, the first nrow lanes. */
__attribute__((target("avx512f"))) static inline void
put_tr(__m512 buf[16][16], float *op, int64_t xs, int64_t ld, int64_t cnt, int nrow)
{
	__mmask16 mk = (__mmask16)rt_lanes(0, nrow);

	for (int xi = 0; xi < 16; xi++) {
		rt_tr16(buf[xi]);
		for (int64_t j = 0; j < cnt; j++)
			_mm512_mask_storeu_ps(op + xi * xs + j * ld, mk, buf[xi][j]);
	}
}

/* V^T for the groups of 16 channels [g0, g1) of the block: for each tile
 * row (c, ty) and run of 16 tiles, B^T d B of x[n][c]'s padded rows 2ty
 * .. 2ty+3, columns 2tx .. 2tx+3, lanes over the tiles, then turned
 * lanes over the group's channels: V^T[xi][q][n] (rows of N floats), q
 * the tile's place in the block. */
__attribute__((target("avx512f"))) static void
v_groups(const WW *s, int64_t g0, int64_t g1)
{
	__m512 buf[16][16];
	int64_t xs = s->ld * s->N;

	for (int64_t g = g0; g < g1; g++) {
		int64_t n0 = 16 * g;
		int nrow = s->N - n0 < 16 ? (int)(s->N - n0) : 16;
		for (int64_t row = s->lo; row < s->hi; row++) {
			int64_t c = row / s->th, ty = row % s->th, q0 = (row - s->lo) * s->tw;
			for (int64_t tx0 = 0; tx0 < s->tw; tx0 += 16) {
				int64_t cnt = s->tw - tx0 < 16 ? s->tw - tx0 : 16, x0 = 2 * tx0 - s->PW;
				int64_t lo = -x0 > 0 ? -x0 : 0, hi = s->W - x0;
				for (int l = 0; l < 16; l++) {
					__m512 d[4][4], e[4][4];
					const float *xc = s->x + ((n0 + l) * s->C + c) * s->H * s->W + x0;
					for (int u = 0; u < 4; u++) {
						int64_t iy = 2 * ty + u - s->PH;
						if (l >= nrow || iy < 0 || iy >= s->H)
							d[u][0] = d[u][1] = d[u][2] = d[u][3] = _mm512_setzero_ps();
						else
							deal4(xc + iy * s->W, lo, hi, d[u]);
					}
					for (int j = 0; j < 4; j++) { /* B^T down the columns */
						e[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
						e[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
						e[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
						e[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
					}
					for (int a = 0; a < 4; a++) { /* and along the rows */
						buf[4 * a + 0][l] = _mm512_sub_ps(e[a][0], e[a][2]);
						buf[4 * a + 1][l] = _mm512_add_ps(e[a][1], e[a][2]);
						buf[4 * a + 2][l] = _mm512_sub_ps(e[a][2], e[a][1]);
						buf[4 * a + 3][l] = _mm512_sub_ps(e[a][1], e[a][3]);
					}
				}
				put_tr(buf, s->v + (q0 + tx0) * s->N + n0, xs, s->N, cnt, nrow);
			}
		}
	}
}

/* -x, as the scalar negation (the sign flipped, zeros too) */
__attribute__((target("avx512f"))) static inline __m512
neg16(__m512 x)
{
	return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN)));
}

/* U^T for the groups of 16 filters [g0, g1): A e A^T of w[k][c]'s rows
 * 2ty, 2ty+1, columns 2tx, 2tx+1 (zeros past the window), lanes over the
 * tiles, turned lanes over the filters: U^T[xi][q][k]. */
__attribute__((target("avx512f"))) static void
u_groups(const WW *s, int64_t g0, int64_t g1)
{
	const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
	__m512 buf[16][16];
	int64_t xs = s->ld * s->K;

	for (int64_t g = g0; g < g1; g++) {
		int64_t k0 = 16 * g;
		int nrow = s->K - k0 < 16 ? (int)(s->K - k0) : 16;
		for (int64_t row = s->lo; row < s->hi; row++) {
			int64_t c = row / s->th, ty = row % s->th, q0 = (row - s->lo) * s->tw;
			for (int64_t tx0 = 0; tx0 < s->tw; tx0 += 16) {
				int64_t cnt = s->tw - tx0 < 16 ? s->tw - tx0 : 16, x0 = 2 * tx0;
				int64_t hi = s->KW - x0;
				for (int l = 0; l < 16; l++) {
					__m512 e[2][2];
					const float *wc = s->w + ((k0 + l) * s->C + c) * s->KH * s->KW + x0;
					for (int u = 0; u < 2; u++) {
						if (l >= nrow || 2 * ty + u >= s->KH) {
							e[u][0] = e[u][1] = _mm512_setzero_ps();
							continue;
						}
						const float *p = wc + (2 * ty + u) * s->KW;
						__m512 a = _mm512_maskz_loadu_ps((__mmask16)rt_lanes(0, hi > 16 ? 16 : hi), p);
						__m512 b = hi > 16 ? _mm512_maskz_loadu_ps((__mmask16)rt_lanes(0, hi - 16 > 16 ? 16 : hi - 16), p + 16)
								   : _mm512_setzero_ps();
						e[u][0] = _mm512_permutex2var_ps(a, even, b);
						e[u][1] = _mm512_permutex2var_ps(a, odd, b);
					}
					for (int a = 0; a < 4; a++) { /* A down the columns, then along the rows */
						__m512 t0 = a == 0 ? e[0][0] : a == 1 ? _mm512_add_ps(e[0][0], e[1][0])
								 : a == 2 ? _mm512_sub_ps(e[0][0], e[1][0]) : neg16(e[1][0]);
						__m512 t1 = a == 0 ? e[0][1] : a == 1 ? _mm512_add_ps(e[0][1], e[1][1])
								 : a == 2 ? _mm512_sub_ps(e[0][1], e[1][1]) : neg16(e[1][1]);
						buf[4 * a + 0][l] = t0;
						buf[4 * a + 1][l] = _mm512_add_ps(t0, t1);
						buf[4 * a + 2][l] = _mm512_sub_ps(t0, t1);
						buf[4 * a + 3][l] = neg16(t1);
					}
				}
				put_tr(buf, s->u + (q0 + tx0) * s->K + k0, xs, s->K, cnt, nrow);
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
		phase(cx, v_groups, &s, (N + 15) / 16);
		phase(cx, u_groups, &s, (K + 15) / 16);
		int64_t tb = (s.hi - s.lo) * s.tw;
		for (int xi = 0; xi < 16; xi++) /* M[xi] (N x K) += (V^T[xi])^T U^T[xi] */
			rt_gemm(cx, N, K, tb, s.v + xi * s.ld * N, N, 1, s.u + xi * s.ld * K, K, 0, lo > 0,
				s.m + xi * N * K, K);
	}
	phase(cx, y_rows, &s, N);
	return 1;
}
