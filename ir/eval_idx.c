/* eval_idx.c — reference semantics of the indexing family: slice (a
 * start, a step and a count per dim, ir_slice_plan), expand (numpy
 * broadcasting to a target shape), trilu (zero outside a band of the last
 * two dims), gather_elements, gather_nd, scatter_elements and scatter_nd
 * (ONNX's ops; a negative index counts from the end, one out of range is
 * an error; scatters apply updates in order, so with reduction "none" a
 * repeated index keeps the last update). Copies move whole elements as
 * bytes, so every dtype works; scatter reductions compute in float64 for
 * floats and in int64 for integers. Shapes and attributes were validated
 * by the rules in shape_idx.c. */
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void copy_elem(Tensor *y, int64_t i, const Tensor *x, int64_t j)
{
	size_t esz = ir_dtype_size(x->dtype);
	memcpy((unsigned char *)y->data + (size_t)i * esz, (const unsigned char *)x->data + (size_t)j * esz, esz);
}

int ev_slice(const Ev *e)
{
	const Tensor *x = &e->in[0];
	Tensor *y = &e->out[0];
	int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], count[IR_MAX_RANK];
	ir_slice_plan(e->n, &x->shape, start, step, count);
	int64_t xst[IR_MAX_RANK], idx[IR_MAX_RANK] = {0}, ny = ev_numel(y);
	ev_strides(&x->shape, xst);
	for (int64_t i = 0; i < ny; i++, ev_next(idx, &y->shape)) {
		int64_t off = 0;
		for (int k = 0; k < x->shape.rank; k++)
			off += (start[k] + idx[k] * step[k]) * xst[k];
		copy_elem(y, i, x, off);
	}
	return 0;
}

int ev_expand(const Ev *e)
{
	const Tensor *x = &e->in[0];
	Tensor *y = &e->out[0];
	int r = y->shape.rank, off0 = r - x->shape.rank;
	int64_t xst[IR_MAX_RANK], idx[IR_MAX_RANK] = {0}, ny = ev_numel(y);
	ev_strides(&x->shape, xst);
	for (int64_t i = 0; i < ny; i++, ev_next(idx, &y->shape)) {
		int64_t off = 0;
		for (int k = 0; k < x->shape.rank; k++)
			if (x->shape.d[k].n != 1)
				off += idx[off0 + k] * xst[k];
		copy_elem(y, i, x, off);
	}
	return 0;
}

/* Keeps x[..., i, j] where j - i >= k (upper) or j - i <= k (lower). */
int ev_trilu(const Ev *e)
{
	const Tensor *x = &e->in[0];
	Tensor *y = &e->out[0];
	int r = x->shape.rank;
	bool upper = ir_attr_int(e->n, "upper", 1) != 0;
	int64_t k = ir_attr_int(e->n, "k", 0);
	int64_t idx[IR_MAX_RANK] = {0}, ny = ev_numel(y);
	for (int64_t i = 0; i < ny; i++, ev_next(idx, &y->shape)) {
		int64_t dj = idx[r - 1] - idx[r - 2];
		if (upper ? dj >= k : dj <= k)
			copy_elem(y, i, x, i); /* the rest stays zero */
	}
	return 0;
}

/* Index j of ix wrapped into [0, extent), or -1 with a message. */
static int64_t wrap(const Ev *e, const int64_t *ix, int64_t j, int64_t extent)
{
	int64_t v = ix[j] < 0 ? ix[j] + extent : ix[j];
	if (v < 0 || v >= extent) {
		ev_fail(e, "index %lld out of range for extent %lld", (long long)ix[j], (long long)extent);
		return -1;
	}
	return v;
}

int ev_gather_elements(const Ev *e)
{
	const Tensor *x = &e->in[0], *ixt = &e->in[1];
	Tensor *y = &e->out[0];
	int r = x->shape.rank, axis = sh_norm_axis(ir_attr_int(e->n, "axis", 0), r);
	int64_t *ix = ev_load_i64(ixt);
	int64_t xst[IR_MAX_RANK], idx[IR_MAX_RANK] = {0}, ny = ev_numel(y);
	ev_strides(&x->shape, xst);
	for (int64_t i = 0; i < ny; i++, ev_next(idx, &y->shape)) {
		int64_t off = 0, v = wrap(e, ix, i, x->shape.d[axis].n);
		if (v < 0) {
			free(ix);
			return -1;
		}
		for (int k = 0; k < r; k++)
			off += (k == axis ? v : idx[k]) * xst[k];
		copy_elem(y, i, x, off);
	}
	free(ix);
	return 0;
}

/* Element offset into x of the tuple ending indices row `row` (k entries)
 * under batch position `boff` (an offset already); -1 on a bad index. */
static int64_t nd_offset(const Ev *e, const Tensor *x, const int64_t *ix, int64_t row, int64_t k,
	int b, int64_t boff, const int64_t *xst)
{
	int64_t off = boff;
	for (int64_t j = 0; j < k; j++) {
		int64_t v = wrap(e, ix, row * k + j, x->shape.d[b + j].n);
		if (v < 0)
			return -1;
		off += v * xst[b + j];
	}
	return off;
}

