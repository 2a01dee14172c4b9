/* shape_idx.c — shape rules of the indexing family (ops.def, block idx):
 * slice, expand, trilu, gather_elements, gather_nd and the scatters, and
 * ir_slice_plan(), the one place that turns slice's ONNX-style attributes
 * (negative positions, clamping, negative steps) into a start, step and
 * count per dim, shared by the rule, the interpreter and the lowering. */
#include "shape.h"

#include <string.h>

static bool is_index(DType t) { return t == DT_I64 || t == DT_I32; }

/* --- slice ------------------------------------------------------------------- */

/* Checks slice's attributes against rank; 0 or -1 with a message. */
static int slice_check(const ShapeCtx *c, int rank)
{
	const int64_t *st, *en, *ax, *sp;
	int ns = ir_attr_ints(c->n, "starts", &st), ne = ir_attr_ints(c->n, "ends", &en);
	int na = ir_attr_ints(c->n, "axes", &ax), np = ir_attr_ints(c->n, "steps", &sp);
	if (ns < 0 || ne < 0)
		return FAIL(c, "missing attribute starts or ends");
	if (ns != ne || (na >= 0 && na != ns) || (np >= 0 && np != ns))
		return FAIL(c, "starts, ends, axes and steps must have one entry each per sliced axis");
	if (na < 0 && ns > rank)
		return FAIL(c, "%d starts for rank %d", ns, rank);
	bool seen[IR_MAX_RANK] = {0};
	for (int i = 0; i < ns; i++) {
		int64_t a = na >= 0 ? ax[i] : i;
		int r = sh_norm_axis(a, rank);
		if (r < 0)
			return FAIL(c, "axis %lld out of range for rank %d", (long long)a, rank);
		if (seen[r])
			return FAIL(c, "axis %lld listed twice", (long long)a);
		seen[r] = true;
		if (np >= 0 && sp[i] == 0)
			return FAIL(c, "step 0 on axis %lld", (long long)a);
	}
	return 0;
}

/* One axis of extent d: ONNX's clamping of start and end. */
static void slice_axis(int64_t d, int64_t s, int64_t e, int64_t step, int64_t *start, int64_t *count)
{
	if (s < 0)
		s += d;
	if (e < 0)
		e += d;
	if (step > 0) {
		s = s < 0 ? 0 : s > d ? d : s;
		e = e < 0 ? 0 : e > d ? d : e;
		*count = e > s ? ck_cdiv(e - s, step) : 0; /* no e - s + step - 1: step may be huge */
	} else {
		s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
		e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
		int64_t back = step == INT64_MIN ? INT64_MAX : -step; /* s - e <= d: one step either way */
		*count = s > e ? ck_cdiv(s - e, back) : 0;
	}
	*start = *count > 0 ? s : 0;
}

int ir_slice_plan(const Node *n, const Shape *x, int64_t *start, int64_t *step, int64_t *count)
{
	const int64_t *st, *en, *ax, *sp;
	int ns = ir_attr_ints(n, "starts", &st);
	ir_attr_ints(n, "ends", &en);
	int na = ir_attr_ints(n, "axes", &ax), np = ir_attr_ints(n, "steps", &sp);
	int rc = 0;
	for (int i = 0; i < x->rank; i++) {
		start[i] = 0;
		step[i] = 1;
		count[i] = sh_known(x->d[i]) ? x->d[i].n : -1;
	}
	for (int i = 0; i < ns; i++) {
		int r = sh_norm_axis(na >= 0 ? ax[i] : i, x->rank);
		if (r < 0)
			return -1;
		step[r] = np >= 0 ? sp[i] : 1;
		if (!sh_known(x->d[r])) {
			count[r] = -1;
			rc = -1;
			continue;
		}
		slice_axis(x->d[r].n, st[i], en[i], step[r], &start[r], &count[r]);
	}
	return rc;
}

