/* grad_check.h — the gradient-check harness shared by the test_grad*.c
 * programs. A case builds a small graph (its float inputs are what is
 * differentiated, its first output y) for a given float dtype. The harness
 * appends a random projection loss sum(y * R), runs ps_autodiff, and
 * checks the gradient of every float input three ways against central
 * finite differences of the float64 reference interpreter (ir_eval on the
 * loss-only graph): the f64 graph's gradients through ir_eval, and the f32
 * graph's gradients compiled through the whole pipeline (-O0 and -O2:
 * fold, cse, fusion, lowering, LLVM) and run from a dlopened .so.
 * Tolerance: |g - fd| <= 1e-3 |fd| + 1e-5 max(1, max |fd|). */
#ifndef NNCC_TEST_GRAD_CHECK_H
#define NNCC_TEST_GRAD_CHECK_H

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "ir/ir.h"
#include "passes/passes.h"
#include "runtime/abi.h"

enum { GC_MAX_IN = 8 };

typedef struct GcCase {
	const char *name;              /* test name, also the graph name */
	Graph *(*build)(DType t);      /* the forward graph in dtype t */
	double lo, hi;                 /* float inputs uniform in [lo, hi) */
	int64_t classes;               /* integer inputs uniform in [0, classes) */
	bool no_loss;                  /* y is already the scalar loss (no projection) */
} GcCase;

static uint64_t gc_rng = 12345;

static inline double gc_urand(double lo, double hi)
{
	gc_rng ^= gc_rng << 13;
	gc_rng ^= gc_rng >> 7;
	gc_rng ^= gc_rng << 17;
	return lo + (hi - lo) * (double)(gc_rng >> 11) / 9007199254740992.0;
}

/* Building forward graphs */
#define GS(...) ir_shape_make((int)(sizeof((const int64_t[]){ __VA_ARGS__ }) / 8), (const int64_t[]){ __VA_ARGS__ })
#define GA(...) (const int64_t[]){ __VA_ARGS__ }, (int)(sizeof((const int64_t[]){ __VA_ARGS__ }) / 8)

static inline int gc_op(Graph *g, Op o, int a, int b)
{
	int in[2] = {a, b};
	int n = ir_add_node(g, o, ir_ops[o].name, in, b >= 0 ? 2 : 1, 1, NULL);
	return ir_out(g, n, 0);
}

static inline int gc_node(const Graph *g, int v) { return g->val[v].def; }

/* Infers every node and makes y the only output. */
static inline Graph *gc_done(Graph *g, int y)
{
	Diag d;
	diag_init(&d);
	for (int i = 0; i < g->nnode; i++)
		if (ir_infer_node(g, i, &d) < 0) {
			fprintf(stderr, "%s\n", d.msg);
			abort();
		}
	ir_add_output(g, y);
	return g;
}

/* A constant scalar in dtype t. */
static inline int gc_scalar(Graph *g, DType t, double v)
{
	char b[16] = {0};
	ir_elem_put(t, b, v);
	return ir_add_const(g, "k", t, ir_shape_make(0, NULL), b, ir_dtype_size(t), false);
}

/* Inputs of one case: f64 values (rounded through f32 so every graph sees
 * the same point), integer inputs as i64. */
typedef struct GcInputs {
	int n;                  /* graph inputs */
	Tensor t64[GC_MAX_IN];  /* for the f64 graphs */
	Tensor t32[GC_MAX_IN];  /* for the f32 graph */
} GcInputs;

static inline Tensor gc_tensor(DType t, Shape s)
{
	Tensor x = {t, s, calloc((size_t)ir_shape_numel(&s) * ir_dtype_size(t) + 1, 1)};
	return x;
}

/* The projection loss sum(y * R) (R random, the same for every dtype, from
 * seed) appended to g; returns it. */
static inline int gc_project(Graph *g, int y, uint64_t seed)
{
	const Value *v = &g->val[y];
	Tensor r = gc_tensor(v->dtype, v->shape);
	uint64_t save = gc_rng;
	gc_rng = seed;
	int64_t n = ir_shape_numel(&v->shape);
	for (int64_t i = 0; i < n; i++)
		ir_elem_put(v->dtype, (char *)r.data + i * (int64_t)ir_dtype_size(v->dtype), gc_urand(-1, 1));
	gc_rng = save;
	int k = ir_add_const(g, "R", v->dtype, v->shape, r.data, (size_t)n * ir_dtype_size(v->dtype), false);
	free(r.data);
	int m = gc_op(g, OP_MUL, y, k);
	int s = gc_op(g, OP_REDUCE_SUM, m, -1);
	ir_set_int(g, gc_node(g, s), "keepdims", 0);
	Diag d;
	diag_init(&d);
	if (ir_infer_node(g, gc_node(g, m), &d) < 0 || ir_infer_node(g, gc_node(g, s), &d) < 0) {
		fprintf(stderr, "%s\n", d.msg);
		abort();
	}
	return s;
}

/* The case's graph in dtype t with its scalar loss as output 0 and, if
 * grads, the gradient of each float input as outputs 1.. */
