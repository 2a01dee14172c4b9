/* eval_math.c — reference semantics of the elementwise ops, the reductions
 * and softmax. Floats are computed in float64 and rounded to the dtype on
 * store; i32/i64 in int64 with wrap-around (two's complement), integer
 * division truncating toward zero. NaN propagates through relu, clip, max. */
#include "eval.h"

#include <math.h>
#include <stdlib.h>

/* Per-output-dim element strides of an input broadcast to out (0 where the
 * input is broadcast along that dim). */
static void bstrides(const Shape *in, const Shape *out, int64_t *st)
{
	int64_t s[IR_MAX_RANK];
	ev_strides(in, s);
	for (int i = 0; i < out->rank; i++) {
		int j = i - (out->rank - in->rank);
		st[i] = j < 0 || in->d[j].n == 1 ? 0 : s[j];
	}
}

static double sigmoid(double x)
{
	if (x >= 0)
		return 1 / (1 + exp(-x));
	double z = exp(x);
	return z / (1 + z);
}

/* Clip: max with lo, then min with hi (so lo > hi gives hi everywhere, as
 * in numpy and PyTorch); NaN passes through. */
static double clip(double x, double lo, double hi)
{
	x = x < lo ? lo : x;
	return x > hi ? hi : x;
}

/* A clip bound for an integer dtype: v (already rounded inward, maybe
 * infinite) clamped to the dtype's range. */
static int64_t int_bound(double v, DType t)
{
	double tmin = t == DT_I32 ? INT32_MIN : -0x1p63, tmax = t == DT_I32 ? INT32_MAX : 0x1p63;
	if (v <= tmin)
		return (int64_t)tmin;
	if (v >= tmax)
		return t == DT_I32 ? INT32_MAX : INT64_MAX;
	return (int64_t)v;
}

static double unary_f(Op op, double x, double alpha, double lo, double hi)
{
	switch (op) {
	case OP_NEG: return -x;
	case OP_ABS: return fabs(x);
	case OP_EXP: return exp(x);
	case OP_LOG: return log(x);
	case OP_SQRT: return sqrt(x);
	case OP_RELU: return x < 0 ? 0 : x;
	case OP_SIGMOID: return sigmoid(x);
	case OP_TANH: return tanh(x);
	case OP_LEAKYRELU: return x < 0 ? alpha * x : x;
	case OP_CLIP: return clip(x, lo, hi);
	default: NN_ASSERT(!"unary_f: not a unary op");
	}
	return 0;
}

int ev_unary(const Ev *e)
{
	Op op = e->n->op;
	const Tensor *x = &e->in[0];
	Tensor *y = &e->out[0];
	int64_t n = ev_numel(x);
	double alpha = ir_attr_float(e->n, "alpha", 0.01);
	double lo = ir_attr_float(e->n, "min", -INFINITY), hi = ir_attr_float(e->n, "max", INFINITY);
	if (ev_is_int(x->dtype)) {
		int64_t *v = ev_load_i64(x);
		int64_t ilo = isnan(lo) ? INT64_MIN : int_bound(ceil(lo), x->dtype);
		int64_t ihi = isnan(hi) ? INT64_MAX : int_bound(floor(hi), x->dtype);
		for (int64_t i = 0; i < n; i++) {
			uint64_t u = (uint64_t)v[i];
			if (x->dtype == DT_U64 && (op == OP_ABS || op == OP_RELU))
				continue; /* its bits as int64 may look negative */
			switch (op) {
			case OP_NEG: v[i] = (int64_t)(0 - u); break;
			case OP_ABS: v[i] = v[i] < 0 ? (int64_t)(0 - u) : v[i]; break;
			case OP_RELU: v[i] = v[i] < 0 ? 0 : v[i]; break;
			case OP_CLIP:
				v[i] = v[i] < ilo ? ilo : v[i];
				v[i] = v[i] > ihi ? ihi : v[i];
				break;
			default: NN_ASSERT(!"ev_unary: integer op");
			}
		}
		ev_store_i64(y, v);
		free(v);
		return 0;
	}
	double *v = ev_load_f64(x);
	for (int64_t i = 0; i < n; i++)
		v[i] = unary_f(op, v[i], alpha, lo, hi);
	ev_store_f64(y, v);
	free(v);
	return 0;
}

int ev_binary(const Ev *e)
{
	Op op = e->n->op;
	const Tensor *a = &e->in[0], *b = &e->in[1];
	Tensor *y = &e->out[0];
	const Shape *os = &y->shape;
	int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
	bstrides(&a->shape, os, sa);
	bstrides(&b->shape, os, sb);
	int64_t n = ev_numel(y);
	bool isint = ev_is_int(a->dtype);
	int r = 0;
	if (isint) {
		int64_t *va = ev_load_i64(a), *vb = ev_load_i64(b), *vy = xmalloc((size_t)n * 8 + 8);
		for (int64_t i = 0; i < n; i++, ev_next(idx, os)) {
			int64_t ia = 0, ib = 0;
			for (int k = 0; k < os->rank; k++) {
				ia += idx[k] * sa[k];
				ib += idx[k] * sb[k];
			}
			uint64_t x = (uint64_t)va[ia], z = (uint64_t)vb[ib];
			switch (op) {
			case OP_ADD: vy[i] = (int64_t)(x + z); break;
			case OP_SUB: vy[i] = (int64_t)(x - z); break;
			case OP_MUL: vy[i] = (int64_t)(x * z); break;
			default: /* OP_DIV */
				if (vb[ib] == 0) {
					r = ev_fail(e, "integer division by zero");
					goto done;
				}
				vy[i] = a->dtype == DT_U64 ? (int64_t)(x / z)
					: vb[ib] == -1 ? (int64_t)(0 - x) : va[ia] / vb[ib];
				break;
			}
		}
		ev_store_i64(y, vy);
	done:
		free(va);
		free(vb);
		free(vy);
		return r;
	}
	double *va = ev_load_f64(a), *vb = ev_load_f64(b), *vy = xmalloc((size_t)n * 8 + 8);
	for (int64_t i = 0; i < n; i++, ev_next(idx, os)) {
		int64_t ia = 0, ib = 0;
		for (int k = 0; k < os->rank; k++) {
			ia += idx[k] * sa[k];
			ib += idx[k] * sb[k];
		}
		double x = va[ia], z = vb[ib];
		switch (op) {
		case OP_ADD: vy[i] = x + z; break;
		case OP_SUB: vy[i] = x - z; break;
		case OP_MUL: vy[i] = x * z; break;
		case OP_POW: vy[i] = pow(x, z); break;
		default: vy[i] = x / z; break;
		}
	}
	ev_store_f64(y, vy);
	free(va);
	free(vb);
	free(vy);
	return 0;
}

