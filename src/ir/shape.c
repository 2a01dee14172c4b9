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
#include "eval.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ShapeCtx {
	const Graph *g;   /* symbol names for messages */
	int node;         /* node index, for messages */
	const Node *n;    /* op, inputs (for omitted ones) and attributes */
	const DType *idt; /* input dtypes, n->nin */
	const Shape *ish; /* input shapes, n->nin */
	DType *odt;       /* output dtypes, n->nout; preset DT_UNDEF */
	Shape *osh;       /* output shapes, n->nout; preset unknown */
	Diag *d;          /* where errors go */
} ShapeCtx;

typedef int (*RuleFn)(const ShapeCtx *c);

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

#define FAIL(c, ...) ir_node_err((c)->g, (c)->node, (c)->d, __VA_ARGS__)

/* Shape text for messages; each call site passes its own buffer. */
static const char *sstr(const ShapeCtx *c, const Shape *s, char *buf)
{
	return ir_shape_str(c->g, s, buf, 256);
}

/* "[2, -1, 0]" for an ints attribute; buf holds 256 bytes. */
static const char *ints_str(const int64_t *v, int n, char *buf)
{
	int len = snprintf(buf, 256, "[");
	for (int i = 0; i < n && len < 200; i++)
		len += snprintf(buf + len, (size_t)(256 - len), "%s%lld", i ? ", " : "", (long long)v[i]);
	snprintf(buf + len, (size_t)(256 - len), "]");
	return buf;
}

static Dim dknown(int64_t n) { return (Dim){n, 0}; }
static Dim dunknown(void) { return (Dim){-1, 0}; }
static bool isknown(Dim x) { return x.sym == 0 && x.n >= 0; }

static bool has_in(const ShapeCtx *c, int k) { return k < c->n->nin && c->n->in[k] >= 0; }

/* Both dtypes known and different: fail. */
static int same_dtype(const ShapeCtx *c, int a, int b)
{
	DType x = c->idt[a], y = c->idt[b];
	if (x != DT_UNDEF && y != DT_UNDEF && x != y)
		return FAIL(c, "input %d is %s but input %d is %s", a, ir_dtype_name(x), b,
			ir_dtype_name(y));
	return 0;
}

/* Maps axis (negative counts from the end) into 0..rank-1, or -1. */
static int norm_axis(int64_t axis, int rank)
{
	if (axis < 0)
		axis += rank;
	return axis >= 0 && axis < rank ? (int)axis : -1;
}

/* Reads an ints attribute of exactly n entries into v, or dflt if absent. */
static int ints_attr(const ShapeCtx *c, const char *name, int n, int64_t dflt, int64_t *v)
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

/* Product of dims: known if all are; a zero makes it 0; a lone symbol
 * times known 1s stays that symbol; else unknown. false on overflow. */
static bool dim_prod(const Dim *d, int n, Dim *out)
{
	int64_t p = 1;
	int nunk = 0, sym = 0;
	bool zero = false;
	for (int i = 0; i < n; i++) {
		if (isknown(d[i])) {
			if (d[i].n == 0)
				zero = true;
			else if (!ck_mul(p, d[i].n, &p))
				return false;
		} else {
			nunk++;
			sym = d[i].sym;
		}
	}
	if (zero)
		*out = dknown(0);
	else if (nunk == 0)
		*out = dknown(p);
	else if (nunk == 1 && sym > 0 && p == 1)
		*out = (Dim){-1, sym};
	else
		*out = dunknown();
	return true;
}

/* Numpy broadcasting of one pair of dims; false on a known mismatch. */
static bool bdim(Dim a, Dim b, Dim *r)
{
	if (isknown(a) && isknown(b)) {
		if (a.n != b.n && a.n != 1 && b.n != 1)
			return false;
		*r = a.n == 1 ? b : a;
	} else if (isknown(a)) {
		*r = a.n == 1 ? b : a; /* the other must be 1 or equal: a wins */
	} else if (isknown(b)) {
		*r = b.n == 1 ? a : b;
	} else if (a.sym > 0 && a.sym == b.sym) {
		*r = a;
	} else {
		*r = dunknown();
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
		Dim da = ia >= 0 ? a->d[ia] : dknown(1);
		Dim db = ib >= 0 ? b->d[ib] : dknown(1);
		if (!bdim(da, db, &r.d[i]))
			return -1;
	}
	*out = r;
	return 0;
}

