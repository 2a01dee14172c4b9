/* test_verify.c — ir_verify accepts well-formed graphs and reports every
 * broken invariant, each message naming the node (or value) at fault. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ir/ir.h"

static Shape vec(int64_t n) { return ir_shape_make(1, &n); }

/* Sets out's dtype and shape. */
static int typed(Graph *g, int node, DType t, Shape s)
{
	int v = ir_out(g, node, 0);
	g->val[v].dtype = t;
	g->val[v].shape = s;
	return v;
}

/* Verifies g expecting failure; each fragment must appear in the report. */
static void expect_errors(const Graph *g, const char *const *frags, int n)
{
	Diag d;
	diag_init(&d);
	if (ir_verify(g, &d) == 0)
		fail_msg("verify accepted a broken graph (expected \"%s\")", frags[0]);
	for (int i = 0; i < n; i++)
		if (!strstr(d.msg, frags[i]))
			fail_msg("missing \"%s\" in:\n%s", frags[i], d.msg);
}

static void expect_error(const Graph *g, const char *node, const char *what)
{
	const char *f[] = {node, what};
	expect_errors(g, f, 2);
}

static void expect_ok(const Graph *g)
{
	Diag d;
	diag_init(&d);
	if (ir_verify(g, &d) != 0)
		fail_msg("verify rejected a good graph:\n%s", d.msg);
	assert_int_equal(d.nerr, 0);
}

/* x -> relu -> conv(w, no bias) -> maxpool -> out, all typed. */
static Graph *good_graph(void)
{
	Graph *g = ir_graph_new("good");
	int64_t xs[] = {1, 2, 8, 8}, ws[] = {4, 2, 3, 3};
	int x = ir_add_input(g, "x", DT_F32, ir_shape_make(4, xs));
	int w = ir_add_const(g, "w", DT_F32, ir_shape_make(4, ws), NULL, 4 * 72, true);
	int r = ir_add_node(g, OP_RELU, "r", &x, 1, 1, NULL);
	int rv = typed(g, r, DT_F32, ir_shape_make(4, xs));
	int c = ir_add_node(g, OP_CONV, "c", (int[]){rv, w, -1}, 3, 1, NULL);
	ir_set_ints(g, c, "pads", (int64_t[]){1, 1, 1, 1}, 4);
	int p = ir_add_node(g, OP_MAXPOOL, "p", (int[]){ir_out(g, c, 0)}, 1, 1, NULL);
	ir_set_ints(g, p, "kernel", (int64_t[]){2, 2}, 2);
	ir_add_output(g, ir_out(g, p, 0));
	return g;
}

static void test_good(void **state)
{
	(void)state;
	Graph *g = good_graph();
	expect_ok(g);
	/* a dead node's unused results are fine */
	int y = ir_add_node(g, OP_NEG, "dead", (int[]){0}, 1, 1, NULL);
	g->node[y].dead = true;
	expect_ok(g);
	ir_graph_free(g);
}

static void test_arity(void **state)
{
	(void)state;
	Graph *g = good_graph();
	int a = ir_add_node(g, OP_ADD, "plus", (int[]){0}, 1, 1, NULL);
	expect_error(g, "node 3 (add \"plus\")", "has 1 inputs, expects 2 to 2");
	ir_graph_free(g);

	g = good_graph();
	ir_add_node(g, OP_RELU, "two", (int[]){0}, 1, 2, NULL);
	expect_error(g, "node 3 (relu \"two\")", "has 2 outputs, expects 1");
	ir_graph_free(g);

	g = good_graph();
	ir_add_node(g, OP_CONCAT, "cat", NULL, 0, 1, NULL);
	expect_error(g, "node 3 (concat \"cat\")", "expects at least 1");
	ir_graph_free(g);

	/* -1 only for optional trailing inputs */
	g = good_graph();
	a = ir_add_node(g, OP_ADD, "half", (int[]){0, -1}, 2, 1, NULL);
	expect_error(g, "node 3 (add \"half\")", "input 1 is omitted but not optional");
	(void)a;
	ir_graph_free(g);
}

