/* fashion_mnist.c — trains a Fashion-MNIST classifier with an nncc-compiled
 * training step (docs/examples.md):
 *
 *   fashion_mnist --model mlp|lenet [--act sigmoid|tanh|relu] [--epochs N] [--seed S] ...
 *
 * MODELS/NAME_train.so is the training step (nncc --train, cross-entropy,
 * Adam), MODELS/NAME_eval.so the same model for inference compiled with
 * --mutable-weights: after each epoch the trained weights are copied into
 * it and it scores the test set. Ends with `test_accuracy=0.xxxx`. */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: fashion_mnist --model mlp|lenet [--act sigmoid|tanh|relu] [options]\n%s"
		"  --lr-decay F           epoch e (from 0) trains at lr * F^e (default: 0.75 for lenet,\n"
		"                         1 (constant) for mlp)\n",
		ex_common_usage);
}

int main(int argc, char **argv)
{
	ExArgs a;
	ex_args_default(&a, 10);
	const char *model = NULL, *act = "relu";
	double decay = -1; /* -1: the model's default */
	for (int i = 1; i < argc; i++) {
		if (ex_parse_common(&a, argc, argv, &i))
			continue;
		if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
			model = argv[++i];
		else if (strcmp(argv[i], "--act") == 0 && i + 1 < argc)
			act = argv[++i];
		else if (strcmp(argv[i], "--lr-decay") == 0 && i + 1 < argc) {
			char *end;
			decay = strtod(argv[++i], &end);
			if (*end || !(decay > 0 && decay <= 1))
				ex_die("--lr-decay: want a number in (0, 1], got '%s'", argv[i]);
		}
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	char name[64], path[4096];
	if (decay < 0) /* LeNet (dropout, augmentation) needs the decay to pass 90% in 10 epochs */
		decay = model && strcmp(model, "lenet") == 0 ? 0.75 : 1;
	if (model && strcmp(model, "lenet") == 0)
		snprintf(name, sizeof name, "lenet");
	else if (model && strcmp(model, "mlp") == 0 && (strcmp(act, "sigmoid") == 0 ||
							   strcmp(act, "tanh") == 0 || strcmp(act, "relu") == 0))
		snprintf(name, sizeof name, "mlp_%s", act);
	else {
		usage(stderr);
		return 2;
	}

	nncc_model *tm, *em;
	nncc_session *ts, *es;
	char *err = NULL;
	snprintf(path, sizeof path, "%s/%s_train.so", a.models, name);
	ex_load_model(path, a.threads, &tm, &ts);
	snprintf(path, sizeof path, "%s/%s_eval.so", a.models, name);
	ex_load_model(path, a.threads, &em, &es);
	nncc_tensor_info xi;
	nncc_model_input_info(tm, ex_input(tm, "x"), &xi);
	ex_input(tm, "label");
	int B = (int)xi.dims[0];
	int64_t ldims[1] = {B};

	ExData train, test;
	int nb = ex_load_sets(&a, B, &train, &test);

	/* the schedule's base: --lr, else the rate compiled in (read before a
	 * checkpoint replaces it with a decayed one) */
	float lr0 = a.lr;
	if (lr0 < 0)
		ex_check(nncc_session_get_param(ts, "lr", &lr0, sizeof lr0, &err), &err, "lr");
	if (a.resume) {
		const char *ck = ex_path(&a, "checkpoint.safetensors");
		ex_check(nncc_session_load_weights(ts, ck, &err), &err, ck);
		a.seed = nncc_session_seed(ts); /* the shuffling continues as it was */
	} else {
		nncc_session_set_seed(ts, a.seed);
	}
	FILE *log = ex_log_open(&a);
	int64_t step = nncc_session_step(ts);
	printf("%s: %d training images, %d test images, batch %d, %d steps per epoch, seed %llu%s\n",
	       name, train.n, test.n, B, nb, (unsigned long long)a.seed,
	       step ? " (resumed)" : "");
	if (step)
		printf("resumed at step %lld (epoch %lld, batch %lld)\n", (long long)step,
		       (long long)(step / nb + 1), (long long)(step % nb));

	float *x = malloc((size_t)xi.nbytes);
	int64_t *y = malloc((size_t)B * sizeof *y);
	int *perm = malloc((size_t)train.n * sizeof *perm);
	if (!x || !y || !perm)
		ex_die("out of memory");
	ExEval ev = {NAN, NAN};
	double t_train = 0;
	for (int e = (int)(step / nb); e < a.epochs; e++) {
		ex_permute(perm, train.n, a.seed, e);
		if (decay != 1 || a.lr >= 0) /* a function of the epoch: a resumed run sets the same */
			ex_check(nncc_session_set_learning_rate(ts, (float)(lr0 * pow(decay, e)), &err),
				 &err, "learning rate");
		ExProgress p;
		int b0 = (int)(step - (int64_t)e * nb);
		ex_progress_start(&p, e, a.epochs, nb, a.quiet);
		double sum = 0, t0 = ex_now();
		for (int b = b0; b < nb; b++) {
			float loss;
			ex_batch(&train, perm + (size_t)b * (size_t)B, B, x, y);
			ex_set(ts, tm, "x", x, xi.rank, xi.dims, NNCC_DTYPE_F32);
			ex_set(ts, tm, "label", y, 1, ldims, NNCC_DTYPE_I64);
			ex_check(nncc_session_train_step(ts, &loss, &err), &err, "train step");
			if (!isfinite(loss))
				ex_die("step %lld: loss is %g", (long long)step, (double)loss);
			sum += loss;
			step++;
			ex_progress(&p, b + 1, sum / (b + 1 - b0), B);
			if (step % 50 == 0)
				ex_log(log, "\"step\": %lld, \"loss\": %.6f", (long long)step, (double)loss);
			ex_after_step(ts, &a, step);
		}
		ex_progress_end(&p);
		double dt = ex_now() - t0;
		t_train += dt;
		ex_copy_params(ts, tm, es, em);
		ev = ex_evaluate(es, em, &test);
		ex_save(ts, &a);
		ex_log(log, "\"epoch\": %d, \"step\": %lld, \"train_loss\": %.6f, \"test_loss\": %.6f, "
		       "\"test_accuracy\": %.6f, \"epoch_seconds\": %.3f, \"images_per_s\": %.1f",
		       e + 1, (long long)step, sum / (nb - b0), ev.loss, ev.accuracy, dt,
		       (nb - b0) * (double)B / dt);
		printf("epoch %d: train_loss %.4f test_loss %.4f test_accuracy %.4f (%.1f s, %.0f img/s)\n",
		       e + 1, sum / (nb - b0), ev.loss, ev.accuracy, dt, (nb - b0) * (double)B / dt);
		fflush(stdout);
	}
	if (isnan(ev.accuracy)) { /* nothing left to train: score the checkpoint */
		ex_copy_params(ts, tm, es, em);
		ev = ex_evaluate(es, em, &test);
	}
	printf("train_seconds=%.1f\n", t_train);
	printf("test_accuracy=%.4f\n", ev.accuracy);
	fclose(log);
	free(x);
	free(y);
	free(perm);
	ex_free_data(&train);
	ex_free_data(&test);
	nncc_session_free(ts);
	nncc_session_free(es);
	nncc_model_free(tm);
	nncc_model_free(em);
	return 0;
}