int shape_slice_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	if (x->rank < 0)
		return 0;
	if (slice_check(c, x->rank) < 0)
		return -1;
	int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], count[IR_MAX_RANK];
	ir_slice_plan(c->n, x, start, step, count);
	const int64_t *st, *ax;
	int ns = ir_attr_ints(c->n, "starts", &st), na = ir_attr_ints(c->n, "axes", &ax);
	bool sliced[IR_MAX_RANK] = {0};
	for (int j = 0; j < ns; j++)
		sliced[sh_norm_axis(na >= 0 ? ax[j] : j, x->rank)] = true;
	Shape *r = &c->osh[0];
	r->rank = x->rank;
	for (int i = 0; i < x->rank; i++) /* an unsliced symbolic dim stays that symbol */
		r->d[i] = !sliced[i] ? x->d[i] : count[i] >= 0 ? sh_dim(count[i]) : sh_unknown();
	return 0;
}

/* --- expand, trilu ------------------------------------------------------------- */

int shape_expand_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const int64_t *sv;
	int n = ir_attr_ints(c->n, "shape", &sv);
	if (n < 0)
		return FAIL(c, "missing attribute shape");
	if (n > IR_MAX_RANK)
		return FAIL(c, "shape has %d entries; at most %d are supported", n, IR_MAX_RANK);
	for (int i = 0; i < n; i++)
		if (sv[i] < 0)
			return FAIL(c, "shape entry %lld is negative", (long long)sv[i]);
	if (c->ish[0].rank < 0)
		return 0;
	Shape t = ir_shape_make(n, sv);
	char b1[256], b2[256];
	if (ir_broadcast(&c->ish[0], &t, &c->osh[0]) < 0)
		return FAIL(c, "cannot broadcast %s to %s", sh_str(c, &c->ish[0], b1), sh_str(c, &t, b2));
	return 0;
}

int shape_trilu_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	c->osh[0] = c->ish[0];
	if (c->ish[0].rank >= 0 && c->ish[0].rank < 2)
		return FAIL(c, "input must have rank >= 2, got %d", c->ish[0].rank);
	return 0;
}

/* --- gathers and scatters ------------------------------------------------------ */

/* Known dims of a (indices, updates) that exceed those of x off the axis
 * (skip < 0: none skipped): a non-axis coordinate would leave x. */
static bool fits(const Shape *a, const Shape *x, int skip)
{
	for (int i = 0; i < a->rank && i < x->rank; i++)
		if (i != skip && sh_known(a->d[i]) && sh_known(x->d[i]) && a->d[i].n > x->d[i].n)
			return false;
	return true;
}

/* Known dims of a and b that differ at positions [a0, a0 + n) / [b0, ...). */
static bool same_dims(const Shape *a, int a0, const Shape *b, int b0, int n)
{
	for (int i = 0; i < n; i++)
		if (sh_known(a->d[a0 + i]) && sh_known(b->d[b0 + i]) && a->d[a0 + i].n != b->d[b0 + i].n)
			return false;
	return true;
}

/* gather_elements: the output has the indices' shape. */
int shape_gather_elements_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0], *ix = &c->ish[1];
	char b1[256], b2[256];
	if (c->idt[1] != DT_UNDEF && !is_index(c->idt[1]))
		return FAIL(c, "indices must be i32 or i64, not %s", ir_dtype_name(c->idt[1]));
	c->osh[0] = *ix;
	if (x->rank < 0 || ix->rank < 0)
		return 0;
	int64_t ax = ir_attr_int(c->n, "axis", 0);
	if (x->rank != ix->rank || sh_norm_axis(ax, x->rank) < 0)
		return FAIL(c, "data %s and indices %s need one rank and axis %lld in it",
			sh_str(c, x, b1), sh_str(c, ix, b2), (long long)ax);
	if (!fits(ix, x, sh_norm_axis(ax, x->rank)))
		return FAIL(c, "indices %s exceed data %s off the axis", sh_str(c, ix, b1), sh_str(c, x, b2));
	return 0;
}

/* gather_nd: indices [b..., m..., k] pick x[b..., i0..ik-1, rest...];
 * the output is b + m + rest. */
