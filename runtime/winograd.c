/* winograd.c — 3x3 convolutions of stride 1 by Winograd's minimal
 * filtering F(2x2, 3x3) and F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms
 * for Convolutional Neural Networks", 2016): part of the kernel library
 * (see kernels.c).
 *
 * Each output tile of m x m (m = 2 or 4: abi.h nncc_abi_wino_m) reads an
 * n x n input tile d (n = m + 2); with the filter g of one (filter,
 * channel) pair transformed once to U = G g G^T, the tile is A^T [sum over
 * channels of U (.) B^T d B] A: the nx = n^2 elementwise products summed
 * over channels are nx GEMMs, M[xi] = U[xi] (K x C) * V[xi] (C x tiles),
 * of 16/36 (m = 2) or 36/144 (m = 4) of the direct method's multiply-adds.
 * F(4x4, 3x3) interpolates at 0, 1, -1, 1/2, -2 and infinity: of the
 * sets of points tried in a float32 simulation (the choice of points is
 * the lever of Barabasz et al., "Error Analysis and Improving the
 * Accuracy of Winograd Convolution for Deep Neural Networks", 2020), the
 * one that rounded least, about 6 times as much as F(2x2, 3x3).
 *
 * U (winograd_wt.c) comes from the session's weight cache
 * (nncc_abi_ctx.wcache), filled on the first run, already laid out as the
 * GEMM micro-kernel's A panels (gemm.h rt_gemm_tile): the weights of an inference model are constant,
 * and transforming them on every run would cost as much as the product of
 * a small image. A weight that is not a constant (training state, a
 * computed weight: p[16], wino_u, says the scratch has room) is
 * transformed into the scratch on every call (wino_u 1), or, image by
 * image, by the first image's call and reused by the next (wino_u 2);
 * otherwise, without a cache entry, the caller takes its other paths.
 *
 * A weight transformed on every call may instead be fused into the
 * products (p[16] NNCC_ABI_WINO_FUSED, abi.h nncc_abi_wino_fuses: the
 * filters outweigh the tiles): one block of every tile, its input
 * transform by channel chunks, then each thread its share of the filter
 * panels, each panel transformed into the thread's GEMM slot, multiplied
 * by every tile's V at once and transformed back (fused_chunk), so U
 * never goes whole through memory.
 *
 * With dilation D, a tile's outputs and inputs are D apart (tile_origin).
 *
 * Tiles, over all images, go in blocks of nncc_abi_wino_block; per block:
 *  1. input transform, lanes over 16 tiles of one tile row (masked loads
 *     and permutes that deal every m-th column to a vector; tile rows
 *     narrower than SEG_MIN_TW tiles several to a vector, each row's run
 *     of columns loaded whole and permuted into its lanes; dilated
 *     windows through masked gathers, some 35 cycles each on Zen 4; the
 *     padding reads zero), written as the micro-kernel's B panels;
 *  2. the nx products, panel by panel, into M (K x tiles per xi);
 *  3. output transform (winograd_out.c), lanes over tiles, plus the
 *     bias, each output row's m columns interleaved into contiguous
 *     stores (dilated: scattered).
 * On several threads, each thread takes its own range of the tiles
 * through all three phases, in blocks of its own (its share of the
 * scratch): what it transforms, it multiplies and transforms back, and
 * the outputs it writes are the rows its input came from, so no
 * transformed value crosses to another core. When the ranges would pad
 * the GEMMs to whole tiles much more than one block does (few tiles),
 * each phase of each block splits instead (channels, xi, filters). Every
 * output is computed by one chunk in one order with the same tile, so
 * the result does not depend on the thread count. AVX-512 only. */
#include <stddef.h>
#include <stdint.h>

#include <immintrin.h>

#include "gemm.h"
#include "conv_direct.h"
#include "kernel_util.h"
#include "winograd.h"
#include "winograd_impl.h"

enum {
	WINO_KC = 256, /* channels per micro-kernel call (the A panel stays in L1) */
	WINO_TAG = 0x57, /* weight cache tag: F(2x2, 3x3), panels of mr filters (F(4x4, 3x3): + 1) */
};

/* The top-left output of tile row (or column) ty of tiles of m: with
 * dilation D the tile's outputs are D apart, so tile rows go in runs of D,
 * run b starting at output row m D b (the grid covers OH rounded up to
 * m D; outputs past OH are masked off). D = 1: m ty. */
static inline int64_t
tile_origin(int64_t ty, int64_t D, int64_t m)
{
	return ty / D * m * D + ty % D;
}

