/* cuda_expr.c — one expression node (codegen.h Kx) as CUDA C: types,
 * constants, conversions, guarded loads (the C conditional operator, so an
 * address out of range is never touched), unary and binary math with the
 * CPU backend's semantics (cpu/llvm_expr.c: float to int saturates, NaN
 * gives 0; integer division and remainder never trap, x / 0 gives x;
 * max/min propagate NaN; comparisons give bool 0/1 in the operand's
 * dtype), selects, bitcasts, Philox random numbers (ir/philox.c) and
 * reductions, each run by one thread as a loop nest over the reduction
 * vars. Every node becomes one `const T v<i>` variable, so a node shared
 * by two parents (a DAG) is computed once per point. */
#include "cu.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char cu_preamble[] =
	"/* nncc CUDA C: one kernel per loop nest, base pointer m of the model's device memory */\n"
	"typedef signed char i8; typedef unsigned char u8; typedef short i16; typedef unsigned short u16;\n"
	"typedef int i32; typedef unsigned int u32; typedef long long i64; typedef unsigned long long u64;\n"
	"#define NN_D static __device__ __forceinline__\n"
	"#define NN_INF __longlong_as_double(0x7ff0000000000000LL)\n"
	"/* float to integer, saturating, NaN gives 0 */\n"
	"#define NN_F2I(N, T, LO, HI) NN_D T N(double v) { return v != v ? (T)0 : v <= (double)(LO) ? (T)(LO) "
	": v >= (double)(HI) ? (T)(HI) : (T)v; }\n"
	"NN_F2I(nn_f2i8, i8, -128, 127) NN_F2I(nn_f2u8, u8, 0, 255) NN_F2I(nn_f2i16, i16, -32768, 32767)\n"
	"NN_F2I(nn_f2u16, u16, 0, 65535) NN_F2I(nn_f2i32, i32, (-2147483647 - 1), 2147483647)\n"
	"NN_F2I(nn_f2u32, u32, 0, 4294967295u) NN_F2I(nn_f2i64, i64, (-9223372036854775807LL - 1), "
	"9223372036854775807LL)\n"
	"NN_F2I(nn_f2u64, u64, 0, 18446744073709551615ULL)\n"
	"/* max and min that propagate NaN */\n"
	"NN_D float nn_max(float a, float b) { return a != a ? a : b != b ? b : fmaxf(a, b); }\n"
	"NN_D float nn_min(float a, float b) { return a != a ? a : b != b ? b : fminf(a, b); }\n"
	"NN_D double nn_max(double a, double b) { return a != a ? a : b != b ? b : fmax(a, b); }\n"
	"NN_D double nn_min(double a, double b) { return a != a ? a : b != b ? b : fmin(a, b); }\n"
	"template <class T> NN_D T nn_imax(T a, T b) { return a > b ? a : b; }\n"
	"template <class T> NN_D T nn_imin(T a, T b) { return a < b ? a : b; }\n"
	"/* integer division and remainder that never trap: x / 0 and x % 0 give x */\n"
	"template <class T> NN_D T nn_sdiv(T x, T y) { return y == 0 ? x : y == (T)-1 ? (T)(0ULL - (u64)x) : "
	"(T)(x / y); }\n"
	"template <class T> NN_D T nn_udiv(T x, T y) { return y == 0 ? x : (T)(x / y); }\n"
	"template <class T> NN_D T nn_srem(T x, T y, bool py) { if (y == 0) return x; T r = y == (T)-1 ? (T)0 : "
	"(T)(x % y);\n"
	"\tif (py && r != 0 && ((r < 0) != (y < 0))) r = (T)((u64)r + (u64)y); return r; }\n"
	"template <class T> NN_D T nn_urem(T x, T y) { return y == 0 ? x : (T)(x % y); }\n"
	"NN_D float nn_fmod(float x, float y, bool py) { float r = fmodf(x, y);\n"
	"\treturn py && r != 0 && ((r < 0) != (y < 0)) ? r + y : r; }\n"
	"NN_D double nn_fmod(double x, double y, bool py) { double r = fmod(x, y);\n"
	"\treturn py && r != 0 && ((r < 0) != (y < 0)) ? r + y : r; }\n"
	"/* logical shifts; a count >= the width gives 0 */\n"
	"template <class T> NN_D T nn_shl(T x, T y) { return y >= sizeof(T) * 8 ? (T)0 : (T)(x << y); }\n"
	"template <class T> NN_D T nn_shr(T x, T y) { return y >= sizeof(T) * 8 ? (T)0 : (T)(x >> y); }\n"
	"template <class T, class F> NN_D T nn_bitcast(F v) { union { F f; T t; } u; u.f = v; return u.t; }\n"
	"/* a block-wide reduction (blockDim.x a power of two, at most 256), the result in every thread */\n"
	"template <int OP, class T> NN_D T nn_rop(T a, T b) { return OP == 0 ? a + b : OP == 1 ? a * b : OP == 2 ? "
	"nn_max(a, b) : nn_min(a, b); }\n"
	"template <int OP, class T> static __device__ T nn_bred(T v) {\n"
	"\t__shared__ T s[256];\n"
	"\t__syncthreads();\n"
	"\ts[threadIdx.x] = v;\n"
	"\t__syncthreads();\n"
	"\tfor (unsigned o = blockDim.x / 2; o > 0; o >>= 1) {\n"
	"\t\tif (threadIdx.x < o) s[threadIdx.x] = nn_rop<OP>(s[threadIdx.x], s[threadIdx.x + o]);\n"
	"\t\t__syncthreads();\n"
	"\t}\n"
	"\treturn s[0];\n"
	"}\n"
	"/* Philox 4x32-10 (ir/philox.c): key = seed, counter = (i >> 2, stream, step), word i & 3 */\n"
	"NN_D float nn_philox(u64 seed, u64 step, u32 stream, u64 i) {\n"
	"\tu32 c0 = (u32)(i >> 2), c1 = stream, c2 = (u32)step, c3 = (u32)(step >> 32);\n"
	"\tu32 k0 = (u32)seed, k1 = (u32)(seed >> 32);\n"
	"\tfor (int r = 0; r < 10; r++) {\n"
	"\t\tif (r) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }\n"
	"\t\tu64 p0 = (u64)0xD2511F53u * c0, p1 = (u64)0xCD9E8D57u * c2;\n"
	"\t\tu32 n0 = (u32)(p1 >> 32) ^ c1 ^ k0, n2 = (u32)(p0 >> 32) ^ c3 ^ k1;\n"
	"\t\tc0 = n0; c1 = (u32)p1; c2 = n2; c3 = (u32)p0;\n"
	"\t}\n"
	"\tu32 w = (u32)(i & 3), u = w == 0 ? c0 : w == 1 ? c1 : w == 2 ? c2 : c3;\n"
	"\treturn (float)(u >> 8) * 5.9604644775390625e-8f;\n"
	"}\n";

