/* lower_fuse.c — values at coordinates, and fusion groups (lower.h).
 *
 * Every op lowers its result at given output coordinates: lw_value_at()
 * gives an operand as a load from its buffer or, when a node of the fusion
 * group being lowered produces it, as that node's expression at the same
 * coordinates, so inlined values never get a buffer. Broadcasting maps a
 * reader's coordinates to its operand's (extent-1 dims read 0). A memo
 * makes the same value at the same coordinates one Kx node (x in
 * x*sigmoid(x), softmax's max read by the sum and the output); entries made
 * inside a KX_REDUCE body stay private to it, so no node that walks
 * reduction vars is shared by two reductions, except an inlined reduction's
 * own value, which walks none (layer norm's mean, read inside the
 * variance's body and by the output, is one node).
 *
 * A group (ps_fuse, Node.group) lowers at its root, its last live member,
 * into one kernel: the root op's own loop with the producers inlined
 * (lower.c dispatches it like a single node), or, when the group holds a
 * library call, the call with the root's expression as its in-place
 * epilogue, the call's result read back from the output buffer.
 * lw_check_groups() rejects groups that cannot be lowered so: a stale or
 * hand-made group is an error naming the node, never a wrong kernel. */
#include <stdlib.h>
#include <string.h>

#include "lower.h"

struct Memo {
	int value;              /* graph value */
	int scope;              /* Lower.scope it was built in (0: shared by all) */
	Aff coord[IR_MAX_RANK]; /* its coordinates, one per dim */
	Kx *x;                  /* the node standing for value at coord */
};

/* --- coordinates ------------------------------------------------------------- */

void lw_out_coord(int rank, Aff *coord)
{
	memset(coord, 0, (size_t)IR_MAX_RANK * sizeof *coord);
	for (int i = 0; i < rank; i++)
		coord[i].k[i] = 1;
}

void lw_bcast_coord(const Shape *in, int rank_out, const Aff *coord, Aff *in_coord)
{
	int off = rank_out - in->rank;
	NN_ASSERT(off >= 0);
	memset(in_coord, 0, (size_t)IR_MAX_RANK * sizeof *in_coord);
	for (int j = 0; j < in->rank; j++)
		if (in->d[j].n != 1)
			in_coord[j] = coord[off + j];
}

Aff lw_linear(Lower *L, const Shape *s, const Aff *coord)
{
	Aff a;
	memset(&a, 0, sizeof a);
	int64_t st[IR_MAX_RANK];
	lw_strides(s, st);
	for (int d = 0; d < s->rank; d++) {
		if (s->d[d].n == 1)
			continue; /* the coordinate is always 0 */
		a.c = lw_add(L, a.c, lw_mul(L, st[d], coord[d].c));
		for (int v = 0; v < KV_MAX; v++)
			if (coord[d].k[v])
				a.k[v] = lw_add(L, a.k[v], lw_mul(L, st[d], coord[d].k[v]));
	}
	return a;
}

/* --- values at coordinates ---------------------------------------------------- */

/* Whether matmul/conv node i lowers to a library call (lower_nn.c). */
static bool is_call(const Graph *g, int i)
{
	const Node *n = &g->node[i];
	if (n->op == OP_CONV || n->op == OP_CONV_TRANSPOSE)
		return true;
	if (n->op != OP_MATMUL || g->val[n->out[0]].dtype != DT_F32)
		return false;
	int ra = g->val[n->in[0]].shape.rank, rb = g->val[n->in[1]].shape.rank;
	return ra >= 1 && rb >= 1 && (ra > rb ? ra : rb) - 2 <= 4;
}

static bool is_reduce(const Node *n)
{
	return n->op == OP_REDUCE_SUM || n->op == OP_REDUCE_MEAN || n->op == OP_REDUCE_MAX;
}

/* Indexing ops inlined at their reader's coordinates (lower_idx.c). */
static bool is_move(const Node *n)
{
	switch (n->op) {
	case OP_SLICE: case OP_EXPAND: case OP_TRILU: case OP_GATHER: case OP_GATHER_ELEMENTS:
	case OP_GATHER_ND: case OP_TRANSPOSE: case OP_PAD:
	case OP_RANDOM_UNIFORM: /* rng: lower_rng.c */
		return true;
	default:
		return false;
	}
}

bool lw_inlined(Lower *L, int v)
{
	const Value *x = &L->g->val[v];
	return L->group > 0 && x->kind == VK_NODE && L->nlive[x->def] && L->g->node[x->def].group == L->group;
}

void lw_memo_reset(Lower *L)
{
	L->nmemo = 0;
	L->scope = 0;
}

