/* test_cpu.c — the LLVM CPU backend and the linker step, on kernel lists
 * built by hand (no lowering): each test emits an object, links a .so into
 * a folder whose name has a space, dlopens it, checks the descriptor and
 * both exported names, runs it and compares with values computed here.
 * Covers broadcast elementwise through an arena temporary, guarded loads
 * next to PROT_NONE pages (an out-of-range load would fault), reductions,
 * a two-reduce pooling average, library matmul and conv calls, f64, i64
 * and i32 kernels, unary math, conversions and in-place edge cases,
 * -O0 vs -O3, textual IR (to a file and to stdout), and error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kl_build.h"

/* Tests */

/* z = relu(x + y), y broadcast over rows, through an arena temporary. */
static T *ew_model(void)
{
	T *t = t_new("ew");
	int x = input(t, "x", DT_F32, shp(2, (int64_t)2, (int64_t)3));
	int y = input(t, "y", DT_F32, shp(1, (int64_t)3));
	int z = output(t, "z", DT_F32, shp(2, (int64_t)2, (int64_t)3));
	int tmp = temp(t, DT_F32, 6, 64);
	t->kl.arena_bytes = 128;
	int64_t ext[2] = {2, 3};
	Aff rowmajor = {.k = {3, 1}};
	Kx *sum = kbin(t, KB_ADD, kload(t, DT_F32, x, rowmajor), kload(t, DT_F32, y, (Aff){.k = {0, 1}}));
	loop(t, tmp, rowmajor, sum, 2, 2, ext);
	loop(t, z, rowmajor, kun(t, KU_RELU, kload(t, DT_F32, tmp, rowmajor)), 2, 2, ext);
	return t;
}

static void test_elementwise(void **state)
{
	T *t = ew_model();
	Lib l = build(t, 2);
	const nncc_abi_tensor *ti = l.m->inputs;
	assert_string_equal(ti[0].name, "x");
	assert_int_equal(ti[0].dtype, 1);
	assert_int_equal(ti[0].rank, 2);
	assert_int_equal(ti[0].dims[0], 2);
	assert_int_equal(ti[0].dims[1], 3);
	assert_int_equal(ti[0].nbytes, 24);
	assert_null(ti[0].data);
	assert_string_equal(ti[1].name, "y");
	assert_int_equal(ti[1].rank, 1);
	assert_int_equal(ti[1].nbytes, 12);
	assert_string_equal(l.m->outputs[0].name, "z");
	assert_int_equal(l.m->outputs[0].dims[1], 3);

	float x[6] = {1, -2, 3, -4, 5, NAN}, y[3] = {0.5f, 1, -10}, z[6];
	run(&l, (const void *[]){x, y}, (void *[]){z});
	for (int i = 0; i < 5; i++) {
		float e = x[i] + y[i % 3];
		assert_true(z[i] == (e < 0 ? 0 : e));
	}
	assert_true(isnan(z[5])); /* relu keeps NaN */
	dlclose(l.h);
	t_free(t);
}

/* y[i] = x[i-1] when 0 <= i-1 < n else -7; x fills a page between two
 * PROT_NONE pages, so loading x[-1] or x[n] would fault. */
