/* dynbatch.c — which values carry the dynamic batch (--max SYM=N,
 * docs/dynamic-batch.md).
 *
 * The driver runs the whole pipeline twice on the same model: g with the
 * batch symbol bound to max, g2 with max + 1. Every shape rule then says
 * by itself where the batch went: a dim that differs between the two is
 * the batch's doing. A value is a batch value when exactly its dim 0
 * differs, as max against max + 1; any other difference (the batch moved
 * to another axis, merged into a dim by a reshape, concatenated or sliced
 * along axis 0) is refused with the node's name, as is a node that reads
 * a batch value and makes a value without the batch (a reduction over
 * it), and a node whose op mixes the rows of axis 0 while keeping its
 * shape (a softmax over axis 0, a reverse slice), or whose attributes or
 * constant inputs differ between g and g2 (a value computed from the batch
 * size, as a divisor taken from Shape(x), which no shape shows). What
 * passes is a graph
 * in which row b of every batch value depends only on row b of the batch
 * inputs, so a run over the first n rows computes exactly the model at
 * batch n; the code generator checks that its kernels walk the rows that
 * way (codegen/dynbatch.c). */
#include "passes.h"
#include "../ir/shape.h"

#include <stdlib.h>
#include <string.h>

/* A name for messages: the node's own, or its op. */
static const char *node_name(const Graph *g, int node)
{
	const Node *n = &g->node[node];
	return n->name && n->name[0] ? n->name : ir_ops[n->op].name;
}

/* Whether the same passes made the same graph both times. */
static bool same_structure(const Graph *g, const Graph *g2)
{
	if (g->nnode != g2->nnode || g->nval != g2->nval || g->ninput != g2->ninput ||
	    g->noutput != g2->noutput)
		return false;
	for (int i = 0; i < g->nnode; i++) {
		const Node *a = &g->node[i], *b = &g2->node[i];
		if (a->op != b->op || a->dead != b->dead || a->nin != b->nin || a->nout != b->nout)
			return false;
		if (memcmp(a->in, b->in, (size_t)a->nin * sizeof *a->in) != 0 ||
		    memcmp(a->out, b->out, (size_t)a->nout * sizeof *a->out) != 0)
			return false;
	}
	for (int i = 0; i < g->ninput; i++)
		if (g->input[i] != g2->input[i])
			return false;
	for (int i = 0; i < g->noutput; i++)
		if (g->output[i] != g2->output[i])
			return false;
	return true;
}

/* Whether attribute a (of g's node) equals b (the same node in g2); the
 * shape attribute of reshape/expand/random_uniform may differ at index 0
 * (its batch dim: the output's shape is compared on its own). */
static bool same_attr(const Node *n, const Attr *a, const Attr *b)
{
	if (strcmp(a->name, b->name) != 0 || a->kind != b->kind || a->n != b->n)
		return false;
	bool shape = strcmp(a->name, "shape") == 0 &&
		     (n->op == OP_RESHAPE || n->op == OP_EXPAND || n->op == OP_RANDOM_UNIFORM);
	switch (a->kind) {
	case AT_INT:
		return a->i == b->i;
	case AT_FLOAT:
		return memcmp(&a->f, &b->f, sizeof a->f) == 0;
	case AT_INTS:
		for (int i = shape ? 1 : 0; i < a->n; i++)
			if (a->ints[i] != b->ints[i])
				return false;
		return true;
	case AT_FLOATS:
		return a->n == 0 || memcmp(a->floats, b->floats, (size_t)a->n * sizeof *a->floats) == 0;
	case AT_STRING:
		return strcmp(a->s, b->s) == 0;
	}
	return false;
}

/* NULL when node i reads the same constants and has the same attributes
 * in g and g2, else what differs: a value computed from the batch size
 * (a mean's divisor taken from Shape(x)) that no shape shows. */
static const char *batch_dependent(const Graph *g, const Graph *g2, int i)
{
	const Node *n = &g->node[i], *n2 = &g2->node[i];
	if (n->nattr != n2->nattr)
		return "has attributes that depend on the batch size";
	for (int k = 0; k < n->nattr; k++)
		if (!same_attr(n, &n->attr[k], &n2->attr[k]))
			return "has an attribute that depends on the batch size";
	for (int k = 0; k < n->nin; k++) {
		int v = n->in[k];
		if (v < 0 || g->val[v].kind != VK_CONST)
			continue;
		const Value *a = &g->val[v], *b = &g2->val[v];
		if (!ir_shape_eq(&a->shape, &b->shape) || a->nbytes != b->nbytes || !a->data != !b->data ||
		    (a->data && memcmp(a->data, b->data, a->nbytes) != 0))
			return "reads a constant computed from the batch size";
	}
	return NULL;
}

/* 1: v is a batch value, 0: it does not depend on the batch, -1: the
 * batch is elsewhere (*dim: the first dim that differs). */
static int classify(const Graph *g, const Graph *g2, int v, int64_t max, int *dim)
{
	const Shape *a = &g->val[v].shape, *b = &g2->val[v].shape;
	*dim = -1;
	if (a->rank != b->rank)
		return -1;
	int r = 0;
	for (int k = 0; k < a->rank; k++) {
		if (a->d[k].n == b->d[k].n)
			continue;
		if (k == 0 && a->d[k].n == max && b->d[k].n == max + 1) {
			r = 1;
			continue;
		}
		*dim = k;
		return -1;
	}
	return r;
}

