/* eval.c — the reference interpreter's driver: ir_eval() runs a graph on
 * concrete inputs, ir_eval_node() runs one node (constant folding uses it).
 *
 * This file defines what every op means, together with eval_math.c,
 * eval_nn.c and eval_move.c. Output shapes come from the same shape rules
 * the compiler uses (ir_infer_shapes), run on the concrete input shapes.
 * Float math is done in float64 and each op's result is rounded to its
 * dtype; f16/bf16 go through float64 with round-to-nearest-even. Integer
 * math (i32/i64) is done in int64 and wraps to the dtype. Data movement
 * copies bytes and so works for every dtype. */
#include "eval.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ev_fail(const Ev *e, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ir_node_err(e->g, e->node, e->d, "%s", msg);
}

bool ev_is_int(DType t) { return ir_dtype_is_int(t); }

int64_t ev_int_get(DType t, const void *vp)
{
	const unsigned char *p = vp;
	if (ir_dtype_is_exotic(t))
		return ir_small_dec(t, *p);
	switch (t) {
	case DT_I8: return (int8_t)p[0];
	case DT_U8: case DT_BOOL: return p[0];
	case DT_I16: { int16_t x; memcpy(&x, p, 2); return x; }
	case DT_U16: { uint16_t x; memcpy(&x, p, 2); return x; }
	case DT_I32: { int32_t x; memcpy(&x, p, 4); return x; }
	case DT_U32: { uint32_t x; memcpy(&x, p, 4); return x; }
	default: { int64_t x; memcpy(&x, p, 8); return x; } /* i64, u64 (its bits) */
	}
}

void ev_int_put(DType t, void *p, int64_t v)
{
	uint64_t u = (uint64_t)v;
	switch (ir_dtype_size(t)) {
	case 1: *(uint8_t *)p = (uint8_t)u; break;
	case 2: { uint16_t x = (uint16_t)u; memcpy(p, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)u; memcpy(p, &x, 4); break; }
	default: memcpy(p, &u, 8); break;
	}
}

int64_t ev_numel(const Tensor *t)
{
	int64_t n = ir_shape_numel(&t->shape);
	NN_ASSERT(n >= 0);
	return n;
}

void ev_strides(const Shape *s, int64_t *st)
{
	int64_t m = 1;
	for (int i = s->rank - 1; i >= 0; i--) {
		st[i] = m;
		m *= s->d[i].n;
	}
}

bool ev_next(int64_t *idx, const Shape *s)
{
	for (int i = s->rank - 1; i >= 0; i--) {
		if (++idx[i] < s->d[i].n)
			return true;
		idx[i] = 0;
	}
	return false;
}

/* f16 (5 exponent bits, 10 mantissa bits) and bf16 (8, 7): decoding and
 * round-to-nearest-even encoding of an IEEE binary format this small. */
static double small_dec(uint32_t b, int eb, int mb)
{
	uint32_t e = b >> mb & ((1u << eb) - 1), m = b & ((1u << mb) - 1);
	int bias = (1 << (eb - 1)) - 1;
	double v;
	if (e == (1u << eb) - 1)
		v = m ? NAN : INFINITY;
	else if (e == 0)
		v = ldexp(m, 1 - bias - mb);
	else
		v = ldexp(m + (1u << mb), (int)e - bias - mb);
	return b >> (eb + mb) & 1 ? -v : v;
}

static uint32_t small_enc(double x, int eb, int mb)
{
	uint32_t sign = signbit(x) ? 1u << (eb + mb) : 0;
	uint32_t inf = ((1u << eb) - 1) << mb;
	int bias = (1 << (eb - 1)) - 1, emin = 1 - bias;
	if (isnan(x))
		return sign | inf | 1u << (mb - 1);
	x = fabs(x);
	if (isinf(x))
		return sign | inf;
	if (x < ldexp(1, emin)) /* subnormal; rounding up to 1 << mb gives the least normal */
		return sign | (uint32_t)rint(ldexp(x, mb - emin));
	int ex;
	double f = frexp(x, &ex); /* x = f * 2^ex, f in [0.5, 1) */
	uint64_t m = (uint64_t)rint(ldexp(f, mb + 1)); /* in [2^mb, 2^(mb+1)], a carry bumps e */
	uint64_t bits = ((uint64_t)(ex - 1 + bias) << mb) + m - (1u << mb);
	return sign | (bits >= inf ? inf : (uint32_t)bits);
}

