/* test_cuda.c — the CUDA C renderer (codegen/cuda/) on kernel lists built
 * by hand: golden CUDA C for an elementwise and a reduction kernel, the
 * device memory layout, an unsupported dtype reported by kernel name, and
 * a differential check of every kind of node (float and integer math on
 * edge values, casts, arg reductions with NaN, gathers and scatters,
 * Philox random numbers, batched/transposed matmul, grouped and 3-D
 * transposed convolutions with epilogues): the module is compiled for the
 * host with tests/cuda/emu.h (g++, the launches run with their real grids
 * and blocks as threads) and must agree with the kernel interpreter
 * (codegen/kinterp.c). Every module is also compiled with NVRTC to an
 * sm_90 CUBIN; those checks are skipped, saying why, without NVRTC. */
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
#include <unistd.h>

#include "kl_build.h"
#include "codegen/cuda/cuda.h"
#include "codegen/kinterp.h"

typedef int (*emu_run_fn)(void (*)(unsigned char *), unsigned char *, const unsigned *, const unsigned *);

/* Compiles m's source for the host and runs its launches on the inputs;
 * fills outputs (malloc'd, like cg_interp's). */
static void emulate(T *t, const CuModule *m, const Tensor *in, Tensor *out)
{
	static int seq;
	char cu[512], so[512], cmd[2048];
	snprintf(cu, sizeof cu, "%s/m%d.cu", dir, seq);
	snprintf(so, sizeof so, "%s/m%d.so", dir, seq++);
	FILE *f = fopen(cu, "w");
	assert_non_null(f);
	fwrite(m->src, 1, m->len, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "g++ -O1 -std=c++14 -w -shared -fPIC -include '%s/tests/cuda/emu.h' -x c++ '%s' "
		 "-o '%s' -lpthread", NNCC_SOURCE_DIR, cu, so);
	assert_int_equal(system(cmd), 0);
	void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	emu_run_fn go = (emu_run_fn)dlsym(h, "nn_emu_run");
	assert_non_null(go);
	unsigned char *mem = calloc((size_t)m->lay.bytes, 1);
	const Graph *g = t->g;
	for (int i = 0; i < m->lay.npar; i++) {
		const Value *v = &g->val[t->kl.param_value[i]];
		if (m->lay.par_off[i] >= 0)
			memcpy(mem + m->lay.par_off[i], v->data, v->nbytes);
	}
	for (int i = 0; i < m->lay.nin; i++)
		if (m->lay.in_off[i] >= 0)
			memcpy(mem + m->lay.in_off[i], in[i].data,
			       (size_t)(ir_shape_numel(&in[i].shape) * (int64_t)ir_dtype_size(in[i].dtype)));
	for (int i = 0; i < m->nlaunch; i++) {
		void (*fn)(unsigned char *) = (void (*)(unsigned char *))dlsym(h, m->launch[i].name);
		assert_non_null(fn);
		assert_int_equal(go(fn, mem, m->launch[i].grid, m->launch[i].block), 0);
	}
	for (int i = 0; i < g->noutput; i++) {
		const Value *v = &g->val[g->output[i]];
		size_t n = (size_t)(ir_shape_numel(&v->shape) * (int64_t)ir_dtype_size(v->dtype));
		out[i].dtype = v->dtype;
		out[i].shape = v->shape;
		out[i].data = malloc(n + 1);
		memcpy(out[i].data, mem + m->lay.out_off[i], n);
	}
	free(mem);
	dlclose(h);
	unlink(cu);
	unlink(so);
}

/* NVRTC compiles src to an sm_90 CUBIN (an ELF image), or the test is
 * skipped with the reason. */
static void nvrtc_cubin(const CuModule *m)
{
	char why[256];
	if (!cg_nvrtc_available(why, sizeof why)) {
		print_message("skipping the NVRTC compile: %s\n", why);
		return;
	}
	char *bin;
	size_t n;
	Diag d;
	diag_init(&d);
	int rc = cg_nvrtc_compile(m->src, "test.cu", "sm_90", true, &bin, &n, &d);
	if (rc)
		print_message("%s", d.msg);
	assert_int_equal(rc, 0);
	assert_true(n > 4 && memcmp(bin, "\177ELF", 4) == 0);
	free(bin);
}

/* Renders t, compiles it with NVRTC, runs it emulated and with cg_interp
 * on inputs in[], and compares every output: floats within rel * (|ref| +
 * 1) (NaN where NaN), everything else exactly. */
