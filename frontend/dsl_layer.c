/* dsl_layer.c — layer sugar (docs/language.md, "Layers"): `param NAME:
 * LAYER(...)` declares the layer's parameters with PyTorch's default
 * initializers under PyTorch's names (NAME.weight, NAME.bias, ...), and
 * NAME(x) applies it as IR ops. Pools and dropout have no parameters and
 * may also be called directly: maxpool(x, 2).
 *
 * NnLayer.cfg layout: linear {in, out, bias}; conv, conv_transpose, pools
 * {in, out, nd, k[3], stride[3], pad[3], dilation[3], groups, bias,
 * output_padding[3]}; batch_norm {C} with fcfg {eps, momentum};
 * embedding {num, dim}; dropout fcfg {p}; lstm/gru/rnn {in, hidden,
 * gates, bias}. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dsl_impl.h"

enum { C_IN, C_OUT, C_ND, C_K, C_S = 6, C_P = 9, C_D = 12, C_G = 15, C_BIAS, C_OP };

static const char *const kinds[] = {"linear", "conv", "conv_transpose", "batch_norm", "embedding",
				    "dropout", "maxpool", "avgpool", "lstm", "gru", "rnn"};

bool nn_is_layer(const char *name)
{
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
		if (strcmp(name, kinds[i]) == 0)
			return true;
	return false;
}

/* Splits call e's arguments from positional index skip on: positional
 * ones into pos[0..], keywords by keys[] into kv[]; -1 with a message
 * (unknown keyword with the nearest one, wrong count with usage). */
static int split_args(NnB *b, const NnExpr *e, int skip, const char *const *keys, int nkeys,
		      int minpos, int maxpos, const char *usage, const NnExpr **pos, const NnExpr **kv)
{
	int np = 0, seen = 0;
	for (int k = 0; k < nkeys; k++)
		kv[k] = NULL;
	for (int i = 0; i < e->narg; i++) {
		if (!e->kw[i]) {
			if (seen++ < skip)
				continue;
			if (np == maxpos)
				return nn_err(b->src, &e->arg[i]->tok, usage, "too many arguments for %s",
					      e->name);
			pos[np++] = e->arg[i];
			continue;
		}
		int k = -1;
		for (int j = 0; j < nkeys; j++)
			if (strcmp(keys[j], e->kw[i]) == 0)
				k = j;
		if (k < 0) {
			const char *near = nn_nearest(e->kw[i], keys, nkeys);
			char h[160];
			if (near)
				snprintf(h, sizeof h, "did you mean '%s'? (%s)", near, usage);
			return nn_err(b->src, &e->kwtok[i], near ? h : usage, "%s has no setting '%s'",
				      e->name, e->kw[i]);
		}
		if (kv[k])
			return nn_err(b->src, &e->kwtok[i], NULL, "'%s' given twice", e->kw[i]);
		kv[k] = e->arg[i];
	}
	if (np < minpos)
		return nn_err(b->src, &e->tok, usage, "too few arguments for %s", e->name);
	return np;
}

static int int_of(NnB *b, NnScope *sc, const NnExpr *x, const char *what, int64_t lo, int64_t *out)
{
	NnVal v = nn_eval(b, sc, x);
	return nn_int_arg(b, &v, &x->tok, what, lo, INT32_MAX, out);
}