/* add sub mul div (binary) and every unary elementwise op. */
static int shape_broadcast_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	if (c->n->nin == 1) {
		c->osh[0] = c->ish[0];
		return 0;
	}
	if (same_dtype(c, 0, 1))
		return -1;
	char b1[256], b2[256];
	if (ir_broadcast(&c->ish[0], &c->ish[1], &c->osh[0]))
		return FAIL(c, "cannot broadcast %s with %s", sstr(c, &c->ish[0], b1),
			sstr(c, &c->ish[1], b2));
	return 0;
}

static void swap_last2(Shape *s)
{
	Dim t = s->d[s->rank - 1];
	s->d[s->rank - 1] = s->d[s->rank - 2];
	s->d[s->rank - 2] = t;
}

static int shape_matmul_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	if (same_dtype(c, 0, 1))
		return -1;
	Shape a = c->ish[0], b = c->ish[1];
	if (a.rank < 0 || b.rank < 0)
		return 0;
	char b1[256], b2[256];
	if (a.rank == 0 || b.rank == 0)
		return FAIL(c, "operands must have rank >= 1, got %s and %s", sstr(c, &a, b1),
			sstr(c, &b, b2));
	bool a1 = a.rank == 1, b1d = b.rank == 1;
	if (a1) {
		a.rank = 2;
		a.d[1] = a.d[0];
		a.d[0] = dknown(1);
	} else if (ir_attr_int(c->n, "trans_a", 0)) {
		swap_last2(&a);
	}
	if (b1d) {
		b.rank = 2;
		b.d[1] = dknown(1);
	} else if (ir_attr_int(c->n, "trans_b", 0)) {
		swap_last2(&b);
	}
	Dim ka = a.d[a.rank - 1], kb = b.d[b.rank - 2];
	if (isknown(ka) && isknown(kb) && ka.n != kb.n)
		return FAIL(c, "inner dims differ (%lld vs %lld): %s times %s", (long long)ka.n,
			(long long)kb.n, sstr(c, &c->ish[0], b1), sstr(c, &c->ish[1], b2));
	Shape ba = a, bb = b, r;
	ba.rank -= 2;
	bb.rank -= 2;
	if (ir_broadcast(&ba, &bb, &r))
		return FAIL(c, "cannot broadcast batch dims of %s and %s", sstr(c, &c->ish[0], b1),
			sstr(c, &c->ish[1], b2));
	if (!a1)
		r.d[r.rank++] = a.d[a.rank - 2];
	if (!b1d)
		r.d[r.rank++] = b.d[b.rank - 1];
	c->osh[0] = r;
	return 0;
}

/* Output extent of a sliding window: floor or (with ceil_mode, PyTorch's
 * rule) ceil of (in + pb + pe - dil*(k-1) - 1)/s, plus 1. 0 on success, -1 on
 * overflow, -2 when the window does not fit into the padded input. */
static int window_out(int64_t in, int64_t pb, int64_t pe, int64_t k, int64_t s, int64_t dil,
	bool ceil_mode, int64_t *out)
{
	int64_t ext, num;
	if (!ck_mul(dil, k - 1, &ext) || !ck_add(ext, 1, &ext))
		return -1;
	if (!ck_add(in, pb, &num) || !ck_add(num, pe, &num))
		return -1;
	num -= ext;
	if (num < 0)
		return -2;
	int64_t o = num / s + 1;
	if (ceil_mode) {
		o = (num + s - 1) / s + 1;
		int64_t last;
		if (!ck_mul(o - 1, s, &last))
			return -1;
		if (last >= in + pb)
			o--;
	}
	*out = o;
	return 0;
}

