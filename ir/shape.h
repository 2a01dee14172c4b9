/* shape.h — private to shape*.c and eval*.c: the context a shape rule
 * reads and writes, the helpers the rule files share, and the entry points
 * the interpreter uses to run the rules on concrete tensors. Nothing
 * outside ir/ includes it. */
#ifndef NNCC_IR_SHAPE_H
#define NNCC_IR_SHAPE_H

#include "ir.h"

/* Appends "node N (op "name"): <message>" to d; returns -1. */
int ir_node_err(const Graph *g, int node, Diag *d, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Runs node's shape rule on the given input dtypes/shapes (one per node
 * input; an omitted optional input is ignored) and writes odt/osh (one
 * per node output). 0, or -1 with a message in d. */
int ir_infer_shapes(const Graph *g, int node, const DType *idt, const Shape *ish,
	DType *odt, Shape *osh, Diag *d);
/* The same with the concrete input tensors (eval): rules whose output shape
 * depends on input data (reshape_dyn) read it from them. */
int ir_infer_shapes_data(const Graph *g, int node, const DType *idt, const Shape *ish,
	const Tensor *itens, DType *odt, Shape *osh, Diag *d);
/* Runs node's rule on its graph input values and stores the outputs' types
 * (the ShapeFn of every ops.def entry). */
int sh_run_rule(Graph *g, int node, Diag *d);

/* What a rule sees: the node, its input types, its output types to fill. */
typedef struct ShapeCtx {
	const Graph *g;   /* symbol names for messages */
	int node;         /* node index, for messages */
	const Node *n;    /* op, inputs (for omitted ones) and attributes */
	const DType *idt; /* input dtypes, n->nin */
	const Shape *ish; /* input shapes, n->nin */
	DType *odt;       /* output dtypes, n->nout; preset DT_UNDEF */
	Shape *osh;       /* output shapes, n->nout; preset unknown */
	Diag *d;          /* where errors go */
	const Tensor *itens; /* eval: the concrete inputs (data); NULL over the graph */
} ShapeCtx;

typedef int (*RuleFn)(const ShapeCtx *c);

#define FAIL(c, ...) ir_node_err((c)->g, (c)->node, (c)->d, __VA_ARGS__)

static inline Dim sh_dim(int64_t n) { return (Dim){n, 0}; }
static inline Dim sh_unknown(void) { return (Dim){-1, 0}; }
static inline bool sh_known(Dim x) { return x.sym == 0 && x.n >= 0; }

/* shape.c: helpers shared by the rule files. */
const char *sh_str(const ShapeCtx *c, const Shape *s, char *buf); /* buf: 256 bytes */
const char *sh_ints_str(const int64_t *v, int n, char *buf);       /* "[2, -1]" */
int sh_same_dtype(const ShapeCtx *c, int a, int b); /* -1 if both known and different */
int sh_norm_axis(int64_t axis, int rank);           /* 0..rank-1, or -1 */
/* Ints attribute of exactly n entries into v, or dflt everywhere if absent. */
int sh_ints_attr(const ShapeCtx *c, const char *name, int n, int64_t dflt, int64_t *v);

/* The rules, named after ops.def's shape column plus _rule. */
int shape_broadcast_rule(const ShapeCtx *c);
int shape_matmul_rule(const ShapeCtx *c);
int shape_reduce_rule(const ShapeCtx *c);
int shape_same_rule(const ShapeCtx *c);
int shape_conv_rule(const ShapeCtx *c);      /* shape_conv.c */
int shape_pool_rule(const ShapeCtx *c);
int shape_pad_rule(const ShapeCtx *c);       /* shape_move.c */
int shape_transpose_rule(const ShapeCtx *c);
int shape_concat_rule(const ShapeCtx *c);
int shape_reshape_rule(const ShapeCtx *c);
int shape_flatten_rule(const ShapeCtx *c);
int shape_shape_rule(const ShapeCtx *c);     /* shape_extra.c */
int shape_gather_rule(const ShapeCtx *c);
int shape_unsqueeze_rule(const ShapeCtx *c);
int shape_squeeze_rule(const ShapeCtx *c);
int shape_cast_rule(const ShapeCtx *c);
int shape_reshape_dyn_rule(const ShapeCtx *c);

/* Per-family additions (ONNX coverage and training), one block each. */
/* --- ew --- */
int shape_compare_rule(const ShapeCtx *c);  /* shape_ew.c */
int shape_logic_rule(const ShapeCtx *c);
int shape_where_rule(const ShapeCtx *c);
int shape_classify_rule(const ShapeCtx *c);
int shape_bitcast_rule(const ShapeCtx *c);

/* --- red --- */
int shape_argmax_rule(const ShapeCtx *c);   /* shape_red.c */
int shape_cumsum_rule(const ShapeCtx *c);
int shape_topk_rule(const ShapeCtx *c);

/* --- idx --- */
int shape_slice_rule(const ShapeCtx *c);   /* shape_idx.c */
int shape_expand_rule(const ShapeCtx *c);
int shape_trilu_rule(const ShapeCtx *c);
int shape_gather_elements_rule(const ShapeCtx *c);
int shape_gather_nd_rule(const ShapeCtx *c);
int shape_scatter_rule(const ShapeCtx *c);

/* --- conv --- */
int shape_conv_transpose_rule(const ShapeCtx *c); /* shape_conv.c */

/* --- train --- */
/* trn */
int shape_assign_rule(const ShapeCtx *c);   /* train_state.c */
int shape_gradient_rule(const ShapeCtx *c); /* train_state.c */
/* rng */
int shape_random_uniform_rule(const ShapeCtx *c); /* shape_rng.c */
int shape_dropout_rule(const ShapeCtx *c);

/* --- robust --- */
/* 0 if every attribute of node lies in its value domain (flags 0 or 1,
 * epsilon finite and non-negative, ...), else -1 naming it (attr_domain.c). */
int ir_check_attr_domains(const Graph *g, int node, Diag *d);

#endif
