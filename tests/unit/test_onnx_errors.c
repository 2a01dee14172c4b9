/* test_onnx_errors.c — the ONNX frontend on malformed and unsupported
 * models: loading fails with a message naming the file, the node and the
 * reason, and never crashes (truncations, flipped bytes, deep nesting). */
#include "onnx_build.h"

static void test_bad_tensors(void **state)
{
	(void)state;
	float fv[4] = {0};
	/* raw_data of the wrong size */
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "2");
	Onnx__TensorProto *t = mb_init(b, mb_tensor(b, "W", F32, "2,2", fv, 4, 1));
	t->raw_data.len = 12;
	mb_node(b, "Relu", "r", "X", "Y");
	mb_output(b, "Y");
	load_fails(b, "tensor \"W\"", "raw_data holds 12 bytes");
	/* typed data count mismatch */
	b = mb_new(13);
	mb_input(b, "X", F32, "2");
	mb_init(b, mb_tensor(b, "W", F32, "3", fv, 2, 0));
	mb_node(b, "Relu", "r", "X", "Y");
	mb_output(b, "Y");
	load_fails(b, "tensor \"W\"", "float_data holds 2 values");
	/* negative dim */
	b = mb_new(13);
	mb_input(b, "X", F32, "2");
	mb_init(b, mb_tensor(b, "W", F32, "-1", fv, 0, 1));
	mb_node(b, "Relu", "r", "X", "Y");
	mb_output(b, "Y");
	load_fails(b, "tensor \"W\"", "negative dimension");
	/* element count overflow */
	b = mb_new(13);
	mb_input(b, "X", F32, "2");
	mb_init(b, mb_tensor(b, "W", F32, "4294967296,4294967296", fv, 0, 1));
	mb_node(b, "Relu", "r", "X", "Y");
	mb_output(b, "Y");
	load_fails(b, "tensor \"W\"", "overflows");
	/* external data */
	b = mb_new(13);
	mb_input(b, "X", F32, "2");
	t = mb_init(b, mb_tensor(b, "ext", F32, "2", fv, 2, 0));
	t->n_float_data = 0;
	t->has_data_location = 1;
	t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
	mb_node(b, "Relu", "r", "X", "Y");
	mb_output(b, "Y");
	load_fails(b, "tensor \"ext\"", "external data");
	/* negative input dim */
	b = mb_new(13);
	mb_input(b, "X", F32, "2,-3");
	mb_node(b, "Relu", "r", "X", "Y");
	mb_output(b, "Y");
	load_fails(b, "graph input \"X\"", "negative dimension");
	/* unsupported element type */
	b = mb_new(13);
	mb_input(b, "X", ONNX__TENSOR_PROTO__DATA_TYPE__STRING, "2");
	mb_node(b, "Identity", "r", "X", "Y");
	mb_output(b, "Y");
	load_fails(b, "graph input \"X\"", "string is unsupported");
}

static void test_unsupported_ops(void **state)
{
	(void)state;
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "2,3");
	mb_node(b, "StringNormalizer", "/text/norm", "X", "h");
	mb_node(b, "Foo", "a", "h", "y1");
	mb_node(b, "Relu", "ok", "y1", "y2");
	mb_node(b, "Foo", "b", "y2", "y3");
	mb_node(b, "Bar", NULL, "y3", "y4")->domain = mb_str(b, "com.example");
	mb_output(b, "y4");
	Diag d;
	Graph *g = load(b, &d);
	assert_null(g);
	assert_int_equal(d.nerr, 1);
	char want[256];
	snprintf(want, sizeof want, "%s: unsupported operators: StringNormalizer (node \"/text/norm\"), "
		"Foo (nodes \"a\", \"b\"), com.example.Bar (node \"Bar_4\")", path);
	if (!strstr(d.msg, want))
		fail_msg("got: %s", d.msg);
}

