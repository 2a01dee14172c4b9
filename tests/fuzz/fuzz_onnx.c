/* fuzz_onnx.c — libFuzzer target: the ONNX loader (frontend/onnx*.c:
 * protobuf-c decoding, validation, the import table, shape inference) on
 * arbitrary bytes (make fuzz, docs/robustness.md). */
#include <stddef.h>
#include <stdint.h>

#include "frontend/frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Diag d;
	diag_init(&d);
	Graph *g = fe_onnx_load_mem(data, size, "fuzz.onnx", &d);
	if (g)
		ir_graph_free(g);
	return 0;
}
