/* test_grad.c — gradient checks (grad_check.h) of the elementwise,
 * contraction, reduction, softmax, normalization and movement rules (and
 * the ew family's math and selection: where, max/min, trig, erf), with
 * broadcasting operands, and of the training losses; plus autodiff's error
 * path (an op without a rule is named) and a parameter the loss does not
 * reach (a zero gradient). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "grad_check.h"

/* --- elementwise ----------------------------------------------------------- */

/* binary op over a [2, 3, 4] and a [3, 1] operand (broadcast both ways) */
static Graph *binary(DType t, Op o)
{
	Graph *g = ir_graph_new(ir_ops[o].name);
	int a = ir_add_input(g, "a", t, GS(2, 3, 4));
	int b = ir_add_input(g, "b", t, GS(3, 1));
	return gc_done(g, gc_op(g, o, a, b));
}
static Graph *b_add(DType t) { return binary(t, OP_ADD); }
static Graph *b_sub(DType t) { return binary(t, OP_SUB); }
static Graph *b_mul(DType t) { return binary(t, OP_MUL); }
static Graph *b_div(DType t) { return binary(t, OP_DIV); }
static Graph *b_pow(DType t) { return binary(t, OP_POW); }

/* x [1, 4] op y [3, 1]: the output broadcasts beyond both */
static Graph *b_mul_outer(DType t)
{
	Graph *g = ir_graph_new("mul_outer");
	int a = ir_add_input(g, "a", t, GS(1, 4));
	int b = ir_add_input(g, "b", t, GS(3, 1));
	return gc_done(g, gc_op(g, OP_MUL, a, b));
}

/* the same value on both sides: contributions add up */
static Graph *b_square(DType t)
{
	Graph *g = ir_graph_new("square");
	int a = ir_add_input(g, "a", t, GS(5));
	return gc_done(g, gc_op(g, OP_MUL, a, a));
}

static Graph *unary(DType t, Op o, const char *name)
{
	Graph *g = ir_graph_new(name);
	int x = ir_add_input(g, "x", t, GS(3, 5));
	int y = gc_op(g, o, x, -1);
	if (o == OP_LEAKYRELU)
		ir_set_float(g, gc_node(g, y), "alpha", 0.2);
	if (o == OP_CLIP) {
		ir_set_float(g, gc_node(g, y), "min", -0.5);
		ir_set_float(g, gc_node(g, y), "max", 0.6);
	}
	return gc_done(g, y);
}
static Graph *u_neg(DType t) { return unary(t, OP_NEG, "neg"); }
static Graph *u_abs(DType t) { return unary(t, OP_ABS, "abs"); }
static Graph *u_exp(DType t) { return unary(t, OP_EXP, "exp"); }
static Graph *u_log(DType t) { return unary(t, OP_LOG, "log"); }
static Graph *u_sqrt(DType t) { return unary(t, OP_SQRT, "sqrt"); }
static Graph *u_relu(DType t) { return unary(t, OP_RELU, "relu"); }
static Graph *u_sigmoid(DType t) { return unary(t, OP_SIGMOID, "sigmoid"); }
static Graph *u_tanh(DType t) { return unary(t, OP_TANH, "tanh"); }
static Graph *u_leaky(DType t) { return unary(t, OP_LEAKYRELU, "leaky_relu"); }
static Graph *u_clip(DType t) { return unary(t, OP_CLIP, "clip"); }

