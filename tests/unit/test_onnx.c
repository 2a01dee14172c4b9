/* test_onnx.c — the ONNX frontend on valid models: each model is built in
 * C (onnx_build.h), loaded with fe_onnx_load, and the graph checked: ops,
 * attributes, shapes, constant data, names. */
#include "onnx_build.h"

static void test_gemm(void **state)
{
	(void)state;
	MB *b = mb_new(13);
	mb_input(b, "A", F32, "N,4");
	float w[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, c[3] = {1, 2, 3};
	mb_init(b, mb_tensor(b, "B", F32, "3,4", w, 12, 0));
	mb_init_f32(b, "C", "3", c, 3);
	Onnx__NodeProto *n = mb_node(b, "Gemm", "gemm0", "A,B,C", "Y");
	a_int(b, n, "transB", 1);
	a_float(b, n, "alpha", 2.0f);
	a_float(b, n, "beta", 0.5f);
	mb_node(b, "Gemm", "plain", "A,B", "Z");
	a_int(b, b->node[1], "transB", 1);
	mb_output(b, "Y");
	mb_output(b, "Z");
	Graph *g = load_ok(b);

	assert_int_equal(g->ninput, 1);
	assert_string_equal(g->val[g->input[0]].name, "A");
	const Value *bw = value(g, "B");
	assert_int_equal(bw->kind, VK_CONST);
	assert_true(bw->param);
	assert_int_equal(bw->nbytes, 48);
	assert_true(f32_at(bw, 11) == 12.0f);

	/* Y = add(mul(matmul(A, B^T), 2), mul(C, 0.5)) */
	const Node *add = node_of(g, "Y");
	assert_int_equal(add->op, OP_ADD);
	assert_string_equal(add->name, "gemm0");
	const Value *lhs = in_val(g, add, 0), *rhs = in_val(g, add, 1);
	const Node *ma = &g->node[lhs->def];
	assert_int_equal(ma->op, OP_MUL);
	const Value *alpha = in_val(g, ma, 1);
	assert_int_equal(alpha->kind, VK_CONST);
	assert_false(alpha->param);
	assert_int_equal(alpha->shape.rank, 0);
	assert_true(f32_at(alpha, 0) == 2.0f);
	const Node *mm = &g->node[in_val(g, ma, 0)->def];
	assert_int_equal(mm->op, OP_MATMUL);
	assert_int_equal(ir_attr_int(mm, "trans_b", 0), 1);
	assert_int_equal(ir_attr_int(mm, "trans_a", 0), 0);
	const Node *mb = &g->node[rhs->def];
	assert_int_equal(mb->op, OP_MUL);
	assert_string_equal(in_val(g, mb, 0)->name, "C");
	assert_true(f32_at(in_val(g, mb, 1), 0) == 0.5f);
	assert_shape(g, "Y", "[N, 3]");
	assert_int_equal(value(g, "Y")->dtype, DT_F32);

	/* alpha = beta = 1 and no C: a bare matmul carries the ONNX name */
	assert_int_equal(node_of(g, "Z")->op, OP_MATMUL);
	assert_shape(g, "Z", "[N, 3]");
	assert_int_equal(count_op(g, OP_MATMUL), 2);
	assert_int_equal(count_op(g, OP_MUL), 2);
	assert_int_equal(g->noutput, 2);
	assert_string_equal(g->val[g->output[0]].name, "Y");
	ir_graph_free(g);
}

static void test_conv_auto_pad(void **state)
{
	(void)state;
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "1,3,8,8");
	float w[4 * 3 * 3 * 3] = {0}, bias[4] = {0};
	mb_init_f32(b, "W", "4,3,3,3", w, 108);
	mb_init_f32(b, "Bias", "4", bias, 4);
	Onnx__NodeProto *n = mb_node(b, "Conv", "up", "X,W,Bias", "Y1");
	a_str(b, n, "auto_pad", "SAME_UPPER");
	a_ints(b, n, "strides", INTS(2, 2));
	n = mb_node(b, "Conv", "low", "X,W", "Y2");
	a_str(b, n, "auto_pad", "SAME_LOWER");
	a_ints(b, n, "strides", INTS(2, 2));
	n = mb_node(b, "Conv", "valid", "X,W,", "Y3");
	a_str(b, n, "auto_pad", "VALID");
	n = mb_node(b, "Conv", "dil", "X,W", "Y4");
	a_ints(b, n, "kernel_shape", INTS(3, 3));
	a_ints(b, n, "pads", INTS(1, 1, 1, 1));
	a_ints(b, n, "dilations", INTS(2, 2));
	mb_output(b, "Y1");
	mb_output(b, "Y2");
	mb_output(b, "Y3");
	mb_output(b, "Y4");
	Graph *g = load_ok(b);
	/* 8 wide, stride 2, kernel 3: 4 outputs need 3*2+3 = 9 inputs, 1 pad */
	const Node *c = node_of(g, "Y1");
	assert_int_equal(c->op, OP_CONV);
	assert_int_equal(c->nin, 3);
	assert_attr_ints(c, "pads", INTS(0, 0, 1, 1));
	assert_attr_ints(c, "strides", INTS(2, 2));
	assert_shape(g, "Y1", "[1, 4, 4, 4]");
	c = node_of(g, "Y2");
	assert_int_equal(c->nin, 2);
	assert_attr_ints(c, "pads", INTS(1, 1, 0, 0));
	assert_shape(g, "Y2", "[1, 4, 4, 4]");
	c = node_of(g, "Y3");
	assert_int_equal(c->nin, 2); /* empty bias name = omitted */
	assert_attr_ints(c, "pads", INTS(0, 0, 0, 0));
	assert_shape(g, "Y3", "[1, 4, 6, 6]");
	c = node_of(g, "Y4");
	assert_attr_ints(c, "dilations", INTS(2, 2));
	assert_shape(g, "Y4", "[1, 4, 6, 6]");
	assert_int_equal(ir_attr_int(c, "group", 0), 1);
	ir_graph_free(g);
}

