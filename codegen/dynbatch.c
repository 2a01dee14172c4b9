/* dynbatch.c — the kernels of a dynamic-batch model (docs/dynamic-batch.md).
 *
 * Sizes are planned for the maximum batch; a batch value (Graph.batch)
 * keeps the max layout, row b at b * row elements, row = its numel /
 * batch_max, so the first n rows of any batch value are its layout at
 * batch n. The passes proved that row b of a batch value depends only on
 * row b of the inputs (passes/dynbatch.c); this file proves the lowering
 * kept that shape: every kernel that writes a batch buffer walks its rows
 * with var 0 (extent batch_max times q, q steps a row, each of row / q
 * elements) and reads a batch buffer only within the step var 0 is at. Then running var 0 over the
 * first batch rows (Kernel.batch_var0) computes the model at that batch.
 * A library call takes its M, batch extent or image count from the run's
 * batch (Kernel.batch_call). Anything else is refused, naming the kernel. */
#include "codegen.h"

/* Whether buffer b holds a batch value. */
static bool is_batch(const KernelList *kl, int b)
{
	const Graph *g = kl->g;
	if (b < 0 || b >= kl->nbuf)
		return false;
	const Buf *bf = &kl->buf[b];
	int v = bf->value;
	if (bf->kind == BUF_INPUT)
		v = g->input[bf->index];
	else if (bf->kind == BUF_OUTPUT)
		v = g->output[bf->index];
	return v >= 0 && v < g->nval && g->batch[v];
}

/* Elements per batch row of buffer b. */
static int64_t row(const KernelList *kl, int b)
{
	return kl->buf[b].numel / kl->batch_max;
}

/* a walks the rows of a batch buffer of `r` elements a row with var 0,
 * whose extent is batch_max * q (q steps a row): its var-0 step is r / q
 * and, over the other vars' ranges, the rest stays inside that step
 * (unless guarded: a failing guard skips the load). */
static bool walks_rows(const KernelList *kl, const Kernel *k, const Aff *a, int64_t r, bool guarded)
{
	if (k->nvar < 1 || k->extent[0] < kl->batch_max || k->extent[0] % kl->batch_max != 0)
		return false;
	int64_t q = k->extent[0] / kl->batch_max;
	if (r % q != 0 || a->k[0] != r / q)
		return false;
	if (guarded)
		return true;
	int64_t lo = a->c, hi = a->c;
	for (int v = 1; v < k->nvar; v++) {
		if (k->extent[v] <= 0)
			return true; /* an empty loop reads nothing */
		int64_t s = a->k[v] * (k->extent[v] - 1); /* inside the buffer: cannot overflow */
		if (s < 0)
			lo += s;
		else
			hi += s;
	}
	return lo >= 0 && hi < r / q;
}

/* Every load of a batch buffer in k's body walks the rows; false naming it. */
static bool loads_ok(const KernelList *kl, const Kernel *k, bool out_batch, const char **why)
{
	KxDag d;
	cg_kx_dag(k, &d);
	bool ok = true;
	for (int i = 0; i < d.n && ok; i++) {
		const Kx *x = d.node[i].x;
		if (x->kind != KX_LOAD || !is_batch(kl, x->buf))
			continue;
		if (!out_batch) {
			*why = "reads batch rows into a value without the batch";
			ok = false;
		} else if (x->a) {
			*why = "indexes a batch value at run time";
			ok = false;
		} else if (!walks_rows(kl, k, &x->idx, row(kl, x->buf), x->nguard > 0)) {
			*why = "reads across batch rows";
			ok = false;
		}
	}
	cg_kx_dag_free(&d);
	return ok;
}

/* A loop nest or a call's epilogue writing buffer out (batch or not). */
static bool loop_ok(const KernelList *kl, Kernel *k, int out, const char **why)
{
	bool ob = is_batch(kl, out);
	if (ob) {
		if (k->out_dyn) {
			*why = "stores at run-time indices into a batch value";
			return false;
		}
		if (k->nout_var < 1 || !walks_rows(kl, k, &k->out_idx, row(kl, out), false)) {
			*why = "does not walk the batch rows with its outer loop";
			return false;
		}
	}
	if (k->body && !loads_ok(kl, k, ob, why))
		return false;
	k->batch_var0 = ob && k->body;
	return true;
}

/* Every batch extent of a matmul is 1 (or there is none). */
static bool bext_one(const Kernel *k)
{
	for (int i = 0; i < k->mm.nbatch; i++)
		if (k->mm.bext[i] != 1)
			return false;
	return true;
}

static bool matmul_ok(const KernelList *kl, Kernel *k, const char **why)
{
	bool a = is_batch(kl, k->mm.a), b = is_batch(kl, k->mm.b), c = is_batch(kl, k->mm.c);
	int64_t max = kl->batch_max;
	*why = "multiplies across batch rows";
	if (!c)
		return !a && !b;
	if (k->mm.nbatch >= 1 && k->mm.bext[0] == max && k->mm.sc[0] == row(kl, k->mm.c) &&
	    k->mm.sa[0] == (a ? row(kl, k->mm.a) : 0) && k->mm.sb[0] == (b ? row(kl, k->mm.b) : 0))
		k->batch_call = KB_CALL_BEXT;
	else if (a && !b && !k->mm.trans_a && k->mm.m % max == 0 && row(kl, k->mm.c) == k->mm.m / max * k->mm.n &&
		 row(kl, k->mm.a) == k->mm.m / max * k->mm.k && bext_one(k))
		k->batch_call = KB_CALL_M;
	else
		return false;
	return true;
}

static bool conv_ok(const KernelList *kl, Kernel *k, const char **why)
{
	bool x = is_batch(kl, k->conv.x), y = is_batch(kl, k->conv.y);
	*why = "convolves across batch rows";
	if (is_batch(kl, k->conv.wt) || is_batch(kl, k->conv.bias) || x != y)
		return false;
	if (!y)
		return true;
	if (k->conv.n != kl->batch_max)
		return false;
	k->batch_call = KB_CALL_N;
	return true;
}

int cg_batch_check(KernelList *kl, Diag *d)
{
	kl->batch_max = kl->g->batch_max;
	for (int i = 0; i < kl->nbuf; i++)
		if (is_batch(kl, i) && (kl->buf[i].alias >= 0 || kl->buf[i].numel % kl->batch_max != 0))
			return diag(d, "dynamic batch: value %s is stored inside another buffer; compile with fixed shapes",
				    kl->buf[i].value >= 0 ? kl->g->val[kl->buf[i].value].name : "?");
	for (int i = 0; i < kl->nk; i++) {
		Kernel *k = &kl->k[i];
		const char *why = NULL;
		bool ok = true;
		switch (k->kind) {
		case KK_LOOP:
			ok = loop_ok(kl, k, k->out, &why);
			break;
		case KK_MATMUL:
			ok = matmul_ok(kl, k, &why) && (!k->body || loop_ok(kl, k, k->mm.c, &why));
			break;
		case KK_CONV2D:
			ok = conv_ok(kl, k, &why) && (!k->body || loop_ok(kl, k, k->conv.y, &why));
			break;
		}
		if (!ok)
			return diag(d, "dynamic batch: node %s: its kernel %s", k->name, why);
	}
	return 0;
}
