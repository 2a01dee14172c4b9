/* lower_red.c — lowering of reductions and normalizations: reduce_sum/mean/
 * max/min/prod (a loop over output positions with reduction vars over the reduced
 * axes), softmax and log_softmax (alone: three kernels through two
 * temporaries, the max and the sum of exponentials along the axis; in a
 * fusion group: one kernel whose max and sum are hoisted reductions), and
 * inference batchnorm (one elementwise loop, channel = dim 1), and
 * reductions inlined into a fusion group's kernel (lw_red_at: layer norm's
 * mean and variance). Data inputs are read through lw_value_at, so fused
 * producers are inlined. */
#include <math.h>
#include <string.h>

#include "lower.h"

/* Checks reduction node's dtype and output rank and marks its reduced
 * axes; the count of them, or -1 with a message. */
static int reduced_axes(Lower *L, int node, bool *red)
{
	const Node *n = &L->g->node[node];
	const Value *y = lw_out(L, node);
	DType t = y->dtype;
	bool anyall = t == DT_BOOL && (n->op == OP_REDUCE_MAX || n->op == OP_REDUCE_MIN);
	if ((!lw_is_arith(t) && !anyall) || (n->op == OP_REDUCE_MEAN && !lw_is_float(t)))
		return lw_unsupported(L, node, t);
	int r = lw_in(L, node, 0)->shape.rank;
	memset(red, 0, (size_t)IR_MAX_RANK * sizeof *red);
	const int64_t *axes;
	int na = ir_attr_ints(n, "axes", &axes);
	int nred = 0;
	for (int i = 0; i < (na > 0 ? na : r); i++) {
		int a = i;
		if (na > 0 && lw_norm_axis(L, node, axes[i], r, &a) < 0)
			return -1;
		if (red[a])
			return lw_err(L, node, "axis %d reduced twice", a);
		red[a] = true;
		nred++;
	}
	bool keep = ir_attr_int(n, "keepdims", 1) != 0;
	if (y->shape.rank != (keep ? r : r - nred))
		return lw_err(L, node, "output rank %d does not match the reduction", y->shape.rank);
	return nred;
}

/* The reduction's value from its body ld, count elements reduced. */
static Kx *reduce_of(Lower *L, int node, Kx *ld, int64_t count)
{
	Op op = L->g->node[node].op;
	DType t = lw_out(L, node)->dtype;
	if (op == OP_REDUCE_MAX || op == OP_REDUCE_MIN) {
		if (!lw_is_float(t) && count == 0) {
			lw_err(L, node, "%s over an empty %s axis", op == OP_REDUCE_MAX ? "max" : "min",
				ir_dtype_name(t));
			return NULL;
		}
		Kx *r = kx_red(L, op == OP_REDUCE_MAX ? KR_MAX : KR_MIN, ld);
		if (t == DT_BOOL) /* any / all: through i32 (the store gives back 0 or 1) */
			r->dtype = DT_I32;
		return r;
	}
	if (op == OP_REDUCE_SUM)
		return kx_red(L, KR_SUM, ld);
	if (op == OP_REDUCE_PROD)
		return kx_red(L, KR_PROD, ld);
	return kx_bin(L, KB_MUL, kx_red(L, KR_SUM, ld), kx_const(L, t, 1.0 / (double)count));
}

int lw_reduce(Lower *L, int node)
{
	const Node *n = &L->g->node[node];
	const Value *y = lw_out(L, node);
	const Shape *x = &lw_in(L, node, 0)->shape;
	int r = x->rank;
	bool red[IR_MAX_RANK];
	if (reduced_axes(L, node, red) < 0)
		return -1;
	bool keep = ir_attr_int(n, "keepdims", 1) != 0;
	Kernel *k = lw_loop(L, node, &y->shape, lw_outbuf(L, node));
	Aff coord[IR_MAX_RANK]; /* of x: output vars, reduction vars on reduced axes */
	memset(coord, 0, sizeof coord);
	int64_t count = 1;
	for (int j = 0, ov = 0; j < r; j++) {
		if (red[j]) {
			coord[j].k[lw_addvar(L, k, x->d[j].n)] = 1;
			count *= x->d[j].n;
			ov += keep;
		} else {
			coord[j].k[ov++] = 1;
		}
	}
	int prev = lw_scope_begin(L);
	Kx *ld = lw_value_at(L, n->in[0], coord);
	lw_scope_end(L, prev);
	if (!ld)
		return -1;
	k = &L->kl->k[L->kl->nk - 1];
	k->body = reduce_of(L, node, ld, count);
	return k->body ? 0 : -1;
}