const char *cu_type(DType t)
{
	switch (t) {
	case DT_F32: return "float";
	case DT_F64: return "double";
	case DT_I8: return "i8";
	case DT_U8: return "u8";
	case DT_BOOL: return "u8";
	case DT_I16: return "i16";
	case DT_U16: return "u16";
	case DT_I32: return "i32";
	case DT_U32: return "u32";
	case DT_I64: return "i64";
	case DT_U64: return "u64";
	default: return NULL; /* f16, bf16 and the exotic types: not yet */
	}
}

static bool is_float(DType t) { return t == DT_F32 || t == DT_F64; }
static bool is_unsigned(DType t) { return ir_dtype_is_unsigned(t) || t == DT_BOOL; }

/* The unsigned type of the same width (wrapping arithmetic). */
static const char *utype(DType t)
{
	switch (ir_dtype_size(t)) {
	case 1: return "u8";
	case 2: return "u16";
	case 4: return "u32";
	default: return "u64";
	}
}

void cu_line(Cu *c, const char *fmt, ...)
{
	for (int i = 0; i < c->ind; i++)
		fputc('\t', c->f);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(c->f, fmt, ap);
	va_end(ap);
	fputc('\n', c->f);
}

void cu_base(Cu *c, int buf)
{
	fprintf(c->f, "((%s *)(m + %lld))", cu_type(c->kl->buf[buf].dtype), (long long)c->lay->boff[buf]);
}

