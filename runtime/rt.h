/* rt.h — the internal header of the runtime layer (libnncc_rt).
 *
 * The runtime is plain C on libc, libdl, libm and pthreads: no LLVM, no
 * protobuf library. Sections follow the files. Errors on the bad-input path
 * are an nncc_status plus a malloc'd message (see rt_err); the runtime
 * never exits and keeps no mutable globals (but the test hook's two
 * counters, common.c). */
#ifndef NNCC_RT_H
#define NNCC_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nncc/nncc.h"
#include "abi.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the runtime assumes a little-endian host (npy, TensorProto, ABI data)"
#endif

enum { RT_MAX_RANK = 32 }; /* most dims a tensor read from a file may have */
enum { RT_ALIGN = 64 };    /* alignment of every runtime buffer */
enum { RT_MAX_THREADS = 256 };    /* most threads a session may ask for */
enum { RT_DEFAULT_THREADS = 8 };  /* default: online CPUs, at most this many */

/* A dense tensor read from (or to be written to) a file. */
typedef struct RtTensor {
	char *name;                 /* malloc'd; NULL when the file has none (npy) */
	int dtype;                  /* nncc_dtype */
	int rank;                   /* 0..RT_MAX_RANK */
	int64_t dims[RT_MAX_RANK];  /* extents, row-major (C order) */
	int64_t nbytes;             /* product(dims) * element size */
	void *data;                 /* rt_alloc'd, never NULL after a successful read */
} RtTensor;