static void check(T *t, const Tensor *in, double rel)
{
	CuModule m;
	Diag d;
	diag_init(&d);
	int rc = cg_cuda_render(&t->kl, &m, &d);
	if (rc)
		print_message("%s", d.msg);
	assert_int_equal(rc, 0);
	nvrtc_cubin(&m);
	int nout = t->g->noutput;
	Tensor got[8], want[8];
	assert_true(nout <= 8);
	emulate(t, &m, in, got);
	assert_int_equal(cg_interp(&t->kl, in, want, &d), 0);
	for (int o = 0; o < nout; o++) {
		DType dt = want[o].dtype;
		int64_t n = ir_shape_numel(&want[o].shape);
		for (int64_t i = 0; i < n; i++) {
			size_t sz = ir_dtype_size(dt);
			const unsigned char *a = (unsigned char *)got[o].data + i * sz, *b = (unsigned char *)want[o].data + i * sz;
			if (dt == DT_F32 || dt == DT_F64) {
				double x = ir_elem_get(dt, a), y = ir_elem_get(dt, b);
				bool ok = (isnan(x) && isnan(y)) || x == y || fabs(x - y) <= rel * (fabs(y) + 1);
				if (!ok)
					fail_msg("output %d element %lld: cuda %.9g, interpreter %.9g", o, (long long)i, x, y);
			} else if (memcmp(a, b, sz) != 0) {
				fail_msg("output %d (%s) element %lld: cuda %.17g, interpreter %.17g", o, ir_dtype_name(dt),
					 (long long)i, ir_elem_get(dt, a), ir_elem_get(dt, b));
			}
		}
		ir_tensor_free(&got[o]);
		ir_tensor_free(&want[o]);
	}
	cg_cuda_module_free(&m);
}

static Tensor tensor(DType dt, Shape s, const void *data)
{
	return (Tensor){.dtype = dt, .shape = s, .data = (void *)data};
}

/* --- golden text ------------------------------------------------------------------- */

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

static void test_golden_elementwise(void **state)
{
	T *t = ew_model();
	CuModule m;
	Diag d;
	diag_init(&d);
	assert_int_equal(cg_cuda_render(&t->kl, &m, &d), 0);
	/* arena [0, 256), x at 256, y at 512, z at 768 */
	assert_int_equal(m.lay.in_off[0], 256);
	assert_int_equal(m.lay.in_off[1], 512);
	assert_int_equal(m.lay.out_off[0], 768);
	assert_int_equal(m.lay.bytes, 1024);
	assert_non_null(strstr(m.src,
		"extern \"C\" __global__ void __launch_bounds__(256) k0(unsigned char *m)\n"
		"{\n"
		"\tfor (i64 t = (i64)blockIdx.x * blockDim.x + threadIdx.x; t < 6LL; t += (i64)gridDim.x * blockDim.x) {\n"
		"\t\tu32 q = (u32)t;\n"
		"\t\tconst i64 i1 = (i64)(q % 3u); q /= 3u;\n"
		"\t\tconst i64 i0 = (i64)q;\n"
		"\t\t(void)q;\n"
		"\t\tconst float v0 = (((float *)(m + 256))[(3LL * i0 + i1)]);\n"
		"\t\tconst float v1 = (((float *)(m + 512))[(i1)]);\n"
		"\t\tconst float v2 = v0 + v1;\n"
		"\t\t((float *)(m + 64))[(3LL * i0 + i1)] = v2;\n"
		"\t}\n"
		"}\n"));
	assert_non_null(strstr(m.src, "\t\tconst float v1 = v0 < 0 ? (float)0 : v0;\n"
				      "\t\t((float *)(m + 768))[(3LL * i0 + i1)] = v1;\n"));
	assert_int_equal(m.nlaunch, 2);
	assert_string_equal(m.launch[1].name, "k1");
	assert_int_equal(m.launch[1].grid[0], 1);
	assert_int_equal(m.launch[1].block[0], 256);
	float x[6] = {1, -2, 3, -4, 5, NAN}, y[3] = {0.5f, 1, -10};
	Tensor in[2] = {tensor(DT_F32, shp(2, (int64_t)2, (int64_t)3), x), tensor(DT_F32, shp(1, (int64_t)3), y)};
	check(t, in, 0);
	cg_cuda_module_free(&m);
	t_free(t);
}

