/* eval_nn.c — reference semantics of matmul, conv, maxpool/avgpool and
 * batchnorm: naive loops, float64 accumulation (int64 for integer matmul).
 * Attributes were validated by the shape rule that sized the output, so
 * only their defaults are applied here. Layout is NCHW, weights KCHW. */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void ints_or(const Node *n, const char *name, int cnt, int64_t dflt, int64_t *v)
{
	const int64_t *a;
	if (ir_attr_ints(n, name, &a) == cnt)
		memcpy(v, a, (size_t)cnt * sizeof *v);
	else
		for (int i = 0; i < cnt; i++)
			v[i] = dflt;
}

/* One matmul operand seen as [batch..., rows, cols] with element strides;
 * a 1-D operand is a single row (A) or column (B). */
typedef struct MmView {
	Shape s;               /* promoted, transposed shape */
	int64_t st[IR_MAX_RANK]; /* element strides of s */
} MmView;

static MmView mm_view(const Shape *s, bool is_a, bool trans)
{
	MmView v;
	v.s = *s;
	ev_strides(s, v.st);
	if (s->rank == 1) {
		v.s.rank = 2;
		if (is_a) { /* [k] -> [1, k] */
			v.s.d[1] = s->d[0];
			v.s.d[0].n = 1;
			v.st[1] = 1;
			v.st[0] = 0;
		} else { /* [k] -> [k, 1] */
			v.s.d[1].n = 1;
			v.st[0] = 1;
			v.st[1] = 0;
		}
	} else if (trans) {
		int r = s->rank;
		Dim t = v.s.d[r - 1];
		v.s.d[r - 1] = v.s.d[r - 2];
		v.s.d[r - 2] = t;
		int64_t u = v.st[r - 1];
		v.st[r - 1] = v.st[r - 2];
		v.st[r - 2] = u;
	}
	return v;
}

int ev_matmul(const Ev *e)
{
	const Tensor *A = &e->in[0], *B = &e->in[1];
	MmView a = mm_view(&A->shape, true, ir_attr_int(e->n, "trans_a", 0) != 0);
	MmView b = mm_view(&B->shape, false, ir_attr_int(e->n, "trans_b", 0) != 0);
	int ra = a.s.rank, rb = b.s.rank;
	int64_t m = a.s.d[ra - 2].n, kk = a.s.d[ra - 1].n, n = b.s.d[rb - 1].n;
	int64_t ars = a.st[ra - 2], acs = a.st[ra - 1], brs = b.st[rb - 2], bcs = b.st[rb - 1];
	/* Broadcast batch dims: extents and per-operand strides (0 = broadcast). */
	Shape bs;
	bs.rank = (ra > rb ? ra : rb) - 2;
	int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
	int64_t nbatch = 1;
	for (int i = 0; i < bs.rank; i++) {
		int ia = i - (bs.rank - (ra - 2)), ib = i - (bs.rank - (rb - 2));
		int64_t ea = ia >= 0 ? a.s.d[ia].n : 1, eb = ib >= 0 ? b.s.d[ib].n : 1;
		bs.d[i] = (Dim){ea == 1 ? eb : ea, 0};
		sa[i] = ea == 1 ? 0 : a.st[ia];
		sb[i] = eb == 1 ? 0 : b.st[ib];
		nbatch *= bs.d[i].n;
	}
	bool isint = ev_is_int(A->dtype);
	double *fa = NULL, *fb = NULL, *fy = NULL;
	int64_t *ia_ = NULL, *ib_ = NULL, *iy = NULL;
	int64_t ny = ev_numel(&e->out[0]);
	if (isint) {
		ia_ = ev_load_i64(A);
		ib_ = ev_load_i64(B);
		iy = xmalloc((size_t)ny * 8 + 8);
	} else {
		fa = ev_load_f64(A);
		fb = ev_load_f64(B);
		fy = xmalloc((size_t)ny * 8 + 8);
	}
	for (int64_t bi = 0; bi < nbatch; bi++, ev_next(idx, &bs)) {
		int64_t oa = 0, ob = 0;
		for (int i = 0; i < bs.rank; i++) {
			oa += idx[i] * sa[i];
			ob += idx[i] * sb[i];
		}
		for (int64_t i = 0; i < m; i++) {
			for (int64_t j = 0; j < n; j++) {
				int64_t o = (bi * m + i) * n + j;
				int64_t pa = oa + i * ars, pb = ob + j * bcs;
				if (isint) {
					uint64_t acc = 0;
					for (int64_t p = 0; p < kk; p++) {
						uint64_t u = (uint64_t)ia_[pa + p * acs];
						acc += u * (uint64_t)ib_[pb + p * brs];
					}
					iy[o] = (int64_t)acc;
				} else {
					double acc = 0;
					for (int64_t p = 0; p < kk; p++)
						acc += fa[pa + p * acs] * fb[pb + p * brs];
					fy[o] = acc;
				}
			}
		}
	}
	if (isint)
		ev_store_i64(&e->out[0], iy);
	else
		ev_store_f64(&e->out[0], fy);
	free(fa);
	free(fb);
	free(fy);
	free(ia_);
	free(ib_);
	free(iy);
	return 0;
}

