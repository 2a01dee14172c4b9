/* test_fuse.c — operator fusion (passes/fuse.c) and the lowering of fusion
 * groups (codegen/lower_fuse.c). Each case builds a small graph, runs
 * ps_fuse at -O2 (and -O0), checks the groups and the exact number of
 * kernels and temporaries the lowering makes, and checks that cg_interp on
 * the fused kernels agrees with ir_eval on the graph to 1e-5 (random
 * inputs from a fixed-seed generator, constants as params). */
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

/* --- call epilogues ---------------------------------------------------------------- */

/* conv -> add bias -> relu -> add residual: one conv kernel whose epilogue
 * does the rest in place in the output; the only temp is im2col scratch. */
static void test_conv_epilogue(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(1, 2, 6, 6));
	int res = ir_add_input(g, "res", DT_F32, S(1, 3, 6, 6));
	int w = param(g, "w", S(3, 2, 3, 3), -1, 1);
	int b = param(g, "b", S(3, 1, 1), -1, 1);
	int c = conv(g, "c1", x, w, -1, 1);
	int a = op(g, OP_ADD, "bias", IN(c, b));
	int r = op(g, OP_RELU, "act", IN(a));
	int y = op(g, OP_ADD, "resid", IN(r, res));
	ir_add_output(g, y);
	expect(g, 1, 1, 4);
	int gid = g->node[def(g, c)].group;
	assert_true(gid > 0);
	assert_int_equal(g->node[def(g, y)].group, gid);
	assert_int_equal(g->node[def(g, r)].group, gid);

	KernelList kl;
	run(g, 2, &kl);
	const Kernel *k = &kl.k[0];
	assert_int_equal(k->kind, KK_CONV2D);
	assert_string_equal(k->name, "c1");
	assert_int_equal(k->nnodes, 4);
	assert_int_equal(k->node, def(g, y));
	assert_non_null(k->body);
	assert_int_equal(k->out, k->conv.y);
	assert_int_equal(kl.buf[k->out].kind, BUF_OUTPUT);
	assert_int_equal(k->nout_var, 4);
	assert_int_equal(k->extent[1], 3);
	char *text = print_kernels(&kl);
	assert_non_null(strstr(text, "; then for v0 in 0..1, v1 in 0..3"));
	assert_non_null(strstr(text, "  # fused: conv c1, add bias, relu act, add resid\n"));
	free(text);
	cg_free(&kl);
	ir_graph_free(g);
}

/* Two convs, the residual from the second: each call takes the chain that
 * alone reads it; the first conv's relu output is the one temp left. */
static void test_two_conv_residual(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(2, 3, 5, 5));
	int w0 = param(g, "w0", S(4, 3, 1, 1), -1, 1);
	int w1 = param(g, "w1", S(4, 3, 3, 3), -1, 1);
	int b1 = param(g, "b1", S(4), -1, 1);
	int c0 = conv(g, "c0", x, w0, -1, 0);  /* 1x1: no scratch */
	int c1 = conv(g, "c1", x, w1, b1, 1);  /* 3x3: im2col scratch */
	int r1 = op(g, OP_RELU, "r1", IN(c1));
	int y = op(g, OP_ADD, "sum", IN(c0, r1));
	int z = op(g, OP_CLIP, "clip", IN(y));
	ir_set_float(g, def(g, z), "min", 0);
	ir_set_float(g, def(g, z), "max", 6);
	ir_add_output(g, z);
	expect(g, 2, 2, 5);
	assert_int_equal(g->node[def(g, c1)].group, g->node[def(g, r1)].group);
	assert_int_equal(g->node[def(g, c0)].group, g->node[def(g, z)].group);
	assert_int_not_equal(g->node[def(g, c0)].group, g->node[def(g, c1)].group);
	ir_graph_free(g);
}

