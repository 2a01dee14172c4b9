/* onnx_ops.c — the ONNX import table: one row per supported op_type with
 * its input counts, its attribute schema and a handler that builds IR nodes
 * (ir/ops.def). onnx.c has already resolved the node's inputs (m->in, -1 =
 * omitted), checked attribute kinds against the schema and inferred the
 * shapes of everything before the node; a handler checks what the table
 * cannot — ranks, inputs that must be constants, attribute values nncc
 * does not support — and fails with a message naming the node. Opset
 * differences (Softmax before 13, Clip/Pad before 11, ...) live here. */
#include "onnx_impl.h"

#include <string.h>

static bool has_in(const Importer *m, int k) { return k < m->nin && m->in[k] >= 0; }
static Shape in_shape(const Importer *m, int k) { return m->g->val[m->in[k]].shape; }
static DType in_dtype(const Importer *m, int k) { return m->g->val[m->in[k]].dtype; }
static bool dim_known(Dim d) { return d.sym == 0 && d.n >= 0; }

/* Infers the node just built; 0 or -1. */
static int done(Importer *m, int node) { return imp_infer(m, node) < 0 ? -1 : 0; }

/* A rank-0 literal of type t (float32 or float64) for multipliers. */
static int scalar_const(Importer *m, const char *what, double x, DType t)
{
	if (t == DT_F32 || t == DT_F64)
		return imp_scalar(m, what, t, x);
	return imp_err(m, "%s != 1 is supported only for float32 and float64, not %s", what,
		ir_dtype_name(t));
}

/* ---- elementwise --------------------------------------------------------------- */

/* Ops that map one to one, over all given inputs. */
static int op_simple(Importer *m, Op op)
{
	return done(m, imp_node(m, op, m->in, m->nin, 0));
}

static int op_binary(Importer *m, Op op)
{
	/* Before opset 7, broadcast=1 with an axis aligned B at that axis;
	 * numpy's rule agrees only when B is aligned to the end. */
	if (m->opset < 7 && imp_int(m, "broadcast", 0) && imp_attr(m, "axis")) {
		Shape a = in_shape(m, 0), b = in_shape(m, 1);
		int64_t axis = imp_int(m, "axis", 0);
		if (a.rank >= 0 && axis < 0)
			axis += a.rank;
		if (a.rank < 0 || b.rank < 0 || axis != a.rank - b.rank)
			return imp_err(m, "legacy broadcast with axis=%lld is unsupported",
				(long long)imp_int(m, "axis", 0));
	}
	return done(m, imp_node(m, op, m->in, 2, 0));
}

/* Pow: float bases only; an exponent of another type is cast to the
 * base's type (ONNX allows T1 != T since opset 12). */
static int op_pow(Importer *m, Op op)
{
	DType t = in_dtype(m, 0), e = in_dtype(m, 1);
	if (!ir_dtype_is_float(t))
		return ew_pow_int(m, op); /* onnx_ew.c */
	int in[2] = { m->in[0], m->in[1] };
	if (e != t) {
		int c = imp_node(m, OP_CAST, &in[1], 1, -1);
		ir_set_string(m->g, c, "to", ir_dtype_name(t));
		if ((in[1] = imp_infer(m, c)) < 0)
			return -1;
	}
	return done(m, imp_node(m, op, in, 2, 0));
}

static int op_leakyrelu(Importer *m, Op op)
{
	int nd = imp_node(m, OP_LEAKYRELU, m->in, 1, 0);
	ir_set_float(m->g, nd, "alpha", imp_float(m, "alpha", 0.01));
	return done(m, nd);
}

static int op_clip(Importer *m, Op op)
{
	if (m->opset >= 11 && ew_clip_runtime(m))
		return ew_clip(m, op); /* onnx_ew.c: bounds as run-time data */
	bool has_lo = false, has_hi = false;
	double lo = 0, hi = 0;
	if (m->opset < 11) {
		if (m->nin > 1)
			return imp_err(m, "min and max are attributes before opset 11, not inputs");
		has_lo = imp_attr(m, "min") != NULL;
		has_hi = imp_attr(m, "max") != NULL;
		lo = imp_float(m, "min", 0);
		hi = imp_float(m, "max", 0);
	} else {
		if (imp_attr(m, "min") || imp_attr(m, "max"))
			return imp_err(m, "min and max are inputs since opset 11, not attributes");
		if (has_in(m, 1) && (has_lo = true, imp_const_scalar(m, 1, "min", &lo) < 0))
			return -1;
		if (has_in(m, 2) && (has_hi = true, imp_const_scalar(m, 2, "max", &hi) < 0))
			return -1;
	}
	int nd = imp_node(m, OP_CLIP, m->in, 1, 0);
	if (has_lo)
		ir_set_float(m->g, nd, "min", lo);
	if (has_hi)
		ir_set_float(m->g, nd, "max", hi);
	return done(m, nd);
}

/* Softmax and LogSoftmax. Since opset 13 they work along one axis (default
 * -1). Before, they flatten the input to 2-D at axis (default 1) and work
 * along the second dim: flatten, softmax on the last axis, reshape back. */
