/* dcgan.c — a DCGAN at 28x28 on Fashion-MNIST with nncc-compiled steps
 * (docs/examples.md):
 *
 *   dcgan [--epochs N] [--seed S] [--limit-train N] ...
 *
 * Four artifacts, generator G and discriminator D compiled separately:
 *   gan_g_eval.so   G for inference (--mutable-weights): z -> fake images
 *   gan_d_train.so  D's step (bce_logits, Adam) on real and fake images
 *   gan_d_grad.so   D with a learning rate of 0 and --grad-inputs=image:
 *                   the generator's loss (fakes labelled real) and its
 *                   gradient w.r.t. the images, D's weights copied in
 *   gan_g_train.so  G's step with --loss=backprop: label = that gradient
 * trained alternately, one D step then one G step per batch. Images are
 * scaled to [-1, 1] (G ends in tanh). Writes OUT/samples.png (64 samples
 * from fixed noise) after every epoch and ends with `test_loss=x.xxxx`:
 * D's loss on the real test images and as many fakes (about 1.39 = 2 ln 2
 * when D cannot tell them apart). */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { ZDIM = 32 };

typedef struct Net {
	nncc_model *m;   /* model */
	nncc_session *s; /* its session */
} Net;

static void load(Net *n, const ExArgs *a, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.so", a->models, name);
	ex_load_model(path, a->threads, &n->m, &n->s);
}

static void noise(float *z, int n, uint64_t *rng)
{
	for (int i = 0; i < n; i++)
		z[i] = ex_randn(rng);
}

/* G(z) into img (B images), with G's current weights. */
static void generate(Net *ge, const float *z, int B, float *img)
{
	int64_t zd[2] = {B, ZDIM};
	char *err = NULL;
	ex_set(ge->s, ge->m, "z", z, 2, zd, NNCC_DTYPE_F32);
	ex_check(nncc_session_run(ge->s, &err), &err, "generator");
	const void *out;
	nncc_session_output(ge->s, 0, &out);
	memcpy(img, out, (size_t)B * 784 * sizeof *img);
}

static void real(const ExData *d, const int *idx, int B, float *x)
{
	ex_batch01(d, idx, B, x);
	for (size_t k = 0; k < (size_t)B * 784; k++)
		x[k] = 2 * x[k] - 1;
}

