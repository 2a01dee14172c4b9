/* onnx_export_ops.c — the exporter's op table: each IR op's ONNX form in
 * opset EX_OPSET (17), one function per op family (docs/export.md).
 *
 * Most IR ops are ONNX ops with the same attributes (ex_plain copies
 * them). The rest differ only in where ONNX wants a value: attributes the
 * IR keeps (reduction axes, pads, shapes, slice bounds, clip bounds, k)
 * become constant input tensors; matmul's trans_a/trans_b become
 * Transposes; mod with Python's sign rule on floats becomes fmod plus a
 * correction; a float-to-integer cast selects its saturated extremes
 * itself; ceil_mode pools become floor mode with longer end pads; dtypes
 * an op lacks in opset 17 or in ONNX Runtime go through a wider dtype
 * (widen()). An op with no ONNX form at opset 17 (training-only ops,
 * bitwise ops and bitcast from later opsets, cumprod) has a NULL row, and
 * the driver reports the node. */
#include "onnx_export_impl.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define IN1(v) ((const char *const[]){(v)})
#define OUT1(x, n) ((const char *const[]){ex_val((x), (x)->g->node[(n)].out[0])})

/* Inputs of node `node` as ONNX names, in order (omitted ones ""). */
static void inputs(const Exporter *x, int node, const char **in)
{
	const Node *n = &x->g->node[node];
	for (int k = 0; k < n->nin; k++)
		in[k] = ex_val(x, n->in[k]);
}

static const char *out_name(const Exporter *x, int node)
{
	return ex_val(x, x->g->node[node].out[0]);
}

/* ---- widening: types an op lacks in opset 17 or in ONNX Runtime ---------- */

/* Value dst: v cast to dtype t. */
static void cast_into(Exporter *x, int node, const char *v, DType t, const char *dst)
{
	Onnx__NodeProto *p = ex_node(x, node, "Cast", IN1(v), 1, &dst, 1);
	ex_attr_int(x, p, "to", ex_onnx_dtype(t));
}

/* A fresh value: v cast to dtype t. */
static const char *cast_to(Exporter *x, int node, const char *v, DType t, const char *what)
{
	const char *c = ex_tmp(x, out_name(x, node), what);
	cast_into(x, node, v, t, c);
	return c;
}

/* ONNX Runtime's Where selects only u8, i32, i64 and floats: the dtype to
 * select t's values in (u64 through i64 wraps both ways, bit for bit), or
 * DT_UNDEF when t needs none. */
static DType where_type(DType t)
{
	switch (t) {
	case DT_I8: case DT_I16: case DT_U16: return DT_I32;
	case DT_U32: case DT_U64: return DT_I64;
	case DT_BOOL: return DT_U8;
	default: return DT_UNDEF;
	}
}

/* Value dst = Where(cond, a, b) of dtype t, selected in where_type(t). */
static void where_into(Exporter *x, int node, const char *cond, const char *a, const char *b,
		       DType t, const char *dst)
{
	DType w = where_type(t);
	if (w == DT_UNDEF) {
		ex_node(x, node, "Where", (const char *const[]){cond, a, b}, 3, &dst, 1);
		return;
	}
	const char *in[3] = {cond, cast_to(x, node, a, w, "wide"), cast_to(x, node, b, w, "wide")};
	const char *r = ex_tmp(x, out_name(x, node), "wide_result");
	ex_node(x, node, "Where", in, 3, &r, 1);
	cast_into(x, node, r, t, dst);
}

/* Where the node's op has no ONNX (opset 17) or ONNX Runtime kernel for
 * its dtype, the wider dtype that holds every value exactly, the inputs
 * to cast (*mask, bit k for input k) and whether the result is cast back;
 * DT_UNDEF when the op takes the dtype as it is. IsInf knows no float16
 * before opset 20, ReduceMax/Min no bool; ONNX Runtime's Max and Min lack
 * int16/uint16, its BitShift uint16, its Where what where_type() says. */
