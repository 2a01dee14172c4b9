/* im2col.h — the copies in front of a convolution's GEMM
 * (runtime/im2col.c): the geometry they share with kernels.c. Internal
 * to the kernel library. */
#ifndef NNCC_RT_IM2COL_H
#define NNCC_RT_IM2COL_H

#include <stdint.h>

#include "epilogue.h"

/* Geometry of one convolution (p in nncc_rt_conv2d_f32's order) and the
 * image and group being worked on, for the chunks of its copies. */
typedef struct Conv {
	int64_t C, H, W, K, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW, G;
	int64_t cg, kg, ckk, hw; /* per group: channels, filters, col rows; output plane */
	const float *xg;         /* this image and group's input channels */
	float *col;              /* im2col rows, ckk x hw */
	float *yg;               /* this image and group's output planes, kg x hw */
	const float *bias;       /* this group's bias, or NULL */
	const RtEpi *ep;         /* the epilogue of the GEMMs' output, or NULL */
	int64_t oy0, oy1;        /* a block of output rows in col (band_conv); else 0, OH */
	int64_t ldc;             /* floats between col rows (images side by side, batch_conv); 0: a row's own */
} Conv;

/* Where col row r of a col of len floats per row starts. */
static inline float *
col_at(const Conv *v, int64_t r, int64_t len)
{
	return v->col + r * (v->ldc ? v->ldc : len);
}

/* col rows [r0, r1) for output rows [oy0, oy1): row (c*kh + i)*kw + j,
 * (oy1 - oy0)*ow floats, x's window element at each output position, or
 * 0 in the padding (im2col.c picks the copy for the shape). */
void rt_im2col(const Conv *v, int64_t r0, int64_t r1);

/* q[0 .. kh*kw) = the window of plane xc that output position o sees, or
 * 0 in the padding (a wide convolution's col row). */
void rt_window_row(const Conv *v, const float *xc, int64_t o, float *q);

#endif
