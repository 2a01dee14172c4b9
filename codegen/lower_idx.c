/* lower_idx.c — lowering of the indexing family: slice (an affine load
 * with a start and a step per dim), expand (a broadcast load), trilu (a
 * load guarded by the band j - i >= k or <= k, zero outside), and the
 * data-dependent gathers — gather with any indices, gather_elements and
 * gather_nd — as loads whose index adds KX_IDX terms (codegen.h): the
 * index tensor is read inside the kernel, wrapped once when negative, and
 * an index out of range reads 0 rather than memory outside the buffer.
 * Each is one loop kernel over its output, or is inlined into the kernel
 * of a fusion group that reads it (lw_idx_at). The scatters are a copy of the
 * data into the output, then one serial loop over the updates whose store
 * index has a run-time part (Kernel.out_dyn); an update with an index out
 * of range is skipped. */
#include <stdint.h>
#include <string.h>

#include "lower.h"

static Kx *kx_idx(Lower *L, Kx *a, int64_t ext, int64_t stride, Kx *rest)
{
	Kx *x = arena_alloc(&L->kl->arena, sizeof *x);
	x->kind = KX_IDX;
	x->dtype = DT_I64;
	x->buf = -1;
	x->a = a;
	x->b = rest;
	x->ext = ext;
	x->stride = stride;
	return x;
}

/* Whether input i of node is a constant index tensor whose every value
 * lies in [0, ext): its KX_IDX then needs no wrap and no range check
 * (the gathers autodiff makes, at constant positions). */
static bool const_in_range(Lower *L, int node, int i, int64_t ext)
{
	const Value *ix = lw_in(L, node, i);
	int64_t n = ir_shape_numel(&ix->shape);
	if (ix->kind != VK_CONST || !ix->data || ix->state != 0 || n < 0 ||
	    (ix->dtype != DT_I64 && ix->dtype != DT_I32))
		return false;
	for (int64_t k = 0; k < n; k++) {
		int64_t v = ix->dtype == DT_I64 ? ((const int64_t *)ix->data)[k] : ((const int32_t *)ix->data)[k];
		if (v < 0 || v >= ext)
			return false;
	}
	return true;
}

/* A load of input 0 of node at x coordinates xc plus the run-time offset dyn. */
static Kx *dyn_load(Lower *L, int node, const Aff *xc, Kx *dyn)
{
	const Value *x = lw_in(L, node, 0);
	Kx *ld = kx_load(L, lw_out(L, node)->dtype, lw_inbuf(L, node, 0), lw_linear(L, &x->shape, xc));
	ld->a = dyn;
	ld->fill = 0;
	return ld;
}

/* --- slice, expand, trilu ----------------------------------------------------- */

static Kx *slice_at(Lower *L, int node, const Aff *coord)
{
	const Value *x = lw_in(L, node, 0);
	int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], count[IR_MAX_RANK];
	if (ir_slice_plan(&L->g->node[node], &x->shape, start, step, count) < 0) {
		lw_err(L, node, "the sliced dims are not static");
		return NULL;
	}
	Aff xc[IR_MAX_RANK];
	memset(xc, 0, sizeof xc);
	for (int i = 0; i < x->shape.rank; i++) {
		xc[i].c = lw_add(L, start[i], lw_mul(L, step[i], coord[i].c));
		for (int v = 0; v < KV_MAX; v++)
			xc[i].k[v] = lw_mul(L, step[i], coord[i].k[v]);
	}
	return lw_value_at(L, L->g->node[node].in[0], xc);
}

int lw_slice(Lower *L, int node)
{
	return lw_pointwise(L, node, slice_at);
}

/* A transpose inlined into its reader (passes/fuse.c: one that moves
 * long runs of its last axes): output coordinate i is the input's along
 * perm[i]. */
static Kx *transpose_at(Lower *L, int node, const Aff *coord)
{
	int64_t perm[IR_MAX_RANK];
	if (lw_transpose_perm(L, node, perm) < 0)
		return NULL;
	Aff xc[IR_MAX_RANK];
	for (int i = 0; i < lw_in(L, node, 0)->shape.rank; i++)
		xc[perm[i]] = coord[i];
	return lw_value_at(L, L->g->node[node].in[0], xc);
}

static Kx *expand_at(Lower *L, int node, const Aff *coord)
{
	Aff xc[IR_MAX_RANK];
	lw_bcast_coord(&lw_in(L, node, 0)->shape, lw_out(L, node)->shape.rank, coord, xc);
	return lw_value_at(L, L->g->node[node].in[0], xc);
}

int lw_expand(Lower *L, int node)
{
	return lw_pointwise(L, node, expand_at);
}

