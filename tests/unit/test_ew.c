/* test_ew.c — the ew family's comparisons, logic and where: reference
 * semantics on hand-checked values (NaN compares false, broadcasting,
 * exact integer compares), shape-rule errors, and the differential check
 * (ew_check.h) of the lowered kernels, interpreted and compiled, against
 * the reference interpreter, unfused and fused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ew_check.h"

/* less / equal / greater_equal on f32 with NaN and signed zeros. */
static void test_compare_values(void **state)
{
	float x[6] = {1, NAN, -0.0f, 2, -3, INFINITY};
	const char *src =
		"graph t {\n"
		"  input %x: f32[6]\n"
		"  param %y: f32[6] = [2.0, 1.0, 0.0, 2.0, -4.0, 1.0]\n"
		"  %lt = less(%x, %y)\n"
		"  %eq = equal(%x, %y)\n"
		"  %ge = greater_equal(%x, %y)\n"
		"  %o = and(%lt, %eq)\n"
		"  %p = or(%eq, %ge)\n"
		"  %q = xor(%p, %lt)\n"
		"  output %q\n"
		"}\n";
	/* lt: 1 0 0 0 0 0; eq: 0 0 1 1 0 0; ge: 0 0 1 1 1 1; p = eq|ge; q = p^lt */
	Tensor q = ew_eval1(src, x);
	assert_int_equal(q.dtype, DT_BOOL);
	const uint8_t want[6] = {1, 0, 1, 1, 1, 1};
	assert_memory_equal(q.data, want, 6);
	ir_tensor_free(&q);
}

/* i64 compares are exact beyond 2^53; where picks whole elements. */
static void test_int_compare_where(void **state)
{
	int64_t x[3] = {(int64_t)1 << 60, ((int64_t)1 << 60) + 1, -5};
	const char *src =
		"graph t {\n"
		"  input %x: i64[3]\n"
		"  param %y: i64[1] = [1152921504606846977]\n"
		"  %c = greater_equal(%x, %y)\n"
		"  %n = not(%c)\n"
		"  %w = where(%n, %x, %y)\n"
		"  output %w\n"
		"}\n";
	Tensor w = ew_eval1(src, x);
	assert_int_equal(w.dtype, DT_I64);
	const int64_t *v = w.data;
	assert_true(v[0] == (int64_t)1 << 60);               /* 2^60 < 2^60+1: keeps x */
	assert_true(v[1] == ((int64_t)1 << 60) + 1);         /* equal: takes y */
	assert_true(v[2] == -5);
	ir_tensor_free(&w);
}

static void test_shape_errors(void **state)
{
	char *m = ew_shape_err("graph t {\n  input %x: f32[2]\n  %n = not(%x)\n  output %n\n}\n");
	assert_non_null(m);
	assert_non_null(strstr(m, "input 0 must be bool, not f32"));
	m = ew_shape_err("graph t {\n  input %c: i32[2]\n  input %x: f32[2]\n"
		"  %w = where(%c, %x, %x)\n  output %w\n}\n");
	assert_non_null(m);
	assert_non_null(strstr(m, "condition must be bool"));
	m = ew_shape_err("graph t {\n  input %a: f32[2]\n  input %b: i64[2]\n"
		"  %e = equal(%a, %b)\n  output %e\n}\n");
	assert_non_null(m);
	m = ew_shape_err("graph t {\n  input %c: bool[3]\n  input %x: f32[2]\n"
		"  %w = where(%c, %x, %x)\n  output %w\n}\n");
	assert_non_null(m);
	assert_non_null(strstr(m, "cannot broadcast"));
	assert_null(ew_shape_err("graph t {\n  input %c: bool[3, 1]\n  input %x: f32[2]\n"
		"  input %y: f32[1, 1, 2]\n  %w = where(%c, %x, %y)\n  output %w\n}\n"));

	/* the verifier accepts the mixed dtypes of where and less, and checks
	 * the output's dtype against the rule */
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse("graph t {\n  input %c: bool[2]\n  input %x: f32[2]\n"
		"  %l = less(%x, %x)\n  %w = where(%c, %x, %x)\n  output %w\n  output %l\n}\n", "t.ir", &d);
	assert_non_null(g);
	assert_int_equal(ps_infer_shapes(g, &d), 0);
	assert_int_equal(ir_verify(g, &d), 0);
	g->val[ir_find_value(g, "w")].dtype = DT_I32;
	assert_int_equal(ir_verify(g, &d), -1);
	assert_non_null(strstr(d.msg, "output %w is i32; its inputs make it f32"));
	ir_graph_free(g);
}

/* Every comparison on each dtype, broadcast, through the whole pipeline. */
static void test_compare_kernels(void **state)
{
	static const char *const ops[] = {"equal", "less", "less_equal", "greater", "greater_equal"};
	static const char *const types[] = {"f32", "f64", "i32", "i64", "i8", "u8", "bool"};
	for (size_t t = 0; t < sizeof types / sizeof *types; t++)
		for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
			char src[512];
			snprintf(src, sizeof src,
				"graph t {\n  input %%a: %s[3, 4]\n  input %%b: %s[4]\n"
				"  %%c = %s(%%a, %%b)\n  output %%c\n}\n", types[t], types[t], ops[o]);
			ew_check(src);
		}
}

/* A fused chain: compare, logic and where in one kernel, with a float
 * producer inlined into the comparison and a three-way broadcast. */
static void test_logic_where_kernels(void **state)
{
	ew_check("graph t {\n"
		"  input %x: f32[2, 3, 4]\n"
		"  input %y: f32[3, 1]\n"
		"  input %m: bool[4]\n"
		"  %e = exp(%x)\n"
		"  %gt = greater(%e, %y)\n"
		"  %le = less_equal(%x, %y)\n"
		"  %n = not(%m)\n"
		"  %a = and(%gt, %n)\n"
		"  %o = or(%a, %le)\n"
		"  %z = xor(%o, %m)\n"
		"  %w = where(%z, %e, %y)\n"
		"  %r = add(%w, %x)\n"
		"  output %r\n"
		"  output %z\n"
		"}\n");
	ew_check("graph t {\n  input %c: bool[2, 1]\n  input %x: i64[3]\n  input %y: i64[2, 3]\n"
		"  %w = where(%c, %x, %y)\n  output %w\n}\n");
	ew_check("graph t {\n  input %c: bool[4]\n  input %x: u8[4]\n  input %y: u8[1]\n"
		"  %w = where(%c, %x, %y)\n  output %w\n}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compare_values),
		cmocka_unit_test(test_int_compare_where),
		cmocka_unit_test(test_shape_errors),
		cmocka_unit_test(test_compare_kernels),
		cmocka_unit_test(test_logic_where_kernels),
	};
	return cmocka_run_group_tests(tests, ew_setup, ew_teardown);
}