static void test_guarded_load(void **state)
{
	long pg = sysconf(_SC_PAGESIZE);
	int64_t n = pg / 4;
	T *t = t_new("pad");
	int x = input(t, "x", DT_F32, shp(1, n));
	int y = output(t, "y", DT_F32, shp(1, n + 2));
	Kx *ld = kload(t, DT_F32, x, (Aff){.c = -1, .k = {1}});
	ld->fill = -7;
	kguard(t, ld, (Aff){.c = -1, .k = {1}}, 0, n);
	int64_t ext[1] = {n + 2};
	loop(t, y, (Aff){.k = {1}}, ld, 1, 1, ext);

	char *mem = mmap(NULL, (size_t)pg * 3, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(mem != MAP_FAILED);
	assert_int_equal(mprotect(mem, (size_t)pg, PROT_NONE), 0);
	assert_int_equal(mprotect(mem + 2 * pg, (size_t)pg, PROT_NONE), 0);
	float *xs = (float *)(mem + pg);
	for (int64_t i = 0; i < n; i++)
		xs[i] = (float)i;
	float *ys = malloc((size_t)(n + 2) * sizeof *ys);
	for (int opt = 0; opt <= 3; opt += 3) {
		Lib l = build(t, opt);
		run(&l, (const void *[]){xs}, (void *[]){ys});
		assert_true(ys[0] == -7 && ys[n + 1] == -7);
		for (int64_t i = 0; i < n; i++)
			assert_true(ys[i + 1] == (float)i);
		dlclose(l.h);
	}
	free(ys);
	munmap(mem, (size_t)pg * 3);
	t_free(t);
}

/* s[i] = sum_j x[i,j], m[i] = max_j x[i,j], mn[i] = min_j x[i,j]. */
static T *reduce_model(void)
{
	T *t = t_new("red");
	int x = input(t, "x", DT_F32, shp(2, (int64_t)3, (int64_t)4));
	int s = output(t, "s", DT_F32, shp(1, (int64_t)3));
	int m = output(t, "m", DT_F32, shp(1, (int64_t)3));
	int mn = output(t, "mn", DT_F32, shp(1, (int64_t)3));
	int64_t ext[2] = {3, 4};
	Aff xi = {.k = {4, 1}}, oi = {.k = {1}};
	loop(t, s, oi, kred(t, KR_SUM, kload(t, DT_F32, x, xi)), 1, 2, ext);
	loop(t, m, oi, kred(t, KR_MAX, kload(t, DT_F32, x, xi)), 1, 2, ext);
	loop(t, mn, oi, kred(t, KR_MIN, kload(t, DT_F32, x, xi)), 1, 2, ext);
	return t;
}

static void test_reduce(void **state)
{
	T *t = reduce_model();
	float x[12] = {1, 2, 3, 4, -5, -6, -7, -8, 100, -1, 0.5f, 2}, s[3], m[3], mn[3];
	float es[3] = {10, -26, 101.5f}, em[3] = {4, -5, 100}, emn[3] = {1, -8, -1};
	for (int opt = 0; opt <= 3; opt += 3) {
		Lib l = build(t, opt);
		run(&l, (const void *[]){x}, (void *[]){s, m, mn});
		for (int i = 0; i < 3; i++) {
			assert_true(s[i] == es[i]);
			assert_true(m[i] == em[i]); /* row 1: all negative, so the init is -inf */
			assert_true(mn[i] == emn[i]);
		}
		dlclose(l.h);
	}
	t_free(t);
}

/* Average pooling, window 3, pad 1, padding excluded from the count:
 * y[i] = sum_r x[i+r-1] / sum_r valid(i+r-1). Two KX_REDUCE in one body. */
static void test_avgpool(void **state)
{
	T *t = t_new("pool");
	int x = input(t, "x", DT_F32, shp(1, (int64_t)5));
	int y = output(t, "y", DT_F32, shp(1, (int64_t)5));
	Aff e = {.c = -1, .k = {1, 1}};
	Kx *ld = kload(t, DT_F32, x, e);
	kguard(t, ld, e, 0, 5);
	Kx *valid = kx(t, KX_VALID, DT_F32);
	kguard(t, valid, e, 0, 5);
	int64_t ext[2] = {5, 3};
	loop(t, y, (Aff){.k = {1}}, kbin(t, KB_DIV, kred(t, KR_SUM, ld), kred(t, KR_SUM, valid)), 1, 2, ext);
	float xs[5] = {3, 6, 9, 12, 15}, ys[5];
	float ey[5] = {4.5f, 6, 9, 12, 13.5f};
	for (int opt = 0; opt <= 3; opt += 3) {
		Lib l = build(t, opt);
		run(&l, (const void *[]){xs}, (void *[]){ys});
		for (int i = 0; i < 5; i++)
			assert_true(ys[i] == ey[i]);
		dlclose(l.h);
	}
	t_free(t);
}

/* y[b] = x[b] (2x3) @ W (3x2), W a parameter broadcast over the batch. */
static void test_matmul(void **state)
{
	T *t = t_new("mm");
	float w[6] = {1, 2, 3, 4, 5, 6};
	int x = input(t, "x", DT_F32, shp(3, (int64_t)2, (int64_t)2, (int64_t)3));
	int y = output(t, "y", DT_F32, shp(3, (int64_t)2, (int64_t)2, (int64_t)2));
	int wb = param(t, "W", DT_F32, shp(2, (int64_t)3, (int64_t)2), w);
	Kernel *k = kernel(t, KK_MATMUL);
	k->mm.a = x;
	k->mm.b = wb;
	k->mm.c = y;
	k->mm.nbatch = 1;
	k->mm.bext[0] = 2;
	k->mm.sa[0] = 6;
	k->mm.sb[0] = 0;
	k->mm.sc[0] = 4;
	k->mm.m = 2;
	k->mm.n = 2;
	k->mm.k = 3;
	Lib l = build(t, 2);
	const nncc_abi_tensor *p = &l.m->params[0];
	assert_string_equal(p->name, "W");
	assert_int_equal(p->nbytes, 24);
	assert_non_null(p->data);
	assert_memory_equal(p->data, w, sizeof w);
	assert_int_equal((uintptr_t)p->data % 64, 0);
	float xs[12] = {1, 0, 0, 0, 1, 0, 1, 2, 3, -1, 0, 1}, ys[8];
	run(&l, (const void *[]){xs}, (void *[]){ys});
	for (int b = 0; b < 2; b++)
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 2; j++) {
				float e = 0;
				for (int r = 0; r < 3; r++)
					e += xs[b * 6 + i * 3 + r] * w[r * 2 + j];
				assert_true(ys[b * 4 + i * 2 + j] == e);
			}
	dlclose(l.h);
	t_free(t);
}

