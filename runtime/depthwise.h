/* depthwise.h — 2-D depthwise convolutions computed directly
 * (runtime/depthwise.c). Internal to the kernel library. */
#ifndef NNCC_RT_DEPTHWISE_H
#define NNCC_RT_DEPTHWISE_H

#include <stdint.h>

#include "abi.h"
#include "epilogue.h"

/* The convolution of nncc_rt_conv2d_f32 (p in its order) whose groups
 * each have one input channel (C/G == 1, G > 1): every image, its planes
 * split between cx's threads (cx may be NULL), the outputs through ep
 * (canonical, or NULL: none) on their way out. */
void rt_conv2d_depthwise(const float *x, const float *w, const float *bias, float *y, const int64_t *p,
			 const nncc_abi_ctx *cx, const RtEpi *ep);

#endif
