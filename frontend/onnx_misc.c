/* onnx_misc.c — standalone ONNX ops of the misc family, each imported as a
 * rewrite into existing IR ops (so they fuse like any other graph):
 *   HannWindow, HammingWindow, BlackmanWindow: constants (size is constant)
 *   MatMulInteger, QLinearMatMul: casts, a float32 matmul of the centered
 *     integers (exact while every partial sum stays below 2^24), then a
 *     float64 rescale, round-half-even and saturation for QLinearMatMul
 *   QLinearConv: QLinearMatMul's recipe around a float32 conv
 * DFT and STFT are in onnx_signal.c. Shapes must be static. */
#include "onnx_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool has_in(const Importer *m, int k) { return k < m->nin && m->in[k] >= 0; }
static const Shape *shp(const Importer *m, int v) { return &m->g->val[v].shape; }

static int node1(Importer *m, Op op, int x, int slot)
{
	return imp_op1(m, op, x, slot);
}

static int node2(Importer *m, Op op, int a, int b, int slot)
{
	return imp_op2(m, op, a, b, slot);
}

static int cast_to(Importer *m, int v, DType t, int slot)
{
	return imp_cast(m, v, t, slot);
}

static int reshape(Importer *m, int x, const int64_t *dims, int n, int slot)
{
	return imp_ints_op(m, OP_RESHAPE, x, "shape", dims, n, slot);
}

/* ---- window functions ----------------------------------------------------------- */

/* w[n] = a0 - a1 cos(2 pi n / D) + a2 cos(4 pi n / D), D = N (periodic)
 * or N - 1 (symmetric), computed in double and stored as output_datatype. */
int misc_window(Importer *m, Op op)
{
	(void)op;
	const char *t = m->np->op_type;
	double a0, a1, a2 = 0;
	if (strcmp(t, "HannWindow") == 0) {
		a0 = 0.5, a1 = 0.5;
	} else if (strcmp(t, "HammingWindow") == 0) {
		a0 = 25.0 / 46, a1 = 21.0 / 46;
	} else {
		a0 = 0.42, a1 = 0.5, a2 = 0.08;
	}
	int64_t n;
	if (imp_const_int(m, 0, "size", &n) < 0)
		return -1;
	if (n < 0 || n > (1 << 24))
		return imp_err(m, "size %lld is out of range", (long long)n);
	int64_t code = imp_int(m, "output_datatype", 1);
	DType dt = code > 0 && code <= 64 ? (DType)code : DT_UNDEF;
	if (ir_dtype_size(dt) == 0)
		return imp_err(m, "output_datatype %lld is unsupported", (long long)code);
	double den = imp_int(m, "periodic", 1) ? (double)n : (double)(n - 1);
	size_t esz = ir_dtype_size(dt);
	unsigned char *buf = calloc((size_t)n + 1, esz);
	if (!buf)
		return imp_err(m, "out of memory");
	for (int64_t i = 0; i < n; i++) {
		double x = den > 0 ? 2 * M_PI * (double)i / den : 0;
		ir_elem_put(dt, buf + (size_t)i * esz, a0 - a1 * cos(x) + a2 * cos(2 * x));
	}
	int v = imp_const(m, "window", dt, ir_shape_make(1, &n), buf, (size_t)n * esz);
	free(buf);
	if (v < 0)
		return -1;
	imp_bind(m, 0, v);
	return 0;
}

/* ---- integer matmuls -------------------------------------------------------------- */

/* Input k (8-bit) minus zero point input z (omitted: 0), as float32. */
static int centered(Importer *m, int k, int z, const char *what)
{
	DType t = m->g->val[m->in[k]].dtype;
	if (t != DT_U8 && t != DT_I8)
		return imp_err(m, "%s must be uint8 or int8, not %s", what, ir_dtype_name(t));
	int x = cast_to(m, m->in[k], DT_F32, -1);
	if (!has_in(m, z))
		return x;
	if (m->g->val[m->in[z]].dtype != t)
		return imp_err(m, "the zero point of %s must have its type", what);
	if (ir_shape_numel(shp(m, m->in[z])) != 1)
		return imp_err(m, "only per-tensor zero points are supported (input %d)", z);
	int64_t none = 0;
	return node2(m, OP_SUB, x, reshape(m, cast_to(m, m->in[z], DT_F32, -1), &none, 0, -1), -1);
}

/* (a - a_zp) @ (b - b_zp) as float32, refusing depths whose sums could
 * leave float32's exact integer range; -1 with a message. */
