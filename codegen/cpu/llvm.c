/* llvm.c — the CPU backend's module: target machine, embedded weights, the
 * model descriptor (runtime/abi.h), the run function, optimization and
 * emission of an object file or textual LLVM IR (cg_cpu_emit), to a path
 * (through a temporary renamed on success) or to stdout for "-".
 *
 * The module holds, for a model named M:
 *   - one private constant [nbytes x i8] per parameter (align 64);
 *   - internal functions k0, k1, ... (llvm_kernel.c), one per kernel, each
 *     taking its storage pointers and the runtime's ctx (abi.h);
 *   - `void M_run(ptr arena, ptr inputs, ptr outputs, ptr params, ptr ctx)`
 *     which computes each buffer's base pointer and calls the kernels;
 *   - the constant nncc_abi_model `M_nncc_model`, and `nncc_model`, a weak
 *     alias of it for dlopen users (weak so two models' objects still link
 *     into one program). */
#include "cpu.h"

#include <errno.h>
#include <fcntl.h>
#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../runtime/abi.h"

_Static_assert((int)IR_STATE_PARAM == (int)NNCC_ABI_ROLE_PARAM &&
	(int)IR_STATE_OPTIM == (int)NNCC_ABI_ROLE_OPTIM && (int)IR_STATE_STEP == (int)NNCC_ABI_ROLE_STEP &&
	(int)IR_STATE_LR == (int)NNCC_ABI_ROLE_LR && (int)IR_STATE_SEED == (int)NNCC_ABI_ROLE_SEED &&
	(int)IR_STATE_BUFFER == (int)NNCC_ABI_ROLE_BUFFER && (int)IR_STATE_COUNT == (int)NNCC_ABI_ROLE_COUNT,
	"training-state roles are the ABI's");

/* Module-level state besides Cg. */
typedef struct Mod {
	Cg *cg;               /* shared with llvm_kernel.c */
	LLVMTypeRef t_tensor; /* nncc_abi_tensor */
	LLVMTypeRef t_model;  /* nncc_abi_model */
	LLVMValueRef *weight; /* per param index: its data global */
	LLVMValueRef *kfn;    /* per kernel: its function */
	LLVMValueRef run;     /* M_run */
} Mod;

static LLVMValueRef private_const(Cg *cg, LLVMValueRef init, const char *name, unsigned align)
{
	LLVMValueRef g = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
	LLVMSetInitializer(g, init);
	LLVMSetGlobalConstant(g, 1);
	LLVMSetLinkage(g, LLVMPrivateLinkage);
	LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
	LLVMSetAlignment(g, align);
	return g;
}

static LLVMValueRef cstring(Cg *cg, const char *s)
{
	return private_const(cg, LLVMConstStringInContext2(cg->ctx, s, strlen(s), 0), "str", 1);
}

/* Weights */

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static int emit_weights(Mod *m, Diag *d)
{
	Cg *cg = m->cg;
	const KernelList *kl = cg->kl;
	m->weight = xcalloc((size_t)(kl->nparam ? kl->nparam : 1), sizeof *m->weight);
	for (int i = 0; i < kl->nparam; i++) {
		int vi = kl->param_value[i];
		NN_ASSERT(vi >= 0 && vi < kl->g->nval);
		const Value *v = &kl->g->val[vi];
		if (!v->data && v->nbytes)
			return diag(d, "value %s has no data", v->name);
		if (v->state == IR_STATE_OPTIM && all_zero(v->data, v->nbytes))
			continue; /* optimizer state starting at zero: no bytes in the file (abi.h) */
		LLVMValueRef init;
		if (v->nbytes)
			init = LLVMConstStringInContext2(cg->ctx, v->data, v->nbytes, 1);
		else
			init = LLVMConstNull(LLVMArrayType2(cg->t_i8, 1));
		m->weight[i] = private_const(cg, init, "w", 64);
	}
	return 0;
}

/* Descriptor */

static void make_types(Mod *m)
{
	Cg *cg = m->cg;
	LLVMTypeRef p = cg->t_ptr, i32 = cg->t_i32, i64 = cg->t_i64;
	LLVMTypeRef tt[6] = {p, i32, i32, p, i64, p};
	m->t_tensor = LLVMStructCreateNamed(cg->ctx, "nncc_abi_tensor");
	LLVMStructSetBody(m->t_tensor, tt, 6, 0);
	LLVMTypeRef mt[14] = {i32, i32, p, i32, i32, i32, p, p, p, i64, p, p, i64, p};
	m->t_model = LLVMStructCreateNamed(cg->ctx, "nncc_abi_model");
	LLVMStructSetBody(m->t_model, mt, 14, 0);
}

