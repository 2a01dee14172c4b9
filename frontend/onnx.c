/* onnx.c — the ONNX frontend's reader and import driver.
 *
 * Unpacks a ModelProto with the protobuf-c code generated from Debian's
 * onnx.proto and treats it as untrusted: names, counts and tensor sizes are
 * checked (sizes with checked arithmetic) and every failure is a message
 * naming the file and the node or tensor. The import runs in phases:
 *   1. declare every value name: duplicates and undefined references fail;
 *   2. list every op the import table lacks, all in one message;
 *   3. build graph inputs, initializers (constants, param=true) and then the
 *      nodes in file order through onnx_ops.c, inferring each IR node's
 *      output type as it is added so later handlers see known shapes.
 * IR values keep their ONNX names; values a handler makes up are named
 * "<node>/<what>" and never collide with an ONNX name.
 * Assumes a little-endian host, as ONNX's raw_data is. */
#include "frontend.h"
#include "onnx_impl.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "raw_data is copied as is");

enum {
	MAX_COUNT = 1 << 24,       /* node inputs/outputs, attribute values */
	MAX_LISTED = 8,            /* node names listed per unsupported op */
};

/* ---- value-name table --------------------------------------------------- */

static uint64_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

/* The slot holding name, or the empty slot where it would go. */
static NameEnt *name_slot(NameEnt *tab, size_t cap, const char *name)
{
	size_t i = (size_t)hash_name(name) & (cap - 1);
	while (tab[i].name && strcmp(tab[i].name, name) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static NameEnt *name_get(const Importer *m, const char *name)
{
	if (!m->captab)
		return NULL;
	NameEnt *e = name_slot(m->tab, m->captab, name);
	return e->name ? e : NULL;
}

/* Returns name's entry, adding it (val -1, def '?') if new. */
static NameEnt *name_put(Importer *m, const char *name, bool *isnew)
{
	if (2 * (m->ntab + 1) > m->captab) {
		size_t cap = m->captab ? 2 * m->captab : 256;
		NameEnt *t = xcalloc(cap, sizeof *t);
		for (size_t i = 0; i < m->captab; i++)
			if (m->tab[i].name)
				*name_slot(t, cap, m->tab[i].name) = m->tab[i];
		free(m->tab);
		m->tab = t;
		m->captab = cap;
	}
	NameEnt *e = name_slot(m->tab, m->captab, name);
	if (isnew)
		*isnew = !e->name;
	if (!e->name) {
		e->name = arena_strdup(&m->arena, name);
		e->val = -1;
		e->used = false;
		e->def = '?';
		m->ntab++;
	}
	return e;
}

static const char *def_what(char def)
{
	switch (def) {
	case 'c': return "an initializer";
	case 'i': return "a graph input";
	case 'n': return "another node's output";
	default: return "another value";
	}
}

/* ---- messages and services for handlers ----------------------------------- */

int imp_err(Importer *m, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return diag(m->d, "%s: node \"%s\" (%s): %s", m->file, m->name, m->np->op_type, buf);
}

/* "FILE: tensor "NAME": ...", inside a node "FILE: node "N" (Op): tensor ...". */
int onnx_tensor_err(Importer *m, const char *tname, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (m->np)
		return imp_err(m, "tensor \"%s\": %s", tname, buf);
	return diag(m->d, "%s: tensor \"%s\": %s", m->file, tname, buf);
}

const Onnx__AttributeProto *imp_attr(const Importer *m, const char *name)
{
	for (size_t i = 0; i < m->np->n_attribute; i++)
		if (strcmp(m->np->attribute[i]->name, name) == 0)
			return m->np->attribute[i];
	return NULL;
}

int64_t imp_int(const Importer *m, const char *name, int64_t dflt)
{
	const Onnx__AttributeProto *a = imp_attr(m, name);
	return a ? a->i : dflt;
}

double imp_float(const Importer *m, const char *name, double dflt)
{
	const Onnx__AttributeProto *a = imp_attr(m, name);
	return a ? (double)a->f : dflt;
}

const char *imp_str(Importer *m, const char *name, const char *dflt)
{
	const Onnx__AttributeProto *a = imp_attr(m, name);
	if (!a)
		return dflt;
	char *s = arena_alloc(&m->arena, a->s.len + 1);
	if (a->s.len)
		memcpy(s, a->s.data, a->s.len);
	return s;
}

int imp_ints(const Importer *m, const char *name, const int64_t **v)
{
	const Onnx__AttributeProto *a = imp_attr(m, name);
	*v = a ? a->ints : NULL;
	return a ? (int)a->n_ints : -1;
}

bool imp_used(const Importer *m, int k)
{
	if (k < 0 || k >= m->nout || !m->np->output[k] || !*m->np->output[k])
		return false;
	NameEnt *e = name_get(m, m->np->output[k]);
	return e && e->used;
}

int imp_value(const Importer *m, const char *name)
{
	const NameEnt *e = name_get(m, name);
	return e ? e->val : -1;
}

const char *imp_outname(Importer *m, int k, const char *what)
{
	if (k >= 0 && k < m->nout && m->np->output[k] && *m->np->output[k])
		return m->np->output[k];
	const char *base = arena_printf(&m->arena, "%s/%s", m->name, what);
	const char *s = base;
	for (int i = 1; name_get(m, s); i++)
		s = arena_printf(&m->arena, "%s_%d", base, i);
	NameEnt *e = name_put(m, s, NULL);
	e->def = 'g';
	return e->name;
}

void imp_bind(Importer *m, int k, int v)
{
	if (k < 0 || k >= m->nout)
		return;
	m->out[k] = v;
	if (m->np->output[k] && *m->np->output[k])
		name_put(m, m->np->output[k], NULL)->val = v;
}

/* Records that value v (just created under name) exists. */
static void record(Importer *m, const char *name, int v)
{
	/* Every IR name is in the table, so the graph never had to rename. */
	NN_ASSERT(strcmp(m->g->val[v].name, name) == 0);
	name_put(m, name, NULL)->val = v;
}

int imp_node(Importer *m, Op op, const int *in, int nin, int slot)
{
	const char *oname = imp_outname(m, slot, ir_ops[op].name);
	int nd = ir_add_node(m->g, op, m->name, in, nin, 1, &oname);
	int v = ir_out(m->g, nd, 0);
	record(m, oname, v);
	if (slot >= 0 && slot < m->nout)
		m->out[slot] = v;
	return nd;
}

int imp_infer(Importer *m, int node)
{
	if (ir_infer_node(m->g, node, m->d) < 0)
		return imp_err(m, "the imported %s node is invalid (see above)", ir_ops[m->g->node[node].op].name);
	return ir_out(m->g, node, 0);
}

int imp_const(Importer *m, const char *what, DType t, Shape s, const void *data, size_t nbytes)
{
	const char *name = imp_outname(m, -1, what);
	int v = ir_add_const(m->g, name, t, s, data, nbytes, false);
	record(m, name, v);
	return v;
}

/* ---- tensors ---------------------------------------------------------------- */

static DType onnx_dtype(int32_t t)
{
	switch (t) {
	case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: return DT_F32;
	case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: return DT_U8;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return DT_I8;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return DT_I32;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return DT_I64;
	case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return DT_BOOL;
	case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: return DT_F16;
	case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return DT_F64;
	case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: return DT_BF16;
	case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return DT_I16;
	case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: return DT_U16;
	case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: return DT_U32;
	case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return DT_U64;
	case 17: case 18: case 19: case 20: case 21: case 22: case 23: case 24: case 25: case 26:
		return (DType)t; /* float8s, uint4, int4, float4e2m1, uint2, int2: codes shared */
	default: return DT_UNDEF;
	}
}

static const char *onnx_type_name(bool has, int32_t t)
{
	static const char *const names[] = {
		"undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64", "string",
		"bool", "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16",
		"float8e4m3fn", "float8e4m3fnuz", "float8e5m2", "float8e5m2fnuz", "uint4", "int4",
		"float4e2m1", "float8e8m0", "uint2", "int2",
	};
	if (!has)
		return "undefined";
	return t >= 0 && t < (int32_t)(sizeof names / sizeof *names) ? names[t] : "unknown";
}

int imp_tensor(Importer *m, const Onnx__TensorProto *t, const char *name, bool param)
{
	if (t->segment)
		return onnx_tensor_err(m, name, "segmented tensors are unsupported");
	DType dt = t->has_data_type ? onnx_dtype(t->data_type) : DT_UNDEF;
	if (dt == DT_UNDEF)
		return onnx_tensor_err(m, name, "element type %s is unsupported",
			onnx_type_name(t->has_data_type, t->data_type));
	if (t->n_dims > IR_MAX_RANK)
		return onnx_tensor_err(m, name, "rank %zu exceeds the supported %d", t->n_dims, IR_MAX_RANK);
	Shape s = ir_shape_make(0, NULL);
	s.rank = (int)t->n_dims;
	int64_t numel = 1, nbytes;
	for (size_t i = 0; i < t->n_dims; i++) {
		if (t->dims[i] < 0)
			return onnx_tensor_err(m, name, "negative dimension %lld", (long long)t->dims[i]);
		s.d[i] = (Dim){t->dims[i], 0};
		if (!ck_mul(numel, t->dims[i], &numel))
			return onnx_tensor_err(m, name, "element count overflows");
	}
	size_t esz = ir_dtype_size(dt);
	if (!ck_mul(numel, (int64_t)esz, &nbytes))
		return onnx_tensor_err(m, name, "byte size overflows");
	if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
		return onnx_external_tensor(m, t, name, dt, s, nbytes, param);
	if (ir_dtype_bits(dt) < 8) { /* packed two or four per byte (onnx_exotic.c) */
		int v = ir_add_const(m->g, name, dt, s, NULL, (size_t)nbytes, param);
		if (dt_unpack(dt, t->has_raw_data ? t->raw_data.data : NULL, t->raw_data.len,
			      t->int32_data, t->n_int32_data, numel, m->g->val[v].data))
			return onnx_tensor_err(m, name, "packed data does not hold %lld %s elements",
				(long long)numel, ir_dtype_name(dt));
		return v;
	}
	if (t->has_raw_data) {
		if ((uint64_t)t->raw_data.len != (uint64_t)nbytes)
			return onnx_tensor_err(m, name, "raw_data holds %zu bytes; shape and type need %lld",
				t->raw_data.len, (long long)nbytes);
		return ir_add_const(m->g, name, dt, s, nbytes ? t->raw_data.data : NULL, (size_t)nbytes,
			param);
	}
	/* Typed fields: int32_data also carries 8/16-bit types, f16/bf16 as bits. */
	size_t have;
	const char *field;
	switch (dt) {
	case DT_F32: have = t->n_float_data; field = "float_data"; break;
	case DT_I64: have = t->n_int64_data; field = "int64_data"; break;
	case DT_F64: have = t->n_double_data; field = "double_data"; break;
	case DT_U32: case DT_U64: have = t->n_uint64_data; field = "uint64_data"; break;
	default: have = t->n_int32_data; field = "int32_data"; break;
	}
	if ((uint64_t)have != (uint64_t)numel)
		return onnx_tensor_err(m, name, "%s holds %zu values; the shape needs %lld", field, have,
			(long long)numel);
	int v = ir_add_const(m->g, name, dt, s, NULL, (size_t)nbytes, param);
	unsigned char *p = m->g->val[v].data;
	if (!nbytes)
		return v;
	switch (dt) {
	case DT_F32: memcpy(p, t->float_data, (size_t)nbytes); break;
	case DT_I64: memcpy(p, t->int64_data, (size_t)nbytes); break;
	case DT_F64: memcpy(p, t->double_data, (size_t)nbytes); break;
	case DT_I32: memcpy(p, t->int32_data, (size_t)nbytes); break;
	case DT_U64: memcpy(p, t->uint64_data, (size_t)nbytes); break;
	case DT_U32:
		for (int64_t i = 0; i < numel; i++) {
			uint32_t x = (uint32_t)t->uint64_data[i];
			memcpy(p + 4 * i, &x, 4);
		}
		break;
	default:
		for (int64_t i = 0; i < numel; i++) {
			int32_t x = t->int32_data[i];
			if (esz == 1) {
				p[i] = dt == DT_BOOL ? x != 0 : (unsigned char)x;
			} else {
				uint16_t h = (uint16_t)x;
				memcpy(p + 2 * i, &h, 2);
			}
		}
	}
	return v;
}

/* ---- attributes ------------------------------------------------------------- */

/* The attribute's kind as schemas spell it. Files from IR version 1 leave
 * `type` out; the set field tells it then. */
static const char *attr_kind(const Onnx__AttributeProto *a)
{
	int t = a->has_type ? (int)a->type : 0;
	if (t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED) {
		if (a->has_f) return "float";
		if (a->has_i) return "int";
		if (a->has_s) return "string";
		if (a->t) return "tensor";
		if (a->g) return "graph";
		if (a->n_floats) return "floats";
		if (a->n_ints) return "ints";
		if (a->n_strings) return "strings";
		return "undefined";
	}
	switch (t) {
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return "float";
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return "int";
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return "string";
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return "tensor";
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: return "graph";
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR: return "sparse";
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return "floats";
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return "ints";
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: return "strings";
	default: return "unsupported-kind";
	}
}

/* The kind schema gives attribute name (length in *len), or NULL. */
static const char *schema_kind(const char *s, const char *name, size_t *len)
{
	size_t n = strlen(name);
	while (*s) {
		while (*s == ' ')
			s++;
		const char *colon = strchr(s, ':');
		if (!colon)
			break;
		const char *end = colon + strcspn(colon, " ");
		if ((size_t)(colon - s) == n && strncmp(s, name, n) == 0) {
			*len = (size_t)(end - colon - 1);
			return colon + 1;
		}
		s = end;
	}
	return NULL;
}

static int check_attrs(Importer *m, const char *schema)
{
	const Onnx__NodeProto *np = m->np;
	for (size_t i = 0; i < np->n_attribute; i++) {
		const Onnx__AttributeProto *a = np->attribute[i];
		if (!a->name || !*a->name)
			return imp_err(m, "attribute %zu has no name", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(np->attribute[j]->name, a->name) == 0)
				return imp_err(m, "attribute \"%s\" is given twice", a->name);
		size_t wlen;
		const char *want = schema_kind(schema, a->name, &wlen);
		if (!want)
			return imp_err(m, "unsupported attribute \"%s\"", a->name);
		const char *kind = attr_kind(a);
		if (strlen(kind) != wlen || strncmp(kind, want, wlen) != 0)
			return imp_err(m, "attribute \"%s\" is of kind %s; expected %.*s", a->name, kind,
				(int)wlen, want);
		if (a->n_ints > MAX_COUNT || a->n_floats > MAX_COUNT)
			return imp_err(m, "attribute \"%s\" has too many values", a->name);
		if (onnx_check_attr_domain(m, a) < 0)
			return -1;
	}
	return 0;
}

/* ---- graph ------------------------------------------------------------------ */

static bool nonempty(const char *s) { return s && *s; }

static bool default_domain(const char *d)
{
	return !d || !*d || strcmp(d, "ai.onnx") == 0;
}

/* What a non-tensor TypeProto holds, for messages. */
static const char *onnx_value_kind(const Onnx__TypeProto *tp)
{
	switch (tp ? tp->value_case : ONNX__TYPE_PROTO__VALUE__NOT_SET) {
	case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: return "sequence";
	case ONNX__TYPE_PROTO__VALUE_MAP_TYPE: return "map";
	case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: return "optional";
	case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE: return "sparse tensor";
	case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE: return "tensor";
	default: return "untyped";
	}
}

static int graph_input(Importer *m, const Onnx__ValueInfoProto *vi)
{
	const char *name = vi->name;
	const Onnx__TypeProto *tp = vi->type;
	if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
		return diag(m->d, "%s: graph input \"%s\": %s inputs are unsupported (only tensors)",
			m->file, name, onnx_value_kind(tp));
	const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
	DType dt = tt->has_elem_type ? onnx_dtype(tt->elem_type) : DT_UNDEF;
	if (dt == DT_UNDEF)
		return diag(m->d, "%s: graph input \"%s\": element type %s is unsupported", m->file, name,
			onnx_type_name(tt->has_elem_type, tt->elem_type));
	Shape s = ir_shape_unknown();
	if (tt->shape) {
		if (tt->shape->n_dim > IR_MAX_RANK)
			return diag(m->d, "%s: graph input \"%s\": rank %zu exceeds the supported %d", m->file,
				name, tt->shape->n_dim, IR_MAX_RANK);
		s.rank = (int)tt->shape->n_dim;
		for (int i = 0; i < s.rank; i++) {
			const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[i];
			s.d[i] = (Dim){-1, 0};
			if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
				if (dm->dim_value < 0)
					return diag(m->d, "%s: graph input \"%s\": negative dimension %lld",
						m->file, name, (long long)dm->dim_value);
				s.d[i].n = dm->dim_value;
			} else if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
				nonempty(dm->dim_param)) {
				s.d[i].sym = ir_sym(m->g, dm->dim_param);
			}
		}
	}
	return ir_add_input(m->g, name, dt, s);
}

