/* autodiff.c — reverse-mode automatic differentiation as a graph rewrite.
 *
 * ps_autodiff appends to the graph the nodes that compute d(loss)/d(wrt[i])
 * for a scalar float loss: it marks the values on a path from some wrt
 * value to the loss, seeds the loss's adjoint with 1, and walks the forward
 * nodes backwards, calling each node's gradient rule (the grad column of
 * ir/ops.def, rules in grad*.c) and summing the contributions each value
 * receives with `add`. Rules are written in forward ops, so the backward
 * pass is ordinary IR: fusion, memory planning and codegen see the whole
 * step and backends need no backward kernels (tinygrad, Glow).
 * Assumes shapes were inferred; the values on the path must be static
 * (training steps are compiled for one batch size: bind it with --shape).
 * Integer and bool values carry no gradient (indices, masks, shapes). */
#include "grad.h"

#include <stdlib.h>
#include <string.h>

#define OP(id, name, nin_min, nin_max, nout, flags, attrs, shape, grad) [OP_##id] = grad,
static const GradFn rules[OP_COUNT] = {
#include "../ir/ops.def"
};
#undef OP

bool ps_has_grad(Op op)
{
	return op >= 0 && op < OP_COUNT && rules[op] != NULL;
}

static const char *node_name(const Graph *g, int n)
{
	return g->node[n].name && *g->node[n].name ? g->node[n].name : g->val[g->node[n].out[0]].name;
}

/* Marks on[v] for the float values that depend on some wrt value and that
 * the loss depends on. */
static void mark_path(const Graph *g, int loss, const int *wrt, int nwrt, bool *on)
{
	bool *fwd = xcalloc((size_t)g->nval, sizeof *fwd);
	bool *bwd = xcalloc((size_t)g->nval, sizeof *bwd);
	for (int i = 0; i < nwrt; i++)
		fwd[wrt[i]] = true;
	for (int i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		bool any = false;
		for (int k = 0; k < n->nin; k++)
			any |= n->in[k] >= 0 && fwd[n->in[k]];
		for (int k = 0; k < n->nout && any; k++)
			fwd[n->out[k]] = true;
	}
	bwd[loss] = true;
	for (int i = g->nnode - 1; i >= 0; i--) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		bool any = false;
		for (int k = 0; k < n->nout; k++)
			any |= bwd[n->out[k]];
		for (int k = 0; k < n->nin && any; k++)
			if (n->in[k] >= 0)
				bwd[n->in[k]] = true;
	}
	for (int v = 0; v < g->nval; v++)
		on[v] = fwd[v] && bwd[v] && ir_dtype_is_float(g->val[v].dtype);
	free(fwd);
	free(bwd);
}

/* A node on the path: some output and some input on it. */
static bool on_path(const Graph *g, int i, const bool *on)
{
	const Node *n = &g->node[i];
	if (n->dead)
		return false;
	bool out = false, in = false;
	for (int k = 0; k < n->nout; k++)
		out |= on[n->out[k]];
	for (int k = 0; k < n->nin; k++)
		in |= n->in[k] >= 0 && on[n->in[k]];
	return out && in;
}

/* Every problem with the path, each naming its node: ops without a rule,
 * values whose shape is not static. */
static int check_path(const Graph *g, const bool *on, Diag *d)
{
	int bad = 0;
	char sb[128];
	for (int i = 0; i < g->nnode; i++) {
		if (!on_path(g, i, on))
			continue;
		const Node *n = &g->node[i];
		if (!rules[n->op]) {
			diag(d, "autodiff: node %d (%s \"%s\"): op %s has no gradient rule", i,
				ir_ops[n->op].name, node_name(g, i), ir_ops[n->op].name);
			bad++;
			continue;
		}
		for (int k = 0; k < n->nin + n->nout; k++) {
			int v = k < n->nin ? n->in[k] : n->out[k - n->nin];
			if (v >= 0 && !ir_shape_static(&g->val[v].shape)) {
				diag(d, "autodiff: node %d (%s \"%s\"): value %%%s has shape %s, not static "
					"(bind the batch size with --shape)", i, ir_ops[n->op].name, node_name(g, i),
					g->val[v].name, ir_shape_str(g, &g->val[v].shape, sb, sizeof sb));
				bad++;
				break;
			}
		}
	}
	return bad ? -1 : 0;
}

