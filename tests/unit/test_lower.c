/* test_lower.c — lowering (codegen/lower*.c), the naive memory plan, the
 * kernel printer and the kernel interpreter. Every case builds a small
 * graph, infers shapes, lowers and plans it, and checks that cg_interp on
 * the kernels agrees with ir_eval on the graph (random inputs from a
 * fixed-seed generator, constants as params). */
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

/* --- building graphs ---------------------------------------------------------- */

static uint64_t rng = 1;

static double urand(double lo, double hi)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

#define S(...) shp((const int64_t[]){ __VA_ARGS__ }, (int)(sizeof((const int64_t[]){ __VA_ARGS__ }) / 8))
#define A(...) ((const int64_t[]){ __VA_ARGS__ })
#define INTS(...) (const int64_t[]){ __VA_ARGS__ }, (int)(sizeof((const int64_t[]){ __VA_ARGS__ }) / 8)
#define IN(...) (const int[]){ __VA_ARGS__ }, (int)(sizeof((const int[]){ __VA_ARGS__ }) / sizeof(int))

static Shape shp(const int64_t *d, int n) { return ir_shape_make(n, d); }

/* Fills n elements of dtype t at p with uniform values in [lo, hi). */
static void fill(DType t, void *p, int64_t n, double lo, double hi)
{
	for (int64_t i = 0; i < n; i++) {
		double v = urand(lo, hi);
		switch (t) {
		case DT_F32: ((float *)p)[i] = (float)v; break;
		case DT_F64: ((double *)p)[i] = v; break;
		case DT_I32: ((int32_t *)p)[i] = (int32_t)floor(v); break;
		case DT_I64: ((int64_t *)p)[i] = (int64_t)floor(v); break;
		case DT_U8: ((uint8_t *)p)[i] = (uint8_t)fabs(floor(v)); break;
		default: fail_msg("fill: dtype %s", ir_dtype_name(t));
		}
	}
}

/* A param with random data in [lo, hi). */
static int param(Graph *g, const char *name, DType t, Shape s, double lo, double hi)
{
	int64_t n = ir_shape_numel(&s);
	size_t nb = (size_t)n * ir_dtype_size(t);
	void *buf = malloc(nb + 1);
	fill(t, buf, n, lo, hi);
	int v = ir_add_const(g, name, t, s, buf, nb, true);
	free(buf);
	return v;
}

/* Adds a node; returns its node index. */
static int add(Graph *g, Op op, const char *name, const int *in, int nin)
{
	return ir_add_node(g, op, name, in, nin, 1, NULL);
}

static int out(Graph *g, int node) { return ir_out(g, node, 0); }

/* --- checking -------------------------------------------------------------------- */

static void infer(Graph *g)
{
	Diag d;
	diag_init(&d);
	for (int i = 0; i < g->nnode; i++)
		if (ir_infer_node(g, i, &d) < 0)
			fail_msg("shape inference: %s", d.msg);
}

/* The plan (plan.c): temps 64-byte aligned inside the arena, and
 * cg_plan_check proves no two live at once share a byte. */
static void check_plan(const KernelList *kl)
{
	for (int i = 0; i < kl->nbuf; i++) {
		const Buf *a = &kl->buf[i];
		assert_true(a->nbytes == a->numel * (int64_t)ir_dtype_size(a->dtype));
	}
	/* buffers live at once never share bytes, except in place (plan.c) */
	Diag d;
	diag_init(&d);
	if (cg_plan_check(kl, &d) < 0)
		fail_msg("cg_plan_check: %s", d.msg);
	PlanStats st;
	cg_plan_stats(kl, &st);
	assert_true(st.lower_bound <= st.arena && st.arena <= st.naive);
}

