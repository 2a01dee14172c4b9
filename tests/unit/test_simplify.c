/* test_simplify.c — differential tests of the simplification passes: each
 * test builds a graph, runs a pass (or the whole -O2 pipeline) on a copy,
 * checks that the pass did what it should (nodes gone, ops replaced), that
 * the result verifies, and that the reference interpreter gives the same
 * outputs before and after on random inputs (to 1e-5). The copy goes
 * through print and parse, so the tests also cover those on the graphs the
 * passes make. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "passes/passes.h"

/* ---- helpers ---------------------------------------------------------------- */

static uint64_t rng = 88172645463325252ull;

static double urand(void) /* in [-1, 1) */
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / (double)(1ull << 52) - 1.0;
}

static Graph *parse_ok(const char *src)
{
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "test.ir", &d);
	if (!g)
		fail_msg("parse failed: %s\n%s", d.msg, src);
	if (ps_infer_shapes(g, &d))
		fail_msg("shape inference failed: %s", d.msg);
	return g;
}

/* A deep copy through the text form (every constant's data printed). */
static Graph *clone(const Graph *g)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	ir_print(g, f, IR_PRINT_DATA);
	fclose(f);
	Graph *c = parse_ok(buf);
	free(buf);
	return c;
}

static void verify_ok(const Graph *g)
{
	Diag d;
	diag_init(&d);
	if (ir_verify(g, &d))
		fail_msg("verify failed: %s", d.msg);
}

/* Live nodes of op (OP_COUNT: all). */
static int count(const Graph *g, Op op)
{
	int c = 0;
	for (int i = 0; i < g->nnode; i++)
		c += !g->node[i].dead && (op == OP_COUNT || g->node[i].op == op);
	return c;
}

/* Random tensor of value v's type; dims with symbols take n_sym. */
static Tensor rand_input(const Graph *g, int v, int64_t n_sym)
{
	const Value *x = &g->val[v];
	Shape s = x->shape;
	for (int i = 0; i < s.rank; i++)
		if (s.d[i].sym || s.d[i].n < 0)
			s.d[i] = (Dim){n_sym, 0};
	int64_t n = ir_shape_numel(&s);
	assert_true(n >= 0 && x->dtype == DT_F32);
	float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
	for (int64_t i = 0; i < n; i++)
		p[i] = (float)(2 * urand());
	return (Tensor){DT_F32, s, p};
}

/* Runs a and b on the same random inputs (symbolic dims = n_sym) and
 * compares every output: same dtype and shape, values within 1e-5. */
static void same_results(const Graph *a, const Graph *b, int64_t n_sym)
{
	assert_int_equal(a->ninput, b->ninput);
	assert_int_equal(a->noutput, b->noutput);
	for (int round = 0; round < 3; round++) {
		Tensor in[8], oa[8], ob[8];
		assert_true(a->ninput <= 8 && a->noutput <= 8);
		for (int i = 0; i < a->ninput; i++)
			in[i] = rand_input(a, a->input[i], n_sym);
		Diag d;
		diag_init(&d);
		if (ir_eval(a, in, oa, &d))
			fail_msg("eval before: %s", d.msg);
		if (ir_eval(b, in, ob, &d))
			fail_msg("eval after: %s", d.msg);
		for (int k = 0; k < a->noutput; k++) {
			assert_string_equal(a->val[a->output[k]].name, b->val[b->output[k]].name);
			assert_int_equal(oa[k].dtype, ob[k].dtype);
			assert_true(ir_shape_eq(&oa[k].shape, &ob[k].shape));
			int64_t n = ir_shape_numel(&oa[k].shape);
			for (int64_t i = 0; i < n; i++) {
				double x, y;
				if (oa[k].dtype == DT_F32) {
					x = ((float *)oa[k].data)[i];
					y = ((float *)ob[k].data)[i];
				} else {
					assert_int_equal(oa[k].dtype, DT_I64);
					x = (double)((int64_t *)oa[k].data)[i];
					y = (double)((int64_t *)ob[k].data)[i];
				}
				if (!(fabs(x - y) <= 1e-5 * fmax(1, fabs(x))))
					fail_msg("output %d element %lld: %.9g before, %.9g after", k,
						(long long)i, x, y);
			}
			ir_tensor_free(&oa[k]);
			ir_tensor_free(&ob[k]);
		}
		for (int i = 0; i < a->ninput; i++)
			free(in[i].data);
	}
}

