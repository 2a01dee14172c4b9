/* remat.c — rematerialization for training steps (--max-memory,
 * docs/memory.md). A forward value that the backward pass reads stays live
 * from the forward pass to its last backward read; recomputing it in the
 * backward pass instead lets the original die at its last forward read.
 *
 * The backward pass starts at the first live node autodiff named "grad..."
 * (passes/grad.c names every node it adds so) or that is a clone made
 * here. For a chosen forward value
 * v, ps_remat clones v's producer chain — the producer p and, recursively,
 * every forward producer whose output only the chain reads (what fusion
 * would inline, so it has no buffer of its own) — and places the clones
 * right before v's first backward reader, which then reads the clone.
 * The chain's other inputs are parameters, inputs, or forward values read
 * there anyway. Clones are named "remat/NODE" (outputs "V.remat"), so they
 * count as backward nodes for later choices and for --report.
 *
 * The pass runs after CSE and DCE (pipeline.c), so nothing merges a clone
 * back into its original, and before fusion, which may inline a cheap
 * clone into its backward reader. Every training step gets
 * ps_remat_early_updates (each optimizer update right after its
 * gradient), ps_remat_hoist (backward work that reads only forward values
 * moved into the forward pass, renamed "hoist/NODE", where that lets a
 * larger forward value die there) and ps_remat_free (the values whose
 * recomputation costs nothing); which other values to recompute is
 * --max-memory's search (tools/remat_fit.c): ps_remat_candidates lists
 * them with a cost class. */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

enum {
	REMAT_MAX_CHAIN = 16,  /* nodes cloned for one value at most */
	REMAT_FREE_MIN = 4096, /* ps_remat_free: values of fewer elements stay */
	REMAT_FREE_SMALL = 16, /* ... and reads inputs this many times smaller freely */
};

bool ps_is_backward(const Node *n)
{
	return n->name && (strncmp(n->name, "grad", 4) == 0 || strncmp(n->name, "remat/", 6) == 0);
}

/* Index of the first live backward node (a clone counts), or -1 (not a
 * training step). */
static int backward_start(const Graph *g)
{
	for (int i = 0; i < g->nnode; i++)
		if (!g->node[i].dead && ps_is_backward(&g->node[i]))
			return i;
	return -1;
}

/* Whether node n may be evaluated a second time with the same result. */
static bool clonable(const Node *n)
{
	return !n->dead && n->nout == 1 && n->nin <= 64 && !(ir_ops[n->op].flags & OPF_SIDE_EFFECT) && !ps_is_backward(n) &&
	       !(n->name && strncmp(n->name, "optimizer", 9) == 0);
}

static int cost_class(Op op)
{
	unsigned f = ir_ops[op].flags;
	if ((f & (OPF_ELEMWISE | OPF_VIEW)) || op == OP_BATCHNORM)
		return 0;
	if (op == OP_CONV || op == OP_MATMUL)
		return 2;
	return 1;
}

/* readers[v]: nodes reading value v (counted per node), and whether it is a
 * graph output. */
static void count_readers(const Graph *g, int *nread, bool *isout)
{
	memset(nread, 0, (size_t)g->nval * sizeof *nread);
	memset(isout, 0, (size_t)g->nval * sizeof *isout);
	for (int i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		for (int k = 0; k < n->nin && !n->dead; k++) {
			bool again = false; /* a node reading v twice counts once */
			for (int j = 0; j < k; j++)
				again = again || n->in[j] == n->in[k];
			if (n->in[k] >= 0 && !again)
				nread[n->in[k]]++;
		}
	}
	for (int i = 0; i < g->noutput; i++)
		isout[g->output[i]] = true;
}

/* Whether value u is live at node `at` without help: a reader at or after
 * it. */
static bool live_at(const Graph *g, int u, int at)
{
	for (int i = at; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		for (int k = 0; k < n->nin && !n->dead; k++)
			if (n->in[k] == u)
				return true;
	}
	return false;
}

/* Node q queued for a chain walk: onto todo[] unless already in chain[0..n)
 * or todo; 0, or -1 when todo is full. */
