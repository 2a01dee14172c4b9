/* test_onnx_idx.c — ONNX import of the idx family (frontend/onnx_idx.c,
 * onnx_resize.c): each model is built in C, imported, evaluated by the
 * reference interpreter and compared with values worked out by hand from
 * the ONNX specification: Pad's modes and negative pads, Resize nearest
 * and linear, Split, Tile, DepthToSpace (DCR, CRD), Compress,
 * ReverseSequence with run-time lengths, Trilu with a run-time k, Range; shape-deciding inputs
 * computed from constants (folded at import); and the errors for inputs
 * that decide a shape but are not constants. */
#include "onnx_build.h"

#include "ir/ir.h"
#include "passes/passes.h"

/* Imports b, feeds input 0 with x (f32) and input 1, if any, with i1
 * (i64), and checks output k against want (n values, exact). */
static void eval_check(MB *b, const float *x, const int64_t *i1, int k, const float *want, int64_t n)
{
	Graph *g = load_ok(b);
	Diag d;
	diag_init(&d);
	if (ps_infer_shapes(g, &d))
		fail_msg("%s", d.msg);
	Tensor in[2], out[8];
	assert_true(g->ninput >= 1 && g->ninput <= 2 && g->noutput <= 8);
	for (int j = 0; j < g->ninput; j++) {
		const Value *v = &g->val[g->input[j]];
		in[j] = (Tensor){v->dtype, v->shape, (void *)(j ? (const void *)i1 : (const void *)x)};
	}
	if (ir_eval(g, in, out, &d))
		fail_msg("eval: %s", d.msg);
	assert_int_equal(ir_shape_numel(&out[k].shape), n);
	for (int64_t i = 0; i < n; i++)
		if (((float *)out[k].data)[i] != want[i])
			fail_msg("output %d element %lld: %g, expected %g", k, (long long)i,
				((float *)out[k].data)[i], want[i]);
	for (int j = 0; j < g->noutput; j++)
		ir_tensor_free(&out[j]);
	ir_graph_free(g);
}

static const float iota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void pad_case(const char *mode, const int64_t *pads, const float *want, int64_t n)
{
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "1,4");
	mb_init_i64(b, "p", "4", pads, 4);
	a_str(b, mb_node(b, "Pad", "pad", "X,p", "Y"), "mode", mode);
	mb_output(b, "Y");
	eval_check(b, iota, NULL, 0, want, n);
}

static void test_pad_modes(void **state)
{
	(void)state;
	pad_case("reflect", (const int64_t[]){0, 2, 0, 1}, (const float[]){2, 1, 0, 1, 2, 3, 2}, 7);
	pad_case("edge", (const int64_t[]){0, 2, 0, 1}, (const float[]){0, 0, 0, 1, 2, 3, 3}, 7);
	pad_case("wrap", (const int64_t[]){0, 2, 0, 1}, (const float[]){2, 3, 0, 1, 2, 3, 0}, 7);
	pad_case("constant", (const int64_t[]){0, -1, 0, 2}, (const float[]){1, 2, 3, 0, 0}, 5);
	pad_case("reflect", (const int64_t[]){0, -2, 0, 1}, (const float[]){2, 3, 2}, 3);
}

static void resize_case(const char *mode, const float *want)
{
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "1,1,1,2");
	float sc[4] = {1, 1, 1, 2};
	mb_init_f32(b, "s", "4", sc, 4);
	a_str(b, mb_node(b, "Resize", "rz", "X,,s", "Y"), "mode", mode);
	mb_output(b, "Y");
	eval_check(b, iota, NULL, 0, want, 4);
}

/* half_pixel: outputs 0..3 sample 2 * (-0.25, 0.25, 0.75, 1.25) / 2. */
static void test_resize(void **state)
{
	(void)state;
	resize_case("nearest", (const float[]){0, 0, 1, 1});
	resize_case("linear", (const float[]){0, 0.25f, 0.75f, 1});
	/* Upsample (opset 9): asymmetric, nearest rounds down */
	MB *b = mb_new(9);
	mb_input(b, "X", F32, "1,3");
	float sc[2] = {1, 2};
	mb_init_f32(b, "s", "2", sc, 2);
	mb_node(b, "Upsample", "up", "X,s", "Y");
	mb_output(b, "Y");
	eval_check(b, iota, NULL, 0, (const float[]){0, 0, 1, 1, 2, 2}, 6);
}

static void test_split_tile(void **state)
{
	(void)state;
	for (int k = 0; k < 3; k++) { /* 7 into 3 at opset 18: 3, 3, 1 */
		MB *b = mb_new(18);
		mb_input(b, "X", F32, "7");
		a_int(b, mb_node(b, "Split", "sp", "X", "A,B,C"), "num_outputs", 3);
		mb_output(b, "A");
		mb_output(b, "B");
		mb_output(b, "C");
		eval_check(b, iota, NULL, k, iota + 3 * k, k < 2 ? 3 : 1);
	}
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "1,2");
	mb_init_i64(b, "r", "2", INTS(2, 2));
	mb_node(b, "Tile", "t", "X,r", "Y");
	mb_output(b, "Y");
	eval_check(b, iota, NULL, 0, (const float[]){0, 1, 0, 1, 0, 1, 0, 1}, 8);
}

