/* test_ir_text.c — the text IR: print/parse round trips for every op, every
 * dtype's constant data (inf, nan, -0.0 included), elided data, symbolic
 * and unknown dims, quoted names, parse errors with line:col and caret,
 * and robustness of the parser against truncated and mangled input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

/* Prints g into a malloc'd string. */
static char *print_str(const Graph *g, unsigned flags)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	ir_print(g, f, flags);
	fclose(f);
	return buf;
}

/* Prints g, parses it back, checks equality and that printing the parsed
 * graph gives the same text. Returns the parsed graph. */
static Graph *roundtrip(const Graph *g, unsigned flags)
{
	char *text = print_str(g, flags);
	Diag d;
	diag_init(&d);
	Graph *h = ir_parse(text, "rt.ir", &d);
	if (!h)
		fail_msg("parse failed:\n%s\ntext:\n%s", d.msg, text);
	Diag why;
	diag_init(&why);
	if (!ir_graph_equal(g, h, &why))
		fail_msg("not equal: %s\ntext:\n%s", why.msg, text);
	char *again = print_str(h, flags);
	assert_string_equal(text, again);
	free(text);
	free(again);
	return h;
}

/* Sets an attribute of every schema entry, with a plausible value. */
static void set_schema_attrs(Graph *g, int node, Op op)
{
	const char *s = ir_ops[op].attrs;
	while (*s) {
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		char name[64], kind[16];
		int n = 0;
		while (*s && *s != ':' && n < 63)
			name[n++] = *s++;
		name[n] = 0;
		assert_true(*s == ':');
		s++;
		n = 0;
		while (*s && *s != ' ' && *s != '!' && n < 15)
			kind[n++] = *s++;
		kind[n] = 0;
		while (*s && *s != ' ')
			s++;
		if (strcmp(kind, "int") == 0) {
			ir_set_int(g, node, name, 1);
		} else if (strcmp(kind, "float") == 0) {
			ir_set_float(g, node, name, 1e-05);
		} else if (strcmp(kind, "ints") == 0) {
			int64_t v[] = {2, 2, 0, -1};
			int cnt = strcmp(name, "pads") == 0 ? 4 : 2;
			ir_set_ints(g, node, name, v, cnt);
		} else if (strcmp(kind, "floats") == 0) {
			double v[] = {0.5, -2.0};
			ir_set_floats(g, node, name, v, 2);
		} else if (strcmp(kind, "string") == 0) {
			ir_set_string(g, node, name, "mode \"x\"");
		} else {
			fail_msg("bad schema kind %s for %s", kind, ir_ops[op].name);
		}
	}
}

