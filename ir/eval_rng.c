/* eval_rng.c — reference semantics of the random ops (docs/ir.md,
 * docs/training.md "Randomness"). random_uniform's element i is
 * ir_random_uniform(seed, step, stream, i) (philox.c), seed and step read
 * as unsigned 64-bit. dropout is what an inference graph computes: y = x
 * and a mask of ones; `nncc --train` replaces it by a drawn mask before
 * autodiff (passes/rng.c), so the interpreter never sees it there. */
#include "eval.h"

#include <string.h>

int ev_random_uniform(const Ev *e)
{
	uint64_t seed = (uint64_t)ev_int_get(DT_I64, e->in[0].data);
	uint64_t step = (uint64_t)ev_int_get(DT_I64, e->in[1].data);
	uint32_t stream = (uint32_t)ir_attr_int(e->n, "stream", 0);
	float *y = e->out[0].data;
	int64_t n = ev_numel(&e->out[0]);
	for (int64_t i = 0; i < n; i++)
		y[i] = ir_random_uniform(seed, step, stream, (uint64_t)i);
	return 0;
}

int ev_dropout(const Ev *e)
{
	int64_t n = ev_numel(&e->out[0]);
	memcpy(e->out[0].data, e->in[0].data, (size_t)n * ir_dtype_size(e->in[0].dtype));
	memset(e->out[1].data, 1, (size_t)n);
	return 0;
}
