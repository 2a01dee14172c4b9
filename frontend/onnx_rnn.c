/* onnx_rnn.c — import of ONNX RNN, GRU and LSTM (opsets 7-22) as an
 * expansion into existing primitives, unrolled over the static sequence
 * length, so fusion and (later) autodiff see plain ops:
 *   X[t]      gather(X, t) along the time axis (0, or 1 with layout=1);
 *   weights   per direction and gate, gather(W, d) then gather of the
 *             gate's H rows (a contiguous index range); constant weights
 *             fold away at -O1;
 *   gates     matmul(X, W_g, trans_b) for every step at once, then per step
 *             + matmul(H, R_g, trans_b) + bias, clip, activation;
 *   outputs   Y by unsqueeze + concat over directions and steps; Y_h and
 *             Y_c the last state of each direction.
 * sequence_lens (a constant or an input) becomes per-step masks
 * m_t = clip(float(lens) - t, 0, 1) of shape [batch, 1]: past its length a
 * sequence keeps its state and outputs zeros. Walking a reverse direction
 * from the last step down, the masks keep the initial state until t <
 * len, so both directions follow ONNX. Activations: Sigmoid, Tanh, Relu,
 * LeakyRelu, HardSigmoid, Affine, ScaledTanh, Elu (with activation_alpha/
 * beta), Softsign, Softplus; ThresholdedRelu is reported unsupported. */
#include "onnx_impl.h"

#include <stdlib.h>
#include <string.h>

enum { GATES_MAX = 4, ACT_MAX = 6, STEPS_MAX = 4096 };
enum { ZERO = -2 }; /* a state that is still all zeros (no initial_h/initial_c) */

typedef enum Cell { CELL_RNN, CELL_GRU, CELL_LSTM } Cell;

/* One activation function with its parameters. */
typedef struct Act {
	const char *name; /* ONNX spelling */
	double alpha;     /* activation_alpha, or the default */
	double beta;      /* activation_beta, or the default */
} Act;

/* What the expansion of one node needs. */
typedef struct Rnn {
	Importer *m;
	Cell cell;
	DType t;            /* float dtype of X */
	int64_t seq, in, hid; /* extents (the batch may be symbolic) */
	int ndir;           /* 1 or 2 */
	bool reverse;       /* direction "reverse" (with ndir 1) */
	int layout;         /* 0: [seq, batch, ...]; 1: [batch, seq, ...] */
	int ngate;          /* 1, 3 or 4 */
	Act act[ACT_MAX];   /* f, g, h per direction */
	double clip;        /* > 0: clip pre-activations to [-clip, clip] */
	bool linear_before_reset; /* GRU */
	bool input_forget;  /* LSTM: f = 1 - i */
	int *mask;          /* per step: [batch, 1] mask value, or NULL when no masks */
} Rnn;

static bool has_in(const Importer *m, int k) { return k < m->nin && m->in[k] >= 0; }

/* A fresh intermediate node over in[0..nin-1]; its value, or -1 (also when
 * an input is -1: an error already reported). */
static int nd(Importer *m, Op op, const int *in, int nin)
{
	for (int i = 0; i < nin; i++)
		if (in[i] < 0)
			return -1;
	return imp_infer(m, imp_node(m, op, in, nin, -1));
}
static int bin(Importer *m, Op op, int a, int b) { return nd(m, op, (int[]){a, b}, 2); }

static int scalar(Rnn *r, const char *what, double v) { return imp_scalar(r->m, what, r->t, v); }

/* gather(x, index) along axis: a scalar index drops the axis. */
static int take(Importer *m, int x, int64_t index, int axis)
{
	int i = imp_const(m, "index", DT_I64, ir_shape_make(0, NULL), &index, sizeof index);
	int n = imp_node(m, OP_GATHER, (int[]){x, i}, 2, -1);
	ir_set_int(m->g, n, "axis", axis);
	return imp_infer(m, n);
}

/* Rows [lo, lo + n) of x along axis 0 (a gather of a contiguous range). */
static int rows(Importer *m, int x, int64_t lo, int64_t n)
{
	int64_t *idx = xmalloc((size_t)n * sizeof *idx);
	for (int64_t i = 0; i < n; i++)
		idx[i] = lo + i;
	int c = imp_const(m, "rows", DT_I64, ir_shape_make(1, &n), idx, (size_t)n * sizeof *idx);
	free(idx);
	return imp_infer(m, imp_node(m, OP_GATHER, (int[]){x, c}, 2, -1));
}

