/* onnx_loss.c — ONNX import of the loss ops, as compositions of forward IR
 * ops (the one-hot construction of ir/onehot.c, where(equal(unsqueeze(idx),
 * iota), 1, 0), built here through imp_node so every value is named in the
 * importer's table; ONNX OneHot itself, with run-time values, is idx's):
 *
 *   NegativeLogLikelihoodLoss(x, t[, w])
 *       hot = onehot(t) along axis 1 (zeroed where t == ignore_index),
 *       hw = hot * w[c]; loss = -sum_c hw * x, then none / sum /
 *       mean = sum(loss) / sum(hw)
 *   SoftmaxCrossEntropyLoss(scores, t[, w]) = NLL(log_softmax(scores, 1))
 *       and, as an optional second output, the log-probabilities.
 * ignore_index must be a constant (shapes are static). */
#include "onnx_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const Value *val(const Importer *m, int v) { return &m->g->val[v]; }

/* A node over a (and b if >= 0) with a fresh output name, inferred. */
static int op2(Importer *m, Op op, int a, int b)
{
	int in[2] = {a, b};
	int nd = imp_node(m, op, in, b >= 0 ? 2 : 1, -1);
	return imp_infer(m, nd);
}

static int scalar(Importer *m, DType t, double x) { return imp_scalar(m, "k", t, x); }

static int cast(Importer *m, int x, DType t, int slot)
{
	if (x < 0 || (val(m, x)->dtype == t && slot < 0))
		return x;
	int nd = imp_node(m, OP_CAST, (int[]){x}, 1, slot);
	ir_set_string(m->g, nd, "to", ir_dtype_name(t));
	return imp_infer(m, nd);
}

/* reduce op over axes (NULL, 0: all) */
static int reduce(Importer *m, Op op, int x, const int64_t *axes, int na, int keep, int slot)
{
	if (x < 0)
		return -1;
	int nd = imp_node(m, op, (int[]){x}, 1, slot);
	if (na)
		ir_set_ints(m->g, nd, "axes", axes, na);
	ir_set_int(m->g, nd, "keepdims", keep);
	return imp_infer(m, nd);
}

static int unsqueeze(Importer *m, int x, int64_t axis)
{
	if (x < 0)
		return -1;
	int nd = imp_node(m, OP_UNSQUEEZE, (int[]){x}, 1, -1);
	ir_set_ints(m->g, nd, "axes", &axis, 1);
	return imp_infer(m, nd);
}

/* where(cond, a, b) into ONNX output slot (-1: an intermediate) */
static int where_to(Importer *m, int cond, int a, int b, int slot)
{
	if (cond < 0 || a < 0 || b < 0)
		return -1;
	int nd = imp_node(m, OP_WHERE, (int[]){cond, a, b}, 3, slot);
	return imp_infer(m, nd);
}

static int where(Importer *m, int cond, int a, int b) { return where_to(m, cond, a, b, -1); }

/* The one-hot (in type t) of i64 indices x along `axis` of the result,
 * depth classes: where(equal(unsqueeze(x), iota), on, off), into slot. */
static int one_hot(Importer *m, int x, int64_t depth, int axis, DType t, double on, double off,
	int slot)
{
	if (x < 0)
		return -1;
	int r = val(m, x)->shape.rank;
	if (r < 0 || r + 1 > IR_MAX_RANK)
		return imp_err(m, "indices of unknown rank or rank %d are unsupported", r);
	if (depth < 1 || depth > ((int64_t)1 << 40))
		return imp_err(m, "depth %lld is unsupported", (long long)depth);
	int64_t dims[IR_MAX_RANK];
	int nd = 0;
	dims[nd++] = depth;
	for (int i = axis; i < r; i++)
		dims[nd++] = 1;
	int64_t *io = xmalloc((size_t)depth * sizeof *io);
	for (int64_t i = 0; i < depth; i++)
		io[i] = i;
	int iota = imp_const(m, "iota", DT_I64, ir_shape_make(nd, dims), io, (size_t)depth * sizeof *io);
	free(io);
	int eq = op2(m, OP_EQUAL, unsqueeze(m, x, axis), iota);
	return where_to(m, eq, scalar(m, t, on), scalar(m, t, off), slot);
}

