/* print.c — writes a Graph as text IR (the syntax parse.c reads; see
 * docs/ir.md), and compares two graphs structurally (ir_graph_equal), which
 * is what the parse(print(g)) == g round-trip tests check.
 *
 * Layout: `graph NAME {`, the inputs in order, every constant (in value
 * order), the live nodes in node order, the outputs in order, `}`. Names
 * that the plain syntax cannot carry are printed as quoted C strings. Floats
 * print in the fewest digits that read back bit-exact. */
#include "ir.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { ELIDE_OVER = 16 }; /* constants with more elements print `elided` */

static bool is_ident(const char *s)
{
	if (!s || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	for (s++; *s; s++)
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

/* A value name prints bare when it is a run of [A-Za-z0-9_.:/-] that does
 * not end in ':' (the parser stops a bare name before trailing colons, so
 * `%x: f32[2]` reads as the name "x"). */
static bool is_plain_name(const char *s)
{
	if (!s || !*s)
		return false;
	size_t n = strlen(s);
	if (s[n - 1] == ':')
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == ':' || c == '/' || c == '-'))
			return false;
	}
	return true;
}

/* Prints s as a C string literal. Bytes outside printable ASCII use three
 * octal digits, which (unlike \x) cannot swallow a following character. */
static void print_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (*p < 0x20 || *p >= 0x7f)
				fprintf(f, "\\%03o", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void print_ident_or_quoted(FILE *f, const char *s)
{
	if (is_ident(s))
		fputs(s, f);
	else
		print_quoted(f, s);
}

static void print_value_name(const Graph *g, FILE *f, int v)
{
	if (v < 0 || v >= g->nval) {
		fprintf(f, "%%\"<bad value %d>\"", v);
		return;
	}
	const char *s = g->val[v].name;
	fputc('%', f);
	if (is_plain_name(s))
		fputs(s, f);
	else
		print_quoted(f, s);
}

static void print_type(const Graph *g, FILE *f, DType t, const Shape *s)
{
	fputs(t == DT_UNDEF ? "?" : ir_dtype_name(t), f);
	if (s->rank < 0 || s->rank > IR_MAX_RANK) {
		fputs("[*]", f);
		return;
	}
	fputc('[', f);
	for (int i = 0; i < s->rank; i++) {
		const Dim *d = &s->d[i];
		if (i)
			fputs(", ", f);
		if (d->sym > 0 && d->sym < g->nsym)
			print_ident_or_quoted(f, g->sym[d->sym]);
		else if (d->sym == 0 && d->n >= 0)
			fprintf(f, "%" PRId64, d->n);
		else
			fputc('?', f);
	}
	fputc(']', f);
}

/* Writes x in the fewest digits that read back to the same value: f32
 * tries 6 to 9 significant digits, f64 15 to 17 (9 and 17 always suffice);
 * inf and nan by name. With mark, the result always reads as a float
 * (contains '.', 'e', inf or nan). */
static void fmt_float(char *buf, size_t n, double x, bool f32, bool mark)
{
	if (isnan(x)) {
		snprintf(buf, n, "%s", signbit(x) ? "-nan" : "nan");
		return;
	}
	if (isinf(x)) {
		snprintf(buf, n, "%s", x < 0 ? "-inf" : "inf");
		return;
	}
	for (int digits = f32 ? 6 : 15; digits <= (f32 ? 9 : 17); digits++) {
		snprintf(buf, n, "%.*g", digits, x);
		if (f32 ? strtof(buf, NULL) == (float)x : strtod(buf, NULL) == x)
			break;
	}
	if (mark && !strpbrk(buf, ".e"))
		strncat(buf, ".0", n - strlen(buf) - 1);
}

static void print_attr(FILE *f, const Attr *a)
{
	char buf[64];
	print_ident_or_quoted(f, a->name);
	fputs(" = ", f);
	switch (a->kind) {
	case AT_INT:
		fprintf(f, "%" PRId64, a->i);
		break;
	case AT_FLOAT:
		fmt_float(buf, sizeof buf, a->f, false, true);
		fputs(buf, f);
		break;
	case AT_INTS:
		fputc('[', f);
		for (int i = 0; i < a->n; i++)
			fprintf(f, "%s%" PRId64, i ? ", " : "", a->ints[i]);
		fputc(']', f);
		break;
	case AT_FLOATS:
		fputc('[', f);
		for (int i = 0; i < a->n; i++) {
			fmt_float(buf, sizeof buf, a->floats[i], false, true);
			fprintf(f, "%s%s", i ? ", " : "", buf);
		}
		fputc(']', f);
		break;
	case AT_STRING:
		print_quoted(f, a->s);
		break;
	default:
		fputs("\"<bad attribute kind>\"", f);
	}
}

/* Element k of a constant's data, formatted for its dtype. */
static void fmt_elem(char *buf, size_t n, DType t, const unsigned char *p)
{
	switch (t) {
	case DT_F32: {
		float x;
		memcpy(&x, p, sizeof x);
		fmt_float(buf, n, x, true, false);
		break;
	}
	case DT_F64: {
		double x;
		memcpy(&x, p, sizeof x);
		fmt_float(buf, n, x, false, false);
		break;
	}
	case DT_F16:
	case DT_BF16: {
		uint16_t x;
		memcpy(&x, p, sizeof x);
		snprintf(buf, n, "0x%04x", (unsigned)x);
		break;
	}
	case DT_I8: snprintf(buf, n, "%d", (int)*(const int8_t *)p); break;
	case DT_U8: snprintf(buf, n, "%u", (unsigned)*p); break;
	case DT_BOOL: snprintf(buf, n, "%d", *p != 0); break;
	case DT_I32: {
		int32_t x;
		memcpy(&x, p, sizeof x);
		snprintf(buf, n, "%" PRId32, x);
		break;
	}
	case DT_I64: {
		int64_t x;
		memcpy(&x, p, sizeof x);
		snprintf(buf, n, "%" PRId64, x);
		break;
	}
	case DT_I16: { int16_t x; memcpy(&x, p, 2); snprintf(buf, n, "%d", (int)x); break; }
	case DT_U16: { uint16_t x; memcpy(&x, p, 2); snprintf(buf, n, "%u", (unsigned)x); break; }
	case DT_U32: { uint32_t x; memcpy(&x, p, 4); snprintf(buf, n, "%" PRIu32, x); break; }
	case DT_U64: { uint64_t x; memcpy(&x, p, 8); snprintf(buf, n, "%" PRIu64, x); break; }
	default:
		if (ir_dtype_is_small_float(t)) /* dt family: the code, as f16's bits */
			snprintf(buf, n, "0x%02x", (unsigned)*p);
		else if (ir_dtype_is_exotic(t)) /* narrow integers: extended bytes */
			snprintf(buf, n, "%d", t == DT_I4 || t == DT_I2 ? (int)*(const int8_t *)p : (int)*p);
		else
			snprintf(buf, n, "?");
		break;
	}
}

static void print_data(FILE *f, const Value *v, unsigned flags)
{
	size_t esz = ir_dtype_size(v->dtype);
	if (!v->data || esz == 0 || v->nbytes % esz != 0) {
		fputs("elided", f);
		return;
	}
	size_t count = v->nbytes / esz;
	if (count > ELIDE_OVER && !(flags & IR_PRINT_DATA)) {
		fputs("elided", f);
		return;
	}
	char buf[64];
	fputc('[', f);
	for (size_t k = 0; k < count; k++) {
		fmt_elem(buf, sizeof buf, v->dtype, (const unsigned char *)v->data + k * esz);
		if (k)
			fputs(count > ELIDE_OVER && k % 8 == 0 ? ",\n      " : ", ", f);
		fputs(buf, f);
	}
	fputc(']', f);
}

static void print_node(const Graph *g, FILE *f, int ni)
{
	const Node *n = &g->node[ni];
	fputs("  ", f);
	for (int k = 0; k < n->nout; k++) {
		int v = n->out[k];
		if (k)
			fputs(", ", f);
		print_value_name(g, f, v);
		if (v >= 0 && v < g->nval) {
			const Value *val = &g->val[v];
			if (val->dtype != DT_UNDEF || val->shape.rank >= 0) {
				fputs(": ", f);
				print_type(g, f, val->dtype, &val->shape);
			}
		}
	}
	if (n->nout)
		fputs(" = ", f);
	fputs(n->op >= 0 && n->op < OP_COUNT ? ir_ops[n->op].name : "?", f);
	fputc('(', f);
	for (int k = 0; k < n->nin; k++) {
		if (k)
			fputs(", ", f);
		if (n->in[k] < 0)
			fputc('_', f);
		else
			print_value_name(g, f, n->in[k]);
	}
	fputc(')', f);
	if (n->nattr > 0) {
		fputs(" {", f);
		for (int k = 0; k < n->nattr; k++) {
			if (k)
				fputs(", ", f);
			print_attr(f, &n->attr[k]);
		}
		fputc('}', f);
	}
	if (n->name && *n->name) {
		fputs(" @", f);
		print_quoted(f, n->name);
	}
	if (n->group > 0)
		fprintf(f, " group %d", n->group);
	fputc('\n', f);
}

void ir_print(const Graph *g, FILE *f, unsigned flags)
{
	fputs("graph ", f);
	print_ident_or_quoted(f, g->name ? g->name : "");
	fputs(" {\n", f);
	for (int i = 0; i < g->ninput; i++) {
		int v = g->input[i];
		fputs("  input ", f);
		print_value_name(g, f, v);
		if (v >= 0 && v < g->nval) {
			fputs(": ", f);
			print_type(g, f, g->val[v].dtype, &g->val[v].shape);
		}
		fputc('\n', f);
	}
	for (int v = 0; v < g->nval; v++) {
		const Value *val = &g->val[v];
		if (val->kind != VK_CONST)
			continue;
		if (val->state)
			fprintf(f, "  state %s ", ir_state_role_name(val->state));
		else
			fputs(val->param ? "  param " : "  const ", f);
		print_value_name(g, f, v);
		fputs(": ", f);
		print_type(g, f, val->dtype, &val->shape);
		fputs(" = ", f);
		print_data(f, val, flags);
		fputc('\n', f);
	}
	for (int i = 0; i < g->nnode; i++)
		if (!g->node[i].dead)
			print_node(g, f, i);
	for (int i = 0; i < g->noutput; i++) {
		fputs("  output ", f);
		print_value_name(g, f, g->output[i]);
		fputc('\n', f);
	}
	fputs("}\n", f);
}

/* ---- structural equality ---------------------------------------------- */

static const char *str_or_empty(const char *s) { return s ? s : ""; }

static const char *sym_name(const Graph *g, int sym)
{
	return sym > 0 && sym < g->nsym ? str_or_empty(g->sym[sym]) : "";
}

static bool shape_equal(const Graph *a, const Shape *sa, const Graph *b, const Shape *sb)
{
	if (sa->rank != sb->rank)
		return false;
	for (int i = 0; i < sa->rank && i < IR_MAX_RANK; i++) {
		const Dim *x = &sa->d[i], *y = &sb->d[i];
		if (x->n != y->n || (x->sym > 0) != (y->sym > 0))
			return false;
		if (x->sym > 0 && strcmp(sym_name(a, x->sym), sym_name(b, y->sym)) != 0)
			return false;
	}
	return true;
}

/* Compares value va of a with vb of b; on a difference writes it to why. */
static bool value_equal(const Graph *a, int va, const Graph *b, int vb, Diag *why)
{
	if (va < 0 || vb < 0 || va >= a->nval || vb >= b->nval) {
		if ((va < 0) == (vb < 0) && va < a->nval && vb < b->nval)
			return true;
		diag(why, "graphs differ: value index %d vs %d", va, vb);
		return false;
	}
	const Value *x = &a->val[va], *y = &b->val[vb];
	const char *nm = str_or_empty(x->name);
	if (strcmp(nm, str_or_empty(y->name)) != 0) {
		diag(why, "graphs differ: value %%%s vs %%%s", nm, str_or_empty(y->name));
		return false;
	}
	if (x->kind != y->kind) {
		diag(why, "graphs differ: value %%%s: kind %d vs %d", nm, x->kind, y->kind);
		return false;
	}
	if (x->dtype != y->dtype || !shape_equal(a, &x->shape, b, &y->shape)) {
		char s1[256], s2[256];
		ir_shape_str(a, &x->shape, s1, sizeof s1);
		ir_shape_str(b, &y->shape, s2, sizeof s2);
		diag(why, "graphs differ: value %%%s: type %s%s vs %s%s", nm,
		     ir_dtype_name(x->dtype), s1, ir_dtype_name(y->dtype), s2);
		return false;
	}
	if (x->kind != VK_CONST)
		return true;
	if (x->param != y->param) {
		diag(why, "graphs differ: value %%%s: param %d vs %d", nm, x->param, y->param);
		return false;
	}
	if (x->state != y->state) {
		diag(why, "graphs differ: value %%%s: state %d vs %d", nm, x->state, y->state);
		return false;
	}
	if (!x->data != !y->data) {
		diag(why, "graphs differ: value %%%s: data %s vs %s", nm,
		     x->data ? "present" : "elided", y->data ? "present" : "elided");
		return false;
	}
	if (x->data && (x->nbytes != y->nbytes || memcmp(x->data, y->data, x->nbytes) != 0)) {
		diag(why, "graphs differ: value %%%s: data bytes differ (%zu vs %zu bytes)", nm,
		     x->nbytes, y->nbytes);
		return false;
	}
	return true;
}

static bool attr_equal(const Attr *x, const Attr *y)
{
	if (x->kind != y->kind)
		return false;
	switch (x->kind) {
	case AT_INT: return x->i == y->i;
	case AT_FLOAT: return memcmp(&x->f, &y->f, sizeof x->f) == 0; /* bitwise: nan == nan */
	case AT_INTS:
		return x->n == y->n && (x->n == 0 || memcmp(x->ints, y->ints, (size_t)x->n * sizeof *x->ints) == 0);
	case AT_FLOATS:
		return x->n == y->n &&
		       (x->n == 0 || memcmp(x->floats, y->floats, (size_t)x->n * sizeof *x->floats) == 0);
	case AT_STRING: return strcmp(str_or_empty(x->s), str_or_empty(y->s)) == 0;
	}
	return false;
}

static bool node_equal(const Graph *a, int ia, const Graph *b, int ib, Diag *why)
{
	const Node *x = &a->node[ia], *y = &b->node[ib];
	const char *op = x->op >= 0 && x->op < OP_COUNT ? ir_ops[x->op].name : "?";
	if (x->op != y->op) {
		diag(why, "graphs differ: node %d is %s, node %d is %s", ia, op, ib,
		     y->op >= 0 && y->op < OP_COUNT ? ir_ops[y->op].name : "?");
		return false;
	}
	if (strcmp(str_or_empty(x->name), str_or_empty(y->name)) != 0) {
		diag(why, "graphs differ: node %d (%s): name \"%s\" vs \"%s\"", ia, op,
		     str_or_empty(x->name), str_or_empty(y->name));
		return false;
	}
	if (x->group != y->group) {
		diag(why, "graphs differ: node %d (%s \"%s\"): fusion group %d vs %d", ia, op,
		     str_or_empty(x->name), x->group, y->group);
		return false;
	}
	if (x->nin != y->nin || x->nout != y->nout || x->nattr != y->nattr) {
		diag(why, "graphs differ: node %d (%s \"%s\"): %d/%d/%d vs %d/%d/%d inputs/outputs/attributes",
		     ia, op, str_or_empty(x->name), x->nin, x->nout, x->nattr, y->nin, y->nout, y->nattr);
		return false;
	}
	for (int k = 0; k < x->nin; k++) {
		int va = x->in[k], vb = y->in[k];
		bool same = va < 0 || vb < 0 || va >= a->nval || vb >= b->nval
		                ? (va < 0) == (vb < 0)
		                : strcmp(str_or_empty(a->val[va].name), str_or_empty(b->val[vb].name)) == 0;
		if (!same) {
			diag(why, "graphs differ: node %d (%s \"%s\"): input %d differs", ia, op,
			     str_or_empty(x->name), k);
			return false;
		}
	}
	for (int k = 0; k < x->nout; k++)
		if (!value_equal(a, x->out[k], b, y->out[k], why))
			return false;
	for (int k = 0; k < x->nattr; k++) {
		const Attr *ax = &x->attr[k], *ay = ir_attr(y, str_or_empty(ax->name));
		if (!ay || !attr_equal(ax, ay)) {
			diag(why, "graphs differ: node %d (%s \"%s\"): attribute %s differs", ia, op,
			     str_or_empty(x->name), str_or_empty(ax->name));
			return false;
		}
	}
	return true;
}

static int count_consts(const Graph *g)
{
	int n = 0;
	for (int v = 0; v < g->nval; v++)
		n += g->val[v].kind == VK_CONST;
	return n;
}

/* Two graphs are equal when what ir_print shows of them is: the name, the
 * inputs and outputs in order, the constants (matched by name, in any
 * order), and the live nodes in order. Value indices may differ. */
bool ir_graph_equal(const Graph *a, const Graph *b, Diag *why)
{
	if (strcmp(str_or_empty(a->name), str_or_empty(b->name)) != 0) {
		diag(why, "graphs differ: name %s vs %s", str_or_empty(a->name), str_or_empty(b->name));
		return false;
	}
	if (a->ninput != b->ninput) {
		diag(why, "graphs differ: %d vs %d inputs", a->ninput, b->ninput);
		return false;
	}
	for (int i = 0; i < a->ninput; i++)
		if (!value_equal(a, a->input[i], b, b->input[i], why))
			return false;
	int nc = count_consts(a);
	if (nc != count_consts(b)) {
		diag(why, "graphs differ: %d vs %d constants", nc, count_consts(b));
		return false;
	}
	for (int v = 0; v < a->nval; v++) {
		if (a->val[v].kind != VK_CONST)
			continue;
		int w = ir_find_value(b, str_or_empty(a->val[v].name));
		if (w < 0) {
			diag(why, "graphs differ: constant %%%s missing", str_or_empty(a->val[v].name));
			return false;
		}
		if (!value_equal(a, v, b, w, why))
			return false;
	}
	int ia = 0, ib = 0;
	for (;;) {
		while (ia < a->nnode && a->node[ia].dead)
			ia++;
		while (ib < b->nnode && b->node[ib].dead)
			ib++;
		if (ia == a->nnode || ib == b->nnode)
			break;
		if (!node_equal(a, ia, b, ib, why))
			return false;
		ia++, ib++;
	}
	if (ia != a->nnode || ib != b->nnode) {
		diag(why, "graphs differ: different number of live nodes");
		return false;
	}
	if (a->noutput != b->noutput) {
		diag(why, "graphs differ: %d vs %d outputs", a->noutput, b->noutput);
		return false;
	}
	for (int i = 0; i < a->noutput; i++)
		if (!value_equal(a, a->output[i], b, b->output[i], why))
			return false;
	return true;
}
