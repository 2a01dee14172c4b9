/* parse.c — reads text IR (the syntax ir_print writes; docs/ir.md) into a
 * Graph.
 *
 * A hand-written recursive-descent parser over the raw text: no token list,
 * no recursion deeper than one statement, so garbage input costs at most a
 * linear scan. The source must be NUL-terminated; the cursor never moves
 * past that NUL. The first error stops the parse: it is reported as
 * "file:line:col: message", the source line and a caret under the column
 * (chibicc's error_tok), and ir_parse returns NULL. Whitespace and newlines
 * are insignificant; `#` starts a comment to the end of the line. */
#include "parse.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- types ------------------------------------------------------------- */

/* dtype '[' ('*' | dim, ...) ']' with dtype a name or '?'. */
static int parse_type(Parser *P, DType *t, Shape *s)
{
	const char *id;
	size_t n;
	px_skip_ws(P);
	if (*P->p == '?') {
		P->p++;
		*t = DT_UNDEF;
	} else if (px_peek_ident(P, &id, &n)) {
		*t = ir_dtype_parse(id, n);
		if (*t == DT_UNDEF)
			return px_error_at(P, id, "unknown dtype '%.*s'", (int)(n > 40 ? 40 : n), id);
		P->p += n;
	} else {
		return px_error_at(P, P->p, "expected a type like f32[N, 3]");
	}
	*s = ir_shape_unknown();
	if (px_expect(P, '[', "to open the shape") < 0)
		return -1;
	if (px_accept(P, '*'))
		return px_expect(P, ']', "after '*'");
	s->rank = 0;
	if (px_accept(P, ']'))
		return 0;
	for (;;) {
		px_skip_ws(P);
		if (s->rank == IR_MAX_RANK)
			return px_error_at(P, P->p, "more than %d dims", IR_MAX_RANK);
		Dim *d = &s->d[s->rank++];
		d->n = -1;
		d->sym = 0;
		if (*P->p == '?') {
			P->p++;
		} else if (is_digit(*P->p)) {
			Num num;
			if (px_scan_number(P, &num) < 0 || px_num_to_int(P, &num, &d->n) < 0)
				return -1;
		} else if (is_alpha(*P->p) || *P->p == '"') {
			const char *name;
			if (px_parse_ident_or_string(P, &name, "a dim") < 0)
				return -1;
			d->sym = ir_sym(P->g, name);
		} else {
			return px_error_at(P, P->p, "expected a dim (integer, name or '?')");
		}
		if (!px_accept(P, ','))
			return px_expect(P, ']', "or ',' in shape");
	}
}

/* ---- constants ------------------------------------------------------------ */

