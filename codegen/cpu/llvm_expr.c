/* llvm_expr.c — the value of one expression node (codegen.h Kx) in LLVM
 * IR: element types and constants, dtype conversions (float to int
 * saturates, NaN gives 0), affine indices, guarded loads (a branch around
 * the load, never a select: an out-of-range address is never touched),
 * unary and binary math (comparisons and classification as bool i8 0/1
 * computed in the operand's type; remainders and shifts that never trap),
 * selects, bitcasts, and the steps of a reduction. Where each node is
 * evaluated (hoisting, sharing, loops) is llvm_kernel.c's business. */
#include "cpu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Types, constants, conversions */

LLVMTypeRef cpu_type(Cg *cg, DType t)
{
	switch (t) {
	case DT_F32:
		return LLVMFloatTypeInContext(cg->ctx);
	case DT_F64:
		return LLVMDoubleTypeInContext(cg->ctx);
	case DT_F16:
		return LLVMHalfTypeInContext(cg->ctx);
	case DT_BF16:
		return LLVMBFloatTypeInContext(cg->ctx);
	case DT_I32:
	case DT_U32:
		return cg->t_i32;
	case DT_I64:
	case DT_U64:
		return cg->t_i64;
	case DT_I16:
	case DT_U16:
		return LLVMInt16TypeInContext(cg->ctx);
	case DT_I8:
	case DT_U8:
	case DT_BOOL:
		return cg->t_i8;
	default:
		return ir_dtype_is_exotic(t) ? cg->t_i8 : NULL; /* one byte each */
	}
}

bool cpu_is_float(DType t)
{
	return ir_dtype_is_float(t);
}
static bool is_unsigned(DType t)
{
	return ir_dtype_is_unsigned(t) || t == DT_BOOL;
}

static void int_range(DType t, int64_t *lo, int64_t *hi)
{
	switch (t) {
	case DT_I8:
		*lo = INT8_MIN;
		*hi = INT8_MAX;
		break;
	case DT_U8:
		*lo = 0;
		*hi = UINT8_MAX;
		break;
	case DT_BOOL:
		*lo = 0;
		*hi = 1;
		break;
	case DT_I32:
		*lo = INT32_MIN;
		*hi = INT32_MAX;
		break;
	case DT_I16:
		*lo = INT16_MIN;
		*hi = INT16_MAX;
		break;
	case DT_U16:
		*lo = 0;
		*hi = UINT16_MAX;
		break;
	case DT_U32:
		*lo = 0;
		*hi = UINT32_MAX;
		break;
	case DT_U64: /* constants above INT64_MAX are not representable here */
		*lo = 0;
		*hi = INT64_MAX;
		break;
	default:
		*lo = INT64_MIN;
		*hi = INT64_MAX;
		break;
	}
}

LLVMValueRef cpu_const(Kc *c, DType t, double v)
{
	LLVMTypeRef ty = cpu_type(c->cg, t);
	if (cpu_is_float(t))
		return LLVMConstReal(ty, v);
	if (ir_dtype_is_exotic(t)) /* its code (dtype_exotic.c); infinity stays */
		return LLVMConstInt(ty, ir_small_enc(t, v, !(isinf(v) && t == DT_F8E5M2)) & 0xff, 0);
	int64_t lo, hi, iv;
	int_range(t, &lo, &hi);
	if (isnan(v))
		iv = 0;
	else if (v <= (double)lo)
		iv = lo;
	else if (v >= (double)hi)
		iv = hi;
	else
		iv = (int64_t)v;
	return LLVMConstInt(ty, (unsigned long long)iv, !is_unsigned(t));
}

LLVMValueRef cpu_i64(Kc *c, int64_t v)
{
	return LLVMConstInt(c->cg->t_i64, (unsigned long long)v, 1);
}

/* Calls an overloaded intrinsic; ov are its overload types. */
static LLVMValueRef intrin(Kc *c, const char *name, LLVMTypeRef *ov, int nov, LLVMValueRef *args, int nargs)
{
	unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
	NN_ASSERT(id != 0);
	LLVMValueRef f = LLVMGetIntrinsicDeclaration(c->cg->mod, id, ov, (size_t)nov);
	LLVMTypeRef ft = LLVMIntrinsicGetType(c->cg->ctx, id, ov, (size_t)nov);
	return LLVMBuildCall2(c->cg->b, ft, f, args, (unsigned)nargs, "");
}

LLVMValueRef cpu_intrin1(Kc *c, const char *name, LLVMValueRef a)
{
	LLVMTypeRef t = LLVMTypeOf(a);
	return intrin(c, name, &t, 1, &a, 1);
}

