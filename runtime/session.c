/* session.c — sessions: the state of one runner of a model.
 *
 * A session owns the model's working arena (arena_bytes, 64-byte aligned)
 * and one buffer per input and output, all allocated at creation through
 * rt_alloc, so running allocates nothing (but for the weight cache,
 * wcache.c, filled on the first run). Inputs are copied in by
 * set_input after checking dtype and shape against the descriptor; run
 * passes the buffers and the descriptor's embedded parameter data to the
 * model's run function. Sessions share nothing, so two threads with two
 * sessions run concurrently.
 *
 * Threads: each session owns a thread pool (pool.c) of nthreads threads
 * counting the caller (default: NNCC_THREADS, else the online CPUs, at
 * most RT_DEFAULT_THREADS; 1 means no pool at all) and lends it to the
 * model through the nncc_abi_ctx that run() receives, with one GEMM
 * packing slot per thread (NNCC_ABI_GEMM_SCRATCH bytes each): the GEMMs
 * (runtime/gemm.c) run on the same threads as everything else, so no
 * second pool competes for the cores.
 *
 * Dynamic batch (abi.h batch_max): a batch input may be given fewer rows
 * than the max; its rows go to the front of its buffer, the run gets their
 * count in ctx.batch, and output_info reports the outputs at that batch.
 *
 * Training state starts as a copy of the embedded initial values; the
 * copy is all that reads them, so for a dlopened model their pages are
 * handed back (release_initial) instead of staying resident beside it.
 * The copies share one block: a buffer of 4 MiB or more takes whole huge
 * pages (common.c), and each tensor rounded up alone cost ResNet-18's
 * training step 9 MiB (its five largest weights and their momenta). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rt.h"

struct nncc_session {
	const nncc_model *model;   /* not owned; must outlive the session */
	const nncc_abi_model *abi; /* the model's descriptor */
	void *arena;               /* arena_bytes of working memory */
	void **in;                 /* ninputs buffers, nbytes each */
	void **out;                /* noutputs buffers, nbytes each */
	const void **params;       /* nparams pointers: the descriptor's data, or for training state the copy in state[i] */
	void **state;              /* per param: the session's writable copy of training state, NULL for a constant */
	void *state_mem;           /* one block holding every state[i] (whole huge pages for all, not each) */
	uint64_t seed;             /* training seed, saved with the weights (nncc_session_set_seed) */
	unsigned char *set;        /* set[i]: input i has been given */
	int64_t *rows;             /* dynamic batch: per input, the dim 0 it was given */
	int64_t *odims;            /* dynamic batch: every output's dims at the last run's batch, in order */
	int ran;                   /* a run has completed */
	int nthreads;              /* threads a run uses, >= 1 */
	RtPool *pool;              /* its workers; NULL when nthreads is 1 */
	nncc_abi_ctx ctx;          /* what run() receives */
	RtWcache wcache;           /* transformed weights (ctx.wcache) */
	RtCuda *cuda;              /* the GPU side (nncc_session_use_cuda), NULL: runs on the CPU */
	struct RtSplit *split;     /* the step's halves (split.c), NULL until used */
};

void
nncc_session_free(nncc_session *s)
{
	if (!s)
		return;
	rt_cuda_free(s->cuda);
	rt_split_free(s->split);
	rt_pool_free(s->pool);
	rt_free(s->ctx.gemm_scratch);
	rt_wcache_clear(&s->wcache);
	free(s->rows);
	free(s->odims);
	if (s->in)
		for (int32_t i = 0; i < s->abi->ninputs; i++)
			rt_free(s->in[i]);
	if (s->out)
		for (int32_t i = 0; i < s->abi->noutputs; i++)
			rt_free(s->out[i]);
	rt_free(s->arena);
	free(s->in);
	free(s->out);
	rt_free(s->state_mem);
	free(s->state);
	free(s->params);
	free(s->set);
	free(s);
}

/* NNCC_THREADS when it is a count in range, else the online CPUs capped
 * at RT_DEFAULT_THREADS. */
static int
default_threads(void)
{
	const char *env = getenv("NNCC_THREADS");
	char *end;
	long n;

	if (env && *env) {
		errno = 0;
		n = strtol(env, &end, 10);
		if (errno == 0 && *end == 0 && n >= 1 && n <= RT_MAX_THREADS)
			return (int)n;
	}
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > RT_DEFAULT_THREADS ? RT_DEFAULT_THREADS : (int)n;
}

