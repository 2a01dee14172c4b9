/* grad_nn.c — gradient rules of the contractions, reductions, softmax and
 * inference batchnorm (ops.def's grad column). A reduction's adjoint is
 * its output's adjoint broadcast back over the reduced axes; matmul's is
 * two matmuls whose trans_a/trans_b flags absorb the transposes, summed
 * over broadcast batch dims. */
#include "grad.h"

#include <string.h>

static int in(const GradCtx *c, int i) { return gr_node(c)->in[i]; }
static int out(const GradCtx *c) { return gr_node(c)->out[0]; }
static Shape shape_of(const GradCtx *c, int v) { return gr_val(c, v)->shape; }

int gr_mm(GradCtx *c, int a, int b, int ta, int tb)
{
	if (c->fail)
		return a;
	int n = gr_begin(c, OP_MATMUL, (int[]){a, b}, 2);
	if (ta)
		ir_set_int(c->g, n, "trans_a", 1);
	if (tb)
		ir_set_int(c->g, n, "trans_b", 1);
	return gr_end(c, n, a);
}

/* Inserts a dim of extent 1 at position `at` of x's static shape. */
static int add_dim(GradCtx *c, int x, int at)
{
	Shape s = shape_of(c, x);
	for (int i = s.rank; i > at; i--)
		s.d[i] = s.d[i - 1];
	s.d[at] = (Dim){1, 0};
	s.rank++;
	return gr_reshape(c, x, &s);
}

/* y = A @ B with A = a or a^T (trans_a), B likewise; 1-D operands are
 * promoted to matrices first and the adjoints reshaped back. */
int gr_matmul(GradCtx *c, const int *gout, int *gin)
{
	const Node *n = gr_node(c);
	int ta = ir_attr_int(n, "trans_a", 0) != 0, tb = ir_attr_int(n, "trans_b", 0) != 0;
	int a = in(c, 0), b = in(c, 1), g = gout[0];
	Shape sa = shape_of(c, a), sb = shape_of(c, b);
	if (sa.rank == 1 && sb.rank == 1) {
		g = gr_reshape(c, g, &(Shape){2, {{1, 0}, {1, 0}}});
	} else if (sa.rank == 1) {
		g = add_dim(c, g, shape_of(c, g).rank - 1);
	} else if (sb.rank == 1) {
		g = add_dim(c, g, shape_of(c, g).rank);
	}
	if (sa.rank == 1)
		a = add_dim(c, a, 0);
	if (sb.rank == 1)
		b = add_dim(c, b, 1);
	if (c->need[0]) {
		int ga = !ta ? gr_mm(c, g, b, 0, !tb) : gr_mm(c, b, g, tb, 1);
		Shape s = shape_of(c, a);
		gin[0] = gr_reshape(c, gr_unbroadcast(c, ga, &s), &sa);
	}
	if (c->need[1]) {
		int gb = !tb ? gr_mm(c, a, g, !ta, 0) : gr_mm(c, g, a, 1, ta);
		Shape s = shape_of(c, b);
		gin[1] = gr_reshape(c, gr_unbroadcast(c, gb, &s), &sb);
	}
	return 0;
}

/* The reduced axes of node (attribute axes, absent or empty: all), as a
 * mask over x's rank. */
static void reduced(const GradCtx *c, int rank, bool *red)
{
	const int64_t *ax;
	int na = ir_attr_ints(gr_node(c), "axes", &ax);
	for (int i = 0; i < rank; i++)
		red[i] = na <= 0;
	for (int i = 0; i < na; i++)
		red[ax[i] < 0 ? ax[i] + rank : ax[i]] = true;
}

/* The output's adjoint (or value) v with the reduced dims kept as 1. */
static int kept(GradCtx *c, int v)
{
	Shape s = shape_of(c, in(c, 0));
	bool red[IR_MAX_RANK];
	reduced(c, s.rank, red);
	for (int i = 0; i < s.rank; i++)
		if (red[i])
			s.d[i] = (Dim){1, 0};
	return gr_reshape(c, v, &s);
}

int gr_reduce_sum(GradCtx *c, const int *gout, int *gin)
{
	Shape s = shape_of(c, in(c, 0));
	gin[0] = gr_broadcast_to(c, kept(c, gout[0]), &s);
	return 0;
}

int gr_reduce_mean(GradCtx *c, const int *gout, int *gin)
{
	Shape s = shape_of(c, in(c, 0));
	Shape so = shape_of(c, out(c));
	double k = (double)ir_shape_numel(&so) / (double)ir_shape_numel(&s);
	int g = gr_bin(c, OP_MUL, kept(c, gout[0]), gr_scalar(c, gr_val(c, out(c))->dtype, k));
	gin[0] = gr_broadcast_to(c, g, &s);
	return 0;
}

