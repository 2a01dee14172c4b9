/* dsl_parse.c — recursive-descent parser of the `.nn` language into a
 * statement list (grammar: docs/language.md). One function per rule. A
 * syntax error reports once and skips to the end of the statement's line
 * (a `{` skipped on the way skips its whole block), so every statement
 * gets parsed and several errors come out of one run. */
#include <setjmp.h>
#include <string.h>

#include "dsl_impl.h"

typedef struct P {
	NnSrc *s;       /* tokens, messages */
	Arena *a;       /* AST nodes */
	int i;          /* next token */
	jmp_buf fail;   /* back to the statement loop after an error */
	int bdepth;     /* block nesting */
	int nest;       /* expression nesting (bounded: untrusted input) */
} P;

enum { MAX_NEST = 200, MAX_DEPTH = 1000 }; /* parser recursion, expression tree depth */

static const NnTok *peek(P *p) { return &p->s->tok[p->i]; }
static const NnTok *next(P *p)
{
	const NnTok *t = &p->s->tok[p->i];
	if (t->kind != TK_EOF)
		p->i++;
	return t;
}
static bool is(P *p, const char *x) { return nn_tok_is(peek(p), x); }

static void describe(const NnTok *t, char *buf, size_t n)
{
	if (t->kind == TK_EOF)
		snprintf(buf, n, "end of file");
	else if (t->kind == TK_NL)
		snprintf(buf, n, "end of line");
	else
		snprintf(buf, n, "'%.*s'", t->len > 40 ? 40 : t->len, t->s);
}

static _Noreturn void fail(P *p, const NnTok *t, const char *hint, const char *what)
{
	char got[64];
	describe(t, got, sizeof got);
	nn_err(p->s, t, hint, "expected %s, got %s", what, got);
	longjmp(p->fail, 1);
}

static const NnTok *expect(P *p, const char *x, const char *what)
{
	if (!is(p, x))
		fail(p, peek(p), NULL, what);
	return next(p);
}

static const NnTok *ident(P *p, const char *what)
{
	if (peek(p)->kind != TK_IDENT)
		fail(p, peek(p), NULL, what);
	return next(p);
}

static char *tokstr(P *p, const NnTok *t)
{
	char *s = arena_alloc(p->a, (size_t)t->len + 1);
	memcpy(s, t->s, (size_t)t->len);
	return s;
}

static NnExpr *mk(P *p, NnExprKind k, const NnTok *t)
{
	NnExpr *e = arena_alloc(p->a, sizeof *e);
	e->kind = k;
	e->tok = *t;
	return e;
}

static NnExpr *expr(P *p);

/* Enters one level of recursion at t, failing past MAX_NEST. */
static void enter(P *p, const NnTok *t)
{
	if (++p->nest > MAX_NEST)
		fail(p, t, "split it into several bindings", "a shallower expression (nested too deeply)");
}

/* A binary node over a and b; its tree depth is bounded so that the
 * elaborator's recursion is. */
static NnExpr *bin(P *p, const NnTok *t, NnExpr *a, NnExpr *b)
{
	NnExpr *e = mk(p, NE_BIN, t);
	e->op = t->s[0];
	e->a = a;
	e->b = b;
	e->depth = 1 + (a->depth > b->depth ? a->depth : b->depth);
	if (e->depth > MAX_DEPTH)
		fail(p, t, "split it into several bindings", "a shorter expression (too many operators)");
	return e;
}

/* Makes room for entry n of an arena array that holds n entries (capacity
 * 4, then doubling at each power of two). */
static void *grow(P *p, void *old, int n, size_t elt)
{
	if (n == 0)
		return arena_alloc(p->a, 4 * elt);
	if (n < 4 || (n & (n - 1)))
		return old;
	void *nw = arena_alloc(p->a, (size_t)(2 * n) * elt);
	memcpy(nw, old, (size_t)n * elt);
	return nw;
}

