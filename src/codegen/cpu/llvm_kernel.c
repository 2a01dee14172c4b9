/* llvm_kernel.c — renders one Kernel into an internal LLVM function.
 *
 * A KK_LOOP kernel becomes canonical loops (i = 0 .. extent-1, phis built
 * directly, rotated so the test sits in the latch) over its output vars;
 * the body's expression tree is evaluated in the innermost loop and stored
 * at out_idx. Every KX_REDUCE node gets its own loop nest over the
 * reduction vars, evaluated where the node appears, with an accumulator
 * phi per level. Guarded loads branch around the load (never a select: an
 * out-of-range address is never touched). KK_MATMUL and KK_CONV2D call the
 * runtime's kernel library (runtime/abi.h).
 *
 * The function takes one `ptr` per distinct storage it touches
 * (cpu_kernel_args), marked noalias unless its bytes may overlap another
 * argument's (two arena buffers with overlapping ranges). Caller-provided
 * inputs, outputs and params are assumed not to overlap each other. */
#include "cpu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Kc {
	Cg *cg;                   /* module-wide state */
	const KernelList *kl;     /* the list */
	const Kernel *k;          /* the kernel being rendered */
	LLVMValueRef fn;          /* its function */
	int *args;                /* representative buffer of each argument (cpu_kernel_args) */
	int nargs;                /* argument count */
	LLVMValueRef var[KV_MAX]; /* current i64 value of each loop var, NULL outside its loop */
} Kc;

static LLVMValueRef eval(Kc *c, const Kx *x);

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
		return cg->t_i32;
	case DT_I64:
		return cg->t_i64;
	case DT_I8:
	case DT_U8:
	case DT_BOOL:
		return cg->t_i8;
	default:
		return NULL;
	}
}

static bool is_float(DType t)
{
	return ir_dtype_is_float(t);
}
static bool is_unsigned(DType t)
{
	return t == DT_U8 || t == DT_BOOL;
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
	default:
		*lo = INT64_MIN;
		*hi = INT64_MAX;
		break;
	}
}

/* v as a constant of dtype t; integers saturate, NaN becomes 0. */
static LLVMValueRef kconst(Kc *c, DType t, double v)
{
	LLVMTypeRef ty = cpu_type(c->cg, t);
	if (is_float(t))
		return LLVMConstReal(ty, v);
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

static LLVMValueRef i64c(Kc *c, int64_t v)
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

static LLVMValueRef intrin1(Kc *c, const char *name, LLVMValueRef a)
{
	LLVMTypeRef t = LLVMTypeOf(a);
	return intrin(c, name, &t, 1, &a, 1);
}

static LLVMValueRef intrin2(Kc *c, const char *name, LLVMValueRef a, LLVMValueRef b)
{
	LLVMTypeRef t = LLVMTypeOf(a);
	LLVMValueRef args[2] = {a, b};
	return intrin(c, name, &t, 1, args, 2);
}

/* Converts v from dtype `from` to dtype `to`. Float to int saturates
 * (NaN gives 0); anything to bool is `!= 0`. */
static LLVMValueRef conv(Kc *c, LLVMValueRef v, DType from, DType to)
{
	LLVMBuilderRef b = c->cg->b;
	if (from == to)
		return v;
	LLVMTypeRef tt = cpu_type(c->cg, to);
	bool ff = is_float(from), ft = is_float(to);
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

static LLVMBasicBlockRef block(Kc *c, const char *name)
{
	return LLVMAppendBasicBlockInContext(c->cg->ctx, c->fn, name);
}

static void phi_add(LLVMValueRef phi, LLVMValueRef v, LLVMBasicBlockRef bb)
{
	LLVMAddIncoming(phi, &v, &bb, 1);
}

/* The base pointer of a buffer: the argument holding its storage. */
static LLVMValueRef base(Kc *c, int buf)
{
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
			t = LLVMBuildNSWMul(b, t, i64c(c, a->k[i]), "");
		v = v ? LLVMBuildNSWAdd(b, v, t, "") : t;
	}
	if (!v)
		return i64c(c, a->c);
	return a->c ? LLVMBuildNSWAdd(b, v, i64c(c, a->c), "") : v;
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
			LLVMValueRef t = LLVMBuildICmp(b, LLVMIntSGE, e, i64c(c, g[i].lo), "");
			cond = cond ? LLVMBuildAnd(b, cond, t, "") : t;
		}
		if (need_hi) {
			LLVMValueRef t = LLVMBuildICmp(b, LLVMIntSLT, e, i64c(c, g[i].hi), "");
			cond = cond ? LLVMBuildAnd(b, cond, t, "") : t;
		}
	}
	return cond;
}