/* An int or a list of nd ints (nd 0: the list decides, into *nd) into out. */
static int ints_of(NnB *b, NnScope *sc, const NnExpr *x, const char *what, int64_t lo, int64_t *nd,
		   int64_t *out)
{
	if (x->kind == NE_LIST) {
		if (x->narg < 1 || x->narg > 3 || (*nd && x->narg != *nd))
			return nn_err(b->src, &x->tok, NULL, "%s: want %s", what,
				      *nd ? "one size per spatial dim" : "1 to 3 sizes");
		*nd = x->narg;
		for (int i = 0; i < x->narg; i++)
			if (int_of(b, sc, x->arg[i], what, lo, &out[i]) < 0)
				return -1;
		return 0;
	}
	int64_t v;
	if (int_of(b, sc, x, what, lo, &v) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		out[i] = v;
	return 0;
}

static int num_of(NnB *b, NnScope *sc, const NnExpr *x, const char *what, double lo, double hi,
		  double *out)
{
	NnVal v = nn_eval(b, sc, x);
	if (v.kind == SY_ERROR)
		return -1;
	if (v.kind != SY_NUM || v.num < lo || v.num > hi)
		return nn_err(b->src, &x->tok, NULL, "%s must be a number in [%g, %g]", what, lo, hi);
	*out = v.num;
	return 0;
}

/* IN -> OUT into cfg[0], cfg[1]. */
static int sizes(NnB *b, NnScope *sc, const NnExpr *x, const char *usage, int64_t *cfg)
{
	if (x->kind != NE_ARROW)
		return nn_err(b->src, &x->tok, usage, "the first argument is IN -> OUT");
	if (int_of(b, sc, x->a, "the input size", 1, &cfg[0]) < 0 ||
	    int_of(b, sc, x->b, "the output size", 1, &cfg[1]) < 0)
		return -1;
	return 0;
}

/* Parameter PREFIX.what with the initializer expression ie if given, else
 * the built-in init with p0, p1. */
static int param(NnB *b, NnScope *sc, const char *q, const char *what, Shape s, const NnExpr *ie,
		 const char *init, double p0, double p1, const NnTok *t)
{
	const char *name = arena_printf(b->a, "%s.%s", q, what);
	if (ie)
		return nn_param_init(b, sc, name, DT_F32, s, ie);
	return nn_param_builtin(b, name, s, init, p0, p1, t);
}

static NnLayer *pool_cfg(NnB *b, NnScope *sc, const NnExpr *e, int skip, NnLayer *l)
{
	static const char *const keys[] = {"k", "stride", "pad"};
	const char *usage = skip ? "maxpool(x, K, stride=K, pad=0)" : "maxpool(K, stride=K, pad=0)";
	const NnExpr *pos[3], *kv[3];
	int np = split_args(b, e, skip, keys, 3, 0, 1, usage, pos, kv);
	if (np < 0)
		return NULL;
	const NnExpr *k = np ? pos[0] : kv[0];
	if (!k || (np && kv[0])) {
		nn_err(b->src, &e->tok, usage, np ? "the size is given twice" : "%s needs its size", e->name);
		return NULL;
	}
	l->cfg[C_ND] = 0;
	if (ints_of(b, sc, k, "the pool size", 1, &l->cfg[C_ND], &l->cfg[C_K]) < 0)
		return NULL;
	memcpy(&l->cfg[C_S], &l->cfg[C_K], 3 * sizeof *l->cfg);
	if (kv[1] && ints_of(b, sc, kv[1], "the stride", 1, &l->cfg[C_ND], &l->cfg[C_S]) < 0)
		return NULL;
	if (kv[2] && ints_of(b, sc, kv[2], "the padding", 0, &l->cfg[C_ND], &l->cfg[C_P]) < 0)
		return NULL;
	return l;
}

static NnLayer *conv_cfg(NnB *b, NnScope *sc, const NnExpr *e, const char *q, NnLayer *l)
{
	bool tr = strcmp(l->kind, "conv_transpose") == 0;
	static const char *const keys[] = {"k", "stride", "pad", "dilation", "groups", "bias", "init",
					   "bias_init", "output_padding"};
	const char *usage = tr ? "conv_transpose(IN -> OUT, k=K, stride=1, pad=0, output_padding=0, "
				 "groups=1, bias=true, init=..., bias_init=...)"
			       : "conv(IN -> OUT, k=K, stride=1, pad=0, dilation=1, groups=1, bias=true, "
				 "init=..., bias_init=...)";
	const NnExpr *pos[1], *kv[9];
	if (split_args(b, e, 0, keys, tr ? 9 : 8, 1, 1, usage, pos, kv) < 0 ||
	    sizes(b, sc, pos[0], usage, l->cfg) < 0)
		return NULL;
	if (!kv[0]) {
		nn_err(b->src, &e->tok, usage, "%s needs its kernel size k=", l->kind);
		return NULL;
	}
	int64_t *c = l->cfg, bias = 1;
	c[C_ND] = 0;
	if (ints_of(b, sc, kv[0], "the kernel size", 1, &c[C_ND], &c[C_K]) < 0)
		return NULL;
	if (c[C_ND] == 0)
		c[C_ND] = 2;
	for (int i = 0; i < 3; i++)
		c[C_S + i] = c[C_D + i] = 1;
	c[C_G] = 1;
	if ((kv[1] && ints_of(b, sc, kv[1], "the stride", 1, &c[C_ND], &c[C_S]) < 0) ||
	    (kv[2] && ints_of(b, sc, kv[2], "the padding", 0, &c[C_ND], &c[C_P]) < 0) ||
	    (kv[3] && ints_of(b, sc, kv[3], "the dilation", 1, &c[C_ND], &c[C_D]) < 0) ||
	    (kv[4] && int_of(b, sc, kv[4], "groups", 1, &c[C_G]) < 0) ||
	    (kv[5] && int_of(b, sc, kv[5], "bias (true or false)", 0, &bias) < 0) ||
	    (tr && kv[8] && ints_of(b, sc, kv[8], "the output padding", 0, &c[C_ND], &c[C_OP]) < 0))
		return NULL;
	c[C_BIAS] = bias != 0;
	if (c[C_IN] % c[C_G] || c[C_OUT] % c[C_G]) {
		nn_err(b->src, kv[4] ? &kv[4]->tok : &e->tok, NULL,
		       "groups=%lld must divide the channels %lld and %lld", (long long)c[C_G],
		       (long long)c[C_IN], (long long)c[C_OUT]);
		return NULL;
	}
	int64_t dims[5] = {tr ? c[C_IN] : c[C_OUT], tr ? c[C_OUT] / c[C_G] : c[C_IN] / c[C_G]};
	double fan_in = (double)dims[1];
	for (int i = 0; i < c[C_ND]; i++) {
		dims[2 + i] = c[C_K + i];
		fan_in *= (double)c[C_K + i];
	}
	double bound = 1 / sqrt(fan_in);
	l->p[0] = param(b, sc, q, "weight", ir_shape_make(2 + (int)c[C_ND], dims), kv[6], "uniform",
			-bound, bound, &e->tok);
	l->p[1] = -1;
	if (c[C_BIAS])
		l->p[1] = param(b, sc, q, "bias", ir_shape_make(1, &c[C_OUT]), kv[7], "uniform", -bound,
				bound, &e->tok);
	l->np = 2;
	return l->p[0] < 0 || (c[C_BIAS] && l->p[1] < 0) ? NULL : l;
}

NnLayer *nn_layer_new(NnB *b, NnScope *sc, const char *q, const NnExpr *e)
{
	NnLayer *l = arena_alloc(b->a, sizeof *l);
	l->kind = e->name;
	for (int i = 0; i < NN_MAX_LPARAM; i++)
		l->p[i] = -1;
	const NnExpr *pos[2], *kv[8];
	if (strcmp(l->kind, "linear") == 0) {
		static const char *const keys[] = {"bias", "init", "bias_init"};
		const char *usage = "linear(IN -> OUT, bias=true, init=..., bias_init=...)";
		int64_t bias = 1;
		if (split_args(b, e, 0, keys, 3, 1, 1, usage, pos, kv) < 0 ||
		    sizes(b, sc, pos[0], usage, l->cfg) < 0 ||
		    (kv[0] && int_of(b, sc, kv[0], "bias (true or false)", 0, &bias) < 0))
			return NULL;
		l->cfg[2] = bias != 0;
		double bound = 1 / sqrt((double)l->cfg[0]);
		int64_t wd[2] = {l->cfg[1], l->cfg[0]};
		l->p[0] = param(b, sc, q, "weight", ir_shape_make(2, wd), kv[1], "uniform", -bound, bound, &e->tok);
		if (bias)
			l->p[1] = param(b, sc, q, "bias", ir_shape_make(1, &l->cfg[1]), kv[2], "uniform", -bound,
					bound, &e->tok);
		l->np = 2;
		return l->p[0] < 0 || (bias && l->p[1] < 0) ? NULL : l;
	}
	if (strcmp(l->kind, "conv") == 0 || strcmp(l->kind, "conv_transpose") == 0)
		return conv_cfg(b, sc, e, q, l);
	if (strcmp(l->kind, "maxpool") == 0 || strcmp(l->kind, "avgpool") == 0)
		return pool_cfg(b, sc, e, 0, l);
	if (strcmp(l->kind, "batch_norm") == 0) {
		static const char *const keys[] = {"eps", "momentum"};
		const char *usage = "batch_norm(C, eps=1e-5, momentum=0.1)";
		l->fcfg[0] = 1e-5;
		l->fcfg[1] = 0.1;
		if (split_args(b, e, 0, keys, 2, 1, 1, usage, pos, kv) < 0 ||
		    int_of(b, sc, pos[0], "the channel count", 1, &l->cfg[0]) < 0 ||
		    (kv[0] && num_of(b, sc, kv[0], "eps", 0, 1, &l->fcfg[0]) < 0) ||
		    (kv[1] && num_of(b, sc, kv[1], "momentum", 0, 1, &l->fcfg[1]) < 0))
			return NULL;
		Shape s = ir_shape_make(1, &l->cfg[0]);
		static const char *const what[] = {"weight", "bias", "running_mean", "running_var"};
		for (int i = 0; i < 4; i++) {
			l->p[i] = param(b, sc, q, what[i], s, NULL, "constant", i == 0 || i == 3, 0, &e->tok);
			if (l->p[i] < 0)
				return NULL;
		}
		l->np = 4;
		return l;
	}
	if (strcmp(l->kind, "embedding") == 0) {
		static const char *const keys[] = {"init"};
		const char *usage = "embedding(NUM -> DIM, init=...)";
		if (split_args(b, e, 0, keys, 1, 1, 1, usage, pos, kv) < 0 ||
		    sizes(b, sc, pos[0], usage, l->cfg) < 0)
			return NULL;
		l->p[0] = param(b, sc, q, "weight", ir_shape_make(2, l->cfg), kv[0], "normal", 0, 1, &e->tok);
		l->np = 1;
		return l->p[0] < 0 ? NULL : l;
	}
	if (strcmp(l->kind, "dropout") == 0) {
		if (split_args(b, e, 0, NULL, 0, 1, 1, "dropout(P)", pos, kv) < 0 ||
		    num_of(b, sc, pos[0], "the dropout probability", 0, 0.999999, &l->fcfg[0]) < 0)
			return NULL;
		return l;
	}
	/* lstm, gru, rnn */
	static const char *const keys[] = {"bias"};
	char usage[64];
	snprintf(usage, sizeof usage, "%s(IN -> HIDDEN, bias=true)", l->kind);
	int64_t bias = 1;
	if (split_args(b, e, 0, keys, 1, 1, 1, usage, pos, kv) < 0 ||
	    sizes(b, sc, pos[0], usage, l->cfg) < 0 ||
	    (kv[0] && int_of(b, sc, kv[0], "bias (true or false)", 0, &bias) < 0))
		return NULL;
	int64_t g = strcmp(l->kind, "lstm") == 0 ? 4 : strcmp(l->kind, "gru") == 0 ? 3 : 1;
	l->cfg[2] = g;
	l->cfg[3] = bias != 0;
	int64_t h = l->cfg[1];
	double bound = 1 / sqrt((double)h);
	int64_t wih[2] = {g * h, l->cfg[0]}, whh[2] = {g * h, h}, bd = g * h;
	static const char *const what[] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"};
	Shape s[4] = {ir_shape_make(2, wih), ir_shape_make(2, whh), ir_shape_make(1, &bd),
		      ir_shape_make(1, &bd)};
	/* every size before any fill: a hidden size too large for weight_hh
	 * must not first fill a gigabyte of weight_ih */
	for (int i = 0; i < 2; i++)
		if (nn_param_fits(b, arena_printf(b->a, "%s.%s", q, what[i]), s[i], &e->tok) < 0)
			return NULL;
	for (int i = 0; i < (bias ? 4 : 2); i++)
		if ((l->p[i] = param(b, sc, q, what[i], s[i], NULL, "uniform", -bound, bound, &e->tok)) < 0)
			return NULL;
	l->np = 4;
	return l;
}

/* Reshapes a [C] vector v to [C, 1, ...] for x of rank r. */
static int chan(NnB *b, int v, int r, const NnTok *t)
{
	int64_t d[IR_MAX_RANK] = {-1};
	for (int i = 1; i < r - 1; i++)
		d[i] = 1;
	return nn_ints_op(b, OP_RESHAPE, v, "shape", d, r - 1, t);
}

/* Training-mode batch norm: batch statistics and the running-statistic
 * updates (PyTorch's: unbiased variance for the running one). */
static int bn_train(NnB *b, const NnLayer *l, int x, const NnTok *t)
{
	int r = b->g->val[x].shape.rank;
	int64_t ax[IR_MAX_RANK];
	ax[0] = 0;
	for (int i = 2; i < r; i++)
		ax[i - 1] = i;
	int nd = nn_node(b, OP_REDUCE_MEAN, &x, 1, 1);
	ir_set_ints(b->g, nd, "axes", ax, r - 1);
	int mean = nn_infer(b, nd, t);
	int dx = nn_op2(b, OP_SUB, x, mean, t);
	int sq = nn_op2(b, OP_MUL, dx, dx, t);
	if (sq < 0)
		return -1;
	nd = nn_node(b, OP_REDUCE_MEAN, &sq, 1, 1);
	ir_set_ints(b->g, nd, "axes", ax, r - 1);
	int var = nn_infer(b, nd, t);
	int den = nn_op1(b, OP_SQRT, nn_op2(b, OP_ADD, var, nn_scalar(b, DT_F32, l->fcfg[0]), t), t);
	int y = nn_op2(b, OP_DIV, dx, den, t);
	y = nn_op2(b, OP_MUL, y, chan(b, l->p[0], r, t), t);
	y = nn_op2(b, OP_ADD, y, chan(b, l->p[1], r, t), t);
	/* n / (n - 1), n = numel(x) / C, from the run-time shape */
	int all = nn_op1(b, OP_SHAPE, x, t);
	int numel = -1;
	if (all >= 0) {
		nd = nn_node(b, OP_REDUCE_PROD, &all, 1, 1);
		ir_set_int(b->g, nd, "keepdims", 0);
		numel = nn_infer(b, nd, t);
	}
	if (numel >= 0) {
		nd = nn_node(b, OP_CAST, &numel, 1, 1);
		ir_set_string(b->g, nd, "to", "f32");
		numel = nn_infer(b, nd, t);
	}
	int n = nn_op2(b, OP_DIV, numel, nn_scalar(b, DT_F32, (double)l->cfg[0]), t);
	int unb = nn_op2(b, OP_DIV, n, nn_op2(b, OP_SUB, n, nn_scalar(b, DT_F32, 1), t), t);
	double m = l->fcfg[1];
	int64_t flat = -1;
	for (int k = 0; k < 2; k++) {
		int stat = nn_ints_op(b, OP_RESHAPE, k ? var : mean, "shape", &flat, 1, t);
		int w = nn_scalar(b, DT_F32, m);
		if (k)
			w = nn_op2(b, OP_MUL, w, unb, t);
		int run = l->p[2 + k];
		int nv = nn_op2(b, OP_ADD, nn_op2(b, OP_MUL, run, nn_scalar(b, DT_F32, 1 - m), t),
				nn_op2(b, OP_MUL, stat, w, t), t);
		if (nv < 0)
			return -1;
		int in[2] = {run, nv};
		int up = ir_add_node(b->g, OP_BUFFER_UPDATE, b->let, in, 2, 0, NULL);
		if (nn_infer(b, up, t) < 0)
			return -1;
	}
	return y;
}

static int conv_apply(NnB *b, const NnLayer *l, int x, const NnTok *t)
{
	const int64_t *c = l->cfg;
	bool pool = strcmp(l->kind, "maxpool") == 0 || strcmp(l->kind, "avgpool") == 0;
	bool tr = strcmp(l->kind, "conv_transpose") == 0;
	const Value *xv = &b->g->val[x];
	int nd = (int)c[C_ND];
	char ty[200];
	if (pool && nd == 0)
		nd = xv->shape.rank - 2;
	if (xv->shape.rank != nd + 2 || nd < 1 || nd > 3)
		return nn_err(b->src, t, NULL, "%s over %d spatial dim%s needs an input [N, C, ...] of "
			      "rank %d, got %s", l->kind, nd, nd == 1 ? "" : "s", nd + 2,
			      nn_typestr(b, x, ty, sizeof ty));
	if (!pool && xv->shape.d[1].n >= 0 && xv->shape.d[1].n != c[C_IN])
		return nn_err(b->src, t, NULL, "%s expects %lld input channels, got %s", l->kind,
			      (long long)c[C_IN], nn_typestr(b, x, ty, sizeof ty));
	int in[3] = {x, l->p[0], l->p[1]};
	Op op = pool ? (l->kind[0] == 'm' ? OP_MAXPOOL : OP_AVGPOOL) : tr ? OP_CONV_TRANSPOSE : OP_CONV;
	int node = nn_node(b, op, in, pool ? 1 : l->p[1] >= 0 ? 3 : 2, 1);
	int64_t pads[6];
	for (int i = 0; i < nd; i++)
		pads[i] = pads[nd + i] = c[C_P + i];
	ir_set_ints(b->g, node, "strides", &c[C_S], nd);
	ir_set_ints(b->g, node, "pads", pads, 2 * nd);
	if (pool) {
		ir_set_ints(b->g, node, "kernel", &c[C_K], nd);
	} else {
		ir_set_ints(b->g, node, "dilations", &c[C_D], nd);
		ir_set_int(b->g, node, "group", c[C_G]);
		if (tr)
			ir_set_ints(b->g, node, "output_padding", &c[C_OP], nd);
	}
	return nn_infer(b, node, t);
}

NnVal nn_layer_apply(NnB *b, NnScope *sc, const NnLayer *l, const NnExpr *e)
{
	NnLayer tmp;
	int skip = 0;
	if (!l) { /* maxpool(x, K, ...) */
		memset(&tmp, 0, sizeof tmp);
		tmp.kind = e->name;
		if (!pool_cfg(b, sc, e, 1, &tmp))
			return nn_err_val();
		l = &tmp;
		skip = 1;
	}
	int npos = 0, first = -1;
	for (int i = 0; i < e->narg; i++)
		if (!e->kw[i] && npos++ == 0)
			first = i;
	if (first < 0 || (!skip && (npos != 1 || e->narg != 1))) {
		nn_err(b->src, &e->tok, NULL, "a layer is applied to one tensor: %s(x)", e->name);
		return nn_err_val();
	}
	NnVal xv = nn_eval(b, sc, e->arg[first]);
	int x = nn_tensor_arg(b, &xv, &e->arg[first]->tok, "the layer's input");
	if (x < 0)
		return nn_err_val();
	const Value *v = &b->g->val[x];
	char ty[200];
	const NnTok *t = &e->tok;
	bool f32 = v->dtype == DT_F32;
	if (strcmp(l->kind, "embedding") == 0) {
		if (v->dtype != DT_I64 && v->dtype != DT_I32) {
			nn_err(b->src, t, NULL, "embedding takes integer indices, got %s",
			       nn_typestr(b, x, ty, sizeof ty));
			return nn_err_val();
		}
		int in[2] = {l->p[0], x};
		int nd = nn_node(b, OP_GATHER, in, 2, 1);
		ir_set_int(b->g, nd, "axis", 0);
		return nn_tensor_val(nn_infer(b, nd, t));
	}
	if (!f32) {
		nn_err(b->src, t, NULL, "%s takes f32, got %s", l->kind, nn_typestr(b, x, ty, sizeof ty));
		return nn_err_val();
	}
	if (strcmp(l->kind, "linear") == 0) {
		int r = v->shape.rank;
		if (r < 1 || (v->shape.d[r - 1].n >= 0 && v->shape.d[r - 1].n != l->cfg[0])) {
			nn_err(b->src, t, r > 2 ? "flatten it first: flatten(x)" : NULL,
			       "linear %s expects [..., %lld], got %s", e->name, (long long)l->cfg[0],
			       nn_typestr(b, x, ty, sizeof ty));
			return nn_err_val();
		}
		int in[2] = {x, l->p[0]};
		int nd = nn_node(b, OP_MATMUL, in, 2, 1);
		ir_set_int(b->g, nd, "trans_b", 1);
		int y = nn_infer(b, nd, t);
		if (l->p[1] >= 0)
			y = nn_op2(b, OP_ADD, y, l->p[1], t);
		return nn_tensor_val(y);
	}
	if (strcmp(l->kind, "batch_norm") == 0) {
		int r = v->shape.rank;
		if (r < 2 || (v->shape.d[1].n >= 0 && v->shape.d[1].n != l->cfg[0])) {
			nn_err(b->src, t, NULL, "batch_norm expects [N, %lld, ...], got %s",
			       (long long)l->cfg[0], nn_typestr(b, x, ty, sizeof ty));
			return nn_err_val();
		}
		if (b->train)
			return nn_tensor_val(bn_train(b, l, x, t));
		int in[5] = {x, l->p[0], l->p[1], l->p[2], l->p[3]};
		int nd = nn_node(b, OP_BATCHNORM, in, 5, 1);
		ir_set_float(b->g, nd, "epsilon", l->fcfg[0]);
		return nn_tensor_val(nn_infer(b, nd, t));
	}
	if (strcmp(l->kind, "dropout") == 0) {
		if (!b->train || l->fcfg[0] == 0)
			return nn_tensor_val(x);
		int nd = nn_node(b, OP_DROPOUT, &x, 1, 2);
		ir_set_float(b->g, nd, "ratio", l->fcfg[0]);
		return nn_tensor_val(nn_infer(b, nd, t));
	}
	if (l->cfg[2] >= 1 && (strcmp(l->kind, "lstm") == 0 || strcmp(l->kind, "gru") == 0 ||
			       strcmp(l->kind, "rnn") == 0))
		return nn_tensor_val(nn_rnn_apply(b, l, x, t));
	return nn_tensor_val(conv_apply(b, l, x, t));
}