/* Phase 1: declares every value name, then checks every reference. */
static int declare(Importer *m, const Onnx__GraphProto *gp, const char **nname)
{
	int bad = 0;
	bool isnew;
	for (size_t i = 0; i < gp->n_initializer; i++) {
		const char *s = gp->initializer[i]->name;
		if (!nonempty(s)) {
			bad = diag(m->d, "%s: initializer %zu has no name", m->file, i);
			continue;
		}
		NameEnt *e = name_put(m, s, &isnew);
		if (!isnew)
			bad = diag(m->d, "%s: initializer \"%s\" is defined twice", m->file, s);
		e->def = 'c';
	}
	for (size_t i = 0; i < gp->n_input; i++) {
		const char *s = gp->input[i]->name;
		if (!nonempty(s)) {
			bad = diag(m->d, "%s: graph input %zu has no name", m->file, i);
			continue;
		}
		NameEnt *e = name_put(m, s, &isnew);
		if (!isnew && e->def != 'c') /* an input that is an initializer is a constant */
			bad = diag(m->d, "%s: graph input \"%s\" is declared twice", m->file, s);
		if (isnew)
			e->def = 'i';
	}
	for (size_t i = 0; i < gp->n_node; i++) {
		const Onnx__NodeProto *np = gp->node[i];
		for (size_t k = 0; k < np->n_output; k++) {
			const char *s = np->output[k];
			if (!nonempty(s))
				continue;
			NameEnt *e = name_put(m, s, &isnew);
			if (!isnew)
				bad = diag(m->d, "%s: node \"%s\" (%s): output \"%s\" is already defined as %s",
					m->file, nname[i], np->op_type, s, def_what(e->def));
			else
				e->def = 'n';
		}
	}
	for (size_t i = 0; i < gp->n_node; i++) {
		const Onnx__NodeProto *np = gp->node[i];
		for (size_t k = 0; k < np->n_input; k++) {
			const char *s = np->input[k];
			if (!nonempty(s))
				continue;
			NameEnt *e = name_get(m, s);
			if (e)
				e->used = true;
			else
				bad = diag(m->d, "%s: node \"%s\" (%s): input \"%s\" is not defined by any "
					"node, graph input or initializer", m->file, nname[i], np->op_type, s);
		}
	}
	if (gp->n_output == 0)
		bad = diag(m->d, "%s: the graph has no outputs", m->file);
	for (size_t i = 0; i < gp->n_output; i++) {
		const char *s = gp->output[i]->name;
		NameEnt *e = nonempty(s) ? name_get(m, s) : NULL;
		if (e)
			e->used = true;
		else
			bad = diag(m->d, "%s: graph output \"%s\" is not defined", m->file, s ? s : "");
	}
	return bad;
}

