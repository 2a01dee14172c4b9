/* remat_fit.c — the choice of forward values a training step recomputes
 * in its backward pass (passes/remat.c, docs/memory.md). Each choice is a
 * trial: the model compiled again with the values recomputed and its
 * memory plan measured. By default (not --keep-activations, -O0 or
 * --passes=LIST) the step
 * recomputes the pointwise values of REMAT_CHEAP_MIN bytes or more whose
 * recomputation shrinks the arena by at least a quarter of their size: a
 * pointwise kernel that writes the value once (ResNet-18: the ReLU
 * outputs its convolutions' weight gradients read), against the bytes it
 * frees for the whole forward pass. --max-memory=B then goes on, every
 * candidate tried one by one (cheap classes and large values first), until
 * the plan fits B; where none fits, the chosen values again with every
 * convolution's scratch by the lean rules (runtime/abi.h NNCC_CONV_LEAN),
 * and the other candidates once more. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

enum {
	REMAT_MAX_CAND = 4096,     /* candidates considered at most */
	REMAT_CHEAP_MIN = 1 << 20, /* the default's pointwise values: at least this many bytes */
};

static int cmp_cand(const void *pa, const void *pb)
{
	const RematCand *a = pa, *b = pb;
	if (a->cost != b->cost)
		return a->cost - b->cost;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return strcmp(a->value, b->value);
}

/* Compiles model with the training options t and the recomputed values
 * names[0..n-1], plans it and gives the plan's numbers (and the graph when
 * gout is set); 0, or -1 when this choice does not compile. */
static int remat_trial(const DrvArgs *a, const Options *o, const char *const *names, int n, bool lean,
		       PlanStats *st, Graph **gout, Diag *d)
{
	Options o2 = *o;
	TrainOptions t2 = *o->train;
	t2.remat = names;
	t2.nremat = n;
	o2.train = &t2;
	o2.print_after = NULL;
	Graph *g = drv_load(a->model, &a->cs, a->train, d);
	if (!g)
		return -1;
	g->lean_scratch = lean;
	KernelList kl;
	int rc = -1;
	if ((!a->weights || drv_load_weights(g, a->weights, d) == 0) && ps_pipeline(g, &o2, d) == 0 &&
	    drv_lower_plan(g, &kl, false, d) == 0) {
		cg_plan_stats(&kl, st);
		cg_free(&kl);
		rc = 0;
	}
	if (rc == 0 && gout)
		*gout = g;
	else
		ir_graph_free(g);
	return rc;
}

/* Whether plan a is better than plan b: a smaller arena, or at equal arena
 * a smaller lower bound. */
static bool smaller(const PlanStats *a, const PlanStats *b)
{
	return a->arena < b->arena || (a->arena == b->arena && a->lower_bound < b->lower_bound);
}

bool drv_remat_cheap(const DrvArgs *a)
{
	return a->train && !a->keep_acts && !a->o.passes && a->o.opt_level >= 1;
}

/* Whether c is one of the default's: a pointwise value of REMAT_CHEAP_MIN
 * bytes or more. */
static bool cheap_cand(const RematCand *c)
{
	return c->cost == 0 && c->bytes >= REMAT_CHEAP_MIN;
}

/* Whether the trial's plan st is worth choosing candidate c over the plan
 * so far, cur: in the default pass (cheap), when the arena shrinks by a
 * quarter of c's size or more; under a budget, any smaller plan
 * (smaller()). */
static bool worth(const RematCand *c, const PlanStats *st, const PlanStats *cur, bool cheap)
{
	return cheap ? cur->arena - st->arena >= c->bytes / 4 : smaller(st, cur);
}

/* The candidates' order by size alone, the largest first (then class and
 * name): the budget's second sweep. */
static int cmp_bytes(const void *pa, const void *pb)
{
	const RematCand *a = pa, *b = pb;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->cost != b->cost)
		return a->cost - b->cost;
	return strcmp(a->value, b->value);
}

/* One sweep over cand[0..n) in order, from the choices chosen[0..*nchosen)
 * and their plan *cur (graph *best, or NULL: the caller's): each candidate
 * not chosen yet is tried and kept when worth() it, until a budget's plan
 * fits; pass 0 takes only the default's pointwise values. */
