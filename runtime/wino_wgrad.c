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
 * (about 512 tiles, abi.h nncc_abi_wino_wgrad_rows), V and U transformed
 * into the scratch per block by vectors over 16 channels (filters), V
 * straight into the GEMM micro-kernel's A panels and U as U^T, which the
 * micro-kernel reads in place: the products are micro-kernel calls with
 * nothing packed (mul_rows), M accumulated across the blocks; then y =
 * G^T M G. Where one block holds every tile row (abi.h
 * nncc_abi_wino_wgrad_fused: ResNet-18's last two stages), the products
 * go tile of M by tile (8 channels by 48 filters, for all nx) into the
 * output transform at once, in the thread's GEMM slot (fused_units): M
 * never goes whole through memory, and the scratch holds none. Every
 * sum runs in one order whatever the thread count (each (xi, 8
 * channels) sums a block's tiles in order, the blocks in order).
 *
 * Where the window holds enough 4 x 4 tiles (abi.h nncc_abi_wino_wgrad_m:
 * ResNet-18's 56 x 56 to 14 x 14 stages, and fused its 7 x 7), F(4x4,
 * 3x3) the same way: a 4
 * x 4 window tile and a 6 x 6 input tile, 36 products (GEMMs), the 9
 * outputs of 144 direct multiply-adds from 36: 1.78 times fewer than
 * F(2x2)'s, and V and U^T 2.25 times the input's and the window's size
 * where F(2x2)'s are 4 times. Its matrices are winograd.c's F(4x4, 3x3)
 * (points 0, 1, -1, 1/2, -2, infinity): rt_wino_bt4 for V, a4 (A, the
 * output transform read backwards) for U^T, gt6 (G^T) for y. It rounds
 * about 3 times as much as F(2x2) (at the first stage, the error's rms
 * 2.0e-6 of the outputs' against 6.5e-7), less than training's other
 * roundings move a step (docs/performance.md, lever 103).
 * Where it runs: abi.h nncc_abi_wino_wgrad. Its operands' planes may lie
 * with their two leading axes swapped (p[17], NNCC_CONV_SWAP_X, _W, _Y:
 * the activations and the adjoint as the training step holds them, the
 * gradient in the weight's layout): every plane is reached by its two
 * strides (WW xn, xc, wk, wc, yn, yk). */
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
	int64_t xn, xc;   /* floats from one plane of x to the next image's (n), channel's (c) */
	int64_t wk, wc;   /* the same for the window's planes: filter (k), channel (c) */
	int64_t yn, yk;   /* and for y's 3 x 3 outputs: image (n), filter (k) */
	int m, nx;        /* the window tile, m x m (2 or 4), and the products, (m + 2)^2 */
	int64_t th, tw;   /* tile rows and columns of a window plane */
	int64_t lo, hi;   /* the block: tile rows [lo, hi) of all C * th */
	int64_t ld;       /* the most tiles a block holds */
	int64_t vs, us;   /* floats from one product's V (U^T) to the next's: a line past its size */
	int64_t n16;      /* N rounded up to 16 */
	float *v, *u, *mm; /* V: nx x n16 x ld (A panels, vs apart); U^T: nx x ld x K (us apart); M: nx x N x K */
	int64_t tb;       /* tiles of the block */
	int acc;          /* the block adds to M (not the first) */
	RtTile tile;      /* the micro-kernel, WW_MR x WW_NR */
	int64_t nchunk;
	char *gs;         /* fused (one block): the GEMM slots, each chunk's M tiles */
} WW;

/* The micro-kernel's tile: 8 rows, so each 16 channels' vector of V
 * leaves as two aligned halves, whole panel rows (A panels of 12 rows
 * took a masked store of 12 lanes across a line); B, U^T, is read in
 * place, 48 columns a call. */
enum { WW_MR = 8, WW_NR = 48 };

/* col[j] = column j of a run of 16 columns, lanes over the 16 rows
 * p + l * ps (l < nrow; the rest zero), the run's columns [lo, hi) read
 * (the rest zero): 16 masked loads and a 16 x 16 transpose. */
__attribute__((target("avx512f"))) static inline void
cols16(const float *p, int64_t ps, int nrow, int64_t lo, int64_t hi, __m512 col[16])
{
	__mmask16 mk = (__mmask16)rt_lanes(lo < 0 ? 0 : lo, hi > 16 ? 16 : hi);

	for (int l = 0; l < 16; l++)
		col[l] = l < nrow && mk ? _mm512_maskz_loadu_ps(mk, p + l * ps) : _mm512_setzero_ps();
	rt_tr16(col);
}

/* Prefetch the 16 columns at p + l * ps, l < nrow: each row of them in
 * its own plane, a page or more apart, where the hardware's prefetchers
 * do not follow. */
__attribute__((always_inline)) static inline void
cols16_prefetch(const float *p, int64_t ps, int nrow)
{
	for (int l = 0; l < nrow; l++) {
		_mm_prefetch((const char *)(p + l * ps), _MM_HINT_T0);
		_mm_prefetch((const char *)(p + l * ps + 15), _MM_HINT_T0);
	}
}

/* -x, as the scalar negation (the sign flipped, zeros too) */
__attribute__((target("avx512f"))) static inline __m512
neg16(__m512 x)
{
	return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN)));
}

