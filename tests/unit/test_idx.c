/* test_idx.c — the indexing family (ops.def block idx): slice, expand,
 * trilu, gather (run-time indices), gather_elements, gather_nd and the
 * scatters. Each graph is lowered, and both the kernel interpreter and
 * the LLVM-compiled .so must agree bit for bit with the reference
 * interpreter on the same inputs (indices given at run time, negative
 * ones included). Indices out of range: the interpreter reports an error,
 * compiled code reads 0 (gathers) or skips the update (scatters) and
 * never touches memory outside a buffer. Also the slice plan (clamping,
 * negative steps), shape-rule errors and the text round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/kinterp.h"
#include "kl_build.h"
#include "passes/passes.h"

static char base[] = "/tmp/nncc_idx_XXXXXX";

static Graph *parse_ok(const char *src, int opt)
{
	Diag d;
	diag_init(&d);
	Options o = {.opt_level = opt};
	Graph *g = ir_parse(src, "test.ir", &d);
	if (!g || ps_infer_shapes(g, &d) || ps_pipeline(g, &o, &d))
		fail_msg("%s", d.msg);
	return g;
}

/* Input k of g: floats counting from -7.5, or indices in [lo, hi). */
static Tensor make_input(const Graph *g, int k, int64_t lo, int64_t hi, uint64_t seed)
{
	const Value *v = &g->val[g->input[k]];
	int64_t n = ir_shape_numel(&v->shape);
	Tensor t = {v->dtype, v->shape, calloc((size_t)n + 1, ir_dtype_size(v->dtype))};
	for (int64_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		int64_t r = lo + (int64_t)((seed >> 33) % (uint64_t)(hi - lo));
		if (v->dtype == DT_I64)
			((int64_t *)t.data)[i] = r;
		else if (v->dtype == DT_I32)
			((int32_t *)t.data)[i] = (int32_t)r;
		else
			ir_elem_put(v->dtype, (char *)t.data + (size_t)i * ir_dtype_size(v->dtype),
				(double)i - 7.5);
	}
	return t;
}

/* Lowers g (at `opt`), runs the kernel interpreter and the compiled .so
 * on in, and returns their outputs in ki[] and so[] (malloc'd). */
static void run_both(Graph *g, const Tensor *in, Tensor *ki, Tensor *so, int opt)
{
	Diag d;
	diag_init(&d);
	T *t = calloc(1, sizeof *t);
	t->g = g;
	if (cg_lower(g, &t->kl, &d))
		fail_msg("lower: %s", d.msg);
	cg_schedule(&t->kl, 0);
	cg_plan(&t->kl);
	if (cg_plan_check(&t->kl, &d))
		fail_msg("plan: %s", d.msg);
	if (cg_interp(&t->kl, in, ki, &d))
		fail_msg("kinterp: %s", d.msg);
	Lib l = build(t, opt);
	const void *inp[8];
	void *outp[8];
	for (int i = 0; i < g->ninput; i++)
		inp[i] = in[i].data;
	for (int i = 0; i < g->noutput; i++) {
		const Value *v = &g->val[g->output[i]];
		so[i] = (Tensor){v->dtype, v->shape,
			calloc((size_t)ir_shape_numel(&v->shape) + 1, ir_dtype_size(v->dtype))};
		outp[i] = so[i].data;
	}
	run(&l, inp, outp);
	dlclose(l.h);
	cg_free(&t->kl);
	free(t);
}

static void same(const Tensor *a, const Tensor *b)
{
	assert_true(ir_shape_eq(&a->shape, &b->shape));
	assert_int_equal(a->dtype, b->dtype);
	size_t nb = (size_t)ir_shape_numel(&a->shape) * ir_dtype_size(a->dtype);
	assert_memory_equal(a->data, b->data, nb);
}

/* Every output of src, at -O0 and -O2, from the reference interpreter,
 * the kernel interpreter and the .so, on the same inputs; integer inputs
 * hold indices in [lo, hi). */
