/* onnx_idx_compose.c — ONNX ops imported as compositions of the idx
 * family's IR ops (handlers of the idx block of onnx_ops.c's table): Pad's
 * edge, reflect and wrap modes and negative pads (slices and concats),
 * CenterCropPad, Compress (a gather with constant indices),
 * ReverseSequence (gather_elements with indices computed from the run-time
 * lengths), OneHot and MaxUnpool (scatters at run-time indices) and Col2Im
 * (a gather and an add-scatter at constant indices). Helpers shared with
 * onnx_idx.c are declared in onnx_impl.h (idx_*). */
#include "onnx_impl.h"

#include <stdlib.h>
#include <string.h>

static bool has_in(const Importer *m, int k) { return k < m->nin && m->in[k] >= 0; }
static const Value *in_val(const Importer *m, int k) { return &m->g->val[m->in[k]]; }
static int done(Importer *m, int node) { return imp_infer(m, node) < 0 ? -1 : 0; }

/* ---- pad modes ------------------------------------------------------------------------- */

/* Slice of value x along axis: elements start, start+step, ... before end
 * (slice's rules); its value or -1. */
static int axis_slice(Importer *m, int x, int axis, int64_t start, int64_t end, int64_t step)
{
	int64_t ax = axis;
	int nd = imp_node(m, OP_SLICE, &x, 1, -1);
	ir_set_ints(m->g, nd, "starts", &start, 1);
	ir_set_ints(m->g, nd, "ends", &end, 1);
	ir_set_ints(m->g, nd, "axes", &ax, 1);
	ir_set_ints(m->g, nd, "steps", &step, 1);
	return imp_infer(m, nd);
}

/* The p elements added before (after == false) or after an axis of extent
 * d under mode, as a value; -1 with a message. */
static int pad_part(Importer *m, int x, int axis, int64_t d, int64_t p, bool after, const char *mode)
{
	if (!strcmp(mode, "edge")) {
		if (d == 0)
			return imp_err(m, "edge padding of an empty axis");
		int e = after ? axis_slice(m, x, axis, d - 1, d, 1) : axis_slice(m, x, axis, 0, 1, 1);
		if (e < 0)
			return -1;
		const Shape *s = &m->g->val[e].shape;
		int64_t dims[IR_MAX_RANK];
		for (int i = 0; i < s->rank; i++)
			dims[i] = i == axis ? p : s->d[i].n;
		return imp_ints_op(m, OP_EXPAND, e, "shape", dims, s->rank, -1);
	}
	if (!strcmp(mode, "reflect")) { /* x[p..1] before, x[d-2..d-1-p] after */
		if (p > d - 1)
			return imp_err(m, "reflect padding of %lld exceeds the extent %lld minus 1",
				(long long)p, (long long)d);
		int64_t end = d - 2 - p; /* a negative end here means "before element 0" */
		return after ? axis_slice(m, x, axis, d - 2, end < 0 ? end - d : end, -1)
			     : axis_slice(m, x, axis, p, 0, -1);
	}
	if (!strcmp(mode, "wrap")) {
		if (p > d)
			return imp_err(m, "wrap padding of %lld exceeds the extent %lld", (long long)p,
				(long long)d);
		return after ? axis_slice(m, x, axis, 0, p, 1) : axis_slice(m, x, axis, d - p, d, 1);
	}
	return imp_err(m, "mode \"%s\" is unsupported", mode);
}

int idx_pad(Importer *m, const int64_t *pads, int np, double value, const char *mode)
{
	int64_t dims[IR_MAX_RANK];
	int r = idx_static_dims(m, 0, dims);
	if (r < 0)
		return -1;
	if (np != 2 * r)
		return imp_err(m, "pads has %d values for rank %d", np, r);
	int v = m->in[0];
	int64_t grow[2 * IR_MAX_RANK];
	bool any = false;
	for (int a = 0; a < r; a++) { /* crop first: negative pads */
		int64_t lo = pads[a] < 0 ? -pads[a] : 0, hi = pads[a + r] < 0 ? -pads[a + r] : 0;
		grow[a] = pads[a] > 0 ? pads[a] : 0;
		grow[a + r] = pads[a + r] > 0 ? pads[a + r] : 0;
		any = any || grow[a] || grow[a + r];
		if (!lo && !hi)
			continue;
		if (lo + hi > dims[a])
			return imp_err(m, "negative pads remove more than axis %d holds", a);
		if ((v = axis_slice(m, v, a, lo, dims[a] - hi, 1)) < 0)
			return -1;
		dims[a] -= lo + hi;
	}
	if (!strcmp(mode, "constant")) {
		if (!any)
			return imp_infer(m, imp_node(m, OP_IDENTITY, &v, 1, 0)) < 0 ? -1 : 0;
		int nd = imp_node(m, OP_PAD, &v, 1, 0);
		ir_set_ints(m->g, nd, "pads", grow, 2 * r);
		ir_set_float(m->g, nd, "value", value);
		return done(m, nd);
	}
	for (int a = 0; a < r; a++) {
		if (!grow[a] && !grow[a + r])
			continue;
		int parts[3], n = 0;
		if (grow[a] && (parts[n++] = pad_part(m, v, a, dims[a], grow[a], false, mode)) < 0)
			return -1;
		parts[n++] = v;
		if (grow[a + r] && (parts[n++] = pad_part(m, v, a, dims[a], grow[a + r], true, mode)) < 0)
			return -1;
		int nd = imp_node(m, OP_CONCAT, parts, n, -1);
		ir_set_int(m->g, nd, "axis", a);
		if ((v = imp_infer(m, nd)) < 0)
			return -1;
		dims[a] += grow[a] + grow[a + r];
	}
	return imp_infer(m, imp_node(m, OP_IDENTITY, &v, 1, 0)) < 0 ? -1 : 0;
}