int lw_scope_begin(Lower *L)
{
	int prev = L->scope;
	L->scope = ++L->nscope;
	return prev;
}

void lw_scope_end(Lower *L, int prev)
{
	L->scope = prev;
}

Kx *lw_value_at(Lower *L, int v, const Aff *coord)
{
	const Value *x = &L->g->val[v];
	size_t csz = (size_t)x->shape.rank * sizeof *coord;
	for (int i = 0; i < L->nmemo; i++) {
		const Memo *m = &L->memo[i];
		if (m->value == v && (m->scope == 0 || m->scope == L->scope) && memcmp(m->coord, coord, csz) == 0)
			return m->x;
	}
	Kx *e;
	if (lw_inlined(L, v) && x->def != L->call) {
		const Node *n = &L->g->node[x->def];
		/* lw_check_groups admits only pointwise, reduction and indexing non-root members */
		e = n->op == OP_BATCHNORM ? lw_bn_at(L, x->def, coord)
		    : is_reduce(n)        ? lw_red_at(L, x->def, coord)
		    : n->op == OP_RANDOM_UNIFORM ? lw_random_at(L, x->def, coord)
		    : is_move(n)          ? lw_idx_at(L, x->def, coord)
		                          : lw_ew_at(L, x->def, coord);
		if (!e)
			return NULL;
	} else {
		int b = lw_inlined(L, v) ? L->callbuf : L->vbuf[v];
		NN_ASSERT(b >= 0);
		e = kx_load(L, x->dtype, b, lw_linear(L, &x->shape, coord));
	}
	if (L->nmemo == L->capmemo) {
		L->capmemo = L->capmemo ? 2 * L->capmemo : 16;
		L->memo = xrealloc(L->memo, (size_t)L->capmemo * sizeof *L->memo);
	}
	Memo *m = &L->memo[L->nmemo++];
	memset(m, 0, sizeof *m);
	m->value = v;
	/* a reduction's value walks no reduction var outside its own body:
	 * shared by every reader (softmax's max, layer norm's mean) */
	m->scope = lw_inlined(L, v) && is_reduce(&L->g->node[x->def]) ? 0 : L->scope;
	memcpy(m->coord, coord, csz);
	m->x = e;
	return e;
}

void lw_free_fuse(Lower *L)
{
	free(L->memo);
	L->memo = NULL;
	L->nmemo = L->capmemo = 0;
}

/* --- groups ------------------------------------------------------------------------- */

int lw_call_group(Lower *L, int root, int call)
{
	const Graph *g = L->g;
	L->call = call;
	L->callbuf = lw_outbuf(L, root);
	L->vbuf[g->node[call].out[0]] = L->callbuf; /* the call writes the root's buffer */
	int k0 = L->kl->nk;
	Op cop = g->node[call].op;
	if ((cop == OP_CONV ? lw_conv(L, call) : cop == OP_CONV_TRANSPOSE ? lw_conv_transpose(L, call) :
	     lw_matmul(L, call)) < 0)
		return -1;
	if (L->kl->nk != k0 + 1 || L->kl->k[k0].kind == KK_LOOP)
		return lw_err(L, call, "internal error: a fused call did not lower to one library call");
	if (root == call)
		return 0;
	const Shape *ys = &lw_out(L, root)->shape;
	Aff coord[IR_MAX_RANK];
	lw_out_coord(ys->rank, coord);
	Kx *body = lw_value_at(L, g->node[root].out[0], coord);
	if (!body)
		return -1;
	Kernel *k = &L->kl->k[k0];
	k->nvar = k->nout_var = ys->rank;
	for (int i = 0; i < ys->rank; i++)
		k->extent[i] = ys->d[i].n;
	k->out = L->callbuf;
	k->out_idx = lw_contig(ys, 0);
	k->body = body;
	return 0;
}

int lw_group_members(Lower *L, int root, int **mem)
{
	const Graph *g = L->g;
	int gid = g->node[root].group, n = 0;
	for (int i = 0; i <= root; i++)
		n += L->nlive[i] && g->node[i].group == gid;
	*mem = arena_alloc(&L->kl->arena, (size_t)n * sizeof **mem);
	n = 0;
	for (int i = 0; i <= root; i++)
		if (L->nlive[i] && g->node[i].group == gid)
			(*mem)[n++] = i;
	return n;
}

int lw_group_call(Lower *L, int root)
{
	const Graph *g = L->g;
	int gid = g->node[root].group;
	for (int i = 0; i <= root; i++)
		if (L->nlive[i] && g->node[i].group == gid && is_call(g, i))
			return i;
	return -1;
}

