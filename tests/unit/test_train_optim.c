/* test_train_optim.c — compiled optimizer steps with hand-written
 * gradients (no autodiff): a graph whose parameter w gets its gradient
 * from the input `g` goes through ps_optimizer, the pipeline, lowering,
 * the LLVM backend and the linker; the runtime then runs three steps with
 * a different gradient each, and the parameters are compared with the
 * update rules evaluated here in double (PyTorch's SGD with momentum,
 * dampening, weight decay and Nesterov; Adam; AdamW). Also: the loss
 * reads w at step start, the step counter and learning rate, parameter
 * access by name and its errors, safetensors save/load (a resumed run is
 * bit-exact), malformed weight files, and the ordering check of state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "nncc/nncc.h"
#include "passes/passes.h"
#include "runtime/rt.h"
#include "so_build.h"

static char dir[256];

enum { N = 6, STEPS = 3 };
static const float w0[N] = {0.5f, -1.25f, 2, 0.125f, -0.75f, 1};

static const char *src =
	"graph opt {\n"
	"  input %g: f32[2, 3]\n"
	"  param %w: f32[2, 3] = [0.5, -1.25, 2, 0.125, -0.75, 1]\n"
	"  %sq = mul(%w, %w)\n"
	"  %loss = reduce_sum(%sq) {keepdims = 0}\n"
	"  output %loss\n"
	"}\n";

/* The gradient fed at step t. */
static float grad(int t, int i)
{
	return (float)(sin(1.7 * i + 0.9 * t) * (1 + t));
}

/* text parsed, its shapes inferred */
static Graph *parsed(const char *text, const char *file, Diag *d)
{
	Graph *g = ir_parse(text, file, d);
	if (!g)
		fail_msg("%s", d->msg);
	assert_int_equal(ps_infer_shapes(g, d), 0);
	return g;
}

/* Compiles graph text (with optimizer spec, unless NULL) into DIR/NAME.so. */
static void compile_src(const char *text, const char *spec, const char *name, char *so, size_t n)
{
	Diag d;
	diag_init(&d);
	Graph *g = parsed(text, "opt.ir", &d);
	OptimSpec o;
	int w = ir_find_value(g, "w"), gi = ir_find_value(g, "g");
	if (spec && ps_parse_optimizer(spec, &o, &d) < 0)
		fail_msg("%s", d.msg);
	if (spec && ps_optimizer(g, &o, &w, &gi, 1, &d) < 0)
		fail_msg("%s", d.msg);
	if (ir_verify(g, &d) < 0)
		fail_msg("%s", d.msg);
	Options po = {.opt_level = 2};
	if (ps_pipeline(g, &po, &d) < 0)
		fail_msg("%s", d.msg);
	so_build(g, dir, name, 1, so, n);
	ir_graph_free(g);
}

static void compile(const char *spec, const char *name, char *so, size_t n)
{
	compile_src(src, spec, name, so, n);
}

typedef struct Run {
	nncc_model *m;
	nncc_session *s;
} Run;

static Run open_run(const char *so)
{
	Run r;
	char *err = NULL;
	if (nncc_model_load(so, &r.m, &err) != NNCC_STATUS_OK)
		fail_msg("%s", err);
	assert_int_equal(nncc_session_create(r.m, &r.s, &err), NNCC_STATUS_OK);
	return r;
}

static void close_run(Run *r)
{
	nncc_session_free(r->s);
	nncc_model_free(r->m);
}

/* Runs steps t0..t1-1; checks each loss is sum(w^2) of the w before it. */
static void steps(Run *r, int t0, int t1)
{
	char *err = NULL;
	int64_t dims[2] = {2, 3};
	for (int t = t0; t < t1; t++) {
		float gv[N], w[N], loss;
		for (int i = 0; i < N; i++)
			gv[i] = grad(t, i);
		assert_int_equal(nncc_session_get_param(r->s, "w", w, sizeof w, &err), NNCC_STATUS_OK);
		assert_int_equal(nncc_session_set_input(r->s, 0, gv, 2, dims, NNCC_DTYPE_F32, &err),
				 NNCC_STATUS_OK);
		assert_int_equal(nncc_session_step(r->s), t);
		if (nncc_session_train_step(r->s, &loss, &err) != NNCC_STATUS_OK)
			fail_msg("%s", err);
		double want = 0;
		for (int i = 0; i < N; i++)
			want += (double)w[i] * w[i];
		assert_true(fabs(loss - want) <= 1e-5 * (1 + want));
		assert_int_equal(nncc_session_step(r->s), t + 1);
	}
}

