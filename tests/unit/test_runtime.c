/* test_runtime.c — unit tests of the model/session API over a descriptor
 * defined here. (The kernel library: test_rt_kernels.c; .npy and
 * TensorProto: test_rt_io.c.) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/rt.h"

static int
contains(const char *s, const char *sub)
{
	return s && strstr(s, sub) != NULL;
}

/* --- models and sessions ----------------------------------------------------------- */

enum { ARENA = 100 };

static const int64_t d23[2] = {2, 3};
static const float pdata[6] = {10, 20, 30, 40, 50, 60};
static const nncc_abi_tensor t_in[2] = {
	{"x", NNCC_DTYPE_F32, 2, d23, 24, NULL},
	{"s", NNCC_DTYPE_F32, 0, NULL, 4, NULL},
};
static const nncc_abi_tensor t_out[2] = {
	{"y", NNCC_DTYPE_F32, 2, d23, 24, NULL},
	{"ok", NNCC_DTYPE_I32, 0, NULL, 4, NULL},
};
static const nncc_abi_tensor t_par[1] = {
	{"p", NNCC_DTYPE_F32, 2, d23, 24, pdata},
};

typedef struct ToyJob {
	const float *tmp, *p; /* inputs of y = tmp + p */
	float *y;             /* output */
} ToyJob;

static void
toy_chunk(void *closure, int64_t i)
{
	ToyJob *j = closure;

	j->y[i] = j->tmp[i] + j->p[i];
}

/* y = x * s + p (through the arena; the add in 6 chunks on the session's
 * threads); ok = the threads in ctx if the arena is aligned and ctx is
 * sound (parallel_for exactly when there are threads to spare), else 0. */
static void
toy_run(void *arena, const void *const *in, void *const *out, const void *const *params,
	void *ctx)
{
	const float *x = in[0], *p = params[0];
	float s = *(const float *)in[1], *tmp = arena, *y = out[0];
	const nncc_abi_ctx *c = ctx;
	ToyJob job = {tmp, p, y};

	memset(arena, 0x5a, ARENA);
	for (int i = 0; i < 6; i++)
		tmp[i] = x[i] * s;
	if (c && c->parallel_for)
		c->parallel_for(c->pool, toy_chunk, &job, 6);
	else
		for (int i = 0; i < 6; i++)
			toy_chunk(&job, i);
	*(int32_t *)out[1] = (uintptr_t)arena % 64 == 0 && (uintptr_t)out[0] % 64 == 0 && c &&
			     c->nthreads >= 1 && (c->nthreads > 1) == (c->parallel_for != NULL) &&
			     params[0] == pdata ? c->nthreads : 0;
}

static const nncc_abi_model toy = {
	NNCC_ABI_MAGIC, NNCC_ABI_VERSION, "toy", 2, 2, 1, t_in, t_out, t_par, ARENA, toy_run, NULL, 0, NULL,
};

static void
test_model_queries(void **state)
{
	nncc_model *m = NULL;
	nncc_tensor_info ti;
	char *err = NULL;

	assert_int_equal(nncc_model_from_abi(&toy, &m, &err), NNCC_STATUS_OK);
	assert_null(err);
	assert_string_equal(nncc_model_name(m), "toy");
	assert_int_equal(nncc_model_num_inputs(m), 2);
	assert_int_equal(nncc_model_num_outputs(m), 2);
	assert_int_equal(nncc_model_num_params(m), 1);
	assert_int_equal(nncc_model_input_info(m, 1, &ti), NNCC_STATUS_OK);
	assert_string_equal(ti.name, "s");
	assert_int_equal(ti.rank, 0);
	assert_int_equal(ti.nbytes, 4);
	assert_int_equal(nncc_model_output_info(m, 0, &ti), NNCC_STATUS_OK);
	assert_int_equal(ti.dims[1], 3);
	assert_int_equal(nncc_model_param_info(m, 0, &ti), NNCC_STATUS_OK);
	assert_string_equal(ti.name, "p");
	assert_int_equal(nncc_model_input_info(m, 2, &ti), NNCC_STATUS_INVALID_ARGUMENT);
	assert_int_equal(nncc_model_output_info(m, -1, &ti), NNCC_STATUS_INVALID_ARGUMENT);
	assert_int_equal(nncc_model_find_input(m, "s"), 1);
	assert_int_equal(nncc_model_find_input(m, "y"), -1);
	assert_int_equal(nncc_model_find_output(m, "ok"), 1);
	nncc_model_free(m);
}

