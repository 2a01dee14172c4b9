/* onnx_export_impl.h — internals shared by the exporter's two files:
 * onnx_export.c (the driver: names, initializers, value infos, writing)
 * and onnx_export_ops.c (the op table: IR op -> ONNX nodes, one function
 * per op family). Not used outside frontend/.
 *
 * A family function reads one IR node and appends ONNX nodes through
 * ex_node(), adding the constant inputs ONNX wants as tensors (axes, pads,
 * shapes) as initializers with ex_const_*(). Every proto message and
 * string lives in the exporter's arena. */
#ifndef NNCC_ONNX_EXPORT_IMPL_H
#define NNCC_ONNX_EXPORT_IMPL_H

#include "onnx.pb-c.h"

#include "../ir/ir.h"
#include "onnx_export.h"

/* A hash set of names (open addressing; arena-owned strings). */
typedef struct NameSet {
	const char **tab; /* slots, NULL when empty */
	size_t n, cap;    /* used, slots (a power of two) */
} NameSet;

typedef struct Exporter {
	const Graph *g;               /* graph being exported */
	Diag *d;                      /* where errors go */
	Arena arena;                  /* every message, array and string made */
	Onnx__NodeProto **node;       /* ONNX nodes, in order */
	size_t nnode, capnode;        /* used, allocated */
	Onnx__TensorProto **init;     /* initializers */
	size_t ninit, capinit;        /* used, allocated */
	NameSet values;               /* every value name taken */
	NameSet nodes;                /* every node name taken */
	const char **vname;           /* ONNX name of each IR value (index by value) */
	int nerr;                     /* nodes and values that could not be exported */
} Exporter;

/* One family function: appends the ONNX nodes computing IR node `node`.
 * 0, or -1 after ex_unsupported(). */
typedef int (*ExportFn)(Exporter *x, int node);

/* onnx_export_ops.c: the op table. */
typedef struct ExRule {
	const char *op_type; /* ONNX op_type for the plain 1:1 case, NULL if none */
	ExportFn fn;         /* family function; NULL: the op has no ONNX form */
} ExRule;
extern const ExRule ex_rules[OP_COUNT];

/* onnx_export.c: helpers for the family functions. */
/* ONNX name of IR value v; "" for -1 (an omitted optional input). */
const char *ex_val(const Exporter *x, int v);
/* A fresh value name "<base>/<what>", unique in the model. */
const char *ex_tmp(Exporter *x, const char *base, const char *what);
/* Appends a node of op_type named after IR node `node`, with the given
 * input and output names (copied). */
Onnx__NodeProto *ex_node(Exporter *x, int node, const char *op_type, const char *const *in,
			 int nin, const char *const *out, int nout);
void ex_attr_int(Exporter *x, Onnx__NodeProto *p, const char *name, int64_t v);
void ex_attr_float(Exporter *x, Onnx__NodeProto *p, const char *name, double v);
void ex_attr_ints(Exporter *x, Onnx__NodeProto *p, const char *name, const int64_t *v, int n);
void ex_attr_string(Exporter *x, Onnx__NodeProto *p, const char *name, const char *s);
/* Copies IR attribute `ir` of the node (if set) to ONNX attribute `onnx`. */
void ex_copy_attr(Exporter *x, Onnx__NodeProto *p, const Node *n, const char *ir, const char *onnx);
/* Initializers made for the export, named "<base>/<what>": a 1-D i64
 * tensor (rank 0 when scalar), or a scalar of dtype t holding v. */
const char *ex_const_i64(Exporter *x, const char *base, const char *what, const int64_t *v, int n,
			 bool scalar);
const char *ex_const_scalar(Exporter *x, const char *base, const char *what, DType t, double v);
/* Reports IR node `node` as not exportable, with the reason; returns -1. */
int ex_unsupported(Exporter *x, int node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The ONNX element type code of t, or 0 if ONNX opset EX_OPSET has none. */
int ex_onnx_dtype(DType t);

#endif
