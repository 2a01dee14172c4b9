/* grad_conv.c — gradient rules of conv, maxpool and avgpool (ops.def's
 * grad column), in forward ops only:
 *   conv, input:  the transposed convolution of the output adjoint by
 *                 the weights (conv_transpose, same strides, pads,
 *                 dilations, groups) when strided; at stride 1 a conv
 *                 of the re-padded output adjoint with the spatially
 *                 flipped, channel-transposed weights (per group), which
 *                 takes the forward paths (Winograd); the re-padding is
 *                 the conv's own pads where not negative;
 *   conv, weight: a conv whose batch is the input's channels and whose
 *                 kernel is the output adjoint (strides and dilations swap
 *                 roles), cropped to the kernel size;
 *   pooling:      avgpool sends g / count to every window offset, maxpool
 *                 only to the first offset holding the window's maximum
 *                 (PyTorch's choice of one arg-max, found on the strided
 *                 sub-grids of the padded input each offset sees); each
 *                 input position pulls what the windows that see it
 *                 send, so no tensor larger than the padded input is
 *                 made: avgpool by gathers with constant indices, maxpool
 *                 on the phase view [N, C, H/s, s, W/s, s] of the input,
 *                 where each window shift is an affine slice of the
 *                 output grid and each phase's offset a broadcast constant
 *                 (one elementwise kernel, no gathers); windows that tile
 *                 the input (stride = kernel, no padding) send their
 *                 adjoint to the arg-max offset of a [N, C, OH, kh, OW, kw]
 *                 view with one elementwise select.
 * Strided placement is reshape + pad (a dilation), negative padding is a
 * slice (a gather with stepping constant indices). */
#include "grad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int in(const GradCtx *c, int i) { return gr_node(c)->in[i]; }
static Shape shape_of(const GradCtx *c, int v) { return gr_val(c, v)->shape; }

static void ints_or(const Node *n, const char *name, int cnt, int64_t dflt, int64_t *out)
{
	const int64_t *v;
	int k = ir_attr_ints(n, name, &v);
	for (int i = 0; i < cnt; i++)
		out[i] = k == cnt ? v[i] : dflt;
}

/* x with `axis` reversed */
static int flip(GradCtx *c, int x, int axis)
{
	if (c->fail)
		return x;
	int64_t n = shape_of(c, x).d[axis].n;
	if (n == 1)
		return x;
	int64_t *ix = xmalloc((size_t)n * sizeof *ix);
	for (int64_t i = 0; i < n; i++)
		ix[i] = n - 1 - i;
	Shape s = ir_shape_make(1, &n);
	int k = ir_add_const(c->g, "grad.flip", DT_I64, s, ix, (size_t)n * sizeof *ix, false);
	free(ix);
	int nd = gr_begin(c, OP_GATHER, (int[]){x, k}, 2);
	ir_set_int(c->g, nd, "axis", axis);
	return gr_end(c, nd, x);
}

/* conv(x, w), or conv_transpose(x, w) when out_pad is given (its
 * output_padding), with a 2-D window's attributes */
static int conv_op(GradCtx *c, int x, int w, const int64_t *st, const int64_t *pads, const int64_t *dil,
	int64_t group, const int64_t *out_pad)
{
	if (c->fail)
		return x;
	int n = gr_begin(c, out_pad ? OP_CONV_TRANSPOSE : OP_CONV, (int[]){x, w}, 2);
	ir_set_ints(c->g, n, "strides", st, 2);
	ir_set_ints(c->g, n, "pads", pads, 4);
	ir_set_ints(c->g, n, "dilations", dil, 2);
	ir_set_int(c->g, n, "group", group);
	if (out_pad)
		ir_set_ints(c->g, n, "output_padding", out_pad, 2);
	return gr_end(c, n, x);
}

static int conv(GradCtx *c, int x, int w, const int64_t *st, const int64_t *pads, const int64_t *dil,
	int64_t group)
{
	return conv_op(c, x, w, st, pads, dil, group, NULL);
}

static int reshape_to(GradCtx *c, int x, int r, const int64_t *d)
{
	Shape s = ir_shape_make(r, d);
	return gr_reshape(c, x, &s);
}

/* The node's window geometry as 2-D: a 1-D window (rank-3 input) is
 * lifted to height 1 (strides [1, s], pads [0, pb, 0, pe], ...); 3-D
 * windows are reported. */
typedef struct Geo {
	int64_t k[2], st[2], pads[4], dil[2]; /* kernel (pools), strides, pads, dilations */
	bool lift;                            /* a 1-D window lifted to 2-D */
} Geo;

