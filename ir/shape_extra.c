/* shape_extra.c — shape rules of the shape-computation ops that PyTorch
 * exports for dynamic shapes (`x.view(x.size(0), -1)` becomes
 * shape -> gather -> unsqueeze -> concat -> reshape_dyn): shape, gather,
 * unsqueeze, squeeze, cast and reshape_dyn.
 *
 * reshape_dyn's output shape depends on the data of its shape input. In
 * eval the rule reads that data (ShapeCtx.itens); over the graph it
 * propagates the values of small integer tensors through the chain
 * (constants, shape, gather, slice, unsqueeze/squeeze/reshape/flatten/
 * identity, concat, cast, and +-*÷ of known values), so an element can be a known
 * integer, "the extent of symbol N", or unknown (as ONNX's data
 * propagation does). Known shapes then give known dims, and a dynamic
 * batch stays the symbol N. */
#include "shape.h"

#include <string.h>

enum { SV_MAX = IR_MAX_RANK, SV_DEPTH = 64 };

/* One element of a small integer tensor at compile time. */
typedef struct SVal {
	int64_t n; /* the value when known */
	int sym;   /* > 0: the value is the extent of this symbol */
	bool known;
} SVal;

static bool is_int(DType t) { return t == DT_I64 || t == DT_I32; }

/* Reads element i of integer data. */
static int64_t int_at(DType t, const void *p, int64_t i)
{
	if (t == DT_I32) {
		int32_t x;
		memcpy(&x, (const char *)p + 4 * i, 4);
		return x;
	}
	int64_t x;
	memcpy(&x, (const char *)p + 8 * i, 8);
	return x;
}

static SVal sv_dim(Dim d)
{
	if (d.sym > 0)
		return (SVal){-1, d.sym, false};
	if (d.n >= 0)
		return (SVal){d.n, 0, true};
	return (SVal){-1, 0, false};
}

/* The elements of value v (rank <= 1, integer, at most SV_MAX of them)
 * into out; their count, or -1 when not even that is known. */
