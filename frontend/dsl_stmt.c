/* dsl_stmt.c — the `.nn` statements (docs/language.md, "Statements"):
 * declarations, bindings, outputs, and the loss / train / augment clauses,
 * then fe_nn_load(), which lexes, parses, runs the model's statements and
 * sets the graph's outputs. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl_impl.h"

/* A statement that only the model level may hold. */
static bool top_only(NnB *b, NnScope *sc, const NnStmt *st, const char *what)
{
	if (sc == &b->top)
		return true;
	nn_err(b->src, &st->tok, "blocks hold params, bindings and one return", "%s inside a block",
	       what);
	return false;
}

static char *tokdup(NnB *b, const NnTok *t)
{
	char *s = arena_alloc(b->a, (size_t)t->len + 1);
	memcpy(s, t->s, (size_t)t->len);
	return s;
}

/* Reads a type; symbolic dims allowed for inputs and labels (sym). */
static int read_type(NnB *b, NnScope *sc, const NnType *ty, bool sym, DType *dt, Shape *s)
{
	*dt = ir_dtype_parse(ty->dtype.s, (size_t)ty->dtype.len);
	if (*dt == DT_UNDEF) {
		static const char *const dts[] = {"f32", "f64", "f16", "bf16", "i8", "u8", "i16",
						  "u16", "i32", "u32", "i64", "u64", "bool"};
		char w[64], h[96];
		snprintf(w, sizeof w, "%.*s", ty->dtype.len > 60 ? 60 : ty->dtype.len, ty->dtype.s);
		const char *near = nn_nearest(w, dts, (int)(sizeof dts / sizeof *dts));
		if (near)
			snprintf(h, sizeof h, "did you mean '%s'?", near);
		return nn_err(b->src, &ty->dtype, near ? h : "dtypes: f32 f64 f16 bf16 i8 u8 i16 u16 i32 "
			      "u32 i64 u64 bool", "unknown dtype '%s'", w);
	}
	s->rank = ty->rank;
	for (int i = 0; i < ty->rank; i++) {
		const NnExpr *e = ty->dim[i];
		s->d[i].sym = 0;
		if (e->kind == NE_NAME && !sym && !nn_lookup(b, sc, e->name))
			return nn_err(b->src, &e->tok, "only inputs and labels have symbolic dims",
				      "a parameter's dims are numbers ('%s' is not one)", e->name);
		if (e->kind == NE_NAME && sym && !nn_lookup(b, sc, e->name)) {
			s->d[i].n = -1;
			s->d[i].sym = ir_sym(b->g, e->name);
			continue;
		}
		NnVal v = nn_eval(b, sc, e);
		int64_t n;
		if (nn_int_arg(b, &v, &e->tok, "a dim", 0, INT32_MAX, &n) < 0)
			return -1;
		s->d[i].n = n;
	}
	return 0;
}

static void run_input(NnB *b, NnScope *sc, const NnStmt *st)
{
	DType dt;
	Shape s;
	NnSym *y = nn_define(b, sc, &st->name[0], SY_ERROR);
	if (!y || read_type(b, sc, &st->type, true, &dt, &s) < 0)
		return;
	if (st->kind == NS_LABEL) {
		for (int i = 0; i < sc->nsym; i++)
			if (sc->sym[i].kind == SY_LABEL) {
				nn_err(b->src, &st->tok, NULL, "a second label (the first is '%s')", sc->sym[i].name);
				return;
			}
		y->kind = SY_LABEL;
		y->ldtype = dt;
		y->lshape = s;
		return;
	}
	y->kind = SY_TENSOR;
	y->v[0] = ir_add_input(b->g, y->name, dt, s);
	y->nv = 1;
}