static const Options O2 = {.opt_level = 2};

/* Runs pass on a copy of g, verifies, compares with g; returns the copy. */
static Graph *run_pass(const Graph *g, void (*pass)(Graph *, const Options *), int64_t n_sym)
{
	Graph *h = clone(g);
	pass(h, &O2);
	verify_ok(h);
	ps_dce(h, &O2);
	verify_ok(h);
	same_results(g, h, n_sym);
	return h;
}

/* A constant of random values. */
static int rconst(Graph *g, const char *name, int rank, const int64_t *dims, double lo, double hi)
{
	Shape s = ir_shape_make(rank, dims);
	int64_t n = ir_shape_numel(&s);
	float *p = malloc((size_t)n * sizeof *p);
	for (int64_t i = 0; i < n; i++)
		p[i] = (float)(lo + (hi - lo) * (urand() + 1) / 2);
	int v = ir_add_const(g, name, DT_F32, s, p, (size_t)n * sizeof *p, true);
	free(p);
	return v;
}

#define DIMS(...) (sizeof((int64_t[]){__VA_ARGS__}) / 8), (int64_t[]){__VA_ARGS__}

/* ---- tests ------------------------------------------------------------------ */

static void test_fold(void **state)
{
	(void)state;
	Graph *g = parse_ok(
		"graph t {\n"
		"  input %x: f32[2, 3]\n"
		"  const %a: f32[3, 2] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]\n"
		"  const %b: f32[3] = [0.5, -1.0, 2.0]\n"
		"  %at = transpose(%a)\n"
		"  %e = exp(%b)\n"
		"  %s = add(%at, %e)\n"
		"  %m = mul(%x, %s)\n"
		"  %sh = shape(%m)\n"
		"  %c = cast(%sh) {to = \"f32\"}\n"
		"  %r = reduce_sum(%c) {keepdims = 0}\n"
		"  %y = add(%m, %r)\n"
		"  output %y\n"
		"}\n");
	Graph *h = run_pass(g, ps_fold, 0);
	assert_int_equal(count(g, OP_COUNT), 8);
	assert_int_equal(count(h, OP_COUNT), 2); /* mul and the last add */
	assert_int_equal(count(h, OP_TRANSPOSE) + count(h, OP_EXP) + count(h, OP_SHAPE), 0);
	ir_graph_free(h);
	ir_graph_free(g);
}

static void test_algebraic(void **state)
{
	(void)state;
	Graph *g = parse_ok(
		"graph t {\n"
		"  input %x: f32[N, 2, 3]\n"
		"  const %one: f32[3] = [1.0, 1.0, 1.0]\n"
		"  const %zero: f32[1] = [0.0]\n"
		"  %a = mul(%x, %one)\n"
		"  %b = sub(%a, %zero)\n"
		"  %t1 = transpose(%b) {perm = [2, 0, 1]}\n"
		"  %t2 = transpose(%t1) {perm = [0, 2, 1]}\n"
		"  %t3 = transpose(%t2) {perm = [1, 2, 0]}\n"
		"  %r1 = reshape(%t3) {shape = [0, -1]}\n"
		"  %r2 = unsqueeze(%r1) {axes = [1]}\n"
		"  %r3 = flatten(%r2) {axis = 2}\n"
		"  %i = identity(%r3)\n"
		"  %y = relu(%i)\n"
		"  %z = add(%zero, %t1)\n"
		"  output %y\n"
		"  output %z\n"
		"}\n");
	Graph *h = run_pass(g, ps_algebraic, 4);
	assert_int_equal(count(h, OP_MUL) + count(h, OP_SUB) + count(h, OP_IDENTITY), 0);
	assert_int_equal(count(h, OP_ADD), 0);
	assert_int_equal(count(h, OP_TRANSPOSE), 2); /* t1 (an output) and t2∘t3 */
	assert_int_equal(count(h, OP_RESHAPE), 1);
	assert_int_equal(count(h, OP_FLATTEN) + count(h, OP_UNSQUEEZE), 0);
	ir_graph_free(h);
	ir_graph_free(g);
}

