/* test_lower_extra.c — lowering of the shape-computation ops
 * (codegen/lower_extra.c) and of what canon leaves of a view chain: the
 * kernel list, run by the kernel interpreter, must agree exactly with the
 * reference interpreter, also for gathers that are not one affine copy
 * (their indices are read at run time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/kinterp.h"
#include "ir/ir.h"
#include "passes/passes.h"

static Graph *parse_ok(const char *src, const Options *o)
{
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "test.ir", &d);
	if (!g || ps_infer_shapes(g, &d) || ps_pipeline(g, o, &d))
		fail_msg("%s", d.msg);
	return g;
}

/* Lowers g, runs the kernels and the reference interpreter on x (f32,
 * counting up from 0), and compares every output bit for bit. */
static void lowered_matches(const Graph *g)
{
	assert_int_equal(g->ninput, 1);
	Shape s = g->val[g->input[0]].shape;
	int64_t n = ir_shape_numel(&s);
	float *x = malloc((size_t)n * sizeof *x);
	for (int64_t i = 0; i < n; i++)
		x[i] = (float)i - 7.5f;
	Tensor in = {DT_F32, s, x}, want[8], got[8];
	assert_true(g->noutput <= 8);
	Diag d;
	diag_init(&d);
	KernelList kl;
	if (cg_lower(g, &kl, &d))
		fail_msg("lower: %s", d.msg);
	cg_plan(&kl);
	if (ir_eval(g, &in, want, &d) || cg_interp(&kl, &in, got, &d))
		fail_msg("run: %s", d.msg);
	for (int k = 0; k < g->noutput; k++) {
		assert_true(ir_shape_eq(&want[k].shape, &got[k].shape));
		size_t nb = (size_t)ir_shape_numel(&want[k].shape) * ir_dtype_size(want[k].dtype);
		assert_memory_equal(want[k].data, got[k].data, nb);
		ir_tensor_free(&want[k]);
		ir_tensor_free(&got[k]);
	}
	cg_free(&kl);
	free(x);
}

static void test_gather(void **state)
{
	(void)state;
	static const char *src =
		"graph g {\n"
		"  input %x: f32[2, 5, 3]\n"
		"  const %k: i64[] = [-2]\n"
		"  const %ks: i32[2] = [4, 1]\n"
		"  const %one: i64[1] = [2]\n"
		"  %a = gather(%x, %k) {axis = 1}\n"
		"  %b = gather(%x, %ks) {axis = 1}\n"
		"  %c = gather(%x, %one) {axis = -1}\n"
		"  %d = gather(%x, %k) {axis = 0}\n"
		"  output %a\n"
		"  output %b\n"
		"  output %c\n"
		"  output %d\n"
		"}\n";
	Options o0 = {.opt_level = 0};
	Graph *g = parse_ok(src, &o0);
	int ng = 0;
	for (int i = 0; i < g->nnode; i++)
		ng += g->node[i].op == OP_GATHER;
	assert_int_equal(ng, 4);
	lowered_matches(g);
	ir_graph_free(g);
}

/* Indices that do not step evenly are read at run time (lower_idx.c). */
static void test_gather_uneven(void **state)
{
	(void)state;
	static const char *src =
		"graph g {\n"
		"  input %x: f32[4, 3]\n"
		"  const %ks: i64[3] = [0, -1, 3]\n"
		"  %a = gather(%x, %ks) @\"uneven\"\n"
		"  output %a\n"
		"}\n";
	Options o0 = {.opt_level = 0};
	Graph *g = parse_ok(src, &o0);
	lowered_matches(g);
	ir_graph_free(g);
}

/* cast lowers to a converting copy that agrees with the interpreter bit
 * for bit: floats round, float to integer saturates, integer to integer
 * wraps (300 as i32 is 44 as i8); casts to bool give != 0. */