static Graph *u_sin(DType t) { return unary(t, OP_SIN, "sin"); }
static Graph *u_cos(DType t) { return unary(t, OP_COS, "cos"); }
static Graph *u_tan(DType t) { return unary(t, OP_TAN, "tan"); }
static Graph *u_asin(DType t) { return unary(t, OP_ASIN, "asin"); }
static Graph *u_acos(DType t) { return unary(t, OP_ACOS, "acos"); }
static Graph *u_atan(DType t) { return unary(t, OP_ATAN, "atan"); }
static Graph *u_sinh(DType t) { return unary(t, OP_SINH, "sinh"); }
static Graph *u_cosh(DType t) { return unary(t, OP_COSH, "cosh"); }
static Graph *u_asinh(DType t) { return unary(t, OP_ASINH, "asinh"); }
static Graph *u_acosh(DType t) { return unary(t, OP_ACOSH, "acosh"); }
static Graph *u_atanh(DType t) { return unary(t, OP_ATANH, "atanh"); }
static Graph *u_erf(DType t) { return unary(t, OP_ERF, "erf"); }
static Graph *u_recip(DType t) { return unary(t, OP_RECIPROCAL, "reciprocal"); }
static Graph *u_floor(DType t) { return unary(t, OP_FLOOR, "floor"); }
static Graph *u_sign(DType t) { return unary(t, OP_SIGN, "sign"); }
static Graph *u_ceil(DType t) { return unary(t, OP_CEIL, "ceil"); }
static Graph *u_round(DType t) { return unary(t, OP_ROUND, "round"); }

/* reshape_dyn with a constant target */
static Graph *v_reshape_dyn(DType t)
{
	Graph *g = ir_graph_new("reshape_dyn");
	int x = ir_add_input(g, "x", t, GS(2, 6));
	int64_t sh[3] = {3, 2, 2};
	int k = ir_add_const(g, "shape", DT_I64, GS(3), sh, sizeof sh, false);
	return gc_done(g, gc_op(g, OP_SIGMOID, gc_op(g, OP_RESHAPE_DYN, x, k), -1));
}
static Graph *b_max(DType t) { return binary(t, OP_MAX); }
static Graph *b_min(DType t) { return binary(t, OP_MIN); }

/* where(c, a, b) with a bool input c [2, 3, 1] and a, b broadcasting */
static Graph *t_where(DType t)
{
	Graph *g = ir_graph_new("where");
	int c = ir_add_input(g, "c", DT_BOOL, GS(2, 3, 1));
	int a = ir_add_input(g, "a", t, GS(3, 4));
	int b = ir_add_input(g, "b", t, GS(4));
	int n = ir_add_node(g, OP_WHERE, "where", (int[]){c, a, b}, 3, 1, NULL);
	return gc_done(g, ir_out(g, n, 0));
}

/* cast to f64 and back in the middle of a chain (float casts pass the
 * gradient; the f64 graph casts f64 to f64, since rounding to f32 would
 * drown the finite differences) */
static Graph *u_cast(DType t)
{
	Graph *g = ir_graph_new("cast");
	int x = ir_add_input(g, "x", t, GS(4));
	int y = gc_op(g, OP_CAST, x, -1);
	ir_set_string(g, gc_node(g, y), "to", "f64");
	int z = gc_op(g, OP_CAST, gc_op(g, OP_TANH, y, -1), -1);
	ir_set_string(g, gc_node(g, z), "to", ir_dtype_name(t));
	return gc_done(g, z);
}

/* --- contractions ---------------------------------------------------------- */

static Graph *matmul(DType t, const char *name, Shape sa, Shape sb, int ta, int tb)
{
	Graph *g = ir_graph_new(name);
	int a = ir_add_input(g, "a", t, sa);
	int b = ir_add_input(g, "b", t, sb);
	int y = gc_op(g, OP_MATMUL, a, b);
	if (ta)
		ir_set_int(g, gc_node(g, y), "trans_a", 1);
	if (tb)
		ir_set_int(g, gc_node(g, y), "trans_b", 1);
	return gc_done(g, y);
}
static Graph *m_plain(DType t) { return matmul(t, "matmul", GS(3, 4), GS(4, 5), 0, 0); }
static Graph *m_ta(DType t) { return matmul(t, "matmul_ta", GS(4, 3), GS(4, 5), 1, 0); }
static Graph *m_tb(DType t) { return matmul(t, "matmul_tb", GS(3, 4), GS(5, 4), 0, 1); }
static Graph *m_tab(DType t) { return matmul(t, "matmul_tab", GS(4, 3), GS(5, 4), 1, 1); }
static Graph *m_batch(DType t) { return matmul(t, "matmul_batch", GS(2, 1, 3, 4), GS(3, 4, 2), 0, 0); }
static Graph *m_vec_a(DType t) { return matmul(t, "matmul_vec_a", GS(4), GS(2, 4, 3), 0, 0); }
static Graph *m_vec_b(DType t) { return matmul(t, "matmul_vec_b", GS(2, 3, 4), GS(4), 0, 0); }
static Graph *m_dot(DType t) { return matmul(t, "matmul_dot", GS(4), GS(4), 0, 0); }

