/* kernels.c — the kernel library linked statically into every compiled
 * model: batched matmul and 2-D convolution on top of the GEMM of gemm.c
 * (the copies in front of it: im2col.c; the general 3-D and transposed
 * convolution: conv_nd.c; depthwise convolutions: depthwise.c).
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

#include <immintrin.h>

#include "abi.h"
#include "conv_direct.h"
#include "depthwise.h"
#include "gemm.h"
#include "im2col.h"
#include "kernel_util.h"
#include "winograd.h"

/* For every index (i0, .., i{nbatch-1}) of the batch extents bext, row-major:
 * C[sum i*sc] = op(A[sum i*sa]) * op(B[sum i*sb]). A stride 0 broadcasts. */
HIDDEN void
nncc_rt_matmul_f32(const float *a, const float *b, float *c, int32_t nbatch,
		   const int64_t *bext, const int64_t *sa, const int64_t *sb, const int64_t *sc,
		   int64_t m, int64_t n, int64_t k, int32_t trans_a, int32_t trans_b, const void *ctx)
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
		rt_gemm_rm(ctx, a + oa, b + ob, c + oc, m, n, k, trans_a, trans_b, 0.0f);
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

/* One block of images [b0, b0 + nb) of a wide convolution (wide_conv),
 * for one group: row r = (b - b0)*hw + o of col (ckk floats) holds image
 * b's windows at output position o, channel after channel. */
typedef struct Wide {
	const Conv *v;
	const float *x; /* the whole input */
	float *col;     /* nb*hw rows of ckk */
	int64_t b0, nb, g; /* first image, images, group */
	int64_t nchunk; /* chunks of the rows */
} Wide;

static void
wide_chunk(void *closure, int64_t ch)
{
	const Wide *w = closure;
	const Conv *v = w->v;
	int64_t rows = w->nb * v->hw, kk = v->KH * v->KW;

	for (int64_t r = ch * rows / w->nchunk; r < (ch + 1) * rows / w->nchunk; r++) {
		const float *xb = w->x + ((w->b0 + r / v->hw) * v->C + w->g * v->cg) * v->H * v->W;
		for (int64_t c = 0; c < v->cg; c++)
			rt_window_row(v, xb + c * v->H * v->W, r % v->hw, w->col + r * v->ckk + c * kk);
	}
}

/* A block's product z (kg rows of ld floats: images b0 .. b0+n-1 side
 * by side, hw columns each) into y image by image, plus group g's bias. */
static void
copy_out(const Conv *v, float *y, const float *z, int64_t ld, int64_t b0, int64_t n, int64_t g,
	 const float *bias)
{
	for (int64_t b = 0; b < n; b++)
		for (int64_t k = 0; k < v->kg; k++) {
			float bk = bias ? bias[g * v->kg + k] : 0.0f;
			float *yr = y + ((b0 + b) * v->K + g * v->kg + k) * v->hw;
			const float *zr = z + k * ld + b * v->hw;
			for (int64_t o = 0; o < v->hw; o++)
				yr[o] = zr[o] + bk;
		}
}

/* wide_conv where the scratch holds less than one image's col: image by
 * image, its channels in runs of cb (col: hw rows of cb*kk floats), z
 * summed over the runs by GEMMs that accumulate (the stem's weight
 * gradient without AVX-512: 49 x 100352 floats an image, runs of about
 * two channels). cb >= 1: the scratch holds one channel's col at least
 * (abi.h nncc_abi_wide_scratch). */
static void
wide_conv_runs(Conv *v, int64_t N, const float *x, const float *w, const float *bias, float *y, int64_t room,
	       const nncc_abi_ctx *cx)
{
	int64_t kk = v->KH * v->KW, cb = (room / v->hw - v->kg) / kk;
	float *z = v->col + v->hw * cb * kk;

	for (int64_t g = 0; g < v->G; g++)
		for (int64_t b = 0; b < N; b++) {
			const float *xb = x + (b * v->C + g * v->cg) * v->H * v->W;
			for (int64_t c0 = 0; c0 < v->cg; c0 += cb) {
				int64_t n = v->cg - c0 < cb ? v->cg - c0 : cb;
				for (int64_t o = 0; o < v->hw; o++)
					for (int64_t c = 0; c < n; c++)
						rt_window_row(v, xb + (c0 + c) * v->H * v->W, o, v->col + (o * n + c) * kk);
				rt_gemm(cx, v->kg, v->hw, n * kk, w + g * v->kg * v->ckk + c0 * kk, v->ckk, 0, v->col,
					n * kk, 1, c0 > 0, z, v->hw);
			}
			copy_out(v, y, z, v->hw, b, 1, g, bias);
		}
}

