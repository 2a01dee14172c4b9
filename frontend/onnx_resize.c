/* onnx_resize.c — ONNX Resize (opset 10-19) and Upsample (7-9) as a
 * rewrite into gathers and weighted sums, one axis at a time.
 *
 * Every mode ONNX defines is separable: along one axis, output position x
 * maps to a source coordinate (coordinate_transformation_mode), and the
 * value is a weighted sum of a few input elements around it (nearest: one
 * element; linear: two; cubic: four; antialias: a filter stretched by
 * 1/scale), with out-of-range neighbours replaced by the edge element,
 * except tf_crop_and_resize outside the ROI, which gives
 * extrapolation_value. Since the input shape and the scales or sizes are
 * known here, the indices and weights are computed now, in double, into
 * constant tables: per axis and per tap t, y += gather(x, idx_t, axis) *
 * w_t (w_t broadcast along the axis), plus the extrapolation constant
 * where needed. Nearest is the gather alone, so it is exact for every
 * dtype. Axes are processed from the last to the first, as the ONNX
 * reference does. */
#include "onnx_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { RZ_MAX_TAPS = 256 }; /* filter taps per output element (antialias at tiny scales) */

typedef enum RzMode { RZ_NEAREST, RZ_LINEAR, RZ_CUBIC } RzMode;

typedef struct Rz {
	RzMode mode;           /* interpolation */
	const char *coord;     /* coordinate_transformation_mode */
	const char *nearest;   /* nearest_mode */
	double a;              /* cubic_coeff_a */
	bool exclude;          /* exclude_outside */
	bool antialias;        /* antialias (linear and cubic) */
	double extrap;         /* extrapolation_value */
} Rz;

/* One axis: T taps of m outputs each, idx/w[t * m + x]; out[x] marks an
 * extrapolated output (tf_crop_and_resize outside the ROI). */
typedef struct Taps {
	int T;          /* taps */
	int64_t *idx;   /* input index of each tap (clamped into range) */
	double *w;      /* its weight */
	bool *out;      /* extrapolated outputs */
	bool any_out;   /* some output is extrapolated */
} Taps;

static bool has_in(const Importer *m, int k) { return k < m->nin && m->in[k] >= 0; }

/* ---- coefficients (ONNX's reference, operator Resize) ------------------------ */

/* Coefficients for the fraction r in (0, 1] at scale s; their count. */
static int coeffs(const Rz *z, double r, double s, double *c)
{
	if (z->mode == RZ_NEAREST) {
		bool second; /* r == 1: the coordinate is an integer, take it */
		if (r == 1 || !strcmp(z->nearest, "ceil"))
			second = true;
		else if (!strcmp(z->nearest, "floor"))
			second = false;
		else if (!strcmp(z->nearest, "round_prefer_ceil"))
			second = r >= 0.5;
		else
			second = r > 0.5;
		c[0] = !second;
		c[1] = second;
		return 2;
	}
	if (!z->antialias && z->mode == RZ_LINEAR) {
		c[0] = 1 - r;
		c[1] = r;
		return 2;
	}
	double A = z->a;
	if (!z->antialias) {
		double p = r + 1, q = 1 - r, q1 = q + 1;
		c[0] = ((A * p - 5 * A) * p + 8 * A) * p - 4 * A;
		c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
		c[2] = ((A + 2) * q - (A + 3)) * q * q + 1;
		c[3] = ((A * q1 - 5 * A) * q1 + 8 * A) * q1 - 4 * A;
		return 4;
	}
	s = s < 1 ? s : 1; /* the filter stretches only when downsampling */
	double support = z->mode == RZ_LINEAR ? 1 : 2;
	int64_t start = (int64_t)floor(-support / s) + 1, n = 2 - 2 * start;
	if (n > RZ_MAX_TAPS || n < 1)
		return -1;
	double sum = 0;
	for (int64_t i = 0; i < n; i++) {
		double x = fabs(s * ((double)(start + i) - r)), v;
		if (z->mode == RZ_LINEAR)
			v = x < 1 ? 1 - x : 0;
		else if (x <= 1)
			v = (A + 2) * x * x * x - (A + 3) * x * x + 1;
		else if (x < 2)
			v = A * x * x * x - 5 * A * x * x + 8 * A * x - 4 * A;
		else
			v = 0;
		c[i] = v;
		sum += v;
	}
	for (int64_t i = 0; i < n; i++)
		c[i] /= sum;
	return (int)n;
}