/* One element of constant data, stored at dst in dtype t's layout. */
static int parse_elem(Parser *P, DType t, unsigned char *dst)
{
	Num num;
	double fv = 0;
	int64_t iv = 0;
	uint16_t hv = 0;
	if (px_scan_number(P, &num) < 0)
		return -1;
	switch (t) {
	case DT_F32: {
		if (px_num_to_float(P, &num, true, &fv) < 0)
			return -1;
		float x = (float)fv;
		memcpy(dst, &x, 4);
		return 0;
	}
	case DT_F64:
		if (px_num_to_float(P, &num, false, &fv) < 0)
			return -1;
		memcpy(dst, &fv, 8);
		return 0;
	case DT_F16:
	case DT_BF16:
		if (px_num_to_bits16(P, &num, &hv) < 0)
			return -1;
		memcpy(dst, &hv, 2);
		return 0;
	case DT_U64: { /* beyond int64 */
		char buf[MAX_NUM_LEN + 1];
		if (num.isfloat || num.ishex || num.s[0] == '-' || num.len > MAX_NUM_LEN)
			return px_error_at(P, num.s, "expected a non-negative integer");
		memcpy(buf, num.s, num.len);
		buf[num.len] = 0;
		errno = 0;
		unsigned long long u = strtoull(buf, NULL, 10);
		if (errno == ERANGE)
			return px_error_at(P, num.s, "value out of range for u64");
		uint64_t x = u;
		memcpy(dst, &x, 8);
		return 0;
	}
	default:
		if (ir_dtype_is_small_float(t)) { /* dt family: the code as bits */
			if (px_num_to_bits16(P, &num, &hv) < 0)
				return -1;
			if (hv >= 1u << (ir_dtype_bits(t)))
				return px_error_at(P, num.s, "code out of range for %s", ir_dtype_name(t));
			*(uint8_t *)dst = (uint8_t)hv;
			return 0;
		}
		if (ir_dtype_is_exotic(t)) {
			if (px_num_to_int(P, &num, &iv) < 0)
				return -1;
			if (iv != ir_small_int_wrap(t, iv))
				return px_error_at(P, num.s, "value out of range for %s", ir_dtype_name(t));
			*(int8_t *)dst = (int8_t)iv;
			return 0;
		}
		break;
	}
	if (px_num_to_int(P, &num, &iv) < 0)
		return -1;
	int64_t lo = t == DT_I8 ? INT8_MIN : t == DT_I32 ? INT32_MIN : t == DT_I64 ? INT64_MIN
	           : t == DT_I16 ? INT16_MIN : 0;
	int64_t hi = t == DT_I8 ? INT8_MAX : t == DT_U8 ? UINT8_MAX : t == DT_BOOL ? 1
	           : t == DT_I32 ? INT32_MAX : t == DT_I16 ? INT16_MAX : t == DT_U16 ? UINT16_MAX
	           : t == DT_U32 ? UINT32_MAX : INT64_MAX;
	if (iv < lo || iv > hi)
		return px_error_at(P, num.s, "value out of range for %s", ir_dtype_name(t));
	if (ir_dtype_size(t) == 1) {
		uint8_t x = (uint8_t)iv;
		memcpy(dst, &x, 1);
	} else if (ir_dtype_size(t) == 2) {
		uint16_t x = (uint16_t)iv;
		memcpy(dst, &x, 2);
	} else if (ir_dtype_size(t) == 4) {
		int32_t x = (int32_t)iv;
		memcpy(dst, &x, 4);
	} else {
		memcpy(dst, &iv, 8);
	}
	return 0;
}

/* Parses '[' elements ']' for a constant of dtype t into the px_scratch buffer
 * and the element count into *count. */
static int parse_data(Parser *P, DType t, size_t *count, const char **loc)
{
	size_t esz = ir_dtype_size(t);
	px_skip_ws(P);
	*loc = P->p;
	if (esz == 0)
		return px_error_at(P, P->p, "a constant with data needs a dtype");
	if (px_expect(P, '[', "to open the data (or `elided`)") < 0)
		return -1;
	size_t k = 0;
	if (!px_accept(P, ']')) {
		do {
			if (k >= MAX_LIST)
				return px_error_at(P, P->p, "too many elements");
			unsigned char *buf = px_scratch(P, (k + 1) * esz);
			if (parse_elem(P, t, buf + k * esz) < 0)
				return -1;
			k++;
		} while (px_accept(P, ','));
		if (px_expect(P, ']', "or ',' in data") < 0)
			return -1;
	}
	*count = k;
	return 0;
}

