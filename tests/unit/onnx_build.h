/* onnx_build.h — builds ONNX models in C for the frontend tests: the
 * protobuf-c structs generated from onnx.proto, packed and written to a
 * temp file, loaded with fe_onnx_load; plus small graph queries. Included
 * by test_onnx.c and test_onnx_errors.c (each its own program). */
#ifndef NNCC_TEST_ONNX_BUILD_H
#define NNCC_TEST_ONNX_BUILD_H

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

static inline void *mb_alloc(MB *b, size_t n)
{
	void *p = calloc(1, n ? n : 1);
	assert_non_null(p);
	assert_true(b->nmem < MB_MEM);
	b->mem[b->nmem++] = p;
	return p;
}

static inline char *mb_str(MB *b, const char *s)
{
	return strcpy(mb_alloc(b, strlen(s) + 1), s);
}

static inline void *mb_dup(MB *b, const void *data, size_t n)
{
	void *p = mb_alloc(b, n);
	if (n)
		memcpy(p, data, n);
	return p;
}

/* Splits "a,b,,c" into strings (empty entries kept); *n gets the count. */
static inline char **mb_split(MB *b, const char *s, size_t *n)
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

static inline MB *mb_new(int64_t opset)
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

static inline void mb_free(MB *b)
{
	for (int i = 0; i < b->nmem; i++)
		free(b->mem[i]);
	free(b);
}

/* A tensor-typed value info; dims like "N,3,?,224" (NULL: no shape). */
static inline Onnx__ValueInfoProto *mb_vi(MB *b, const char *name, int elem, const char *dims)
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

static inline void mb_input(MB *b, const char *name, int elem, const char *dims)
{
	assert_true(b->graph.n_input < MB_MAX);
	b->input[b->graph.n_input++] = mb_vi(b, name, elem, dims);
}

static inline void mb_output(MB *b, const char *name)
{
	assert_true(b->graph.n_output < MB_MAX);
	b->output[b->graph.n_output++] = mb_vi(b, name, -1, NULL);
}

static inline size_t esize(int type)
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
static inline Onnx__TensorProto *mb_tensor(MB *b, const char *name, int type, const char *dims,
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

static inline Onnx__TensorProto *mb_init(MB *b, Onnx__TensorProto *t)
{
	assert_true(b->graph.n_initializer < MB_MAX);
	b->init[b->graph.n_initializer++] = t;
	return t;
}

/* f32 initializer from a float array. */
static inline void mb_init_f32(MB *b, const char *name, const char *dims, const float *v, size_t n)
{
	mb_init(b, mb_tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, dims, v, n, 1));
}

static inline void mb_init_i64(MB *b, const char *name, const char *dims, const int64_t *v, size_t n)
{
	mb_init(b, mb_tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, dims, v, n, 1));
}

/* A node; ins/outs comma-separated ("x,,b" omits input 1); name may be NULL. */
static inline Onnx__NodeProto *mb_node(MB *b, const char *op, const char *name, const char *ins,
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

static inline Onnx__AttributeProto *mb_attr(MB *b, Onnx__NodeProto *n, const char *name, int type)
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

static inline void a_int(MB *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
	Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
	a->has_i = 1;
	a->i = v;
}

static inline void a_float(MB *b, Onnx__NodeProto *n, const char *name, float v)
{
	Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
	a->has_f = 1;
	a->f = v;
}

static inline void a_str(MB *b, Onnx__NodeProto *n, const char *name, const char *v)
{
	Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
	a->has_s = 1;
	a->s.len = strlen(v);
	a->s.data = (uint8_t *)mb_str(b, v);
}

static inline void a_ints(MB *b, Onnx__NodeProto *n, const char *name, const int64_t *v, size_t k)
{
	Onnx__AttributeProto *a = mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
	a->n_ints = k;
	a->ints = mb_dup(b, v, k * 8);
}

static inline void a_tensor(MB *b, Onnx__NodeProto *n, const char *name, Onnx__TensorProto *t)
{
	mb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR)->t = t;
}

#define INTS(...) (const int64_t[]){__VA_ARGS__}, sizeof((const int64_t[]){__VA_ARGS__}) / 8

static inline uint8_t *mb_pack(MB *b, size_t *len)
{
	*len = onnx__model_proto__get_packed_size(&b->model);
	uint8_t *buf = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(onnx__model_proto__pack(&b->model, buf), *len);
	return buf;
}

static inline void write_file(const void *buf, size_t len)
{
	strcpy(path, "/tmp/nncc_test_XXXXXX.onnx");
	int fd = mkstemps(path, 5);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* Packs b into a temp file, loads it, removes the file, frees b. */
static inline Graph *load(MB *b, Diag *d)
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

static inline Graph *load_ok(MB *b)
{
	Diag d;
	Graph *g = load(b, &d);
	if (!g)
		fail_msg("load failed: %s", d.msg);
	return g;
}

/* Loading must fail with a message containing the file path and each needle. */
static inline void load_fails(MB *b, const char *needle1, const char *needle2)
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

static inline int count_op(const Graph *g, Op op)
{
	int c = 0;
	for (int i = 0; i < g->nnode; i++)
		c += g->node[i].op == op;
	return c;
}

/* The node whose (first) output is named name. */
static inline const Node *node_of(const Graph *g, const char *name)
{
	int v = ir_find_value(g, name);
	if (v < 0 || g->val[v].kind != VK_NODE)
		fail_msg("no node output named %s", name);
	return &g->node[g->val[v].def];
}

static inline const Value *value(const Graph *g, const char *name)
{
	int v = ir_find_value(g, name);
	if (v < 0)
		fail_msg("no value named %s", name);
	return &g->val[v];
}

static inline const Value *in_val(const Graph *g, const Node *n, int k)
{
	assert_true(k < n->nin && n->in[k] >= 0);
	return &g->val[n->in[k]];
}

static inline void assert_attr_ints(const Node *n, const char *name, const int64_t *want, size_t k)
{
	const int64_t *v;
	int got = ir_attr_ints(n, name, &v);
	assert_int_equal(got, (int)k);
	for (size_t i = 0; i < k; i++)
		assert_int_equal(v[i], want[i]);
}

static inline void assert_shape(const Graph *g, const char *name, const char *want)
{
	char buf[256];
	assert_string_equal(ir_shape_str(g, &value(g, name)->shape, buf, sizeof buf), want);
}

static inline float f32_at(const Value *v, int i)
{
	float f;
	memcpy(&f, (const char *)v->data + 4 * i, 4);
	return f;
}

enum {
	F32 = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
	I64 = ONNX__TENSOR_PROTO__DATA_TYPE__INT64,
};

#endif