static int op_softmax(Importer *m, Op op)
{
	Shape x = in_shape(m, 0);
	if (m->opset >= 13) {
		int nd = imp_node(m, op, m->in, 1, 0);
		ir_set_int(m->g, nd, "axis", imp_int(m, "axis", -1));
		return done(m, nd);
	}
	int64_t axis = imp_int(m, "axis", 1);
	if (x.rank < 0)
		return imp_err(m, "needs an input of known rank (before opset 13 it flattens at axis)");
	int64_t a = axis < 0 ? axis + x.rank : axis;
	if (a < 0 || a >= x.rank)
		return imp_err(m, "axis %lld is out of range for rank %d", (long long)axis, x.rank);
	if (a == x.rank - 1) {
		int nd = imp_node(m, op, m->in, 1, 0);
		ir_set_int(m->g, nd, "axis", -1);
		return done(m, nd);
	}
	int64_t back[IR_MAX_RANK];
	int nunknown = 0;
	for (int i = 0; i < x.rank; i++) {
		back[i] = dim_known(x.d[i]) ? x.d[i].n : -1; /* reshape infers one -1 */
		nunknown += !dim_known(x.d[i]);
	}
	if (nunknown > 1)
		return imp_err(m, "axis %lld (not the last) needs an input with at most one unknown dim",
			(long long)axis);
	int nd = imp_node(m, OP_FLATTEN, m->in, 1, -1);
	ir_set_int(m->g, nd, "axis", a);
	int v = imp_infer(m, nd);
	if (v < 0)
		return -1;
	nd = imp_node(m, op, &v, 1, -1);
	ir_set_int(m->g, nd, "axis", -1);
	if ((v = imp_infer(m, nd)) < 0)
		return -1;
	nd = imp_node(m, OP_RESHAPE, &v, 1, 0);
	ir_set_ints(m->g, nd, "shape", back, x.rank);
	return done(m, nd);
}

/* ---- contractions -------------------------------------------------------------- */

/* Gemm: Y = alpha * op(A) op(B) + beta * C, as matmul, mul, mul, add. */
static int op_gemm(Importer *m, Op op)
{
	Shape a = in_shape(m, 0), b = in_shape(m, 1);
	if ((a.rank >= 0 && a.rank != 2) || (b.rank >= 0 && b.rank != 2))
		return imp_err(m, "A and B must be 2-D (ranks %d and %d)", a.rank, b.rank);
	double alpha = imp_float(m, "alpha", 1), beta = imp_float(m, "beta", 1);
	bool hasc = has_in(m, 2);
	DType t = in_dtype(m, 0);
	int nd = imp_node(m, OP_MATMUL, m->in, 2, alpha == 1 && !hasc ? 0 : -1);
	if (imp_int(m, "transA", 0))
		ir_set_int(m->g, nd, "trans_a", 1);
	if (imp_int(m, "transB", 0))
		ir_set_int(m->g, nd, "trans_b", 1);
	int y = imp_infer(m, nd);
	if (y < 0)
		return -1;
	if (alpha != 1) {
		int k = scalar_const(m, "alpha", alpha, t);
		if (k < 0)
			return -1;
		int in[2] = {y, k};
		if ((y = imp_infer(m, imp_node(m, OP_MUL, in, 2, hasc ? -1 : 0))) < 0)
			return -1;
	}
	if (!hasc)
		return 0;
	int c = m->in[2];
	if (beta != 1) {
		int k = scalar_const(m, "beta", beta, t);
		if (k < 0)
			return -1;
		int in[2] = {c, k};
		if ((c = imp_infer(m, imp_node(m, OP_MUL, in, 2, -1))) < 0)
			return -1;
	}
	int in[2] = {y, c};
	return done(m, imp_node(m, OP_ADD, in, 2, 0));
}

/* ---- windows and reductions (Conv and the pools: onnx_conv.c) ----------------------- */

/* GlobalAveragePool / GlobalMaxPool: reduce over every spatial axis. */
static int op_global_pool(Importer *m, Op op)
{
	Shape x = in_shape(m, 0);
	if (x.rank < 3)
		return imp_err(m, "needs an input of known rank >= 3 (rank %d)", x.rank);
	int64_t axes[IR_MAX_RANK];
	for (int i = 2; i < x.rank; i++)
		axes[i - 2] = i;
	int nd = imp_node(m, op, m->in, 1, 0);
	ir_set_ints(m->g, nd, "axes", axes, x.rank - 2);
	ir_set_int(m->g, nd, "keepdims", 1);
	return done(m, nd);
}

/* ReduceSum (axes an input since opset 13), ReduceMean/ReduceMax (since 18). */
static int op_reduce(Importer *m, Op op)
{
	int since = op == OP_REDUCE_SUM ? 13 : 18;
	int64_t axes[IR_MAX_RANK];
	int na = 0;
	if (m->opset >= since) {
		if (imp_attr(m, "axes"))
			return imp_err(m, "axes is an input since opset %d, not an attribute", since);
		if (has_in(m, 1) && (na = imp_const_ints(m, 1, "axes", axes, IR_MAX_RANK)) < 0)
			return -1;
	} else {
		if (m->nin > 1)
			return imp_err(m, "axes is an attribute before opset %d, not an input", since);
		const int64_t *v;
		int n = imp_ints(m, "axes", &v);
		if (n > IR_MAX_RANK)
			return imp_err(m, "axes has %d values; at most %d are supported", n, IR_MAX_RANK);
		for (int i = 0; i < n; i++)
			axes[na++] = v[i];
	}
	if (na == 0 && imp_int(m, "noop_with_empty_axes", 0))
		return done(m, imp_node(m, OP_IDENTITY, m->in, 1, 0));
	int nd = imp_node(m, op, m->in, 1, 0);
	if (na > 0) /* no axes: reduce over all */
		ir_set_ints(m->g, nd, "axes", axes, na);
	ir_set_int(m->g, nd, "keepdims", imp_int(m, "keepdims", 1) != 0);
	return done(m, nd);
}