/* --- reductions, softmax, batchnorm ------------------------------------------ */

static Graph *reduce(DType t, Op o, const char *name, const int64_t *ax, int na, int keep)
{
	Graph *g = ir_graph_new(name);
	int x = ir_add_input(g, "x", t, GS(2, 3, 4));
	int y = gc_op(g, o, x, -1);
	if (na)
		ir_set_ints(g, gc_node(g, y), "axes", ax, na);
	ir_set_int(g, gc_node(g, y), "keepdims", keep);
	return gc_done(g, y);
}
static Graph *r_sum(DType t) { return reduce(t, OP_REDUCE_SUM, "reduce_sum", GA(1), 1); }
static Graph *r_sum_all(DType t) { return reduce(t, OP_REDUCE_SUM, "reduce_sum_all", NULL, 0, 0); }
static Graph *r_mean(DType t) { return reduce(t, OP_REDUCE_MEAN, "reduce_mean", GA(0, -1), 0); }
static Graph *r_max(DType t) { return reduce(t, OP_REDUCE_MAX, "reduce_max", GA(2), 0); }
static Graph *r_max_keep(DType t) { return reduce(t, OP_REDUCE_MAX, "reduce_max_keep", GA(0, 1), 1); }

static Graph *softmax(DType t, Op o, const char *name, int64_t axis)
{
	Graph *g = ir_graph_new(name);
	int x = ir_add_input(g, "x", t, GS(2, 3, 4));
	int y = gc_op(g, o, x, -1);
	ir_set_int(g, gc_node(g, y), "axis", axis);
	return gc_done(g, y);
}
static Graph *s_soft(DType t) { return softmax(t, OP_SOFTMAX, "softmax", -1); }
static Graph *s_soft1(DType t) { return softmax(t, OP_SOFTMAX, "softmax_axis1", 1); }
static Graph *s_logsoft(DType t) { return softmax(t, OP_LOGSOFTMAX, "log_softmax", -1); }
static Graph *s_logsoft0(DType t) { return softmax(t, OP_LOGSOFTMAX, "log_softmax_axis0", 0); }

static Graph *n_batchnorm(DType t)
{
	Graph *g = ir_graph_new("batchnorm");
	int in[5];
	in[0] = ir_add_input(g, "x", t, GS(2, 3, 2, 2));
	in[1] = ir_add_input(g, "scale", t, GS(3));
	in[2] = ir_add_input(g, "bias", t, GS(3));
	in[3] = ir_add_input(g, "mean", t, GS(3));
	in[4] = ir_add_input(g, "var", t, GS(3)); /* inputs in [0.5, 1.5): positive */
	int n = ir_add_node(g, OP_BATCHNORM, "bn", in, 5, 1, NULL);
	ir_set_float(g, n, "epsilon", 1e-3);
	return gc_done(g, ir_out(g, n, 0));
}

/* A normalization in training mode as the importers write it
 * (frontend/onnx_red.c): m = mean(x), d = x - m, r = 1 / sqrt(mean(d * d)
 * + eps), xn = d * r over axes, then xn * scale + bias where scale has
 * shape ps (none when ps has rank 0), then tanh. Its adjoint is
 * grad_norm.c's closed form: with a scale broadcast along exactly the
 * axes (batch norm) the sums of the scale's and bias's adjoints, else
 * sums of its own. */
