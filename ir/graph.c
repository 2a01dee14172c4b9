/* graph.c — building and editing graphs: the op table, dtypes, shapes,
 * values, nodes, attributes, use counts and compaction.
 * Assumes callers pass valid indices (broken ones are internal errors). */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

#define OP(id, name, nin_min, nin_max, nout, flags, attrs, shape, grad) \
	int shape(Graph *g, int node, Diag *d);
#include "ops.def"
#undef OP

const OpInfo ir_ops[OP_COUNT] = {
#define OP(id, name, nin_min, nin_max, nout, flags, attrs, shape, grad) \
	[OP_##id] = {name, nin_min, nin_max, nout, flags, attrs, shape},
#include "ops.def"
#undef OP
};

Op ir_op_parse(const char *s, size_t n)
{
	for (int i = 0; i < OP_COUNT; i++)
		if (strlen(ir_ops[i].name) == n && memcmp(ir_ops[i].name, s, n) == 0)
			return (Op)i;
	return OP_COUNT;
}

/* attribute schemas (ops.def's attrs column) */

bool ir_schema_next(const char **s, IrSchemaEnt *e)
{
	static const char *const kinds[] = {"int", "float", "ints", "floats", "string"};
	const char *q = *s;
	while (*q == ' ')
		q++;
	if (!*q)
		return false;
	const char *start = q;
	while (*q && *q != ' ' && *q != ':')
		q++;
	size_t n = (size_t)(q - start);
	if (n >= sizeof e->name)
		n = sizeof e->name - 1;
	memcpy(e->name, start, n);
	e->name[n] = 0;
	e->bad = true;
	e->required = false;
	if (*q == ':') {
		const char *k = ++q;
		while (*q && *q != ' ' && *q != '!')
			q++;
		for (int i = 0; i < 5; i++)
			if (strlen(kinds[i]) == (size_t)(q - k) && memcmp(kinds[i], k, (size_t)(q - k)) == 0) {
				e->kind = (AttrKind)i;
				e->bad = false;
			}
		if (*q == '!') {
			e->required = true;
			q++;
		}
	}
	while (*q && *q != ' ')
		q++;
	*s = q;
	return true;
}

bool ir_attr_schema(Op op, const char *name, AttrKind *kind)
{
	IrSchemaEnt e;
	for (const char *s = ir_ops[op].attrs; ir_schema_next(&s, &e);)
		if (strcmp(e.name, name) == 0 && !e.bad) {
			*kind = e.kind;
			return true;
		}
	return false;
}

/* dtypes */

static const struct {
	DType t;          /* code */
	const char *name; /* text spelling */
	size_t size;      /* bytes */
} dtypes[] = {
	{DT_F32, "f32", 4}, {DT_F64, "f64", 8}, {DT_F16, "f16", 2}, {DT_BF16, "bf16", 2},
	{DT_I8, "i8", 1}, {DT_U8, "u8", 1}, {DT_I32, "i32", 4}, {DT_I64, "i64", 8},
	{DT_BOOL, "bool", 1}, {DT_I16, "i16", 2}, {DT_U16, "u16", 2}, {DT_U32, "u32", 4},
	{DT_U64, "u64", 8},
	{DT_F8E4M3FN, "f8e4m3fn", 1}, {DT_F8E4M3FNUZ, "f8e4m3fnuz", 1}, {DT_F8E5M2, "f8e5m2", 1},
	{DT_F8E5M2FNUZ, "f8e5m2fnuz", 1}, {DT_F4E2M1, "f4e2m1", 1}, {DT_I4, "i4", 1},
	{DT_U4, "u4", 1}, {DT_I2, "i2", 1}, {DT_U2, "u2", 1}, {DT_F8E8M0, "f8e8m0", 1},
};

const char *ir_dtype_name(DType t)
{
	for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
		if (dtypes[i].t == t)
			return dtypes[i].name;
	return "?";
}

DType ir_dtype_parse(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
		if (strlen(dtypes[i].name) == n && memcmp(dtypes[i].name, s, n) == 0)
			return dtypes[i].t;
	return DT_UNDEF;
}

size_t ir_dtype_size(DType t)
{
	for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
		if (dtypes[i].t == t)
			return dtypes[i].size;
	return 0;
}

bool ir_dtype_is_float(DType t)
{
	return t == DT_F32 || t == DT_F64 || t == DT_F16 || t == DT_BF16;
}

bool ir_dtype_is_unsigned(DType t)
{
	return t == DT_U8 || t == DT_U16 || t == DT_U32 || t == DT_U64;
}

bool ir_dtype_is_int(DType t)
{
	return ir_dtype_is_unsigned(t) || t == DT_I8 || t == DT_I16 || t == DT_I32 || t == DT_I64;
}

/* shapes */

Shape ir_shape_unknown(void)
{
	Shape s;
	memset(&s, 0, sizeof s);
	s.rank = -1;
	return s;
}

Shape ir_shape_make(int rank, const int64_t *dims)
{
	NN_ASSERT(rank >= 0 && rank <= IR_MAX_RANK);
	Shape s;
	memset(&s, 0, sizeof s);
	s.rank = rank;
	for (int i = 0; i < rank; i++)
		s.d[i].n = dims[i];
	return s;
}

bool ir_shape_static(const Shape *s)
{
	if (s->rank < 0)
		return false;
	for (int i = 0; i < s->rank; i++)
		if (s->d[i].sym || s->d[i].n < 0)
			return false;
	return true;
}

bool ir_shape_eq(const Shape *a, const Shape *b)
{
	if (a->rank != b->rank)
		return false;
	for (int i = 0; i < a->rank; i++)
		if (a->d[i].n != b->d[i].n || a->d[i].sym != b->d[i].sym)
			return false;
	return true;
}

int64_t ir_shape_numel(const Shape *s)
{
	if (!ir_shape_static(s))
		return -1;
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++)
		if (!ck_mul(n, s->d[i].n, &n))
			return -1;
	return n;
}

