/* onnx_static.c — shape computations resolved while importing.
 *
 * PyTorch exports compute many shape-deciding inputs from the model's own
 * shapes: Expand's shape, Resize's sizes, a Reshape target, Slice bounds,
 * each from a Shape -> Gather -> Unsqueeze -> Concat chain. Handlers need
 * such inputs as constants (they decide output shapes, which nncc fixes at
 * compile time). Every node is shape-inferred as it is imported, so a
 * chain over static shapes already has a known result; this file computes
 * it with the reference interpreter (ir_eval_node, which defines the ops)
 * and hands the handler a constant instead. Only small integer values are
 * resolved (at most STATIC_MAX elements, every step of the chain too), so
 * weights are never evaluated here; that stays the fold pass's job. The
 * chain's nodes are left in place; DCE drops them when nothing else uses
 * them. */
#include "onnx_impl.h"

#include <stdlib.h>
#include <string.h>

enum { STATIC_MAX = 64, STATIC_DEPTH = 64 };

static bool small_int(const Value *x)
{
	int64_t n = ir_shape_numel(&x->shape);
	return (x->dtype == DT_I64 || x->dtype == DT_I32 || x->dtype == DT_BOOL) &&
	       n >= 0 && n <= STATIC_MAX;
}

static int add_const(Importer *m, int v, const Tensor *t)
{
	Graph *g = m->g;
	size_t nbytes = (size_t)ir_shape_numel(&t->shape) * ir_dtype_size(t->dtype);
	const char *name = arena_printf(&g->arena, "%s.static", g->val[v].name);
	return ir_add_const(g, ir_unique_name(g, name), t->dtype, t->shape, t->data, nbytes, false);
}

/* v = shape(x) {start, end} of a statically shaped x: its dims as i64. */
static int shape_of(Importer *m, int v)
{
	Graph *g = m->g;
	const Node *n = &g->node[g->val[v].def];
	const Shape *x = &g->val[n->in[0]].shape;
	const Shape *y = &g->val[v].shape;
	if (!ir_shape_static(x) || y->rank != 1 || g->val[v].dtype != DT_I64)
		return -1;
	int64_t start = ir_attr_int(n, "start", 0);
	if (start < 0)
		start += x->rank;
	if (start < 0)
		start = 0;
	int64_t len = y->d[0].n, dims[IR_MAX_RANK];
	if (len > IR_MAX_RANK || start + len > x->rank)
		return -1;
	for (int64_t i = 0; i < len; i++)
		dims[i] = x->d[start + i].n;
	Tensor t = {DT_I64, ir_shape_make(1, &len), dims};
	return add_const(m, v, &t);
}

/* A constant holding the value of v, or -1 when v is not a small integer
 * value computable from constants and static shapes. */
static int resolve(Importer *m, int v, int depth)
{
	Graph *g = m->g;
	const Value *x = &g->val[v];
	if (x->kind == VK_CONST)
		return x->data && small_int(x) ? v : -1;
	if (x->kind != VK_NODE || depth > STATIC_DEPTH || !small_int(x) || !ir_shape_static(&x->shape))
		return -1;
	int node = x->def;
	const Node *n = &g->node[node];
	if (n->nout != 1 || (ir_ops[n->op].flags & OPF_SIDE_EFFECT))
		return -1;
	if (n->op == OP_SHAPE)
		return shape_of(m, v);
	Tensor *in = xcalloc((size_t)n->nin + 1, sizeof *in);
	int rc = 0;
	for (int k = 0; k < n->nin && rc == 0; k++) {
		int a = n->in[k];
		if (a < 0)
			continue;
		int c = resolve(m, a, depth + 1);
		if (c < 0) {
			rc = -1;
			continue;
		}
		in[k] = (Tensor){g->val[c].dtype, g->val[c].shape, g->val[c].data};
		n = &g->node[node]; /* resolve may have grown the arrays */
	}
	int out = -1;
	if (rc == 0) {
		Diag d;
		diag_init(&d);
		Tensor t;
		if (ir_eval_node(g, node, in, &t, &d) == 0) {
			const Value *y = &g->val[v];
			if (t.dtype == y->dtype && ir_shape_eq(&t.shape, &y->shape))
				out = add_const(m, v, &t);
			ir_tensor_free(&t);
		}
	}
	free(in);
	return out;
}

void imp_resolve_static(Importer *m)
{
	for (int k = 0; k < m->nin; k++) {
		int v = m->in[k];
		if (v < 0 || m->g->val[v].kind != VK_NODE)
			continue;
		int c = resolve(m, v, 0);
		if (c >= 0)
			m->in[k] = c;
	}
}
