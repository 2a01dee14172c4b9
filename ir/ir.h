/* ir.h — nncc's graph IR: the one internal header of the ir/ layer.
 *
 * A Graph is a list of Nodes in topological order over SSA Values. Values
 * and nodes are referred to by index into per-graph arrays (never by
 * pointer), so the arrays can grow and passes can hash them. A Value is a
 * graph input, a constant (weights, with data), or the output of a node.
 * Use lists are recomputed by ir_fill_uses() after a pass mutates the graph.
 * Strings, attributes and constant data live in the graph's arena. */
#ifndef NNCC_IR_H
#define NNCC_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

enum { IR_MAX_RANK = 8 };

/* Element types. The numbers are ONNX's TensorProto.DataType codes, which
 * the runtime ABI (runtime/abi.h) and include/nncc/nncc.h share. */
typedef enum DType {
	DT_UNDEF = 0, /* not yet inferred */
	DT_F32 = 1,
	DT_U8 = 2,
	DT_I8 = 3,
	DT_U16 = 4,
	DT_I16 = 5,
	DT_I32 = 6,
	DT_I64 = 7,
	DT_BOOL = 9,
	DT_F16 = 10,
	DT_F64 = 11,
	DT_U32 = 12,
	DT_U64 = 13,
	DT_BF16 = 16,
	/* exotic types (dtype_exotic.c): one element per byte in memory */
	DT_F8E4M3FN = 17,   /* float8: 4 exponent bits, 3 mantissa bits, no infinity */
	DT_F8E4M3FNUZ = 18, /* float8 e4m3, no infinity, no negative zero, NaN 0x80 */
	DT_F8E5M2 = 19,     /* float8: 5 exponent bits, 2 mantissa bits, IEEE-like */
	DT_F8E5M2FNUZ = 20, /* float8 e5m2, no infinity, no negative zero, NaN 0x80 */
	DT_U4 = 21,         /* 4-bit unsigned integer, zero-extended in its byte */
	DT_I4 = 22,         /* 4-bit signed integer, sign-extended in its byte */
	DT_F4E2M1 = 23,     /* float4: 2 exponent bits, 1 mantissa bit, no NaN/infinity */
	DT_F8E8M0 = 24,     /* float8: a power of two 2^(code - 127), 0xff NaN, no sign */
	DT_U2 = 25,         /* 2-bit unsigned integer, zero-extended in its byte */
	DT_I2 = 26,         /* 2-bit signed integer, sign-extended in its byte */
} DType;

const char *ir_dtype_name(DType t); /* "f32", "i64", ...; "?" for DT_UNDEF */
DType ir_dtype_parse(const char *s, size_t n); /* DT_UNDEF if unknown */
size_t ir_dtype_size(DType t); /* bytes per element; 0 for DT_UNDEF */
bool ir_dtype_is_float(DType t);

/* One dimension: a known extent (sym == 0, n >= 0), a named symbolic extent
 * (sym > 0 indexes Graph.sym, n == -1), or unknown (sym == 0, n == -1). */
typedef struct Dim {
	int64_t n; /* extent, -1 when not known */
	int sym;   /* symbol index into Graph.sym, 0 if none */
} Dim;

typedef struct Shape {
	int rank;              /* number of dims; -1 when the rank is unknown */
	Dim d[IR_MAX_RANK];    /* d[0] is the outermost (slowest) dim */
} Shape;

Shape ir_shape_unknown(void);
Shape ir_shape_make(int rank, const int64_t *dims); /* all known */
bool ir_shape_static(const Shape *s);              /* rank and every dim known */
bool ir_shape_eq(const Shape *a, const Shape *b);  /* same rank and dims (symbols by id) */
int64_t ir_shape_numel(const Shape *s);            /* -1 if not static or overflow */
/* Writes "[N, 3, 224, 224]" into buf (symbols need the graph for names). */
struct Graph;
const char *ir_shape_str(const struct Graph *g, const Shape *s, char *buf, size_t n);