/* The L indices nearest to x among [0, limit) (ties: the smaller), in
 * ascending order; they are consecutive. L <= limit. */
static void nearest_idx(double x, int L, int64_t limit, int64_t *out)
{
	int64_t lo = (int64_t)floor(x), hi = lo + 1; /* next candidates below and above */
	if (lo >= limit)
		lo = limit - 1, hi = limit;
	if (hi < 0)
		lo = -1, hi = 0;
	for (int n = 0; n < L; n++) {
		bool lo_ok = lo >= 0, hi_ok = hi < limit;
		if (lo_ok && (!hi_ok || fabs(x - (double)lo) <= fabs(x - (double)hi)))
			lo--;
		else
			hi++;
	}
	for (int i = 0; i < L; i++)
		out[i] = lo + 1 + i;
}

/* Source coordinate of output x along an axis of input extent n, output
 * extent m, scale s, ROI [r0, r1]; false when x falls outside the ROI
 * (tf_crop_and_resize). */
static bool source_coord(const Rz *z, int64_t x, int64_t n, int64_t m, double s, double r0, double r1,
	double *xo)
{
	double ow = s * (double)n, xd = (double)x;
	const char *c = z->coord;
	if (!strcmp(c, "align_corners")) {
		*xo = ow == 1 ? 0 : xd * (double)(n - 1) / (ow - 1);
	} else if (!strcmp(c, "asymmetric")) {
		*xo = xd / s;
	} else if (!strcmp(c, "tf_crop_and_resize")) {
		*xo = ow == 1 ? (r1 - r0) * (double)(n - 1) / 2 : xd * (r1 - r0) * (double)(n - 1) / (ow - 1);
		*xo += r0 * (double)(n - 1);
		return *xo >= 0 && *xo <= (double)(n - 1);
	} else if (!strcmp(c, "pytorch_half_pixel")) {
		*xo = ow == 1 ? -0.5 : (xd + 0.5) / s - 0.5;
	} else if (!strcmp(c, "half_pixel_symmetric")) {
		double adj = (double)m / ow, center = (double)n / 2;
		*xo = center * (1 - adj) + (xd + 0.5) / s - 0.5;
	} else { /* half_pixel */
		*xo = (xd + 0.5) / s - 0.5;
	}
	return true;
}

