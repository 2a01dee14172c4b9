/* epilogue.c — a convolution's fused epilogue (epilogue.h): its
 * canonical form, and the loop over a block of output. Part of the
 * kernel library. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "epilogue.h"

/* One float through e's ops in order, r its residual: the definition
 * (abi.h), for the lists without a canonical form (the code generator
 * hands over only canonical ones: llvm_epi.c) and CPUs without AVX-512. */
static float
epi_1(const nncc_abi_epi *e, float v, float r)
{
	for (int i = 0; i < e->n; i++) {
		float c = e->c[i];
		uint32_t a, b;
		switch (e->op[i]) {
		case NNCC_EPI_ADD:
			v = v + r;
			break;
		case NNCC_EPI_RELU:
			v = v < 0.0f ? 0.0f : v;
			break;
		case NNCC_EPI_MAX:
		case NNCC_EPI_MIN:
			if (e->op[i] == NNCC_EPI_MAX ? v < c : v > c) {
				v = c;
			} else if (v == c) { /* maximum: +0 if either is (sign bits ANDed); minimum: -0 */
				memcpy(&a, &v, 4), memcpy(&b, &c, 4);
				a = e->op[i] == NNCC_EPI_MAX ? a & b : a | b;
				memcpy(&v, &a, 4);
			}
			break;
		}
	}
	return v;
}

static void
epi_scalar(const RtEpi *ep, float *c, int64_t ldc, int64_t rows, int64_t cols)
{
	for (int64_t i = 0; i < rows; i++) {
		float *ci = c + i * ldc;
		const float *ri = ep->res ? rt_epi_res(ep, ci) : NULL;
		for (int64_t j = 0; j < cols; j++)
			ci[j] = epi_1(ep->e, ci[j], ri ? ri[j] : 0.0f);
	}
}

__attribute__((target("avx512f"))) static void
epi_canon(const RtEpi *ep, float *c, int64_t ldc, int64_t rows, int64_t cols)
{
	const RtEpiRegs er = rt_epi_regs(ep);

	for (int64_t i = 0; i < rows; i++) {
		float *ci = c + i * ldc;
		int64_t j = 0;
		for (; j + 16 <= cols; j += 16)
			_mm512_storeu_ps(ci + j, rt_epi_v(&er, _mm512_loadu_ps(ci + j), ci + j, 0xffff));
		if (j < cols) {
			__mmask16 mk = (__mmask16)((1u << (cols - j)) - 1);
			__m512 v = _mm512_maskz_loadu_ps(mk, ci + j);
			_mm512_mask_storeu_ps(ci + j, mk, rt_epi_v(&er, v, ci + j, mk));
		}
	}
}

/* The threshold t for which maximum(v, c) is v < t ? c : v: c, except
 * that +0 must also replace -0 (the smallest positive float is the first
 * above both zeros); for minimum(v, c), v > t ? c : v, -0 must replace
 * +0. */
static float
max_threshold(float c)
{
	return c == 0.0f && !signbit(c) ? nextafterf(0.0f, 1.0f) : c;
}

static float
min_threshold(float c)
{
	return c == 0.0f && signbit(c) ? nextafterf(-0.0f, -1.0f) : c;
}

/* Whether e's ops take the canonical form: an add first, then ReLU or a
 * maximum, then a minimum, each optional; the thresholds into *ep. */
static int
canonical(const nncc_abi_epi *e, RtEpi *ep)
{
	int stage = 0; /* 1: past the add, 2: past the lower bound, 3: past the upper */

	for (int i = 0; i < e->n; i++) {
		float c = e->c[i];
		switch (e->op[i]) {
		case NNCC_EPI_ADD:
			if (stage >= 1)
				return 0;
			stage = 1;
			break;
		case NNCC_EPI_RELU:
		case NNCC_EPI_MAX:
			if (stage >= 2 || (e->op[i] == NNCC_EPI_MAX && isnan(c)))
				return 0;
			ep->lo = 1, stage = 2;
			ep->lo_c = e->op[i] == NNCC_EPI_RELU ? 0.0f : c;
			ep->lo_t = e->op[i] == NNCC_EPI_RELU ? 0.0f : max_threshold(c);
			break;
		case NNCC_EPI_MIN:
			if (isnan(c))
				return 0;
			ep->hi = 1, stage = 3;
			ep->hi_c = c, ep->hi_t = min_threshold(c);
			break;
		default:
			return 0;
		}
	}
	return 1;
}

void
rt_epi_init(RtEpi *ep, const nncc_abi_epi *e, const float *res, const float *y)
{
	*ep = (RtEpi){.e = e, .y = y};
	if (!e || e->n <= 0 || e->n > NNCC_EPI_OPS)
		return;
	for (int i = 0; i < e->n; i++)
		if (e->op[i] == NNCC_EPI_ADD)
			ep->res = res;
	ep->canon = __builtin_cpu_supports("avx512f") && canonical(e, ep);
	ep->fn = ep->canon ? epi_canon : epi_scalar;
}
