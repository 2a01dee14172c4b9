/* shape_red.c — shape rules of the reduction family's own ops (ops.def's
 * red block): argmax/argmin (an i64 index along one axis), cumsum (the
 * input's shape) and topk (values and indices, the axis cut to k). reduce_min and reduce_prod share shape_reduce (shape.c). */
#include "shape.h"

/* argmax, argmin: i64, the axis kept with extent 1 or removed. */
int shape_argmax_rule(const ShapeCtx *c)
{
	c->odt[0] = DT_I64;
	const Shape *x = &c->ish[0];
	if (x->rank < 0)
		return 0;
	int64_t axis = ir_attr_int(c->n, "axis", 0);
	int a = sh_norm_axis(axis, x->rank);
	if (a < 0)
		return FAIL(c, "axis %lld out of range for rank %d", (long long)axis, x->rank);
	if (x->d[a].sym == 0 && x->d[a].n == 0)
		return FAIL(c, "axis %lld is empty: no index to return", (long long)axis);
	bool keep = ir_attr_int(c->n, "keepdims", 1) != 0;
	Shape *r = &c->osh[0];
	r->rank = 0;
	for (int i = 0; i < x->rank; i++) {
		if (i != a)
			r->d[r->rank++] = x->d[i];
		else if (keep)
			r->d[r->rank++] = sh_dim(1);
	}
	return 0;
}

/* cumsum: same dtype and shape as x. */
int shape_cumsum_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	c->osh[0] = c->ish[0];
	const Shape *x = &c->ish[0];
	int64_t axis = ir_attr_int(c->n, "axis", 0);
	if (x->rank >= 0 && sh_norm_axis(axis, x->rank) < 0)
		return FAIL(c, "axis %lld out of range for rank %d", (long long)axis, x->rank);
	return 0;
}

/* topk: values (x's dtype) and i64 indices, both x's shape with the axis
 * cut to k. */
int shape_topk_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	c->odt[1] = DT_I64;
	const Shape *x = &c->ish[0];
	if (x->rank < 0)
		return 0;
	int64_t axis = ir_attr_int(c->n, "axis", -1), k = ir_attr_int(c->n, "k", 0);
	int a = sh_norm_axis(axis, x->rank);
	if (a < 0)
		return FAIL(c, "axis %lld out of range for rank %d", (long long)axis, x->rank);
	if (k < 0 || (sh_known(x->d[a]) && k > x->d[a].n))
		return FAIL(c, "k = %lld is out of range for an axis of extent %lld", (long long)k,
			(long long)x->d[a].n);
	c->osh[0] = *x;
	c->osh[0].d[a] = sh_dim(k);
	c->osh[1] = c->osh[0];
	return 0;
}

int shape_argmax(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_topk(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_cumsum(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
