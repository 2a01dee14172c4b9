/* conv_swap.c — nncc_rt_conv2d_f32 for operands that lie transposed or
 * flipped in their buffers (p[17], abi.h NNCC_CONV_SWAP_*): the layouts a
 * training step's gradient convolutions would otherwise copy their
 * operands into. The weight gradient's paths (the Winograd weight
 * gradient, the dot products) read and write planes wherever they lie;
 * any other path gets copies in the layouts the shapes say, made here
 * (what the copy loops the flags replace did, plus an allocation), or
 * without memory for them a direct sum that reads the operands in place.
 * Part of the kernel library. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conv_direct.h"
#include "winograd.h"

/* dst plane a * nb + b = src plane b * na + a, planes of len floats */
static void
swap_planes(float *dst, const float *src, int64_t na, int64_t nb, int64_t len)
{
	for (int64_t a = 0; a < na; a++)
		for (int64_t b = 0; b < nb; b++)
			memcpy(dst + (a * nb + b) * len, src + (b * na + a) * len, (size_t)len * sizeof(float));
}

/* w with its taps reversed, plane by plane */
static void
flip_taps(float *w, int64_t planes, int64_t taps)
{
	for (int64_t q = 0; q < planes; q++)
		for (int64_t i = 0, j = taps - 1; i < j; i++, j--) {
			float t = w[q * taps + i];
			w[q * taps + i] = w[q * taps + j];
			w[q * taps + j] = t;
		}
}

/* The sum itself, each operand read where the flags put it: the way
 * through when there is no memory for copies (one group). */
static void
direct(const float *x, const float *w, const float *bias, float *y, const int64_t *p)
{
	int64_t N = p[0], C = p[1], H = p[2], W = p[3], K = p[4], OH = p[5], OW = p[6], KH = p[7], KW = p[8];
	int64_t swap = p[17] & ~NNCC_CONV_LEAN, hw = H * W, kk = KH * KW;

	for (int64_t n = 0; n < N; n++)
		for (int64_t k = 0; k < K; k++) {
			float *yp = y + (swap & NNCC_CONV_SWAP_Y ? k * N + n : n * K + k) * OH * OW;
			for (int64_t oy = 0; oy < OH; oy++)
				for (int64_t ox = 0; ox < OW; ox++) {
					float s = bias ? bias[k] : 0.0f;
					for (int64_t c = 0; c < C; c++) {
						const float *xp = x + (swap & NNCC_CONV_SWAP_X ? c * N + n : n * C + c) * hw;
						const float *wp = w + (swap & NNCC_CONV_SWAP_W ? c * K + k : k * C + c) * kk;
						for (int64_t i = 0; i < KH; i++)
							for (int64_t j = 0; j < KW; j++) {
								int64_t iy = oy * p[9] + i * p[13] - p[11];
								int64_t ix = ox * p[10] + j * p[14] - p[12];
								int64_t t = swap & NNCC_CONV_FLIP_W ? kk - 1 - (i * KW + j) : i * KW + j;
								if (iy >= 0 && iy < H && ix >= 0 && ix < W)
									s += xp[iy * W + ix] * wp[t];
							}
					}
					yp[oy * OW + ox] = s;
				}
		}
}

void
rt_conv2d_swapped(const float *x, const float *w, const float *bias, float *y, float *scratch, const int64_t *p,
		  const nncc_abi_ctx *cx, const RtEpi *ep)
{
	int64_t N = p[0], C = p[1], K = p[4], OH = p[5], OW = p[6], KH = p[7], KW = p[8];
	int64_t swap = p[17] & ~NNCC_CONV_LEAN, hw = p[2] * p[3], kk = KH * KW, ohw = OH * OW;

	/* an input gradient's weight, transposed and flipped: the Winograd
	 * weight transform reads it so */
	if (!(swap & (NNCC_CONV_SWAP_X | NNCC_CONV_SWAP_Y)) && rt_conv2d_winograd(x, w, bias, y, scratch, p, cx, ep))
		return;
	if (!(swap & NNCC_CONV_FLIP_W) && nncc_abi_conv_blocks(N, KW, OW, ohw)) {
		int64_t room = (p[17] & NNCC_CONV_LEAN ? nncc_abi_wide_scratch_lean : nncc_abi_wide_scratch)(
		    N, C, K, 1, OH, OW, KH, KW, p[13], p[14]);
		if (rt_conv2d_wino_wgrad(x, w, bias, y, scratch, room, p, cx) ||
		    rt_conv2d_wide_flat(x, w, bias, y, scratch, room, p, cx)) {
			rt_epi_rows(ep, y, ohw, N * K, ohw); /* elementwise: y's layout is res's */
			return;
		}
	}
	/* copies in the shapes' layouts, the epilogue a pass after (res lies
	 * as y does) */
	float *xs = NULL, *ws = NULL, *ys = NULL;
	int ok = 1;
	if (swap & NNCC_CONV_SWAP_X)
		ok = (xs = malloc((size_t)(N * C * hw) * sizeof(float))) != NULL;
	if (ok && (swap & (NNCC_CONV_SWAP_W | NNCC_CONV_FLIP_W)))
		ok = (ws = malloc((size_t)(K * C * kk) * sizeof(float))) != NULL;
	if (ok && (swap & NNCC_CONV_SWAP_Y))
		ok = (ys = malloc((size_t)(N * K * ohw) * sizeof(float))) != NULL;
	if (!ok) {
		direct(x, w, bias, y, p);
	} else {
		int64_t q[18];
		memcpy(q, p, sizeof q);
		q[17] = p[17] & NNCC_CONV_LEAN; /* the same scratch */
		if (xs)
			swap_planes(xs, x, N, C, hw);
		if (ws) {
			if (swap & NNCC_CONV_SWAP_W)
				swap_planes(ws, w, K, C, kk);
			else
				memcpy(ws, w, (size_t)(K * C * kk) * sizeof(float));
			if (swap & NNCC_CONV_FLIP_W)
				flip_taps(ws, K * C, kk);
		}
		nncc_rt_conv2d_f32(xs ? xs : x, ws ? ws : w, bias, ys ? ys : y, scratch, q, cx, NULL, NULL);
		if (ys)
			swap_planes(y, ys, K, N, ohw);
	}
	rt_epi_rows(ep, y, ohw, N * K, ohw);
	free(xs);
	free(ws);
	free(ys);
}