static void
test_bad_descriptors(void **state)
{
	static const nncc_abi_tensor bad_nbytes[1] = {{"x", NNCC_DTYPE_F32, 2, d23, 25, NULL}};
	static const nncc_abi_tensor bad_dtype[1] = {{"x", 99, 2, d23, 24, NULL}};
	static const nncc_abi_tensor no_data[1] = {{"p", NNCC_DTYPE_F32, 2, d23, 24, NULL}};
	static const int64_t neg[2] = {2, -3};
	static const nncc_abi_tensor neg_dim[1] = {{"x", NNCC_DTYPE_F32, 2, neg, -24, NULL}};
	nncc_abi_model a;
	nncc_model *m = NULL;
	char *err = NULL;

	a = toy, a.magic = 0x12345678;
	assert_int_equal(nncc_model_from_abi(&a, &m, &err), NNCC_STATUS_BAD_MODEL);
	assert_null(m);
	assert_true(contains(err, "magic"));
	nncc_error_free(err);
	a = toy, a.version = NNCC_ABI_VERSION + 1;
	assert_int_equal(nncc_model_from_abi(&a, &m, &err), NNCC_STATUS_BAD_MODEL);
	assert_true(contains(err, "version"));
	nncc_error_free(err);
	a = toy, a.inputs = bad_nbytes, a.ninputs = 1;
	assert_int_equal(nncc_model_from_abi(&a, &m, &err), NNCC_STATUS_BAD_MODEL);
	assert_true(contains(err, "input 'x'"));
	nncc_error_free(err);
	a = toy, a.outputs = bad_dtype, a.noutputs = 1;
	assert_int_not_equal(nncc_model_from_abi(&a, &m, NULL), NNCC_STATUS_OK);
	a = toy, a.params = no_data;
	assert_int_equal(nncc_model_from_abi(&a, &m, &err), NNCC_STATUS_BAD_MODEL);
	assert_true(contains(err, "param 'p'"));
	nncc_error_free(err);
	a = toy, a.inputs = neg_dim, a.ninputs = 1;
	assert_int_equal(nncc_model_from_abi(&a, &m, NULL), NNCC_STATUS_BAD_MODEL);
	a = toy, a.run = NULL;
	assert_int_equal(nncc_model_from_abi(&a, &m, NULL), NNCC_STATUS_BAD_MODEL);
	a = toy, a.ninputs = -1;
	assert_int_equal(nncc_model_from_abi(&a, &m, NULL), NNCC_STATUS_BAD_MODEL);
	a = toy, a.arena_bytes = -1;
	assert_int_equal(nncc_model_from_abi(&a, &m, NULL), NNCC_STATUS_BAD_MODEL);
	assert_int_equal(nncc_model_from_abi(NULL, &m, NULL), NNCC_STATUS_INVALID_ARGUMENT);
}

static void
test_model_load_errors(void **state)
{
	char path[] = "/tmp/nncc_rt_notelf_XXXXXX", *err = NULL;
	nncc_model *m = NULL;
	FILE *f;
	int fd;

	assert_int_equal(nncc_model_load("/nonexistent/model.so", &m, &err), NNCC_STATUS_NOT_FOUND);
	assert_null(m);
	assert_true(contains(err, "/nonexistent/model.so"));
	nncc_error_free(err);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("not a shared library\n", f);
	fclose(f);
	assert_int_equal(nncc_model_load(path, &m, &err), NNCC_STATUS_IO_ERROR);
	unlink(path);
	assert_true(contains(err, "nncc_rt_notelf_"));
	nncc_error_free(err);
	/* a real library without the descriptor */
	if (access("/lib/x86_64-linux-gnu/libm.so.6", R_OK) == 0) {
		assert_int_equal(nncc_model_load("/lib/x86_64-linux-gnu/libm.so.6", &m, &err),
				 NNCC_STATUS_BAD_MODEL);
		assert_true(contains(err, "nncc_model"));
		nncc_error_free(err);
	}
}

