/* test_remat.c — the recomputation pass behind --max-memory (passes/remat.c):
 * which forward values are candidates and at what cost, where the clones go
 * and who reads them, that the graph computes the same outputs afterwards
 * (ir_eval bit for bit, and the fused, lowered kernels against ir_eval), and
 * the early placement of optimizer updates, and backward work moved into
 * the forward pass (ps_remat_hoist). Graphs are built by hand with
 * autodiff's naming: backward nodes "grad...", updates "optimizer...". */
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

static const RematCand *cand(const RematCand *c, int n, const char *value)
{
	for (int i = 0; i < n; i++)
		if (strcmp(c[i].value, value) == 0)
			return &c[i];
	return NULL;
}

static void same_outputs(Graph *g, Tensor *before)
{
	Tensor after[4];
	eval_fixed(g, after);
	for (int o = 0; o < g->noutput; o++) {
		int64_t n = ir_shape_numel(&before[o].shape);
		assert_memory_equal(after[o].data, before[o].data, (size_t)n * 4);
		ir_tensor_free(&after[o]);
		ir_tensor_free(&before[o]);
	}
}

/* The outputs of g into before[], then value recomputed (ps_remat). */
static void remat_value(Graph *g, const char *value, Tensor *before)
{
	eval_fixed(g, before);
	Diag d;
	diag_init(&d);
	const char *v[] = {value};
	assert_int_equal(ps_remat(g, v, 1, &d), 0);
}

/* forward: a = x @ w, b = tanh(a), c = b @ w; backward reads a, b and c.
 * a is read twice (tanh, grad/2), so b's chain is tanh alone (pointwise). */
static Graph *mlp_like(bool a_read_by_backward)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(16, 8));
	int w = param(g, "w", S(8, 8), -1, 1);
	int a = op(g, OP_MATMUL, "fwd/mm", IN(x, w));
	int b = op(g, OP_TANH, "fwd/tanh", IN(a));
	int c = op(g, OP_MATMUL, "fwd/mm2", IN(b, w));
	int e = op(g, OP_SIGMOID, "fwd/sig", IN(c));
	int g1 = op(g, OP_MUL, "grad/1", IN(e, c));
	int g2 = op(g, OP_MUL, "grad/2", IN(g1, b));
	int g3 = a_read_by_backward ? op(g, OP_ADD, "grad/3", IN(g2, a)) : op(g, OP_ADD, "grad/3", IN(g2, x));
	ir_add_output(g, g3);
	infer(g);
	ir_fill_uses(g);
	return g;
}

static void test_candidates(void **state)
{
	(void)state;
	RematCand c[16];
	Graph *g = mlp_like(true);
	int n = ps_remat_candidates(g, c, 16);
	int vb = g->node[node_named(g, "fwd/tanh")].out[0], va = g->node[node_named(g, "fwd/mm")].out[0];
	int vc = g->node[node_named(g, "fwd/mm2")].out[0];
	const RematCand *b = cand(c, n, g->val[vb].name);
	assert_non_null(b);
	assert_int_equal(b->cost, 0); /* tanh alone: a is live anyway */
	assert_int_equal(b->bytes, 16 * 8 * 4);
	const RematCand *ca = cand(c, n, g->val[va].name), *cc = cand(c, n, g->val[vc].name);
	assert_non_null(ca);
	assert_int_equal(ca->cost, 2); /* a matmul: checkpointing */
	assert_non_null(cc);
	assert_int_equal(cc->cost, 2);
	ir_graph_free(g);

	g = mlp_like(false); /* a read by tanh only: b's chain is matmul + tanh */
	n = ps_remat_candidates(g, c, 16);
	vb = g->node[node_named(g, "fwd/tanh")].out[0];
	va = g->node[node_named(g, "fwd/mm")].out[0];
	b = cand(c, n, g->val[vb].name);
	assert_non_null(b);
	assert_int_equal(b->cost, 2);
	assert_null(cand(c, n, g->val[va].name)); /* no backward reader */
	ir_graph_free(g);
}