/* Structural sanity of every kernel. */
static void check_kernels(const Graph *g, const KernelList *kl)
{
	for (int i = 0; i < kl->nparam; i++)
		assert_int_equal(g->val[kl->param_value[i]].kind, VK_CONST);
	for (int i = 0; i < kl->nk; i++) {
		const Kernel *k = &kl->k[i];
		assert_non_null(k->name);
		assert_true(k->node >= -1 && k->node < g->nnode);
		/* unfused: each kernel lists its one node; copies list none */
		if (k->node >= 0) {
			assert_int_equal(k->nnodes, 1);
			assert_int_equal(k->nodes[0], k->node);
		} else {
			assert_int_equal(k->nnodes, 0);
		}
		if (k->kind != KK_LOOP)
			assert_null(k->body); /* no epilogue without fusion */
		if (k->kind != KK_LOOP)
			continue;
		assert_true(k->nout_var <= k->nvar && k->nvar <= KV_MAX);
		assert_non_null(k->body);
		assert_true(k->out >= 0 && k->out < kl->nbuf);
		BufKind bk = kl->buf[k->out].kind;
		assert_true(bk == BUF_TEMP || bk == BUF_OUTPUT);
	}
}

static bool close_enough(double a, double b, double tol)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	if (isinf(a) || isinf(b))
		return a == b;
	return fabs(a - b) <= tol * fabs(b) + 1e-6;
}

static double elem(const Tensor *t, int64_t i)
{
	switch (t->dtype) {
	case DT_F32: return ((const float *)t->data)[i];
	case DT_F64: return ((const double *)t->data)[i];
	case DT_I32: return ((const int32_t *)t->data)[i];
	case DT_I64: return (double)((const int64_t *)t->data)[i];
	case DT_U8: return ((const uint8_t *)t->data)[i];
	default: fail_msg("elem: dtype %s", ir_dtype_name(t->dtype));
	}
	return 0;
}

/* Infers shapes, runs ir_eval and lower+plan+interp on the same random
 * inputs, and compares. Hands the kernel list to *keep if non-NULL. */
static void check_graph(Graph *g, KernelList *keep)
{
	Diag d;
	diag_init(&d);
	infer(g);
	Tensor in[8], ref[8], got[8];
	assert_true(g->ninput <= 8 && g->noutput <= 8);
	for (int i = 0; i < g->ninput; i++) {
		const Value *v = &g->val[g->input[i]];
		int64_t n = ir_shape_numel(&v->shape);
		in[i] = (Tensor){ .dtype = v->dtype, .shape = v->shape, .data = malloc((size_t)n * ir_dtype_size(v->dtype) + 1) };
		bool isf = ir_dtype_is_float(v->dtype);
		fill(v->dtype, in[i].data, n, isf ? -2 : -5, isf ? 2 : 6);
	}
	if (ir_eval(g, in, ref, &d) < 0)
		fail_msg("ir_eval: %s", d.msg);
	KernelList kl;
	if (cg_lower(g, &kl, &d) < 0)
		fail_msg("cg_lower: %s", d.msg);
	cg_plan(&kl);
	check_plan(&kl);
	check_kernels(g, &kl);

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cg_print(&kl, f);
	fclose(f);
	assert_non_null(strstr(text, "buffers:"));
	if (kl.nk)
		assert_non_null(strstr(text, "k0 \""));
	free(text);

	if (cg_interp(&kl, in, got, &d) < 0)
		fail_msg("cg_interp: %s", d.msg);
	for (int o = 0; o < g->noutput; o++) {
		assert_int_equal(got[o].dtype, ref[o].dtype);
		assert_true(ir_shape_eq(&got[o].shape, &ref[o].shape));
		int64_t n = ir_shape_numel(&ref[o].shape);
		for (int64_t i = 0; i < n; i++) {
			double a = elem(&got[o], i), b = elem(&ref[o], i);
			if (!close_enough(a, b, 1e-5))
				fail_msg("output %d element %lld: kernels %.9g, eval %.9g", o, (long long)i, a, b);
		}
		ir_tensor_free(&got[o]);
		ir_tensor_free(&ref[o]);
	}
	for (int i = 0; i < g->ninput; i++)
		ir_tensor_free(&in[i]);
	if (keep)
		*keep = kl;
	else
		cg_free(&kl);
}

/* Lowers g (after shape inference) expecting failure; returns the message. */
static const char *lower_error(Graph *g, Diag *d)
{
	infer(g);
	KernelList kl;
	diag_init(d);
	assert_int_equal(cg_lower(g, &kl, d), -1);
	assert_true(d->nerr > 0);
	assert_int_equal(kl.nk, 0);
	return d->msg;
}