static LLVMValueRef tensor(Mod *m, int vi, LLVMValueRef data, Diag *d)
{
	Cg *cg = m->cg;
	const Value *v = &cg->kl->g->val[vi];
	int64_t numel = ir_shape_static(&v->shape) ? ir_shape_numel(&v->shape) : -1;
	int64_t nbytes;
	if (numel < 0 || !ir_dtype_size(v->dtype) ||
	    !ck_mul(numel, (int64_t)ir_dtype_size(v->dtype), &nbytes)) {
		diag(d, "value %s: needs a known dtype and static shape", v->name);
		return NULL;
	}
	if (data && (int64_t)v->nbytes != nbytes) {
		diag(d, "value %s: %zu bytes of data for %lld expected", v->name, v->nbytes,
		     (long long)nbytes);
		return NULL;
	}
	LLVMValueRef dims = LLVMConstNull(cg->t_ptr);
	if (v->shape.rank > 0) {
		LLVMValueRef el[IR_MAX_RANK];
		for (int i = 0; i < v->shape.rank; i++)
			el[i] = LLVMConstInt(cg->t_i64, (unsigned long long)v->shape.d[i].n, 1);
		dims = private_const(cg, LLVMConstArray2(cg->t_i64, el, (uint64_t)v->shape.rank), "dims", 8);
	}
	LLVMValueRef f[6] = {
	    cstring(cg, v->name),
	    LLVMConstInt(cg->t_i32, (unsigned long long)v->dtype, 1),
	    LLVMConstInt(cg->t_i32, (unsigned long long)v->shape.rank, 1),
	    dims,
	    LLVMConstInt(cg->t_i64, (unsigned long long)nbytes, 1),
	    data ? data : LLVMConstNull(cg->t_ptr),
	};
	return LLVMConstNamedStruct(m->t_tensor, f, 6);
}

/* A private constant array of descriptors for values vals[0..n-1]; a null
 * pointer when n is 0. *out is NULL on error. */
static int tensor_array(Mod *m, const int *vals, int n, LLVMValueRef *data, LLVMValueRef *out, Diag *d)
{
	Cg *cg = m->cg;
	*out = LLVMConstNull(cg->t_ptr);
	if (!n)
		return 0;
	LLVMValueRef *el = xmalloc((size_t)n * sizeof *el);
	for (int i = 0; i < n; i++) {
		el[i] = tensor(m, vals[i], data ? data[i] : NULL, d);
		if (!el[i]) {
			free(el);
			return -1;
		}
	}
	*out = private_const(cg, LLVMConstArray2(m->t_tensor, el, (uint64_t)n), "tensors", 8);
	free(el);
	return 0;
}