static void test_unsupported_attrs(void **state)
{
	(void)state;
	/* Conv 4-D */
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "1,3,4,4,4,4");
	float w[12] = {0};
	mb_init_f32(b, "W", "4,3,1,1,1,1", w, 12);
	mb_node(b, "Conv", "conv4d", "X,W", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"conv4d\" (Conv)", "only 1-D, 2-D and 3-D windows");
	/* Pad reflect wider than the axis (numpy would reflect repeatedly) */
	b = mb_new(13);
	mb_input(b, "X", F32, "1,3");
	mb_init_i64(b, "p", "4", INTS(0, 3, 0, 1));
	a_str(b, mb_node(b, "Pad", "pr", "X,p", "Y"), "mode", "reflect");
	mb_output(b, "Y");
	load_fails(b, "node \"pr\" (Pad)", "reflect padding of 3 exceeds");
	/* BatchNormalization training_mode over a 1-D input (no channel axis) */
	b = mb_new(15);
	mb_input(b, "X", F32, "4");
	mb_input(b, "s", F32, "2");
	a_int(b, mb_node(b, "BatchNormalization", "bn", "X,s,s,s,s", "Y"), "training_mode", 1);
	mb_output(b, "Y");
	load_fails(b, "node \"bn\"", "rank >= 2");
	/* BatchNormalization at opset 13 training (its five outputs) with
	 * saved_mean read */
	b = mb_new(13);
	mb_input(b, "X", F32, "2,2");
	mb_input(b, "s", F32, "2");
	mb_node(b, "BatchNormalization", "bn9", "X,s,s,s,s", "Y,rm,rv,sm,sv");
	mb_output(b, "Y");
	mb_output(b, "sm");
	load_fails(b, "node \"bn9\" (BatchNormalization)", "output 3 (saved_mean");
	/* Dropout with its mask used */
	b = mb_new(13);
	mb_input(b, "X", F32, "4");
	mb_node(b, "Dropout", "drop", "X", "Y,mask");
	mb_output(b, "Y");
	mb_output(b, "mask");
	load_fails(b, "node \"drop\" (Dropout)", "mask");
	/* MaxPool Indices used */
	b = mb_new(13);
	mb_input(b, "X", F32, "1,1,4,4");
	a_ints(b, mb_node(b, "MaxPool", "mp", "X", "Y,I"), "kernel_shape", INTS(2, 2));
	mb_node(b, "Identity", "id", "I", "J");
	mb_output(b, "Y");
	mb_output(b, "J");
	load_fails(b, "node \"mp\" (MaxPool)", "Indices");
	/* Reshape allowzero with a zero */
	b = mb_new(14);
	mb_input(b, "X", F32, "2,3");
	mb_init_i64(b, "shp", "2", INTS(0, 3));
	a_int(b, mb_node(b, "Reshape", "rs", "X,shp", "Y"), "allowzero", 1);
	mb_output(b, "Y");
	load_fails(b, "node \"rs\" (Reshape)", "allowzero");
	/* Reshape with a run-time shape (reshape_dyn, test_shape_chain) of rank 2 */
	b = mb_new(13);
	mb_input(b, "X", F32, "2,3");
	mb_input(b, "shp", I64, "2,1");
	mb_node(b, "Reshape", "rs", "X,shp", "Y");
	mb_output(b, "Y");
	load_fails(b, "\"rs\"", "shape must be 1-D");
	/* unknown attribute, wrong attribute kind */
	b = mb_new(13);
	mb_input(b, "X", F32, "2,3");
	a_int(b, mb_node(b, "Relu", "r", "X", "Y"), "bogus", 1);
	mb_output(b, "Y");
	load_fails(b, "node \"r\" (Relu)", "unsupported attribute \"bogus\"");
	b = mb_new(13);
	mb_input(b, "X", F32, "2,3");
	a_int(b, mb_node(b, "LeakyRelu", "lr", "X", "Y"), "alpha", 1);
	mb_output(b, "Y");
	load_fails(b, "node \"lr\" (LeakyRelu)", "expected float");
	/* Mod with fmod=0 on floats (ONNX requires fmod=1 there) */
	b = mb_new(13);
	mb_input(b, "X", F32, "2,3");
	mb_node(b, "Mod", "md", "X,X", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"md\" (Mod)", "fmod=0 is defined for integer inputs only, not f32");
	/* wrong input count */
	b = mb_new(13);
	mb_input(b, "X", F32, "2,3");
	mb_node(b, "Add", "add", "X", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"add\" (Add)", "has 1 inputs; expected 2");
}