static void test_roundtrip_every_op(void **state)
{
	(void)state;
	for (int op = 0; op < OP_COUNT; op++) {
		const OpInfo *oi = &ir_ops[op];
		Graph *g = ir_graph_new("t");
		int n = ir_sym(g, "N");
		Shape s = ir_shape_make(2, (int64_t[]){2, 3});
		s.d[0].n = -1;
		s.d[0].sym = n;
		int nin = oi->nin_max < 0 ? 3 : oi->nin_max;
		int in[8];
		for (int k = 0; k < nin; k++) {
			char nm[16];
			snprintf(nm, sizeof nm, "x%d", k);
			if (k == 0 && op == OP_ASSIGN) { /* assign's target is training state */
				float data[6] = {0};
				in[k] = ir_add_const(g, nm, DT_F32, ir_shape_make(2, (int64_t[]){2, 3}), data,
				                     sizeof data, true);
				g->val[in[k]].state = IR_STATE_PARAM;
			} else if (k == 0) {
				in[k] = ir_add_input(g, nm, DT_F32, s);
			} else {
				float data[6] = {1, -2.5f, 3, 0, 1e-3f, 7};
				in[k] = ir_add_const(g, nm, DT_F32, ir_shape_make(2, (int64_t[]){2, 3}), data,
				                     sizeof data, k % 2 == 1);
			}
		}
		int node = ir_add_node(g, (Op)op, "/the/node", in, nin, oi->nout, NULL);
		set_schema_attrs(g, node, (Op)op);
		for (int k = 0; k < oi->nout; k++) {
			int v = ir_out(g, node, k);
			g->val[v].dtype = DT_F32;
			g->val[v].shape = s;
			ir_add_output(g, v);
		}
		Diag d;
		diag_init(&d);
		if (ir_ew_mixed_types((Op)op)) { /* where's condition is bool; the rule types the output */
			if (op == OP_WHERE)
				g->val[in[0]].dtype = DT_BOOL;
			if (op == OP_BITCAST)
				ir_set_string(g, node, "to", "i32");
			if (ir_infer_node(g, node, &d))
				fail_msg("op %s: %s", oi->name, d.msg);
		}
		if (ir_verify(g, &d) != 0)
			fail_msg("op %s: built graph does not verify:\n%s", oi->name, d.msg);
		Graph *h = roundtrip(g, IR_PRINT_DATA);
		assert_int_equal(h->nnode, 1);
		assert_int_equal(h->node[0].op, op);
		assert_int_equal(h->node[0].nattr, g->node[node].nattr);
		assert_int_equal(ir_verify(h, &d), 0);
		ir_graph_free(h);
		ir_graph_free(g);
	}
}

/* The example from docs/ir.md parses into the structure it shows. */
static void test_parse_example(void **state)
{
	(void)state;
	const char *src =
	    "# a comment\n"
	    "graph mlp {\n"
	    "  input %x: f32[N, 784]\n"
	    "  param %fc1.weight: f32[128, 784] = elided\n"
	    "  const %shape: i64[2] = [1, -1]   # trailing comment\n"
	    "  %h: f32[N, 128] = matmul(%x, %fc1.weight) {trans_b = 1} @\"/fc1/Gemm\"\n"
	    "  %y = relu(%h)\n"
	    "  %c: f32[N, 8, 2, 2] = conv(%x, %fc1.weight, _) {strides = [1, 1], pads = []}\n"
	    "  output %y\n"
	    "}\n";
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "mlp.ir", &d);
	if (!g)
		fail_msg("%s", d.msg);
	assert_string_equal(g->name, "mlp");
	assert_int_equal(g->ninput, 1);
	assert_int_equal(g->nnode, 3);
	int x = ir_find_value(g, "x"), w = ir_find_value(g, "fc1.weight");
	int sh = ir_find_value(g, "shape"), h = ir_find_value(g, "h"), y = ir_find_value(g, "y");
	assert_true(x >= 0 && w >= 0 && sh >= 0 && h >= 0 && y >= 0);
	assert_int_equal(g->input[0], x);
	assert_int_equal(g->val[x].shape.rank, 2);
	assert_string_equal(g->sym[g->val[x].shape.d[0].sym], "N");
	assert_int_equal(g->val[x].shape.d[1].n, 784);
	assert_int_equal(g->val[w].kind, VK_CONST);
	assert_true(g->val[w].param);
	assert_null(g->val[w].data);
	assert_int_equal(g->val[w].nbytes, 0);
	assert_false(g->val[sh].param);
	assert_int_equal(g->val[sh].nbytes, 16);
	assert_int_equal(((int64_t *)g->val[sh].data)[1], -1);
	const Node *mm = &g->node[0];
	assert_int_equal(mm->op, OP_MATMUL);
	assert_string_equal(mm->name, "/fc1/Gemm");
	assert_int_equal(mm->in[0], x);
	assert_int_equal(mm->in[1], w);
	assert_int_equal(ir_attr_int(mm, "trans_b", 0), 1);
	assert_int_equal(g->val[h].def, 0);
	assert_int_equal(g->val[y].dtype, DT_UNDEF);
	assert_int_equal(g->val[y].shape.rank, -1);
	assert_string_equal(g->node[1].name, "");
	const Node *cv = &g->node[2];
	assert_int_equal(cv->nin, 3);
	assert_int_equal(cv->in[2], -1);
	const Attr *pads = ir_attr(cv, "pads");
	assert_non_null(pads);
	assert_int_equal(pads->kind, AT_INTS); /* empty list: kind from the schema */
	assert_int_equal(pads->n, 0);
	assert_int_equal(g->noutput, 1);
	assert_int_equal(g->output[0], y);

	/* Untyped outputs print without a type. */
	char *text = print_str(g, 0);
	assert_non_null(strstr(text, "  %y = relu(%h)\n"));
	assert_non_null(strstr(text, "@\"/fc1/Gemm\""));
	free(text);
	ir_graph_free(roundtrip(g, 0));
	ir_graph_free(g);
}

