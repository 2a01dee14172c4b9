/* conv_wgrad.c — a wide convolution (window wider than the output: the
 * weight gradient of a convolution, autodiff's conv_wgrad) as dot
 * products over windows read in place. Part of the kernel library.
 *
 * In such a convolution the window w is a whole output adjoint (KH x KW,
 * 56 x 56 for ResNet-18's first stage) and the output a few taps (OH x
 * OW, 3 x 3); the batch is the forward input's channels and the channels
 * its images. im2col (kernels.c's wide_conv) copies every tap's window of
 * every plane: a col of N*OH*OW x C*KH*KW floats, 58 MB for that stage,
 * written to memory and read back by the GEMM's packing, which then runs
 * at the speed of memory, not of the multiply-adds.
 *
 * Here nothing is copied per tap. The input is padded once into planes of
 * Wq columns, each split into its DH x DW phases when the window is
 * dilated (the forward convolution's stride: tap row oy reads rows oy - ph
 * + i*dh, all of one phase), and the window padded to Wq columns with
 * zeros (wp). Then window row i of tap (oy, ox) starts at a fixed offset
 * in its phase plane, and its KH rows of Wq floats are one contiguous run
 * of L = KH*Wq floats (rounded up to whole vectors): the columns past KW
 * multiply wp's zeros. So y[n][k][o] is the dot product, over the
 * channels, of filter k's run in wp with tap o's run in image n's planes.
 * A window whose rows are whole vectors (KW a multiple of 16: the stem's
 * 112) is not copied: its KH rows of KW floats are read where they lie,
 * each against KW floats of the tap's row in the phase plane (Wq apart),
 * no column multiplying zeros (nncc_abi_wide_flat sizes no wp).
 * A tile of 3 filters x 9 taps loads 12 vectors a step for 27
 * multiply-adds from registers, the taps' loads unaligned but from L1
 * (ResNet-18's first-stage weight gradient: 92% of one core's peak, where
 * im2col's GEMM reached 55%). The price is Wq/KW as many multiply-adds
 * (58/56 there) and a reduction across the lanes per tile and block of
 * channels: short runs keep im2col, and so do narrow windows and
 * outputs of few taps (the rules in runtime/abi.h, nncc_abi_wide_flat).
 * Every sum runs in the same order whatever the thread count (threads
 * split the images, or the filters). x's, w's and y's planes may lie with
 * their two leading axes swapped (p[17], NNCC_CONV_SWAP_X, _W, _Y): the
 * padded copies read each plane where it lies, y is written by strides. */
#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include "conv_direct.h"
#include "kernel_util.h"

typedef struct Flat {
	const float *x, *w;
	float *xp, *wp, *y;
	int64_t N, C, H, W, K, KH, KW, PH, PW, DH, DW;
	int64_t Hq, Wq; /* a phase plane's rows and columns */
	int64_t P;      /* floats per (image, channel): DH*DW phase planes */
	int64_t L;      /* floats of a run per channel: KH*Wq, rounded up to whole vectors;
			   rows: KH*KW, in KH rows of KW */
	int rows;       /* the window read in place by rows (KW a multiple of 16), no wp */
	int64_t nx;     /* (image, channel) planes of x */
	int64_t xn, xc, wk, wc, yn, yk; /* floats between x's images and channels, w's filters and
					   channels, y's images and filters (NNCC_CONV_SWAP_*) */
} Flat;

/* Planes [lo, hi) of xp, then of wp after x's: xp[n][c][py][px][a][b] =
 * x[n][c][a*dh + py - ph][b*dw + px - pw] or 0; wp[k][c][i][j] = w[k][c][i][j]
 * for j < KW, else 0. */
