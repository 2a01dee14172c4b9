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
#include "ir.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Parser {
	const char *src;  /* whole text, NUL-terminated */
	const char *p;    /* cursor into src */
	const char *file; /* name used in messages */
	Diag *d;          /* where the error goes */
	Graph *g;         /* graph being built */
	void *buf;        /* scratch for lists (ints, floats, constant data) */
	size_t cap;       /* bytes allocated at buf */
} Parser;

/* A numeric literal as scanned, before conversion. */
typedef struct Num {
	const char *s; /* first character (sign included) */
	size_t len;    /* characters */
	bool isfloat;  /* has '.', an exponent, or is inf/nan */
	bool ishex;    /* 0x... bit pattern */
} Num;

enum { MAX_NUM_LEN = 400, MAX_LIST = 1 << 30 };

/* ---- errors ------------------------------------------------------------ */

static int error_at(Parser *P, const char *loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int error_at(Parser *P, const char *loc, const char *fmt, ...)
{
	const char *line = P->src;
	int lineno = 1;
	for (const char *q = P->src; q < loc; q++)
		if (*q == '\n') {
			lineno++;
			line = q + 1;
		}
	const char *end = line;
	while (*end && *end != '\n')
		end++;
	int col = (int)(loc - line) + 1;

	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);

	/* Show at most 160 characters of the line, keeping the column in view. */
	const char *from = line;
	if (loc - from > 120)
		from = loc - 80;
	int shown = (int)(end - from) > 160 ? 160 : (int)(end - from);
	char caret[200];
	int nc = 0;
	for (const char *q = from; q < loc && nc < (int)sizeof caret - 2; q++)
		caret[nc++] = *q == '\t' ? '\t' : ' ';
	caret[nc++] = '^';
	caret[nc] = 0;
	return diag(P->d, "%s:%d:%d: %s\n%.*s\n%s", P->file, lineno, col, msg, shown, from, caret);
}

/* ---- lexing helpers ---------------------------------------------------- */

