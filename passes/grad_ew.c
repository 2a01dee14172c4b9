/* grad_ew.c — gradient rules of the elementwise ops (ops.def's grad
 * column). Binary ops broadcast, so each input's contribution is summed
 * over the dims it was broadcast along (gr_unbroadcast). Piecewise ops
 * select with comparisons and `where`; at a kink the rule picks one side,
 * as PyTorch does (relu'(0) = 0). */
#include "grad.h"

#include <math.h>

static int in(const GradCtx *c, int i) { return gr_node(c)->in[i]; }
static int out(const GradCtx *c) { return gr_node(c)->out[0]; }
static DType dt(const GradCtx *c) { return gr_val(c, out(c))->dtype; }

/* gin[i] = unbroadcast(x) to input i's shape */
static void put(GradCtx *c, int *gin, int i, int x)
{
	Shape s = gr_val(c, in(c, i))->shape;
	gin[i] = gr_unbroadcast(c, x, &s);
}

int gr_add(GradCtx *c, const int *gout, int *gin)
{
	for (int i = 0; i < 2; i++)
		if (c->need[i])
			put(c, gin, i, gout[0]);
	return 0;
}

int gr_sub(GradCtx *c, const int *gout, int *gin)
{
	if (c->need[0])
		put(c, gin, 0, gout[0]);
	if (c->need[1])
		put(c, gin, 1, gr_un(c, OP_NEG, gout[0]));
	return 0;
}

int gr_mul(GradCtx *c, const int *gout, int *gin)
{
	int std = gr_standardize(c, gout[0]); /* x's adjoint through a whole normalization */
	if (std)
		return std < 0 ? -1 : 0;
	if (c->need[0])
		put(c, gin, 0, gr_bin(c, OP_MUL, gout[0], in(c, 1)));
	if (c->need[1])
		put(c, gin, 1, gr_bin(c, OP_MUL, gout[0], in(c, 0)));
	return 0;
}

/* y = a / b: da = g / b, db = -g * y / b */
int gr_div(GradCtx *c, const int *gout, int *gin)
{
	int gb = gr_bin(c, OP_DIV, gout[0], in(c, 1));
	if (c->need[0])
		put(c, gin, 0, gb);
	if (c->need[1])
		put(c, gin, 1, gr_un(c, OP_NEG, gr_bin(c, OP_MUL, gb, out(c))));
	return 0;
}

/* y = a ** b: da = g * b * a ** (b - 1), db = g * y * log(a) */
int gr_pow(GradCtx *c, const int *gout, int *gin)
{
	int a = in(c, 0), b = in(c, 1);
	if (c->need[0]) {
		int bm1 = gr_bin(c, OP_SUB, b, gr_scalar(c, dt(c), 1));
		int d = gr_bin(c, OP_MUL, b, gr_bin(c, OP_POW, a, bm1));
		put(c, gin, 0, gr_bin(c, OP_MUL, gout[0], d));
	}
	if (c->need[1]) {
		int d = gr_bin(c, OP_MUL, out(c), gr_un(c, OP_LOG, a));
		put(c, gin, 1, gr_bin(c, OP_MUL, gout[0], d));
	}
	return 0;
}

int gr_neg(GradCtx *c, const int *gout, int *gin)
{
	gin[0] = gr_un(c, OP_NEG, gout[0]);
	return 0;
}

/* d|x| = sign(x): g where x > 0, -g where x < 0, 0 at 0 */
int gr_abs(GradCtx *c, const int *gout, int *gin)
{
	int x = in(c, 0), z = gr_scalar(c, dt(c), 0);
	int neg = gr_where(c, gr_bin(c, OP_LESS, x, z), gr_un(c, OP_NEG, gout[0]), z);
	gin[0] = gr_where(c, gr_pos(c, x), gout[0], neg);
	return 0;
}

int gr_exp(GradCtx *c, const int *gout, int *gin)
{
	gin[0] = gr_bin(c, OP_MUL, gout[0], out(c));
	return 0;
}

int gr_log(GradCtx *c, const int *gout, int *gin)
{
	gin[0] = gr_bin(c, OP_DIV, gout[0], in(c, 0));
	return 0;
}

/* d sqrt(x) = 0.5 / y */
int gr_sqrt(GradCtx *c, const int *gout, int *gin)
{
	int h = gr_bin(c, OP_MUL, gout[0], gr_scalar(c, dt(c), 0.5));
	gin[0] = gr_bin(c, OP_DIV, h, out(c));
	return 0;
}

/* relu(x) > 0 exactly where x > 0 */
int gr_relu(GradCtx *c, const int *gout, int *gin)
{
	gin[0] = gr_keep(c, gr_pos(c, out(c)), gout[0]);
	return 0;
}

/* y * (1 - y) */
int gr_sigmoid(GradCtx *c, const int *gout, int *gin)
{
	int y = out(c);
	int d = gr_bin(c, OP_MUL, y, gr_bin(c, OP_SUB, gr_scalar(c, dt(c), 1), y));
	gin[0] = gr_bin(c, OP_MUL, gout[0], d);
	return 0;
}

/* 1 - y * y */
int gr_tanh(GradCtx *c, const int *gout, int *gin)
{
	int y = out(c);
	int d = gr_bin(c, OP_SUB, gr_scalar(c, dt(c), 1), gr_bin(c, OP_MUL, y, y));
	gin[0] = gr_bin(c, OP_MUL, gout[0], d);
	return 0;
}

/* g where x > 0, else alpha * g */
int gr_leaky_relu(GradCtx *c, const int *gout, int *gin)
{
	double alpha = ir_attr_float(gr_node(c), "alpha", 0.01);
	int low = gr_bin(c, OP_MUL, gout[0], gr_scalar(c, dt(c), alpha));
	gin[0] = gr_where(c, gr_pos(c, in(c, 0)), gout[0], low);
	return 0;
}

/* passes where min < x < max */
int gr_clip(GradCtx *c, const int *gout, int *gin)
{
	double lo = ir_attr_float(gr_node(c), "min", -INFINITY);
	double hi = ir_attr_float(gr_node(c), "max", INFINITY);
	int x = in(c, 0), g = gout[0];
	if (lo > -INFINITY)
		g = gr_keep(c, gr_bin(c, OP_GREATER, x, gr_scalar(c, dt(c), lo)), g);
	if (hi < INFINITY)
		g = gr_keep(c, gr_bin(c, OP_LESS, x, gr_scalar(c, dt(c), hi)), g);
	gin[0] = g;
	return 0;
}

/* float to float: the adjoint cast back; anything else carries none */
int gr_cast_rule(GradCtx *c, const int *gout, int *gin)
{
	DType from = gr_val(c, in(c, 0))->dtype;
	if (ir_dtype_is_float(from) && ir_dtype_is_float(dt(c)))
		gin[0] = gr_cast(c, gout[0], from);
	return 0;
}