/* ---- data movement ------------------------------------------------------------------ */

static int op_pad(Importer *m, Op op)
{
	const char *mode = imp_str(m, "mode", "constant");
	Shape x = in_shape(m, 0);
	int64_t pads[2 * IR_MAX_RANK];
	int np;
	double value = 0;
	if (m->opset < 11) {
		if (m->nin > 1)
			return imp_err(m, "pads and value are attributes before opset 11, not inputs");
		const int64_t *v;
		if ((np = imp_ints(m, "pads", &v)) < 0)
			np = imp_ints(m, "paddings", &v); /* opset 1 */
		if (np < 0)
			return imp_err(m, "missing attribute pads");
		if (np > 2 * IR_MAX_RANK)
			return imp_err(m, "pads has %d values; at most %d are supported", np, 2 * IR_MAX_RANK);
		memcpy(pads, v, (size_t)np * sizeof *pads);
		value = imp_float(m, "value", 0);
	} else {
		if (imp_attr(m, "pads") || imp_attr(m, "paddings") || imp_attr(m, "value"))
			return imp_err(m, "pads and value are inputs since opset 11, not attributes");
		if (!has_in(m, 1))
			return imp_err(m, "missing input pads");
		if ((np = imp_const_ints(m, 1, "pads", pads, 2 * IR_MAX_RANK)) < 0)
			return -1;
		if (has_in(m, 2) && imp_const_scalar(m, 2, "constant_value", &value) < 0)
			return -1;
		if (has_in(m, 3)) { /* opset 18: pads for these axes only */
			int64_t ax[IR_MAX_RANK], full[2 * IR_MAX_RANK] = {0};
			bool seen[IR_MAX_RANK] = {0};
			int na = imp_const_ints(m, 3, "axes", ax, IR_MAX_RANK);
			if (na < 0)
				return -1;
			if (x.rank < 0)
				return imp_err(m, "axes needs an input of known rank");
			if (np != 2 * na)
				return imp_err(m, "pads has %d values; %d axes need %d", np, na, 2 * na);
			for (int i = 0; i < na; i++) {
				int64_t a = ax[i] < 0 ? ax[i] + x.rank : ax[i];
				if (a < 0 || a >= x.rank || seen[a])
					return imp_err(m, "axis %lld is out of range or repeated", (long long)ax[i]);
				seen[a] = true;
				full[a] = pads[i];
				full[a + x.rank] = pads[i + na];
			}
			np = 2 * x.rank;
			memcpy(pads, full, (size_t)np * sizeof *pads);
		}
	}
	if (x.rank >= 0 && np != 2 * x.rank)
		return imp_err(m, "pads has %d values; an input of rank %d needs %d", np, x.rank,
			2 * x.rank);
	bool crop = false;
	for (int i = 0; i < np; i++)
		crop = crop || pads[i] < 0;
	if (crop || strcmp(mode, "constant") != 0) /* onnx_idx.c: slices and concats */
		return idx_pad(m, pads, np, value, mode);
	int nd = imp_node(m, OP_PAD, m->in, 1, 0);
	ir_set_ints(m->g, nd, "pads", pads, np);
	ir_set_float(m->g, nd, "value", value);
	return done(m, nd);
}

static int op_flatten(Importer *m, Op op)
{
	int nd = imp_node(m, OP_FLATTEN, m->in, 1, 0);
	ir_set_int(m->g, nd, "axis", imp_int(m, "axis", 1));
	return done(m, nd);
}

/* Reshape keeps ONNX's meaning of 0 (copy the dim) and -1 (infer). */
static int op_reshape(Importer *m, Op op)
{
	int64_t shape[IR_MAX_RANK];
	int n;
	if (m->opset < 5) {
		const int64_t *v;
		if (m->nin > 1)
			return imp_err(m, "shape is an attribute before opset 5, not an input");
		if ((n = imp_ints(m, "shape", &v)) < 0)
			return imp_err(m, "missing attribute shape");
		if (n > IR_MAX_RANK)
			return imp_err(m, "shape has %d values; at most %d are supported", n, IR_MAX_RANK);
		memcpy(shape, v, (size_t)n * sizeof *shape);
	} else {
		if (imp_attr(m, "shape"))
			return imp_err(m, "shape is an input since opset 5, not an attribute");
		if (!has_in(m, 1))
			return imp_err(m, "missing input shape");
		const Value *sv = &m->g->val[m->in[1]];
		if (sv->kind != VK_CONST || !sv->data) { /* computed: x.view(x.size(0), -1) */
			if (imp_int(m, "allowzero", 0))
				return imp_err(m, "allowzero=1 with a computed shape is unsupported");
			return done(m, imp_node(m, OP_RESHAPE_DYN, m->in, 2, 0));
		}
		if ((n = imp_const_ints(m, 1, "shape", shape, IR_MAX_RANK)) < 0)
			return -1;
	}
	if (imp_int(m, "allowzero", 0))
		for (int i = 0; i < n; i++)
			if (shape[i] == 0)
				return imp_err(m, "allowzero=1 with a 0 in the shape is unsupported");
	int nd = imp_node(m, OP_RESHAPE, m->in, 1, 0);
	ir_set_ints(m->g, nd, "shape", shape, n);
	return done(m, nd);
}