static LLVMValueRef elem_ptr(Kc *c, int buf, const Aff *idx)
{
	LLVMValueRef i = aff(c, idx);
	LLVMTypeRef et = cpu_type(c->cg, c->kl->buf[buf].dtype);
	return LLVMBuildInBoundsGEP2(c->cg->b, et, base(c, buf), &i, 1, "");
}

static LLVMValueRef load(Kc *c, const Kx *x)
{
	const Buf *bf = &c->kl->buf[x->buf];
	LLVMValueRef p = elem_ptr(c, x->buf, &x->idx);
	LLVMValueRef v = LLVMBuildLoad2(c->cg->b, cpu_type(c->cg, bf->dtype), p, "");
	LLVMSetAlignment(v, (unsigned)ir_dtype_size(bf->dtype));
	return conv(c, v, bf->dtype, x->dtype);
}

static LLVMValueRef eval_load(Kc *c, const Kx *x)
{
	LLVMBuilderRef b = c->cg->b;
	bool never;
	LLVMValueRef cond = guard_cond(c, x->nguard, x->guard, &never);
	if (never)
		return kconst(c, x->dtype, x->fill);
	if (!cond)
		return load(c, x);
	LLVMBasicBlockRef from = LLVMGetInsertBlock(b);
	LLVMBasicBlockRef bl = block(c, "ld"), bj = block(c, "ldj");
	LLVMBuildCondBr(b, cond, bl, bj);
	LLVMPositionBuilderAtEnd(b, bl);
	LLVMValueRef v = load(c, x);
	LLVMBasicBlockRef bl_end = LLVMGetInsertBlock(b);
	LLVMBuildBr(b, bj);
	LLVMPositionBuilderAtEnd(b, bj);
	LLVMValueRef phi = LLVMBuildPhi(b, cpu_type(c->cg, x->dtype), "");
	phi_add(phi, v, bl_end);
	phi_add(phi, kconst(c, x->dtype, x->fill), from);
	return phi;
}

static LLVMValueRef eval_valid(Kc *c, const Kx *x)
{
	bool never;
	LLVMValueRef cond = guard_cond(c, x->nguard, x->guard, &never);
	if (never || !cond)
		return kconst(c, x->dtype, never ? 0 : 1);
	LLVMTypeRef t = cpu_type(c->cg, x->dtype);
	if (is_float(x->dtype))
		return LLVMBuildUIToFP(c->cg->b, cond, t, "");
	return LLVMBuildZExt(c->cg->b, cond, t, "");
}

/* Math */