/* Dead nodes are neither printed nor compared. */
static void test_dead_nodes(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("dead");
	int x = ir_add_input(g, "x", DT_F32, ir_shape_make(1, (int64_t[]){4}));
	int a = ir_add_node(g, OP_RELU, "gone", &x, 1, 1, NULL);
	int b = ir_add_node(g, OP_NEG, "kept", &x, 1, 1, NULL);
	ir_add_output(g, ir_out(g, b, 0));
	g->node[a].dead = true;
	char *text = print_str(g, 0);
	assert_null(strstr(text, "relu"));
	assert_non_null(strstr(text, "%kept = neg(%x) @\"kept\""));
	free(text);
	Graph *h = roundtrip(g, 0);
	assert_int_equal(h->nnode, 1);
	/* a live extra node is a difference */
	ir_add_node(h, OP_RELU, "", &x, 1, 1, NULL);
	Diag why;
	diag_init(&why);
	assert_false(ir_graph_equal(g, h, &why));
	assert_non_null(strstr(why.msg, "live nodes"));
	ir_graph_free(h);
	ir_graph_free(g);
}

/* Attributes of every kind, including ones not in the schema (parsed by
 * their literal form) and empty lists whose kind comes from the schema. */
static void test_attr_kinds(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("a");
	int x = ir_add_input(g, "x", DT_F32, ir_shape_make(1, (int64_t[]){4}));
	int n = ir_add_node(g, OP_CLIP, "", &x, 1, 1, NULL);
	ir_set_float(g, n, "min", -INFINITY);
	ir_set_float(g, n, "max", 6.0);
	ir_set_int(g, n, "i", -9223372036854775807LL - 1);
	ir_set_float(g, n, "f", 0.1);
	ir_set_float(g, n, "nz", -0.0);
	ir_set_float(g, n, "nan", NAN);
	ir_set_ints(g, n, "is", (int64_t[]){1, -2, 3}, 3);
	ir_set_floats(g, n, "fs", (double[]){1.0, 2.5, 1e300, -INFINITY}, 4);
	ir_set_ints(g, n, "eis", NULL, 0);
	ir_set_string(g, n, "s", "a\"b\\c\nd\te\001f\377");
	ir_set_string(g, n, "weird name", "");
	int m = ir_add_node(g, OP_CONV, "", (int[]){x, x, -1}, 3, 1, NULL);
	ir_set_ints(g, m, "pads", NULL, 0);
	ir_add_output(g, ir_out(g, m, 0));
	ir_add_output(g, ir_out(g, n, 0));
	char *text = print_str(g, 0);
	assert_non_null(strstr(text, "max = 6.0"));
	assert_non_null(strstr(text, "min = -inf"));
	assert_non_null(strstr(text, "f = 0.1"));
	assert_non_null(strstr(text, "nz = -0.0"));
	assert_non_null(strstr(text, "fs = [1.0, 2.5, 1e+300, -inf]"));
	assert_non_null(strstr(text, "\"weird name\" = \"\""));
	assert_non_null(strstr(text, "s = \"a\\\"b\\\\c\\nd\\te\\001f\\377\""));
	free(text);
	Graph *h = roundtrip(g, 0);
	const Node *hn = &h->node[0];
	assert_int_equal(ir_attr(hn, "fs")->kind, AT_FLOATS);
	assert_string_equal(ir_attr(hn, "s")->s, "a\"b\\c\nd\te\001f\377");
	ir_graph_free(h);
	ir_graph_free(g);

	/* An empty list not in the schema reads as ints; one in the schema
	 * takes the schema's kind. */
	Diag d;
	diag_init(&d);
	g = ir_parse("graph e { input %x: f32[1] %y = clip(%x) {zz = [], yy = [1, 2.0]} output %y }", "e.ir", &d);
	assert_non_null(g);
	assert_int_equal(ir_attr(&g->node[0], "zz")->kind, AT_INTS);
	assert_int_equal(ir_attr(&g->node[0], "yy")->kind, AT_FLOATS);
	assert_true(ir_attr(&g->node[0], "yy")->floats[0] == 1.0);
	ir_graph_free(g);
}

