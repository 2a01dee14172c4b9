/* split_step.c — `nncc --train --split-step` (docs/distributed.md): the
 * artifact holds the fused training step, unchanged, and its two halves
 * (passes/split.c) as two more models in the same .so, `NAME__grads` and
 * `NAME__update`, which the runtime finds by name (runtime/split.c).
 *
 * The halves are compiled from a copy of the imported graph taken before
 * the pipeline (text IR with every constant's data, checked to parse back
 * into an equal graph, ir_graph_equal), through the same pipeline and
 * options as the fused step; each is lowered, planned and emitted to its
 * own object, and the three objects are linked into one library. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "passes/passes.h"
#include "split_step.h"

char *split_snapshot(const Graph *g, Diag *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		diag(d, "--split-step: out of memory");
		return NULL;
	}
	ir_print(g, f, IR_PRINT_DATA);
	if (fclose(f) != 0) {
		free(buf);
		diag(d, "--split-step: out of memory");
		return NULL;
	}
	Graph *back = ir_parse(buf, "<split-step>", d); /* the copy must be the graph */
	Diag why;
	diag_init(&why);
	if (!back || !ir_graph_equal(g, back, &why)) {
		diag(d, "internal error: --split-step: the text IR copy of the model differs from it: %s",
		     why.msg);
		free(buf);
		buf = NULL;
	}
	ir_graph_free(back);
	return buf;
}

/* One half: the snapshot through the pipeline with TrainOptions.split,
 * lowered and planned into kl. */
static int half(const char *snap, int which, const char *name, const Options *o, KernelList *kl,
		Diag *d)
{
	Graph *g = ir_parse(snap, "<split-step>", d);
	if (!g)
		return -1;
	TrainOptions t = *o->train;
	t.split = which;
	Options o2 = *o;
	o2.train = &t;
	o2.print_after = NULL;
	int rc = -1;
	memset(kl, 0, sizeof *kl);
	if (ps_pipeline(g, &o2, d) == 0) {
		g->name = arena_printf(&g->arena, "%s%s", g->name, name);
		if (cg_lower(g, kl, d) == 0) {
			cg_schedule(kl, 0);
			cg_plan(kl);
			rc = cg_plan_check(kl, d);
			if (rc < 0)
				diag(d, "internal error: the memory plan of %s is unsound", g->name);
		}
	}
	if (rc < 0) {
		if (kl->g)
			cg_free(kl);
		ir_graph_free(g);
		return -1;
	}
	return 0;
}

int split_emit_so(const char *snap, const KernelList *fused, const char *out, const Options *o,
		  const CpuOptions *co, Diag *d)
{
	static const char *const suffix[2] = {"__grads", "__update"};
	static const int which[2] = {PS_SPLIT_GRADS, PS_SPLIT_UPDATE};
	char dir[] = "/tmp/nncc-XXXXXX";
	if (!mkdtemp(dir))
		return diag(d, "cannot create a temporary directory: %s", strerror(errno));
	char obj[3][sizeof dir + 16];
	const char *objs[3] = {obj[0], obj[1], obj[2]};
	int rc = 0, made = 0;
	snprintf(obj[0], sizeof obj[0], "%s/model.o", dir);
	rc = cg_cpu_emit(fused, co, obj[0], 0, d);
	made += rc == 0;
	for (int h = 0; h < 2 && rc == 0; h++) {
		KernelList kl;
		snprintf(obj[h + 1], sizeof obj[h + 1], "%s/half%d.o", dir, h);
		if ((rc = half(snap, which[h], suffix[h], o, &kl, d)) < 0)
			break;
		Graph *g = (Graph *)kl.g;
		rc = cg_cpu_emit(&kl, co, obj[h + 1], 0, d);
		made += rc == 0;
		cg_free(&kl);
		ir_graph_free(g);
	}
	if (rc == 0)
		rc = cg_link_so_objs(objs, 3, out, d);
	for (int i = 0; i < made; i++)
		unlink(obj[i]);
	rmdir(dir);
	return rc;
}
