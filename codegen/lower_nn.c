/* lower_nn.c — lowering of contractions and windows: matmul (KK_MATMUL for
 * f32, else a loop with a sum over k), conv (KK_CONV2D, f32 only, 1-D conv
 * as 2-D with height 1) and max/avg pooling over any number of spatial dims
 * (a loop over the output with reduction vars over the window and guarded
 * loads for the padding; a pool whose windows never leave the input reads
 * a fused producer inline through lw_value_at). Output sizes come from the
 * inferred output shape, so ceil_mode and end pads need no separate
 * handling here. */
#include <math.h>
#include <string.h>

#include "lower.h"
#include "../runtime/abi.h"

/* --- matmul ---------------------------------------------------------------- */

typedef struct MatDims {
	int nb;                 /* batch dims of the output */
	int64_t bext[IR_MAX_RANK]; /* batch extents */
	int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], sc[IR_MAX_RANK]; /* per-batch-dim offsets */
	int64_t m, n, k;         /* C is m x n, contracted over k */
	int ta, tb;             /* transpose flags, 0 for 1-D operands */
	bool a1, b1;            /* operand was 1-D (no m / no n dim in the output) */
} MatDims;

/* Element offsets per batch dim of operand x broadcast to nb batch dims. */
static void batch_strides(const Shape *x, int nb, int64_t *s)
{
	int64_t st[IR_MAX_RANK];
	lw_strides(x, st);
	int xb = x->rank > 2 ? x->rank - 2 : 0;
	for (int j = 0; j < nb; j++) {
		int jx = j - (nb - xb);
		s[j] = jx >= 0 && x->d[jx].n != 1 ? st[jx] : 0;
	}
}

static int mat_dims(Lower *L, int node, MatDims *md)
{
	const Node *n = &L->g->node[node];
	const Shape *a = &lw_in(L, node, 0)->shape, *b = &lw_in(L, node, 1)->shape;
	const Shape *y = &lw_out(L, node)->shape;
	int ra = a->rank, rb = b->rank;
	memset(md, 0, sizeof *md);
	if (ra < 1 || rb < 1)
		return lw_err(L, node, "matmul operands must have rank >= 1");
	md->ta = ir_attr_int(n, "trans_a", 0) != 0;
	md->tb = ir_attr_int(n, "trans_b", 0) != 0;
	md->a1 = ra == 1;
	md->b1 = rb == 1;
	int64_t k2;
	if (md->a1) {
		md->m = 1;
		md->k = a->d[0].n;
		md->ta = 0;
	} else {
		md->m = a->d[ra - 2 + md->ta].n;
		md->k = a->d[ra - 1 - md->ta].n;
	}
	if (md->b1) {
		k2 = b->d[0].n;
		md->n = 1;
		md->tb = 0;
	} else {
		k2 = b->d[rb - 2 + md->tb].n;
		md->n = b->d[rb - 1 - md->tb].n;
	}
	if (k2 != md->k)
		return lw_err(L, node, "inner dimensions differ (%lld vs %lld)", (long long)md->k, (long long)k2);
	int nba = ra > 2 ? ra - 2 : 0, nbb = rb > 2 ? rb - 2 : 0;
	md->nb = nba > nbb ? nba : nbb;
	if (y->rank != md->nb + !md->a1 + !md->b1)
		return lw_err(L, node, "output rank %d does not match operands", y->rank);
	for (int j = 0; j < md->nb; j++)
		md->bext[j] = y->d[j].n;
	batch_strides(a, md->nb, md->sa);
	batch_strides(b, md->nb, md->sb);
	int64_t s = lw_mul(L, md->m, md->n);
	for (int j = md->nb - 1; j >= 0; j--) {
		md->sc[j] = s;
		s = lw_mul(L, s, md->bext[j]);
	}
	return 0;
}