/* s[i] = sum_j x[i, j] with a guard: one thread per row, a loop over j. */
static void test_golden_reduce(void **state)
{
	T *t = t_new("red");
	int x = input(t, "x", DT_F32, shp(2, (int64_t)3, (int64_t)4));
	int s = output(t, "s", DT_F32, shp(1, (int64_t)3));
	Kx *ld = kload(t, DT_F32, x, (Aff){.k = {4, 1}});
	kguard(t, ld, (Aff){.k = {0, 1}}, 1, 4);
	ld->fill = -1;
	loop(t, s, (Aff){.k = {1}}, kred(t, KR_SUM, ld), 1, 2, (int64_t[]){3, 4});
	CuModule m;
	Diag d;
	diag_init(&d);
	assert_int_equal(cg_cuda_render(&t->kl, &m, &d), 0);
	assert_non_null(strstr(m.src,
		"\t\tfloat acc1 = 0.0f;\n"
		"\t\tfor (i64 i1 = 0; i1 < 4LL; i1++) {\n"
		"\t\t\tconst float v0 = (i1) >= 1LL && (i1) < 4LL ? (((float *)(m + 256))[(4LL * i0 + i1)]) : -1.0f;\n"
		"\t\t\tacc1 = acc1 + v0;\n"
		"\t\t}\n"
		"\t\tconst float v1 = acc1;\n"));
	cg_cuda_module_free(&m);
	float xv[12];
	for (int i = 0; i < 12; i++)
		xv[i] = (float)i * 0.25f - 1;
	Tensor in[1] = {tensor(DT_F32, shp(2, (int64_t)3, (int64_t)4), xv)};
	check(t, in, 1e-6);
	t_free(t);
}

static void test_unsupported_dtype(void **state)
{
	T *t = t_new("half");
	int x = input(t, "x", DT_F16, shp(1, (int64_t)4));
	int y = output(t, "y", DT_F16, shp(1, (int64_t)4));
	Kernel *k = loop(t, y, (Aff){.k = {1}}, kload(t, DT_F16, x, (Aff){.k = {1}}), 1, 1, (int64_t[]){4});
	k->name = "the_half_copy";
	CuModule m;
	Diag d;
	diag_init(&d);
	assert_int_equal(cg_cuda_render(&t->kl, &m, &d), -1);
	assert_non_null(strstr(d.msg, "the_half_copy"));
	assert_non_null(strstr(d.msg, "f16"));
	t_free(t);
}

/* --- differential checks ----------------------------------------------------------- */

static const float fedge[16] = {0.f, -0.f, 1.5f, -2.5f, 0.5f, 3.f, -7.25f, 100.f, 1e-3f, -1e-3f,
				INFINITY, -INFINITY, NAN, 0.75f, -0.3f, 2.f};

/* Every float unary op on edge values, f32 and f64. */
static void test_unary_float(void **state)
{
	static const KuOp ops[] = {KU_NEG, KU_ABS, KU_EXP, KU_LOG, KU_SQRT, KU_RELU, KU_SIGMOID, KU_TANH,
				   KU_SIN, KU_COS, KU_TAN, KU_ASIN, KU_ACOS, KU_ATAN, KU_SINH, KU_COSH,
				   KU_ASINH, KU_ACOSH, KU_ATANH, KU_ERF, KU_FLOOR, KU_CEIL, KU_ROUND, KU_SIGN,
				   KU_RECIP, KU_NOT, KU_ISNAN, KU_ISINF, KU_ISPOSINF, KU_ISNEGINF};
	int nops = (int)(sizeof ops / sizeof *ops);
	for (int f64 = 0; f64 < 2; f64++) {
		DType dt = f64 ? DT_F64 : DT_F32;
		T *t = t_new("unary");
		int x = input(t, "x", dt, shp(1, (int64_t)16));
		int64_t n = 16 * nops;
		int y = output(t, "y", dt, shp(1, n));
		Kx *xv = kload(t, dt, x, (Aff){.k = {0, 1}});
		/* y[op * 16 + i] = op(x[i]) as one select chain over the op index */
		Kx *body = kconst(t, dt, 0);
		for (int o = 0; o < nops; o++) {
			Kx *r = kun(t, ops[o], xv);
			if (cg_kx_pred(r))
				r->dtype = DT_BOOL;
			Kx *c = kx(t, KX_VALID, DT_BOOL);
			kguard(t, c, (Aff){.k = {1}}, o, o + 1);
			Kx *sel = kx(t, KX_SELECT, dt);
			sel->cond = c;
			sel->a = r;
			sel->b = body;
			body = sel;
		}
		loop(t, y, (Aff){.k = {16, 1}}, body, 2, 2, (int64_t[]){nops, 16});
		double xd[16];
		for (int i = 0; i < 16; i++)
			xd[i] = fedge[i];
		Tensor in[1] = {tensor(dt, shp(1, (int64_t)16), f64 ? (void *)xd : (void *)fedge)};
		check(t, in, f64 ? 1e-13 : 4e-6);
		t_free(t);
	}
}

