/* grad.h — what autodiff.c and the gradient rules (grad*.c) share.
 *
 * A gradient rule writes the vector-Jacobian product of one node in forward
 * IR ops: given the adjoints of the node's outputs it appends nodes to the
 * graph computing the contribution to each input's adjoint. Rules are named
 * in the grad column of ir/ops.def; autodiff.c calls them in reverse
 * topological order and sums the contributions. Rules see static shapes
 * only (ps_autodiff checks that first). */
#ifndef NNCC_GRAD_H
#define NNCC_GRAD_H

#include "passes.h"

typedef struct GradCtx {
	Graph *g;         /* graph being differentiated (nodes appended) */
	int node;         /* forward node whose rule runs */
	const bool *need; /* need[i]: input i wants an adjoint (float, on the path) */
	Diag *d;          /* errors (the rule names the node) */
	int fail;         /* set when a helper failed; the rule's result is then ignored */
	const bool *on;   /* on[v]: value v is on the gradient's path (NULL: unknown), */
	int non;          /* for v < non, the forward graph's values (later: the rules') */
	int extra_v;      /* a contribution to a value that is not an input (grad_norm.c): */
	int extra_g;      /* adj[extra_v] += extra_g, where extra_v >= 0 and on the path */
} GradCtx;

/* A rule: gout[k] is the adjoint of output k (-1: none, zero); it stores
 * into gin[i] the contribution to input i's adjoint where need[i] (leaving
 * -1 for none). 0, or -1 with a message naming the node. */
typedef int (*GradFn)(GradCtx *c, const int *gout, int *gin);

/* Builders for rules (grad.c). Each appends a node (named after the forward
 * node), infers its shape and returns its output value; on failure they set
 * c->fail, return the first input and the rule's caller reports it. */
int gr_op(GradCtx *c, Op op, const int *in, int nin);
/* gr_op in two steps, for setting attributes in between: gr_begin appends
 * the node (call it only when !c->fail) and returns its index; gr_end
 * infers it and returns its output (in0 on failure). */
int gr_begin(GradCtx *c, Op op, const int *in, int nin);
int gr_end(GradCtx *c, int n, int in0);
int gr_un(GradCtx *c, Op op, int a);
int gr_bin(GradCtx *c, Op op, int a, int b);
int gr_scalar(GradCtx *c, DType t, double v);     /* rank-0 constant */
int gr_full(GradCtx *c, DType t, const Shape *s, double v); /* constant filled with v */
int gr_reduce(GradCtx *c, Op op, int x, const int64_t *axes, int naxes, int keep);
int gr_reshape(GradCtx *c, int x, const Shape *s); /* reshape to a static shape */
int gr_transpose(GradCtx *c, int x, const int64_t *perm, int n);
int gr_cast(GradCtx *c, int x, DType t);
/* Masks (comparisons and where, ew family). */
int gr_where(GradCtx *c, int cond, int a, int b); /* where(cond, a, b) */
int gr_keep(GradCtx *c, int cond, int g);  /* g where cond, else 0 */
int gr_pos(GradCtx *c, int x);             /* bool: x > 0 */
int gr_eq(GradCtx *c, int a, int b);       /* 1 where a == b else 0 (broadcast), in a's dtype */
/* Sums g over the dims along which shape s was broadcast to g's shape, so
 * the result has shape s (numpy broadcasting's adjoint). */
int gr_unbroadcast(GradCtx *c, int g, const Shape *s);
/* Broadcasts g (whose shape broadcasts to s) to shape s (expand). */
int gr_broadcast_to(GradCtx *c, int g, const Shape *s);
/* pad op with pads[2 * rank] (ONNX order) and fill value (no node if all 0) */
int gr_padded(GradCtx *c, int x, const int64_t *pads, double value);
/* Along axis: element o of x moves to o * s + off of a result of length
 * len, zeros elsewhere, what falls outside dropped (reshape, pad, slice). */
int gr_place(GradCtx *c, int x, int axis, int64_t s, int64_t off, int64_t len);
/* x[lo:hi] along axis (a gather with constant, evenly stepping indices). */
int gr_slice(GradCtx *c, int x, int axis, int64_t lo, int64_t hi);
/* a @ b, a^T (ta) and b^T (tb) by the matmul's flags (grad_nn.c) */
int gr_mm(GradCtx *c, int a, int b, int ta, int tb);
const Value *gr_val(const GradCtx *c, int v); /* c->g->val[v] (re-read after adding nodes) */
const Node *gr_node(const GradCtx *c);       /* the forward node */

