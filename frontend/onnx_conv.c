/* onnx_conv.c — import of the windowed ONNX ops over 1, 2 or 3 spatial
 * dims (input rank 3, 4 or 5): Conv, ConvTranspose, AveragePool, MaxPool,
 * and LpPool/GlobalLpPool, which become existing ops:
 *   LpPool(x)       = (sum over the window of |x|^p)^(1/p), the sum a
 *                     depthwise conv of |x|^p with a ones kernel
 *                     (padding contributes 0, as ONNX says);
 *   GlobalLpPool(x) = (reduce_sum over the spatial axes of |x|^p)^(1/p);
 *   ConvInteger     = a float32 conv of the centered 8-bit operands, cast
 *                     to int32 (exact within float32's integers).
 * auto_pad SAME_UPPER/SAME_LOWER becomes explicit pads here; for
 * ConvTranspose, output_shape becomes pads (and end output padding when
 * the requested output is larger than the natural one). */
#include "onnx_impl.h"

#include <stdlib.h>
#include <string.h>

enum { SP_MAX = 3 }; /* spatial dims */

static bool has_in(const Importer *m, int k) { return k < m->nin && m->in[k] >= 0; }
static Shape in_shape(const Importer *m, int k) { return m->g->val[m->in[k]].shape; }
static bool dim_known(Dim d) { return d.sym == 0 && d.n >= 0; }
static int done(Importer *m, int node) { return imp_infer(m, node) < 0 ? -1 : 0; }

/* Sliding-window attributes over s spatial dims. */
typedef struct Win {
	int s;                   /* spatial dims */
	int64_t k[SP_MAX];       /* kernel extents, -1 if unknown */
	int64_t strides[SP_MAX]; /* strides */
	int64_t dil[SP_MAX];     /* dilations */
	int64_t pads[2 * SP_MAX]; /* begins, then ends: ONNX's and the IR's order */
	int64_t opad[SP_MAX];    /* ConvTranspose output_padding */
} Win;

/* Reads ints attribute name: exactly n values, each >= min; dflt if absent. */
static int ints_n(Importer *m, const char *name, int n, int64_t dflt, int64_t min, int64_t *out)
{
	const int64_t *v;
	int c = imp_ints(m, name, &v);
	for (int i = 0; i < n; i++)
		out[i] = dflt;
	if (c < 0)
		return 0;
	if (c != n)
		return imp_err(m, "%s has %d values; expected %d (one per spatial dim)", name, c, n);
	for (int i = 0; i < n; i++) {
		if (v[i] < min)
			return imp_err(m, "%s value %lld is invalid", name, (long long)v[i]);
		out[i] = v[i];
	}
	return 0;
}

/* The spatial rank of input 0 (rank 3..5), or -1 with a message. */
static int spatial_rank(Importer *m)
{
	Shape x = in_shape(m, 0);
	if (x.rank < 0)
		return imp_err(m, "the input's rank must be known");
	if (x.rank < 3 || x.rank > 2 + SP_MAX)
		return imp_err(m, "only 1-D, 2-D and 3-D windows are supported (the input has rank %d)",
			x.rank);
	return x.rank - 2;
}

/* strides, pads, dilations and auto_pad of a forward window (conv, pools);
 * SAME_* become explicit pads, which needs the input's spatial dims and
 * the kernel size. */