static Graph *standardize(DType t, const char *name, Shape xs, const int64_t *axes, int na, Shape ps)
{
	Graph *g = ir_graph_new(name);
	int x = ir_add_input(g, "x", t, xs);
	int m = gc_op(g, OP_REDUCE_MEAN, x, -1);
	ir_set_ints(g, gc_node(g, m), "axes", axes, na);
	ir_set_int(g, gc_node(g, m), "keepdims", 1);
	int d = gc_op(g, OP_SUB, x, m);
	int v = gc_op(g, OP_REDUCE_MEAN, gc_op(g, OP_MUL, d, d), -1);
	ir_set_ints(g, gc_node(g, v), "axes", axes, na);
	ir_set_int(g, gc_node(g, v), "keepdims", 1);
	int s = gc_op(g, OP_SQRT, gc_op(g, OP_ADD, v, gc_scalar(g, t, 1e-3)), -1);
	int y = gc_op(g, OP_MUL, d, gc_op(g, OP_DIV, gc_scalar(g, t, 1), s));
	if (ps.rank) {
		int scale = ir_add_input(g, "scale", t, ps), bias = ir_add_input(g, "bias", t, ps);
		y = gc_op(g, OP_ADD, gc_op(g, OP_MUL, y, scale), bias);
	}
	return gc_done(g, gc_op(g, OP_TANH, y, -1));
}
static Graph *n_bn_train(DType t) { return standardize(t, "bn_train", GS(2, 3, 2, 2), GA(0, 2, 3), GS(3, 1, 1)); }
static Graph *n_in_train(DType t) { return standardize(t, "instnorm_train", GS(2, 3, 2, 3), GA(2, 3), GS(3, 1, 1)); }
static Graph *n_ln_train(DType t) { return standardize(t, "layernorm_train", GS(3, 5), GA(-1), GS(5)); }
static Graph *n_std_plain(DType t) { return standardize(t, "standardize", GS(4, 3), GA(0), ir_shape_make(0, NULL)); }

/* --- data movement ------------------------------------------------------------ */

static Graph *v_reshape(DType t)
{
	Graph *g = ir_graph_new("reshape");
	int x = ir_add_input(g, "x", t, GS(2, 6));
	int y = gc_op(g, OP_RESHAPE, x, -1);
	ir_set_ints(g, gc_node(g, y), "shape", GA(3, -1));
	/* a nonlinearity after the view, so the adjoint is not a constant */
	return gc_done(g, gc_op(g, OP_TANH, y, -1));
}

static Graph *v_flatten_squeeze(DType t)
{
	Graph *g = ir_graph_new("flatten_squeeze");
	int x = ir_add_input(g, "x", t, GS(2, 1, 3));
	int s = gc_op(g, OP_SQUEEZE, x, -1);
	ir_set_ints(g, gc_node(g, s), "axes", GA(1));
	int u = gc_op(g, OP_UNSQUEEZE, gc_op(g, OP_SIGMOID, s, -1), -1);
	ir_set_ints(g, gc_node(g, u), "axes", GA(0));
	int f = gc_op(g, OP_FLATTEN, gc_op(g, OP_IDENTITY, u, -1), -1);
	return gc_done(g, gc_op(g, OP_MUL, f, f));
}

static Graph *v_transpose(DType t)
{
	Graph *g = ir_graph_new("transpose");
	int x = ir_add_input(g, "x", t, GS(2, 3, 4));
	int y = gc_op(g, OP_TRANSPOSE, x, -1);
	ir_set_ints(g, gc_node(g, y), "perm", GA(1, 2, 0));
	int z = gc_op(g, OP_TRANSPOSE, gc_op(g, OP_TANH, y, -1), -1);
	ir_set_ints(g, gc_node(g, z), "perm", GA(2, 0, 1));
	/* default perm: the dims reversed */
	return gc_done(g, gc_op(g, OP_TRANSPOSE, gc_op(g, OP_MUL, z, x), -1));
}

static Graph *v_concat(DType t)
{
	Graph *g = ir_graph_new("concat");
	int a = ir_add_input(g, "a", t, GS(2, 3));
	int b = ir_add_input(g, "b", t, GS(2, 1));
	int c = ir_add_input(g, "c", t, GS(2, 2));
	int n = ir_add_node(g, OP_CONCAT, "cat", (int[]){a, b, c}, 3, 1, NULL);
	ir_set_int(g, n, "axis", -1);
	return gc_done(g, gc_op(g, OP_EXP, ir_out(g, n, 0), -1));
}

