/* llvm_kernel.c — renders one Kernel into internal LLVM functions: the
 * loop nest, where each expression node is evaluated, threads, and the
 * library calls with their fused epilogues.
 *
 * Every kernel becomes `void k<N>(ptr storage..., ptr ctx)`: one pointer
 * per distinct storage it touches (cpu_kernel_args), noalias unless its
 * bytes may overlap another argument's, then the runtime's nncc_abi_ctx.
 *
 * Loops are canonical (i = lo .. hi-1, phis built directly, rotated so the
 * test sits in the latch), one per output var. Expression nodes are
 * evaluated once per point of the loops they depend on (cg_kx_dag): on
 * entering the loop of output var v, every node whose innermost output
 * var is v is emitted, children first, so a node shared by two parents is
 * one value and a KX_REDUCE runs its own loop nest over the reduction vars
 * once per row, not once per element (softmax's max and sum). Nodes that
 * depend on a reduction var are evaluated inside that nest, per iteration.
 *
 * The schedule (Sched): with par_var >= 0 and par_chunks > 1 the nest moves
 * to `k<N>.body(storage..., i64 lo, i64 hi, i64 img, i64 ext)`, where
 * par_var walks [lo, hi) and ext is var 0's extent at the run's batch
 * (Kernel.batch_var0, llvm_batch.c); `k<N>.chunk(ptr closure, i64 c)`
 * runs chunk c of par_chunks equal parts of the range; k<N> hands the chunks to ctx->parallel_for when
 * the runtime lends threads, and otherwise calls the body once over the
 * whole range. vec_var with vec_width > 0 puts llvm.loop.vectorize.width on
 * that loop. Tiles are not used (ignoring them is always correct).
 *
 * KK_MATMUL and KK_CONV2D call the runtime's kernel library (runtime/abi.h).
 * A fused epilogue (Kernel.body) then runs over the call's output in place,
 * unless the convolution's library applies it where it stores (ReLU,
 * clamps, a residual add: llvm_epi.c). A convolution over several images
 * whose epilogue walks the images with var 0 runs image by image instead:
 * the call on one image, then the epilogue on that image while it is still
 * in cache. */
#include "cpu.h"
#include "../../runtime/abi.h"

#include <llvm-c/DebugInfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- expression nodes ------------------------------------------------------- */

static LLVMValueRef emit(Kc *c, int i);

/* The value of x at the current point: already emitted (hoisted or shared),
 * or, for a node inside a reduction body, emitted now. */
static LLVMValueRef get(Kc *c, const Kx *x)
{
	int i = cg_kx_find(&c->dag, x);
	NN_ASSERT(i >= 0);
	if (!c->val[i]) {
		NN_ASSERT(c->dag.node[i].inner); /* hoistable nodes are emitted at their level */
		c->val[i] = emit(c, i);
	}
	return c->val[i];
}

/* One level of a KX_REDUCE nest over var v; returns the accumulator after
 * the loop. The builder ends in the loop's exit block. */
static LLVMValueRef reduce_level(Kc *c, const Kx *x, int v, LLVMValueRef acc)
{
	LLVMBuilderRef b = c->cg->b;
	if (v == c->k->nvar) {
		LLVMValueRef e = get(c, x->a), pay = NULL;
		if (x->op != KR_ARGMAX && x->op != KR_ARGMIN) /* arg reductions compare in a's dtype */
			e = cpu_conv(c, e, x->a->dtype, x->dtype);
		else if (x->b) /* and may carry a payload */
			pay = cpu_conv(c, get(c, x->b), x->b->dtype, x->dtype);
		/* values of this iteration die here */
		for (int i = 0; i < c->dag.n; i++)
			if (c->dag.node[i].inner)
				c->val[i] = NULL;
		return cpu_reduce_step(c, x, acc, e, pay);
	}
	LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
	LLVMBasicBlockRef head = cpu_block(c, "red"), exit = cpu_block(c, "rede");
	LLVMBuildBr(b, head);
	LLVMPositionBuilderAtEnd(b, head);
	LLVMValueRef i = LLVMBuildPhi(b, c->cg->t_i64, "r");
	LLVMValueRef a = LLVMBuildPhi(b, cpu_reduce_type(c, x), "acc");
	c->var[v] = i;
	LLVMValueRef an = reduce_level(c, x, v + 1, a);
	c->var[v] = NULL;
	LLVMValueRef in = LLVMBuildNSWAdd(b, i, cpu_i64(c, 1), "");
	LLVMBasicBlockRef latch = LLVMGetInsertBlock(b);
	LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, in, cpu_i64(c, c->k->extent[v]), ""), head, exit);
	cpu_phi_add(i, cpu_i64(c, 0), pre);
	cpu_phi_add(i, in, latch);
	cpu_phi_add(a, acc, pre);
	cpu_phi_add(a, an, latch);
	LLVMPositionBuilderAtEnd(b, exit);
	return an;
}

