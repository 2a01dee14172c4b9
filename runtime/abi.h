/* abi.h — the contract between a compiled model (.so) and the runtime.
 *
 * The codegen writes one nncc_abi_model constant into every artifact,
 * exported as `<model>_nncc_model` and, for dlopen users, as `nncc_model`.
 * The runtime reads it, allocates a session arena of arena_bytes, and calls
 * run(). Everything here is plain C data so the LLVM backend can emit it as
 * constants. Bump NNCC_ABI_VERSION on any change. */
#ifndef NNCC_ABI_H
#define NNCC_ABI_H

#include <stdint.h>

#define NNCC_ABI_MAGIC 0x6e6e6363u /* "nncc" */
#define NNCC_ABI_VERSION 6 /* 3: param_role (training state); 4: gemm_scratch; 5: dynamic batch; 6: weight cache */

typedef struct nncc_abi_tensor {
	const char *name;    /* NUL-terminated */
	int32_t dtype;       /* ONNX TensorProto.DataType code (1 = float32) */
	int32_t rank;
	const int64_t *dims; /* rank extents, all static */
	int64_t nbytes;      /* product(dims) * element size */
	const void *data;    /* params: the embedded read-only data; else NULL */
} nncc_abi_tensor;

/* Bytes of GEMM packing buffers per thread (runtime/gemm.c). */
#define NNCC_ABI_GEMM_SCRATCH (1280 * 1024)
/* A GEMM whose C has at most NNCC_ABI_DOTS_MAX_M rows, with B stored
 * n x k (trans_b) and k at least NNCC_ABI_DOTS_MIN_K, runs as dot products
 * of B's rows, streamed once in order: the compiler keeps a constant
 * weight of such a product n x k rather than transposing it. */
#define NNCC_ABI_DOTS_MAX_M 4
#define NNCC_ABI_DOTS_MIN_K 64

/* What the runtime lends a running model: a way to run chunks of a loop
 * on its worker threads, and the GEMM's packing buffers. A NULL ctx, or a
 * NULL parallel_for, runs every chunk serially on the calling thread.
 * parallel_for returns when fn has run for every chunk in [0, nchunks). */
typedef struct nncc_abi_ctx {
	int32_t nthreads; /* worker threads available, >= 1 */
	void (*parallel_for)(void *pool, void (*fn)(void *closure, int64_t chunk),
			     void *closure, int64_t nchunks);
	void *pool;       /* the runtime's thread pool, passed back to parallel_for */
	/* nthreads * NNCC_ABI_GEMM_SCRATCH bytes, 64-byte aligned, for the
	 * GEMMs of this run; NULL: GEMMs call OpenBLAS */
	void *gemm_scratch;
	/* A model with a dynamic batch (batch_max > 0): the rows of this run,
	 * 1..batch_max; any other value (or a NULL ctx) runs batch_max. */
	int64_t batch;
	/* The session's cache of weights in a kernel's own layout (a
	 * Winograd transform): wcache(wcache_owner, key, tag, bytes, &fresh)
	 * returns a 64-byte aligned buffer of bytes that lives as long as
	 * the session, for the weight whose embedded data is key, in the
	 * form tag names (the caller's own code: layout and geometry); with
	 * *fresh = 1 the caller fills it before anything else reads it. NULL
	 * when key is not a read-only weight of the model (training state,
	 * a writable weight) or memory is short: the caller then computes
	 * without it. Called only from the thread that called run. NULL
	 * wcache: no cache. */
	void *(*wcache)(void *owner, const void *key, uint64_t tag, int64_t bytes, int *fresh);
	void *wcache_owner;
} nncc_abi_ctx;

/* The entry point: arena is arena_bytes, 64-byte aligned, owned by the
 * session; inputs/outputs/params are arrays of pointers in descriptor order
 * (params normally point at the embedded data); ctx is a nncc_abi_ctx or
 * NULL (serial). */
typedef void (*nncc_abi_run_fn)(void *arena, const void *const *inputs,
				void *const *outputs, const void *const *params, void *ctx);

typedef struct nncc_abi_model {
	uint32_t magic;   /* NNCC_ABI_MAGIC */
	uint32_t version; /* NNCC_ABI_VERSION */
	const char *name; /* model name */
	int32_t ninputs, noutputs, nparams;
	const nncc_abi_tensor *inputs;
	const nncc_abi_tensor *outputs;
	const nncc_abi_tensor *params;
	int64_t arena_bytes;
	nncc_abi_run_fn run;
	/* Per param, its NNCC_ABI_ROLE_*; NULL: every param is constant (an
	 * inference model). A param whose role is not CONST is training
	 * state: the runtime gives each session a writable copy of its data
	 * (the initial value) and passes that copy in params[]; the model
	 * reads and updates it in place (docs/training.md). Optimizer state
	 * (ROLE_OPTIM) may have data NULL: it starts at zero. */
	const int32_t *param_role;
	/* Dynamic batch (docs/dynamic-batch.md): the most rows a run takes, 0
	 * when every shape is fixed. Sizes (dims, nbytes, arena_bytes) are
	 * those at batch_max; batch_io (ninputs then noutputs entries, NULL
	 * when batch_max is 0) is 1 where dim 0 of the tensor is the batch.
	 * A run at batch n reads and writes the first n rows of those. */
	int64_t batch_max;
	const uint8_t *batch_io;
} nncc_abi_model;

