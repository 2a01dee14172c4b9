/* onehot.c — one-hot encoding of integer class indices, written in forward
 * ops so every backend already runs it and autodiff sees plain IR:
 *
 *   hot = where(equal(unsqueeze(cast(idx, i64), axis), iota), 1, 0)
 *
 * where iota is the i64 constant 0..depth-1 laid along `axis` (broadcast
 * against the unsqueezed indices). An index outside [0, depth) gives a
 * row of zeros (the losses' ignore_index and ONNX OneHot's out-of-range
 * rule rely on that). Used by the training losses (passes/loss.c); the
 * ONNX OneHot and loss imports build the same through the importer
 * (frontend/onnx_loss.c). */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

static int node(Graph *g, Op op, const char *name, const int *in, int nin)
{
	return ir_add_node(g, op, name, in, nin, 1, NULL);
}

static int infer(Graph *g, int n, Diag *d)
{
	return ir_infer_node(g, n, d) < 0 ? -1 : ir_out(g, n, 0);
}

static int scalar(Graph *g, const char *name, DType t, double v)
{
	char b[16] = {0};
	ir_elem_put(t, b, v);
	return ir_add_const(g, name, t, ir_shape_make(0, NULL), b, ir_dtype_size(t), false);
}

int ir_one_hot(Graph *g, const char *name, int idx, int64_t depth, int axis, DType t, Diag *d)
{
	const Value *iv = &g->val[idx];
	int r = iv->shape.rank;
	if (r < 0 || r + 1 > IR_MAX_RANK || depth < 1)
		return diag(d, "%s: one-hot of %%%s: needs a known rank below %d and depth >= 1", name,
			iv->name, IR_MAX_RANK);
	if (axis < 0)
		axis += r + 1;
	if (axis < 0 || axis > r)
		return diag(d, "%s: one-hot axis out of range for rank %d", name, r);
	int x = idx;
	if (iv->dtype != DT_I64) {
		int n = node(g, OP_CAST, name, &x, 1);
		ir_set_string(g, n, "to", "i64");
		if ((x = infer(g, n, d)) < 0)
			return -1;
	}
	int n = node(g, OP_UNSQUEEZE, name, &x, 1);
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
	int64_t *io = xmalloc((size_t)depth * sizeof *io);
	for (int64_t i = 0; i < depth; i++)
		io[i] = i;
	char cname[256];
	snprintf(cname, sizeof cname, "%s/iota", name);
	int iota = ir_add_const(g, cname, DT_I64, ir_shape_make(ir, dims), io,
		(size_t)depth * sizeof *io, false);
	free(io);
	if ((x = infer(g, node(g, OP_EQUAL, name, (int[]){x, iota}, 2), d)) < 0)
		return -1;
	int one = scalar(g, name, t, 1), zero = scalar(g, name, t, 0);
	return infer(g, node(g, OP_WHERE, name, (int[]){x, one, zero}, 3), d);
}
