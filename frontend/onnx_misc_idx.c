/* onnx_misc_idx.c — Col2Im, TensorScatter and Det (misc family) as
 * rewrites into existing IR ops:
 *   Col2Im: a grouped conv_transpose (one group per channel) with a
 *     constant one-hot weight that puts block element k of each column
 *     back at its offset, summing overlaps; strides, pads and dilations
 *     carry over, output_padding makes up the rows the blocks never reach
 *   TensorScatter: scatter_elements along the sequence axis at run-time
 *     positions write_indices[b] + j (modulo the cache length, circular)
 *   Det: the Leibniz sum over permutations, for matrices up to 4 x 4
 * Shapes and the Col2Im size inputs must be static. */
#include "onnx_impl.h"

#include <stdlib.h>
#include <string.h>

static bool has_in(const Importer *m, int k) { return k < m->nin && m->in[k] >= 0; }
static const Shape *shp(const Importer *m, int v) { return &m->g->val[v].shape; }

static int node2(Importer *m, Op op, int a, int b, int slot)
{
	return imp_op2(m, op, a, b, slot);
}

static int ints_node(Importer *m, Op op, int x, const char *attr, const int64_t *v, int n, int slot)
{
	if (x < 0)
		return -1;
	int nd = imp_node(m, op, &x, 1, slot);
	ir_set_ints(m->g, nd, attr, v, n);
	return imp_infer(m, nd);
}

/* Constant integer input k of exactly n values into out; 0 or -1. */
static int const_ints(Importer *m, int k, const char *what, int64_t *out, int n)
{
	int c = imp_fold(m, m->in[k]);
	if (c < 0)
		return imp_err(m, "input %d (%s) must be a constant", k, what);
	const Value *v = &m->g->val[c];
	if (!ir_dtype_is_int(v->dtype) || ir_shape_numel(&v->shape) != n)
		return imp_err(m, "%s must hold %d integers", what, n);
	for (int i = 0; i < n; i++)
		out[i] = (int64_t)ir_elem_get(v->dtype, (const char *)v->data + (size_t)i * ir_dtype_size(v->dtype));
	return 0;
}

/* Attribute `name` of n values into out (absent: dflt each); 0 or -1. */
static int attr_ints(Importer *m, const char *name, int n, int64_t dflt, int64_t *out)
{
	const int64_t *v;
	int k = imp_ints(m, name, &v);
	if (k >= 0 && k != n)
		return imp_err(m, "%s has %d values; expected %d", name, k, n);
	for (int i = 0; i < n; i++)
		out[i] = k >= 0 ? v[i] : dflt;
	return 0;
}

