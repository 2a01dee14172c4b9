/* grad_norm.c — the adjoint of a standardization as one rule, not as the
 * chain of its primitives.
 *
 * The importers write batch, instance, layer and group normalization in
 * training mode as primitives (frontend/onnx_red.c):
 *
 *     m = reduce_mean(x, A)   d = x - m   v = reduce_mean(d * d, A)
 *     r = 1 / sqrt(v + eps)   xn = d * r
 *
 * with A the reduced axes, kept. Differentiated op by op, that chain gives
 * the adjoint G of xn back to x through the variance and the mean: G * b
 * materialized, sum(G * d) beside sum(G * xn) (the same sum, scaled), the
 * adjoint of d materialized for its own sum and then added to it — seven
 * passes over a tensor of x's size, where the closed form needs two (the
 * one PyTorch's batch norm backward uses, the term sum(d) = 0 dropped):
 *
 *     dx = r * (G - mean(G) - xn * mean(G * xn))          (means over A)
 *
 * gr_mul calls gr_standardize for the node xn = d * r of such a chain
 * (std_match: every node of it as above, and nothing on the gradient's
 * path reads its inner values but the chain itself); the adjoint goes
 * straight to x (GradCtx.extra), the inner nodes get none and autodiff
 * passes them by. When G is itself a * b with b constant along A and
 * broadcast along exactly A (batch norm's scale, [C, 1, 1] against
 * [N, C, H, W]), the sums are b times those of a, written as the
 * unbroadcasts the rules of y = xn * b + beta make for the scale's and the
 * bias's adjoints, sum(a * xn) and sum(a): CSE merges them, and the whole
 * backward pass of the normalization is those two reductions and one
 * elementwise kernel. */
#include "grad.h"

#include <string.h>

/* The values and nodes of one standardization chain. */
typedef struct Std {
	int x, m, d, sq, v, e, s, r, xn; /* values */
	int64_t axes[IR_MAX_RANK];
	int naxes;
} Std;

/* The live node of op `op` and one output that defines v, or NULL. */
static const Node *node_of(const Graph *g, int v, Op op)
{
	int i = v >= 0 ? g->val[v].def : -1;
	if (i < 0 || i >= g->nnode)
		return NULL;
	const Node *n = &g->node[i];
	return !n->dead && n->op == op && n->nout == 1 && n->out[0] == v ? n : NULL;
}

/* A reduce_mean keeping its dims: its axes, sorted and non-negative. */
static bool mean_axes(const Graph *g, const Node *n, int64_t *axes, int *na)
{
	int rank = g->val[n->in[0]].shape.rank;
	const int64_t *a;
	int k = ir_attr_ints(n, "axes", &a);
	if (n->nin != 1 || ir_attr_int(n, "keepdims", 1) != 1 || k <= 0 || k > rank)
		return false;
	bool seen[IR_MAX_RANK] = {false};
	for (int i = 0; i < k; i++) {
		int64_t ax = a[i] < 0 ? a[i] + rank : a[i];
		if (ax < 0 || ax >= rank || seen[ax])
			return false;
		seen[ax] = true;
	}
	*na = 0;
	for (int i = 0; i < rank; i++)
		if (seen[i])
			axes[(*na)++] = i;
	return true;
}

/* v is a constant float scalar, equal to want unless any. */
static bool const_scalar(const Graph *g, int v, double want, bool any)
{
	const Value *c = &g->val[v];
	if (c->kind != VK_CONST || !c->data || c->state || ir_shape_numel(&c->shape) != 1 ||
	    (c->dtype != DT_F32 && c->dtype != DT_F64))
		return false;
	double x = c->dtype == DT_F32 ? *(const float *)c->data : *(const double *)c->data;
	return any || x == want;
}

/* Every node on the gradient's path (an output on it) that reads one of
 * the chain's inner values (outs[0 .. nouts - 1)) is one of the chain's
 * nodes, given by their outputs (outs[0 .. nouts)). The rules' own nodes,
 * appended since autodiff began (outputs past c->non), are not on it. */
static bool only_chain_reads(const GradCtx *c, const int *outs, int nouts)
{
	const Graph *g = c->g;
	for (int i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		bool reads = false, on = false, mine = false;
		for (int k = 0; k < n->nin; k++)
			for (int j = 0; j < nouts - 1; j++)
				reads |= n->in[k] == outs[j];
		for (int k = 0; k < n->nout; k++) {
			on |= n->out[k] < c->non && c->on[n->out[k]];
			for (int j = 0; j < nouts; j++)
				mine |= n->out[k] == outs[j];
		}
		if (reads && on && !mine)
			return false;
	}
	return true;
}