static int enqueue(const int *chain, int n, int *todo, int *ntodo, int q)
{
	for (int j = 0; j < n; j++)
		if (chain[j] == q)
			return 0;
	for (int j = 0; j < *ntodo; j++)
		if (todo[j] == q)
			return 0;
	if (*ntodo == REMAT_MAX_CHAIN)
		return -1;
	todo[(*ntodo)++] = q;
	return 0;
}

/* chain[0..n) in graph order (insertion sort: a chain is short) */
static void sort_nodes(int *chain, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && chain[j - 1] > chain[j]; j--) {
			int t = chain[j];
			chain[j] = chain[j - 1];
			chain[j - 1] = t;
		}
}

/* The chain of forward nodes that recomputes value v, into chain[] in
 * graph order; its length, or 0 when v cannot be recomputed. The chain
 * takes in the producers of values only it reads, of values no backward
 * node reads (dead after the forward pass: reading them there would keep
 * them), and of the values thru[] marks (recomputed themselves elsewhere:
 * the chain then makes its own copy rather than read theirs); thru may be
 * NULL. A value of fewer than REMAT_FREE_MIN elements and
 * REMAT_FREE_SMALL times fewer than v's is read, not recomputed, even
 * where it would else die in the forward pass: keeping it costs nothing
 * (ResNet-18's stem: the batch norm's 64 means, which recomputed made
 * the normalization of the 25.7 MB convolution output read it twice and
 * store into new bytes, a third 25.7 MB tensor at the smallest plans'
 * peak). */
static int chain_of(const Graph *g, int v, int bw, const int *nread, const bool *isout, const bool *thru,
		    int *chain)
{
	int n = 0, todo[REMAT_MAX_CHAIN], ntodo = 0;
	if (g->val[v].kind != VK_NODE || isout[v])
		return 0;
	todo[ntodo++] = g->val[v].def;
	while (ntodo > 0) {
		int p = todo[--ntodo];
		if (p < 0 || p >= bw || !clonable(&g->node[p]) || n == REMAT_MAX_CHAIN)
			return 0;
		chain[n++] = p;
		const Node *pn = &g->node[p];
		for (int k = 0; k < pn->nin; k++) {
			int u = pn->in[k];
			if (u < 0 || g->val[u].kind != VK_NODE || isout[u] ||
			    (nread[u] != 1 && !(thru && thru[u]) && live_at(g, u, bw)))
				continue; /* live anyway (or a parameter or input): read it */
			int64_t un = ir_shape_numel(&g->val[u].shape);
			if (un < REMAT_FREE_MIN && un * REMAT_FREE_SMALL <= ir_shape_numel(&g->val[v].shape) &&
			    !(thru && thru[u]))
				continue; /* small against v (a batch norm's mean): kept
					     rather than recomputed, which would read the
					     chain's big input whole once more and fuse a
					     reduction into its reader, whose output then
					     cannot take its input's bytes in place */
			int q = g->val[u].def;
			if (q < 0 || q >= bw || !clonable(&g->node[q]))
				continue;
			if (enqueue(chain, n, todo, &ntodo, q) < 0)
				return 0;
		}
	}
	sort_nodes(chain, n);
	return n;
}

/* First backward node reading v, or -1. */
static int first_bw_reader(const Graph *g, int v, int bw)
{
	for (int i = bw; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		for (int k = 0; k < n->nin && !n->dead; k++)
			if (n->in[k] == v && ps_is_backward(n))
				return i;
	}
	return -1;
}

int ps_remat_candidates(const Graph *g, RematCand *out, int max)
{
	int bw = backward_start(g), n = 0;
	if (bw < 0 || g->nval == 0)
		return 0;
	int *nread = xmalloc((size_t)g->nval * sizeof *nread), chain[REMAT_MAX_CHAIN];
	bool *isout = xmalloc((size_t)g->nval * sizeof *isout);
	count_readers(g, nread, isout);
	for (int i = 0; i < bw && n < max; i++) {
		const Node *p = &g->node[i];
		if (p->dead || p->nout != 1)
			continue;
		int v = p->out[0], len;
		int64_t numel = ir_shape_numel(&g->val[v].shape);
		if (numel <= 0 || first_bw_reader(g, v, bw) < 0 ||
		    (len = chain_of(g, v, bw, nread, isout, NULL, chain)) == 0)
			continue;
		RematCand *c = &out[n++];
		c->value = g->val[v].name;
		c->bytes = numel * (int64_t)ir_dtype_size(g->val[v].dtype);
		c->cost = 0;
		for (int j = 0; j < len; j++) {
			int k = cost_class(g->node[chain[j]].op);
			c->cost = k > c->cost ? k : c->cost;
		}
	}
	free(nread);
	free(isout);
	return n;
}

