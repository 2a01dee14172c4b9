/* codegen.h — the internal header of the codegen/ layer.
 *
 * lower.c turns an optimized, shape-inferred Graph into a KernelList: a
 * target-neutral list of kernels over numbered buffers. A kernel is either
 *   - a loop nest (KK_LOOP): an iteration space of output vars (and
 *     reduction vars), an expression tree of loads and math, and one store
 *     (indices affine, plus run-time KX_IDX terms for gathers/scatters);
 *   - an external call (KK_MATMUL, KK_CONV2D) that the runtime's kernel
 *     library implements (OpenBLAS GEMM underneath).
 * Backends render the same list: cpu/llvm.c into LLVM IR. Nothing
 * target-specific lives in this file's data structures. */
#ifndef NNCC_CODEGEN_H
#define NNCC_CODEGEN_H

#include "../ir/ir.h"

enum { KV_MAX = 16 }; /* loop variables per kernel (output + reduction) */

/* Affine index: c + sum_v k[v] * var[v]. Indices count elements. */
typedef struct Aff {
	int64_t c;
	int64_t k[KV_MAX];
} Aff;

/* A bounds guard on a load: the load happens only if lo <= e < hi. */
typedef struct Guard {
	Aff e;
	int64_t lo, hi;
} Guard;

typedef enum KxKind {
	KX_CONST,  /* c */
	KX_LOAD,   /* buf[idx], or fill when a guard fails */
	KX_VALID,  /* 1 if every guard holds, else 0 (e.g. pooling divisors) */
	KX_UNARY,  /* op(a) */
	KX_BINARY, /* op(a, b) */
	KX_REDUCE, /* reduce op over the kernel's reduction vars of a */
	KX_SELECT, /* cond != 0 ? a : b (where) */
	KX_IDX,    /* run-time index: wrap(a) * stride (+ b), -1 when out of range (see below) */
	KX_RANDOM, /* f32 in [0, 1): ir_random_uniform(seed a, step b, stream c, element idx) (rng) */
} KxKind;

typedef enum KuOp {
	KU_NEG, KU_ABS, KU_EXP, KU_LOG, KU_SQRT, KU_RELU, KU_SIGMOID, KU_TANH,
	/* ew family: logic, bits, trigonometry, rounding, classification */
	KU_NOT,    /* a == 0 (bool result from any operand type) */
	KU_BITNOT, /* ~a, integers */
	KU_SIN, KU_COS, KU_TAN, KU_ASIN, KU_ACOS, KU_ATAN,
	KU_SINH, KU_COSH, KU_ASINH, KU_ACOSH, KU_ATANH, KU_ERF,
	KU_FLOOR, KU_CEIL,
	KU_ROUND,  /* to nearest, ties to even */
	KU_SIGN,   /* -1, 0 or 1 (NaN stays NaN) */
	KU_RECIP,  /* 1 / a */
	KU_ISNAN, KU_ISINF, KU_ISPOSINF, KU_ISNEGINF, /* bool results */
	KU_BITCAST, /* a's bits read as the node's dtype (same size) */
} KuOp;

typedef enum KbOp {
	KB_ADD, KB_SUB, KB_MUL, KB_DIV, KB_MAX, KB_MIN,
	KB_POW, /* a ** b, floats only (lowering converts integers through f64) */
	/* ew family. Comparisons give bool and compare in the operands' dtype
	 * (a's; b has the same); NaN compares unequal to everything. */
	KB_EQ, KB_LT, KB_LE, KB_GT, KB_GE,
	KB_AND, KB_OR, KB_XOR, /* bitwise, integers and bool */
	KB_MOD,  /* integers: remainder with the divisor's sign (x mod 0 gives x) */
	KB_FMOD, /* remainder with the dividend's sign (C fmod; integers: %, x % 0 gives x) */
	KB_SHL, KB_SHR, /* shifts of unsigned integers; a count >= the width gives 0 */
} KbOp;

typedef enum KrOp {
	KR_SUM, KR_MAX, KR_MIN,
	KR_PROD,   /* product, 1 when empty */
	KR_ARGMAX, /* row-major index over the reduction vars of the first maximum of a
	              (a NaN counts as the maximum), 0 when empty; a keeps its own dtype.
	              With b set (a payload), b's value there instead of the index */
	KR_ARGMIN, /* likewise the first minimum (a NaN counts as the minimum) */
} KrOp;