static void
flat_planes(const Flat *f, int64_t lo, int64_t hi)
{
	for (int64_t q = lo; q < hi; q++) {
		if (q >= f->nx) { /* a window plane */
			int64_t kc = q - f->nx;
			const float *s = f->w + kc / f->C * f->wk + kc % f->C * f->wc;
			float *d = f->wp + kc * f->L;
			for (int64_t i = 0; i < f->KH; i++, s += f->KW, d += f->Wq) {
				memcpy(d, s, (size_t)f->KW * sizeof(float));
				memset(d + f->KW, 0, (size_t)(f->Wq - f->KW) * sizeof(float));
			}
			memset(d, 0, (size_t)(f->L - f->KH * f->Wq) * sizeof(float));
			continue;
		}
		const float *s = f->x + q / f->C * f->xn + q % f->C * f->xc;
		float *d = f->xp + q * f->P;
		for (int64_t py = 0; py < f->DH; py++)
			for (int64_t px = 0; px < f->DW; px++)
				for (int64_t a = 0; a < f->Hq; a++, d += f->Wq) {
					int64_t iy = a * f->DH + py - f->PH;
					if (iy < 0 || iy >= f->H) {
						memset(d, 0, (size_t)f->Wq * sizeof(float));
						continue;
					}
					/* zeros, columns [b0, b1) of the row (every dw-th), zeros */
					const float *r = s + iy * f->W;
					int64_t off = px - f->PW, b0, b1;
					rt_valid_cols(off, f->DW, f->W, f->Wq, &b0, &b1);
					memset(d, 0, (size_t)b0 * sizeof(float));
					if (f->DW == 1)
						memcpy(d + b0, r + b0 + off, (size_t)(b1 - b0) * sizeof(float));
					else
						for (int64_t b = b0; b < b1; b++)
							d[b] = r[b * f->DW + off];
					memset(d + b1, 0, (size_t)(f->Wq - b1) * sizeof(float));
				}
	}
}

/* One tile of the dot products: KB filters x OB taps, each the sum over
 * cb channels of nr rows of lp floats (whole vectors) of the window (w[i]
 * + c*wc + r*wr) and the padded input (x[j] + c*xc + r*xr); into
 * out[i*MAX_OB + j]. The KB + OB loads of each step feed KB*OB
 * multiply-adds from registers (3 x 9: 12 loads, 27 multiply-adds). A
 * channel's run is one row (nr 1), or the rows of a window read in place. */
enum { MAX_OB = 9 }; /* taps per tile */
typedef struct Tile {
	const float *w[16], *x[MAX_OB];
	int64_t cb, wc, xc, lp, nr, wr, xr;
	float *out;
} Tile;

/* With XF (tiles of more filters than taps) the taps' OB vectors load
 * first and each filter's one at a time: KB*OB + OB + 1 vector registers
 * where the filters first take KB*OB + KB + 1, past the 32 there are from
 * 8 x 3 (whose filters' loads GCC then folded into every multiply-add: 27
 * loads a step for 24 multiply-adds, 3 times a 3 x 9 tile's time a tap on
 * the stem's weight gradient). */
#define DOTS_XF(KB, OB, XF)                                                                       \
	__attribute__((target("avx512f"))) static void dots_##KB##_##OB(const Tile *t)            \
	{                                                                                         \
		__m512 acc[KB][OB];                                                               \
		for (int i = 0; i < KB; i++)                                                      \
			for (int j = 0; j < OB; j++)                                              \
				acc[i][j] = _mm512_setzero_ps();                                  \
		for (int64_t c = 0, ch = 0, r = 0; c < t->cb * t->nr; c++, r++) {                \
			const float *wr[KB], *xr[OB];                                             \
			if (r == t->nr) /* the next channel's first row */                        \
				ch++, r = 0;                                                      \
			for (int i = 0; i < KB; i++)                                              \
				wr[i] = t->w[i] + ch * t->wc + r * t->wr;                         \
			for (int j = 0; j < OB; j++)                                              \
				xr[j] = t->x[j] + ch * t->xc + r * t->xr;                         \
			for (int64_t q = 0; q < t->lp; q += 16) {                                 \
				__m512 v[XF ? OB : KB]; /* the vectors held: taps or filters */   \
				for (int a = 0; a < (XF ? OB : KB); a++)                          \
					v[a] = _mm512_loadu_ps((XF ? xr[a] : wr[a]) + q);         \
				for (int b = 0; b < (XF ? KB : OB); b++) {                        \
					__m512 u = _mm512_loadu_ps((XF ? wr[b] : xr[b]) + q);     \
					__asm__("" : "+v"(u)); /* one load, not one per use */    \
					for (int a = 0; a < (XF ? OB : KB); a++) {                \
						__m512 *s = XF ? &acc[b][a] : &acc[a][b];         \
						*s = _mm512_fmadd_ps(v[a], u, *s);                \
					}                                                         \
				}                                                                 \
			}                                                                         \
		}                                                                                 \
		for (int i = 0; i < KB; i++)                                                      \
			for (int j = 0; j < OB; j++)                                              \
				t->out[i * MAX_OB + j] = _mm512_reduce_add_ps(acc[i][j]);          \
	}