/* libm's tanh for f32/f64; other float types go through f32. */
static LLVMValueRef call_tanh(Kc *c, LLVMValueRef a, DType t)
{
	if (t != DT_F32 && t != DT_F64)
		return conv(c, call_tanh(c, conv(c, a, t, DT_F32), DT_F32), DT_F32, t);
	const char *name = t == DT_F32 ? "tanhf" : "tanh";
	LLVMTypeRef ft = cpu_type(c->cg, t);
	LLVMTypeRef fty = LLVMFunctionType(ft, &ft, 1, 0);
	LLVMValueRef f = LLVMGetNamedFunction(c->cg->mod, name);
	if (!f) {
		f = LLVMAddFunction(c->cg->mod, name, fty);
		LLVMAddAttributeAtIndex(
		    f, LLVMAttributeFunctionIndex,
		    LLVMCreateEnumAttribute(c->cg->ctx, LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
	}
	return LLVMBuildCall2(c->cg->b, fty, f, &a, 1, "");
}

static LLVMValueRef unary_float(Kc *c, int op, LLVMValueRef a, DType t)
{
	LLVMBuilderRef b = c->cg->b;
	LLVMValueRef zero = LLVMConstNull(LLVMTypeOf(a)), one = kconst(c, t, 1);
	switch ((KuOp)op) {
	case KU_NEG:
		return LLVMBuildFNeg(b, a, "");
	case KU_ABS:
		return intrin1(c, "llvm.fabs", a);
	case KU_EXP:
		return intrin1(c, "llvm.exp", a);
	case KU_LOG:
		return intrin1(c, "llvm.log", a);
	case KU_SQRT:
		return intrin1(c, "llvm.sqrt", a);
	case KU_RELU: /* x < 0 ? 0 : x keeps NaN */
		return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a, zero, ""), zero, a, "");
	case KU_SIGMOID: {
		LLVMValueRef e = intrin1(c, "llvm.exp", LLVMBuildFNeg(b, a, ""));
		return LLVMBuildFDiv(b, one, LLVMBuildFAdd(b, one, e, ""), "");
	}
	case KU_TANH:
		return call_tanh(c, a, t);
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
		return intrin2(c, "llvm.abs", a, LLVMConstInt(c->cg->t_i1, 0, 0));
	case KU_RELU:
		return is_unsigned(t) ? a : intrin2(c, "llvm.smax", a, LLVMConstNull(LLVMTypeOf(a)));
	default: /* transcendental ops on integers: through f64 */
		return conv(c, unary_float(c, op, conv(c, a, t, DT_F64), DT_F64), DT_F64, t);
	}
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
	bool f = is_float(t), u = is_unsigned(t);
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
		return intrin2(c, f ? "llvm.maxnum" : u ? "llvm.umax" : "llvm.smax", x, y);
	case KB_MIN:
		return intrin2(c, f ? "llvm.minnum" : u ? "llvm.umin" : "llvm.smin", x, y);
	}
	NN_ASSERT(!"unknown binary op");
}

/* Reductions */

static LLVMValueRef reduce_init(Kc *c, int op, DType t)
{
	switch ((KrOp)op) {
	case KR_SUM:
		return kconst(c, t, 0);
	case KR_MAX:
		return kconst(c, t, -INFINITY);
	case KR_MIN:
		return kconst(c, t, INFINITY);
	}
	NN_ASSERT(!"unknown reduce op");
}

static LLVMValueRef reduce_step(Kc *c, int op, LLVMValueRef acc, LLVMValueRef v, DType t)
{
	if (op == KR_SUM) {
		LLVMValueRef r = binary(c, KB_ADD, acc, v, t);
		/* reassociation lets the vectorizer split the sum */
		if (is_float(t) && c->cg->opt_level >= 2 && LLVMIsAInstruction(r))
			LLVMSetFastMathFlags(r, LLVMFastMathAllowReassoc);
		return r;
	}
	return binary(c, op == KR_MAX ? KB_MAX : KB_MIN, acc, v, t);
}

/* One level of a KX_REDUCE nest over var v; returns the accumulator after
 * the loop. The builder ends in the loop's exit block. */
static LLVMValueRef reduce_level(Kc *c, const Kx *x, int v, LLVMValueRef acc)
{
	LLVMBuilderRef b = c->cg->b;
	if (v == c->k->nvar)
		return reduce_step(c, x->op, acc, conv(c, eval(c, x->a), x->a->dtype, x->dtype), x->dtype);
	LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
	LLVMBasicBlockRef head = block(c, "red"), exit = block(c, "rede");
	LLVMBuildBr(b, head);
	LLVMPositionBuilderAtEnd(b, head);
	LLVMValueRef i = LLVMBuildPhi(b, c->cg->t_i64, "r");
	LLVMValueRef a = LLVMBuildPhi(b, cpu_type(c->cg, x->dtype), "acc");
	LLVMValueRef saved = c->var[v];
	c->var[v] = i;
	LLVMValueRef an = reduce_level(c, x, v + 1, a);
	c->var[v] = saved;
	LLVMValueRef in = LLVMBuildNSWAdd(b, i, i64c(c, 1), "");
	LLVMBasicBlockRef latch = LLVMGetInsertBlock(b);
	LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, in, i64c(c, c->k->extent[v]), ""), head, exit);
	phi_add(i, i64c(c, 0), pre);
	phi_add(i, in, latch);
	phi_add(a, acc, pre);
	phi_add(a, an, latch);
	LLVMPositionBuilderAtEnd(b, exit);
	return an;
}

