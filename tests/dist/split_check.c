/* split_check.c — the step's halves (nncc --split-step, docs/distributed.md)
 * against the fused step: two sessions of one artifact get the same random
 * batches; one runs nncc_session_train_step, the other compute_grads then
 * apply_update. After every step the losses and every param (parameters,
 * optimizer state, step, lr, running statistics) must be equal bit for
 * bit. Also: the gradient slots tile the buffer without overlap,
 * compute_grads leaves the step counter alone and (without batch norm,
 * whose statistics every forward moves) is repeatable, and a model without
 * halves says UNSUPPORTED.
 *
 *   split_check SPLIT.so CLASSES STEPS [PLAIN_TRAIN.so]
 * Prints one line per step; exit 0 when all holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nncc/nncc.h>

static int fails;

#define CHECK(c, ...)                                                   \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                   \
			fprintf(stderr, "\n");                          \
			fails++;                                        \
		}                                                       \
	} while (0)

static void ok(nncc_status st, char **err, const char *what)
{
	if (st != NNCC_STATUS_OK) {
		fprintf(stderr, "split_check: %s: %s\n", what, err && *err ? *err : nncc_status_string(st));
		exit(1);
	}
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Random inputs: f32 uniform in [-1, 1), i64 labels in [0, classes). */
static void set_inputs(nncc_session *a, nncc_session *b, const nncc_model *m, int classes)
{
	char *err = NULL;
	for (int i = 0; i < nncc_model_num_inputs(m); i++) {
		nncc_tensor_info t;
		nncc_model_input_info(m, i, &t);
		void *buf = malloc((size_t)t.nbytes + 1);
		int64_t n = t.nbytes / nncc_dtype_size(t.dtype);
		for (int64_t k = 0; k < n; k++) {
			if (t.dtype == NNCC_DTYPE_F32)
				((float *)buf)[k] = (float)((double)(next() >> 11) * 0x1p-52 - 1);
			else if (t.dtype == NNCC_DTYPE_I64)
				((int64_t *)buf)[k] = (int64_t)(next() % (uint64_t)classes);
			else
				ok(NNCC_STATUS_UNSUPPORTED, NULL, t.name);
		}
		ok(nncc_session_set_input(a, i, buf, t.rank, t.dims, t.dtype, &err), &err, t.name);
		ok(nncc_session_set_input(b, i, buf, t.rank, t.dims, t.dtype, &err), &err, t.name);
		free(buf);
	}
}

/* Compares every param of the two sessions; returns how many differ. */
static int diff_params(const nncc_session *a, const nncc_session *b, const nncc_model *m, int step)
{
	int n = 0;
	char *err = NULL;
	for (int i = 0; i < nncc_model_num_params(m); i++) {
		nncc_tensor_info t;
		nncc_model_param_info(m, i, &t);
		void *x = malloc((size_t)t.nbytes + 1), *y = malloc((size_t)t.nbytes + 1);
		ok(nncc_session_get_param(a, t.name, x, t.nbytes, &err), &err, t.name);
		ok(nncc_session_get_param(b, t.name, y, t.nbytes, &err), &err, t.name);
		if (memcmp(x, y, (size_t)t.nbytes) != 0) {
			fprintf(stderr, "step %d: param '%s' differs\n", step, t.name);
			n++;
		}
		free(x);
		free(y);
	}
	return n;
}

