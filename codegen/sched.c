/* sched.c — the schedule of every kernel (cg_schedule): which output var
 * is split across threads and into how many chunks, which var is
 * vectorized and how wide. Target-neutral: it looks only at extents, the
 * expression DAG and the vector size it is given; the backends honour the
 * record (cpu/llvm_loop.c) and kprint.c shows it.
 *
 * Also the analysis of a kernel's expression DAG (cg_kx_dag) that the
 * schedule and the backends share: the distinct nodes in post-order and
 * the loop vars each depends on, which says where a node can be hoisted
 * (a KX_REDUCE over a row is computed once per row).
 *
 * Rules, for a loop kernel or a call's epilogue:
 *   - work = stores + every reduction's trips; below PAR_MIN_WORK the
 *     kernel stays serial (waking threads costs more than it saves);
 *   - par_var is the outermost output var with at least PAR_MIN_EXTENT
 *     iterations (else the widest), but never inside a var some reduction
 *     depends on: a chunk must not recompute another chunk's rows. A
 *     reduction that depends on no output var keeps the kernel serial;
 *   - par_chunks = min(extent, PAR_MAX_CHUNKS), independent of the thread
 *     count so the artifact is the same for every machine;
 *   - vec_var is the innermost output var when it has at least
 *     VEC_MIN_EXTENT iterations, the store and every load walk it with
 *     stride 1 or 0 and no reduction loop runs per element;
 *     vec_width = vec_bytes / element size (0: the backend decides);
 *   - for a convolution's epilogue var 0 (the image) is not split: the
 *     backend applies the epilogue image by image right after the call
 *     (unless the batch runs in one call: a small output, small images,
 *     or Winograd F(4x4, 3x3) on a weight transformed every call);
 *   - first, adjacent output vars that every index walks as one row-major
 *     var are merged (collapse_vars), a convolution's image var excepted. */
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "../runtime/abi.h"

enum {
	PAR_MIN_WORK = 32768, /* element operations below which a kernel stays serial */
	PAR_MIN_EXTENT = 8,   /* iterations a var needs to be split across threads */
	PAR_MAX_CHUNKS = 64,  /* chunks par_var is split into at most */
	VEC_MIN_EXTENT = 4,   /* iterations the innermost var needs to be vectorized: a
			       * shorter loop is unrolled whole (LLVM) and the next one
			       * out vectorized, its stores interleaved (the max-pool
			       * adjoint's [.., B, 2] phases) */
};

/* --- the expression DAG ---------------------------------------------------- */

static unsigned hash_ptr(const Kx *x)
{
	uintptr_t p = (uintptr_t)x;
	return (unsigned)((p >> 4) * 2654435761u);
}

int cg_kx_find(const KxDag *d, const Kx *x)
{
	if (!d->cap)
		return -1;
	for (unsigned h = hash_ptr(x) & (unsigned)(d->cap - 1);; h = (h + 1) & (unsigned)(d->cap - 1)) {
		if (!d->key[h])
			return -1;
		if (d->key[h] == x)
			return d->val[h];
	}
}

static void insert(KxDag *d, const Kx *x, int i)
{
	if (2 * (d->n + 1) > d->cap) { /* keep the table at most half full */
		int cap = d->cap ? 2 * d->cap : 64;
		const Kx **key = xcalloc((size_t)cap, sizeof *key);
		int *val = xcalloc((size_t)cap, sizeof *val);
		for (int j = 0; j < d->cap; j++) {
			if (!d->key[j])
				continue;
			unsigned h = hash_ptr(d->key[j]) & (unsigned)(cap - 1);
			while (key[h])
				h = (h + 1) & (unsigned)(cap - 1);
			key[h] = d->key[j];
			val[h] = d->val[j];
		}
		free(d->key);
		free(d->val);
		d->key = key;
		d->val = val;
		d->cap = cap;
	}
	unsigned h = hash_ptr(x) & (unsigned)(d->cap - 1);
	while (d->key[h])
		h = (h + 1) & (unsigned)(d->cap - 1);
	d->key[h] = x;
	d->val[h] = i;
}