static void test_clip(void **state)
{
	(void)state;
	MB *b = mb_new(11);
	mb_input(b, "X", F32, "2,3");
	float lo = 0, hi = 6;
	mb_init_f32(b, "lo", "", &lo, 1);
	mb_init_f32(b, "hi", "", &hi, 1);
	mb_node(b, "Clip", "both", "X,lo,hi", "Y");
	mb_node(b, "Clip", "maxonly", "X,,hi", "Z");
	mb_output(b, "Y");
	mb_output(b, "Z");
	Graph *g = load_ok(b);
	const Node *c = node_of(g, "Y");
	assert_int_equal(c->op, OP_CLIP);
	assert_int_equal(c->nin, 1);
	assert_true(ir_attr_float(c, "min", -1) == 0.0);
	assert_true(ir_attr_float(c, "max", -1) == 6.0);
	c = node_of(g, "Z");
	assert_null(ir_attr(c, "min"));
	assert_true(ir_attr_float(c, "max", -1) == 6.0);
	assert_shape(g, "Z", "[2, 3]");
	ir_graph_free(g);

	/* before opset 11: attributes */
	b = mb_new(6);
	mb_input(b, "X", F32, "2,3");
	Onnx__NodeProto *n = mb_node(b, "Clip", "c6", "X", "Y");
	a_float(b, n, "min", -1.5f);
	a_float(b, n, "max", 1.5f);
	mb_output(b, "Y");
	g = load_ok(b);
	assert_true(ir_attr_float(node_of(g, "Y"), "min", 0) == -1.5);
	assert_true(ir_attr_float(node_of(g, "Y"), "max", 0) == 1.5);
	ir_graph_free(g);

	/* min computed at run time: max(x, min), the bound a run-time tensor */
	b = mb_new(11);
	mb_input(b, "X", F32, "2,3");
	mb_input(b, "M", F32, "");
	mb_node(b, "Clip", "dyn", "X,M", "Y");
	mb_output(b, "Y");
	g = load_ok(b);
	assert_int_equal(node_of(g, "Y")->op, OP_MAX);
	assert_int_equal(count_op(g, OP_CLIP), 0);
	assert_shape(g, "Y", "[2, 3]");
	ir_graph_free(g);
	/* a run-time bound of another type: an error naming the node */
	b = mb_new(11);
	mb_input(b, "X", F32, "2,3");
	mb_input(b, "M", ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE, "");
	mb_node(b, "Clip", "dyn", "X,,M", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"dyn\" (Clip)", "max has type f64; expected f32");
}