/* ('param' | 'const' | 'state' ROLE) %name ':' type '=' ('elided' | data) */
static int parse_const(Parser *P, bool param, int state)
{
	const char *name, *loc;
	DType t;
	Shape s;
	if (px_parse_def(P, &name) < 0 || px_expect(P, ':', "before the constant's type") < 0 ||
	    parse_type(P, &t, &s) < 0 || px_expect(P, '=', "before the constant's data") < 0)
		return -1;
	if (px_accept_kw(P, "elided")) {
		int v = ir_add_const(P->g, name, t, s, NULL, 0, param);
		P->g->val[v].state = state;
		P->g->val[v].data = NULL;
		P->g->val[v].nbytes = 0;
		return 0;
	}
	size_t count = 0;
	if (parse_data(P, t, &count, &loc) < 0)
		return -1;
	int64_t numel = ir_shape_numel(&s);
	if (ir_shape_static(&s) && (numel < 0 || (uint64_t)numel != count))
		return px_error_at(P, loc, "%zu elements given, shape holds %" PRId64, count, numel);
	int v = ir_add_const(P->g, name, t, s, P->buf, count * ir_dtype_size(t), param);
	P->g->val[v].state = state;
	return 0;
}

/* ---- nodes ------------------------------------------------------------- */

/* name '=' (number | string | '[' numbers ']') */
static int parse_attr(Parser *P, Op op, int node)
{
	const char *name, *loc;
	px_skip_ws(P);
	loc = P->p;
	if (px_parse_ident_or_string(P, &name, "an attribute name") < 0)
		return -1;
	if (ir_attr(&P->g->node[node], name))
		return px_error_at(P, loc, "duplicate attribute '%s'", name);
	if (px_expect(P, '=', "after the attribute name") < 0)
		return -1;
	px_skip_ws(P);
	if (*P->p == '"') {
		const char *s;
		if (px_parse_string(P, &s) < 0)
			return -1;
		ir_set_string(P->g, node, name, s);
		return 0;
	}
	Num num;
	if (!px_accept(P, '[')) {
		if (px_scan_number(P, &num) < 0)
			return -1;
		if (num.isfloat) {
			double f;
			if (px_num_to_float(P, &num, false, &f) < 0)
				return -1;
			ir_set_float(P->g, node, name, f);
		} else {
			int64_t i;
			if (px_num_to_int(P, &num, &i) < 0)
				return -1;
			ir_set_int(P->g, node, name, i);
		}
		return 0;
	}
	/* A list: floats if any element is written as a float; an empty list
	 * takes its kind from the schema (ints if the schema lacks it). The
	 * literals are scanned first, then converted once the kind is known. */
	int n = 0;
	bool isfloat = false;
	if (px_accept(P, ']')) {
		AttrKind k = AT_INTS;
		isfloat = ir_attr_schema(op, name, &k) && k == AT_FLOATS;
	} else {
		do {
			if (n >= 1 << 20)
				return px_error_at(P, P->p, "attribute list too long");
			Num *nums = px_scratch(P, (size_t)(n + 1) * sizeof *nums);
			if (px_scan_number(P, &nums[n]) < 0)
				return -1;
			if (nums[n].ishex)
				return px_error_at(P, nums[n].s, "expected a decimal number");
			isfloat |= nums[n++].isfloat;
		} while (px_accept(P, ','));
		if (px_expect(P, ']', "or ',' in attribute list") < 0)
			return -1;
	}
	Num *nums = px_scratch(P, sizeof *nums);
	void *v = ir_alloc(P->g, (size_t)(n ? n : 1) * 8);
	for (int i = 0; i < n; i++)
		if (isfloat ? px_num_to_float(P, &nums[i], false, (double *)v + i) < 0
		            : px_num_to_int(P, &nums[i], (int64_t *)v + i) < 0)
			return -1;
	if (isfloat)
		ir_set_floats(P->g, node, name, (const double *)v, n);
	else
		ir_set_ints(P->g, node, name, (const int64_t *)v, n);
	return 0;
}

enum { MAX_OUTS = 64 }; /* outputs one node line may define */

/* [outs '='] op '(' args ')' ['{' attrs '}'] ['@' string]; the outputs
 * (names, types) were parsed by the caller. */
