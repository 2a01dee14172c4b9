/* algebraic.c — algebraic identities, one forward sweep in topological
 * order (a rewrite feeds the nodes after it, so chains collapse in one go):
 *
 *   x*1, 1*x, x+0, 0+x, x-0, x/1 -> x   when the constant is all 1 (0) and
 *                                        broadcasting does not change x's
 *                                        shape or dtype
 *   pow(x, 2) -> x*x, pow(x, 1) -> x, pow(x, 0.5) -> sqrt(x)   for a
 *                                        one-element constant exponent
 *                                        that does not change x's shape
 *   identity(x), cast(x) to x's dtype -> x
 *   pad, concat of one input, reduce_* over extent-1 dims (keepdims):
 *   any of these that keeps x's type copies x -> x
 *   transpose(x) with the identity perm -> x
 *   avgpool, maxpool of a 1x1 window, strides 1, no padding -> x (each
 *                                        output is its one input: the
 *                                        6x6 average pool PyTorch's
 *                                        AlexNet exports for a 6x6 input)
 *   transpose(transpose(x, p), q)     -> transpose(x, p∘q), or x
 *   transpose(x) moving only extent-1 axes -> reshape(x) (no data moves)
 *   reshape-like(reshape-like(x))     -> reshape(x)   (reshape, flatten,
 *                                        squeeze, unsqueeze)
 *   a reshape-like op that keeps its input's shape -> x
 *   reshape_dyn(x, s) whose target shape is known -> reshape(x)
 *   matmul(a, W, trans_b) with a constant 2-D W -> matmul(a, W^T), W^T a
 *                                        new constant: the GEMM then reads
 *                                        B's rows in place instead of
 *                                        transposing W on every run;
 *                                        not when a has at most
 *                                        NNCC_ABI_DOTS_MAX_M rows (the
 *                                        runtime streams W's rows as dot
 *                                        products)
 *
 * Removed nodes are left dead for DCE; a graph output keeps its name
 * (ps_forward). The inner node of a collapsed pair stays if something
 * else uses it. */
#include "passes.h"
#include "../runtime/abi.h"

#include <stdlib.h>
#include <string.h>

/* Is v a constant with data whose every element equals want? */
static bool const_all(const Graph *g, int v, double want)
{
	if (!ps_const_data(g, v))
		return false;
	int64_t n = ir_shape_numel(&g->val[v].shape);
	for (int64_t i = 0; i < n; i++) {
		double x;
		if (!ps_const_at(g, v, i, &x) || x != want)
			return false;
	}
	return n > 0;
}

/* May node (one output) be replaced by x without changing its type? */
static bool same_type(const Graph *g, int node, int x)
{
	const Value *y = &g->val[g->node[node].out[0]], *v = &g->val[x];
	return y->dtype == v->dtype && y->shape.rank >= 0 && ir_shape_eq(&y->shape, &v->shape);
}

static bool binary_identity(Graph *g, int i)
{
	const Node *n = &g->node[i];
	int a = n->in[0], b = n->in[1];
	int keep = -1;
	switch (n->op) {
	case OP_ADD:
		keep = const_all(g, b, 0) ? a : const_all(g, a, 0) ? b : -1;
		break;
	case OP_MUL:
		keep = const_all(g, b, 1) ? a : const_all(g, a, 1) ? b : -1;
		break;
	case OP_SUB:
		keep = const_all(g, b, 0) ? a : -1;
		break;
	case OP_DIV:
		keep = const_all(g, b, 1) ? a : -1;
		break;
	default:
		break;
	}
	return keep >= 0 && same_type(g, i, keep) && ps_forward(g, i, keep);
}

/* pow with a constant one-element exponent c: c == 1 gives x, c == 2
 * x*x (exact in any rounding, and fusion then shares x), c == 0.5 sqrt(x)
 * (pow(-0, 0.5) is +0 but sqrt(-0) is -0: equal as numbers). */
