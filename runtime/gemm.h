/* gemm.h — the kernel library's single-precision GEMM (runtime/gemm.c).
 * Internal to the kernels linked into each compiled model. */
#ifndef NNCC_RT_GEMM_H
#define NNCC_RT_GEMM_H

#include <stdint.h>

#include "abi.h"

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

#endif