static void test_const_dtypes(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("c");
	float f32[] = {1.5f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1e-45f, FLT_MAX, 0.1f, 16777217.0f};
	double f64[] = {0.1, -0.0, INFINITY, -INFINITY, NAN, 4.9e-324, DBL_MAX, 1.0 / 3};
	uint16_t f16[] = {0x3c00, 0x7e00, 0x8000, 0xffff};
	uint16_t bf16[] = {0x3f80, 0x7fc0, 0x0001};
	int8_t i8[] = {-128, 127, 0};
	uint8_t u8[] = {0, 255, 7};
	int32_t i32[] = {INT32_MIN, INT32_MAX, -1};
	int64_t i64[] = {INT64_MIN, INT64_MAX, 0};
	uint8_t b[] = {0, 1, 1, 0};
	int64_t one = 1;
	struct {
		const char *name;
		DType t;
		const void *p;
		size_t nbytes, esz;
	} c[] = {
	    {"f32", DT_F32, f32, sizeof f32, 4}, {"f64", DT_F64, f64, sizeof f64, 8},
	    {"f16", DT_F16, f16, sizeof f16, 2}, {"bf16", DT_BF16, bf16, sizeof bf16, 2},
	    {"i8", DT_I8, i8, sizeof i8, 1},     {"u8", DT_U8, u8, sizeof u8, 1},
	    {"i32", DT_I32, i32, sizeof i32, 4}, {"i64", DT_I64, i64, sizeof i64, 8},
	    {"bool", DT_BOOL, b, sizeof b, 1},   {"scalar", DT_I64, &one, 8, 8},
	};
	for (size_t k = 0; k < sizeof c / sizeof *c; k++) {
		int64_t n = (int64_t)(c[k].nbytes / c[k].esz);
		Shape s = k + 1 == sizeof c / sizeof *c ? ir_shape_make(0, NULL) : ir_shape_make(1, &n);
		ir_add_const(g, c[k].name, c[k].t, s, c[k].p, c[k].nbytes, k % 2 == 0);
	}
	char *text = print_str(g, 0);
	assert_non_null(strstr(text, "param %f32: f32[10] = [1.5, -0, inf, -inf, nan, -nan, 1.4013e-45, "
	                             "3.4028235e+38, 0.1, 16777216]"));
	assert_non_null(strstr(text, "= [0x3c00, 0x7e00, 0x8000, 0xffff]"));
	assert_non_null(strstr(text, "param %i8: i8[3] = [-128, 127, 0]"));
	assert_non_null(strstr(text, "= [-9223372036854775808, 9223372036854775807, 0]"));
	assert_non_null(strstr(text, "const %scalar: i64[] = [1]"));
	free(text);
	Graph *h = roundtrip(g, 0); /* compares data bytewise: -0.0, nan signs survive */
	int v = ir_find_value(h, "f32");
	uint32_t bits;
	memcpy(&bits, (char *)h->val[v].data + 4, 4);
	assert_int_equal(bits, 0x80000000u);
	ir_graph_free(h);
	ir_graph_free(g);
}

