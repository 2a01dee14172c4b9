/* train.c — `nncc --train`: turns a shape-inferred model into one compiled
 * training step, before the simplifications and fusion so they see the
 * whole step (DESIGN.md). In order:
 *   1. ps_add_loss (loss.c): the loss over the model's first output and the
 *      new input `label`;
 *   2. the trained parameters: every f32 parameter (ONNX initializer) the
 *      loss depends on, except those matching a --freeze prefix, which
 *      stay constants (and may fold), and batch norm's running statistics
 *      (ps_train_buffers, train_bn.c: updated state, or constants);
 *   3. ps_autodiff (autodiff.c): d(loss)/d(parameter), and d(loss)/d(input)
 *      for each --grad-inputs name;
 *   4. ps_optimizer (optimizer.c): the update of parameters and optimizer
 *      state (assign nodes);
 *   5. the graph outputs become the loss, then `grad.NAME` per
 *      --grad-inputs entry (docs/training.md).
 * With TrainOptions.split (--split-step), ps_split (split.c) builds one
 * half of the step in place of 3-5 (docs/distributed.md). */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

static bool frozen(const TrainOptions *t, const char *name)
{
	for (int i = 0; i < t->nfreeze; i++)
		if (strncmp(name, t->freeze[i], strlen(t->freeze[i])) == 0)
			return true;
	return false;
}

/* dep[v]: the value loss depends on v. */
static void depends(const Graph *g, int loss, bool *dep)
{
	dep[loss] = true;
	for (int i = g->nnode - 1; i >= 0; i--) {
		const Node *n = &g->node[i];
		bool live = false;
		for (int k = 0; k < n->nout && !n->dead; k++)
			live = live || dep[n->out[k]];
		for (int k = 0; k < n->nin && live; k++)
			if (n->in[k] >= 0)
				dep[n->in[k]] = true;
	}
}

/* The graph inputs named in the comma-separated list, into in[]. */
static int grad_inputs(Graph *g, const char *list, int *in, int max, Diag *d)
{
	int n = 0;
	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char name[256];
		if (len == 0 || len >= sizeof name)
			return diag(d, "--grad-inputs: bad entry '%.*s'", (int)len, p);
		memcpy(name, p, len);
		name[len] = 0;
		int v = ir_find_value(g, name);
		if (v < 0 || g->val[v].kind != VK_INPUT)
			return diag(d, "--grad-inputs: '%s' is not an input of the model", name);
		if (!ir_dtype_is_float(g->val[v].dtype))
			return diag(d, "--grad-inputs: input '%s' is %s, not a float tensor", name,
				ir_dtype_name(g->val[v].dtype));
		for (int k = 0; k < n; k++)
			if (in[k] == v)
				return diag(d, "--grad-inputs: '%s' given twice", name);
		if (n == max)
			return diag(d, "--grad-inputs: more than %d inputs", max);
		in[n++] = v;
		p = e ? e + 1 : NULL;
	}
	return n;
}

/* --add-loss=A,B: loss + A + B, each a scalar float output of the model
 * (e.g. a VAE's KL term, written in the model's own ops). */
static int add_outputs(Graph *g, const char *list, int loss, Diag *d)
{
	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		int v = -1;
		for (int k = 1; k < g->noutput && v < 0; k++) /* output 0 is the loss's input */
			if (strlen(g->val[g->output[k]].name) == len &&
			    strncmp(g->val[g->output[k]].name, p, len) == 0)
				v = g->output[k];
		if (v < 0)
			return diag(d, "--add-loss: '%.*s' is not an output of the model (other than the "
				    "first)", (int)len, p);
		if (!ir_dtype_is_float(g->val[v].dtype) || g->val[v].shape.rank != 0)
			return diag(d, "--add-loss: output '%.*s' is not a float scalar", (int)len, p);
		int in = v;
		if (g->val[v].dtype != DT_F32) {
			int c = ir_add_node(g, OP_CAST, "loss", &in, 1, 1, (const char *const[]){"loss/cast"});
			ir_set_string(g, c, "to", "f32");
			if (ir_infer_node(g, c, d) < 0)
				return -1;
			in = ir_out(g, c, 0);
		}
		int n = ir_add_node(g, OP_ADD, "loss", (int[]){loss, in}, 2, 1,
			(const char *const[]){arena_printf(&g->arena, "loss+%.*s", (int)len, p)});
		if (ir_infer_node(g, n, d) < 0)
			return -1;
		loss = ir_out(g, n, 0);
		p = e ? e + 1 : NULL;
	}
	return loss;
}

/* Whether every window of maxpool node n holds an element of its input
 * (none lies wholly in the padding): then max over the window of relu(x)
 * is relu of the max over it of x. Static shapes only. */
static bool windows_see_input(const Graph *g, const Node *n)
{
	const Shape *x = &g->val[n->in[0]].shape, *y = &g->val[n->out[0]].shape;
	int s = x->rank - 2;
	const int64_t *kern, *str, *pads, *dil;
	int nk = ir_attr_ints(n, "kernel", &kern), ns = ir_attr_ints(n, "strides", &str);
	int np = ir_attr_ints(n, "pads", &pads), nd = ir_attr_ints(n, "dilations", &dil);
	if (s < 1 || y->rank != x->rank || !ir_shape_static(x) || !ir_shape_static(y) || nk != s ||
	    (ns >= 0 && ns != s) || (np >= 0 && np != 2 * s) || (nd >= 0 && nd != s))
		return false;
	for (int i = 0; i < s; i++) {
		int64_t h = x->d[2 + i].n, st = ns < 0 ? 1 : str[i], pb = np < 0 ? 0 : pads[i];
		int64_t dl = nd < 0 ? 1 : dil[i];
		for (int64_t o = 0; o < y->d[2 + i].n; o++) {
			int64_t at = o * st - pb, j = 0;
			while (j < kern[i] && (at + j * dl < 0 || at + j * dl >= h))
				j++;
			if (j == kern[i])
				return false;
		}
	}
	return true;
}