static int count_kind(const KernelList *kl, KernelKind kind)
{
	int n = 0;
	for (int i = 0; i < kl->nk; i++)
		n += kl->k[i].kind == kind;
	return n;
}

static int count_buf(const KernelList *kl, BufKind kind)
{
	int n = 0;
	for (int i = 0; i < kl->nbuf; i++)
		n += kl->buf[i].kind == kind;
	return n;
}

/* --- elementwise ----------------------------------------------------------------- */

static void unary_case(Op op, DType t, const char *attr, double a1, const char *attr2, double a2)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", t, S(2, 3, 4));
	int src = x;
	if (op == OP_LOG || op == OP_SQRT) /* keep the argument positive */
		src = out(g, add(g, OP_EXP, "pos", IN(x)));
	int n = add(g, op, "u", IN(src));
	if (attr)
		ir_set_float(g, n, attr, a1);
	if (attr2)
		ir_set_float(g, n, attr2, a2);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(count_kind(&kl, KK_LOOP), src == x ? 1 : 2);
	assert_int_equal(kl.k[kl.nk - 1].nvar, 3);
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_unary(void **state)
{
	(void)state;
	const Op ops[] = { OP_NEG, OP_ABS, OP_EXP, OP_LOG, OP_SQRT, OP_RELU, OP_SIGMOID, OP_TANH };
	for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
		unary_case(ops[i], DT_F32, NULL, 0, NULL, 0);
		unary_case(ops[i], DT_F64, NULL, 0, NULL, 0);
	}
	unary_case(OP_LEAKYRELU, DT_F32, "alpha", 0.2, NULL, 0);
	unary_case(OP_LEAKYRELU, DT_F32, NULL, 0, NULL, 0); /* default alpha */
	unary_case(OP_CLIP, DT_F32, "min", -0.5, "max", 0.7);
	unary_case(OP_CLIP, DT_F64, "max", 0.25, NULL, 0);
	unary_case(OP_CLIP, DT_I32, "min", -2.5, "max", 3.5);
	unary_case(OP_RELU, DT_I64, NULL, 0, NULL, 0);
	unary_case(OP_NEG, DT_I32, NULL, 0, NULL, 0);
	unary_case(OP_ABS, DT_I64, NULL, 0, NULL, 0);
}

static void binary_case(Op op, DType t, Shape sa, Shape sb, bool bconst)
{
	Graph *g = ir_graph_new("m");
	int a = ir_add_input(g, "a", t, sa);
	int b = bconst ? param(g, "b", t, sb, 1, 4) : ir_add_input(g, "b", t, sb);
	int n = add(g, op, "bin", IN(a, b));
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 1);
	assert_int_equal(kl.nparam, bconst ? 1 : 0);
	/* broadcast dims load with stride 0 */
	const Kx *body = kl.k[0].body;
	assert_int_equal(body->kind, KX_BINARY);
	const Shape *ys = &g->val[out(g, n)].shape;
	for (int v = 0; v < ys->rank; v++) {
		int j = v - (ys->rank - sb.rank);
		if (j < 0 || (sb.d[j].n == 1 && ys->d[v].n > 1))
			assert_int_equal(body->b->idx.k[v], 0);
	}
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_binary_broadcast(void **state)
{
	(void)state;
	const Op ops[] = { OP_ADD, OP_SUB, OP_MUL, OP_DIV };
	for (size_t i = 0; i < 4; i++) {
		binary_case(ops[i], DT_F32, S(2, 3, 4), S(4), false);
		binary_case(ops[i], DT_F32, S(2, 1, 4), S(3, 1), false);
		binary_case(ops[i], DT_F64, S(1), S(2, 3), true);
		binary_case(ops[i], DT_F32, ir_shape_make(0, NULL), S(5), true);
		binary_case(ops[i], DT_I32, S(3, 4), S(3, 1), true);
		binary_case(ops[i], DT_I64, S(2, 2), S(2, 2), true);
	}
}

/* --- matmul ------------------------------------------------------------------------ */

