/* remat_fit.c — nncc --max-memory: a training step whose memory plan is
 * over budget is compiled again with forward values recomputed in the
 * backward pass (passes/remat.c), the candidates tried one by one, until
 * the plan fits (docs/memory.md). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

enum { REMAT_MAX_CAND = 4096 }; /* candidates considered at most */

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
static int remat_trial(const DrvArgs *a, const Options *o, const char *const *names, int n, PlanStats *st,
		       Graph **gout, Diag *d)
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

/* --max-memory: g (already through the pipeline without recomputation)
 * over budget? Then try the candidates, cheap classes and large values
 * first, keeping each change that gives a smaller plan (smaller()), until
 * the plan fits. On success *g is replaced by the graph of the chosen
 * plan; -1 with the smallest plan reached otherwise. */
int drv_fit_budget(const DrvArgs *a, const Options *o, Graph **g, RematLog *log, Diag *d)
{
	KernelList kl;
	if (drv_lower_plan(*g, &kl, false, d) < 0)
		return -1;
	cg_plan_stats(&kl, &log->before);
	cg_free(&kl);
	log->after = log->before;
	if (log->before.arena <= log->budget)
		return 0;
	log->names = *g; /* candidate names live in this graph's arena */
	log->cand = xmalloc(REMAT_MAX_CAND * sizeof *log->cand);
	log->ncand = ps_remat_candidates(*g, log->cand, REMAT_MAX_CAND);
	qsort(log->cand, (size_t)log->ncand, sizeof *log->cand, cmp_cand);
	log->chosen = xmalloc(((size_t)log->ncand + 1) * sizeof *log->chosen);
	Graph *best = NULL, *t = NULL;
	PlanStats st;
	Diag td;
	for (int i = 0; i < log->ncand && log->after.arena > log->budget; i++) {
		diag_init(&td);
		log->chosen[log->nchosen] = log->cand[i].value;
		if (remat_trial(a, o, log->chosen, log->nchosen + 1, &st, &t, &td) < 0)
			continue; /* e.g. its backward readers already read a recomputed copy */
		if (smaller(&st, &log->after)) {
			log->nchosen++;
			log->after = st;
			if (best)
				ir_graph_free(best);
			best = t;
		} else {
			ir_graph_free(t);
		}
	}
	if (log->after.arena > log->budget) {
		if (best)
			ir_graph_free(best);
		return diag(d, "--max-memory=%" PRId64 ": cannot fit the training step: the smallest plan "
			    "reached is %" PRId64 " arena bytes (lower bound %" PRId64 ") with %d of %d "
			    "candidate forward values recomputed; unconstrained %" PRId64 " bytes "
			    "(lower bound %" PRId64 ")", log->budget, log->after.arena,
			    log->after.lower_bound, log->nchosen, log->ncand, log->before.arena,
			    log->before.lower_bound);
	}
	if (best)
		*g = best; /* log->names keeps the first graph alive */
	return 0;
}

void drv_remat_report(const RematLog *log, FILE *f)
{
	fprintf(f, "max-memory: budget %" PRId64 " bytes; arena %" PRId64 " bytes without "
		"recomputation (lower bound %" PRId64 "), %" PRId64 " bytes (lower bound %" PRId64
		") with %d forward values recomputed in the backward pass\n", log->budget,
		log->before.arena, log->before.lower_bound, log->after.arena, log->after.lower_bound,
		log->nchosen);
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