/* Col2Im: input [N, C * prod(block), L] into [N, C, image_shape...]. */
int misc_col2im(Importer *m, Op op)
{
	(void)op;
	const Shape xs = *shp(m, m->in[0]);
	if (xs.rank != 3 || !ir_shape_static(&xs))
		return imp_err(m, "needs a 3-D input of static shape");
	int s = (int)ir_shape_numel(shp(m, m->in[1]));
	if (s < 1 || s > IR_MAX_RANK - 2)
		return imp_err(m, "image_shape must hold 1 to %d values", IR_MAX_RANK - 2);
	int64_t img[IR_MAX_RANK], blk[IR_MAX_RANK], st[IR_MAX_RANK], dil[IR_MAX_RANK], pads[2 * IR_MAX_RANK];
	if (const_ints(m, 1, "image_shape", img, s) || const_ints(m, 2, "block_shape", blk, s) ||
	    attr_ints(m, "strides", s, 1, st) || attr_ints(m, "dilations", s, 1, dil) ||
	    attr_ints(m, "pads", 2 * s, 0, pads))
		return -1;
	int64_t kvol = 1, nblk = 1, lgrid[IR_MAX_RANK], opad[IR_MAX_RANK];
	for (int i = 0; i < s; i++) {
		if (img[i] < 1 || blk[i] < 1 || st[i] < 1 || dil[i] < 1 || pads[i] < 0 || pads[s + i] < 0 ||
		    img[i] > (1 << 24) || blk[i] > (1 << 12))
			return imp_err(m, "bad image_shape, block_shape or window attributes in dim %d", i);
		int64_t span = img[i] + pads[i] + pads[s + i] - dil[i] * (blk[i] - 1) - 1;
		if (span < 0)
			return imp_err(m, "the block does not fit the padded image in dim %d", i);
		lgrid[i] = span / st[i] + 1;
		opad[i] = span % st[i];
		kvol *= blk[i];
		nblk *= lgrid[i];
	}
	int64_t n = xs.d[0].n, ck = xs.d[1].n;
	if (ck % kvol || xs.d[2].n != nblk)
		return imp_err(m, "the input [%lld, %lld, %lld] does not hold %lld-element blocks at %lld positions",
			(long long)n, (long long)ck, (long long)xs.d[2].n, (long long)kvol, (long long)nblk);
	int64_t c = ck / kvol, numel;
	if (!ck_mul(ck, kvol, &numel) || numel > (1 << 24))
		return imp_err(m, "the block is too large");
	DType t = m->g->val[m->in[0]].dtype;
	size_t esz = ir_dtype_size(t);
	unsigned char *buf = calloc((size_t)numel, esz);
	if (!buf)
		return imp_err(m, "out of memory");
	for (int64_t ch = 0; ch < ck; ch++) /* weight [C*K, 1, blk...]: one-hot at k */
		ir_elem_put(t, buf + (size_t)(ch * kvol + ch % kvol) * esz, 1);
	int64_t wd[IR_MAX_RANK], xd[IR_MAX_RANK];
	wd[0] = ck, wd[1] = 1, xd[0] = n, xd[1] = ck;
	for (int i = 0; i < s; i++)
		wd[i + 2] = blk[i], xd[i + 2] = lgrid[i];
	int w = imp_const(m, "col2im_weight", t, ir_shape_make(s + 2, wd), buf, (size_t)numel * esz);
	free(buf);
	int x = ints_node(m, OP_RESHAPE, m->in[0], "shape", xd, s + 2, -1);
	if (w < 0 || x < 0)
		return -1;
	int nd = imp_node(m, OP_CONV_TRANSPOSE, (int[]){x, w}, 2, 0);
	ir_set_ints(m->g, nd, "strides", st, s);
	ir_set_ints(m->g, nd, "pads", pads, 2 * s);
	ir_set_ints(m->g, nd, "dilations", dil, s);
	ir_set_int(m->g, nd, "group", c);
	bool any = false;
	for (int i = 0; i < s; i++)
		any |= opad[i] != 0;
	if (any)
		ir_set_ints(m->g, nd, "output_padding", opad, s);
	int y = imp_infer(m, nd);
	if (y < 0)
		return -1;
	for (int i = 0; i < s; i++)
		if (shp(m, y)->d[i + 2].n != img[i])
			return imp_err(m, "internal: col2im produced extent %lld, not %lld, in dim %d",
				(long long)shp(m, y)->d[i + 2].n, (long long)img[i], i);
	return 0;
}

/* TensorScatter: past_cache [B, .., S, ..], update [B, .., s, ..] written
 * at positions write_indices[b] + j along axis (default -2). */
int misc_tensor_scatter(Importer *m, Op op)
{
	(void)op;
	const Shape cs = *shp(m, m->in[0]), us = *shp(m, m->in[1]);
	int r = cs.rank;
	if (!ir_shape_static(&cs) || !ir_shape_static(&us) || us.rank != r || r < 2)
		return imp_err(m, "needs past_cache and update of one rank (>= 2) and static shapes");
	int64_t axis = imp_int(m, "axis", -2);
	if (axis < 0)
		axis += r;
	if (axis < 1 || axis >= r)
		return imp_err(m, "axis %lld is out of range", (long long)imp_int(m, "axis", -2));
	for (int i = 0; i < r; i++)
		if (i != axis && cs.d[i].n != us.d[i].n)
			return imp_err(m, "update's dim %d (%lld) differs from the cache's (%lld)", i,
				(long long)us.d[i].n, (long long)cs.d[i].n);
	const char *mode = imp_str(m, "mode", "linear");
	bool circ = strcmp(mode, "circular") == 0;
	if (!circ && strcmp(mode, "linear") != 0)
		return imp_err(m, "mode \"%s\" is unsupported", mode);
	int64_t b = cs.d[0].n, len = us.d[axis].n, maxs = cs.d[axis].n;
	if (len > maxs)
		return imp_err(m, "the update is longer than the cache");
	int64_t jd[IR_MAX_RANK], bd[IR_MAX_RANK], ud[IR_MAX_RANK];
	for (int i = 0; i < r; i++)
		jd[i] = i == axis ? len : 1, bd[i] = i == 0 ? b : 1, ud[i] = us.d[i].n;
	int64_t *iota = calloc((size_t)len + 1, sizeof *iota);
	if (!iota)
		return imp_err(m, "out of memory");
	for (int64_t j = 0; j < len; j++)
		iota[j] = j;
	int pos = imp_const(m, "offsets", DT_I64, ir_shape_make(r, jd), iota, (size_t)len * sizeof *iota);
	free(iota);
	if (has_in(m, 2)) {
		const Value *wv = &m->g->val[m->in[2]];
		if (!ir_dtype_is_int(wv->dtype) || ir_shape_numel(&wv->shape) != b)
			return imp_err(m, "write_indices must hold one integer per batch entry");
		int w = m->in[2];
		if (wv->dtype != DT_I64) {
			int cn = imp_node(m, OP_CAST, &w, 1, -1);
			ir_set_string(m->g, cn, "to", "i64");
			w = imp_infer(m, cn);
		}
		pos = node2(m, OP_ADD, pos, ints_node(m, OP_RESHAPE, w, "shape", bd, r, -1), -1);
		if (circ) {
			int64_t mv = maxs;
			int k = imp_const(m, "cache_len", DT_I64, ir_shape_make(0, NULL), &mv, sizeof mv);
			pos = node2(m, OP_MOD, pos, k, -1);
		}
	}
	int ix = ints_node(m, OP_EXPAND, pos, "shape", ud, r, -1);
	if (ix < 0)
		return -1;
	int nd = imp_node(m, OP_SCATTER_ELEMENTS, (int[]){m->in[0], ix, m->in[1]}, 3, 0);
	ir_set_int(m->g, nd, "axis", axis);
	return imp_infer(m, nd) < 0 ? -1 : 0;
}

