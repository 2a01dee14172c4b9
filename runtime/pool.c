/* pool.c — the thread pool a session lends its model (abi.h nncc_abi_ctx).
 *
 * A pool of n threads is the calling thread plus n - 1 workers. Between
 * jobs a worker first spins for SPIN_NS watching for the next job (a model
 * runs kernel after kernel, and a futex wake-up costs more than most of
 * them), then sleeps on a condition variable; the caller likewise spins a
 * while for the workers to leave a job before it sleeps. A job is one
 * parallel_for: fn(closure, c) for every chunk c in [0, nchunks).
 *
 * Chunks go to threads in fixed runs: thread t (the caller is 0, worker i
 * is i) first takes chunks [t n / T, (t + 1) n / T) of its own run, then
 * what is left of the others' runs (a thread that wakes late, or a slow
 * chunk, is made up for). A kernel's chunk c is thus nearly always run by
 * the same thread from one job to the next, and kernels that split their
 * data alike (the convolutions' output rows, tile ranges) find their input
 * in the cache of the core that wrote it: handing half of every
 * activation to the other core costs little on one chip, twice the copy
 * on a VM whose vCPUs do not share a cache. Each run has its own atomic
 * counter (on its own cache line); a chunk runs once, for whoever takes
 * it. The caller returns once every chunk has run and no worker is still
 * inside the job, so the closure (on the caller's stack) is never touched
 * afterwards.
 *
 * Each job carries the caller's CPU (sched_getcpu). A worker that joins
 * a job on that same CPU moves itself to another CPU the process allows
 * (pinned there until the next such meeting): the kernel's scheduler,
 * waking a thread on its waker's CPU, sometimes stacks the caller and a
 * worker on one CPU and leaves them there for milliseconds while the
 * other idles; a job then runs slower than on one thread (MobileNetV2 at
 * batch 1 on this project's 2-vCPU VM: 7.5 ms on two threads so stacked,
 * 4.4 ms apart). The user's thread is never pinned.
 *
 * Invariants, under mu: job fields change only while busy == 0; a worker
 * joins a job (busy++) only when gen moved past the last job it saw. A
 * worker that wakes late finds the counter past nchunks and does nothing.
 * parallel_for from inside a job (or a second caller while one runs) runs
 * its chunks serially on its own thread instead of waiting on itself. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "rt.h"

struct RtPool {
	pthread_mutex_t mu;
	pthread_cond_t wake;   /* workers: a new job or stop */
	pthread_cond_t idle;   /* caller: busy dropped to 0 */
	pthread_t *th;         /* the workers */
	int nth;               /* worker count (threads - 1) */
	int stop;              /* workers exit */
	int active;            /* a job is running (nested calls go serial) */
	atomic_uint_fast64_t gen; /* job number, bumped per job (written under mu) */
	atomic_int busy;       /* workers inside the current job (written under mu) */
	void (*fn)(void *, int64_t); /* the job */
	void *closure;
	int64_t nchunks;
	int cpu;               /* the caller's CPU (-1: unknown) */
	struct Run *run;       /* per thread: its run of the job's chunks */
	struct Wk *wk;         /* per worker: the pool and its thread number */
};

/* Thread t's run of chunks: next to take, end (past the last). */
struct Run {
	_Alignas(64) atomic_int_fast64_t next;
	int64_t end;
};

struct Wk {
	RtPool *p;
	int t;
	int can_move;       /* allowed holds the CPUs the worker started with */
	cpu_set_t allowed;
};

enum { SPIN_NS = 100000 }; /* how long a thread spins before it sleeps */

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static int64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Spins up to SPIN_NS while *v == old (after a job, before a sleep):
 * whether it changed. Yields now and then so a spinning thread on a busy
 * machine gives way. */
static int
spin_while_eq(atomic_uint_fast64_t *v, uint64_t old)
{
	int64_t t0 = now_ns();

	for (int i = 1;; i++) {
		if (atomic_load_explicit(v, memory_order_acquire) != old)
			return 1;
		if (i % 64 == 0) {
			if (now_ns() - t0 > SPIN_NS)
				return 0;
			sched_yield();
		}
		cpu_relax();
	}
}

/* The same for the busy count: spins while it is not zero. */
static int
spin_while_busy(atomic_int *v)
{
	int64_t t0 = now_ns();

	for (int i = 1;; i++) {
		if (atomic_load_explicit(v, memory_order_acquire) == 0)
			return 1;
		if (i % 64 == 0 && now_ns() - t0 > SPIN_NS)
			return 0;
		cpu_relax();
	}
}

/* Moves the calling worker off cpu, the caller's, to the k-th (round
 * robin) other CPU of those it was allowed at its start. */
static void
move_off(const struct Wk *wk, int k, int cpu)
{
	cpu_set_t set = wk->allowed, one;
	int n = 0, cnt;

	if (cpu < CPU_SETSIZE)
		CPU_CLR(cpu, &set);
	if ((cnt = CPU_COUNT(&set)) < 1)
		return;
	k %= cnt;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set) && n++ == k) {
			CPU_ZERO(&one);
			CPU_SET(c, &one);
			pthread_setaffinity_np(pthread_self(), sizeof one, &one);
			return;
		}
}