/* matmul -> add bias -> relu, twice (an MLP): one GEMM kernel per layer. */
static void test_matmul_epilogue(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(4, 8));
	int w1 = param(g, "w1", S(8, 6), -1, 1), b1 = param(g, "b1", S(6), -1, 1);
	int w2 = param(g, "w2", S(6, 3), -1, 1), b2 = param(g, "b2", S(3), -1, 1);
	int h = op(g, OP_RELU, "r", IN(op(g, OP_ADD, "a1", IN(op(g, OP_MATMUL, "fc1", IN(x, w1)), b1))));
	int y = op(g, OP_ADD, "a2", IN(op(g, OP_MATMUL, "fc2", IN(h, w2)), b2));
	ir_add_output(g, y);
	expect(g, 2, 1, 5);
	KernelList kl;
	run(g, 2, &kl);
	assert_int_equal(kl.k[0].kind, KK_MATMUL);
	assert_int_equal(kl.k[1].kind, KK_MATMUL);
	assert_int_equal(kl.k[0].nnodes, 3);
	assert_int_equal(kl.k[1].nnodes, 2);
	assert_int_equal(kl.k[0].nout_var, 2);
	assert_int_equal(kl.k[0].body->kind, KX_UNARY); /* relu(load + b1) */
	assert_int_equal(kl.k[0].body->a->a->buf, kl.k[0].mm.c);
	cg_free(&kl);
	ir_graph_free(g);
}

/* A matmul whose output is a graph output keeps no epilogue; its reader
 * still fuses as a loop. f64 matmul is a loop, not a call: never an epilogue. */
static void test_call_output_not_fused(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(3, 4));
	int w = param(g, "w", S(4, 5), -1, 1);
	int m = op(g, OP_MATMUL, "mm", IN(x, w));
	int t = op(g, OP_TANH, "t", IN(op(g, OP_NEG, "n", IN(m))));
	ir_add_output(g, m);
	ir_add_output(g, t);
	expect(g, 2, 0, 3);
	assert_int_equal(g->node[def(g, m)].group, 0);
	assert_true(g->node[def(g, t)].group > 0);
	ir_graph_free(g);
}

/* --- elementwise chains ------------------------------------------------------------- */

/* Five elementwise ops with broadcast params: one kernel, no temps. */
static void test_chain5(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(2, 3, 4));
	int p = param(g, "p", S(4), -1, 1), q = param(g, "q", S(3, 1), -1, 1);
	int e = op(g, OP_MUL, "e1", IN(x, p));
	e = op(g, OP_ADD, "e2", IN(e, q));
	e = op(g, OP_TANH, "e3", IN(e));
	e = op(g, OP_SUB, "e4", IN(e, x));
	e = op(g, OP_LEAKYRELU, "e5", IN(e));
	ir_add_output(g, e);
	expect(g, 1, 0, 5);
	KernelList kl;
	run(g, 2, &kl);
	assert_int_equal(kl.k[0].nnodes, 5);
	/* x is read by e1 and e4 at the same coordinates: one shared load */
	int loads_of_x = 0;
	const Kx *stack[64];
	int sp = 0;
	const Kx *seen[64];
	int nseen = 0;
	stack[sp++] = kl.k[0].body;
	while (sp) {
		const Kx *n = stack[--sp];
		bool dup = false;
		for (int i = 0; i < nseen; i++)
			dup |= seen[i] == n;
		if (dup)
			continue;
		assert_true(nseen < 64);
		seen[nseen++] = n;
		if (n->kind == KX_LOAD && kl.buf[n->buf].kind == BUF_INPUT)
			loads_of_x++;
		if (n->a)
			stack[sp++] = n->a;
		if (n->b)
			stack[sp++] = n->b;
	}
	assert_int_equal(loads_of_x, 1);
	cg_free(&kl);
	ir_graph_free(g);
}

/* A producer read broadcast (computed fewer times than its reader's
 * points) is not inlined: exp of a [4] param stays its own kernel. */
static void test_broadcast_producer_kept(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(3, 4));
	int p = ir_add_input(g, "p", DT_F32, S(4));
	int e = op(g, OP_EXP, "e", IN(p));
	int y = op(g, OP_MUL, "y", IN(op(g, OP_ADD, "a", IN(x, e)), x));
	ir_add_output(g, y);
	expect(g, 2, 1, 3);
	assert_int_equal(g->node[def(g, e)].group, 0);
	ir_graph_free(g);
}

/* x*sigmoid(x) with x computed in the group: one node for x, read twice. */
static void test_swish_sharing(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int in = ir_add_input(g, "in", DT_F32, S(5, 6));
	int p = param(g, "p", S(6), -1, 1);
	int x = op(g, OP_ADD, "x", IN(in, p));
	int y = op(g, OP_MUL, "y", IN(x, op(g, OP_SIGMOID, "s", IN(x))));
	ir_add_output(g, y);
	expect(g, 1, 0, 3);
	KernelList kl;
	run(g, 2, &kl);
	const Kx *b = kl.k[0].body;
	assert_int_equal(b->kind, KX_BINARY);
	assert_int_equal(b->op, KB_MUL);
	assert_int_equal(b->b->kind, KX_UNARY);
	assert_ptr_equal(b->a, b->b->a); /* the same x node */
	assert_int_equal(b->a->op, KB_ADD);
	cg_free(&kl);
	ir_graph_free(g);
}