__attribute__((target("avx512f"))) void
rt_wino_lanes(const Wino *d, int64_t t, Lanes *l)
{
	int32_t xo[16], yo[16];
	int iy[16], ix[16], oy[16], ox[16];
	__mmask16 live = 0;

	for (int q = 0; q < 16; q++) {
		int64_t g = d->t0 + (t + q < d->tb ? t + q : 0), per = d->th * d->tw;
		int64_t n = g / per, r = g % per, ty = r / d->tw, tx = r % d->tw;
		if (t + q < d->tb)
			live |= (__mmask16)(1u << q);
		oy[q] = (int)tile_origin(ty, d->D, d->tm), ox[q] = (int)tile_origin(tx, d->D, d->tm);
		iy[q] = (int)(oy[q] - d->PH), ix[q] = (int)(ox[q] - d->PW);
		xo[q] = (int32_t)(n * d->C * d->H * d->W + iy[q] * d->W + ix[q]);
		yo[q] = (int32_t)(n * d->K * d->OH * d->OW + oy[q] * d->OW + ox[q]);
	}
	for (int i = 0; i < d->tm + 2; i++) {
		l->row[i] = l->col[i] = 0;
		for (int q = 0; q < 16; q++) {
			if (iy[q] + i * d->D >= 0 && iy[q] + i * d->D < d->H)
				l->row[i] |= (__mmask16)(1u << q);
			if (ix[q] + i * d->D >= 0 && ix[q] + i * d->D < d->W)
				l->col[i] |= (__mmask16)(1u << q);
		}
		l->row[i] &= live;
	}
	for (int a = 0; a < d->tm; a++) {
		l->orow[a] = l->ocol[a] = 0;
		for (int q = 0; q < 16; q++) {
			if (oy[q] + a * d->D < d->OH)
				l->orow[a] |= (__mmask16)(1u << q);
			if (ox[q] + a * d->D < d->OW)
				l->ocol[a] |= (__mmask16)(1u << q);
		}
		l->orow[a] &= live;
	}
	l->live = live;
	l->xoff = _mm512_loadu_si512(xo);
	l->yoff = _mm512_loadu_si512(yo);
}

static void
put_plan(const Wino *d, int64_t t, int64_t cnt, RtWinoPut *pl)
{
	rt_wino_put_runs(d->tile.nr, d->C * d->tile.nr, t, cnt, pl);
}

/* The nx transformed vectors o of one channel into the B panels. */
__attribute__((target("avx512f"))) static void
put_out(const Wino *d, const RtWinoPut *pl, int64_t c, const __m512 *o)
{
	int64_t vstride = d->vs;
	float *v = d->v + c * d->tile.nr;

	if (pl->n == 1) {
		for (int xi = 0; xi < d->nx; xi++)
			_mm512_mask_storeu_ps(v + xi * vstride + pl->off[0], pl->mask[0], o[xi]);
		return;
	}
	for (int xi = 0; xi < d->nx; xi++)
		for (int k = 0; k < pl->n; k++)
			_mm512_mask_storeu_ps(v + xi * vstride + pl->off[k], pl->mask[k], o[xi]);
}

/* F(2x2, 3x3): V = B^T d B of one channel's 4 x 4 input values r[i][j]
 * (lanes over tiles), B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. */
__attribute__((target("avx512f"))) static void
put_tile2(const Wino *d, const RtWinoPut *pl, int64_t c, __m512 r[6][6])
{
	__m512 e[4][4], o[16];

	for (int i = 0; i < 4; i++) {
		e[i][0] = _mm512_sub_ps(r[i][0], r[i][2]);
		e[i][1] = _mm512_add_ps(r[i][1], r[i][2]);
		e[i][2] = _mm512_sub_ps(r[i][2], r[i][1]);
		e[i][3] = _mm512_sub_ps(r[i][1], r[i][3]);
	}
	for (int s = 0; s < 4; s++) {
		o[0 * 4 + s] = _mm512_sub_ps(e[0][s], e[2][s]);
		o[1 * 4 + s] = _mm512_add_ps(e[1][s], e[2][s]);
		o[2 * 4 + s] = _mm512_sub_ps(e[2][s], e[1][s]);
		o[3 * 4 + s] = _mm512_sub_ps(e[1][s], e[3][s]);
	}
	put_out(d, pl, c, o);
}

/* F(4x4, 3x3): V = B^T d B of one channel's 6 x 6 input values r[i][j]. */
__attribute__((target("avx512f"))) static void
put_tile4(const Wino *d, const RtWinoPut *pl, int64_t c, __m512 r[6][6])
{
	__m512 e[6][6], o[36];

	for (int i = 0; i < 6; i++)
		rt_wino_bt4(r[i][0], r[i][1], r[i][2], r[i][3], r[i][4], r[i][5], e[i], 1);
	for (int s = 0; s < 6; s++)
		rt_wino_bt4(e[0][s], e[1][s], e[2][s], e[3][s], e[4][s], e[5][s], o + s, 6);
	put_out(d, pl, c, o);
}

void
rt_wino_seg_at(const Wino *d, int64_t t, Seg *s)
{
	int64_t g = d->t0 + t, per = d->th * d->tw, r = g % per;

	s->n = g / per, s->ty = r / d->tw, s->tx = r % d->tw;
	s->cnt = d->tw - s->tx;
	if (s->cnt > 16)
		s->cnt = 16;
	if (s->cnt > d->tb - t)
		s->cnt = d->tb - t;
}

