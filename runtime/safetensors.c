/* safetensors.c — the safetensors weights format: an 8-byte little-endian
 * header length N, N bytes of JSON
 *   {"__metadata__": {"format": "nncc", "step": "3", "seed": "0"},
 *    "fc1.weight": {"dtype": "F32", "shape": [128, 784], "data_offsets": [0, 401408]}, ...}
 * (padded with spaces), then the data section. Reading treats the file as
 * untrusted: a bounded recursive-descent JSON reader (depth, sizes,
 * duplicates), every dtype/shape/range checked against the data section
 * with checked arithmetic. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

static const struct {
	int dtype;        /* nncc_dtype */
	const char *name; /* safetensors spelling */
} st_dtypes[] = {
	{NNCC_DTYPE_F32, "F32"}, {NNCC_DTYPE_F64, "F64"}, {NNCC_DTYPE_F16, "F16"},
	{NNCC_DTYPE_BF16, "BF16"}, {NNCC_DTYPE_I64, "I64"}, {NNCC_DTYPE_I32, "I32"},
	{NNCC_DTYPE_I16, "I16"}, {NNCC_DTYPE_I8, "I8"}, {NNCC_DTYPE_U8, "U8"},
	{NNCC_DTYPE_U16, "U16"}, {NNCC_DTYPE_U32, "U32"}, {NNCC_DTYPE_U64, "U64"},
	{NNCC_DTYPE_BOOL, "BOOL"},
};
enum { NDT = sizeof st_dtypes / sizeof st_dtypes[0] };
enum { ST_MAX_HEADER = 100 << 20 }; /* the format's own limit: 100 MB */

/* --- reading ---------------------------------------------------------------- */

/* A cursor over the JSON header. */
typedef struct Js {
	const char *p, *end; /* next byte, end of the header */
	const char *start;   /* first byte of the header */
	const char *what;    /* file name for messages */
	char **err;          /* message out */
} Js;

static nncc_status bad(Js *j, const char *msg)
{
	return rt_err(j->err, NNCC_STATUS_BAD_MODEL, "%s: malformed safetensors header: %s (at byte %ld)",
		      j->what, msg, (long)(j->p - j->start));
}

static void ws(Js *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int accept(Js *j, char c)
{
	ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return 1;
	}
	return 0;
}

