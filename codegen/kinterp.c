/* kinterp.c — interprets a KernelList (see kinterp.h): the oracle that
 * checks lowering and the memory plan without LLVM.
 *
 * Loop kernels run their iteration space in row-major order and evaluate
 * the expression tree in double precision; integer-typed expression nodes
 * truncate toward zero and wrap to their dtype after each op, as integer
 * code does (add, sub and mul of up to 32-bit integers exactly in int64;
 * 64-bit integers beyond 2^53 are out of reach of double), an integer
 * division or remainder by zero gives its dividend (cpu/llvm_expr.c), and
 * bool-valued nodes (comparisons, not, isnan) give 0 or 1. Stores and
 * loads convert to and from the buffer's dtype. Shared (DAG) nodes are
 * simply evaluated again, except KX_REDUCE: a reduction depends only on the
 * output point, so its value is remembered per output point, and one nested
 * in another's body (softmax's max inside its sum) saves and restores the
 * reduction vars it walks. KK_MATMUL and KK_CONV2D run naively, then their
 * epilogue, if any, in place over the output. Every index is checked
 * against its buffer, so a lowering bug is reported rather than read out
 * of bounds. */
#include "kinterp.h"
#include "../runtime/abi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { RED_MEMO = 32 }; /* reductions remembered per output point */

typedef struct Interp {
	const KernelList *kl; /* program */
	unsigned char **ptr;  /* base address of each buffer */
	int64_t var[KV_MAX];  /* current values of the loop vars */
	const Kernel *k;      /* kernel running */
	int ki;               /* its index, for messages */
	Diag *d;              /* error sink */
	bool bad;             /* an index fell outside its buffer */
	const Kx *red[RED_MEMO]; /* reductions evaluated at the current output point */
	double redv[RED_MEMO];   /* their values */
	int nred;                /* entries used; reset per output point */
} Interp;

/* --- element conversion ------------------------------------------------------ */

static double get(DType t, const unsigned char *base, int64_t i)
{
	return ir_elem_get(t, base + (size_t)i * ir_dtype_size(t));
}

static void put(DType t, unsigned char *base, int64_t i, double v)
{
	ir_elem_put(t, base + (size_t)i * ir_dtype_size(t), v);
}

/* --- checked buffer access --------------------------------------------------- */

static bool inbounds(Interp *in, int b, int64_t i)
{
	if (b >= 0 && b < in->kl->nbuf && i >= 0 && i < in->kl->buf[b].numel)
		return true;
	if (!in->bad)
		diag(in->d, "kernel %d \"%s\": index %lld outside buffer %d", in->ki, in->k->name,
		     (long long)i, b);
	in->bad = true;
	return false;
}

static double load(Interp *in, int b, int64_t i)
{
	if (!inbounds(in, b, i))
		return 0;
	return get(in->kl->buf[b].dtype, in->ptr[b], i);
}

static bool int_like(DType t)
{
	return ir_dtype_is_int(t);
}

/* A value loaded from a buffer of dtype `from` as the expression's dtype
 * `to`, converted as the backend's loads do: integer to integer wraps,
 * anything else goes through an element of `to` (floats round, float to
 * integer truncates and saturates). */
static double wrap_bits(uint64_t u, DType to);

static double convert(double v, DType from, DType to)
{
	if (from == to)
		return v;
	if (int_like(from) && int_like(to))
		return wrap_bits((uint64_t)(int64_t)v, to);
	if (ir_dtype_is_small_float(to)) /* as Cast: infinity saturates too */
		return ir_small_dec(to, ir_small_enc(to, v, true));
	unsigned char tmp[8];
	ir_elem_put(to, tmp, v);
	return ir_elem_get(to, tmp);
}

/* The integer of dtype `to` whose two's-complement bits are u's low bits. */
static double wrap_bits(uint64_t u, DType to)
{
	switch (to) {
	case DT_I8: return (int8_t)(uint8_t)u;
	case DT_U8: return (uint8_t)u;
	case DT_I16: return (int16_t)(uint16_t)u;
	case DT_U16: return (uint16_t)u;
	case DT_I32: return (int32_t)(uint32_t)u;
	case DT_U32: return (uint32_t)u;
	case DT_U64: return (double)u;
	default: return (double)(int64_t)u;
	}
}