/* The segment of the block at tile t for phase 1: its run of tm * cnt + 2
 * input columns starts at column *x0 and row *iy0; m[k] holds the lanes
 * of the run's columns inside the image for a load of len[k] lanes at
 * off[k]; pl, where the segment's tiles go in the B panels. */
static void
seg_loads(const Wino *d, int64_t t, int nl, const int *off, const int *len, Seg *sg, int64_t *x0,
	  int64_t *iy0, __mmask16 *m, RtWinoPut *pl)
{
	rt_wino_seg_at(d, t, sg);
	*x0 = d->tm * sg->tx - d->PW, *iy0 = d->tm * sg->ty - d->PH;
	int64_t run = d->tm * sg->cnt + 2, lo = *x0 < 0 ? -*x0 : 0, hi = d->W - *x0 < run ? d->W - *x0 : run;
	for (int k = 0; k < nl; k++)
		m[k] = (__mmask16)rt_lanes(lo - off[k] < 0 ? 0 : lo - off[k], hi - off[k] > len[k] ? len[k] : hi - off[k]);
	put_plan(d, t, sg->cnt, pl);
}

/* Phase 1 over segments (dilation 1), F(2x2, 3x3): row i of the input
 * tiles of a segment is the run of 2 * cnt + 2 columns from 2 * tx - PW;
 * even and odd elements of two pairs of loads (at 0 and 2) are the tiles'
 * columns 0, 1 and 2, 3. */
__attribute__((target("avx512f"))) static void
in_rows2(const Wino *d, int64_t c0, int64_t c1)
{
	const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
	static const int off[4] = {0, 16, 2, 18}, len[4] = {16, 16, 16, 16};
	int64_t hw = d->H * d->W;

	for (int64_t t = 0; t < d->tb;) {
		Seg sg;
		int64_t x0, iy0;
		__mmask16 m[4];
		RtWinoPut pl;
		seg_loads(d, t, 4, off, len, &sg, &x0, &iy0, m, &pl);
		for (int64_t c = c0; c < c1; c++) {
			const float *xc = d->x + (sg.n * d->C + c) * hw + x0;
			__m512 r[6][6];
			for (int i = 0; i < 4; i++) {
				int64_t iy = iy0 + i;
				if (iy < 0 || iy >= d->H) {
					r[i][0] = r[i][1] = r[i][2] = r[i][3] = _mm512_setzero_ps();
					continue;
				}
				const float *row = xc + iy * d->W;
				__m512 a0 = _mm512_maskz_loadu_ps(m[0], row), a1 = _mm512_maskz_loadu_ps(m[1], row + 16);
				__m512 b0 = _mm512_maskz_loadu_ps(m[2], row + 2), b1 = _mm512_maskz_loadu_ps(m[3], row + 18);
				r[i][0] = _mm512_permutex2var_ps(a0, even, a1);
				r[i][1] = _mm512_permutex2var_ps(a0, odd, a1);
				r[i][2] = _mm512_permutex2var_ps(b0, even, b1);
				r[i][3] = _mm512_permutex2var_ps(b0, odd, b1);
			}
			put_tile2(d, &pl, c, r);
		}
		t += sg.cnt;
	}
}

/* The same for F(4x4, 3x3): the run of 4 * cnt + 2 columns from 4 * tx -
 * PW, four loads (at 0, 16, 32, 48) dealt four ways give the tiles'
 * columns 0 to 3 (each the first 8 lanes from the first pair, the last
 * from the second), and columns 4 and 5 are columns 0 and 1 a tile on,
 * lane 15 from the run's columns 64 and 65. */
__attribute__((target("avx512f"))) static void
in_rows4(const Wino *d, int64_t c0, int64_t c1)
{
	const __m512i by4 = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 28, 24, 20, 16, 12, 8, 4, 0);
	static const int off[6] = {0, 16, 32, 48, 64, 65}, len[6] = {16, 16, 16, 16, 1, 1};
	int64_t hw = d->H * d->W;

	for (int64_t t = 0; t < d->tb;) {
		Seg sg;
		int64_t x0, iy0;
		__mmask16 m[6];
		RtWinoPut pl;
		seg_loads(d, t, 6, off, len, &sg, &x0, &iy0, m, &pl);
		for (int64_t c = c0; c < c1; c++) {
			const float *xc = d->x + (sg.n * d->C + c) * hw + x0;
			__m512 r[6][6];
			for (int i = 0; c + 1 < c1 && i < 6; i++) /* the next channel's rows, meanwhile */
				if (iy0 + i >= 0 && iy0 + i < d->H)
					for (int64_t e = 0; e < 4 * sg.cnt + 2; e += 16)
						_mm_prefetch((const char *)(xc + hw + (iy0 + i) * d->W + e), _MM_HINT_T0);
			for (int i = 0; i < 6; i++) {
				int64_t iy = iy0 + i;
				if (iy < 0 || iy >= d->H) {
					for (int j = 0; j < 6; j++)
						r[i][j] = _mm512_setzero_ps();
					continue;
				}
				const float *row = xc + iy * d->W;
				__m512 a0 = _mm512_maskz_loadu_ps(m[0], row), a1 = _mm512_maskz_loadu_ps(m[1], row + 16);
				__m512 a2 = _mm512_maskz_loadu_ps(m[2], row + 32), a3 = _mm512_maskz_loadu_ps(m[3], row + 48);
				__m512i e0 = _mm512_castps_si512(_mm512_maskz_loadu_ps(m[4], row + 64));
				__m512i e1 = _mm512_castps_si512(_mm512_maskz_loadu_ps(m[5], row + 65));
				for (int j = 0; j < 4; j++) {
					__m512i idx = _mm512_add_epi32(by4, _mm512_set1_epi32(j));
					__m512 p = _mm512_permutex2var_ps(a0, idx, a1), q = _mm512_permutex2var_ps(a2, idx, a3);
					r[i][j] = _mm512_shuffle_f32x4(p, q, _MM_SHUFFLE(1, 0, 1, 0));
				}
				r[i][4] = _mm512_castsi512_ps(_mm512_alignr_epi32(e0, _mm512_castps_si512(r[i][0]), 1));
				r[i][5] = _mm512_castsi512_ps(_mm512_alignr_epi32(e1, _mm512_castps_si512(r[i][1]), 1));
			}
			put_tile4(d, &pl, c, r);
		}
		t += sg.cnt;
	}
}

