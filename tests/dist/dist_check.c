/* dist_check.c — data-parallel training under mpirun (docs/distributed.md):
 *
 *   mpirun -np K dist_check SPLIT.so FULL.so CLASSES STEPS
 *
 * SPLIT.so is a step compiled with --split-step for a batch of B, FULL.so
 * the same model and optimizer compiled (fused) for the global batch K*B.
 * Ranks other than 0 first scramble their parameters, so the broadcast of
 * rank 0's state is tested too. Every step, each rank trains on its shard
 * of the same global batch (nncc_dist_shard, nncc_dist_train_step with
 * small buckets, so the gradient goes in several allreduces), and rank 0
 * also trains FULL.so on the whole batch. After each step:
 *   - every rank's training state is bit-identical to rank 0's;
 *   - rank 0's parameters equal the single process's within 1e-5
 *     relative (per tensor: max |a - b| <= 1e-5 * max |b|), as do the
 *     losses (the mean of the ranks' mean losses is the global batch's).
 * Then a checkpoint written by rank 0 only and loaded back through rank 0
 * gives every rank the same state. Exit 0 on every rank when all holds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nncc/nncc_dist.h>

static int rank, fails;

#define CHECK(c, ...)                                                            \
	do {                                                                     \
		if (!(c)) {                                                      \
			fprintf(stderr, "rank %d: FAIL %s:%d: ", rank, __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                            \
			fprintf(stderr, "\n");                                   \
			fails++;                                                 \
		}                                                                \
	} while (0)

static void ok(nncc_status st, char **err, const char *what)
{
	if (st != NNCC_STATUS_OK) {
		fprintf(stderr, "rank %d: %s: %s\n", rank, what, err && *err ? *err : nncc_status_string(st));
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
}

static uint64_t next(uint64_t *z)
{
	uint64_t x = (*z += 0x9e3779b97f4a7c15u);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

/* Sets input `name` of s to rows [r0, r0 + rows) of the global tensor. */
static void set_rows(nncc_session *s, const nncc_model *m, int i, const void *global, int64_t r0)
{
	nncc_tensor_info t;
	char *err = NULL;
	nncc_model_input_info(m, i, &t);
	int64_t row = t.nbytes / t.dims[0];
	ok(nncc_session_set_input(s, i, (const char *)global + r0 * row, t.rank, t.dims, t.dtype, &err),
	   &err, t.name);
}

static void *param(const nncc_session *s, const nncc_model *m, int i, int64_t *nbytes)
{
	nncc_tensor_info t;
	char *err = NULL;
	nncc_model_param_info(m, i, &t);
	void *p = malloc((size_t)t.nbytes + 1);
	ok(nncc_session_get_param(s, t.name, p, t.nbytes, &err), &err, t.name);
	*nbytes = t.nbytes;
	return p;
}