/* Builds the taps of one axis; 0 or -1 with a message. */
static int axis_taps(Importer *m, const Rz *z, int64_t n, int64_t mo, double s, double r0, double r1,
	Taps *t)
{
	double c[RZ_MAX_TAPS];
	int64_t nb[RZ_MAX_TAPS];
	int T = 0;
	memset(t, 0, sizeof *t);
	t->out = calloc((size_t)mo + 1, sizeof *t->out);
	/* first pass: the tap count */
	for (int64_t x = 0; x < mo; x++) {
		double xo;
		if (!source_coord(z, x, n, mo, s, r0, r1, &xo))
			continue;
		double r = xo == floor(xo) ? 1 : xo - floor(xo);
		int L = coeffs(z, r, s, c);
		if (L < 0)
			return imp_err(m, "the antialias filter at scale %g is too wide", s);
		int used = z->mode == RZ_NEAREST ? 1 : L;
		T = used > T ? used : T;
	}
	if (T == 0)
		T = 1;
	t->T = T;
	t->idx = calloc((size_t)(T * mo) + 1, sizeof *t->idx);
	t->w = calloc((size_t)(T * mo) + 1, sizeof *t->w);
	for (int64_t x = 0; x < mo; x++) {
		double xo;
		if (!source_coord(z, x, n, mo, s, r0, r1, &xo)) {
			t->out[x] = t->any_out = true;
			continue;
		}
		double r = xo == floor(xo) ? 1 : xo - floor(xo);
		int L = coeffs(z, r, s, c);
		int64_t pad = (L + 1) / 2;
		nearest_idx(xo + (double)pad, L, n + 2 * pad, nb);
		double sum = 0;
		for (int i = 0; i < L; i++) {
			nb[i] -= pad;
			if (z->exclude && (nb[i] < 0 || nb[i] >= n))
				c[i] = 0;
			sum += c[i];
		}
		for (int i = 0, k = 0; i < L; i++) {
			if (z->exclude)
				c[i] /= sum;
			int64_t src = nb[i] < 0 ? 0 : nb[i] >= n ? n - 1 : nb[i];
			if (z->mode == RZ_NEAREST && c[i] == 0)
				continue;
			t->idx[k * mo + x] = src;
			t->w[k * mo + x] = c[i];
			k++;
		}
	}
	return 0;
}

static void taps_free(Taps *t)
{
	free(t->idx);
	free(t->w);
	free(t->out);
}

/* ---- the rewrite ---------------------------------------------------------------- */

/* A constant of x's dtype shaped [m, 1, ..., 1] (rank - axis dims). */
static int along_axis(Importer *m, const char *what, DType t, const double *v, int64_t mo, int rank,
	int axis)
{
	int64_t dims[IR_MAX_RANK];
	int r = rank - axis;
	dims[0] = mo;
	for (int i = 1; i < r; i++)
		dims[i] = 1;
	size_t esz = ir_dtype_size(t);
	unsigned char *buf = calloc((size_t)mo + 1, esz);
	for (int64_t i = 0; i < mo; i++)
		ir_elem_put(t, buf + (size_t)i * esz, v[i]);
	int c = imp_const(m, what, t, ir_shape_make(r, dims), buf, (size_t)mo * esz);
	free(buf);
	return c;
}

/* y = sum_t gather(x, idx_t, axis) * w_t (+ extrapolation); the value, or -1. */
static int resize_axis(Importer *m, const Rz *z, int x, int axis, const Taps *t, int64_t mo, bool last)
{
	const Value *xv = &m->g->val[x];
	DType dt = xv->dtype;
	int rank = xv->shape.rank, acc = -1;
	int64_t nb = mo;
	for (int k = 0; k < t->T; k++) {
		bool zero = true, one = true;
		for (int64_t i = 0; i < mo; i++) {
			zero = zero && t->w[k * mo + i] == 0;
			one = one && t->w[k * mo + i] == 1;
		}
		if (zero && acc >= 0)
			continue;
		int ic = imp_const(m, "index", DT_I64, ir_shape_make(1, &nb), &t->idx[k * mo], (size_t)mo * 8);
		int in[2] = {x, ic};
		bool final = last && one && t->T == 1 && !t->any_out;
		int nd = imp_node(m, OP_GATHER, in, 2, final ? 0 : -1);
		ir_set_int(m->g, nd, "axis", axis);
		int g = imp_infer(m, nd);
		if (g < 0)
			return -1;
		if (!one) {
			int wc = along_axis(m, "weight", dt, &t->w[k * mo], mo, rank, axis);
			int mi[2] = {g, wc};
			if ((g = imp_infer(m, imp_node(m, OP_MUL, mi, 2, -1))) < 0)
				return -1;
		}
		if (acc < 0) {
			acc = g;
		} else {
			int ai[2] = {acc, g};
			if ((acc = imp_infer(m, imp_node(m, OP_ADD, ai, 2, -1))) < 0)
				return -1;
		}
	}
	if (t->any_out) {
		double *e = calloc((size_t)mo + 1, sizeof *e);
		for (int64_t i = 0; i < mo; i++)
			e[i] = t->out[i] ? z->extrap : 0;
		int ec = along_axis(m, "extrapolation", dt, e, mo, rank, axis);
		free(e);
		int ai[2] = {acc, ec};
		if ((acc = imp_infer(m, imp_node(m, OP_ADD, ai, 2, -1))) < 0)
			return -1;
	}
	return acc;
}

