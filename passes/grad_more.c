/* grad_more.c — gradient rules for ops models use that had none (issue 8):
 * cumsum and mod. (reduce_min shares gr_reduce_max, grad_nn.c: the
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
