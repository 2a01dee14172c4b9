/* test_graph.c — the IR builder: values, nodes, attributes, symbols,
 * use counts, replace-uses and compaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ir/ir.h"

static void test_op_table(void **state)
{
	(void)state;
	for (int i = 0; i < OP_COUNT; i++) {
		const OpInfo *oi = &ir_ops[i];
		assert_non_null(oi->name);
		assert_non_null(oi->shape);
		assert_int_equal(ir_op_parse(oi->name, strlen(oi->name)), i);
		assert_true(oi->nin_min >= 0);
		assert_true(oi->nin_max == -1 || oi->nin_max >= oi->nin_min);
	}
	assert_int_equal(ir_op_parse("nosuchop", 8), OP_COUNT);
	assert_int_equal(ir_op_parse("add", 2), OP_COUNT); /* prefix is not a match */
}

static void test_dtypes(void **state)
{
	(void)state;
	const DType all[] = {DT_F32, DT_F64, DT_F16, DT_BF16, DT_I8, DT_U8, DT_I32, DT_I64, DT_BOOL};
	const size_t size[] = {4, 8, 2, 2, 1, 1, 4, 8, 1};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
		const char *n = ir_dtype_name(all[i]);
		assert_int_equal(ir_dtype_parse(n, strlen(n)), all[i]);
		assert_int_equal(ir_dtype_size(all[i]), size[i]);
	}
	assert_int_equal(ir_dtype_parse("f33", 3), DT_UNDEF);
	assert_true(ir_dtype_is_float(DT_BF16));
	assert_false(ir_dtype_is_float(DT_I64));
}

static void test_shapes(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int64_t dims[] = {2, 3, 4};
	Shape s = ir_shape_make(3, dims);
	assert_true(ir_shape_static(&s));
	assert_int_equal(ir_shape_numel(&s), 24);
	char buf[64];
	assert_string_equal(ir_shape_str(g, &s, buf, sizeof buf), "[2, 3, 4]");
	int n = ir_sym(g, "N");
	assert_int_equal(ir_sym(g, "N"), n);
	assert_int_not_equal(ir_sym(g, "M"), n);
	s.d[0].sym = n;
	s.d[0].n = -1;
	assert_false(ir_shape_static(&s));
	assert_int_equal(ir_shape_numel(&s), -1);
	assert_string_equal(ir_shape_str(g, &s, buf, sizeof buf), "[N, 3, 4]");
	Shape u = ir_shape_unknown();
	assert_string_equal(ir_shape_str(g, &u, buf, sizeof buf), "[*]");
	int64_t big[] = {INT64_MAX / 2, 3};
	Shape b = ir_shape_make(2, big);
	assert_int_equal(ir_shape_numel(&b), -1); /* overflow is reported, not wrapped */
	ir_graph_free(g);
}

static void test_build_and_attrs(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int64_t d2[] = {2, 2};
	int x = ir_add_input(g, "x", DT_F32, ir_shape_make(2, d2));
	float w[] = {1, 2, 3, 4};
	int c = ir_add_const(g, "w", DT_F32, ir_shape_make(2, d2), w, sizeof w, true);
	assert_memory_equal(g->val[c].data, w, sizeof w);
	int in[] = {x, c};
	int n = ir_add_node(g, OP_MATMUL, "mm", in, 2, 1, NULL);
	int y = ir_out(g, n, 0);
	assert_int_equal(g->val[y].def, n);
	assert_int_equal(g->val[y].kind, VK_NODE);
	assert_string_equal(g->val[y].name, "mm");
	ir_set_int(g, n, "trans_b", 1);
	ir_set_int(g, n, "trans_b", 0); /* overwrite, not append */
	assert_int_equal(g->node[n].nattr, 1);
	assert_int_equal(ir_attr_int(&g->node[n], "trans_b", 7), 0);
	assert_int_equal(ir_attr_int(&g->node[n], "trans_a", 7), 7);
	int64_t pads[] = {1, 2, 3, 4};
	ir_set_ints(g, n, "pads", pads, 4);
	const int64_t *pv;
	assert_int_equal(ir_attr_ints(&g->node[n], "pads", &pv), 4);
	assert_int_equal(pv[3], 4);
	assert_int_equal(ir_attr_ints(&g->node[n], "nope", &pv), -1);
	assert_null(pv);
	ir_set_float(g, n, "alpha", 0.25);
	assert_true(ir_attr_float(&g->node[n], "alpha", 0) == 0.25);
	ir_set_string(g, n, "mode", "constant");
	assert_string_equal(ir_attr(&g->node[n], "mode")->s, "constant");
	/* same base name made unique */
	int n2 = ir_add_node(g, OP_RELU, "mm", &y, 1, 1, NULL);
	assert_string_equal(g->val[ir_out(g, n2, 0)].name, "mm_1");
	assert_int_equal(ir_find_value(g, "mm_1"), ir_out(g, n2, 0));
	assert_int_equal(ir_find_value(g, "zzz"), -1);
	ir_graph_free(g);
}

static void test_uses_replace_compact(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int64_t d1[] = {4};
	int x = ir_add_input(g, "x", DT_F32, ir_shape_make(1, d1));
	int a = ir_add_node(g, OP_RELU, "a", &x, 1, 1, NULL);
	int av = ir_out(g, a, 0);
	int b = ir_add_node(g, OP_TANH, "b", &av, 1, 1, NULL);
	int bv = ir_out(g, b, 0);
	int c = ir_add_node(g, OP_EXP, "c", &av, 1, 1, NULL);
	int cv = ir_out(g, c, 0);
	ir_add_output(g, bv);
	ir_fill_uses(g);
	assert_int_equal(g->val[av].nuse, 2);
	assert_int_equal(g->val[bv].nuse, 1);
	assert_int_equal(g->val[cv].nuse, 0);
	/* tanh and exp read x directly now, relu is unused */
	ir_replace_uses(g, av, x);
	ir_fill_uses(g);
	assert_int_equal(g->val[x].nuse, 3); /* relu, tanh, exp */
	assert_int_equal(g->val[av].nuse, 0);
	g->node[a].dead = true;
	g->node[c].dead = true;
	ir_compact(g);
	assert_int_equal(g->nnode, 1);
	assert_int_equal(g->node[0].op, OP_TANH);
	assert_int_equal(g->nval, 2);
	assert_string_equal(g->val[g->output[0]].name, "b");
	assert_int_equal(g->val[g->output[0]].def, 0);
	assert_string_equal(g->val[g->node[0].in[0]].name, "x");
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_op_table),
		cmocka_unit_test(test_dtypes),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_build_and_attrs),
		cmocka_unit_test(test_uses_replace_compact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
