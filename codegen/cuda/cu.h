/* cu.h — private header of the CUDA C renderer: the state of one kernel
 * being rendered (cuda_kernel.c) shared with the expression printer
 * (cuda_expr.c). */
#ifndef NNCC_CU_H
#define NNCC_CU_H

#include <stdio.h>

#include "cuda.h"

typedef struct Cu {
	const KernelList *kl; /* the list */
	const Kernel *k;      /* the kernel being rendered */
	const CuLayout *lay;  /* device offsets of the buffers */
	FILE *f;              /* where the source goes */
	KxDag dag;            /* the body's distinct nodes */
	bool *done;           /* per dag node: its variable v<i> is in scope */
	int ind;              /* indentation depth (tabs) */
	bool block;           /* a block per row: reductions shared by its threads */
	bool hoist;           /* the output vars inside a row are walked after its reductions */
	bool fuse;            /* the call's epilogue runs in its store, element by element */
	const char *self;     /* inside a fused epilogue: the variable holding the call's result */
} Cu;

/* cuda_expr.c */
/* The C type of dtype t ("float", "i64", ...), NULL when the backend has
 * none (float8/4, int4/2). */
const char *cu_type(DType t);
/* Prints a line at the current indentation. */
void cu_line(Cu *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints `((T *)(m + OFF))`, buf's typed base pointer. */
void cu_base(Cu *c, int buf);
/* Prints an affine index over the loop vars i<v>. */
void cu_aff(Cu *c, const Aff *a);
/* Declares v<i> for dag node i (its operands already in scope) and
 * marks it done; a KX_REDUCE prints its loop nest, emitting the nodes of
 * its body that depend on reduction vars on demand. */
void cu_node(Cu *c, int i);
/* Whether node x can be computed block-wide (a float sum, product, max
 * or min; any node that is no reduction). */
bool cu_block_ok(const Kx *x);
/* Whether x reads the element a fused epilogue is computing (c->self). */
bool cu_is_self(const Cu *c, const Kx *x);
/* v<i> of node x, emitting it first when it depends on reduction vars. */
int cu_get(Cu *c, const Kx *x);
/* Prints expression text converting variable `v` from dtype `from` to `to`
 * (float to int saturates, NaN gives 0; anything to bool is != 0). */
void cu_conv(Cu *c, const char *v, DType from, DType to);
/* The device helpers every module starts with (types, conversions,
 * remainders, Philox). */
extern const char cu_preamble[];

#endif
