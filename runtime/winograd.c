/* winograd.c — 3x3 convolutions of stride 1 by Winograd's minimal
 * filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016): part of the kernel library (see
 * kernels.c).
 *
 * Each output tile of 2x2 reads a 4x4 input tile d; with the filter g of
 * one (filter, channel) pair transformed once to U = G g G^T, the tile is
 * A^T [sum over channels of U (.) B^T d B] A: the 16 elementwise products
 * summed over channels are 16 GEMMs, M[xi] = U[xi] (K x C) * V[xi] (C x
 * tiles), of 16/36 of the direct method's multiply-adds (2.25 times fewer).
 *
 * U comes from the session's weight cache (nncc_abi_ctx.wcache), filled on
 * the first run, already laid out as the GEMM micro-kernel's A panels
 * (gemm.h rt_gemm_tile): the weights of an inference model are constant,
 * and transforming them on every run would cost as much as the product of
 * a small image. A weight that is not a constant (training state, a
 * computed weight: p[16], wino_u, says the scratch has room) is
 * transformed into the scratch on every call (wino_u 1), or, image by
 * image, by the first image's call and reused by the next (wino_u 2);
 * otherwise, without a cache entry, the caller takes its other paths.
 *
 * With dilation D, a tile's outputs and inputs are D apart (tile_origin).
 *
 * Tiles, over all images, go in blocks of nncc_abi_wino_block; per block:
 *  1. input transform, lanes over 16 tiles of one tile row (masked loads
 *     and even/odd permutes; narrow rows and dilated windows through
 *     masked gathers; the padding reads zero), written as the
 *     micro-kernel's B panels;
 *  2. the 16 products, panel by panel, into M (K x tiles per xi);
 *  3. output transform, lanes over tiles, plus the bias, each output row's
 *     two columns interleaved into contiguous stores (or scattered).
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

enum {
	WINO_KC = 256, /* channels per micro-kernel call (the A panel stays in L1) */
	WINO_TAG = 0x57, /* weight cache tag: F(2x2, 3x3), panels of mr filters */
};

typedef struct Wino {
	const float *x, *bias;       /* input, bias or NULL */
	float *y;                    /* output */
	const float *u;              /* transformed weights: 16 x kp x c, A panels */
	float *uw;                   /* where wt_chunk writes them */
	const float *wt;             /* the weights, K x C x 3 x 3 */
	float *v, *m;                /* block scratch: 16 x c x tbp (B panels), 16 x kp x tbp */
	int64_t C, H, W, K, OH, OW, PH, PW; /* geometry */
	int64_t D;                   /* dilation (both axes) */
	int64_t th, tw;              /* tiles down and across an image (see tile_origin) */
	int64_t kp, tbp;             /* filters padded to whole mr; block tiles padded to whole nr */
	int64_t t0, tb, tbn;         /* this block: first tile, tiles, tiles padded to whole nr */
	int64_t nchunk;              /* chunks of the transforms (phases 1 and 3, the weights) */
	float *scratch;              /* where each thread's v and m start (tile ranges) */
	int64_t total;               /* tiles over all images */
	RtTile tile;                 /* the GEMM micro-kernel */
} Wino;

/* Per 16 lanes of tiles [t, t + 16) of a block: input and output offsets
 * (int32, abi.h bounds them) and the lanes inside each tile row/column. */
typedef struct Lanes {
	__m512i xoff, yoff;  /* x: top-left of the input tile (may be outside), y: top-left output */
	__mmask16 row[4];    /* input row i of the tile inside the image */
	__mmask16 col[4];    /* input column j inside */
	__mmask16 orow[2];   /* output row a inside */
	__mmask16 ocol[2];   /* output column b inside */
	__mmask16 live;      /* lanes of tiles of the block */
} Lanes;

/* The top-left output of tile row (or column) ty: with dilation D the
 * tile's two outputs are D apart, so tile rows go in runs of D, run b
 * starting at output row 2 D b (the grid covers OH rounded up to 2 D;
 * outputs past OH are masked off). D = 1: 2 ty. */
