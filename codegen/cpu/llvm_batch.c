/* llvm_batch.c — the run's batch in the generated code (dynamic batch,
 * docs/dynamic-batch.md): k<N> reads it from the runtime's nncc_abi_ctx
 * (the max when ctx is NULL or the value is out of range), loops whose
 * var 0 walks batch rows run to batch * rows-per-sample, and library calls
 * get it as their M, batch extent or image count. */
#include "cpu.h"

LLVMValueRef cpu_batch(Kc *c)
{
	Cg *cg = c->cg;
	LLVMBuilderRef b = cg->b;
	int64_t max = c->kl->batch_max;
	LLVMValueRef ctx = LLVMGetParam(c->fn, (unsigned)c->nargs);
	/* nncc_abi_ctx {i32 nthreads, ptr parallel_for, ptr pool, ptr gemm_scratch, i64 batch, ...} */
	LLVMTypeRef ft[5] = {cg->t_i32, cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_i64};
	LLVMTypeRef ctx_t = LLVMStructTypeInContext(cg->ctx, ft, 5, 0);
	LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
	LLVMBasicBlockRef has = cpu_block(c, "batch"), done = cpu_block(c, "batche");
	LLVMBuildCondBr(b, LLVMBuildIsNull(b, ctx, ""), done, has);
	LLVMPositionBuilderAtEnd(b, has);
	LLVMValueRef n = LLVMBuildLoad2(b, cg->t_i64, LLVMBuildStructGEP2(b, ctx_t, ctx, 4, ""), "batch");
	LLVMValueRef ok = LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, n, cpu_i64(c, 1), ""),
				       LLVMBuildICmp(b, LLVMIntSLE, n, cpu_i64(c, max), ""), "");
	n = LLVMBuildSelect(b, ok, n, cpu_i64(c, max), "");
	LLVMBasicBlockRef from = LLVMGetInsertBlock(b);
	LLVMBuildBr(b, done);
	LLVMPositionBuilderAtEnd(b, done);
	LLVMValueRef phi = LLVMBuildPhi(b, cg->t_i64, "nb");
	cpu_phi_add(phi, cpu_i64(c, max), pre);
	cpu_phi_add(phi, n, from);
	return phi;
}

LLVMValueRef cpu_batch_scale(Kc *c, LLVMValueRef batch, int64_t ext)
{
	return LLVMBuildNSWMul(c->cg->b, batch, cpu_i64(c, ext / c->kl->batch_max), "");
}

LLVMValueRef cpu_i64_array_at(Kc *c, const int64_t *v, int n, int at, LLVMValueRef x)
{
	Cg *cg = c->cg;
	LLVMBuilderRef b = cg->b;
	LLVMTypeRef t = LLVMArrayType2(cg->t_i64, (uint64_t)n);
	LLVMBasicBlockRef here = LLVMGetInsertBlock(b);
	LLVMValueRef first = LLVMGetFirstInstruction(LLVMGetEntryBasicBlock(c->fn));
	if (first) /* allocas in the entry block */
		LLVMPositionBuilderBefore(b, first);
	LLVMValueRef a = LLVMBuildAlloca(b, t, "dims");
	LLVMSetAlignment(a, 8);
	LLVMPositionBuilderAtEnd(b, here);
	for (int i = 0; i < n; i++) {
		LLVMValueRef idx[2] = {cpu_i64(c, 0), cpu_i64(c, i)};
		LLVMBuildStore(b, i == at ? x : cpu_i64(c, v[i]), LLVMBuildInBoundsGEP2(b, t, a, idx, 2, ""));
	}
	return a;
}
