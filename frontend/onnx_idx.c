/* onnx_idx.c — ONNX import of the data-movement and indexing ops (the
 * idx block of the table in onnx_ops.c). Most are rewrites into a few IR
 * ops: Slice and Split become slice nodes; Expand, Tile and
 * ConstantOfShape become expand (Tile through reshapes); DepthToSpace and
 * SpaceToDepth become reshape, transpose, reshape; Size, Range and EyeLike
 * become constants. Trilu (with a run-time k: a selection by
 * gather_elements), GatherElements, GatherND and the scatters map one to
 * one. Inputs that decide an output shape (starts, shape, repeats,
 * split...) must be constants, or computable now from constants and static
 * shapes (imp_fold, onnx_static.c); otherwise the input is reported by name. Pad's modes
 * and the ops composed from these live in onnx_idx_compose.c. */
#include "onnx_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool has_in(const Importer *m, int k) { return k < m->nin && m->in[k] >= 0; }
static const Value *in_val(const Importer *m, int k) { return &m->g->val[m->in[k]]; }
static int done(Importer *m, int node) { return imp_infer(m, node) < 0 ? -1 : 0; }

/* The static shape of input k into dims (rank returned), or -1. */
int idx_static_dims(Importer *m, int k, int64_t *dims)
{
	const Shape *s = &in_val(m, k)->shape;
	if (!ir_shape_static(s))
		return imp_err(m, "needs input %d of static shape", k);
	for (int i = 0; i < s->rank; i++)
		dims[i] = s->d[i].n;
	return s->rank;
}

/* A value binary(a, b) of op; -1 on error. */
int idx_bin(Importer *m, Op op, int a, int b)
{
	return imp_op2(m, op, a, b, -1);
}

/* ---- slice and split ---------------------------------------------------------- */

int idx_slice(Importer *m, Op op)
{
	int64_t st[IR_MAX_RANK], en[IR_MAX_RANK], ax[IR_MAX_RANK], sp[IR_MAX_RANK];
	int ns, ne, na = -1, np = -1;
	if (m->opset < 10) {
		const int64_t *v;
		if (m->nin > 1)
			return imp_err(m, "starts and ends are attributes before opset 10, not inputs");
		ns = imp_ints(m, "starts", &v);
		if (ns < 0 || ns > IR_MAX_RANK)
			return imp_err(m, "needs at most %d starts", IR_MAX_RANK);
		memcpy(st, v, (size_t)ns * sizeof *st);
		ne = imp_ints(m, "ends", &v);
		if (ne != ns)
			return imp_err(m, "starts and ends differ in length");
		memcpy(en, v, (size_t)ne * sizeof *en);
		if ((na = imp_ints(m, "axes", &v)) > IR_MAX_RANK)
			return imp_err(m, "too many axes");
		if (na > 0)
			memcpy(ax, v, (size_t)na * sizeof *ax);
	} else {
		if (imp_attr(m, "starts") || imp_attr(m, "ends") || imp_attr(m, "axes"))
			return imp_err(m, "starts, ends and axes are inputs since opset 10, not attributes");
		if (m->nin < 3)
			return imp_err(m, "needs inputs starts and ends");
		if ((ns = imp_const_ints(m, 1, "starts", st, IR_MAX_RANK)) < 0 ||
			(ne = imp_const_ints(m, 2, "ends", en, IR_MAX_RANK)) < 0)
			return -1;
		if (has_in(m, 3) && (na = imp_const_ints(m, 3, "axes", ax, IR_MAX_RANK)) < 0)
			return -1;
		if (has_in(m, 4) && (np = imp_const_ints(m, 4, "steps", sp, IR_MAX_RANK)) < 0)
			return -1;
	}
	int nd = imp_node(m, OP_SLICE, m->in, 1, 0);
	ir_set_ints(m->g, nd, "starts", st, ns);
	ir_set_ints(m->g, nd, "ends", en, ne);
	if (na >= 0)
		ir_set_ints(m->g, nd, "axes", ax, na);
	if (np >= 0)
		ir_set_ints(m->g, nd, "steps", sp, np);
	return done(m, nd);
}

/* Split into m->nout parts along axis: sizes from the split attribute or
 * input, else num_outputs (opset 18) or the output count, equal parts
 * with a smaller last one. */
