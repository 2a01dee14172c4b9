/* lower_red.c — lowering of reductions and normalizations: reduce_sum/mean/
 * max (a loop over output positions with reduction vars over the reduced
 * axes), softmax and log_softmax (three kernels through two temporaries:
 * the max and the sum of exponentials along the axis), and inference
 * batchnorm (one elementwise loop, channel = dim 1). */
#include <math.h>
#include <string.h>

#include "lower.h"

int lw_reduce(Lower *L, int node)
{
	const Node *n = &L->g->node[node];
	const Value *xv = lw_in(L, node, 0), *y = lw_out(L, node);
	const Shape *x = &xv->shape;
	DType t = y->dtype;
	if (!lw_is_arith(t) || (n->op == OP_REDUCE_MEAN && !lw_is_float(t)))
		return lw_unsupported(L, node, t);
	int r = x->rank;
	bool red[IR_MAX_RANK] = { 0 };
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
	int64_t st[IR_MAX_RANK];
	lw_strides(x, st);
	Kernel *k = lw_loop(L, node, &y->shape, lw_outbuf(L, node));
	Aff idx;
	memset(&idx, 0, sizeof idx);
	int64_t count = 1;
	for (int j = 0, ov = 0; j < r; j++) {
		if (red[j]) {
			idx.k[lw_addvar(L, k, x->d[j].n)] = st[j];
			count *= x->d[j].n;
			ov += keep;
		} else {
			idx.k[ov++] = st[j];
		}
	}
	Kx *ld = kx_load(L, t, lw_inbuf(L, node, 0), idx);
	if (n->op == OP_REDUCE_MAX) {
		if (!lw_is_float(t) && count == 0)
			return lw_err(L, node, "max over an empty %s axis", ir_dtype_name(t));
		k->body = kx_red(L, KR_MAX, ld);
	} else if (n->op == OP_REDUCE_SUM) {
		k->body = kx_red(L, KR_SUM, ld);
	} else {
		k->body = kx_bin(L, KB_MUL, kx_red(L, KR_SUM, ld), kx_const(L, t, 1.0 / (double)count));
	}
	return 0;
}

/* Index into x over the kernel's vars, with the axis walked by var rv. */
static Aff along(const Shape *x, int axis, int rv)
{
	Aff a = lw_contig(x, 0);
	int64_t st[IR_MAX_RANK];
	lw_strides(x, st);
	a.k[axis] = 0;
	a.k[rv] = st[axis];
	return a;
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
	Shape ms = *x; /* shape of the max and the sum: axis extent 1 */
	ms.d[axis].n = 1;
	int xb = lw_inbuf(L, node, 0), yb = lw_outbuf(L, node);
	int mb = lw_temp(L, t, ir_shape_numel(&ms), -1);
	int sb = lw_temp(L, t, ir_shape_numel(&ms), -1);
	NN_ASSERT(mb >= 0 && sb >= 0);

	/* m = max over axis of x */
	Kernel *k = lw_loop(L, node, &ms, mb);
	int rv = lw_addvar(L, k, x->d[axis].n);
	k->body = kx_red(L, KR_MAX, kx_load(L, t, xb, along(x, axis, rv)));

	/* s = sum over axis of exp(x - m) */
	k = lw_loop(L, node, &ms, sb);
	rv = lw_addvar(L, k, x->d[axis].n);
	Kx *d = kx_bin(L, KB_SUB, kx_load(L, t, xb, along(x, axis, rv)), kx_load(L, t, mb, lw_contig(&ms, 0)));
	k->body = kx_red(L, KR_SUM, kx_un(L, KU_EXP, d));

	/* y = exp(x - m) / s, or x - m - log(s) */
	k = lw_loop(L, node, x, yb);
	d = kx_bin(L, KB_SUB, kx_load(L, t, xb, lw_contig(x, 0)), kx_load(L, t, mb, lw_bcast(&ms, x, 0)));
	Kx *s = kx_load(L, t, sb, lw_bcast(&ms, x, 0));
	if (n->op == OP_SOFTMAX)
		k->body = kx_bin(L, KB_DIV, kx_un(L, KU_EXP, d), s);
	else
		k->body = kx_bin(L, KB_SUB, d, kx_un(L, KU_LOG, s));
	return 0;
}

/* y = (x - mean[c]) * scale[c] / sqrt(var[c] + eps) + bias[c], inputs
 * x, scale, bias, mean, var (ONNX order). */
int lw_batchnorm(Lower *L, int node)
{
	const Node *n = &L->g->node[node];
	const Value *xv = lw_in(L, node, 0), *y = lw_out(L, node);
	DType t = y->dtype;
	if (!lw_is_float(t))
		return lw_unsupported(L, node, t);
	if (xv->shape.rank < 2)
		return lw_err(L, node, "batchnorm needs rank >= 2 (channel is dim 1)");
	int64_t c = xv->shape.d[1].n;
	Kx *p[5];
	for (int i = 1; i < 5; i++) {
		if (n->in[i] < 0 || ir_shape_numel(&lw_in(L, node, i)->shape) != c)
			return lw_err(L, node, "input %d must have %lld elements (one per channel)", i, (long long)c);
		Aff a;
		memset(&a, 0, sizeof a);
		a.k[1] = 1;
		p[i] = kx_load(L, t, lw_inbuf(L, node, i), a);
	}
	double eps = ir_attr_float(n, "epsilon", 1e-5);
	Kx *xl = kx_load(L, t, lw_inbuf(L, node, 0), lw_contig(&xv->shape, 0));
	Kx *e = kx_bin(L, KB_MUL, kx_bin(L, KB_SUB, xl, p[3]), p[1]);
	e = kx_bin(L, KB_DIV, e, kx_un(L, KU_SQRT, kx_bin(L, KB_ADD, p[4], kx_const(L, t, eps))));
	Kernel *k = lw_loop(L, node, &y->shape, lw_outbuf(L, node));
	k->body = kx_bin(L, KB_ADD, e, p[2]);
	return 0;
}
