/* winograd_impl.h — winograd.c's internals shared with winograd_out.c
 * (its output transform): a call's state and the runs of tiles its
 * transforms take. Internal to the kernel library. */
#ifndef NNCC_RT_WINOGRAD_IMPL_H
#define NNCC_RT_WINOGRAD_IMPL_H

#include <stdint.h>

#include <immintrin.h>

#include "epilogue.h"
#include "gemm.h"

typedef struct Wino {
	const float *x, *bias;       /* input, bias or NULL */
	float *y;                    /* output */
	const float *u;              /* transformed weights: nx x kp x c, A panels */
	float *uw;                   /* where wt_chunk writes them */
	const float *wt;             /* the weights, K x C x 3 x 3 (or as swap says) */
	int swap;                    /* NNCC_CONV_SWAP_W, NNCC_CONV_FLIP_W: how wt lies (p[17]) */
	float *v, *m;                /* block scratch: nx planes of c x tbp (B panels), of mrows x tbp */
	int64_t vs, ms;              /* floats between V's planes, M's: a plane and a line more (pad) */
	int64_t pad;                 /* 16 floats, or 0 (more threads than NNCC_ABI_WINO_PAD_PARTS) */
	int64_t m0, mrows;           /* M holds filter rows [m0, m0 + mrows) (kp of them from 0 but
					  in a thread's own filter range) */
	int tm, nx;                  /* output tile tm x tm (2 or 4), nx = (tm + 2)^2 products */
	int64_t C, H, W, K, OH, OW, PH, PW; /* geometry */
	int64_t D;                   /* dilation (both axes) */
	int64_t th, tw;              /* tiles down and across an image (see tile_origin) */
	int64_t kp, tbp;             /* filters padded to whole mr; block tiles padded to whole nr */
	int64_t t0, tb, tbn;         /* this block: first tile, tiles, tiles padded to whole nr */
	int64_t nchunk;              /* chunks of the transforms (phases 1 and 3, the weights) */
	float *scratch;              /* where each thread's v and m start (tile ranges) */
	char *gs;                    /* the GEMM scratch slots, NNCC_ABI_GEMM_SCRATCH bytes a thread */
	int64_t total;               /* tiles over all images */
	RtTile tile;                 /* the GEMM micro-kernel */
	const RtEpi *ep;             /* the epilogue (canonical) on the outputs, or NULL */
} Wino;

/* Per 16 lanes of tiles [t, t + 16) of a block: input and output offsets
 * (int32, abi.h bounds them) and the lanes inside each tile row/column. */
typedef struct Lanes {
	__m512i xoff, yoff;  /* x: top-left of the input tile (may be outside), y: top-left output */
	__mmask16 row[6];    /* input row i of the tile inside the image */
	__mmask16 col[6];    /* input column j inside */
	__mmask16 orow[4];   /* output row a inside */
	__mmask16 ocol[4];   /* output column b inside */
	__mmask16 live;      /* lanes of tiles of the block */
} Lanes;

/* A run of at most 16 tiles of one tile row inside the block. */
typedef struct Seg {
	int64_t cnt;     /* tiles */
	int64_t n, ty, tx; /* image, tile row, first tile column */
} Seg;

/* Tile rows at least this wide take contiguous loads and stores (a
 * segment's lanes are one row's tiles); narrower ones gathers. */
enum { SEG_MIN_TW = 8 };

/* Up to 16 lanes of tiles of narrow tile rows (fewer than SEG_MIN_TW
 * tiles, dilation 1): the segments of the tile rows they span, each a
 * run of input columns loaded whole (one or two vectors) and dealt to its
 * lanes by a two-vector permute. Phase 3 reads the same lanes back the
 * other way: each segment's output rows are runs of tm * cnt columns. */
typedef struct Group {
	int ns, cnt;            /* segments; lanes (tiles) in all */
	int nreg;               /* vectors a segment's input run takes (1 or 2) */
	int64_t n[16], iy0[16], x0[16]; /* image, first input row and column of each */
	int64_t oy[16], ox[16], on[16]; /* first output row and column, outputs a row */
	__mmask16 lanes[16];    /* the segment's lanes */
	__mmask16 m[16][2];     /* its run's columns inside the image, per vector */
	int32_t idx[16][6][16]; /* lane q of column j of the tiles: the run's element */
} Group;

/* Lanes of tiles [t, t + 16) of the block (winograd.c). */
void rt_wino_lanes(const Wino *d, int64_t t, Lanes *l);

/* The segment of the block at tile t: the rest of its tile row, at most
 * 16 tiles, inside the block. */
void rt_wino_seg_at(const Wino *d, int64_t t, Seg *s);

/* The group of narrow rows' segments at tile t: 16 lanes, or what is
 * left of the block. */
void rt_wino_group_at(const Wino *d, int64_t t, Group *g);

/* Phase 3 for filters [f0, f1) of the block (winograd_out.c). */
void rt_wino_out_part(const Wino *d, int64_t f0, int64_t f1);

#endif
