/* test_rt_release.c — a session hands back the pages of a dlopened
 * model's embedded initial training state after copying it
 * (runtime/session.c, release_initial). The release must be invisible:
 * a parameter spanning many pages (64 KiB, so whole pages lie inside it)
 * is compiled with SGD; the first session's copy equals the initial
 * values, the embedded data still reads back exactly (the pages come back
 * from the file, not as zeros), and a second session created after the
 * first has trained starts from the initial values again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "nncc/nncc.h"
#include "passes/passes.h"
#include "runtime/rt.h"
#include "so_build.h"

enum { N = 16384 }; /* f32 elements of w: 64 KiB */

static char dir[256];

static float init(int i) { return (float)((i % 97) - 48) * 0.125f; }

/* The graph text: loss = sum(w * w), w's gradient fed as input g. */
static char *source(void)
{
	size_t cap = (size_t)N * 16 + 512, n = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	n += (size_t)snprintf(s + n, cap - n, "graph big {\n  input %%g: f32[%d]\n  param %%w: f32[%d] = [",
		N, N);
	for (int i = 0; i < N; i++)
		n += (size_t)snprintf(s + n, cap - n, "%s%g", i ? ", " : "", (double)init(i));
	snprintf(s + n, cap - n, "]\n  %%sq = mul(%%w, %%w)\n  %%loss = reduce_sum(%%sq) {keepdims = 0}\n"
		"  output %%loss\n}\n");
	return s;
}

static void compile(char *so, size_t n)
{
	Diag d;
	diag_init(&d);
	char *text = source();
	Graph *g = ir_parse(text, "big.ir", &d);
	free(text);
	if (!g)
		fail_msg("%s", d.msg);
	assert_int_equal(ps_infer_shapes(g, &d), 0);
	OptimSpec o;
	int w = ir_find_value(g, "w"), gi = ir_find_value(g, "g");
	if (ps_parse_optimizer("sgd:lr=0.5", &o, &d) < 0 || ps_optimizer(g, &o, &w, &gi, 1, &d) < 0)
		fail_msg("%s", d.msg);
	Options po = {.opt_level = 2};
	if (ps_pipeline(g, &po, &d) < 0)
		fail_msg("%s", d.msg);
	so_build(g, dir, "big", 0, so, n);
	ir_graph_free(g);
}

/* w of session s equals the initial values */
static void check_initial(nncc_session *s)
{
	float *w = malloc(N * sizeof *w);
	assert_non_null(w);
	assert_int_equal(nncc_session_get_param(s, "w", w, N * sizeof *w, NULL), NNCC_STATUS_OK);
	for (int i = 0; i < N; i++)
		assert_true(w[i] == init(i));
	free(w);
}

static void test_release(void **state)
{
	(void)state;
	char so[512], *err = NULL;
	compile(so, sizeof so);
	nncc_model *m;
	nncc_session *s1, *s2;
	if (nncc_model_load(so, &m, &err) != NNCC_STATUS_OK)
		fail_msg("%s", err);
	assert_true(rt_model_from_file(m));
	assert_int_equal(nncc_session_create(m, &s1, &err), NNCC_STATUS_OK);
	check_initial(s1);
	/* the embedded copy reads back exactly */
	const nncc_abi_model *a = rt_model_abi(m);
	const float *emb = NULL;
	for (int32_t i = 0; i < a->nparams; i++)
		if (strcmp(a->params[i].name, "w") == 0)
			emb = a->params[i].data;
	assert_non_null(emb);
	for (int i = 0; i < N; i++)
		assert_true(emb[i] == init(i));
	/* a step moves s1's w; a later session starts from the initial values */
	float *g = malloc(N * sizeof *g), loss;
	assert_non_null(g);
	for (int i = 0; i < N; i++)
		g[i] = 1;
	int64_t dims[1] = {N};
	assert_int_equal(nncc_session_set_input(s1, 0, g, 1, dims, NNCC_DTYPE_F32, &err), NNCC_STATUS_OK);
	assert_int_equal(nncc_session_train_step(s1, &loss, &err), NNCC_STATUS_OK);
	assert_int_equal(nncc_session_get_param(s1, "w", g, N * sizeof *g, NULL), NNCC_STATUS_OK);
	for (int i = 0; i < N; i++) /* SGD at rate 0.5 on gradient 1 */
		assert_true(g[i] == init(i) - 0.5f);
	free(g);
	assert_int_equal(nncc_session_create(m, &s2, &err), NNCC_STATUS_OK);
	check_initial(s2);
	nncc_session_free(s1);
	nncc_session_free(s2);
	nncc_model_free(m);
}

int main(void)
{
	char base[] = "/tmp/nncc_test_releaseXXXXXX";
	if (!mkdtemp(base))
		return 1;
	snprintf(dir, sizeof dir, "%s", base);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
