/* cuda.c — runs a model compiled with --target=cuda on an NVIDIA GPU
 * through the CUDA driver API, loaded with dlopen (libcuda.so.1) with the
 * few prototypes it needs declared here: the runtime builds and loads on
 * any machine, and a CUDA session on a machine without a driver or a GPU
 * fails with a message saying so.
 *
 * A CUDA session (rt_cuda_open) retains the device's primary context,
 * loads the first image of the model's nncc_abi_cuda descriptor that the
 * device takes (the CUBIN for its exact compute capability, else the PTX,
 * JIT-compiled by the driver), allocates the model's device memory as one
 * block of device_bytes (the compile-time layout: arena, inputs, outputs,
 * parameters) and copies every parameter in. A run copies the inputs host
 * to device, launches the step's kernels (captured on the first run as a
 * CUDA graph, replayed after; NNCC_CUDA_GRAPH=0 launches them one by one),
 * and copies the outputs back, every copy ordered on the session's stream. Training state stays on the device: a
 * parameter the host reads is copied back first (rt_cuda_param_host), and
 * one the host may have written is copied in before the next run. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_abi.h"
#include "rt.h"

typedef int CUresult; /* CUDA_SUCCESS = 0 */
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;

enum {
	CU_ATTR_CC_MAJOR = 75, /* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR */
	CU_ATTR_CC_MINOR = 76, /* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR */
	CU_CAPTURE_THREAD_LOCAL = 1, /* CU_STREAM_CAPTURE_MODE_THREAD_LOCAL */
};

/* The driver's entry points. */
typedef struct CuDrv {
	void *lib;
	CUresult (*init)(unsigned);
	CUresult (*device_count)(int *);
	CUresult (*device_get)(CUdevice *, int);
	CUresult (*attribute)(int *, int, CUdevice);
	CUresult (*ctx_retain)(CUcontext *, CUdevice);
	CUresult (*ctx_release)(CUdevice);
	CUresult (*ctx_set)(CUcontext);
	CUresult (*module_load)(CUmodule *, const void *);
	CUresult (*module_unload)(CUmodule);
	CUresult (*get_function)(CUfunction *, CUmodule, const char *);
	CUresult (*mem_alloc)(CUdeviceptr *, size_t);
	CUresult (*mem_free)(CUdeviceptr);
	CUresult (*htod)(CUdeviceptr, const void *, size_t, CUstream);
	CUresult (*dtoh)(void *, CUdeviceptr, size_t, CUstream);
	CUresult (*memset8)(CUdeviceptr, unsigned char, size_t, CUstream);
	CUresult (*stream_create)(CUstream *, unsigned);
	CUresult (*stream_destroy)(CUstream);
	CUresult (*stream_sync)(CUstream);
	CUresult (*launch)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
			   CUstream, void **, void **);
	CUresult (*begin_capture)(CUstream, int);
	CUresult (*end_capture)(CUstream, CUgraph *);
	CUresult (*instantiate)(CUgraphExec *, CUgraph, unsigned long long);
	CUresult (*graph_launch)(CUgraphExec, CUstream);
	CUresult (*graph_destroy)(CUgraph);
	CUresult (*exec_destroy)(CUgraphExec);
	CUresult (*error_string)(CUresult, const char **);
} CuDrv;

struct RtCuda {
	CuDrv d;                  /* the driver */
	const nncc_abi_cuda *cd;  /* the model's CUDA descriptor */
	const nncc_abi_model *a;  /* its model descriptor */
	CUdevice dev;             /* the device */
	CUcontext ctx;            /* its primary context (retained) */
	CUmodule mod;             /* the loaded image */
	CUstream stream;          /* where the step runs */
	CUfunction *fn;           /* per launch */
	CUdeviceptr mem;          /* the model's device memory */
	CUgraph graph;            /* the captured step, NULL before the first run */
	CUgraphExec exec;         /* its instance */
	int use_graph;            /* capture the step as a CUDA graph */
	unsigned char *stale;     /* per param: the device holds a newer value than the host */
	unsigned char *dirty;     /* per param: the host may hold a newer value than the device */
	int sm;                   /* the device's compute capability, e.g. 90 */
};

static nncc_status
cu_fail(RtCuda *c, CUresult r, const char *what, char **err)
{
	const char *s = NULL;
	if (c->d.error_string)
		c->d.error_string(r, &s);
	return rt_err(err, NNCC_STATUS_UNSUPPORTED, "CUDA: %s failed: %s (error %d)", what, s ? s : "?",
		      (int)r);
}

static int
load_driver(CuDrv *d, char **why)
{
	static const char *const names[] = {"libcuda.so.1", "libcuda.so", NULL};
	memset(d, 0, sizeof *d);
	for (int i = 0; !d->lib && names[i]; i++)
		d->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!d->lib) {
		*why = "no CUDA driver on this machine (libcuda.so.1 cannot be loaded)";
		return -1;
	}