static LLVMValueRef emit(Kc *c, int i)
{
	const Kx *x = c->dag.node[i].x;
	if (x->kind == KX_REDUCE) {
		LLVMValueRef init = cpu_reduce_init(c, x);
		for (int v = c->k->nout_var; v < c->k->nvar; v++)
			if (c->k->extent[v] <= 0)
				return cpu_reduce_final(c, x, init);
		return cpu_reduce_final(c, x, reduce_level(c, x, c->k->nout_var, init));
	}
	LLVMValueRef a = x->a ? get(c, x->a) : NULL;
	LLVMValueRef b = x->b ? get(c, x->b) : NULL;
	if (x->kind == KX_SELECT)
		return cpu_select(c, x, get(c, x->cond), a, b);
	return cpu_node(c, x, a, b);
}

/* Emits every node that needs exactly `level` output loops open. */
static void emit_level(Kc *c, int level)
{
	for (int i = 0; i < c->dag.n; i++)
		if (!c->dag.node[i].inner && c->dag.node[i].level == level && !c->val[i])
			c->val[i] = emit(c, i);
}

/* Forgets the values of nodes inside output loops deeper than `level`. */
static void forget(Kc *c, int level)
{
	for (int i = 0; i < c->dag.n; i++)
		if (c->dag.node[i].level > level || c->dag.node[i].inner)
			c->val[i] = NULL;
}

/* --- loop nests --------------------------------------------------------------- */

static bool parallel(const Kernel *k)
{
	return k->sched.par_chunks > 1 && k->sched.par_var >= 0 && k->sched.par_var < k->nout_var;
}

/* !llvm.loop !{self, !{"llvm.loop.vectorize.width", i32 w}, !{"llvm.loop.vectorize.enable", i1 1}} */
static void vectorize_md(Kc *c, LLVMValueRef br, int width)
{
	LLVMContextRef ctx = c->cg->ctx;
	LLVMMetadataRef w[2] = {
	    LLVMMDStringInContext2(ctx, "llvm.loop.vectorize.width", 25),
	    LLVMValueAsMetadata(LLVMConstInt(c->cg->t_i32, (unsigned long long)width, 0)),
	};
	LLVMMetadataRef e[2] = {
	    LLVMMDStringInContext2(ctx, "llvm.loop.vectorize.enable", 26),
	    LLVMValueAsMetadata(LLVMConstInt(c->cg->t_i1, 1, 0)),
	};
	LLVMMetadataRef self = LLVMTemporaryMDNode(ctx, NULL, 0);
	LLVMMetadataRef ops[3] = {self, LLVMMDNodeInContext2(ctx, w, 2), LLVMMDNodeInContext2(ctx, e, 2)};
	LLVMMetadataRef loop = LLVMMDNodeInContext2(ctx, ops, 3);
	LLVMMetadataReplaceAllUsesWith(self, loop);
	LLVMSetMetadata(br, LLVMGetMDKindIDInContext(ctx, "llvm.loop", 9), LLVMMetadataAsValue(ctx, loop));
}

static void store_body(Kc *c)
{
	const Kernel *k = c->k;
	const Buf *ob = &c->kl->buf[k->out];
	LLVMBuilderRef b = c->cg->b;
	LLVMValueRef p = cpu_elem_ptr(c, k->out, &k->out_idx);
	LLVMBasicBlockRef skip = NULL;
	if (k->out_dyn) { /* store only where the run-time index is in range (>= 0) */
		LLVMValueRef dyn = get(c, k->out_dyn);
		LLVMBasicBlockRef go = cpu_block(c, "st");
		skip = cpu_block(c, "stj");
		LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSGE, dyn, cpu_i64(c, 0), ""), go, skip);
		LLVMPositionBuilderAtEnd(b, go);
		p = LLVMBuildInBoundsGEP2(b, cpu_type(c->cg, ob->dtype), p, &dyn, 1, "");
	}
	LLVMValueRef v = cpu_conv(c, get(c, k->body), k->body->dtype, ob->dtype);
	LLVMValueRef st = LLVMBuildStore(b, v, p);
	LLVMSetAlignment(st, (unsigned)ir_dtype_size(ob->dtype));
	if (skip) {
		LLVMBuildBr(b, skip);
		LLVMPositionBuilderAtEnd(b, skip);
	}
}

/* The loops over output vars v..nout_var-1, the store innermost. par_var
 * walks [lo, hi) when lo is non-NULL (an empty range runs nothing). */
