/* dot.c — writes a graph as Graphviz (--emit=dot): one box per live node
 * (op, source name), one ellipse per graph input, parameters folded into
 * their consumer's label (a ResNet has hundreds), edges labelled with the
 * value's type, and the nodes of each fusion group inside one cluster, so
 * `dot -Tsvg` shows what becomes one kernel. */
#include "ir.h"

/* Writes s as the inside of a DOT double-quoted string. */
static void dot_str(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void value_label(FILE *f, const Graph *g, int v)
{
	char sh[128];
	const Value *x = &g->val[v];
	fprintf(f, "%s%s", ir_dtype_name(x->dtype), ir_shape_str(g, &x->shape, sh, sizeof sh));
}

static void node_box(FILE *f, const Graph *g, int i, const char *indent)
{
	const Node *n = &g->node[i];
	fprintf(f, "%sn%d [shape=box, label=\"%s", indent, i, ir_ops[n->op].name);
	if (n->name && *n->name) {
		fputs("\\n", f);
		dot_str(f, n->name);
	}
	for (int j = 0; j < n->nin; j++)
		if (n->in[j] >= 0 && g->val[n->in[j]].kind == VK_CONST) {
			fputs("\\n+ ", f);
			dot_str(f, g->val[n->in[j]].name);
			fputc(' ', f);
			value_label(f, g, n->in[j]);
		}
	fputs("\"];\n", f);
}

void ir_print_dot(const Graph *g, FILE *f)
{
	fputs("digraph \"", f);
	dot_str(f, g->name);
	fputs("\" {\n  rankdir=TB;\n  node [fontname=\"monospace\", fontsize=10];\n"
	      "  edge [fontname=\"monospace\", fontsize=8];\n", f);
	for (int i = 0; i < g->ninput; i++) {
		int v = g->input[i];
		fprintf(f, "  v%d [shape=ellipse, label=\"", v);
		dot_str(f, g->val[v].name);
		fputs("\\n", f);
		value_label(f, g, v);
		fputs("\"];\n", f);
	}
	int maxgroup = 0;
	for (int i = 0; i < g->nnode; i++)
		if (!g->node[i].dead && g->node[i].group > maxgroup)
			maxgroup = g->node[i].group;
	for (int grp = 1; grp <= maxgroup; grp++) {
		bool open = false;
		for (int i = 0; i < g->nnode; i++) {
			if (g->node[i].dead || g->node[i].group != grp)
				continue;
			if (!open)
				fprintf(f, "  subgraph cluster_g%d {\n    label=\"group %d\"; style=rounded; color=blue;\n",
					grp, grp);
			open = true;
			node_box(f, g, i, "    ");
		}
		if (open)
			fputs("  }\n", f);
	}
	for (int i = 0; i < g->nnode; i++)
		if (!g->node[i].dead && g->node[i].group <= 0)
			node_box(f, g, i, "  ");
	for (int i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		for (int j = 0; j < n->nin; j++) {
			int v = n->in[j];
			if (v < 0 || g->val[v].kind == VK_CONST)
				continue;
			if (g->val[v].kind == VK_INPUT)
				fprintf(f, "  v%d -> n%d [label=\"", v, i);
			else
				fprintf(f, "  n%d -> n%d [label=\"", g->val[v].def, i);
			value_label(f, g, v);
			fputs("\"];\n", f);
		}
	}
	for (int i = 0; i < g->noutput; i++) {
		int v = g->output[i];
		fprintf(f, "  out%d [shape=ellipse, style=bold, label=\"", i);
		dot_str(f, g->val[v].name);
		fputs("\"];\n", f);
		if (g->val[v].kind == VK_NODE)
			fprintf(f, "  n%d -> out%d [label=\"", g->val[v].def, i);
		else
			fprintf(f, "  v%d -> out%d [label=\"", v, i);
		value_label(f, g, v);
		fputs("\"];\n", f);
	}
	fputs("}\n", f);
}
