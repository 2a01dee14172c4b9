/* test_rt_contract.c — the runtime's contract on a compiled model (not a
 * hand-written descriptor): y = relu(x w + b) is compiled in-process to a
 * .so and loaded with nncc_model_load.
 *   - concurrency: two sessions of the one model run on two threads at
 *     once (one of them on its own worker pool), each on its own inputs,
 *     and every output equals a float64 reference;
 *   - allocation failure: rt_test_fail_alloc_at(n) makes the runtime's
 *     allocation of index n fail; for every n the whole sequence (load,
 *     session, threads, inputs, run, outputs, .npy write and read) either
 *     stops at the step that allocated with an error status and a message
 *     or recovers with a correct result (a session whose default thread
 *     pool cannot be allocated runs serially), never crashes, and frees
 *     what it made (LeakSanitizer checks that in
 *     the asan build), until an n past the sequence's last allocation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "nncc/nncc.h"
#include "passes/passes.h"
#include "runtime/rt.h"
#include "so_build.h"

enum { M = 8, K = 24, N = 12, ITERS = 150 };

static char dir[256];
static char so[512];

static float wv(int k, int n) { return (float)(((k * 7 + n * 3) % 11) - 5) * 0.0625f; }
static float bv(int n) { return (float)(n % 5) * 0.25f - 0.5f; }
static float xv(int seed, int i) { return (float)(((seed * 13 + i * 5) % 17) - 8) * 0.125f; }

/* The graph text of y = relu(matmul(x, w) + b). */
static char *source(void)
{
	size_t cap = 16384, n = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	n += (size_t)snprintf(s + n, cap - n, "graph mlp {\n  input %%x: f32[%d, %d]\n"
		"  const %%w: f32[%d, %d] = [", M, K, K, N);
	for (int i = 0; i < K * N; i++)
		n += (size_t)snprintf(s + n, cap - n, "%s%g", i ? ", " : "", (double)wv(i / N, i % N));
	n += (size_t)snprintf(s + n, cap - n, "]\n  const %%b: f32[%d] = [", N);
	for (int i = 0; i < N; i++)
		n += (size_t)snprintf(s + n, cap - n, "%s%g", i ? ", " : "", (double)bv(i));
	snprintf(s + n, cap - n, "]\n  %%h = matmul(%%x, %%w)\n  %%a = add(%%h, %%b)\n"
		"  %%y = relu(%%a)\n  output %%y\n}\n");
	return s;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/nncc_contract_XXXXXX");
	assert_non_null(mkdtemp(dir));
	Diag d;
	diag_init(&d);
	char *text = source();
	Graph *g = ir_parse(text, "mlp.ir", &d);
	free(text);
	if (!g)
		fail_msg("%s", d.msg);
	assert_int_equal(ps_infer_shapes(g, &d), 0);
	Options po = {.opt_level = 2};
	if (ps_pipeline(g, &po, &d) < 0)
		fail_msg("%s", d.msg);
	so_build(g, dir, "mlp", 0, so, sizeof so);
	ir_graph_free(g);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	remove(so);
	rmdir(dir);
	return 0;
}

/* Whether y (M x N) is relu(x w + b) for the input of seed. */
static bool output_ok(int seed, const float *y)
{
	for (int m = 0; m < M; m++)
		for (int n = 0; n < N; n++) {
			double acc = bv(n);
			for (int k = 0; k < K; k++)
				acc += (double)xv(seed, m * K + k) * wv(k, n);
			double want = acc > 0 ? acc : 0;
			if (fabs(y[m * N + n] - want) > 1e-4 * (1 + fabs(want)))
				return false;
		}
	return true;
}

typedef struct Worker {
	const nncc_model *model; /* shared by both workers */
	int threads;             /* the session's thread count */
	int first_seed;          /* seeds first_seed .. first_seed + ITERS - 1 */
	int bad;                 /* runs that failed or gave a wrong output */
} Worker;