/* A value that is a graph output and read later is materialized: it may
 * only be a group's root. */
static void test_output_materialized(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(4, 5));
	int e = op(g, OP_EXP, "e", IN(op(g, OP_NEG, "n", IN(x))));
	int t = op(g, OP_SQRT, "t", IN(op(g, OP_ADD, "a", IN(e, x))));
	ir_add_output(g, e);
	ir_add_output(g, t);
	expect(g, 2, 0, 4);
	int ge = g->node[def(g, e)].group, gt = g->node[def(g, t)].group;
	assert_true(ge > 0 && gt > 0 && ge != gt);
	assert_int_equal(g->node[def(g, g->node[def(g, e)].in[0])].group, ge);
	ir_graph_free(g);
}

/* batchnorm counts as pointwise: bn -> relu is one kernel, and after a
 * conv it is part of the epilogue. */
static void test_batchnorm(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(2, 3, 4, 4));
	int w = param(g, "w", S(3, 3, 1, 1), -1, 1);
	int bn[5];
	for (int i = 1; i < 5; i++)
		bn[i] = param(g, (const char *[]){ "", "sc", "bi", "mu", "var" }[i], S(3), i == 4 ? 0.5 : -1, 1);
	bn[0] = conv(g, "c", x, w, -1, 0);
	int y = op(g, OP_RELU, "r", IN(op(g, OP_BATCHNORM, "bn", bn, 5)));
	bn[0] = x;
	int z = op(g, OP_RELU, "r2", IN(op(g, OP_BATCHNORM, "bn2", bn, 5)));
	ir_add_output(g, y);
	ir_add_output(g, z);
	expect(g, 2, 0, 5);
	ir_graph_free(g);
}

/* --- reductions ---------------------------------------------------------------------- */

static void softmax_case(Op o, int64_t axis)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(2, 3, 4));
	int p = param(g, "p", S(3, 1), -1, 1);
	int s = op(g, o, "sm", IN(op(g, OP_MUL, "scale", IN(x, p))));
	ir_set_int(g, def(g, s), "axis", axis);
	ir_add_output(g, s);
	expect(g, 1, 0, 4);
	KernelList kl;
	run(g, 2, &kl);
	const Kernel *k = &kl.k[0];
	assert_int_equal(k->nout_var, 3);
	assert_int_equal(k->nvar, 4);
	assert_int_equal(k->extent[3], axis == 1 ? 3 : 4);
	/* softmax: exp(x - M) / S; log_softmax: (x - M) - log(S); S sums exp(x' - M) */
	const Kx *b = k->body, *d, *sum;
	if (o == OP_SOFTMAX) {
		assert_int_equal(b->op, KB_DIV);
		d = b->a->a;
		sum = b->b;
	} else {
		assert_int_equal(b->op, KB_SUB);
		d = b->a;
		sum = b->b->a;
	}
	const Kx *m = d->b;
	assert_int_equal(m->kind, KX_REDUCE);
	assert_int_equal(m->op, KR_MAX);
	assert_int_equal(sum->kind, KX_REDUCE);
	assert_int_equal(sum->op, KR_SUM);
	assert_ptr_equal(sum->a->a->b, m); /* the same max inside the sum */
	assert_ptr_not_equal(sum->a->a->a, m->a); /* no node walking r shared by two reductions */
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_softmax(void **state)
{
	(void)state;
	softmax_case(OP_SOFTMAX, 1);
	softmax_case(OP_SOFTMAX, -1);
	softmax_case(OP_LOGSOFTMAX, 1);
	softmax_case(OP_LOGSOFTMAX, 2);
}

/* softmax alone is a group of one: one kernel at -O2, three at -O0. */
static void test_softmax_alone(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(3, 7));
	ir_add_output(g, op(g, OP_SOFTMAX, "sm", IN(x)));
	expect(g, 1, 0, 3);
	ir_graph_free(g);
}

