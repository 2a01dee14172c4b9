/* lower_swap.c — the layout copies around a training step's gradient
 * convolutions folded into the calls (Kernel.conv.swap, runtime/abi.h
 * NNCC_CONV_SWAP_*).
 *
 * autodiff writes a weight gradient as a convolution of transposed
 * operands (passes/grad_conv.c conv_wgrad): x [N, C, H, W] as [C, N, H,
 * W], the output adjoint [N, K, OH, OW] as [K, N, OH, OW], and the result
 * [C, K, kh, kw] transposed back to the weight's [K, C, kh, kw]; an input
 * gradient as a convolution by the weight transposed to [C, K, kh, kw]
 * and its taps reversed (a gather). Each transpose swaps the two leading
 * axes of whole planes, and the flip stays inside them; a call that reads
 * (or writes) each plane where it lies, taps in either order, needs no
 * copy. Before any node is lowered, lw_plan_swaps finds every such
 * transpose, between the convolution and it only views (reshapes), a
 * flip, and no other reader, and marks it (and the flip) absorbed: its
 * output shares its input's buffer like a view's, and the convolution's
 * flags say how its operands lie. Only where the runtime's fast paths
 * read those layouts in place (abi.h nncc_abi_conv_swaps) and the batch
 * is static: elsewhere the copies stay kernels of their own. */
#include <string.h>

#include "lower.h"
#include "../runtime/abi.h"

/* The one live node reading v (once), or -1: none, several, or v is a
 * graph output. */
static int sole_reader(const Lower *L, int v)
{
	const Graph *g = L->g;
	for (int i = 0; i < g->noutput; i++)
		if (g->output[i] == v)
			return -1;
	int r = -1;
	for (int i = 0; i < g->nnode; i++) {
		if (!L->nlive[i])
			continue;
		for (int k = 0; k < g->node[i].nin; k++)
			if (g->node[i].in[k] == v) {
				if (r >= 0)
					return -1;
				r = i;
			}
	}
	return r;
}

typedef struct Dims {
	int n;
	int64_t size[IR_MAX_RANK], stride[IR_MAX_RANK];
} Dims;

/* Dims without its axes of size 1, neighbours whose strides chain merged. */
static void normalize(Dims *d)
{
	int m = 0;
	for (int i = 0; i < d->n; i++) {
		if (d->size[i] == 1)
			continue;
		if (m > 0 && d->stride[m - 1] == d->stride[i] * d->size[i]) {
			d->size[m - 1] *= d->size[i];
			d->stride[m - 1] = d->stride[i];
			continue;
		}
		d->size[m] = d->size[i], d->stride[m] = d->stride[i];
		m++;
	}
	d->n = m;
}

/* Whether transpose t moves the planes of a 4-D operand [a, b, p1, p2]
 * (flat order the transpose's output order, side 0, or its input order,
 * side 1) so that element [i][j] of it lies at plane j * a + i. */
static bool swaps_planes(const Graph *g, const Node *t, int side, const Shape *op)
{
	const Shape *si = &g->val[t->in[0]].shape;
	const int64_t *perm;
	int r = si->rank;
	if (ir_attr_ints(t, "perm", &perm) != r || r > IR_MAX_RANK)
		return false;
	int64_t ist[IR_MAX_RANK], ost[IR_MAX_RANK], osz[IR_MAX_RANK];
	lw_strides(si, ist);
	for (int k = 0; k < r; k++)
		osz[k] = si->d[perm[k]].n;
	ost[r - 1] = 1;
	for (int k = r - 1; k > 0; k--)
		ost[k - 1] = ost[k] * osz[k];
	Dims have = {.n = r};
	for (int k = 0; k < r; k++) {
		if (side == 0) /* output axis k: its elements' place in the input */
			have.size[k] = osz[k], have.stride[k] = ist[perm[k]];
		else /* input axis perm[k] (in input order): its place in the output */
			have.size[perm[k]] = osz[k], have.stride[perm[k]] = ost[k];
	}
	int64_t a = op->d[0].n, b = op->d[1].n, p = op->d[2].n * op->d[3].n;
	Dims want = {.n = 3, .size = {a, b, p}, .stride = {p, a * p, 1}};
	normalize(&have);
	normalize(&want);
	return a > 1 && b > 1 && have.n == want.n &&
	       !memcmp(have.size, want.size, (size_t)want.n * sizeof(int64_t)) &&
	       !memcmp(have.stride, want.stride, (size_t)want.n * sizeof(int64_t));
}

/* Whether gather node n reverses the last axis of its data, of taps
 * entries (autodiff's flip of a weight's kh x kw taps for an input
 * gradient: indices taps - 1, ..., 0, a constant). */
static bool flips(const Graph *g, const Node *n, int64_t taps)
{
	const Shape *d = &g->val[n->in[0]].shape;
	const Value *ix = &g->val[n->in[1]];
	int64_t axis = ir_attr_int(n, "axis", 0);
	if (n->group != 0 || d->rank < 1 || (axis != d->rank - 1 && axis != -1) || d->d[d->rank - 1].n != taps ||
	    ix->kind != VK_CONST || !ix->data || ix->shape.rank != 1 || ix->shape.d[0].n != taps ||
	    (ix->dtype != DT_I64 && ix->dtype != DT_I32))
		return false;
	for (int64_t i = 0; i < taps; i++) {
		int64_t v = ix->dtype == DT_I64 ? ((const int64_t *)ix->data)[i] : ((const int32_t *)ix->data)[i];
		if (v != taps - 1 - i)
			return false;
	}
	return true;
}