static void test_references(void **state)
{
	(void)state;
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "2");
	mb_node(b, "Relu", "r1", "nope", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"r1\" (Relu): input \"nope\" is not defined", NULL);
	/* two nodes define Y */
	b = mb_new(13);
	mb_input(b, "X", F32, "2");
	mb_node(b, "Relu", "r1", "X", "Y");
	mb_node(b, "Neg", "n1", "X", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"n1\" (Neg): output \"Y\" is already defined", NULL);
	/* duplicate initializer */
	b = mb_new(13);
	mb_input(b, "X", F32, "2");
	float f = 1;
	mb_init_f32(b, "W", "", &f, 1);
	mb_init_f32(b, "W", "", &f, 1);
	mb_node(b, "Relu", "r1", "X", "Y");
	mb_output(b, "Y");
	load_fails(b, "initializer \"W\" is defined twice", NULL);
	/* not in topological order */
	b = mb_new(13);
	mb_input(b, "X", F32, "2");
	mb_node(b, "Relu", "late", "T", "Y");
	mb_node(b, "Neg", "early", "X", "T");
	mb_output(b, "Y");
	load_fails(b, "node \"late\"", "topological order");
	/* undefined graph output, missing graph */
	b = mb_new(13);
	mb_input(b, "X", F32, "2");
	mb_node(b, "Relu", "r1", "X", "Y");
	mb_output(b, "Q");
	load_fails(b, "graph output \"Q\" is not defined", NULL);
	b = mb_new(13);
	b->model.graph = NULL;
	load_fails(b, "no graph", NULL);
	/* no opset for the default domain */
	b = mb_new(13);
	b->model.n_opset_import = 0;
	mb_input(b, "X", F32, "2");
	mb_node(b, "Relu", "r1", "X", "Y");
	mb_output(b, "Y");
	load_fails(b, "imports no opset version", NULL);
}

static void test_malformed_files(void **state)
{
	(void)state;
	MB *b = mb_new(13);
	mb_input(b, "A", F32, "N,4");
	float w[12] = {0};
	mb_init_f32(b, "B", "3,4", w, 12);
	a_int(b, mb_node(b, "Gemm", "gemm0", "A,B", "Y"), "transB", 1);
	mb_output(b, "Y");
	size_t len;
	uint8_t *model = mb_pack(b, &len);
	mb_free(b);
	Diag d;

	write_file(model, len / 2);
	diag_init(&d);
	assert_null(fe_onnx_load(path, &d));
	unlink(path);
	assert_non_null(strstr(d.msg, path));
	assert_non_null(strstr(d.msg, "not a valid ONNX model (protobuf parse failed)"));

	uint8_t junk[1000];
	srand(7);
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)rand();
	write_file(junk, sizeof junk);
	diag_init(&d);
	assert_null(fe_onnx_load(path, &d));
	unlink(path);
	assert_non_null(strstr(d.msg, path));
	assert_non_null(strstr(d.msg, "not a valid ONNX model"));

	diag_init(&d);
	assert_null(fe_onnx_load("/nonexistent/model.onnx", &d));
	assert_non_null(strstr(d.msg, "/nonexistent/model.onnx"));

	int ok = 0;
	for (size_t n = 0; n <= len; n++) {
		diag_init(&d);
		Graph *g = fe_onnx_load_mem(model, n, "prefix.onnx", &d);
		ok += g != NULL;
		assert_true(g != NULL || d.nerr > 0);
		ir_graph_free(g);
	}
	assert_true(ok >= 1); /* at least the whole model */
	uint8_t *bad = malloc(len);
	for (size_t i = 0; i < len; i++) {
		static const uint8_t flips[] = {0xff, 0x80, 0x01, 0x7f};
		for (size_t k = 0; k < sizeof flips; k++) {
			memcpy(bad, model, len);
			bad[i] ^= flips[k];
			diag_init(&d);
			Graph *g = fe_onnx_load_mem(bad, len, "flip.onnx", &d);
			assert_true(g != NULL || d.nerr > 0);
			ir_graph_free(g);
		}
	}
	free(bad);
	free(model);

	/* ModelProto.graph(7) > GraphProto.node(1) > NodeProto.attribute(5) >
	 * AttributeProto.g(6) > ... nested 100000 times, built from the inside out. */
	size_t cap = 4u << 20, pos = cap;
	uint8_t *deep = malloc(cap);
	static const uint8_t tags[3] = {6 << 3 | 2, 5 << 3 | 2, 1 << 3 | 2};
	for (int lvl = 0; lvl < 100000; lvl++) {
		size_t inner = cap - pos;
		uint8_t vb[10];
		int nv = 0;
		do {
			vb[nv++] = (uint8_t)((inner & 0x7f) | (inner > 0x7f ? 0x80 : 0));
			inner >>= 7;
		} while (inner);
		assert_true(pos > (size_t)nv + 1);
		pos -= (size_t)nv;
		memcpy(deep + pos, vb, (size_t)nv);
		deep[--pos] = lvl == 99999 ? (7 << 3 | 2) : tags[lvl % 3];
	}
	diag_init(&d);
	assert_null(fe_onnx_load_mem(deep + pos, cap - pos, "deep.onnx", &d));
	assert_non_null(strstr(d.msg, "deep.onnx: not a valid ONNX model"));
	free(deep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_tensors),
		cmocka_unit_test(test_unsupported_ops),
		cmocka_unit_test(test_unsupported_attrs),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_malformed_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