static void store(Interp *in, int b, int64_t i, double v)
{
	if (!inbounds(in, b, i))
		return;
	BufKind kind = in->kl->buf[b].kind;
	if (kind == BUF_INPUT || kind == BUF_PARAM) {
		if (!in->bad)
			diag(in->d, "kernel %d \"%s\": writes read-only buffer %d", in->ki, in->k->name, b);
		in->bad = true;
		return;
	}
	put(in->kl->buf[b].dtype, in->ptr[b], i, v);
}

/* --- loop kernels -------------------------------------------------------------- */

static int64_t aff(const Interp *in, const Aff *a)
{
	int64_t r = a->c;
	for (int v = 0; v < in->k->nvar; v++)
		r += a->k[v] * in->var[v];
	return r;
}

static bool guards_hold(const Interp *in, const Kx *x)
{
	for (int i = 0; i < x->nguard; i++) {
		int64_t e = aff(in, &x->guard[i].e);
		if (e < x->guard[i].lo || e >= x->guard[i].hi)
			return false;
	}
	return true;
}

/* Advances vars lo..hi-1 as a row-major counter; false after the last. */
static bool next(Interp *in, int lo, int hi)
{
	for (int v = hi - 1; v >= lo; v--) {
		if (++in->var[v] < in->k->extent[v])
			return true;
		in->var[v] = 0;
	}
	return false;
}

/* True when vars lo..hi-1 span an empty space. */
static bool empty(const Interp *in, int lo, int hi)
{
	for (int v = lo; v < hi; v++)
		if (in->k->extent[v] <= 0)
			return true;
	return false;
}

static double nanmax(double a, double b) { return isnan(a) || isnan(b) ? NAN : a > b ? a : b; }
static double nanmin(double a, double b) { return isnan(a) || isnan(b) ? NAN : a < b ? a : b; }

/* ~a in integer dtype t (bool: 0/1 flips). */
static double bitnot(double a, DType t)
{
	return t == DT_BOOL ? a == 0 : convert((double)~(int64_t)a, DT_I64, t);
}

/* Remainder as the backend computes it (x mod 0 gives x); py: the
 * divisor's sign (Python's %), else the dividend's (C's fmod). */
static double rem(double a, double b, bool py, DType t)
{
	if (!ir_dtype_is_float(t) && b == 0)
		return a;
	double r = fmod(a, b);
	if (py && r != 0 && (r < 0) != (b < 0))
		r += b;
	return r;
}

/* Logical shift of an unsigned integer of dtype t; counts >= the width
 * give 0. */
static double shift(double a, double b, bool left, DType t)
{
	int bits = (int)ir_dtype_size(t) * 8;
	if (b < 0 || b >= bits)
		return 0;
	uint64_t u = (uint64_t)a, mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
	return (double)((left ? u << (int)b : u >> (int)b) & mask);
}

static double reduce_init(int op)
{
	switch ((KrOp)op) {
	case KR_SUM: case KR_ARGMAX: case KR_ARGMIN: return 0;
	case KR_PROD: return 1;
	case KR_MAX: return -INFINITY;
	case KR_MIN: return INFINITY;
	}
	return 0;
}

static double reduce_step(int op, double r, double a)
{
	switch ((KrOp)op) {
	case KR_SUM: return r + a;
	case KR_PROD: return r * a;
	case KR_MAX: return nanmax(r, a);
	case KR_MIN: return nanmin(r, a);
	default: return r; /* arg reductions: handled by the caller */
	}
}

