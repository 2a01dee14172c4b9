/* onnx_ew.c — ONNX import handlers of the ew family (elementwise math,
 * logic, comparisons, activations); their rows are in onnx_ops.c's table,
 * block "ew". Ops that map one to one go through ew_simple or ew_binary;
 * composite ops are rewritten into IR primitives here. */
#include "onnx_impl.h"

#include <string.h>

/* Infers the node just built; 0 or -1. */
static int done(Importer *m, int node) { return imp_infer(m, node) < 0 ? -1 : 0; }

/* One IR node over all given inputs, bound to output 0. */
int ew_simple(Importer *m, Op op)
{
	return done(m, imp_node(m, op, m->in, m->nin, 0));
}

/* A broadcasting binary op. Before opset 7 broadcast=1 with an axis
 * aligned B at that axis; numpy's rule agrees only when B is aligned to
 * the end. */
int ew_binary(Importer *m, Op op)
{
	if (m->opset < 7 && imp_int(m, "broadcast", 0) && imp_attr(m, "axis")) {
		Shape a = m->g->val[m->in[0]].shape, b = m->g->val[m->in[1]].shape;
		int64_t axis = imp_int(m, "axis", 0);
		if (a.rank >= 0 && axis < 0)
			axis += a.rank;
		if (a.rank < 0 || b.rank < 0 || axis != a.rank - b.rank)
			return imp_err(m, "legacy broadcast with axis=%lld is unsupported",
				(long long)imp_int(m, "axis", 0));
	}
	return done(m, imp_node(m, op, m->in, 2, 0));
}

/* A rank-0 constant of dtype t holding v. */
static int scalar(Importer *m, const char *what, DType t, double v)
{
	unsigned char buf[16];
	ir_elem_put(t, buf, v);
	return imp_const(m, what, t, ir_shape_make(0, NULL), buf, ir_dtype_size(t));
}

/* A new node op(a, b) (b < 0: unary) bound to slot, inferred; its value or -1. */
static int node2(Importer *m, Op op, int a, int b, int slot)
{
	int in[2] = {a, b};
	return imp_infer(m, imp_node(m, op, in, b < 0 ? 1 : 2, slot));
}

/* cast(v) to t; its value or -1. */
static int cast_to(Importer *m, int v, DType t, int slot)
{
	int nd = imp_node(m, OP_CAST, &v, 1, slot);
	ir_set_string(m->g, nd, "to", ir_dtype_name(t));
	return imp_infer(m, nd);
}

/* IsInf: detect_negative / detect_positive (both default 1). */
int ew_isinf(Importer *m, Op op)
{
	int nd = imp_node(m, OP_ISINF, m->in, 1, 0);
	ir_set_int(m->g, nd, "detect_negative", imp_int(m, "detect_negative", 1) != 0);
	ir_set_int(m->g, nd, "detect_positive", imp_int(m, "detect_positive", 1) != 0);
	return done(m, nd);
}

/* Mod: fmod=0 (Python's %, integers only, as ONNX requires) or fmod=1. */
int ew_mod(Importer *m, Op op)
{
	int64_t fmod = imp_int(m, "fmod", 0);
	if (fmod != 0 && fmod != 1)
		return imp_err(m, "fmod must be 0 or 1, not %lld", (long long)fmod);
	DType t = m->g->val[m->in[0]].dtype;
	if (!fmod && ir_dtype_is_float(t))
		return imp_err(m, "fmod=0 is defined for integer inputs only, not %s", ir_dtype_name(t));
	int nd = imp_node(m, OP_MOD, m->in, 2, 0);
	if (fmod)
		ir_set_int(m->g, nd, "fmod", 1);
	return done(m, nd);
}