/* Reads a constant float tensor input k (scales or roi) into v; count or -1. */
static int const_floats(Importer *m, int k, const char *what, double *v, int max)
{
	int f = idx_fold(m, m->in[k]);
	const Value *c = &m->g->val[f >= 0 ? f : m->in[k]];
	if (f < 0)
		return imp_err(m, "input %d (%s, \"%s\") must be a constant", k, what, c->name);
	int64_t n = ir_shape_numel(&c->shape);
	if (c->shape.rank != 1 || n < 0 || n > max)
		return imp_err(m, "%s must be 1-D with at most %d values", what, max);
	size_t esz = ir_dtype_size(c->dtype);
	for (int64_t i = 0; i < n; i++)
		v[i] = ir_elem_get(c->dtype, (const char *)c->data + (size_t)i * esz);
	return (int)n;
}

/* The common body. scales/sizes: per axis of axes[0..na-1] (sizes NULL
 * when scales rule). roi: 2*na values or NULL. */
static int resize(Importer *m, const Rz *z, const int *axes, int na, const double *scales,
	const int64_t *sizes, const double *roi, const char *policy)
{
	int x = m->in[0];
	const Shape *xs = &m->g->val[x].shape;
	double s[IR_MAX_RANK];
	int64_t out[IR_MAX_RANK], inn[IR_MAX_RANK];
	for (int i = 0; i < na; i++) {
		Dim d = xs->d[axes[i]];
		if (d.sym || d.n < 0)
			return imp_err(m, "resized axis %d must have a static extent", axes[i]);
		inn[i] = d.n;
		if (sizes) {
			if (sizes[i] < 0)
				return imp_err(m, "size %lld is negative", (long long)sizes[i]);
			s[i] = inn[i] ? (double)sizes[i] / (double)inn[i] : 1;
			out[i] = sizes[i];
		} else {
			if (!(scales[i] > 0) || scales[i] * (double)inn[i] > 1e9)
				return imp_err(m, "scale %g is invalid", scales[i]);
			s[i] = scales[i];
			out[i] = (int64_t)floor(scales[i] * (double)inn[i]);
		}
	}
	if (sizes && strcmp(policy, "stretch")) {
		bool larger = !strcmp(policy, "not_smaller");
		if (!larger && strcmp(policy, "not_larger"))
			return imp_err(m, "keep_aspect_ratio_policy \"%s\" is unknown", policy);
		double sc = s[0];
		for (int i = 1; i < na; i++)
			sc = larger ? (s[i] > sc ? s[i] : sc) : (s[i] < sc ? s[i] : sc);
		for (int i = 0; i < na; i++) {
			s[i] = sc;
			out[i] = (int64_t)(sc * (double)inn[i] + 0.5);
		}
	}
	if (z->mode != RZ_NEAREST && !ir_dtype_is_float(m->g->val[x].dtype))
		return imp_err(m, "%s mode needs a float input, not %s",
			z->mode == RZ_LINEAR ? "linear" : "cubic", ir_dtype_name(m->g->val[x].dtype));
	int v = x, remaining = 0;
	bool todo[IR_MAX_RANK] = {0};
	for (int i = 0; i < na; i++) { /* at scale 1 every mode but the crop is the identity */
		todo[i] = !(out[i] == inn[i] && s[i] == 1 && strcmp(z->coord, "tf_crop_and_resize"));
		remaining += todo[i];
	}
	/* last axis first, as the reference nests its 1-D interpolations */
	int order[IR_MAX_RANK];
	for (int i = 0; i < na; i++)
		order[i] = i;
	for (int i = 0; i < na; i++)
		for (int j = i + 1; j < na; j++)
			if (axes[order[j]] > axes[order[i]]) {
				int tmp = order[i];
				order[i] = order[j];
				order[j] = tmp;
			}
	for (int oi = 0; oi < na; oi++) {
		int i = order[oi];
		if (!todo[i])
			continue;
		Taps t;
		double r0 = roi ? roi[i] : 0, r1 = roi ? roi[na + i] : 1;
		int rc = axis_taps(m, z, inn[i], out[i], s[i], r0, r1, &t);
		if (rc == 0)
			rc = v = resize_axis(m, z, v, axes[i], &t, out[i], --remaining == 0);
		taps_free(&t);
		if (rc < 0)
			return -1;
	}
	if (v == x || m->out[0] < 0) /* nothing resized, or the last step was not bound */
		return imp_infer(m, imp_node(m, OP_IDENTITY, &v, 1, 0)) < 0 ? -1 : 0;
	return 0;
}