static void out_level(Kc *c, int v, LLVMValueRef lo, LLVMValueRef hi)
{
	LLVMBuilderRef b = c->cg->b;
	const Kernel *k = c->k;
	emit_level(c, v);
	if (v == k->nout_var) {
		store_body(c);
		return;
	}
	LLVMValueRef start = cpu_i64(c, 0), end = v == 0 && c->bext ? c->bext : cpu_i64(c, k->extent[v]);
	LLVMBasicBlockRef exit = cpu_block(c, "loope");
	if (lo && v == k->sched.par_var) {
		start = lo;
		end = hi;
		LLVMBasicBlockRef go = cpu_block(c, "chunk");
		LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, lo, hi, ""), go, exit);
		LLVMPositionBuilderAtEnd(b, go);
	}
	LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
	LLVMBasicBlockRef head = cpu_block(c, "loop");
	LLVMBuildBr(b, head);
	LLVMPositionBuilderAtEnd(b, head);
	LLVMValueRef i = LLVMBuildPhi(b, c->cg->t_i64, "i");
	c->var[v] = i;
	out_level(c, v + 1, lo, hi);
	forget(c, v);
	c->var[v] = NULL;
	LLVMValueRef in = LLVMBuildNSWAdd(b, i, cpu_i64(c, 1), "");
	LLVMBasicBlockRef latch = LLVMGetInsertBlock(b);
	LLVMValueRef br = LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, in, end, ""), head, exit);
	if (v == k->sched.vec_var && k->sched.vec_width > 0)
		vectorize_md(c, br, k->sched.vec_width);
	cpu_phi_add(i, start, pre);
	cpu_phi_add(i, in, latch);
	LLVMPositionBuilderAtEnd(b, exit);
}

/* The whole nest at the builder's position in c->fn. With img non-NULL,
 * var 0 is fixed to it (one image of a convolution's epilogue). */
static void nest(Kc *c, LLVMValueRef img, LLVMValueRef lo, LLVMValueRef hi)
{
	for (int v = 0; v < c->k->nout_var; v++)
		if (c->k->extent[v] <= 0)
			return;
	memset(c->var, 0, sizeof c->var);
	memset(c->val, 0, (size_t)c->dag.n * sizeof *c->val);
	int from = 0;
	if (img) {
		c->var[0] = img;
		emit_level(c, 0);
		from = 1;
	}
	out_level(c, from, lo, hi);
	memset(c->var, 0, sizeof c->var);
	memset(c->val, 0, (size_t)c->dag.n * sizeof *c->val);
}

/* --- functions and threads ---------------------------------------------------- */

void cpu_fn_attrs(Cg *cg, LLVMValueRef fn)
{
	unsigned kind = LLVMGetEnumAttributeKindForName("nounwind", 8);
	LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(cg->ctx, kind, 0));
	if (cg->cpu && *cg->cpu)
		LLVMAddTargetDependentFunctionAttr(fn, "target-cpu", cg->cpu);
	if (cg->features && *cg->features)
		LLVMAddTargetDependentFunctionAttr(fn, "target-features", cg->features);
}

/* An internal function named k<ki><suffix>: the storage pointers (noalias
 * where allowed), then `extra` parameters of the given types. */
static LLVMValueRef kernel_fn(Kc *c, const char *suffix, LLVMTypeRef *extra, int nextra)
{
	Cg *cg = c->cg;
	LLVMTypeRef *pt = xmalloc((size_t)(c->nargs + nextra) * sizeof *pt);
	for (int j = 0; j < c->nargs; j++)
		pt[j] = cg->t_ptr;
	for (int j = 0; j < nextra; j++)
		pt[c->nargs + j] = extra[j];
	char name[48];
	snprintf(name, sizeof name, "k%d%s", c->ki, suffix);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(cg->t_void, pt, (unsigned)(c->nargs + nextra), 0));
	free(pt);
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	cpu_fn_attrs(cg, fn);
	if (!*suffix) /* each kernel stays a function: inlining thousands of them into the
	               * entry point (an unrolled RNN) makes LLVM's optimizer superlinear */
		LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
		                        LLVMCreateEnumAttribute(cg->ctx, LLVMGetEnumAttributeKindForName("noinline", 8), 0));
	unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
	for (int j = 0; j < c->nargs; j++)
		if (cpu_arg_noalias(c->kl, c->args, c->nargs, j))
			LLVMAddAttributeAtIndex(fn, (unsigned)j + 1, LLVMCreateEnumAttribute(cg->ctx, noalias, 0));
	return fn;
}

/* The closure k<N>.chunk receives: every storage pointer, then the image
 * and var 0's run-time extent. */
