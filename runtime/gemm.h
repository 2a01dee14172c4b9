/* gemm.h — the kernel library's single-precision GEMM (runtime/gemm.c).
 * Internal to the kernels linked into each compiled model. */
#ifndef NNCC_RT_GEMM_H
#define NNCC_RT_GEMM_H

#include <stdint.h>

#include "abi.h"
#include "epilogue.h"

/* C (m x n, row stride ldc) = op(A) * op(B) (+ C when accumulate). A is
 * m x k (row stride lda), or k x m stored when trans_a; B is k x n (row
 * stride ldb), or n x k stored when trans_b. Runs on cx's threads and
 * packing buffers (cx->gemm_scratch); each element's sum runs in the same
 * order whatever the thread count. A NULL cx, or one without scratch,
 * calls OpenBLAS instead (the reference). Never call it from inside a
 * parallel_for chunk: the chunks of one GEMM own the scratch slots. */
void rt_gemm(const nncc_abi_ctx *cx, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
	     int trans_a, const float *b, int64_t ldb, int trans_b, int accumulate, float *c,
	     int64_t ldc);

/* rt_gemm with A (m x k, row-major) the constant weight whose data is
 * at key (part tells apart the pieces of one weight, e.g. groups): where
 * the tiled path runs, its A panels come packed from cx's weight cache
 * (nncc_abi_ctx.wcache; packed on the first call), not packed anew. With
 * row_bias (m floats, or NULL), C = row_bias (row i: row_bias[i]) + A * B
 * and accumulate is ignored: the same bits as filling C with the bias and
 * accumulating, without a pass over C first (on the tiled path each
 * tile's micro-kernel adds the bias at its first store). With epi (or
 * NULL), C then goes through that epilogue, each piece as soon as it is
 * final (on the tiled path in the micro-kernels' registers); C must then
 * be part of epi's output. */
void rt_gemm_const_a(const nncc_abi_ctx *cx, const void *key, uint32_t part, int64_t m, int64_t n,
		     int64_t k, const float *a, const float *b, int64_t ldb, int trans_b, int accumulate,
		     const float *row_bias, float *c, int64_t ldc, const RtEpi *epi);

/* C (m x n, row stride ldc) = A^T * B: rt_gemm_const_a for a constant
 * weight stored k x m (a transposed convolution's, which multiplies its
 * transpose), its panels from the weight cache like that one's. */
void rt_gemm_const_at(const nncc_abi_ctx *cx, const void *key, uint32_t part, int64_t m, int64_t n, int64_t k,
		      const float *a, const float *b, int64_t ldb, float *c, int64_t ldc);

/* C columns up to which a GEMM of more than NNCC_ABI_DOTS_MAX_M rows takes
 * the dot-product path, which sums in another order than the tiled one:
 * splitting C's columns across calls must keep every call wider than
 * this (or every call at most this wide) for the same bits. */
enum { RT_GEMM_DOTS_MAX_N = 16 };

/* Makes rt_gemm_const_a(cx, key, part, m, n, k, a, ...) safe to call from
 * several threads at once, each with its own one-thread copy of cx (its
 * own gemm_scratch slot, no parallel_for): fills the weight cache entry
 * that call would take, now, on this thread. Returns 1 when such calls
 * never touch the cache or find the entry filled; 0 when the cache
 * declined, and the copies must then carry no wcache (each thread packs A
 * into its own scratch), since a lookup that misses inserts. */
int rt_gemm_const_a_ready(const nncc_abi_ctx *cx, const void *key, uint32_t part, int64_t m, int64_t n,
			  int64_t k, const float *a);

/* A micro-kernel of the GEMM, for callers that lay out their own panels
 * (winograd.c): c (mr x nr, row stride ldc) = (acc ? c : bias ? row i's
 * bias[i] : 0) + ap * bp, ap an mr x kc panel stored column by column (kc
 * runs of mr), bp kc rows of nr (row stride ldb); only c's first rows x
 * cols are read and written. Meanwhile it brings npf cache lines from pf
 * on into L2 (none when pf is NULL), spread over its inner loop: the
 * caller's next A panel, when that comes from memory. With ep (canonical,
 * or NULL) the sums then go through that epilogue on their way to c. */
typedef void (*RtUkr)(int64_t kc, const float *ap, const float *bp, int64_t ldb, float *c,
		      int64_t ldc, int acc, const float *bias, int64_t rows, int64_t cols, const float *pf,
		      int64_t npf, const RtEpi *ep);
typedef struct RtTile {
	int mr, nr; /* tile rows and columns */
	RtUkr ukr;  /* its micro-kernel */
} RtTile;

/* A micro-kernel as gemm.c uses it (gemm_ukr.c): its tile, and whether
 * the CPU has AVX2 (packing transposes through registers). */
typedef struct RtIsa {
	int mr, nr;
	RtUkr ukr;
	int avx;
	/* edge[v]: a kernel of the same rows and v vectors of 16 columns (the
	 * same packed panels, ldb nr), for a tile at C's right edge of at most
	 * 16 v columns, which ukr would compute whole; NULL: ukr */
	RtUkr edge[6];
} RtIsa;

/* Inner extent from which a transposed tile's scatter stores count as
 * amortized (rt_gemm_isa). */
enum { RT_GEMM_T_DEAR_K = 128 };

/* The micro-kernel for an m x n C of inner extent k on this CPU: the one
 * that pads C least to whole tiles, a transposed tile's lane counted
 * dearer (gemm_ukr.c). A function of m, n and k only. */
const RtIsa *rt_gemm_isa(int64_t m, int64_t n, int64_t k);

/* The AVX-512 tile rt_gemm would use for an m x n C of inner extent k
 * (the same rule, a function of m, n and k only); 0 without AVX-512. */
int rt_gemm_tile(int64_t m, int64_t n, int64_t k, RtTile *t);

/* The AVX-512 tile of mr rows and nr columns, for callers that lay out
 * their own A panels (wino_wgrad.c); 0 when this CPU has none. */
int rt_gemm_tile_of(int mr, int nr, RtTile *t);

#endif
