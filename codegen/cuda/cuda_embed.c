/* cuda_embed.c — what the driver calls for the cuda target: --emit=cuda and
 * --emit=ptx text, and the object file that carries the compiled module
 * into the model's .so (cg_cuda_emit_obj): CUBINs for sm_90 and sm_80 and
 * PTX for compute_80 (the fallback a newer GPU's driver JIT-compiles),
 * the launches of one step and the device memory layout, as the constant
 * nncc_abi_cuda `<model>_nncc_cuda` (runtime/cuda_abi.h) and its weak
 * alias `nncc_cuda`. The object is built with the LLVM C API (data only,
 * no code) and linked beside the CPU backend's object. */
#include <errno.h>
#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda.h"

/* The images embedded, best first. */
static const struct {
	const char *arch; /* NVRTC -arch */
	int sm;           /* nncc_cuda_image.sm */
	bool cubin;       /* CUBIN, else PTX */
} images[] = {
	{"sm_90", 90, true},
	{"sm_80", 80, true},
	{"compute_80", 0, false},
};
enum { NIMAGE = 3 };

/* Writes n bytes to path through a temporary renamed on success ("-":
 * stdout). */
static int write_bytes(const char *path, const void *p, size_t n, Diag *d)
{
	if (strcmp(path, "-") == 0) {
		if (fwrite(p, 1, n, stdout) != n || fflush(stdout) != 0)
			return diag(d, "cannot write to stdout");
		return 0;
	}
	char *tmp = make_tmp_next_to(path, d);
	if (!tmp)
		return -1;
	FILE *f = fopen(tmp, "wb");
	int rc = 0;
	if (!f || fwrite(p, 1, n, f) != n)
		rc = diag(d, "cannot write %s: %s", path, strerror(errno));
	if (f && fclose(f) != 0 && !rc)
		rc = diag(d, "cannot write %s: %s", path, strerror(errno));
	if (!rc && rename(tmp, path) != 0)
		rc = diag(d, "cannot write %s: %s", path, strerror(errno));
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

int cg_cuda_emit_text(const KernelList *kl, const char *what, const char *path, Diag *d)
{
	CuModule m;
	if (cg_cuda_render(kl, &m, d))
		return -1;
	int rc;
	if (strcmp(what, "ptx") == 0) {
		char *ptx;
		size_t n;
		rc = cg_nvrtc_compile(m.src, "model.cu", "compute_80", false, &ptx, &n, d);
		if (!rc)
			rc = write_bytes(path, ptx, n && !ptx[n - 1] ? n - 1 : n, d);
		free(ptx);
	} else {
		rc = write_bytes(path, m.src, m.len, d);
	}
	cg_cuda_module_free(&m);
	return rc;
}

/* --- the object -------------------------------------------------------------------- */

typedef struct Emb {
	LLVMContextRef ctx;
	LLVMModuleRef mod;
	LLVMTypeRef i32, i64, ptr;
} Emb;

static LLVMValueRef gconst(Emb *e, LLVMValueRef init, const char *name, unsigned align)
{
	LLVMValueRef g = LLVMAddGlobal(e->mod, LLVMTypeOf(init), name);
	LLVMSetInitializer(g, init);
	LLVMSetGlobalConstant(g, 1);
	LLVMSetLinkage(g, LLVMPrivateLinkage);
	LLVMSetAlignment(g, align);
	return g;
}

static LLVMValueRef i64_array(Emb *e, const int64_t *v, int n, const char *name)
{
	LLVMValueRef *el = xmalloc((size_t)(n ? n : 1) * sizeof *el);
	for (int i = 0; i < n; i++)
		el[i] = LLVMConstInt(e->i64, (unsigned long long)v[i], 1);
	LLVMValueRef g = gconst(e, LLVMConstArray2(e->i64, el, (uint64_t)n), name, 8);
	free(el);
	return g;
}

static LLVMValueRef u32x3(Emb *e, const uint32_t *v)
{
	LLVMValueRef el[3];
	for (int i = 0; i < 3; i++)
		el[i] = LLVMConstInt(e->i32, v[i], 0);
	return LLVMConstArray2(e->i32, el, 3);
}

/* The descriptor's globals in e->mod from the module m and its images. */
static void build(Emb *e, const char *model, const CuModule *m, char **img, const size_t *nimg)
{
	LLVMTypeRef ti_f[4] = {e->i32, e->i32, e->ptr, e->i64};
	LLVMTypeRef t_img = LLVMStructTypeInContext(e->ctx, ti_f, 4, 0);
	LLVMTypeRef a3 = LLVMArrayType2(e->i32, 3);
	LLVMTypeRef tl_f[3] = {e->ptr, a3, a3};
	LLVMTypeRef t_launch = LLVMStructTypeInContext(e->ctx, tl_f, 3, 0);
	LLVMValueRef iv[NIMAGE];
	for (int i = 0; i < NIMAGE; i++) {
		size_t n = nimg[i] + (images[i].cubin ? 0 : 1); /* the PTX with its NUL */
		LLVMValueRef data = gconst(e, LLVMConstStringInContext2(e->ctx, img[i], n, 1), "img", 16);
		LLVMValueRef f[4] = {LLVMConstInt(e->i32, (unsigned long long)images[i].sm, 0), LLVMConstInt(e->i32, 0, 0),
				     data, LLVMConstInt(e->i64, n, 0)};
		iv[i] = LLVMConstStructInContext(e->ctx, f, 4, 0);
	}
	LLVMValueRef gimg = gconst(e, LLVMConstArray2(t_img, iv, NIMAGE), "images", 8);
	LLVMValueRef *lv = xmalloc((size_t)(m->nlaunch ? m->nlaunch : 1) * sizeof *lv);
	for (int i = 0; i < m->nlaunch; i++) {
		const CuLaunch *l = &m->launch[i];
		LLVMValueRef s = LLVMConstStringInContext2(e->ctx, l->name, strlen(l->name), 0);
		LLVMValueRef f[3] = {gconst(e, s, "kname", 1), u32x3(e, l->grid), u32x3(e, l->block)};
		lv[i] = LLVMConstStructInContext(e->ctx, f, 3, 0);
	}
	LLVMValueRef glaunch = gconst(e, LLVMConstArray2(t_launch, lv, (uint64_t)m->nlaunch), "launches", 8);
	free(lv);
	LLVMTypeRef td_f[14] = {e->i32, e->i32, e->i32, e->i32, e->ptr, e->ptr, e->i64,
				e->i32, e->i32, e->i32, e->i32, e->ptr, e->ptr, e->ptr};
	LLVMTypeRef t_desc = LLVMStructTypeInContext(e->ctx, td_f, 14, 0);
	LLVMValueRef f[14] = {
	    LLVMConstInt(e->i32, NNCC_CUDA_MAGIC, 0),
	    LLVMConstInt(e->i32, NNCC_CUDA_VERSION, 0),
	    LLVMConstInt(e->i32, NIMAGE, 0),
	    LLVMConstInt(e->i32, (unsigned long long)m->nlaunch, 0),
	    gimg,
	    glaunch,
	    LLVMConstInt(e->i64, (unsigned long long)m->lay.bytes, 0),
	    LLVMConstInt(e->i32, (unsigned long long)m->lay.nin, 0),
	    LLVMConstInt(e->i32, (unsigned long long)m->lay.nout, 0),
	    LLVMConstInt(e->i32, (unsigned long long)m->lay.npar, 0),
	    LLVMConstInt(e->i32, 0, 0),
	    i64_array(e, m->lay.in_off, m->lay.nin, "in_off"),
	    i64_array(e, m->lay.out_off, m->lay.nout, "out_off"),
	    i64_array(e, m->lay.par_off, m->lay.npar, "par_off"),
	};
	char *name = xmalloc(strlen(model) + 16);
	sprintf(name, "%s_nncc_cuda", model);
	LLVMValueRef gd = LLVMAddGlobal(e->mod, t_desc, name);
	free(name);
	LLVMSetInitializer(gd, LLVMConstStructInContext(e->ctx, f, 14, 0));
	LLVMSetGlobalConstant(gd, 1);
	LLVMSetAlignment(gd, 8);
	LLVMValueRef alias = LLVMAddAlias2(e->mod, t_desc, 0, gd, "nncc_cuda");
	LLVMSetLinkage(alias, LLVMWeakAnyLinkage);
}

static int write_obj(Emb *e, const char *path, Diag *d)
{
	LLVMInitializeNativeTarget();
	LLVMInitializeNativeAsmPrinter();
	char *triple = LLVMGetDefaultTargetTriple(), *err = NULL;
	LLVMTargetRef target;
	int rc = 0;
	if (LLVMGetTargetFromTriple(triple, &target, &err)) {
		rc = diag(d, "no LLVM target for %s: %s", triple, err ? err : "");
		LLVMDisposeMessage(err);
		LLVMDisposeMessage(triple);
		return rc;
	}
	LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, triple, "", "", LLVMCodeGenLevelNone, LLVMRelocPIC,
							  LLVMCodeModelDefault);
	LLVMSetTarget(e->mod, triple);
	LLVMDisposeMessage(triple);
	if (!tm)
		return diag(d, "cannot create an LLVM target machine");
	LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
	LLVMSetModuleDataLayout(e->mod, td);
	LLVMDisposeTargetData(td);
	if (LLVMTargetMachineEmitToFile(tm, e->mod, path, LLVMObjectFile, &err)) {
		rc = diag(d, "cannot write %s: %s", path, err ? err : "");
		LLVMDisposeMessage(err);
	}
	LLVMDisposeTargetMachine(tm);
	return rc;
}

