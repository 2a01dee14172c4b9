/* test_rng_train.c — dropout in a training step (passes/rng.c), through
 * the reference interpreter: the drawn mask is exactly the documented
 * function of (seed, step, stream, index) (random_uniform >= ratio),
 * its keep fraction is within 4 sigma of 1 - ratio, kept elements are
 * x * f32(1 / (1 - ratio)) bit for bit and dropped ones 0; the seed state
 * and the step change the mask; through ps_train (mse loss, autodiff),
 * d(loss)/d(x) is exactly 0 where dropped and nonzero where kept; the
 * compiled step agrees with the interpreter; --augment's hflip and crop
 * in the interpreter against the definition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ew_check.h"

enum { R = 64, C = 64, NX = R * C };
static const char *src =
	"graph d { input %x: f32[64, 64]\n"
	"  param %w: f32[64, 64] = elided\n"
	"  %y, %m = dropout(%x) {ratio = 0.3}\n"
	"  %z = mul(%y, %w)\n"
	"  output %z output %y output %m }";

static Graph *parse(void)
{
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse(src, "d.ir", &d);
	if (!g || ps_infer_shapes(g, &d))
		fail_msg("%s", d.msg);
	int w = ir_find_value(g, "w");
	Value *v = &g->val[w];
	v->nbytes = NX * 4;
	v->data = ir_alloc(g, v->nbytes);
	for (int i = 0; i < NX; i++)
		((float *)v->data)[i] = 0.5f + (float)(i % 7) * 0.125f;
	return g;
}

static void xdata(float *x)
{
	for (int i = 0; i < NX; i++)
		x[i] = (float)((i * 37) % 101) * 0.03125f - 1.515625f; /* never 0 */
}

/* The rewrite alone: y and the mask evaluated with seed and step given. */
static void eval_rewrite(uint64_t seed, int64_t step, float *y, uint8_t *m)
{
	Graph *g = parse();
	Diag d;
	diag_init(&d);
	TrainOptions t = {.loss = "mse"};
	RngState rs;
	assert_int_equal(ps_rng_train(g, &t, &rs, &d), 0);
	assert_true(rs.seed >= 0 && rs.step >= 0 && rs.augmented < 0);
	assert_int_equal(g->val[rs.seed].state, IR_STATE_SEED);
	memcpy(g->val[rs.seed].data, &seed, 8);
	memcpy(g->val[rs.step].data, &step, 8);
	if (ir_verify(g, &d))
		fail_msg("verify: %s", d.msg);
	float x[NX];
	xdata(x);
	Tensor in = {DT_F32, g->val[g->input[0]].shape, x}, out[3];
	if (ir_eval(g, &in, out, &d))
		fail_msg("ir_eval: %s", d.msg);
	assert_int_equal(out[2].dtype, DT_BOOL);
	memcpy(y, out[1].data, NX * 4);
	memcpy(m, out[2].data, NX);
	for (int k = 0; k < 3; k++)
		ir_tensor_free(&out[k]);
	ir_graph_free(g);
}

static void test_dropout_mask(void **state)
{
	(void)state;
	static float y[NX], y2[NX];
	static uint8_t m[NX], m2[NX];
	float x[NX];
	xdata(x);
	const float scale = (float)(1 / (1 - 0.3));
	eval_rewrite(7, 3, y, m);
	int kept = 0;
	for (int i = 0; i < NX; i++) {
		bool keep = ir_random_uniform(7, 3, 0, (uint64_t)i) >= 0.3f;
		assert_int_equal(m[i], keep);
		kept += keep;
		float want = x[i] * (keep ? scale : 0.0f); /* dropped: x * 0 (signed zero) */
		assert_memory_equal(&y[i], &want, 4);
	}
	double p = 0.7, sigma = sqrt(p * (1 - p) / NX);
	assert_true(fabs((double)kept / NX - p) < 4 * sigma);
	/* same seed and step: the same mask; another step or seed: another */
	eval_rewrite(7, 3, y2, m2);
	assert_memory_equal(m, m2, NX);
	assert_memory_equal(y, y2, sizeof y);
	eval_rewrite(7, 4, y2, m2);
	assert_memory_not_equal(m, m2, NX);
	eval_rewrite(8, 3, y2, m2);
	assert_memory_not_equal(m, m2, NX);
}