/* Attributes: typed, named, checked against the op's schema in ops.def. */
typedef enum AttrKind {
	AT_INT,    /* i */
	AT_FLOAT,  /* f */
	AT_INTS,   /* ints[n] */
	AT_FLOATS, /* floats[n] */
	AT_STRING, /* s */
} AttrKind;

typedef struct Attr {
	const char *name; /* arena string */
	AttrKind kind;    /* which union member holds the value */
	int n;            /* element count for AT_INTS / AT_FLOATS */
	union {
		int64_t i;
		double f;
		int64_t *ints;  /* arena array */
		double *floats; /* arena array */
		const char *s;  /* arena string */
	};
} Attr;

/* Operations: enum and property table generated from ops.def. */
typedef enum Op {
#define OP(id, name, nin_min, nin_max, nout, flags, attrs, shape, grad) OP_##id,
#include "ops.def"
#undef OP
	OP_COUNT
} Op;

enum {
	OPF_ELEMWISE = 1 << 0,    /* pointwise over broadcast inputs */
	OPF_COMMUTATIVE = 1 << 1, /* binary, operands may be swapped */
	OPF_INPLACE = 1 << 2,     /* output may reuse a dying input's storage */
	OPF_VIEW = 1 << 3,        /* output is the input's storage, reinterpreted */
	OPF_REDUCE = 1 << 4,      /* reduces over axes */
	OPF_SIDE_EFFECT = 1 << 5, /* must not be removed or reordered */
};

struct Graph;
struct Node;
/* A shape rule infers out[k] dtype/shape from the inputs. Returns 0, or -1
 * with a message naming the node in d. */
typedef int (*ShapeFn)(struct Graph *g, int node, Diag *d);

typedef struct OpInfo {
	const char *name;   /* text-IR spelling */
	int nin_min;        /* fewest inputs */
	int nin_max;        /* most inputs, -1 variadic */
	int nout;           /* outputs */
	unsigned flags;     /* OPF_* */
	const char *attrs;  /* schema, see ops.def */
	ShapeFn shape;      /* shape rule */
} OpInfo;

extern const OpInfo ir_ops[OP_COUNT];
Op ir_op_parse(const char *s, size_t n); /* OP_COUNT if unknown */

/* One "name:kind[!]" entry of an op's attribute schema (ops.def). */
typedef struct IrSchemaEnt {
	char name[64];  /* attribute name */
	AttrKind kind;  /* expected kind */
	bool required;  /* written with a trailing '!' */
	bool bad;       /* kind not understood (a broken ops.def entry) */
} IrSchemaEnt;
/* Reads the next entry of a schema string from *s; false at the end. */
bool ir_schema_next(const char **s, IrSchemaEnt *e);
/* Kind of attribute `name` in op's schema; false if the schema lacks it. */
bool ir_attr_schema(Op op, const char *name, AttrKind *kind);

/* Values. */
typedef enum ValueKind {
	VK_NODE,  /* result of a node: def/defslot set */
	VK_INPUT, /* graph input, fed at run time */
	VK_CONST, /* constant tensor with data (weights, folded constants) */
} ValueKind;

typedef struct Value {
	const char *name; /* unique within the graph; arena string */
	ValueKind kind;   /* node result, graph input or constant */
	DType dtype;      /* DT_UNDEF until inferred */
	Shape shape;      /* rank -1 until inferred */
	int def;          /* VK_NODE: index of the defining node; else -1 */
	int defslot;      /* VK_NODE: which output of def */
	void *data;       /* VK_CONST: row-major little-endian bytes (arena); NULL if elided */
	size_t nbytes;    /* VK_CONST: size of data */
	bool param;       /* VK_CONST: a model parameter (ONNX initializer), not a literal */
	int state;        /* VK_CONST: training-state role (IrStateRole, train block), 0: a plain constant */
	int nuse;         /* filled by ir_fill_uses(): uses by nodes and graph outputs */
} Value;

