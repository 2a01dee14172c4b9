/* test_plan.c — the memory plan (codegen/plan.c) and the report
 * (codegen/report.c). Kernel lists are built by hand: chains, diamonds, a
 * buffer read late, conv scratch, in-place chains, views sharing a buffer.
 * Arena sizes are derived by hand in the comments; the checker must pass
 * good plans and reject broken ones, naming both buffers. A randomized
 * test plans random DAG-shaped lists and runs each through the kernel
 * interpreter twice, with the plan and with every temporary apart, and
 * demands identical outputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/kinterp.h"
#include "ir/ir.h"

/* --- building kernel lists ------------------------------------------------------- */

static int buf(KernelList *kl, BufKind kind, DType t, int64_t numel)
{
	kl->buf = xrealloc(kl->buf, (size_t)(kl->nbuf + 1) * sizeof *kl->buf);
	kl->buf[kl->nbuf] = (Buf){ .kind = kind, .dtype = t, .numel = numel,
				   .nbytes = numel * (int64_t)ir_dtype_size(t), .index = 0,
				   .value = -1, .first = -1, .last = -1, .inplace = -1, .alias = -1 };
	return kl->nbuf++;
}

static int temp(KernelList *kl, int64_t numel)
{
	return buf(kl, BUF_TEMP, DT_F32, numel);
}

static Kernel *kernel(KernelList *kl, KernelKind kind)
{
	kl->k = xrealloc(kl->k, (size_t)(kl->nk + 1) * sizeof *kl->k);
	Kernel *k = &kl->k[kl->nk++];
	memset(k, 0, sizeof *k);
	k->kind = kind;
	k->name = "k";
	k->node = -1;
	k->out = -1;
	k->mm.a = k->mm.b = k->mm.c = -1;
	k->conv.x = k->conv.wt = k->conv.bias = k->conv.y = k->conv.scratch = -1;
	return k;
}

static Aff aff(int64_t c, int64_t k0, int64_t k1)
{
	Aff a;
	memset(&a, 0, sizeof a);
	a.c = c;
	a.k[0] = k0;
	a.k[1] = k1;
	return a;
}

static Kx *node(KernelList *kl, KxKind kind, int op, Kx *a, Kx *b)
{
	Kx *x = arena_alloc(&kl->arena, sizeof *x);
	x->kind = kind;
	x->dtype = DT_F32;
	x->op = op;
	x->buf = -1;
	x->a = a;
	x->b = b;
	return x;
}

static Kx *ld(KernelList *kl, int b, Aff idx)
{
	Kx *x = node(kl, KX_LOAD, 0, NULL, NULL);
	x->buf = b;
	x->idx = idx;
	return x;
}

static Kx *cst(KernelList *kl, double c)
{
	Kx *x = node(kl, KX_CONST, 0, NULL, NULL);
	x->c = c;
	return x;
}

static Kx *bin(KernelList *kl, KbOp op, Kx *a, Kx *b) { return node(kl, KX_BINARY, op, a, b); }
static Kx *un(KernelList *kl, KuOp op, Kx *a) { return node(kl, KX_UNARY, op, a, NULL); }

/* out[i] = body, i < n: a 1-D loop with a contiguous store. */
static void loop1(KernelList *kl, int out, int64_t n, Kx *body)
{
	Kernel *k = kernel(kl, KK_LOOP);
	k->nvar = k->nout_var = 1;
	k->extent[0] = n;
	k->out = out;
	k->out_idx = aff(0, 1, 0);
	k->body = body;
}

static Kx *same(KernelList *kl, int b) { return ld(kl, b, aff(0, 1, 0)); }         /* b[i] */
static Kx *rev(KernelList *kl, int b, int64_t n) { return ld(kl, b, aff(n - 1, -1, 0)); } /* b[n-1-i] */

static void plan_ok(KernelList *kl)
{
	Diag d;
	diag_init(&d);
	cg_plan(kl);
	if (cg_plan_check(kl, &d) < 0)
		fail_msg("cg_plan_check: %s", d.msg);
	PlanStats st;
	cg_plan_stats(kl, &st);
	assert_true(st.lower_bound <= st.arena);
	assert_true(st.arena <= st.naive);
	assert_int_equal(st.arena, kl->arena_bytes);
}

