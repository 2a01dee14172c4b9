/* dce.c — dead-code elimination: removes nodes none of whose outputs
 * reach a graph output, then compacts the graph. Side-effecting ops stay. */
#include "passes.h"

#include <stdlib.h>

void ps_dce(Graph *g, const Options *o)
{
	(void)o;
	bool *live = xcalloc((size_t)(g->nval ? g->nval : 1), sizeof *live);
	for (int i = 0; i < g->noutput; i++)
		live[g->output[i]] = true;
	for (int i = g->nnode - 1; i >= 0; i--) {
		Node *n = &g->node[i];
		if (n->dead)
			continue;
		bool used = (ir_ops[n->op].flags & OPF_SIDE_EFFECT) != 0;
		for (int k = 0; k < n->nout; k++)
			used = used || live[n->out[k]];
		if (!used) {
			n->dead = true;
			continue;
		}
		for (int j = 0; j < n->nin; j++)
			if (n->in[j] >= 0)
				live[n->in[j]] = true;
	}
	free(live);
	ir_compact(g);
}