void cu_aff(Cu *c, const Aff *a)
{
	bool any = false;
	fputc('(', c->f);
	for (int v = 0; v < KV_MAX; v++) {
		if (!a->k[v])
			continue;
		if (a->k[v] == 1)
			fprintf(c->f, "%si%d", any ? " + " : "", v);
		else
			fprintf(c->f, "%s%lldLL * i%d", any ? " + " : "", (long long)a->k[v], v);
		any = true;
	}
	if (a->c || !any)
		fprintf(c->f, "%s%lldLL", any ? " + " : "", (long long)a->c);
	fputc(')', c->f);
}

static void int_range(DType t, double *lo, double *hi)
{
	int bits = (int)ir_dtype_size(t) * 8;
	if (t == DT_BOOL) {
		*lo = 0;
		*hi = 1;
	} else if (is_unsigned(t)) {
		*lo = 0;
		*hi = ldexp(1, bits) - 1;
	} else {
		*lo = -ldexp(1, bits - 1);
		*hi = ldexp(1, bits - 1) - 1;
	}
}

/* A constant as cpu_const makes it: floats rounded to the type (bit
 * patterns for infinities and NaN), integers saturated, NaN 0. */
static void cconst(Cu *c, DType t, double v)
{
	if (t == DT_F32) {
		float fv = (float)v;
		uint32_t u;
		memcpy(&u, &fv, 4);
		if (!isfinite(fv)) {
			fprintf(c->f, "__int_as_float(0x%08x)", u);
			return;
		}
		char s[48];
		snprintf(s, sizeof s, "%.9g", (double)fv);
		fprintf(c->f, "%s%sf", s, strpbrk(s, ".e") ? "" : ".0");
		return;
	}
	if (t == DT_F64) {
		uint64_t u;
		memcpy(&u, &v, 8);
		if (!isfinite(v)) {
			fprintf(c->f, "__longlong_as_double(0x%016llxLL)", (unsigned long long)u);
			return;
		}
		char s[48];
		snprintf(s, sizeof s, "%.17g", v);
		fprintf(c->f, "%s%s", s, strpbrk(s, ".e") ? "" : ".0");
		return;
	}
	double lo, hi;
	int_range(t, &lo, &hi);
	int64_t iv = isnan(v) ? 0 : v <= lo ? (int64_t)lo : v >= hi ? (ir_dtype_size(t) == 8 ? INT64_MAX : (int64_t)hi)
	                                                        : (int64_t)v;
	if (t == DT_U64 && iv < 0)
		iv = 0;
	if (iv == INT64_MIN)
		fprintf(c->f, "((i64)(-9223372036854775807LL - 1))");
	else
		fprintf(c->f, "((%s)%lldLL)", cu_type(t), (long long)iv);
}

void cu_conv(Cu *c, const char *v, DType from, DType to)
{
	if (from == to) {
		fputs(v, c->f);
	} else if (to == DT_BOOL) {
		fprintf(c->f, "(u8)(%s != 0)", v);
	} else if (is_float(from) && !is_float(to)) {
		const char *n = cu_type(to);
		fprintf(c->f, "nn_f2%s(%s)", n, v);
	} else {
		fprintf(c->f, "(%s)%s", cu_type(to), v);
	}
}

/* Name of operand x of node i converted to dtype `to`: its own variable,
 * or a new one v<i>_<tag> holding the conversion. */
static void opnd(Cu *c, int i, char tag, const Kx *x, DType to, char *name, size_t n)
{
	int j = cu_get(c, x);
	if (x->dtype == to) {
		snprintf(name, n, "v%d", j);
		return;
	}
	char src[24];
	snprintf(src, sizeof src, "v%d", j);
	snprintf(name, n, "v%d_%c", i, tag);
	for (int t = 0; t < c->ind; t++)
		fputc('\t', c->f);
	fprintf(c->f, "const %s %s = ", cu_type(to), name);
	cu_conv(c, src, x->dtype, to);
	fputs(";\n", c->f);
}