void
rt_wino_group_at(const Wino *d, int64_t t, Group *g)
{
	int64_t tm = d->tm;

	g->ns = g->cnt = 0, g->nreg = 1;
	while (g->cnt < 16 && t + g->cnt < d->tb) {
		Seg sg;
		int s = g->ns++, l0 = g->cnt;
		rt_wino_seg_at(d, t + g->cnt, &sg);
		sg.cnt = sg.cnt < 16 - l0 ? sg.cnt : 16 - l0;
		int64_t x0 = tm * sg.tx - d->PW, run = tm * sg.cnt + 2;
		int64_t lo = x0 < 0 ? -x0 : 0, hi = d->W - x0 < run ? d->W - x0 : run;
		g->n[s] = sg.n, g->iy0[s] = tm * sg.ty - d->PH, g->x0[s] = x0;
		g->oy[s] = tm * sg.ty, g->ox[s] = tm * sg.tx;
		g->on[s] = d->OW - g->ox[s] < tm * sg.cnt ? d->OW - g->ox[s] : tm * sg.cnt;
		for (int k = 0; k < 2; k++) {
			int64_t a = lo - 16 * k, b = hi - 16 * k;
			g->m[s][k] = (__mmask16)rt_lanes(a < 0 ? 0 : a, b > 16 ? 16 : b);
		}
		g->nreg = run > 16 ? 2 : g->nreg;
		g->lanes[s] = (__mmask16)rt_lanes(l0, l0 + sg.cnt);
		for (int j = 0; j < tm + 2; j++)
			for (int q = 0; q < 16; q++)
				g->idx[s][j][q] = (int32_t)(q >= l0 && q < l0 + sg.cnt ? tm * (q - l0) + j : 0);
		g->cnt += (int)sg.cnt;
	}
}

/* Phase 1 over groups of narrow tile rows: for each input row i of the
 * tiles, each segment's run of tm * cnt + 2 columns, and column j of its
 * tiles permuted out of it into the segment's lanes. */
__attribute__((target("avx512f"))) static void
in_narrow(const Wino *d, int64_t c0, int64_t c1)
{
	int64_t hw = d->H * d->W;
	int n = d->tm + 2;
	void (*put)(const Wino *, const RtWinoPut *, int64_t, __m512[6][6]) =
		d->tm == 4 ? put_tile4 : put_tile2;
	Group g;

	for (int64_t t = 0; t < d->tb; t += g.cnt) {
		rt_wino_group_at(d, t, &g);
		RtWinoPut pl;
		put_plan(d, t, g.cnt, &pl);
		for (int64_t c = c0; c < c1; c++) {
			__m512 r[6][6];
			for (int s = 0; s < g.ns; s++) {
				const float *xc = d->x + (g.n[s] * d->C + c) * hw + g.x0[s];
				for (int i = 0; c + 2 < c1 && i < n; i++) /* the rows two channels on */
					if (g.iy0[s] + i >= 0 && g.iy0[s] + i < d->H)
						for (int e = 0; e < 16 * g.nreg; e += 16)
							_mm_prefetch((const char *)(xc + 2 * hw + (g.iy0[s] + i) * d->W + e),
								     _MM_HINT_T0);
				for (int i = 0; i < n; i++) {
					int64_t iy = g.iy0[s] + i;
					__m512 a = _mm512_setzero_ps(), b = a;
					if (iy >= 0 && iy < d->H) {
						a = _mm512_maskz_loadu_ps(g.m[s][0], xc + iy * d->W);
						if (g.nreg > 1)
							b = _mm512_maskz_loadu_ps(g.m[s][1], xc + iy * d->W + 16);
					}
					for (int j = 0; j < n; j++) {
						__m512 v = _mm512_permutex2var_ps(a, _mm512_loadu_si512(g.idx[s][j]), b);
						r[i][j] = s ? _mm512_mask_mov_ps(r[i][j], g.lanes[s], v) : v;
					}
				}
			}
			put(d, &pl, c, r);
		}
	}
}