/* ---- compress, reverse-sequence, center-crop-pad ------------------------------------- */

/* Compress: the slices along axis (or of the flattened input) where the
 * constant condition is true, as a gather with constant indices. */
int idx_compress(Importer *m, Op op)
{
	const Value *c = imp_const_in(m, 1, "condition");
	if (!c)
		return -1;
	if (c->shape.rank != 1)
		return imp_err(m, "condition must be 1-D");
	int x = m->in[0];
	const Shape *xs = &in_val(m, 0)->shape;
	int64_t axis = 0;
	if (imp_attr(m, "axis")) {
		axis = imp_int(m, "axis", 0);
		if (xs->rank < 0 || axis < -xs->rank || axis >= xs->rank)
			return imp_err(m, "axis %lld is out of range", (long long)axis);
		if (axis < 0)
			axis += xs->rank;
	} else {
		int64_t flat = -1;
		if ((x = imp_ints_op(m, OP_RESHAPE, x, "shape", &flat, 1, -1)) < 0)
			return -1;
	}
	const Dim d = m->g->val[x].shape.d[axis];
	int64_t n = ir_shape_numel(&c->shape), k = 0;
	if (d.sym || d.n < 0 || n > d.n)
		return imp_err(m, "condition has %lld entries; the axis needs a static extent at least that",
			(long long)n);
	int64_t *ix = calloc((size_t)n + 1, sizeof *ix);
	size_t esz = ir_dtype_size(c->dtype);
	for (int64_t i = 0; i < n; i++)
		if (ir_elem_get(c->dtype, (const char *)c->data + (size_t)i * esz) != 0)
			ix[k++] = i;
	int ic = imp_const(m, "indices", DT_I64, ir_shape_make(1, &k), ix, (size_t)k * 8);
	free(ix);
	int in[2] = {x, ic};
	int nd = imp_node(m, OP_GATHER, in, 2, 0);
	ir_set_int(m->g, nd, "axis", axis);
	return done(m, nd);
}

/* ReverseSequence: along time_axis, the first lens[b] elements of batch b
 * reversed. Lengths are read at run time: a gather_elements whose index
 * at (t, b) is t + (len - 1 - 2t) * clip(len - t, 0, 1), computed by
 * integer ops over broadcast [T] and [B] vectors. */
int idx_reverse_sequence(Importer *m, Op op)
{
	int64_t dims[IR_MAX_RANK];
	int r = idx_static_dims(m, 0, dims);
	if (r < 0)
		return -1;
	int64_t ta = imp_int(m, "time_axis", 0), ba = imp_int(m, "batch_axis", 1);
	if (r < 2 || !((ta == 0 && ba == 1) || (ta == 1 && ba == 0)))
		return imp_err(m, "needs rank >= 2 and time/batch axes 0 and 1");
	if (in_val(m, 1)->dtype != DT_I64)
		return imp_err(m, "sequence_lens must be int64");
	int64_t T = dims[ta], one = 1, two = 2;
	int64_t ts[IR_MAX_RANK], bs[IR_MAX_RANK];
	for (int i = 0; i < r; i++)
		ts[i] = bs[i] = 1;
	ts[ta] = T;
	bs[ba] = dims[ba];
	int64_t *tv = calloc((size_t)T + 1, sizeof *tv);
	for (int64_t t = 0; t < T; t++)
		tv[t] = t;
	int tt = imp_const(m, "time", DT_I64, ir_shape_make(r, ts), tv, (size_t)T * 8);
	free(tv);
	Shape s0 = ir_shape_make(0, NULL);
	int c1 = imp_const(m, "one", DT_I64, s0, &one, 8), c2 = imp_const(m, "two", DT_I64, s0, &two, 8);
	int len = imp_ints_op(m, OP_RESHAPE, m->in[1], "shape", bs, r, -1);
	if (len < 0)
		return -1;
	int d = idx_bin(m, OP_SUB, len, tt);
	if (d < 0)
		return -1;
	int nd = imp_node(m, OP_CLIP, &d, 1, -1);
	ir_set_float(m->g, nd, "min", 0);
	ir_set_float(m->g, nd, "max", 1);
	int in_seq = imp_infer(m, nd), k, ix;
	if (in_seq < 0 || (k = idx_bin(m, OP_SUB, len, c1)) < 0 || (d = idx_bin(m, OP_MUL, tt, c2)) < 0 ||
		(k = idx_bin(m, OP_SUB, k, d)) < 0 || (k = idx_bin(m, OP_MUL, k, in_seq)) < 0 ||
		(ix = idx_bin(m, OP_ADD, tt, k)) < 0 || (ix = imp_ints_op(m, OP_EXPAND, ix, "shape", dims, r, -1)) < 0)
		return -1;
	int gin[2] = {m->in[0], ix};
	nd = imp_node(m, OP_GATHER_ELEMENTS, gin, 2, 0);
	ir_set_int(m->g, nd, "axis", ta);
	return done(m, nd);
}