static void matmul_case(DType t, Shape sa, Shape sb, int ta, int tb, KernelKind want)
{
	Graph *g = ir_graph_new("m");
	int a = ir_add_input(g, "a", t, sa);
	int b = param(g, "b", t, sb, -1, 1);
	int n = add(g, OP_MATMUL, "mm", IN(a, b));
	if (ta)
		ir_set_int(g, n, "trans_a", 1);
	if (tb)
		ir_set_int(g, n, "trans_b", 1);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 1);
	assert_int_equal(kl.k[0].kind, want);
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_matmul(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		DType t = i ? DT_F64 : DT_F32;
		KernelKind kk = i ? KK_LOOP : KK_MATMUL;
		matmul_case(t, S(3, 4), S(4, 5), 0, 0, kk);
		matmul_case(t, S(2, 1, 3, 4), S(3, 4, 5), 0, 0, kk); /* batch broadcast both ways */
		matmul_case(t, S(2, 4, 3), S(5, 4), 1, 1, kk);
		matmul_case(t, S(4, 3), S(2, 4, 5), 1, 0, kk);
		matmul_case(t, S(3, 4), S(2, 5, 4), 0, 1, kk);
		matmul_case(t, S(4), S(2, 4, 5), 0, 0, kk);    /* 1-D left */
		matmul_case(t, S(2, 3, 4), S(4), 0, 0, kk);    /* 1-D right */
		matmul_case(t, S(4), S(4), 0, 0, kk);          /* dot: rank 0 */
		matmul_case(t, S(4), S(5, 4), 0, 1, kk);
	}
	matmul_case(DT_I32, S(2, 3, 4), S(4, 2), 0, 0, KK_LOOP);
	matmul_case(DT_I64, S(3, 4), S(1, 4, 2), 0, 0, KK_LOOP);
	/* more than 4 batch dims: f32 falls back to a loop */
	matmul_case(DT_F32, S(2, 1, 2, 1, 2, 3, 2), S(2, 2), 0, 0, KK_LOOP);
}

static void test_matmul_fields(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int a = ir_add_input(g, "a", DT_F32, S(2, 1, 4, 3));
	int b = ir_add_input(g, "b", DT_F32, S(3, 5, 4));
	int n = add(g, OP_MATMUL, "mm", IN(a, b));
	ir_set_int(g, n, "trans_a", 1);
	ir_set_int(g, n, "trans_b", 1);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	const Kernel *k = &kl.k[0];
	const int64_t want[] = { 2, 3, 12, 0, 0, 20, 45, 15, 3, 5, 4, 1, 1 };
	const int64_t got[] = { k->mm.bext[0], k->mm.bext[1], k->mm.sa[0], k->mm.sa[1], k->mm.sb[0],
				k->mm.sb[1], k->mm.sc[0], k->mm.sc[1], k->mm.m, k->mm.n, k->mm.k,
				k->mm.trans_a, k->mm.trans_b };
	assert_int_equal(k->mm.nbatch, 2);
	assert_memory_equal(got, want, sizeof want);
	cg_free(&kl);
	ir_graph_free(g);
}

/* --- conv ------------------------------------------------------------------------------ */