static void
test_session(void **state)
{
	static const float x[6] = {1, 2, 3, 4, 5, 6};
	const int64_t d32[2] = {3, 2}, d2[1] = {6};
	float s = 2;
	nncc_model *m;
	nncc_session *ss;
	const void *out;
	char *err = NULL;

	assert_int_equal(nncc_model_from_abi(&toy, &m, NULL), NNCC_STATUS_OK);
	assert_int_equal(nncc_session_create(m, &ss, &err), NNCC_STATUS_OK);
	assert_null(err);

	/* wrong dtype, shape, rank, index */
	assert_int_equal(nncc_session_set_input(ss, 0, x, 2, d23, NNCC_DTYPE_I32, &err),
			 NNCC_STATUS_INVALID_ARGUMENT);
	assert_string_equal(err, "input 'x': expected f32[2,3], given i32[2,3]");
	nncc_error_free(err);
	assert_int_equal(nncc_session_set_input(ss, 0, x, 2, d32, NNCC_DTYPE_F32, &err),
			 NNCC_STATUS_INVALID_ARGUMENT);
	assert_string_equal(err, "input 'x': expected f32[2,3], given f32[3,2]");
	nncc_error_free(err);
	assert_int_equal(nncc_session_set_input(ss, 0, x, 1, d2, NNCC_DTYPE_F32, &err),
			 NNCC_STATUS_INVALID_ARGUMENT);
	assert_true(contains(err, "given f32[6]"));
	nncc_error_free(err);
	assert_int_equal(nncc_session_set_input(ss, 1, &s, 1, d2, NNCC_DTYPE_F32, &err),
			 NNCC_STATUS_INVALID_ARGUMENT);
	assert_string_equal(err, "input 's': expected f32[], given f32[6]");
	nncc_error_free(err);
	assert_int_equal(nncc_session_set_input(ss, 2, x, 2, d23, NNCC_DTYPE_F32, &err),
			 NNCC_STATUS_INVALID_ARGUMENT);
	nncc_error_free(err);
	assert_int_equal(nncc_session_set_input(ss, 0, NULL, 2, d23, NNCC_DTYPE_F32, NULL),
			 NNCC_STATUS_INVALID_ARGUMENT);

	/* run and outputs before every input is set */
	assert_int_equal(nncc_session_output(ss, 0, &out), NNCC_STATUS_NOT_READY);
	assert_int_equal(nncc_session_run(ss, &err), NNCC_STATUS_NOT_READY);
	assert_true(contains(err, "'x'"));
	nncc_error_free(err);
	assert_int_equal(nncc_session_set_input(ss, 0, x, 2, d23, NNCC_DTYPE_F32, &err), 0);
	assert_int_equal(nncc_session_run(ss, &err), NNCC_STATUS_NOT_READY);
	assert_true(contains(err, "'s'"));
	nncc_error_free(err);
	assert_int_equal(nncc_session_set_input(ss, 1, &s, 0, NULL, NNCC_DTYPE_F32, &err), 0);
	s = 100; /* the input was copied */
	assert_int_equal(nncc_session_run(ss, &err), NNCC_STATUS_OK);
	assert_null(err);
	assert_int_equal(nncc_session_output(ss, 0, &out), NNCC_STATUS_OK);
	for (int i = 0; i < 6; i++)
		assert_true(((const float *)out)[i] == x[i] * 2 + pdata[i]);
	assert_int_equal(nncc_session_output(ss, 1, &out), NNCC_STATUS_OK);
	assert_true(nncc_session_num_threads(ss) >= 1);
	assert_int_equal(*(const int32_t *)out, nncc_session_num_threads(ss));
	assert_int_equal(nncc_session_output(ss, 2, &out), NNCC_STATUS_INVALID_ARGUMENT);

	/* inputs stay set; a new one takes effect */
	s = -1;
	assert_int_equal(nncc_session_set_input(ss, 1, &s, 0, NULL, NNCC_DTYPE_F32, NULL), 0);
	assert_int_equal(nncc_session_run(ss, NULL), NNCC_STATUS_OK);
	assert_int_equal(nncc_session_output(ss, 0, &out), NNCC_STATUS_OK);
	assert_true(((const float *)out)[5] == 54.0f);

	/* threads: the run's ctx follows the session's count */
	for (int n = 1; n <= 4; n++) {
		assert_int_equal(nncc_session_set_threads(ss, n, &err), NNCC_STATUS_OK);
		assert_null(err);
		assert_int_equal(nncc_session_num_threads(ss), n);
		assert_int_equal(nncc_session_run(ss, NULL), NNCC_STATUS_OK);
		assert_int_equal(nncc_session_output(ss, 0, &out), NNCC_STATUS_OK);
		for (int i = 0; i < 6; i++)
			assert_true(((const float *)out)[i] == x[i] * -1 + pdata[i]);
		assert_int_equal(nncc_session_output(ss, 1, &out), NNCC_STATUS_OK);
		assert_int_equal(*(const int32_t *)out, n);
	}
	assert_int_equal(nncc_session_set_threads(ss, -1, &err), NNCC_STATUS_INVALID_ARGUMENT);
	assert_true(contains(err, "-1 threads"));
	nncc_error_free(err);
	assert_int_equal(nncc_session_set_threads(ss, RT_MAX_THREADS + 1, NULL), NNCC_STATUS_INVALID_ARGUMENT);
	assert_int_equal(nncc_session_num_threads(ss), 4); /* unchanged */
	assert_int_equal(setenv("NNCC_THREADS", "3", 1), 0);
	assert_int_equal(nncc_session_set_threads(ss, 0, NULL), NNCC_STATUS_OK);
	assert_int_equal(nncc_session_num_threads(ss), 3);
	nncc_session_free(ss);
	assert_int_equal(nncc_session_create(m, &ss, NULL), NNCC_STATUS_OK); /* the default */
	assert_int_equal(nncc_session_num_threads(ss), 3);
	nncc_session_free(ss);
	assert_int_equal(setenv("NNCC_THREADS", "zero", 1), 0); /* ignored */
	assert_int_equal(nncc_session_create(m, &ss, NULL), NNCC_STATUS_OK);
	assert_true(nncc_session_num_threads(ss) >= 1 && nncc_session_num_threads(ss) <= RT_DEFAULT_THREADS);
	nncc_session_free(ss);
	unsetenv("NNCC_THREADS");
	assert_int_equal(nncc_session_set_threads(NULL, 2, NULL), NNCC_STATUS_INVALID_ARGUMENT);
	assert_int_equal(nncc_session_num_threads(NULL), 0);
	nncc_model_free(m);
}

