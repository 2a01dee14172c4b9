/* plan.c — the memory plan (cg_plan): places every BUF_TEMP in one arena.
 *
 *   1. Live intervals over the kernel order: a temporary is live from the
 *      first kernel that touches it (its first write) to the last one that
 *      reads it, inclusive. Every use counts: a loop's store and every
 *      KX_LOAD of its body (a DAG: distinct nodes are visited once), a
 *      call's operands, scratch and epilogue. A view shares its source's
 *      Buf (lower.c), so uses of the view extend the source's interval.
 *      An alias (Buf.alias: a concat input living in the concat's output)
 *      gets no space of its own; each use of it is a use of its parent too,
 *      and neither ever runs in place (step 2).
 *   2. In-place reuse: a loop kernel k whose output is born at k may take
 *      the bytes of a temporary that dies at k when every load of it reads
 *      exactly the element being stored (same index, no guards), the store
 *      index is one-to-one, and both have the same size and element size.
 *      Each point then reads its element before it overwrites it, in any
 *      loop order, tiling, vector width or thread split. Chains of in-place
 *      buffers share one allocation whose interval is their union.
 *   3. Offsets: greedy-by-size packing (TFLite's arena planner, ggml-alloc).
 *      Allocations are placed one by one at a 64-byte-aligned offset that
 *      overlaps no placed allocation whose interval meets its own. Several
 *      orders (size, size x lifetime, birth) and two gap rules (first fit,
 *      best fit) are tried; the smallest arena wins (ties: the first tried).
 *      Then refinement (search()): the first allocation that reaches the top
 *      moves to the front of the order and all are packed again, keeping any
 *      improvement, until the arena meets the peak of live bytes, the top
 *      allocation is already first, or a work budget is spent.
 *
 * cg_plan_check proves a plan sound from the kernels alone (intervals are
 * recomputed, not trusted; aliases are checked to lie disjoint inside their
 * parents, which are then checked like any temporary); cg_plan_stats gives the naive size, the lower
 * bound and the arena. The plan is deterministic. docs/memory.md has the
 * algorithm and measured numbers. */
#include <stdlib.h>
#include <string.h>

#include "codegen.h"

enum {
	PLAN_ALIGN = 64,           /* byte alignment of every temporary */
	REFINE_MAX = 256,          /* refinement rounds at most */
	REFINE_WORK = 200000000,   /* allocation pairs visited by refinement at most */
};

/* --- live intervals ------------------------------------------------------------ */

static void touch(const KernelList *kl, int *first, int *last, int b, int k)
{
	if (b < 0 || b >= kl->nbuf || kl->buf[b].kind != BUF_TEMP)
		return;
	if (first[b] < 0 || k < first[b])
		first[b] = k;
	if (k > last[b])
		last[b] = k;
	int p = kl->buf[b].alias; /* an alias's bytes are its parent's: keep the parent live */
	if (p >= 0 && p < kl->nbuf && kl->buf[p].alias < 0)
		touch(kl, first, last, p, k);
}

/* Whether b is an alias or the parent of one (Buf.alias). */
static bool aliased(const KernelList *kl, int b)
{
	if (kl->buf[b].alias >= 0)
		return true;
	for (int i = 0; i < kl->nbuf; i++)
		if (kl->buf[i].alias == b)
			return true;
	return false;
}

/* Live interval of every buffer: first[b]..last[b] inclusive, -1 when a
 * temporary is never used (and for non-temporaries). */
static void intervals(const KernelList *kl, int *first, int *last)
{
	for (int b = 0; b < kl->nbuf; b++)
		first[b] = last[b] = -1;
	for (int i = 0; i < kl->nk; i++) {
		const Kernel *k = &kl->k[i];
		touch(kl, first, last, k->out, i);
		if (k->kind == KK_MATMUL) {
			touch(kl, first, last, k->mm.a, i);
			touch(kl, first, last, k->mm.b, i);
			touch(kl, first, last, k->mm.c, i);
		} else if (k->kind == KK_CONV2D) {
			touch(kl, first, last, k->conv.x, i);
			touch(kl, first, last, k->conv.wt, i);
			touch(kl, first, last, k->conv.bias, i);
			touch(kl, first, last, k->conv.y, i);
			touch(kl, first, last, k->conv.scratch, i);
		}
		KxDag d;
		cg_kx_dag(k, &d);
		for (int j = 0; j < d.n; j++)
			if (d.node[j].x->kind == KX_LOAD)
				touch(kl, first, last, d.node[j].x->buf, i);
		cg_kx_dag_free(&d);
	}
}

