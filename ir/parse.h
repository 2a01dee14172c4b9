/* parse.h — what the text-IR parser's two files share: the parser state
 * and the lexing helpers (parse_lex.c) used by the grammar (parse.c). */
#ifndef NNCC_PARSE_H
#define NNCC_PARSE_H

#include "ir.h"

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

static inline bool is_alpha(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
static inline bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
static inline bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static inline bool is_name_char(char c) { return is_alnum(c) || c == '.' || c == ':' || c == '/' || c == '-'; }

/* parse_lex.c */
/* Appends "file:line:col: message", the source line and a caret; returns -1. */
int px_error_at(Parser *P, const char *loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void px_skip_ws(Parser *P);
bool px_accept(Parser *P, char c);
int px_expect(Parser *P, char c, const char *what);
bool px_peek_ident(Parser *P, const char **s, size_t *n);
bool px_ident_is(const char *s, size_t n, const char *kw);
bool px_accept_kw(Parser *P, const char *kw);
const char *px_copy_span(Parser *P, const char *s, size_t n);
int px_parse_string(Parser *P, const char **out);
int px_parse_ident_or_string(Parser *P, const char **out, const char *what);
int px_parse_value_name(Parser *P, const char **out, const char **loc);
int px_parse_use(Parser *P, int *v);
int px_parse_def(Parser *P, const char **name);
bool px_match_word(const char *q, const char *w);
int px_scan_number(Parser *P, Num *num);
int px_num_to_int(Parser *P, const Num *num, int64_t *out);
int px_num_to_float(Parser *P, const Num *num, bool f32, double *out);
int px_num_to_bits16(Parser *P, const Num *num, uint16_t *out);
void *px_scratch(Parser *P, size_t n);

#endif
