/* test_dynbatch.c — the runtime's side of the dynamic batch
 * (docs/dynamic-batch.md) over a descriptor defined here: queries, inputs
 * of fewer rows, the batch a run passes in ctx, outputs reported at that
 * batch, inputs that disagree, and descriptors the runtime must refuse.
 * The compiled side is tests/e2e/dynbatch.py. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "runtime/rt.h"

enum { MAXB = 4 };

static const int64_t d43[2] = {MAXB, 3};
static const int64_t d3[1] = {3};
static const nncc_abi_tensor t_in[3] = {
	{"x", NNCC_DTYPE_F32, 2, d43, MAXB * 12, NULL}, /* batch */
	{"w", NNCC_DTYPE_F32, 1, d3, 12, NULL},         /* fixed */
	{"z", NNCC_DTYPE_F32, 2, d43, MAXB * 12, NULL}, /* batch */
};
static const nncc_abi_tensor t_out[2] = {
	{"y", NNCC_DTYPE_F32, 2, d43, MAXB * 12, NULL}, /* batch */
	{"n", NNCC_DTYPE_I64, 0, NULL, 8, NULL},        /* fixed: the batch the run got */
};
static const uint8_t io[5] = {1, 0, 1, 1, 0};

/* y[b] = x[b] * w + z[b] for the run's rows; rows past them are left. */
static void
toy_run(void *arena, const void *const *in, void *const *out, const void *const *params,
	void *ctx)
{
	const float *x = in[0], *w = in[1], *z = in[2];
	float *y = out[0];
	const nncc_abi_ctx *c = ctx;
	int64_t n = c && c->batch >= 1 && c->batch <= MAXB ? c->batch : MAXB;

	(void)arena;
	(void)params;
	for (int64_t i = 0; i < n * 3; i++)
		y[i] = x[i] * w[i % 3] + z[i];
	*(int64_t *)out[1] = c ? c->batch : -1;
}

static const nncc_abi_model toy = {
	NNCC_ABI_MAGIC, NNCC_ABI_VERSION, "dyn", 3, 2, 0, t_in, t_out, NULL, 64, toy_run, NULL, MAXB, io,
};

static nncc_status
set(nncc_session *s, int i, const float *v, int64_t rows)
{
	int64_t dims[2] = {rows, 3};
	return nncc_session_set_input(s, i, v, i == 1 ? 1 : 2, i == 1 ? d3 : dims, NNCC_DTYPE_F32, NULL);
}

static void
test_queries(void **state)
{
	nncc_model *m = NULL;

	(void)state;
	assert_int_equal(nncc_model_from_abi(&toy, &m, NULL), NNCC_STATUS_OK);
	assert_int_equal(nncc_model_max_batch(m), MAXB);
	assert_int_equal(nncc_model_input_batched(m, 0), 1);
	assert_int_equal(nncc_model_input_batched(m, 1), 0);
	assert_int_equal(nncc_model_input_batched(m, 3), 0);
	assert_int_equal(nncc_model_output_batched(m, 0), 1);
	assert_int_equal(nncc_model_output_batched(m, 1), 0);
	assert_int_equal(nncc_model_output_batched(m, -1), 0);
	assert_int_equal(nncc_model_max_batch(NULL), 0);
	nncc_model_free(m);
}