static inline Graph *gc_graph(const GcCase *c, DType t, bool grads, uint64_t seed)
{
	Graph *g = c->build(t);
	int y = g->output[0];
	g->noutput = 0;
	int loss = c->no_loss ? y : gc_project(g, y, seed);
	ir_add_output(g, loss);
	if (!grads)
		return g;
	int wrt[GC_MAX_IN], grad[GC_MAX_IN], n = 0;
	for (int i = 0; i < g->ninput; i++)
		if (ir_dtype_is_float(g->val[g->input[i]].dtype))
			wrt[n++] = g->input[i];
	Diag d;
	diag_init(&d);
	if (ps_autodiff(g, loss, wrt, n, grad, &d) < 0)
		fail_msg("%s: ps_autodiff: %s", c->name, d.msg);
	for (int i = 0; i < n; i++)
		ir_add_output(g, grad[i]);
	return g;
}

static inline void gc_inputs(const GcCase *c, const Graph *g, GcInputs *in)
{
	in->n = g->ninput;
	for (int i = 0; i < g->ninput; i++) {
		const Value *v = &g->val[g->input[i]];
		bool fl = ir_dtype_is_float(v->dtype);
		in->t64[i] = gc_tensor(fl ? DT_F64 : v->dtype, v->shape);
		in->t32[i] = gc_tensor(fl ? DT_F32 : v->dtype, v->shape);
		int64_t n = ir_shape_numel(&v->shape);
		for (int64_t j = 0; j < n; j++) {
			if (fl) {
				float f = (float)gc_urand(c->lo, c->hi);
				((double *)in->t64[i].data)[j] = f;
				((float *)in->t32[i].data)[j] = f;
			} else {
				double k = floor(gc_urand(0, (double)c->classes));
				size_t sz = ir_dtype_size(v->dtype);
				ir_elem_put(v->dtype, (char *)in->t64[i].data + j * (int64_t)sz, k);
				ir_elem_put(v->dtype, (char *)in->t32[i].data + j * (int64_t)sz, k);
			}
		}
	}
}

static inline double gc_eval_loss(const Graph *g, const Tensor *in)
{
	Tensor out[1];
	Diag d;
	diag_init(&d);
	if (ir_eval(g, in, out, &d) < 0)
		fail_msg("ir_eval: %s", d.msg);
	double l = ir_elem_get(out[0].dtype, out[0].data);
	ir_tensor_free(&out[0]);
	return l;
}

/* Central differences of the f64 loss-only graph: fd[i] for each input. */
static inline void gc_fd(const Graph *g, GcInputs *in, double **fd)
{
	for (int i = 0; i < in->n; i++) {
		fd[i] = NULL;
		if (in->t64[i].dtype != DT_F64)
			continue;
		int64_t n = ir_shape_numel(&in->t64[i].shape);
		fd[i] = calloc((size_t)n + 1, sizeof(double));
		double *x = in->t64[i].data;
		for (int64_t j = 0; j < n; j++) {
			double x0 = x[j], h = 1e-6 * fmax(1, fabs(x0));
			x[j] = x0 + h;
			double lp = gc_eval_loss(g, in->t64);
			x[j] = x0 - h;
			double lm = gc_eval_loss(g, in->t64);
			x[j] = x0;
			fd[i][j] = (lp - lm) / (2 * h);
		}
	}
}

/* Compares got (n elements of dtype t) with fd; fails naming the case. */
static inline void gc_compare(const char *what, const char *input, DType t, const void *got,
	const double *fd, int64_t n, double rtol, double atol)
{
	double scale = 1;
	for (int64_t j = 0; j < n; j++)
		scale = fmax(scale, fabs(fd[j]));
	for (int64_t j = 0; j < n; j++) {
		double a = ir_elem_get(t, (const char *)got + j * (int64_t)ir_dtype_size(t));
		if (!(fabs(a - fd[j]) <= rtol * fabs(fd[j]) + atol * scale))
			fail_msg("%s: d/d%s[%lld] = %.9g, finite differences give %.9g", what, input,
				(long long)j, a, fd[j]);
	}
}

/* Compiles g at opt level opt into a .so in a temp folder, dlopens it. */
typedef struct GcLib {
	void *h;                 /* dlopen handle */
	const nncc_abi_model *m; /* descriptor */
	char dir[64];            /* temp folder */
} GcLib;