/* A training batch norm's d = x - mean and xhat = d * s, each read by
 * several loops (passes/fuse_clone.c): every reader gets its own copy of
 * the chain and inlines it, so neither is a kernel or a buffer of its
 * own: the mean, the variance, relu(xhat) and sum(xhat * x), 2 temps
 * (the mean and the variance), where 6 kernels and 4 temps were. */
static void test_clone_broadcast(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(8, 16, 8, 8));
	int mean = op(g, OP_REDUCE_MEAN, "mean", IN(x));
	ir_set_ints(g, def(g, mean), "axes", A(0, 2, 3), 3);
	int d = op(g, OP_SUB, "d", IN(x, mean));
	int var = op(g, OP_REDUCE_MEAN, "var", IN(op(g, OP_MUL, "sq", IN(d, d))));
	ir_set_ints(g, def(g, var), "axes", A(0, 2, 3), 3);
	int xhat = op(g, OP_MUL, "xhat", IN(d, var));
	int y = op(g, OP_RELU, "y", IN(xhat));
	int z = op(g, OP_REDUCE_SUM, "z", IN(op(g, OP_MUL, "p", IN(xhat, x))));
	ir_set_int(g, def(g, z), "keepdims", 0);
	ir_add_output(g, y);
	ir_add_output(g, z);
	Result r = run(g, 2, NULL);
	assert_int_equal(r.nk, 4);
	assert_int_equal(r.ntemp, 2);
	int nsub = 0, nxhat = 0;
	for (int i = 0; i < g->nnode; i++) {
		nsub += g->node[i].op == OP_SUB;
		nxhat += strcmp(g->node[i].name, "xhat") == 0;
		for (int k = 0; k < g->node[i].nin; k++) /* each copy before its reader */
			assert_true(g->node[i].in[k] < 0 || g->val[g->node[i].in[k]].kind != VK_NODE ||
				    g->val[g->node[i].in[k]].def < i);
	}
	assert_int_equal(nsub, 3); /* sq, xhat and its copy each read their own d */
	assert_int_equal(nxhat, 2);
	assert_int_equal(run(g, 2, NULL).nk, 4); /* again: nothing more to copy */
	ir_graph_free(g);
	/* under --max-memory (keep_shared) the values stay shared */
	g = ir_graph_new("m");
	x = ir_add_input(g, "x", DT_F32, S(8, 16, 8, 8));
	mean = op(g, OP_REDUCE_MEAN, "mean", IN(x));
	ir_set_ints(g, def(g, mean), "axes", A(0, 2, 3), 3);
	d = op(g, OP_SUB, "d", IN(x, mean));
	ir_add_output(g, op(g, OP_RELU, "y", IN(d)));
	ir_add_output(g, op(g, OP_EXP, "z", IN(d)));
	infer(g);
	int n0 = g->nnode;
	TrainOptions t = {.keep_shared = true};
	Options o = {.opt_level = 2, .train = &t};
	ps_fuse(g, &o);
	assert_int_equal(g->nnode, n0);
	o.train = NULL;
	ps_fuse(g, &o);
	assert_int_equal(g->nnode, n0 + 1);
	ir_graph_free(g);
}

/* exp -> reduce_sum, and (x - c)^2 -> reduce_mean: one kernel each. */
static void test_reduce_producers(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(3, 5, 2));
	int c = param(g, "c", S(5, 1), -1, 1);
	int s = op(g, OP_REDUCE_SUM, "s", IN(op(g, OP_EXP, "e", IN(x))));
	ir_set_ints(g, def(g, s), "axes", A(1), 1);
	ir_set_int(g, def(g, s), "keepdims", 0);
	int d = op(g, OP_SUB, "d", IN(x, c));
	int m = op(g, OP_REDUCE_MEAN, "m", IN(op(g, OP_MUL, "sq", IN(d, d))));
	ir_set_ints(g, def(g, m), "axes", A(0, 2), 2);
	ir_add_output(g, s);
	ir_add_output(g, m);
	expect(g, 2, 0, 5);
	KernelList kl;
	run(g, 2, &kl);
	assert_int_equal(kl.k[0].body->kind, KX_REDUCE);
	assert_int_equal(kl.k[0].body->a->kind, KX_UNARY);
	const Kx *sq = kl.k[1].body->a->a; /* mean = sum(d*d) * (1/n) */
	assert_int_equal(sq->op, KB_MUL);
	assert_ptr_equal(sq->a, sq->b);
	cg_free(&kl);
	ir_graph_free(g);
}

