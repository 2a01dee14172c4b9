/* fuse.c — operator fusion: decides Node.group, the sets of nodes that
 * codegen/lower.c turns into ONE kernel each. Target-neutral: it only says
 * what is computed together; the schedule decides how.
 *
 * A group has one root, its last node in graph order, whose output is the
 * only value the group materializes; every other member's output is read
 * only by members (so it is never a graph output) and gets no buffer: the
 * lowering inlines it into its readers' expressions. Two kinds of group:
 *   - a call group: an f32 conv or matmul (a library call) followed by a
 *     chain of pointwise nodes of the call's output shape, each the only
 *     reader of the previous one (bias, activation, clip, residual add,
 *     batchnorm): the chain becomes the call's epilogue, applied in place;
 *   - a loop group: a pointwise node, a reduction, an unpadded pool or a
 *     softmax as root, with the pointwise producers it alone reads inlined
 *     (chains and trees, with broadcasting; softmax and log_softmax with
 *     their max and sum always form one kernel, so they get a group even
 *     alone). A loop group rooted at a pointwise node or a reduction may
 *     also take reductions (keepdims) that only its members read, when
 *     every reduction in the group reduces the same axes of inputs of one
 *     shape: the kernel then has one set of reduction vars shared by all,
 *     and each reduction is evaluated once per point of the loops it
 *     depends on (layer norm: mean, variance and output in one kernel).
 * Producers are inlined only where they are computed once per point of
 * their reader (no broadcast recomputation) — except the per-row values
 * that derive from a reduction (sqrt(var + eps) read by every element of
 * its row), which backends hoist out of the loops they do not depend on,
 * and the affine moves (slice, expand, transpose, pad), one load each —
 * and a group's expression tree
 * (shared nodes counted per use) stays within FUSE_MAX_TREE graph nodes so
 * naive tree walkers stay cheap. The indexing ops (slice, expand, trilu,
 * gather, gather_elements, gather_nd, and a transpose that moves runs of
 * at least FUSE_MIN_RUN elements, its last axes kept in place, so its
 * reader's loads stay contiguous over whole vectors: the activations'
 * [N, C, HW] -> [C, N, HW], not a 3x3 weight's [C, K, 9] -> [K, C, 9],
 * whose reader would loop over runs of 9; and pad, a guarded load) join
 * as producers read once per point, loading their own inputs from
 * buffers (their index reads happen inside the reader's kernel), except
 * that a slice, expand or transpose reads a pad in place (the max pool's
 * arg-max windows on its -inf-padded input); they are never roots. Views, other data
 * movement and loop matmuls end a group. Group ids are 1..n; 0 means
 * alone. -O0 fuses nothing. */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

enum {
	FUSE_MAX_TREE = 48, /* graph nodes in one group's expression tree, counted per use */
	FUSE_MIN_RUN = 64,  /* a transpose inlines when it moves runs of at least this many elements */
};

typedef enum Role {
	RO_NONE,    /* lowers alone: views, data movement, loop matmuls */
	RO_EW,      /* pointwise: elementwise ops, inference batchnorm */
	RO_CALL,    /* library call: f32 conv, f32 matmul with <= 4 batch dims */
	RO_REDUCE,  /* reduce_sum / reduce_mean / reduce_max */
	RO_POOL,    /* max/avg pool whose windows never leave the input */
	RO_SOFTMAX, /* softmax, log_softmax */
	RO_MOVE,    /* slice, expand, trilu, gathers: inlined into a reader, never a root */
} Role;

typedef struct Fuse {
	Graph *g;       /* graph being fused */
	Role *role;     /* role of each node */
	int *user;      /* per value: the one node reading it, -1 none, -2 several or a graph output */
	int *mem;       /* members of the group being grown */
	int nmem, capmem;
	int *tree;      /* per node: expression size memo, 0 = not computed */
	int ngroup;     /* group ids handed out */
} Fuse;

/* --- roles ------------------------------------------------------------------- */