/* --- in-place reuse --------------------------------------------------------------- */

static bool aff_eq(const Aff *a, const Aff *b)
{
	if (a->c != b->c)
		return false;
	for (int v = 0; v < KV_MAX; v++)
		if (a->k[v] != b->k[v])
			return false;
	return true;
}

/* Whether the store index of loop kernel k is one-to-one over its output
 * points: reduction vars absent and the output vars' strides, sorted,
 * each larger than the span of all smaller ones (a mixed radix).
 * Sufficient, not necessary. */
static bool store_injective(const Kernel *k)
{
	int v[KV_MAX], n = 0;
	if (k->out_dyn)
		return false;
	for (int i = k->nout_var; i < KV_MAX; i++)
		if (k->out_idx.k[i] != 0)
			return false;
	for (int i = 0; i < k->nout_var; i++) {
		if (k->extent[i] <= 1)
			continue;
		if (k->out_idx.k[i] <= 0)
			return false;
		int j = n++;
		while (j > 0 && k->out_idx.k[v[j - 1]] > k->out_idx.k[i]) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = i;
	}
	int64_t span = 0; /* largest index offset reachable by the vars so far */
	for (int j = 0; j < n; j++) {
		int64_t s = k->out_idx.k[v[j]], t;
		if (s <= span || !ck_mul(s, k->extent[v[j]] - 1, &t) || !ck_add(span, t, &span))
			return false;
	}
	return true;
}

/* Whether loop kernel ki may store its output into the bytes of temporary
 * src, which must die at ki: every load of src reads exactly the stored
 * element. Liveness is the caller's business; this is the kernel's part. */
static bool inplace_ok(const KernelList *kl, int ki, int src)
{
	const Kernel *k = &kl->k[ki];
	if (k->kind != KK_LOOP || !k->body || k->out < 0 || src < 0 || src == k->out)
		return false;
	const Buf *o = &kl->buf[k->out], *s = &kl->buf[src];
	if (o->kind != BUF_TEMP || s->kind != BUF_TEMP || o->nbytes != s->nbytes || o->nbytes == 0 ||
	    ir_dtype_size(o->dtype) != ir_dtype_size(s->dtype) || !store_injective(k) ||
	    aliased(kl, k->out) || aliased(kl, src))
		return false;
	KxDag d;
	cg_kx_dag(k, &d);
	bool any = false, ok = true;
	for (int j = 0; j < d.n && ok; j++) {
		const Kx *x = d.node[j].x;
		if (x->kind != KX_LOAD || (x->buf != src && x->buf != k->out))
			continue;
		/* reading the output itself before it is born cannot happen; refuse anyway */
		ok = x->buf == src && x->nguard == 0 && !x->a && aff_eq(&x->idx, &k->out_idx);
		any = true;
	}
	cg_kx_dag_free(&d);
	return ok && any;
}

/* Root of b's in-place chain (the buffer that owns the allocation). */
static int chain_root(const KernelList *kl, int b)
{
	for (int n = 0; kl->buf[b].inplace >= 0 && n <= kl->nbuf; n++)
		b = kl->buf[b].inplace;
	return b;
}

/* Sets Buf.inplace: at each loop kernel, the output takes the bytes of the
 * first temporary loaded in its body that qualifies. */
