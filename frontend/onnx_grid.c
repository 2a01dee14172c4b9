/* onnx_grid.c — GridSample and AffineGrid (misc family) as rewrites.
 *
 * GridSample (opset 16-22, any number r of spatial dims): X [N, C, d_1..d_r]
 * is read at the positions of grid [N, o_1..o_r, r] (component 0 is the
 * innermost axis). Per spatial axis, on [N, 1, O] tensors (O = o_1...o_r):
 *   x = (g + 1) / 2 (d - 1)           align_corners
 *     = ((g + 1) d - 1) / 2           otherwise
 *   nearest: x = round_half_even(x)
 *   x outside [lo, hi] ([0, d - 1] aligned, else [-0.5, d - 0.5]) is
 *   clamped to [0, d - 1] (border) or reflected into [lo, hi] (reflection)
 * then taps: nearest 1 (x), linear 2 (floor(x) + 0..1, weights 1 - t, t),
 * cubic 4 (floor(x) - 1..2, Keys' weights with a = -0.75) at t = x - floor.
 * A tap's index outside [0, d - 1] reads 0 (zeros: its weight is masked),
 * the clamped index (border) or the reflected one (reflection). Every
 * combination of taps gathers X [N, C, P] (P = d_1...d_r) with
 * gather_elements at the flat index, times the product of the weights.
 * Coordinates and weights are float32 (indices exact below 2^24 pixels).
 *
 * AffineGrid: grid [N, d.., r] = base [prod d, r + 1] @ theta^T with base
 * the constant normalized coordinates (x innermost) and a column of ones.
 *
 * RoiAlign: bilinear samples on a per-roi grid, gathered the same way
 * from the rows of X that batch_indices picks, then averaged or maxed. */
#include "onnx_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const Shape *shp(const Importer *m, int v) { return &m->g->val[v].shape; }

static int node1(Importer *m, Op op, int x)
{
	return x < 0 ? -1 : imp_infer(m, imp_node(m, op, &x, 1, -1));
}

static int node2(Importer *m, Op op, int a, int b)
{
	if (a < 0 || b < 0)
		return -1;
	int in[2] = {a, b};
	return imp_infer(m, imp_node(m, op, in, 2, -1));
}

static int where(Importer *m, int c, int a, int b)
{
	if (c < 0 || a < 0 || b < 0)
		return -1;
	int in[3] = {c, a, b};
	return imp_infer(m, imp_node(m, OP_WHERE, in, 3, -1));
}

static int kf(Importer *m, double v)
{
	float f = (float)v;
	return imp_const(m, "k", DT_F32, ir_shape_make(0, NULL), &f, sizeof f);
}

static int addk(Importer *m, int x, double v) { return node2(m, OP_ADD, x, kf(m, v)); }
static int mulk(Importer *m, int x, double v) { return node2(m, OP_MUL, x, kf(m, v)); }

static int clip(Importer *m, int x, double lo, double hi)
{
	if (x < 0)
		return -1;
	int c = imp_node(m, OP_CLIP, &x, 1, -1);
	ir_set_float(m->g, c, "min", lo);
	ir_set_float(m->g, c, "max", hi);
	return imp_infer(m, c);
}

static int cast_to(Importer *m, int v, DType t, int slot)
{
	return imp_cast(m, v, t, slot);
}

static int ints_node(Importer *m, Op op, int x, const char *attr, const int64_t *v, int n, int slot)
{
	return imp_ints_op(m, op, x, attr, v, n, slot);
}

/* x reflected into [lo, hi] by its nearer border, repeatedly. */
static int reflect(Importer *m, int x, double lo, double hi)
{
	double rng = hi - lo;
	if (rng <= 0)
		return clip(m, x, lo, lo);
	int below = node2(m, OP_LESS, x, kf(m, lo)), above = node2(m, OP_GREATER, x, kf(m, hi));
	int dlo = node2(m, OP_SUB, kf(m, lo), x), dhi = addk(m, x, -hi);
	int dx = where(m, below, dlo, where(m, above, dhi, kf(m, 0)));
	int n = node1(m, OP_FLOOR, mulk(m, dx, 1 / rng));
	int r = node2(m, OP_SUB, dx, mulk(m, n, rng));
	int half = mulk(m, n, 0.5);
	int even = node2(m, OP_EQUAL, node1(m, OP_FLOOR, half), half);
	int from_lo = addk(m, r, lo), from_hi = node2(m, OP_SUB, kf(m, hi), r);
	int fb = where(m, even, from_lo, from_hi), fa = where(m, even, from_hi, from_lo);
	return where(m, below, fb, where(m, above, fa, x));
}