/* Reference: PyTorch's update rules in double. */
typedef struct Ref {
	double w[N], buf[N], m[N], v[N];
} Ref;

static void ref_sgd(Ref *r, double lr, double mom, double damp, double wd, bool nest)
{
	for (int t = 0; t < STEPS; t++)
		for (int i = 0; i < N; i++) {
			double g = grad(t, i) + wd * r->w[i];
			if (mom != 0) {
				r->buf[i] = t == 0 ? g : mom * r->buf[i] + (1 - damp) * g;
				g = nest ? g + mom * r->buf[i] : r->buf[i];
			}
			r->w[i] -= lr * g;
		}
}

static void ref_adam(Ref *r, double lr, double b1, double b2, double eps, double wd, bool decoupled)
{
	for (int t = 0; t < STEPS; t++)
		for (int i = 0; i < N; i++) {
			double g = grad(t, i);
			if (decoupled)
				r->w[i] *= 1 - lr * wd;
			else
				g += wd * r->w[i];
			r->m[i] = b1 * r->m[i] + (1 - b1) * g;
			r->v[i] = b2 * r->v[i] + (1 - b2) * g * g;
			double bc1 = 1 - pow(b1, t + 1), bc2 = 1 - pow(b2, t + 1);
			r->w[i] -= lr / bc1 * r->m[i] / (sqrt(r->v[i]) / sqrt(bc2) + eps);
		}
}

static void check(const char *spec, const char *name, const Ref *ref)
{
	char so[512];
	compile(spec, name, so, sizeof so);
	Run r = open_run(so);
	assert_true(nncc_model_is_training(r.m));
	steps(&r, 0, STEPS);
	float w[N];
	assert_int_equal(nncc_session_get_param(r.s, "w", w, sizeof w, NULL), NNCC_STATUS_OK);
	for (int i = 0; i < N; i++)
		if (fabs(w[i] - ref->w[i]) > 1e-5 * (1 + fabs(ref->w[i])))
			fail_msg("%s: w[%d] = %.9g, reference %.9g", spec, i, w[i], ref->w[i]);
	close_run(&r);
}

static Ref start(void)
{
	Ref r;
	memset(&r, 0, sizeof r);
	for (int i = 0; i < N; i++)
		r.w[i] = w0[i];
	return r;
}

static void test_sgd(void **state)
{
	(void)state;
	Ref r = start();
	ref_sgd(&r, 0.1, 0, 0, 0, false);
	check("sgd:lr=0.1", "sgd_plain", &r);
	r = start();
	ref_sgd(&r, 0.05, 0.9, 0.1, 0.01, false);
	check("sgd:lr=0.05,momentum=0.9,dampening=0.1,weight_decay=0.01", "sgd_mom", &r);
	r = start();
	ref_sgd(&r, 0.05, 0.8, 0, 0.02, true);
	check("sgd:lr=0.05,momentum=0.8,nesterov=1,weight_decay=0.02", "sgd_nesterov", &r);
}

static void test_adam(void **state)
{
	(void)state;
	Ref r = start();
	ref_adam(&r, 0.01, 0.9, 0.999, 1e-8, 0.1, false);
	check("adam:lr=0.01,weight_decay=0.1", "adam", &r);
	r = start();
	ref_adam(&r, 0.02, 0.8, 0.99, 1e-6, 0.05, true);
	check("adamw:lr=0.02,beta1=0.8,beta2=0.99,eps=1e-6,weight_decay=0.05", "adamw", &r);
}

/* Three uninterrupted steps equal one step, save, a new session loading
 * the file, two more steps: bit for bit, optimizer state included. */