LLVMValueRef cpu_intrin2(Kc *c, const char *name, LLVMValueRef a, LLVMValueRef b)
{
	LLVMTypeRef t = LLVMTypeOf(a);
	LLVMValueRef args[2] = {a, b};
	return intrin(c, name, &t, 1, args, 2);
}

/* Converts v from dtype `from` to dtype `to`. Float to int saturates
 * (NaN gives 0); anything to bool is `!= 0`. */
LLVMValueRef cpu_conv(Kc *c, LLVMValueRef v, DType from, DType to)
{
	LLVMBuilderRef b = c->cg->b;
	if (from == to)
		return v;
	if (ir_dtype_is_exotic(from) || ir_dtype_is_exotic(to))
		return cpu_conv_exotic(c, v, from, to, true);
	LLVMTypeRef tt = cpu_type(c->cg, to);
	bool ff = cpu_is_float(from), ft = cpu_is_float(to);
	if (to == DT_BOOL) {
		LLVMValueRef z = LLVMConstNull(LLVMTypeOf(v));
		LLVMValueRef nz =
		    ff ? LLVMBuildFCmp(b, LLVMRealUNE, v, z, "") : LLVMBuildICmp(b, LLVMIntNE, v, z, "");
		return LLVMBuildZExt(b, nz, tt, "");
	}
	if (ff && ft) {
		size_t sf = ir_dtype_size(from), st = ir_dtype_size(to);
		if (sf == st) { /* f16 <-> bf16: through f32 */
			v = LLVMBuildFPExt(b, v, LLVMFloatTypeInContext(c->cg->ctx), "");
			return LLVMBuildFPTrunc(b, v, tt, "");
		}
		return sf < st ? LLVMBuildFPExt(b, v, tt, "") : LLVMBuildFPTrunc(b, v, tt, "");
	}
	if (!ff && ft)
		return is_unsigned(from) ? LLVMBuildUIToFP(b, v, tt, "") : LLVMBuildSIToFP(b, v, tt, "");
	if (ff && !ft) {
		LLVMTypeRef ov[2] = {tt, LLVMTypeOf(v)};
		return intrin(c, is_unsigned(to) ? "llvm.fptoui.sat" : "llvm.fptosi.sat", ov, 2, &v, 1);
	}
	size_t sf = ir_dtype_size(from), st = ir_dtype_size(to);
	if (sf == st)
		return v;
	if (sf > st)
		return LLVMBuildTrunc(b, v, tt, "");
	return is_unsigned(from) ? LLVMBuildZExt(b, v, tt, "") : LLVMBuildSExt(b, v, tt, "");
}

/* Control flow helpers */

LLVMBasicBlockRef cpu_block(Kc *c, const char *name)
{
	return LLVMAppendBasicBlockInContext(c->cg->ctx, c->fn, name);
}

void cpu_phi_add(LLVMValueRef phi, LLVMValueRef v, LLVMBasicBlockRef bb)
{
	LLVMAddIncoming(phi, &v, &bb, 1);
}

/* The base pointer of a buffer: the argument holding its storage (a null
 * pointer for buf -1, an absent optional operand). */
LLVMValueRef cpu_base(Kc *c, int buf)
{
	if (buf < 0)
		return LLVMConstNull(c->cg->t_ptr);
	int j = cpu_buf_arg(c->kl, c->args, c->nargs, buf);
	NN_ASSERT(j >= 0);
	return LLVMGetParam(c->fn, (unsigned)j);
}

/* Indices and guards */

static LLVMValueRef aff(Kc *c, const Aff *a)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMValueRef v = NULL;
	for (int i = 0; i < KV_MAX; i++) {
		if (!a->k[i])
			continue;
		NN_ASSERT(i < c->k->nvar && c->var[i]); /* lower.c uses a var outside its loop */
		LLVMValueRef t = c->var[i];
		if (a->k[i] != 1)
			t = LLVMBuildNSWMul(b, t, cpu_i64(c, a->k[i]), "");
		v = v ? LLVMBuildNSWAdd(b, v, t, "") : t;
	}
	if (!v)
		return cpu_i64(c, a->c);
	return a->c ? LLVMBuildNSWAdd(b, v, cpu_i64(c, a->c), "") : v;
}

LLVMValueRef cpu_aff(Kc *c, const Aff *a)
{
	return aff(c, a);
}

/* Range of an Aff over the kernel's whole iteration space; false if
 * unknown (overflow or an empty loop). */
static bool aff_range(const Kernel *k, const Aff *a, int64_t *lo, int64_t *hi)
{
	*lo = *hi = a->c;
	for (int v = 0; v < KV_MAX; v++) {
		int64_t s;
		if (!a->k[v])
			continue;
		if (v >= k->nvar || k->extent[v] <= 0 || !ck_mul(a->k[v], k->extent[v] - 1, &s))
			return false;
		if (!(s < 0 ? ck_add(*lo, s, lo) : ck_add(*hi, s, hi)))
			return false;
	}
	return true;
}

