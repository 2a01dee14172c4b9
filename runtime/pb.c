/* pb.c — ONNX TensorProto files (the .pb inputs and outputs of ONNX test
 * folders), decoded from the protobuf wire format by hand so the runtime
 * needs no protobuf library.
 *
 * Fields used: dims=1 (int64), data_type=2, float_data=4, int32_data=5,
 * int64_data=7, name=8, raw_data=9, double_data=10, uint64_data=11. The
 * repeated numeric fields may come packed or one element per field (and
 * both, in pieces). Every other field, of any wire type, is skipped.
 * Decoding walks the message twice: the first walk validates the encoding
 * and counts elements, the second copies them into a dense little-endian
 * buffer once the dtype and the element count are known. ONNX rules:
 * raw_data wins when present; int32_data carries i8/u8/i16/u16/bool and
 * the bits of f16/bf16; uint64_data carries u32/u64. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

enum {
	WT_VARINT = 0, /* int32, int64, uint64, bool, enum */
	WT_I64 = 1,    /* fixed64, double */
	WT_LEN = 2,    /* bytes, string, message, packed repeated */
	WT_SGROUP = 3, /* start group (deprecated) */
	WT_EGROUP = 4, /* end group */
	WT_I32 = 5,    /* fixed32, float */
};

enum {
	F_DIMS = 1, F_DATA_TYPE = 2, F_FLOAT = 4, F_INT32 = 5, F_INT64 = 7, F_NAME = 8,
	F_RAW = 9, F_DOUBLE = 10, F_UINT64 = 11, F_DATA_LOCATION = 14,
};

enum { MAX_GROUP_DEPTH = 64 }; /* nesting of skipped groups */

typedef struct Rd {
	const uint8_t *p;   /* next byte */
	const uint8_t *end; /* end of the message */
} Rd;

/* Everything the first walk learns. */
typedef struct Scan {
	int64_t ndims;          /* dims seen */
	int64_t dtype;          /* data_type, 0 when absent */
	const uint8_t *name;    /* last name field */
	size_t name_len;
	const uint8_t *raw;     /* last raw_data field, NULL when absent */
	size_t raw_len;
	int64_t n[12];          /* elements per repeated numeric field number */
	int64_t location;       /* data_location: 1 = EXTERNAL */
} Scan;

/* 0 on truncation or a varint longer than 64 bits. */
static int
varint(Rd *r, uint64_t *v)
{
	uint64_t x = 0;

	for (int s = 0; s < 70; s += 7) {
		if (r->p >= r->end)
			return 0;
		uint8_t b = *r->p++;
		if (s == 63 && b > 1)
			return 0;
		x |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80)) {
			*v = x;
			return 1;
		}
	}
	return 0;
}

static int
bytes(Rd *r, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return 0;
	r->p += n;
	return 1;
}

/* Reads a length prefix and the span it covers into *sub. */
static int
span(Rd *r, Rd *sub)
{
	uint64_t n;

	if (!varint(r, &n) || n > (uint64_t)(r->end - r->p))
		return 0;
	sub->p = r->p;
	sub->end = r->p + n;
	r->p += n;
	return 1;
}

/* Skips the value of a field of wire type wt (the key is already read).
 * For a group, skips to the matching end-group key. */
static int
skip(Rd *r, uint64_t field, int wt, int depth)
{
	uint64_t v, key;
	Rd sub;

	switch (wt) {
	case WT_VARINT: return varint(r, &v);
	case WT_I64: return bytes(r, 8);
	case WT_I32: return bytes(r, 4);
	case WT_LEN: return span(r, &sub);
	case WT_SGROUP:
		if (depth >= MAX_GROUP_DEPTH)
			return 0;
		for (;;) {
			if (!varint(r, &key) || (key >> 3) == 0)
				return 0;
			if ((key & 7) == WT_EGROUP)
				return (key >> 3) == field;
			if (!skip(r, key >> 3, (int)(key & 7), depth + 1))
				return 0;
		}
	default: return 0; /* a stray end-group, or wire types 6 and 7 */
	}
}

/* Element count of a packed span of field f; 0 on bad encoding. */
static int
count_packed(Rd sub, int elem_size, int64_t *n)
{
	uint64_t v;

	if (elem_size) {
		if ((sub.end - sub.p) % elem_size)
			return 0;
		*n += (sub.end - sub.p) / elem_size;
		return 1;
	}
	while (sub.p < sub.end) {
		if (!varint(&sub, &v))
			return 0;
		(*n)++;
	}
	return 1;
}