static Kx *trilu_at(Lower *L, int node, const Aff *coord)
{
	const Node *n = &L->g->node[node];
	int r = lw_out(L, node)->shape.rank;
	int64_t k = ir_attr_int(n, "k", 0);
	Aff band; /* j - i */
	memset(&band, 0, sizeof band);
	for (int v = 0; v < KV_MAX; v++)
		band.k[v] = coord[r - 1].k[v] - coord[r - 2].k[v];
	band.c = coord[r - 1].c - coord[r - 2].c;
	Kx *ld = dyn_load(L, node, coord, NULL);
	if (ir_attr_int(n, "upper", 1))
		kx_guard(L, ld, band, k, INT64_MAX);
	else
		kx_guard(L, ld, band, INT64_MIN, k < INT64_MAX ? k + 1 : INT64_MAX);
	return ld;
}

int lw_trilu(Lower *L, int node)
{
	return lw_pointwise(L, node, trilu_at);
}

/* --- gathers -------------------------------------------------------------------- */

/* y[pre, j..., post] = x[pre, ix[j...], post] */
static Kx *gather_at(Lower *L, int node, const Aff *coord)
{
	const Node *n = &L->g->node[node];
	const Value *x = lw_in(L, node, 0), *ix = lw_in(L, node, 1);
	int r = x->shape.rank, ri = ix->shape.rank, axis;
	if (lw_norm_axis(L, node, ir_attr_int(n, "axis", 0), r, &axis) < 0)
		return NULL;
	Aff xc[IR_MAX_RANK], ic[IR_MAX_RANK];
	memset(xc, 0, sizeof xc);
	memset(ic, 0, sizeof ic);
	for (int i = 0; i < axis; i++)
		xc[i] = coord[i];
	for (int i = 0; i < ri; i++)
		ic[i] = coord[axis + i];
	for (int i = axis + 1; i < r; i++)
		xc[i] = coord[i - 1 + ri];
	Kx *iv = lw_value_at(L, n->in[1], ic);
	if (!iv)
		return NULL;
	int64_t st[IR_MAX_RANK];
	lw_strides(&x->shape, st);
	Kx *k = kx_idx(L, iv, x->shape.d[axis].n, st[axis], NULL);
	k->op = const_in_range(L, node, 1, x->shape.d[axis].n);
	return dyn_load(L, node, xc, k);
}

int lw_gather_dyn(Lower *L, int node)
{
	return lw_pointwise(L, node, gather_at);
}

/* y[p] = x[p with p[axis] replaced by ix[p]] */
static Kx *gather_elements_at(Lower *L, int node, const Aff *coord)
{
	const Node *n = &L->g->node[node];
	const Value *x = lw_in(L, node, 0);
	int r = x->shape.rank, axis;
	if (lw_norm_axis(L, node, ir_attr_int(n, "axis", 0), r, &axis) < 0)
		return NULL;
	Kx *iv = lw_value_at(L, n->in[1], coord);
	if (!iv)
		return NULL;
	Aff xc[IR_MAX_RANK];
	memcpy(xc, coord, sizeof xc);
	memset(&xc[axis], 0, sizeof xc[axis]);
	int64_t st[IR_MAX_RANK];
	lw_strides(&x->shape, st);
	return dyn_load(L, node, xc, kx_idx(L, iv, x->shape.d[axis].n, st[axis], NULL));
}

int lw_gather_elements(Lower *L, int node)
{
	return lw_pointwise(L, node, gather_elements_at);
}

/* The run-time offset of the index tuple ix[m..., 0..k-1] into x's dims
 * b..b+k-1 (mc: coordinates of m..., rank ri - 1). */
static Kx *tuple_offset(Lower *L, int node, int ixv, const Aff *mc, int b)
{
	const Value *x = lw_in(L, node, 0), *ix = &L->g->val[ixv];
	int ri = ix->shape.rank;
	int64_t k = ix->shape.d[ri - 1].n, st[IR_MAX_RANK];
	lw_strides(&x->shape, st);
	Aff ic[IR_MAX_RANK];
	memcpy(ic, mc, sizeof ic);
	Kx *off = NULL;
	for (int64_t j = k - 1; j >= 0; j--) {
		memset(&ic[ri - 1], 0, sizeof ic[ri - 1]);
		ic[ri - 1].c = j;
		Kx *iv = lw_value_at(L, ixv, ic);
		if (!iv)
			return NULL;
		off = kx_idx(L, iv, x->shape.d[b + j].n, st[b + j], off);
	}
	return off;
}

