/* dsl_call.c — calls in `.nn` expressions (docs/language.md, "Calls"),
 * resolved in this order: a layer instance (dsl_layer.c), a block (a new
 * instance with its own parameters), a built-in function (pools with a
 * size, dropout, mean, sum, last, global_avgpool), and any IR op by its
 * text-IR name with its attributes as keywords. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl_impl.h"

static const char *const builtins[] = {"dropout", "mean", "sum", "last", "global_avgpool"};

int nn_callable_names(NnB *b, NnScope *sc, const char **out, int max)
{
	int n = 0;
	for (NnScope *s = sc; s; s = s->up)
		for (int i = 0; i < s->nsym && n < max; i++)
			if (s->sym[i].kind == SY_LAYER || s->sym[i].kind == SY_BLOCK)
				out[n++] = s->sym[i].name;
	for (size_t i = 0; i < sizeof builtins / sizeof *builtins && n < max; i++)
		out[n++] = builtins[i];
	for (int op = 0; op < OP_COUNT && n < max; op++)
		out[n++] = ir_ops[op].name;
	(void)b;
	return n;
}

/* The op's signature for hints: "conv(x, w[, b]) {strides:ints ...}". */
static void signature(Op op, char *buf, size_t n)
{
	const OpInfo *oi = &ir_ops[op];
	int k = snprintf(buf, n, "%s(", oi->name);
	for (int i = 0; i < (oi->nin_max < 0 ? oi->nin_min + 1 : oi->nin_max) && k < (int)n - 20; i++) {
		bool opt = i >= oi->nin_min;
		k += snprintf(buf + k, n - (size_t)k, "%s%s%c%s", opt ? "[" : "", i ? ", " : "", 'a' + i,
			      oi->nin_max < 0 && opt ? ", ...]" : opt ? "]" : "");
	}
	snprintf(buf + k, n - (size_t)k, ")%s%s%s", *oi->attrs ? " {" : "", oi->attrs,
		 *oi->attrs ? "}" : "");
}

/* Sets attribute kw of node nd from expression e per the op's schema. */
static int set_attr(NnB *b, NnScope *sc, int nd, const char *kw, const NnTok *kt, const NnExpr *e)
{
	Op op = b->g->node[nd].op;
	AttrKind kind;
	if (!ir_attr_schema(op, kw, &kind)) {
		const char *names[32];
		char store[32][64];
		int n = 0;
		IrSchemaEnt ent;
		for (const char *s = ir_ops[op].attrs; n < 32 && ir_schema_next(&s, &ent); n++) {
			snprintf(store[n], sizeof store[n], "%s", ent.name);
			names[n] = store[n];
		}
		const char *near = nn_nearest(kw, names, n);
		char h[300];
		if (near)
			snprintf(h, sizeof h, "did you mean '%s'?", near);
		else
			snprintf(h, sizeof h, "%s takes: %s", ir_ops[op].name,
				 *ir_ops[op].attrs ? ir_ops[op].attrs : "no attributes");
		return nn_err(b->src, kt, h, "%s has no attribute '%s'", ir_ops[op].name, kw);
	}
	if (kind == AT_STRING) {
		if (e->kind != NE_STR && e->kind != NE_NAME)
			return nn_err(b->src, &e->tok, NULL, "attribute '%s' is a string", kw);
		ir_set_string(b->g, nd, kw, e->name);
		return 0;
	}
	const NnExpr *one = e;
	int cnt = 1;
	if (e->kind == NE_LIST) {
		if (kind != AT_INTS && kind != AT_FLOATS)
			return nn_err(b->src, &e->tok, NULL, "attribute '%s' is one number, not a list", kw);
		cnt = e->narg;
	}
	int64_t iv[64];
	double fv[64];
	if (cnt > 64)
		return nn_err(b->src, &e->tok, NULL, "attribute '%s': more than 64 values", kw);
	for (int i = 0; i < cnt; i++) {
		const NnExpr *x = e->kind == NE_LIST ? e->arg[i] : one;
		NnVal v = nn_eval(b, sc, x);
		if (v.kind == SY_ERROR)
			return -1;
		if (v.kind != SY_NUM)
			return nn_err(b->src, &x->tok, NULL, "attribute '%s' takes numbers", kw);
		bool want_int = kind == AT_INT || kind == AT_INTS;
		if (want_int && !v.is_int)
			return nn_err(b->src, &x->tok, NULL, "attribute '%s' takes integers", kw);
		iv[i] = (int64_t)v.num;
		fv[i] = v.num;
	}
	switch (kind) {
	case AT_INT: ir_set_int(b->g, nd, kw, iv[0]); break;
	case AT_FLOAT: ir_set_float(b->g, nd, kw, fv[0]); break;
	case AT_INTS: ir_set_ints(b->g, nd, kw, iv, cnt); break;
	case AT_FLOATS: ir_set_floats(b->g, nd, kw, fv, cnt); break;
	default: break;
	}
	return 0;
}

