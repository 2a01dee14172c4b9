/* onnx_impl.h — internals shared by the ONNX frontend's two files:
 * onnx.c (reading, validation and the import driver) and onnx_ops.c (the
 * import table: one handler per ONNX op_type). Not used outside frontend/.
 *
 * The driver resolves a node's inputs to IR values, checks its attributes
 * against the table's schema, then calls the handler. A handler builds IR
 * nodes with imp_node()/imp_infer() and binds the ONNX node's outputs to
 * the values it produced. */
#ifndef NNCC_ONNX_IMPL_H
#define NNCC_ONNX_IMPL_H

#include "onnx.pb-c.h"

#include "../ir/ir.h"
#include "frontend.h"

/* One entry of the value-name table (open addressing, keyed by name). */
typedef struct NameEnt {
	const char *name; /* value name; NULL marks an empty slot */
	int val;          /* IR value index; -1 while declared but not yet built */
	bool used;        /* read by a node input or a graph output */
	char def;         /* 'c' initializer, 'i' graph input, 'n' node output, 'g' generated */
} NameEnt;

typedef struct Importer {
	Graph *g;                  /* graph being built */
	Diag *d;                   /* where errors go */
	const char *file;          /* model's display name, starts every message */
	int64_t opset;             /* version of the default ("" / "ai.onnx") domain */
	Arena arena;               /* importer-lifetime strings and arrays */
	NameEnt *tab;              /* every value name, ONNX and generated */
	size_t ntab, captab;       /* entries used, slots (a power of two) */
	const Onnx__NodeProto *np; /* node being imported, NULL outside nodes */
	const char *name;          /* its name, or "<op_type>_<index>" */
	int *in;                   /* IR value of each ONNX input, -1 if omitted */
	int nin;                   /* ONNX inputs (np->n_input) */
	int *out;                  /* IR value bound to each ONNX output, -1 if none */
	int nout;                  /* ONNX outputs (np->n_output) */
	const FeConst *consts;     /* graph inputs bound to constants (--const) */
	int nconst;                /* entries of consts */
	bool from_file;            /* file is a path: external data is read beside it */
} Importer;

typedef int (*ImportFn)(Importer *m, Op op);

/* One row of the import table. */
typedef struct OnnxOp {
	const char *op_type; /* ONNX op_type (default domain) */
	ImportFn fn;         /* builds the IR; 0 or -1 with a message */
	Op op;               /* IR op passed to fn (shared handlers), else OP_COUNT */
	int nin_min;         /* fewest ONNX inputs */
	int nin_max;         /* most ONNX inputs, -1 variadic */
	const char *attrs;   /* accepted attributes, "name:kind ..." with kind as
	                        onnx.c's attr_kind() spells it (int, floats, ...) */
} OnnxOp;

/* onnx_static.c: values computed from constants and static shapes.
 * imp_fold() returns a constant equal to value v, computing the nodes behind
 * it when they read only constants or static shapes (ONNX's expanded
 * functions and PyTorch's Shape -> Gather -> Concat chains compute axes and
 * sizes so), or -1 without a message. imp_resolve_static() replaces each
 * input of the node being imported that is a small integer value so
 * computable by that constant, so every handler sees shapes, axes and sizes
 * as constants. */
int imp_fold(Importer *m, int v);
void imp_resolve_static(Importer *m);
/* Constant inputs for handlers (folded by imp_fold where computable), each
 * failing with a message naming input k and `what`: the constant itself;
 * its integers (an int64/int32 scalar or 1-D tensor of at most max values;
 * the count); its one number, of any dtype. */
const Value *imp_const_in(Importer *m, int k, const char *what);
int imp_const_ints(Importer *m, int k, const char *what, int64_t *out, int max);
int imp_const_scalar(Importer *m, int k, const char *what, double *out);
/* The one integer of constant input k (numel 1, an integer dtype); 0 or -1. */
int imp_const_int(Importer *m, int k, const char *what, int64_t *out);

/* onnx_wire.c: false if buf is not well-framed protobuf of message md or
 * nests messages deeper than protobuf-c can unpack safely. */
bool onnx_wire_ok(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *md, int depth);

/* onnx_ops.c */
const OnnxOp *onnx_find_op(const char *domain, const char *op_type);

