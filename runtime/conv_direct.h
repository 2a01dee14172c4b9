/* conv_direct.h — direct 2-D convolution for few filters per group
 * (runtime/conv_direct.c). Internal to the kernel library. */
#ifndef NNCC_RT_CONV_DIRECT_H
#define NNCC_RT_CONV_DIRECT_H

#include <stdint.h>

#include <immintrin.h>

#include "abi.h"
#include "epilogue.h"

/* Lanes [lo, hi) of 64 (lo < 64), as a mask: the columns a masked vector
 * load or store touches. */
static inline uint64_t
rt_lanes(int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return 0;
	return (hi >= 64 ? ~0ull : (1ull << hi) - 1) & ~((1ull << lo) - 1);
}

/* 16 x 16 transpose of r[0..15] in place: lane j of r[i] to lane i of
 * r[j] (unpacks of floats, then of pairs, then two rounds of 128-bit
 * lane shuffles: 64 shuffles). Shared by
 * winograd_wt.c, wino_wgrad.c and conv_direct.c. */
__attribute__((target("avx512f"))) static inline void
rt_tr16(__m512 r[16])
{
	__m512 t[16];

	for (int i = 0; i < 16; i += 2) {
		t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
	}
	for (int i = 0; i < 16; i += 4) {
		__m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
		__m512d c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
		r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
		r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
		r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
		r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
	}
	for (int i = 0; i < 8; i++) {
		int a = (i & 3) + (i >> 2) * 8;
		t[a] = _mm512_shuffle_f32x4(r[a], r[a + 4], 0x88);
		t[a + 4] = _mm512_shuffle_f32x4(r[a], r[a + 4], 0xdd);
	}
	for (int i = 0; i < 8; i++) {
		r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
		r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
	}
}

/* The lanes of a vector of 16 positions [c0, c0 + 16) inside [0, w). */
static inline uint16_t
rt_lanes_inside(int64_t c0, int64_t w)
{
	return (uint16_t)rt_lanes(c0 < 0 ? -c0 : 0, w - c0 < 16 ? w - c0 : 16);
}

/* Multiply-adds below which a convolution (im2col, or direct) runs on one
 * thread (about 20 us of work at most): two threads would save half of it
 * but pay 0.3 to 1.5 us a job (the VM's cross-core states) and the move of
 * half its output to the other core (DCGAN D's three such, 0.2 to 0.5 M
 * each, batch 1: 46 to 44 us on two threads by im2col; its first, direct
 * since stride 2 is, 52 against 43 us on two threads at 2^17). */
enum { RT_CONV_PAR_MIN_MACS = 1 << 20 };

/* Weight floats from which an im2col convolution goes on threads however
 * few its multiply-adds: on a small plane its GEMM streams the weights
 * (not held in L2 from one run to the next) at about 20 GB/s a core, and
 * a split by filters streams half of them on each (SqueezeNet's 3x3
 * layers on a 3x3 plane at batch 1, 83K weights and 0.75 M
 * multiply-adds: 17 us on one thread). */
enum { RT_CONV_PAR_MIN_WEIGHTS = 1 << 16 };

/* The convolution of nncc_rt_conv2d_f32 (p in its order), computed
 * directly when it has dilation 1, at most 64 filters per group, a window
 * at most 64 wide and either stride 1, output rows of at most 64 and a
 * window no wider than them, or stride 2, output rows of 16 or more and at
 * most 4 channels per group (a network's first layer), on a CPU with
 * AVX-512: then 1; else 0, having done nothing. Its outputs go through ep
 * (canonical, or NULL: none) on their way out. */
int rt_conv2d_direct(const float *x, const float *w, const float *bias, float *y, const int64_t *p,
		     const nncc_abi_ctx *cx, const RtEpi *ep);

/* The convolution of nncc_rt_conv2d_f32 (p in its order) by filters across
 * the vectors, when it has one group, at most 4 channels, at least 16
 * filters, a window of 25 taps or more, dilation 1, one stride both ways
 * (1 to 4), room floats of scratch (nncc_abi_conv_room) holding a padded
 * image and the packed weights (as many images at once as fit), and a
 * CPU with AVX-512: then 1; else 0, having done nothing. Each output row
 * then goes through ep (NULL: none). */
int rt_conv2d_lanes(const float *x, const float *w, const float *bias, float *y, float *scratch, int64_t room,
		    const int64_t *p, const nncc_abi_ctx *cx, const RtEpi *ep);

/* A wide convolution of nncc_rt_conv2d_f32 (kw > ow: a weight gradient)
 * computed directly when it has stride and dilation 1, at most 64 filters
 * per group, a window at most 32 wide and 3, 5 or 7 output columns, on a
 * CPU with AVX-512: then 1; else 0, having done nothing. */
int rt_conv2d_wide_direct(const float *x, const float *w, const float *bias, float *y,
			  const int64_t *p, const nncc_abi_ctx *cx);

/* A wide convolution of nncc_rt_conv2d_f32 (kw > ow: a weight gradient)
 * as dot products over its windows read in place from a padded copy of x
 * (runtime/conv_wgrad.c), when it has one group, stride 1, a window at
 * least 14 wide, runs long enough, a CPU with AVX-512 and its buffers fit
 * the room floats of scratch (nncc_abi_wide_scratch): then 1; else 0,
 * having done nothing. */
int rt_conv2d_wide_flat(const float *x, const float *w, const float *bias, float *y, float *scratch,
			int64_t room, const int64_t *p, const nncc_abi_ctx *cx);

/* A wide convolution of nncc_rt_conv2d_f32 that is the weight gradient
 * of a 3x3 convolution (abi.h nncc_abi_wino_wgrad) by Winograd
 * (runtime/wino_wgrad.c), when its scratch fits room floats and ctx is
 * given: then 1; else 0, having done nothing. */
int rt_conv2d_wino_wgrad(const float *x, const float *w, const float *bias, float *y, float *scratch,
			 int64_t room, const int64_t *p, const nncc_abi_ctx *cx);

/* nncc_rt_conv2d_f32 for p[17] != 0 and one group, operands transposed or
 * flipped in their buffers (runtime/conv_swap.c); ep: a canonical
 * epilogue or none. */
void rt_conv2d_swapped(const float *x, const float *w, const float *bias, float *y, float *scratch, const int64_t *p,
		       const nncc_abi_ctx *cx, const RtEpi *ep);

#endif
