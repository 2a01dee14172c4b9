/* cuda.h — the CUDA backend (codegen/cuda/): the planned KernelList
 * rendered as CUDA C (one __global__ function per kernel), compiled by
 * NVRTC (dlopened, no CUDA headers) to PTX and CUBIN, and embedded in the
 * model's .so beside the CPU code as the `<model>_nncc_cuda` descriptor
 * (runtime/cuda_abi.h). docs/cuda.md describes the design. */
#ifndef NNCC_CUDA_H
#define NNCC_CUDA_H

#include "../codegen.h"
#include "../../runtime/cuda_abi.h"

/* Device memory: one allocation laid out at compile time. Every buffer of
 * the list lives at a byte offset of it: the arena (temporaries, at their
 * planned offsets), then each input, output and parameter (training state
 * included) in its own 256-byte aligned slot. */
typedef struct CuLayout {
	int64_t *boff;    /* per buffer: its byte offset in the allocation */
	int64_t *in_off;  /* per graph input: its slot, -1 when no kernel reads it */
	int64_t *out_off; /* per graph output: its slot */
	int64_t *par_off; /* per param index: its slot, -1 when unused */
	int nin, nout, npar; /* entries of the three arrays */
	int64_t bytes;    /* size of the allocation */
} CuLayout;

/* One launch of the step, in order. */
typedef struct CuLaunch {
	char name[32];    /* the __global__ function */
	int kernel;       /* index of the Kernel it belongs to */
	uint32_t grid[3]; /* blocks */
	uint32_t block[3]; /* threads per block */
} CuLaunch;

/* The CUDA C of a whole kernel list. */
typedef struct CuModule {
	char *src;        /* malloc'd CUDA C source, NUL-terminated */
	size_t len;       /* its length */
	CuLaunch *launch; /* malloc'd launches in order */
	int nlaunch;      /* count */
	CuLayout lay;     /* the device memory layout */
} CuModule;

/* cuda_kernel.c: renders kl (lowered, scheduled and planned) as CUDA C;
 * -1 with a message naming the kernel for what the backend cannot render
 * (e.g. float8 dtypes). */
int cg_cuda_render(const KernelList *kl, CuModule *m, Diag *d);
void cg_cuda_module_free(CuModule *m);

/* cuda_nvrtc.c: NVRTC loaded with dlopen (libnvrtc.so, libnvrtc.so.12,
 * libnvrtc.so.11.2). */
bool cg_nvrtc_available(char *why, size_t n); /* why: the reason when false */
/* Compiles src for arch (e.g. "sm_90"; "compute_90" gives PTX). With
 * cubin true the result is a CUBIN, else PTX text (NUL-terminated). *out
 * is malloc'd; -1 with NVRTC's log in d on failure. */
int cg_nvrtc_compile(const char *src, const char *name, const char *arch, bool cubin, char **out,
		     size_t *nout, Diag *d);

/* cuda_embed.c: the driver's entry points. emit: "cuda" (CUDA C) or "ptx"
 * written to path ("-": stdout). */
int cg_cuda_emit_text(const KernelList *kl, const char *what, const char *path, Diag *d);
/* Writes an object file holding the CUDA descriptor (CUBINs for sm_90
 * and sm_80, PTX for compute_80, launches, layout) of kl, named
 * `<model>_nncc_cuda` and weakly `nncc_cuda`. */
int cg_cuda_emit_obj(const KernelList *kl, const char *path, Diag *d);

/* link.c: cg_link_so with a second object (the descriptor) linked in. */
int cg_link_so_extra(const char *obj, const char *extra, const char *out, Diag *d);

#endif
