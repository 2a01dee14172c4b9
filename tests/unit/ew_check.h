/* ew_check.h — the ew family tests' differential check: a text-IR graph
 * is shape-inferred, optimized (fusion at -O2), lowered and planned; the
 * reference interpreter (ir_eval), the kernel interpreter (cg_interp) and
 * the LLVM-compiled .so all run on the same inputs, and every output must
 * agree: bit for bit for integer and bool outputs, to a few ulps for
 * floats (libm vs LLVM's math); 64-bit integer outputs are left out of
 * the kernel interpreter's comparison (it computes in double). Inputs are random per dtype with chosen
 * special values (NaN, +-inf, +-0, ties for rounding) mixed in. Include
 * after <cmocka.h>. */
#ifndef NNCC_TEST_EW_CHECK_H
#define NNCC_TEST_EW_CHECK_H

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "codegen/kinterp.h"
#include "ir/ir.h"
#include "passes/passes.h"
#include "runtime/abi.h"

static char ew_dir[256]; /* temp folder for the .o and .so files */
/* f32 tolerance: relative (default 4 ulps) and absolute (default 0); a
 * test of long fused chains with cancellation may widen them, since the
 * reference rounds every op's result and fused code does not. */
static double ew_rtol = 0x1p-21, ew_atol = 0;
/* false: leave the kernel interpreter out of the comparison (64-bit
 * integer inputs beyond 2^53, which it holds in a double) */
static bool ew_interp = true;
static uint64_t ew_rng = 88172645463325252ull;

static inline uint64_t ew_next(void)
{
	ew_rng ^= ew_rng << 13;
	ew_rng ^= ew_rng >> 7;
	ew_rng ^= ew_rng << 17;
	return ew_rng;
}

/* A random element of dtype t stored at p: floats in [-4, 4) with about
 * one in four a small integer (so comparisons see ties) and one in eight a
 * special value, integers over a small range and now and
 * then any bits, bool 0/1. */
static inline void ew_rand_elem(DType t, void *p, const double *special, int nspecial)
{
	double u = (double)(ew_next() >> 11) / 9007199254740992.0;
	bool tie = ew_next() % 4 == 0; /* a small integer: equal values are common */
	if (ir_dtype_is_float(t)) {
		double v = tie ? (double)(ew_next() % 5) - 2 : -4 + 8 * u;
		if (nspecial && ew_next() % 8 == 0)
			v = special[ew_next() % (uint64_t)nspecial];
		ir_elem_put(t, p, v);
		return;
	}
	int64_t v = tie ? (int64_t)(ew_next() % 5) - 2 : (int64_t)(ew_next() % 41) - 20;
	switch (t) {
	case DT_BOOL: *(uint8_t *)p = (uint8_t)(ew_next() & 1); break;
	case DT_U8: *(uint8_t *)p = (uint8_t)ew_next(); break;
	case DT_I8: *(int8_t *)p = (int8_t)ew_next(); break;
	case DT_I32: { int32_t x = ew_next() % 16 == 0 ? (int32_t)ew_next() : (int32_t)v; memcpy(p, &x, 4); break; }
	case DT_I64: { int64_t x = ew_next() % 16 == 0 ? (int64_t)ew_next() : v; memcpy(p, &x, 8); break; }
	case DT_U64: { /* now and then above 2^63 */
		uint64_t x = ew_next() % 16 == 0 ? ew_next() | (uint64_t)1 << 63 : (uint64_t)(v < 0 ? -v : v);
		memcpy(p, &x, 8);
		break;
	}
	case DT_I16: case DT_U16: case DT_U32: { /* any bits: wrap-around gets exercised */
		uint64_t x = ew_next() % 4 == 0 ? ew_next() : (uint64_t)v;
		memcpy(p, &x, ir_dtype_size(t));
		break;
	}
	default: ir_elem_put(t, p, (double)v); break;
	}
}

static const double ew_specials[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1.0, -1.0};

typedef struct EwOut {
	Tensor t[8];
	int n;
} EwOut;

/* Runs the compiled .so of kl on in (the graph's inputs) into fresh
 * tensors shaped like ref. */
