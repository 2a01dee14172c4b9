/* canon.c — canonicalization, run at every -O level because code
 * generation needs it: reshape_dyn(x, shape), whose target shape is a
 * run-time tensor (PyTorch's x.view(x.size(0), -1) imports as a chain of
 * shape, gather, unsqueeze, concat and reshape_dyn), becomes
 * reshape(x) {shape = ...} once shape inference knows its output shape
 * (the shape rule propagates the chain's values, ir/shape_extra.c). The
 * chain then has no use and DCE drops it. A target that stays unknown
 * (truly data-dependent) is left as it is; lowering reports it.
 * Likewise shape(x) of a static x becomes a constant: codegen has no
 * kernel for it. Dropout outside --train is the identity (rng.c). */
#include "passes.h"

void ps_canonicalize(Graph *g, const Options *o)
{
	for (int i = 0; i < g->nnode; i++) {
		if (g->node[i].dead)
			continue;
		if (g->node[i].op == OP_RESHAPE_DYN)
			ps_make_reshape(g, i, g->node[i].in[0]);
		else if (g->node[i].op == OP_SHAPE)
			ps_fold_shape(g, i);
		else if (g->node[i].op == OP_DROPOUT && !(o && o->train)) /* rng: identity outside --train */
			ps_dropout_identity(g, i);
	}
}