/* arg := [IDENT '='] expr ['->' expr] */
static void arg(P *p, NnExpr *call)
{
	int n = call->narg;
	call->arg = grow(p, call->arg, n, sizeof *call->arg);
	call->kw = grow(p, call->kw, n, sizeof *call->kw);
	call->kwtok = grow(p, call->kwtok, n, sizeof *call->kwtok);
	if (peek(p)->kind == TK_IDENT && nn_tok_is(&p->s->tok[p->i + 1], "=")) {
		call->kwtok[n] = *next(p);
		call->kw[n] = tokstr(p, &call->kwtok[n]);
		next(p);
	}
	NnExpr *e = expr(p);
	if (is(p, "->")) {
		NnExpr *r = mk(p, NE_ARROW, next(p));
		r->a = e;
		r->b = expr(p);
		e = r;
	}
	call->arg[n] = e;
	call->narg++;
}

/* primary := NUM | STR | IDENT ['(' args ')'] | '(' expr ')' | '[' exprs ']' */
static NnExpr *primary(P *p)
{
	const NnTok *t = peek(p);
	if (t->kind == TK_NUM) {
		NnExpr *e = mk(p, NE_NUM, next(p));
		e->num = t->num;
		e->is_int = t->is_int;
		return e;
	}
	if (t->kind == TK_STR) {
		NnExpr *e = mk(p, NE_STR, next(p));
		NnTok in = *t;
		in.s++;
		in.len -= 2;
		e->name = tokstr(p, &in);
		return e;
	}
	if (t->kind == TK_IDENT) {
		next(p);
		if (is(p, "(")) {
			NnExpr *e = mk(p, NE_CALL, t);
			e->name = tokstr(p, t);
			next(p);
			if (!is(p, ")")) {
				arg(p, e);
				while (is(p, ",")) {
					next(p);
					arg(p, e);
				}
			}
			expect(p, ")", "',' or ')' in the argument list");
			return e;
		}
		NnExpr *e = mk(p, NE_NAME, t);
		e->name = tokstr(p, t);
		return e;
	}
	if (nn_tok_is(t, "(")) {
		next(p);
		NnExpr *e = expr(p);
		expect(p, ")", "')'");
		return e;
	}
	if (nn_tok_is(t, "[")) {
		NnExpr *e = mk(p, NE_LIST, next(p));
		if (!is(p, "]")) {
			arg(p, e);
			while (is(p, ",")) {
				next(p);
				arg(p, e);
			}
		}
		expect(p, "]", "',' or ']' in the list");
		return e;
	}
	fail(p, t, NULL, "an expression");
}

/* unary := '-' unary | primary */
static NnExpr *unary(P *p)
{
	enter(p, peek(p));
	NnExpr *e;
	if (is(p, "-")) {
		e = mk(p, NE_NEG, next(p));
		e->a = unary(p);
		e->depth = e->a->depth + 1;
	} else {
		e = primary(p);
	}
	p->nest--;
	return e;
}

/* mul := unary { ('*' | '/' | '@') unary } */
static NnExpr *mul(P *p)
{
	NnExpr *e = unary(p);
	while (is(p, "*") || is(p, "/") || is(p, "@")) {
		const NnTok *t = next(p);
		e = bin(p, t, e, unary(p));
	}
	return e;
}

/* expr := mul { ('+' | '-') mul } */
static NnExpr *expr(P *p)
{
	NnExpr *e = mul(p);
	while (is(p, "+") || is(p, "-")) {
		const NnTok *t = next(p);
		e = bin(p, t, e, mul(p));
	}
	return e;
}

/* type := DTYPE '[' [expr {',' expr}] ']' */
static void type(P *p, NnType *ty)
{
	ty->dtype = *ident(p, "a dtype (f32, i64, ...)");
	expect(p, "[", "'[' and the dims");
	ty->dim = arena_alloc(p->a, IR_MAX_RANK * sizeof *ty->dim);
	if (!is(p, "]")) {
		for (;;) {
			if (ty->rank == IR_MAX_RANK)
				fail(p, peek(p), NULL, "']' (at most 8 dims)");
			ty->dim[ty->rank++] = expr(p);
			if (!is(p, ","))
				break;
			next(p);
		}
	}
	expect(p, "]", "',' or ']' in the dims");
}