static void test_resume(void **state)
{
	(void)state;
	char so[512], wfile[600], *err = NULL;
	compile("adam:lr=0.05", "resume", so, sizeof so);
	snprintf(wfile, sizeof wfile, "%s/ckpt.safetensors", dir);
	Run a = open_run(so);
	steps(&a, 0, STEPS);
	Run b = open_run(so);
	nncc_session_set_seed(b.s, 42);
	steps(&b, 0, 1);
	if (nncc_session_save_weights(b.s, wfile, &err) != NNCC_STATUS_OK)
		fail_msg("%s", err);
	close_run(&b);
	Run c = open_run(so);
	if (nncc_session_load_weights(c.s, wfile, &err) != NNCC_STATUS_OK)
		fail_msg("%s", err);
	assert_int_equal(nncc_session_step(c.s), 1);
	assert_int_equal(nncc_session_seed(c.s), 42);
	steps(&c, 1, STEPS);
	const char *names[] = {"w", "w.exp_avg", "w.exp_avg_sq", "step", "lr"};
	for (int k = 0; k < 5; k++) {
		unsigned char x[64], y[64];
		int i = nncc_model_find_param(a.m, names[k]);
		assert_true(i >= 0);
		nncc_tensor_info info;
		assert_int_equal(nncc_model_param_info(a.m, i, &info), NNCC_STATUS_OK);
		assert_int_equal(nncc_session_get_param(a.s, names[k], x, info.nbytes, NULL), NNCC_STATUS_OK);
		assert_int_equal(nncc_session_get_param(c.s, names[k], y, info.nbytes, NULL), NNCC_STATUS_OK);
		assert_memory_equal(x, y, (size_t)info.nbytes);
	}
	assert_int_equal(nncc_model_param_role(a.m, nncc_model_find_param(a.m, "w")), NNCC_PARAM_TRAINED);
	/* optimizer state starting at zero takes no bytes in the artifact */
	const nncc_abi_model *abi = rt_model_abi(a.m);
	assert_null(abi->params[nncc_model_find_param(a.m, "w.exp_avg")].data);
	assert_non_null(abi->params[nncc_model_find_param(a.m, "w")].data);
	assert_int_equal(nncc_model_param_role(a.m, nncc_model_find_param(a.m, "lr")), NNCC_PARAM_LR);
	close_run(&a);
	close_run(&c);
}

/* Learning rate 0 leaves w alone; parameter access errors; a second
 * session of the same model has its own state. */
static void test_api(void **state)
{
	(void)state;
	char so[512], *err = NULL;
	compile("sgd:lr=0.5,momentum=0.9", "api", so, sizeof so);
	Run r = open_run(so);
	nncc_session *s2;
	assert_int_equal(nncc_session_create(r.m, &s2, &err), NNCC_STATUS_OK);
	assert_int_equal(nncc_session_set_learning_rate(r.s, 0, &err), NNCC_STATUS_OK);
	steps(&r, 0, 2);
	float w[N];
	assert_int_equal(nncc_session_get_param(r.s, "w", w, sizeof w, NULL), NNCC_STATUS_OK);
	assert_memory_equal(w, w0, sizeof w);
	assert_int_equal(nncc_session_set_learning_rate(r.s, -1, &err), NNCC_STATUS_INVALID_ARGUMENT);
	nncc_error_free(err);
	assert_int_equal(nncc_session_get_param(r.s, "nope", w, sizeof w, &err), NNCC_STATUS_NOT_FOUND);
	assert_non_null(strstr(err, "nope"));
	nncc_error_free(err);
	assert_int_equal(nncc_session_get_param(r.s, "w", w, 4, &err), NNCC_STATUS_INVALID_ARGUMENT);
	nncc_error_free(err);
	float nw[N] = {1, 2, 3, 4, 5, 6};
	assert_int_equal(nncc_session_set_param(r.s, "w", nw, sizeof nw, &err), NNCC_STATUS_OK);
	assert_int_equal(nncc_session_get_param(r.s, "w", w, sizeof w, NULL), NNCC_STATUS_OK);
	assert_memory_equal(w, nw, sizeof w);
	int64_t dims[2] = {3, 2};
	assert_int_equal(nncc_session_set_input(r.s, 0, nw, 2, dims, NNCC_DTYPE_F32, &err),
			 NNCC_STATUS_INVALID_ARGUMENT);
	nncc_error_free(err);
	assert_int_equal(nncc_session_get_param(s2, "w", w, sizeof w, NULL), NNCC_STATUS_OK);
	assert_memory_equal(w, w0, sizeof w); /* untouched by the other session */
	assert_int_equal(nncc_session_step(s2), 0);
	nncc_session_free(s2);
	close_run(&r);
}

/* Writes bytes to DIR/name and returns the path. */
static const char *put_file(const char *name, const void *p, size_t n)
{
	static char path[600];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
	return path;
}