enum { GS_ZEROS, GS_BORDER, GS_REFLECT };  /* padding modes */
enum { GS_NEAREST, GS_LINEAR, GS_CUBIC }; /* interpolation modes */

/* Keys' cubic weight of tap k (0..3) at fraction t, a = -0.75. */
static int cubic_w(Importer *m, int t, int k)
{
	const double a = -0.75;
	int s; /* distance from the tap: 1 + t, t, 1 - t, 2 - t */
	if (k == 0)
		s = addk(m, t, 1);
	else if (k == 1)
		s = t;
	else
		s = addk(m, mulk(m, t, -1), k == 2 ? 1 : 2);
	if (k == 1 || k == 2) /* ((a + 2) s - (a + 3)) s s + 1 */
		return addk(m, node2(m, OP_MUL, node2(m, OP_MUL, addk(m, mulk(m, s, a + 2), -(a + 3)), s), s), 1);
	/* ((a s - 5 a) s + 8 a) s - 4 a */
	return addk(m, node2(m, OP_MUL, addk(m, node2(m, OP_MUL, addk(m, mulk(m, s, a), -5 * a), s), 8 * a), s),
		-4 * a);
}

int misc_grid_sample(Importer *m, Op op)
{
	(void)op;
	const Shape xs = *shp(m, m->in[0]), gs = *shp(m, m->in[1]);
	int r = xs.rank - 2;
	if (!ir_shape_static(&xs) || !ir_shape_static(&gs) || r < 1 || gs.rank != r + 2 ||
	    gs.d[r + 1].n != r || gs.d[0].n != xs.d[0].n)
		return imp_err(m, "needs X [N, C, d...] and grid [N, o..., %d] of static shapes", r);
	DType xt = m->g->val[m->in[0]].dtype;
	if (!ir_dtype_is_float(xt) || !ir_dtype_is_float(m->g->val[m->in[1]].dtype))
		return imp_err(m, "X and grid must be float types");
	const char *ms = imp_str(m, "mode", m->opset >= 20 ? "linear" : "bilinear");
	const char *ps = imp_str(m, "padding_mode", "zeros");
	int mode = strcmp(ms, "nearest") == 0 ? GS_NEAREST
		: strcmp(ms, "linear") == 0 || strcmp(ms, "bilinear") == 0 ? GS_LINEAR
		: strcmp(ms, "cubic") == 0 || strcmp(ms, "bicubic") == 0 ? GS_CUBIC : -1;
	int pad = strcmp(ps, "zeros") == 0 ? GS_ZEROS : strcmp(ps, "border") == 0 ? GS_BORDER
		: strcmp(ps, "reflection") == 0 ? GS_REFLECT : -1;
	if (mode < 0 || pad < 0)
		return imp_err(m, "mode \"%s\" with padding_mode \"%s\" is unsupported", ms, ps);
	if (mode == GS_CUBIC && r != 2)
		return imp_err(m, "cubic mode needs 2 spatial dims, not %d", r);
	bool align = imp_int(m, "align_corners", 0) != 0;
	int64_t n = xs.d[0].n, c = xs.d[1].n, o = 1, p = 1, nco;
	for (int i = 0; i < r; i++) {
		if (xs.d[i + 2].n < 1)
			return imp_err(m, "X's spatial dims must be at least 1 (dim %d is %lld)", i + 2,
				(long long)xs.d[i + 2].n);
		if (!ck_mul(o, gs.d[i + 1].n, &o) || !ck_mul(p, xs.d[i + 2].n, &p))
			return imp_err(m, "too many elements");
	}
	if (!ck_mul(n, c, &nco) || !ck_mul(nco, o, &nco) || p >= ((int64_t)1 << 24) ||
	    nco > ((int64_t)1 << 30))
		return imp_err(m, "X has too many pixels per channel (%lld) or the output too many elements",
			(long long)p);
	int ntap = mode == GS_NEAREST ? 1 : mode == GS_LINEAR ? 2 : 4;
	/* per axis i (0: outermost) and tap k: index and weight, [N, 1, O] */
	int idx[IR_MAX_RANK][4], w[IR_MAX_RANK][4];
	int64_t g3[3] = {n, o, r}, c3[3] = {n, 1, o};
	int grid = ints_node(m, OP_RESHAPE, cast_to(m, m->in[1], DT_F32, -1), "shape", g3, 3, -1);
	for (int i = 0; i < r; i++) {
		double d = (double)xs.d[i + 2].n, lo = align ? 0 : -0.5, hi = align ? d - 1 : d - 0.5;
		int64_t comp = r - 1 - i, end = comp + 1, ax = 2;
		int sl = imp_node(m, OP_SLICE, &grid, 1, -1);
		ir_set_ints(m->g, sl, "starts", &comp, 1);
		ir_set_ints(m->g, sl, "ends", &end, 1);
		ir_set_ints(m->g, sl, "axes", &ax, 1);
		int g = ints_node(m, OP_RESHAPE, imp_infer(m, sl), "shape", c3, 3, -1);
		int x = align ? mulk(m, mulk(m, addk(m, g, 1), 0.5), d - 1)
			: mulk(m, addk(m, mulk(m, addk(m, g, 1), d), -1), 0.5);
		if (mode == GS_NEAREST)
			x = node1(m, OP_ROUND, x);
		if (pad == GS_BORDER) {
			int out = node2(m, OP_OR, node2(m, OP_LESS, x, kf(m, lo)), node2(m, OP_GREATER, x, kf(m, hi)));
			x = where(m, out, clip(m, x, 0, d - 1), x);
		} else if (pad == GS_REFLECT) {
			x = reflect(m, x, lo, hi);
		}
		int x0 = mode == GS_NEAREST ? x : node1(m, OP_FLOOR, x);
		int t = node2(m, OP_SUB, x, x0);
		for (int k = 0; k < ntap; k++) {
			int first = mode == GS_CUBIC ? -1 : 0;
			int ti = addk(m, x0, first + k), wk;
			if (mode == GS_NEAREST)
				wk = kf(m, 1);
			else if (mode == GS_LINEAR)
				wk = k ? t : addk(m, mulk(m, t, -1), 1);
			else
				wk = cubic_w(m, t, k);
			if (pad == GS_ZEROS) {
				int in = node2(m, OP_AND, node1(m, OP_NOT, node2(m, OP_LESS, ti, kf(m, 0))),
					node1(m, OP_NOT, node2(m, OP_GREATER, ti, kf(m, d - 1))));
				wk = where(m, in, wk, kf(m, 0));
			} else if (pad == GS_REFLECT) {
				ti = reflect(m, ti, lo, hi);
			}
			idx[i][k] = node1(m, OP_FLOOR, clip(m, ti, 0, d - 1));
			w[i][k] = wk;
		}
	}
	int64_t x3[3] = {n, c, p}, e3[3] = {n, c, o};
	int xf = ints_node(m, OP_RESHAPE, m->in[0], "shape", x3, 3, -1);
	int acc = -1, combos = 1;
	for (int i = 0; i < r; i++)
		combos *= ntap;
	for (int cb = 0; cb < combos; cb++) {
		int flat = -1, wt = -1, rest = cb;
		int64_t stride = p;
		for (int i = 0; i < r; i++) {
			int k = rest % ntap;
			rest /= ntap;
			stride /= xs.d[i + 2].n;
			int term = stride == 1 ? idx[i][k] : mulk(m, idx[i][k], (double)stride);
			flat = flat < 0 ? term : node2(m, OP_ADD, flat, term);
			wt = wt < 0 ? w[i][k] : node2(m, OP_MUL, wt, w[i][k]);
		}
		int ix = ints_node(m, OP_EXPAND, cast_to(m, flat, DT_I64, -1), "shape", e3, 3, -1);
		if (ix < 0)
			return -1;
		int ge = imp_node(m, OP_GATHER_ELEMENTS, (int[]){xf, ix}, 2, -1);
		ir_set_int(m->g, ge, "axis", 2);
		int v = node2(m, OP_MUL, imp_infer(m, ge), cast_to(m, wt, xt, -1));
		acc = acc < 0 ? v : node2(m, OP_ADD, acc, v);
	}
	int64_t yd[IR_MAX_RANK];
	yd[0] = n, yd[1] = c;
	for (int i = 0; i < r; i++)
		yd[i + 2] = gs.d[i + 1].n;
	return ints_node(m, OP_RESHAPE, acc, "shape", yd, r + 2, 0) < 0 ? -1 : 0;
}