/* Checks strides/dilations (positive) and pads (non-negative). */
static int window_attrs(const ShapeCtx *c, int64_t *st, int64_t *pads, int64_t *dil)
{
	if (ints_attr(c, "strides", 2, 1, st) || ints_attr(c, "pads", 4, 0, pads))
		return -1;
	if (dil && ints_attr(c, "dilations", 2, 1, dil))
		return -1;
	for (int i = 0; i < 2; i++) {
		if (st[i] <= 0)
			return FAIL(c, "strides must be positive, got %lld", (long long)st[i]);
		if (dil && dil[i] <= 0)
			return FAIL(c, "dilations must be positive, got %lld", (long long)dil[i]);
	}
	for (int i = 0; i < 4; i++)
		if (pads[i] < 0)
			return FAIL(c, "pads must be non-negative, got %lld", (long long)pads[i]);
	return 0;
}

/* Spatial output dims of conv/pool into o[2]. */
static int spatial_out(const ShapeCtx *c, const Shape *x, const int64_t *k, const int64_t *st,
	const int64_t *pads, const int64_t *dil, bool ceil_mode, int64_t *o)
{
	char b1[256];
	for (int i = 0; i < 2; i++) {
		int64_t in = x->d[2 + i].n;
		int r = window_out(in, pads[i], pads[2 + i], k[i], st[i], dil[i], ceil_mode, &o[i]);
		if (r == -1)
			return FAIL(c, "window size overflows");
		if (r == -2)
			return FAIL(c, "window (kernel %lld, dilation %lld) does not fit the padded input %s",
				(long long)k[i], (long long)dil[i], sstr(c, x, b1));
	}
	return 0;
}

static int spatial_known(const ShapeCtx *c, const Shape *s, const char *what)
{
	char b1[256];
	if (!isknown(s->d[2]) || !isknown(s->d[3]))
		return FAIL(c, "spatial dims of %s %s must be known; bind them with --shape NAME=D0,D1,...",
			what, sstr(c, s, b1));
	return 0;
}

static int shape_conv_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	bool bias = has_in(c, 2);
	if (same_dtype(c, 0, 1) || (bias && same_dtype(c, 0, 2)))
		return -1;
	const Shape *x = &c->ish[0], *w = &c->ish[1];
	char b1[256], b2[256];
	if (x->rank >= 0 && x->rank != 4)
		return FAIL(c, "only 2-D convolution is supported");
	if (w->rank >= 0 && w->rank != 4)
		return FAIL(c, "weight must have rank 4, got %s", sstr(c, w, b1));
	if (x->rank < 0 || w->rank < 0)
		return 0;
	int64_t st[2], pads[4], dil[2];
	if (window_attrs(c, st, pads, dil))
		return -1;
	int64_t group = ir_attr_int(c->n, "group", 1);
	if (group < 1)
		return FAIL(c, "group must be positive, got %lld", (long long)group);
	if (spatial_known(c, x, "input") || spatial_known(c, w, "weight"))
		return -1;
	if (w->d[2].n < 1 || w->d[3].n < 1)
		return FAIL(c, "empty kernel %s", sstr(c, w, b1));
	int64_t cg;
	if (isknown(x->d[1]) && isknown(w->d[1]) &&
		(!ck_mul(w->d[1].n, group, &cg) || cg != x->d[1].n))
		return FAIL(c, "input channels of %s do not match weight %s with group %lld",
			sstr(c, x, b1), sstr(c, w, b2), (long long)group);
	Dim k = w->d[0];
	if (isknown(k) && k.n % group)
		return FAIL(c, "output channels %lld not divisible by group %lld", (long long)k.n,
			(long long)group);
	if (bias) {
		const Shape *b = &c->ish[2];
		if (b->rank >= 0 && (b->rank != 1 ||
			(isknown(b->d[0]) && isknown(k) && b->d[0].n != k.n)))
			return FAIL(c, "bias %s does not match weight %s", sstr(c, b, b1), sstr(c, w, b2));
	}
	int64_t kk[2] = {w->d[2].n, w->d[3].n}, o[2];
	if (spatial_out(c, x, kk, st, pads, dil, false, o))
		return -1;
	Shape *r = &c->osh[0];
	r->rank = 4;
	r->d[0] = x->d[0];
	r->d[1] = k;
	r->d[2] = dknown(o[0]);
	r->d[3] = dknown(o[1]);
	return 0;
}