static int op_transpose(Importer *m, Op op)
{
	const int64_t *perm;
	int n = imp_ints(m, "perm", &perm);
	if (n > IR_MAX_RANK)
		return imp_err(m, "perm has %d values; at most %d are supported", n, IR_MAX_RANK);
	int nd = imp_node(m, OP_TRANSPOSE, m->in, 1, 0);
	if (n >= 0) /* absent: reverse the dims */
		ir_set_ints(m->g, nd, "perm", perm, n);
	return done(m, nd);
}

static int op_concat(Importer *m, Op op)
{
	for (int k = 0; k < m->nin; k++)
		if (m->in[k] < 0)
			return imp_err(m, "input %d is empty", k);
	if (m->opset >= 4 && !imp_attr(m, "axis"))
		return imp_err(m, "missing attribute axis");
	int nd = imp_node(m, OP_CONCAT, m->in, m->nin, 0);
	ir_set_int(m->g, nd, "axis", imp_int(m, "axis", 1));
	return done(m, nd);
}

/* Whether a BatchNormalization trains (normalizes with its batch's own
 * statistics): from opset 14 on, training_mode says so; before, the
 * outputs do (the spec's "output case #1": Y, mean, var, saved_mean,
 * saved_var in training mode, Y alone in test mode), and before opset 7
 * is_test = 1 also means test mode. PyTorch exports a module in train mode
 * at opset 13 as the five outputs, nothing reading the last four. */
static bool bn_trains(const Importer *m)
{
	if (imp_int(m, "training_mode", 0))
		return true;
	if (m->opset >= 14 || (m->opset < 7 && imp_int(m, "is_test", 0)))
		return false;
	for (int k = 1; k < m->nout; k++)
		if (m->np->output[k] && *m->np->output[k])
			return true;
	return false;
}

/* BatchNormalization in inference mode: x, scale, B, mean, var. */
static int op_batchnorm(Importer *m, Op op)
{
	if (bn_trains(m))
		return imp_batchnorm_train(m, op); /* onnx_red.c */
	if (imp_int(m, "spatial", 1) == 0)
		return imp_err(m, "spatial=0 is unsupported");
	for (int k = 1; k < 5; k++)
		if (imp_used(m, k))
			return imp_err(m, "output %d (a training statistic) is unsupported", k);
	int nd = imp_node(m, OP_BATCHNORM, m->in, 5, 0);
	ir_set_float(m->g, nd, "epsilon", imp_float(m, "epsilon", 1e-5));
	return done(m, nd);
}

/* Dropout at inference is the identity; training_mode = true gives the
 * IR dropout (onnx_rng.c), active in --train only. */
static int op_dropout(Importer *m, Op op)
{
	if (has_in(m, 2)) { /* opset 12: training_mode input */
		double t;
		if (imp_const_scalar(m, 2, "training_mode", &t) < 0)
			return -1;
		if (t != 0)
			return imp_dropout_train(m);
	}
	if (imp_used(m, 1))
		return imp_err(m, "the mask output is unsupported");
	return done(m, imp_node(m, OP_IDENTITY, m->in, 1, 0));
}

/* Constant: one value attribute; the output becomes a literal constant.
 * The scalar and list forms are decoded through a TensorProto built here. */
static int op_constant(Importer *m, Op op)
{
	if (m->np->n_attribute != 1)
		return imp_err(m, "needs exactly one value attribute, got %zu", m->np->n_attribute);
	const Onnx__AttributeProto *a = m->np->attribute[0];
	Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
	const Onnx__TensorProto *src = &t;
	float f = a->f;
	int64_t i = a->i, dim;
	t.has_data_type = 1;
	t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
	if (strcmp(a->name, "value") == 0) {
		if (!a->t)
			return imp_err(m, "attribute value holds no tensor");
		src = a->t;
	} else if (strcmp(a->name, "value_float") == 0) {
		t.n_float_data = 1;
		t.float_data = &f;
	} else if (strcmp(a->name, "value_floats") == 0) {
		t.n_float_data = a->n_floats;
		t.float_data = a->floats;
		dim = (int64_t)a->n_floats;
		t.n_dims = 1;
		t.dims = &dim;
	} else if (strcmp(a->name, "value_int") == 0) {
		t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
		t.n_int64_data = 1;
		t.int64_data = &i;
	} else if (strcmp(a->name, "value_ints") == 0) {
		t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
		t.n_int64_data = a->n_ints;
		t.int64_data = a->ints;
		dim = (int64_t)a->n_ints;
		t.n_dims = 1;
		t.dims = &dim;
	} else {
		return imp_err(m, "attribute %s is unsupported (numeric tensors only)", a->name);
	}
	int v = imp_tensor(m, src, imp_outname(m, 0, "value"), false);
	if (v < 0)
		return -1;
	imp_bind(m, 0, v);
	return 0;
}

/* ---- shape computations (folded away once shapes are known) ------------------------ */

/* Shape: start/end since opset 15. */
static int op_shape(Importer *m, Op op)
{
	int nd = imp_node(m, OP_SHAPE, m->in, 1, 0);
	if (imp_attr(m, "start"))
		ir_set_int(m->g, nd, "start", imp_int(m, "start", 0));
	if (imp_attr(m, "end"))
		ir_set_int(m->g, nd, "end", imp_int(m, "end", 0));
	return done(m, nd);
}