static LLVMTypeRef closure_type(Kc *c)
{
	LLVMTypeRef *ft = xmalloc((size_t)(c->nargs + 2) * sizeof *ft);
	for (int j = 0; j < c->nargs; j++)
		ft[j] = c->cg->t_ptr;
	ft[c->nargs] = c->cg->t_i64;
	ft[c->nargs + 1] = c->cg->t_i64; /* var 0's run-time extent (dynamic batch) */
	LLVMTypeRef t = LLVMStructTypeInContext(c->cg->ctx, ft, (unsigned)c->nargs + 2, 0);
	free(ft);
	return t;
}

/* Threads: the functions that run chunks, and the closure k<N> fills. */
typedef struct Par {
	LLVMValueRef body;   /* k<N>.body(storage..., lo, hi, img, ext) */
	LLVMValueRef chunk;  /* k<N>.chunk(closure, c) */
	LLVMTypeRef cl_type; /* the closure's struct type */
	LLVMValueRef cl;     /* k<N>'s closure (alloca), NULL until made */
} Par;

/* Builds k<N>.body and k<N>.chunk; per_image: var 0 is the body's img. */
static void make_par(Kc *c, Par *p, bool per_image)
{
	Cg *cg = c->cg;
	const Kernel *k = c->k;
	LLVMBuilderRef b = cg->b;
	LLVMValueRef outer = c->fn;

	LLVMTypeRef i64 = cg->t_i64, ex[4] = {i64, i64, i64, i64};
	p->body = kernel_fn(c, ".body", ex, 4);
	c->fn = p->body;
	LLVMPositionBuilderAtEnd(b, cpu_block(c, "entry"));
	c->bext = k->batch_var0 ? LLVMGetParam(p->body, (unsigned)c->nargs + 3) : NULL;
	nest(c, per_image ? LLVMGetParam(p->body, (unsigned)c->nargs + 2) : NULL,
	     LLVMGetParam(p->body, (unsigned)c->nargs), LLVMGetParam(p->body, (unsigned)c->nargs + 1));
	c->bext = NULL;
	LLVMBuildRetVoid(b);

	/* chunk ch covers [ch*E/C, (ch+1)*E/C) */
	p->cl_type = closure_type(c);
	LLVMTypeRef ct[2] = {cg->t_ptr, i64};
	char name[48];
	snprintf(name, sizeof name, "k%d.chunk", c->ki);
	p->chunk = LLVMAddFunction(cg->mod, name, LLVMFunctionType(cg->t_void, ct, 2, 0));
	LLVMSetLinkage(p->chunk, LLVMInternalLinkage);
	cpu_fn_attrs(cg, p->chunk);
	c->fn = p->chunk;
	LLVMPositionBuilderAtEnd(b, cpu_block(c, "entry"));
	LLVMValueRef cl = LLVMGetParam(p->chunk, 0), ch = LLVMGetParam(p->chunk, 1);
	int64_t n = k->sched.par_chunks;
	LLVMValueRef *av = xmalloc((size_t)(c->nargs + 4) * sizeof *av);
	for (int j = 0; j <= c->nargs + 1; j++) {
		LLVMValueRef f = LLVMBuildStructGEP2(b, p->cl_type, cl, (unsigned)j, "");
		av[j] = LLVMBuildLoad2(b, j < c->nargs ? cg->t_ptr : i64, f, "");
	}
	LLVMValueRef e = k->batch_var0 && k->sched.par_var == 0 ? av[c->nargs + 1]
	                                                         : cpu_i64(c, k->extent[k->sched.par_var]);
	LLVMValueRef lo = LLVMBuildSDiv(b, LLVMBuildNSWMul(b, ch, e, ""), cpu_i64(c, n), "");
	LLVMValueRef ch1 = LLVMBuildNSWAdd(b, ch, cpu_i64(c, 1), "");
	LLVMValueRef hi = LLVMBuildSDiv(b, LLVMBuildNSWMul(b, ch1, e, ""), cpu_i64(c, n), "");
	av[c->nargs + 3] = av[c->nargs + 1];
	av[c->nargs + 2] = av[c->nargs];
	av[c->nargs] = lo;
	av[c->nargs + 1] = hi;
	LLVMBuildCall2(b, LLVMGlobalGetValueType(p->body), p->body, av, (unsigned)c->nargs + 4, "");
	LLVMBuildRetVoid(b);
	free(av);
	c->fn = outer;
}