static inline int64_t
tile_origin(int64_t ty, int64_t D)
{
	return ty / D * 2 * D + ty % D;
}

__attribute__((target("avx512f"))) static void
lanes(const Wino *d, int64_t t, Lanes *l)
{
	int32_t xo[16], yo[16];
	int iy[16], ix[16], oy[16], ox[16];
	__mmask16 live = 0;

	for (int q = 0; q < 16; q++) {
		int64_t g = d->t0 + (t + q < d->tb ? t + q : 0), per = d->th * d->tw;
		int64_t n = g / per, r = g % per, ty = r / d->tw, tx = r % d->tw;
		if (t + q < d->tb)
			live |= (__mmask16)(1u << q);
		oy[q] = (int)tile_origin(ty, d->D), ox[q] = (int)tile_origin(tx, d->D);
		iy[q] = (int)(oy[q] - d->PH), ix[q] = (int)(ox[q] - d->PW);
		xo[q] = (int32_t)(n * d->C * d->H * d->W + iy[q] * d->W + ix[q]);
		yo[q] = (int32_t)(n * d->K * d->OH * d->OW + oy[q] * d->OW + ox[q]);
	}
	for (int i = 0; i < 4; i++) {
		l->row[i] = l->col[i] = 0;
		for (int q = 0; q < 16; q++) {
			if (iy[q] + i * d->D >= 0 && iy[q] + i * d->D < d->H)
				l->row[i] |= (__mmask16)(1u << q);
			if (ix[q] + i * d->D >= 0 && ix[q] + i * d->D < d->W)
				l->col[i] |= (__mmask16)(1u << q);
		}
		l->row[i] &= live;
	}
	for (int a = 0; a < 2; a++) {
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

/* Where lanes [0, cnt) of a vector of tiles [t, t + cnt) of the block go
 * in the B panels (tile t in panel t / nr, lane t % nr): runs of lanes,
 * each a masked store at an offset from row c of panel 0. */
typedef struct Put {
	int n;              /* runs */
	int64_t off[6];     /* element offset of lane 0 of the vector, for the run */
	__mmask16 mask[6];  /* the run's lanes */
} Put;

static void
put_runs(int64_t w, int64_t pstride, int64_t t, int64_t cnt, Put *pl)
{
	pl->n = 0;
	for (int64_t q = 0; q < cnt;) {
		int64_t p = (t + q) / w, lane = (t + q) % w, run = w - lane < cnt - q ? w - lane : cnt - q;
		pl->off[pl->n] = p * pstride + lane - q;
		pl->mask[pl->n++] = (__mmask16)(((1u << run) - 1) << q);
		q += run;
	}
}

static void
put_plan(const Wino *d, int64_t t, int64_t cnt, Put *pl)
{
	put_runs(d->tile.nr, d->C * d->tile.nr, t, cnt, pl);
}

/* The 16 transformed vectors of one channel's 4 x 4 input values r[i][j]
 * (lanes over tiles) into the B panels: V = B^T d B. */
__attribute__((target("avx512f"))) static void
put_tile(const Wino *d, const Put *pl, int64_t c, __m512 r[4][4])
{
	int64_t vstride = d->C * d->tbp;
	float *v = d->v + c * d->tile.nr;
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
	if (pl->n == 1) {
		for (int xi = 0; xi < 16; xi++)
			_mm512_mask_storeu_ps(v + xi * vstride + pl->off[0], pl->mask[0], o[xi]);
		return;
	}
	for (int xi = 0; xi < 16; xi++)
		for (int k = 0; k < pl->n; k++)
			_mm512_mask_storeu_ps(v + xi * vstride + pl->off[k], pl->mask[k], o[xi]);
}

/* A run of at most 16 tiles of one tile row inside the block. */
typedef struct Seg {
	int64_t cnt;     /* tiles */
	int64_t n, ty, tx; /* image, tile row, first tile column */
} Seg;

static void
seg_at(const Wino *d, int64_t t, Seg *s)
{
	int64_t g = d->t0 + t, per = d->th * d->tw, r = g % per;

	s->n = g / per, s->ty = r / d->tw, s->tx = r % d->tw;
	s->cnt = d->tw - s->tx;
	if (s->cnt > 16)
		s->cnt = 16;
	if (s->cnt > d->tb - t)
		s->cnt = d->tb - t;
}

/* Tile rows at least this wide take contiguous loads and stores (a
 * segment's lanes are one row's tiles); narrower ones gathers. */
enum { SEG_MIN_TW = 8 };

/* Phase 1 over segments (dilation 1): row i of the input tiles of a segment is the run
 * of 2 * cnt + 2 columns from 2 * tx - PW; even and odd elements of two
 * pairs of loads (at 0 and 2) are the tiles' columns 0, 1 and 2, 3. */
__attribute__((target("avx512f"))) static void
in_rows(const Wino *d, int64_t c0, int64_t c1)
{
	const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
	int64_t hw = d->H * d->W;

	for (int64_t t = 0; t < d->tb;) {
		Seg sg;
		seg_at(d, t, &sg);
		int64_t x0 = 2 * sg.tx - d->PW, iy0 = 2 * sg.ty - d->PH;
		/* columns [lo, hi) of the run are inside the image */
		int64_t lo = x0 < 0 ? -x0 : 0, hi = d->W - x0 < 2 * sg.cnt + 2 ? d->W - x0 : 2 * sg.cnt + 2;
		__mmask16 m[4];
		Put pl;
		put_plan(d, t, sg.cnt, &pl);
		for (int k = 0; k < 4; k++) { /* loads at 0, 16, 2, 18 */
			int64_t o = (k & 1) * 16 + (k >> 1) * 2;
			m[k] = (__mmask16)rt_lanes(lo - o < 0 ? 0 : lo - o, hi - o > 16 ? 16 : hi - o);
		}
		for (int64_t c = c0; c < c1; c++) {
			const float *xc = d->x + (sg.n * d->C + c) * hw + x0;
			__m512 r[4][4];
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
			put_tile(d, &pl, c, r);
		}
		t += sg.cnt;
	}
}

/* Phase 1, chunk ch: channels [c0, c1) of every tile of the block:
 * V = B^T d B, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; the
 * padding columns [tb, tbn) get zeros. */
__attribute__((target("avx512f"))) static void
in_chunk(void *closure, int64_t ch)
{
	const Wino *d = closure;
	int64_t c0 = ch * d->C / d->nchunk, c1 = (ch + 1) * d->C / d->nchunk, hw = d->H * d->W;
	int64_t t = 0;

	if (d->D == 1 && d->tw >= SEG_MIN_TW) {
		in_rows(d, c0, c1);
		t = d->tb;
	}
	for (; t < d->tbn; t += 16) { /* gathers; past tb only zeros */
		Lanes l;
		lanes(d, t, &l);
		Put pl;
		put_plan(d, t, d->tbn - t < 16 ? d->tbn - t : 16, &pl);
		for (int64_t c = c0; c < c1; c++) {
			const float *xc = d->x + c * hw;
			__m512 r[4][4];
			for (int i = 0; i < 4; i++) {
				__m512i ro = _mm512_add_epi32(l.xoff, _mm512_set1_epi32((int32_t)(i * d->D * d->W)));
				for (int j = 0; j < 4; j++)
					r[i][j] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), l.row[i] & l.col[j],
									   _mm512_add_epi32(ro, _mm512_set1_epi32((int32_t)(j * d->D))),
									   xc, 4);
			}
			put_tile(d, &pl, c, r);
		}
	}
}