/* Axis attribute `name` of node (default dflt) is axis 0 of a rank-r value. */
static bool axis_is_0(const Node *n, const char *name, int64_t dflt, int r)
{
	return sh_norm_axis(ir_attr_int(n, name, dflt), r) == 0;
}

/* Ints attribute `name` lists axis 0 of a rank-r value (absent: all axes). */
static bool axes_have_0(const Node *n, const char *name, int r)
{
	const int64_t *ax;
	int na = ir_attr_ints(n, name, &ax);
	if (na < 0)
		return true;
	for (int i = 0; i < na; i++)
		if (sh_norm_axis(ax[i], r) == 0)
			return true;
	return false;
}

/* NULL when node keeps the rows of axis 0 apart, given that its batch
 * inputs and outputs carry the batch at dim 0; else why not. */
static const char *op_mixes(const Graph *g, int node, int r)
{
	const Node *n = &g->node[node];
	bool data = n->nin > 0 && n->in[0] >= 0 && g->batch && g->batch[n->in[0]]; /* input 0 carries it */
	if (ir_ops[n->op].flags & OPF_ELEMWISE)
		return NULL;
	switch (n->op) {
	case OP_MATMUL: case OP_CONV: case OP_CONV_TRANSPOSE: case OP_MAXPOOL: case OP_AVGPOOL:
	case OP_BATCHNORM: case OP_PAD: case OP_RESHAPE: case OP_RESHAPE_DYN: case OP_FLATTEN:
	case OP_IDENTITY: case OP_UNSQUEEZE: case OP_SQUEEZE: case OP_CAST: case OP_EXPAND:
	case OP_DROPOUT: case OP_RANDOM_UNIFORM:
		return NULL; /* per row; any change of dim 0 was refused by its shape */
	case OP_REDUCE_SUM: case OP_REDUCE_MEAN: case OP_REDUCE_MAX: case OP_REDUCE_MIN:
	case OP_REDUCE_PROD:
		return axes_have_0(n, "axes", r) ? "reduces over the batch axis" : NULL;
	case OP_SOFTMAX: case OP_LOGSOFTMAX: case OP_TOPK:
		return axis_is_0(n, "axis", -1, r) ? "works along the batch axis" : NULL;
	case OP_ARGMAX: case OP_ARGMIN: case OP_CUMSUM: case OP_CUMPROD: case OP_CONCAT:
		return axis_is_0(n, "axis", 0, r) ? "works along the batch axis" : NULL;
	case OP_GATHER: case OP_GATHER_ELEMENTS: /* only the data's axis matters (an embedding's is not the batch) */
		return data && axis_is_0(n, "axis", 0, r) ? "gathers along the batch axis" : NULL;
	case OP_TRANSPOSE: {
		const int64_t *p;
		return ir_attr_ints(n, "perm", &p) >= 1 && p[0] == 0 ? NULL : "moves the batch axis";
	}
	case OP_SLICE:
		return axes_have_0(n, "axes", r) ? "slices the batch axis" : NULL;
	case OP_TRILU:
		return r <= 2 ? "masks a matrix whose rows are the batch" : NULL;
	case OP_GATHER_ND:
		return !data || ir_attr_int(n, "batch_dims", 0) >= 1 ? NULL : "indexes the batch axis";
	default:
		return "is not known to keep the batch rows apart"; /* scatters, state, new ops */
	}
}

int ps_batch_mark(Graph *g, const Graph *g2, int64_t max, Diag *d)
{
	if (!same_structure(g, g2))
		return diag(d, "dynamic batch: the passes made a different graph at another batch size; "
			       "compile with fixed shapes instead");
	bool *bat = ir_alloc(g, (size_t)(g->nval ? g->nval : 1) * sizeof *bat);
	g->batch = bat; /* filled in node order; op_mixes reads the inputs' */
	int dim, nbatch = 0;
	for (int i = 0; i < g->ninput; i++) {
		int v = g->input[i], c = classify(g, g2, v, max, &dim);
		if (c < 0)
			return diag(d, "dynamic batch: input '%s' has the batch in dim %d; it must be dim 0",
				    g->val[v].name, dim);
		bat[v] = c == 1;
		nbatch += c == 1;
	}
	if (!nbatch) {
		g->batch = NULL;
		return diag(d, "dynamic batch: no graph input has the batch symbol as its dim 0");
	}
	for (int i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		bool any_in = false, all_out = true, any_out = false;
		int r = 0;
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] >= 0 && bat[n->in[k]]) {
				any_in = true;
				r = g->val[n->in[k]].shape.rank;
			}
		for (int k = 0; k < n->nout; k++) {
			int v = n->out[k], c = classify(g, g2, v, max, &dim);
			if (c < 0)
				return diag(d, "dynamic batch: node %s (%s) mixes the batch axis into dim %d of its output",
					    node_name(g, i), ir_ops[n->op].name, dim);
			bat[v] = c == 1;
			any_out = any_out || c == 1;
			all_out = all_out && c == 1;
			if (c == 1 && !r)
				r = g->val[v].shape.rank;
		}
		if (any_in && !all_out)
			return diag(d, "dynamic batch: node %s (%s) reduces over or drops the batch axis",
				    node_name(g, i), ir_ops[n->op].name);
		const char *why = batch_dependent(g, g2, i);
		if (!why && (any_in || any_out))
			why = op_mixes(g, i, r);
		if (why)
			return diag(d, "dynamic batch: node %s (%s) %s", node_name(g, i), ir_ops[n->op].name, why);
	}
	g->batch_max = max;
	return 0;
}