const char *ir_shape_str(const Graph *g, const Shape *s, char *buf, size_t n)
{
	size_t len = 0;
#define PUT(...) \
	do { \
		int w_ = snprintf(buf + len, len < n ? n - len : 0, __VA_ARGS__); \
		if (w_ > 0) \
			len += (size_t)w_; \
	} while (0)
	if (n == 0)
		return buf;
	buf[0] = 0;
	if (s->rank < 0) {
		PUT("[*]");
		return buf;
	}
	PUT("[");
	for (int i = 0; i < s->rank; i++) {
		if (i)
			PUT(", ");
		if (s->d[i].sym && g && s->d[i].sym < g->nsym)
			PUT("%s", g->sym[s->d[i].sym]);
		else if (s->d[i].sym)
			PUT("s%d", s->d[i].sym);
		else if (s->d[i].n < 0)
			PUT("?");
		else
			PUT("%lld", (long long)s->d[i].n);
	}
	PUT("]");
#undef PUT
	return buf;
}

/* graphs */

Graph *ir_graph_new(const char *name)
{
	Graph *g = xcalloc(1, sizeof *g);
	g->name = arena_strdup(&g->arena, name ? name : "model");
	g->capsym = 8;
	g->sym = xcalloc((size_t)g->capsym, sizeof *g->sym);
	g->sym[0] = "";
	g->nsym = 1;
	return g;
}

void ir_graph_free(Graph *g)
{
	if (!g)
		return;
	free(g->val);
	free(g->node);
	free(g->input);
	free(g->output);
	free(g->sym);
	free(g->name_hash);
	arena_free(&g->arena);
	free(g);
}

void *ir_alloc(Graph *g, size_t n)
{
	return arena_alloc(&g->arena, n);
}

const char *ir_strdup(Graph *g, const char *s)
{
	return arena_strdup(&g->arena, s);
}

int ir_sym(Graph *g, const char *name)
{
	for (int i = 1; i < g->nsym; i++)
		if (strcmp(g->sym[i], name) == 0)
			return i;
	if (g->nsym == g->capsym) {
		g->capsym *= 2;
		g->sym = xrealloc(g->sym, (size_t)g->capsym * sizeof *g->sym);
	}
	g->sym[g->nsym] = ir_strdup(g, name);
	return g->nsym++;
}

/* FNV-1a, never 0 (an empty slot) */
static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h ? h : 1;
}

bool ir_name_seen(const Graph *g, const char *name)
{
	if (!g->capname_hash)
		return false;
	uint64_t h = name_hash(name);
	for (size_t j = h & (size_t)(g->capname_hash - 1); g->name_hash[j]; j = (j + 1) & (size_t)(g->capname_hash - 1))
		if (g->name_hash[j] == h)
			return true;
	return false;
}