static bool disjoint(const KernelList *kl, int a, int b)
{
	const Buf *x = &kl->buf[a], *y = &kl->buf[b];
	return x->offset >= y->offset + y->nbytes || y->offset >= x->offset + x->nbytes;
}

/* --- hand-derived plans ---------------------------------------------------------- */

/* x -> A -> B -> C -> out, 100 floats each, elementwise: B and C take A's
 * bytes in place, so the arena is one 400-byte buffer. */
static void test_chain_inplace(void **state)
{
	(void)state;
	KernelList kl = {0};
	int x = buf(&kl, BUF_INPUT, DT_F32, 100), o = buf(&kl, BUF_OUTPUT, DT_F32, 100);
	int a = temp(&kl, 100), b = temp(&kl, 100), c = temp(&kl, 100);
	loop1(&kl, a, 100, un(&kl, KU_RELU, same(&kl, x)));
	loop1(&kl, b, 100, un(&kl, KU_EXP, same(&kl, a)));
	loop1(&kl, c, 100, bin(&kl, KB_MUL, same(&kl, b), cst(&kl, 2)));
	loop1(&kl, o, 100, un(&kl, KU_NEG, same(&kl, c)));
	plan_ok(&kl);
	assert_int_equal(kl.buf[b].inplace, a);
	assert_int_equal(kl.buf[c].inplace, b);
	assert_int_equal(kl.buf[a].first, 0);
	assert_int_equal(kl.buf[a].last, 1);
	assert_int_equal(kl.buf[c].first, 2);
	assert_int_equal(kl.buf[c].last, 3);
	assert_int_equal(kl.arena_bytes, 400);
	PlanStats st;
	cg_plan_stats(&kl, &st);
	assert_int_equal(st.naive, 3 * 448);
	assert_int_equal(st.lower_bound, 400);
	cg_free(&kl);
}

/* The same chain reading b[n-1-i]: reversing in place would read what it
 * just wrote, so no in-place; A and C share, B sits after A: 448 + 400. */
static void test_chain_reversed(void **state)
{
	(void)state;
	KernelList kl = {0};
	int x = buf(&kl, BUF_INPUT, DT_F32, 100), o = buf(&kl, BUF_OUTPUT, DT_F32, 100);
	int a = temp(&kl, 100), b = temp(&kl, 100), c = temp(&kl, 100);
	loop1(&kl, a, 100, rev(&kl, x, 100));
	loop1(&kl, b, 100, rev(&kl, a, 100));
	loop1(&kl, c, 100, rev(&kl, b, 100));
	loop1(&kl, o, 100, rev(&kl, c, 100));
	plan_ok(&kl);
	for (int i = a; i <= c; i++)
		assert_int_equal(kl.buf[i].inplace, -1);
	assert_int_equal(kl.arena_bytes, 848);
	assert_int_equal(kl.buf[a].offset, kl.buf[c].offset);
	assert_true(disjoint(&kl, a, b) && disjoint(&kl, b, c));
	PlanStats st;
	cg_plan_stats(&kl, &st);
	assert_int_equal(st.lower_bound, 800);
	cg_free(&kl);
}

/* x -> A; A -> B; A -> C; B + C -> D; D -> out (256 floats = 1024 bytes).
 * A [0,2], B [1,3], C [2,3] in place of A, D [3,4] in place of B (the
 * first candidate): two allocations, 2048 bytes = the lower bound. */
