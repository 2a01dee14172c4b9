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
static int scalar(Importer *m, const char *what, DType t, double v) { return imp_scalar(m, what, t, v); }

/* A new node op(a, b) (b < 0: unary) bound to slot, inferred; its value or -1. */
static int node2(Importer *m, Op op, int a, int b, int slot)
{
	int in[2] = {a, b};
	return imp_infer(m, imp_node(m, op, in, b < 0 ? 1 : 2, slot));
}

/* cast(v) to t; its value or -1. */
static int cast_to(Importer *m, int v, DType t, int slot)
{
	return imp_cast(m, v, t, slot);
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
	for (int k = 1; k < m->nin; k++)
		if (m->in[k] < 0)
			return imp_err(m, "input %d is empty", k);
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
	int v = cast_to(m, m->in[0], t, 0);
	if (v >= 0 && m->g->val[v].kind == VK_NODE && dt_cast_saturate(m, m->g->val[v].def))
		return -1;
	return v < 0 ? -1 : 0;
}

/* ---- activations: rewrites into primitives (tinygrad/Glow style) ---------------- */

/* The float dtype of input 0, or DT_UNDEF with a message. */
static DType act_dtype(Importer *m)
{
	DType t = m->g->val[m->in[0]].dtype;
	if (!ir_dtype_is_float(t)) {
		imp_err(m, "is supported for float types only, not %s", ir_dtype_name(t));
		return DT_UNDEF;
	}
	return t;
}

/* v op c for a scalar constant c of dtype t (-1 passes through). */
static int with_const(Importer *m, Op op, int v, double c, DType t, const char *what, int slot)
{
	if (v < 0)
		return -1;
	return node2(m, op, v, scalar(m, what, t, c), slot);
}

/* where(cond, a, b) bound to slot; its value or -1. */
static int where3(Importer *m, int cond, int a, int b, int slot)
{
	if (cond < 0 || a < 0 || b < 0)
		return -1;
	int in[3] = {cond, a, b};
	return imp_infer(m, imp_node(m, OP_WHERE, in, 3, slot));
}

/* alpha * (exp(x) - 1), the negative branch of Elu and Selu. */
static int elu_neg(Importer *m, int x, double alpha, DType t)
{
	int e = node2(m, OP_EXP, x, -1, -1);
	return with_const(m, OP_MUL, with_const(m, OP_SUB, e, 1, t, "one", -1), alpha, t, "alpha", -1);
}

/* Elu, Selu, Celu, ThresholdedRelu, Shrink, HardSigmoid, HardSwish,
 * Softplus, Softsign, Mish and Gelu, dispatched on the ONNX op_type. */
