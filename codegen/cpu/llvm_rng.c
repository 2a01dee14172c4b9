/* llvm_rng.c — a KX_RANDOM node in LLVM IR: Philox 4x32-10 unrolled in
 * 32-bit integer ops (each round's products as 64-bit multiplies of
 * zero-extended words), exactly as ir/philox.c defines it: key = the
 * seed's two words, counter = (i >> 2, stream, the step's two words),
 * word i & 3 of the result, f32 = (u >> 8) * 2^-24. Pure integer code of
 * the element index, so any thread split or vector width gives the same
 * bits as the interpreter. */
#include "cpu.h"

static LLVMValueRef k32(Kc *c, uint32_t v)
{
	return LLVMConstInt(c->cg->t_i32, v, 0);
}

/* hi and lo words of m * x (m a constant). */
static void mulhilo(Kc *c, uint32_t m, LLVMValueRef x, LLVMValueRef *hi, LLVMValueRef *lo)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMValueRef p = LLVMBuildMul(b, LLVMBuildZExt(b, x, c->cg->t_i64, ""),
		LLVMConstInt(c->cg->t_i64, m, 0), "");
	*lo = LLVMBuildTrunc(b, p, c->cg->t_i32, "");
	*hi = LLVMBuildTrunc(b, LLVMBuildLShr(b, p, LLVMConstInt(c->cg->t_i64, 32, 0), ""), c->cg->t_i32, "");
}

static LLVMValueRef lo32(Kc *c, LLVMValueRef v)
{
	return LLVMBuildTrunc(c->cg->b, v, c->cg->t_i32, "");
}

static LLVMValueRef hi32(Kc *c, LLVMValueRef v)
{
	LLVMBuilderRef b = c->cg->b;
	return LLVMBuildTrunc(b, LLVMBuildLShr(b, v, LLVMConstInt(c->cg->t_i64, 32, 0), ""), c->cg->t_i32, "");
}

LLVMValueRef cpu_random(Kc *c, const Kx *x, LLVMValueRef seed, LLVMValueRef step)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMValueRef i = cpu_aff(c, &x->idx);
	LLVMValueRef ctr[4] = {
		lo32(c, LLVMBuildLShr(b, i, cpu_i64(c, 2), "")), k32(c, (uint32_t)x->c), lo32(c, step),
		hi32(c, step)};
	LLVMValueRef k0 = lo32(c, seed), k1 = hi32(c, seed);
	for (int r = 0; r < 10; r++) {
		if (r > 0) {
			k0 = LLVMBuildAdd(b, k0, k32(c, 0x9E3779B9u), "");
			k1 = LLVMBuildAdd(b, k1, k32(c, 0xBB67AE85u), "");
		}
		LLVMValueRef hi0, lo0, hi1, lo1;
		mulhilo(c, 0xD2511F53u, ctr[0], &hi0, &lo0);
		mulhilo(c, 0xCD9E8D57u, ctr[2], &hi1, &lo1);
		LLVMValueRef n0 = LLVMBuildXor(b, LLVMBuildXor(b, hi1, ctr[1], ""), k0, "");
		LLVMValueRef n2 = LLVMBuildXor(b, LLVMBuildXor(b, hi0, ctr[3], ""), k1, "");
		ctr[0] = n0;
		ctr[1] = lo1;
		ctr[2] = n2;
		ctr[3] = lo0;
	}
	LLVMValueRef w = lo32(c, LLVMBuildAnd(b, i, cpu_i64(c, 3), ""));
	LLVMValueRef u = ctr[3];
	for (int k = 2; k >= 0; k--)
		u = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, w, k32(c, (uint32_t)k), ""), ctr[k], u, "");
	LLVMTypeRef f32 = LLVMFloatTypeInContext(c->cg->ctx);
	LLVMValueRef f = LLVMBuildUIToFP(b, LLVMBuildLShr(b, u, k32(c, 8), ""), f32, "");
	return LLVMBuildFMul(b, f, LLVMConstReal(f32, 0x1p-24), "");
}