static int unsq(Importer *m, int x, int axis, int slot)
{
	int64_t a = axis;
	int n = imp_node(m, OP_UNSQUEEZE, &x, 1, slot);
	ir_set_ints(m->g, n, "axes", &a, 1);
	return imp_infer(m, n);
}

static int concat(Importer *m, const int *in, int n, int axis, int slot)
{
	int k = imp_node(m, OP_CONCAT, in, n, slot);
	ir_set_int(m->g, k, "axis", axis);
	return imp_infer(m, k);
}

/* The activation a applied to x, after the clip. */
static int activate(Rnn *r, const Act *a, int x)
{
	Importer *m = r->m;
	if (r->clip > 0) {
		int c = imp_node(m, OP_CLIP, &x, 1, -1);
		ir_set_float(m->g, c, "min", -r->clip);
		ir_set_float(m->g, c, "max", r->clip);
		if ((x = imp_infer(m, c)) < 0)
			return -1;
	}
	if (strcmp(a->name, "Sigmoid") == 0)
		return nd(m, OP_SIGMOID, &x, 1);
	if (strcmp(a->name, "Tanh") == 0)
		return nd(m, OP_TANH, &x, 1);
	if (strcmp(a->name, "Relu") == 0)
		return nd(m, OP_RELU, &x, 1);
	if (strcmp(a->name, "LeakyRelu") == 0) {
		int n = imp_node(m, OP_LEAKYRELU, &x, 1, -1);
		ir_set_float(m->g, n, "alpha", a->alpha);
		return imp_infer(m, n);
	}
	if (strcmp(a->name, "Affine") == 0 || strcmp(a->name, "HardSigmoid") == 0) {
		int y = bin(m, OP_ADD, bin(m, OP_MUL, x, scalar(r, "alpha", a->alpha)), scalar(r, "beta", a->beta));
		if (y < 0 || a->name[0] == 'A')
			return y;
		int n = imp_node(m, OP_CLIP, &y, 1, -1);
		ir_set_float(m->g, n, "min", 0);
		ir_set_float(m->g, n, "max", 1);
		return imp_infer(m, n);
	}
	if (strcmp(a->name, "ScaledTanh") == 0) {
		int y = nd(m, OP_TANH, (int[]){bin(m, OP_MUL, x, scalar(r, "beta", a->beta))}, 1);
		return bin(m, OP_MUL, y, scalar(r, "alpha", a->alpha));
	}
	if (strcmp(a->name, "Softsign") == 0) /* x / (1 + |x|) */
		return bin(m, OP_DIV, x, bin(m, OP_ADD, nd(m, OP_ABS, &x, 1), scalar(r, "one", 1)));
	if (strcmp(a->name, "Softplus") == 0) { /* relu(x) + log(1 + exp(-|x|)), never overflows */
		int e = nd(m, OP_EXP, (int[]){nd(m, OP_NEG, (int[]){nd(m, OP_ABS, &x, 1)}, 1)}, 1);
		int l = nd(m, OP_LOG, (int[]){bin(m, OP_ADD, e, scalar(r, "one", 1))}, 1);
		return bin(m, OP_ADD, nd(m, OP_RELU, &x, 1), l);
	}
	if (strcmp(a->name, "Elu") == 0) { /* relu(x) + alpha * (exp(-relu(-x)) - 1) */
		int neg = nd(m, OP_NEG, (int[]){nd(m, OP_RELU, (int[]){nd(m, OP_NEG, &x, 1)}, 1)}, 1);
		int e = bin(m, OP_SUB, nd(m, OP_EXP, &neg, 1), scalar(r, "one", 1));
		return bin(m, OP_ADD, nd(m, OP_RELU, &x, 1), bin(m, OP_MUL, e, scalar(r, "alpha", a->alpha)));
	}
	return imp_err(m, "activation %s is unsupported", a->name);
}

/* Reads activations/activation_alpha/activation_beta (3 per direction for
 * LSTM, 2 for GRU, 1 for RNN). */
