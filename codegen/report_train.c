/* report_train.c — the training part of --report (docs/training.md): the
 * memory of a training step by kind. Parameters and optimizer state are the
 * session's training state (BUF_STATE, by role); among the arena's
 * temporaries, gradients are the values of the backward pass (nodes
 * autodiff names "grad..."), saved activations the forward values still
 * live when the backward pass starts (what it reads), and the workspace is
 * the whole planned arena, in which all temporaries share bytes. */
#include <inttypes.h>
#include <string.h>

#include "codegen.h"

/* The graph node of kernel k's name starts with prefix. */
static bool from(const KernelList *kl, int k, const char *prefix)
{
	int n = k >= 0 && k < kl->nk ? kl->k[k].node : -1;
	if (n < 0 || !kl->g || n >= kl->g->nnode)
		return false;
	const char *name = kl->g->node[n].name;
	return name && strncmp(name, prefix, strlen(prefix)) == 0;
}

void cg_report_train(const KernelList *kl, FILE *f)
{
	const Graph *g = kl->g;
	int64_t by[IR_STATE_COUNT] = {0}, act = 0, grad = 0;
	int nby[IR_STATE_COUNT] = {0}, nact = 0, ngrad = 0, back = -1;
	bool train = false;
	for (int b = 0; b < kl->nbuf; b++) {
		const Buf *bf = &kl->buf[b];
		if (bf->kind != BUF_STATE || !g || bf->value < 0)
			continue;
		int r = g->val[bf->value].state;
		if (r > 0 && r < IR_STATE_COUNT) {
			by[r] += bf->nbytes;
			nby[r]++;
			train = true;
		}
	}
	if (!train)
		return;
	for (int i = 0; i < kl->nk && back < 0; i++)
		if (from(kl, i, "grad"))
			back = i;
	for (int b = 0; b < kl->nbuf; b++) {
		const Buf *bf = &kl->buf[b];
		if (bf->kind != BUF_TEMP || bf->alias >= 0 || bf->first < 0)
			continue;
		if (from(kl, bf->first, "grad")) {
			grad += bf->nbytes;
			ngrad++;
		} else if (back >= 0 && bf->first < back && bf->last >= back && !from(kl, bf->first, "optimizer")) {
			act += bf->nbytes;
			nact++;
		}
	}
	PlanStats st;
	cg_plan_stats(kl, &st);
	fprintf(f, "training memory:\n");
	fprintf(f, "  parameters: %" PRId64 " bytes in %d tensors\n", by[IR_STATE_PARAM], nby[IR_STATE_PARAM]);
	fprintf(f, "  optimizer state: %" PRId64 " bytes in %d tensors (with step and lr)\n",
		by[IR_STATE_OPTIM] + by[IR_STATE_STEP] + by[IR_STATE_LR],
		nby[IR_STATE_OPTIM] + nby[IR_STATE_STEP] + nby[IR_STATE_LR]);
	if (nby[IR_STATE_SEED]) /* rng */
		fprintf(f, "  random seed: %" PRId64 " bytes (dropout, augmentation)\n", by[IR_STATE_SEED]);
	if (nby[IR_STATE_BUFFER])
		fprintf(f, "  buffers: %" PRId64 " bytes in %d tensors (running statistics)\n",
			by[IR_STATE_BUFFER], nby[IR_STATE_BUFFER]);
	fprintf(f, "  saved activations: %" PRId64 " bytes in %d temporaries (forward values the "
		"backward pass reads)\n", act, nact);
	fprintf(f, "  gradients: %" PRId64 " bytes in %d temporaries\n", grad, ngrad);
	fprintf(f, "  workspace: %" PRId64 " arena bytes shared by all temporaries (lower bound %"
		PRId64 ")\n", st.arena, st.lower_bound);
}