static LLVMValueRef eval_reduce(Kc *c, const Kx *x)
{
	LLVMValueRef init = reduce_init(c, x->op, x->dtype);
	for (int v = c->k->nout_var; v < c->k->nvar; v++)
		if (c->k->extent[v] <= 0)
			return init;
	return reduce_level(c, x, c->k->nout_var, init);
}

static LLVMValueRef eval(Kc *c, const Kx *x)
{
	switch (x->kind) {
	case KX_CONST:
		return kconst(c, x->dtype, x->c);
	case KX_LOAD:
		return eval_load(c, x);
	case KX_VALID:
		return eval_valid(c, x);
	case KX_UNARY: {
		LLVMValueRef a = conv(c, eval(c, x->a), x->a->dtype, x->dtype);
		return is_float(x->dtype) ? unary_float(c, x->op, a, x->dtype)
		                          : unary_int(c, x->op, a, x->dtype);
	}
	case KX_BINARY: {
		LLVMValueRef a = conv(c, eval(c, x->a), x->a->dtype, x->dtype);
		LLVMValueRef b = conv(c, eval(c, x->b), x->b->dtype, x->dtype);
		return binary(c, x->op, a, b, x->dtype);
	}
	case KX_REDUCE:
		return eval_reduce(c, x);
	}
	NN_ASSERT(!"unknown Kx kind");
}

/* Loop kernels */

static void store_body(Kc *c)
{
	const Kernel *k = c->k;
	const Buf *ob = &c->kl->buf[k->out];
	LLVMValueRef v = conv(c, eval(c, k->body), k->body->dtype, ob->dtype);
	LLVMValueRef st = LLVMBuildStore(c->cg->b, v, elem_ptr(c, k->out, &k->out_idx));
	LLVMSetAlignment(st, (unsigned)ir_dtype_size(ob->dtype));
}

static void out_level(Kc *c, int v)
{
	LLVMBuilderRef b = c->cg->b;
	if (v == c->k->nout_var) {
		store_body(c);
		return;
	}
	LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
	LLVMBasicBlockRef head = block(c, "loop"), exit = block(c, "loope");
	LLVMBuildBr(b, head);
	LLVMPositionBuilderAtEnd(b, head);
	LLVMValueRef i = LLVMBuildPhi(b, c->cg->t_i64, "i");
	c->var[v] = i;
	out_level(c, v + 1);
	c->var[v] = NULL;
	LLVMValueRef in = LLVMBuildNSWAdd(b, i, i64c(c, 1), "");
	LLVMBasicBlockRef latch = LLVMGetInsertBlock(b);
	LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, in, i64c(c, c->k->extent[v]), ""), head, exit);
	phi_add(i, i64c(c, 0), pre);
	phi_add(i, in, latch);
	LLVMPositionBuilderAtEnd(b, exit);
}

static void loop_kernel(Kc *c)
{
	for (int v = 0; v < c->k->nout_var; v++)
		if (c->k->extent[v] <= 0)
			return;
	out_level(c, 0);
}

/* Library calls */

static LLVMValueRef lib_fn(Kc *c, const char *name, LLVMTypeRef fty)
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
	LLVMValueRef el[16];
	NN_ASSERT(n <= 16);
	for (int i = 0; i < n; i++)
		el[i] = i64c(c, v[i]);
	LLVMValueRef init = LLVMConstArray2(c->cg->t_i64, el, (uint64_t)n);
	LLVMValueRef g = LLVMAddGlobal(c->cg->mod, LLVMTypeOf(init), name);
	LLVMSetInitializer(g, init);
	LLVMSetGlobalConstant(g, 1);
	LLVMSetLinkage(g, LLVMPrivateLinkage);
	LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
	LLVMSetAlignment(g, 8);
	return g;
}

static LLVMValueRef base_or_null(Kc *c, int buf)
{
	return buf < 0 ? LLVMConstNull(c->cg->t_ptr) : base(c, buf);
}