/* Rounds/saturates a double into an integer range (NaN gives 0). */
static int64_t sat(double v, double lo, double hi)
{
	if (isnan(v))
		return 0;
	if (v <= lo)
		return (int64_t)lo;
	if (v >= hi)
		return hi >= 0x1p63 ? INT64_MAX : (int64_t)hi; /* +inf too, not just v < 2^63 */
	return (int64_t)v;
}

void ir_elem_put(DType t, void *dst, double v)
{
	if (ir_dtype_is_exotic(t)) { /* dtype_exotic.c: saturating; narrow ints extended */
		unsigned c = ir_small_enc(t, v, !(isinf(v) && t == DT_F8E5M2)); /* e5m2 keeps infinity */
		*(uint8_t *)dst = (uint8_t)(ir_dtype_is_small_float(t) ? c : (unsigned)ir_small_int_wrap(t, c));
		return;
	}
	switch (t) {
	case DT_F32: { float x = (float)v; memcpy(dst, &x, 4); break; }
	case DT_F64: memcpy(dst, &v, 8); break;
	case DT_F16: { uint16_t x = (uint16_t)small_enc(v, 5, 10); memcpy(dst, &x, 2); break; }
	case DT_BF16: { uint16_t x = (uint16_t)small_enc(v, 8, 7); memcpy(dst, &x, 2); break; }
	case DT_I32: { int32_t x = (int32_t)sat(v, INT32_MIN, INT32_MAX); memcpy(dst, &x, 4); break; }
	case DT_I64: { int64_t x = sat(v, -0x1p63, 0x1p63); memcpy(dst, &x, 8); break; }
	case DT_I8: *(int8_t *)dst = (int8_t)sat(v, INT8_MIN, INT8_MAX); break;
	case DT_U8: *(uint8_t *)dst = (uint8_t)sat(v, 0, UINT8_MAX); break;
	case DT_I16: { int16_t x = (int16_t)sat(v, INT16_MIN, INT16_MAX); memcpy(dst, &x, 2); break; }
	case DT_U16: { uint16_t x = (uint16_t)sat(v, 0, UINT16_MAX); memcpy(dst, &x, 2); break; }
	case DT_U32: { uint32_t x = (uint32_t)sat(v, 0, UINT32_MAX); memcpy(dst, &x, 4); break; }
	case DT_U64: {
		uint64_t x = isnan(v) || v <= 0 ? 0 : v >= 0x1p64 ? UINT64_MAX : (uint64_t)v;
		memcpy(dst, &x, 8);
		break;
	}
	case DT_BOOL: *(uint8_t *)dst = v != 0; break;
	default: NN_ASSERT(!"ir_elem_put: bad dtype");
	}
}

double ir_elem_get(DType t, const void *vp)
{
	const unsigned char *p = vp;
	if (ir_dtype_is_exotic(t))
		return ir_small_dec(t, *p);
	switch (t) {
	case DT_F32: { float x; memcpy(&x, p, 4); return x; }
	case DT_F64: { double x; memcpy(&x, p, 8); return x; }
	case DT_F16: { uint16_t x; memcpy(&x, p, 2); return small_dec(x, 5, 10); }
	case DT_BF16: { uint16_t x; memcpy(&x, p, 2); return small_dec(x, 8, 7); }
	case DT_I32: { int32_t x; memcpy(&x, p, 4); return x; }
	case DT_I64: { int64_t x; memcpy(&x, p, 8); return (double)x; }
	case DT_I8: return *(const int8_t *)p;
	case DT_U8: case DT_BOOL: return *p;
	case DT_I16: case DT_U16: case DT_U32: return (double)ev_int_get(t, p);
	case DT_U64: { uint64_t x; memcpy(&x, p, 8); return (double)x; }
	default: NN_ASSERT(!"ir_elem_get: bad dtype");
	}
	return 0;
}