static int geo(GradCtx *c, Geo *g)
{
	const Node *n = gr_node(c);
	int r = shape_of(c, in(c, 0)).rank;
	if (r != 3 && r != 4)
		return diag(c->d, "autodiff: node %d (%s): only 1-D and 2-D windows have a gradient rule "
			"(input has rank %d)", c->node, ir_ops[n->op].name, r);
	g->lift = r == 3;
	int s = r - 2;
	int64_t k[2], st[2], pads[4], dil[2];
	ints_or(n, "kernel", s, 1, k);
	ints_or(n, "strides", s, 1, st);
	ints_or(n, "pads", 2 * s, 0, pads);
	ints_or(n, "dilations", s, 1, dil);
	if (!g->lift) {
		memcpy(g->k, k, sizeof k);
		memcpy(g->st, st, sizeof st);
		memcpy(g->pads, pads, sizeof pads);
		memcpy(g->dil, dil, sizeof dil);
		return 0;
	}
	g->k[0] = g->st[0] = g->dil[0] = 1;
	g->k[1] = k[0];
	g->st[1] = st[0];
	g->dil[1] = dil[0];
	g->pads[0] = g->pads[2] = 0;
	g->pads[1] = pads[0];
	g->pads[3] = pads[1];
	return 0;
}

/* [N, C, L] -> [N, C, 1, L] when lifting */
static int lift(GradCtx *c, const Geo *g, int v)
{
	if (!g->lift || v < 0)
		return v;
	Shape s = shape_of(c, v);
	return reshape_to(c, v, 4, (int64_t[]){s.d[0].n, s.d[1].n, 1, s.d[2].n});
}

/* an adjoint back to the shape of forward value v */
static int unlift(GradCtx *c, const Geo *g, int x, int v)
{
	if (!g->lift || x < 0)
		return x;
	Shape s = shape_of(c, v);
	return gr_reshape(c, x, &s);
}

/* x[starts:ends:steps] on two axes: one slice, an affine move its reader
 * loads in place (steps NULL: 1) */
static int slice2(GradCtx *c, int x, const int64_t *axes, const int64_t *st, const int64_t *en,
		  const int64_t *steps)
{
	if (c->fail)
		return x;
	int n = gr_begin(c, OP_SLICE, (int[]){x}, 1);
	ir_set_ints(c->g, n, "starts", st, 2);
	ir_set_ints(c->g, n, "ends", en, 2);
	ir_set_ints(c->g, n, "axes", axes, 2);
	if (steps)
		ir_set_ints(c->g, n, "steps", steps, 2);
	return gr_end(c, n, x);
}

/* The weight adjoint of a 1x1 conv of one group, unpadded, stride st:
 * dw[k][c] = sum over n and the output positions p of g[n][k][p] *
 * x[n][c][p * st], the per-image products g[n] (K x P) times xs[n]^T (P x
 * C) of the strided sub-grid xs, one batched matmul, summed over the
 * images; or, where those N x K x C products outweigh both operands
 * ((K + C) x N x P: ResNet-18's last downsample, 4 MB against 1.2),
 * one matmul of the operands with the images moved next to the
 * positions, [K, N P] times [C, N P]^T. The general rule's conv (batch =
 * x's channels, kernel = g) took transposed and cropped copies of both
 * operands and an im2col of one tap: ResNet-18's downsamples 3.2 ms of
 * a step, this 2.3. */
static int conv1x1_wgrad(GradCtx *c, int x, int g, const int64_t *st)
{
	Shape xs = shape_of(c, x), gs = shape_of(c, g);
	int64_t N = xs.d[0].n, C = xs.d[1].n, H = xs.d[2].n, W = xs.d[3].n;
	int64_t K = gs.d[1].n, OH = gs.d[2].n, OW = gs.d[3].n;
	if (st[0] > 1 || st[1] > 1 || OH != H || OW != W)
		x = slice2(c, x, (int64_t[]){2, 3}, (int64_t[]){0, 0},
			   (int64_t[]){(OH - 1) * st[0] + 1, (OW - 1) * st[1] + 1}, st);
	int64_t P = OH * OW;
	x = reshape_to(c, x, 3, (int64_t[]){N, C, P});
	g = reshape_to(c, g, 3, (int64_t[]){N, K, P});
	int dw;
	if (N > 1 && K * C > (K + C) * P) {
		x = reshape_to(c, gr_transpose(c, x, (int64_t[]){1, 0, 2}, 3), 2, (int64_t[]){C, N * P});
		g = reshape_to(c, gr_transpose(c, g, (int64_t[]){1, 0, 2}, 3), 2, (int64_t[]){K, N * P});
		dw = gr_mm(c, g, x, 0, 1); /* [K, C] */
	} else {
		dw = gr_mm(c, g, x, 0, 1); /* [N, K, C] */
		if (N > 1)
			dw = gr_reduce(c, OP_REDUCE_SUM, dw, (int64_t[]){0}, 1, 0);
	}
	return reshape_to(c, dw, 4, (int64_t[]){K, C, 1, 1});
}