/* A wide convolution (window wider than the output: the weight gradient,
 * whose window is a whole output adjoint, and whose output is a few
 * positions) over blocks of nb images (nncc_abi_wide_images): per group
 * and block, one GEMM z (kg x nb*hw) = w_g (kg x ckk) * col^T, col holding
 * the block's windows (nb*hw rows of ckk), then z goes to y (+ bias). One
 * GEMM per image would be hw columns wide, a few of a tile. scratch holds
 * col and z: nb*hw*(ckk + kg) floats, room floats in all: where the dot
 * products may run, the code generator sizes it for them (at least one
 * channel of one image: wide_conv_runs), and blocks here take as many
 * images as it holds. The images per block change no sum: each output is
 * one GEMM's sum over ckk (or, in runs of channels, the runs' sums in
 * order). */
static void
wide_conv(Conv *v, int64_t N, const float *x, const float *w, const float *bias, float *y,
	  int64_t room, const nncc_abi_ctx *cx)
{
	int64_t nb = nncc_abi_wide_images(N, v->hw), fit = room / (v->hw * (v->ckk + v->kg));
	if (fit < 1) {
		wide_conv_runs(v, N, x, w, bias, y, room, cx);
		return;
	}
	nb = fit < nb ? fit : nb;

	for (int64_t g = 0; g < v->G; g++)
		for (int64_t b0 = 0; b0 < N; b0 += nb) {
			int64_t n = N - b0 < nb ? N - b0 : nb, rows = n * v->hw;
			float *z = v->col + rows * v->ckk;
			Wide wd = {v, x, v->col, b0, n, g, rt_chunks(rows, rows * v->ckk)};
			if (cx && cx->parallel_for && rows * v->ckk >= 2 * COPY_CHUNK && wd.nchunk > 1)
				cx->parallel_for(cx->pool, wide_chunk, &wd, wd.nchunk);
			else
				for (int64_t ch = 0; ch < wd.nchunk; ch++)
					wide_chunk(&wd, ch);
			/* z (kg x rows) = w_g (kg x ckk) * col^T (col: rows x ckk) */
			rt_gemm(cx, v->kg, rows, v->ckk, w + g * v->kg * v->ckk, v->ckk, 0, v->col, v->ckk, 1,
				0, z, rows);
			copy_out(v, y, z, rows, b0, n, g, bias);
		}
}

/* One image and group of a convolution by im2col and GEMM, in bands of
 * output rows: each band's im2col (its own compact col), then its GEMM
 * into the band's columns of yg (row stride hw), starting each row from
 * its bias. A col that would not stay in L2 (GoogLeNet's and ResNet's
 * first 7x7, 1.8M floats) goes in bands (abi.h nncc_abi_conv_band_rows), so the GEMM
 * reads what the copy just wrote from L2, not from memory.
 *
 * On several threads, each takes a run of whole bands (at least one band
 * per thread), im2col and GEMM on its own, with its own GEMM scratch
 * slot: what a thread copies, it multiplies, and the output rows it
 * writes are the rows of the input it read (the next layer's split
 * finds them in its cache). A split of the copy by col rows and of the
 * GEMM by columns would hand half of every col to the other core, a
 * cost that doubles on a VM whose two vCPUs do not share a cache. Each
 * output is one GEMM's sum over the col rows, in the same order whatever
 * band it falls in (the tiled micro-kernels all sum along k alike; the
 * caller keeps bands off the dot-product path unless the whole plane
 * takes it too), so the result does not depend on the thread count. */
typedef struct Bands {
	const Conv *v;
	const nncc_abi_ctx *cx;
	const float *w, *wg;
	uint32_t g;
	int64_t rows, nband; /* output rows per band, bands */
	int64_t nchunk;      /* threads (runs of bands), each its band's col in a slot of its own */
	int cached;          /* the weight cache may be read from every thread */
} Bands;

/* *cx with no threads of its own, in *c1 (the pool's threads are busy
 * elsewhere, or not worth waking). */
static nncc_abi_ctx *
one_thread(const nncc_abi_ctx *cx, nncc_abi_ctx *c1)
{
	*c1 = *cx;
	c1->nthreads = 1, c1->parallel_for = NULL, c1->pool = NULL;
	return c1;
}

