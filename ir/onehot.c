/* onehot.c — one-hot encoding of integer class indices, written in forward
 * ops so every backend already runs it and autodiff sees plain IR:
 *
 *   hot = 0 ** |unsqueeze(cast(idx, T), axis) - iota|
 *
 * where iota is the constant 0..depth-1 laid along `axis` (broadcast
 * against the unsqueezed indices), and 0 ** 0 = 1, 0 ** y = 0 for y > 0
 * (exact in IEEE arithmetic; T is a float type holding depth exactly). An index outside [0, depth) gives a row
 * of zeros (the losses' ignore_index and ONNX OneHot's out-of-range rule
 * rely on that). Used by the training losses (passes/loss.c) and the ONNX
 * OneHot / NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss imports. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

static int node1(Graph *g, Op op, const char *name, int a, int b)
{
	int in[2] = {a, b};
	return ir_add_node(g, op, name, in, b >= 0 ? 2 : 1, 1, NULL);
}

static int infer(Graph *g, int n, Diag *d)
{
	return ir_infer_node(g, n, d) < 0 ? -1 : ir_out(g, n, 0);
}

static int cast(Graph *g, const char *name, int x, DType t, Diag *d)
{
	if (g->val[x].dtype == t)
		return x;
	int n = node1(g, OP_CAST, name, x, -1);
	ir_set_string(g, n, "to", ir_dtype_name(t));
	return infer(g, n, d);
}

int ir_one_hot(Graph *g, const char *name, int idx, int64_t depth, int axis, DType t, Diag *d)
{
	const Value *iv = &g->val[idx];
	int r = iv->shape.rank;
	if (r < 0 || r + 1 > IR_MAX_RANK || depth < 1)
		return diag(d, "%s: one-hot of %%%s: needs a known rank below %d and depth >= 1", name,
			iv->name, IR_MAX_RANK);
	if (!ir_dtype_is_float(t) || depth > ((int64_t)1 << (t == DT_F64 ? 52 : t == DT_F32 ? 23 : 10)))
		return diag(d, "%s: one-hot in %s of depth %lld is unsupported", name, ir_dtype_name(t),
			(long long)depth);
	if (axis < 0)
		axis += r + 1;
	if (axis < 0 || axis > r)
		return diag(d, "%s: one-hot axis out of range for rank %d", name, r);
	int x = cast(g, name, idx, t, d);
	if (x < 0)
		return -1;
	int n = node1(g, OP_UNSQUEEZE, name, x, -1);
	int64_t ax = axis;
	ir_set_ints(g, n, "axes", &ax, 1);
	if ((x = infer(g, n, d)) < 0)
		return -1;
	/* iota [depth, 1, ..., 1] with r - axis trailing ones */
	int64_t dims[IR_MAX_RANK];
	int ir = 0;
	dims[ir++] = depth;
	for (int i = axis; i < r; i++)
		dims[ir++] = 1;
	size_t sz = ir_dtype_size(t);
	char *io = xmalloc((size_t)depth * sz);
	for (int64_t i = 0; i < depth; i++)
		ir_elem_put(t, io + (size_t)i * sz, (double)i);
	char cname[256];
	snprintf(cname, sizeof cname, "%s/iota", name);
	int iota = ir_add_const(g, cname, t, ir_shape_make(ir, dims), io, (size_t)depth * sz, false);
	free(io);
	if ((x = infer(g, node1(g, OP_SUB, name, x, iota), d)) < 0 ||
		(x = infer(g, node1(g, OP_ABS, name, x, -1), d)) < 0)
		return -1;
	char zero[16] = {0};
	snprintf(cname, sizeof cname, "%s/zero", name);
	int k = ir_add_const(g, cname, t, ir_shape_make(0, NULL), zero, sz, false);
	return infer(g, node1(g, OP_POW, name, k, x), d);
}