double *ev_load_f64(const Tensor *t)
{
	int64_t n = ev_numel(t);
	size_t sz = ir_dtype_size(t->dtype);
	double *v = xmalloc((size_t)n * sizeof *v);
	for (int64_t i = 0; i < n; i++)
		v[i] = ir_elem_get(t->dtype, (const unsigned char *)t->data + (size_t)i * sz);
	return v;
}

int64_t *ev_load_i64(const Tensor *t)
{
	int64_t n = ev_numel(t);
	int64_t *v = xmalloc((size_t)n * sizeof *v);
	size_t sz = ir_dtype_size(t->dtype);
	NN_ASSERT(ev_is_int(t->dtype));
	for (int64_t i = 0; i < n; i++)
		v[i] = ev_int_get(t->dtype, (const char *)t->data + (size_t)i * sz);
	return v;
}

void ev_store_f64(Tensor *t, const double *v)
{
	int64_t n = ev_numel(t);
	size_t sz = ir_dtype_size(t->dtype);
	for (int64_t i = 0; i < n; i++)
		ir_elem_put(t->dtype, (unsigned char *)t->data + (size_t)i * sz, v[i]);
}

void ev_store_i64(Tensor *t, const int64_t *v)
{
	int64_t n = ev_numel(t);
	size_t sz = ir_dtype_size(t->dtype);
	NN_ASSERT(ev_is_int(t->dtype));
	for (int64_t i = 0; i < n; i++)
		ev_int_put(t->dtype, (char *)t->data + (size_t)i * sz, v[i]);
}

void ir_tensor_free(Tensor *t)
{
	if (!t)
		return;
	free(t->data);
	t->data = NULL;
}

/* Which dtypes each op accepts: floats everywhere; i32/i64 where integer
 * math is defined; every dtype for data movement. */
static bool dtype_ok(Op op, DType t)
{
	switch (op) {
	case OP_PAD: case OP_TRANSPOSE: case OP_CONCAT:
	case OP_RESHAPE: case OP_FLATTEN: case OP_IDENTITY:
	case OP_SHAPE: case OP_GATHER: case OP_UNSQUEEZE: case OP_SQUEEZE: case OP_CAST:
	case OP_RESHAPE_DYN:
		return ir_dtype_size(t) > 0;
	case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_NEG: case OP_ABS:
	case OP_MATMUL: case OP_REDUCE_SUM: case OP_CLIP: case OP_RELU:
		return ir_dtype_is_float(t) || ev_is_int(t);

	/* --- ew --- */
	case OP_EQUAL: case OP_LESS: case OP_LESS_EQUAL: case OP_GREATER: case OP_GREATER_EQUAL:
	case OP_NOT: case OP_AND: case OP_OR: case OP_XOR: case OP_WHERE:
	case OP_SIN: case OP_COS: case OP_TAN: case OP_ASIN: case OP_ACOS: case OP_ATAN:
	case OP_SINH: case OP_COSH: case OP_ASINH: case OP_ACOSH: case OP_ATANH: case OP_ERF:
	case OP_FLOOR: case OP_CEIL: case OP_ROUND: case OP_SIGN: case OP_RECIPROCAL:
	case OP_ISNAN: case OP_ISINF: case OP_BITWISE_NOT: case OP_BITWISE_AND:
	case OP_BITWISE_OR: case OP_BITWISE_XOR: case OP_BIT_SHIFT: case OP_MOD:
	case OP_MAX: case OP_MIN: case OP_BITCAST:
		return ev_ew_dtype_ok(op, t);

	/* --- red --- */
	case OP_REDUCE_PROD: case OP_CUMSUM: case OP_CUMPROD:
		return ir_dtype_is_float(t) || ev_is_int(t);
	case OP_REDUCE_MAX: case OP_REDUCE_MIN: /* bool: any / all */
		return ir_dtype_is_float(t) || ev_is_int(t) || t == DT_BOOL;
	case OP_ARGMAX: case OP_ARGMIN: case OP_TOPK:
		return ir_dtype_is_float(t) || ev_is_int(t) || t == DT_U8 || t == DT_I8;

	/* --- idx --- */
	case OP_SLICE: case OP_EXPAND: case OP_TRILU: case OP_GATHER_ELEMENTS: case OP_GATHER_ND:
	case OP_SCATTER_ELEMENTS: case OP_SCATTER_ND:
		return ir_dtype_size(t) > 0;

	/* --- conv --- */
	case OP_MAXPOOL:
		return ir_dtype_is_float(t) || ev_is_int(t) || t == DT_U8 || t == DT_I8;

	/* --- train --- */
	/* bn */
	case OP_BUFFER_UPDATE:
		return ir_dtype_size(t) > 0;
	/* trn */
	case OP_ASSIGN:
		return ir_dtype_size(t) > 0;
	case OP_GRADIENT:
		return ir_dtype_is_float(t);
	/* rng */
	case OP_RANDOM_UNIFORM: /* input 0: the seed */
		return t == DT_I64;

	default:
		return ir_dtype_is_float(t);
	}
}