static double eval(Interp *in, const Kx *x)
{
	double a, b, r = 0;
	switch (x->kind) {
	case KX_CONST:
		return x->c;
	case KX_LOAD: {
		int64_t dyn = x->a ? (int64_t)eval(in, x->a) : 0;
		return dyn >= 0 && guards_hold(in, x)
			   ? convert(load(in, x->buf, aff(in, &x->idx) + dyn), in->kl->buf[x->buf].dtype, x->dtype)
			   : x->fill;
	}
	case KX_IDX: {
		double v = trunc(eval(in, x->a)), rest = x->b ? eval(in, x->b) : 0;
		if (v < 0)
			v += (double)x->ext;
		if (rest < 0 || !(v >= 0 && v < (double)x->ext))
			return -1;
		return v * (double)x->stride + rest;
	}
	case KX_VALID:
		return guards_hold(in, x);
	case KX_RANDOM: /* seed and step exact up to 2^53 here (values are doubles) */
		return ir_random_uniform((uint64_t)(int64_t)eval(in, x->a), (uint64_t)(int64_t)eval(in, x->b),
		                         (uint32_t)x->c, (uint64_t)aff(in, &x->idx));
	case KX_UNARY:
		a = eval(in, x->a);
		switch ((KuOp)x->op) {
		case KU_NEG: r = -a; break;
		case KU_ABS: r = fabs(a); break;
		case KU_EXP: r = exp(a); break;
		case KU_LOG: r = log(a); break;
		case KU_SQRT: r = sqrt(a); break;
		case KU_RELU: r = a < 0 ? 0 : a; break;
		case KU_SIGMOID: r = a >= 0 ? 1 / (1 + exp(-a)) : exp(a) / (1 + exp(a)); break;
		case KU_TANH: r = tanh(a); break;
		case KU_NOT: r = a == 0; break;
		case KU_BITNOT: r = bitnot(a, x->dtype); break;
		case KU_SIN: r = sin(a); break;
		case KU_COS: r = cos(a); break;
		case KU_TAN: r = tan(a); break;
		case KU_ASIN: r = asin(a); break;
		case KU_ACOS: r = acos(a); break;
		case KU_ATAN: r = atan(a); break;
		case KU_SINH: r = sinh(a); break;
		case KU_COSH: r = cosh(a); break;
		case KU_ASINH: r = asinh(a); break;
		case KU_ACOSH: r = acosh(a); break;
		case KU_ATANH: r = atanh(a); break;
		case KU_ERF: r = erf(a); break;
		case KU_FLOOR: r = floor(a); break;
		case KU_CEIL: r = ceil(a); break;
		case KU_ROUND: r = nearbyint(a); break; /* the default mode: ties to even */
		case KU_SIGN: r = a > 0 ? 1 : a < 0 ? -1 : a; break;
		case KU_RECIP: r = 1 / a; break;
		case KU_ISNAN: r = isnan(a); break;
		case KU_ISINF: r = isinf(a) != 0; break; /* glibc's isinf gives -1 for -inf */
		case KU_ISPOSINF: r = a == INFINITY; break;
		case KU_ISNEGINF: r = a == -INFINITY; break;
		case KU_BITCAST: { /* exact up to 4 bytes; 8-byte integers go through double */
			unsigned char tmp[8];
			ir_elem_put(x->a->dtype, tmp, a);
			return ir_elem_get(x->dtype, tmp);
		}
		}
		break;
	case KX_BINARY:
		a = eval(in, x->a);
		b = eval(in, x->b);
		if (int_like(x->dtype) && ir_dtype_size(x->dtype) <= 4 &&
		    (x->op == KB_ADD || x->op == KB_SUB || x->op == KB_MUL)) {
			/* exact in int64, where double would round a 32-bit product */
			uint64_t ua = (uint64_t)(int64_t)a, ub = (uint64_t)(int64_t)b;
			uint64_t ur = x->op == KB_ADD ? ua + ub : x->op == KB_SUB ? ua - ub : ua * ub;
			return wrap_bits(ur, x->dtype);
		}
		switch ((KbOp)x->op) {
		case KB_ADD: r = a + b; break;
		case KB_SUB: r = a - b; break;
		case KB_MUL: r = a * b; break;
		case KB_DIV: /* integers: x / 0 gives x, as the backend's division that never traps */
			r = b == 0 && !ir_dtype_is_float(x->dtype) ? a : a / b;
			break;
		case KB_MAX: r = nanmax(a, b); break;
		case KB_MIN: r = nanmin(a, b); break;
		case KB_POW: r = pow(a, b); break;
		case KB_EQ: r = a == b; break;
		case KB_LT: r = a < b; break;
		case KB_LE: r = a <= b; break;
		case KB_GT: r = a > b; break;
		case KB_GE: r = a >= b; break;
		case KB_AND: r = (double)((int64_t)a & (int64_t)b); break;
		case KB_OR: r = (double)((int64_t)a | (int64_t)b); break;
		case KB_XOR: r = (double)((int64_t)a ^ (int64_t)b); break;
		case KB_MOD: case KB_FMOD: r = rem(a, b, x->op == KB_MOD, x->dtype); break;
		case KB_SHL: case KB_SHR: r = shift(a, b, x->op == KB_SHL, x->dtype); break;
		}
		break;
	case KX_SELECT:
		return eval(in, x->cond) != 0 ? eval(in, x->a) : eval(in, x->b);
	case KX_REDUCE: {
		const Kernel *k = in->k;
		for (int i = 0; i < in->nred; i++)
			if (in->red[i] == x)
				return in->redv[i];
		int64_t saved[KV_MAX];
		memcpy(saved, in->var, sizeof saved);
		r = reduce_init(x->op);
		for (int v = k->nout_var; v < k->nvar; v++)
			in->var[v] = 0;
		double best = x->op == KR_ARGMAX ? -INFINITY : INFINITY; /* arg reductions */
		int64_t pos = 0;                                       /* their row-major position */
		if (!empty(in, k->nout_var, k->nvar)) {
			do {
				a = eval(in, x->a);
				if (x->op == KR_ARGMAX || x->op == KR_ARGMIN) {
					bool nan = isnan(a) && !isnan(best);
					if (nan || (x->op == KR_ARGMAX ? a > best : a < best)) {
						best = a;
						r = x->b ? eval(in, x->b) : (double)pos;
					}
					pos++;
				} else {
					r = reduce_step(x->op, r, a);
				}
			} while (next(in, k->nout_var, k->nvar));
		}
		memcpy(in->var, saved, sizeof saved);
		if (!ir_dtype_is_float(x->dtype) && isfinite(r))
			r = trunc(r);
		if (int_like(x->dtype) && fabs(r) < 0x1p63) /* integer code wraps */
			r = convert(r, DT_I64, x->dtype);
		if (in->nred < RED_MEMO) {
			in->red[in->nred] = x;
			in->redv[in->nred++] = r;
		}
		return r;
	}
	}
	if (!ir_dtype_is_float(x->dtype) && isfinite(r))
		r = trunc(r);
	if (int_like(x->dtype) && fabs(r) < 0x1p63) /* integer code wraps */
		r = convert(r, DT_I64, x->dtype);
	return r;
}