/* The i1 condition that every guard holds; NULL if that is statically
 * true. *never is set when some guard statically fails. */
static LLVMValueRef guard_cond(Kc *c, int n, const Guard *g, bool *never)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMValueRef cond = NULL;
	*never = false;
	for (int i = 0; i < n; i++) {
		int64_t lo, hi;
		bool known = aff_range(c->k, &g[i].e, &lo, &hi);
		if (known && (hi < g[i].lo || lo >= g[i].hi || g[i].lo >= g[i].hi)) {
			*never = true;
			return NULL;
		}
		bool need_lo = !known || lo < g[i].lo, need_hi = !known || hi >= g[i].hi;
		if (!need_lo && !need_hi)
			continue;
		LLVMValueRef e = aff(c, &g[i].e);
		if (need_lo) {
			LLVMValueRef t = LLVMBuildICmp(b, LLVMIntSGE, e, cpu_i64(c, g[i].lo), "");
			cond = cond ? LLVMBuildAnd(b, cond, t, "") : t;
		}
		if (need_hi) {
			LLVMValueRef t = LLVMBuildICmp(b, LLVMIntSLT, e, cpu_i64(c, g[i].hi), "");
			cond = cond ? LLVMBuildAnd(b, cond, t, "") : t;
		}
	}
	return cond;
}

LLVMValueRef cpu_elem_ptr(Kc *c, int buf, const Aff *idx)
{
	LLVMValueRef i = aff(c, idx);
	LLVMTypeRef et = cpu_type(c->cg, c->kl->buf[buf].dtype);
	return LLVMBuildInBoundsGEP2(c->cg->b, et, cpu_base(c, buf), &i, 1, "");
}

/* dyn: the run-time part of the index (a KX_IDX's value), or NULL. */
static LLVMValueRef load(Kc *c, const Kx *x, LLVMValueRef dyn)
{
	const Buf *bf = &c->kl->buf[x->buf];
	LLVMValueRef p = cpu_elem_ptr(c, x->buf, &x->idx);
	if (dyn) {
		LLVMTypeRef et = cpu_type(c->cg, bf->dtype);
		p = LLVMBuildInBoundsGEP2(c->cg->b, et, p, &dyn, 1, "");
	}
	LLVMValueRef v = LLVMBuildLoad2(c->cg->b, cpu_type(c->cg, bf->dtype), p, "");
	LLVMSetAlignment(v, (unsigned)ir_dtype_size(bf->dtype));
	return cpu_conv(c, v, bf->dtype, x->dtype);
}

static LLVMValueRef eval_load(Kc *c, const Kx *x, LLVMValueRef dyn)
{
	LLVMBuilderRef b = c->cg->b;
	bool never;
	LLVMValueRef cond = guard_cond(c, x->nguard, x->guard, &never);
	if (never)
		return cpu_const(c, x->dtype, x->fill);
	bool in_range = x->a && x->a->kind == KX_IDX && x->a->op && !x->a->b; /* cidx: no -1 to test */
	if (dyn && !in_range) { /* a negative run-time offset marks an index out of range */
		LLVMValueRef ok = LLVMBuildICmp(b, LLVMIntSGE, dyn, cpu_i64(c, 0), "");
		cond = cond ? LLVMBuildAnd(b, cond, ok, "") : ok;
	}
	if (!cond)
		return load(c, x, dyn);
	LLVMBasicBlockRef from = LLVMGetInsertBlock(b);
	LLVMBasicBlockRef bl = cpu_block(c, "ld"), bj = cpu_block(c, "ldj");
	LLVMBuildCondBr(b, cond, bl, bj);
	LLVMPositionBuilderAtEnd(b, bl);
	LLVMValueRef v = load(c, x, dyn);
	LLVMBasicBlockRef bl_end = LLVMGetInsertBlock(b);
	LLVMBuildBr(b, bj);
	LLVMPositionBuilderAtEnd(b, bj);
	LLVMValueRef phi = LLVMBuildPhi(b, cpu_type(c->cg, x->dtype), "");
	cpu_phi_add(phi, v, bl_end);
	cpu_phi_add(phi, cpu_const(c, x->dtype, x->fill), from);
	return phi;
}

/* KX_IDX: wrap(a) * stride + rest, or -1 when a is out of range or the
 * rest is -1 (selects: the value is always defined). */
