/* autoencoder.c — a convolutional autoencoder or VAE on Fashion-MNIST
 * with an nncc-compiled training step (docs/examples.md):
 *
 *   autoencoder --model ae|vae [--epochs N] [--seed S] ...
 *
 * MODEL_train.so is the step (bce_logits on the pixels in [0, 1]; the VAE
 * adds its `kl` output with --add-loss and takes the reparameterization
 * noise as the input `eps`), MODEL_eval.so the model for inference
 * (--mutable-weights) that scores the test set after each epoch, and for
 * the VAE vae_dec_eval.so the decoder alone, which turns draws from the
 * prior N(0, I) into samples. Writes OUT/recon.png (rows of test images
 * over their reconstructions) and, for the VAE, OUT/samples.png. Ends
 * with `test_loss=x.xxxx` (mean binary cross-entropy per pixel, plus the
 * KL term for the VAE). */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { LATENT = 16, GRID = 8 };

typedef struct Net {
	nncc_model *m;   /* model */
	nncc_session *s; /* its session */
} Net;

static double sigmoid(double v)
{
	return 1.0 / (1.0 + exp(-v));
}

/* Runs the eval model on test images b0..b0+E (padded), returns the summed
 * loss of the first nb images; the logits stay in the session. */
static double eval_batch(Net *ev, const ExData *test, int b0, int nb, bool vae, float *x,
			 float *eps, int *idx, int E, uint64_t *rng)
{
	int64_t xd[4] = {E, 1, 28, 28}, ed[2] = {E, LATENT};
	char *err = NULL;
	for (int i = 0; i < E; i++)
		idx[i] = b0 + (i < nb ? i : 0);
	ex_batch01(test, idx, E, x);
	ex_set(ev->s, ev->m, "x", x, 4, xd, NNCC_DTYPE_F32);
	if (vae) {
		for (int i = 0; i < E * LATENT; i++)
			eps[i] = ex_randn(rng);
		ex_set(ev->s, ev->m, "eps", eps, 2, ed, NNCC_DTYPE_F32);
	}
	ex_check(nncc_session_run(ev->s, &err), &err, "evaluation");
	const void *out;
	ex_check(nncc_session_output(ev->s, nncc_model_find_output(ev->m, "logits"), &out), NULL, "logits");
	const float *z = out;
	double loss = 0;
	for (size_t k = 0; k < (size_t)nb * 784; k++) { /* stable bce on logits */
		double v = z[k], y = x[k];
		loss += (v > 0 ? v : 0) - v * y + log1p(exp(-fabs(v)));
	}
	loss /= 784.0;
	if (vae) {
		int ko = nncc_model_find_output(ev->m, "kl");
		ex_check(nncc_session_output(ev->s, ko, &out), NULL, "kl");
		loss += *(const float *)out * nb; /* kl is per pixel and averaged over the batch */
	}
	return loss;
}

/* The test loss with fixed noise (the same draws every epoch), and the
 * reconstruction grid of the first 32 test images. */
static double evaluate(Net *ev, const ExData *test, bool vae, const ExArgs *a)
{
	nncc_tensor_info xi;
	nncc_model_input_info(ev->m, ex_input(ev->m, "x"), &xi);
	int E = (int)xi.dims[0];
	float *x = malloc((size_t)xi.nbytes), *eps = malloc((size_t)E * LATENT * sizeof *eps);
	int *idx = malloc((size_t)E * sizeof *idx);
	if (!x || !eps || !idx)
		ex_die("out of memory");
	uint64_t rng = 12345;
	double loss = 0;
	for (int b0 = 0; b0 < test->n; b0 += E) {
		int nb = test->n - b0 < E ? test->n - b0 : E;
		loss += eval_batch(ev, test, b0, nb, vae, x, eps, idx, E, &rng);
	}
	/* grid: rows of 8 originals over their 8 reconstructions */
	int n = test->n < 32 ? test->n : 32;
	rng = 12345;
	eval_batch(ev, test, 0, n, vae, x, eps, idx, E, &rng);
	const void *out;
	nncc_session_output(ev->s, nncc_model_find_output(ev->m, "logits"), &out);
	float *grid = calloc((size_t)GRID * GRID * 784, sizeof *grid);
	if (!grid)
		ex_die("out of memory");
	for (int k = 0; k < n; k++) {
		int row = 2 * (k / GRID), col = k % GRID;
		for (int p = 0; p < 784; p++) {
			grid[((size_t)(row * GRID + col)) * 784 + (size_t)p] = x[(size_t)k * 784 + (size_t)p];
			grid[((size_t)((row + 1) * GRID + col)) * 784 + (size_t)p] =
				(float)sigmoid(((const float *)out)[(size_t)k * 784 + (size_t)p]);
		}
	}
	ex_png_grid(ex_path(a, "recon.png"), grid, GRID * GRID, GRID, GRID, 28);
	free(grid);
	free(x);
	free(eps);
	free(idx);
	return loss / test->n;
}