int lw_matmul(Lower *L, int node)
{
	const Value *y = lw_out(L, node);
	DType t = y->dtype;
	MatDims md;
	if (mat_dims(L, node, &md) < 0)
		return -1;
	int ba = lw_inbuf(L, node, 0), bb = lw_inbuf(L, node, 1), bc = lw_outbuf(L, node);
	if (t == DT_F32 && md.nb <= 4) {
		Kernel *k = lw_kernel(L, node, KK_MATMUL);
		k->mm.a = ba;
		k->mm.b = bb;
		k->mm.c = bc;
		k->mm.nbatch = md.nb;
		for (int j = 0; j < md.nb; j++) {
			k->mm.bext[j] = md.bext[j];
			k->mm.sa[j] = md.sa[j];
			k->mm.sb[j] = md.sb[j];
			k->mm.sc[j] = md.sc[j];
		}
		k->mm.m = md.m;
		k->mm.n = md.n;
		k->mm.k = md.k;
		k->mm.trans_a = md.ta;
		k->mm.trans_b = md.tb;
		return 0;
	}
	if (!lw_is_arith(t))
		return lw_unsupported(L, node, t);
	/* Loop: vars = output dims (batch, m?, n?), then k. */
	Kernel *k = lw_loop(L, node, &y->shape, bc);
	int vm = md.nb, vn = md.nb + !md.a1;
	int vk = lw_addvar(L, k, md.k);
	Aff ia, ib;
	memset(&ia, 0, sizeof ia);
	memset(&ib, 0, sizeof ib);
	for (int j = 0; j < md.nb; j++) {
		ia.k[j] = md.sa[j];
		ib.k[j] = md.sb[j];
	}
	if (!md.a1)
		ia.k[vm] = md.ta ? 1 : md.k;
	ia.k[vk] = md.ta ? md.m : 1;
	if (!md.b1)
		ib.k[vn] = md.tb ? md.k : 1;
	ib.k[vk] = md.tb ? 1 : md.n;
	Kx *prod = kx_bin(L, KB_MUL, kx_load(L, t, ba, ia), kx_load(L, t, bb, ib));
	k->body = kx_red(L, KR_SUM, prod);
	return 0;
}

/* --- window attributes ------------------------------------------------------ */

typedef struct Window {
	int s;                     /* spatial dims */
	int64_t kern[IR_MAX_RANK]; /* window extents */
	int64_t str[IR_MAX_RANK];  /* strides */
	int64_t dil[IR_MAX_RANK];  /* dilations */
	int64_t pb[IR_MAX_RANK];   /* pads at the beginning (top, left, ...) */
	int64_t pe[IR_MAX_RANK];   /* pads at the end */
} Window;

/* Reads an ints attribute of s values (dflt when absent), each >= min. */
static int win_ints(Lower *L, int node, const char *name, int s, int64_t dflt, int64_t min, int64_t *out)
{
	const int64_t *v;
	int n = ir_attr_ints(&L->g->node[node], name, &v);
	if (n < 0) {
		for (int i = 0; i < s; i++)
			out[i] = dflt;
		return 0;
	}
	if (n != s)
		return lw_err(L, node, "%s has %d values, expected %d", name, n, s);
	for (int i = 0; i < s; i++) {
		if (v[i] < min)
			return lw_err(L, node, "%s[%d] = %lld is below %lld", name, i, (long long)v[i], (long long)min);
		out[i] = v[i];
	}
	return 0;
}

static int read_window(Lower *L, int node, int s, const int64_t *kern, Window *w)
{
	int64_t pads[2 * IR_MAX_RANK];
	memset(w, 0, sizeof *w);
	w->s = s;
	if (kern)
		memcpy(w->kern, kern, (size_t)s * sizeof *kern);
	else if (win_ints(L, node, "kernel", s, 0, 1, w->kern) < 0)
		return -1;
	if (!kern && !ir_attr(&L->g->node[node], "kernel"))
		return lw_err(L, node, "missing attribute kernel");
	if (win_ints(L, node, "strides", s, 1, 1, w->str) < 0 ||
	    win_ints(L, node, "dilations", s, 1, 1, w->dil) < 0 ||
	    win_ints(L, node, "pads", 2 * s, 0, 0, pads) < 0)
		return -1;
	for (int i = 0; i < s; i++) {
		w->pb[i] = pads[i];
		w->pe[i] = pads[s + i];
	}
	return 0;
}

