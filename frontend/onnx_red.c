/* onnx_red.c — ONNX import of the reduction family: ReduceMin/Prod and the
 * composite reductions (L1, L2, LogSum, LogSumExp, SumSquare) as rewrites
 * into reduce_sum/reduce_max and pointwise ops, ArgMax/ArgMin, Hardmax (a
 * rewrite over argmax), CumSum, and the normalizations (LayerNormalization,
 * RMSNormalization, GroupNormalization, InstanceNormalization,
 * LpNormalization, MeanVarianceNormalization, LRN) as rewrites into
 * reductions and pointwise ops, so fusion sees them as such.
 *
 * Axes are attributes before opset 18 (ReduceSum: 13) and a constant input
 * since; an empty axes list reduces every axis unless noop_with_empty_axes
 * is set, when the op is the identity (the ONNX spec). Composite math
 * follows the spec's formulas in the input's float type. */
#include "onnx_impl.h"

#include <math.h>
#include <string.h>

static bool has(const Importer *m, int k) { return k < m->nin && m->in[k] >= 0; }
static const Value *inv(const Importer *m, int k) { return &m->g->val[m->in[k]]; }
static bool is(const Importer *m, const char *op_type) { return strcmp(m->np->op_type, op_type) == 0; }

/* ---- building blocks ------------------------------------------------------------- */

/* The value of a fresh node, or -1; slot as imp_node's. */
static int un(Importer *m, Op op, int a, int slot)
{
	return imp_infer(m, imp_node(m, op, &a, 1, slot));
}

static int bin(Importer *m, Op op, int a, int b, int slot)
{
	if (a < 0 || b < 0)
		return -1;
	int in[2] = {a, b};
	return imp_infer(m, imp_node(m, op, in, 2, slot));
}

/* A reduction of x over axes (na == 0: every axis). */
static int red(Importer *m, Op op, int x, const int64_t *axes, int na, bool keep, int slot)
{
	if (x < 0)
		return -1;
	int nd = imp_node(m, op, &x, 1, slot);
	if (na > 0)
		ir_set_ints(m->g, nd, "axes", axes, na);
	ir_set_int(m->g, nd, "keepdims", keep);
	return imp_infer(m, nd);
}

/* A rank-0 constant of float type t. */
static int fconst(Importer *m, const char *what, double v, DType t)
{
	if (t == DT_F32 || t == DT_F64)
		return imp_scalar(m, what, t, v);
	return imp_err(m, "input type %s is unsupported (float32 and float64 only)", ir_dtype_name(t));
}

/* The float dtype of input k, or -1 with a message. */
static int float_in(Importer *m, int k)
{
	DType t = inv(m, k)->dtype;
	if (t != DT_F32 && t != DT_F64)
		return imp_err(m, "input %d has type %s; only float32 and float64 are supported", k,
			ir_dtype_name(t));
	return 0;
}

/* The rank of input k, or -1 with a message when unknown. */
static int known_rank(Importer *m, int k)
{
	int r = inv(m, k)->shape.rank;
	if (r < 0)
		return imp_err(m, "input %d needs a known rank", k);
	return r;
}

/* Normalizes axis for rank r into *a; -1 with a message. */
static int norm_axis(Importer *m, int64_t axis, int r, int *a)
{
	if (axis < -r || axis >= r)
		return imp_err(m, "axis %lld is out of range for rank %d", (long long)axis, r);
	*a = (int)(axis < 0 ? axis + r : axis);
	return 0;
}

/* ---- reductions ------------------------------------------------------------------- */

/* axes: an attribute before opset `since`, a constant input from it. */
static int read_axes(Importer *m, int since, int64_t *axes)
{
	if (m->opset >= since) {
		if (imp_attr(m, "axes"))
			return imp_err(m, "axes is an input since opset %d, not an attribute", since);
		return has(m, 1) ? imp_const_ints(m, 1, "axes", axes, IR_MAX_RANK) : 0;
	}
	if (m->nin > 1)
		return imp_err(m, "axes is an attribute before opset %d, not an input", since);
	const int64_t *v;
	int n = imp_ints(m, "axes", &v);
	if (n > IR_MAX_RANK)
		return imp_err(m, "axes has %d values; at most %d are supported", n, IR_MAX_RANK);
	for (int i = 0; i < n; i++)
		axes[i] = v[i];
	return n > 0 ? n : 0;
}