/* A reduction inlined into the group being lowered, at coord (of its
 * keepdims output): a KX_REDUCE over the kernel's reduction vars, which
 * walk the reduced axes in order. The first reduction of a kernel adds
 * them; later ones share them (ps_fuse groups only reductions over the
 * same axes of same-shaped inputs; anything else is an error here). The
 * kernel being built is the last one. */
Kx *lw_red_at(Lower *L, int node, const Aff *coord)
{
	const Node *n = &L->g->node[node];
	const Shape *x = &lw_in(L, node, 0)->shape;
	bool red[IR_MAX_RANK];
	if (reduced_axes(L, node, red) < 0)
		return NULL;
	if (!ir_attr_int(n, "keepdims", 1) || L->kl->nk < 1 || L->kl->k[L->kl->nk - 1].kind != KK_LOOP) {
		lw_err(L, node, "fusion group %d: an inlined reduction must keep its dims in a loop kernel", n->group);
		return NULL;
	}
	Kernel *k = &L->kl->k[L->kl->nk - 1];
	bool fresh = k->nvar == k->nout_var;
	int rv = k->nout_var;
	int64_t count = 1;
	Aff c[IR_MAX_RANK];
	memset(c, 0, sizeof c);
	for (int j = 0; j < x->rank; j++) {
		if (!red[j]) {
			c[j] = coord[j];
			for (int v = k->nout_var; v < KV_MAX; v++)
				if (c[j].k[v])
					goto other_axes; /* read inside another reduction along its axis */
			continue;
		}
		int v = fresh ? lw_addvar(L, k, x->d[j].n) : rv++;
		if (!fresh && (v >= k->nvar || k->extent[v] != x->d[j].n))
			goto other_axes;
		c[j].k[v] = 1;
		count *= x->d[j].n;
	}
	if (!fresh && rv != k->nvar)
		goto other_axes;
	int prev = lw_scope_begin(L);
	Kx *ld = lw_value_at(L, n->in[0], c);
	lw_scope_end(L, prev);
	return ld ? reduce_of(L, node, ld, count) : NULL;
other_axes:
	lw_err(L, node, "fusion group %d: reduces other axes than the kernel's other reductions", n->group);
	return NULL;
}

/* Coordinates of x at the kernel's output vars, with the axis walked by
 * var rv (rv < 0: by its output var). */
static void along(int rank, int axis, int rv, Aff *coord)
{
	lw_out_coord(rank, coord);
	if (rv >= 0) {
		coord[axis].k[axis] = 0;
		coord[axis].k[rv] = 1;
	}
}

/* x along the axis inside a new reduce body. */
static Kx *x_along(Lower *L, int node, int axis, int rv)
{
	Aff c[IR_MAX_RANK];
	along(lw_in(L, node, 0)->shape.rank, axis, rv, c);
	int prev = lw_scope_begin(L);
	Kx *x = lw_value_at(L, L->g->node[node].in[0], c);
	lw_scope_end(L, prev);
	return x;
}

/* y = exp(x - m) / s, or x - m - log(s) */
static Kx *softmax_out(Lower *L, int node, Kx *x, Kx *m, Kx *s)
{
	Kx *d = kx_bin(L, KB_SUB, x, m);
	if (L->g->node[node].op == OP_SOFTMAX)
		return kx_bin(L, KB_DIV, kx_un(L, KU_EXP, d), s);
	return kx_bin(L, KB_SUB, d, kx_un(L, KU_LOG, s));
}

/* Fused: one kernel over x's shape, with the max m and the sum s as
 * reductions along the axis that the backend evaluates once per row:
 * y = exp(x - m) / s where m = max_r x[r], s = sum_r exp(x[r] - m). */
static int softmax_fused(Lower *L, int node, int axis)
{
	const Shape *x = &lw_in(L, node, 0)->shape;
	Kernel *k = lw_loop(L, node, x, lw_outbuf(L, node));
	int rv = lw_addvar(L, k, x->d[axis].n);
	Kx *xm = x_along(L, node, axis, rv);
	Kx *xs = x_along(L, node, axis, rv);
	Aff c[IR_MAX_RANK];
	along(x->rank, axis, -1, c);
	Kx *xo = lw_value_at(L, L->g->node[node].in[0], c);
	if (!xm || !xs || !xo)
		return -1;
	Kx *m = kx_red(L, KR_MAX, xm);
	Kx *s = kx_red(L, KR_SUM, kx_un(L, KU_EXP, kx_bin(L, KB_SUB, xs, m)));
	L->kl->k[L->kl->nk - 1].body = softmax_out(L, node, xo, m, s);
	return 0;
}

