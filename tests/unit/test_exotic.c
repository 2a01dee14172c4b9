/* test_exotic.c — the exotic dtypes (dt family: float8 e4m3fn/e4m3fnuz/
 * e5m2/e5m2fnuz, float4 e2m1, int4/uint4/int2/uint2):
 *   - every code of every small float decoded and checked against values
 *     stated by the formats' definitions (the largest finite value, one,
 *     the least subnormal, NaN/infinity codes), e5m2 against the top byte
 *     of an IEEE half (decoded by ir/eval.c's separate f16 code), float4
 *     against its whole value list, and codes ordered by value;
 *   - encoding: every code round-trips, every midpoint between adjacent
 *     codes goes to the even one and its f32 neighbours to the near one,
 *     saturation and the no-saturation NaN/infinity codes per format;
 *   - f8e8m0: every power of two, rounding up, saturation;
 *   - narrow integers wrap; text IR spells and round-trips them;
 *   - TensorProto unpacking (runtime and importer);
 *   - Cast kernels, compiled by LLVM and run by the kernel interpreter,
 *     against the reference interpreter bit for bit, on every code and on
 *     every midpoint, with and without saturation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ew_check.h"
#include "frontend/onnx_impl.h"
#include "runtime/rt.h"

static const DType floats[] = {DT_F8E4M3FN, DT_F8E4M3FNUZ, DT_F8E5M2, DT_F8E5M2FNUZ, DT_F4E2M1};
enum { NFLOAT = sizeof floats / sizeof *floats };

/* Largest finite code, its value, the code of 1.0 and of the least
 * subnormal's value, per format (from the formats' definitions). */
static const struct {
	unsigned max;
	double maxv, least;
	unsigned one;
} facts[NFLOAT] = {
	{0x7e, 448, 0x1p-9, 0x38},
	{0x7f, 240, 0x1p-10, 0x40},
	{0x7b, 57344, 0x1p-16, 0x3c},
	{0x7f, 57344, 0x1p-17, 0x40},
	{0x7, 6, 0.5, 0x2},
};

static unsigned sign_bit(DType t)
{
	return t == DT_F4E2M1 ? 0x8 : 0x80;
}