static const char *st_file(const char *hdr, const void *data, size_t ndata)
{
	unsigned char buf[1024];
	uint64_t n = strlen(hdr);
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)(n >> (8 * i));
	memcpy(buf + 8, hdr, n);
	memcpy(buf + 8 + n, data, ndata);
	return put_file("bad.safetensors", buf, 8 + n + ndata);
}

static void test_bad_weights(void **state)
{
	(void)state;
	char so[512], *err = NULL;
	compile("sgd:lr=0.1", "badw", so, sizeof so);
	Run r = open_run(so);
	float z[N] = {0};
	struct {
		const char *hdr; /* JSON header */
		size_t ndata;    /* data bytes after it */
		nncc_status st;  /* expected status */
		const char *msg; /* in the message */
	} cases[] = {
		{"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 20, NNCC_STATUS_BAD_MODEL, "data_offsets"},
		{"{\"w\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}}", 24, NNCC_STATUS_INVALID_ARGUMENT, "f32[2,3]"},
		{"{\"x\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24, NNCC_STATUS_NOT_FOUND, "'x'"},
		{"{\"w\":{\"dtype\":\"Q9\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24, NNCC_STATUS_UNSUPPORTED, "dtype"},
		{"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}", 24, NNCC_STATUS_BAD_MODEL, "malformed"},
		{"{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24, NNCC_STATUS_BAD_MODEL, "twice"},
		{"{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,24]}}", 24, NNCC_STATUS_BAD_MODEL, "large"},
		{"{\"__metadata__\":{\"seed\":\"abc\"}}", 0, NNCC_STATUS_BAD_MODEL, "seed"},
		{"[1,2]", 0, NNCC_STATUS_BAD_MODEL, "malformed"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		const char *p = st_file(cases[k].hdr, z, cases[k].ndata);
		nncc_status st = nncc_session_load_weights(r.s, p, &err);
		if (st != cases[k].st || !err || !strstr(err, cases[k].msg))
			fail_msg("case %zu: status %d, message %s", k, st, err ? err : "(none)");
		nncc_error_free(err);
	}
	const char *p = put_file("short.safetensors", "\x10\0\0\0", 4);
	assert_int_equal(nncc_session_load_weights(r.s, p, &err), NNCC_STATUS_BAD_MODEL);
	nncc_error_free(err);
	/* every truncation of a valid file, and every single-byte corruption of
	 * its header, is refused or loads cleanly: never a crash (ASan build) */
	char good[600];
	snprintf(good, sizeof good, "%s/good.safetensors", dir);
	assert_int_equal(nncc_session_save_weights(r.s, good, &err), NNCC_STATUS_OK);
	FILE *gf = fopen(good, "rb");
	assert_non_null(gf);
	static unsigned char img[8192];
	size_t len = fread(img, 1, sizeof img, gf);
	fclose(gf);
	assert_true(len > 8 && len < sizeof img);
	for (size_t cut = 0; cut < len; cut++) {
		p = put_file("cut.safetensors", img, cut);
		assert_int_not_equal(nncc_session_load_weights(r.s, p, &err), NNCC_STATUS_OK);
		nncc_error_free(err);
	}
	size_t hdr = 8 + (size_t)img[0] + ((size_t)img[1] << 8);
	for (size_t i = 8; i < hdr && i < len; i++) {
		unsigned char keep = img[i];
		img[i] = (unsigned char)(keep ^ 0x5a);
		p = put_file("flip.safetensors", img, len);
		if (nncc_session_load_weights(r.s, p, &err) != NNCC_STATUS_OK)
			nncc_error_free(err);
		img[i] = keep;
	}
	p = put_file("good2.safetensors", img, len); /* restore w0 (a flip may have loaded) */
	assert_int_equal(nncc_session_load_weights(r.s, p, &err), NNCC_STATUS_OK);
	/* a failed load changed nothing */
	float w[N];
	assert_int_equal(nncc_session_get_param(r.s, "w", w, sizeof w, NULL), NNCC_STATUS_OK);
	assert_memory_equal(w, w0, sizeof w);
	close_run(&r);
}

/* w read (for y) after its update's node: y = sum(w * g), w <- w - g */
static const char READ_AFTER_UPDATE[] = "graph o {\n"
					"  input %g: f32[3]\n"
					"  state param %w: f32[3] = [1, 2, 3]\n"
					"  %n = sub(%w, %g)\n"
					"  assign(%w, %n)\n"
					"  %y = mul(%w, %g)\n"
					"  %s = reduce_sum(%y) {keepdims = 0}\n"
					"  output %s\n"
					"}\n";

/* Two runs of a graph of input g = [1, 1, 1] (3 floats), scalar output
 * and state w (3 floats): each run's output and w after it, exactly. */
static void two_runs(Run *r, const float *want_l, const float (*want_w)[3])
{
	char *err = NULL;
	float g[3] = {1, 1, 1}, w[3], l;
	int64_t dims[1] = {3};
	const void *out;
	assert_int_equal(nncc_session_set_input(r->s, 0, g, 1, dims, NNCC_DTYPE_F32, &err), NNCC_STATUS_OK);
	for (int t = 0; t < 2; t++) {
		assert_int_equal(nncc_session_run(r->s, &err), NNCC_STATUS_OK);
		assert_int_equal(nncc_session_output(r->s, 0, &out), NNCC_STATUS_OK);
		memcpy(&l, out, sizeof l);
		assert_true(l == want_l[t]);
		assert_int_equal(nncc_session_get_param(r->s, "w", w, sizeof w, NULL), NNCC_STATUS_OK);
		assert_memory_equal(w, want_w[t], sizeof w);
	}
}

/* An update that reads its state at other elements than it writes (a sum
 * over it) still sees the old values: w <- (w - sum(w)) * g, twice. */
static void test_update_reads_all(void **state)
{
	(void)state;
	char so[512], *err = NULL;
	compile_src("graph ip {\n"
		"  input %g: f32[3]\n"
		"  state param %w: f32[3] = [1, 2, 3]\n"
		"  %s = reduce_sum(%w) {axes = [0], keepdims = 1}\n"
		"  %n = sub(%w, %s)\n"
		"  %m = mul(%n, %g)\n"
		"  assign(%w, %m)\n"
		"  %l = reduce_sum(%w) {keepdims = 0}\n"
		"  output %l\n"
		"}\n", NULL, "readall", so, sizeof so);
	float l;
	Run r = open_run(so);
	two_runs(&r, (const float[2]){6, -12}, (const float[2][3]){{-5, -4, -3}, {7, 8, 9}});
	/* not a training step: no step counter, so train_step is refused */
	assert_int_equal(nncc_session_train_step(r.s, &l, &err), NNCC_STATUS_UNSUPPORTED);
	nncc_error_free(err);
	close_run(&r);
}

/* A state read after its update's node (an input gradient reading the
 * weight in place, codegen/lower_swap.c): the update waits for the read
 * and writes the state in place (lower_train.c move_after); the read
 * sees the step's old value: y = sum(w * g), w <- w - g, twice. */
static void test_update_waits(void **state)
{
	(void)state;
	char so[512];
	compile_src(READ_AFTER_UPDATE, NULL, "wait", so, sizeof so);
	Run r = open_run(so);
	two_runs(&r, (const float[2]){6, 3}, (const float[2][3]){{0, 1, 2}, {-1, 0, 1}});
	close_run(&r);
}

/* A new state value made by a library call (a matmul whose epilogue adds
 * half the old state, as momentum is made: the epilogue runs after the
 * call, in its output, so the state cannot be that output) keeps its
 * copy, moved up to right after the call (lower_train.c early_copy): the
 * temporary then dies there, not at the step's end. w <- g g + w / 2 for
 * g all ones, twice: exactly [2.5, 3, 3.5, 4], then [3.25, 3.5, 3.75, 4]. */
static const char MATMUL_UPDATE[] = "graph mm {\n"
				    "  input %g: f32[2, 2]\n"
				    "  state optim %w: f32[2, 2] = [1, 2, 3, 4]\n"
				    "  const %h: f32[] = [0.5]\n"
				    "  %p = matmul(%g, %g)\n"
				    "  %q = mul(%w, %h)\n"
				    "  %n = add(%p, %q)\n"
				    "  assign(%w, %n)\n"
				    "  %t = tanh(%g)\n"
				    "  %u = reduce_sum(%t) {keepdims = 0}\n"
				    "  %o = reduce_sum(%n) {keepdims = 0}\n"
				    "  %s = add(%u, %o)\n"
				    "  output %s\n"
				    "}\n";

static void test_copy_early(void **state)
{
	(void)state;
	Diag d;
	diag_init(&d);
	Graph *g = parsed(MATMUL_UPDATE, "mm.ir", &d);
	Options po = {.opt_level = 2};
	assert_int_equal(ps_pipeline(g, &po, &d), 0);
	KernelList kl;
	if (cg_lower(g, &kl, &d) < 0)
		fail_msg("%s", d.msg);
	assert_int_equal(cg_state_check(&kl, &d), 0);
	int mm = -1, copy = -1;
	for (int i = 0; i < kl.nk; i++) {
		if (kl.k[i].kind == KK_MATMUL)
			mm = i;
		if (strstr(kl.k[i].name, "copy"))
			copy = i;
	}
	assert_true(mm >= 0 && kl.k[mm].body); /* the update is the matmul's epilogue */
	assert_int_equal(copy, mm + 1);        /* its copy right after it, not last */
	assert_true(copy < kl.nk - 1);
	cg_free(&kl);
	ir_graph_free(g);

	char so[512], *err = NULL;
	compile_src(MATMUL_UPDATE, NULL, "mm", so, sizeof so);
	Run r = open_run(so);
	float gv[4] = {1, 1, 1, 1}, w[4];
	int64_t dims[2] = {2, 2};
	const float want[2][4] = {{2.5f, 3, 3.5f, 4}, {3.25f, 3.5f, 3.75f, 4}};
	assert_int_equal(nncc_session_set_input(r.s, 0, gv, 2, dims, NNCC_DTYPE_F32, &err), NNCC_STATUS_OK);
	for (int t = 0; t < 2; t++) {
		assert_int_equal(nncc_session_run(r.s, &err), NNCC_STATUS_OK);
		assert_int_equal(nncc_session_get_param(r.s, "w", w, sizeof w, NULL), NNCC_STATUS_OK);
		assert_memory_equal(w, want[t], sizeof w);
	}
	close_run(&r);
}

/* Lowering puts a state's write after its reads, whatever the node order;
 * a kernel list reading state after the write is refused by
 * cg_state_check. */
static void test_state_order(void **state)
{
	(void)state;
	Diag d;
	diag_init(&d);
	Graph *g = parsed(READ_AFTER_UPDATE, "order.ir", &d);
	KernelList kl;
	if (cg_lower(g, &kl, &d) < 0) /* the assign is lowered after the read */
		fail_msg("%s", d.msg);
	assert_int_equal(cg_state_check(&kl, &d), 0);
	int reader = -1, update = -1; /* the kernel reading w for y: run it again at the end */
	for (int i = 0; i < kl.nk; i++) {
		if (strcmp(kl.k[i].name, "mul") == 0)
			reader = i;
		if (strcmp(kl.k[i].name, "sub") == 0)
			update = i;
		assert_null(strstr(kl.k[i].name, "copy"));
	}
	/* the update moved after the read and writes w in place: no copy */
	assert_true(reader >= 0 && update > reader);
	kl.k = realloc(kl.k, (size_t)(kl.nk + 1) * sizeof *kl.k);
	kl.k[kl.nk] = kl.k[reader];
	kl.nk++;
	assert_int_equal(cg_state_check(&kl, &d), -1);
	assert_non_null(strstr(d.msg, "reads training state"));
	cg_free(&kl);
	ir_graph_free(g);
	/* and the verifier refuses assigning a plain constant or twice */
	diag_init(&d);
	g = ir_parse("graph o {\n  input %g: f32[3]\n  const %c: f32[3] = [1, 2, 3]\n"
		"  state optim %m: f32[3] = [0, 0, 0]\n  assign(%c, %g)\n  assign(%m, %g)\n"
		"  assign(%m, %g)\n  output %g\n}\n", "bad.ir", &d);
	assert_non_null(g);
	assert_int_equal(ir_verify(g, &d), -1);
	assert_non_null(strstr(d.msg, "not training state"));
	assert_non_null(strstr(d.msg, "already assigned"));
	ir_graph_free(g);
}

int main(void)
{
	char base[] = "/tmp/nncc_test_trainXXXXXX";
	if (!mkdtemp(base))
		return 1;
	snprintf(dir, sizeof dir, "%s", base);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sgd),
		cmocka_unit_test(test_adam),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_bad_weights),
		cmocka_unit_test(test_copy_early),
		cmocka_unit_test(test_state_order),
		cmocka_unit_test(test_update_reads_all),
		cmocka_unit_test(test_update_waits),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
