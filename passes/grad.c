/* grad.c — the builders gradient rules write with: each appends one
 * forward-IR node after everything else (so topological order holds),
 * names it after the forward node ("grad/NAME"), infers its output's
 * dtype and shape at once, and returns the output value. A failure (a shape
 * rule rejecting what a rule built: an internal error or an input the rule
 * did not foresee) sets GradCtx.fail and keeps the message. */
#include "grad.h"

#include <stdlib.h>
#include <string.h>

const Value *gr_val(const GradCtx *c, int v) { return &c->g->val[v]; }
const Node *gr_node(const GradCtx *c) { return &c->g->node[c->node]; }

int gr_begin(GradCtx *c, Op op, const int *in, int nin)
{
	const Node *f = gr_node(c);
	const char *base = f->name && *f->name ? f->name : ir_ops[f->op].name;
	char name[256];
	snprintf(name, sizeof name, "grad/%s", base);
	int n = ir_add_node(c->g, op, name, in, nin, 1, NULL);
	return n;
}

int gr_end(GradCtx *c, int n, int in0)
{
	if (c->fail)
		return in0;
	if (ir_infer_node(c->g, n, c->d) < 0) {
		c->fail = 1;
		c->g->node[n].dead = true;
		return in0;
	}
	return ir_out(c->g, n, 0);
}

int gr_op(GradCtx *c, Op op, const int *in, int nin)
{
	if (c->fail)
		return in[0];
	return gr_end(c, gr_begin(c, op, in, nin), in[0]);
}

int gr_un(GradCtx *c, Op op, int a) { return gr_op(c, op, (int[]){a}, 1); }
int gr_bin(GradCtx *c, Op op, int a, int b) { return gr_op(c, op, (int[]){a, b}, 2); }

int gr_full(GradCtx *c, DType t, const Shape *s, double v)
{
	int64_t n = ir_shape_numel(s);
	NN_ASSERT(n >= 0);
	size_t sz = ir_dtype_size(t);
	char *buf = xmalloc((size_t)n * sz + 1);
	for (int64_t i = 0; i < n; i++)
		ir_elem_put(t, buf + (size_t)i * sz, v);
	char name[64];
	snprintf(name, sizeof name, "grad.c%g", v);
	int k = ir_add_const(c->g, name, t, *s, buf, (size_t)n * sz, false);
	free(buf);
	return k;
}

int gr_scalar(GradCtx *c, DType t, double v)
{
	Shape s = ir_shape_make(0, NULL);
	return gr_full(c, t, &s, v);
}

int gr_reduce(GradCtx *c, Op op, int x, const int64_t *axes, int naxes, int keep)
{
	if (c->fail)
		return x;
	int n = gr_begin(c, op, (int[]){x}, 1);
	ir_set_ints(c->g, n, "axes", axes, naxes);
	ir_set_int(c->g, n, "keepdims", keep);
	return gr_end(c, n, x);
}

int gr_reshape(GradCtx *c, int x, const Shape *s)
{
	if (c->fail)
		return x;
	if (ir_shape_eq(&gr_val(c, x)->shape, s))
		return x;
	int64_t d[IR_MAX_RANK];
	for (int i = 0; i < s->rank; i++)
		d[i] = s->d[i].n;
	int n = gr_begin(c, OP_RESHAPE, (int[]){x}, 1);
	ir_set_ints(c->g, n, "shape", d, s->rank);
	return gr_end(c, n, x);
}

int gr_transpose(GradCtx *c, int x, const int64_t *perm, int np)
{
	if (c->fail)
		return x;
	int n = gr_begin(c, OP_TRANSPOSE, (int[]){x}, 1);
	ir_set_ints(c->g, n, "perm", perm, np);
	return gr_end(c, n, x);
}

int gr_cast(GradCtx *c, int x, DType t)
{
	if (c->fail || gr_val(c, x)->dtype == t)
		return x;
	int n = gr_begin(c, OP_CAST, (int[]){x}, 1);
	ir_set_string(c->g, n, "to", ir_dtype_name(t));
	return gr_end(c, n, x);
}

int gr_where(GradCtx *c, int cond, int a, int b)
{
	return gr_op(c, OP_WHERE, (int[]){cond, a, b}, 3);
}

int gr_keep(GradCtx *c, int cond, int g)
{
	return gr_where(c, cond, g, gr_scalar(c, gr_val(c, g)->dtype, 0));
}

int gr_pos(GradCtx *c, int x)
{
	return gr_bin(c, OP_GREATER, x, gr_scalar(c, gr_val(c, x)->dtype, 0));
}

int gr_eq(GradCtx *c, int a, int b)
{
	DType t = gr_val(c, a)->dtype;
	return gr_where(c, gr_bin(c, OP_EQUAL, a, b), gr_scalar(c, t, 1), gr_scalar(c, t, 0));
}

