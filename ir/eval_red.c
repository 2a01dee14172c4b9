/* eval_red.c — the interpreter rules of the reduction family's own ops:
 * reduce_min and reduce_prod (over axes, like eval_math.c's reduce_sum),
 * argmax/argmin (the first extreme along one axis; a NaN counts as the
 * extreme, as numpy's), cumsum/cumprod (inclusive or exclusive,
 * forward or reversed running sums or products along one axis) and topk (the k first elements in
 * the order by value, ties by index). Floats accumulate in float64;
 * integers in int64, wrapping to the dtype. */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Marks the reduced axes of x (every axis when axes is absent or empty)
 * and fills st with the output offsets seen with kept dims (0 on reduced). */
static void red_map(const Ev *e, const Shape *xs, int64_t *st)
{
	bool red[IR_MAX_RANK] = {0};
	const int64_t *ax;
	int na = ir_attr_ints(e->n, "axes", &ax);
	for (int i = 0; i < xs->rank; i++)
		red[i] = na <= 0;
	for (int i = 0; i < na; i++)
		red[ax[i] < 0 ? ax[i] + xs->rank : ax[i]] = true;
	Shape ks = *xs;
	for (int i = 0; i < xs->rank; i++)
		if (red[i])
			ks.d[i].n = 1;
	ev_strides(&ks, st);
	for (int i = 0; i < xs->rank; i++)
		if (red[i])
			st[i] = 0;
}

/* min that propagates NaN */
static double fminn(double m, double v) { return isnan(m) || isnan(v) ? NAN : v < m ? v : m; }

/* reduce_min, reduce_prod; reduce_max and reduce_min over bool (any and
 * all: false and true over an empty axis). */
int ev_reduce_red(const Ev *e)
{
	bool prod = e->n->op == OP_REDUCE_PROD;
	const Tensor *x = &e->in[0];
	Tensor *y = &e->out[0];
	const Shape *xs = &x->shape;
	int64_t st[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
	red_map(e, xs, st);
	int64_t nx = ev_numel(x), ny = ev_numel(y);
	if (x->dtype == DT_BOOL) {
		bool any = e->n->op == OP_REDUCE_MAX;
		double *v = ev_load_f64(x), *acc = xmalloc((size_t)ny * 8 + 8);
		for (int64_t j = 0; j < ny; j++)
			acc[j] = !any;
		for (int64_t i = 0; i < nx; i++, ev_next(idx, xs)) {
			int64_t o = 0;
			for (int k = 0; k < xs->rank; k++)
				o += idx[k] * st[k];
			acc[o] = any ? (acc[o] || v[i]) : (acc[o] && v[i]);
		}
		ev_store_f64(y, acc);
		free(v);
		free(acc);
		return 0;
	}
	if (ev_is_int(x->dtype)) {
		int64_t *v = ev_load_i64(x), *acc = xmalloc((size_t)ny * 8 + 8);
		int64_t hi = x->dtype == DT_I32 ? INT32_MAX : INT64_MAX;
		for (int64_t j = 0; j < ny; j++)
			acc[j] = prod ? 1 : hi;
		for (int64_t i = 0; i < nx; i++, ev_next(idx, xs)) {
			int64_t o = 0;
			for (int k = 0; k < xs->rank; k++)
				o += idx[k] * st[k];
			if (prod)
				acc[o] = (int64_t)((uint64_t)acc[o] * (uint64_t)v[i]);
			else
				acc[o] = v[i] < acc[o] ? v[i] : acc[o];
		}
		ev_store_i64(y, acc);
		free(v);
		free(acc);
		return 0;
	}
	double *v = ev_load_f64(x), *acc = xmalloc((size_t)ny * 8 + 8);
	for (int64_t j = 0; j < ny; j++)
		acc[j] = prod ? 1 : INFINITY;
	for (int64_t i = 0; i < nx; i++, ev_next(idx, xs)) {
		int64_t o = 0;
		for (int k = 0; k < xs->rank; k++)
			o += idx[k] * st[k];
		acc[o] = prod ? acc[o] * v[i] : fminn(acc[o], v[i]);
	}
	ev_store_f64(y, acc);
	free(v);
	free(acc);
	return 0;
}

/* Extents around axis: outer * len * inner elements. */
static void split(const Shape *s, int axis, int64_t *outer, int64_t *len, int64_t *inner)
{
	*outer = *inner = 1;
	for (int i = 0; i < axis; i++)
		*outer *= s->d[i].n;
	for (int i = axis + 1; i < s->rank; i++)
		*inner *= s->d[i].n;
	*len = s->d[axis].n;
}

/* argmax/argmin: the first extreme along the axis, or with
 * select_last_index the last one (the first walking backwards); a NaN
 * counts as the extreme, so the first (last) NaN wins. */
int ev_argmax(const Ev *e)
{
	const Tensor *x = &e->in[0];
	int axis = (int)ir_attr_int(e->n, "axis", 0);
	if (axis < 0)
		axis += x->shape.rank;
	bool mx = e->n->op == OP_ARGMAX, last = ir_attr_int(e->n, "select_last_index", 0) != 0;
	int64_t outer, len, inner;
	split(&x->shape, axis, &outer, &len, &inner);
	bool i64 = x->dtype == DT_I64; /* compared exactly, not through double */
	double *v = i64 ? NULL : ev_load_f64(x);
	int64_t *w = i64 ? ev_load_i64(x) : NULL;
	int64_t *r = xmalloc((size_t)(outer * inner) * 8 + 8);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t in = 0; in < inner; in++) {
			int64_t base = o * len * inner + in, best = last ? len - 1 : 0;
			for (int64_t j = 1; j < len; j++) {
				int64_t k = last ? len - 1 - j : j;
				bool take;
				if (i64) {
					int64_t a = w[base + k * inner], b = w[base + best * inner];
					take = mx ? a > b : a < b;
				} else {
					double a = v[base + k * inner], b = v[base + best * inner];
					take = !isnan(b) && (isnan(a) || (mx ? a > b : a < b));
				}
				if (take)
					best = k;
			}
			r[o * inner + in] = best;
		}
	ev_store_i64(&e->out[0], r);
	free(v);
	free(w);
	free(r);
	return 0;
}