/* Indices as i64 (floats truncated toward zero, as ONNX casts them),
 * wrapped by depth where negative if wrap. */
static int indices(Importer *m, int x, int64_t depth, bool wrap)
{
	x = cast(m, x, DT_I64, -1);
	if (!wrap || x < 0)
		return x;
	int neg = op2(m, OP_LESS, x, scalar(m, DT_I64, 0));
	return where(m, neg, op2(m, OP_ADD, x, scalar(m, DT_I64, (double)depth)), x);
}

/* NLL over log-probabilities logp [N, C, d...] into ONNX output 0. */
static int nll(Importer *m, int logp)
{
	const Value *lv = val(m, logp);
	DType t = lv->dtype;
	Shape s = lv->shape;
	if (!ir_dtype_is_float(t) || s.rank < 2 || s.d[1].sym || s.d[1].n < 1)
		return imp_err(m, "needs float class scores [N, C, ...] with a known C");
	const char *red = imp_str(m, "reduction", "mean");
	if (strcmp(red, "none") && strcmp(red, "sum") && strcmp(red, "mean"))
		return imp_err(m, "reduction '%s' is unsupported", red);
	int lbl = indices(m, m->in[1], 0, false);
	int hot = one_hot(m, lbl, s.d[1].n, 1, t, 1, 0, -1);
	if (imp_attr(m, "ignore_index")) { /* zero where the label is ignore_index */
		int ig = op2(m, OP_EQUAL, lbl, scalar(m, DT_I64, (double)imp_int(m, "ignore_index", 0)));
		hot = where(m, unsqueeze(m, ig, 1), scalar(m, t, 0), hot);
	}
	if (m->nin > 2 && m->in[2] >= 0) { /* weights [C] -> [C, 1, ...] */
		int w = m->in[2];
		if (val(m, w)->dtype != t || val(m, w)->shape.rank != 1)
			return imp_err(m, "weights must be 1-D of the scores' type");
		for (int i = 2; i < s.rank && w >= 0; i++)
			w = unsqueeze(m, w, -1);
		hot = w < 0 ? -1 : op2(m, OP_MUL, hot, w);
	}
	if (hot < 0)
		return -1;
	int64_t ax1 = 1;
	int picked = reduce(m, OP_REDUCE_SUM, op2(m, OP_MUL, hot, logp), &ax1, 1, 0, -1);
	if (strcmp(red, "none") == 0) {
		int nd = imp_node(m, OP_NEG, &picked, 1, 0);
		return imp_infer(m, nd) < 0 ? -1 : 0;
	}
	int sum = reduce(m, OP_REDUCE_SUM, picked, NULL, 0, 0, -1);
	if (strcmp(red, "mean") == 0)
		sum = op2(m, OP_DIV, sum, reduce(m, OP_REDUCE_SUM, hot, NULL, 0, 0, -1));
	if (sum < 0)
		return -1;
	int nd = imp_node(m, OP_NEG, &sum, 1, 0);
	return imp_infer(m, nd) < 0 ? -1 : 0;
}

int imp_nll_loss(Importer *m, Op op)
{
	(void)op;
	return nll(m, m->in[0]);
}

int imp_sce_loss(Importer *m, Op op)
{
	(void)op;
	int nd = imp_node(m, OP_LOGSOFTMAX, m->in, 1, m->nout > 1 ? 1 : -1);
	ir_set_int(m->g, nd, "axis", 1);
	int logp = imp_infer(m, nd);
	if (logp < 0)
		return -1;
	return nll(m, logp);
}