/* The maximum over axes clipped to the finite range of float type t, so
 * that LogSumExp's x - m stays defined: an all -inf (or empty) row gives
 * -inf, a +inf gives +inf, as log(sum(exp(x))) does. */
static int clipped_max(Importer *m, int x, const int64_t *axes, int na, bool keep, DType t)
{
	int mx = red(m, OP_REDUCE_MAX, x, axes, na, keep, -1);
	if (mx < 0)
		return -1;
	double big = t == DT_F32 ? 0x1.fffffep+127 : 0x1.fffffffffffffp+1023;
	int nd = imp_node(m, OP_CLIP, &mx, 1, -1);
	ir_set_float(m->g, nd, "min", -big);
	ir_set_float(m->g, nd, "max", big);
	return imp_infer(m, nd);
}

/* ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp,
 * ReduceSumSquare. */
int imp_reduce_red(Importer *m, Op op)
{
	int64_t axes[IR_MAX_RANK];
	int na = read_axes(m, 18, axes);
	if (na < 0)
		return -1;
	if (na == 0 && imp_int(m, "noop_with_empty_axes", 0))
		return un(m, OP_IDENTITY, m->in[0], 0) < 0 ? -1 : 0;
	bool keep = imp_int(m, "keepdims", 1) != 0;
	int x = m->in[0];
	DType t = inv(m, 0)->dtype;
	if (op != OP_COUNT) /* ReduceMin, ReduceProd: primitives */
		return red(m, op, x, axes, na, keep, 0) < 0 ? -1 : 0;
	bool l1 = is(m, "ReduceL1"), sq = is(m, "ReduceL2") || is(m, "ReduceSumSquare");
	if (!l1 && !is(m, "ReduceSumSquare") && float_in(m, 0) < 0)
		return -1; /* sqrt and log need a float type */
	if (!ir_dtype_is_float(t) && t != DT_I32 && t != DT_I64)
		return imp_err(m, "input type %s is unsupported", ir_dtype_name(t));
	if (is(m, "ReduceLogSumExp")) { /* m + log(sum(exp(x - m))), m the max */
		int mk = clipped_max(m, x, axes, na, true, t);
		int s = red(m, OP_REDUCE_SUM, un(m, OP_EXP, bin(m, OP_SUB, x, mk, -1), -1), axes, na, keep, -1);
		int mx = keep ? mk : clipped_max(m, x, axes, na, false, t);
		return bin(m, OP_ADD, un(m, OP_LOG, s, -1), mx, 0) < 0 ? -1 : 0;
	}
	int body = l1 ? un(m, OP_ABS, x, -1) : sq ? bin(m, OP_MUL, x, x, -1) : x;
	bool post = is(m, "ReduceL2") || is(m, "ReduceLogSum");
	int s = red(m, OP_REDUCE_SUM, body, axes, na, keep, post ? -1 : 0);
	if (post)
		s = un(m, is(m, "ReduceL2") ? OP_SQRT : OP_LOG, s, 0);
	return s < 0 ? -1 : 0;
}

/* ArgMax, ArgMin: axis (default 0), keepdims, select_last_index. */
int imp_argmax(Importer *m, Op op)
{
	int nd = imp_node(m, op, m->in, 1, 0);
	ir_set_int(m->g, nd, "axis", imp_int(m, "axis", 0));
	ir_set_int(m->g, nd, "keepdims", imp_int(m, "keepdims", 1) != 0);
	if (imp_int(m, "select_last_index", 0))
		ir_set_int(m->g, nd, "select_last_index", 1);
	return imp_infer(m, nd) < 0 ? -1 : 0;
}

