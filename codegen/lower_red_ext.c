/* lower_red_ext.c — lowering of the reduction family's index and running
 * ops: argmax/argmin (one loop over the output with one reduction var
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

/* y[.., i, ..] = sum over r of x[.., r, ..] where r <= i (exclusive: r < i;
 * reverse: r >= i, or r > i). */
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
	ld->fill = 0;
	L->kl->k[L->kl->nk - 1].body = kx_red(L, KR_SUM, ld);
	return 0;
}