static int op_gather(Importer *m, Op op)
{
	int nd = imp_node(m, OP_GATHER, m->in, 2, 0);
	ir_set_int(m->g, nd, "axis", imp_int(m, "axis", 0));
	return done(m, nd);
}

/* Squeeze and Unsqueeze: axes an attribute before opset 13, an input since. */
static int op_squeeze(Importer *m, Op op)
{
	int64_t axes[IR_MAX_RANK];
	int na = -1;
	if (m->opset >= 13) {
		if (imp_attr(m, "axes"))
			return imp_err(m, "axes is an input since opset 13, not an attribute");
		if (has_in(m, 1) && (na = imp_const_ints(m, 1, "axes", axes, IR_MAX_RANK)) < 0)
			return -1;
	} else {
		const int64_t *v;
		if (m->nin > 1)
			return imp_err(m, "axes is an attribute before opset 13, not an input");
		if ((na = imp_ints(m, "axes", &v)) > IR_MAX_RANK)
			return imp_err(m, "axes has %d values; at most %d are supported", na, IR_MAX_RANK);
		if (na > 0)
			memcpy(axes, v, (size_t)na * sizeof *axes);
	}
	if (op == OP_UNSQUEEZE && na < 0)
		return imp_err(m, "missing axes");
	int nd = imp_node(m, op, m->in, 1, 0);
	if (na > 0 || op == OP_UNSQUEEZE) /* Squeeze without axes: every dim of extent 1 */
		ir_set_ints(m->g, nd, "axes", axes, na);
	return done(m, nd);
}

/* Cast: `to` is an ONNX TensorProto type code, which IR dtypes share. */
static int op_cast(Importer *m, Op op)
{
	if (m->opset < 6)
		return imp_err(m, "Cast before opset 6 (to as a string) is unsupported");
	int64_t to = imp_int(m, "to", 0);
	if (to <= 0 || to > 64 || ir_dtype_size((DType)to) == 0)
		return imp_err(m, "cast to ONNX type %lld is unsupported", (long long)to);
	int nd = imp_node(m, OP_CAST, m->in, 1, 0);
	ir_set_string(m->g, nd, "to", ir_dtype_name((DType)to));
	if (dt_cast_saturate(m, nd))
		return -1;
	return done(m, nd);
}

/* ---- the table ------------------------------------------------------------------------ */

#define UNARY "consumed_inputs:ints"
#define BINARY "broadcast:int axis:int consumed_inputs:ints"
#define WINDOW "auto_pad:string kernel_shape:ints pads:ints strides:ints dilations:ints"
#define REDUCE "axes:ints keepdims:int noop_with_empty_axes:int"
#define RNN "activation_alpha:floats activation_beta:floats activations:strings clip:float " \
	"direction:string hidden_size:int layout:int"