/* Roles of params (the numbers of the compiler's IrStateRole). */
enum {
	NNCC_ABI_ROLE_CONST = 0, /* read-only weight */
	NNCC_ABI_ROLE_PARAM = 1, /* trained parameter */
	NNCC_ABI_ROLE_OPTIM = 2, /* optimizer state */
	NNCC_ABI_ROLE_STEP = 3,  /* step counter, i64 scalar */
	NNCC_ABI_ROLE_LR = 4,    /* learning rate, f32 scalar */
	NNCC_ABI_ROLE_SEED = 5,  /* random seed, i64 scalar (nncc_session_set_seed) */
	NNCC_ABI_ROLE_BUFFER = 6, /* updated statistic, not trained (running mean/var) */
	NNCC_ABI_ROLE_COUNT = 7  /* number of roles */
};

/* Kernel library entry points the generated code calls (runtime/kernels.c,
 * linked statically into each artifact with hidden visibility). */

/* A convolution's epilogue, applied by nncc_rt_conv2d_f32 where it stores
 * (epi NULL or n 0: none): each output element v, once it holds its sum
 * and bias, goes through op[0..n) in order,
 *   NNCC_EPI_ADD:  v + res[i] (res laid out as y; once at most),
 *   NNCC_EPI_RELU: v < 0 ? 0 : v (NaN stays NaN),
 *   NNCC_EPI_MAX:  maximum(v, c[i]), NNCC_EPI_MIN: minimum(v, c[i]) (as
 *                  LLVM's llvm.maximum/minimum: NaN propagates, -0 < +0),
 * so the result has the bits of the generated epilogue loop it replaces
 * (codegen/cpu/llvm_epi.c), without that loop's second pass over y. */
enum { NNCC_EPI_ADD = 1, NNCC_EPI_RELU = 2, NNCC_EPI_MAX = 3, NNCC_EPI_MIN = 4, NNCC_EPI_OPS = 4 };
typedef struct nncc_abi_epi {
	int32_t n;
	int32_t op[NNCC_EPI_OPS];
	float c[NNCC_EPI_OPS];
} nncc_abi_epi;

void nncc_rt_matmul_f32(const float *a, const float *b, float *c,
			int32_t nbatch, const int64_t *bext, const int64_t *sa,
			const int64_t *sb, const int64_t *sc, int64_t m, int64_t n,
			int64_t k, int32_t trans_a, int32_t trans_b, const void *ctx);
/* p: n, c, h, w, k, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, group, wino_u,
 * swap (18 values; wino_u 1: scratch also holds nncc_abi_wino_uscratch
 * floats for a Winograd transform of a weight that is not a constant; 2:
 * and it holds that transform already, made by the call just before on
 * the previous image of the same kernel, with the same ctx: the
 * transform's layout follows the GEMM tile, which may follow the thread
 * count; 3, NNCC_ABI_WINO_FUSED: a weight that is not a constant,
 * transformed panel by panel as the products use it, the scratch sized
 * by nncc_abi_wino_scratch alone; swap: NNCC_CONV_SWAP_* flags, how x, w
 * and y lie in their buffers).
 * ctx (added with the thread pool): the run's nncc_abi_ctx or NULL; its
 * threads do the im2col/bias copies and depthwise planes. epi, res: the
 * fused epilogue (nncc_abi_epi). Linked into each artifact, so this is no
 * part of the runtime's ABI version. */
void nncc_rt_conv2d_f32(const float *x, const float *w, const float *bias,
			float *y, float *scratch, const int64_t *p, const void *ctx,
			const struct nncc_abi_epi *epi, const float *res);
/* How a convolution's operands lie in their buffers (p[17], group 1
 * only; 0: as their shapes say). SWAP_X: x[n][c] is plane c * n_total + n
 * (the buffer holds x transposed, [C, N, H, W]); SWAP_W: w[k][c] is plane
 * c * K + k; FLIP_W: w's taps reversed, w[k][c][i][j] at tap (kh - 1 - i,
 * kw - 1 - j) of its plane; SWAP_Y: y[n][k] is plane k * n_total + n. So
 * a training step's layout copies around its gradient convolutions fold
 * into the calls (codegen/lower_swap.c): a weight gradient reads the
 * activations and the output adjoint as they are and writes the gradient
 * in the weight's own layout; an input gradient reads the weight
 * unflipped and untransposed. Any flags on any convolution compute the
 * right result: nncc_abi_conv_swaps says which a geometry's fast paths
 * take in place; others go through copies made by the call. */
enum { NNCC_CONV_SWAP_X = 1, NNCC_CONV_SWAP_W = 2, NNCC_CONV_FLIP_W = 4, NNCC_CONV_SWAP_Y = 8 };
/* p[17] may also carry NNCC_CONV_LEAN, no layout: the call's scratch is
 * sized by the lean rules (nncc_abi_wino_scratch_lean,
 * nncc_abi_wide_scratch_lean, nncc_abi_conv_room_lean), which a
 * --max-memory plan that does not fit otherwise asks of every
 * convolution: its Winograd paths, and their im2col fallback, then run in
 * smaller parts, slower, to the same bits. */
enum { NNCC_CONV_LEAN = 16 };

/* Whether nncc_rt_conv2d_f32 runs a 2-D convolution of n images (window
 * width kw, output width ow, hw output positions per image) in blocks of
 * images, one GEMM per block: a window wider than the output (a weight
 * gradient). Small images (64 positions or fewer) went so too until the
 * windows' gathers into the blocks' transposed col cost more than the
 * narrow GEMMs they spared (DCGAN D at batch 32: 2.63 ms in blocks, 1.45
 * ms image by image; the conv autoencoder 0.567 and 0.318 ms). */