int cg_cuda_emit_obj(const KernelList *kl, const char *path, Diag *d)
{
	CuModule m;
	if (cg_cuda_render(kl, &m, d))
		return -1;
	char *img[NIMAGE] = {0};
	size_t nimg[NIMAGE] = {0};
	int rc = 0;
	for (int i = 0; i < NIMAGE && !rc; i++)
		rc = cg_nvrtc_compile(m.src, "model.cu", images[i].arch, images[i].cubin, &img[i], &nimg[i], d);
	if (!rc) {
		Emb e;
		e.ctx = LLVMContextCreate();
		e.mod = LLVMModuleCreateWithNameInContext("nncc_cuda", e.ctx);
		e.i32 = LLVMInt32TypeInContext(e.ctx);
		e.i64 = LLVMInt64TypeInContext(e.ctx);
		e.ptr = LLVMPointerTypeInContext(e.ctx, 0);
		build(&e, kl->g && kl->g->name && *kl->g->name ? kl->g->name : "model", &m, img, nimg);
		rc = write_obj(&e, path, d);
		LLVMDisposeModule(e.mod);
		LLVMContextDispose(e.ctx);
	}
	for (int i = 0; i < NIMAGE; i++)
		free(img[i]);
	cg_cuda_module_free(&m);
	return rc;
}