/* Training state of every rank against rank 0's, bit for bit. */
static int compare_ranks(const nncc_session *s, const nncc_model *m, int size)
{
	int bad = 0;
	for (int i = 0; i < nncc_model_num_params(m); i++) {
		int role = nncc_model_param_role(m, i);
		if (role == 0 || role == 5) /* constants; each rank's own seed */
			continue;
		int64_t n;
		void *mine = param(s, m, i, &n), *theirs = malloc((size_t)n + 1);
		for (int r = 1; r < size; r++) {
			if (rank == r)
				MPI_Send(mine, (int)n, MPI_BYTE, 0, i, MPI_COMM_WORLD);
			if (rank == 0) {
				MPI_Recv(theirs, (int)n, MPI_BYTE, r, i, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
				nncc_tensor_info t;
				nncc_model_param_info(m, i, &t);
				if (memcmp(mine, theirs, (size_t)n) != 0) {
					fprintf(stderr, "rank %d's '%s' differs from rank 0's\n", r, t.name);
					bad++;
				}
			}
		}
		free(mine);
		free(theirs);
	}
	return bad;
}

/* Largest per-tensor relative difference of trained parameters. */
static double compare_single(const nncc_session *s, const nncc_model *m, const nncc_session *f)
{
	double worst = 0;
	for (int i = 0; i < nncc_model_num_params(m); i++) {
		if (nncc_model_param_role(m, i) != 1)
			continue;
		int64_t n;
		float *a = param(s, m, i, &n), *b = param(f, m, i, &n); /* same names and shapes */
		double diff = 0, mx = 0;
		for (int64_t k = 0; k < n / 4; k++) {
			diff = fmax(diff, fabs((double)a[k] - b[k]));
			mx = fmax(mx, fabs((double)b[k]));
		}
		worst = fmax(worst, mx > 0 ? diff / mx : diff);
		free(a);
		free(b);
	}
	return worst;
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	int size;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (argc != 5) {
		if (rank == 0)
			fprintf(stderr, "usage: mpirun -np K dist_check SPLIT.so FULL.so CLASSES STEPS\n");
		MPI_Finalize();
		return 2;
	}
	int classes = atoi(argv[3]), steps = atoi(argv[4]);
	char *err = NULL;
	nncc_model *m, *fm = NULL;
	nncc_session *s, *fs = NULL;
	nncc_dist *d;
	ok(nncc_model_load(argv[1], &m, &err), &err, argv[1]);
	ok(nncc_session_create(m, &s, &err), &err, "session");
	ok(nncc_dist_create(s, m, MPI_COMM_WORLD, 64 << 10, &d, &err), &err, "nncc_dist_create");
	uint64_t z = 12345 + (uint64_t)rank;
	if (rank != 0) /* scramble: the broadcast must undo it */
		for (int i = 0; i < nncc_model_num_params(m); i++)
			if (nncc_model_param_role(m, i) == 1) {
				int64_t n;
				float *p = param(s, m, i, &n);
				for (int64_t k = 0; k < n / 4; k++)
					p[k] = (float)(next(&z) % 1000) * 1e-3f;
				nncc_tensor_info t;
				nncc_model_param_info(m, i, &t);
				ok(nncc_session_set_param(s, t.name, p, n, &err), &err, t.name);
				free(p);
			}
	ok(nncc_dist_broadcast_state(d, &err), &err, "broadcast");
	CHECK(compare_ranks(s, m, size) == 0, "after the broadcast");
	if (rank == 0) {
		ok(nncc_model_load(argv[2], &fm, &err), &err, argv[2]);
		ok(nncc_session_create(fm, &fs, &err), &err, "session");
		double w = compare_single(s, m, fs);
		CHECK(w == 0, "the two models start from different parameters (%g)", w);
	}
	/* the global batch: the same on every rank */
	int nin = nncc_model_num_inputs(m);
	void **global = calloc((size_t)nin, sizeof *global);
	int64_t begin, count, B = 0;
	for (int k = 0; k < steps; k++) {
		uint64_t g = 777 + (uint64_t)k;
		for (int i = 0; i < nin; i++) {
			nncc_tensor_info t;
			nncc_model_input_info(m, i, &t);
			B = t.dims[0];
			int64_t n = t.nbytes / nncc_dtype_size(t.dtype) * size;
			free(global[i]);
			global[i] = malloc((size_t)(t.nbytes * size));
			for (int64_t e = 0; e < n; e++)
				if (t.dtype == NNCC_DTYPE_F32)
					((float *)global[i])[e] = (float)((double)(next(&g) >> 11) * 0x1p-52 - 0.5);
				else
					((int64_t *)global[i])[e] = (int64_t)(next(&g) % (uint64_t)classes);
		}
		nncc_dist_shard(d, B * size, &begin, &count);
		CHECK(count == B, "shard of %lld rows", (long long)count);
		for (int i = 0; i < nin; i++)
			set_rows(s, m, i, global[i], begin);
		float loss, floss = 0;
		ok(nncc_dist_train_step(d, &loss, &err), &err, "nncc_dist_train_step");
		int bad = compare_ranks(s, m, size);
		CHECK(bad == 0, "step %d: %d tensors differ between ranks", k, bad);
		if (rank == 0) {
			for (int i = 0; i < nin; i++) {
				nncc_tensor_info t;
				nncc_model_input_info(fm, i, &t);
				ok(nncc_session_set_input(fs, i, global[i], t.rank, t.dims, t.dtype, &err), &err,
				   t.name);
			}
			ok(nncc_session_train_step(fs, &floss, &err), &err, "single-process step");
			double w = compare_single(s, m, fs);
			double lr = fabs((double)loss - floss) / fabs((double)floss);
			CHECK(w <= 1e-5, "step %d: parameters %.3g relative from the single process", k, w);
			CHECK(lr <= 1e-5, "step %d: loss %.9g vs %.9g", k, (double)loss, (double)floss);
			printf("step %d: loss %.6f (single process %.6f), ranks identical: %s, "
			       "max relative difference to one process %.3g\n", k, (double)loss, (double)floss,
			       bad ? "NO" : "yes", w);
		}
	}
	/* checkpoint by rank 0 alone, read back through rank 0 */
	char path[64];
	snprintf(path, sizeof path, "/tmp/nncc-dist-check-%ld.safetensors", (long)getpid());
	MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
	ok(nncc_dist_save_weights(d, path, &err), &err, "save");
	float loss;
	ok(nncc_dist_train_step(d, &loss, &err), &err, "step after save");
	ok(nncc_dist_load_weights(d, path, &err), &err, "load");
	CHECK(nncc_session_step(s) == steps, "step %lld after loading the checkpoint of step %d",
	      (long long)nncc_session_step(s), steps);
	CHECK(compare_ranks(s, m, size) == 0, "after loading the checkpoint");
	if (rank == 0) {
		CHECK(compare_single(s, m, fs) <= 1e-5, "the checkpoint's parameters");
		unlink(path);
	}
	int all;
	MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	if (rank == 0)
		printf("dist_check: %d ranks, %d steps: %s\n", size, steps, all ? "FAILED" : "OK");
	for (int i = 0; i < nin; i++)
		free(global[i]);
	free(global);
	nncc_dist_free(d);
	nncc_session_free(s);
	nncc_session_free(fs);
	nncc_model_free(m);
	nncc_model_free(fm);
	MPI_Finalize();
	return all ? 1 : 0;
}