static void run_param(NnB *b, NnScope *sc, const NnStmt *st)
{
	NnSym *y = nn_define(b, sc, &st->name[0], SY_ERROR);
	if (!y)
		return;
	char *q = arena_printf(b->a, "%s%s", sc->prefix, y->name);
	if (st->has_type) {
		DType dt;
		Shape s;
		if (read_type(b, sc, &st->type, false, &dt, &s) < 0)
			return;
		int v = nn_param_init(b, sc, q, dt, s, st->e);
		if (v >= 0) {
			y->kind = SY_TENSOR;
			y->v[0] = v;
			y->nv = 1;
		}
		return;
	}
	const NnExpr *e = st->e;
	if (!nn_is_layer(e->name)) {
		NnSym *s = nn_lookup(b, sc, e->name);
		if (s && s->kind == SY_BLOCK) {
			nn_err(b->src, &e->tok, "instantiate a block by binding its call: r1 = block(x, ...)",
			       "'%s' is a block, not a layer", e->name);
			return;
		}
		static const char *const layers[] = {"linear", "conv", "conv_transpose", "batch_norm",
						     "embedding", "dropout", "maxpool", "avgpool", "lstm",
						     "gru", "rnn"};
		const char *near = nn_nearest(e->name, layers, (int)(sizeof layers / sizeof *layers));
		char h[160];
		if (near)
			snprintf(h, sizeof h, "did you mean '%s'?", near);
		else
			snprintf(h, sizeof h, "layers: linear conv conv_transpose batch_norm embedding dropout "
				 "maxpool avgpool lstm gru rnn");
		nn_err(b->src, &e->tok, h, "unknown layer '%s'", e->name);
		return;
	}
	const char *save = b->let;
	b->let = q;
	NnLayer *l = nn_layer_new(b, sc, q, e);
	b->let = save;
	if (l) {
		y->kind = SY_LAYER;
		y->layer = l;
	}
}

static void run_let(NnB *b, NnScope *sc, const NnStmt *st)
{
	NnSym *ys[NN_MAX_OUT];
	int n = st->nname;
	if (n > NN_MAX_OUT) {
		nn_err(b->src, &st->name[NN_MAX_OUT], NULL, "at most %d names in one binding", NN_MAX_OUT);
		return;
	}
	for (int i = 0; i < n; i++)
		if (!(ys[i] = nn_define(b, sc, &st->name[i], SY_ERROR)))
			return;
	const char *save = b->let;
	b->let = arena_printf(b->a, "%s%s", sc->prefix, ys[0]->name);
	b->nlet_blocks = 0;
	int first = b->g->nval;
	NnVal v = nn_eval(b, sc, st->e);
	if (v.kind == SY_TENSOR && v.nv != n) {
		nn_err(b->src, &st->name[0], NULL, "%d name%s bound to %d value%s", n, n > 1 ? "s" : "",
		       v.nv, v.nv > 1 ? "s" : "");
		v.kind = SY_ERROR;
	} else if (v.kind == SY_NUM && n != 1) {
		nn_err(b->src, &st->name[0], NULL, "%d names bound to one number", n);
		v.kind = SY_ERROR;
	}
	for (int i = 0; i < n && v.kind != SY_ERROR; i++) {
		ys[i]->kind = v.kind;
		ys[i]->num = v.num;
		ys[i]->is_int = v.is_int;
		if (v.kind != SY_TENSOR)
			continue;
		ys[i]->v[0] = v.v[i];
		ys[i]->nv = 1;
		Value *x = &b->g->val[v.v[i]];
		if (v.v[i] >= first && x->kind == VK_NODE) {
			/* a fresh value: give it the binding's name */
			const char *q = arena_printf(b->a, "%s%s", sc->prefix, ys[i]->name);
			ir_rename_value(b->g, v.v[i], ir_unique_name(b->g, q));
		}
	}
	b->let = save;
}

static void run_output(NnB *b, NnScope *sc, const NnStmt *st)
{
	for (int i = 0; i < st->nname; i++) {
		NnExpr e = {.kind = NE_NAME, .tok = st->name[i], .name = tokdup(b, &st->name[i])};
		NnVal v = nn_eval(b, sc, &e);
		int x = nn_tensor_arg(b, &v, &e.tok, "an output");
		if (x < 0)
			continue;
		for (int k = 0; k < b->nout; k++)
			if (b->out[k] == x) {
				nn_err(b->src, &e.tok, NULL, "'%s' is already an output", e.name);
				x = -1;
				break;
			}
		if (x < 0)
			continue;
		if (b->nout == NN_MAX_MODEL_OUT) {
			nn_err(b->src, &e.tok, NULL, "more than %d outputs", NN_MAX_MODEL_OUT);
			return;
		}
		b->out[b->nout++] = x;
	}
}