/* In k<N>: the closure, filled with the storage pointers in the entry block. */
static void make_closure(Kc *c, Par *p)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMBasicBlockRef at = LLVMGetInsertBlock(b);
	LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(c->fn);
	LLVMValueRef first = LLVMGetFirstInstruction(entry);
	if (first)
		LLVMPositionBuilderBefore(b, first);
	else
		LLVMPositionBuilderAtEnd(b, entry);
	p->cl = LLVMBuildAlloca(b, p->cl_type, "closure");
	for (int j = 0; j < c->nargs; j++)
		LLVMBuildStore(b, LLVMGetParam(c->fn, (unsigned)j), LLVMBuildStructGEP2(b, p->cl_type, p->cl, (unsigned)j, ""));
	LLVMPositionBuilderAtEnd(b, at);
}

/* In k<N>: ctx && ctx->parallel_for ? parallel_for(ctx->pool, chunk,
 * closure, chunks) : body(storage..., 0, extent, img). */
static void run_par(Kc *c, Par *p, LLVMValueRef img)
{
	Cg *cg = c->cg;
	LLVMBuilderRef b = cg->b;
	const Kernel *k = c->k;
	if (!p->cl)
		make_closure(c, p);
	LLVMValueRef ctx = LLVMGetParam(c->fn, (unsigned)c->nargs);
	/* nncc_abi_ctx {i32 nthreads, ptr parallel_for, ptr pool} */
	LLVMTypeRef ft[3] = {cg->t_i32, cg->t_ptr, cg->t_ptr};
	LLVMTypeRef ctx_t = LLVMStructTypeInContext(cg->ctx, ft, 3, 0);
	LLVMBasicBlockRef has_ctx = cpu_block(c, "ctx"), threads = cpu_block(c, "threads");
	LLVMBasicBlockRef serial = cpu_block(c, "serial"), done = cpu_block(c, "done");
	LLVMBuildCondBr(b, LLVMBuildIsNull(b, ctx, ""), serial, has_ctx);

	LLVMPositionBuilderAtEnd(b, has_ctx);
	LLVMValueRef pf = LLVMBuildLoad2(b, cg->t_ptr, LLVMBuildStructGEP2(b, ctx_t, ctx, 1, ""), "");
	LLVMBuildCondBr(b, LLVMBuildIsNull(b, pf, ""), serial, threads);

	LLVMPositionBuilderAtEnd(b, threads);
	LLVMValueRef pool = LLVMBuildLoad2(b, cg->t_ptr, LLVMBuildStructGEP2(b, ctx_t, ctx, 2, ""), "");
	LLVMBuildStore(b, img ? img : cpu_i64(c, 0), LLVMBuildStructGEP2(b, p->cl_type, p->cl, (unsigned)c->nargs, ""));
	LLVMBuildStore(b, c->bext ? c->bext : cpu_i64(c, 0),
		       LLVMBuildStructGEP2(b, p->cl_type, p->cl, (unsigned)c->nargs + 1, ""));
	LLVMTypeRef pt[4] = {cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_i64};
	LLVMValueRef pa[4] = {pool, p->chunk, p->cl, cpu_i64(c, k->sched.par_chunks)};
	LLVMBuildCall2(b, LLVMFunctionType(cg->t_void, pt, 4, 0), pf, pa, 4, "");
	LLVMBuildBr(b, done);

	LLVMPositionBuilderAtEnd(b, serial);
	LLVMValueRef *av = xmalloc((size_t)(c->nargs + 4) * sizeof *av);
	for (int j = 0; j < c->nargs; j++)
		av[j] = LLVMGetParam(c->fn, (unsigned)j);
	av[c->nargs] = cpu_i64(c, 0);
	av[c->nargs + 1] = c->bext && k->sched.par_var == 0 ? c->bext : cpu_i64(c, k->extent[k->sched.par_var]);
	av[c->nargs + 2] = img ? img : cpu_i64(c, 0);
	av[c->nargs + 3] = c->bext ? c->bext : cpu_i64(c, 0);
	LLVMBuildCall2(b, LLVMGlobalGetValueType(p->body), p->body, av, (unsigned)c->nargs + 4, "");
	free(av);
	LLVMBuildBr(b, done);
	LLVMPositionBuilderAtEnd(b, done);
}

/* The loop nest (or the epilogue) at the builder's position in k<N>,
 * threaded when the schedule says so. */
static void run_nest(Kc *c, Par *p, LLVMValueRef img)
{
	if (p->body)
		run_par(c, p, img);
	else
		nest(c, img, NULL, NULL);
}

/* --- library calls -------------------------------------------------------------- */