/* y = conv(x, W, bias), x 1x1x4x4, W 2x1x3x3, pad 1, im2col scratch in the arena. */
static void test_conv(void **state)
{
	T *t = t_new("cv");
	float w[18], bias[2] = {0.5f, -1};
	for (int i = 0; i < 18; i++)
		w[i] = (float)(i % 5) - 2;
	int x = input(t, "x", DT_F32, shp(4, (int64_t)1, (int64_t)1, (int64_t)4, (int64_t)4));
	int y = output(t, "y", DT_F32, shp(4, (int64_t)1, (int64_t)2, (int64_t)4, (int64_t)4));
	int wb = param(t, "W", DT_F32, shp(4, (int64_t)2, (int64_t)1, (int64_t)3, (int64_t)3), w);
	int bb = param(t, "B", DT_F32, shp(1, (int64_t)2), bias);
	int scratch = temp(t, DT_F32, 9 * 16, 0);
	t->kl.arena_bytes = 9 * 16 * 4;
	Kernel *k = kernel(t, KK_CONV2D);
	k->conv.x = x;
	k->conv.wt = wb;
	k->conv.bias = bb;
	k->conv.y = y;
	k->conv.scratch = scratch;
	k->conv.n = 1, k->conv.c = 1, k->conv.h = 4, k->conv.w = 4;
	k->conv.k = 2, k->conv.oh = 4, k->conv.ow = 4, k->conv.kh = 3, k->conv.kw = 3;
	k->conv.sh = k->conv.sw = 1, k->conv.ph = k->conv.pw = 1, k->conv.dh = k->conv.dw = 1;
	k->conv.group = 1;
	Lib l = build(t, 2);
	assert_int_equal(l.m->nparams, 2);
	assert_string_equal(l.m->params[1].name, "B");
	float xs[16], ys[32];
	for (int i = 0; i < 16; i++)
		xs[i] = (float)i;
	run(&l, (const void *[]){xs}, (void *[]){ys});
	for (int o = 0; o < 2; o++)
		for (int i = 0; i < 4; i++)
			for (int j = 0; j < 4; j++) {
				float e = bias[o];
				for (int a = 0; a < 3; a++)
					for (int b = 0; b < 3; b++) {
						int ii = i + a - 1, jj = j + b - 1;
						if (ii >= 0 && ii < 4 && jj >= 0 && jj < 4)
							e += w[o * 9 + a * 3 + b] * xs[ii * 4 + jj];
					}
				assert_true(ys[o * 16 + i * 4 + j] == e);
			}
	dlclose(l.h);
	t_free(t);
}

/* f64: y = sqrt(x) * 2 + exp(-x); i64: q = max(a / b, -3) with a / 0 == a,
 * r = min_j a[j] of an i32 input widened to i64. */