static int int_matmul(Importer *m, int a, int az, int b, int bz)
{
	const Shape *as = shp(m, m->in[a]);
	if (as->rank < 1 || !ir_shape_static(as))
		return imp_err(m, "needs inputs of static shape");
	int64_t k = as->d[as->rank - 1].n, kmax = (((int64_t)1 << 24) - 1) / (255 * 255);
	if (k > kmax)
		return imp_err(m, "inner dimension %lld exceeds the %lld that float32 sums exactly",
			(long long)k, (long long)kmax);
	int x = centered(m, a, az, "A"), y = centered(m, b, bz, "B");
	return x < 0 || y < 0 ? -1 : node2(m, OP_MATMUL, x, y, -1);
}

/* MatMulInteger: int32 result of the centered product. */
int misc_matmul_integer(Importer *m, Op op)
{
	(void)op;
	int p = int_matmul(m, 0, 2, 1, 3);
	return cast_to(m, p, DT_I32, 0) < 0 ? -1 : 0;
}

/* A per-tensor float scale input k as a scalar. */
static int scale_in(Importer *m, int k, DType t)
{
	int v = m->in[k];
	if (m->g->val[v].dtype != t || !ir_dtype_is_float(t))
		return imp_err(m, "scales must share one float type");
	if (ir_shape_numel(shp(m, v)) != 1)
		return imp_err(m, "only per-tensor scales are supported (input %d)", k);
	int64_t none = 0;
	return reshape(m, v, &none, 0, -1);
}

/* QLinearMatMul: y = saturate(round(C * (a_scale * b_scale / y_scale)) + y_zp)
 * with C the exact integer product; the multiplier is formed in the
 * scales' type (float16/bfloat16: in float32, rounded back after each
 * step, which is what the narrower type's arithmetic gives), the rest in
 * float64, as ONNX's reference does. */
int misc_qlinear_matmul(Importer *m, Op op)
{
	(void)op;
	DType st = m->g->val[m->in[1]].dtype;
	int sa = scale_in(m, 1, st), sb = scale_in(m, 4, st), sy = scale_in(m, 6, st);
	if (sa < 0 || sb < 0 || sy < 0)
		return -1;
	int mult;
	if (st == DT_F32 || st == DT_F64) {
		mult = node2(m, OP_DIV, node2(m, OP_MUL, sa, sb, -1), sy, -1);
	} else { /* in float32, rounded to the scales' type after each step */
		int p = node2(m, OP_MUL, cast_to(m, sa, DT_F32, -1), cast_to(m, sb, DT_F32, -1), -1);
		p = cast_to(m, cast_to(m, p, st, -1), DT_F32, -1);
		mult = cast_to(m, node2(m, OP_DIV, p, cast_to(m, sy, DT_F32, -1), -1), st, -1);
	}
	int c = cast_to(m, int_matmul(m, 0, 2, 3, 5), DT_F64, -1);
	int d = node2(m, OP_MUL, c, cast_to(m, mult, DT_F64, -1), -1);
	DType yt = m->g->val[m->in[7]].dtype;
	if (yt != DT_U8 && yt != DT_I8)
		return imp_err(m, "y_zero_point must be uint8 or int8");
	if (ir_shape_numel(shp(m, m->in[7])) != 1)
		return imp_err(m, "only a per-tensor y_zero_point is supported");
	int64_t none = 0;
	int r = node1(m, OP_ROUND, d, -1);
	r = node2(m, OP_ADD, r, reshape(m, cast_to(m, m->in[7], DT_F64, -1), &none, 0, -1), -1);
	if (r < 0)
		return -1;
	int cl = imp_node(m, OP_CLIP, &r, 1, -1);
	ir_set_float(m->g, cl, "min", yt == DT_U8 ? 0 : -128);
	ir_set_float(m->g, cl, "max", yt == DT_U8 ? 255 : 127);
	return cast_to(m, imp_infer(m, cl), yt, 0) < 0 ? -1 : 0;
}

/* ---- QLinearConv ------------------------------------------------------------------ */

/* conv of the centered 8-bit operands in float32 (exact while each output
 * sums at most 258 products), plus the int32 bias, then QLinearMatMul's
 * rescale, round, zero point and saturation. Window attributes as for
 * Conv; auto_pad SAME_* and per-channel scales are unsupported. */
