/* test_ew_int.c — integer arithmetic across i8/u8/i16/u16/i32/u32/i64/u64:
 * reference semantics on hand-checked values (wrap-around, truncating
 * division, u64 above 2^63 compared and divided unsigned), the dtypes'
 * text spelling, and the differential check (ew_check.h) of add, sub,
 * mul, div, neg, abs, relu, clip, max, min, mod, bitwise ops and shifts
 * on every integer dtype, unfused and fused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ew_check.h"

static const char *const itypes[] = {"i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64"};

static void test_dtypes(void **state)
{
	static const DType t[] = {DT_I8, DT_U8, DT_I16, DT_U16, DT_I32, DT_U32, DT_I64, DT_U64};
	static const size_t sz[] = {1, 1, 2, 2, 4, 4, 8, 8};
	for (int i = 0; i < 8; i++) {
		assert_int_equal(ir_dtype_parse(itypes[i], strlen(itypes[i])), t[i]);
		assert_string_equal(ir_dtype_name(t[i]), itypes[i]);
		assert_int_equal(ir_dtype_size(t[i]), sz[i]);
		assert_true(ir_dtype_is_int(t[i]));
		assert_int_equal(ir_dtype_is_unsigned(t[i]), i % 2 == 1);
	}
	assert_false(ir_dtype_is_int(DT_BOOL));
	assert_false(ir_dtype_is_int(DT_F32));
}

static void test_values(void **state)
{
	int8_t a[4] = {100, -128, -7, 127};
	Tensor r = ew_eval1("graph t {\n  input %x: i8[4]\n  param %y: i8[4] = [100, -1, 2, 1]\n"
		"  %s = add(%x, %y)\n  %d = div(%x, %y)\n  output %s\n  output %d\n}\n", a);
	const int8_t *v = r.data;
	assert_true(v[0] == -56 && v[1] == 127 && v[2] == -5 && v[3] == -128); /* wraps */
	ir_tensor_free(&r);
	r = ew_eval1("graph t {\n  input %x: i8[4]\n  param %y: i8[4] = [100, -1, 2, 1]\n"
		"  %d = div(%x, %y)\n  output %d\n}\n", a);
	v = r.data;
	assert_true(v[0] == 1 && v[1] == -128 && v[2] == -3 && v[3] == 127); /* -128 / -1 wraps */
	ir_tensor_free(&r);
	uint64_t b[3] = {UINT64_MAX, (uint64_t)1 << 63, 5};
	const char *u = "graph t {\n  input %x: u64[3]\n  param %y: u64[3] = [3, 1, 7]\n"
		"  %d = div(%x, %y)\n  %g = greater(%x, %y)\n  %m = max(%x, %y)\n  %w = where(%g, %d, %m)\n"
		"  output %w\n}\n";
	r = ew_eval1(u, b);
	const uint64_t *w = r.data;
	assert_true(w[0] == UINT64_MAX / 3 && w[1] == (uint64_t)1 << 63 && w[2] == 7);
	ir_tensor_free(&r);
	uint16_t c[2] = {65535, 1};
	r = ew_eval1("graph t {\n  input %x: u16[2]\n  param %y: u16[2] = [2, 65535]\n"
		"  %p = mul(%x, %y)\n  output %p\n}\n", c);
	const uint16_t *h = r.data;
	assert_true(h[0] == 65534 && h[1] == 65535);
	ir_tensor_free(&r);
}

/* Arithmetic on every integer dtype; the divisors are nonzero constants. */
static void test_arith_kernels(void **state)
{
	for (size_t t = 0; t < 8; t++) {
		char src[1400];
		snprintf(src, sizeof src,
			"graph t {\n  input %%x: %s[3, 5]\n  input %%y: %s[5]\n"
			"  param %%d: %s[5] = [3, 1, 7, 2, 5]\n"
			"  %%a = add(%%x, %%y)\n  %%s = sub(%%a, %%x)\n  %%m = mul(%%s, %%y)\n"
			"  %%q = div(%%m, %%d)\n  %%n = neg(%%q)\n  %%b = abs(%%n)\n  %%r = relu(%%n)\n"
			"  %%c = clip(%%x) {min = 2.0, max = 9.5}\n  %%mx = max(%%b, %%c)\n"
			"  %%md = mod(%%x, %%d)\n  %%fm = mod(%%y, %%d) {fmod = 1}\n"
			"  %%ba = bitwise_and(%%x, %%y)\n  %%bx = bitwise_xor(%%ba, %%md)\n"
			"  %%bn = bitwise_not(%%bx)\n  %%lt = less(%%bn, %%x)\n  %%w = where(%%lt, %%r, %%fm)\n"
			"  output %%a\n  output %%m\n  output %%q\n  output %%mx\n  output %%w\n}\n",
			itypes[t], itypes[t], itypes[t]);
		ew_check(src);
	}
	for (size_t t = 1; t < 8; t += 2) { /* shifts: unsigned only */
		char src[512];
		snprintf(src, sizeof src,
			"graph t {\n  input %%x: %s[2, 4]\n  param %%n: %s[4] = [0, 3, 7, 70]\n"
			"  %%l = bit_shift(%%x, %%n) {direction = \"left\"}\n"
			"  %%r = bit_shift(%%x, %%n) {direction = \"right\"}\n  output %%l\n  output %%r\n}\n",
			itypes[t], itypes[t]);
		ew_check(src);
	}
}

/* Contractions and reductions on narrow integers wrap like the rest. */
static void test_matmul_reduce_kernels(void **state)
{
	static const char *const types[] = {"i8", "u8", "i16", "u32"};
	for (size_t t = 0; t < 4; t++) {
		char src[512];
		snprintf(src, sizeof src,
			"graph t {\n  input %%a: %s[3, 4]\n  input %%b: %s[4, 5]\n  %%c = matmul(%%a, %%b)\n"
			"  %%s = reduce_sum(%%c) {axes = [1], keepdims = 0}\n"
			"  %%m = reduce_max(%%a) {axes = [0], keepdims = 0}\n  output %%c\n  output %%s\n  output %%m\n}\n",
			types[t], types[t]);
		ew_check(src);
	}
}

/* cast between every pair of bool, integer and float dtypes: wraps,
 * saturation, NaN (to integers 0, to bool 1), != 0 for bool. */
static void test_cast_kernels(void **state)
{
	static const char *const types[] = {"bool", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64",
		"f32", "f64", "f16"};
	enum { NT = sizeof types / sizeof *types };
	for (int a = 0; a < NT; a++) {
		char src[2048];
		int len = snprintf(src, sizeof src, "graph t {\n  input %%x: %s[9]\n", types[a]);
		for (int b = 0; b < NT; b++)
			if (b != a)
				len += snprintf(src + len, sizeof src - (size_t)len,
					"  %%c%d = cast(%%x) {to = \"%s\"}\n  output %%c%d\n", b, types[b], b);
		snprintf(src + len, sizeof src - (size_t)len, "}\n");
		/* the kernel interpreter holds a 64-bit integer in a double */
		ew_interp = strcmp(types[a], "i64") != 0 && strcmp(types[a], "u64") != 0;
		ew_check_opt(src, 0);
		ew_interp = true;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dtypes),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_arith_kernels),
		cmocka_unit_test(test_matmul_reduce_kernels),
		cmocka_unit_test(test_cast_kernels),
	};
	return cmocka_run_group_tests(tests, ew_setup, ew_teardown);
}