static DType widen(const Exporter *x, const Node *n, unsigned *mask, bool *back)
{
	DType in = n->nin ? x->g->val[n->in[0]].dtype : DT_UNDEF;
	DType out = x->g->val[n->out[0]].dtype;
	*back = true;
	switch (n->op) {
	case OP_ISINF:
		*mask = 1;
		*back = false;
		return in == DT_F16 || in == DT_BF16 ? DT_F32 : DT_UNDEF;
	case OP_REDUCE_MAX:
	case OP_REDUCE_MIN:
		*mask = 1;
		return in == DT_BOOL ? DT_I32 : DT_UNDEF;
	case OP_MAX:
	case OP_MIN:
		*mask = 3;
		return in == DT_I16 || in == DT_U16 ? DT_I32 : DT_UNDEF;
	case OP_WHERE:
		*mask = 6;
		return where_type(out);
	case OP_BIT_SHIFT: /* a count of 16 or more: 0 in u16, and 0 once cast back */
		*mask = 3;
		return in == DT_U16 ? DT_U32 : DT_UNDEF;
	default:
		return DT_UNDEF;
	}
}

/* One ONNX node of op_type over in[0..nin-1] computing the node's first
 * output, widened as widen() says: the inputs cast first and the result
 * cast back to the IR output's dtype. */
static Onnx__NodeProto *widened(Exporter *x, int node, const char *op_type, const char **in, int nin)
{
	const Node *n = &x->g->node[node];
	unsigned mask = 0;
	bool back;
	DType w = widen(x, n, &mask, &back);
	const char *out = out_name(x, node);
	if (w == DT_UNDEF)
		return ex_node(x, node, op_type, in, nin, &out, 1);
	for (int k = 0; k < nin; k++)
		if (mask >> k & 1)
			in[k] = cast_to(x, node, in[k], w, "wide");
	const char *res = back ? ex_tmp(x, out, "wide_result") : out;
	Onnx__NodeProto *p = ex_node(x, node, op_type, in, nin, &res, 1);
	if (back)
		cast_into(x, node, res, x->g->val[n->out[0]].dtype, out);
	return p;
}

/* ---- plain: one ONNX node, the IR's inputs, outputs and attributes ------- */

static int ex_plain(Exporter *x, int node)
{
	const Node *n = &x->g->node[node];
	/* variadic ops (a concat of an unrolled sequence) take any count */
	const char **in = xmalloc((size_t)(n->nin + 1) * sizeof *in);
	const char **out = xmalloc((size_t)(n->nout + 1) * sizeof *out);
	inputs(x, node, in);
	int nin = n->nin;
	while (nin > 0 && !in[nin - 1][0]) /* trailing omitted inputs */
		nin--;
	for (int k = 0; k < n->nout; k++)
		out[k] = ex_val(x, n->out[k]);
	Onnx__NodeProto *p = n->nout == 1 ? widened(x, node, ex_rules[n->op].op_type, in, nin)
		: ex_node(x, node, ex_rules[n->op].op_type, in, nin, out, n->nout);
	for (int a = 0; a < n->nattr; a++)
		ex_copy_attr(x, p, n, n->attr[a].name, n->attr[a].name);
	free(in);
	free(out);
	return 0;
}

/* ---- elementwise ---------------------------------------------------------- */

/* Clip's bounds are inputs of x's dtype (omitted: unbounded). */
static int ex_clip(Exporter *x, int node)
{
	const Node *n = &x->g->node[node];
	DType t = x->g->val[n->in[0]].dtype;
	const char *base = out_name(x, node);
	const Attr *lo = ir_attr(n, "min"), *hi = ir_attr(n, "max");
	const char *in[3] = {ex_val(x, n->in[0]), "", ""};
	if (lo && !(isinf(lo->f) && lo->f < 0))
		in[1] = ex_const_scalar(x, base, "min", t, lo->f);
	if (hi && !(isinf(hi->f) && hi->f > 0))
		in[2] = ex_const_scalar(x, base, "max", t, hi->f);
	int nin = in[2][0] ? 3 : in[1][0] ? 2 : 1;
	ex_node(x, node, "Clip", in, nin, OUT1(x, node), 1);
	return 0;
}

/* BitShift spells its direction in capitals. */
static int ex_bit_shift(Exporter *x, int node)
{
	const Node *n = &x->g->node[node];
	const char *in[2];
	inputs(x, node, in);
	Onnx__NodeProto *p = widened(x, node, "BitShift", in, 2);
	const Attr *a = ir_attr(n, "direction");
	char dir[8] = "";
	for (int i = 0; a && a->s[i] && i < 7; i++)
		dir[i] = (char)toupper((unsigned char)a->s[i]), dir[i + 1] = 0;
	ex_attr_string(x, p, "direction", dir);
	return 0;
}