/* Appends to a fixed buffer, truncating quietly (Diag caps lines anyway). */
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	if (*len >= cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + (size_t)n < cap ? *len + (size_t)n : cap;
}

static bool same_op(const Onnx__NodeProto *a, const Onnx__NodeProto *b)
{
	bool da = default_domain(a->domain), db = default_domain(b->domain);
	if (da != db || (!da && strcmp(a->domain, b->domain) != 0))
		return false;
	return strcmp(a->op_type, b->op_type) == 0;
}

/* Phase 2: one message naming every op the import table lacks. */
static int check_supported(Importer *m, const Onnx__GraphProto *gp, const char **nname)
{
	size_t *lead = xmalloc((gp->n_node ? gp->n_node : 1) * sizeof *lead); /* first node of each op */
	size_t nlead = 0;
	bool need_opset = false;
	for (size_t i = 0; i < gp->n_node; i++) {
		const Onnx__NodeProto *np = gp->node[i];
		need_opset |= default_domain(np->domain);
		if (onnx_find_op(np->domain, np->op_type))
			continue;
		size_t j = 0;
		while (j < nlead && !same_op(gp->node[lead[j]], np))
			j++;
		if (j == nlead)
			lead[nlead++] = i;
	}
	int rc = 0;
	if (nlead) {
		char buf[4096];
		size_t len = 0;
		put(buf, sizeof buf, &len, "%s: unsupported operators: ", m->file);
		for (size_t j = 0; j < nlead; j++) {
			const Onnx__NodeProto *first = gp->node[lead[j]];
			size_t count = 0;
			for (size_t i = lead[j]; i < gp->n_node; i++)
				count += same_op(gp->node[i], first);
			if (default_domain(first->domain))
				put(buf, sizeof buf, &len, "%s%s (node%s ", j ? ", " : "", first->op_type,
					count > 1 ? "s" : "");
			else
				put(buf, sizeof buf, &len, "%s%s.%s (node%s ", j ? ", " : "", first->domain,
					first->op_type, count > 1 ? "s" : "");
			size_t listed = 0;
			for (size_t i = lead[j]; i < gp->n_node && listed < MAX_LISTED; i++)
				if (same_op(gp->node[i], first))
					put(buf, sizeof buf, &len, "%s\"%s\"", listed++ ? ", " : "", nname[i]);
			if (count > listed)
				put(buf, sizeof buf, &len, " and %zu more", count - listed);
			put(buf, sizeof buf, &len, ")");
		}
		rc = diag(m->d, "%s", buf);
	} else if (need_opset && m->opset <= 0) {
		rc = diag(m->d, "%s: the model imports no opset version for the default ONNX domain",
			m->file);
	}
	free(lead);
	return rc;
}

