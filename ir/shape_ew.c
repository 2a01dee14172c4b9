/* shape_ew.c — shape rules of the ew family's elementwise ops whose result
 * type is not simply their input's: comparisons (bool from any two inputs
 * of one dtype), logic (bool from bool) and where (a and b selected by a
 * bool condition, three-way numpy broadcasting), classification (isnan,
 * isinf: bool from a float). The ew ops whose output
 * is their input's type use shape_broadcast (shape.c). */
#include "shape.h"

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

int shape_classify(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_compare(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_logic(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_where(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