static void test_softmax_opsets(void **state)
{
	(void)state;
	/* opset 11, axis 1 of a 3-D input: flatten, softmax on the last axis, reshape */
	MB *b = mb_new(11);
	mb_input(b, "X", F32, "2,3,4");
	mb_input(b, "S", F32, "N,3,4");
	mb_input(b, "Z", F32, "2,5");
	a_int(b, mb_node(b, "Softmax", "sm", "X", "Y"), "axis", 1);
	a_int(b, mb_node(b, "LogSoftmax", "lsm", "S", "T"), "axis", 1);
	mb_node(b, "Softmax", "last", "Z", "U"); /* default axis 1 == rank-1 */
	mb_output(b, "Y");
	mb_output(b, "T");
	mb_output(b, "U");
	Graph *g = load_ok(b);
	const Node *r = node_of(g, "Y");
	assert_int_equal(r->op, OP_RESHAPE);
	assert_attr_ints(r, "shape", INTS(2, 3, 4));
	const Node *s = &g->node[in_val(g, r, 0)->def];
	assert_int_equal(s->op, OP_SOFTMAX);
	assert_int_equal(ir_attr_int(s, "axis", 0), -1);
	const Node *f = &g->node[in_val(g, s, 0)->def];
	assert_int_equal(f->op, OP_FLATTEN);
	assert_int_equal(ir_attr_int(f, "axis", 0), 1);
	assert_shape(g, "Y", "[2, 3, 4]");
	r = node_of(g, "T");
	assert_int_equal(r->op, OP_RESHAPE);
	assert_attr_ints(r, "shape", INTS(-1, 3, 4));
	assert_int_equal(g->node[in_val(g, r, 0)->def].op, OP_LOGSOFTMAX);
	assert_shape(g, "T", "[N, 3, 4]");
	s = node_of(g, "U");
	assert_int_equal(s->op, OP_SOFTMAX);
	assert_int_equal(ir_attr_int(s, "axis", 0), -1);
	assert_int_equal(count_op(g, OP_SOFTMAX), 2);
	ir_graph_free(g);

	/* opset 13: one node along the axis, default -1 */
	b = mb_new(13);
	mb_input(b, "X", F32, "2,3,4");
	a_int(b, mb_node(b, "Softmax", "sm", "X", "Y"), "axis", 1);
	mb_node(b, "Softmax", "dflt", "X", "Z");
	mb_output(b, "Y");
	mb_output(b, "Z");
	g = load_ok(b);
	assert_int_equal(g->nnode, 2);
	assert_int_equal(ir_attr_int(node_of(g, "Y"), "axis", 0), 1);
	assert_int_equal(ir_attr_int(node_of(g, "Z"), "axis", 0), -1);
	assert_shape(g, "Y", "[2, 3, 4]");
	ir_graph_free(g);
}

static void test_initializer_encodings(void **state)
{
	(void)state;
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "2");
	float fv[3] = {1.5f, -2.0f, 3.25f};
	mb_init(b, mb_tensor(b, "raw", F32, "3", fv, 3, 1));
	mb_init(b, mb_tensor(b, "typed", F32, "3", fv, 3, 0));
	int64_t iv[2] = {-7, 1LL << 40};
	mb_init(b, mb_tensor(b, "i64", I64, "2", iv, 2, 0));
	int32_t i8v[3] = {-3, 127, 5};
	mb_init(b, mb_tensor(b, "i8", ONNX__TENSOR_PROTO__DATA_TYPE__INT8, "3", i8v, 3, 0));
	int32_t hv[2] = {0x3C00, 0xC000}; /* f16 1.0, -2.0 as bits */
	mb_init(b, mb_tensor(b, "f16", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16, "2", hv, 2, 0));
	int32_t bv[2] = {0, 5};
	mb_init(b, mb_tensor(b, "flags", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, "1,2", bv, 2, 0));
	double dv[1] = {0.125};
	mb_init(b, mb_tensor(b, "f64", ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE, "", dv, 1, 0));
	mb_init(b, mb_tensor(b, "empty", F32, "0,4", NULL, 0, 0));
	mb_node(b, "Relu", NULL, "X", "Y");
	mb_output(b, "Y");
	Graph *g = load_ok(b);
	const Value *raw = value(g, "raw"), *typed = value(g, "typed");
	assert_int_equal(raw->nbytes, 12);
	assert_int_equal(typed->nbytes, 12);
	assert_memory_equal(raw->data, fv, 12);
	assert_memory_equal(typed->data, fv, 12);
	assert_true(typed->param);
	const Value *v = value(g, "i64");
	assert_int_equal(v->dtype, DT_I64);
	assert_memory_equal(v->data, iv, 16);
	v = value(g, "i8");
	assert_int_equal(v->dtype, DT_I8);
	assert_int_equal(v->nbytes, 3);
	assert_int_equal(((const int8_t *)v->data)[0], -3);
	assert_int_equal(((const int8_t *)v->data)[1], 127);
	v = value(g, "f16");
	assert_int_equal(v->dtype, DT_F16);
	uint16_t h[2];
	memcpy(h, v->data, 4);
	assert_int_equal(h[0], 0x3C00);
	assert_int_equal(h[1], 0xC000);
	v = value(g, "flags");
	assert_int_equal(v->dtype, DT_BOOL);
	assert_int_equal(((const uint8_t *)v->data)[1], 1);
	assert_int_equal(v->shape.rank, 2);
	v = value(g, "f64");
	assert_int_equal(v->shape.rank, 0);
	assert_true(*(const double *)v->data == 0.125);
	v = value(g, "empty");
	assert_int_equal(v->nbytes, 0);
	assert_shape(g, "empty", "[0, 4]");
	assert_string_equal(g->node[0].name, "Relu_0"); /* unnamed node */
	ir_graph_free(g);
}

