/* kl_build.h — helpers shared by test_cpu.c and test_cpu_sched.c: build
 * kernel lists by hand (graph inputs, outputs, params, arena temporaries,
 * loop and call kernels, Kx nodes), compile them with the LLVM backend,
 * link and dlopen the .so, check its descriptor, and run it. Include
 * after <cmocka.h>; each test program has its own temp folder `dir`. */
#ifndef NNCC_TEST_KL_BUILD_H
#define NNCC_TEST_KL_BUILD_H

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codegen/codegen.h"
#include "codegen/cpu/cpu.h"
#include "runtime/abi.h"

static char dir[256]; /* temp folder, its name has a space */

/* Building kernel lists */

typedef struct T {
	Graph *g;
	KernelList kl;
	int cap_buf, cap_k; /* capacities of kl.buf and kl.k */
} T;

static inline T *t_new(const char *name)
{
	T *t = calloc(1, sizeof *t);
	t->g = ir_graph_new(name);
	t->kl.g = t->g;
	t->cap_buf = t->cap_k = 16;
	t->kl.buf = calloc(16, sizeof(Buf));
	t->kl.k = calloc(16, sizeof(Kernel));
	t->kl.param_value = calloc(16, sizeof(int));
	return t;
}

static inline void t_free(T *t)
{
	arena_free(&t->kl.arena);
	free(t->kl.buf);
	free(t->kl.k);
	free(t->kl.param_value);
	ir_graph_free(t->g);
	free(t);
}

static inline Shape shp(int rank, ...)
{
	int64_t d[IR_MAX_RANK];
	va_list ap;
	va_start(ap, rank);
	for (int i = 0; i < rank; i++)
		d[i] = va_arg(ap, int64_t);
	va_end(ap);
	return ir_shape_make(rank, d);
}

static inline int add_buf(T *t, BufKind kind, int value, DType dt, int64_t numel, int index, int64_t offset)
{
	assert_true(t->kl.nbuf < t->cap_buf);
	Buf *b = &t->kl.buf[t->kl.nbuf];
	b->kind = kind;
	b->dtype = dt;
	b->numel = numel;
	b->nbytes = numel * (int64_t)ir_dtype_size(dt);
	b->index = index;
	b->offset = offset;
	b->value = value;
	b->alias = -1;
	return t->kl.nbuf++;
}

/* A graph input and its buffer. */
static inline int input(T *t, const char *name, DType dt, Shape s)
{
	int v = ir_add_input(t->g, name, dt, s);
	return add_buf(t, BUF_INPUT, v, dt, ir_shape_numel(&s), t->g->ninput - 1, 0);
}

/* A graph output (the result of a placeholder node) and its buffer. */
static inline int output(T *t, const char *name, DType dt, Shape s)
{
	int in = t->g->input[0];
	int n = ir_add_node(t->g, OP_RELU, name, &in, 1, 1, (const char *const[]){name});
	int v = ir_out(t->g, n, 0);
	t->g->val[v].dtype = dt;
	t->g->val[v].shape = s;
	ir_add_output(t->g, v);
	return add_buf(t, BUF_OUTPUT, v, dt, ir_shape_numel(&s), t->g->noutput - 1, 0);
}

static inline int param(T *t, const char *name, DType dt, Shape s, const void *data)
{
	int64_t numel = ir_shape_numel(&s);
	int v = ir_add_const(t->g, name, dt, s, data, (size_t)numel * ir_dtype_size(dt), true);
	t->kl.param_value[t->kl.nparam] = v;
	return add_buf(t, BUF_PARAM, v, dt, numel, t->kl.nparam++, 0);
}

static inline int temp(T *t, DType dt, int64_t numel, int64_t offset)
{
	return add_buf(t, BUF_TEMP, -1, dt, numel, 0, offset);
}

static inline Kernel *kernel(T *t, KernelKind kind)
{
	assert_true(t->kl.nk < t->cap_k);
	Kernel *k = &t->kl.k[t->kl.nk++];
	memset(k, 0, sizeof *k);
	k->kind = kind;
	k->name = "test";
	k->node = -1;
	return k;
}

/* A loop kernel over extents ext[0..nvar-1], the first nout of them output vars. */
static inline Kernel *loop(T *t, int out, Aff idx, Kx *body, int nout, int nvar, const int64_t *ext)
{
	Kernel *k = kernel(t, KK_LOOP);
	k->nvar = nvar;
	k->nout_var = nout;
	if (nvar)
		memcpy(k->extent, ext, (size_t)nvar * sizeof *ext);
	k->out = out;
	k->out_idx = idx;
	k->body = body;
	return k;
}