static void test_decode(void **state)
{
	for (int k = 0; k < NFLOAT; k++) {
		DType t = floats[k];
		assert_true(ir_dtype_is_small_float(t) && ir_dtype_is_exotic(t));
		assert_false(ir_dtype_is_float(t));
		assert_int_equal(ir_dtype_size(t), 1);
		assert_true(ir_small_dec(t, facts[k].max) == facts[k].maxv);
		assert_true(ir_small_dec(t, facts[k].one) == 1.0);
		assert_true(ir_small_dec(t, 1) == facts[k].least);
		assert_true(ir_small_dec(t, 0) == 0 && !signbit(ir_small_dec(t, 0)));
		/* positive codes 0..max strictly increase; the sign bit negates */
		for (unsigned c = 1; c <= facts[k].max; c++) {
			assert_true(ir_small_dec(t, c) > ir_small_dec(t, c - 1));
			assert_true(ir_small_dec(t, c | sign_bit(t)) == -ir_small_dec(t, c));
		}
	}
	/* NaN and infinity codes */
	assert_true(isnan(ir_small_dec(DT_F8E4M3FN, 0x7f)) && isnan(ir_small_dec(DT_F8E4M3FN, 0xff)));
	assert_true(ir_small_dec(DT_F8E4M3FN, 0x80) == 0 && signbit(ir_small_dec(DT_F8E4M3FN, 0x80)));
	assert_true(isnan(ir_small_dec(DT_F8E4M3FNUZ, 0x80)) && isnan(ir_small_dec(DT_F8E5M2FNUZ, 0x80)));
	assert_true(ir_small_dec(DT_F8E5M2, 0x7c) == INFINITY && ir_small_dec(DT_F8E5M2, 0xfc) == -INFINITY);
	/* e5m2 is the top byte of an IEEE half: ir/eval.c's f16 decoder agrees */
	for (unsigned c = 0; c < 256; c++) {
		uint16_t h = (uint16_t)(c << 8);
		double w = ir_elem_get(DT_F16, &h), g = ir_small_dec(DT_F8E5M2, c);
		assert_true(isnan(w) ? isnan(g) : w == g && signbit(w) == signbit(g));
	}
	/* float4 e2m1: the whole list */
	static const double f4[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
	for (unsigned c = 0; c < 8; c++) {
		assert_true(ir_small_dec(DT_F4E2M1, c) == f4[c]);
		assert_true(ir_small_dec(DT_F4E2M1, c | 8) == -f4[c]);
	}
}

static void test_encode(void **state)
{
	for (int k = 0; k < NFLOAT; k++) {
		DType t = floats[k];
		unsigned max = facts[k].max, sb = sign_bit(t);
		bool uz = t == DT_F8E4M3FNUZ || t == DT_F8E5M2FNUZ;
		for (unsigned c = 0; c <= max; c++) {
			double v = ir_small_dec(t, c);
			assert_int_equal(ir_small_enc(t, v, true), c);
			assert_int_equal(ir_small_enc(t, -v, true), c == 0 && uz ? 0 : c | sb);
			if (c == max)
				break;
			double mid = (v + ir_small_dec(t, c + 1)) / 2; /* exact in f32 */
			assert_int_equal(ir_small_enc(t, mid, true), c % 2 ? c + 1 : c);
			assert_int_equal(ir_small_enc(t, nextafterf((float)mid, INFINITY), true), c + 1);
			assert_int_equal(ir_small_enc(t, nextafterf((float)mid, 0), true), c);
			assert_int_equal(ir_small_enc(t, -nextafterf((float)mid, INFINITY), false), (c + 1) | sb);
		}
		/* saturation: beyond the largest value and infinity give it */
		assert_int_equal(ir_small_enc(t, 1e30, true), max);
		assert_int_equal(ir_small_enc(t, INFINITY, true), max);
		assert_int_equal(ir_small_enc(t, -INFINITY, true), max | sb);
	}
	/* no saturation: NaN (fn, fnuz) or infinity (e5m2); float4 saturates */
	assert_int_equal(ir_small_enc(DT_F8E4M3FN, 1e30, false), 0x7f);
	assert_int_equal(ir_small_enc(DT_F8E4M3FN, -INFINITY, false), 0xff);
	assert_int_equal(ir_small_enc(DT_F8E4M3FN, 464, false), 0x7e); /* a tie to even 448 */
	assert_int_equal(ir_small_enc(DT_F8E4M3FN, 465, false), 0x7f);
	assert_int_equal(ir_small_enc(DT_F8E5M2, 1e30, false), 0x7c);
	assert_int_equal(ir_small_enc(DT_F8E5M2, -INFINITY, false), 0xfc);
	assert_int_equal(ir_small_enc(DT_F8E5M2, 61440, false), 0x7c); /* a tie to even: up */
	assert_int_equal(ir_small_enc(DT_F8E5M2, 61439, false), 0x7b);
	assert_int_equal(ir_small_enc(DT_F8E4M3FNUZ, -1e30, false), 0x80);
	assert_int_equal(ir_small_enc(DT_F8E5M2FNUZ, INFINITY, false), 0x80);
	assert_int_equal(ir_small_enc(DT_F4E2M1, 1e30, false), 0x7);
	/* NaN codes; fnuz has no negative zero */
	assert_int_equal(ir_small_enc(DT_F8E4M3FN, NAN, true), 0x7f);
	assert_int_equal(ir_small_enc(DT_F8E5M2, NAN, true), 0x7e);
	assert_int_equal(ir_small_enc(DT_F8E4M3FNUZ, NAN, true), 0x80);
	assert_int_equal(ir_small_enc(DT_F8E4M3FNUZ, -1e-30, true), 0);
	assert_int_equal(ir_small_enc(DT_F8E4M3FN, -1e-30, true), 0x80);
}

/* f8e8m0: powers of two, rounding up */
static void test_e8m0(void **state)
{
	DType t = DT_F8E8M0;
	assert_true(ir_small_dec(t, 0x7f) == 1.0 && ir_small_dec(t, 0) == 0x1p-127);
	assert_true(ir_small_dec(t, 0xfe) == 0x1p127 && isnan(ir_small_dec(t, 0xff)));
	for (unsigned c = 0; c < 0xff; c++) {
		float v = (float)ir_small_dec(t, c);
		assert_true(v == ldexp(1, (int)c - 127));
		assert_int_equal(ir_small_enc(t, v, true), c);
		assert_int_equal(ir_small_enc(t, -v, true), c); /* no sign */
		if (c > 0)
			assert_int_equal(ir_small_enc(t, nextafterf(v, 0), true), c);
		if (c < 0xfe)
			assert_int_equal(ir_small_enc(t, nextafterf(v, INFINITY), true), c + 1);
	}
	assert_int_equal(ir_small_enc(t, 0, true), 0);
	assert_int_equal(ir_small_enc(t, 0x1p-140, true), 0);
	assert_int_equal(ir_small_enc(t, 1.1, true), 0x80);
	assert_int_equal(ir_small_enc(t, 0x1.8p127, true), 0xfe);
	assert_int_equal(ir_small_enc(t, 0x1.8p127, false), 0xff);
	assert_int_equal(ir_small_enc(t, INFINITY, true), 0xfe);
	assert_int_equal(ir_small_enc(t, NAN, true), 0xff);
}

static void test_ints(void **state)
{
	assert_int_equal(ir_small_int_wrap(DT_I4, 8), -8);
	assert_int_equal(ir_small_int_wrap(DT_I4, -9), 7);
	assert_int_equal(ir_small_int_wrap(DT_U4, -1), 15);
	assert_int_equal(ir_small_int_wrap(DT_I2, 2), -2);
	assert_int_equal(ir_small_int_wrap(DT_U2, 5), 1);
	assert_int_equal(ir_small_enc(DT_I4, -9.7, true), 7); /* truncates, then wraps */
	assert_int_equal(ir_dtype_bits(DT_I2), 2);
	assert_int_equal(ir_dtype_bits(DT_F4E2M1), 4);
	unsigned char b;
	ir_elem_put(DT_I4, &b, 8);
	assert_int_equal((int8_t)b, -8); /* sign-extended in its byte */
	assert_true(ir_elem_get(DT_I4, &b) == -8);
	ir_elem_put(DT_U2, &b, 7);
	assert_int_equal(b, 3);
	static const char *const names[] = {"f8e4m3fn", "f8e4m3fnuz", "f8e5m2", "f8e5m2fnuz", "f4e2m1",
					    "i4", "u4", "i2", "u2", "f8e8m0"};
	static const DType t[] = {DT_F8E4M3FN, DT_F8E4M3FNUZ, DT_F8E5M2, DT_F8E5M2FNUZ, DT_F4E2M1,
				  DT_I4, DT_U4, DT_I2, DT_U2, DT_F8E8M0};
	for (int i = 0; i < 10; i++) {
		assert_int_equal(ir_dtype_parse(names[i], strlen(names[i])), t[i]);
		assert_string_equal(ir_dtype_name(t[i]), names[i]);
		assert_string_equal(nncc_dtype_name((int)t[i]), names[i]);
		assert_int_equal(nncc_dtype_size((int)t[i]), 1);
	}
}

/* Text IR: constants print as codes (floats) or values (integers) and
 * parse back; out-of-range ones are refused. */
static void test_text(void **state)
{
	const char *src = "graph t {\n  input %x: f32[2]\n  param %a: f8e4m3fn[3] = [0x38, 0xff, 0x01]\n"
			  "  param %b: i4[3] = [-8, 7, -1]\n  param %c: f4e2m1[2] = [0x7, 0xf]\n"
			  "  output %x\n}\n";
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "t.ir", &d);
	if (!g)
		fail_msg("%s", d.msg);
	const Value *a = &g->val[ir_find_value(g, "a")], *b = &g->val[ir_find_value(g, "b")];
	assert_int_equal(((const uint8_t *)a->data)[1], 0xff);
	assert_int_equal(((const int8_t *)b->data)[0], -8);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ir_print(g, f, 0);
	fclose(f);
	assert_non_null(strstr(text, "[0x38, 0xff, 0x01]"));
	assert_non_null(strstr(text, "[-8, 7, -1]"));
	Graph *g2 = ir_parse(text, "t2.ir", &d);
	if (!g2)
		fail_msg("%s", d.msg);
	assert_memory_equal(g2->val[ir_find_value(g2, "c")].data, "\x07\x0f", 2);
	free(text);
	ir_graph_free(g2);
	ir_graph_free(g);
	assert_null(ir_parse("graph t {\n  input %x: f32[1]\n  param %b: i4[1] = [8]\n  output %x\n}\n", "e.ir", &d));
	assert_null(ir_parse("graph t {\n  input %x: f32[1]\n  param %b: f4e2m1[1] = [0x10]\n  output %x\n}\n", "e.ir", &d));
}

