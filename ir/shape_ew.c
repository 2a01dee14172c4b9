/* shape_ew.c — shape rules of the ew family's elementwise ops whose result
 * type is not simply their input's: comparisons (bool from any two inputs
 * of one dtype), logic (bool from bool) and where (a and b selected by a
 * bool condition, three-way numpy broadcasting), classification (isnan,
 * isinf: bool from a float) and bitcast (same bytes, another dtype of the
 * same size). The ew ops whose output
 * is their input's type use shape_broadcast (shape.c). */
#include "shape.h"

#include <string.h>

/* Broadcasts inputs 0..n-1 (omitted ones skipped) into osh[0]. */
static int bcast_all(const ShapeCtx *c, int n)
{
	char b1[256], b2[256];
	Shape r = c->ish[0];
	for (int k = 1; k < n; k++) {
		Shape t;
		if (ir_broadcast(&r, &c->ish[k], &t))
			return FAIL(c, "cannot broadcast %s with %s (input %d)", sh_str(c, &r, b1),
				sh_str(c, &c->ish[k], b2), k);
		r = t;
	}
	c->osh[0] = r;
	return 0;
}

/* equal less less_equal greater greater_equal: bool out, one input dtype. */
int shape_compare_rule(const ShapeCtx *c)
{
	if (sh_same_dtype(c, 0, 1))
		return -1;
	c->odt[0] = DT_BOOL;
	return bcast_all(c, 2);
}

/* not and or xor: bool in, bool out. */
int shape_logic_rule(const ShapeCtx *c)
{
	for (int k = 0; k < c->n->nin; k++)
		if (c->idt[k] != DT_UNDEF && c->idt[k] != DT_BOOL)
			return FAIL(c, "input %d must be bool, not %s", k, ir_dtype_name(c->idt[k]));
	c->odt[0] = DT_BOOL;
	return bcast_all(c, c->n->nin);
}

/* where(cond, a, b): cond bool, a and b one dtype, which is the output's. */
int shape_where_rule(const ShapeCtx *c)
{
	if (c->idt[0] != DT_UNDEF && c->idt[0] != DT_BOOL)
		return FAIL(c, "condition must be bool, not %s", ir_dtype_name(c->idt[0]));
	if (sh_same_dtype(c, 1, 2))
		return -1;
	c->odt[0] = c->idt[1] != DT_UNDEF ? c->idt[1] : c->idt[2];
	return bcast_all(c, 3);
}

/* isnan isinf: a float in, bool out. */
int shape_classify_rule(const ShapeCtx *c)
{
	if (c->idt[0] != DT_UNDEF && !ir_dtype_is_float(c->idt[0]))
		return FAIL(c, "input must be a float type, not %s", ir_dtype_name(c->idt[0]));
	c->odt[0] = DT_BOOL;
	c->osh[0] = c->ish[0];
	return 0;
}

/* bitcast: the same bytes read as dtype `to`, of the same element size. */
int shape_bitcast_rule(const ShapeCtx *c)
{
	const Attr *a = ir_attr(c->n, "to");
	DType t = a && a->kind == AT_STRING ? ir_dtype_parse(a->s, strlen(a->s)) : DT_UNDEF;
	if (t == DT_UNDEF)
		return FAIL(c, "attribute to must name a dtype (\"f32\", \"i32\", ...)");
	if (c->idt[0] != DT_UNDEF && ir_dtype_size(c->idt[0]) != ir_dtype_size(t))
		return FAIL(c, "cannot reinterpret %s as %s: element sizes differ", ir_dtype_name(c->idt[0]),
			ir_dtype_name(t));
	c->odt[0] = t;
	c->osh[0] = c->ish[0];
	return 0;
}

bool ir_ew_mixed_types(Op op)
{
	switch (op) {
	case OP_EQUAL: case OP_LESS: case OP_LESS_EQUAL: case OP_GREATER: case OP_GREATER_EQUAL:
	case OP_WHERE: case OP_ISNAN: case OP_ISINF: case OP_BITCAST:
		return true;
	default:
		return false;
	}
}

int ir_ew_check_types(const Graph *g, int node, Diag *d)
{
	const Node *n = &g->node[node];
	DType idt[3], odt[8];
	Shape ish[3], osh[8];
	if (n->nin > 3 || n->nout != 1 || n->out[0] < 0 || n->out[0] >= g->nval)
		return 0; /* arity is checked elsewhere */
	for (int k = 0; k < n->nin; k++) {
		int v = n->in[k];
		if (v < 0 || v >= g->nval || g->val[v].dtype == DT_UNDEF)
			return 0; /* not inferred yet */
		idt[k] = g->val[v].dtype;
		ish[k] = g->val[v].shape;
	}
	Diag tmp;
	diag_init(&tmp);
	if (ir_infer_shapes(g, node, idt, ish, odt, osh, &tmp)) {
		diag(d, "%.*s", tmp.len > 0 && tmp.msg[tmp.len - 1] == '\n' ? tmp.len - 1 : tmp.len, tmp.msg);
		return 1;
	}
	DType have = g->val[n->out[0]].dtype;
	if (have != DT_UNDEF && have != odt[0]) {
		ir_node_err(g, node, d, "output %%%s is %s; its inputs make it %s", g->val[n->out[0]].name,
			ir_dtype_name(have), ir_dtype_name(odt[0]));
		return 1;
	}
	return 0;
}

int shape_classify(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_bitcast(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_compare(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_logic(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_where(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