static void check(const char *src, int64_t lo, int64_t hi)
{
	for (int opt = 0; opt <= 2; opt += 2) {
		Graph *g = parse_ok(src, opt);
		Tensor in[8], want[8], ki[8], so[8];
		assert_true(g->ninput <= 8 && g->noutput <= 8);
		for (int k = 0; k < g->ninput; k++)
			in[k] = make_input(g, k, lo, hi, 12345u + (uint64_t)k);
		Diag d;
		diag_init(&d);
		if (ir_eval(g, in, want, &d))
			fail_msg("eval: %s", d.msg);
		run_both(g, in, ki, so, opt);
		for (int k = 0; k < g->noutput; k++) {
			same(&want[k], &ki[k]);
			same(&want[k], &so[k]);
			ir_tensor_free(&want[k]);
			ir_tensor_free(&ki[k]);
			ir_tensor_free(&so[k]);
		}
		for (int k = 0; k < g->ninput; k++)
			ir_tensor_free(&in[k]);
		ir_graph_free(g);
	}
}

/* --- data movement ------------------------------------------------------------ */

static void test_slice(void **state)
{
	(void)state;
	check("graph slice1 {\n"
	      "  input %x: f32[5, 6, 7]\n"
	      "  %a = slice(%x) {starts = [1, -100], ends = [4, 100], axes = [0, 2]}\n"
	      "  %b = slice(%x) {starts = [-1, 5], ends = [-1000, 0], axes = [1, 2], steps = [-2, -3]}\n"
	      "  %c = slice(%x) {starts = [0, 9223372036854775807], ends = [5, -9223372036854775808], steps = [2, -1]}\n"
	      "  %e = slice(%x) {starts = [3], ends = [3], axes = [-1]}\n"
	      "  output %a\n"
	      "  output %b\n"
	      "  output %c\n"
	      "  output %e\n"
	      "}\n",
	      0, 1);
}

/* ir_slice_plan: ONNX's clamping and negative steps. */
static void test_slice_plan(void **state)
{
	(void)state;
	Graph *g = ir_parse("graph p {\n  input %x: f32[10, 4]\n"
			    "  %y = slice(%x) {starts = [-3, 8], ends = [100, -100], steps = [1, -3]}\n"
			    "  output %y\n}\n", "p.ir", NULL);
	assert_non_null(g);
	Diag d;
	diag_init(&d);
	assert_int_equal(ps_infer_shapes(g, &d), 0);
	int64_t st[8], sp[8], ct[8];
	const Value *x = &g->val[g->input[0]];
	assert_int_equal(ir_slice_plan(&g->node[0], &x->shape, st, sp, ct), 0);
	assert_int_equal(st[0], 7);
	assert_int_equal(ct[0], 3);
	assert_int_equal(st[1], 3); /* 8 clamps to the last element */
	assert_int_equal(sp[1], -3);
	assert_int_equal(ct[1], 2); /* 3, 0 */
	const Value *y = &g->val[g->output[0]];
	assert_int_equal(y->shape.d[0].n, 3);
	assert_int_equal(y->shape.d[1].n, 2);
	ir_graph_free(g);
}

static void test_expand_trilu(void **state)
{
	(void)state;
	check("graph ex {\n"
	      "  input %x: f32[3, 1]\n"
	      "  input %m: f64[2, 4, 5]\n"
	      "  %a = expand(%x) {shape = [2, 1, 4]}\n"
	      "  %b = trilu(%m) {upper = 1, k = 1}\n"
	      "  %c = trilu(%m) {upper = 0, k = -1}\n"
	      "  %e = trilu(%m) {upper = 0, k = 9}\n"
	      "  output %a\n"
	      "  output %b\n"
	      "  output %c\n"
	      "  output %e\n"
	      "}\n",
	      0, 1);
}

/* --- gathers with run-time indices ---------------------------------------------- */

static void test_gather_runtime(void **state)
{
	(void)state;
	check("graph ga {\n"
	      "  input %x: f32[4, 5, 3]\n"
	      "  input %i: i64[2, 3]\n"
	      "  input %j: i32[6]\n"
	      "  %a = gather(%x, %i) {axis = 0}\n"
	      "  %b = gather(%x, %i) {axis = 2}\n"
	      "  %c = gather(%x, %j) {axis = 1}\n"
	      "  %e = relu(%c)\n"
	      "  output %a\n"
	      "  output %b\n"
	      "  output %e\n"
	      "}\n",
	      -3, 3);
}