static void name_add(Graph *g, const char *name)
{
	if (ir_name_seen(g, name))
		return;
	if (2 * (g->nname_hash + 1) > g->capname_hash) { /* at most half full */
		int cap = g->capname_hash ? 2 * g->capname_hash : 256;
		uint64_t *t = xcalloc((size_t)cap, sizeof *t);
		for (int i = 0; i < g->capname_hash; i++)
			if (g->name_hash[i]) {
				size_t j = g->name_hash[i] & (size_t)(cap - 1);
				while (t[j])
					j = (j + 1) & (size_t)(cap - 1);
				t[j] = g->name_hash[i];
			}
		free(g->name_hash);
		g->name_hash = t;
		g->capname_hash = cap;
	}
	uint64_t h = name_hash(name);
	size_t j = h & (size_t)(g->capname_hash - 1);
	while (g->name_hash[j])
		j = (j + 1) & (size_t)(g->capname_hash - 1);
	g->name_hash[j] = h;
	g->nname_hash++;
}

void ir_rename_value(Graph *g, int v, const char *name)
{
	g->val[v].name = name;
	name_add(g, name);
}

int ir_find_value(const Graph *g, const char *name)
{
	if (!ir_name_seen(g, name))
		return -1;
	for (int i = 0; i < g->nval; i++)
		if (strcmp(g->val[i].name, name) == 0)
			return i;
	return -1;
}

const char *ir_unique_name(Graph *g, const char *base)
{
	if (ir_find_value(g, base) < 0)
		return ir_strdup(g, base);
	for (int k = 1;; k++) {
		const char *s = arena_printf(&g->arena, "%s_%d", base, k);
		if (ir_find_value(g, s) < 0)
			return s;
	}
}

static int new_value(Graph *g, const char *name, ValueKind kind)
{
	if (g->nval == g->capval) {
		g->capval = g->capval ? 2 * g->capval : 64;
		g->val = xrealloc(g->val, (size_t)g->capval * sizeof *g->val);
	}
	Value *v = &g->val[g->nval];
	memset(v, 0, sizeof *v);
	v->name = ir_unique_name(g, name && *name ? name : "v");
	name_add(g, v->name);
	v->kind = kind;
	v->dtype = DT_UNDEF;
	v->shape = ir_shape_unknown();
	v->def = -1;
	v->defslot = 0;
	return g->nval++;
}

static void push_int(int **a, int *n, int *cap, int x)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 8;
		*a = xrealloc(*a, (size_t)*cap * sizeof **a);
	}
	(*a)[(*n)++] = x;
}

int ir_add_input(Graph *g, const char *name, DType t, Shape s)
{
	int v = new_value(g, name, VK_INPUT);
	g->val[v].dtype = t;
	g->val[v].shape = s;
	push_int(&g->input, &g->ninput, &g->capinput, v);
	return v;
}

int ir_add_const(Graph *g, const char *name, DType t, Shape s, const void *data, size_t nbytes, bool param)
{
	int v = new_value(g, name, VK_CONST);
	void *p = ir_alloc(g, nbytes);
	if (data && nbytes)
		memcpy(p, data, nbytes);
	Value *val = &g->val[v];
	val->dtype = t;
	val->shape = s;
	val->data = p;
	val->nbytes = nbytes;
	val->param = param;
	return v;
}

int ir_add_node(Graph *g, Op op, const char *name, const int *in, int nin, int nout, const char *const *outnames)
{
	NN_ASSERT(op >= 0 && op < OP_COUNT && nin >= 0 && nout >= 0);
	if (g->nnode == g->capnode) {
		g->capnode = g->capnode ? 2 * g->capnode : 64;
		g->node = xrealloc(g->node, (size_t)g->capnode * sizeof *g->node);
	}
	int id = g->nnode++;
	Node *n = &g->node[id];
	memset(n, 0, sizeof *n);
	n->op = op;
	n->name = ir_strdup(g, name ? name : "");
	n->nin = nin;
	n->in = ir_alloc(g, (size_t)(nin ? nin : 1) * sizeof(int));
	for (int i = 0; i < nin; i++) {
		NN_ASSERT(in[i] >= -1 && in[i] < g->nval);
		n->in[i] = in[i];
	}
	n->nout = nout;
	n->out = ir_alloc(g, (size_t)(nout ? nout : 1) * sizeof(int));
	for (int k = 0; k < nout; k++) {
		const char *base = outnames && outnames[k] ? outnames[k] : NULL;
		char buf[256];
		if (!base) {
			const char *stem = name && *name ? name : ir_ops[op].name;
			if (nout == 1)
				snprintf(buf, sizeof buf, "%s", stem);
			else
				snprintf(buf, sizeof buf, "%s:%d", stem, k);
			base = buf;
		}
		int v = new_value(g, base, VK_NODE);
		g->val[v].def = id;
		g->val[v].defslot = k;
		g->node[id].out[k] = v; /* re-index: new_value may not move nodes, but be explicit */
	}
	return id;
}

