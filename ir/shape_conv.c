/* shape_conv.c — shape rules of the windowed ops over 1, 2 or 3 spatial
 * dims (input rank 3, 4 or 5, layout N C D.. H W): conv (weight
 * [K, C/group, k...], optional bias [K]), conv_transpose (weight
 * [C, K/group, k...]) and maxpool/avgpool. Spatial dims must be known
 * (batch and channels may be symbolic). Output extents follow ONNX and
 * PyTorch, including ceil_mode's rule that no window may start in the
 * end padding. */
#include "shape.h"

enum { SP_MAX = 3 }; /* spatial dims supported */

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
		o = ck_cdiv(num, s) + 1;
		int64_t last;
		if (!ck_mul(o - 1, s, &last))
			return -1;
		if (last >= in + pb) /* in + pb fits: in + pb + pe did */
			o--;
	}
	*out = o;
	return 0;
}

/* Window attributes of an op over s spatial dims: strides and dilations
 * positive, pads (2*s: begins, then ends) non-negative. dil may be NULL. */
static int window_attrs(const ShapeCtx *c, int s, int64_t *st, int64_t *pads, int64_t *dil)
{
	if (sh_ints_attr(c, "strides", s, 1, st) || sh_ints_attr(c, "pads", 2 * s, 0, pads))
		return -1;
	if (dil && sh_ints_attr(c, "dilations", s, 1, dil))
		return -1;
	for (int i = 0; i < s; i++) {
		if (st[i] <= 0)
			return FAIL(c, "strides must be positive, got %lld", (long long)st[i]);
		if (dil && dil[i] <= 0)
			return FAIL(c, "dilations must be positive, got %lld", (long long)dil[i]);
	}
	for (int i = 0; i < 2 * s; i++)
		if (pads[i] < 0)
			return FAIL(c, "pads must be non-negative, got %lld", (long long)pads[i]);
	return 0;
}

/* The number of spatial dims of x (rank 3..5), or -1 with a message. */
static int spatial_rank(const ShapeCtx *c, const Shape *x, const char *what)
{
	char b1[256];
	if (x->rank < 3 || x->rank > 2 + SP_MAX)
		return FAIL(c, "%s %s must have rank 3, 4 or 5 (1-D, 2-D or 3-D windows)", what,
			sh_str(c, x, b1));
	for (int i = 2; i < x->rank; i++)
		if (!sh_known(x->d[i]))
			return FAIL(c, "spatial dims of %s %s must be known; bind them with "
				"--shape NAME=D0,D1,...", what, sh_str(c, x, b1));
	return x->rank - 2;
}

/* Spatial output dims of conv/pool into o[s]. */
static int spatial_out(const ShapeCtx *c, int s, const Shape *x, const int64_t *k,
	const int64_t *st, const int64_t *pads, const int64_t *dil, bool ceil_mode, int64_t *o)
{
	char b1[256];
	for (int i = 0; i < s; i++) {
		int64_t in = x->d[2 + i].n;
		int r = window_out(in, pads[i], pads[s + i], k[i], st[i], dil[i], ceil_mode, &o[i]);
		if (r == -1)
			return FAIL(c, "window size overflows");
		if (r == -2)
			return FAIL(c, "window (kernel %lld, dilation %lld) does not fit the padded input %s",
				(long long)k[i], (long long)dil[i], sh_str(c, x, b1));
	}
	return 0;
}

/* Checks what conv and conv_transpose share: dtypes, ranks, group, the
 * channels the weight's dim `cdim` (1 for conv, 0 for conv_transpose) must
 * match, and the bias against `kout` output channels. Sets *sp. */
static int conv_common(const ShapeCtx *c, bool transpose, int *sp, int64_t *group, Dim *kout)
{
	c->odt[0] = c->idt[0];
	bool bias = has_in(c, 2);
	if (sh_same_dtype(c, 0, 1) || (bias && sh_same_dtype(c, 0, 2)))
		return -1;
	const Shape *x = &c->ish[0], *w = &c->ish[1];
	char b1[256], b2[256];
	*sp = 0;
	if (x->rank < 0 || w->rank < 0)
		return 0;
	int s = spatial_rank(c, x, "input");
	if (s < 0)
		return -1;
	if (w->rank != x->rank)
		return FAIL(c, "weight %s must have the input's rank %d", sh_str(c, w, b1), x->rank);
	for (int i = 2; i < w->rank; i++)
		if (!sh_known(w->d[i]) || w->d[i].n < 1)
			return FAIL(c, "kernel dims of weight %s must be known and positive",
				sh_str(c, w, b1));
	*group = ir_attr_int(c->n, "group", 1);
	if (*group < 1)
		return FAIL(c, "group must be positive, got %lld", (long long)*group);
	int64_t cg;
	if (!transpose) { /* w [K, C/group, ...] */
		if (sh_known(x->d[1]) && sh_known(w->d[1]) &&
			(!ck_mul(w->d[1].n, *group, &cg) || cg != x->d[1].n))
			return FAIL(c, "input channels of %s do not match weight %s with group %lld",
				sh_str(c, x, b1), sh_str(c, w, b2), (long long)*group);
		*kout = w->d[0];
		if (sh_known(*kout) && kout->n % *group)
			return FAIL(c, "output channels %lld not divisible by group %lld",
				(long long)kout->n, (long long)*group);
	} else { /* w [C, K/group, ...] */
		if (sh_known(x->d[1]) && sh_known(w->d[0]) && w->d[0].n != x->d[1].n)
			return FAIL(c, "input channels of %s do not match weight %s", sh_str(c, x, b1),
				sh_str(c, w, b2));
		if (sh_known(w->d[0]) && w->d[0].n % *group)
			return FAIL(c, "input channels %lld not divisible by group %lld",
				(long long)w->d[0].n, (long long)*group);
		*kout = sh_unknown();
		if (sh_known(w->d[1])) {
			if (!ck_mul(w->d[1].n, *group, &cg))
				return FAIL(c, "output channels overflow");
			*kout = sh_dim(cg);
		}
	}
	if (bias) {
		const Shape *b = &c->ish[2];
		if (b->rank >= 0 && (b->rank != 1 ||
			(sh_known(b->d[0]) && sh_known(*kout) && b->d[0].n != kout->n)))
			return FAIL(c, "bias %s does not match weight %s", sh_str(c, b, b1),
				sh_str(c, w, b2));
	}
	*sp = s;
	return 0;
}

