/* test_train_bn.c — batch norm's running statistics under --train
 * (passes/train_bn.c, docs/training.md "Batch normalization"): each
 * buffer_update becomes an assign to state of role buffer, which is not
 * trained; the statistics of an inference-mode batchnorm stay constants;
 * without --train DCE drops buffer_update; the text IR round-trips the op
 * and the role; a statistic updated twice is an error naming the node. The
 * numbers (PyTorch's buffers after three steps) are checked end to end by
 * tests/e2e/train_e2e.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

/* y = x * w; the statistic rm takes the batch mean of x. */
static const char *src_update =
	"graph bn {\n"
	"  input %x: f32[4, 2]\n"
	"  param %w: f32[2] = [0.5, -1]\n"
	"  param %rm: f32[2] = [0.25, 0.5]\n"
	"  %y = mul(%x, %w)\n"
	"  %m = reduce_mean(%x) {axes = [0], keepdims = 0}\n"
	"  buffer_update(%rm, %m)\n"
	"  output %y\n"
	"}\n";

static Graph *parse(const char *src)
{
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "bn.ir", &d);
	if (!g)
		fail_msg("%s", d.msg);
	if (ps_infer_shapes(g, &d) < 0)
		fail_msg("%s", d.msg);
	return g;
}

static int train(Graph *g, Diag *d)
{
	TrainOptions t = {.loss = "mse"};
	if (ps_parse_optimizer("sgd:lr=0.1,momentum=0.9", &t.optim, d) < 0)
		return -1;
	return ps_train(g, &t, d);
}

/* Live nodes of op, and how many of them have in[0] == v (v >= 0). */
static int count(const Graph *g, Op op, int v)
{
	int n = 0;
	for (int i = 0; i < g->nnode; i++)
		if (!g->node[i].dead && g->node[i].op == op && (v < 0 || g->node[i].in[0] == v))
			n++;
	return n;
}

static void test_update_becomes_assign(void **state)
{
	(void)state;
	Graph *g = parse(src_update);
	Diag d;
	diag_init(&d);
	if (train(g, &d) < 0)
		fail_msg("%s", d.msg);
	assert_int_equal(ir_verify(g, &d), 0);
	int rm = ir_find_value(g, "rm"), w = ir_find_value(g, "w");
	assert_int_equal(g->val[rm].state, IR_STATE_BUFFER);
	assert_int_equal(g->val[w].state, IR_STATE_PARAM);
	assert_int_equal(count(g, OP_BUFFER_UPDATE, -1), 0);
	assert_int_equal(count(g, OP_ASSIGN, rm), 1);
	/* not trained: no optimizer state of its own */
	assert_true(ir_find_value(g, "w.momentum_buffer") >= 0);
	assert_true(ir_find_value(g, "rm.momentum_buffer") < 0);
	/* the role prints and parses back */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ir_print(g, f, IR_PRINT_DATA);
	fclose(f);
	assert_non_null(strstr(text, "state buffer %rm"));
	Graph *h = ir_parse(text, "printed.ir", &d);
	if (!h)
		fail_msg("%s\n%s", d.msg, text);
	assert_int_equal(h->val[ir_find_value(h, "rm")].state, IR_STATE_BUFFER);
	free(text);
	ir_graph_free(h);
	ir_graph_free(g);
}

static void test_inference_drops_update(void **state)
{
	(void)state;
	Graph *g = parse(src_update);
	Diag d;
	diag_init(&d);
	/* the op prints and parses back */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ir_print(g, f, 0);
	fclose(f);
	assert_non_null(strstr(text, "buffer_update(%rm, %m)"));
	free(text);
	Options o = {.opt_level = 0};
	if (ps_pipeline(g, &o, &d) < 0)
		fail_msg("%s", d.msg);
	assert_int_equal(count(g, OP_BUFFER_UPDATE, -1), 0);
	assert_int_equal(count(g, OP_REDUCE_MEAN, -1), 0); /* its value had no other use */
	int rm = ir_find_value(g, "rm"); /* dropped with its only reader, or a plain constant */
	assert_true(rm < 0 || g->val[rm].state == IR_STATE_NONE);
	ir_graph_free(g);
}

static void test_eval_batchnorm_stats_fixed(void **state)
{
	(void)state;
	Graph *g = parse(
		"graph bn {\n"
		"  input %x: f32[2, 2, 3]\n"
		"  param %s: f32[2] = [1.5, 0.5]\n"
		"  param %b: f32[2] = [0.1, -0.2]\n"
		"  param %mean: f32[2] = [0.3, -0.1]\n"
		"  param %var: f32[2] = [0.8, 1.2]\n"
		"  %y = batchnorm(%x, %s, %b, %mean, %var)\n"
		"  output %y\n"
		"}\n");
	Diag d;
	diag_init(&d);
	if (train(g, &d) < 0)
		fail_msg("%s", d.msg);
	assert_int_equal(g->val[ir_find_value(g, "s")].state, IR_STATE_PARAM);
	assert_int_equal(g->val[ir_find_value(g, "b")].state, IR_STATE_PARAM);
	assert_int_equal(g->val[ir_find_value(g, "mean")].state, IR_STATE_NONE);
	assert_int_equal(g->val[ir_find_value(g, "var")].state, IR_STATE_NONE);
	assert_int_equal(count(g, OP_ASSIGN, ir_find_value(g, "mean")), 0);
	assert_int_equal(count(g, OP_ASSIGN, ir_find_value(g, "var")), 0);
	ir_graph_free(g);
}

static void test_updated_twice(void **state)
{
	(void)state;
	Graph *g = parse(
		"graph bn {\n"
		"  input %x: f32[4, 2]\n"
		"  param %rm: f32[2] = [0.25, 0.5]\n"
		"  param %w: f32[2] = [0.5, -1]\n"
		"  %y = mul(%x, %w)\n"
		"  %m = reduce_mean(%x) {axes = [0], keepdims = 0}\n"
		"  buffer_update(%rm, %m)\n"
		"  buffer_update(%rm, %m)\n"
		"  output %y\n"
		"}\n");
	Diag d;
	diag_init(&d);
	assert_int_equal(train(g, &d), -1);
	assert_non_null(strstr(d.msg, "which another node already updates"));
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_update_becomes_assign),
		cmocka_unit_test(test_inference_drops_update),
		cmocka_unit_test(test_eval_batchnorm_stats_fixed),
		cmocka_unit_test(test_updated_twice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
