/* winograd_out.c — phase 3 of winograd.c's convolutions, the output
 * transform: y = A^T M A + bias for each output tile (F(2x2, 3x3) and
 * F(4x4, 3x3)), through the epilogue, written as contiguous row runs (a
 * segment of one tile row, or a group of narrow rows' segments) or, for
 * dilated tiles, scattered. Part of the kernel library; the block's
 * layout is winograd_impl.h's. */
#include <stdint.h>

#include <immintrin.h>

#include "conv_direct.h"
#include "winograd_impl.h"

/* A^T m A for filter f of the 16 tiles whose products start at mf:
 * o[a][b], plus the bias. F(2x2, 3x3): A^T = [1 1 1 0; 0 1 -1 -1]. */
__attribute__((target("avx512f"))) static void
out_tile2(const Wino *d, const float *mf, __mmask16 live, float bias, __m512 o[4][4])
{
	int64_t mstride = d->ms;
	__m512 u[4][2], b = _mm512_set1_ps(bias);

	for (int r = 0; r < 4; r++) {
		__m512 q[4];
		for (int s = 0; s < 4; s++)
			q[s] = _mm512_maskz_loadu_ps(live, mf + (r * 4 + s) * mstride);
		u[r][0] = _mm512_add_ps(_mm512_add_ps(q[0], q[1]), q[2]);
		u[r][1] = _mm512_sub_ps(_mm512_sub_ps(q[1], q[2]), q[3]);
	}
	for (int c = 0; c < 2; c++) {
		o[0][c] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(u[0][c], u[1][c]), u[2][c]), b);
		o[1][c] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(u[1][c], u[2][c]), u[3][c]), b);
	}
}

/* F(4x4, 3x3)'s A^T on six values, into y[0], y[st], y[2 st], y[3 st],
 * plus b: A^T = [1 1 1 1 1 0; 0 1 -1 1/2 -2 0; 0 1 1 1/4 4 0;
 * 0 1 -1 1/8 -8 1]. */
__attribute__((target("avx512f"))) static inline void
at4(__m512 m0, __m512 m1, __m512 m2, __m512 m3, __m512 m4, __m512 m5, __m512 b, __m512 *y, int st)
{
	const __m512 c2 = _mm512_set1_ps(2.0f), c4 = _mm512_set1_ps(4.0f), c8 = _mm512_set1_ps(8.0f);
	const __m512 h1 = _mm512_set1_ps(0.5f), h2 = _mm512_set1_ps(0.25f), h3 = _mm512_set1_ps(0.125f);
	__m512 s = _mm512_add_ps(m1, m2), t = _mm512_sub_ps(m1, m2);

	y[0] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(m0, s), _mm512_add_ps(m3, m4)), b);
	y[st] = _mm512_add_ps(_mm512_fmadd_ps(h1, m3, _mm512_fnmadd_ps(c2, m4, t)), b);
	y[2 * st] = _mm512_add_ps(_mm512_fmadd_ps(h2, m3, _mm512_fmadd_ps(c4, m4, s)), b);
	y[3 * st] = _mm512_add_ps(_mm512_fmadd_ps(h3, m3, _mm512_fnmadd_ps(c8, m4, _mm512_add_ps(t, m5))), b);
}

__attribute__((target("avx512f"))) static void
out_tile4(const Wino *d, const float *mf, __mmask16 live, float bias, __m512 o[4][4])
{
	int64_t mstride = d->ms;
	__m512 u[6][4], z = _mm512_setzero_ps();

	for (int r = 0; r < 6; r++) {
		__m512 q[6];
		for (int s = 0; s < 6; s++)
			q[s] = _mm512_maskz_loadu_ps(live, mf + (r * 6 + s) * mstride);
		at4(q[0], q[1], q[2], q[3], q[4], q[5], z, u[r], 1);
	}
	for (int c = 0; c < 4; c++)
		at4(u[0][c], u[1][c], u[2][c], u[3][c], u[4][c], u[5][c], _mm512_set1_ps(bias), &o[0][c], 4);
}