#define DOTS(KB, OB) DOTS_XF(KB, OB, 0)
#define DOTS_X(KB, OB) DOTS_XF(KB, OB, 1)

DOTS(3, 9)
DOTS(3, 8)
DOTS(3, 7)
DOTS(4, 6)
DOTS(5, 5)
DOTS(6, 4)
DOTS_X(8, 3)
DOTS_X(12, 2)
DOTS_X(16, 1)

/* The tile shapes by taps per tile (1 to 9): filters per tile, kernel. */
static const struct {
	int kb;
	void (*fn)(const Tile *);
} dots_fns[10] = {
    {0, NULL},      {16, dots_16_1}, {12, dots_12_2}, {8, dots_8_3}, {6, dots_6_4},
    {5, dots_5_5},  {4, dots_4_6},   {3, dots_3_7},   {3, dots_3_8}, {3, dots_3_9},
};

enum {
	GROUP_FLOATS = 98304,  /* window floats per group of filters (384 KiB: L2 holds them) */
	BLOCK_RUN = 2048,      /* floats per dot product (channels joined) from which a block stops */
	PHASE_FLOATS = 8192,   /* floats of an (image, channel) block past which tiles keep to a phase */
};

typedef struct Dots {
	const Flat *f;
	const int64_t *tap;  /* the taps in order, or phase by phase (PHASE_FLOATS: a tile's taps then share a phase plane, from L1) */
	const int64_t *xoff; /* per tap of that order: its offset in an (image, channel) block of xp */
	const int64_t *tile; /* tiles: their first place in that order, and one past the last */
	int64_t ntile, hw, cb, kg; /* tiles; taps; channels per block; filters per group */
	int64_t chunks;
} Dots;

/* Whether the chunks split the images: when they share them out evenly
 * or nearly (at least 4 a chunk); else each chunk takes a share of the
 * filters (the stem's weight gradient has 3 "images", its input
 * channels: split 1 and 2, one thread waited a third of the time). */
static int
split_images(int64_t N, int64_t K, int64_t chunks)
{
	return N >= chunks && (N % chunks == 0 || N >= 4 * chunks || K < chunks);
}

/* Chunk ch: images [n0, n1) (a share of N), or all of them and filters
 * [ka, kz) (a share of K, split_images); for each block of cb channels
 * and group of kg filters (its windows stay in L2), each image's tiles.
 * Each output's sum is one tile's, over the blocks in order, whichever
 * chunk takes it. */