static void test_clone_pointwise(void **state)
{
	(void)state;
	Graph *g = mlp_like(true);
	Tensor before[4];
	eval_fixed(g, before);
	int vb = g->node[node_named(g, "fwd/tanh")].out[0];
	const char *names[] = { g->val[vb].name };
	Diag d;
	diag_init(&d);
	int nn = g->nnode;
	assert_int_equal(ps_remat(g, names, 1, &d), 0);
	assert_int_equal(g->nnode, nn + 1);
	int r = node_named(g, "remat/fwd/tanh"), g2 = node_named(g, "grad/2");
	assert_true(r >= 0);
	assert_int_equal(r, g2 - 1); /* right before its first backward reader */
	assert_int_equal(g->node[r].op, OP_TANH);
	assert_int_equal(g->node[r].in[0], g->node[node_named(g, "fwd/mm")].out[0]);
	assert_int_equal(g->node[g2].in[1], g->node[r].out[0]); /* backward reads the copy */
	assert_int_equal(g->node[node_named(g, "fwd/mm2")].in[0], vb); /* forward keeps the original */
	assert_int_equal(ir_verify(g, &d), 0);
	same_outputs(g, before);
	run(g, 2, NULL); /* fused and lowered kernels agree with ir_eval */
	ir_graph_free(g);
}

static void test_clone_chain(void **state)
{
	(void)state;
	Graph *g = mlp_like(false);
	Tensor before[4];
	eval_fixed(g, before);
	int vb = g->node[node_named(g, "fwd/tanh")].out[0];
	const char *names[] = { g->val[vb].name };
	Diag d;
	diag_init(&d);
	assert_int_equal(ps_remat(g, names, 1, &d), 0);
	int m = node_named(g, "remat/fwd/mm"), t = node_named(g, "remat/fwd/tanh");
	assert_true(m >= 0 && t == m + 1);
	assert_int_equal(g->node[t].in[0], g->node[m].out[0]); /* the chain reads its own copy */
	assert_int_equal(ir_verify(g, &d), 0);
	same_outputs(g, before);
	run(g, 2, NULL);
	ir_graph_free(g);
}

static void test_several_and_errors(void **state)
{
	(void)state;
	Graph *g = mlp_like(true);
	Tensor before[4];
	eval_fixed(g, before);
	int vb = g->node[node_named(g, "fwd/tanh")].out[0], vc = g->node[node_named(g, "fwd/mm2")].out[0];
	const char *names[] = { g->val[vb].name, g->val[vc].name };
	Diag d;
	diag_init(&d);
	assert_int_equal(ps_remat(g, names, 2, &d), 0);
	/* c's copy (a matmul of b) reads b's copy: the later value went first */
	int rc = node_named(g, "remat/fwd/mm2"), rb = node_named(g, "remat/fwd/tanh");
	assert_true(rc >= 0 && rb >= 0 && rb < rc);
	assert_int_equal(g->node[rc].in[0], g->node[rb].out[0]);
	assert_int_equal(ir_verify(g, &d), 0);
	same_outputs(g, before);
	const char *bad[] = { "nope" };
	assert_int_equal(ps_remat(g, bad, 1, &d), -1);
	assert_non_null(strstr(d.msg, "nope"));
	ir_graph_free(g);
}

/* batch norm's shape: x = x0 @ w (the convolution's place), s = x - m,
 * h = s * r (m, r small),
 * y = tanh(h), x2 = x * m; backward grad/1 = y * h, grad/2 = grad/1 * s,
 * grad/3 = grad/2 + x2. h is free to recompute at grad/1 (s is live there
 * for grad/2): it is cloned there, fused into grad/1's kernel, and leaves
 * the forward pass one buffer lighter; so is y, through its own copy of h
 * (a chain through a value recomputed itself copies it: ReLU after batch
 * norm's normalized value). s is not (x, read twice, dies in the forward
 * pass, and a copy of it would take the matmul), nor x2. With grad/2
 * reading x0 instead of s, h is not free (s would die in the forward
 * pass, x too), and y is (h is read at grad/1 anyway). */