static int parse_call(Parser *P, int nout, const char **outname, const DType *outt,
                      const Shape *outs, const bool *typed)
{
	const char *id;
	size_t n;
	if (!px_peek_ident(P, &id, &n))
		return px_error_at(P, P->p, "expected an op name");
	Op op = ir_op_parse(id, n);
	if (op == OP_COUNT)
		return px_error_at(P, id, "unknown op '%.*s'", (int)(n > 40 ? 40 : n), id);
	P->p += n;
	const OpInfo *oi = &ir_ops[op];
	if (nout != oi->nout)
		return px_error_at(P, id, "%s has %d output%s, %d given", oi->name, oi->nout,
		                oi->nout == 1 ? "" : "s", nout);
	if (px_expect(P, '(', "after the op name") < 0)
		return -1;
	int nin = 0;
	int *in = px_scratch(P, sizeof *in); /* free again once the node is added */
	if (!px_accept(P, ')')) {
		do {
			px_skip_ws(P);
			const char *argloc = P->p;
			if (nin >= 1 << 20)
				return px_error_at(P, argloc, "too many inputs");
			in = px_scratch(P, (size_t)(nin + 1) * sizeof *in);
			if (*P->p == '_' && !is_name_char(P->p[1])) {
				P->p++;
				in[nin] = -1;
				if (nin < oi->nin_min)
					return px_error_at(P, argloc, "input %d of %s is not optional", nin, oi->name);
			} else if (px_parse_use(P, &in[nin]) < 0) {
				return -1;
			}
			nin++;
		} while (px_accept(P, ','));
		if (px_expect(P, ')', "or ',' after an input") < 0)
			return -1;
	}
	if (nin < oi->nin_min || (oi->nin_max >= 0 && nin > oi->nin_max)) {
		if (oi->nin_max < 0)
			return px_error_at(P, id, "%s takes at least %d inputs, %d given", oi->name,
			                oi->nin_min, nin);
		if (oi->nin_min == oi->nin_max)
			return px_error_at(P, id, "%s takes %d input%s, %d given", oi->name, oi->nin_min,
			                oi->nin_min == 1 ? "" : "s", nin);
		return px_error_at(P, id, "%s takes %d to %d inputs, %d given", oi->name, oi->nin_min,
		                oi->nin_max, nin);
	}
	int node = ir_add_node(P->g, op, "", in, nin, nout, outname);
	for (int k = 0; k < nout; k++) {
		Value *v = &P->g->val[ir_out(P->g, node, k)];
		NN_ASSERT(strcmp(v->name, outname[k]) == 0);
		if (typed[k]) {
			v->dtype = outt[k];
			v->shape = outs[k];
		}
	}
	if (px_accept(P, '{') && !px_accept(P, '}')) {
		do {
			if (parse_attr(P, op, node) < 0)
				return -1;
		} while (px_accept(P, ','));
		if (px_expect(P, '}', "or ',' after an attribute") < 0)
			return -1;
	}
	if (px_accept(P, '@')) {
		const char *name;
		if (px_parse_string(P, &name) < 0)
			return -1;
		P->g->node[node].name = name;
	}
	if (px_accept_kw(P, "group")) {
		Num num;
		int64_t grp;
		const char *loc = (px_skip_ws(P), P->p);
		if (px_scan_number(P, &num) < 0 || px_num_to_int(P, &num, &grp) < 0)
			return -1;
		if (grp < 1 || grp > INT32_MAX)
			return px_error_at(P, loc, "fusion group must be a positive integer");
		P->g->node[node].group = (int)grp;
	}
	return 0;
}

