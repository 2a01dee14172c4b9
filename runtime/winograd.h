/* winograd.h — 3x3 convolutions by Winograd's F(2x2, 3x3)
 * (runtime/winograd.c). Internal to the kernel library. */
#ifndef NNCC_RT_WINOGRAD_H
#define NNCC_RT_WINOGRAD_H

#include <stdint.h>

#include "abi.h"
#include "epilogue.h"

/* The convolution of nncc_rt_conv2d_f32 (p in its order) by F(2x2, 3x3),
 * when nncc_abi_wino allows it, the CPU has AVX-512 and cx's weight cache
 * holds (or takes) w's transform; scratch holds nncc_abi_wino_scratch
 * floats; its outputs go through ep (canonical, or NULL: none) on their
 * way out. Returns 1 when it ran, 0 (nothing written) otherwise. */
int rt_conv2d_winograd(const float *x, const float *w, const float *bias, float *y, float *scratch,
		       const int64_t *p, const nncc_abi_ctx *cx, const RtEpi *ep);

#endif