static Graph *bn_like(bool s_read_by_backward)
{
	Graph *g = ir_graph_new("m");
	int x0 = ir_add_input(g, "x0", DT_F32, S(64, 64));
	int m = param(g, "m", S(1, 64), -1, 1), r = param(g, "r", S(1, 64), 0.5, 1.5);
	int w = param(g, "w", S(64, 64), -1, 1);
	int x = op(g, OP_MATMUL, "fwd/x", IN(x0, w));
	int s = op(g, OP_SUB, "fwd/sub", IN(x, m));
	int h = op(g, OP_MUL, "fwd/mul", IN(s, r));
	int y = op(g, OP_TANH, "fwd/tanh", IN(h));
	int x2 = op(g, OP_MUL, "fwd/x2", IN(x, m));
	int g1 = op(g, OP_MUL, "grad/1", IN(y, h));
	int g2 = op(g, OP_MUL, "grad/2", IN(g1, s_read_by_backward ? s : x0));
	ir_add_output(g, op(g, OP_ADD, "grad/3", IN(g2, x2)));
	infer(g);
	ir_fill_uses(g);
	return g;
}

static void test_free_values(void **state)
{
	(void)state;
	Graph *g = bn_like(true);
	Tensor before[4];
	eval_fixed(g, before);
	Diag d;
	diag_init(&d);
	assert_int_equal(ps_remat_free(g, &d), 2);
	int g1 = node_named(g, "grad/1");
	const Node *n1 = &g->node[g1];
	int ry = g->val[n1->in[0]].def, rh = g->val[n1->in[1]].def;
	assert_string_equal(g->node[ry].name, "remat/fwd/tanh");
	assert_string_equal(g->node[rh].name, "remat/fwd/mul");
	int ryh = g->val[g->node[ry].in[0]].def; /* y's own copy of h */
	assert_string_equal(g->node[ryh].name, "remat/fwd/mul");
	assert_true(ryh != rh && ry < g1 && rh < g1 && ryh < ry);
	assert_true(node_named(g, "remat/fwd/sub") < 0 && node_named(g, "remat/fwd/x2") < 0);
	assert_int_equal(ir_verify(g, &d), 0);
	same_outputs(g, before);
	KernelList kl;
	run(g, 2, &kl);
	int grp = g->node[g1].group;
	assert_true(grp != 0 && g->node[ry].group == grp && g->node[rh].group == grp &&
		    g->node[ryh].group == grp); /* no buffer */
	int hv = g->node[node_named(g, "fwd/mul")].out[0], yv = g->node[node_named(g, "fwd/tanh")].out[0];
	assert_true(g->node[node_named(g, "fwd/mul")].group ==
		    g->node[node_named(g, "fwd/tanh")].group); /* h inlined into tanh */
	for (int b = 0; b < kl.nbuf; b++)
		assert_true(kl.buf[b].kind != BUF_TEMP || (kl.buf[b].value != hv && kl.buf[b].value != yv));
	cg_free(&kl);
	ir_graph_free(g);

	g = bn_like(false);
	eval_fixed(g, before);
	assert_int_equal(ps_remat_free(g, &d), 1);
	assert_true(node_named(g, "remat/fwd/mul") < 0);
	assert_int_equal(node_named(g, "remat/fwd/tanh"), node_named(g, "grad/1") - 1);
	same_outputs(g, before);
	ir_graph_free(g);
}

/* forward: s = x0 - m, x = tanh(s), y = sum(x) over rows; backward:
 * grad/p = max(x) over rows (reads only x: work the forward pass can do),
 * grad/a = s * m, grad/q = grad/a * grad/p, grad/r = grad/q * x,
 * grad/t = grad/r + s. x (64 x 64) has two backward readers: grad/p and
 * grad/r, where x is free to recompute (s is live there). ps_remat_hoist
 * moves grad/p (64 floats) to right after x, renamed hoist/grad/p, and
 * ps_remat_free then recomputes x at grad/r: x dies in the forward pass.
 * Without grad/t, s dies before grad/r, x is not free there, and nothing
 * moves (the row maxima would only add to what the backward pass keeps). */