/* The weight adjoint of y = conv(x, w) {st, pads, dil, G} given y's
 * adjoint g: a conv whose batch is x's channels and whose kernel is g,
 * strides and dilations swapped, cropped to w's kernel. */
static int conv_wgrad(GradCtx *c, int x, int g, const Shape *ws, const int64_t *st,
	const int64_t *pads, const int64_t *dil, int64_t G)
{
	Shape xs = shape_of(c, x);
	int64_t N = xs.d[0].n, H = xs.d[2].n, W = xs.d[3].n;
	int64_t Cg = ws->d[1].n, KH = ws->d[2].n, KW = ws->d[3].n;
	/* x [N, G*Cg, H, W] -> [Cg, G*N, H, W]; g [N, K, OH, OW] -> [K, N, OH, OW] */
	int xt = reshape_to(c, x, 5, (int64_t[]){N, G, Cg, H, W});
	xt = gr_transpose(c, xt, (int64_t[]){2, 1, 0, 3, 4}, 5);
	xt = reshape_to(c, xt, 4, (int64_t[]){Cg, G * N, H, W});
	int gt = gr_transpose(c, g, (int64_t[]){1, 0, 2, 3}, 4);
	/* the end pads that leave exactly KH x KW outputs: the forward
	 * conv's last windows may stop short of the padded input's end (a
	 * stride-2 3x3 conv on 56 rows, pad 1: 4 rows of taps computed for
	 * 3, 16/9 the work; a stride-2 1x1 downsample 4 times), and the
	 * rows past them only fed the crop; where that end would be
	 * negative, x's rows past the last window go (a slice, which joins
	 * the transpose's copy) */
	Shape gs = shape_of(c, g);
	int64_t wp[4] = {pads[0], pads[1], pads[2], pads[3]};
	for (int a = 0; a < 2; a++) {
		int64_t in = a ? W : H, k = a ? KW : KH, o = gs.d[2 + a].n;
		int64_t end = dil[a] * (k - 1) + 1 + st[a] * (o - 1) - in - pads[a];
		if (end >= pads[2 + a] || in + end <= 0)
			continue;
		wp[2 + a] = end > 0 ? end : 0;
		if (end < 0)
			xt = gr_slice(c, xt, 2 + a, 0, in + end);
	}
	int dw = conv(c, xt, gt, dil, wp, st, G); /* [Cg, K, KH', KW'] */
	dw = gr_slice(c, gr_slice(c, dw, 2, 0, KH), 3, 0, KW);
	return gr_transpose(c, dw, (int64_t[]){1, 0, 2, 3}, 4);
}

/* y = conv_transpose(x, w): x's adjoint is conv(g, w) with the same
 * geometry (conv is its adjoint); w's is conv's weight adjoint with the
 * roles of input and output swapped. */
int gr_conv_transpose(GradCtx *c, const int *gout, int *gin)
{
	Geo q;
	if (geo(c, &q) < 0)
		return -1;
	int x = lift(c, &q, in(c, 0)), w = lift(c, &q, in(c, 1)), g = lift(c, &q, gout[0]);
	const Node *n = gr_node(c); /* after lifting: adding nodes moves them */
	int64_t *st = q.st, *pads = q.pads, *dil = q.dil, G = ir_attr_int(n, "group", 1);
	bool bias = n->nin > 2 && c->need[2];
	Shape ws = shape_of(c, w);
	if (c->need[0])
		gin[0] = unlift(c, &q, conv(c, g, w, st, pads, dil, G), in(c, 0));
	if (c->need[1])
		gin[1] = unlift(c, &q, conv_wgrad(c, g, x, &ws, st, pads, dil, G), in(c, 1));
	if (bias)
		gin[2] = gr_reduce(c, OP_REDUCE_SUM, g, (int64_t[]){0, 2, 3}, 3, 0);
	return 0;
}

/* gr_place(c, g, axis, s, off, len) as the input-gradient conv will see it:
 * when off >= 0 and the stride-dilated g (g's extent d times s) fits in
 * len after it, only the dilation is materialized (nothing at all when s
 * is 1) and the zeros before and after become the conv's own pads
 * (pads[0], pads[2]: begin and end along this axis), which im2col writes
 * anyway; else the full placement with pads left 0. */
