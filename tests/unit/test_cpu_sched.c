/* test_cpu_sched.c — the schedule (sched.c) and how the LLVM backend
 * renders what fusion and scheduling produce, on kernel lists built by
 * hand (kl_build.h): DAG-shared expression nodes computed once, reductions
 * hoisted to the loop they depend on (softmax), f32 sums in f64, fused
 * epilogues on matmul and conv calls (per image for conv), parallel
 * kernels run through a real thread pool, through a recording
 * parallel_for and serially (identical results), bad schedules reported,
 * cg_schedule's decisions and kprint's display of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kl_build.h"
#include "runtime/rt.h"

/* --- helpers ------------------------------------------------------------------- */

/* The module's textual LLVM IR at opt level opt (malloc'd). */
static char *emit_ir(T *t, int opt)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s_O%d.ll", dir, t->g->name, opt);
	CpuOptions o = {.opt_level = opt};
	Diag d;
	diag_init(&d);
	if (cg_cpu_emit(&t->kl, &o, path, 1, &d) != 0)
		fail_msg("cg_cpu_emit: %s", d.msg);
	size_t n;
	char *s = read_file(path, &n, &d);
	if (!s)
		fail_msg("%s", d.msg);
	return s;
}

static int count(const char *s, const char *sub)
{
	int n = 0;
	for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
		n++;
	return n;
}

/* Offset of the last line of s starting with prefix followed by digits
 * and ':' (a basic block label), or -1. */
static long last_label(const char *s, const char *prefix)
{
	long at = -1;
	size_t n = strlen(prefix);
	for (const char *p = s; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, prefix, n) != 0)
			continue;
		const char *q = p + n;
		while (*q >= '0' && *q <= '9')
			q++;
		if (*q == ':')
			at = p - s;
	}
	return at;
}

static Aff aff2(int64_t k0, int64_t k1)
{
	return (Aff){.k = {k0, k1}};
}

static void set_par(Kernel *k, int var, int64_t chunks)
{
	k->sched.par_var = var;
	k->sched.par_chunks = chunks;
	k->sched.vec_var = -1;
}

/* A parallel_for that runs the chunks backwards on this thread and counts them. */
typedef struct Rec {
	nncc_abi_ctx ctx; /* first: the generated code reads it */
	int64_t calls;    /* parallel_for calls */
	int64_t chunks;   /* chunks run */
} Rec;

static void rec_for(void *pool, void (*fn)(void *, int64_t), void *closure, int64_t n)
{
	Rec *r = pool;
	r->calls++;
	for (int64_t c = n - 1; c >= 0; c--, r->chunks++)
		fn(closure, c);
}

static void rec_init(Rec *r)
{
	*r = (Rec){{.nthreads = 4, .parallel_for = rec_for, .pool = r}, 0, 0};
}

static nncc_abi_ctx pool_ctx(int n, RtPool **p)
{
	assert_int_equal(rt_pool_new(n, p, NULL), NNCC_STATUS_OK);
	assert_non_null(*p);
	assert_int_equal(rt_pool_threads(*p), n);
	return (nncc_abi_ctx){.nthreads = n, .parallel_for = rt_pool_parallel_for, .pool = *p};
}

/* --- shared nodes and hoisting ------------------------------------------------ */

/* y[i] = e*e + e with e = exp(x[i]) one shared node: exp is computed once. */
static void test_shared_node(void **state)
{
	T *t = t_new("shared");
	int x = input(t, "x", DT_F32, shp(1, (int64_t)5));
	int y = output(t, "y", DT_F32, shp(1, (int64_t)5));
	Aff i = {.k = {1}};
	Kx *e = kun(t, KU_EXP, kload(t, DT_F32, x, i));
	loop(t, y, i, kbin(t, KB_ADD, kbin(t, KB_MUL, e, e), e), 1, 1, (int64_t[]){5});
	char *ir = emit_ir(t, 0);
	/* f32 exp is inline (llvm_math.c exp_f32), with one floor each */
	assert_int_equal(count(ir, "call float @llvm.floor.f32"), 1);
	free(ir);
	float xs[5] = {0, 1, -1, 2.5f, -3}, ys[5];
	for (int opt = 0; opt <= 3; opt += 3) {
		Lib l = build(t, opt);
		run(&l, (const void *[]){xs}, (void *[]){ys});
		for (int k = 0; k < 5; k++) {
			float ev = expf(xs[k]);
			assert_true(fabsf(ys[k] - (ev * ev + ev)) <= 1e-5f * (1 + ev * ev));
		}
		dlclose(l.h);
	}
	t_free(t);
}