static int emit_descriptor(Mod *m, Diag *d)
{
	Cg *cg = m->cg;
	const KernelList *kl = cg->kl;
	const Graph *g = kl->g;
	LLVMValueRef in, out, par;
	if (tensor_array(m, g->input, g->ninput, NULL, &in, d) ||
	    tensor_array(m, g->output, g->noutput, NULL, &out, d) ||
	    tensor_array(m, kl->param_value, kl->nparam, m->weight, &par, d))
		return -1;
	/* training state: each param's role (NULL when all are constant) */
	LLVMValueRef roles = LLVMConstNull(cg->t_ptr);
	bool train = false;
	for (int i = 0; i < kl->nparam; i++)
		train = train || g->val[kl->param_value[i]].state != 0;
	if (train) {
		LLVMValueRef *el = xmalloc((size_t)kl->nparam * sizeof *el);
		for (int i = 0; i < kl->nparam; i++)
			el[i] = LLVMConstInt(cg->t_i32, (unsigned long long)g->val[kl->param_value[i]].state, 1);
		roles = private_const(cg, LLVMConstArray2(cg->t_i32, el, (uint64_t)kl->nparam), "roles", 4);
		free(el);
	}
	/* dynamic batch: which inputs and outputs carry it */
	LLVMValueRef bio = LLVMConstNull(cg->t_ptr);
	if (kl->batch_max > 0) {
		int n = g->ninput + g->noutput;
		LLVMValueRef *el = xmalloc((size_t)(n ? n : 1) * sizeof *el);
		for (int i = 0; i < n; i++) {
			int v = i < g->ninput ? g->input[i] : g->output[i - g->ninput];
			el[i] = LLVMConstInt(cg->t_i8, g->batch[v] ? 1 : 0, 0);
		}
		bio = private_const(cg, LLVMConstArray2(cg->t_i8, el, (uint64_t)n), "batch_io", 1);
		free(el);
	}
	LLVMValueRef f[14] = {
	    LLVMConstInt(cg->t_i32, NNCC_ABI_MAGIC, 0),
	    LLVMConstInt(cg->t_i32, NNCC_ABI_VERSION, 0),
	    cstring(cg, g->name),
	    LLVMConstInt(cg->t_i32, (unsigned long long)g->ninput, 1),
	    LLVMConstInt(cg->t_i32, (unsigned long long)g->noutput, 1),
	    LLVMConstInt(cg->t_i32, (unsigned long long)kl->nparam, 1),
	    in,
	    out,
	    par,
	    LLVMConstInt(cg->t_i64, (unsigned long long)kl->arena_bytes, 1),
	    m->run,
	    roles,
	    LLVMConstInt(cg->t_i64, (unsigned long long)kl->batch_max, 1),
	    bio,
	};
	char *name = xmalloc(strlen(g->name) + 16);
	sprintf(name, "%s_nncc_model", g->name);
	LLVMValueRef gm = LLVMAddGlobal(cg->mod, m->t_model, name);
	free(name);
	LLVMSetInitializer(gm, LLVMConstNamedStruct(m->t_model, f, 14));
	LLVMSetGlobalConstant(gm, 1);
	LLVMSetAlignment(gm, 8);
	LLVMValueRef alias = LLVMAddAlias2(cg->mod, m->t_model, 0, gm, "nncc_model");
	LLVMSetLinkage(alias, LLVMWeakAnyLinkage);
	return 0;
}

/* The run function */

static LLVMValueRef load_ptr(Cg *cg, LLVMValueRef arr, int index)
{
	LLVMValueRef i = LLVMConstInt(cg->t_i64, (unsigned long long)index, 1);
	LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, cg->t_ptr, arr, &i, 1, "");
	LLVMValueRef v = LLVMBuildLoad2(cg->b, cg->t_ptr, p, "");
	LLVMSetAlignment(v, 8);
	return v;
}

static LLVMValueRef buf_base(Cg *cg, LLVMValueRef fn, int bi)
{
	const Buf *b = &cg->kl->buf[bi];
	if (b->alias >= 0) { /* a sub-range of a concat's output */
		NN_ASSERT(b->alias < cg->kl->nbuf && cg->kl->buf[b->alias].alias < 0 && b->alias_offset >= 0 &&
			  b->alias_offset + b->nbytes <= cg->kl->buf[b->alias].nbytes);
		LLVMValueRef off = LLVMConstInt(cg->t_i64, (unsigned long long)b->alias_offset, 1);
		return LLVMBuildInBoundsGEP2(cg->b, cg->t_i8, buf_base(cg, fn, b->alias), &off, 1, "");
	}
	switch (b->kind) {
	case BUF_INPUT:
		NN_ASSERT(b->index >= 0 && b->index < cg->kl->g->ninput);
		return load_ptr(cg, LLVMGetParam(fn, 1), b->index);
	case BUF_OUTPUT:
		NN_ASSERT(b->index >= 0 && b->index < cg->kl->g->noutput);
		return load_ptr(cg, LLVMGetParam(fn, 2), b->index);
	case BUF_PARAM:
	case BUF_STATE: /* the session's writable copy, in the same array */
		NN_ASSERT(b->index >= 0 && b->index < cg->kl->nparam);
		return load_ptr(cg, LLVMGetParam(fn, 3), b->index);
	case BUF_TEMP: {
		NN_ASSERT(b->offset >= 0 && b->offset + b->nbytes <= cg->kl->arena_bytes);
		LLVMValueRef off = LLVMConstInt(cg->t_i64, (unsigned long long)b->offset, 1);
		return LLVMBuildInBoundsGEP2(cg->b, cg->t_i8, LLVMGetParam(fn, 0), &off, 1, "");
	}
	}
	NN_ASSERT(!"unknown buffer kind");
}

