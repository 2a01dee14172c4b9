/* dsl_build.c — elaboration of a parsed `.nn` program into a Graph: scopes
 * and names, expressions (operators, numbers folded at compile time), the
 * statements, and the entry points fe_nn_load / fe_nn_load_mem. Calls are
 * dsl_call.c's, layers dsl_layer.c's, initializers dsl_init.c's.
 *
 * A value bound by `h = ...` gets the IR name "h" (inside block instance
 * r1, "r1.h"); the intermediate values of the expression are named
 * "h/OP". Every error names its source position; a statement that fails
 * binds its names as errors so their later uses stay quiet. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl_impl.h"

static char *tokdup(NnB *b, const NnTok *t)
{
	char *s = arena_alloc(b->a, (size_t)t->len + 1);
	memcpy(s, t->s, (size_t)t->len);
	return s;
}

NnSym *nn_lookup(NnB *b, NnScope *sc, const char *name)
{
	for (NnScope *s = sc; s; s = s->up)
		for (int i = s->nsym - 1; i >= 0; i--)
			if (strcmp(s->sym[i].name, name) == 0 &&
			    (s == sc || s->sym[i].kind == SY_BLOCK))
				return &s->sym[i];
	(void)b;
	return NULL;
}

NnSym *nn_define(NnB *b, NnScope *sc, const NnTok *t, NnSymKind k)
{
	char *name = tokdup(b, t);
	for (int i = 0; i < sc->nsym; i++)
		if (strcmp(sc->sym[i].name, name) == 0) {
			char hint[96];
			snprintf(hint, sizeof hint, "'%s' was defined at line %d", name, sc->sym[i].tok.line);
			nn_err(b->src, t, hint, "'%s' is already defined", name);
			return NULL;
		}
	if (sc->nsym == sc->capsym) {
		sc->capsym = sc->capsym ? 2 * sc->capsym : 32;
		sc->sym = xrealloc(sc->sym, (size_t)sc->capsym * sizeof *sc->sym);
	}
	NnSym *s = &sc->sym[sc->nsym++];
	memset(s, 0, sizeof *s);
	s->name = name;
	s->kind = k;
	s->tok = *t;
	return s;
}

const char *nn_typestr(NnB *b, int v, char *buf, size_t n)
{
	char sh[200];
	const Value *x = &b->g->val[v];
	ir_shape_str(b->g, &x->shape, sh, sizeof sh);
	snprintf(buf, n, "%s%s", ir_dtype_name(x->dtype), sh);
	return buf;
}

static uint64_t hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

const char *nn_fresh(NnB *b, const char *base)
{
	if (2 * (b->nnames + 1) > b->capnames) {
		int cap = b->capnames ? 2 * b->capnames : 256;
		NnName *t = xcalloc((size_t)cap, sizeof *t);
		for (int i = 0; i < b->capnames; i++)
			if (b->names[i].base) {
				size_t j = hash(b->names[i].base) & (size_t)(cap - 1);
				while (t[j].base)
					j = (j + 1) & (size_t)(cap - 1);
				t[j] = b->names[i];
			}
		free(b->names);
		b->names = t;
		b->capnames = cap;
	}
	size_t j = hash(base) & (size_t)(b->capnames - 1);
	while (b->names[j].base && strcmp(b->names[j].base, base) != 0)
		j = (j + 1) & (size_t)(b->capnames - 1);
	NnName *e = &b->names[j];
	if (!e->base) {
		e->base = arena_strdup(b->a, base);
		b->nnames++;
	}
	for (;; e->next++) {
		const char *s = e->next ? arena_printf(&b->g->arena, "%s_%d", base, e->next)
					: ir_strdup(b->g, base);
		if (ir_find_value(b->g, s) < 0) {
			e->next++;
			return s;
		}
	}
}

int nn_node(NnB *b, Op op, const int *in, int nin, int nout)
{
	const char *outs[NN_MAX_OUT];
	char base[256];
	for (int k = 0; k < nout && k < NN_MAX_OUT; k++) {
		if (nout == 1)
			snprintf(base, sizeof base, "%s/%s", b->let, ir_ops[op].name);
		else
			snprintf(base, sizeof base, "%s/%s:%d", b->let, ir_ops[op].name, k);
		outs[k] = nn_fresh(b, base);
	}
	return ir_add_node(b->g, op, b->let, in, nin, nout, nout <= NN_MAX_OUT ? outs : NULL);
}

int nn_infer(NnB *b, int nd, const NnTok *t)
{
	Diag d;
	diag_init(&d);
	if (ir_infer_node(b->g, nd, &d) == 0)
		return b->g->node[nd].nout ? ir_out(b->g, nd, 0) : 0;
	const Node *n = &b->g->node[nd];
	char hint[900] = "", ty[256];
	int k = 0;
	for (int i = 0; i < n->nin && k < (int)sizeof hint - 300; i++)
		if (n->in[i] >= 0)
			k += snprintf(hint + k, sizeof hint - (size_t)k, "%s%s", i ? ", " : "operands: ",
				      nn_typestr(b, n->in[i], ty, sizeof ty));
	int len = d.len;
	while (len > 0 && d.msg[len - 1] == '\n')
		len--;
	const char *m = d.msg, *c = strstr(m, "): ");
	if (strncmp(m, "node ", 5) == 0 && c && c < m + len) { /* drop "node 3 (add "h"): " */
		len -= (int)(c + 3 - m);
		m = c + 3;
	}
	nn_err(b->src, t, k ? hint : NULL, "%s: %.*s", ir_ops[n->op].name, len, m);
	return -1;
}