/* A loop kernel, or a call's epilogue: body stored at out_idx for every
 * output point (in place for an epilogue: each point reads only its own
 * element of out). */
static void run_loop(Interp *in)
{
	const Kernel *k = in->k;
	memset(in->var, 0, sizeof in->var);
	if (!k->body || empty(in, 0, k->nout_var))
		return;
	do {
		in->nred = 0;
		int64_t dyn = k->out_dyn ? (int64_t)eval(in, k->out_dyn) : 0;
		if (dyn >= 0)
			store(in, k->out, aff(in, &k->out_idx) + dyn, eval(in, k->body));
	} while (!in->bad && next(in, 0, k->nout_var));
}

/* --- library kernels ---------------------------------------------------------- */

static void run_matmul(Interp *in)
{
	const Kernel *k = in->k;
	int64_t bi[4] = { 0 }, m = k->mm.m, n = k->mm.n, kk = k->mm.k;
	for (;;) {
		int64_t oa = 0, ob = 0, oc = 0;
		for (int j = 0; j < k->mm.nbatch; j++) {
			oa += bi[j] * k->mm.sa[j];
			ob += bi[j] * k->mm.sb[j];
			oc += bi[j] * k->mm.sc[j];
		}
		for (int64_t i = 0; i < m; i++) {
			for (int64_t j = 0; j < n && !in->bad; j++) {
				double s = 0;
				for (int64_t p = 0; p < kk; p++) {
					int64_t ia = oa + (k->mm.trans_a ? p * m + i : i * kk + p);
					int64_t ib = ob + (k->mm.trans_b ? j * kk + p : p * n + j);
					s += load(in, k->mm.a, ia) * load(in, k->mm.b, ib);
				}
				store(in, k->mm.c, oc + i * n + j, s);
			}
		}
		int j = k->mm.nbatch - 1;
		for (; j >= 0; j--) {
			if (++bi[j] < k->mm.bext[j])
				break;
			bi[j] = 0;
		}
		if (j < 0 || in->bad)
			return;
	}
}