/* y[i,j] = exp(x[i,j] - M) / S, M = max_r x[i,r], S = sum_r exp(x[i,r] - M):
 * M is one node used twice (by y and inside S). */
static T *softmax_model(const char *name, int64_t rows, int64_t cols)
{
	T *t = t_new(name);
	int x = input(t, "x", DT_F32, shp(2, rows, cols));
	int y = output(t, "y", DT_F32, shp(2, rows, cols));
	Aff xij = aff2(cols, 1), xir = {.k = {cols, 0, 1}};
	Kx *m = kred(t, KR_MAX, kload(t, DT_F32, x, xir));
	Kx *s = kred(t, KR_SUM, kun(t, KU_EXP, kbin(t, KB_SUB, kload(t, DT_F32, x, xir), m)));
	Kx *body = kbin(t, KB_DIV, kun(t, KU_EXP, kbin(t, KB_SUB, kload(t, DT_F32, x, xij), m)), s);
	loop(t, y, xij, body, 2, 3, (int64_t[]){rows, cols, cols});
	return t;
}

static void softmax_ref(const float *x, float *y, int64_t rows, int64_t cols)
{
	for (int64_t i = 0; i < rows; i++) {
		double m = -INFINITY, s = 0;
		for (int64_t j = 0; j < cols; j++)
			m = fmax(m, x[i * cols + j]);
		for (int64_t j = 0; j < cols; j++)
			s += exp(x[i * cols + j] - m);
		for (int64_t j = 0; j < cols; j++)
			y[i * cols + j] = (float)(exp(x[i * cols + j] - m) / s);
	}
}

static void assert_near(const float *got, const float *want, int64_t n, float tol)
{
	for (int64_t i = 0; i < n; i++)
		if (!(fabsf(got[i] - want[i]) <= tol * (1 + fabsf(want[i]))))
			fail_msg("element %lld: got %.9g, want %.9g", (long long)i, got[i], want[i]);
}

static void test_softmax_hoisted(void **state)
{
	T *t = softmax_model("softmax", 3, 7);
	/* -O0 keeps the loops where the backend put them: two reduction nests
	 * (M once, not again inside S), both before the loop over j opens;
	 * M's accumulator a float, S's a double (f32 sums accumulate in f64) */
	char *ir = emit_ir(t, 0);
	assert_int_equal(count(ir, " = phi float "), 1);
	assert_int_equal(count(ir, " = phi double "), 1);
	long red = last_label(ir, "red"), inner = last_label(ir, "loop");
	assert_true(red > 0 && inner > 0);
	assert_true(red < inner);
	free(ir);
	float x[21], y[21], e[21];
	for (int k = 0; k < 21; k++)
		x[k] = (float)((k * 37) % 11) - 5 + (k == 9 ? 80 : 0); /* 80 would overflow exp without M */
	softmax_ref(x, e, 3, 7);
	for (int opt = 0; opt <= 3; opt += 3) {
		Lib l = build(t, opt);
		run(&l, (const void *[]){x}, (void *[]){y});
		assert_near(y, e, 21, 1e-6f);
		dlclose(l.h);
	}
	t_free(t);
}

/* A node inside a reduction body that does not depend on the reduction var
 * (b[i] in sum_r x[i,r] * b[i]) and a reduction nested in another's body. */
