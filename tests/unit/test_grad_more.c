/* test_grad_more.c — gradient checks (grad_check.h) of the rules added for
 * training models (passes/grad_more.c): cumsum (forward, reverse,
 * exclusive), mod (truncating fmod = 1 and flooring, with a broadcast
 * divisor), reduce_prod (axes, keepdims, all; slices with zeros) and
 * reduce_min (gr_reduce_max's rule). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "grad_check.h"

static Graph *cumsum(DType t, const char *name, int64_t axis, int excl, int rev)
{
	Graph *g = ir_graph_new(name);
	int x = ir_add_input(g, "x", t, GS(3, 5));
	int y = gc_op(g, OP_CUMSUM, x, -1);
	ir_set_int(g, gc_node(g, y), "axis", axis);
	ir_set_int(g, gc_node(g, y), "exclusive", excl);
	ir_set_int(g, gc_node(g, y), "reverse", rev);
	return gc_done(g, y);
}
static Graph *c_fwd(DType t) { return cumsum(t, "cumsum", 1, 0, 0); }
static Graph *c_rev(DType t) { return cumsum(t, "cumsum_reverse", 0, 0, 1); }
static Graph *c_excl(DType t) { return cumsum(t, "cumsum_exclusive", -1, 1, 0); }
static Graph *c_both(DType t) { return cumsum(t, "cumsum_exclusive_reverse", 1, 1, 1); }

/* a [2, 3, 4] mod b [3, 1]; inputs drawn in [-3, 3] keep clear of b = 0
 * only by chance, so b is 0.5 + |b| */
static Graph *mod(DType t, const char *name, int fmod)
{
	Graph *g = ir_graph_new(name);
	int a = ir_add_input(g, "a", t, GS(2, 3, 4));
	int b = ir_add_input(g, "b", t, GS(3, 1));
	int bb = gc_op(g, OP_ADD, gc_op(g, OP_ABS, b, -1), gc_scalar(g, t, 0.5));
	int y = gc_op(g, OP_MOD, a, bb);
	ir_set_int(g, gc_node(g, y), "fmod", fmod);
	return gc_done(g, y);
}
static Graph *m_fmod(DType t) { return mod(t, "mod_fmod", 1); }
static Graph *m_floor(DType t) { return mod(t, "mod_floor", 0); }

static Graph *r_min(DType t)
{
	Graph *g = ir_graph_new("reduce_min");
	int x = ir_add_input(g, "x", t, GS(2, 3, 4));
	int y = gc_op(g, OP_REDUCE_MIN, x, -1);
	ir_set_ints(g, gc_node(g, y), "axes", GA(1));
	ir_set_int(g, gc_node(g, y), "keepdims", 0);
	return gc_done(g, y);
}

static Graph *prod(DType t, const char *name, const int64_t *ax, int na, int keep, bool zeros)
{
	Graph *g = ir_graph_new(name);
	int x = ir_add_input(g, "x", t, GS(2, 3, 4));
	if (zeros) /* x < 0 becomes 0: slices with no, one and several zeros (the
		    * others of a slice with a zero get 0; relu hides the zero's own) */
		x = gc_op(g, OP_RELU, x, -1);
	int y = gc_op(g, OP_REDUCE_PROD, x, -1);
	if (na)
		ir_set_ints(g, gc_node(g, y), "axes", ax, na);
	ir_set_int(g, gc_node(g, y), "keepdims", keep);
	return gc_done(g, y);
}
static Graph *p_axis(DType t) { return prod(t, "reduce_prod", GA(1), 0, false); }
static Graph *p_keep(DType t) { return prod(t, "reduce_prod_keep", GA(0, 2), 1, false); }
static Graph *p_all(DType t) { return prod(t, "reduce_prod_all", NULL, 0, 0, false); }
static Graph *p_zeros(DType t) { return prod(t, "reduce_prod_zeros", GA(1), 0, true); }

static const GcCase cases[] = {
	{"reduce_prod", p_axis, 0.5, 1.5, 0, false},
	{"reduce_prod_keep", p_keep, 0.5, 1.5, 0, false},
	{"reduce_prod_all", p_all, 0.8, 1.2, 0, false},
	{"reduce_prod_zeros", p_zeros, -0.6, 1.5, 0, false},
	{"cumsum", c_fwd, -1, 1, 0, false},
	{"cumsum_reverse", c_rev, -1, 1, 0, false},
	{"cumsum_exclusive", c_excl, -1, 1, 0, false},
	{"cumsum_exclusive_reverse", c_both, -1, 1, 0, false},
	{"mod_fmod", m_fmod, -3, 3, 0, false},
	{"mod_floor", m_floor, -3, 3, 0, false},
	{"reduce_min", r_min, -1, 1, 0, false},
};

int main(void)
{
	return gc_main(cases, (int)(sizeof cases / sizeof *cases), NULL, 0);
}
