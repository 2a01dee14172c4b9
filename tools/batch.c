/* batch.c — the driver's part of the dynamic batch (--max SYM=N,
 * docs/dynamic-batch.md): the option, and the second run of the pipeline
 * at N + 1 from which passes/dynbatch.c learns where the batch goes. */
#include "driver.h"
#include "passes/passes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int drv_parse_max(const char *v, Options *o)
{
	const char *eq = v ? strchr(v, '=') : NULL;
	if (!eq || eq == v || o->batch_sym)
		return -1;
	char *end;
	errno = 0;
	long long n = strtoll(eq + 1, &end, 10);
	if (errno || *end || end == eq + 1 || n < 2 || n > (1LL << 40))
		return -1;
	static char sym[128]; /* one --max per compilation */
	if ((size_t)(eq - v) >= sizeof sym)
		return -1;
	memcpy(sym, v, (size_t)(eq - v));
	sym[eq - v] = 0;
	o->batch_sym = sym;
	o->batch_max = n;
	return 0;
}

int drv_batch_mark(Graph *g, Graph *g2, const Options *o, const char *weights,
		   int (*load_w)(Graph *g, const char *path, Diag *d), Diag *d)
{
	Options o2 = *o;
	o2.batch_max = o->batch_max + 1;
	o2.print_after = NULL;
	int rc = -1;
	if (!g2 || (weights && load_w(g2, weights, d) < 0))
		rc = -1;
	else if (ps_pipeline(g2, &o2, d) < 0)
		rc = diag(d, "dynamic batch: the model does not compile with %s = %lld (above); "
			     "its shapes fix the batch", o->batch_sym, (long long)o2.batch_max);
	else
		rc = ps_batch_mark(g, g2, o->batch_max, d);
	ir_graph_free(g2);
	return rc;
}
