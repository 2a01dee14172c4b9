/* pipeline.c — the inference pipeline, one pass after another, top to
 * bottom. --print-after=PASS|all dumps parseable text IR after a pass;
 * debug builds verify the graph between passes. */
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
const char *const ps_pass_names[] = {"import", "shapes", "dce", NULL};

int ps_pipeline(Graph *g, const Options *o, Diag *d)
{
	if (after(g, o, "import", d) < 0)
		return -1;
	if (ps_bind_shapes(g, o, d) < 0 || ps_infer_shapes(g, d) < 0)
		return -1;
	if (after(g, o, "shapes", d) < 0)
		return -1;
	ps_dce(g, o);
	if (after(g, o, "dce", d) < 0)
		return -1;
	return 0;
}
