/* fuzz_ir.c — libFuzzer target: the text-IR parser (ir/parse*.c) and the
 * verifier behind it, on arbitrary text (make fuzz, docs/robustness.md). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *src = malloc(size + 1); /* the parser takes a NUL-terminated string */
	if (!src)
		return 0;
	memcpy(src, data, size);
	src[size] = 0;
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "fuzz.ir", &d);
	if (g) {
		diag_init(&d);
		ir_verify(g, &d);
		ir_graph_free(g);
	}
	free(src);
	return 0;
}
