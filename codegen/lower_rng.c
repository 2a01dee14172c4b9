/* lower_rng.c — lowering of random_uniform: one loop over its output
 * whose body is a KX_RANDOM node (the backend expands Philox) fed by the
 * seed and step scalars and the element's row-major index, so each
 * element is the pure function of its index that ir/philox.c defines.
 * Fusion inlines it into its reader (a RO_MOVE member, passes/fuse.c), so
 * a dropout mask is drawn where it is used and never stored. */
#include "lower.h"

Kx *lw_random_at(Lower *L, int node, const Aff *coord)
{
	const Node *n = &L->g->node[node];
	Aff none[1] = {{0}}; /* the scalars' (empty) coordinates */
	Kx *seed = lw_value_at(L, n->in[0], none), *step = lw_value_at(L, n->in[1], none);
	if (!seed || !step)
		return NULL;
	Kx *x = arena_alloc(&L->kl->arena, sizeof *x);
	x->kind = KX_RANDOM;
	x->dtype = DT_F32;
	x->buf = -1;
	x->a = seed;
	x->b = step;
	x->c = (double)(uint32_t)ir_attr_int(n, "stream", 0);
	x->idx = lw_linear(L, &lw_out(L, node)->shape, coord);
	return x;
}

int lw_random_uniform(Lower *L, int node)
{
	return lw_pointwise(L, node, lw_random_at);
}
