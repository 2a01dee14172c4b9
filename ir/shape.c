/* shape.c — shape rules, one per name in ops.def's shape column, and their
 * driver ir_infer_node().
 *
 * A rule reads a node's input dtypes and shapes and its attributes, and
 * writes its outputs' dtypes and shapes, or fails with a message starting
 * `node N (op "name"): `. Rules see a ShapeCtx rather than the graph's
 * values, so eval.c runs the very same rules on concrete tensor shapes
 * (ir_infer_shapes). Symbolic dims flow through where the result is still
 * that symbol; where it cannot be known the dim becomes unknown (n = -1,
 * sym = 0). An input of unknown rank leaves the outputs unknown. The output
 * dtype is input 0's. Sizes use checked arithmetic: attributes and dims come
 * from untrusted models. */
#include "shape.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ir_node_err(const Graph *g, int node, Diag *d, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	const Node *n = &g->node[node];
	return diag(d, "node %d (%s \"%s\"): %s", node, ir_ops[n->op].name,
		n->name ? n->name : "", msg);
}

/* Shape text for messages; each call site passes its own buffer. */
const char *sh_str(const ShapeCtx *c, const Shape *s, char *buf)
{
	return ir_shape_str(c->g, s, buf, 256);
}

/* "[2, -1, 0]" for an ints attribute; buf holds 256 bytes. */
const char *sh_ints_str(const int64_t *v, int n, char *buf)
{
	int len = snprintf(buf, 256, "[");
	for (int i = 0; i < n && len < 200; i++)
		len += snprintf(buf + len, (size_t)(256 - len), "%s%lld", i ? ", " : "", (long long)v[i]);
	snprintf(buf + len, (size_t)(256 - len), "]");
	return buf;
}

/* Both dtypes known and different: fail. */
int sh_same_dtype(const ShapeCtx *c, int a, int b)
{
	DType x = c->idt[a], y = c->idt[b];
	if (x != DT_UNDEF && y != DT_UNDEF && x != y)
		return FAIL(c, "input %d is %s but input %d is %s", a, ir_dtype_name(x), b,
			ir_dtype_name(y));
	return 0;
}

/* Maps axis (negative counts from the end) into 0..rank-1, or -1. */
int sh_norm_axis(int64_t axis, int rank)
{
	if (axis < 0)
		axis += rank;
	return axis >= 0 && axis < rank ? (int)axis : -1;
}

/* Reads an ints attribute of exactly n entries into v, or dflt if absent. */
int sh_ints_attr(const ShapeCtx *c, const char *name, int n, int64_t dflt, int64_t *v)
{
	const int64_t *a;
	int k = ir_attr_ints(c->n, name, &a);
	if (k < 0) {
		for (int i = 0; i < n; i++)
			v[i] = dflt;
		return 0;
	}
	if (k != n)
		return FAIL(c, "%s must have %d entries, got %d", name, n, k);
	memcpy(v, a, (size_t)n * sizeof *v);
	return 0;
}

/* Numpy broadcasting of one pair of dims; false on a known mismatch. */
static bool bdim(Dim a, Dim b, Dim *r)
{
	if (sh_known(a) && sh_known(b)) {
		if (a.n != b.n && a.n != 1 && b.n != 1)
			return false;
		*r = a.n == 1 ? b : a;
	} else if (sh_known(a)) {
		*r = a.n == 1 ? b : a; /* the other must be 1 or equal: a wins */
	} else if (sh_known(b)) {
		*r = b.n == 1 ? a : b;
	} else if (a.sym > 0 && a.sym == b.sym) {
		*r = a;
	} else {
		*r = sh_unknown();
	}
	return true;
}

int ir_broadcast(const Shape *a, const Shape *b, Shape *out)
{
	if (a->rank < 0 || b->rank < 0) {
		*out = ir_shape_unknown();
		return 0;
	}
	Shape r;
	r.rank = a->rank > b->rank ? a->rank : b->rank;
	for (int i = 0; i < r.rank; i++) {
		int ia = a->rank - r.rank + i, ib = b->rank - r.rank + i;
		Dim da = ia >= 0 ? a->d[ia] : sh_dim(1);
		Dim db = ib >= 0 ? b->d[ib] : sh_dim(1);
		if (!bdim(da, db, &r.d[i]))
			return -1;
	}
	*out = r;
	return 0;
}

