/* lower_exotic.c — cast into a float8 without saturation (dt family; Cast
 * with saturate=0): the saturating converting load, except that a value
 * whose magnitude rounds past the largest finite one (infinity included)
 * gives the format's overflow code instead: NaN (fn, fnuz) or infinity
 * (e5m2), with x's sign where the format has one. The overflow test is on
 * x as f32 against the midpoint T between the largest finite value and
 * the next grid point: |x| > T, or |x| == T when the largest code is odd
 * (a tie rounds to even, away from it); f8e8m0 (rounding up): |x| > 2^127. */
#include "lower.h"

#include <math.h>

Kx *lw_cast_nosat(Lower *L, int buf, Aff idx, DType t)
{
	int eb, mb, bias, e;
	unsigned max = ir_small_enc(t, INFINITY, true);
	double m = ir_small_dec(t, max), mid = m; /* f8e8m0 rounds up: past 2^127 overflows */
	if (t != DT_F8E8M0) {
		NN_ASSERT(ir_small_float_fmt(t, &eb, &mb, &bias));
		frexp(m, &e); /* m in [2^(e-1), 2^e) */
		mid = m + ldexp(1, e - 1 - mb) / 2;
	}
	Kx *x = kx_load(L, DT_F32, buf, idx);
	Kx *over = kx_bin(L, max & 1 && t != DT_F8E8M0 ? KB_GE : KB_GT, kx_un(L, KU_ABS, x),
		kx_const(L, DT_F32, mid));
	over->dtype = DT_BOOL;
	Kx *neg = kx_bin(L, KB_LT, x, kx_const(L, DT_F32, 0));
	neg->dtype = DT_BOOL;
	/* the overflow codes as values of t: NaN or infinity, signed */
	double pos = ir_small_dec(t, ir_small_enc(t, INFINITY, false));
	double ng = ir_small_dec(t, ir_small_enc(t, -INFINITY, false));
	Kx *code = kx_sel(L, neg, kx_const(L, t, ng), kx_const(L, t, pos));
	return kx_sel(L, over, code, kx_load(L, t, buf, idx));
}