static Graph *hoist_like(bool s_live)
{
	Graph *g = ir_graph_new("m");
	int x0 = ir_add_input(g, "x0", DT_F32, S(64, 64));
	int m = param(g, "m", S(1, 64), -1, 1);
	int s = op(g, OP_SUB, "fwd/sub", IN(x0, m));
	int x = op(g, OP_TANH, "fwd/x", IN(s));
	int y = op(g, OP_REDUCE_SUM, "fwd/y", IN(x));
	ir_set_ints(g, def(g, y), "axes", A(1), 1);
	int p = op(g, OP_REDUCE_MAX, "grad/p", IN(x));
	ir_set_ints(g, def(g, p), "axes", A(1), 1);
	ir_set_int(g, def(g, p), "keepdims", 0); /* else fusion joins it to grad/q's kernel */
	int a = op(g, OP_MUL, "grad/a", IN(s, m));
	int q = op(g, OP_MUL, "grad/q", IN(a, p));
	int r = op(g, OP_MUL, "grad/r", IN(q, x));
	ir_add_output(g, y);
	ir_add_output(g, s_live ? op(g, OP_ADD, "grad/t", IN(r, s)) : r);
	infer(g);
	ir_fill_uses(g);
	return g;
}

static void test_hoist(void **state)
{
	(void)state;
	Graph *g = hoist_like(true);
	Tensor before[4];
	eval_fixed(g, before);
	Diag d;
	diag_init(&d);
	assert_int_equal(ps_remat_hoist(g), 1);
	int h = node_named(g, "hoist/grad/p");
	assert_true(h >= 0 && node_named(g, "grad/p") < 0);
	assert_int_equal(h, node_named(g, "fwd/x") + 1);
	assert_true(node_named(g, "grad/a") > h); /* reads another rule's value: stays */
	assert_int_equal(ir_verify(g, &d), 0);
	assert_int_equal(ps_remat_free(g, &d), 1);
	int rx = node_named(g, "remat/fwd/x"), gr = node_named(g, "grad/r");
	assert_int_equal(rx, gr - 1);
	assert_int_equal(g->node[gr].in[1], g->node[rx].out[0]);
	assert_int_equal(ir_verify(g, &d), 0);
	same_outputs(g, before);
	KernelList kl;
	run(g, 2, &kl);
	int xv = g->node[node_named(g, "fwd/x")].out[0], first_bw = -1;
	for (int k = 0; k < kl.nk && first_bw < 0; k++)
		if (strncmp(g->node[kl.k[k].node].name, "grad", 4) == 0)
			first_bw = k;
	assert_true(first_bw > 0);
	for (int b = 0; b < kl.nbuf; b++) /* x, if it has a buffer, dies in the forward pass */
		assert_true(kl.buf[b].kind != BUF_TEMP || kl.buf[b].value != xv || kl.buf[b].last < first_bw);
	cg_free(&kl);
	ir_graph_free(g);

	g = hoist_like(false);
	assert_int_equal(ps_remat_hoist(g), 0);
	assert_true(node_named(g, "grad/p") >= 0 && node_named(g, "hoist/grad/p") < 0);
	ir_graph_free(g);
}

/* x = tanh(x0) is read twice in the forward pass (a = relu(x), b = neg(x))
 * and by no backward node; recomputing b for grad/1 copies x too (reading
 * x there would keep it alive through the backward pass). */
static void test_chain_through_dead(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x0 = ir_add_input(g, "x0", DT_F32, S(16, 16));
	int x = op(g, OP_TANH, "fwd/x", IN(x0));
	int a = op(g, OP_RELU, "fwd/a", IN(x));
	int b = op(g, OP_NEG, "fwd/b", IN(x));
	int y = op(g, OP_ADD, "fwd/y", IN(a, b));
	int g1 = op(g, OP_MUL, "grad/1", IN(y, b));
	ir_add_output(g, g1);
	infer(g);
	ir_fill_uses(g);
	Tensor before[4];
	remat_value(g, "fwd/b", before);
	Diag d;
	diag_init(&d);
	int rb = node_named(g, "remat/fwd/b"), rx = node_named(g, "remat/fwd/x"), gi = node_named(g, "grad/1");
	assert_true(rx >= 0 && rx < rb && rb < gi);
	assert_int_equal(g->node[rb].in[0], g->node[rx].out[0]);
	assert_int_equal(g->node[gi].in[1], g->node[rb].out[0]);
	assert_int_equal(ir_verify(g, &d), 0);
	same_outputs(g, before);
	ir_graph_free(g);
}

