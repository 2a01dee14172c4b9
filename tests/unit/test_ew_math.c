/* test_ew_math.c — the ew family's math: reference semantics on
 * hand-checked values (round half to even, sign of zeros and NaN, Python
 * vs C remainders, isinf's flags, shifts past the width, max/min with
 * NaN, bitcast's bytes), and the differential check (ew_check.h) of every
 * op's kernels,
 * interpreted and compiled, against the reference interpreter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ew_check.h"

/* "graph t { input %x: T[n]  %y = OP(%x)  output %y }" evaluated on x. */
static Tensor unary(const char *op, const char *type, int n, const void *x)
{
	char src[256];
	snprintf(src, sizeof src, "graph t {\n  input %%x: %s[%d]\n  %%y = %s\n  output %%y\n}\n", type, n, op);
	return ew_eval1(src, x);
}

static void test_values(void **state)
{
	float x[8] = {0.5f, 1.5f, 2.5f, -2.5f, -0.5f, -0.0f, NAN, -3.7f};
	Tensor r = unary("round(%x)", "f32", 8, x);
	const float *v = r.data;
	assert_true(v[0] == 0 && v[1] == 2 && v[2] == 2 && v[3] == -2 && v[4] == 0 && signbit(v[4]));
	assert_true(isnan(v[6]) && v[7] == -4);
	ir_tensor_free(&r);
	r = unary("sign(%x)", "f32", 8, x);
	v = r.data;
	assert_true(v[0] == 1 && v[3] == -1 && v[5] == 0 && signbit(v[5]) && isnan(v[6]));
	ir_tensor_free(&r);
	float y[4] = {INFINITY, -INFINITY, NAN, 1};
	r = unary("isinf(%x) {detect_positive = 0}", "f32", 4, y);
	const uint8_t neg[4] = {0, 1, 0, 0};
	assert_memory_equal(r.data, neg, 4);
	ir_tensor_free(&r);
	r = unary("isnan(%x)", "f32", 4, y);
	const uint8_t nan[4] = {0, 0, 1, 0};
	assert_memory_equal(r.data, nan, 4);
	ir_tensor_free(&r);

	int32_t a[4] = {-7, 7, -7, 7};
	const char *mod = "graph t {\n  input %x: i32[4]\n  param %d: i32[4] = [3, -3, -3, 3]\n"
		"  %p = mod(%x, %d)\n  %c = mod(%x, %d) {fmod = 1}\n  %s = add(%p, %c)\n  output %p\n  output %c\n}\n";
	r = ew_eval1(mod, a); /* Python: -7 % 3 = 2, 7 % -3 = -2, -7 % -3 = -1, 7 % 3 = 1 */
	const int32_t *iv = r.data;
	assert_true(iv[0] == 2 && iv[1] == -2 && iv[2] == -1 && iv[3] == 1);
	ir_tensor_free(&r);
	uint8_t b[3] = {1, 255, 16};
	const char *sh = "graph t {\n  input %x: u8[3]\n  param %n: u8[3] = [7, 1, 9]\n"
		"  %l = bit_shift(%x, %n) {direction = \"left\"}\n  output %l\n}\n";
	r = ew_eval1(sh, b);
	const uint8_t want[3] = {128, 254, 0};
	assert_memory_equal(r.data, want, 3);
	ir_tensor_free(&r);
	float m[2] = {NAN, 1};
	const char *mx = "graph t {\n  input %x: f32[2]\n  param %y: f32[2] = [1.0, 2.0]\n"
		"  %m = max(%x, %y)\n  output %m\n}\n";
	r = ew_eval1(mx, m);
	v = r.data;
	assert_true(isnan(v[0]) && v[1] == 2);
	ir_tensor_free(&r);
}