/* Puts node order[i] at position i (order: a permutation of the nodes)
 * and renumbers Value.def. */
static void apply_order(Graph *g, const int *order)
{
	int n = g->nnode;
	Node *nodes = xmalloc(((size_t)n + 1) * sizeof *nodes);
	for (int i = 0; i < n; i++)
		nodes[i] = g->node[order[i]];
	memcpy(g->node, nodes, (size_t)n * sizeof *nodes);
	free(nodes);
	for (int i = 0; i < n; i++)
		for (int o = 0; o < g->node[i].nout; o++)
			g->val[g->node[i].out[o]].def = i;
}

/* Moves the nodes move[] (all at or after `at`) to sit before node `at`,
 * keeping their order and the others'. */
static void move_before(Graph *g, const bool *move, int at)
{
	int n = g->nnode, k = 0, *order = xmalloc(((size_t)n + 1) * sizeof *order);
	for (int i = 0; i < at; i++)
		order[k++] = i;
	for (int i = at; i < n; i++)
		if (move[i])
			order[k++] = i;
	for (int i = at; i < n; i++)
		if (!move[i])
			order[k++] = i;
	apply_order(g, order);
	free(order);
}

/* Copies of the nodes chain[0..len) (graph order) appended to g, each
 * reading the copies of the chain's earlier nodes: node names by nfmt
 * and output names by vfmt of the original's (unique). The last copy's
 * output value, or -1. */
static int clone_chain(Graph *g, const int *chain, int len, const char *nfmt, const char *vfmt, Diag *d)
{
	int map_from[REMAT_MAX_CHAIN], map_to[REMAT_MAX_CHAIN];
	for (int j = 0; j < len; j++) {
		const Node *o = &g->node[chain[j]];
		int in[64], nin = o->nin < 64 ? o->nin : 64;
		for (int k = 0; k < nin; k++) {
			in[k] = o->in[k];
			for (int m = 0; m < j; m++) /* read the chain's own clones */
				if (in[k] == map_from[m])
					in[k] = map_to[m];
		}
		const char *vname = arena_printf(&g->arena, vfmt, g->val[o->out[0]].name);
		const char *outname = ir_unique_name(g, vname);
		const char *nname = arena_printf(&g->arena, nfmt, o->name ? o->name : "");
		int c = ir_add_node(g, o->op, nname, in, nin, 1, &outname);
		Node *cn = &g->node[c], *on = &g->node[chain[j]]; /* after ir_add_node's realloc */
		cn->nattr = on->nattr;
		cn->attr = on->attr; /* attributes are never modified in place */
		if (ir_infer_node(g, c, d) < 0)
			return -1;
		map_from[j] = on->out[0];
		map_to[j] = cn->out[0];
	}
	return map_to[len - 1];
}

/* Moves the nodes appended from index `from` on to sit before node at. */
static void move_appended(Graph *g, int from, int at)
{
	bool *clone = xcalloc((size_t)g->nnode + 1, sizeof *clone);
	for (int i = from; i < g->nnode; i++)
		clone[i] = true;
	move_before(g, clone, at);
	free(clone);
}

/* Recomputes value v in the backward pass (see the file comment); thru as
 * for chain_of. */
static int remat_one(Graph *g, int v, const bool *thru, Diag *d)
{
	int bw = backward_start(g), chain[REMAT_MAX_CHAIN];
	int *nread = xmalloc((size_t)g->nval * sizeof *nread);
	bool *isout = xmalloc((size_t)g->nval * sizeof *isout);
	count_readers(g, nread, isout);
	int len = bw < 0 ? 0 : chain_of(g, v, bw, nread, isout, thru, chain);
	free(nread);
	free(isout);
	int at = len ? first_bw_reader(g, v, bw) : -1;
	if (at < 0)
		return diag(d, "remat: value '%s' is not a forward value the backward pass reads",
			    g->val[v].name);
	int from = g->nnode, nv = clone_chain(g, chain, len, "remat/%s", "%s.remat", d);
	if (nv < 0)
		return -1;
	for (int i = at; i < from; i++) { /* backward readers read the clone */
		Node *n = &g->node[i];
		for (int k = 0; k < n->nin && !n->dead && ps_is_backward(n); k++)
			if (n->in[k] == v)
				n->in[k] = nv;
	}
	move_appended(g, from, at);
	return 0;
}