/* one value concatenated 20 times (more inputs than any fixed table) */
static Graph *v_concat_many(DType t)
{
	Graph *g = ir_graph_new("concat_many");
	int x = ir_add_input(g, "x", t, GS(1, 2));
	int in[20];
	for (int i = 0; i < 20; i++)
		in[i] = x;
	int n = ir_add_node(g, OP_CONCAT, "cat", in, 20, 1, NULL);
	ir_set_int(g, n, "axis", 0);
	return gc_done(g, gc_op(g, OP_TANH, ir_out(g, n, 0), -1));
}

static Graph *v_pad(DType t)
{
	Graph *g = ir_graph_new("pad");
	int x = ir_add_input(g, "x", t, GS(2, 3));
	int y = gc_op(g, OP_PAD, x, -1);
	ir_set_ints(g, gc_node(g, y), "pads", GA(1, 0, 2, 1));
	ir_set_float(g, gc_node(g, y), "value", 0.5);
	return gc_done(g, gc_op(g, OP_MUL, y, y));
}

/* --- losses and a model --------------------------------------------------------- */

static Graph *loss(DType t, const char *kind, Shape s)
{
	Graph *g = ir_graph_new(kind);
	int x = ir_add_input(g, "x", t, s);
	Diag d;
	diag_init(&d);
	int l = ps_add_loss(g, kind, x, &d);
	if (l < 0)
		fail_msg("ps_add_loss: %s", d.msg);
	if (t == DT_F64) { /* keep the f64 graph in f64: the loss came back as f32 */
		NN_ASSERT(g->val[l].def >= 0 && g->node[g->val[l].def].op == OP_CAST);
		l = g->node[g->val[l].def].in[0];
	}
	ir_add_output(g, l);
	return g;
}
static Graph *l_mse(DType t) { return loss(t, "mse", GS(3, 4)); }
static Graph *l_bce(DType t) { return loss(t, "bce_logits", GS(3, 4)); }
static Graph *l_ce(DType t) { return loss(t, "cross_entropy", GS(5, 4)); }
static Graph *l_ce_spatial(DType t) { return loss(t, "cross_entropy", GS(2, 3, 2, 2)); }
static Graph *l_nll(DType t) { return loss(t, "nll", GS(5, 4)); }

/* a two-layer MLP with cross-entropy: x [4, 6] -> 5 -> 3 classes */
static Graph *mlp(DType t)
{
	Graph *g = ir_graph_new("mlp");
	int x = ir_add_input(g, "x", t, GS(4, 6));
	int w1 = ir_add_input(g, "w1", t, GS(5, 6));
	int b1 = ir_add_input(g, "b1", t, GS(5));
	int w2 = ir_add_input(g, "w2", t, GS(6, 5));
	int b2 = ir_add_input(g, "b2", t, GS(3));
	int h = gc_op(g, OP_MATMUL, x, w1);
	ir_set_int(g, gc_node(g, h), "trans_b", 1);
	h = gc_op(g, OP_RELU, gc_op(g, OP_ADD, h, b1), -1);
	int o = gc_op(g, OP_MATMUL, h, gc_op(g, OP_TRANSPOSE, w2, -1));
	o = gc_op(g, OP_RESHAPE, o, -1);
	ir_set_ints(g, gc_node(g, o), "shape", GA(4, 2, 3));
	o = gc_op(g, OP_REDUCE_MEAN, o, -1);
	ir_set_ints(g, gc_node(g, o), "axes", GA(1));
	ir_set_int(g, gc_node(g, o), "keepdims", 0);
	o = gc_op(g, OP_ADD, o, b2);
	gc_done(g, o);
	g->noutput = 0;
	Diag d;
	diag_init(&d);
	int l = ps_add_loss(g, "cross_entropy", o, &d);
	if (l < 0)
		fail_msg("ps_add_loss: %s", d.msg);
	if (t == DT_F64)
		l = g->node[g->val[l].def].in[0];
	ir_add_output(g, l);
	return g;
}