/* BitShift: direction "LEFT" or "RIGHT". */
int ew_bitshift(Importer *m, Op op)
{
	const char *dir = imp_str(m, "direction", "");
	if (strcmp(dir, "LEFT") != 0 && strcmp(dir, "RIGHT") != 0)
		return imp_err(m, "direction must be LEFT or RIGHT, not \"%s\"", dir);
	int nd = imp_node(m, OP_BIT_SHIFT, m->in, 2, 0);
	ir_set_string(m->g, nd, "direction", dir[0] == 'L' ? "left" : "right");
	return done(m, nd);
}

/* Max, Min, Sum (op: max, min, add) and Mean (op: div): a chain of
 * binary ops over the inputs, left to right (one input: identity); Mean
 * divides the sum by the input count. */
int ew_variadic(Importer *m, Op op)
{
	bool mean = op == OP_DIV;
	Op step = mean ? OP_ADD : op;
	int v = m->in[0];
	if (m->nin == 1 && !mean)
		return done(m, imp_node(m, OP_IDENTITY, &v, 1, 0));
	for (int k = 1; k < m->nin; k++)
		if ((v = node2(m, step, v, m->in[k], k == m->nin - 1 && !mean ? 0 : -1)) < 0)
			return -1;
	if (!mean)
		return 0;
	DType t = m->g->val[v].dtype;
	if (!ir_dtype_is_float(t))
		return imp_err(m, "Mean is supported for float types only, not %s", ir_dtype_name(t));
	int c = scalar(m, "count", t, m->nin);
	return node2(m, OP_DIV, v, c, 0) < 0 ? -1 : 0;
}

/* Whether Clip (opset >= 11) has a min or max that is not a constant:
 * then ew_clip lowers it as run-time data. */
bool ew_clip_runtime(const Importer *m)
{
	for (int k = 1; k < m->nin && k < 3; k++)
		if (m->in[k] >= 0 && m->g->val[m->in[k]].kind != VK_CONST)
			return true;
	return false;
}

/* Clip with tensor bounds: max(x, min) then min(., max), each bound a
 * one-element tensor of x's type (NaN in x propagates). */
int ew_clip(Importer *m, Op op)
{
	int v = m->in[0];
	DType t = m->g->val[v].dtype;
	for (int k = 1; k < m->nin && k < 3; k++) {
		if (m->in[k] < 0)
			continue;
		const Value *b = &m->g->val[m->in[k]];
		if (b->dtype != DT_UNDEF && b->dtype != t)
			return imp_err(m, "%s has type %s; expected %s", k == 1 ? "min" : "max",
				ir_dtype_name(b->dtype), ir_dtype_name(t));
		int64_t n = ir_shape_numel(&b->shape);
		if (b->shape.rank > 1 || (n >= 0 && n != 1))
			return imp_err(m, "%s must hold exactly one value", k == 1 ? "min" : "max");
		bool last = k == 2 || m->nin < 3 || m->in[2] < 0;
		if ((v = node2(m, k == 1 ? OP_MAX : OP_MIN, v, m->in[k], last ? 0 : -1)) < 0)
			return -1;
	}
	return 0;
}

/* Pow with an integer base: through float64 (exact while the result
 * fits its 53 bits), then back to the base's type, truncating. */
int ew_pow_int(Importer *m, Op op)
{
	DType t = m->g->val[m->in[0]].dtype;
	int a = cast_to(m, m->in[0], DT_F64, -1), b = a < 0 ? -1 : cast_to(m, m->in[1], DT_F64, -1);
	int p = b < 0 ? -1 : node2(m, OP_POW, a, b, -1);
	return p < 0 || cast_to(m, p, t, 0) < 0 ? -1 : 0;
}

/* CastLike: cast to the type of input 1. */
int ew_castlike(Importer *m, Op op)
{
	DType t = m->g->val[m->in[1]].dtype;
	if (ir_dtype_size(t) == 0)
		return imp_err(m, "target type is unknown");
	return cast_to(m, m->in[0], t, 0) < 0 ? -1 : 0;
}