static void conv_case(Shape sx, Shape sw, bool bias, const int64_t *st, const int64_t *pads,
		      const int64_t *dil, int64_t group, bool want_scratch)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, sx);
	int w = param(g, "w", DT_F32, sw, -1, 1);
	int n;
	if (bias) {
		int b = param(g, "b", DT_F32, S(sw.d[0].n), -1, 1);
		n = add(g, OP_CONV, "conv1", IN(x, w, b));
	} else {
		n = add(g, OP_CONV, "conv1", IN(x, w));
	}
	if (st)
		ir_set_ints(g, n, "strides", st, 2);
	if (pads)
		ir_set_ints(g, n, "pads", pads, 4);
	if (dil)
		ir_set_ints(g, n, "dilations", dil, 2);
	if (group != 1)
		ir_set_int(g, n, "group", group);
	int r = add(g, OP_RELU, "", IN(out(g, n)));
	ir_add_output(g, out(g, r));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 2);
	const Kernel *k = &kl.k[0];
	assert_int_equal(k->kind, KK_CONV2D);
	assert_int_equal(k->conv.group, group);
	assert_int_equal(k->conv.bias >= 0, bias);
	assert_string_equal(k->name, "conv1");
	assert_string_equal(kl.k[1].name, "relu");
	if (want_scratch) {
		assert_true(k->conv.scratch >= 0);
		assert_int_equal(kl.buf[k->conv.scratch].kind, BUF_TEMP);
		assert_int_equal(kl.buf[k->conv.scratch].numel,
				 k->conv.c / group * k->conv.kh * k->conv.kw * k->conv.oh * k->conv.ow);
	} else {
		assert_int_equal(k->conv.scratch, -1);
	}
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_conv(void **state)
{
	(void)state;
	conv_case(S(1, 1, 8, 8), S(3, 1, 3, 3), true, NULL, NULL, NULL, 1, true);
	conv_case(S(2, 4, 7, 6), S(6, 2, 3, 3), true, A(2, 1), A(1, 0, 2, 1), A(1, 2), 2, true);
	conv_case(S(1, 3, 5, 5), S(4, 3, 1, 1), false, NULL, NULL, NULL, 1, false);
	conv_case(S(2, 4, 5, 5), S(4, 1, 2, 2), false, A(2, 2), A(1, 1, 1, 1), NULL, 4, true); /* depthwise */
	conv_case(S(1, 2, 4, 4), S(2, 2, 1, 1), true, A(2, 2), NULL, NULL, 1, true);
}

/* --- pooling ------------------------------------------------------------------------------ */

static void pool_case(Op op, Shape sx, const int64_t *kern, const int64_t *st, const int64_t *pads,
		      const int64_t *dil, int ceil_mode, int cip, bool const_div)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, sx);
	int n = add(g, op, "pool", IN(x));
	ir_set_ints(g, n, "kernel", kern, 2);
	if (st)
		ir_set_ints(g, n, "strides", st, 2);
	if (pads)
		ir_set_ints(g, n, "pads", pads, 4);
	if (dil)
		ir_set_ints(g, n, "dilations", dil, 2);
	if (ceil_mode)
		ir_set_int(g, n, "ceil_mode", 1);
	if (cip)
		ir_set_int(g, n, "count_include_pad", 1);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 1);
	const Kernel *k = &kl.k[0];
	assert_int_equal(k->nout_var, 4);
	assert_int_equal(k->nvar, 6);
	if (op == OP_AVGPOOL) {
		assert_int_equal(k->body->op, KB_DIV);
		assert_int_equal(k->body->b->kind, const_div ? KX_CONST : KX_REDUCE);
	} else {
		assert_int_equal(k->body->kind, KX_REDUCE);
		assert_int_equal(k->body->op, KR_MAX);
		assert_int_equal(k->body->a->nguard > 0, pads != NULL || ceil_mode);
	}
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_pool(void **state)
{
	(void)state;
	pool_case(OP_MAXPOOL, S(1, 2, 8, 8), A(2, 2), A(2, 2), NULL, NULL, 0, 0, false);
	pool_case(OP_MAXPOOL, S(2, 3, 7, 9), A(3, 3), A(2, 2), A(1, 1, 1, 1), NULL, 1, 0, false);
	pool_case(OP_MAXPOOL, S(1, 2, 9, 9), A(2, 3), A(1, 2), A(0, 1, 1, 0), A(2, 1), 0, 0, false);
	pool_case(OP_MAXPOOL, S(1, 1, 6, 6), A(3, 3), A(2, 2), NULL, NULL, 1, 0, false);
	pool_case(OP_AVGPOOL, S(1, 2, 8, 8), A(2, 2), A(2, 2), NULL, NULL, 0, 0, true);
	pool_case(OP_AVGPOOL, S(2, 3, 7, 9), A(3, 3), A(2, 2), A(1, 1, 1, 1), NULL, 0, 0, false);
	pool_case(OP_AVGPOOL, S(2, 3, 7, 9), A(3, 3), A(2, 2), A(1, 1, 1, 1), NULL, 0, 1, true);
	pool_case(OP_AVGPOOL, S(1, 2, 7, 8), A(3, 2), A(2, 3), A(1, 0, 1, 1), NULL, 1, 1, true);
	pool_case(OP_AVGPOOL, S(1, 1, 6, 6), A(3, 3), A(2, 2), NULL, NULL, 1, 1, false); /* ceil window past the pad */
	pool_case(OP_AVGPOOL, S(1, 2, 7, 8), A(3, 2), A(2, 3), A(1, 0, 1, 1), NULL, 1, 0, false);
	pool_case(OP_AVGPOOL, S(1, 1, 6, 6), A(3, 3), A(2, 2), NULL, NULL, 1, 0, false);
}