/* Replaces the pool by one of n threads; on failure the old one stays. */
/* Drops the resident pages wholly inside [p, p + n) of a dlopened model's
 * embedded data: clean pages of the library's private read-only file
 * mapping (the data is a constant global, never written), so
 * MADV_DONTNEED only unmaps them and a later read (another session's
 * copy) faults them in again from the file. Memory a caller wrapped
 * (nncc_model_from_abi) may be anonymous, where it would zero it: left
 * alone. Best effort: a failure changes nothing. */
static void
release_initial(const nncc_model *m, const void *p, int64_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t lo, hi;

	if (!rt_model_from_file(m) || pg <= 0 || !p || n <= 0)
		return;
	lo = ((uintptr_t)p + (uintptr_t)pg - 1) / (uintptr_t)pg * (uintptr_t)pg;
	hi = ((uintptr_t)p + (uintptr_t)n) / (uintptr_t)pg * (uintptr_t)pg;
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Copies a state tensor's initial value into the session's copy a MiB at
 * a time, handing each piece's pages back once copied: copied whole and
 * released after, the largest tensor's pages (9 MiB of ResNet-18's) stood
 * beside its copy at the session's creation, the step's peak memory. */
static void
copy_initial(const nncc_model *m, void *dst, const void *src, int64_t n)
{
	enum { PIECE = 1 << 20 };

	for (int64_t off = 0; off < n; off += PIECE) {
		int64_t len = n - off < PIECE ? n - off : PIECE;
		memcpy((char *)dst + off, (const char *)src + off, (size_t)len);
		release_initial(m, src, off + len); /* the pages wholly in what is copied so far */
	}
}

static nncc_status
use_threads(nncc_session *s, int n, char **err)
{
	RtPool *p;
	nncc_status st;
	void *scratch;

	if ((st = rt_pool_new(n, &p, err)) != NNCC_STATUS_OK)
		return st;
	if (!(scratch = rt_alloc_uninit((int64_t)rt_pool_threads(p) * NNCC_ABI_GEMM_SCRATCH))) {
		rt_pool_free(p);
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	}
	rt_free(s->ctx.gemm_scratch);
	s->ctx.gemm_scratch = scratch;
	rt_pool_free(s->pool);
	s->pool = p;
	s->nthreads = rt_pool_threads(p);
	s->ctx.nthreads = s->nthreads;
	s->ctx.parallel_for = p ? rt_pool_parallel_for : NULL;
	s->ctx.pool = p;
	return NNCC_STATUS_OK;
}

/* calloc of n pointers, at least one so that NULL always means failure. */
static void *
ptrs(int32_t n)
{
	return rt_calloc(n > 0 ? (size_t)n : 1, sizeof(void *));
}

nncc_status
nncc_session_create(const nncc_model *m, nncc_session **out, char **err)
{
	const nncc_abi_model *a;
	nncc_session *s;

	if (err)
		*err = NULL;
	if (!out)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_session_create: out is NULL");
	*out = NULL;
	if (!m)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_session_create: no model");
	a = rt_model_abi(m);
	s = rt_calloc(1, sizeof *s);
	if (!s)
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	s->model = m;
	s->abi = a;
	s->wcache.abi = a;
	s->ctx.wcache = rt_wcache_get;
	s->ctx.wcache_owner = &s->wcache;
	s->in = ptrs(a->ninputs);
	s->out = ptrs(a->noutputs);
	s->params = ptrs(a->nparams);
	s->state = ptrs(a->nparams);
	s->set = rt_calloc(a->ninputs > 0 ? (size_t)a->ninputs : 1, 1);
	s->rows = rt_calloc(a->ninputs > 0 ? (size_t)a->ninputs : 1, sizeof *s->rows);
	int64_t nd = 1;
	for (int32_t i = 0; i < a->noutputs; i++)
		nd += a->outputs[i].rank;
	s->odims = rt_calloc((size_t)nd, sizeof *s->odims);
	s->arena = rt_alloc(a->arena_bytes);
	if (!s->in || !s->out || !s->params || !s->state || !s->set || !s->rows || !s->odims || !s->arena)
		goto oom;
	s->ctx.batch = a->batch_max;
	for (int32_t i = 0; i < a->ninputs; i++)
		if (!(s->in[i] = rt_alloc(a->inputs[i].nbytes)))
			goto oom;
	for (int32_t i = 0; i < a->noutputs; i++)
		if (!(s->out[i] = rt_alloc(a->outputs[i].nbytes)))
			goto oom;
	int64_t nstate = 0; /* training state: one block, each tensor RT_ALIGN-aligned in it */
	bool any = false;   /* (a tensor of no elements still gets a non-NULL state[i]) */
	for (int32_t i = 0; i < a->nparams; i++)
		if (a->param_role && a->param_role[i] != NNCC_ABI_ROLE_CONST) {
			nstate += (a->params[i].nbytes + RT_ALIGN - 1) / RT_ALIGN * RT_ALIGN;
			any = true;
		}
	if (any && !(s->state_mem = rt_alloc(nstate)))
		goto oom;
	nstate = 0;
	for (int32_t i = 0; i < a->nparams; i++) {
		s->params[i] = a->params[i].data;
		if (a->param_role && a->param_role[i] != NNCC_ABI_ROLE_CONST) { /* training state */
			s->state[i] = (char *)s->state_mem + nstate;
			nstate += (a->params[i].nbytes + RT_ALIGN - 1) / RT_ALIGN * RT_ALIGN;
			if (a->params[i].data) /* no data: zeros */
				copy_initial(m, s->state[i], a->params[i].data, a->params[i].nbytes);
			s->params[i] = s->state[i];
		}
	}
	if (use_threads(s, default_threads(), NULL) != NNCC_STATUS_OK &&
	    use_threads(s, 1, NULL) != NNCC_STATUS_OK) /* no threads to spare: run serially */
		goto oom;
	*out = s;
	return NNCC_STATUS_OK;
oom:
	nncc_session_free(s);
	return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY,
		      "model '%s': cannot allocate session memory (arena %lld bytes)", a->name,
		      (long long)a->arena_bytes);
}

