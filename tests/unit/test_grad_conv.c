/* test_grad_conv.c — gradient checks (grad_check.h) of conv (strides,
 * asymmetric pads, dilations, groups, depthwise, a stride that skips input
 * rows, strided 1x1s, unpadded 1x1s by a batched matmul), maxpool (overlapping windows, padding, dilations, ceil_mode) and
 * avgpool (count_include_pad both ways, ceil_mode), and a small CNN with
 * cross-entropy; and ps_pool_relu's maxpool(relu(x)) -> relu(maxpool(x)),
 * whose loss and gradient must not move a bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "grad_check.h"

typedef struct ConvSpec {
	int64_t x[4], w[4];          /* shapes */
	int64_t st[2], pads[4], dil[2], group;
	bool bias;                   /* with a bias input */
} ConvSpec;

static Graph *conv(DType t, const char *name, const ConvSpec *s)
{
	Graph *g = ir_graph_new(name);
	int in[3];
	in[0] = ir_add_input(g, "x", t, ir_shape_make(4, s->x));
	in[1] = ir_add_input(g, "w", t, ir_shape_make(4, s->w));
	if (s->bias)
		in[2] = ir_add_input(g, "b", t, GS(s->w[0]));
	int n = ir_add_node(g, OP_CONV, "conv", in, s->bias ? 3 : 2, 1, NULL);
	ir_set_ints(g, n, "strides", s->st, 2);
	ir_set_ints(g, n, "pads", s->pads, 4);
	ir_set_ints(g, n, "dilations", s->dil, 2);
	ir_set_int(g, n, "group", s->group);
	return gc_done(g, ir_out(g, n, 0));
}