/* Hardmax: 1 where the first maximum along the axis is, else 0, as
 * 1 - min(1, |argmax - iota|) with iota 0..n-1 along the axis. Before
 * opset 13 the input is coerced to 2-D at axis (default 1). */
int imp_hardmax(Importer *m, Op op)
{
	(void)op;
	int r = known_rank(m, 0), a = 0;
	if (r < 0 || float_in(m, 0) < 0)
		return -1;
	const Value *xv = inv(m, 0);
	DType t = xv->dtype;
	Shape xs = xv->shape;
	int x = m->in[0];
	bool legacy = m->opset < 13;
	if (norm_axis(m, imp_int(m, "axis", legacy ? 1 : -1), r, &a) < 0)
		return -1;
	if (legacy) {
		int nd = imp_node(m, OP_FLATTEN, &x, 1, -1);
		ir_set_int(m->g, nd, "axis", a);
		if ((x = imp_infer(m, nd)) < 0)
			return -1;
		xs = m->g->val[x].shape;
		a = 1;
	}
	int64_t n = xs.d[a].n;
	if (!ir_shape_static(&xs) || n < 1 || n > (1 << 24))
		return imp_err(m, "needs a static input shape with 1 to 2^24 elements along the axis");
	int nd = imp_node(m, OP_ARGMAX, &x, 1, -1);
	ir_set_int(m->g, nd, "axis", a);
	ir_set_int(m->g, nd, "keepdims", 1);
	int am = imp_infer(m, nd);
	if (am < 0)
		return -1;
	nd = imp_node(m, OP_CAST, &am, 1, -1);
	ir_set_string(m->g, nd, "to", ir_dtype_name(t));
	am = imp_infer(m, nd);
	int64_t dims[IR_MAX_RANK];
	for (int i = 0; i < xs.rank; i++)
		dims[i] = i == a ? n : 1;
	size_t esz = ir_dtype_size(t);
	unsigned char *buf = arena_alloc(&m->arena, (size_t)n * esz);
	for (int64_t i = 0; i < n; i++) {
		if (t == DT_F32) {
			float f = (float)i;
			memcpy(buf + i * 4, &f, 4);
		} else {
			double d = (double)i;
			memcpy(buf + i * 8, &d, 8);
		}
	}
	int iota = imp_const(m, "iota", t, ir_shape_make(xs.rank, dims), buf, (size_t)n * esz);
	int d = un(m, OP_ABS, bin(m, OP_SUB, am, iota, -1), -1);
	if (d < 0)
		return -1;
	nd = imp_node(m, OP_CLIP, &d, 1, -1);
	ir_set_float(m->g, nd, "max", 1);
	int y = bin(m, OP_SUB, fconst(m, "one", 1, t), imp_infer(m, nd), legacy ? -1 : 0);
	if (y < 0 || !legacy)
		return y < 0 ? -1 : 0;
	int64_t back[IR_MAX_RANK];
	for (int i = 0; i < xv->shape.rank; i++)
		back[i] = xv->shape.d[i].n;
	nd = imp_node(m, OP_RESHAPE, &y, 1, 0);
	ir_set_ints(m->g, nd, "shape", back, xv->shape.rank);
	return imp_infer(m, nd) < 0 ? -1 : 0;
}

/* CumSum, CumProd: axis a constant scalar input; exclusive, reverse. */
int imp_cumsum(Importer *m, Op op)
{
	int64_t axis;
	int n = imp_const_ints(m, 1, "axis", &axis, 1);
	if (n != 1)
		return n < 0 ? -1 : imp_err(m, "axis must hold one value");
	int nd = imp_node(m, op, m->in, 1, 0);
	ir_set_int(m->g, nd, "axis", axis);
	if (imp_int(m, "exclusive", 0))
		ir_set_int(m->g, nd, "exclusive", 1);
	if (imp_int(m, "reverse", 0))
		ir_set_int(m->g, nd, "reverse", 1);
	return imp_infer(m, nd) < 0 ? -1 : 0;
}

/* ---- normalizations --------------------------------------------------------------- */

