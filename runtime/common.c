/* common.c — small pieces every runtime file uses: the allocation hook
 * (rt_alloc, rt_malloc, rt_calloc, rt_realloc, and the test hook that makes
 * them fail),
 * error messages, dtype sizes and names, checked tensor sizes, file reads.
 * Nothing here keeps state between calls. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt.h"

/* The test hook's state (rt_test_fail_alloc_at): allocations made since
 * it was armed, and the index of the one that fails (-1: none). The
 * runtime's only mutable globals; atomics, so concurrent sessions stay
 * defined. */
static _Atomic int64_t alloc_count;
static _Atomic int64_t alloc_fail = -1;

int64_t
rt_test_fail_alloc_at(int64_t n)
{
	int64_t made = alloc_count;

	alloc_count = 0;
	alloc_fail = n;
	return made;
}

/* Whether the hook lets this allocation through. */
static bool
alloc_allowed(void)
{
	return alloc_count++ != alloc_fail;
}

void *
rt_malloc(size_t n)
{
	return alloc_allowed() ? malloc(n) : NULL;
}

void *
rt_calloc(size_t n, size_t size)
{
	return alloc_allowed() ? calloc(n, size) : NULL;
}

void *
rt_realloc(void *p, size_t n)
{
	return alloc_allowed() ? realloc(p, n) : NULL;
}

/* Buffers from HUGE_MIN bytes on (an arena, a packed weight) start on a
 * HUGE boundary, take whole HUGE pages and ask the kernel for transparent
 * huge pages (the default "madvise" mode gives them only on request): the
 * kernels stream such buffers, and with 4 KiB pages the TLB misses of
 * walking them cost ResNet-50 4% at batch 1 on one thread (2% on two),
 * MobileNetV2 2% on two. The rounding wastes at most a third. */
enum { HUGE = 2 << 20, HUGE_MIN = 4 << 20 };

void *
rt_alloc_uninit(int64_t n)
{
	int64_t r;
	void *p;

	if (n < 0 || !rt_ck_add(n, HUGE - 1, &r) || (uint64_t)r > SIZE_MAX || !alloc_allowed())
		return NULL;
	if (n < HUGE_MIN) {
		r = (n + RT_ALIGN - 1) / RT_ALIGN * RT_ALIGN; /* aligned_alloc wants a multiple */
		return aligned_alloc(RT_ALIGN, (size_t)(r ? r : RT_ALIGN));
	}
	r = r / HUGE * HUGE;
	p = aligned_alloc(HUGE, (size_t)r);
#ifdef MADV_HUGEPAGE
	if (p)
		madvise(p, (size_t)r, MADV_HUGEPAGE); /* a hint: failure changes nothing */
#endif
	return p;
}

void *
rt_alloc(int64_t n)
{
	void *p = rt_alloc_uninit(n);

	if (p)
		memset(p, 0, (size_t)(n > 0 ? n : 1));
	return p;
}

void
rt_free(void *p)
{
	free(p);
}

nncc_status
rt_err(char **err, nncc_status st, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err)
		return st;
	*err = NULL;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return st;
	*err = rt_malloc((size_t)n + 1);
	if (!*err)
		return st;
	va_start(ap, fmt);
	vsnprintf(*err, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return st;
}

void
nncc_error_free(char *err)
{
	free(err);
}

int64_t
nncc_dtype_size(int dtype)
{
	switch (dtype) {
	case NNCC_DTYPE_U8: case NNCC_DTYPE_I8: case NNCC_DTYPE_BOOL:
		return 1;
	case NNCC_DTYPE_F8E4M3FN: case NNCC_DTYPE_F8E4M3FNUZ: case NNCC_DTYPE_F8E5M2:
	case NNCC_DTYPE_F8E5M2FNUZ: case NNCC_DTYPE_U4: case NNCC_DTYPE_I4: case NNCC_DTYPE_F4E2M1:
	case NNCC_DTYPE_U2: case NNCC_DTYPE_I2: case NNCC_DTYPE_F8E8M0:
		return 1; /* one element per byte */
	case NNCC_DTYPE_U16: case NNCC_DTYPE_I16: case NNCC_DTYPE_F16: case NNCC_DTYPE_BF16:
		return 2;
	case NNCC_DTYPE_F32: case NNCC_DTYPE_I32: case NNCC_DTYPE_U32:
		return 4;
	case NNCC_DTYPE_F64: case NNCC_DTYPE_I64: case NNCC_DTYPE_U64:
		return 8;
	default:
		return 0;
	}
}

const char *
nncc_dtype_name(int dtype)
{
	switch (dtype) {
	case NNCC_DTYPE_F32: return "f32";
	case NNCC_DTYPE_U8: return "u8";
	case NNCC_DTYPE_I8: return "i8";
	case NNCC_DTYPE_U16: return "u16";
	case NNCC_DTYPE_I16: return "i16";
	case NNCC_DTYPE_I32: return "i32";
	case NNCC_DTYPE_I64: return "i64";
	case NNCC_DTYPE_STRING: return "string";
	case NNCC_DTYPE_BOOL: return "bool";
	case NNCC_DTYPE_F16: return "f16";
	case NNCC_DTYPE_F64: return "f64";
	case NNCC_DTYPE_U32: return "u32";
	case NNCC_DTYPE_U64: return "u64";
	case NNCC_DTYPE_BF16: return "bf16";
	case NNCC_DTYPE_F8E4M3FN: return "f8e4m3fn";
	case NNCC_DTYPE_F8E4M3FNUZ: return "f8e4m3fnuz";
	case NNCC_DTYPE_F8E5M2: return "f8e5m2";
	case NNCC_DTYPE_F8E5M2FNUZ: return "f8e5m2fnuz";
	case NNCC_DTYPE_U4: return "u4";
	case NNCC_DTYPE_I4: return "i4";
	case NNCC_DTYPE_F4E2M1: return "f4e2m1";
	case NNCC_DTYPE_U2: return "u2";
	case NNCC_DTYPE_I2: return "i2";
	case NNCC_DTYPE_F8E8M0: return "f8e8m0";
	default: return "?";
	}
}