static void
bands_chunk(void *closure, int64_t ch)
{
	const Bands *b = closure;
	Conv v = *b->v;
	const nncc_abi_ctx *cx = b->cx;
	nncc_abi_ctx c1;
	int64_t b0 = ch * b->nband / b->nchunk, b1 = (ch + 1) * b->nband / b->nchunk;

	if (b->nchunk > 1) { /* this thread's slot, no nested threads */
		one_thread(cx, &c1);
		c1.gemm_scratch = (char *)c1.gemm_scratch + ch * NNCC_ABI_GEMM_SCRATCH;
		if (!b->cached)
			c1.wcache = NULL;
		cx = &c1;
	}
	/* the thread's bands reuse one col, in the thread's slot */
	v.col += v.ckk * v.OW * b->rows * ch;
	for (int64_t k = b0; k < b1; k++) {
		v.oy0 = k * b->rows;
		v.oy1 = v.OH - v.oy0 < b->rows ? v.OH : v.oy0 + b->rows;
		int64_t nb = (v.oy1 - v.oy0) * v.OW;
		rt_im2col(&v, 0, v.ckk);
		rt_gemm_const_a(cx, b->w, b->g, v.kg, nb, v.ckk, b->wg, v.col, nb, 0, 0, v.bias,
				v.yg + v.oy0 * v.OW, v.hw, v.ep);
	}
}

/* One band, the whole plane, on several threads: the copy split by col
 * rows into chunks of at least COPY_CHUNK floats. */
typedef struct Copy {
	const Conv *v;
	int64_t nchunk;
} Copy;

static void
copy_chunk(void *closure, int64_t ch)
{
	const Copy *c = closure;

	rt_im2col(c->v, ch * c->v->ckk / c->nchunk, (ch + 1) * c->v->ckk / c->nchunk);
}

/* Bands of rows output rows (see Bands) on threads threads at most,
 * in room floats of scratch. */
static void
band_conv(Conv *v, const nncc_abi_ctx *cx, const float *w, uint32_t g, const float *wg, int64_t rows,
	  int64_t threads, int64_t room)
{
	Bands b = {v, cx, w, wg, g, rows, (v->OH + rows - 1) / rows, 1, 1};
	int64_t n = threads < b.nband ? threads : b.nband;

	/* as many threads as the scratch holds their cols: thread ch's at
	 * ch bands' cols in (its bands as long as the first but for the very
	 * last band) */
	for (; n > 1; n--) {
		int64_t last = b.nband - (n - 1) * b.nband / n > 1 ? rows : v->OH - (b.nband - 1) * rows;
		if (v->ckk * v->OW * ((n - 1) * rows + last) <= room)
			break;
	}
	if (b.nband > 1) /* (one band: the whole col, the copy and the GEMM split) */
		threads = n;
	if (threads > 1 && b.nband > 1) {
		b.nchunk = b.nband < threads ? b.nband : threads;
		/* the weight's cache entry filled here, for each band width */
		int64_t last = v->OH - (b.nband - 1) * rows;
		b.cached = rt_gemm_const_a_ready(cx, w, g, v->kg, rows * v->OW, v->ckk, wg) &&
			   rt_gemm_const_a_ready(cx, w, g, v->kg, last * v->OW, v->ckk, wg);
		cx->parallel_for(cx->pool, bands_chunk, &b, b.nchunk);
	} else if (threads > 1) { /* then the GEMM splits as it sees fit */
		Copy c = {v, rt_chunks(v->ckk, v->ckk * v->hw)};
		cx->parallel_for(cx->pool, copy_chunk, &c, c.nchunk);
		rt_gemm_const_a(cx, w, g, v->kg, v->hw, v->ckk, wg, v->col, v->hw, 0, 0, v->bias, v->yg,
				v->hw, v->ep);
	} else {
		bands_chunk(&b, 0);
	}
	v->oy0 = 0, v->oy1 = v->OH;
}

/* The images of a convolution with a small output plane in blocks of nb
 * (nncc_abi_conv_images): the block's cols side by side (each image's
 * im2col into its columns; ldc the block's width), one GEMM z = w_g * col
 * (kg x nb*hw, after the cols in scratch), then z copied out image by
 * image with the bias, and the epilogue applied to the block's planes.
 * Each output is the GEMM's sum over the col rows, as image by image. */