static void test_dim_param(void **state)
{
	(void)state;
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "N,3,?,W");
	mb_input(b, "X2", F32, "N");
	mb_input(b, "R", F32, NULL);
	mb_node(b, "Relu", "r", "X", "Y");
	mb_node(b, "Neg", "n", "R", "Z");
	mb_output(b, "Y");
	mb_output(b, "Z");
	mb_output(b, "X2");
	Graph *g = load_ok(b);
	assert_int_equal(g->ninput, 3);
	const Value *x = value(g, "X");
	assert_int_equal(x->kind, VK_INPUT);
	assert_int_equal(x->shape.rank, 4);
	assert_true(x->shape.d[0].sym > 0);
	assert_string_equal(g->sym[x->shape.d[0].sym], "N");
	assert_int_equal(x->shape.d[1].n, 3);
	assert_int_equal(x->shape.d[1].sym, 0);
	assert_int_equal(x->shape.d[2].n, -1);
	assert_int_equal(x->shape.d[2].sym, 0);
	assert_string_equal(g->sym[x->shape.d[3].sym], "W");
	assert_int_equal(value(g, "X2")->shape.d[0].sym, x->shape.d[0].sym);
	assert_shape(g, "Y", "[N, 3, ?, W]");
	assert_int_equal(value(g, "R")->shape.rank, -1);
	assert_int_equal(value(g, "X2")->kind, VK_INPUT);
	assert_int_equal(g->output[2], ir_find_value(g, "X2")); /* an input as an output */
	ir_graph_free(g);
}

static void test_constants_and_names(void **state)
{
	(void)state;
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "2,6");
	mb_input(b, "W", F32, "6"); /* also an initializer: a constant */
	float w[6] = {1, 2, 3, 4, 5, 6};
	mb_init_f32(b, "W", "6", w, 6);
	a_ints(b, mb_node(b, "Constant", "c1", "", "shape"), "value_ints", INTS(3, -1));
	a_float(b, mb_node(b, "Constant", "c2", "", "half"), "value_float", 0.5f);
	float two[2] = {2, 2};
	a_tensor(b, mb_node(b, "Constant", "c3", "", "t"), "value", mb_tensor(b, "", F32, "2", two, 2, 0));
	mb_node(b, "Mul", "m", "X,W", "xw");
	mb_node(b, "Mul", "m2", "xw,half", "xh");
	mb_node(b, "Reshape", "rs", "xh,shape", "Y");
	mb_node(b, "Dropout", "drop", "Y", "Z,unused_mask");
	mb_output(b, "Z");
	Diag d;
	size_t len;
	uint8_t *buf = mb_pack(b, &len);
	mb_free(b);
	diag_init(&d);
	Graph *g = fe_onnx_load_mem(buf, len, "models/3d-net.v1.onnx", &d);
	free(buf);
	if (!g)
		fail_msg("%s", d.msg);
	assert_string_equal(g->name, "m3d_net_v1");
	assert_int_equal(g->ninput, 1); /* W is not an input */
	assert_int_equal(value(g, "W")->kind, VK_CONST);
	assert_true(value(g, "W")->param);
	const Value *s = value(g, "shape");
	assert_int_equal(s->kind, VK_CONST);
	assert_false(s->param);
	assert_int_equal(s->dtype, DT_I64);
	assert_shape(g, "shape", "[2]");
	const Value *h = value(g, "half");
	assert_int_equal(h->shape.rank, 0);
	assert_true(f32_at(h, 0) == 0.5f);
	assert_true(f32_at(value(g, "t"), 1) == 2.0f);
	const Node *r = node_of(g, "Y");
	assert_int_equal(r->op, OP_RESHAPE);
	assert_attr_ints(r, "shape", INTS(3, -1));
	assert_shape(g, "Y", "[3, 4]");
	const Node *z = node_of(g, "Z");
	assert_int_equal(z->op, OP_IDENTITY);
	assert_string_equal(z->name, "drop");
	assert_int_equal(ir_find_value(g, "unused_mask"), -1);
	ir_graph_free(g);
}

