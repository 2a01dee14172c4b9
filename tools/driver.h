/* driver.h — what the nncc command's files share. */
#ifndef NNCC_DRIVER_H
#define NNCC_DRIVER_H

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "ir/ir.h"

struct RtTensor;

/* nncc.c: lower, plan, render and link g into the shared library out. */
int drv_build_so(Graph *g, const char *out, const CpuOptions *co, Diag *d);
/* consts.c: --const NAME=FILE read into c (a malloc'd copy; drv_const_free
 * releases it); 0, or -1 with a message. */
int drv_read_const(const char *arg, FeConst *c, Diag *d);
/* The same from a tensor already read; file names it in messages (or NULL). */
int drv_const_from_tensor(const struct RtTensor *t, const char *name, const char *file, FeConst *c,
			  Diag *d);
void drv_const_free(FeConst *c);
/* test_onnx.c: `nncc test-onnx DIR...`; returns the exit status. */
int drv_test_onnx(int argc, char **argv);

#endif