static void test_errors(void **state)
{
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse("graph t {\n  input %x: i32[2]\n  param %z: i32[2] = [1, 0]\n"
		"  %m = mod(%x, %z)\n  output %m\n}\n", "t.ir", &d);
	assert_non_null(g);
	assert_int_equal(ps_infer_shapes(g, &d), 0);
	int32_t x[2] = {3, 4};
	Tensor in = {DT_I32, g->val[g->input[0]].shape, x}, out[1];
	assert_int_equal(ir_eval(g, &in, out, &d), -1);
	assert_non_null(strstr(d.msg, "integer modulo by zero"));
	ir_graph_free(g);
	char *e = ew_shape_err("graph t {\n  input %x: i32[2]\n  %n = isnan(%x)\n  output %n\n}\n");
	assert_non_null(e);
	assert_non_null(strstr(e, "must be a float type"));
	/* a dtype the op does not define is an error in eval and in lowering */
	diag_init(&d);
	g = ir_parse("graph t {\n  input %x: i32[2]\n  %s = sin(%x)\n  output %s\n}\n", "t.ir", &d);
	assert_int_equal(ps_infer_shapes(g, &d), 0);
	int32_t y[2] = {1, 2};
	Tensor in2 = {DT_I32, g->val[g->input[0]].shape, y};
	assert_int_equal(ir_eval(g, &in2, out, &d), -1);
	KernelList kl;
	assert_int_equal(cg_lower(g, &kl, &d), -1);
	assert_non_null(strstr(d.msg, "cannot lower sin for i32"));
	ir_graph_free(g);
}

/* Every unary float op on f32 and f64, the inputs mixing NaN, +-inf and
 * ties; unfused and fused into one chain. */
static void test_float_kernels(void **state)
{
	static const char *const ops[] = {"sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
		"asinh", "acosh", "atanh", "erf", "floor", "ceil", "round", "sign", "reciprocal"};
	static const char *const types[] = {"f32", "f64"};
	for (size_t t = 0; t < 2; t++)
		for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
			char src[256];
			snprintf(src, sizeof src, "graph t {\n  input %%x: %s[5, 7]\n  %%y = %s(%%x)\n  output %%y\n}\n",
				types[t], ops[o]);
			ew_check(src);
		}
	/* fused chains keep full precision between ops where the reference
	 * rounds each result to f32: mod's cancellation shows it */
	ew_rtol = 1e-5;
	ew_atol = 1e-7;
	ew_check("graph t {\n  input %x: f32[4, 6]\n  input %y: f32[6]\n"
		"  %a = sin(%x)\n  %b = erf(%a)\n  %c = max(%b, %y)\n  %d = min(%c, %x)\n"
		"  %e = mod(%d, %y) {fmod = 1}\n  %f = isnan(%e)\n  %g = isinf(%y) {detect_negative = 0}\n"
		"  %h = or(%f, %g)\n  %i = round(%x)\n  %j = where(%h, %i, %e)\n  output %j\n}\n");
	ew_check("graph t {\n  input %x: f16[9]\n  input %y: f16[9]\n  %a = max(%x, %y)\n"
		"  %b = mod(%a, %y) {fmod = 1}\n  %c = isinf(%b)\n  %d = isnan(%x)\n  %e = xor(%c, %d)\n"
		"  output %b\n  output %e\n}\n");
	ew_rtol = 0x1p-21;
	ew_atol = 0;
}

/* f32 exp, tanh and sigmoid are inline polynomials in the compiled code
 * (codegen/cpu/llvm_math.c): within 4 ulps of the reference over their
 * whole range, both branches of tanh, the overflow and underflow ends of
 * exp (a result below 2^-126 may be 0: absolute error at most 2^-126),
 * NaN and infinities. */
static void test_exp_tanh(void **state)
{
	static const float edge[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-30f, -1e-7f, 1e-4f,
		0.3f, 0.6249f, 0.6251f, -0.6251f, 1, 5, 9, 9.1f, 20, -20, 80, 88.5f, 88.72f, 88.73f,
		-87, -87.5f, -95, -100, -103.9f, -104, -110};
	enum { NE = sizeof edge / sizeof *edge, NG = 560 };
	float x[NE + NG];
	memcpy(x, edge, sizeof edge);
	for (int i = 0; i < NG; i++) /* -105 .. 102, not on round numbers */
		x[NE + i] = -105.0f + 0.37f * (float)i;
	(void)state;
	ew_atol = 0x1p-126; /* a subnormal result may come out as 0 (see llvm_math.c) */
	static const char *const ops[] = {"exp", "tanh", "sigmoid"};
	for (size_t o = 0; o < 3; o++) {
		char src[160];
		snprintf(src, sizeof src, "graph t {\n  input %%x: f32[%d]\n  %%y = %s(%%x)\n  output %%y\n}\n",
			NE + NG, ops[o]);
		Diag d;
		diag_init(&d);
		Graph *g = ir_parse(src, "ew.ir", &d);
		if (!g)
			fail_msg("parse: %s", d.msg);
		ew_optimize(g, 2);
		Tensor in = {DT_F32, g->val[g->input[0]].shape, malloc(sizeof x)};
		assert_non_null(in.data);
		memcpy(in.data, x, sizeof x); /* ew_check_inputs frees it */
		ew_check_inputs(g, &in, false);
		ir_graph_free(g);
	}
	ew_atol = 0;
}

