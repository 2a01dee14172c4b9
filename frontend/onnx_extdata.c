/* onnx_extdata.c — ONNX external data (tensors stored beside the model,
 * needed for models over 2 GB), read safely: the file is named by a
 * relative path resolved beneath the model's folder, one component at a
 * time with O_NOFOLLOW (no symbolic link anywhere, no "..", no absolute
 * path: CVE-2022-25882, CVE-2024-27318), it must be a regular file with a
 * single hard link, only the keys location, offset, length and checksum
 * are accepted, offset and length must lie inside the file and length
 * must equal the tensor's size. The bytes are mapped (mmap), not read
 * through a buffer; the graph constant takes its one copy from the map. */
#include "onnx_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* "FILE: tensor "NAME": external data ...". */
#define XERR(m, name, ...) ext_err(m, name, __VA_ARGS__)

static int ext_err(Importer *m, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int ext_err(Importer *m, const char *name, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return onnx_tensor_err(m, name, "external data: %s", buf);
}

/* A non-negative decimal integer, the whole string; false otherwise. */
static bool parse_count(const char *s, int64_t *out)
{
	int64_t v = 0;
	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || !ck_mul(v, 10, &v) || !ck_add(v, *s - '0', &v))
			return false;
	}
	*out = v;
	return true;
}

/* Opens location beneath the folder of the model file, refusing absolute
 * paths, "..", and a symbolic link at any component. fd or -1 (message). */
static int open_beneath(Importer *m, const char *name, const char *loc)
{
	if (loc[0] == '/')
		return XERR(m, name, "location \"%s\" must be a relative path", loc);
	const char *slash = strrchr(m->file, '/');
	char *dir = slash ? arena_printf(&m->arena, "%.*s", (int)(slash - m->file + 1), m->file) :
		arena_printf(&m->arena, ".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return XERR(m, name, "cannot open the model's folder %s: %s", dir, strerror(errno));
	char *path = arena_printf(&m->arena, "%s", loc);
	for (char *comp = path, *next; comp; comp = next) {
		next = strchr(comp, '/');
		if (next)
			*next++ = '\0';
		if (!*comp || strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			close(fd);
			return XERR(m, name, "location \"%s\" leaves the model's folder", loc);
		}
		/* O_NOFOLLOW refuses a link race-free; lstat names it when the
		 * link is a folder (O_DIRECTORY would say ENOTDIR); O_NONBLOCK:
		 * a FIFO must not block the open (fstat then refuses it). */
		struct stat ls;
		bool link = fstatat(fd, comp, &ls, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(ls.st_mode);
		int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (next ? O_DIRECTORY : O_NONBLOCK);
		int nfd = link ? -1 : openat(fd, comp, flags);
		int e = link ? ELOOP : errno;
		close(fd);
		if (nfd < 0 && (e == ELOOP || e == EMLINK))
			return XERR(m, name, "location \"%s\": \"%s\" is a symbolic link", loc, comp);
		if (nfd < 0)
			return XERR(m, name, "cannot open \"%s\": %s", loc, strerror(e));
		fd = nfd;
	}
	return fd;
}

int onnx_external_tensor(Importer *m, const Onnx__TensorProto *t, const char *name, DType dt,
	Shape s, int64_t nbytes, bool param)
{
	const char *loc = NULL, *off_s = NULL, *len_s = NULL;
	if (ir_dtype_bits(dt) < 8)
		return XERR(m, name, "packed %s tensors are unsupported", ir_dtype_name(dt));
	if (!m->from_file)
		return XERR(m, name, "needs the model as a file (it is read beside the model)");
	for (size_t i = 0; i < t->n_external_data; i++) {
		const char *k = t->external_data[i]->key, *v = t->external_data[i]->value;
		const char **slot = !k ? NULL : strcmp(k, "location") == 0 ? &loc :
			strcmp(k, "offset") == 0 ? &off_s : strcmp(k, "length") == 0 ? &len_s : NULL;
		if (k && strcmp(k, "checksum") == 0)
			continue;
		if (!slot)
			return XERR(m, name, "unknown key \"%s\"", k ? k : "");
		if (*slot)
			return XERR(m, name, "key \"%s\" is given twice", k);
		*slot = v ? v : "";
	}
	if (!loc || !*loc)
		return XERR(m, name, "no location");
	int64_t off = 0, len = -1;
	if (off_s && !parse_count(off_s, &off))
		return XERR(m, name, "offset \"%s\" is not a non-negative integer", off_s);
	if (len_s && !parse_count(len_s, &len))
		return XERR(m, name, "length \"%s\" is not a non-negative integer", len_s);
	int fd = open_beneath(m, name, loc);
	if (fd < 0)
		return -1;
	struct stat st;
	int rc = -1;
	if (fstat(fd, &st) != 0) {
		XERR(m, name, "cannot stat \"%s\": %s", loc, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		XERR(m, name, "\"%s\" is not a regular file", loc);
	} else if (st.st_nlink != 1) {
		XERR(m, name, "\"%s\" has %lld hard links; only a file with one is read", loc,
			(long long)st.st_nlink);
	} else if (off > (int64_t)st.st_size) {
		XERR(m, name, "offset %lld lies past the end of \"%s\" (%lld bytes)", (long long)off,
			loc, (long long)st.st_size);
	} else {
		if (len < 0)
			len = (int64_t)st.st_size - off;
		if (len > (int64_t)st.st_size - off)
			XERR(m, name, "offset %lld + length %lld exceeds the %lld bytes of \"%s\"",
				(long long)off, (long long)len, (long long)st.st_size, loc);
		else if (len != nbytes)
			XERR(m, name, "holds %lld bytes; shape and type need %lld", (long long)len,
				(long long)nbytes);
		else
			rc = 0;
	}
	if (rc < 0 || nbytes == 0) {
		close(fd);
		return rc < 0 ? -1 : ir_add_const(m->g, name, dt, s, NULL, 0, param);
	}
	long page = sysconf(_SC_PAGESIZE);
	int64_t base = off - off % (page > 0 ? page : 4096);
	size_t maplen = (size_t)(off - base + nbytes);
	void *map = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, fd, (off_t)base);
	close(fd);
	if (map == MAP_FAILED)
		return XERR(m, name, "cannot map \"%s\": %s", loc, strerror(errno));
	int v = ir_add_const(m->g, name, dt, s, (const char *)map + (off - base), (size_t)nbytes, param);
	munmap(map, maplen);
	return v;
}