static void matmul_kernel(Kc *c)
{
	Cg *cg = c->cg;
	const Kernel *k = c->k;
	LLVMTypeRef p = cg->t_ptr, i32 = cg->t_i32, i64 = cg->t_i64;
	LLVMTypeRef at[13] = {p, p, p, i32, p, p, p, p, i64, i64, i64, i32, i32};
	LLVMTypeRef fty = LLVMFunctionType(cg->t_void, at, 13, 0);
	LLVMValueRef args[13] = {
	    base(c, k->mm.a),
	    base(c, k->mm.b),
	    base(c, k->mm.c),
	    LLVMConstInt(i32, (unsigned long long)k->mm.nbatch, 1),
	    i64_array(c, k->mm.bext, 4, "mm.bext"),
	    i64_array(c, k->mm.sa, 4, "mm.sa"),
	    i64_array(c, k->mm.sb, 4, "mm.sb"),
	    i64_array(c, k->mm.sc, 4, "mm.sc"),
	    i64c(c, k->mm.m),
	    i64c(c, k->mm.n),
	    i64c(c, k->mm.k),
	    LLVMConstInt(i32, (unsigned long long)(k->mm.trans_a != 0), 0),
	    LLVMConstInt(i32, (unsigned long long)(k->mm.trans_b != 0), 0),
	};
	LLVMBuildCall2(cg->b, fty, lib_fn(c, "nncc_rt_matmul_f32", fty), args, 13, "");
}

static void conv_kernel(Kc *c)
{
	Cg *cg = c->cg;
	const Kernel *k = c->k;
	int64_t p[16] = {
	    k->conv.n,  k->conv.c,  k->conv.h,  k->conv.w,  k->conv.k,  k->conv.oh, k->conv.ow, k->conv.kh,
	    k->conv.kw, k->conv.sh, k->conv.sw, k->conv.ph, k->conv.pw, k->conv.dh, k->conv.dw, k->conv.group,
	};
	LLVMTypeRef at[6] = {cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr};
	LLVMTypeRef fty = LLVMFunctionType(cg->t_void, at, 6, 0);
	LLVMValueRef args[6] = {
	    base(c, k->conv.x),
	    base(c, k->conv.wt),
	    base_or_null(c, k->conv.bias),
	    base(c, k->conv.y),
	    base_or_null(c, k->conv.scratch),
	    i64_array(c, p, 16, "conv.p"),
	};
	LLVMBuildCall2(cg->b, fty, lib_fn(c, "nncc_rt_conv2d_f32", fty), args, 6, "");
}

/* Functions */

void cpu_fn_attrs(Cg *cg, LLVMValueRef fn)
{
	unsigned kind = LLVMGetEnumAttributeKindForName("nounwind", 8);
	LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(cg->ctx, kind, 0));
	if (cg->cpu && *cg->cpu)
		LLVMAddTargetDependentFunctionAttr(fn, "target-cpu", cg->cpu);
	if (cg->features && *cg->features)
		LLVMAddTargetDependentFunctionAttr(fn, "target-features", cg->features);
}

LLVMValueRef cpu_kernel(Cg *cg, int ki, Diag *d)
{
	const KernelList *kl = cg->kl;
	const Kernel *k = &kl->k[ki];
	if (cpu_check_kernel(cg, k, d))
		return NULL;

	Kc c = {.cg = cg, .kl = kl, .k = k};
	c.args = xmalloc((size_t)kl->nbuf * sizeof *c.args);
	c.nargs = cpu_kernel_args(kl, k, c.args);
	LLVMTypeRef *pt = xmalloc((size_t)(c.nargs ? c.nargs : 1) * sizeof *pt);
	for (int j = 0; j < c.nargs; j++)
		pt[j] = cg->t_ptr;
	char name[32];
	snprintf(name, sizeof name, "k%d", ki);
	c.fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(cg->t_void, pt, (unsigned)c.nargs, 0));
	LLVMSetLinkage(c.fn, LLVMInternalLinkage);
	cpu_fn_attrs(cg, c.fn);
	unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
	for (int j = 0; j < c.nargs; j++)
		if (cpu_arg_noalias(kl, c.args, c.nargs, j))
			LLVMAddAttributeAtIndex(c.fn, (unsigned)j + 1,
			                        LLVMCreateEnumAttribute(cg->ctx, noalias, 0));

	LLVMPositionBuilderAtEnd(cg->b, block(&c, "entry"));
	switch (k->kind) {
	case KK_LOOP:
		loop_kernel(&c);
		break;
	case KK_MATMUL:
		matmul_kernel(&c);
		break;
	case KK_CONV2D:
		conv_kernel(&c);
		break;
	}
	LLVMBuildRetVoid(cg->b);
	free(pt);
	free(c.args);
	return c.fn;
}