static void
batch_conv(Conv *v, const nncc_abi_ctx *cx, int64_t N, int64_t nb, const float *x, const float *w,
	   const float *bias, float *y, int64_t threads, const RtEpi *ep)
{
	float *col = v->col;

	for (int64_t b0 = 0; b0 < N; b0 += nb) {
		int64_t n = N - b0 < nb ? N - b0 : nb, cols = n * v->hw;
		float *z = col + v->ckk * cols;
		for (int64_t g = 0; g < v->G; g++) {
			v->ldc = cols;
			for (int64_t b = 0; b < n; b++) {
				v->xg = x + ((b0 + b) * v->C + g * v->cg) * v->H * v->W;
				v->col = col + b * v->hw;
				if (threads > 1) {
					Copy c = {v, rt_chunks(v->ckk, v->ckk * v->hw)};
					cx->parallel_for(cx->pool, copy_chunk, &c, c.nchunk);
				} else {
					rt_im2col(v, 0, v->ckk);
				}
			}
			v->col = col, v->ldc = 0;
			rt_gemm(cx, v->kg, cols, v->ckk, w + g * v->kg * v->ckk, v->ckk, 0, col, cols, 0, 0, z, cols);
			copy_out(v, y, z, cols, b0, n, g, bias);
		}
		if (rt_epi_on(ep))
			rt_epi_rows(ep, y + b0 * v->K * v->hw, v->hw, n * v->K, v->hw);
	}
}

/* p = {n, c, h, w, k, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, group}.
 * x [N,C,H,W], w [K, C/G, kh, kw], bias [K] or NULL, y [N,K,oh,ow].
 * ph/pw are the top/left pads; the bottom/right ones follow from oh/ow.
 * scratch holds (C/G)*kh*kw*oh*ow floats (in blocks of images,
 * nncc_abi_conv_blocks: nb*oh*ow*((C/G)*kh*kw + K/G) with nb =
 * nncc_abi_wide_images(n, oh*ow), see wide_conv), and may be NULL exactly when
 * kh == kw == 1, sh == sw == 1, ph == pw == 0, oh == h and ow == w (the
 * 1x1 fast path multiplies x directly). A depthwise convolution (several
 * groups of one input channel) runs directly, without scratch or GEMM. ctx
 * (an nncc_abi_ctx, or NULL) lends threads to the im2col copies of big
 * convolutions, to depthwise planes and to the GEMMs, and holds
 * the GEMMs' packing buffers. epi (or NULL) and res: the epilogue
 * (nncc_abi_epi), which each path applies as it stores. */