/* Whether matmul lowers to a library call (lower_nn.c: f32, <= 4 batch dims). */
static bool mm_is_call(const Graph *g, const Node *n)
{
	const Shape *a = &g->val[n->in[0]].shape, *b = &g->val[n->in[1]].shape;
	if (g->val[n->out[0]].dtype != DT_F32 || a->rank < 1 || b->rank < 1)
		return false;
	int nb = a->rank > b->rank ? a->rank - 2 : b->rank - 2;
	return nb <= 4;
}

/* Attribute ints of length r, or dflt everywhere when absent; false if
 * the length is wrong. */
static bool ints_of(const Node *n, const char *name, int r, int64_t dflt, int64_t *out)
{
	const int64_t *v;
	int k = ir_attr_ints(n, name, &v);
	for (int i = 0; i < r; i++)
		out[i] = k < 0 ? dflt : k == r ? v[i] : 0;
	return k < 0 || k == r;
}

/* A pool whose windows stay inside the input: no padding, and the last
 * window of every spatial dim ends inside it, so it loads without guards
 * and can read an inlined expression. */
static bool pool_unguarded(const Graph *g, const Node *n)
{
	const Shape *x = &g->val[n->in[0]].shape, *y = &g->val[n->out[0]].shape;
	int s = x->rank - 2;
	int64_t kern[IR_MAX_RANK], str[IR_MAX_RANK], dil[IR_MAX_RANK], pads[2 * IR_MAX_RANK];
	if (s < 1 || y->rank != x->rank || !ir_attr(n, "kernel"))
		return false;
	if (!ints_of(n, "kernel", s, 1, kern) || !ints_of(n, "strides", s, 1, str) ||
	    !ints_of(n, "dilations", s, 1, dil) || !ints_of(n, "pads", 2 * s, 0, pads))
		return false;
	for (int i = 0; i < s; i++) {
		if (pads[i] != 0 || pads[s + i] != 0)
			return false;
		int64_t o = y->d[2 + i].n, h = x->d[2 + i].n, a, b, e;
		if (o < 1 || !ck_mul(o - 1, str[i], &a) || !ck_mul(kern[i] - 1, dil[i], &b) ||
		    !ck_add(a, b, &e) || e >= h)
			return false;
	}
	return true;
}

static Role role_of(const Graph *g, const Node *n)
{
	if (n->dead || n->nout != 1)
		return RO_NONE;
	const Value *y = &g->val[n->out[0]];
	for (int k = 0; k < n->nin; k++)
		if (n->in[k] >= 0 && !ir_shape_static(&g->val[n->in[k]].shape))
			return RO_NONE;
	if (!ir_shape_static(&y->shape) || y->dtype == DT_UNDEF)
		return RO_NONE; /* lowering reports it */
	if ((ir_ops[n->op].flags & OPF_ELEMWISE) || n->op == OP_BATCHNORM)
		return RO_EW;
	switch (n->op) {
	case OP_CONV: case OP_CONV_TRANSPOSE:
		return y->dtype == DT_F32 ? RO_CALL : RO_NONE;
	case OP_MATMUL:
		return mm_is_call(g, n) ? RO_CALL : RO_NONE;
	case OP_REDUCE_SUM: case OP_REDUCE_MEAN: case OP_REDUCE_MAX:
		return RO_REDUCE;
	case OP_MAXPOOL: case OP_AVGPOOL:
		return pool_unguarded(g, n) && ir_dtype_is_float(y->dtype) ? RO_POOL : RO_NONE;
	case OP_SOFTMAX: case OP_LOGSOFTMAX:
		return ir_dtype_is_float(y->dtype) && y->shape.rank >= 1 ? RO_SOFTMAX : RO_NONE;
	case OP_SLICE: case OP_EXPAND: case OP_TRILU: case OP_GATHER: case OP_GATHER_ELEMENTS:
	case OP_GATHER_ND: case OP_PAD:
		return RO_MOVE;
	case OP_RANDOM_UNIFORM: /* rng: a pure function of the index, drawn where it is read */
		return RO_MOVE;
	case OP_TRANSPOSE: { /* that keeps a long run of the last axes in place: its reader's
			      * loads stay contiguous over whole vectors */
		const int64_t *perm;
		const Shape *xs = &g->val[n->in[0]].shape;
		int r = xs->rank, a = r - 1;
		int64_t run = 1;
		if (r < 2 || ir_attr_ints(n, "perm", &perm) != r)
			return RO_NONE;
		for (; a >= 0 && perm[a] == a; a--)
			run *= xs->d[a].n;
		return a >= 0 && run >= FUSE_MIN_RUN ? RO_MOVE : RO_NONE;
	}
	default:
		return RO_NONE;
	}
}

