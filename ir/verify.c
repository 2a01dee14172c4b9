/* verify.c — structural checks of a Graph (QBE's ssacheck, LLVM's
 * verifier), run between passes in debug builds and after every frontend.
 *
 * Checks, collecting every problem rather than stopping at the first:
 *   nodes   op valid; input count within ops.def's bounds, only trailing
 *           optional inputs omitted (-1); output count; attributes named in
 *           the op's schema with the schema's kind, no duplicates, required
 *           ones present; inputs exist, are defined earlier (topological
 *           order) by a live node, or are graph inputs/constants; outputs
 *           point back at the node; elementwise ops' known dtypes agree.
 *   values  names unique and known to ir_find_value; a node result's def/defslot names a node that
 *           lists it; dtypes and shapes well formed; constant data as large
 *           as dtype x static shape says.
 *   graph   inputs are VK_INPUT values and every VK_INPUT value is one;
 *           outputs exist and are not dead.
 * Node problems read `node N (op "name"): ...`; value problems name the
 * value and, for node results, the defining node. Shape rules (shape.c) are
 * not re-run here. */
#include "ir.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_name(AttrKind k)
{
	static const char *const names[] = {"int", "float", "ints", "floats", "string"};
	return k >= AT_INT && k <= AT_STRING ? names[k] : "?";
}

static const char *op_name(Op op)
{
	return op >= 0 && op < OP_COUNT ? ir_ops[op].name : "?";
}