static inline int
nncc_abi_conv_blocks(int64_t n, int64_t kw, int64_t ow, int64_t hw)
{
	(void)n, (void)hw;
	return kw > ow;
}

/* Images per GEMM of a convolution by im2col whose output plane (hw
 * positions) is small and whose weight (kg filters of ckk floats a
 * group) is large, nncc_rt_conv2d_f32's path for the deep strided 3x3
 * layers: the images' cols side by side, one GEMM of about 512 columns
 * with the weight packed once (image by image, ResNet-18's 7 x 7
 * stride-2 layer repacked its 4.7 MB weight 8 times for GEMMs of 49
 * columns), its product then copied out image by image; 1 from 256
 * positions, where one image's GEMM is wide enough, and for weights under
 * NNCC_ABI_CONV_IMAGES_MIN_W floats, whose repacking costs less than the
 * copy out (its 1x1 stride-2 downsamples: 0.31 ms image by image, 0.35
 * side by side). The code generator adds nb * hw * (ckk + kg) floats of
 * scratch for it when nb > 1. */
enum { NNCC_ABI_CONV_IMAGES_MIN_W = 1 << 18 };
static inline int64_t
nncc_abi_conv_images(int64_t n, int64_t hw, int64_t ckk, int64_t kg)
{
	int64_t nb = hw < 256 && hw > 0 && ckk * kg >= NNCC_ABI_CONV_IMAGES_MIN_W ? (512 + hw - 1) / hw : 1;

	return nb < n ? nb : n;
}

/* Images per GEMM of such a convolution: enough for 512 GEMM columns. The
 * code generator sizes its scratch by these two rules. */
static inline int64_t
nncc_abi_wide_images(int64_t n, int64_t hw)
{
	int64_t nb = (512 + hw - 1) / hw;

	return nb < n ? nb : n;
}
/* Floats of scratch the dot products of runtime/conv_wgrad.c need for
 * such a convolution (nncc_abi_conv_blocks) of n images of c channels, k
 * filters, g groups, window kh x kw at dilation dh x dw, output oh x ow:
 * the input in dh x dw phase planes of hq x wq, the window padded to wq
 * columns and whole vectors (runs of kh*wq floats a channel) unless its
 * rows are whole vectors (kw a multiple of 16: read in place, row by row,
 * nncc_abi_wide_rows), the taps' order, offsets and tiles, slack; or 0
 * where their rules leave the
 * convolution to im2col: one group, a window at least MIN_KW wide, at
 * least MIN_TAPS taps, runs of at least MIN_RUN floats over the channels. */
enum {
	NNCC_ABI_WIDE_FLAT_MIN_KW = 14,
	NNCC_ABI_WIDE_FLAT_MIN_TAPS = 4,
	NNCC_ABI_WIDE_FLAT_MIN_RUN = 512,
};
static inline int64_t
nncc_abi_wide_flat(int64_t n, int64_t c, int64_t k, int64_t g, int64_t oh, int64_t ow, int64_t kh,
		   int64_t kw, int64_t dh, int64_t dw)
{
	if (g != 1 || dh < 1 || dw < 1 || kw < NNCC_ABI_WIDE_FLAT_MIN_KW || oh * ow < NNCC_ABI_WIDE_FLAT_MIN_TAPS)
		return 0;
	int64_t hq = (oh - 1) / dh + kh, wq = (ow - 1) / dw + kw, run = (kh * wq + 15) / 16 * 16;
	if (c * run < NNCC_ABI_WIDE_FLAT_MIN_RUN)
		return 0;
	return n * c * dh * dw * hq * wq + wq + 16 + (kw % 16 ? k * c * run : 0) + 6 * oh * ow + 32;
}

/* Whether nncc_rt_conv2d_f32 runs such a convolution as the weight
 * gradient of a 3x3 convolution by Winograd's minimal filtering read
 * backwards (runtime/wino_wgrad.c): one group, a 3 x 3 output, stride and
 * dilation 1, a window of at least 4 x 4, and at least
 * NNCC_ABI_WINO_WGRAD_MIN images and filters (the forward convolution's
 * channels and filters: narrower layers keep the dot products, whose sums
 * need no transformed copies; at 64, ResNet-18's first stage, the
 * transforms by vectors and the unpacked products made it 20% faster than
 * them, 8.3-10.2 against 10.7-12.3 ms). Its tile m x m of the window
 * (nncc_abi_wino_wgrad_m): F(2x2, 3x3), 16 products of a 2 x 2 window
 * tile and a 4 x 4 input tile, or F(4x4, 3x3), 36 of a 4 x 4 and a 6 x 6
 * (1.78 times fewer multiply-adds, and transformed copies 2.25 rather than
 * 4 times the window's and the input's size), where the window holds at
 * least NNCC_ABI_WINO4_WGRAD_TILES tiles of 4 x 4 (ResNet-18's first three
 * stages, 56 x 56 to 14 x 14; at 14 x 14, 16 tiles, 7% faster than
 * F(2x2); fused, below, from 4). Its scratch: M (nx x n x k, nx = (m +
 * 2)^2; none fused) and a block's
 * transforms (nx x (n rounded up to 16 + k) x its tiles, each
 * product's a line, 16 floats, past the last one's: planes a
 * multiple of 4 KiB apart put a tile's 36 stores in one L1 set: the
 * first stage's F(4x4) took 3.6-3.7 ms so, 1.9-2.1 apart), and 64
 * floats the micro-kernel may read past the last row; the block
 * nncc_abi_wino_wgrad_rows rows of tiles: all of them where they come to
 * about 8192 / nx tiles or fewer (fused, below), else about 2048 / nx
 * (128 of F(2x2)'s; the transforms of a block, both operands', about 1
 * MB: the first two stages 3-6% faster alone than in blocks of 8192 /
 * nx, on Zen 5). */