int gr_unbroadcast(GradCtx *c, int g, const Shape *s)
{
	if (c->fail)
		return g;
	Shape gs = gr_val(c, g)->shape;
	NN_ASSERT(gs.rank >= s->rank);
	int lead = gs.rank - s->rank;
	int64_t ax[IR_MAX_RANK];
	int na = 0;
	for (int i = 0; i < s->rank; i++)
		if (s->d[i].n == 1 && gs.d[lead + i].n != 1)
			ax[na++] = lead + i;
	if (na)
		g = gr_reduce(c, OP_REDUCE_SUM, g, ax, na, 1);
	if (lead) {
		for (int i = 0; i < lead; i++)
			ax[i] = i;
		g = gr_reduce(c, OP_REDUCE_SUM, g, ax, lead, 0);
	}
	return g;
}

int gr_broadcast_to(GradCtx *c, int g, const Shape *s)
{
	if (c->fail)
		return g;
	if (ir_shape_eq(&gr_val(c, g)->shape, s))
		return g;
	int64_t d[IR_MAX_RANK];
	for (int i = 0; i < s->rank; i++)
		d[i] = s->d[i].n;
	int n = gr_begin(c, OP_EXPAND, (int[]){g}, 1);
	ir_set_ints(c->g, n, "shape", d, s->rank);
	return gr_end(c, n, g);
}

int gr_slice(GradCtx *c, int x, int axis, int64_t lo, int64_t hi)
{
	if (c->fail)
		return x;
	const Value *v = gr_val(c, x);
	if (lo == 0 && hi == v->shape.d[axis].n)
		return x;
	NN_ASSERT(hi > lo);
	int64_t m = hi - lo;
	int64_t *ix = xmalloc((size_t)m * sizeof *ix);
	for (int64_t i = 0; i < m; i++)
		ix[i] = lo + i;
	Shape s = ir_shape_make(1, &m);
	int k = ir_add_const(c->g, "grad.idx", DT_I64, s, ix, (size_t)m * sizeof *ix, false);
	free(ix);
	int n = gr_begin(c, OP_GATHER, (int[]){x, k}, 2);
	ir_set_int(c->g, n, "axis", axis);
	return gr_end(c, n, x);
}

/* pad op with pads[2 * rank] (ONNX order), fill value */
int gr_padded(GradCtx *c, int x, const int64_t *pads, double value)
{
	if (c->fail)
		return x;
	int r = gr_val(c, x)->shape.rank;
	bool any = false;
	for (int i = 0; i < 2 * r; i++)
		any |= pads[i] != 0;
	if (!any)
		return x;
	int n = gr_begin(c, OP_PAD, (int[]){x}, 1);
	ir_set_ints(c->g, n, "pads", pads, 2 * r);
	if (value != 0)
		ir_set_float(c->g, n, "value", value);
	return gr_end(c, n, x);
}

/* Along `axis`: element o of x moves to position o * s + off of a result
 * of length len (zeros elsewhere; what falls outside is dropped). A
 * stride s > 1 is a reshape to [.., d, 1, ..], a pad of that unit dim to s
 * (the offset modulo s before, the rest after) and a reshape back; the
 * remaining whole-step shift and the length are pads or slices. */
int gr_place(GradCtx *c, int x, int axis, int64_t s, int64_t off, int64_t len)
{
	if (c->fail)
		return x;
	Shape sh = gr_val(c, x)->shape;
	int r = sh.rank;
	int64_t d = sh.d[axis].n;
	int64_t pads[2 * IR_MAX_RANK + 2] = {0};
	int64_t inner = s > 1 ? ((off % s) + s) % s : 0;
	if (s > 1) {
		Shape t = sh;
		for (int i = r; i > axis + 1; i--)
			t.d[i] = t.d[i - 1];
		t.d[axis + 1] = (Dim){1, 0};
		t.rank = r + 1;
		x = gr_reshape(c, x, &t);
		pads[axis + 1] = inner;
		pads[t.rank + axis + 1] = s - 1 - inner;
		x = gr_padded(c, x, pads, 0);
		pads[axis + 1] = pads[t.rank + axis + 1] = 0;
		sh.d[axis].n = d * s;
		x = gr_reshape(c, x, &sh);
	}
	int64_t cur = d * s, shift = off - inner; /* element o now at o * s + inner */
	if (shift < 0) {
		if (-shift >= cur) { /* nothing lands inside */
			sh.d[axis].n = len;
			return gr_full(c, gr_val(c, x)->dtype, &sh, 0);
		}
		x = gr_slice(c, x, axis, -shift, cur < len - shift ? cur : len - shift);
		cur = (cur < len - shift ? cur : len - shift) + shift;
	} else {
		int64_t keep = cur < len - shift ? cur : len - shift; /* what fits after the shift */
		if (keep <= 0) {
			sh.d[axis].n = len;
			return gr_full(c, gr_val(c, x)->dtype, &sh, 0);
		}
		if (keep < cur)
			x = gr_slice(c, x, axis, 0, keep);
		cur = keep;
		if (shift > 0) {
			pads[axis] = shift;
			x = gr_padded(c, x, pads, 0);
			pads[axis] = 0;
			cur += shift;
		}
	}
	if (cur < len) {
		pads[r + axis] = len - cur;
		x = gr_padded(c, x, pads, 0);
	}
	return x;
}