static LLVMValueRef eval_idx(Kc *c, const Kx *x, LLVMValueRef a, LLVMValueRef rest)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMValueRef v = cpu_conv(c, a, x->a->dtype, DT_I64), ext = cpu_i64(c, x->ext);
	if (x->op && !rest) { /* a constant known in range: in 32 bits where its offsets fit
			       * (a sign-extended 32-bit index: gathers of 16 lanes, not 8) */
		if (x->ext * x->stride > INT32_MAX)
			return LLVMBuildMul(b, v, cpu_i64(c, x->stride), "");
		LLVMTypeRef i32 = LLVMInt32TypeInContext(c->cg->ctx);
		LLVMValueRef r = LLVMBuildMul(b, LLVMBuildTrunc(b, v, i32, ""), LLVMConstInt(i32, (uint64_t)x->stride, 0), "");
		return LLVMBuildSExt(b, r, LLVMInt64TypeInContext(c->cg->ctx), "");
	}
	LLVMValueRef neg = LLVMBuildICmp(b, LLVMIntSLT, v, cpu_i64(c, 0), "");
	v = LLVMBuildSelect(b, neg, LLVMBuildAdd(b, v, ext, ""), v, "");
	LLVMValueRef ok = LLVMBuildICmp(b, LLVMIntULT, v, ext, ""); /* also rejects v < 0 */
	LLVMValueRef r = LLVMBuildMul(b, v, cpu_i64(c, x->stride), "");
	if (rest) {
		ok = LLVMBuildAnd(b, ok, LLVMBuildICmp(b, LLVMIntSGE, rest, cpu_i64(c, 0), ""), "");
		r = LLVMBuildAdd(b, r, rest, "");
	}
	return LLVMBuildSelect(b, ok, r, cpu_i64(c, -1), "");
}

static LLVMValueRef eval_valid(Kc *c, const Kx *x)
{
	bool never;
	LLVMValueRef cond = guard_cond(c, x->nguard, x->guard, &never);
	if (never || !cond)
		return cpu_const(c, x->dtype, never ? 0 : 1);
	LLVMTypeRef t = cpu_type(c->cg, x->dtype);
	if (cpu_is_float(x->dtype))
		return LLVMBuildUIToFP(c->cg->b, cond, t, "");
	return LLVMBuildZExt(c->cg->b, cond, t, "");
}

/* The bool (i8 0/1) of an i1. */
static LLVMValueRef to_bool(Kc *c, LLVMValueRef i1)
{
	return LLVMBuildZExt(c->cg->b, i1, c->cg->t_i8, "");
}

/* Predicates (cg_kx_pred): a bool from an operand of dtype t. */
static LLVMValueRef unary_pred(Kc *c, int op, LLVMValueRef a, DType t)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMValueRef zero = LLVMConstNull(LLVMTypeOf(a));
	if (!cpu_is_float(t)) /* integers are never NaN or infinite */
		return to_bool(c, op == KU_NOT ? LLVMBuildICmp(b, LLVMIntEQ, a, zero, "")
		                               : LLVMConstInt(c->cg->t_i1, 0, 0));
	LLVMValueRef inf = cpu_const(c, t, INFINITY), r;
	switch (op) {
	case KU_NOT: r = LLVMBuildFCmp(b, LLVMRealOEQ, a, zero, ""); break;
	case KU_ISNAN: r = LLVMBuildFCmp(b, LLVMRealUNO, a, a, ""); break;
	case KU_ISINF: r = LLVMBuildFCmp(b, LLVMRealOEQ, cpu_intrin1(c, "llvm.fabs", a), inf, ""); break;
	case KU_ISPOSINF: r = LLVMBuildFCmp(b, LLVMRealOEQ, a, inf, ""); break;
	default: r = LLVMBuildFCmp(b, LLVMRealOEQ, a, cpu_const(c, t, -INFINITY), ""); break;
	}
	return to_bool(c, r);
}

static LLVMValueRef binary_pred(Kc *c, int op, LLVMValueRef x, LLVMValueRef y, DType t)
{
	LLVMBuilderRef b = c->cg->b;
	if (cpu_is_float(t)) {
		static const LLVMRealPredicate fp[] = {
			[KB_EQ] = LLVMRealOEQ, [KB_LT] = LLVMRealOLT, [KB_LE] = LLVMRealOLE,
			[KB_GT] = LLVMRealOGT, [KB_GE] = LLVMRealOGE,
		};
		return to_bool(c, LLVMBuildFCmp(b, fp[op], x, y, ""));
	}
	bool u = is_unsigned(t);
	LLVMIntPredicate p = op == KB_EQ ? LLVMIntEQ
	                   : op == KB_LT ? (u ? LLVMIntULT : LLVMIntSLT)
	                   : op == KB_LE ? (u ? LLVMIntULE : LLVMIntSLE)
	                   : op == KB_GT ? (u ? LLVMIntUGT : LLVMIntSGT)
	                                 : (u ? LLVMIntUGE : LLVMIntSGE);
	return to_bool(c, LLVMBuildICmp(b, p, x, y, ""));
}