/* Resize, opset 10 to 19. */
int idx_resize(Importer *m, Op op)
{
	const Shape *xs = &m->g->val[m->in[0]].shape;
	if (xs->rank < 0)
		return imp_err(m, "needs an input of known rank");
	int rank = xs->rank;
	Rz z = {RZ_NEAREST, "half_pixel", "round_prefer_floor", imp_float(m, "cubic_coeff_a", -0.75),
		imp_int(m, "exclude_outside", 0) != 0, imp_int(m, "antialias", 0) != 0,
		imp_float(m, "extrapolation_value", 0)};
	const char *mode = imp_str(m, "mode", "nearest");
	if (!strcmp(mode, "linear"))
		z.mode = RZ_LINEAR;
	else if (!strcmp(mode, "cubic"))
		z.mode = RZ_CUBIC;
	else if (strcmp(mode, "nearest"))
		return imp_err(m, "mode \"%s\" is unsupported", mode);
	z.coord = imp_str(m, "coordinate_transformation_mode", "half_pixel");
	z.nearest = imp_str(m, "nearest_mode", "round_prefer_floor");
	static const char *const coords[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
		"align_corners", "asymmetric", "tf_crop_and_resize"};
	bool ok = false;
	for (size_t i = 0; i < sizeof coords / sizeof *coords; i++)
		ok = ok || !strcmp(z.coord, coords[i]);
	if (!ok)
		return imp_err(m, "coordinate_transformation_mode \"%s\" is unsupported", z.coord);
	if (strcmp(z.nearest, "round_prefer_floor") && strcmp(z.nearest, "round_prefer_ceil") &&
		strcmp(z.nearest, "floor") && strcmp(z.nearest, "ceil"))
		return imp_err(m, "nearest_mode \"%s\" is unsupported", z.nearest);
	if (z.antialias && z.mode == RZ_NEAREST)
		z.antialias = false; /* ONNX: antialias applies to linear and cubic only */
	int sk = 2, zk = 3; /* inputs scales, sizes */
	if (m->opset < 11) {
		z.coord = "asymmetric";
		z.nearest = "floor";
		sk = 1;
		zk = -1;
	}
	int axes[IR_MAX_RANK], na = rank;
	const int64_t *av;
	int nav = imp_ints(m, "axes", &av);
	if (nav > IR_MAX_RANK)
		return imp_err(m, "too many axes");
	bool seen[IR_MAX_RANK] = {0};
	if (nav >= 0) {
		na = nav;
		for (int i = 0; i < na; i++) {
			int64_t a = av[i] < 0 ? av[i] + rank : av[i];
			if (a < 0 || a >= rank || seen[a])
				return imp_err(m, "axis %lld is out of range or repeated", (long long)av[i]);
			seen[a] = true;
			axes[i] = (int)a;
		}
	} else {
		for (int i = 0; i < rank; i++)
			axes[i] = i;
	}
	double scales[IR_MAX_RANK], roi[2 * IR_MAX_RANK];
	int64_t sizes[IR_MAX_RANK];
	int ns = -1, nz = -1, nr = -1;
	if (has_in(m, sk) && ir_shape_numel(&m->g->val[m->in[sk]].shape) != 0 &&
		(ns = const_floats(m, sk, "scales", scales, IR_MAX_RANK)) < 0)
		return -1;
	if (zk > 0 && has_in(m, zk)) {
		int f = idx_fold(m, m->in[zk]);
		const Value *c = &m->g->val[f >= 0 ? f : m->in[zk]];
		if (f < 0)
			return imp_err(m, "input %d (sizes, \"%s\") must be a constant", zk, c->name);
		if (c->dtype != DT_I64 || c->shape.rank != 1 || ir_shape_numel(&c->shape) > IR_MAX_RANK)
			return imp_err(m, "sizes must be a 1-D int64 tensor");
		nz = (int)ir_shape_numel(&c->shape);
		memcpy(sizes, c->data, (size_t)nz * 8);
	}
	if ((ns >= 0) == (nz >= 0))
		return imp_err(m, "exactly one of scales and sizes must be given");
	if ((ns >= 0 ? ns : nz) != na)
		return imp_err(m, "%s has %d values for %d axes", ns >= 0 ? "scales" : "sizes",
			ns >= 0 ? ns : nz, na);
	if (!strcmp(z.coord, "tf_crop_and_resize")) {
		if (!has_in(m, 1))
			return imp_err(m, "tf_crop_and_resize needs the roi input");
		if ((nr = const_floats(m, 1, "roi", roi, 2 * IR_MAX_RANK)) < 0)
			return -1;
		if (nr != 2 * na)
			return imp_err(m, "roi has %d values for %d axes", nr, na);
	}
	return resize(m, &z, axes, na, ns >= 0 ? scales : NULL, nz >= 0 ? sizes : NULL,
		nr >= 0 ? roi : NULL, imp_str(m, "keep_aspect_ratio_policy", "stretch"));
}

