/* wcache.c — a session's cache of weights in a kernel's own layout
 * (nncc_abi_ctx.wcache; the Winograd transform of runtime/winograd.c).
 *
 * Only the model's read-only weights are cached: the key must be the
 * embedded data of a constant param of the descriptor, which never
 * changes while the model is loaded. Training state and writable weights
 * live in the session's own copies, whose addresses are never keys, so a
 * kernel reading them gets NULL and computes without the cache. Entries
 * stay until the session ends; a lookup walks them all (a model has a few
 * dozen at most). */
#include <stdlib.h>

#include "rt.h"

struct RtWentry {
	const void *key; /* the weight's embedded data */
	uint64_t tag;    /* the kernel's layout and geometry */
	int64_t bytes;
	void *data;      /* rt_alloc'd */
};

/* A constant param's data is key. */
static int
read_only(const nncc_abi_model *a, const void *key)
{
	for (int32_t i = 0; i < a->nparams; i++)
		if (a->params[i].data == key && (!a->param_role || a->param_role[i] == NNCC_ABI_ROLE_CONST))
			return 1;
	return 0;
}

void *
rt_wcache_get(void *owner, const void *key, uint64_t tag, int64_t bytes, int *fresh)
{
	RtWcache *c = owner;

	*fresh = 0;
	if (!c || !key || bytes <= 0 || !read_only(c->abi, key))
		return NULL;
	for (int i = 0; i < c->n; i++)
		if (c->e[i].key == key && c->e[i].tag == tag)
			return c->e[i].bytes == bytes ? c->e[i].data : NULL;
	if (c->n == c->cap) {
		int cap = c->cap ? 2 * c->cap : 16;
		struct RtWentry *e = rt_realloc(c->e, (size_t)cap * sizeof *e);
		if (!e)
			return NULL;
		c->e = e, c->cap = cap;
	}
	void *d = rt_alloc_uninit(bytes);
	if (!d)
		return NULL;
	c->e[c->n++] = (struct RtWentry){key, tag, bytes, d};
	*fresh = 1;
	return d;
}

void
rt_wcache_clear(RtWcache *c)
{
	for (int i = 0; i < c->n; i++)
		rt_free(c->e[i].data);
	free(c->e);
	c->e = NULL;
	c->n = c->cap = 0;
}
