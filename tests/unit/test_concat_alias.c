/* test_concat_alias.c — concat inputs written straight into the concat's
 * output (Buf.alias, lower_ew.c concat_alias): which inputs become aliases
 * and which keep their copy kernel, that the kernel interpreter still
 * matches ir_eval, that the plan checker proves the plan (and catches a
 * broken alias), and that the CPU backend never marks overlapping storage
 * noalias. */
#include "lower_check.h"

#include "codegen/cpu/cpu.h"

/* Kernels lowered from node `node` (a concat's copies). */
static int kernels_of(const KernelList *kl, int node)
{
	int n = 0;
	for (int i = 0; i < kl->nk; i++)
		n += kl->k[i].node == node;
	return n;
}

/* The buffer holding value v: the one whose Buf.value is v. */
static int buf_of(const KernelList *kl, int v)
{
	for (int b = 0; b < kl->nbuf; b++)
		if (kl->buf[b].value == v)
			return b;
	fail_msg("no buffer holds value %d", v);
	return -1;
}

/* A 1x1 convolution of x to k channels. */
static int conv1x1(Graph *g, const char *name, int x, int c, int k)
{
	int w = param(g, name, DT_F32, S(k, c, 1, 1), -1, 1);
	return out(g, add(g, OP_CONV, name, IN(x, w)));
}

static int concat(Graph *g, const int *in, int nin, int64_t axis)
{
	int n = ir_add_node(g, OP_CONCAT, "cat", in, nin, 1, NULL);
	ir_set_int(g, n, "axis", axis);
	return n;
}

static void test_conv_outputs(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(1, 2, 5, 5));
	int a = conv1x1(g, "ca", x, 2, 3), b = conv1x1(g, "cb", x, 2, 4);
	int cat = concat(g, IN(a, b), 1);
	int r = add(g, OP_RELU, "r", IN(out(g, cat)));
	ir_add_output(g, out(g, r));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kernels_of(&kl, cat), 0); /* no copies */
	int p = buf_of(&kl, out(g, cat)), ba = buf_of(&kl, a), bb = buf_of(&kl, b);
	assert_int_equal(kl.buf[p].kind, BUF_TEMP);
	assert_int_equal(kl.buf[ba].alias, p);
	assert_int_equal(kl.buf[ba].alias_offset, 0);
	assert_int_equal(kl.buf[bb].alias, p);
	assert_int_equal(kl.buf[bb].alias_offset, 3 * 25 * 4);
	/* the parent is live from the first producer; nothing runs in place */
	assert_int_equal(kl.buf[p].first, 0);
	assert_int_equal(kl.buf[buf_of(&kl, out(g, r))].inplace, -1);
	assert_true(kl.arena_bytes >= kl.buf[p].nbytes);

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cg_print(&kl, f);
	fclose(f);
	char want[64];
	snprintf(want, sizeof want, "t%d temp = t%d[+300]", bb, p);
	assert_non_null(strstr(text, want));
	free(text);

	/* a broken alias is caught: overlapping its sibling, or outside the parent */
	kl.buf[bb].alias_offset = 4;
	Diag d;
	diag_init(&d);
	assert_int_equal(cg_plan_check(&kl, &d), -1);
	assert_non_null(strstr(d.msg, "overlap"));
	kl.buf[bb].alias_offset = kl.buf[p].nbytes;
	diag_init(&d);
	assert_int_equal(cg_plan_check(&kl, &d), -1);
	assert_non_null(strstr(d.msg, "inside its parent"));
	cg_free(&kl);
	ir_graph_free(g);
}

/* Pointwise producers, the concat a graph output: the aliases live in the
 * caller's output tensor. */
static void test_pointwise_into_output(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(1, 3, 4));
	int a = out(g, add(g, OP_RELU, "ra", IN(x)));
	int b = out(g, add(g, OP_SIGMOID, "sb", IN(x)));
	int cat = concat(g, IN(a, b), 1);
	ir_add_output(g, out(g, cat));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kernels_of(&kl, cat), 0);
	int ba = buf_of(&kl, a), bb = buf_of(&kl, b);
	assert_int_equal(kl.buf[kl.buf[ba].alias].kind, BUF_OUTPUT);
	assert_int_equal(kl.buf[bb].alias, kl.buf[ba].alias);
	assert_int_equal(kl.buf[bb].alias_offset, 12 * 4);
	assert_int_equal(count_buf(&kl, BUF_TEMP), 2);
	assert_int_equal(kl.arena_bytes, 0); /* both live in the output */
	cg_free(&kl);
	ir_graph_free(g);
}