static int place_padded(GradCtx *c, int g, int axis, int64_t s, int64_t off, int64_t len, int64_t *pads)
{
	int64_t d = shape_of(c, g).d[axis].n, end = len - off - d * s;
	if (off < 0 || end < 0)
		return gr_place(c, g, axis, s, off, len);
	pads[0] = off;
	pads[2] = end;
	return s > 1 ? gr_place(c, g, axis, s, 0, d * s) : g;
}

/* g [N, C, OH, OW] placed at rows o * s0 + off0 and columns o * s1 + off1
 * of an [N, C, H, W] result, zeros elsewhere: one pad of the [N, C, OH, 1,
 * OW, 1] view (a kernel whose loop stores each row's phases interleaved,
 * not one pad per axis), then, where that grid does not already span
 * [0, H) x [0, W), its rows and columns shifted into place (gr_place). */
static int place2d(GradCtx *c, int g, const int64_t *s, const int64_t *off, int64_t H, int64_t W)
{
	Shape gs = shape_of(c, g);
	int64_t N = gs.d[0].n, C = gs.d[1].n, OH = gs.d[2].n, OW = gs.d[3].n;
	int64_t i0 = ((off[0] % s[0]) + s[0]) % s[0], i1 = ((off[1] % s[1]) + s[1]) % s[1];
	int v = reshape_to(c, g, 6, (int64_t[]){N, C, OH, 1, OW, 1});
	int64_t pads[12] = {0, 0, 0, i0, 0, i1, 0, 0, 0, s[0] - 1 - i0, 0, s[1] - 1 - i1};
	v = reshape_to(c, gr_padded(c, v, pads, 0), 4, (int64_t[]){N, C, OH * s[0], OW * s[1]});
	v = gr_place(c, v, 2, 1, off[0] - i0, H); /* element o now at o * s + i */
	return gr_place(c, v, 3, 1, off[1] - i1, W);
}

int gr_conv(GradCtx *c, const int *gout, int *gin)
{
	Geo q;
	if (geo(c, &q) < 0)
		return -1;
	int x = lift(c, &q, in(c, 0)), w = lift(c, &q, in(c, 1)), g = lift(c, &q, gout[0]);
	const Node *n = gr_node(c); /* after lifting: adding nodes moves them */
	int64_t *st = q.st, *pads = q.pads, *dil = q.dil, G = ir_attr_int(n, "group", 1);
	bool bias = n->nin > 2 && c->need[2];
	Shape xs = shape_of(c, x), ws = shape_of(c, w);
	int64_t C = xs.d[1].n, H = xs.d[2].n, W = xs.d[3].n;
	int64_t K = ws.d[0].n, Cg = ws.d[1].n, KH = ws.d[2].n, KW = ws.d[3].n, Kg = K / G;
	static const int64_t one[2] = {1, 1}, none[4] = {0, 0, 0, 0};
	if (c->need[0] && (st[0] > 1 || st[1] > 1) && KH == 1 && KW == 1) {
		/* a strided 1x1 (ResNet's downsample): the 1x1 conv of g by the
		 * transposed weights on the output grid, then placed at the
		 * stride (every product lands; the transposed convolution's
		 * col2im zeroed and scattered the whole input instead) */
		int wt = reshape_to(c, w, 5, (int64_t[]){G, Kg, Cg, 1, 1});
		wt = gr_transpose(c, wt, (int64_t[]){0, 2, 1, 3, 4}, 5);
		wt = reshape_to(c, wt, 4, (int64_t[]){C, Kg, 1, 1});
		int d = conv(c, g, wt, one, none, one, G);
		gin[0] = unlift(c, &q, place2d(c, d, st, (int64_t[]){-pads[0], -pads[1]}, H, W), in(c, 0));
	} else if (c->need[0] && (st[0] > 1 || st[1] > 1)) {
		/* strided: the transposed convolution of g by w itself (the
		 * conv over the stride-dilated g multiplied zeros: 3 of every
		 * 4 products at stride 2); output_padding restores the rows
		 * and columns past the last window */
		Shape gs = shape_of(c, g);
		int64_t op[2];
		for (int a = 0; a < 2; a++)
			op[a] = (a ? W : H) - 1 - (gs.d[2 + a].n - 1) * st[a] - dil[a] * ((a ? KW : KH) - 1) +
				pads[a] + pads[2 + a];
		gin[0] = unlift(c, &q, conv_op(c, g, w, st, pads, dil, G, op), in(c, 0));
	} else if (c->need[0]) {
		/* weights [K, Cg, kh, kw] -> [G, Kg, Cg, ..] -> [G, Cg, Kg, ..] -> [C, Kg, ..], flipped */
		int wt = reshape_to(c, w, 5, (int64_t[]){G, Kg, Cg, KH, KW});
		wt = gr_transpose(c, wt, (int64_t[]){0, 2, 1, 3, 4}, 5);
		/* both window axes flipped: the reversed flattened window, one
		 * gather (two would materialize the first) */
		wt = reshape_to(c, wt, 3, (int64_t[]){C, Kg, KH * KW});
		wt = reshape_to(c, flip(c, wt, 2), 4, (int64_t[]){C, Kg, KH, KW});
		int64_t ip[4] = {0, 0, 0, 0}; /* the input-gradient conv's own pads */
		int gd = place_padded(c, g, 2, st[0], dil[0] * (KH - 1) - pads[0], H + dil[0] * (KH - 1), ip);
		gd = place_padded(c, gd, 3, st[1], dil[1] * (KW - 1) - pads[1], W + dil[1] * (KW - 1), ip + 1);
		gin[0] = unlift(c, &q, conv(c, gd, wt, one, ip, dil, G), in(c, 0));
	}
	if (c->need[1] && G == 1 && KH == 1 && KW == 1 && !pads[0] && !pads[1] && !pads[2] && !pads[3])
		gin[1] = unlift(c, &q, conv1x1_wgrad(c, x, g, st), in(c, 1));
	else if (c->need[1])
		gin[1] = unlift(c, &q, conv_wgrad(c, x, g, &ws, st, pads, dil, G), in(c, 1));
	if (bias)
		gin[2] = gr_reduce(c, OP_REDUCE_SUM, g, (int64_t[]){0, 2, 3}, 3, 0);
	return 0;
}