static int sv_value(const Graph *g, int v, SVal *out, int depth)
{
	if (v < 0 || depth > SV_DEPTH)
		return -1;
	const Value *x = &g->val[v];
	if (!is_int(x->dtype) || x->shape.rank > 1)
		return -1;
	int64_t numel = ir_shape_numel(&x->shape);
	if (numel > SV_MAX)
		return -1;
	if (x->kind == VK_CONST) {
		if (numel < 0 || !x->data || x->state || x->nbytes != (size_t)numel * ir_dtype_size(x->dtype))
			return -1;
		for (int64_t i = 0; i < numel; i++)
			out[i] = (SVal){int_at(x->dtype, x->data, i), 0, true};
		return (int)numel;
	}
	if (x->kind != VK_NODE || x->def < 0)
		return -1;
	const Node *n = &g->node[x->def];
	SVal a[SV_MAX], b[SV_MAX];
	int na, nb;
	switch (n->op) {
	case OP_SHAPE: {
		const Shape *s = &g->val[n->in[0]].shape;
		if (s->rank < 0 || numel < 0)
			return -1;
		int64_t start = ir_attr_int(n, "start", 0);
		if (start < 0)
			start += s->rank;
		if (start < 0)
			start = 0;
		for (int64_t i = 0; i < numel; i++) {
			if (start + i >= s->rank)
				return -1;
			out[i] = sv_dim(s->d[start + i]);
		}
		return (int)numel;
	}
	case OP_GATHER: {
		if ((na = sv_value(g, n->in[0], a, depth + 1)) < 0 || g->val[n->in[0]].shape.rank != 1)
			return -1;
		if ((nb = sv_value(g, n->in[1], b, depth + 1)) < 0)
			return -1;
		for (int i = 0; i < nb; i++) {
			if (!b[i].known)
				return -1;
			int64_t k = b[i].n < 0 ? b[i].n + na : b[i].n;
			if (k < 0 || k >= na)
				return -1;
			out[i] = a[k];
		}
		return nb;
	}
	case OP_UNSQUEEZE: case OP_SQUEEZE: case OP_RESHAPE: case OP_FLATTEN:
	case OP_IDENTITY: case OP_RESHAPE_DYN:
		return sv_value(g, n->in[0], out, depth + 1);
	case OP_CAST:
		if (!is_int(g->val[n->in[0]].dtype))
			return -1;
		return sv_value(g, n->in[0], out, depth + 1);
	case OP_SLICE: { /* x.shape[2:] */
		int64_t st, sp, ct;
		const Shape *s = &g->val[n->in[0]].shape;
		if (s->rank != 1 || (na = sv_value(g, n->in[0], a, depth + 1)) < 0 ||
			ir_slice_plan(n, s, &st, &sp, &ct) < 0 || ct != numel)
			return -1;
		for (int64_t i = 0; i < ct; i++)
			out[i] = a[st + i * sp];
		return (int)ct;
	}
	case OP_CONCAT: {
		int m = 0;
		for (int k = 0; k < n->nin; k++) {
			if ((na = sv_value(g, n->in[k], a, depth + 1)) < 0 || m + na > SV_MAX)
				return -1;
			memcpy(out + m, a, (size_t)na * sizeof *a);
			m += na;
		}
		return m;
	}
	case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: {
		if ((na = sv_value(g, n->in[0], a, depth + 1)) < 0 ||
			(nb = sv_value(g, n->in[1], b, depth + 1)) < 0)
			return -1;
		int m = na > nb ? na : nb;
		if ((na != m && na != 1) || (nb != m && nb != 1) || numel != m)
			return -1;
		for (int i = 0; i < m; i++) {
			SVal p = a[na == 1 ? 0 : i], q = b[nb == 1 ? 0 : i];
			int64_t r = 0;
			bool ok = p.known && q.known;
			if (ok && n->op == OP_ADD)
				ok = ck_add(p.n, q.n, &r);
			else if (ok && n->op == OP_SUB)
				ok = !__builtin_sub_overflow(p.n, q.n, &r);
			else if (ok && n->op == OP_MUL)
				ok = ck_mul(p.n, q.n, &r);
			else if (ok)
				ok = q.n != 0 && !(p.n == INT64_MIN && q.n == -1) && (r = p.n / q.n, true);
			if (ok)
				out[i] = (SVal){r, 0, true};
			else if (p.sym && q.known && ((n->op == OP_MUL || n->op == OP_DIV) && q.n == 1))
				out[i] = p; /* N*1, N/1 */
			else if (p.sym && q.known && (n->op == OP_ADD || n->op == OP_SUB) && q.n == 0)
				out[i] = p;
			else
				out[i] = (SVal){-1, 0, false};
		}
		return m;
	}
	default:
		return -1;
	}
}

int shape_shape_rule(const ShapeCtx *c)
{
	c->odt[0] = DT_I64;
	const Shape *x = &c->ish[0];
	Shape *r = &c->osh[0];
	r->rank = 1;
	r->d[0] = sh_unknown();
	if (x->rank < 0)
		return 0;
	int64_t start = ir_attr_int(c->n, "start", 0), end = ir_attr_int(c->n, "end", x->rank);
	if (start < 0)
		start += x->rank;
	if (end < 0)
		end += x->rank;
	start = start < 0 ? 0 : start > x->rank ? x->rank : start;
	end = end < 0 ? 0 : end > x->rank ? x->rank : end;
	r->d[0] = sh_dim(end > start ? end - start : 0);
	return 0;
}