const char *
nncc_status_string(nncc_status s)
{
	switch (s) {
	case NNCC_STATUS_OK: return "ok";
	case NNCC_STATUS_INVALID_ARGUMENT: return "invalid argument";
	case NNCC_STATUS_NOT_FOUND: return "not found";
	case NNCC_STATUS_IO_ERROR: return "i/o error";
	case NNCC_STATUS_BAD_MODEL: return "bad model";
	case NNCC_STATUS_OUT_OF_MEMORY: return "out of memory";
	case NNCC_STATUS_UNSUPPORTED: return "unsupported";
	case NNCC_STATUS_NOT_READY: return "not ready";
	}
	return "unknown status";
}

nncc_status
rt_tensor_bytes(int dtype, int rank, const int64_t *dims, int64_t *nbytes, const char *what,
		char **err)
{
	int64_t n = nncc_dtype_size(dtype);

	if (n == 0)
		return rt_err(err, NNCC_STATUS_UNSUPPORTED, "%s: unsupported dtype %d (%s)", what,
			      dtype, nncc_dtype_name(dtype));
	if (rank < 0 || (rank > 0 && !dims))
		return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: bad rank %d", what, rank);
	for (int i = 0; i < rank; i++) {
		if (dims[i] < 0)
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: negative dim %lld at axis %d",
				      what, (long long)dims[i], i);
		if (!rt_ck_mul(n, dims[i], &n))
			return rt_err(err, NNCC_STATUS_BAD_MODEL, "%s: size overflows", what);
	}
	*nbytes = n;
	return NNCC_STATUS_OK;
}

char *
rt_format_type(char *buf, size_t size, int dtype, int rank, const int64_t *dims)
{
	size_t at;
	int n;

	if (size == 0)
		return buf;
	n = snprintf(buf, size, "%s[", nncc_dtype_name(dtype));
	at = n < 0 ? 0 : (size_t)n;
	for (int i = 0; i < rank && at < size; i++) {
		n = snprintf(buf + at, size - at, "%s%lld", i ? "," : "", (long long)dims[i]);
		at += n < 0 ? 0 : (size_t)n;
	}
	if (at < size)
		snprintf(buf + at, size - at, "]");
	return buf;
}

void
rt_tensor_free(RtTensor *t)
{
	if (!t)
		return;
	free(t->name);
	rt_free(t->data);
	memset(t, 0, sizeof *t);
}

nncc_status
rt_read_file(const char *path, void **buf, size_t *len, char **err)
{
	struct stat st;
	FILE *f;
	void *p;
	size_t got;

	*buf = NULL;
	*len = 0;
	f = fopen(path, "rb");
	if (!f)
		return rt_err(err, errno == ENOENT ? NNCC_STATUS_NOT_FOUND : NNCC_STATUS_IO_ERROR,
			      "%s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return rt_err(err, NNCC_STATUS_IO_ERROR, "%s: not a regular file", path);
	}
	p = rt_alloc(st.st_size);
	if (!p) {
		fclose(f);
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "%s: cannot allocate %lld bytes",
			      path, (long long)st.st_size);
	}
	got = fread(p, 1, (size_t)st.st_size, f);
	if (got != (size_t)st.st_size || ferror(f)) {
		fclose(f);
		rt_free(p);
		return rt_err(err, NNCC_STATUS_IO_ERROR, "%s: read failed", path);
	}
	fclose(f);
	*buf = p;
	*len = got;
	return NNCC_STATUS_OK;
}

nncc_status
rt_tensor_read(const char *path, RtTensor *t, char **err)
{
	void *buf;
	size_t len;
	nncc_status st;

	memset(t, 0, sizeof *t);
	if ((st = rt_read_file(path, &buf, &len, err)) != NNCC_STATUS_OK)
		return st;
	if (len >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0)
		st = rt_npy_decode(buf, len, t, path, err);
	else
		st = rt_pb_decode(buf, len, t, path, err);
	rt_free(buf);
	if (st != NNCC_STATUS_OK)
		rt_tensor_free(t);
	return st;
}

nncc_status rt_write_file(const char *path, const void *const *part, const size_t *bytes, int n,
			  char **err)
{
	char *tmp = rt_malloc(strlen(path) + 16);
	if (!tmp)
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	sprintf(tmp, "%s.tmp.XXXXXX", path);
	nncc_status st = NNCC_STATUS_OK;
	int fd = mkstemp(tmp), ok = 0;
	if (fd < 0) {
		st = rt_err(err, NNCC_STATUS_IO_ERROR, "%s: cannot create: %s", path, strerror(errno));
		free(tmp);
		return st;
	}
	fchmod(fd, 0644);
	FILE *f = fdopen(fd, "wb");
	if (!f) {
		close(fd);
	} else {
		ok = 1;
		for (int i = 0; ok && i < n; i++)
			ok = bytes[i] == 0 || fwrite(part[i], 1, bytes[i], f) == bytes[i];
		ok = (fclose(f) == 0) && ok;
	}
	if (!ok || rename(tmp, path) != 0) {
		st = rt_err(err, NNCC_STATUS_IO_ERROR, "%s: write failed: %s", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return st;
}
