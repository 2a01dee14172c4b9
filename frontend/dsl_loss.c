/* dsl_loss.c — the `loss` statement (docs/language.md, "Loss and
 * training"): a built-in loss of a model value against the label, plus
 * scalar terms the model computes (a VAE's KL divergence). It becomes what
 * --loss and --add-loss say for an ONNX model: under --train the loss's
 * value is the graph's first output and each term a further output. */
#include <stdio.h>
#include <string.h>

#include "dsl_impl.h"

static const char *const losses[] = {"cross_entropy", "nll", "mse", "bce_logits", "backprop"};

/* The '+' chain of e, leftmost first, into t[]; its length or -1. */
static int terms(const NnExpr *e, const NnExpr **t, int max)
{
	if (e->kind == NE_BIN && e->op == '+') {
		int n = terms(e->a, t, max);
		if (n < 0 || n == max)
			return -1;
		t[n++] = e->b;
		return n;
	}
	t[0] = e;
	return 1;
}

static void loss_call(NnB *b, const NnExpr *e)
{
	const char *usage = "loss = cross_entropy(logits, y) [+ term ...]; losses: cross_entropy nll "
			    "mse bce_logits backprop";
	int which = -1;
	for (int i = 0; e->kind == NE_CALL && i < 5; i++)
		if (strcmp(e->name, losses[i]) == 0)
			which = i;
	if (which < 0) {
		const char *near = e->kind == NE_CALL ? nn_nearest(e->name, losses, 5) : NULL;
		char h[96];
		if (near)
			snprintf(h, sizeof h, "did you mean '%s'?", near);
		nn_err(b->src, &e->tok, near ? h : usage, e->kind == NE_CALL ? "unknown loss '%s'"
		       : "a loss starts with a built-in loss%s", e->kind == NE_CALL ? e->name : "");
		return;
	}
	if (e->narg != 2 || e->kw[0] || e->kw[1] || e->arg[0]->kind != NE_NAME ||
	    e->arg[1]->kind != NE_NAME) {
		nn_err(b->src, &e->tok, NULL, "%s takes two names: %s(OUTPUT, LABEL)", e->name, e->name);
		return;
	}
	NnSym *o = nn_lookup(b, &b->top, e->arg[0]->name);
	NnSym *l = nn_lookup(b, &b->top, e->arg[1]->name);
	if (!o || o->kind != SY_TENSOR || o->nv != 1) {
		if (!o || o->kind != SY_ERROR)
			nn_err(b->src, &e->arg[0]->tok, NULL, "'%s' is not a tensor of the model",
			       e->arg[0]->name);
		return;
	}
	if (!l || l->kind != SY_LABEL) {
		nn_err(b->src, &e->arg[1]->tok, "declare it: label y: i64[N]", "'%s' is not the label",
		       e->arg[1]->name);
		return;
	}
	int out = o->v[0];
	const Value *ov = &b->g->val[out];
	char ty[200], sh[200];
	ir_shape_str(b->g, &l->lshape, sh, sizeof sh);
	if (!ir_dtype_is_float(ov->dtype)) {
		nn_err(b->src, &e->arg[0]->tok, NULL, "%s of %s: the output must be float", e->name,
		       nn_typestr(b, out, ty, sizeof ty));
		return;
	}
	if (which <= 1) { /* class indices */
		bool ok = l->ldtype == DT_I64 && l->lshape.rank == ov->shape.rank - 1 && ov->shape.rank >= 2;
		for (int i = 0; ok && i < l->lshape.rank; i++) {
			const Dim *a = &l->lshape.d[i], *c = &ov->shape.d[i == 0 ? 0 : i + 1];
			ok = a->n == c->n && a->sym == c->sym;
		}
		if (!ok) {
			char h[300];
			snprintf(h, sizeof h, "output %s, label %s%s", nn_typestr(b, out, ty, sizeof ty),
				 ir_dtype_name(l->ldtype), sh);
			nn_err(b->src, &e->arg[1]->tok, h, "%s wants logits [N, C, ...] and an i64 label "
			       "[N, ...]", e->name);
			return;
		}
	} else if (l->ldtype != ov->dtype || !ir_shape_eq(&l->lshape, &ov->shape)) {
		char h[300];
		snprintf(h, sizeof h, "output %s, label %s%s", nn_typestr(b, out, ty, sizeof ty),
			 ir_dtype_name(l->ldtype), sh);
		nn_err(b->src, &e->arg[1]->tok, h, "%s wants a label of the output's type", e->name);
		return;
	}
	b->loss_out = out;
	snprintf(b->cl->loss, sizeof b->cl->loss, "%s", e->name);
	snprintf(b->cl->label, sizeof b->cl->label, "%s", l->name);
}

void nn_run_loss(NnB *b, const NnStmt *st)
{
	if (b->loss_out >= 0 || b->cl->loss[0]) {
		nn_err(b->src, &st->tok, NULL, "a second loss statement");
		return;
	}
	const NnExpr *t[NN_MAX_OUT];
	int n = terms(st->e, t, NN_MAX_OUT);
	if (n < 0) {
		nn_err(b->src, &st->e->tok, NULL, "more than %d loss terms", NN_MAX_OUT);
		return;
	}
	loss_call(b, t[0]);
	int k = 0;
	for (int i = 1; i < n; i++) {
		const char *save = b->let;
		b->let = arena_printf(b->a, "loss_term%d", i);
		int first = b->g->nval;
		NnVal v = nn_eval(b, &b->top, t[i]);
		b->let = save;
		int x = nn_tensor_arg(b, &v, &t[i]->tok, "a loss term");
		if (x < 0)
			continue;
		Value *xv = &b->g->val[x];
		if (!ir_dtype_is_float(xv->dtype) || xv->shape.rank != 0) {
			char ty[200];
			nn_err(b->src, &t[i]->tok, "reduce it to a scalar: mean(x) or sum(x)",
			       "a loss term must be a float scalar, got %s", nn_typestr(b, x, ty, sizeof ty));
			continue;
		}
		if (x >= first && xv->kind == VK_NODE)
			ir_rename_value(b->g, x, ir_unique_name(b->g, arena_printf(b->a, "loss_term%d", i)));
		else if (xv->kind != VK_NODE) {
			nn_err(b->src, &t[i]->tok, NULL, "a loss term must be computed by the model");
			continue;
		}
		b->loss_terms[b->nloss_terms++] = x;
		k += snprintf(b->cl->add_loss + k, sizeof b->cl->add_loss - (size_t)k, "%s%s", k ? "," : "",
			      xv->name);
	}
}
