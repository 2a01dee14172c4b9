/* bnfold.c — folds inference batchnorm into the weights of the op before
 * it. With s = scale / sqrt(var + eps) per channel c,
 *
 *   batchnorm(conv(x, W, b))          -> conv(x, W*s, (b - mean)*s + bias)
 *   (conv over any spatial rank, and conv_transpose of one group, whose
 *   W is [C_in, K, k...]: output channel k scales W[:, k])
 *   batchnorm(matmul(x, W))           -> add(matmul(x, W*s), bias - mean*s)
 *   batchnorm(add(matmul(x, W), b))   -> add(matmul(x, W*s), (b - mean)*s + bias)
 *
 * where W, b and the four batchnorm inputs are constants with data, of one
 * float dtype, and every value between the weights and the batchnorm is
 * used by nothing else (not even a graph output). For matmul the channel
 * axis is the output's last, so only rank-2 outputs qualify (batchnorm's
 * channel is axis 1). The new weights and bias are parameters computed in
 * float64 and rounded once; the old ones die unless used elsewhere. */
#include "passes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Per-channel scale and shift of the batchnorm node, or false. */
static bool bn_params(const Graph *g, const Node *bn, DType t, int64_t C, double *s, double *sh)
{
	for (int k = 1; k < 5; k++) {
		const Value *v = &g->val[bn->in[k]];
		if (!ps_const_data(g, bn->in[k]) || v->dtype != t || ir_shape_numel(&v->shape) != C)
			return false;
	}
	double eps = ir_attr_float(bn, "epsilon", 1e-5);
	for (int64_t c = 0; c < C; c++) {
		double scale, bias, mean, var;
		ps_const_at(g, bn->in[1], c, &scale);
		ps_const_at(g, bn->in[2], c, &bias);
		ps_const_at(g, bn->in[3], c, &mean);
		ps_const_at(g, bn->in[4], c, &var);
		s[c] = scale / sqrt(var + eps);
		sh[c] = bias - mean * s[c];
	}
	return true;
}

static void put(DType t, void *p, int64_t i, double v)
{
	if (t == DT_F32) {
		float f = (float)v;
		memcpy((char *)p + 4 * i, &f, 4);
	} else {
		memcpy((char *)p + 8 * i, &v, 8);
	}
}

/* A new parameter: the constant w with element i multiplied by
 * s[chan(i)], where chan(i) = i / inner % C. */
static int scaled(Graph *g, int w, const double *s, int64_t C, int64_t inner)
{
	const Value *v = &g->val[w];
	int64_t n = ir_shape_numel(&v->shape);
	void *buf = xmalloc(v->nbytes ? v->nbytes : 1);
	for (int64_t i = 0; i < n; i++) {
		double x;
		ps_const_at(g, w, i, &x);
		put(v->dtype, buf, i, x * s[i / inner % C]);
	}
	const char *name = arena_printf(&g->arena, "%s.bn", v->name);
	int r = ir_add_const(g, name, v->dtype, v->shape, buf, v->nbytes, true);
	free(buf);
	return r;
}

/* A new [C] parameter (b - mean)*s + bias = b*s + sh (b absent: 0). */
static int shifted(Graph *g, int b, const char *base, DType t, Shape shape, const double *s,
	const double *sh, int64_t C)
{
	size_t esz = ir_dtype_size(t);
	void *buf = xmalloc((size_t)C * esz);
	for (int64_t c = 0; c < C; c++) {
		double x = 0;
		if (b >= 0)
			ps_const_at(g, b, c, &x);
		put(t, buf, c, x * s[c] + sh[c]);
	}
	const char *name = arena_printf(&g->arena, "%s.bn_bias", base);
	int r = ir_add_const(g, name, t, shape, buf, (size_t)C * esz, true);
	free(buf);
	return r;
}

static bool only_use(const Graph *g, int v)
{
	return g->val[v].kind == VK_NODE && g->val[v].nuse == 1;
}