/* gather: out = data.shape[:axis] + indices.shape + data.shape[axis+1:]. */
int shape_gather_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0], *ix = &c->ish[1];
	if (c->idt[1] != DT_UNDEF && !is_int(c->idt[1]))
		return FAIL(c, "indices must be i32 or i64, not %s", ir_dtype_name(c->idt[1]));
	if (x->rank < 0 || ix->rank < 0)
		return 0;
	int64_t ax = ir_attr_int(c->n, "axis", 0);
	int axis = sh_norm_axis(ax, x->rank);
	if (axis < 0)
		return FAIL(c, "axis %lld out of range for rank %d", (long long)ax, x->rank);
	if (x->rank - 1 + ix->rank > IR_MAX_RANK)
		return FAIL(c, "result has rank %d; at most %d is supported", x->rank - 1 + ix->rank,
			IR_MAX_RANK);
	Shape *r = &c->osh[0];
	r->rank = 0;
	for (int i = 0; i < axis; i++)
		r->d[r->rank++] = x->d[i];
	for (int i = 0; i < ix->rank; i++)
		r->d[r->rank++] = ix->d[i];
	for (int i = axis + 1; i < x->rank; i++)
		r->d[r->rank++] = x->d[i];
	return 0;
}

/* unsqueeze: inserts extent-1 dims at axes of the output. */
int shape_unsqueeze_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	const int64_t *ax;
	int na = ir_attr_ints(c->n, "axes", &ax);
	if (na < 0)
		return FAIL(c, "missing attribute axes");
	if (x->rank < 0)
		return 0;
	int rank = x->rank + na;
	if (rank > IR_MAX_RANK)
		return FAIL(c, "result has rank %d; at most %d is supported", rank, IR_MAX_RANK);
	bool ins[IR_MAX_RANK] = {0};
	for (int i = 0; i < na; i++) {
		int a = sh_norm_axis(ax[i], rank);
		if (a < 0)
			return FAIL(c, "axis %lld out of range for rank %d", (long long)ax[i], rank);
		if (ins[a])
			return FAIL(c, "axis %lld listed twice", (long long)ax[i]);
		ins[a] = true;
	}
	Shape *r = &c->osh[0];
	r->rank = rank;
	for (int i = 0, k = 0; i < rank; i++)
		r->d[i] = ins[i] ? sh_dim(1) : x->d[k++];
	return 0;
}

/* squeeze: removes the dims at axes (each must be 1), or every dim of
 * extent 1 when axes is absent. */
int shape_squeeze_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	if (x->rank < 0)
		return 0;
	const int64_t *ax;
	int na = ir_attr_ints(c->n, "axes", &ax);
	bool drop[IR_MAX_RANK] = {0};
	char b1[256];
	if (na < 0) {
		for (int i = 0; i < x->rank; i++) {
			if (!sh_known(x->d[i]))
				return 0; /* which dims go is not known yet */
			drop[i] = x->d[i].n == 1;
		}
	}
	for (int i = 0; i < na; i++) {
		int a = sh_norm_axis(ax[i], x->rank);
		if (a < 0)
			return FAIL(c, "axis %lld out of range for rank %d", (long long)ax[i], x->rank);
		if (drop[a])
			return FAIL(c, "axis %lld listed twice", (long long)ax[i]);
		if (sh_known(x->d[a]) && x->d[a].n != 1)
			return FAIL(c, "cannot squeeze dim %d of %s: it is not 1", a, sh_str(c, x, b1));
		drop[a] = true;
	}
	Shape *r = &c->osh[0];
	r->rank = 0;
	for (int i = 0; i < x->rank; i++)
		if (!drop[i])
			r->d[r->rank++] = x->d[i];
	return 0;
}

int shape_cast_rule(const ShapeCtx *c)
{
	const Attr *a = ir_attr(c->n, "to");
	DType t = a && a->kind == AT_STRING ? ir_dtype_parse(a->s, strlen(a->s)) : DT_UNDEF;
	if (t == DT_UNDEF)
		return FAIL(c, "attribute to must name a dtype (\"f32\", \"i64\", ...)");
	c->odt[0] = t;
	c->osh[0] = c->ish[0];
	return 0;
}

