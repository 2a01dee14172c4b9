/* fuse_check.h — helpers shared by test_fuse.c and test_fuse_norm.c (and
 * the graph rewrites' tests, test_remat.c and test_sink.c):
 * build small graphs (inputs, random params, nodes), and run() one through
 * ps_fuse at a given level, cg_lower, cg_plan (checked by cg_plan_check)
 * and cg_interp, comparing with ir_eval to 1e-5 (random inputs from a
 * fixed-seed generator). Include after <cmocka.h>. */
#ifndef NNCC_TEST_FUSE_CHECK_H
#define NNCC_TEST_FUSE_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/kinterp.h"
#include "ir/ir.h"
#include "passes/passes.h"

/* --- building graphs ---------------------------------------------------------- */

/* The live node named name, or -1. */
static inline int node_named(const Graph *g, const char *name)
{
	for (int i = 0; i < g->nnode; i++)
		if (!g->node[i].dead && strcmp(g->node[i].name, name) == 0)
			return i;
	return -1;
}

/* Outputs of g (f32 inputs, at most 4) on fixed inputs sin(0.37 j + i),
 * into out[] (caller frees): a graph before and after a rewrite
 * (test_remat.c, test_sink.c). */
static inline void eval_fixed(Graph *g, Tensor *out)
{
	Diag d;
	diag_init(&d);
	Tensor in[4];
	for (int i = 0; i < g->ninput; i++) {
		const Value *v = &g->val[g->input[i]];
		int64_t n = ir_shape_numel(&v->shape);
		in[i] = (Tensor){.dtype = DT_F32, .shape = v->shape, .data = malloc((size_t)n * 4 + 1)};
		for (int64_t j = 0; j < n; j++)
			((float *)in[i].data)[j] = (float)sin((double)j * 0.37 + i);
	}
	if (ir_eval(g, in, out, &d) < 0)
		fail_msg("ir_eval: %s", d.msg);
	for (int i = 0; i < g->ninput; i++)
		ir_tensor_free(&in[i]);
}

static uint64_t rng = 7;

static inline double urand(double lo, double hi)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

#define S(...) shp((const int64_t[]){ __VA_ARGS__ }, (int)(sizeof((const int64_t[]){ __VA_ARGS__ }) / 8))
#define A(...) ((const int64_t[]){ __VA_ARGS__ })
#define IN(...) (const int[]){ __VA_ARGS__ }, (int)(sizeof((const int[]){ __VA_ARGS__ }) / sizeof(int))

static inline Shape shp(const int64_t *d, int n) { return ir_shape_make(n, d); }

static inline int param(Graph *g, const char *name, Shape s, double lo, double hi)
{
	int64_t n = ir_shape_numel(&s);
	float *buf = malloc((size_t)n * sizeof *buf + 1);
	for (int64_t i = 0; i < n; i++)
		buf[i] = (float)urand(lo, hi);
	int v = ir_add_const(g, name, DT_F32, s, buf, (size_t)n * sizeof *buf, true);
	free(buf);
	return v;
}

/* Adds a one-output node; returns its output value. */
static inline int op(Graph *g, Op o, const char *name, const int *in, int nin)
{
	return ir_out(g, ir_add_node(g, o, name, in, nin, 1, NULL), 0);
}

static inline int def(const Graph *g, int v) { return g->val[v].def; }

static inline int conv(Graph *g, const char *name, int x, int w, int b, int64_t pad)
{
	int v = b >= 0 ? op(g, OP_CONV, name, IN(x, w, b)) : op(g, OP_CONV, name, IN(x, w));
	if (pad)
		ir_set_ints(g, def(g, v), "pads", A(pad, pad, pad, pad), 4);
	return v;
}

/* --- checking -------------------------------------------------------------------- */

typedef struct Result {
	int nk;                /* kernels */
	int ntemp;             /* temporaries, scratch included */
	int ngroup;            /* distinct groups > 0 */
} Result;

static inline void infer(Graph *g)
{
	Diag d;
	diag_init(&d);
	for (int i = 0; i < g->nnode; i++)
		if (ir_infer_node(g, i, &d) < 0)
			fail_msg("shape inference: %s", d.msg);
}

