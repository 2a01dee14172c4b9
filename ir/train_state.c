/* train_state.c — training state in the IR: the role names, the shape
 * rule of `assign`, and the checks ir_verify runs on state.
 *
 * A training step (docs/training.md) holds its parameters, optimizer
 * state, step counter and learning rate as VK_CONST values with
 * Value.state set (the data is the initial value). `assign(state, value)`
 * gives the state's value for the next step: every read of the state in
 * the step sees the value at step start, and the write happens after the
 * last read (codegen orders and checks it). assign has no outputs and is
 * OPF_SIDE_EFFECT, so DCE, CSE and folding leave it alone.
 * `gradient(y, x)` (ONNX's preview Gradient) stands for d(sum y)/dx until
 * ps_gradients (passes/gradient.c) writes the autodiff nodes in its place. */
#include "shape.h"

#include <stdlib.h>
#include <string.h>

static const char *const role_names[IR_STATE_COUNT] = {
	[IR_STATE_NONE] = "none",
	[IR_STATE_PARAM] = "param",
	[IR_STATE_OPTIM] = "optim",
	[IR_STATE_STEP] = "step",
	[IR_STATE_LR] = "lr",
	[IR_STATE_SEED] = "seed",
	[IR_STATE_BUFFER] = "buffer",
};

const char *ir_state_role_name(int role)
{
	return role > 0 && role < IR_STATE_COUNT ? role_names[role] : "none";
}

int ir_state_role_parse(const char *s, size_t n)
{
	for (int r = 1; r < IR_STATE_COUNT; r++)
		if (strlen(role_names[r]) == n && memcmp(role_names[r], s, n) == 0)
			return r;
	return IR_STATE_NONE;
}

/* assign(state, value): value has the state's dtype and shape. */
int shape_assign_rule(const ShapeCtx *c)
{
	char b1[256], b2[256];
	if (sh_same_dtype(c, 0, 1))
		return -1;
	const Shape *s = &c->ish[0], *v = &c->ish[1];
	if (s->rank >= 0 && v->rank >= 0 && !ir_shape_eq(s, v))
		return FAIL(c, "assigns a value of shape %s to state of shape %s", sh_str(c, v, b1),
			sh_str(c, s, b2));
	return 0;
}

int shape_assign(Graph *g, int node, Diag *d);
int shape_assign(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }

/* gradient(y, x): d(sum of y)/dx, a float tensor of x's type (expanded by
 * ps_gradients before anything evaluates or lowers it). */
int shape_gradient_rule(const ShapeCtx *c)
{
	for (int k = 0; k < 2; k++)
		if (c->idt[k] != DT_UNDEF && !ir_dtype_is_float(c->idt[k]))
			return FAIL(c, "gradient: input %d is %s, not a float tensor", k,
				ir_dtype_name(c->idt[k]));
	c->odt[0] = c->idt[1];
	c->osh[0] = c->ish[1];
	return 0;
}

int shape_gradient(Graph *g, int node, Diag *d);
int shape_gradient(Graph *g, int node, Diag *d) { return sh_run_rule(g, node, d); }

int ir_verify_state(const Graph *g, Diag *d)
{
	int bad = 0;
	int *by = xcalloc((size_t)(g->nval ? g->nval : 1), sizeof *by); /* assigning node + 1 */
	for (int v = 0; v < g->nval; v++) {
		const Value *x = &g->val[v];
		if (x->state < 0 || x->state >= IR_STATE_COUNT) {
			diag(d, "value %%%s: invalid state role %d", x->name ? x->name : "", x->state);
			bad++;
		} else if (x->state && x->kind != VK_CONST) {
			diag(d, "value %%%s: training state must be a constant with data", x->name);
			bad++;
		}
	}
	for (int i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		if (n->dead || n->op != OP_ASSIGN || n->nin < 1)
			continue;
		int s = n->in[0];
		if (s < 0 || s >= g->nval)
			continue; /* check_node reports it */
		if (!g->val[s].state) {
			ir_node_err(g, i, d, "assigns to %%%s, which is not training state", g->val[s].name);
			bad++;
		} else if (by[s]) {
			ir_node_err(g, i, d, "assigns to %%%s, already assigned by node %d", g->val[s].name,
				by[s] - 1);
			bad++;
		} else {
			by[s] = i + 1;
		}
	}
	free(by);
	return bad;
}