/* 1 / sqrt(v + eps) */
static int inv_std(Importer *m, int v, double eps, DType t, int slot)
{
	int s = un(m, OP_SQRT, bin(m, OP_ADD, v, fconst(m, "epsilon", eps, t), -1), -1);
	return bin(m, OP_DIV, fconst(m, "one", 1, t), s, slot);
}

/* LayerNormalization: over axes axis..rank-1; outputs Y, Mean, InvStdDev
 * (both keeping the reduced dims). RMSNormalization: y = x / rms * scale. */
int imp_layernorm(Importer *m, Op op)
{
	(void)op;
	int r = known_rank(m, 0), a = 0;
	if (r < 0 || float_in(m, 0) < 0 || norm_axis(m, imp_int(m, "axis", -1), r, &a) < 0)
		return -1;
	DType t = inv(m, 0)->dtype;
	double eps = imp_float(m, "epsilon", 1e-5);
	int64_t axes[IR_MAX_RANK];
	int na = 0;
	for (int i = a; i < r; i++)
		axes[na++] = i;
	int x = m->in[0], d, istd;
	if (is(m, "RMSNormalization")) {
		d = x;
		istd = inv_std(m, red(m, OP_REDUCE_MEAN, bin(m, OP_MUL, x, x, -1), axes, na, true, -1), eps,
			t, -1);
	} else {
		int mean = red(m, OP_REDUCE_MEAN, x, axes, na, true, imp_used(m, 1) ? 1 : -1);
		d = bin(m, OP_SUB, x, mean, -1);
		istd = inv_std(m, red(m, OP_REDUCE_MEAN, bin(m, OP_MUL, d, d, -1), axes, na, true, -1), eps,
			t, imp_used(m, 2) ? 2 : -1);
	}
	bool hasb = has(m, 2) && !is(m, "RMSNormalization");
	int y = bin(m, OP_MUL, bin(m, OP_MUL, d, istd, -1), m->in[1], hasb ? -1 : 0);
	if (hasb)
		y = bin(m, OP_ADD, y, m->in[2], 0);
	return y < 0 ? -1 : 0;
}

/* scale and bias of shape [C] reshaped to [C, 1, ...] for rank r. */
static int per_channel(Importer *m, int v, int r)
{
	int64_t shape[IR_MAX_RANK];
	shape[0] = -1;
	for (int i = 1; i < r - 1; i++)
		shape[i] = 1;
	int nd = imp_node(m, OP_RESHAPE, &v, 1, -1);
	ir_set_ints(m->g, nd, "shape", shape, r - 1);
	return imp_infer(m, nd);
}

/* (x - mean) / sqrt(var + eps) over axes, the variance as the mean of
 * the squared deviations. */
static int standardize(Importer *m, int x, const int64_t *axes, int na, double eps, DType t)
{
	int d = bin(m, OP_SUB, x, red(m, OP_REDUCE_MEAN, x, axes, na, true, -1), -1);
	int var = red(m, OP_REDUCE_MEAN, bin(m, OP_MUL, d, d, -1), axes, na, true, -1);
	return bin(m, OP_MUL, d, inv_std(m, var, eps, t, -1), -1);
}

/* InstanceNormalization: per image and channel over the spatial axes,
 * then scale[c] and bias[c]. */
int imp_instnorm(Importer *m, Op op)
{
	(void)op;
	int r = known_rank(m, 0);
	if (r < 0 || float_in(m, 0) < 0)
		return -1;
	if (r < 3)
		return imp_err(m, "needs an input of rank >= 3 (N, C, spatial...), not %d", r);
	int64_t axes[IR_MAX_RANK];
	for (int i = 2; i < r; i++)
		axes[i - 2] = i;
	int y = standardize(m, m->in[0], axes, r - 2, imp_float(m, "epsilon", 1e-5), inv(m, 0)->dtype);
	y = bin(m, OP_MUL, y, per_channel(m, m->in[1], r), -1);
	return bin(m, OP_ADD, y, per_channel(m, m->in[2], r), 0) < 0 ? -1 : 0;
}