static int read_window(Importer *m, Win *w)
{
	int s = w->s;
	if (ints_n(m, "strides", s, 1, 1, w->strides) || ints_n(m, "pads", 2 * s, 0, 0, w->pads) ||
		ints_n(m, "dilations", s, 1, 1, w->dil))
		return -1;
	const char *ap = imp_str(m, "auto_pad", "NOTSET");
	if (strcmp(ap, "NOTSET") == 0 || !*ap)
		return 0;
	if (imp_attr(m, "pads"))
		return imp_err(m, "pads and auto_pad=%s are both given", ap);
	if (strcmp(ap, "VALID") == 0)
		return 0;
	bool upper = strcmp(ap, "SAME_UPPER") == 0;
	if (!upper && strcmp(ap, "SAME_LOWER") != 0)
		return imp_err(m, "unknown auto_pad \"%s\"", ap);
	Shape x = in_shape(m, 0);
	for (int i = 0; i < s; i++) {
		if (!dim_known(x.d[2 + i]))
			return imp_err(m, "auto_pad=%s needs the input's spatial dims to be known", ap);
		if (w->k[i] < 1)
			return imp_err(m, "auto_pad=%s needs a known kernel size", ap);
		/* out = ceil(in / stride); total = (out-1)*stride + (k-1)*dil + 1 - in */
		int64_t in = x.d[2 + i].n, st = w->strides[i];
		int64_t out = in / st + (in % st != 0), total, span;
		if (!ck_mul(out - 1, st, &total) || !ck_mul(w->k[i] - 1, w->dil[i], &span) ||
			!ck_add(span, 1, &span) || !ck_add(total, span, &total))
			return imp_err(m, "padding size overflows");
		total -= in;
		if (total < 0)
			total = 0;
		int64_t small = total / 2, big = total - small; /* SAME_UPPER puts the extra at the end */
		w->pads[i] = upper ? small : big;
		w->pads[s + i] = upper ? big : small;
	}
	return 0;
}

/* ConvTranspose: pads from output_shape or auto_pad (ONNX's equations:
 * total = stride*(in-1) + output_padding + (k-1)*dil + 1 - out, split with
 * the odd one at the end for SAME_UPPER, at the beginning otherwise). A
 * negative total (a larger output than the natural one) becomes end
 * output padding: zeros plus bias, as the reference computes. */
static int transpose_pads(Importer *m, Win *w)
{
	int s = w->s;
	if (ints_n(m, "output_padding", s, 0, 0, w->opad))
		return -1;
	const char *ap = imp_str(m, "auto_pad", "NOTSET");
	bool notset = strcmp(ap, "NOTSET") == 0 || !*ap, upper = strcmp(ap, "SAME_UPPER") == 0;
	if (!notset && !upper && strcmp(ap, "SAME_LOWER") != 0 && strcmp(ap, "VALID") != 0)
		return imp_err(m, "unknown auto_pad \"%s\"", ap);
	if (!notset && imp_attr(m, "pads"))
		return imp_err(m, "pads and auto_pad=%s are both given", ap);
	const int64_t *os;
	int nos = imp_ints(m, "output_shape", &os);
	bool same = upper || strcmp(ap, "SAME_LOWER") == 0;
	if (nos < 0 && !same)
		return 0;
	Shape x = in_shape(m, 0);
	if (nos >= 0 && nos != s && nos != s + 2)
		return imp_err(m, "output_shape has %d values; expected %d", nos, s);
	for (int i = 0; i < s; i++) {
		if (!dim_known(x.d[2 + i]) || w->k[i] < 1)
			return imp_err(m, "output_shape and auto_pad need known spatial dims and kernel");
		int64_t in = x.d[2 + i].n, out, full, span;
		if (nos >= 0)
			out = os[nos - s + i];
		else if (!ck_mul(in, w->strides[i], &out))
			return imp_err(m, "output size overflows");
		if (!ck_mul(in - 1, w->strides[i], &full) || !ck_mul(w->k[i] - 1, w->dil[i], &span) ||
			!ck_add(full, span + 1, &full) || !ck_add(full, w->opad[i], &full))
			return imp_err(m, "output size overflows");
		if (out < 1)
			return imp_err(m, "output_shape value %lld is invalid", (long long)out);
		int64_t total = full - out;
		if (total < 0) {
			w->opad[i] -= total;
			total = 0;
		}
		int64_t half = total / 2;
		w->pads[i] = upper ? half : total - half;
		w->pads[s + i] = upper ? total - half : half;
	}
	return 0;
}

static void set_window(Importer *m, int nd, const Win *w)
{
	ir_set_ints(m->g, nd, "strides", w->strides, w->s);
	ir_set_ints(m->g, nd, "pads", w->pads, 2 * w->s);
	ir_set_ints(m->g, nd, "dilations", w->dil, w->s);
}