static void
dots_chunk(void *closure, int64_t ch)
{
	const Dots *d = closure;
	const Flat *f = d->f;
	int by_n = split_images(f->N, f->K, d->chunks);
	int64_t n0 = by_n ? ch * f->N / d->chunks : 0, n1 = by_n ? (ch + 1) * f->N / d->chunks : f->N;
	int64_t ka = by_n ? 0 : ch * f->K / d->chunks, kz = by_n ? f->K : (ch + 1) * f->K / d->chunks;
	int64_t lp = f->L;

	for (int64_t c0 = 0; c0 < f->C; c0 += d->cb)
		for (int64_t k0 = ka; k0 < kz; k0 += d->kg)
			for (int64_t n = n0; n < n1; n++)
				for (int64_t ti = 0; ti < d->ntile; ti++) {
					int64_t o0 = d->tile[ti];
					int ob = (int)(d->tile[ti + 1] - o0), kb = dots_fns[ob].kb;
					int64_t k1 = kz < k0 + d->kg ? kz : k0 + d->kg;
					float part[16 * MAX_OB];
					Tile t = {.cb = f->C - c0 < d->cb ? f->C - c0 : d->cb, .wc = lp, .xc = f->P,
						  .lp = lp, .nr = 1, .out = part};
					if (f->rows) /* KH rows of KW a channel, w where it lies */
						t.wc = f->wc, t.lp = f->KW, t.nr = f->KH, t.wr = f->KW, t.xr = f->Wq;
					for (int j = 0; j < ob; j++)
						t.x[j] = f->xp + (n * f->C + c0) * f->P + d->xoff[o0 + j];
					for (int64_t k = k0; k < k1; k += kb) {
						int rows = (int)(k1 - k < kb ? k1 - k : kb);
						float *yk = f->y + n * f->yn + k * f->yk;
						for (int i = 0; i < kb; i++) { /* missing rows repeat the last */
							int64_t ki = k + (i < rows ? i : rows - 1);
							t.w[i] = f->rows ? f->w + ki * f->wk + c0 * f->wc
									 : f->wp + (ki * f->C + c0) * lp;
						}
						dots_fns[ob].fn(&t);
						for (int i = 0; i < rows; i++)
							for (int j = 0; j < ob; j++) {
								float *o = yk + i * f->yk + d->tap[o0 + j];
								*o = c0 ? *o + part[i * MAX_OB + j] : part[i * MAX_OB + j];
							}
					}
				}
}

typedef struct FlatJob {
	const Flat *f;
	int64_t n, chunks;
} FlatJob;

static void
flat_chunk(void *closure, int64_t ch)
{
	const FlatJob *j = closure;

	flat_planes(j->f, ch * j->n / j->chunks, (ch + 1) * j->n / j->chunks);
}

