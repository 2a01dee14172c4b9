/* wcache.h — a weight cache for the kernel tests (nncc_abi_ctx.wcache, as
 * a session lends one; runtime/wcache.c): one entry per (key, tag),
 * counting fills, that can refuse every key (as a session does for a
 * writable weight). Include after <cmocka.h>. */
#ifndef NNCC_TEST_WCACHE_H
#define NNCC_TEST_WCACHE_H

#include <stdint.h>
#include <stdlib.h>

enum { TEST_CACHE_MAX = 64 };

typedef struct Cache {
	const void *key[TEST_CACHE_MAX];
	uint64_t tag[TEST_CACHE_MAX];
	void *data[TEST_CACHE_MAX];
	int n, fills;
	int refuse; /* answer NULL for every key */
} Cache;

static void *
cache_get(void *owner, const void *key, uint64_t tag, int64_t bytes, int *fresh)
{
	Cache *c = owner;

	*fresh = 0;
	if (c->refuse)
		return NULL;
	for (int i = 0; i < c->n; i++)
		if (c->key[i] == key && c->tag[i] == tag)
			return c->data[i];
	assert_true(c->n < TEST_CACHE_MAX);
	c->key[c->n] = key, c->tag[c->n] = tag;
	c->data[c->n] = aligned_alloc(64, (size_t)(bytes + 63) / 64 * 64);
	assert_non_null(c->data[c->n]);
	c->fills++, *fresh = 1;
	return c->data[c->n++];
}

/* Forgets key's entries: its memory is about to be freed, and a later
 * weight at the same address must not find them. */
static inline void
cache_drop(Cache *c, const void *key)
{
	for (int i = 0; i < c->n;)
		if (c->key[i] == key) {
			free(c->data[i]);
			c->n--;
			c->key[i] = c->key[c->n], c->tag[i] = c->tag[c->n], c->data[i] = c->data[c->n];
		} else {
			i++;
		}
}

/* Forgets every entry (the fill count stays). */
static inline void
cache_clear(Cache *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->data[i]);
	c->n = 0;
}

#endif
