/* test_rng.c — the random-number generator (ir/philox.c) and the random
 * ops: Philox 4x32-10 against Random123's published known-answer vectors;
 * random_uniform's definition (counter, key, word, u32 -> f32); the
 * reference interpreter, the kernel interpreter and the LLVM-compiled code
 * agreeing bit for bit (unfused and fused, odd sizes, seeds and steps
 * beyond 32 bits, negative seeds read as unsigned); shape errors; dropout
 * outside --train is the identity with a mask of ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ew_check.h"

/* Random123 tests/kat_vectors, the three "philox4x32 10" lines. */
static void test_philox_kat(void **state)
{
	(void)state;
	static const uint32_t kat[3][10] = {
		{0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
		{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
		 0xa20bc7c6, 0x6d5451fd},
		{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
		 0x5001e420, 0x24126ea1},
	};
	for (int t = 0; t < 3; t++) {
		uint32_t out[4];
		ir_philox4x32_10(&kat[t][0], &kat[t][4], out);
		for (int k = 0; k < 4; k++)
			assert_int_equal(out[k], kat[t][6 + k]);
	}
}

/* The element mapping as docs/training.md states it. */
static void test_uniform_definition(void **state)
{
	(void)state;
	uint64_t seed = 0x0123456789abcdefull, step = 0xfedcba9876543210ull;
	uint32_t stream = 7;
	for (uint64_t i = 0; i < 64; i += 5) {
		uint32_t key[2] = {0x89abcdef, 0x01234567};
		uint32_t ctr[4] = {(uint32_t)(i / 4), stream, 0x76543210, 0xfedcba98}, out[4];
		ir_philox4x32_10(ctr, key, out);
		assert_int_equal(ir_random_bits(seed, step, stream, i), out[i % 4]);
		float f = ir_random_uniform(seed, step, stream, i);
		assert_true(f == (float)(out[i % 4] >> 8) / 16777216.0f);
		assert_true(f >= 0 && f < 1);
	}
	/* the largest draw stays below 1 */
	assert_true((float)(0xffffffffu >> 8) * 0x1p-24f < 1.0f);
	/* streams, steps and seeds each change the numbers */
	assert_true(ir_random_bits(1, 2, 3, 4) != ir_random_bits(1, 2, 4, 4));
	assert_true(ir_random_bits(1, 2, 3, 4) != ir_random_bits(1, 3, 3, 4));
	assert_true(ir_random_bits(1, 2, 3, 4) != ir_random_bits(2, 2, 3, 4));
}

/* The three engines on src, whose inputs are %seed and %step (i64
 * scalars) and %x when present (f32, filled at random). */
static void check3(const char *src, int64_t seed, int64_t step, int opt)
{
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "rng.ir", &d);
	if (!g)
		fail_msg("parse: %s", d.msg);
	ew_optimize(g, opt);
	Tensor in[4];
	assert_true(g->ninput <= 4 && g->noutput <= 4);
	for (int i = 0; i < g->ninput; i++) {
		const Value *v = &g->val[g->input[i]];
		int64_t n = ir_shape_numel(&v->shape);
		in[i] = (Tensor){v->dtype, v->shape, malloc((size_t)n * ir_dtype_size(v->dtype) + 1)};
		if (strcmp(v->name, "seed") == 0)
			memcpy(in[i].data, &seed, 8);
		else if (strcmp(v->name, "step") == 0)
			memcpy(in[i].data, &step, 8);
		else
			for (int64_t j = 0; j < n; j++)
				((float *)in[i].data)[j] = (float)j * 0.25f - 3;
	}
	ew_rtol = 0; /* bit for bit */
	ew_check_inputs(g, in, true);
	ir_graph_free(g);
}