static void run_conv(Interp *in)
{
	const Kernel *k = in->k;
	int64_t cg = k->conv.c / k->conv.group, kg = k->conv.k / k->conv.group;
	int64_t h = k->conv.h, w = k->conv.w, kh = k->conv.kh, kw = k->conv.kw;
	for (int64_t n = 0; n < k->conv.n; n++)
	for (int64_t o = 0; o < k->conv.k; o++)
	for (int64_t oy = 0; oy < k->conv.oh; oy++)
	for (int64_t ox = 0; ox < k->conv.ow && !in->bad; ox++) {
		double s = k->conv.bias >= 0 ? load(in, k->conv.bias, o) : 0;
		int64_t g = o / kg;
		for (int64_t c = 0; c < cg; c++)
		for (int64_t i = 0; i < kh; i++)
		for (int64_t j = 0; j < kw; j++) {
			int64_t y = oy * k->conv.sh + i * k->conv.dh - k->conv.ph;
			int64_t x = ox * k->conv.sw + j * k->conv.dw - k->conv.pw;
			if (y < 0 || y >= h || x < 0 || x >= w)
				continue;
			/* NNCC_CONV_SWAP_* (group 1): planes [c][n], [c][k], [k][n]; taps reversed */
			int sw = k->conv.swap;
			int64_t xp = sw & NNCC_CONV_SWAP_X ? c * k->conv.n + n : n * k->conv.c + g * cg + c;
			int64_t wp = sw & NNCC_CONV_SWAP_W ? c * k->conv.k + o : o * cg + c;
			int64_t tap = sw & NNCC_CONV_FLIP_W ? kh * kw - 1 - (i * kw + j) : i * kw + j;
			int64_t xi = (xp * h + y) * w + x;
			int64_t wi = wp * kh * kw + tap;
			s += load(in, k->conv.x, xi) * load(in, k->conv.wt, wi);
		}
		int64_t yp = k->conv.swap & NNCC_CONV_SWAP_Y ? o * k->conv.n + n : n * k->conv.k + o;
		store(in, k->conv.y, (yp * k->conv.oh + oy) * k->conv.ow + ox, s);
	}
}

/* The general convolution (conv.nd): 3-D, forward or transposed. */
static void run_conv_nd(Interp *in)
{
	const Kernel *k = in->k;
	int64_t cg = k->conv.c / k->conv.group, kg = k->conv.k / k->conv.group;
	int64_t iv[3] = {k->conv.d, k->conv.h, k->conv.w}, ov[3] = {k->conv.od, k->conv.oh, k->conv.ow};
	int64_t kv[3] = {k->conv.kd, k->conv.kh, k->conv.kw}, st[3] = {k->conv.sd, k->conv.sh, k->conv.sw};
	int64_t pb[3] = {k->conv.pd, k->conv.ph, k->conv.pw}, dl[3] = {k->conv.dd, k->conv.dh, k->conv.dw};
	int64_t ivol = iv[0] * iv[1] * iv[2], ovol = ov[0] * ov[1] * ov[2], kvol = kv[0] * kv[1] * kv[2];
	for (int64_t n = 0; n < k->conv.n; n++)
	for (int64_t o = 0; o < k->conv.k; o++)
	for (int64_t op = 0; op < ovol && !in->bad; op++) {
		int64_t oi[3] = {op / (ov[1] * ov[2]), op / ov[2] % ov[1], op % ov[2]};
		double s = k->conv.bias >= 0 ? load(in, k->conv.bias, o) : 0;
		int64_t g = o / kg, ko = o % kg;
		for (int64_t c = 0; c < cg; c++)
		for (int64_t j = 0; j < kvol; j++) {
			int64_t ji[3] = {j / (kv[1] * kv[2]), j / kv[2] % kv[1], j % kv[2]}, ii[3];
			bool ok = true;
			for (int a = 0; a < 3; a++) {
				if (!k->conv.transpose) {
					ii[a] = oi[a] * st[a] - pb[a] + ji[a] * dl[a];
				} else { /* oi = ii*st - pb + ji*dl */
					int64_t t = oi[a] + pb[a] - ji[a] * dl[a];
					ok = ok && t >= 0 && t % st[a] == 0;
					ii[a] = t / st[a];
				}
				ok = ok && ii[a] >= 0 && ii[a] < iv[a];
			}
			if (!ok)
				continue;
			int64_t xi = (n * k->conv.c + g * cg + c) * ivol + (ii[0] * iv[1] + ii[1]) * iv[2] + ii[2];
			int64_t wi = k->conv.transpose ? ((g * cg + c) * kg + ko) * kvol + j : (o * cg + c) * kvol + j;
			s += load(in, k->conv.x, xi) * load(in, k->conv.wt, wi);
		}
		store(in, k->conv.y, (n * k->conv.k + o) * ovol + op, s);
	}
}

