/* nncc.c — the compiler driver: parses the command line, runs
 * frontend → passes → codegen → link, and maps failures to exit status
 * (0 ok, 1 bad input or unsupported model, 2 usage). Outputs are written
 * to a temporary next to the target and renamed, so a failed compile never
 * leaves a partial file behind. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

typedef enum Emit {
	EMIT_SO,      /* shared library (default) */
	EMIT_OBJ,     /* object file */
	EMIT_IR,      /* text IR after the pipeline */
	EMIT_LLVM,    /* textual LLVM IR */
	EMIT_KERNELS, /* kernel list as loop nests */
	EMIT_DOT,     /* Graphviz of the graph after the pipeline */
	EMIT_ONNX,    /* the inference graph as an ONNX model (docs/export.md) */
	EMIT_CUDA,    /* CUDA C of the cuda target */
	EMIT_PTX,     /* its PTX (NVRTC, compute_80) */
} Emit;

static const char *const emit_names[] = {"so", "obj", "ir", "llvm", "kernels", "dot", "onnx", "cuda", "ptx"};
/* Contract names (DESIGN.md) that later stages will implement. */
static const char *const emit_later[] = {"header"};
static bool target_cuda; /* --target=cuda: the .so also carries the CUDA module */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nncc MODEL.onnx|MODEL.nn|MODEL.ir -o OUT [options]\n"
		"       nncc test-onnx [-O0..-O3] [-v] DIR...   run ONNX backend-style test folders\n"
		"  -o FILE                output (default for ir/llvm/kernels/dot: stdout)\n"
		"  --target=cpu|cuda      target (cuda: the .so also holds CUBIN/PTX, docs/cuda.md)\n"
		"  -O0 .. -O3             optimization level (default -O2)\n"
		"  --emit=so|obj|ir|llvm|kernels|dot|onnx|cuda|ptx\n"
		"  --const NAME=FILE      bind a graph input to the constant in FILE (.npy or .pb)\n"
		"  --shape NAME=D0,D1,... bind the extents of a graph input\n"
		"  --max SYM=N            symbolic dim SYM is a dynamic batch of at most N (N >= 2)\n"
		"  --print-after=PASS|all print text IR after a pass (import, shapes, canon, train, fold,\n"
		"                         algebraic, cse, bnfold, dce, fuse)\n"
		"  --passes=P1,P2,...     run exactly these passes after shape inference\n"
		"  --report               print kernels (fused ops, FLOPs, bytes) and the memory\n"
		"                         plan to stdout; with -o the output is still written\n"
		"  --cpu=NAME --features=+a,-b   override the host CPU for code generation\n"
		"  --train                compile one training step (docs/training.md); needs --loss\n"
		"  --loss=L               mse, cross_entropy, bce_logits, nll or backprop (adds the input\n"
		"                         `label`; backprop: sum(out * label), label = d(loss)/d(out))\n"
		"  --add-loss=A,B         add the model's scalar outputs A, B to the loss (e.g. a KL term)\n"
		"  --optimizer=O:k=v,...  sgd (lr momentum dampening nesterov weight_decay), adam or\n"
		"                         adamw (lr beta1 beta2 eps weight_decay); default sgd:lr=0.001\n"
		"  --freeze=PREFIX        keep parameters whose name starts with PREFIX fixed (repeatable)\n"
		"  --grad-inputs=A,B      also output grad.A, the loss's gradient w.r.t. input A\n"
		"  --max-memory=BYTES     (--train) move optimizer updates up and recompute forward values\n"
		"                         in the backward pass until the memory plan's arena fits BYTES\n"
		"                         (suffix k, M, G: 1024^n)\n"
		"  --augment=X:T,...      augment NCHW input X in the step, per sample: hflip,\n"
		"                         crop=P (zero-pad P, random crop), contrast=C\n"
		"  --augment-output       also output augment.X, the augmented input\n"
		"  --weights=W            take parameter values from safetensors file W (e.g. saved\n"
		"                         by nncc-run --train --save-weights) before compiling\n"
		"  --mutable-weights      inference model with writable f32 weights (nncc_session_set_param,\n"
		"                         load_weights): evaluate weights a training session is changing\n"
		"  -h, --help\n");
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "nncc: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	usage(stderr);
	return 2;
}

