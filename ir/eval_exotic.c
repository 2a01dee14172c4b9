/* eval_exotic.c — the reference interpreter's cast from or to an exotic
 * dtype (dt family, dtype_exotic.c defines their values): integers
 * (including int4/uint4/int2/uint2 and bool) convert exactly and wrap to
 * a narrow integer target; floats go through their double value, and
 * encode into float8/float4 rounding to nearest even, saturating unless
 * the cast's `saturate` attribute is 0. */
#include "eval.h"

static bool int_src(DType t)
{
	return ev_is_int(t) || t == DT_BOOL || t == DT_I4 || t == DT_U4 || t == DT_I2 || t == DT_U2;
}

int ev_cast_exotic(const Ev *e)
{
	const Tensor *x = &e->in[0];
	Tensor *y = &e->out[0];
	bool sat = ir_attr_int(e->n, "saturate", 1) != 0;
	size_t xs = ir_dtype_size(x->dtype), ys = ir_dtype_size(y->dtype);
	const unsigned char *xp = x->data;
	unsigned char *yp = y->data;
	for (int64_t i = 0, n = ev_numel(x); i < n; i++) {
		const unsigned char *src = xp + (size_t)i * xs;
		unsigned char *dst = yp + (size_t)i * ys;
		bool xi = int_src(x->dtype);
		int64_t iv = 0;
		double v;
		if (xi && x->dtype != DT_BOOL && !ir_dtype_is_exotic(x->dtype))
			iv = ev_int_get(x->dtype, src);
		else if (xi)
			iv = (int64_t)ir_elem_get(x->dtype, src);
		v = xi ? (x->dtype == DT_U64 ? (double)(uint64_t)iv : (double)iv) : ir_elem_get(x->dtype, src);
		if (ir_dtype_is_small_float(y->dtype))
			*dst = (uint8_t)ir_small_enc(y->dtype, v, sat);
		else if (ir_dtype_is_exotic(y->dtype))
			*dst = (uint8_t)ir_small_int_wrap(y->dtype, xi ? iv : ir_small_enc(y->dtype, v, sat));
		else if (xi && ev_is_int(y->dtype))
			ev_int_put(y->dtype, dst, iv);
		else
			ir_elem_put(y->dtype, dst, v);
	}
	return 0;
}
