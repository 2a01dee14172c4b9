/* llvm_exotic.c — conversions from and to the exotic dtypes (dt family,
 * ir/dtype_exotic.c defines their values) in LLVM IR. They live in memory
 * as one i8 each. int4/uint4/int2/uint2 are sign/zero-extended bytes:
 * they convert as i8/u8, and into them through i64 (floats truncate and
 * saturate there) keeping the low bits. Float8/float4 decode through a
 * 256-entry f32 table (a private constant of the module built from
 * ir_small_dec) and encode from f32 bits with integer arithmetic: round
 * to nearest even by adding half an ulp minus one plus the kept lsb
 * (normal results) or by rint of the value scaled to the subnormal grid,
 * then overflow, NaN and zero codes chosen by select. Sources wider than
 * f32 round to f32 first, as the interpreter also does. */
#include "cpu.h"

#include <math.h>
#include <stdio.h>

static LLVMValueRef i32c(Kc *c, unsigned v)
{
	return LLVMConstInt(c->cg->t_i32, v, 0);
}

static LLVMValueRef i8c(Kc *c, unsigned v)
{
	return LLVMConstInt(c->cg->t_i8, v & 0xff, 0);
}

/* The module's decode table of t: [256 x float]. */
static LLVMValueRef table(Kc *c, DType t, LLVMTypeRef *ty)
{
	char name[64];
	snprintf(name, sizeof name, "nncc.dt.%s", ir_dtype_name(t));
	LLVMTypeRef f32 = LLVMFloatTypeInContext(c->cg->ctx);
	*ty = LLVMArrayType2(f32, 256);
	LLVMValueRef g = LLVMGetNamedGlobal(c->cg->mod, name);
	if (g)
		return g;
	LLVMValueRef el[256];
	for (unsigned i = 0; i < 256; i++)
		el[i] = LLVMConstReal(f32, ir_small_dec(t, i));
	g = LLVMAddGlobal(c->cg->mod, *ty, name);
	LLVMSetInitializer(g, LLVMConstArray2(f32, el, 256));
	LLVMSetGlobalConstant(g, 1);
	LLVMSetLinkage(g, LLVMPrivateLinkage);
	return g;
}

static LLVMValueRef decode(Kc *c, LLVMValueRef v, DType t)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMTypeRef ty;
	LLVMValueRef g = table(c, t, &ty);
	LLVMValueRef idx[2] = {LLVMConstInt(c->cg->t_i64, 0, 0), LLVMBuildZExt(b, v, c->cg->t_i64, "")};
	LLVMValueRef p = LLVMBuildInBoundsGEP2(b, ty, g, idx, 2, "");
	return LLVMBuildLoad2(b, LLVMFloatTypeInContext(c->cg->ctx), p, "");
}

/* f (f32) encoded as t's code (i8). */
static LLVMValueRef encode(Kc *c, LLVMValueRef f, DType t, bool sat)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMTypeRef f32 = LLVMFloatTypeInContext(c->cg->ctx), i32 = c->cg->t_i32;
	int eb, mb, bias;
	NN_ASSERT(ir_small_float_fmt(t, &eb, &mb, &bias));
	int emin = 1 - bias, shift = 23 - mb;
	unsigned max = ir_small_enc(t, INFINITY, true);
	LLVMValueRef bits = LLVMBuildBitCast(b, f, i32, "");
	LLVMValueRef neg = LLVMBuildICmp(b, LLVMIntSLT, bits, i32c(c, 0), "");
	LLVMValueRef a = LLVMBuildAnd(b, bits, i32c(c, 0x7fffffffu), "");
	LLVMValueRef isnan = LLVMBuildICmp(b, LLVMIntUGT, a, i32c(c, 0x7f800000u), "");
	/* normal: round the f32 bits to mb mantissa bits, then rebias */
	LLVMValueRef lsb = LLVMBuildAnd(b, LLVMBuildLShr(b, a, i32c(c, (unsigned)shift), ""), i32c(c, 1), "");
	LLVMValueRef r = LLVMBuildAdd(b, a, i32c(c, (1u << (shift - 1)) - 1), "");
	r = LLVMBuildLShr(b, LLVMBuildAdd(b, r, lsb, ""), i32c(c, (unsigned)shift), "");
	LLVMValueRef magn = LLVMBuildSub(b, r, i32c(c, (unsigned)(127 - bias) << mb), "");
	/* subnormal: rint(|f| * 2^(mb - emin)) */
	LLVMValueRef af = LLVMBuildBitCast(b, a, f32, "");
	LLVMValueRef sc = LLVMBuildFMul(b, af, LLVMConstReal(f32, ldexp(1, mb - emin)), "");
	unsigned id = LLVMLookupIntrinsicID("llvm.rint", 9);
	LLVMValueRef rf = LLVMGetIntrinsicDeclaration(c->cg->mod, id, &f32, 1);
	sc = LLVMBuildCall2(b, LLVMIntrinsicGetType(c->cg->ctx, id, &f32, 1), rf, &sc, 1, "");
	LLVMValueRef mags = LLVMBuildFPToUI(b, sc, i32, "");
	unsigned minnorm = (unsigned)(emin + 127) << 23;
	LLVMValueRef sub = LLVMBuildICmp(b, LLVMIntULT, a, i32c(c, minnorm), "");
	LLVMValueRef mag = LLVMBuildSelect(b, sub, mags, magn, "");
	/* the code: sign | magnitude, or the overflow, NaN and zero codes */
	LLVMValueRef over = LLVMBuildICmp(b, LLVMIntUGT, mag, i32c(c, max), "");
	LLVMValueRef code = LLVMBuildTrunc(b, mag, c->cg->t_i8, "");
	code = LLVMBuildOr(b, code, LLVMBuildSelect(b, neg, i8c(c, 1u << (eb + mb)), i8c(c, 0), ""), "");
	LLVMValueRef zero = LLVMBuildICmp(b, LLVMIntEQ, mag, i32c(c, 0), "");
	LLVMValueRef zc = LLVMBuildSelect(b, neg, i8c(c, ir_small_enc(t, -0.0, sat)), i8c(c, 0), "");
	code = LLVMBuildSelect(b, zero, zc, code, "");
	LLVMValueRef oc = LLVMBuildSelect(b, neg, i8c(c, ir_small_enc(t, -INFINITY, sat)),
		i8c(c, ir_small_enc(t, INFINITY, sat)), "");
	code = LLVMBuildSelect(b, over, oc, code, "");
	LLVMValueRef nc = LLVMBuildSelect(b, neg, i8c(c, ir_small_enc(t, -NAN, sat)),
		i8c(c, ir_small_enc(t, NAN, sat)), "");
	return LLVMBuildSelect(b, isnan, nc, code, "");
}

