/* parse_lex.c — the text-IR parser's lexical layer: error reporting with
 * a caret under the column, whitespace and comments, identifiers, quoted
 * strings, value names and numeric literals. The cursor never moves past
 * the source's terminating NUL. */
#include "parse.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------ */

int px_error_at(Parser *P, const char *loc, const char *fmt, ...)
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


void px_skip_ws(Parser *P)
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
bool px_accept(Parser *P, char c)
{
	px_skip_ws(P);
	if (*P->p != c)
		return false;
	P->p++;
	return true;
}

int px_expect(Parser *P, char c, const char *what)
{
	if (px_accept(P, c))
		return 0;
	return px_error_at(P, P->p, "expected '%c' %s", c, what);
}

/* An identifier at the cursor (after blanks): sets *s, *n; false if none. */
bool px_peek_ident(Parser *P, const char **s, size_t *n)
{
	px_skip_ws(P);
	if (!is_alpha(*P->p))
		return false;
	const char *q = P->p;
	while (is_alnum(*q))
		q++;
	*s = P->p;
	*n = (size_t)(q - P->p);
	return true;
}

bool px_ident_is(const char *s, size_t n, const char *kw)
{
	return strlen(kw) == n && memcmp(s, kw, n) == 0;
}

/* Consumes keyword kw if it is the next identifier. */
bool px_accept_kw(Parser *P, const char *kw)
{
	const char *s;
	size_t n;
	if (!px_peek_ident(P, &s, &n) || !px_ident_is(s, n, kw))
		return false;
	P->p += n;
	return true;
}

const char *px_copy_span(Parser *P, const char *s, size_t n)
{
	char *r = ir_alloc(P->g, n + 1);
	memcpy(r, s, n);
	return r;
}

/* Reads a C string literal at the cursor into the graph's arena. */
int px_parse_string(Parser *P, const char **out)
{
	px_skip_ws(P);
	const char *start = P->p;
	if (*P->p != '"')
		return px_error_at(P, P->p, "expected a string");
	P->p++;
	size_t n = 0;
	for (const char *q = P->p; *q != '"'; q++, n++) { /* upper bound on the length */
		if (!*q || *q == '\n')
			return px_error_at(P, start, "unterminated string");
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
				return px_error_at(P, esc, "bad \\x escape");
			c = (char)v;
			break;
		}
		default:
			if (c >= '0' && c <= '7') {
				int v = c - '0';
				for (int nd = 1; nd < 3 && *P->p >= '0' && *P->p <= '7'; nd++)
					v = v * 8 + (*P->p++ - '0');
				if (v > 255)
					return px_error_at(P, esc, "octal escape out of range");
				c = (char)v;
				break;
			}
			return px_error_at(P, esc, "unknown escape sequence");
		}
		if (c == 0)
			return px_error_at(P, esc, "strings may not contain NUL");
		r[k++] = c;
	}
	P->p++;
	r[k] = 0;
	*out = r;
	return 0;
}

/* An identifier or a string (graph names, symbolic dims, attribute names). */
int px_parse_ident_or_string(Parser *P, const char **out, const char *what)
{
	const char *s;
	size_t n;
	if (px_peek_ident(P, &s, &n)) {
		P->p += n;
		*out = px_copy_span(P, s, n);
		return 0;
	}
	if (*P->p == '"')
		return px_parse_string(P, out);
	return px_error_at(P, P->p, "expected %s", what);
}

/* `%name` or `%"quoted"` (not empty). A bare name stops before trailing
 * colons. */
int px_parse_value_name(Parser *P, const char **out, const char **loc)
{
	px_skip_ws(P);
	*loc = P->p;
	if (*P->p != '%')
		return px_error_at(P, P->p, "expected a value name like %%x");
	P->p++;
	if (*P->p == '"') {
		if (px_parse_string(P, out) < 0)
			return -1;
		if (!**out) /* the graph would rename it, so it could not be referred to */
			return px_error_at(P, *loc, "a value name may not be empty");
		return 0;
	}
	const char *s = P->p, *q = s;
	while (is_name_char(*q))
		q++;
	while (q > s && q[-1] == ':')
		q--;
	if (q == s)
		return px_error_at(P, *loc, "expected a value name after '%%'");
	P->p = q;
	*out = px_copy_span(P, s, (size_t)(q - s));
	return 0;
}