/* Wire type and element size (0: varint) of the numeric repeated fields. */
static int
numeric(uint64_t f, int *wt, int *size)
{
	switch (f) {
	case F_DIMS: case F_INT32: case F_INT64: case F_UINT64: *wt = WT_VARINT, *size = 0; return 1;
	case F_FLOAT: *wt = WT_I32, *size = 4; return 1;
	case F_DOUBLE: *wt = WT_I64, *size = 8; return 1;
	default: return 0;
	}
}

/* Calls put(ctx, field, bits) for every element of every numeric repeated
 * field (float/double as raw bits). The message was validated by scan(). */
typedef void PutFn(void *ctx, uint64_t field, uint64_t bits);

static void
walk(Rd r, PutFn *put, void *ctx)
{
	uint64_t key, v;
	int wt, nwt, size;
	uint32_t u32;
	Rd sub;

	while (r.p < r.end) {
		varint(&r, &key);
		wt = (int)(key & 7);
		if (!numeric(key >> 3, &nwt, &size)) {
			skip(&r, key >> 3, wt, 0);
			continue;
		}
		if (wt == WT_LEN) {
			span(&r, &sub);
		} else {
			sub.p = r.p;
			skip(&r, key >> 3, wt, 0);
			sub.end = r.p;
		}
		while (sub.p < sub.end) {
			if (size == 0) {
				varint(&sub, &v);
			} else if (size == 4) {
				memcpy(&u32, sub.p, 4);
				v = u32;
				sub.p += 4;
			} else {
				memcpy(&v, sub.p, 8);
				sub.p += 8;
			}
			put(ctx, key >> 3, v);
		}
	}
}

