/* onnx_export.h — the ONNX exporter (`nncc --emit=onnx`, docs/export.md):
 * writes a Graph as an ONNX ModelProto (opset EX_OPSET of the default
 * domain) that ONNX Runtime and nncc's own importer run with the same
 * results. The reverse of onnx.c; it reads only the graph. */
#ifndef NNCC_ONNX_EXPORT_H
#define NNCC_ONNX_EXPORT_H

#include <stdio.h>

#include "../ir/ir.h"

enum {
	EX_OPSET = 17,      /* version of the default ONNX domain the export uses */
	EX_IR_VERSION = 8,  /* ModelProto.ir_version that goes with opset 17 */
};

/* Writes g (shapes inferred, live nodes in topological order) to f as a
 * serialized ModelProto: graph inputs and outputs with dtypes and shapes
 * (symbolic dims as dim_param), every constant the nodes read as an
 * initializer with raw_data, each IR node as one or more ONNX nodes.
 * Nothing is written unless every node maps: otherwise -1 with one
 * message per node that has no ONNX form, naming it. 0 on success, -1
 * also when writing fails. */
int fe_onnx_export(const Graph *g, FILE *f, Diag *d);
/* The same into a malloc'd buffer *buf of *len bytes (tests). */
int fe_onnx_export_mem(const Graph *g, void **buf, size_t *len, Diag *d);

#endif