/* AffineGrid: theta [N, r, r + 1], size [N, C, d_1..d_r] (constant). */
int misc_affine_grid(Importer *m, Op op)
{
	(void)op;
	int sc = imp_fold(m, m->in[1]);
	if (sc < 0)
		return imp_err(m, "input 1 (size) must be a constant");
	const Value *sv = &m->g->val[sc];
	int64_t ns = ir_shape_numel(&sv->shape);
	if (!ir_dtype_is_int(sv->dtype) || ns < 3 || ns > 5)
		return imp_err(m, "size must hold 4 or 5 integers");
	int r = (int)ns - 2;
	int64_t d[3], hw = 1, nb = (int64_t)ir_elem_get(sv->dtype, sv->data);
	for (int i = 0; i < r; i++) {
		d[i] = (int64_t)ir_elem_get(sv->dtype, (const char *)sv->data + (size_t)(i + 2) * ir_dtype_size(sv->dtype));
		if (d[i] < 1 || !ck_mul(hw, d[i], &hw) || hw > (1 << 24))
			return imp_err(m, "size has a bad spatial extent");
	}
	const Shape *ts = shp(m, m->in[0]);
	DType t = m->g->val[m->in[0]].dtype;
	if (ts->rank != 3 || !ir_shape_static(ts) || ts->d[0].n != nb || ts->d[1].n != r || ts->d[2].n != r + 1)
		return imp_err(m, "theta must be [%lld, %d, %d]", (long long)nb, r, r + 1);
	if (!ir_dtype_is_float(t))
		return imp_err(m, "theta must be a float type");
	bool align = imp_int(m, "align_corners", 0) != 0;
	size_t esz = ir_dtype_size(t);
	unsigned char *buf = calloc((size_t)(hw * (r + 1)), esz);
	if (!buf)
		return imp_err(m, "out of memory");
	for (int64_t e = 0; e < hw; e++) {
		int64_t rest = e;
		for (int i = r - 1; i >= 0; i--) { /* column r - 1 - i: x is axis r - 1 */
			int64_t j = rest % d[i];
			rest /= d[i];
			double v = !align ? -1 + (2.0 * (double)j + 1) / (double)d[i]
				: d[i] == 1 ? -1 : -1 + 2.0 * (double)j / (double)(d[i] - 1);
			ir_elem_put(t, buf + (size_t)(e * (r + 1) + (r - 1 - i)) * esz, v);
		}
		ir_elem_put(t, buf + (size_t)(e * (r + 1) + r) * esz, 1);
	}
	int64_t bd[3] = {1, hw, r + 1};
	int base = imp_const(m, "base_grid", t, ir_shape_make(3, bd), buf, (size_t)(hw * (r + 1)) * esz);
	free(buf);
	if (base < 0)
		return -1;
	int mm = imp_node(m, OP_MATMUL, (int[]){base, m->in[0]}, 2, -1);
	ir_set_int(m->g, mm, "trans_b", 1);
	int64_t yd[5];
	yd[0] = nb;
	for (int i = 0; i < r; i++)
		yd[i + 1] = d[i];
	yd[r + 1] = r;
	return ints_node(m, OP_RESHAPE, imp_infer(m, mm), "shape", yd, r + 2, 0) < 0 ? -1 : 0;
}