/* lanes 0-7 of v at p, lanes 8-15 at p + next (the next A panel's row) */
__attribute__((target("avx512f"))) static inline void
put_halves(float *p, int64_t next, __m512 v)
{
	_mm256_storeu_ps(p, _mm512_castps512_ps256(v));
	_mm256_storeu_ps(p + next, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

/* One tile t of a run (its columns 2t .. or 4t .. in col, rows over the
 * lanes) transformed into V's products at o (product xi at o + xi xs,
 * each vector two half-vector stores nx apart: the next A panel):
 * F(2x2, 3x3)'s B^T d B, */
__attribute__((always_inline, target("avx512f"))) static inline void
v_tile2(__m512 col[6][16], int64_t t, float *o, int64_t xs, int64_t nx)
{
	__m512 e[4][4];

	for (int j = 0; j < 4; j++) { /* B^T down the columns */
		__m512 d0 = col[0][2 * t + j], d1 = col[1][2 * t + j];
		__m512 d2 = col[2][2 * t + j], d3 = col[3][2 * t + j];
		e[0][j] = _mm512_sub_ps(d0, d2);
		e[1][j] = _mm512_add_ps(d1, d2);
		e[2][j] = _mm512_sub_ps(d2, d1);
		e[3][j] = _mm512_sub_ps(d1, d3);
	}
	for (int a = 0; a < 4; a++) { /* and along the rows */
		float *p = o + 4 * a * xs;
		put_halves(p, nx, _mm512_sub_ps(e[a][0], e[a][2]));
		put_halves(p + xs, nx, _mm512_add_ps(e[a][1], e[a][2]));
		put_halves(p + 2 * xs, nx, _mm512_sub_ps(e[a][2], e[a][1]));
		put_halves(p + 3 * xs, nx, _mm512_sub_ps(e[a][1], e[a][3]));
	}
}

/* ... and F(4x4, 3x3)'s (rt_wino_bt4 down the columns, then along the rows) */
__attribute__((always_inline, target("avx512f"))) static inline void
v_tile4(__m512 col[6][16], int64_t t, float *o, int64_t xs, int64_t nx)
{
	__m512 e[6][6], v[36];

	for (int j = 0; j < 6; j++)
		rt_wino_bt4(col[0][4 * t + j], col[1][4 * t + j], col[2][4 * t + j], col[3][4 * t + j],
			    col[4][4 * t + j], col[5][4 * t + j], &e[0][j], 6);
	for (int a = 0; a < 6; a++)
		rt_wino_bt4(e[a][0], e[a][1], e[a][2], e[a][3], e[a][4], e[a][5], v + 6 * a, 1);
	for (int xi = 0; xi < 36; xi++)
		put_halves(o + xi * xs, nx, v[xi]);
}

/* V for the groups of 16 channels [g0, g1) of the block, lanes over the
 * group's channels, for tiles of M x M (2 or 4, a constant once
 * inlined): for each tile row (c, ty) and run of up to 14 / M tiles,
 * x[n][c]'s padded rows M ty .. M ty + M + 1 over the run's M cnt + 2
 * columns turned lanes over the channels (one transpose a row), then per
 * tile B^T d B of its columns into the micro-kernel's A panels of V[xi]
 * (panel n / 8, row q the tile's place in the block, n % 8 in it): two
 * aligned half-vector stores, no lanes idle; the channels past N are
 * zeros. */
__attribute__((always_inline, target("avx512f"))) static inline void
v_tmpl(const WW *s, int64_t g0, int64_t g1, const int M)
{
	const int rows = M + 2, run = 14 / M;
	int64_t xs = s->vs, nx = 8 * s->ld;

	for (int64_t g = g0; g < g1; g++) {
		int64_t n0 = 16 * g;
		int nrow = s->N - n0 < 16 ? (int)(s->N - n0) : 16;
		for (int64_t row = s->lo; row < s->hi; row++) {
			int64_t c = row / s->th, ty = row % s->th, q0 = (row - s->lo) * s->tw;
			const float *xc = s->x + n0 * s->xn + c * s->xc;
			for (int64_t tx0 = 0; tx0 < s->tw; tx0 += run) {
				int64_t cnt = s->tw - tx0 < run ? s->tw - tx0 : run, x0 = M * tx0 - s->PW;
				__m512 col[6][16];
				for (int u = 0; u < rows; u++) {
					int64_t iy = M * ty + u - s->PH;
					if (u >= 2 && iy + M < s->H && ty + 1 < s->th) /* the next tile row's new rows */
						cols16_prefetch(xc + (iy + M) * s->W + (x0 < 0 ? 0 : x0), s->xn, nrow);
					if (iy < 0 || iy >= s->H)
						for (int j = 0; j < 16; j++)
							col[u][j] = _mm512_setzero_ps();
					else
						cols16(xc + iy * s->W + x0, s->xn, nrow, -x0, s->W - x0, col[u]);
				}
				float *o = s->v + n0 * s->ld + (q0 + tx0) * WW_MR; /* panel n0 / 8, then + 8 ld */
				for (int64_t t = 0; t < cnt; t++, o += WW_MR)
					(M == 2 ? v_tile2 : v_tile4)(col, t, o, xs, nx);
			}
		}
	}
}

__attribute__((target("avx512f"))) static void
v_groups(const WW *s, int64_t g0, int64_t g1)
{
	v_tmpl(s, g0, g1, 2);
}

__attribute__((target("avx512f"))) static void
v_groups4(const WW *s, int64_t g0, int64_t g1)
{
	v_tmpl(s, g0, g1, 4);
}

/* F(4x4, 3x3)'s A = (A^T)^T on four values, into o[0], o[st], ..., o[5 st]:
 * A = [1 0 0 0; 1 1 1 1; 1 -1 1 -1; 1 1/2 1/4 1/8; 1 -2 4 -8; 0 0 0 1]
 * (winograd_out.c's A^T, the points 0, 1, -1, 1/2, -2, infinity). */
__attribute__((target("avx512f"))) static inline void
a4(__m512 r0, __m512 r1, __m512 r2, __m512 r3, __m512 *o, int st)
{
	const __m512 h1 = _mm512_set1_ps(0.5f), h2 = _mm512_set1_ps(0.25f), h3 = _mm512_set1_ps(0.125f);
	const __m512 c2 = _mm512_set1_ps(2.0f), c4 = _mm512_set1_ps(4.0f), c8 = _mm512_set1_ps(8.0f);
	__m512 s02 = _mm512_add_ps(r0, r2), s13 = _mm512_add_ps(r1, r3);

	o[0] = r0;
	o[st] = _mm512_add_ps(s02, s13);
	o[2 * st] = _mm512_sub_ps(s02, s13);
	o[3 * st] = _mm512_add_ps(_mm512_fmadd_ps(h2, r2, r0), _mm512_fmadd_ps(h3, r3, _mm512_mul_ps(h1, r1)));
	o[4 * st] = _mm512_sub_ps(_mm512_fmadd_ps(c4, r2, r0), _mm512_fmadd_ps(c8, r3, _mm512_mul_ps(c2, r1)));
	o[5 * st] = r3;
}

/* One tile t of a run into U^T's products at o (product xi at o + xi xs,
 * lanes mk): F(2x2, 3x3)'s A e A^T, */
__attribute__((always_inline, target("avx512f"))) static inline void
u_tile2(__m512 col[4][16], int64_t t, float *o, int64_t xs, __mmask16 mk)
{
	for (int a = 0; a < 4; a++) { /* A down the columns, then along the rows */
		__m512 e[2];
		for (int j = 0; j < 2; j++) {
			__m512 r0 = col[0][2 * t + j], r1 = col[1][2 * t + j];
			e[j] = a == 0 ? r0 : a == 1 ? _mm512_add_ps(r0, r1) : a == 2 ? _mm512_sub_ps(r0, r1) : neg16(r1);
		}
		float *p = o + 4 * a * xs;
		_mm512_mask_storeu_ps(p, mk, e[0]);
		_mm512_mask_storeu_ps(p + xs, mk, _mm512_add_ps(e[0], e[1]));
		_mm512_mask_storeu_ps(p + 2 * xs, mk, _mm512_sub_ps(e[0], e[1]));
		_mm512_mask_storeu_ps(p + 3 * xs, mk, neg16(e[1]));
	}
}

/* ... and F(4x4, 3x3)'s (a4 down the columns, then along the rows) */
__attribute__((always_inline, target("avx512f"))) static inline void
u_tile4(__m512 col[4][16], int64_t t, float *o, int64_t xs, __mmask16 mk)
{
	__m512 e[6][4], v[36];

	for (int j = 0; j < 4; j++)
		a4(col[0][4 * t + j], col[1][4 * t + j], col[2][4 * t + j], col[3][4 * t + j], &e[0][j], 4);
	for (int a = 0; a < 6; a++)
		a4(e[a][0], e[a][1], e[a][2], e[a][3], v + 6 * a, 1);
	for (int xi = 0; xi < 36; xi++)
		_mm512_mask_storeu_ps(o + xi * xs, mk, v[xi]);
}

/* U^T for the groups of 16 filters [g0, g1), the same way: w[k][c]'s
 * rows M ty .. M ty + M - 1 over runs of up to 16 / M tiles' M cnt
 * columns (zeros past the window), per tile A e A^T of its columns into
 * U^T[xi][q][k]. */
__attribute__((always_inline, target("avx512f"))) static inline void
u_tmpl(const WW *s, int64_t g0, int64_t g1, const int M)
{
	const int run = 16 / M;
	int64_t xs = s->us;

	for (int64_t g = g0; g < g1; g++) {
		int64_t k0 = 16 * g;
		int nrow = s->K - k0 < 16 ? (int)(s->K - k0) : 16;
		__mmask16 mk = (__mmask16)rt_lanes(0, nrow);
		for (int64_t row = s->lo; row < s->hi; row++) {
			int64_t c = row / s->th, ty = row % s->th, q0 = (row - s->lo) * s->tw;
			const float *wc = s->w + k0 * s->wk + c * s->wc;
			for (int64_t tx0 = 0; tx0 < s->tw; tx0 += run) {
				int64_t cnt = s->tw - tx0 < run ? s->tw - tx0 : run, x0 = M * tx0;
				__m512 col[4][16];
				for (int u = 0; u < M; u++) {
					if (M * ty + M + u < s->KH && ty + 1 < s->th) /* the next tile row's */
						cols16_prefetch(wc + (M * ty + M + u) * s->KW + x0, s->wk, nrow);
					if (M * ty + u >= s->KH)
						for (int j = 0; j < 16; j++)
							col[u][j] = _mm512_setzero_ps();
					else
						cols16(wc + (M * ty + u) * s->KW + x0, s->wk, nrow, 0, s->KW - x0,
						       col[u]);
				}
				float *o = s->u + (q0 + tx0) * s->K + k0;
				for (int64_t t = 0; t < cnt; t++, o += s->K)
					(M == 2 ? u_tile2 : u_tile4)(col, t, o, xs, mk);
			}
		}
	}
}

__attribute__((target("avx512f"))) static void
u_groups(const WW *s, int64_t g0, int64_t g1)
{
	u_tmpl(s, g0, g1, 2);
}

__attribute__((target("avx512f"))) static void
u_groups4(const WW *s, int64_t g0, int64_t g1)
{
	u_tmpl(s, g0, g1, 4);
}

/* The products for (xi, panel of 8 channels) [t0, t1), xi-major: M[xi]'s
 * 8 rows of the panel, all K columns, += the panel times U^T[xi] (read in
 * place, K floats a row, 48 columns a call; the last call's columns past
 * K are computed, not stored). Each sum runs over the block's tiles in
 * order, the blocks in order: whatever the thread count. */
static void
mul_rows(const WW *s, int64_t t0, int64_t t1)
{
	int64_t np = s->n16 / WW_MR;

	for (int64_t t = t0; t < t1; t++) {
		int64_t xi = t / np, pr = t % np, rows = s->N - pr * WW_MR;
		if (rows <= 0)
			continue;
		const float *ap = s->v + xi * s->vs + pr * WW_MR * s->ld;
		const float *u = s->u + xi * s->us;
		float *m = s->mm + xi * s->N * s->K + pr * WW_MR * s->K;
		for (int64_t j = 0; j < s->K; j += WW_NR)
			s->tile.ukr(s->tb, ap, u + j, s->K, m + j, s->K, s->acc, NULL, rows < WW_MR ? rows : WW_MR,
				    s->K - j < WW_NR ? s->K - j : WW_NR, NULL, 0, NULL);
	}
}

/* F(4x4, 3x3)'s G^T on six values, into o[0], o[st], o[2 st]: G^T =
 * [1 1/3 -1/3 -16/15 1/15 0; 0 1/3 1/3 -8/15 -2/15 0; 0 1/3 -1/3 -4/15
 * 4/15 1] (winograd_wt.c's G). */
__attribute__((target("avx512f"))) static inline void
gt6(__m512 m0, __m512 m1, __m512 m2, __m512 m3, __m512 m4, __m512 m5, __m512 *o, int st)
{
	const __m512 third = _mm512_set1_ps(1.0f / 3), f16 = _mm512_set1_ps(16.0f / 15);
	const __m512 f1 = _mm512_set1_ps(1.0f / 15), f8 = _mm512_set1_ps(8.0f / 15);
	const __m512 f2 = _mm512_set1_ps(2.0f / 15), f4 = _mm512_set1_ps(4.0f / 15);
	__m512 d = _mm512_mul_ps(third, _mm512_sub_ps(m1, m2)), s = _mm512_mul_ps(third, _mm512_add_ps(m1, m2));

	o[0] = _mm512_fmadd_ps(f1, m4, _mm512_fnmadd_ps(f16, m3, _mm512_add_ps(m0, d)));
	o[st] = _mm512_fnmadd_ps(f2, m4, _mm512_fnmadd_ps(f8, m3, s));
	o[2 * st] = _mm512_fmadd_ps(f4, m4, _mm512_fnmadd_ps(f4, m3, _mm512_add_ps(d, m5)));
}

/* o[q] = output q (of 9, row-major) of y[n][k .. k + cnt) = G^T M[.][n][k] G
 * (+ bias[k]) for M at m (M[xi][n][k] at m + xi xs), 16 filters across
 * the lanes (cnt of them), for window tiles of M x M (2 or 4, a constant
 * once inlined). */
__attribute__((always_inline, target("avx512f"))) static inline void
y_vals(const WW *s, const float *m, int64_t xs, int64_t k, int cnt, const int M, __m512 *o)
{
	const __m512 h = _mm512_set1_ps(0.5f);
	__mmask16 mk = (__mmask16)rt_lanes(0, cnt);
	__m512 b = s->bias ? _mm512_maskz_loadu_ps(mk, s->bias + k) : _mm512_setzero_ps(), t[3][6];

	if (M == 4) {
		for (int e = 0; e < 6; e++) { /* G^T down each column e */
			__m512 q[6];
			for (int r = 0; r < 6; r++)
				q[r] = _mm512_maskz_loadu_ps(mk, m + (r * 6 + e) * xs);
			gt6(q[0], q[1], q[2], q[3], q[4], q[5], &t[0][e], 6);
		}
		for (int i = 0; i < 3; i++) { /* and along each row */
			__m512 r[3];
			gt6(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], r, 1);
			for (int j = 0; j < 3; j++)
				o[i * 3 + j] = _mm512_add_ps(r[j], b);
		}
		return;
	}
	for (int e = 0; e < 4; e++) { /* G^T down each column e */
		__m512 m0 = _mm512_maskz_loadu_ps(mk, m + (0 * 4 + e) * xs);
		__m512 m1 = _mm512_maskz_loadu_ps(mk, m + (1 * 4 + e) * xs);
		__m512 m2 = _mm512_maskz_loadu_ps(mk, m + (2 * 4 + e) * xs);
		__m512 m3 = _mm512_maskz_loadu_ps(mk, m + (3 * 4 + e) * xs);
		__m512 p = _mm512_mul_ps(h, _mm512_add_ps(m1, m2));
		t[0][e] = _mm512_add_ps(m0, p);
		t[1][e] = _mm512_mul_ps(h, _mm512_sub_ps(m1, m2));
		t[2][e] = _mm512_add_ps(p, m3);
	}
	for (int i = 0; i < 3; i++) { /* and along each row */
		__m512 p = _mm512_mul_ps(h, _mm512_add_ps(t[i][1], t[i][2]));
		o[i * 3 + 0] = _mm512_add_ps(_mm512_add_ps(t[i][0], p), b);
		o[i * 3 + 1] = _mm512_add_ps(_mm512_mul_ps(h, _mm512_sub_ps(t[i][1], t[i][2])), b);
		o[i * 3 + 2] = _mm512_add_ps(_mm512_add_ps(p, t[i][3]), b);
	}
}

/* y[n][k .. k + cnt) as y_vals gives it, each filter's 9 floats written
 * from the stack. */
__attribute__((always_inline, target("avx512f"))) static inline void
y_put(const WW *s, const float *m, int64_t xs, int64_t n, int64_t k, int cnt, const int M)
{
	float *y = s->y + n * s->yn + k * s->yk;
	float o[9][16] __attribute__((aligned(64)));
	__m512 v[9];

	y_vals(s, m, xs, k, cnt, M, v);
	for (int q = 0; q < 9; q++)
		_mm512_store_ps(o[q], v[q]);
	for (int l = 0; l < cnt; l++) /* filter-major: each filter's 9 floats */
		for (int q = 0; q < 9; q++)
			y[l * s->yk + q] = o[q][l];
}

/* The same for 16 rows n .. n + 15 of M at m (row r at m + (r / 8) ps +
 * (r % 8) rs: two 8-row tiles of M) where
 * y's rows are 9 floats apart (the weight's layout, NNCC_CONV_SWAP_Y):
 * each filter's 16 rows are then 144 contiguous floats, written as 9
 * vectors, from 9 16 x 16 transposes of the 144 output vectors (the
 * scalar stores from the stack took a quarter of ResNet-18's last-stage
 * fused call). */
__attribute__((always_inline, target("avx512f"))) static inline void
y_put16(const WW *s, const float *m, int64_t ps, int64_t rs, int64_t xs, int64_t n, int64_t k, int cnt,
	const int M)
{
	float *y = s->y + n * 9 + k * s->yk;
	__m512 o[144];

	for (int r = 0; r < 16; r++)
		y_vals(s, m + r / 8 * ps + r % 8 * rs, xs, k, cnt, M, o + 9 * r);
	for (int b = 0; b < 9; b++) { /* floats 16 b .. of each filter's run */
		__m512 t[16];
		for (int i = 0; i < 16; i++)
			t[i] = o[16 * b + i];
		rt_tr16(t);
		for (int l = 0; l < cnt; l++)
			_mm512_storeu_ps(y + l * s->yk + 16 * b, t[l]);
	}
}

/* y rows [n0, n1), y[n][k] = G^T M[.][n][k] G (+ bias[k]) from M whole
 * (N x K a product), 16 filters a step (the last masked). Scattering
 * each output vector took 1.42 ms of layer 4's F(2x2) call, a GEMM of
 * depth 16 and width 9 (y = M^T T) 2.6, the scalar loop 3.0; this 0.9. */
__attribute__((target("avx512f"))) static void
y_rows(const WW *s, int64_t n0, int64_t n1)
{
	for (int64_t n = n0; n < n1; n++)
		for (int64_t k = 0; k < s->K; k += 16) {
			const float *m = s->mm + n * s->K + k;
			int cnt = s->K - k < 16 ? (int)(s->K - k) : 16;
			if (s->m == 4)
				y_put(s, m, s->N * s->K, n, k, cnt, 4);
			else
				y_put(s, m, s->N * s->K, n, k, cnt, 2);
		}
}

/* One block holding every tile (fused): units [u0, u1) of WW_FP panels
 * of 8 channels by 48 filters (filter blocks outer), each unit's nx
 * products, product by product, into tiles of M at mt (8 x 48 each, a
 * line past that apart), each product's U^T columns read by the
 * unit's panels in turn while in L1, then transformed to y at once: M never goes
 * whole through memory (nx x N x K floats, 16.8 MB for layer 4's
 * F(2x2)). The products sum as mul_rows's of one block. */
enum { WW_FP = 4 };
_Static_assert(WW_FP * 36 * (WW_MR * WW_NR + 16) * sizeof(float) <= NNCC_ABI_GEMM_SCRATCH, "M tiles fit a GEMM slot");
__attribute__((always_inline, target("avx512f"))) static inline void
fused_units(const WW *s, float *mt, int64_t u0, int64_t u1, const int M)
{
	int64_t np = (s->n16 / WW_MR + WW_FP - 1) / WW_FP, ts = WW_MR * WW_NR + 16;

	for (int64_t u = u0; u < u1; u++) {
		int64_t j = u / np * WW_NR, r0 = u % np * WW_FP * WW_MR, rows = s->N - r0;
		if (rows <= 0)
			continue;
		rows = rows < WW_FP * WW_MR ? rows : WW_FP * WW_MR;
		int cols = s->K - j < WW_NR ? (int)(s->K - j) : WW_NR;
		for (int xi = 0; xi < s->nx; xi++)
			for (int64_t q = 0; q * WW_MR < rows; q++)
				s->tile.ukr(s->tb, s->v + xi * s->vs + (r0 + q * WW_MR) * s->ld, s->u + xi * s->us + j,
					    s->K, mt + (q * s->nx + xi) * ts, WW_NR, 0, NULL,
					    rows - q * WW_MR < WW_MR ? rows - q * WW_MR : WW_MR, cols, NULL, 0, NULL);
		int64_t r = 0;
		for (; s->yn == 9 && r + 16 <= rows; r += 16) /* two tiles of 8 rows */
			for (int k = 0; k < cols; k += 16)
				y_put16(s, mt + (r / WW_MR * s->nx) * ts + k, s->nx * ts, WW_NR, ts, r0 + r, j + k,
					cols - k < 16 ? cols - k : 16, M);
		for (; r < rows; r++)
			for (int k = 0; k < cols; k += 16)
				y_put(s, mt + (r / WW_MR * s->nx) * ts + r % WW_MR * WW_NR + k, ts, r0 + r, j + k,
				      cols - k < 16 ? cols - k : 16, M);
	}
}

__attribute__((target("avx512f"))) static void
fused_units_chunk(void *closure, int64_t ch)
{
	const WW *s = closure;
	int64_t n = (s->K + WW_NR - 1) / WW_NR * ((s->n16 / WW_MR + WW_FP - 1) / WW_FP);
	int64_t u0 = ch * n / s->nchunk, u1 = (ch + 1) * n / s->nchunk;
	float *mt = (float *)(s->gs + ch * NNCC_ABI_GEMM_SCRATCH);

	if (s->m == 4)
		fused_units(s, mt, u0, u1, 4);
	else
		fused_units(s, mt, u0, u1, 2);
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

/* The weight gradient for the images [n0, n0 + s.N) and filters [k0, k0
 * + s.K) of the call (s: its geometry and strides, N and K those of the
 * part), in scratch. */
static void
wgrad_part(WW s, int64_t n0, int64_t k0, float *scratch, const nncc_abi_ctx *cx)
{
	int64_t rows = nncc_abi_wino_wgrad_rows(s.C, s.KH, s.KW);

	s.x += n0 * s.xn, s.w += k0 * s.wk, s.y += n0 * s.yn + k0 * s.yk;
	if (s.bias)
		s.bias += k0;
	s.n16 = (s.N + 15) / 16 * 16;
	s.mm = scratch;
	s.v = s.mm + (nncc_abi_wino_wgrad_fused(s.C, s.KH, s.KW) ? 0 : s.nx * s.N * s.K);
	s.vs = s.n16 * s.ld + 16, s.us = s.ld * s.K + 16;
	s.u = s.v + s.nx * s.vs;
	if (nncc_abi_wino_wgrad_fused(s.C, s.KH, s.KW)) { /* the scratch holds no M */
		s.lo = 0, s.hi = s.C * s.th, s.tb = s.hi * s.tw, s.acc = 0, s.gs = cx->gemm_scratch;
		phase(cx, s.m == 4 ? v_groups4 : v_groups, &s, s.n16 / 16);
		phase(cx, s.m == 4 ? u_groups4 : u_groups, &s, (s.K + 15) / 16);
		if (s.nchunk > 1)
			cx->parallel_for(cx->pool, fused_units_chunk, &s, s.nchunk);
		else
			fused_units_chunk(&s, 0);
		return;
	}
	for (int64_t lo = 0; lo < s.C * s.th; lo += rows) {
		s.lo = lo, s.hi = lo + rows < s.C * s.th ? lo + rows : s.C * s.th;
		s.tb = (s.hi - s.lo) * s.tw, s.acc = lo > 0;
		phase(cx, s.m == 4 ? v_groups4 : v_groups, &s, s.n16 / 16);
		phase(cx, s.m == 4 ? u_groups4 : u_groups, &s, (s.K + 15) / 16);
		phase(cx, mul_rows, &s, s.nx * (s.n16 / WW_MR)); /* M[xi] (N x K) += V[xi] U^T[xi] */
	}
	phase(cx, y_rows, &s, s.N);
}

/* Where room holds less than the whole call needs (a lean scratch,
 * abi.h nncc_abi_wide_scratch_lean), it goes in parts of
 * NNCC_ABI_WGRAD_LEAN_PART images by as many filters, each part
 * transforming its own operands: every output is summed as in one call,
 * over the same tiles in the same order. */
int
rt_conv2d_wino_wgrad(const float *x, const float *w, const float *bias, float *y, float *scratch, int64_t room,
		     const int64_t *p, const nncc_abi_ctx *cx)
{
	int64_t N = p[0], C = p[1], H = p[2], W = p[3], K = p[4], OH = p[5], OW = p[6], KH = p[7], KW = p[8];
	WW s = {.x = x, .w = w, .y = y, .bias = bias, .N = N, .C = C, .H = H, .W = W, .K = K, .KH = KH,
		.KW = KW, .PH = p[11], .PW = p[12]};
	int64_t pn = N, pk = K;

	if (nncc_abi_wino_wgrad_scratch(N, C, K, KH, KW) > room) {
		pn = N < NNCC_ABI_WGRAD_LEAN_PART ? N : NNCC_ABI_WGRAD_LEAN_PART;
		pk = K < NNCC_ABI_WGRAD_LEAN_PART ? K : NNCC_ABI_WGRAD_LEAN_PART;
	}
	if (!scratch || p[11] < 0 || p[12] < 0 ||
	    !nncc_abi_wino_wgrad(N, K, p[15], OH, OW, KH, KW, p[9], p[10], p[13], p[14]) ||
	    nncc_abi_wino_wgrad_scratch(pn, C, pk, KH, KW) > room || !cx)
		return 0;
	if (!rt_gemm_tile_of(WW_MR, WW_NR, &s.tile))
		return 0;
	if (nncc_abi_wino_wgrad_fused(C, KH, KW) && !cx->gemm_scratch)
		return 0;
	s.m = nncc_abi_wino_wgrad_m(C, KH, KW), s.nx = (s.m + 2) * (s.m + 2);
	s.th = (KH + s.m - 1) / s.m, s.tw = (KW + s.m - 1) / s.m;
	s.ld = nncc_abi_wino_wgrad_rows(C, KH, KW) * s.tw;
	int64_t sw = p[17] & ~NNCC_CONV_LEAN, hw = H * W, kk = KH * KW;
	s.xn = sw & NNCC_CONV_SWAP_X ? hw : C * hw, s.xc = sw & NNCC_CONV_SWAP_X ? N * hw : hw;
	s.wk = sw & NNCC_CONV_SWAP_W ? kk : C * kk, s.wc = sw & NNCC_CONV_SWAP_W ? K * kk : kk;
	s.yn = sw & NNCC_CONV_SWAP_Y ? 9 : K * 9, s.yk = sw & NNCC_CONV_SWAP_Y ? N * 9 : 9;
	s.nchunk = cx->parallel_for && cx->nthreads > 1 ? cx->nthreads : 1;
	for (int64_t n0 = 0; n0 < N; n0 += pn)
		for (int64_t k0 = 0; k0 < K; k0 += pk) {
			WW part = s;
			part.N = N - n0 < pn ? N - n0 : pn;
			part.K = K - k0 < pk ? K - k0 : pk;
			wgrad_part(part, n0, k0, scratch, cx);
		}
	return 1;
}