typedef struct Worker {
	const nncc_model *m; /* shared model */
	float scale;         /* this thread's s */
	int threads;         /* the session's threads */
	int bad;             /* wrong results seen */
} Worker;

static void *
worker(void *arg)
{
	static const float x[6] = {1, 2, 3, 4, 5, 6};
	Worker *w = arg;
	nncc_session *s;
	const void *out;

	if (nncc_session_create(w->m, &s, NULL) != NNCC_STATUS_OK ||
	    nncc_session_set_threads(s, w->threads, NULL) != NNCC_STATUS_OK) {
		w->bad = -1;
		return NULL;
	}
	nncc_session_set_input(s, 0, x, 2, d23, NNCC_DTYPE_F32, NULL);
	for (int it = 0; it < 5000; it++) {
		float sc = w->scale + (float)(it % 7);
		nncc_session_set_input(s, 1, &sc, 0, NULL, NNCC_DTYPE_F32, NULL);
		if (nncc_session_run(s, NULL) != NNCC_STATUS_OK ||
		    nncc_session_output(s, 0, &out) != NNCC_STATUS_OK) {
			w->bad++;
			continue;
		}
		for (int i = 0; i < 6; i++)
			w->bad += ((const float *)out)[i] != x[i] * sc + pdata[i];
		nncc_session_output(s, 1, &out);
		w->bad += *(const int32_t *)out != w->threads;
	}
	nncc_session_free(s);
	return NULL;
}

static void
test_sessions_concurrent(void **state)
{
	nncc_model *m;
	Worker w[2];
	pthread_t th[2];

	assert_int_equal(nncc_model_from_abi(&toy, &m, NULL), NNCC_STATUS_OK);
	for (int i = 0; i < 2; i++) {
		w[i] = (Worker){m, (float)(i * 100 + 1), 3 - i, 0}; /* each with its own pool */
		assert_int_equal(pthread_create(&th[i], NULL, worker, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	nncc_model_free(m);
}

int
main(void)
{
	const struct CMUnitTest api[] = {
		cmocka_unit_test(test_model_queries),
		cmocka_unit_test(test_bad_descriptors),
		cmocka_unit_test(test_model_load_errors),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_sessions_concurrent),
	};

	return cmocka_run_group_tests_name("runtime api", api, NULL, NULL) != 0;
}