static void test_attrs(void **state)
{
	(void)state;
	Graph *g = good_graph();
	ir_set_int(g, 0, "foo", 1);
	expect_error(g, "node 0 (relu \"r\")", "unknown attribute 'foo'");
	ir_graph_free(g);

	g = good_graph();
	ir_set_float(g, 1, "group", 2.0);
	expect_error(g, "node 1 (conv \"c\")", "attribute 'group' is float, expected int");
	ir_graph_free(g);

	g = good_graph();
	ir_set_ints(g, 2, "ceil_mode", (int64_t[]){1}, 1);
	expect_error(g, "node 2 (maxpool \"p\")", "attribute 'ceil_mode' is ints, expected int");
	ir_graph_free(g);

	g = good_graph();
	int p = ir_add_node(g, OP_AVGPOOL, "ap", (int[]){0}, 1, 1, NULL);
	int r = ir_add_node(g, OP_RESHAPE, "rs", (int[]){0}, 1, 1, NULL);
	(void)p, (void)r;
	const char *f[] = {"node 3 (avgpool \"ap\"): missing required attribute 'kernel'",
	                   "node 4 (reshape \"rs\"): missing required attribute 'shape'"};
	expect_errors(g, f, 2);
	ir_graph_free(g);

	/* an attribute given twice (only a hand-built graph can do this) */
	g = good_graph();
	Node *n = &g->node[2];
	Attr *two = ir_alloc(g, 2 * sizeof *two);
	two[0] = n->attr[0];
	two[1] = n->attr[0];
	n->attr = two;
	n->nattr = 2;
	expect_error(g, "node 2 (maxpool \"p\")", "attribute 'kernel' given twice");
	ir_graph_free(g);
}

static void test_use_before_def(void **state)
{
	(void)state;
	Graph *g = good_graph();
	/* relu now reads maxpool's result, which is defined later */
	g->node[0].in[0] = ir_out(g, 2, 0);
	expect_error(g, "node 0 (relu \"r\")", "used before it is defined (by node 2)");
	ir_graph_free(g);

	g = good_graph();
	g->node[1].dead = true; /* maxpool reads a dead node's result */
	const char *f[] = {"node 2 (maxpool \"p\"): input 0 %c is defined by dead node 1"};
	expect_errors(g, f, 1);
	ir_graph_free(g);

	g = good_graph();
	g->node[2].in[0] = 99;
	expect_error(g, "node 2 (maxpool \"p\")", "value index 99, which does not exist");
	ir_graph_free(g);
}

static void test_duplicate_names(void **state)
{
	(void)state;
	Graph *g = good_graph();
	g->val[ir_out(g, 1, 0)].name = "r"; /* conv's result renamed to relu's */
	expect_error(g, "node 1 (conv \"c\")", "defines %r, a name already used");
	ir_graph_free(g);

	g = good_graph();
	g->val[1].name = "x"; /* constant named like the input */
	expect_error(g, "value %x", "name already used by value 0");
	ir_graph_free(g);
}

static void test_const_size(void **state)
{
	(void)state;
	Graph *g = good_graph();
	g->val[1].nbytes = 8;
	expect_error(g, "constant %w", "8 bytes of data, but f32[4, 2, 3, 3] needs 288");
	ir_graph_free(g);
	/* elided data and symbolic shapes are not checked */
	g = good_graph();
	g->val[1].data = NULL;
	g->val[1].nbytes = 0;
	expect_ok(g);
	ir_graph_free(g);
}

static void test_dtype_mismatch(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int a = ir_add_input(g, "a", DT_F32, vec(3));
	int b = ir_add_input(g, "b", DT_I64, vec(3));
	int c = ir_add_input(g, "c", DT_UNDEF, vec(3));
	int n0 = ir_add_node(g, OP_ADD, "ok", (int[]){a, c}, 2, 1, NULL);
	typed(g, n0, DT_F32, vec(3));
	int n1 = ir_add_node(g, OP_MUL, "mix", (int[]){a, b}, 2, 1, NULL);
	int n2 = ir_add_node(g, OP_NEG, "cast", &a, 1, 1, NULL);
	typed(g, n2, DT_F64, vec(3));
	(void)n1;
	const char *f[] = {"node 1 (mul \"mix\"): input dtypes disagree: %a is f32, %b is i64",
	                   "node 2 (neg \"cast\"): output %cast is f64 but its inputs are f32"};
	expect_errors(g, f, 2);
	Diag d;
	diag_init(&d);
	ir_verify(g, &d);
	assert_int_equal(d.nerr, 2); /* node 0 (known f32 + unknown) is fine */
	ir_graph_free(g);
}