enum { NNCC_ABI_WINO_WGRAD_MIN = 64, NNCC_ABI_WINO4_WGRAD_TILES = 16 };
static inline int
nncc_abi_wino_wgrad(int64_t n, int64_t k, int64_t g, int64_t oh, int64_t ow, int64_t kh, int64_t kw,
		    int64_t sh, int64_t sw, int64_t dh, int64_t dw)
{
	return g == 1 && oh == 3 && ow == 3 && sh == 1 && sw == 1 && dh == 1 && dw == 1 && kh >= 4 && kw >= 4 &&
	       n >= NNCC_ABI_WINO_WGRAD_MIN && k >= NNCC_ABI_WINO_WGRAD_MIN;
}

static inline int64_t
nncc_abi_wino_wgrad_rows_m(int64_t c, int64_t kh, int64_t kw, int64_t m)
{
	int64_t nx = (m + 2) * (m + 2), tw = (kw + m - 1) / m, all = c * ((kh + m - 1) / m);
	int64_t r = 2048 / nx / tw;

	if (all <= 8192 / nx / tw)
		return all; /* one block (fused) */
	return r > 0 ? r : 1;
}

/* Whether one block holds every tile row (with tiles of m x m): the
 * products then go tile by tile of M straight into the output transform
 * (runtime/wino_wgrad.c fused_units), and M never whole into the
 * scratch (nx x n x k floats: 16.8 MB for ResNet-18's last stage by
 * F(2x2)). So F(4x4) pays from NNCC_ABI_WINO4_WGRAD_FUSED_TILES tiles of
 * 4 x 4 (that stage's 7 x 7 window: 3.3-3.6 ms by F(2x2), 1.9-2.4 fused
 * by F(4x4), on Zen 5). */
enum { NNCC_ABI_WINO4_WGRAD_FUSED_TILES = 4 };
static inline int
nncc_abi_wino_wgrad_fused_m(int64_t c, int64_t kh, int64_t kw, int64_t m)
{
	return nncc_abi_wino_wgrad_rows_m(c, kh, kw, m) >= c * ((kh + m - 1) / m);
}

static inline int
nncc_abi_wino_wgrad_m(int64_t c, int64_t kh, int64_t kw)
{
	int64_t tiles = ((kh + 3) / 4) * ((kw + 3) / 4);

	return tiles >= NNCC_ABI_WINO4_WGRAD_TILES ||
		       (tiles >= NNCC_ABI_WINO4_WGRAD_FUSED_TILES && nncc_abi_wino_wgrad_fused_m(c, kh, kw, 4))
		   ? 4
		   : 2;
}

static inline int64_t
nncc_abi_wino_wgrad_rows(int64_t c, int64_t kh, int64_t kw)
{
	return nncc_abi_wino_wgrad_rows_m(c, kh, kw, nncc_abi_wino_wgrad_m(c, kh, kw));
}

static inline int
nncc_abi_wino_wgrad_fused(int64_t c, int64_t kh, int64_t kw)
{
	return nncc_abi_wino_wgrad_fused_m(c, kh, kw, nncc_abi_wino_wgrad_m(c, kh, kw));
}

static inline int64_t
nncc_abi_wino_wgrad_scratch(int64_t n, int64_t c, int64_t k, int64_t kh, int64_t kw)
{
	int64_t m = nncc_abi_wino_wgrad_m(c, kh, kw), nx = (m + 2) * (m + 2);
	int64_t ld = nncc_abi_wino_wgrad_rows(c, kh, kw) * ((kw + m - 1) / m), n16 = (n + 15) / 16 * 16;

	return nx * ((nncc_abi_wino_wgrad_fused(c, kh, kw) ? 0 : n * k) + (n16 + k) * ld + 32) + 64;
}

/* Channels at most of a first layer's wide window across the lanes
 * (runtime/conv_direct.c rt_conv2d_lanes), and the most rows and columns
 * of outputs, and vectors of filters, a step of its kernels takes. */
enum { NNCC_ABI_LANES_MAX_C = 4, NNCC_ABI_LANES_MAX_R = 6, NNCC_ABI_LANES_MAX_P = 24, NNCC_ABI_LANES_MAX_NV = 4 };

/* Output rows per band of a convolution by im2col whose col (ckk rows of
 * oh x ow) would not stay in L2: bands of about NNCC_ABI_BAND_FLOATS col
 * floats, an even count of as many rows as can be (two threads take the
 * same share: ResNet-50's 28-row stride-2 1x1 in bands of 9, 9, 9 and 1
 * took 0.96 ms against 0.53 in 10 and 18), the same whatever the thread
 * count (runtime/kernels.c band_conv); 0 where the col goes whole. */
enum { NNCC_ABI_BAND_FLOATS = 65536 };
static inline int64_t
nncc_abi_conv_band_rows(int64_t oh, int64_t ow, int64_t ckk)
{
	int64_t b = NNCC_ABI_BAND_FLOATS, nb;

	if (ckk * oh * ow <= b || ckk * ow * 2 > b || ckk * 256 > b)
		return 0;
	nb = (oh + b / (ckk * ow) - 1) / (b / (ckk * ow));
	nb += nb & 1;
	return (oh + nb - 1) / nb;
}