/* ps_remat, the chains through thru[] (chain_of) */
static int remat_list(Graph *g, const char *const *values, int n, const bool *thru, Diag *d)
{
	int *v = xmalloc(((size_t)n + 1) * sizeof *v);
	for (int i = 0; i < n; i++) {
		v[i] = ir_find_value(g, values[i]);
		if (v[i] < 0 || g->val[v[i]].kind != VK_NODE) {
			free(v);
			return diag(d, "remat: no forward value '%s'", values[i]);
		}
	}
	/* latest producer first: an earlier value's clone then serves the
	 * later one's clone too */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && g->val[v[j - 1]].def < g->val[v[j]].def; j--) {
			int t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++)
		rc = remat_one(g, v[i], thru, d);
	free(v);
	if (rc == 0)
		ir_fill_uses(g);
	return rc;
}

int ps_remat(Graph *g, const char *const *values, int n, Diag *d)
{
	return remat_list(g, values, n, NULL, d);
}


/* Backward nodes reading v (each counted once), in order into list[]
 * (room for every node); their count. */
static int bw_readers(const Graph *g, int v, int bw, int *list)
{
	int n = 0;
	for (int i = bw; i < g->nnode; i++) {
		const Node *r = &g->node[i];
		bool reads = false;
		for (int k = 0; k < r->nin && !r->dead; k++)
			reads = reads || r->in[k] == v;
		if (reads && ps_is_backward(r))
			list[n++] = i;
	}
	return n;
}

/* Whether forward value v (of a node before bw) is free to recompute at
 * its one backward reader `at` (ps_remat_free's test): `at` pointwise;
 * v's chain, through the values already chosen (recomputed elsewhere: the
 * chain copies them too), pointwise ops and views whose other inputs are
 * parameters, values REMAT_FREE_SMALL times smaller, or values live at
 * `at` anyway (chosen may be NULL: none yet). */
static bool free_at(const Graph *g, int v, int at, int bw, const int *nread, const bool *isout,
		    const bool *chosen)
{
	int chain[REMAT_MAX_CHAIN], len;
	int64_t numel = ir_shape_numel(&g->val[v].shape);
	if (numel < REMAT_FREE_MIN || !(ir_ops[g->node[at].op].flags & OPF_ELEMWISE) ||
	    (len = chain_of(g, v, bw, nread, isout, chosen, chain)) == 0)
		return false;
	for (int j = 0; j < len; j++) {
		const Node *c = &g->node[chain[j]];
		if (!(ir_ops[c->op].flags & (OPF_ELEMWISE | OPF_VIEW)))
			return false;
		for (int k = 0; k < c->nin; k++) {
			int u = c->in[k];
			bool inner = false;
			for (int m = 0; m < len; m++)
				inner = inner || (u >= 0 && g->val[u].def == chain[m]);
			if (u < 0 || inner || g->val[u].kind != VK_NODE ||
			    ir_shape_numel(&g->val[u].shape) * REMAT_FREE_SMALL <= numel)
				continue; /* the chain's own, a parameter, or small */
			if ((chosen && chosen[u]) || !live_at(g, u, at)) /* chosen: dies early */
				return false;
		}
	}
	return true;
}