/* matmul(a, W, trans_b) with constant W: W^T is a new constant, shared by
 * both matmuls of W; a W computed at run time is left alone. */
static void test_const_trans_b(void **state)
{
	(void)state;
	Graph *g = parse_ok(
		"graph t {\n"
		"  input %x: f32[N, 3]\n"
		"  input %v: f32[2, 3]\n"
		"  const %w: f32[2, 3] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]\n"
		"  %a = matmul(%x, %w) {trans_b = 1}\n"
		"  %b = matmul(%x, %w) {trans_b = 1}\n"
		"  %c = matmul(%x, %v) {trans_b = 1}\n"
		"  %y = add(%a, %b)\n"
		"  %z = add(%y, %c)\n"
		"  output %z\n"
		"}\n");
	Graph *h = run_pass(g, ps_algebraic, 3);
	int flipped = 0, kept = 0, wt = -1;
	for (int i = 0; i < h->nnode; i++) {
		const Node *n = &h->node[i];
		if (n->dead || n->op != OP_MATMUL)
			continue;
		if (ir_attr_int(n, "trans_b", 0)) {
			kept++;
			assert_string_equal(h->val[n->in[1]].name, "v");
			continue;
		}
		flipped++;
		const Value *t = &h->val[n->in[1]];
		assert_true(t->shape.rank == 2 && t->shape.d[0].n == 3 && t->shape.d[1].n == 2);
		assert_true(wt < 0 || wt == n->in[1]); /* one W^T for both */
		wt = n->in[1];
		const float *d = t->data;
		assert_true(d[0] == 1.0f && d[1] == 4.0f && d[2] == 2.0f && d[5] == 6.0f);
	}
	assert_int_equal(flipped, 2);
	assert_int_equal(kept, 1);
	ir_graph_free(h);
	ir_graph_free(g);
}

static void test_cse(void **state)
{
	(void)state;
	Graph *g = parse_ok(
		"graph t {\n"
		"  input %x: f32[4, 3]\n"
		"  input %w: f32[3, 3]\n"
		"  %a = matmul(%x, %w)\n"
		"  %b = matmul(%x, %w)\n"
		"  %c = matmul(%x, %w) {trans_b = 1}\n"
		"  %ra = relu(%a)\n"
		"  %rb = relu(%b)\n"
		"  %s1 = add(%ra, %c)\n"
		"  %s2 = add(%c, %rb)\n"
		"  %y = sub(%s1, %c)\n"
		"  %z = sub(%c, %s2)\n"
		"  output %y\n"
		"  output %z\n"
		"  output %rb\n"
		"}\n");
	Graph *h = run_pass(g, ps_cse, 0);
	assert_int_equal(count(h, OP_MATMUL), 2);
	assert_int_equal(count(h, OP_RELU), 1);
	assert_int_equal(count(h, OP_ADD), 1);
	assert_int_equal(count(h, OP_SUB), 2);
	ir_graph_free(h);
	ir_graph_free(g);
}

/* conv + batchnorm (with and without conv bias, grouped) and
 * matmul (+ bias) + batchnorm, random weights. */