static void sweep(const DrvArgs *a, const Options *o, const RematCand *cand, int n, bool *tried, int pass,
		  int64_t budget, bool lean, const char **chosen, int *nchosen, PlanStats *cur, Graph **best,
		  Graph *keep)
{
	PlanStats st;
	Graph *t = NULL;
	Diag td;
	for (int i = 0; i < n; i++) {
		if (tried[i] || (pass == 0 && !cheap_cand(&cand[i])))
			continue;
		if (pass == 1 && (budget <= 0 || cur->arena <= budget))
			break;
		diag_init(&td);
		chosen[*nchosen] = cand[i].value;
		if (remat_trial(a, o, chosen, *nchosen + 1, lean, &st, &t, &td) < 0) {
			tried[i] = true; /* e.g. its backward readers already read a recomputed copy */
			continue;
		}
		if (worth(&cand[i], &st, cur, pass == 0)) {
			tried[i] = true; /* chosen (one the default declined, a budget may take) */
			++*nchosen;
			*cur = st;
			if (*best && *best != keep)
				ir_graph_free(*best);
			*best = t;
		} else {
			ir_graph_free(t);
		}
	}
}

/* g (already through the pipeline without recomputation): the default
 * pass over the pointwise candidates (unless --keep-activations), then,
 * when the plan is over --max-memory's budget, every other candidate in
 * order (the cheapest class of recomputation first, the largest values
 * first within it), keeping each change that gives a smaller plan, until
 * it fits. A greedy sweep ends where its early choices leave it: when
 * that one does not fit, a second sweep from the default's choices takes
 * the candidates by size alone, and the smaller plan stands (ResNet-18's
 * smallest: 92.1 MB by the first order, where recomputing the max pool's
 * output early kept the stem's normalized output from paying; 84.5 MB by
 * the second). On success *g is replaced by the graph of the chosen
 * plan; -1 with the smallest plan reached otherwise. */