/* Phase 1, chunk ch: channels [c0, c1) of every tile of the block:
 * V = B^T d B; the padding columns [tb, tbn) get zeros. */
__attribute__((target("avx512f"))) static void
in_chunk(void *closure, int64_t ch)
{
	const Wino *d = closure;
	int64_t c0 = ch * d->C / d->nchunk, c1 = (ch + 1) * d->C / d->nchunk, hw = d->H * d->W;
	int64_t t = 0;

	void (*put)(const Wino *, const RtWinoPut *, int64_t, __m512[6][6]) = d->tm == 4 ? put_tile4 : put_tile2;

	if (d->D == 1) {
		if (d->tw >= SEG_MIN_TW)
			(d->tm == 4 ? in_rows4 : in_rows2)(d, c0, c1);
		else
			in_narrow(d, c0, c1);
		t = d->tb;
	}
	for (; t < d->tbn; t += 16) { /* gathers; past tb only zeros */
		Lanes l;
		rt_wino_lanes(d, t, &l);
		RtWinoPut pl;
		put_plan(d, t, d->tbn - t < 16 ? d->tbn - t : 16, &pl);
		for (int64_t c = c0; c < c1; c++) {
			const float *xc = d->x + c * hw;
			__m512 r[6][6];
			for (int i = 0; i < d->tm + 2; i++) {
				__m512i ro = _mm512_add_epi32(l.xoff, _mm512_set1_epi32((int32_t)(i * d->D * d->W)));
				for (int j = 0; j < d->tm + 2; j++)
					r[i][j] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), l.row[i] & l.col[j],
									   _mm512_add_epi32(ro, _mm512_set1_epi32((int32_t)(j * d->D))),
									   xc, 4);
			}
			put(d, &pl, c, r);
		}
	}
}

/* Phase 2, chunk xi: M[xi] (kp x tbn, row stride tbp) = U[xi] V[xi]. */
static void
mul_part(const Wino *d, int64_t xi, int64_t r0, int64_t r1)
{
	int mr = d->tile.mr, nr = d->tile.nr;
	const float *u = d->u + xi * d->kp * d->C, *v = d->v + xi * d->vs;
	float *m = d->m + xi * d->ms; /* filter row ir at m + (ir - m0) tbp */

	for (int64_t pc = 0; pc < d->C; pc += WINO_KC) {
		int64_t kc = d->C - pc < WINO_KC ? d->C - pc : WINO_KC;
		for (int64_t ir = r0; ir < r1; ir += mr) {
			/* the transformed weight's next panel comes from memory:
			 * a slice of it per tile (gemm.c, gemm_block) */
			const float *next = ir + mr < r1 ? u + (ir + mr) * d->C + pc * mr
							 : u + r0 * d->C + (pc + kc) * mr;
			int64_t lines = mr * kc / 16;
			for (int64_t jr = 0; jr < d->tbn; jr += nr) {
				int64_t l0 = lines * jr / d->tbn, l1 = lines * (jr + nr) / d->tbn;
				d->tile.ukr(kc, u + ir * d->C + pc * mr, v + jr * d->C + pc * nr, nr,
					    m + (ir - d->m0) * d->tbp + jr, d->tbp, pc > 0, NULL, mr, nr, next + l0 * 16,
					    l1 - l0, NULL);
			}
		}
	}
}

/* Phase 2 for filter panel ir alone, its U (every product's, C x mr
 * each, as rt_wino_weights_panel lays them) at up: M's rows [ir, ir +
 * mr) of every product, summed in mul_part's order. */
static void
mul_panel(const Wino *d, const float *up, int64_t ir, int64_t next)
{
	int mr = d->tile.mr, nr = d->tile.nr;

	for (int64_t xi = 0; xi < d->nx; xi++) {
		const float *u = up + xi * rt_wino_panel_stride(d->C, mr), *v = d->v + xi * d->vs;
		float *m = d->m + xi * d->ms + (ir - d->m0) * d->tbp;
		if (next >= 0) /* the next panel's taps from memory, a share before each product */
			rt_wino_weights_prefetch(d->wt, d->C, d->K, mr, next, xi, d->nx, d->swap);
		for (int64_t pc = 0; pc < d->C; pc += WINO_KC) {
			int64_t kc = d->C - pc < WINO_KC ? d->C - pc : WINO_KC;
			for (int64_t jr = 0; jr < d->tbn; jr += nr)
				d->tile.ukr(kc, u + pc * mr, v + jr * d->C + pc * nr, nr, m + jr, d->tbp, pc > 0, NULL,
					    mr, nr, NULL, 0, NULL);
		}
	}
}

