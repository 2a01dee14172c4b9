/* fuse_clone.c — before fusion: a cheap pointwise value read by several
 * loops gets a copy of its node for each reader, so each inlines it
 * instead of reading a buffer written for them all.
 *
 * The node qualifies when it is a binary elementwise op of one full-size
 * operand and one at least FC_SMALL times smaller (a per-channel value),
 * its output has FC_MIN_NUMEL elements or more, is no graph output, and
 * every reader is elementwise or a reduction reading it as its data: all
 * of them would inline a sole producer. Recomputing it then costs its
 * readers one load of the full operand each, which is what reading the
 * value costs, and one operation; the value's own kernel, its store and
 * its buffer go. A training step's batch norm is the case: `d = x - mean`
 * (read by the variance's reduction and by `d * rstd`) and `xhat = d *
 * rstd` (read by the affine and ReLU, by the two reductions of the
 * gradient and by its input adjoint, and by a recomputed ReLU) were each
 * written by a kernel of their own; their readers now read x, the
 * convolution's output, which the step then keeps instead of xhat (the
 * same size). Readers are visited last first, so a chain copies whole:
 * `xhat`'s copies each read a copy of `d`. Every copy computes what the
 * value held, bit for bit. Not under --max-memory (TrainOptions
 * keep_shared): the copies' readers keep the full-size operand (a
 * convolution's output) to the backward pass where they read the shared
 * value, which the budget's recomputation can work on (ResNet-18's
 * smallest plan: 97.4 MB shared, 133.0 MB copied). */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

enum {
	FC_MIN_NUMEL = 4096, /* smaller values keep their kernel */
	FC_SMALL = 16,       /* the other operand this many times smaller at least */
};

/* Whether reader r would inline v: elementwise, or a reduction of it. */
static bool takes_inline(const Node *r, int v)
{
	if (r->dead || r->nout != 1)
		return false;
	if (ir_ops[r->op].flags & OPF_ELEMWISE)
		return true;
	if (r->op != OP_REDUCE_SUM && r->op != OP_REDUCE_MEAN && r->op != OP_REDUCE_MAX)
		return false;
	for (int k = 1; k < r->nin; k++) /* its data, not its axes */
		if (r->in[k] == v)
			return false;
	return true;
}

/* Whether node n qualifies (see the file comment); its readers into rd. */
static int readers_if_cheap(const Graph *g, const Node *n, int *rd)
{
	if (n->dead || n->nout != 1 || n->nin != 2 || !(ir_ops[n->op].flags & OPF_ELEMWISE))
		return 0;
	const Value *y = &g->val[n->out[0]];
	if (!ir_shape_static(&y->shape) || !ir_dtype_is_float(y->dtype) || y->state)
		return 0;
	int64_t numel = ir_shape_numel(&y->shape), full = 0;
	if (numel < FC_MIN_NUMEL)
		return 0;
	for (int k = 0; k < 2; k++) {
		if (n->in[k] < 0 || !ir_shape_static(&g->val[n->in[k]].shape))
			return 0;
		const Shape *s = &g->val[n->in[k]].shape;
		int64_t e = ir_shape_numel(s);
		if (e == numel)
			full++;
		else if (e * FC_SMALL > numel)
			return 0;
	}
	if (full != 1)
		return 0;
	for (int i = 0; i < g->noutput; i++)
		if (g->output[i] == n->out[0])
			return 0;
	int nr = 0;
	for (int i = 0; i < g->nnode; i++) {
		const Node *r = &g->node[i];
		bool reads = false;
		for (int k = 0; k < r->nin && !r->dead; k++)
			reads = reads || r->in[k] == n->out[0];
		if (!reads)
			continue;
		if (!takes_inline(r, n->out[0]))
			return 0;
		rd[nr++] = i;
	}
	return nr;
}

void ps_fuse_clone(Graph *g)
{
	int n0 = g->nnode;
	int *rd = xmalloc(((size_t)g->nnode + 1) * sizeof *rd);
	for (int i = n0 - 1; i >= 0; i--) {
		int nr = readers_if_cheap(g, &g->node[i], rd);
		for (int j = 1; j < nr; j++) { /* the first reader keeps the original */
			const Node *o = &g->node[i];
			int in[2] = {o->in[0], o->in[1]}, v = o->out[0];
			const char *name = ir_unique_name(g, g->val[v].name);
			int c = ir_add_node(g, o->op, o->name, in, 2, 1, &name);
			Node *cn = &g->node[c], *on = &g->node[i]; /* after ir_add_node's realloc */
			cn->nattr = on->nattr;
			cn->attr = on->attr; /* attributes are never modified in place */
			g->val[cn->out[0]].shape = g->val[v].shape;
			g->val[cn->out[0]].dtype = g->val[v].dtype;
			Node *r = &g->node[rd[j]];
			for (int k = 0; k < r->nin; k++)
				if (r->in[k] == v)
					r->in[k] = cn->out[0];
			rd = xrealloc(rd, ((size_t)g->nnode + 1) * sizeof *rd);
		}
	}
	free(rd);
	if (g->nnode > n0)
		ir_toposort(g); /* each copy right before its reader, the rest in order */
}