static void add_name(P *p, NnStmt *st, const NnTok *t)
{
	st->name = grow(p, st->name, st->nname, sizeof *st->name);
	st->name[st->nname++] = *t;
}

static void add_list(P *p, NnStmt *st, NnExpr *e)
{
	st->list = grow(p, st->list, st->nlist, sizeof *st->list);
	st->list[st->nlist++] = e;
}

static NnStmt *stmts(P *p, bool in_block);

static const char *const keywords[] = {"model", "seed", "input", "label", "param", "output",
				       "train", "augment", "block", "return"};

static NnStmt *stmt(P *p)
{
	NnStmt *st = arena_alloc(p->a, sizeof *st);
	const NnTok *t = peek(p);
	st->tok = *t;
	if (t->kind != TK_IDENT)
		fail(p, t, NULL, "a statement");
	if (nn_tok_is(t, "model")) {
		next(p);
		st->kind = NS_MODEL;
		add_name(p, st, ident(p, "the model's name"));
	} else if (nn_tok_is(t, "seed")) {
		next(p);
		st->kind = NS_SEED;
		st->e = expr(p);
	} else if (nn_tok_is(t, "input") || nn_tok_is(t, "label")) {
		next(p);
		st->kind = nn_tok_is(t, "input") ? NS_INPUT : NS_LABEL;
		add_name(p, st, ident(p, "a name"));
		expect(p, ":", "':' and a type");
		st->has_type = true;
		type(p, &st->type);
	} else if (nn_tok_is(t, "param")) {
		next(p);
		st->kind = NS_PARAM;
		add_name(p, st, ident(p, "the parameter's name"));
		expect(p, ":", "':' and a type or a layer");
		if (peek(p)->kind == TK_IDENT && nn_tok_is(&p->s->tok[p->i + 1], "[")) {
			st->has_type = true;
			type(p, &st->type);
			expect(p, "=", "'=' and an initializer");
			st->e = expr(p);
		} else {
			st->e = expr(p);
			if (st->e->kind != NE_CALL)
				fail(p, &st->e->tok, "write `param NAME: TYPE = INIT` or `param NAME: LAYER(...)`",
				     "a layer call");
		}
	} else if (nn_tok_is(t, "output")) {
		next(p);
		st->kind = NS_OUTPUT;
		add_name(p, st, ident(p, "an output name"));
		while (is(p, ",")) {
			next(p);
			add_name(p, st, ident(p, "an output name"));
		}
	} else if (nn_tok_is(t, "loss") && nn_tok_is(&p->s->tok[p->i + 1], "=")) {
		next(p);
		next(p);
		st->kind = NS_LOSS;
		st->e = expr(p);
	} else if (nn_tok_is(t, "train")) {
		next(p);
		st->kind = NS_TRAIN;
		st->e = primary(p);
		if (st->e->kind != NE_CALL && st->e->kind != NE_NAME)
			fail(p, &st->e->tok, NULL, "an optimizer such as sgd(lr=0.1)");
	} else if (nn_tok_is(t, "augment")) {
		next(p);
		st->kind = NS_AUGMENT;
		add_name(p, st, ident(p, "the input to augment"));
		expect(p, ":", "':' and the transforms");
		add_list(p, st, primary(p));
		while (is(p, ",")) {
			next(p);
			add_list(p, st, primary(p));
		}
	} else if (nn_tok_is(t, "block")) {
		next(p);
		st->kind = NS_BLOCK;
		add_name(p, st, ident(p, "the block's name"));
		expect(p, "(", "'(' and the block's arguments");
		if (!is(p, ")")) {
			add_name(p, st, ident(p, "an argument name"));
			while (is(p, ",")) {
				next(p);
				add_name(p, st, ident(p, "an argument name"));
			}
		}
		expect(p, ")", "',' or ')' in the arguments");
		expect(p, "{", "'{' opening the block's body");
		if (p->bdepth > 0)
			fail(p, t, "define blocks at the top level", "a statement (blocks do not nest)");
		jmp_buf outer;
		memcpy(outer, p->fail, sizeof outer);
		p->bdepth++;
		st->body = stmts(p, true);
		p->bdepth--;
		memcpy(p->fail, outer, sizeof outer);
		expect(p, "}", "'}' closing the block");
	} else if (nn_tok_is(t, "return")) {
		next(p);
		st->kind = NS_RETURN;
		add_list(p, st, expr(p));
		while (is(p, ",")) {
			next(p);
			add_list(p, st, expr(p));
		}
	} else {
		for (size_t k = 0; k < sizeof keywords / sizeof *keywords; k++)
			if (nn_tok_is(t, keywords[k]))
				fail(p, &p->s->tok[p->i + 1], NULL, "what follows the keyword");
		st->kind = NS_LET;
		add_name(p, st, next(p));
		while (is(p, ",")) {
			next(p);
			add_name(p, st, ident(p, "a name"));
		}
		if (!is(p, "=")) {
			const char *hint = NULL;
			static const char *const kw[] = {"model", "seed", "input", "label", "param", "output",
							 "train", "augment", "block", "return", "loss"};
			char w[64];
			snprintf(w, sizeof w, "%.*s", t->len > 60 ? 60 : t->len, t->s);
			const char *near = nn_nearest(w, kw, (int)(sizeof kw / sizeof *kw));
			char h[128];
			if (near && st->nname == 1) {
				snprintf(h, sizeof h, "did you mean the keyword '%s'?", near);
				hint = h;
			}
			fail(p, peek(p), hint, "'=' (a binding NAME = EXPR)");
		}
		next(p);
		st->e = expr(p);
	}
	if (peek(p)->kind != TK_NL && peek(p)->kind != TK_EOF && !(p->bdepth && is(p, "}")))
		fail(p, peek(p), NULL, "end of line");
	return st;
}