/* Math function `name` for float dtype t: namef for f32. */
static void mfn(Cu *c, const char *name, DType t, const char *a)
{
	fprintf(c->f, "%s%s(%s)", name, t == DT_F32 ? "f" : "", a);
}

static void guards(Cu *c, const Kx *x, bool *any)
{
	for (int g = 0; g < x->nguard; g++) {
		fprintf(c->f, "%s", *any ? " && " : "");
		cu_aff(c, &x->guard[g].e);
		fprintf(c->f, " >= %lldLL && ", (long long)x->guard[g].lo);
		cu_aff(c, &x->guard[g].e);
		fprintf(c->f, " < %lldLL", (long long)x->guard[g].hi);
		*any = true;
	}
}

static void load(Cu *c, const Kx *x, const char *dyn)
{
	DType bt = c->kl->buf[x->buf].dtype;
	bool any = false;
	if (dyn) {
		fprintf(c->f, "%s >= 0", dyn);
		any = true;
	}
	guards(c, x, &any);
	if (any)
		fputs(" ? ", c->f);
	fputs("(", c->f);
	if (bt != x->dtype) {
		/* print the load into a conversion */
		if (x->dtype == DT_BOOL)
			fputs("(u8)(", c->f);
		else if (is_float(bt) && !is_float(x->dtype))
			fprintf(c->f, "nn_f2%s(", cu_type(x->dtype));
		else
			fprintf(c->f, "(%s)(", cu_type(x->dtype));
	}
	cu_base(c, x->buf);
	fputc('[', c->f);
	cu_aff(c, &x->idx);
	if (dyn)
		fprintf(c->f, " + %s", dyn);
	fputc(']', c->f);
	if (bt != x->dtype)
		fputs(x->dtype == DT_BOOL ? " != 0)" : ")", c->f);
	fputs(")", c->f);
	if (any) {
		fputs(" : ", c->f);
		cconst(c, x->dtype, x->fill);
	}
}

static void unary_pred(Cu *c, int op, const char *a, DType t)
{
	if (!is_float(t)) {
		fprintf(c->f, op == KU_NOT ? "(u8)(%s == 0)" : "(u8)0", a);
		return;
	}
	const char *abs = t == DT_F32 ? "fabsf" : "fabs";
	switch (op) {
	case KU_NOT: fprintf(c->f, "(u8)(%s == 0)", a); break;
	case KU_ISNAN: fprintf(c->f, "(u8)(%s != %s)", a, a); break;
	case KU_ISINF: fprintf(c->f, "(u8)(%s(%s) == (%s)NN_INF)", abs, a, cu_type(t)); break;
	case KU_ISPOSINF: fprintf(c->f, "(u8)(%s == (%s)NN_INF)", a, cu_type(t)); break;
	default: fprintf(c->f, "(u8)(%s == -(%s)NN_INF)", a, cu_type(t)); break;
	}
}