int lw_softmax(Lower *L, int node)
{
	const Node *n = &L->g->node[node];
	const Value *xv = lw_in(L, node, 0), *y = lw_out(L, node);
	const Shape *x = &xv->shape;
	DType t = y->dtype;
	if (!lw_is_float(t))
		return lw_unsupported(L, node, t);
	int r = x->rank, axis;
	if (r < 1)
		return lw_err(L, node, "softmax needs rank >= 1");
	if (lw_norm_axis(L, node, ir_attr_int(n, "axis", -1), r, &axis) < 0)
		return -1;
	if (n->group > 0)
		return softmax_fused(L, node, axis);

	/* Alone: three kernels through two temporaries, the max and the sum. */
	Shape ms = *x; /* shape of the max and the sum: axis extent 1 */
	ms.d[axis].n = 1;
	int yb = lw_outbuf(L, node);
	int mb = lw_temp(L, t, ir_shape_numel(&ms), -1);
	int sb = lw_temp(L, t, ir_shape_numel(&ms), -1);
	NN_ASSERT(mb >= 0 && sb >= 0);
	Aff c[IR_MAX_RANK];

	/* m = max over axis of x */
	Kernel *k = lw_loop(L, node, &ms, mb);
	int rv = lw_addvar(L, k, x->d[axis].n);
	Kx *xr = x_along(L, node, axis, rv);
	if (!xr)
		return -1;
	L->kl->k[L->kl->nk - 1].body = kx_red(L, KR_MAX, xr);

	/* s = sum over axis of exp(x - m) */
	lw_memo_reset(L);
	k = lw_loop(L, node, &ms, sb);
	rv = lw_addvar(L, k, x->d[axis].n);
	xr = x_along(L, node, axis, rv);
	if (!xr)
		return -1;
	Kx *d = kx_bin(L, KB_SUB, xr, kx_load(L, t, mb, lw_contig(&ms, 0)));
	L->kl->k[L->kl->nk - 1].body = kx_red(L, KR_SUM, kx_un(L, KU_EXP, d));

	/* y = exp(x - m) / s, or x - m - log(s) */
	lw_memo_reset(L);
	k = lw_loop(L, node, x, yb);
	along(r, axis, -1, c);
	Kx *xo = lw_value_at(L, n->in[0], c);
	if (!xo)
		return -1;
	Aff mc[IR_MAX_RANK]; /* the row's max and sum: axis coordinate 0 */
	lw_bcast_coord(&ms, r, c, mc);
	Kx *m = kx_load(L, t, mb, lw_linear(L, &ms, mc));
	Kx *s = kx_load(L, t, sb, lw_linear(L, &ms, mc));
	L->kl->k[L->kl->nk - 1].body = softmax_out(L, node, xo, m, s);
	return 0;
}

/* y = (x - mean[c]) * scale[c] / sqrt(var[c] + eps) + bias[c], inputs
 * x, scale, bias, mean, var (ONNX order), at output coordinates coord. */
Kx *lw_bn_at(Lower *L, int node, const Aff *coord)
{
	const Node *n = &L->g->node[node];
	const Value *xv = lw_in(L, node, 0), *y = lw_out(L, node);
	DType t = y->dtype;
	if (!lw_is_float(t)) {
		lw_unsupported(L, node, t);
		return NULL;
	}
	if (xv->shape.rank < 2) {
		lw_err(L, node, "batchnorm needs rank >= 2 (channel is dim 1)");
		return NULL;
	}
	int64_t c = xv->shape.d[1].n;
	Kx *p[5];
	for (int i = 1; i < 5; i++) {
		if (n->in[i] < 0 || ir_shape_numel(&lw_in(L, node, i)->shape) != c) {
			lw_err(L, node, "input %d must have %lld elements (one per channel)", i, (long long)c);
			return NULL;
		}
		p[i] = kx_load(L, t, lw_inbuf(L, node, i), coord[1]); /* flat index = channel */
	}
	double eps = ir_attr_float(n, "epsilon", 1e-5);
	Kx *xl = lw_value_at(L, n->in[0], coord);
	if (!xl)
		return NULL;
	Kx *e = kx_bin(L, KB_MUL, kx_bin(L, KB_SUB, xl, p[3]), p[1]);
	e = kx_bin(L, KB_DIV, e, kx_un(L, KU_SQRT, kx_bin(L, KB_ADD, p[4], kx_const(L, t, eps))));
	return kx_bin(L, KB_ADD, e, p[2]);
}

int lw_batchnorm(Lower *L, int node)
{
	return lw_pointwise(L, node, lw_bn_at);
}