static void test_pool_reduce_pad(void **state)
{
	(void)state;
	MB *b = mb_new(18);
	mb_input(b, "X", F32, "1,2,4,4");
	Onnx__NodeProto *n = mb_node(b, "MaxPool", "mp", "X", "P,");
	a_ints(b, n, "kernel_shape", INTS(2, 2));
	a_ints(b, n, "strides", INTS(2, 2));
	n = mb_node(b, "AveragePool", "ap", "X", "A");
	a_ints(b, n, "kernel_shape", INTS(3, 3));
	a_ints(b, n, "pads", INTS(1, 1, 1, 1));
	a_int(b, n, "count_include_pad", 1);
	mb_node(b, "GlobalAveragePool", "gap", "X", "G");
	mb_init_i64(b, "pads", "2", INTS(1, 2));
	mb_init_i64(b, "axes", "1", INTS(-1));
	mb_node(b, "Pad", "pad", "X,pads,,axes", "Q");
	mb_init_i64(b, "rax", "1", INTS(1));
	a_int(b, mb_node(b, "ReduceSum", "rsum", "X,rax", "S"), "keepdims", 0);
	a_int(b, mb_node(b, "ReduceMean", "noop", "X", "M"), "noop_with_empty_axes", 1);
	mb_node(b, "ReduceMax", "all", "X", "AM");
	float s[2] = {1, 1};
	mb_init_f32(b, "s", "2", s, 2);
	mb_node(b, "BatchNormalization", "bn", "X,s,s,s,s", "BN");
	mb_output(b, "P");
	mb_output(b, "A");
	mb_output(b, "G");
	mb_output(b, "Q");
	mb_output(b, "S");
	mb_output(b, "M");
	mb_output(b, "AM");
	mb_output(b, "BN");
	Graph *g = load_ok(b);
	const Node *p = node_of(g, "P");
	assert_int_equal(p->op, OP_MAXPOOL);
	assert_attr_ints(p, "kernel", INTS(2, 2));
	assert_shape(g, "P", "[1, 2, 2, 2]");
	p = node_of(g, "A");
	assert_int_equal(p->op, OP_AVGPOOL);
	assert_int_equal(ir_attr_int(p, "count_include_pad", 0), 1);
	assert_shape(g, "A", "[1, 2, 4, 4]");
	p = node_of(g, "G");
	assert_int_equal(p->op, OP_REDUCE_MEAN);
	assert_attr_ints(p, "axes", INTS(2, 3));
	assert_shape(g, "G", "[1, 2, 1, 1]");
	p = node_of(g, "Q");
	assert_int_equal(p->op, OP_PAD);
	assert_attr_ints(p, "pads", INTS(0, 0, 0, 1, 0, 0, 0, 2));
	assert_shape(g, "Q", "[1, 2, 4, 7]");
	p = node_of(g, "S");
	assert_int_equal(p->op, OP_REDUCE_SUM);
	assert_attr_ints(p, "axes", INTS(1));
	assert_shape(g, "S", "[1, 4, 4]");
	assert_int_equal(node_of(g, "M")->op, OP_IDENTITY);
	assert_shape(g, "AM", "[1, 1, 1, 1]");
	p = node_of(g, "BN");
	assert_int_equal(p->op, OP_BATCHNORM);
	assert_int_equal(p->nin, 5);
	assert_true(ir_attr_float(p, "epsilon", 0) > 9e-6 && ir_attr_float(p, "epsilon", 0) < 1.1e-5);
	ir_graph_free(g);
}

/* PyTorch's x.view(x.size(0), -1) with a dynamic batch: Shape, Gather,
 * Unsqueeze (axes an input at opset 13), Concat and a Reshape whose shape
 * is computed: it imports as reshape_dyn, and shape inference still knows
 * the result is [N, 16]. Squeeze, Cast and the opset-11 attribute form of
 * Unsqueeze import too; bad forms fail naming the node. */