static bool is_alpha(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
static bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static bool is_name_char(char c) { return is_alnum(c) || c == '.' || c == ':' || c == '/' || c == '-'; }

static void skip_ws(Parser *P)
{
	for (;;) {
		char c = *P->p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			P->p++;
		else if (c == '#')
			while (*P->p && *P->p != '\n')
				P->p++;
		else
			return;
	}
}

/* Skips blanks, then consumes c if it is next. */
static bool accept(Parser *P, char c)
{
	skip_ws(P);
	if (*P->p != c)
		return false;
	P->p++;
	return true;
}

static int expect(Parser *P, char c, const char *what)
{
	if (accept(P, c))
		return 0;
	return error_at(P, P->p, "expected '%c' %s", c, what);
}

/* An identifier at the cursor (after blanks): sets *s, *n; false if none. */
static bool peek_ident(Parser *P, const char **s, size_t *n)
{
	skip_ws(P);
	if (!is_alpha(*P->p))
		return false;
	const char *q = P->p;
	while (is_alnum(*q))
		q++;
	*s = P->p;
	*n = (size_t)(q - P->p);
	return true;
}

static bool ident_is(const char *s, size_t n, const char *kw)
{
	return strlen(kw) == n && memcmp(s, kw, n) == 0;
}

/* Consumes keyword kw if it is the next identifier. */
static bool accept_kw(Parser *P, const char *kw)
{
	const char *s;
	size_t n;
	if (!peek_ident(P, &s, &n) || !ident_is(s, n, kw))
		return false;
	P->p += n;
	return true;
}

static const char *copy_span(Parser *P, const char *s, size_t n)
{
	char *r = ir_alloc(P->g, n + 1);
	memcpy(r, s, n);
	return r;
}

/* Reads a C string literal at the cursor into the graph's arena. */
static int parse_string(Parser *P, const char **out)
{
	skip_ws(P);
	const char *start = P->p;
	if (*P->p != '"')
		return error_at(P, P->p, "expected a string");
	P->p++;
	size_t n = 0;
	for (const char *q = P->p; *q != '"'; q++, n++) { /* upper bound on the length */
		if (!*q || *q == '\n')
			return error_at(P, start, "unterminated string");
		if (*q == '\\' && q[1] && q[1] != '\n')
			q++;
	}
	char *r = ir_alloc(P->g, n + 1);
	size_t k = 0;
	while (*P->p != '"') {
		char c = *P->p++;
		if (c != '\\') {
			r[k++] = c;
			continue;
		}
		const char *esc = P->p - 1;
		c = *P->p++;
		switch (c) {
		case 'n': c = '\n'; break;
		case 't': c = '\t'; break;
		case 'r': c = '\r'; break;
		case '\\': case '"': case '\'': break;
		case 'x': {
			int v = 0, nd = 0;
			while (nd < 2 && is_hex(*P->p)) {
				char h = *P->p++;
				v = v * 16 + (is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
				nd++;
			}
			if (nd == 0)
				return error_at(P, esc, "bad \\x escape");
			c = (char)v;
			break;
		}
		default:
			if (c >= '0' && c <= '7') {
				int v = c - '0';
				for (int nd = 1; nd < 3 && *P->p >= '0' && *P->p <= '7'; nd++)
					v = v * 8 + (*P->p++ - '0');
				if (v > 255)
					return error_at(P, esc, "octal escape out of range");
				c = (char)v;
				break;
			}
			return error_at(P, esc, "unknown escape sequence");
		}
		if (c == 0)
			return error_at(P, esc, "strings may not contain NUL");
		r[k++] = c;
	}
	P->p++;
	r[k] = 0;
	*out = r;
	return 0;
}

/* An identifier or a string (graph names, symbolic dims, attribute names). */
static int parse_ident_or_string(Parser *P, const char **out, const char *what)
{
	const char *s;
	size_t n;
	if (peek_ident(P, &s, &n)) {
		P->p += n;
		*out = copy_span(P, s, n);
		return 0;
	}
	if (*P->p == '"')
		return parse_string(P, out);
	return error_at(P, P->p, "expected %s", what);
}

/* `%name` or `%"quoted"`. A bare name stops before trailing colons. */
static int parse_value_name(Parser *P, const char **out, const char **loc)
{
	skip_ws(P);
	*loc = P->p;
	if (*P->p != '%')
		return error_at(P, P->p, "expected a value name like %%x");
	P->p++;
	if (*P->p == '"')
		return parse_string(P, out);
	const char *s = P->p, *q = s;
	while (is_name_char(*q))
		q++;
	while (q > s && q[-1] == ':')
		q--;
	if (q == s)
		return error_at(P, *loc, "expected a value name after '%%'");
	P->p = q;
	*out = copy_span(P, s, (size_t)(q - s));
	return 0;
}

/* A value reference: the name must already be defined. */
static int parse_use(Parser *P, int *v)
{
	const char *name, *loc;
	if (parse_value_name(P, &name, &loc) < 0)
		return -1;
	*v = ir_find_value(P->g, name);
	if (*v < 0)
		return error_at(P, loc, "unknown value %%%s", name);
	return 0;
}

/* A fresh definition: the name must not be taken. */
static int parse_def(Parser *P, const char **name)
{
	const char *loc;
	if (parse_value_name(P, name, &loc) < 0)
		return -1;
	if (ir_find_value(P->g, *name) >= 0)
		return error_at(P, loc, "redefinition of %%%s", *name);
	return 0;
}

/* ---- numbers ------------------------------------------------------------ */

static bool match_word(const char *q, const char *w)
{
	size_t n = strlen(w);
	return strncmp(q, w, n) == 0 && !is_alnum(q[n]);
}

/* Scans [+-]? (inf | nan | 0x<hex> | digits[.digits][e[+-]digits] | .digits...) */
static int scan_number(Parser *P, Num *num)
{
	skip_ws(P);
	const char *q = P->p;
	memset(num, 0, sizeof *num);
	num->s = q;
	if (*q == '-' || *q == '+')
		q++;
	if (match_word(q, "inf") || match_word(q, "nan")) {
		q += 3;
		num->isfloat = true;
	} else if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
		q += 2;
		if (!is_hex(*q))
			return error_at(P, P->p, "expected hex digits");
		while (is_hex(*q))
			q++;
		num->ishex = true;
	} else {
		int nd = 0;
		while (is_digit(*q))
			q++, nd++;
		if (*q == '.') {
			q++;
			num->isfloat = true;
			while (is_digit(*q))
				q++, nd++;
		}
		if (nd == 0)
			return error_at(P, P->p, "expected a number");
		if (*q == 'e' || *q == 'E') {
			q++;
			num->isfloat = true;
			if (*q == '-' || *q == '+')
				q++;
			if (!is_digit(*q))
				return error_at(P, P->p, "bad exponent in number");
			while (is_digit(*q))
				q++;
		}
	}
	if (is_alnum(*q) || *q == '.')
		return error_at(P, P->p, "malformed number");
	num->len = (size_t)(q - num->s);
	if (num->len > MAX_NUM_LEN)
		return error_at(P, P->p, "number too long");
	P->p = q;
	return 0;
}

static int num_to_int(Parser *P, const Num *num, int64_t *out)
{
	char buf[MAX_NUM_LEN + 1];
	if (num->isfloat || num->ishex)
		return error_at(P, num->s, "expected an integer");
	memcpy(buf, num->s, num->len);
	buf[num->len] = 0;
	errno = 0;
	long long v = strtoll(buf, NULL, 10);
	if (errno == ERANGE)
		return error_at(P, num->s, "integer out of range");
	*out = v;
	return 0;
}

/* Converts to double (f32: converted by strtof, so exactly as written). */
static int num_to_float(Parser *P, const Num *num, bool f32, double *out)
{
	char buf[MAX_NUM_LEN + 1];
	if (num->ishex)
		return error_at(P, num->s, "expected a decimal number");
	memcpy(buf, num->s, num->len);
	buf[num->len] = 0;
	errno = 0;
	double v = f32 ? (double)strtof(buf, NULL) : strtod(buf, NULL);
	if (isinf(v) && !strstr(buf, "inf"))
		return error_at(P, num->s, "number out of range");
	*out = v;
	return 0;
}

static int num_to_bits16(Parser *P, const Num *num, uint16_t *out)
{
	if (!num->ishex || num->s[0] == '-' || num->s[0] == '+')
		return error_at(P, num->s, "f16/bf16 data is written as bit patterns like 0x3c00");
	uint32_t v = 0;
	for (size_t i = 2; i < num->len; i++) {
		char h = num->s[i];
		v = v * 16 + (uint32_t)(is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
		if (v > 0xffff)
			return error_at(P, num->s, "bit pattern does not fit 16 bits");
	}
	*out = (uint16_t)v;
	return 0;
}

/* Grows the scratch buffer to hold at least n bytes. */
static void *scratch(Parser *P, size_t n)
{
	if (n > P->cap) {
		size_t cap = P->cap ? P->cap : 256;
		while (cap < n)
			cap *= 2;
		P->buf = xrealloc(P->buf, cap);
		P->cap = cap;
	}
	return P->buf;
}

/* ---- types ------------------------------------------------------------- */

/* dtype '[' ('*' | dim, ...) ']' with dtype a name or '?'. */
static int parse_type(Parser *P, DType *t, Shape *s)
{
	const char *id;
	size_t n;
	skip_ws(P);
	if (*P->p == '?') {
		P->p++;
		*t = DT_UNDEF;
	} else if (peek_ident(P, &id, &n)) {
		*t = ir_dtype_parse(id, n);
		if (*t == DT_UNDEF)
			return error_at(P, id, "unknown dtype '%.*s'", (int)(n > 40 ? 40 : n), id);
		P->p += n;
	} else {
		return error_at(P, P->p, "expected a type like f32[N, 3]");
	}
	*s = ir_shape_unknown();
	if (expect(P, '[', "to open the shape") < 0)
		return -1;
	if (accept(P, '*'))
		return expect(P, ']', "after '*'");
	s->rank = 0;
	if (accept(P, ']'))
		return 0;
	for (;;) {
		skip_ws(P);
		if (s->rank == IR_MAX_RANK)
			return error_at(P, P->p, "more than %d dims", IR_MAX_RANK);
		Dim *d = &s->d[s->rank++];
		d->n = -1;
		d->sym = 0;
		if (*P->p == '?') {
			P->p++;
		} else if (is_digit(*P->p)) {
			Num num;
			if (scan_number(P, &num) < 0 || num_to_int(P, &num, &d->n) < 0)
				return -1;
		} else if (is_alpha(*P->p) || *P->p == '"') {
			const char *name;
			if (parse_ident_or_string(P, &name, "a dim") < 0)
				return -1;
			d->sym = ir_sym(P->g, name);
		} else {
			return error_at(P, P->p, "expected a dim (integer, name or '?')");
		}
		if (!accept(P, ','))
			return expect(P, ']', "or ',' in shape");
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
	if (scan_number(P, &num) < 0)
		return -1;
	switch (t) {
	case DT_F32: {
		if (num_to_float(P, &num, true, &fv) < 0)
			return -1;
		float x = (float)fv;
		memcpy(dst, &x, 4);
		return 0;
	}
	case DT_F64:
		if (num_to_float(P, &num, false, &fv) < 0)
			return -1;
		memcpy(dst, &fv, 8);
		return 0;
	case DT_F16:
	case DT_BF16:
		if (num_to_bits16(P, &num, &hv) < 0)
			return -1;
		memcpy(dst, &hv, 2);
		return 0;
	default:
		break;
	}
	if (num_to_int(P, &num, &iv) < 0)
		return -1;
	int64_t lo = t == DT_I8 ? INT8_MIN : t == DT_I32 ? INT32_MIN : t == DT_I64 ? INT64_MIN : 0;
	int64_t hi = t == DT_I8 ? INT8_MAX : t == DT_U8 ? UINT8_MAX : t == DT_BOOL ? 1
	           : t == DT_I32 ? INT32_MAX : INT64_MAX;
	if (iv < lo || iv > hi)
		return error_at(P, num.s, "value out of range for %s", ir_dtype_name(t));
	if (ir_dtype_size(t) == 1) {
		uint8_t x = (uint8_t)iv;
		memcpy(dst, &x, 1);
	} else if (ir_dtype_size(t) == 4) {
		int32_t x = (int32_t)iv;
		memcpy(dst, &x, 4);
	} else {
		memcpy(dst, &iv, 8);
	}
	return 0;
}

/* Parses '[' elements ']' for a constant of dtype t into the scratch buffer
 * and the element count into *count. */
static int parse_data(Parser *P, DType t, size_t *count, const char **loc)
{
	size_t esz = ir_dtype_size(t);
	skip_ws(P);
	*loc = P->p;
	if (esz == 0)
		return error_at(P, P->p, "a constant with data needs a dtype");
	if (expect(P, '[', "to open the data (or `elided`)") < 0)
		return -1;
	size_t k = 0;
	if (!accept(P, ']')) {
		do {
			if (k >= MAX_LIST)
				return error_at(P, P->p, "too many elements");
			unsigned char *buf = scratch(P, (k + 1) * esz);
			if (parse_elem(P, t, buf + k * esz) < 0)
				return -1;
			k++;
		} while (accept(P, ','));
		if (expect(P, ']', "or ',' in data") < 0)
			return -1;
	}
	*count = k;
	return 0;
}

/* ('param' | 'const') %name ':' type '=' ('elided' | data) */
static int parse_const(Parser *P, bool param)
{
	const char *name, *loc;
	DType t;
	Shape s;
	if (parse_def(P, &name) < 0 || expect(P, ':', "before the constant's type") < 0 ||
	    parse_type(P, &t, &s) < 0 || expect(P, '=', "before the constant's data") < 0)
		return -1;
	if (accept_kw(P, "elided")) {
		int v = ir_add_const(P->g, name, t, s, NULL, 0, param);
		P->g->val[v].data = NULL;
		P->g->val[v].nbytes = 0;
		return 0;
	}
	size_t count = 0;
	if (parse_data(P, t, &count, &loc) < 0)
		return -1;
	int64_t numel = ir_shape_numel(&s);
	if (ir_shape_static(&s) && (numel < 0 || (uint64_t)numel != count))
		return error_at(P, loc, "%zu elements given, shape holds %" PRId64, count, numel);
	ir_add_const(P->g, name, t, s, P->buf, count * ir_dtype_size(t), param);
	return 0;
}

/* ---- nodes ------------------------------------------------------------- */

/* Kind of attribute `name` in op's schema; false if the schema lacks it. */
static bool schema_kind(Op op, const char *name, AttrKind *kind)
{
	static const char *const kinds[] = {"int", "float", "ints", "floats", "string"};
	size_t nl = strlen(name);
	for (const char *q = ir_ops[op].attrs; *q;) {
		while (*q == ' ')
			q++;
		const char *colon = strchr(q, ':');
		if (!colon)
			return false;
		const char *k = colon + 1, *e = k;
		while (*e && *e != ' ' && *e != '!')
			e++;
		if ((size_t)(colon - q) == nl && memcmp(q, name, nl) == 0) {
			for (int i = 0; i < 5; i++)
				if (ident_is(k, (size_t)(e - k), kinds[i])) {
					*kind = (AttrKind)i;
					return true;
				}
			return false;
		}
		q = e;
		while (*q && *q != ' ')
			q++;
	}
	return false;
}

/* name '=' (number | string | '[' numbers ']') */
static int parse_attr(Parser *P, Op op, int node)
{
	const char *name, *loc;
	skip_ws(P);
	loc = P->p;
	if (parse_ident_or_string(P, &name, "an attribute name") < 0)
		return -1;
	if (ir_attr(&P->g->node[node], name))
		return error_at(P, loc, "duplicate attribute '%s'", name);
	if (expect(P, '=', "after the attribute name") < 0)
		return -1;
	skip_ws(P);
	if (*P->p == '"') {
		const char *s;
		if (parse_string(P, &s) < 0)
			return -1;
		ir_set_string(P->g, node, name, s);
		return 0;
	}
	Num num;
	if (!accept(P, '[')) {
		if (scan_number(P, &num) < 0)
			return -1;
		if (num.isfloat) {
			double f;
			if (num_to_float(P, &num, false, &f) < 0)
				return -1;
			ir_set_float(P->g, node, name, f);
		} else {
			int64_t i;
			if (num_to_int(P, &num, &i) < 0)
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
	if (accept(P, ']')) {
		AttrKind k = AT_INTS;
		isfloat = schema_kind(op, name, &k) && k == AT_FLOATS;
	} else {
		do {
			if (n >= 1 << 20)
				return error_at(P, P->p, "attribute list too long");
			Num *nums = scratch(P, (size_t)(n + 1) * sizeof *nums);
			if (scan_number(P, &nums[n]) < 0)
				return -1;
			if (nums[n].ishex)
				return error_at(P, nums[n].s, "expected a decimal number");
			isfloat |= nums[n++].isfloat;
		} while (accept(P, ','));
		if (expect(P, ']', "or ',' in attribute list") < 0)
			return -1;
	}
	Num *nums = scratch(P, sizeof *nums);
	void *v = ir_alloc(P->g, (size_t)(n ? n : 1) * 8);
	for (int i = 0; i < n; i++)
		if (isfloat ? num_to_float(P, &nums[i], false, (double *)v + i) < 0
		            : num_to_int(P, &nums[i], (int64_t *)v + i) < 0)
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
	if (!peek_ident(P, &id, &n))
		return error_at(P, P->p, "expected an op name");
	Op op = ir_op_parse(id, n);
	if (op == OP_COUNT)
		return error_at(P, id, "unknown op '%.*s'", (int)(n > 40 ? 40 : n), id);
	P->p += n;
	const OpInfo *oi = &ir_ops[op];
	if (nout != oi->nout)
		return error_at(P, id, "%s has %d output%s, %d given", oi->name, oi->nout,
		                oi->nout == 1 ? "" : "s", nout);
	if (expect(P, '(', "after the op name") < 0)
		return -1;
	int nin = 0;
	int *in = scratch(P, sizeof *in); /* free again once the node is added */
	if (!accept(P, ')')) {
		do {
			skip_ws(P);
			const char *argloc = P->p;
			if (nin >= 1 << 20)
				return error_at(P, argloc, "too many inputs");
			in = scratch(P, (size_t)(nin + 1) * sizeof *in);
			if (*P->p == '_' && !is_name_char(P->p[1])) {
				P->p++;
				in[nin] = -1;
				if (nin < oi->nin_min)
					return error_at(P, argloc, "input %d of %s is not optional", nin, oi->name);
			} else if (parse_use(P, &in[nin]) < 0) {
				return -1;
			}
			nin++;
		} while (accept(P, ','));
		if (expect(P, ')', "or ',' after an input") < 0)
			return -1;
	}
	if (nin < oi->nin_min || (oi->nin_max >= 0 && nin > oi->nin_max)) {
		if (oi->nin_max < 0)
			return error_at(P, id, "%s takes at least %d inputs, %d given", oi->name,
			                oi->nin_min, nin);
		if (oi->nin_min == oi->nin_max)
			return error_at(P, id, "%s takes %d input%s, %d given", oi->name, oi->nin_min,
			                oi->nin_min == 1 ? "" : "s", nin);
		return error_at(P, id, "%s takes %d to %d inputs, %d given", oi->name, oi->nin_min,
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
	if (accept(P, '{') && !accept(P, '}')) {
		do {
			if (parse_attr(P, op, node) < 0)
				return -1;
		} while (accept(P, ','));
		if (expect(P, '}', "or ',' after an attribute") < 0)
			return -1;
	}
	if (accept(P, '@')) {
		const char *name;
		if (parse_string(P, &name) < 0)
			return -1;
		P->g->node[node].name = name;
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
			return error_at(P, P->p, "more than %d outputs", MAX_OUTS);
		const char *loc;
		skip_ws(P);
		loc = P->p;
		if (parse_def(P, &name[nout]) < 0)
			return -1;
		for (int k = 0; k < nout; k++)
			if (strcmp(name[k], name[nout]) == 0)
				return error_at(P, loc, "redefinition of %%%s", name[nout]);
		typed[nout] = accept(P, ':');
		if (typed[nout] && parse_type(P, &t[nout], &s[nout]) < 0)
			return -1;
		nout++;
		if (!accept(P, ','))
			break;
	}
	if (expect(P, '=', "after the node's outputs") < 0)
		return -1;
	return parse_call(P, nout, name, t, s, typed);
}

/* ---- statements and the graph ---------------------------------------------- */

static int parse_stmt(Parser *P)
{
	const char *id, *loc;
	size_t n;
	skip_ws(P);
	if (*P->p == '%')
		return parse_node(P);
	if (!peek_ident(P, &id, &n))
		return error_at(P, P->p, "expected a statement (input, param, const, a node, output) or '}'");
	if (ident_is(id, n, "input")) {
		P->p += n;
		const char *name;
		DType t;
		Shape s;
		if (parse_def(P, &name) < 0 || expect(P, ':', "before the input's type") < 0 ||
		    parse_type(P, &t, &s) < 0)
			return -1;
		ir_add_input(P->g, name, t, s);
		return 0;
	}
	if (ident_is(id, n, "param") || ident_is(id, n, "const")) {
		P->p += n;
		return parse_const(P, id[0] == 'p');
	}
	if (ident_is(id, n, "output")) {
		P->p += n;
		int v;
		if (parse_use(P, &v) < 0)
			return -1;
		ir_add_output(P->g, v);
		return 0;
	}
	loc = P->p;
	if (ir_op_parse(id, n) != OP_COUNT) /* a node without outputs */
		return parse_call(P, 0, NULL, NULL, NULL, NULL);
	return error_at(P, loc, "unknown statement '%.*s'", (int)(n > 40 ? 40 : n), id);
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
	if (!accept_kw(&P, "graph"))
		rc = error_at(&P, (skip_ws(&P), P.p), "expected 'graph'");
	if (rc == 0)
		rc = parse_ident_or_string(&P, &name, "a graph name");
	if (rc == 0) {
		P.g->name = name;
		rc = expect(&P, '{', "after the graph name");
	}
	while (rc == 0 && !accept(&P, '}')) {
		if (!*P.p)
			rc = error_at(&P, P.p, "expected '}' to close the graph");
		else
			rc = parse_stmt(&P);
	}
	if (rc == 0) {
		skip_ws(&P);
		if (*P.p)
			rc = error_at(&P, P.p, "unexpected text after the graph");
	}
	free(P.buf);
	if (rc < 0) {
		ir_graph_free(P.g);
		return NULL;
	}
	return P.g;
}