/* GroupNormalization: x [N, C, ...] viewed as [N, G, C/G * spatial],
 * standardized along the last dim; scale and bias per channel (opset 21)
 * or per group (opset 18). */
int imp_groupnorm(Importer *m, Op op)
{
	(void)op;
	int r = known_rank(m, 0);
	if (r < 0 || float_in(m, 0) < 0)
		return -1;
	const Shape xs = inv(m, 0)->shape;
	int64_t g = imp_int(m, "num_groups", 0);
	if (r < 2 || !ir_shape_static(&xs) || g < 1 || xs.d[1].n % g)
		return imp_err(m, "needs a static [N, C, ...] input with C divisible by num_groups");
	DType t = inv(m, 0)->dtype;
	int64_t v3[3] = {0, g, -1}, ax = 2;
	int nd = imp_node(m, OP_RESHAPE, m->in, 1, -1);
	ir_set_ints(m->g, nd, "shape", v3, 3);
	int y = standardize(m, imp_infer(m, nd), &ax, 1, imp_float(m, "epsilon", 1e-5), t);
	bool per_group = m->opset < 21;
	if (per_group) {
		y = bin(m, OP_MUL, y, per_channel(m, m->in[1], 3), -1);
		y = bin(m, OP_ADD, y, per_channel(m, m->in[2], 3), -1);
	}
	if (y < 0)
		return -1;
	int64_t back[IR_MAX_RANK];
	for (int i = 0; i < r; i++)
		back[i] = xs.d[i].n;
	nd = imp_node(m, OP_RESHAPE, &y, 1, per_group ? 0 : -1);
	ir_set_ints(m->g, nd, "shape", back, r);
	y = imp_infer(m, nd);
	if (per_group)
		return y < 0 ? -1 : 0;
	y = bin(m, OP_MUL, y, per_channel(m, m->in[1], r), -1);
	return bin(m, OP_ADD, y, per_channel(m, m->in[2], r), 0) < 0 ? -1 : 0;
}

/* LpNormalization: x / ||x||_p along axis, p 1 or 2. A zero norm gives 0
 * (the reference's where(norm == 0, 0, x / norm)): the norm is clipped
 * from below to the dtype's least subnormal, so 0 / it is 0 and a positive
 * norm is unchanged. (Only where x*x underflows to a zero norm for a
 * nonzero x does this differ: x / least subnormal instead of 0.) */
int imp_lpnorm(Importer *m, Op op)
{
	(void)op;
	int r = known_rank(m, 0), a = 0;
	if (r < 0 || float_in(m, 0) < 0 || norm_axis(m, imp_int(m, "axis", -1), r, &a) < 0)
		return -1;
	int64_t p = imp_int(m, "p", 2), ax = a;
	if (p != 1 && p != 2)
		return imp_err(m, "p = %lld is unsupported (1 or 2)", (long long)p);
	int x = m->in[0];
	int body = p == 1 ? un(m, OP_ABS, x, -1) : bin(m, OP_MUL, x, x, -1);
	int nrm = red(m, OP_REDUCE_SUM, body, &ax, 1, true, -1);
	if (p == 2)
		nrm = un(m, OP_SQRT, nrm, -1);
	if (nrm < 0)
		return -1;
	int nd = imp_node(m, OP_CLIP, &nrm, 1, -1);
	ir_set_float(m->g, nd, "min", inv(m, 0)->dtype == DT_F32 ? 0x1p-149 : 0x1p-1074);
	return bin(m, OP_DIV, x, imp_infer(m, nd), 0) < 0 ? -1 : 0;
}

/* MeanVarianceNormalization: (x - mean) / (sqrt(mean(x^2) - mean^2) + 1e-9)
 * over axes (default [0, 2, 3]), the spec's formula. */
