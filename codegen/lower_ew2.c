/* lower_ew2.c — lowering of the ew family's pointwise ops (ir/ops.def
 * block "ew") at coordinates of their output: comparisons (a bool from two
 * operands of one dtype), logic on bool, where (KX_SELECT), float math,
 * isnan/isinf, max/min/mod/sign on floats and integers, bitwise ops and
 * shifts on integers. lower_ew.c's
 * lw_ew_at hands these ops here, so they fuse like every elementwise op:
 * a fused producer is inlined through lw_value_at. */
#include <string.h>

#include "lower.h"

/* Input k of node at the node's output coordinates, broadcast. */
static Kx *operand(Lower *L, int node, int k, const Aff *coord)
{
	Aff ic[IR_MAX_RANK];
	lw_bcast_coord(&lw_in(L, node, k)->shape, lw_out(L, node)->shape.rank, coord, ic);
	return lw_value_at(L, L->g->node[node].in[k], ic);
}

/* The Kx op of an ew op, and its class. */
typedef enum EwClass {
	EC_NONE,    /* not handled here */
	EC_COMPARE, /* binary, bool result */
	EC_LOGIC,   /* unary or binary on bool */
	EC_WHERE,   /* select */
	EC_FLOAT,   /* unary float math */
	EC_NUM,     /* unary or binary, floats and integers */
	EC_INT,     /* unary or binary, integers only */
	EC_CLASS,   /* isnan, isinf: bool from a float */
} EwClass;

static EwClass class_of(Op op, int *kop)
{
	switch (op) {
	case OP_EQUAL: *kop = KB_EQ; return EC_COMPARE;
	case OP_LESS: *kop = KB_LT; return EC_COMPARE;
	case OP_LESS_EQUAL: *kop = KB_LE; return EC_COMPARE;
	case OP_GREATER: *kop = KB_GT; return EC_COMPARE;
	case OP_GREATER_EQUAL: *kop = KB_GE; return EC_COMPARE;
	case OP_NOT: *kop = KU_NOT; return EC_LOGIC;
	case OP_AND: *kop = KB_AND; return EC_LOGIC;
	case OP_OR: *kop = KB_OR; return EC_LOGIC;
	case OP_XOR: *kop = KB_XOR; return EC_LOGIC;
	case OP_WHERE: *kop = 0; return EC_WHERE;
	case OP_SIN: *kop = KU_SIN; return EC_FLOAT;
	case OP_COS: *kop = KU_COS; return EC_FLOAT;
	case OP_TAN: *kop = KU_TAN; return EC_FLOAT;
	case OP_ASIN: *kop = KU_ASIN; return EC_FLOAT;
	case OP_ACOS: *kop = KU_ACOS; return EC_FLOAT;
	case OP_ATAN: *kop = KU_ATAN; return EC_FLOAT;
	case OP_SINH: *kop = KU_SINH; return EC_FLOAT;
	case OP_COSH: *kop = KU_COSH; return EC_FLOAT;
	case OP_ASINH: *kop = KU_ASINH; return EC_FLOAT;
	case OP_ACOSH: *kop = KU_ACOSH; return EC_FLOAT;
	case OP_ATANH: *kop = KU_ATANH; return EC_FLOAT;
	case OP_ERF: *kop = KU_ERF; return EC_FLOAT;
	case OP_FLOOR: *kop = KU_FLOOR; return EC_FLOAT;
	case OP_CEIL: *kop = KU_CEIL; return EC_FLOAT;
	case OP_ROUND: *kop = KU_ROUND; return EC_FLOAT;
	case OP_RECIPROCAL: *kop = KU_RECIP; return EC_FLOAT;
	case OP_SIGN: *kop = KU_SIGN; return EC_NUM;
	case OP_MAX: *kop = KB_MAX; return EC_NUM;
	case OP_MIN: *kop = KB_MIN; return EC_NUM;
	case OP_MOD: *kop = KB_MOD; return EC_NUM; /* KB_FMOD by attribute */
	case OP_BITWISE_NOT: *kop = KU_BITNOT; return EC_INT;
	case OP_BITWISE_AND: *kop = KB_AND; return EC_INT;
	case OP_BITWISE_OR: *kop = KB_OR; return EC_INT;
	case OP_BITWISE_XOR: *kop = KB_XOR; return EC_INT;
	case OP_BIT_SHIFT: *kop = KB_SHL; return EC_INT; /* KB_SHR by attribute */
	case OP_ISNAN: *kop = KU_ISNAN; return EC_CLASS;
	case OP_ISINF: *kop = KU_ISINF; return EC_CLASS;
	default: *kop = -1; return EC_NONE;
	}
}

