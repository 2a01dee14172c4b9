/* nncc.c — the compiler driver: takes the parsed command line
 * (nncc_opts.c), runs frontend → passes → codegen → link, and maps failures to exit status
 * (0 ok, 1 bad input or unsupported model, 2 usage). Outputs are written
 * to a temporary next to the target and renamed, so a failed compile never
 * leaves a partial file behind. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "codegen/cuda/cuda.h"
#include "frontend/dsl.h"
#include "frontend/frontend.h"
#include "frontend/onnx_export.h"
#include "ir/ir.h"
#include "passes/passes.h"
#include "runtime/rt.h"
#include "driver.h"
#include "split_step.h"

Graph *drv_load(const char *path, const Consts *k, bool nn_train, Diag *d)
{
	bool nn = drv_ends_with(path, ".nn");
	if (drv_ends_with(path, ".ir") || nn) {
		if (nn) {
			Graph *g = fe_nn_load(path, nn_train, NULL, d);
			if (g && k->n && (fe_bind_consts(g, k->c, k->n, path, d) < 0 || ps_infer_shapes(g, d) < 0)) {
				ir_graph_free(g);
				return NULL;
			}
			return g;
		}
		size_t len;
		char *src = read_file(path, &len, d);
		if (!src)
			return NULL;
		Graph *g = ir_parse(src, path, d);
		free(src);
		if (g && (fe_bind_consts(g, k->c, k->n, path, d) < 0 || ps_infer_shapes(g, d) < 0)) {
			ir_graph_free(g);
			return NULL;
		}
		return g;
	}
	return fe_onnx_load_with(path, k->c, k->n, d);
}

/* A .nn model's loss, train and augment statements stand in for the flags
 * not given (docs/language.md); -1 with the model's errors. */
static int nn_clauses(const char *model, TrainOptions *to, bool opt_given, NnClauses *cl, Diag *d)
{
	Graph *g = fe_nn_load(model, true, cl, d);
	if (!g)
		return -1;
	ir_graph_free(g);
	if (!to->loss && cl->loss[0])
		to->loss = cl->loss;
	if (!to->add_loss && cl->add_loss[0])
		to->add_loss = cl->add_loss;
	if (!to->augment && cl->augment[0])
		to->augment = cl->augment;
	to->label = cl->label[0] ? cl->label : NULL;
	return !opt_given && cl->optimizer[0] ? ps_parse_optimizer(cl->optimizer, &to->optim, d) : 0;
}

/* Writes text output through a temporary file renamed on success. */
typedef struct Out {
	FILE *f;       /* stream to write */
	char *tmp;     /* temporary path, NULL for stdout */
	const char *path;
} Out;

static int out_open(Out *o, const char *path, Diag *d)
{
	o->path = path;
	o->tmp = NULL;
	if (!path || strcmp(path, "-") == 0) {
		o->f = stdout;
		return 0;
	}
	if (!(o->tmp = make_tmp_next_to(path, d)))
		return -1;
	if (!(o->f = fopen(o->tmp, "w"))) {
		diag(d, "%s: cannot write: %s", path, strerror(errno));
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
		return -1;
	}
	return 0;
}

static int out_close(Out *o, bool ok, Diag *d)
{
	if (!o->tmp) {
		if (fflush(stdout) != 0 || ferror(stdout)) {
			diag(d, "cannot write to standard output: %s", strerror(errno));
			ok = false;
		}
		return ok ? 0 : -1;
	}
	if (ferror(o->f) | (fclose(o->f) != 0)) {
		diag(d, "%s: cannot write: %s", o->path, strerror(errno));
		ok = false;
	}
	if (ok && rename(o->tmp, o->path) != 0) {
		diag(d, "%s: cannot write: %s", o->path, strerror(errno));
		ok = false;
	}
	if (!ok)
		unlink(o->tmp);
	free(o->tmp);
	return ok ? 0 : -1;
}

/* The plan is proved sound (cg_plan_check) in debug builds and whenever
 * check is set (--report). */
int drv_lower_plan(Graph *g, KernelList *kl, bool check, Diag *d)
{
	memset(kl, 0, sizeof *kl);
	if (cg_lower(g, kl, d) < 0)
		return -1;
	cg_schedule(kl, 0);
	cg_plan(kl);
#ifndef NDEBUG
	check = true;
#endif
	if (check && cg_plan_check(kl, d) < 0) {
		diag(d, "internal error: the memory plan is unsound (see above)");
		cg_free(kl);
		return -1;
	}
	return 0;
}

/* Renders a planned kernel list for the CPU and links the shared library
 * out (through a private temporary directory). */
static int emit_so(const KernelList *kl, const char *out, const CpuOptions *co, bool target_cuda, Diag *d)
{
	char dir[] = "/tmp/nncc-XXXXXX";
	if (!mkdtemp(dir))
		return diag(d, "cannot create a temporary directory: %s", strerror(errno));
	char obj[sizeof dir + 16], cobj[sizeof dir + 16];
	snprintf(obj, sizeof obj, "%s/model.o", dir);
	snprintf(cobj, sizeof cobj, "%s/cuda.o", dir);
	int rc = target_cuda ? cg_cuda_emit_obj(kl, cobj, d) : 0;
	if (rc == 0)
		rc = cg_cpu_emit(kl, co, obj, 0, d);
	if (rc == 0)
		rc = target_cuda ? cg_link_so_extra(obj, cobj, out, d) : cg_link_so(obj, out, d);
	unlink(obj);
	unlink(cobj);
	rmdir(dir);
	return rc;
}

