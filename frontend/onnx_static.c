/* onnx_static.c — shape computations resolved while importing.
 *
 * PyTorch exports compute many shape-deciding inputs from the model's own
 * shapes: Expand's shape, Resize's sizes, a Reshape target, Slice bounds,
 * each from a Shape -> Gather -> Unsqueeze -> Concat chain. Handlers need
 * such inputs as constants (they decide output shapes, which nncc fixes at
 * compile time). Every node is shape-inferred as it is imported, so a
 * chain over static shapes already has a known result; this file computes
 * it with the reference interpreter (ir_eval_node, which defines the ops)
 * and hands the handler a constant instead: eagerly for every small integer
 * input (at most STATIC_MAX elements), and on demand (imp_fold, up to
 * FOLD_MAX elements of any dtype) where a handler needs a constant, e.g.
 * Resize's float scales. Weights are never evaluated unless a handler asks
 * for them; that stays the fold pass's job. The chain's nodes are left in
 * place; DCE drops them when nothing else uses them. */
#include "onnx_impl.h"

#include <string.h>

enum { FOLD_DEPTH = 64, FOLD_MAX = 1 << 16 }; /* recursion, elements of a folded value */

/* The constant equal to value v, folding the nodes that compute it when
 * all they read is constant (or, for shape, a static shape): the value of
 * Identity(Constant), Size(Shape(x)) or Range(0, Rank, 1) as ONNX's
 * expanded functions compute axes and sizes. Returns a constant's value
 * index, or -1 (no message) when v is not computable now. */
static int fold(Importer *m, int v, int depth)
{
	Graph *g = m->g;
	if (v < 0 || depth > FOLD_DEPTH)
		return -1;
	const Value *x = &g->val[v];
	if (x->kind == VK_CONST)
		return x->data || ir_shape_numel(&x->shape) == 0 ? v : -1;
	if (x->kind != VK_NODE || x->def < 0 || !ir_shape_static(&x->shape) ||
		ir_shape_numel(&x->shape) > FOLD_MAX || ir_dtype_size(x->dtype) == 0)
		return -1;
	int nd = x->def, slot = x->defslot;
	const Node *n = &g->node[nd];
	if (n->op == OP_SHAPE) { /* the extents of a static shape, no data needed */
		const Shape *xs = &g->val[n->in[0]].shape;
		int64_t start = ir_attr_int(n, "start", 0), cnt = ir_shape_numel(&x->shape), dims[IR_MAX_RANK];
		if (!ir_shape_static(xs))
			return -1;
		start = start < 0 ? (start + xs->rank < 0 ? 0 : start + xs->rank) : start;
		for (int64_t i = 0; i < cnt; i++)
			dims[i] = xs->d[start + i].n;
		return imp_const(m, "folded", DT_I64, x->shape, dims, (size_t)cnt * 8);
	}
	if (n->nout > 8 || n->nin > 16)
		return -1;
	Tensor in[16] = {0}, out[8];
	for (int k = 0; k < n->nin; k++) {
		if (n->in[k] < 0)
			continue;
		int c = fold(m, n->in[k], depth + 1);
		if (c < 0)
			return -1;
		const Value *cv = &g->val[c];
		in[k] = (Tensor){cv->dtype, cv->shape, cv->data};
	}
	Diag d;
	diag_init(&d);
	if (ir_eval_node(g, nd, in, out, &d) < 0)
		return -1;
	int64_t numel = ir_shape_numel(&out[slot].shape);
	int c = imp_const(m, "folded", out[slot].dtype, out[slot].shape, out[slot].data,
		(size_t)numel * ir_dtype_size(out[slot].dtype));
	for (int k = 0; k < n->nout; k++)
		ir_tensor_free(&out[k]);
	return c;
}

int imp_fold(Importer *m, int v)
{
	return fold(m, v, 0);
}

const Value *imp_const_in(Importer *m, int k, const char *what)
{
	if (k >= m->nin || m->in[k] < 0) { /* an omitted optional input ("") */
		imp_err(m, "input %d (%s) is missing", k, what);
		return NULL;
	}
	int c = imp_fold(m, m->in[k]);
	if (c < 0) {
		imp_err(m, "input %d (%s, \"%s\") must be a constant", k, what, m->g->val[m->in[k]].name);
		return NULL;
	}
	return &m->g->val[c];
}

int imp_const_ints(Importer *m, int k, const char *what, int64_t *out, int max)
{
	const Value *v = imp_const_in(m, k, what);
	if (!v)
		return -1;
	if (v->dtype != DT_I64 && v->dtype != DT_I32)
		return imp_err(m, "%s must be int64 or int32, not %s", what, ir_dtype_name(v->dtype));
	if (v->shape.rank > 1)
		return imp_err(m, "%s must be 1-D", what);
	int64_t n = ir_shape_numel(&v->shape);
	if (n < 0 || n > max)
		return imp_err(m, "%s has %lld values; at most %d are supported", what, (long long)n, max);
	for (int64_t i = 0; i < n; i++) { /* exactly: INT64_MAX ends are common */
		if (v->dtype == DT_I64) {
			memcpy(&out[i], (const char *)v->data + 8 * i, 8);
		} else {
			int32_t x;
			memcpy(&x, (const char *)v->data + 4 * i, 4);
			out[i] = x;
		}
	}
	return (int)n;
}

int imp_const_scalar(Importer *m, int k, const char *what, double *out)
{
	const Value *v = imp_const_in(m, k, what);
	if (!v)
		return -1;
	if (ir_shape_numel(&v->shape) != 1)
		return imp_err(m, "%s must hold exactly one value", what);
	*out = ir_elem_get(v->dtype, v->data);
	return 0;
}

int imp_const_int(Importer *m, int k, const char *what, int64_t *out)
{
	const Value *v = imp_const_in(m, k, what);
	if (!v)
		return -1;
	if (ir_shape_numel(&v->shape) != 1 || !ir_dtype_is_int(v->dtype))
		return imp_err(m, "%s must be one integer", what);
	*out = (int64_t)ir_elem_get(v->dtype, v->data);
	return 0;
}

enum { STATIC_MAX = 64 };

void imp_resolve_static(Importer *m)
{
	for (int k = 0; k < m->nin; k++) {
		int v = m->in[k];
		if (v < 0)
			continue;
		const Value *x = &m->g->val[v];
		int64_t n = ir_shape_numel(&x->shape);
		if (x->kind != VK_NODE || n < 0 || n > STATIC_MAX ||
			(x->dtype != DT_I64 && x->dtype != DT_I32 && x->dtype != DT_BOOL))
			continue;
		int c = fold(m, v, 0);
		if (c >= 0)
			m->in[k] = c;
	}
}
