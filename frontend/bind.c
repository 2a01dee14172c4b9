/* bind.c — graph inputs bound to constants at compile time (`--const
 * NAME=FILE`), the way an ONNX initializer that shares a graph input's name
 * makes it a constant. A bound input stops being an input: its value turns
 * into a literal constant (not a parameter) holding the given data, so the
 * import handlers and the passes see axes, shapes, pads or sizes they need
 * at compile time. The ONNX frontend binds after its graph inputs and
 * initializers exist and before any node is imported; the driver binds a
 * parsed text-IR graph before shape inference. The data is untrusted: its
 * dtype and shape must match what the model declares for the input (a
 * symbolic or unknown extent accepts any size, consistently within the
 * input), and every message names the model, the input and the file. */
#include "frontend.h"

#include <string.h>

/* "a, b, c" (the graph inputs, for a message about a name that is none). */
static void input_names(const Graph *g, char *buf, size_t n)
{
	size_t len = 0;
	buf[0] = 0;
	for (int i = 0; i < g->ninput && len + 1 < n; i++) {
		int k = snprintf(buf + len, n - len, "%s\"%s\"", i ? ", " : "", g->val[g->input[i]].name);
		if (k < 0)
			break;
		len += (size_t)k < n - len ? (size_t)k : n - len - 1;
	}
	if (!g->ninput)
		snprintf(buf, n, "none");
}

/* Checks c against the declared type of input value v; -1 with a message. */
static int check_type(const Graph *g, const Value *v, const FeConst *c, const char *who, Diag *d)
{
	char decl[160], given[160];
	Shape gs = ir_shape_make(0, NULL);
	if (c->rank < 0 || c->rank > IR_MAX_RANK)
		return diag(d, "%s: rank %d exceeds the supported %d", who, c->rank, IR_MAX_RANK);
	gs.rank = c->rank;
	int64_t numel = 1;
	for (int i = 0; i < c->rank; i++) {
		if (c->dims[i] < 0 || !ck_mul(numel, c->dims[i], &numel))
			return diag(d, "%s: bad extents", who);
		gs.d[i] = (Dim){c->dims[i], 0};
	}
	ir_shape_str(g, &v->shape, decl, sizeof decl);
	ir_shape_str(g, &gs, given, sizeof given);
	size_t esz = ir_dtype_size(c->dtype);
	if (!esz)
		return diag(d, "%s: the file's element type (ONNX code %d) is unsupported", who, (int)c->dtype);
	if (c->dtype != v->dtype)
		return diag(d, "%s: the file holds %s%s, but the input is declared %s%s", who,
			ir_dtype_name(c->dtype), given, ir_dtype_name(v->dtype), decl);
	int64_t nbytes;
	if (!ck_mul(numel, (int64_t)esz, &nbytes) || (uint64_t)nbytes != (uint64_t)c->nbytes)
		return diag(d, "%s: the data holds %zu bytes; %s%s needs %lld", who, c->nbytes,
			ir_dtype_name(c->dtype), given, (long long)nbytes);
	if (v->shape.rank < 0)
		return 0;
	bool ok = v->shape.rank == c->rank;
	for (int i = 0; ok && i < c->rank; i++) {
		Dim dm = v->shape.d[i];
		if (dm.sym == 0 && dm.n >= 0)
			ok = dm.n == c->dims[i];
		for (int j = 0; ok && j < i; j++) /* one symbol, one extent */
			if (dm.sym && v->shape.d[j].sym == dm.sym)
				ok = c->dims[j] == c->dims[i];
	}
	if (!ok)
		return diag(d, "%s: the file holds %s%s, but the input is declared %s%s", who,
			ir_dtype_name(c->dtype), given, ir_dtype_name(v->dtype), decl);
	return 0;
}

/* Turns graph input v into a literal constant holding c's data. */
static void make_const(Graph *g, int v, const FeConst *c)
{
	Value *val = &g->val[v];
	Shape s = ir_shape_make(c->rank, c->dims);
	void *p = ir_alloc(g, c->nbytes);
	if (c->nbytes)
		memcpy(p, c->data, c->nbytes);
	val->kind = VK_CONST;
	val->shape = s;
	val->data = p;
	val->nbytes = c->nbytes;
	val->param = false;
	int k = 0;
	for (int i = 0; i < g->ninput; i++)
		if (g->input[i] != v)
			g->input[k++] = g->input[i];
	g->ninput = k;
}

int fe_bind_consts(Graph *g, const FeConst *c, int n, const char *model, Diag *d)
{
	int bad = 0;
	for (int i = 0; i < n; i++) {
		char who[512], names[512];
		if (c[i].file)
			snprintf(who, sizeof who, "%s: --const %s=%s", model, c[i].name, c[i].file);
		else
			snprintf(who, sizeof who, "%s: --const %s", model, c[i].name);
		bool twice = false;
		for (int j = 0; j < i; j++)
			twice |= strcmp(c[j].name, c[i].name) == 0;
		if (twice) {
			bad = diag(d, "%s: the input is bound twice", who);
			continue;
		}
		int v = ir_find_value(g, c[i].name);
		if (v < 0 || g->val[v].kind != VK_INPUT) {
			input_names(g, names, sizeof names);
			bad = diag(d, "%s: the model has no graph input of that name%s (its inputs: %s)", who,
				v >= 0 && g->val[v].kind == VK_CONST ? "; it is a constant (initializer)" : "",
				names);
			continue;
		}
		if (check_type(g, &g->val[v], &c[i], who, d) < 0) {
			bad = -1;
			continue;
		}
		make_const(g, v, &c[i]);
	}
	return bad;
}