/* forward: x = tanh(x0), m = mean(x) over rows (64 floats), c = x - m,
 * y = relu(c); backward: grad/1 = y * c. Recomputing c reads m, which
 * no backward node reads: being 64 times smaller than c, it stays alive
 * rather than recomputed from x (a batch norm's mean, whose recompute
 * would read the big input once more and fuse a reduction into c's
 * kernel). x is as big as c, dead in the forward pass: it is recomputed. */
static void test_chain_keeps_small(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x0 = ir_add_input(g, "x0", DT_F32, S(64, 64));
	int x = op(g, OP_TANH, "fwd/x", IN(x0));
	int m = op(g, OP_REDUCE_MEAN, "fwd/m", IN(x));
	ir_set_ints(g, def(g, m), "axes", A(0), 1);
	int c = op(g, OP_SUB, "fwd/c", IN(x, m));
	int y = op(g, OP_RELU, "fwd/y", IN(c));
	ir_add_output(g, op(g, OP_MUL, "grad/1", IN(y, c)));
	infer(g);
	ir_fill_uses(g);
	Tensor before[4];
	remat_value(g, "fwd/c", before);
	Diag d;
	diag_init(&d);
	int rc = node_named(g, "remat/fwd/c"), rx = node_named(g, "remat/fwd/x"), gi = node_named(g, "grad/1");
	assert_true(rx >= 0 && rx < rc && rc < gi);
	assert_int_equal(node_named(g, "remat/fwd/m"), -1); /* the mean is read, not recomputed */
	assert_int_equal(g->node[rc].in[0], g->node[rx].out[0]);
	assert_int_equal(g->node[rc].in[1], m);
	assert_int_equal(g->node[gi].in[1], g->node[rc].out[0]);
	assert_int_equal(ir_verify(g, &d), 0);
	same_outputs(g, before);
	run(g, 2, NULL);
	ir_graph_free(g);
}

/* forward: z = x0 * s + b (s, b per column), y = relu(z), out = sum(y);
 * backward: grad/w = y @ w2 (a library call reading y; without matmul, x0
 * stands in its place), grad/m = y > 0, grad/g = where(grad/m, grad/w, 0). */
static Graph *mask_like(bool matmul, int *x0)
{
	Graph *g = ir_graph_new(matmul ? "m" : "m2");
	*x0 = ir_add_input(g, "x0", DT_F32, S(64, 64));
	int sc = param(g, "s", S(1, 64), -1, 1), bi = param(g, "b", S(1, 64), -1, 1);
	int w2 = matmul ? param(g, "w2", S(64, 64), -1, 1) : -1, zero = param(g, "zero", S(), 0, 0);
	int h = op(g, OP_MUL, "fwd/h", IN(*x0, sc));
	int z = op(g, OP_ADD, "fwd/z", IN(h, bi));
	int y = op(g, OP_RELU, "fwd/y", IN(z));
	int out = op(g, OP_REDUCE_SUM, "fwd/out", IN(y));
	ir_set_ints(g, def(g, out), "axes", A(1), 1);
	int gw = matmul ? op(g, OP_MATMUL, "grad/w", IN(y, w2)) : *x0;
	int gm = op(g, OP_GREATER, "grad/m", IN(y, zero));
	ir_add_output(g, out);
	ir_add_output(g, op(g, OP_WHERE, "grad/g", IN(gm, gw, zero)));
	infer(g);
	ir_fill_uses(g);
	return g;
}