static void test_elided(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("e");
	float big[17], small[16];
	for (int i = 0; i < 17; i++)
		big[i] = (float)i / 7;
	memcpy(small, big, sizeof small);
	ir_add_const(g, "big", DT_F32, ir_shape_make(1, (int64_t[]){17}), big, sizeof big, true);
	ir_add_const(g, "small", DT_F32, ir_shape_make(1, (int64_t[]){16}), small, sizeof small, false);
	char *text = print_str(g, 0);
	assert_non_null(strstr(text, "param %big: f32[17] = elided\n"));
	assert_null(strstr(text, "%small: f32[16] = elided"));
	Diag d;
	diag_init(&d);
	Graph *h = ir_parse(text, "e.ir", &d);
	assert_non_null(h);
	int v = ir_find_value(h, "big");
	assert_null(h->val[v].data);
	assert_int_equal(h->val[v].nbytes, 0);
	assert_non_null(h->val[ir_find_value(h, "small")].data);
	Diag why;
	diag_init(&why);
	assert_false(ir_graph_equal(g, h, &why));
	assert_non_null(strstr(why.msg, "%big"));
	/* an elided graph round-trips as elided */
	ir_graph_free(roundtrip(h, 0));
	ir_graph_free(h);
	free(text);
	/* with IR_PRINT_DATA everything prints, wrapped over lines */
	text = print_str(g, IR_PRINT_DATA);
	assert_null(strstr(text, "elided"));
	assert_non_null(strstr(text, ",\n"));
	free(text);
	ir_graph_free(roundtrip(g, IR_PRINT_DATA));
	ir_graph_free(g);
}

static void test_dims(void **state)
{
	(void)state;
	const char *src = "graph d {\n"
	                  "  input %a: f32[N, ?, 3, \"batch size\"]\n"
	                  "  input %b: ?[*]\n"
	                  "  input %c: i64[]\n"
	                  "  input %e: bool[N, 0]\n"
	                  "  const %s: f32[M] = [1, 2, 3]\n"
	                  "  %r: ?[2, K] = add(%a, %b)\n"
	                  "  %t: f32[*] = neg(%r)\n"
	                  "  output %t\n"
	                  "}\n";
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "d.ir", &d);
	if (!g)
		fail_msg("%s", d.msg);
	const Value *a = &g->val[ir_find_value(g, "a")];
	assert_int_equal(a->shape.rank, 4);
	assert_string_equal(g->sym[a->shape.d[0].sym], "N");
	assert_int_equal(a->shape.d[0].n, -1);
	assert_int_equal(a->shape.d[1].sym, 0);
	assert_int_equal(a->shape.d[1].n, -1);
	assert_int_equal(a->shape.d[2].n, 3);
	assert_string_equal(g->sym[a->shape.d[3].sym], "batch size");
	const Value *b = &g->val[ir_find_value(g, "b")];
	assert_int_equal(b->dtype, DT_UNDEF);
	assert_int_equal(b->shape.rank, -1);
	assert_int_equal(g->val[ir_find_value(g, "c")].shape.rank, 0);
	const Value *e = &g->val[ir_find_value(g, "e")];
	assert_int_equal(e->shape.d[0].sym, a->shape.d[0].sym); /* N interned once */
	assert_int_equal(e->shape.d[1].n, 0);
	const Value *s = &g->val[ir_find_value(g, "s")];
	assert_int_equal(s->nbytes, 12); /* symbolic shape: any count */
	const Value *r = &g->val[ir_find_value(g, "r")];
	assert_int_equal(r->dtype, DT_UNDEF);
	assert_int_equal(r->shape.rank, 2);
	char *text = print_str(g, 0);
	assert_non_null(strstr(text, "input %a: f32[N, ?, 3, \"batch size\"]\n"));
	assert_non_null(strstr(text, "input %b: ?[*]\n"));
	assert_non_null(strstr(text, "%r: ?[2, K] = add(%a, %b)\n"));
	assert_non_null(strstr(text, "%t: f32[*] = neg(%r)\n"));
	free(text);
	ir_graph_free(roundtrip(g, 0));

	/* Symbols compare by name, not index. */
	Graph *h = ir_parse(
	    "graph d { input %z: f32[K] input %a: f32[N, ?, 3, \"batch size\"] input %b: ?[*] input %c: i64[] "
	    "input %e: bool[N, 0] const %s: f32[M] = [1, 2, 3] %r: ?[2, K] = add(%a, %b) "
	    "%t: f32[*] = neg(%r) output %t }",
	    "d2.ir", &d);
	assert_non_null(h);
	Diag why;
	diag_init(&why);
	assert_false(ir_graph_equal(g, h, &why)); /* extra input %z */
	ir_graph_free(h);
	ir_graph_free(g);
}