static void unary_float(Cu *c, int op, const char *a, DType t)
{
	const char *T = cu_type(t);
	switch ((KuOp)op) {
	case KU_NEG: fprintf(c->f, "-%s", a); return;
	case KU_ABS: mfn(c, "fabs", t, a); return;
	case KU_EXP: mfn(c, "exp", t, a); return;
	case KU_LOG: mfn(c, "log", t, a); return;
	case KU_SQRT: mfn(c, "sqrt", t, a); return;
	case KU_RELU: fprintf(c->f, "%s < 0 ? (%s)0 : %s", a, T, a); return;
	case KU_SIGMOID:
		fprintf(c->f, "(%s)1 / ((%s)1 + %s(-%s))", T, T, t == DT_F32 ? "expf" : "exp", a);
		return;
	case KU_TANH: mfn(c, "tanh", t, a); return;
	case KU_SIN: mfn(c, "sin", t, a); return;
	case KU_COS: mfn(c, "cos", t, a); return;
	case KU_TAN: mfn(c, "tan", t, a); return;
	case KU_ASIN: mfn(c, "asin", t, a); return;
	case KU_ACOS: mfn(c, "acos", t, a); return;
	case KU_ATAN: mfn(c, "atan", t, a); return;
	case KU_SINH: mfn(c, "sinh", t, a); return;
	case KU_COSH: mfn(c, "cosh", t, a); return;
	case KU_ASINH: mfn(c, "asinh", t, a); return;
	case KU_ACOSH: mfn(c, "acosh", t, a); return;
	case KU_ATANH: mfn(c, "atanh", t, a); return;
	case KU_ERF: mfn(c, "erf", t, a); return;
	case KU_FLOOR: mfn(c, "floor", t, a); return;
	case KU_CEIL: mfn(c, "ceil", t, a); return;
	case KU_ROUND: mfn(c, "rint", t, a); return; /* ties to even */
	case KU_SIGN: /* 0, -0 and NaN are their own sign */
		fprintf(c->f, "%s > 0 ? (%s)1 : %s < 0 ? (%s)-1 : %s", a, T, a, T, a);
		return;
	case KU_RECIP: fprintf(c->f, "(%s)1 / %s", T, a); return;
	default: break;
	}
	NN_ASSERT(!"unary_float: not a float op");
}

/* Integer unary ops; transcendental ones go through f64 as the CPU's do. */
static void unary_int(Cu *c, int op, const char *a, DType t)
{
	const char *T = cu_type(t), *U = utype(t);
	bool u = is_unsigned(t);
	switch ((KuOp)op) {
	case KU_NEG: fprintf(c->f, "(%s)(0ULL - (%s)%s)", T, U, a); return;
	case KU_ABS:
		if (u)
			fputs(a, c->f);
		else
			fprintf(c->f, "%s < 0 ? (%s)(0ULL - (%s)%s) : %s", a, T, U, a, a);
		return;
	case KU_RELU:
		if (u)
			fputs(a, c->f);
		else
			fprintf(c->f, "%s < 0 ? (%s)0 : %s", a, T, a);
		return;
	case KU_BITNOT: fprintf(c->f, t == DT_BOOL ? "(u8)(%s == 0)" : "(%s)~%s", t == DT_BOOL ? a : T, a); return;
	case KU_FLOOR: case KU_CEIL: case KU_ROUND: fputs(a, c->f); return;
	case KU_SIGN:
		if (u)
			fprintf(c->f, "(%s)(%s != 0)", T, a);
		else
			fprintf(c->f, "(%s)((%s > 0) - (%s < 0))", T, a, a);
		return;
	default: {
		char d[64];
		snprintf(d, sizeof d, "(double)%s", a);
		fprintf(c->f, "nn_f2%s(", T);
		unary_float(c, op, d, DT_F64);
		fputc(')', c->f);
		return;
	}
	}
}

static void binary_pred(Cu *c, int op, const char *a, const char *b)
{
	static const char *const sym[] = {[KB_EQ] = "==", [KB_LT] = "<", [KB_LE] = "<=", [KB_GT] = ">",
	                                  [KB_GE] = ">="};
	fprintf(c->f, "(u8)(%s %s %s)", a, sym[op], b);
}