/* CenterCropPad: per axis, a centred crop (negative pads) or zero pad. */
int idx_center_crop_pad(Importer *m, Op op)
{
	int64_t dims[IR_MAX_RANK], shape[IR_MAX_RANK], pads[2 * IR_MAX_RANK] = {0};
	int r = idx_static_dims(m, 0, dims);
	if (r < 0)
		return -1;
	int ns = imp_const_ints(m, 1, "shape", shape, IR_MAX_RANK);
	if (ns < 0)
		return -1;
	const int64_t *av;
	int na = imp_ints(m, "axes", &av);
	if ((na >= 0 ? na : r) != ns)
		return imp_err(m, "shape has %d values for %d axes", ns, na >= 0 ? na : r);
	for (int i = 0; i < ns; i++) {
		int64_t a = na >= 0 ? av[i] : i;
		if (a < 0)
			a += r;
		if (a < 0 || a >= r || shape[i] < 0)
			return imp_err(m, "axis or extent %d is invalid", i);
		int64_t diff = shape[i] - dims[a], before = diff >= 0 ? diff / 2 : -((-diff) / 2);
		pads[a] = before;
		pads[a + r] = diff - before;
	}
	return idx_pad(m, pads, 2 * r, 0, "constant");
}

/* Trilu with k given at run time: a selection by indexing, exact for every
 * value (no arithmetic on x). With D[i, j] = j - i (a constant), keep =
 * clip(D - k + 1, 0, 1) (upper; lower: clip(k - D + 1, 0, 1)), and
 * y = gather_elements(concat(zeros, x, axis -1), j + cols * keep, axis -1). */
/* ---- one-hot and max-unpool as scatters ------------------------------------------------ */

/* OneHot: off everywhere, on scattered along axis at each index (read at
 * run time, negative ones from the end); depth must be known now. */
int idx_onehot(Importer *m, Op op)
{
	int64_t dims[IR_MAX_RANK], od[IR_MAX_RANK];
	int r = idx_static_dims(m, 0, dims);
	double depth;
	if (r < 0 || imp_const_scalar(m, 1, "depth", &depth) < 0)
		return -1;
	if (r + 1 > IR_MAX_RANK || !(depth >= 1 && depth <= (double)(1 << 30)))
		return imp_err(m, "depth %g or rank %d is unsupported", depth, r);
	const Value *vals = in_val(m, 2);
	if (ir_shape_numel(&vals->shape) != 2)
		return imp_err(m, "values must hold two elements (off, on)");
	int64_t ax = imp_int(m, "axis", -1);
	if (ax < -(r + 1) || ax > r)
		return imp_err(m, "axis %lld is out of range", (long long)ax);
	int a = (int)(ax < 0 ? ax + r + 1 : ax);
	for (int i = 0, k = 0; i <= r; i++)
		od[i] = i == a ? (int64_t)depth : dims[k++];
	int idx = m->in[0];
	if (in_val(m, 0)->dtype != DT_I64) {
		int nd = imp_node(m, OP_CAST, &idx, 1, -1);
		ir_set_string(m->g, nd, "to", "i64");
		if ((idx = imp_infer(m, nd)) < 0)
			return -1;
	}
	int64_t a64 = a, one = 1, zero = 0;
	if ((idx = imp_ints_op(m, OP_UNSQUEEZE, idx, "axes", &a64, 1, -1)) < 0)
		return -1;
	Shape s0 = ir_shape_make(0, NULL);
	int c0 = imp_const(m, "off_at", DT_I64, s0, &zero, 8), c1 = imp_const(m, "on_at", DT_I64, s0, &one, 8);
	int vf = m->in[2];
	if (vals->shape.rank != 1 && (vf = imp_ints_op(m, OP_RESHAPE, vf, "shape", (const int64_t[]){2}, 1, -1)) < 0)
		return -1;
	int off = idx_bin(m, OP_GATHER, vf, c0), on = idx_bin(m, OP_GATHER, vf, c1), data, upd;
	if (off < 0 || on < 0 || (data = imp_ints_op(m, OP_EXPAND, off, "shape", od, r + 1, -1)) < 0)
		return -1;
	const Shape *us = &m->g->val[idx].shape;
	int64_t ud[IR_MAX_RANK];
	for (int i = 0; i < us->rank; i++)
		ud[i] = us->d[i].n;
	if ((upd = imp_ints_op(m, OP_EXPAND, on, "shape", ud, us->rank, -1)) < 0)
		return -1;
	int in[3] = {data, idx, upd};
	int nd = imp_node(m, OP_SCATTER_ELEMENTS, in, 3, 0);
	ir_set_int(m->g, nd, "axis", a);
	ir_set_string(m->g, nd, "reduction", "none");
	return done(m, nd);
}

