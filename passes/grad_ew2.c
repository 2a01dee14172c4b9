/* grad_ew2.c — gradient rules of the ew family's math and selection ops
 * (ops.def's grad column): where, max/min, trigonometric and hyperbolic
 * functions, erf, reciprocal; floor, ceil, round and sign are piecewise
 * constant and pass no gradient (their rule contributes nothing, so the
 * adjoint is zero, as in PyTorch). */
#include "grad.h"

#include <math.h>

static int in(const GradCtx *c, int i) { return gr_node(c)->in[i]; }
static int out(const GradCtx *c) { return gr_node(c)->out[0]; }
static DType dt(const GradCtx *c) { return gr_val(c, out(c))->dtype; }
static int k(GradCtx *c, double v) { return gr_scalar(c, dt(c), v); }
static int mul(GradCtx *c, int a, int b) { return gr_bin(c, OP_MUL, a, b); }

static void put(GradCtx *c, int *gin, int i, int x)
{
	Shape s = gr_val(c, in(c, i))->shape;
	gin[i] = gr_unbroadcast(c, x, &s);
}

/* g to a where cond, to b elsewhere; cond carries none */
int gr_where_rule(GradCtx *c, const int *gout, int *gin)
{
	int z = k(c, 0);
	if (c->need[1])
		put(c, gin, 1, gr_where(c, in(c, 0), gout[0], z));
	if (c->need[2])
		put(c, gin, 2, gr_where(c, in(c, 0), z, gout[0]));
	return 0;
}

/* the adjoint goes to the operand that was chosen (a on ties) */
static int extreme(GradCtx *c, const int *gout, int *gin, Op cmp)
{
	int z = k(c, 0);
	int pick_a = gr_bin(c, cmp, in(c, 0), in(c, 1));
	if (c->need[0])
		put(c, gin, 0, gr_where(c, pick_a, gout[0], z));
	if (c->need[1])
		put(c, gin, 1, gr_where(c, pick_a, z, gout[0]));
	return 0;
}

int gr_max(GradCtx *c, const int *gout, int *gin) { return extreme(c, gout, gin, OP_GREATER_EQUAL); }
int gr_min(GradCtx *c, const int *gout, int *gin) { return extreme(c, gout, gin, OP_LESS_EQUAL); }

/* g * f'(x) for the unary functions, f' from x and y */
int gr_unary_math(GradCtx *c, const int *gout, int *gin)
{
	int x = in(c, 0), y = out(c), d;
	switch (gr_node(c)->op) {
	case OP_SIN: d = gr_un(c, OP_COS, x); break;
	case OP_COS: d = gr_un(c, OP_NEG, gr_un(c, OP_SIN, x)); break;
	case OP_TAN: d = gr_bin(c, OP_ADD, k(c, 1), mul(c, y, y)); break;          /* 1 + y^2 */
	case OP_ASIN: /* 1 / sqrt(1 - x^2) */
		d = gr_un(c, OP_RECIPROCAL, gr_un(c, OP_SQRT, gr_bin(c, OP_SUB, k(c, 1), mul(c, x, x))));
		break;
	case OP_ACOS:
		d = gr_un(c, OP_NEG, gr_un(c, OP_RECIPROCAL,
			gr_un(c, OP_SQRT, gr_bin(c, OP_SUB, k(c, 1), mul(c, x, x)))));
		break;
	case OP_ATAN: d = gr_un(c, OP_RECIPROCAL, gr_bin(c, OP_ADD, k(c, 1), mul(c, x, x))); break;
	case OP_SINH: d = gr_un(c, OP_COSH, x); break;
	case OP_COSH: d = gr_un(c, OP_SINH, x); break;
	case OP_ASINH: /* 1 / sqrt(x^2 + 1) */
		d = gr_un(c, OP_RECIPROCAL, gr_un(c, OP_SQRT, gr_bin(c, OP_ADD, mul(c, x, x), k(c, 1))));
		break;
	case OP_ACOSH: /* 1 / sqrt(x^2 - 1) */
		d = gr_un(c, OP_RECIPROCAL, gr_un(c, OP_SQRT, gr_bin(c, OP_SUB, mul(c, x, x), k(c, 1))));
		break;
	case OP_ATANH: d = gr_un(c, OP_RECIPROCAL, gr_bin(c, OP_SUB, k(c, 1), mul(c, x, x))); break;
	case OP_ERF: /* 2/sqrt(pi) exp(-x^2) */
		d = mul(c, k(c, 2 / sqrt(M_PI)), gr_un(c, OP_EXP, gr_un(c, OP_NEG, mul(c, x, x))));
		break;
	case OP_RECIPROCAL: d = gr_un(c, OP_NEG, mul(c, y, y)); break;               /* -y^2 */
	default:
		return diag(c->d, "autodiff: no derivative for %s", ir_ops[gr_node(c)->op].name);
	}
	gin[0] = mul(c, gout[0], d);
	return 0;
}

/* floor, ceil, round, sign: zero almost everywhere */
int gr_zero(GradCtx *c, const int *gout, int *gin)
{
	(void)c;
	(void)gout;
	(void)gin;
	return 0;
}