/* Phase 2, chunk xi: M[xi] (kp x tbn, row stride tbp) = U[xi] V[xi]. */
static void
mul_part(const Wino *d, int64_t xi, int64_t r0, int64_t r1)
{
	int mr = d->tile.mr, nr = d->tile.nr;
	const float *u = d->u + xi * d->kp * d->C, *v = d->v + xi * d->C * d->tbp;
	float *m = d->m + xi * d->kp * d->tbp;

	for (int64_t pc = 0; pc < d->C; pc += WINO_KC) {
		int64_t kc = d->C - pc < WINO_KC ? d->C - pc : WINO_KC;
		for (int64_t ir = r0; ir < r1; ir += mr)
			for (int64_t jr = 0; jr < d->tbn; jr += nr)
				d->tile.ukr(kc, u + ir * d->C + pc * mr, v + jr * d->C + pc * nr, nr,
					    m + ir * d->tbp + jr, d->tbp, pc > 0, NULL, mr, nr);
	}
}

static void
mul_chunk(void *closure, int64_t xi)
{
	const Wino *d = closure;

	mul_part(d, xi, 0, d->kp);
}

/* A^T m A for filter f of the 16 tiles whose products start at mf:
 * o[a][b], A^T = [1 1 1 0; 0 1 -1 -1], plus the bias. */
