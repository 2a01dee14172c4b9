/* lower_train.c — lowering of training state: `assign(state, value)`
 * becomes a copy of value's buffer into the state's (BUF_STATE, the
 * session's writable copy), and cg_state_check proves the order every
 * training step relies on: a state buffer is written by exactly one
 * kernel, and no kernel reads it after that write (so every read sees the
 * value at step start). ps_optimizer puts the assign nodes after every
 * other node, so in the kernel list the copies come last.
 *
 * lw_state_inplace then removes the copies it can: when the loop kernel P
 * that computes the new value reads the state only at the element it
 * stores (the update of one element reads that element first), and no
 * kernel after P reads the state's old value (or P can move after the
 * last that does: move_after), the value's temporary
 * becomes an alias of the state's bytes (Buf.alias): P stores straight
 * into the state, later readers of the new value read it there, and the
 * copy goes away. cg_state_check counts a write to such an alias as the
 * state's write; reading the alias afterwards reads the new value. A copy
 * that stays (its value made by a library call: a matmul's epilogue runs
 * after the call, in its output) moves up to right after the last kernel
 * that writes the value or reads the state's old value (early_copy), so
 * the temporary dies there, not at the step's end (ResNet-18's fully
 * connected layer's new momentum, 2 MB, held through the whole backward
 * pass). */
#include <stdlib.h>
#include <string.h>

#include "lower.h"

int lw_assign(Lower *L, int node)
{
	int dst = lw_inbuf(L, node, 0), src = lw_inbuf(L, node, 1);
	if (L->kl->buf[dst].kind != BUF_STATE)
		return lw_err(L, node, "assigns to %s, which is not training state", lw_in(L, node, 0)->name);
	if (src == dst)
		return 0; /* the state keeps its value */
	return lw_copy(L, node, src, dst, lw_in(L, node, 1));
}

/* Buffers kernel k reads, into rd (cleared first). */
static void kernel_reads(const KernelList *kl, const Kernel *k, bool *rd)
{
	for (int b = 0; b < kl->nbuf; b++)
		rd[b] = false;
	KxDag dag;
	cg_kx_dag(k, &dag); /* every distinct node once */
	for (int j = 0; j < dag.n; j++)
		if (dag.node[j].x->kind == KX_LOAD && dag.node[j].x->buf >= 0)
			rd[dag.node[j].x->buf] = true;
	cg_kx_dag_free(&dag);
	if (k->kind == KK_MATMUL) {
		rd[k->mm.a] = rd[k->mm.b] = true;
	} else if (k->kind == KK_CONV2D) {
		rd[k->conv.x] = rd[k->conv.wt] = true;
		if (k->conv.bias >= 0)
			rd[k->conv.bias] = true;
	}
}

/* The buffer kernel k writes (a library call's output, or the store). */
static int kernel_writes(const Kernel *k)
{
	if (k->kind == KK_MATMUL)
		return k->mm.c;
	if (k->kind == KK_CONV2D)
		return k->conv.y;
	return k->out;
}

/* Every load of buffer b in kernel k is at k's store index, unguarded. */
static bool loads_at_store(const Kernel *k, int b)
{
	KxDag dag;
	bool ok = true;
	cg_kx_dag(k, &dag);
	for (int j = 0; j < dag.n && ok; j++) {
		const Kx *x = dag.node[j].x;
		if (x->kind == KX_LOAD && x->buf == b)
			ok = x->nguard == 0 && memcmp(&x->idx, &k->out_idx, sizeof x->idx) == 0;
	}
	cg_kx_dag_free(&dag);
	return ok;
}

/* The buffer whose bytes b's are (b itself, or the one it aliases). */
static int bytes_of(const KernelList *kl, int b)
{
	return b >= 0 && kl->buf[b].alias >= 0 ? kl->buf[b].alias : b;
}

/* Moves kernel p (which writes T) to just after kernel r > p, where
 * nothing between reads T or writes what p reads: an input gradient
 * that reads the weight in place (lower_swap.c) may come after the
 * weight's update, which then waits for it instead of leaving its value
 * in a temporary to be copied into the state at the end. */
static bool move_after(KernelList *kl, int p, int r, int T, bool *rd)
{
	bool *prd = xmalloc((size_t)kl->nbuf * sizeof *prd);
	kernel_reads(kl, &kl->k[p], prd);
	for (int b = 0; b < kl->nbuf; b++) /* what p reads, by the bytes it reads */
		if (prd[b])
			prd[bytes_of(kl, b)] = true;
	bool ok = true;
	for (int i = p + 1; i <= r && ok; i++) {
		kernel_reads(kl, &kl->k[i], rd);
		int w = bytes_of(kl, kernel_writes(&kl->k[i]));
		ok = !rd[T] && (w < 0 || (!prd[w] && w != T));
	}
	free(prd);
	if (!ok)
		return false;
	Kernel k = kl->k[p];
	memmove(&kl->k[p], &kl->k[p + 1], (size_t)(r - p) * sizeof *kl->k);
	kl->k[r] = k;
	return true;
}

/* Whether kernel k copies a temporary *T into a state *S (an assign's
 * copy, lw_assign). */