/* With y recomputed (ps_remat), the mask reads its own copy of z's
 * recomputation (x0 * s + b, from values there anyway: the input and
 * parameters), so the recomputed ReLU is read by the matmul alone and
 * dies there; the same outputs (relu(z) > 0 exactly when z > 0). A mask
 * whose ReLU is the forward one is left. */
static void test_masks(void **state)
{
	(void)state;
	int x0;
	Graph *g = mask_like(true, &x0);
	Diag d;
	diag_init(&d);
	assert_int_equal(ps_remat_masks(g, &d), 0); /* the forward ReLU's mask stays */
	Tensor before[4];
	remat_value(g, "fwd/y", before);
	assert_int_equal(ps_remat_masks(g, &d), 1);
	int m = node_named(g, "grad/m"), ry = node_named(g, "remat/fwd/y"), mw = node_named(g, "grad/w");
	int cz = g->val[g->node[m].in[0]].def, ch = g->val[g->node[cz].in[0]].def;
	assert_string_equal(g->node[cz].name, "remat/fwd/z/mask");
	assert_string_equal(g->node[ch].name, "remat/fwd/h/mask");
	assert_int_equal(g->node[ch].in[0], x0); /* from the input and parameters */
	assert_true(ry < mw && ch < cz && cz < m);
	for (int i = 0; i < g->nnode; i++) /* the recomputed ReLU: the matmul its only reader */
		for (int k = 0; k < g->node[i].nin && !g->node[i].dead; k++)
			assert_true(g->node[i].in[k] != g->node[ry].out[0] || i == mw);
	assert_int_equal(ir_verify(g, &d), 0);
	same_outputs(g, before);
	run(g, 2, NULL);
	ir_graph_free(g);

	/* y recomputed where the mask is its only backward reader: after
	 * the rewrite and DCE (as the pipeline runs them) the recomputed ReLU
	 * is gone */
	g = mask_like(false, &x0);
	remat_value(g, "fwd/y", before);
	assert_int_equal(ps_remat_masks(g, &d), 1);
	Options o = {.opt_level = 2};
	ps_dce(g, &o);
	ry = node_named(g, "remat/fwd/y");
	assert_true(node_named(g, "remat/fwd/z/mask") >= 0);
	assert_true(ry < 0 || g->node[ry].dead);
	same_outputs(g, before);
	ir_graph_free(g);
}

/* an update reading only the first gradient moves up before grad/2 */
static void test_early_updates(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(4, 4));
	int w = param(g, "w", S(4, 4), -1, 1);
	int f = op(g, OP_TANH, "fwd", IN(x));
	int g1 = op(g, OP_MUL, "grad/1", IN(f, w));
	int g2 = op(g, OP_MUL, "grad/2", IN(g1, f));
	int g3 = op(g, OP_SUB, "grad/3", IN(g2, x));
	int u = op(g, OP_SUB, "optimizer/w", IN(w, g1));
	int u2 = op(g, OP_MUL, "optimizer/w2", IN(u, g3));
	ir_add_output(g, g3);
	ir_add_output(g, u2);
	infer(g);
	Tensor before[4];
	eval_fixed(g, before);
	ps_remat_early_updates(g);
	Diag d;
	diag_init(&d);
	assert_int_equal(ir_verify(g, &d), 0);
	assert_int_equal(node_named(g, "optimizer/w"), node_named(g, "grad/1") + 1);
	assert_int_equal(node_named(g, "optimizer/w2"), node_named(g, "grad/3") + 1);
	assert_int_equal(g->val[u].def, node_named(g, "optimizer/w"));
	same_outputs(g, before);
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_candidates),
		cmocka_unit_test(test_clone_pointwise),
		cmocka_unit_test(test_clone_chain),
		cmocka_unit_test(test_several_and_errors),
		cmocka_unit_test(test_free_values),
		cmocka_unit_test(test_hoist),
		cmocka_unit_test(test_chain_through_dead),
		cmocka_unit_test(test_chain_keeps_small),
		cmocka_unit_test(test_masks),
		cmocka_unit_test(test_early_updates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
