/* npy.c — NumPy .npy files, read and written without numpy.
 *
 * Layout: "\x93NUMPY", major, minor, a header length (u16 for v1, u32 for
 * v2/v3, little-endian), then a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces to a 64-byte boundary and ended by '\n', then the
 * raw data. The header is untrusted: it is parsed by a small bounded
 * tokenizer (no eval), every size is checked, and the data must be exactly
 * product(shape) * itemsize bytes. Only C order and little-endian data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

enum {
	MAGIC_LEN = 6,              /* "\x93NUMPY" */
	MAX_HEADER = 1 << 20,       /* longest header accepted, in bytes */
	GROWTH_DIGITS = 21,         /* numpy's spare room after the dict */
};

static const char magic[MAGIC_LEN] = "\x93NUMPY";

/* descr strings and their dtypes; the first match for a dtype is written. */
static const struct {
	const char *descr; /* numpy's array-protocol type string */
	int dtype;         /* nncc_dtype */
} descrs[] = {
	{"<f4", NNCC_DTYPE_F32}, {"<f8", NNCC_DTYPE_F64}, {"<f2", NNCC_DTYPE_F16},
	{"<i4", NNCC_DTYPE_I32}, {"<i8", NNCC_DTYPE_I64}, {"<i2", NNCC_DTYPE_I16},
	{"<u2", NNCC_DTYPE_U16}, {"<u4", NNCC_DTYPE_U32}, {"<u8", NNCC_DTYPE_U64},
	{"|i1", NNCC_DTYPE_I8},  {"|u1", NNCC_DTYPE_U8},  {"|b1", NNCC_DTYPE_BOOL},
	{"<i1", NNCC_DTYPE_I8},  {"<u1", NNCC_DTYPE_U8},  {"<b1", NNCC_DTYPE_BOOL},
	{"=i1", NNCC_DTYPE_I8},  {"=u1", NNCC_DTYPE_U8},  {"=b1", NNCC_DTYPE_BOOL},
};

/* --- reading --------------------------------------------------------------- */

typedef struct Lex {
	const char *p;   /* next character */
	const char *end; /* end of the header */
	const char *what; /* file name for messages */
	char **err;       /* where messages go */
} Lex;

static nncc_status
bad(Lex *l, const char *why)
{
	return rt_err(l->err, NNCC_STATUS_BAD_MODEL, "%s: malformed .npy header: %s", l->what, why);
}

static void
skip_ws(Lex *l)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r'))
		l->p++;
}

static int
eat(Lex *l, char c)
{
	skip_ws(l);
	if (l->p < l->end && *l->p == c) {
		l->p++;
		return 1;
	}
	return 0;
}

/* A quoted string without escapes into buf (size bytes); 0 on failure. */
static int
string(Lex *l, char *buf, size_t size)
{
	char q;
	size_t n = 0;

	skip_ws(l);
	if (l->p >= l->end || (*l->p != '\'' && *l->p != '"'))
		return 0;
	q = *l->p++;
	while (l->p < l->end && *l->p != q) {
		if (*l->p == '\\' || n + 1 >= size)
			return 0;
		buf[n++] = *l->p++;
	}
	if (l->p >= l->end)
		return 0;
	l->p++;
	buf[n] = 0;
	return 1;
}

static int
word(Lex *l, const char *w)
{
	size_t n = strlen(w);

	skip_ws(l);
	if ((size_t)(l->end - l->p) >= n && memcmp(l->p, w, n) == 0) {
		l->p += n;
		return 1;
	}
	return 0;
}

/* (d0, d1, ...) with an optional trailing comma; (d,) for rank 1. */
static nncc_status
shape(Lex *l, RtTensor *t)
{
	int64_t d;

	if (!eat(l, '('))
		return bad(l, "shape is not a tuple");
	t->rank = 0;
	for (;;) {
		if (eat(l, ')'))
			return NNCC_STATUS_OK;
		skip_ws(l);
		if (l->p >= l->end || *l->p < '0' || *l->p > '9')
			return bad(l, "shape holds something other than non-negative integers");
		d = 0;
		while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
			if (!rt_ck_mul(d, 10, &d) || !rt_ck_add(d, *l->p - '0', &d))
				return bad(l, "dimension too large");
			l->p++;
		}
		if (l->p < l->end && *l->p == 'L') /* written by Python 2 */
			l->p++;
		if (t->rank == RT_MAX_RANK)
			return rt_err(l->err, NNCC_STATUS_UNSUPPORTED, "%s: more than %d dimensions",
				      l->what, RT_MAX_RANK);
		t->dims[t->rank++] = d;
		if (!eat(l, ',')) {
			if (eat(l, ')'))
				return NNCC_STATUS_OK;
			return bad(l, "expected ',' or ')' in shape");
		}
	}
}