static void emit_run(Mod *m)
{
	Cg *cg = m->cg;
	const KernelList *kl = cg->kl;
	LLVMTypeRef pt[5] = {cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr};
	char *name = xmalloc(strlen(kl->g->name) + 8);
	sprintf(name, "%s_run", kl->g->name);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(cg->t_void, pt, 5, 0));
	free(name);
	cpu_fn_attrs(cg, fn);
	LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));

	LLVMValueRef *base = xcalloc((size_t)(kl->nbuf ? kl->nbuf : 1), sizeof *base);
	int *args = xmalloc((size_t)(kl->nbuf ? kl->nbuf : 1) * sizeof *args);
	LLVMValueRef *av = xmalloc((size_t)(kl->nbuf + 1) * sizeof *av);
	for (int i = 0; i < kl->nk; i++) {
		int n = cpu_kernel_args(kl, &kl->k[i], args);
		for (int j = 0; j < n; j++) {
			if (!base[args[j]])
				base[args[j]] = buf_base(cg, fn, args[j]);
			av[j] = base[args[j]];
		}
		av[n] = LLVMGetParam(fn, 4); /* ctx: the runtime's threads */
		LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(m->kfn[i]), m->kfn[i], av, (unsigned)n + 1, "");
	}
	LLVMBuildRetVoid(cg->b);
	free(av);
	free(args);
	free(base);
	m->run = fn;
}

static int build(Mod *m, Diag *d)
{
	Cg *cg = m->cg;
	const KernelList *kl = cg->kl;
	if (!kl->g || !kl->g->name || !*kl->g->name)
		return diag(d, "model has no name");
	make_types(m);
	if (emit_weights(m, d))
		return -1;
	m->kfn = xcalloc((size_t)(kl->nk ? kl->nk : 1), sizeof *m->kfn);
	for (int i = 0; i < kl->nk; i++)
		if (!(m->kfn[i] = cpu_kernel(cg, i, d)))
			return -1;
	emit_run(m);
	return emit_descriptor(m, d);
}

/* Optimization and output */

static void verify(LLVMModuleRef mod)
{
	char *msg = NULL;
	if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
		fprintf(stderr, "nncc: LLVM module does not verify:\n%s\n", msg ? msg : "");
		nn_assert_fail("LLVMVerifyModule(mod) == 0", __FILE__, __LINE__);
	}
	LLVMDisposeMessage(msg);
}

static int optimize(Cg *cg, LLVMTargetMachineRef tm, Diag *d)
{
	char pipe[32];
	snprintf(pipe, sizeof pipe, "default<O%d>", cg->opt_level);
	LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
	LLVMPassBuilderOptionsSetLoopVectorization(po, cg->opt_level >= 2);
	LLVMPassBuilderOptionsSetSLPVectorization(po, cg->opt_level >= 2);
	LLVMPassBuilderOptionsSetLoopInterleaving(po, cg->opt_level >= 2);
	LLVMPassBuilderOptionsSetLoopUnrolling(po, cg->opt_level >= 2);
	LLVMErrorRef e = LLVMRunPasses(cg->mod, pipe, tm, po);
	LLVMDisposePassBuilderOptions(po);
	if (e) {
		char *msg = LLVMGetErrorMessage(e);
		diag(d, "LLVM passes %s failed: %s", pipe, msg);
		LLVMDisposeErrorMessage(msg);
		return -1;
	}
	return 0;
}


/* path "-" is standard output. */
static int write_stdout(Cg *cg, LLVMTargetMachineRef tm, int emit_llvm, Diag *d)
{
	int rc = 0;
	if (emit_llvm) {
		char *s = LLVMPrintModuleToString(cg->mod);
		if (fputs(s, stdout) == EOF)
			rc = -1;
		LLVMDisposeMessage(s);
	} else {
		char *err = NULL;
		LLVMMemoryBufferRef mb;
		if (LLVMTargetMachineEmitToMemoryBuffer(tm, cg->mod, LLVMObjectFile, &err, &mb)) {
			rc = diag(d, "cannot emit the object: %s", err ? err : "unknown error");
			LLVMDisposeMessage(err);
			return rc;
		}
		size_t n = LLVMGetBufferSize(mb);
		if (fwrite(LLVMGetBufferStart(mb), 1, n, stdout) != n)
			rc = -1;
		LLVMDisposeMemoryBuffer(mb);
	}
	if (fflush(stdout) != 0 || rc)
		return diag(d, "cannot write to standard output: %s", strerror(errno));
	return 0;
}

