/* lower_ew.c — lowering of elementwise ops (numpy broadcasting) and of data
 * movement: pad, transpose, concat, and the flat copies that fill graph
 * outputs which cannot be written in place. Each makes KK_LOOP kernels
 * whose vars walk the output; broadcast operands load with stride 0.
 * Elementwise ops read operands through lw_value_at, so a fused producer
 * is inlined instead of loaded (lw_ew_at is the op at given coordinates). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "lower.h"

/* The unary op of a one-input elementwise op, or -1. */
static int unary_of(Op op)
{
	switch (op) {
	case OP_NEG: return KU_NEG;
	case OP_ABS: return KU_ABS;
	case OP_EXP: return KU_EXP;
	case OP_LOG: return KU_LOG;
	case OP_SQRT: return KU_SQRT;
	case OP_RELU: return KU_RELU;
	case OP_SIGMOID: return KU_SIGMOID;
	case OP_TANH: return KU_TANH;
	default: return -1;
	}
}

static int binary_of(Op op)
{
	switch (op) {
	case OP_ADD: return KB_ADD;
	case OP_SUB: return KB_SUB;
	case OP_MUL: return KB_MUL;
	case OP_DIV: return KB_DIV;
	case OP_POW: return KB_POW;
	default: return -1;
	}
}

/* Integer dtypes support the ops that stay exact in integers. */
static bool ew_supported(Op op, DType t)
{
	if (lw_is_float(t))
		return true;
	if (!ir_dtype_is_int(t))
		return false;
	return (binary_of(op) >= 0 && op != OP_POW) || op == OP_NEG || op == OP_ABS || op == OP_RELU || op == OP_CLIP;
}

/* Input k of node at the node's output coordinates, broadcast. */
static Kx *operand(Lower *L, int node, int k, const Aff *coord)
{
	Aff ic[IR_MAX_RANK];
	lw_bcast_coord(&lw_in(L, node, k)->shape, lw_out(L, node)->shape.rank, coord, ic);
	return lw_value_at(L, L->g->node[node].in[k], ic);
}

Kx *lw_ew_at(Lower *L, int node, const Aff *coord)
{
	const Node *n = &L->g->node[node];
	DType t = lw_out(L, node)->dtype;
	if (lw_ew2_handles(n->op))
		return lw_ew2_at(L, node, coord); /* lower_ew2.c */
	if (!ew_supported(n->op, t)) {
		lw_unsupported(L, node, t);
		return NULL;
	}
	Kx *a = operand(L, node, 0, coord);
	if (!a)
		return NULL;
	int u = unary_of(n->op), b = binary_of(n->op);
	if (b >= 0) {
		Kx *bx = operand(L, node, 1, coord);
		return bx ? kx_bin(L, (KbOp)b, a, bx) : NULL;
	}
	if (u >= 0)
		return kx_un(L, (KuOp)u, a);
	if (n->op == OP_LEAKYRELU) {
		/* max(x, 0) + alpha * min(x, 0) */
		double alpha = ir_attr_float(n, "alpha", 0.01);
		Kx *pos = kx_bin(L, KB_MAX, a, kx_const(L, t, 0));
		Kx *neg = kx_bin(L, KB_MIN, a, kx_const(L, t, 0));
		return kx_bin(L, KB_ADD, pos, kx_bin(L, KB_MUL, kx_const(L, t, alpha), neg));
	}
	if (n->op == OP_CLIP) {
		/* A NaN or unbounded side is no bound; integers round bounds inward. */
		double lo = ir_attr_float(n, "min", -INFINITY);
		double hi = ir_attr_float(n, "max", INFINITY);
		double tmin = -INFINITY, tmax = INFINITY;
		if (!lw_is_float(t)) {
			lo = ceil(lo), hi = floor(hi);
			lw_int_range(t, &tmin, &tmax);
		}
		Kx *body = a;
		if (!isnan(lo) && lo > tmin)
			body = kx_bin(L, KB_MAX, body, kx_const(L, t, lo < tmax ? lo : tmax));
		if (!isnan(hi) && hi < tmax)
			body = kx_bin(L, KB_MIN, body, kx_const(L, t, hi > tmin ? hi : tmin));
		return body;
	}
	lw_unsupported(L, node, t);
	return NULL;
}

