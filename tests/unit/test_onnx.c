/* test_onnx.c — the ONNX frontend. Models are built in C with the
 * protobuf-c structs generated from onnx.proto, packed, written to a temp
 * file and loaded with fe_onnx_load; the tests check the graph (ops,
 * attributes, shapes, constant data, names) and, for malformed or
 * unsupported models, that loading fails with a message naming the file,
 * the node and the reason, and never crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/frontend.h"
#include "onnx.pb-c.h"

/* ---- model builder ---------------------------------------------------------- */

enum { MB_MAX = 64, MB_MEM = 4096 };

typedef struct MB {
	Onnx__ModelProto model;               /* what gets packed */
	Onnx__GraphProto graph;               /* model.graph */
	Onnx__OperatorSetIdProto opset;       /* the default domain's version */
	Onnx__OperatorSetIdProto *opsets[1];  /* model.opset_import */
	Onnx__NodeProto *node[MB_MAX];        /* graph.node */
	Onnx__ValueInfoProto *input[MB_MAX];  /* graph.input */
	Onnx__ValueInfoProto *output[MB_MAX]; /* graph.output */
	Onnx__TensorProto *init[MB_MAX];      /* graph.initializer */
	void *mem[MB_MEM];                    /* every allocation, freed by mb_free */
	int nmem;                             /* entries of mem used */
} MB;

static char path[64]; /* the last model file written */

static void *mb_alloc(MB *b, size_t n)
{
	void *p = calloc(1, n ? n : 1);
	assert_non_null(p);
	assert_true(b->nmem < MB_MEM);
	b->mem[b->nmem++] = p;
	return p;
}

static char *mb_str(MB *b, const char *s)
{
	return strcpy(mb_alloc(b, strlen(s) + 1), s);
}

static void *mb_dup(MB *b, const void *data, size_t n)
{
	void *p = mb_alloc(b, n);
	if (n)
		memcpy(p, data, n);
	return p;
}

/* Splits "a,b,,c" into strings (empty entries kept); *n gets the count. */
static char **mb_split(MB *b, const char *s, size_t *n)
{
	*n = 0;
	if (!s || !*s)
		return NULL;
	char **v = mb_alloc(b, (strlen(s) + 2) * sizeof *v);
	const char *p = s;
	for (;;) {
		size_t k = strcspn(p, ",");
		char *e = mb_alloc(b, k + 1);
		memcpy(e, p, k);
		v[(*n)++] = e;
		if (!p[k])
			break;
		p += k + 1;
	}
	return v;
}

static MB *mb_new(int64_t opset)
{
	MB *b = calloc(1, sizeof *b);
	assert_non_null(b);
	onnx__model_proto__init(&b->model);
	onnx__graph_proto__init(&b->graph);
	onnx__operator_set_id_proto__init(&b->opset);
	b->model.has_ir_version = 1;
	b->model.ir_version = 8;
	b->opset.domain = mb_str(b, "");
	b->opset.has_version = 1;
	b->opset.version = opset;
	b->opsets[0] = &b->opset;
	b->model.n_opset_import = 1;
	b->model.opset_import = b->opsets;
	b->model.graph = &b->graph;
	b->graph.name = mb_str(b, "g");
	b->graph.node = b->node;
	b->graph.input = b->input;
	b->graph.output = b->output;
	b->graph.initializer = b->init;
	return b;
}

static void mb_free(MB *b)
{
	for (int i = 0; i < b->nmem; i++)
		free(b->mem[i]);
	free(b);
}

