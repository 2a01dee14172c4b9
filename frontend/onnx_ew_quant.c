/* onnx_ew_quant.c — QuantizeLinear and DequantizeLinear (ew family),
 * imported as rewrites into elementwise primitives, computed in float32:
 *   dequantize: y = (x - zero_point) * scale
 *   quantize:   y = clip(round_half_even(x / scale) + zero_point, T) as T
 * Scale and zero point may be run-time tensors: per tensor (one value),
 * per axis (1-D along `axis`, reshaped to broadcast) or blocked
 * (`block_size`: x is reshaped to split `axis` into blocks, each block
 * sharing one parameter, and the result reshaped back). Quantizing to a
 * float8/float4 skips round and clip: the final cast rounds to nearest
 * even and saturates unless saturate=0 (ir/dtype_exotic.c); int4/uint4/
 * int2/uint2 clip to their own ranges. */
#include "onnx_impl.h"

#include <math.h>
#include <string.h>

/* op(a) or op(a, b) bound to slot, inferred; -1 passes through. */
static int node2(Importer *m, Op op, int a, int b, int slot)
{
	if (a < 0 || (b < -1))
		return -1;
	int in[2] = {a, b};
	return imp_infer(m, imp_node(m, op, in, b < 0 ? 1 : 2, slot));
}

static int cast_to(Importer *m, int v, DType t, int slot)
{
	return imp_cast(m, v, t, slot);
}

static int reshape(Importer *m, int v, const int64_t *dims, int rank, int slot)
{
	return imp_ints_op(m, OP_RESHAPE, v, "shape", dims, rank, slot);
}

/* The layout the computation runs in. */
typedef struct QLay {
	Shape x;            /* x's shape (static) */
	int axis;           /* normalized axis */
	int64_t block;      /* block size, 0: none */
	int64_t xs[IR_MAX_RANK]; /* x reshaped (blocked: axis split into [C / B, B]) */
	int xr;             /* its rank */
} QLay;

static int layout(Importer *m, QLay *q)
{
	q->x = m->g->val[m->in[0]].shape;
	if (!ir_shape_static(&q->x))
		return imp_err(m, "needs an input of static shape");
	int r = q->x.rank;
	int64_t axis = imp_int(m, "axis", 1);
	if (axis < 0)
		axis += r;
	q->block = imp_int(m, "block_size", 0);
	if (q->block < 0)
		return imp_err(m, "block_size must not be negative");
	q->axis = axis >= 0 && axis < r ? (int)axis : -1; /* checked where an axis is needed */
	if (q->block && q->axis < 0)
		return imp_err(m, "axis %lld is out of range for rank %d", (long long)imp_int(m, "axis", 1), r);
	q->xr = 0;
	for (int i = 0; i < r; i++) {
		if (q->block && i == q->axis) {
			if (q->x.d[i].n % q->block)
				return imp_err(m, "dim %d (%lld) is not a multiple of block_size %lld", i,
					(long long)q->x.d[i].n, (long long)q->block);
			q->xs[q->xr++] = q->x.d[i].n / q->block;
			q->xs[q->xr++] = q->block;
		} else {
			q->xs[q->xr++] = q->x.d[i].n;
		}
	}
	if (q->xr > IR_MAX_RANK)
		return imp_err(m, "rank %d is too large for blocked quantization", r);
	return 0;
}

/* Input k (scale or zero point) as float32, shaped to broadcast against
 * x in layout q; -1 with a message. */