/* --- driver ---------------------------------------------------------------------- */

/* Points every buffer at its memory; allocates the outputs. */
static int bind(Interp *in, const Tensor *inputs, Tensor *outputs, unsigned char *arena)
{
	const KernelList *kl = in->kl;
	const Graph *g = kl->g;
	for (int b = 0; b < kl->nbuf; b++) {
		const Buf *bf = &kl->buf[b];
		switch (bf->kind) {
		case BUF_INPUT: {
			const Tensor *t = &inputs[bf->index];
			if (t->dtype != bf->dtype || ir_shape_numel(&t->shape) != bf->numel || !t->data)
				return diag(in->d, "input %d: expected %s with %lld elements", bf->index,
					    ir_dtype_name(bf->dtype), (long long)bf->numel);
			in->ptr[b] = t->data;
			break;
		}
		case BUF_STATE: /* a private copy of the initial value: the step's writes stay here */
		case BUF_PARAM: {
			const Value *v = &g->val[kl->param_value[bf->index]];
			if (!v->data || (int64_t)v->nbytes < bf->nbytes)
				return diag(in->d, "param %d \"%s\": no data", bf->index, v->name);
			in->ptr[b] = v->data;
			if (bf->kind == BUF_STATE) {
				in->ptr[b] = xmalloc((size_t)bf->nbytes + 1);
				memcpy(in->ptr[b], v->data, (size_t)bf->nbytes);
			}
			break;
		}
		case BUF_OUTPUT: {
			Tensor *t = &outputs[bf->index];
			t->dtype = bf->dtype;
			t->shape = g->val[g->output[bf->index]].shape;
			t->data = xcalloc((size_t)bf->nbytes + 1, 1);
			in->ptr[b] = t->data;
			break;
		}
		case BUF_TEMP:
			if (bf->alias >= 0)
				break; /* bound below, once its parent is */
			if (bf->offset < 0 || bf->offset % 8 || bf->offset + bf->nbytes > kl->arena_bytes)
				return diag(in->d, "temp buffer %d at %lld+%lld is outside the arena (%lld bytes); "
					    "was cg_plan run?", b, (long long)bf->offset, (long long)bf->nbytes,
					    (long long)kl->arena_bytes);
			in->ptr[b] = arena + bf->offset;
			break;
		}
	}
	for (int b = 0; b < kl->nbuf; b++) {
		const Buf *bf = &kl->buf[b];
		int p = bf->alias;
		if (p < 0)
			continue;
		if (p >= kl->nbuf || kl->buf[p].alias >= 0 || !in->ptr[p] || bf->alias_offset < 0 ||
		    bf->alias_offset > kl->buf[p].nbytes - bf->nbytes)
			return diag(in->d, "temp buffer %d: alias +%lld+%lld does not lie inside buffer %d", b,
				    (long long)bf->alias_offset, (long long)bf->nbytes, p);
		in->ptr[b] = in->ptr[p] + bf->alias_offset;
	}
	return 0;
}

int cg_interp(const KernelList *kl, const Tensor *inputs, Tensor *outputs, Diag *d)
{
	const Graph *g = kl->g;
	Interp in = { .kl = kl, .d = d };
	in.ptr = xcalloc((size_t)kl->nbuf + 1, sizeof *in.ptr);
	unsigned char *arena = xcalloc((size_t)kl->arena_bytes + 8, 1);
	for (int i = 0; i < g->noutput; i++)
		outputs[i].data = NULL;
	int rc = bind(&in, inputs, outputs, arena);
	for (int i = 0; i < kl->nk && rc == 0; i++) {
		in.k = &kl->k[i];
		in.ki = i;
		switch (in.k->kind) {
		case KK_LOOP: run_loop(&in); break;
		case KK_MATMUL: run_matmul(&in); break;
		case KK_CONV2D: if (in.k->conv.nd) run_conv_nd(&in); else run_conv(&in); break;
		}
		if (in.k->kind != KK_LOOP && in.k->body && !in.bad)
			run_loop(&in); /* epilogue */
		if (in.bad)
			rc = -1;
	}
	for (int b = 0; b < kl->nbuf; b++)
		if (kl->buf[b].kind == BUF_STATE)
			free(in.ptr[b]);
	free(in.ptr);
	free(arena);
	if (rc < 0)
		for (int i = 0; i < g->noutput; i++)
			ir_tensor_free(&outputs[i]);
	return rc;
}
