/* split.c — the two halves of a training step (`nncc --train
 * --split-step`, docs/distributed.md). The artifact holds the fused step
 * and, compiled from the same imported graph by the same pipeline, two
 * more models the runtime runs in turn around a gradient exchange:
 *
 *   grads  (NAME__grads): forward, loss and backward. Its outputs are the
 *          loss, then `grad.P` for each trained parameter P; the runtime
 *          places those outputs side by side in one flat gradient buffer.
 *          The parameters are training state it only reads (the step and
 *          seed too, for dropout and augmentation); batch norm's running
 *          statistics are updated here, as in the forward of the fused step.
 *   update (NAME__update): the optimizer alone. Its inputs `grad.P` are
 *          read from the gradient buffer; it updates the parameters, the
 *          optimizer state and the step as the fused step does.
 *
 * Both halves build exactly the nodes of the fused step (same autodiff,
 * same update rules), so the split computes the fused step bit for bit:
 * only where fusion draws kernel boundaries differs, and fusion changes no
 * float arithmetic (no FMA contraction). ps_split runs inside ps_train in
 * place of the autodiff and optimizer when TrainOptions.split is set. */
#include "passes.h"

#include <stdlib.h>

/* A scalar i64 state, zero at first. */
static int scalar_state(Graph *g, const char *name, int role)
{
	int v = ir_add_const(g, name, DT_I64, ir_shape_make(0, NULL), NULL, 8, false);
	g->val[v].state = role;
	return v;
}

static int grads_half(Graph *g, int loss, const int *wrt, int np, const RngState *rs, Diag *d)
{
	int *grad = xmalloc(((size_t)np + 1) * sizeof *grad);
	int rc = ps_autodiff(g, loss, wrt, np, grad, d);
	for (int i = 0; i < np && rc == 0; i++)
		g->val[wrt[i]].state = IR_STATE_PARAM; /* read here, updated by the other half */
	if (rc == 0 && rs->step >= 0) { /* the random ops read the step counter */
		scalar_state(g, "step", IR_STATE_STEP);
		ps_rng_bind_step(g, rs);
	}
	if (rc == 0) {
		g->noutput = 0;
		ir_add_output(g, loss);
	}
	for (int i = 0; i < np && rc == 0; i++) { /* a named copy: the output grad.P */
		const char *name = arena_printf(&g->arena, "grad.%s", g->val[wrt[i]].name);
		int node = ir_add_node(g, OP_IDENTITY, "grad", &grad[i], 1, 1, &name);
		if ((rc = ir_infer_node(g, node, d)) == 0)
			ir_add_output(g, ir_out(g, node, 0));
	}
	free(grad);
	return rc;
}

static int update_half(Graph *g, const OptimSpec *o, const int *wrt, int np, Diag *d)
{
	/* the running statistics' updates belong to the forward (grads half) */
	for (int i = 0; i < g->nnode; i++)
		if (g->node[i].op == OP_ASSIGN)
			g->node[i].dead = true;
	int *gin = xmalloc(((size_t)np + 1) * sizeof *gin);
	for (int i = 0; i < np; i++) {
		const Value *p = &g->val[wrt[i]];
		const char *name = arena_printf(&g->arena, "grad.%s", p->name);
		if (ir_find_value(g, name) >= 0) {
			free(gin);
			return diag(d, "--split-step: the model already has a value named %s", name);
		}
		gin[i] = ir_add_input(g, name, p->dtype, p->shape);
	}
	int rc = ps_optimizer(g, o, wrt, gin, np, d);
	free(gin);
	g->noutput = 0; /* the forward and backward are dead: DCE removes them */
	return rc;
}

int ps_split(Graph *g, const TrainOptions *t, int loss, const int *wrt, int np, const RngState *rs,
	     Diag *d)
{
	if (t->grad_inputs || t->augment_out || t->nremat)
		return diag(d, "--split-step: not with --grad-inputs, --augment-output or --max-memory");
	if (np == 0)
		return diag(d, "--split-step: the model has no trained parameter");
	return t->split == PS_SPLIT_GRADS ? grads_half(g, loss, wrt, np, rs, d)
					  : update_half(g, &t->optim, wrt, np, d);
}