#define SYM(f, s)                                     \
	do {                                          \
		*(void **)&d->f = dlsym(d->lib, s);  \
		if (!d->f) {                          \
			*why = "the CUDA driver lacks " s; \
			return -1;                    \
		}                                     \
	} while (0)
	SYM(init, "cuInit");
	SYM(device_count, "cuDeviceGetCount");
	SYM(device_get, "cuDeviceGet");
	SYM(attribute, "cuDeviceGetAttribute");
	SYM(ctx_retain, "cuDevicePrimaryCtxRetain");
	*(void **)&d->ctx_release = dlsym(d->lib, "cuDevicePrimaryCtxRelease_v2");
	if (!d->ctx_release)
		SYM(ctx_release, "cuDevicePrimaryCtxRelease");
	SYM(ctx_set, "cuCtxSetCurrent");
	SYM(module_load, "cuModuleLoadData");
	SYM(module_unload, "cuModuleUnload");
	SYM(get_function, "cuModuleGetFunction");
	SYM(mem_alloc, "cuMemAlloc_v2");
	SYM(mem_free, "cuMemFree_v2");
	SYM(htod, "cuMemcpyHtoDAsync_v2");
	SYM(dtoh, "cuMemcpyDtoHAsync_v2");
	SYM(memset8, "cuMemsetD8Async");
	SYM(stream_create, "cuStreamCreate");
	SYM(stream_destroy, "cuStreamDestroy_v2");
	SYM(stream_sync, "cuStreamSynchronize");
	SYM(launch, "cuLaunchKernel");
	SYM(begin_capture, "cuStreamBeginCapture_v2");
	SYM(end_capture, "cuStreamEndCapture");
	SYM(instantiate, "cuGraphInstantiateWithFlags");
	SYM(graph_launch, "cuGraphLaunch");
	SYM(graph_destroy, "cuGraphDestroy");
	SYM(exec_destroy, "cuGraphExecDestroy");
	SYM(error_string, "cuGetErrorString");
#undef SYM
	return 0;
}

/* Checks the descriptor as untrusted data against the model's. */
static nncc_status
check_desc(const nncc_abi_model *a, const nncc_abi_cuda *cd, char **err)
{
	if (cd->magic != NNCC_CUDA_MAGIC || cd->version != NNCC_CUDA_VERSION)
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "model '%s': bad CUDA descriptor (magic %#x, "
			      "version %u; this runtime reads version %d)", a->name, cd->magic, cd->version,
			      NNCC_CUDA_VERSION);
	if (cd->ninputs != a->ninputs || cd->noutputs != a->noutputs || cd->nparams != a->nparams ||
	    cd->nimage <= 0 || !cd->image || cd->nlaunch < 0 || (cd->nlaunch > 0 && !cd->launch) ||
	    cd->device_bytes <= 0)
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "model '%s': the CUDA descriptor does not "
			      "match the model", a->name);
	const struct { const int64_t *off; const nncc_abi_tensor *t; int32_t n; } sl[3] = {
		{cd->in_off, a->inputs, a->ninputs}, {cd->out_off, a->outputs, a->noutputs},
		{cd->par_off, a->params, a->nparams}};
	for (int k = 0; k < 3; k++)
		for (int32_t i = 0; i < sl[k].n; i++) {
			int64_t o = sl[k].off[i], end;
			if (o < -1 || (o >= 0 && (!rt_ck_add(o, sl[k].t[i].nbytes, &end) ||
						  end > cd->device_bytes)))
				return rt_err(err, NNCC_STATUS_BAD_MODEL, "model '%s': tensor '%s' lies "
					      "outside the device memory", a->name, sl[k].t[i].name);
		}
	for (int32_t i = 0; i < cd->nlaunch; i++) {
		const nncc_cuda_launch *l = &cd->launch[i];
		if (!l->name || !l->grid[0] || !l->grid[1] || !l->grid[2] || !l->block[0] ||
		    !l->block[1] || !l->block[2])
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "model '%s': bad CUDA launch %d",
				      a->name, (int)i);
	}
	return NNCC_STATUS_OK;
}

/* Loads the first image the device takes: its exact CUBIN, else PTX. */
static nncc_status
load_image(RtCuda *c, char **err)
{
	CUresult last = 0;
	for (int pass = 0; pass < 2; pass++)
		for (int32_t i = 0; i < c->cd->nimage; i++) {
			const nncc_cuda_image *im = &c->cd->image[i];
			if (!im->data || (pass == 0 ? im->sm != c->sm : im->sm != 0))
				continue;
			if ((last = c->d.module_load(&c->mod, im->data)) == 0)
				return NNCC_STATUS_OK;
		}
	if (last)
		return cu_fail(c, last, "loading the model's kernels", err);
	return rt_err(err, NNCC_STATUS_UNSUPPORTED, "model '%s' has no image for this GPU (sm_%d)",
		      c->a->name, c->sm);
}

