/* attr_domain.c — value domains of IR attributes, checked before any shape
 * rule runs (ir_infer_shapes_data), so a text-IR file or an imported model
 * cannot hand a rule a flag of 7 or an epsilon of nan. The schema in
 * ops.def gives each attribute's kind; this table gives, by attribute
 * name, the values that kind may take where that is narrower than "any". A
 * name means the same in every op that has it (ops.def keeps it so). */
#include "shape.h"

#include <math.h>
#include <string.h>

typedef enum {
	DOM_FLAG,     /* int 0 or 1 */
	DOM_NONNEG,   /* finite float >= 0 */
	DOM_UNIT,     /* finite float in [0, 1) */
	DOM_FINITE,   /* finite float */
} Domain;

static const struct {
	const char *name; /* attribute name, as in ops.def */
	Domain dom;       /* the values it may take */
} domains[] = {
	{"keepdims", DOM_FLAG}, {"ceil_mode", DOM_FLAG}, {"count_include_pad", DOM_FLAG},
	{"trans_a", DOM_FLAG}, {"trans_b", DOM_FLAG}, {"select_last_index", DOM_FLAG},
	{"exclusive", DOM_FLAG}, {"reverse", DOM_FLAG}, {"upper", DOM_FLAG},
	{"sorted", DOM_FLAG}, {"largest", DOM_FLAG}, {"saturate", DOM_FLAG},
	{"fmod", DOM_FLAG}, {"detect_positive", DOM_FLAG}, {"detect_negative", DOM_FLAG},
	{"epsilon", DOM_NONNEG}, {"ratio", DOM_UNIT}, {"alpha", DOM_FINITE},
};

/* 0 if a's value lies in its domain, else -1 with a message naming the node. */
static int check_one(const Graph *g, int node, const Attr *a, Domain dom, Diag *d)
{
	if (dom == DOM_FLAG) {
		if (a->kind == AT_INT && a->i != 0 && a->i != 1)
			return ir_node_err(g, node, d, "attribute '%s' must be 0 or 1, got %lld", a->name,
				(long long)a->i);
		return 0;
	}
	if (a->kind != AT_FLOAT)
		return 0;
	double f = a->f;
	if (!isfinite(f))
		return ir_node_err(g, node, d, "attribute '%s' must be finite, got %g", a->name, f);
	if (dom == DOM_NONNEG && f < 0)
		return ir_node_err(g, node, d, "attribute '%s' must be non-negative, got %g", a->name, f);
	if (dom == DOM_UNIT && (f < 0 || f >= 1))
		return ir_node_err(g, node, d, "attribute '%s' must lie in [0, 1), got %g", a->name, f);
	return 0;
}

int ir_check_attr_domains(const Graph *g, int node, Diag *d)
{
	const Node *n = &g->node[node];
	for (int k = 0; k < n->nattr; k++) {
		const Attr *a = &n->attr[k];
		if (!a->name)
			continue;
		for (size_t j = 0; j < sizeof domains / sizeof *domains; j++)
			if (strcmp(domains[j].name, a->name) == 0 &&
				check_one(g, node, a, domains[j].dom, d) < 0)
				return -1;
	}
	return 0;
}
