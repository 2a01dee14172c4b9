/* grad_idx.c — gradient rules of the idx family's indexing ops (ops.def's
 * grad column): slice puts its adjoint back on the input's grid (strided
 * placement, reversed for negative steps), expand sums over the broadcast
 * dims, trilu masks the adjoint with the same trilu, and the gathers
 * scatter-add their adjoint into zeros (repeated indices accumulate, as an
 * embedding's gradient needs). Indices carry no gradient. */
#include "grad.h"

#include <stdlib.h>

static int in(const GradCtx *c, int i) { return gr_node(c)->in[i]; }
static Shape shape_of(const GradCtx *c, int v) { return gr_val(c, v)->shape; }

int gr_slice_rule(GradCtx *c, const int *gout, int *gin)
{
	Shape xs = shape_of(c, in(c, 0));
	int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], count[IR_MAX_RANK];
	if (ir_slice_plan(gr_node(c), &xs, start, step, count) < 0)
		return diag(c->d, "autodiff: slice over dims not known");
	int g = gout[0];
	for (int a = 0; a < xs.rank && !c->fail; a++) {
		if (count[a] == xs.d[a].n && step[a] == 1)
			continue;
		if (count[a] == 0) { /* nothing taken: the adjoint is zero */
			gin[0] = -1;
			return 0;
		}
		int64_t s = step[a], off = start[a];
		if (s < 0) { /* walk up instead: reverse the adjoint along a */
			int64_t n = count[a];
			int64_t *ix = xmalloc((size_t)n * sizeof *ix);
			for (int64_t i = 0; i < n; i++)
				ix[i] = n - 1 - i;
			Shape is = ir_shape_make(1, &n);
			int k = ir_add_const(c->g, "grad.rev", DT_I64, is, ix, (size_t)n * sizeof *ix, false);
			free(ix);
			int nd = gr_begin(c, OP_GATHER, (int[]){g, k}, 2);
			ir_set_int(c->g, nd, "axis", a);
			g = gr_end(c, nd, g);
			s = -s;
			off = start[a] - (n - 1) * s;
		}
		g = gr_place(c, g, a, s, off, xs.d[a].n);
	}
	gin[0] = g;
	return 0;
}

int gr_expand(GradCtx *c, const int *gout, int *gin)
{
	Shape xs = shape_of(c, in(c, 0));
	gin[0] = gr_reshape(c, gr_unbroadcast(c, gout[0], &xs), &xs);
	return 0;
}

int gr_trilu(GradCtx *c, const int *gout, int *gin)
{
	const Node *n = gr_node(c);
	int64_t upper = ir_attr_int(n, "upper", 1), k = ir_attr_int(n, "k", 0);
	int nd = gr_begin(c, OP_TRILU, &gout[0], 1);
	ir_set_int(c->g, nd, "upper", upper);
	ir_set_int(c->g, nd, "k", k);
	gin[0] = gr_end(c, nd, gout[0]);
	return 0;
}

/* scatter op (reduction add) of updates into zeros shaped like data */
static int scatter_add(GradCtx *c, Op op, const Shape *data, DType t, int idx, int upd, int64_t axis)
{
	int z = gr_full(c, t, data, 0);
	if (c->fail)
		return z;
	int nd = gr_begin(c, op, (int[]){z, idx, upd}, 3);
	ir_set_string(c->g, nd, "reduction", "add");
	if (op == OP_SCATTER_ELEMENTS)
		ir_set_int(c->g, nd, "axis", axis);
	return gr_end(c, nd, z);
}

int gr_gather_elements(GradCtx *c, const int *gout, int *gin)
{
	Shape xs = shape_of(c, in(c, 0));
	int64_t axis = ir_attr_int(gr_node(c), "axis", 0);
	if (axis < 0)
		axis += xs.rank;
	gin[0] = scatter_add(c, OP_SCATTER_ELEMENTS, &xs, gr_val(c, in(c, 0))->dtype, in(c, 1), gout[0],
		axis);
	return 0;
}

int gr_gather_nd(GradCtx *c, const int *gout, int *gin)
{
	if (ir_attr_int(gr_node(c), "batch_dims", 0) != 0)
		return diag(c->d, "autodiff: gather_nd with batch_dims is unsupported");
	Shape xs = shape_of(c, in(c, 0));
	gin[0] = scatter_add(c, OP_SCATTER_ND, &xs, gr_val(c, in(c, 0))->dtype, in(c, 1), gout[0], 0);
	return 0;
}

/* gather(data, idx) {axis}: out = data.shape[:axis] + idx.shape +
 * data.shape[axis+1:]. Transposed so the index dims lead, the adjoint is
 * a scatter_nd (add) into zeros [A, pre..., post...] at idx[..., None],
 * transposed back to data's layout. */
int gr_gather(GradCtx *c, const int *gout, int *gin)
{
	int idx = in(c, 1), g = gout[0];
	Shape xs = shape_of(c, in(c, 0)), is = shape_of(c, idx);
	DType t = gr_val(c, in(c, 0))->dtype;
	int r = xs.rank, ri = is.rank;
	int64_t axis = ir_attr_int(gr_node(c), "axis", 0);
	if (axis < 0)
		axis += r;
	if (ri + r > IR_MAX_RANK + 1)
		return diag(c->d, "autodiff: gather's adjoint would exceed rank %d", IR_MAX_RANK);
	/* g [pre, I, post] -> [I, pre, post] */
	int64_t perm[IR_MAX_RANK];
	int np = 0;
	for (int i = 0; i < ri; i++)
		perm[np++] = axis + i;
	for (int i = 0; i < axis; i++)
		perm[np++] = i;
	for (int i = (int)axis + ri; i < r - 1 + ri; i++)
		perm[np++] = i;
	bool ident = true;
	for (int i = 0; i < np; i++)
		ident &= perm[i] == i;
	if (!ident)
		g = gr_transpose(c, g, perm, np);
	/* idx [I] -> [I, 1] */
	Shape i1 = is;
	i1.d[i1.rank++] = (Dim){1, 0};
	int ix = gr_reshape(c, idx, &i1);
	/* zeros [A, pre, post] */
	Shape zs;
	zs.rank = 0;
	zs.d[zs.rank++] = xs.d[axis];
	for (int i = 0; i < r; i++)
		if (i != axis)
			zs.d[zs.rank++] = xs.d[i];
	int s = scatter_add(c, OP_SCATTER_ND, &zs, t, ix, g, 0);
	if (axis > 0) { /* [A, pre, post] -> [pre, A, post] */
		int64_t back[IR_MAX_RANK];
		for (int i = 0; i < r; i++)
			back[i] = i < axis ? i + 1 : i == axis ? 0 : i;
		s = gr_transpose(c, s, back, r);
	}
	gin[0] = s;
	return 0;
}