/* One RoiAlign axis: sample coordinates c ([R, s, 1] or [R, 1, s]) over
 * an extent of n pixels into the low/high pixel and their weights, the
 * weights zero for samples outside [-1, n] (ONNX's reference rules:
 * clamp below at 0; at or past the last pixel both taps are the last). */
static void roi_axis(Importer *m, int c, double n, int *lo, int *hi, int *wlo, int *whi)
{
	int valid = node2(m, OP_AND, node1(m, OP_NOT, node2(m, OP_LESS, c, kf(m, -1))),
		node1(m, OP_NOT, node2(m, OP_GREATER, c, kf(m, n))));
	c = node2(m, OP_MAX, c, kf(m, 0));
	int low = node1(m, OP_FLOOR, c);
	int end = node1(m, OP_NOT, node2(m, OP_LESS, low, kf(m, n - 1)));
	*lo = where(m, end, kf(m, n - 1), low);
	*hi = where(m, end, kf(m, n - 1), addk(m, low, 1));
	c = where(m, end, kf(m, n - 1), c);
	int l = node2(m, OP_SUB, c, *lo), zero = kf(m, 0);
	*whi = where(m, valid, l, zero);
	*wlo = where(m, valid, addk(m, mulk(m, l, -1), 1), zero);
}

/* Column k of rois [R, 4] times scale minus offset, as [R, 1, 1]. */
static int roi_col(Importer *m, int64_t r, int k, double scale, double offset)
{
	int64_t lo = k, hi = k + 1, ax = 1, d3[3] = {r, 1, 1};
	int rois = cast_to(m, m->in[1], DT_F32, -1);
	int sl = imp_node(m, OP_SLICE, &rois, 1, -1);
	ir_set_ints(m->g, sl, "starts", &lo, 1);
	ir_set_ints(m->g, sl, "ends", &hi, 1);
	ir_set_ints(m->g, sl, "axes", &ax, 1);
	int v = ints_node(m, OP_RESHAPE, imp_infer(m, sl), "shape", d3, 3, -1);
	return addk(m, mulk(m, v, scale), -offset);
}