/* The transpose that conv operand v (value of shape op) reads through
 * views only (and with flip non-NULL one flip of its taps, *flip set),
 * each the sole reader of the one before, swapping planes; -1 if none. */
static int operand_swap(const Lower *L, int conv, int v, const Shape *op, bool *flip)
{
	const Graph *g = L->g;
	int reader = conv;
	for (;;) {
		if (g->val[v].kind != VK_NODE || sole_reader(L, v) != reader)
			return -1;
		int d = g->val[v].def;
		const Node *n = &g->node[d];
		if ((ir_ops[n->op].flags & OPF_VIEW) && n->group == 0 && n->nin >= 1) {
			reader = d;
			v = n->in[0];
			continue;
		}
		if (flip && !*flip && n->op == OP_GATHER && flips(g, n, op->d[2].n * op->d[3].n)) {
			*flip = true;
			reader = d;
			v = n->in[0];
			continue;
		}
		return n->op == OP_TRANSPOSE && n->group == 0 && swaps_planes(g, n, 0, op) ? d : -1;
	}
}

/* Marks the nodes between conv operand v and its transpose t absorbed:
 * the views (lowered as views anyway) and a flip. */
static void absorb_chain(Lower *L, int v, int t)
{
	const Graph *g = L->g;
	for (int d = g->val[v].def; d != t; d = g->val[g->node[d].in[0]].def)
		if (g->node[d].op == OP_GATHER)
			L->absorbed[d] = true;
	L->absorbed[t] = true;
}

/* The transpose that reads the conv's output through views only, each the
 * sole reader of the one before, swapping planes; -1 if none. */
static int result_swap(const Lower *L, int conv, const Shape *op)
{
	const Graph *g = L->g;
	int v = g->node[conv].out[0];
	for (;;) {
		int r = sole_reader(L, v);
		if (r < 0 || g->node[r].group != 0)
			return -1;
		const Node *n = &g->node[r];
		if ((ir_ops[n->op].flags & OPF_VIEW) && n->in[0] == v) {
			v = n->out[0];
			continue;
		}
		return n->op == OP_TRANSPOSE && swaps_planes(g, n, 1, op) ? r : -1;
	}
}

static int64_t attr2(const Node *n, const char *name, int i)
{
	const int64_t *v;
	return ir_attr_ints(n, name, &v) == 2 ? v[i] : 1;
}

/* The flags conv node i may take: what the runtime reads in place for its
 * geometry (2-D, f32, group 1). */
static int may_swap(const Lower *L, int i)
{
	const Node *n = &L->g->node[i];
	const Shape *x = &L->g->val[n->in[0]].shape, *w = &L->g->val[n->in[1]].shape;
	const Value *y = &L->g->val[n->out[0]];
	const Value *wv = &L->g->val[n->in[1]];
	if (n->op != OP_CONV || x->rank != 4 || w->rank != 4 || y->shape.rank != 4 || y->dtype != DT_F32 ||
	    ir_attr_int(n, "group", 1) != 1 || (wv->kind == VK_CONST && wv->data && !wv->state))
		return 0;
	return nncc_abi_conv_swaps(x->d[0].n, x->d[1].n, x->d[2].n, x->d[3].n, w->d[0].n, y->shape.d[2].n,
				   y->shape.d[3].n, w->d[2].n, w->d[3].n, attr2(n, "strides", 0),
				   attr2(n, "strides", 1), attr2(n, "dilations", 0), attr2(n, "dilations", 1), 1);
}

int lw_plan_swaps(Lower *L)
{
	const Graph *g = L->g;
	L->swap = xcalloc((size_t)g->nnode + 1, sizeof *L->swap);
	L->absorbed = xcalloc((size_t)g->nnode + 1, sizeof *L->absorbed);
	if (g->batch_max > 0) /* a dynamic batch: the kernels keep its rows apart (cg_batch_check) */
		return 0;
	for (int i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		int may = L->nlive[i] ? may_swap(L, i) : 0;
		if (!may)
			continue;
		int t;
		bool flip = false;
		if ((may & NNCC_CONV_SWAP_X) && (t = operand_swap(L, i, n->in[0], &g->val[n->in[0]].shape, NULL)) >= 0)
			L->swap[i] |= NNCC_CONV_SWAP_X, absorb_chain(L, n->in[0], t);
		if ((may & NNCC_CONV_SWAP_W) &&
		    (t = operand_swap(L, i, n->in[1], &g->val[n->in[1]].shape,
				      may & NNCC_CONV_FLIP_W ? &flip : NULL)) >= 0)
			L->swap[i] |= NNCC_CONV_SWAP_W | (flip ? NNCC_CONV_FLIP_W : 0), absorb_chain(L, n->in[1], t);
		if ((may & NNCC_CONV_SWAP_Y) && n->group == 0 &&
		    (t = result_swap(L, i, &g->val[n->out[0]].shape)) >= 0) {
			/* the conv writes the transpose's buffer; the views between share it */
			int to = g->node[t].out[0];
			if (L->vbuf[to] < 0 &&
			    (L->vbuf[to] = lw_temp(L, g->val[to].dtype, ir_shape_numel(&g->val[to].shape), to)) < 0)
				return lw_err(L, t, "size overflows");
			L->vbuf[n->out[0]] = L->vbuf[to];
			L->swap[i] |= NNCC_CONV_SWAP_Y, L->absorbed[t] = true;
		}
	}
	return 0;
}