LLVMValueRef cpu_lib_fn(Kc *c, const char *name, LLVMTypeRef fty)
{
	LLVMValueRef f = LLVMGetNamedFunction(c->cg->mod, name);
	if (!f) {
		f = LLVMAddFunction(c->cg->mod, name, fty);
		LLVMAddAttributeAtIndex(
		    f, LLVMAttributeFunctionIndex,
		    LLVMCreateEnumAttribute(c->cg->ctx, LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
	}
	return f;
}

/* A private constant [n x i64] holding v. */
static LLVMValueRef i64_array(Kc *c, const int64_t *v, int n, const char *name)
{
	LLVMValueRef el[32];
	NN_ASSERT(n <= 32);
	for (int i = 0; i < n; i++)
		el[i] = cpu_i64(c, v[i]);
	LLVMValueRef init = LLVMConstArray2(c->cg->t_i64, el, (uint64_t)n);
	LLVMValueRef g = LLVMAddGlobal(c->cg->mod, LLVMTypeOf(init), name);
	LLVMSetInitializer(g, init);
	LLVMSetGlobalConstant(g, 1);
	LLVMSetLinkage(g, LLVMPrivateLinkage);
	LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
	LLVMSetAlignment(g, 8);
	return g;
}

static void matmul_call(Kc *c)
{
	Cg *cg = c->cg;
	const Kernel *k = c->k;
	LLVMTypeRef p = cg->t_ptr, i32 = cg->t_i32, i64 = cg->t_i64;
	LLVMTypeRef at[14] = {p, p, p, i32, p, p, p, p, i64, i64, i64, i32, i32, p};
	LLVMTypeRef fty = LLVMFunctionType(cg->t_void, at, 14, 0);
	LLVMValueRef args[14] = {
	    cpu_base(c, k->mm.a),
	    cpu_base(c, k->mm.b),
	    cpu_base(c, k->mm.c),
	    LLVMConstInt(i32, (unsigned long long)k->mm.nbatch, 1),
	    k->batch_call == KB_CALL_BEXT ? cpu_i64_array_at(c, k->mm.bext, 4, 0, c->batch)
	                                  : i64_array(c, k->mm.bext, 4, "mm.bext"),
	    i64_array(c, k->mm.sa, 4, "mm.sa"),
	    i64_array(c, k->mm.sb, 4, "mm.sb"),
	    i64_array(c, k->mm.sc, 4, "mm.sc"),
	    k->batch_call == KB_CALL_M ? cpu_batch_scale(c, c->batch, k->mm.m) : cpu_i64(c, k->mm.m),
	    cpu_i64(c, k->mm.n),
	    cpu_i64(c, k->mm.k),
	    LLVMConstInt(i32, (unsigned long long)(k->mm.trans_a != 0), 0),
	    LLVMConstInt(i32, (unsigned long long)(k->mm.trans_b != 0), 0),
	    LLVMGetParam(c->fn, (unsigned)c->nargs), /* ctx */
	};
	LLVMBuildCall2(cg->b, fty, cpu_lib_fn(c, "nncc_rt_matmul_f32", fty), args, 14, "");
}

/* The convolution of every image, or with img non-NULL of that one image
 * (x and y offset to it, n = 1); with epi, its epilogue applied by the
 * library. */
static void conv_call(Kc *c, LLVMValueRef img, const CpuEpi *epi)
{
	Cg *cg = c->cg;
	const Kernel *k = c->k;
	int64_t p[18] = {
	    img ? 1 : k->conv.n, k->conv.c, k->conv.h, k->conv.w, k->conv.k, k->conv.oh, k->conv.ow, k->conv.kh,
	    k->conv.kw, k->conv.sh, k->conv.sw, k->conv.ph, k->conv.pw, k->conv.dh, k->conv.dw, k->conv.group,
	    k->conv.wino_u, k->conv.swap | (k->conv.lean ? NNCC_CONV_LEAN : 0),
	};
	int64_t q[23] = { /* conv.nd: nncc_rt_convnd_f32's geometry */
	    k->conv.transpose, img ? 1 : k->conv.n, k->conv.c, k->conv.d, k->conv.h, k->conv.w, k->conv.k,
	    k->conv.od, k->conv.oh, k->conv.ow, k->conv.kd, k->conv.kh, k->conv.kw, k->conv.sd, k->conv.sh,
	    k->conv.sw, k->conv.pd, k->conv.ph, k->conv.pw, k->conv.dd, k->conv.dh, k->conv.dw, k->conv.group,
	};
	int64_t depth = k->conv.nd ? k->conv.d : 1, odepth = k->conv.nd ? k->conv.od : 1;
	LLVMValueRef x = cpu_base(c, k->conv.x), y = cpu_base(c, k->conv.y);
	if (img) { /* sizes were checked by cpu_check_kernel */
		LLVMTypeRef f32 = LLVMFloatTypeInContext(cg->ctx);
		LLVMValueRef xo = LLVMBuildNSWMul(cg->b, img, cpu_i64(c, k->conv.c * depth * k->conv.h * k->conv.w), "");
		LLVMValueRef yo = LLVMBuildNSWMul(cg->b, img, cpu_i64(c, k->conv.k * odepth * k->conv.oh * k->conv.ow), "");
		x = LLVMBuildInBoundsGEP2(cg->b, f32, x, &xo, 1, "");
		y = LLVMBuildInBoundsGEP2(cg->b, f32, y, &yo, 1, "");
	}
	LLVMValueRef geo = !img && k->batch_call == KB_CALL_N
	                       ? (k->conv.nd ? cpu_i64_array_at(c, q, 23, 1, c->batch)
	                                     : cpu_i64_array_at(c, p, 18, 0, c->batch))
	                   : k->conv.nd ? i64_array(c, q, 23, "conv.q")
	                                : i64_array(c, p, 18, "conv.p");
	if (!k->conv.nd && k->conv.wino_u == 1 && img) {
		/* image by image: the weight's Winograd transform, made in the
		 * scratch by image 0's call, serves the later images (wino_u 2) */
		p[16] = 2;
		LLVMValueRef again = i64_array(c, p, 18, "conv.p");
		LLVMValueRef first = LLVMBuildICmp(cg->b, LLVMIntEQ, img, LLVMConstInt(LLVMTypeOf(img), 0, 0), "");
		geo = LLVMBuildSelect(cg->b, first, geo, again, "");
	}
	LLVMTypeRef at[9] = {cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr,
	                     cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr};
	int nat = k->conv.nd ? 7 : 9; /* nncc_rt_conv2d_f32 takes the epilogue */
	LLVMTypeRef fty = LLVMFunctionType(cg->t_void, at, (unsigned)nat, 0);
	LLVMValueRef args[9] = {
	    x, cpu_base(c, k->conv.wt), cpu_base(c, k->conv.bias), y, cpu_base(c, k->conv.scratch),
	    geo,
	    LLVMGetParam(c->fn, (unsigned)c->nargs), /* ctx */
	    epi ? cpu_epi_const(c, epi) : LLVMConstNull(cg->t_ptr),
	    cpu_base(c, epi ? epi->res : -1),
	};
	NN_ASSERT(!epi || !img);
	const char *fn = k->conv.nd ? "nncc_rt_convnd_f32" : "nncc_rt_conv2d_f32";
	LLVMBuildCall2(cg->b, fty, cpu_lib_fn(c, fn, fty), args, (unsigned)nat, "");
}

/* Whether a convolution's epilogue can run image by image: var 0 walks the
 * images, the rest stays inside one image, and it reads the output only
 * where it writes. */
static bool per_image(Kc *c)
{
	const Kernel *k = c->k;
	int64_t img = k->conv.k * (k->conv.nd ? k->conv.od : 1) * k->conv.oh * k->conv.ow;
	int64_t lo = k->out_idx.c, hi = k->out_idx.c;
	if (k->sched.whole_batch || !k->body || k->conv.n <= 1 || k->nout_var < 1 || k->nvar != k->nout_var ||
	    k->extent[0] != k->conv.n || k->out_idx.k[0] != img || (parallel(k) && k->sched.par_var == 0))
		return false;
	for (int v = 1; v < k->nout_var; v++) {
		int64_t a = k->out_idx.k[v] * (k->extent[v] - 1); /* cannot overflow: inside the buffer */
		if (a < 0)
			lo += a;
		else
			hi += a;
	}
	if (lo < 0 || hi >= img)
		return false;
	for (int i = 0; i < c->dag.n; i++) {
		const Kx *x = c->dag.node[i].x;
		if (x->kind == KX_LOAD && cpu_buf_arg(c->kl, c->args, c->nargs, x->buf) ==
		                              cpu_buf_arg(c->kl, c->args, c->nargs, k->out) &&
		    (x->nguard || x->a || memcmp(&x->idx, &k->out_idx, sizeof x->idx) != 0))
			return false;
	}
	return true;
}

/* for img in 0..n: conv(img); epilogue(img) */
static void conv_per_image(Kc *c, Par *p)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
	LLVMBasicBlockRef head = cpu_block(c, "image"), exit = cpu_block(c, "imagee");
	LLVMBuildBr(b, head);
	LLVMPositionBuilderAtEnd(b, head);
	LLVMValueRef i = LLVMBuildPhi(b, c->cg->t_i64, "img");
	conv_call(c, i, NULL);
	run_nest(c, p, i);
	LLVMValueRef in = LLVMBuildNSWAdd(b, i, cpu_i64(c, 1), "");
	LLVMBasicBlockRef latch = LLVMGetInsertBlock(b);
	LLVMValueRef n = c->k->batch_call == KB_CALL_N ? c->batch : cpu_i64(c, c->k->conv.n);
	LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, in, n, ""), head, exit);
	cpu_phi_add(i, cpu_i64(c, 0), pre);
	cpu_phi_add(i, in, latch);
	LLVMPositionBuilderAtEnd(b, exit);
}