typedef struct Node {
	Op op;            /* operation (ops.def) */
	const char *name; /* source name for diagnostics (ONNX node name), may be "" */
	int nin;          /* entries of in */
	int *in;          /* value indices; -1 marks an omitted optional input */
	int nout;         /* entries of out */
	int *out;         /* value indices */
	int nattr;        /* entries of attr */
	Attr *attr;       /* arena array */
	bool dead;        /* removed by a pass; skipped by everything, dropped by ir_compact() */
	int group;        /* fusion group (ps_fuse): nodes sharing a group > 0 become one kernel; 0 alone */
} Node;

typedef struct Graph {
	Arena arena;      /* strings, attributes, constant data */
	const char *name; /* model name: a C identifier, prefixes the artifact's symbols */
	Value *val;       /* values, grown with xrealloc */
	int nval, capval; /* values used, allocated */
	Node *node;       /* nodes in topological order */
	int nnode, capnode; /* nodes used (dead ones included), allocated */
	int *input;       /* graph inputs (VK_INPUT value indices), in order */
	int ninput, capinput; /* inputs used, allocated */
	int *output;      /* graph outputs (value indices), in order */
	int noutput, capoutput; /* outputs used, allocated */
	const char **sym; /* symbolic dim names; sym[0] unused */
	int nsym, capsym; /* nsym counts sym[0] */
	/* dynamic batch (passes/dynbatch.c, docs/dynamic-batch.md) */
	int64_t batch_max; /* most rows one run takes (shapes are planned for it); 0: all shapes fixed */
	/* codegen: convolutions' scratch by the lean rules (runtime/abi.h
	 * NNCC_CONV_LEAN): set by --max-memory's search for a plan that does
	 * not fit otherwise (tools/remat_fit.c) */
	bool lean_scratch;
	bool *batch;       /* batch_max > 0: per value (nval entries, arena), dim 0 is the batch */
	/* hashes of every name a value was ever given (new values and
	 * ir_rename_value; a superset of today's names): ir_find_value answers
	 * an unused name without scanning every value */
	uint64_t *name_hash;
	int nname_hash, capname_hash;
} Graph;

/* graph.c: building */
Graph *ir_graph_new(const char *name);
void ir_graph_free(Graph *g);
void *ir_alloc(Graph *g, size_t n);          /* zeroed, lives as long as g */
const char *ir_strdup(Graph *g, const char *s);
int ir_sym(Graph *g, const char *name);      /* interns a symbolic dim name, returns its index (>0) */
int ir_add_input(Graph *g, const char *name, DType t, Shape s);
/* Adds a constant; copies nbytes of data (data may be NULL: zero-filled,
 * marked elided only if the caller clears val.data afterwards). */
int ir_add_const(Graph *g, const char *name, DType t, Shape s, const void *data, size_t nbytes, bool param);
/* Adds a node whose nout outputs are fresh VK_NODE values with dtype
 * DT_UNDEF and unknown shape. Output names are "name" for one output or
 * "name:k", made unique; pass outnames to choose them (NULL entries = auto).
 * Returns the node index. */
int ir_add_node(Graph *g, Op op, const char *name, const int *in, int nin, int nout, const char *const *outnames);
int ir_out(const Graph *g, int node, int k); /* value index of node's k-th output */
void ir_add_output(Graph *g, int value);
int ir_find_value(const Graph *g, const char *name); /* -1 if none */
/* Names value v (name must be unused): every rename goes through here. */
void ir_rename_value(Graph *g, int v, const char *name);
/* Whether some value was ever named name (false: none is now). */
bool ir_name_seen(const Graph *g, const char *name);
const char *ir_unique_name(Graph *g, const char *base); /* base, or base_1, base_2... */