static void test_bnfold(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("bn");
	int x = ir_add_input(g, "x", DT_F32, ir_shape_make(DIMS(2, 4, 5, 5)));
	int w1 = rconst(g, "w1", DIMS(6, 4, 3, 3), -1, 1);
	int b1 = rconst(g, "b1", DIMS(6), -1, 1);
	int w2 = rconst(g, "w2", DIMS(6, 3, 1, 1), -1, 1);
	int bn[4][4];
	for (int k = 0; k < 4; k++) {
		int64_t c = k < 2 ? 6 : 3;
		bn[k][0] = rconst(g, "scale", 1, &c, 0.5, 2);
		bn[k][1] = rconst(g, "bias", 1, &c, -1, 1);
		bn[k][2] = rconst(g, "mean", 1, &c, -1, 1);
		bn[k][3] = rconst(g, "var", 1, &c, 0.1, 3);
	}
	int c1 = ir_add_node(g, OP_CONV, "conv1", (int[]){x, w1, b1}, 3, 1, NULL);
	ir_set_ints(g, c1, "pads", (int64_t[]){1, 1, 1, 1}, 4);
	int n1 = ir_add_node(g, OP_BATCHNORM, "bn1",
		(int[]){ir_out(g, c1, 0), bn[0][0], bn[0][1], bn[0][2], bn[0][3]}, 5, 1, NULL);
	ir_set_float(g, n1, "epsilon", 1e-3);
	int r1 = ir_add_node(g, OP_RELU, "relu1", (int[]){ir_out(g, n1, 0)}, 1, 1, NULL);
	int c2 = ir_add_node(g, OP_CONV, "conv2", (int[]){ir_out(g, r1, 0), w2}, 2, 1, NULL);
	ir_set_int(g, c2, "group", 2);
	int n2 = ir_add_node(g, OP_BATCHNORM, "bn2",
		(int[]){ir_out(g, c2, 0), bn[1][0], bn[1][1], bn[1][2], bn[1][3]}, 5, 1, NULL);
	int f = ir_add_node(g, OP_FLATTEN, "flat", (int[]){ir_out(g, n2, 0)}, 1, 1, NULL);
	int wm = rconst(g, "wm", DIMS(150, 3), -0.2, 0.2);
	int bm = rconst(g, "bm", DIMS(3), -1, 1);
	int m = ir_add_node(g, OP_MATMUL, "fc", (int[]){ir_out(g, f, 0), wm}, 2, 1, NULL);
	int a = ir_add_node(g, OP_ADD, "fc_bias", (int[]){ir_out(g, m, 0), bm}, 2, 1, NULL);
	int n3 = ir_add_node(g, OP_BATCHNORM, "bn3",
		(int[]){ir_out(g, a, 0), bn[2][0], bn[2][1], bn[2][2], bn[2][3]}, 5, 1, NULL);
	int wt = rconst(g, "wt", DIMS(3, 150), -0.2, 0.2);
	int m2 = ir_add_node(g, OP_MATMUL, "fc2", (int[]){ir_out(g, f, 0), wt}, 2, 1, NULL);
	ir_set_int(g, m2, "trans_b", 1);
	int n4 = ir_add_node(g, OP_BATCHNORM, "bn4",
		(int[]){ir_out(g, m2, 0), bn[3][0], bn[3][1], bn[3][2], bn[3][3]}, 5, 1, NULL);
	ir_add_output(g, ir_out(g, n3, 0));
	ir_add_output(g, ir_out(g, n4, 0));
	Diag d;
	diag_init(&d);
	if (ps_infer_shapes(g, &d))
		fail_msg("%s", d.msg);
	Graph *h = run_pass(g, ps_bnfold, 0);
	assert_int_equal(count(h, OP_BATCHNORM), 0);
	assert_int_equal(count(h, OP_CONV), 2);
	assert_int_equal(count(h, OP_ADD), 2); /* fc_bias, and bn4 became one */
	for (int i = 0; i < h->nnode; i++)
		if (h->node[i].op == OP_CONV)
			assert_int_equal(h->node[i].nin, 3);
	assert_true(ir_find_value(h, "bn3") >= 0 && ir_find_value(h, "bn4") >= 0);
	ir_graph_free(h);

	/* conv1's output used twice: bn1 stays, the others fold */
	ir_add_output(g, ir_out(g, c1, 0));
	h = run_pass(g, ps_bnfold, 0);
	assert_int_equal(count(h, OP_BATCHNORM), 1);
	int v = ir_find_value(h, "bn1");
	assert_true(v >= 0 && h->val[v].kind == VK_NODE);
	assert_int_equal(h->node[h->val[v].def].op, OP_BATCHNORM);
	ir_graph_free(h);
	ir_graph_free(g);
}