static NnVal call_op(NnB *b, NnScope *sc, Op op, const NnExpr *e)
{
	const OpInfo *oi = &ir_ops[op];
	char sig[400];
	signature(op, sig, sizeof sig);
	if (op == OP_ASSIGN || op == OP_BUFFER_UPDATE || op == OP_GRADIENT) {
		nn_err(b->src, &e->tok, NULL, "'%s' is internal to training steps", oi->name);
		return nn_err_val();
	}
	int in[64], nin = 0;
	NnVal pos[64];
	const NnTok *ptok[64];
	for (int i = 0; i < e->narg; i++) {
		if (e->kw[i])
			continue;
		if (nin == 64) {
			nn_err(b->src, &e->arg[i]->tok, NULL, "too many arguments");
			return nn_err_val();
		}
		ptok[nin] = &e->arg[i]->tok;
		pos[nin++] = nn_eval(b, sc, e->arg[i]);
		if (pos[nin - 1].kind == SY_ERROR)
			return nn_err_val();
	}
	if (nin < oi->nin_min || (oi->nin_max >= 0 && nin > oi->nin_max)) {
		char want[48];
		if (oi->nin_max < 0)
			snprintf(want, sizeof want, "at least %d inputs", oi->nin_min);
		else if (oi->nin_max == oi->nin_min)
			snprintf(want, sizeof want, "%d input%s", oi->nin_min, oi->nin_min == 1 ? "" : "s");
		else
			snprintf(want, sizeof want, "%d to %d inputs", oi->nin_min, oi->nin_max);
		nn_err(b->src, &e->tok, sig, "%s takes %s, got %d", oi->name, want, nin);
		return nn_err_val();
	}
	DType dt = DT_UNDEF;
	for (int i = 0; i < nin; i++)
		if (pos[i].kind == SY_TENSOR && dt == DT_UNDEF)
			dt = b->g->val[pos[i].v[0]].dtype;
	for (int i = 0; i < nin; i++) {
		if (pos[i].kind == SY_NUM) {
			if (dt == DT_UNDEF) {
				nn_err(b->src, ptok[i], sig, "%s needs a tensor argument", oi->name);
				return nn_err_val();
			}
			in[i] = nn_scalar(b, dt, pos[i].num);
			continue;
		}
		char what[32];
		snprintf(what, sizeof what, "argument %d", i + 1);
		if ((in[i] = nn_tensor_arg(b, &pos[i], ptok[i], what)) < 0)
			return nn_err_val();
	}
	int nd = nn_node(b, op, in, nin, oi->nout);
	for (int i = 0; i < e->narg; i++) {
		if (!e->kw[i])
			continue;
		if (ir_attr(&b->g->node[nd], e->kw[i])) {
			nn_err(b->src, &e->kwtok[i], NULL, "attribute '%s' given twice", e->kw[i]);
			return nn_err_val();
		}
		if (set_attr(b, sc, nd, e->kw[i], &e->kwtok[i], e->arg[i]) < 0)
			return nn_err_val();
	}
	IrSchemaEnt ent;
	for (const char *s = oi->attrs; ir_schema_next(&s, &ent);)
		if (ent.required && !ir_attr(&b->g->node[nd], ent.name)) {
			nn_err(b->src, &e->tok, sig, "%s needs the attribute '%s'", oi->name, ent.name);
			return nn_err_val();
		}
	if (nn_infer(b, nd, &e->tok) < 0)
		return nn_err_val();
	NnVal r = nn_err_val();
	r.kind = SY_TENSOR;
	for (int k = 0; k < oi->nout && k < NN_MAX_OUT; k++)
		r.v[r.nv++] = ir_out(b->g, nd, k);
	return r;
}

