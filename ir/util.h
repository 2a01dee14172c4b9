/* util.h — small helpers shared by every compile-time layer: diagnostics,
 * checked arithmetic, the invariant assert, and a bump arena.
 * The runtime does not include this file (it has its own, smaller needs). */
#ifndef NNCC_UTIL_H
#define NNCC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Broken invariants: print file:line and abort. Never used for bad input. */
#define NN_ASSERT(c) \
	((c) ? (void)0 : nn_assert_fail(#c, __FILE__, __LINE__))
_Noreturn void nn_assert_fail(const char *expr, const char *file, int line);

/* Diag collects error messages for the caller (bad input path). A function
 * that fails appends one or more lines and returns -1; the caller prints
 * d->msg. Messages name the file, node or line they are about. */
typedef struct Diag {
	char msg[8192]; /* newline-separated messages, NUL-terminated */
	int len;        /* bytes used in msg */
	int nerr;       /* number of messages appended */
} Diag;

void diag_init(Diag *d);
/* Appends one line (a '\n' is added); returns -1 so callers can write
 * `return diag(d, "...")`. d may be NULL (message dropped). */
int diag(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vdiag(Diag *d, const char *fmt, va_list ap);

/* Checked arithmetic for sizes computed from untrusted input: return false
 * on overflow (and leave *r unspecified). */
static inline bool ck_add(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline bool ck_mul(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool ck_sub(int64_t a, int64_t b, int64_t *r) { return !__builtin_sub_overflow(a, b, r); }
/* Ceiling of a / b for a >= 0, b > 0, without forming a + b - 1. */
static inline int64_t ck_cdiv(int64_t a, int64_t b) { return a / b + (a % b != 0); }

/* Saturating arithmetic for cost estimates (FLOPs, work): sat_mul is 0
 * when either factor is <= 0, INT64_MAX on overflow. */
static inline int64_t sat_mul(int64_t a, int64_t b) { int64_t r; return a <= 0 || b <= 0 ? 0 : ck_mul(a, b, &r) ? r : INT64_MAX; }
static inline int64_t sat_add(int64_t a, int64_t b) { int64_t r; return ck_add(a, b, &r) ? r : INT64_MAX; }

/* Bump arena: compile-time objects live here and are freed all at once. */
typedef struct ArenaBlock ArenaBlock;
typedef struct Arena {
	ArenaBlock *head; /* newest block first */
} Arena;

void *arena_alloc(Arena *a, size_t n);  /* zeroed, 16-byte aligned; aborts on OOM */
char *arena_strdup(Arena *a, const char *s);
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void arena_free(Arena *a);

/* xmalloc family: abort on OOM (compile time only). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);

/* Reserves a fresh temporary name next to path (by creating it empty, so
 * a later rename over path stays on one file system); returns the
 * malloc'd name, or NULL with a message in d. */
char *make_tmp_next_to(const char *path, Diag *d);

/* Reads a whole file; returns NULL and fills d on failure. *len gets the size.
 * The buffer is NUL-terminated (not counted in *len); free() it. */
char *read_file(const char *path, size_t *len, Diag *d);

#endif