/* --- reductions and normalization ---------------------------------------------------------- */

static void reduce_case(Op op, DType t, const int64_t *axes, int na, int keep, int want_rank)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", t, S(2, 3, 4));
	int n = add(g, op, "red", IN(x));
	if (axes)
		ir_set_ints(g, n, "axes", axes, na);
	if (keep >= 0)
		ir_set_int(g, n, "keepdims", keep);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(g->val[out(g, n)].shape.rank, want_rank);
	assert_int_equal(kl.k[0].nout_var, want_rank);
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_reduce(void **state)
{
	(void)state;
	const Op ops[] = { OP_REDUCE_SUM, OP_REDUCE_MEAN, OP_REDUCE_MAX };
	for (int i = 0; i < 3; i++) {
		reduce_case(ops[i], DT_F32, INTS(1), 0, 2);
		reduce_case(ops[i], DT_F32, INTS(0, 2), 1, 3);
		reduce_case(ops[i], DT_F64, INTS(-1), -1, 3); /* keepdims defaults to 1 */
		reduce_case(ops[i], DT_F32, NULL, 0, 0, 0);  /* every axis, rank 0 */
		reduce_case(ops[i], DT_F32, NULL, 0, 1, 3);
	}
	reduce_case(OP_REDUCE_SUM, DT_I32, INTS(2, 0), 0, 1);
	reduce_case(OP_REDUCE_MAX, DT_I64, INTS(1), 1, 3);
}

static void softmax_case(Op op, int64_t axis)
{
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(2, 3, 4));
	int n = add(g, op, "sm", IN(x));
	if (axis != 99)
		ir_set_int(g, n, "axis", axis);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 3);
	assert_int_equal(count_buf(&kl, BUF_TEMP), 2);
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_softmax(void **state)
{
	(void)state;
	softmax_case(OP_SOFTMAX, 1); /* middle axis */
	softmax_case(OP_SOFTMAX, 0);
	softmax_case(OP_SOFTMAX, 99); /* default: last */
	softmax_case(OP_LOGSOFTMAX, 1);
	softmax_case(OP_LOGSOFTMAX, -1);
}

static void test_batchnorm(void **state)
{
	(void)state;
	for (int r = 0; r < 2; r++) {
		Graph *g = ir_graph_new("m");
		int x = ir_add_input(g, "x", DT_F32, r ? S(2, 3) : S(2, 3, 4, 5));
		int sc = param(g, "scale", DT_F32, S(3), -1, 1);
		int b = param(g, "bias", DT_F32, S(3), -1, 1);
		int mu = param(g, "mean", DT_F32, S(3), -1, 1);
		int var = param(g, "var", DT_F32, S(3), 0.1, 2);
		int n = add(g, OP_BATCHNORM, "bn", IN(x, sc, b, mu, var));
		ir_set_float(g, n, "epsilon", 1e-3);
		ir_add_output(g, out(g, n));
		KernelList kl;
		check_graph(g, &kl);
		assert_int_equal(kl.nk, 1);
		assert_int_equal(kl.nparam, 4);
		cg_free(&kl);
		ir_graph_free(g);
	}
}

/* --- data movement ---------------------------------------------------------------------------- */

static void test_pad(void **state)
{
	(void)state;
	const DType ts[] = { DT_F32, DT_I64, DT_U8 };
	for (int i = 0; i < 3; i++) {
		Graph *g = ir_graph_new("m");
		int x = ir_add_input(g, "x", ts[i], S(2, 3));
		int n = add(g, OP_PAD, "pad", IN(x));
		ir_set_ints(g, n, "pads", A(1, 0, 2, 3), 4);
		ir_set_float(g, n, "value", 7);
		ir_add_output(g, out(g, n));
		KernelList kl;
		check_graph(g, &kl);
		assert_int_equal(kl.k[0].body->nguard, 2);
		cg_free(&kl);
		ir_graph_free(g);
	}
}