int ir_out(const Graph *g, int node, int k)
{
	NN_ASSERT(node >= 0 && node < g->nnode && k >= 0 && k < g->node[node].nout);
	return g->node[node].out[k];
}

void ir_add_output(Graph *g, int value)
{
	NN_ASSERT(value >= 0 && value < g->nval);
	push_int(&g->output, &g->noutput, &g->capoutput, value);
}

/* attributes */

static Attr *attr_slot(Graph *g, int node, const char *name)
{
	Node *n = &g->node[node];
	for (int i = 0; i < n->nattr; i++)
		if (strcmp(n->attr[i].name, name) == 0)
			return &n->attr[i];
	Attr *a = ir_alloc(g, (size_t)(n->nattr + 1) * sizeof *a);
	if (n->nattr)
		memcpy(a, n->attr, (size_t)n->nattr * sizeof *a);
	n->attr = a;
	Attr *s = &a[n->nattr++];
	s->name = ir_strdup(g, name);
	return s;
}

void ir_set_int(Graph *g, int node, const char *name, int64_t v)
{
	Attr *a = attr_slot(g, node, name);
	a->kind = AT_INT;
	a->n = 0;
	a->i = v;
}

void ir_set_float(Graph *g, int node, const char *name, double v)
{
	Attr *a = attr_slot(g, node, name);
	a->kind = AT_FLOAT;
	a->n = 0;
	a->f = v;
}

void ir_set_ints(Graph *g, int node, const char *name, const int64_t *v, int n)
{
	int64_t *p = ir_alloc(g, (size_t)(n ? n : 1) * sizeof *p);
	if (n)
		memcpy(p, v, (size_t)n * sizeof *p);
	Attr *a = attr_slot(g, node, name);
	a->kind = AT_INTS;
	a->n = n;
	a->ints = p;
}

void ir_set_floats(Graph *g, int node, const char *name, const double *v, int n)
{
	double *p = ir_alloc(g, (size_t)(n ? n : 1) * sizeof *p);
	if (n)
		memcpy(p, v, (size_t)n * sizeof *p);
	Attr *a = attr_slot(g, node, name);
	a->kind = AT_FLOATS;
	a->n = n;
	a->floats = p;
}

void ir_set_string(Graph *g, int node, const char *name, const char *v)
{
	const char *s = ir_strdup(g, v);
	Attr *a = attr_slot(g, node, name);
	a->kind = AT_STRING;
	a->n = 0;
	a->s = s;
}

const Attr *ir_attr(const Node *n, const char *name)
{
	for (int i = 0; i < n->nattr; i++)
		if (strcmp(n->attr[i].name, name) == 0)
			return &n->attr[i];
	return NULL;
}

int64_t ir_attr_int(const Node *n, const char *name, int64_t dflt)
{
	const Attr *a = ir_attr(n, name);
	return a && a->kind == AT_INT ? a->i : dflt;
}

double ir_attr_float(const Node *n, const char *name, double dflt)
{
	const Attr *a = ir_attr(n, name);
	if (a && a->kind == AT_FLOAT)
		return a->f;
	if (a && a->kind == AT_INT)
		return (double)a->i;
	return dflt;
}

int ir_attr_ints(const Node *n, const char *name, const int64_t **v)
{
	const Attr *a = ir_attr(n, name);
	if (!a || a->kind != AT_INTS) {
		*v = NULL;
		return -1;
	}
	*v = a->ints;
	return a->n;
}

/* editing */

void ir_replace_uses(Graph *g, int from, int to)
{
	for (int i = 0; i < g->nnode; i++) {
		Node *n = &g->node[i];
		if (n->dead)
			continue;
		for (int j = 0; j < n->nin; j++)
			if (n->in[j] == from)
				n->in[j] = to;
	}
	for (int i = 0; i < g->noutput; i++)
		if (g->output[i] == from)
			g->output[i] = to;
}