/* x.view(x.size(0), -1) with a dynamic batch, before and after canon, and
 * after binding the batch and folding. */
static const char *view_src =
	"graph t {\n"
	"  input %x: f32[N, 3, 2, 2]\n"
	"  const %zero: i64[] = [0]\n"
	"  const %m1: i64[1] = [-1]\n"
	"  %s = shape(%x)\n"
	"  %g = gather(%s, %zero) {axis = 0}\n"
	"  %u = unsqueeze(%g) {axes = [0]}\n"
	"  %c = concat(%u, %m1) {axis = 0}\n"
	"  %v = reshape_dyn(%x, %c)\n"
	"  %y = relu(%v)\n"
	"  output %y\n"
	"}\n";

static void test_shape_chain(void **state)
{
	(void)state;
	Graph *g = parse_ok(view_src);
	Graph *h = run_pass(g, ps_canonicalize, 3);
	assert_int_equal(count(h, OP_COUNT), 2);
	assert_int_equal(count(h, OP_RESHAPE), 1);
	ir_graph_free(h);

	Options o = {.opt_level = 2, .nbind = 1};
	o.bind[0] = (ShapeBinding){"x", 4, {5, 3, 2, 2}};
	Graph *b = clone(g);
	Diag d;
	diag_init(&d);
	assert_int_equal(ps_bind_shapes(b, &o, &d), 0);
	assert_int_equal(ps_infer_shapes(b, &d), 0);
	ps_fold(b, &o);
	ps_algebraic(b, &o);
	ps_dce(b, &o);
	verify_ok(b);
	assert_int_equal(count(b, OP_COUNT), 2);
	const Node *r = &b->node[0];
	assert_int_equal(r->op, OP_RESHAPE);
	const int64_t *sv;
	assert_int_equal(ir_attr_ints(r, "shape", &sv), 2);
	assert_int_equal(sv[0], 5);
	assert_int_equal(sv[1], 12);
	same_results(g, b, 5);
	ir_graph_free(b);
	ir_graph_free(g);
}

/* The whole -O2 pipeline on a small CNN: conv, batchnorm, relu, maxpool,
 * a view chain, a linear layer with x*1 and a duplicate branch. */