static int dispatch(const Ev *e)
{
	switch (e->n->op) {
	case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_POW:
		return ev_binary(e);
	case OP_NEG: case OP_ABS: case OP_EXP: case OP_LOG: case OP_SQRT: case OP_RELU:
	case OP_SIGMOID: case OP_TANH: case OP_LEAKYRELU: case OP_CLIP:
		return ev_unary(e);
	case OP_MATMUL: return ev_matmul(e);
	case OP_CONV: return ev_conv(e);
	case OP_MAXPOOL: case OP_AVGPOOL: return ev_pool(e);
	case OP_REDUCE_SUM: case OP_REDUCE_MEAN: case OP_REDUCE_MAX: return ev_reduce(e);
	case OP_SOFTMAX: case OP_LOGSOFTMAX: return ev_softmax(e);
	case OP_BATCHNORM: return ev_batchnorm(e);
	case OP_PAD: return ev_pad(e);
	case OP_TRANSPOSE: return ev_transpose(e);
	case OP_CONCAT: return ev_concat(e);
	case OP_RESHAPE: case OP_FLATTEN: case OP_IDENTITY: return ev_copy(e);
	case OP_UNSQUEEZE: case OP_SQUEEZE: case OP_RESHAPE_DYN: return ev_copy(e);
	case OP_SHAPE: return ev_shape(e);
	case OP_GATHER: return ev_gather(e);
	case OP_CAST: return ev_cast(e);

	/* --- ew --- */
	case OP_EQUAL: case OP_LESS: case OP_LESS_EQUAL: case OP_GREATER: case OP_GREATER_EQUAL:
	case OP_NOT: case OP_AND: case OP_OR: case OP_XOR: case OP_WHERE:
	case OP_SIN: case OP_COS: case OP_TAN: case OP_ASIN: case OP_ACOS: case OP_ATAN:
	case OP_SINH: case OP_COSH: case OP_ASINH: case OP_ACOSH: case OP_ATANH: case OP_ERF:
	case OP_FLOOR: case OP_CEIL: case OP_ROUND: case OP_SIGN: case OP_RECIPROCAL:
	case OP_ISNAN: case OP_ISINF: case OP_BITWISE_NOT: case OP_BITWISE_AND:
	case OP_BITWISE_OR: case OP_BITWISE_XOR: case OP_BIT_SHIFT: case OP_MOD:
	case OP_MAX: case OP_MIN: case OP_BITCAST:
		return ev_ew(e);

	/* --- red --- */
	case OP_REDUCE_MIN: case OP_REDUCE_PROD: return ev_reduce_red(e);
	case OP_ARGMAX: case OP_ARGMIN: return ev_argmax(e);
	case OP_CUMSUM: case OP_CUMPROD: return ev_cumsum(e);
	case OP_TOPK: return ev_topk(e);

	/* --- idx --- */
	case OP_SLICE: return ev_slice(e);
	case OP_EXPAND: return ev_expand(e);
	case OP_TRILU: return ev_trilu(e);
	case OP_GATHER_ELEMENTS: return ev_gather_elements(e);
	case OP_GATHER_ND: return ev_gather_nd(e);
	case OP_SCATTER_ELEMENTS: case OP_SCATTER_ND: return ev_scatter(e);

	/* --- conv --- */
	case OP_CONV_TRANSPOSE: return ev_conv_transpose(e);

	/* --- train --- */
	/* bn */
	case OP_BUFFER_UPDATE: return 0; /* an assign under --train only (docs/ir.md) */
	/* trn */
	case OP_ASSIGN: return 0; /* no outputs: the interpreter evaluates one step, state unchanged */
	case OP_GRADIENT: /* defined by the nodes ps_gradients writes in its place */
		return ir_node_err(e->g, e->node, e->d, "gradient: expand it first (ps_gradients)");
	/* rng */
	case OP_RANDOM_UNIFORM: return ev_random_uniform(e);
	case OP_DROPOUT: return ev_dropout(e);

	case OP_COUNT: break;
	}
	return ev_fail(e, "no evaluator for this op");
}