/* f (f32) as an f8e8m0 code: the f32 exponent field, plus one when the
 * mantissa is not zero (rounding up to a power of two); below 2^-126 the
 * least code 0 (2^-127) or 1; 0xff (past 2^127) saturates to 0xfe. */
static LLVMValueRef encode_e8m0(Kc *c, LLVMValueRef f, bool sat)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMValueRef a = LLVMBuildAnd(b, LLVMBuildBitCast(b, f, c->cg->t_i32, ""), i32c(c, 0x7fffffffu), "");
	LLVMValueRef e = LLVMBuildLShr(b, a, i32c(c, 23), "");
	LLVMValueRef frac = LLVMBuildICmp(b, LLVMIntNE, LLVMBuildAnd(b, a, i32c(c, 0x7fffff), ""), i32c(c, 0), "");
	LLVMValueRef up = LLVMBuildAdd(b, e, LLVMBuildZExt(b, frac, c->cg->t_i32, ""), "");
	LLVMValueRef tiny = LLVMBuildZExt(b, LLVMBuildICmp(b, LLVMIntUGT, a, i32c(c, 0x400000), ""), c->cg->t_i32, "");
	LLVMValueRef code = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, e, i32c(c, 0), ""), tiny, up, "");
	LLVMValueRef over = LLVMBuildICmp(b, LLVMIntUGE, code, i32c(c, 0xff), "");
	code = LLVMBuildSelect(b, over, i32c(c, sat ? 0xfe : 0xff), code, "");
	LLVMValueRef isnan = LLVMBuildICmp(b, LLVMIntUGT, a, i32c(c, 0x7f800000u), "");
	code = LLVMBuildSelect(b, isnan, i32c(c, 0xff), code, "");
	return LLVMBuildTrunc(b, code, c->cg->t_i8, "");
}

LLVMValueRef cpu_conv_exotic(Kc *c, LLVMValueRef v, DType from, DType to, bool sat)
{
	LLVMBuilderRef b = c->cg->b;
	if (from == to)
		return v;
	if (ir_dtype_is_small_float(from))
		return cpu_conv(c, decode(c, v, from), DT_F32, to);
	if (ir_dtype_is_exotic(from)) /* narrow integers: extended bytes */
		return cpu_conv(c, v, from == DT_I4 || from == DT_I2 ? DT_I8 : DT_U8, to);
	if (to == DT_F8E8M0)
		return encode_e8m0(c, cpu_conv(c, v, from, DT_F32), sat);
	if (ir_dtype_is_small_float(to))
		return encode(c, cpu_conv(c, v, from, DT_F32), to, sat);
	unsigned w = 8 - (unsigned)ir_dtype_bits(to);
	LLVMValueRef x = LLVMBuildTrunc(b, cpu_conv(c, v, from, DT_I64), c->cg->t_i8, "");
	x = LLVMBuildShl(b, x, i8c(c, w), "");
	return to == DT_I4 || to == DT_I2 ? LLVMBuildAShr(b, x, i8c(c, w), "") : LLVMBuildLShr(b, x, i8c(c, w), "");
}