/* One number as "%.17g" trimmed to what reads back (0.001, not 0.00100...). */
static void fmt_num(char *buf, size_t n, double v)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void run_train(NnB *b, const NnStmt *st)
{
	static const char *const opts[] = {"sgd", "adam", "adamw"};
	static const char *const sgd_keys[] = {"lr", "momentum", "dampening", "nesterov", "weight_decay"};
	static const char *const adam_keys[] = {"lr", "beta1", "beta2", "eps", "weight_decay"};
	const NnExpr *e = st->e;
	if (b->cl->optimizer[0]) {
		nn_err(b->src, &st->tok, NULL, "a second train statement");
		return;
	}
	int o = -1;
	for (int i = 0; i < 3; i++)
		if (strcmp(e->name, opts[i]) == 0)
			o = i;
	if (o < 0) {
		const char *near = nn_nearest(e->name, opts, 3);
		char h[96];
		snprintf(h, sizeof h, near ? "did you mean '%s'?" : "optimizers: sgd adam adamw", near);
		nn_err(b->src, &e->tok, h, "unknown optimizer '%s'", e->name);
		return;
	}
	const char *const *keys = o == 0 ? sgd_keys : adam_keys;
	double val[5] = {0, 0, 0, 0, 0};
	char spec[256];
	int k = snprintf(spec, sizeof spec, "%s", e->name);
	for (int i = 0; i < e->narg; i++) {
		if (!e->kw[i]) {
			nn_err(b->src, &e->arg[i]->tok, NULL, "optimizer settings are KEY=VALUE (e.g. lr=0.01)");
			return;
		}
		int j = -1;
		for (int q = 0; q < 5; q++)
			if (strcmp(e->kw[i], keys[q]) == 0)
				j = q;
		if (j < 0) {
			const char *near = nn_nearest(e->kw[i], keys, 5);
			char h[160];
			if (near)
				snprintf(h, sizeof h, "did you mean '%s'?", near);
			else
				snprintf(h, sizeof h, "%s takes %s %s %s %s %s", e->name, keys[0], keys[1],
					 keys[2], keys[3], keys[4]);
			nn_err(b->src, &e->kwtok[i], h, "%s has no setting '%s'", e->name, e->kw[i]);
			return;
		}
		NnVal v = nn_eval(b, &b->top, e->arg[i]);
		if (v.kind == SY_ERROR)
			return;
		if (v.kind != SY_NUM || v.num < 0) {
			nn_err(b->src, &e->arg[i]->tok, NULL, "%s must be a number >= 0", e->kw[i]);
			return;
		}
		if (o > 0 && (j == 1 || j == 2) && v.num >= 1) {
			nn_err(b->src, &e->arg[i]->tok, NULL, "%s must be below 1", e->kw[i]);
			return;
		}
		val[j] = v.num;
		char num[64];
		fmt_num(num, sizeof num, v.num);
		k += snprintf(spec + k, sizeof spec - (size_t)k, "%c%s=%s", i ? ',' : ':', e->kw[i], num);
		if (k >= (int)sizeof spec - 1)
			return;
	}
	if (o == 0 && val[3] != 0 && (val[1] <= 0 || val[2] != 0)) {
		nn_err(b->src, &e->tok, "as in PyTorch: sgd(lr=0.1, momentum=0.9, nesterov=1)",
		       "nesterov needs a momentum and zero dampening");
		return;
	}
	snprintf(b->cl->optimizer, sizeof b->cl->optimizer, "%s", spec);
}