static bool fold_conv(Graph *g, int bi, int ci, double *s, double *sh)
{
	const Node *c = &g->node[ci];
	int w = c->in[1], b = c->nin > 2 ? c->in[2] : -1;
	const Value *wv = &g->val[w];
	DType t = wv->dtype;
	bool tr = c->op == OP_CONV_TRANSPOSE; /* w [C_in, K, k...]: group 1 only */
	if (!ps_const_data(g, w) || wv->shape.rank < 3 || (b >= 0 && !ps_const_data(g, b)) ||
	    (tr && ir_attr_int(c, "group", 1) != 1))
		return false;
	int64_t C = wv->shape.d[tr ? 1 : 0].n;
	if (b >= 0 && (g->val[b].dtype != t || ir_shape_numel(&g->val[b].shape) != C))
		return false;
	if (!bn_params(g, &g->node[bi], t, C, s, sh))
		return false;
	int64_t inner = C ? ir_shape_numel(&wv->shape) / C : 1;
	if (tr) /* the output channel of element i is i / kvol % C */
		inner = C ? ir_shape_numel(&wv->shape) / C / wv->shape.d[0].n : 1;
	int64_t dimc = C;
	int nw = scaled(g, w, s, C, inner ? inner : 1);
	int nb = shifted(g, b, g->val[w].name, t, ir_shape_make(1, &dimc), s, sh, C);
	Node *cn = &g->node[ci];
	if (cn->nin < 3) {
		int *in = ir_alloc(g, 3 * sizeof *in);
		in[0] = cn->in[0];
		cn->in = in;
		cn->nin = 3;
	}
	cn->in[1] = nw;
	cn->in[2] = nb;
	return ps_forward(g, bi, cn->out[0]);
}

/* batchnorm(matmul) or batchnorm(add(matmul, b)); y is the batchnorm input. */
static bool fold_matmul(Graph *g, int bi, int y, double *s, double *sh)
{
	int mi = g->val[y].def, b = -1, ai = -1;
	if (g->node[mi].op == OP_ADD) {
		ai = mi;
		const Node *a = &g->node[ai];
		for (int k = 0; k < 2 && mi == ai; k++) {
			int m = a->in[k];
			if (only_use(g, m) && g->node[g->val[m].def].op == OP_MATMUL) {
				mi = g->val[m].def;
				b = a->in[1 - k];
			}
		}
		if (mi == ai || !ps_const_data(g, b))
			return false;
	}
	const Node *m = &g->node[mi];
	int w = m->in[1];
	const Value *wv = &g->val[w], *mo = &g->val[m->out[0]];
	DType t = wv->dtype;
	if (!ps_const_data(g, w) || wv->shape.rank != 2 || mo->shape.rank != 2 ||
		ir_attr_int(m, "trans_a", 0) || g->val[m->in[0]].shape.rank != 2)
		return false;
	bool tb = ir_attr_int(m, "trans_b", 0) != 0;
	int64_t C = wv->shape.d[tb ? 0 : 1].n;
	const Shape *bs = b >= 0 ? &g->val[b].shape : NULL;
	/* b must be per column: [C] or [1, C], not [C, 1] (per row, when M == C) */
	if (b >= 0 && (g->val[b].dtype != t || ir_shape_numel(bs) != C || bs->rank < 1 ||
		bs->d[bs->rank - 1].n != C || !ir_shape_eq(&g->val[g->node[ai].out[0]].shape, &mo->shape)))
		return false;
	if (!bn_params(g, &g->node[bi], t, C, s, sh))
		return false;
	int nw = scaled(g, w, s, C, tb ? wv->shape.d[1].n : 1);
	g->node[mi].in[1] = nw;
	if (ai >= 0) {
		int nb = shifted(g, b, g->val[b].name, t, g->val[b].shape, s, sh, C);
		Node *a = &g->node[ai];
		a->in[a->in[0] == b ? 0 : 1] = nb;
		return ps_forward(g, bi, a->out[0]);
	}
	int64_t dimc = C;
	int nb = shifted(g, -1, g->val[w].name, t, ir_shape_make(1, &dimc), s, sh, C);
	Node *n = &g->node[bi]; /* the batchnorm becomes the bias add */
	n->op = OP_ADD;
	n->nin = 2;
	n->in[0] = g->node[mi].out[0];
	n->in[1] = nb;
	n->nattr = 0;
	n->attr = NULL;
	return true;
}

void ps_bnfold(Graph *g, const Options *o)
{
	(void)o;
	ir_fill_uses(g);
	for (int i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		if (n->dead || n->op != OP_BATCHNORM)
			continue;
		int y = n->in[0];
		const Value *yv = &g->val[y];
		if (!only_use(g, y) || (yv->dtype != DT_F32 && yv->dtype != DT_F64))
			continue;
		const Node *p = &g->node[yv->def];
		int64_t C = g->val[n->in[1]].shape.rank == 1 ? g->val[n->in[1]].shape.d[0].n : -1;
		if (C < 0 || C > ((int64_t)1 << 24))
			continue;
		double *s = xmalloc((size_t)(C ? C : 1) * sizeof *s);
		double *sh = xmalloc((size_t)(C ? C : 1) * sizeof *sh);
		bool done = false;
		if (p->op == OP_CONV || p->op == OP_CONV_TRANSPOSE)
			done = fold_conv(g, i, yv->def, s, sh);
		else if (p->op == OP_MATMUL || p->op == OP_ADD)
			done = fold_matmul(g, i, y, s, sh);
		free(s);
		free(sh);
		if (done)
			ir_fill_uses(g); /* the uses moved */
	}
}