HIDDEN void
nncc_rt_conv2d_f32(const float *x, const float *w, const float *bias, float *y,
		   float *scratch, const int64_t *p, const void *ctx, const nncc_abi_epi *epi,
		   const float *res)
{
	const nncc_abi_ctx *cx = ctx;
	int64_t N = p[0];
	RtEpi ep;
	Conv v = {
		.C = p[1], .H = p[2], .W = p[3], .K = p[4], .OH = p[5], .OW = p[6], .KH = p[7],
		.KW = p[8], .SH = p[9], .SW = p[10], .PH = p[11], .PW = p[12], .DH = p[13],
		.DW = p[14], .G = p[15],
	};
	int fast;

	if (v.G <= 0 || v.C % v.G || v.K % v.G)
		return;
	v.cg = v.C / v.G;
	v.kg = v.K / v.G;
	v.ckk = v.cg * v.KH * v.KW;
	v.hw = v.OH * v.OW;
	v.col = scratch;
	v.oy0 = 0, v.oy1 = v.OH;
	rt_epi_init(&ep, epi, res, y);
	if (rt_epi_on(&ep) && !ep.canon) { /* a list the paths do not take: a pass after */
		nncc_rt_conv2d_f32(x, w, bias, y, scratch, p, ctx, NULL, NULL);
		rt_epi_rows(&ep, y, v.hw, N * v.K, v.hw);
		return;
	}
	if ((p[17] & ~NNCC_CONV_LEAN) && v.G == 1) { /* operands transposed or flipped in their buffers (conv_swap.c;
				    the flags are defined for one group, the code generator sets none else) */
		rt_conv2d_swapped(x, w, bias, y, scratch, p, cx, &ep);
		return;
	}
	v.ep = &ep;
	fast = v.KH == 1 && v.KW == 1 && v.SH == 1 && v.SW == 1 && v.PH == 0 && v.PW == 0 &&
	       v.OH == v.H && v.OW == v.W;
	if (v.cg == 1 && v.G > 1) { /* depthwise: direct, threads over the planes */
		rt_conv2d_depthwise(x, w, bias, y, p, cx, &ep);
		return;
	}
	if (!fast && rt_conv2d_winograd(x, w, bias, y, scratch, p, cx, &ep)) /* 3x3, stride 1 */
		return;
	int64_t room = nncc_abi_conv_room(v.C, v.K, v.G, v.OH, v.OW, v.KH, v.KW, v.SH, v.SW, v.DH, v.DW);
	if (!fast && rt_conv2d_lanes(x, w, bias, y, scratch, room, p, cx, &ep)) /* a first layer's wide window */
		return;
	if (!fast && rt_conv2d_direct(x, w, bias, y, p, cx, &ep)) /* few filters: no im2col */
		return;
	/* a window wider than the output: several images per GEMM, col
	 * transposed (rows of windows) */
	if (!fast && nncc_abi_conv_blocks(N, v.KW, v.OW, v.hw)) {
		int64_t wroom = (p[17] & NNCC_CONV_LEAN ? nncc_abi_wide_scratch_lean : nncc_abi_wide_scratch)(
		    N, v.C, v.K, v.G, v.OH, v.OW, v.KH, v.KW, v.DH, v.DW);
		if (!rt_conv2d_wino_wgrad(x, w, bias, y, scratch, wroom, p, cx) &&
		    !rt_conv2d_wide_flat(x, w, bias, y, scratch, wroom, p, cx) &&
		    (v.KW <= v.OW || !rt_conv2d_wide_direct(x, w, bias, y, p, cx)))
			wide_conv(&v, N, x, w, bias, y, wroom, cx);
		rt_epi_rows(&ep, y, v.hw, N * v.K, v.hw); /* weight gradients: rare, a pass after */
		return;
	}
	/* threads for at least two chunks' worth of copying */
	int64_t threads = cx && cx->parallel_for && v.ckk * v.hw >= 2 * COPY_CHUNK ? cx->nthreads : 1;
	nncc_abi_ctx c1;
	if (!fast && cx && cx->nthreads > 1 && N * v.K * v.hw * v.ckk < RT_CONV_PAR_MIN_MACS &&
	    v.K * v.ckk < RT_CONV_PAR_MIN_WEIGHTS)
		cx = one_thread(cx, &c1), threads = 1;
	/* bands: of about NNCC_ABI_BAND_FLOATS col floats when the col would not stay
	 * in L2; else as many as threads when the col outweighs the weights
	 * (each thread's GEMM reads all of them: for a small plane of many
	 * filters, the threads rather split the copy by col rows and the
	 * GEMM by filters); else one, the whole plane */
	int64_t rows = nncc_abi_conv_band_rows(v.OH, v.OW, v.ckk);
	/* a lean scratch where Winograd might have run: one band's col */
	int lean = (p[17] & NNCC_CONV_LEAN) &&
		   nncc_abi_wino(N, v.C, v.H, v.W, v.K, v.OH, v.OW, v.KH, v.KW, v.SH, v.SW, v.DH, v.DW, v.G);
	if (lean)
		rows = nncc_abi_conv_band_rows_lean(v.OH, v.OW, v.ckk), room = rows * v.OW * v.ckk;
	if (!rows && threads > 1 && v.hw >= v.kg) {
		/* unless a band's GEMM would take the dot-product path (every
		 * band at most RT_GEMM_DOTS_MAX_N columns) where the whole
		 * plane does not: it sums in another order, and the result
		 * would depend on the thread count */
		rows = (v.OH + threads - 1) / threads;
		if ((v.OH - (v.OH - 1) / rows * rows) * v.OW <= RT_GEMM_DOTS_MAX_N && v.hw > RT_GEMM_DOTS_MAX_N)
			rows = v.OH;
	} else if (!rows) {
		rows = v.OH;
	}
	int64_t nimg = fast || lean ? 1 : nncc_abi_conv_images(N, v.hw, v.ckk, v.kg);
	if (nimg > 1) {
		batch_conv(&v, cx, N, nimg, x, w, bias, y, threads, &ep);
		return;
	}
	for (int64_t b = 0; b < N; b++)
		for (int64_t g = 0; g < v.G; g++) {
			const float *wg = w + g * v.kg * v.ckk;
			v.xg = x + (b * v.C + g * v.cg) * v.H * v.W;
			v.yg = y + (b * v.K + g * v.kg) * v.hw;
			v.bias = bias ? bias + g * v.kg : NULL;
			if (fast) /* yg (kg x hw) = bias + wg (kg x ckk) * x (ckk x hw) */
				rt_gemm_const_a(cx, w, (uint32_t)g, v.kg, v.hw, v.ckk, wg, v.xg, v.hw, 0, 0, v.bias,
						v.yg, v.hw, v.ep);
			else
				band_conv(&v, cx, w, (uint32_t)g, wg, rows, threads, room);
		}
}