/* A conv or conv_transpose node over in[0..nin-1] (shaped like the ONNX
 * node's inputs 0 and 1) with the node's window attributes, its output
 * bound to ONNX output `slot` (-1: a fresh value); the node or -1. */
static int conv_node(Importer *m, Op op, const int *in, int nin, int slot)
{
	bool transpose = op == OP_CONV_TRANSPOSE;
	int s = spatial_rank(m);
	if (s < 0)
		return -1;
	Shape x = in_shape(m, 0), wt = in_shape(m, 1);
	if (wt.rank >= 0 && wt.rank != x.rank)
		return imp_err(m, "the weight has rank %d; the input has rank %d", wt.rank, x.rank);
	Win w;
	memset(&w, 0, sizeof w);
	w.s = s;
	for (int i = 0; i < s; i++)
		w.k[i] = wt.rank == x.rank && dim_known(wt.d[2 + i]) ? wt.d[2 + i].n : -1;
	const int64_t *ks;
	int nk = imp_ints(m, "kernel_shape", &ks);
	if (nk >= 0 && nk != s)
		return imp_err(m, "kernel_shape has %d values; the input has %d spatial dims", nk, s);
	for (int i = 0; i < nk; i++) {
		if (ks[i] < 1 || (w.k[i] >= 0 && w.k[i] != ks[i]))
			return imp_err(m, "kernel_shape does not match the weight");
		w.k[i] = ks[i];
	}
	if (!transpose && read_window(m, &w) < 0)
		return -1;
	if (transpose && (ints_n(m, "strides", s, 1, 1, w.strides) ||
		ints_n(m, "pads", 2 * s, 0, 0, w.pads) || ints_n(m, "dilations", s, 1, 1, w.dil) ||
		transpose_pads(m, &w)))
		return -1;
	int64_t group = imp_int(m, "group", 1);
	if (group < 1)
		return imp_err(m, "group %lld must be positive", (long long)group);
	int nd = imp_node(m, op, in, nin, slot);
	set_window(m, nd, &w);
	ir_set_int(m->g, nd, "group", group);
	if (transpose) {
		bool any = false;
		for (int i = 0; i < s; i++)
			any |= w.opad[i] != 0;
		if (any)
			ir_set_ints(m->g, nd, "output_padding", w.opad, s);
	}
	return nd;
}

/* Conv and ConvTranspose. */
int onnx_conv(Importer *m, Op op)
{
	int nd = conv_node(m, op, m->in, has_in(m, 2) ? 3 : 2, 0);
	return nd < 0 ? -1 : done(m, nd);
}

/* float32(v) - float32(zero point k) when input k is given; the value or -1. */
static int centered(Importer *m, int v, int k, bool perchan)
{
	int c = imp_node(m, OP_CAST, &v, 1, -1);
	ir_set_string(m->g, c, "to", "f32");
	if ((v = imp_infer(m, c)) < 0 || !has_in(m, k))
		return v;
	int z = m->in[k];
	Shape zs = m->g->val[z].shape;
	c = imp_node(m, OP_CAST, &z, 1, -1);
	ir_set_string(m->g, c, "to", "f32");
	if ((z = imp_infer(m, c)) < 0)
		return -1;
	int64_t nz = ir_shape_numel(&zs);
	if (zs.rank > 1 || nz < 0 || (!perchan && nz != 1))
		return imp_err(m, "zero point %d must be a scalar%s", k, perchan ? " or 1-D" : "");
	if (perchan && nz != 1) { /* [M] -> [M, 1, ...] along the weight's dim 0 */
		int64_t dims[IR_MAX_RANK];
		int r = m->g->val[v].shape.rank;
		dims[0] = nz;
		for (int i = 1; i < r; i++)
			dims[i] = 1;
		int rs = imp_node(m, OP_RESHAPE, &z, 1, -1);
		ir_set_ints(m->g, rs, "shape", dims, r);
		if ((z = imp_infer(m, rs)) < 0)
			return -1;
	}
	int in[2] = {v, z};
	return imp_infer(m, imp_node(m, OP_SUB, in, 2, -1));
}