static void binary(Cu *c, int op, const char *a, const char *b, DType t)
{
	const char *T = cu_type(t), *U = utype(t);
	bool f = is_float(t), u = is_unsigned(t);
	switch ((KbOp)op) {
	case KB_ADD: case KB_SUB: case KB_MUL: {
		char s = op == KB_ADD ? '+' : op == KB_SUB ? '-' : '*';
		if (f)
			fprintf(c->f, "%s %c %s", a, s, b);
		else /* wraps: unsigned arithmetic */
			fprintf(c->f, "(%s)((%s)%s %c (%s)%s)", T, ir_dtype_size(t) < 4 ? "u32" : U, a, s,
			        ir_dtype_size(t) < 4 ? "u32" : U, b);
		return;
	}
	case KB_DIV:
		if (f)
			fprintf(c->f, "%s / %s", a, b);
		else
			fprintf(c->f, "nn_%cdiv<%s>(%s, %s)", u ? 'u' : 's', T, a, b);
		return;
	case KB_MAX: case KB_MIN:
		fprintf(c->f, "nn_%s%s(%s, %s)", f ? "" : "i", op == KB_MAX ? "max" : "min", a, b);
		return;
	case KB_POW:
		if (f)
			fprintf(c->f, "%s(%s, %s)", t == DT_F32 ? "powf" : "pow", a, b);
		else
			fprintf(c->f, "nn_f2%s(pow((double)%s, (double)%s))", T, a, b);
		return;
	case KB_AND: fprintf(c->f, "(%s)(%s & %s)", T, a, b); return;
	case KB_OR: fprintf(c->f, "(%s)(%s | %s)", T, a, b); return;
	case KB_XOR: fprintf(c->f, "(%s)(%s ^ %s)", T, a, b); return;
	case KB_MOD: case KB_FMOD:
		if (f)
			fprintf(c->f, "nn_fmod(%s, %s, %s)", a, b, op == KB_MOD ? "true" : "false");
		else if (u)
			fprintf(c->f, "nn_urem<%s>(%s, %s)", T, a, b);
		else
			fprintf(c->f, "nn_srem<%s>(%s, %s, %s)", T, a, b, op == KB_MOD ? "true" : "false");
		return;
	case KB_SHL: case KB_SHR:
		fprintf(c->f, "nn_sh%c<%s>(%s, %s)", op == KB_SHL ? 'l' : 'r', T, a, b);
		return;
	default: break;
	}
	NN_ASSERT(!"binary: unknown op");
}

/* --- reductions ----------------------------------------------------------------- */

static bool is_arg(int op) { return op == KR_ARGMAX || op == KR_ARGMIN; }

/* The reduction loops over vars v..nvar-1; the body innermost. */
static void red_level(Cu *c, int i, const Kx *x, int v)
{
	const Kernel *k = c->k;
	if (v < k->nvar) {
		cu_line(c, "for (i64 i%d = 0; i%d < %lldLL; i%d++) {", v, v, (long long)k->extent[v], v);
		c->ind++;
		red_level(c, i, x, v + 1);
		c->ind--;
		cu_line(c, "}");
		return;
	}
	/* the body: its nodes depending on reduction vars are private to this iteration */
	bool *saved = xmalloc((size_t)c->dag.n * sizeof *saved);
	memcpy(saved, c->done, (size_t)c->dag.n * sizeof *saved);
	DType t = x->dtype, at = x->a->dtype;
	char a[32], p[32];
	if (is_arg(x->op)) {
		opnd(c, i, 'a', x->a, at, a, sizeof a);
		if (x->b)
			opnd(c, i, 'p', x->b, t, p, sizeof p);
		bool mx = x->op == KR_ARGMAX;
		if (is_float(at))
			cu_line(c, "if (%s %c best%d || (%s != %s && best%d == best%d)) {", a, mx ? '>' : '<', i, a, a, i,
			        i);
		else
			cu_line(c, "if (%s %c best%d) {", a, mx ? '>' : '<', i);
		c->ind++;
		cu_line(c, "best%d = %s;", i, a);
		if (x->b) {
			cu_line(c, "pos%d = %s;", i, p);
		} else {
			for (int t2 = 0; t2 < c->ind; t2++)
				fputc('\t', c->f);
			fprintf(c->f, "pos%d = 0", i);
			int64_t st = 1;
			for (int w = k->nvar - 1; w >= k->nout_var; w--) {
				fprintf(c->f, " + i%d * %lldLL", w, (long long)st);
				st *= k->extent[w];
			}
			fputs(";\n", c->f);
		}
		c->ind--;
		cu_line(c, "}");
	} else {
		opnd(c, i, 'a', x->a, t, a, sizeof a);
		char acc[24];
		snprintf(acc, sizeof acc, "acc%d", i);
		for (int t2 = 0; t2 < c->ind; t2++)
			fputc('\t', c->f);
		fprintf(c->f, "acc%d = ", i);
		int bop = x->op == KR_SUM ? KB_ADD : x->op == KR_PROD ? KB_MUL : x->op == KR_MAX ? KB_MAX : KB_MIN;
		binary(c, bop, acc, a, t);
		fputs(";\n", c->f);
	}
	memcpy(c->done, saved, (size_t)c->dag.n * sizeof *saved);
	free(saved);
}