/* Integer ops over i8, u8, i32 and i64 (divisors nonzero constants). */
static void test_int_kernels(void **state)
{
	static const char *const types[] = {"i8", "u8", "i32", "i64"};
	for (size_t t = 0; t < 4; t++) {
		char src[1024];
		snprintf(src, sizeof src,
			"graph t {\n  input %%x: %s[3, 5]\n  input %%y: %s[5]\n"
			"  param %%d: %s[5] = [3, 1, 7, 2, 5]\n"
			"  %%a = bitwise_and(%%x, %%y)\n  %%o = bitwise_or(%%a, %%d)\n"
			"  %%x2 = bitwise_xor(%%o, %%x)\n  %%n = bitwise_not(%%x2)\n"
			"  %%mx = max(%%n, %%y)\n  %%mn = min(%%mx, %%x)\n  %%s = sign(%%mn)\n"
			"  %%m = mod(%%x, %%d)\n  %%f = mod(%%y, %%d) {fmod = 1}\n"
			"  output %%s\n  output %%m\n  output %%f\n  output %%mn\n}\n",
			types[t], types[t], types[t]);
		ew_check(src);
	}
	ew_check("graph t {\n  input %x: i32[6]\n  param %d: i32[6] = [-3, 3, -1, -7, 1, -2]\n"
		"  %m = mod(%x, %d)\n  %f = mod(%x, %d) {fmod = 1}\n  output %m\n  output %f\n}\n");
	ew_check("graph t {\n  input %x: u8[2, 4]\n  param %n: u8[4] = [0, 3, 7, 8]\n"
		"  %l = bit_shift(%x, %n) {direction = \"left\"}\n"
		"  %r = bit_shift(%l, %n) {direction = \"right\"}\n  output %l\n  output %r\n}\n");
}

/* bitcast: the bytes as they are; sizes must agree; kernels fused with
 * arithmetic on both sides. */
static void test_bitcast(void **state)
{
	float x[3] = {1.0f, -2.5f, 0.0f};
	Tensor r = unary("bitcast(%x) {to = \"i32\"}", "f32", 3, x);
	assert_int_equal(r.dtype, DT_I32);
	const int32_t *v = r.data;
	assert_true(v[0] == 0x3f800000 && v[1] == (int32_t)0xc0200000u && v[2] == 0);
	ir_tensor_free(&r);
	char *e = ew_shape_err("graph t {\n  input %x: f32[2]\n  %b = bitcast(%x) {to = \"i64\"}\n  output %b\n}\n");
	assert_non_null(e);
	assert_non_null(strstr(e, "element sizes differ"));
	ew_check("graph t {\n  input %x: f32[3, 4]\n  input %y: i32[4]\n  %a = mul(%x, %x)\n"
		"  %b = bitcast(%a) {to = \"i32\"}\n  %c = bitwise_xor(%b, %y)\n  %d = bitcast(%c) {to = \"f32\"}\n"
		"  %e = isnan(%d)\n  output %b\n  output %e\n}\n");
	ew_check("graph t {\n  input %x: u16[7]\n  %b = bitcast(%x) {to = \"i16\"}\n  %n = neg(%b)\n"
		"  output %n\n}\n");
	ew_check("graph t {\n  input %x: f64[5]\n  %b = bitcast(%x) {to = \"u64\"}\n  output %b\n}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_float_kernels),
		cmocka_unit_test(test_exp_tanh),
		cmocka_unit_test(test_int_kernels),
		cmocka_unit_test(test_bitcast),
	};
	return cmocka_run_group_tests(tests, ew_setup, ew_teardown);
}