static nncc_status
scan(Rd r, Scan *s, const char *what, char **err)
{
	uint64_t key, f, v;
	int wt, nwt, size;
	const uint8_t *base = r.p, *at;
	Rd sub;

	memset(s, 0, sizeof *s);
	while (r.p < r.end) {
		at = r.p;
		if (!varint(&r, &key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
			goto bad;
		f = key >> 3;
		wt = (int)(key & 7);
		if (numeric(f, &nwt, &size)) {
			if (wt == WT_LEN) {
				if (!span(&r, &sub) || !count_packed(sub, size, &s->n[f]))
					goto bad;
			} else if (wt == nwt) {
				if (!skip(&r, f, wt, 0))
					goto bad;
				s->n[f]++;
			} else {
				goto bad;
			}
			continue;
		}
		switch (f) {
		case F_DATA_TYPE:
		case F_DATA_LOCATION:
			if (wt != WT_VARINT || !varint(&r, &v))
				goto bad;
			if (f == F_DATA_TYPE)
				s->dtype = (int64_t)v;
			else
				s->location = (int64_t)v;
			break;
		case F_NAME:
		case F_RAW:
			if (wt != WT_LEN || !span(&r, &sub))
				goto bad;
			if (f == F_NAME)
				s->name = sub.p, s->name_len = (size_t)(sub.end - sub.p);
			else
				s->raw = sub.p, s->raw_len = (size_t)(sub.end - sub.p);
			break;
		default:
			if (!skip(&r, f, wt, 0))
				goto bad;
		}
		continue;
	bad:
		return rt_err(err, NNCC_STATUS_BAD_MODEL,
			      "%s: malformed TensorProto (truncated or bad field at byte %lld)", what,
			      (long long)(at - base));
	}
	s->ndims = s->n[F_DIMS];
	return NNCC_STATUS_OK;
}

/* State for the copying walk. */
typedef struct Fill {
	RtTensor *t;     /* dims and data being filled */
	int want;        /* field number carrying the data, 0 for raw_data */
	int64_t ndim;    /* dims stored */
	int64_t nelem;   /* elements stored */
	int negdim;      /* a dim was negative */
} Fill;

static void
put(void *ctx, uint64_t field, uint64_t v)
{
	Fill *fl = ctx;
	RtTensor *t = fl->t;
	int64_t i, size;
	uint8_t *d;

	if (field == F_DIMS) {
		if ((int64_t)v < 0)
			fl->negdim = 1;
		t->dims[fl->ndim++] = (int64_t)v;
		return;
	}
	if ((int)field != fl->want || !t->data)
		return;
	size = nncc_dtype_size(t->dtype);
	i = fl->nelem++;
	d = (uint8_t *)t->data + i * size;
	switch (size) { /* little-endian: the low bytes are the value */
	case 1: *d = (uint8_t)v; break;
	case 2: { uint16_t x = (uint16_t)v; memcpy(d, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)v; memcpy(d, &x, 4); break; }
	default: memcpy(d, &v, 8); break;
	}
}

/* Which repeated field holds the values of dtype when raw_data is absent. */
static int
data_field(int dtype)
{
	switch (dtype) {
	case NNCC_DTYPE_F32: return F_FLOAT;
	case NNCC_DTYPE_F64: return F_DOUBLE;
	case NNCC_DTYPE_I64: return F_INT64;
	case NNCC_DTYPE_U32: case NNCC_DTYPE_U64: return F_UINT64;
	default: return F_INT32; /* i8 u8 i16 u16 i32 bool f16 bf16 */
	}
}

/* Bits per element of the types ONNX packs below a byte, else 8. */
static int
packed_bits(int dtype)
{
	switch (dtype) {
	case NNCC_DTYPE_U4: case NNCC_DTYPE_I4: case NNCC_DTYPE_F4E2M1: return 4;
	case NNCC_DTYPE_U2: case NNCC_DTYPE_I2: return 2;
	default: return 8;
	}
}

/* Spreads the packed elements at the start of t->data (low bits first)
 * to one per byte, in place from the end; signed ones sign-extended. */
static void
unpack(RtTensor *t, int64_t numel)
{
	int bits = packed_bits(t->dtype), per = 8 / bits, sh = 8 - bits;
	bool sgn = t->dtype == NNCC_DTYPE_I4 || t->dtype == NNCC_DTYPE_I2;
	uint8_t *p = t->data;
	for (int64_t i = numel - 1; i >= 0; i--) {
		unsigned c = (unsigned)(p[i / per] >> (i % per * bits)) & ((1u << bits) - 1);
		p[i] = sgn ? (uint8_t)((int8_t)(uint8_t)(c << sh) >> sh) : (uint8_t)c;
	}
}

nncc_status
rt_pb_decode(const void *buf, size_t len, RtTensor *t, const char *what, char **err)
{
	Rd r = {buf, (const uint8_t *)buf + len};
	int64_t nbytes, have, numel;
	char type[256];
	nncc_status st;
	Scan s;
	Fill fl;

	if (err)
		*err = NULL;
	memset(t, 0, sizeof *t);
	if (!what)
		what = "<TensorProto>";
	if (!buf && len > 0)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "%s: no data", what);
	if ((st = scan(r, &s, what, err)) != NNCC_STATUS_OK)
		return st;
	if (s.location == 1)
		return rt_err(err, NNCC_STATUS_UNSUPPORTED, "%s: external tensor data is not supported",
			      what);
	if (s.dtype == 0)
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: TensorProto has no data_type", what);
	if (s.dtype > 64 || nncc_dtype_size((int)s.dtype) == 0)
		return rt_err(err, NNCC_STATUS_UNSUPPORTED, "%s: TensorProto data_type %lld is not "
			      "supported", what, (long long)s.dtype);
	if (s.ndims > RT_MAX_RANK)
		return rt_err(err, NNCC_STATUS_UNSUPPORTED, "%s: more than %d dimensions", what,
			      RT_MAX_RANK);
	t->dtype = (int)s.dtype;
	t->rank = (int)s.ndims;

	/* First the dims (walk() with no data buffer), then the size. */
	memset(&fl, 0, sizeof fl);
	fl.t = t;
	fl.want = s.raw ? 0 : data_field(t->dtype);
	walk(r, put, &fl);
	if (fl.negdim)
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: negative dimension", what);
	if ((st = rt_tensor_bytes(t->dtype, t->rank, t->dims, &nbytes, what, err)) != NNCC_STATUS_OK)
		return st;
	numel = nbytes / nncc_dtype_size(t->dtype);
	have = s.raw ? (int64_t)s.raw_len : s.n[fl.want];
	int per = 8 / packed_bits(t->dtype); /* elements per stored byte or value */
	int64_t stored = numel / per + (numel % per != 0); /* rounded up, no overflow */
	if (per > 1 ? have != stored : s.raw ? have != nbytes : have != numel)
		return rt_err(err, NNCC_STATUS_BAD_MODEL,
			      "%s: TensorProto holds %lld %s, shape %s needs %lld", what,
			      (long long)have, s.raw ? "raw bytes" : "values",
			      rt_format_type(type, sizeof type, t->dtype, t->rank, t->dims),
			      (long long)(per > 1 ? stored : s.raw ? nbytes : numel));

	t->data = rt_alloc(nbytes);
	if (!t->data)
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "%s: cannot allocate %lld bytes", what,
			      (long long)nbytes);
	t->nbytes = nbytes;
	if (s.raw) {
		if (nbytes > 0)
			memcpy(t->data, s.raw, (size_t)(per > 1 ? stored : nbytes));
	} else {
		fl.ndim = 0;
		walk(r, put, &fl);
	}
	if (per > 1)
		unpack(t, numel);
	if (s.name) {
		t->name = rt_malloc(s.name_len + 1);
		if (!t->name) {
			rt_tensor_free(t);
			return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
		}
		memcpy(t->name, s.name, s.name_len);
		t->name[s.name_len] = 0;
	}
	return NNCC_STATUS_OK;
}