static void test_compiled_bits(void **state)
{
	(void)state;
	static const char *const src[] = {
		"graph r { input %seed: i64[] input %step: i64[]\n"
		"  %u: f32[3, 5, 7] = random_uniform(%seed, %step) {shape = [3, 5, 7], stream = 3}\n"
		"  output %u }",
		"graph r { input %seed: i64[] input %step: i64[]\n"
		"  %u = random_uniform(%seed, %step) {shape = [1037]}\n"
		"  output %u }",
		/* consumers: a mask and a product, fused at -O2 */
		"graph r { input %seed: i64[] input %step: i64[] input %x: f32[4, 33]\n"
		"  %u = random_uniform(%seed, %step) {shape = [4, 33], stream = 4294967295}\n"
		"  const %r: f32[] = [0.25]\n"
		"  %m = greater_equal(%u, %r)\n"
		"  %y = mul(%x, %u)\n"
		"  output %m output %y }",
	};
	static const int64_t seeds[][2] = {{0, 0}, {42, 7}, {-1, 3}, {((int64_t)1 << 40) + 3, ((int64_t)1 << 33) + 1}};
	for (size_t s = 0; s < sizeof src / sizeof *src; s++)
		for (size_t k = 0; k < sizeof seeds / sizeof *seeds; k++)
			for (int opt = 0; opt <= 2; opt += 2)
				check3(src[s], seeds[k][0], seeds[k][1], opt);
}

static void test_shape_errors(void **state)
{
	(void)state;
	char *m = ew_shape_err("graph r { input %s: i32[] input %t: i64[]\n"
		"  %u = random_uniform(%s, %t) {shape = [2]} output %u }");
	assert_non_null(m);
	assert_non_null(strstr(m, "seed must be i64"));
	m = ew_shape_err("graph r { input %s: i64[2] input %t: i64[]\n"
		"  %u = random_uniform(%s, %t) {shape = [2]} output %u }");
	assert_non_null(m);
	assert_non_null(strstr(m, "must be a scalar"));
	m = ew_shape_err("graph r { input %s: i64[] input %t: i64[]\n"
		"  %u = random_uniform(%s, %t) {shape = [2], stream = -1} output %u }");
	assert_non_null(m);
	assert_non_null(strstr(m, "stream"));
	m = ew_shape_err("graph r { input %s: i64[] input %t: i64[]\n"
		"  %u = random_uniform(%s, %t) {shape = [65536, 65536, 8]} output %u }");
	assert_non_null(m);
	assert_non_null(strstr(m, "2^34"));
	m = ew_shape_err("graph r { input %x: f32[3]\n"
		"  %y, %m = dropout(%x) {ratio = 1.0} output %y }");
	assert_non_null(m);
	assert_non_null(strstr(m, "ratio"));
	m = ew_shape_err("graph r { input %x: i32[3]\n"
		"  %y, %m = dropout(%x) {ratio = 0.5} output %y }");
	assert_non_null(m);
	assert_non_null(strstr(m, "float"));
}

/* Outside --train, dropout is the identity and its mask all ones. */
static void test_dropout_inference(void **state)
{
	(void)state;
	const char *src = "graph r { input %x: f32[5]\n"
		"  %y, %m = dropout(%x) {ratio = 0.5}\n"
		"  output %y output %m }";
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "rng.ir", &d);
	assert_non_null(g);
	assert_int_equal(ps_infer_shapes(g, &d), 0);
	float x[5] = {1, -2, 3.5f, 0, 7};
	Tensor in = {DT_F32, g->val[g->input[0]].shape, x}, out[2];
	assert_int_equal(ir_eval(g, &in, out, &d), 0);
	assert_memory_equal(out[0].data, x, sizeof x);
	for (int i = 0; i < 5; i++)
		assert_int_equal(((uint8_t *)out[1].data)[i], 1);
	ir_tensor_free(&out[0]);
	ir_tensor_free(&out[1]);
	ir_graph_free(g);
	/* compiled: y forwards to x (the mask unused) */
	check3("graph r { input %x: f32[6]\n"
		"  %y, %m = dropout(%x) {ratio = 0.5}\n"
		"  %z = relu(%y) output %z }", 0, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_philox_kat),
		cmocka_unit_test(test_uniform_definition),
		cmocka_unit_test(test_compiled_bits),
		cmocka_unit_test(test_shape_errors),
		cmocka_unit_test(test_dropout_inference),
	};
	return cmocka_run_group_tests(tests, ew_setup, ew_teardown);
}
