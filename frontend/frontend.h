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

#endif