/* A tensor-typed value info; dims like "N,3,?,224" (NULL: no shape). */
static Onnx__ValueInfoProto *mb_vi(MB *b, const char *name, int elem, const char *dims)
{
	Onnx__ValueInfoProto *vi = mb_alloc(b, sizeof *vi);
	onnx__value_info_proto__init(vi);
	vi->name = mb_str(b, name);
	if (elem < 0)
		return vi;
	Onnx__TypeProto *tp = mb_alloc(b, sizeof *tp);
	onnx__type_proto__init(tp);
	Onnx__TypeProto__Tensor *tt = mb_alloc(b, sizeof *tt);
	onnx__type_proto__tensor__init(tt);
	tt->has_elem_type = 1;
	tt->elem_type = elem;
	tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	tp->tensor_type = tt;
	vi->type = tp;
	if (!dims)
		return vi;
	Onnx__TensorShapeProto *sp = mb_alloc(b, sizeof *sp);
	onnx__tensor_shape_proto__init(sp);
	size_t n = 0;
	char **tok = mb_split(b, dims, &n);
	sp->n_dim = n;
	sp->dim = mb_alloc(b, (n + 1) * sizeof *sp->dim);
	for (size_t i = 0; i < n; i++) {
		Onnx__TensorShapeProto__Dimension *d = mb_alloc(b, sizeof *d);
		onnx__tensor_shape_proto__dimension__init(d);
		if ((tok[i][0] >= '0' && tok[i][0] <= '9') || tok[i][0] == '-') {
			d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
			d->dim_value = strtoll(tok[i], NULL, 10);
		} else if (strcmp(tok[i], "?") != 0) {
			d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
			d->dim_param = tok[i];
		}
		sp->dim[i] = d;
	}
	tt->shape = sp;
	return vi;
}

static void mb_input(MB *b, const char *name, int elem, const char *dims)
{
	assert_true(b->graph.n_input < MB_MAX);
	b->input[b->graph.n_input++] = mb_vi(b, name, elem, dims);
}

static void mb_output(MB *b, const char *name)
{
	assert_true(b->graph.n_output < MB_MAX);
	b->output[b->graph.n_output++] = mb_vi(b, name, -1, NULL);
}

static size_t esize(int type)
{
	switch (type) {
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
	case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return 8;
	case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
	case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: return 2;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
	case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
	case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return 1;
	default: return 4;
	}
}

/* A tensor of n values. raw: data holds n elements of the type, stored as
 * raw_data. Typed: float/int64/double arrays for those types, int32_t for
 * the rest (the int32_data rule). dims like "2,3"; "" is a scalar. */
static Onnx__TensorProto *mb_tensor(MB *b, const char *name, int type, const char *dims,
	const void *data, size_t n, int raw)
{
	Onnx__TensorProto *t = mb_alloc(b, sizeof *t);
	onnx__tensor_proto__init(t);
	t->name = mb_str(b, name);
	t->has_data_type = 1;
	t->data_type = type;
	size_t nd = 0;
	char **tok = mb_split(b, dims, &nd);
	t->n_dims = nd;
	t->dims = mb_alloc(b, (nd + 1) * sizeof *t->dims);
	for (size_t i = 0; i < nd; i++)
		t->dims[i] = strtoll(tok[i], NULL, 10);
	if (raw) {
		t->has_raw_data = 1;
		t->raw_data.len = n * esize(type);
		t->raw_data.data = mb_dup(b, data, t->raw_data.len);
		return t;
	}
	switch (type) {
	case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
		t->n_float_data = n;
		t->float_data = mb_dup(b, data, n * 4);
		break;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
		t->n_int64_data = n;
		t->int64_data = mb_dup(b, data, n * 8);
		break;
	case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
		t->n_double_data = n;
		t->double_data = mb_dup(b, data, n * 8);
		break;
	default:
		t->n_int32_data = n;
		t->int32_data = mb_dup(b, data, n * 4);
		break;
	}
	return t;
}

static Onnx__TensorProto *mb_init(MB *b, Onnx__TensorProto *t)
{
	assert_true(b->graph.n_initializer < MB_MAX);
	b->init[b->graph.n_initializer++] = t;
	return t;
}

/* f32 initializer from a float array. */
static void mb_init_f32(MB *b, const char *name, const char *dims, const float *v, size_t n)
{
	mb_init(b, mb_tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, dims, v, n, 1));
}

static void mb_init_i64(MB *b, const char *name, const char *dims, const int64_t *v, size_t n)
{
	mb_init(b, mb_tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, dims, v, n, 1));
}

