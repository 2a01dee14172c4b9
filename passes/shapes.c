/* shapes.c — shape binding and shape inference over the whole graph.
 * Binding replaces symbolic input dims with the extents given by --shape
 * and substitutes the same symbol everywhere it occurs; inference then
 * recomputes every node output in topological order with the per-op shape
 * rules of ops.def (ir/shape.c). */
#include "passes.h"

#include <string.h>

static void subst_sym(Graph *g, int sym, int64_t n)
{
	for (int i = 0; i < g->nval; i++) {
		Shape *s = &g->val[i].shape;
		for (int k = 0; k < s->rank; k++)
			if (s->d[k].sym == sym) {
				s->d[k].sym = 0;
				s->d[k].n = n;
			}
	}
}

int ps_bind_shapes(Graph *g, const Options *o, Diag *d)
{
	int err = 0;
	for (int b = 0; b < o->nbind; b++) {
		const ShapeBinding *sb = &o->bind[b];
		int v = -1;
		for (int i = 0; i < g->ninput; i++)
			if (strcmp(g->val[g->input[i]].name, sb->name) == 0)
				v = g->input[i];
		if (v < 0) {
			err = diag(d, "--shape %s: the model has no input named '%s'", sb->name, sb->name);
			continue;
		}
		Shape *s = &g->val[v].shape;
		if (s->rank >= 0 && s->rank != sb->rank) {
			char buf[128];
			err = diag(d, "--shape %s: rank %d given, but the input is %s", sb->name, sb->rank,
				   ir_shape_str(g, s, buf, sizeof buf));
			continue;
		}
		if (s->rank < 0) {
			*s = ir_shape_make(sb->rank, sb->dims);
			continue;
		}
		/* Dim by dim, so a symbol bound at one dim is checked at the next
		 * (x: [N, N] with --shape x=2,3 is an error). */
		for (int k = 0; k < sb->rank; k++) {
			if (s->d[k].sym) {
				subst_sym(g, s->d[k].sym, sb->dims[k]);
			} else if (s->d[k].n >= 0 && s->d[k].n != sb->dims[k]) {
				char buf[128];
				err = diag(d, "--shape %s: dim %d is %lld in the model (%s), %lld given", sb->name, k,
					   (long long)s->d[k].n, ir_shape_str(g, s, buf, sizeof buf), (long long)sb->dims[k]);
				break;
			} else {
				s->d[k].n = sb->dims[k];
			}
		}
	}
	if (o->batch_sym) { /* --max SYM=N: SYM planned at N (dynbatch.c) */
		int sym = 0;
		for (int i = 1; i < g->nsym; i++)
			if (strcmp(g->sym[i], o->batch_sym) == 0)
				sym = i;
		if (!sym)
			return diag(d, "--max %s: the model has no symbolic dim named '%s'", o->batch_sym, o->batch_sym);
		subst_sym(g, sym, o->batch_max);
	}
	return err;
}

int ps_infer_shapes(Graph *g, Diag *d)
{
	for (int i = 0; i < g->nnode; i++) {
		Node *n = &g->node[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nout; k++) {
			g->val[n->out[k]].dtype = DT_UNDEF;
			g->val[n->out[k]].shape = ir_shape_unknown();
		}
		if (ir_infer_node(g, i, d) < 0)
			return -1;
	}
	return 0;
}
