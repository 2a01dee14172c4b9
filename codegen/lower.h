/* lower.h — private header of the lowering files (lower*.c): the lowering
 * context, expression builders and the per-op lowering functions.
 * lower.c owns buffers and dispatch; lower_fuse.c values at coordinates
 * (inlining fused producers) and fusion groups; lower_ew.c elementwise and
 * data movement; lower_nn.c matmul, conv and pooling; lower_red.c
 * reductions, softmax and batchnorm; lower_conv.c 3-D and transposed
 * convolutions. Nothing outside codegen/ includes this file. */
#ifndef NNCC_LOWER_H
#define NNCC_LOWER_H

#include "codegen.h"

typedef struct Memo Memo;

typedef struct Lower {
	const Graph *g; /* graph being lowered */
	KernelList *kl; /* list being filled */
	Diag *d;        /* error sink */
	int *vbuf;      /* buffer holding each value, -1 if none */
	int capk;       /* allocated entries of kl->k */
	int capbuf;     /* allocated entries of kl->buf */
	int capparam;   /* allocated entries of kl->param_value */
	bool ovf;       /* an index computation overflowed (checked per node) */
	bool manyvar;   /* a kernel wanted more than KV_MAX vars (checked per node) */
	const bool *nlive; /* nodes that reach an output */
	/* the kernel being built (lower_fuse.c) */
	int group;      /* fusion group being lowered (Node.group), 0: one node alone */
	int call;       /* the group's library-call node, -1 if none */
	int callbuf;    /* buffer the call writes and its epilogue updates in place */
	Memo *memo;     /* values already built at given coordinates (DAG sharing) */
	int nmemo, capmemo;
	int scope;      /* reduce body being built, 0 outside; entries made inside stay private to it */
	int nscope;     /* scopes handed out */
	/* layout copies folded into convolutions (lower_swap.c), per node */
	int *swap;      /* a conv's NNCC_CONV_SWAP_* flags */
	bool *absorbed; /* a transpose a conv reads or writes through: lowers as a view */
} Lower;

/* lower_swap.c: decides Lower.swap and Lower.absorbed before any node lowers
 * (after the graph's own buffers are assigned) */
int lw_plan_swaps(Lower *L);