static void test_cast(void **state)
{
	(void)state;
	static const char *src =
		"graph g {\n"
		"  input %x: f32[16]\n"
		"  const %s: f32[] = [40.5]\n"
		"  %y = mul(%x, %s)\n"
		"  %a = cast(%y) {to = \"f64\"}\n"
		"  %b = cast(%y) {to = \"f16\"}\n"
		"  %c = cast(%y) {to = \"bf16\"}\n"
		"  %d = cast(%y) {to = \"i8\"}\n"
		"  %e = cast(%y) {to = \"i32\"}\n"
		"  %f = cast(%e) {to = \"i8\"}\n"
		"  %h = cast(%e) {to = \"u8\"}\n"
		"  output %a\n"
		"  output %b\n"
		"  output %c\n"
		"  output %d\n"
		"  output %e\n"
		"  output %f\n"
		"  output %h\n"
		"}\n";
	Options o0 = {.opt_level = 0};
	Graph *g = parse_ok(src, &o0);
	lowered_matches(g);
	/* the interpreter's answers themselves: 7.5 * 40.5 = 303.75 */
	Tensor in, out[7];
	float x[16];
	for (int i = 0; i < 16; i++)
		x[i] = (float)i - 7.5f;
	in.dtype = DT_F32;
	in.shape = g->val[g->input[0]].shape;
	in.data = x;
	Diag d;
	diag_init(&d);
	assert_int_equal(ir_eval(g, &in, out, &d), 0);
	assert_int_equal(((int8_t *)out[3].data)[15], 127);  /* f32 303.75 -> i8 saturates */
	assert_int_equal(((int32_t *)out[4].data)[15], 303);
	assert_int_equal(((int8_t *)out[5].data)[15], 47);   /* i32 303 -> i8 wraps */
	assert_int_equal(((uint8_t *)out[6].data)[0], 209);  /* i32 -303 -> u8 wraps */
	for (int k = 0; k < 7; k++)
		ir_tensor_free(&out[k]);
	ir_graph_free(g);

	static const char *tobool =
		"graph g {\n"
		"  input %x: f32[4]\n"
		"  %b = cast(%x) {to = \"bool\"} @\"tobool\"\n"
		"  output %b\n"
		"}\n";
	g = parse_ok(tobool, &o0);
	lowered_matches(g); /* != 0, as the interpreter defines (tests/unit/test_ew_int.c: every pair) */
	ir_graph_free(g);
}

/* x.view(x.size(0), -1) at -O0 after --shape: canon leaves one reshape, a
 * view, and squeeze/unsqueeze are views too. */
static void test_view_chain_O0(void **state)
{
	(void)state;
	static const char *src =
		"graph g {\n"
		"  input %x: f32[N, 3, 2]\n"
		"  const %zero: i64[] = [0]\n"
		"  const %m1: i64[1] = [-1]\n"
		"  %s = shape(%x)\n"
		"  %g = gather(%s, %zero) {axis = 0}\n"
		"  %u = unsqueeze(%g) {axes = [0]}\n"
		"  %c = concat(%u, %m1) {axis = 0}\n"
		"  %v = reshape_dyn(%x, %c)\n"
		"  %e = unsqueeze(%v) {axes = [1]}\n"
		"  %r = relu(%e)\n"
		"  %q = squeeze(%r) {axes = [1]}\n"
		"  output %q\n"
		"}\n";
	Options o0 = {.opt_level = 0, .nbind = 1};
	o0.bind[0] = (ShapeBinding){"x", 3, {4, 3, 2}};
	Graph *g = parse_ok(src, &o0);
	for (int i = 0; i < g->nnode; i++)
		assert_true(g->node[i].op != OP_SHAPE && g->node[i].op != OP_RESHAPE_DYN);
	lowered_matches(g);
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gather),
		cmocka_unit_test(test_cast),
		cmocka_unit_test(test_gather_uneven),
		cmocka_unit_test(test_view_chain_O0),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
