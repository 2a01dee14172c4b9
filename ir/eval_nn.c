/* eval_nn.c — reference semantics of matmul and batchnorm: naive loops,
 * float64 accumulation (int64 for integer matmul). The windowed ops
 * (conv, pools) are in eval_conv.c. */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