static uint32_t aff_vars(const Aff *a)
{
	uint32_t m = 0;
	for (int v = 0; v < KV_MAX; v++)
		if (a->k[v])
			m |= 1u << v;
	return m;
}

static uint32_t guard_vars(const Kx *x)
{
	uint32_t m = 0;
	for (int i = 0; i < x->nguard; i++)
		m |= aff_vars(&x->guard[i].e);
	return m;
}

/* Post-order walk; returns x's index. cap is the capacity of d->node. */
static int walk(KxDag *d, const Kernel *k, const Kx *x, int *cap)
{
	int i = cg_kx_find(d, x);
	if (i >= 0)
		return i;
	uint32_t vars = 0;
	if (x->a) {
		int a = walk(d, k, x->a, cap); /* before reading d->node: walk may move it */
		vars |= d->node[a].vars;
	}
	if (x->b) {
		int b = walk(d, k, x->b, cap);
		vars |= d->node[b].vars;
	}
	if (x->cond) {
		int c = walk(d, k, x->cond, cap);
		vars |= d->node[c].vars;
	}
	uint32_t out = k->nout_var >= 32 ? ~0u : (1u << k->nout_var) - 1;
	switch (x->kind) {
	case KX_LOAD:
		vars |= aff_vars(&x->idx) | guard_vars(x);
		break;
	case KX_VALID:
		vars |= guard_vars(x);
		break;
	case KX_RANDOM:
		vars |= aff_vars(&x->idx);
		break;
	case KX_REDUCE:
		vars &= out;
		break;
	default:
		break;
	}
	if (d->n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		d->node = xrealloc(d->node, (size_t)*cap * sizeof *d->node);
	}
	int level = 0;
	for (int v = 0; v < k->nout_var && v < 32; v++)
		if (vars >> v & 1)
			level = v + 1;
	i = d->n++;
	d->node[i] = (KxInfo){.x = x, .vars = vars, .level = level, .inner = (vars & ~out) != 0};
	insert(d, x, i);
	return i;
}

void cg_kx_dag(const Kernel *k, KxDag *d)
{
	memset(d, 0, sizeof *d);
	int cap = 0;
	if (k->body)
		walk(d, k, k->body, &cap);
	if (k->out_dyn)
		walk(d, k, k->out_dyn, &cap);
}

void cg_kx_dag_free(KxDag *d)
{
	free(d->node);
	free(d->key);
	free(d->val);
	memset(d, 0, sizeof *d);
}

/* --- the schedule ------------------------------------------------------------ */

/* Product of extent[from..to-1] (saturating). */
int64_t cg_span(const Kernel *k, int from, int to)
{
	int64_t n = 1;
	for (int v = from; v < to; v++)
		n = sat_mul(n, k->extent[v]);
	return n;
}

/* Whether every load walks var v with stride 0 or 1. */
static bool unit_stride(const KxDag *d, int v)
{
	for (int i = 0; i < d->n; i++) {
		const Kx *x = d->node[i].x;
		if (x->kind == KX_LOAD && x->idx.k[v] != 0 && x->idx.k[v] != 1)
			return false;
	}
	return true;
}

/* Schedules the loops over vars first..nout_var-1 of a loop kernel or an
 * epilogue; vars before first stay serial (images of a convolution). */