/* cumsum, cumprod: running sums (products) along the axis; exclusive
 * leaves the element itself out (the first gets 0, or 1), reverse runs from
 * the end. */
int ev_cumsum(const Ev *e)
{
	const Tensor *x = &e->in[0];
	int axis = (int)ir_attr_int(e->n, "axis", 0);
	if (axis < 0)
		axis += x->shape.rank;
	bool excl = ir_attr_int(e->n, "exclusive", 0) != 0, rev = ir_attr_int(e->n, "reverse", 0) != 0;
	bool prod = e->n->op == OP_CUMPROD;
	int64_t outer, len, inner;
	split(&x->shape, axis, &outer, &len, &inner);
	bool isint = ev_is_int(x->dtype);
	double *v = isint ? NULL : ev_load_f64(x);
	int64_t *w = isint ? ev_load_i64(x) : NULL;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t in = 0; in < inner; in++) {
			double s = prod ? 1 : 0;
			uint64_t si = prod ? 1 : 0; /* wraps */
			for (int64_t j = 0; j < len; j++) {
				int64_t k = rev ? len - 1 - j : j;
				int64_t at = (o * len + k) * inner + in;
				double a = isint ? 0 : v[at];
				uint64_t ai = isint ? (uint64_t)w[at] : 0;
				double before = s;
				uint64_t beforei = si;
				s = prod ? s * a : s + a;
				si = prod ? si * ai : si + ai;
				if (isint)
					w[at] = (int64_t)(excl ? beforei : si);
				else
					v[at] = excl ? before : s;
			}
		}
	if (isint)
		ev_store_i64(&e->out[0], w);
	else
		ev_store_f64(&e->out[0], v);
	free(v);
	free(w);
	return 0;
}

/* topk: along the axis, the k elements first in the order "larger value
 * first" (largest = 1; "smaller first" with 0), equal values by lower
 * index; a NaN counts as the largest (with largest = 0 the smallest), as
 * argmax/argmin. Values and their i64 indices, always sorted. */
int ev_topk(const Ev *e)
{
	const Tensor *x = &e->in[0];
	int axis = (int)ir_attr_int(e->n, "axis", -1);
	if (axis < 0)
		axis += x->shape.rank;
	int64_t k = ir_attr_int(e->n, "k", 0);
	bool big = ir_attr_int(e->n, "largest", 1) != 0;
	int64_t outer, len, inner;
	split(&x->shape, axis, &outer, &len, &inner);
	bool i64 = x->dtype == DT_I64;
	double *v = i64 ? NULL : ev_load_f64(x);
	int64_t *w = i64 ? ev_load_i64(x) : NULL;
	size_t esz = ir_dtype_size(x->dtype);
	int64_t *idx = xmalloc((size_t)(outer * k * inner) * 8 + 8);
	bool *used = xmalloc((size_t)len + 1);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t in = 0; in < inner; in++) {
			int64_t base = o * len * inner + in;
			for (int64_t i = 0; i < len; i++)
				used[i] = false;
			for (int64_t j = 0; j < k; j++) { /* the first unused element in the order */
				int64_t best = -1;
				for (int64_t i = 0; i < len; i++) {
					if (used[i])
						continue;
					bool take = best < 0;
					if (!take && i64) {
						int64_t a = w[base + i * inner], b = w[base + best * inner];
						take = big ? a > b : a < b;
					} else if (!take) {
						double a = v[base + i * inner], b = v[base + best * inner];
						take = !isnan(b) && (isnan(a) || (big ? a > b : a < b));
					}
					if (take)
						best = i;
				}
				used[best] = true;
				idx[(o * k + j) * inner + in] = best;
				memcpy((char *)e->out[0].data + (size_t)((o * k + j) * inner + in) * esz,
					(const char *)x->data + (size_t)(base + best * inner) * esz, esz);
			}
		}
	ev_store_i64(&e->out[1], idx);
	free(v);
	free(w);
	free(idx);
	free(used);
	return 0;
}