static void test_nested_reduce(void **state)
{
	T *t = t_new("nested");
	int x = input(t, "x", DT_F32, shp(2, (int64_t)4, (int64_t)6));
	int b = input(t, "b", DT_F32, shp(1, (int64_t)4));
	int y = output(t, "y", DT_F32, shp(1, (int64_t)4));
	Aff xir = {.k = {6, 1}};
	Kx *bi = kload(t, DT_F32, b, (Aff){.k = {1}});
	Kx *mn = kred(t, KR_MIN, kload(t, DT_F32, x, xir));
	/* y[i] = sum_r (x[i,r] - min_r' x[i,r']) * b[i] */
	Kx *body = kred(t, KR_SUM, kbin(t, KB_MUL, kbin(t, KB_SUB, kload(t, DT_F32, x, xir), mn), bi));
	loop(t, y, (Aff){.k = {1}}, body, 1, 2, (int64_t[]){4, 6});
	float xs[24], bs[4] = {1, -2, 0.5f, 3}, ys[4];
	for (int k = 0; k < 24; k++)
		xs[k] = (float)((k * 7) % 5) - 1;
	Lib l = build(t, 2);
	run(&l, (const void *[]){xs, bs}, (void *[]){ys});
	for (int i = 0; i < 4; i++) {
		float m = INFINITY, s = 0;
		for (int r = 0; r < 6; r++)
			m = fminf(m, xs[i * 6 + r]);
		for (int r = 0; r < 6; r++)
			s += (xs[i * 6 + r] - m) * bs[i];
		assert_true(fabsf(ys[i] - s) <= 1e-5f);
	}
	dlclose(l.h);
	t_free(t);
}

/* An f32 sum accumulates in f64 and rounds once (llvm_expr.c, wide_sum):
 * 1e8, 4094 ones, -1e8 sums to exactly 4094, where f32 partial sums lose
 * the ones next to 1e8 (sequentially: 0); 4096 times 0.1f to the f32
 * nearest the exact sum of the f32 terms. At -O0 and -O3 (vectorized). */
static void test_wide_sum(void **state)
{
	enum { R = 4096 };
	T *t = t_new("widesum");
	int x = input(t, "x", DT_F32, shp(2, (int64_t)2, (int64_t)R));
	int y = output(t, "y", DT_F32, shp(1, (int64_t)2));
	Kx *body = kred(t, KR_SUM, kload(t, DT_F32, x, (Aff){.k = {R, 1}}));
	loop(t, y, (Aff){.k = {1}}, body, 1, 2, (int64_t[]){2, R});
	static float xs[2 * R];
	float ys[2];
	for (int r = 0; r < R; r++)
		xs[r] = r == 0 ? 1e8f : r == R - 1 ? -1e8f : 1.0f, xs[R + r] = 0.1f;
	for (int opt = 0; opt <= 3; opt += 3) {
		Lib l = build(t, opt);
		run(&l, (const void *[]){xs}, (void *[]){ys});
		assert_true(ys[0] == (float)(R - 2));
		assert_true(ys[1] == (float)((double)R * (double)0.1f));
		dlclose(l.h);
	}
	t_free(t);
}

/* --- epilogues ------------------------------------------------------------------ */