static void test_transpose(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		Graph *g = ir_graph_new("m");
		int x = ir_add_input(g, "x", i == 2 ? DT_I32 : DT_F32, S(2, 3, 4));
		int n = add(g, OP_TRANSPOSE, "tr", IN(x));
		if (i != 1)
			ir_set_ints(g, n, "perm", A(2, 0, 1), 3);
		ir_add_output(g, out(g, n));
		check_graph(g, NULL);
		ir_graph_free(g);
	}
}

static void test_concat(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int a = ir_add_input(g, "a", DT_F32, S(2, 1, 3));
	int b = ir_add_input(g, "b", DT_F32, S(2, 2, 3));
	int c = param(g, "c", DT_F32, S(2, 4, 3), -1, 1);
	int n = add(g, OP_CONCAT, "cat", IN(a, b, c));
	ir_set_int(g, n, "axis", -2);
	ir_add_output(g, out(g, n));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 3);
	assert_int_equal(kl.k[1].out_idx.c, 3); /* b starts at row 1 */
	assert_int_equal(kl.k[2].out_idx.c, 9);
	cg_free(&kl);
	ir_graph_free(g);
}

/* --- buffers, views and copies ------------------------------------------------------------------ */

static void test_views_and_copies(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(2, 6));
	int w = param(g, "w", DT_F32, S(2, 6), -1, 1);
	int r = add(g, OP_RESHAPE, "r", IN(x));
	ir_set_ints(g, r, "shape", A(3, 4), 2);
	int y = out(g, add(g, OP_RELU, "y", IN(x)));
	int z = out(g, add(g, OP_ADD, "z", IN(x, w)));
	int f = add(g, OP_FLATTEN, "f", IN(z));
	int id = add(g, OP_IDENTITY, "id", IN(out(g, f)));
	int e = out(g, add(g, OP_EXP, "e", IN(out(g, id)))); /* reads through two views */
	ir_add_output(g, out(g, r)); /* view of an input: copy */
	ir_add_output(g, y);         /* written in place */
	ir_add_output(g, y);         /* duplicate: copy */
	ir_add_output(g, out(g, f)); /* view of a temp: copy */
	ir_add_output(g, x);         /* an input: copy */
	ir_add_output(g, w);         /* a constant: copy */
	ir_add_output(g, e);
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(count_buf(&kl, BUF_INPUT), 1);
	assert_int_equal(count_buf(&kl, BUF_OUTPUT), 7);
	assert_int_equal(count_buf(&kl, BUF_PARAM), 1);
	assert_int_equal(count_buf(&kl, BUF_TEMP), 1); /* z only: views share it */
	assert_int_equal(kl.nk, 3 + 5);                 /* relu, add, exp + 5 copies */
	int copies = 0;
	for (int i = 0; i < kl.nk; i++)
		copies += strncmp(kl.k[i].name, "copy", 4) == 0;
	assert_int_equal(copies, 5);
	/* y is written straight into output 1 */
	assert_int_equal(kl.buf[kl.k[0].out].kind, BUF_OUTPUT);
	assert_int_equal(kl.buf[kl.k[0].out].index, 1);
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_dead_nodes_and_params(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(4));
	ir_add_input(g, "unused", DT_F32, S(3));
	int c1 = param(g, "c1", DT_F32, S(4), -1, 1);
	int c2 = param(g, "c2", DT_F32, S(4), -1, 1);
	add(g, OP_MUL, "dead", IN(x, c1)); /* reaches no output */
	int y = out(g, add(g, OP_ADD, "live", IN(x, c2)));
	ir_add_output(g, y);
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 1);
	assert_int_equal(kl.nparam, 1);
	assert_int_equal(kl.param_value[0], c2);
	assert_int_equal(count_buf(&kl, BUF_INPUT), 2);
	assert_int_equal(kl.arena_bytes, 0);
	cg_free(&kl);
	ir_graph_free(g);
}