static void test_gather_elements_nd(void **state)
{
	(void)state;
	check("graph ge {\n"
	      "  input %x: f32[3, 4]\n"
	      "  input %i: i64[5, 4]\n"
	      "  %a = gather_elements(%x, %i) {axis = 0}\n"
	      "  output %a\n"
	      "}\n",
	      -3, 3);
	check("graph ge2 {\n"
	      "  input %x: f32[3, 4]\n"
	      "  input %i: i32[3, 2]\n"
	      "  %a = gather_elements(%x, %i) {axis = -1}\n"
	      "  output %a\n"
	      "}\n",
	      -3, 3);
	check("graph gn {\n"
	      "  input %x: f32[3, 3, 2]\n"
	      "  input %i: i64[4, 2]\n"
	      "  %a = gather_nd(%x, %i)\n"
	      "  output %a\n"
	      "}\n",
	      -3, 3);
	check("graph gn2 {\n"
	      "  input %x: f32[2, 3, 3]\n"
	      "  input %i: i64[2, 2, 1]\n"
	      "  %a = gather_nd(%x, %i) {batch_dims = 1}\n"
	      "  output %a\n"
	      "}\n",
	      -3, 3);
}

/* At -O2 the indexing ops are inlined into their pointwise readers
 * (passes/fuse.c): the fused kernels must agree with the interpreter too. */
static void test_fused(void **state)
{
	(void)state;
	check("graph fu {\n"
	      "  input %x: f32[4, 4]\n"
	      "  input %i: i64[4, 4]\n"
	      "  input %k: i64[3, 2]\n"
	      "  %a = slice(%x) {starts = [3, 0], ends = [-100, 4], steps = [-1, 1]}\n"
	      "  %b = trilu(%x) {k = -1}\n"
	      "  %c = gather_elements(%x, %i) {axis = 1}\n"
	      "  %e = expand(%x) {shape = [2, 4, 4]}\n"
	      "  %s1 = add(%a, %b)\n"
	      "  %s2 = mul(%s1, %c)\n"
	      "  %s3 = sub(%e, %s2)\n"
	      "  %n = gather_nd(%x, %k)\n"
	      "  %m = reduce_sum(%n) {axes = [0], keepdims = 1}\n"
	      "  output %s3\n"
	      "  output %m\n"
	      "}\n",
	      -4, 4);
}

/* --- scatters ------------------------------------------------------------------------- */

static void test_scatter(void **state)
{
	(void)state;
	static const char *const red[] = {"none", "add", "mul", "max", "min"};
	for (int r = 0; r < 5; r++) {
		char src[1024];
		snprintf(src, sizeof src,
			 "graph sc%d {\n"
			 "  input %%x: f32[4, 3]\n"
			 "  input %%i: i64[5, 3]\n"
			 "  input %%u: f32[5, 3]\n"
			 "  input %%k: i64[3, 1]\n"
			 "  input %%v: f32[3, 3]\n"
			 "  %%a = scatter_elements(%%x, %%i, %%u) {axis = 0, reduction = \"%s\"}\n"
			 "  %%b = scatter_nd(%%x, %%k, %%v) {reduction = \"%s\"}\n"
			 "  output %%a\n"
			 "  output %%b\n"
			 "}\n",
			 r, red[r], red[r]);
		check(src, -3, 3); /* duplicate indices are likely: order matters */
	}
	check("graph sci {\n"
	      "  input %x: i32[2, 6]\n"
	      "  input %i: i32[2, 4]\n"
	      "  input %u: i32[2, 4]\n"
	      "  %a = scatter_elements(%x, %i, %u) {axis = 1, reduction = \"add\"}\n"
	      "  output %a\n"
	      "}\n",
	      -6, 6);
}

/* An index out of range: the interpreter fails naming the node; the
 * compiled gather reads 0 there, the compiled scatter skips the update. */
static void test_out_of_range(void **state)
{
	(void)state;
	Graph *g = parse_ok("graph oor {\n"
			    "  input %x: f32[4, 3]\n"
			    "  input %i: i64[2, 1]\n"
			    "  %a = gather_nd(%x, %i) @\"g\"\n"
			    "  %b = scatter_nd(%x, %i, %a) @\"s\"\n"
			    "  output %a\n"
			    "  output %b\n"
			    "}\n", 2);
	Tensor in[2] = {make_input(g, 0, 0, 1, 1), make_input(g, 1, 0, 1, 1)};
	int64_t *ix = in[1].data;
	ix[0] = 4;  /* one past the end */
	ix[1] = -2; /* row 2 */
	Tensor want[2], ki[2], so[2];
	Diag d;
	diag_init(&d);
	assert_int_equal(ir_eval(g, in, want, &d), -1);
	assert_non_null(strstr(d.msg, "\"g\""));
	assert_non_null(strstr(d.msg, "out of range"));
	run_both(g, in, ki, so, 2);
	const float *x = in[0].data;
	for (int k = 0; k < 2; k++) {
		const float *a = (k ? so : ki)[0].data, *b = (k ? so : ki)[1].data;
		for (int j = 0; j < 3; j++) {
			assert_true(a[j] == 0);            /* row 4 does not exist */
			assert_true(a[3 + j] == x[6 + j]); /* row -2 */
		}
		for (int j = 0; j < 12; j++) /* row 2 rewritten with itself, row 4 skipped */
			assert_true(b[j] == x[j]);
	}
	for (int k = 0; k < 2; k++) {
		ir_tensor_free(&ki[k]);
		ir_tensor_free(&so[k]);
		ir_tensor_free(&in[k]);
	}
	ir_graph_free(g);
}