static void test_diamond(void **state)
{
	(void)state;
	KernelList kl = {0};
	int x = buf(&kl, BUF_INPUT, DT_F32, 256), o = buf(&kl, BUF_OUTPUT, DT_F32, 256);
	int a = temp(&kl, 256), b = temp(&kl, 256), c = temp(&kl, 256), d = temp(&kl, 256);
	loop1(&kl, a, 256, same(&kl, x));
	loop1(&kl, b, 256, un(&kl, KU_TANH, same(&kl, a)));
	loop1(&kl, c, 256, un(&kl, KU_SIGMOID, same(&kl, a)));
	loop1(&kl, d, 256, bin(&kl, KB_ADD, same(&kl, b), same(&kl, c)));
	loop1(&kl, o, 256, same(&kl, d));
	plan_ok(&kl);
	assert_int_equal(kl.buf[b].inplace, -1); /* A still live */
	assert_int_equal(kl.buf[c].inplace, a);
	assert_int_equal(kl.buf[d].inplace, b);
	assert_int_equal(kl.arena_bytes, 2048);
	PlanStats st;
	cg_plan_stats(&kl, &st);
	assert_int_equal(st.lower_bound, 2048);
	assert_int_equal(st.naive, 4096);
	cg_free(&kl);
}

/* A is read again by the last kernel: x -> A -> B -> C -> D, A + D -> out,
 * reversed reads (no in-place). A [0,4], B [1,2], C [2,3], D [3,4]:
 * B and D share, so A + 2 buffers = 3072 bytes, the lower bound (k2). */
static void test_read_late(void **state)
{
	(void)state;
	KernelList kl = {0};
	int x = buf(&kl, BUF_INPUT, DT_F32, 256), o = buf(&kl, BUF_OUTPUT, DT_F32, 256);
	int a = temp(&kl, 256), b = temp(&kl, 256), c = temp(&kl, 256), d = temp(&kl, 256);
	loop1(&kl, a, 256, same(&kl, x));
	loop1(&kl, b, 256, rev(&kl, a, 256));
	loop1(&kl, c, 256, rev(&kl, b, 256));
	loop1(&kl, d, 256, rev(&kl, c, 256));
	loop1(&kl, o, 256, bin(&kl, KB_SUB, same(&kl, a), same(&kl, d)));
	plan_ok(&kl);
	assert_int_equal(kl.buf[a].last, 4);
	assert_int_equal(kl.arena_bytes, 3072);
	assert_int_equal(kl.buf[b].offset, kl.buf[d].offset);
	for (int i = b; i <= d; i++)
		assert_true(disjoint(&kl, a, i));

	/* the checker rejects D moved onto A, naming both */
	Diag dg;
	diag_init(&dg);
	kl.buf[d].offset = kl.buf[a].offset;
	assert_int_equal(cg_plan_check(&kl, &dg), -1);
	char want[64];
	snprintf(want, sizeof want, "buffers %d", a);
	assert_non_null(strstr(dg.msg, want));
	snprintf(want, sizeof want, "and %d", d);
	assert_non_null(strstr(dg.msg, want));
	assert_non_null(strstr(dg.msg, "kernel 3"));

	/* ... and a partial overlap, a misaligned offset, one past the arena */
	cg_plan(&kl);
	kl.buf[b].offset = kl.buf[a].offset + 512;
	diag_init(&dg);
	assert_int_equal(cg_plan_check(&kl, &dg), -1);
	cg_plan(&kl);
	kl.buf[c].offset += 8;
	diag_init(&dg);
	assert_int_equal(cg_plan_check(&kl, &dg), -1);
	assert_non_null(strstr(dg.msg, "aligned"));
	cg_plan(&kl);
	kl.arena_bytes -= 64;
	diag_init(&dg);
	assert_int_equal(cg_plan_check(&kl, &dg), -1);
	cg_free(&kl);
}

/* The checker does not take Buf.inplace on trust: claiming B reversed A
 * "in place" at the same offset is still an overlap. */
static void test_checker_false_inplace(void **state)
{
	(void)state;
	KernelList kl = {0};
	int x = buf(&kl, BUF_INPUT, DT_F32, 64), o = buf(&kl, BUF_OUTPUT, DT_F32, 64);
	int a = temp(&kl, 64), b = temp(&kl, 64);
	loop1(&kl, a, 64, same(&kl, x));
	loop1(&kl, b, 64, rev(&kl, a, 64));
	loop1(&kl, o, 64, same(&kl, b));
	plan_ok(&kl);
	assert_true(disjoint(&kl, a, b));
	kl.buf[b].offset = kl.buf[a].offset;
	kl.buf[b].inplace = a;
	Diag d;
	diag_init(&d);
	assert_int_equal(cg_plan_check(&kl, &d), -1);
	cg_free(&kl);
}