static void reduce(Cu *c, int i, const Kx *x)
{
	const Kernel *k = c->k;
	DType t = x->dtype;
	const char *T = cu_type(t);
	bool empty = false;
	for (int v = k->nout_var; v < k->nvar; v++)
		empty = empty || k->extent[v] <= 0;
	if (is_arg(x->op)) {
		for (int t2 = 0; t2 < c->ind; t2++)
			fputc('\t', c->f);
		fprintf(c->f, "%s best%d = ", cu_type(x->a->dtype), i);
		cconst(c, x->a->dtype, x->op == KR_ARGMAX ? -INFINITY : INFINITY);
		fprintf(c->f, ";\n");
		for (int t2 = 0; t2 < c->ind; t2++)
			fputc('\t', c->f);
		fprintf(c->f, "%s pos%d = 0;\n", x->b ? T : "i64", i);
		if (!empty)
			red_level(c, i, x, k->nout_var);
		char pos[24];
		snprintf(pos, sizeof pos, "pos%d", i);
		for (int t2 = 0; t2 < c->ind; t2++)
			fputc('\t', c->f);
		fprintf(c->f, "const %s v%d = ", T, i);
		cu_conv(c, pos, x->b ? t : DT_I64, t);
		fputs(";\n", c->f);
		return;
	}
	for (int t2 = 0; t2 < c->ind; t2++)
		fputc('\t', c->f);
	fprintf(c->f, "%s acc%d = ", T, i);
	double init = x->op == KR_SUM ? 0 : x->op == KR_PROD ? 1 : x->op == KR_MAX ? -INFINITY : INFINITY;
	cconst(c, t, init);
	fputs(";\n", c->f);
	if (c->block) { /* the block's threads share the reduction space, then a tree */
		int64_t trips = cg_span(k, k->nout_var, k->nvar);
		cu_line(c, "for (i64 r%d = threadIdx.x; r%d < %lldLL; r%d += blockDim.x) {", i, i, (long long)trips, i);
		c->ind++;
		cu_line(c, "i64 q%d = r%d;", i, i);
		for (int v = k->nvar - 1; v >= k->nout_var; v--) {
			if (v == k->nout_var)
				cu_line(c, "const i64 i%d = q%d;", v, i);
			else
				cu_line(c, "const i64 i%d = q%d %% %lldLL; q%d /= %lldLL;", v, i, (long long)k->extent[v],
					i, (long long)k->extent[v]);
		}
		cu_line(c, "(void)q%d;", i);
		red_level(c, i, x, k->nvar);
		c->ind--;
		cu_line(c, "}");
		cu_line(c, "acc%d = nn_bred<%d>(acc%d);", i, x->op == KR_SUM ? 0 : x->op == KR_PROD ? 1 : x->op == KR_MAX ? 2 : 3,
			i);
	} else if (!empty) {
		red_level(c, i, x, k->nout_var);
	}
	cu_line(c, "const %s v%d = acc%d;", T, i, i);
}

bool cu_block_ok(const Kx *x)
{
	return x->kind != KX_REDUCE || ((x->dtype == DT_F32 || x->dtype == DT_F64) && !is_arg(x->op));
}

/* --- nodes ---------------------------------------------------------------------- */

int cu_get(Cu *c, const Kx *x)
{
	int i = cg_kx_find(&c->dag, x);
	NN_ASSERT(i >= 0);
	if (!c->done[i]) {
		NN_ASSERT(c->dag.node[i].inner); /* others are declared at the kernel's top */
		cu_node(c, i);
	}
	return i;
}