/* The pooling geometry of the node. */
typedef struct Pool {
	int64_t k[2], st[2], pads[4], dil[2]; /* as the attributes */
	int64_t in[2], out[2];                /* H, W and OH, OW */
	int64_t ext[2];                       /* padded extent covering every window */
} Pool;

/* geometry of the (lifted) input x and output y */
static void pool_geom(const GradCtx *c, const Geo *q, int x, int y, Pool *p)
{
	memcpy(p->k, q->k, sizeof p->k);
	memcpy(p->st, q->st, sizeof p->st);
	memcpy(p->pads, q->pads, sizeof p->pads);
	memcpy(p->dil, q->dil, sizeof p->dil);
	Shape xs = shape_of(c, x), ys = shape_of(c, y);
	for (int a = 0; a < 2; a++) {
		p->in[a] = xs.d[2 + a].n;
		p->out[a] = ys.d[2 + a].n;
		int64_t need = (p->out[a] - 1) * p->st[a] + (p->k[a] - 1) * p->dil[a] + 1;
		int64_t have = p->in[a] + p->pads[a] + p->pads[2 + a];
		p->ext[a] = need > have ? need : have;
	}
}

/* The sub-grid xp[:, :, o*s + i*d, ..] of the padded input for offset
 * (i, j): a strided slice, which its reader loads in place (affine, the
 * pad folded into the loads) */
static int window(GradCtx *c, int xp, const Pool *p, int64_t i, int64_t j)
{
	int64_t st[2] = {i * p->dil[0], j * p->dil[1]};
	int64_t en[2] = {st[0] + (p->out[0] - 1) * p->st[0] + 1, st[1] + (p->out[1] - 1) * p->st[1] + 1};
	return slice2(c, xp, (int64_t[]){2, 3}, st, en, p->st);
}

/* The source of one window offset along axis a: for each input position h,
 * the output o whose window sees h at offset i (o * s + i * d == h + pad),
 * or out (the sentinel row) where there is none; into src[in[a]]. */
static void source(const Pool *p, int a, int64_t i, int64_t *src)
{
	for (int64_t h = 0; h < p->in[a]; h++) {
		int64_t r = h + p->pads[a] - i * p->dil[a];
		src[h] = r >= 0 && r % p->st[a] == 0 && r / p->st[a] < p->out[a] ? r / p->st[a] : p->out[a];
	}
}

/* t[:, :, src[h], ..] along axis 2 + a: the output-grid tensor t (with its
 * sentinel row) read back onto the input grid for window offset i. */
