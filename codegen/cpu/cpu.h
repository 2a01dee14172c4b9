/* cpu.h — private header of the LLVM CPU backend (codegen/cpu/).
 *
 * llvm.c owns the module: target machine, weights, descriptor, the run
 * function, optimization and emission. llvm_kernel.c renders one Kernel of
 * the KernelList into an internal function `k<N>` whose arguments are the
 * base pointers of the storage the kernel touches (loops, hoisting, threads,
 * library calls and their epilogues), llvm_expr.c the value of each
 * expression node; llvm_args.c decides those arguments and checks each
 * kernel first. */
#ifndef NNCC_CPU_H
#define NNCC_CPU_H

#include <llvm-c/Core.h>

#include "../codegen.h"

typedef struct Cg {
	const KernelList *kl; /* what is rendered */
	LLVMContextRef ctx;   /* owns every type and constant below */
	LLVMModuleRef mod;    /* the artifact's module */
	LLVMBuilderRef b;     /* one builder, repositioned per function */
	const char *cpu;      /* "target-cpu" attribute of every function */
	const char *features; /* "target-features" attribute of every function */
	int opt_level;        /* 0..3; reductions may reassociate from 2 up */
	LLVMTypeRef t_void;   /* void */
	LLVMTypeRef t_i1;     /* i1 */
	LLVMTypeRef t_i8;     /* i8 */
	LLVMTypeRef t_i32;    /* i32 */
	LLVMTypeRef t_i64;    /* i64 */
	LLVMTypeRef t_ptr;    /* ptr (address space 0) */
} Cg;

/* llvm_args.c */
/* The storage a kernel touches, one entry per distinct base pointer, in the
 * order of its function's arguments: args[j] is a representative buffer
 * index. Buffers that share storage (same kind and index, or TEMP at the
 * same arena offset) share one argument. args needs room for kl->nbuf
 * entries; returns the count. */
int cpu_kernel_args(const KernelList *kl, const Kernel *k, int *args);
/* The argument holding buf's storage, or -1. */
int cpu_buf_arg(const KernelList *kl, const int *args, int nargs, int buf);
/* Whether argument j may be noalias: no other argument's bytes overlap it. */
bool cpu_arg_noalias(const KernelList *kl, const int *args, int nargs, int j);
/* Whether buffers i and j may share a byte. */
bool cpu_bufs_overlap(const KernelList *kl, int i, int j);
/* 0, or -1 with a message naming the kernel if it cannot be rendered. */
int cpu_check_kernel(Cg *cg, const Kernel *k, Diag *d);

/* One kernel being rendered (llvm_kernel.c), shared with llvm_expr.c and
 * llvm_epi.c. The
 * function being built takes the kernel's storage as its first nargs
 * parameters, so base pointers are always LLVMGetParam(fn, j). */
typedef struct Kc {
	Cg *cg;                   /* module-wide state */
	const KernelList *kl;     /* the list */
	const Kernel *k;          /* the kernel being rendered */
	int ki;                   /* its index (function names) */
	LLVMValueRef fn;          /* the function being built */
	int *args;                /* representative buffer of each argument (cpu_kernel_args) */
	int nargs;                /* argument count */
	LLVMValueRef var[KV_MAX]; /* current i64 value of each loop var, NULL outside its loop */
	KxDag dag;                /* the body's distinct nodes (cg_kx_dag) */
	LLVMValueRef *val;        /* per dag node: its value where it is in scope, else NULL */
	LLVMValueRef batch;       /* dynamic batch: the run's batch (i64) in k<N>, else NULL */
	LLVMValueRef bext;        /* Kernel.batch_var0: var 0's run-time extent in fn, else NULL */
} Kc;

/* llvm_batch.c: the dynamic batch. The run's batch from k<N>'s ctx (the
 * max when ctx is NULL); batch times ext / batch_max; an [n x i64] on the
 * stack holding v with element `at` replaced by x. */
LLVMValueRef cpu_batch(Kc *c);
LLVMValueRef cpu_batch_scale(Kc *c, LLVMValueRef batch, int64_t ext);
LLVMValueRef cpu_i64_array_at(Kc *c, const int64_t *v, int n, int at, LLVMValueRef x);

/* llvm_expr.c: types, constants, conversions and the value of one node. */
/* The LLVM type of one element of dtype t (bool, u8 and i8 are i8); NULL
 * for DT_UNDEF. */
