/* gemm_bench.c — the kernel library's GEMM (runtime/gemm.c) against
 * OpenBLAS's cblas_sgemm on square row-major products, same threads.
 *
 *   gemm_bench [--threads T] [--rounds R] [--json] [N...]   (default N: 256 512 1024 2048 4096)
 *
 * For each size and engine: one warm-up call, then calls until about 0.3 s
 * have passed (at least 3), R rounds with the engines interleaved; prints
 * the median GFLOP/s of the rounds. OpenBLAS gets T threads
 * (openblas_set_num_threads), nncc a pool of T threads.
 *
 * OpenBLAS picks its kernels by the CPU model. One it does not know (0.3.21,
 * Debian 12's, on an Emerald Rapids Xeon, model 207) gets its generic
 * Prescott kernels, about 32 GFLOP/s a core against 155 with its AVX-512
 * ones: no fair reference. Then, unless OPENBLAS_CORETYPE is set already,
 * gemm_bench sets it to the newest AVX-512 kernels the CPU can run
 * (Cooperlake with AVX512-BF16, else SkylakeX) and runs itself again. The
 * kernels used are printed (JSON: "openblas_core", and "coretype_set": 1
 * when gemm_bench chose them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "runtime/gemm.h"
#include "runtime/rt.h"

void openblas_set_num_threads(int);
char *openblas_get_corename(void);

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* GFLOP/s of one timed batch of calls of engine e (0: nncc, 1: OpenBLAS). */
static double
timed(int e, const nncc_abi_ctx *cx, int64_t n, const float *a, const float *b, float *c)
{
	double t0 = now(), t;
	int calls = 0;

	do {
		if (e == 0)
			rt_gemm(cx, n, n, n, a, n, 0, b, n, 0, 0, c, n);
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0f, a,
				    (int)n, b, (int)n, 0.0f, c, (int)n);
		calls++;
		t = now() - t0;
	} while (t < 0.3 || calls < 3);
	return 2.0 * (double)n * (double)n * (double)n * calls / t * 1e-9;
}

int
main(int argc, char **argv)
{
	int threads = 1, rounds = 5, json = 0, nsize = 0;
	int64_t sizes[32];
	RtPool *pool = NULL;
	const char *core = openblas_get_corename(), *set = getenv("NNCC_GEMM_BENCH_CORETYPE");

	__builtin_cpu_init();
	if (!getenv("OPENBLAS_CORETYPE") && core && !strcmp(core, "Prescott") &&
	    __builtin_cpu_supports("avx512f")) {
		setenv("OPENBLAS_CORETYPE", __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX", 1);
		setenv("NNCC_GEMM_BENCH_CORETYPE", "1", 1);
		execv("/proc/self/exe", argv);
		perror("gemm_bench: execv /proc/self/exe"); /* goes on with the generic kernels */
	}

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (argv[i][0] != '-' && nsize < 32)
			sizes[nsize++] = atoll(argv[i]);
		else {
			fprintf(stderr, "usage: gemm_bench [--threads T] [--rounds R] [--json] [N...]\n");
			return 1;
		}
	}
	if (!nsize)
		for (int64_t n = 256; n <= 4096; n *= 2)
			sizes[nsize++] = n;
	if (threads < 1 || rounds < 1 || rounds > 64 || rt_pool_new(threads, &pool, NULL)) {
		fprintf(stderr, "gemm_bench: bad --threads or --rounds\n");
		return 1;
	}
	openblas_set_num_threads(threads);
	void *gs = rt_alloc((int64_t)threads * NNCC_ABI_GEMM_SCRATCH);
	nncc_abi_ctx cx = {.nthreads = threads, .parallel_for = pool ? rt_pool_parallel_for : NULL, .pool = pool,
			  .gemm_scratch = gs};
	if (json)
		printf("[");
	for (int s = 0; s < nsize; s++) {
		int64_t n = sizes[s];
		float *a = rt_alloc(n * n * 4), *b = rt_alloc(n * n * 4), *c = rt_alloc(n * n * 4);
		double g[2][64];
		if (!a || !b || !c || !gs) {
			fprintf(stderr, "gemm_bench: out of memory at n = %lld\n", (long long)n);
			return 1;
		}
		for (int64_t i = 0; i < n * n; i++)
			a[i] = (float)(i % 7) - 3.0f, b[i] = (float)(i % 5) * 0.5f;
		for (int e = 0; e < 2; e++)
			timed(e, &cx, n, a, b, c); /* warm-up */
		for (int r = 0; r < rounds; r++)
			for (int k = 0; k < 2; k++) {
				int e = (r + k) % 2; /* alternate which engine goes first */
				g[e][r] = timed(e, &cx, n, a, b, c);
			}
		qsort(g[0], (size_t)rounds, sizeof(double), cmp);
		qsort(g[1], (size_t)rounds, sizeof(double), cmp);
		if (json)
			printf("%s{\"n\": %lld, \"threads\": %d, \"nncc_gflops\": %.1f, \"openblas_gflops\": %.1f, "
			       "\"openblas_core\": \"%s\", \"coretype_set\": %d}",
			       s ? ", " : "", (long long)n, threads, g[0][rounds / 2], g[1][rounds / 2],
			       core ? core : "?", set != NULL);
		else
			printf("n %5lld  threads %d  nncc %7.1f GFLOP/s  OpenBLAS %7.1f GFLOP/s  ratio %.2f  (OpenBLAS "
			       "kernels: %s%s)\n",
			       (long long)n, threads, g[0][rounds / 2], g[1][rounds / 2],
			       g[0][rounds / 2] / g[1][rounds / 2], core ? core : "?",
			       set ? ", OPENBLAS_CORETYPE set by gemm_bench" : "");
		fflush(stdout);
		rt_free(a), rt_free(b), rt_free(c);
	}
	if (json)
		printf("]\n");
	rt_free(gs);
	rt_pool_free(pool);
	return 0;
}