static void test_f64_i64(void **state)
{
	T *t = t_new("wide");
	int x = input(t, "x", DT_F64, shp(1, (int64_t)4));
	int a = input(t, "a", DT_I64, shp(1, (int64_t)6));
	int b = input(t, "b", DT_I64, shp(1, (int64_t)6));
	int c = input(t, "c", DT_I32, shp(1, (int64_t)5));
	int y = output(t, "y", DT_F64, shp(1, (int64_t)4));
	int q = output(t, "q", DT_I64, shp(1, (int64_t)6));
	int r = output(t, "r", DT_I64, shp(0));
	Aff i = {.k = {1}};
	Kx *xv = kload(t, DT_F64, x, i);
	Kx *twice = kbin(t, KB_MUL, kun(t, KU_SQRT, xv), kconst(t, DT_F64, 2));
	loop(t, y, i, kbin(t, KB_ADD, twice, kun(t, KU_EXP, kun(t, KU_NEG, xv))), 1, 1, (int64_t[]){4});
	Kx *div = kbin(t, KB_DIV, kload(t, DT_I64, a, i), kload(t, DT_I64, b, i));
	loop(t, q, i, kbin(t, KB_MAX, div, kconst(t, DT_I64, -3)), 1, 1, (int64_t[]){6});
	loop(t, r, (Aff){0}, kred(t, KR_MIN, kload(t, DT_I64, c, (Aff){.k = {1}})), 0, 1, (int64_t[]){5});
	assert_int_equal(t->kl.buf[c].dtype, DT_I32);

	double xs[4] = {0, 1, 2.25, 100}, ys[4];
	int64_t as[6] = {7, -7, 100, 5, INT64_MIN, 9}, bs[6] = {2, 2, -1, 0, -1, -3}, qs[6], rs;
	int32_t cs[5] = {5, -2000000000, 3, 2000000000, 0};
	/* 100 / -1 and INT64_MIN / -1 (wraps) fall below -3; 5 / 0 gives 5 */
	int64_t eq[6] = {3, -3, -3, 5, -3, -3};
	for (int opt = 0; opt <= 3; opt += 3) {
		Lib l = build(t, opt);
		assert_int_equal(l.m->inputs[0].dtype, DT_F64);
		assert_int_equal(l.m->inputs[3].dtype, DT_I32);
		assert_int_equal(l.m->outputs[2].rank, 0);
		assert_int_equal(l.m->outputs[2].nbytes, 8);
		run(&l, (const void *[]){xs, as, bs, cs}, (void *[]){ys, qs, &rs});
		for (int k = 0; k < 4; k++)
			assert_true(fabs(ys[k] - (sqrt(xs[k]) * 2 + exp(-xs[k]))) <= 1e-15 * (1 + fabs(ys[k])));
		for (int k = 0; k < 6; k++)
			assert_int_equal(qs[k], eq[k]);
		assert_int_equal(rs, -2000000000);
		dlclose(l.h);
	}
	t_free(t);
}

/* Every unary op on f32 against libm. */
static void test_unary(void **state)
{
	static const KuOp ops[] = {KU_NEG, KU_ABS, KU_EXP, KU_LOG, KU_SQRT, KU_RELU, KU_SIGMOID, KU_TANH};
	enum { NOP = sizeof ops / sizeof *ops, N = 7 };
	T *t = t_new("un");
	int x = input(t, "x", DT_F32, shp(1, (int64_t)N));
	int ys[NOP];
	for (int o = 0; o < NOP; o++) {
		char name[8];
		snprintf(name, sizeof name, "y%d", o);
		ys[o] = output(t, name, DT_F32, shp(1, (int64_t)N));
		loop(t, ys[o], (Aff){.k = {1}}, kun(t, ops[o], kload(t, DT_F32, x, (Aff){.k = {1}})), 1, 1, (int64_t[]){N});
	}
	float xs[N] = {0.25f, 1, 3.5f, 20, 0.001f, 7, 0.5f}, out[NOP][N];
	Lib l = build(t, 2);
	void *outs[NOP];
	for (int o = 0; o < NOP; o++)
		outs[o] = out[o];
	for (int sign = 0; sign < 2; sign++) { /* then again on negated inputs */
		run(&l, (const void *[]){xs}, outs);
		for (int i = 0; i < N; i++) {
			float v = xs[i];
			float e[NOP] = {-v, fabsf(v), expf(v), logf(v), sqrtf(v), v < 0 ? 0 : v, 1 / (1 + expf(-v)), tanhf(v)};
			for (int o = 0; o < NOP; o++) {
				if (isnan(e[o]))
					assert_true(isnan(out[o][i]));
				else
					assert_true(fabsf(out[o][i] - e[o]) <= 1e-6f * (1 + fabsf(e[o])));
			}
		}
		for (int i = 0; i < N; i++)
			xs[i] = -xs[i];
	}
	dlclose(l.h);
	t_free(t);
}