/* Checked arithmetic for sizes from untrusted input: false on overflow. */
static inline bool rt_ck_add(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline bool rt_ck_mul(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }

/* common.c */
/* The one allocation hook of the runtime: n bytes (n may be 0), RT_ALIGN
 * aligned (from 4 MiB on, 2 MiB aligned, in transparent huge pages where
 * the kernel gives them), zeroed; NULL on failure or when n does not fit
 * size_t. */
void *rt_alloc(int64_t n);
/* The same, not zeroed: pages nothing writes never become resident. */
void *rt_alloc_uninit(int64_t n);
/* malloc, calloc and realloc through the same hook: every allocation of
 * the runtime goes through these or rt_alloc (the kernel library's files
 * excepted: they allocate nothing on the error path). */
void *rt_malloc(size_t n);
void *rt_calloc(size_t n, size_t size);
void *rt_realloc(void *p, size_t n);
/* Test hook: counting from this call, the allocation of index n (0-based)
 * fails, every other succeeds (n < 0: none fails). Returns the number of
 * allocations made since the previous call. For tests only
 * (tests/unit/test_rt_contract.c); the count is global to the process. */
int64_t rt_test_fail_alloc_at(int64_t n);
void rt_free(void *p);
/* Sets *err (if err is non-NULL) to a malloc'd formatted message and
 * returns st, so callers write `return rt_err(err, ST, "...")`. */
nncc_status rt_err(char **err, nncc_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Bytes of the dense tensor dtype[dims]: false (with a message) on a bad
 * dtype, a negative dim or overflow. what names the tensor in the message. */
nncc_status rt_tensor_bytes(int dtype, int rank, const int64_t *dims, int64_t *nbytes,
			    const char *what, char **err);
/* Writes "f32[2,3]" into buf (truncated to size). Returns buf. */
char *rt_format_type(char *buf, size_t size, int dtype, int rank, const int64_t *dims);
/* Releases t's buffers and zeroes it. NULL is fine. */
void rt_tensor_free(RtTensor *t);

/* wcache.c: a session's cache of transformed read-only weights (see
 * nncc_abi_ctx.wcache; owner is the RtWcache). */
typedef struct RtWcache {
	const nncc_abi_model *abi; /* whose constant params may be keys */
	struct RtWentry *e;        /* entries, n used of cap */
	int n, cap;
} RtWcache;
void *rt_wcache_get(void *owner, const void *key, uint64_t tag, int64_t bytes, int *fresh);
void rt_wcache_clear(RtWcache *c); /* frees every entry */

/* model.c */
/* Wraps a descriptor already in memory (a test's, or one linked into the
 * program). The descriptor must outlive the model; it is validated as
 * nncc_model_load does. */
nncc_status nncc_model_from_abi(const nncc_abi_model *abi, nncc_model **out, char **err);
const nncc_abi_model *rt_model_abi(const nncc_model *m);
/* Half h (0: gradients, 1: update) of a --split-step artifact, or NULL. */
const nncc_abi_model *rt_model_half(const nncc_model *m, int h);
/* Whether the model's data lies in a library nncc_model_load dlopened
 * (read-only pages of a file mapping), not in memory a caller wrapped. */
int rt_model_from_file(const nncc_model *m);

/* pool.c: a thread pool (see the file). */
typedef struct RtPool RtPool;
/* A pool of nthreads threads counting the caller (nthreads - 1 workers);
 * *out is NULL when nthreads <= 1. */
nncc_status rt_pool_new(int nthreads, RtPool **out, char **err);
void rt_pool_free(RtPool *p);
/* Threads of the pool, counting the caller; 1 for NULL. */
int rt_pool_threads(const RtPool *p);
/* nncc_abi_ctx.parallel_for: fn(closure, c) for every c in [0, nchunks),
 * on the pool's threads and the caller's; returns when all have run. A
 * NULL pool runs them in order on the caller. */
void rt_pool_parallel_for(void *pool, void (*fn)(void *, int64_t), void *closure, int64_t nchunks);

/* npy.c: NumPy .npy v1/v2/v3, C order, dtypes <f4 <f8 <f2 <i4 <i8 |i1 |u1 |b1.
 * what (a file name, may be NULL) prefixes error messages. */
nncc_status rt_npy_decode(const void *buf, size_t len, RtTensor *t, const char *what, char **err);
/* Writes a v1.0 file laid out like numpy.save (header padded to 64 bytes)
 * to a temporary in the same folder, then renames it over path: a failed
 * write never leaves a partial file at path. */
nncc_status rt_npy_write(const char *path, int dtype, int rank, const int64_t *dims,
			 const void *data, char **err);

/* session.c: what train.c needs of a session. */
void *rt_session_param(const nncc_session *s, int i);   /* param i's data (the writable copy for state) */
int rt_session_param_writable(const nncc_session *s, int i); /* param i is training state */
uint64_t *rt_session_seed(nncc_session *s);              /* the session's training seed */
const nncc_abi_model *rt_session_abi(const nncc_session *s);
/* session.c: what split.c needs of a session. */
const nncc_model *rt_session_model(const nncc_session *s);
nncc_status rt_session_ready(const nncc_session *s, char **err); /* every input set, on the CPU */
void *const *rt_session_inputs(const nncc_session *s);           /* the input buffers */
void *rt_session_arena(const nncc_session *s);                   /* the step's arena */
void *rt_session_ctx(nncc_session *s);                           /* the nncc_abi_ctx of its threads */
struct RtSplit **rt_session_split(nncc_session *s);              /* split.c's state, NULL until used */
/* split.c: frees a session's split state. */
void rt_split_free(struct RtSplit *p);

/* model_check.c: validates a descriptor before use; image is the base
 * address of the library holding it (rt_image_base), which every pointer
 * in it must lie in, or NULL for a descriptor in memory. roles: also check
 * the training state's roles (not for a step's halves, whose outputs are
 * not a loss; split.c checks those against the step). */
nncc_status rt_check_abi(const nncc_abi_model *a, const void *image, int roles, char **err);
const void *rt_image_base(const void *p); /* dladdr's object base, or NULL */

/* train.c: checks a descriptor's param roles (model.c calls it). */
nncc_status rt_check_roles(const nncc_abi_model *a, char **err);

/* safetensors.c: the safetensors format (an 8-byte little-endian header
 * length, a JSON header, the data). */
typedef struct RtStEntry {
	char *name;              /* malloc'd tensor name */
	int dtype;               /* nncc_dtype */
	int rank;                /* number of dims */
	int64_t dims[RT_MAX_RANK]; /* extents */
	int64_t begin, end;      /* byte range in the data section */
} RtStEntry;
typedef struct RtSt {
	RtStEntry *t;            /* tensors, in header order */
	int n;                   /* count */
	char *meta_step;         /* __metadata__ "step", malloc'd or NULL */
	char *meta_seed;         /* __metadata__ "seed", malloc'd or NULL */
	const unsigned char *data; /* the data section (inside the file buffer) */
	int64_t ndata;           /* its bytes */
} RtSt;
/* Parses a safetensors file held in buf (len bytes); st points into buf
 * for the data. Every range is checked against the data section and the
 * tensor's dtype and shape. what names the file in messages. */
nncc_status rt_st_parse(const void *buf, size_t len, RtSt *st, const char *what, char **err);
void rt_st_free(RtSt *st);
/* Writes tensors (name, dtype, rank, dims, data) and the metadata given to
 * path through a temporary renamed into place. */
nncc_status rt_st_write(const char *path, const RtTensor *t, int n, const char *step,
			const char *seed, char **err);

/* pb.c: ONNX TensorProto (wire format decoded by hand). */
nncc_status rt_pb_decode(const void *buf, size_t len, RtTensor *t, const char *what, char **err);

/* common.c: reads a tensor file, a .npy (by its magic) or else an ONNX
 * TensorProto; on failure t is left empty. */
nncc_status rt_tensor_read(const char *path, RtTensor *t, char **err);
/* common.c: reads a whole file into an rt_alloc'd buffer (*len bytes). */
nncc_status rt_read_file(const char *path, void **buf, size_t *len, char **err);
/* Writes the n chunks (bytes[i] of part[i]) to path through a temporary
 * file renamed over it on success, so a failed write never leaves a
 * partial file behind as if complete. */
nncc_status rt_write_file(const char *path, const void *const *part, const size_t *bytes, int n,
			  char **err);

/* cuda.c: a session's GPU side (docs/cuda.md); model.c finds the descriptor. */
struct nncc_abi_cuda;
typedef struct RtCuda RtCuda;
const struct nncc_abi_cuda *rt_model_cuda(const nncc_model *m); /* NULL: no CUDA code */
/* Loads the driver, the model's kernels and its parameters (params: the
 * session's host values) on device `device`; UNSUPPORTED with a message
 * when the machine has no usable GPU. */
nncc_status rt_cuda_open(const nncc_abi_model *a, const struct nncc_abi_cuda *cd, const void *const *params,
			 int device, RtCuda **out, char **err);
/* One step: inputs in, the kernels (a CUDA graph), outputs out. */
nncc_status rt_cuda_run(RtCuda *c, const void *const *in, void *const *out, const void *const *params,
			char **err);
/* Before the host touches param i at host: copies the device's newer value
 * back, and marks it to be copied in before the next run; -1 on failure. */
int rt_cuda_param_host(RtCuda *c, int i, void *host);
int rt_cuda_device_sm(const RtCuda *c); /* compute capability, e.g. 90 */
void rt_cuda_free(RtCuda *c);

#endif
