/* kernel_util.h — what the kernel library's convolutions share
 * (kernels.c, conv_nd.c): the symbol visibility of entry points, a
 * row-major GEMM call, the chunking of memory-bound copies and the
 * valid output columns of a strided window. Internal to the library. */
#ifndef NNCC_RT_KERNEL_UTIL_H
#define NNCC_RT_KERNEL_UTIL_H

#include <stdint.h>

#include "abi.h"
#include "gemm.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* C (m x n, row-major) = op(A) * op(B) (+ C when beta is 1). A is m x k,
 * or k x m stored when trans_a; B is k x n, or n x k stored when trans_b. */
static inline void
rt_gemm_rm(const nncc_abi_ctx *cx, const float *a, const float *b, float *c, int64_t m, int64_t n,
	   int64_t k, int trans_a, int trans_b, float beta)
{
	rt_gemm(cx, m, n, k, a, trans_a ? m : k, trans_a, b, trans_b ? k : n, trans_b, beta != 0.0f, c, n);
}

/* The output columns [*lo, *hi) whose input column ox*sw + off falls
 * inside [0, w); the others read padding. */
static inline void
rt_valid_cols(int64_t off, int64_t sw, int64_t w, int64_t ow, int64_t *lo, int64_t *hi)
{
	*lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
	*hi = w - off <= 0 ? 0 : (w - off + sw - 1) / sw;
	if (*hi > ow)
		*hi = ow;
	if (*lo > *hi)
		*lo = *hi;
}

enum { COPY_CHUNK = 16384, COPY_MAX_CHUNKS = 64 }; /* elements per chunk at least; chunks at most */

/* Chunks to split n rows holding work elements into. */
static inline int64_t
rt_chunks(int64_t n, int64_t work)
{
	int64_t c = work / COPY_CHUNK;

	if (c > COPY_MAX_CHUNKS)
		c = COPY_MAX_CHUNKS;
	if (c > n)
		c = n;
	return c < 1 ? 1 : c;
}

#endif