static const GcCase cases[] = {
	{"add", b_add, -1, 1, 0, false},
	{"sub", b_sub, -1, 1, 0, false},
	{"mul", b_mul, -1, 1, 0, false},
	{"div", b_div, 0.5, 2, 0, false},
	{"pow", b_pow, 0.5, 2, 0, false},
	{"mul_outer", b_mul_outer, -1, 1, 0, false},
	{"square", b_square, -1, 1, 0, false},
	{"neg", u_neg, -1, 1, 0, false},
	{"abs", u_abs, -1, 1, 0, false},
	{"exp", u_exp, -1, 1, 0, false},
	{"log", u_log, 0.5, 2, 0, false},
	{"sqrt", u_sqrt, 0.5, 2, 0, false},
	{"relu", u_relu, -1, 1, 0, false},
	{"sigmoid", u_sigmoid, -2, 2, 0, false},
	{"tanh", u_tanh, -2, 2, 0, false},
	{"leaky_relu", u_leaky, -1, 1, 0, false},
	{"clip", u_clip, -1, 1, 0, false},
	{"cast", u_cast, -1, 1, 0, false},
	{"sin", u_sin, -2, 2, 0, false},
	{"cos", u_cos, -2, 2, 0, false},
	{"tan", u_tan, -1, 1, 0, false},
	{"asin", u_asin, -0.9, 0.9, 0, false},
	{"acos", u_acos, -0.9, 0.9, 0, false},
	{"atan", u_atan, -2, 2, 0, false},
	{"sinh", u_sinh, -2, 2, 0, false},
	{"cosh", u_cosh, -2, 2, 0, false},
	{"asinh", u_asinh, -2, 2, 0, false},
	{"acosh", u_acosh, 1.2, 3, 0, false},
	{"atanh", u_atanh, -0.9, 0.9, 0, false},
	{"erf", u_erf, -2, 2, 0, false},
	{"reciprocal", u_recip, 0.5, 2, 0, false},
	{"floor", u_floor, -3, 3, 0, false},
	{"sign", u_sign, -1, 1, 0, false},
	{"ceil", u_ceil, -3, 3, 0, false},
	{"round", u_round, -3, 3, 0, false},
	{"reshape_dyn", v_reshape_dyn, -1, 1, 0, false},
	{"max", b_max, -1, 1, 0, false},
	{"min", b_min, -1, 1, 0, false},
	{"where", t_where, -1, 1, 2, false},
	{"matmul", m_plain, -1, 1, 0, false},
	{"matmul_ta", m_ta, -1, 1, 0, false},
	{"matmul_tb", m_tb, -1, 1, 0, false},
	{"matmul_tab", m_tab, -1, 1, 0, false},
	{"matmul_batch", m_batch, -1, 1, 0, false},
	{"matmul_vec_a", m_vec_a, -1, 1, 0, false},
	{"matmul_vec_b", m_vec_b, -1, 1, 0, false},
	{"matmul_dot", m_dot, -1, 1, 0, false},
	{"reduce_sum", r_sum, -1, 1, 0, false},
	{"reduce_sum_all", r_sum_all, -1, 1, 0, false},
	{"reduce_mean", r_mean, -1, 1, 0, false},
	{"reduce_max", r_max, -1, 1, 0, false},
	{"reduce_max_keep", r_max_keep, -1, 1, 0, false},
	{"softmax", s_soft, -2, 2, 0, false},
	{"softmax_axis1", s_soft1, -2, 2, 0, false},
	{"log_softmax", s_logsoft, -2, 2, 0, false},
	{"log_softmax_axis0", s_logsoft0, -2, 2, 0, false},
	{"batchnorm", n_batchnorm, 0.5, 1.5, 0, false},
	{"bn_train", n_bn_train, -1, 1, 0, false},
	{"instnorm_train", n_in_train, -1, 1, 0, false},
	{"layernorm_train", n_ln_train, -1, 1, 0, false},
	{"standardize", n_std_plain, -1, 1, 0, false},
	{"reshape", v_reshape, -1, 1, 0, false},
	{"flatten_squeeze", v_flatten_squeeze, -1, 1, 0, false},
	{"transpose", v_transpose, -1, 1, 0, false},
	{"concat", v_concat, -1, 1, 0, false},
	{"concat_many", v_concat_many, -1, 1, 0, false},
	{"pad", v_pad, -1, 1, 0, false},
	{"mse", l_mse, -1, 1, 0, true},
	{"bce_logits", l_bce, -2, 2, 0, true},
	{"cross_entropy", l_ce, -2, 2, 4, true},
	{"cross_entropy_spatial", l_ce_spatial, -2, 2, 3, true},
	{"nll", l_nll, -2, 0, 4, true},
	{"mlp", mlp, -1, 1, 3, true},
};