/* Runs the compiled step of kl once on in: like ew_run_so, with writable
 * copies of the training state (zeros where the artifact embeds none). */
static void run_step(const KernelList *kl, const Graph *g, const Tensor *in, const Tensor *ref, Tensor *got)
{
	char obj[512], so[512];
	snprintf(obj, sizeof obj, "%s/step.o", ew_dir);
	snprintf(so, sizeof so, "%s/step.so", ew_dir);
	CpuOptions o = {.opt_level = 2};
	Diag d;
	diag_init(&d);
	if (cg_cpu_emit(kl, &o, obj, 0, &d) != 0 || cg_link_so(obj, so, &d) != 0)
		fail_msg("emit: %s", d.msg);
	void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	const nncc_abi_model *m = dlsym(h, "nncc_model");
	assert_non_null(m);
	void *arena = NULL;
	if (m->arena_bytes)
		assert_int_equal(posix_memalign(&arena, 64, (size_t)m->arena_bytes), 0);
	const void *ins[4];
	void *outs[4], *params[64];
	assert_true(m->nparams <= 64 && g->ninput <= 4 && g->noutput <= 4);
	for (int i = 0; i < m->nparams; i++) {
		params[i] = calloc(1, (size_t)m->params[i].nbytes + 8);
		if (m->params[i].data)
			memcpy(params[i], m->params[i].data, (size_t)m->params[i].nbytes);
	}
	for (int i = 0; i < g->ninput; i++)
		ins[i] = in[i].data;
	for (int i = 0; i < g->noutput; i++) {
		size_t nb = (size_t)ir_shape_numel(&ref[i].shape) * ir_dtype_size(ref[i].dtype);
		got[i] = (Tensor){ref[i].dtype, ref[i].shape, calloc(1, nb + 1)};
		outs[i] = got[i].data;
	}
	m->run(arena, ins, outs, (const void *const *)params, NULL);
	for (int i = 0; i < m->nparams; i++)
		free(params[i]);
	free(arena);
	dlclose(h);
	unlink(obj);
	unlink(so);
}

/* The whole step: d(loss)/d(x) is zero exactly where dropped. */
static void test_dropout_grad(void **state)
{
	(void)state;
	Graph *g = parse();
	Diag d;
	diag_init(&d);
	TrainOptions t = {.loss = "mse", .grad_inputs = "x"};
	assert_int_equal(ps_parse_optimizer("sgd:lr=0.1", &t.optim, &d), 0);
	Options o = {.opt_level = 2, .train = &t};
	if (ps_pipeline(g, &o, &d))
		fail_msg("passes: %s", d.msg);
	assert_int_equal(g->noutput, 2); /* loss, grad.x */
	if (ir_verify(g, &d))
		fail_msg("verify: %s", d.msg);
	int seed = -1, nseed = 0;
	for (int v = 0; v < g->nval; v++)
		if (g->val[v].state == IR_STATE_SEED)
			seed = v, nseed++;
	assert_int_equal(nseed, 1);
	int64_t s = 11;
	memcpy(g->val[seed].data, &s, 8);
	float x[NX], label[NX];
	xdata(x);
	for (int i = 0; i < NX; i++)
		label[i] = (float)(i % 3) * 0.5f;
	Tensor in[2] = {{DT_F32, g->val[g->input[0]].shape, x}, {DT_F32, g->val[g->input[1]].shape, label}};
	assert_string_equal(g->val[g->input[1]].name, "label");
	Tensor want[2];
	if (ir_eval(g, in, want, &d))
		fail_msg("ir_eval: %s", d.msg);
	const float *gx = want[1].data;
	for (int i = 0; i < NX; i++) {
		bool keep = ir_random_uniform(11, 0, 0, (uint64_t)i) >= 0.3f;
		if (keep)
			assert_true(gx[i] != 0);
		else
			assert_true(gx[i] == 0);
	}
	/* compiled (the seed baked into the state's initial data) */
	KernelList kl;
	if (cg_lower(g, &kl, &d))
		fail_msg("cg_lower: %s", d.msg);
	cg_plan(&kl);
	cg_schedule(&kl, 0);
	Tensor so[2];
	run_step(&kl, g, in, want, so);
	ew_rtol = 1e-5;
	ew_atol = 1e-9;
	ew_compare("compiled loss", &want[0], &so[0]);
	ew_compare("compiled grad.x", &want[1], &so[1]);
	for (int i = 0; i < NX; i++)
		assert_true((((float *)so[1].data)[i] == 0) == (gx[i] == 0));
	for (int k = 0; k < 2; k++) {
		ir_tensor_free(&want[k]);
		ir_tensor_free(&so[k]);
	}
	cg_free(&kl);
	ir_graph_free(g);
}