/* Reductions without reduction vars or with an empty one; u8, bool and
 * f16 conversions (saturating float to int); an in-place update of an
 * arena buffer through a second buffer at the same offset. */
static void test_edges(void **state)
{
	T *t = t_new("edge");
	int x = input(t, "x", DT_F32, shp(1, (int64_t)4));
	int u = input(t, "u", DT_U8, shp(1, (int64_t)4));
	int c = output(t, "c", DT_F32, shp(1, (int64_t)3));
	int q = output(t, "q", DT_U8, shp(1, (int64_t)4));
	int bo = output(t, "b", DT_BOOL, shp(1, (int64_t)4));
	int h = output(t, "h", DT_F32, shp(1, (int64_t)4));
	int ip = output(t, "ip", DT_F32, shp(1, (int64_t)4));
	int t0 = temp(t, DT_F32, 4, 0), t1 = temp(t, DT_F32, 4, 0); /* same storage */
	int th = temp(t, DT_F16, 4, 64);
	t->kl.arena_bytes = 128;
	Aff i = {.k = {1}};
	/* c[0] = sum over no vars of 2.5; c[1] = sum over an empty var; c[2] = max over it */
	loop(t, c, (Aff){0}, kred(t, KR_SUM, kconst(t, DT_F32, 2.5)), 0, 0, NULL);
	loop(t, c, (Aff){.c = 1}, kred(t, KR_SUM, kload(t, DT_F32, x, i)), 0, 1, (int64_t[]){0});
	loop(t, c, (Aff){.c = 2}, kred(t, KR_MAX, kload(t, DT_F32, x, i)), 0, 1, (int64_t[]){0});
	/* q = u8(x * 100), b = bool(x) */
	loop(t, q, i, kbin(t, KB_MUL, kload(t, DT_F32, x, i), kconst(t, DT_F32, 100)), 1, 1, (int64_t[]){4});
	loop(t, bo, i, kload(t, DT_F32, x, i), 1, 1, (int64_t[]){4});
	/* h = f32(f16(x)) through the arena */
	loop(t, th, i, kload(t, DT_F32, x, i), 1, 1, (int64_t[]){4});
	loop(t, h, i, kload(t, DT_F32, th, i), 1, 1, (int64_t[]){4});
	/* t0 = u; t1 = t0 + 1 in place; ip = t1 */
	loop(t, t0, i, kload(t, DT_F32, u, i), 1, 1, (int64_t[]){4});
	loop(t, t1, i, kbin(t, KB_ADD, kload(t, DT_F32, t0, i), kconst(t, DT_F32, 1)), 1, 1, (int64_t[]){4});
	loop(t, ip, i, kload(t, DT_F32, t1, i), 1, 1, (int64_t[]){4});

	int args[16];
	assert_int_equal(cpu_kernel_args(&t->kl, &t->kl.k[8], args), 1); /* t0 and t1 share one pointer */
	float xs[4] = {0.5f, -1, 3, 0.0001f}, cs[3], hs[4], ips[4];
	uint8_t us[4] = {0, 200, 255, 7}, qs[4], bs[4];
	for (int opt = 0; opt <= 3; opt += 3) {
		Lib l = build(t, opt);
		run(&l, (const void *[]){xs, us}, (void *[]){cs, qs, bs, hs, ips});
		assert_true(cs[0] == 2.5f && cs[1] == 0 && cs[2] == -INFINITY);
		assert_int_equal(qs[0], 50);
		assert_int_equal(qs[1], 0);   /* -100 saturates */
		assert_int_equal(qs[2], 255); /* 300 saturates */
		assert_int_equal(qs[3], 0);
		assert_true(bs[0] == 1 && bs[1] == 1 && bs[2] == 1 && bs[3] == 1);
		assert_true(hs[0] == 0.5f && hs[1] == -1 && hs[2] == 3);
		assert_true(hs[3] != xs[3] && fabsf(hs[3] - xs[3]) < 1e-6f); /* rounded to f16 */
		for (int k = 0; k < 4; k++)
			assert_true(ips[k] == (float)us[k] + 1);
		dlclose(l.h);
	}
	t_free(t);
}