/* A value reference: the name must already be defined. */
int px_parse_use(Parser *P, int *v)
{
	const char *name, *loc;
	if (px_parse_value_name(P, &name, &loc) < 0)
		return -1;
	*v = ir_find_value(P->g, name);
	if (*v < 0)
		return px_error_at(P, loc, "unknown value %%%s", name);
	return 0;
}

/* A fresh definition: the name must not be taken. */
int px_parse_def(Parser *P, const char **name)
{
	const char *loc;
	if (px_parse_value_name(P, name, &loc) < 0)
		return -1;
	if (ir_find_value(P->g, *name) >= 0)
		return px_error_at(P, loc, "redefinition of %%%s", *name);
	return 0;
}

/* ---- numbers ------------------------------------------------------------ */

bool px_match_word(const char *q, const char *w)
{
	size_t n = strlen(w);
	return strncmp(q, w, n) == 0 && !is_alnum(q[n]);
}

/* Scans [+-]? (inf | nan | 0x<hex> | digits[.digits][e[+-]digits] | .digits...) */
int px_scan_number(Parser *P, Num *num)
{
	px_skip_ws(P);
	const char *q = P->p;
	memset(num, 0, sizeof *num);
	num->s = q;
	if (*q == '-' || *q == '+')
		q++;
	if (px_match_word(q, "inf") || px_match_word(q, "nan")) {
		q += 3;
		num->isfloat = true;
	} else if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
		q += 2;
		if (!is_hex(*q))
			return px_error_at(P, P->p, "expected hex digits");
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
			return px_error_at(P, P->p, "expected a number");
		if (*q == 'e' || *q == 'E') {
			q++;
			num->isfloat = true;
			if (*q == '-' || *q == '+')
				q++;
			if (!is_digit(*q))
				return px_error_at(P, P->p, "bad exponent in number");
			while (is_digit(*q))
				q++;
		}
	}
	if (is_alnum(*q) || *q == '.')
		return px_error_at(P, P->p, "malformed number");
	num->len = (size_t)(q - num->s);
	if (num->len > MAX_NUM_LEN)
		return px_error_at(P, P->p, "number too long");
	P->p = q;
	return 0;
}

int px_num_to_int(Parser *P, const Num *num, int64_t *out)
{
	char buf[MAX_NUM_LEN + 1];
	if (num->isfloat || num->ishex)
		return px_error_at(P, num->s, "expected an integer");
	memcpy(buf, num->s, num->len);
	buf[num->len] = 0;
	errno = 0;
	long long v = strtoll(buf, NULL, 10);
	if (errno == ERANGE)
		return px_error_at(P, num->s, "integer out of range");
	*out = v;
	return 0;
}

/* Converts to double (f32: converted by strtof, so exactly as written). */
int px_num_to_float(Parser *P, const Num *num, bool f32, double *out)
{
	char buf[MAX_NUM_LEN + 1];
	if (num->ishex)
		return px_error_at(P, num->s, "expected a decimal number");
	memcpy(buf, num->s, num->len);
	buf[num->len] = 0;
	errno = 0;
	double v = f32 ? (double)strtof(buf, NULL) : strtod(buf, NULL);
	if (isinf(v) && !strstr(buf, "inf"))
		return px_error_at(P, num->s, "number out of range");
	*out = v;
	return 0;
}

int px_num_to_bits16(Parser *P, const Num *num, uint16_t *out)
{
	if (!num->ishex || num->s[0] == '-' || num->s[0] == '+')
		return px_error_at(P, num->s, "f16/bf16 data is written as bit patterns like 0x3c00");
	uint32_t v = 0;
	for (size_t i = 2; i < num->len; i++) {
		char h = num->s[i];
		v = v * 16 + (uint32_t)(is_digit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
		if (v > 0xffff)
			return px_error_at(P, num->s, "bit pattern does not fit 16 bits");
	}
	*out = (uint16_t)v;
	return 0;
}

/* Grows the px_scratch buffer to hold at least n bytes. */
void *px_scratch(Parser *P, size_t n)
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