/* One loop kernel over node's output whose body is at(node, output coords). */
int lw_pointwise(Lower *L, int node, Kx *(*at)(Lower *L, int node, const Aff *coord))
{
	const Value *y = lw_out(L, node);
	Aff coord[IR_MAX_RANK];
	lw_out_coord(y->shape.rank, coord);
	int ki = L->kl->nk;
	lw_loop(L, node, &y->shape, lw_outbuf(L, node)); /* before the body: inlined reductions add vars */
	Kx *body = at(L, node, coord);
	L->kl->k[ki].body = body;
	return body ? 0 : -1;
}

int lw_elemwise(Lower *L, int node)
{
	return lw_pointwise(L, node, lw_ew_at);
}

/* Flat copy of v's elements from buffer src to dst (node may be -1). */
int lw_copy(Lower *L, int node, int src, int dst, const Value *v)
{
	NN_ASSERT(src >= 0 && dst >= 0);
	int64_t numel = ir_shape_numel(&v->shape);
	Shape flat = ir_shape_make(1, &numel);
	Kernel *k = lw_loop(L, node, &flat, dst);
	k->name = arena_printf(&L->kl->arena, "copy %s", v->name);
	k->body = kx_load(L, v->dtype, src, lw_contig(&flat, 0));
	return 0;
}

/* y[o] = x[o - begin] where 0 <= o - begin < dim, else value. */
/* pad at output coordinates: the input's element at coord - begin, or
 * value where that leaves the input (a guarded load); the input is a
 * buffer, also where the pad is inlined into a reader (passes/fuse.c: a
 * move never inlines its own producer). */
Kx *lw_pad_at(Lower *L, int node, const Aff *coord)
{
	const Node *n = &L->g->node[node];
	const Value *x = lw_in(L, node, 0), *y = lw_out(L, node);
	int r = x->shape.rank;
	const int64_t *pads;
	if (ir_attr_ints(n, "pads", &pads) != 2 * r) {
		lw_err(L, node, "pads needs %d values (begins then ends)", 2 * r);
		return NULL;
	}
	if (y->dtype == DT_UNDEF) {
		lw_unsupported(L, node, y->dtype);
		return NULL;
	}
	Aff xc[IR_MAX_RANK];
	memcpy(xc, coord, (size_t)r * sizeof *xc);
	for (int i = 0; i < r; i++)
		xc[i].c = lw_add(L, xc[i].c, -pads[i]);
	Kx *ld = kx_load(L, y->dtype, lw_inbuf(L, node, 0), lw_linear(L, &x->shape, xc));
	ld->fill = ir_attr_float(n, "value", 0);
	for (int i = 0; i < r; i++)
		if (pads[i] > 0 || pads[r + i] > 0) /* else coord - begin always inside [0, dim) */
			kx_guard(L, ld, xc[i], 0, x->shape.d[i].n);
	return ld;
}

int lw_pad(Lower *L, int node)
{
	return lw_pointwise(L, node, lw_pad_at);
}

/* y[o_0..o_r-1] = x[...] with input dim perm[i] walked by output var i. */
int lw_transpose_perm(Lower *L, int node, int64_t *perm)
{
	const Node *n = &L->g->node[node];
	int r = lw_in(L, node, 0)->shape.rank;
	const int64_t *p;
	int np = ir_attr_ints(n, "perm", &p);
	if (np < 0) {
		for (int i = 0; i < r; i++)
			perm[i] = r - 1 - i;
	} else if (np != r) {
		return lw_err(L, node, "perm has %d values for rank %d", np, r);
	} else {
		memcpy(perm, p, (size_t)r * sizeof *perm);
	}
	bool seen[IR_MAX_RANK] = { 0 };
	for (int i = 0; i < r; i++) {
		if (perm[i] < 0 || perm[i] >= r || seen[perm[i]])
			return lw_err(L, node, "perm is not a permutation of 0..%d", r - 1);
		seen[perm[i]] = true;
	}
	return 0;
}