/* Phase 3, per node: resolve inputs, check attributes, run the handler. */
static int import_node(Importer *m, const Onnx__NodeProto *np, const char *name)
{
	const OnnxOp *op = onnx_find_op(np->domain, np->op_type);
	NN_ASSERT(op);
	m->np = np;
	m->name = name;
	if (np->n_input > MAX_COUNT || np->n_output > MAX_COUNT)
		return imp_err(m, "too many inputs or outputs");
	m->nin = (int)np->n_input;
	m->nout = (int)np->n_output;
	if (check_attrs(m, op->attrs))
		return -1;
	if (m->nin < op->nin_min || (op->nin_max >= 0 && m->nin > op->nin_max)) {
		if (op->nin_max < 0)
			return imp_err(m, "has %d inputs; expected at least %d", m->nin, op->nin_min);
		if (op->nin_max == op->nin_min)
			return imp_err(m, "has %d inputs; expected %d", m->nin, op->nin_min);
		return imp_err(m, "has %d inputs; expected %d to %d", m->nin, op->nin_min, op->nin_max);
	}
	m->in = arena_alloc(&m->arena, (size_t)(m->nin + 1) * sizeof *m->in);
	m->out = arena_alloc(&m->arena, (size_t)(m->nout + 1) * sizeof *m->out);
	for (int k = 0; k < m->nin; k++) {
		const char *s = np->input[k];
		m->in[k] = -1;
		if (!nonempty(s)) {
			if (k < op->nin_min)
				return imp_err(m, "required input %d is empty", k);
			continue;
		}
		NameEnt *e = name_get(m, s);
		NN_ASSERT(e); /* phase 1 checked every reference */
		if (e->val < 0)
			return imp_err(m, "input \"%s\" is used before the node that defines it "
				"(nodes must be in topological order)", s);
		m->in[k] = e->val;
	}
	for (int k = 0; k < m->nout; k++)
		m->out[k] = -1;
	imp_resolve_static(m); /* shape computations over static shapes become constants */
	if (op->fn(m, op->op) < 0)
		return -1;
	for (int k = 0; k < m->nout; k++)
		if (m->out[k] < 0 && imp_used(m, k))
			return imp_err(m, "output %d (\"%s\") is unsupported", k, np->output[k]);
	m->np = NULL;
	return 0;
}