/* Floats of scratch for a convolution by im2col image by image (not a
 * window wider than its output, not Winograd's): one image's col (c/g x
 * kh x kw rows of oh x ow), but for a first layer across the lanes
 * (rt_conv2d_lanes: one group of at most NNCC_ABI_LANES_MAX_C channels, a
 * window of 25 taps or more, one stride both ways, dilation 1) whose col
 * goes in bands: room for one padded image and the packed weights
 * (rt_conv2d_lanes pads as many images as that holds, one at least) and
 * for one band's col (without AVX-512, the bands go a thread each, as
 * many at once as that holds). ResNet-18's stem: 0.84 MB, not 7.4, the
 * peak of the smallest --max-memory plans, which recompute it. */
static inline int64_t
nncc_abi_conv_room(int64_t c, int64_t k, int64_t g, int64_t oh, int64_t ow, int64_t kh, int64_t kw, int64_t sh,
		   int64_t sw, int64_t dh, int64_t dw)
{
	int64_t ckk = c / g * kh * kw, col = ckk * oh * ow, rows = nncc_abi_conv_band_rows(oh, ow, ckk);
	int64_t r = NNCC_ABI_LANES_MAX_R - 1, q = NNCC_ABI_LANES_MAX_P - 1, kv = 16 * NNCC_ABI_LANES_MAX_NV;

	if (g != 1 || c > NNCC_ABI_LANES_MAX_C || kh * kw < 25 || sh != sw || dh != 1 || dw != 1 || !rows)
		return col;
	int64_t lanes = c * ((oh + r) * sh + kh) * ((ow + q) * sw + kw) + ckk * (k + kv);
	int64_t band = rows * ow * ckk, room = lanes > band ? lanes : band;
	return room < col ? room : col;
}

/* Floats of scratch for such a convolution: where the dot products'
 * rules let them run, their need (nncc_abi_wide_flat), but at least one
 * channel of one image's im2col, oh*ow*(kh*kw + k/g) (a whole image's for
 * NNCC_ABI_LANES_MAX_C channels or fewer, which may go across the lanes;
 * without AVX-512, or
 * refused for a stride, the runtime's im2col takes as many images a block
 * as that holds, or one image's channels in runs; the stem's weight
 * gradient: 5 MB where a whole image's im2col took 19.7, at the end of the
 * step, where the smallest --max-memory plans peak); else blocks of nb =
 * nncc_abi_wide_images images by im2col. In a training step the dot
 * products' need is the smaller by far (ResNet-18's first-stage weight
 * gradient: 13.5 MB against 51.6 MB, at the step's peak under
 * --max-memory). Where the Winograd weight gradient may run (its rule
 * read at stride 1), its need, and one channel's im2col for the calls it
 * declines (a stride, no AVX-512), not the dot products': they would
 * take 13.5 MB where it takes 1.6 (ResNet-18's first stage), at the
 * peak of the smallest --max-memory plans. */
static inline int64_t
nncc_abi_wide_scratch(int64_t n, int64_t c, int64_t k, int64_t g, int64_t oh, int64_t ow, int64_t kh,
		      int64_t kw, int64_t dh, int64_t dw)
{
	int64_t hw = oh * ow, one = hw * ((c / g <= NNCC_ABI_LANES_MAX_C ? c / g : 1) * kh * kw + k / g);
	int64_t flat = nncc_abi_wide_flat(n, c, k, g, oh, ow, kh, kw, dh, dw);

	int64_t need = flat > 0 ? (flat < one ? one : flat) : nncc_abi_wide_images(n, hw) * one;

	if (nncc_abi_wino_wgrad(n, k, g, oh, ow, kh, kw, 1, 1, dh, dw)) {
		int64_t wino = nncc_abi_wino_wgrad_scratch(n, c, k, kh, kw);
		return wino > one ? wino : one;
	}
	return need;
}

/* The lean rule (NNCC_CONV_LEAN) for such a convolution: where the
 * Winograd weight gradient may run, the need of a part of
 * NNCC_ABI_WGRAD_LEAN_PART images (the forward convolution's channels)
 * by as many filters: the call goes part by part, each transforming
 * its own operands (runtime/wino_wgrad.c; ResNet-18's last stage 4.7 MB
 * -> 0.6, its third 9.4 -> 2.4, each output summed as in one call); and
 * one channel's im2col for the calls it declines. Else as
 * nncc_abi_wide_scratch. */
enum { NNCC_ABI_WGRAD_LEAN_PART = 64 };
static inline int64_t
nncc_abi_wide_scratch_lean(int64_t n, int64_t c, int64_t k, int64_t g, int64_t oh, int64_t ow, int64_t kh,
			   int64_t kw, int64_t dh, int64_t dw)
{
	int64_t hw = oh * ow, one = hw * ((c / g <= NNCC_ABI_LANES_MAX_C ? c / g : 1) * kh * kw + k / g);
	int64_t pn = n < NNCC_ABI_WGRAD_LEAN_PART ? n : NNCC_ABI_WGRAD_LEAN_PART;
	int64_t pk = k < NNCC_ABI_WGRAD_LEAN_PART ? k : NNCC_ABI_WGRAD_LEAN_PART;

	if (nncc_abi_wino_wgrad(n, k, g, oh, ow, kh, kw, 1, 1, dh, dw)) {
		int64_t wino = nncc_abi_wino_wgrad_scratch(pn, c, pk, kh, kw);
		return wino > one ? wino : one;
	}
	return nncc_abi_wide_scratch(n, c, k, g, oh, ow, kh, kw, dh, dw);
}