/* Runs reshape's rule (shape_move.c) on a copy of the node holding the
 * target as its shape attribute. */
static int as_reshape(const ShapeCtx *c, const int64_t *s, int ns)
{
	Node fake = *c->n;
	Attr a = {.name = "shape", .kind = AT_INTS, .n = ns, .ints = (int64_t *)s};
	fake.attr = &a;
	fake.nattr = 1;
	ShapeCtx c2 = *c;
	c2.n = &fake;
	return shape_reshape_rule(&c2);
}

/* reshape_dyn(x, shape): reshape with the target shape given as a tensor
 * (ONNX Reshape's meaning: 0 copies the input's dim, one -1 is inferred). */
int shape_reshape_dyn_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0], *ts = &c->ish[1];
	char b1[256];
	if (c->idt[1] != DT_UNDEF && !is_int(c->idt[1]))
		return FAIL(c, "shape must be i32 or i64, not %s", ir_dtype_name(c->idt[1]));
	if (ts->rank > 1)
		return FAIL(c, "shape must be 1-D, got %s", sh_str(c, ts, b1));
	SVal t[SV_MAX];
	int nt = -1;
	if (c->itens) {
		const Tensor *st = &c->itens[1];
		int64_t m = ir_shape_numel(&st->shape);
		if (m < 0 || m > IR_MAX_RANK)
			return FAIL(c, "shape has %lld entries; at most %d dims are supported",
				(long long)m, IR_MAX_RANK);
		for (int64_t i = 0; i < m; i++)
			t[i] = (SVal){int_at(st->dtype, st->data, i), 0, true};
		nt = (int)m;
	} else {
		nt = sv_value(c->g, c->n->in[1], t, 0);
	}
	if (nt < 0) { /* values unknown: at most the rank */
		int64_t m = ts->rank == 1 && sh_known(ts->d[0]) ? ts->d[0].n : -1;
		if (m > IR_MAX_RANK)
			return FAIL(c, "shape has %lld entries; at most %d dims are supported",
				(long long)m, IR_MAX_RANK);
		if (m >= 0) {
			c->osh[0].rank = (int)m;
			for (int i = 0; i < m; i++)
				c->osh[0].d[i] = sh_unknown();
		}
		return 0;
	}
	/* Symbols become 0 (copy) where the input has the same symbol at the
	 * same position; a lone other unknown becomes the inferred -1. */
	int64_t s[SV_MAX];
	int nother = 0, other = -1;
	bool minus1 = false;
	for (int i = 0; i < nt; i++) {
		if (t[i].known) {
			s[i] = t[i].n;
			minus1 = minus1 || t[i].n == -1;
		} else if (t[i].sym && i < x->rank && x->d[i].sym == t[i].sym) {
			s[i] = 0;
		} else {
			s[i] = -1;
			nother++;
			other = i;
		}
	}
	if (nother == 0 || (nother == 1 && !minus1)) {
		if (as_reshape(c, s, nt) < 0)
			return -1;
		if (nother == 1 && t[other].sym && !sh_known(c->osh[0].d[other]))
			c->osh[0].d[other] = (Dim){-1, t[other].sym};
		return 0;
	}
	Shape *r = &c->osh[0]; /* too little known to check: take what is */
	r->rank = nt;
	for (int i = 0; i < nt; i++) {
		if (t[i].sym)
			r->d[i] = (Dim){-1, t[i].sym};
		else if (t[i].known && t[i].n > 0)
			r->d[i] = sh_dim(t[i].n);
		else if (t[i].known && t[i].n == 0 && i < x->rank)
			r->d[i] = x->d[i];
		else
			r->d[i] = sh_unknown();
	}
	return 0;
}

int shape_shape(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_gather(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_unsqueeze(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_squeeze(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_cast(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_reshape_dyn(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