/* add sub mul div (binary) and every unary elementwise op. */
int shape_broadcast_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	if (c->n->nin == 1) {
		c->osh[0] = c->ish[0];
		return 0;
	}
	if (sh_same_dtype(c, 0, 1))
		return -1;
	char b1[256], b2[256];
	if (ir_broadcast(&c->ish[0], &c->ish[1], &c->osh[0]))
		return FAIL(c, "cannot broadcast %s with %s", sh_str(c, &c->ish[0], b1),
			sh_str(c, &c->ish[1], b2));
	return 0;
}

static void swap_last2(Shape *s)
{
	Dim t = s->d[s->rank - 1];
	s->d[s->rank - 1] = s->d[s->rank - 2];
	s->d[s->rank - 2] = t;
}

int shape_matmul_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	if (sh_same_dtype(c, 0, 1))
		return -1;
	Shape a = c->ish[0], b = c->ish[1];
	if (a.rank < 0 || b.rank < 0)
		return 0;
	char b1[256], b2[256];
	if (a.rank == 0 || b.rank == 0)
		return FAIL(c, "operands must have rank >= 1, got %s and %s", sh_str(c, &a, b1),
			sh_str(c, &b, b2));
	bool a1 = a.rank == 1, b1d = b.rank == 1;
	if (a1) {
		a.rank = 2;
		a.d[1] = a.d[0];
		a.d[0] = sh_dim(1);
	} else if (ir_attr_int(c->n, "trans_a", 0)) {
		swap_last2(&a);
	}
	if (b1d) {
		b.rank = 2;
		b.d[1] = sh_dim(1);
	} else if (ir_attr_int(c->n, "trans_b", 0)) {
		swap_last2(&b);
	}
	Dim ka = a.d[a.rank - 1], kb = b.d[b.rank - 2];
	if (sh_known(ka) && sh_known(kb) && ka.n != kb.n)
		return FAIL(c, "inner dims differ (%lld vs %lld): %s times %s", (long long)ka.n,
			(long long)kb.n, sh_str(c, &c->ish[0], b1), sh_str(c, &c->ish[1], b2));
	Shape ba = a, bb = b, r;
	ba.rank -= 2;
	bb.rank -= 2;
	if (ir_broadcast(&ba, &bb, &r))
		return FAIL(c, "cannot broadcast batch dims of %s and %s", sh_str(c, &c->ish[0], b1),
			sh_str(c, &c->ish[1], b2));
	if (!a1)
		r.d[r.rank++] = a.d[a.rank - 2];
	if (!b1d)
		r.d[r.rank++] = b.d[b.rank - 1];
	c->osh[0] = r;
	return 0;
}

int shape_reduce_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	if (x->rank < 0)
		return 0;
	bool red[IR_MAX_RANK] = {0};
	const int64_t *ax;
	int na = ir_attr_ints(c->n, "axes", &ax);
	if (na <= 0) { /* absent or empty: every axis */
		for (int i = 0; i < x->rank; i++)
			red[i] = true;
	}
	for (int i = 0; i < na; i++) {
		int a = sh_norm_axis(ax[i], x->rank);
		if (a < 0)
			return FAIL(c, "axis %lld out of range for rank %d", (long long)ax[i], x->rank);
		if (red[a])
			return FAIL(c, "axis %lld listed twice", (long long)ax[i]);
		red[a] = true;
	}
	bool keep = ir_attr_int(c->n, "keepdims", 1) != 0;
	Shape *r = &c->osh[0];
	r->rank = 0;
	for (int i = 0; i < x->rank; i++) {
		if (!red[i])
			r->d[r->rank++] = x->d[i];
		else if (keep)
			r->d[r->rank++] = sh_dim(1);
	}
	return 0;
}

/* softmax, log_softmax, batchnorm, identity: output is input 0. */
int shape_same_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	c->osh[0] = c->ish[0];
	const Shape *x = &c->ish[0];
	char b1[256], b2[256];
	switch (c->n->op) {
	case OP_SOFTMAX:
	case OP_LOGSOFTMAX: {
		int64_t axis = ir_attr_int(c->n, "axis", -1);
		if (x->rank >= 0 && sh_norm_axis(axis, x->rank) < 0)
			return FAIL(c, "axis %lld out of range for rank %d", (long long)axis, x->rank);
		break;
	}
	case OP_BATCHNORM:
		if (x->rank >= 0 && x->rank < 2)
			return FAIL(c, "input must have rank >= 2, got %s", sh_str(c, x, b1));
		for (int k = 1; k < 5; k++) {
			const Shape *p = &c->ish[k];
			if (sh_same_dtype(c, 0, k))
				return -1;
			if (p->rank < 0)
				continue;
			if (p->rank != 1 || (x->rank >= 0 && sh_known(x->d[1]) && sh_known(p->d[0]) &&
				x->d[1].n != p->d[0].n))
				return FAIL(c, "input %d has shape %s; expected [C] for input %s", k,
					sh_str(c, p, b1), sh_str(c, x, b2));
		}
		break;
	default:
		break;
	}
	return 0;
}