static bool power(Graph *g, int i)
{
	Node *n = &g->node[i];
	int x = n->in[0], e = n->in[1];
	double c;
	if (!ps_const_data(g, e) || ir_shape_numel(&g->val[e].shape) != 1 || !ps_const_at(g, e, 0, &c) ||
	    !same_type(g, i, x))
		return false;
	if (c == 1)
		return ps_forward(g, i, x);
	if (c == 2) {
		n->op = OP_MUL;
		n->in[1] = x;
		return true;
	}
	if (c == 0.5) {
		n->op = OP_SQRT;
		n->nin = 1;
		return true;
	}
	return false;
}

/* The perm of a transpose of a rank-r input, default reversed; false if
 * the rank is unknown or the perm malformed. */
static bool get_perm(const Graph *g, const Node *n, int64_t *p)
{
	int r = g->val[n->in[0]].shape.rank;
	const int64_t *a;
	int k = ir_attr_ints(n, "perm", &a);
	if (r < 0 || (k >= 0 && k != r))
		return false;
	for (int i = 0; i < r; i++)
		p[i] = k >= 0 ? a[i] : r - 1 - i;
	for (int i = 0; i < r; i++)
		if (p[i] < 0 || p[i] >= r)
			return false;
	return true;
}

static bool is_ident_perm(const int64_t *p, int r)
{
	for (int i = 0; i < r; i++)
		if (p[i] != i)
			return false;
	return true;
}

/* perm q keeps the order of x's axes of extent other than 1 (unknown
 * extents count as other): the transpose moves no data, a reshape */
static bool moves_only_units(const Shape *xs, const int64_t *q, int r)
{
	int64_t last = -1;
	if (xs->rank != r)
		return false;
	for (int k = 0; k < r; k++) {
		if (xs->d[q[k]].n == 1)
			continue;
		if (q[k] < last)
			return false;
		last = q[k];
	}
	return true;
}

static bool transpose(Graph *g, int i)
{
	const Node *n = &g->node[i];
	int x = n->in[0];
	int r = g->val[x].shape.rank;
	int64_t q[IR_MAX_RANK], p[IR_MAX_RANK], c[IR_MAX_RANK];
	if (!get_perm(g, n, q))
		return false;
	if (is_ident_perm(q, r))
		return same_type(g, i, x) && ps_forward(g, i, x);
	if (moves_only_units(&g->val[x].shape, q, r))
		return ps_make_reshape(g, i, x);
	const Value *xv = &g->val[x];
	if (xv->kind != VK_NODE || g->node[xv->def].op != OP_TRANSPOSE ||
		!get_perm(g, &g->node[xv->def], p))
		return false;
	int inner = g->node[xv->def].in[0];
	for (int k = 0; k < r; k++) /* out dim k = T1 dim q[k] = x dim p[q[k]] */
		c[k] = p[q[k]];
	if (is_ident_perm(c, r))
		return same_type(g, i, inner) && ps_forward(g, i, inner);
	g->node[i].in[0] = inner;
	ir_set_ints(g, i, "perm", c, r);
	return true;
}

/* Does the attribute hold only v (or is it absent)? */
static bool ints_all(const Node *n, const char *name, int64_t v)
{
	const int64_t *a;
	int k = ir_attr_ints(n, name, &a);
	for (int j = 0; j < k; j++)
		if (a[j] != v)
			return false;
	return true;
}

/* A pool whose every window is one input element at its own place. */
static bool unit_pool(Graph *g, int i)
{
	const Node *n = &g->node[i];
	const int64_t *k;
	if (ir_attr_ints(n, "kernel", &k) < 1 || !ints_all(n, "kernel", 1) || !ints_all(n, "strides", 1) ||
		!ints_all(n, "pads", 0))
		return false;
	return same_type(g, i, n->in[0]) && ps_forward(g, i, n->in[0]);
}

static bool reshape_like(Op op)
{
	return op == OP_RESHAPE || op == OP_FLATTEN || op == OP_SQUEEZE || op == OP_UNSQUEEZE;
}

static bool reshape_chain(Graph *g, int i)
{
	const Node *n = &g->node[i];
	int x = n->in[0];
	if (same_type(g, i, x))
		return ps_forward(g, i, x);
	const Value *xv = &g->val[x];
	if (xv->kind != VK_NODE || !reshape_like(g->node[xv->def].op))
		return false;
	int inner = g->node[xv->def].in[0];
	if (same_type(g, i, inner))
		return ps_forward(g, i, inner);
	return ps_make_reshape(g, i, inner);
}