/* Integer binary ops (wrapping, division by 0 and -1, remainders of both
 * signs, shifts past the width, min/max, comparisons) in i32, i64 and u8. */
static void test_binary_int(void **state)
{
	static const KbOp ops[] = {KB_ADD, KB_SUB, KB_MUL, KB_DIV, KB_MAX, KB_MIN, KB_MOD, KB_FMOD,
				   KB_AND, KB_OR, KB_XOR, KB_EQ, KB_LT, KB_GE};
	const DType dts[3] = {DT_I32, DT_I64, DT_U8};
	for (int di = 0; di < 3; di++) {
		DType dt = dts[di];
		int nops = (int)(sizeof ops / sizeof *ops);
		T *t = t_new("ibin");
		int a = input(t, "a", dt, shp(1, (int64_t)8));
		int b = input(t, "b", dt, shp(1, (int64_t)8));
		int y = output(t, "y", dt, shp(1, (int64_t)(64 * nops)));
		Kx *av = kload(t, dt, a, (Aff){.k = {0, 1, 0}}), *bv = kload(t, dt, b, (Aff){.k = {0, 0, 1}});
		Kx *body = kconst(t, dt, 0);
		for (int o = 0; o < nops; o++) {
			Kx *r = kbin(t, ops[o], av, bv);
			if (cg_kx_pred(r))
				r->dtype = DT_BOOL;
			Kx *c = kx(t, KX_VALID, DT_BOOL);
			kguard(t, c, (Aff){.k = {1}}, o, o + 1);
			Kx *sel = kx(t, KX_SELECT, dt);
			sel->cond = c;
			sel->a = r;
			sel->b = body;
			body = sel;
		}
		loop(t, y, (Aff){.k = {64, 8, 1}}, body, 3, 3, (int64_t[]){nops, 8, 8});
		/* i64: products stay below 2^53, where the interpreter's doubles are exact */
		int64_t v[8] = {0, 1, -1, 7, -7, 3, dt == DT_I64 ? -3000001 : INT32_MIN, dt == DT_I64 ? 2999999 : INT32_MAX};
		unsigned char buf[2][64];
		for (int i = 0; i < 8; i++) {
			ir_elem_put(dt, buf[0] + i * ir_dtype_size(dt), dt == DT_U8 ? (double)(uint8_t)v[i] : (double)v[i]);
			ir_elem_put(dt, buf[1] + i * ir_dtype_size(dt), dt == DT_U8 ? (double)(uint8_t)v[7 - i] : (double)v[7 - i]);
		}
		Tensor in[2] = {tensor(dt, shp(1, (int64_t)8), buf[0]), tensor(dt, shp(1, (int64_t)8), buf[1])};
		check(t, in, 0);
		t_free(t);
	}
}

/* Casts float -> integers (saturating, NaN 0) and back, through loads of
 * another dtype and stores into another. */
static void test_casts(void **state)
{
	const DType dts[] = {DT_I8, DT_U8, DT_I16, DT_I32, DT_U32, DT_I64, DT_BOOL, DT_F64};
	T *t = t_new("cast");
	int x = input(t, "x", DT_F32, shp(1, (int64_t)16));
	for (int i = 0; i < 8; i++) {
		char name[8];
		snprintf(name, sizeof name, "y%d", i);
		int y = output(t, name, dts[i], shp(1, (int64_t)16));
		/* load f32 as dts[i] (a conversion), add 1 in that dtype (wrapping; 64-bit
		 * integers beyond 2^53 are out of the interpreter's reach), store */
		Kx *v = kload(t, dts[i], x, (Aff){.k = {1}});
		Kx *body = dts[i] == DT_BOOL ? kun(t, KU_NOT, v)
			 : dts[i] == DT_I64 ? v : kbin(t, KB_ADD, v, kconst(t, dts[i], 1));
		loop(t, y, (Aff){.k = {1}}, body, 1, 1, (int64_t[]){16});
	}
	float xv[16] = {0.f, -0.f, 1.5f, -2.5f, 127.9f, 128.f, -129.f, 3e9f, -3e9f, 1e20f, -1e20f,
			INFINITY, -INFINITY, NAN, 255.5f, 65536.f};
	Tensor in[1] = {tensor(DT_F32, shp(1, (int64_t)16), xv)};
	check(t, in, 0);
	t_free(t);
}