/* Images per GEMM of a transposed convolution (nncc_rt_convnd_f32) of n
 * images of ivol input positions: enough for 512 GEMM columns; one for an
 * input of one position (a row vector times the weight). The code
 * generator sizes the scratch by nncc_abi_convt_scratch: the block's
 * columns, rows (filters a group x window) x nb*ivol, and with nb > 1 its
 * inputs side by side, cg (channels a group) x nb*ivol. */
static inline int64_t
nncc_abi_convt_images(int64_t n, int64_t ivol)
{
	int64_t nb = ivol > 1 ? (512 + ivol - 1) / ivol : 1;

	return nb < n ? nb : n;
}

static inline int64_t
nncc_abi_convt_scratch(int64_t n, int64_t cg, int64_t rows, int64_t ivol)
{
	int64_t nb = nncc_abi_convt_images(n, ivol);

	return nb * rows * ivol + (nb > 1 ? nb * cg * ivol : 0);
}

/* Whether nncc_rt_conv2d_f32 may run a convolution by Winograd's
 * minimal filtering, F(2x2, 3x3) or F(4x4, 3x3) (nncc_abi_wino_m;
 * runtime/winograd.c: 3x3 windows, stride 1, one dilation,
 * one group, at least 32 channels and filters, at least 16 output tiles of
 * 2x2 (fewer reuse each transformed weight too little to repay reading
 * 16/9 as many), int32 offsets); it does so
 * when the weight is in the session's weight cache (nncc_abi_ctx.wcache). */
static inline int
nncc_abi_wino(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t oh, int64_t ow,
	      int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t dh, int64_t dw, int64_t g)
{
	return kh == 3 && kw == 3 && sh == 1 && sw == 1 && dh >= 1 && dh == dw && g == 1 &&
	       c >= 32 && k >= 32 && n * ((oh + 1) / 2) * ((ow + 1) / 2) >= 16 &&
	       n * c * h * w < ((int64_t)1 << 30) &&
	       n * k * oh * ow < ((int64_t)1 << 30);
}

/* The NNCC_CONV_SWAP_* flags nncc_rt_conv2d_f32's fast paths take in
 * place for a convolution of this geometry (nncc_abi_wino's arguments),
 * whose weight is not a constant: a weight gradient's (a window wider
 * than the output, nncc_abi_conv_blocks) by the Winograd weight gradient
 * or the dot products, which read x's and w's planes and write y's
 * wherever they lie; a Winograd convolution's, whose weight transform
 * (made on every call) reads the filters transposed and flipped, an input
 * gradient's weight as it lies. A weight gradient of a batch of
 * NNCC_ABI_LANES_MAX_C images or fewer may go across the lanes
 * (runtime/conv_direct.c across_fits), which read the shapes' layouts. */
static inline int
nncc_abi_conv_swaps(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t oh, int64_t ow, int64_t kh,
		    int64_t kw, int64_t sh, int64_t sw, int64_t dh, int64_t dw, int64_t g)
{
	if (g != 1)
		return 0;
	if (nncc_abi_wino(n, c, h, w, k, oh, ow, kh, kw, sh, sw, dh, dw, g))
		return NNCC_CONV_SWAP_W | NNCC_CONV_FLIP_W;
	if (c <= NNCC_ABI_LANES_MAX_C || !nncc_abi_conv_blocks(n, kw, ow, oh * ow))
		return 0;
	if (nncc_abi_wino_wgrad(n, k, g, oh, ow, kh, kw, sh, sw, dh, dw) ||
	    (sh == 1 && sw == 1 && nncc_abi_wide_flat(n, c, k, g, oh, ow, kh, kw, dh, dw) > 0))
		return NNCC_CONV_SWAP_X | NNCC_CONV_SWAP_W | NNCC_CONV_SWAP_Y;
	return 0;
}

/* The output tile of such a convolution, m x m: 4, F(4x4, 3x3) (6x6
 * input tiles, 36 products: 4 times fewer multiply-adds than the direct
 * method, 1.8 times fewer than F(2x2, 3x3), for about 6 times its
 * rounding error), for dilation 1, c * k at most NNCC_ABI_WINO4_MAX_CK
 * (the transform is read on every run; measured to pay up to VGG-11's
 * 512 x 512 layers, 37.7 MB each), and planes of at least 16 tiles of 4x4
 * each for a constant weight (wino_u 0: its transform, 36/9 the weight's
 * size, cached once), of at least NNCC_ABI_WINO4_U_TILES for a weight
 * transformed on every call (wino_u 1 or 2: training state, a computed
 * weight; NNCC_ABI_WINO4_FUSED_TILES fused, see below), where the
 * transform (36 x k x c floats written) is small beside the products (36
 * x k x c x tiles multiply-adds); else 2, F(2x2,
 * 3x3). The two thresholds differed on Zen 4 (49 tiles for a weight
 * transformed every call: ResNet-18's first two stages); on Zen 5,
 * whose products run twice as fast, 16 (its third stage, 14 x 14, 25%
 * faster a convolution) and not 4 (the fourth, 7 x 7: no faster). */