static void check_slots(const nncc_model *m, nncc_session *s)
{
	char *err = NULL;
	float *buf;
	int64_t count, end = 0;
	int n = nncc_model_num_grads(m);
	CHECK(n > 0, "no gradient slots");
	ok(nncc_session_grad_buffer(s, &buf, &count, &err), &err, "grad_buffer");
	for (int i = 0; i < n; i++) {
		nncc_grad_info g;
		nncc_tensor_info t;
		ok(nncc_model_grad_info(m, i, &g), NULL, "grad_info");
		int p = nncc_model_find_param(m, g.param);
		CHECK(p >= 0 && nncc_model_param_role(m, p) == 1, "slot %d: '%s' is no trained parameter", i,
		      g.param);
		if (p >= 0) {
			nncc_model_param_info(m, p, &t);
			CHECK(g.count * 4 == t.nbytes, "slot '%s': %lld floats", g.param, (long long)g.count);
		}
		CHECK(g.offset >= end && g.offset % 16 == 0, "slot '%s' at %lld overlaps or is unaligned",
		      g.param, (long long)g.offset);
		end = g.offset + g.count;
	}
	CHECK(end == count, "slots end at %lld, the buffer has %lld", (long long)end, (long long)count);
	nncc_grad_info g;
	CHECK(nncc_model_grad_info(m, n, &g) == NNCC_STATUS_INVALID_ARGUMENT, "slot %d exists", n);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: split_check SPLIT.so CLASSES STEPS [PLAIN_TRAIN.so]\n");
		return 2;
	}
	int classes = atoi(argv[2]), steps = atoi(argv[3]);
	nncc_model *m;
	nncc_session *a, *b;
	char *err = NULL;
	ok(nncc_model_load(argv[1], &m, &err), &err, argv[1]);
	ok(nncc_session_create(m, &a, &err), &err, "session");
	ok(nncc_session_create(m, &b, &err), &err, "session");
	nncc_session_set_seed(a, 7);
	nncc_session_set_seed(b, 7);
	check_slots(m, b);
	float *gb;
	int64_t ng;
	ok(nncc_session_grad_buffer(b, &gb, &ng, &err), &err, "grad_buffer");
	float *g1 = malloc((size_t)ng * sizeof *g1 + 1);
	int stats = 0; /* params of role buffer (running statistics) */
	for (int i = 0; i < nncc_model_num_params(m); i++)
		stats += nncc_model_param_role(m, i) == 6;
	for (int k = 0; k < steps; k++) {
		float la, lb, lb2;
		set_inputs(a, b, m, classes);
		ok(nncc_session_train_step(a, &la, &err), &err, "train_step");
		ok(nncc_session_compute_grads(b, &lb, &err), &err, "compute_grads");
		if (!stats) { /* (batch norm's running statistics move in every forward) */
			memcpy(g1, gb, (size_t)ng * sizeof *g1);
			ok(nncc_session_compute_grads(b, &lb2, &err), &err, "compute_grads");
			CHECK(memcmp(&lb, &lb2, sizeof lb) == 0 && memcmp(g1, gb, (size_t)ng * sizeof *g1) == 0,
			      "step %d: compute_grads is not repeatable", k);
		}
		CHECK(nncc_session_step(b) == k, "step %d: compute_grads moved the step counter", k);
		ok(nncc_session_apply_update(b, &err), &err, "apply_update");
		double gn = 0;
		for (int64_t i = 0; i < ng; i++)
			gn += (double)gb[i] * gb[i];
		CHECK(gn > 0, "step %d: the gradient buffer is zero", k);
		CHECK(memcmp(&la, &lb, sizeof la) == 0, "step %d: loss %.9g (fused) vs %.9g (split)", k,
		      (double)la, (double)lb);
		int nd = diff_params(a, b, m, k);
		CHECK(nd == 0, "step %d: %d params differ", k, nd);
		CHECK(nncc_session_step(b) == k + 1, "step %d: the step counter is %lld", k,
		      (long long)nncc_session_step(b));
		printf("step %d loss %.6f |grad| %.6g params equal: %s\n", k, (double)la, gn,
		       nd == 0 ? "yes" : "NO");
	}
	free(g1);
	if (argc > 4) { /* a step compiled without --split-step */
		nncc_model *pm;
		nncc_session *ps;
		ok(nncc_model_load(argv[4], &pm, &err), &err, argv[4]);
		ok(nncc_session_create(pm, &ps, &err), &err, "session");
		CHECK(nncc_model_num_grads(pm) == 0, "a plain step has gradient slots");
		nncc_status st = nncc_session_compute_grads(ps, NULL, &err);
		CHECK(st == NNCC_STATUS_UNSUPPORTED && err && strstr(err, "--split-step"),
		      "compute_grads on a plain step: %s", err ? err : "no message");
		printf("plain step: %s\n", err ? err : "?");
		free(err);
		err = NULL;
		nncc_session_free(ps);
		nncc_model_free(pm);
	}
	nncc_session_free(a);
	nncc_session_free(b);
	nncc_model_free(m);
	printf("%s\n", fails ? "FAILED" : "OK");
	return fails ? 1 : 0;
}
