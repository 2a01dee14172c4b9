/* eval_extra.c — reference semantics of the shape-computation ops: shape
 * (the input's extents as i64), gather (ONNX Gather: pick slices along one
 * axis, negative indices count from the end) and cast (float to integer
 * truncates toward zero and saturates, NaN gives 0; integers between
 * themselves wrap; anything to bool is "!= 0"). unsqueeze, squeeze and
 * reshape_dyn are plain copies (eval.c).
 * Shapes and attributes were validated by the rules in shape_extra.c. */
#include "eval.h"

#include <stdlib.h>
#include <string.h>

int ev_shape(const Ev *e)
{
	const Shape *x = &e->in[0].shape;
	int64_t start = ir_attr_int(e->n, "start", 0);
	if (start < 0)
		start += x->rank;
	if (start < 0)
		start = 0;
	int64_t n = ev_numel(&e->out[0]);
	int64_t *v = e->out[0].data;
	for (int64_t i = 0; i < n; i++)
		v[i] = x->d[start + i].n;
	return 0;
}

int ev_gather(const Ev *e)
{
	const Tensor *x = &e->in[0], *ix = &e->in[1];
	Tensor *y = &e->out[0];
	int axis = (int)ir_attr_int(e->n, "axis", 0);
	if (axis < 0)
		axis += x->shape.rank;
	int64_t outer = 1, inner = 1, extent = x->shape.d[axis].n;
	for (int i = 0; i < axis; i++)
		outer *= x->shape.d[i].n;
	for (int i = axis + 1; i < x->shape.rank; i++)
		inner *= x->shape.d[i].n;
	int64_t nidx = ev_numel(ix);
	int64_t *idx = ev_load_i64(ix);
	for (int64_t j = 0; j < nidx; j++) {
		if (idx[j] < 0)
			idx[j] += extent;
		if (idx[j] < 0 || idx[j] >= extent) {
			int64_t bad = idx[j] < 0 ? idx[j] - extent : idx[j];
			free(idx);
			return ev_fail(e, "index %lld out of range for extent %lld", (long long)bad,
				(long long)extent);
		}
	}
	size_t esz = ir_dtype_size(x->dtype), row = (size_t)inner * esz;
	unsigned char *dst = y->data;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t j = 0; j < nidx; j++, dst += row)
			memcpy(dst, (const unsigned char *)x->data + (size_t)(o * extent + idx[j]) * row,
				row);
	free(idx);
	return 0;
}

static bool int_like(DType t) { return ev_is_int(t); }

/* Integer element i of p, of integer dtype t, exactly. */
static int64_t int_get(DType t, const unsigned char *p, int64_t i)
{
	return ev_int_get(t, p + (size_t)i * ir_dtype_size(t));
}

/* Stores v as element i of p, wrapping (two's complement) to dtype t. */
static void int_put(DType t, unsigned char *p, int64_t i, int64_t v)
{
	ev_int_put(t, p + (size_t)i * ir_dtype_size(t), v);
}

int ev_cast(const Ev *e)
{
	const Tensor *x = &e->in[0];
	Tensor *y = &e->out[0];
	int64_t n = ev_numel(x);
	if (ir_dtype_is_exotic(x->dtype) || ir_dtype_is_exotic(y->dtype))
		return ev_cast_exotic(e);
	if (int_like(x->dtype) && int_like(y->dtype)) { /* exact, wrapping to the target */
		for (int64_t i = 0; i < n; i++)
			int_put(y->dtype, y->data, i, int_get(x->dtype, x->data, i));
		return 0;
	}
	bool xi = ev_is_int(x->dtype);
	if (xi) { /* i64 -> float: int64 -> double rounds once, as C does */
		int64_t *v = ev_load_i64(x);
		size_t sz = ir_dtype_size(y->dtype);
		for (int64_t i = 0; i < n; i++)
			ir_elem_put(y->dtype, (unsigned char *)y->data + (size_t)i * sz,
				x->dtype == DT_U64 ? (double)(uint64_t)v[i] : (double)v[i]);
		free(v);
		return 0;
	}
	double *v = ev_load_f64(x);
	ev_store_f64(y, v);
	free(v);
	return 0;
}