/* shared evenly among the elements equal to the maximum (as PyTorch's amax);
 * reduce_min's rule too (the elements equal to the minimum) */
int gr_reduce_max(GradCtx *c, const int *gout, int *gin)
{
	int x = in(c, 0);
	Shape s = shape_of(c, x);
	bool red[IR_MAX_RANK];
	reduced(c, s.rank, red);
	int64_t ax[IR_MAX_RANK];
	int na = 0;
	for (int i = 0; i < s.rank; i++)
		if (red[i])
			ax[na++] = i;
	int mask = gr_eq(c, x, kept(c, out(c)));
	int cnt = gr_reduce(c, OP_REDUCE_SUM, mask, ax, na, 1);
	int share = gr_bin(c, OP_DIV, kept(c, gout[0]), cnt);
	gin[0] = gr_bin(c, OP_MUL, mask, share);
	return 0;
}

static int64_t axis_of(const GradCtx *c)
{
	int64_t a = ir_attr_int(gr_node(c), "axis", -1);
	return a < 0 ? a + shape_of(c, out(c)).rank : a;
}

/* y * (g - sum(g * y)) */
int gr_softmax(GradCtx *c, const int *gout, int *gin)
{
	int y = out(c);
	int64_t ax = axis_of(c);
	int s = gr_reduce(c, OP_REDUCE_SUM, gr_bin(c, OP_MUL, gout[0], y), &ax, 1, 1);
	gin[0] = gr_bin(c, OP_MUL, y, gr_bin(c, OP_SUB, gout[0], s));
	return 0;
}

/* g - softmax * sum(g) */
int gr_log_softmax(GradCtx *c, const int *gout, int *gin)
{
	int64_t ax = axis_of(c);
	int s = gr_reduce(c, OP_REDUCE_SUM, gout[0], &ax, 1, 1);
	gin[0] = gr_bin(c, OP_SUB, gout[0], gr_bin(c, OP_MUL, gr_un(c, OP_EXP, out(c)), s));
	return 0;
}

/* [C] -> [C, 1, ..., 1], broadcasting against x [N, C, ...] */
static int per_channel(GradCtx *c, int v, int xrank)
{
	Shape s = shape_of(c, v);
	for (int i = 1; i < xrank - 1; i++)
		s.d[s.rank++] = (Dim){1, 0};
	return gr_reshape(c, v, &s);
}

/* inference batchnorm y = (x - mean) * inv * scale + bias, inv = 1/sqrt(var + eps) */
int gr_batchnorm(GradCtx *c, const int *gout, int *gin)
{
	int x = in(c, 0), g = gout[0];
	int r = shape_of(c, x).rank;
	DType t = gr_val(c, x)->dtype;
	double eps = ir_attr_float(gr_node(c), "epsilon", 1e-5);
	int64_t ax[IR_MAX_RANK];
	int na = 0;
	for (int i = 0; i < r; i++)
		if (i != 1)
			ax[na++] = i;
	int inv = gr_un(c, OP_SQRT, gr_bin(c, OP_ADD, in(c, 4), gr_scalar(c, t, eps)));
	inv = gr_bin(c, OP_DIV, gr_scalar(c, t, 1), inv);
	int scale = in(c, 1);
	int xc = gr_bin(c, OP_SUB, x, per_channel(c, in(c, 3), r));
	if (c->need[0]) {
		int k = per_channel(c, gr_bin(c, OP_MUL, scale, inv), r);
		gin[0] = gr_bin(c, OP_MUL, g, k);
	}
	if (c->need[1]) {
		int s = gr_reduce(c, OP_REDUCE_SUM, gr_bin(c, OP_MUL, g, xc), ax, na, 0);
		gin[1] = gr_bin(c, OP_MUL, s, inv);
	}
	int sg = gr_reduce(c, OP_REDUCE_SUM, g, ax, na, 0);
	if (c->need[2])
		gin[2] = sg;
	if (c->need[3])
		gin[3] = gr_un(c, OP_NEG, gr_bin(c, OP_MUL, sg, gr_bin(c, OP_MUL, scale, inv)));
	if (c->need[4]) {
		int s = gr_reduce(c, OP_REDUCE_SUM, gr_bin(c, OP_MUL, g, xc), ax, na, 0);
		int inv3 = gr_bin(c, OP_MUL, inv, gr_bin(c, OP_MUL, inv, inv));
		int k = gr_bin(c, OP_MUL, gr_bin(c, OP_MUL, scale, inv3), gr_scalar(c, t, -0.5));
		gin[4] = gr_bin(c, OP_MUL, s, k);
	}
	return 0;
}