/* ONNX Mod on floats must be fmod (the dividend's sign). The IR's default,
 * Python's % (the divisor's sign), is fmod's r, plus b where r is nonzero
 * and its sign differs from b's: exactly what Python computes. */
static int ex_mod(Exporter *x, int node)
{
	const Node *n = &x->g->node[node];
	DType t = x->g->val[n->in[0]].dtype;
	if (ir_attr_int(n, "fmod", 0) || !ir_dtype_is_float(t))
		return ex_plain(x, node);
	const char *b = out_name(x, node), *a0 = ex_val(x, n->in[0]), *b0 = ex_val(x, n->in[1]);
	const char *r = ex_tmp(x, b, "fmod"), *zero = ex_const_scalar(x, b, "zero", t, 0);
	Onnx__NodeProto *p = ex_node(x, node, "Mod", (const char *const[]){a0, b0}, 2, &r, 1);
	ex_attr_int(x, p, "fmod", 1);
	const char *rz = ex_tmp(x, b, "r_is_0"), *rn = ex_tmp(x, b, "r_neg"),
		   *bn = ex_tmp(x, b, "b_neg"), *same = ex_tmp(x, b, "same_sign"),
		   *keep = ex_tmp(x, b, "keep"), *fix = ex_tmp(x, b, "r_plus_b");
	ex_node(x, node, "Equal", (const char *const[]){r, zero}, 2, &rz, 1);
	ex_node(x, node, "Less", (const char *const[]){r, zero}, 2, &rn, 1);
	ex_node(x, node, "Less", (const char *const[]){b0, zero}, 2, &bn, 1);
	ex_node(x, node, "Equal", (const char *const[]){rn, bn}, 2, &same, 1);
	ex_node(x, node, "Or", (const char *const[]){rz, same}, 2, &keep, 1);
	ex_node(x, node, "Add", (const char *const[]){r, b0}, 2, &fix, 1);
	ex_node(x, node, "Where", (const char *const[]){keep, r, fix}, 3, OUT1(x, node), 1);
	return 0;
}

/* ---- contractions and windows --------------------------------------------- */

/* The last two dims of input k swapped by a Transpose; NULL if rank < 2. */
static const char *swap_last(Exporter *x, int node, int k, const char *what)
{
	const Node *n = &x->g->node[node];
	int r = x->g->val[n->in[k]].shape.rank;
	if (r < 2)
		return NULL;
	int64_t perm[IR_MAX_RANK];
	for (int i = 0; i < r; i++)
		perm[i] = i;
	perm[r - 2] = r - 1;
	perm[r - 1] = r - 2;
	const char *t = ex_tmp(x, out_name(x, node), what);
	Onnx__NodeProto *p = ex_node(x, node, "Transpose", IN1(ex_val(x, n->in[k])), 1, &t, 1);
	ex_attr_ints(x, p, "perm", perm, r);
	return t;
}

static int ex_matmul(Exporter *x, int node)
{
	const Node *n = &x->g->node[node];
	const char *in[2];
	inputs(x, node, in);
	if (ir_attr_int(n, "trans_a", 0) && !(in[0] = swap_last(x, node, 0, "a_t")))
		return ex_unsupported(x, node, "trans_a on an input of rank below 2");
	if (ir_attr_int(n, "trans_b", 0) && !(in[1] = swap_last(x, node, 1, "b_t")))
		return ex_unsupported(x, node, "trans_b on an input of rank below 2");
	ex_node(x, node, "MatMul", in, 2, OUT1(x, node), 1);
	return 0;
}

/* ceil_mode's output extents as floor mode's: the end pads that give each
 * spatial dim the IR's extent O, (O-1)*s + d*(k-1) + 1 - S - begin pad
 * (0 where that is negative), into pads[]. The IR, as PyTorch and newer
 * ONNX releases, drops a last window that would start in the end padding,
 * which opset 17's shape inference does not; floor mode says the same
 * thing in every version.
 * Exact for maxpool and for avgpool without count_include_pad (padding
 * never counts there); with it, only while no end pad grows. False when
 * it does not apply (the node keeps ceil_mode). */