/* Chunk ch of nchunk of a fused call's phases 2 and 3 (nncc_abi_wino_fused):
 * a fixed share of the filter panels, each transformed into this
 * chunk's GEMM slot, multiplied at once by the block's V (every tile)
 * into M's rows of that panel alone, after it in the slot, and
 * transformed back from there: no M in the scratch, and the products
 * read back from L2. */
static void
fused_chunk(void *closure, int64_t ch)
{
	Wino w = *(const Wino *)closure;
	int64_t mr = w.tile.mr, np = w.kp / mr, p0 = ch * np / w.nchunk, p1 = (ch + 1) * np / w.nchunk;
	float *up = (float *)(w.gs + ch * NNCC_ABI_GEMM_SCRATCH);

	w.m = up + rt_wino_fused_slot_u(w.nx, w.C, mr);
	w.mrows = mr, w.ms = mr * w.tbp + w.pad;
	for (int64_t p = p0; p < p1; p++) {
		int64_t f0 = p * mr, f1 = f0 + mr < w.K ? f0 + mr : w.K;
		rt_wino_weights_panel(w.wt, up, w.C, w.K, (int)mr, w.tm, p, w.swap);
		w.m0 = f0;
		mul_panel(&w, up, f0, p + 1 < p1 ? p + 1 : -1);
		rt_wino_out_part(&w, f0, f1);
	}
}

static void
mul_chunk(void *closure, int64_t xi)
{
	const Wino *d = closure;

	mul_part(d, xi, 0, d->kp);
}

static void
out_chunk(void *closure, int64_t ch)
{
	const Wino *d = closure;

	rt_wino_out_part(d, ch * d->K / d->nchunk, (ch + 1) * d->K / d->nchunk);
}

/* Chunk ch of the weight transform (winograd_wt.c): a fixed share of
 * the filter panels. */
static void
wt_chunk(void *closure, int64_t ch)
{
	const Wino *d = closure;
	int64_t np = d->kp / d->tile.mr;

	rt_wino_weights(d->wt, d->uw, d->C, d->K, d->kp, d->tile.mr, d->tm, ch * np / d->nchunk,
			(ch + 1) * np / d->nchunk, d->swap);
}

/* The block of tiles [t0, t0 + tb), its GEMMs' width padded to whole nr. */
static void
set_block(Wino *d, int64_t t0, int64_t tb)
{
	d->t0 = t0, d->tb = tb;
	d->tbn = (tb + d->tile.nr - 1) / d->tile.nr * d->tile.nr;
}

/* One block: the three phases, each chunk by chunk on this thread. */
static void
block(Wino *d)
{
	for (int64_t ch = 0; ch < d->nchunk; ch++)
		in_chunk(d, ch);
	for (int64_t xi = 0; xi < d->nx; xi++)
		mul_chunk(d, xi);
	for (int64_t ch = 0; ch < d->nchunk; ch++)
		out_chunk(d, ch);
}

/* Thread ch of nchunk, tile ranges: tiles [ch total / nchunk, (ch + 1)
 * total / nchunk) through all three phases, in blocks of tbp in this
 * thread's own part of the scratch. */
static void
range_chunk(void *closure, int64_t ch)
{
	Wino w = *(const Wino *)closure;
	int64_t lo = ch * w.total / w.nchunk, hi = (ch + 1) * w.total / w.nchunk;

	w.vs = w.C * w.tbp + w.pad, w.ms = w.kp * w.tbp + w.pad;
	w.v = w.scratch + ch * w.nx * (w.vs + w.ms);
	w.m = w.v + w.nx * w.vs;
	w.nchunk = 1;
	for (int64_t t0 = lo; t0 < hi; t0 += w.tbp) {
		set_block(&w, t0, hi - t0 < w.tbp ? hi - t0 : w.tbp);
		block(&w);
	}
}

/* Thread ch of nchunk, filter ranges: every block of tiles, transformed
 * whole by each thread into its own V (at scratch + ch * nx * C * tbp),
 * then its share of the filter panels multiplied into M (after the
 * threads' Vs, rows kp) and transformed back. Each thread reads its own
 * part of U and no transformed value crosses to another core; the input
 * transform is done once per thread. */
static void
filters_chunk(void *closure, int64_t ch)
{
	Wino w = *(const Wino *)closure;
	int64_t np = w.kp / w.tile.mr, r0 = ch * np / w.nchunk * w.tile.mr, r1 = (ch + 1) * np / w.nchunk * w.tile.mr;
	int64_t f1 = r1 < w.K ? r1 : w.K;

	w.vs = w.C * w.tbp + w.pad;
	if (w.gs && w.nx * (w.vs + (r1 - r0) * w.tbp + w.pad) * (int64_t)sizeof(float) <= NNCC_ABI_GEMM_SCRATCH) {
		/* in the thread's GEMM slot, M only its own rows: memory no other
		 * thread writes (the arena's lines were last written by whichever
		 * kernel had them: SqueezeNet's first 3x3 at 7x7 on two threads,
		 * 31 us against 22 for the same layer a fire module later) */
		w.v = (float *)(w.gs + ch * NNCC_ABI_GEMM_SCRATCH);
		w.m = w.v + w.nx * w.vs;
		w.m0 = r0, w.mrows = r1 - r0;
	} else {
		w.v = w.scratch + ch * w.nx * w.vs;
		w.m = w.scratch + w.nchunk * w.nx * w.vs;
	}
	w.ms = w.mrows * w.tbp + w.pad;
	w.nchunk = 1;
	for (int64_t t0 = 0; t0 < w.total; t0 += w.tbp) {
		set_block(&w, t0, w.total - t0 < w.tbp ? w.total - t0 : w.tbp);
		in_chunk(&w, 0);
		for (int64_t xi = 0; xi < w.nx; xi++)
			mul_part(&w, xi, r0, r1);
		if (r0 < f1)
			rt_wino_out_part(&w, r0, f1);
	}
}