typedef struct Kx {
	KxKind kind;
	DType dtype;     /* type of the result; loads convert from the buffer's type */
	int op;          /* KuOp, KbOp or KrOp; KX_IDX: 1 when a is a constant whose every value is in [0, ext) (no wrap, no check) */
	double c;        /* KX_CONST value */
	int buf;         /* KX_LOAD: buffer index */
	Aff idx;         /* KX_LOAD: element index; KX_RANDOM: the element's counter index */
	int nguard;      /* KX_LOAD, KX_VALID */
	Guard *guard;
	double fill;     /* KX_LOAD: value when a guard fails */
	struct Kx *a, *b; /* operands; KX_REDUCE: a is the body (b: KR_ARGMAX/KR_ARGMIN's payload or NULL); KX_LOAD: a, if set, a KX_IDX */
	struct Kx *cond;  /* KX_SELECT: the condition (bool); NULL otherwise */
	int64_t ext;     /* KX_IDX: extent of the indexed dim */
	int64_t stride;  /* KX_IDX: element stride of the indexed dim */
} Kx;

/* Whether a unary/binary op yields bool from operands of another dtype
 * (comparisons, not, isnan, isinf): it works in its operand's dtype. */
static inline bool cg_kx_pred(const Kx *x)
{
	if (x->kind == KX_UNARY)
		return x->op == KU_NOT || (x->op >= KU_ISNAN && x->op <= KU_ISNEGINF);
	return x->kind == KX_BINARY && x->op >= KB_EQ && x->op <= KB_GE;
}

/* Data-dependent indexing (gather, scatter): a KX_IDX reads an integer
 * index a computed at run time, wraps a negative one once (a + ext) and,
 * when 0 <= it < ext, gives it times stride plus b (b: another KX_IDX
 * chained for a multi-dim index, or NULL for 0); otherwise, or when b is
 * -1, it gives -1. A KX_LOAD with operand a loads buf[idx + a] when a >= 0
 * and every guard holds, else fill: an index out of range reads fill and
 * never touches memory outside the buffer. */

/* Kx trees may share nodes (a DAG): a node reached twice denotes ONE value,
 * computed once per point of the loops it depends on. A KX_REDUCE is
 * evaluated at the innermost output loop whose var its body uses (it is
 * hoisted out of loops it does not depend on), so softmax's max and sum are
 * computed once per row even when the same kernel stores every element. */

typedef enum KernelKind {
	KK_LOOP,   /* loop nest, see Kernel.loop fields */
	KK_MATMUL, /* batched GEMM, see Kernel.mm */
	KK_CONV2D, /* 2-D convolution (NCHW, OIHW weights), see Kernel.conv */
} KernelKind;

/* Schedule: how the loops of one kernel run, decided by sched.c apart from
 * what they compute. Backends honour it; kprint shows it in the loop nest. */
typedef struct Sched {
	int par_var;          /* output var whose range is split across threads, -1: serial */
	int64_t par_chunks;   /* number of chunks par_var's range is split into (>= 1) */
	int vec_var;          /* output var to vectorize (innermost), -1: none */
	int vec_width;        /* vector lanes hint, 0: leave to the backend */
	bool whole_batch;     /* a convolution called once over every image, its epilogue
	                         after (a small output); else image by image where it can */
} Sched;

/* Kernel.batch_call: the library call's size that the run's batch sets. */
enum {
	KB_CALL_NONE = 0, /* fixed sizes */
	KB_CALL_M,        /* mm.m: mm.m / batch_max rows per sample */
	KB_CALL_BEXT,     /* mm.bext[0] is the batch */
	KB_CALL_N,        /* conv.n, the image count, is the batch */
};