/* Batch 2: each input's slice is two strided pieces, so copies stay. */
static void test_batch2_keeps_copies(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(2, 3, 4));
	int a = out(g, add(g, OP_RELU, "ra", IN(x)));
	int b = out(g, add(g, OP_EXP, "eb", IN(x)));
	int cat = concat(g, IN(a, b), 1);
	ir_add_output(g, out(g, add(g, OP_NEG, "n", IN(out(g, cat)))));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kernels_of(&kl, cat), 2);
	for (int i = 0; i < kl.nbuf; i++)
		assert_int_equal(kl.buf[i].alias, -1);
	cg_free(&kl);
	ir_graph_free(g);

	/* axis 0 of batch-1 pieces: no dim before the axis, contiguous */
	g = ir_graph_new("m");
	x = ir_add_input(g, "x", DT_F32, S(1, 3, 4));
	a = out(g, add(g, OP_RELU, "ra", IN(x)));
	b = out(g, add(g, OP_EXP, "eb", IN(x)));
	cat = concat(g, IN(a, b), 0);
	ir_add_output(g, out(g, add(g, OP_NEG, "n", IN(out(g, cat)))));
	check_graph(g, &kl);
	assert_int_equal(kernels_of(&kl, cat), 0);
	cg_free(&kl);
	ir_graph_free(g);
}

/* Inputs that are graph outputs, graph inputs or params keep their copy. */
static void test_pinned_inputs_keep_copies(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(1, 2, 3));
	int c = param(g, "c", DT_F32, S(1, 1, 3), -1, 1);
	int a = out(g, add(g, OP_RELU, "ra", IN(x)));
	int b = out(g, add(g, OP_EXP, "eb", IN(x)));
	int cat = concat(g, IN(a, x, c, b), 1);
	ir_add_output(g, a);
	ir_add_output(g, out(g, add(g, OP_NEG, "n", IN(out(g, cat)))));
	KernelList kl;
	check_graph(g, &kl);
	assert_int_equal(kernels_of(&kl, cat), 3); /* a (an output), x, c */
	assert_int_equal(kl.buf[buf_of(&kl, b)].alias, buf_of(&kl, out(g, cat)));
	assert_int_equal(kl.buf[buf_of(&kl, b)].alias_offset, (2 + 2 + 1) * 3 * 4);
	cg_free(&kl);
	ir_graph_free(g);
}

/* The same value twice: the first occurrence is an alias, the second a copy
 * that reads one part of the output and writes another; the backend sees
 * the two as overlapping storage, never noalias. Also a value aliased in one
 * concat and used by another, and a concat of a concat. */
static void test_repeats_and_nesting(void **state)
{
	(void)state;
	Graph *g = ir_graph_new("m");
	int x = ir_add_input(g, "x", DT_F32, S(1, 2, 3));
	int a = out(g, add(g, OP_RELU, "ra", IN(x)));
	int b = out(g, add(g, OP_EXP, "eb", IN(x)));
	int cat = concat(g, IN(b, a, a), 1);
	int cat2 = concat(g, IN(a, b), 2); /* already aliases: copied */
	int cat3 = concat(g, IN(out(g, cat), b), 1); /* cat's output is a parent */
	ir_add_output(g, out(g, cat));
	ir_add_output(g, out(g, cat2));
	ir_add_output(g, out(g, cat3));
	KernelList kl;
	check_graph(g, &kl);
	int ba = buf_of(&kl, a), po = kl.buf[ba].alias;
	assert_int_equal(kernels_of(&kl, cat), 1);
	assert_int_equal(kernels_of(&kl, cat2), 2);
	assert_int_equal(kernels_of(&kl, cat3), 2);
	assert_int_equal(kl.buf[po].kind, BUF_OUTPUT);
	assert_int_equal(kl.buf[ba].alias_offset, 6 * 4);
	int args[8];
	for (int i = 0; i < kl.nk; i++) {
		if (kl.k[i].node != cat)
			continue;
		int n = cpu_kernel_args(&kl, &kl.k[i], args);
		assert_int_equal(n, 2);
		assert_false(cpu_arg_noalias(&kl, args, n, 0));
		assert_false(cpu_arg_noalias(&kl, args, n, 1));
	}
	cg_free(&kl);
	ir_graph_free(g);

	/* a concat of a temporary concat: the inner output is a parent, copied */
	g = ir_graph_new("m");
	x = ir_add_input(g, "x", DT_F32, S(1, 2, 3));
	a = out(g, add(g, OP_RELU, "ra", IN(x)));
	b = out(g, add(g, OP_EXP, "eb", IN(x)));
	cat = concat(g, IN(a, b), 1);
	cat2 = concat(g, IN(out(g, cat), a), 1);
	ir_add_output(g, out(g, add(g, OP_NEG, "n", IN(out(g, cat2)))));
	check_graph(g, &kl);
	assert_int_equal(kernels_of(&kl, cat), 0);
	assert_int_equal(kernels_of(&kl, cat2), 2);
	assert_int_equal(kl.buf[buf_of(&kl, out(g, cat))].alias, -1);
	cg_free(&kl);
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conv_outputs),
		cmocka_unit_test(test_pointwise_into_output),
		cmocka_unit_test(test_batch2_keeps_copies),
		cmocka_unit_test(test_pinned_inputs_keep_copies),
		cmocka_unit_test(test_repeats_and_nesting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
