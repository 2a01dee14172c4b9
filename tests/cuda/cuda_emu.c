/* cuda_emu.c — runs a model compiled with nncc --target=cuda without a GPU:
 * its CUDA descriptor (launches and the device memory layout) drives the
 * module's CUDA C compiled for the host with tests/cuda/emu.h.
 *
 *   cuda_emu MODEL.so KERNELS.so [--steps N] -o DIR NAME=INPUT.npy...
 *
 * "Device memory" is one host block of device_bytes laid out as the
 * runtime lays it out on a GPU; parameters are copied into their slots,
 * the inputs (one file per model input, by name) into theirs, the
 * launches run in order (N times for a training step, printing output 0
 * as `step K loss L`), and every output is written to DIR/NAME.npy. The
 * test (tests/cuda/cuda_zoo.py) compares them with the CPU backend's. */
#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda_abi.h"
#include "runtime/rt.h"

typedef int (*emu_run_fn)(void (*)(unsigned char *), unsigned char *, const unsigned *, const unsigned *);

static int die(const char *msg, const char *arg)
{
	fprintf(stderr, "cuda_emu: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	return 1;
}

int main(int argc, char **argv)
{
	const char *model = NULL, *kern = NULL, *outdir = NULL, *in[64];
	int nin = 0;
	long steps = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			outdir = argv[++i];
		else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
			steps = strtol(argv[++i], NULL, 10);
		else if (!model)
			model = argv[i];
		else if (!kern)
			kern = argv[i];
		else if (nin < 64)
			in[nin++] = argv[i];
	}
	if (!model || !kern || !outdir)
		return die("usage: cuda_emu MODEL.so KERNELS.so [--steps N] -o DIR NAME=INPUT.npy...", NULL);
	void *dm = dlopen(model, RTLD_NOW | RTLD_LOCAL), *dk = dlopen(kern, RTLD_NOW | RTLD_LOCAL);
	if (!dm || !dk)
		return die("cannot load", dlerror());
	const nncc_abi_model *a = dlsym(dm, "nncc_model");
	const nncc_abi_cuda *cd = dlsym(dm, "nncc_cuda");
	emu_run_fn run = (emu_run_fn)dlsym(dk, "nn_emu_run");
	if (!a || !cd || !run)
		return die("no nncc_model, nncc_cuda or nn_emu_run in", model);
	if (nin != a->ninputs)
		return die("give one .npy per model input", NULL);
	unsigned char *m = calloc((size_t)cd->device_bytes, 1);
	if (!m)
		return die("out of memory", NULL);
	for (int i = 0; i < a->nparams; i++)
		if (cd->par_off[i] >= 0 && a->params[i].data)
			memcpy(m + cd->par_off[i], a->params[i].data, (size_t)a->params[i].nbytes);
	for (int i = 0; i < nin; i++) {
		RtTensor t;
		char *err = NULL;
		const char *file = NULL;
		for (int j = 0; j < nin && !file; j++) {
			size_t n = strlen(a->inputs[i].name);
			if (strncmp(in[j], a->inputs[i].name, n) == 0 && in[j][n] == '=')
				file = in[j] + n + 1;
		}
		if (!file)
			return die("no file for input", a->inputs[i].name);
		if (rt_tensor_read(file, &t, &err) != NNCC_STATUS_OK)
			return die(err, file);
		if (t.nbytes != a->inputs[i].nbytes || t.dtype != a->inputs[i].dtype)
			return die("input does not match the model", file);
		if (cd->in_off[i] >= 0)
			memcpy(m + cd->in_off[i], t.data, (size_t)t.nbytes);
		rt_tensor_free(&t);
	}
	for (long s = 0; s < (steps > 0 ? steps : 1); s++) {
		for (int i = 0; i < cd->nlaunch; i++) {
			const nncc_cuda_launch *l = &cd->launch[i];
			void (*fn)(unsigned char *) = (void (*)(unsigned char *))dlsym(dk, l->name);
			if (!fn)
				return die("no kernel", l->name);
			/* a grid-stride loop gives the same result on one thread; a tiled GEMM needs its grid */
			size_t n = strlen(l->name);
			bool tiled = n > 3 && (strcmp(l->name + n - 3, "_mm") == 0 || strcmp(l->name + n - 3, "_cv") == 0);
			unsigned one[3] = {1, 1, 1};
			if (run(fn, m, tiled ? l->grid : one, tiled ? l->block : one) != 0)
				return die("cannot start threads for", l->name);
		}
		if (steps > 0 && a->noutputs > 0 && a->outputs[0].dtype == NNCC_DTYPE_F32) {
			float loss;
			memcpy(&loss, m + cd->out_off[0], sizeof loss);
			printf("step %ld loss %.9g\n", s + 1, (double)loss);
		}
	}
	for (int i = 0; i < a->noutputs; i++) {
		char path[4096];
		char *err = NULL;
		snprintf(path, sizeof path, "%s/%s.npy", outdir, a->outputs[i].name);
		for (char *p = path + strlen(outdir) + 1; *p && strcmp(p, ".npy") != 0; p++)
			if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-'))
				*p = '_'; /* as nncc-run names its files */
		if (rt_npy_write(path, a->outputs[i].dtype, a->outputs[i].rank, a->outputs[i].dims,
				 m + (cd->out_off[i] >= 0 ? cd->out_off[i] : 0), &err) != NNCC_STATUS_OK)
			return die(err, path);
	}
	free(m);
	return 0;
}