typedef struct Kernel {
	KernelKind kind;
	const char *name; /* for reports: the source node's name or op */
	int node;         /* source node index in the graph, -1 if none */
	int *nodes;       /* every graph node fused into this kernel, in order (arena) */
	int nnodes;       /* count of nodes (1 when unfused; 0 for copy kernels) */
	Sched sched;      /* loops: threads and vectors */

	/* KK_LOOP: vars 0..nout_var-1 walk the output, nout_var..nvar-1 are
	 * reduction vars walked by every KX_REDUCE in body.
	 * KK_MATMUL / KK_CONV2D: an optional fused epilogue, applied in place
	 * to every element of the call's output after the call: vars
	 * 0..nout_var-1 walk the output (extent = its dims), body (NULL when
	 * there is no epilogue) reads the call's result as a KX_LOAD of `out`
	 * at out_idx and is stored back at out_idx (e.g. bias, relu, residual
	 * add). out is the call's output buffer. */
	int nvar;
	int nout_var;
	int64_t extent[KV_MAX];
	int out;          /* buffer written */
	Aff out_idx;      /* element index of the store */
	Kx *body;         /* value stored */
	Kx *out_dyn;      /* KK_LOOP: run-time part of the store index (a KX_IDX), added to
	                     out_idx; the point is skipped when it is -1. NULL: none. Such a
	                     kernel runs serially in order (scatters: the last update wins) */
	/* dynamic batch (codegen/dynbatch.c): var 0 walks extent[0] / batch_max rows per
	 * sample, batch of them at run time (a loop, or a call's epilogue) */
	bool batch_var0;
	int batch_call;   /* KK_MATMUL/KK_CONV2D: which size is the run's batch (KB_CALL_*) */

	/* KK_MATMUL: for every batch index b (up to 4 batch dims, row-major),
	 * C[b] (m x n) = op(A[b]) (m x k) * op(B[b]) (k x n); op transposes
	 * when trans_* is set. Element offsets of each matrix per batch dim are
	 * sa/sb/sc (0 broadcasts). Row-major, leading dims from trans flags. */
	struct {
		int a, b, c;            /* buffers */
		int nbatch;
		int64_t bext[4];        /* batch extents */
		int64_t sa[4], sb[4], sc[4];
		int64_t m, n, k;
		int trans_a, trans_b;
	} mm;

	/* KK_CONV2D: y[n,k,oh,ow] = bias[k] + sum wt[k,c',i,j] * x[n,g*C/G+c',..];
	 * with nd set, the same over (d, h, w), or (transpose) its adjoint
	 * y[n,g*K/G+k', i*s-p+j*dil] += x[n,c,i] * wt[c,k',j] (plus bias). */
	struct {
		int x, wt, bias, y;     /* buffers: input, weights, bias (-1 when absent), output */
		int scratch;            /* buffer for im2col, -1 when none needed */
		int64_t n, c, h, w;     /* input */
		int64_t k, oh, ow;      /* output channels and size */
		int64_t kh, kw;         /* window */
		int64_t sh, sw, ph, pw, dh, dw; /* strides, top/left pads, dilations */
		int64_t group;
		int wino_u;             /* the weight is not a constant: 1, scratch also holds its Winograd transform (nncc_abi_wino_uscratch); NNCC_ABI_WINO_FUSED, made panel by panel */
		int swap;               /* 2-D, group 1: NNCC_CONV_SWAP_* (runtime/abi.h), how x, wt and y lie in
					   their buffers (codegen/lower_swap.c); 0: as their shapes say */
		int lean;               /* 2-D: the scratch by the lean rules (Graph.lean_scratch; the call's
					   p[17] carries NNCC_CONV_LEAN) */
		/* the general call (nncc_rt_convnd_f32), for 3-D windows and conv-transpose */
		int nd;                 /* 1: general call, 3-D geometry (1-D/2-D: leading extents 1) */
		int transpose;          /* nd only: conv-transpose, wt [C, K/G, kd, kh, kw], c/h/w input */
		int64_t d, od, kd;      /* nd only: depth of input, output and window */
		int64_t sd, pd, dd;     /* nd only: depth stride, front pad, dilation */
	} conv;

	/* KK_LOOP of a 1-D or 2-D f32 pool reading buffer x (no producer
	 * fused): the geometry of the kernel library's nncc_rt_pool2d_f32
	 * (runtime/abi.h), which a CPU backend may call instead of running the
	 * loop nest; the loop stays the definition. on: 0 for other kernels. */
	struct {
		int on;
		int x;
		int64_t p[19];
	} pool;
} Kernel;

typedef enum BufKind {
	BUF_INPUT,  /* caller's input tensor, index = position */
	BUF_OUTPUT, /* caller's output tensor, index = position */
	BUF_PARAM,  /* constant/weights, index = position in the param array */
	BUF_TEMP,   /* intermediate in the arena at offset */
	BUF_STATE,  /* training state (Value.state): index = position in the param array, session-owned and writable */
} BufKind;

typedef struct Buf {
	BufKind kind;
	DType dtype;
	int64_t numel;
	int64_t nbytes;
	int index;       /* INPUT/OUTPUT/PARAM: position in the call's array */
	int64_t offset;  /* TEMP: byte offset in the arena (memory plan) */
	int value;       /* graph value it holds, -1 for scratch */
	int first, last; /* TEMP: kernel indices of its first write and last read (plan.c) */
	int inplace;     /* TEMP: buffer whose bytes this one reuses in place, -1 if none (plan.c) */
	/* A concat input written straight into the concat's output (lower_ew.c):
	 * a TEMP whose bytes are the sub-range [alias_offset, alias_offset +
	 * nbytes) of buffer `alias` (a TEMP or an OUTPUT that is never an alias
	 * itself; or a STATE whose update runs in place, lower_train.c). An alias gets no arena space of its own (offset unused); the
	 * parent's live interval covers its aliases' uses, and neither ever runs
	 * in place. Base address: the parent's base + alias_offset. */
	int alias;            /* parent buffer, -1 if none */
	int64_t alias_offset; /* byte offset in the parent */
} Buf;

typedef struct KernelList {
	const Graph *g;
	Buf *buf;
	int nbuf;
	Kernel *k;
	int nk;
	int *param_value; /* graph value of each BUF_PARAM index */
	int nparam;
	int64_t arena_bytes; /* set by the memory plan */
	int64_t batch_max;   /* dynamic batch: the most rows a run takes (sizes are its); 0: fixed */
	Arena arena;      /* Kx trees, guards, names */
} KernelList;