/* sum/prod/max/min/argmax/argmin over rows with NaN. */
static void test_reductions(void **state)
{
	const KrOp ops[] = {KR_SUM, KR_PROD, KR_MAX, KR_MIN, KR_ARGMAX, KR_ARGMIN};
	T *t = t_new("reds");
	int x = input(t, "x", DT_F32, shp(2, (int64_t)4, (int64_t)5));
	for (int o = 0; o < 6; o++) {
		char name[8];
		snprintf(name, sizeof name, "r%d", o);
		bool arg = ops[o] == KR_ARGMAX || ops[o] == KR_ARGMIN;
		int y = output(t, name, arg ? DT_I64 : DT_F32, shp(1, (int64_t)4));
		Kx *r = kred(t, ops[o], kload(t, DT_F32, x, (Aff){.k = {5, 1}}));
		if (arg)
			r->dtype = DT_I64;
		loop(t, y, (Aff){.k = {1}}, r, 1, 2, (int64_t[]){4, 5});
	}
	float xv[20] = {1, 3, 3, -2, 0.5f, NAN, 1, 2, NAN, 0, -1, -1, -1, -1, -1, 2, 7, -3, 7, 0.25f};
	Tensor in[1] = {tensor(DT_F32, shp(2, (int64_t)4, (int64_t)5), xv)};
	check(t, in, 1e-6);
	t_free(t);
}

/* Reductions of rows long enough to share a block: a softmax over rows of
 * 300 (the max and the sum once per row, every element of the row stored
 * by the block's threads), a sum of 1000 elements to a scalar, and an
 * argmax over the same rows (one thread per row, the row's stores after). */
static void test_block_reductions(void **state)
{
	T *t = t_new("softmax");
	int64_t R = 3, C = 300;
	int x = input(t, "x", DT_F32, shp(2, R, C));
	int y = output(t, "y", DT_F32, shp(2, R, C));
	int s = output(t, "s", DT_F32, shp(1, (int64_t)1));
	int a = output(t, "a", DT_I64, shp(2, R, C));
	/* vars: 0 row, 1 column (output), 2 column (reduction) */
	Kx *xr = kload(t, DT_F32, x, (Aff){.k = {C, 0, 1}}), *xo = kload(t, DT_F32, x, (Aff){.k = {C, 1, 0}});
	Kx *mx = kred(t, KR_MAX, xr);
	Kx *sum = kred(t, KR_SUM, kun(t, KU_EXP, kbin(t, KB_SUB, xr, mx)));
	Kx *sm = kbin(t, KB_DIV, kun(t, KU_EXP, kbin(t, KB_SUB, xo, mx)), sum);
	loop(t, y, (Aff){.k = {C, 1}}, sm, 2, 3, (int64_t[]){R, C, C});
	loop(t, s, (Aff){0}, kred(t, KR_SUM, kload(t, DT_F32, x, (Aff){.k = {C, 1}})), 0, 2, (int64_t[]){R, C});
	Kx *am = kred(t, KR_ARGMAX, xr);
	am->dtype = DT_I64;
	loop(t, a, (Aff){.k = {C, 1}}, kbin(t, KB_ADD, am, kload(t, DT_I64, a, (Aff){.c = 0})), 2, 3,
	     (int64_t[]){R, C, C});
	t->kl.k[t->kl.nk - 1].body->b = kconst(t, DT_I64, 0); /* argmax + 0: a node after the reduction */
	float *xv = malloc(sizeof(float) * R * C);
	for (int64_t i = 0; i < R * C; i++)
		xv[i] = (float)((i * 7919) % 1000) / 100 - 5;
	Tensor in[1] = {tensor(DT_F32, shp(2, R, C), xv)};
	CuModule m;
	Diag d;
	diag_init(&d);
	assert_int_equal(cg_cuda_render(&t->kl, &m, &d), 0);
	assert_non_null(strstr(m.src, "for (i64 t = blockIdx.x; t < 3LL; t += gridDim.x) {")); /* a block per row */
	assert_non_null(strstr(m.src, "nn_bred<2>(acc")); /* the max */
	assert_non_null(strstr(m.src, "for (i64 u = threadIdx.x; u < 300LL; u += blockDim.x) {"));
	assert_non_null(strstr(m.src, "for (i64 u = 0; u < 300LL; u++) {")); /* argmax: a thread per row */
	assert_int_equal(m.launch[0].grid[0], 3);
	assert_int_equal(m.launch[1].grid[0], 1);
	cg_cuda_module_free(&m);
	check(t, in, 1e-5);
	free(xv);
	t_free(t);
}