static void find_inplace(KernelList *kl)
{
	bool *given = xcalloc((size_t)kl->nbuf + 1, 1); /* bytes already handed on */
	for (int i = 0; i < kl->nk; i++) {
		const Kernel *k = &kl->k[i];
		if (k->kind != KK_LOOP || k->out < 0 || kl->buf[k->out].kind != BUF_TEMP ||
		    kl->buf[k->out].first != i || kl->buf[k->out].inplace >= 0)
			continue;
		KxDag d;
		cg_kx_dag(k, &d);
		for (int j = 0; j < d.n; j++) {
			int s = d.node[j].x->kind == KX_LOAD ? d.node[j].x->buf : -1;
			if (s < 0 || kl->buf[s].kind != BUF_TEMP || kl->buf[s].last != i || given[s] ||
			    !inplace_ok(kl, i, s))
				continue;
			kl->buf[k->out].inplace = s;
			given[s] = true;
			break;
		}
		cg_kx_dag_free(&d);
	}
	free(given);
}

/* --- packing -------------------------------------------------------------------- */

typedef struct Alloc {
	int buf;         /* root buffer of the in-place chain */
	int64_t size;    /* bytes */
	int first, last; /* union of the chain's intervals */
	int64_t key;     /* sort key of the order being tried (larger first) */
	int64_t off;     /* placed offset, -1 before placement */
} Alloc;

typedef enum Order {
	ORD_SIZE,  /* decreasing size, earlier birth first */
	ORD_AREA,  /* decreasing size x lifetime, then as ORD_SIZE */
	ORD_BIRTH, /* earlier birth, then as ORD_SIZE */
	ORD_COUNT,
} Order;

static int64_t order_key(const Alloc *a, Order o)
{
	int64_t r;
	switch (o) {
	case ORD_AREA:
		return ck_mul(a->size, (int64_t)a->last - a->first + 1, &r) ? r : INT64_MAX;
	case ORD_BIRTH:
		return -(int64_t)a->first;
	default:
		return 0;
	}
}

static int cmp_alloc(const void *pa, const void *pb)
{
	const Alloc *a = pa, *b = pb;
	if (a->key != b->key)
		return a->key > b->key ? -1 : 1;
	if (a->size != b->size)
		return a->size > b->size ? -1 : 1;
	if (a->first != b->first)
		return a->first < b->first ? -1 : 1;
	return a->buf - b->buf;
}

static int cmp_off(const void *pa, const void *pb)
{
	const Alloc *a = *(Alloc *const *)pa, *b = *(Alloc *const *)pb;
	if (a->off != b->off)
		return a->off < b->off ? -1 : 1;
	return a->buf - b->buf;
}

static int64_t align_up(int64_t x)
{
	int64_t r;
	NN_ASSERT(ck_add(x, PLAN_ALIGN - 1, &r));
	return r / PLAN_ALIGN * PLAN_ALIGN;
}

/* Places a[0..n-1] in order; returns the arena size (largest end).
 * best: pick the smallest gap that fits, else the first. */
static int64_t pack(Alloc *a, int n, bool best, Alloc **tmp)
{
	int64_t arena = 0;
	for (int i = 0; i < n; i++)
		a[i].off = -1;
	for (int i = 0; i < n; i++) {
		int m = 0;
		for (int j = 0; j < i; j++)
			if (a[j].first <= a[i].last && a[i].first <= a[j].last && a[j].size > 0)
				tmp[m++] = &a[j];
		qsort(tmp, (size_t)m, sizeof *tmp, cmp_off);
		int64_t cur = 0, pick = -1, gap = INT64_MAX;
		for (int j = 0; j < m; j++) {
			int64_t end;
			if (tmp[j]->off >= cur && tmp[j]->off - cur >= a[i].size) {
				if (!best) {
					pick = cur;
					break;
				}
				if (tmp[j]->off - cur < gap) {
					gap = tmp[j]->off - cur;
					pick = cur;
				}
			}
			NN_ASSERT(ck_add(tmp[j]->off, tmp[j]->size, &end));
			end = align_up(end);
			if (end > cur)
				cur = end;
		}
		a[i].off = pick >= 0 ? pick : cur;
		int64_t end;
		NN_ASSERT(ck_add(a[i].off, a[i].size, &end));
		if (end > arena)
			arena = end;
	}
	return arena;
}

/* Bytes live at the busiest kernel: no placement of a[] does better. */
static int64_t peak(const Alloc *a, int n, int nk)
{
	int64_t *delta = xcalloc((size_t)nk + 2, sizeof *delta), live = 0, top = 0;
	for (int i = 0; i < n; i++) {
		delta[a[i].first] += a[i].size;
		delta[a[i].last + 1] -= a[i].size;
	}
	for (int k = 0; k < nk; k++) {
		live += delta[k];
		if (live > top)
			top = live;
	}
	free(delta);
	return top;
}