static void sched_loops(const KernelList *kl, Kernel *k, int first, int vec_bytes)
{
	Sched *s = &k->sched;
	int nout = k->nout_var;
	KxDag d;
	cg_kx_dag(k, &d);

	/* work per call of the loop nest, and the innermost var a chunk may split */
	int64_t trips = cg_span(k, nout, k->nvar);
	int64_t work = cg_span(k, first, nout);
	int maxpar = nout - 1;
	bool inner_reduce = false;
	for (int i = 0; i < d.n; i++) {
		const KxInfo *n = &d.node[i];
		if (n->x->kind != KX_REDUCE)
			continue;
		work = sat_add(work, sat_mul(cg_span(k, first, n->level > first ? n->level : first), trips));
		if (n->level - 1 < maxpar)
			maxpar = n->level - 1;
		if (n->level == nout && nout > 0)
			inner_reduce = true;
	}

	s->par_var = -1;
	s->par_chunks = 1;
	if (work >= PAR_MIN_WORK && maxpar >= first) {
		int p = -1;
		for (int v = first; v <= maxpar && p < 0; v++)
			if (k->extent[v] >= PAR_MIN_EXTENT)
				p = v;
		for (int v = first; v <= maxpar && p < 0; v++)
			if (k->extent[v] >= 2 && (p < 0 || k->extent[v] > k->extent[p]))
				p = v;
		if (p >= 0) {
			s->par_var = p;
			s->par_chunks = k->extent[p] < PAR_MAX_CHUNKS ? k->extent[p] : PAR_MAX_CHUNKS;
		}
	}

	s->vec_var = -1;
	s->vec_width = 0;
	int v = nout - 1;
	if (nout > 0 && k->extent[v] >= VEC_MIN_EXTENT && !inner_reduce && k->out_idx.k[v] == 1 && unit_stride(&d, v)) {
		s->vec_var = v;
		int64_t es = (int64_t)ir_dtype_size(kl->buf[k->out].dtype);
		if (vec_bytes > 0 && es > 0 && vec_bytes / es >= 2)
			s->vec_width = (int)(vec_bytes / es);
	}
	cg_kx_dag_free(&d);
}

/* --- collapsing output vars ------------------------------------------------- */

/* Calls f on every affine index of k: the store's and every load's, guard's
 * and counter's of the body (each distinct node once). */
static bool each_aff(Kernel *k, const KxDag *d, bool (*f)(Aff *a, void *ctx), void *ctx)
{
	if (!f(&k->out_idx, ctx))
		return false;
	for (int i = 0; i < d->n; i++) {
		Kx *x = (Kx *)d->node[i].x;
		if ((x->kind == KX_LOAD || x->kind == KX_RANDOM) && !f(&x->idx, ctx))
			return false;
		if (x->kind == KX_LOAD || x->kind == KX_VALID)
			for (int g = 0; g < x->nguard; g++)
				if (!f(&x->guard[g].e, ctx))
					return false;
	}
	return true;
}

typedef struct Merge {
	int v;       /* var merged into v - 1 */
	int nvar;    /* vars before the merge */
	int64_t ext; /* extent of v */
	bool outer;  /* the merged var keeps v - 1's steps (v has extent 1), else v's */
} Merge;

/* Var v - 1 steps ext times var v in a: a function of (v-1)*ext + v. */
static bool aff_fits(Aff *a, void *ctx)
{
	const Merge *m = ctx;
	return a->k[m->v - 1] == m->ext * a->k[m->v];
}

/* a over the merged var (at v - 1), later vars moved down. */
static bool aff_merge(Aff *a, void *ctx)
{
	const Merge *m = ctx;
	if (!m->outer)
		a->k[m->v - 1] = a->k[m->v];
	for (int j = m->v; j + 1 < m->nvar; j++)
		a->k[j] = a->k[j + 1];
	a->k[m->nvar - 1] = 0;
	return true;
}

/* Merges adjacent output vars from `first` on whose every index walks
 * them as one row-major var (an extent-1 var always merges): an
 * elementwise kernel over [8, 14, 14] becomes one loop of 1568, so the
 * innermost loop is long enough to vectorize. Vars before first stay
 * (a call's epilogue keeps its image var). */
static void collapse_vars(Kernel *k, int first)
{
	if (!k->body || k->out_dyn)
		return;
	KxDag d;
	cg_kx_dag(k, &d);
	/* the reduction vars among themselves (a row-major index over them,
	 * argmax's, is the same over the merged var), then the output vars */
	for (int v = k->nvar - 1; v > first; v--) {
		if (v == k->nout_var)
			continue; /* an output var never merges with a reduction var */
		Merge m = {v, k->nvar, k->extent[v], false};
		if (k->extent[v - 1] != 1 && k->extent[v] != 1 && !each_aff(k, &d, aff_fits, &m))
			continue;
		m.outer = k->extent[v] == 1; /* v is always 0: the merged var steps as v - 1 did */
		each_aff(k, &d, aff_merge, &m);
		k->extent[v - 1] *= k->extent[v];
		for (int j = v; j + 1 < k->nvar; j++)
			k->extent[j] = k->extent[j + 1];
		k->extent[k->nvar - 1] = 0;
		k->nvar--;
		if (v < k->nout_var)
			k->nout_var--;
	}
	cg_kx_dag_free(&d);
}

