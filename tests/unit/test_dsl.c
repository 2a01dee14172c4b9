/* test_dsl.c — the `.nn` frontend through its API (frontend/dsl.h): the
 * loss/train/augment statements come out as the flag strings the driver
 * uses; training mode changes the outputs (the loss's value first, then
 * the extra terms) and the layers (dropout, batch-norm updates); the
 * parameters' initial values are deterministic for a seed, differ for
 * another seed, and do not move when a parameter is added; initializer
 * statistics are those documented; every failure returns NULL with the
 * messages. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "frontend/dsl.h"

static Graph *load(const char *src, bool train, NnClauses *cl, Diag *d)
{
	diag_init(d);
	return fe_nn_load_mem(src, strlen(src), "t.nn", train, cl, d);
}

static const Value *param(const Graph *g, const char *name)
{
	int v = ir_find_value(g, name);
	assert_true(v >= 0);
	assert_int_equal(g->val[v].kind, VK_CONST);
	assert_true(g->val[v].param);
	return &g->val[v];
}

static void test_clauses(void **state)
{
	(void)state;
	const char *src =
		"model m\n"
		"input x: f32[N, 1, 4, 4]\n"
		"label y: i64[N]\n"
		"param fc: linear(16 -> 3)\n"
		"param bn: batch_norm(1)\n"
		"logits = fc(flatten(dropout(bn(x), 0.5)))\n"
		"reg = 0.5 * mean(logits * logits)\n"
		"output logits\n"
		"loss = cross_entropy(logits, y) + reg + 0.1 * sum(logits)\n"
		"train sgd(lr=0.1, momentum=0.9, nesterov=1)\n"
		"augment x: hflip, crop(2), contrast(0.25)\n";
	NnClauses cl;
	Diag d;
	Graph *g = load(src, false, &cl, &d);
	assert_non_null(g);
	assert_string_equal(cl.loss, "cross_entropy");
	assert_string_equal(cl.label, "y");
	assert_string_equal(cl.add_loss, "reg,loss_term2");
	assert_string_equal(cl.optimizer, "sgd:lr=0.1,momentum=0.9,nesterov=1");
	assert_string_equal(cl.augment, "x:hflip,crop=2,contrast=0.25");
	/* inference: the declared outputs; no dropout, batchnorm on running stats */
	assert_int_equal(g->noutput, 1);
	assert_string_equal(g->val[g->output[0]].name, "logits");
	int ndrop = 0, nbn = 0, nupd = 0;
	for (int i = 0; i < g->nnode; i++) {
		ndrop += g->node[i].op == OP_DROPOUT;
		nbn += g->node[i].op == OP_BATCHNORM;
		nupd += g->node[i].op == OP_BUFFER_UPDATE;
	}
	assert_int_equal(ndrop, 0);
	assert_int_equal(nbn, 1);
	assert_int_equal(nupd, 0);
	assert_int_equal(g->ninput, 1); /* the label is not an input */
	ir_graph_free(g);
	/* training: loss value first, then the terms; dropout and BN updates */
	g = load(src, true, &cl, &d);
	assert_non_null(g);
	assert_int_equal(g->noutput, 3);
	assert_string_equal(g->val[g->output[0]].name, "logits");
	assert_string_equal(g->val[g->output[1]].name, "reg");
	assert_string_equal(g->val[g->output[2]].name, "loss_term2");
	ndrop = nbn = nupd = 0;
	for (int i = 0; i < g->nnode; i++) {
		ndrop += g->node[i].op == OP_DROPOUT;
		nbn += g->node[i].op == OP_BATCHNORM;
		nupd += g->node[i].op == OP_BUFFER_UPDATE;
	}
	assert_int_equal(ndrop, 1);
	assert_int_equal(nbn, 0);
	assert_int_equal(nupd, 2);
	ir_graph_free(g);
}

static void test_no_clauses(void **state)
{
	(void)state;
	NnClauses cl;
	Diag d;
	Graph *g = load("input x: f32[2]\noutput x\n", true, &cl, &d);
	assert_non_null(g);
	assert_string_equal(cl.loss, "");
	assert_string_equal(cl.optimizer, "");
	assert_string_equal(cl.augment, "");
	assert_string_equal(g->name, "t"); /* the file's basename */
	assert_int_equal(g->noutput, 1);
	ir_graph_free(g);
}

static bool same_data(const Value *a, const Value *b)
{
	return a->nbytes == b->nbytes && memcmp(a->data, b->data, a->nbytes) == 0;
}