void
rt_cuda_free(RtCuda *c)
{
	if (!c)
		return;
	if (c->ctx) {
		c->d.ctx_set(c->ctx);
		if (c->exec)
			c->d.exec_destroy(c->exec);
		if (c->graph)
			c->d.graph_destroy(c->graph);
		if (c->stream)
			c->d.stream_destroy(c->stream);
		if (c->mem)
			c->d.mem_free(c->mem);
		if (c->mod)
			c->d.module_unload(c->mod);
		c->d.ctx_release(c->dev);
	}
	if (c->d.lib)
		dlclose(c->d.lib);
	free(c->fn);
	free(c->stale);
	free(c->dirty);
	free(c);
}

nncc_status
rt_cuda_open(const nncc_abi_model *a, const nncc_abi_cuda *cd, const void *const *params, int device,
	     RtCuda **out, char **err)
{
	*out = NULL;
	if (!cd)
		return rt_err(err, NNCC_STATUS_UNSUPPORTED, "model '%s' has no CUDA code (compile it "
			      "with nncc --target=cuda)", a->name);
	nncc_status st = check_desc(a, cd, err);
	if (st != NNCC_STATUS_OK)
		return st;
	RtCuda *c = calloc(1, sizeof *c);
	if (!c)
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	c->cd = cd;
	c->a = a;
	const char *g = getenv("NNCC_CUDA_GRAPH");
	c->use_graph = !(g && strcmp(g, "0") == 0);
	char *why = NULL;
	CUresult r;
	int n = 0, major = 0, minor = 0;
	if (load_driver(&c->d, &why) < 0) {
		st = rt_err(err, NNCC_STATUS_UNSUPPORTED, "model '%s': cannot run on CUDA: %s", a->name, why);
		goto fail;
	}
	if ((r = c->d.init(0)) != 0) {
		st = cu_fail(c, r, "cuInit (is there a GPU?)", err);
		goto fail;
	}
	if ((r = c->d.device_count(&n)) != 0 || device < 0 || device >= n) {
		st = rt_err(err, NNCC_STATUS_UNSUPPORTED, "CUDA device %d does not exist (%d devices)", device, n);
		goto fail;
	}
	if ((r = c->d.device_get(&c->dev, device)) != 0 || (r = c->d.attribute(&major, CU_ATTR_CC_MAJOR, c->dev)) != 0 ||
	    (r = c->d.attribute(&minor, CU_ATTR_CC_MINOR, c->dev)) != 0) {
		st = cu_fail(c, r, "querying the device", err);
		goto fail;
	}
	c->sm = major * 10 + minor;
	if ((r = c->d.ctx_retain(&c->ctx, c->dev)) != 0) {
		c->ctx = NULL;
		st = cu_fail(c, r, "creating a context", err);
		goto fail;
	}
	if ((r = c->d.ctx_set(c->ctx)) != 0) {
		st = cu_fail(c, r, "cuCtxSetCurrent", err);
		goto fail;
	}
	if ((st = load_image(c, err)) != NNCC_STATUS_OK)
		goto fail;
	c->fn = calloc((size_t)cd->nlaunch + 1, sizeof *c->fn);
	c->stale = calloc((size_t)a->nparams + 1, 1);
	c->dirty = calloc((size_t)a->nparams + 1, 1);
	if (!c->fn || !c->stale || !c->dirty) {
		st = rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
		goto fail;
	}
	for (int32_t i = 0; i < cd->nlaunch; i++)
		if ((r = c->d.get_function(&c->fn[i], c->mod, cd->launch[i].name)) != 0) {
			st = cu_fail(c, r, cd->launch[i].name, err);
			goto fail;
		}
	if ((r = c->d.mem_alloc(&c->mem, (size_t)cd->device_bytes)) != 0) {
		c->mem = 0;
		st = cu_fail(c, r, "allocating device memory", err);
		goto fail;
	}
	if ((r = c->d.stream_create(&c->stream, 0)) != 0) {
		c->stream = NULL;
		st = cu_fail(c, r, "creating a stream", err);
		goto fail;
	}
	if ((r = c->d.memset8(c->mem, 0, (size_t)cd->device_bytes, c->stream)) != 0) {
		st = cu_fail(c, r, "clearing device memory", err);
		goto fail;
	}
	for (int32_t i = 0; i < a->nparams; i++)
		if (cd->par_off[i] >= 0 && params[i] && a->params[i].nbytes > 0 &&
		    (r = c->d.htod(c->mem + (CUdeviceptr)cd->par_off[i], params[i], (size_t)a->params[i].nbytes,
				   c->stream)) != 0) {
			st = cu_fail(c, r, "copying parameters to the device", err);
			goto fail;
		}
	if ((r = c->d.stream_sync(c->stream)) != 0) {
		st = cu_fail(c, r, "copying parameters to the device", err);
		goto fail;
	}
	*out = c;
	return NNCC_STATUS_OK;
fail:
	rt_cuda_free(c);
	return st;
}