static inline bool close_enough(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	if (isinf(a) || isinf(b))
		return a == b;
	return fabs(a - b) <= 1e-5 * fabs(b) + 1e-5;
}

/* Fuses g at opt level `opt`, lowers and plans it, compares cg_interp with
 * ir_eval, and hands back the kernel list in *keep (or frees it). */
static inline Result run(Graph *g, int opt, KernelList *keep)
{
	Diag d;
	diag_init(&d);
	infer(g);
	Options o = { .opt_level = opt };
	ps_fuse(g, &o);
	Result res = { 0, 0, 0 };
	bool seen[256] = { false };
	for (int i = 0; i < g->nnode; i++) {
		int gid = g->node[i].group;
		assert_true(gid >= 0 && gid < 256);
		if (gid && !seen[gid])
			res.ngroup++;
		seen[gid] = true;
	}
	Tensor in[8], ref[8], got[8];
	assert_true(g->ninput <= 8 && g->noutput <= 8);
	for (int i = 0; i < g->ninput; i++) {
		const Value *v = &g->val[g->input[i]];
		int64_t n = ir_shape_numel(&v->shape);
		in[i] = (Tensor){ .dtype = DT_F32, .shape = v->shape, .data = malloc((size_t)n * 4 + 1) };
		for (int64_t j = 0; j < n; j++)
			((float *)in[i].data)[j] = (float)urand(-2, 2);
	}
	if (ir_eval(g, in, ref, &d) < 0)
		fail_msg("ir_eval: %s", d.msg);
	KernelList kl;
	if (cg_lower(g, &kl, &d) < 0)
		fail_msg("cg_lower: %s", d.msg);
	cg_plan(&kl);
	if (cg_plan_check(&kl, &d) < 0)
		fail_msg("cg_plan_check: %s", d.msg);
	res.nk = kl.nk;
	for (int b = 0; b < kl.nbuf; b++)
		res.ntemp += kl.buf[b].kind == BUF_TEMP;
	for (int i = 0; i < kl.nk; i++) {
		const Kernel *k = &kl.k[i];
		assert_true(k->nnodes >= 1 && k->nodes && k->node == k->nodes[k->nnodes - 1]);
		if (k->nnodes > 1)
			assert_true(g->node[k->node].group > 0);
	}
	if (cg_interp(&kl, in, got, &d) < 0)
		fail_msg("cg_interp: %s", d.msg);
	for (int o2 = 0; o2 < g->noutput; o2++) {
		assert_int_equal(got[o2].dtype, ref[o2].dtype);
		int64_t n = ir_shape_numel(&ref[o2].shape);
		for (int64_t i = 0; i < n; i++) {
			double a = ((float *)got[o2].data)[i], b = ((float *)ref[o2].data)[i];
			if (!close_enough(a, b))
				fail_msg("-O%d output %d element %lld: kernels %.9g, eval %.9g", opt, o2, (long long)i, a, b);
		}
		ir_tensor_free(&got[o2]);
		ir_tensor_free(&ref[o2]);
	}
	for (int i = 0; i < g->ninput; i++)
		ir_tensor_free(&in[i]);
	if (keep)
		*keep = kl;
	else
		cg_free(&kl);
	return res;
}

/* Checks -O2 gives nk kernels and ntemp temporaries, and -O0 nk0 kernels
 * with no group, both matching the reference. */
static inline void expect(Graph *g, int nk, int ntemp, int nk0)
{
	Result r = run(g, 2, NULL);
	if (r.nk != nk || r.ntemp != ntemp)
		fail_msg("-O2: %d kernels, %d temps; expected %d, %d", r.nk, r.ntemp, nk, ntemp);
	r = run(g, 0, NULL);
	assert_int_equal(r.ngroup, 0);
	if (r.nk != nk0)
		fail_msg("-O0: %d kernels; expected %d", r.nk, nk0);
	run(g, 2, NULL); /* leave the fused groups for the caller's checks */
}

static inline char *print_kernels(const KernelList *kl)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cg_print(kl, f);
	fclose(f);
	return text;
}

#endif