static bool ceil_as_floor(const Exporter *x, const Node *n, int64_t *pads)
{
	const Shape *in = &x->g->val[n->in[0]].shape, *out = &x->g->val[n->out[0]].shape;
	const int64_t *k, *st, *dl, *pd;
	int ns = in->rank - 2;
	if (ns < 1 || !ir_shape_static(in) || !ir_shape_static(out) || ir_attr_ints(n, "kernel", &k) != ns)
		return false;
	int nst = ir_attr_ints(n, "strides", &st), ndl = ir_attr_ints(n, "dilations", &dl),
	    npd = ir_attr_ints(n, "pads", &pd);
	bool cip = n->op == OP_AVGPOOL && ir_attr_int(n, "count_include_pad", 0);
	for (int i = 0; i < ns; i++) {
		int64_t s = nst == ns ? st[i] : 1, d = ndl == ns ? dl[i] : 1;
		int64_t pb = npd == 2 * ns ? pd[i] : 0, pe = npd == 2 * ns ? pd[ns + i] : 0;
		int64_t o = out->d[2 + i].n, span = in->d[2 + i].n + pb - d * (k[i] - 1) - 1;
		int64_t end = (o - 1) * s - span; /* negative: the windows end inside x */
		if (end < 0)
			end = 0;
		if (s < 1 || span + end < 0 || (span + end) / s + 1 != o || (cip && end > pe))
			return false;
		pads[i] = pb;
		pads[ns + i] = end;
	}
	return true;
}

/* MaxPool and AveragePool: kernel is kernel_shape; AveragePool has no
 * dilations before opset 19. */
static int ex_pool(Exporter *x, int node)
{
	const Node *n = &x->g->node[node];
	bool avg = n->op == OP_AVGPOOL;
	const int64_t *dil;
	int nd = ir_attr_ints(n, "dilations", &dil);
	for (int i = 0; avg && i < nd; i++)
		if (dil[i] != 1)
			return ex_unsupported(x, node, "AveragePool has dilations only from opset 19");
	Onnx__NodeProto *p = ex_node(x, node, avg ? "AveragePool" : "MaxPool",
				     IN1(ex_val(x, n->in[0])), 1, OUT1(x, node), 1);
	ex_copy_attr(x, p, n, "kernel", "kernel_shape");
	ex_copy_attr(x, p, n, "strides", "strides");
	if (!avg)
		ex_copy_attr(x, p, n, "dilations", "dilations");
	if (avg)
		ex_copy_attr(x, p, n, "count_include_pad", "count_include_pad");
	int64_t pads[2 * IR_MAX_RANK];
	if (ir_attr_int(n, "ceil_mode", 0) && ceil_as_floor(x, n, pads)) {
		ex_attr_ints(x, p, "pads", pads, 2 * (x->g->val[n->in[0]].shape.rank - 2));
	} else {
		ex_copy_attr(x, p, n, "pads", "pads");
		ex_copy_attr(x, p, n, "ceil_mode", "ceil_mode");
	}
	return 0;
}

/* ---- reductions ------------------------------------------------------------- */

/* ReduceSum takes its axes as an input from opset 13, the others as an
 * attribute until opset 18. No axes or an empty list: every axis. */
static int ex_reduce(Exporter *x, int node)
{
	const Node *n = &x->g->node[node];
	const int64_t *axes;
	int na = ir_attr_ints(n, "axes", &axes);
	const char *in[2] = {ex_val(x, n->in[0]), NULL};
	int nin = 1;
	bool input_axes = n->op == OP_REDUCE_SUM;
	if (input_axes && na > 0) {
		in[1] = ex_const_i64(x, out_name(x, node), "axes", axes, na, false);
		nin = 2;
	}
	Onnx__NodeProto *p = widened(x, node, ex_rules[n->op].op_type, in, nin);
	if (!input_axes && na > 0)
		ex_attr_ints(x, p, "axes", axes, na);
	ex_attr_int(x, p, "keepdims", ir_attr_int(n, "keepdims", 1));
	return 0;
}