/* Random-ish inputs give bit-identical results at -O0 and -O3. */
static void test_opt_levels_agree(void **state)
{
	T *t = ew_model();
	float x[6], y[3], z0[6], z3[6];
	srand(7);
	for (int i = 0; i < 6; i++)
		x[i] = (float)rand() / RAND_MAX - 0.5f;
	for (int i = 0; i < 3; i++)
		y[i] = (float)rand() / RAND_MAX - 0.5f;
	Lib l0 = build(t, 0), l3 = build(t, 3);
	run(&l0, (const void *[]){x, y}, (void *[]){z0});
	run(&l3, (const void *[]){x, y}, (void *[]){z3});
	assert_memory_equal(z0, z3, sizeof z0);
	dlclose(l0.h);
	dlclose(l3.h);
	t_free(t);
}

static char *slurp(const char *path)
{
	Diag d;
	diag_init(&d);
	size_t n;
	char *s = read_file(path, &n, &d);
	if (!s)
		fail_msg("%s", d.msg);
	return s;
}

static void test_emit_llvm(void **state)
{
	T *t = reduce_model();
	char path[512];
	snprintf(path, sizeof path, "%s/red.ll", dir);
	Diag d;
	diag_init(&d);
	CpuOptions o = {.opt_level = 0};
	assert_int_equal(cg_cpu_emit(&t->kl, &o, path, 1, &d), 0);
	char *s = slurp(path);
	assert_non_null(strstr(s, "define"));
	assert_non_null(strstr(s, "@red_run("));
	assert_non_null(strstr(s, "@red_nncc_model"));
	assert_non_null(strstr(s, "@nncc_model = weak alias"));
	assert_non_null(strstr(s, "noalias"));
	free(s);
	/* an explicit cpu and feature string reaches the function attributes */
	o.cpu = "x86-64";
	o.features = "+sse2";
	assert_int_equal(cg_cpu_emit(&t->kl, &o, path, 1, &d), 0);
	s = slurp(path);
	assert_non_null(strstr(s, "\"target-cpu\"=\"x86-64\""));
	assert_non_null(strstr(s, "\"target-features\"=\"+sse2\""));
	free(s);

	/* "-" writes to standard output */
	snprintf(path, sizeof path, "%s/stdout.ll", dir);
	fflush(stdout);
	int saved = dup(1);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	dup2(fileno(f), 1);
	int rc = cg_cpu_emit(&t->kl, &o, "-", 1, &d);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	fclose(f);
	assert_int_equal(rc, 0);
	s = slurp(path);
	assert_non_null(strstr(s, "define void @red_run("));
	free(s);
	assert_int_equal(access("-", F_OK), -1);
	t_free(t);
}

/* Elided weights are an error, and nothing is left behind. */
static void test_errors(void **state)
{
	T *t = t_new("bad");
	float w[2] = {1, 2};
	int x = input(t, "x", DT_F32, shp(1, (int64_t)2));
	int y = output(t, "y", DT_F32, shp(1, (int64_t)2));
	int p = param(t, "weights", DT_F32, shp(1, (int64_t)2), w);
	t->g->val[t->kl.param_value[0]].data = NULL;
	Aff i = {.k = {1}};
	loop(t, y, i, kbin(t, KB_ADD, kload(t, DT_F32, x, i), kload(t, DT_F32, p, i)), 1, 1, (int64_t[]){2});
	char obj[512], so[512];
	snprintf(obj, sizeof obj, "%s/bad.o", dir);
	snprintf(so, sizeof so, "%s/bad.so", dir);
	Diag d;
	diag_init(&d);
	CpuOptions o = {.opt_level = 2};
	assert_int_equal(cg_cpu_emit(&t->kl, &o, obj, 0, &d), -1);
	assert_non_null(strstr(d.msg, "value weights has no data"));
	assert_int_equal(access(obj, F_OK), -1);

	diag_init(&d);
	assert_int_equal(cg_link_so(obj, so, &d), -1); /* no such object */
	assert_non_null(strstr(d.msg, "exited with status"));
	assert_int_equal(access(so, F_OK), -1);

	/* no temporaries left in the folder */
	char cmd[600];
	snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", dir);
	assert_int_not_equal(system(cmd), 0);
	t_free(t);
}