static void test_determinism(void **state)
{
	(void)state;
	const char *a = "seed 3\ninput x: f32[N, 4]\nparam fc: linear(4 -> 4)\nh = fc(x)\noutput h\n";
	const char *b = "seed 3\ninput x: f32[N, 4]\nparam z: f32[9] = normal\nparam fc: linear(4 -> 4)\n"
			"h = fc(x)\noutput h\n";
	const char *c = "seed 4\ninput x: f32[N, 4]\nparam fc: linear(4 -> 4)\nh = fc(x)\noutput h\n";
	Diag d;
	Graph *ga = load(a, false, NULL, &d), *ga2 = load(a, false, NULL, &d);
	Graph *gb = load(b, false, NULL, &d), *gc = load(c, false, NULL, &d);
	assert_non_null(ga);
	assert_non_null(gb);
	assert_non_null(gc);
	assert_true(same_data(param(ga, "fc.weight"), param(ga2, "fc.weight")));
	assert_true(same_data(param(ga, "fc.weight"), param(gb, "fc.weight"))); /* z drawn first */
	assert_false(same_data(param(ga, "fc.weight"), param(gc, "fc.weight")));
	ir_graph_free(ga);
	ir_graph_free(ga2);
	ir_graph_free(gb);
	ir_graph_free(gc);
}

/* Mean and standard deviation of an f32 parameter. */
static void stats(const Value *v, double *mean, double *sd, double *lo, double *hi)
{
	const float *p = v->data;
	size_t n = v->nbytes / 4;
	double s = 0, s2 = 0;
	*lo = INFINITY;
	*hi = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		s += p[i];
		s2 += (double)p[i] * p[i];
		*lo = fmin(*lo, p[i]);
		*hi = fmax(*hi, p[i]);
	}
	*mean = s / (double)n;
	*sd = sqrt(s2 / (double)n - *mean * *mean);
}

static void test_init_statistics(void **state)
{
	(void)state;
	const char *src = "input x: f32[2]\n"
			  "param n: f32[200, 500] = normal(1, 2)\n"
			  "param u: f32[200, 500] = uniform(-3, 1)\n"
			  "param xu: f32[200, 500] = xavier_uniform(gain=2)\n"
			  "param hn: f32[100, 50, 2, 5] = he_normal\n"
			  "param lin: linear(400 -> 250)\n"
			  "output x\n";
	Diag d;
	Graph *g = load(src, false, NULL, &d);
	assert_non_null(g);
	double m, sd, lo, hi;
	stats(param(g, "n"), &m, &sd, &lo, &hi);
	assert_true(fabs(m - 1) < 0.02 && fabs(sd - 2) < 0.02);
	stats(param(g, "u"), &m, &sd, &lo, &hi);
	assert_true(lo >= -3 && hi < 1 && fabs(m + 1) < 0.02 && fabs(sd - 4 / sqrt(12)) < 0.01);
	stats(param(g, "xu"), &m, &sd, &lo, &hi); /* bound 2 sqrt(6 / 700) */
	double bound = 2 * sqrt(6.0 / 700);
	assert_true(lo >= -bound && hi <= bound && fabs(sd - bound / sqrt(3)) < 0.002);
	stats(param(g, "hn"), &m, &sd, &lo, &hi); /* fan_in 50 * 10 */
	assert_true(fabs(m) < 0.002 && fabs(sd - sqrt(2.0 / 500)) < 0.001);
	stats(param(g, "lin.weight"), &m, &sd, &lo, &hi); /* U(+-1/sqrt(400)) */
	assert_true(lo >= -0.05 && hi <= 0.05 && fabs(sd - 0.05 / sqrt(3)) < 0.0005);
	ir_graph_free(g);
}

static void test_failures(void **state)
{
	(void)state;
	Diag d;
	/* several errors, every one reported, NULL returned */
	Graph *g = load("input x: f32[N]\nh = relo(x)\nk = x +\nparam w: f32[2] = nope\n", false, NULL,
			&d);
	assert_null(g);
	assert_non_null(strstr(d.msg, "t.nn:3:8: error: expected an expression"));
	assert_null(strstr(d.msg, "relo")); /* elaboration waits for a clean parse */
	g = load("input x: f32[N]\nh = relo(x)\nparam w: f32[2] = nope\noutput h\n", false, NULL, &d);
	assert_null(g);
	assert_non_null(strstr(d.msg, "t.nn:2:5: error: unknown function 'relo'"));
	assert_non_null(strstr(d.msg, "hint: did you mean 'relu'?"));
	assert_non_null(strstr(d.msg, "t.nn:3:19: error: unknown initializer 'nope'"));
	assert_int_equal(d.nerr, 2);
	/* a NUL byte, an empty file */
	diag_init(&d);
	assert_null(fe_nn_load_mem("input x\0", 8, "z.nn", false, NULL, &d));
	assert_non_null(strstr(d.msg, "NUL"));
	assert_null(load("", false, NULL, &d));
	assert_non_null(strstr(d.msg, "no output statement"));
	/* a missing file */
	diag_init(&d);
	assert_null(fe_nn_load("/nonexistent/x.nn", false, NULL, &d));
	assert_true(d.len > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clauses),
		cmocka_unit_test(test_no_clauses),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_init_statistics),
		cmocka_unit_test(test_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