/* Finds offsets for a[0..n-1] into keep[] (in placement order); returns
 * the arena size. First every fixed order with both gap rules; then, from
 * the best of those, a refinement: move the first allocation that reaches
 * the top of the arena to the front of the order and pack again (keeping
 * any improvement), until the arena meets the peak, the top allocation
 * is already first, or the work budget (pack costs ~n^2) is spent. */
static int64_t search(const Alloc *a, int n, int nk, Alloc *keep)
{
	Alloc *cur = xmalloc((size_t)(n ? n : 1) * sizeof *cur);
	Alloc **tmp = xmalloc((size_t)(n ? n : 1) * sizeof *tmp);
	int64_t arena = -1, low = peak(a, n, nk);
	bool rule = false; /* gap rule of the best so far */
	for (int o = 0; o < ORD_COUNT; o++) {
		for (int best = 0; best < 2; best++) {
			memcpy(cur, a, (size_t)n * sizeof *a);
			for (int i = 0; i < n; i++)
				cur[i].key = order_key(&cur[i], (Order)o);
			qsort(cur, (size_t)n, sizeof *cur, cmp_alloc);
			int64_t size = pack(cur, n, best, tmp);
			if (arena < 0 || size < arena) {
				arena = size;
				rule = best;
				memcpy(keep, cur, (size_t)n * sizeof *cur);
			}
		}
	}
	int64_t pairs = (int64_t)n * n + 1;
	int rounds = REFINE_WORK / pairs < REFINE_MAX ? (int)(REFINE_WORK / pairs) : REFINE_MAX;
	memcpy(cur, keep, (size_t)n * sizeof *cur);
	int64_t size = arena;
	for (int r = 0; r < rounds && arena > low; r++) {
		int top = 0;
		while (top < n && cur[top].off + cur[top].size != size)
			top++;
		if (top == 0 || top == n)
			break;
		Alloc t = cur[top];
		memmove(cur + 1, cur, (size_t)top * sizeof *cur);
		cur[0] = t;
		size = pack(cur, n, rule, tmp);
		if (size < arena) {
			arena = size;
			memcpy(keep, cur, (size_t)n * sizeof *cur);
		}
	}
	free(cur);
	free(tmp);
	return arena < 0 ? 0 : arena;
}

void cg_plan(KernelList *kl)
{
	int n = kl->nbuf;
	int *first = xmalloc((size_t)(n ? n : 1) * sizeof *first);
	int *last = xmalloc((size_t)(n ? n : 1) * sizeof *last);
	intervals(kl, first, last);
	for (int b = 0; b < n; b++) {
		Buf *bf = &kl->buf[b];
		bf->first = first[b];
		bf->last = last[b];
		bf->inplace = -1;
		if (bf->kind == BUF_TEMP)
			bf->offset = 0;
	}
	find_inplace(kl);

	/* one allocation per chain root, spanning the whole chain */
	int *slot = xmalloc((size_t)(n ? n : 1) * sizeof *slot);
	Alloc *a = xmalloc((size_t)(n ? n : 1) * sizeof *a);
	int na = 0;
	int64_t unused = 0; /* largest temporary nothing touches */
	for (int b = 0; b < n; b++) {
		const Buf *bf = &kl->buf[b];
		slot[b] = -1;
		if (bf->kind != BUF_TEMP || bf->alias >= 0)
			continue; /* an alias lives in its parent's bytes */
		if (bf->first < 0) {
			if (bf->nbytes > unused)
				unused = bf->nbytes;
			continue;
		}
		if (bf->inplace < 0) {
			slot[b] = na;
			a[na++] = (Alloc){.buf = b, .size = bf->nbytes, .first = bf->first, .last = bf->last};
		}
	}
	for (int b = 0; b < n; b++) {
		if (kl->buf[b].kind != BUF_TEMP || kl->buf[b].inplace < 0 || kl->buf[b].alias >= 0)
			continue;
		Alloc *r = &a[slot[chain_root(kl, b)]];
		if (kl->buf[b].last > r->last)
			r->last = kl->buf[b].last;
	}

	Alloc *keep = xmalloc((size_t)(na ? na : 1) * sizeof *keep);
	int64_t arena = search(a, na, kl->nk, keep);
	for (int i = 0; i < na; i++)
		kl->buf[keep[i].buf].offset = keep[i].off;
	for (int b = 0; b < n; b++)
		if (kl->buf[b].kind == BUF_TEMP && kl->buf[b].inplace >= 0)
			kl->buf[b].offset = kl->buf[chain_root(kl, b)].offset;
		else if (kl->buf[b].alias >= 0)
			kl->buf[b].offset = 0; /* unused: the parent's base + alias_offset */
	/* an untouched temporary sits at 0; the arena still holds it so every
	 * temporary lies inside (backends assert it) */
	kl->arena_bytes = arena > unused ? arena : unused;
	free(keep);
	free(a);
	free(slot);
	free(first);
	free(last);
}

