/* lower_ew2.c — lowering of the ew family's pointwise ops (ir/ops.def
 * block "ew") at coordinates of their output: comparisons (a bool from two
 * operands of one dtype), logic on bool, where (KX_SELECT). lower_ew.c's
 * lw_ew_at hands these ops here, so they fuse like every elementwise op:
 * a fused producer is inlined through lw_value_at. */
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
	default: *kop = -1; return EC_NONE;
	}
}

bool lw_ew2_handles(Op op)
{
	int k;
	return class_of(op, &k) != EC_NONE;
}

/* Element types the backend computes with directly. */
static bool cmp_dtype(DType t)
{
	return t == DT_F32 || t == DT_F64 || t == DT_F16 || t == DT_BF16 || t == DT_I8 || t == DT_U8 ||
	       t == DT_I32 || t == DT_I64 || t == DT_BOOL;
}

Kx *lw_ew2_at(Lower *L, int node, const Aff *coord)
{
	const Node *n = &L->g->node[node];
	int kop;
	EwClass ec = class_of(n->op, &kop);
	DType t = lw_in(L, node, ec == EC_WHERE ? 1 : 0)->dtype;
	if (!cmp_dtype(t)) {
		lw_unsupported(L, node, t);
		return NULL;
	}
	Kx *a = operand(L, node, 0, coord);
	Kx *b = a && n->nin > 1 ? operand(L, node, 1, coord) : NULL;
	if (!a || (n->nin > 1 && !b))
		return NULL;
	switch (ec) {
	case EC_COMPARE: {
		Kx *x = kx_bin(L, (KbOp)kop, a, b);
		x->dtype = DT_BOOL;
		return x;
	}
	case EC_LOGIC:
		if (n->nin == 1) {
			Kx *x = kx_un(L, (KuOp)kop, a);
			x->dtype = DT_BOOL;
			return x;
		}
		return kx_bin(L, (KbOp)kop, a, b);
	case EC_WHERE: {
		Kx *c = operand(L, node, 2, coord);
		return c ? kx_sel(L, a, b, c) : NULL;
	}
	case EC_NONE:
		break;
	}
	lw_unsupported(L, node, t);
	return NULL;
}