/* relu -> maxpool: inlined when no window leaves the input, kept apart
 * when the pool pads (its loads need guards). */
static void test_pool_producers(void **state)
{
	(void)state;
	for (int padded = 0; padded < 2; padded++) {
		Graph *g = ir_graph_new("m");
		int x = ir_add_input(g, "x", DT_F32, S(1, 2, 6, 6));
		int p = op(g, padded ? OP_MAXPOOL : OP_AVGPOOL, "pool", IN(op(g, OP_RELU, "r", IN(x))));
		ir_set_ints(g, def(g, p), "kernel", A(3, 3), 2);
		ir_set_ints(g, def(g, p), "strides", A(2, 2), 2);
		if (padded)
			ir_set_ints(g, def(g, p), "pads", A(1, 1, 1, 1), 4);
		ir_add_output(g, p);
		expect(g, padded ? 2 : 1, padded ? 1 : 0, 2);
		ir_graph_free(g);
	}
}

/* transpose -> mul: a transpose that moves runs of at least 64 elements
 * (its last axes kept in place) joins its reader's kernel as a load at
 * permuted coordinates (the activations' [N, C, HW] -> [C, N, HW] before
 * a weight gradient); one that moves the last axis, or runs of 9 (a 3x3
 * weight's [C, K, 9] -> [K, C, 9]), stays a kernel of its own (its
 * reader's loads would be strided, or short), as does one read by a
 * library call. */
static void test_transpose_producers(void **state)
{
	(void)state;
	for (int kind = 0; kind < 3; kind++) { /* inlined; the last axis moved; runs of 9 */
		Graph *g = ir_graph_new("m");
		int x = ir_add_input(g, "x", DT_F32, kind == 2 ? S(4, 5, 3, 3) : S(3, 4, 64));
		int m = ir_add_input(g, "m", DT_F32, kind == 0 ? S(4, 3, 64) : kind == 1 ? S(64, 4, 3) : S(5, 4, 3, 3));
		int t = op(g, OP_TRANSPOSE, "t", IN(op(g, OP_NEG, "n", IN(x))));
		if (kind == 2)
			ir_set_ints(g, def(g, t), "perm", A(1, 0, 2, 3), 4);
		else
			ir_set_ints(g, def(g, t), "perm", kind ? A(2, 1, 0) : A(1, 0, 2), 3);
		ir_add_output(g, op(g, OP_MUL, "y", IN(t, m)));
		/* -O2: neg, then transpose + mul (or transpose, mul apart) */
		expect(g, kind ? 3 : 2, kind ? 2 : 1, 3);
		assert_int_equal(g->node[def(g, t)].group != 0, kind == 0);
		ir_graph_free(g);
	}
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(4, 3));
	int w = param(g, "w", S(4, 3), -1, 1);
	int t = op(g, OP_TRANSPOSE, "t", IN(x));
	ir_set_ints(g, def(g, t), "perm", A(1, 0), 2);
	ir_add_output(g, op(g, OP_MATMUL, "mm", IN(t, w)));
	expect(g, 2, 1, 2); /* the call reads a buffer */
	ir_graph_free(g);
}

/* A pad is a guarded load: read in place by a pointwise reader and by a
 * strided slice (the max pool's arg-max windows on its -inf-padded
 * input), never computed into a buffer of its own; a slice read under a
 * broadcast is inlined too (one load per point). */
