/* passes.h — the internal header of the passes/ layer: options and the
 * passes, called in order by ps_pipeline() (pipeline.c). A pass that can
 * fail on bad input returns int (0, or -1 with a message in d); the others
 * are void. */
#ifndef NNCC_PASSES_H
#define NNCC_PASSES_H

#include "../ir/ir.h"

enum { PS_MAX_BINDINGS = 32 };

/* --shape NAME=D0,D1,...: the extents of one graph input. */
typedef struct ShapeBinding {
	const char *name;          /* graph input name */
	int rank;                  /* number of dims given */
	int64_t dims[IR_MAX_RANK]; /* extents */
} ShapeBinding;

typedef struct Options {
	int opt_level;               /* 0..3 (-O) */
	const char *print_after;     /* pass name, "all", or NULL (--print-after) */
	FILE *dump;                  /* where --print-after writes (stderr if NULL) */
	ShapeBinding bind[PS_MAX_BINDINGS]; /* --shape */
	int nbind;                   /* entries of bind */
	const char *passes;          /* --passes=LIST: exactly these passes, or NULL */
	const struct TrainOptions *train; /* --train: compile a training step (train block); NULL: inference */
	const char *batch_sym;       /* --max SYM=N: the symbolic dim that is the dynamic batch, or NULL */
	int64_t batch_max;           /* --max: the batch SYM is bound to (the most rows a run takes) */
} Options;

/* pipeline.c */
extern const char *const ps_pass_names[]; /* for --print-after, NULL-terminated */
int ps_pipeline(Graph *g, const Options *o, Diag *d);
/* Checks a --passes list ("fold,cse,dce"); 0, or -1 naming the bad entry. */
int ps_check_passes(const char *list, Diag *d);

/* shapes.c: binds --shape extents to graph inputs (and their symbols
 * everywhere), then re-infers every node's output dtype and shape. */
int ps_bind_shapes(Graph *g, const Options *o, Diag *d);
int ps_infer_shapes(Graph *g, Diag *d);
/* dynbatch.c: g ran the pipeline with the batch symbol bound to max, g2
 * (the same model) with max + 1: marks g's batch values (Graph.batch) and
 * refuses, naming the node, a graph that mixes the batch axis. */
int ps_batch_mark(Graph *g, const Graph *g2, int64_t max, Diag *d);

/* Simplification passes (-O1 up; --passes runs any of them). Each leaves
 * removed nodes dead for ps_dce and keeps graph output names. */
/* canon.c: reshape_dyn with a known target -> reshape (every -O level) */
void ps_canonicalize(Graph *g, const Options *o);
/* fold.c: nodes over constants evaluated by the reference interpreter */
void ps_fold(Graph *g, const Options *o);
/* fold.c: replaces shape(x) by a constant when x's shape is static (canon
 * uses it too); false if it cannot. */
bool ps_fold_shape(Graph *g, int node);
/* algebraic.c: x*1, x+0, identity, transpose and reshape chains, ... */
void ps_algebraic(Graph *g, const Options *o);
/* cse.c: same op, inputs and attributes -> one node */
void ps_cse(Graph *g, const Options *o);
/* bnfold.c: batchnorm folded into conv / matmul weights */
void ps_bnfold(Graph *g, const Options *o);

/* rewrite.c: helpers of the simplification passes. */
/* Removes node (one output) in favour of value `to`: its uses, graph outputs
 * included, read `to`. A graph output keeps its name: `to` takes it, or,
 * where `to` is an input, a parameter or another output, the node becomes
 * identity(to). False if nothing changed. */
bool ps_forward(Graph *g, int node, int to);
/* Turns node into reshape(x) {shape} giving the same output type, if its
 * output shape can be said as a shape attribute (known dims, 0 for a
 * symbol x has at the same position, one -1); false (node unchanged) if not. */
bool ps_make_reshape(Graph *g, int node, int x);
bool ps_const_data(const Graph *g, int v); /* a constant whose data is present and sized right */
bool ps_const_at(const Graph *g, int v, int64_t i, double *out); /* element i; false for f16/bf16 */