int idx_split(Importer *m, Op op)
{
	const Shape *x = &in_val(m, 0)->shape;
	if (x->rank < 0)
		return imp_err(m, "needs an input of known rank");
	int64_t a = imp_int(m, "axis", 0);
	int axis = (int)(a < 0 ? a + x->rank : a);
	if (axis < 0 || axis >= x->rank)
		return imp_err(m, "axis %lld out of range for rank %d", (long long)a, x->rank);
	if (x->d[axis].sym || x->d[axis].n < 0)
		return imp_err(m, "the split axis must have a static extent");
	int64_t d = x->d[axis].n, n = m->nout;
	int64_t *size = calloc((size_t)n + 1, sizeof *size);
	int ns = -1, rc = 0;
	if (m->opset < 13 && imp_attr(m, "split")) {
		const int64_t *v;
		ns = imp_ints(m, "split", &v);
		if (ns == n)
			memcpy(size, v, (size_t)n * sizeof *size);
	} else if (m->opset >= 13 && has_in(m, 1)) {
		int64_t *tmp = malloc((size_t)(n + 1) * sizeof *tmp);
		ns = imp_const_ints(m, 1, "split", tmp, (int)n);
		if (ns == n)
			memcpy(size, tmp, (size_t)n * sizeof *size);
		free(tmp);
		if (ns < 0) {
			free(size);
			return -1;
		}
	}
	if (ns >= 0 && ns != n) {
		rc = imp_err(m, "split has %d sizes for %lld outputs", ns, (long long)n);
	} else if (ns < 0) {
		int64_t parts = imp_attr(m, "num_outputs") ? imp_int(m, "num_outputs", n) : n;
		if (parts != n)
			rc = imp_err(m, "num_outputs %lld differs from the %lld outputs", (long long)parts,
				(long long)n);
		int64_t each = n > 0 ? (d + n - 1) / n : 0;
		for (int64_t k = 0; k < n; k++)
			size[k] = d - k * each < each ? (d - k * each > 0 ? d - k * each : 0) : each;
		if (m->opset < 18 && n > 0 && d % n)
			rc = imp_err(m, "extent %lld does not split into %lld equal parts", (long long)d,
				(long long)n);
	}
	int64_t total = 0;
	for (int64_t k = 0; k < n && rc == 0; k++) {
		if (size[k] < 0)
			rc = imp_err(m, "split size %lld is negative", (long long)size[k]);
		total += size[k];
	}
	if (rc == 0 && total != d)
		rc = imp_err(m, "split sizes add up to %lld, not the extent %lld", (long long)total,
			(long long)d);
	for (int64_t k = 0, at = 0; k < n && rc == 0; at += size[k], k++) {
		int64_t s = at, e = at + size[k], ax = axis;
		int nd = imp_node(m, OP_SLICE, m->in, 1, (int)k);
		ir_set_ints(m->g, nd, "starts", &s, 1);
		ir_set_ints(m->g, nd, "ends", &e, 1);
		ir_set_ints(m->g, nd, "axes", &ax, 1);
		rc = done(m, nd);
	}
	free(size);
	return rc;
}

/* ---- expand, tile, constant-of-shape ------------------------------------------ */

int idx_expand(Importer *m, Op op)
{
	int64_t shape[IR_MAX_RANK];
	int n = imp_const_ints(m, 1, "shape", shape, IR_MAX_RANK);
	if (n < 0)
		return -1;
	return imp_ints_op(m, OP_EXPAND, m->in[0], "shape", shape, n, 0) < 0 ? -1 : 0;
}

/* Tile: each dim d with repeat r != 1 becomes [r, d] by reshape and
 * expand, then the dims merge back: x[.., d, ..] -> y[.., r*d, ..]. */
int idx_tile(Importer *m, Op op)
{
	int64_t dims[IR_MAX_RANK], rep[IR_MAX_RANK];
	int r = idx_static_dims(m, 0, dims);
	if (r < 0)
		return -1;
	int n = imp_const_ints(m, 1, "repeats", rep, IR_MAX_RANK);
	if (n < 0)
		return -1;
	if (n != r)
		return imp_err(m, "repeats has %d values for rank %d", n, r);
	int64_t split[IR_MAX_RANK], big[IR_MAX_RANK], out[IR_MAX_RANK];
	int ns = 0;
	for (int i = 0; i < r; i++) {
		if (rep[i] < 0)
			return imp_err(m, "repeat %lld is negative", (long long)rep[i]);
		if (!ck_mul(rep[i], dims[i], &out[i]))
			return imp_err(m, "the result is too large");
		if (rep[i] != 1 && dims[i] != 1) {
			if (ns + 2 > IR_MAX_RANK)
				return imp_err(m, "repeating this many dims needs rank > %d", IR_MAX_RANK);
			split[ns] = 1;
			big[ns++] = rep[i];
		}
		split[ns] = dims[i];
		big[ns++] = rep[i] != 1 && dims[i] == 1 ? rep[i] : dims[i];
	}
	int v = imp_ints_op(m, OP_RESHAPE, m->in[0], "shape", split, ns, -1);
	if (v < 0 || (v = imp_ints_op(m, OP_EXPAND, v, "shape", big, ns, -1)) < 0)
		return -1;
	return imp_ints_op(m, OP_RESHAPE, v, "shape", out, r, 0) < 0 ? -1 : 0;
}