/* MaxUnpool: zeros with X written at MaxPool's flat indices I (over the
 * whole unpooled tensor, as MaxPool numbers them); an output_shape larger
 * than the unpooled shape pads zeros at the end of each dim, as the ONNX
 * reference does. */
int idx_max_unpool(Importer *m, Op op)
{
	int64_t dims[IR_MAX_RANK], od[IR_MAX_RANK], want[IR_MAX_RANK], total = 1, flat = -1;
	int r = idx_static_dims(m, 0, dims);
	if (r < 0)
		return -1;
	if (r < 3 || in_val(m, 1)->dtype != DT_I64 || !ir_shape_eq(&in_val(m, 0)->shape, &in_val(m, 1)->shape))
		return imp_err(m, "needs X of rank >= 3 and int64 indices of X's shape");
	if (has_in(m, 2) && imp_const_ints(m, 2, "output_shape", want, IR_MAX_RANK) != r)
		return imp_err(m, "output_shape must have %d values", r);
	{
		const int64_t *k, *st, *pd;
		int nk = imp_ints(m, "kernel_shape", &k), ns = imp_ints(m, "strides", &st);
		int np = imp_ints(m, "pads", &pd);
		if (nk != r - 2 || (ns >= 0 && ns != r - 2) || (np >= 0 && np != 2 * (r - 2)))
			return imp_err(m, "kernel_shape, strides and pads do not fit rank %d", r);
		od[0] = dims[0];
		od[1] = dims[1];
		for (int i = 0; i < r - 2; i++)
			od[2 + i] = (dims[2 + i] - 1) * (ns >= 0 ? st[i] : 1) + k[i] -
				    (np >= 0 ? pd[i] + pd[i + r - 2] : 0);
	}
	for (int i = 0; i < r; i++)
		if (od[i] < 0 || !ck_mul(total, od[i], &total))
			return imp_err(m, "output_shape is invalid");
	DType t = in_val(m, 0)->dtype;
	unsigned char z[16] = {0};
	int zc = imp_const(m, "zero", t, ir_shape_make(0, NULL), z, ir_dtype_size(t));
	int data = imp_ints_op(m, OP_EXPAND, zc, "shape", &total, 1, -1);
	int ix = imp_ints_op(m, OP_RESHAPE, m->in[1], "shape", &flat, 1, -1);
	int upd = imp_ints_op(m, OP_RESHAPE, m->in[0], "shape", &flat, 1, -1);
	if (data < 0 || ix < 0 || upd < 0)
		return -1;
	int in[3] = {data, ix, upd};
	int nd = imp_node(m, OP_SCATTER_ELEMENTS, in, 3, -1);
	ir_set_int(m->g, nd, "axis", 0);
	int y = imp_infer(m, nd);
	if (y < 0)
		return -1;
	if (!has_in(m, 2))
		return imp_ints_op(m, OP_RESHAPE, y, "shape", od, r, 0) < 0 ? -1 : 0;
	int64_t pads[2 * IR_MAX_RANK] = {0};
	for (int i = 0; i < r; i++) {
		if (want[i] < od[i])
			return imp_err(m, "output_shape is smaller than the unpooled shape");
		pads[r + i] = want[i] - od[i];
	}
	if ((y = imp_ints_op(m, OP_RESHAPE, y, "shape", od, r, -1)) < 0)
		return -1;
	nd = imp_node(m, OP_PAD, &y, 1, 0);
	ir_set_ints(m->g, nd, "pads", pads, 2 * r);
	return done(m, nd);
}