/* --- statistics and the checker ----------------------------------------------------- */

void cg_plan_stats(const KernelList *kl, PlanStats *st)
{
	int n = kl->nbuf;
	int *first = xmalloc((size_t)(n ? n : 1) * sizeof *first);
	int *last = xmalloc((size_t)(n ? n : 1) * sizeof *last);
	int64_t *delta = xcalloc((size_t)kl->nk + 2, sizeof *delta); /* live bytes change at each kernel */
	intervals(kl, first, last);
	st->naive = 0;
	for (int b = 0; b < n; b++) {
		const Buf *bf = &kl->buf[b];
		if (bf->kind != BUF_TEMP || bf->alias >= 0)
			continue; /* an alias is counted in its parent */
		NN_ASSERT(ck_add(st->naive, align_up(bf->nbytes), &st->naive));
		if (first[b] < 0)
			continue;
		delta[first[b]] += bf->nbytes;
		delta[last[b] + 1] -= bf->nbytes;
		/* an in-place pair shares its bytes at the kernel where they meet */
		int p = bf->inplace;
		if (p >= 0 && p < n && first[b] == last[p] && bf->offset == kl->buf[p].offset) {
			delta[first[b]] -= bf->nbytes < kl->buf[p].nbytes ? bf->nbytes : kl->buf[p].nbytes;
			delta[first[b] + 1] += bf->nbytes < kl->buf[p].nbytes ? bf->nbytes : kl->buf[p].nbytes;
		}
	}
	int64_t live = 0;
	st->lower_bound = 0;
	for (int i = 0; i < kl->nk; i++) {
		live += delta[i];
		if (live > st->lower_bound)
			st->lower_bound = live;
	}
	st->arena = kl->arena_bytes;
	free(delta);
	free(first);
	free(last);
}

static const char *buf_name(const KernelList *kl, int b)
{
	int v = kl->buf[b].value;
	if (kl->g && v >= 0 && v < kl->g->nval && kl->g->val[v].name)
		return kl->g->val[v].name;
	return v < 0 ? "scratch" : "";
}

/* End of b's bytes, saturated (a broken plan may hold any offset). */
static int64_t buf_end(const Buf *b)
{
	int64_t e;
	return ck_add(b->offset, b->nbytes, &e) ? e : INT64_MAX;
}

/* Whether b took a's bytes in place at the one kernel where both live. */
static bool handover(const KernelList *kl, const int *first, const int *last, int a, int b)
{
	const Buf *x = &kl->buf[a], *y = &kl->buf[b];
	return y->inplace == a && first[b] == last[a] && x->offset == y->offset &&
	       x->nbytes == y->nbytes && inplace_ok(kl, first[b], a);
}

typedef struct Live {
	int first; /* birth */
	int buf;
} Live;

static int cmp_live(const void *pa, const void *pb)
{
	const Live *a = pa, *b = pb;
	if (a->first != b->first)
		return a->first < b->first ? -1 : 1;
	return a->buf - b->buf;
}