/* A JSON string into a malloc'd UTF-8 C string (no NUL inside). */
static nncc_status str(Js *j, char **out)
{
	*out = NULL;
	if (!accept(j, '"'))
		return bad(j, "expected a string");
	size_t cap = 16, n = 0;
	char *s = rt_malloc(cap);
	if (!s)
		return rt_err(j->err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	for (;;) {
		if (j->p >= j->end) {
			free(s);
			return bad(j, "unterminated string");
		}
		unsigned c = (unsigned char)*j->p++;
		unsigned char enc[4];
		int ne = 1;
		if (c == '"')
			break;
		if (c < 0x20) {
			free(s);
			return bad(j, "control character in a string");
		}
		enc[0] = (unsigned char)c;
		if (c == '\\') {
			if (j->p >= j->end) {
				free(s);
				return bad(j, "unterminated escape");
			}
			c = (unsigned char)*j->p++;
			if (c == '"' || c == '\\' || c == '/') {
				enc[0] = (unsigned char)c;
			} else if (c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
				enc[0] = c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n' : c == 'r' ? '\r' : '\t';
			} else if (c == 'u') {
				unsigned u = 0;
				for (int k = 0; k < 4; k++) {
					char h = j->p < j->end ? *j->p++ : 0;
					int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
						: h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
					if (d < 0) {
						free(s);
						return bad(j, "bad \\u escape");
					}
					u = u * 16 + (unsigned)d;
				}
				if (u == 0 || (u >= 0xd800 && u <= 0xdfff)) {
					free(s);
					return bad(j, "\\u escape of NUL or a surrogate");
				}
				if (u < 0x80) {
					enc[0] = (unsigned char)u;
				} else if (u < 0x800) {
					enc[0] = (unsigned char)(0xc0 | u >> 6);
					enc[1] = (unsigned char)(0x80 | (u & 63));
					ne = 2;
				} else {
					enc[0] = (unsigned char)(0xe0 | u >> 12);
					enc[1] = (unsigned char)(0x80 | ((u >> 6) & 63));
					enc[2] = (unsigned char)(0x80 | (u & 63));
					ne = 3;
				}
			} else {
				free(s);
				return bad(j, "bad escape");
			}
		}
		if (n + (size_t)ne + 1 > cap) {
			char *t = rt_realloc(s, cap *= 2);
			if (!t) {
				free(s);
				return rt_err(j->err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
			}
			s = t;
		}
		memcpy(s + n, enc, (size_t)ne);
		n += (size_t)ne;
	}
	s[n] = 0;
	*out = s;
	return NNCC_STATUS_OK;
}

/* A non-negative integer. */
static nncc_status js_uint(Js *j, int64_t *out)
{
	ws(j);
	int64_t v = 0;
	const char *s = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
		if (!rt_ck_mul(v, 10, &v) || !rt_ck_add(v, *j->p - '0', &v))
			return bad(j, "integer too large");
		j->p++;
	}
	if (j->p == s)
		return bad(j, "expected a non-negative integer");
	*out = v;
	return NNCC_STATUS_OK;
}

/* [u, u, ...] of at most max entries. */
static nncc_status uints(Js *j, int64_t *v, int max, int *n)
{
	nncc_status st;
	*n = 0;
	if (!accept(j, '['))
		return bad(j, "expected '['");
	if (accept(j, ']'))
		return NNCC_STATUS_OK;
	do {
		if (*n == max)
			return bad(j, "too many entries in a list");
		if ((st = js_uint(j, &v[(*n)++])) != NNCC_STATUS_OK)
			return st;
	} while (accept(j, ','));
	return accept(j, ']') ? NNCC_STATUS_OK : bad(j, "expected ']'");
}

/* {"dtype": ..., "shape": [...], "data_offsets": [b, e]} */
static nncc_status entry(Js *j, RtStEntry *e)
{
	nncc_status st;
	int have = 0, n;
	if (!accept(j, '{'))
		return bad(j, "expected '{' for a tensor");
	do {
		char *key;
		if ((st = str(j, &key)) != NNCC_STATUS_OK)
			return st;
		if (!accept(j, ':')) {
			free(key);
			return bad(j, "expected ':'");
		}
		if (strcmp(key, "dtype") == 0) {
			char *dt;
			free(key);
			if ((st = str(j, &dt)) != NNCC_STATUS_OK)
				return st;
			e->dtype = 0;
			for (int k = 0; k < NDT; k++)
				if (strcmp(dt, st_dtypes[k].name) == 0)
					e->dtype = st_dtypes[k].dtype;
			free(dt);
			if (!e->dtype)
				return rt_err(j->err, NNCC_STATUS_UNSUPPORTED, "%s: tensor '%s': unsupported dtype",
					      j->what, e->name);
			have |= 1;
		} else if (strcmp(key, "shape") == 0) {
			free(key);
			if ((st = uints(j, e->dims, RT_MAX_RANK, &e->rank)) != NNCC_STATUS_OK)
				return st;
			have |= 2;
		} else if (strcmp(key, "data_offsets") == 0) {
			int64_t off[2];
			free(key);
			if ((st = uints(j, off, 2, &n)) != NNCC_STATUS_OK)
				return st;
			if (n != 2)
				return bad(j, "data_offsets needs two numbers");
			e->begin = off[0];
			e->end = off[1];
			have |= 4;
		} else {
			free(key);
			return bad(j, "unknown key in a tensor entry");
		}
	} while (accept(j, ','));
	if (!accept(j, '}'))
		return bad(j, "expected '}'");
	if (have != 7)
		return rt_err(j->err, NNCC_STATUS_BAD_MODEL, "%s: tensor '%s': needs dtype, shape and "
			      "data_offsets", j->what, e->name);
	return NNCC_STATUS_OK;
}

/* {"key": "value", ...}: keeps step and seed. */
static nncc_status metadata(Js *j, RtSt *st)
{
	nncc_status s;
	if (!accept(j, '{'))
		return bad(j, "expected '{' for __metadata__");
	if (accept(j, '}'))
		return NNCC_STATUS_OK;
	do {
		char *k, *v;
		if ((s = str(j, &k)) != NNCC_STATUS_OK)
			return s;
		if (!accept(j, ':')) {
			free(k);
			return bad(j, "expected ':'");
		}
		if ((s = str(j, &v)) != NNCC_STATUS_OK) {
			free(k);
			return s;
		}
		char **slot = strcmp(k, "step") == 0 ? &st->meta_step : strcmp(k, "seed") == 0 ? &st->meta_seed : NULL;
		free(k);
		if (slot) {
			free(*slot);
			*slot = v;
		} else {
			free(v);
		}
	} while (accept(j, ','));
	return accept(j, '}') ? NNCC_STATUS_OK : bad(j, "expected '}'");
}

static nncc_status header(Js *j, RtSt *st)
{
	nncc_status s;
	int cap = 0;
	if (!accept(j, '{'))
		return bad(j, "expected '{'");
	if (accept(j, '}'))
		return NNCC_STATUS_OK;
	do {
		char *k;
		if ((s = str(j, &k)) != NNCC_STATUS_OK)
			return s;
		if (!accept(j, ':')) {
			free(k);
			return bad(j, "expected ':'");
		}
		if (strcmp(k, "__metadata__") == 0) {
			free(k);
			if ((s = metadata(j, st)) != NNCC_STATUS_OK)
				return s;
			continue;
		}
		for (int i = 0; i < st->n; i++)
			if (strcmp(st->t[i].name, k) == 0) {
				s = rt_err(j->err, NNCC_STATUS_BAD_MODEL, "%s: tensor '%s' listed twice", j->what, k);
				free(k);
				return s;
			}
		if (st->n == cap) {
			cap = cap ? 2 * cap : 16;
			RtStEntry *t = rt_realloc(st->t, (size_t)cap * sizeof *t);
			if (!t) {
				free(k);
				return rt_err(j->err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
			}
			st->t = t;
		}
		RtStEntry *e = &st->t[st->n++];
		memset(e, 0, sizeof *e);
		e->name = k;
		if ((s = entry(j, e)) != NNCC_STATUS_OK)
			return s;
	} while (accept(j, ','));
	if (!accept(j, '}'))
		return bad(j, "expected '}'");
	ws(j);
	return j->p == j->end ? NNCC_STATUS_OK : bad(j, "trailing bytes after the header");
}

nncc_status
rt_st_parse(const void *buf, size_t len, RtSt *st, const char *what, char **err)
{
	const unsigned char *b = buf;
	uint64_t n = 0;
	nncc_status s;

	memset(st, 0, sizeof *st);
	if (!what)
		what = "safetensors";
	if (len < 8)
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: not a safetensors file (%zu bytes)", what, len);
	for (int i = 7; i >= 0; i--)
		n = n << 8 | b[i];
	if (n < 2 || n > ST_MAX_HEADER || n > len - 8)
		return rt_err(err, NNCC_STATUS_BAD_MODEL,
			      "%s: not a safetensors file (header length %llu, file %zu bytes)", what,
			      (unsigned long long)n, len);
	Js j = {(const char *)b + 8, (const char *)b + 8 + n, (const char *)b + 8, what, err};
	if ((s = header(&j, st)) != NNCC_STATUS_OK) {
		rt_st_free(st);
		return s;
	}
	st->data = b + 8 + n;
	st->ndata = (int64_t)(len - 8 - n);
	for (int i = 0; i < st->n; i++) {
		RtStEntry *e = &st->t[i];
		int64_t nbytes;
		if ((s = rt_tensor_bytes(e->dtype, e->rank, e->dims, &nbytes, e->name, err)) != NNCC_STATUS_OK)
			break;
		if (e->begin > e->end || e->end > st->ndata || e->end - e->begin != nbytes) {
			s = rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: tensor '%s': data_offsets [%lld, %lld] do "
				   "not fit its %lld bytes in the %lld-byte data section", what, e->name,
				   (long long)e->begin, (long long)e->end, (long long)nbytes,
				   (long long)st->ndata);
			break;
		}
	}
	if (s != NNCC_STATUS_OK)
		rt_st_free(st);
	return s;
}

void
rt_st_free(RtSt *st)
{
	for (int i = 0; i < st->n; i++)
		free(st->t[i].name);
	free(st->t);
	free(st->meta_step);
	free(st->meta_seed);
	memset(st, 0, sizeof *st);
}

/* --- writing ---------------------------------------------------------------- */

/* A growing string. */
typedef struct Sb {
	char *s;
	size_t n, cap;
	int oom;
} Sb;

static void put(Sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (b->n + n + 1 > cap)
			cap *= 2;
		char *t = rt_realloc(b->s, cap);
		if (!t) {
			b->oom = 1;
			return;
		}
		b->s = t;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
}

static void puts_(Sb *b, const char *s) { put(b, s, strlen(s)); }

static void putq(Sb *b, const char *s) /* a JSON string */
{
	put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[8];
		if (c == '"' || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			put(b, e, 2);
		} else if (c < 0x20) {
			snprintf(e, sizeof e, "\\u%04x", c);
			puts_(b, e);
		} else {
			put(b, (const char *)&c, 1);
		}
	}
	put(b, "\"", 1);
}

