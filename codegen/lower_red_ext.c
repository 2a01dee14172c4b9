/* lower_red_ext.c — lowering of the reduction family's index and running
 * ops (topk at the end: see lw_topk): argmax/argmin (one loop over the output with one reduction var
 * along the axis, a KR_ARGMAX/KR_ARGMIN; select_last_index walks the axis
 * backwards and maps the position back) and cumsum (a sum along the axis
 * whose loads are guarded to the prefix, or suffix, of each output
 * position: quadratic in the axis length, with no new kernel kind). Both
 * read their input straight from its buffer (they are never fused). */
#include <string.h>

#include "lower.h"

int lw_argmax(Lower *L, int node)
{
	const Node *n = &L->g->node[node];
	const Value *xv = lw_in(L, node, 0), *y = lw_out(L, node);
	const Shape *x = &xv->shape;
	DType t = xv->dtype;
	if (!lw_is_arith(t) && t != DT_U8 && t != DT_I8)
		return lw_unsupported(L, node, t);
	DType ct = lw_is_arith(t) ? t : DT_F64; /* compared in; u8/i8 exactly through f64 */
	int axis;
	if (lw_norm_axis(L, node, ir_attr_int(n, "axis", 0), x->rank, &axis) < 0)
		return -1;
	int64_t len = x->d[axis].n;
	if (len < 1)
		return lw_err(L, node, "axis %d is empty", axis);
	bool keep = ir_attr_int(n, "keepdims", 1) != 0, last = ir_attr_int(n, "select_last_index", 0) != 0;
	Kernel *k = lw_loop(L, node, &y->shape, lw_outbuf(L, node));
	int rv = lw_addvar(L, k, len);
	Aff c[IR_MAX_RANK];
	memset(c, 0, sizeof c);
	for (int j = 0, ov = 0; j < x->rank; j++) {
		if (j != axis) {
			c[j].k[ov++] = 1;
			continue;
		}
		ov += keep;
		if (last) { /* len-1-r */
			c[j].c = len - 1;
			c[j].k[rv] = -1;
		} else {
			c[j].k[rv] = 1;
		}
	}
	Kx *ld = kx_load(L, ct, lw_inbuf(L, node, 0), lw_linear(L, x, c));
	Kx *r = kx_red(L, n->op == OP_ARGMAX ? KR_ARGMAX : KR_ARGMIN, ld);
	r->dtype = y->dtype;
	if (last)
		r = kx_bin(L, KB_SUB, kx_const(L, y->dtype, (double)(len - 1)), r);
	L->kl->k[L->kl->nk - 1].body = r;
	return 0;
}

/* y[.., i, ..] = sum (cumprod: product) over r of x[.., r, ..] where
 * r <= i (exclusive: r < i; reverse: r >= i, or r > i). */
int lw_cumsum(Lower *L, int node)
{
	const Node *n = &L->g->node[node];
	const Value *y = lw_out(L, node);
	const Shape *x = &lw_in(L, node, 0)->shape;
	DType t = y->dtype;
	if (!lw_is_arith(t))
		return lw_unsupported(L, node, t);
	int axis;
	if (lw_norm_axis(L, node, ir_attr_int(n, "axis", 0), x->rank, &axis) < 0)
		return -1;
	bool excl = ir_attr_int(n, "exclusive", 0) != 0, rev = ir_attr_int(n, "reverse", 0) != 0;
	Kernel *k = lw_loop(L, node, x, lw_outbuf(L, node));
	int rv = lw_addvar(L, k, x->d[axis].n);
	Aff c[IR_MAX_RANK];
	lw_out_coord(x->rank, c);
	c[axis].k[axis] = 0;
	c[axis].k[rv] = 1;
	Kx *ld = kx_load(L, t, lw_inbuf(L, node, 0), lw_linear(L, x, c));
	Aff e; /* i - r, or r - i reversed */
	memset(&e, 0, sizeof e);
	e.k[axis] = rev ? -1 : 1;
	e.k[rv] = rev ? 1 : -1;
	kx_guard(L, ld, e, excl ? 1 : 0, INT64_MAX);
	bool prod = n->op == OP_CUMPROD;
	ld->fill = prod ? 1 : 0;
	L->kl->k[L->kl->nk - 1].body = kx_red(L, prod ? KR_PROD : KR_SUM, ld);
	return 0;
}

/* x's coordinates with the axis walked by var av and the other dims by
 * output vars 0.., where the axis' own output vars (skip of them) are
 * passed over. */
static void coords_around(int rank, int axis, int av, int skip, Aff *c)
{
	memset(c, 0, (size_t)rank * sizeof *c);
	for (int j = 0, v = 0; j < rank; j++) {
		if (j == axis) {
			c[j].k[av] = 1;
			v += skip;
		} else {
			c[j].k[v++] = 1;
		}
	}
}

/* topk in four loop kernels, without data-dependent loads:
 *   g[.., i, r, ..] = 1 if x[i] comes before x[r] in the order (an arg
 *                     reduction over the pair {x[r], x[i]}: ties keep x[r])
 *   rank[.., i, ..] = sum_r g[r, i] + sum_{r < i} (1 - g[r, i] - g[i, r])
 *   indices[.., j, ..] = argmax_i -|rank[i] - j|
 *   values[.., j, ..]  = the same arg reduction carrying x[i]
 * j is made a value as sum_i valid(i < j). g takes n*n i64 per row. */