/* VAE: decode 64 draws from the prior into OUT/samples.png. */
static void samples(Net *dec, const ExArgs *a)
{
	nncc_tensor_info zi;
	nncc_model_input_info(dec->m, ex_input(dec->m, "z"), &zi);
	int n = (int)zi.dims[0];
	float *z = malloc((size_t)zi.nbytes), *img = malloc((size_t)n * 784 * sizeof *img);
	if (!z || !img)
		ex_die("out of memory");
	uint64_t rng = a->seed ^ 0x5eed;
	for (int i = 0; i < n * LATENT; i++)
		z[i] = ex_randn(&rng);
	char *err = NULL;
	ex_set(dec->s, dec->m, "z", z, zi.rank, zi.dims, NNCC_DTYPE_F32);
	ex_check(nncc_session_run(dec->s, &err), &err, "decoder");
	const void *out;
	nncc_session_output(dec->s, 0, &out);
	for (size_t k = 0; k < (size_t)n * 784; k++)
		img[k] = (float)sigmoid(((const float *)out)[k]);
	ex_png_grid(ex_path(a, "samples.png"), img, n, GRID, (n + GRID - 1) / GRID, 28);
	free(z);
	free(img);
}

int main(int argc, char **argv)
{
	ExArgs a;
	ex_args_default(&a, 5);
	const char *model = NULL;
	for (int i = 1; i < argc; i++) {
		if (ex_parse_common(&a, argc, argv, &i))
			continue;
		if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
			model = argv[++i];
		} else {
			fprintf(stderr, "usage: autoencoder --model ae|vae [options]\n%s", ex_common_usage);
			return 2;
		}
	}
	if (!model || (strcmp(model, "ae") != 0 && strcmp(model, "vae") != 0))
		ex_die("--model ae|vae is required");
	bool vae = model[0] == 'v';
	char path[4096];
	Net tr, ev, dec = {NULL, NULL};
	snprintf(path, sizeof path, "%s/%s_train.so", a.models, model);
	ex_load_model(path, a.threads, &tr.m, &tr.s);
	snprintf(path, sizeof path, "%s/%s_eval.so", a.models, model);
	ex_load_model(path, a.threads, &ev.m, &ev.s);
	if (vae) {
		snprintf(path, sizeof path, "%s/vae_dec_eval.so", a.models);
		ex_load_model(path, a.threads, &dec.m, &dec.s);
	}
	nncc_tensor_info xi;
	nncc_model_input_info(tr.m, ex_input(tr.m, "x"), &xi);
	int B = (int)xi.dims[0];
	int64_t ed[2] = {B, LATENT};

	ExData train, test;
	int nb = ex_load_sets(&a, B, &train, &test);
	char *err = NULL;
	if (a.resume) {
		const char *ck = ex_path(&a, "checkpoint.safetensors");
		ex_check(nncc_session_load_weights(tr.s, ck, &err), &err, ck);
		a.seed = nncc_session_seed(tr.s);
	} else {
		nncc_session_set_seed(tr.s, a.seed);
	}
	if (a.lr >= 0)
		ex_check(nncc_session_set_learning_rate(tr.s, a.lr, &err), &err, "--lr");
	FILE *log = ex_log_open(&a);
	int64_t step = nncc_session_step(tr.s);
	printf("%s: %d training images, %d test images, batch %d, %d steps per epoch, seed %llu\n", model,
	       train.n, test.n, B, nb, (unsigned long long)a.seed);
	if (step)
		printf("resumed at step %lld\n", (long long)step);

	float *x = malloc((size_t)xi.nbytes), *eps = malloc((size_t)B * LATENT * sizeof *eps);
	int *perm = malloc((size_t)train.n * sizeof *perm);
	if (!x || !eps || !perm)
		ex_die("out of memory");
	double test_loss = NAN;
	for (int e = (int)(step / nb); e < a.epochs; e++) {
		ex_permute(perm, train.n, a.seed, e);
		int b0 = (int)(step - (int64_t)e * nb);
		ExProgress p;
		ex_progress_start(&p, e, a.epochs, nb, a.quiet);
		double sum = 0, t0 = ex_now();
		for (int b = b0; b < nb; b++) {
			float loss;
			ex_batch01(&train, perm + (size_t)b * (size_t)B, B, x);
			ex_set(tr.s, tr.m, "x", x, 4, xi.dims, NNCC_DTYPE_F32);
			ex_set(tr.s, tr.m, "label", x, 4, xi.dims, NNCC_DTYPE_F32);
			if (vae) { /* the noise: a stream per step, so a resumed run draws the same */
				uint64_t rng = a.seed * 0x9e3779b97f4a7c15ull + (uint64_t)step;
				for (int i = 0; i < B * LATENT; i++)
					eps[i] = ex_randn(&rng);
				ex_set(tr.s, tr.m, "eps", eps, 2, ed, NNCC_DTYPE_F32);
			}
			ex_check(nncc_session_train_step(tr.s, &loss, &err), &err, "train step");
			if (!isfinite(loss))
				ex_die("step %lld: loss is %g", (long long)step, (double)loss);
			sum += loss;
			step++;
			ex_progress(&p, b + 1, sum / (b + 1 - b0), B);
			if (step % 50 == 0)
				ex_log(log, "\"step\": %lld, \"loss\": %.6f", (long long)step, (double)loss);
			ex_after_step(tr.s, &a, step);
		}
		ex_progress_end(&p);
		double dt = ex_now() - t0;
		ex_copy_params(tr.s, tr.m, ev.s, ev.m);
		test_loss = evaluate(&ev, &test, vae, &a);
		if (vae) {
			ex_copy_params(tr.s, tr.m, dec.s, dec.m);
			samples(&dec, &a);
		}
		ex_save(tr.s, &a);
		ex_log(log, "\"epoch\": %d, \"step\": %lld, \"train_loss\": %.6f, \"test_loss\": %.6f, "
		       "\"epoch_seconds\": %.3f, \"images_per_s\": %.1f", e + 1, (long long)step,
		       sum / (nb - b0), test_loss, dt, (nb - b0) * (double)B / dt);
		printf("epoch %d: train_loss %.4f test_loss %.4f (%.1f s)\n", e + 1, sum / (nb - b0),
		       test_loss, dt);
		fflush(stdout);
	}
	if (isnan(test_loss)) {
		ex_copy_params(tr.s, tr.m, ev.s, ev.m);
		test_loss = evaluate(&ev, &test, vae, &a);
	}
	printf("test_loss=%.4f\n", test_loss);
	fclose(log);
	free(x);
	free(eps);
	free(perm);
	ex_free_data(&train);
	ex_free_data(&test);
	nncc_session_free(tr.s);
	nncc_session_free(ev.s);
	nncc_model_free(tr.m);
	nncc_model_free(ev.m);
	if (vae) {
		nncc_session_free(dec.s);
		nncc_model_free(dec.m);
	}
	return 0;
}