/* x -> A; conv(A) -> Y with scratch S (4096 bytes); Y -> Z (reversed);
 * Z -> out. A [0,1], S [1,1], Y [1,2], Z [2,3]: 6144 bytes at kernel 1,
 * and Z reuses S's bytes once the convolution is done. */
static void test_conv_scratch(void **state)
{
	(void)state;
	KernelList kl = {0};
	int x = buf(&kl, BUF_INPUT, DT_F32, 256), o = buf(&kl, BUF_OUTPUT, DT_F32, 256);
	int w = buf(&kl, BUF_PARAM, DT_F32, 4 * 4 * 9);
	int a = temp(&kl, 256), s = temp(&kl, 1024), y = temp(&kl, 256), z = temp(&kl, 256);
	loop1(&kl, a, 256, same(&kl, x));
	Kernel *k = kernel(&kl, KK_CONV2D);
	k->conv.x = a;
	k->conv.wt = w;
	k->conv.y = y;
	k->conv.scratch = s;
	k->conv.n = 1, k->conv.c = 4, k->conv.h = 8, k->conv.w = 8;
	k->conv.k = 4, k->conv.oh = 8, k->conv.ow = 8, k->conv.kh = 3, k->conv.kw = 3;
	k->conv.sh = k->conv.sw = k->conv.dh = k->conv.dw = 1;
	k->conv.ph = k->conv.pw = 1;
	k->conv.group = 1;
	k->out = y;
	loop1(&kl, z, 256, rev(&kl, y, 256));
	loop1(&kl, o, 256, same(&kl, z));
	plan_ok(&kl);
	assert_int_equal(kl.buf[s].first, 1);
	assert_int_equal(kl.buf[s].last, 1);
	assert_int_equal(kl.buf[y].first, 1);
	assert_int_equal(kl.arena_bytes, 6144);
	assert_false(disjoint(&kl, s, z));
	PlanStats st;
	cg_plan_stats(&kl, &st);
	assert_int_equal(st.lower_bound, 6144);

	/* the report: conv FLOPs 2*N*K*OH*OW*C*KH*KW = 18432, and the stats */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cg_report(&kl, f);
	fclose(f);
	assert_non_null(strstr(text, " 18432 "));
	assert_non_null(strstr(text, "conv2d"));
	long long nv = -1, lb = -1, ar = -1;
	const char *p = strstr(text, "\nnaive bytes: ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "\nnaive bytes: %lld\nlower bound bytes: %lld\narena bytes: %lld", &nv, &lb, &ar), 3);
	assert_int_equal(nv, st.naive);
	assert_int_equal(lb, 6144);
	assert_int_equal(ar, 6144);
	assert_non_null(strstr(text, "arena/lower bound: 1.000"));
	free(text);
	cg_free(&kl);
}

/* A view shares its source's Buf: B = relu(A viewed as 10x10) would fit in
 * place, but the view is read again at the end, so A lives to the end and
 * B, C get their own bytes. */
static void test_view_lifetime(void **state)
{
	(void)state;
	KernelList kl = {0};
	int x = buf(&kl, BUF_INPUT, DT_F32, 100), o = buf(&kl, BUF_OUTPUT, DT_F32, 100);
	int a = temp(&kl, 100), b = temp(&kl, 100), c = temp(&kl, 100);
	loop1(&kl, a, 100, same(&kl, x));
	Kernel *k = kernel(&kl, KK_LOOP); /* B[i,j] = relu(view(A)[i,j]) */
	k->nvar = k->nout_var = 2;
	k->extent[0] = k->extent[1] = 10;
	k->out = b;
	k->out_idx = aff(0, 10, 1);
	k->body = un(&kl, KU_RELU, ld(&kl, a, aff(0, 10, 1)));
	loop1(&kl, c, 100, same(&kl, b));
	loop1(&kl, o, 100, bin(&kl, KB_ADD, same(&kl, c), ld(&kl, a, aff(0, 1, 0))));
	plan_ok(&kl);
	assert_int_equal(kl.buf[a].last, 3);
	assert_int_equal(kl.buf[b].inplace, -1);
	assert_int_equal(kl.buf[c].inplace, b);
	assert_true(disjoint(&kl, a, b) && disjoint(&kl, a, c));
	assert_int_equal(kl.arena_bytes, 448 + 400);

	/* without the late read the view's kernel works in place */
	kl.k[3].body = same(&kl, c);
	plan_ok(&kl);
	assert_int_equal(kl.buf[b].inplace, a);
	assert_int_equal(kl.arena_bytes, 400);
	cg_free(&kl);
}

/* In-place is refused when some load of the dying buffer reads another
 * element (softmax-like), under a guard, with another element size, or
 * when the store is not one-to-one. */
static void test_inplace_refused(void **state)
{
	(void)state;
	KernelList kl = {0};
	int x = buf(&kl, BUF_INPUT, DT_F32, 64), o = buf(&kl, BUF_OUTPUT, DT_F32, 64);
	int a = temp(&kl, 64), b = temp(&kl, 64), c = temp(&kl, 64), d = buf(&kl, BUF_TEMP, DT_F64, 32);
	int e = temp(&kl, 64), f = temp(&kl, 64);
	loop1(&kl, a, 64, same(&kl, x));
	/* B[i,j] = A[i,j] - max_r A[i,r] over an 8x8 view */
	Kernel *k = kernel(&kl, KK_LOOP);
	k->nvar = 3;
	k->nout_var = 2;
	k->extent[0] = k->extent[1] = k->extent[2] = 8;
	k->out = b;
	k->out_idx = aff(0, 8, 1);
	Aff row = aff(0, 8, 0);
	row.k[2] = 1;
	k->body = bin(&kl, KB_SUB, ld(&kl, a, aff(0, 8, 1)), node(&kl, KX_REDUCE, KR_MAX, ld(&kl, a, row), NULL));
	/* C[i] = B[i] if 0 <= i < 64 else 0: a guarded load */
	Kx *g = same(&kl, b);
	g->nguard = 1;
	g->guard = arena_alloc(&kl.arena, sizeof *g->guard);
	g->guard[0] = (Guard){ .e = aff(0, 1, 0), .lo = 0, .hi = 64 };
	loop1(&kl, c, 64, g);
	/* D (f64[32], same bytes) from C: another element size */
	loop1(&kl, d, 32, ld(&kl, c, aff(0, 1, 0)));
	/* E[i] from D[0..31] twice: store index 2*i+j over 32x2 is one-to-one,
	 * then F stores E at i/2 (non-injective: j has stride 0) */
	loop1(&kl, e, 64, ld(&kl, d, aff(0, 0, 0)));
	k = kernel(&kl, KK_LOOP);
	k->nvar = k->nout_var = 2;
	k->extent[0] = 32;
	k->extent[1] = 2;
	k->out = f;
	k->out_idx = aff(0, 2, 0);
	k->body = ld(&kl, e, aff(0, 2, 0));
	loop1(&kl, o, 64, same(&kl, f));
	plan_ok(&kl);
	for (int i = b; i <= f; i++)
		assert_int_equal(kl.buf[i].inplace, -1);
	/* the reduction's FLOPs: 64 subs + 8 rows x 8 trips of max */
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	cg_report(&kl, fp);
	fclose(fp);
	char want[64];
	snprintf(want, sizeof want, "%5d  %-6s %16d ", 1, "loop", 128);
	assert_non_null(strstr(text, want));
	free(text);
	cg_free(&kl);
}

/* A matmul with an epilogue reading a residual R: R lives until the
 * matmul; the report counts 2*m*n*k + one add per element. */
static void test_matmul_epilogue(void **state)
{
	(void)state;
	KernelList kl = {0};
	int x = buf(&kl, BUF_INPUT, DT_F32, 16 * 32), o = buf(&kl, BUF_OUTPUT, DT_F32, 16 * 8);
	int w = buf(&kl, BUF_PARAM, DT_F32, 32 * 8);
	int r = temp(&kl, 16 * 8), a = temp(&kl, 16 * 32), m = temp(&kl, 16 * 8);
	loop1(&kl, r, 128, un(&kl, KU_EXP, same(&kl, x)));
	loop1(&kl, a, 512, same(&kl, x));
	Kernel *k = kernel(&kl, KK_MATMUL);
	k->mm.a = a, k->mm.b = w, k->mm.c = m;
	k->mm.m = 16, k->mm.n = 8, k->mm.k = 32;
	k->out = m;
	k->nvar = k->nout_var = 2;
	k->extent[0] = 16;
	k->extent[1] = 8;
	k->out_idx = aff(0, 8, 1);
	k->body = bin(&kl, KB_ADD, ld(&kl, m, aff(0, 8, 1)), ld(&kl, r, aff(0, 8, 1)));
	loop1(&kl, o, 128, same(&kl, m));
	plan_ok(&kl);
	assert_int_equal(kl.buf[r].first, 0);
	assert_int_equal(kl.buf[r].last, 2);
	assert_int_equal(kl.buf[m].inplace, -1); /* calls never run in place */
	assert_true(disjoint(&kl, r, m) && disjoint(&kl, a, m) && disjoint(&kl, r, a));
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cg_report(&kl, f);
	fclose(f);
	assert_non_null(strstr(text, " 8320 ")); /* 2*16*8*32 + 128 */
	assert_non_null(strstr(text, "matmul"));
	free(text);
	cg_free(&kl);
}

/* The kernel interpreter divides integers as the backend does (test_cpu.c
 * test_f64_i64): a / 0 gives a, never a saturated infinity. */
static void test_interp_int_div(void **state)
{
	(void)state;
	int64_t dims[1] = {4};
	Graph *g = ir_graph_new("idiv");
	int av = ir_add_input(g, "a", DT_I64, ir_shape_make(1, dims));
	ir_add_input(g, "b", DT_I64, ir_shape_make(1, dims));
	ir_add_output(g, av); /* only the shape of output 0 matters here */
	KernelList kl = {0};
	kl.g = g;
	int a = buf(&kl, BUF_INPUT, DT_I64, 4), b = buf(&kl, BUF_INPUT, DT_I64, 4);
	int o = buf(&kl, BUF_OUTPUT, DT_I64, 4);
	kl.buf[b].index = 1;
	Kx *la = same(&kl, a), *lb = same(&kl, b), *q = bin(&kl, KB_DIV, la, lb);
	la->dtype = lb->dtype = q->dtype = DT_I64;
	loop1(&kl, o, 4, q);
	plan_ok(&kl);
	int64_t ad[4] = {7, -7, 5, 0}, bd[4] = {2, 2, 0, 0}, want[4] = {3, -3, 5, 0};
	Tensor in[2] = {
		{ .dtype = DT_I64, .shape = ir_shape_make(1, dims), .data = ad },
		{ .dtype = DT_I64, .shape = ir_shape_make(1, dims), .data = bd },
	};
	Tensor out[1];
	Diag d;
	diag_init(&d);
	if (cg_interp(&kl, in, out, &d) < 0)
		fail_msg("cg_interp: %s", d.msg);
	assert_memory_equal(out[0].data, want, sizeof want);
	ir_tensor_free(&out[0]);
	cg_free(&kl);
	ir_graph_free(g);
}

/* --- randomized: plan vs every temporary apart, through the interpreter --------- */

static uint64_t rng = 88172645463325252u;

static int rnd(int n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (int)(rng % (uint64_t)n);
}

/* Runs kl on x and returns the output (malloc'd floats). */
static float *run(const KernelList *kl, const Tensor *x)
{
	Tensor out[1];
	Diag d;
	diag_init(&d);
	if (cg_interp(kl, x, out, &d) < 0)
		fail_msg("cg_interp: %s", d.msg);
	return out[0].data;
}

/* Random DAG: each kernel writes a fresh temporary of N or 2N floats from
 * up to three earlier buffers, read at the stored element (in-place
 * candidates) or reversed; the last kernel sums a few into the output. */
static void test_random(void **state)
{
	(void)state;
	enum { N = 24 };
	int64_t dims[1] = {N};
	Graph *g = ir_graph_new("rand");
	int xv = ir_add_input(g, "x", DT_F32, ir_shape_make(1, dims));
	ir_add_output(g, xv); /* only the shape of output 0 matters here */
	float xd[N];
	for (int i = 0; i < N; i++)
		xd[i] = (float)(i % 7) - 3.0f;
	Tensor x = { .dtype = DT_F32, .shape = ir_shape_make(1, dims), .data = xd };
	int inplace = 0, shared = 0;
	for (int iter = 0; iter < 300; iter++) {
		KernelList kl = {0};
		kl.g = g;
		int bx = buf(&kl, BUF_INPUT, DT_F32, N), bo = buf(&kl, BUF_OUTPUT, DT_F32, N);
		int nk = 2 + rnd(24);
		for (int i = 0; i < nk; i++) {
			bool wide = rnd(3) == 0; /* 2N floats, walked as N x 2 */
			int t = temp(&kl, wide ? 2 * N : N);
			Kx *body = NULL;
			int nin = 1 + rnd(3);
			for (int j = 0; j < nin; j++) {
				int src = rnd(4) == 0 || kl.nbuf == 3 ? bx : 2 + rnd(kl.nbuf - 3); /* never t itself */
				int64_t sn = kl.buf[src].numel;
				Aff idx;
				if (!wide && sn == N)
					idx = rnd(2) ? aff(0, 1, 0) : aff(N - 1, -1, 0);
				else if (!wide)
					idx = aff(rnd(2), 2, 0); /* every other element of a 2N buffer */
				else if (sn == N)
					idx = rnd(2) ? aff(0, 1, 0) : aff(N - 1, -1, 0);
				else
					idx = rnd(2) ? aff(0, 2, 1) : aff(2 * N - 1, -2, -1);
				Kx *l = ld(&kl, src, idx);
				Kx *v = rnd(2) ? un(&kl, KU_TANH, l) : bin(&kl, KB_MUL, l, cst(&kl, 0.5 + j));
				body = body ? bin(&kl, KB_ADD, body, v) : v;
			}
			if (wide) {
				Kernel *k = kernel(&kl, KK_LOOP);
				k->nvar = k->nout_var = 2;
				k->extent[0] = N;
				k->extent[1] = 2;
				k->out = t;
				k->out_idx = aff(0, 2, 1);
				k->body = body;
			} else {
				loop1(&kl, t, N, body);
			}
		}
		Kx *sum = same(&kl, bx);
		for (int j = 0; j < 1 + rnd(3); j++) {
			int src = 2 + rnd(kl.nbuf - 2);
			sum = bin(&kl, KB_ADD, sum, ld(&kl, src, kl.buf[src].numel == N ? aff(0, 1, 0) : aff(1, 2, 0)));
		}
		loop1(&kl, bo, N, sum);

		plan_ok(&kl);
		float *got = run(&kl, &x);
		for (int b = 2; b < kl.nbuf; b++) {
			inplace += kl.buf[b].inplace >= 0;
			for (int c = 2; c < b; c++)
				shared += !disjoint(&kl, b, c);
		}
		/* every temporary apart */
		int64_t off = 0, arena = kl.arena_bytes;
		for (int b = 2; b < kl.nbuf; b++) {
			kl.buf[b].offset = off;
			off += (kl.buf[b].nbytes + 63) / 64 * 64;
		}
		kl.arena_bytes = off;
		float *want = run(&kl, &x);
		assert_true(arena <= off);
		assert_memory_equal(got, want, sizeof(float) * N);
		free(got);
		free(want);
		cg_free(&kl);
	}
	/* the generator exercises what it is meant to */
	assert_true(inplace > 100);
	assert_true(shared > 100);
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_inplace),
		cmocka_unit_test(test_chain_reversed),
		cmocka_unit_test(test_diamond),
		cmocka_unit_test(test_read_late),
		cmocka_unit_test(test_checker_false_inplace),
		cmocka_unit_test(test_conv_scratch),
		cmocka_unit_test(test_view_lifetime),
		cmocka_unit_test(test_inplace_refused),
		cmocka_unit_test(test_matmul_epilogue),
		cmocka_unit_test(test_interp_int_div),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