/* Skips the rest of a bad statement: to the end of its line, over whole
 * `{ ... }` bodies; inside a block stops before its closing '}'. */
static void resync(P *p, bool in_block)
{
	int depth = 0;
	for (;;) {
		const NnTok *t = peek(p);
		if (t->kind == TK_EOF)
			return;
		if (nn_tok_is(t, "{"))
			depth++;
		if (nn_tok_is(t, "}")) {
			if (depth == 0 && in_block)
				return;
			if (depth > 0)
				depth--;
		}
		if (t->kind == TK_NL && depth == 0)
			return;
		next(p);
	}
}

/* One statement, or NULL after a syntax error (then resynchronized). */
static NnStmt *one(P *p, bool in_block)
{
	int save = p->bdepth;
	if (setjmp(p->fail) == 0)
		return stmt(p);
	p->bdepth = save;
	resync(p, in_block);
	return NULL;
}

static NnStmt *stmts(P *p, bool in_block)
{
	NnStmt head = {0}, *tail = &head;
	for (;;) {
		while (peek(p)->kind == TK_NL)
			next(p);
		if (peek(p)->kind == TK_EOF || (in_block && is(p, "}")))
			break;
		NnStmt *st = one(p, in_block);
		if (st) {
			tail->next = st;
			tail = st;
		}
	}
	return head.next;
}

NnStmt *nn_parse(NnSrc *s, Arena *a)
{
	P p = {.s = s, .a = a};
	NnStmt *st = NULL;
	for (;;) {
		NnStmt *more = stmts(&p, false);
		if (!st) {
			st = more;
		} else {
			NnStmt *t = st;
			while (t->next)
				t = t->next;
			t->next = more;
		}
		if (peek(&p)->kind == TK_EOF)
			break;
	}
	return st;
}