int misc_qlinear_conv(Importer *m, Op op)
{
	(void)op;
	const Shape xs = *shp(m, m->in[0]), ws = *shp(m, m->in[3]);
	int s = xs.rank - 2;
	if (!ir_shape_static(&xs) || !ir_shape_static(&ws) || s < 1 || s > 3 || ws.rank != xs.rank)
		return imp_err(m, "needs x and w of static shapes with 1 to 3 spatial dims");
	const char *ap = imp_str(m, "auto_pad", "NOTSET");
	if (*ap && strcmp(ap, "NOTSET") != 0 && strcmp(ap, "VALID") != 0)
		return imp_err(m, "auto_pad \"%s\" is unsupported", ap);
	int64_t st[3], dil[3], pads[6], terms = ws.d[1].n;
	const int64_t *v;
	int n;
	for (int i = 0; i < s; i++)
		st[i] = 1, dil[i] = 1, pads[i] = pads[s + i] = 0, terms *= ws.d[i + 2].n;
	if (((n = imp_ints(m, "strides", &v)) >= 0 && n != s) || ((n = imp_ints(m, "dilations", &v)) >= 0 && n != s) ||
	    ((n = imp_ints(m, "pads", &v)) >= 0 && n != 2 * s) || ((n = imp_ints(m, "kernel_shape", &v)) >= 0 && n != s))
		return imp_err(m, "window attributes must have one value per spatial dim");
	for (int i = 0; i < imp_ints(m, "strides", &v); i++)
		st[i] = v[i];
	for (int i = 0; i < imp_ints(m, "dilations", &v); i++)
		dil[i] = v[i];
	for (int i = 0; i < imp_ints(m, "pads", &v); i++)
		pads[i] = v[i];
	for (int i = 0; i < imp_ints(m, "kernel_shape", &v); i++)
		if (v[i] != ws.d[i + 2].n)
			return imp_err(m, "kernel_shape does not match the weight");
	for (int i = 0; i < s; i++)
		if (st[i] < 1 || dil[i] < 1 || pads[i] < 0 || pads[s + i] < 0)
			return imp_err(m, "bad strides, dilations or pads");
	int64_t kmax = (((int64_t)1 << 24) - 1) / (255 * 255);
	if (terms > kmax)
		return imp_err(m, "%lld products per output exceed the %lld that float32 sums exactly",
			(long long)terms, (long long)kmax);
	int x = centered(m, 0, 2, "x"), w = centered(m, 3, 5, "w");
	if (x < 0 || w < 0)
		return -1;
	int nd = imp_node(m, OP_CONV, (int[]){x, w}, 2, -1);
	ir_set_ints(m->g, nd, "strides", st, s);
	ir_set_ints(m->g, nd, "pads", pads, 2 * s);
	ir_set_ints(m->g, nd, "dilations", dil, s);
	ir_set_int(m->g, nd, "group", imp_int(m, "group", 1));
	int c = cast_to(m, imp_infer(m, nd), DT_F64, -1);
	if (has_in(m, 8)) { /* int32 bias [M] -> [1, M, 1, ...] */
		int64_t bd[5] = {1, ws.d[0].n, 1, 1, 1};
		if (m->g->val[m->in[8]].dtype != DT_I32 || ir_shape_numel(shp(m, m->in[8])) != ws.d[0].n)
			return imp_err(m, "B must be int32 with one value per output channel");
		c = node2(m, OP_ADD, c, reshape(m, cast_to(m, m->in[8], DT_F64, -1), bd, xs.rank, -1), -1);
	}
	DType st_t = m->g->val[m->in[1]].dtype;
	int sx = scale_in(m, 1, st_t), sw = scale_in(m, 4, st_t), sy = scale_in(m, 6, st_t);
	if (sx < 0 || sw < 0 || sy < 0 || st_t != DT_F32)
		return sx < 0 || sw < 0 || sy < 0 ? -1 : imp_err(m, "scales must be float32");
	int mult = node2(m, OP_DIV, node2(m, OP_MUL, sx, sw, -1), sy, -1);
	int d = node2(m, OP_MUL, c, cast_to(m, mult, DT_F64, -1), -1);
	DType yt = m->g->val[m->in[7]].dtype;
	if ((yt != DT_U8 && yt != DT_I8) || ir_shape_numel(shp(m, m->in[7])) != 1)
		return imp_err(m, "y_zero_point must be one uint8 or int8");
	int64_t none = 0;
	int r = node1(m, OP_ROUND, d, -1);
	r = node2(m, OP_ADD, r, reshape(m, cast_to(m, m->in[7], DT_F64, -1), &none, 0, -1), -1);
	if (r < 0)
		return -1;
	int cl = imp_node(m, OP_CLIP, &r, 1, -1);
	ir_set_float(m->g, cl, "min", yt == DT_U8 ? 0 : -128);
	ir_set_float(m->g, cl, "max", yt == DT_U8 ? 255 : 127);
	return cast_to(m, imp_infer(m, cl), yt, 0) < 0 ? -1 : 0;
}
