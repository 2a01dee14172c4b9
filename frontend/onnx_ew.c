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