/* outs '=' call, where outs is %name [':' type] (',' %name [':' type])*. */
static int parse_node(Parser *P)
{
	const char *name[MAX_OUTS];
	DType t[MAX_OUTS];
	Shape s[MAX_OUTS];
	bool typed[MAX_OUTS];
	int nout = 0;
	for (;;) {
		if (nout == MAX_OUTS)
			return px_error_at(P, P->p, "more than %d outputs", MAX_OUTS);
		const char *loc;
		px_skip_ws(P);
		loc = P->p;
		if (px_parse_def(P, &name[nout]) < 0)
			return -1;
		for (int k = 0; k < nout; k++)
			if (strcmp(name[k], name[nout]) == 0)
				return px_error_at(P, loc, "redefinition of %%%s", name[nout]);
		typed[nout] = px_accept(P, ':');
		if (typed[nout] && parse_type(P, &t[nout], &s[nout]) < 0)
			return -1;
		nout++;
		if (!px_accept(P, ','))
			break;
	}
	if (px_expect(P, '=', "after the node's outputs") < 0)
		return -1;
	return parse_call(P, nout, name, t, s, typed);
}

/* ---- statements and the graph ---------------------------------------------- */

static int parse_stmt(Parser *P)
{
	const char *id, *loc;
	size_t n;
	px_skip_ws(P);
	if (*P->p == '%')
		return parse_node(P);
	if (!px_peek_ident(P, &id, &n))
		return px_error_at(P, P->p, "expected a statement (input, param, const, state, a node, output) or '}'");
	if (px_ident_is(id, n, "input")) {
		P->p += n;
		const char *name;
		DType t;
		Shape s;
		if (px_parse_def(P, &name) < 0 || px_expect(P, ':', "before the input's type") < 0 ||
		    parse_type(P, &t, &s) < 0)
			return -1;
		ir_add_input(P->g, name, t, s);
		return 0;
	}
	if (px_ident_is(id, n, "param") || px_ident_is(id, n, "const")) {
		P->p += n;
		return parse_const(P, id[0] == 'p', IR_STATE_NONE);
	}
	if (px_ident_is(id, n, "state")) { /* state ROLE %name: ... (training state) */
		P->p += n;
		px_skip_ws(P);
		const char *rid = P->p;
		size_t rn;
		int role = px_peek_ident(P, &rid, &rn) ? ir_state_role_parse(rid, rn) : IR_STATE_NONE;
		if (role == IR_STATE_NONE)
			return px_error_at(P, rid, "expected a state role (param, optim, step, lr)");
		P->p += rn;
		return parse_const(P, role == IR_STATE_PARAM, role);
	}
	if (px_ident_is(id, n, "output")) {
		P->p += n;
		int v;
		if (px_parse_use(P, &v) < 0)
			return -1;
		ir_add_output(P->g, v);
		return 0;
	}
	loc = P->p;
	if (ir_op_parse(id, n) != OP_COUNT) /* a node without outputs */
		return parse_call(P, 0, NULL, NULL, NULL, NULL);
	return px_error_at(P, loc, "unknown statement '%.*s'", (int)(n > 40 ? 40 : n), id);
}

Graph *ir_parse(const char *src, const char *filename, Diag *d)
{
	Parser P;
	memset(&P, 0, sizeof P);
	P.src = P.p = src ? src : "";
	P.file = filename ? filename : "<input>";
	P.d = d;
	P.g = ir_graph_new("model");

	const char *name;
	int rc = 0;
	if (!px_accept_kw(&P, "graph"))
		rc = px_error_at(&P, (px_skip_ws(&P), P.p), "expected 'graph'");
	if (rc == 0)
		rc = px_parse_ident_or_string(&P, &name, "a graph name");
	if (rc == 0) {
		P.g->name = name;
		rc = px_expect(&P, '{', "after the graph name");
	}
	while (rc == 0 && !px_accept(&P, '}')) {
		if (!*P.p)
			rc = px_error_at(&P, P.p, "expected '}' to close the graph");
		else
			rc = parse_stmt(&P);
	}
	if (rc == 0) {
		px_skip_ws(&P);
		if (*P.p)
			rc = px_error_at(&P, P.p, "unexpected text after the graph");
	}
	free(P.buf);
	if (rc < 0) {
		ir_graph_free(P.g);
		return NULL;
	}
	return P.g;
}