static int import_graph(Importer *m, const Onnx__ModelProto *mp)
{
	const Onnx__GraphProto *gp = mp->graph;
	if (!gp)
		return diag(m->d, "%s: not a valid ONNX model (it has no graph)", m->file);
	for (size_t i = 0; i < mp->n_opset_import; i++) {
		const Onnx__OperatorSetIdProto *os = mp->opset_import[i];
		if (default_domain(os->domain) && os->has_version)
			m->opset = os->version;
	}
	if (onnx_check_opset(m) < 0)
		return -1;
	if (gp->n_sparse_initializer)
		return diag(m->d, "%s: sparse initializers are unsupported", m->file);
	const char **nname = arena_alloc(&m->arena, (gp->n_node + 1) * sizeof *nname);
	for (size_t i = 0; i < gp->n_node; i++) {
		const Onnx__NodeProto *np = gp->node[i];
		if (!nonempty(np->op_type))
			return diag(m->d, "%s: node %zu has no op_type", m->file, i);
		nname[i] = nonempty(np->name) ? np->name :
			arena_printf(&m->arena, "%s_%zu", np->op_type, i);
	}
	if (declare(m, gp, nname) < 0 || check_supported(m, gp, nname) < 0)
		return -1;
	for (size_t i = 0; i < gp->n_input; i++) {
		NameEnt *e = name_get(m, gp->input[i]->name);
		if (e->def != 'i')
			continue;
		int v = graph_input(m, gp->input[i]);
		if (v < 0)
			return -1;
		record(m, e->name, v);
	}
	for (size_t i = 0; i < gp->n_initializer; i++) {
		const Onnx__TensorProto *t = gp->initializer[i];
		int v = imp_tensor(m, t, t->name, true);
		if (v < 0)
			return -1;
		record(m, t->name, v);
	}
	if (fe_bind_consts(m->g, m->consts, m->nconst, m->file, m->d) < 0)
		return -1;
	for (size_t i = 0; i < gp->n_node; i++)
		if (import_node(m, gp->node[i], nname[i]) < 0)
			return -1;
	for (size_t i = 0; i < gp->n_output; i++) {
		NameEnt *e = name_get(m, gp->output[i]->name);
		NN_ASSERT(e && e->val >= 0); /* declared, and import_node bound every used output */
		ir_add_output(m->g, e->val);
	}
	return 0;
}