LLVMTypeRef cpu_type(Cg *cg, DType t);
bool cpu_is_float(DType t);
/* v as a constant of dtype t; integers saturate, NaN becomes 0. */
LLVMValueRef cpu_const(Kc *c, DType t, double v);
LLVMValueRef cpu_i64(Kc *c, int64_t v);
/* Converts v from dtype `from` to dtype `to` (float to int saturates). */
LLVMValueRef cpu_conv(Kc *c, LLVMValueRef v, DType from, DType to);
/* A call of the overloaded intrinsic `name` (overloaded on a's type). */
LLVMValueRef cpu_intrin1(Kc *c, const char *name, LLVMValueRef a);
LLVMValueRef cpu_intrin2(Kc *c, const char *name, LLVMValueRef a, LLVMValueRef b);
/* llvm_kernel.c: the external function `name` of type fty, declared
 * nounwind in the module on first use. */
LLVMValueRef cpu_lib_fn(Kc *c, const char *name, LLVMTypeRef fty);
/* llvm_math.c: libm's `name` (double) or `name`f for f32/f64, other float
 * types through f32; exp and tanh of dtype t, inline for f32. */
LLVMValueRef cpu_libm(Kc *c, const char *name, LLVMValueRef a, DType t);
LLVMValueRef cpu_exp(Kc *c, LLVMValueRef a, DType t);
LLVMValueRef cpu_tanh(Kc *c, LLVMValueRef a, DType t);
/* llvm_exotic.c: cpu_conv where from or to is exotic (float8, float4,
 * int4, ...); sat: float8 overflow saturates (else NaN or infinity). */
LLVMValueRef cpu_conv_exotic(Kc *c, LLVMValueRef v, DType from, DType to, bool sat);
LLVMBasicBlockRef cpu_block(Kc *c, const char *name);
void cpu_phi_add(LLVMValueRef phi, LLVMValueRef v, LLVMBasicBlockRef bb);
/* Address of element idx of buf (the loop vars it uses must be bound). */
LLVMValueRef cpu_base(Kc *c, int buf); /* argument holding buf's storage; null for -1 */
LLVMValueRef cpu_elem_ptr(Kc *c, int buf, const Aff *idx);
LLVMValueRef cpu_aff(Kc *c, const Aff *a); /* an affine index as i64 (its vars bound) */
/* llvm_rng.c: KX_RANDOM from the seed a and the step b (i64). */
LLVMValueRef cpu_random(Kc *c, const Kx *x, LLVMValueRef a, LLVMValueRef b);
/* The value of x, any kind but KX_REDUCE, from its operands' values a and
 * b (each in its operand's own dtype; NULL where x has no such operand). */
LLVMValueRef cpu_node(Kc *c, const Kx *x, LLVMValueRef a, LLVMValueRef b);
/* KX_SELECT: cond (bool) != 0 ? a : b, converted to x's dtype. */
LLVMValueRef cpu_select(Kc *c, const Kx *x, LLVMValueRef cond, LLVMValueRef a, LLVMValueRef b);
/* A KX_REDUCE x: the type of its accumulator, its initial value, one step
 * acc (op) v (v in the operand's dtype for an arg reduction, else in
 * x's; pay: an arg reduction's payload in x's dtype, or NULL), and the
 * result from the final accumulator. */
LLVMTypeRef cpu_reduce_type(Kc *c, const Kx *x);
LLVMValueRef cpu_reduce_init(Kc *c, const Kx *x);
LLVMValueRef cpu_reduce_step(Kc *c, const Kx *x, LLVMValueRef acc, LLVMValueRef v, LLVMValueRef pay);
LLVMValueRef cpu_reduce_final(Kc *c, const Kx *x, LLVMValueRef acc);

/* llvm_kernel.c */
/* Builds the internal function `void k<ki>(args..., ptr ctx)` (and, for a
 * parallel schedule, its helpers k<ki>.body and k<ki>.chunk); NULL with a
 * message in d if the kernel uses something the backend cannot render. */
LLVMValueRef cpu_kernel(Cg *cg, int ki, Diag *d);
/* Adds nounwind and the target-cpu/target-features attributes. */
void cpu_fn_attrs(Cg *cg, LLVMValueRef fn);

/* llvm_epi.c: a convolution's epilogue as the kernel library's
 * nncc_abi_epi (runtime/abi.h), applied where the call stores. */
typedef struct CpuEpi {
	int n;        /* ops, in the order they apply */
	int op[4];    /* NNCC_EPI_* */
	float c[4];   /* their constants */
	int res;      /* NNCC_EPI_ADD's buffer, -1 if none */
} CpuEpi;
/* Whether kernel c->k (a KK_CONV2D) has an epilogue that the library
 * applies instead of the loop after the call: element by element, an add
 * of another buffer (not overlapping the output), then ReLU or a maximum
 * by a constant, then a minimum by one, each optional; then *e describes
 * it. */
bool cpu_conv_epi(const Kc *c, CpuEpi *e);
/* e as a private constant nncc_abi_epi. */
LLVMValueRef cpu_epi_const(Kc *c, const CpuEpi *e);

#endif