int shape_gather_nd_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0], *ix = &c->ish[1];
	char b1[256], b2[256];
	if (c->idt[1] != DT_UNDEF && c->idt[1] != DT_I64)
		return FAIL(c, "indices must be i64, not %s", ir_dtype_name(c->idt[1]));
	if (x->rank < 0 || ix->rank < 0)
		return 0;
	int64_t b = ir_attr_int(c->n, "batch_dims", 0);
	if (ix->rank < 1 || b < 0 || b >= ix->rank || b >= x->rank)
		return FAIL(c, "batch_dims %lld does not fit data %s and indices %s", (long long)b,
			sh_str(c, x, b1), sh_str(c, ix, b2));
	if (!same_dims(ix, 0, x, 0, (int)b))
		return FAIL(c, "the %lld batch dims of indices %s and data %s differ", (long long)b,
			sh_str(c, ix, b1), sh_str(c, x, b2));
	Dim kd = ix->d[ix->rank - 1];
	if (!sh_known(kd))
		return 0;
	int64_t k = kd.n;
	if (k < 1 || b + k > x->rank)
		return FAIL(c, "indices' last dim %lld does not fit data %s after %lld batch dims",
			(long long)k, sh_str(c, x, b1), (long long)b);
	int rank = ix->rank - 1 + x->rank - (int)(b + k);
	if (rank > IR_MAX_RANK)
		return FAIL(c, "result has rank %d; at most %d is supported", rank, IR_MAX_RANK);
	Shape *r = &c->osh[0];
	r->rank = 0;
	for (int i = 0; i < ix->rank - 1; i++)
		r->d[r->rank++] = ix->d[i];
	for (int i = (int)(b + k); i < x->rank; i++)
		r->d[r->rank++] = x->d[i];
	return 0;
}

/* scatter_elements / scatter_nd: the result is a copy of data. */
int shape_scatter_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	c->osh[0] = c->ish[0];
	if (c->idt[1] != DT_UNDEF && !is_index(c->idt[1]))
		return FAIL(c, "indices must be i32 or i64, not %s", ir_dtype_name(c->idt[1]));
	if (sh_same_dtype(c, 0, 2))
		return -1;
	const char *red = "none";
	const Attr *a = ir_attr(c->n, "reduction");
	if (a)
		red = a->s;
	if (strcmp(red, "none") && strcmp(red, "add") && strcmp(red, "mul") && strcmp(red, "max") &&
		strcmp(red, "min"))
		return FAIL(c, "unknown reduction \"%s\"", red);
	const Shape *x = &c->ish[0], *ix = &c->ish[1], *u = &c->ish[2];
	char b1[256], b2[256];
	if (x->rank < 0 || ix->rank < 0 || u->rank < 0)
		return 0;
	if (c->n->op == OP_SCATTER_ELEMENTS) {
		int64_t ax = ir_attr_int(c->n, "axis", 0);
		if (!ir_shape_eq(ix, u) || ix->rank != x->rank || sh_norm_axis(ax, x->rank) < 0 ||
			!fits(ix, x, sh_norm_axis(ax, x->rank)))
			return FAIL(c, "indices %s and updates %s need one shape, data's rank and axis %lld, "
				"and no larger dims off the axis", sh_str(c, ix, b1), sh_str(c, u, b2), (long long)ax);
		return 0;
	}
	if (ix->rank < 1 || !sh_known(ix->d[ix->rank - 1]))
		return 0;
	Dim kd = ix->d[ix->rank - 1];
	int64_t k = kd.n;
	if (k < 1 || k > x->rank || u->rank != ix->rank - 1 + x->rank - (int)k ||
		!same_dims(u, 0, ix, 0, ix->rank - 1) || !same_dims(u, ix->rank - 1, x, (int)k, x->rank - (int)k))
		return FAIL(c, "indices %s and updates %s do not fit data of rank %d",
			sh_str(c, ix, b1), sh_str(c, u, b2), x->rank);
	return 0;
}

int shape_slice(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_expand(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_trilu(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_gather_elements(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_gather_nd(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
int shape_scatter(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