static inline void gc_build(Graph *g, int opt, GcLib *l)
{
	Diag d;
	diag_init(&d);
	Options o = {.opt_level = opt};
	if (ps_pipeline(g, &o, &d) < 0)
		fail_msg("%s: ps_pipeline: %s", g->name, d.msg);
	KernelList kl;
	memset(&kl, 0, sizeof kl);
	if (cg_lower(g, &kl, &d) < 0)
		fail_msg("%s: cg_lower: %s", g->name, d.msg);
	cg_schedule(&kl, 0);
	cg_plan(&kl);
	if (cg_plan_check(&kl, &d) < 0)
		fail_msg("%s: cg_plan_check: %s", g->name, d.msg);
	snprintf(l->dir, sizeof l->dir, "/tmp/nncc-grad-XXXXXX");
	if (!mkdtemp(l->dir))
		fail_msg("mkdtemp");
	char obj[128], so[128];
	snprintf(obj, sizeof obj, "%s/m.o", l->dir);
	snprintf(so, sizeof so, "%s/m.so", l->dir);
	CpuOptions co = {.opt_level = opt};
	if (cg_cpu_emit(&kl, &co, obj, 0, &d) < 0 || cg_link_so(obj, so, &d) < 0)
		fail_msg("%s: emit/link: %s", g->name, d.msg);
	cg_free(&kl);
	l->h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!l->h)
		fail_msg("dlopen: %s", dlerror());
	l->m = dlsym(l->h, "nncc_model");
	if (!l->m)
		fail_msg("no nncc_model");
	unlink(obj);
	unlink(so);
	rmdir(l->dir);
}

/* Runs the compiled f32 graph; outputs malloc'd in descriptor order. */
static inline void gc_run(const GcLib *l, const GcInputs *in, void **out)
{
	const nncc_abi_model *m = l->m;
	assert_int_equal(m->ninputs, in->n);
	const void *ins[GC_MAX_IN];
	for (int i = 0; i < in->n; i++)
		ins[i] = in->t32[i].data;
	for (int k = 0; k < m->noutputs; k++)
		out[k] = calloc((size_t)m->outputs[k].nbytes + 1, 1);
	const void **params = calloc((size_t)m->nparams + 1, sizeof *params);
	for (int i = 0; i < m->nparams; i++)
		params[i] = m->params[i].data;
	void *arena = NULL;
	if (m->arena_bytes)
		assert_int_equal(posix_memalign(&arena, 64, (size_t)m->arena_bytes), 0);
	m->run(arena, ins, out, params, NULL);
	free(arena);
	free(params);
}

/* The whole check of one case. */
static inline void gc_check(const GcCase *c)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)strlen(c->name) * 7919u;
	Graph *lg = gc_graph(c, DT_F64, false, seed);
	Graph *g64 = gc_graph(c, DT_F64, true, seed);
	GcInputs in;
	gc_inputs(c, g64, &in);
	double *fd[GC_MAX_IN];
	gc_fd(lg, &in, fd);
	/* the interpreter on the f64 gradient graph */
	Tensor out[1 + GC_MAX_IN];
	Diag d;
	diag_init(&d);
	if (ir_eval(g64, in.t64, out, &d) < 0)
		fail_msg("%s: ir_eval of the gradient graph: %s", c->name, d.msg);
	char what[128];
	snprintf(what, sizeof what, "%s (interpreter, f64)", c->name);
	for (int i = 0, k = 1; i < in.n; i++)
		if (fd[i]) {
			const char *nm = g64->val[g64->input[i]].name;
			gc_compare(what, nm, out[k].dtype, out[k].data, fd[i],
				ir_shape_numel(&in.t64[i].shape), 1e-3, 1e-5);
			k++;
		}
	for (int k = 0; k < g64->noutput; k++)
		ir_tensor_free(&out[k]);
	/* compiled, f32, at -O0 and -O2 */
	for (int opt = 0; opt <= 2; opt += 2) {
		Graph *g32 = gc_graph(c, DT_F32, true, seed);
		GcLib l;
		gc_build(g32, opt, &l);
		void *res[1 + GC_MAX_IN];
		gc_run(&l, &in, res);
		snprintf(what, sizeof what, "%s (compiled -O%d, f32)", c->name, opt);
		for (int i = 0, k = 1; i < in.n; i++)
			if (fd[i]) {
				assert_int_equal(l.m->outputs[k].dtype, DT_F32);
				gc_compare(what, g32->val[g32->input[i]].name, DT_F32, res[k], fd[i],
					ir_shape_numel(&in.t32[i].shape), 1e-3, 1e-5);
				k++;
			}
		for (int k = 0; k < l.m->noutputs; k++)
			free(res[k]);
		dlclose(l.h);
		ir_graph_free(g32);
	}
	for (int i = 0; i < in.n; i++) {
		free(fd[i]);
		free(in.t64[i].data);
		free(in.t32[i].data);
	}
	ir_graph_free(lg);
	ir_graph_free(g64);
}

static void gc_test_case(void **state) { gc_check((const GcCase *)*state); }

/* main() of a gradient-check file: each of cases[0 .. n) as a cmocka
 * test of its own, then extra[0 .. nextra). */
static inline int gc_main(const GcCase *cases, int n, const struct CMUnitTest *extra, int nextra)
{
	struct CMUnitTest t[n + nextra];
	for (int i = 0; i < n; i++)
		t[i] = (struct CMUnitTest){cases[i].name, gc_test_case, NULL, NULL, (void *)&cases[i]};
	for (int i = 0; i < nextra; i++)
		t[n + i] = extra[i];
	return cmocka_run_group_tests(t, NULL, NULL);
}

#endif