/* --- conv ---------------------------------------------------------------- */

int lw_conv(Lower *L, int node)
{
	const Node *n = &L->g->node[node];
	const Shape *x = &lw_in(L, node, 0)->shape, *w = &lw_in(L, node, 1)->shape;
	const Value *y = lw_out(L, node);
	if (y->dtype != DT_F32)
		return lw_err(L, node, "cannot lower conv for %s: unsupported dtype", ir_dtype_name(y->dtype));
	int r = x->rank;
	if (r == 5)
		return lw_conv_nd(L, node); /* lower_conv.c */
	if (r != 3 && r != 4)
		return lw_err(L, node, "cannot lower %d-D conv (only 1-D, 2-D and 3-D)", r - 2);
	if (w->rank != r || y->shape.rank != r)
		return lw_err(L, node, "weight and output must have rank %d", r);
	int s = r - 2;
	int64_t kern[2] = { w->d[2].n, s == 2 ? w->d[3].n : 1 };
	Window win;
	if (read_window(L, node, s, kern, &win) < 0)
		return -1;
	int64_t group = ir_attr_int(n, "group", 1);
	int64_t c = x->d[1].n, kout = w->d[0].n;
	if (group < 1 || c % group != 0 || kout % group != 0 || w->d[1].n != c / group)
		return lw_err(L, node, "group %lld does not fit %lld input and %lld output channels",
			      (long long)group, (long long)c, (long long)kout);
	if (s == 1) { /* 1-D as 2-D with height 1 */
		win.kern[1] = win.kern[0], win.str[1] = win.str[0], win.dil[1] = win.dil[0];
		win.pb[1] = win.pb[0], win.pe[1] = win.pe[0];
		win.kern[0] = win.str[0] = win.dil[0] = 1;
		win.pb[0] = win.pe[0] = 0;
	}
	int64_t h = s == 2 ? x->d[2].n : 1, wd = x->d[r - 1].n;
	int64_t oh = s == 2 ? y->shape.d[2].n : 1, ow = y->shape.d[r - 1].n;
	bool direct = win.kern[0] == 1 && win.kern[1] == 1 && win.str[0] == 1 && win.str[1] == 1 &&
		      win.dil[0] == 1 && win.dil[1] == 1 && win.pb[0] == 0 && win.pb[1] == 0 &&
		      win.pe[0] == 0 && win.pe[1] == 0;
	int scratch = -1, wino_u = 0;
	bool lean = L->g->lean_scratch; /* --max-memory: the lean rules (runtime/abi.h NNCC_CONV_LEAN) */
	if (!direct) {
		int64_t ckk = lw_mul(L, lw_mul(L, c / group, win.kern[0]), win.kern[1]);
		int64_t hw = lw_mul(L, oh, ow), sz = lw_mul(L, ckk, hw);
		if (!L->ovf && nncc_abi_conv_blocks(x->d[0].n, win.kern[1], ow, hw)) { /* blocks of images */
			sz = (lean ? nncc_abi_wide_scratch_lean : nncc_abi_wide_scratch)(
			    x->d[0].n, c, kout, group, oh, ow, win.kern[0], win.kern[1], win.dil[0], win.dil[1]);
		} else if (!L->ovf) { /* images side by side (nb > 1): their cols and the product */
			int64_t nb = nncc_abi_conv_images(x->d[0].n, hw, ckk, kout / group);
			sz = nncc_abi_conv_room(c, kout, group, oh, ow, win.kern[0], win.kern[1], win.str[0], win.str[1],
						win.dil[0], win.dil[1]); /* one image's col, or a first layer's bands */
			int64_t b = nb > 1 ? lw_mul(L, lw_mul(L, nb, hw), lw_add(L, ckk, kout / group)) : 0;
			sz = b > sz ? b : sz;
		}
		if (!L->ovf && nncc_abi_wino(x->d[0].n, c, h, wd, kout, oh, ow, win.kern[0], win.kern[1],
					     win.str[0], win.str[1], win.dil[0], win.dil[1], group)) {
			if (lean) /* the im2col fallback one band at a time */
				sz = nncc_abi_conv_band_rows_lean(oh, ow, ckk) * ow * ckk;
			const Value *wv = lw_in(L, node, 1);
			wino_u = wv->kind != VK_CONST || !wv->data || wv->state != 0; /* not in the weight cache */
			if (wino_u && nncc_abi_wino_fuses(x->d[0].n, c, kout, oh, ow, win.dil[0]))
				wino_u = NNCC_ABI_WINO_FUSED; /* called whole-batch (sched.c) */
			int64_t wsz = (lean ? nncc_abi_wino_scratch_lean : nncc_abi_wino_scratch)(x->d[0].n, c, kout, oh, ow,
												  win.dil[0], wino_u);
			if (wino_u == 1)
				wsz = lw_add(L, wsz, nncc_abi_wino_uscratch(c, kout, nncc_abi_wino_m(x->d[0].n, c, kout, oh, ow,
													win.dil[0], 1)));
			sz = wsz > sz ? wsz : sz;
		}
		if (L->ovf || (scratch = lw_temp(L, DT_F32, sz, -1)) < 0)
			return lw_err(L, node, "im2col scratch size overflows");
	}
	int bias = n->nin > 2 && n->in[2] >= 0 ? lw_inbuf(L, node, 2) : -1;
	if (bias >= 0 && ir_shape_numel(&lw_in(L, node, 2)->shape) != kout)
		return lw_err(L, node, "bias must have %lld elements", (long long)kout);
	Kernel *k = lw_kernel(L, node, KK_CONV2D);
	k->conv.x = lw_inbuf(L, node, 0);
	k->conv.wt = lw_inbuf(L, node, 1);
	k->conv.bias = bias;
	k->conv.y = lw_outbuf(L, node);
	k->conv.scratch = scratch;
	k->conv.n = x->d[0].n;
	k->conv.c = c;
	k->conv.h = h;
	k->conv.w = wd;
	k->conv.k = kout;
	k->conv.oh = oh;
	k->conv.ow = ow;
	k->conv.kh = win.kern[0];
	k->conv.kw = win.kern[1];
	k->conv.sh = win.str[0];
	k->conv.sw = win.str[1];
	k->conv.ph = win.pb[0];
	k->conv.pw = win.pb[1];
	k->conv.dh = win.dil[0];
	k->conv.dw = win.dil[1];
	k->conv.group = group;
	k->conv.wino_u = wino_u;
	k->conv.swap = L->swap ? L->swap[node] : 0;
	k->conv.lean = lean;
	return 0;
}