enum { NNCC_ABI_WINO4_MAX_CK = 512 * 512, NNCC_ABI_WINO4_U_TILES = 16, NNCC_ABI_WINO4_FUSED_TILES = 4 };
enum { NNCC_ABI_WINO_FUSED = 3 }; /* wino_u: the transform fused (nncc_abi_wino_fuses) */
static inline int64_t
nncc_abi_wino_m(int64_t n, int64_t c, int64_t k, int64_t oh, int64_t ow, int64_t d, int64_t wino_u)
{
	int64_t tiles = ((oh + 3) / 4) * ((ow + 3) / 4);
	int64_t least = wino_u == NNCC_ABI_WINO_FUSED ? NNCC_ABI_WINO4_FUSED_TILES
			: wino_u			? NNCC_ABI_WINO4_U_TILES
							: 16;

	(void)n; /* not by the batch: an image-by-image call takes the same tile */
	return d == 1 && c * k <= NNCC_ABI_WINO4_MAX_CK && tiles >= least ? 4 : 2;
}

/* Whether such a convolution whose weight is not a constant may fuse
 * the weight's transform into its products (wino_u NNCC_ABI_WINO_FUSED,
 * the compiler's choice, for a call of the whole batch; runtime/winograd.c
 * fused_chunk): each filter panel's transform made as the panel is
 * multiplied, in the thread's GEMM slot, instead of all of them into the
 * scratch and back through memory (16.9 MB written and read a call for
 * ResNet's last stage by F(2x2, 3x3)). Then F(4x4, 3x3) pays from planes
 * of NNCC_ABI_WINO4_FUSED_TILES tiles of 4x4 (that stage's 7 x 7: 3.4 ms
 * by F(2x2) through memory, 2.6 fused by F(4x4), on Zen 5). It takes the
 * filters outweighing the tiles (k at least the batch's tiles), the
 * transformed inputs of all the tiles, one block, within
 * NNCC_ABI_WINO_FUSE_V bytes (each panel reads them all, from L3 past
 * L2: the third stage's 4.7 MB, 12-13% faster fused on Zen 5), and, in a
 * GEMM slot, a panel's transform ((m + 2)^2 x (c x NNCC_ABI_WINO_FUSED_MR
 * + 16) floats) and its products (M's rows of that panel, (m + 2)^2 x
 * (NNCC_ABI_WINO_FUSED_MR x the tiles padded to NNCC_ABI_WINO_FUSED_NR +
 * 16) floats), transformed back from there. The scratch then holds
 * neither transform nor products. Its products take the micro-kernel
 * tile NNCC_ABI_WINO_FUSED_MR x NNCC_ABI_WINO_FUSED_NR
 * (nncc_abi_wino_scratch counts on it). */
enum {
	NNCC_ABI_WINO_FUSE_V = 8 << 20,
	NNCC_ABI_WINO_FUSED_MR = 12,
	NNCC_ABI_WINO_FUSED_NR = 32,
};
static inline int
nncc_abi_wino_fuses(int64_t n, int64_t c, int64_t k, int64_t oh, int64_t ow, int64_t d)
{
	int64_t m = nncc_abi_wino_m(n, c, k, oh, ow, d, NNCC_ABI_WINO_FUSED), nx = (m + 2) * (m + 2);
	int64_t t = n * ((oh + m * d - 1) / (m * d) * d) * ((ow + m * d - 1) / (m * d) * d);
	int64_t tp = (t + NNCC_ABI_WINO_FUSED_NR - 1) / NNCC_ABI_WINO_FUSED_NR * NNCC_ABI_WINO_FUSED_NR;
	int64_t u = (nx * (c * NNCC_ABI_WINO_FUSED_MR + 16) + 15) / 16 * 16; /* winograd.h rt_wino_fused_slot_u */

	return k >= t && nx * c * t * 4 <= NNCC_ABI_WINO_FUSE_V &&
	       (u + nx * (NNCC_ABI_WINO_FUSED_MR * tp + 16)) * 4 <= NNCC_ABI_GEMM_SCRATCH;
}

/* Output tiles (m x m outputs each, d apart with dilation d: the grid
 * covers the output rounded up to m d) per block of such a convolution:
 * the block's transformed inputs ((m + 2)^2 x c x tiles floats) stay about
 * 512 KiB (1 MiB: the products spilled the 1 MiB L2; 64 tiles at least
 * for m = 2, 32 for m = 4). */
static inline int64_t
nncc_abi_wino_block(int64_t n, int64_t c, int64_t k, int64_t oh, int64_t ow, int64_t d, int64_t wino_u)
{
	int64_t m = nncc_abi_wino_m(n, c, k, oh, ow, d, wino_u), nx = (m + 2) * (m + 2);
	int64_t t = n * ((oh + m * d - 1) / (m * d) * d) * ((ow + m * d - 1) / (m * d) * d);
	int64_t big = c > k ? c : k;
	int64_t tb = 8192 * 16 / nx / big, lo = 64 * 16 / nx, hi = 512 * 16 / nx;

	if (wino_u == NNCC_ABI_WINO_FUSED) /* all of them one block */
		return t;

	tb = tb < lo ? lo : tb > hi ? hi : tb;
	return t < tb ? t : tb;
}

/* Floats of scratch a Winograd convolution needs: a block's transformed
 * inputs and products, padded to whole GEMM tiles (at most 96 columns and
 * 32 rows), and each of their planes a line (16 floats) further apart
 * for up to NNCC_ABI_WINO_PAD_PARTS threads' parts. Fused
 * (NNCC_ABI_WINO_FUSED), whose products go through the GEMM slots: the
 * transformed inputs alone, its tiles padded to whole
 * NNCC_ABI_WINO_FUSED_NR (ResNet-18's last stage: 2.4 MB, not 19.5). */