static const ConvSpec c_basic = {{2, 3, 5, 5}, {4, 3, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true};
static const ConvSpec c_stride = {{1, 2, 6, 7}, {3, 2, 3, 2}, {2, 3}, {1, 0, 0, 2}, {1, 1}, 1, true};
/* ResNet's stride-2 3x3 on an even plane: the last window stops a row
 * short of the end pad, which the weight gradient's conv then drops */
static const ConvSpec c_stride_even = {{2, 2, 6, 6}, {3, 2, 3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1, false};
static const ConvSpec c_dil = {{1, 2, 7, 6}, {2, 2, 2, 3}, {1, 2}, {0, 1, 2, 0}, {2, 2}, 1, false};
static const ConvSpec c_group = {{2, 4, 5, 5}, {6, 2, 3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 2, true};
static const ConvSpec c_dw = {{1, 3, 6, 6}, {3, 1, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 3, false};
static const ConvSpec c_skip = {{1, 2, 3, 4}, {2, 2, 1, 1}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1, false};
/* strided 1x1s (the input adjoint as a 1x1 conv placed at the stride):
 * pads that move the grid off the input's first row, strides 2 x 3, groups */
static const ConvSpec c_1x1_pad = {{1, 2, 5, 6}, {3, 2, 1, 1}, {2, 3}, {1, 0, 0, 2}, {1, 1}, 1, true};
static const ConvSpec c_1x1_group = {{2, 4, 4, 4}, {6, 2, 1, 1}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 2, false};
static const ConvSpec c_bigpad = {{1, 1, 3, 3}, {2, 1, 2, 2}, {1, 1}, {2, 2, 2, 2}, {1, 1}, 1, true};
/* unpadded 1x1s of one group, whose weight adjoint is a batched matmul
 * summed over the images: strides 2 x 3 that skip the last row and
 * column, and stride 1 */
static const ConvSpec c_1x1_batch = {{3, 4, 6, 5}, {5, 4, 1, 1}, {2, 3}, {0, 0, 0, 0}, {1, 1}, 1, true};
static const ConvSpec c_1x1_s1 = {{2, 3, 4, 5}, {4, 3, 1, 1}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, false};
/* more products (K x C per image) than both operands hold: one matmul
 * with the images moved next to the positions */
static const ConvSpec c_1x1_wide = {{3, 8, 3, 3}, {8, 8, 1, 1}, {2, 3}, {0, 0, 0, 0}, {1, 1}, 1, false};

static Graph *cv_basic(DType t) { return conv(t, "conv", &c_basic); }
static Graph *cv_stride(DType t) { return conv(t, "conv_stride", &c_stride); }
static Graph *cv_stride_even(DType t) { return conv(t, "conv_stride_even", &c_stride_even); }
static Graph *cv_dil(DType t) { return conv(t, "conv_dilation", &c_dil); }
static Graph *cv_group(DType t) { return conv(t, "conv_group", &c_group); }
static Graph *cv_dw(DType t) { return conv(t, "conv_depthwise", &c_dw); }
static Graph *cv_skip(DType t) { return conv(t, "conv_skip", &c_skip); }
static Graph *cv_1x1_pad(DType t) { return conv(t, "conv_1x1_pad", &c_1x1_pad); }
static Graph *cv_1x1_group(DType t) { return conv(t, "conv_1x1_group", &c_1x1_group); }
static Graph *cv_bigpad(DType t) { return conv(t, "conv_bigpad", &c_bigpad); }
static Graph *cv_1x1_batch(DType t) { return conv(t, "conv_1x1_batch", &c_1x1_batch); }
static Graph *cv_1x1_s1(DType t) { return conv(t, "conv_1x1_s1", &c_1x1_s1); }
static Graph *cv_1x1_wide(DType t) { return conv(t, "conv_1x1_wide", &c_1x1_wide); }

/* conv_transpose x [N, C, H, W], w [C, K/G, kh, kw] */
static Graph *convt(DType t, const char *name, const ConvSpec *s, const int64_t *opad)
{
	Graph *g = ir_graph_new(name);
	int in[3];
	in[0] = ir_add_input(g, "x", t, ir_shape_make(4, s->x));
	in[1] = ir_add_input(g, "w", t, ir_shape_make(4, s->w));
	if (s->bias)
		in[2] = ir_add_input(g, "b", t, GS(s->w[1] * s->group));
	int n = ir_add_node(g, OP_CONV_TRANSPOSE, "convt", in, s->bias ? 3 : 2, 1, NULL);
	ir_set_ints(g, n, "strides", s->st, 2);
	ir_set_ints(g, n, "pads", s->pads, 4);
	ir_set_ints(g, n, "dilations", s->dil, 2);
	ir_set_int(g, n, "group", s->group);
	if (opad)
		ir_set_ints(g, n, "output_padding", opad, 2);
	return gc_done(g, ir_out(g, n, 0));
}

static const ConvSpec t_basic = {{2, 3, 4, 4}, {3, 2, 3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1, true};
static const ConvSpec t_group = {{1, 4, 3, 5}, {4, 3, 2, 3}, {1, 2}, {0, 1, 1, 0}, {2, 1}, 2, true};
static Graph *ct_basic(DType t) { return convt(t, "conv_transpose", &t_basic, NULL); }
static Graph *ct_opad(DType t) { return convt(t, "conv_transpose_opad", &t_basic, (int64_t[]){1, 0}); }
static Graph *ct_group(DType t) { return convt(t, "conv_transpose_group", &t_group, NULL); }

typedef struct PoolSpec {
	int64_t x[4], k[2], st[2], pads[4], dil[2];
	int ceil, cip;
} PoolSpec;

static Graph *pool(DType t, Op o, const char *name, const PoolSpec *s)
{
	Graph *g = ir_graph_new(name);
	int x = ir_add_input(g, "x", t, ir_shape_make(4, s->x));
	int y = gc_op(g, o, x, -1);
	int n = gc_node(g, y);
	ir_set_ints(g, n, "kernel", s->k, 2);
	ir_set_ints(g, n, "strides", s->st, 2);
	ir_set_ints(g, n, "pads", s->pads, 4);
	ir_set_ints(g, n, "dilations", s->dil, 2);
	if (s->ceil)
		ir_set_int(g, n, "ceil_mode", 1);
	if (o == OP_AVGPOOL && s->cip)
		ir_set_int(g, n, "count_include_pad", 1);
	return gc_done(g, y);
}

static const PoolSpec p_2x2 = {{2, 2, 4, 6}, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 0, 0};
static const PoolSpec p_3x3 = {{1, 2, 7, 6}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0, 0};
static const PoolSpec p_dil = {{1, 1, 7, 7}, {2, 3}, {1, 2}, {0, 1, 1, 0}, {2, 1}, 0, 0};
static const PoolSpec p_ceil = {{1, 2, 5, 6}, {2, 3}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1, 0};
/* stride 1 (every input in up to 9 windows), stride past the window
 * (inputs no window sees), a dilation past the stride (window shifts
 * apart): the phase form's other shapes */
static const PoolSpec p_s1 = {{1, 2, 5, 6}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 0, 0};
static const PoolSpec p_gap = {{1, 1, 8, 7}, {2, 2}, {3, 3}, {0, 1, 0, 0}, {1, 1}, 0, 0};
static const PoolSpec p_wide = {{1, 1, 9, 5}, {3, 2}, {1, 2}, {2, 0, 1, 1}, {4, 2}, 0, 0};
static const PoolSpec p_cip = {{1, 2, 5, 5}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0, 1};
static const PoolSpec p_ceil_cip = {{1, 1, 6, 5}, {3, 2}, {2, 2}, {1, 0, 1, 1}, {1, 1}, 1, 1};

static Graph *mp_2x2(DType t) { return pool(t, OP_MAXPOOL, "maxpool", &p_2x2); }
static Graph *mp_3x3(DType t) { return pool(t, OP_MAXPOOL, "maxpool_3x3", &p_3x3); }
static Graph *mp_dil(DType t) { return pool(t, OP_MAXPOOL, "maxpool_dilation", &p_dil); }
static Graph *mp_ceil(DType t) { return pool(t, OP_MAXPOOL, "maxpool_ceil", &p_ceil); }
static Graph *mp_s1(DType t) { return pool(t, OP_MAXPOOL, "maxpool_stride1", &p_s1); }
static Graph *mp_gap(DType t) { return pool(t, OP_MAXPOOL, "maxpool_gap", &p_gap); }
static Graph *mp_wide(DType t) { return pool(t, OP_MAXPOOL, "maxpool_wide_dilation", &p_wide); }
static Graph *ap_2x2(DType t) { return pool(t, OP_AVGPOOL, "avgpool", &p_2x2); }
static Graph *ap_3x3(DType t) { return pool(t, OP_AVGPOOL, "avgpool_3x3", &p_3x3); }
static Graph *ap_cip(DType t) { return pool(t, OP_AVGPOOL, "avgpool_cip", &p_cip); }
static Graph *ap_ceil(DType t) { return pool(t, OP_AVGPOOL, "avgpool_ceil", &p_ceil); }
static Graph *ap_ceil_cip(DType t) { return pool(t, OP_AVGPOOL, "avgpool_ceil_cip", &p_ceil_cip); }
static Graph *ap_dil(DType t) { return pool(t, OP_AVGPOOL, "avgpool_dilation", &p_dil); }

/* maxpool after relu: windows of zeros tie; the gradient still matches
 * because relu' is 0 there. Two windows share their maximum otherwise. */
static Graph *mp_relu(DType t)
{
	Graph *g = ir_graph_new("maxpool_relu");
	int x = ir_add_input(g, "x", t, GS(1, 2, 4, 4));
	int y = gc_op(g, OP_MAXPOOL, gc_op(g, OP_RELU, x, -1), -1);
	ir_set_ints(g, gc_node(g, y), "kernel", GA(2, 2));
	return gc_done(g, y);
}

/* conv -> relu -> maxpool -> flatten -> matmul -> cross-entropy */
static Graph *cnn(DType t)
{
	Graph *g = ir_graph_new("cnn");
	int x = ir_add_input(g, "x", t, GS(2, 1, 6, 6));
	int w = ir_add_input(g, "w", t, GS(3, 1, 3, 3));
	int b = ir_add_input(g, "b", t, GS(3));
	int fc = ir_add_input(g, "fc", t, GS(12, 4));
	int n = ir_add_node(g, OP_CONV, "conv1", (int[]){x, w, b}, 3, 1, NULL);
	ir_set_ints(g, n, "pads", GA(1, 1, 1, 1));
	int h = gc_op(g, OP_RELU, ir_out(g, n, 0), -1);
	int p = gc_op(g, OP_MAXPOOL, h, -1);
	ir_set_ints(g, gc_node(g, p), "kernel", GA(3, 3));
	ir_set_ints(g, gc_node(g, p), "strides", GA(3, 3));
	int f = gc_op(g, OP_FLATTEN, p, -1);
	int o = gc_op(g, OP_MATMUL, f, fc);
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

/* 1-D windows (lifted to 2-D by the rules): conv, maxpool, avgpool over [N, C, L] */
static Graph *w1d(DType t)
{
	Graph *g = ir_graph_new("window_1d");
	int x = ir_add_input(g, "x", t, GS(2, 2, 9));
	int w = ir_add_input(g, "w", t, GS(3, 2, 3));
	int b = ir_add_input(g, "b", t, GS(3));
	int n = ir_add_node(g, OP_CONV, "conv1d", (int[]){x, w, b}, 3, 1, NULL);
	ir_set_ints(g, n, "strides", GA(2));
	ir_set_ints(g, n, "pads", GA(1, 2));
	ir_set_ints(g, n, "dilations", GA(1));
	int y = ir_out(g, n, 0); /* [2, 3, 5] */
	int m = gc_op(g, OP_MAXPOOL, y, -1);
	ir_set_ints(g, gc_node(g, m), "kernel", GA(2));
	ir_set_ints(g, gc_node(g, m), "strides", GA(1));
	int a = gc_op(g, OP_AVGPOOL, y, -1);
	ir_set_ints(g, gc_node(g, a), "kernel", GA(3));
	ir_set_ints(g, gc_node(g, a), "strides", GA(2));
	ir_set_ints(g, gc_node(g, a), "pads", GA(1, 1));
	int cat = ir_add_node(g, OP_CONCAT, "cat", (int[]){m, a}, 2, 1, NULL);
	ir_set_int(g, cat, "axis", -1);
	return gc_done(g, ir_out(g, cat, 0));
}

static const GcCase cases[] = {
	{"window_1d", w1d, -1, 1, 0, false},
	{"conv", cv_basic, -1, 1, 0, false},
	{"conv_stride", cv_stride, -1, 1, 0, false},
	{"conv_stride_even", cv_stride_even, -1, 1, 0, false},
	{"conv_dilation", cv_dil, -1, 1, 0, false},
	{"conv_group", cv_group, -1, 1, 0, false},
	{"conv_depthwise", cv_dw, -1, 1, 0, false},
	{"conv_skip", cv_skip, -1, 1, 0, false},
	{"conv_1x1_pad", cv_1x1_pad, -1, 1, 0, false},
	{"conv_1x1_group", cv_1x1_group, -1, 1, 0, false},
	{"conv_bigpad", cv_bigpad, -1, 1, 0, false},
	{"conv_1x1_batch", cv_1x1_batch, -1, 1, 0, false},
	{"conv_1x1_s1", cv_1x1_s1, -1, 1, 0, false},
	{"conv_1x1_wide", cv_1x1_wide, -1, 1, 0, false},
	{"conv_transpose", ct_basic, -1, 1, 0, false},
	{"conv_transpose_opad", ct_opad, -1, 1, 0, false},
	{"conv_transpose_group", ct_group, -1, 1, 0, false},
	{"maxpool", mp_2x2, -1, 1, 0, false},
	{"maxpool_3x3", mp_3x3, -1, 1, 0, false},
	{"maxpool_dilation", mp_dil, -1, 1, 0, false},
	{"maxpool_ceil", mp_ceil, -1, 1, 0, false},
	{"maxpool_relu", mp_relu, -1, 1, 0, false},
	{"maxpool_stride1", mp_s1, -1, 1, 0, false},
	{"maxpool_gap", mp_gap, -1, 1, 0, false},
	{"maxpool_wide_dilation", mp_wide, -1, 1, 0, false},
	{"avgpool", ap_2x2, -1, 1, 0, false},
	{"avgpool_3x3", ap_3x3, -1, 1, 0, false},
	{"avgpool_cip", ap_cip, -1, 1, 0, false},
	{"avgpool_ceil", ap_ceil, -1, 1, 0, false},
	{"avgpool_ceil_cip", ap_ceil_cip, -1, 1, 0, false},
	{"avgpool_dilation", ap_dil, -1, 1, 0, false},
	{"cnn", cnn, -1, 1, 4, true},
};

/* x -> relu -> maxpool (kern, strides st, pads pd, 2-D) -> sum(y * R);
 * with twice, relu's output is also added to the loss. */
static Graph *relu_pool(const int64_t *kern, const int64_t *st, const int64_t *pd, bool twice)
{
	Graph *g = ir_graph_new("relu_pool");
	int x = ir_add_input(g, "x", DT_F32, GS(2, 3, 9, 9));
	int r = gc_op(g, OP_RELU, x, -1);
	int y = gc_op(g, OP_MAXPOOL, r, -1);
	ir_set_ints(g, gc_node(g, y), "kernel", kern, 2);
	ir_set_ints(g, gc_node(g, y), "strides", st, 2);
	ir_set_ints(g, gc_node(g, y), "pads", pd, 4);
	gc_done(g, y);
	g->noutput = 0;
	int loss = gc_project(g, y, 7);
	if (twice) {
		int s = gc_op(g, OP_REDUCE_SUM, r, -1);
		ir_set_int(g, gc_node(g, s), "keepdims", 0);
		loss = gc_op(g, OP_ADD, loss, s);
		gc_done(g, loss);
		g->noutput = 0;
	}
	ir_add_output(g, loss);
	return g;
}

/* ps_pool_relu (passes/train.c): maxpool(relu(x)) becomes relu(maxpool(x))
 * with the same loss and gradient, bit for bit, on inputs full of ties,
 * zeros and all-negative windows; not where relu's output has another
 * reader or a window lies wholly in the padding. */
static void test_pool_relu_swap(void **state)
{
	(void)state;
	const int64_t k3[2] = {3, 3}, s2[2] = {2, 2}, p1[4] = {1, 1, 1, 1};
	Graph *a = relu_pool(k3, s2, p1, false), *b = relu_pool(k3, s2, p1, false);
	assert_int_equal(ps_pool_relu(b), 1);
	int x = b->input[0];
	for (int i = 0; i < b->nnode; i++)
		if (b->node[i].op == OP_MAXPOOL)
			assert_int_equal(b->node[i].in[0], x);
		else if (b->node[i].op == OP_RELU)
			assert_int_equal(b->val[b->node[i].in[0]].shape.d[2].n, 5);
	Graph *gs[2] = {a, b};
	Tensor in = gc_tensor(DT_F32, GS(2, 3, 9, 9)), out[2][2];
	for (int64_t i = 0; i < 2 * 3 * 81; i++) /* halves in [-2, 1]: ties, zeros, negative windows */
		((float *)in.data)[i] = (float)floor(gc_urand(-4, 3)) * 0.5f;
	for (int k = 0; k < 2; k++) {
		Graph *g = gs[k];
		int wrt = g->input[0], grad, loss = g->output[0];
		Diag d;
		diag_init(&d);
		if (ps_autodiff(g, loss, &wrt, 1, &grad, &d) < 0)
			fail_msg("ps_autodiff: %s", d.msg);
		ir_add_output(g, grad);
		if (ir_eval(g, &in, out[k], &d) < 0)
			fail_msg("ir_eval: %s", d.msg);
	}
	for (int o = 0; o < 2; o++) {
		size_t n = (size_t)ir_shape_numel(&out[0][o].shape) * sizeof(float);
		assert_memory_equal(out[0][o].data, out[1][o].data, n);
	}
	double gsum = 0;
	for (int64_t i = 0; i < 2 * 3 * 81; i++)
		gsum += fabs(((float *)out[1][1].data)[i]);
	assert_true(gsum > 0); /* some gradient got through */
	for (int k = 0; k < 2; k++) {
		ir_tensor_free(&out[k][0]);
		ir_tensor_free(&out[k][1]);
		ir_graph_free(gs[k]);
	}
	free(in.data);

	Graph *g = relu_pool(k3, s2, p1, true); /* relu read twice */
	assert_int_equal(ps_pool_relu(g), 0);
	ir_graph_free(g);
	const int64_t k1[2] = {1, 1}, s1[2] = {1, 1};
	g = relu_pool(k1, s1, p1, false); /* a 1x1 window on the padding: max -inf, relu 0 */
	assert_int_equal(ps_pool_relu(g), 0);
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest extra[] = {cmocka_unit_test(test_pool_relu_swap)};
	return gc_main(cases, (int)(sizeof cases / sizeof *cases), extra, 1);
}
