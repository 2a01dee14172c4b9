/* eval.h — private to eval*.c: what one op's evaluator sees, the per-op
 * evaluators, and their load/store helpers. Nothing outside ir/ includes
 * it. Output shapes come from the shape rules (shape.h). */
#ifndef NNCC_IR_EVAL_H
#define NNCC_IR_EVAL_H

#include "shape.h"

/* eval.c: what one op's evaluator sees. */
typedef struct Ev {
	const Graph *g;   /* for messages */
	int node;         /* node index, for messages */
	const Node *n;    /* op and attributes */
	const Tensor *in; /* n->nin inputs; data NULL for an omitted optional one */
	Tensor *out;      /* n->nout outputs, shape/dtype set, data zeroed */
	Diag *d;          /* where errors go */
} Ev;

int ev_fail(const Ev *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool ev_is_int(DType t);                       /* any integer dtype, not bool */
int64_t ev_numel(const Tensor *t);             /* static by construction */
/* Whole-tensor conversions; the arrays are malloc'd, free() them. */
double *ev_load_f64(const Tensor *t);
int64_t *ev_load_i64(const Tensor *t);
void ev_store_f64(Tensor *t, const double *v);  /* rounds to t->dtype */
void ev_store_i64(Tensor *t, const int64_t *v); /* wraps to t->dtype */
/* Row-major strides of s, in elements. */
void ev_strides(const Shape *s, int64_t *st);
/* Advances a row-major multi-index over s; false after the last one. */
bool ev_next(int64_t *idx, const Shape *s);

/* eval_math.c: elementwise ops, reductions, softmax. */
int ev_unary(const Ev *e);
int ev_binary(const Ev *e);
int ev_reduce(const Ev *e);
int ev_softmax(const Ev *e);

/* eval_nn.c: matmul, batchnorm. */
int ev_matmul(const Ev *e);
int ev_batchnorm(const Ev *e);

/* eval_move.c: data movement (dtype-agnostic byte copies). */
int ev_pad(const Ev *e);
int ev_transpose(const Ev *e);
int ev_concat(const Ev *e);
int ev_copy(const Ev *e); /* reshape, flatten, identity */

/* eval_extra.c: shape computations. */
int ev_shape(const Ev *e);
int ev_gather(const Ev *e);
int ev_cast(const Ev *e);

/* Per-family additions (ONNX coverage and training), one block each. */
/* --- ew --- */
int ev_cast_exotic(const Ev *e); /* eval_exotic.c: cast from/to f8, f4, i4, u4, i2, u2 */
/* eval.c: one integer element exactly (u64: its bits as int64), and a
 * store wrapping (two's complement) to the dtype. */
int64_t ev_int_get(DType t, const void *p);
void ev_int_put(DType t, void *p, int64_t v);
/* eval_ew.c: comparisons, logic, where and the ew family's math. */
int ev_ew(const Ev *e);
bool ev_ew_dtype_ok(Op op, DType t); /* dtype of input 0 accepted by op */

/* --- red --- */
/* eval_red.c: reduce_min/prod, argmax/argmin, cumsum, topk. */
int ev_reduce_red(const Ev *e);
int ev_argmax(const Ev *e);
int ev_cumsum(const Ev *e);
int ev_topk(const Ev *e);

/* --- idx --- */
int ev_slice(const Ev *e);          /* eval_idx.c */
int ev_expand(const Ev *e);
int ev_trilu(const Ev *e);
int ev_gather_elements(const Ev *e);
int ev_gather_nd(const Ev *e);
int ev_scatter(const Ev *e);        /* scatter_elements, scatter_nd */

/* --- conv --- */
/* eval_conv.c: windows over 1-3 spatial dims. */
int ev_conv(const Ev *e);
int ev_conv_transpose(const Ev *e);
int ev_pool(const Ev *e);

/* --- train --- */
/* rng */
int ev_random_uniform(const Ev *e); /* eval_rng.c */
int ev_dropout(const Ev *e);

#endif