int ir_eval_node(const Graph *g, int node, const Tensor *inputs, Tensor *outputs, Diag *d)
{
	const Node *n = &g->node[node];
	int nin = n->nin > 0 ? n->nin : 1;
	DType *idt = xcalloc((size_t)nin, sizeof *idt);
	Shape *ish = xcalloc((size_t)nin, sizeof *ish);
	DType odt[8];
	Shape osh[8];
	NN_ASSERT(n->nout <= 8);
	int r = -1;
	for (int k = 0; k < n->nout; k++)
		outputs[k].data = NULL;
	for (int k = 0; k < n->nin; k++) {
		idt[k] = DT_UNDEF;
		ish[k] = ir_shape_unknown();
		if (n->in[k] < 0)
			continue;
		const Tensor *t = &inputs[k];
		int64_t numel = ir_shape_numel(&t->shape);
		if (numel < 0 || ir_dtype_size(t->dtype) == 0) {
			ir_node_err(g, node, d, "input %d is not a static tensor of a known dtype", k);
			goto out;
		}
		if (!t->data && numel > 0) {
			ir_node_err(g, node, d, "input %d has no data", k);
			goto out;
		}
		idt[k] = t->dtype;
		ish[k] = t->shape;
	}
	if (ir_infer_shapes_data(g, node, idt, ish, inputs, odt, osh, d))
		goto out;
	if (!dtype_ok(n->op, idt[0])) {
		ir_node_err(g, node, d, "dtype %s is not supported by %s", ir_dtype_name(idt[0]),
			ir_ops[n->op].name);
		goto out;
	}
	for (int k = 0; k < n->nout; k++) {
		int64_t numel = ir_shape_numel(&osh[k]), nbytes;
		if (numel < 0 || !ck_mul(numel, (int64_t)ir_dtype_size(odt[k]), &nbytes)) {
			char b[256];
			ir_node_err(g, node, d, "output %d has no static size: %s", k,
				ir_shape_str(g, &osh[k], b, sizeof b));
			goto out;
		}
		outputs[k].dtype = odt[k];
		outputs[k].shape = osh[k];
		outputs[k].data = xcalloc(1, (size_t)nbytes);
	}
	Ev e = {g, node, n, inputs, outputs, d};
	r = dispatch(&e);
out:
	if (r)
		for (int k = 0; k < n->nout; k++)
			ir_tensor_free(&outputs[k]);
	free(idt);
	free(ish);
	return r;
}

