/* embed.c — a Fashion-MNIST classifier in one self-contained program: the
 * compiled model is linked in statically (its object file from nncc
 * --emit=obj --name=fashion, its sizes and typed entry points from
 * fashion.h, nncc --emit=header), with the static runtime and kernel
 * library; no .so is loaded at run time (docs/embedding.md).
 *
 *   fashion_embed [--data DIR] INDEX   the test-set image INDEX (0..9999)
 *   fashion_embed IMAGE.pgm            a 28x28 8-bit grayscale PGM (P5)
 *
 * Prints the predicted class, the true one for a test-set image, and the
 * ten logits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common.h"
#include "fashion.h"

static const char *const classes[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
					"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

/* A binary 28x28 PGM with maxval 255 into px; dies otherwise. */
static void read_pgm(const char *path, uint8_t *px)
{
	FILE *f = fopen(path, "rb");
	int w, h, maxval;
	if (!f)
		ex_die("%s: cannot open", path);
	if (fscanf(f, "P5 %d %d %d", &w, &h, &maxval) != 3 || fgetc(f) == EOF || w != 28 || h != 28 ||
	    maxval != 255 || fread(px, 1, 28 * 28, f) != 28 * 28)
		ex_die("%s: not a 28x28 8-bit binary PGM (P5)", path);
	fclose(f);
}

int main(int argc, char **argv)
{
	const char *dir = "/usr/share/datasets/fashion-mnist", *arg = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (!arg && argv[i][0] != '-')
			arg = argv[i];
		else
			arg = NULL, i = argc;
	}
	if (!arg) {
		fprintf(stderr, "usage: fashion_embed [--data DIR] INDEX | IMAGE.pgm\n");
		return 2;
	}
	uint8_t px[28 * 28];
	ExData d = {0};
	int idx = -1, label = -1;
	size_t n = strlen(arg);
	if (n > 4 && strcmp(arg + n - 4, ".pgm") == 0) {
		read_pgm(arg, px);
		d.n = 1, d.rows = d.cols = 28, d.img = px;
		idx = 0;
	} else {
		char *end;
		long v = strtol(arg, &end, 10);
		if (*end || v < 0 || v > 9999)
			ex_die("bad image index '%s' (want 0..9999 or a .pgm file)", arg);
		ex_load_data(dir, "t10k", (int)v + 1, &d);
		idx = (int)v;
		label = d.lab[idx];
	}
	static float x[FASHION_INPUT0_NUMEL], logits[FASHION_OUTPUT0_NUMEL];
	ex_batch(&d, &idx, 1, x, NULL); /* normalized as in training */

	nncc_model *m;
	nncc_session *s;
	char *err = NULL;
	ex_check(fashion_load(&m, &err), &err, "fashion_load");
	ex_check(nncc_session_create(m, &s, &err), &err, "nncc_session_create");
	ex_check(fashion_run(s, x, logits, &err), &err, "fashion_run");
	int best = 0;
	for (int k = 1; k < FASHION_OUTPUT0_NUMEL; k++)
		if (logits[k] > logits[best])
			best = k;
	printf("image %s: predicted %s", arg, classes[best]);
	if (label >= 0)
		printf(", true %s", classes[label]);
	printf("\nlogits:");
	for (int k = 0; k < FASHION_OUTPUT0_NUMEL; k++)
		printf(" %.9g", logits[k]);
	printf("\n");
	nncc_session_free(s);
	nncc_model_free(m);
	if (d.img != px)
		ex_free_data(&d);
	return 0;
}