/* Whether the forward node (a mul) is xn = d * r of a standardization. */
static bool std_match(const GradCtx *c, Std *p)
{
	const Graph *g = c->g;
	const Node *n = gr_node(c);
	if (!c->on || n->op != OP_MUL || n->nin != 2)
		return false;
	memset(p, 0, sizeof *p);
	p->xn = n->out[0];
	for (int side = 0; side < 2; side++) {
		p->d = n->in[side], p->r = n->in[1 - side];
		const Node *sub = node_of(g, p->d, OP_SUB), *div = node_of(g, p->r, OP_DIV);
		if (!sub || !div || sub->nin != 2 || div->nin != 2)
			continue;
		const Node *mn = node_of(g, sub->in[1], OP_REDUCE_MEAN);
		if (!mn || mn->in[0] != sub->in[0] || !mean_axes(g, mn, p->axes, &p->naxes))
			continue;
		p->x = sub->in[0], p->m = sub->in[1];
		const Node *sq = node_of(g, div->in[1], OP_SQRT);
		if (!const_scalar(g, div->in[0], 1, false) || !sq || sq->nin != 1)
			continue;
		p->s = div->in[1];
		const Node *add = node_of(g, sq->in[0], OP_ADD);
		if (!add || add->nin != 2)
			continue;
		p->e = sq->in[0];
		int vi = const_scalar(g, add->in[1], 0, true) ? 0 : const_scalar(g, add->in[0], 0, true) ? 1 : -1;
		if (vi < 0)
			continue;
		p->v = add->in[vi];
		const Node *vm = node_of(g, p->v, OP_REDUCE_MEAN);
		int64_t ax[IR_MAX_RANK];
		int na;
		if (!vm || !mean_axes(g, vm, ax, &na) || na != p->naxes ||
		    memcmp(ax, p->axes, (size_t)na * sizeof *ax))
			continue;
		p->sq = vm->in[0];
		const Node *mul = node_of(g, p->sq, OP_MUL);
		if (!mul || mul->nin != 2 || mul->in[0] != p->d || mul->in[1] != p->d)
			continue;
		const Value *xv = &g->val[p->x];
		if (!ir_dtype_is_float(xv->dtype) || !ir_shape_eq(&xv->shape, &g->val[p->xn].shape))
			continue;
		/* the chain's inner values feed nothing else on the path */
		const int outs[] = {p->m, p->d, p->sq, p->v, p->e, p->s, p->r, p->xn};
		if (only_chain_reads(c, outs, 8))
			return true;
	}
	return false;
}

/* G = a * b with b constant along the chain's axes and broadcast along
 * exactly them (right-aligned against x): *a, *b. */
static bool scaled(const GradCtx *c, const Std *p, int G, int *a, int *b)
{
	const Node *n = node_of(c->g, G, OP_MUL);
	if (!n || n->nin != 2)
		return false;
	Shape xs = gr_val(c, p->x)->shape;
	for (int side = 0; side < 2; side++) {
		Shape as = gr_val(c, n->in[side])->shape, bs = gr_val(c, n->in[1 - side])->shape;
		if (!ir_shape_eq(&as, &xs) || bs.rank > xs.rank)
			continue;
		int lead = xs.rank - bs.rank, k = 0;
		bool ok = true;
		for (int i = 0; i < xs.rank && ok; i++) {
			bool bcast = i < lead || (bs.d[i - lead].n == 1 && xs.d[i].n != 1);
			bool in_a = k < p->naxes && p->axes[k] == i;
			k += in_a;
			ok = bcast == in_a && (i < lead || bs.d[i - lead].n == 1 || bs.d[i - lead].n == xs.d[i].n);
		}
		if (ok) {
			*a = n->in[side], *b = n->in[1 - side];
			return true;
		}
	}
	return false;
}

int gr_standardize(GradCtx *c, int G)
{
	Std p;
	if (!std_match(c, &p))
		return 0;
	const Value *xv = gr_val(c, p.x);
	DType t = xv->dtype;
	Shape xs = xv->shape;
	int64_t count = 1;
	for (int i = 0; i < p.naxes; i++)
		count *= xs.d[p.axes[i]].n;
	int inv = gr_scalar(c, t, 1.0 / (double)count), a = G, b = -1, s1, s2;
	if (scaled(c, &p, G, &a, &b)) { /* G = a * b: the sums of a, b outside */
		Shape bs = gr_val(c, b)->shape;
		s1 = gr_unbroadcast(c, a, &bs);
		s2 = gr_unbroadcast(c, gr_bin(c, OP_MUL, a, p.xn), &bs);
	} else {
		s1 = gr_reduce(c, OP_REDUCE_SUM, G, p.axes, p.naxes, 1);
		s2 = gr_reduce(c, OP_REDUCE_SUM, gr_bin(c, OP_MUL, G, p.xn), p.axes, p.naxes, 1);
	}
	int mid = gr_bin(c, OP_SUB, gr_bin(c, OP_SUB, a, gr_bin(c, OP_MUL, s1, inv)),
			 gr_bin(c, OP_MUL, p.xn, gr_bin(c, OP_MUL, s2, inv)));
	int dx = gr_bin(c, OP_MUL, mid, b >= 0 ? gr_bin(c, OP_MUL, p.r, b) : p.r);
	if (c->fail)
		return -1;
	if (!ir_shape_eq(&gr_val(c, dx)->shape, &xs)) {
		c->fail = 1;
		return -1;
	}
	c->extra_v = p.x, c->extra_g = dx;
	return 1;
}