/* adj[v] += x */
static int accumulate(Graph *g, int *adj, int v, int x, int node, Diag *d)
{
	if (!ir_shape_eq(&g->val[x].shape, &g->val[v].shape) || g->val[x].dtype != g->val[v].dtype) {
		char a[128], b[128];
		return diag(d, "autodiff: internal error: the gradient rule of node %d (%s) gave %s %s "
			"for %%%s of %s %s", node, ir_ops[g->node[node].op].name,
			ir_dtype_name(g->val[x].dtype), ir_shape_str(g, &g->val[x].shape, a, sizeof a),
			g->val[v].name, ir_dtype_name(g->val[v].dtype),
			ir_shape_str(g, &g->val[v].shape, b, sizeof b));
	}
	if (adj[v] < 0) {
		adj[v] = x;
		return 0;
	}
	char name[256];
	snprintf(name, sizeof name, "grad/%s.acc", g->val[v].name);
	int n = ir_add_node(g, OP_ADD, name, (int[]){adj[v], x}, 2, 1, NULL);
	if (ir_infer_node(g, n, d) < 0)
		return -1;
	adj[v] = ir_out(g, n, 0);
	return 0;
}

static int zeros(Graph *g, int v)
{
	GradCtx c = {.g = g, .node = -1};
	const Value *x = &g->val[v];
	return gr_full(&c, x->dtype, &x->shape, 0);
}

int ps_autodiff(Graph *g, int loss, const int *wrt, int nwrt, int *grad, Diag *d)
{
	const Value *l = &g->val[loss];
	if (!ir_dtype_is_float(l->dtype) || ir_shape_numel(&l->shape) != 1)
		return diag(d, "autodiff: the loss %%%s must be a float scalar", l->name);
	for (int i = 0; i < nwrt; i++)
		if (!ir_shape_static(&g->val[wrt[i]].shape) || !ir_dtype_is_float(g->val[wrt[i]].dtype))
			return diag(d, "autodiff: %%%s: gradients need a float value of static shape",
				g->val[wrt[i]].name);
	int nval = g->nval, nnode = g->nnode;
	bool *on = xcalloc((size_t)nval, sizeof *on);
	int *adj = xmalloc((size_t)nval * sizeof *adj);
	for (int v = 0; v < nval; v++)
		adj[v] = -1;
	mark_path(g, loss, wrt, nwrt, on);
	int rc = check_path(g, on, d);
	if (rc == 0) {
		GradCtx c0 = {.g = g, .node = -1};
		adj[loss] = gr_full(&c0, l->dtype, &l->shape, 1);
	}
	for (int i = nnode - 1; i >= 0 && rc == 0; i--) {
		if (!on_path(g, i, on))
			continue;
		const Node *n = &g->node[i]; /* moves once the rule adds nodes */
		int nin = n->nin, nout = n->nout;
		bool any = false;
		for (int k = 0; k < nout; k++)
			any |= adj[n->out[k]] >= 0;
		if (!any)
			continue;
		bool *need = xcalloc((size_t)nin + 1, sizeof *need);
		int *gout = xmalloc(((size_t)nout + 1) * sizeof *gout);
		int *gin = xmalloc(((size_t)nin + 1) * sizeof *gin);
		for (int k = 0; k < nout; k++)
			gout[k] = adj[n->out[k]];
		for (int k = 0; k < nin; k++) {
			need[k] = n->in[k] >= 0 && on[n->in[k]];
			gin[k] = -1;
		}
		GradFn rule = rules[n->op];
		GradCtx c = {.g = g, .node = i, .need = need, .d = d, .on = on, .non = nval, .extra_v = -1};
		if (rule(&c, gout, gin) < 0 || c.fail) {
			diag(d, "autodiff: the gradient rule of node %d (%s \"%s\") failed", i,
				ir_ops[g->node[i].op].name, node_name(g, i));
			rc = -1;
		}
		for (int k = 0; k < nin && rc == 0; k++)
			if (need[k] && gin[k] >= 0)
				rc = accumulate(g, adj, g->node[i].in[k], gin[k], i, d);
		if (rc == 0 && c.extra_v >= 0 && on[c.extra_v])
			rc = accumulate(g, adj, c.extra_v, c.extra_g, i, d);
		free(need);
		free(gout);
		free(gin);
	}
	if (rc == 0)
		for (int i = 0; i < nwrt; i++)
			grad[i] = adj[wrt[i]] >= 0 ? adj[wrt[i]] : zeros(g, wrt[i]);
	free(on);
	free(adj);
	return rc;
}
