/* pipeline.c — the inference pipeline, one pass after another, top to
 * bottom: shapes, canonicalize, (--train: loss, autodiff and optimizer,
 * train.c), then from -O1 the simplifications (fold,
 * algebraic, cse, bnfold, fold again), DCE, (--max-memory's choices:
 * early updates and recomputation, remat.c) and fusion. --passes=LIST runs
 * exactly the listed passes after shape inference instead (golden tests).
 * --print-after=PASS|all dumps parseable text IR after a pass; debug
 * builds verify the graph between passes. */
#include "passes.h"

#include <string.h>

static int after(Graph *g, const Options *o, const char *pass, Diag *d)
{
	if (o->print_after && (strcmp(o->print_after, "all") == 0 || strcmp(o->print_after, pass) == 0)) {
		FILE *f = o->dump ? o->dump : stderr;
		fprintf(f, "# after %s\n", pass);
		ir_print(g, f, 0);
	}
#ifndef NDEBUG
	Diag vd;
	diag_init(&vd);
	if (ir_verify(g, &vd) < 0) {
		diag(d, "internal error: IR invalid after pass %s:\n%s", pass, vd.msg);
		return -1;
	}
#else
	(void)d;
#endif
	return 0;
}

/* Pass names accepted by --print-after, in pipeline order. */
const char *const ps_pass_names[] = {"import", "shapes", "canon", "train", "fold", "algebraic", "cse",
	"bnfold", "dce", "fuse", NULL};

/* The passes --passes=LIST may name. */
typedef void (*PassFn)(Graph *g, const Options *o);
static const struct {
	const char *name; /* as in --passes and --print-after */
	PassFn fn;
} passes[] = {
	{"canon", ps_canonicalize}, {"fold", ps_fold}, {"algebraic", ps_algebraic},
	{"cse", ps_cse}, {"bnfold", ps_bnfold}, {"dce", ps_dce}, {"fuse", ps_fuse},
};
enum { NPASSES = sizeof passes / sizeof *passes };

static int run(Graph *g, const Options *o, const char *name, Diag *d)
{
	for (int i = 0; i < NPASSES; i++)
		if (strcmp(passes[i].name, name) == 0) {
			passes[i].fn(g, o);
			return after(g, o, name, d);
		}
	return diag(d, "--passes: unknown pass '%s'", name);
}

/* Calls f(entry) for each comma-separated entry of list; stops at -1. */
static int each_pass(const char *list, int (*f)(const char *name, void *ctx), void *ctx)
{
	const char *p = list;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char name[64];
		if (n >= sizeof name)
			n = sizeof name - 1;
		memcpy(name, p, n);
		name[n] = 0;
		if (n && f(name, ctx) < 0) /* empty entries: nothing */
			return -1;
		if (!e)
			return 0;
		p = e + 1;
	}
}

static int check_one(const char *name, void *ctx)
{
	for (int i = 0; i < NPASSES; i++)
		if (strcmp(passes[i].name, name) == 0)
			return 0;
	return diag(ctx, "--passes: unknown pass '%s' (known: canon, fold, algebraic, cse, bnfold, "
		"dce, fuse)", name);
}

int ps_check_passes(const char *list, Diag *d)
{
	return each_pass(list, check_one, d);
}

typedef struct RunCtx {
	Graph *g;         /* graph being compiled */
	const Options *o; /* options */
	Diag *d;          /* errors */
} RunCtx;

static int run_one(const char *name, void *ctx)
{
	RunCtx *r = ctx;
	return run(r->g, r->o, name, r->d);
}

int ps_pipeline(Graph *g, const Options *o, Diag *d)
{
	if (after(g, o, "import", d) < 0)
		return -1;
	if (ps_bind_shapes(g, o, d) < 0 || ps_infer_shapes(g, d) < 0)
		return -1;
	if (after(g, o, "shapes", d) < 0)
		return -1;
	if (o->passes) { /* --passes=LIST: exactly those, for golden tests */
		RunCtx r = {g, o, d};
		return each_pass(o->passes, run_one, &r);
	}
	if (run(g, o, "canon", d) < 0) /* needed by codegen, so at -O0 too */
		return -1;
	if (ps_gradients(g, d) < 0) /* ONNX's Gradient nodes, if any */
		return -1;
	if (o->train && (ps_train(g, o->train, d) < 0 || after(g, o, "train", d) < 0))
		return -1; /* loss, autodiff, optimizer: before fusion sees the step */
	if (o->opt_level >= 1) {
		if (run(g, o, "fold", d) < 0 || run(g, o, "algebraic", d) < 0 ||
			run(g, o, "cse", d) < 0 || run(g, o, "bnfold", d) < 0 ||
			run(g, o, "fold", d) < 0) /* what bnfold and the rest exposed */
			return -1;
	}
	if (run(g, o, "dce", d) < 0)
		return -1;
	/* training: each optimizer update right after its gradient, backward
	 * work that lets a forward value die early moved into the forward
	 * pass, and the values free to recompute recomputed (remat.c); after
	 * CSE (which would merge a clone with its original), before fusion */
	if (o->train && o->opt_level >= 1) {
		ps_remat_early_updates(g);
		ps_remat_hoist(g);
		int n = ps_remat_free(g, d);
		if (n < 0 || (n > 0 && run(g, o, "dce", d) < 0))
			return -1;
	}
	if (o->train && o->train->nremat > 0) { /* --max-memory's choices */
		if (ps_remat(g, o->train->remat, o->train->nremat, d) < 0 || after(g, o, "remat", d) < 0)
			return -1;
	}
	if (o->train && o->opt_level >= 1) { /* a ReLU recomputed only for its mask then goes */
		int n = ps_remat_masks(g, d);
		if (n < 0 || (n > 0 && run(g, o, "dce", d) < 0))
			return -1;
		ps_sink(g); /* backward work right before its readers (sink.c) */
	}
	/* fusion: kernel groups over the final graph (clears every group at -O0) */
	if (run(g, o, "fuse", d) < 0)
		return -1;
	return 0;
}
