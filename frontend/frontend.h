/* frontend.h — the frontends: each turns an input file into a Graph whose
 * node outputs already carry inferred dtypes and shapes. Input files are
 * untrusted: a frontend validates them and reports problems through Diag
 * with the file and node names; it never optimizes. */
#ifndef NNCC_FRONTEND_H
#define NNCC_FRONTEND_H

#include <stddef.h>

#include "../ir/ir.h"

/* onnx.c: reads an ONNX model (a serialized ModelProto). Returns the graph,
 * or NULL with messages in d. g->name is the file's basename without its
 * extension, made into a C identifier. */
Graph *fe_onnx_load(const char *path, Diag *d);
/* Same, from memory; display_name names the model in messages (and gives
 * g->name); it may be NULL. */
Graph *fe_onnx_load_mem(const void *buf, size_t len, const char *display_name, Diag *d);

/* bind.c: a graph input bound to a constant at compile time (--const). */
typedef struct FeConst {
	const char *name;          /* graph input name */
	DType dtype;               /* element type of data */
	int rank;                  /* entries of dims */
	int64_t dims[IR_MAX_RANK]; /* extents, row-major */
	const void *data;          /* the values, little-endian; copied */
	size_t nbytes;             /* bytes of data */
	const char *file;          /* where the data came from (messages), or NULL */
} FeConst;
/* Turns each named graph input of g into a literal constant holding its
 * data, after checking the data's dtype and shape against the input's
 * declared type. model names the model in messages. 0, or -1 with a
 * message per bad binding (unknown name, twice bound, type mismatch). */
int fe_bind_consts(Graph *g, const FeConst *c, int n, const char *model, Diag *d);
/* fe_onnx_load / fe_onnx_load_mem with inputs bound by fe_bind_consts
 * before any node is imported, so import handlers see the constants. */
Graph *fe_onnx_load_with(const char *path, const FeConst *c, int n, Diag *d);
Graph *fe_onnx_load_mem_with(const void *buf, size_t len, const char *display_name,
			     const FeConst *c, int n, Diag *d);

/* onnx_uses.c: the graph inputs of an ONNX model (initializers excepted),
 * in order, and whether each is used only where ONNX takes shapes, axes,
 * sizes or counts (Reshape.shape, Reduce*.axes, TopK.k, ...): test-onnx
 * binds only such integer inputs with --const. */
typedef struct FeInputUse {
	const char *name; /* graph input name (malloc'd) */
	int elem;         /* declared ONNX element type, -1 if not a typed tensor */
	int uses;         /* node inputs and graph outputs that read it */
	bool shape_only;  /* every use (at least one) is a shape position */
} FeInputUse;
/* True if input k of op_type (domain "" or "ai.onnx") decides shapes. */
bool fe_onnx_shape_position(const char *domain, const char *op_type, int k);
/* Fills *out (free with fe_onnx_inputs_free) and returns the count, or -1
 * with a message. */
int fe_onnx_inputs(const char *path, FeInputUse **out, Diag *d);
void fe_onnx_inputs_free(FeInputUse *in, int n);

#endif