/* A chain of temporaries: five buffers, packed into less than five
 * separate ranges (the interpreter's agreement shows the reuse is sound). */
static void test_plan_chain(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int v = ir_add_input(g, "x", DT_F32, S(3, 5));
	for (int i = 0; i < 6; i++)
		v = out(g, add(g, i % 2 ? OP_TANH : OP_NEG, "", IN(v)));
	ir_add_output(g, v);
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(count_buf(&kl, BUF_TEMP), 5);
	assert_true(kl.arena_bytes >= 15 * 4 && kl.arena_bytes < 5 * 64);
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_print(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(1, 2, 6, 6));
	int w = param(g, "w", DT_F32, S(2, 2, 3, 3), -1, 1);
	int c = add(g, OP_CONV, "c1", IN(x, w));
	int p = add(g, OP_MAXPOOL, "p1", IN(out(g, c)));
	ir_set_ints(g, p, "kernel", A(2, 2), 2);
	ir_set_ints(g, p, "pads", A(1, 1, 0, 0), 4);
	int s = add(g, OP_REDUCE_SUM, "s1", IN(out(g, p)));
	ir_add_output(g, out(g, s));
	KernelList kl;
	check_graph(g, &kl);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cg_print(&kl, f);
	fclose(f);
	assert_non_null(strstr(text, "conv2d x=i0 w=p1 -> t"));
	assert_non_null(strstr(text, "k1 \"p1\" f32: for v0 in 0..1, v1 in 0..2, v2 in 0..4, v3 in 0..4: t"));
	assert_non_null(strstr(text, "max(v4 in 0..2, v5 in 0..2: ("));
	assert_non_null(strstr(text, "0 <= v2 + v4 - 1 < 4 && 0 <= v3 + v5 - 1 < 4 else -inf)"));
	assert_non_null(strstr(text, "sum(v4 in 0..1, v5 in 0..2, v6 in 0..4, v7 in 0..4: "));
	assert_non_null(strstr(text, "output 0 f32[1, 1, 1, 1] \"s1\""));
	free(text);
	cg_free(&kl);
	ir_graph_free(g);
}

/* --- errors --------------------------------------------------------------------------------------- */

static void test_symbolic_shape_error(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	Shape s = S(1, 3);
	s.d[0].n = -1;
	s.d[0].sym = ir_sym(g, "N");
	int x = ir_add_input(g, "x", DT_F32, s);
	ir_add_output(g, out(g, add(g, OP_RELU, "act", IN(x))));
	Diag d;
	const char *msg = lower_error(g, &d);
	assert_non_null(strstr(msg, "--shape"));
	assert_non_null(strstr(msg, "[N, 3]"));
	ir_graph_free(g);
}

static void test_unsupported_errors(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F64, S(1, 1, 4, 4));
	int w = param(g, "w", DT_F64, S(1, 1, 3, 3), -1, 1);
	ir_add_output(g, out(g, add(g, OP_CONV, "cv", IN(x, w))));
	Diag d;
	const char *msg = lower_error(g, &d);
	assert_non_null(strstr(msg, "unsupported dtype"));
	assert_non_null(strstr(msg, "cv"));
	ir_graph_free(g);

	g = ir_graph_new("m");
	x = ir_add_input(g, "x", DT_I32, S(4));
	ir_add_output(g, out(g, add(g, OP_EXP, "e", IN(x))));
	msg = lower_error(g, &d);
	assert_non_null(strstr(msg, "cannot lower exp for i32"));
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unary),
		cmocka_unit_test(test_binary_broadcast),
		cmocka_unit_test(test_matmul),
		cmocka_unit_test(test_matmul_fields),
		cmocka_unit_test(test_conv),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_reduce),
		cmocka_unit_test(test_softmax),
		cmocka_unit_test(test_batchnorm),
		cmocka_unit_test(test_pad),
		cmocka_unit_test(test_transpose),
		cmocka_unit_test(test_concat),
		cmocka_unit_test(test_views_and_copies),
		cmocka_unit_test(test_dead_nodes_and_params),
		cmocka_unit_test(test_plan_chain),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_symbolic_shape_error),
		cmocka_unit_test(test_unsupported_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