/* Checks a concrete shape against a declared one: known dims must match,
 * symbolic dims bind (bind[sym] = extent, -1 while unbound; who[sym] names
 * the value that bound it). */
static int check_shape(const Graph *g, const char *what, const char *vname, const Shape *decl,
	const Shape *got, int64_t *bind, const char **who, Diag *d)
{
	char b1[256], b2[256];
	if (decl->rank < 0)
		return 0;
	if (decl->rank != got->rank)
		goto bad;
	for (int i = 0; i < decl->rank; i++) {
		Dim x = decl->d[i];
		int64_t n = got->d[i].n;
		if (x.sym > 0 && x.sym < g->nsym) {
			if (bind[x.sym] < 0) {
				bind[x.sym] = n;
				who[x.sym] = vname;
			} else if (bind[x.sym] != n) {
				return diag(d, "%s \"%s\": dim %d is %s = %lld but \"%s\" set %s = %lld",
					what, vname, i, g->sym[x.sym], (long long)n, who[x.sym],
					g->sym[x.sym], (long long)bind[x.sym]);
			}
		} else if (x.sym == 0 && x.n >= 0 && x.n != n) {
			goto bad;
		}
	}
	return 0;
bad:
	return diag(d, "%s \"%s\": got shape %s, expected %s", what, vname,
		ir_shape_str(g, got, b1, sizeof b1), ir_shape_str(g, decl, b2, sizeof b2));
}

typedef struct EvalState {
	Tensor *t;     /* per value: its tensor once computed or bound */
	bool *ready;   /* per value: t[v] holds it */
	bool *own;     /* per value: t[v].data is ours to free */
	int *last;     /* per value: last node reading it (nnode: a graph output) */
	int64_t *bind; /* per symbol: bound extent, -1 if unbound */
	const char **who; /* per symbol: the value that bound it */
} EvalState;

/* Makes value v available in s->t[v] (inputs and nodes are there already;
 * constants are borrowed from the graph). */
static int fetch(const Graph *g, EvalState *s, int v, int node, Diag *d)
{
	const Value *val = &g->val[v];
	if (s->ready[v])
		return 0;
	if (val->kind != VK_CONST) {
		if (node >= 0)
			return ir_node_err(g, node, d, "input \"%s\" is not computed before its use",
				val->name);
		return diag(d, "output \"%s\" is not computed by any live node", val->name);
	}
	int64_t numel = ir_shape_numel(&val->shape), nbytes;
	size_t esz = ir_dtype_size(val->dtype);
	if (numel < 0 || esz == 0 || !ck_mul(numel, (int64_t)esz, &nbytes) ||
		(size_t)nbytes != val->nbytes)
		return diag(d, "constant \"%s\": shape, dtype and data size disagree", val->name);
	if (!val->data && nbytes > 0)
		return diag(d, "constant \"%s\": data is elided; cannot evaluate", val->name);
	s->t[v] = (Tensor){val->dtype, val->shape, val->data};
	s->ready[v] = true;
	return 0;
}