int ev_conv(const Ev *e)
{
	const Shape *xs = &e->in[0].shape, *ws = &e->in[1].shape, *ys = &e->out[0].shape;
	int64_t st[2], pads[4], dil[2];
	ints_or(e->n, "strides", 2, 1, st);
	ints_or(e->n, "pads", 4, 0, pads);
	ints_or(e->n, "dilations", 2, 1, dil);
	int64_t group = ir_attr_int(e->n, "group", 1);
	int64_t N = xs->d[0].n, C = xs->d[1].n, H = xs->d[2].n, W = xs->d[3].n;
	int64_t K = ws->d[0].n, Cg = ws->d[1].n, KH = ws->d[2].n, KW = ws->d[3].n;
	int64_t OH = ys->d[2].n, OW = ys->d[3].n, Kg = K / group;
	bool hasb = e->n->nin > 2 && e->n->in[2] >= 0;
	double *x = ev_load_f64(&e->in[0]), *w = ev_load_f64(&e->in[1]);
	double *b = hasb ? ev_load_f64(&e->in[2]) : NULL;
	double *y = xmalloc((size_t)ev_numel(&e->out[0]) * 8 + 8);
	for (int64_t n = 0; n < N; n++)
	for (int64_t k = 0; k < K; k++)
	for (int64_t oh = 0; oh < OH; oh++)
	for (int64_t ow = 0; ow < OW; ow++) {
		double acc = hasb ? b[k] : 0;
		int64_t c0 = k / Kg * Cg;
		for (int64_t c = 0; c < Cg; c++)
		for (int64_t i = 0; i < KH; i++) {
			int64_t h = oh * st[0] - pads[0] + i * dil[0];
			if (h < 0 || h >= H)
				continue;
			for (int64_t j = 0; j < KW; j++) {
				int64_t ww = ow * st[1] - pads[1] + j * dil[1];
				if (ww < 0 || ww >= W)
					continue;
				acc += x[((n * C + c0 + c) * H + h) * W + ww] *
					w[((k * Cg + c) * KH + i) * KW + j];
			}
		}
		y[((n * K + k) * OH + oh) * OW + ow] = acc;
	}
	ev_store_f64(&e->out[0], y);
	free(x);
	free(w);
	free(b);
	free(y);
	return 0;
}

/* maxpool: padding acts as -inf, NaN propagates. avgpool: the divisor
 * counts window elements inside the input (count_include_pad = 0) or
 * inside the padded input [-pt, H+pb) x [-pl, W+pr) (= 1). */
int ev_pool(const Ev *e)
{
	const Shape *xs = &e->in[0].shape, *ys = &e->out[0].shape;
	bool ismax = e->n->op == OP_MAXPOOL;
	int64_t kr[2], st[2], pads[4], dil[2];
	ints_or(e->n, "kernel", 2, 1, kr);
	ints_or(e->n, "strides", 2, 1, st);
	ints_or(e->n, "pads", 4, 0, pads);
	if (ismax)
		ints_or(e->n, "dilations", 2, 1, dil);
	else
		dil[0] = dil[1] = 1;
	bool cip = ir_attr_int(e->n, "count_include_pad", 0) != 0;
	int64_t NC = xs->d[0].n * xs->d[1].n, H = xs->d[2].n, W = xs->d[3].n;
	int64_t OH = ys->d[2].n, OW = ys->d[3].n;
	double *x = ev_load_f64(&e->in[0]);
	double *y = xmalloc((size_t)ev_numel(&e->out[0]) * 8 + 8);
	for (int64_t nc = 0; nc < NC; nc++)
	for (int64_t oh = 0; oh < OH; oh++)
	for (int64_t ow = 0; ow < OW; ow++) {
		double acc = ismax ? -INFINITY : 0;
		int64_t cnt = 0;
		for (int64_t i = 0; i < kr[0]; i++) {
			int64_t h = oh * st[0] - pads[0] + i * dil[0];
			for (int64_t j = 0; j < kr[1]; j++) {
				int64_t w = ow * st[1] - pads[1] + j * dil[1];
				bool in = h >= 0 && h < H && w >= 0 && w < W;
				if (cip ? h < H + pads[2] && w < W + pads[3] : in)
					cnt++;
				if (!in)
					continue;
				double v = x[(nc * H + h) * W + w];
				if (!ismax)
					acc += v;
				else if (isnan(v) || v > acc)
					acc = isnan(acc) ? acc : v;
			}
		}
		y[(nc * OH + oh) * OW + ow] = ismax ? acc : acc / (double)cnt;
	}
	ev_store_f64(&e->out[0], y);
	free(x);
	free(y);
	return 0;
}

/* y = (x - mean) / sqrt(var + epsilon) * scale + bias, per channel (axis 1). */
int ev_batchnorm(const Ev *e)
{
	const Shape *xs = &e->in[0].shape;
	double eps = ir_attr_float(e->n, "epsilon", 1e-5);
	int64_t C = xs->d[1].n, inner = 1, N = xs->d[0].n;
	for (int i = 2; i < xs->rank; i++)
		inner *= xs->d[i].n;
	double *x = ev_load_f64(&e->in[0]), *sc = ev_load_f64(&e->in[1]);
	double *bi = ev_load_f64(&e->in[2]), *mu = ev_load_f64(&e->in[3]);
	double *var = ev_load_f64(&e->in[4]);
	for (int64_t n = 0; n < N; n++)
		for (int64_t c = 0; c < C; c++) {
			double *p = x + (n * C + c) * inner;
			double sd = sqrt(var[c] + eps);
			for (int64_t i = 0; i < inner; i++)
				p[i] = (p[i] - mu[c]) / sd * sc[c] + bi[c];
		}
	ev_store_f64(&e->out[0], x);
	free(x);
	free(sc);
	free(bi);
	free(mu);
	free(var);
	return 0;
}