static int parse_shape(const char *arg, Options *o)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg || o->nbind == PS_MAX_BINDINGS)
		return -1;
	ShapeBinding *b = &o->bind[o->nbind];
	size_t n = (size_t)(eq - arg);
	char *name = xmalloc(n + 1); /* freed at the end of main */
	memcpy(name, arg, n);
	name[n] = 0;
	b->name = name;
	b->rank = 0;
	const char *p = eq + 1;
	while (*p) {
		char *end;
		errno = 0;
		long long v = strtoll(p, &end, 10);
		if (end == p || errno || v < 0 || b->rank == IR_MAX_RANK)
			return -1;
		b->dims[b->rank++] = v;
		p = end;
		if (*p == ',')
			p++;
		else if (*p)
			return -1;
	}
	o->nbind++;
	return 0;
}

static bool ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Graph inputs bound to constants (--const). */
typedef struct Consts {
	FeConst c[PS_MAX_BINDINGS]; /* the bindings, in command-line order */
	int n;                      /* entries of c */
} Consts;

static bool nn_train; /* load .nn models in training mode (--train) */

static Graph *load(const char *path, const Consts *k, Diag *d)
{
	bool nn = ends_with(path, ".nn");
	if (ends_with(path, ".ir") || nn) {
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

/* Lowers, schedules and plans g into kl. The plan is proved sound
 * (cg_plan_check) in debug builds and whenever check is set (--report). */
static int lower_plan(Graph *g, KernelList *kl, bool check, Diag *d)
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
static int emit_so(const KernelList *kl, const char *out, const CpuOptions *co, Diag *d)
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
	if (lower_plan(g, &kl, false, d) < 0)
		return -1;
	int rc = emit_so(&kl, out, co, d);
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
static int load_weights(Graph *g, const char *path, Diag *d)
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

/* --- --max-memory: recompute forward values to fit a budget ----------------- */

enum { REMAT_MAX_CAND = 4096 }; /* candidates considered at most */

/* What the search did, for --report. */
typedef struct RematLog {
	int64_t budget;            /* --max-memory bytes, 0: none */
	PlanStats before, after;   /* unconstrained plan, chosen plan */
	RematCand *cand;           /* the candidates (names in the first graph's arena) */
	int ncand;                 /* entries of cand */
	const char **chosen;       /* names recomputed, in the order chosen */
	int nchosen;               /* entries of chosen */
	Graph *names;              /* the graph owning the names (freed with the log) */
	bool early;                /* optimizer updates moved right after their gradients */
} RematLog;

static int cmp_cand(const void *pa, const void *pb)
{
	const RematCand *a = pa, *b = pb;
	if (a->cost != b->cost)
		return a->cost - b->cost;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return strcmp(a->value, b->value);
}

/* Compiles model with the training options t and the recomputed values
 * names[0..n-1], plans it and gives the plan's numbers (and the graph when
 * gout is set); 0, or -1 when this choice does not compile. */
static int remat_trial(const char *model, const Consts *k, const char *weights, const Options *o,
		       bool early, const char *const *names, int n, PlanStats *st, Graph **gout, Diag *d)
{
	Options o2 = *o;
	TrainOptions t2 = *o->train;
	t2.remat = names;
	t2.nremat = n;
	t2.early_updates = early;
	o2.train = &t2;
	o2.print_after = NULL;
	Graph *g = load(model, k, d);
	if (!g)
		return -1;
	KernelList kl;
	int rc = -1;
	if ((!weights || load_weights(g, weights, d) == 0) && ps_pipeline(g, &o2, d) == 0 &&
	    lower_plan(g, &kl, false, d) == 0) {
		cg_plan_stats(&kl, st);
		cg_free(&kl);
		rc = 0;
	}
	if (rc == 0 && gout)
		*gout = g;
	else
		ir_graph_free(g);
	return rc;
}

/* Whether plan a is better than plan b: a smaller arena, or at equal arena
 * a smaller lower bound. */
static bool smaller(const PlanStats *a, const PlanStats *b)
{
	return a->arena < b->arena || (a->arena == b->arena && a->lower_bound < b->lower_bound);
}

/* --max-memory: g (already through the pipeline without recomputation)
 * over budget? Then first move the optimizer updates right after their
 * gradients (ps_remat_early_updates), then try the candidates, cheap
 * classes and large values first, keeping each change that gives a smaller
 * plan (smaller()), until the plan fits. On success *g is replaced by the
 * graph of the chosen plan; -1 with the smallest plan reached otherwise. */
static int fit_budget(const char *model, const Consts *k, const char *weights, const Options *o,
		      Graph **g, RematLog *log, Diag *d)
{
	KernelList kl;
	if (lower_plan(*g, &kl, false, d) < 0)
		return -1;
	cg_plan_stats(&kl, &log->before);
	cg_free(&kl);
	log->after = log->before;
	if (log->before.arena <= log->budget)
		return 0;
	log->names = *g; /* candidate names live in this graph's arena */
	log->cand = xmalloc(REMAT_MAX_CAND * sizeof *log->cand);
	log->ncand = ps_remat_candidates(*g, log->cand, REMAT_MAX_CAND);
	qsort(log->cand, (size_t)log->ncand, sizeof *log->cand, cmp_cand);
	log->chosen = xmalloc(((size_t)log->ncand + 1) * sizeof *log->chosen);
	Graph *best = NULL, *t = NULL;
	PlanStats st;
	Diag td;
	diag_init(&td);
	if (remat_trial(model, k, weights, o, true, NULL, 0, &st, &t, &td) == 0) {
		if (smaller(&st, &log->after)) {
			log->early = true;
			log->after = st;
			best = t;
		} else {
			ir_graph_free(t);
		}
	}
	for (int i = 0; i < log->ncand && log->after.arena > log->budget; i++) {
		diag_init(&td);
		log->chosen[log->nchosen] = log->cand[i].value;
		if (remat_trial(model, k, weights, o, log->early, log->chosen, log->nchosen + 1, &st, &t,
				&td) < 0)
			continue; /* e.g. its backward readers already read a recomputed copy */
		if (smaller(&st, &log->after)) {
			log->nchosen++;
			log->after = st;
			if (best)
				ir_graph_free(best);
			best = t;
		} else {
			ir_graph_free(t);
		}
	}
	if (log->after.arena > log->budget) {
		if (best)
			ir_graph_free(best);
		return diag(d, "--max-memory=%" PRId64 ": cannot fit the training step: the smallest plan "
			    "reached is %" PRId64 " arena bytes (lower bound %" PRId64 ") with %s and %d of %d "
			    "candidate forward values recomputed; unconstrained %" PRId64 " bytes "
			    "(lower bound %" PRId64 ")", log->budget, log->after.arena,
			    log->after.lower_bound, log->early ? "early optimizer updates" : "the default order",
			    log->nchosen, log->ncand, log->before.arena,
			    log->before.lower_bound);
	}
	if (best)
		*g = best; /* log->names keeps the first graph alive */
	return 0;
}

static void remat_report(const RematLog *log, FILE *f)
{
	fprintf(f, "max-memory: budget %" PRId64 " bytes; arena %" PRId64 " bytes without "
		"recomputation (lower bound %" PRId64 "), %" PRId64 " bytes (lower bound %" PRId64
		") with %s and %d forward values recomputed in the backward pass\n", log->budget,
		log->before.arena, log->before.lower_bound, log->after.arena, log->after.lower_bound,
		log->early ? "early optimizer updates" : "the default order", log->nchosen);
	static const char *const kind[] = {"pointwise", "other ops", "conv/matmul"};
	for (int i = 0; i < log->nchosen; i++)
		for (int j = 0; j < log->ncand; j++)
			if (log->cand[j].value == log->chosen[i])
				fprintf(f, "  recomputed: %s (%" PRId64 " bytes, %s)\n", log->chosen[i],
					log->cand[j].bytes, kind[log->cand[j].cost]);
}

static void remat_log_free(RematLog *log)
{
	free(log->cand);
	free(log->chosen);
}

/* report: print cg_report of the planned kernels to stdout (--report);
 * with no output file only the report is made. */
static int compile(const char *model, const char *out, Emit emit, bool report, const Options *o,
		   const Consts *k, const CpuOptions *co, const char *weights, bool mutable_w,
		   int64_t max_memory, Diag *d)
{
	Graph *g = load(model, k, d);
	if (!g)
		return -1;
	if (o->train && o->train->augment && ps_augment_check(g, o->train->augment, d) < 0) {
		ir_graph_free(g); /* rng: a usage error (exit 2) */
		return -2;
	}
	if (weights && load_weights(g, weights, d) < 0) {
		ir_graph_free(g);
		return -1;
	}
	if (mutable_w && ps_mutable_weights(g) == 0) {
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
	rlog.budget = max_memory;
	if (ps_pipeline(g, o, d) < 0)
		goto done;
	if (o->batch_sym && drv_batch_mark(g, load(model, k, d), o, weights, load_weights, d) < 0)
		goto done; /* --max: the batch values (tools/batch.c) */
	if (max_memory > 0 && fit_budget(model, k, weights, o, &g, &rlog, d) < 0)
		goto done;
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
				ir_print(g, w.f, 0);
			else
				ir_print_dot(g, w.f);
			rc = out_close(&w, true, d);
		}
		if (rc < 0 || !report)
			goto done;
	}
	if (lower_plan(g, &kl, report, d) < 0) {
		rc = -1;
		goto done;
	}
	lowered = true;
	if (report) {
		printf("imported: %d graph nodes from %s\n", imported, model);
		cg_report(&kl, stdout);
		if (max_memory > 0)
			remat_report(&rlog, stdout);
		fflush(stdout);
		rc = 0;
	}
	if (emit == EMIT_IR || emit == EMIT_DOT || (!out && (emit == EMIT_SO || emit == EMIT_OBJ)))
		goto done; /* --report alone */
	if (emit == EMIT_SO) {
		rc = emit_so(&kl, out, co, d);
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
done:
	if (lowered)
		cg_free(&kl);
	if (rlog.names && rlog.names != g)
		ir_graph_free(rlog.names);
	remat_log_free(&rlog);
	ir_graph_free(g);
	return rc;
}

/* "123", "64k", "200M", "2G" (powers of 1024) into *v > 0; -1 if malformed. */
static int parse_bytes(const char *s, int64_t *v)
{
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (end == s || errno || n <= 0)
		return -1;
	int shift = 0;
	if (*end == 'k' || *end == 'K')
		shift = 10;
	else if (*end == 'M')
		shift = 20;
	else if (*end == 'G')
		shift = 30;
	if (shift)
		end++;
	if (*end || n > (INT64_MAX >> shift))
		return -1;
	*v = (int64_t)n << shift;
	return 0;
}

int main(int argc, char **argv)
{
	const char *model = NULL, *out = NULL, *weights = NULL;
	Emit emit = EMIT_SO;
	bool report = false;
	Consts cs;
	memset(&cs, 0, sizeof cs);
	int rc = 2;
	Options o;
	memset(&o, 0, sizeof o);
	o.opt_level = 2;
	CpuOptions co = {2, NULL, NULL};
	TrainOptions to;
	memset(&to, 0, sizeof to);
	bool train = false, train_flag = false, mutable_w = false, aug_flag = false, opt_flag = false;
	NnClauses ncl;
	int64_t max_memory = 0;
	Diag od;
	diag_init(&od);
	ps_parse_optimizer("sgd", &to.optim, &od);

	if (argc > 1 && strcmp(argv[1], "test-onnx") == 0)
		return drv_test_onnx(argc - 1, argv + 1);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "-o") == 0) {
			if (++i == argc)
				return usage_error("-o needs a file%s", "");
			out = argv[i];
		} else if (strncmp(a, "-O", 2) == 0 && a[2] >= '0' && a[2] <= '3' && !a[3]) {
			o.opt_level = a[2] - '0';
		} else if (strncmp(a, "--emit=", 7) == 0) {
			int found = -1;
			for (int k = 0; k < (int)(sizeof emit_names / sizeof *emit_names); k++)
				if (strcmp(a + 7, emit_names[k]) == 0)
					found = k;
			if (found < 0) {
				for (size_t k = 0; k < sizeof emit_later / sizeof *emit_later; k++)
					if (strcmp(a + 7, emit_later[k]) == 0) {
						fprintf(stderr, "nncc: --emit=%s is not implemented yet\n", a + 7);
						return 1;
					}
				return usage_error("unknown --emit kind '%s'", a + 7);
			}
			emit = (Emit)found;
		} else if (strncmp(a, "--target=", 9) == 0) {
			target_cuda = strcmp(a + 9, "cuda") == 0;
			if (!target_cuda && strcmp(a + 9, "cpu") != 0)
				return usage_error("unknown target '%s'", a + 9);
		} else if (strcmp(a, "--shape") == 0 || strncmp(a, "--shape=", 8) == 0) {
			const char *v = a[7] == '=' ? a + 8 : (++i < argc ? argv[i] : NULL);
			if (!v || parse_shape(v, &o) < 0)
				return usage_error("bad --shape '%s' (want NAME=D0,D1,...)", v ? v : "");
		} else if (strcmp(a, "--max") == 0 || strncmp(a, "--max=", 6) == 0) {
			const char *v = a[5] == '=' ? a + 6 : (++i < argc ? argv[i] : NULL);
			if (drv_parse_max(v, &o) < 0)
				return usage_error("bad --max '%s' (want SYM=N, N >= 2, once)", v ? v : "");
		} else if (strcmp(a, "--const") == 0 || strncmp(a, "--const=", 8) == 0) {
			const char *v = a[7] == '=' ? a + 8 : (++i < argc ? argv[i] : NULL);
			if (!v || !strchr(v, '=') || cs.n == PS_MAX_BINDINGS) {
				rc = usage_error("bad --const '%s' (want NAME=FILE)", v ? v : "");
				goto out;
			}
			Diag cd;
			diag_init(&cd);
			if (drv_read_const(v, &cs.c[cs.n], &cd) < 0) {
				fprintf(stderr, "nncc: %s", cd.msg);
				rc = 1;
				goto out;
			}
			cs.n++;
		} else if (strncmp(a, "--print-after=", 14) == 0) {
			o.print_after = a + 14;
			bool known = strcmp(o.print_after, "all") == 0;
			for (int k = 0; ps_pass_names[k]; k++)
				known = known || strcmp(o.print_after, ps_pass_names[k]) == 0;
			if (!known)
				return usage_error("unknown pass '%s' for --print-after", o.print_after);
		} else if (strncmp(a, "--passes=", 9) == 0) {
			Diag pd;
			diag_init(&pd);
			if (ps_check_passes(a + 9, &pd) < 0) {
				fprintf(stderr, "nncc: %s", pd.msg);
				usage(stderr);
				return 2;
			}
			o.passes = a + 9;
		} else if (strcmp(a, "--report") == 0) {
			report = true;
		} else if (strncmp(a, "--cpu=", 6) == 0) {
			co.cpu = a + 6;
		} else if (strncmp(a, "--features=", 11) == 0) {
			co.features = a + 11;
		} else if (strcmp(a, "--train") == 0) {
			train = true;
		} else if (strncmp(a, "--loss=", 7) == 0) {
			to.loss = a + 7;
			train_flag = true;
		} else if (strncmp(a, "--optimizer=", 12) == 0) {
			if (ps_parse_optimizer(a + 12, &to.optim, &od) < 0) {
				fprintf(stderr, "nncc: %s", od.msg);
				return 2;
			}
			train_flag = opt_flag = true;
		} else if (strncmp(a, "--freeze=", 9) == 0) {
			if (to.nfreeze == PS_MAX_FREEZE || !a[9])
				return usage_error("bad or too many --freeze '%s'", a + 9);
			to.freeze[to.nfreeze++] = a + 9;
			train_flag = true;
		} else if (strncmp(a, "--max-memory=", 13) == 0) {
			if (parse_bytes(a + 13, &max_memory) < 0)
				return usage_error("bad --max-memory '%s' (want BYTES, e.g. 200M)", a + 13);
		} else if (strncmp(a, "--weights=", 10) == 0) {
			weights = a + 10;
		} else if (strncmp(a, "--add-loss=", 11) == 0) {
			to.add_loss = a + 11;
			train_flag = true;
		} else if (strcmp(a, "--mutable-weights") == 0) {
			mutable_w = true;
		} else if (strncmp(a, "--grad-inputs=", 14) == 0) {
			to.grad_inputs = a + 14;
			train_flag = true;
		} else if (strncmp(a, "--augment=", 10) == 0) { /* rng */
			AugSpec as;
			Diag ad;
			diag_init(&ad);
			if (ps_augment_parse(a + 10, &as, &ad) < 0) {
				fprintf(stderr, "nncc: %s", ad.msg);
				return 2;
			}
			to.augment = a + 10;
			aug_flag = true;
		} else if (strcmp(a, "--augment-output") == 0) {
			to.augment_out = true;
			aug_flag = true;
		} else if (a[0] == '-' && a[1]) {
			return usage_error("unknown option '%s'", a);
		} else if (!model) {
			model = a;
		} else {
			return usage_error("more than one model given ('%s')", a);
		}
	}
	if (!model)
		return usage_error("no model given%s", "");
	if ((emit == EMIT_SO || emit == EMIT_OBJ || emit == EMIT_ONNX) && !out && !report)
		return usage_error("-o OUT is required for --emit=so, obj and onnx%s", "");
	if (emit == EMIT_ONNX && (train || !out))
		return usage_error("--emit=onnx exports an inference graph to -o FILE, not with --train%s", "");
	co.opt_level = o.opt_level;
	if (train_flag && !train)
		return usage_error("--loss, --optimizer, --freeze, --grad-inputs and --add-loss need --train%s", "");
	if (max_memory > 0 && !train)
		return usage_error("--max-memory is only for training steps (--train)%s", "");
	if (aug_flag && (!train || !to.augment)) { /* rng */
		rc = usage_error(!train ? "--augment and --augment-output need --train%s"
		                        : "--augment-output needs --augment%s", "");
		goto out;
	}
	if (train && ends_with(model, ".nn") && (nn_train = true) &&
	    nn_clauses(model, &to, opt_flag, &ncl, &od) < 0) {
		fprintf(stderr, "%s", od.msg);
		return 1;
	}
	if (train && !to.loss)
		return usage_error("--train needs --loss=mse|cross_entropy|bce_logits|nll%s", "");
	if (train && mutable_w)
		return usage_error("--mutable-weights is for inference models, not with --train%s", "");
	if (train)
		o.train = &to;
	if (o.batch_sym && (train || max_memory > 0 || target_cuda || o.passes))
		return usage_error("--max is for CPU inference, not with --train, --target=cuda or --passes%s", "");

	Diag d;
	diag_init(&d);
	rc = compile(model, out, emit, report, &o, &cs, &co, weights, mutable_w, max_memory, &d);
	if (rc == -2) { /* a usage error found with the model (--augment) */
		fprintf(stderr, "nncc: %s", d.msg);
		rc = 2;
	} else {
		rc = rc < 0 ? 1 : 0;
		if (rc)
			fprintf(stderr, "%s", d.msg[0] ? d.msg : "nncc: compilation failed\n");
	}
out:
	for (int i = 0; i < o.nbind; i++)
		free((char *)o.bind[i].name);
	for (int i = 0; i < cs.n; i++)
		drv_const_free(&cs.c[i]);
	return rc;
}