static int pull(GradCtx *c, int t, const Pool *p, int a, int64_t i)
{
	if (c->fail)
		return t;
	int64_t m = p->in[a];
	int64_t *ix = xmalloc((size_t)m * sizeof *ix);
	source(p, a, i, ix);
	Shape s = ir_shape_make(1, &m);
	int src = ir_add_const(c->g, "grad.src", DT_I64, s, ix, (size_t)m * sizeof *ix, false);
	free(ix);
	int nd = gr_begin(c, OP_GATHER, (int[]){t, src}, 2);
	ir_set_int(c->g, nd, "axis", 2 + a);
	return gr_end(c, nd, t);
}

/* t with one row and one column of v appended on the spatial axes (the
 * sentinel `source` points at) */
static int sentinel(GradCtx *c, int t, double v)
{
	int64_t pads[8] = {0, 0, 0, 0, 0, 0, 1, 1};
	return gr_padded(c, t, pads, v);
}

/* Windows that tile the input: stride == kernel, no padding, no dilation,
 * every input row and column inside exactly one window. */
static bool tiled(const Pool *p)
{
	for (int a = 0; a < 2; a++)
		if (p->st[a] != p->k[a] || p->dil[a] != 1 || p->pads[a] || p->pads[2 + a] ||
			p->in[a] != p->out[a] * p->k[a])
			return false;
	return true;
}

/* The max-pool adjoint of tiled windows, on the view [N, C, OH, kh, OW, kw]
 * of the input: offset (i, j) of window (a, b) gets g[a, b] where it is
 * the window's arg-max offset arg[a, b], else 0 — one affine
 * elementwise kernel instead of a gather per window offset. */
static int tiled_adjoint(GradCtx *c, const Pool *p, int arg, int g, DType t)
{
	Shape xs = shape_of(c, arg);
	int64_t N = xs.d[0].n, C = xs.d[1].n, OH = p->out[0], OW = p->out[1], kh = p->k[0], kw = p->k[1];
	int64_t d6[6] = {N, C, OH, 1, OW, 1}, dk[3] = {kh, 1, kw};
	Shape ks = ir_shape_make(3, dk);
	DType at = gr_val(c, arg)->dtype;
	int k = gr_full(c, at, &ks, 0);
	for (int64_t i = 0; i < kh * kw; i++) /* offset (i / kw, i % kw) holds i */
		ir_elem_put(at, (char *)c->g->val[k].data + (size_t)i * ir_dtype_size(at), (double)i);
	int hit = gr_bin(c, OP_EQUAL, reshape_to(c, arg, 6, d6), k);
	int dx = gr_where(c, hit, reshape_to(c, g, 6, d6), gr_scalar(c, t, 0));
	return reshape_to(c, dx, 4, (int64_t[]){N, C, p->in[0], p->in[1]});
}

/* The window shifts of one axis in the phase form of the adjoint: input
 * position h = s * a + ph (phase ph in [0, s)) is seen by window a + t at
 * offset i where i * d == ph + pad - s * t, 0 <= i < k. The shifts run
 * from *t0 to *t0 + n - 1 (n returned; increasing, so the windows in
 * increasing order; with a dilation past the stride, some of them no
 * phase sees); *off (allocated) holds, at (t - *t0) * s + ph, that
 * offset i or -1. */
static int shifts(const Pool *p, int a, int64_t *t0, int64_t **off)
{
	int64_t s = p->st[a], d = p->dil[a], k = p->k[a], pb = p->pads[a];
	int64_t lo = 0, hi = -1;
	for (int64_t ph = 0; ph < s; ph++)
		for (int64_t i = 0; i < k; i++) {
			int64_t r = ph + pb - i * d; /* s * t */
			if (r % s)
				continue;
			if (hi < lo)
				lo = hi = r / s;
			lo = r / s < lo ? r / s : lo, hi = r / s > hi ? r / s : hi;
		}
	int n = hi < lo ? 0 : (int)(hi - lo + 1);
	*off = xmalloc((size_t)(n * s + 1) * sizeof **off);
	for (int64_t t = lo; t <= hi; t++)
		for (int64_t ph = 0; ph < s; ph++) {
			int64_t r = ph + pb - s * t, i = r >= 0 && r % d == 0 ? r / d : -1;
			(*off)[(t - lo) * s + ph] = i < k ? i : -1;
		}
	*t0 = lo;
	return n;
}

/* x[:, :, a0:a0+A, :, b0:b0+B, :] of a 6-D [N, C, ., 1, ., 1] view */
static int phase_slice(GradCtx *c, int x, int64_t a0, int64_t A, int64_t b0, int64_t B)
{
	return slice2(c, x, (int64_t[]){2, 4}, (int64_t[]){a0, b0}, (int64_t[]){a0 + A, b0 + B}, NULL);
}