/* Appends `node N (op "name"): message`. */
static void node_err(const Graph *g, int i, Diag *d, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void node_err(const Graph *g, int i, Diag *d, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	const Node *n = &g->node[i];
	diag(d, "node %d (%s \"%s\"): %s", i, op_name(n->op), n->name ? n->name : "", msg);
}

static const char *vname(const Graph *g, int v)
{
	return v >= 0 && v < g->nval && g->val[v].name ? g->val[v].name : "?";
}

static int check_attrs(const Graph *g, int i, Diag *d)
{
	const Node *n = &g->node[i];
	const char *schema = ir_ops[n->op].attrs;
	int bad = 0;
	for (int k = 0; k < n->nattr; k++) {
		const Attr *a = &n->attr[k];
		if (!a->name) {
			node_err(g, i, d, "attribute %d has no name", k);
			bad++;
			continue;
		}
		for (int j = 0; j < k; j++)
			if (n->attr[j].name && strcmp(n->attr[j].name, a->name) == 0) {
				node_err(g, i, d, "attribute '%s' given twice", a->name);
				bad++;
			}
		IrSchemaEnt e;
		const char *s = schema;
		bool found = false;
		while (ir_schema_next(&s, &e))
			if (strcmp(e.name, a->name) == 0) {
				found = true;
				break;
			}
		if (!found) {
			node_err(g, i, d, "unknown attribute '%s' (%s takes: %s)", a->name,
			         ir_ops[n->op].name, *schema ? schema : "none");
			bad++;
		} else if (!e.bad && a->kind != e.kind) {
			node_err(g, i, d, "attribute '%s' is %s, expected %s", a->name, kind_name(a->kind),
			         kind_name(e.kind));
			bad++;
		} else if ((a->kind == AT_INTS || a->kind == AT_FLOATS) && a->n < 0) {
			node_err(g, i, d, "attribute '%s' has negative length %d", a->name, a->n);
			bad++;
		}
	}
	IrSchemaEnt e;
	for (const char *s = schema; ir_schema_next(&s, &e);)
		if (e.required && !ir_attr(n, e.name)) {
			node_err(g, i, d, "missing required attribute '%s'", e.name);
			bad++;
		}
	return bad;
}

static int check_inputs(const Graph *g, int i, Diag *d)
{
	const Node *n = &g->node[i];
	const OpInfo *oi = &ir_ops[n->op];
	int bad = 0;
	if (n->nin < oi->nin_min || (oi->nin_max >= 0 && n->nin > oi->nin_max)) {
		if (oi->nin_max < 0)
			node_err(g, i, d, "has %d inputs, expects at least %d", n->nin, oi->nin_min);
		else
			node_err(g, i, d, "has %d inputs, expects %d to %d", n->nin, oi->nin_min, oi->nin_max);
		bad++;
	}
	for (int k = 0; k < n->nin; k++) {
		int v = n->in[k];
		if (v == -1) {
			if (k < oi->nin_min) {
				node_err(g, i, d, "input %d is omitted but not optional", k);
				bad++;
			}
			continue;
		}
		if (v < 0 || v >= g->nval) {
			node_err(g, i, d, "input %d is value index %d, which does not exist", k, v);
			bad++;
			continue;
		}
		const Value *val = &g->val[v];
		if (val->kind != VK_NODE)
			continue;
		if (val->def < 0 || val->def >= g->nnode) {
			node_err(g, i, d, "input %d %%%s has no defining node", k, vname(g, v));
			bad++;
		} else if (g->node[val->def].dead) {
			node_err(g, i, d, "input %d %%%s is defined by dead node %d", k, vname(g, v), val->def);
			bad++;
		} else if (val->def >= i) {
			node_err(g, i, d, "input %d %%%s is used before it is defined (by node %d)", k,
			         vname(g, v), val->def);
			bad++;
		}
	}
	return bad;
}

static int check_outputs(const Graph *g, int i, Diag *d)
{
	const Node *n = &g->node[i];
	int bad = 0;
	if (n->nout != ir_ops[n->op].nout) {
		node_err(g, i, d, "has %d outputs, expects %d", n->nout, ir_ops[n->op].nout);
		bad++;
	}
	for (int k = 0; k < n->nout; k++) {
		int v = n->out[k];
		if (v < 0 || v >= g->nval) {
			node_err(g, i, d, "output %d is value index %d, which does not exist", k, v);
			bad++;
			continue;
		}
		const Value *val = &g->val[v];
		if (val->kind != VK_NODE || val->def != i || val->defslot != k) {
			node_err(g, i, d, "output %d %%%s does not point back at this node", k, vname(g, v));
			bad++;
		}
	}
	return bad;
}

/* Elementwise ops: known input dtypes agree, and equal the output's (ops
 * with mixed dtypes, ir_ew_mixed_types, are checked by their own rule). */
static int check_elemwise(const Graph *g, int i, Diag *d)
{
	const Node *n = &g->node[i];
	DType t = DT_UNDEF;
	int first = -1;
	for (int k = 0; k < n->nin; k++) {
		int v = n->in[k];
		if (v < 0 || v >= g->nval || g->val[v].dtype == DT_UNDEF)
			continue;
		if (t == DT_UNDEF) {
			t = g->val[v].dtype;
			first = v;
		} else if (g->val[v].dtype != t) {
			node_err(g, i, d, "input dtypes disagree: %%%s is %s, %%%s is %s", vname(g, first),
			         ir_dtype_name(t), vname(g, v), ir_dtype_name(g->val[v].dtype));
			return 1;
		}
	}
	for (int k = 0; k < n->nout; k++) {
		int v = n->out[k];
		if (t == DT_UNDEF || v < 0 || v >= g->nval || g->val[v].dtype == DT_UNDEF)
			continue;
		if (g->val[v].dtype != t) {
			node_err(g, i, d, "output %%%s is %s but its inputs are %s", vname(g, v),
			         ir_dtype_name(g->val[v].dtype), ir_dtype_name(t));
			return 1;
		}
	}
	return 0;
}

static int check_node(const Graph *g, int i, Diag *d)
{
	const Node *n = &g->node[i];
	if (n->op < 0 || n->op >= OP_COUNT) {
		diag(d, "node %d (op#%d \"%s\"): invalid op", i, (int)n->op, n->name ? n->name : "");
		return 1;
	}
	if (n->nin < 0 || n->nout < 0 || n->nattr < 0) {
		node_err(g, i, d, "negative input, output or attribute count");
		return 1;
	}
	int bad = check_inputs(g, i, d) + check_outputs(g, i, d) + check_attrs(g, i, d);
	if (ir_ops[n->op].flags & OPF_ELEMWISE) /* ew ops with mixed dtypes check their own */
		bad += ir_ew_mixed_types(n->op) ? ir_ew_check_types(g, i, d) : check_elemwise(g, i, d);
	return bad;
}

/* A value's own invariants; `who` names it (and its node) in messages. */
static int check_value(const Graph *g, int v, Diag *d)
{
	const Value *val = &g->val[v];
	char who[300];
	if (val->kind == VK_NODE && val->def >= 0 && val->def < g->nnode)
		snprintf(who, sizeof who, "value %%%s (output of node %d (%s \"%s\"))", vname(g, v), val->def,
		         op_name(g->node[val->def].op), g->node[val->def].name ? g->node[val->def].name : "");
	else
		snprintf(who, sizeof who, "value %%%s", vname(g, v));
	int bad = 0;
	if (!val->name || !*val->name) {
		diag(d, "value %d has no name", v);
		bad++;
	}
	if (val->dtype != DT_UNDEF && ir_dtype_size(val->dtype) == 0) {
		diag(d, "%s: invalid dtype %d", who, (int)val->dtype);
		bad++;
	}
	const Shape *s = &val->shape;
	if (s->rank < -1 || s->rank > IR_MAX_RANK) {
		diag(d, "%s: invalid rank %d", who, s->rank);
		return bad + 1;
	}
	for (int k = 0; k < s->rank; k++)
		if (s->d[k].n < -1 || s->d[k].sym < 0 || s->d[k].sym >= g->nsym ||
		    (s->d[k].sym > 0 && s->d[k].n != -1)) {
			diag(d, "%s: invalid dim %d (n=%lld, sym=%d)", who, k, (long long)s->d[k].n, s->d[k].sym);
			bad++;
		}
	switch (val->kind) {
	case VK_NODE:
		if (val->def < 0 || val->def >= g->nnode || val->defslot < 0 ||
		    val->defslot >= g->node[val->def].nout || g->node[val->def].out[val->defslot] != v) {
			diag(d, "%s: def %d slot %d does not list it as an output", who, val->def, val->defslot);
			bad++;
		}
		break;
	case VK_INPUT:
		break;
	case VK_CONST:
		if (val->data && ir_shape_static(s) && ir_dtype_size(val->dtype) > 0) {
			int64_t numel = ir_shape_numel(s), want;
			if (numel < 0 || !ck_mul(numel, (int64_t)ir_dtype_size(val->dtype), &want) ||
			    (uint64_t)want != (uint64_t)val->nbytes) {
				char sh[256];
				ir_shape_str(g, s, sh, sizeof sh);
				diag(d, "constant %%%s: %zu bytes of data, but %s%s needs %lld", vname(g, v),
				     val->nbytes, ir_dtype_name(val->dtype), sh, numel < 0 ? -1LL : (long long)want);
				bad++;
			}
		}
		break;
	default:
		diag(d, "%s: invalid kind %d", who, (int)val->kind);
		bad++;
	}
	return bad;
}

typedef struct NameRef {
	const char *name; /* value name */
	int v;            /* value index */
} NameRef;

static int cmp_nameref(const void *a, const void *b)
{
	const NameRef *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->v > y->v) - (x->v < y->v);
}

