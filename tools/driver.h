/* driver.h — what the nncc command's files share: the parsed command line
 * (nncc_opts.c), the compile steps (nncc.c), --max-memory's search
 * (remat_fit.c), --const files (consts.c) and test-onnx (test_onnx.c). */
#ifndef NNCC_DRIVER_H
#define NNCC_DRIVER_H

#include <stdio.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "ir/ir.h"
#include "passes/passes.h"

struct RtTensor;
struct Options;

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
	EMIT_HEADER,  /* MODEL.h for an application linking the object (emit_header.c) */
} Emit;

/* Graph inputs bound to constants (--const). */
typedef struct Consts {
	FeConst c[PS_MAX_BINDINGS]; /* the bindings, in command-line order */
	int n;                      /* entries of c */
} Consts;

/* The nncc command line, parsed (drv_parse_args). */
typedef struct DrvArgs {
	const char *model;   /* MODEL.onnx|.nn|.ir */
	const char *out;     /* -o, NULL when absent */
	const char *weights; /* --weights=W, NULL when absent */
	const char *name;    /* --name=NAME: the model's name and symbol prefix, NULL: the model's own */
	bool verbose;        /* -v: a line per stage with its time, on stderr */
	bool all_consts;     /* --all-constants: --emit=ir prints every constant's data */
	Emit emit;           /* --emit */
	bool report;         /* --report */
	bool target_cuda;    /* --target=cuda: the .so also carries the CUDA module */
	bool train;          /* --train */
	bool opt_flag;       /* --optimizer given (a .nn model's clause yields to it) */
	bool mutable_w;      /* --mutable-weights */
	int64_t max_memory;  /* --max-memory bytes, 0: none */
	bool keep_acts;      /* --keep-activations: no recomputation by default (remat_fit.c) */
	Consts cs;           /* --const bindings */
	Options o;           /* pass options (-O, --shape, --print-after, --passes) */
	CpuOptions co;       /* code generation options (-O, --cpu, --features) */
	TrainOptions to;     /* training options (o.train points here with --train) */
} DrvArgs;

/* nncc_opts.c: parses argv into a (zeroed first, defaults set); -1 to go
 * on and compile, else the exit status (0 after --help, 1 for an
 * unreadable --const file, 2 for a usage error, its message printed).
 * drv_args_free releases what it allocated, in either case. */
int drv_parse_args(int argc, char **argv, DrvArgs *a);
void drv_args_free(DrvArgs *a);
/* Prints a usage error "nncc: MSG" and returns 2. */
int drv_usage_error(const char *fmt, const char *arg);
bool drv_ends_with(const char *s, const char *suf);

/* paths.c: sets $NNCC_RT_KERNELS_LIB to the installed kernel library
 * next to an installed nncc (bin/../lib), unless it is set; returns the
 * library models will link, NULL for the one nncc was built with. */
const char *drv_find_runtime(void);

/* cpu_check.c: --cpu and --features that LLVM does not know are a usage
 * error (2, message printed); 0 when both are fine or absent. */
int drv_check_cpu(const char *cpu, const char *features);

/* emit_header.c: --emit=header of the planned kl (model: the source file,
 * for the comment); 0, or -1 with a message. */
int drv_emit_header(const KernelList *kl, const char *model, FILE *f, Diag *d);
/* Whether s is a C identifier (--name, the model name of a header). */
bool drv_is_c_ident(const char *s);

/* nncc.c: the model in path (by extension: .nn, .ir, else ONNX) with the
 * --const bindings k; nn_train loads a .nn model in training mode. */
Graph *drv_load(const char *path, const Consts *k, bool nn_train, Diag *d);
/* nncc.c: lowers, schedules and plans g into kl; check proves the plan
 * sound (always in debug builds). */
int drv_lower_plan(Graph *g, KernelList *kl, bool check, Diag *d);
/* nncc.c: --weights=W: W's values into g's parameters. */
int drv_load_weights(Graph *g, const char *path, Diag *d);
/* nncc.c: lower, plan, render and link g into the shared library out. */
int drv_build_so(Graph *g, const char *out, const CpuOptions *co, Diag *d);

/* remat_fit.c: the values a training step recomputes, by default and
 * under --max-memory: what the search did (for --report). */
typedef struct RematLog {
	int64_t budget;            /* --max-memory bytes, 0: none */
	PlanStats before, after;   /* unconstrained plan, chosen plan */
	RematCand *cand;           /* the candidates (names in the first graph's arena) */
	int ncand;                 /* entries of cand */
	const char **chosen;       /* names recomputed, in the order chosen */
	int nchosen;               /* entries of chosen */
	int ncheap;                /* the first ncheap: the default's pointwise values */
	Graph *names;              /* the graph owning the names (freed with the log) */
	bool lean;                 /* the chosen plan's convolutions' scratch by the lean rules */
} RematLog;
/* *g, a training step already through the pipeline: recompute the cheap
 * pointwise values (unless a->keep_acts), then forward values until its
 * plan fits a->max_memory (*g replaced by the chosen graph); -1 if none
 * does. */
int drv_fit_budget(const DrvArgs *a, const Options *o, Graph **g, RematLog *log, Diag *d);
void drv_remat_report(const RematLog *log, FILE *f);
/* Whether a training step gets the default's pointwise recomputation:
 * --train without --keep-activations, -O0 or --passes=LIST. */
bool drv_remat_cheap(const DrvArgs *a);
void drv_remat_log_free(RematLog *log);

/* consts.c: --const NAME=FILE read into c (a malloc'd copy; drv_const_free
 * releases it); 0, or -1 with a message. */
int drv_read_const(const char *arg, FeConst *c, Diag *d);
/* The same from a tensor already read; file names it in messages (or NULL). */
int drv_const_from_tensor(const struct RtTensor *t, const char *name, const char *file, FeConst *c,
			  Diag *d);
void drv_const_free(FeConst *c);
/* batch.c: --max SYM=N (N >= 2, once) into o; -1 if malformed. */
int drv_parse_max(const char *v, struct Options *o);
/* batch.c: g2 (the model loaded again, NULL when that failed; freed
 * here) gets weights (if not NULL) through load_w and the pipeline with
 * the batch at max + 1; then g's batch values are marked (ps_batch_mark). */
int drv_batch_mark(Graph *g, Graph *g2, const struct Options *o, const char *weights,
		   int (*load_w)(Graph *g, const char *path, Diag *d), Diag *d);
/* test_onnx.c: `nncc test-onnx DIR...`; returns the exit status. */
int drv_test_onnx(int argc, char **argv);

#endif