static void
test_runs(void **state)
{
	nncc_model *m = NULL;
	nncc_session *s = NULL;
	nncc_tensor_info ti;
	const void *data;
	float x[MAXB * 3], z[MAXB * 3], w[3] = {1, 2, -1};
	char *err = NULL;

	(void)state;
	for (int i = 0; i < MAXB * 3; i++)
		x[i] = (float)i, z[i] = (float)(100 * i);
	assert_int_equal(nncc_model_from_abi(&toy, &m, NULL), NNCC_STATUS_OK);
	assert_int_equal(nncc_session_create(m, &s, NULL), NNCC_STATUS_OK);
	assert_int_equal(nncc_session_batch(s), MAXB);
	assert_int_equal(nncc_session_output_info(s, 0, &ti), NNCC_STATUS_NOT_READY);
	/* rows 1..max only, other dims exact */
	assert_int_equal(set(s, 0, x, 0), NNCC_STATUS_INVALID_ARGUMENT);
	assert_int_equal(set(s, 0, x, MAXB + 1), NNCC_STATUS_INVALID_ARGUMENT);
	int64_t wrong[2] = {2, 4}, w2[1] = {2};
	assert_int_equal(nncc_session_set_input(s, 0, x, 2, wrong, NNCC_DTYPE_F32, NULL),
			 NNCC_STATUS_INVALID_ARGUMENT);
	assert_int_equal(nncc_session_set_input(s, 1, w, 1, w2, NNCC_DTYPE_F32, NULL),
			 NNCC_STATUS_INVALID_ARGUMENT); /* a fixed input keeps its dim 0 */
	for (int64_t b = MAXB; b >= 1; b--) {
		assert_int_equal(set(s, 0, x, b), NNCC_STATUS_OK);
		assert_int_equal(set(s, 1, w, 3), NNCC_STATUS_OK);
		assert_int_equal(set(s, 2, z, b), NNCC_STATUS_OK);
		assert_int_equal(nncc_session_run(s, NULL), NNCC_STATUS_OK);
		assert_int_equal(nncc_session_batch(s), b);
		assert_int_equal(nncc_session_output_info(s, 0, &ti), NNCC_STATUS_OK);
		assert_int_equal(ti.rank, 2);
		assert_int_equal(ti.dims[0], b);
		assert_int_equal(ti.dims[1], 3);
		assert_int_equal(ti.nbytes, b * 12);
		assert_int_equal(nncc_session_output(s, 0, &data), NNCC_STATUS_OK);
		for (int i = 0; i < b * 3; i++)
			assert_true(((const float *)data)[i] == x[i] * w[i % 3] + z[i]);
		assert_int_equal(nncc_session_output_info(s, 1, &ti), NNCC_STATUS_OK);
		assert_int_equal(ti.nbytes, 8);
		assert_int_equal(nncc_session_output(s, 1, &data), NNCC_STATUS_OK);
		assert_int_equal(*(const int64_t *)data, b); /* the run got the batch in ctx */
	}
	/* the model's own infos stay at the max */
	assert_int_equal(nncc_model_output_info(m, 0, &ti), NNCC_STATUS_OK);
	assert_int_equal(ti.dims[0], MAXB);
	/* batch inputs must agree */
	assert_int_equal(set(s, 0, x, 3), NNCC_STATUS_OK);
	assert_int_equal(set(s, 2, z, 2), NNCC_STATUS_OK);
	assert_int_equal(nncc_session_run(s, &err), NNCC_STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(err, "input 'x' has batch 3, input 'z' 2"));
	nncc_error_free(err);
	/* no CUDA for a dynamic batch */
	assert_int_equal(nncc_session_use_cuda(s, 0, NULL), NNCC_STATUS_UNSUPPORTED);
	nncc_session_free(s);
	nncc_model_free(m);
}

static void
test_bad_descriptors(void **state)
{
	static const uint8_t bad_flag[5] = {1, 1, 1, 1, 0}; /* w's dim 0 is no batch */
	static const uint8_t scalar[5] = {1, 0, 1, 1, 1};   /* n has no dim 0 */
	static const uint8_t none_in[5] = {0, 0, 0, 1, 0};
	static const uint8_t two[5] = {2, 0, 1, 1, 0};
	const uint8_t *bad[4] = {bad_flag, scalar, none_in, two};
	nncc_abi_model a;
	nncc_model *m = NULL;

	(void)state;
	for (int i = 0; i < 4; i++) {
		a = toy, a.batch_io = bad[i];
		assert_int_equal(nncc_model_from_abi(&a, &m, NULL), NNCC_STATUS_BAD_MODEL);
		assert_null(m);
	}
	a = toy, a.batch_io = NULL;
	assert_int_equal(nncc_model_from_abi(&a, &m, NULL), NNCC_STATUS_BAD_MODEL);
	a = toy, a.batch_max = -1;
	assert_int_equal(nncc_model_from_abi(&a, &m, NULL), NNCC_STATUS_BAD_MODEL);
	a = toy, a.batch_max = 3; /* the dims say 4 */
	assert_int_equal(nncc_model_from_abi(&a, &m, NULL), NNCC_STATUS_BAD_MODEL);
	/* a fixed model: batch_io ignored, the batch is 0, infos as the model's */
	a = toy, a.batch_max = 0, a.batch_io = NULL;
	assert_int_equal(nncc_model_from_abi(&a, &m, NULL), NNCC_STATUS_OK);
	nncc_session *s = NULL;
	assert_int_equal(nncc_session_create(m, &s, NULL), NNCC_STATUS_OK);
	assert_int_equal(set(s, 0, (const float[MAXB * 3]){0}, 2), NNCC_STATUS_INVALID_ARGUMENT);
	assert_int_equal(nncc_session_batch(s), 0);
	nncc_session_free(s);
	nncc_model_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queries),
		cmocka_unit_test(test_runs),
		cmocka_unit_test(test_bad_descriptors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