/* C = A (3x4) B (4x5), then C = relu(C + bias[j]) + R[i,j] in place. */
static void test_matmul_epilogue(void **state)
{
	T *t = t_new("mmep");
	float bias[5] = {0.5f, -1, 2, 0, -0.25f};
	int a = input(t, "a", DT_F32, shp(2, (int64_t)3, (int64_t)4));
	int bm = input(t, "b", DT_F32, shp(2, (int64_t)4, (int64_t)5));
	int r = input(t, "r", DT_F32, shp(2, (int64_t)3, (int64_t)5));
	int c = output(t, "c", DT_F32, shp(2, (int64_t)3, (int64_t)5));
	int pb = param(t, "bias", DT_F32, shp(1, (int64_t)5), bias);
	Kernel *k = kernel(t, KK_MATMUL);
	k->mm.a = a, k->mm.b = bm, k->mm.c = c;
	k->mm.m = 3, k->mm.n = 5, k->mm.k = 4;
	Aff ij = aff2(5, 1);
	Kx *v = kbin(t, KB_ADD, kload(t, DT_F32, c, ij), kload(t, DT_F32, pb, aff2(0, 1)));
	k->body = kbin(t, KB_ADD, kun(t, KU_RELU, v), kload(t, DT_F32, r, ij));
	k->nvar = k->nout_var = 2;
	k->extent[0] = 3, k->extent[1] = 5;
	k->out = c;
	k->out_idx = ij;
	float as[12], bs[20], rs[15], cs[15];
	for (int i = 0; i < 12; i++)
		as[i] = (float)(i % 5) - 2;
	for (int i = 0; i < 20; i++)
		bs[i] = (float)(i % 3) - 1;
	for (int i = 0; i < 15; i++)
		rs[i] = (float)i / 4;
	Lib l = build(t, 2);
	run(&l, (const void *[]){as, bs, rs}, (void *[]){cs});
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 5; j++) {
			float e = 0;
			for (int q = 0; q < 4; q++)
				e += as[i * 4 + q] * bs[q * 5 + j];
			e += bias[j];
			e = (e < 0 ? 0 : e) + rs[i * 5 + j];
			assert_true(cs[i * 5 + j] == e);
		}
	dlclose(l.h);
	t_free(t);
}

enum { CN = 3, CC = 2, CH = 5, CK = 4 }; /* conv test: images, channels, size, filters */

/* y = conv(x, W, b1) over CN images (3x3, pad 1), then the epilogue
 * y = relu(y + b2[k]) + res[n,k,h,w]. */
static T *conv_model(const char *name, const float *w, const float *b1, const float *b2)
{
	T *t = t_new(name);
	int x = input(t, "x", DT_F32, shp(4, (int64_t)CN, (int64_t)CC, (int64_t)CH, (int64_t)CH));
	int res = input(t, "res", DT_F32, shp(4, (int64_t)CN, (int64_t)CK, (int64_t)CH, (int64_t)CH));
	int y = output(t, "y", DT_F32, shp(4, (int64_t)CN, (int64_t)CK, (int64_t)CH, (int64_t)CH));
	int wb = param(t, "W", DT_F32, shp(4, (int64_t)CK, (int64_t)CC, (int64_t)3, (int64_t)3), w);
	int bb = param(t, "B1", DT_F32, shp(1, (int64_t)CK), b1);
	int b2b = param(t, "B2", DT_F32, shp(1, (int64_t)CK), b2);
	int scratch = temp(t, DT_F32, CC * 9 * CH * CH, 0);
	t->kl.arena_bytes = CC * 9 * CH * CH * 4;
	Kernel *k = kernel(t, KK_CONV2D);
	k->conv.x = x, k->conv.wt = wb, k->conv.bias = bb, k->conv.y = y, k->conv.scratch = scratch;
	k->conv.n = CN, k->conv.c = CC, k->conv.h = CH, k->conv.w = CH;
	k->conv.k = CK, k->conv.oh = CH, k->conv.ow = CH, k->conv.kh = 3, k->conv.kw = 3;
	k->conv.sh = k->conv.sw = 1, k->conv.ph = k->conv.pw = 1, k->conv.dh = k->conv.dw = 1;
	k->conv.group = 1;
	Aff o = {.k = {CK * CH * CH, CH * CH, CH, 1}};
	Kx *v = kbin(t, KB_ADD, kload(t, DT_F32, y, o), kload(t, DT_F32, b2b, (Aff){.k = {0, 1}}));
	k->body = kbin(t, KB_ADD, kun(t, KU_RELU, v), kload(t, DT_F32, res, o));
	k->nvar = k->nout_var = 4;
	k->extent[0] = CN, k->extent[1] = CK, k->extent[2] = CH, k->extent[3] = CH;
	k->out = y;
	k->out_idx = o;
	return t;
}