int ev_gather_nd(const Ev *e)
{
	const Tensor *x = &e->in[0], *ixt = &e->in[1];
	Tensor *y = &e->out[0];
	int b = (int)ir_attr_int(e->n, "batch_dims", 0), ir = ixt->shape.rank;
	int64_t k = ixt->shape.d[ir - 1].n;
	int64_t inner = 1, nrow = ev_numel(ixt) / (k > 0 ? k : 1), per_batch = 1;
	for (int i = b + (int)k; i < x->shape.rank; i++)
		inner *= x->shape.d[i].n;
	for (int i = b; i < ir - 1; i++)
		per_batch *= ixt->shape.d[i].n;
	int64_t xst[IR_MAX_RANK];
	ev_strides(&x->shape, xst);
	int64_t *ix = ev_load_i64(ixt);
	for (int64_t row = 0; row < nrow; row++) {
		int64_t bi = row / per_batch, boff = 0; /* batch position, row-major over b dims */
		for (int i = b - 1; i >= 0; i--) {
			boff += (bi % x->shape.d[i].n) * xst[i];
			bi /= x->shape.d[i].n;
		}
		int64_t off = nd_offset(e, x, ix, row, k, b, boff, xst);
		if (off < 0) {
			free(ix);
			return -1;
		}
		for (int64_t j = 0; j < inner; j++)
			copy_elem(y, row * inner + j, x, off + j);
	}
	free(ix);
	return 0;
}

/* One update into acc[off] under reduction red ("none", "add", ...). */
static void combine(const char *red, bool isint, double *fd, int64_t *id, int64_t off, double fu, int64_t iu)
{
	if (isint) {
		int64_t *p = &id[off];
		switch (red[0]) {
		case 'a': *p = (int64_t)((uint64_t)*p + (uint64_t)iu); break;
		case 'm': if (red[1] == 'u') *p = (int64_t)((uint64_t)*p * (uint64_t)iu);
			  else if (red[1] == 'a') *p = *p > iu ? *p : iu;
			  else *p = *p < iu ? *p : iu;
			  break;
		default: *p = iu; break;
		}
		return;
	}
	double *p = &fd[off];
	switch (red[0]) {
	case 'a': *p += fu; break;
	case 'm': if (red[1] == 'u') *p *= fu;
		  else if (red[1] == 'a') *p = isnan(*p) || isnan(fu) ? NAN : *p > fu ? *p : fu;
		  else *p = isnan(*p) || isnan(fu) ? NAN : *p < fu ? *p : fu;
		  break;
	default: *p = fu; break;
	}
}

int ev_scatter(const Ev *e)
{
	const Tensor *x = &e->in[0], *ixt = &e->in[1], *u = &e->in[2];
	Tensor *y = &e->out[0];
	const Attr *ra = ir_attr(e->n, "reduction");
	const char *red = ra ? ra->s : "none";
	bool isint = ev_is_int(x->dtype);
	double *fd = NULL, *fu = NULL;
	int64_t *id = NULL, *iu = NULL;
	if (isint) {
		id = ev_load_i64(x);
		iu = ev_load_i64(u);
	} else {
		fd = ev_load_f64(x);
		fu = ev_load_f64(u);
	}
	int64_t *ix = ev_load_i64(ixt);
	int64_t xst[IR_MAX_RANK];
	ev_strides(&x->shape, xst);
	int rc = 0;
	if (e->n->op == OP_SCATTER_ELEMENTS) {
		int r = x->shape.rank, axis = sh_norm_axis(ir_attr_int(e->n, "axis", 0), r);
		int64_t idx[IR_MAX_RANK] = {0}, nu = ev_numel(u);
		for (int64_t i = 0; i < nu && rc == 0; i++, ev_next(idx, &u->shape)) {
			int64_t off = 0, v = wrap(e, ix, i, x->shape.d[axis].n);
			if (v < 0) {
				rc = -1;
				break;
			}
			for (int k = 0; k < r; k++)
				off += (k == axis ? v : idx[k]) * xst[k];
			combine(red, isint, fd, id, off, fu ? fu[i] : 0, iu ? iu[i] : 0);
		}
	} else {
		int64_t k = ixt->shape.d[ixt->shape.rank - 1].n, inner = 1;
		for (int i = (int)k; i < x->shape.rank; i++)
			inner *= x->shape.d[i].n;
		int64_t nrow = ev_numel(ixt) / k;
		for (int64_t row = 0; row < nrow && rc == 0; row++) {
			int64_t off = nd_offset(e, x, ix, row, k, 0, 0, xst);
			if (off < 0) {
				rc = -1;
				break;
			}
			for (int64_t j = 0; j < inner; j++)
				combine(red, isint, fd, id, off + j, fu ? fu[row * inner + j] : 0,
					iu ? iu[row * inner + j] : 0);
		}
	}
	if (rc == 0) {
		if (isint)
			ev_store_i64(y, id);
		else
			ev_store_f64(y, fd);
	}
	free(fd);
	free(fu);
	free(id);
	free(iu);
	free(ix);
	return rc;
}