/* A constant [1, s, 1] (or [1, 1, s] when along_x) of p + (i + 0.5) / sr
 * for bin p < bins and sample i < sr. */
static int roi_offsets(Importer *m, int64_t bins, int64_t sr, bool along_x)
{
	int64_t s = bins * sr, d3[3] = {1, along_x ? 1 : s, along_x ? s : 1};
	float *v = calloc((size_t)s, sizeof *v);
	if (!v)
		return imp_err(m, "out of memory");
	for (int64_t p = 0; p < bins; p++)
		for (int64_t i = 0; i < sr; i++)
			v[p * sr + i] = (float)((double)p + ((double)i + 0.5) / (double)sr);
	int c = imp_const(m, "roi_offsets", DT_F32, ir_shape_make(3, d3), v, (size_t)s * sizeof *v);
	free(v);
	return c;
}

/* RoiAlign (opset 10-22): X [N, C, H, W], rois [R, 4] (x1, y1, x2, y2),
 * batch_indices [R] into [R, C, output_height, output_width]. Each bin
 * averages (or maxes) sampling_ratio^2 bilinear samples; per sample,
 * four gather_elements of X's rows picked by batch_indices. max mode
 * takes, as ONNX's reference does, the largest weighted corner. The
 * adaptive sampling_ratio 0 depends on the rois' values: unsupported. */
