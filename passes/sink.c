/* sink.c — backward work made no earlier than its value is needed
 * (ps_sink). Autodiff walks the forward nodes backwards, so a residual
 * block's adjoint reaches the shortcut first: ResNet-18's stride-2
 * downsample's input gradient (6.4 MB at the second stage, from a 3.2 MB
 * adjoint) was made 34 kernels before the add that reads it, through the
 * main branch's whole backward pass, at the peak of the smallest
 * --max-memory plans. A node whose outputs outweigh the inputs that die
 * at it holds fewer bytes made later: right before its first reader, its
 * inputs live on instead of its outputs. A view (a reshape) moves down
 * anyway, so the node that makes its input can follow it. */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

/* Bytes of value v where it takes memory of its own: a node's output
 * (parameters, inputs and constants are there anyway), not a view. */
static int64_t own_bytes(const Graph *g, int v)
{
	const Value *x = &g->val[v];
	if (x->kind != VK_NODE || x->def < 0 || (ir_ops[g->node[x->def].op].flags & OPF_VIEW))
		return 0;
	int64_t n = ir_shape_numel(&x->shape);
	return n > 0 ? n * ir_dtype_size(x->dtype) : 0;
}

/* Whether node i reads value v. */
static bool reads(const Node *n, int v)
{
	for (int k = 0; k < n->nin; k++)
		if (n->in[k] == v)
			return true;
	return false;
}

/* The first node after i reading one of i's outputs, or -1 (none, or an
 * output of the graph: it stays). */
static int first_reader(const Graph *g, int i)
{
	const Node *n = &g->node[i];
	for (int o = 0; o < n->nout; o++)
		for (int k = 0; k < g->noutput; k++)
			if (g->output[k] == n->out[o])
				return -1;
	for (int j = i + 1; j < g->nnode; j++) {
		const Node *r = &g->node[j];
		for (int o = 0; o < n->nout && !r->dead; o++)
			if (reads(r, n->out[o]))
				return j;
	}
	return -1;
}

/* Bytes of node i's inputs that die at it: read by no later node and not
 * graph outputs (each counted once). */
static int64_t dying_bytes(const Graph *g, int i)
{
	const Node *n = &g->node[i];
	int64_t sum = 0;
	for (int k = 0; k < n->nin; k++) {
		int v = n->in[k];
		bool again = v < 0;
		for (int j = 0; j < k && !again; j++)
			again = n->in[j] == v;
		for (int j = 0; j < g->noutput && !again; j++)
			again = g->output[j] == v;
		for (int j = i + 1; j < g->nnode && !again; j++)
			again = !g->node[j].dead && reads(&g->node[j], v);
		if (!again)
			sum += own_bytes(g, v);
	}
	return sum;
}

/* Node i moved to sit right before node at (> i), the others keeping
 * their order; Value.def renumbered. */
static void move_down(Graph *g, int i, int at)
{
	Node t = g->node[i];
	memmove(&g->node[i], &g->node[i + 1], (size_t)(at - 1 - i) * sizeof *g->node);
	g->node[at - 1] = t;
	for (int j = i; j < at; j++)
		for (int o = 0; o < g->node[j].nout; o++)
			g->val[g->node[j].out[o]].def = j;
}

int ps_sink(Graph *g)
{
	int moved = 0;
	for (int i = g->nnode - 2; i >= 0; i--) {
		const Node *n = &g->node[i];
		if (n->dead || !ps_is_backward(n) || (ir_ops[n->op].flags & OPF_SIDE_EFFECT))
			continue;
		bool view = ir_ops[n->op].flags & OPF_VIEW; /* free to move: then its producer may */
		int at = first_reader(g, i);
		if (at <= i + 1)
			continue;
		bool assign = false; /* no state written between: i reads the old values */
		for (int j = i + 1; j < at && !assign; j++)
			assign = !g->node[j].dead && (ir_ops[g->node[j].op].flags & OPF_SIDE_EFFECT);
		int64_t out = 0;
		for (int o = 0; o < n->nout; o++)
			out += own_bytes(g, n->out[o]);
		if (assign || (!view && out <= dying_bytes(g, i)))
			continue;
		move_down(g, i, at);
		moved++;
	}
	return moved;
}