static LLVMValueRef unary_float(Kc *c, int op, LLVMValueRef a, DType t)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMValueRef zero = LLVMConstNull(LLVMTypeOf(a)), one = cpu_const(c, t, 1);
	switch ((KuOp)op) {
	case KU_NEG:
		return LLVMBuildFNeg(b, a, "");
	case KU_ABS:
		return cpu_intrin1(c, "llvm.fabs", a);
	case KU_EXP:
		return cpu_exp(c, a, t);
	case KU_LOG:
		return cpu_intrin1(c, "llvm.log", a);
	case KU_SQRT:
		return cpu_intrin1(c, "llvm.sqrt", a);
	case KU_RELU: /* x < 0 ? 0 : x keeps NaN */
		return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a, zero, ""), zero, a, "");
	case KU_SIGMOID: {
		LLVMValueRef e = cpu_exp(c, LLVMBuildFNeg(b, a, ""), t);
		return LLVMBuildFDiv(b, one, LLVMBuildFAdd(b, one, e, ""), "");
	}
	case KU_TANH:
		return cpu_tanh(c, a, t);
	case KU_SIN:
		return cpu_intrin1(c, "llvm.sin", a);
	case KU_COS:
		return cpu_intrin1(c, "llvm.cos", a);
	case KU_TAN: return cpu_libm(c, "tan", a, t);
	case KU_ASIN: return cpu_libm(c, "asin", a, t);
	case KU_ACOS: return cpu_libm(c, "acos", a, t);
	case KU_ATAN: return cpu_libm(c, "atan", a, t);
	case KU_SINH: return cpu_libm(c, "sinh", a, t);
	case KU_COSH: return cpu_libm(c, "cosh", a, t);
	case KU_ASINH: return cpu_libm(c, "asinh", a, t);
	case KU_ACOSH: return cpu_libm(c, "acosh", a, t);
	case KU_ATANH: return cpu_libm(c, "atanh", a, t);
	case KU_ERF: return cpu_libm(c, "erf", a, t);
	case KU_FLOOR:
		return cpu_intrin1(c, "llvm.floor", a);
	case KU_CEIL:
		return cpu_intrin1(c, "llvm.ceil", a);
	case KU_ROUND:
		return cpu_intrin1(c, "llvm.roundeven", a);
	case KU_SIGN: { /* 0, -0 and NaN are their own sign */
		LLVMValueRef neg = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a, zero, ""),
		                                   cpu_const(c, t, -1), a, "");
		return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, a, zero, ""), one, neg, "");
	}
	case KU_RECIP:
		return LLVMBuildFDiv(b, one, a, "");
	case KU_NOT: case KU_ISNAN: case KU_ISINF: case KU_ISPOSINF: case KU_ISNEGINF:
	case KU_BITNOT: case KU_BITCAST:
		break; /* predicates (unary_pred); bitwise not has no float meaning */
	}
	NN_ASSERT(!"unknown unary op");
}

static LLVMValueRef unary_int(Kc *c, int op, LLVMValueRef a, DType t)
{
	LLVMBuilderRef b = c->cg->b;
	switch ((KuOp)op) {
	case KU_NEG:
		return LLVMBuildNeg(b, a, "");
	case KU_ABS:
		if (is_unsigned(t))
			return a;
		return cpu_intrin2(c, "llvm.abs", a, LLVMConstInt(c->cg->t_i1, 0, 0));
	case KU_RELU:
		return is_unsigned(t) ? a : cpu_intrin2(c, "llvm.smax", a, LLVMConstNull(LLVMTypeOf(a)));
	case KU_BITNOT:
		return LLVMBuildNot(b, a, "");
	case KU_FLOOR: case KU_CEIL: case KU_ROUND:
		return a;
	case KU_SIGN: {
		LLVMTypeRef ty = LLVMTypeOf(a);
		if (is_unsigned(t))
			return LLVMBuildZExt(b, LLVMBuildICmp(b, LLVMIntNE, a, LLVMConstNull(ty), ""), ty, "");
		LLVMValueRef lo = cpu_intrin2(c, "llvm.smax", a, LLVMConstAllOnes(ty));
		return cpu_intrin2(c, "llvm.smin", lo, LLVMConstInt(ty, 1, 0));
	}
	default: /* transcendental ops on integers: through f64 */
		return cpu_conv(c, unary_float(c, op, cpu_conv(c, a, t, DT_F64), DT_F64), DT_F64, t);
	}
}

/* Integer remainder that never traps: x mod 0 gives x, x mod -1 gives 0.
 * py: the result takes the divisor's sign (Python's %), else the
 * dividend's (C's %). */