static void test_pad_producers(void **state)
{
	(void)state;
	for (int kind = 0; kind < 2; kind++) { /* pad -> mul; pad -> slice (steps 2) -> mul */
		Graph *g = ir_graph_new("m");
		int x = ir_add_input(g, "x", DT_F32, S(2, 3, 5, 6));
		int m = ir_add_input(g, "m", DT_F32, kind ? S(2, 3, 4, 4) : S(2, 3, 7, 8));
		int xr = op(g, OP_RELU, "r", IN(x));
		int p = op(g, OP_PAD, "p", IN(xr));
		ir_set_ints(g, def(g, p), "pads", A(0, 0, 1, 1, 0, 0, 1, 1), 8);
		ir_set_float(g, def(g, p), "value", -2.5);
		int v = p;
		if (kind) {
			v = op(g, OP_SLICE, "s", IN(p));
			ir_set_ints(g, def(g, v), "starts", A(0, 1), 2);
			ir_set_ints(g, def(g, v), "ends", A(7, 8), 2);
			ir_set_ints(g, def(g, v), "axes", A(2, 3), 2);
			ir_set_ints(g, def(g, v), "steps", A(2, 2), 2);
		}
		ir_add_output(g, op(g, OP_MUL, "y", IN(v, m)));
		expect(g, 2, 1, kind ? 4 : 3); /* relu; pad (+ slice) + mul */
		assert_int_not_equal(g->node[def(g, p)].group, 0);
		ir_graph_free(g);
	}
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(2, 5, 1, 6));
	int m = ir_add_input(g, "m", DT_F32, S(2, 4, 3, 6));
	int s = op(g, OP_SLICE, "s", IN(op(g, OP_RELU, "r", IN(x))));
	ir_set_ints(g, def(g, s), "starts", A(1), 1);
	ir_set_ints(g, def(g, s), "ends", A(5), 1);
	ir_set_ints(g, def(g, s), "axes", A(1), 1);
	ir_add_output(g, op(g, OP_MUL, "y", IN(s, m))); /* s read 3 times per element */
	expect(g, 2, 1, 3);
	assert_int_not_equal(g->node[def(g, s)].group, 0);
	ir_graph_free(g);
}

/* --- -O0, views, bad groups ------------------------------------------------------------ */

static void test_O0_and_views(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(2, 6));
	int a = op(g, OP_RELU, "a", IN(op(g, OP_NEG, "n", IN(x))));
	int r = op(g, OP_RESHAPE, "v", IN(a));
	ir_set_ints(g, def(g, r), "shape", A(3, 4), 2);
	int y = op(g, OP_EXP, "y", IN(op(g, OP_TANH, "t", IN(r))));
	ir_add_output(g, y);
	/* the view ends the first group: relu(neg) and exp(tanh) */
	expect(g, 2, 1, 4);
	assert_int_equal(g->node[def(g, r)].group, 0);
	Options o = { .opt_level = 0 };
	ps_fuse(g, &o);
	for (int i = 0; i < g->nnode; i++)
		assert_int_equal(g->node[i].group, 0);
	ir_graph_free(g);
}

static void test_bad_groups(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(4));
	int a = op(g, OP_NEG, "a", IN(x));
	int b = op(g, OP_EXP, "b", IN(a));
	ir_add_output(g, a);
	ir_add_output(g, b);
	infer(g);
	g->node[def(g, a)].group = g->node[def(g, b)].group = 1; /* a is an output, not the root */
	KernelList kl;
	Diag d;
	diag_init(&d);
	assert_int_equal(cg_lower(g, &kl, &d), -1);
	assert_non_null(strstr(d.msg, "graph output is not the group's root"));
	assert_non_null(strstr(d.msg, "\"a\""));
	ir_graph_free(g);

	g = ir_graph_new("m");
	x = ir_add_input(g, "x", DT_F32, S(2, 4));
	int w = param(g, "w", S(4, 3), -1, 1);
	a = op(g, OP_NEG, "a", IN(x));
	int m = op(g, OP_MATMUL, "mm", IN(a, w));
	ir_add_output(g, m);
	infer(g);
	g->node[def(g, a)].group = g->node[def(g, m)].group = 3; /* a call cannot read inline */
	diag_init(&d);
	assert_int_equal(cg_lower(g, &kl, &d), -1);
	assert_non_null(strstr(d.msg, "cannot be computed inline"));
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conv_epilogue),
		cmocka_unit_test(test_two_conv_residual),
		cmocka_unit_test(test_matmul_epilogue),
		cmocka_unit_test(test_call_output_not_fused),
		cmocka_unit_test(test_chain5),
		cmocka_unit_test(test_broadcast_producer_kept),
		cmocka_unit_test(test_swish_sharing),
		cmocka_unit_test(test_output_materialized),
		cmocka_unit_test(test_batchnorm),
		cmocka_unit_test(test_softmax),
		cmocka_unit_test(test_softmax_alone),
		cmocka_unit_test(test_reduce_producers),
		cmocka_unit_test(test_clone_broadcast),
		cmocka_unit_test(test_pool_producers),
		cmocka_unit_test(test_transpose_producers),
		cmocka_unit_test(test_pad_producers),
		cmocka_unit_test(test_O0_and_views),
		cmocka_unit_test(test_bad_groups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