static nncc_status
descr_dtype(Lex *l, const char *s, int *dtype)
{
	for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
		if (strcmp(s, descrs[i].descr) == 0) {
			*dtype = descrs[i].dtype;
			return NNCC_STATUS_OK;
		}
	if (s[0] == '>')
		return rt_err(l->err, NNCC_STATUS_UNSUPPORTED,
			      "%s: big-endian data ('%s') is not supported", l->what, s);
	return rt_err(l->err, NNCC_STATUS_UNSUPPORTED, "%s: dtype '%s' is not supported", l->what,
		      s);
}

/* Parses the dict; fills t->dtype, rank, dims. */
static nncc_status
header(Lex *l, RtTensor *t)
{
	char key[32], val[32];
	int have_descr = 0, have_order = 0, have_shape = 0;
	nncc_status st;

	if (!eat(l, '{'))
		return bad(l, "expected '{'");
	while (!eat(l, '}')) {
		if (!string(l, key, sizeof key))
			return bad(l, "expected a quoted key");
		if (!eat(l, ':'))
			return bad(l, "expected ':' after a key");
		if (strcmp(key, "descr") == 0 && !have_descr) {
			if (!string(l, val, sizeof val))
				return bad(l, "descr is not a simple type string");
			if ((st = descr_dtype(l, val, &t->dtype)) != NNCC_STATUS_OK)
				return st;
			have_descr = 1;
		} else if (strcmp(key, "fortran_order") == 0 && !have_order) {
			if (word(l, "True"))
				return rt_err(l->err, NNCC_STATUS_UNSUPPORTED,
					      "%s: Fortran-order arrays are not supported "
					      "(save with np.ascontiguousarray)", l->what);
			if (!word(l, "False"))
				return bad(l, "fortran_order is not True or False");
			have_order = 1;
		} else if (strcmp(key, "shape") == 0 && !have_shape) {
			if ((st = shape(l, t)) != NNCC_STATUS_OK)
				return st;
			have_shape = 1;
		} else {
			return bad(l, "unknown or repeated key");
		}
		if (!eat(l, ',')) {
			if (eat(l, '}'))
				break;
			return bad(l, "expected ',' or '}'");
		}
	}
	if (!have_descr || !have_order || !have_shape)
		return bad(l, "missing descr, fortran_order or shape");
	skip_ws(l);
	if (l->p != l->end)
		return bad(l, "junk after the dict");
	return NNCC_STATUS_OK;
}

nncc_status
rt_npy_decode(const void *buf, size_t len, RtTensor *t, const char *what, char **err)
{
	const unsigned char *b = buf;
	size_t pre, hlen, off;
	int64_t nbytes;
	nncc_status st;
	Lex l;

	if (err)
		*err = NULL;
	memset(t, 0, sizeof *t);
	if (!what)
		what = "<npy>";
	if (!b || len < MAGIC_LEN + 4 || memcmp(b, magic, MAGIC_LEN) != 0)
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: not a .npy file (bad magic)", what);
	if (b[6] == 1 && b[7] == 0) {
		pre = MAGIC_LEN + 4;
		hlen = (size_t)b[8] | (size_t)b[9] << 8;
	} else if ((b[6] == 2 || b[6] == 3) && b[7] == 0) {
		if (len < MAGIC_LEN + 6)
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: truncated .npy preamble", what);
		pre = MAGIC_LEN + 6;
		hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
	} else {
		return rt_err(err, NNCC_STATUS_UNSUPPORTED, "%s: .npy version %d.%d not supported",
			      what, b[6], b[7]);
	}
	if (hlen > MAX_HEADER)
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: .npy header of %zu bytes is too long",
			      what, hlen);
	if (hlen > len - pre)
		return rt_err(err, NNCC_STATUS_BAD_MODEL,
			      "%s: truncated .npy file (header runs past the end)", what);
	off = pre + hlen;
	l.p = (const char *)b + pre;
	l.end = (const char *)b + off;
	l.what = what;
	l.err = err;
	if ((st = header(&l, t)) != NNCC_STATUS_OK)
		return st;
	if ((st = rt_tensor_bytes(t->dtype, t->rank, t->dims, &nbytes, what, err)) != NNCC_STATUS_OK)
		return st;
	if ((uint64_t)nbytes != (uint64_t)(len - off))
		return rt_err(err, NNCC_STATUS_BAD_MODEL,
			      "%s: .npy data is %zu bytes, shape and dtype need %lld", what,
			      len - off, (long long)nbytes);
	t->data = rt_alloc(nbytes);
	if (!t->data)
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "%s: cannot allocate %lld bytes", what,
			      (long long)nbytes);
	if (nbytes > 0)
		memcpy(t->data, b + off, (size_t)nbytes);
	t->nbytes = nbytes;
	return NNCC_STATUS_OK;
}


