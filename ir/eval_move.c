/* eval_move.c — reference semantics of the data-movement ops: pad
 * (constant mode), transpose, concat, and reshape/flatten/identity (a plain
 * copy: row-major order is unchanged). They copy whole elements as bytes,
 * so every dtype works. Attributes were validated by the shape rule. */
#include "eval.h"

#include <string.h>

int ev_pad(const Ev *e)
{
	const Tensor *x = &e->in[0];
	Tensor *y = &e->out[0];
	const Shape *xs = &x->shape, *ys = &y->shape;
	size_t esz = ir_dtype_size(x->dtype);
	const int64_t *p;
	ir_attr_ints(e->n, "pads", &p);
	unsigned char fill[16];
	ir_elem_put(y->dtype, fill, ir_attr_float(e->n, "value", 0));
	int64_t xst[IR_MAX_RANK], idx[IR_MAX_RANK] = {0}, ny = ev_numel(y);
	ev_strides(xs, xst);
	for (int64_t i = 0; i < ny; i++, ev_next(idx, ys)) {
		int64_t off = 0;
		bool in = true;
		for (int k = 0; k < xs->rank; k++) {
			int64_t c = idx[k] - p[k];
			if (c < 0 || c >= xs->d[k].n)
				in = false;
			off += c * xst[k];
		}
		unsigned char *dst = (unsigned char *)y->data + (size_t)i * esz;
		if (in)
			memcpy(dst, (const unsigned char *)x->data + (size_t)off * esz, esz);
		else
			memcpy(dst, fill, esz);
	}
	return 0;
}

int ev_transpose(const Ev *e)
{
	const Tensor *x = &e->in[0];
	Tensor *y = &e->out[0];
	int rank = x->shape.rank;
	size_t esz = ir_dtype_size(x->dtype);
	int64_t perm[IR_MAX_RANK];
	const int64_t *p;
	if (ir_attr_ints(e->n, "perm", &p) == rank)
		memcpy(perm, p, (size_t)rank * sizeof *perm);
	else
		for (int i = 0; i < rank; i++)
			perm[i] = rank - 1 - i;
	int64_t xst[IR_MAX_RANK], idx[IR_MAX_RANK] = {0}, ny = ev_numel(y);
	ev_strides(&x->shape, xst);
	for (int64_t i = 0; i < ny; i++, ev_next(idx, &y->shape)) {
		int64_t off = 0; /* output dim k walks input dim perm[k] */
		for (int k = 0; k < rank; k++)
			off += idx[k] * xst[perm[k]];
		memcpy((unsigned char *)y->data + (size_t)i * esz,
			(const unsigned char *)x->data + (size_t)off * esz, esz);
	}
	return 0;
}

int ev_concat(const Ev *e)
{
	Tensor *y = &e->out[0];
	const Shape *ys = &y->shape;
	size_t esz = ir_dtype_size(y->dtype);
	int axis = (int)ir_attr_int(e->n, "axis", 0);
	if (axis < 0)
		axis += ys->rank;
	int64_t outer = 1, inner = 1;
	for (int i = 0; i < axis; i++)
		outer *= ys->d[i].n;
	for (int i = axis + 1; i < ys->rank; i++)
		inner *= ys->d[i].n;
	int64_t yrow = ys->d[axis].n * inner, at = 0; /* elements per outer row, offset in it */
	for (int k = 0; k < e->n->nin; k++) {
		const Tensor *x = &e->in[k];
		int64_t xrow = x->shape.d[axis].n * inner;
		for (int64_t o = 0; o < outer && xrow > 0; o++)
			memcpy((unsigned char *)y->data + (size_t)(o * yrow + at) * esz,
				(const unsigned char *)x->data + (size_t)(o * xrow) * esz,
				(size_t)xrow * esz);
		at += xrow;
	}
	return 0;
}

int ev_copy(const Ev *e)
{
	size_t n = (size_t)ev_numel(&e->out[0]) * ir_dtype_size(e->out[0].dtype);
	if (n)
		memcpy(e->out[0].data, e->in[0].data, n);
	return 0;
}