/* lower.c: graph -> kernels. Needs static shapes everywhere; -1 with a
 * message naming the node otherwise (or for an op/dtype it cannot lower). */
int cg_lower(const Graph *g, KernelList *kl, Diag *d);
void cg_free(KernelList *kl);
/* dynbatch.c: with a dynamic batch (Graph.batch_max), proves every kernel
 * walks the batch rows apart and marks which sizes the run's batch sets
 * (Kernel.batch_var0, batch_call); -1 naming the kernel otherwise. */
int cg_batch_check(KernelList *kl, Diag *d);
/* sched.c: fills every kernel's Sched (parallel var and chunks, vector
 * var and width) for a target whose vectors hold vec_bytes bytes
 * (0: let the backend choose). Chunk counts do not depend on the thread
 * count at run time. */
void cg_schedule(KernelList *kl, int vec_bytes);
/* Product of k->extent[from..to-1], saturating (sched.c). */
int64_t cg_span(const Kernel *k, int from, int to);

/* sched.c, added for the backends (and sched.c itself): the analysis of
 * one kernel's expression DAG. Every distinct node once, children before
 * parents, with the loop vars it depends on. A KX_REDUCE depends on the
 * output vars its body uses (never on the reduction vars it walks); any
 * other node on the vars of its indices, its guards and its operands. */
typedef struct KxInfo {
	const Kx *x;   /* the node */
	uint32_t vars; /* bit v: depends on loop var v */
	int level;     /* output loops that must be open to evaluate it: 1 + its innermost output var, 0 if none */
	bool inner;    /* depends on a reduction var: evaluated inside a KX_REDUCE's loops */
} KxInfo;
typedef struct KxDag {
	KxInfo *node;   /* distinct nodes of the body, post-order (malloc'd) */
	int n;          /* count */
	const Kx **key; /* hash table of nodes (open addressing), for cg_kx_find */
	int *val;       /* index into node of each key */
	int cap;        /* table size, a power of two */
} KxDag;
/* Builds the DAG of k->body (empty when body is NULL). */
void cg_kx_dag(const Kernel *k, KxDag *d);
/* Index of x in d->node, or -1. */
int cg_kx_find(const KxDag *d, const Kx *x);
void cg_kx_dag_free(KxDag *d);
/* plan.c: live intervals over the kernel order, in-place reuse, best-fit
 * packing of BUF_TEMP buffers (aliases excepted: they live in their parent)
 * into one arena; sets offset, first/last, inplace and arena_bytes. */
void cg_plan(KernelList *kl);
typedef struct PlanStats {
	int64_t naive;       /* every temporary its own buffer */
	int64_t lower_bound; /* max over kernels of the bytes live at once */
	int64_t arena;       /* the planned arena */
} PlanStats;
void cg_plan_stats(const KernelList *kl, PlanStats *st);
/* Proves the plan sound: no two temporaries live at the same kernel share
 * a byte, except an in-place pair; every temporary inside the arena; every
 * alias inside its parent, apart from its siblings. */
int cg_plan_check(const KernelList *kl, Diag *d);
/* report.c: --report: kernels (fused ops, FLOPs, bytes), the memory plan
 * and the three PlanStats numbers. */
void cg_report(const KernelList *kl, FILE *f);
/* kprint.c: prints the kernel list as loop nests (--emit=kernels). */
void cg_print(const KernelList *kl, FILE *f);
/* report_train.c: --report's memory of a training step by kind
 * (parameters, optimizer state, saved activations, gradients, workspace);
 * nothing for an inference model. */
void cg_report_train(const KernelList *kl, FILE *f);
/* lower_train.c: proves the training-state order: each state buffer is
 * written by one kernel, after every kernel that reads it. */
int cg_state_check(const KernelList *kl, Diag *d);

/* cpu/: LLVM backend. */
typedef struct CpuOptions {
	int opt_level;        /* 0..3 */
	const char *cpu;      /* NULL: host CPU */
	const char *features; /* NULL: host features */
} CpuOptions;

/* Renders kl into an LLVM module and writes one of: an object file
 * (emit_llvm == 0) or textual LLVM IR (emit_llvm == 1) to path. */
int cg_cpu_emit(const KernelList *kl, const CpuOptions *o, const char *path, int emit_llvm, Diag *d);
/* link.c: links an object into a shared library with the runtime kernel
 * library. Writes to a temporary and renames, so no partial output. */
int cg_link_so(const char *obj, const char *out, Diag *d);
/* The same for nobj (1 to 8) objects: a split training step's three models. */
int cg_link_so_objs(const char *const *objs, int nobj, const char *out, Diag *d);

#endif