int ew_activation(Importer *m, Op op)
{
	DType t = act_dtype(m);
	if (t == DT_UNDEF)
		return -1;
	const char *ty = m->np->op_type;
	int x = m->in[0];
	int zero = scalar(m, "zero", t, 0);
	if (strcmp(ty, "Elu") == 0 || strcmp(ty, "Selu") == 0) {
		/* where(x > 0, x, alpha * (exp(x) - 1)), Selu times gamma */
		bool selu = ty[0] == 'S';
		double alpha = imp_float(m, "alpha", selu ? 1.67326319217681884765625 : 1.0);
		double gamma = imp_float(m, "gamma", 1.05070102214813232421875);
		int r = where3(m, node2(m, OP_GREATER, x, zero, -1), x, elu_neg(m, x, alpha, t), selu ? -1 : 0);
		return (selu ? with_const(m, OP_MUL, r, gamma, t, "gamma", 0) : r) < 0 ? -1 : 0;
	}
	if (strcmp(ty, "Celu") == 0) { /* max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) */
		double alpha = imp_float(m, "alpha", 1.0);
		if (alpha == 0)
			return imp_err(m, "alpha must not be 0");
		int s = with_const(m, OP_DIV, x, alpha, t, "alpha", -1);
		int n = s < 0 ? -1 : node2(m, OP_MIN, elu_neg(m, s, alpha, t), zero, -1);
		int p = node2(m, OP_MAX, x, zero, -1);
		return n < 0 || p < 0 || node2(m, OP_ADD, p, n, 0) < 0 ? -1 : 0;
	}
	if (strcmp(ty, "ThresholdedRelu") == 0) { /* where(x > alpha, x, 0) */
		int c = with_const(m, OP_GREATER, x, imp_float(m, "alpha", 1.0), t, "alpha", -1);
		return where3(m, c, x, zero, 0) < 0 ? -1 : 0;
	}
	if (strcmp(ty, "Shrink") == 0) { /* x < -l: x + bias; x > l: x - bias; else 0 */
		double l = imp_float(m, "lambd", 0.5), bias = imp_float(m, "bias", 0.0);
		int hi = where3(m, with_const(m, OP_GREATER, x, l, t, "lambd", -1),
			with_const(m, OP_SUB, x, bias, t, "bias", -1), zero, -1);
		return where3(m, with_const(m, OP_LESS, x, -l, t, "neg_lambd", -1),
			with_const(m, OP_ADD, x, bias, t, "bias", -1), hi, 0) < 0 ? -1 : 0;
	}
	if (strcmp(ty, "HardSigmoid") == 0 || strcmp(ty, "HardSwish") == 0) {
		/* clip(alpha * x + beta, 0, 1); HardSwish: x times it, alpha 1/6 */
		bool swish = strcmp(ty, "HardSwish") == 0;
		double alpha = swish ? 1.0 / 6 : imp_float(m, "alpha", 0.2);
		double beta = swish ? 0.5 : imp_float(m, "beta", 0.5);
		int a = with_const(m, OP_ADD, with_const(m, OP_MUL, x, alpha, t, "alpha", -1), beta, t, "beta", -1);
		if (a < 0)
			return -1;
		int c = imp_node(m, OP_CLIP, &a, 1, swish ? -1 : 0);
		ir_set_float(m->g, c, "min", 0);
		ir_set_float(m->g, c, "max", 1);
		int h = imp_infer(m, c);
		return h < 0 || (swish && node2(m, OP_MUL, x, h, 0) < 0) ? -1 : 0;
	}
	if (strcmp(ty, "Softplus") == 0 || strcmp(ty, "Mish") == 0) {
		/* log(exp(x) + 1); Mish: x * tanh(softplus(x)) */
		bool mish = ty[0] == 'M';
		int sp = node2(m, OP_LOG, with_const(m, OP_ADD, node2(m, OP_EXP, x, -1, -1), 1, t, "one", -1), -1,
			mish ? -1 : 0);
		if (sp < 0 || !mish)
			return sp < 0 ? -1 : 0;
		int th = node2(m, OP_TANH, sp, -1, -1);
		return th < 0 || node2(m, OP_MUL, x, th, 0) < 0 ? -1 : 0;
	}
	if (strcmp(ty, "Softsign") == 0) { /* x / (1 + |x|) */
		int d = with_const(m, OP_ADD, node2(m, OP_ABS, x, -1, -1), 1, t, "one", -1);
		return d < 0 || node2(m, OP_DIV, x, d, 0) < 0 ? -1 : 0;
	}
	if (strcmp(ty, "Gelu") == 0) {
		/* none: 0.5 x (1 + erf(x / sqrt 2)); tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
		const char *ap = imp_str(m, "approximate", "none");
		int inner;
		if (strcmp(ap, "none") == 0) {
			inner = node2(m, OP_ERF, with_const(m, OP_MUL, x, 0.70710678118654752440, t, "rsqrt2", -1), -1, -1);
		} else if (strcmp(ap, "tanh") == 0) {
			int x3 = node2(m, OP_MUL, node2(m, OP_MUL, x, x, -1), x, -1);
			int s = x3 < 0 ? -1 : node2(m, OP_ADD, x, with_const(m, OP_MUL, x3, 0.044715, t, "c", -1), -1);
			inner = node2(m, OP_TANH, with_const(m, OP_MUL, s, 0.79788456080286535588, t, "sqrt_2_pi", -1), -1, -1);
		} else {
			return imp_err(m, "approximate must be \"none\" or \"tanh\", not \"%s\"", ap);
		}
		int h = with_const(m, OP_MUL, x, 0.5, t, "half", -1);
		int one = with_const(m, OP_ADD, inner, 1, t, "one", -1);
		return h < 0 || one < 0 || node2(m, OP_MUL, h, one, 0) < 0 ? -1 : 0;
	}
	return imp_err(m, "no rewrite for %s", ty);
}

/* PRelu: where(x < 0, slope * x, x), slope broadcast to x. */
int ew_prelu(Importer *m, Op op)
{
	DType t = act_dtype(m);
	if (t == DT_UNDEF)
		return -1;
	int x = m->in[0];
	int c = node2(m, OP_LESS, x, scalar(m, "zero", t, 0), -1);
	return where3(m, c, node2(m, OP_MUL, m->in[1], x, -1), x, 0) < 0 ? -1 : 0;
}

/* BitCast: `to` an ONNX TensorProto type code (IR dtypes share them). */
int ew_bitcast(Importer *m, Op op)
{
	int64_t to = imp_int(m, "to", 0);
	if (to <= 0 || to > 64 || ir_dtype_size((DType)to) == 0)
		return imp_err(m, "bitcast to ONNX type %lld is unsupported", (long long)to);
	int nd = imp_node(m, OP_BITCAST, m->in, 1, 0);
	ir_set_string(m->g, nd, "to", ir_dtype_name((DType)to));
	return done(m, nd);
}
