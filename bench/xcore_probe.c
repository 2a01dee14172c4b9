/* xcore_probe.c — how dear it is right now for one core to read what
 * another just wrote (`make bench` runs it before each two-thread
 * measurement; docs/benchmarks.md, "Two threads on a VM").
 *
 *   xcore_probe [--json]
 *
 * Two threads, pinned to the first two CPUs the process may use, take
 * turns over one 1 MiB buffer: each pass reads every float and writes it
 * back changed, then hands the buffer to the other thread. Prints the
 * median time of a pass (µs per MiB) when the other thread wrote the
 * buffer last (cross) and when the same thread did (same, one thread
 * alone). On a machine whose two cores share a cache the two are close;
 * on a VM whose vCPUs the host has placed on cores that do not share one
 * (two CCDs of an EPYC), cross is about twice as long, and so is every
 * activation a model hands from one thread to the other. Exit status 1
 * with a message when fewer than two CPUs are usable. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N = 1 << 18, PASSES = 64, ROUNDS = 9 }; /* floats (1 MiB), passes per round */

static float *buf;
static atomic_int turn;
static int cpu[2];

static double
now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + 1e-3 * (double)t.tv_nsec;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
pin(int c)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(c, &s);
	pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static void
pass(void)
{
	for (int i = 0; i < N; i++)
		buf[i] = buf[i] * 0.5f + 1.0f;
}

/* Thread me of 2: its passes, on turns 2k + me. */
static void
play(int me)
{
	for (int k = 0; k < PASSES; k++) {
		while (atomic_load_explicit(&turn, memory_order_acquire) != 2 * k + me)
			;
		pass();
		atomic_store_explicit(&turn, 2 * k + me + 1, memory_order_release);
	}
}

static void *
other(void *arg)
{
	(void)arg;
	pin(cpu[1]);
	play(1);
	return NULL;
}

int
main(int argc, char **argv)
{
	int json = argc > 1 && strcmp(argv[1], "--json") == 0;
	cpu_set_t s;
	double cross[ROUNDS], same[ROUNDS];
	int n = 0;

	if (sched_getaffinity(0, sizeof s, &s) == 0)
		for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
			if (CPU_ISSET(c, &s))
				cpu[n++] = c;
	if (n < 2) {
		fprintf(stderr, "xcore_probe: fewer than two usable CPUs\n");
		return 1;
	}
	buf = calloc(N, sizeof *buf);
	if (!buf) {
		fprintf(stderr, "xcore_probe: out of memory\n");
		return 1;
	}
	pin(cpu[0]);
	for (int r = 0; r < ROUNDS; r++) {
		pthread_t t;
		atomic_store(&turn, 0);
		double t0 = now_us();
		if (pthread_create(&t, NULL, other, NULL) != 0) {
			fprintf(stderr, "xcore_probe: cannot start a thread\n");
			return 1;
		}
		play(0);
		pthread_join(t, NULL);
		cross[r] = (now_us() - t0) / (2 * PASSES);
		t0 = now_us();
		for (int k = 0; k < 2 * PASSES; k++)
			pass();
		same[r] = (now_us() - t0) / (2 * PASSES);
	}
	qsort(cross, ROUNDS, sizeof *cross, cmp);
	qsort(same, ROUNDS, sizeof *same, cmp);
	if (json)
		printf("{\"cross_us_per_mib\": %.1f, \"same_us_per_mib\": %.1f, \"cpus\": [%d, %d]}\n",
		       cross[ROUNDS / 2], same[ROUNDS / 2], cpu[0], cpu[1]);
	else
		printf("cross %.1f us per MiB, same %.1f us per MiB (CPUs %d and %d)\n", cross[ROUNDS / 2],
		       same[ROUNDS / 2], cpu[0], cpu[1]);
	free(buf);
	return 0;
}