static NnVal call_block(NnB *b, NnScope *sc, NnSym *blk, const NnExpr *e)
{
	NnStmt *st = blk->block;
	for (int i = 0; i < b->nactive; i++)
		if (b->active[i] == st) {
			nn_err(b->src, &e->tok, "a block cannot instantiate itself, directly or through another",
			       "block '%s' is recursive", blk->name);
			return nn_err_val();
		}
	if (b->nactive == 16) {
		nn_err(b->src, &e->tok, NULL, "blocks nested more than 16 deep");
		return nn_err_val();
	}
	int npar = st->nname - 1;
	NnVal args[16];
	bool set[16] = {0};
	if (npar > 16) {
		nn_err(b->src, &st->name[17], NULL, "more than 16 block arguments");
		return nn_err_val();
	}
	int npos = 0;
	for (int i = 0; i < e->narg; i++) {
		int k = -1;
		if (e->kw[i]) {
			for (int j = 0; j < npar; j++)
				if (nn_tok_is(&st->name[j + 1], e->kw[i]))
					k = j;
			if (k < 0) {
				nn_err(b->src, &e->kwtok[i], NULL, "block '%s' has no argument '%s'", blk->name,
				       e->kw[i]);
				return nn_err_val();
			}
		} else {
			k = npos++;
		}
		if (k >= npar || set[k]) {
			nn_err(b->src, &e->arg[i]->tok, NULL, k >= npar ? "block '%s' takes %d arguments"
			       : "block '%s': an argument given twice", blk->name, npar);
			return nn_err_val();
		}
		args[k] = nn_eval(b, sc, e->arg[i]);
		set[k] = true;
		if (args[k].kind == SY_ERROR)
			return nn_err_val();
		if (args[k].kind == SY_TENSOR && args[k].nv != 1) {
			nn_err(b->src, &e->arg[i]->tok, NULL, "a block argument is one tensor or a number");
			return nn_err_val();
		}
	}
	for (int j = 0; j < npar; j++)
		if (!set[j]) {
			nn_err(b->src, &e->tok, NULL, "block '%s' needs argument '%.*s'", blk->name,
			       st->name[j + 1].len, st->name[j + 1].s);
			return nn_err_val();
		}
	const char *inst = b->nlet_blocks == 0 ? b->let
		: arena_printf(b->a, "%s.%s_%d", b->let, blk->name, b->nlet_blocks);
	b->nlet_blocks++;
	NnScope in;
	memset(&in, 0, sizeof in);
	in.prefix = arena_printf(b->a, "%s.", inst);
	in.up = &b->top;
	for (int j = 0; j < npar; j++) {
		NnSym *y = nn_define(b, &in, &st->name[j + 1], args[j].kind);
		if (!y)
			continue;
		memcpy(y->v, args[j].v, sizeof y->v);
		y->nv = args[j].nv;
		y->num = args[j].num;
		y->is_int = args[j].is_int;
	}
	const char *save = b->let;
	int save_n = b->nlet_blocks;
	int errs = b->src->nerr;
	b->active[b->nactive++] = st;
	NnVal ret = nn_err_val();
	nn_run(b, &in, st->body, &ret);
	b->nactive--;
	b->let = save;
	b->nlet_blocks = save_n;
	free(in.sym);
	if (b->src->nerr > errs) {
		nn_err(b->src, &e->tok, NULL, "in this instance of block '%s' (errors above)", blk->name);
		return nn_err_val();
	}
	if (ret.kind != SY_TENSOR) {
		nn_err(b->src, &st->tok, "end the block with `return VALUE`", "block '%s' returns nothing",
		       blk->name);
		return nn_err_val();
	}
	return ret;
}

/* Number of positional arguments. */
static int npos(const NnExpr *e)
{
	int n = 0;
	for (int i = 0; i < e->narg; i++)
		n += !e->kw[i];
	return n;
}

/* Built-ins over one tensor x: dropout(x, p), mean(x), sum(x), last(x),
 * global_avgpool(x). */