/* An op without a rule on the path is named; one off the path is fine. */
static void test_no_rule(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("norule");
	int x = ir_add_input(g, "x", DT_F32, GS(4, 3));
	int p = gc_op(g, OP_CUMPROD, x, -1); /* (mod has a rule now: test_grad_more.c) */
	ir_set_int(g, gc_node(g, p), "axis", 1);
	g->node[gc_node(g, p)].name = "pick";
	int s = gc_op(g, OP_REDUCE_SUM, p, -1);
	ir_set_int(g, gc_node(g, s), "keepdims", 0);
	gc_op(g, OP_SHAPE, x, -1); /* off the path: an integer result */
	gc_done(g, s);
	Diag d;
	diag_init(&d);
	int gr;
	if (ps_has_grad(OP_CUMPROD)) { /* once cumprod has a rule this case checks nothing */
		ir_graph_free(g);
		return;
	}
	assert_int_equal(ps_autodiff(g, s, &x, 1, &gr, &d), -1);
	assert_non_null(strstr(d.msg, "pick"));
	assert_non_null(strstr(d.msg, "no gradient rule"));
	ir_graph_free(g);
}

/* wrt a value the loss does not depend on: a zero constant. */
static void test_unreached(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("unreached");
	int x = ir_add_input(g, "x", DT_F32, GS(3));
	int w = ir_add_input(g, "w", DT_F32, GS(2, 2));
	int s = gc_op(g, OP_REDUCE_SUM, gc_op(g, OP_EXP, x, -1), -1);
	ir_set_int(g, gc_node(g, s), "keepdims", 0);
	gc_done(g, s);
	Diag d;
	diag_init(&d);
	int gr[2];
	assert_int_equal(ps_autodiff(g, s, (int[]){x, w}, 2, gr, &d), 0);
	assert_int_equal(g->val[gr[1]].kind, VK_CONST);
	assert_true(ir_shape_eq(&g->val[gr[1]].shape, &g->val[w].shape));
	for (int i = 0; i < 4; i++)
		assert_true(((float *)g->val[gr[1]].data)[i] == 0);
	/* a non-scalar loss is refused */
	assert_int_equal(ps_autodiff(g, x, &x, 1, gr, &d), -1);
	assert_non_null(strstr(d.msg, "scalar"));
	ir_graph_free(g);
}

/* Unknown loss kinds and class scores of the wrong rank are refused. */
static void test_loss_errors(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("lossbad");
	int x = ir_add_input(g, "x", DT_F32, GS(4));
	Diag d;
	diag_init(&d);
	assert_int_equal(ps_add_loss(g, "hinge", x, &d), -1);
	assert_non_null(strstr(d.msg, "hinge"));
	assert_int_equal(ps_add_loss(g, "cross_entropy", x, &d), -1);
	assert_non_null(strstr(d.msg, "[N, C"));
	ir_graph_free(g);
}

