/* lower_conv.c — lowering of the convolutions the 2-D library call does
 * not cover: 3-D conv and conv_transpose over 1, 2 or 3 spatial dims.
 * Both become one KK_CONV2D kernel with conv.nd set (the runtime's
 * nncc_rt_convnd_f32: im2col + GEMM forward, GEMM + col2im transposed),
 * f32 only, with a fusable epilogue like conv's. 1-D and 2-D windows are
 * seen as 3-D with leading extents 1. */
#include <string.h>

#include "lower.h"
#include "../runtime/abi.h"

/* Reads an ints attribute of s values (dflt when absent) into the last s
 * of out[3], the others set to fill. */
static int attr3(Lower *L, int node, const char *name, int s, int64_t dflt, int64_t fill, int64_t *out)
{
	const int64_t *v;
	int n = ir_attr_ints(&L->g->node[node], name, &v);
	if (n >= 0 && n != s)
		return lw_err(L, node, "%s has %d values, expected %d", name, n, s);
	for (int i = 0; i < 3; i++)
		out[i] = i < 3 - s ? fill : n < 0 ? dflt : v[i - (3 - s)];
	return 0;
}

static int lower_nd(Lower *L, int node, bool transpose)
{
	const Node *n = &L->g->node[node];
	const Shape *x = &lw_in(L, node, 0)->shape, *w = &lw_in(L, node, 1)->shape;
	const Value *y = lw_out(L, node);
	const char *what = transpose ? "conv_transpose" : "conv";
	if (y->dtype != DT_F32)
		return lw_err(L, node, "cannot lower %s for %s: unsupported dtype", what, ir_dtype_name(y->dtype));
	int r = x->rank, s = r - 2;
	if (r < 3 || r > 5 || w->rank != r || y->shape.rank != r)
		return lw_err(L, node, "cannot lower %s over rank %d (1-D, 2-D and 3-D windows)", what, r);
	int64_t st[3], dil[3], pb[3], pads[6], in[3], out[3], kern[3];
	if (attr3(L, node, "strides", s, 1, 1, st) < 0 || attr3(L, node, "dilations", s, 1, 1, dil) < 0)
		return -1;
	const int64_t *pv;
	int np = ir_attr_ints(n, "pads", &pv);
	if (np >= 0 && np != 2 * s)
		return lw_err(L, node, "pads has %d values, expected %d", np, 2 * s);
	for (int i = 0; i < 2 * s; i++)
		pads[i] = np < 0 ? 0 : pv[i];
	for (int i = 0; i < 3; i++) {
		int j = i - (3 - s);
		pb[i] = j >= 0 ? pads[j] : 0;
		in[i] = j >= 0 ? x->d[2 + j].n : 1;
		out[i] = j >= 0 ? y->shape.d[2 + j].n : 1;
		kern[i] = j >= 0 ? w->d[2 + j].n : 1;
		if (st[i] < 1 || dil[i] < 1 || pb[i] < 0)
			return lw_err(L, node, "bad window attributes");
	}
	int64_t group = ir_attr_int(n, "group", 1);
	int64_t c = x->d[1].n, kout = y->shape.d[1].n;
	int64_t wc = transpose ? w->d[0].n : w->d[1].n * group;
	if (group < 1 || c % group != 0 || kout % group != 0 || wc != c ||
	    (transpose ? w->d[1].n * group : w->d[0].n) != kout)
		return lw_err(L, node, "group %lld does not fit %lld input and %lld output channels",
			      (long long)group, (long long)c, (long long)kout);
	/* im2col rows (C/G)*kvol x output positions; col2im rows (K/G)*kvol x input positions */
	int64_t kvol = lw_mul(L, lw_mul(L, kern[0], kern[1]), kern[2]);
	int64_t rows = lw_mul(L, transpose ? kout / group : c / group, kvol);
	int64_t cols = transpose ? lw_mul(L, lw_mul(L, in[0], in[1]), in[2])
				 : lw_mul(L, lw_mul(L, out[0], out[1]), out[2]);
	int scratch = -1;
	int64_t sz = lw_mul(L, rows, cols);
	/* transposed: blocks of images, their inputs side by side
	 * (nncc_abi_convt_scratch, at most (rows + C/G) x (cols + 512)) */
	if (transpose) {
		lw_mul(L, lw_add(L, rows, c / group), lw_add(L, cols, 512)); /* sets L->ovf past int64 */
		if (!L->ovf)
			sz = nncc_abi_convt_scratch(x->d[0].n, c / group, rows, cols);
	}
	if (L->ovf || (scratch = lw_temp(L, DT_F32, sz, -1)) < 0 || L->ovf)
		return lw_err(L, node, "%s scratch size overflows", what);
	int bias = n->nin > 2 && n->in[2] >= 0 ? lw_inbuf(L, node, 2) : -1;
	if (bias >= 0 && ir_shape_numel(&lw_in(L, node, 2)->shape) != kout)
		return lw_err(L, node, "bias must have %lld elements", (long long)kout);
	Kernel *k = lw_kernel(L, node, KK_CONV2D);
	k->conv.x = lw_inbuf(L, node, 0);
	k->conv.wt = lw_inbuf(L, node, 1);
	k->conv.bias = bias;
	k->conv.y = lw_outbuf(L, node);
	k->conv.scratch = scratch;
	k->conv.nd = 1;
	k->conv.transpose = transpose;
	k->conv.n = x->d[0].n;
	k->conv.c = c;
	k->conv.k = kout;
	k->conv.group = group;
	k->conv.d = in[0], k->conv.h = in[1], k->conv.w = in[2];
	k->conv.od = out[0], k->conv.oh = out[1], k->conv.ow = out[2];
	k->conv.kd = kern[0], k->conv.kh = kern[1], k->conv.kw = kern[2];
	k->conv.sd = st[0], k->conv.sh = st[1], k->conv.sw = st[2];
	k->conv.pd = pb[0], k->conv.ph = pb[1], k->conv.pw = pb[2];
	k->conv.dd = dil[0], k->conv.dh = dil[1], k->conv.dw = dil[2];
	return 0;
}

int lw_conv_nd(Lower *L, int node) { return lower_nd(L, node, false); }
int lw_conv_transpose(Lower *L, int node) { return lower_nd(L, node, true); }
