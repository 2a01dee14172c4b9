/* onnx_signal.c — DFT and STFT (misc family) as matmuls with constant
 * cos/sin tables, so they fuse and run on the GEMM library like any
 * other contraction.
 *
 * A signal of N samples with c = 1 (real) or 2 (complex) channels per
 * sample is flattened to N*c values, row n*c + j of the table; each of
 * the K outputs has 2 columns (real, imaginary), or 1 for the inverse of
 * a one-sided spectrum (irfft). With theta = 2 pi k n / L, s = 1 (forward)
 * or 1/L (inverse) and sigma = -1 (forward) or +1 (inverse):
 *   re_k = s sum_n re_n cos(theta) - sigma im_n sin(theta)
 *   im_k = s sum_n sigma re_n sin(theta) + im_n cos(theta)
 * dft_length L truncates (rows n >= L are zero) or zero-pads (rows past N
 * are not needed). irfft reads frequencies n < min(N, L/2 + 1), each
 * counted twice except 0 and L/2, so real outputs need no mirror copy;
 * its L defaults to 2 (N - 1).
 * Tables are computed in double and stored in the signal's dtype.
 * MelWeightMatrix's triangles are computed at run time (sample rate and
 * edges are tensors), in float64, from comparisons and where. */
#include "onnx_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool has_in(const Importer *m, int k) { return k < m->nin && m->in[k] >= 0; }
static const Shape *shp(const Importer *m, int v) { return &m->g->val[v].shape; }

static int node2(Importer *m, Op op, int a, int b, int slot)
{
	return imp_op2(m, op, a, b, slot);
}

static int reshape(Importer *m, int x, const int64_t *dims, int n, int slot)
{
	return imp_ints_op(m, OP_RESHAPE, x, "shape", dims, n, slot);
}

static int transpose(Importer *m, int x, const int64_t *perm, int n, int slot)
{
	return imp_ints_op(m, OP_TRANSPOSE, x, "perm", perm, n, slot);
}

/* One transform: N samples of c channels, length L, K outputs. */
typedef struct Dft {
	int64_t n;    /* samples along the signal axis */
	int c;        /* channels per sample: 1 real, 2 complex */
	int64_t l;    /* dft_length */
	int64_t k;    /* outputs: L, or L/2 + 1 one-sided */
	bool inverse; /* inverse transform (scaled by 1/L) */
	bool irfft;   /* inverse of a one-sided spectrum: K = L real outputs */
} Dft;

/* Output columns per output position. */
static int dft_cols(const Dft *f) { return f->irfft ? 1 : 2; }

/* The [N*c, K*cols] table of f as a constant of dtype t, or -1. */
static int dft_table(Importer *m, const Dft *f, DType t)
{
	int cols = dft_cols(f);
	int64_t rows = f->n * f->c, ncol = f->k * cols, numel;
	if (!ck_mul(rows, ncol, &numel) || numel > ((int64_t)1 << 26))
		return imp_err(m, "the DFT table of %lld x %lld values is too large", (long long)rows,
			(long long)ncol);
	size_t esz = ir_dtype_size(t);
	unsigned char *buf = calloc((size_t)numel + 1, esz);
	if (!buf)
		return imp_err(m, "out of memory");
	double sigma = f->inverse ? 1 : -1, s = f->inverse ? 1.0 / (double)f->l : 1;
	for (int64_t n = 0; n < f->n; n++) {
		for (int64_t k = 0; k < f->k; k++) {
			double th = 2 * M_PI * (double)((n * k) % f->l) / (double)f->l;
			double co = cos(th), si = sin(th), w[2][2] = {{0, 0}, {0, 0}};
			if (f->irfft) { /* n: frequency, k: output sample */
				if (n < f->l / 2 + 1) {
					double twice = n == 0 || 2 * n == f->l ? 1 : 2;
					w[0][0] = twice * s * co;
					w[1][0] = -twice * s * si;
				}
			} else if (n < f->l) {
				w[0][0] = s * co, w[0][1] = sigma * s * si;
				w[1][0] = -sigma * s * si, w[1][1] = s * co;
			}
			for (int j = 0; j < f->c; j++)
				for (int o = 0; o < cols; o++)
					ir_elem_put(t, buf + (size_t)((n * f->c + j) * ncol + k * cols + o) * esz, w[j][o]);
		}
	}
	int64_t dims[2] = {rows, ncol};
	int v = imp_const(m, "dft_table", t, ir_shape_make(2, dims), buf, (size_t)numel * esz);
	free(buf);
	return v;
}

