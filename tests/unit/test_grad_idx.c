/* test_grad_idx.c — gradient checks (grad_check.h) of the indexing rules:
 * slice (steps, negative steps, clamped ends), expand, trilu, gather with
 * constant and run-time indices (repeated ones accumulate: an embedding),
 * gather_elements and gather_nd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "grad_check.h"

static Graph *slice(DType t, const char *name, const int64_t *st, const int64_t *en,
	const int64_t *ax, const int64_t *sp, int n)
{
	Graph *g = ir_graph_new(name);
	int x = ir_add_input(g, "x", t, GS(5, 6));
	int y = gc_op(g, OP_SLICE, x, -1);
	ir_set_ints(g, gc_node(g, y), "starts", st, n);
	ir_set_ints(g, gc_node(g, y), "ends", en, n);
	ir_set_ints(g, gc_node(g, y), "axes", ax, n);
	ir_set_ints(g, gc_node(g, y), "steps", sp, n);
	return gc_done(g, gc_op(g, OP_TANH, y, -1));
}
static Graph *s_basic(DType t)
{
	return slice(t, "slice", (int64_t[]){1, 0}, (int64_t[]){4, -1}, (int64_t[]){0, 1}, (int64_t[]){1, 2}, 2);
}
static Graph *s_neg(DType t)
{
	return slice(t, "slice_neg", (int64_t[]){-1, 4}, (int64_t[]){0, 100}, (int64_t[]){0, 1},
		(int64_t[]){-2, 3}, 2);
}
static Graph *s_rev(DType t)
{
	return slice(t, "slice_rev", (int64_t[]){100}, (int64_t[]){-100}, (int64_t[]){1}, (int64_t[]){-1}, 1);
}

static Graph *e_expand(DType t)
{
	Graph *g = ir_graph_new("expand");
	int x = ir_add_input(g, "x", t, GS(3, 1));
	int y = gc_op(g, OP_EXPAND, x, -1);
	ir_set_ints(g, gc_node(g, y), "shape", GA(2, 3, 4));
	return gc_done(g, y);
}

static Graph *t_trilu(DType t)
{
	Graph *g = ir_graph_new("trilu");
	int x = ir_add_input(g, "x", t, GS(2, 4, 5));
	int y = gc_op(g, OP_TRILU, x, -1);
	ir_set_int(g, gc_node(g, y), "upper", 0);
	ir_set_int(g, gc_node(g, y), "k", 1);
	return gc_done(g, y);
}

/* constant indices along axis 1, repeated and negative */
static Graph *g_const(DType t)
{
	Graph *g = ir_graph_new("gather_const");
	int x = ir_add_input(g, "x", t, GS(3, 5, 2));
	int64_t ix[2][2] = {{4, 0}, {-1, 2}};
	int k = ir_add_const(g, "ix", DT_I64, GS(2, 2), ix, sizeof ix, false);
	int y = gc_op(g, OP_GATHER, x, k);
	ir_set_int(g, gc_node(g, y), "axis", 1);
	return gc_done(g, y);
}

/* an embedding: run-time token ids [2, 6] (random in [0, 4): repeats) into a [4, 3] table */
static Graph *g_embed(DType t)
{
	Graph *g = ir_graph_new("embedding");
	int ids = ir_add_input(g, "ids", DT_I64, GS(2, 6));
	int w = ir_add_input(g, "w", t, GS(4, 3));
	return gc_done(g, gc_op(g, OP_GATHER, w, ids));
}

/* a scalar run-time index along the last axis */
static Graph *g_scalar(DType t)
{
	Graph *g = ir_graph_new("gather_scalar");
	int x = ir_add_input(g, "x", t, GS(2, 3, 4));
	int i = ir_add_input(g, "i", DT_I64, GS());
	int y = gc_op(g, OP_GATHER, x, i);
	ir_set_int(g, gc_node(g, y), "axis", -1);
	return gc_done(g, y);
}

static Graph *g_elements(DType t)
{
	Graph *g = ir_graph_new("gather_elements");
	int x = ir_add_input(g, "x", t, GS(3, 4));
	int i = ir_add_input(g, "i", DT_I64, GS(3, 5));
	int y = gc_op(g, OP_GATHER_ELEMENTS, x, i);
	ir_set_int(g, gc_node(g, y), "axis", 1);
	return gc_done(g, y);
}

static Graph *g_nd(DType t)
{
	Graph *g = ir_graph_new("gather_nd");
	int x = ir_add_input(g, "x", t, GS(3, 3, 2));
	int i = ir_add_input(g, "i", DT_I64, GS(4, 2));
	return gc_done(g, gc_op(g, OP_GATHER_ND, x, i));
}

static const GcCase cases[] = {
	{"slice", s_basic, -1, 1, 0, false},
	{"slice_neg", s_neg, -1, 1, 0, false},
	{"slice_rev", s_rev, -1, 1, 0, false},
	{"expand", e_expand, -1, 1, 0, false},
	{"trilu", t_trilu, -1, 1, 0, false},
	{"gather_const", g_const, -1, 1, 0, false},
	{"embedding", g_embed, -1, 1, 4, false},
	{"gather_scalar", g_scalar, -1, 1, 4, false},
	{"gather_elements", g_elements, -1, 1, 4, false},
	{"gather_nd", g_nd, -1, 1, 3, false},
};

int main(void)
{
	return gc_main(cases, (int)(sizeof cases / sizeof *cases), NULL, 0);
}
