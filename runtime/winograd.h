/* winograd.h — 3x3 convolutions by Winograd's F(2x2, 3x3)
 * (runtime/winograd.c). Internal to the kernel library. */
#ifndef NNCC_RT_WINOGRAD_H
#define NNCC_RT_WINOGRAD_H

#include <stdint.h>

#include <immintrin.h>

#include "abi.h"
#include "epilogue.h"

/* Where lanes [0, cnt) of a vector of tiles (or filters) [t, t + cnt) go
 * in panels of w lanes (item t in panel t / w, lane t % w; panels
 * pstride floats apart): runs of lanes, each a masked store at an offset
 * from row 0 of panel 0. Shared by winograd.c's input transform (the
 * B panels) and winograd_wt.c's weight transform (the A panels). */
typedef struct RtWinoPut {
	int n;             /* runs */
	int64_t off[6];    /* element offset of lane 0 of the vector, for the run */
	__mmask16 mask[6]; /* the run's lanes */
} RtWinoPut;

static inline void
rt_wino_put_runs(int64_t w, int64_t pstride, int64_t t, int64_t cnt, RtWinoPut *pl)
{
	pl->n = 0;
	for (int64_t q = 0; q < cnt;) {
		int64_t p = (t + q) / w, lane = (t + q) % w, run = w - lane < cnt - q ? w - lane : cnt - q;
		pl->off[pl->n] = p * pstride + lane - q;
		pl->mask[pl->n++] = (__mmask16)(((1u << run) - 1) << q);
		q += run;
	}
}

/* F(4x4, 3x3)'s B^T on six values, into v[0], v[st], ..., v[5 st] (the
 * input transform of winograd.c and of wino_wgrad.c):
 * B^T = [1 -3/2 -2 3/2 1 0; 0 -1 1/2 5/2 1 0; 0 1 -5/2 1/2 1 0;
 *        0 -2 -1 2 1 0; 0 1/2 -1 -1/2 1 0; 0 1 -3/2 -2 3/2 1]. */
__attribute__((target("avx512f"))) static inline void
rt_wino_bt4(__m512 d0, __m512 d1, __m512 d2, __m512 d3, __m512 d4, __m512 d5, __m512 *v, int st)
{
	const __m512 half = _mm512_set1_ps(0.5f), one5 = _mm512_set1_ps(1.5f), two = _mm512_set1_ps(2.0f);
	const __m512 two5 = _mm512_set1_ps(2.5f);
	__m512 e = _mm512_sub_ps(d3, d1), f = _mm512_sub_ps(d4, d2);

	v[0] = _mm512_fnmadd_ps(two, d2, _mm512_fmadd_ps(one5, e, _mm512_add_ps(d0, d4)));
	v[st] = _mm512_fmadd_ps(two5, d3, _mm512_fmadd_ps(half, d2, _mm512_sub_ps(d4, d1)));
	v[2 * st] = _mm512_fmadd_ps(half, d3, _mm512_fnmadd_ps(two5, d2, _mm512_add_ps(d4, d1)));
	v[3 * st] = _mm512_fmadd_ps(two, e, f);
	v[4 * st] = _mm512_fnmadd_ps(half, e, f);
	v[5 * st] = _mm512_fnmadd_ps(two, d3, _mm512_fmadd_ps(one5, f, _mm512_add_ps(d1, d5)));
}

/* The weight transform U = G g G^T (winograd_wt.c) of the panels of mr
 * filters [p0, p1) of wt (K x C x 3 x 3; swap NNCC_CONV_SWAP_W: C x K x 3
 * x 3, NNCC_CONV_FLIP_W: each 3 x 3 reversed), for output tiles of m x m
 * (2 or 4), into uw as the micro-kernel's A panels of mr filters for each
 * of the (m + 2)^2 products (kp x C floats each, kp: K padded to whole
 * panels): filter f in panel f / mr at lane f % mr, channel c at row c;
 * filters past K zero. AVX-512. */
void rt_wino_weights(const float *wt, float *uw, int64_t C, int64_t K, int64_t kp, int64_t mr, int m,
		     int64_t p0, int64_t p1, int swap);

/* The same for panel p alone (mr at most 16), into up as (m + 2)^2
 * products of C x mr floats each, rt_wino_panel_stride apart (each row
 * stored as a whole vector of 16, the last one's spilling into the 16
 * floats of pad): the panel as rt_wino_weights lays it out in each
 * product's A, for a caller that multiplies it at once. */
static inline int64_t
rt_wino_panel_stride(int64_t C, int64_t mr)
{
	return C * mr + 16;
}

/* Floats of a fused call's GEMM slot its panel's U takes (nx products),
 * to a whole line: the panel's M follows (runtime/winograd.c fused_chunk;
 * abi.h nncc_abi_wino_fuses bounds both). */
static inline int64_t
rt_wino_fused_slot_u(int64_t nx, int64_t C, int64_t mr)
{
	return (nx * rt_wino_panel_stride(C, mr) + 15) / 16 * 16;
}

void rt_wino_weights_panel(const float *wt, float *up, int64_t C, int64_t K, int64_t mr, int m, int64_t p,
			   int swap);
void rt_wino_weights_prefetch(const float *wt, int64_t C, int64_t K, int64_t mr, int64_t p, int64_t part,
			     int64_t parts, int swap);

/* The convolution of nncc_rt_conv2d_f32 (p in its order) by F(2x2, 3x3),
 * when nncc_abi_wino allows it, the CPU has AVX-512 and cx's weight cache
 * holds (or takes) w's transform; scratch holds nncc_abi_wino_scratch
 * floats; its outputs go through ep (canonical, or NULL: none) on their
 * way out. Returns 1 when it ran, 0 (nothing written) otherwise. */
int rt_conv2d_winograd(const float *x, const float *w, const float *bias, float *y, float *scratch,
		       const int64_t *p, const nncc_abi_ctx *cx, const RtEpi *ep);

#endif