/* A node; ins/outs comma-separated ("x,,b" omits input 1); name may be NULL. */
static Onnx__NodeProto *mb_node(MB *b, const char *op, const char *name, const char *ins,
	const char *outs)
{
	Onnx__NodeProto *n = mb_alloc(b, sizeof *n);
	onnx__node_proto__init(n);
	n->op_type = mb_str(b, op);
	n->name = name ? mb_str(b, name) : NULL;
	n->input = mb_split(b, ins, &n->n_input);
	n->output = mb_split(b, outs, &n->n_output);
	n->attribute = mb_alloc(b, 16 * sizeof *n->attribute);
	assert_true(b->graph.n_node < MB_MAX);
	b->node[b->graph.n_node++] = n;
	return n;
}

static Onnx__AttributeProto *mb_attr(MB *b, Onnx__NodeProto *n, const char *name, int type)
{
	Onnx__AttributeProto *a = mb_alloc(b, sizeof *a);
	onnx__attribute_proto__init(a);
	a->name = mb_str(b, name);
	a->has_type = 1;
	a->type = type;
	assert_true(n->n_attribute < 16);
	n->attribute[n->n_attribute++] = a;
	return a;
}

static void a_int(MB *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
	Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
	a->has_i = 1;
	a->i = v;
}

static void a_float(MB *b, Onnx__NodeProto *n, const char *name, float v)
{
	Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
	a->has_f = 1;
	a->f = v;
}

static void a_str(MB *b, Onnx__NodeProto *n, const char *name, const char *v)
{
	Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
	a->has_s = 1;
	a->s.len = strlen(v);
	a->s.data = (uint8_t *)mb_str(b, v);
}

static void a_ints(MB *b, Onnx__NodeProto *n, const char *name, const int64_t *v, size_t k)
{
	Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
	a->n_ints = k;
	a->ints = mb_dup(b, v, k * 8);
}

static void a_tensor(MB *b, Onnx__NodeProto *n, const char *name, Onnx__TensorProto *t)
{
	mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR)->t = t;
}

#define INTS(...) (const int64_t[]){__VA_ARGS__}, sizeof((const int64_t[]){__VA_ARGS__}) / 8

static uint8_t *mb_pack(MB *b, size_t *len)
{
	*len = onnx__model_proto__get_packed_size(&b->model);
	uint8_t *buf = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(onnx__model_proto__pack(&b->model, buf), *len);
	return buf;
}