int misc_roi_align(Importer *m, Op op)
{
	(void)op;
	const Shape xs = *shp(m, m->in[0]), rs = *shp(m, m->in[1]);
	if (xs.rank != 4 || !ir_shape_static(&xs) || rs.rank != 2 || !ir_shape_static(&rs) || rs.d[1].n != 4 ||
	    ir_shape_numel(shp(m, m->in[2])) != rs.d[0].n)
		return imp_err(m, "needs X [N, C, H, W], rois [R, 4] and batch_indices [R] of static shapes");
	DType xt = m->g->val[m->in[0]].dtype;
	if (!ir_dtype_is_float(xt))
		return imp_err(m, "X must be a float type");
	int64_t sr = imp_int(m, "sampling_ratio", 0), ph = imp_int(m, "output_height", 1),
		pw = imp_int(m, "output_width", 1);
	if (sr < 1 || sr > 64)
		return imp_err(m, "sampling_ratio %lld is unsupported (the adaptive 0 depends on the rois' values)",
			(long long)sr);
	if (ph < 1 || pw < 1 || ph > 4096 || pw > 4096)
		return imp_err(m, "bad output_height or output_width");
	const char *mode = imp_str(m, "mode", "avg");
	const char *ct = imp_str(m, "coordinate_transformation_mode", "half_pixel");
	bool ismax = strcmp(mode, "max") == 0, half = strcmp(ct, "half_pixel") == 0;
	if ((!ismax && strcmp(mode, "avg") != 0) || (!half && strcmp(ct, "output_half_pixel") != 0))
		return imp_err(m, "mode \"%s\" with coordinate_transformation_mode \"%s\" is unsupported", mode, ct);
	double scale = imp_float(m, "spatial_scale", 1), off = half ? 0.5 : 0;
	int64_t n = xs.d[0].n, c = xs.d[1].n, h = xs.d[2].n, w = xs.d[3].n, r = rs.d[0].n;
	int64_t sy = ph * sr, sx = pw * sr;
	if (h * w >= ((int64_t)1 << 24) || r * c * sy * sx > ((int64_t)1 << 28))
		return imp_err(m, "too large");
	int x0 = roi_col(m, r, 0, scale, off), y0 = roi_col(m, r, 1, scale, off);
	int rw = node2(m, OP_SUB, roi_col(m, r, 2, scale, off), x0);
	int rh = node2(m, OP_SUB, roi_col(m, r, 3, scale, off), y0);
	if (!half) { /* malformed rois become 1 x 1 */
		rw = node2(m, OP_MAX, rw, kf(m, 1));
		rh = node2(m, OP_MAX, rh, kf(m, 1));
	}
	int yc = node2(m, OP_ADD, y0, node2(m, OP_MUL, mulk(m, rh, 1.0 / (double)ph), roi_offsets(m, ph, sr, false)));
	int xc = node2(m, OP_ADD, x0, node2(m, OP_MUL, mulk(m, rw, 1.0 / (double)pw), roi_offsets(m, pw, sr, true)));
	int yi[2], yw[2], xi[2], xw[2];
	roi_axis(m, yc, (double)h, &yi[0], &yi[1], &yw[0], &yw[1]);
	roi_axis(m, xc, (double)w, &xi[0], &xi[1], &xw[0], &xw[1]);
	int64_t x3[3] = {n, c, h * w}, q3[3] = {r, 1, sy * sx}, e3[3] = {r, c, sy * sx};
	int xf = ints_node(m, OP_RESHAPE, m->in[0], "shape", x3, 3, -1);
	int g = imp_node(m, OP_GATHER, (int[]){xf, m->in[2]}, 2, -1);
	ir_set_int(m->g, g, "axis", 0);
	int xr = imp_infer(m, g); /* [R, C, H*W] */
	int acc = -1;
	for (int k = 0; k < 4; k++) {
		int a = k >> 1, b = k & 1;
		int flat = node2(m, OP_ADD, mulk(m, yi[a], (double)w), xi[b]);
		int wt = node2(m, OP_MUL, yw[a], xw[b]);
		int ix = ints_node(m, OP_EXPAND, ints_node(m, OP_RESHAPE, cast_to(m, flat, DT_I64, -1), "shape",
			q3, 3, -1), "shape", e3, 3, -1);
		if (ix < 0 || xr < 0)
			return -1;
		int ge = imp_node(m, OP_GATHER_ELEMENTS, (int[]){xr, ix}, 2, -1);
		ir_set_int(m->g, ge, "axis", 2);
		int v = node2(m, OP_MUL, imp_infer(m, ge),
			cast_to(m, ints_node(m, OP_RESHAPE, wt, "shape", q3, 3, -1), xt, -1));
		acc = acc < 0 ? v : node2(m, ismax ? OP_MAX : OP_ADD, acc, v);
	}
	int64_t b6[6] = {r, c, ph, sr, pw, sr}, axes[2] = {3, 5};
	int bins = ints_node(m, OP_RESHAPE, acc, "shape", b6, 6, -1);
	if (bins < 0)
		return -1;
	int red = imp_node(m, ismax ? OP_REDUCE_MAX : OP_REDUCE_MEAN, &bins, 1, 0);
	ir_set_ints(m->g, red, "axes", axes, 2);
	ir_set_int(m->g, red, "keepdims", 0);
	return imp_infer(m, red) < 0 ? -1 : 0;
}