/* ConstantOfShape: the value (default float 0) expanded to the shape. */
int idx_constant_of_shape(Importer *m, Op op)
{
	int64_t shape[IR_MAX_RANK];
	int n = imp_const_ints(m, 0, "shape", shape, IR_MAX_RANK);
	if (n < 0)
		return -1;
	const Onnx__AttributeProto *a = imp_attr(m, "value");
	DType t = DT_F32;
	const void *data = NULL;
	size_t nbytes = 4;
	float f0 = 0;
	data = &f0;
	if (a) {
		if (!a->t)
			return imp_err(m, "attribute value holds no tensor");
		int tv = imp_tensor(m, a->t, imp_outname(m, -1, "value"), false);
		if (tv < 0)
			return -1;
		const Value *c = &m->g->val[tv];
		if (ir_shape_numel(&c->shape) != 1 || !c->data)
			return imp_err(m, "value must hold exactly one element");
		t = c->dtype;
		data = c->data;
		nbytes = ir_dtype_size(t);
	}
	int s = imp_const(m, "value0", t, ir_shape_make(0, NULL), data, nbytes);
	return imp_ints_op(m, OP_EXPAND, s, "shape", shape, n, 0) < 0 ? -1 : 0;
}

/* ---- constants from shapes ---------------------------------------------------- */

int idx_size(Importer *m, Op op)
{
	int64_t dims[IR_MAX_RANK];
	if (idx_static_dims(m, 0, dims) < 0)
		return -1;
	int64_t numel = ir_shape_numel(&in_val(m, 0)->shape);
	int v = imp_const(m, "size", DT_I64, ir_shape_make(0, NULL), &numel, 8);
	imp_bind(m, 0, v);
	return 0;
}

/* Range(start, limit, delta): max(ceil((limit - start) / delta), 0)
 * elements start + i * delta, in start's dtype. */
int idx_range(Importer *m, Op op)
{
	double s, l, dl;
	if (imp_const_scalar(m, 0, "start", &s) < 0 || imp_const_scalar(m, 1, "limit", &l) < 0 ||
		imp_const_scalar(m, 2, "delta", &dl) < 0)
		return -1;
	DType t = in_val(m, 0)->dtype;
	if (dl == 0)
		return imp_err(m, "delta is 0");
	double cnt = ceil((l - s) / dl);
	if (isnan(cnt) || cnt > (double)(1 << 24))
		return imp_err(m, "the range has too many elements");
	int64_t n = cnt > 0 ? (int64_t)cnt : 0;
	size_t esz = ir_dtype_size(t);
	unsigned char *buf = calloc((size_t)n + 1, esz);
	for (int64_t i = 0; i < n; i++) /* integer inputs are exact in double here */
		ir_elem_put(t, buf + (size_t)i * esz, s + (double)i * dl);
	int v = imp_const(m, "range", t, ir_shape_make(1, &n), buf, (size_t)n * esz);
	free(buf);
	imp_bind(m, 0, v);
	return 0;
}

/* EyeLike: ones on diagonal k of a 2-D shape, zeros elsewhere. */
int idx_eyelike(Importer *m, Op op)
{
	int64_t dims[IR_MAX_RANK];
	int r = idx_static_dims(m, 0, dims);
	if (r < 0)
		return -1;
	if (r != 2)
		return imp_err(m, "needs a 2-D input, got rank %d", r);
	DType t = in_val(m, 0)->dtype;
	if (imp_attr(m, "dtype")) {
		int64_t code = imp_int(m, "dtype", 0);
		t = code > 0 && code <= 64 ? (DType)code : DT_UNDEF;
		if (ir_dtype_size(t) == 0)
			return imp_err(m, "dtype %lld is unsupported", (long long)code);
	}
	int64_t k = imp_int(m, "k", 0), numel;
	if (!ck_mul(dims[0], dims[1], &numel) || numel > (1 << 26))
		return imp_err(m, "the result is too large");
	size_t esz = ir_dtype_size(t);
	unsigned char *buf = calloc((size_t)numel + 1, esz);
	for (int64_t i = 0; i < dims[0]; i++)
		if (i + k >= 0 && i + k < dims[1])
			ir_elem_put(t, buf + (size_t)(i * dims[1] + i + k) * esz, 1);
	int v = imp_const(m, "eye", t, ir_shape_make(2, dims), buf, (size_t)numel * esz);
	free(buf);
	imp_bind(m, 0, v);
	return 0;
}