static void *work(void *arg)
{
	Worker *w = arg;
	nncc_session *s = NULL;
	char *err = NULL;
	float x[M * K];
	int64_t dims[2] = {M, K};
	if (nncc_session_create(w->model, &s, &err) != NNCC_STATUS_OK ||
		nncc_session_set_threads(s, w->threads, &err) != NNCC_STATUS_OK) {
		w->bad = ITERS;
		free(err);
		nncc_session_free(s);
		return NULL;
	}
	for (int it = 0; it < ITERS; it++) {
		int seed = w->first_seed + it;
		for (int i = 0; i < M * K; i++)
			x[i] = xv(seed, i);
		const void *y = NULL;
		if (nncc_session_set_input(s, 0, x, 2, dims, NNCC_DTYPE_F32, &err) != NNCC_STATUS_OK ||
			nncc_session_run(s, &err) != NNCC_STATUS_OK ||
			nncc_session_output(s, 0, &y) != NNCC_STATUS_OK || !output_ok(seed, y)) {
			w->bad++;
			free(err);
			err = NULL;
		}
	}
	nncc_session_free(s);
	return NULL;
}

static void test_two_sessions_two_threads(void **state)
{
	(void)state;
	nncc_model *m = NULL;
	char *err = NULL;
	if (nncc_model_load(so, &m, &err) != NNCC_STATUS_OK)
		fail_msg("%s", err);
	Worker w[2] = {{m, 1, 0, 0}, {m, 2, 1000, 0}};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(w[0].bad, 0);
	assert_int_equal(w[1].bad, 0);
	nncc_model_free(m);
}

/* One pass over the runtime's API. Returns how many steps failed; each
 * failure must be an error status with a message. */
static int one_pass(void)
{
	nncc_model *m = NULL;
	nncc_session *s = NULL;
	char *err = NULL;
	int failed = 0;
	float x[M * K];
	int64_t dims[2] = {M, K};
	char npy[600];
	for (int i = 0; i < M * K; i++)
		x[i] = xv(3, i);
	snprintf(npy, sizeof npy, "%s/y.npy", dir);
#define STEP(call)                                                 \
	do {                                                       \
		nncc_status st_ = (call);                          \
		if (st_ != NNCC_STATUS_OK) {                       \
			assert_non_null(err);                      \
			free(err);                                 \
			err = NULL;                                \
			failed++;                                  \
			goto out;                                  \
		}                                                  \
	} while (0)
	STEP(nncc_model_load(so, &m, &err));
	STEP(nncc_session_create(m, &s, &err));
	STEP(nncc_session_set_threads(s, 2, &err));
	STEP(nncc_session_set_input(s, 0, x, 2, dims, NNCC_DTYPE_F32, &err));
	STEP(nncc_session_run(s, &err));
	const void *y = NULL;
	assert_int_equal(nncc_session_output(s, 0, &y), NNCC_STATUS_OK);
	assert_true(output_ok(3, y));
	int64_t ydims[2] = {M, N};
	STEP(rt_npy_write(npy, NNCC_DTYPE_F32, 2, ydims, y, &err));
	RtTensor t;
	memset(&t, 0, sizeof t);
	STEP(rt_tensor_read(npy, &t, &err));
	assert_int_equal(t.rank, 2);
	assert_memory_equal(t.data, y, sizeof(float) * M * N);
	rt_free(t.data);
	free(t.name);
out:
#undef STEP
	nncc_session_free(s);
	nncc_model_free(m);
	remove(npy);
	return failed;
}

static void test_every_allocation_failure(void **state)
{
	(void)state;
	rt_test_fail_alloc_at(-1);
	assert_int_equal(one_pass(), 0);
	int64_t total = rt_test_fail_alloc_at(-1);
	assert_true(total >= 8); /* the load, session, pool, input, run and files allocate */
	int64_t reported = 0;
	for (int64_t n = 0; n < total; n++) {
		rt_test_fail_alloc_at(n);
		int r = one_pass(); /* else it recovered: one_pass checked the output */
		reported += r;
		if (getenv("NNCC_CONTRACT_VERBOSE") && !r)
			print_message("allocation %lld: recovered\n", (long long)n);
		rt_test_fail_alloc_at(-1);
	}
	assert_true(reported >= total / 2);
	print_message("each of the %lld allocations failed in turn: %lld reported an error, the "
		"others recovered with correct results\n", (long long)total, (long long)reported);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_sessions_two_threads),
		cmocka_unit_test(test_every_allocation_failure),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