/* --- membership ------------------------------------------------------------------ */

static bool is_member(const Fuse *F, int node)
{
	for (int i = 0; i < F->nmem; i++)
		if (F->mem[i] == node)
			return true;
	return false;
}

static void add_member(Fuse *F, int node)
{
	if (F->nmem == F->capmem) {
		F->capmem = F->capmem ? 2 * F->capmem : 16;
		F->mem = xrealloc(F->mem, (size_t)F->capmem * sizeof *F->mem);
	}
	F->mem[F->nmem++] = node;
}

/* The member defining value v, or -1. */
static int member_def(const Fuse *F, int v)
{
	const Value *x = &F->g->val[v];
	return x->kind == VK_NODE && is_member(F, x->def) ? x->def : -1;
}

/* Reduced axes of reduction node n (all when axes is absent); false if
 * malformed. */
static bool red_axes(const Graph *g, const Node *n, bool *red)
{
	int r = g->val[n->in[0]].shape.rank;
	const int64_t *axes;
	int na = ir_attr_ints(n, "axes", &axes);
	for (int j = 0; j < r; j++)
		red[j] = na <= 0;
	for (int i = 0; i < na; i++) {
		int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
		if (a < 0 || a >= r || red[a])
			return false;
		red[a] = true;
	}
	return true;
}

/* Whether value v derives, through pointwise nodes of its own size, from
 * a keepdims reduction: a per-row value the backend hoists, so a
 * broadcast read of it costs nothing per element. */
static bool from_reduce(const Fuse *F, int v, int depth)
{
	const Graph *g = F->g;
	if (depth > 8 || g->val[v].kind != VK_NODE)
		return false;
	int p = g->val[v].def;
	const Node *n = &g->node[p];
	if (F->role[p] == RO_REDUCE)
		return ir_attr_int(n, "keepdims", 1) != 0;
	if (F->role[p] != RO_EW || n->op == OP_BATCHNORM)
		return false;
	for (int k = 0; k < n->nin; k++)
		if (n->in[k] >= 0 &&
		    ir_shape_numel(&g->val[n->in[k]].shape) == ir_shape_numel(&g->val[v].shape) &&
		    from_reduce(F, n->in[k], depth + 1))
			return true;
	return false;
}

/* Whether value v is a slice, expand, transpose or pad: one affine load
 * (guarded, for a pad) per point, so a broadcast read of it recomputes
 * nothing (the max-pool adjoint's shifted windows, read by every phase). */
static bool affine_move(const Fuse *F, int v)
{
	const Graph *g = F->g;
	if (g->val[v].kind != VK_NODE || F->role[g->val[v].def] != RO_MOVE)
		return false;
	Op op = g->node[g->val[v].def].op;
	return op == OP_SLICE || op == OP_EXPAND || op == OP_TRANSPOSE || op == OP_PAD;
}

/* Whether member m reads its k-th input where it computes each output point
 * once per input point: the pointwise input of a full-size operand (or of
 * a per-row value from a reduction), or the data input of a reduction,
 * pool or softmax. */
