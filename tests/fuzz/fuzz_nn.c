/* fuzz_nn.c — libFuzzer target: the .nn model language (frontend/dsl*.c)
 * on arbitrary source text, for inference and for training (make fuzz,
 * docs/robustness.md). A crash, leak or sanitizer report is a finding. */
#include <stddef.h>
#include <stdint.h>

#include "frontend/dsl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int train = 0; train < 2; train++) {
		Diag d;
		NnClauses cl;
		diag_init(&d);
		Graph *g = fe_nn_load_mem((const char *)data, size, "fuzz.nn", train, &cl, &d);
		if (g)
			ir_graph_free(g);
	}
	return 0;
}