enum { NNCC_ABI_WINO_PAD_PARTS = 16 };
static inline int64_t
nncc_abi_wino_scratch(int64_t n, int64_t c, int64_t k, int64_t oh, int64_t ow, int64_t d, int64_t wino_u)
{
	int64_t m = nncc_abi_wino_m(n, c, k, oh, ow, d, wino_u), nx = (m + 2) * (m + 2);
	int64_t blk = nncc_abi_wino_block(n, c, k, oh, ow, d, wino_u);

	if (wino_u == NNCC_ABI_WINO_FUSED)
		return nx * ((blk + NNCC_ABI_WINO_FUSED_NR - 1) / NNCC_ABI_WINO_FUSED_NR * NNCC_ABI_WINO_FUSED_NR * c + 16);
	return nx * ((blk + 96) * (c + k + 32) + 2 * 16 * NNCC_ABI_WINO_PAD_PARTS);
}

/* The lean rule (NNCC_CONV_LEAN) for such a convolution: not fused, its
 * blocks go phase by phase on the threads with the micro-kernel tile
 * NNCC_ABI_WINO_FUSED_MR x NNCC_ABI_WINO_FUSED_NR (whatever the tile,
 * the same sums), so a block's transformed inputs and products are
 * padded to that tile alone, not to any (ResNet-18's second stage, 28
 * tiles a block: 1.2 MB, not 5.2); fused, as nncc_abi_wino_scratch. The
 * weight's transform (nncc_abi_wino_uscratch) follows, as there. */
static inline int64_t
nncc_abi_wino_scratch_lean(int64_t n, int64_t c, int64_t k, int64_t oh, int64_t ow, int64_t d, int64_t wino_u)
{
	int64_t m = nncc_abi_wino_m(n, c, k, oh, ow, d, wino_u), nx = (m + 2) * (m + 2);
	int64_t blk = nncc_abi_wino_block(n, c, k, oh, ow, d, wino_u);
	int64_t tbp = (blk + NNCC_ABI_WINO_FUSED_NR - 1) / NNCC_ABI_WINO_FUSED_NR * NNCC_ABI_WINO_FUSED_NR;
	int64_t kp = (k + NNCC_ABI_WINO_FUSED_MR - 1) / NNCC_ABI_WINO_FUSED_MR * NNCC_ABI_WINO_FUSED_MR;

	if (wino_u == NNCC_ABI_WINO_FUSED)
		return nncc_abi_wino_scratch(n, c, k, oh, ow, d, wino_u);
	return nx * (tbp * (c + kp) + 2 * 16);
}

/* The lean rule for the im2col of a convolution Winograd may take (its
 * fallback: no AVX-512, no context): image by image, in bands of as many
 * output rows as NNCC_ABI_BAND_FLOATS col floats hold (one at least),
 * one band at a time: the scratch one band's col (ResNet-18's first
 * stage: 0.26 MB, not 7.2). Other convolutions: nncc_abi_conv_room. */
static inline int64_t
nncc_abi_conv_band_rows_lean(int64_t oh, int64_t ow, int64_t ckk)
{
	int64_t r = NNCC_ABI_BAND_FLOATS / (ckk * ow);

	return r < 1 ? 1 : r < oh ? r : oh;
}

/* Floats a Winograd convolution whose weight is not a constant (training
 * state, a computed weight: no cache entry) needs past
 * nncc_abi_wino_scratch for the weight's transform, (m + 2)^2 x K x C
 * padded to whole GEMM tiles (m: nncc_abi_wino_m's tile). */
static inline int64_t
nncc_abi_wino_uscratch(int64_t c, int64_t k, int64_t m)
{
	return (m + 2) * (m + 2) * (k + 32) * c;
}

/* Max or average pooling of f32 planes, 2-D (1-D: h = oh = kh = 1;
 * runtime/pooling.c); p: n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh,
 * dw (pads: top and left), avg (0: max, 1: average), then the positions an
 * average counts, input rows [vh0, vh1) and columns [vw0, vw1) (19 values).
 * A window with no position inside the input gives -inf (max) or 0/0.
 * ctx: the run's nncc_abi_ctx or NULL, for threads. */
void nncc_rt_pool2d_f32(const float *x, float *y, const int64_t *p, const void *ctx);
#define NNCC_ABI_POOL_ROW 4096 /* floats of a padded input row the call holds */
/* Whether nncc_rt_pool2d_f32 takes a pool of input width w, output width
 * ow, window width kw, stride sw, left pad pw and dilation dw: its padded
 * row fits NNCC_ABI_POOL_ROW. */
static inline int
nncc_abi_pool(int64_t w, int64_t ow, int64_t kw, int64_t sw, int64_t pw, int64_t dw)
{
	int64_t r = NNCC_ABI_POOL_ROW;

	return w >= 1 && ow >= 1 && kw >= 1 && sw >= 1 && dw >= 1 && pw >= 0 && w <= r && pw <= r - w &&
	       ow <= r && sw <= r && kw <= r && dw <= r && (ow - 1) * sw + (kw - 1) * dw < r;
}

/* The general convolution (3-D windows, conv-transpose); p: transpose, n,
 * c, d, h, w, k, od, oh, ow, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw,
 * group (23 values); see runtime/kernels.c. */
void nncc_rt_convnd_f32(const float *x, const float *w, const float *bias,
			float *y, float *scratch, const int64_t *p, const void *ctx);

#endif