int ps_remat_free(Graph *g, Diag *d)
{
	int bw = backward_start(g), n = 0;
	if (bw < 0 || g->nval == 0)
		return 0;
	int *nread = xmalloc((size_t)g->nval * sizeof *nread);
	bool *isout = xmalloc((size_t)g->nval * sizeof *isout);
	const char **names = xmalloc((size_t)g->nnode * sizeof *names);
	bool *chosen = xcalloc((size_t)g->nval, sizeof *chosen);
	int *rd = xmalloc(((size_t)g->nnode + 1) * sizeof *rd);
	count_readers(g, nread, isout);
	for (int i = 0; i < bw; i++) {
		const Node *p = &g->node[i];
		if (p->dead || p->nout != 1 || bw_readers(g, p->out[0], bw, rd) != 1 ||
		    !free_at(g, p->out[0], rd[0], bw, nread, isout, chosen))
			continue;
		names[n++] = g->val[p->out[0]].name;
		chosen[p->out[0]] = true;
	}
	int rc = n > 0 ? remat_list(g, names, n, chosen, d) : 0;
	free(rd);
	free(names);
	free(chosen);
	free(nread);
	free(isout);
	return rc < 0 ? -1 : n;
}

/* --- backward work done in the forward pass (ps_remat_hoist) ------------- */

/* fc[i]: backward node i reads only forward values (parameters, inputs,
 * forward nodes' outputs) and the outputs of fc nodes of its own gradient
 * rule (named as it is), so it could run in the forward pass: a rule's
 * work that needs no adjoint (the whole backward pass is a function of
 * forward values; what reads an adjoint, another rule's node, stays). */
static void mark_forward_computable(const Graph *g, int bw, bool *fc)
{
	memset(fc, 0, (size_t)g->nnode * sizeof *fc);
	for (int i = bw; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		bool ok = !n->dead && ps_is_backward(n) && n->nout == 1 && !(ir_ops[n->op].flags & OPF_SIDE_EFFECT);
		for (int k = 0; k < n->nin && ok; k++) {
			int u = n->in[k];
			if (u < 0 || g->val[u].kind != VK_NODE)
				continue;
			int q = g->val[u].def;
			ok = q >= 0 && (q < bw ? !g->node[q].dead
					       : fc[q] && strcmp(g->node[q].name, n->name) == 0);
		}
		fc[i] = ok;
	}
}

/* in[]: node h and its fc ancestors (h fc itself), all named as h is. */
static void fc_closure(const Graph *g, int h, const bool *fc, bool *in, int *todo)
{
	int nt = 0;
	memset(in, 0, (size_t)g->nnode * sizeof *in);
	in[h] = true;
	todo[nt++] = h;
	while (nt > 0) {
		const Node *p = &g->node[todo[--nt]];
		for (int k = 0; k < p->nin; k++) {
			int u = p->in[k], q = u >= 0 && g->val[u].kind == VK_NODE ? g->val[u].def : -1;
			if (q >= 0 && fc[q] && !in[q]) {
				in[q] = true;
				todo[nt++] = q;
			}
		}
	}
}

/* Bytes of the values the nodes in[] make that other live nodes (or the
 * graph's outputs) read: what running in[] in the forward pass saves for
 * the backward pass. */
static int64_t cut_bytes(const Graph *g, int bw, const bool *in, const bool *isout)
{
	int64_t b = 0;
	for (int i = bw; i < g->nnode; i++) {
		if (!in[i])
			continue;
		int v = g->node[i].out[0];
		bool out = isout[v];
		for (int j = bw; j < g->nnode && !out; j++) {
			const Node *r = &g->node[j];
			for (int k = 0; k < r->nin && !r->dead && !in[j] && !out; k++)
				out = r->in[k] == v;
		}
		if (out)
			b += ir_shape_numel(&g->val[v].shape) * (int64_t)ir_dtype_size(g->val[v].dtype);
	}
	return b;
}

/* Moves the nodes in[] (all at or after `at`) to sit before node `at`,
 * keeping their order, renamed "hoist/NAME" (forward nodes now). */
static void hoist_before(Graph *g, const bool *in, int at)
{
	for (int i = at; i < g->nnode; i++)
		if (in[i])
			g->node[i].name = arena_printf(&g->arena, "hoist/%s", g->node[i].name);
	move_before(g, in, at);
}

/* One hoist: the forward value whose release gains most, its chosen set
 * into best[] and the place into *at; the gain (0: none). */