/* Whether a pool's loop may run as nncc_rt_pool2d_f32 (Kernel.pool): its
 * output stored whole and contiguous (however the vars were merged or
 * dropped since lowering), its only load the input buffer, and with a
 * dynamic batch, var 0 walking the images. */
static bool pool_call_ok(const Kc *c)
{
	const Kernel *k = c->k;
	const int64_t *p = k->pool.p;
	if (!k->pool.on || k->kind != KK_LOOP || !k->body || k->out_dyn || k->out_idx.c != 0 ||
	    (k->batch_var0 && (k->nout_var < 1 || k->extent[0] != p[0])))
		return false;
	int64_t stride = 1;
	for (int v = k->nvar - 1; v >= 0; v--) {
		if (v >= k->nout_var) {
			if (k->out_idx.k[v] != 0)
				return false;
		} else {
			if (k->out_idx.k[v] != stride)
				return false;
			stride *= k->extent[v];
		}
	}
	if (stride != p[0] * p[1] * p[4] * p[5])
		return false;
	for (int i = 0; i < c->dag.n; i++) {
		const Kx *x = c->dag.node[i].x;
		if (x->kind == KX_LOAD && x->buf != k->pool.x)
			return false;
	}
	return true;
}

/* The pool as one library call over every image. */
static void pool_call(Kc *c)
{
	Cg *cg = c->cg;
	const Kernel *k = c->k;
	LLVMTypeRef at[4] = {cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr};
	LLVMTypeRef fty = LLVMFunctionType(cg->t_void, at, 4, 0);
	LLVMValueRef args[4] = {
	    cpu_base(c, k->pool.x), cpu_base(c, k->out),
	    k->batch_var0 ? cpu_i64_array_at(c, k->pool.p, 19, 0, c->bext) : i64_array(c, k->pool.p, 19, "pool.p"),
	    LLVMGetParam(c->fn, (unsigned)c->nargs), /* ctx */
	};
	LLVMBuildCall2(cg->b, fty, cpu_lib_fn(c, "nncc_rt_pool2d_f32", fty), args, 4, "");
}