__attribute__((target("avx512f"))) static void
out_tile(const Wino *d, const float *mf, __mmask16 live, float bias, __m512 o[2][2])
{
	int64_t mstride = d->kp * d->tbp;
	__m512 u[4][2], b = _mm512_set1_ps(bias);

	for (int r = 0; r < 4; r++) {
		__m512 q[4];
		for (int s = 0; s < 4; s++)
			q[s] = _mm512_maskz_loadu_ps(live, mf + (r * 4 + s) * mstride);
		u[r][0] = _mm512_add_ps(_mm512_add_ps(q[0], q[1]), q[2]);
		u[r][1] = _mm512_sub_ps(_mm512_sub_ps(q[1], q[2]), q[3]);
	}
	for (int c = 0; c < 2; c++) {
		o[0][c] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(u[0][c], u[1][c]), u[2][c]), b);
		o[1][c] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(u[1][c], u[2][c]), u[3][c]), b);
	}
}

/* Phase 3 for filters [f0, f1): y = A^T M A + bias for the tiles'
 * 2x2 outputs inside the image. Segments interleave each output row's
 * two columns into contiguous stores; narrow images scatter. */
__attribute__((target("avx512f"))) static void
out_part(const Wino *d, int64_t f0, int64_t f1)
{
	int64_t ohw = d->OH * d->OW;

	if (d->D == 1 && d->tw >= SEG_MIN_TW) {
		const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
		const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
		for (int64_t t = 0; t < d->tb;) {
			Seg sg;
			seg_at(d, t, &sg);
			int64_t x0 = 2 * sg.tx, n = d->OW - x0 < 2 * sg.cnt ? d->OW - x0 : 2 * sg.cnt;
			__mmask16 m0 = (__mmask16)rt_lanes(0, n > 16 ? 16 : n), m1 = (__mmask16)rt_lanes(0, n - 16);
			__mmask16 live = (__mmask16)rt_lanes(0, sg.cnt);
			for (int64_t f = f0; f < f1; f++) {
				__m512 o[2][2];
				out_tile(d, d->m + f * d->tbp + t, live, d->bias ? d->bias[f] : 0.0f, o);
				float *yf = d->y + (sg.n * d->K + f) * ohw + 2 * sg.ty * d->OW + x0;
				for (int a = 0; a < 2 && 2 * sg.ty + a < d->OH; a++) {
					_mm512_mask_storeu_ps(yf + a * d->OW, m0, _mm512_permutex2var_ps(o[a][0], lo, o[a][1]));
					_mm512_mask_storeu_ps(yf + a * d->OW + 16, m1,
							      _mm512_permutex2var_ps(o[a][0], hi, o[a][1]));
				}
			}
			t += sg.cnt;
		}
		return;
	}
	for (int64_t t = 0; t < d->tb; t += 16) {
		Lanes l;
		lanes(d, t, &l);
		for (int64_t f = f0; f < f1; f++) {
			__m512 o[2][2];
			out_tile(d, d->m + f * d->tbp + t, l.live, d->bias ? d->bias[f] : 0.0f, o);
			__m512i yo = _mm512_add_epi32(l.yoff, _mm512_set1_epi32((int32_t)(f * ohw)));
			for (int b = 0; b < 2; b++) {
				__m512i at = _mm512_add_epi32(yo, _mm512_set1_epi32((int32_t)(b * d->D)));
				_mm512_mask_i32scatter_ps(d->y, l.orow[0] & l.ocol[b], at, o[0][b], 4);
				_mm512_mask_i32scatter_ps(d->y, l.orow[1] & l.ocol[b],
							  _mm512_add_epi32(at, _mm512_set1_epi32((int32_t)(d->D * d->OW))),
							  o[1][b], 4);
			}
		}
	}
}