/* int4 [-8, 7, -1, 0, 3] packed low nibble first: 0x78 0x0f 0x03. */
static void test_unpack(void **state)
{
	static const uint8_t pb[] = {0x08, 0x05, 0x10, 22, 0x4a, 0x03, 0x78, 0x0f, 0x03};
	RtTensor t;
	char *err = NULL;
	assert_int_equal(rt_pb_decode(pb, sizeof pb, &t, "t", &err), NNCC_STATUS_OK);
	assert_int_equal(t.dtype, NNCC_DTYPE_I4);
	assert_int_equal(t.nbytes, 5);
	assert_memory_equal(t.data, "\xf8\x07\xff\x00\x03", 5);
	rt_tensor_free(&t);
	static const uint8_t bad[] = {0x08, 0x05, 0x10, 22, 0x4a, 0x02, 0x78, 0x0f}; /* one byte short */
	assert_int_not_equal(rt_pb_decode(bad, sizeof bad, &t, "t", &err), NNCC_STATUS_OK);
	nncc_error_free(err);
	/* the importer: uint2 from int32_data, four per value */
	int32_t v[2] = {0xe4, 0x01}; /* 0,1,2,3 then 1 */
	uint8_t out[5];
	assert_int_equal(dt_unpack(DT_U2, NULL, 0, v, 2, 5, out), 0);
	assert_memory_equal(out, "\x00\x01\x02\x03\x01", 5);
	assert_int_equal(dt_unpack(DT_I2, NULL, 0, v, 2, 5, out), 0);
	assert_memory_equal(out, "\x00\x01\xfe\xff\x01", 5);
	assert_int_equal(dt_unpack(DT_I2, NULL, 0, v, 1, 5, out), -1);
}