/* a normalization whose d also reaches the loss another way (sin(d)) */
static Graph *n_std_shared(DType t)
{
	Graph *g = ir_graph_new("std_shared");
	int x = ir_add_input(g, "x", t, GS(4, 3));
	int m = gc_op(g, OP_REDUCE_MEAN, x, -1);
	ir_set_ints(g, gc_node(g, m), "axes", GA(0));
	ir_set_int(g, gc_node(g, m), "keepdims", 1);
	int d = gc_op(g, OP_SUB, x, m);
	int v = gc_op(g, OP_REDUCE_MEAN, gc_op(g, OP_MUL, d, d), -1);
	ir_set_ints(g, gc_node(g, v), "axes", GA(0));
	ir_set_int(g, gc_node(g, v), "keepdims", 1);
	int s = gc_op(g, OP_SQRT, gc_op(g, OP_ADD, v, gc_scalar(g, t, 1e-3)), -1);
	int y = gc_op(g, OP_MUL, d, gc_op(g, OP_DIV, gc_scalar(g, t, 1), s));
	return gc_done(g, gc_op(g, OP_ADD, gc_op(g, OP_TANH, y, -1), gc_op(g, OP_SIN, d, -1)));
}

/* Live reductions whose input has the shape of value x. */
static int full_reductions(const Graph *g, int x)
{
	int n = 0;
	for (int i = 0; i < g->nnode; i++) {
		const Node *nd = &g->node[i];
		if (!nd->dead && (nd->op == OP_REDUCE_SUM || nd->op == OP_REDUCE_MEAN) &&
		    ir_shape_eq(&g->val[nd->in[0]].shape, &g->val[x].shape))
			n++;
	}
	return n;
}

/* A live neg of an x-sized value: sub's rule passing the adjoint of
 * d = x - m on to the mean, the chain differentiated op by op. */
static bool neg_of_x(const Graph *g, int x)
{
	for (int i = 0; i < g->nnode; i++)
		if (!g->node[i].dead && g->node[i].op == OP_NEG &&
		    ir_shape_eq(&g->val[g->node[i].in[0]].shape, &g->val[x].shape))
			return true;
	return false;
}

/* The closed-form adjoint of a normalization is what autodiff writes (no
 * adjoint of d passed on to the mean): batch norm's backward pass reads
 * x-sized tensors in two reductions (the bias's and the scale's adjoints,
 * shared through CSE) besides the forward's two means and the loss's sum,
 * where the chain op by op took four; instance norm's (a scale not
 * broadcast along exactly its axes) in four. The chain is what autodiff
 * still writes when something else on the path reads an inner value (d
 * here, through sin(d)); test_std_shared_grad checks that gradient. */
static void test_standardize_form(void **state)
{
	(void)state;
	static const struct {
		Graph *(*build)(DType);
		int reductions;
	} want[] = {{n_bn_train, 5}, {n_in_train, 7}};
	for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
		GcCase c = {"form", want[k].build, -1, 1, 0, false};
		Graph *g = gc_graph(&c, DT_F32, true, 7);
		Options o = {0};
		ps_cse(g, &o);
		ps_dce(g, &o);
		assert_int_equal(full_reductions(g, g->input[0]), want[k].reductions);
		assert_false(neg_of_x(g, g->input[0]));
		ir_graph_free(g);
	}
	/* d also feeds the loss another way: not the closed form */
	Graph *g = n_std_shared(DT_F32);
	int x = g->input[0], y = g->output[0];
	g->noutput = 0;
	int l = gc_project(g, y, 3);
	Diag dg;
	diag_init(&dg);
	int gr;
	assert_int_equal(ps_autodiff(g, l, &x, 1, &gr, &dg), 0);
	assert_true(neg_of_x(g, x));
	ir_graph_free(g);
}

static const GcCase shared_case = {"std_shared", n_std_shared, -1, 1, 0, false};
static void test_std_shared_grad(void **state)
{
	(void)state;
	gc_check(&shared_case);
}

int main(void)
{
	const struct CMUnitTest extra[] = {
		cmocka_unit_test(test_no_rule),
		cmocka_unit_test(test_unreached),
		cmocka_unit_test(test_loss_errors),
		cmocka_unit_test(test_standardize_form),
		cmocka_unit_test(test_std_shared_grad),
	};
	return gc_main(cases, (int)(sizeof cases / sizeof *cases), extra, 5);
}