static void run_augment(NnB *b, NnScope *sc, const NnStmt *st)
{
	if (b->cl->augment[0]) {
		nn_err(b->src, &st->tok, NULL, "a second augment statement");
		return;
	}
	char *name = tokdup(b, &st->name[0]);
	NnSym *s = nn_lookup(b, sc, name);
	if (!s || s->kind != SY_TENSOR || b->g->val[s->v[0]].kind != VK_INPUT ||
	    b->g->val[s->v[0]].shape.rank != 4 || b->g->val[s->v[0]].dtype != DT_F32) {
		nn_err(b->src, &st->name[0], NULL, "augment needs an input of type f32[N, C, H, W]%s",
		       s ? "" : " declared before it");
		return;
	}
	char spec[256];
	int k = snprintf(spec, sizeof spec, "%s:", name);
	for (int i = 0; i < st->nlist; i++) {
		const NnExpr *t = st->list[i];
		const char *tn = t->kind == NE_NAME || t->kind == NE_CALL ? t->name : "";
		bool hflip = strcmp(tn, "hflip") == 0, crop = strcmp(tn, "crop") == 0,
		     contrast = strcmp(tn, "contrast") == 0;
		if (!hflip && !crop && !contrast) {
			static const char *const ts[] = {"hflip", "crop", "contrast"};
			const char *near = nn_nearest(tn, ts, 3);
			char h[96];
			snprintf(h, sizeof h, near ? "did you mean '%s'?" : "transforms: hflip crop(P) contrast(C)",
				 near);
			nn_err(b->src, &t->tok, h, "unknown augmentation '%s'", tn);
			return;
		}
		if (hflip != (t->kind == NE_NAME) || (t->kind == NE_CALL && t->narg != 1)) {
			nn_err(b->src, &t->tok, "write hflip, crop(P) or contrast(C)",
			       "wrong arguments for augmentation '%s'", tn);
			return;
		}
		char arg[64] = "";
		if (!hflip) {
			NnVal v = nn_eval(b, sc, t->arg[0]);
			int64_t p;
			if (crop && nn_int_arg(b, &v, &t->arg[0]->tok, "crop's padding", 0, 64, &p) < 0)
				return;
			if (contrast && (v.kind != SY_NUM || v.num < 0 || v.num > 1)) {
				nn_err(b->src, &t->arg[0]->tok, NULL, "contrast must be a number in [0, 1]");
				return;
			}
			arg[0] = '=';
			fmt_num(arg + 1, sizeof arg - 1, v.num);
		}
		k += snprintf(spec + k, sizeof spec - (size_t)k, "%s%s%s", i ? "," : "", tn, arg);
		if (k >= (int)sizeof spec - 1)
			return;
	}
	snprintf(b->cl->augment, sizeof b->cl->augment, "%s", spec);
}

void nn_run(NnB *b, NnScope *sc, NnStmt *st, NnVal *ret)
{
	for (; st; st = st->next) {
		switch (st->kind) {
		case NS_MODEL:
			if (top_only(b, sc, st, "model")) {
				if (b->named)
					nn_err(b->src, &st->tok, NULL, "a second model statement");
				b->named = true;
				b->g->name = ir_strdup(b->g, tokdup(b, &st->name[0]));
			}
			break;
		case NS_SEED: {
			NnVal v = nn_eval(b, sc, st->e);
			int64_t s;
			if (!top_only(b, sc, st, "seed") ||
			    nn_int_arg(b, &v, &st->e->tok, "the seed", 0, INT32_MAX, &s) < 0)
				break;
			if (b->nparams > 0)
				nn_err(b->src, &st->tok, "put seed before the first param",
				       "seed after parameters were drawn");
			b->seed = (uint64_t)s;
			break;
		}
		case NS_INPUT:
		case NS_LABEL:
			if (top_only(b, sc, st, st->kind == NS_INPUT ? "input" : "label"))
				run_input(b, sc, st);
			break;
		case NS_PARAM:
			run_param(b, sc, st);
			break;
		case NS_LET:
			run_let(b, sc, st);
			break;
		case NS_OUTPUT:
			if (top_only(b, sc, st, "output"))
				run_output(b, sc, st);
			break;
		case NS_LOSS:
			if (top_only(b, sc, st, "loss"))
				nn_run_loss(b, st);
			break;
		case NS_TRAIN:
			if (top_only(b, sc, st, "train"))
				run_train(b, st);
			break;
		case NS_AUGMENT:
			if (top_only(b, sc, st, "augment"))
				run_augment(b, sc, st);
			break;
		case NS_BLOCK: {
			NnSym *y = nn_define(b, sc, &st->name[0], SY_BLOCK);
			if (y)
				y->block = st;
			break;
		}
		case NS_RETURN:
			if (!ret) {
				nn_err(b->src, &st->tok, "the model names its results with `output`",
				       "return outside a block");
				break;
			}
			if (ret->kind != SY_ERROR || ret->nv) {
				nn_err(b->src, &st->tok, NULL, "a second return in the block");
				break;
			}
			for (int i = 0; i < st->nlist && i < NN_MAX_OUT; i++) {
				NnVal v = nn_eval(b, sc, st->list[i]);
				int x = nn_tensor_arg(b, &v, &st->list[i]->tok, "a returned value");
				if (x < 0) {
					ret->nv = -1;
					break;
				}
				ret->v[ret->nv++] = x;
			}
			if (ret->nv > 0)
				ret->kind = SY_TENSOR;
			break;
		}
	}
}