static int shape_pool_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	if (x->rank >= 0 && x->rank != 4)
		return FAIL(c, "only 2-D pooling is supported");
	if (x->rank < 0)
		return 0;
	const int64_t *kv;
	if (ir_attr_ints(c->n, "kernel", &kv) != 2 || kv[0] < 1 || kv[1] < 1)
		return FAIL(c, "kernel must be two positive ints");
	int64_t st[2], pads[4], dil[2] = {1, 1};
	bool ismax = c->n->op == OP_MAXPOOL;
	if (window_attrs(c, st, pads, ismax ? dil : NULL))
		return -1;
	if (spatial_known(c, x, "input"))
		return -1;
	int64_t o[2];
	if (spatial_out(c, x, kv, st, pads, dil, ir_attr_int(c->n, "ceil_mode", 0) != 0, o))
		return -1;
	Shape *r = &c->osh[0];
	*r = *x;
	r->d[2] = dknown(o[0]);
	r->d[3] = dknown(o[1]);
	return 0;
}

static int shape_reduce_rule(const ShapeCtx *c)
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
		int a = norm_axis(ax[i], x->rank);
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
			r->d[r->rank++] = dknown(1);
	}
	return 0;
}

/* softmax, log_softmax, batchnorm, identity: output is input 0. */
static int shape_same_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	c->osh[0] = c->ish[0];
	const Shape *x = &c->ish[0];
	char b1[256], b2[256];
	switch (c->n->op) {
	case OP_SOFTMAX:
	case OP_LOGSOFTMAX: {
		int64_t axis = ir_attr_int(c->n, "axis", -1);
		if (x->rank >= 0 && norm_axis(axis, x->rank) < 0)
			return FAIL(c, "axis %lld out of range for rank %d", (long long)axis, x->rank);
		break;
	}
	case OP_BATCHNORM:
		if (x->rank >= 0 && x->rank < 2)
			return FAIL(c, "input must have rank >= 2, got %s", sstr(c, x, b1));
		for (int k = 1; k < 5; k++) {
			const Shape *p = &c->ish[k];
			if (same_dtype(c, 0, k))
				return -1;
			if (p->rank < 0)
				continue;
			if (p->rank != 1 || (x->rank >= 0 && isknown(x->d[1]) && isknown(p->d[0]) &&
				x->d[1].n != p->d[0].n))
				return FAIL(c, "input %d has shape %s; expected [C] for input %s", k,
					sstr(c, p, b1), sstr(c, x, b2));
		}
		break;
	default:
		break;
	}
	return 0;
}

static int shape_pad_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	if (x->rank < 0)
		return 0;
	const int64_t *p;
	int np = ir_attr_ints(c->n, "pads", &p);
	if (np != 2 * x->rank)
		return FAIL(c, "pads must have %d entries (2 * rank), got %d", 2 * x->rank, np);
	Shape *r = &c->osh[0];
	*r = *x;
	for (int i = 0; i < x->rank; i++) {
		int64_t b = p[i], e = p[x->rank + i], n;
		if (b < 0 || e < 0)
			return FAIL(c, "pads must be non-negative, got %lld", (long long)(b < 0 ? b : e));
		if (b == 0 && e == 0)
			continue;
		if (!isknown(x->d[i]))
			r->d[i] = dunknown();
		else if (!ck_add(x->d[i].n, b, &n) || !ck_add(n, e, &n))
			return FAIL(c, "padded size overflows");
		else
			r->d[i] = dknown(n);
	}
	return 0;
}