/* --augment in front of the model keeps the graph valid (topological
 * order, one seed); hflip + crop through the interpreter equal the
 * definition computed here. */
static void test_augment_graph(void **state)
{
	(void)state;
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse("graph a { input %x: f32[3, 2, 4, 5]\n  param %w: f32[1] = [2]\n"
		"  %z = mul(%x, %w) output %z }", "a.ir", &d);
	assert_non_null(g);
	assert_int_equal(ps_infer_shapes(g, &d), 0);
	TrainOptions t = {.loss = "mse", .augment = "x:hflip,crop=1", .augment_out = true};
	assert_int_equal(ps_parse_optimizer("sgd", &t.optim, &d), 0);
	Options o = {.opt_level = 2, .train = &t};
	if (ps_pipeline(g, &o, &d) || ir_verify(g, &d))
		fail_msg("%s", d.msg);
	assert_int_equal(g->noutput, 2);
	assert_string_equal(g->val[g->output[1]].name, "augment.x");
	float x[120], label[120];
	for (int i = 0; i < 120; i++)
		x[i] = (float)i, label[i] = 0;
	Tensor in[2] = {{DT_F32, g->val[g->input[0]].shape, x}, {DT_F32, g->val[g->input[1]].shape, label}};
	Tensor out[2];
	if (ir_eval(g, in, out, &d))
		fail_msg("ir_eval: %s", d.msg);
	const float *y = out[1].data;
	for (int n = 0; n < 3; n++) {
		bool flip = ir_random_uniform(0, 0, 0, (uint64_t)n) < 0.5f;
		int oy = (int)floorf(ir_random_uniform(0, 0, 1, (uint64_t)n) * 3.0f);
		int ox = (int)floorf(ir_random_uniform(0, 0, 2, (uint64_t)n) * 3.0f);
		oy = oy > 2 ? 2 : oy;
		ox = ox > 2 ? 2 : ox;
		for (int c = 0; c < 2; c++)
			for (int h = 0; h < 4; h++)
				for (int w = 0; w < 5; w++) {
					int sh = h + oy - 1, sw = w + ox - 1; /* in the flipped image */
					float want = 0;
					if (sh >= 0 && sh < 4 && sw >= 0 && sw < 5)
						want = x[((n * 2 + c) * 4 + sh) * 5 + (flip ? 4 - sw : sw)];
					assert_true(y[((n * 2 + c) * 4 + h) * 5 + w] == want);
				}
	}
	ir_tensor_free(&out[0]);
	ir_tensor_free(&out[1]);
	ir_graph_free(g);
}

/* Without random ops, a step gets no seed state (its ABI is unchanged). */
static void test_no_seed_without_random(void **state)
{
	(void)state;
	Diag d;
	diag_init(&d);
	Graph *g = ir_parse("graph d { input %x: f32[4]\n  param %w: f32[4] = [1, 2, 3, 4]\n"
		"  %z = mul(%x, %w) output %z }", "d.ir", &d);
	assert_non_null(g);
	assert_int_equal(ps_infer_shapes(g, &d), 0);
	TrainOptions t = {.loss = "mse"};
	RngState rs;
	assert_int_equal(ps_rng_train(g, &t, &rs, &d), 0);
	assert_int_equal(rs.seed, -1);
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dropout_mask),
		cmocka_unit_test(test_dropout_grad),
		cmocka_unit_test(test_augment_graph),
		cmocka_unit_test(test_no_seed_without_random),
	};
	return cmocka_run_group_tests(tests, ew_setup, ew_teardown);
}