static bool pointwise(const Node *n)
{
	return (ir_ops[n->op].flags & OPF_ELEMWISE) || n->op == OP_BATCHNORM;
}

/* Ops that may be a loop group's root: they read their data input through
 * lw_value_at. */
static bool loop_root(const Node *n)
{
	switch (n->op) {
	case OP_REDUCE_SUM: case OP_REDUCE_MEAN: case OP_REDUCE_MAX:
	case OP_MAXPOOL: case OP_AVGPOOL: case OP_SOFTMAX: case OP_LOGSOFTMAX:
		return true;
	default:
		return pointwise(n);
	}
}

/* Checks one live member i of group gid (root and call given). */
static int check_member(Lower *L, int i, int gid, int root, int call)
{
	const Graph *g = L->g;
	const Node *n = &g->node[i];
	const Node *rn = &g->node[root];
	bool ok = i == call || pointwise(n) || (i == root && call < 0 && loop_root(n)) ||
		  (is_reduce(n) && call < 0 && (pointwise(rn) || is_reduce(rn))) || (is_move(n) && i != root);
	if (!ok)
		return lw_err(L, i, "cannot be part of fusion group %d", gid);
	if (i != root && n->nout != 1)
		return lw_err(L, i, "fusion group %d: an inlined node must have one output", gid);
	for (int k = 0; k < n->nin; k++) {
		int v = n->in[k];
		if (v < 0 || !(g->val[v].kind == VK_NODE && L->nlive[g->val[v].def] &&
			       g->node[g->val[v].def].group == gid))
			continue;
		bool padded = k == 0 && (n->op == OP_SLICE || n->op == OP_EXPAND || n->op == OP_TRANSPOSE) &&
			      g->node[g->val[v].def].op == OP_PAD; /* a pad read in place */
		if (i == call || (n->op == OP_BATCHNORM && k > 0) || (!pointwise(n) && k > 0) || (is_move(n) && !padded))
			return lw_err(L, i, "fusion group %d: input %d cannot be computed inline", gid, k);
	}
	if (call >= 0 && i == root && i != call) {
		const Value *y = lw_out(L, i), *c = lw_out(L, call);
		if (y->dtype != c->dtype || ir_shape_numel(&y->shape) != ir_shape_numel(&c->shape))
			return lw_err(L, i, "fusion group %d: the epilogue's output differs from the call's", gid);
	}
	return 0;
}

int lw_check_groups(Lower *L, int **rootp)
{
	const Graph *g = L->g;
	int ng = 0;
	*rootp = NULL;
	for (int i = 0; i < g->nnode; i++)
		if (L->nlive[i] && g->node[i].group > ng)
			ng = g->node[i].group;
	if (ng == 0)
		return 0;
	int *root = xmalloc(((size_t)ng + 1) * sizeof *root);
	int *call = xmalloc(((size_t)ng + 1) * sizeof *call);
	for (int j = 0; j <= ng; j++)
		root[j] = call[j] = -1;
	int rc = 0;
	for (int i = 0; i < g->nnode; i++) {
		int gid = g->node[i].group;
		if (!L->nlive[i] || gid <= 0)
			continue;
		root[gid] = i;
		if (is_call(g, i)) {
			if (call[gid] >= 0 && rc == 0)
				rc = lw_err(L, i, "fusion group %d holds two library calls", gid);
			call[gid] = i;
		}
	}
	for (int i = 0; i < g->nnode && rc == 0; i++) {
		int gid = g->node[i].group;
		if (L->nlive[i] && gid > 0)
			rc = check_member(L, i, gid, root[gid], call[gid]);
	}
	/* A member's output other than the root's is read only inside its group. */
	for (int j = 0; j < g->nnode && rc == 0; j++) {
		const Node *n = &g->node[j];
		for (int k = 0; k < n->nin && L->nlive[j] && rc == 0; k++) {
			int v = n->in[k];
			if (v < 0 || g->val[v].kind != VK_NODE)
				continue;
			int d = g->val[v].def, gid = g->node[d].group;
			if (gid > 0 && L->nlive[d] && d != root[gid] && n->group != gid)
				rc = lw_err(L, d, "fusion group %d: its value is read outside the group", gid);
		}
	}
	for (int o = 0; o < g->noutput && rc == 0; o++) {
		const Value *x = &g->val[g->output[o]];
		int gid = x->kind == VK_NODE ? g->node[x->def].group : 0;
		if (gid > 0 && L->nlive[x->def] && x->def != root[gid])
			rc = lw_err(L, x->def, "fusion group %d: a graph output is not the group's root", gid);
	}
	free(call);
	if (rc < 0) {
		free(root);
		return -1;
	}
	*rootp = root;
	return 0;
}