static int eval_nodes(const Graph *g, EvalState *s, Diag *d)
{
	for (int i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		int nin = n->nin > 0 ? n->nin : 1;
		Tensor *in = xcalloc((size_t)nin, sizeof *in);
		Tensor out[8];
		int r = 0;
		for (int k = 0; k < n->nin && !r; k++)
			if (n->in[k] >= 0 && !(r = fetch(g, s, n->in[k], i, d)))
				in[k] = s->t[n->in[k]];
		if (!r)
			r = ir_eval_node(g, i, in, out, d);
		free(in);
		if (r)
			return -1;
		for (int k = 0; k < n->nout; k++) {
			int v = n->out[k];
			const Value *val = &g->val[v];
			s->t[v] = out[k];
			s->ready[v] = s->own[v] = true;
			if (val->dtype != DT_UNDEF && val->dtype != out[k].dtype)
				return ir_node_err(g, i, d, "computed dtype %s but the graph says %s",
					ir_dtype_name(out[k].dtype), ir_dtype_name(val->dtype));
			if (check_shape(g, "value", val->name, &val->shape, &out[k].shape, s->bind, s->who,
				d))
				return ir_node_err(g, i, d, "computed shape disagrees with the graph");
		}
		for (int k = 0; k < n->nin; k++) {
			int v = n->in[k];
			if (v >= 0 && s->last[v] == i && s->own[v]) {
				ir_tensor_free(&s->t[v]);
				s->ready[v] = s->own[v] = false;
			}
		}
	}
	return 0;
}

int ir_eval(const Graph *g, const Tensor *inputs, Tensor *outputs, Diag *d)
{
	EvalState s;
	s.t = xcalloc((size_t)g->nval + 1, sizeof *s.t);
	s.ready = xcalloc((size_t)g->nval + 1, sizeof *s.ready);
	s.own = xcalloc((size_t)g->nval + 1, sizeof *s.own);
	s.last = xcalloc((size_t)g->nval + 1, sizeof *s.last);
	s.bind = xcalloc((size_t)g->nsym + 1, sizeof *s.bind);
	s.who = xcalloc((size_t)g->nsym + 1, sizeof *s.who);
	for (int i = 0; i <= g->nsym; i++)
		s.bind[i] = -1;
	for (int v = 0; v < g->nval; v++)
		s.last[v] = -1;
	for (int i = 0; i < g->nnode; i++)
		if (!g->node[i].dead)
			for (int k = 0; k < g->node[i].nin; k++)
				if (g->node[i].in[k] >= 0)
					s.last[g->node[i].in[k]] = i;
	for (int k = 0; k < g->noutput; k++)
		s.last[g->output[k]] = g->nnode;
	for (int k = 0; k < g->noutput; k++)
		outputs[k].data = NULL;

	int r = -1;
	for (int k = 0; k < g->ninput; k++) {
		const Value *val = &g->val[g->input[k]];
		const Tensor *t = &inputs[k];
		if (ir_shape_numel(&t->shape) < 0) {
			diag(d, "input \"%s\": the tensor's shape is not static", val->name);
			goto out;
		}
		if (val->dtype != DT_UNDEF && t->dtype != val->dtype) {
			diag(d, "input \"%s\": got dtype %s, expected %s", val->name,
				ir_dtype_name(t->dtype), ir_dtype_name(val->dtype));
			goto out;
		}
		if (!t->data && ir_shape_numel(&t->shape) > 0) {
			diag(d, "input \"%s\": no data", val->name);
			goto out;
		}
		if (check_shape(g, "input", val->name, &val->shape, &t->shape, s.bind, s.who, d))
			goto out;
		s.t[g->input[k]] = *t;
		s.ready[g->input[k]] = true;
	}
	if (eval_nodes(g, &s, d))
		goto out;
	for (int k = 0; k < g->noutput; k++) {
		int v = g->output[k];
		if (fetch(g, &s, v, -1, d))
			goto out;
		const Tensor *t = &s.t[v];
		size_t nbytes = (size_t)ev_numel(t) * ir_dtype_size(t->dtype);
		outputs[k] = (Tensor){t->dtype, t->shape, xmalloc(nbytes)};
		if (nbytes)
			memcpy(outputs[k].data, t->data, nbytes);
	}
	r = 0;
out:
	if (r)
		for (int k = 0; k < g->noutput; k++)
			ir_tensor_free(&outputs[k]);
	for (int v = 0; v < g->nval; v++)
		if (s.own[v])
			ir_tensor_free(&s.t[v]);
	free(s.t);
	free(s.ready);
	free(s.own);
	free(s.last);
	free(s.bind);
	free(s.who);
	return r;
}
