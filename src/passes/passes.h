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
	int nbind;
} Options;

/* pipeline.c */
extern const char *const ps_pass_names[]; /* for --print-after, NULL-terminated */
int ps_pipeline(Graph *g, const Options *o, Diag *d);

/* shapes.c: binds --shape extents to graph inputs (and their symbols
 * everywhere), then re-infers every node's output dtype and shape. */
int ps_bind_shapes(Graph *g, const Options *o, Diag *d);
int ps_infer_shapes(Graph *g, Diag *d);

/* dce.c */
void ps_dce(Graph *g, const Options *o);

#endif
