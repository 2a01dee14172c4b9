/* fake_libcuda.c — a stand-in for the CUDA driver (libcuda.so.1) that lets
 * tests run runtime/cuda.c on a machine without a GPU: "device memory" is
 * host memory, a module is the model's CUDA C compiled for the host with
 * tests/cuda/emu.h (the .so named by $NNCC_FAKE_CUDA_KERNELS, whatever
 * image the runtime hands over), a launch runs through that module's
 * nn_emu_run with its real grid and block, and stream capture records the
 * launches that a graph launch replays. One device of compute capability
 * 9.0. $NNCC_FAKE_CUDA_LOG, if set, gets a line per capture, graph
 * launch and direct launch, so tests can see the graph being replayed. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef int (*emu_run_fn)(void (*)(unsigned char *), unsigned char *, const unsigned *, const unsigned *);

typedef struct Launch {
	void (*fn)(unsigned char *);
	unsigned grid[3], block[3];
	unsigned char *arg;
} Launch;

typedef struct Graph {
	Launch *l;
	int n;
} Graph;

static void *module;     /* the host-compiled kernels */
static int capturing;    /* a stream capture is under way */
static Graph *recording; /* what it has recorded */

static void note(const char *what)
{
	const char *p = getenv("NNCC_FAKE_CUDA_LOG");
	FILE *f = p ? fopen(p, "a") : NULL;
	if (f) {
		fprintf(f, "%s\n", what);
		fclose(f);
	}
}

static CUresult run(const Launch *l)
{
	emu_run_fn go = (emu_run_fn)dlsym(module, "nn_emu_run");
	return go && go(l->fn, l->arg, l->grid, l->block) == 0 ? 0 : 999;
}

CUresult cuInit(unsigned f) { (void)f; return 0; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return 0; }
CUresult cuDeviceGet(int *d, int i) { *d = i; return i == 0 ? 0 : 101; }
CUresult cuDeviceGetAttribute(int *v, int a, int d) { (void)d; *v = a == 75 ? 9 : 0; return 0; }
CUresult cuDevicePrimaryCtxRetain(void **c, int d) { (void)d; *c = (void *)1; return 0; }
CUresult cuDevicePrimaryCtxRelease_v2(int d) { (void)d; return 0; }
CUresult cuCtxSetCurrent(void *c) { (void)c; return 0; }

CUresult cuModuleLoadData(void **m, const void *image)
{
	(void)image;
	const char *p = getenv("NNCC_FAKE_CUDA_KERNELS");
	module = p ? dlopen(p, RTLD_NOW | RTLD_LOCAL) : NULL;
	*m = module;
	return module ? 0 : 200; /* CUDA_ERROR_INVALID_IMAGE */
}

CUresult cuModuleUnload(void *m) { dlclose(m); module = NULL; return 0; }

CUresult cuModuleGetFunction(void **f, void *m, const char *name)
{
	*f = dlsym(m, name);
	return *f ? 0 : 500; /* CUDA_ERROR_NOT_FOUND */
}

CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n)
{
	void *q = calloc(n, 1);
	*p = (CUdeviceptr)(uintptr_t)q;
	return q ? 0 : 2;
}

CUresult cuMemFree_v2(CUdeviceptr p) { free((void *)(uintptr_t)p); return 0; }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *h, size_t n, void *s)
{
	(void)s;
	memcpy((void *)(uintptr_t)d, h, n);
	return 0;
}
CUresult cuMemcpyDtoHAsync_v2(void *h, CUdeviceptr d, size_t n, void *s)
{
	(void)s;
	memcpy(h, (void *)(uintptr_t)d, n);
	return 0;
}
CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, void *s)
{
	(void)s;
	memset((void *)(uintptr_t)d, v, n);
	return 0;
}
CUresult cuStreamCreate(void **s, unsigned f) { (void)f; *s = (void *)2; return 0; }
CUresult cuStreamDestroy_v2(void *s) { (void)s; return 0; }
CUresult cuStreamSynchronize(void *s) { (void)s; return 0; }

CUresult cuLaunchKernel(void (*f)(unsigned char *), unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
			unsigned bz, unsigned shared, void *stream, void **args, void **extra)
{
	(void)shared, (void)stream, (void)extra;
	Launch l = {f, {gx, gy, gz}, {bx, by, bz}, (unsigned char *)(uintptr_t)*(CUdeviceptr *)args[0]};
	if (!capturing) {
		note("launch");
		return run(&l);
	}
	recording->l = realloc(recording->l, (size_t)(recording->n + 1) * sizeof l);
	recording->l[recording->n++] = l;
	return 0;
}

CUresult cuStreamBeginCapture_v2(void *s, int mode)
{
	(void)s, (void)mode;
	capturing = 1;
	recording = calloc(1, sizeof *recording);
	return 0;
}

CUresult cuStreamEndCapture(void *s, void **g)
{
	(void)s;
	capturing = 0;
	*g = recording;
	char msg[64];
	snprintf(msg, sizeof msg, "capture %d", recording->n);
	note(msg);
	return 0;
}

CUresult cuGraphInstantiateWithFlags(void **e, void *g, unsigned long long f) { (void)f; *e = g; return 0; }

CUresult cuGraphLaunch(void *e, void *s)
{
	(void)s;
	const Graph *g = e;
	note("graph launch");
	for (int i = 0; i < g->n; i++)
		if (run(&g->l[i]))
			return 999;
	return 0;
}

CUresult cuGraphDestroy(void *g)
{
	Graph *gr = g;
	free(gr->l);
	free(gr);
	return 0;
}

CUresult cuGraphExecDestroy(void *e) { (void)e; return 0; }

CUresult cuGetErrorString(CUresult r, const char **s)
{
	*s = r == 200 ? "invalid image (fake driver: set NNCC_FAKE_CUDA_KERNELS)" : "fake driver error";
	return 0;
}