static int read_acts(Rnn *r)
{
	Importer *m = r->m;
	static const char *const dflt[3][3] = {
		{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
	int per = r->cell == CELL_RNN ? 1 : r->cell == CELL_GRU ? 2 : 3, want = per * r->ndir;
	const Onnx__AttributeProto *as = imp_attr(m, "activations");
	const Onnx__AttributeProto *al = imp_attr(m, "activation_alpha");
	const Onnx__AttributeProto *ab = imp_attr(m, "activation_beta");
	if (as && (int)as->n_strings != want)
		return imp_err(m, "activations has %zu names; expected %d", as->n_strings, want);
	int ia = 0, ib = 0;
	for (int i = 0; i < want; i++) {
		Act *a = &r->act[i];
		if (as) {
			ProtobufCBinaryData s = as->strings[i];
			char *name = arena_alloc(&m->arena, s.len + 1);
			memcpy(name, s.data, s.len);
			name[s.len] = 0;
			a->name = name;
		} else {
			a->name = dflt[r->cell][i % per];
		}
		/* ONNX's defaults: LeakyRelu 0.01, HardSigmoid 0.2/0.5, Elu 1, Affine 1/0,
		 * ScaledTanh 1/1; alpha and beta are consumed, in order, by the
		 * activations that take them */
		bool hs = strcmp(a->name, "HardSigmoid") == 0;
		bool lr = strcmp(a->name, "LeakyRelu") == 0 || strcmp(a->name, "Elu") == 0;
		bool ab2 = hs || strcmp(a->name, "Affine") == 0 || strcmp(a->name, "ScaledTanh") == 0;
		a->alpha = hs ? 0.2 : lr ? 0.01 : 1;
		a->beta = hs ? 0.5 : strcmp(a->name, "ScaledTanh") == 0 ? 1 : 0;
		if ((lr || ab2) && al && (size_t)ia < al->n_floats)
			a->alpha = al->floats[ia++];
		if (ab2 && ab && (size_t)ib < ab->n_floats)
			a->beta = ab->floats[ib++];
	}
	return 0;
}

/* The masks m_t = clip(float(lens) - t, 0, 1) as [batch, 1], unless the
 * lengths are a constant equal to seq everywhere. */
static int make_masks(Rnn *r, int lens)
{
	Importer *m = r->m;
	const Value *lv = &m->g->val[lens];
	if (lv->dtype != DT_I32 && lv->dtype != DT_I64)
		return imp_err(m, "sequence_lens must be int32 or int64, not %s", ir_dtype_name(lv->dtype));
	if (lv->kind == VK_CONST && lv->data) {
		bool full = true;
		size_t es = ir_dtype_size(lv->dtype);
		for (int64_t b = 0; b < ir_shape_numel(&lv->shape); b++) {
			double v = ir_elem_get(lv->dtype, (const unsigned char *)lv->data + (size_t)b * es);
			if (v < 0 || v > (double)r->seq)
				return imp_err(m, "sequence_lens value %g is outside [0, %lld]", v, (long long)r->seq);
			full = full && v == (double)r->seq;
		}
		if (full)
			return 0;
	}
	int c = imp_node(m, OP_CAST, &lens, 1, -1);
	ir_set_string(m->g, c, "to", ir_dtype_name(r->t));
	int lf = unsq(m, imp_infer(m, c), 1, -1);
	if (lf < 0)
		return -1;
	r->mask = arena_alloc(&m->arena, (size_t)r->seq * sizeof *r->mask);
	for (int64_t t = 0; t < r->seq; t++) {
		int d = t ? bin(m, OP_SUB, lf, scalar(r, "t", (double)t)) : lf;
		int k = imp_node(m, OP_CLIP, &d, 1, -1);
		ir_set_float(m->g, k, "min", 0);
		ir_set_float(m->g, k, "max", 1);
		if (d < 0 || (r->mask[t] = imp_infer(m, k)) < 0)
			return -1;
	}
	return 0;
}

/* prev + mask * (next - prev): the state where the step is masked off
 * (mask * next while prev is ZERO). */
static int keep(Rnn *r, int t, int prev, int next)
{
	if (!r->mask)
		return next;
	Importer *m = r->m;
	if (prev == ZERO)
		return bin(m, OP_MUL, r->mask[t], next);
	return bin(m, OP_ADD, prev, bin(m, OP_MUL, r->mask[t], bin(m, OP_SUB, next, prev)));
}

/* Per direction: gate g's input projection of every step
 * xw[g] = X W_g^T (+ Wb_g + Rb_g, or only Wb_g for GRU's linear-before-
 * reset h gate), R_g, the recurrent bias Rb_h kept apart for that gate,
 * and the peepholes. */
typedef struct Dir {
	int xw[GATES_MAX];  /* [seq, batch, H] (layout 0) or [batch, seq, H] */
	int rw[GATES_MAX];  /* R_g [H, H] */
	int rbh;            /* GRU linear_before_reset: Rb_h [H], else -1 */
	int p[3];           /* LSTM peepholes i, o, f [H], -1 if none */
} Dir;

static int prepare_dir(Rnn *r, int d, Dir *dr)
{
	Importer *m = r->m;
	int64_t H = r->hid;
	int w = take(m, m->in[1], d, 0), rr = take(m, m->in[2], d, 0);
	int b = has_in(m, 3) ? take(m, m->in[3], d, 0) : -1;
	if (w < 0 || rr < 0 || (has_in(m, 3) && b < 0))
		return -1;
	dr->rbh = -1;
	for (int g = 0; g < r->ngate; g++) {
		int wg = rows(m, w, g * H, H);
		if ((dr->rw[g] = rows(m, rr, g * H, H)) < 0 || wg < 0)
			return -1;
		int k = imp_node(m, OP_MATMUL, (int[]){m->in[0], wg}, 2, -1);
		ir_set_int(m->g, k, "trans_b", 1);
		int xw = imp_infer(m, k);
		if (xw < 0)
			return -1;
		if (b >= 0) {
			int wb = rows(m, b, g * H, H), rb = rows(m, b, (r->ngate + g) * H, H);
			if (wb < 0 || rb < 0)
				return -1;
			if (r->cell == CELL_GRU && g == 2 && r->linear_before_reset)
				dr->rbh = rb;
			else if ((wb = bin(m, OP_ADD, wb, rb)) < 0)
				return -1;
			if ((xw = bin(m, OP_ADD, xw, wb)) < 0)
				return -1;
		}
		dr->xw[g] = xw;
	}
	for (int i = 0; i < 3; i++)
		dr->p[i] = -1;
	if (r->cell == CELL_LSTM && has_in(m, 7)) {
		int p = take(m, m->in[7], d, 0);
		for (int i = 0; i < 3; i++)
			if (p < 0 || (dr->p[i] = rows(m, p, i * H, H)) < 0)
				return -1;
	}
	return 0;
}

/* h @ R^T */
static int hmul(Importer *m, int h, int rw)
{
	if (h < 0)
		return -1;
	int k = imp_node(m, OP_MATMUL, (int[]){h, rw}, 2, -1);
	ir_set_int(m->g, k, "trans_b", 1);
	return imp_infer(m, k);
}

/* pre + h @ R^T; just pre while the state h is still zero (h == ZERO). */
static int addrec(Importer *m, int pre, int h, int rw)
{
	if (h == ZERO)
		return pre;
	int p = hmul(m, h, rw);
	return p < 0 || pre < 0 ? -1 : bin(m, OP_ADD, pre, p);
}

/* The initial state of direction d from input k ([dirs, batch, H], or
 * [batch, dirs, H] with layout 1), or ZERO: zeros are never materialized
 * (the first step skips the terms they would zero), so the batch may stay
 * symbolic. */
static int initial(Rnn *r, int k, int d)
{
	Importer *m = r->m;
	if (has_in(m, k))
		return take(m, m->in[k], d, r->layout ? 1 : 0);
	return ZERO;
}

/* Runs direction d over every step; ys[t] gets the output of step t
 * ([batch, H]); *hlast and *clast the final states. */
static int run_dir(Rnn *r, int d, int *ys, int *hlast, int *clast)
{
	Importer *m = r->m;
	Dir dr;
	if (prepare_dir(r, d, &dr) < 0)
		return -1;
	const Act *f = &r->act[d * (r->cell == CELL_RNN ? 1 : r->cell == CELL_GRU ? 2 : 3)];
	int h = initial(r, 5, d), c = r->cell == CELL_LSTM ? initial(r, 6, d) : ZERO;
	if (h == -1 || c == -1)
		return -1;
	bool back = r->reverse || d == 1;
	for (int64_t s = 0; s < r->seq; s++) {
		int64_t t = back ? r->seq - 1 - s : s;
		int pre[GATES_MAX], hn, cn = -1;
		for (int g = 0; g < r->ngate; g++) {
			int xt = take(m, dr.xw[g], t, r->layout ? 1 : 0);
			if (xt < 0)
				return -1;
			pre[g] = xt;
		}
		if (r->cell == CELL_RNN) {
			if ((hn = activate(r, &f[0], addrec(m, pre[0], h, dr.rw[0]))) < 0)
				return -1;
		} else if (r->cell == CELL_GRU) { /* gates z, r, h */
			int z = activate(r, &f[0], addrec(m, pre[0], h, dr.rw[0]));
			int rg = activate(r, &f[0], addrec(m, pre[1], h, dr.rw[1]));
			if (z < 0 || rg < 0)
				return -1;
			int a = pre[2];
			if (r->linear_before_reset) { /* + rg * (h R_h^T + Rb_h) */
				int rec = h == ZERO ? -1 : hmul(m, h, dr.rw[2]);
				if (dr.rbh >= 0)
					rec = rec < 0 ? dr.rbh : bin(m, OP_ADD, rec, dr.rbh);
				if (rec >= 0)
					a = bin(m, OP_ADD, a, bin(m, OP_MUL, rg, rec));
			} else if (h != ZERO) { /* + (rg * h) R_h^T */
				a = addrec(m, a, bin(m, OP_MUL, rg, h), dr.rw[2]);
			}
			int hh = activate(r, &f[1], a);
			/* (1 - z) * hh + z * h = hh + z * (h - hh); hh - z * hh from zeros */
			if (hh < 0 || (hn = h == ZERO ? bin(m, OP_SUB, hh, bin(m, OP_MUL, z, hh))
			                              : bin(m, OP_ADD, hh, bin(m, OP_MUL, z, bin(m, OP_SUB, h, hh)))) < 0)
				return -1;
		} else { /* gates i, o, f, c */
			int a[4];
			for (int g = 0; g < 4; g++)
				if ((a[g] = addrec(m, pre[g], h, dr.rw[g])) < 0)
					return -1;
			if (dr.p[0] >= 0 && c != ZERO)
				a[0] = bin(m, OP_ADD, a[0], bin(m, OP_MUL, dr.p[0], c));
			int ig = activate(r, &f[0], a[0]), fg;
			if (r->input_forget) {
				fg = bin(m, OP_SUB, scalar(r, "one", 1), ig);
			} else {
				if (dr.p[2] >= 0 && c != ZERO)
					a[2] = bin(m, OP_ADD, a[2], bin(m, OP_MUL, dr.p[2], c));
				fg = activate(r, &f[0], a[2]);
			}
			int cg = activate(r, &f[1], a[3]);
			if (ig < 0 || fg < 0 || cg < 0)
				return -1;
			cn = bin(m, OP_MUL, ig, cg);
			if (c != ZERO)
				cn = bin(m, OP_ADD, bin(m, OP_MUL, fg, c), cn);
			if (cn < 0)
				return -1;
			if (dr.p[1] >= 0)
				a[1] = bin(m, OP_ADD, a[1], bin(m, OP_MUL, dr.p[1], cn));
			int og = activate(r, &f[0], a[1]);
			int hc = activate(r, &f[2], cn);
			if (og < 0 || hc < 0 || (hn = bin(m, OP_MUL, og, hc)) < 0)
				return -1;
		}
		ys[t] = r->mask ? bin(m, OP_MUL, r->mask[t], hn) : hn;
		h = keep(r, (int)t, h, hn);
		if (cn >= 0)
			c = keep(r, (int)t, c, cn);
		if (ys[t] < 0 || h < 0 || c == -1)
			return -1;
	}
	*hlast = h;
	*clast = c;
	return 0;
}

/* RNN, GRU and LSTM; op is unused (the cell comes from the op_type). */
int onnx_rnn(Importer *m, Op op)
{
	(void)op;
	Rnn r;
	memset(&r, 0, sizeof r);
	r.m = m;
	const char *ot = m->np->op_type;
	r.cell = strcmp(ot, "LSTM") == 0 ? CELL_LSTM : strcmp(ot, "GRU") == 0 ? CELL_GRU : CELL_RNN;
	r.ngate = r.cell == CELL_LSTM ? 4 : r.cell == CELL_GRU ? 3 : 1;
	const Value *x = &m->g->val[m->in[0]], *w = &m->g->val[m->in[1]];
	r.t = x->dtype;
	if (r.t != DT_F32 && r.t != DT_F64)
		return imp_err(m, "only float32 and float64 are supported, not %s", ir_dtype_name(r.t));
	r.layout = (int)imp_int(m, "layout", 0);
	if (r.layout != 0 && r.layout != 1)
		return imp_err(m, "layout %d is invalid", r.layout);
	if (x->shape.rank != 3)
		return imp_err(m, "X must be 3-D");
	Dim sd = x->shape.d[r.layout ? 1 : 0], id = x->shape.d[2];
	if (sd.sym || sd.n < 0 || id.sym || id.n < 0)
		return imp_err(m, "the sequence length and input size of X must be known (the batch may be symbolic)");
	r.seq = sd.n;
	r.in = id.n;
	if (r.seq < 1 || r.seq > STEPS_MAX)
		return imp_err(m, "%lld steps; 1 to %d are supported (the expansion is unrolled)",
			(long long)r.seq, STEPS_MAX);
	const char *dir = imp_str(m, "direction", "forward");
	r.ndir = strcmp(dir, "bidirectional") == 0 ? 2 : 1;
	r.reverse = strcmp(dir, "reverse") == 0;
	if (r.ndir == 1 && !r.reverse && strcmp(dir, "forward") != 0)
		return imp_err(m, "unknown direction \"%s\"", dir);
	r.hid = imp_int(m, "hidden_size", -1);
	if (w->shape.rank != 3 || !ir_shape_static(&w->shape))
		return imp_err(m, "W must be 3-D with known dims");
	if (r.hid < 0)
		r.hid = w->shape.d[1].n / r.ngate;
	if (r.hid < 1 || w->shape.d[0].n != r.ndir || w->shape.d[1].n != r.ngate * r.hid ||
		w->shape.d[2].n != r.in)
		return imp_err(m, "W has the wrong shape for hidden_size %lld, %d direction(s)",
			(long long)r.hid, r.ndir);
	r.clip = imp_float(m, "clip", 0);
	if (imp_attr(m, "clip") && !(r.clip > 0))
		return imp_err(m, "clip must be positive");
	r.linear_before_reset = imp_int(m, "linear_before_reset", 0) != 0;
	r.input_forget = imp_int(m, "input_forget", 0) != 0;
	if (read_acts(&r) < 0)
		return -1;
	if (has_in(m, 4) && make_masks(&r, m->in[4]) < 0)
		return -1;
	/* X as [seq, batch, I] or [batch, seq, I] stays; steps are gathered */
	int *ys = arena_alloc(&m->arena, (size_t)(r.ndir * r.seq) * sizeof *ys);
	int hl[2], cl[2];
	for (int d = 0; d < r.ndir; d++)
		if (run_dir(&r, d, ys + d * r.seq, &hl[d], &cl[d]) < 0)
			return -1;
	/* Y: [seq, dirs, batch, H] or [batch, seq, dirs, H] */
	if (m->nout > 0 && m->np->output[0] && *m->np->output[0]) {
		int *steps = arena_alloc(&m->arena, (size_t)r.seq * sizeof *steps);
		for (int64_t t = 0; t < r.seq; t++) {
			int per[2];
			for (int d = 0; d < r.ndir; d++) /* [1, 1, batch, H] or [batch, 1, 1, H] */
				if ((per[d] = unsq(m, unsq(m, ys[d * r.seq + t], r.layout ? 1 : 0, -1), 1, -1)) < 0)
					return -1;
			steps[t] = r.ndir == 1 ? per[0] : concat(m, per, 2, r.layout ? 2 : 1, -1);
			if (steps[t] < 0)
				return -1;
		}
		if (concat(m, steps, (int)r.seq, r.layout ? 1 : 0, 0) < 0)
			return -1;
	}
	/* Y_h, Y_c: [dirs, batch, H] or [batch, dirs, H] */
	for (int k = 1; k <= 2; k++) {
		if (k >= m->nout || !m->np->output[k] || !*m->np->output[k])
			continue;
		if (k == 2 && r.cell != CELL_LSTM)
			return imp_err(m, "has no output 2");
		int per[2];
		for (int d = 0; d < r.ndir; d++)
			if ((per[d] = unsq(m, k == 1 ? hl[d] : cl[d], r.layout ? 1 : 0, r.ndir == 1 ? k : -1)) < 0)
				return -1;
		if (r.ndir == 2 && concat(m, per, 2, r.layout ? 1 : 0, k) < 0)
			return -1;
	}
	return 0;
}