static void
out_chunk(void *closure, int64_t ch)
{
	const Wino *d = closure;

	out_part(d, ch * d->K / d->nchunk, (ch + 1) * d->K / d->nchunk);
}

/* U = G g G^T for every (filter, channel), G = [1 0 0; .5 .5 .5; .5 -.5
 * .5; 0 0 1], as the A panels of each xi: filter f of panel f / mr at
 * lane f % mr, channel c at row c; filters past K zero. Chunk ch: groups
 * of 16 filters (the lanes), a fixed share of them. */
__attribute__((target("avx512f"))) static void
wt_chunk(void *closure, int64_t ch)
{
	const Wino *d = closure;
	int64_t ng = (d->kp + 15) / 16, q0 = ch * ng / d->nchunk, q1 = (ch + 1) * ng / d->nchunk;
	int64_t mr = d->tile.mr, ustride = d->kp * d->C;
	const __m512 half = _mm512_set1_ps(0.5f);
	__m512i off = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
					 _mm512_set1_epi32((int32_t)(d->C * 9)));

	for (int64_t fg = q0; fg < q1; fg++) {
		int64_t f0 = fg * 16, cnt = d->kp - f0 < 16 ? d->kp - f0 : 16;
		__mmask16 live = (__mmask16)rt_lanes(0, d->K - f0 < cnt ? d->K - f0 : cnt);
		Put pl;
		put_runs(mr, d->C * mr, f0, cnt, &pl);
		for (int64_t c = 0; c < d->C; c++) {
			const float *g = d->wt + (f0 * d->C + c) * 9;
			__m512 gg[4][3], o[16];
			for (int j = 0; j < 3; j++) {
				__m512 g0 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, off, g + j, 4);
				__m512 g1 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, off, g + 3 + j, 4);
				__m512 g2 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, off, g + 6 + j, 4);
				__m512 s = _mm512_add_ps(g0, g2);
				gg[0][j] = g0;
				gg[1][j] = _mm512_mul_ps(half, _mm512_add_ps(s, g1));
				gg[2][j] = _mm512_mul_ps(half, _mm512_sub_ps(s, g1));
				gg[3][j] = g2;
			}
			for (int r = 0; r < 4; r++) {
				__m512 s = _mm512_add_ps(gg[r][0], gg[r][2]);
				o[r * 4 + 0] = gg[r][0];
				o[r * 4 + 1] = _mm512_mul_ps(half, _mm512_add_ps(s, gg[r][1]));
				o[r * 4 + 2] = _mm512_mul_ps(half, _mm512_sub_ps(s, gg[r][1]));
				o[r * 4 + 3] = gg[r][2];
			}
			float *u = d->uw + c * mr;
			for (int xi = 0; xi < 16; xi++)
				for (int k = 0; k < pl.n; k++)
					_mm512_mask_storeu_ps(u + xi * ustride + pl.off[k], pl.mask[k], o[xi]);
		}
	}
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
	for (int64_t xi = 0; xi < 16; xi++)
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

	w.v = w.scratch + ch * 16 * w.tbp * (w.C + w.kp);
	w.m = w.v + 16 * w.C * w.tbp;
	w.nchunk = 1;
	for (int64_t t0 = lo; t0 < hi; t0 += w.tbp) {
		set_block(&w, t0, hi - t0 < w.tbp ? hi - t0 : w.tbp);
		block(&w);
	}
}

