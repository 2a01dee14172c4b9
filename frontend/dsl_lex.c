/* dsl_lex.c — the `.nn` lexer and its diagnostics (docs/language.md,
 * "Lexical rules"). A newline ends a statement except inside parentheses
 * or brackets; `#` starts a comment. Errors print chibicc-style: the
 * position, the source line and a caret, then a hint where one helps. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl_impl.h"

static void push(NnSrc *s, NnTok t)
{
	if (s->ntok == s->captok) {
		s->captok = s->captok ? 2 * s->captok : 256;
		s->tok = xrealloc(s->tok, (size_t)s->captok * sizeof *s->tok);
	}
	s->tok[s->ntok++] = t;
}

/* The source line holding p, and its length. */
static const char *line_of(const NnSrc *s, const char *p, int *len)
{
	const char *b = p;
	while (b > s->text && b[-1] != '\n')
		b--;
	const char *e = p;
	while (*e && *e != '\n')
		e++;
	*len = (int)(e - b);
	return b;
}

int nn_err(NnSrc *s, const NnTok *t, const char *hint, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	s->nerr++;
	int n;
	const char *ln = line_of(s, t->s, &n);
	if (n > 200)
		n = 200;
	char caret[256];
	int c = t->col - 1 < 200 ? t->col - 1 : 200, k = 0;
	for (int i = 0; i < c && k < 250; i++)
		caret[k++] = ln[i] == '\t' ? '\t' : ' ';
	caret[k++] = '^';
	caret[k] = 0;
	if (hint)
		return diag(s->d, "%s:%d:%d: error: %s\n%.*s\n%s\nhint: %s", s->file, t->line, t->col,
			    msg, n, ln, caret, hint);
	return diag(s->d, "%s:%d:%d: error: %s\n%.*s\n%s", s->file, t->line, t->col, msg, n, ln,
		    caret);
}

bool nn_tok_is(const NnTok *t, const char *p)
{
	return (t->kind == TK_PUNCT || t->kind == TK_IDENT) && (int)strlen(p) == t->len &&
	       memcmp(t->s, p, (size_t)t->len) == 0;
}

static int edit_distance(const char *a, const char *b)
{
	int n = (int)strlen(a), m = (int)strlen(b);
	if (n > 63 || m > 63)
		return 1 << 20;
	int row[64];
	for (int j = 0; j <= m; j++)
		row[j] = j;
	for (int i = 1; i <= n; i++) {
		int diag0 = row[0];
		row[0] = i;
		for (int j = 1; j <= m; j++) {
			int up = row[j];
			int best = diag0 + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag0 = up;
		}
	}
	return row[m];
}

const char *nn_nearest(const char *name, const char *const *cand, int n)
{
	int limit = ((int)strlen(name) + 2) / 3;
	if (limit < 1)
		limit = 1;
	const char *best = NULL;
	int bd = limit + 1;
	for (int i = 0; i < n; i++) {
		int dd = edit_distance(name, cand[i]);
		if (dd < bd && dd < (int)strlen(name) && strcmp(name, cand[i]) != 0) {
			bd = dd;
			best = cand[i];
		}
	}
	return best;
}

static const char *const punct2[] = {"->"};
static const char punct1[] = "+-*/@()[]{},:=";

void nn_lex(NnSrc *s)
{
	const char *p = s->text;
	int line = 1, col = 1, depth = 0;
	while (*p) {
		NnTok t = {TK_EOF, p, 0, line, col, 0, false};
		if (*p == '\n') {
			if (depth == 0 && s->ntok > 0 && s->tok[s->ntok - 1].kind != TK_NL) {
				t.kind = TK_NL;
				t.len = 1;
				push(s, t);
			}
			p++;
			line++;
			col = 1;
			continue;
		}
		if (*p == ' ' || *p == '\t' || *p == '\r') {
			p++;
			col++;
			continue;
		}
		if (*p == '#') {
			while (*p && *p != '\n')
				p++;
			continue;
		}
		const char *b = p;
		if (isalpha((unsigned char)*p) || *p == '_') {
			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
			t.kind = TK_IDENT;
		} else if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
			char *end;
			t.num = strtod(p, &end);
			t.is_int = true;
			for (const char *q = p; q < end; q++)
				if (*q == '.' || *q == 'e' || *q == 'E')
					t.is_int = false;
			p = end;
			t.kind = TK_NUM;
			if (isalnum((unsigned char)*p) || *p == '_' || *p == '.') {
				while (isalnum((unsigned char)*p) || *p == '_' || *p == '.')
					p++;
				t.len = (int)(p - b);
				nn_err(s, &t, NULL, "malformed number '%.*s'", t.len, b);
				col += t.len;
				push(s, t); /* kept, so the parser does not report it again */
				continue;
			}
		} else if (*p == '"') {
			p++;
			while (*p && *p != '"' && *p != '\n')
				p++;
			if (*p != '"') {
				t.len = 1;
				nn_err(s, &t, NULL, "unterminated string");
				col += (int)(p - b);
				continue;
			}
			p++;
			t.kind = TK_STR;
		} else {
			bool two = false;
			for (size_t k = 0; k < sizeof punct2 / sizeof *punct2; k++)
				if (strncmp(p, punct2[k], 2) == 0)
					two = true;
			if (two) {
				p += 2;
			} else if (strchr(punct1, *p)) {
				if (*p == '(' || *p == '[')
					depth++;
				else if ((*p == ')' || *p == ']') && depth > 0)
					depth--;
				p++;
			} else {
				t.len = 1;
				unsigned char ch = (unsigned char)*p;
				if (isprint(ch))
					nn_err(s, &t, NULL, "unexpected character '%c'", ch);
				else
					nn_err(s, &t, NULL, "unexpected byte 0x%02x", ch);
				p++;
				col++;
				continue;
			}
			t.kind = TK_PUNCT;
		}
		t.len = (int)(p - b);
		col += t.len;
		push(s, t);
	}
	if (p > s->text && p[-1] == '\n') { /* the end: point after the last line's text */
		const char *b = --p;
		while (b > s->text && b[-1] != '\n')
			b--;
		line--;
		col = (int)(p - b) + 1;
	}
	NnTok nl = {TK_NL, p, 0, line, col, 0, false};
	if (s->ntok > 0 && s->tok[s->ntok - 1].kind != TK_NL)
		push(s, nl);
	NnTok eof = {TK_EOF, p, 0, line, col, 0, false};
	push(s, eof);
}