int imp_mvn(Importer *m, Op op)
{
	(void)op;
	if (float_in(m, 0) < 0)
		return -1;
	int64_t axes[IR_MAX_RANK] = {0, 2, 3};
	int na = 3;
	const int64_t *v;
	int n = imp_ints(m, "axes", &v);
	if (n > IR_MAX_RANK)
		return imp_err(m, "axes has %d values; at most %d are supported", n, IR_MAX_RANK);
	if (n >= 0) {
		memcpy(axes, v, (size_t)n * sizeof *v);
		na = n;
	}
	DType t = inv(m, 0)->dtype;
	int x = m->in[0];
	int mean = red(m, OP_REDUCE_MEAN, x, axes, na, true, -1);
	int msq = red(m, OP_REDUCE_MEAN, bin(m, OP_MUL, x, x, -1), axes, na, true, -1);
	int sd = un(m, OP_SQRT, bin(m, OP_SUB, msq, bin(m, OP_MUL, mean, mean, -1), -1), -1);
	sd = bin(m, OP_ADD, sd, fconst(m, "epsilon", 1e-9, t), -1);
	return bin(m, OP_DIV, bin(m, OP_SUB, x, mean, -1), sd, 0) < 0 ? -1 : 0;
}

/* LRN over channels of x [N, C, H, W]: y = x / (bias + alpha/size *
 * sum_window x^2)^beta. The window sum is an avgpool with count_include_pad
 * over x^2 viewed as [N, 1, C, H*W], times size. */
int imp_lrn(Importer *m, Op op)
{
	(void)op;
	int r = known_rank(m, 0);
	if (r < 0 || float_in(m, 0) < 0)
		return -1;
	const Shape xs = inv(m, 0)->shape;
	int64_t size = imp_int(m, "size", 0);
	if (r != 4 || !ir_shape_static(&xs))
		return imp_err(m, "needs a static input of rank 4");
	if (size < 1)
		return imp_err(m, "size must be positive");
	DType t = inv(m, 0)->dtype;
	double alpha = imp_float(m, "alpha", 1e-4), beta = imp_float(m, "beta", 0.75);
	double bias = imp_float(m, "bias", 1.0);
	int x = m->in[0];
	int sq = bin(m, OP_MUL, x, x, -1);
	if (sq < 0)
		return -1;
	int64_t v4[4] = {xs.d[0].n, 1, xs.d[1].n, xs.d[2].n * xs.d[3].n};
	int nd = imp_node(m, OP_RESHAPE, &sq, 1, -1);
	ir_set_ints(m->g, nd, "shape", v4, 4);
	int s = imp_infer(m, nd);
	if (s < 0)
		return -1;
	int64_t k[2] = {size, 1}, st[2] = {1, 1};
	int64_t pads[4] = {(size - 1) / 2, 0, size - 1 - (size - 1) / 2, 0};
	nd = imp_node(m, OP_AVGPOOL, &s, 1, -1);
	ir_set_ints(m->g, nd, "kernel", k, 2);
	ir_set_ints(m->g, nd, "strides", st, 2);
	ir_set_ints(m->g, nd, "pads", pads, 4);
	ir_set_int(m->g, nd, "count_include_pad", 1);
	if ((s = imp_infer(m, nd)) < 0)
		return -1;
	int64_t back[4] = {xs.d[0].n, xs.d[1].n, xs.d[2].n, xs.d[3].n};
	nd = imp_node(m, OP_RESHAPE, &s, 1, -1);
	ir_set_ints(m->g, nd, "shape", back, 4);
	s = imp_infer(m, nd); /* the window mean: alpha/size * sum = alpha * mean */
	int base = bin(m, OP_ADD, fconst(m, "bias", bias, t),
		bin(m, OP_MUL, fconst(m, "alpha", alpha, t), s, -1), -1);
	int den = bin(m, OP_POW, base, fconst(m, "beta", beta, t), -1);
	return bin(m, OP_DIV, x, den, 0) < 0 ? -1 : 0;
}

/* TopK: k an attribute (opset 1) or a constant 1-element input (10+);
 * largest and sorted since 11 (the result is always sorted). Two outputs. */
