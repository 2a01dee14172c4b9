/* split_step.h — the driver's --split-step (split_step.c): a training
 * artifact with the fused step and its two halves. */
#ifndef NNCC_SPLIT_STEP_H
#define NNCC_SPLIT_STEP_H

#include "codegen/codegen.h"
#include "passes/passes.h"

/* The imported graph as text IR with all data (freed by the caller), or
 * NULL with a message. */
char *split_snapshot(const Graph *g, Diag *d);
/* Links fused (the planned step) and the two halves compiled from snap
 * into the shared library out. */
int split_emit_so(const char *snap, const KernelList *fused, const char *out, const Options *o,
		  const CpuOptions *co, Diag *d);

#endif