static void write_file(const void *buf, size_t len)
{
	strcpy(path, "/tmp/nncc_test_XXXXXX.onnx");
	int fd = mkstemps(path, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* Packs b into a temp file, loads it, removes the file, frees b. */
static Graph *load(MB *b, Diag *d)
{
	size_t len;
	uint8_t *buf = mb_pack(b, &len);
	write_file(buf, len);
	free(buf);
	mb_free(b);
	diag_init(d);
	Graph *g = fe_onnx_load(path, d);
	unlink(path);
	return g;
}

static Graph *load_ok(MB *b)
{
	Diag d;
	Graph *g = load(b, &d);
	if (!g)
		fail_msg("load failed: %s", d.msg);
	return g;
}

/* Loading must fail with a message containing the file path and each needle. */
static void load_fails(MB *b, const char *needle1, const char *needle2)
{
	Diag d;
	Graph *g = load(b, &d);
	if (g) {
		ir_graph_free(g);
		fail_msg("load succeeded; expected an error with \"%s\"", needle1);
	}
	if (!strstr(d.msg, path) || !strstr(d.msg, needle1) || (needle2 && !strstr(d.msg, needle2)))
		fail_msg("message lacks \"%s\" / \"%s\" / \"%s\":\n%s", path, needle1,
			needle2 ? needle2 : "", d.msg);
}

/* ---- graph queries ------------------------------------------------------------- */

static int count_op(const Graph *g, Op op)
{
	int c = 0;
	for (int i = 0; i < g->nnode; i++)
		c += g->node[i].op == op;
	return c;
}

/* The node whose (first) output is named name. */
static const Node *node_of(const Graph *g, const char *name)
{
	int v = ir_find_value(g, name);
	if (v < 0 || g->val[v].kind != VK_NODE)
		fail_msg("no node output named %s", name);
	return &g->node[g->val[v].def];
}

static const Value *value(const Graph *g, const char *name)
{
	int v = ir_find_value(g, name);
	if (v < 0)
		fail_msg("no value named %s", name);
	return &g->val[v];
}

static const Value *in_val(const Graph *g, const Node *n, int k)
{
	assert_true(k < n->nin && n->in[k] >= 0);
	return &g->val[n->in[k]];
}

static void assert_attr_ints(const Node *n, const char *name, const int64_t *want, size_t k)
{
	const int64_t *v;
	int got = ir_attr_ints(n, name, &v);
	assert_int_equal(got, (int)k);
	for (size_t i = 0; i < k; i++)
		assert_int_equal(v[i], want[i]);
}

static void assert_shape(const Graph *g, const char *name, const char *want)
{
	char buf[256];
	assert_string_equal(ir_shape_str(g, &value(g, name)->shape, buf, sizeof buf), want);
}

static float f32_at(const Value *v, int i)
{
	float f;
	memcpy(&f, (const char *)v->data + 4 * i, 4);
	return f;
}

enum {
	F32 = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
	I64 = ONNX__TENSOR_PROTO__DATA_TYPE__INT64,
};

/* ---- tests ------------------------------------------------------------------------ */

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

	/* min computed at run time: unsupported, naming the node */
	b = mb_new(11);
	mb_input(b, "X", F32, "2,3");
	mb_input(b, "M", F32, "");
	mb_node(b, "Clip", "dyn", "X,M", "Y");
	mb_output(b, "Y");
	load_fails(b, "node \"dyn\" (Clip)", "must be a constant");
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

static void test_unsupported_ops(void **state)
{
	(void)state;
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "2,3");
	mb_node(b, "LSTM", "/rnn/LSTM", "X", "h");
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
	snprintf(want, sizeof want, "%s: unsupported operators: LSTM (node \"/rnn/LSTM\"), "
		"Foo (nodes \"a\", \"b\"), com.example.Bar (node \"Bar_4\")", path);
	if (!strstr(d.msg, want))
		fail_msg("got: %s", d.msg);
}

static void test_unsupported_attrs(void **state)
{
	(void)state;
	/* Conv 1-D */
	MB *b = mb_new(13);
	mb_input(b, "X", F32, "1,3,10");
	float w[36] = {0};
	mb_init_f32(b, "W", "4,3,3", w, 36);
	a_ints(b, mb_node(b, "Conv", "conv1d", "X,W", "Y"), "kernel_shape", INTS(3));
	mb_output(b, "Y");
	load_fails(b, "node \"conv1d\" (Conv)", "only 2-D convolution");
	/* Pad reflect */
	b = mb_new(13);
	mb_input(b, "X", F32, "1,3");
	mb_init_i64(b, "p", "4", INTS(0, 1, 0, 1));
	a_str(b, mb_node(b, "Pad", "pr", "X,p", "Y"), "mode", "reflect");
	mb_output(b, "Y");
	load_fails(b, "node \"pr\" (Pad)", "mode \"reflect\"");
	/* BatchNormalization training_mode */
	b = mb_new(15);
	mb_input(b, "X", F32, "1,2,3,3");
	mb_input(b, "s", F32, "2");
	a_int(b, mb_node(b, "BatchNormalization", "bn", "X,s,s,s,s", "Y"), "training_mode", 1);
	mb_output(b, "Y");
	load_fails(b, "node \"bn\"", "training_mode=1");
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
		cmocka_unit_test(test_gemm),
		cmocka_unit_test(test_conv_auto_pad),
		cmocka_unit_test(test_clip),
		cmocka_unit_test(test_softmax_opsets),
		cmocka_unit_test(test_initializer_encodings),
		cmocka_unit_test(test_bad_tensors),
		cmocka_unit_test(test_dim_param),
		cmocka_unit_test(test_unsupported_ops),
		cmocka_unit_test(test_unsupported_attrs),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_constants_and_names),
		cmocka_unit_test(test_pool_reduce_pad),
		cmocka_unit_test(test_shape_chain),
		cmocka_unit_test(test_malformed_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
