/* test_rt_io.c — unit tests of the runtime's tensor files: NumPy .npy
 * (round trips for every dtype, numpy's exact layout, malformed headers)
 * and ONNX TensorProto decoding from bytes encoded here by hand (packed
 * and unpacked fields, unknown fields of every wire type, truncation and
 * overflow). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/rt.h"

static int
contains(const char *s, const char *sub)
{
	return s && strstr(s, sub) != NULL;
}

/* --- .npy -------------------------------------------------------------------- */

static char tmpdir[64];

static int
setup_tmp(void **state)
{
	strcpy(tmpdir, "/tmp/nncc_rt_test_XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown_tmp(void **state)
{
	char path[512];
	struct dirent *e;
	DIR *d = opendir(tmpdir);

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(tmpdir);
	return 0;
}

static int
count_files(void)
{
	struct dirent *e;
	DIR *d = opendir(tmpdir);
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void
test_npy_roundtrip(void **state)
{
	static const int dtypes[] = {
		NNCC_DTYPE_F32, NNCC_DTYPE_F64, NNCC_DTYPE_F16, NNCC_DTYPE_I32, NNCC_DTYPE_I64,
		NNCC_DTYPE_I8, NNCC_DTYPE_U8, NNCC_DTYPE_BOOL, NNCC_DTYPE_I16, NNCC_DTYPE_U16,
		NNCC_DTYPE_U32, NNCC_DTYPE_U64,
	};
	static const int64_t shapes[][4] = {{2, 3, 4, 0}, {5, 0, 0, 0}, {0, 0, 0, 0}, {0, 3, 0, 0}};
	static const int ranks[] = {3, 1, 0, 2};
	unsigned char data[2 * 3 * 4 * 8];
	char path[512], *err = NULL;
	RtTensor t;
	int files = 0;

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 37 + 11);
	for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++)
		for (int s = 0; s < 4; s++) {
			int dt = dtypes[d];
			int64_t nbytes;
			if (dt == NNCC_DTYPE_BOOL)
				for (size_t i = 0; i < sizeof data; i++)
					data[i] &= 1;
			snprintf(path, sizeof path, "%s/t%zu_%d.npy", tmpdir, d, s);
			assert_int_equal(rt_npy_write(path, dt, ranks[s], shapes[s], data, &err),
					 NNCC_STATUS_OK);
			assert_null(err);
			files++;
			assert_int_equal(rt_tensor_read(path, &t, &err), NNCC_STATUS_OK);
			assert_null(err);
			assert_int_equal(t.dtype, dt);
			assert_int_equal(t.rank, ranks[s]);
			assert_null(t.name);
			for (int k = 0; k < ranks[s]; k++)
				assert_int_equal(t.dims[k], shapes[s][k]);
			assert_int_equal(rt_tensor_bytes(dt, ranks[s], shapes[s], &nbytes, "x", NULL), 0);
			assert_int_equal(t.nbytes, nbytes);
			assert_non_null(t.data);
			if (nbytes > 0)
				assert_memory_equal(t.data, data, (size_t)nbytes);
			rt_tensor_free(&t);
		}
	/* the temporaries were all renamed away */
	assert_int_equal(count_files(), files);
}

/* The header must match numpy.save's byte for byte (numpy 1.24). */
static void
test_npy_numpy_layout(void **state)
{
	static const char want[] = "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, "
				   "'shape': (2, 3), }";
	static const char want1[] = "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }";
	static const char want0[] = "{'descr': '<f8', 'fortran_order': False, 'shape': (), }";
	int64_t dims[2] = {2, 3}, d3 = 3;
	float x[6] = {1, 2, 3, 4, 5, 6};
	unsigned char b[3] = {1, 0, 1};
	double sc = 2.5;
	char path[512], *buf;
	size_t len;
	void *raw;

	snprintf(path, sizeof path, "%s/layout.npy", tmpdir);
	assert_int_equal(rt_npy_write(path, NNCC_DTYPE_F32, 2, dims, x, NULL), 0);
	assert_int_equal(rt_read_file(path, &raw, &len, NULL), 0);
	buf = raw;
	assert_int_equal(len, 128 + sizeof x);
	assert_memory_equal(buf, want, sizeof want - 1);
	for (size_t i = sizeof want - 1; i < 127; i++)
		assert_int_equal(buf[i], ' ');
	assert_int_equal(buf[127], '\n');
	assert_memory_equal(buf + 128, x, sizeof x);
	rt_free(raw);

	assert_int_equal(rt_npy_write(path, NNCC_DTYPE_BOOL, 1, &d3, b, NULL), 0);
	assert_int_equal(rt_read_file(path, &raw, &len, NULL), 0);
	assert_int_equal(len, 128 + 3);
	assert_memory_equal((char *)raw + 10, want1, sizeof want1 - 1);
	rt_free(raw);

	assert_int_equal(rt_npy_write(path, NNCC_DTYPE_F64, 0, NULL, &sc, NULL), 0);
	assert_int_equal(rt_read_file(path, &raw, &len, NULL), 0);
	assert_int_equal(len, 128 + 8);
	assert_memory_equal((char *)raw + 10, want0, sizeof want0 - 1);
	rt_free(raw);
}

/* Builds preamble + header + ndata bytes of data; returns the length. */
static size_t
mknpy(unsigned char *out, int major, const char *hdr, size_t ndata)
{
	size_t h = strlen(hdr), pre = major == 1 ? 10 : 12;

	memcpy(out, "\x93NUMPY", 6);
	out[6] = (unsigned char)major;
	out[7] = 0;
	out[8] = (unsigned char)(h & 0xff);
	out[9] = (unsigned char)(h >> 8);
	if (major != 1)
		out[10] = out[11] = 0;
	memcpy(out + pre, hdr, h);
	memset(out + pre + h, 0x3f, ndata);
	return pre + h + ndata;
}

static void
test_npy_versions(void **state)
{
	unsigned char buf[512];
	RtTensor t;
	size_t n;

	n = mknpy(buf, 2, "{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (2,)}\n", 16);
	assert_int_equal(rt_npy_decode(buf, n, &t, "v2", NULL), 0);
	assert_int_equal(t.dtype, NNCC_DTYPE_I64);
	assert_int_equal(t.rank, 1);
	assert_int_equal(t.dims[0], 2);
	rt_tensor_free(&t);
	n = mknpy(buf, 3, "{'shape': (1, 2, 1), 'fortran_order': False, 'descr': '|u1', }   \n", 2);
	assert_int_equal(rt_npy_decode(buf, n, &t, "v3", NULL), 0);
	assert_int_equal(t.dtype, NNCC_DTYPE_U8);
	assert_int_equal(t.rank, 3);
	assert_int_equal(t.dims[1], 2);
	rt_tensor_free(&t);
	n = mknpy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 1L), }\n", 12);
	assert_int_equal(rt_npy_decode(buf, n, &t, "py2", NULL), 0);
	assert_int_equal(t.dims[0], 3);
	rt_tensor_free(&t);
}