/* ConvInteger: (x - x_zero_point) conv (w - w_zero_point) in int32, computed
 * as a float32 conv, which is exact while every partial sum stays below
 * 2^24: with 8-bit operands (|x - zp| <= 255), (C/group) * kernel volume
 * products of at most 255*255 each. Larger windows are unsupported. */
int onnx_conv_integer(Importer *m, Op op)
{
	(void)op;
	const Value *x = &m->g->val[m->in[0]], *w = &m->g->val[m->in[1]];
	bool ok8 = (x->dtype == DT_U8 || x->dtype == DT_I8) && (w->dtype == DT_U8 || w->dtype == DT_I8);
	if (!ok8)
		return imp_err(m, "only 8-bit inputs are supported, not %s and %s", ir_dtype_name(x->dtype),
			ir_dtype_name(w->dtype));
	int64_t terms = 1;
	for (int i = 1; i < w->shape.rank; i++)
		if (!dim_known(w->shape.d[i]) || !ck_mul(terms, w->shape.d[i].n, &terms))
			return imp_err(m, "the weight's dims must be known");
	if (terms > (((int64_t)1 << 24) - 1) / (255 * 255))
		return imp_err(m, "%lld products per output exceed float32's exact integer range "
			"(at most %lld are supported)", (long long)terms,
			(long long)((((int64_t)1 << 24) - 1) / (255 * 255)));
	int xf = centered(m, m->in[0], 2, false), wf = centered(m, m->in[1], 3, true);
	if (xf < 0 || wf < 0)
		return -1;
	int nd = conv_node(m, OP_CONV, (int[]){xf, wf}, 2, -1);
	int y = nd < 0 ? -1 : imp_infer(m, nd);
	if (y < 0)
		return -1;
	int c = imp_node(m, OP_CAST, &y, 1, 0);
	ir_set_string(m->g, c, "to", "i32");
	return done(m, c);
}

/* The kernel_shape attribute (required) of a pool into w. */
static int pool_window(Importer *m, Win *w)
{
	int s = spatial_rank(m);
	if (s < 0)
		return -1;
	memset(w, 0, sizeof *w);
	w->s = s;
	if (ints_n(m, "kernel_shape", s, -1, 1, w->k) < 0)
		return -1;
	if (w->k[0] < 0)
		return imp_err(m, "missing attribute kernel_shape");
	return read_window(m, w);
}

/* AveragePool and MaxPool. */
int onnx_pool(Importer *m, Op op)
{
	bool ismax = op == OP_MAXPOOL;
	Win w;
	if (pool_window(m, &w) < 0)
		return -1;
	if (ismax && imp_used(m, 1))
		return imp_err(m, "the Indices output is unsupported");
	if (ismax && imp_int(m, "storage_order", 0) != 0)
		return imp_err(m, "storage_order=1 is unsupported");
	int nd = imp_node(m, op, m->in, 1, 0);
	ir_set_ints(m->g, nd, "kernel", w.k, w.s);
	set_window(m, nd, &w);
	ir_set_int(m->g, nd, "ceil_mode", imp_int(m, "ceil_mode", 0) != 0);
	if (!ismax)
		ir_set_int(m->g, nd, "count_include_pad", imp_int(m, "count_include_pad", 0) != 0);
	return done(m, nd);
}

/* A scalar literal of x's dtype (f32 or f64). */
static int scalar_like(Importer *m, const char *what, double v, DType t)
{
	if (t == DT_F32 || t == DT_F64)
		return imp_scalar(m, what, t, v);
	return imp_err(m, "only float32 and float64 are supported, not %s", ir_dtype_name(t));
}