/* Imports the model in buf; from_file: display_name is its path, beside
 * which external data is read. */
static Graph *load(const void *buf, size_t len, const char *display_name, bool from_file,
	const FeConst *c, int n, Diag *d)
{
	const char *file = display_name ? display_name : "<memory>";
	Onnx__ModelProto *mp = NULL;
	if (onnx_wire_ok(buf, len, &onnx__model_proto__descriptor, 0))
		mp = onnx__model_proto__unpack(NULL, len, buf);
	if (!mp) {
		diag(d, "%s: not a valid ONNX model (protobuf parse failed)", file);
		return NULL;
	}
	Importer m;
	memset(&m, 0, sizeof m);
	m.d = d;
	m.file = file;
	m.consts = c;
	m.nconst = n;
	m.from_file = from_file;
	m.g = ir_graph_new(display_name ? onnx_model_name(&m.arena, display_name) : "model");
	int rc = import_graph(&m, mp);
	free(m.tab);
	arena_free(&m.arena);
	onnx__model_proto__free_unpacked(mp, NULL);
	if (rc < 0) {
		ir_graph_free(m.g);
		return NULL;
	}
	return m.g;
}

Graph *fe_onnx_load_mem_with(const void *buf, size_t len, const char *display_name,
			     const FeConst *c, int n, Diag *d)
{
	return load(buf, len, display_name, false, c, n, d);
}

Graph *fe_onnx_load_mem(const void *buf, size_t len, const char *display_name, Diag *d)
{
	return fe_onnx_load_mem_with(buf, len, display_name, NULL, 0, d);
}

Graph *fe_onnx_load_with(const char *path, const FeConst *c, int n, Diag *d)
{
	size_t len;
	char *buf = read_file(path, &len, d);
	if (!buf)
		return NULL;
	Graph *g = load(buf, len, path, true, c, n, d);
	free(buf);
	return g;
}

Graph *fe_onnx_load(const char *path, Diag *d)
{
	return fe_onnx_load_with(path, NULL, 0, d);
}