/* --- pooling ---------------------------------------------------------------- */

/* Index e_i = o_i*stride + r_i*dil - pad_begin of spatial dim i: output var
 * 2+i, reduction var rv. */
static Aff win_pos(Lower *L, const Window *w, int i, int rv)
{
	Aff e;
	memset(&e, 0, sizeof e);
	e.c = -w->pb[i];
	e.k[2 + i] = w->str[i];
	e.k[rv] = w->dil[i];
	return e;
}

/* Largest e_i over the iteration space. */
static int64_t win_max(Lower *L, const Window *w, int i, int64_t o)
{
	return lw_add(L, lw_add(L, lw_mul(L, o - 1, w->str[i]), lw_mul(L, w->kern[i] - 1, w->dil[i])), -w->pb[i]);
}

int lw_pool(Lower *L, int node)
{
	const Node *n = &L->g->node[node];
	const Value *xv = lw_in(L, node, 0), *y = lw_out(L, node);
	const Shape *x = &xv->shape;
	DType t = y->dtype;
	bool avg = n->op == OP_AVGPOOL;
	/* integer maxpool (u8 images): computed in i64, the store converts back */
	bool imax = !avg && (t == DT_U8 || t == DT_I8 || t == DT_I32 || t == DT_I64);
	if (!lw_is_float(t) && !imax)
		return lw_unsupported(L, node, t);
	int r = x->rank, s = r - 2;
	if (r < 3 || y->shape.rank != r)
		return lw_err(L, node, "pooling needs rank >= 3 input and output of the same rank");
	Window w;
	if (read_window(L, node, s, NULL, &w) < 0)
		return -1;
	Kernel *k = lw_loop(L, node, &y->shape, lw_outbuf(L, node));
	int rv[IR_MAX_RANK];
	for (int i = 0; i < s; i++)
		rv[i] = lw_addvar(L, k, w.kern[i]);
	if (L->manyvar)
		return 0;
	Aff coord[IR_MAX_RANK]; /* of x: n, c, then o_i*stride + r_i*dil - pad_begin */
	lw_out_coord(2, coord);
	for (int i = 0; i < s; i++)
		coord[2 + i] = win_pos(L, &w, i, rv[i]);
	Kx *ld;
	bool inl = lw_inlined(L, n->in[0]);
	if (inl && imax)
		return lw_err(L, node, "cannot fuse an integer maxpool with its producer");
	if (inl) { /* a fused producer: only where no window leaves the input (ps_fuse) */
		int prev = lw_scope_begin(L);
		ld = lw_value_at(L, n->in[0], coord);
		lw_scope_end(L, prev);
		if (!ld)
			return -1;
	} else {
		ld = kx_load(L, imax ? DT_I64 : t, lw_inbuf(L, node, 0), lw_linear(L, x, coord));
		ld->fill = avg ? 0 : imax ? -0x1p62 : -INFINITY;
	}
	k = &L->kl->k[L->kl->nk - 1];
	/* Guard only the sides a window can cross. */
	bool full = true; /* every avgpool window counts prod(kern) elements */
	int cip = (int)ir_attr_int(n, "count_include_pad", 0);
	Kx *valid = kx_valid(L, t);
	for (int i = 0; i < s; i++) {
		int64_t hi = x->d[2 + i].n, emax = win_max(L, &w, i, y->shape.d[2 + i].n);
		if (w.pb[i] > 0 || emax >= hi) {
			if (inl)
				return lw_err(L, node, "internal error: a fused pool's window leaves its input");
			kx_guard(L, ld, win_pos(L, &w, i, rv[i]), 0, hi);
		}
		int64_t vlo = cip ? -w.pb[i] : 0, vhi = cip ? lw_add(L, hi, w.pe[i]) : hi;
		if (-w.pb[i] < vlo || emax >= vhi) {
			full = false;
			kx_guard(L, valid, win_pos(L, &w, i, rv[i]), vlo, vhi);
		}
	}
	if (!inl && t == DT_F32 && s <= 2) { /* the library call's geometry; 1-D as one row */
		int a = s - 1; /* the width's dim in w */
		bool two = s == 2;
		int64_t h = two ? x->d[2].n : 1, wd = x->d[r - 1].n;
		int64_t g[19] = {
			x->d[0].n, x->d[1].n, h, wd, two ? y->shape.d[2].n : 1, y->shape.d[r - 1].n,
			two ? w.kern[0] : 1, w.kern[a], two ? w.str[0] : 1, w.str[a],
			two ? w.pb[0] : 0, w.pb[a], two ? w.dil[0] : 1, w.dil[a], avg,
			cip && two ? -w.pb[0] : 0, cip && two ? lw_add(L, h, w.pe[0]) : h,
			cip ? -w.pb[a] : 0, cip ? lw_add(L, wd, w.pe[a]) : wd,
		};
		if (!L->ovf && nncc_abi_pool(wd, g[5], w.kern[a], w.str[a], w.pb[a], w.dil[a])) {
			k->pool.on = 1;
			k->pool.x = lw_inbuf(L, node, 0);
			memcpy(k->pool.p, g, sizeof g);
		}
	}
	if (!avg) {
		k->body = kx_red(L, KR_MAX, ld);
		return 0;
	}
	Kx *sum = kx_red(L, KR_SUM, ld);
	if (full) {
		int64_t cnt = 1;
		for (int i = 0; i < s; i++)
			cnt = lw_mul(L, cnt, w.kern[i]);
		k->body = kx_bin(L, KB_DIV, sum, kx_const(L, t, (double)cnt));
	} else {
		k->body = kx_bin(L, KB_DIV, sum, kx_red(L, KR_SUM, valid));
	}
	return 0;
}
