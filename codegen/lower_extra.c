/* lower_extra.c — lowering of the shape-computation ops that can survive
 * simplification: gather with constant indices that step evenly (a
 * single index, or a slice like [0, 2, 4]), which is one affine copy (any
 * other gather reads its indices at run time, lower_idx.c), and
 * cast, a copy that converts (loads convert from the buffer's dtype).
 * Casts to or from bool are reported as unsupported;
 * shape folds away once shapes are static (passes/canon.c), and unsqueeze,
 * squeeze and reshape_dyn are views (lower.c). */
#include <string.h>

#include "lower.h"

/* Element i of an integer constant. */
static int64_t index_at(const Value *v, int64_t i)
{
	if (v->dtype == DT_I32) {
		int32_t x;
		memcpy(&x, (const char *)v->data + 4 * i, 4);
		return x;
	}
	int64_t x;
	memcpy(&x, (const char *)v->data + 8 * i, 8);
	return x;
}

int lw_gather(Lower *L, int node)
{
	const Node *n = &L->g->node[node];
	const Value *x = lw_in(L, node, 0), *ix = lw_in(L, node, 1), *y = lw_out(L, node);
	int r = x->shape.rank, axis;
	if (lw_norm_axis(L, node, ir_attr_int(n, "axis", 0), r, &axis) < 0)
		return -1;
	int64_t m = ir_shape_numel(&ix->shape), extent = x->shape.d[axis].n;
	if (ix->kind != VK_CONST || !ix->data || ix->shape.rank > 1 ||
		(ix->dtype != DT_I64 && ix->dtype != DT_I32) || m < 1)
		return lw_gather_dyn(L, node); /* lower_idx.c: indices read at run time */
	int64_t first = 0, step = 0;
	for (int64_t j = 0; j < m; j++) {
		int64_t k = index_at(ix, j);
		if (k < 0)
			k += extent;
		if (k < 0 || k >= extent)
			return lw_err(L, node, "index %lld out of range for extent %lld",
				(long long)index_at(ix, j), (long long)extent);
		if (j == 0)
			first = k;
		else if (j == 1)
			step = k - first;
		else if (k != first + j * step)
			return lw_gather_dyn(L, node);
	}
	/* output vars: x's dims before axis, the index dim (if 1-D), the rest */
	int64_t st[IR_MAX_RANK];
	lw_strides(&x->shape, st);
	Aff idx;
	memset(&idx, 0, sizeof idx);
	int v = 0;
	for (int i = 0; i < axis; i++)
		idx.k[v++] = st[i];
	if (ix->shape.rank == 1)
		idx.k[v++] = lw_mul(L, step, st[axis]);
	for (int i = axis + 1; i < r; i++)
		idx.k[v++] = st[i];
	idx.c = lw_mul(L, first, st[axis]);
	NN_ASSERT(v == y->shape.rank);
	Kernel *k = lw_loop(L, node, &y->shape, lw_outbuf(L, node));
	k->body = kx_load(L, y->dtype, lw_inbuf(L, node, 0), idx);
	return 0;
}

/* y = x converted to y's dtype, element by element: floats round to
 * nearest, float to integer truncates toward zero and saturates (NaN gives
 * 0), integer to integer wraps, anything to bool is v != 0 (NaN gives 1),
 * as ir/eval_extra.c defines; the backend's conversions (cpu_conv) and
 * the kernel interpreter's agree. */
int lw_cast(Lower *L, int node)
{
	const Value *y = lw_out(L, node);
	int64_t numel = ir_shape_numel(&y->shape);
	Shape flat = ir_shape_make(1, &numel);
	Kernel *k = lw_loop(L, node, &flat, lw_outbuf(L, node));
	k->body = kx_load(L, y->dtype, lw_inbuf(L, node, 0), lw_contig(&flat, 0));
	if (ir_dtype_is_small_float(y->dtype) && !ir_attr_int(&L->g->node[node], "saturate", 1))
		k->body = lw_cast_nosat(L, lw_inbuf(L, node, 0), lw_contig(&flat, 0), y->dtype);
	return 0;
}