static void test_structure(void **state)
{
	(void)state;
	Graph *g = good_graph();
	g->val[ir_out(g, 0, 0)].defslot = 3;
	const char *f[] = {"node 0 (relu \"r\"): output 0 %r does not point back", "value %r"};
	expect_errors(g, f, 2);
	ir_graph_free(g);

	g = good_graph();
	g->input[0] = 1; /* a constant listed as a graph input */
	expect_error(g, "graph input 0 (%w)", "not an input value");
	ir_graph_free(g);

	g = good_graph();
	g->ninput = 0; /* %x is no longer listed */
	expect_error(g, "value %x", "is an input value but not a graph input");
	ir_graph_free(g);

	g = good_graph();
	g->output[0] = 1234;
	expect_error(g, "graph output 0", "does not exist");
	ir_graph_free(g);

	g = good_graph();
	g->node[1].op = (Op)(OP_COUNT + 3);
	expect_error(g, "node 1 (op#", "invalid op");
	ir_graph_free(g);

	g = good_graph();
	g->val[0].shape.rank = 12;
	expect_error(g, "value %x", "invalid rank 12");
	ir_graph_free(g);
}

/* All problems are reported, not just the first; a parsed graph with an
 * attribute outside the schema parses but does not verify. */
static void test_collects_all(void **state)
{
	(void)state;
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse("graph g {\n"
	                    "  input %x: f32[2]\n"
	                    "  input %y: i32[2]\n"
	                    "  %a = relu(%x) {bogus = 1}\n"
	                    "  %b = leaky_relu(%a) {alpha = 1}\n"
	                    "  %c = sub(%x, %y)\n"
	                    "  %d = pad(%c)\n"
	                    "  output %d\n"
	                    "}\n",
	                    "g.ir", &d);
	if (!g)
		fail_msg("%s", d.msg);
	const char *f[] = {"node 0 (relu \"\"): unknown attribute 'bogus'",
	                   "node 1 (leaky_relu \"\"): attribute 'alpha' is int, expected float",
	                   "node 2 (sub \"\"): input dtypes disagree",
	                   "node 3 (pad \"\"): missing required attribute 'pads'"};
	expect_errors(g, f, 4);
	diag_init(&d);
	assert_int_equal(ir_verify(g, &d), -1);
	assert_int_equal(d.nerr, 4);
	ir_graph_free(g);
}

/* Predicates give bool from f32 inputs and where takes a bool condition;
 * a predicate's inputs must still agree. */
static void test_predicates(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("pred");
	int a = ir_add_input(g, "a", DT_F32, vec(3)), b = ir_add_input(g, "b", DT_F32, vec(3));
	int lt = typed(g, ir_add_node(g, OP_LESS, "lt", (int[]){a, b}, 2, 1, NULL), DT_BOOL, vec(3));
	int nan = typed(g, ir_add_node(g, OP_ISNAN, "nan", &a, 1, 1, NULL), DT_BOOL, vec(3));
	int w = typed(g, ir_add_node(g, OP_WHERE, "w", (int[]){lt, a, b}, 3, 1, NULL), DT_F32, vec(3));
	ir_add_output(g, w);
	ir_add_output(g, nan);
	expect_ok(g);
	g->val[b].dtype = DT_F64; /* the compared inputs must still agree */
	expect_error(g, "lt", "input 0 is f32 but input 1 is f64");
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_arity),
	    cmocka_unit_test(test_attrs),
	    cmocka_unit_test(test_use_before_def),
	    cmocka_unit_test(test_duplicate_names),
	    cmocka_unit_test(test_const_size),
	    cmocka_unit_test(test_dtype_mismatch),
	    cmocka_unit_test(test_structure),
	    cmocka_unit_test(test_collects_all),
	    cmocka_unit_test(test_predicates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
