/* eval_ew.c — reference semantics of the ew family's elementwise ops, all
 * with numpy broadcasting: comparisons (bool result; floats compare as
 * numbers, NaN unequal to everything; integers compare exactly), logic on
 * bool (not, and, or, xor), where (an exact element copy from a or b, so
 * it works for every dtype), float math in float64 rounded to the dtype
 * (trigonometry, erf, floor/ceil, round half to even, sign, reciprocal,
 * max/min propagating NaN, mod), isnan/isinf, and integer math in int64
 * wrapping to the dtype (sign, max, min, bitwise ops, logical shifts of
 * unsigned types where a count >= the width gives 0, mod: fmod=0 takes the
 * divisor's sign like Python's %, fmod=1 the dividend's like C's; a zero
 * divisor is an error). Shapes and dtypes were checked by shape_ew.c. */
#include "eval.h"

#include <math.h>
#include <string.h>

/* Per-output-dim element strides of input `in` broadcast to `out`. */
static void bstrides(const Shape *in, const Shape *out, int64_t *st)
{
	int64_t s[IR_MAX_RANK];
	ev_strides(in, s);
	for (int i = 0; i < out->rank; i++) {
		int j = i - (out->rank - in->rank);
		st[i] = j < 0 || in->d[j].n == 1 ? 0 : s[j];
	}
}

static bool int_dtype(DType t)
{
	return t == DT_I8 || t == DT_U8 || t == DT_I32 || t == DT_I64 || t == DT_BOOL;
}

/* Element i of an integer (or bool) tensor, exactly. */
static int64_t get_int(DType t, const void *base, int64_t i)
{
	const unsigned char *p = (const unsigned char *)base + (size_t)i * ir_dtype_size(t);
	switch (t) {
	case DT_I8: return *(const int8_t *)p;
	case DT_U8: case DT_BOOL: return *p;
	case DT_I32: { int32_t x; memcpy(&x, p, 4); return x; }
	default: { int64_t x; memcpy(&x, p, 8); return x; }
	}
}

static double get_f(DType t, const void *base, int64_t i)
{
	return ir_elem_get(t, (const unsigned char *)base + (size_t)i * ir_dtype_size(t));
}

/* An integer dtype (not bool). */
static bool ints(DType t)
{
	return int_dtype(t) && t != DT_BOOL;
}

static bool is_unsigned(DType t)
{
	return t == DT_U8;
}

/* Stores v into an integer element, wrapping (two's complement). */
static void put_int(DType t, void *p, int64_t v)
{
	uint64_t u = (uint64_t)v;
	switch (t) {
	case DT_I8: case DT_U8: case DT_BOOL: *(uint8_t *)p = (uint8_t)u; break;
	case DT_I32: { uint32_t x = (uint32_t)u; memcpy(p, &x, 4); break; }
	default: memcpy(p, &u, 8); break;
	}
}

bool ev_ew_dtype_ok(Op op, DType t)
{
	switch (op) {
	case OP_NOT: case OP_AND: case OP_OR: case OP_XOR: case OP_WHERE:
		return t == DT_BOOL;
	case OP_EQUAL: case OP_LESS: case OP_LESS_EQUAL: case OP_GREATER: case OP_GREATER_EQUAL:
		return ir_dtype_is_float(t) || int_dtype(t);
	case OP_SIGN: case OP_MAX: case OP_MIN: case OP_MOD:
		return ir_dtype_is_float(t) || ints(t);
	case OP_BITWISE_NOT: case OP_BITWISE_AND: case OP_BITWISE_OR: case OP_BITWISE_XOR:
		return ints(t);
	case OP_BIT_SHIFT:
		return is_unsigned(t);
	default: /* float math, isnan, isinf */
		return ir_dtype_is_float(t);
	}
}

static bool compare(Op op, int c) /* c: -1, 0, 1, or 2 for unordered */
{
	switch (op) {
	case OP_EQUAL: return c == 0;
	case OP_LESS: return c == -1;
	case OP_LESS_EQUAL: return c == -1 || c == 0;
	case OP_GREATER: return c == 1;
	default: return c == 1 || c == 0; /* OP_GREATER_EQUAL */
	}
}

/* Float math of one element (b unused by unary ops). */
static double math_f(const Node *n, double a, double b)
{
	switch (n->op) {
	case OP_SIN: return sin(a);
	case OP_COS: return cos(a);
	case OP_TAN: return tan(a);
	case OP_ASIN: return asin(a);
	case OP_ACOS: return acos(a);
	case OP_ATAN: return atan(a);
	case OP_SINH: return sinh(a);
	case OP_COSH: return cosh(a);
	case OP_ASINH: return asinh(a);
	case OP_ACOSH: return acosh(a);
	case OP_ATANH: return atanh(a);
	case OP_ERF: return erf(a);
	case OP_FLOOR: return floor(a);
	case OP_CEIL: return ceil(a);
	case OP_ROUND: return nearbyint(a); /* the default rounding mode: ties to even */
	case OP_SIGN: return a > 0 ? 1 : a < 0 ? -1 : a; /* 0, -0 and NaN stay */
	case OP_RECIPROCAL: return 1 / a;
	case OP_MAX: return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
	case OP_MIN: return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
	case OP_MOD: { /* fmod=1: C's fmod; else the divisor's sign (Python's %) */
		double r = fmod(a, b);
		if (!ir_attr_int(n, "fmod", 0) && r != 0 && (r < 0) != (b < 0))
			r += b;
		return r;
	}
	default: NN_ASSERT(!"math_f: not a float op");
	}
	return 0;
}

