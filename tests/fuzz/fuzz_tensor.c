/* fuzz_tensor.c — libFuzzer target: the runtime's tensor readers, .npy
 * (runtime/npy.c) and ONNX TensorProto (runtime/pb.c), on arbitrary bytes
 * (make fuzz, docs/robustness.md). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "runtime/rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int pb = 0; pb < 2; pb++) {
		RtTensor t = {0};
		char *err = NULL;
		nncc_status s = pb ? rt_pb_decode(data, size, &t, "fuzz.pb", &err)
				   : rt_npy_decode(data, size, &t, "fuzz.npy", &err);
		(void)s; /* a failed read may leave parts behind: freed alike */
		rt_tensor_free(&t);
		free(err);
	}
	return 0;
}