enum {
	WHOLE_BATCH_FLOATS = 1 << 18, /* 1 MiB of f32 output */
	IMAGE_MIN_MACS = 1 << 18,     /* multiply-adds of one image below which a call per image is too small */
};

/* A Winograd F(4x4, 3x3) convolution whose weight is transformed on every
 * call (training state: abi.h nncc_abi_wino_m) also runs once over the
 * batch: an image's plane holds a quarter of F(2x2, 3x3)'s tiles (49 at
 * 28 x 28), too few for the GEMMs' tiles and the threads, while the
 * whole batch's epilogue pass after the call is cheap beside them
 * (ResNet-18's step: the input gradients of layer 2 1.5 ms faster each,
 * of layer 1 0.5; its F(2x2, 3x3) layer 3 gained nothing). One whose
 * transform is fused into its products (NNCC_ABI_WINO_FUSED) must: the
 * compiler chose it for the batch's tiles. */
static bool wino4_u(const Kernel *k)
{
	return !k->conv.nd && k->conv.wino_u &&
	       nncc_abi_wino(k->conv.n, k->conv.c, k->conv.h, k->conv.w, k->conv.k, k->conv.oh, k->conv.ow,
			     k->conv.kh, k->conv.kw, k->conv.sh, k->conv.sw, k->conv.dh, k->conv.dw,
			     k->conv.group) &&
	       (k->conv.wino_u == NNCC_ABI_WINO_FUSED ||
		nncc_abi_wino_m(k->conv.n, k->conv.c, k->conv.k, k->conv.oh, k->conv.ow, k->conv.dh, 1) == 4);
}

void cg_schedule(KernelList *kl, int vec_bytes)
{
	for (int i = 0; i < kl->nk; i++) {
		Kernel *k = &kl->k[i];
		memset(&k->sched, 0, sizeof k->sched);
		k->sched.par_var = -1;
		k->sched.par_chunks = 1;
		k->sched.vec_var = -1;
		switch (k->kind) {
		case KK_LOOP:
			if (!k->out_dyn) { /* a run-time store index: serial, in order */
				collapse_vars(k, 0);
				sched_loops(kl, k, 0, vec_bytes);
			}
			break;
		case KK_MATMUL:
			if (k->body)
				sched_loops(kl, k, 0, vec_bytes);
			break;
		case KK_CONV2D: {
			/* a batch whose output stays in L2 runs in one call, which
			 * gives the convolution's threads every image's work; so
			 * does one whose images are each too small to gain from
			 * threads (image by image, each call ran on one thread:
			 * LeNet's first layer in training, 64 images of 118K
			 * multiply-adds) */
			int64_t out = k->conv.n * k->conv.k * (k->conv.nd ? k->conv.od : 1) * k->conv.oh *
				      k->conv.ow;
			int64_t cg = k->conv.group > 0 ? k->conv.c / k->conv.group : 1;
			int64_t img = out / (k->conv.n > 0 ? k->conv.n : 1) * cg * (k->conv.nd ? k->conv.kd : 1) *
				      k->conv.kh * k->conv.kw;
			/* (x's or y's planes swapped, lower_swap.c: no image is contiguous) */
			k->sched.whole_batch = out <= WHOLE_BATCH_FLOATS || img < IMAGE_MIN_MACS || wino4_u(k) ||
					       (k->conv.swap & (NNCC_CONV_SWAP_X | NNCC_CONV_SWAP_Y));
			if (k->body) {
				collapse_vars(k, 1);
				sched_loops(kl, k, k->nout_var > 1 && !k->sched.whole_batch ? 1 : 0,
					    vec_bytes);
			}
			break;
		}
		}
	}
}
