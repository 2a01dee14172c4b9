/* cse.c — common-subexpression elimination: two live nodes with the same
 * op, the same inputs (value indices, in order) and the same attributes
 * (by name, kind and bit-exact value, in any order) compute the same
 * value (operands of commutative ops in either order), so the later one
 * is forwarded to the earlier one. Nodes are hashed by index in one pass
 * in topological order; forwarding as we go
 * makes chains of duplicates collapse in that single pass. Constants are
 * not merged by content (equal weights stay separate parameters).
 * Side-effecting ops are never merged. */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

static uint64_t mix(uint64_t h, uint64_t x)
{
	h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

/* Attributes are hashed order-independently (a sum of per-attribute hashes). */
static uint64_t hash_attr(const Attr *a)
{
	uint64_t h = hash_bytes(0xcbf29ce484222325ull, a->name, strlen(a->name));
	h = mix(h, (uint64_t)a->kind);
	switch (a->kind) {
	case AT_INT: return mix(h, (uint64_t)a->i);
	case AT_FLOAT: return hash_bytes(h, &a->f, sizeof a->f);
	case AT_INTS: return hash_bytes(h, a->ints, (size_t)a->n * sizeof *a->ints);
	case AT_FLOATS: return hash_bytes(h, a->floats, (size_t)a->n * sizeof *a->floats);
	case AT_STRING: return hash_bytes(h, a->s, strlen(a->s));
	}
	return h;
}

/* Commutative binary ops hash their operands in sorted order. */
static bool swappable(const Node *n)
{
	return (ir_ops[n->op].flags & OPF_COMMUTATIVE) && n->nin == 2;
}

static uint64_t hash_node(const Node *n)
{
	uint64_t h = mix(0x12345, (uint64_t)n->op);
	h = mix(h, (uint64_t)n->nin);
	bool swap = swappable(n) && n->in[0] > n->in[1];
	for (int k = 0; k < n->nin; k++)
		h = mix(h, (uint64_t)(int64_t)n->in[swap ? 1 - k : k]);
	uint64_t ha = 0;
	for (int i = 0; i < n->nattr; i++)
		ha += hash_attr(&n->attr[i]);
	return mix(h, ha);
}

static bool attr_eq(const Attr *a, const Attr *b)
{
	if (a->kind != b->kind || a->n != b->n)
		return false;
	switch (a->kind) {
	case AT_INT: return a->i == b->i;
	case AT_FLOAT: return memcmp(&a->f, &b->f, sizeof a->f) == 0;
	case AT_INTS: return memcmp(a->ints, b->ints, (size_t)a->n * sizeof *a->ints) == 0;
	case AT_FLOATS: return memcmp(a->floats, b->floats, (size_t)a->n * sizeof *a->floats) == 0;
	case AT_STRING: return strcmp(a->s, b->s) == 0;
	}
	return false;
}

static bool node_eq(const Node *a, const Node *b)
{
	if (a->op != b->op || a->nin != b->nin || a->nout != b->nout || a->nattr != b->nattr)
		return false;
	bool same = true, swapped = swappable(a) && a->in[0] == b->in[1] && a->in[1] == b->in[0];
	for (int k = 0; k < a->nin; k++)
		same = same && a->in[k] == b->in[k];
	if (!same && !swapped)
		return false;
	for (int i = 0; i < a->nattr; i++) {
		const Attr *o = ir_attr(b, a->attr[i].name);
		if (!o || !attr_eq(&a->attr[i], o))
			return false;
	}
	return true;
}

void ps_cse(Graph *g, const Options *o)
{
	(void)o;
	int cap = 16;
	while (cap < 2 * g->nnode)
		cap *= 2;
	int *tab = xmalloc((size_t)cap * sizeof *tab); /* node index, -1 empty */
	for (int i = 0; i < cap; i++)
		tab[i] = -1;
	for (int i = 0; i < g->nnode; i++) {
		Node *n = &g->node[i];
		if (n->dead || n->nout != 1 || (ir_ops[n->op].flags & OPF_SIDE_EFFECT))
			continue;
		size_t h = (size_t)hash_node(n) & (size_t)(cap - 1);
		while (tab[h] >= 0 && !node_eq(&g->node[tab[h]], n))
			h = (h + 1) & (size_t)(cap - 1);
		if (tab[h] < 0)
			tab[h] = i;
		else
			ps_forward(g, i, g->node[tab[h]].out[0]);
	}
	free(tab);
}