/* lower.c: diagnostics, buffers, kernels, affine helpers, Kx builders */
int lw_err(Lower *L, int node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int lw_unsupported(Lower *L, int node, DType t); /* "cannot lower OP for DTYPE" */
int lw_temp(Lower *L, DType t, int64_t numel, int value); /* new BUF_TEMP, -1 on overflow */
const Value *lw_in(Lower *L, int node, int k);  /* k-th input value */
const Value *lw_out(Lower *L, int node);        /* the (only) output value */
int lw_inbuf(Lower *L, int node, int k);        /* buffer of the k-th input */
int lw_outbuf(Lower *L, int node);              /* buffer of the output */
Kernel *lw_kernel(Lower *L, int node, KernelKind kind); /* appended; valid until the next call */
/* KK_LOOP whose output vars walk s and whose store is contiguous in s. */
Kernel *lw_loop(Lower *L, int node, const Shape *s, int out);
int lw_addvar(Lower *L, Kernel *k, int64_t extent); /* reduction var index, or 0 with L->manyvar */
int64_t lw_mul(Lower *L, int64_t a, int64_t b);  /* sets L->ovf on overflow */
int64_t lw_add(Lower *L, int64_t a, int64_t b);
void lw_strides(const Shape *s, int64_t *st);    /* contiguous element strides */
Aff lw_contig(const Shape *s, int var0);         /* row-major index over vars var0.. */
int lw_norm_axis(Lower *L, int node, int64_t axis, int rank, int *res); /* -r..r-1 -> 0..r-1 */
bool lw_is_float(DType t);                       /* f32 or f64 */
bool lw_is_arith(DType t);                       /* f32, f64, any integer */

Kx *kx_const(Lower *L, DType t, double c);
Kx *kx_load(Lower *L, DType t, int buf, Aff idx);
void kx_guard(Lower *L, Kx *x, Aff e, int64_t lo, int64_t hi); /* adds lo <= e < hi */
Kx *kx_valid(Lower *L, DType t);
Kx *kx_un(Lower *L, KuOp op, Kx *a);
Kx *kx_bin(Lower *L, KbOp op, Kx *a, Kx *b);
Kx *kx_red(Lower *L, KrOp op, Kx *a);

/* lower_fuse.c: values at coordinates. A coordinate list has one Aff per
 * dim of the value (an affine function of the kernel's vars). */
void lw_out_coord(int rank, Aff *coord);      /* coord[i] = var i */
/* Coordinates into `in` broadcast (numpy, right-aligned) to rank_out dims:
 * extent-1 dims of `in` read coordinate 0. */
void lw_bcast_coord(const Shape *in, int rank_out, const Aff *coord, Aff *in_coord);
Aff lw_linear(Lower *L, const Shape *s, const Aff *coord); /* row-major element index */
bool lw_inlined(Lower *L, int v);             /* v is computed inside the kernel being built */
/* Value v at coord: a load from its buffer, or, when a node of the group
 * being lowered computes it, that node's expression (recursively). The
 * same value at the same coordinates is one shared Kx node. NULL with a
 * message on error. */
Kx *lw_value_at(Lower *L, int v, const Aff *coord);
void lw_memo_reset(Lower *L);                 /* starts a kernel: nothing shared yet */
int lw_scope_begin(Lower *L);                 /* enters a reduce body; returns the scope to restore */
void lw_scope_end(Lower *L, int prev);
/* Checks every Node.group among the live nodes can be lowered as one
 * kernel; *root (malloc'd, NULL when there are no groups) gets each group's
 * root, its last live member. */
int lw_check_groups(Lower *L, int **root);
int lw_group_members(Lower *L, int root, int **mem); /* live members in order (arena); count */
int lw_group_call(Lower *L, int root);       /* the group's library-call node, or -1 */
/* Lowers a group holding library call `call`: the call, writing root's
 * buffer, with root's expression as its epilogue. */
int lw_call_group(Lower *L, int root, int call);
void lw_free_fuse(Lower *L);

/* Pointwise nodes at coordinates of their output (for inlining). */
Kx *lw_ew_at(Lower *L, int node, const Aff *coord);   /* lower_ew.c */
Kx *lw_bn_at(Lower *L, int node, const Aff *coord);   /* lower_red.c */
/* An inlined reduction at coordinates of its output: a KX_REDUCE over the
 * reduction vars of the kernel being built (added by the first). */
Kx *lw_red_at(Lower *L, int node, const Aff *coord);  /* lower_red.c */

/* Per-op lowering: each writes node's output buffer; 0 or -1 with a message. */
int lw_pointwise(Lower *L, int node, Kx *(*at)(Lower *L, int node, const Aff *coord)); /* lower_ew.c */
int lw_elemwise(Lower *L, int node);
int lw_pad(Lower *L, int node);
Kx *lw_pad_at(Lower *L, int node, const Aff *coord); /* inlined into a reader */
int lw_transpose(Lower *L, int node);
/* A transpose's perm (its attribute, or the reversed axes) into perm[],
 * checked to be a permutation; 0, or -1 with lw_err. */
int lw_transpose_perm(Lower *L, int node, int64_t *perm);
int lw_concat(Lower *L, int node);
int lw_copy(Lower *L, int node, int src, int dst, const Value *v);
int lw_matmul(Lower *L, int node);    /* lower_nn.c */
int lw_conv(Lower *L, int node);
int lw_pool(Lower *L, int node);
int lw_reduce(Lower *L, int node);    /* lower_red.c */
int lw_softmax(Lower *L, int node);
int lw_batchnorm(Lower *L, int node);
int lw_gather(Lower *L, int node);    /* lower_extra.c: constant, evenly stepping indices */
int lw_cast(Lower *L, int node);      /* lower_extra.c: converting copy */

/* Per-family additions (ONNX coverage and training), one block each. */
/* --- ew --- */
/* lower_exotic.c: element idx of buf cast to float8 t without saturation. */
Kx *lw_cast_nosat(Lower *L, int buf, Aff idx, DType t);
/* lower.c: an integer dtype's range as doubles (the top end rounded down
 * to a double below it). */
void lw_int_range(DType t, double *lo, double *hi);
Kx *kx_sel(Lower *L, Kx *cond, Kx *a, Kx *b); /* lower.c: KX_SELECT, a's dtype */
/* lower_ew2.c: the ew family's pointwise ops (comparisons, logic, where,
 * unary math, mod, bitwise, shifts) at coordinates; NULL for an op it
 * does not handle (ew_handles false), or with a message on error. */
bool lw_ew2_handles(Op op);
Kx *lw_ew2_at(Lower *L, int node, const Aff *coord);

/* --- red --- */
int lw_argmax(Lower *L, int node);    /* lower_red_ext.c: argmax, argmin */
int lw_cumsum(Lower *L, int node);
int lw_topk(Lower *L, int node);

/* --- idx --- */
int lw_slice(Lower *L, int node);           /* lower_idx.c */
int lw_expand(Lower *L, int node);
int lw_trilu(Lower *L, int node);
int lw_gather_dyn(Lower *L, int node);      /* gather with run-time (or any) indices */
int lw_gather_elements(Lower *L, int node);
int lw_gather_nd(Lower *L, int node);
int lw_scatter(Lower *L, int node);         /* scatter_elements, scatter_nd */
/* slice, expand, trilu and the gathers at coordinates of their output, for
 * inlining into a fusion group's reader (their inputs come from buffers). */
Kx *lw_idx_at(Lower *L, int node, const Aff *coord);

/* --- conv --- */
/* lower_conv.c: the general convolution call (3-D, conv-transpose). */
int lw_conv_nd(Lower *L, int node);
int lw_conv_transpose(Lower *L, int node);

/* --- train --- */
/* bn */
int lw_buffer_update(Lower *L, int node); /* lower_train.c: nothing (an inference model) */
/* trn */
int lw_assign(Lower *L, int node); /* lower_train.c: copies the new value into the state */
/* lower_train.c: an update kernel that reads its state only at the element
 * it stores, and is its last reader, stores into the state (copy removed). */
void lw_state_inplace(KernelList *kl);
/* rng */
int lw_random_uniform(Lower *L, int node); /* lower_rng.c: a KX_RANDOM per element */
Kx *lw_random_at(Lower *L, int node, const Aff *coord); /* inlined into a fusion group's reader */

#endif