static inline Kx *kx(T *t, KxKind kind, DType dt)
{
	Kx *x = arena_alloc(&t->kl.arena, sizeof *x);
	x->kind = kind;
	x->dtype = dt;
	return x;
}

static inline Kx *kconst(T *t, DType dt, double c)
{
	Kx *x = kx(t, KX_CONST, dt);
	x->c = c;
	return x;
}

static inline Kx *kload(T *t, DType dt, int buf, Aff idx)
{
	Kx *x = kx(t, KX_LOAD, dt);
	x->buf = buf;
	x->idx = idx;
	return x;
}

static inline void kguard(T *t, Kx *x, Aff e, int64_t lo, int64_t hi)
{
	Guard *g = arena_alloc(&t->kl.arena, (size_t)(x->nguard + 1) * sizeof *g);
	if (x->nguard)
		memcpy(g, x->guard, (size_t)x->nguard * sizeof *g);
	g[x->nguard].e = e;
	g[x->nguard].lo = lo;
	g[x->nguard].hi = hi;
	x->guard = g;
	x->nguard++;
}

static inline Kx *kun(T *t, KuOp op, Kx *a)
{
	Kx *x = kx(t, KX_UNARY, a->dtype);
	x->op = op;
	x->a = a;
	return x;
}

static inline Kx *kbin(T *t, KbOp op, Kx *a, Kx *b)
{
	Kx *x = kx(t, KX_BINARY, a->dtype);
	x->op = op;
	x->a = a;
	x->b = b;
	return x;
}

static inline Kx *kred(T *t, KrOp op, Kx *a)
{
	Kx *x = kx(t, KX_REDUCE, a->dtype);
	x->op = op;
	x->a = a;
	return x;
}

/* Compiling and loading */

typedef struct Lib {
	void *h;                 /* dlopen handle */
	const nncc_abi_model *m; /* its descriptor */
} Lib;

static inline Lib build(T *t, int opt)
{
	char obj[512], so[512], name[64];
	snprintf(name, sizeof name, "%s_O%d", t->g->name, opt);
	snprintf(obj, sizeof obj, "%s/%s.o", dir, name);
	snprintf(so, sizeof so, "%s/%s.so", dir, name);
	CpuOptions o = {.opt_level = opt};
	Diag d;
	diag_init(&d);
	if (cg_cpu_emit(&t->kl, &o, obj, 0, &d) != 0)
		fail_msg("cg_cpu_emit: %s", d.msg);
	if (cg_link_so(obj, so, &d) != 0)
		fail_msg("cg_link_so: %s", d.msg);
	Lib l;
	l.h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!l.h)
		fail_msg("dlopen: %s", dlerror());
	char sym[128];
	snprintf(sym, sizeof sym, "%s_nncc_model", t->g->name);
	l.m = dlsym(l.h, "nncc_model");
	assert_non_null(l.m);
	assert_ptr_equal(l.m, dlsym(l.h, sym));
	assert_int_equal(l.m->magic, NNCC_ABI_MAGIC);
	assert_int_equal(l.m->version, NNCC_ABI_VERSION);
	assert_string_equal(l.m->name, t->g->name);
	assert_int_equal(l.m->ninputs, t->g->ninput);
	assert_int_equal(l.m->noutputs, t->g->noutput);
	assert_int_equal(l.m->nparams, t->kl.nparam);
	assert_int_equal(l.m->arena_bytes, t->kl.arena_bytes);
	assert_non_null(l.m->run);
	/* the kernel library stays hidden inside the artifact */
	assert_null(dlsym(l.h, "nncc_rt_matmul_f32"));
	return l;
}

/* Runs with the embedded parameters and a fresh 64-byte-aligned arena,
 * lending ctx (an nncc_abi_ctx, or NULL: serial). */
static inline void run_ctx(const Lib *l, const void *const *in, void *const *out, void *ctx)
{
	void *arena = NULL;
	if (l->m->arena_bytes)
		assert_int_equal(posix_memalign(&arena, 64, (size_t)l->m->arena_bytes), 0);
	const void *params[8] = {0};
	assert_true(l->m->nparams <= 8);
	for (int i = 0; i < l->m->nparams; i++)
		params[i] = l->m->params[i].data;
	l->m->run(arena, in, out, params, ctx);
	free(arena);
}

static inline void run(const Lib *l, const void *const *in, void *const *out)
{
	run_ctx(l, in, out, NULL);
}

/* A fresh temp folder whose name has a space, in dir; removed by rm_dir. */
static inline int make_dir(char *base)
{
	if (!mkdtemp(base))
		return -1;
	snprintf(dir, sizeof dir, "%s/a dir", base);
	return mkdir(dir, 0777);
}

static inline int rm_dir(const char *base)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	return system(cmd) != 0;
}

#endif