/* dce.c */
void ps_dce(Graph *g, const Options *o);

/* fuse.c: sets Node.group (kernel groups) from -O1 up; clears it at -O0. */
void ps_fuse(Graph *g, const Options *o);
/* fuse_clone.c: before fusion, a cheap pointwise value (one full-size
 * operand, the other a per-channel one) that several loops read gets a
 * node of its own for each, so each inlines it (ps_fuse calls it). */
void ps_fuse_clone(Graph *g);

/* --- training: loss, autodiff (ad) and optimizer, state (trn) --- */
/* bn */
/* train_bn.c: in a graph to train, each buffer_update becomes an assign to
 * new training state of role buffer (batch norm's running statistics);
 * sets fixed[v] (nval entries) for those and for the statistics that
 * inference-mode batchnorm nodes read: values never to be trained. 0, or
 * -1 with a message (a statistic updated twice). */
int ps_train_buffers(Graph *g, bool *fixed, Diag *d);
/* loss.c: adds the graph input `label` (int64 class indices of shape [N]
 * (or [N, d1, ...]) for cross_entropy/nll; the output's shape and dtype for
 * mse/bce_logits) and the loss `kind` ("mse", "cross_entropy",
 * "bce_logits", "nll") over model output value `out`, mean over the batch
 * as PyTorch's defaults do. Returns the scalar (rank-0) f32 loss value,
 * named "loss" (made unique), or -1 with a message. */
int ps_add_loss(Graph *g, const char *kind, int out, Diag *d);
/* autodiff.c: reverse-mode autodiff. Appends to g the nodes computing
 * d(loss)/d(wrt[i]) into grad[i] (a value index; a zero constant when loss
 * does not depend on wrt[i]). loss is a scalar float value. 0, or -1 with a
 * message naming every node on the path whose op has no gradient rule. */
int ps_autodiff(Graph *g, int loss, const int *wrt, int nwrt, int *grad, Diag *d);
bool ps_has_grad(Op op); /* the op has a gradient rule (ops.def's grad column) */
/* gradient.c: replaces every gradient(y, x) node (ONNX's preview Gradient)
 * by d(y, or the sum of y's elements)/dx from ps_autodiff; 0, or -1 with a
 * message. Run by ps_pipeline after canonicalization. */
int ps_gradients(Graph *g, Diag *d);
/* trn */
/* The optimizer of a training step (--optimizer=NAME:k=v,...), with
 * PyTorch's defaults and meanings (torch.optim.SGD, Adam, AdamW). */
typedef enum OptimKind {
	OPTIM_SGD,   /* lr momentum dampening weight_decay nesterov */
	OPTIM_ADAM,  /* lr beta1 beta2 eps weight_decay (L2, added to the gradient) */
	OPTIM_ADAMW, /* lr beta1 beta2 eps weight_decay (decoupled, default 0.01) */
} OptimKind;
typedef struct OptimSpec {
	OptimKind kind;      /* which update rule */
	double lr;           /* initial learning rate (a run-time input afterwards) */
	double momentum;     /* SGD: momentum factor, 0 = plain SGD */
	double dampening;    /* SGD: dampening of the momentum */
	bool nesterov;       /* SGD: Nesterov momentum */
	double weight_decay; /* all: L2 penalty (AdamW: decoupled decay) */
	double beta1, beta2; /* Adam(W): moment decay rates */
	double eps;          /* Adam(W): denominator term */
} OptimSpec;
/* Parses "sgd:lr=0.1,momentum=0.9" / "adam:lr=1e-3" / "adamw"; 0, or -1
 * naming the bad entry. */
int ps_parse_optimizer(const char *spec, OptimSpec *o, Diag *d);

/* optimizer.c: turns the parameters param[0..n-1] (VK_CONST values with
 * param=true) into training state updated in place from grad[i] by
 * optimizer spec o (SGD with momentum/dampening/nesterov/weight_decay,
 * Adam, AdamW), adding optimizer state, the run-time learning-rate input,
 * the step counter, and `assign` nodes. */