int lw_transpose(Lower *L, int node)
{
	const Value *x = lw_in(L, node, 0), *y = lw_out(L, node);
	int r = x->shape.rank;
	int64_t perm[IR_MAX_RANK];
	if (lw_transpose_perm(L, node, perm) < 0)
		return -1;
	int64_t st[IR_MAX_RANK];
	lw_strides(&x->shape, st);
	Aff idx;
	memset(&idx, 0, sizeof idx);
	for (int i = 0; i < r; i++)
		idx.k[i] = st[perm[i]];
	Kernel *k = lw_loop(L, node, &y->shape, lw_outbuf(L, node));
	k->body = kx_load(L, y->dtype, lw_inbuf(L, node, 0), idx);
	return 0;
}

/* Whether input j of concat `node`, whose slice of the output starts at
 * element `at`, can live in that slice (Buf.alias): its buffer is a
 * temporary holding a value (written by earlier kernels), not already an
 * alias or a parent, of the output's dtype and size, and the slice is
 * contiguous (every dim before the axis has extent 1). Then the producer
 * writes straight into the output and no copy kernel is needed. */
static bool concat_alias(Lower *L, int node, int j, int axis, int64_t at)
{
	const Value *y = lw_out(L, node), *x = lw_in(L, node, j);
	KernelList *kl = L->kl;
	int b = lw_inbuf(L, node, j), out = lw_outbuf(L, node);
	const Buf *bf = &kl->buf[b];
	for (int i = 0; i < axis; i++)
		if (y->shape.d[i].n != 1)
			return false;
	if (bf->kind != BUF_TEMP || bf->value < 0 || bf->alias >= 0 || b == out || bf->dtype != y->dtype ||
	    bf->numel != ir_shape_numel(&x->shape) || kl->buf[out].alias >= 0 ||
	    (kl->buf[out].kind != BUF_TEMP && kl->buf[out].kind != BUF_OUTPUT))
		return false;
	for (int i = 0; i < kl->nbuf; i++)
		if (kl->buf[i].alias == b)
			return false;
	int64_t off = lw_mul(L, at, (int64_t)ir_dtype_size(y->dtype));
	if (L->ovf || off + bf->nbytes > kl->buf[out].nbytes)
		return false;
	kl->buf[b].alias = out;
	kl->buf[b].alias_offset = off;
	return true;
}

/* One kernel per input: walks the input and stores at its offset along
 * axis; an input that can live in its slice of the output (concat_alias)
 * needs none. */
int lw_concat(Lower *L, int node)
{
	const Node *n = &L->g->node[node];
	const Value *y = lw_out(L, node);
	int r = y->shape.rank, axis;
	if (lw_norm_axis(L, node, ir_attr_int(n, "axis", 0), r, &axis) < 0)
		return -1;
	int64_t yst[IR_MAX_RANK];
	lw_strides(&y->shape, yst);
	int out = lw_outbuf(L, node);
	int64_t off = 0;
	for (int j = 0; j < n->nin; j++) {
		if (n->in[j] < 0)
			continue;
		const Value *x = lw_in(L, node, j);
		if (x->shape.rank != r)
			return lw_err(L, node, "input %d has rank %d, output %d", j, x->shape.rank, r);
		if (ir_shape_numel(&x->shape) > 0 && !concat_alias(L, node, j, axis, lw_mul(L, off, yst[axis]))) {
			Kernel *k = lw_loop(L, node, &x->shape, out);
			for (int i = 0; i < r; i++)
				k->out_idx.k[i] = yst[i];
			k->out_idx.c = lw_mul(L, off, yst[axis]);
			k->body = kx_load(L, y->dtype, lw_inbuf(L, node, j), lw_contig(&x->shape, 0));
		}
		off = lw_add(L, off, x->shape.d[axis].n);
	}
	if (off != y->shape.d[axis].n)
		return lw_err(L, node, "inputs add up to %lld along axis %d, output has %lld",
			      (long long)off, axis, (long long)y->shape.d[axis].n);
	return 0;
}