static void test_pipeline(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("cnn");
	int x = ir_add_input(g, "x", DT_F32, ir_shape_make(DIMS(2, 3, 6, 6)));
	int w = rconst(g, "w", DIMS(4, 3, 3, 3), -1, 1);
	int p[4];
	int64_t c = 4;
	p[0] = rconst(g, "s", 1, &c, 0.5, 2);
	p[1] = rconst(g, "b", 1, &c, -1, 1);
	p[2] = rconst(g, "m", 1, &c, -1, 1);
	p[3] = rconst(g, "v", 1, &c, 0.5, 2);
	int cv = ir_add_node(g, OP_CONV, "conv", (int[]){x, w}, 2, 1, NULL);
	int bn = ir_add_node(g, OP_BATCHNORM, "bn", (int[]){ir_out(g, cv, 0), p[0], p[1], p[2], p[3]},
		5, 1, NULL);
	int r = ir_add_node(g, OP_RELU, "relu", (int[]){ir_out(g, bn, 0)}, 1, 1, NULL);
	int mp = ir_add_node(g, OP_MAXPOOL, "pool", (int[]){ir_out(g, r, 0)}, 1, 1, NULL);
	ir_set_ints(g, mp, "kernel", (int64_t[]){2, 2}, 2);
	ir_set_ints(g, mp, "strides", (int64_t[]){2, 2}, 2);
	int64_t z = 0, m1 = -1;
	int zero = ir_add_const(g, "zero", DT_I64, ir_shape_make(0, NULL), &z, 8, false);
	int minus1 = ir_add_const(g, "minus1", DT_I64, ir_shape_make(1, (int64_t[]){1}), &m1, 8, false);
	int sh = ir_add_node(g, OP_SHAPE, "shape", (int[]){ir_out(g, mp, 0)}, 1, 1, NULL);
	int ga = ir_add_node(g, OP_GATHER, "gather", (int[]){ir_out(g, sh, 0), zero}, 2, 1, NULL);
	int un = ir_add_node(g, OP_UNSQUEEZE, "unsq", (int[]){ir_out(g, ga, 0)}, 1, 1, NULL);
	ir_set_ints(g, un, "axes", &z, 1);
	int ct = ir_add_node(g, OP_CONCAT, "cat", (int[]){ir_out(g, un, 0), minus1}, 2, 1, NULL);
	ir_set_int(g, ct, "axis", 0);
	int vw = ir_add_node(g, OP_RESHAPE_DYN, "view", (int[]){ir_out(g, mp, 0), ir_out(g, ct, 0)},
		2, 1, NULL);
	int wf = rconst(g, "wf", DIMS(16, 5), -0.5, 0.5);
	float one = 1;
	int onec = ir_add_const(g, "one", DT_F32, ir_shape_make(0, NULL), &one, 4, false);
	int fc1 = ir_add_node(g, OP_MATMUL, "fc1", (int[]){ir_out(g, vw, 0), wf}, 2, 1, NULL);
	int fc2 = ir_add_node(g, OP_MATMUL, "fc2", (int[]){ir_out(g, vw, 0), wf}, 2, 1, NULL);
	int mo = ir_add_node(g, OP_MUL, "times1", (int[]){ir_out(g, fc2, 0), onec}, 2, 1, NULL);
	int y = ir_add_node(g, OP_ADD, "y", (int[]){ir_out(g, fc1, 0), ir_out(g, mo, 0)}, 2, 1, NULL);
	ir_add_output(g, ir_out(g, y, 0));
	Diag d;
	diag_init(&d);
	if (ps_infer_shapes(g, &d))
		fail_msg("%s", d.msg);
	verify_ok(g);
	Graph *h = clone(g);
	if (ps_pipeline(h, &O2, &d))
		fail_msg("%s", d.msg);
	verify_ok(h);
	same_results(g, h, 0);
	/* conv, relu, maxpool, reshape, matmul, add */
	assert_int_equal(count(h, OP_COUNT), 6);
	assert_int_equal(count(h, OP_BATCHNORM) + count(h, OP_SHAPE) + count(h, OP_MUL), 0);
	ir_graph_free(h);

	/* -O0: only canon and DCE; the same answers */
	Options o0 = {.opt_level = 0};
	h = clone(g);
	if (ps_pipeline(h, &o0, &d))
		fail_msg("%s", d.msg);
	same_results(g, h, 0);
	assert_int_equal(count(h, OP_COUNT), 9);
	ir_graph_free(h);
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_algebraic),
		cmocka_unit_test(test_const_trans_b),
		cmocka_unit_test(test_cse),
		cmocka_unit_test(test_bnfold),
		cmocka_unit_test(test_shape_chain),
		cmocka_unit_test(test_pipeline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