static bool state_copy(const KernelList *kl, const Kernel *k, int *S, int *T)
{
	if (k->kind != KK_LOOP || k->out < 0 || kl->buf[k->out].kind != BUF_STATE || !k->body ||
	    k->body->kind != KX_LOAD || k->body->nguard || k->body->buf < 0 ||
	    kl->buf[k->body->buf].kind != BUF_TEMP)
		return false;
	*S = k->out, *T = k->body->buf;
	return true;
}

/* Kernel c copies temp T into state S: T becomes S's bytes, P (the writer
 * of T) updates S in place, c goes. */
static bool fold_copy(KernelList *kl, int c, bool *rd)
{
	int S, T, p = -1;
	if (!state_copy(kl, &kl->k[c], &S, &T))
		return false;
	if (kl->buf[T].alias >= 0 || kl->buf[T].nbytes != kl->buf[S].nbytes)
		return false;
	for (int b = 0; b < kl->nbuf; b++)
		if (kl->buf[b].alias == T)
			return false; /* T holds a concat's inputs: aliases do not nest */
	for (int i = 0; i < kl->nk; i++)
		if (i != c && kernel_writes(&kl->k[i]) == T) {
			if (p >= 0)
				return false; /* written twice */
			p = i;
		}
	if (p < 0 || p > c || kl->k[p].kind != KK_LOOP || kl->k[p].out != T ||
	    !loads_at_store(&kl->k[p], S))
		return false;
	int r = -1; /* the last kernel after P that reads S's old value */
	for (int i = p + 1; i < kl->nk; i++) {
		if (i == c)
			continue;
		kernel_reads(kl, &kl->k[i], rd);
		if (kernel_writes(&kl->k[i]) == S)
			return false;
		if (rd[S])
			r = i;
	}
	if (r > c || (r >= 0 && !move_after(kl, p, r, T, rd)))
		return false;
	kl->buf[T].alias = S; /* the new value lives in the state's bytes */
	kl->buf[T].alias_offset = 0;
	memmove(&kl->k[c], &kl->k[c + 1], (size_t)(kl->nk - c - 1) * sizeof *kl->k);
	kl->nk--;
	return true;
}

/* Copy kernel c (temp T into state S, kept by fold_copy) moved up to
 * right after the last kernel before it that writes T, or reads or
 * writes S: every read of S's old value still comes first, T is
 * complete, and T's last reader may now be earlier. */
static void early_copy(KernelList *kl, int c, bool *rd)
{
	int S, T, at = -1;
	if (!state_copy(kl, &kl->k[c], &S, &T))
		return;
	for (int i = 0; i < c; i++) {
		kernel_reads(kl, &kl->k[i], rd);
		int w = bytes_of(kl, kernel_writes(&kl->k[i]));
		if (rd[S] || w == S || w == T || w == bytes_of(kl, T))
			at = i;
	}
	if (at < 0 || at + 1 >= c)
		return;
	Kernel m = kl->k[c];
	memmove(&kl->k[at + 2], &kl->k[at + 1], (size_t)(c - at - 1) * sizeof *kl->k);
	kl->k[at + 1] = m;
}

void lw_state_inplace(KernelList *kl)
{
	bool *rd = xmalloc((size_t)(kl->nbuf ? kl->nbuf : 1) * sizeof *rd);
	for (int c = kl->nk - 1; c >= 0; c--)
		fold_copy(kl, c, rd);
	for (int c = 0; c < kl->nk; c++)
		early_copy(kl, c, rd);
	free(rd);
}

int cg_state_check(const KernelList *kl, Diag *d)
{
	int *wrote = xmalloc((size_t)(kl->nbuf ? kl->nbuf : 1) * sizeof *wrote);
	bool *rd = xmalloc((size_t)(kl->nbuf ? kl->nbuf : 1) * sizeof *rd);
	int rc = 0;
	for (int b = 0; b < kl->nbuf; b++)
		wrote[b] = -1;
	for (int i = 0; i < kl->nk && rc == 0; i++) {
		const Kernel *k = &kl->k[i];
		kernel_reads(kl, k, rd);
		for (int b = 0; b < kl->nbuf && rc == 0; b++)
			if (rd[b] && wrote[b] >= 0)
				rc = diag(d, "internal error: kernel %d \"%s\" reads training state %d after "
					"kernel %d wrote it", i, k->name, b, wrote[b]);
		int w = kernel_writes(k);
		if (w >= 0 && kl->buf[w].alias >= 0 && kl->buf[kl->buf[w].alias].kind == BUF_STATE)
			w = kl->buf[w].alias; /* an update in place (lw_state_inplace) */
		if (rc == 0 && w >= 0 && kl->buf[w].kind == BUF_STATE) {
			if (wrote[w] >= 0)
				rc = diag(d, "internal error: training state %d written by kernels %d and %d",
					w, wrote[w], i);
			wrote[w] = i;
		}
	}
	free(wrote);
	free(rd);
	return rc;
}

/* buffer_update reaches lowering only in a graph no --train turned into a
 * training step (and --passes without dce): the statistic stays constant. */
int lw_buffer_update(Lower *L, int node)
{
	(void)L;
	(void)node;
	return 0;
}
