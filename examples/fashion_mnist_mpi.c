/* fashion_mnist_mpi.c — the Fashion-MNIST classifier of fashion_mnist.c,
 * trained data-parallel over MPI (docs/distributed.md):
 *
 *   mpirun -np K fashion_mnist_mpi --model lenet|mlp [--act relu|tanh|sigmoid] [options]
 *
 * Every rank loads MODELS/NAME_dpB_train.so, the training step compiled
 * with --split-step for a batch of B = 64 / K (the build compiles B = 64
 * and 32: one and two ranks), or --train-model PATH. Each epoch's global
 * batches of 64 are those of fashion_mnist (the same permutation), and
 * each rank trains on its share (nncc_dist_shard); the gradients are
 * averaged with MPI_Allreduce while the rank prepares its next batch.
 * Rank 0 alone evaluates (MODELS/NAME_eval.so), logs, prints and writes
 * the checkpoint; --resume loads it on rank 0 and broadcasts it. Each rank
 * draws dropout and augmentation with its own seed (--seed S plus the
 * rank times 1000003), so the ranks' shards are augmented independently.
 * Ends with `test_accuracy=0.xxxx` (rank 0). */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <nncc/nncc_dist.h>

enum { GLOBAL_BATCH = 64 }; /* the batch of fashion_mnist's training steps */

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	int rank, size;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	ExArgs a;
	ex_args_default(&a, 10);
	const char *model = "lenet", *act = "relu", *tmodel = NULL;
	double decay = -1;
	for (int i = 1; i < argc; i++) {
		if (ex_parse_common(&a, argc, argv, &i))
			continue;
		if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
			model = argv[++i];
		else if (strcmp(argv[i], "--act") == 0 && i + 1 < argc)
			act = argv[++i];
		else if (strcmp(argv[i], "--train-model") == 0 && i + 1 < argc)
			tmodel = argv[++i];
		else if (strcmp(argv[i], "--lr-decay") == 0 && i + 1 < argc)
			decay = atof(argv[++i]);
		else {
			if (rank == 0)
				fprintf(stderr, "usage: mpirun -np K fashion_mnist_mpi --model lenet|mlp "
					"[--act A] [--train-model SO] [--lr-decay F]\n%s", ex_common_usage);
			MPI_Finalize();
			return 2;
		}
	}
	char name[64], path[4096];
	bool lenet = strcmp(model, "lenet") == 0;
	snprintf(name, sizeof name, lenet ? "lenet" : "mlp_%s", act);
	if (decay < 0)
		decay = lenet ? 0.75 : 1; /* as fashion_mnist */
	if (GLOBAL_BATCH % size)
		ex_die("%d ranks do not divide the global batch of %d", size, GLOBAL_BATCH);
	int B = GLOBAL_BATCH / size;
	if (!tmodel) {
		snprintf(path, sizeof path, "%s/%s_dp%d_train.so", a.models, name, B);
		tmodel = path;
	}
	nncc_model *tm, *em = NULL;
	nncc_session *ts, *es = NULL;
	nncc_dist *d;
	char *err = NULL;
	ex_load_model(tmodel, a.threads, &tm, &ts);
	nncc_tensor_info xi;
	nncc_model_input_info(tm, ex_input(tm, "x"), &xi);
	if (xi.dims[0] != B)
		ex_die("%s: batch %lld, %d ranks need %d (compile it with nncc --train --split-step "
		       "--shape x=%d,1,28,28)", tmodel, (long long)xi.dims[0], size, B, B);
	ex_check(nncc_dist_create(ts, tm, MPI_COMM_WORLD, 0, &d, &err), &err, "nncc_dist_create");
	if (rank == 0) {
		snprintf(path, sizeof path, "%s/%s_eval.so", a.models, name);
		ex_load_model(path, a.threads, &em, &es);
	}
	ExData train, test;
	int nb = ex_load_sets(&a, GLOBAL_BATCH, &train, &test);
	float lr0 = a.lr;
	if (lr0 < 0)
		ex_check(nncc_session_get_param(ts, "lr", &lr0, sizeof lr0, &err), &err, "lr");
	if (a.resume)
		ex_check(nncc_dist_load_weights(d, ex_path(&a, "checkpoint.safetensors"), &err), &err,
			 "checkpoint");
	else
		ex_check(nncc_dist_broadcast_state(d, &err), &err, "broadcast");
	nncc_session_set_seed(ts, a.seed + 1000003u * (uint64_t)rank);
	FILE *log = rank == 0 ? ex_log_open(&a) : NULL;
	int64_t step = nncc_session_step(ts), begin, count;
	nncc_dist_shard(d, GLOBAL_BATCH, &begin, &count);
	if (rank == 0)
		printf("%s: %d ranks x batch %d, %d training images, %d steps per epoch, seed %llu\n",
		       name, size, B, train.n, nb, (unsigned long long)a.seed);
	float *x = malloc((size_t)xi.nbytes);
	int64_t *y = malloc((size_t)B * sizeof *y), ldims[1] = {B};
	int *perm = malloc((size_t)train.n * sizeof *perm);
	if (!x || !y || !perm)
		ex_die("out of memory");
	double acc = NAN, t_train = 0, tloss = NAN;
	for (int e = (int)(step / nb); e < a.epochs; e++) {
		ex_permute(perm, train.n, a.seed, e);
		if (decay != 1 || a.lr >= 0)
			ex_check(nncc_session_set_learning_rate(ts, (float)(lr0 * pow(decay, e)), &err), &err,
				 "learning rate");
		ExProgress p;
		int b0 = (int)(step - (int64_t)e * nb);
		ex_progress_start(&p, e, a.epochs, nb, a.quiet || rank != 0);
		double sum = 0, t0 = ex_now();
		ex_batch(&train, perm + (size_t)b0 * GLOBAL_BATCH + begin, B, x, y);
		for (int b = b0; b < nb; b++) {
			ex_set(ts, tm, "x", x, xi.rank, xi.dims, NNCC_DTYPE_F32);
			ex_set(ts, tm, "label", y, 1, ldims, NNCC_DTYPE_I64);
			float loss;
			ex_check(nncc_session_compute_grads(ts, &loss, &err), &err, "compute_grads");
			ex_check(nncc_dist_allreduce_start(d, loss, &err), &err, "allreduce");
			if (b + 1 < nb) /* the next batch while the gradients travel */
				ex_batch(&train, perm + (size_t)(b + 1) * GLOBAL_BATCH + begin, B, x, y);
			ex_check(nncc_dist_allreduce_finish(d, &loss, &err), &err, "allreduce");
			ex_check(nncc_session_apply_update(ts, &err), &err, "apply_update");
			if (!isfinite(loss))
				ex_die("step %lld: loss is %g", (long long)step, (double)loss);
			sum += loss;
			step++;
			if (rank == 0) {
				ex_progress(&p, b + 1, sum / (b + 1 - b0), GLOBAL_BATCH);
				if (step % 50 == 0)
					ex_log(log, "\"step\": %lld, \"loss\": %.6f", (long long)step, (double)loss);
			}
		}
		if (rank == 0)
			ex_progress_end(&p);
		double dt = ex_now() - t0;
		t_train += dt;
		ex_check(nncc_dist_save_weights(d, ex_path(&a, "checkpoint.safetensors"), &err), &err,
			 "checkpoint");
		if (rank != 0)
			continue;
		ex_copy_params(ts, tm, es, em);
		ExEval ev = ex_evaluate(es, em, &test);
		acc = ev.accuracy, tloss = ev.loss;
		ex_log(log, "\"epoch\": %d, \"step\": %lld, \"ranks\": %d, \"train_loss\": %.6f, "
		       "\"test_loss\": %.6f, \"test_accuracy\": %.6f, \"epoch_seconds\": %.3f, "
		       "\"images_per_s\": %.1f", e + 1, (long long)step, size, sum / (nb - b0), tloss, acc,
		       dt, (nb - b0) * (double)GLOBAL_BATCH / dt);
		printf("epoch %d: train_loss %.4f test_loss %.4f test_accuracy %.4f (%.1f s, %.0f img/s "
		       "on %d ranks)\n", e + 1, sum / (nb - b0), tloss, acc, dt,
		       (nb - b0) * (double)GLOBAL_BATCH / dt, size);
		fflush(stdout);
	}
	if (rank == 0) {
		if (isnan(acc)) { /* nothing left to train: score the checkpoint */
			ex_copy_params(ts, tm, es, em);
			acc = ex_evaluate(es, em, &test).accuracy;
		}
		printf("train_seconds=%.1f\ntest_accuracy=%.4f\n", t_train, acc);
		fclose(log);
	}
	free(x);
	free(y);
	free(perm);
	ex_free_data(&train);
	ex_free_data(&test);
	nncc_dist_free(d);
	nncc_session_free(ts);
	nncc_session_free(es);
	nncc_model_free(tm);
	nncc_model_free(em);
	MPI_Finalize();
	return 0;
}