void ir_set_int(Graph *g, int node, const char *name, int64_t v);
void ir_set_float(Graph *g, int node, const char *name, double v);
void ir_set_ints(Graph *g, int node, const char *name, const int64_t *v, int n);
void ir_set_floats(Graph *g, int node, const char *name, const double *v, int n);
void ir_set_string(Graph *g, int node, const char *name, const char *v);
const Attr *ir_attr(const Node *n, const char *name); /* NULL if absent */
int64_t ir_attr_int(const Node *n, const char *name, int64_t dflt);
double ir_attr_float(const Node *n, const char *name, double dflt);
/* Count of ints and *v pointing at them, or -1 (and *v = NULL) if absent. */
int ir_attr_ints(const Node *n, const char *name, const int64_t **v);

/* Replaces every use of value `from` (node inputs, graph outputs) with `to`. */
void ir_replace_uses(Graph *g, int from, int to);
void ir_fill_uses(Graph *g);   /* recomputes Value.nuse */
void ir_compact(Graph *g);     /* drops dead nodes and values no one defines or uses */
/* Reorders the nodes topologically, keeping the current order where it is
 * one already: each node moves only behind the producers it must follow
 * (a pass that appended nodes read by earlier ones calls it). */
void ir_toposort(Graph *g);

/* verify.c: structural checks (arity, schema, SSA, topological order,
 * dtype/shape consistency where known). 0 if fine, else -1 with every
 * problem found in d, each naming the node. */
int ir_verify(const Graph *g, Diag *d);

/* print.c / parse.c: one syntax, parse(print(g)) == g. See docs/ir.md. */
enum {
	IR_PRINT_DATA = 1 << 0, /* print every constant's data (default: elide over 16 elements) */
};
void ir_print(const Graph *g, FILE *f, unsigned flags);
/* Parses text IR; filename is used in messages ("file:line:col: ..."). */
Graph *ir_parse(const char *src, const char *filename, Diag *d);
/* dot.c: Graphviz, fusion groups as clusters (--emit=dot). */
void ir_print_dot(const Graph *g, FILE *f);
/* Compares two graphs structurally (names, ops, attrs, types, data). */
bool ir_graph_equal(const Graph *a, const Graph *b, Diag *why);

/* shape.c: shape rules, one per ops.def entry, and their driver. */
int ir_infer_node(Graph *g, int node, Diag *d);
/* Numpy broadcasting of two shapes; -1 with message if incompatible. */
int ir_broadcast(const Shape *a, const Shape *b, Shape *out);

/* eval.c: the reference interpreter. Tensors are dense row-major. */
typedef struct Tensor {
	DType dtype;
	Shape shape;  /* static */
	void *data;   /* malloc'd, ir_shape_numel * ir_dtype_size bytes */
} Tensor;

void ir_tensor_free(Tensor *t);
/* One element through double, as the interpreter sees it: f16/bf16 decode
 * exactly and encode round-to-nearest-even; stores into integer types
 * truncate toward zero and saturate (NaN gives 0); bool stores v != 0. */
double ir_elem_get(DType t, const void *p);
void ir_elem_put(DType t, void *p, double v);
/* Evaluates g on inputs[0..g->ninput-1] (matched by position to g->input);
 * fills outputs[0..g->noutput-1] with malloc'd tensors. Accumulates in
 * float64, rounds each op's result to its dtype. 0, or -1 with message. */
int ir_eval(const Graph *g, const Tensor *inputs, Tensor *outputs, Diag *d);
/* Evaluates one node whose inputs are all given (used by constant folding). */
int ir_eval_node(const Graph *g, int node, const Tensor *inputs, Tensor *outputs, Diag *d);

/* Per-family additions (ONNX coverage and training), one block each. */
/* --- ew --- */
bool ir_dtype_is_int(DType t);      /* i8..i64, u8..u64 (not bool) */
bool ir_dtype_is_unsigned(DType t); /* u8, u16, u32, u64 */
/* shape_ew.c, for the verifier: elementwise ops whose inputs and output
 * need not share one dtype (comparisons, where, isnan/isinf, bitcast), and
 * their check: the shape rule on the inputs' types gives the output's
 * dtype. Returns the number of problems found (each named in d). */
