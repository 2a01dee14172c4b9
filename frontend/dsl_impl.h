/* dsl_impl.h — internals of the `.nn` frontend, shared by its files:
 * dsl_lex.c (source, tokens, diagnostics), dsl_parse.c (recursive-descent
 * parser to an AST), dsl_build.c (elaboration of the AST into a Graph),
 * dsl_call.c (calls: IR ops, builtins, blocks), dsl_layer.c (layer sugar),
 * dsl_init.c (initializers and their random numbers), dsl_rnn.c (lstm,
 * gru, rnn unrolled). Not used outside frontend/. */
#ifndef NNCC_DSL_IMPL_H
#define NNCC_DSL_IMPL_H

#include <string.h>
#include "../ir/ir.h"
#include "dsl.h"

/* --- source and tokens (dsl_lex.c) --- */
typedef enum NnTokKind {
	TK_EOF,    /* end of input */
	TK_NL,     /* end of a statement line */
	TK_IDENT,  /* name */
	TK_NUM,    /* number literal */
	TK_STR,    /* "string" */
	TK_PUNCT,  /* operator or punctuation, text in s[0..len) */
} NnTokKind;

typedef struct NnTok {
	NnTokKind kind; /* what it is */
	const char *s;  /* first byte in the source */
	int len;        /* bytes */
	int line, col;  /* 1-based position */
	double num;     /* TK_NUM: value */
	bool is_int;    /* TK_NUM: written without '.' or exponent */
} NnTok;

typedef struct NnSrc {
	const char *file; /* name in messages */
	const char *text; /* NUL-terminated copy of the source */
	size_t len;       /* bytes of text */
	NnTok *tok;       /* every token, TK_EOF last */
	int ntok, captok; /* tokens used, allocated */
	Diag *d;          /* where errors go */
	int nerr;         /* errors reported */
} NnSrc;

/* Tokenizes s->text; lexical errors are reported (and the bad bytes
 * skipped), so the token list is always usable. */
void nn_lex(NnSrc *s);
/* Reports "file:line:col: error: MSG", the source line and a caret under t
 * (hint: an extra "hint: ..." line, or NULL). Returns -1. */