/* A gather through KX_IDX (negative and out-of-range indices), a
 * scatter with a run-time store index (the last update wins), and Philox
 * random numbers, all against the interpreter. */
static void test_idx_rng(void **state)
{
	T *t = t_new("idx");
	int data = input(t, "data", DT_F32, shp(1, (int64_t)6));
	int ind = input(t, "ind", DT_I64, shp(1, (int64_t)5));
	int seed = input(t, "seed", DT_I64, shp(1, (int64_t)1));
	int g = output(t, "g", DT_F32, shp(1, (int64_t)5));
	int s = output(t, "s", DT_F32, shp(1, (int64_t)6));
	int r = output(t, "r", DT_F32, shp(1, (int64_t)37));
	Kx *ix = kx(t, KX_IDX, DT_I64);
	ix->a = kload(t, DT_I64, ind, (Aff){.k = {1}});
	ix->ext = 6;
	ix->stride = 1;
	Kx *ld = kload(t, DT_F32, data, (Aff){0});
	ld->a = ix;
	ld->fill = -100;
	loop(t, g, (Aff){.k = {1}}, ld, 1, 1, (int64_t[]){5});
	Kernel *k = loop(t, s, (Aff){0}, kload(t, DT_F32, data, (Aff){.k = {1}}), 1, 1, (int64_t[]){5});
	Kx *ox = kx(t, KX_IDX, DT_I64);
	ox->a = kload(t, DT_I64, ind, (Aff){.k = {1}});
	ox->ext = 6;
	ox->stride = 1;
	k->out_dyn = ox;
	Kx *rn = kx(t, KX_RANDOM, DT_F32);
	rn->a = kload(t, DT_I64, seed, (Aff){0});
	rn->b = kconst(t, DT_I64, 12345678901LL);
	rn->c = 7;
	rn->idx = (Aff){.k = {1}, .c = 3};
	loop(t, r, (Aff){.k = {1}}, rn, 1, 1, (int64_t[]){37});
	float dv[6] = {10, 11, 12, 13, 14, 15};
	int64_t iv[5] = {2, -1, 6, -7, 2}, sv[1] = {0x123456789abcLL};
	Tensor in[3] = {tensor(DT_F32, shp(1, (int64_t)6), dv), tensor(DT_I64, shp(1, (int64_t)5), iv),
			tensor(DT_I64, shp(1, (int64_t)1), sv)};
	check(t, in, 0);
	t_free(t);
}

/* A batched matmul with transposed operands and a broadcast batch, then
 * an epilogue adding a row bias; sizes not multiples of the tile. */