/* The differential check of src on the given inputs: reference
 * interpreter vs kernel interpreter vs compiled code, bit for bit. */
static void check(const char *src, Tensor *in)
{
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "dt.ir", &d);
	Options o = {.opt_level = 2};
	if (!g || ps_infer_shapes(g, &d) || ps_pipeline(g, &o, &d))
		fail_msg("%s", d.msg);
	Tensor want[8], got[8], so[8];
	if (ir_eval(g, in, want, &d))
		fail_msg("ir_eval: %s", d.msg);
	KernelList kl;
	if (cg_lower(g, &kl, &d))
		fail_msg("cg_lower: %s", d.msg);
	cg_plan(&kl);
	cg_schedule(&kl, 0);
	if (cg_interp(&kl, in, got, &d))
		fail_msg("cg_interp: %s", d.msg);
	ew_run_so(&kl, g, in, want, so);
	for (int k = 0; k < g->noutput; k++) {
		ew_compare("kernel interpreter", &want[k], &got[k]);
		ew_compare("compiled", &want[k], &so[k]);
		ir_tensor_free(&want[k]);
		ir_tensor_free(&got[k]);
		ir_tensor_free(&so[k]);
	}
	cg_free(&kl);
	ir_graph_free(g);
}

enum { NX = 1200 };

