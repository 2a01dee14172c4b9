/* cuda_nvrtc.c — NVRTC, the CUDA runtime compiler, loaded with dlopen at
 * compile time (Debian's libnvrtc11.2 from non-free, or any later
 * version), with the few prototypes it needs declared here: no CUDA
 * headers are needed to build nncc, and an nncc without NVRTC still
 * works for every other target. $NNCC_NVRTC names the library to load
 * instead (tests use a missing one to check the message). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda.h"

typedef int nvrtcResult; /* NVRTC_SUCCESS = 0 */
typedef struct nvrtcProgram_ *nvrtcProgram;

/* The entry points used, resolved from the library. */
typedef struct Nvrtc {
	void *lib;
	nvrtcResult (*create)(nvrtcProgram *, const char *, const char *, int, const char *const *,
			      const char *const *);
	nvrtcResult (*compile)(nvrtcProgram, int, const char *const *);
	nvrtcResult (*log_size)(nvrtcProgram, size_t *);
	nvrtcResult (*log)(nvrtcProgram, char *);
	nvrtcResult (*ptx_size)(nvrtcProgram, size_t *);
	nvrtcResult (*ptx)(nvrtcProgram, char *);
	nvrtcResult (*cubin_size)(nvrtcProgram, size_t *);
	nvrtcResult (*cubin)(nvrtcProgram, char *);
	nvrtcResult (*destroy)(nvrtcProgram *);
	const char *(*error)(nvrtcResult);
} Nvrtc;

static const char *const nvrtc_names[] = {"libnvrtc.so", "libnvrtc.so.12", "libnvrtc.so.11.2", NULL};

/* Loads NVRTC; false with the reason in why. */
static bool load(Nvrtc *n, char *why, size_t nwhy)
{
	memset(n, 0, sizeof *n);
	const char *env = getenv("NNCC_NVRTC");
	if (env && *env) {
		n->lib = dlopen(env, RTLD_NOW | RTLD_LOCAL);
		if (!n->lib) {
			snprintf(why, nwhy, "cannot load NVRTC from $NNCC_NVRTC (%s): %s", env, dlerror());
			return false;
		}
	}
	for (int i = 0; !n->lib && nvrtc_names[i]; i++)
		n->lib = dlopen(nvrtc_names[i], RTLD_NOW | RTLD_LOCAL);
	if (!n->lib) {
		snprintf(why, nwhy, "NVRTC (libnvrtc.so) is not installed; on Debian: apt-get install libnvrtc11.2 "
				    "(non-free), or run scripts/install-deps.sh");
		return false;
	}
#define SYM(f, s)                                                                                   \
	do {                                                                                        \
		*(void **)&n->f = dlsym(n->lib, s);                                                \
		if (!n->f) {                                                                        \
			snprintf(why, nwhy, "NVRTC lacks %s", s);                                  \
			dlclose(n->lib);                                                            \
			n->lib = NULL;                                                              \
			return false;                                                               \
		}                                                                                   \
	} while (0)
	SYM(create, "nvrtcCreateProgram");
	SYM(compile, "nvrtcCompileProgram");
	SYM(log_size, "nvrtcGetProgramLogSize");
	SYM(log, "nvrtcGetProgramLog");
	SYM(ptx_size, "nvrtcGetPTXSize");
	SYM(ptx, "nvrtcGetPTX");
	SYM(cubin_size, "nvrtcGetCUBINSize");
	SYM(cubin, "nvrtcGetCUBIN");
	SYM(destroy, "nvrtcDestroyProgram");
	SYM(error, "nvrtcGetErrorString");
#undef SYM
	return true;
}

bool cg_nvrtc_available(char *why, size_t n)
{
	Nvrtc nv;
	if (!load(&nv, why, n))
		return false;
	dlclose(nv.lib);
	return true;
}

int cg_nvrtc_compile(const char *src, const char *name, const char *arch, bool cubin, char **out, size_t *nout,
		     Diag *d)
{
	*out = NULL;
	*nout = 0;
	char why[256];
	Nvrtc nv;
	if (!load(&nv, why, sizeof why))
		return diag(d, "--target=cuda: %s", why);
	nvrtcProgram prog = NULL;
	nvrtcResult r = nv.create(&prog, src, name, 0, NULL, NULL);
	if (r != 0) {
		diag(d, "NVRTC: cannot create the program: %s", nv.error(r));
		dlclose(nv.lib);
		return -1;
	}
	char opt_arch[48];
	snprintf(opt_arch, sizeof opt_arch, "-arch=%s", arch);
	const char *opts[] = {opt_arch, "-std=c++14", "-lineinfo"};
	r = nv.compile(prog, 3, opts);
	int rc = 0;
	if (r != 0) {
		size_t ln = 0;
		char *log = NULL;
		if (nv.log_size(prog, &ln) == 0 && ln > 0) {
			log = xmalloc(ln + 1);
			if (nv.log(prog, log) != 0)
				log[0] = 0;
			log[ln] = 0;
		}
		rc = diag(d, "NVRTC (%s) failed on %s: %s\n%.3000s", arch, name, nv.error(r), log ? log : "");
		free(log);
	} else {
		size_t n = 0;
		r = cubin ? nv.cubin_size(prog, &n) : nv.ptx_size(prog, &n);
		if (r == 0) {
			*out = xmalloc(n + 1);
			r = cubin ? nv.cubin(prog, *out) : nv.ptx(prog, *out);
			(*out)[n] = 0;
			*nout = n;
		}
		if (r != 0) {
			free(*out);
			*out = NULL;
			*nout = 0;
			rc = diag(d, "NVRTC (%s): cannot read the %s: %s", arch, cubin ? "CUBIN" : "PTX", nv.error(r));
		}
	}
	nv.destroy(&prog);
	dlclose(nv.lib);
	return rc;
}