int drv_fit_budget(const DrvArgs *a, const Options *o, Graph **g, RematLog *log, Diag *d)
{
	KernelList kl;
	if (drv_lower_plan(*g, &kl, false, d) < 0)
		return -1;
	cg_plan_stats(&kl, &log->before);
	cg_free(&kl);
	log->after = log->before;
	bool cheap = drv_remat_cheap(a);
	if (!cheap && (log->budget <= 0 || log->before.arena <= log->budget))
		return 0;
	log->names = *g; /* candidate names live in this graph's arena */
	log->cand = xmalloc(REMAT_MAX_CAND * sizeof *log->cand);
	log->ncand = ps_remat_candidates(*g, log->cand, REMAT_MAX_CAND);
	qsort(log->cand, (size_t)log->ncand, sizeof *log->cand, cmp_cand);
	log->chosen = xmalloc(((size_t)log->ncand + 1) * sizeof *log->chosen);
	bool *tried = xcalloc((size_t)log->ncand + 1, sizeof *tried);
	Graph *best = NULL;
	if (cheap)
		sweep(a, o, log->cand, log->ncand, tried, 0, log->budget, false, log->chosen, &log->nchosen,
		      &log->after, &best, NULL);
	log->ncheap = log->nchosen;
	PlanStats dflt = log->after;
	Graph *dbest = best; /* the default's plan, where the second sweep starts */
	sweep(a, o, log->cand, log->ncand, tried, 1, log->budget, false, log->chosen, &log->nchosen, &log->after,
	      &best, dbest);
	if (log->budget > 0 && log->after.arena > log->budget) {
		RematCand *c2 = xmalloc(((size_t)log->ncand + 1) * sizeof *c2);
		const char **ch2 = xmalloc(((size_t)log->ncand + 1) * sizeof *ch2);
		int n2 = log->ncheap, k = 0;
		for (int i = 0; i < log->ncand; i++) { /* all but the default's choices */
			bool dflt_chosen = false;
			for (int j = 0; j < log->ncheap; j++)
				dflt_chosen |= log->chosen[j] == log->cand[i].value;
			if (!dflt_chosen)
				c2[k++] = log->cand[i];
		}
		qsort(c2, (size_t)k, sizeof *c2, cmp_bytes);
		memcpy(ch2, log->chosen, (size_t)log->ncheap * sizeof *ch2);
		memset(tried, 0, ((size_t)log->ncand + 1) * sizeof *tried);
		PlanStats st2 = dflt;
		Graph *best2 = dbest;
		sweep(a, o, c2, k, tried, 1, log->budget, false, ch2, &n2, &st2, &best2, dbest);
		if (smaller(&st2, &log->after)) {
			memcpy(log->chosen, ch2, (size_t)n2 * sizeof *ch2);
			log->nchosen = n2;
			log->after = st2;
			if (best && best != dbest)
				ir_graph_free(best);
			best = best2;
		} else if (best2 && best2 != dbest) {
			ir_graph_free(best2);
		}
		free(c2);
		free(ch2);
	}
	if (log->budget > 0 && log->after.arena > log->budget) {
		/* the lean rules: the same choices, then every other candidate again */
		PlanStats st;
		Graph *t = NULL;
		Diag td;
		diag_init(&td);
		if (remat_trial(a, o, log->chosen, log->nchosen, true, &st, &t, &td) == 0 && smaller(&st, &log->after)) {
			if (best && best != dbest)
				ir_graph_free(best);
			best = t, log->after = st, log->lean = true;
			for (int i = 0; i < log->ncand; i++) {
				tried[i] = false;
				for (int j = 0; j < log->nchosen; j++)
					tried[i] |= log->chosen[j] == log->cand[i].value;
			}
			sweep(a, o, log->cand, log->ncand, tried, 1, log->budget, true, log->chosen, &log->nchosen,
			      &log->after, &best, dbest);
		} else if (t) {
			ir_graph_free(t);
		}
	}
	if (dbest && dbest != best)
		ir_graph_free(dbest);
	free(tried);
	if (log->budget > 0 && log->after.arena > log->budget) {
		if (best)
			ir_graph_free(best);
		return diag(d, "--max-memory=%" PRId64 ": cannot fit the training step: the smallest plan "
			    "reached is %" PRId64 " arena bytes (lower bound %" PRId64 ") with %d of %d "
			    "candidate forward values recomputed%s; without recomputation %" PRId64 " bytes "
			    "(lower bound %" PRId64 ")", log->budget, log->after.arena,
			    log->after.lower_bound, log->nchosen, log->ncand,
			    log->lean ? " and the convolutions' lean scratch" : "", log->before.arena,
			    log->before.lower_bound);
	}
	if (best)
		*g = best; /* log->names keeps the first graph alive */
	return 0;
}

void drv_remat_report(const RematLog *log, FILE *f)
{
	if (log->budget > 0)
		fprintf(f, "max-memory: budget %" PRId64 " bytes; ", log->budget);
	else
		fprintf(f, "recompute: ");
	fprintf(f, "arena %" PRId64 " bytes without recomputation (lower bound %" PRId64 "), %" PRId64
		" bytes (lower bound %" PRId64 ") with %d forward values recomputed in the backward "
		"pass (%d pointwise by default%s)\n", log->before.arena, log->before.lower_bound,
		log->after.arena, log->after.lower_bound, log->nchosen, log->ncheap,
		log->ncheap ? "; --keep-activations keeps them" : "");
	if (log->lean)
		fprintf(f, "  the convolutions' scratch by the lean rules (their Winograd paths in parts)\n");
	static const char *const kind[] = {"pointwise", "other ops", "conv/matmul"};
	for (int i = 0; i < log->nchosen; i++)
		for (int j = 0; j < log->ncand; j++)
			if (log->cand[j].value == log->chosen[i])
				fprintf(f, "  recomputed: %s (%" PRId64 " bytes, %s)\n", log->chosen[i],
					log->cand[j].bytes, kind[log->cand[j].cost]);
}

void drv_remat_log_free(RematLog *log)
{
	free(log->cand);
	free(log->chosen);
}