/* onnx.c: services for handlers. Messages start "FILE: node "NAME" (Op): ". */
int imp_err(Importer *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Attribute readers; types were checked against the schema before the
 * handler runs, so these only look up. Absent attributes give dflt / -1. */
const Onnx__AttributeProto *imp_attr(const Importer *m, const char *name);
int64_t imp_int(const Importer *m, const char *name, int64_t dflt);
double imp_float(const Importer *m, const char *name, double dflt);
const char *imp_str(Importer *m, const char *name, const char *dflt);
int imp_ints(const Importer *m, const char *name, const int64_t **v);
/* True if ONNX output slot k has a name that some node or the graph reads. */
bool imp_used(const Importer *m, int k);
/* The IR value of ONNX name `name` built so far, or -1. */
int imp_value(const Importer *m, const char *name);
/* Name for ONNX output slot k: its ONNX name if it has one, else a fresh
 * "<node>/<what>" (also what slot -1 gives). */
const char *imp_outname(Importer *m, int k, const char *what);
/* Adds IR node op over in[0..nin-1] named after the ONNX node. Its one
 * output takes the name of ONNX output `slot` and is bound to it; slot -1
 * makes an intermediate value with a fresh name. Set attributes, then call
 * imp_infer(). Returns the node index. */
int imp_node(Importer *m, Op op, const int *in, int nin, int slot);
/* Infers the node's output type; returns its value index, or -1. */
int imp_infer(Importer *m, int node);
/* Adds a literal constant with a fresh name "<node>/<what>". */
int imp_const(Importer *m, const char *what, DType t, Shape s, const void *data, size_t nbytes);
/* onnx_build.c: a rank-0 constant of dtype t holding v (rounded as
 * ir_elem_put does). */
int imp_scalar(Importer *m, const char *what, DType t, double v);
/* Node builders for rewrites: one node over the given values, bound to
 * ONNX output slot (-1: an internal value) and inferred; its value, or -1
 * (also when an operand is -1, so calls nest). imp_cast returns x itself
 * when it already has dtype t and slot < 0; imp_ints_op sets one ints
 * attribute (reshape's shape, transpose's perm, ...). */
int imp_op1(Importer *m, Op op, int x, int slot);
int imp_op2(Importer *m, Op op, int a, int b, int slot);
int imp_cast(Importer *m, int x, DType t, int slot);
int imp_ints_op(Importer *m, Op op, int x, const char *attr, const int64_t *v, int n, int slot);
/* Decodes a TensorProto into a constant named name; -1 with a message. */
int imp_tensor(Importer *m, const Onnx__TensorProto *t, const char *name, bool param);
/* Binds ONNX output slot k to IR value v. */
void imp_bind(Importer *m, int k, int v);

/* Per-family additions (ONNX coverage and training), one block each. */
/* --- ew --- */
/* onnx_exotic.c: unpacks numel sub-byte elements (int4, uint4, float4,
 * int2, uint2) from raw bytes (raw != NULL) or int32_data into one byte
 * each; -1 if the packed count is not what numel needs. */
int dt_unpack(DType dt, const uint8_t *raw, size_t nraw, const int32_t *i32, size_t n32, int64_t numel,
	      uint8_t *out);
/* Cast/CastLike's saturate=0 and round_mode onto cast node nd; -1 with a
 * message for a round_mode other than "up" on an f8e8m0 target. */
int dt_cast_saturate(Importer *m, int nd);
int ew_simple(Importer *m, Op op); /* onnx_ew.c */
int ew_binary(Importer *m, Op op);
int ew_isinf(Importer *m, Op op);
int ew_mod(Importer *m, Op op);
int ew_bitshift(Importer *m, Op op);
int ew_variadic(Importer *m, Op op); /* Max, Min, Sum; Mean with op = OP_DIV */
bool ew_clip_runtime(const Importer *m);
int ew_clip(Importer *m, Op op);
int ew_pow_int(Importer *m, Op op);
int ew_castlike(Importer *m, Op op);
int ew_activation(Importer *m, Op op); /* by op_type: Elu, Selu, Celu, Gelu, ... */
int ew_prelu(Importer *m, Op op);
int ew_bitcast(Importer *m, Op op);
int ew_quantize(Importer *m, Op op);   /* onnx_ew_quant.c */
int ew_dequantize(Importer *m, Op op);
int ew_dynquantize(Importer *m, Op op);

/* --- red --- */
/* onnx_red.c: reductions, arg/cumulative ops, normalizations. */
int imp_reduce_red(Importer *m, Op op); /* op: the primitive, or OP_COUNT for a composite */
int imp_argmax(Importer *m, Op op);
int imp_hardmax(Importer *m, Op op);
int imp_cumsum(Importer *m, Op op);
int imp_layernorm(Importer *m, Op op);  /* LayerNormalization, RMSNormalization */
int imp_instnorm(Importer *m, Op op);
int imp_groupnorm(Importer *m, Op op);
int imp_lpnorm(Importer *m, Op op);
int imp_mvn(Importer *m, Op op);
int imp_lrn(Importer *m, Op op);
int imp_topk(Importer *m, Op op);
int imp_batchnorm_train(Importer *m, Op op); /* BatchNormalization in training mode */
/* onnx_einsum.c */
int imp_einsum(Importer *m, Op op);
/* onnx_attention.c */
int imp_attention(Importer *m, Op op);
int imp_linear_attention(Importer *m, Op op);
int imp_flex_attention(Importer *m, Op op);
int imp_rotary(Importer *m, Op op);

/* --- idx --- */
/* onnx_idx.c: handlers of the data-movement and indexing rows. */
/* Helpers of the idx handlers (onnx_idx.c), for onnx_idx_compose.c: a
 * binary node (value or -1); input k's static dims (rank or -1). */
int idx_bin(Importer *m, Op op, int a, int b);
int idx_static_dims(Importer *m, int k, int64_t *dims);
int idx_slice(Importer *m, Op op);
int idx_split(Importer *m, Op op);
int idx_expand(Importer *m, Op op);
int idx_tile(Importer *m, Op op);
int idx_constant_of_shape(Importer *m, Op op);
int idx_size(Importer *m, Op op);
int idx_range(Importer *m, Op op);
int idx_eyelike(Importer *m, Op op);
int idx_trilu(Importer *m, Op op);
int idx_depth_to_space(Importer *m, Op op);
int idx_space_to_depth(Importer *m, Op op);
int idx_gather_elements(Importer *m, Op op);
int idx_gather_nd(Importer *m, Op op);
int idx_scatter_elements(Importer *m, Op op);
int idx_scatter_nd(Importer *m, Op op);
/* onnx_idx_compose.c. idx_pad: Pad's modes edge, reflect, wrap and
 * negative pads (cropping), for op_pad. */
int idx_pad(Importer *m, const int64_t *pads, int np, double value, const char *mode);
int idx_compress(Importer *m, Op op);
int idx_reverse_sequence(Importer *m, Op op);
int idx_center_crop_pad(Importer *m, Op op);
int idx_onehot(Importer *m, Op op);
int idx_max_unpool(Importer *m, Op op);
/* onnx_resize.c */
int idx_resize(Importer *m, Op op);
int idx_upsample(Importer *m, Op op);

/* --- conv --- */
/* onnx_conv.c: Conv, ConvTranspose and the pools over 1-3 spatial dims. */
int onnx_conv(Importer *m, Op op);
int onnx_conv_integer(Importer *m, Op op);
int onnx_pool(Importer *m, Op op);
int onnx_lppool(Importer *m, Op op);
int onnx_global_lppool(Importer *m, Op op);
/* onnx_rnn.c: RNN, GRU and LSTM unrolled into primitives. */
int onnx_rnn(Importer *m, Op op);

/* --- train --- */
/* bn */
/* onnx_bn.c: training-mode BatchNormalization's running statistics as
 * buffer_update nodes (batch mean and population variance, keepdims). */
int imp_bn_buffer_updates(Importer *m, int x, int mean, int var, double mom);
/* ad */
/* onnx_loss.c: losses and OneHot as compositions of forward ops */
int imp_nll_loss(Importer *m, Op op);
int imp_sce_loss(Importer *m, Op op);
/* trn */
/* onnx_train.c: the ai.onnx.preview.training domain's optimizers
 * (Adagrad, Momentum, Adam); NULL for another op_type. */
const OnnxOp *onnx_find_training_op(const char *op_type);
/* rng */
/* onnx_rng.c: Dropout with training_mode = true (an IR dropout node). */
int imp_dropout_train(Importer *m);

/* --- misc --- */
/* onnx_misc.c: window functions, integer matmuls, RotaryEmbedding. */
int misc_window(Importer *m, Op op);
int misc_matmul_integer(Importer *m, Op op);
int misc_qlinear_matmul(Importer *m, Op op);
int misc_qlinear_conv(Importer *m, Op op);
/* onnx_signal.c: DFT and STFT as matmuls with constant tables. */
int misc_dft(Importer *m, Op op);
int misc_stft(Importer *m, Op op);
int misc_mel_weight_matrix(Importer *m, Op op);
/* onnx_misc_idx.c */
int misc_col2im(Importer *m, Op op);
int misc_tensor_scatter(Importer *m, Op op);
int misc_det(Importer *m, Op op);
/* onnx_grid.c: GridSample and AffineGrid. */
int misc_grid_sample(Importer *m, Op op);
int misc_affine_grid(Importer *m, Op op);
int misc_roi_align(Importer *m, Op op);

/* --- robust --- */
/* onnx_check.c: the newest default-domain opset nncc knows; checks of the
 * opset and of an attribute's value domain (0, or -1 with a message). */
enum { ONNX_MAX_OPSET = 27 };
int onnx_check_opset(Importer *m);
int onnx_check_attr_domain(Importer *m, const Onnx__AttributeProto *a);
/* The file's basename without extension, as a C identifier (onnx_check.c). */
char *onnx_model_name(Arena *a, const char *path);
/* onnx_extdata.c: the constant of a tensor whose data_location is
 * EXTERNAL (dtype dt, shape s, nbytes bytes), or -1 with a message. */
int onnx_external_tensor(Importer *m, const Onnx__TensorProto *t, const char *name, DType dt,
	Shape s, int64_t nbytes, bool param);
/* onnx.c: "FILE: tensor "NAME": ...", inside a node "FILE: node "N" (Op):
 * tensor ..."; returns -1. */
int onnx_tensor_err(Importer *m, const char *tname, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