static void conv_ref(const float *x, const float *w, const float *b1, const float *b2, const float *res, float *y)
{
	for (int n = 0; n < CN; n++)
		for (int o = 0; o < CK; o++)
			for (int i = 0; i < CH; i++)
				for (int j = 0; j < CH; j++) {
					double e = b1[o];
					for (int c = 0; c < CC; c++)
						for (int a = 0; a < 3; a++)
							for (int b = 0; b < 3; b++) {
								int ii = i + a - 1, jj = j + b - 1;
								if (ii >= 0 && ii < CH && jj >= 0 && jj < CH)
									e += w[((o * CC + c) * 3 + a) * 3 + b] *
									     x[((n * CC + c) * CH + ii) * CH + jj];
							}
					e += b2[o];
					int at = ((n * CK + o) * CH + i) * CH + j;
					y[at] = (float)((e < 0 ? 0 : e) + res[at]);
				}
}

static void test_conv_epilogue(void **state)
{
	float w[CK * CC * 9], b1[CK] = {0.5f, -1, 0, 2}, b2[CK] = {-0.5f, 0.25f, 1, -3};
	float x[CN * CC * CH * CH], res[CN * CK * CH * CH], want[CN * CK * CH * CH];
	for (int i = 0; i < CK * CC * 9; i++)
		w[i] = (float)(i % 7) / 4 - 0.75f;
	for (int i = 0; i < CN * CC * CH * CH; i++)
		x[i] = (float)((i * 13) % 9) - 4;
	for (int i = 0; i < CN * CK * CH * CH; i++)
		res[i] = (float)(i % 3) - 1;
	conv_ref(x, w, b1, b2, res, want);

	/* serial, image by image: the call sees one image at a time */
	T *t = conv_model("convep", w, b1, b2);
	t->kl.k[0].sched.par_var = -1;
	char *ir = emit_ir(t, 0);
	assert_non_null(strstr(ir, "[18 x i64] [i64 1, i64 2, i64 5, i64 5, i64 4,"));
	free(ir);
	float y0[CN * CK * CH * CH], y1[CN * CK * CH * CH], y2[CN * CK * CH * CH];
	Lib l = build(t, 2);
	run(&l, (const void *[]){x, res}, (void *[]){y0});
	assert_near(y0, want, CN * CK * CH * CH, 1e-5f);
	dlclose(l.h);
	t_free(t);

	/* threads over the filters of each image (3 chunks), through a pool */
	RtPool *p;
	nncc_abi_ctx ctx = pool_ctx(3, &p);
	t = conv_model("convpar", w, b1, b2);
	set_par(&t->kl.k[0], 1, 3);
	l = build(t, 2);
	run_ctx(&l, (const void *[]){x, res}, (void *[]){y1}, &ctx);
	assert_memory_equal(y0, y1, sizeof y0);
	Rec r;
	rec_init(&r);
	run_ctx(&l, (const void *[]){x, res}, (void *[]){y1}, &r);
	assert_memory_equal(y0, y1, sizeof y0);
	assert_int_equal(r.calls, CN); /* once per image */
	assert_int_equal(r.chunks, CN * 3);
	dlclose(l.h);
	t_free(t);

	/* threads over the images: the whole call first, then the epilogue */
	t = conv_model("convimg", w, b1, b2);
	set_par(&t->kl.k[0], 0, 2);
	ir = emit_ir(t, 0);
	assert_non_null(strstr(ir, "[18 x i64] [i64 3, i64 2, i64 5, i64 5, i64 4,"));
	free(ir);
	l = build(t, 2);
	run_ctx(&l, (const void *[]){x, res}, (void *[]){y2}, &ctx);
	assert_memory_equal(y0, y2, sizeof y0);
	dlclose(l.h);
	t_free(t);
	rt_pool_free(p);
}

/* --- threads ------------------------------------------------------------------- */

enum { PR = 37, PC = 50 }; /* rows and columns of the parallel tests */