static void
test_npy_malformed(void **state)
{
	static const struct {
		const char *hdr;   /* header text */
		size_t ndata;      /* data bytes that follow */
		nncc_status st;    /* expected status */
		const char *msg;   /* expected in the message */
	} cases[] = {
		{"{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8, NNCC_STATUS_UNSUPPORTED, "Fortran"},
		{"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, NNCC_STATUS_UNSUPPORTED, "big-endian"},
		{"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, NNCC_STATUS_UNSUPPORTED, "<c8"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 7, NNCC_STATUS_BAD_MODEL, "need 8"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 9, NNCC_STATUS_BAD_MODEL, "need 8"},
		{"{'descr': '<f4', 'fortran_order': False, }", 0, NNCC_STATUS_BAD_MODEL, "missing"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 0, NNCC_STATUS_BAD_MODEL, "header"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0, NNCC_STATUS_BAD_MODEL, "too large"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 0, NNCC_STATUS_BAD_MODEL, "overflow"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, }", 8, NNCC_STATUS_BAD_MODEL, "header"},
		{"{'descr': '<f4", 0, NNCC_STATUS_BAD_MODEL, "descr"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ", 8, NNCC_STATUS_BAD_MODEL, "header"},
		{"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, NNCC_STATUS_BAD_MODEL, "repeated"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, NNCC_STATUS_BAD_MODEL, "unknown"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk", 8, NNCC_STATUS_BAD_MODEL, "junk"},
		{"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", 8, NNCC_STATUS_BAD_MODEL, "fortran_order"},
		{"", 0, NNCC_STATUS_BAD_MODEL, "'{'"},
		{"{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", 8, NNCC_STATUS_BAD_MODEL, "header"},
	};
	unsigned char buf[512];
	char *err;
	RtTensor t;
	size_t n;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		n = mknpy(buf, 1, cases[i].hdr, cases[i].ndata);
		err = NULL;
		assert_int_equal(rt_npy_decode(buf, n, &t, "case.npy", &err), cases[i].st);
		if (!contains(err, cases[i].msg) || !contains(err, "case.npy"))
			fail_msg("case %zu: message '%s' lacks '%s'", i, err, cases[i].msg);
		assert_null(t.data);
		nncc_error_free(err);
	}
	/* bad magic, truncated preamble, header past the end, bad version */
	n = mknpy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
	buf[1] = 'n';
	assert_int_equal(rt_npy_decode(buf, n, &t, NULL, NULL), NNCC_STATUS_BAD_MODEL);
	buf[1] = 'N';
	assert_int_equal(rt_npy_decode(buf, n, &t, NULL, NULL), NNCC_STATUS_OK);
	rt_tensor_free(&t);
	for (size_t k = 0; k < 10; k++)
		assert_int_equal(rt_npy_decode(buf, k, &t, NULL, NULL), NNCC_STATUS_BAD_MODEL);
	for (size_t k = 10; k < n; k++) /* every truncation fails */
		assert_int_not_equal(rt_npy_decode(buf, k, &t, NULL, NULL), NNCC_STATUS_OK);
	buf[9] = 0x7f; /* header length 0x7fxx, far past the end */
	assert_int_equal(rt_npy_decode(buf, n, &t, NULL, NULL), NNCC_STATUS_BAD_MODEL);
	buf[9] = 0;
	buf[6] = 4;
	assert_int_equal(rt_npy_decode(buf, n, &t, NULL, NULL), NNCC_STATUS_UNSUPPORTED);
	/* v2 with a 4 GiB header length */
	n = mknpy(buf, 2, "{}", 0);
	buf[11] = 0xff;
	assert_int_equal(rt_npy_decode(buf, n, &t, NULL, NULL), NNCC_STATUS_BAD_MODEL);
	/* missing file; unwritable place leaves no file behind */
	err = NULL;
	assert_int_equal(rt_tensor_read("/nonexistent/x.npy", &t, &err), NNCC_STATUS_NOT_FOUND);
	assert_true(contains(err, "/nonexistent/x.npy"));
	nncc_error_free(err);
	assert_int_equal(rt_npy_write("/nonexistent/y.npy", NNCC_DTYPE_F32, 0, NULL, buf, NULL),
			 NNCC_STATUS_IO_ERROR);
	assert_int_equal(rt_npy_write("/tmp/z.npy", NNCC_DTYPE_BF16, 0, NULL, buf, NULL),
			 NNCC_STATUS_UNSUPPORTED);
}
/* --- TensorProto --------------------------------------------------------------- */

typedef struct Pb {
	uint8_t b[4096]; /* encoded bytes */
	size_t n;        /* used */
} Pb;

static void
pv(Pb *p, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		p->b[p->n++] = c | (v ? 0x80 : 0);
	} while (v);
}

static void
pkey(Pb *p, int field, int wt)
{
	pv(p, (uint64_t)field << 3 | (uint64_t)wt);
}

static void
praw(Pb *p, const void *d, size_t n)
{
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

static void
pbytes(Pb *p, int field, const void *d, size_t n)
{
	pkey(p, field, 2);
	pv(p, n);
	praw(p, d, n);
}

static void
pstr(Pb *p, int field, const char *s)
{
	pbytes(p, field, s, strlen(s));
}

/* A packed varint field from n int64 values. */
static void
ppacked(Pb *p, int field, const int64_t *v, int n)
{
	Pb sub = {.n = 0};

	for (int i = 0; i < n; i++)
		pv(&sub, (uint64_t)v[i]);
	pbytes(p, field, sub.b, sub.n);
}

static void
test_pb_float(void **state)
{
	static const float x[6] = {1.5f, -2, 3.25f, 0, 1e-3f, -7};
	static const int64_t dims[2] = {2, 3};
	RtTensor t;
	char *err = NULL;
	Pb p = {.n = 0};

	/* dims unpacked, name, data_type, float_data packed */
	pkey(&p, 1, 0), pv(&p, 2);
	pkey(&p, 1, 0), pv(&p, 3);
	pstr(&p, 8, "input_0");
	pkey(&p, 2, 0), pv(&p, 1);
	pbytes(&p, 4, x, sizeof x);
	assert_int_equal(rt_pb_decode(p.b, p.n, &t, "a.pb", &err), NNCC_STATUS_OK);
	assert_null(err);
	assert_int_equal(t.dtype, NNCC_DTYPE_F32);
	assert_int_equal(t.rank, 2);
	assert_int_equal(t.dims[0], 2);
	assert_int_equal(t.dims[1], 3);
	assert_string_equal(t.name, "input_0");
	assert_int_equal(t.nbytes, 24);
	assert_memory_equal(t.data, x, sizeof x);
	rt_tensor_free(&t);

	/* dims packed, float_data one fixed32 per field, split 2 + packed 4 */
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 1);
	ppacked(&p, 1, dims, 2);
	for (int i = 0; i < 2; i++) {
		pkey(&p, 4, 5);
		praw(&p, &x[i], 4);
	}
	pbytes(&p, 4, x + 2, 4 * sizeof(float));
	assert_int_equal(rt_pb_decode(p.b, p.n, &t, "b.pb", &err), NNCC_STATUS_OK);
	assert_null(t.name);
	assert_int_equal(t.rank, 2);
	assert_memory_equal(t.data, x, sizeof x);
	rt_tensor_free(&t);

	/* raw_data wins, and a scalar (no dims) */
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 1);
	pbytes(&p, 9, &x[2], 4);
	assert_int_equal(rt_pb_decode(p.b, p.n, &t, "c.pb", &err), NNCC_STATUS_OK);
	assert_int_equal(t.rank, 0);
	assert_int_equal(t.nbytes, 4);
	assert_true(*(float *)t.data == 3.25f);
	rt_tensor_free(&t);
}

static void
test_pb_other_types(void **state)
{
	static const int64_t i64[3] = {-1, 1LL << 40, 7};
	static const int64_t i8v[4] = {-128, -1, 0, 127};
	static const int64_t half[2] = {0x3c00, 0xc000}; /* 1.0, -2.0 */
	static const double f64[2] = {0.1, -1e300};
	static const int64_t u32v[2] = {0xffffffffLL, 5};
	int64_t d = 3;
	RtTensor t;
	Pb p = {.n = 0};

	/* int64 via raw_data, with unknown fields of every wire type between */
	pkey(&p, 1, 0), pv(&p, 3);
	pkey(&p, 20, 0), pv(&p, 1ULL << 63);         /* varint */
	pkey(&p, 21, 1), praw(&p, "12345678", 8);     /* fixed64 */
	pkey(&p, 22, 5), praw(&p, "1234", 4);         /* fixed32 */
	pstr(&p, 12, "doc string");                   /* length-delimited */
	pkey(&p, 23, 3);                              /* group holding a group */
	pkey(&p, 1, 0), pv(&p, 99);
	pkey(&p, 24, 3), pkey(&p, 2, 5), praw(&p, "abcd", 4), pkey(&p, 24, 4);
	pkey(&p, 23, 4);
	pkey(&p, 2, 0), pv(&p, 7);
	pbytes(&p, 9, i64, sizeof i64);
	assert_int_equal(rt_pb_decode(p.b, p.n, &t, "i64", NULL), NNCC_STATUS_OK);
	assert_int_equal(t.dtype, NNCC_DTYPE_I64);
	assert_int_equal(t.rank, 1);
	assert_int_equal(t.dims[0], 3);
	assert_memory_equal(t.data, i64, sizeof i64);
	rt_tensor_free(&t);

	/* int64_data, unpacked */
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 7);
	pkey(&p, 1, 0), pv(&p, 3);
	for (int i = 0; i < 3; i++)
		pkey(&p, 7, 0), pv(&p, (uint64_t)i64[i]);
	assert_int_equal(rt_pb_decode(p.b, p.n, &t, "i64b", NULL), NNCC_STATUS_OK);
	assert_memory_equal(t.data, i64, sizeof i64);
	rt_tensor_free(&t);

	/* int8 through int32_data (negative int32s are 10-byte varints) */
	p.n = 0;
	d = 4;
	pkey(&p, 2, 0), pv(&p, 3);
	ppacked(&p, 1, &d, 1);
	ppacked(&p, 5, i8v, 4);
	assert_int_equal(rt_pb_decode(p.b, p.n, &t, "i8", NULL), NNCC_STATUS_OK);
	assert_int_equal(t.nbytes, 4);
	assert_int_equal(((int8_t *)t.data)[0], -128);
	assert_int_equal(((int8_t *)t.data)[1], -1);
	assert_int_equal(((int8_t *)t.data)[3], 127);
	rt_tensor_free(&t);

	/* float16 bits through int32_data */
	p.n = 0;
	d = 2;
	pkey(&p, 2, 0), pv(&p, 10);
	ppacked(&p, 1, &d, 1);
	ppacked(&p, 5, half, 2);
	assert_int_equal(rt_pb_decode(p.b, p.n, &t, "f16", NULL), NNCC_STATUS_OK);
	assert_int_equal(((uint16_t *)t.data)[0], 0x3c00);
	assert_int_equal(((uint16_t *)t.data)[1], 0xc000);
	rt_tensor_free(&t);

	/* double_data packed; uint32 through uint64_data */
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 11);
	ppacked(&p, 1, &d, 1);
	pbytes(&p, 10, f64, sizeof f64);
	assert_int_equal(rt_pb_decode(p.b, p.n, &t, "f64", NULL), NNCC_STATUS_OK);
	assert_memory_equal(t.data, f64, sizeof f64);
	rt_tensor_free(&t);
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 12);
	ppacked(&p, 1, &d, 1);
	ppacked(&p, 11, u32v, 2);
	assert_int_equal(rt_pb_decode(p.b, p.n, &t, "u32", NULL), NNCC_STATUS_OK);
	assert_int_equal(((uint32_t *)t.data)[0], 0xffffffffu);
	assert_int_equal(((uint32_t *)t.data)[1], 5);
	rt_tensor_free(&t);

	/* an empty tensor needs no data */
	p.n = 0;
	d = 0;
	pkey(&p, 2, 0), pv(&p, 1);
	ppacked(&p, 1, &d, 1);
	assert_int_equal(rt_pb_decode(p.b, p.n, &t, "empty", NULL), NNCC_STATUS_OK);
	assert_int_equal(t.nbytes, 0);
	assert_non_null(t.data);
	rt_tensor_free(&t);
}

