/* epilogue.h — a convolution's fused epilogue (nncc_abi_epi) as the
 * kernel library applies it: to vectors on their way to the output
 * (rt_epi_v, in registers: the GEMM's micro-kernels, Winograd's output
 * transform) or to a block of the output just written, while it is in
 * cache (rt_epi_rows). Internal to the library (runtime/epilogue.c). */
#ifndef NNCC_RT_EPILOGUE_H
#define NNCC_RT_EPILOGUE_H

#include <stdint.h>

#include <immintrin.h>

#include "abi.h"

typedef struct RtEpi RtEpi;
struct RtEpi {
	const nncc_abi_epi *e; /* the ops */
	const float *res;      /* NNCC_EPI_ADD's operand, NULL when e adds none */
	const float *y;        /* the output whose offsets res shares */
	/* canon: e's ops in the form v (+ res), then v < lo_t ? lo_c : v
	 * (when lo), then v > hi_t ? hi_c : v (when hi), which every list of
	 * an add, then ReLU or a maximum, then a minimum takes (rt_epi_init
	 * picks the thresholds that give maximum's and minimum's zeros) */
	int canon, lo, hi;
	float lo_t, lo_c, hi_t, hi_c;
	/* the loop over a block (rt_epi_init), NULL: nothing to apply */
	void (*fn)(const RtEpi *ep, float *c, int64_t ldc, int64_t rows, int64_t cols);
};

/* *ep for the epilogue e (NULL: none) of output y with residual res. */
void rt_epi_init(RtEpi *ep, const nncc_abi_epi *e, const float *res, const float *y);

/* Whether ep has anything to apply (ep may be NULL). */
static inline int
rt_epi_on(const RtEpi *ep)
{
	return ep && ep->fn;
}

/* The epilogue over rows x cols of the output at c (row stride ldc),
 * which holds sums and bias (whole rows: one run). Nothing when
 * !rt_epi_on(ep). */
static inline void
rt_epi_rows(const RtEpi *ep, float *c, int64_t ldc, int64_t rows, int64_t cols)
{
	if (!rt_epi_on(ep) || rows <= 0 || cols <= 0)
		return;
	if (cols == ldc)
		ep->fn(ep, c, ldc, 1, rows * cols);
	else
		ep->fn(ep, c, ldc, rows, cols);
}

/* The residual's floats for the output at `at`. */
static inline const float *
rt_epi_res(const RtEpi *ep, const float *at)
{
	return ep->res + (at - ep->y);
}

/* A canonical epilogue held in registers for a run of stores (a
 * micro-kernel's tile): loaded once, so the stores in between need not
 * reload it (they might alias it, for all the compiler knows). */
typedef struct RtEpiRegs {
	int res, lo, hi;          /* which parts apply */
	uintptr_t rd;             /* the residual's address minus the output's, bytes */
	__m512 lo_t, lo_c, hi_t, hi_c;
} RtEpiRegs;

__attribute__((target("avx512f"), always_inline)) static inline RtEpiRegs
rt_epi_regs(const RtEpi *ep)
{
	return (RtEpiRegs){
	    .res = ep->res != NULL, .lo = ep->lo, .hi = ep->hi,
	    .rd = (uintptr_t)ep->res - (uintptr_t)ep->y,
	    .lo_t = _mm512_set1_ps(ep->lo_t), .lo_c = _mm512_set1_ps(ep->lo_c),
	    .hi_t = _mm512_set1_ps(ep->hi_t), .hi_c = _mm512_set1_ps(ep->hi_c),
	};
}

/* The residual's floats for the output at `at`. */
static inline const float *
rt_epi_regs_res(const RtEpiRegs *e, const float *at)
{
	return (const float *)((uintptr_t)at + e->rd);
}

/* v through the epilogue, r the residual's lanes (read when e->res). */
__attribute__((target("avx512f"), always_inline)) static inline __m512
rt_epi_vr(const RtEpiRegs *e, __m512 v, __m512 r)
{
	if (e->res)
		v = _mm512_add_ps(v, r);
	if (e->lo)
		v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, e->lo_t, _CMP_LT_OQ), e->lo_c);
	if (e->hi)
		v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, e->hi_t, _CMP_GT_OQ), e->hi_c);
	return v;
}

/* v, bound for the lanes mk of the output at `at`, through the
 * epilogue. */
__attribute__((target("avx512f"), always_inline)) static inline __m512
rt_epi_v(const RtEpiRegs *e, __m512 v, const float *at, __mmask16 mk)
{
	__m512 r = e->res ? _mm512_maskz_loadu_ps(mk, rt_epi_regs_res(e, at)) : _mm512_setzero_ps();

	return rt_epi_vr(e, v, r);
}

#endif