int lw_topk(Lower *L, int node)
{
	const Node *n = &L->g->node[node];
	const Value *xv = lw_in(L, node, 0), *y = lw_out(L, node);
	const Shape *x = &xv->shape;
	DType t = xv->dtype;
	if (!lw_is_arith(t) && t != DT_U8 && t != DT_I8)
		return lw_unsupported(L, node, t);
	DType ct = lw_is_arith(t) ? t : DT_F64;
	int a, r = x->rank;
	if (lw_norm_axis(L, node, ir_attr_int(n, "axis", -1), r, &a) < 0)
		return -1;
	if (r + 1 > IR_MAX_RANK)
		return lw_err(L, node, "needs rank < %d", IR_MAX_RANK);
	int64_t len = x->d[a].n;
	KrOp op = ir_attr_int(n, "largest", 1) ? KR_ARGMAX : KR_ARGMIN;
	int xb = lw_inbuf(L, node, 0), ib = L->vbuf[n->out[1]], vb = lw_outbuf(L, node);
	NN_ASSERT(ib >= 0);

	/* g over x's shape with the axis doubled: [.., i, r, ..] */
	Shape gs = *x;
	for (int j = r; j > a; j--)
		gs.d[j] = x->d[j - 1];
	gs.rank = r + 1;
	int gb = lw_temp(L, DT_I64, ir_shape_numel(&gs), -1);
	Kernel *k = lw_loop(L, node, &gs, gb);
	int sv = lw_addvar(L, k, 2);
	Aff cr[IR_MAX_RANK], ci[IR_MAX_RANK], e;
	coords_around(r, a, a + 1, 2, cr); /* x[r] */
	coords_around(r, a, a, 2, ci);     /* x[i] */
	Kx *lr = kx_load(L, ct, xb, lw_linear(L, x, cr)), *li = kx_load(L, ct, xb, lw_linear(L, x, ci));
	memset(&e, 0, sizeof e);
	e.k[sv] = 1;
	kx_guard(L, lr, e, 0, 1);
	kx_guard(L, li, e, 1, 2);
	lr->fill = li->fill = 0;
	Kx *g = kx_red(L, op, kx_bin(L, KB_ADD, lr, li));
	g->dtype = DT_I64;
	L->kl->k[L->kl->nk - 1].body = g;

	/* rank over x's shape, r the reduction var */
	int rb = lw_temp(L, DT_I64, ir_shape_numel(x), -1);
	k = lw_loop(L, node, x, rb);
	int rv = lw_addvar(L, k, len);
	Aff c[IR_MAX_RANK + 1];
	lw_out_coord(r, c); /* [.., i, ..] as g's [.., r, i, ..] and [.., i, r, ..] */
	Aff gri[IR_MAX_RANK + 1], gir[IR_MAX_RANK + 1];
	for (int j = 0; j <= r; j++) {
		int src = j <= a ? j : j - 1;
		gri[j] = gir[j] = c[src];
	}
	memset(&gri[a], 0, sizeof gri[a]);
	gri[a].k[rv] = 1;
	memset(&gir[a + 1], 0, sizeof gir[a + 1]);
	gir[a + 1].k[rv] = 1;
	Kx *g_ri = kx_load(L, DT_I64, gb, lw_linear(L, &gs, gri));
	Kx *g_ir = kx_load(L, DT_I64, gb, lw_linear(L, &gs, gir));
	Kx *before = kx_valid(L, DT_I64); /* r < i */
	memset(&e, 0, sizeof e);
	e.k[a] = 1;
	e.k[rv] = -1;
	kx_guard(L, before, e, 1, INT64_MAX);
	Kx *tie = kx_bin(L, KB_SUB, kx_bin(L, KB_SUB, kx_const(L, DT_I64, 1), g_ri), g_ir);
	L->kl->k[L->kl->nk - 1].body = kx_red(L, KR_SUM, kx_bin(L, KB_ADD, g_ri, kx_bin(L, KB_MUL, before, tie)));

	/* indices, then values: the i whose rank is j */
	for (int pass = 0; pass < 2; pass++) {
		k = lw_loop(L, node, &y->shape, pass ? vb : ib);
		int iv = lw_addvar(L, k, len);
		Kx *jv = kx_valid(L, DT_I64); /* i < j, summed: j */
		memset(&e, 0, sizeof e);
		e.k[a] = 1;
		e.k[iv] = -1;
		kx_guard(L, jv, e, 1, INT64_MAX);
		jv = kx_red(L, KR_SUM, jv);
		Aff xc[IR_MAX_RANK];
		lw_out_coord(r, xc);
		memset(&xc[a], 0, sizeof xc[a]);
		xc[a].k[iv] = 1;
		Kx *rk = kx_load(L, DT_I64, rb, lw_linear(L, x, xc));
		Kx *key = kx_un(L, KU_NEG, kx_un(L, KU_ABS, kx_bin(L, KB_SUB, rk, jv)));
		Kx *sel = kx_red(L, KR_ARGMAX, key);
		sel->dtype = pass ? y->dtype : DT_I64;
		if (pass)
			sel->b = kx_load(L, y->dtype, xb, lw_linear(L, x, xc));
		L->kl->k[L->kl->nk - 1].body = sel;
	}
	return 0;
}