/* y[i,j] = x[i,j] / sum_r x[i,r] + z[j] */
static T *rows_model(const char *name, int par_var, int64_t chunks)
{
	T *t = t_new(name);
	int x = input(t, "x", DT_F32, shp(2, (int64_t)PR, (int64_t)PC));
	int z = input(t, "z", DT_F32, shp(1, (int64_t)PC));
	int y = output(t, "y", DT_F32, shp(2, (int64_t)PR, (int64_t)PC));
	Aff ij = aff2(PC, 1);
	Kx *s = kred(t, KR_SUM, kload(t, DT_F32, x, (Aff){.k = {PC, 0, 1}}));
	Kx *body = kbin(t, KB_ADD, kbin(t, KB_DIV, kload(t, DT_F32, x, ij), s), kload(t, DT_F32, z, aff2(0, 1)));
	Kernel *k = loop(t, y, ij, body, 2, 3, (int64_t[]){PR, PC, PC});
	set_par(k, par_var, chunks);
	return t;
}

static void test_parallel_loops(void **state)
{
	float x[PR * PC], z[PC], ys[PR * PC], yp[PR * PC];
	for (int i = 0; i < PR * PC; i++)
		x[i] = 1 + (float)((i * 31) % 17);
	for (int j = 0; j < PC; j++)
		z[j] = (float)j / 8;
	T *t = rows_model("serial", -1, 1);
	Lib l = build(t, 2);
	run(&l, (const void *[]){x, z}, (void *[]){ys});
	for (int i = 0; i < PR; i++) {
		float s = 0;
		for (int j = 0; j < PC; j++)
			s += x[i * PC + j];
		for (int j = 0; j < PC; j++)
			assert_true(fabsf(ys[i * PC + j] - (x[i * PC + j] / s + z[j])) <= 1e-5f);
	}
	dlclose(l.h);
	t_free(t);

	/* rows in 8 uneven chunks; columns (reduction inside) in 64 chunks, more than there are */
	static const struct { int var; int64_t chunks; } par[] = {{0, 8}, {1, 64}, {0, PR}};
	for (int threads = 2; threads <= 4; threads += 2) {
		RtPool *p;
		nncc_abi_ctx ctx = pool_ctx(threads, &p);
		for (size_t i = 0; i < sizeof par / sizeof *par; i++) {
			char name[32];
			snprintf(name, sizeof name, "par%d_%zu", threads, i);
			t = rows_model(name, par[i].var, par[i].chunks);
			for (int opt = 0; opt <= 3; opt += 3) {
				l = build(t, opt);
				memset(yp, 0, sizeof yp);
				run_ctx(&l, (const void *[]){x, z}, (void *[]){yp}, &ctx);
				assert_memory_equal(ys, yp, sizeof ys);
				memset(yp, 0, sizeof yp);
				run_ctx(&l, (const void *[]){x, z}, (void *[]){yp}, NULL);
				assert_memory_equal(ys, yp, sizeof ys);
				nncc_abi_ctx none = {.nthreads = 1}; /* no parallel_for: serial */
				memset(yp, 0, sizeof yp);
				run_ctx(&l, (const void *[]){x, z}, (void *[]){yp}, &none);
				assert_memory_equal(ys, yp, sizeof ys);
				Rec r;
				rec_init(&r);
				memset(yp, 0, sizeof yp);
				run_ctx(&l, (const void *[]){x, z}, (void *[]){yp}, &r);
				assert_memory_equal(ys, yp, sizeof ys);
				assert_int_equal(r.calls, 1);
				assert_int_equal(r.chunks, par[i].chunks);
				dlclose(l.h);
			}
			t_free(t);
		}
		rt_pool_free(p);
	}
}

/* A parallel var outside the output vars is reported, not rendered. */
static void test_bad_schedule(void **state)
{
	T *t = rows_model("badsched", 2, 4);
	char path[512];
	snprintf(path, sizeof path, "%s/bad.o", dir);
	CpuOptions o = {.opt_level = 2};
	Diag d;
	diag_init(&d);
	assert_int_equal(cg_cpu_emit(&t->kl, &o, path, 0, &d), -1);
	assert_non_null(strstr(d.msg, "bad schedule"));
	assert_int_equal(access(path, F_OK), -1);
	t_free(t);
}

