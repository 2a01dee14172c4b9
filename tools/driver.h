/* driver.h — what the nncc command's files share. */
#ifndef NNCC_DRIVER_H
#define NNCC_DRIVER_H

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "ir/ir.h"

struct RtTensor;
struct Options;

/* nncc.c: lower, plan, render and link g into the shared library out. */
int drv_build_so(Graph *g, const char *out, const CpuOptions *co, Diag *d);
/* consts.c: --const NAME=FILE read into c (a malloc'd copy; drv_const_free
 * releases it); 0, or -1 with a message. */
int drv_read_const(const char *arg, FeConst *c, Diag *d);
/* The same from a tensor already read; file names it in messages (or NULL). */
int drv_const_from_tensor(const struct RtTensor *t, const char *name, const char *file, FeConst *c,
			  Diag *d);
void drv_const_free(FeConst *c);
/* batch.c: --max SYM=N (N >= 2, once) into o; -1 if malformed. */
int drv_parse_max(const char *v, struct Options *o);
/* batch.c: g2 (the model loaded again, NULL when that failed; freed
 * here) gets weights (if not NULL) through load_w and the pipeline with
 * the batch at max + 1; then g's batch values are marked (ps_batch_mark). */
int drv_batch_mark(Graph *g, Graph *g2, const struct Options *o, const char *weights,
		   int (*load_w)(Graph *g, const char *path, Diag *d), Diag *d);
/* test_onnx.c: `nncc test-onnx DIR...`; returns the exit status. */
int drv_test_onnx(int argc, char **argv);

#endif
