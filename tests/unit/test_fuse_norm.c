/* test_fuse_norm.c — reductions fused with their elementwise producers and
 * consumers (passes/fuse.c, codegen/lower_red.c lw_red_at): layer norm as
 * ONE kernel whose mean and variance are reductions sharing the kernel's
 * reduction vars, the mean one DAG node read by the variance and by the
 * output; and the cases that must stay apart (reductions over different
 * axes, a reduction read outside the group). Each checks the exact kernel
 * count at -O2 and -O0, cg_plan_check, and cg_interp against ir_eval. */
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
#include "codegen/kinterp.h"
#include "ir/ir.h"
#include "passes/passes.h"

#include "fuse_check.h"

/* reduce_mean over axes (keepdims) */
static int mean(Graph *g, const char *name, int x, const int64_t *axes, int naxes)
{
	int v = op(g, OP_REDUCE_MEAN, name, IN(x));
	ir_set_ints(g, def(g, v), "axes", axes, naxes);
	ir_set_int(g, def(g, v), "keepdims", 1);
	return v;
}

/* PyTorch's opset-13 LayerNorm over the trailing dims of x that gamma and
 * beta (shape ns) cover: (x - m) / sqrt(mean((x - m)^2) + eps) * g + b.
 * square: pow(d, 2) when pw, else mul(d, d). Sets *mp to the mean. */
static int layernorm(Graph *g, int x, Shape ns, const int64_t *axes, int naxes, bool pw, int *mp)
{
	int ga = param(g, "gamma", ns, 0.5, 1.5), be = param(g, "beta", ns, -0.5, 0.5);
	int eps = param(g, "eps", S(), 1e-5, 1e-5), two = param(g, "two", S(), 2, 2);
	int m = mean(g, "m", x, axes, naxes);
	int d = op(g, OP_SUB, "d", IN(x, m));
	int sq = pw ? op(g, OP_POW, "sq", IN(d, two)) : op(g, OP_MUL, "sq", IN(d, d));
	int v = mean(g, "v", sq, axes, naxes);
	int s = op(g, OP_SQRT, "s", IN(op(g, OP_ADD, "ve", IN(v, eps))));
	int n = op(g, OP_DIV, "n", IN(d, s));
	*mp = m;
	return op(g, OP_ADD, "y", IN(op(g, OP_MUL, "gm", IN(n, ga)), be));
}

/* Distinct KX_REDUCE nodes of kernel k's DAG. */
static int nreduce(const Kernel *k)
{
	KxDag dag;
	cg_kx_dag(k, &dag);
	int c = 0;
	for (int i = 0; i < dag.n; i++)
		c += dag.node[i].x->kind == KX_REDUCE;
	cg_kx_dag_free(&dag);
	return c;
}

/* Layer norm over the last axis, with pow: one kernel, no temporary; nine
 * kernels at -O0. Mean and variance are the only two reductions (the mean
 * is one node, read by the variance's body and by the output), both
 * walking the kernel's one reduction var. */
static void test_layernorm_one_kernel(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(2, 3, 16));
	int m;
	int y = layernorm(g, x, S(16), A(-1), 1, true, &m);
	ir_add_output(g, y);
	expect(g, 1, 0, 9);
	assert_int_equal(g->node[def(g, m)].group, g->node[def(g, y)].group);
	KernelList kl;
	run(g, 2, &kl);
	const Kernel *k = &kl.k[0];
	assert_int_equal(k->nnodes, 9);
	assert_int_equal(k->nout_var, 3);
	assert_int_equal(k->nvar, 4);
	assert_int_equal(k->extent[3], 16);
	assert_int_equal(nreduce(k), 2);
	char *text = print_kernels(&kl);
	assert_non_null(strstr(text, "pow("));
	free(text);
	cg_free(&kl);
	ir_graph_free(g);
}

/* Over two axes (GroupNorm-like), with d*d: still one kernel, two vars. */
static void test_layernorm_two_axes(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(3, 4, 5));
	int m;
	int y = layernorm(g, x, S(4, 5), A(1, 2), 2, false, &m);
	ir_add_output(g, y);
	expect(g, 1, 0, 9);
	KernelList kl;
	run(g, 2, &kl);
	assert_int_equal(kl.k[0].nvar - kl.k[0].nout_var, 2);
	assert_int_equal(nreduce(&kl.k[0]), 2);
	cg_free(&kl);
	ir_graph_free(g);
}

/* The mean is also a graph output: it keeps its own kernel (and buffer),
 * the rest is one kernel reading it. */
static void test_mean_read_outside(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(4, 8));
	int m;
	int y = layernorm(g, x, S(8), A(1), 1, false, &m);
	ir_add_output(g, y);
	ir_add_output(g, m);
	expect(g, 2, 0, 9);
	assert_int_equal(g->node[def(g, m)].group, 0);
	ir_graph_free(g);
}

/* m0 reduces axis 1, m1 axis 0 of d = x - m0: one kernel cannot hold both
 * (one set of reduction vars), so m0 stays apart; m1 joins y = d * m1. A
 * hand-made group holding both is an error of the lowering. */
static void test_different_axes(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(4, 6));
	int m0 = mean(g, "m0", x, A(1), 1);
	int d = op(g, OP_SUB, "d", IN(x, m0));
	int m1 = mean(g, "m1", d, A(0), 1);
	int y = op(g, OP_MUL, "y", IN(d, m1));
	ir_add_output(g, y);
	expect(g, 2, 1, 4);
	int gy = g->node[def(g, y)].group;
	assert_true(gy > 0);
	assert_int_equal(g->node[def(g, m1)].group, gy);
	assert_int_equal(g->node[def(g, d)].group, gy);
	assert_int_not_equal(g->node[def(g, m0)].group, gy);

	g->node[def(g, m0)].group = gy;
	KernelList kl;
	Diag dg;
	diag_init(&dg);
	assert_int_equal(cg_lower(g, &kl, &dg), -1);
	assert_non_null(strstr(dg.msg, "reduces other axes"));
	ir_graph_free(g);
}

/* Softmax of x - mean(x): the mean cannot join the softmax's kernel (its
 * reductions are the softmax's own), so it stays apart. */
static void test_no_reduce_in_softmax(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(3, 7));
	int m = mean(g, "m", x, A(1), 1);
	int y = op(g, OP_SOFTMAX, "y", IN(op(g, OP_SUB, "d", IN(x, m))));
	ir_add_output(g, y);
	expect(g, 2, 1, 2 + 3);
	assert_int_equal(g->node[def(g, m)].group, 0);
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layernorm_one_kernel),
		cmocka_unit_test(test_layernorm_two_axes),
		cmocka_unit_test(test_mean_read_outside),
		cmocka_unit_test(test_different_axes),
		cmocka_unit_test(test_no_reduce_in_softmax),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
