/* util.c — diagnostics, assert, arena and file helpers (see util.h). */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void nn_assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "nncc: internal error: %s:%d: assertion '%s' failed\n", file, line, expr);
	abort();
}

void diag_init(Diag *d)
{
	d->msg[0] = 0;
	d->len = 0;
	d->nerr = 0;
}

int vdiag(Diag *d, const char *fmt, va_list ap)
{
	if (!d)
		return -1;
	int room = (int)sizeof d->msg - d->len;
	if (room > 1) {
		int n = vsnprintf(d->msg + d->len, (size_t)room, fmt, ap);
		if (n < 0)
			n = 0;
		d->len += n < room ? n : room - 1;
		if (d->len < (int)sizeof d->msg - 1) {
			d->msg[d->len++] = '\n';
			d->msg[d->len] = 0;
		}
	}
	d->nerr++;
	return -1;
}

int diag(Diag *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdiag(d, fmt, ap);
	va_end(ap);
	return -1;
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "nncc: out of memory (%zu bytes)\n", n);
		abort();
	}
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p) {
		fprintf(stderr, "nncc: out of memory\n");
		abort();
	}
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "nncc: out of memory (%zu bytes)\n", n);
		abort();
	}
	return p;
}

struct ArenaBlock {
	ArenaBlock *next; /* older block */
	size_t used, cap; /* bytes of data[] */
	_Alignas(16) unsigned char data[];
};

void *arena_alloc(Arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	ArenaBlock *b = a->head;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		b = xmalloc(sizeof *b + cap);
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

char *arena_strdup(Arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = arena_alloc(a, n);
	memcpy(p, s, n);
	return p;
}

char *arena_printf(Arena *a, const char *fmt, ...)
{
	va_list ap, aq;
	va_start(ap, fmt);
	va_copy(aq, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *p = arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, aq);
	va_end(aq);
	return p;
}

void arena_free(Arena *a)
{
	ArenaBlock *b = a->head;
	while (b) {
		ArenaBlock *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
}

char *read_file(const char *path, size_t *len, Diag *d)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		diag(d, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		diag(d, "%s: read error", path);
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

char *make_tmp_next_to(const char *path, Diag *d)
{
	size_t n = strlen(path) + 48;
	char *tmp = xmalloc(n);
	for (int i = 0; i < 1000; i++) {
		snprintf(tmp, n, "%s.tmp%ld_%d", path, (long)getpid(), i);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
		if (fd >= 0) {
			close(fd);
			return tmp;
		}
		if (errno != EEXIST)
			break;
	}
	diag(d, "%s: cannot write: %s", path, strerror(errno)); /* the path given, not the temporary */
	free(tmp);
	return NULL;
}