/* Rows of the GEMM of matmul node n with a matrix b: a's extents but the
 * last, multiplied (INT64_MAX when one is symbolic). */
static int64_t matmul_rows(const Graph *g, const Node *n)
{
	const Shape *a = &g->val[n->in[0]].shape;
	int64_t m = 1;
	for (int d = 0; d + 1 < a->rank; d++) {
		if (a->d[d].n < 0 || a->d[d].n > INT64_MAX / (m ? m : 1))
			return INT64_MAX;
		m *= a->d[d].n;
	}
	return m;
}

/* matmul(a, W, trans_b = 1) with W a constant matrix: W transposed once
 * here (W stays if something else reads it). Not for a named parameter of
 * a training step (a frozen one): its weights file keeps it by name. */
static bool const_trans_b(Graph *g, int i, const Options *o)
{
	const Node *n = &g->node[i];
	if (n->nin < 2 || !ir_attr_int(n, "trans_b", 0) || !ps_const_data(g, n->in[1]))
		return false;
	const Value *w = &g->val[n->in[1]];
	size_t esz = ir_dtype_size(w->dtype);
	if (w->shape.rank != 2 || esz == 0 || (o && o->train && w->param))
		return false;
	int64_t r = w->shape.d[0].n, c = w->shape.d[1].n, dims[2] = {c, r};
	if (matmul_rows(g, n) <= NNCC_ABI_DOTS_MAX_M && c >= NNCC_ABI_DOTS_MIN_K)
		return false; /* the runtime streams W's rows as they are */
	unsigned char *buf = xmalloc(w->nbytes ? w->nbytes : 1);
	const unsigned char *src = w->data;
	for (int64_t y = 0; y < r; y++)
		for (int64_t x = 0; x < c; x++)
			memcpy(buf + (size_t)(x * r + y) * esz, src + (size_t)(y * c + x) * esz, esz);
	const char *name = arena_printf(&g->arena, "%s.T", w->name);
	int t = ir_find_value(g, name); /* made for another matmul of W: shared */
	Shape ts = ir_shape_make(2, dims);
	if (t < 0 || !ps_const_data(g, t) || g->val[t].dtype != w->dtype ||
	    !ir_shape_eq(&g->val[t].shape, &ts) || memcmp(g->val[t].data, buf, w->nbytes))
		t = ir_add_const(g, name, w->dtype, ts, buf, w->nbytes, w->param);
	free(buf);
	if (t < 0)
		return false;
	Node *m = &g->node[i]; /* ir_add_const may move the node array */
	m->in[1] = t;
	ir_set_int(g, i, "trans_b", 0);
	return true;
}

void ps_algebraic(Graph *g, const Options *o)
{
	for (int i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		if (n->dead || n->nout != 1)
			continue;
		switch (n->op) {
		case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV:
			binary_identity(g, i);
			break;
		case OP_POW:
			power(g, i);
			break;
		case OP_IDENTITY:
			ps_forward(g, i, n->in[0]);
			break;
		case OP_CAST: case OP_PAD: case OP_REDUCE_SUM: case OP_REDUCE_MEAN:
		case OP_REDUCE_MAX:
			if (same_type(g, i, n->in[0]))
				ps_forward(g, i, n->in[0]);
			break;
		case OP_CONCAT:
			if (n->nin == 1 && same_type(g, i, n->in[0]))
				ps_forward(g, i, n->in[0]);
			break;
		case OP_TRANSPOSE:
			transpose(g, i);
			break;
		case OP_AVGPOOL: case OP_MAXPOOL:
			unit_pool(g, i);
			break;
		case OP_RESHAPE_DYN:
			ps_make_reshape(g, i, n->in[0]);
			break;
		case OP_MATMUL:
			const_trans_b(g, i, o);
			break;
		default:
			if (reshape_like(n->op))
				reshape_chain(g, i);
			break;
		}
	}
}