/* Thread t takes and runs the chunks of its run, then what is left of
 * the others', until none is left. */
static void
drain(RtPool *p, int t, void (*fn)(void *, int64_t), void *closure)
{
	int n = p->nth + 1;

	for (int i = 0; i < n; i++) {
		struct Run *r = &p->run[(t + i) % n];
		int64_t c;
		while ((c = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed)) < r->end)
			fn(closure, c);
	}
}

static void *
worker(void *arg)
{
	struct Wk *wk = arg;
	RtPool *p = wk->p;
	uint64_t seen = 0;

	wk->can_move = sched_getaffinity(0, sizeof wk->allowed, &wk->allowed) == 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (!p->stop && atomic_load(&p->gen) == seen) {
			pthread_mutex_unlock(&p->mu);
			spin_while_eq(&p->gen, seen);
			pthread_mutex_lock(&p->mu);
		}
		while (!p->stop && atomic_load(&p->gen) == seen)
			pthread_cond_wait(&p->wake, &p->mu);
		if (p->stop)
			break;
		seen = atomic_load(&p->gen);
		void (*fn)(void *, int64_t) = p->fn;
		void *closure = p->closure;
		int cpu = p->cpu;
		p->busy++;
		pthread_mutex_unlock(&p->mu);
		if (cpu >= 0 && wk->can_move && sched_getcpu() == cpu)
			move_off(wk, wk->t - 1, cpu);
		drain(p, wk->t, fn, closure);
		pthread_mutex_lock(&p->mu);
		if (--p->busy == 0)
			pthread_cond_signal(&p->idle);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void
rt_pool_parallel_for(void *pool, void (*fn)(void *, int64_t), void *closure, int64_t nchunks)
{
	RtPool *p = pool;

	if (nchunks <= 0)
		return;
	if (!p || p->nth == 0 || nchunks == 1) {
		for (int64_t c = 0; c < nchunks; c++)
			fn(closure, c);
		return;
	}
	pthread_mutex_lock(&p->mu);
	if (p->active) { /* nested, or another thread's job: no waiting on ourselves */
		pthread_mutex_unlock(&p->mu);
		for (int64_t c = 0; c < nchunks; c++)
			fn(closure, c);
		return;
	}
	while (p->busy > 0) /* a late worker still leaving the last job */
		pthread_cond_wait(&p->idle, &p->mu);
	p->active = 1;
	p->fn = fn;
	p->closure = closure;
	p->nchunks = nchunks;
	p->cpu = sched_getcpu();
	for (int t = 0; t <= p->nth; t++) {
		atomic_store_explicit(&p->run[t].next, t * nchunks / (p->nth + 1), memory_order_relaxed);
		p->run[t].end = (t + 1) * nchunks / (p->nth + 1);
	}
	p->gen++; /* publishes the runs: workers read them after seeing gen move */
	if (nchunks - 1 >= p->nth)
		pthread_cond_broadcast(&p->wake);
	else
		for (int64_t i = 0; i < nchunks - 1; i++)
			pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->mu);

	drain(p, 0, fn, closure);

	spin_while_busy(&p->busy);
	pthread_mutex_lock(&p->mu);
	while (p->busy > 0)
		pthread_cond_wait(&p->idle, &p->mu);
	p->active = 0;
	pthread_mutex_unlock(&p->mu);
}

void
rt_pool_free(RtPool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	pthread_cond_destroy(&p->idle);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->mu);
	free(p->th);
	free(p->wk);
	free(p->run);
	free(p);
}

nncc_status
rt_pool_new(int nthreads, RtPool **out, char **err)
{
	RtPool *p;
	int e;

	*out = NULL;
	if (nthreads <= 1)
		return NNCC_STATUS_OK;
	if (nthreads > RT_MAX_THREADS)
		return rt_err(err, NNCC_STATUS_INVALID_ARGUMENT, "%d threads (at most %d)", nthreads,
			      RT_MAX_THREADS);
	p = rt_calloc(1, sizeof *p);
	if (!p)
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	p->th = rt_calloc((size_t)nthreads - 1, sizeof *p->th);
	p->wk = rt_calloc((size_t)nthreads - 1, sizeof *p->wk);
	p->run = rt_alloc((int64_t)nthreads * (int64_t)sizeof *p->run); /* RT_ALIGN: whole cache lines */
	if (!p->th || !p->wk || !p->run) {
		free(p->th);
		free(p->wk);
		free(p->run);
		free(p);
		return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->idle, NULL);
	for (int t = 0; t < nthreads; t++) {
		atomic_init(&p->run[t].next, 0);
		p->run[t].end = 0;
	}
	for (int i = 0; i < nthreads - 1; i++) {
		p->wk[i] = (struct Wk){.p = p, .t = i + 1};
		if ((e = pthread_create(&p->th[i], NULL, worker, &p->wk[i])) != 0) {
			rt_pool_free(p); /* joins the p->nth workers started so far */
			return rt_err(err, NNCC_STATUS_OUT_OF_MEMORY, "cannot start thread %d of %d (error %d)",
				      i + 2, nthreads, e);
		}
		p->nth++;
	}
	*out = p;
	return NNCC_STATUS_OK;
}

int
rt_pool_threads(const RtPool *p)
{
	return p ? p->nth + 1 : 1;
}
