/* test_pool.c — the runtime's thread pool (runtime/pool.c): every chunk
 * runs exactly once for any chunk count and thread count, back to back;
 * a worker runs chunks while the caller runs its own; a parallel_for
 * inside a chunk runs serially; a worker that finds itself on the
 * caller's CPU moves to another. */
#define _GNU_SOURCE /* sched_getcpu, CPU_SET, pthread_setaffinity_np: test_pool_apart */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/rt.h"

static int
contains(const char *s, const char *sub)
{
	return s && strstr(s, sub) != NULL;
}

typedef struct PoolJob {
	atomic_int hits[1000];  /* per chunk: times it ran */
	RtPool *pool;           /* for nested calls */
	atomic_int nested;      /* chunks of nested calls run */
	atomic_int entered;     /* threads seen (test_pool_threads_run) */
	pthread_t seen[64];     /* their ids */
	pthread_mutex_t mu;     /* guards seen */
} PoolJob;

static void
count_chunk(void *closure, int64_t c)
{
	PoolJob *j = closure;

	atomic_fetch_add(&j->hits[c], 1);
}

static void
test_pool_chunks(void **state)
{
	static const int64_t ns[] = {0, 1, 2, 5, 64, 1000};
	PoolJob *j = calloc(1, sizeof *j);
	RtPool *p;

	assert_non_null(j);
	for (int threads = 2; threads <= 8; threads *= 2) {
		assert_int_equal(rt_pool_new(threads, &p, NULL), NNCC_STATUS_OK);
		assert_int_equal(rt_pool_threads(p), threads);
		for (size_t k = 0; k < sizeof ns / sizeof *ns; k++)
			for (int round = 0; round < 50; round++) { /* back to back: late wakers */
				for (int c = 0; c < 1000; c++)
					atomic_store(&j->hits[c], 0);
				rt_pool_parallel_for(p, count_chunk, j, ns[k]);
				for (int c = 0; c < 1000; c++)
					if (atomic_load(&j->hits[c]) != (c < ns[k]))
						fail_msg("%d threads, %lld chunks: chunk %d ran %d times", threads,
							 (long long)ns[k], c, atomic_load(&j->hits[c]));
			}
		rt_pool_free(p);
	}
	free(j);
}

/* Each chunk waits (up to 10 s) until two threads have entered: passes
 * only if a worker runs chunks while the caller runs its own. */
static void
meet_chunk(void *closure, int64_t c)
{
	PoolJob *j = closure;
	pthread_t me = pthread_self();
	int known = 0;

	pthread_mutex_lock(&j->mu);
	for (int i = 0; i < atomic_load(&j->entered); i++)
		known |= pthread_equal(j->seen[i], me);
	if (!known && atomic_load(&j->entered) < 64) {
		j->seen[atomic_load(&j->entered)] = me;
		atomic_fetch_add(&j->entered, 1);
	}
	pthread_mutex_unlock(&j->mu);
	for (int i = 0; i < 10000 && atomic_load(&j->entered) < 2; i++)
		usleep(1000);
	atomic_fetch_add(&j->hits[c], 1);
}

static void
nest_chunk(void *closure, int64_t c)
{
	PoolJob *j = closure;

	atomic_fetch_add(&j->hits[c], 1);
	rt_pool_parallel_for(j->pool, count_chunk, j, 0);
	for (int i = 0; i < 3; i++) /* a nested job runs on this thread, to the end */
		atomic_fetch_add(&j->nested, 1);
	rt_pool_parallel_for(j->pool, meet_chunk, j, 1);
}

/* Chunk c records its CPU, then waits (up to 10 s) until both chunks
 * have started: chunk 1 is run by the worker while the caller waits in
 * chunk 0. */
static atomic_int chunk_cpu[2], chunks_started;

static void
where_chunk(void *closure, int64_t c)
{
	(void)closure;
	atomic_store(&chunk_cpu[c], sched_getcpu());
	atomic_fetch_add(&chunks_started, 1);
	for (int i = 0; i < 10000 && atomic_load(&chunks_started) < 2; i++)
		usleep(1000);
}

/* A worker that finds itself on the caller's CPU moves to another: the
 * caller pinned to one CPU, then to the CPU the worker ran on. */
static void
test_pool_apart(void **state)
{
	cpu_set_t all, one;
	RtPool *p;

	if (sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) < 2)
		skip();
	int cpu = 0;
	while (!CPU_ISSET(cpu, &all))
		cpu++;
	assert_int_equal(rt_pool_new(2, &p, NULL), NNCC_STATUS_OK);
	for (int round = 0; round < 4; round++) {
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof one, &one), 0);
		atomic_store(&chunks_started, 0);
		rt_pool_parallel_for(p, where_chunk, NULL, 2);
		assert_int_equal(atomic_load(&chunk_cpu[0]), cpu);
		if (atomic_load(&chunk_cpu[1]) == cpu)
			fail_msg("round %d: the worker ran on the caller's CPU %d", round, cpu);
		cpu = atomic_load(&chunk_cpu[1]); /* next: the caller where the worker was */
	}
	assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof all, &all), 0);
	rt_pool_free(p);
}

static void
test_pool_threads_run(void **state)
{
	PoolJob *j = calloc(1, sizeof *j);
	RtPool *p;
	char *err = NULL;

	assert_non_null(j);
	pthread_mutex_init(&j->mu, NULL);
	assert_int_equal(rt_pool_new(2, &p, NULL), NNCC_STATUS_OK);
	rt_pool_parallel_for(p, meet_chunk, j, 4);
	assert_true(atomic_load(&j->entered) >= 2);
	for (int c = 0; c < 4; c++)
		assert_int_equal(atomic_load(&j->hits[c]), 1);

	/* a parallel_for inside a chunk runs serially instead of deadlocking */
	memset(j->hits, 0, sizeof j->hits);
	j->pool = p;
	rt_pool_parallel_for(p, nest_chunk, j, 6);
	assert_int_equal(atomic_load(&j->nested), 18);
	for (int c = 0; c < 6; c++)
		assert_int_equal(atomic_load(&j->hits[c]), c == 0 ? 1 + 6 : 1); /* meet_chunk bumps chunk 0 */
	rt_pool_free(p);

	/* one thread: no pool; a NULL pool runs serially */
	assert_int_equal(rt_pool_new(1, &p, NULL), NNCC_STATUS_OK);
	assert_null(p);
	assert_int_equal(rt_pool_threads(NULL), 1);
	memset(j->hits, 0, sizeof j->hits);
	rt_pool_parallel_for(NULL, count_chunk, j, 3);
	assert_int_equal(atomic_load(&j->hits[2]), 1);
	assert_int_equal(rt_pool_new(RT_MAX_THREADS + 1, &p, &err), NNCC_STATUS_INVALID_ARGUMENT);
	assert_true(contains(err, "at most"));
	nncc_error_free(err);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_chunks),
		cmocka_unit_test(test_pool_threads_run),
		cmocka_unit_test(test_pool_apart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