/* --- writing --------------------------------------------------------------- */

/* Builds the whole preamble + header as numpy.save would. *out is
 * malloc'd, *outlen its length. */
static nncc_status
make_header(const char *descr, int rank, const int64_t *dims, char **out, size_t *outlen,
	    char **err)
{
	size_t cap = 128 + (size_t)rank * 24 + GROWTH_DIGITS + 2 * RT_ALIGN;
	size_t n, pad, pre;
	char *h, *d;
	int k;

	h = rt_malloc(cap);
	if (!h)
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	d = h + MAGIC_LEN + 6; /* room for the longest preamble; moved below */
	n = (size_t)sprintf(d, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
	for (int i = 0; i < rank; i++)
		n += (size_t)sprintf(d + n, "%s%lld", i ? ", " : "", (long long)dims[i]);
	n += (size_t)sprintf(d + n, "%s), }", rank == 1 ? "," : "");
	if (rank > 0) {
		k = snprintf(NULL, 0, "%lld", (long long)dims[0]);
		for (int i = k; i < GROWTH_DIGITS; i++)
			d[n++] = ' ';
	}
	/* numpy: hlen = len + 1 (the '\n'); pad = 64 - (pre + hlen) % 64. */
	pre = n + 1 + MAGIC_LEN + 4 + RT_ALIGN <= 65535 ? MAGIC_LEN + 4 : MAGIC_LEN + 6;
	pad = RT_ALIGN - (pre + n + 1) % RT_ALIGN;
	memmove(h + pre, d, n);
	memset(h + pre + n, ' ', pad);
	h[pre + n + pad] = '\n';
	memcpy(h, magic, MAGIC_LEN);
	n = n + pad + 1; /* header length field */
	if (pre == MAGIC_LEN + 4) {
		h[6] = 1, h[7] = 0;
		h[8] = (char)(n & 0xff), h[9] = (char)(n >> 8);
	} else {
		h[6] = 2, h[7] = 0;
		h[8] = (char)(n & 0xff), h[9] = (char)(n >> 8 & 0xff);
		h[10] = (char)(n >> 16 & 0xff), h[11] = (char)(n >> 24 & 0xff);
	}
	*out = h;
	*outlen = pre + n;
	return NNCC_STATUS_OK;
}

nncc_status
rt_npy_write(const char *path, int dtype, int rank, const int64_t *dims, const void *data,
	     char **err)
{
	const char *descr = NULL;
	char *hdr = NULL;
	size_t hlen = 0;
	int64_t nbytes;
	nncc_status st;

	if (err)
		*err = NULL;
	for (size_t i = 0; i < sizeof descrs / sizeof descrs[0] && !descr; i++)
		if (descrs[i].dtype == dtype)
			descr = descrs[i].descr;
	if (!descr)
		return rt_err(err, NNCC_STATUS_UNSUPPORTED, "%s: dtype %s has no .npy equivalent",
			      path, nncc_dtype_name(dtype));
	if ((st = rt_tensor_bytes(dtype, rank, dims, &nbytes, path, err)) != NNCC_STATUS_OK)
		return st;
	if (rank > 4096)
		return rt_err(err, NNCC_STATUS_UNSUPPORTED, "%s: rank %d too large", path, rank);
	if (nbytes > 0 && !data)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "%s: no data", path);
	if ((st = make_header(descr, rank, dims, &hdr, &hlen, err)) != NNCC_STATUS_OK)
		return st;
	const void *part[2] = {hdr, data};
	size_t bytes[2] = {hlen, (size_t)nbytes};
	st = rt_write_file(path, part, bytes, 2, err);
	free(hdr);
	return st;
}
