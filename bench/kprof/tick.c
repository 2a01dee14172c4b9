/* tick.c — the clock behind bench/kprof/kprof.py: the instrumented run
 * function calls kprof_tick(k) before kernel k and kprof_tick(-1) before
 * it returns. Kernels run one at a time (each returns when its threads
 * are done), so a kernel's time is the gap to the next tick. At exit,
 * one line per kernel, "K LEAST MEDIAN" in milliseconds over the calls,
 * then "call MS" for each call, to $KPROF_OUT (or stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAXK = 1 << 14, MAXCALL = 64 };

static float ms[MAXCALL][MAXK]; /* per call, per kernel */
static double call_ms[MAXCALL];
static int ncall, cur = -1, seen;
static double t_kernel, t_call;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static void dump(void)
{
	const char *f = getenv("KPROF_OUT");
	FILE *o = f ? fopen(f, "w") : stderr;
	float v[MAXCALL];
	if (!o)
		return;
	for (int k = 0; k < MAXK; k++) {
		int n = 0;
		for (int c = 0; c < ncall; c++)
			v[n++] = ms[c][k];
		if (!n || v[0] < 0)
			continue;
		qsort(v, (size_t)n, sizeof *v, cmp);
		fprintf(o, "%d %.4f %.4f\n", k, v[0], v[n / 2]);
	}
	for (int c = 0; c < ncall; c++)
		fprintf(o, "call %.3f\n", call_ms[c]);
	if (f)
		fclose(o);
}

void kprof_tick(int k)
{
	double t = now();
	if (!seen) {
		seen = 1;
		for (int c = 0; c < MAXCALL; c++)
			for (int i = 0; i < MAXK; i++)
				ms[c][i] = -1;
		atexit(dump);
	}
	if (ncall >= MAXCALL)
		return;
	if (cur >= 0) {
		if (ms[ncall][cur] < 0)
			ms[ncall][cur] = 0;
		ms[ncall][cur] += (float)(t - t_kernel);
	} else {
		t_call = t;
	}
	if (k < 0) { /* the run function returns */
		call_ms[ncall++] = t - t_call;
		cur = -1;
		return;
	}
	cur = k < MAXK ? k : MAXK - 1; /* (kprof.py refuses so many kernels) */
	t_kernel = now();
}