static void test_shape_chain(void **state)
{
	(void)state;
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "N,4,2,2");
	mb_node(b, "Shape", "shp", "X", "S");
	mb_init(b, mb_tensor(b, "zero", I64, "", INTS(0), 1));
	mb_node(b, "Gather", "gat", "S,zero", "G");
	mb_init_i64(b, "ax0", "1", INTS(0));
	mb_node(b, "Unsqueeze", "uns", "G,ax0", "U");
	mb_init_i64(b, "m1", "1", INTS(-1));
	a_int(b, mb_node(b, "Concat", "cat", "U,m1", "C"), "axis", 0);
	mb_node(b, "Reshape", "view", "X,C", "Y");
	a_int(b, mb_node(b, "Cast", "cast", "S", "F"), "to", F32);
	mb_init_i64(b, "ax13", "2", INTS(1, 3));
	mb_node(b, "Unsqueeze", "u2", "Y,ax13", "Y4");
	mb_node(b, "Squeeze", "sq", "Y4", "Q");
	mb_output(b, "Y");
	mb_output(b, "F");
	mb_output(b, "Q");
	Graph *g = load_ok(b);
	assert_int_equal(node_of(g, "S")->op, OP_SHAPE);
	assert_shape(g, "S", "[4]");
	assert_int_equal(value(g, "S")->dtype, DT_I64);
	assert_int_equal(node_of(g, "G")->op, OP_GATHER);
	assert_shape(g, "G", "[]");
	assert_attr_ints(node_of(g, "U"), "axes", INTS(0));
	const Node *r = node_of(g, "Y");
	assert_int_equal(r->op, OP_RESHAPE_DYN);
	assert_int_equal(r->nin, 2);
	assert_string_equal(in_val(g, r, 1)->name, "C");
	assert_shape(g, "Y", "[N, 16]");
	const Node *c = node_of(g, "F");
	assert_int_equal(c->op, OP_CAST);
	assert_string_equal(ir_attr(c, "to")->s, "f32");
	assert_int_equal(value(g, "F")->dtype, DT_F32);
	assert_shape(g, "Y4", "[N, 1, 16, 1]");
	assert_int_equal(node_of(g, "Q")->op, OP_SQUEEZE);
	assert_null(ir_attr(node_of(g, "Q"), "axes"));
	assert_shape(g, "Q", "[*]"); /* N might be 1: which dims go is not known */
	ir_graph_free(g);

	b = mb_new(11); /* axes an attribute */
	mb_input(b, "X", F32, "3");
	a_ints(b, mb_node(b, "Unsqueeze", "u", "X", "Y"), "axes", INTS(0, 2));
	mb_output(b, "Y");
	g = load_ok(b);
	assert_shape(g, "Y", "[1, 3, 1]");
	ir_graph_free(g);

	b = mb_new(13);
	mb_input(b, "X", F32, "3");
	a_ints(b, mb_node(b, "Unsqueeze", "u_attr", "X", "Y"), "axes", INTS(0));
	mb_output(b, "Y");
	load_fails(b, "node \"u_attr\"", "axes is an input since opset 13");
	b = mb_new(13);
	mb_input(b, "X", F32, "3");
	a_int(b, mb_node(b, "Cast", "c_str", "X", "Y"), "to", 8); /* string */
	mb_output(b, "Y");
	load_fails(b, "node \"c_str\"", "cast to ONNX type 8 is unsupported");
	b = mb_new(13);
	mb_input(b, "X", F32, "2,3");
	mb_input(b, "S", I64, "2");
	a_int(b, mb_node(b, "Reshape", "rz", "X,S", "Y"), "allowzero", 1);
	mb_output(b, "Y");
	load_fails(b, "node \"rz\"", "allowzero=1 with a computed shape");
}

/* Garbage must fail cleanly: random bytes, a truncated model, every prefix
 * and single-byte corruption of a model, and absurd nesting. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gemm),
		cmocka_unit_test(test_conv_auto_pad),
		cmocka_unit_test(test_clip),
		cmocka_unit_test(test_softmax_opsets),
		cmocka_unit_test(test_initializer_encodings),
		cmocka_unit_test(test_dim_param),
		cmocka_unit_test(test_constants_and_names),
		cmocka_unit_test(test_pool_reduce_pad),
		cmocka_unit_test(test_shape_chain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