/* max that propagates NaN */
static double fmaxn(double m, double v) { return isnan(m) || isnan(v) ? NAN : v > m ? v : m; }

int ev_reduce(const Ev *e)
{
	Op op = e->n->op;
	const Tensor *x = &e->in[0];
	if (x->dtype == DT_BOOL)
		return ev_reduce_red(e); /* reduce_max over bool: eval_red.c */
	Tensor *y = &e->out[0];
	const Shape *xs = &x->shape;
	/* Reduced axes, as the shape rule read them. */
	bool red[IR_MAX_RANK] = {0};
	const int64_t *ax;
	int na = ir_attr_ints(e->n, "axes", &ax);
	for (int i = 0; i < xs->rank; i++)
		red[i] = na <= 0;
	for (int i = 0; i < na; i++)
		red[ax[i] < 0 ? ax[i] + xs->rank : ax[i]] = true;
	/* Strides of the output seen with kept (extent 1) dims: 0 on reduced. */
	Shape ks = *xs;
	int64_t cnt = 1;
	for (int i = 0; i < xs->rank; i++)
		if (red[i]) {
			ks.d[i].n = 1;
			cnt *= xs->d[i].n;
		}
	int64_t st[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
	ev_strides(&ks, st);
	for (int i = 0; i < xs->rank; i++)
		if (red[i])
			st[i] = 0;
	int64_t nx = ev_numel(x), ny = ev_numel(y);
	if (ev_is_int(x->dtype)) {
		int64_t *v = ev_load_i64(x), *acc = xmalloc((size_t)ny * 8 + 8);
		int64_t lo = x->dtype == DT_I32 ? INT32_MIN : INT64_MIN;
		for (int64_t j = 0; j < ny; j++)
			acc[j] = op == OP_REDUCE_MAX ? lo : 0;
		for (int64_t i = 0; i < nx; i++, ev_next(idx, xs)) {
			int64_t o = 0;
			for (int k = 0; k < xs->rank; k++)
				o += idx[k] * st[k];
			if (op == OP_REDUCE_MAX)
				acc[o] = v[i] > acc[o] ? v[i] : acc[o];
			else
				acc[o] = (int64_t)((uint64_t)acc[o] + (uint64_t)v[i]);
		}
		ev_store_i64(y, acc);
		free(v);
		free(acc);
		return 0;
	}
	double *v = ev_load_f64(x), *acc = xmalloc((size_t)ny * 8 + 8);
	for (int64_t j = 0; j < ny; j++)
		acc[j] = op == OP_REDUCE_MAX ? -INFINITY : 0;
	for (int64_t i = 0; i < nx; i++, ev_next(idx, xs)) {
		int64_t o = 0;
		for (int k = 0; k < xs->rank; k++)
			o += idx[k] * st[k];
		acc[o] = op == OP_REDUCE_MAX ? fmaxn(acc[o], v[i]) : acc[o] + v[i];
	}
	if (op == OP_REDUCE_MEAN)
		for (int64_t j = 0; j < ny; j++)
			acc[j] /= (double)cnt; /* an empty reduction gives 0/0 = NaN */
	ev_store_f64(y, acc);
	free(v);
	free(acc);
	return 0;
}

/* softmax / log_softmax along one axis, max subtracted first. */
int ev_softmax(const Ev *e)
{
	const Tensor *x = &e->in[0];
	const Shape *xs = &x->shape;
	int axis = (int)ir_attr_int(e->n, "axis", -1);
	if (axis < 0)
		axis += xs->rank;
	int64_t outer = 1, len = xs->d[axis].n, inner = 1;
	for (int i = 0; i < axis; i++)
		outer *= xs->d[i].n;
	for (int i = axis + 1; i < xs->rank; i++)
		inner *= xs->d[i].n;
	bool logsm = e->n->op == OP_LOGSOFTMAX;
	double *v = ev_load_f64(x);
	for (int64_t o = 0; o < outer; o++) {
		for (int64_t in = 0; in < inner; in++) {
			double *p = v + o * len * inner + in;
			double m = -INFINITY, sum = 0;
			for (int64_t k = 0; k < len; k++)
				m = fmaxn(m, p[k * inner]);
			for (int64_t k = 0; k < len; k++)
				sum += exp(p[k * inner] - m);
			for (int64_t k = 0; k < len; k++)
				p[k * inner] = logsm ? p[k * inner] - m - log(sum)
					: exp(p[k * inner] - m) / sum;
		}
	}
	ev_store_f64(&e->out[0], v);
	free(v);
	return 0;
}