/* y[m..., rest...] = x[m[:b]..., ix[m..., :]..., rest...] */
static Kx *gather_nd_at(Lower *L, int node, const Aff *coord)
{
	const Node *n = &L->g->node[node];
	const Value *x = lw_in(L, node, 0), *ix = lw_in(L, node, 1);
	int ri = ix->shape.rank, b = (int)ir_attr_int(n, "batch_dims", 0);
	int k = (int)ix->shape.d[ri - 1].n;
	Aff xc[IR_MAX_RANK], mc[IR_MAX_RANK];
	memset(xc, 0, sizeof xc);
	memset(mc, 0, sizeof mc);
	for (int i = 0; i < ri - 1; i++)
		mc[i] = coord[i];
	for (int i = 0; i < b; i++)
		xc[i] = coord[i];
	for (int i = b + k; i < x->shape.rank; i++)
		xc[i] = coord[ri - 1 + i - b - k];
	Kx *off = tuple_offset(L, node, n->in[1], mc, b);
	return off ? dyn_load(L, node, xc, off) : NULL;
}

int lw_gather_nd(Lower *L, int node)
{
	return lw_pointwise(L, node, gather_nd_at);
}

Kx *lw_idx_at(Lower *L, int node, const Aff *coord)
{
	switch (L->g->node[node].op) {
	case OP_SLICE: return slice_at(L, node, coord);
	case OP_EXPAND: return expand_at(L, node, coord);
	case OP_TRILU: return trilu_at(L, node, coord);
	case OP_GATHER: return gather_at(L, node, coord);
	case OP_GATHER_ELEMENTS: return gather_elements_at(L, node, coord);
	case OP_GATHER_ND: return gather_nd_at(L, node, coord);
	case OP_TRANSPOSE: return transpose_at(L, node, coord);
	case OP_PAD: return lw_pad_at(L, node, coord);
	default:
		lw_err(L, node, "internal error: not an indexing op");
		return NULL;
	}
}

/* --- scatters -------------------------------------------------------------------- */

static int red_op(const char *red)
{
	if (!strcmp(red, "add"))
		return KB_ADD;
	if (!strcmp(red, "mul"))
		return KB_MUL;
	if (!strcmp(red, "max"))
		return KB_MAX;
	if (!strcmp(red, "min"))
		return KB_MIN;
	return -1; /* none */
}

/* y = copy of x; then for each update point p, in order:
 * y[at(p)] = u[p] (or y[at(p)] op u[p] under a reduction). */
int lw_scatter(Lower *L, int node)
{
	const Node *n = &L->g->node[node];
	const Value *x = lw_in(L, node, 0), *ix = lw_in(L, node, 1), *u = lw_in(L, node, 2);
	const Value *y = lw_out(L, node);
	const Attr *ra = ir_attr(n, "reduction");
	int op = red_op(ra ? ra->s : "none");
	if (op >= 0 && !lw_is_arith(y->dtype))
		return lw_unsupported(L, node, y->dtype);
	int yb = lw_outbuf(L, node);
	if (lw_copy(L, node, lw_inbuf(L, node, 0), yb, x) < 0)
		return -1;
	if (ir_shape_numel(&u->shape) == 0)
		return 0;
	int r = x->shape.rank, ru = u->shape.rank, ri = ix->shape.rank;
	int64_t st[IR_MAX_RANK];
	lw_strides(&x->shape, st);
	Aff coord[IR_MAX_RANK], oi;
	lw_out_coord(ru, coord);
	memset(&oi, 0, sizeof oi);
	Kx *dyn;
	if (n->op == OP_SCATTER_ELEMENTS) {
		int axis;
		if (lw_norm_axis(L, node, ir_attr_int(n, "axis", 0), r, &axis) < 0)
			return -1;
		for (int i = 0; i < r; i++)
			if (i != axis && x->shape.d[i].n != 1)
				oi.k[i] = st[i];
		Kx *iv = lw_value_at(L, n->in[1], coord);
		if (!iv)
			return -1;
		dyn = kx_idx(L, iv, x->shape.d[axis].n, st[axis], NULL);
	} else {
		int k = (int)ix->shape.d[ri - 1].n;
		for (int j = k; j < r; j++)
			if (x->shape.d[j].n != 1)
				oi.k[ri - 1 + j - k] = st[j];
		if (!(dyn = tuple_offset(L, node, n->in[1], coord, 0)))
			return -1;
	}
	Kx *v = lw_value_at(L, n->in[2], coord);
	if (!v)
		return -1;
	if (op >= 0) {
		Kx *old = kx_load(L, y->dtype, yb, oi);
		old->a = dyn;
		v = kx_bin(L, (KbOp)op, old, v);
	}
	Kernel *k = lw_loop(L, node, &u->shape, yb);
	k->name = arena_printf(&L->kl->arena, "%s (updates)", k->name);
	k->out_idx = oi;
	k->out_dyn = dyn;
	k->body = v;
	return 0;
}