static int shape_transpose_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	if (x->rank < 0)
		return 0;
	const int64_t *p;
	int np = ir_attr_ints(c->n, "perm", &p);
	int64_t perm[IR_MAX_RANK];
	if (np < 0) {
		for (int i = 0; i < x->rank; i++)
			perm[i] = x->rank - 1 - i;
	} else if (np != x->rank) {
		return FAIL(c, "perm has %d entries but the input has rank %d", np, x->rank);
	} else {
		memcpy(perm, p, (size_t)np * sizeof *perm);
	}
	bool seen[IR_MAX_RANK] = {0};
	Shape *r = &c->osh[0];
	r->rank = x->rank;
	for (int i = 0; i < x->rank; i++) {
		if (perm[i] < 0 || perm[i] >= x->rank || seen[perm[i]])
			return FAIL(c, "perm is not a permutation of 0..%d", x->rank - 1);
		seen[perm[i]] = true;
		r->d[i] = x->d[perm[i]];
	}
	return 0;
}

static int shape_concat_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	int nin = c->n->nin;
	for (int k = 1; k < nin; k++)
		if (same_dtype(c, 0, k))
			return -1;
	int rank = -1, first = -1;
	char b1[256], b2[256];
	for (int k = 0; k < nin; k++) {
		int rk = c->ish[k].rank;
		if (rk < 0)
			continue;
		if (rank >= 0 && rk != rank)
			return FAIL(c, "input %d has rank %d but input %d has rank %d", k, rk, first, rank);
		rank = rk;
		if (first < 0)
			first = k;
	}
	for (int k = 0; k < nin; k++)
		if (c->ish[k].rank < 0)
			return 0;
	if (rank == 0)
		return FAIL(c, "cannot concatenate scalars");
	int64_t axis0 = ir_attr_int(c->n, "axis", 0);
	int axis = norm_axis(axis0, rank);
	if (axis < 0)
		return FAIL(c, "axis %lld out of range for rank %d", (long long)axis0, rank);
	Shape r = c->ish[0];
	for (int k = 1; k < nin; k++) {
		const Shape *s = &c->ish[k];
		for (int i = 0; i < rank; i++) {
			if (i == axis)
				continue;
			Dim a = r.d[i], b = s->d[i];
			if (isknown(a) && isknown(b) && a.n != b.n)
				return FAIL(c, "input %d has shape %s, incompatible with %s off axis %d", k,
					sstr(c, s, b1), sstr(c, &c->ish[0], b2), axis);
			if (!isknown(a) && (isknown(b) || a.sym == 0))
				r.d[i] = b;
		}
	}
	int64_t sum = 0;
	for (int k = 0; k < nin; k++) {
		Dim a = c->ish[k].d[axis];
		if (!isknown(a)) {
			sum = -1;
			break;
		}
		if (!ck_add(sum, a.n, &sum))
			return FAIL(c, "concatenated size overflows");
	}
	if (sum >= 0)
		r.d[axis] = dknown(sum);
	else if (nin > 1)
		r.d[axis] = dunknown();
	c->osh[0] = r;
	return 0;
}

/* reshape: 0 copies the input dim at that position, one -1 is inferred.
 * With symbolic inputs the copied dims cancel out; what remains must
 * still agree, and a lone leftover symbol can become the -1. */
