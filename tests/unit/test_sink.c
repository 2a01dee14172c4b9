/* test_sink.c — backward nodes made right before their first reader
 * (passes/sink.c ps_sink): a node whose output outweighs the inputs dying
 * at it moves down, a view with it; one whose output is no larger stays,
 * and nothing moves past an assign (state written) or out of place for a
 * graph output. The graph computes the same outputs after (ir_eval, bit
 * for bit). Graphs by hand with autodiff's naming ("grad..."). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/ir.h"
#include "passes/passes.h"

#include "fuse_check.h"

/* ps_sink on g, which then verifies and gives the outputs it gave before. */
static int sink_same(Graph *g)
{
	Tensor before[4], after[4];
	eval_fixed(g, before);
	int moved = ps_sink(g);
	Diag d;
	diag_init(&d);
	if (ir_verify(g, &d) < 0)
		fail_msg("%s", d.msg);
	eval_fixed(g, after);
	for (int o = 0; o < g->noutput; o++) {
		int64_t n = ir_shape_numel(&before[o].shape);
		assert_memory_equal(after[o].data, before[o].data, (size_t)n * 4);
		ir_tensor_free(&after[o]);
		ir_tensor_free(&before[o]);
	}
	return moved;
}

/* forward f = tanh(x); backward: s (8 x 4) from f, then grad/big = s @ w2
 * (8 x 64, s dying there unless keep_s), its view grad/view, three nodes
 * of other work, and grad/use, the first to read the view; an assign of
 * state between when assign_between. */
static Graph *shortcut_like(bool keep_s, bool assign_between)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(8, 4));
	int w2 = param(g, "w2", S(4, 64), -1, 1);
	int w3 = param(g, "w3", S(64, 4), -1, 1);
	int st = param(g, "st", S(8, 4), -1, 1);
	int f = op(g, OP_TANH, "fwd/tanh", IN(x));
	int s = op(g, OP_MUL, "grad/s", IN(f, f));
	int big = op(g, OP_MATMUL, "grad/big", IN(s, w2));
	int view = op(g, OP_RESHAPE, "grad/view", IN(big));
	ir_set_ints(g, def(g, view), "shape", A(8, 64), 2);
	int m1 = op(g, OP_SIGMOID, "grad/m1", IN(f));
	int m2 = op(g, OP_MUL, "grad/m2", IN(m1, f));
	if (assign_between) {
		g->val[st].state = 1;
		ir_add_node(g, OP_ASSIGN, "optimizer/st", (const int[]){st, m2}, 2, 0, NULL);
	}
	int m3 = op(g, OP_TANH, "grad/m3", IN(m2));
	int u = op(g, OP_MATMUL, "grad/use", IN(view, w3));
	int out = op(g, OP_ADD, "grad/out", IN(u, m3));
	if (keep_s)
		out = op(g, OP_ADD, "grad/out2", IN(out, s));
	ir_add_output(g, out);
	infer(g);
	ir_fill_uses(g);
	return g;
}

static void test_sinks(void **state)
{
	(void)state;
	for (int keep = 0; keep < 2; keep++) {
		Graph *g = shortcut_like(keep, false);
		assert_true(node_named(g, "grad/big") < node_named(g, "grad/m1"));
		/* the view, its producer, then s, at which nothing dies (f
		 * is read later) */
		assert_int_equal(sink_same(g), 3);
		int use = node_named(g, "grad/use");
		assert_int_equal(node_named(g, "grad/view"), use - 1);
		assert_int_equal(node_named(g, "grad/big"), use - 2);
		assert_int_equal(node_named(g, "grad/s"), use - 3);
		assert_true(node_named(g, "grad/m3") < use - 2);
		assert_int_equal(g->val[g->node[use - 2].out[0]].def, use - 2);
		ir_graph_free(g);
	}
}

/* A node whose output is no larger than what dies at it stays, and so
 * does everything before an assign that stands between it and its
 * reader. */
static void test_stays(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(8, 64));
	int w = param(g, "w", S(64, 4), -1, 1);
	int f = op(g, OP_TANH, "fwd/tanh", IN(x));
	int e = op(g, OP_EXP, "grad/e", IN(f));
	int small = op(g, OP_MATMUL, "grad/small", IN(e, w)); /* 8 x 4 from a dying 8 x 64 */
	int m1 = op(g, OP_SIGMOID, "grad/m1", IN(f));
	int m2 = op(g, OP_MATMUL, "grad/m2", IN(m1, w));
	int out = op(g, OP_ADD, "grad/out", IN(m2, small));
	ir_add_output(g, out);
	infer(g);
	int at = node_named(g, "grad/small");
	assert_int_equal(sink_same(g), 0);
	assert_int_equal(node_named(g, "grad/small"), at);
	ir_graph_free(g);

	g = shortcut_like(false, true);
	int big = node_named(g, "grad/big"), view = node_named(g, "grad/view");
	assert_int_equal(sink_same(g), 0);
	assert_int_equal(node_named(g, "grad/big"), big);
	assert_int_equal(node_named(g, "grad/view"), view);
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sinks),
		cmocka_unit_test(test_stays),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