static void
run_phase(const nncc_abi_ctx *cx, void (*fn)(void *, int64_t), Wino *d, int64_t n)
{
	if (cx->parallel_for && cx->nthreads > 1 && n > 1)
		cx->parallel_for(cx->pool, fn, d, n);
	else
		for (int64_t ch = 0; ch < n; ch++)
			fn(d, ch);
}

int
rt_conv2d_winograd(const float *x, const float *w, const float *bias, float *y, float *scratch,
		   const int64_t *p, const nncc_abi_ctx *cx, const RtEpi *ep)
{
	int64_t N = p[0];
	Wino d = {
	    .x = x, .bias = bias, .y = y, .ep = rt_epi_on(ep) ? ep : NULL, .C = p[1], .H = p[2], .W = p[3], .K = p[4], .OH = p[5],
	    .OW = p[6], .PH = p[11], .PW = p[12], .D = p[13],
	};

	/* a weight that lies transposed or flipped (p[17]) is transformed on
	 * every call, never cached (the cache knows a weight by its address) */
	int lean = (p[17] & NNCC_CONV_LEAN) != 0; /* the scratch by the lean rule */
	d.swap = (int)(p[17] & ~NNCC_CONV_LEAN);
	if (!cx || (!cx->wcache && !d.swap) || !scratch || (d.swap & ~(NNCC_CONV_SWAP_W | NNCC_CONV_FLIP_W)) ||
	    (d.swap && !p[16]) ||
	    !nncc_abi_wino(N, d.C, d.H, d.W, d.K, d.OH, d.OW, p[7], p[8], p[9], p[10], p[13], p[14],
			   p[15]))
		return 0;
	int64_t blk = nncc_abi_wino_block(N, d.C, d.K, d.OH, d.OW, d.D, p[16]), tm;
	d.tm = (int)(tm = nncc_abi_wino_m(N, d.C, d.K, d.OH, d.OW, d.D, p[16])), d.nx = (d.tm + 2) * (d.tm + 2);
	d.th = (d.OH + tm * d.D - 1) / (tm * d.D) * d.D, d.tw = (d.OW + tm * d.D - 1) / (tm * d.D) * d.D;
	d.total = N * d.th * d.tw;
	/* Threads, when the weights outweigh the tiles (a small plane of many
	 * filters), on filter ranges: each its own share of U, the input
	 * transform done by each. Else on tiles, each thread its own range
	 * through all three phases, in blocks of as many tiles as its share
	 * of the scratch holds and with the GEMM tile for that width; unless
	 * that pads the GEMMs to whole tiles much more than blocks of blk do:
	 * then threads on each phase of each block; and so, with the fused
	 * calls' tile, in a lean scratch (NNCC_CONV_LEAN, abi.h
	 * nncc_abi_wino_scratch_lean). The micro-kernels all sum in the same
	 * order, so the tile does not change the result. */
	int64_t threads = cx->parallel_for ? cx->nthreads : 1, width = 0;
	int mode = 0; /* 0: phases, 1: tile ranges, 2: filter ranges */
	RtTile rt;
	if (!rt_gemm_tile(d.K, blk, d.C, &d.tile))
		return 0;
	if (p[16] == NNCC_ABI_WINO_FUSED) {
		/* the weight's transform, panel by panel as the threads multiply
		 * it, in their GEMM slots: the scratch has no room for it whole */
		if (!rt_gemm_tile_of(NNCC_ABI_WINO_FUSED_MR, NNCC_ABI_WINO_FUSED_NR, &d.tile))
			return 0; /* (any tile sums in the same order; the scratch's size counts on this one) */
		if (!cx->gemm_scratch || blk != d.total)
			return 0;
		d.kp = (d.K + d.tile.mr - 1) / d.tile.mr * d.tile.mr;
		d.tbp = (blk + d.tile.nr - 1) / d.tile.nr * d.tile.nr;
		d.pad = 16, d.gs = cx->gemm_scratch, d.wt = w;
		d.vs = d.C * d.tbp + d.pad;
		d.v = scratch; /* M: a panel's rows at a time, in the GEMM slots (fused_chunk) */
		if (rt_wino_fused_slot_u(d.nx, d.C, d.tile.mr) + d.nx * (d.tile.mr * d.tbp + d.pad) >
		    NNCC_ABI_GEMM_SCRATCH / (int64_t)sizeof(float))
			return 0;
		set_block(&d, 0, d.total);
		d.nchunk = cx->nthreads > 1 ? 4 * cx->nthreads : 1;
		run_phase(cx, in_chunk, &d, d.nchunk);
		d.nchunk = threads;
		run_phase(cx, fused_chunk, &d, threads);
		return 1;
	}
	if (lean) { /* phases, the tile the lean rule pads to */
		if (!rt_gemm_tile_of(NNCC_ABI_WINO_FUSED_MR, NNCC_ABI_WINO_FUSED_NR, &d.tile))
			return 0;
	} else if (threads > 1 && d.K > d.total) {
		int64_t kp = (d.K + d.tile.mr - 1) / d.tile.mr * d.tile.mr, nr = d.tile.nr;
		int64_t fit = (blk + 96) * (d.C + d.K + 32) / (threads * d.C + kp) / nr * nr;
		width = (blk + nr - 1) / nr * nr;
		width = fit < width ? fit : width;
		mode = kp / d.tile.mr >= threads && width > 0 ? 2 : 0;
	} else if (threads > 1 && d.total >= 16 * threads) {
		int64_t per = (d.total + threads - 1) / threads < blk ? (d.total + threads - 1) / threads : blk;
		rt_gemm_tile(d.K, per, d.C, &rt);
		width = (blk + 96) / threads / rt.nr * rt.nr;
		if (width > 0) { /* the GEMMs' padded areas, both ways */
			int64_t area = 0, parea = 0;
			for (int64_t t = 0; t < threads; t++)
				for (int64_t lo = t * d.total / threads, hi = (t + 1) * d.total / threads; lo < hi;
				     lo += width)
					area += ((hi - lo < width ? hi - lo : width) + rt.nr - 1) / rt.nr * rt.nr;
			area *= (d.K + rt.mr - 1) / rt.mr * rt.mr;
			for (int64_t t0 = 0; t0 < d.total; t0 += blk)
				parea += ((d.total - t0 < blk ? d.total - t0 : blk) + d.tile.nr - 1) / d.tile.nr *
					 d.tile.nr;
			parea *= (d.K + d.tile.mr - 1) / d.tile.mr * d.tile.mr;
			if (4 * area <= 5 * parea)
				mode = 1, d.tile = rt;
		}
	}
	d.kp = (d.K + d.tile.mr - 1) / d.tile.mr * d.tile.mr;
	d.m0 = 0, d.mrows = d.kp, d.gs = cx->gemm_scratch;
	d.tbp = mode ? width : (blk + d.tile.nr - 1) / d.tile.nr * d.tile.nr;
	/* the planes a line apart beyond whole pages: each tile's nx stores
	 * (and the output transform's nx loads) otherwise fell in one L1 set,
	 * a plane being a multiple of 4 KiB (64 x 64 floats), and 36 of them
	 * thrashed its 8 ways */
	d.pad = (mode ? threads : 1) <= NNCC_ABI_WINO_PAD_PARTS ? 16 : 0;
	d.vs = d.C * d.tbp + d.pad, d.ms = d.kp * d.tbp + d.pad;
	int fresh = 0;
	uint64_t tag = (uint64_t)(WINO_TAG + (tm == 4)) << 56 | (uint64_t)d.tile.mr << 48 | (uint64_t)d.C << 24 |
		       (uint64_t)d.K;
	float *u = d.swap ? NULL : cx->wcache(cx->wcache_owner, w, tag, d.nx * d.kp * d.C * (int64_t)sizeof(float), &fresh);
	if (!u && p[16]) { /* not a constant: transformed into the scratch */
		u = scratch + (lean ? nncc_abi_wino_scratch_lean : nncc_abi_wino_scratch)(N, d.C, d.K, d.OH, d.OW, d.D,
											p[16]);
		fresh = p[16] == 1; /* 2: the previous call, the same weight's image before, left it there */
	}
	if (!u)
		return 0;
	/* phases: enough chunks to spread, few enough to stay long */
	d.nchunk = cx->nthreads > 1 ? 4 * cx->nthreads : 1;
	if (fresh) {
		d.wt = w, d.uw = u;
		run_phase(cx, wt_chunk, &d, d.nchunk);
	}
	d.u = u;
	if (mode) {
		d.scratch = scratch;
		d.nchunk = threads;
		cx->parallel_for(cx->pool, mode == 1 ? range_chunk : filters_chunk, &d, threads);
		return 1;
	}
	d.v = scratch;
	d.m = scratch + d.nx * d.vs;
	for (int64_t t0 = 0; t0 < d.total; t0 += blk) {
		set_block(&d, t0, d.total - t0 < blk ? d.total - t0 : blk);
		run_phase(cx, in_chunk, &d, d.nchunk);
		run_phase(cx, mul_chunk, &d, d.nx);
		run_phase(cx, out_chunk, &d, d.nchunk);
	}
	return 1;
}