/* The lanes mk of v to y, through the epilogue ep (canonical) if any. */
__attribute__((target("avx512f"), always_inline)) static inline void
store_epi(const RtEpiRegs *er, float *y, __mmask16 mk, __m512 v)
{
	_mm512_mask_storeu_ps(y, mk, er ? rt_epi_v(er, v, y, mk) : v);
}

/* Phase 3 for filters [f0, f1): y = A^T M A + bias for the tiles' m x m
 * outputs inside the image. Segments interleave each output row's m
 * columns into contiguous stores (narrow rows by groups of segments);
 * dilated tiles scatter. */
__attribute__((target("avx512f"))) void
rt_wino_out_part(const Wino *d, int64_t f0, int64_t f1)
{
	int64_t ohw = d->OH * d->OW, tm = d->tm;
	void (*tile)(const Wino *, const float *, __mmask16, float, __m512[4][4]) = tm == 4 ? out_tile4 : out_tile2;
	RtEpiRegs regs = d->ep ? rt_epi_regs(d->ep) : (RtEpiRegs){0};
	const RtEpiRegs *er = d->ep ? &regs : NULL;

	if (d->D == 1 && d->tw >= SEG_MIN_TW) {
		/* lo, hi: two vectors' lanes interleaved (the first 8 of each, the
		 * last 8); dlo, dhi: the same for pairs of lanes */
		const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
		const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
		const __m512i dlo = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
		const __m512i dhi = _mm512_add_epi64(dlo, _mm512_set1_epi64(4));
		for (int64_t t = 0; t < d->tb;) {
			Seg sg;
			rt_wino_seg_at(d, t, &sg);
			int64_t x0 = tm * sg.tx, n = d->OW - x0 < tm * sg.cnt ? d->OW - x0 : tm * sg.cnt;
			__mmask16 m[4];
			for (int k = 0; k < tm; k++)
				m[k] = (__mmask16)rt_lanes(0, n - 16 * k > 16 ? 16 : n - 16 * k);
			__mmask16 live = (__mmask16)rt_lanes(0, sg.cnt);
			for (int64_t f = f0; f < f1; f++) {
				__m512 o[4][4];
				tile(d, d->m + (f - d->m0) * d->tbp + t, live, d->bias ? d->bias[f] : 0.0f, o);
				float *yf = d->y + (sg.n * d->K + f) * ohw + tm * sg.ty * d->OW + x0;
				for (int a = 0; a < tm && tm * sg.ty + a < d->OH; a++) {
					float *ya = yf + a * d->OW;
					__m512 p0 = _mm512_permutex2var_ps(o[a][0], lo, o[a][1]);
					__m512 p1 = _mm512_permutex2var_ps(o[a][0], hi, o[a][1]);
					if (tm == 2) {
						store_epi(er, ya, m[0], p0);
						store_epi(er, ya + 16, m[1], p1);
						continue;
					}
					__m512d q0 = _mm512_castps_pd(_mm512_permutex2var_ps(o[a][2], lo, o[a][3]));
					__m512d q1 = _mm512_castps_pd(_mm512_permutex2var_ps(o[a][2], hi, o[a][3]));
					__m512d d0 = _mm512_castps_pd(p0), d1 = _mm512_castps_pd(p1);
					store_epi(er, ya, m[0], _mm512_castpd_ps(_mm512_permutex2var_pd(d0, dlo, q0)));
					store_epi(er, ya + 16, m[1], _mm512_castpd_ps(_mm512_permutex2var_pd(d0, dhi, q0)));
					store_epi(er, ya + 32, m[2], _mm512_castpd_ps(_mm512_permutex2var_pd(d1, dlo, q1)));
					store_epi(er, ya + 48, m[3], _mm512_castpd_ps(_mm512_permutex2var_pd(d1, dhi, q1)));
				}
			}
			t += sg.cnt;
		}
		return;
	}
	if (d->D == 1) { /* narrow rows: each segment's rows of tm * cnt outputs */
		Group g;
		for (int64_t t = 0; t < d->tb; t += g.cnt) {
			rt_wino_group_at(d, t, &g);
			/* output vector k of segment s: lane p is column 16 k + p, from
			 * lane l0 + (16 k + p) / tm of o[a][b], b = (16 k + p) % tm (of
			 * o[a][b & 1] and o[a][2 + (b & 1)], the latter for b >= 2) */
			__m512i oidx[16][2];
			__mmask16 ohi[16][2], om[16][2];
			for (int s = 0; s < g.ns; s++) {
				int l0 = __builtin_ctz(g.lanes[s]);
				for (int k = 0; k < 2; k++) {
					int32_t ix[16];
					ohi[s][k] = 0;
					for (int q = 0; q < 16; q++) {
						int64_t col = 16 * k + q;
						ix[q] = (int32_t)(l0 + col / tm + 16 * (col % tm % 2)) & 31;
						ohi[s][k] |= (__mmask16)((col % tm >= 2) << q);
					}
					oidx[s][k] = _mm512_loadu_si512(ix);
					int64_t left = g.on[s] - 16 * k;
					om[s][k] = (__mmask16)rt_lanes(0, left < 0 ? 0 : left > 16 ? 16 : left);
				}
			}
			__mmask16 live = (__mmask16)rt_lanes(0, g.cnt);
			for (int64_t f = f0; f < f1; f++) {
				__m512 o[4][4];
				tile(d, d->m + (f - d->m0) * d->tbp + t, live, d->bias ? d->bias[f] : 0.0f, o);
				for (int s = 0; s < g.ns; s++) {
					float *yf = d->y + (g.n[s] * d->K + f) * ohw + g.oy[s] * d->OW + g.ox[s];
					for (int a = 0; a < tm && g.oy[s] + a < d->OH; a++)
						for (int k = 0; k < 2 && om[s][k]; k++) {
							__m512i ix = oidx[s][k];
							__m512 v = _mm512_permutex2var_ps(o[a][0], ix, o[a][1]);
							if (tm == 4)
								v = _mm512_mask_mov_ps(v, ohi[s][k],
										       _mm512_permutex2var_ps(o[a][2], ix, o[a][3]));
							store_epi(er, yf + a * d->OW + 16 * k, om[s][k], v);
						}
				}
			}
		}
		return;
	}
	for (int64_t t = 0; t < d->tb; t += 16) {
		Lanes l;
		rt_wino_lanes(d, t, &l);
		for (int64_t f = f0; f < f1; f++) {
			__m512 o[4][4];
			tile(d, d->m + (f - d->m0) * d->tbp + t, l.live, d->bias ? d->bias[f] : 0.0f, o);
			__m512i yo = _mm512_add_epi32(l.yoff, _mm512_set1_epi32((int32_t)(f * ohw)));
			for (int a = 0; a < tm; a++) {
				__m512i ya = _mm512_add_epi32(yo, _mm512_set1_epi32((int32_t)(a * d->D * d->OW)));
				for (int b = 0; b < tm; b++) {
					__mmask16 mk = l.orow[a] & l.ocol[b];
					__m512i at = _mm512_add_epi32(ya, _mm512_set1_epi32((int32_t)(b * d->D)));
					if (er) /* the residual at the same offsets */
						o[a][b] = rt_epi_vr(
						    er, o[a][b],
						    er->res ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, at,
										       rt_epi_regs_res(er, d->y), 4)
							    : _mm512_setzero_ps());
					_mm512_mask_i32scatter_ps(d->y, mk, at, o[a][b], 4);
				}
			}
		}
	}
}