static LLVMValueRef safe_rem(Kc *c, bool py, LLVMValueRef x, LLVMValueRef y, DType t)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMTypeRef ty = LLVMTypeOf(x);
	LLVMValueRef one = LLVMConstInt(ty, 1, 0), zero = LLVMConstNull(ty);
	LLVMValueRef y0 = LLVMBuildICmp(b, LLVMIntEQ, y, zero, "");
	if (is_unsigned(t))
		return LLVMBuildSelect(b, y0, x, LLVMBuildURem(b, x, LLVMBuildSelect(b, y0, one, y, ""), ""), "");
	LLVMValueRef m1 = LLVMBuildICmp(b, LLVMIntEQ, y, LLVMConstAllOnes(ty), "");
	LLVMValueRef d = LLVMBuildSelect(b, LLVMBuildOr(b, y0, m1, ""), one, y, "");
	LLVMValueRef r = LLVMBuildSRem(b, x, d, "");
	if (py) { /* r != 0 and sign(r) != sign(y): r + y */
		LLVMValueRef nz = LLVMBuildICmp(b, LLVMIntNE, r, zero, "");
		LLVMValueRef diff = LLVMBuildICmp(b, LLVMIntSLT, LLVMBuildXor(b, r, y, ""), zero, "");
		r = LLVMBuildSelect(b, LLVMBuildAnd(b, nz, diff, ""), LLVMBuildAdd(b, r, y, ""), r, "");
	}
	return LLVMBuildSelect(b, y0, x, r, "");
}

/* Float remainder: C's fmod (frem), or for KB_MOD moved to the divisor's
 * sign when nonzero. */
static LLVMValueRef float_mod(Kc *c, int op, LLVMValueRef x, LLVMValueRef y)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMValueRef r = LLVMBuildFRem(b, x, y, "");
	if (op == KB_FMOD)
		return r;
	LLVMValueRef zero = LLVMConstNull(LLVMTypeOf(x));
	LLVMValueRef nz = LLVMBuildFCmp(b, LLVMRealONE, r, zero, "");
	LLVMValueRef rn = LLVMBuildFCmp(b, LLVMRealOLT, r, zero, ""), yn = LLVMBuildFCmp(b, LLVMRealOLT, y, zero, "");
	LLVMValueRef fix = LLVMBuildAnd(b, nz, LLVMBuildXor(b, rn, yn, ""), "");
	return LLVMBuildSelect(b, fix, LLVMBuildFAdd(b, r, y, ""), r, "");
}

/* Integer division that never traps: x/0 gives x, x/-1 gives -x (wrapping). */
static LLVMValueRef safe_div(Kc *c, LLVMValueRef x, LLVMValueRef y, DType t)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMTypeRef ty = LLVMTypeOf(x);
	LLVMValueRef one = LLVMConstInt(ty, 1, 0);
	LLVMValueRef zero = LLVMBuildICmp(b, LLVMIntEQ, y, LLVMConstNull(ty), "");
	if (is_unsigned(t))
		return LLVMBuildUDiv(b, x, LLVMBuildSelect(b, zero, one, y, ""), "");
	LLVMValueRef m1 = LLVMBuildICmp(b, LLVMIntEQ, y, LLVMConstAllOnes(ty), "");
	LLVMValueRef d = LLVMBuildSelect(b, LLVMBuildOr(b, zero, m1, ""), one, y, "");
	LLVMValueRef q = LLVMBuildSDiv(b, x, d, "");
	return LLVMBuildSelect(b, m1, LLVMBuildNeg(b, x, ""), q, "");
}