static int64_t best_hoist(const Graph *g, int bw, const bool *fc, bool *best, int *at)
{
	int n = g->nnode, *todo = xmalloc((size_t)n * sizeof *todo), *rd = xmalloc((size_t)n * sizeof *rd);
	int *nread = xmalloc((size_t)g->nval * sizeof *nread);
	bool *isout = xmalloc((size_t)g->nval * sizeof *isout);
	bool *in = xmalloc((size_t)n * sizeof *in);
	int64_t gain = 0;
	count_readers(g, nread, isout);
	for (int i = 0; i < bw; i++) {
		const Node *p = &g->node[i];
		if (p->dead || p->nout != 1 || isout[p->out[0]] || g->val[p->out[0]].kind != VK_NODE)
			continue;
		int v = p->out[0], nr, nfc = 0;
		int64_t bytes = ir_shape_numel(&g->val[v].shape) * (int64_t)ir_dtype_size(g->val[v].dtype);
		if (ir_shape_numel(&g->val[v].shape) < REMAT_FREE_MIN)
			continue;
		nr = bw_readers(g, v, bw, rd);
		for (int m = 0; m < nr; m++)
			nfc += fc[rd[m]];
		if (nfc == 0 || (nr == 1 && free_at(g, v, rd[0], bw, nread, isout, NULL)))
			continue; /* nothing to run early, or free to recompute already */
		/* leave: the one reader left to ps_remat_free (-1: none, every
		 * reader hoisted and v dead after the forward pass) */
		for (int l = -1; l < nr; l++) {
			int leave = l < 0 ? -1 : rd[l];
			if (nr == (l >= 0) || nfc < nr - (l >= 0 && !fc[leave] ? 1 : 0) ||
			    (leave >= 0 && !free_at(g, v, leave, bw, nread, isout, NULL)))
				continue;
			for (int h = bw; h < n; h++) { /* the set: one fc node and its fc ancestors */
				bool named = false; /* as a reader to hoist (a set is one rule's) */
				for (int m = 0; m < nr && fc[h] && !named; m++)
					named = rd[m] != leave && strcmp(g->node[rd[m]].name, g->node[h].name) == 0;
				if (!named)
					continue;
				fc_closure(g, h, fc, in, todo);
				bool all = true;
				for (int m = 0; m < nr && all; m++)
					all = rd[m] == leave || in[rd[m]];
				int64_t c;
				if (!all || (c = cut_bytes(g, bw, in, isout)) >= bytes - gain)
					continue;
				gain = bytes - c;
				memcpy(best, in, (size_t)n * sizeof *in);
				*at = i + 1; /* after the last forward value the set reads */
				for (int s = bw; s < n; s++)
					for (int k = 0; k < g->node[s].nin && in[s]; k++) {
						int u = g->node[s].in[k];
						int q = u >= 0 && g->val[u].kind == VK_NODE ? g->val[u].def : -1;
						*at = q >= 0 && q < bw && q + 1 > *at ? q + 1 : *at;
					}
			}
		}
	}
	free(todo);
	free(rd);
	free(nread);
	free(isout);
	free(in);
	return gain;
}

int ps_remat_hoist(Graph *g)
{
	int moved = 0;
	for (;;) {
		int bw = backward_start(g), at = -1;
		if (bw < 0)
			return moved;
		bool *fc = xmalloc((size_t)g->nnode * sizeof *fc), *best = xmalloc((size_t)g->nnode * sizeof *best);
		mark_forward_computable(g, bw, fc);
		int64_t gain = best_hoist(g, bw, fc, best, &at);
		if (gain > 0) {
			hoist_before(g, best, at);
			moved++;
		}
		free(fc);
		free(best);
		if (gain <= 0)
			return moved;
	}
}

static bool is_update(const Node *n)
{
	return !n->dead && n->name && strncmp(n->name, "optimizer", 9) == 0 &&
	       !(ir_ops[n->op].flags & OPF_SIDE_EFFECT);
}

