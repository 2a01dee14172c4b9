/* plan.c — the memory plan: places every BUF_TEMP in one arena.
 *
 * For now the naive plan: each temporary gets its own 64-byte-aligned range,
 * in buffer order, and arena_bytes is the total. Nothing is shared, so any
 * kernel order is safe. A planner with live intervals and best-fit packing
 * replaces this later without changing the interface. */
#include "codegen.h"

enum { PLAN_ALIGN = 64 };

void cg_plan(KernelList *kl)
{
	int64_t off = 0;
	for (int i = 0; i < kl->nbuf; i++) {
		Buf *b = &kl->buf[i];
		if (b->kind != BUF_TEMP)
			continue;
		b->offset = off;
		int64_t end;
		/* Sizes were checked when the buffers were made; the sum of all
		 * temporaries overflowing int64 is an invariant violation. */
		NN_ASSERT(ck_add(off, b->nbytes, &end) && ck_add(end, PLAN_ALIGN - 1, &end));
		off = end / PLAN_ALIGN * PLAN_ALIGN;
	}
	kl->arena_bytes = off;
}
