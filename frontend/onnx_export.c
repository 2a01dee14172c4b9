/* onnx_export.c — the ONNX exporter's driver (`nncc --emit=onnx`,
 * docs/export.md): builds a ModelProto from a Graph with the protobuf-c
 * code generated from onnx.proto and writes it.
 *
 * Graph inputs and outputs become ValueInfos with their dtypes and shapes
 * (a symbolic dim as dim_param, an unknown one left unset); every constant
 * a live node or an output reads becomes an initializer holding its bytes
 * as raw_data (the graph's own buffer, not copied); each live node is
 * handed to its op's family function (onnx_export_ops.c). IR value names
 * are kept; values and nodes the export makes up are named "<base>/<what>"
 * and made unique. Every node is tried, so one run lists every node that
 * has no ONNX form; then nothing is written. Assumes a little-endian host,
 * as raw_data is. */
#include "onnx_export_impl.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "raw_data is written as is");

/* ---- names: a hash set of every name in the model ------------------------ */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static const char **name_slot(const char **tab, size_t cap, const char *s)
{
	size_t i = (size_t)hash_str(s) & (cap - 1);
	while (tab[i] && strcmp(tab[i], s) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static bool name_taken(const NameSet *ns, const char *s)
{
	return ns->cap && *name_slot(ns->tab, ns->cap, s) != NULL;
}

/* Adds s (arena-owned) to the set. */
static void name_add(NameSet *ns, const char *s)
{
	if (2 * (ns->n + 1) > ns->cap) {
		size_t cap = ns->cap ? 2 * ns->cap : 1024;
		const char **tab = xcalloc(cap, sizeof *tab);
		for (size_t i = 0; i < ns->cap; i++)
			if (ns->tab[i])
				*name_slot(tab, cap, ns->tab[i]) = ns->tab[i];
		free(ns->tab);
		ns->tab = tab;
		ns->cap = cap;
	}
	const char **e = name_slot(ns->tab, ns->cap, s);
	if (!*e) {
		*e = s;
		ns->n++;
	}
}

/* base itself if free in ns, else base_1, base_2, ... (added to ns). */
static const char *unique(Exporter *x, NameSet *ns, const char *base)
{
	const char *s = arena_strdup(&x->arena, base);
	for (int k = 1; name_taken(ns, s); k++)
		s = arena_printf(&x->arena, "%s_%d", base, k);
	name_add(ns, s);
	return s;
}

const char *ex_tmp(Exporter *x, const char *base, const char *what)
{
	return unique(x, &x->values, arena_printf(&x->arena, "%s/%s", base, what));
}

const char *ex_val(const Exporter *x, int v)
{
	return v < 0 ? "" : x->vname[v];
}

/* ---- nodes and attributes ------------------------------------------------ */

static char **str_array(Exporter *x, const char *const *s, int n)
{
	char **a = arena_alloc(&x->arena, (size_t)(n ? n : 1) * sizeof *a);
	for (int i = 0; i < n; i++)
		a[i] = arena_strdup(&x->arena, s[i]);
	return a;
}

static void append_node(Exporter *x, Onnx__NodeProto *p)
{
	if (x->nnode == x->capnode) {
		x->capnode = x->capnode ? 2 * x->capnode : 64;
		x->node = xrealloc(x->node, x->capnode * sizeof *x->node);
	}
	x->node[x->nnode++] = p;
}

Onnx__NodeProto *ex_node(Exporter *x, int node, const char *op_type, const char *const *in,
			 int nin, const char *const *out, int nout)
{
	const Node *n = &x->g->node[node];
	Onnx__NodeProto *p = arena_alloc(&x->arena, sizeof *p);
	onnx__node_proto__init(p);
	p->op_type = arena_strdup(&x->arena, op_type);
	p->name = (char *)unique(x, &x->nodes, n->name && n->name[0] ? n->name : x->vname[n->out[0]]);
	p->input = str_array(x, in, nin);
	p->n_input = (size_t)nin;
	p->output = str_array(x, out, nout);
	p->n_output = (size_t)nout;
	append_node(x, p);
	return p;
}

static Onnx__AttributeProto *attr_new(Exporter *x, Onnx__NodeProto *p, const char *name,
				      Onnx__AttributeProto__AttributeType type)
{
	Onnx__AttributeProto *a = arena_alloc(&x->arena, sizeof *a);
	onnx__attribute_proto__init(a);
	a->name = arena_strdup(&x->arena, name);
	a->has_type = 1;
	a->type = type;
	Onnx__AttributeProto **arr = arena_alloc(&x->arena, (p->n_attribute + 1) * sizeof *arr);
	if (p->n_attribute)
		memcpy(arr, p->attribute, p->n_attribute * sizeof *arr);
	arr[p->n_attribute++] = a;
	p->attribute = arr;
	return a;
}

void ex_attr_int(Exporter *x, Onnx__NodeProto *p, const char *name, int64_t v)
{
	Onnx__AttributeProto *a = attr_new(x, p, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
	a->has_i = 1;
	a->i = v;
}

void ex_attr_float(Exporter *x, Onnx__NodeProto *p, const char *name, double v)
{
	Onnx__AttributeProto *a = attr_new(x, p, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
	a->has_f = 1;
	a->f = (float)v;
}

void ex_attr_ints(Exporter *x, Onnx__NodeProto *p, const char *name, const int64_t *v, int n)
{
	Onnx__AttributeProto *a = attr_new(x, p, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
	a->ints = arena_alloc(&x->arena, (size_t)(n ? n : 1) * sizeof *a->ints);
	if (n)
		memcpy(a->ints, v, (size_t)n * sizeof *v);
	a->n_ints = (size_t)n;
}

void ex_attr_string(Exporter *x, Onnx__NodeProto *p, const char *name, const char *s)
{
	Onnx__AttributeProto *a = attr_new(x, p, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
	a->has_s = 1;
	a->s.data = (uint8_t *)arena_strdup(&x->arena, s);
	a->s.len = strlen(s);
}

void ex_copy_attr(Exporter *x, Onnx__NodeProto *p, const Node *n, const char *ir, const char *onnx)
{
	const Attr *a = ir_attr(n, ir);
	if (!a)
		return;
	switch (a->kind) {
	case AT_INT: ex_attr_int(x, p, onnx, a->i); break;
	case AT_FLOAT: ex_attr_float(x, p, onnx, a->f); break;
	case AT_INTS: ex_attr_ints(x, p, onnx, a->ints, a->n); break;
	case AT_STRING: ex_attr_string(x, p, onnx, a->s); break;
	case AT_FLOATS: {
		Onnx__AttributeProto *o = attr_new(x, p, onnx, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
		o->floats = arena_alloc(&x->arena, (size_t)(a->n ? a->n : 1) * sizeof *o->floats);
		for (int i = 0; i < a->n; i++)
			o->floats[i] = (float)a->floats[i];
		o->n_floats = (size_t)a->n;
		break;
	}
	}
}

int ex_unsupported(Exporter *x, int node, const char *fmt, ...)
{
	const Node *n = &x->g->node[node];
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	x->nerr++;
	return diag(x->d, "%s: --emit=onnx: node '%s' (%s): %s", x->g->name,
		n->name && n->name[0] ? n->name : x->vname[n->out[0]], ir_ops[n->op].name, why);
}

/* ---- tensors and types --------------------------------------------------- */

int ex_onnx_dtype(DType t)
{
	if (t == DT_UNDEF || ir_dtype_is_exotic(t))
		return 0; /* float8/float4 and 4-/2-bit integers need opset 19 and later */
	return (int)t; /* the IR's codes are ONNX's TensorProto.DataType */
}

static Onnx__TensorProto *tensor(Exporter *x, const char *name, DType t, int rank,
				 const int64_t *dims, const void *data, size_t nbytes)
{
	Onnx__TensorProto *p = arena_alloc(&x->arena, sizeof *p);
	onnx__tensor_proto__init(p);
	p->name = (char *)name;
	p->has_data_type = 1;
	p->data_type = ex_onnx_dtype(t);
	p->dims = arena_alloc(&x->arena, (size_t)(rank ? rank : 1) * sizeof *p->dims);
	if (rank)
		memcpy(p->dims, dims, (size_t)rank * sizeof *dims);
	p->n_dims = (size_t)rank;
	p->has_raw_data = 1;
	p->raw_data.data = (uint8_t *)data;
	p->raw_data.len = nbytes;
	if (x->ninit == x->capinit) {
		x->capinit = x->capinit ? 2 * x->capinit : 64;
		x->init = xrealloc(x->init, x->capinit * sizeof *x->init);
	}
	x->init[x->ninit++] = p;
	return p;
}

const char *ex_const_i64(Exporter *x, const char *base, const char *what, const int64_t *v, int n,
			 bool scalar)
{
	const char *name = ex_tmp(x, base, what);
	int64_t *data = arena_alloc(&x->arena, (size_t)(n ? n : 1) * sizeof *data);
	if (n)
		memcpy(data, v, (size_t)n * sizeof *v);
	int64_t dim = n;
	tensor(x, name, DT_I64, scalar ? 0 : 1, &dim, data, (size_t)n * sizeof *v);
	return name;
}

const char *ex_const_scalar(Exporter *x, const char *base, const char *what, DType t, double v)
{
	const char *name = ex_tmp(x, base, what);
	void *data = arena_alloc(&x->arena, ir_dtype_size(t));
	ir_elem_put(t, data, v);
	tensor(x, name, t, 0, NULL, data, ir_dtype_size(t));
	return name;
}

/* ValueInfo of IR value v: its dtype and, where the rank is known, its
 * dims. NULL (with a message) when the dtype has no ONNX code. */
static Onnx__ValueInfoProto *value_info(Exporter *x, int v, const char *name)
{
	const Value *val = &x->g->val[v];
	if (!ex_onnx_dtype(val->dtype)) {
		diag(x->d, "%s: --emit=onnx: value '%s' has dtype %s, which ONNX opset %d cannot hold",
			x->g->name, val->name, ir_dtype_name(val->dtype), EX_OPSET);
		x->nerr++;
		return NULL;
	}
	Onnx__TensorShapeProto *sh = NULL;
	if (val->shape.rank >= 0) {
		sh = arena_alloc(&x->arena, sizeof *sh);
		onnx__tensor_shape_proto__init(sh);
		sh->n_dim = (size_t)val->shape.rank;
		sh->dim = arena_alloc(&x->arena, (size_t)(val->shape.rank + 1) * sizeof *sh->dim);
		for (int i = 0; i < val->shape.rank; i++) {
			const Dim *dm = &val->shape.d[i];
			Onnx__TensorShapeProto__Dimension *o = arena_alloc(&x->arena, sizeof *o);
			onnx__tensor_shape_proto__dimension__init(o);
			if (dm->sym > 0) {
				o->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
				o->dim_param = arena_strdup(&x->arena, x->g->sym[dm->sym]);
			} else if (dm->n >= 0) {
				o->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
				o->dim_value = dm->n;
			}
			sh->dim[i] = o;
		}
	}
	Onnx__TypeProto__Tensor *tt = arena_alloc(&x->arena, sizeof *tt);
	onnx__type_proto__tensor__init(tt);
	tt->has_elem_type = 1;
	tt->elem_type = ex_onnx_dtype(val->dtype);
	tt->shape = sh;
	Onnx__TypeProto *tp = arena_alloc(&x->arena, sizeof *tp);
	onnx__type_proto__init(tp);
	tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	tp->tensor_type = tt;
	Onnx__ValueInfoProto *vi = arena_alloc(&x->arena, sizeof *vi);
	onnx__value_info_proto__init(vi);
	vi->name = (char *)name;
	vi->type = tp;
	return vi;
}

/* An initializer holding constant v's data. */
static void const_init(Exporter *x, int v)
{
	const Value *val = &x->g->val[v];
	if (!ex_onnx_dtype(val->dtype) || val->shape.rank < 0 || !ir_shape_static(&val->shape)) {
		diag(x->d, "%s: --emit=onnx: constant '%s' (%s) has no ONNX tensor type", x->g->name,
			val->name, ir_dtype_name(val->dtype));
		x->nerr++;
		return;
	}
	int64_t n = ir_shape_numel(&val->shape);
	if (!val->data || val->nbytes != (size_t)n * ir_dtype_size(val->dtype)) {
		diag(x->d, "%s: --emit=onnx: constant '%s' has no data (elided)", x->g->name, val->name);
		x->nerr++;
		return;
	}
	int64_t dims[IR_MAX_RANK];
	for (int i = 0; i < val->shape.rank; i++)
		dims[i] = val->shape.d[i].n;
	tensor(x, x->vname[v], val->dtype, val->shape.rank, dims, val->data, val->nbytes);
}

/* ---- the model ------------------------------------------------------------ */

typedef struct FileBuf {
	ProtobufCBuffer base; /* protobuf-c's sink interface */
	FILE *f;              /* where the bytes go */
} FileBuf;

static void file_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
	FileBuf *fb = (FileBuf *)b;
	if (len)
		fwrite(data, 1, len, fb->f);
}

/* Builds the model into *mp (arrays in x). 0, or -1 with messages. */
static int build(Exporter *x, Onnx__ModelProto *mp, Onnx__GraphProto *gp,
		 Onnx__OperatorSetIdProto *ops, Onnx__OperatorSetIdProto **opsp)
{
	const Graph *g = x->g;
	x->vname = xcalloc((size_t)(g->nval ? g->nval : 1), sizeof *x->vname);
	bool *used = xcalloc((size_t)(g->nval ? g->nval : 1), sizeof *used);
	for (int v = 0; v < g->nval; v++) { /* IR names are unique: keep them */
		x->vname[v] = arena_strdup(&x->arena, g->val[v].name);
		name_add(&x->values, x->vname[v]);
	}
	for (int i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] >= 0)
				used[n->in[k]] = true;
	}
	/* A constant that is a graph output is renamed and copied to the
	 * output's name by an Identity (an initializer is no graph output). */
	int *outname_src = xcalloc((size_t)(g->noutput ? g->noutput : 1), sizeof *outname_src);
	for (int i = 0; i < g->noutput; i++) {
		int v = g->output[i];
		outname_src[i] = -1;
		if (g->val[v].kind == VK_CONST) {
			if (strcmp(x->vname[v], g->val[v].name) == 0) /* not yet renamed */
				x->vname[v] = ex_tmp(x, g->val[v].name, "value");
			outname_src[i] = v;
			used[v] = true;
		}
	}
	Onnx__ValueInfoProto **in = arena_alloc(&x->arena, (size_t)(g->ninput + 1) * sizeof *in);
	size_t nin = 0;
	for (int i = 0; i < g->ninput; i++) {
		Onnx__ValueInfoProto *vi = value_info(x, g->input[i], x->vname[g->input[i]]);
		if (vi)
			in[nin++] = vi;
	}
	for (int v = 0; v < g->nval; v++)
		if (g->val[v].kind == VK_CONST && used[v])
			const_init(x, v);
	for (int i = 0; i < g->nnode; i++) {
		const Node *n = &g->node[i];
		if (n->dead)
			continue;
		const ExRule *r = &ex_rules[n->op];
		int bad = -1;
		for (int k = 0; k < n->nout; k++)
			if (!ex_onnx_dtype(g->val[n->out[k]].dtype))
				bad = n->out[k];
		if (bad >= 0)
			ex_unsupported(x, i, "its result has dtype %s, which ONNX opset %d cannot hold",
				ir_dtype_name(g->val[bad].dtype), EX_OPSET);
		else if (!r->fn)
			ex_unsupported(x, i, "no ONNX operator in opset %d computes it", EX_OPSET);
		else
			r->fn(x, i);
	}
	Onnx__ValueInfoProto **out = arena_alloc(&x->arena, (size_t)(g->noutput + 1) * sizeof *out);
	size_t nout = 0;
	for (int i = 0; i < g->noutput; i++) {
		int v = g->output[i];
		const char *name = g->val[v].name;
		if (outname_src[i] >= 0) {
			Onnx__NodeProto *p = arena_alloc(&x->arena, sizeof *p);
			onnx__node_proto__init(p);
			p->op_type = "Identity";
			p->name = (char *)unique(x, &x->nodes, arena_printf(&x->arena, "%s/output", name));
			p->input = str_array(x, &x->vname[v], 1);
			p->n_input = 1;
			p->output = str_array(x, &name, 1);
			p->n_output = 1;
			append_node(x, p);
		}
		Onnx__ValueInfoProto *vi = value_info(x, v, arena_strdup(&x->arena, name));
		if (vi)
			out[nout++] = vi;
	}
	free(used);
	free(outname_src);
	if (x->nerr)
		return -1;

	onnx__graph_proto__init(gp);
	gp->name = arena_strdup(&x->arena, g->name ? g->name : "model");
	gp->node = x->node;
	gp->n_node = x->nnode;
	gp->initializer = x->init;
	gp->n_initializer = x->ninit;
	gp->input = in;
	gp->n_input = nin;
	gp->output = out;
	gp->n_output = nout;
	onnx__operator_set_id_proto__init(ops);
	ops->domain = "";
	ops->has_version = 1;
	ops->version = EX_OPSET;
	*opsp = ops;
	onnx__model_proto__init(mp);
	mp->has_ir_version = 1;
	mp->ir_version = EX_IR_VERSION;
	mp->opset_import = opsp;
	mp->n_opset_import = 1;
	mp->producer_name = "nncc";
	mp->producer_version = "0.1";
	mp->graph = gp;
	return 0;
}

static void exporter_free(Exporter *x)
{
	free(x->node);
	free(x->init);
	free(x->values.tab);
	free(x->nodes.tab);
	free(x->vname);
	arena_free(&x->arena);
}

/* Builds the model and hands it to sink (a FILE * or a buffer). */
static int export(const Graph *g, FILE *f, void **buf, size_t *len, Diag *d)
{
	Exporter x;
	memset(&x, 0, sizeof x);
	x.g = g;
	x.d = d;
	Onnx__ModelProto mp;
	Onnx__GraphProto gp;
	Onnx__OperatorSetIdProto ops, *opsp;
	int rc = build(&x, &mp, &gp, &ops, &opsp);
	if (rc == 0 && protobuf_c_message_get_packed_size(&mp.base) > (size_t)INT32_MAX)
		rc = diag(d, "%s: --emit=onnx: the model is over 2 GiB, protobuf's limit (ONNX's "
			"external data is not supported)", g->name);
	if (rc == 0 && f) {
		FileBuf fb = {{file_append}, f};
		protobuf_c_message_pack_to_buffer(&mp.base, &fb.base);
		if (ferror(f))
			rc = diag(d, "%s: --emit=onnx: write error", g->name);
	} else if (rc == 0) {
		*len = protobuf_c_message_get_packed_size(&mp.base);
		*buf = xmalloc(*len ? *len : 1);
		protobuf_c_message_pack(&mp.base, *buf);
	}
	exporter_free(&x);
	return rc;
}

int fe_onnx_export(const Graph *g, FILE *f, Diag *d)
{
	return export(g, f, NULL, NULL, d);
}

int fe_onnx_export_mem(const Graph *g, void **buf, size_t *len, Diag *d)
{
	*buf = NULL;
	*len = 0;
	return export(g, NULL, buf, len, d);
}