/* ---- trilu, depth/space ----------------------------------------------------------- */

static int trilu_runtime(Importer *m, bool upper);

int idx_trilu(Importer *m, Op op)
{
	double k = 0;
	bool upper = imp_int(m, "upper", 1) != 0;
	if (has_in(m, 1) && imp_fold(m, m->in[1]) < 0)
		return trilu_runtime(m, upper);
	if (has_in(m, 1) && imp_const_scalar(m, 1, "k", &k) < 0)
		return -1;
	int nd = imp_node(m, OP_TRILU, m->in, 1, 0);
	ir_set_int(m->g, nd, "upper", upper);
	ir_set_int(m->g, nd, "k", (int64_t)k);
	return done(m, nd);
}

/* DepthToSpace (DCR or CRD) and SpaceToDepth as reshape, transpose,
 * reshape over [N, C, H, W] (N may be symbolic: reshape's 0 copies it). */
static int depth_space(Importer *m, bool to_space)
{
	const Shape *x = &in_val(m, 0)->shape;
	int64_t b = imp_int(m, "blocksize", 0);
	if (x->rank != 4)
		return imp_err(m, "needs a 4-D input");
	for (int i = 1; i < 4; i++)
		if (x->d[i].sym || x->d[i].n < 0)
			return imp_err(m, "needs static C, H and W");
	int64_t c = x->d[1].n, h = x->d[2].n, w = x->d[3].n;
	if (b < 1 || b > 4096)
		return imp_err(m, "blocksize %lld is invalid", (long long)b);
	int64_t s1[6], perm[6], s2[4];
	if (to_space) {
		if (c % (b * b))
			return imp_err(m, "C = %lld is not divisible by blocksize^2", (long long)c);
		const char *mode = imp_str(m, "mode", "DCR");
		bool crd = strcmp(mode, "CRD") == 0;
		if (!crd && strcmp(mode, "DCR") != 0)
			return imp_err(m, "mode \"%s\" is unsupported", mode);
		int64_t dcr_s[6] = {0, b, b, c / (b * b), h, w}, dcr_p[6] = {0, 3, 4, 1, 5, 2};
		int64_t crd_s[6] = {0, c / (b * b), b, b, h, w}, crd_p[6] = {0, 1, 4, 2, 5, 3};
		memcpy(s1, crd ? crd_s : dcr_s, sizeof s1);
		memcpy(perm, crd ? crd_p : dcr_p, sizeof perm);
		int64_t o[4] = {0, c / (b * b), h * b, w * b};
		memcpy(s2, o, sizeof s2);
	} else {
		if (h % b || w % b)
			return imp_err(m, "H and W must be divisible by blocksize %lld", (long long)b);
		int64_t s[6] = {0, c, h / b, b, w / b, b}, p[6] = {0, 3, 5, 1, 2, 4};
		int64_t o[4] = {0, c * b * b, h / b, w / b};
		memcpy(s1, s, sizeof s1);
		memcpy(perm, p, sizeof perm);
		memcpy(s2, o, sizeof s2);
	}
	int v = imp_ints_op(m, OP_RESHAPE, m->in[0], "shape", s1, 6, -1);
	if (v < 0 || (v = imp_ints_op(m, OP_TRANSPOSE, v, "perm", perm, 6, -1)) < 0)
		return -1;
	return imp_ints_op(m, OP_RESHAPE, v, "shape", s2, 4, 0) < 0 ? -1 : 0;
}

int idx_depth_to_space(Importer *m, Op op) { return depth_space(m, true); }
int idx_space_to_depth(Importer *m, Op op) { return depth_space(m, false); }

/* ---- gathers ------------------------------------------------------------------------- */

int idx_gather_elements(Importer *m, Op op)
{
	int nd = imp_node(m, OP_GATHER_ELEMENTS, m->in, 2, 0);
	ir_set_int(m->g, nd, "axis", imp_int(m, "axis", 0));
	return done(m, nd);
}

