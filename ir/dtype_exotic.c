/* dtype_exotic.c — the exotic element types (dt family): float8 (e4m3fn,
 * e4m3fnuz, e5m2, e5m2fnuz), float4 e2m1, and the narrow integers int4,
 * uint4, int2, uint2. nncc stores each element in ONE byte (its code in
 * the low bits; narrow integers sign- or zero-extended), so indexing,
 * kernels and buffers treat them as bytes; only TensorProto I/O packs two
 * (four) per byte. This file defines their values: decoding a code to a
 * double and encoding a double to a code, rounding to nearest, ties to
 * even, as ONNX's Cast specifies:
 *   saturate (the default): a finite value or infinity beyond the largest
 *     finite magnitude gives that magnitude with its sign;
 *   no saturation: it gives NaN (fn, fnuz) or infinity (e5m2);
 *   NaN gives the format's NaN: 0x7f (e4m3fn, with the sign), 0x7e (e5m2,
 *     with the sign), 0x80 (fnuz, decoding to -NaN); fnuz has no negative zero; float4 has no
 *     NaN or infinity: it always saturates and takes NaN to 0x8 (-0), as the
 *     ONNX reference does.
 * f8e8m0 is a bare exponent: 2^(code - 127), 0xff NaN, no zero or sign.
 * Encoding rounds up (ONNX's round_mode "up", the only one nncc has) to
 * the least power of two >= |v| (the sign is dropped; 0 gives 2^-127);
 * past 2^127 it saturates to 0xfe, or without saturation gives NaN.
 * Narrow integers from a double truncate toward zero (saturating to
 * int64) and wrap to their width, as the ONNX reference's Cast does. */
#include "ir.h"

#include <math.h>

/* The layout of a small float format. */
typedef struct Fmt {
	int eb, mb;    /* exponent and mantissa bits */
	int bias;      /* exponent bias */
	unsigned max;  /* code of the largest finite magnitude */
	bool uz;       /* fnuz: 0x80 is the only NaN, no negative zero */
	bool inf;      /* e5m2: IEEE infinities (0x7c) and NaNs */
	bool fn;       /* e4m3fn: 0x7f/0xff are NaN, no infinity */
} Fmt;

static bool fmt(DType t, Fmt *f)
{
	static const struct { DType t; Fmt f; } fmts[] = {
		{DT_F8E4M3FN, {4, 3, 7, 0x7e, false, false, true}},
		{DT_F8E4M3FNUZ, {4, 3, 8, 0x7f, true, false, false}},
		{DT_F8E5M2, {5, 2, 15, 0x7b, false, true, false}},
		{DT_F8E5M2FNUZ, {5, 2, 16, 0x7f, true, false, false}},
		{DT_F4E2M1, {2, 1, 1, 0x7, false, false, false}},
	};
	for (size_t i = 0; i < sizeof fmts / sizeof *fmts; i++)
		if (fmts[i].t == t) {
			*f = fmts[i].f;
			return true;
		}
	return false;
}

bool ir_small_float_fmt(DType t, int *eb, int *mb, int *bias)
{
	Fmt f;
	if (!fmt(t, &f))
		return false;
	*eb = f.eb, *mb = f.mb, *bias = f.bias;
	return true;
}

bool ir_dtype_is_exotic(DType t)
{
	return ir_dtype_is_small_float(t) || t == DT_I4 || t == DT_U4 || t == DT_I2 || t == DT_U2;
}

bool ir_dtype_is_small_float(DType t)
{
	Fmt f;
	return fmt(t, &f) || t == DT_F8E8M0;
}

/* f8e8m0: the least power of two >= |v|, as its code. */
static unsigned e8m0_enc(double v, bool saturate)
{
	if (isnan(v))
		return 0xff;
	v = fabs(v);
	if (isinf(v))
		return saturate ? 0xfe : 0xff;
	int ex;
	double f = frexp(v, &ex); /* v = f * 2^ex, f in [0.5, 1) */
	int k = v == 0 ? -127 : f == 0.5 ? ex - 1 : ex; /* 2^k >= v */
	if (k < -127)
		k = -127;
	if (k > 127)
		return saturate ? 0xfe : 0xff;
	return (unsigned)(k + 127);
}