/* Checks the dtype and the channel count of input 0. */
static int signal_type(Importer *m, int *c)
{
	const Value *x = &m->g->val[m->in[0]];
	if (!ir_dtype_is_float(x->dtype))
		return imp_err(m, "the signal must be a float type, not %s", ir_dtype_name(x->dtype));
	if (!ir_shape_static(&x->shape) || x->shape.rank < 2)
		return imp_err(m, "needs a signal of static shape and rank >= 2");
	*c = (int)x->shape.d[x->shape.rank - 1].n;
	if (*c != 1 && *c != 2)
		return imp_err(m, "the last dim must be 1 (real) or 2 (complex), not %d", *c);
	return 0;
}

/* DFT: axis (attribute before opset 20, input 2 from it), dft_length
 * (input 1), inverse, onesided. */
int misc_dft(Importer *m, Op op)
{
	(void)op;
	Dft f;
	memset(&f, 0, sizeof f);
	if (signal_type(m, &f.c) < 0)
		return -1;
	const Shape xs = *shp(m, m->in[0]);
	int r = xs.rank;
	int64_t axis = imp_int(m, "axis", 1);
	if (m->opset >= 20) {
		if (imp_attr(m, "axis"))
			return imp_err(m, "axis is an input from opset 20");
		axis = -2;
		if (has_in(m, 2) && imp_const_int(m, 2, "axis", &axis) < 0)
			return -1;
	}
	if (axis < 0)
		axis += r;
	if (axis < 0 || axis > r - 2)
		return imp_err(m, "axis %lld is out of range for a signal of rank %d", (long long)axis, r);
	f.n = xs.d[axis].n;
	f.inverse = imp_int(m, "inverse", 0) != 0;
	bool onesided = imp_int(m, "onesided", 0) != 0;
	f.irfft = onesided && f.inverse;
	f.l = f.irfft ? 2 * (f.n - 1) : f.n; /* irfft: N = L/2 + 1 frequencies */
	if (has_in(m, 1) && imp_const_int(m, 1, "dft_length", &f.l) < 0)
		return -1;
	if (f.l < 1 || f.l > (1 << 20))
		return imp_err(m, "dft_length %lld is out of range", (long long)f.l);
	f.k = onesided && !f.inverse ? f.l / 2 + 1 : f.l;
	/* [.., N, .., c] -> [others.., N, c] -> [others.., N*c] */
	int64_t perm[IR_MAX_RANK], back[IR_MAX_RANK], flat[IR_MAX_RANK], outd[IR_MAX_RANK];
	int np = 0, no = 0;
	for (int i = 0; i < r - 1; i++)
		if (i != axis) {
			perm[np++] = i;
			flat[no] = xs.d[i].n;
			outd[no++] = xs.d[i].n;
		}
	perm[np++] = axis, perm[np++] = r - 1;
	flat[no] = f.n * f.c;
	int x = transpose(m, m->in[0], perm, r, -1);
	x = reshape(m, x, flat, no + 1, -1);
	int t = dft_table(m, &f, m->g->val[m->in[0]].dtype);
	int y = node2(m, OP_MATMUL, x, t, -1);
	/* [others.., K*cols] -> [others.., K, cols] -> K back to the axis */
	outd[no] = f.k, outd[no + 1] = dft_cols(&f);
	y = reshape(m, y, outd, no + 2, -1);
	for (int i = 0, j = 0; i < r; i++)
		back[i] = i == axis ? no : i == r - 1 ? no + 1 : j++;
	return transpose(m, y, back, r, 0) < 0 ? -1 : 0;
}

/* STFT: signal [B, T, c], frame_step (input 1), window [L] (input 2),
 * frame_length (input 3), onesided (default 1). Frames are gathered with
 * constant indices, windowed, then transformed: [B, F, K, 2]. */