int ps_optimizer(Graph *g, const OptimSpec *o, const int *param, const int *grad, int n,
		 Diag *d);

enum { PS_MAX_FREEZE = 32 };
/* --train and its flags (tools/nncc.c fills it; docs/training.md). */
typedef struct TrainOptions {
	const char *loss;        /* --loss: mse, cross_entropy, bce_logits, nll */
	OptimSpec optim;         /* --optimizer */
	const char *freeze[PS_MAX_FREEZE]; /* --freeze=PREFIX: parameters kept fixed */
	int nfreeze;             /* entries of freeze */
	const char *grad_inputs; /* --grad-inputs=A,B: also output d(loss)/d(input), or NULL */
	const char *add_loss;    /* --add-loss=A,B: model outputs (scalars) added to the loss, or NULL */
	const char *const *remat; /* --max-memory: forward values recomputed in the backward pass (remat.c) */
	int nremat;              /* entries of remat */
	const char *augment;     /* --augment=X:T,...: augmentation of input X (rng.c), or NULL */
	bool augment_out;        /* --augment-output: also output augment.X, the augmented input */
	const char *label;       /* the label input's name (a .nn model's `label`), NULL: "label" */
	int split;               /* --split-step: PS_SPLIT_GRADS or _UPDATE compiles that half (split.c); 0: the step */
	bool split_step;         /* --split-step: the artifact adds the two halves (tools/split_step.c) */
	bool keep_shared;        /* --max-memory: no copies of shared cheap values (fuse_clone.c), whose
				    readers would keep the value's full-size operand to the end */
} TrainOptions;
/* train.c: loss, autodiff and optimizer over a shape-inferred graph whose
 * first output is the model's output; the graph's outputs become the loss
 * (then grad.NAME per --grad-inputs entry). */
int ps_train(Graph *g, const TrainOptions *t, Diag *d);
/* train.c, in ps_train before autodiff: maxpool(relu(x)) -> relu(maxpool(x))
 * where relu's output has no other reader and every window holds an
 * input element. The same values and gradients (max commutes with the
 * monotone relu, and the arg-max it routes a gradient to is relu's
 * wherever relu passes one), but relu and its adjoint run on the pooled
 * tensor, and the pool's adjoint feeds the producer's directly: ResNet's
 * stem loses a pass over its 112 x 112 activations. Returns the number
 * rewritten. */
int ps_pool_relu(Graph *g);
/* split.c: one half of a training step (docs/distributed.md), in ps_train
 * after the loss in place of autodiff and optimizer: the loss and grad.P
 * outputs (GRADS), or the optimizer reading grad.P inputs (UPDATE). */
enum { PS_SPLIT_GRADS = 1, PS_SPLIT_UPDATE = 2 };
struct RngState;
int ps_split(Graph *g, const TrainOptions *t, int loss, const int *wrt, int np,
	     const struct RngState *rs, Diag *d);
/* train.c: --mutable-weights: every f32 parameter becomes `param` state
 * that nothing assigns, so an inference model's session holds writable
 * weights (an application evaluates the weights it is training). Returns
 * the number of parameters marked. */
int ps_mutable_weights(Graph *g);

/* Whether node n is backward work: autodiff's "grad..." nodes and the
 * recomputations' "remat/..." clones (remat.c). */
bool ps_is_backward(const Node *n);
/* remat.c: recomputation of forward values in the backward pass
 * (--max-memory, docs/memory.md). */
typedef struct RematCand {
	const char *value; /* forward value the backward pass reads (graph name) */
	int64_t bytes;     /* its size */
	int cost;          /* 0: pointwise chain, 1: other ops, 2: a conv or matmul */
} RematCand;
/* Forward values that can be recomputed in the backward pass, in graph
 * order, into out[0..max-1]; their count. */
int ps_remat_candidates(const Graph *g, RematCand *out, int max);
/* Recomputes each named forward value right before its first backward
 * reader, which and all later backward readers read the copy; 0, or -1. */