/* |x|^p for p = 1 (abs), 2 (x*x) or else pow(abs(x), p); the value or -1. */
static int abs_pow(Importer *m, int x, int64_t p)
{
	DType t = m->g->val[x].dtype;
	if (p == 2) {
		int in[2] = {x, x};
		return imp_infer(m, imp_node(m, OP_MUL, in, 2, -1));
	}
	int a = imp_infer(m, imp_node(m, OP_ABS, &x, 1, -1));
	if (a < 0 || p == 1)
		return a;
	int e = scalar_like(m, "p", (double)p, t);
	if (e < 0)
		return -1;
	int in[2] = {a, e};
	return imp_infer(m, imp_node(m, OP_POW, in, 2, -1));
}

/* y^(1/p) into ONNX output 0: identity, sqrt or pow. */
static int root_out(Importer *m, int y, int64_t p)
{
	if (p == 1)
		return done(m, imp_node(m, OP_IDENTITY, &y, 1, 0));
	if (p == 2)
		return done(m, imp_node(m, OP_SQRT, &y, 1, 0));
	int e = scalar_like(m, "inv_p", 1.0 / (double)p, m->g->val[y].dtype);
	if (e < 0)
		return -1;
	int in[2] = {y, e};
	return done(m, imp_node(m, OP_POW, in, 2, 0));
}

static int read_p(Importer *m, int64_t *p)
{
	*p = imp_int(m, "p", 2);
	if (*p < 1)
		return imp_err(m, "p = %lld must be positive", (long long)*p);
	return 0;
}

int onnx_lppool(Importer *m, Op op)
{
	(void)op;
	Win w;
	int64_t p;
	if (pool_window(m, &w) < 0 || read_p(m, &p) < 0)
		return -1;
	if (imp_int(m, "ceil_mode", 0))
		return imp_err(m, "ceil_mode=1 is unsupported for LpPool");
	Shape x = in_shape(m, 0);
	DType t = m->g->val[m->in[0]].dtype;
	if (!dim_known(x.d[1]))
		return imp_err(m, "the channel count must be known");
	int64_t C = x.d[1].n, wd[2 + SP_MAX] = {C, 1}, n = C;
	for (int i = 0; i < w.s; i++) {
		wd[2 + i] = w.k[i];
		if (!ck_mul(n, w.k[i], &n) || n > ((int64_t)1 << 26))
			return imp_err(m, "the window is too large");
	}
	size_t esz = ir_dtype_size(t);
	if (t != DT_F32 && t != DT_F64)
		return imp_err(m, "only float32 and float64 are supported, not %s", ir_dtype_name(t));
	unsigned char *ones = xmalloc((size_t)n * esz);
	for (int64_t i = 0; i < n; i++) {
		float f = 1;
		double d = 1;
		memcpy(ones + (size_t)i * esz, t == DT_F32 ? (void *)&f : (void *)&d, esz);
	}
	int k = imp_const(m, "ones", t, ir_shape_make(2 + w.s, wd), ones, (size_t)n * esz);
	free(ones);
	int a = abs_pow(m, m->in[0], p);
	if (k < 0 || a < 0)
		return -1;
	int in[2] = {a, k};
	int nd = imp_node(m, OP_CONV, in, 2, -1);
	set_window(m, nd, &w);
	ir_set_int(m->g, nd, "group", C);
	int y = imp_infer(m, nd);
	return y < 0 ? -1 : root_out(m, y, p);
}

int onnx_global_lppool(Importer *m, Op op)
{
	(void)op;
	int64_t p;
	if (read_p(m, &p) < 0)
		return -1;
	Shape x = in_shape(m, 0);
	if (x.rank < 3)
		return imp_err(m, "needs an input of known rank >= 3 (rank %d)", x.rank);
	int a = abs_pow(m, m->in[0], p);
	if (a < 0)
		return -1;
	int64_t axes[IR_MAX_RANK];
	for (int i = 2; i < x.rank; i++)
		axes[i - 2] = i;
	int nd = imp_node(m, OP_REDUCE_SUM, &a, 1, -1);
	ir_set_ints(m->g, nd, "axes", axes, x.rank - 2);
	ir_set_int(m->g, nd, "keepdims", 1);
	int y = imp_infer(m, nd);
	return y < 0 ? -1 : root_out(m, y, p);
}
