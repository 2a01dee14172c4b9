/* kinterp.h — a reference interpreter of a KernelList, the oracle that lets
 * tests check lowering (and the memory plan) independently of LLVM. */
#ifndef NNCC_KINTERP_H
#define NNCC_KINTERP_H

#include "codegen.h"

/* Runs kl (lowered and planned) on inputs[0..] matched by BUF_INPUT index;
 * fills outputs[0..g->noutput-1] with malloc'd tensors (free with
 * ir_tensor_free). Computes in double precision and stores into buffers of
 * their dtype; temporaries live in one arena of kl->arena_bytes at their
 * planned offsets. 0, or -1 with a message (bad inputs, an index outside
 * its buffer: a lowering bug) and no outputs left allocated. */
int cg_interp(const KernelList *kl, const Tensor *inputs, Tensor *outputs, Diag *d);

#endif
