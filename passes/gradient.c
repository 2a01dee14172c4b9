/* gradient.c — ps_gradients: expands the `gradient(y, x)` nodes that ONNX's
 * ai.onnx.preview.training Gradient imports as (frontend/onnx_train.c) into
 * the reverse-mode nodes ps_autodiff writes: one autodiff per distinct y,
 * of y itself when it is a scalar, else of the sum of its elements (the
 * ONNX spec leaves a non-scalar y's seed open; summing is what a ones seed
 * means). Each gradient node's output is forwarded to the computed
 * gradient, and the graph is re-sorted, since later nodes (an optimizer
 * reading the gradient) may precede the appended backward nodes. Runs in
 * the pipeline right after canonicalization, at every -O level. */
#include "passes.h"

#include <stdlib.h>

/* The scalar whose gradient the nodes of y want: y, or reduce_sum(y). */
static int seed_of(Graph *g, int y, Diag *d)
{
	const Value *v = &g->val[y];
	if (!ir_shape_static(&v->shape))
		return diag(d, "gradient: y %%%s needs a static shape (bind it with --shape)", v->name);
	if (v->shape.rank == 0)
		return y;
	int n = ir_add_node(g, OP_REDUCE_SUM, "gradient", &y, 1, 1,
		(const char *const[]){ir_unique_name(g, "gradient/sum")});
	ir_set_int(g, n, "keepdims", 0);
	if (ir_infer_node(g, n, d) < 0)
		return -1;
	return ir_out(g, n, 0);
}

int ps_gradients(Graph *g, Diag *d)
{
	int nnode = g->nnode, rc = 0;
	bool *done = xcalloc((size_t)nnode + 1, sizeof *done);
	int *wrt = xmalloc(((size_t)nnode + 1) * sizeof *wrt);
	int *node = xmalloc(((size_t)nnode + 1) * sizeof *node);
	int *grad = xmalloc(((size_t)nnode + 1) * sizeof *grad);
	bool any = false;
	for (int i = 0; i < nnode && rc == 0; i++) {
		if (g->node[i].dead || g->node[i].op != OP_GRADIENT || done[i])
			continue;
		int y = g->node[i].in[0], n = 0;
		for (int j = i; j < nnode; j++) /* every x wanted for this y, at once */
			if (!g->node[j].dead && g->node[j].op == OP_GRADIENT && g->node[j].in[0] == y) {
				done[j] = true;
				node[n] = j;
				wrt[n++] = g->node[j].in[1];
			}
		int loss = seed_of(g, y, d);
		if (loss < 0 || ps_autodiff(g, loss, wrt, n, grad, d) < 0) {
			rc = -1;
			break;
		}
		for (int k = 0; k < n; k++)
			ps_forward(g, node[k], grad[k]);
		any = true;
	}
	if (any && rc == 0)
		ir_toposort(g);
	free(done);
	free(wrt);
	free(node);
	free(grad);
	return rc;
}
