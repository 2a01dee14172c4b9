/* driver.h — what the nncc command's files share. */
#ifndef NNCC_DRIVER_H
#define NNCC_DRIVER_H

#include "codegen/codegen.h"
#include "ir/ir.h"

/* nncc.c: lower, plan, render and link g into the shared library out. */
int drv_build_so(Graph *g, const char *out, const CpuOptions *co, Diag *d);
/* test_onnx.c: `nncc test-onnx DIR...`; returns the exit status. */
int drv_test_onnx(int argc, char **argv);

#endif