int
rt_conv2d_wide_flat(const float *x, const float *w, const float *bias, float *y, float *scratch,
		    int64_t room, const int64_t *p, const nncc_abi_ctx *cx)
{
	int64_t N = p[0], C = p[1], H = p[2], W = p[3], K = p[4], OH = p[5], OW = p[6];
	int64_t KH = p[7], KW = p[8], SH = p[9], SW = p[10], PH = p[11], PW = p[12];
	int64_t DH = p[13], DW = p[14], G = p[15], hw = OH * OW;

	/* the shape rules (runtime/abi.h, which the code generator sizes the
	 * scratch by): windows narrower than NNCC_ABI_WIDE_FLAT_MIN_KW would
	 * pay too much of Wq/KW; short runs, reductions costing more than
	 * im2col saves; fewer than NNCC_ABI_WIDE_FLAT_MIN_TAPS taps, window
	 * loads feeding too few multiply-adds (a stride-2 1x1's one tap: 16
	 * loads for 16, a matrix-vector product per image, where im2col's GEMM
	 * reuses them across the images) */
	int64_t need = nncc_abi_wide_flat(N, C, K, G, OH, OW, KH, KW, DH, DW);
	if (!need || need > room || SH != 1 || SW != 1 || KW <= OW || PH < 0 || PW < 0 ||
	    !__builtin_cpu_supports("avx512f"))
		return 0;
	/* tap (oy, ox) reads padded row oy + i*dh: phase oy % dh, phase row
	 * oy / dh + i; a phase plane holds every tap's window */
	Flat f = {.x = x, .w = w, .y = y, .N = N, .C = C, .H = H, .W = W, .K = K, .KH = KH, .KW = KW,
		  .PH = PH, .PW = PW, .DH = DH, .DW = DW};
	f.Hq = (OH - 1) / DH + KH;
	f.Wq = (OW - 1) / DW + KW;
	f.P = DH * DW * f.Hq * f.Wq;
	f.rows = KW % 16 == 0;
	f.L = f.rows ? KH * KW : (KH * f.Wq + 15) / 16 * 16;
	f.nx = N * C;
	int64_t swap = p[17] & ~NNCC_CONV_LEAN, xhw = H * W, khw = KH * KW;
	f.xn = swap & NNCC_CONV_SWAP_X ? xhw : C * xhw, f.xc = swap & NNCC_CONV_SWAP_X ? N * xhw : xhw;
	f.wk = swap & NNCC_CONV_SWAP_W ? khw : C * khw, f.wc = swap & NNCC_CONV_SWAP_W ? K * khw : khw;
	f.yn = swap & NNCC_CONV_SWAP_Y ? hw : K * hw, f.yk = swap & NNCC_CONV_SWAP_Y ? N * hw : hw;
	/* scratch (need floats): xp (and slack: the last tap's run ends L -
	 * KH*Wq + OW - 1 floats past its plane, on wp's zeros), wp, and the
	 * taps in order or phase by phase, their offsets, and tiles of at most
	 * MAX_OB taps (3 hw + 1 int64) */
	int64_t nxp = f.nx * f.P + f.Wq + 16, nwp = f.rows ? 0 : K * C * f.L;
	f.xp = scratch;
	f.wp = f.xp + nxp;
	int64_t *tap = (int64_t *)(((uintptr_t)(f.wp + nwp) + 63) & ~(uintptr_t)63);
	int64_t *xoff = tap + hw, *tile = xoff + hw, nt = 0, q = 0;
	/* taps grouped by phase only where an image's channel outgrows L1
	 * (the stem's 4 x 115 x 115 floats): else a tile of one phase's taps
	 * would hold fewer of them (4, 2, 2 and 1 of a 3x3's 9 at stride 2) */
	int64_t groups = f.P > PHASE_FLOATS ? DH * DW : 1;
	for (int64_t ph = 0; ph < groups; ph++) {
		int64_t first = q, py = ph / DW, px = ph % DW;
		for (int64_t o = 0; o < hw; o++) {
			int64_t oy = o / OW, ox = o % OW;
			if (groups > 1 && (oy % DH != py || ox % DW != px))
				continue;
			if ((q - first) % MAX_OB == 0)
				tile[nt++] = q;
			tap[q] = o;
			xoff[q++] = ((oy % DH * DW + ox % DW) * f.Hq + oy / DH) * f.Wq + ox / DW;
		}
	}
	tile[nt] = q;
	memset(f.xp + f.nx * f.P, 0, (size_t)(f.Wq + 16) * sizeof(float));
	int64_t nplanes = f.nx + (f.rows ? 0 : K * C);
	FlatJob job = {&f, nplanes, rt_chunks(nplanes, nxp + nwp)};
	int par = cx && cx->parallel_for && cx->nthreads > 1;
	if (par && job.chunks > 1)
		cx->parallel_for(cx->pool, flat_chunk, &job, job.chunks);
	else
		flat_planes(&f, 0, job.n);
	/* channels per block: runs of BLOCK_RUN floats at least; filters per
	 * group: their windows over the block within GROUP_FLOATS */
	Dots d = {.f = &f, .tap = tap, .xoff = xoff, .tile = tile, .ntile = nt, .hw = hw};
	d.cb = (BLOCK_RUN + f.L - 1) / f.L;
	d.cb = d.cb > C ? C : d.cb;
	d.kg = GROUP_FLOATS / (d.cb * f.L) / 3 * 3; /* whole tiles of 3 filters (9 taps) */
	d.kg = d.kg < 3 ? 3 : d.kg;
	d.chunks = par ? cx->nthreads : 1;
	if (N < d.chunks && K < d.chunks) /* too few of either to share */
		d.chunks = N > K ? N : K;
	if (d.chunks > 1)
		cx->parallel_for(cx->pool, dots_chunk, &d, d.chunks);
	else
		dots_chunk(&d, 0);
	if (bias)
		for (int64_t n = 0; n < N; n++)
			for (int64_t k = 0; k < K; k++)
				for (int64_t o = 0; o < hw; o++)
					y[n * f.yn + k * f.yk + o] += bias[k];
	return 1;
}