static int write_out(Cg *cg, LLVMTargetMachineRef tm, const char *path, int emit_llvm, Diag *d)
{
	if (strcmp(path, "-") == 0)
		return write_stdout(cg, tm, emit_llvm, d);
	char *tmp = make_tmp_next_to(path, d);
	if (!tmp)
		return -1;
	char *err = NULL;
	LLVMBool bad = emit_llvm ? LLVMPrintModuleToFile(cg->mod, tmp, &err)
	                         : LLVMTargetMachineEmitToFile(tm, cg->mod, tmp, LLVMObjectFile, &err);
	int rc = 0;
	if (bad) {
		rc = diag(d, "cannot write %s: %s", path, err ? err : "unknown error");
	} else if (rename(tmp, path) != 0) {
		rc = diag(d, "cannot write %s: %s", path, strerror(errno));
	}
	if (rc)
		unlink(tmp);
	LLVMDisposeMessage(err);
	free(tmp);
	return rc;
}

static LLVMTargetMachineRef make_tm(const CpuOptions *o, int opt, char **cpu, char **features, Diag *d)
{
	LLVMInitializeNativeTarget();
	LLVMInitializeNativeAsmPrinter();
	char *triple = LLVMGetDefaultTargetTriple();
	LLVMTargetRef target;
	char *err = NULL;
	LLVMTargetMachineRef tm = NULL;
	if (LLVMGetTargetFromTriple(triple, &target, &err)) {
		diag(d, "no LLVM target for %s: %s", triple, err ? err : "");
		LLVMDisposeMessage(err);
	} else {
		*cpu = o && o->cpu ? LLVMCreateMessage(o->cpu) : LLVMGetHostCPUName();
		*features = o && o->features ? LLVMCreateMessage(o->features) : LLVMGetHostCPUFeatures();
		NN_ASSERT(*cpu && *features);
		static const LLVMCodeGenOptLevel lv[4] = {
		    LLVMCodeGenLevelNone,
		    LLVMCodeGenLevelLess,
		    LLVMCodeGenLevelDefault,
		    LLVMCodeGenLevelAggressive,
		};
		tm = LLVMCreateTargetMachine(target, triple, *cpu, *features, lv[opt], LLVMRelocPIC,
		                             LLVMCodeModelDefault);
		if (!tm)
			diag(d, "cannot create an LLVM target machine for %s (cpu %s)", triple, *cpu);
	}
	LLVMDisposeMessage(triple);
	return tm;
}

int cg_cpu_emit(const KernelList *kl, const CpuOptions *o, const char *path, int emit_llvm, Diag *d)
{
	int opt = o ? o->opt_level : 2;
	opt = opt < 0 ? 0 : opt > 3 ? 3 : opt;
	char *cpu = NULL, *features = NULL; /* LLVM messages */
	LLVMTargetMachineRef tm = make_tm(o, opt, &cpu, &features, d);
	if (!tm) {
		LLVMDisposeMessage(cpu);
		LLVMDisposeMessage(features);
		return -1;
	}
	Cg cg = {.kl = kl, .cpu = cpu, .features = features, .opt_level = opt};
	cg.ctx = LLVMContextCreate();
	cg.mod = LLVMModuleCreateWithNameInContext(kl->g && kl->g->name ? kl->g->name : "model", cg.ctx);
	cg.b = LLVMCreateBuilderInContext(cg.ctx);
	cg.t_void = LLVMVoidTypeInContext(cg.ctx);
	cg.t_i1 = LLVMInt1TypeInContext(cg.ctx);
	cg.t_i8 = LLVMInt8TypeInContext(cg.ctx);
	cg.t_i32 = LLVMInt32TypeInContext(cg.ctx);
	cg.t_i64 = LLVMInt64TypeInContext(cg.ctx);
	cg.t_ptr = LLVMPointerTypeInContext(cg.ctx, 0);
	char *triple = LLVMGetTargetMachineTriple(tm);
	LLVMSetTarget(cg.mod, triple);
	LLVMDisposeMessage(triple);
	LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
	LLVMSetModuleDataLayout(cg.mod, td);
	LLVMDisposeTargetData(td);

	Mod m = {.cg = &cg};
	int rc = build(&m, d);
	if (rc == 0) {
		verify(cg.mod);
		rc = optimize(&cg, tm, d);
	}
	if (rc == 0)
		rc = write_out(&cg, tm, path, emit_llvm, d);

	free(m.weight);
	free(m.kfn);
	LLVMDisposeBuilder(cg.b);
	LLVMDisposeModule(cg.mod);
	LLVMContextDispose(cg.ctx);
	LLVMDisposeTargetMachine(tm);
	LLVMDisposeMessage(cpu);
	LLVMDisposeMessage(features);
	return rc;
}