static inline void ew_run_so(const KernelList *kl, const Graph *g, const Tensor *in, const Tensor *ref, Tensor *got)
{
	static int serial;
	char obj[512], so[512];
	snprintf(obj, sizeof obj, "%s/m%d.o", ew_dir, serial);
	snprintf(so, sizeof so, "%s/m%d.so", ew_dir, serial++);
	CpuOptions o = {.opt_level = 2};
	Diag d;
	diag_init(&d);
	if (cg_cpu_emit(kl, &o, obj, 0, &d) != 0)
		fail_msg("cg_cpu_emit: %s", d.msg);
	if (cg_link_so(obj, so, &d) != 0)
		fail_msg("cg_link_so: %s", d.msg);
	void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		fail_msg("dlopen: %s", dlerror());
	const nncc_abi_model *m = dlsym(h, "nncc_model");
	assert_non_null(m);
	void *arena = NULL;
	if (m->arena_bytes)
		assert_int_equal(posix_memalign(&arena, 64, (size_t)m->arena_bytes), 0);
	const void *ins[16], *params[64] = {0};
	void *outs[16];
	assert_true(m->nparams <= 64);
	for (int i = 0; i < m->nparams; i++)
		params[i] = m->params[i].data;
	for (int i = 0; i < g->ninput; i++)
		ins[i] = in[i].data;
	for (int i = 0; i < g->noutput; i++) {
		size_t nb = (size_t)ir_shape_numel(&ref[i].shape) * ir_dtype_size(ref[i].dtype);
		got[i] = (Tensor){ref[i].dtype, ref[i].shape, calloc(1, nb + 1)};
		outs[i] = got[i].data;
	}
	m->run(arena, ins, outs, params, NULL);
	free(arena);
	dlclose(h);
	unlink(obj);
	unlink(so);
}

/* Floats: equal, both NaN, or within 4 ulps of the dtype (f32: 2^-21).
 * Integers bit for bit. */
static inline void ew_compare(const char *who, const Tensor *want, const Tensor *got)
{
	assert_int_equal(want->dtype, got->dtype);
	assert_true(ir_shape_eq(&want->shape, &got->shape));
	int64_t n = ir_shape_numel(&want->shape);
	size_t sz = ir_dtype_size(want->dtype);
	for (int64_t i = 0; i < n; i++) {
		const unsigned char *pw = (const unsigned char *)want->data + i * sz;
		const unsigned char *pg = (const unsigned char *)got->data + i * sz;
		if (!ir_dtype_is_float(want->dtype)) {
			if (memcmp(pw, pg, sz) != 0)
				fail_msg("%s: element %lld differs (%g vs %g)", who, (long long)i,
					ir_elem_get(want->dtype, pw), ir_elem_get(got->dtype, pg));
			continue;
		}
		double w = ir_elem_get(want->dtype, pw), g = ir_elem_get(got->dtype, pg);
		double eps = want->dtype == DT_F64 ? 0x1p-50 : want->dtype == DT_F32 ? ew_rtol : 0x1p-8;
		double abs_tol = want->dtype == DT_F32 ? ew_atol : 0;
		if (isnan(w) ? !isnan(g) : !(w == g || fabs(w - g) <= eps * fabs(w) + abs_tol + 1e-300))
			fail_msg("%s: element %lld is %.17g, expected %.17g", who, (long long)i, g, w);
	}
}

/* Graph g through the pipeline at -O<opt> (2 fuses), in place. */
static inline void ew_optimize(Graph *g, int opt)
{
	Diag d;
	diag_init(&d);
	Options o = {.opt_level = opt};
	if (ps_infer_shapes(g, &d) || ps_pipeline(g, &o, &d))
		fail_msg("passes: %s", d.msg);
}

/* The differential check of optimized graph g on inputs in[0 ..
 * g->ninput) (freed here): the reference interpreter against the kernel
 * interpreter and the compiled code; with bits, the compiled outputs must
 * also equal the reference's byte for byte. */