/* Launches the step's kernels on the stream. */
static CUresult
launch_all(RtCuda *c)
{
	CUresult r = 0;
	void *args[1] = {&c->mem};
	for (int32_t i = 0; i < c->cd->nlaunch && !r; i++) {
		const nncc_cuda_launch *l = &c->cd->launch[i];
		r = c->d.launch(c->fn[i], l->grid[0], l->grid[1], l->grid[2], l->block[0], l->block[1], l->block[2],
				0, c->stream, args, NULL);
	}
	return r;
}

nncc_status
rt_cuda_run(RtCuda *c, const void *const *in, void *const *out, const void *const *params, char **err)
{
	const nncc_abi_model *a = c->a;
	const nncc_abi_cuda *cd = c->cd;
	CUresult r;
	if ((r = c->d.ctx_set(c->ctx)) != 0)
		return cu_fail(c, r, "cuCtxSetCurrent", err);
	for (int32_t i = 0; i < a->ninputs; i++)
		if (cd->in_off[i] >= 0 && a->inputs[i].nbytes > 0 &&
		    (r = c->d.htod(c->mem + (CUdeviceptr)cd->in_off[i], in[i], (size_t)a->inputs[i].nbytes, c->stream)) != 0)
			return cu_fail(c, r, "copying inputs to the device", err);
	for (int32_t i = 0; i < a->nparams; i++)
		if (c->dirty[i]) {
			if (cd->par_off[i] >= 0 && a->params[i].nbytes > 0 &&
			    (r = c->d.htod(c->mem + (CUdeviceptr)cd->par_off[i], params[i],
					   (size_t)a->params[i].nbytes, c->stream)) != 0)
				return cu_fail(c, r, "copying parameters to the device", err);
			c->dirty[i] = 0;
		}
	if (c->use_graph && !c->exec) { /* the first run captures the step */
		if ((r = c->d.begin_capture(c->stream, CU_CAPTURE_THREAD_LOCAL)) != 0)
			return cu_fail(c, r, "starting the graph capture", err);
		CUresult lr = launch_all(c);
		r = c->d.end_capture(c->stream, &c->graph);
		if (lr || r)
			return cu_fail(c, lr ? lr : r, lr ? "launching a kernel" : "capturing the step", err);
		if ((r = c->d.instantiate(&c->exec, c->graph, 0)) != 0) {
			c->exec = NULL;
			return cu_fail(c, r, "instantiating the step's graph", err);
		}
	}
	r = c->use_graph ? c->d.graph_launch(c->exec, c->stream) : launch_all(c);
	if (r)
		return cu_fail(c, r, "launching the step", err);
	for (int32_t i = 0; i < a->noutputs; i++)
		if (cd->out_off[i] >= 0 && a->outputs[i].nbytes > 0 &&
		    (r = c->d.dtoh(out[i], c->mem + (CUdeviceptr)cd->out_off[i], (size_t)a->outputs[i].nbytes,
				   c->stream)) != 0)
			return cu_fail(c, r, "copying outputs from the device", err);
	if ((r = c->d.stream_sync(c->stream)) != 0)
		return cu_fail(c, r, "running the step", err);
	if (a->param_role)
		for (int32_t i = 0; i < a->nparams; i++)
			c->stale[i] = a->param_role[i] != NNCC_ABI_ROLE_CONST;
	return NNCC_STATUS_OK;
}

int
rt_cuda_param_host(RtCuda *c, int i, void *host)
{
	const nncc_abi_model *a = c->a;
	if (c->stale[i] && c->cd->par_off[i] >= 0 && a->params[i].nbytes > 0) {
		c->d.ctx_set(c->ctx);
		if (c->d.dtoh(host, c->mem + (CUdeviceptr)c->cd->par_off[i], (size_t)a->params[i].nbytes, c->stream) != 0 ||
		    c->d.stream_sync(c->stream) != 0)
			return -1;
	}
	c->stale[i] = 0;
	c->dirty[i] = a->param_role && a->param_role[i] != NNCC_ABI_ROLE_CONST;
	return 0;
}

int
rt_cuda_device_sm(const RtCuda *c)
{
	return c->sm;
}