static bool inlinable_read(const Fuse *F, int m, int k)
{
	const Graph *g = F->g;
	const Node *n = &g->node[m];
	if (n->in[k] < 0)
		return false;
	switch (F->role[m]) {
	case RO_EW:
		if (n->op == OP_BATCHNORM && k != 0)
			return false; /* per-channel parameters */
		return ir_shape_numel(&g->val[n->in[k]].shape) == ir_shape_numel(&g->val[n->out[0]].shape) ||
		       from_reduce(F, n->in[k], 0) || affine_move(F, n->in[k]);
	case RO_REDUCE: case RO_POOL: case RO_SOFTMAX:
		return k == 0;
	case RO_MOVE: /* an affine move reads a pad in place: composed guarded loads */
		return k == 0 && affine_move(F, n->out[0]) && n->op != OP_PAD &&
		       g->val[n->in[0]].kind == VK_NODE && g->node[g->val[n->in[0]].def].op == OP_PAD;
	default:
		return false; /* a call reads its operands itself */
	}
}

/* Size of member m's expression tree in graph nodes, shared ones counted per use,
 * saturated past the limit. */
static int tree_size(Fuse *F, int m)
{
	if (F->tree[m])
		return F->tree[m];
	const Node *n = &F->g->node[m];
	int s = F->role[m] == RO_CALL ? 0 : 1;
	for (int k = 0; k < n->nin && F->role[m] != RO_CALL; k++) {
		int p = n->in[k] >= 0 ? member_def(F, n->in[k]) : -1;
		s += p >= 0 ? tree_size(F, p) : 0;
		if (s > FUSE_MAX_TREE)
			s = FUSE_MAX_TREE + 1;
	}
	F->tree[m] = s;
	return s;
}

static int group_tree(Fuse *F)
{
	for (int i = 0; i < F->nmem; i++)
		F->tree[F->mem[i]] = 0;
	int root = F->mem[0];
	for (int i = 1; i < F->nmem; i++)
		root = F->mem[i] > root ? F->mem[i] : root;
	return tree_size(F, root);
}

/* Uses of value v by members (each input slot counts once). */
static int member_uses(const Fuse *F, int v)
{
	int c = 0;
	for (int i = 0; i < F->nmem; i++) {
		const Node *n = &F->g->node[F->mem[i]];
		for (int k = 0; k < n->nin; k++)
			c += n->in[k] == v;
	}
	return c;
}

/* Whether reduction p may join the group: keepdims, no call, pool or
 * softmax member, and every member reduction reduces the same axes of an
 * input of the same shape (the kernel's one set of reduction vars). */
static bool reduce_joins(const Fuse *F, int p)
{
	const Graph *g = F->g;
	const Node *n = &g->node[p];
	bool rp[IR_MAX_RANK], rq[IR_MAX_RANK];
	if (ir_attr_int(n, "keepdims", 1) == 0 || !red_axes(g, n, rp))
		return false;
	const Shape *xs = &g->val[n->in[0]].shape;
	for (int i = 0; i < F->nmem; i++) {
		int q = F->mem[i];
		if (F->role[q] == RO_CALL || F->role[q] == RO_POOL || F->role[q] == RO_SOFTMAX)
			return false;
		if (F->role[q] != RO_REDUCE)
			continue;
		const Node *nq = &g->node[q];
		if (!ir_shape_eq(&g->val[nq->in[0]].shape, xs) || !red_axes(g, nq, rq) ||
		    memcmp(rp, rq, (size_t)xs->rank * sizeof *rp) != 0)
			return false;
	}
	return true;
}

/* Tries to inline the producer of member m's k-th input. */
static bool absorb(Fuse *F, int m, int k)
{
	Graph *g = F->g;
	int v = g->node[m].in[k];
	if (!inlinable_read(F, m, k) || g->val[v].kind != VK_NODE)
		return false;
	int p = g->val[v].def;
	if (g->node[p].group != 0 || is_member(F, p))
		return false;
	if (F->role[p] != RO_EW && F->role[p] != RO_MOVE && !(F->role[p] == RO_REDUCE && reduce_joins(F, p)))
		return false;
	if (member_uses(F, v) != g->val[v].nuse) /* read outside, or a graph output */
		return false;
	add_member(F, p);
	if (group_tree(F) > FUSE_MAX_TREE) {
		F->nmem--;
		return false;
	}
	return true;
}

/* Grows the member set by inlining producers until nothing more fits. */
static void grow(Fuse *F)
{
	bool changed = true;
	while (changed) {
		changed = false;
		for (int i = 0; i < F->nmem; i++) {
			const Node *n = &F->g->node[F->mem[i]];
			for (int k = 0; k < n->nin; k++)
				changed |= absorb(F, F->mem[i], k);
		}
	}
}