/* Integer math of one element; -1 with a message for a zero divisor. */
static int math_i(const Ev *e, DType t, int64_t a, int64_t b, int64_t *r)
{
	uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
	int bits = (int)ir_dtype_size(t) * 8;
	switch (e->n->op) {
	case OP_SIGN: *r = a > 0 ? 1 : a < 0 ? -1 : 0; return 0;
	case OP_MAX: *r = a > b ? a : b; return 0;
	case OP_MIN: *r = a < b ? a : b; return 0;
	case OP_BITWISE_NOT: *r = (int64_t)~ua; return 0;
	case OP_BITWISE_AND: *r = (int64_t)(ua & ub); return 0;
	case OP_BITWISE_OR: *r = (int64_t)(ua | ub); return 0;
	case OP_BITWISE_XOR: *r = (int64_t)(ua ^ ub); return 0;
	case OP_BIT_SHIFT: {
		const Attr *d = ir_attr(e->n, "direction");
		bool left = d && d->kind == AT_STRING && strcmp(d->s, "left") == 0;
		if (!d || d->kind != AT_STRING || (!left && strcmp(d->s, "right") != 0))
			return ev_fail(e, "direction must be \"left\" or \"right\"");
		*r = ub >= (uint64_t)bits ? 0 : (int64_t)(left ? ua << ub : ua >> ub);
		return 0;
	}
	case OP_MOD:
		if (b == 0)
			return ev_fail(e, "integer modulo by zero");
		if (b == -1) {
			*r = 0;
			return 0;
		}
		*r = a % b; /* C's: the dividend's sign */
		if (!ir_attr_int(e->n, "fmod", 0) && *r != 0 && (*r < 0) != (b < 0))
			*r += b;
		return 0;
	default: NN_ASSERT(!"math_i: not an integer op");
	}
	return -1;
}

/* Value of the op at one output element, whose inputs are at element
 * off[k] of input k; written to y (an element of the output). */
static int elem(const Ev *e, const int64_t *off, unsigned char *y)
{
	Op op = e->n->op;
	const Tensor *in = e->in;
	DType t = in[0].dtype;
	bool two = e->n->nin > 1;
	switch (op) {
	case OP_EQUAL: case OP_LESS: case OP_LESS_EQUAL: case OP_GREATER: case OP_GREATER_EQUAL: {
		int c;
		if (int_dtype(t)) {
			int64_t a = get_int(t, in[0].data, off[0]), b = get_int(t, in[1].data, off[1]);
			c = a < b ? -1 : a > b ? 1 : 0;
		} else {
			double a = get_f(t, in[0].data, off[0]), b = get_f(t, in[1].data, off[1]);
			c = a < b ? -1 : a > b ? 1 : a == b ? 0 : 2;
		}
		*y = compare(op, c);
		return 0;
	}
	case OP_NOT:
		*y = get_int(DT_BOOL, in[0].data, off[0]) == 0;
		return 0;
	case OP_AND: case OP_OR: case OP_XOR: {
		bool a = get_int(DT_BOOL, in[0].data, off[0]) != 0;
		bool b = get_int(DT_BOOL, in[1].data, off[1]) != 0;
		*y = op == OP_AND ? a && b : op == OP_OR ? a || b : a != b;
		return 0;
	}
	case OP_WHERE: {
		int k = get_int(DT_BOOL, in[0].data, off[0]) ? 1 : 2;
		size_t sz = ir_dtype_size(in[k].dtype);
		memcpy(y, (const unsigned char *)in[k].data + (size_t)off[k] * sz, sz);
		return 0;
	}
	case OP_ISNAN:
		*y = isnan(get_f(t, in[0].data, off[0])) != 0;
		return 0;
	case OP_ISINF: {
		double a = get_f(t, in[0].data, off[0]);
		*y = (a == INFINITY && ir_attr_int(e->n, "detect_positive", 1)) ||
		     (a == -INFINITY && ir_attr_int(e->n, "detect_negative", 1));
		return 0;
	}
	default:
		break;
	}
	if (ints(t)) {
		int64_t a = get_int(t, in[0].data, off[0]), b = two ? get_int(t, in[1].data, off[1]) : 0, r = 0;
		if (math_i(e, t, a, b, &r))
			return -1;
		put_int(t, y, r);
		return 0;
	}
	double a = get_f(t, in[0].data, off[0]), b = two ? get_f(t, in[1].data, off[1]) : 0;
	ir_elem_put(t, y, math_f(e->n, a, b));
	return 0;
}

int ev_ew(const Ev *e)
{
	Tensor *y = &e->out[0];
	const Shape *os = &y->shape;
	int nin = e->n->nin;
	int64_t st[3][IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
	NN_ASSERT(nin <= 3);
	for (int k = 0; k < nin; k++)
		bstrides(&e->in[k].shape, os, st[k]);
	int64_t n = ev_numel(y);
	size_t ysz = ir_dtype_size(y->dtype);
	for (int64_t i = 0; i < n; i++, ev_next(idx, os)) {
		int64_t off[3] = {0, 0, 0};
		for (int k = 0; k < nin; k++)
			for (int d = 0; d < os->rank; d++)
				off[k] += idx[d] * st[k][d];
		if (elem(e, off, (unsigned char *)y->data + (size_t)i * ysz))
			return -1;
	}
	return 0;
}