static void test_cast_kernels(void **state)
{
	for (int k = 0; k <= NFLOAT; k++) {
		DType t = k < NFLOAT ? floats[k] : DT_F8E8M0;
		const char *tn = ir_dtype_name(t);
		/* f32 inputs: every code's value, the midpoints and their
		 * neighbours, out-of-range and special values, random ones */
		float x[NX];
		int n = 0;
		for (unsigned c = 0; c < 256 && n < NX - 8; c++) {
			double v = ir_small_dec(t, c), w = ir_small_dec(t, (c + 1) & 0xff);
			x[n++] = (float)v;
			if (isfinite(v) && isfinite(w) && fabs(w) > fabs(v) && signbit(v) == signbit(w)) {
				float mid = (float)((v + w) / 2);
				x[n++] = mid;
				x[n++] = nextafterf(mid, INFINITY);
				x[n++] = nextafterf(mid, -INFINITY);
			}
		}
		static const float sp[] = {INFINITY, -INFINITY, NAN, -NAN, 1e9f, -1e9f, 465, 61440, -0.0f, 1e-30f};
		for (size_t i = 0; i < sizeof sp / sizeof *sp; i++)
			x[n++] = sp[i];
		while (n < NX)
			x[n++] = (float)ldexp((double)(ew_next() >> 40) / 16777216.0 - 0.5, (int)(ew_next() % 40) - 20);
		char src[800];
		snprintf(src, sizeof src,
			"graph t {\n  input %%x: f32[%d]\n  input %%c: %s[256]\n"
			"  %%y = cast(%%x) {to = \"%s\"}\n  %%z = cast(%%x) {to = \"%s\", saturate = 0}\n"
			"  %%h = cast(%%x) {to = \"f16\"}\n  %%w = cast(%%h) {to = \"%s\"}\n"
			"  %%f = cast(%%c) {to = \"f32\"}\n  %%g = cast(%%c) {to = \"f16\"}\n"
			"  %%i = cast(%%c) {to = \"i32\"}\n  %%b = cast(%%y) {to = \"f64\"}\n"
			"  output %%y\n  output %%z\n  output %%w\n  output %%f\n  output %%g\n  output %%i\n  output %%b\n}\n",
			NX, tn, tn, tn, tn);
		uint8_t codes[256];
		for (int c = 0; c < 256; c++)
			codes[c] = (uint8_t)(t == DT_F4E2M1 ? c & 0xf : c);
		int64_t nx = NX, nc = 256;
		Tensor in[2] = {{DT_F32, ir_shape_make(1, &nx), x}, {t, ir_shape_make(1, &nc), codes}};
		check(src, in);
	}
	/* narrow integers from floats (truncate, wrap), integers, and back */
	static const char *const it[] = {"i4", "u4", "i2", "u2"};
	for (int k = 0; k < 4; k++) {
		float x[64];
		int32_t iv[64];
		for (int i = 0; i < 64; i++) {
			x[i] = (float)(i - 32) * 0.75f;
			iv[i] = (int32_t)(ew_next() % 2000) - 1000;
		}
		x[0] = NAN, x[1] = INFINITY, x[2] = -1e20f;
		char src[600];
		snprintf(src, sizeof src,
			"graph t {\n  input %%x: f32[64]\n  input %%v: i32[64]\n"
			"  %%a = cast(%%x) {to = \"%s\"}\n  %%b = cast(%%v) {to = \"%s\"}\n"
			"  %%c = cast(%%a) {to = \"f32\"}\n  %%d = cast(%%b) {to = \"i8\"}\n"
			"  %%e = cast(%%b) {to = \"f8e4m3fn\"}\n"
			"  output %%a\n  output %%b\n  output %%c\n  output %%d\n  output %%e\n}\n",
			it[k], it[k]);
		int64_t n = 64;
		Tensor in[2] = {{DT_F32, ir_shape_make(1, &n), x}, {DT_I32, ir_shape_make(1, &n), iv}};
		check(src, in);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_e8m0),
		cmocka_unit_test(test_ints),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_unpack),
		cmocka_unit_test(test_cast_kernels),
	};
	return cmocka_run_group_tests(tests, ew_setup, ew_teardown);
}
