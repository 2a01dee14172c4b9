/* transfer.c — transfer learning (docs/examples.md): LeNet trained by
 * `fashion_mnist --model lenet` gives its features to a new task, "is it
 * an upper-body garment" (T-shirt/top, pullover, coat, shirt: 1; the rest:
 * 0), through a new 2-class head:
 *
 *   transfer --from LENET_CHECKPOINT [--epochs N] [--seed S] ...
 *
 * It compiles lenet_tl.onnx (LeNet with `head` in place of fc3) twice with
 * nncc: fine-tuned (--weights=LENET_CHECKPOINT fills conv1, conv2, fc1,
 * fc2; --freeze=conv1. --freeze=conv2. keeps the convolutions fixed; fc1,
 * fc2 and the new head train) and from scratch (random initialization,
 * everything trains), trains both on the same batches and prints the test
 * accuracy of both after every epoch. Ends with the fine-tuned model's
 * `test_accuracy=0.xxxx`. */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef EX_NNCC_BIN
#define EX_NNCC_BIN "nncc"
#endif

static int task(int label)
{
	return label == 0 || label == 2 || label == 4 || label == 6;
}

/* nncc ONNX ARGS... -o OUT (argument vector, no shell). */
static void compile(const char *nncc, char **args)
{
	pid_t pid = fork();
	if (pid < 0)
		ex_die("fork failed");
	if (pid == 0) {
		execv(nncc, args);
		perror(nncc);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		ex_die("%s %s failed", nncc, args[1]);
}

typedef struct Run {
	const char *name;   /* "finetune" or "scratch" */
	nncc_model *tm, *em; /* training step, eval model */
	nncc_session *ts, *es; /* their sessions */
	double acc[64];     /* test accuracy per epoch */
} Run;

static double evaluate(Run *r, const ExData *test)
{
	ex_copy_params(r->ts, r->tm, r->es, r->em);
	nncc_tensor_info xi;
	nncc_model_input_info(r->em, ex_input(r->em, "x"), &xi);
	int E = (int)xi.dims[0], right = 0;
	float *x = malloc((size_t)xi.nbytes);
	int *idx = malloc((size_t)E * sizeof *idx);
	char *err = NULL;
	if (!x || !idx)
		ex_die("out of memory");
	for (int b0 = 0; b0 < test->n; b0 += E) {
		int nb = test->n - b0 < E ? test->n - b0 : E;
		for (int i = 0; i < E; i++)
			idx[i] = b0 + (i < nb ? i : 0);
		ex_batch(test, idx, E, x, NULL);
		ex_set(r->es, r->em, "x", x, xi.rank, xi.dims, NNCC_DTYPE_F32);
		ex_check(nncc_session_run(r->es, &err), &err, "evaluation");
		const void *out;
		nncc_session_output(r->es, 0, &out);
		for (int i = 0; i < nb; i++) {
			const float *z = (const float *)out + 2 * i;
			right += (z[1] > z[0]) == task(test->lab[b0 + i]);
		}
	}
	free(x);
	free(idx);
	return (double)right / test->n;
}

int main(int argc, char **argv)
{
	ExArgs a;
	ex_args_default(&a, 3);
	const char *from = NULL, *nncc = EX_NNCC_BIN;
	for (int i = 1; i < argc; i++) {
		if (ex_parse_common(&a, argc, argv, &i))
			continue;
		if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
			from = argv[++i];
		} else if (strcmp(argv[i], "--nncc") == 0 && i + 1 < argc) {
			nncc = argv[++i];
		} else {
			fprintf(stderr, "usage: transfer --from LENET_CHECKPOINT [--nncc PATH] [options]\n%s",
				ex_common_usage);
			return 2;
		}
	}
	if (!from)
		ex_die("--from LENET_CHECKPOINT is required (train one with fashion_mnist --model lenet)");
	if (a.epochs > 64)
		ex_die("--epochs: at most 64");
	if (a.resume || a.ckpt_every || a.kill_after)
		ex_die("transfer: --resume, --checkpoint-every and --kill-after are not supported "
		       "(a run takes seconds; it saves the fine-tuned model at the end)");
	FILE *log = ex_log_open(&a);
	char onnx[4096], weights[4200], so[4][4200];
	snprintf(onnx, sizeof onnx, "%s/lenet_tl.onnx", a.models);
	snprintf(weights, sizeof weights, "--weights=%s", from);
	const char *names[4] = {"finetune_train.so", "finetune_eval.so", "scratch_train.so", "scratch_eval.so"};
	for (int k = 0; k < 4; k++)
		snprintf(so[k], sizeof so[k], "%s/%s", a.out, names[k]);
	char *ft[] = {(char *)nncc, onnx, "--train", "--loss=cross_entropy", "--optimizer=adam:lr=1e-3",
		      "--freeze=conv1.", "--freeze=conv2.", weights, "--shape", "x=64,1,28,28", "-o", so[0], NULL};
	char *fe[] = {(char *)nncc, onnx, "--mutable-weights", weights, "--shape", "x=1000,1,28,28", "-o",
		      so[1], NULL};
	char *st[] = {(char *)nncc, onnx, "--train", "--loss=cross_entropy", "--optimizer=adam:lr=1e-3",
		      "--shape", "x=64,1,28,28", "-o", so[2], NULL};
	char *se[] = {(char *)nncc, onnx, "--mutable-weights", "--shape", "x=1000,1,28,28", "-o", so[3], NULL};
	compile(nncc, ft);
	compile(nncc, fe);
	compile(nncc, st);
	compile(nncc, se);

	Run runs[2] = {{.name = "finetune"}, {.name = "scratch"}};
	char *err = NULL;
	for (int r = 0; r < 2; r++) {
		ex_load_model(so[2 * r], a.threads, &runs[r].tm, &runs[r].ts);
		ex_load_model(so[2 * r + 1], a.threads, &runs[r].em, &runs[r].es);
		nncc_session_set_seed(runs[r].ts, a.seed);
		if (a.lr >= 0)
			ex_check(nncc_session_set_learning_rate(runs[r].ts, a.lr, &err), &err, "--lr");
	}
	ExData train, test;
	int B = 64, nb = ex_load_sets(&a, B, &train, &test);
	int64_t xd[4] = {B, 1, 28, 28}, ld[1] = {B};
	float *x = malloc((size_t)B * 784 * sizeof *x);
	int64_t *y = malloc((size_t)B * sizeof *y);
	int *perm = malloc((size_t)train.n * sizeof *perm);
	if (!x || !y || !perm)
		ex_die("out of memory");
	printf("transfer: %d training images, %d test images, %d steps per epoch; task: upper-body "
	       "garment or not\n", train.n, test.n, nb);
	for (int r = 0; r < 2; r++)
		printf("%s before training: test_accuracy %.4f\n", runs[r].name, evaluate(&runs[r], &test));
	for (int e = 0; e < a.epochs; e++) {
		ex_permute(perm, train.n, a.seed, e);
		for (int r = 0; r < 2; r++) {
			Run *R = &runs[r];
			double sum = 0, t0 = ex_now();
			ExProgress p;
			ex_progress_start(&p, e, a.epochs, nb, a.quiet);
			for (int b = 0; b < nb; b++) {
				float loss;
				ex_batch(&train, perm + (size_t)b * (size_t)B, B, x, y);
				for (int i = 0; i < B; i++)
					y[i] = task((int)y[i]);
				ex_set(R->ts, R->tm, "x", x, 4, xd, NNCC_DTYPE_F32);
				ex_set(R->ts, R->tm, "label", y, 1, ld, NNCC_DTYPE_I64);
				ex_check(nncc_session_train_step(R->ts, &loss, &err), &err, "train step");
				sum += loss;
				ex_progress(&p, b + 1, sum / (b + 1), B);
			}
			ex_progress_end(&p);
			R->acc[e] = evaluate(R, &test);
			ex_log(log, "\"run\": \"%s\", \"epoch\": %d, \"train_loss\": %.6f, \"test_accuracy\": %.6f, "
			       "\"epoch_seconds\": %.3f", R->name, e + 1, sum / nb, R->acc[e], ex_now() - t0);
			printf("epoch %d %-8s: train_loss %.4f test_accuracy %.4f\n", e + 1, R->name, sum / nb,
			       R->acc[e]);
			fflush(stdout);
		}
	}
	ex_save(runs[0].ts, &a);
	printf("after epoch 1: fine-tuned %.4f, from scratch %.4f\n", runs[0].acc[0], runs[1].acc[0]);
	printf("test_accuracy=%.4f\n", runs[0].acc[a.epochs - 1]);
	fclose(log);
	free(x);
	free(y);
	free(perm);
	ex_free_data(&train);
	ex_free_data(&test);
	for (int r = 0; r < 2; r++) {
		nncc_session_free(runs[r].ts);
		nncc_session_free(runs[r].es);
		nncc_model_free(runs[r].tm);
		nncc_model_free(runs[r].em);
	}
	return 0;
}