/* ops.def names shape_xxx; the context-based rule is shape_xxx_rule. */
static const RuleFn rules[OP_COUNT] = {
#define OP(id, name, nin_min, nin_max, nout, flags, attrs, shape, grad) [OP_##id] = shape##_rule,
#include "ops.def"
#undef OP
};

int ir_infer_shapes(const Graph *g, int node, const DType *idt, const Shape *ish, DType *odt,
	Shape *osh, Diag *d)
{
	return ir_infer_shapes_data(g, node, idt, ish, NULL, odt, osh, d);
}

int ir_infer_shapes_data(const Graph *g, int node, const DType *idt, const Shape *ish,
	const Tensor *itens, DType *odt, Shape *osh, Diag *d)
{
	const Node *n = &g->node[node];
	const OpInfo *oi = &ir_ops[n->op];
	if (n->nin < oi->nin_min && oi->nin_max < 0)
		return ir_node_err(g, node, d, "has %d inputs; expected at least %d", n->nin,
			oi->nin_min);
	if (n->nin < oi->nin_min || (oi->nin_max >= 0 && n->nin > oi->nin_max))
		return ir_node_err(g, node, d, "has %d inputs; expected %d to %d", n->nin,
			oi->nin_min, oi->nin_max);
	if (n->nout != oi->nout)
		return ir_node_err(g, node, d, "has %d outputs; expected %d", n->nout, oi->nout);
	for (int k = 0; k < oi->nin_min; k++)
		if (n->in[k] < 0)
			return ir_node_err(g, node, d, "required input %d is missing", k);
	if (ir_check_attr_domains(g, node, d) < 0)
		return -1;
	for (int k = 0; k < n->nout; k++) {
		odt[k] = DT_UNDEF;
		osh[k] = ir_shape_unknown();
	}
	ShapeCtx c = {g, node, n, idt, ish, odt, osh, d, itens};
	return rules[n->op](&c);
}

/* Runs node's rule on its input values and stores the outputs' types. */
static int run_rule(Graph *g, int node, Diag *d)
{
	const Node *n = &g->node[node];
	int nin = n->nin > 0 ? n->nin : 1;
	DType *idt = xcalloc((size_t)nin, sizeof *idt);
	Shape *ish = xcalloc((size_t)nin, sizeof *ish);
	DType odt[8];
	Shape osh[8];
	NN_ASSERT(n->nout <= 8);
	for (int k = 0; k < n->nin; k++) {
		int v = n->in[k];
		NN_ASSERT(v < g->nval);
		idt[k] = v >= 0 ? g->val[v].dtype : DT_UNDEF;
		ish[k] = v >= 0 ? g->val[v].shape : ir_shape_unknown();
	}
	int r = ir_infer_shapes(g, node, idt, ish, odt, osh, d);
	free(idt);
	free(ish);
	if (r)
		return r;
	for (int k = 0; k < n->nout; k++) {
		Value *v = &g->val[n->out[k]];
		v->dtype = odt[k];
		v->shape = osh[k];
	}
	return 0;
}

int sh_run_rule(Graph *g, int node, Diag *d) { return run_rule(g, node, d); }

int ir_infer_node(Graph *g, int node, Diag *d)
{
	if (g->node[node].dead)
		return 0;
	return ir_ops[g->node[node].op].shape(g, node, d);
}

int shape_broadcast(Graph *g, int node, Diag *d) { return run_rule(g, node, d); }
int shape_matmul(Graph *g, int node, Diag *d) { return run_rule(g, node, d); }
int shape_conv(Graph *g, int node, Diag *d) { return run_rule(g, node, d); }
int shape_pool(Graph *g, int node, Diag *d) { return run_rule(g, node, d); }
int shape_reduce(Graph *g, int node, Diag *d) { return run_rule(g, node, d); }
int shape_same(Graph *g, int node, Diag *d) { return run_rule(g, node, d); }
int shape_pad(Graph *g, int node, Diag *d) { return run_rule(g, node, d); }
int shape_transpose(Graph *g, int node, Diag *d) { return run_rule(g, node, d); }
int shape_concat(Graph *g, int node, Diag *d) { return run_rule(g, node, d); }
int shape_reshape(Graph *g, int node, Diag *d) { return run_rule(g, node, d); }
int shape_flatten(Graph *g, int node, Diag *d) { return run_rule(g, node, d); }