/* Emitting t must fail with a message holding want, and write nothing. */
static void emit_fails(T *t, const char *want)
{
	char obj[512];
	snprintf(obj, sizeof obj, "%s/%s.o", dir, t->g->name);
	Diag d;
	diag_init(&d);
	CpuOptions o = {.opt_level = 2};
	assert_int_equal(cg_cpu_emit(&t->kl, &o, obj, 0, &d), -1);
	if (!strstr(d.msg, want))
		fail_msg("message '%s' lacks '%s'", d.msg, want);
	assert_int_equal(access(obj, F_OK), -1);
}

/* Library calls whose sizes the kernel library cannot take are refused:
 * a GEMM extent past INT_MAX (BLAS's int would wrap), a convolution whose
 * output buffer is smaller than its geometry, and one with no scratch. */
static void test_call_sizes(void **state)
{
	T *t = t_new("bigmm");
	int x = input(t, "x", DT_F32, shp(1, (int64_t)4));
	int y = output(t, "y", DT_F32, shp(1, (int64_t)4));
	Kernel *k = kernel(t, KK_MATMUL);
	k->mm.a = x, k->mm.b = x, k->mm.c = y;
	k->mm.m = (int64_t)1 << 31, k->mm.n = 1, k->mm.k = 1;
	emit_fails(t, "too large for BLAS");
	t_free(t);

	for (int variant = 0; variant < 2; variant++) {
		t = t_new(variant ? "noscratch" : "smallconv");
		float w[18] = {0};
		x = input(t, "x", DT_F32, shp(4, (int64_t)1, (int64_t)1, (int64_t)4, (int64_t)4));
		y = output(t, "y", DT_F32, shp(4, (int64_t)1, (int64_t)1, (int64_t)4, (int64_t)4));
		int wb = param(t, "W", DT_F32, shp(4, (int64_t)2, (int64_t)1, (int64_t)3, (int64_t)3), w);
		int scratch = variant ? -1 : temp(t, DT_F32, 9 * 16, 0);
		t->kl.arena_bytes = 9 * 16 * 4;
		k = kernel(t, KK_CONV2D);
		k->conv.x = x, k->conv.wt = wb, k->conv.bias = -1, k->conv.y = y;
		k->conv.scratch = scratch;
		k->conv.n = 1, k->conv.c = 1, k->conv.h = 4, k->conv.w = 4;
		k->conv.k = variant ? 1 : 2; /* 2 filters need 32 floats of y, it has 16 */
		k->conv.oh = 4, k->conv.ow = 4, k->conv.kh = 3, k->conv.kw = 3;
		k->conv.sh = k->conv.sw = 1, k->conv.ph = k->conv.pw = 1, k->conv.dh = k->conv.dw = 1;
		k->conv.group = 1;
		emit_fails(t, variant ? "without im2col scratch" : "output buffer is smaller");
		t_free(t);
	}
}

int main(void)
{
	char base[] = "/tmp/nncc_test_cpuXXXXXX";
	if (make_dir(base) != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elementwise),
		cmocka_unit_test(test_guarded_load),
		cmocka_unit_test(test_reduce),
		cmocka_unit_test(test_avgpool),
		cmocka_unit_test(test_matmul),
		cmocka_unit_test(test_conv),
		cmocka_unit_test(test_f64_i64),
		cmocka_unit_test(test_unary),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_opt_levels_agree),
		cmocka_unit_test(test_emit_llvm),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_call_sizes),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rm_dir(base))
		rc = rc ? rc : 1;
	return rc;
}