static int param(Importer *m, const QLay *q, int k, const char *what)
{
	int v = m->in[k];
	const Value *p = &m->g->val[v];
	int64_t n = ir_shape_numel(&p->shape);
	if (!ir_shape_static(&p->shape))
		return imp_err(m, "%s needs a static shape", what);
	int f = cast_to(m, v, DT_F32, -1);
	if (n == 1 && !q->block)
		return f; /* per tensor */
	int64_t dims[IR_MAX_RANK];
	int nd = 0;
	if (!q->block) { /* per axis: [C] -> [C, 1, ...] */
		if (q->axis < 0)
			return imp_err(m, "axis %lld is out of range for rank %d",
				(long long)imp_int(m, "axis", 1), q->x.rank);
		if (p->shape.rank != 1 || n != q->x.d[q->axis].n)
			return imp_err(m, "%s must hold one value or one per element of axis %d", what, q->axis);
		dims[nd++] = n;
		for (int i = q->axis + 1; i < q->x.rank; i++)
			dims[nd++] = 1;
		return reshape(m, f, dims, nd, -1);
	}
	/* blocked: x's shape with axis's extent C / B, then [.., C / B, 1, ..] */
	if (p->shape.rank != q->x.rank)
		return imp_err(m, "%s must have x's rank for blocked quantization", what);
	for (int i = 0; i < q->x.rank; i++) {
		int64_t want = i == q->axis ? q->x.d[i].n / q->block : q->x.d[i].n;
		if (p->shape.d[i].n != want)
			return imp_err(m, "%s has extent %lld in dim %d; expected %lld", what,
				(long long)p->shape.d[i].n, i, (long long)want);
		dims[nd++] = p->shape.d[i].n;
		if (i == q->axis)
			dims[nd++] = 1;
	}
	return reshape(m, f, dims, nd, -1);
}

/* x as float32 in layout q. */
static int x_f32(Importer *m, const QLay *q)
{
	int f = cast_to(m, m->in[0], DT_F32, -1);
	return q->block ? reshape(m, f, q->xs, q->xr, -1) : f;
}

/* r in layout q back to x's shape, as dtype t, bound to output 0. */
static int finish(Importer *m, const QLay *q, int r, DType t)
{
	int64_t dims[IR_MAX_RANK];
	for (int i = 0; i < q->x.rank; i++)
		dims[i] = q->x.d[i].n;
	if (q->block)
		r = reshape(m, r, dims, q->x.rank, t == DT_F32 ? 0 : -1);
	if (t != DT_F32 || !q->block)
		r = cast_to(m, r, t, 0);
	return r < 0 ? -1 : 0;
}

int ew_dequantize(Importer *m, Op op)
{
	QLay q;
	if (layout(m, &q))
		return -1;
	DType st = m->g->val[m->in[1]].dtype, t = st;
	int64_t od = imp_int(m, "output_dtype", 0);
	if (od)
		t = (DType)od;
	if (!ir_dtype_is_float(t) || !ir_dtype_is_float(st))
		return imp_err(m, "scale and output must be float types");
	int x = x_f32(m, &q);
	if (x < 0)
		return -1;
	if (m->nin > 2 && m->in[2] >= 0) {
		if (m->g->val[m->in[2]].dtype != m->g->val[m->in[0]].dtype)
			return imp_err(m, "zero point must have x's type");
		if ((x = node2(m, OP_SUB, x, param(m, &q, 2, "x_zero_point"), -1)) < 0)
			return -1;
	}
	int s = param(m, &q, 1, "x_scale");
	return s < 0 ? -1 : finish(m, &q, node2(m, OP_MUL, x, s, -1), t);
}

