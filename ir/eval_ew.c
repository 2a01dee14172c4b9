/* eval_ew.c — reference semantics of the ew family's elementwise ops:
 * comparisons (numpy broadcasting, bool result; floats compare as numbers,
 * NaN unequal to everything; integers compare exactly), logic on bool
 * (not, and, or, xor) and where (an exact element copy from a or b, so it
 * works for every dtype). Shapes and dtypes were checked by shape_ew.c. */
#include "eval.h"

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

bool ev_ew_dtype_ok(Op op, DType t)
{
	switch (op) {
	case OP_NOT: case OP_AND: case OP_OR: case OP_XOR: case OP_WHERE:
		return t == DT_BOOL;
	default: /* comparisons */
		return ir_dtype_is_float(t) || int_dtype(t);
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

/* Value of the op at one output element; x[k] points at input k's element
 * index off[k]. Returns it through y (an element of the output). */
static void elem(const Ev *e, const int64_t *off, unsigned char *y)
{
	Op op = e->n->op;
	const Tensor *in = e->in;
	switch (op) {
	case OP_EQUAL: case OP_LESS: case OP_LESS_EQUAL: case OP_GREATER: case OP_GREATER_EQUAL: {
		DType t = in[0].dtype;
		int c;
		if (int_dtype(t)) {
			int64_t a = get_int(t, in[0].data, off[0]), b = get_int(t, in[1].data, off[1]);
			c = a < b ? -1 : a > b ? 1 : 0;
		} else {
			double a = get_f(t, in[0].data, off[0]), b = get_f(t, in[1].data, off[1]);
			c = a < b ? -1 : a > b ? 1 : a == b ? 0 : 2;
		}
		*y = compare(op, c);
		return;
	}
	case OP_NOT:
		*y = get_int(DT_BOOL, in[0].data, off[0]) == 0;
		return;
	case OP_AND: case OP_OR: case OP_XOR: {
		bool a = get_int(DT_BOOL, in[0].data, off[0]) != 0;
		bool b = get_int(DT_BOOL, in[1].data, off[1]) != 0;
		*y = op == OP_AND ? a && b : op == OP_OR ? a || b : a != b;
		return;
	}
	case OP_WHERE: {
		int k = get_int(DT_BOOL, in[0].data, off[0]) ? 1 : 2;
		size_t sz = ir_dtype_size(in[k].dtype);
		memcpy(y, (const unsigned char *)in[k].data + (size_t)off[k] * sz, sz);
		return;
	}
	default:
		NN_ASSERT(!"eval_ew: not an ew op");
	}
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
		elem(e, off, (unsigned char *)y->data + (size_t)i * ysz);
	}
	return 0;
}
