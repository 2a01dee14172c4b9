/* fold.c — constant folding through the reference interpreter: a node
 * whose inputs are all constants with data is evaluated once by
 * ir_eval_node() (ir/eval.c defines what ops mean, so folding cannot
 * disagree with it) and its output becomes a literal constant
 * (param = false). `shape` of a value with a static shape folds without
 * data, and identity of a constant is that constant (no copy). Results
 * over FOLD_MAX_BYTES stay computed at run time (they would bloat the
 * artifact), and so do nodes the interpreter cannot evaluate.
 * The folded node is left dead for DCE; a graph output keeps its name. */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

enum { FOLD_MAX_BYTES = 64 << 20 };

/* Replaces node's output by a new literal constant holding t. */
static void replace(Graph *g, int node, const Tensor *t)
{
	int out = g->node[node].out[0];
	size_t nbytes = (size_t)ir_shape_numel(&t->shape) * ir_dtype_size(t->dtype);
	const char *name = arena_printf(&g->arena, "%s.fold", g->val[out].name);
	int c = ir_add_const(g, name, t->dtype, t->shape, t->data, nbytes, false);
	ps_forward(g, node, c);
}

/* `shape` of a statically shaped value: the dims, as i64. */
bool ps_fold_shape(Graph *g, int node)
{
	const Node *n = &g->node[node];
	const Shape *x = &g->val[n->in[0]].shape;
	const Value *y = &g->val[n->out[0]];
	if (!ir_shape_static(x) || !ir_shape_static(&y->shape) || y->shape.rank != 1)
		return false;
	int64_t start = ir_attr_int(n, "start", 0);
	if (start < 0)
		start += x->rank;
	if (start < 0)
		start = 0;
	int64_t dims[IR_MAX_RANK];
	int m = (int)y->shape.d[0].n;
	if (m > IR_MAX_RANK || start + m > x->rank)
		return false;
	for (int i = 0; i < m; i++)
		dims[i] = x->d[start + i].n;
	int64_t len = m;
	Tensor t = {DT_I64, ir_shape_make(1, &len), dims};
	replace(g, node, &t);
	return true;
}

/* Evaluates node if its inputs are constants and its result is small. */
static bool fold_node(Graph *g, int node)
{
	const Node *n = &g->node[node];
	if (n->nout != 1 || n->nin == 0 || (ir_ops[n->op].flags & OPF_SIDE_EFFECT))
		return false;
	for (int k = 0; k < n->nin; k++)
		if (n->in[k] >= 0 && !ps_const_data(g, n->in[k]))
			return false;
	const Value *y = &g->val[n->out[0]];
	int64_t numel = ir_shape_numel(&y->shape), nbytes;
	if (numel < 0 || !ck_mul(numel, (int64_t)ir_dtype_size(y->dtype), &nbytes) ||
		nbytes == 0 || nbytes > FOLD_MAX_BYTES)
		return false;
	Tensor *in = xcalloc((size_t)n->nin, sizeof *in);
	for (int k = 0; k < n->nin; k++) {
		const Value *x = n->in[k] >= 0 ? &g->val[n->in[k]] : NULL;
		if (x)
			in[k] = (Tensor){x->dtype, x->shape, x->data};
	}
	Diag d;
	diag_init(&d);
	Tensor out;
	bool ok = ir_eval_node(g, node, in, &out, &d) == 0;
	free(in);
	if (!ok)
		return false; /* e.g. a dtype the interpreter lacks: leave it to codegen */
	ok = out.dtype == y->dtype && ir_shape_eq(&out.shape, &y->shape);
	if (ok)
		replace(g, node, &out);
	ir_tensor_free(&out);
	return ok;
}

void ps_fold(Graph *g, const Options *o)
{
	(void)o;
	for (int i = 0; i < g->nnode; i++) {
		if (g->node[i].dead)
			continue;
		const Node *n = &g->node[i];
		if (n->op == OP_SHAPE)
			ps_fold_shape(g, i);
		else if (n->op == OP_IDENTITY && ps_const_data(g, n->in[0]))
			ps_forward(g, i, n->in[0]); /* no copy: a parameter stays one */
		else
			fold_node(g, i);
	}
}