nncc_status
nncc_session_set_input(nncc_session *s, int index, const void *data, int rank,
		       const int64_t *dims, int dtype, char **err)
{
	const nncc_abi_tensor *t;
	char want[256], got[256];
	int same;

	if (err)
		*err = NULL;
	if (!s)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_session_set_input: no session");
	if (index < 0 || index >= s->abi->ninputs)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT,
			      "input index %d out of range (model '%s' has %d inputs)", index,
			      s->abi->name, (int)s->abi->ninputs);
	t = &s->abi->inputs[index];
	if (rank < 0 || (rank > 0 && !dims))
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "input '%s': bad rank %d", t->name,
			      rank);
	int batched = s->abi->batch_max > 0 && s->abi->batch_io[index];
	same = dtype == t->dtype && rank == t->rank;
	for (int i = 0; same && i < rank; i++) /* a batch input: any dim 0 up to the max */
		same = dims[i] == t->dims[i] || (i == 0 && batched && dims[0] >= 1 && dims[0] <= t->dims[0]);
	if (!same) {
		rt_format_type(want, sizeof want, t->dtype, t->rank, t->dims);
		rt_format_type(got, sizeof got, dtype, rank, dims);
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT,
			      "input '%s': expected %s, given %s", t->name, want, got);
	}
	if (t->nbytes > 0) {
		if (!data)
			return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "input '%s': data is NULL",
				      t->name);
		memcpy(s->in[index], data, (size_t)(batched ? t->nbytes / t->dims[0] * dims[0] : t->nbytes));
	}
	s->rows[index] = rank > 0 ? dims[0] : 0;
	s->set[index] = 1;
	return NNCC_STATUS_OK;
}

nncc_status
nncc_session_run(nncc_session *s, char **err)
{
	const nncc_abi_model *a;

	if (err)
		*err = NULL;
	if (!s)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_session_run: no session");
	a = s->abi;
	for (int32_t i = 0; i < a->ninputs; i++)
		if (!s->set[i])
			return rt_err(err, NNCC_STATUS_NOT_READY, "model '%s': input '%s' not set",
				      a->name, a->inputs[i].name);
	if (a->batch_max > 0) { /* the batch inputs agree on the rows of this run */
		int32_t first = -1;
		for (int32_t i = 0; i < a->ninputs; i++) {
			if (!a->batch_io[i])
				continue;
			if (first < 0)
				first = i;
			else if (s->rows[i] != s->rows[first])
				return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT,
					      "model '%s': input '%s' has batch %lld, input '%s' %lld", a->name,
					      a->inputs[first].name, (long long)s->rows[first], a->inputs[i].name,
					      (long long)s->rows[i]);
		}
		s->ctx.batch = s->rows[first];
	}
	if (s->cuda) {
		nncc_status st = rt_cuda_run(s->cuda, (const void *const *)s->in, (void *const *)s->out,
					     (const void *const *)s->params, err);
		if (st != NNCC_STATUS_OK)
			return st;
	} else {
		a->run(s->arena, (const void *const *)s->in, (void *const *)s->out,
		       (const void *const *)s->params, &s->ctx);
	}
	s->ran = 1;
	return NNCC_STATUS_OK;
}