int nn_op1(NnB *b, Op op, int x, const NnTok *t)
{
	return x < 0 ? -1 : nn_infer(b, nn_node(b, op, &x, 1, 1), t);
}

int nn_op2(NnB *b, Op op, int x, int y, const NnTok *t)
{
	if (x < 0 || y < 0)
		return -1;
	int in[2] = {x, y};
	return nn_infer(b, nn_node(b, op, in, 2, 1), t);
}

int nn_ints_op(NnB *b, Op op, int x, const char *attr, const int64_t *v, int n, const NnTok *t)
{
	if (x < 0)
		return -1;
	int nd = nn_node(b, op, &x, 1, 1);
	ir_set_ints(b->g, nd, attr, v, n);
	return nn_infer(b, nd, t);
}

int nn_scalar(NnB *b, DType dt, double v)
{
	unsigned char buf[16] = {0};
	ir_elem_put(dt, buf, v);
	char base[256];
	snprintf(base, sizeof base, "%s/c", b->let);
	return ir_add_const(b->g, nn_fresh(b, base), dt, ir_shape_make(0, NULL), buf,
			    ir_dtype_size(dt), false);
}

int nn_int_arg(NnB *b, const NnVal *v, const NnTok *t, const char *what, int64_t lo, int64_t hi,
	       int64_t *out)
{
	if (v->kind == SY_ERROR)
		return -1;
	if (v->kind != SY_NUM || !v->is_int || v->num < (double)lo || v->num > (double)hi)
		return nn_err(b->src, t, NULL, "%s must be an integer in [%lld, %lld]", what, (long long)lo,
			      (long long)hi);
	*out = (int64_t)v->num;
	return 0;
}

int nn_tensor_arg(NnB *b, const NnVal *v, const NnTok *t, const char *what)
{
	if (v->kind == SY_ERROR)
		return -1;
	if (v->kind != SY_TENSOR)
		return nn_err(b->src, t, NULL, "%s must be a tensor, not a %s", what,
			      v->kind == SY_NUM ? "number" : "function");
	if (v->nv != 1)
		return nn_err(b->src, t, NULL, "%s must be one tensor, not %d (bind them with a, b = ...)",
			      what, v->nv);
	return v->v[0];
}

static NnVal num_val(double x, bool is_int)
{
	NnVal r = nn_err_val();
	r.kind = SY_NUM;
	r.num = x;
	r.is_int = is_int;
	return r;
}

/* Names visible in sc (hints). */
static int visible_names(NnScope *sc, const char **out, int max)
{
	int n = 0;
	for (NnScope *s = sc; s; s = s->up)
		for (int i = 0; i < s->nsym && n < max; i++)
			if (s == sc || s->sym[i].kind == SY_BLOCK)
				out[n++] = s->sym[i].name;
	return n;
}

static NnVal eval_name(NnB *b, NnScope *sc, const NnExpr *e)
{
	NnSym *s = nn_lookup(b, sc, e->name);
	if (!s) {
		if (strcmp(e->name, "true") == 0 || strcmp(e->name, "false") == 0)
			return num_val(e->name[0] == 't', true);
		const char *names[512];
		int n = visible_names(sc, names, 512);
		const char *near = nn_nearest(e->name, names, n);
		char hint[128];
		if (near)
			snprintf(hint, sizeof hint, "did you mean '%s'?", near);
		nn_err(b->src, &e->tok, near ? hint : NULL, "unknown name '%s'", e->name);
		return nn_err_val();
	}
	NnVal r = nn_err_val();
	switch (s->kind) {
	case SY_TENSOR:
		r.kind = SY_TENSOR;
		memcpy(r.v, s->v, sizeof r.v);
		r.nv = s->nv;
		return r;
	case SY_NUM:
		return num_val(s->num, s->is_int);
	case SY_LABEL:
		nn_err(b->src, &e->tok, "the label is read only by the loss statement",
		       "the label '%s' cannot be used in the model", e->name);
		return nn_err_val();
	case SY_LAYER:
	case SY_BLOCK:
		nn_err(b->src, &e->tok, NULL, "'%s' is a %s: call it, e.g. %s(x)", e->name,
		       s->kind == SY_LAYER ? "layer" : "block", e->name);
		return nn_err_val();
	case SY_ERROR:
		return nn_err_val();
	}
	return r;
}