/* Rules, one per op (named in ops.def's grad column). */
/* grad_ew.c: elementwise */
int gr_add(GradCtx *c, const int *gout, int *gin);
int gr_sub(GradCtx *c, const int *gout, int *gin);
int gr_mul(GradCtx *c, const int *gout, int *gin);
int gr_div(GradCtx *c, const int *gout, int *gin);
int gr_pow(GradCtx *c, const int *gout, int *gin);
int gr_neg(GradCtx *c, const int *gout, int *gin);
int gr_abs(GradCtx *c, const int *gout, int *gin);
int gr_exp(GradCtx *c, const int *gout, int *gin);
int gr_log(GradCtx *c, const int *gout, int *gin);
int gr_sqrt(GradCtx *c, const int *gout, int *gin);
int gr_relu(GradCtx *c, const int *gout, int *gin);
int gr_sigmoid(GradCtx *c, const int *gout, int *gin);
int gr_tanh(GradCtx *c, const int *gout, int *gin);
int gr_leaky_relu(GradCtx *c, const int *gout, int *gin);
int gr_clip(GradCtx *c, const int *gout, int *gin);
int gr_cast_rule(GradCtx *c, const int *gout, int *gin);
/* grad_ew2.c: the ew family's math and selection */
int gr_where_rule(GradCtx *c, const int *gout, int *gin);
int gr_max(GradCtx *c, const int *gout, int *gin);
int gr_min(GradCtx *c, const int *gout, int *gin);
int gr_unary_math(GradCtx *c, const int *gout, int *gin);
int gr_zero(GradCtx *c, const int *gout, int *gin);
/* grad_idx.c: the idx family's indexing, and gather */
int gr_slice_rule(GradCtx *c, const int *gout, int *gin);
int gr_expand(GradCtx *c, const int *gout, int *gin);
int gr_trilu(GradCtx *c, const int *gout, int *gin);
int gr_gather(GradCtx *c, const int *gout, int *gin);
int gr_gather_elements(GradCtx *c, const int *gout, int *gin);
int gr_gather_nd(GradCtx *c, const int *gout, int *gin);
/* grad_nn.c: contractions, reductions, softmax, normalization */
int gr_matmul(GradCtx *c, const int *gout, int *gin);
int gr_reduce_sum(GradCtx *c, const int *gout, int *gin);
int gr_reduce_mean(GradCtx *c, const int *gout, int *gin);
int gr_reduce_max(GradCtx *c, const int *gout, int *gin);
int gr_softmax(GradCtx *c, const int *gout, int *gin);
int gr_log_softmax(GradCtx *c, const int *gout, int *gin);
int gr_batchnorm(GradCtx *c, const int *gout, int *gin);
/* grad_norm.c: the node xn = d * r of a standardization (batch, instance,
 * layer, group norm in training mode) given its adjoint G: 1 when it is
 * one (x's adjoint in c->extra_v/extra_g), 0 when not, -1 on failure */
int gr_standardize(GradCtx *c, int G);
/* grad_conv.c: convolution and pooling */
int gr_conv(GradCtx *c, const int *gout, int *gin);
int gr_conv_transpose(GradCtx *c, const int *gout, int *gin);
int gr_maxpool(GradCtx *c, const int *gout, int *gin);
int gr_avgpool(GradCtx *c, const int *gout, int *gin);
/* grad_move.c: data movement */
int gr_view(GradCtx *c, const int *gout, int *gin);
int gr_transpose_rule(GradCtx *c, const int *gout, int *gin);
int gr_concat(GradCtx *c, const int *gout, int *gin);
int gr_pad(GradCtx *c, const int *gout, int *gin);
/* grad_more.c: rules added for training (cumsum, mod, reduce_prod;
 * reduce_min is gr_reduce_max's) */
int gr_cumsum(GradCtx *c, const int *gout, int *gin);
int gr_mod(GradCtx *c, const int *gout, int *gin);
int gr_reduce_prod(GradCtx *c, const int *gout, int *gin);

#endif