static NnVal call_builtin(NnB *b, NnScope *sc, const NnExpr *e)
{
	const char *f = e->name;
	bool drop = strcmp(f, "dropout") == 0;
	if (npos(e) != (drop ? 2 : 1) || e->narg != npos(e)) {
		nn_err(b->src, &e->tok, drop ? "dropout(x, p)" : NULL, "%s takes %s", f,
		       drop ? "a tensor and a probability" : "one tensor");
		return nn_err_val();
	}
	NnVal xv = nn_eval(b, sc, e->arg[0]);
	int x = nn_tensor_arg(b, &xv, &e->arg[0]->tok, "the argument");
	if (x < 0)
		return nn_err_val();
	const Value *xx = &b->g->val[x];
	if (drop) {
		NnVal p = nn_eval(b, sc, e->arg[1]);
		if (p.kind == SY_ERROR)
			return nn_err_val();
		if (p.kind != SY_NUM || p.num < 0 || p.num >= 1) {
			nn_err(b->src, &e->arg[1]->tok, NULL, "the dropout probability must be in [0, 1)");
			return nn_err_val();
		}
		if (!b->train || p.num == 0)
			return nn_tensor_val(x); /* inference: the identity */
		int nd = nn_node(b, OP_DROPOUT, &x, 1, 2);
		ir_set_float(b->g, nd, "ratio", p.num);
		return nn_tensor_val(nn_infer(b, nd, &e->tok));
	}
	if (strcmp(f, "last") == 0) {
		if (xx->shape.rank < 2) {
			nn_err(b->src, &e->tok, NULL, "last takes a sequence [N, T, ...]");
			return nn_err_val();
		}
		int nd = nn_node(b, OP_SLICE, &x, 1, 1);
		int64_t st = -1, en = INT64_MAX, ax = 1;
		ir_set_ints(b->g, nd, "starts", &st, 1);
		ir_set_ints(b->g, nd, "ends", &en, 1);
		ir_set_ints(b->g, nd, "axes", &ax, 1);
		int s = nn_infer(b, nd, &e->tok);
		return nn_tensor_val(nn_ints_op(b, OP_SQUEEZE, s, "axes", &ax, 1, &e->tok));
	}
	bool gap = strcmp(f, "global_avgpool") == 0;
	int rank = xx->shape.rank; /* a new node may move the values: xx is stale after it */
	int nd = nn_node(b, strcmp(f, "sum") == 0 ? OP_REDUCE_SUM : OP_REDUCE_MEAN, &x, 1, 1);
	if (gap) {
		if (rank < 3) {
			nn_err(b->src, &e->tok, NULL, "global_avgpool takes [N, C, spatial...]");
			return nn_err_val();
		}
		int64_t ax[IR_MAX_RANK];
		for (int i = 2; i < rank; i++)
			ax[i - 2] = i;
		ir_set_ints(b->g, nd, "axes", ax, rank - 2);
		ir_set_int(b->g, nd, "keepdims", 1);
	} else {
		int64_t ax[IR_MAX_RANK];
		for (int i = 0; i < rank; i++)
			ax[i] = i;
		if (rank > 0)
			ir_set_ints(b->g, nd, "axes", ax, rank);
		ir_set_int(b->g, nd, "keepdims", 0);
	}
	return nn_tensor_val(nn_infer(b, nd, &e->tok));
}

NnVal nn_call(NnB *b, NnScope *sc, const NnExpr *e)
{
	NnSym *s = nn_lookup(b, sc, e->name);
	if (s) {
		switch (s->kind) {
		case SY_LAYER:
			return nn_layer_apply(b, sc, s->layer, e);
		case SY_BLOCK:
			return call_block(b, sc, s, e);
		case SY_ERROR:
			return nn_err_val();
		default:
			nn_err(b->src, &e->tok, NULL, "'%s' is a %s, not a function", e->name,
			       s->kind == SY_NUM ? "number" : s->kind == SY_LABEL ? "label" : "tensor");
			return nn_err_val();
		}
	}
	/* pools with a size: maxpool(x, 2), avgpool(x, k=3, stride=2, pad=1) */
	if ((strcmp(e->name, "maxpool") == 0 || strcmp(e->name, "avgpool") == 0) &&
	    (npos(e) == 2 || (e->narg > 1 && e->kw[1] && (strcmp(e->kw[1], "k") == 0))))
		return nn_layer_apply(b, sc, NULL, e);
	for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
		if (strcmp(e->name, builtins[i]) == 0)
			return call_builtin(b, sc, e);
	Op op = ir_op_parse(e->name, strlen(e->name));
	if (op != OP_COUNT)
		return call_op(b, sc, op, e);
	if (nn_is_layer(e->name)) {
		nn_err(b->src, &e->tok, "declare it first: param l1: linear(784 -> 10), then l1(x)",
		       "'%s' is a layer kind, not a function", e->name);
		return nn_err_val();
	}
	const char *names[1024];
	int n = nn_callable_names(b, sc, names, 1024);
	const char *near = nn_nearest(e->name, names, n);
	char h[128];
	if (near)
		snprintf(h, sizeof h, "did you mean '%s'?", near);
	nn_err(b->src, &e->tok, near ? h : NULL, "unknown function '%s'", e->name);
	return nn_err_val();
}