/* --- cg_schedule ------------------------------------------------------------------ */

/* A conv kernel (the call's geometry only: n images, k filters, hw x hw
 * outputs) with a relu epilogue over its output y. */
static void conv_relu_kernel(T *t, int y, int64_t n, int64_t c, int64_t k, int64_t hw, int64_t kern)
{
	Kernel *cv = kernel(t, KK_CONV2D);
	Aff at = {.k = {k * hw * hw, hw * hw, hw, 1}};
	cv->conv.n = n;
	cv->conv.c = c;
	cv->conv.group = 1;
	cv->conv.kh = cv->conv.kw = kern;
	cv->conv.k = k;
	cv->conv.oh = cv->conv.ow = hw;
	cv->out = y;
	cv->body = kun(t, KU_RELU, kload(t, DT_F32, y, at));
	cv->nvar = cv->nout_var = 4;
	memcpy(cv->extent, (int64_t[]){n, k, hw, hw}, 4 * sizeof(int64_t));
	cv->out_idx = at;
}

static Kernel *ew_kernel(T *t, int in, int out, int nout, const int64_t *ext, Aff load)
{
	Aff o = {0};
	int64_t s = 1;
	for (int v = nout - 1; v >= 0; v--) {
		o.k[v] = s;
		s *= ext[v];
	}
	return loop(t, out, o, kun(t, KU_RELU, kload(t, DT_F32, in, load)), nout, nout, ext);
}

