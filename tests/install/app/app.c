/* app.c — the application tests/install/install_test.sh builds against an
 * installed nncc, once with pkg-config and once with CMake: it links two
 * compiled models (nncc --emit=obj --name=fashion and --name=mlp) with the
 * headers nncc --emit=header wrote for them, runs both on the same
 * deterministic input and prints every output value, one per line, for
 * the script to compare with nncc-run's outputs of the same models. */
#include <stdio.h>
#include <stdlib.h>

#include "fashion.h"
#include "mlp.h"

/* x[i] = ((i * 37) % 101) / 101 in float32 (the script computes the same). */
static void fill(float *x, int n)
{
	for (int i = 0; i < n; i++)
		x[i] = (float)((i * 37) % 101) / 101.0f;
}

static int check(nncc_status st, char *err, const char *what)
{
	if (st == NNCC_STATUS_OK)
		return 0;
	fprintf(stderr, "app: %s: %s\n", what, err ? err : nncc_status_string(st));
	nncc_error_free(err);
	exit(1);
}

int main(void)
{
	static float x[FASHION_INPUT0_NUMEL], y[FASHION_OUTPUT0_NUMEL];
	static float mx[MLP_INPUT0_NUMEL], my[MLP_OUTPUT0_NUMEL];
	nncc_model *fm, *mm;
	nncc_session *fs, *ms;
	char *err = NULL;

	check(fashion_load(&fm, &err), err, "fashion_load");
	check(mlp_load(&mm, &err), err, "mlp_load");
	check(nncc_session_create(fm, &fs, &err), err, "session");
	check(nncc_session_create(mm, &ms, &err), err, "session");
	fill(x, FASHION_INPUT0_NUMEL);
	fill(mx, MLP_INPUT0_NUMEL);
	check(fashion_run(fs, x, y, &err), err, "fashion_run");
	check(mlp_run(ms, mx, my, &err), err, "mlp_run");
	printf("model %s\n", nncc_model_name(fm));
	for (int i = 0; i < FASHION_OUTPUT0_NUMEL; i++)
		printf("%.9g\n", y[i]);
	printf("model %s\n", nncc_model_name(mm));
	for (int i = 0; i < MLP_OUTPUT0_NUMEL; i++)
		printf("%.9g\n", my[i]);
	nncc_session_free(fs);
	nncc_session_free(ms);
	nncc_model_free(fm);
	nncc_model_free(mm);
	return 0;
}