/* Upsample (opset 7: scales attribute; 9: scales input): asymmetric
 * coordinates, nearest rounds down. */
int idx_upsample(Importer *m, Op op)
{
	const Shape *xs = &m->g->val[m->in[0]].shape;
	if (xs->rank < 0)
		return imp_err(m, "needs an input of known rank");
	Rz z = {RZ_NEAREST, "asymmetric", "floor", -0.75, false, false, 0};
	const char *mode = imp_str(m, "mode", "nearest");
	if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear"))
		z.mode = RZ_LINEAR;
	else if (strcmp(mode, "nearest"))
		return imp_err(m, "mode \"%s\" is unsupported", mode);
	double scales[IR_MAX_RANK];
	int ns, axes[IR_MAX_RANK];
	if (has_in(m, 1)) {
		if ((ns = const_floats(m, 1, "scales", scales, IR_MAX_RANK)) < 0)
			return -1;
	} else {
		const Onnx__AttributeProto *a = imp_attr(m, "scales");
		if (!a || a->n_floats > IR_MAX_RANK)
			return imp_err(m, "needs scales");
		ns = (int)a->n_floats;
		for (int i = 0; i < ns; i++)
			scales[i] = a->floats[i];
	}
	if (ns != xs->rank)
		return imp_err(m, "scales has %d values for rank %d", ns, xs->rank);
	for (int i = 0; i < ns; i++)
		axes[i] = i;
	return resize(m, &z, axes, ns, scales, NULL, NULL, "stretch");
}