static LLVMValueRef binary(Kc *c, int op, LLVMValueRef x, LLVMValueRef y, DType t)
{
	LLVMBuilderRef b = c->cg->b;
	bool f = cpu_is_float(t), u = is_unsigned(t);
	switch ((KbOp)op) {
	case KB_ADD:
		return f ? LLVMBuildFAdd(b, x, y, "") : LLVMBuildAdd(b, x, y, "");
	case KB_SUB:
		return f ? LLVMBuildFSub(b, x, y, "") : LLVMBuildSub(b, x, y, "");
	case KB_MUL:
		return f ? LLVMBuildFMul(b, x, y, "") : LLVMBuildMul(b, x, y, "");
	case KB_DIV:
		return f ? LLVMBuildFDiv(b, x, y, "") : safe_div(c, x, y, t);
	case KB_MAX:
		return cpu_intrin2(c, f ? "llvm.maximum" : u ? "llvm.umax" : "llvm.smax", x, y); /* NaN propagates */
	case KB_MIN:
		return cpu_intrin2(c, f ? "llvm.minimum" : u ? "llvm.umin" : "llvm.smin", x, y);
	case KB_POW: /* integers through f64 */
		if (f)
			return cpu_intrin2(c, "llvm.pow", x, y);
		return cpu_conv(c, cpu_intrin2(c, "llvm.pow", cpu_conv(c, x, t, DT_F64), cpu_conv(c, y, t, DT_F64)),
		                DT_F64, t);
	case KB_AND:
		return LLVMBuildAnd(b, x, y, "");
	case KB_OR:
		return LLVMBuildOr(b, x, y, "");
	case KB_XOR:
		return LLVMBuildXor(b, x, y, "");
	case KB_MOD:
	case KB_FMOD:
		return f ? float_mod(c, op, x, y) : safe_rem(c, op == KB_MOD, x, y, t);
	case KB_SHL:
	case KB_SHR: {
		LLVMTypeRef ty = LLVMTypeOf(x);
		unsigned w = LLVMGetIntTypeWidth(ty);
		LLVMValueRef big = LLVMBuildICmp(b, LLVMIntUGE, y, LLVMConstInt(ty, w, 0), "");
		LLVMValueRef safe = LLVMBuildSelect(b, big, LLVMConstNull(ty), y, "");
		LLVMValueRef r = op == KB_SHL ? LLVMBuildShl(b, x, safe, "") : LLVMBuildLShr(b, x, safe, "");
		return LLVMBuildSelect(b, big, LLVMConstNull(ty), r, "");
	}
	case KB_EQ: case KB_LT: case KB_LE: case KB_GT: case KB_GE:
		break; /* binary_pred */
	}
	NN_ASSERT(!"unknown binary op");
}

LLVMValueRef cpu_select(Kc *c, const Kx *x, LLVMValueRef cond, LLVMValueRef a, LLVMValueRef b)
{
	LLVMBuilderRef bl = c->cg->b;
	a = cpu_conv(c, a, x->a->dtype, x->dtype);
	b = cpu_conv(c, b, x->b->dtype, x->dtype);
	cond = cpu_conv(c, cond, x->cond->dtype, DT_BOOL);
	LLVMValueRef nz = LLVMBuildICmp(bl, LLVMIntNE, cond, LLVMConstNull(LLVMTypeOf(cond)), "");
	return LLVMBuildSelect(bl, nz, a, b, "");
}


/* Reductions. An arg reduction (KR_ARGMAX/KR_ARGMIN) carries the pair
 * {best value in the operand's dtype, its i64 position} as one struct. */

static bool is_arg(int op) { return op == KR_ARGMAX || op == KR_ARGMIN; }

/* A sum of a float narrower than f64 accumulates in f64 and rounds once at
 * the end, as PyTorch's CPU batch norm does: batch statistics and their
 * gradients sum N*H*W terms that cancel to a small remainder, and f32
 * partial sums carried their rounding into it (ResNet-18's step checks,
 * docs/training.md). The sums read memory at the same rate. */
static bool wide_sum(const Kx *x)
{
	return x->op == KR_SUM && cpu_is_float(x->dtype) && x->dtype != DT_F64;
}

LLVMTypeRef cpu_reduce_type(Kc *c, const Kx *x)
{
	if (wide_sum(x))
		return cpu_type(c->cg, DT_F64);
	if (!is_arg(x->op))
		return cpu_type(c->cg, x->dtype);
	LLVMTypeRef f[2] = {cpu_type(c->cg, x->a->dtype), x->b ? cpu_type(c->cg, x->dtype) : c->cg->t_i64};
	return LLVMStructTypeInContext(c->cg->ctx, f, 2, 0);
}

LLVMValueRef cpu_reduce_init(Kc *c, const Kx *x)
{
	DType t = x->dtype;
	switch ((KrOp)x->op) {
	case KR_SUM:
		return cpu_const(c, wide_sum(x) ? DT_F64 : t, 0);
	case KR_PROD:
		return cpu_const(c, t, 1);
	case KR_MAX:
		return cpu_const(c, t, -INFINITY);
	case KR_MIN:
		return cpu_const(c, t, INFINITY);
	case KR_ARGMAX:
	case KR_ARGMIN: {
		LLVMValueRef f[2] = {cpu_const(c, x->a->dtype, x->op == KR_ARGMAX ? -INFINITY : INFINITY),
		                     x->b ? cpu_const(c, x->dtype, 0) : cpu_i64(c, 0)};
		return LLVMConstStructInContext(c->cg->ctx, f, 2, 0);
	}
	}
	NN_ASSERT(!"unknown reduce op");
}

/* Row-major position of the current point of the reduction vars. */
static LLVMValueRef red_pos(Kc *c)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMValueRef pos = cpu_i64(c, 0);
	int64_t st = 1;
	for (int v = c->k->nvar - 1; v >= c->k->nout_var; v--) {
		pos = LLVMBuildAdd(b, pos, LLVMBuildMul(b, c->var[v], cpu_i64(c, st), ""), "");
		st *= c->k->extent[v];
	}
	return pos;
}