bool ir_ew_mixed_types(Op op);
int ir_ew_check_types(const Graph *g, int node, Diag *d);

/* dtype_exotic.c: float8/float4 and int4/uint4/int2/uint2 (one per byte) */
bool ir_dtype_is_exotic(DType t);      /* any of them */
bool ir_dtype_is_small_float(DType t); /* the float8s (e8m0 too) and float4 */
int ir_dtype_bits(DType t);            /* significant bits: 4, 2, or 8 * size */
int64_t ir_small_int_wrap(DType t, int64_t v); /* v wrapped to i4/u4/i2/u2 */
double ir_small_dec(DType t, unsigned code);   /* an exotic code's value */
unsigned ir_small_enc(DType t, double v, bool saturate); /* v's code, nearest even */
/* A small float's exponent bits, mantissa bits and bias; false if t is none
 * or f8e8m0 (a bare exponent, encoded apart). */
bool ir_small_float_fmt(DType t, int *eb, int *mb, int *bias);

/* --- red --- */

/* --- idx --- */
/* shape_idx.c: slice's start, step and count per dim of x (ONNX's
 * negative positions and clamping applied). Dims not sliced get 0, 1 and
 * their extent. -1 when a sliced dim of x is not known (count -1 there). */
int ir_slice_plan(const Node *n, const Shape *x, int64_t *start, int64_t *step, int64_t *count);

/* --- conv --- */

/* --- train --- */
/* ad */
/* onehot.c: one-hot of integer indices idx along `axis` of the result
 * (negative from its end), `depth` classes, dtype t, built from forward ops
 * (nodes named `name`); an index outside [0, depth) gives all zeros.
 * Returns the value, or -1 with a message. */
int ir_one_hot(Graph *g, const char *name, int idx, int64_t depth, int axis, DType t, Diag *d);
/* trn */
/* Training state (train_state.c, docs/training.md): a VK_CONST value with
 * state != 0 is mutable state of a compiled training step. Every read of
 * it sees its value at step start; one `assign` node gives its value for
 * the next step. Its data is the initial value. Passes never fold,
 * simplify or merge it (ps_const_data is false for it). */
typedef enum IrStateRole {
	IR_STATE_NONE = 0, /* a plain constant */
	IR_STATE_PARAM,    /* a trained parameter (Value.param is true too) */
	IR_STATE_OPTIM,    /* optimizer state of a parameter (momentum, Adam moments) */
	IR_STATE_STEP,     /* the step counter: i64 scalar, steps completed */
	IR_STATE_LR,       /* the learning rate: f32 scalar, set at run time */
	IR_STATE_SEED,     /* the random seed: i64 scalar, set at run time (rng, docs/training.md) */
	IR_STATE_BUFFER,   /* a statistic the step updates, not trained (batch norm's running mean/var) */
	IR_STATE_COUNT     /* number of roles */
} IrStateRole;
const char *ir_state_role_name(int role);         /* "param", "optim", "step", "lr", "seed", "buffer" */
int ir_state_role_parse(const char *s, size_t n); /* IR_STATE_NONE if unknown */
/* Checks training state: every state value is assigned at most once, by
 * an assign whose first input it is; assign targets are state. Returns
 * the number of problems, each written to d (ir_verify calls it). */
int ir_verify_state(const Graph *g, Diag *d);
/* rng */
/* philox.c: Philox 4x32-10 (Random123's philox4x32, 10 rounds) and the
 * element mapping every random op follows (docs/training.md): key = seed,
 * counter = (i >> 2, stream, step), word i & 3, f32 = (u >> 8) * 2^-24. */
void ir_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
uint32_t ir_random_bits(uint64_t seed, uint64_t step, uint32_t stream, uint64_t i);
float ir_random_uniform(uint64_t seed, uint64_t step, uint32_t stream, uint64_t i); /* [0, 1) */
enum { IR_RANDOM_MAX_LOG2 = 34 }; /* random ops hold at most 2^34 elements (32-bit block counter) */

#endif