/* The max-pool adjoint in phase form: the input grid seen as [N, C, A,
 * sh, B, sw] (rows s*a + ph, columns s*b + pw, padded up to whole
 * strides), each input position pulls, from every window shift (t, u)
 * that sees its phase, g[a + t, b + u] where the window's arg-max is the
 * offset that sees it: a compare with a [sh, 1, sw] constant of offsets
 * (never-matching where a phase is not seen) and a select, both read at
 * affine positions of the padded arg-max and adjoint (shifts past either
 * end read the sentinels none and 0). One elementwise kernel without
 * gathers; the terms in increasing window order. */
static int phase_adjoint(GradCtx *c, const Pool *p, int arg, int g, double none, double never)
{
	DType at = gr_val(c, arg)->dtype, t = gr_val(c, g)->dtype;
	Shape gs = shape_of(c, g);
	int64_t N = gs.d[0].n, C = gs.d[1].n, sh = p->st[0], sw = p->st[1];
	int64_t A = (p->in[0] + sh - 1) / sh, B = (p->in[1] + sw - 1) / sw;
	int64_t t0[2], *off[2];
	int nt = shifts(p, 0, &t0[0], &off[0]), nu = shifts(p, 1, &t0[1], &off[1]);
	/* sentinel rows: window a + t for a in [0, A) and every shift */
	int64_t f[2] = {t0[0] < 0 ? -t0[0] : 0, t0[1] < 0 ? -t0[1] : 0};
	int64_t e[2] = {A + t0[0] + nt - 1 - p->out[0], B + t0[1] + nu - 1 - p->out[1]};
	int64_t pads[8] = {0, 0, f[0], f[1], 0, 0, e[0] > 0 ? e[0] : 0, e[1] > 0 ? e[1] : 0};
	int64_t R = p->out[0] + pads[2] + pads[6], S = p->out[1] + pads[3] + pads[7];
	int a6 = reshape_to(c, gr_padded(c, arg, pads, none), 6, (int64_t[]){N, C, R, 1, S, 1});
	int g6 = reshape_to(c, gr_padded(c, g, pads, 0), 6, (int64_t[]){N, C, R, 1, S, 1});
	Shape ws = ir_shape_make(3, (int64_t[]){sh, 1, sw});
	int acc = -1;
	for (int ti = 0; ti < nt && !c->fail; ti++)
		for (int ui = 0; ui < nu && !c->fail; ui++) {
			char *wd = xmalloc((size_t)(sh * sw) * ir_dtype_size(at));
			for (int64_t m = 0; m < sh * sw; m++)
				ir_elem_put(at, wd + (size_t)m * ir_dtype_size(at), never);
			bool any = false;
			for (int64_t ph = 0; ph < sh; ph++)
				for (int64_t pw = 0; pw < sw; pw++) {
					int64_t i = off[0][ti * sh + ph], j = off[1][ui * sw + pw];
					if (i < 0 || j < 0)
						continue;
					any = true;
					ir_elem_put(at, wd + (size_t)(ph * sw + pw) * ir_dtype_size(at), (double)(i * p->k[1] + j));
				}
			int want = any ? ir_add_const(c->g, "grad.off", at, ws, wd, (size_t)(sh * sw) * ir_dtype_size(at), false) : -1;
			free(wd);
			if (!any)
				continue;
			int64_t r0 = t0[0] + ti + f[0], c0 = t0[1] + ui + f[1];
			int here = gr_bin(c, OP_EQUAL, phase_slice(c, a6, r0, A, c0, B), want);
			int part = gr_where(c, here, phase_slice(c, g6, r0, A, c0, B), gr_scalar(c, t, 0));
			acc = acc < 0 ? part : gr_bin(c, OP_ADD, acc, part);
		}
	free(off[0]), free(off[1]);
	if (acc < 0) { /* no window sees any input */
		Shape zs = ir_shape_make(6, (int64_t[]){N, C, A, sh, B, sw});
		acc = gr_full(c, t, &zs, 0);
	}
	int dx = reshape_to(c, acc, 4, (int64_t[]){N, C, A * sh, B * sw});
	if (A * sh == p->in[0] && B * sw == p->in[1])
		return dx;
	/* the whole strides' rows past the input */
	return slice2(c, dx, (int64_t[]){2, 3}, (int64_t[]){0, 0}, p->in, NULL);
}

enum { ARG_NONE = 255 }; /* a byte arg-max's "no window" (the sentinel row) */

/* A pooling adjoint pulls rather than pushes: each input position reads
 * the adjoints of the (at most ceil(k / s) per axis) windows that see it,
 * so every term is a read of an output-grid buffer and the sum of the
 * terms is one input-size kernel; no tensor larger than the padded input
 * is made. */