static void test_matmul(void **state)
{
	T *t = t_new("mm");
	int64_t M = 70, N = 33, K = 19;
	int a = input(t, "a", DT_F32, shp(3, (int64_t)2, K, M));   /* transposed: [K, M] per batch */
	int b = input(t, "b", DT_F32, shp(2, N, K));               /* transposed, shared by both */
	int bias = input(t, "bias", DT_F32, shp(1, N));
	int c = output(t, "c", DT_F32, shp(3, (int64_t)2, M, N));
	Kernel *k = kernel(t, KK_MATMUL);
	k->mm.a = a;
	k->mm.b = b;
	k->mm.c = c;
	k->mm.nbatch = 1;
	k->mm.bext[0] = 2;
	k->mm.sa[0] = K * M;
	k->mm.sb[0] = 0;
	k->mm.sc[0] = M * N;
	k->mm.m = M;
	k->mm.n = N;
	k->mm.k = K;
	k->mm.trans_a = k->mm.trans_b = 1;
	k->nvar = k->nout_var = 3;
	k->extent[0] = 2;
	k->extent[1] = M;
	k->extent[2] = N;
	k->out = c;
	k->out_idx = (Aff){.k = {M * N, N, 1}};
	k->body = kbin(t, KB_ADD, kload(t, DT_F32, c, k->out_idx), kload(t, DT_F32, bias, (Aff){.k = {0, 0, 1}}));
	float *av = malloc(sizeof(float) * 2 * K * M), *bv = malloc(sizeof(float) * N * K), cv[33];
	for (int64_t i = 0; i < 2 * K * M; i++)
		av[i] = (float)((i * 37) % 17) / 8 - 1;
	for (int64_t i = 0; i < N * K; i++)
		bv[i] = (float)((i * 11) % 13) / 6 - 1;
	for (int i = 0; i < N; i++)
		cv[i] = (float)i;
	Tensor in[3] = {tensor(DT_F32, shp(3, (int64_t)2, K, M), av), tensor(DT_F32, shp(2, N, K), bv),
			tensor(DT_F32, shp(1, N), cv)};
	check(t, in, 1e-5);
	free(av);
	free(bv);
	t_free(t);
}

static void conv_geometry(Kernel *k, int64_t n, int64_t c, int64_t h, int64_t w, int64_t ko, int64_t kh,
			  int64_t kw, int64_t s, int64_t p, int64_t dil, int64_t group)
{
	k->conv.n = n;
	k->conv.c = c;
	k->conv.h = h;
	k->conv.w = w;
	k->conv.k = ko;
	k->conv.kh = kh;
	k->conv.kw = kw;
	k->conv.sh = k->conv.sw = s;
	k->conv.ph = k->conv.pw = p;
	k->conv.dh = k->conv.dw = dil;
	k->conv.group = group;
	k->conv.d = k->conv.od = k->conv.kd = k->conv.sd = k->conv.dd = 1;
	k->conv.scratch = -1;
}

/* A grouped, strided, dilated 2-D convolution with bias and a relu
 * epilogue; then a 2-D transposed convolution through the general call. */