int misc_stft(Importer *m, Op op)
{
	(void)op;
	Dft f;
	memset(&f, 0, sizeof f);
	if (signal_type(m, &f.c) < 0)
		return -1;
	const Shape xs = *shp(m, m->in[0]);
	if (xs.rank != 3)
		return imp_err(m, "the signal must be [batch, length, 1 or 2]");
	int64_t step, len = -1;
	if (imp_const_int(m, 1, "frame_step", &step) < 0)
		return -1;
	if (has_in(m, 3) && imp_const_int(m, 3, "frame_length", &len) < 0)
		return -1;
	if (has_in(m, 2)) {
		const Shape *ws = shp(m, m->in[2]);
		if (ws->rank != 1 || !ir_shape_static(ws) || (len >= 0 && ws->d[0].n != len))
			return imp_err(m, "the window must be 1-D and frame_length long");
		len = ws->d[0].n;
	}
	int64_t total = xs.d[1].n;
	if (len < 1 || len > total || step < 1)
		return imp_err(m, "frame_length (%lld) and frame_step (%lld) do not fit a signal of %lld",
			(long long)len, (long long)step, (long long)total);
	int64_t frames = (total - len) / step + 1, numel;
	if (!ck_mul(frames, len, &numel) || numel > ((int64_t)1 << 24))
		return imp_err(m, "too many frames");
	f.n = f.l = len;
	f.inverse = false;
	f.k = imp_int(m, "onesided", 1) ? len / 2 + 1 : len;
	int64_t *idx = calloc((size_t)numel, sizeof *idx);
	if (!idx)
		return imp_err(m, "out of memory");
	for (int64_t i = 0; i < frames; i++)
		for (int64_t j = 0; j < len; j++)
			idx[i * len + j] = i * step + j;
	int64_t id[2] = {frames, len};
	int ix = imp_const(m, "frames", DT_I64, ir_shape_make(2, id), idx, (size_t)numel * sizeof *idx);
	free(idx);
	if (ix < 0)
		return -1;
	int g = imp_node(m, OP_GATHER, (int[]){m->in[0], ix}, 2, -1);
	ir_set_int(m->g, g, "axis", 1);
	int x = imp_infer(m, g); /* [B, F, L, c] */
	if (has_in(m, 2)) {
		int64_t w4[4] = {1, 1, len, 1};
		x = node2(m, OP_MUL, x, reshape(m, m->in[2], w4, 4, -1), -1);
	}
	int64_t b = xs.d[0].n, f3[3] = {b, frames, len * f.c}, o4[4] = {b, frames, f.k, 2};
	int y = node2(m, OP_MATMUL, reshape(m, x, f3, 3, -1), dft_table(m, &f, m->g->val[m->in[0]].dtype), -1);
	return reshape(m, y, o4, 4, 0) < 0 ? -1 : 0;
}

/* ---- MelWeightMatrix ---------------------------------------------------------------- */

static int node1(Importer *m, Op op, int x)
{
	return x < 0 ? -1 : imp_infer(m, imp_node(m, op, &x, 1, -1));
}

static int where3(Importer *m, int c, int a, int b)
{
	if (c < 0 || a < 0 || b < 0)
		return -1;
	int in[3] = {c, a, b};
	return imp_infer(m, imp_node(m, OP_WHERE, in, 3, -1));
}

/* A float64 constant of n values v[i] shaped dims (rank r). */
static int f64s(Importer *m, const double *v, const int64_t *dims, int r)
{
	int64_t n = 1;
	for (int i = 0; i < r; i++)
		n *= dims[i];
	return imp_const(m, "mel", DT_F64, ir_shape_make(r, dims), v, (size_t)n * sizeof *v);
}

static int k64(Importer *m, double v) { return f64s(m, &v, NULL, 0); }

/* Scalar float64 of run-time input k. */
static int scalar_in(Importer *m, int k)
{
	int v = m->in[k];
	if (ir_shape_numel(shp(m, v)) != 1)
		return imp_err(m, "input %d must hold one value", k);
	int64_t none = 0;
	int c = imp_node(m, OP_CAST, &v, 1, -1);
	ir_set_string(m->g, c, "to", "f64");
	return reshape(m, imp_infer(m, c), &none, 0, -1);
}

/* MelWeightMatrix: num_mel_bins M and dft_length L constant, the rest at
 * run time, in float64 as ONNX's reference computes:
 *   mel(f) = 2595 log10(1 + f / 700), step = (mel(hi) - mel(lo)) / (M + 2)
 *   b[k] = floor((L + 1) hz(k step + mel(lo)) / sample_rate), k < M + 2
 * and column i the triangle over bins [b[i], b[i+1], b[i+2]]: rising
 * (j - l) / (c - l) on [l, c] (1 at c when l = c), falling (h - j) / (h - c)
 * on [c, h), into [L/2 + 1, M]. */