nncc_status
rt_st_write(const char *path, const RtTensor *t, int n, const char *step, const char *seed,
	    char **err)
{
	Sb h = {0};
	char num[64];
	int64_t off = 0;
	nncc_status st = NNCC_STATUS_OK;

	puts_(&h, "{\"__metadata__\":{\"format\":\"nncc\"");
	if (step) {
		puts_(&h, ",\"step\":");
		putq(&h, step);
	}
	if (seed) {
		puts_(&h, ",\"seed\":");
		putq(&h, seed);
	}
	puts_(&h, "}");
	for (int i = 0; i < n; i++) {
		const char *dt = NULL;
		for (int k = 0; k < NDT; k++)
			if (st_dtypes[k].dtype == t[i].dtype)
				dt = st_dtypes[k].name;
		if (!dt) {
			free(h.s);
			return rt_err(err, NNCC_STATUS_UNSUPPORTED, "%s: tensor '%s': dtype %s has no "
				      "safetensors name", path, t[i].name, nncc_dtype_name(t[i].dtype));
		}
		puts_(&h, ",");
		putq(&h, t[i].name);
		puts_(&h, ":{\"dtype\":\"");
		puts_(&h, dt);
		puts_(&h, "\",\"shape\":[");
		for (int d = 0; d < t[i].rank; d++) {
			snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)t[i].dims[d]);
			puts_(&h, num);
		}
		snprintf(num, sizeof num, "],\"data_offsets\":[%lld,%lld]}", (long long)off,
			 (long long)(off + t[i].nbytes));
		puts_(&h, num);
		off += t[i].nbytes;
	}
	puts_(&h, "}");
	while (!h.oom && h.n % 8)
		puts_(&h, " ");
	if (h.oom) {
		free(h.s);
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	}
	const void **part = rt_malloc((size_t)(n + 2) * sizeof *part);
	size_t *bytes = rt_malloc((size_t)(n + 2) * sizeof *bytes);
	unsigned char len[8];
	if (!part || !bytes) {
		free(part);
		free(bytes);
		free(h.s);
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	}
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
	part[0] = len;
	bytes[0] = 8;
	part[1] = h.s;
	bytes[1] = h.n;
	for (int i = 0; i < n; i++) {
		part[2 + i] = t[i].data;
		bytes[2 + i] = (size_t)t[i].nbytes;
	}
	st = rt_write_file(path, (const void *const *)part, bytes, n + 2, err);
	free(part);
	free(bytes);
	free(h.s);
	return st;
}