static void test_quoted_names(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("my model");
	int n = ir_sym(g, "N:1");
	Shape s = ir_shape_make(1, (int64_t[]){1});
	s.d[0].n = -1;
	s.d[0].sym = n;
	int a = ir_add_input(g, "a b", DT_F32, s);
	int c = ir_add_input(g, "x:", DT_F32, s);
	int k = ir_add_const(g, "caf\xc3\xa9\t\"q\"", DT_F32, ir_shape_make(0, NULL), (float[]){2}, 4, true);
	int m = ir_add_node(g, OP_ADD, "node \"with\" quotes\n", (int[]){a, c}, 2, 1,
	                    (const char *[]){"conv:1"});
	int v = ir_out(g, m, 0);
	g->val[v].dtype = DT_F32;
	g->val[v].shape = s;
	int m2 = ir_add_node(g, OP_MUL, "", (int[]){v, k}, 2, 1, (const char *[]){"odd/name-1.2:x"});
	ir_add_output(g, ir_out(g, m2, 0));
	char *text = print_str(g, 0);
	assert_non_null(strstr(text, "graph \"my model\" {"));
	assert_non_null(strstr(text, "input %\"a b\": f32[\"N:1\"]"));
	assert_non_null(strstr(text, "input %\"x:\": f32"));
	assert_non_null(strstr(text, "%\"caf\\303\\251\\t\\\"q\\\"\": f32[] = [2]"));
	assert_non_null(strstr(text, "%conv:1: f32[\"N:1\"] = add(%\"a b\", %\"x:\")"));
	assert_non_null(strstr(text, "@\"node \\\"with\\\" quotes\\n\""));
	assert_non_null(strstr(text, "%odd/name-1.2:x = mul(%conv:1, %"));
	free(text);
	Graph *h = roundtrip(g, 0);
	assert_true(ir_find_value(h, "x:") >= 0);
	assert_true(ir_find_value(h, "conv:1") >= 0);
	assert_string_equal(h->name, "my model");
	ir_graph_free(h);
	ir_graph_free(g);

	/* \x escapes are accepted on input too */
	Diag d;
	diag_init(&d);
	h = ir_parse("graph q { input %\"\\x41\\x7a\": f32[1] output %Az }", "q.ir", &d);
	if (!h)
		fail_msg("%s", d.msg);
	ir_graph_free(h);
}

/* Each malformed input must fail with "file:LINE:COL: ..." naming the right
 * line, a message fragment, and a caret line. */
