/* cuda_abi.h — the contract between a model compiled with --target=cuda and
 * the runtime's CUDA driver (runtime/cuda.c): the constant descriptor
 * `<model>_nncc_cuda` (weakly also `nncc_cuda`) beside nncc_abi_model.
 * Plain C data, emitted as constants by codegen/cuda/cuda_embed.c.
 *
 * Every kernel takes one argument, the base of the model's device memory:
 * one allocation of device_bytes laid out at compile time. Inputs, outputs
 * and parameters have fixed slots in it (byte offsets below, -1: unused);
 * the runtime copies inputs and parameters in and outputs out, and runs
 * the launches in order (captured once as a CUDA graph). */
#ifndef NNCC_CUDA_ABI_H
#define NNCC_CUDA_ABI_H

#include <stdint.h>

#define NNCC_CUDA_MAGIC 0x6e6e6375u /* "nncu" */
#define NNCC_CUDA_VERSION 1

/* One compiled image of the module. */
typedef struct nncc_cuda_image {
	int32_t sm;       /* CUBIN for compute capability sm/10.sm%10 exactly (90, 80); 0: PTX */
	int32_t pad;      /* zero */
	const void *data; /* CUBIN bytes, or PTX text NUL-terminated */
	int64_t size;     /* bytes (the PTX's counting its NUL) */
} nncc_cuda_image;

/* One kernel launch: function `name` of the module, with the single
 * argument (the device base pointer). */
typedef struct nncc_cuda_launch {
	const char *name;  /* __global__ function */
	uint32_t grid[3];  /* blocks */
	uint32_t block[3]; /* threads per block */
} nncc_cuda_launch;

typedef struct nncc_abi_cuda {
	uint32_t magic;   /* NNCC_CUDA_MAGIC */
	uint32_t version; /* NNCC_CUDA_VERSION */
	int32_t nimage;   /* images, best first (the runtime takes the first that loads) */
	int32_t nlaunch;  /* launches of one step */
	const nncc_cuda_image *image;
	const nncc_cuda_launch *launch;
	int64_t device_bytes; /* the device allocation */
	int32_t ninputs, noutputs, nparams; /* as the model descriptor's */
	int32_t pad2;     /* zero */
	const int64_t *in_off;  /* per input: byte offset of its slot, -1 if unused */
	const int64_t *out_off; /* per output */
	const int64_t *par_off; /* per param */
} nncc_abi_cuda;

#endif