static void test_conv(void **state)
{
	T *t = t_new("conv");
	int64_t n = 2, c = 4, h = 9, w = 7, ko = 6, kh = 3, kw = 2, s = 2, p = 1, dil = 2, group = 2;
	int64_t oh = (h + 2 * p - dil * (kh - 1) - 1) / s + 1, ow = (w + 2 * p - dil * (kw - 1) - 1) / s + 1;
	int x = input(t, "x", DT_F32, shp(4, n, c, h, w));
	int wt = input(t, "w", DT_F32, shp(4, ko, c / group, kh, kw));
	int bias = input(t, "b", DT_F32, shp(1, ko));
	int y = output(t, "y", DT_F32, shp(4, n, ko, oh, ow));
	Kernel *k = kernel(t, KK_CONV2D);
	conv_geometry(k, n, c, h, w, ko, kh, kw, s, p, dil, group);
	k->conv.oh = oh;
	k->conv.ow = ow;
	k->conv.x = x;
	k->conv.wt = wt;
	k->conv.bias = bias;
	k->conv.y = y;
	k->nvar = k->nout_var = 1;
	k->extent[0] = n * ko * oh * ow;
	k->out = y;
	k->out_idx = (Aff){.k = {1}};
	k->body = kun(t, KU_RELU, kload(t, DT_F32, y, k->out_idx));
	/* transposed: x2 [1, 3, 4, 5] -> y2 [1, 4, oh2, ow2], weights [3, 2, 3, 3], 2 groups? no: 1 */
	int64_t c2 = 3, h2 = 4, w2 = 5, k2 = 4, s2 = 2, p2 = 1;
	int64_t oh2 = (h2 - 1) * s2 - 2 * p2 + 3, ow2 = (w2 - 1) * s2 - 2 * p2 + 3;
	int x2 = input(t, "x2", DT_F32, shp(4, (int64_t)1, c2, h2, w2));
	int w2b = input(t, "w2", DT_F32, shp(4, c2, k2, (int64_t)3, (int64_t)3));
	int y2 = output(t, "y2", DT_F32, shp(4, (int64_t)1, k2, oh2, ow2));
	Kernel *k2k = kernel(t, KK_CONV2D);
	conv_geometry(k2k, 1, c2, h2, w2, k2, 3, 3, s2, p2, 1, 1);
	k2k->conv.oh = oh2;
	k2k->conv.ow = ow2;
	k2k->conv.nd = 1;
	k2k->conv.transpose = 1;
	k2k->conv.x = x2;
	k2k->conv.wt = w2b;
	k2k->conv.bias = -1;
	k2k->conv.y = y2;
	/* operands in other layouts (runtime/abi.h NNCC_CONV_SWAP_*): x [C, N],
	 * w [C, K] with its taps reversed, y [K, N]; 2 images of 3 channels
	 * 5 x 6, 4 filters 3 x 2, stride 1, pads 1 */
	int x3 = input(t, "x3", DT_F32, shp(4, (int64_t)3, (int64_t)2, (int64_t)5, (int64_t)6));
	int w3 = input(t, "w3", DT_F32, shp(4, (int64_t)3, (int64_t)4, (int64_t)3, (int64_t)2));
	int y3 = output(t, "y3", DT_F32, shp(4, (int64_t)4, (int64_t)2, (int64_t)5, (int64_t)7));
	Kernel *k3 = kernel(t, KK_CONV2D);
	conv_geometry(k3, 2, 3, 5, 6, 4, 3, 2, 1, 1, 1, 1);
	k3->conv.oh = 5;
	k3->conv.ow = 7;
	k3->conv.swap = NNCC_CONV_SWAP_X | NNCC_CONV_SWAP_W | NNCC_CONV_FLIP_W | NNCC_CONV_SWAP_Y;
	k3->conv.x = x3;
	k3->conv.wt = w3;
	k3->conv.bias = bias;
	k3->conv.y = y3;
	float x3v[3 * 2 * 5 * 6], w3v[3 * 4 * 3 * 2];
	for (int i = 0; i < 180; i++)
		x3v[i] = (float)((i * 5) % 13) / 6 - 1;
	for (int i = 0; i < 72; i++)
		w3v[i] = (float)((i * 7) % 9) / 4 - 1;
	float *xv = malloc(sizeof(float) * n * c * h * w), wv[6 * 2 * 3 * 2], bv[6];
	float x2v[3 * 4 * 5], w2v[3 * 4 * 9];
	for (int64_t i = 0; i < n * c * h * w; i++)
		xv[i] = (float)((i * 7) % 11) / 5 - 1;
	for (int i = 0; i < 6 * 2 * 3 * 2; i++)
		wv[i] = (float)((i * 5) % 7) / 3 - 1;
	for (int i = 0; i < 6; i++)
		bv[i] = 0.1f * (float)i - 0.2f;
	for (int i = 0; i < 60; i++)
		x2v[i] = (float)((i * 3) % 8) / 4 - 1;
	for (int i = 0; i < 108; i++)
		w2v[i] = (float)((i * 13) % 9) / 4 - 1;
	Tensor in[7] = {tensor(DT_F32, shp(4, n, c, h, w), xv), tensor(DT_F32, shp(4, ko, c / group, kh, kw), wv),
			tensor(DT_F32, shp(1, ko), bv), tensor(DT_F32, shp(4, (int64_t)1, c2, h2, w2), x2v),
			tensor(DT_F32, shp(4, c2, k2, (int64_t)3, (int64_t)3), w2v),
			tensor(DT_F32, shp(4, (int64_t)3, (int64_t)2, (int64_t)5, (int64_t)6), x3v),
			tensor(DT_F32, shp(4, (int64_t)3, (int64_t)4, (int64_t)3, (int64_t)2), w3v)};
	check(t, in, 1e-5);
	free(xv);
	t_free(t);
}

int main(void)
{
	char base[] = "/tmp/nncc_test_cudaXXXXXX";
	if (make_dir(base) != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_elementwise),
		cmocka_unit_test(test_golden_reduce),
		cmocka_unit_test(test_unsupported_dtype),
		cmocka_unit_test(test_unary_float),
		cmocka_unit_test(test_binary_int),
		cmocka_unit_test(test_casts),
		cmocka_unit_test(test_reductions),
		cmocka_unit_test(test_block_reductions),
		cmocka_unit_test(test_idx_rng),
		cmocka_unit_test(test_matmul),
		cmocka_unit_test(test_conv),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rm_dir(base))
		rc = rc ? rc : 1;
	return rc;
}