static void d2s_case(const char *mode, const float *want)
{
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "1,8,1,1");
	Onnx__NodeProto *n = mb_node(b, "DepthToSpace", "d2s", "X", "Y");
	a_int(b, n, "blocksize", 2);
	a_str(b, n, "mode", mode);
	mb_output(b, "Y");
	eval_check(b, iota, NULL, 0, want, 8);
}

static void test_depth_to_space(void **state)
{
	(void)state;
	d2s_case("DCR", (const float[]){0, 2, 4, 6, 1, 3, 5, 7});
	d2s_case("CRD", (const float[]){0, 1, 2, 3, 4, 5, 6, 7});
	MB *b = mb_new(13); /* and back */
	mb_input(b, "X", F32, "1,1,2,2");
	a_int(b, mb_node(b, "SpaceToDepth", "s2d", "X", "Y"), "blocksize", 2);
	mb_output(b, "Y");
	eval_check(b, iota, NULL, 0, iota, 4);
}

static void test_compress_reverse(void **state)
{
	(void)state;
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "5");
	Onnx__TensorProto *c = mb_tensor(b, "c", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, "5",
		(const uint8_t[]){1, 0, 1, 0, 0}, 5, 1);
	mb_init(b, c);
	mb_node(b, "Compress", "cp", "X,c", "Y");
	mb_output(b, "Y");
	eval_check(b, iota, NULL, 0, (const float[]){0, 2}, 2);
	/* lengths fed at run time */
	b = mb_new(13);
	mb_input(b, "X", F32, "3,2");
	mb_input(b, "L", I64, "2");
	mb_node(b, "ReverseSequence", "rs", "X,L", "Y");
	mb_output(b, "Y");
	eval_check(b, iota, (const int64_t[]){2, 3}, 0, (const float[]){2, 5, 0, 3, 4, 1}, 6);
}

static void test_range(void **state)
{
	(void)state;
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "1");
	float st = 1, lim = 10, dl = 3;
	mb_init_f32(b, "s", "", &st, 1);
	mb_init_f32(b, "l", "", &lim, 1);
	mb_init_f32(b, "d", "", &dl, 1);
	mb_node(b, "Range", "rg", "s,l,d", "R");
	mb_node(b, "Add", "add", "R,X", "Y");
	mb_output(b, "Y");
	eval_check(b, iota, NULL, 0, (const float[]){1, 4, 7}, 3);
}

/* Trilu's k fed at run time (it decides no shape): selection by indexing. */
static void test_trilu_runtime_k(void **state)
{
	(void)state;
	for (int upper = 0; upper <= 1; upper++) {
		MB *b = mb_new(14);
		mb_input(b, "X", F32, "2,3");
		mb_input(b, "k", I64, "");
		a_int(b, mb_node(b, "Trilu", "tr", "X,k", "Y"), "upper", upper);
		mb_output(b, "Y");
		if (upper) /* j - i >= 1 */
			eval_check(b, iota, (const int64_t[]){1}, 0, (const float[]){0, 1, 2, 0, 0, 5}, 6);
		else /* j - i <= 0 */
			eval_check(b, iota, (const int64_t[]){0}, 0, (const float[]){0, 0, 0, 3, 4, 0}, 6);
	}
}

/* Axes computed from constants and a static shape, as ONNX's expanded
 * functions do, fold at import: Range(Identity(0), Size(Shape(X)), 1). */
static void test_fold_at_import(void **state)
{
	(void)state;
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "2,3");
	mb_init_i64(b, "zero", "", INTS(0));
	mb_init_i64(b, "one", "", INTS(1));
	mb_node(b, "Shape", "sh", "X", "S");
	mb_node(b, "Size", "sz", "S", "R");
	mb_node(b, "Identity", "id", "zero", "Z");
	mb_node(b, "Range", "rg", "Z,R,one", "A");
	a_int(b, mb_node(b, "ReduceSum", "rs", "X,A", "Y"), "keepdims", 0);
	mb_output(b, "Y");
	eval_check(b, iota, NULL, 0, (const float[]){15}, 1);
}

/* Inputs that decide an output shape must be constants. */
static void test_not_constant(void **state)
{
	(void)state;
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "4");
	mb_input(b, "s", I64, "1");
	mb_input(b, "e", I64, "1");
	mb_node(b, "Slice", "sl", "X,s,e", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"sl\" (Slice)", "input 1 (starts, \"s\") must be a constant");
	b = mb_new(13);
	mb_input(b, "X", F32, "1,1,2,2");
	mb_input(b, "s", F32, "4");
	mb_node(b, "Resize", "rz", "X,,s", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"rz\" (Resize)", "input 2 (scales, \"s\") must be a constant");
	b = mb_new(13);
	mb_input(b, "X", F32, "2");
	mb_input(b, "r", I64, "1");
	mb_node(b, "Tile", "tl", "X,r", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"tl\" (Tile)", "must be a constant");
	b = mb_new(13); /* both scales and sizes */
	mb_input(b, "X", F32, "1,1,2,2");
	float sc[4] = {1, 1, 2, 2};
	mb_init_f32(b, "s", "4", sc, 4);
	mb_init_i64(b, "z", "4", INTS(1, 1, 4, 4));
	mb_node(b, "Resize", "rz2", "X,,s,z", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"rz2\" (Resize)", "exactly one of scales and sizes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pad_modes),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_split_tile),
		cmocka_unit_test(test_depth_to_space),
		cmocka_unit_test(test_compress_reverse),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_fold_at_import),
		cmocka_unit_test(test_trilu_runtime_k),
		cmocka_unit_test(test_not_constant),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
