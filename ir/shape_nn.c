/* shape_nn.c — shape rules of the windowed ops: conv (NCHW input, KCHW
 * weight, optional bias) and maxpool/avgpool. Only 2-D windows are
 * supported; spatial dims must be known (batch and channels may be
 * symbolic). Output extents follow ONNX/PyTorch, including ceil_mode's
 * rule that no window may start in the bottom/right padding. */
#include "shape.h"

static bool has_in(const ShapeCtx *c, int k) { return k < c->n->nin && c->n->in[k] >= 0; }

/* Output extent of a sliding window: floor or (with ceil_mode, PyTorch's
 * rule) ceil of (in + pb + pe - dil*(k-1) - 1)/s, plus 1. 0 on success, -1 on
 * overflow, -2 when the window does not fit into the padded input. */
static int window_out(int64_t in, int64_t pb, int64_t pe, int64_t k, int64_t s, int64_t dil,
	bool ceil_mode, int64_t *out)
{
	int64_t ext, num;
	if (!ck_mul(dil, k - 1, &ext) || !ck_add(ext, 1, &ext))
		return -1;
	if (!ck_add(in, pb, &num) || !ck_add(num, pe, &num))
		return -1;
	num -= ext;
	if (num < 0)
		return -2;
	int64_t o = num / s + 1;
	if (ceil_mode) {
		o = (num + s - 1) / s + 1;
		int64_t last;
		if (!ck_mul(o - 1, s, &last))
			return -1;
		if (last >= in + pb)
			o--;
	}
	*out = o;
	return 0;
}

/* Checks strides/dilations (positive) and pads (non-negative). */
static int window_attrs(const ShapeCtx *c, int64_t *st, int64_t *pads, int64_t *dil)
{
	if (sh_ints_attr(c, "strides", 2, 1, st) || sh_ints_attr(c, "pads", 4, 0, pads))
		return -1;
	if (dil && sh_ints_attr(c, "dilations", 2, 1, dil))
		return -1;
	for (int i = 0; i < 2; i++) {
		if (st[i] <= 0)
			return FAIL(c, "strides must be positive, got %lld", (long long)st[i]);
		if (dil && dil[i] <= 0)
			return FAIL(c, "dilations must be positive, got %lld", (long long)dil[i]);
	}
	for (int i = 0; i < 4; i++)
		if (pads[i] < 0)
			return FAIL(c, "pads must be non-negative, got %lld", (long long)pads[i]);
	return 0;
}

/* Spatial output dims of conv/pool into o[2]. */
static int spatial_out(const ShapeCtx *c, const Shape *x, const int64_t *k, const int64_t *st,
	const int64_t *pads, const int64_t *dil, bool ceil_mode, int64_t *o)
{
	char b1[256];
	for (int i = 0; i < 2; i++) {
		int64_t in = x->d[2 + i].n;
		int r = window_out(in, pads[i], pads[2 + i], k[i], st[i], dil[i], ceil_mode, &o[i]);
		if (r == -1)
			return FAIL(c, "window size overflows");
		if (r == -2)
			return FAIL(c, "window (kernel %lld, dilation %lld) does not fit the padded input %s",
				(long long)k[i], (long long)dil[i], sh_str(c, x, b1));
	}
	return 0;
}

static int spatial_known(const ShapeCtx *c, const Shape *s, const char *what)
{
	char b1[256];
	if (!sh_known(s->d[2]) || !sh_known(s->d[3]))
		return FAIL(c, "spatial dims of %s %s must be known; bind them with --shape NAME=D0,D1,...",
			what, sh_str(c, s, b1));
	return 0;
}

int shape_conv_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	bool bias = has_in(c, 2);
	if (sh_same_dtype(c, 0, 1) || (bias && sh_same_dtype(c, 0, 2)))
		return -1;
	const Shape *x = &c->ish[0], *w = &c->ish[1];
	char b1[256], b2[256];
	if (x->rank >= 0 && x->rank != 4)
		return FAIL(c, "only 2-D convolution is supported");
	if (w->rank >= 0 && w->rank != 4)
		return FAIL(c, "weight must have rank 4, got %s", sh_str(c, w, b1));
	if (x->rank < 0 || w->rank < 0)
		return 0;
	int64_t st[2], pads[4], dil[2];
	if (window_attrs(c, st, pads, dil))
		return -1;
	int64_t group = ir_attr_int(c->n, "group", 1);
	if (group < 1)
		return FAIL(c, "group must be positive, got %lld", (long long)group);
	if (spatial_known(c, x, "input") || spatial_known(c, w, "weight"))
		return -1;
	if (w->d[2].n < 1 || w->d[3].n < 1)
		return FAIL(c, "empty kernel %s", sh_str(c, w, b1));
	int64_t cg;
	if (sh_known(x->d[1]) && sh_known(w->d[1]) &&
		(!ck_mul(w->d[1].n, group, &cg) || cg != x->d[1].n))
		return FAIL(c, "input channels of %s do not match weight %s with group %lld",
			sh_str(c, x, b1), sh_str(c, w, b2), (long long)group);
	Dim k = w->d[0];
	if (sh_known(k) && k.n % group)
		return FAIL(c, "output channels %lld not divisible by group %lld", (long long)k.n,
			(long long)group);
	if (bias) {
		const Shape *b = &c->ish[2];
		if (b->rank >= 0 && (b->rank != 1 ||
			(sh_known(b->d[0]) && sh_known(k) && b->d[0].n != k.n)))
			return FAIL(c, "bias %s does not match weight %s", sh_str(c, b, b1),
				sh_str(c, w, b2));
	}
	int64_t kk[2] = {w->d[2].n, w->d[3].n}, o[2];
	if (spatial_out(c, x, kk, st, pads, dil, false, o))
		return -1;
	Shape *r = &c->osh[0];
	r->rank = 4;
	r->d[0] = x->d[0];
	r->d[1] = k;
	r->d[2] = sh_dim(o[0]);
	r->d[3] = sh_dim(o[1]);
	return 0;
}

int shape_pool_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	if (x->rank >= 0 && x->rank != 4)
		return FAIL(c, "only 2-D pooling is supported");
	if (x->rank < 0)
		return 0;
	const int64_t *kv;
	if (ir_attr_ints(c->n, "kernel", &kv) != 2 || kv[0] < 1 || kv[1] < 1)
		return FAIL(c, "kernel must be two positive ints");
	int64_t st[2], pads[4], dil[2] = {1, 1};
	bool ismax = c->n->op == OP_MAXPOOL;
	if (window_attrs(c, st, pads, ismax ? dil : NULL))
		return -1;
	if (spatial_known(c, x, "input"))
		return -1;
	int64_t o[2];
	if (spatial_out(c, x, kv, st, pads, dil, ir_attr_int(c->n, "ceil_mode", 0) != 0, o))
		return -1;
	Shape *r = &c->osh[0];
	*r = *x;
	r->d[2] = sh_dim(o[0]);
	r->d[3] = sh_dim(o[1]);
	return 0;
}