static const OnnxOp table[] = {
	{"Abs", op_simple, OP_ABS, 1, 1, UNARY},
	{"Add", op_binary, OP_ADD, 2, 2, BINARY},
	{"BatchNormalization", op_batchnorm, OP_BATCHNORM, 5, 5,
		"epsilon:float momentum:float spatial:int is_test:int training_mode:int " UNARY},
	{"Cast", op_cast, OP_CAST, 1, 1, "to:int saturate:int round_mode:string"},
	{"Clip", op_clip, OP_CLIP, 1, 3, "min:float max:float " UNARY},
	{"Concat", op_concat, OP_CONCAT, 1, -1, "axis:int"},
	{"Constant", op_constant, OP_COUNT, 0, 0,
		"value:tensor value_float:float value_floats:floats value_int:int value_ints:ints "
		"sparse_value:sparse value_string:string value_strings:strings"},
	{"Div", op_binary, OP_DIV, 2, 2, BINARY},
	{"Dropout", op_dropout, OP_IDENTITY, 1, 3, "ratio:float seed:int is_test:int " UNARY},
	{"Exp", op_simple, OP_EXP, 1, 1, UNARY},
	{"Flatten", op_flatten, OP_FLATTEN, 1, 1, "axis:int"},
	{"Gather", op_gather, OP_GATHER, 2, 2, "axis:int"},
	{"Gemm", op_gemm, OP_MATMUL, 2, 3, "alpha:float beta:float transA:int transB:int broadcast:int"},
	{"GlobalAveragePool", op_global_pool, OP_REDUCE_MEAN, 1, 1, ""},
	{"GlobalMaxPool", op_global_pool, OP_REDUCE_MAX, 1, 1, ""},
	{"Identity", op_simple, OP_IDENTITY, 1, 1, ""},
	{"LeakyRelu", op_leakyrelu, OP_LEAKYRELU, 1, 1, "alpha:float " UNARY},
	{"Log", op_simple, OP_LOG, 1, 1, UNARY},
	{"LogSoftmax", op_softmax, OP_LOGSOFTMAX, 1, 1, "axis:int"},
	{"MatMul", op_simple, OP_MATMUL, 2, 2, ""},
	{"Mul", op_binary, OP_MUL, 2, 2, BINARY},
	{"Neg", op_simple, OP_NEG, 1, 1, UNARY},
	{"Pad", op_pad, OP_PAD, 1, 4, "mode:string pads:ints paddings:ints value:float"},
	{"Pow", op_pow, OP_POW, 2, 2, ""},
	{"ReduceMax", op_reduce, OP_REDUCE_MAX, 1, 2, REDUCE},
	{"ReduceMean", op_reduce, OP_REDUCE_MEAN, 1, 2, REDUCE},
	{"ReduceSum", op_reduce, OP_REDUCE_SUM, 1, 2, REDUCE},
	{"Relu", op_simple, OP_RELU, 1, 1, UNARY},
	{"Reshape", op_reshape, OP_RESHAPE, 1, 2, "shape:ints allowzero:int " UNARY},
	{"Shape", op_shape, OP_SHAPE, 1, 1, "start:int end:int"},
	{"Sigmoid", op_simple, OP_SIGMOID, 1, 1, UNARY},
	{"Softmax", op_softmax, OP_SOFTMAX, 1, 1, "axis:int"},
	{"Sqrt", op_simple, OP_SQRT, 1, 1, UNARY},
	{"Squeeze", op_squeeze, OP_SQUEEZE, 1, 2, "axes:ints"},
	{"Sub", op_binary, OP_SUB, 2, 2, BINARY},
	{"Tanh", op_simple, OP_TANH, 1, 1, UNARY},
	{"Transpose", op_transpose, OP_TRANSPOSE, 1, 1, "perm:ints"},
	{"Unsqueeze", op_squeeze, OP_UNSQUEEZE, 1, 2, "axes:ints"},

	/* --- ew --- */
	{"Acos", ew_simple, OP_ACOS, 1, 1, ""},
	{"Acosh", ew_simple, OP_ACOSH, 1, 1, ""},
	{"And", ew_binary, OP_AND, 2, 2, BINARY},
	{"BitCast", ew_bitcast, OP_BITCAST, 1, 1, "to:int"},
	{"Asin", ew_simple, OP_ASIN, 1, 1, ""},
	{"Asinh", ew_simple, OP_ASINH, 1, 1, ""},
	{"Atan", ew_simple, OP_ATAN, 1, 1, ""},
	{"Atanh", ew_simple, OP_ATANH, 1, 1, ""},
	{"BitShift", ew_bitshift, OP_BIT_SHIFT, 2, 2, "direction:string"},
	{"BitwiseAnd", ew_binary, OP_BITWISE_AND, 2, 2, ""},
	{"BitwiseNot", ew_simple, OP_BITWISE_NOT, 1, 1, ""},
	{"BitwiseOr", ew_binary, OP_BITWISE_OR, 2, 2, ""},
	{"BitwiseXor", ew_binary, OP_BITWISE_XOR, 2, 2, ""},
	{"CastLike", ew_castlike, OP_CAST, 2, 2, "saturate:int round_mode:string"},
	{"Ceil", ew_simple, OP_CEIL, 1, 1, UNARY},
	{"Cos", ew_simple, OP_COS, 1, 1, ""},
	{"Cosh", ew_simple, OP_COSH, 1, 1, ""},
	{"DequantizeLinear", ew_dequantize, OP_COUNT, 2, 3, "axis:int block_size:int output_dtype:int"},
	{"DynamicQuantizeLinear", ew_dynquantize, OP_COUNT, 1, 1, ""},
	{"Erf", ew_simple, OP_ERF, 1, 1, ""},
	{"Floor", ew_simple, OP_FLOOR, 1, 1, UNARY},
	{"IsInf", ew_isinf, OP_ISINF, 1, 1, "detect_negative:int detect_positive:int"},
	{"IsNaN", ew_simple, OP_ISNAN, 1, 1, ""},
	{"Max", ew_variadic, OP_MAX, 1, -1, UNARY},
	{"Mean", ew_variadic, OP_DIV, 1, -1, UNARY},
	{"Min", ew_variadic, OP_MIN, 1, -1, UNARY},
	{"Mod", ew_mod, OP_MOD, 2, 2, "fmod:int"},
	{"QuantizeLinear", ew_quantize, OP_COUNT, 2, 3,
		"axis:int block_size:int output_dtype:int saturate:int precision:int"},
	{"Reciprocal", ew_simple, OP_RECIPROCAL, 1, 1, UNARY},
	{"Round", ew_simple, OP_ROUND, 1, 1, ""},
	{"Sign", ew_simple, OP_SIGN, 1, 1, ""},
	{"Sin", ew_simple, OP_SIN, 1, 1, ""},
	{"Sinh", ew_simple, OP_SINH, 1, 1, ""},
	{"Sum", ew_variadic, OP_ADD, 1, -1, UNARY},
	{"Tan", ew_simple, OP_TAN, 1, 1, ""},
	{"Celu", ew_activation, OP_COUNT, 1, 1, "alpha:float"},
	{"Elu", ew_activation, OP_COUNT, 1, 1, "alpha:float " UNARY},
	{"Gelu", ew_activation, OP_COUNT, 1, 1, "approximate:string"},
	{"HardSigmoid", ew_activation, OP_COUNT, 1, 1, "alpha:float beta:float " UNARY},
	{"HardSwish", ew_activation, OP_COUNT, 1, 1, ""},
	{"Mish", ew_activation, OP_COUNT, 1, 1, ""},
	{"PRelu", ew_prelu, OP_COUNT, 2, 2, UNARY},
	{"Selu", ew_activation, OP_COUNT, 1, 1, "alpha:float gamma:float " UNARY},
	{"Shrink", ew_activation, OP_COUNT, 1, 1, "bias:float lambd:float"},
	{"Softplus", ew_activation, OP_COUNT, 1, 1, ""},
	{"Softsign", ew_activation, OP_COUNT, 1, 1, ""},
	{"ThresholdedRelu", ew_activation, OP_COUNT, 1, 1, "alpha:float"},
	{"Equal", ew_binary, OP_EQUAL, 2, 2, BINARY},
	{"Greater", ew_binary, OP_GREATER, 2, 2, BINARY},
	{"GreaterOrEqual", ew_binary, OP_GREATER_EQUAL, 2, 2, ""},
	{"Less", ew_binary, OP_LESS, 2, 2, BINARY},
	{"LessOrEqual", ew_binary, OP_LESS_EQUAL, 2, 2, ""},
	{"Not", ew_simple, OP_NOT, 1, 1, ""},
	{"Or", ew_binary, OP_OR, 2, 2, BINARY},
	{"Where", ew_simple, OP_WHERE, 3, 3, ""},
	{"Xor", ew_binary, OP_XOR, 2, 2, BINARY},

	/* --- red --- */
	{"Attention", imp_attention, OP_COUNT, 3, 7,
		"is_causal:int kv_num_heads:int q_num_heads:int qk_matmul_output_mode:int scale:float "
		"softcap:float softmax_precision:int"},
	{"ArgMax", imp_argmax, OP_ARGMAX, 1, 1, "axis:int keepdims:int select_last_index:int"},
	{"ArgMin", imp_argmax, OP_ARGMIN, 1, 1, "axis:int keepdims:int select_last_index:int"},
	{"CumProd", imp_cumsum, OP_CUMPROD, 2, 2, "exclusive:int reverse:int"},
	{"CumSum", imp_cumsum, OP_CUMSUM, 2, 2, "exclusive:int reverse:int"},
	{"Einsum", imp_einsum, OP_COUNT, 1, -1, "equation:string"},
	{"FlexAttention", imp_flex_attention, OP_COUNT, 3, 3, "enable_gqa:int scale:float"},
	{"GroupNormalization", imp_groupnorm, OP_COUNT, 3, 3, "epsilon:float num_groups:int stash_type:int"},
	{"Hardmax", imp_hardmax, OP_COUNT, 1, 1, "axis:int"},
	{"InstanceNormalization", imp_instnorm, OP_COUNT, 3, 3, "epsilon:float"},
	{"LayerNormalization", imp_layernorm, OP_COUNT, 2, 3, "axis:int epsilon:float stash_type:int"},
	{"LinearAttention", imp_linear_attention, OP_COUNT, 3, 7,
		"chunk_size:int kv_num_heads:int q_num_heads:int scale:float update_rule:string"},
	{"LpNormalization", imp_lpnorm, OP_COUNT, 1, 1, "axis:int p:int"},
	{"LRN", imp_lrn, OP_COUNT, 1, 1, "alpha:float beta:float bias:float size:int"},
	{"MeanVarianceNormalization", imp_mvn, OP_COUNT, 1, 1, "axes:ints"},
	{"ReduceL1", imp_reduce_red, OP_COUNT, 1, 2, REDUCE},
	{"ReduceL2", imp_reduce_red, OP_COUNT, 1, 2, REDUCE},
	{"ReduceLogSum", imp_reduce_red, OP_COUNT, 1, 2, REDUCE},
	{"ReduceLogSumExp", imp_reduce_red, OP_COUNT, 1, 2, REDUCE},
	{"ReduceMin", imp_reduce_red, OP_REDUCE_MIN, 1, 2, REDUCE},
	{"ReduceProd", imp_reduce_red, OP_REDUCE_PROD, 1, 2, REDUCE},
	{"ReduceSumSquare", imp_reduce_red, OP_COUNT, 1, 2, REDUCE},
	{"TopK", imp_topk, OP_TOPK, 1, 2, "axis:int k:int largest:int sorted:int"},
	{"RotaryEmbedding", imp_rotary, OP_COUNT, 3, 4,
		"interleaved:int num_heads:int rotary_embedding_dim:int"},
	{"RMSNormalization", imp_layernorm, OP_COUNT, 2, 2, "axis:int epsilon:float stash_type:int"},

	/* --- idx --- */
	{"CenterCropPad", idx_center_crop_pad, OP_PAD, 2, 2, "axes:ints"},
	{"Compress", idx_compress, OP_GATHER, 2, 2, "axis:int"},
	{"ConstantOfShape", idx_constant_of_shape, OP_EXPAND, 1, 1, "value:tensor"},
	{"DepthToSpace", idx_depth_to_space, OP_TRANSPOSE, 1, 1, "blocksize:int mode:string"},
	{"Expand", idx_expand, OP_EXPAND, 2, 2, ""},
	{"EyeLike", idx_eyelike, OP_COUNT, 1, 1, "dtype:int k:int"},
	{"GatherElements", idx_gather_elements, OP_GATHER_ELEMENTS, 2, 2, "axis:int"},
	{"GatherND", idx_gather_nd, OP_GATHER_ND, 2, 2, "batch_dims:int"},
	{"MaxUnpool", idx_max_unpool, OP_SCATTER_ELEMENTS, 2, 3, "kernel_shape:ints pads:ints strides:ints"},
	{"OneHot", idx_onehot, OP_SCATTER_ELEMENTS, 3, 3, "axis:int"},
	{"Range", idx_range, OP_COUNT, 3, 3, ""},
	{"Resize", idx_resize, OP_GATHER, 1, 4,
		"antialias:int axes:ints coordinate_transformation_mode:string cubic_coeff_a:float "
		"exclude_outside:int extrapolation_value:float keep_aspect_ratio_policy:string "
		"mode:string nearest_mode:string"},
	{"ReverseSequence", idx_reverse_sequence, OP_GATHER_ELEMENTS, 2, 2, "batch_axis:int time_axis:int"},
	{"Scatter", idx_scatter_elements, OP_SCATTER_ELEMENTS, 3, 3, "axis:int"},
	{"ScatterElements", idx_scatter_elements, OP_SCATTER_ELEMENTS, 3, 3, "axis:int reduction:string"},
	{"ScatterND", idx_scatter_nd, OP_SCATTER_ND, 3, 3, "reduction:string"},
	{"Size", idx_size, OP_COUNT, 1, 1, ""},
	{"Slice", idx_slice, OP_SLICE, 1, 5, "starts:ints ends:ints axes:ints"},
	{"SpaceToDepth", idx_space_to_depth, OP_TRANSPOSE, 1, 1, "blocksize:int"},
	{"Split", idx_split, OP_SLICE, 1, 2, "axis:int split:ints num_outputs:int"},
	{"Tile", idx_tile, OP_EXPAND, 2, 2, ""},
	{"Trilu", idx_trilu, OP_TRILU, 1, 2, "upper:int"},
	{"Upsample", idx_upsample, OP_GATHER, 1, 2, "mode:string scales:floats"},

	/* --- conv --- */
	{"AveragePool", onnx_pool, OP_AVGPOOL, 1, 1, WINDOW " ceil_mode:int count_include_pad:int"},
	{"Conv", onnx_conv, OP_CONV, 2, 3, WINDOW " group:int"},
	{"ConvInteger", onnx_conv_integer, OP_CONV, 2, 4, WINDOW " group:int"},
	{"ConvTranspose", onnx_conv, OP_CONV_TRANSPOSE, 2, 3,
		WINDOW " group:int output_padding:ints output_shape:ints"},
	{"GlobalLpPool", onnx_global_lppool, OP_COUNT, 1, 1, "p:int"},
	{"LpPool", onnx_lppool, OP_COUNT, 1, 1, WINDOW " ceil_mode:int p:int"},
	{"MaxPool", onnx_pool, OP_MAXPOOL, 1, 1, WINDOW " ceil_mode:int storage_order:int"},
	{"GRU", onnx_rnn, OP_COUNT, 3, 6, RNN " linear_before_reset:int"},
	{"LSTM", onnx_rnn, OP_COUNT, 3, 8, RNN " input_forget:int"},
	{"RNN", onnx_rnn, OP_COUNT, 3, 6, RNN},

	/* --- train --- */
	/* ad */
	{"NegativeLogLikelihoodLoss", imp_nll_loss, OP_COUNT, 2, 3, "reduction:string ignore_index:int"},
	{"SoftmaxCrossEntropyLoss", imp_sce_loss, OP_COUNT, 2, 3, "reduction:string ignore_index:int"},

	/* --- misc --- */
	{"AffineGrid", misc_affine_grid, OP_COUNT, 2, 2, "align_corners:int"},
	{"BlackmanWindow", misc_window, OP_COUNT, 1, 1, "output_datatype:int periodic:int"},
	{"Col2Im", misc_col2im, OP_COUNT, 3, 3, "dilations:ints pads:ints strides:ints"},
	{"Det", misc_det, OP_COUNT, 1, 1, ""},
	{"DFT", misc_dft, OP_COUNT, 1, 3, "axis:int inverse:int onesided:int"},
	{"GridSample", misc_grid_sample, OP_COUNT, 2, 2, "align_corners:int mode:string padding_mode:string"},
	{"HammingWindow", misc_window, OP_COUNT, 1, 1, "output_datatype:int periodic:int"},
	{"HannWindow", misc_window, OP_COUNT, 1, 1, "output_datatype:int periodic:int"},
	{"MatMulInteger", misc_matmul_integer, OP_COUNT, 2, 4, ""},
	{"MelWeightMatrix", misc_mel_weight_matrix, OP_COUNT, 5, 5, "output_datatype:int"},
	{"QLinearConv", misc_qlinear_conv, OP_COUNT, 8, 9,
		"auto_pad:string dilations:ints group:int kernel_shape:ints pads:ints strides:ints"},
	{"QLinearMatMul", misc_qlinear_matmul, OP_COUNT, 8, 8, ""},
	{"RoiAlign", misc_roi_align, OP_COUNT, 3, 3,
		"coordinate_transformation_mode:string mode:string output_height:int output_width:int "
		"sampling_ratio:int spatial_scale:float"},
	{"STFT", misc_stft, OP_COUNT, 2, 4, "onesided:int"},
	{"TensorScatter", misc_tensor_scatter, OP_COUNT, 2, 3, "axis:int mode:string"},
};

const OnnxOp *onnx_find_op(const char *domain, const char *op_type)
{
	if (domain && strcmp(domain, "ai.onnx.preview.training") == 0)
		return onnx_find_training_op(op_type); /* onnx_train.c */
	if (domain && *domain && strcmp(domain, "ai.onnx") != 0 &&
		!(strcmp(domain, "ai.onnx.preview") == 0 && strcmp(op_type, "FlexAttention") == 0))
		return NULL;
	for (size_t i = 0; i < sizeof table / sizeof *table; i++)
		if (strcmp(table[i].op_type, op_type) == 0)
			return &table[i];
	return NULL;
}