/* --- the kernel ---------------------------------------------------------------- */

LLVMValueRef cpu_kernel(Cg *cg, int ki, Diag *d)
{
	const KernelList *kl = cg->kl;
	const Kernel *k = &kl->k[ki];
	if (cpu_check_kernel(cg, k, d))
		return NULL;

	Kc c = {.cg = cg, .kl = kl, .k = k, .ki = ki};
	c.args = xmalloc((size_t)(kl->nbuf ? kl->nbuf : 1) * sizeof *c.args);
	c.nargs = cpu_kernel_args(kl, k, c.args);
	cg_kx_dag(k, &c.dag);
	c.val = xcalloc((size_t)(c.dag.n ? c.dag.n : 1), sizeof *c.val);
	CpuEpi epi;
	bool fused = cpu_conv_epi(&c, &epi); /* the library applies the epilogue */
	bool img = k->kind == KK_CONV2D && !fused && per_image(&c);
	bool lib_pool = pool_call_ok(&c);

	Par p = {0};
	if (k->body && parallel(k) && !lib_pool && !fused)
		make_par(&c, &p, img);
	LLVMTypeRef ctx_t = cg->t_ptr;
	c.fn = kernel_fn(&c, "", &ctx_t, 1);
	LLVMPositionBuilderAtEnd(cg->b, cpu_block(&c, "entry"));
	if (k->batch_var0 || k->batch_call) { /* dynamic batch: the run's, from ctx */
		c.batch = cpu_batch(&c);
		c.bext = k->batch_var0 ? cpu_batch_scale(&c, c.batch, k->extent[0]) : NULL;
	}
	switch (k->kind) {
	case KK_LOOP:
		if (lib_pool)
			pool_call(&c);
		else if (k->body)
			run_nest(&c, &p, NULL);
		break;
	case KK_MATMUL:
		matmul_call(&c);
		if (k->body)
			run_nest(&c, &p, NULL);
		break;
	case KK_CONV2D:
		if (img) {
			conv_per_image(&c, &p);
			break;
		}
		conv_call(&c, NULL, fused ? &epi : NULL);
		if (k->body && !fused)
			run_nest(&c, &p, NULL);
		break;
	}
	LLVMBuildRetVoid(cg->b);
	free(c.val);
	cg_kx_dag_free(&c.dag);
	free(c.args);
	return c.fn;
}