static nncc_status
decode(const Pb *p, char **err)
{
	RtTensor t;
	nncc_status st = rt_pb_decode(p->b, p->n, &t, "bad.pb", err);

	if (st == NNCC_STATUS_OK)
		rt_tensor_free(&t);
	else
		assert_null(t.data);
	return st;
}

static void
test_pb_malformed(void **state)
{
	static const float x[4] = {1, 2, 3, 4};
	static const int64_t dims[2] = {2, 2};
	char *err = NULL;
	Pb p = {.n = 0}, q;
	RtTensor t;

	/* every proper prefix of a valid message fails (data comes last) */
	pstr(&p, 8, "x");
	pkey(&p, 2, 0), pv(&p, 1);
	ppacked(&p, 1, dims, 2);
	pbytes(&p, 4, x, sizeof x);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_OK);
	for (size_t k = 0; k < p.n; k++) {
		err = NULL;
		if (rt_pb_decode(p.b, k, &t, "bad.pb", &err) == NNCC_STATUS_OK)
			fail_msg("prefix of %zu bytes accepted", k);
		assert_true(contains(err, "bad.pb"));
		nncc_error_free(err);
	}

	/* value count does not match the shape */
	q = p;
	q.b[q.n - sizeof x - 1] = 12; /* length 12: three floats */
	q.n -= 4;
	assert_int_equal(decode(&q, &err), NNCC_STATUS_BAD_MODEL);
	assert_true(contains(err, "holds 3 values"));
	assert_true(contains(err, "f32[2,2]"));
	nncc_error_free(err);

	/* raw_data of the wrong length */
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 1);
	ppacked(&p, 1, dims, 2);
	pbytes(&p, 9, x, 12);
	assert_int_equal(decode(&p, &err), NNCC_STATUS_BAD_MODEL);
	assert_true(contains(err, "12 raw bytes"));
	nncc_error_free(err);

	/* packed float_data whose length is not a multiple of 4 */
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 1);
	pbytes(&p, 4, x, 3);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_BAD_MODEL);

	/* an 11-byte varint; a 10th byte above 1 */
	p.n = 0;
	pkey(&p, 2, 0);
	for (int i = 0; i < 10; i++)
		p.b[p.n++] = 0x80;
	p.b[p.n++] = 0;
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_BAD_MODEL);
	p.n = 0;
	pkey(&p, 2, 0);
	for (int i = 0; i < 9; i++)
		p.b[p.n++] = 0xff;
	p.b[p.n++] = 0x02;
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_BAD_MODEL);

	/* wire types 6 and 7; field number 0; stray or mismatched end-group */
	for (int wt = 6; wt <= 7; wt++) {
		p.n = 0;
		pkey(&p, 2, 0), pv(&p, 1);
		pkey(&p, 30, wt), pv(&p, 0);
		assert_int_equal(decode(&p, NULL), NNCC_STATUS_BAD_MODEL);
	}
	p.n = 0;
	pkey(&p, 0, 0), pv(&p, 1);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_BAD_MODEL);
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 1);
	pkey(&p, 30, 4);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_BAD_MODEL);
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 1);
	pkey(&p, 30, 3), pkey(&p, 31, 4);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_BAD_MODEL);
	p.n = 0; /* unterminated group */
	pkey(&p, 2, 0), pv(&p, 1);
	pkey(&p, 30, 3), pkey(&p, 1, 0), pv(&p, 5);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_BAD_MODEL);
	p.n = 0; /* groups nested too deep */
	for (int i = 0; i < 100; i++)
		pkey(&p, 30, 3);
	for (int i = 0; i < 100; i++)
		pkey(&p, 30, 4);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_BAD_MODEL);

	/* a length running past the end */
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 1);
	pkey(&p, 9, 2), pv(&p, 1000);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_BAD_MODEL);
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 1);
	pkey(&p, 9, 2), pv(&p, UINT64_MAX);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_BAD_MODEL);

	/* a known field with the wrong wire type */
	p.n = 0;
	pkey(&p, 2, 5), praw(&p, "\1\0\0\0", 4);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_BAD_MODEL);

	/* missing data_type; strings; unknown dtype; external data */
	p.n = 0;
	pbytes(&p, 4, x, sizeof x);
	assert_int_equal(decode(&p, &err), NNCC_STATUS_BAD_MODEL);
	assert_true(contains(err, "data_type"));
	nncc_error_free(err);
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 8);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_UNSUPPORTED);
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 1ULL << 40);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_UNSUPPORTED);
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 1);
	pkey(&p, 14, 0), pv(&p, 1);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_UNSUPPORTED);

	/* negative dim; too many dims; a size that overflows */
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 1);
	pkey(&p, 1, 0), pv(&p, (uint64_t)-2);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_BAD_MODEL);
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 1);
	for (int i = 0; i < RT_MAX_RANK + 1; i++)
		pkey(&p, 1, 0), pv(&p, 1);
	assert_int_equal(decode(&p, NULL), NNCC_STATUS_UNSUPPORTED);
	p.n = 0;
	pkey(&p, 2, 0), pv(&p, 1);
	for (int i = 0; i < 3; i++)
		pkey(&p, 1, 0), pv(&p, 1ULL << 30);
	assert_int_equal(decode(&p, &err), NNCC_STATUS_BAD_MODEL);
	assert_true(contains(err, "overflow"));
	nncc_error_free(err);
}
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_npy_roundtrip),
		cmocka_unit_test(test_npy_numpy_layout),
		cmocka_unit_test(test_npy_versions),
		cmocka_unit_test(test_npy_malformed),
		cmocka_unit_test(test_pb_float),
		cmocka_unit_test(test_pb_other_types),
		cmocka_unit_test(test_pb_malformed),
	};

	return cmocka_run_group_tests_name("runtime io", tests, setup_tmp, teardown_tmp);
}