nncc_status
nncc_session_output(const nncc_session *s, int index, const void **data)
{
	if (!s || !data || index < 0 || index >= s->abi->noutputs)
		return NNCC_STATUS_INVALID_ARGUMENT;
	if (!s->ran)
		return NNCC_STATUS_NOT_READY;
	*data = s->out[index];
	return NNCC_STATUS_OK;
}

int64_t
nncc_session_batch(const nncc_session *s)
{
	return s && s->abi->batch_max > 0 ? s->ctx.batch : 0;
}

nncc_status
nncc_session_output_info(const nncc_session *s, int i, nncc_tensor_info *info)
{
	if (!s || !info || i < 0 || i >= s->abi->noutputs)
		return NNCC_STATUS_INVALID_ARGUMENT;
	if (!s->ran)
		return NNCC_STATUS_NOT_READY;
	const nncc_abi_tensor *t = &s->abi->outputs[i];
	int64_t *d = s->odims;
	for (int j = 0; j < i; j++)
		d += s->abi->outputs[j].rank;
	if (t->rank > 0)
		memcpy(d, t->dims, (size_t)t->rank * sizeof *d);
	info->name = t->name;
	info->dtype = (nncc_dtype)t->dtype;
	info->rank = t->rank;
	info->dims = d;
	info->nbytes = t->nbytes;
	if (s->abi->batch_max > 0 && s->abi->batch_io[s->abi->ninputs + i]) {
		info->nbytes = t->nbytes / t->dims[0] * s->ctx.batch;
		d[0] = s->ctx.batch;
	}
	return NNCC_STATUS_OK;
}

nncc_status
nncc_session_set_threads(nncc_session *s, int nthreads, char **err)
{
	if (err)
		*err = NULL;
	if (!s)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_session_set_threads: no session");
	if (nthreads < 0 || nthreads > RT_MAX_THREADS)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT,
			      "model '%s': %d threads asked for (0 for the default, at most %d)",
			      s->abi->name, nthreads, RT_MAX_THREADS);
	if (nthreads == 0)
		nthreads = default_threads();
	if (nthreads == s->nthreads)
		return NNCC_STATUS_OK;
	return use_threads(s, nthreads, err);
}

int
nncc_session_num_threads(const nncc_session *s)
{
	return s ? s->nthreads : 0;
}

/* Internal accessors for train.c (rt.h). */
void *
rt_session_param(const nncc_session *s, int i)
{
	if (s->cuda && s->state[i]) /* training state: the device's value (on failure the host's) */
		rt_cuda_param_host(s->cuda, i, s->state[i]);
	return (void *)s->params[i];
}

nncc_status
nncc_session_use_cuda(nncc_session *s, int device, char **err)
{
	if (err)
		*err = NULL;
	if (!s)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_session_use_cuda: no session");
	if (s->cuda)
		return NNCC_STATUS_OK;
	if (s->abi->batch_max > 0)
		return rt_err(err, NNCC_STATUS_UNSUPPORTED, "model '%s': a dynamic batch runs on the CPU only",
			      s->abi->name);
	return rt_cuda_open(s->abi, rt_model_cuda(s->model), (const void *const *)s->params, device, &s->cuda, err);
}

int
rt_session_param_writable(const nncc_session *s, int i)
{
	return s->state[i] != NULL;
}

uint64_t *
rt_session_seed(nncc_session *s)
{
	return &s->seed;
}

const nncc_abi_model *
rt_session_abi(const nncc_session *s)
{
	return s->abi;
}

const nncc_model *
rt_session_model(const nncc_session *s)
{
	return s->model;
}

nncc_status
rt_session_ready(const nncc_session *s, char **err)
{
	for (int32_t i = 0; i < s->abi->ninputs; i++)
		if (!s->set[i])
			return rt_err(err, NNCC_STATUS_NOT_READY, "model '%s': input '%s' not set",
				      s->abi->name, s->abi->inputs[i].name);
	if (s->cuda)
		return rt_err(err, NNCC_STATUS_UNSUPPORTED, "model '%s': the step's halves run on the "
			      "CPU only (docs/distributed.md)", s->abi->name);
	return NNCC_STATUS_OK;
}

void *const *
rt_session_inputs(const nncc_session *s)
{
	return s->in;
}

void *
rt_session_arena(const nncc_session *s)
{
	return s->arena;
}

void *
rt_session_ctx(nncc_session *s)
{
	return &s->ctx;
}

struct RtSplit **
rt_session_split(nncc_session *s)
{
	return &s->split;
}