void cu_node(Cu *c, int i)
{
	const Kx *x = c->dag.node[i].x;
	DType t = x->dtype;
	const char *T = cu_type(t);
	char a[32] = "", b[32] = "", cond[32];
	if (x->kind == KX_REDUCE) {
		reduce(c, i, x);
		c->done[i] = true;
		return;
	}
	/* operands first (converted where the node computes in its own dtype) */
	switch (x->kind) {
	case KX_LOAD:
		if (x->a)
			snprintf(a, sizeof a, "v%d", cu_get(c, x->a));
		break;
	case KX_IDX:
		opnd(c, i, 'a', x->a, DT_I64, a, sizeof a);
		if (x->b)
			snprintf(b, sizeof b, "v%d", cu_get(c, x->b));
		cu_line(c, "const i64 v%d_w = %s < 0 ? %s + %lldLL : %s;", i, a, a, (long long)x->ext, a);
		break;
	case KX_RANDOM:
		opnd(c, i, 'a', x->a, DT_I64, a, sizeof a);
		opnd(c, i, 'b', x->b, DT_I64, b, sizeof b);
		break;
	case KX_UNARY:
		if (x->op == KU_BITCAST || cg_kx_pred(x))
			opnd(c, i, 'a', x->a, x->a->dtype, a, sizeof a);
		else
			opnd(c, i, 'a', x->a, t, a, sizeof a);
		break;
	case KX_BINARY:
		if (cg_kx_pred(x)) {
			opnd(c, i, 'a', x->a, x->a->dtype, a, sizeof a);
			opnd(c, i, 'b', x->b, x->a->dtype, b, sizeof b);
		} else {
			opnd(c, i, 'a', x->a, t, a, sizeof a);
			opnd(c, i, 'b', x->b, t, b, sizeof b);
		}
		break;
	case KX_SELECT:
		opnd(c, i, 'c', x->cond, DT_BOOL, cond, sizeof cond);
		opnd(c, i, 'a', x->a, t, a, sizeof a);
		opnd(c, i, 'b', x->b, t, b, sizeof b);
		break;
	default:
		break;
	}
	for (int t2 = 0; t2 < c->ind; t2++)
		fputc('\t', c->f);
	fprintf(c->f, "const %s v%d = ", T, i);
	switch (x->kind) {
	case KX_CONST:
		cconst(c, t, x->c);
		break;
	case KX_LOAD:
		if (cu_is_self(c, x)) /* the call's result, not yet in memory */
			cu_conv(c, c->self, c->kl->buf[x->buf].dtype, t);
		else
			load(c, x, x->a ? a : NULL);
		break;
	case KX_IDX: /* wrap once (v<i>_w); -1 when out of range, or when the rest is */
		fprintf(c->f, "(u64)v%d_w < (u64)%lldLL%s%s%s ? v%d_w * %lldLL%s%s : -1", i, (long long)x->ext,
		        *b ? " && " : "", b, *b ? " >= 0" : "", i, (long long)x->stride, *b ? " + " : "", b);
		break;
	case KX_VALID: {
		bool any = false;
		fputc('(', c->f);
		guards(c, x, &any);
		if (!any)
			fputs("true", c->f);
		fprintf(c->f, ") ? (%s)1 : (%s)0", T, T);
		break;
	}
	case KX_RANDOM:
		fprintf(c->f, "nn_philox((u64)%s, (u64)%s, %uu, (u64)", a, b, (unsigned)(uint32_t)x->c);
		cu_aff(c, &x->idx);
		fputc(')', c->f);
		break;
	case KX_UNARY:
		if (x->op == KU_BITCAST)
			fprintf(c->f, "nn_bitcast<%s, %s>(%s)", T, cu_type(x->a->dtype), a);
		else if (cg_kx_pred(x))
			unary_pred(c, x->op, a, x->a->dtype);
		else if (is_float(t))
			unary_float(c, x->op, a, t);
		else
			unary_int(c, x->op, a, t);
		break;
	case KX_BINARY:
		if (cg_kx_pred(x))
			binary_pred(c, x->op, a, b);
		else
			binary(c, x->op, a, b, t);
		break;
	case KX_SELECT:
		fprintf(c->f, "%s ? %s : %s", cond, a, b);
		break;
	case KX_REDUCE:
		break;
	}
	fputs(";\n", c->f);
	c->done[i] = true;
}