/* Thread ch of nchunk, filter ranges: every block of tiles, transformed
 * whole by each thread into its own V (at scratch + ch * 16 * C * tbp),
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

	w.v = w.scratch + ch * 16 * w.C * w.tbp;
	w.m = w.scratch + w.nchunk * 16 * w.C * w.tbp;
	w.nchunk = 1;
	for (int64_t t0 = 0; t0 < w.total; t0 += w.tbp) {
		set_block(&w, t0, w.total - t0 < w.tbp ? w.total - t0 : w.tbp);
		in_chunk(&w, 0);
		for (int64_t xi = 0; xi < 16; xi++)
			mul_part(&w, xi, r0, r1);
		if (r0 < f1)
			out_part(&w, r0, f1);
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
		   const int64_t *p, const nncc_abi_ctx *cx)
{
	int64_t N = p[0];
	Wino d = {
	    .x = x, .bias = bias, .y = y, .C = p[1], .H = p[2], .W = p[3], .K = p[4], .OH = p[5],
	    .OW = p[6], .PH = p[11], .PW = p[12], .D = p[13],
	};

	if (!cx || !cx->wcache || !scratch ||
	    !nncc_abi_wino(N, d.C, d.H, d.W, d.K, d.OH, d.OW, p[7], p[8], p[9], p[10], p[13], p[14],
			   p[15]))
		return 0;
	int64_t blk = nncc_abi_wino_block(N, d.C, d.K, d.OH, d.OW, d.D);
	d.th = (d.OH + 2 * d.D - 1) / (2 * d.D) * d.D, d.tw = (d.OW + 2 * d.D - 1) / (2 * d.D) * d.D;
	d.total = N * d.th * d.tw;
	/* Threads, when the weights outweigh the tiles (a small plane of many
	 * filters), on filter ranges: each its own share of U, the input
	 * transform done by each. Else on tiles, each thread its own range
	 * through all three phases, in blocks of as many tiles as its share
	 * of the scratch holds and with the GEMM tile for that width; unless
	 * that pads the GEMMs to whole tiles much more than blocks of blk do:
	 * then threads on each phase of each block. The micro-kernels all sum
	 * in the same order, so the tile does not change the result. */
	int64_t threads = cx->parallel_for ? cx->nthreads : 1, width = 0;
	int mode = 0; /* 0: phases, 1: tile ranges, 2: filter ranges */
	RtTile rt;
	if (!rt_gemm_tile(d.K, blk, d.C, &d.tile))
		return 0;
	if (threads > 1 && d.K > d.total) {
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
	d.tbp = mode ? width : (blk + d.tile.nr - 1) / d.tile.nr * d.tile.nr;
	int fresh = 0;
	uint64_t tag = (uint64_t)WINO_TAG << 56 | (uint64_t)d.tile.mr << 48 | (uint64_t)d.C << 24 | (uint64_t)d.K;
	float *u = cx->wcache(cx->wcache_owner, w, tag, 16 * d.kp * d.C * (int64_t)sizeof(float), &fresh);
	if (!u && p[16]) { /* not a constant: transformed into the scratch */
		u = scratch + nncc_abi_wino_scratch(N, d.C, d.K, d.OH, d.OW, d.D);
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
	d.m = scratch + 16 * d.C * d.tbp;
	for (int64_t t0 = 0; t0 < d.total; t0 += blk) {
		set_block(&d, t0, d.total - t0 < blk ? d.total - t0 : blk);
		run_phase(cx, in_chunk, &d, d.nchunk);
		run_phase(cx, mul_chunk, &d, 16);
		run_phase(cx, out_chunk, &d, d.nchunk);
	}
	return 1;
}