/* Every value name unique: sort (name, index) pairs, report neighbours. */
static int check_unique_names(const Graph *g, Diag *d)
{
	NameRef *r = xmalloc((size_t)(g->nval ? g->nval : 1) * sizeof *r);
	int n = 0, bad = 0;
	for (int v = 0; v < g->nval; v++)
		if (g->val[v].name) {
			r[n++] = (NameRef){g->val[v].name, v};
			if (!ir_name_seen(g, g->val[v].name)) { /* ir_find_value would miss it */
				diag(d, "value %%%s (index %d): named without ir_rename_value", g->val[v].name, v);
				bad++;
			}
		}
	qsort(r, (size_t)n, sizeof *r, cmp_nameref);
	for (int k = 1; k < n; k++)
		if (strcmp(r[k - 1].name, r[k].name) == 0) {
			const Value *val = &g->val[r[k].v];
			if (val->kind == VK_NODE && val->def >= 0 && val->def < g->nnode)
				node_err(g, val->def, d, "defines %%%s, a name already used by value %d",
				         r[k].name, r[k - 1].v);
			else
				diag(d, "value %%%s (index %d): name already used by value %d", r[k].name, r[k].v,
				     r[k - 1].v);
			bad++;
		}
	free(r);
	return bad;
}

int ir_verify(const Graph *g, Diag *d)
{
	int bad = 0;
	for (int i = 0; i < g->nnode; i++)
		if (!g->node[i].dead)
			bad += check_node(g, i, d);
	for (int v = 0; v < g->nval; v++)
		bad += check_value(g, v, d);
	bad += check_unique_names(g, d);
	bad += ir_verify_state(g, d);
	bool *listed = xcalloc((size_t)(g->nval ? g->nval : 1), sizeof *listed);
	for (int i = 0; i < g->ninput; i++) {
		int v = g->input[i];
		if (v < 0 || v >= g->nval || g->val[v].kind != VK_INPUT) {
			diag(d, "graph input %d (%%%s) is not an input value", i, vname(g, v));
			bad++;
		} else {
			listed[v] = true;
		}
	}
	for (int v = 0; v < g->nval; v++)
		if (g->val[v].kind == VK_INPUT && !listed[v]) {
			diag(d, "value %%%s is an input value but not a graph input", vname(g, v));
			bad++;
		}
	free(listed);
	for (int i = 0; i < g->noutput; i++) {
		int v = g->output[i];
		if (v < 0 || v >= g->nval) {
			diag(d, "graph output %d is value index %d, which does not exist", i, v);
			bad++;
		} else if (g->val[v].kind == VK_NODE && g->val[v].def >= 0 && g->val[v].def < g->nnode &&
		           g->node[g->val[v].def].dead) {
			diag(d, "graph output %d %%%s is defined by dead node %d", i, vname(g, v), g->val[v].def);
			bad++;
		}
	}
	return bad ? -1 : 0;
}
