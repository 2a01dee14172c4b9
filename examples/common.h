/* common.h — what the training examples share (examples/common.c,
 * docs/examples.md): the Fashion-MNIST reader (idx files, gzip via zlib),
 * seeded shuffling and batching, the progress bar, the JSON-lines log,
 * command-line options, and helpers over the runtime API (load a model,
 * set an input by name, copy trained weights into an evaluation session,
 * checkpoints). Errors end the program with a message (ex_die). */
#ifndef NNCC_EXAMPLES_COMMON_H
#define NNCC_EXAMPLES_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <nncc/nncc.h>

#define EX_MEAN 0.2860f /* Fashion-MNIST training-set pixel mean (pixels in [0, 1]) */
#define EX_STD 0.3530f  /* and standard deviation */

/* One split of the dataset, pixels as stored (0..255). */
typedef struct ExData {
	int n;         /* images */
	int rows, cols; /* 28 x 28 */
	uint8_t *img;  /* n * rows * cols pixels */
	uint8_t *lab;  /* n labels, 0..9 */
} ExData;

/* Options every example takes (ex_parse_common). */
typedef struct ExArgs {
	int epochs;          /* --epochs N (default per app) */
	uint64_t seed;       /* --seed S: shuffling (and the checkpoint's seed) */
	const char *data;    /* --data DIR: the idx.gz files */
	const char *models;  /* --models DIR: the compiled .so files */
	const char *out;     /* --out DIR: log.jsonl, checkpoint, PNGs */
	bool resume;         /* --resume: continue from OUT/checkpoint.safetensors */
	int limit_train;     /* --limit-train N: first N training images (0: all) */
	int limit_test;      /* --limit-test N: first N test images (0: all) */
	int ckpt_every;      /* --checkpoint-every K: also checkpoint every K steps (0: per epoch) */
	float lr;            /* --lr X: learning rate (< 0: the compiled one) */
	int threads;         /* --threads T (0: the runtime's default) */
	bool quiet;          /* --quiet: no progress output */
	int64_t kill_after;  /* --kill-after K: SIGKILL itself after step K (resume tests; 0: never) */
} ExArgs;

/* Progress of one epoch: a bar with loss and throughput on a terminal,
 * a plain line every tenth of the epoch otherwise. */
typedef struct ExProgress {
	int epoch, epochs; /* shown as epoch/epochs */
	int total;         /* steps in the epoch */
	bool tty;          /* stderr is a terminal */
	bool quiet;        /* print nothing */
	double t0;         /* start time (ex_now) */
	int last;          /* last step printed (plain lines) */
} ExProgress;

_Noreturn void ex_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Dies with the message of a failed runtime call (and frees it). err is
 * the address given to the call, read only after the call returned (a
 * function argument `err` would be evaluated in unspecified order). */
void ex_check(nncc_status st, char **err, const char *what);
double ex_now(void); /* seconds, monotonic */

/* ex_parse_common: if argv[*i] is a common option, consumes it (and its
 * value) and returns true. ex_args_default fills the defaults. */
void ex_args_default(ExArgs *a, int epochs);
bool ex_parse_common(ExArgs *a, int argc, char **argv, int *i);
extern const char ex_common_usage[]; /* help text of the common options */
/* "OUT/name" in a static buffer that the next call overwrites. */
const char *ex_path(const ExArgs *a, const char *name);

/* Reads DIR/PREFIX-images-idx3-ubyte.gz and DIR/PREFIX-labels-idx1-ubyte.gz
 * (PREFIX "train" or "t10k"); keeps the first `limit` images (0: all). */
void ex_load_data(const char *dir, const char *prefix, int limit, ExData *d);
void ex_free_data(ExData *d);
/* The training and test sets of --data, --limit-train and --limit-test;
 * returns the training batches of B per epoch (dies when there are none). */
int ex_load_sets(const ExArgs *a, int B, ExData *train, ExData *test);

/* The permutation of 0..n-1 for an epoch: a Fisher-Yates shuffle by a
 * generator seeded from (seed, epoch), so a resumed run sees the same
 * order. */
void ex_permute(int *perm, int n, uint64_t seed, int epoch);
/* splitmix64: the examples' random numbers (z's state advances). */
uint64_t ex_rand(uint64_t *z);
float ex_randn(uint64_t *z); /* a standard normal draw */
/* Batch `b` images idx[0..b): normalized pixels into x (b*rows*cols) and,
 * when y is not NULL, labels into y. */
void ex_batch(const ExData *d, const int *idx, int b, float *x, int64_t *y);
/* Test-set scores of a classifier's eval model (input x, output
 * logits[N, C]; the last partial batch padded with copies of its first
 * image, the padding ignored). */
typedef struct ExEval {
	double loss;     /* mean cross-entropy over the test set */
	double accuracy; /* fraction classified right */
} ExEval;
ExEval ex_evaluate(nncc_session *es, const nncc_model *em, const ExData *test);
/* Pixels scaled to [0, 1] (no normalization), for the generative models. */
void ex_batch01(const ExData *d, const int *idx, int b, float *x);

void ex_progress_start(ExProgress *p, int epoch, int epochs, int total, bool quiet);
void ex_progress(ExProgress *p, int step, double loss, int batch);
void ex_progress_end(ExProgress *p);

/* The JSON-lines log: ex_log_open appends (resume) or truncates; ex_log
 * writes one line (the caller gives the object's members) and flushes. */
FILE *ex_log_open(const ExArgs *a);
void ex_log(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runtime helpers. */
void ex_load_model(const char *path, int threads, nncc_model **m, nncc_session **s);
int ex_input(const nncc_model *m, const char *name); /* dies if missing */
void ex_set(nncc_session *s, const nncc_model *m, const char *name, const void *data, int rank,
	    const int64_t *dims, int dtype);
/* Copies every trained parameter of `from` (a training step) into the
 * session `to` (a model compiled with --mutable-weights, or another
 * step) that has a param of the same name; returns how many. */
int ex_copy_params(const nncc_session *from, const nncc_model *fm, nncc_session *to,
		   const nncc_model *tm);
/* Checkpoint to OUT/checkpoint.safetensors. */
void ex_save(const nncc_session *s, const ExArgs *a);
/* After each step: the checkpoint every --checkpoint-every steps, and the
 * --kill-after test hook (the process dies as if killed: nothing saved). */
void ex_after_step(const nncc_session *s, const ExArgs *a, int64_t step);

/* An 8-bit grey PNG (stored deflate via zlib): w x h pixels. */
void ex_png_gray(const char *path, const uint8_t *px, int w, int h);
/* A grid of n 28x28 images with values in [0, 1], `cols` per row. */
void ex_png_grid(const char *path, const float *img, int n, int cols, int rows, int width);

#endif