int main(int argc, char **argv)
{
	ExArgs a;
	ex_args_default(&a, 5);
	for (int i = 1; i < argc; i++) {
		if (!ex_parse_common(&a, argc, argv, &i)) {
			fprintf(stderr, "usage: dcgan [options]\n%s", ex_common_usage);
			return 2;
		}
	}
	Net ge, gt, dt, dg;
	load(&ge, &a, "gan_g_eval");
	load(&gt, &a, "gan_g_train");
	load(&dt, &a, "gan_d_train");
	load(&dg, &a, "gan_d_grad");
	nncc_tensor_info zi;
	nncc_model_input_info(gt.m, ex_input(gt.m, "z"), &zi);
	int B = (int)zi.dims[0];
	int64_t id[4] = {B, 1, 28, 28}, id2[4] = {2 * B, 1, 28, 28}, ld[2] = {B, 1}, ld2[2] = {2 * B, 1};
	int gout = nncc_model_find_output(dg.m, "grad.image");
	if (gout < 0)
		ex_die("gan_d_grad.so has no output grad.image");

	ExData train, test;
	int nb = ex_load_sets(&a, B, &train, &test);
	char *err = NULL;
	if (a.resume) { /* two checkpoints: G's and D's */
		char p[4200];
		snprintf(p, sizeof p, "%s/checkpoint_d.safetensors", a.out);
		ex_check(nncc_session_load_weights(dt.s, p, &err), &err, p);
		ex_check(nncc_session_load_weights(gt.s, ex_path(&a, "checkpoint.safetensors"), &err), &err,
			 "checkpoint.safetensors");
		a.seed = nncc_session_seed(gt.s);
	} else {
		nncc_session_set_seed(gt.s, a.seed);
	}
	if (a.lr >= 0) { /* G's and D's (gan_d_grad keeps 0) */
		ex_check(nncc_session_set_learning_rate(gt.s, a.lr, &err), &err, "--lr");
		ex_check(nncc_session_set_learning_rate(dt.s, a.lr, &err), &err, "--lr");
	}
	FILE *log = ex_log_open(&a);
	int64_t step = nncc_session_step(gt.s);
	printf("dcgan: %d training images, batch %d, %d steps per epoch, seed %llu\n", train.n, B, nb,
	       (unsigned long long)a.seed);

	float *x2 = malloc((size_t)2 * B * 784 * sizeof *x2), *z = malloc((size_t)B * ZDIM * sizeof *z);
	float *l2 = malloc((size_t)2 * B * sizeof *l2), *ones = malloc((size_t)B * sizeof *ones);
	float *fixed = malloc((size_t)B * ZDIM * sizeof *fixed), *img = malloc((size_t)B * 784 * sizeof *img);
	int *perm = malloc((size_t)(train.n > test.n ? train.n : test.n) * sizeof *perm);
	if (!x2 || !z || !l2 || !ones || !fixed || !img || !perm)
		ex_die("out of memory");
	for (int i = 0; i < 2 * B; i++)
		l2[i] = i < B ? 1.0f : 0.0f; /* real, then fake */
	for (int i = 0; i < B; i++)
		ones[i] = 1.0f;
	uint64_t frng = 777;
	noise(fixed, B * ZDIM, &frng);
	double dtest = NAN;
	for (int e = (int)(step / nb); e < a.epochs; e++) {
		ex_permute(perm, train.n, a.seed, e);
		int b0 = (int)(step - (int64_t)e * nb);
		ExProgress p;
		ex_progress_start(&p, e, a.epochs, nb, a.quiet);
		double dsum = 0, gsum = 0, t0 = ex_now();
		for (int b = b0; b < nb; b++) {
			float dloss, gloss;
			uint64_t rng = a.seed * 0x9e3779b97f4a7c15ull + (uint64_t)step;
			noise(z, B * ZDIM, &rng);
			/* D step on real and fake */
			ex_copy_params(gt.s, gt.m, ge.s, ge.m);
			real(&train, perm + (size_t)b * (size_t)B, B, x2);
			generate(&ge, z, B, x2 + (size_t)B * 784);
			ex_set(dt.s, dt.m, "image", x2, 4, id2, NNCC_DTYPE_F32);
			ex_set(dt.s, dt.m, "label", l2, 2, ld2, NNCC_DTYPE_F32);
			ex_check(nncc_session_train_step(dt.s, &dloss, &err), &err, "D step");
			/* G step: D's loss on the fakes labelled real, through D's input gradient */
			ex_copy_params(dt.s, dt.m, dg.s, dg.m);
			ex_set(dg.s, dg.m, "image", x2 + (size_t)B * 784, 4, id, NNCC_DTYPE_F32);
			ex_set(dg.s, dg.m, "label", ones, 2, ld, NNCC_DTYPE_F32);
			ex_check(nncc_session_train_step(dg.s, &gloss, &err), &err, "D gradient");
			const void *grad;
			nncc_session_output(dg.s, gout, &grad);
			ex_set(gt.s, gt.m, "z", z, 2, zi.dims, NNCC_DTYPE_F32);
			ex_set(gt.s, gt.m, "label", grad, 4, id, NNCC_DTYPE_F32);
			ex_check(nncc_session_train_step(gt.s, NULL, &err), &err, "G step");
			if (!isfinite(dloss) || !isfinite(gloss))
				ex_die("step %lld: losses %g %g", (long long)step, (double)dloss, (double)gloss);
			dsum += dloss;
			gsum += gloss;
			step++;
			ex_progress(&p, b + 1, dsum / (b + 1 - b0), B);
			if (step % 50 == 0)
				ex_log(log, "\"step\": %lld, \"d_loss\": %.6f, \"g_loss\": %.6f", (long long)step,
				       (double)dloss, (double)gloss);
			if (a.ckpt_every && step % a.ckpt_every == 0) {
				char pd[4200];
				snprintf(pd, sizeof pd, "%s/checkpoint_d.safetensors", a.out);
				ex_check(nncc_session_save_weights(dt.s, pd, &err), &err, pd);
			}
			ex_after_step(gt.s, &a, step);
		}
		ex_progress_end(&p);
		double dtime = ex_now() - t0;
		/* samples from fixed noise; D's loss on test images and fakes */
		ex_copy_params(gt.s, gt.m, ge.s, ge.m);
		generate(&ge, fixed, B, img);
		for (size_t k = 0; k < (size_t)B * 784; k++)
			img[k] = 0.5f * (img[k] + 1);
		ex_png_grid(ex_path(&a, "samples.png"), img, B < 64 ? B : 64, 8, 8, 28);
		int nt = test.n / B;
		double tsum = 0;
		uint64_t trng = 99;
		ex_copy_params(dt.s, dt.m, dg.s, dg.m);
		for (int t = 0; t < nt; t++) { /* D's loss: real test images, then fakes (lr 0: no update) */
			float l;
			for (int i = 0; i < B; i++)
				perm[i] = t * B + i;
			real(&test, perm, B, x2);
			ex_set(dg.s, dg.m, "image", x2, 4, id, NNCC_DTYPE_F32);
			ex_set(dg.s, dg.m, "label", ones, 2, ld, NNCC_DTYPE_F32);
			ex_check(nncc_session_train_step(dg.s, &l, &err), &err, "D test");
			tsum += l;
			noise(z, B * ZDIM, &trng);
			generate(&ge, z, B, x2);
			ex_set(dg.s, dg.m, "image", x2, 4, id, NNCC_DTYPE_F32);
			ex_set(dg.s, dg.m, "label", l2 + B, 2, ld, NNCC_DTYPE_F32);
			ex_check(nncc_session_train_step(dg.s, &l, &err), &err, "D test");
			tsum += l;
		}
		dtest = nt ? tsum / nt : NAN;
		char pd[4200];
		snprintf(pd, sizeof pd, "%s/checkpoint_d.safetensors", a.out);
		ex_check(nncc_session_save_weights(dt.s, pd, &err), &err, pd);
		ex_save(gt.s, &a);
		ex_log(log, "\"epoch\": %d, \"step\": %lld, \"d_loss\": %.6f, \"g_loss\": %.6f, "
		       "\"test_loss\": %.6f, \"epoch_seconds\": %.3f", e + 1, (long long)step,
		       dsum / (nb - b0), gsum / (nb - b0), dtest, dtime);
		printf("epoch %d: d_loss %.4f g_loss %.4f d_test_loss %.4f (%.1f s)\n", e + 1,
		       dsum / (nb - b0), gsum / (nb - b0), dtest, dtime);
		fflush(stdout);
	}
	printf("test_loss=%.4f\n", dtest);
	fclose(log);
	free(x2);
	free(z);
	free(l2);
	free(ones);
	free(fixed);
	free(img);
	free(perm);
	ex_free_data(&train);
	ex_free_data(&test);
	Net *all[4] = {&ge, &gt, &dt, &dg};
	for (int i = 0; i < 4; i++) {
		nncc_session_free(all[i]->s);
		nncc_model_free(all[i]->m);
	}
	return 0;
}