int ir_dtype_bits(DType t)
{
	switch (t) {
	case DT_I4: case DT_U4: case DT_F4E2M1: return 4;
	case DT_I2: case DT_U2: return 2;
	default: return (int)ir_dtype_size(t) * 8;
	}
}

int64_t ir_small_int_wrap(DType t, int64_t v)
{
	int w = ir_dtype_bits(t);
	uint64_t m = (1ull << w) - 1, u = (uint64_t)v & m;
	if ((t == DT_I4 || t == DT_I2) && u >> (w - 1))
		return (int64_t)u - (int64_t)(m + 1);
	return (int64_t)u;
}

double ir_small_dec(DType t, unsigned code)
{
	Fmt f;
	if (t == DT_F8E8M0)
		return (code & 0xff) == 0xff ? NAN : ldexp(1, (int)(code & 0xff) - 127);
	if (!fmt(t, &f))
		return (double)ir_small_int_wrap(t, code);
	int sb = f.eb + f.mb;
	code &= (1u << (sb + 1)) - 1;
	unsigned mag = code & ((1u << sb) - 1);
	bool neg = code >> sb & 1;
	if (f.uz && code == 0x80) /* its sign bit is set: -NaN, as ONNX decodes it */
		return -NAN;
	if (f.fn && mag == 0x7f)
		return neg ? -NAN : NAN;
	unsigned e = mag >> f.mb, m = mag & ((1u << f.mb) - 1);
	if (f.inf && e == (1u << f.eb) - 1)
		return m ? (neg ? -NAN : NAN) : neg ? -INFINITY : INFINITY;
	double v = e ? ldexp(m + (1u << f.mb), (int)e - f.bias - f.mb) : ldexp(m, 1 - f.bias - f.mb);
	return neg ? -v : v;
}

/* A small float's magnitude code for a (finite, >= 0), rounded to
 * nearest even on the format's grid with an unbounded exponent range;
 * the result may exceed f->max (an overflow). */
static unsigned mag_round(const Fmt *f, double a)
{
	int emin = 1 - f->bias, e;
	if (a == 0)
		return 0;
	frexp(a, &e);
	e -= 1; /* a in [2^e, 2^(e+1)) */
	if (e < emin)
		e = emin;
	double q = rint(ldexp(a, f->mb - e)); /* in [0, 2^(mb+1)] units of 2^(e-mb) */
	if (q >= ldexp(1, f->mb + 1)) /* rounded up to the next binade */
		q /= 2, e++;
	if (q < ldexp(1, f->mb)) /* subnormal (only when e == emin) */
		return (unsigned)q;
	double code = ldexp(e - emin + 1, f->mb) + q - ldexp(1, f->mb);
	return code > 0xff ? 0xff + 1 : (unsigned)code;
}

unsigned ir_small_enc(DType t, double v, bool saturate)
{
	Fmt f;
	if (t == DT_F8E8M0)
		return e8m0_enc((float)v, saturate);
	if (!fmt(t, &f)) {
		int64_t i = isnan(v) ? 0 : v >= 0x1p63 ? INT64_MAX : v <= -0x1p63 ? INT64_MIN : (int64_t)v;
		return (unsigned)((uint64_t)ir_small_int_wrap(t, i) & ((1u << ir_dtype_bits(t)) - 1));
	}
	v = (float)v; /* wider sources round to f32 first, as the backend does */
	unsigned sign = signbit(v) ? 1u << (f.eb + f.mb) : 0;
	bool f4 = t == DT_F4E2M1;
	if (isnan(v))
		return f4 ? 0x8 : f.uz ? 0x80 : f.fn ? sign | 0x7f : sign | 0x7e;
	unsigned mag = isinf(v) ? f.max + 1 : mag_round(&f, fabs(v));
	if (mag > f.max) {
		if (saturate || f4)
			mag = f.max;
		else
			return f.uz ? 0x80 : f.fn ? sign | 0x7f : sign | 0x7c;
	}
	if (f.uz && mag == 0)
		return 0;
	return sign | mag;
}