bool lw_ew2_handles(Op op)
{
	int k;
	return class_of(op, &k) != EC_NONE;
}

/* Integer dtypes the backend computes with (not bool). */
static bool int_dtype(DType t)
{
	return t == DT_I8 || t == DT_U8 || t == DT_I32 || t == DT_I64;
}

/* Whether class ec lowers for input dtype t (the op's own checks aside). */
static bool dtype_ok(EwClass ec, DType t)
{
	switch (ec) {
	case EC_COMPARE: /* compared in their own type: f16/bf16 too */
		return lw_is_float(t) || t == DT_F16 || t == DT_BF16 || int_dtype(t) || t == DT_BOOL;
	case EC_WHERE:
		return lw_is_float(t) || t == DT_F16 || t == DT_BF16 || int_dtype(t) || t == DT_BOOL;
	case EC_LOGIC:
		return t == DT_BOOL;
	case EC_FLOAT:
		return lw_is_float(t);
	case EC_CLASS: /* exact in any float type */
		return lw_is_float(t) || t == DT_F16 || t == DT_BF16;
	case EC_NUM: /* sign, max, min and mod round once in f16 as in float64 */
		return lw_is_float(t) || t == DT_F16 || int_dtype(t);
	case EC_INT:
		return int_dtype(t);
	case EC_NONE:
		break;
	}
	return false;
}

/* A bool-valued node (cg_kx_pred) from x. */
static Kx *as_bool(Kx *x)
{
	if (x)
		x->dtype = DT_BOOL;
	return x;
}

Kx *lw_ew2_at(Lower *L, int node, const Aff *coord)
{
	const Node *n = &L->g->node[node];
	int kop;
	EwClass ec = class_of(n->op, &kop);
	DType t = lw_in(L, node, ec == EC_WHERE ? 1 : 0)->dtype;
	if (!dtype_ok(ec, t) || (n->op == OP_BIT_SHIFT && t != DT_U8)) {
		lw_unsupported(L, node, t);
		return NULL;
	}
	if (n->op == OP_MOD && ir_attr_int(n, "fmod", 0))
		kop = KB_FMOD;
	if (n->op == OP_BIT_SHIFT) {
		const Attr *dir = ir_attr(n, "direction");
		bool left = dir && dir->kind == AT_STRING && strcmp(dir->s, "left") == 0;
		if (!dir || dir->kind != AT_STRING || (!left && strcmp(dir->s, "right") != 0)) {
			lw_err(L, node, "direction must be \"left\" or \"right\"");
			return NULL;
		}
		kop = left ? KB_SHL : KB_SHR;
	}
	if (n->op == OP_ISINF) {
		bool neg = ir_attr_int(n, "detect_negative", 1) != 0, pos = ir_attr_int(n, "detect_positive", 1) != 0;
		if (!neg && !pos)
			return kx_const(L, DT_BOOL, 0);
		kop = neg && pos ? KU_ISINF : neg ? KU_ISNEGINF : KU_ISPOSINF;
	}
	Kx *a = operand(L, node, 0, coord);
	Kx *b = a && n->nin > 1 ? operand(L, node, 1, coord) : NULL;
	if (!a || (n->nin > 1 && !b))
		return NULL;
	switch (ec) {
	case EC_COMPARE:
		return as_bool(kx_bin(L, (KbOp)kop, a, b));
	case EC_LOGIC:
		return n->nin == 1 ? as_bool(kx_un(L, (KuOp)kop, a)) : kx_bin(L, (KbOp)kop, a, b);
	case EC_WHERE: {
		Kx *c = operand(L, node, 2, coord);
		return c ? kx_sel(L, a, b, c) : NULL;
	}
	case EC_CLASS:
		return as_bool(kx_un(L, (KuOp)kop, a));
	case EC_FLOAT: case EC_NUM: case EC_INT:
		return n->nin == 1 ? kx_un(L, (KuOp)kop, a) : kx_bin(L, (KbOp)kop, a, b);
	case EC_NONE:
		break;
	}
	lw_unsupported(L, node, t);
	return NULL;
}