static NnVal eval_bin(NnB *b, NnScope *sc, const NnExpr *e)
{
	NnVal x = nn_eval(b, sc, e->a), y = nn_eval(b, sc, e->b);
	if (x.kind == SY_ERROR || y.kind == SY_ERROR)
		return nn_err_val();
	if (x.kind == SY_NUM && y.kind == SY_NUM) {
		if (e->op == '@') {
			nn_err(b->src, &e->tok, NULL, "'@' multiplies tensors, not numbers");
			return nn_err_val();
		}
		bool ii = x.is_int && y.is_int;
		/* integers are exact in a double up to 2^53: beyond, refuse */
		const double big = 9007199254740992.0;
		if (ii && (fabs(x.num) > big || fabs(y.num) > big ||
			   (e->op != '/' && fabs(e->op == '+' ? x.num + y.num : e->op == '-' ? x.num - y.num
							      : x.num * y.num) > big))) {
			nn_err(b->src, &e->tok, NULL, "integer arithmetic out of range (magnitudes up to 2^53)");
			return nn_err_val();
		}
		switch (e->op) {
		case '+': return num_val(x.num + y.num, ii);
		case '-': return num_val(x.num - y.num, ii);
		case '*': return num_val(x.num * y.num, ii);
		default:
			if (y.num == 0) {
				nn_err(b->src, &e->tok, NULL, "division by zero");
				return nn_err_val();
			}
			if (ii)
				return num_val((double)((int64_t)x.num / (int64_t)y.num), true);
			return num_val(x.num / y.num, false);
		}
	}
	int xv = x.kind == SY_TENSOR ? nn_tensor_arg(b, &x, &e->a->tok, "the left operand") : -1;
	int yv = y.kind == SY_TENSOR ? nn_tensor_arg(b, &y, &e->b->tok, "the right operand") : -1;
	if ((x.kind == SY_TENSOR && xv < 0) || (y.kind == SY_TENSOR && yv < 0))
		return nn_err_val();
	if (e->op == '@') {
		if (xv < 0 || yv < 0) {
			nn_err(b->src, &e->tok, NULL, "'@' needs two tensors");
			return nn_err_val();
		}
	}
	if (xv < 0)
		xv = nn_scalar(b, b->g->val[yv].dtype, x.num);
	if (yv < 0)
		yv = nn_scalar(b, b->g->val[xv].dtype, y.num);
	DType tx = b->g->val[xv].dtype, ty = b->g->val[yv].dtype;
	if (tx != ty) {
		char h[128];
		snprintf(h, sizeof h, "convert one with cast(x, to=\"%s\")", ir_dtype_name(tx));
		nn_err(b->src, &e->tok, h, "'%c' between different dtypes %s and %s", e->op,
		       ir_dtype_name(tx), ir_dtype_name(ty));
		return nn_err_val();
	}
	Op op = e->op == '+' ? OP_ADD : e->op == '-' ? OP_SUB : e->op == '*' ? OP_MUL
		: e->op == '/' ? OP_DIV : OP_MATMUL;
	return nn_tensor_val(nn_op2(b, op, xv, yv, &e->tok));
}

NnVal nn_eval(NnB *b, NnScope *sc, const NnExpr *e)
{
	switch (e->kind) {
	case NE_NUM:
		/* an integer is exact in a double up to 2^53, and converts to int64 */
		if (e->is_int && fabs(e->num) > 9007199254740992.0) {
			nn_err(b->src, &e->tok, NULL, "integer literal out of range (magnitudes up to 2^53)");
			return nn_err_val();
		}
		return num_val(e->num, e->is_int);
	case NE_STR:
		nn_err(b->src, &e->tok, NULL, "a string is only an attribute value (KEY=\"...\")");
		return nn_err_val();
	case NE_NAME:
		return eval_name(b, sc, e);
	case NE_CALL:
		return nn_call(b, sc, e);
	case NE_BIN:
		return eval_bin(b, sc, e);
	case NE_NEG: {
		NnVal x = nn_eval(b, sc, e->a);
		if (x.kind == SY_NUM)
			return num_val(-x.num, x.is_int);
		int v = nn_tensor_arg(b, &x, &e->a->tok, "the operand of '-'");
		return nn_tensor_val(v < 0 ? -1 : nn_op1(b, OP_NEG, v, &e->tok));
	}
	case NE_LIST:
		nn_err(b->src, &e->tok, NULL, "a list is only an attribute value (KEY=[...])");
		return nn_err_val();
	case NE_ARROW:
		nn_err(b->src, &e->tok, NULL, "'IN -> OUT' is only a layer's size argument");
		return nn_err_val();
	}
	return nn_err_val();
}