int nn_err(NnSrc *s, const NnTok *t, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
bool nn_tok_is(const NnTok *t, const char *p); /* punctuation or identifier p */
/* The candidate nearest to name by edit distance (at most a third of the
 * name's length rounded up, and less than the whole name, away), or NULL. */
const char *nn_nearest(const char *name, const char *const *cand, int n);

/* --- syntax tree (dsl_parse.c) --- */
typedef enum NnExprKind {
	NE_NUM,   /* number literal */
	NE_STR,   /* string literal */
	NE_NAME,  /* reference to a name */
	NE_CALL,  /* name(args) */
	NE_BIN,   /* a op b: op one of + - * / @ */
	NE_NEG,   /* -a */
	NE_LIST,  /* [a, b, ...] */
	NE_ARROW, /* a -> b (layer sizes) */
} NnExprKind;

typedef struct NnExpr {
	NnExprKind kind;      /* what it is */
	NnTok tok;            /* where it starts (name, operator, literal) */
	char op;              /* NE_BIN: '+', '-', '*', '/', '@' */
	const char *name;     /* NE_NAME, NE_CALL: the name; NE_STR: the text */
	double num;           /* NE_NUM: the value */
	bool is_int;          /* NE_NUM: an integer literal */
	struct NnExpr *a, *b; /* NE_BIN, NE_ARROW operands; NE_NEG: a */
	struct NnExpr **arg;  /* NE_CALL, NE_LIST: the arguments */
	const char **kw;      /* NE_CALL: keyword of each argument, NULL if positional */
	NnTok *kwtok;         /* NE_CALL: keyword tokens (kw[i] != NULL) */
	int narg;             /* entries of arg */
	int depth;            /* operator-tree depth (NE_BIN, NE_NEG chains; 0 otherwise) */
} NnExpr;

typedef enum NnStmtKind {
	NS_MODEL,   /* model NAME */
	NS_SEED,    /* seed INT */
	NS_INPUT,   /* input NAME: TYPE */
	NS_LABEL,   /* label NAME: TYPE */
	NS_PARAM,   /* param NAME: TYPE = INIT  or  param NAME: LAYER(...) */
	NS_LET,     /* a[, b] = EXPR */
	NS_OUTPUT,  /* output a, b */
	NS_LOSS,    /* loss = EXPR */
	NS_TRAIN,   /* train OPT(k=v, ...) */
	NS_AUGMENT, /* augment x: t, t(v), ... */
	NS_BLOCK,   /* block NAME(args) { stmts } */
	NS_RETURN,  /* return a[, b] */
} NnStmtKind;

typedef struct NnType {
	NnTok dtype;    /* dtype name token */
	NnExpr **dim;   /* dims (numbers, names, number expressions) */
	int rank;       /* entries of dim */
} NnType;

typedef struct NnStmt {
	NnStmtKind kind;        /* what it is */
	NnTok tok;              /* first token (messages) */
	NnTok *name;            /* names: model/input/label/param/block/let targets/outputs */
	int nname;              /* entries of name */
	bool has_type;          /* input, label, param with a type */
	NnType type;            /* the type */
	NnExpr *e;              /* initializer, layer, let/loss value, train optimizer call,
	                           seed value */
	NnExpr **list;          /* augment transforms, return values */
	int nlist;              /* entries of list */
	struct NnStmt *body;    /* NS_BLOCK: statements, linked by next */
	struct NnStmt *next;    /* following statement */
} NnStmt;

/* Parses s's tokens into statements (a linked list); syntax errors are
 * reported and the parser resynchronizes at the next line. */
NnStmt *nn_parse(NnSrc *s, Arena *a);

/* --- elaboration (dsl_build.c and friends) --- */
typedef enum NnSymKind {
	SY_TENSOR, /* a graph value (or values: a multi-output call) */
	SY_NUM,    /* a number (block argument, dims) */
	SY_LAYER,  /* a layer instance from `param NAME: LAYER(...)` */
	SY_BLOCK,  /* a block definition */
	SY_LABEL,  /* the label: used only by the loss */
	SY_ERROR,  /* its definition failed: uses stay quiet */
} NnSymKind;

enum { NN_MAX_OUT = 8, NN_MAX_LPARAM = 8, NN_MAX_MODEL_OUT = 64 };

/* A layer instance: its kind, configuration and parameter values. */
typedef struct NnLayer {
	const char *kind;         /* "linear", "conv", ... */
	int64_t cfg[24];          /* kind-specific integers (dsl_layer.c) */
	double fcfg[4];           /* kind-specific numbers (eps, momentum, ratio) */
	int p[NN_MAX_LPARAM];     /* parameter values, -1 when absent */
	int np;                   /* entries of p */
} NnLayer;

typedef struct NnSym {
	const char *name;   /* the name in its scope */
	NnSymKind kind;     /* what it binds */
	int v[NN_MAX_OUT];  /* SY_TENSOR, SY_LABEL: value indices (SY_LABEL: -1) */
	int nv;             /* entries of v */
	double num;         /* SY_NUM */
	bool is_int;        /* SY_NUM: an integer */
	NnLayer *layer;     /* SY_LAYER */
	NnStmt *block;      /* SY_BLOCK */
	NnTok tok;          /* where it was defined */
	DType ldtype;       /* SY_LABEL: declared dtype */
	Shape lshape;       /* SY_LABEL: declared shape */
} NnSym;

/* One scope: the model, or one block instance (its prefix names its values). */
typedef struct NnScope {
	NnSym *sym;               /* bindings in order */
	int nsym, capsym;         /* used, allocated */
	const char *prefix;       /* "" at model level, "r1." inside instance r1 */
	struct NnScope *up;       /* the model scope for a block instance, else NULL */
	int depth;                /* block nesting (recursion limit) */
} NnScope;

/* The result of an expression. */
typedef struct NnVal {
	NnSymKind kind;     /* SY_TENSOR, SY_NUM, or SY_ERROR after a reported error */
	int v[NN_MAX_OUT];  /* SY_TENSOR: values */
	int nv;             /* entries of v */
	double num;         /* SY_NUM */
	bool is_int;        /* SY_NUM: integral */
} NnVal;

/* An error value (reported already), and a tensor value of graph value v
 * (an error when v < 0). */
static inline NnVal nn_err_val(void)
{
	NnVal r;
	memset(&r, 0, sizeof r);
	r.kind = SY_ERROR;
	return r;
}

static inline NnVal nn_tensor_val(int v)
{
	NnVal r = nn_err_val();
	if (v >= 0) {
		r.kind = SY_TENSOR;
		r.v[0] = v;
		r.nv = 1;
	}
	return r;
}

/* The next suffix of one generated-name base (dsl_build.c, nn_fresh). */
typedef struct NnName {
	const char *base; /* "h/add"; NULL marks an empty slot */
	int next;         /* next suffix to try: 0 is the bare base */
} NnName;

typedef struct NnB {
	NnSrc *src;          /* source, tokens, messages */
	Graph *g;            /* the graph being built */
	Arena *a;            /* AST and scratch strings */
	bool train;          /* training-mode layers */
	uint64_t seed;       /* initializer seed (`seed` statement, default 0) */
	NnScope top;         /* model scope */
	const char *let;     /* qualified name of the binding being built ("h", "r1.h") */
	int nlet_blocks;     /* block instances made in this binding (naming) */
	NnClauses *cl;       /* clauses found */
	int loss_out;        /* loss's model output value, -1 */
	int loss_terms[NN_MAX_OUT]; /* extra loss-term values */
	int nloss_terms;     /* entries of loss_terms */
	int out[NN_MAX_MODEL_OUT]; /* the `output` statement's values */
	int nout;            /* entries of out */
	bool named;          /* a `model` statement was seen */
	int nparams;         /* parameters drawn so far */
	const NnStmt *active[16]; /* blocks being instantiated (recursion check) */
	int nactive;         /* entries of active */
	NnName *names;       /* generated-name counters, open addressing */
	int nnames, capnames; /* used, slots (a power of two) */
} NnB;

/* dsl_build.c */
NnSym *nn_lookup(NnB *b, NnScope *sc, const char *name);
NnSym *nn_define(NnB *b, NnScope *sc, const NnTok *t, NnSymKind k);
/* Evaluates e in scope sc; SY_ERROR after a reported error. */
NnVal nn_eval(NnB *b, NnScope *sc, const NnExpr *e);
/* Runs the statements of a body (model or block instance); the block's
 * return values go to *ret when ret is not NULL. */
void nn_run(NnB *b, NnScope *sc, NnStmt *st, NnVal *ret);
/* Adds op over in[] named after the binding being built, sets no
 * attributes; returns the node. */
int nn_node(NnB *b, Op op, const int *in, int nin, int nout);
/* Infers node nd's types; its first output, or -1 after an error at t
 * that names the operands' types. */
int nn_infer(NnB *b, int nd, const NnTok *t);
int nn_op1(NnB *b, Op op, int x, const NnTok *t);
int nn_op2(NnB *b, Op op, int x, int y, const NnTok *t);
int nn_ints_op(NnB *b, Op op, int x, const char *attr, const int64_t *v, int n, const NnTok *t);
int nn_scalar(NnB *b, DType dt, double v);
/* A value name not in the graph: base, else base_1, base_2, ... (what
 * ir_unique_name gives, with a counter per base instead of probing from 1,
 * so unrolled layers stay linear). */
const char *nn_fresh(NnB *b, const char *base);
/* A number as an integer; -1 with a message unless it is one in [lo, hi]. */
int nn_int_arg(NnB *b, const NnVal *v, const NnTok *t, const char *what, int64_t lo, int64_t hi,
	       int64_t *out);
/* A tensor with exactly one value; -1 with a message otherwise. */
int nn_tensor_arg(NnB *b, const NnVal *v, const NnTok *t, const char *what);
const char *nn_typestr(NnB *b, int v, char *buf, size_t n); /* "f32[N, 10]" */

/* dsl_loss.c: the loss statement. */
void nn_run_loss(NnB *b, const NnStmt *st);

/* dsl_call.c: a call expression. */
NnVal nn_call(NnB *b, NnScope *sc, const NnExpr *e);
/* Names every call may use (hints). */
int nn_callable_names(NnB *b, NnScope *sc, const char **out, int max);

/* dsl_layer.c: layer sugar. */
bool nn_is_layer(const char *name);
/* Declares layer instance `name` (qualified) from call e: its parameters. */
NnLayer *nn_layer_new(NnB *b, NnScope *sc, const char *qname, const NnExpr *e);
/* Applies layer l to call e's arguments. */
NnVal nn_layer_apply(NnB *b, NnScope *sc, const NnLayer *l, const NnExpr *e);

/* dsl_init.c: initializers. */
bool nn_is_init(const char *name);
/* Adds parameter qname of type dt/s with the values of initializer call
 * e (an NE_CALL or NE_NAME); the value, or -1 after an error. */
int nn_param_init(NnB *b, NnScope *sc, const char *qname, DType dt, Shape s, const NnExpr *e);
/* 0 if a parameter of shape s may be made, else the error (named qname, at t). */
int nn_param_fits(NnB *b, const char *qname, Shape s, const NnTok *t);
/* Built-in initializer by name with numeric arguments (layers' defaults);
 * a too large parameter is an error at t. */
int nn_param_builtin(NnB *b, const char *qname, Shape s, const char *init, double p0, double p1,
		     const NnTok *t);

/* dsl_rnn.c: an lstm, gru or rnn layer applied to x [N, T, in]. */
int nn_rnn_apply(NnB *b, const NnLayer *l, int x, const NnTok *t);

#endif