/* CumSum's axis is a scalar input. */
static int ex_cumsum(Exporter *x, int node)
{
	const Node *n = &x->g->node[node];
	int64_t axis = ir_attr_int(n, "axis", 0);
	const char *in[2] = {ex_val(x, n->in[0]),
		ex_const_i64(x, out_name(x, node), "axis", &axis, 1, true)};
	Onnx__NodeProto *p = ex_node(x, node, "CumSum", in, 2, OUT1(x, node), 1);
	ex_copy_attr(x, p, n, "exclusive", "exclusive");
	ex_copy_attr(x, p, n, "reverse", "reverse");
	return 0;
}

/* TopK's k is a one-element input; the IR's result is always sorted. */
static int ex_topk(Exporter *x, int node)
{
	const Node *n = &x->g->node[node];
	int64_t k = ir_attr_int(n, "k", 1);
	const char *in[2] = {ex_val(x, n->in[0]), ex_const_i64(x, out_name(x, node), "k", &k, 1, false)};
	const char *out[2] = {ex_val(x, n->out[0]), ex_val(x, n->out[1])};
	Onnx__NodeProto *p = ex_node(x, node, "TopK", in, 2, out, 2);
	ex_copy_attr(x, p, n, "axis", "axis");
	ex_copy_attr(x, p, n, "largest", "largest");
	ex_attr_int(x, p, "sorted", 1);
	return 0;
}

/* ---- movement and indexing ---------------------------------------------------- */

/* One ONNX node of op_type over x's first input and i64 constants made from
 * the node's int-list attributes names[0..n-1] (absent ones omitted, as
 * trailing ONNX inputs may be). */
static int with_const_inputs(Exporter *x, int node, const char *op_type, const char *const *names,
			     int nnames)
{
	const Node *n = &x->g->node[node];
	const char *in[8] = {ex_val(x, n->in[0])};
	int nin = 1;
	for (int i = 0; i < nnames; i++) {
		const int64_t *v;
		int c = ir_attr_ints(n, names[i], &v);
		in[1 + i] = c < 0 ? "" : ex_const_i64(x, out_name(x, node), names[i], v, c, false);
		if (c >= 0)
			nin = 2 + i;
	}
	ex_node(x, node, op_type, in, nin, OUT1(x, node), 1);
	return 0;
}

static int ex_reshape(Exporter *x, int node)
{
	return with_const_inputs(x, node, "Reshape", (const char *const[]){"shape"}, 1);
}

static int ex_expand(Exporter *x, int node)
{
	return with_const_inputs(x, node, "Expand", (const char *const[]){"shape"}, 1);
}

static int ex_slice(Exporter *x, int node)
{
	return with_const_inputs(x, node, "Slice",
		(const char *const[]){"starts", "ends", "axes", "steps"}, 4);
}

static int ex_squeeze(Exporter *x, int node)
{
	const Node *n = &x->g->node[node];
	if (n->op == OP_UNSQUEEZE)
		return with_const_inputs(x, node, "Unsqueeze", (const char *const[]){"axes"}, 1);
	return with_const_inputs(x, node, "Squeeze", (const char *const[]){"axes"}, 1);
}

/* Pad: pads and the constant value are inputs (value in x's dtype). */
static int ex_pad(Exporter *x, int node)
{
	const Node *n = &x->g->node[node];
	const int64_t *pads;
	int np = ir_attr_ints(n, "pads", &pads);
	const char *b = out_name(x, node);
	double value = ir_attr_float(n, "value", 0);
	const char *in[3] = {ex_val(x, n->in[0]), ex_const_i64(x, b, "pads", pads, np, false),
		ex_const_scalar(x, b, "value", x->g->val[n->in[0]].dtype, value)};
	Onnx__NodeProto *p = ex_node(x, node, "Pad", in, 3, OUT1(x, node), 1);
	ex_attr_string(x, p, "mode", "constant");
	return 0;
}

/* Trilu: k is an optional scalar input. */
static int ex_trilu(Exporter *x, int node)
{
	const Node *n = &x->g->node[node];
	int64_t k = ir_attr_int(n, "k", 0);
	const char *in[2] = {ex_val(x, n->in[0]), ex_const_i64(x, out_name(x, node), "k", &k, 1, true)};
	Onnx__NodeProto *p = ex_node(x, node, "Trilu", in, 2, OUT1(x, node), 1);
	ex_copy_attr(x, p, n, "upper", "upper");
	return 0;
}