int gr_maxpool(GradCtx *c, const int *gout, int *gin)
{
	Geo q;
	if (geo(c, &q) < 0)
		return -1;
	int x = lift(c, &q, in(c, 0)), y = lift(c, &q, gr_node(c)->out[0]), g = lift(c, &q, gout[0]);
	Pool p;
	pool_geom(c, &q, x, y, &p);
	DType t = gr_val(c, x)->dtype;
	int64_t pads[8] = {0, 0, p.pads[0], p.pads[1], 0, 0, p.ext[0] - p.in[0] - p.pads[0],
		p.ext[1] - p.in[1] - p.pads[1]};
	int xp = gr_padded(c, x, pads, -INFINITY);
	/* arg[o]: the row-major offset k = i * kw + j of the first maximum of
	 * window o (PyTorch's choice on ties), a byte where every offset and
	 * NONE fit (the value the backward pass keeps, a quarter of an f32's
	 * bytes; it moves to the forward pass, passes/remat.c), else f32
	 * (exact): the last offset's test first, so an earlier maximum
	 * overrides a later one */
	int64_t kk = p.k[0] * p.k[1];
	DType at = kk <= ARG_NONE - 1 ? DT_U8 : DT_F32;
	double none = at == DT_U8 ? ARG_NONE : -1, never = at == DT_U8 ? ARG_NONE - 1 : -2;
	int arg = gr_scalar(c, at, none);
	for (int64_t k = kk - 1; k >= 0; k--) {
		int hit = gr_bin(c, OP_EQUAL, window(c, xp, &p, k / p.k[1], k % p.k[1]), y);
		arg = gr_where(c, hit, gr_scalar(c, at, (double)k), arg);
	}
	if (tiled(&p)) { /* each input in exactly one window: no pulls */
		gin[0] = unlift(c, &q, tiled_adjoint(c, &p, arg, g, t), in(c, 0));
		return 0;
	}
	gin[0] = unlift(c, &q, phase_adjoint(c, &p, arg, g, none, never), in(c, 0));
	return 0;
}

int gr_avgpool(GradCtx *c, const int *gout, int *gin)
{
	Geo q;
	if (geo(c, &q) < 0)
		return -1;
	int x = lift(c, &q, in(c, 0)), g = lift(c, &q, gout[0]);
	Pool p;
	pool_geom(c, &q, x, lift(c, &q, gr_node(c)->out[0]), &p);
	DType t = gr_val(c, x)->dtype;
	bool cip = ir_attr_int(gr_node(c), "count_include_pad", 0) != 0;
	/* the divisor of each output position, as ir/eval_nn.c counts it */
	int64_t *cnt[2] = {xcalloc((size_t)p.out[0] + 1, 8), xcalloc((size_t)p.out[1] + 1, 8)};
	for (int a = 0; a < 2; a++)
		for (int64_t o = 0; o < p.out[a]; o++) {
			cnt[a][o] = 0;
			for (int64_t i = 0; i < p.k[a]; i++) {
				int64_t h = o * p.st[a] - p.pads[a] + i * p.dil[a];
				cnt[a][o] += cip ? h < p.in[a] + p.pads[2 + a] : h >= 0 && h < p.in[a];
			}
		}
	Shape s = ir_shape_make(2, p.out);
	int inv = gr_full(c, t, &s, 0);
	size_t sz = ir_dtype_size(t);
	for (int64_t oh = 0; oh < p.out[0]; oh++)
		for (int64_t ow = 0; ow < p.out[1]; ow++)
			ir_elem_put(t, (char *)c->g->val[inv].data + (size_t)(oh * p.out[1] + ow) * sz,
				1.0 / (double)(cnt[0][oh] * cnt[1][ow]));
	free(cnt[0]);
	free(cnt[1]);
	/* every offset gets g / count: separable, pulled along H (to
	 * [N, C, H, OW + 1]), then along W */
	int gs = sentinel(c, gr_bin(c, OP_MUL, g, inv), 0);
	int row = -1, acc = -1;
	for (int64_t i = 0; i < p.k[0]; i++) {
		int part = pull(c, gs, &p, 0, i);
		row = row < 0 ? part : gr_bin(c, OP_ADD, row, part);
	}
	for (int64_t j = 0; j < p.k[1]; j++) {
		int part = pull(c, row, &p, 1, j);
		acc = acc < 0 ? part : gr_bin(c, OP_ADD, acc, part);
	}
	gin[0] = unlift(c, &q, acc, in(c, 0));
	return 0;
}