static inline void ew_check_inputs(Graph *g, Tensor *in, bool bits)
{
	Diag d;
	diag_init(&d);
	Tensor want[16], got[16], so[16];
	assert_true(g->ninput <= 16 && g->noutput <= 16);
	if (ir_eval(g, in, want, &d))
		fail_msg("ir_eval: %s", d.msg);
	KernelList kl;
	if (cg_lower(g, &kl, &d))
		fail_msg("cg_lower: %s", d.msg);
	cg_plan(&kl);
	cg_schedule(&kl, 0);
	if (cg_interp(&kl, in, got, &d))
		fail_msg("cg_interp: %s", d.msg);
	ew_run_so(&kl, g, in, want, so);
	for (int k = 0; k < g->noutput; k++) {
		/* the kernel interpreter computes in double by design: 64-bit
		 * integers beyond 2^53 are the compiled code's to check */
		if (ew_interp && !(ir_dtype_is_int(want[k].dtype) && ir_dtype_size(want[k].dtype) == 8))
			ew_compare("kernel interpreter", &want[k], &got[k]);
		ew_compare("compiled", &want[k], &so[k]);
		if (bits)
			assert_memory_equal(want[k].data, so[k].data,
				(size_t)ir_shape_numel(&want[k].shape) * ir_dtype_size(want[k].dtype));
		ir_tensor_free(&want[k]);
		ir_tensor_free(&got[k]);
		ir_tensor_free(&so[k]);
	}
	for (int i = 0; i < g->ninput; i++)
		free(in[i].data);
	cg_free(&kl);
}

/* The differential check of graph g at -O<opt> (2 fuses) on random
 * inputs; g is optimized in place. */
static inline void ew_check_graph(Graph *g, int opt)
{
	ew_optimize(g, opt);
	Tensor in[16];
	assert_true(g->ninput <= 16);
	for (int i = 0; i < g->ninput; i++) {
		const Value *v = &g->val[g->input[i]];
		int64_t n = ir_shape_numel(&v->shape);
		size_t sz = ir_dtype_size(v->dtype);
		in[i] = (Tensor){v->dtype, v->shape, malloc((size_t)n * sz + 1)};
		for (int64_t j = 0; j < n; j++)
			ew_rand_elem(v->dtype, (char *)in[i].data + j * sz, ew_specials,
				(int)(sizeof ew_specials / sizeof *ew_specials));
	}
	ew_check_inputs(g, in, false);
}

/* The differential check of text-IR src at -O<opt>. */
static inline void ew_check_opt(const char *src, int opt)
{
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "ew.ir", &d);
	if (!g)
		fail_msg("parse: %s", d.msg);
	ew_check_graph(g, opt);
	ir_graph_free(g);
}

/* Both unfused (-O0) and fused (-O2). */
static inline void ew_check(const char *src)
{
	ew_check_opt(src, 0);
	ew_check_opt(src, 2);
}

/* Evaluates src (one input) on the given input data and returns output 0
 * (free with ir_tensor_free). */
static inline Tensor ew_eval1(const char *src, const void *data)
{
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "ew.ir", &d);
	if (!g || ps_infer_shapes(g, &d))
		fail_msg("%s", d.msg);
	const Value *v = &g->val[g->input[0]];
	Tensor in = {v->dtype, v->shape, (void *)data}, out[8];
	if (ir_eval(g, &in, out, &d))
		fail_msg("ir_eval: %s", d.msg);
	for (int k = 1; k < g->noutput; k++)
		ir_tensor_free(&out[k]);
	ir_graph_free(g);
	return out[0];
}

/* The message of a graph whose shape inference fails (NULL if it does not). */
static inline char *ew_shape_err(const char *src)
{
	static char msg[sizeof ((Diag *)0)->msg];
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "ew.ir", &d);
	bool bad = !g || ps_infer_shapes(g, &d);
	if (g)
		ir_graph_free(g);
	if (!bad)
		return NULL;
	snprintf(msg, sizeof msg, "%s", d.msg);
	return msg;
}

static inline int ew_setup(void **state)
{
	snprintf(ew_dir, sizeof ew_dir, "/tmp/nncc_ew_XXXXXX");
	return mkdtemp(ew_dir) ? 0 : -1;
}

static inline int ew_teardown(void **state)
{
	return rmdir(ew_dir);
}

#endif
