/* grad_move.c — gradient rules of the data-movement ops (ops.def's grad
 * column): views reshape the adjoint back, transpose applies the inverse
 * permutation, and concat and pad take their inputs' windows out of the
 * adjoint (gr_slice). */
#include "grad.h"

/* reshape, flatten, identity, squeeze, unsqueeze, reshape_dyn: same
 * elements in the same order */
int gr_view(GradCtx *c, const int *gout, int *gin)
{
	Shape s = gr_val(c, gr_node(c)->in[0])->shape;
	gin[0] = gr_reshape(c, gout[0], &s);
	return 0;
}

int gr_transpose_rule(GradCtx *c, const int *gout, int *gin)
{
	int r = gr_val(c, gout[0])->shape.rank;
	const int64_t *p;
	int np = ir_attr_ints(gr_node(c), "perm", &p);
	int64_t inv[IR_MAX_RANK];
	for (int i = 0; i < r; i++) {
		int64_t pi = np > 0 ? p[i] : r - 1 - i;
		inv[pi < 0 ? pi + r : pi] = i;
	}
	gin[0] = gr_transpose(c, gout[0], inv, r);
	return 0;
}

int gr_concat(GradCtx *c, const int *gout, int *gin)
{
	const Node *n = gr_node(c);
	int r = gr_val(c, gout[0])->shape.rank;
	int64_t ax = ir_attr_int(n, "axis", 0);
	if (ax < 0)
		ax += r;
	int64_t at = 0, nin = n->nin; /* n moves as slices are added */
	for (int i = 0; i < nin; i++) {
		int64_t e = gr_val(c, gr_node(c)->in[i])->shape.d[ax].n;
		if (c->need[i] && e > 0)
			gin[i] = gr_slice(c, gout[0], (int)ax, at, at + e);
		at += e;
	}
	return 0;
}

int gr_pad(GradCtx *c, const int *gout, int *gin)
{
	Shape s = gr_val(c, gr_node(c)->in[0])->shape;
	const int64_t *p;
	ir_attr_ints(gr_node(c), "pads", &p);
	int g = gout[0];
	for (int i = 0; i < s.rank; i++)
		g = gr_slice(c, g, i, p[i], p[i] + s.d[i].n);
	gin[0] = g;
	return 0;
}