void ir_fill_uses(Graph *g)
{
	for (int i = 0; i < g->nval; i++)
		g->val[i].nuse = 0;
	for (int i = 0; i < g->nnode; i++) {
		Node *n = &g->node[i];
		if (n->dead)
			continue;
		for (int j = 0; j < n->nin; j++)
			if (n->in[j] >= 0)
				g->val[n->in[j]].nuse++;
	}
	for (int i = 0; i < g->noutput; i++)
		g->val[g->output[i]].nuse++;
}

void ir_compact(Graph *g)
{
	ir_fill_uses(g);
	/* keep: inputs, values used, and outputs of live nodes */
	int *map = xmalloc((size_t)(g->nval ? g->nval : 1) * sizeof *map);
	bool *keep = xcalloc((size_t)(g->nval ? g->nval : 1), sizeof *keep);
	for (int i = 0; i < g->nval; i++) {
		Value *v = &g->val[i];
		if (v->kind == VK_INPUT || v->nuse > 0)
			keep[i] = true;
		else if (v->kind == VK_NODE && v->def >= 0 && !g->node[v->def].dead)
			keep[i] = true;
	}
	int *nmap = xmalloc((size_t)(g->nnode ? g->nnode : 1) * sizeof *nmap);
	int nn = 0;
	for (int i = 0; i < g->nnode; i++) {
		if (g->node[i].dead) {
			nmap[i] = -1;
			continue;
		}
		nmap[i] = nn;
		g->node[nn++] = g->node[i];
	}
	g->nnode = nn;
	int nv = 0;
	for (int i = 0; i < g->nval; i++) {
		if (!keep[i]) {
			map[i] = -1;
			continue;
		}
		map[i] = nv;
		g->val[nv] = g->val[i];
		if (g->val[nv].kind == VK_NODE)
			g->val[nv].def = nmap[g->val[nv].def];
		nv++;
	}
	g->nval = nv;
	for (int i = 0; i < g->nnode; i++) {
		Node *n = &g->node[i];
		for (int j = 0; j < n->nin; j++)
			if (n->in[j] >= 0) {
				NN_ASSERT(map[n->in[j]] >= 0);
				n->in[j] = map[n->in[j]];
			}
		for (int j = 0; j < n->nout; j++) {
			NN_ASSERT(map[n->out[j]] >= 0);
			n->out[j] = map[n->out[j]];
		}
	}
	for (int i = 0; i < g->ninput; i++)
		g->input[i] = map[g->input[i]];
	for (int i = 0; i < g->noutput; i++)
		g->output[i] = map[g->output[i]];
	free(map);
	free(keep);
	free(nmap);
	ir_fill_uses(g);
}

void ir_toposort(Graph *g)
{
	int nn = g->nnode;
	if (nn == 0)
		return;
	char *st = xcalloc((size_t)nn, 1); /* 0 unseen, 1 on the stack, 2 placed */
	int *order = xmalloc((size_t)nn * sizeof *order), no = 0;
	int *stack = xmalloc((size_t)nn * sizeof *stack);
	for (int i = 0; i < nn; i++) {
		if (st[i])
			continue;
		int sp = 0;
		stack[sp++] = i;
		st[i] = 1;
		while (sp > 0) {
			const Node *n = &g->node[stack[sp - 1]];
			int next = -1;
			for (int k = 0; k < n->nin && next < 0; k++) {
				int v = n->in[k];
				if (v < 0 || g->val[v].kind != VK_NODE)
					continue;
				int p = g->val[v].def;
				NN_ASSERT(st[p] != 1); /* a cycle */
				if (st[p] == 0)
					next = p;
			}
			if (next >= 0) {
				st[next] = 1;
				stack[sp++] = next;
			} else {
				st[stack[sp - 1]] = 2;
				order[no++] = stack[--sp];
			}
		}
	}
	Node *node = xmalloc((size_t)nn * sizeof *node);
	for (int i = 0; i < nn; i++) {
		node[i] = g->node[order[i]];
		for (int k = 0; k < node[i].nout; k++)
			g->val[node[i].out[k]].def = i;
	}
	memcpy(g->node, node, (size_t)nn * sizeof *node);
	free(node);
	free(order);
	free(stack);
	free(st);
}