/* --- shape rules and text ---------------------------------------------------------- */

static void rule_fails(const char *src, const char *want)
{
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "bad.ir", &d);
	if (!g)
		fail_msg("parse: %s", d.msg);
	assert_int_equal(ps_infer_shapes(g, &d), -1);
	if (!strstr(d.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", d.msg, want);
	ir_graph_free(g);
}

static void test_rules(void **state)
{
	(void)state;
	rule_fails("graph b {\n input %x: f32[4]\n %y = slice(%x) {starts = [0], ends = [2], steps = [0]}\n"
		   " output %y\n}\n", "step 0");
	rule_fails("graph b {\n input %x: f32[4]\n %y = slice(%x) {starts = [0], ends = [2], axes = [1]}\n"
		   " output %y\n}\n", "out of range");
	rule_fails("graph b {\n input %x: f32[4, 3]\n %y = expand(%x) {shape = [2, 3]}\n output %y\n}\n",
		   "cannot broadcast");
	rule_fails("graph b {\n input %x: f32[4]\n %y = trilu(%x)\n output %y\n}\n", "rank >= 2");
	rule_fails("graph b {\n input %x: f32[4, 3]\n input %i: i64[2, 3]\n %y = gather_nd(%x, %i)\n"
		   " output %y\n}\n", "does not fit");
	rule_fails("graph b {\n input %x: f32[4, 3]\n input %i: f32[2, 3]\n"
		   " %y = gather_elements(%x, %i)\n output %y\n}\n", "i32 or i64");
	rule_fails("graph b {\n input %x: f32[4, 3]\n input %i: i64[2, 3]\n input %u: f32[2, 3]\n"
		   " %y = scatter_elements(%x, %i, %u) {reduction = \"avg\"}\n output %y\n}\n",
		   "unknown reduction");
}

static void test_text_roundtrip(void **state)
{
	(void)state;
	static const char *src =
		"graph rt {\n"
		"  input %x: f32[4, 3]\n"
		"  input %i: i64[2, 1]\n"
		"  %a: f32[2, 3] = slice(%x) {starts = [-1], ends = [-9223372036854775808], steps = [-2]}\n"
		"  %b: f32[2, 4, 3] = expand(%x) {shape = [2, 1, 1]}\n"
		"  %c: f32[4, 3] = trilu(%x) {upper = 0, k = 1}\n"
		"  %e: f32[2, 3] = gather_nd(%x, %i) {batch_dims = 0}\n"
		"  %f: f32[4, 3] = scatter_nd(%x, %i, %e) {reduction = \"max\"}\n"
		"  output %a\n  output %b\n  output %c\n  output %f\n"
		"}\n";
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "rt.ir", &d);
	if (!g)
		fail_msg("%s", d.msg);
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	ir_print(g, f, 0);
	fclose(f);
	Graph *h = ir_parse(buf, "printed.ir", &d);
	if (!h)
		fail_msg("%s", d.msg);
	if (!ir_graph_equal(g, h, &d))
		fail_msg("%s", d.msg);
	assert_int_equal(ir_verify(h, &d), 0);
	free(buf);
	ir_graph_free(g);
	ir_graph_free(h);
}

static int setup(void **state)
{
	(void)state;
	return make_dir(base);
}

static int teardown(void **state)
{
	(void)state;
	return rm_dir(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slice),
		cmocka_unit_test(test_slice_plan),
		cmocka_unit_test(test_expand_trilu),
		cmocka_unit_test(test_gather_runtime),
		cmocka_unit_test(test_gather_elements_nd),
		cmocka_unit_test(test_fused),
		cmocka_unit_test(test_scatter),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_text_roundtrip),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