/* Lowers, schedules and plans g, renders it for the CPU and links the
 * shared library out. */
int drv_build_so(Graph *g, const char *out, const CpuOptions *co, Diag *d)
{
	KernelList kl;
	if (drv_lower_plan(g, &kl, false, d) < 0)
		return -1;
	int rc = emit_so(&kl, out, co, false, d);
	cg_free(&kl);
	return rc;
}

/* Live nodes of g (those no pass removed). */
static int live_nodes(const Graph *g)
{
	int n = 0;
	for (int i = 0; i < g->nnode; i++)
		n += !g->node[i].dead;
	return n;
}

/* --weights=W: every parameter W names gets W's values (dtype and shape
 * must match); W's other tensors (optimizer state, step, lr) are ignored,
 * and W must name at least one parameter. */
int drv_load_weights(Graph *g, const char *path, Diag *d)
{
	void *buf = NULL;
	size_t len;
	char *err = NULL;
	RtSt st;
	int rc = 0, used = 0;
	if (rt_read_file(path, &buf, &len, &err) != NNCC_STATUS_OK ||
	    rt_st_parse(buf, len, &st, path, &err) != NNCC_STATUS_OK) {
		rc = diag(d, "--weights: %s", err ? err : path);
		free(err);
		if (buf)
			rt_free(buf);
		return rc;
	}
	for (int k = 0; k < st.n && rc == 0; k++) {
		const RtStEntry *e = &st.t[k];
		int v = ir_find_value(g, e->name);
		if (v < 0 || g->val[v].kind != VK_CONST || !g->val[v].param)
			continue; /* optimizer state, step, lr, or not in this model */
		Value *x = &g->val[v];
		bool same = (int)x->dtype == e->dtype && x->shape.rank == e->rank && ir_shape_static(&x->shape);
		for (int i = 0; same && i < e->rank; i++)
			same = x->shape.d[i].n == e->dims[i];
		if (!same || (int64_t)x->nbytes != e->end - e->begin) {
			char sh[256];
			ir_shape_str(g, &x->shape, sh, sizeof sh);
			rc = diag(d, "--weights: %s: tensor '%s' does not match the model's %s%s", path,
				  e->name, ir_dtype_name(x->dtype), sh);
			break;
		}
		x->data = ir_alloc(g, x->nbytes);
		memcpy(x->data, st.data + e->begin, x->nbytes);
		used++;
	}
	if (rc == 0 && used == 0)
		rc = diag(d, "--weights: %s names no parameter of the model", path);
	rt_st_free(&st);
	rt_free(buf);
	return rc;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* -v: one line per stage on stderr, its time since *t0 (then reset) and
 * what it made: n things. */
static void stage(const DrvArgs *a, double *t0, const char *what, long long n, const char *things)
{
	if (!a->verbose)
		return;
	double t = now();
	fprintf(stderr, "nncc: %-7s %8.3f s", what, t - *t0);
	if (n >= 0)
		fprintf(stderr, "  %lld %s", n, things);
	fputc('\n', stderr);
	*t0 = t;
}

/* report: print cg_report of the planned kernels to stdout (--report);
 * with no output file only the report is made. */
static int compile(const DrvArgs *a, Diag *d)
{
	const char *model = a->model, *out = a->out;
	const Options *o = &a->o;
	const CpuOptions *co = &a->co;
	Emit emit = a->emit;
	bool report = a->report;
	double t0 = now();
	Graph *g = drv_load(model, &a->cs, a->train, d);
	if (!g)
		return -1;
	stage(a, &t0, "import", live_nodes(g), "graph nodes");
	if (a->name)
		g->name = ir_strdup(g, a->name);
	if (o->train && o->train->augment && ps_augment_check(g, o->train->augment, d) < 0) {
		ir_graph_free(g); /* rng: a usage error (exit 2) */
		return -2;
	}
	if (a->weights && drv_load_weights(g, a->weights, d) < 0) {
		ir_graph_free(g);
		return -1;
	}
	if (a->mutable_w && ps_mutable_weights(g) == 0) {
		diag(d, "--mutable-weights: %s has no f32 parameter", model);
		ir_graph_free(g);
		return -1;
	}
	int rc = -1;
	KernelList kl;
	memset(&kl, 0, sizeof kl);
	bool lowered = false;
	int imported = live_nodes(g);
	RematLog rlog;
	memset(&rlog, 0, sizeof rlog);
	rlog.budget = a->max_memory;
	char *snap = NULL; /* --split-step: the imported graph (split_step.c) */
	if (o->train && o->train->split_step && !(snap = split_snapshot(g, d)))
		goto done;
	if (ps_pipeline(g, o, d) < 0)
		goto done;
	if (o->batch_sym && drv_batch_mark(g, drv_load(model, &a->cs, a->train, d), o, a->weights,
					   drv_load_weights, d) < 0)
		goto done; /* --max: the batch values (tools/batch.c) */
	if ((a->max_memory > 0 || drv_remat_cheap(a)) && drv_fit_budget(a, o, &g, &rlog, d) < 0)
		goto done; /* the values recomputed in the backward pass (remat_fit.c) */
	stage(a, &t0, "passes", live_nodes(g), "graph nodes");
	if (emit == EMIT_ONNX) { /* the graph after the passes, before lowering */
		Out w;
		if (out_open(&w, out, d) == 0)
			rc = out_close(&w, fe_onnx_export(g, w.f, d) == 0, d);
		goto done;
	}
	if (emit == EMIT_IR || emit == EMIT_DOT) {
		Out w;
		if (out_open(&w, out, d) == 0) {
			if (emit == EMIT_IR)
				ir_print(g, w.f, a->all_consts ? IR_PRINT_DATA : 0);
			else
				ir_print_dot(g, w.f);
			rc = out_close(&w, true, d);
		}
		if (rc < 0 || !report)
			goto done;
	}
	if (drv_lower_plan(g, &kl, report, d) < 0) {
		rc = -1;
		goto done;
	}
	lowered = true;
	stage(a, &t0, "lower", kl.nk, "kernels, scheduled and planned");
	if (report) {
		printf("imported: %d graph nodes from %s\n", imported, model);
		cg_report(&kl, stdout);
		if (a->max_memory > 0 || drv_remat_cheap(a))
			drv_remat_report(&rlog, stdout);
		fflush(stdout);
		rc = 0;
	}
	if (emit == EMIT_IR || emit == EMIT_DOT || (!out && (emit == EMIT_SO || emit == EMIT_OBJ)))
		goto done; /* --report alone */
	if (emit == EMIT_SO) {
		rc = snap ? split_emit_so(snap, &kl, out, o, co, d) : emit_so(&kl, out, co, a->target_cuda, d);
	} else if (emit == EMIT_HEADER) {
		Out w;
		rc = -1;
		if (out_open(&w, out, d) == 0)
			rc = out_close(&w, drv_emit_header(&kl, model, w.f, d) == 0, d);
	} else if (emit == EMIT_KERNELS) {
		Out w;
		rc = -1;
		if (out_open(&w, out, d) == 0) {
			cg_print(&kl, w.f);
			rc = out_close(&w, true, d);
		}
	} else if (emit == EMIT_CUDA || emit == EMIT_PTX) {
		rc = cg_cuda_emit_text(&kl, emit == EMIT_CUDA ? "cuda" : "ptx", out ? out : "-", d);
	} else {
		rc = cg_cpu_emit(&kl, co, out ? out : "-", emit == EMIT_LLVM, d);
	}
	if (rc == 0)
		stage(a, &t0, emit == EMIT_SO || emit == EMIT_OBJ ? "codegen" : "emit", -1, "");
done:
	if (lowered)
		cg_free(&kl);
	if (rlog.names && rlog.names != g)
		ir_graph_free(rlog.names);
	drv_remat_log_free(&rlog);
	ir_graph_free(g);
	free(snap);
	return rc;
}

/* Prints a model error: "nncc: " first, except before a source location
 * ("model.nn:3:10: error: ..."), which stays first on its line as
 * compilers print it (so editors jump to it). */
static void print_error(const char *msg)
{
	const char *colon = strchr(msg, ':');
	bool located = colon && colon > msg && (size_t)(colon - msg) < strcspn(msg, " \n") &&
		       colon[1] >= '0' && colon[1] <= '9';
	fprintf(stderr, "%s%s", located ? "" : "nncc: ", msg[0] ? msg : "compilation failed\n");
}

int main(int argc, char **argv)
{
	const char *kernels = drv_find_runtime(); /* an installed nncc: its own kernel library */
	if (argc > 1 && strcmp(argv[1], "test-onnx") == 0)
		return drv_test_onnx(argc - 1, argv + 1);
	DrvArgs a;
	int rc = drv_parse_args(argc, argv, &a);
	if (rc >= 0)
		goto out;
	Diag d;
	diag_init(&d);
	NnClauses ncl;
	if (a.train && drv_ends_with(a.model, ".nn") && nn_clauses(a.model, &a.to, a.opt_flag, &ncl, &d) < 0) {
		print_error(d.msg);
		rc = 1;
		goto out;
	}
	if (a.train && !a.to.loss) {
		rc = drv_usage_error("--train needs --loss=mse|cross_entropy|bce_logits|nll%s", "");
		goto out;
	}
	if (a.verbose)
		fprintf(stderr, "nncc: kernel library %s\n", kernels ? kernels : "(the one nncc was built with)");
	rc = compile(&a, &d);
	if (rc == -2) { /* a usage error found with the model (--augment) */
		fprintf(stderr, "nncc: %s", d.msg);
		rc = 2;
	} else {
		rc = rc < 0 ? 1 : 0;
		if (rc)
			print_error(d.msg);
	}
out:
	drv_args_free(&a);
	return rc;
}