/* The file's basename without extension, as a C identifier, into buf. */
static void model_name(const char *file, char *buf)
{
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	int n = 0;
	if (!isalpha((unsigned char)*base) && *base != '_')
		buf[n++] = 'm';
	for (const char *p = base; *p && *p != '.' && n < 120; p++)
		buf[n++] = isalnum((unsigned char)*p) ? *p : '_';
	buf[n] = 0;
}

Graph *fe_nn_load_mem(const char *src, size_t len, const char *display_name, bool train,
		      NnClauses *cl, Diag *d)
{
	const char *file = display_name ? display_name : "<model>";
	NnClauses local;
	if (!cl)
		cl = &local;
	memset(cl, 0, sizeof *cl);
	NnSrc s;
	memset(&s, 0, sizeof s);
	s.file = file;
	s.d = d;
	char *text = xmalloc(len + 1);
	memcpy(text, src, len);
	text[len] = 0;
	if (memchr(src, 0, len)) {
		diag(d, "%s: error: the file holds a NUL byte (not a text file)", file);
		free(text);
		return NULL;
	}
	s.text = text;
	s.len = len;
	nn_lex(&s);
	Arena a = {0};
	NnStmt *prog = nn_parse(&s, &a);
	char gname[128];
	model_name(file, gname);
	Graph *g = ir_graph_new(gname);
	NnB b;
	memset(&b, 0, sizeof b);
	b.src = &s;
	b.g = g;
	b.a = &a;
	b.train = train;
	b.cl = cl;
	b.top.prefix = "";
	b.let = "model";
	b.loss_out = -1;
	if (s.nerr == 0) {
		nn_run(&b, &b.top, prog, NULL);
		if (b.nout == 0 && s.nerr == 0)
			nn_err(&s, &s.tok[s.ntok - 1], "name the model's results: output logits",
			       "the model has no output statement");
	}
	if (s.nerr == 0) {
		if (train && b.loss_out >= 0) {
			ir_add_output(g, b.loss_out);
			for (int i = 0; i < b.nloss_terms; i++)
				ir_add_output(g, b.loss_terms[i]);
		} else {
			for (int i = 0; i < b.nout; i++)
				ir_add_output(g, b.out[i]);
		}
	}
	free(b.top.sym);
	free(b.names);
	arena_free(&a);
	free(s.tok);
	free(text);
	if (s.nerr) {
		ir_graph_free(g);
		return NULL;
	}
	return g;
}

Graph *fe_nn_load(const char *path, bool train, NnClauses *cl, Diag *d)
{
	size_t len;
	char *src = read_file(path, &len, d);
	if (!src)
		return NULL;
	Graph *g = fe_nn_load_mem(src, len, path, train, cl, d);
	free(src);
	return g;
}
