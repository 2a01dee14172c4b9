/* lower_check.h — what the lowering tests share: building small graphs
 * with random constants, and checking that the kernel interpreter on the
 * lowered, planned list agrees with ir_eval. Included by test_lower.c and
 * test_lower_buffers.c (each its own program). */
#ifndef NNCC_TEST_LOWER_CHECK_H
#define NNCC_TEST_LOWER_CHECK_H

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

static inline double urand(double lo, double hi)
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

static inline Shape shp(const int64_t *d, int n) { return ir_shape_make(n, d); }

/* Fills n elements of dtype t at p with uniform values in [lo, hi). */
static inline void fill(DType t, void *p, int64_t n, double lo, double hi)
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
static inline int param(Graph *g, const char *name, DType t, Shape s, double lo, double hi)
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
static inline int add(Graph *g, Op op, const char *name, const int *in, int nin)
{
	return ir_add_node(g, op, name, in, nin, 1, NULL);
}

static inline int out(Graph *g, int node) { return ir_out(g, node, 0); }

/* --- checking -------------------------------------------------------------------- */

static inline void infer(Graph *g)
{
	Diag d;
	diag_init(&d);
	for (int i = 0; i < g->nnode; i++)
		if (ir_infer_node(g, i, &d) < 0)
			fail_msg("shape inference: %s", d.msg);
}

/* The plan (plan.c): temps 64-byte aligned inside the arena, and
 * cg_plan_check proves no two live at once share a byte. */
static inline void check_plan(const KernelList *kl)
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
static inline void check_kernels(const Graph *g, const KernelList *kl)
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

static inline bool close_enough(double a, double b, double tol)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	if (isinf(a) || isinf(b))
		return a == b;
	return fabs(a - b) <= tol * fabs(b) + 1e-6;
}

static inline double elem(const Tensor *t, int64_t i)
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
static inline void check_graph(Graph *g, KernelList *keep)
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
static inline const char *lower_error(Graph *g, Diag *d)
{
	infer(g);
	KernelList kl;
	diag_init(d);
	assert_int_equal(cg_lower(g, &kl, d), -1);
	assert_true(d->nerr > 0);
	assert_int_equal(kl.nk, 0);
	return d->msg;
}

static inline int count_kind(const KernelList *kl, KernelKind kind)
{
	int n = 0;
	for (int i = 0; i < kl->nk; i++)
		n += kl->k[i].kind == kind;
	return n;
}

static inline int count_buf(const KernelList *kl, BufKind kind)
{
	int n = 0;
	for (int i = 0; i < kl->nbuf; i++)
		n += kl->buf[i].kind == kind;
	return n;
}

#endif
