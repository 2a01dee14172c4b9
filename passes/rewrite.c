/* rewrite.c — helpers the simplification passes share: removing a node by
 * forwarding its output to an equivalent value while graph outputs keep
 * their names (they are the model's interface), and reading a constant's
 * elements as doubles. */
#include "passes.h"

#include <string.h>

/* May v take a graph output's name? Inputs and parameters are named by the
 * model's interface too, and a graph output already has its name. */
static bool renamable(const Graph *g, int v)
{
	const Value *x = &g->val[v];
	if (x->kind == VK_INPUT || (x->kind == VK_CONST && (x->param || x->state)))
		return false;
	for (int i = 0; i < g->noutput; i++)
		if (g->output[i] == v)
			return false;
	return true;
}

bool ps_forward(Graph *g, int node, int to)
{
	Node *n = &g->node[node];
	NN_ASSERT(n->nout == 1 && !n->dead);
	int from = n->out[0];
	bool isout = false;
	for (int i = 0; i < g->noutput; i++)
		isout = isout || g->output[i] == from;
	if (isout && !renamable(g, to)) {
		/* keep the name: the node becomes identity(to), unless it is one */
		if (n->op == OP_IDENTITY && n->in[0] == to)
			return false;
		n->op = OP_IDENTITY;
		n->in[0] = to;
		n->nin = 1;
		n->nattr = 0;
		n->attr = NULL;
		n->group = 0;
		return true;
	}
	if (isout) { /* to takes the output's name */
		const char *name = g->val[to].name;
		ir_rename_value(g, to, g->val[from].name);
		ir_rename_value(g, from, name);
	}
	ir_replace_uses(g, from, to);
	n->dead = true;
	return true;
}

bool ps_const_data(const Graph *g, int v)
{
	if (v < 0)
		return false;
	const Value *x = &g->val[v];
	int64_t n = ir_shape_numel(&x->shape), nb;
	return x->kind == VK_CONST && !x->state && x->data && n >= 0 && ir_dtype_size(x->dtype) > 0 &&
		ck_mul(n, (int64_t)ir_dtype_size(x->dtype), &nb) && (size_t)nb == x->nbytes;
}

bool ps_const_at(const Graph *g, int v, int64_t i, double *out)
{
	const Value *x = &g->val[v];
	const unsigned char *p = (const unsigned char *)x->data;
	switch (x->dtype) {
	case DT_F32: { float f; memcpy(&f, p + 4 * i, 4); *out = f; return true; }
	case DT_F64: memcpy(out, p + 8 * i, 8); return true;
	case DT_I32: { int32_t k; memcpy(&k, p + 4 * i, 4); *out = k; return true; }
	case DT_I64: { int64_t k; memcpy(&k, p + 8 * i, 8); *out = (double)k; return true; }
	case DT_I8: *out = (int8_t)p[i]; return true;
	case DT_U8: case DT_BOOL: *out = p[i]; return true;
	default: return false;
	}
}

/* The shape attribute that reshapes x into y: known dims as they are, a
 * symbol that x has at the same position as 0 (copy), and at most one
 * other dim as -1 (inferred). false if y cannot be said that way. */
static bool encode_shape(const Shape *x, const Shape *y, int64_t *s)
{
	int nother = 0;
	for (int i = 0; i < y->rank; i++) {
		Dim d = y->d[i];
		if (d.sym == 0 && d.n > 0)
			s[i] = d.n;
		else if (i < x->rank && d.n == x->d[i].n && d.sym == x->d[i].sym && (d.sym || d.n == 0))
			s[i] = 0;
		else if (nother++ == 0)
			s[i] = -1;
		else
			return false;
	}
	return true;
}

bool ps_make_reshape(Graph *g, int node, int x)
{
	Node *n = &g->node[node];
	Value *y = &g->val[n->out[0]];
	const Shape *xs = &g->val[x].shape;
	int64_t s[IR_MAX_RANK];
	if (n->nout != 1 || xs->rank < 0 || y->shape.rank < 0 || !encode_shape(xs, &y->shape, s))
		return false;
	Node save = *n;
	int in0 = n->in[0];
	DType ydt = y->dtype;
	Shape ysh = y->shape;
	n->op = OP_RESHAPE;
	n->nin = 1;
	n->in[0] = x;
	n->nattr = 0;
	n->attr = NULL;
	ir_set_ints(g, node, "shape", s, ysh.rank);
	Diag d;
	diag_init(&d);
	y = &g->val[n->out[0]];
	if (ir_infer_node(g, node, &d) == 0 && y->dtype == ydt && ir_shape_eq(&y->shape, &ysh))
		return true;
	*n = save; /* the rule could not show the same type: undo */
	n->in[0] = in0;
	y->dtype = ydt;
	y->shape = ysh;
	return false;
}