static void test_parse_errors(void **state)
{
	(void)state;
	static const struct {
		const char *src;
		const char *where; /* "bad.ir:LINE:COL:" */
		const char *what;  /* fragment of the message */
	} cases[] = {
	    {"graph g {\n  input %x: f32[2]\n  %y = frobnicate(%x)\n}\n", "bad.ir:3:8:", "unknown op 'frobnicate'"},
	    {"graph g {\n  input %x: f32[2]\n  %y = relu(%z)\n}\n", "bad.ir:3:13:", "unknown value %z"},
	    {"graph g {\n  input %x: f32[2]\n  input %x: f32[3]\n}\n", "bad.ir:3:9:", "redefinition of %x"},
	    {"graph g {\n  input %x: f33[2]\n}\n", "bad.ir:2:13:", "unknown dtype 'f33'"},
	    {"graph g {\n  input %x: f32[2]\n  %y = relu(%x) @\"oops\n}\n", "bad.ir:3:18:", "unterminated string"},
	    {"graph g {\n  input %x: f32[2]\n  %y = add(%x)\n}\n", "bad.ir:3:8:", "add takes 2 inputs, 1 given"},
	    {"graph g {\n  input %x: f32[2]\n  %y, %z = relu(%x)\n}\n", "bad.ir:3:12:", "relu has 1 output, 2 given"},
	    {"graph g {\n  input %x: f32[2]\n", "bad.ir:3:1:", "expected '}'"},
	    {"graph g {\n  const %c: f32[2, 2] = [1, 2, 3]\n}\n", "bad.ir:2:25:", "3 elements given, shape holds 4"},
	    {"graph g {\n\n  const %c: i8[2] = [1, 300]\n}\n", "bad.ir:3:25:", "out of range for i8"},
	    {"grph g {}\n", "bad.ir:1:1:", "expected 'graph'"},
	    {"graph g {\n  input %x: f32[1,2,3,4,5,6,7,8,9]\n}\n", "bad.ir:2:33:", "more than 8 dims"},
	    {"graph g {\n  input %x: f32[2]\n  %y = leaky_relu(%x) {alpha = 0.1, alpha = 0.2}\n}\n",
	     "bad.ir:3:37:", "duplicate attribute 'alpha'"},
	    {"graph g {\n  input %x: f32[2]\n  %y = add(%x, _)\n}\n", "bad.ir:3:16:", "not optional"},
	    {"graph g {\n  input %x: f32[2]\n}\n}\n", "bad.ir:4:1:", "unexpected text"},
	    {"graph g {\n  input %x: f32[2]\n  output %x\n  %y = relu(%x) {a = 1e999}\n}\n", "bad.ir:4:22:",
	     "out of range"},
	    {"graph g {\n  const %h: f16[1] = [1.0]\n}\n", "bad.ir:2:23:", "bit patterns"},
	    {"graph g {\n  input %x: f32[-1]\n}\n", "bad.ir:2:17:", "expected a dim"},
	    {"graph g {\n  input %\"a\\qb\": f32[1]\n}\n", "bad.ir:2:12:", "unknown escape"},
	    {"graph g {\n  input %x: f32[2]\n  %y = relu(%x) {a = [1, 2}\n}\n", "bad.ir:3:27:", "expected ']' or ',' in attribute list"},
	    {"graph g {\n  const %c: ?[2] = [1, 2]\n}\n", "bad.ir:2:20:", "needs a dtype"},
	    {"graph g {\n  wibble %x\n}\n", "bad.ir:2:3:", "unknown statement 'wibble'"},
	    {"", "bad.ir:1:1:", "expected 'graph'"},
	    /* an empty name used to trip an assertion (the graph renames "" to "v") */
	    {"graph g {\n  input %x: f32[2]\n  %\"\" = relu(%x)\n}\n", "bad.ir:3:3:", "may not be empty"},
	    {"graph g {\n  input %\"\": f32[2]\n}\n", "bad.ir:2:9:", "may not be empty"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		Diag d;
		diag_init(&d);
		Graph *g = ir_parse(cases[i].src, "bad.ir", &d);
		if (g)
			fail_msg("case %zu parsed but should not:\n%s", i, cases[i].src);
		if (!strstr(d.msg, cases[i].where) || !strstr(d.msg, cases[i].what))
			fail_msg("case %zu: want \"%s ... %s\", got:\n%s", i, cases[i].where, cases[i].what, d.msg);
		assert_non_null(strchr(d.msg, '^'));
		assert_int_equal(d.nerr, 1);
	}

	/* The caret sits under the column, after a copy of the source line. */
	Diag d;
	diag_init(&d);
	assert_null(ir_parse("graph g {\n\tinput %x: f32[2]\n\t%y = relu(%nope)\n}\n", "c.ir", &d));
	assert_string_equal(d.msg, "c.ir:3:12: unknown value %nope\n"
	                           "\t%y = relu(%nope)\n"
	                           "\t          ^\n");
}

/* Deterministic pseudo-random numbers for the mangling test. */
static uint32_t rng(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

/* Truncations at every byte and random byte mutations of a valid text must
 * either parse (and then print and re-parse) or fail with a message; never
 * crash or read past the end (run under ASan to be sure of the latter). */
static void test_mangled_input(void **state)
{
	(void)state;
	const char *src = "graph m {\n"
	                  "  input %x: f32[N, 4]  # c\n"
	                  "  param %w: f32[4, 4] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16e-3]\n"
	                  "  const %b: f16[2] = [0x3c00, 0x0]\n"
	                  "  %h: f32[N, 4] = matmul(%x, %w) {trans_b = 1} @\"/fc\\\"1\"\n"
	                  "  %p = maxpool(%h) {kernel = [2, 2], pads = [0, 0, 1, 1], ceil_mode = 0}\n"
	                  "  %q: f32[*] = clip(%p) {min = -inf, max = 6.0}\n"
	                  "  output %q\n"
	                  "}\n";
	size_t n = strlen(src);
	char *buf = malloc(n + 1);
	Diag d;
	for (size_t cut = 0; cut < n; cut++) {
		char *t = malloc(cut + 1); /* exact size so ASan catches overreads */
		memcpy(t, src, cut);
		t[cut] = 0;
		diag_init(&d);
		Graph *g = ir_parse(t, "cut.ir", &d);
		assert_true(g != NULL || d.nerr == 1);
		ir_graph_free(g);
		free(t);
	}
	static const char junk[] = "%\"\\[]{}(),=:_@#?*-+.0x9eE\n\t azinf";
	uint32_t seed = 12345;
	int parsed = 0;
	for (int iter = 0; iter < 20000; iter++) {
		memcpy(buf, src, n + 1);
		int edits = 1 + (int)(rng(&seed) % 4);
		for (int e = 0; e < edits; e++) {
			size_t pos = rng(&seed) % n;
			uint32_t r = rng(&seed);
			buf[pos] = r & 1 ? junk[(r >> 1) % (sizeof junk - 1)] : (char)(1 + (r >> 1) % 255);
		}
		diag_init(&d);
		Graph *g = ir_parse(buf, "mangled.ir", &d);
		if (!g) {
			assert_int_equal(d.nerr, 1);
			continue;
		}
		parsed++;
		char *text = print_str(g, IR_PRINT_DATA);
		diag_init(&d);
		Graph *h = ir_parse(text, "again.ir", &d);
		if (!h)
			fail_msg("re-parse failed:\n%s\n%s", d.msg, text);
		Diag why;
		diag_init(&why);
		if (!ir_graph_equal(g, h, &why))
			fail_msg("%s\n%s", why.msg, text);
		ir_graph_free(h);
		ir_graph_free(g);
		free(text);
	}
	assert_true(parsed > 0);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_every_op),
	    cmocka_unit_test(test_parse_example),
	    cmocka_unit_test(test_dead_nodes),
	    cmocka_unit_test(test_attr_kinds),
	    cmocka_unit_test(test_const_dtypes),
	    cmocka_unit_test(test_elided),
	    cmocka_unit_test(test_dims),
	    cmocka_unit_test(test_quoted_names),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_mangled_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