/* Next permutation of p[0..n-1] in lexicographic order, flipping *sign
 * per swap; false after the last. */
static bool next_perm(int *p, int n, int *sign)
{
	int i = n - 2;
	while (i >= 0 && p[i] > p[i + 1])
		i--;
	if (i < 0)
		return false;
	int j = n - 1;
	while (p[j] < p[i])
		j--;
	int t = p[i];
	p[i] = p[j], p[j] = t, *sign = -*sign;
	for (int a = i + 1, z = n - 1; a < z; a++, z--) {
		t = p[a], p[a] = p[z], p[z] = t, *sign = -*sign;
	}
	return true;
}

/* Det: x [.., n, n] -> [..]: sum over permutations p of sign(p) prod x[i, p(i)]. */
int misc_det(Importer *m, Op op)
{
	(void)op;
	const Shape xs = *shp(m, m->in[0]);
	int r = xs.rank;
	if (r < 2 || !ir_shape_static(&xs) || xs.d[r - 1].n != xs.d[r - 2].n)
		return imp_err(m, "needs square matrices of static shape");
	if (!ir_dtype_is_float(m->g->val[m->in[0]].dtype))
		return imp_err(m, "needs a float type");
	int n = (int)xs.d[r - 1].n;
	if (n < 1 || n > 4)
		return imp_err(m, "matrices of %d x %d are unsupported (at most 4 x 4)", n, n);
	int64_t fd[IR_MAX_RANK], od[IR_MAX_RANK];
	for (int i = 0; i < r - 2; i++)
		fd[i] = od[i] = xs.d[i].n;
	fd[r - 2] = (int64_t)n * n;
	int x = ints_node(m, OP_RESHAPE, m->in[0], "shape", fd, r - 1, -1);
	int el[16];
	for (int e = 0; e < n * n; e++) {
		int64_t lo = e, hi = e + 1, ax = r - 2;
		int sl = imp_node(m, OP_SLICE, &x, 1, -1);
		ir_set_ints(m->g, sl, "starts", &lo, 1);
		ir_set_ints(m->g, sl, "ends", &hi, 1);
		ir_set_ints(m->g, sl, "axes", &ax, 1);
		if ((el[e] = imp_infer(m, sl)) < 0)
			return -1;
	}
	int p[4] = {0, 1, 2, 3}, sign = 1, pos = -1, neg = -1;
	do {
		int t = el[p[0]];
		for (int i = 1; i < n; i++)
			t = node2(m, OP_MUL, t, el[i * n + p[i]], -1);
		int *acc = sign > 0 ? &pos : &neg;
		*acc = *acc < 0 ? t : node2(m, OP_ADD, *acc, t, -1);
	} while (next_perm(p, n, &sign));
	int d = neg < 0 ? pos : node2(m, OP_SUB, pos, neg, -1);
	return ints_node(m, OP_RESHAPE, d, "shape", od, r - 2, 0) < 0 ? -1 : 0;
}
