/* test_train_apps.c — `nncc --mutable-weights` (ps_mutable_weights and the
 * runtime's handling of state without a step counter), which the training
 * examples use to evaluate the weights they train: the f32 parameters of
 * an inference graph become writable session state, the model is not a
 * training step, its output 0 need not be a loss, set_param changes what
 * run computes, save/load round-trips, and train_step is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "nncc/nncc.h"
#include "passes/passes.h"
#include "so_build.h"

static const char *src =
	"graph mw {\n"
	"  input %x: f32[2, 3]\n"
	"  param %w: f32[3, 2] = [1, 2, 3, 4, 5, 6]\n"
	"  param %b: f32[2] = [0.5, -0.5]\n"
	"  %m = matmul(%x, %w)\n"
	"  %y = add(%m, %b)\n"
	"  output %y\n"
	"}\n";

static void compile(const char *dir, char *so, size_t n)
{
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "mw.ir", &d);
	if (!g)
		fail_msg("%s", d.msg);
	assert_int_equal(ps_infer_shapes(g, &d), 0);
	assert_int_equal(ps_mutable_weights(g), 2);
	assert_int_equal(ps_mutable_weights(g), 0); /* already state */
	Options po = {.opt_level = 2};
	if (ps_pipeline(g, &po, &d) < 0 || ir_verify(g, &d) < 0)
		fail_msg("%s", d.msg);
	so_build(g, dir, "mw", 0, so, n);
	ir_graph_free(g);
}

/* y = x w + b for x = [[1, 0, 1], [0, 1, 0]] */
static void run_check(nncc_session *s, const float *w, const float *b)
{
	const float x[6] = {1, 0, 1, 0, 1, 0};
	int64_t dims[2] = {2, 3};
	char *err = NULL;
	assert_int_equal(nncc_session_set_input(s, 0, x, 2, dims, NNCC_DTYPE_F32, &err), NNCC_STATUS_OK);
	assert_int_equal(nncc_session_run(s, &err), NNCC_STATUS_OK);
	const void *out;
	assert_int_equal(nncc_session_output(s, 0, &out), NNCC_STATUS_OK);
	const float *y = out;
	for (int j = 0; j < 2; j++) {
		assert_float_equal(y[j], w[0 * 2 + j] + w[2 * 2 + j] + b[j], 1e-6);
		assert_float_equal(y[2 + j], w[1 * 2 + j] + b[j], 1e-6);
	}
}

static void test_mutable_weights(void **state)
{
	(void)state;
	char dir[] = "/tmp/nncc_mw_XXXXXX", so[512], wf[512];
	assert_non_null(mkdtemp(dir));
	compile(dir, so, sizeof so);
	nncc_model *m;
	nncc_session *s, *s2;
	char *err = NULL;
	assert_int_equal(nncc_model_load(so, &m, &err), NNCC_STATUS_OK);
	assert_int_equal(nncc_model_is_training(m), 0);
	assert_int_equal(nncc_model_param_role(m, nncc_model_find_param(m, "w")), NNCC_PARAM_TRAINED);
	assert_int_equal(nncc_session_create(m, &s, &err), NNCC_STATUS_OK);
	const float w0[6] = {1, 2, 3, 4, 5, 6}, b0[2] = {0.5f, -0.5f};
	run_check(s, w0, b0);
	const float w1[6] = {-1, 0.25f, 2, 8, -3, 1}, b1[2] = {3, 4};
	assert_int_equal(nncc_session_set_param(s, "w", w1, sizeof w1, &err), NNCC_STATUS_OK);
	assert_int_equal(nncc_session_set_param(s, "b", b1, sizeof b1, &err), NNCC_STATUS_OK);
	run_check(s, w1, b1);
	/* wrong size, unknown name; no step, no learning rate */
	assert_int_equal(nncc_session_set_param(s, "b", b1, 4, &err), NNCC_STATUS_INVALID_ARGUMENT);
	nncc_error_free(err);
	assert_int_equal(nncc_session_set_param(s, "nope", b1, 8, &err), NNCC_STATUS_NOT_FOUND);
	nncc_error_free(err);
	assert_int_equal(nncc_session_train_step(s, NULL, &err), NNCC_STATUS_UNSUPPORTED);
	nncc_error_free(err);
	assert_int_equal(nncc_session_step(s), 0);
	/* the weights travel through safetensors into a second session */
	snprintf(wf, sizeof wf, "%s/w.safetensors", dir);
	assert_int_equal(nncc_session_save_weights(s, wf, &err), NNCC_STATUS_OK);
	assert_int_equal(nncc_session_create(m, &s2, &err), NNCC_STATUS_OK);
	run_check(s2, w0, b0); /* sessions do not share state */
	assert_int_equal(nncc_session_load_weights(s2, wf, &err), NNCC_STATUS_OK);
	run_check(s2, w1, b1);
	nncc_session_free(s);
	nncc_session_free(s2);
	nncc_model_free(m);
	unlink(wf);
	unlink(so);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutable_weights),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
