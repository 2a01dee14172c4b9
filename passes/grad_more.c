/* grad_more.c — gradient rules for ops models use that had none (issue 8):
 * cumsum, mod and reduce_prod (zeros included). (reduce_min shares gr_reduce_max, grad_nn.c: the
 * adjoint goes to the elements equal to the result, split between ties.)
 * Checked against finite differences by tests/unit/test_grad_more.c. */
#include "grad.h"

static int in(const GradCtx *c, int i) { return gr_node(c)->in[i]; }

/* y = cumsum(x) along axis: dx = the cumulative sum of g the other way
 * round (reverse flipped), with the same exclusivity. */
int gr_cumsum(GradCtx *c, const int *gout, int *gin)
{
	const Node *n = gr_node(c);
	int64_t axis = ir_attr_int(n, "axis", 0);
	int64_t excl = ir_attr_int(n, "exclusive", 0), rev = ir_attr_int(n, "reverse", 0);
	if (!c->need[0] || c->fail)
		return 0;
	int nd = gr_begin(c, OP_CUMSUM, &gout[0], 1);
	ir_set_int(c->g, nd, "axis", axis);
	if (excl)
		ir_set_int(c->g, nd, "exclusive", 1);
	if (!rev)
		ir_set_int(c->g, nd, "reverse", 1);
	gin[0] = gr_end(c, nd, gout[0]);
	return 0;
}

/* y = a - b * q with q = trunc(a / b) (fmod = 1) or floor(a / b): q is
 * piecewise constant, so da = g and db = -g * q, q recomputed exactly as
 * (a - y) / b. Each unbroadcast to its input's shape. */
int gr_mod(GradCtx *c, const int *gout, int *gin)
{
	int a = in(c, 0), b = in(c, 1), y = gr_node(c)->out[0];
	if (c->need[0]) {
		Shape s = gr_val(c, a)->shape;
		gin[0] = gr_unbroadcast(c, gout[0], &s);
	}
	if (c->need[1]) {
		int q = gr_bin(c, OP_DIV, gr_bin(c, OP_SUB, a, y), b);
		Shape s = gr_val(c, b)->shape;
		gin[1] = gr_unbroadcast(c, gr_un(c, OP_NEG, gr_bin(c, OP_MUL, gout[0], q)), &s);
	}
	return 0;
}

/* The reduced axes of the node (absent or empty: all), kept as 1 in x's
 * shape; fills ax[] with them and returns their count. */
static int kept_shape(const GradCtx *c, Shape *s, int64_t *ax)
{
	*s = gr_val(c, in(c, 0))->shape;
	const int64_t *a;
	int na = ir_attr_ints(gr_node(c), "axes", &a), n = 0;
	bool red[IR_MAX_RANK];
	for (int i = 0; i < s->rank; i++)
		red[i] = na <= 0;
	for (int i = 0; i < na; i++)
		red[a[i] < 0 ? a[i] + s->rank : a[i]] = true;
	for (int i = 0; i < s->rank; i++)
		if (red[i]) {
			s->d[i] = (Dim){1, 0};
			ax[n++] = i;
		}
	return n;
}

/* y = prod(x) over axes: dx_i = g * (product of the other elements). With
 * z the zeros of the slice and p the product of its nonzero elements:
 * no zero, p / x_i; one zero, p at the zero and 0 elsewhere; more, 0. */
int gr_reduce_prod(GradCtx *c, const int *gout, int *gin)
{
	if (!c->need[0])
		return 0;
	int x = in(c, 0);
	DType t = gr_val(c, x)->dtype;
	Shape ks, xs = gr_val(c, x)->shape;
	int64_t ax[IR_MAX_RANK];
	int na = kept_shape(c, &ks, ax);
	int zero = gr_eq(c, x, gr_scalar(c, t, 0));       /* 1 at the zeros */
	int x1 = gr_bin(c, OP_ADD, x, zero);                /* zeros made 1 */
	int p = gr_reduce(c, OP_REDUCE_PROD, x1, ax, na, 1);
	int nz = gr_reduce(c, OP_REDUCE_SUM, zero, ax, na, 1);
	int none = gr_eq(c, nz, gr_scalar(c, t, 0)), one = gr_eq(c, nz, gr_scalar(c, t, 1));
	int w = gr_bin(c, OP_ADD, gr_bin(c, OP_DIV, none, x1), gr_bin(c, OP_MUL, one, zero));
	int gp = gr_bin(c, OP_MUL, gr_reshape(c, gout[0], &ks), p);
	gin[0] = gr_broadcast_to(c, gr_bin(c, OP_MUL, gp, w), &xs);
	return 0;
}