/* --- the two phases ------------------------------------------------------------ */

/* Call groups: each library call takes the chain of pointwise nodes of
 * its output shape that alone read it. */
static void epilogues(Fuse *F)
{
	Graph *g = F->g;
	for (int i = 0; i < g->nnode; i++) {
		if (F->role[i] != RO_CALL || g->node[i].group)
			continue;
		const Shape *cs = &g->val[g->node[i].out[0]].shape;
		F->nmem = 0;
		add_member(F, i);
		for (int cur = i;;) {
			int v = g->node[cur].out[0], c = F->user[v];
			if (c < 0 || F->role[c] != RO_EW || g->node[c].group)
				break;
			const Node *cn = &g->node[c];
			const Value *y = &g->val[cn->out[0]];
			if (y->dtype != DT_F32 || !ir_shape_eq(&y->shape, cs))
				break;
			if (cn->op == OP_BATCHNORM && cn->in[0] != v)
				break;
			add_member(F, c);
			if (group_tree(F) > FUSE_MAX_TREE) {
				F->nmem--;
				break;
			}
			cur = c;
		}
		if (F->nmem < 2)
			continue;
		F->ngroup++;
		for (int j = 0; j < F->nmem; j++)
			g->node[F->mem[j]].group = F->ngroup;
	}
}

/* Loop groups, consumers first, so each root takes its producers before
 * they could become roots themselves; call groups inline producers into
 * their epilogue the same way. */
static void inline_producers(Fuse *F)
{
	Graph *g = F->g;
	int ncall = F->ngroup;
	int *last = xcalloc((size_t)ncall + 1, sizeof *last); /* root of each call group */
	for (int i = 0; i < g->nnode; i++)
		last[g->node[i].group] = i;
	for (int i = g->nnode - 1; i >= 0; i--) {
		int gid = g->node[i].group;
		F->nmem = 0;
		if (gid) {
			if (gid > ncall || last[gid] != i)
				continue; /* inlined into a later root, or not its call group's root */
			for (int j = 0; j <= i; j++)
				if (g->node[j].group == gid)
					add_member(F, j);
		} else if (F->role[i] == RO_EW || F->role[i] == RO_REDUCE || F->role[i] == RO_POOL ||
			   F->role[i] == RO_SOFTMAX) {
			add_member(F, i);
		} else {
			continue;
		}
		grow(F);
		if (!gid && (F->nmem > 1 || F->role[i] == RO_SOFTMAX))
			gid = ++F->ngroup;
		for (int j = 0; j < F->nmem && gid; j++)
			g->node[F->mem[j]].group = gid;
	}
	free(last);
}

void ps_fuse(Graph *g, const Options *o)
{
	for (int i = 0; i < g->nnode; i++)
		g->node[i].group = 0;
	if (o->opt_level < 1)
		return;
	if (!o->train || !o->train->keep_shared)
		ps_fuse_clone(g); /* fuse_clone.c: cheap values read by several loops, one copy each */
	ir_fill_uses(g);
	Fuse F = { .g = g };
	F.role = xcalloc((size_t)g->nnode + 1, sizeof *F.role);
	F.tree = xcalloc((size_t)g->nnode + 1, sizeof *F.tree);
	F.user = xmalloc(((size_t)g->nval + 1) * sizeof *F.user);
	for (int v = 0; v < g->nval; v++)
		F.user[v] = -1;
	for (int i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		F.role[i] = role_of(g, n);
		for (int k = 0; k < n->nin && !n->dead; k++) {
			int v = n->in[k];
			if (v >= 0)
				F.user[v] = F.user[v] == -1 || F.user[v] == i ? i : -2;
		}
	}
	for (int i = 0; i < g->noutput; i++)
		F.user[g->output[i]] = -2;
	epilogues(&F);
	inline_producers(&F);
	free(F.role);
	free(F.tree);
	free(F.user);
	free(F.mem);
}