static void test_schedule(void **state)
{
	T *t = t_new("sched");
	int x = input(t, "x", DT_F32, shp(1, (int64_t)1 << 24));
	int y = output(t, "y", DT_F32, shp(1, (int64_t)1 << 24));
	/* 0: big elementwise [1,64,56,56]: the channels in 64 chunks, rows vectorized */
	ew_kernel(t, x, y, 4, (int64_t[]){1, 64, 56, 56}, (Aff){.k = {0, 3136, 56, 1}});
	/* 1: tiny: serial */
	ew_kernel(t, x, y, 2, (int64_t[]){4, 6}, aff2(6, 1));
	/* 2: softmax rows [256, 1000]: rows in 64 chunks */
	T *sm = softmax_model("sm", 256, 1000);
	t->kl.k[t->kl.nk++] = sm->kl.k[0];
	/* 3: a reduction over vars 0 and 1 of [1, 4, 16384]: var 2 would split rows */
	Kx *s3 = kred(t, KR_SUM, kload(t, DT_F32, x, (Aff){.k = {65536, 16384, 0, 1}}));
	loop(t, y, (Aff){.k = {65536, 16384, 1}}, kbin(t, KB_SUB, kload(t, DT_F32, x, (Aff){.k = {65536, 16384, 1}}), s3), 3, 4,
	     (int64_t[]){1, 4, 16384, 16384});
	/* 4: a reduction over everything: serial */
	loop(t, y, aff2(1, 0), kbin(t, KB_DIV, kload(t, DT_F32, x, aff2(1, 0)), kred(t, KR_SUM, kload(t, DT_F32, x, aff2(0, 1)))), 1, 2,
	     (int64_t[]){65536, 65536});
	/* 5: a transposed load: not vectorized */
	ew_kernel(t, x, y, 2, (int64_t[]){512, 512}, aff2(1, 512));
	/* 6: conv over 8 images with an epilogue, 2 MiB of output: never
	 * splits the images (it runs image by image) */
	conv_relu_kernel(t, y, 8, 64, 64, 32, 3);
	/* 7: matmul without epilogue */
	kernel(t, KK_MATMUL);
	/* 8: the same conv over 2 images of 16 x 16, 128 KiB of output: one
	 * call over the whole batch, its epilogue parallel (over any var) */
	conv_relu_kernel(t, y, 2, 64, 64, 16, 3);
	/* 9: a sum over [4, 16] read row-major: one reduction var of 64; the
	 * reduction never merges with the output var */
	loop(t, y, aff2(1, 0), kred(t, KR_SUM, kload(t, DT_F32, x, (Aff){.k = {64, 16, 1}})), 1, 3,
	     (int64_t[]){8, 4, 16});
	/* 10: conv over 64 images of one channel, 6 filters 5 x 5, 28 x 28 */
	conv_relu_kernel(t, y, 64, 1, 6, 28, 5);

	cg_schedule(&t->kl, 32);
	const Kernel *k = t->kl.k;
	/* 0 and 1 walk their output row-major: one var each */
	assert_int_equal(k[0].nout_var, 1);
	assert_int_equal(k[0].extent[0], 64 * 56 * 56);
	assert_int_equal(k[0].sched.par_var, 0);
	assert_int_equal(k[0].sched.par_chunks, 64);
	assert_int_equal(k[0].sched.vec_var, 0);
	assert_int_equal(k[0].sched.vec_width, 8);
	assert_int_equal(k[1].nout_var, 1);
	assert_int_equal(k[1].extent[0], 24);
	assert_int_equal(k[1].sched.par_var, -1);
	assert_int_equal(k[1].sched.vec_var, 0);
	assert_int_equal(k[2].sched.par_var, 0);
	assert_int_equal(k[2].sched.par_chunks, 64);
	assert_int_equal(k[2].sched.vec_var, 1);
	/* 3: the extent-1 var merges; the reduction keeps the rows apart */
	assert_int_equal(k[3].nout_var, 2);
	assert_int_equal(k[3].nvar, 3);
	assert_int_equal(k[3].extent[0], 4);
	assert_int_equal(k[3].sched.par_var, 0);
	assert_int_equal(k[3].sched.par_chunks, 4);
	assert_int_equal(k[4].sched.par_var, -1);
	assert_int_equal(k[5].sched.par_var, 0);
	assert_int_equal(k[5].nout_var, 2);
	assert_int_equal(k[5].sched.vec_var, -1);
	/* 6: the epilogue keeps its image var, the rest is one var */
	assert_int_equal(k[6].nout_var, 2);
	assert_int_equal(k[6].sched.par_var, 1);
	assert_int_equal(k[6].sched.vec_var, 1);
	assert_int_equal(k[7].sched.par_var, -1);
	assert_int_equal(k[7].sched.par_chunks, 1);
	assert_false(k[6].sched.whole_batch);
	assert_true(k[8].sched.whole_batch);
	assert_true(k[8].sched.par_var >= 0);
	assert_int_equal(k[9].nout_var, 1);
	assert_int_equal(k[9].nvar, 2);
	assert_int_equal(k[9].extent[0], 8);
	assert_int_equal(k[9].extent[1], 64);
	/* 10: 1.2 MiB of output, but each image 118K multiply-adds (LeNet's
	 * first layer in training): one call over the whole batch */
	assert_true(k[10].sched.whole_batch);
	cg_schedule(&t->kl, 0);
	assert_int_equal(k[0].sched.vec_width, 0);
	assert_int_equal(k[0].sched.vec_var, 0);

	/* kprint shows it */
	cg_schedule(&t->kl, 32);
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	cg_print(&t->kl, f);
	fclose(f);
	assert_non_null(strstr(buf, "for v0 in 0..200704 parallel(64 chunks) vectorize(8):"));
	assert_non_null(strstr(buf, "for v0 in 0..24 vectorize(8): "));
	free(buf);
	t_free(sm);
	t_free(t);
}

int main(void)
{
	char base[] = "/tmp/nncc_test_cpu_schedXXXXXX";
	if (make_dir(base) != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_node),
		cmocka_unit_test(test_softmax_hoisted),
		cmocka_unit_test(test_nested_reduce),
		cmocka_unit_test(test_wide_sum),
		cmocka_unit_test(test_matmul_epilogue),
		cmocka_unit_test(test_conv_epilogue),
		cmocka_unit_test(test_parallel_loops),
		cmocka_unit_test(test_bad_schedule),
		cmocka_unit_test(test_schedule),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rm_dir(base))
		rc = rc ? rc : 1;
	return rc;
}