/* Cast: `to` is the dtype's TensorProto code. A float cast to an integer
 * saturates in the IR (NaN gives 0), where ONNX leaves a value out of the
 * target's range undefined (ONNX Runtime wraps): the export casts only
 * values in range, x replaced by 0 where it is NaN or out of range, then
 * selects the target's minimum below -2^(b-1) (0 for unsigned: below 0)
 * and its maximum from 2^(b-1) (2^b) up. Powers of two are exact in every
 * float type (or infinite, which only an infinity reaches), and what
 * truncates into range is in range, so this is the IR's cast exactly. */
static int ex_cast(Exporter *x, int node)
{
	const Node *n = &x->g->node[node];
	const Attr *a = ir_attr(n, "to");
	DType t = a ? ir_dtype_parse(a->s, strlen(a->s)) : DT_UNDEF;
	if (!ex_onnx_dtype(t))
		return ex_unsupported(x, node, "cast to %s: no such ONNX type in opset %d",
			a ? a->s : "?", EX_OPSET);
	DType from = x->g->val[n->in[0]].dtype;
	const char *v = ex_val(x, n->in[0]), *b = out_name(x, node);
	if (!ir_dtype_is_float(from) || !ir_dtype_is_int(t)) {
		cast_into(x, node, v, t, b);
		return 0;
	}
	int bits = 8 * (int)ir_dtype_size(t);
	bool u = ir_dtype_is_unsigned(t);
	double lo = u ? 0 : -ldexp(1, bits - 1), hi = ldexp(1, u ? bits : bits - 1);
	const char *clo = ex_const_scalar(x, b, "lo", from, lo), *chi = ex_const_scalar(x, b, "hi", from, hi);
	const char *nan = ex_tmp(x, b, "nan"), *below = ex_tmp(x, b, "below"),
		   *above = ex_tmp(x, b, "above"), *out1 = ex_tmp(x, b, "out_of_range"),
		   *bad = ex_tmp(x, b, "bad"), *safe = ex_tmp(x, b, "in_range"),
		   *mid = ex_tmp(x, b, "low_saturated");
	ex_node(x, node, "IsNaN", IN1(v), 1, &nan, 1);
	ex_node(x, node, "Less", (const char *const[]){v, clo}, 2, &below, 1);
	ex_node(x, node, "GreaterOrEqual", (const char *const[]){v, chi}, 2, &above, 1);
	ex_node(x, node, "Or", (const char *const[]){below, above}, 2, &out1, 1);
	ex_node(x, node, "Or", (const char *const[]){nan, out1}, 2, &bad, 1);
	ex_node(x, node, "Where", (const char *const[]){bad, ex_const_scalar(x, b, "zero", from, 0), v},
		3, &safe, 1);
	const char *c = cast_to(x, node, safe, t, "cast");
	/* the target's extremes: ir_elem_put saturates to them */
	const char *tmin = ex_const_scalar(x, b, "min", t, lo), *tmax = ex_const_scalar(x, b, "max", t, hi);
	where_into(x, node, below, tmin, c, t, mid);
	where_into(x, node, above, tmax, mid, t, b);
	return 0;
}

/* ScatterElements and ScatterND reduce by max and min only from opset 18. */
static int ex_scatter(Exporter *x, int node)
{
	const Node *n = &x->g->node[node];
	const Attr *a = ir_attr(n, "reduction");
	if (a && strcmp(a->s, "none") != 0 && strcmp(a->s, "add") != 0 && strcmp(a->s, "mul") != 0)
		return ex_unsupported(x, node, "reduction '%s' needs opset 18", a->s);
	return ex_plain(x, node);
}

/* ---- the table ------------------------------------------------------------------ */

#define PLAIN(ID, T) [OP_##ID] = {T, ex_plain}
#define RULE(ID, T, F) [OP_##ID] = {T, F}

/* Ops left out (a NULL fn) have no ONNX form in opset 17: bitwise_*
 * (opset 18), bitcast (opset 26), cumprod (opset 26), and the training
 * ops (assign, buffer_update, gradient, random_uniform, dropout's mask). */
