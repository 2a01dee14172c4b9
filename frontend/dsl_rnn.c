/* dsl_rnn.c — lstm, gru and rnn layers applied to a batch-first sequence
 * x [N, T, IN] (T known at compile time), unrolled over the T steps into
 * matmuls and elementwise ops with PyTorch's gate equations and zero
 * initial state (torch.nn.LSTM gates i, f, g, o; GRU gates r, z, n with
 * n = tanh(x_n + r * (W_hn h + b_hn)); RNN with tanh). The input
 * projection of every step is one matmul over the whole sequence. The
 * result is the output sequence [N, T, HIDDEN]; last(seq) takes the final
 * step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl_impl.h"

/* Gate k (width h) of v [..., G*h] along its last axis. */
static int gate(NnB *b, int v, int k, int64_t h, const NnTok *t)
{
	if (v < 0)
		return -1;
	int nd = nn_node(b, OP_SLICE, &v, 1, 1);
	int64_t st = k * h, en = (k + 1) * h, ax = -1;
	ir_set_ints(b->g, nd, "starts", &st, 1);
	ir_set_ints(b->g, nd, "ends", &en, 1);
	ir_set_ints(b->g, nd, "axes", &ax, 1);
	return nn_infer(b, nd, t);
}

/* x @ w^T (+ bias when bias >= 0). */
static int affine(NnB *b, int x, int w, int bias, const NnTok *t)
{
	if (x < 0)
		return -1;
	int in[2] = {x, w};
	int nd = nn_node(b, OP_MATMUL, in, 2, 1);
	ir_set_int(b->g, nd, "trans_b", 1);
	int y = nn_infer(b, nd, t);
	return bias >= 0 ? nn_op2(b, OP_ADD, y, bias, t) : y;
}

int nn_rnn_apply(NnB *b, const NnLayer *l, int x, const NnTok *t)
{
	const Value *xv = &b->g->val[x];
	char ty[200];
	int64_t in = l->cfg[0], h = l->cfg[1], g = l->cfg[2];
	if (xv->shape.rank != 3 || xv->shape.d[1].n < 1 ||
	    (xv->shape.d[2].n >= 0 && xv->shape.d[2].n != in))
		return nn_err(b->src, t, "the sequence length T must be a number", "%s expects a sequence "
			      "[N, T, %lld] with T known, got %s", l->kind, (long long)in,
			      nn_typestr(b, x, ty, sizeof ty));
	int64_t steps = xv->shape.d[1].n;
	if (steps > 512)
		return nn_err(b->src, t, NULL, "%s over %lld steps: at most 512 are unrolled", l->kind,
			      (long long)steps);
	int wih = l->p[0], whh = l->p[1], bih = l->p[2], bhh = l->p[3];
	int xp = affine(b, x, wih, bih, t); /* [N, T, G*H] */
	int hcur = -1, c = -1;
	int *outs = xmalloc((size_t)steps * sizeof *outs);
	int64_t one = 1;
	for (int64_t s = 0; s < steps && xp >= 0; s++) {
		int nd = nn_node(b, OP_SLICE, &xp, 1, 1);
		int64_t st = s, en = s + 1;
		ir_set_ints(b->g, nd, "starts", &st, 1);
		ir_set_ints(b->g, nd, "ends", &en, 1);
		ir_set_ints(b->g, nd, "axes", &one, 1);
		int xt = nn_ints_op(b, OP_SQUEEZE, nn_infer(b, nd, t), "axes", &one, 1, t); /* [N, G*H] */
		/* W_hh h + b_hh; h = 0 at the first step */
		int hh = hcur >= 0 ? affine(b, hcur, whh, bhh, t) : bhh;
		if (g == 4) {
			int pre = hh >= 0 ? nn_op2(b, OP_ADD, xt, hh, t) : xt;
			int i = nn_op1(b, OP_SIGMOID, gate(b, pre, 0, h, t), t);
			int f = nn_op1(b, OP_SIGMOID, gate(b, pre, 1, h, t), t);
			int gg = nn_op1(b, OP_TANH, gate(b, pre, 2, h, t), t);
			int o = nn_op1(b, OP_SIGMOID, gate(b, pre, 3, h, t), t);
			int ig = nn_op2(b, OP_MUL, i, gg, t);
			c = c >= 0 ? nn_op2(b, OP_ADD, nn_op2(b, OP_MUL, f, c, t), ig, t) : ig;
			hcur = nn_op2(b, OP_MUL, o, nn_op1(b, OP_TANH, c, t), t);
		} else if (g == 3) {
			int r, z, n;
			if (hh >= 0) {
				r = nn_op1(b, OP_SIGMOID, nn_op2(b, OP_ADD, gate(b, xt, 0, h, t), gate(b, hh, 0, h, t), t), t);
				z = nn_op1(b, OP_SIGMOID, nn_op2(b, OP_ADD, gate(b, xt, 1, h, t), gate(b, hh, 1, h, t), t), t);
				n = nn_op1(b, OP_TANH, nn_op2(b, OP_ADD, gate(b, xt, 2, h, t),
					nn_op2(b, OP_MUL, r, gate(b, hh, 2, h, t), t), t), t);
			} else {
				z = nn_op1(b, OP_SIGMOID, gate(b, xt, 1, h, t), t);
				n = nn_op1(b, OP_TANH, gate(b, xt, 2, h, t), t);
			}
			int nz = nn_op2(b, OP_SUB, nn_scalar(b, DT_F32, 1), z, t);
			int hn = nn_op2(b, OP_MUL, nz, n, t);
			hcur = hcur >= 0 ? nn_op2(b, OP_ADD, hn, nn_op2(b, OP_MUL, z, hcur, t), t) : hn;
		} else {
			hcur = nn_op1(b, OP_TANH, hh >= 0 ? nn_op2(b, OP_ADD, xt, hh, t) : xt, t);
		}
		if (hcur < 0)
			break;
		outs[s] = nn_ints_op(b, OP_UNSQUEEZE, hcur, "axes", &one, 1, t);
		if (outs[s] < 0) {
			hcur = -1;
			break;
		}
	}
	int y = -1;
	if (hcur >= 0 && xp >= 0) {
		int nd = nn_node(b, OP_CONCAT, outs, (int)steps, 1);
		ir_set_int(b->g, nd, "axis", 1);
		y = nn_infer(b, nd, t);
	}
	free(outs);
	return y;
}