int misc_mel_weight_matrix(Importer *m, Op op)
{
	(void)op;
	int64_t nm, len;
	if (imp_const_int(m, 0, "num_mel_bins", &nm) < 0 || imp_const_int(m, 1, "dft_length", &len) < 0)
		return -1;
	if (nm < 1 || nm > 4096 || len < 1 || len > (1 << 20))
		return imp_err(m, "num_mel_bins %lld or dft_length %lld is out of range", (long long)nm,
			(long long)len);
	int64_t code = imp_int(m, "output_datatype", 1);
	DType ot = code > 0 && code <= 64 ? (DType)code : DT_UNDEF;
	if (!ir_dtype_is_float(ot))
		return imp_err(m, "output_datatype %lld is unsupported", (long long)code);
	int64_t nk = len / 2 + 1, npts = nm + 2;
	double ln10 = log(10.0);
	int sr = scalar_in(m, 2), lo = scalar_in(m, 3), hi = scalar_in(m, 4);
	if (sr < 0 || lo < 0 || hi < 0)
		return -1;
	int mel[2];
	for (int i = 0; i < 2; i++) { /* 2595 / ln 10 * log(1 + f / 700) */
		int f = node2(m, OP_ADD, node2(m, OP_MUL, i ? hi : lo, k64(m, 1.0 / 700), -1), k64(m, 1), -1);
		mel[i] = node2(m, OP_MUL, node1(m, OP_LOG, f), k64(m, 2595 / ln10), -1);
	}
	int step = node2(m, OP_MUL, node2(m, OP_SUB, mel[1], mel[0], -1), k64(m, 1.0 / (double)npts), -1);
	double *kv = calloc((size_t)(npts > nk ? npts : nk), sizeof *kv);
	if (!kv)
		return imp_err(m, "out of memory");
	for (int64_t k = 0; k < (npts > nk ? npts : nk); k++)
		kv[k] = (double)k;
	int64_t jd[2] = {nk, 1};
	int ks = f64s(m, kv, &npts, 1), jcol = f64s(m, kv, jd, 2); /* k < M + 2; j < L/2 + 1 as a column */
	free(kv);
	int fk = node2(m, OP_ADD, node2(m, OP_MUL, ks, step, -1), mel[0], -1);
	int hz = node2(m, OP_MUL, node2(m, OP_SUB, node1(m, OP_EXP, node2(m, OP_MUL, fk, k64(m, ln10 / 2595), -1)),
		k64(m, 1), -1), k64(m, 700), -1);
	int b = node1(m, OP_FLOOR, node2(m, OP_DIV, node2(m, OP_MUL, hz, k64(m, (double)(len + 1)), -1), sr, -1));
	int pt[3]; /* l, c, h as rows [1, M] */
	int64_t row[2] = {1, nm};
	for (int i = 0; i < 3; i++) {
		int64_t s0 = i, e0 = i + nm, ax = 0;
		if (b < 0)
			return -1;
		int sl = imp_node(m, OP_SLICE, &b, 1, -1);
		ir_set_ints(m->g, sl, "starts", &s0, 1);
		ir_set_ints(m->g, sl, "ends", &e0, 1);
		ir_set_ints(m->g, sl, "axes", &ax, 1);
		pt[i] = reshape(m, imp_infer(m, sl), row, 2, -1);
	}
	int l = pt[0], c = pt[1], h = pt[2], zero = k64(m, 0), one = k64(m, 1);
	int ge_l = node1(m, OP_NOT, node2(m, OP_LESS, jcol, l, -1));
	int le_c = node1(m, OP_NOT, node2(m, OP_GREATER, jcol, c, -1));
	int ge_c = node1(m, OP_NOT, node2(m, OP_LESS, jcol, c, -1));
	int lt_h = node2(m, OP_LESS, jcol, h, -1);
	int rise = node2(m, OP_DIV, node2(m, OP_SUB, jcol, l, -1), node2(m, OP_SUB, c, l, -1), -1);
	int fall = node2(m, OP_DIV, node2(m, OP_SUB, h, jcol, -1), node2(m, OP_SUB, h, c, -1), -1);
	int up = where3(m, node2(m, OP_EQUAL, c, l, -1), where3(m, node2(m, OP_EQUAL, jcol, c, -1), one, zero),
		where3(m, node2(m, OP_AND, ge_l, le_c, -1), rise, zero));
	int down = node2(m, OP_AND, node2(m, OP_GREATER, h, c, -1), node2(m, OP_AND, ge_c, lt_h, -1), -1);
	int y = where3(m, down, fall, up);
	if (y < 0)
		return -1;
	int cn = imp_node(m, OP_CAST, &y, 1, 0);
	ir_set_string(m->g, cn, "to", ir_dtype_name(ot));
	return imp_infer(m, cn) < 0 ? -1 : 0;
}
