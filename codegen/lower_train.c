/* lower_train.c — lowering of training state: `assign(state, value)`
 * becomes a copy of value's buffer into the state's (BUF_STATE, the
 * session's writable copy), and cg_state_check proves the order every
 * training step relies on: a state buffer is written by exactly one
 * kernel, and no kernel reads it after that write (so every read sees the
 * value at step start). ps_optimizer puts the assign nodes after every
 * other node, so in the kernel list the copies come last. */
#include <stdlib.h>

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
