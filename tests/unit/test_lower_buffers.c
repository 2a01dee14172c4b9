/* test_lower_buffers.c — lowering beyond single ops: buffers, views that
 * share storage, copy kernels for outputs, dead nodes, the plan, the kernel
 * printer, and the errors for symbolic shapes and unsupported ops. */
#include "lower_check.h"

/* --- buffers, views and copies ------------------------------------------------------------------ */

static void test_views_and_copies(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(2, 6));
	int w = param(g, "w", DT_F32, S(2, 6), -1, 1);
	int r = add(g, OP_RESHAPE, "r", IN(x));
	ir_set_ints(g, r, "shape", A(3, 4), 2);
	int y = out(g, add(g, OP_RELU, "y", IN(x)));
	int z = out(g, add(g, OP_ADD, "z", IN(x, w)));
	int f = add(g, OP_FLATTEN, "f", IN(z));
	int id = add(g, OP_IDENTITY, "id", IN(out(g, f)));
	int e = out(g, add(g, OP_EXP, "e", IN(out(g, id)))); /* reads through two views */
	ir_add_output(g, out(g, r)); /* view of an input: copy */
	ir_add_output(g, y);         /* written in place */
	ir_add_output(g, y);         /* duplicate: copy */
	ir_add_output(g, out(g, f)); /* view of a temp: copy */
	ir_add_output(g, x);         /* an input: copy */
	ir_add_output(g, w);         /* a constant: copy */
	ir_add_output(g, e);
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(count_buf(&kl, BUF_INPUT), 1);
	assert_int_equal(count_buf(&kl, BUF_OUTPUT), 7);
	assert_int_equal(count_buf(&kl, BUF_PARAM), 1);
	assert_int_equal(count_buf(&kl, BUF_TEMP), 1); /* z only: views share it */
	assert_int_equal(kl.nk, 3 + 5);                 /* relu, add, exp + 5 copies */
	int copies = 0;
	for (int i = 0; i < kl.nk; i++)
		copies += strncmp(kl.k[i].name, "copy", 4) == 0;
	assert_int_equal(copies, 5);
	/* y is written straight into output 1 */
	assert_int_equal(kl.buf[kl.k[0].out].kind, BUF_OUTPUT);
	assert_int_equal(kl.buf[kl.k[0].out].index, 1);
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_dead_nodes_and_params(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(4));
	ir_add_input(g, "unused", DT_F32, S(3));
	int c1 = param(g, "c1", DT_F32, S(4), -1, 1);
	int c2 = param(g, "c2", DT_F32, S(4), -1, 1);
	add(g, OP_MUL, "dead", IN(x, c1)); /* reaches no output */
	int y = out(g, add(g, OP_ADD, "live", IN(x, c2)));
	ir_add_output(g, y);
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kl.nk, 1);
	assert_int_equal(kl.nparam, 1);
	assert_int_equal(kl.param_value[0], c2);
	assert_int_equal(count_buf(&kl, BUF_INPUT), 2);
	assert_int_equal(kl.arena_bytes, 0);
	cg_free(&kl);
	ir_graph_free(g);
}

/* A chain of temporaries: five buffers, packed into less than five
 * separate ranges (the interpreter's agreement shows the reuse is sound). */
static void test_plan_chain(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int v = ir_add_input(g, "x", DT_F32, S(3, 5));
	for (int i = 0; i < 6; i++)
		v = out(g, add(g, i % 2 ? OP_TANH : OP_NEG, "", IN(v)));
	ir_add_output(g, v);
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(count_buf(&kl, BUF_TEMP), 5);
	assert_true(kl.arena_bytes >= 15 * 4 && kl.arena_bytes < 5 * 64);
	cg_free(&kl);
	ir_graph_free(g);
}

static void test_print(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(1, 2, 6, 6));
	int w = param(g, "w", DT_F32, S(2, 2, 3, 3), -1, 1);
	int c = add(g, OP_CONV, "c1", IN(x, w));
	int p = add(g, OP_MAXPOOL, "p1", IN(out(g, c)));
	ir_set_ints(g, p, "kernel", A(2, 2), 2);
	ir_set_ints(g, p, "pads", A(1, 1, 0, 0), 4);
	int s = add(g, OP_REDUCE_SUM, "s1", IN(out(g, p)));
	ir_add_output(g, out(g, s));
	KernelList kl;
	check_graph(g, &kl);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cg_print(&kl, f);
	fclose(f);
	assert_non_null(strstr(text, "conv2d x=i0 w=p1 -> t"));
	assert_non_null(strstr(text, "k1 \"p1\" f32: for v0 in 0..1, v1 in 0..2, v2 in 0..4, v3 in 0..4: t"));
	assert_non_null(strstr(text, "max(v4 in 0..2, v5 in 0..2: ("));
	assert_non_null(strstr(text, "0 <= v2 + v4 - 1 < 4 && 0 <= v3 + v5 - 1 < 4 else -inf)"));
	assert_non_null(strstr(text, "sum(v4 in 0..1, v5 in 0..2, v6 in 0..4, v7 in 0..4: "));
	assert_non_null(strstr(text, "output 0 f32[1, 1, 1, 1] \"s1\""));
	free(text);
	cg_free(&kl);
	ir_graph_free(g);
}

/* --- errors --------------------------------------------------------------------------------------- */

static void test_symbolic_shape_error(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	Shape s = S(1, 3);
	s.d[0].n = -1;
	s.d[0].sym = ir_sym(g, "N");
	int x = ir_add_input(g, "x", DT_F32, s);
	ir_add_output(g, out(g, add(g, OP_RELU, "act", IN(x))));
	Diag d;
	const char *msg = lower_error(g, &d);
	assert_non_null(strstr(msg, "--shape"));
	assert_non_null(strstr(msg, "[N, 3]"));
	ir_graph_free(g);
}

static void test_unsupported_errors(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F64, S(1, 1, 4, 4));
	int w = param(g, "w", DT_F64, S(1, 1, 3, 3), -1, 1);
	ir_add_output(g, out(g, add(g, OP_CONV, "cv", IN(x, w))));
	Diag d;
	const char *msg = lower_error(g, &d);
	assert_non_null(strstr(msg, "unsupported dtype"));
	assert_non_null(strstr(msg, "cv"));
	ir_graph_free(g);

	g = ir_graph_new("m");
	x = ir_add_input(g, "x", DT_I32, S(4));
	ir_add_output(g, out(g, add(g, OP_EXP, "e", IN(x))));
	msg = lower_error(g, &d);
	assert_non_null(strstr(msg, "cannot lower exp for i32"));
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_views_and_copies),
		cmocka_unit_test(test_dead_nodes_and_params),
		cmocka_unit_test(test_plan_chain),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_symbolic_shape_error),
		cmocka_unit_test(test_unsupported_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