/* One step of an arg reduction: take v when it beats the best so far, or
 * is the first NaN; with a payload, keep pay (x's dtype) instead of the
 * position. */
static LLVMValueRef arg_step(Kc *c, const Kx *x, LLVMValueRef acc, LLVMValueRef v, LLVMValueRef pay)
{
	LLVMBuilderRef b = c->cg->b;
	DType t = x->a->dtype;
	bool mx = x->op == KR_ARGMAX;
	LLVMValueRef best = LLVMBuildExtractValue(b, acc, 0, "");
	LLVMValueRef take;
	if (cpu_is_float(t)) {
		take = LLVMBuildFCmp(b, mx ? LLVMRealOGT : LLVMRealOLT, v, best, "");
		LLVMValueRef nan = LLVMBuildAnd(b, LLVMBuildFCmp(b, LLVMRealUNO, v, v, ""),
		                                LLVMBuildFCmp(b, LLVMRealORD, best, best, ""), "");
		take = LLVMBuildOr(b, take, nan, "");
	} else {
		bool u = is_unsigned(t);
		take = LLVMBuildICmp(b, mx ? (u ? LLVMIntUGT : LLVMIntSGT) : (u ? LLVMIntULT : LLVMIntSLT), v,
		                     best, "");
	}
	LLVMValueRef pos = LLVMBuildSelect(b, take, pay ? pay : red_pos(c), LLVMBuildExtractValue(b, acc, 1, ""), "");
	acc = LLVMBuildInsertValue(b, acc, LLVMBuildSelect(b, take, v, best, ""), 0, "");
	return LLVMBuildInsertValue(b, acc, pos, 1, "");
}

LLVMValueRef cpu_reduce_step(Kc *c, const Kx *x, LLVMValueRef acc, LLVMValueRef v, LLVMValueRef pay)
{
	DType t = x->dtype;
	switch ((KrOp)x->op) {
	case KR_SUM: {
		if (wide_sum(x))
			v = cpu_conv(c, v, t, DT_F64), t = DT_F64;
		LLVMValueRef r = binary(c, KB_ADD, acc, v, t);
		/* reassociation lets the vectorizer split the sum */
		if (cpu_is_float(t) && c->cg->opt_level >= 2 && LLVMIsAInstruction(r))
			LLVMSetFastMathFlags(r, LLVMFastMathAllowReassoc);
		return r;
	}
	case KR_PROD:
		return binary(c, KB_MUL, acc, v, t);
	case KR_MAX:
		return binary(c, KB_MAX, acc, v, t);
	case KR_MIN:
		return binary(c, KB_MIN, acc, v, t);
	case KR_ARGMAX:
	case KR_ARGMIN:
		return arg_step(c, x, acc, v, pay);
	}
	NN_ASSERT(!"unknown reduce op");
}

LLVMValueRef cpu_reduce_final(Kc *c, const Kx *x, LLVMValueRef acc)
{
	if (wide_sum(x))
		return cpu_conv(c, acc, DT_F64, x->dtype);
	if (!is_arg(x->op))
		return acc;
	LLVMValueRef r = LLVMBuildExtractValue(c->cg->b, acc, 1, "");
	return x->b ? r : cpu_conv(c, r, DT_I64, x->dtype);
}

LLVMValueRef cpu_node(Kc *c, const Kx *x, LLVMValueRef a, LLVMValueRef b)
{
	switch (x->kind) {
	case KX_CONST:
		return cpu_const(c, x->dtype, x->c);
	case KX_LOAD:
		return eval_load(c, x, a);
	case KX_IDX:
		return eval_idx(c, x, a, b);
	case KX_VALID:
		return eval_valid(c, x);
	case KX_RANDOM:
		return cpu_random(c, x, a, b);
	case KX_UNARY:
		if (x->op == KU_BITCAST)
			return LLVMBuildBitCast(c->cg->b, a, cpu_type(c->cg, x->dtype), "");
		if (cg_kx_pred(x))
			return unary_pred(c, x->op, a, x->a->dtype);
		a = cpu_conv(c, a, x->a->dtype, x->dtype);
		return cpu_is_float(x->dtype) ? unary_float(c, x->op, a, x->dtype)
		                              : unary_int(c, x->op, a, x->dtype);
	case KX_BINARY:
		if (cg_kx_pred(x))
			return binary_pred(c, x->op, a, cpu_conv(c, b, x->b->dtype, x->a->dtype), x->a->dtype);
		a = cpu_conv(c, a, x->a->dtype, x->dtype);
		b = cpu_conv(c, b, x->b->dtype, x->dtype);
		return binary(c, x->op, a, b, x->dtype);
	case KX_REDUCE:
	case KX_SELECT:
		break;
	}
	NN_ASSERT(!"cpu_node: not a plain node");
}
