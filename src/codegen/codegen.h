/* codegen.h — the internal header of the codegen/ layer.
 *
 * lower.c turns an optimized, shape-inferred Graph into a KernelList: a
 * target-neutral list of kernels over numbered buffers. A kernel is either
 *   - a loop nest (KK_LOOP): an iteration space of output vars (and
 *     reduction vars), an expression tree of loads and math, and one store;
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
} KxKind;

typedef enum KuOp {
	KU_NEG, KU_ABS, KU_EXP, KU_LOG, KU_SQRT, KU_RELU, KU_SIGMOID, KU_TANH,
} KuOp;

typedef enum KbOp {
	KB_ADD, KB_SUB, KB_MUL, KB_DIV, KB_MAX, KB_MIN,
} KbOp;

typedef enum KrOp {
	KR_SUM, KR_MAX, KR_MIN,
} KrOp;

typedef struct Kx {
	KxKind kind;
	DType dtype;     /* type of the result; loads convert from the buffer's type */
	int op;          /* KuOp, KbOp or KrOp */
	double c;        /* KX_CONST value */
	int buf;         /* KX_LOAD: buffer index */
	Aff idx;         /* KX_LOAD: element index */
	int nguard;      /* KX_LOAD, KX_VALID */
	Guard *guard;
	double fill;     /* KX_LOAD: value when a guard fails */
	struct Kx *a, *b; /* operands; KX_REDUCE: a is the body */
} Kx;

typedef enum KernelKind {
	KK_LOOP,   /* loop nest, see Kernel.loop fields */
	KK_MATMUL, /* batched GEMM, see Kernel.mm */
	KK_CONV2D, /* 2-D convolution (NCHW, OIHW weights), see Kernel.conv */
} KernelKind;

typedef struct Kernel {
	KernelKind kind;
	const char *name; /* for reports: the source node's name or op */
	int node;         /* source node index in the graph, -1 if none */

	/* KK_LOOP: vars 0..nout_var-1 walk the output, nout_var..nvar-1 are
	 * reduction vars walked by every KX_REDUCE in body. */
	int nvar;
	int nout_var;
	int64_t extent[KV_MAX];
	int out;          /* buffer written */
	Aff out_idx;      /* element index of the store */
	Kx *body;         /* value stored */

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

	/* KK_CONV2D: y[n,k,oh,ow] = bias[k] + sum wt[k,c',i,j] * x[n,g*C/G+c',..] */
	struct {
		int x, wt, bias, y;     /* buffers: input, weights, bias (-1 when absent), output */
		int scratch;            /* buffer for im2col, -1 when none needed */
		int64_t n, c, h, w;     /* input */
		int64_t k, oh, ow;      /* output channels and size */
		int64_t kh, kw;         /* window */
		int64_t sh, sw, ph, pw, dh, dw; /* strides, top/left pads, dilations */
		int64_t group;
	} conv;
} Kernel;

typedef enum BufKind {
	BUF_INPUT,  /* caller's input tensor, index = position */
	BUF_OUTPUT, /* caller's output tensor, index = position */
	BUF_PARAM,  /* constant/weights, index = position in the param array */
	BUF_TEMP,   /* intermediate in the arena at offset */
} BufKind;

typedef struct Buf {
	BufKind kind;
	DType dtype;
	int64_t numel;
	int64_t nbytes;
	int index;       /* INPUT/OUTPUT/PARAM: position in the call's array */
	int64_t offset;  /* TEMP: byte offset in the arena (memory plan) */
	int value;       /* graph value it holds, -1 for scratch */
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
	Arena arena;      /* Kx trees, guards, names */
} KernelList;

/* lower.c: graph -> kernels. Needs static shapes everywhere; -1 with a
 * message naming the node otherwise (or for an op/dtype it cannot lower). */
int cg_lower(const Graph *g, KernelList *kl, Diag *d);
void cg_free(KernelList *kl);
/* plan.c: assigns arena offsets to BUF_TEMP buffers, sets arena_bytes. */
void cg_plan(KernelList *kl);
/* kprint.c: prints the kernel list as loop nests (--emit=kernels). */
void cg_print(const KernelList *kl, FILE *f);

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

#endif