int ew_quantize(Importer *m, Op op)
{
	QLay q;
	if (layout(m, &q))
		return -1;
	if (imp_attr(m, "precision") && imp_int(m, "precision", 0) != 0)
		return imp_err(m, "precision is unsupported");
	bool zp = m->nin > 2 && m->in[2] >= 0;
	int64_t od = imp_int(m, "output_dtype", 0);
	DType t = zp ? m->g->val[m->in[2]].dtype : od ? (DType)od : DT_U8;
	if (od && (DType)od != t)
		return imp_err(m, "output_dtype disagrees with the zero point's type");
	bool sf = ir_dtype_is_small_float(t); /* float8/float4: the cast rounds (dt family) */
	if (!ir_dtype_is_int(t) && !ir_dtype_is_exotic(t))
		return imp_err(m, "quantizing to %s is unsupported", ir_dtype_name(t));
	int s = param(m, &q, 1, "y_scale");
	int v = node2(m, OP_DIV, x_f32(m, &q), s, -1);
	if (!sf)
		v = node2(m, OP_ROUND, v, -1, -1);
	if (v >= 0 && zp)
		v = node2(m, OP_ADD, v, param(m, &q, 2, "y_zero_point"), -1);
	if (v < 0)
		return -1;
	if (sf) { /* saturate=0 reaches the final cast (onnx_exotic.c) */
		int r = finish(m, &q, v, t), nd = m->g->nnode - 1;
		if (r == 0 && m->g->node[nd].op == OP_CAST)
			dt_cast_saturate(m, nd);
		return r;
	}
	/* saturate to T's range (the cast would saturate too; this states it) */
	int bits = ir_dtype_bits(t);
	bool u = ir_dtype_is_unsigned(t) || t == DT_U4 || t == DT_U2;
	int c = imp_node(m, OP_CLIP, &v, 1, -1);
	ir_set_float(m->g, c, "min", u ? 0 : -ldexp(1, bits - 1));
	ir_set_float(m->g, c, "max", u ? ldexp(1, bits) - 1 : ldexp(1, bits - 1) - 1);
	return finish(m, &q, imp_infer(m, c), t);
}

/* reduce_max of v over every axis, keepdims 0: a scalar. */
static int max_all(Importer *m, int v)
{
	if (v < 0)
		return -1;
	int nd = imp_node(m, OP_REDUCE_MAX, &v, 1, -1);
	ir_set_int(m->g, nd, "keepdims", 0);
	return imp_infer(m, nd);
}

static int scalar_f32(Importer *m, const char *what, float v)
{
	return imp_const(m, what, DT_F32, ir_shape_make(0, NULL), &v, sizeof v);
}

/* clip(round(v), 0, 255) as u8 bound to slot. */
static int to_u8(Importer *m, int v, int slot)
{
	v = node2(m, OP_ROUND, v, -1, -1);
	if (v < 0)
		return -1;
	int c = imp_node(m, OP_CLIP, &v, 1, -1);
	ir_set_float(m->g, c, "min", 0);
	ir_set_float(m->g, c, "max", 255);
	return cast_to(m, imp_infer(m, c), DT_U8, slot);
}

/* DynamicQuantizeLinear (f32 to u8): the range [min(0, min x), max(0,
 * max x)] maps onto [0, 255]: scale = range / 255, zero point =
 * clip(round(-min / scale)), y = clip(round(x / scale) + zero point). An
 * all-zero x has scale 0 (and NaN results), as the formula gives. */
int ew_dynquantize(Importer *m, Op op)
{
	int x = m->in[0];
	if (m->g->val[x].dtype != DT_F32)
		return imp_err(m, "is supported for float32 inputs only");
	int zero = scalar_f32(m, "zero", 0);
	int hi = node2(m, OP_MAX, max_all(m, x), zero, -1);
	int lo = node2(m, OP_MIN, node2(m, OP_NEG, max_all(m, node2(m, OP_NEG, x, -1, -1)), -1, -1), zero, -1);
	int range = hi < 0 || lo < 0 ? -1 : node2(m, OP_SUB, hi, lo, -1);
	int scale = range < 0 ? -1 : node2(m, OP_DIV, range, scalar_f32(m, "qrange", 255), 1);
	int zpf = scale < 0 ? -1 : node2(m, OP_DIV, node2(m, OP_NEG, lo, -1, -1), scale, -1);
	int zp = to_u8(m, zpf, 2);
	if (zp < 0)
		return -1;
	int q = node2(m, OP_DIV, x, scale, -1);
	q = q < 0 ? -1 : node2(m, OP_ADD, node2(m, OP_ROUND, q, -1, -1), cast_to(m, zp, DT_F32, -1), -1);
	return to_u8(m, q, 0) < 0 ? -1 : 0;
}