int idx_gather_nd(Importer *m, Op op)
{
	int nd = imp_node(m, OP_GATHER_ND, m->in, 2, 0);
	ir_set_int(m->g, nd, "batch_dims", imp_int(m, "batch_dims", 0));
	return done(m, nd);
}

/* ---- scatters ------------------------------------------------------------------------ */

/* ScatterElements (and Scatter, its name before opset 11) and ScatterND,
 * with reduction none, add, mul (opset 16), max, min (opset 18). */
static int scatter(Importer *m, Op op)
{
	const char *red = imp_str(m, "reduction", "none");
	int nd = imp_node(m, op, m->in, 3, 0);
	if (op == OP_SCATTER_ELEMENTS)
		ir_set_int(m->g, nd, "axis", imp_int(m, "axis", 0));
	ir_set_string(m->g, nd, "reduction", red);
	return done(m, nd);
}

int idx_scatter_elements(Importer *m, Op op) { return scatter(m, OP_SCATTER_ELEMENTS); }
int idx_scatter_nd(Importer *m, Op op) { return scatter(m, OP_SCATTER_ND); }

static int trilu_runtime(Importer *m, bool upper)
{
	int64_t dims[IR_MAX_RANK];
	int r = idx_static_dims(m, 0, dims);
	if (r < 0)
		return -1;
	if (r < 2)
		return imp_err(m, "needs rank >= 2");
	DType kt = in_val(m, 1)->dtype;
	if (kt != DT_I64 || ir_shape_numel(&in_val(m, 1)->shape) != 1)
		return imp_err(m, "k must be one int64");
	int64_t rows = dims[r - 2], cols = dims[r - 1], n2;
	if (!ck_mul(rows, cols, &n2) || n2 > (1 << 24))
		return imp_err(m, "the matrices are too large");
	int64_t *dv = calloc((size_t)n2 + 1, sizeof *dv), *jv = calloc((size_t)n2 + 1, sizeof *jv);
	for (int64_t i = 0; i < rows; i++)
		for (int64_t j = 0; j < cols; j++) {
			dv[i * cols + j] = j - i;
			jv[i * cols + j] = j;
		}
	int64_t md[2] = {rows, cols}, one = 1, zero = 0;
	int dc = imp_const(m, "diag", DT_I64, ir_shape_make(2, md), dv, (size_t)n2 * 8);
	int jc = imp_const(m, "col", DT_I64, ir_shape_make(2, md), jv, (size_t)n2 * 8);
	free(dv);
	free(jv);
	Shape s0 = ir_shape_make(0, NULL);
	int c1 = imp_const(m, "one", DT_I64, s0, &one, 8);
	int cc = imp_const(m, "cols", DT_I64, s0, &cols, 8);
	int k = imp_ints_op(m, OP_RESHAPE, m->in[1], "shape", &zero, 0, -1); /* a scalar */
	int t = k < 0 ? -1 : upper ? idx_bin(m, OP_SUB, dc, k) : idx_bin(m, OP_SUB, k, dc);
	if (t < 0 || (t = idx_bin(m, OP_ADD, t, c1)) < 0)
		return -1;
	int nd = imp_node(m, OP_CLIP, &t, 1, -1);
	ir_set_float(m->g, nd, "min", 0);
	ir_set_float(m->g, nd, "max", 1);
	int keep = imp_infer(m, nd), ix;
	if (keep < 0 || (ix = idx_bin(m, OP_MUL, keep, cc)) < 0 || (ix = idx_bin(m, OP_ADD, ix, jc)) < 0 ||
		(ix = imp_ints_op(m, OP_EXPAND, ix, "shape", dims, r, -1)) < 0)
		return -1;
	DType xt = in_val(m, 0)->dtype;
	unsigned char z[16] = {0};
	int zc = imp_const(m, "zero", xt, s0, z, ir_dtype_size(xt));
	int zeros = imp_ints_op(m, OP_EXPAND, zc, "shape", dims, r, -1);
	if (zeros < 0)
		return -1;
	int parts[2] = {zeros, m->in[0]};
	nd = imp_node(m, OP_CONCAT, parts, 2, -1);
	ir_set_int(m->g, nd, "axis", r - 1);
	int both = imp_infer(m, nd);
	if (both < 0)
		return -1;
	int gin[2] = {both, ix};
	nd = imp_node(m, OP_GATHER_ELEMENTS, gin, 2, 0);
	ir_set_int(m->g, nd, "axis", r - 1);
	return done(m, nd);
}