const ExRule ex_rules[OP_COUNT] = {
	PLAIN(ADD, "Add"), PLAIN(SUB, "Sub"), PLAIN(MUL, "Mul"), PLAIN(DIV, "Div"),
	PLAIN(POW, "Pow"), PLAIN(NEG, "Neg"), PLAIN(ABS, "Abs"), PLAIN(EXP, "Exp"),
	PLAIN(LOG, "Log"), PLAIN(SQRT, "Sqrt"), PLAIN(RELU, "Relu"), PLAIN(SIGMOID, "Sigmoid"),
	PLAIN(TANH, "Tanh"), PLAIN(LEAKYRELU, "LeakyRelu"), RULE(CLIP, "Clip", ex_clip),

	RULE(MATMUL, "MatMul", ex_matmul), PLAIN(CONV, "Conv"),

	RULE(MAXPOOL, "MaxPool", ex_pool), RULE(AVGPOOL, "AveragePool", ex_pool),
	RULE(REDUCE_SUM, "ReduceSum", ex_reduce), RULE(REDUCE_MEAN, "ReduceMean", ex_reduce),
	RULE(REDUCE_MAX, "ReduceMax", ex_reduce), PLAIN(SOFTMAX, "Softmax"),
	PLAIN(LOGSOFTMAX, "LogSoftmax"), PLAIN(BATCHNORM, "BatchNormalization"),

	RULE(PAD, "Pad", ex_pad), PLAIN(TRANSPOSE, "Transpose"), PLAIN(CONCAT, "Concat"),
	RULE(RESHAPE, "Reshape", ex_reshape), PLAIN(FLATTEN, "Flatten"),
	PLAIN(IDENTITY, "Identity"),

	PLAIN(SHAPE, "Shape"), PLAIN(GATHER, "Gather"), RULE(UNSQUEEZE, "Unsqueeze", ex_squeeze),
	RULE(SQUEEZE, "Squeeze", ex_squeeze), RULE(CAST, "Cast", ex_cast),
	PLAIN(RESHAPE_DYN, "Reshape"),

	/* ew */
	PLAIN(EQUAL, "Equal"), PLAIN(LESS, "Less"), PLAIN(LESS_EQUAL, "LessOrEqual"),
	PLAIN(GREATER, "Greater"), PLAIN(GREATER_EQUAL, "GreaterOrEqual"), PLAIN(NOT, "Not"),
	PLAIN(AND, "And"), PLAIN(OR, "Or"), PLAIN(XOR, "Xor"), PLAIN(WHERE, "Where"),
	PLAIN(SIN, "Sin"), PLAIN(COS, "Cos"), PLAIN(TAN, "Tan"), PLAIN(ASIN, "Asin"),
	PLAIN(ACOS, "Acos"), PLAIN(ATAN, "Atan"), PLAIN(SINH, "Sinh"), PLAIN(COSH, "Cosh"),
	PLAIN(ASINH, "Asinh"), PLAIN(ACOSH, "Acosh"), PLAIN(ATANH, "Atanh"), PLAIN(ERF, "Erf"),
	PLAIN(FLOOR, "Floor"), PLAIN(CEIL, "Ceil"), PLAIN(ROUND, "Round"), PLAIN(SIGN, "Sign"),
	PLAIN(RECIPROCAL, "Reciprocal"), PLAIN(ISNAN, "IsNaN"), PLAIN(ISINF, "IsInf"),
	RULE(BIT_SHIFT, "BitShift", ex_bit_shift), RULE(MOD, "Mod", ex_mod), PLAIN(MAX, "Max"),
	PLAIN(MIN, "Min"),

	/* red */
	RULE(REDUCE_MIN, "ReduceMin", ex_reduce), RULE(REDUCE_PROD, "ReduceProd", ex_reduce),
	PLAIN(ARGMAX, "ArgMax"), PLAIN(ARGMIN, "ArgMin"), RULE(CUMSUM, "CumSum", ex_cumsum),
	RULE(TOPK, "TopK", ex_topk),

	/* idx */
	RULE(SLICE, "Slice", ex_slice), RULE(EXPAND, "Expand", ex_expand),
	RULE(TRILU, "Trilu", ex_trilu), PLAIN(GATHER_ELEMENTS, "GatherElements"),
	PLAIN(GATHER_ND, "GatherND"), RULE(SCATTER_ELEMENTS, "ScatterElements", ex_scatter),
	RULE(SCATTER_ND, "ScatterND", ex_scatter),

	/* conv */
	PLAIN(CONV_TRANSPOSE, "ConvTranspose"),
};