int ps_pool_relu(Graph *g)
{
	int n = 0;
	ir_fill_uses(g);
	for (int j = 0; j < g->nnode; j++) {
		Node *p = &g->node[j];
		if (p->dead || p->op != OP_MAXPOOL || p->nin != 1 || p->nout != 1)
			continue;
		int r = p->in[0];
		Value *rv = &g->val[r];
		if (rv->kind != VK_NODE || rv->nuse != 1 || !ir_dtype_is_float(rv->dtype))
			continue;
		Node *q = &g->node[rv->def];
		if (q->dead || q->op != OP_RELU || q->nin != 1 || q->nout != 1 || !windows_see_input(g, p))
			continue;
		/* q now pools q's input into r (the pooled shape), p takes the relu */
		Node t = *q;
		q->op = p->op, q->name = p->name, q->nattr = p->nattr, q->attr = p->attr;
		p->op = t.op, p->name = t.name, p->nattr = t.nattr, p->attr = t.attr;
		rv->shape = g->val[p->out[0]].shape;
		const char *name = arena_printf(&g->arena, "%s.prerelu", g->val[p->out[0]].name);
		if (ir_find_value(g, name) < 0)
			ir_rename_value(g, r, name);
		n++;
	}
	return n;
}

int ps_train(Graph *g, const TrainOptions *t, Diag *d)
{
	if (g->noutput < 1)
		return diag(d, "--train: the model has no output to put a loss on");
	int xin[64], nx = 0;
	if (t->grad_inputs && (nx = grad_inputs(g, t->grad_inputs, xin, 64, d)) < 0)
		return -1;
	RngState rs;
	if (ps_rng_train(g, t, &rs, d) < 0) /* rng: seed, augmentation, dropout masks */
		return -1;
	int loss = ps_add_loss(g, t->loss, g->output[0], d);
	if (loss >= 0 && t->label && ir_find_value(g, t->label) < 0) /* a .nn model's label name */
		ir_rename_value(g, g->input[g->ninput - 1], ir_strdup(g, t->label));
	if (loss < 0 || (t->add_loss && (loss = add_outputs(g, t->add_loss, loss, d)) < 0))
		return -1;
	bool *dep = xcalloc((size_t)g->nval + 1, sizeof *dep);
	bool *fixed = xcalloc((size_t)g->nval + 1, sizeof *fixed); /* never trained */
	if (ps_train_buffers(g, fixed, d) < 0) { /* train_bn.c: batch norm statistics */
		free(dep);
		free(fixed);
		return -1;
	}
	depends(g, loss, dep);
	int *wrt = xmalloc(((size_t)g->nval + (size_t)nx + 1) * sizeof *wrt), np = 0;
	for (int v = 0; v < g->nval; v++) {
		const Value *x = &g->val[v];
		if (x->kind == VK_CONST && x->param && !x->state && x->dtype == DT_F32 && dep[v] &&
		    !frozen(t, x->name) && !fixed[v])
			wrt[np++] = v;
	}
	free(dep);
	free(fixed);
	ps_pool_relu(g);
	if (t->split) { /* --split-step: one half of the step (split.c) */
		int rc = ps_split(g, t, loss, wrt, np, &rs, d);
		free(wrt);
		return rc;
	}
	for (int k = 0; k < nx; k++)
		wrt[np + k] = xin[k];
	int *grad = xmalloc(((size_t)np + (size_t)nx + 1) * sizeof *grad);
	int rc = ps_autodiff(g, loss, wrt, np + nx, grad, d);
	if (rc == 0)
		rc = ps_optimizer(g, &t->optim, wrt, grad, np, d);
	if (rc == 0)
		ps_rng_bind_step(g, &rs);
	if (rc == 0) {
		g->noutput = 0;
		ir_add_output(g, loss);
		for (int k = 0; k < nx; k++) { /* a named copy: the output grad.NAME */
			const char *name = arena_printf(&g->arena, "grad.%s", g->val[xin[k]].name);
			int node = ir_add_node(g, OP_IDENTITY, "grad", &grad[np + k], 1, 1, &name);
			if ((rc = ir_infer_node(g, node, d)) < 0)
				break;
			ir_add_output(g, ir_out(g, node, 0));
		}
		if (t->augment_out && rs.augmented >= 0) /* rng: --augment-output */
			ir_add_output(g, rs.augmented);
	}
	free(wrt);
	free(grad);
	return rc;
}

int ps_mutable_weights(Graph *g)
{
	int n = 0;
	for (int v = 0; v < g->nval; v++) {
		Value *x = &g->val[v];
		if (x->kind == VK_CONST && x->param && !x->state && x->dtype == DT_F32) {
			x->state = IR_STATE_PARAM;
			n++;
		}
	}
	return n;
}