int ps_remat(Graph *g, const char *const *values, int n, Diag *d);
/* Recomputes, in the backward pass, every forward value of at least 4096
 * elements whose recomputation is free: a chain of pointwise ops and views
 * whose other inputs are parameters, values at least 16 times smaller, or
 * values live at its one backward reader anyway, that reader pointwise too
 * (fusion inlines the copy there, so no buffer and no pass is added, and the
 * original dies in the forward pass). Run on every training step. The
 * number of values recomputed, or -1. */
int ps_remat_free(Graph *g, Diag *d);
/* Runs backward work that reads only forward values in the forward pass
 * where that lets a larger forward value die there: for a forward value v
 * whose backward readers are such work (but for at most one that
 * ps_remat_free can serve, which must run after this), the work's set
 * (a node and its forward-computable ancestors) that saves the fewest
 * bytes for the backward pass moves to right after its last forward
 * input, renamed "hoist/NAME", when it saves fewer bytes than v (the max
 * pool's arg-max offsets instead of its input). The number of sets moved. */
int ps_remat_hoist(Graph *g);
/* The ReLU adjoint's mask, relu(x) > 0, read as x > 0 (the same mask,
 * NaN and -0 included) where the ReLU is a recomputation in the backward
 * pass: the mask gets its own copy of the recomputed pointwise nodes that
 * lead to x from values there anyway after it (a batch norm's normalized
 * value and parameters), which fusion inlines into the mask's kernel, so
 * the recomputed ReLU output dies at its other reader (the convolution
 * weight gradient that reads it) rather than at the input gradient's
 * mask, or, the mask its only reader, is dead (ps_dce). Run after the
 * recomputations, before fusion. The number of masks rewritten, or -1. */
int ps_remat_masks(Graph *g, Diag *d);
/* sink.c: each backward node whose outputs outweigh the inputs that die
 * at it moved to right before its first reader (no assign between): the
 * residual shortcut's input gradient, which autodiff makes first, made
 * where the add reads it. Run before fusion. The number of nodes moved. */
int ps_sink(Graph *g);
/* Moves every optimizer update node (named "optimizer...", not the assigns)
 * to right after the last of its inputs, so a parameter's update runs as
 * soon as its gradient exists and the gradient and the activations it was
 * computed from die early. */
void ps_remat_early_updates(Graph *g);

/* rng */
/* rng.c: randomness in a training step (docs/training.md "Randomness"). */
enum { PS_MAX_AUGMENT = 16 };
typedef enum AugKind {
	AUG_HFLIP,    /* horizontal flip with p = 0.5 */
	AUG_CROP,     /* zero padding arg on each side, crop back at a random offset */
	AUG_CONTRAST, /* mean + f (x - mean), f uniform in [1 - arg, 1 + arg] */
} AugKind;
typedef struct AugStep {
	AugKind kind; /* the transform */
	double arg;   /* crop's padding, contrast's strength */
} AugStep;
typedef struct AugSpec {
	char input[128];                 /* the input augmented */
	AugStep step[PS_MAX_AUGMENT];    /* transforms in order */
	int n;                           /* entries of step */
} AugSpec;
/* Parses an --augment value "X:hflip,crop=4,contrast=0.2"; -1 with a message. */
int ps_augment_parse(const char *spec, AugSpec *a, Diag *d);
/* The spec parses and names an NCHW f32 input of g; -1 with a message. */
int ps_augment_check(const Graph *g, const char *spec, Diag *d);
/* What ps_rng_train made: value indices, -1 for none. */
typedef struct RngState {
	int seed;      /* the seed state */
	int step;      /* the step placeholder (ps_rng_bind_step replaces it) */
	int augmented; /* the augmented input (augment.X) */
} RngState;
/* First in ps_train: the seed state, --augment, dropout -> drawn masks. */
int ps_rng_train(Graph *g, const TrainOptions *t, RngState *st, Diag *d);
/* After the optimizer: the random ops read the `step` state. */
void ps_rng_bind_step(Graph *g, const RngState *st);
/* Outside --train (canon): dropout whose mask is unused becomes x. */
bool ps_dropout_identity(Graph *g, int node);

#endif