int imp_topk(Importer *m, Op op)
{
	int64_t k;
	if (m->opset < 10) {
		if (m->nin > 1)
			return imp_err(m, "k is an attribute before opset 10, not an input");
		if (!imp_attr(m, "k"))
			return imp_err(m, "missing attribute k");
		k = imp_int(m, "k", 0);
	} else {
		if (imp_attr(m, "k"))
			return imp_err(m, "k is an input since opset 10, not an attribute");
		if (!has(m, 1))
			return imp_err(m, "missing input k");
		int n = imp_const_ints(m, 1, "k", &k, 1);
		if (n != 1)
			return n < 0 ? -1 : imp_err(m, "k must hold one value");
	}
	const char *names[2] = {imp_outname(m, 0, "values"), imp_outname(m, 1, "indices")};
	int nd = ir_add_node(m->g, op, m->name, m->in, 1, 2, names);
	ir_set_int(m->g, nd, "axis", imp_int(m, "axis", -1));
	ir_set_int(m->g, nd, "k", k);
	if (!imp_int(m, "largest", 1))
		ir_set_int(m->g, nd, "largest", 0);
	if (ir_infer_node(m->g, nd, m->d) < 0)
		return imp_err(m, "the imported topk node is invalid (see above)");
	imp_bind(m, 0, ir_out(m->g, nd, 0));
	imp_bind(m, 1, ir_out(m->g, nd, 1));
	return 0;
}

/* A value reshaped to 1-D. */
static int flat(Importer *m, int v)
{
	if (v < 0)
		return -1;
	int64_t shape = -1;
	int nd = imp_node(m, OP_RESHAPE, &v, 1, -1);
	ir_set_ints(m->g, nd, "shape", &shape, 1);
	return imp_infer(m, nd);
}

/* BatchNormalization in training mode (training_mode = 1, or before opset
 * 14 the training outputs: onnx_ops.c): normalized with the batch's
 * own mean and (population) variance over every axis but 1; outputs 1 and
 * 2 are the running statistics mean * momentum + batch * (1 - momentum). */
int imp_batchnorm_train(Importer *m, Op op)
{
	(void)op;
	int r = known_rank(m, 0);
	if (r < 0 || float_in(m, 0) < 0)
		return -1;
	if (r < 2)
		return imp_err(m, "needs an input of rank >= 2 (channel is dim 1)");
	for (int k = 3; k < 5; k++) /* opsets 7-13: saved_mean, saved_var */
		if (imp_used(m, k))
			return imp_err(m, "output %d (%s, opsets 7 to 13) is unsupported", k,
				       k == 3 ? "saved_mean" : "saved_var");
	DType t = inv(m, 0)->dtype;
	int64_t axes[IR_MAX_RANK];
	int na = 0;
	for (int i = 0; i < r; i++)
		if (i != 1)
			axes[na++] = i;
	int x = m->in[0];
	int mean = red(m, OP_REDUCE_MEAN, x, axes, na, true, -1);
	int d = bin(m, OP_SUB, x, mean, -1);
	int var = red(m, OP_REDUCE_MEAN, bin(m, OP_MUL, d, d, -1), axes, na, true, -1);
	int y = bin(m, OP_MUL, d, inv_std(m, var, imp_float(m, "epsilon", 1e-5), t, -1), -1);
	y = bin(m, OP_MUL, y, per_channel(m, m->in[1], r), -1);
	if (bin(m, OP_ADD, y, per_channel(m, m->in[2], r), 0) < 0)
		return -1;
	double mom = imp_float(m, "momentum", 0.9);
	if (imp_bn_buffer_updates(m, x, mean, var, mom) < 0) /* onnx_bn.c: for --train */
		return -1;
	const int stat[2] = {mean, var};
	for (int k = 1; k <= 2; k++) {
		if (!imp_used(m, k))
			continue;
		int run = bin(m, OP_MUL, m->in[2 + k], fconst(m, "momentum", mom, t), -1);
		int cur = bin(m, OP_MUL, flat(m, stat[k - 1]), fconst(m, "one_minus_momentum", 1 - mom, t), -1);
		if (bin(m, OP_ADD, run, cur, k) < 0)
			return -1;
	}
	return 0;
}