void ps_remat_early_updates(Graph *g)
{
	int n = g->nnode, k = 0;
	int *order = xmalloc(((size_t)n + 1) * sizeof *order);
	bool *ready = xcalloc((size_t)g->nval + 1, sizeof *ready), *done = xcalloc((size_t)n + 1, 1);
	for (int v = 0; v < g->nval; v++)
		ready[v] = g->val[v].kind != VK_NODE;
	for (int i = 0; i <= n; i++) {
		if (i < n && !is_update(&g->node[i])) {
			order[k++] = i;
			done[i] = true;
			for (int o = 0; o < g->node[i].nout; o++)
				ready[g->node[i].out[o]] = true;
		}
		for (bool more = true; more;) { /* every update whose inputs now exist */
			more = false;
			for (int j = 0; j < n; j++) {
				const Node *u = &g->node[j];
				bool ok = !done[j] && is_update(u);
				for (int m = 0; m < u->nin && ok; m++)
					ok = u->in[m] < 0 || ready[u->in[m]];
				if (!ok)
					continue;
				order[k++] = j;
				done[j] = more = true;
				for (int o = 0; o < u->nout; o++)
					ready[u->out[o]] = true;
			}
		}
	}
	apply_order(g, order); /* k == n: every node is placed */
	free(order);
	free(ready);
	free(done);
}

/* --- the ReLU adjoint's mask from the ReLU's input ------------------------- */

/* Whether value v is a scalar constant 0. */
static bool zero_scalar(const Graph *g, int v)
{
	const Value *c = &g->val[v];
	return c->kind == VK_CONST && c->data && ir_shape_numel(&c->shape) == 1 &&
	       ir_elem_get(c->dtype, c->data) == 0.0;
}

/* Whether value u needs no reader to stay (a parameter, input or
 * constant), is small against numel elements, or is read at or after
 * node at. */
static bool there_anyway(const Graph *g, int u, int at, int64_t numel)
{
	return g->val[u].kind != VK_NODE || ir_shape_numel(&g->val[u].shape) * REMAT_FREE_SMALL <= numel ||
	       live_at(g, u, at);
}

/* The private chain that recomputes x at mask node m: the recomputed
 * pointwise nodes (clones, from bw on) whose full-size outputs lead to
 * x, stopping at values there anyway after m (there_anyway); into
 * chain[] in graph order, its length, or 0 where some input is neither. */
static int mask_chain(const Graph *g, int x, int bw, int m, int *chain)
{
	int n = 0, todo[REMAT_MAX_CHAIN], ntodo = 0;
	int64_t numel = ir_shape_numel(&g->val[x].shape);
	todo[ntodo++] = g->val[x].def;
	while (ntodo > 0) {
		int p = todo[--ntodo];
		const Node *pn = p >= 0 ? &g->node[p] : NULL;
		if (!pn || p < bw || p >= m || pn->dead || pn->nout != 1 || !(ir_ops[pn->op].flags & OPF_ELEMWISE) ||
		    strncmp(pn->name ? pn->name : "", "remat/", 6) != 0 || n == REMAT_MAX_CHAIN)
			return 0;
		chain[n++] = p;
		for (int k = 0; k < pn->nin; k++) {
			int w = pn->in[k];
			if (w >= 0 && !there_anyway(g, w, m + 1, numel) &&
			    enqueue(chain, n, todo, &ntodo, g->val[w].def) < 0)
				return 0;
		}
	}
	sort_nodes(chain, n);
	return n;
}

int ps_remat_masks(Graph *g, Diag *d)
{
	int bw = backward_start(g), done = 0;
	if (bw < 0)
		return 0;
	for (int i = g->nnode - 1; i >= bw; i--) { /* last first: a move shifts only what follows */
		const Node *m = &g->node[i];
		if (m->dead || m->op != OP_GREATER || m->nin != 2 || !ps_is_backward(m) || m->in[0] < 0 ||
		    m->in[1] < 0 || !zero_scalar(g, m->in[1]) || g->val[m->in[0]].kind != VK_NODE)
			continue;
		int r = g->val[m->in[0]].def;
		const Node *rn = &g->node[r];
		if (r < bw || rn->dead || rn->op != OP_RELU || strncmp(rn->name ? rn->name : "", "remat/", 6) != 0)
			continue;
		int chain[REMAT_MAX_CHAIN], len = mask_chain(g, rn->in[0], bw, i, chain);
		if (len == 0)
			continue;
		int from = g->nnode, x = clone_chain(g, chain, len, "%s/mask", "%s", d);
		if (x < 0)
			return -1;
		g->node[i].in[0] = x;
		move_appended(g, from, i);
		done++;
	}
	if (done)
		ir_fill_uses(g);
	return done;
}