static int shape_reshape_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	const int64_t *s;
	int ns = ir_attr_ints(c->n, "shape", &s);
	char b1[256];
	if (ns < 0)
		return FAIL(c, "missing attribute shape");
	if (ns > IR_MAX_RANK)
		return FAIL(c, "shape has %d entries; at most %d dims are supported", ns, IR_MAX_RANK);
	int infer = -1;
	for (int i = 0; i < ns; i++) {
		if (s[i] < -1)
			return FAIL(c, "shape entry %lld is invalid", (long long)s[i]);
		if (s[i] == -1) {
			if (infer >= 0)
				return FAIL(c, "shape has more than one -1");
			infer = i;
		}
		if (s[i] == 0 && x->rank >= 0 && i >= x->rank)
			return FAIL(c, "shape entry %d is 0 but the input %s has no dim %d", i,
				sstr(c, x, b1), i);
	}
	if (x->rank < 0) {
		for (int i = 0; i < ns; i++)
			if (s[i] <= 0)
				return 0;
		c->osh[0] = ir_shape_make(ns, s);
		return 0;
	}
	Shape r;
	r.rank = ns;
	bool copied[IR_MAX_RANK] = {0};
	int64_t pout = 1; /* product of the output's own (not copied) known dims */
	for (int i = 0; i < ns; i++) {
		if (s[i] == 0) {
			r.d[i] = x->d[i];
			copied[i] = true;
		} else if (s[i] > 0) {
			r.d[i] = dknown(s[i]);
			if (!ck_mul(pout, s[i], &pout))
				return FAIL(c, "shape size overflows");
		}
	}
	/* What the input keeps after cancelling copied dims. */
	int64_t pin = 1;
	int nleft = 0, leftsym = 0;
	bool zero = false;
	for (int i = 0; i < x->rank; i++) {
		if (copied[i])
			continue;
		if (isknown(x->d[i])) {
			if (x->d[i].n == 0)
				zero = true;
			else if (!ck_mul(pin, x->d[i].n, &pin))
				return FAIL(c, "input size overflows");
		} else {
			nleft++;
			leftsym = x->d[i].sym;
		}
	}
	bool copyzero = false; /* a copied dim is 0: counts say nothing */
	for (int i = 0; i < ns; i++)
		if (copied[i] && isknown(r.d[i]) && r.d[i].n == 0)
			copyzero = true;
	if (zero)
		pin = 0;
	char b2[256];
	if (nleft == 0) {
		if (infer >= 0) {
			if (copyzero || pout == 0 || pin % pout)
				return FAIL(c, "cannot reshape %s to %s", sstr(c, x, b1), ints_str(s, ns, b2));
			r.d[infer] = dknown(pin / pout);
		} else if (!copyzero && pin != pout) {
			return FAIL(c, "cannot reshape %s to %s: element counts differ", sstr(c, x, b1),
				ints_str(s, ns, b2));
		}
	} else if (infer >= 0) {
		if (nleft == 1 && leftsym > 0 && pin == pout && !copyzero)
			r.d[infer] = (Dim){-1, leftsym};
		else
			r.d[infer] = dunknown();
	}
	c->osh[0] = r;
	return 0;
}

static int shape_flatten_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	if (x->rank < 0)
		return 0;
	int64_t axis = ir_attr_int(c->n, "axis", 1);
	if (axis < 0)
		axis += x->rank;
	if (axis < 0 || axis > x->rank)
		return FAIL(c, "axis %lld out of range 0..%d", (long long)ir_attr_int(c->n, "axis", 1),
			x->rank);
	Shape *r = &c->osh[0];
	r->rank = 2;
	if (!dim_prod(x->d, (int)axis, &r->d[0]) ||
		!dim_prod(x->d + axis, x->rank - (int)axis, &r->d[1]))
		return FAIL(c, "flattened size overflows");
	return 0;
}

/* ops.def names shape_xxx; the context-based rule is shape_xxx_rule. */
static const RuleFn rules[OP_COUNT] = {
#define OP(id, name, nin_min, nin_max, nout, flags, attrs, shape) [OP_##id] = shape##_rule,
#include "ops.def"
#undef OP
};

int ir_infer_shapes(const Graph *g, int node, const DType *idt, const Shape *ish, DType *odt,
	Shape *osh, Diag *d)
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
	for (int k = 0; k < n->nout; k++) {
		odt[k] = DT_UNDEF;
		osh[k] = ir_shape_unknown();
	}
	ShapeCtx c = {g, node, n, idt, ish, odt, osh, d};
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