/* Checks the aliases (Buf.alias): each a temporary lying inside a parent
 * that is a temporary, an output or training state (an update in place,
 * lower_train.c) and no alias itself, and the aliases of
 * one parent disjoint. The parent's interval covers every use of its
 * aliases (touch), so the overlap check below, run on parents, covers them.
 * Returns the errors found. */
static int check_alias(const KernelList *kl, Diag *d)
{
	int n = kl->nbuf, nerr = 0;
	for (int b = 0; b < n; b++) {
		const Buf *bf = &kl->buf[b];
		int p = bf->alias;
		if (p < 0)
			continue;
		int64_t end;
		if (p >= n || p == b || bf->kind != BUF_TEMP || kl->buf[p].alias >= 0 ||
		    (kl->buf[p].kind != BUF_TEMP && kl->buf[p].kind != BUF_OUTPUT &&
		     kl->buf[p].kind != BUF_STATE) || bf->alias_offset < 0 ||
		    !ck_add(bf->alias_offset, bf->nbytes, &end) || end > kl->buf[p].nbytes) {
			nerr++;
			diag(d, "plan: buffer %d (\"%s\") is not a temporary inside its parent %d at +%lld",
			     b, buf_name(kl, b), p, (long long)bf->alias_offset);
			continue;
		}
		for (int c = b + 1; c < n; c++) {
			const Buf *o = &kl->buf[c];
			if (o->alias != p || !bf->nbytes || !o->nbytes || bf->alias_offset >= o->alias_offset + o->nbytes ||
			    o->alias_offset >= end)
				continue;
			nerr++;
			diag(d, "plan: aliases %d (\"%s\") and %d (\"%s\") of buffer %d overlap", b, buf_name(kl, b),
			     c, buf_name(kl, c), p);
		}
	}
	return nerr;
}

int cg_plan_check(const KernelList *kl, Diag *d)
{
	int n = kl->nbuf, nerr = check_alias(kl, d);
	if (nerr)
		return -1;
	int *first = xmalloc((size_t)(n ? n : 1) * sizeof *first);
	int *last = xmalloc((size_t)(n ? n : 1) * sizeof *last);
	intervals(kl, first, last);
	Live *t = xmalloc((size_t)(n ? n : 1) * sizeof *t); /* used temporaries by birth */
	int nt = 0;
	for (int b = 0; b < n; b++) {
		const Buf *bf = &kl->buf[b];
		if (bf->kind != BUF_TEMP || bf->alias >= 0)
			continue; /* an alias is checked as part of its parent */
		if (bf->offset < 0 || bf->offset % PLAN_ALIGN || buf_end(bf) > kl->arena_bytes) {
			nerr++;
			diag(d, "plan: buffer %d (\"%s\") at %lld+%lld is not %d-aligned inside the arena (%lld bytes)",
			     b, buf_name(kl, b), (long long)bf->offset, (long long)bf->nbytes, PLAN_ALIGN,
			     (long long)kl->arena_bytes);
		}
		if (first[b] >= 0 && bf->nbytes > 0)
			t[nt++] = (Live){first[b], b};
	}
	qsort(t, (size_t)nt, sizeof *t, cmp_live);
	for (int i = 0; i < nt; i++) {
		/* later-born buffers meet t[i] only while born before it dies */
		for (int j = i + 1; j < nt && t[j].first <= last[t[i].buf]; j++) {
			int a = t[i].buf, b = t[j].buf;
			const Buf *x = &kl->buf[a], *y = &kl->buf[b];
			if (x->offset >= buf_end(y) || y->offset >= buf_end(x))
				continue;
			if (handover(kl, first, last, a, b) || handover(kl, first, last, b, a))
				continue;
			int k = first[a] > first[b] ? first[a] : first[b];
			nerr++;
			diag(d, "plan: buffers %d (\"%s\", bytes %lld..%lld, live %d..%d) and %d (\"%s\", "
			     "bytes %lld..%lld, live %d..%d) overlap while both live at kernel %d",
			     a, buf_name(kl, a), (long long)x->offset, (long long)buf_end(x),
			     first[a], last[a], b, buf_name(kl, b), (long long)y->offset,
			     (long long)buf_end(y), first[b], last[b], k);
		}
	}
	free(t);
	free(first);
	free(last);
	return nerr ? -1 : 0;
}