int shape_conv_rule(const ShapeCtx *c)
{
	int s;
	int64_t group;
	Dim kout;
	if (conv_common(c, false, &s, &group, &kout))
		return -1;
	if (s == 0)
		return 0;
	const Shape *x = &c->ish[0], *w = &c->ish[1];
	int64_t st[SP_MAX], pads[2 * SP_MAX], dil[SP_MAX], kk[SP_MAX] = {0}, o[SP_MAX];
	if (window_attrs(c, s, st, pads, dil))
		return -1;
	for (int i = 0; i < s; i++)
		kk[i] = w->d[2 + i].n;
	if (spatial_out(c, s, x, kk, st, pads, dil, false, o))
		return -1;
	Shape *r = &c->osh[0];
	r->rank = x->rank;
	r->d[0] = x->d[0];
	r->d[1] = kout;
	for (int i = 0; i < s; i++)
		r->d[2 + i] = sh_dim(o[i]);
	return 0;
}

/* out = stride*(in-1) + output_padding + dil*(k-1) + 1 - pad_begin - pad_end */
int shape_conv_transpose_rule(const ShapeCtx *c)
{
	int s;
	int64_t group;
	Dim kout;
	if (conv_common(c, true, &s, &group, &kout))
		return -1;
	if (s == 0)
		return 0;
	const Shape *x = &c->ish[0], *w = &c->ish[1];
	int64_t st[SP_MAX], pads[2 * SP_MAX], dil[SP_MAX], op[SP_MAX];
	if (window_attrs(c, s, st, pads, dil) || sh_ints_attr(c, "output_padding", s, 0, op))
		return -1;
	Shape *r = &c->osh[0];
	r->rank = x->rank;
	r->d[0] = x->d[0];
	r->d[1] = kout;
	for (int i = 0; i < s; i++) {
		int64_t a, b;
		if (op[i] < 0)
			return FAIL(c, "output_padding must be non-negative, got %lld", (long long)op[i]);
		int64_t pp;
		if (!ck_mul(st[i], x->d[2 + i].n - 1, &a) || !ck_mul(dil[i], w->d[2 + i].n - 1, &b) ||
			!ck_add(a, b, &a) || !ck_add(a, op[i], &a) || !ck_add(a, 1, &a) ||
			!ck_add(pads[i], pads[s + i], &pp))
			return FAIL(c, "output size overflows");
		a -= pp;
		if (a < 1)
			return FAIL(c, "pads %lld + %lld leave no output along spatial dim %d",
				(long long)pads[i], (long long)pads[s + i], i);
		r->d[2 + i] = sh_dim(a);
	}
	return 0;
}

int shape_pool_rule(const ShapeCtx *c)
{
	c->odt[0] = c->idt[0];
	const Shape *x = &c->ish[0];
	if (x->rank < 0)
		return 0;
	int s = spatial_rank(c, x, "input");
	if (s < 0)
		return -1;
	const int64_t *kv;
	if (ir_attr_ints(c->n, "kernel", &kv) != s)
		return FAIL(c, "kernel must have %d entries, one per spatial dim", s);
	for (int i = 0; i < s; i++)
		if (kv[i] < 1)
			return FAIL(c, "kernel must be positive, got %lld", (long long)kv[i]);
	int64_t st[SP_MAX], pads[2 * SP_MAX], dil[SP_MAX], o[SP_MAX];
	if (window_attrs(c, s, st, pads, dil))
		return -1;
	if (spatial_out(c, s, x, kv, st, pads, dil, ir_attr_int(c->n, "ceil_mode", 0) != 0, o))
		return -1;
	Shape *r = &c->osh[0];
	*r = *x;
	for (int i = 0; i < s; i++)
		r->d[2 + i] = sh_dim(o[i]);
	return 0;
}

int shape_conv_transpose(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }
