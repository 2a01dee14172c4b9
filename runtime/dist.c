/* dist.c — data-parallel training over MPI (include/nncc/nncc_dist.h,
 * docs/distributed.md). Built as its own library, libnncc_dist, only
 * where CMake finds MPI; it uses nothing of the runtime but its public
 * API (nncc.h), so libnncc_rt stays MPI-free.
 *
 * A step: nncc_session_compute_grads fills the session's flat gradient
 * buffer; the buffer is averaged over the ranks in buckets of
 * bucket_bytes, one MPI_Iallreduce (MPI_SUM, in place) each, all posted
 * at once, and each bucket is scaled by 1/size as MPI_Waitany hands it
 * back, while later buckets are still on the wire; then
 * nncc_session_apply_update. Every rank applies the same update to the
 * same parameters, so they stay bit-identical as long as the allreduce
 * gives every rank the same sums (MPI recommends it; OpenMPI's algorithms
 * do; tests/dist/dist_check.c checks it after every step).
 *
 * Overlap: the compiled backward is one function, so the buckets cannot
 * start before the whole gradient is there; what overlaps is the scaling
 * of finished buckets with the transfer of the others, and whatever the
 * application does between allreduce_start and allreduce_finish (the
 * example prepares its next batch there). Starting each bucket as soon
 * as the backward has written it would need the generated step to call
 * back after the kernel that completes a bucket (docs/distributed.md).
 *
 * NCCL: with the CUDA backend the same helper would call ncclAllReduce
 * on the device copy of the gradient buffer (ncclAvg) on a stream
 * ordered after the gradients' kernels; the CUDA runtime here has no
 * halves yet and this machine no NCCL, so the halves are CPU-only. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nncc/nncc_dist.h>

enum { DEFAULT_BUCKET = 4 << 20 };  /* bytes of gradient per allreduce */
enum { MAX_MSG = 1 << 30 };         /* bytes per MPI message (int counts) */

struct nncc_dist {
	nncc_session *s;       /* the rank's session (not owned) */
	const nncc_model *m;   /* its model */
	MPI_Comm comm;         /* our duplicate of the caller's communicator */
	int rank, size;        /* this rank, ranks */
	float *grad;           /* the session's gradient buffer */
	int64_t ngrad;         /* its floats */
	int64_t bucket;        /* floats per bucket, a multiple of 16 */
	int nbucket;           /* buckets in the buffer */
	MPI_Request *req;      /* one per bucket, plus the loss's */
	int pending;           /* an allreduce was started and not finished */
	float loss;            /* this rank's loss, then the mean (in place) */
};

/* A malloc'd message in *err (when err is not NULL), as the runtime's. */
static nncc_status __attribute__((format(printf, 3, 4)))
fail(char **err, nncc_status st, const char *fmt, ...)
{
	if (err && (*err = malloc(512))) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(*err, 512, fmt, ap);
		va_end(ap);
	}
	return st;
}

static nncc_status mpi_fail(char **err, int rc, const char *what)
{
	char msg[MPI_MAX_ERROR_STRING + 1];
	int len = 0;
	if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
		len = 0;
	msg[len] = 0;
	return fail(err, NNCC_STATUS_IO_ERROR, "MPI: %s failed: %s", what, len ? msg : "unknown error");
}

int nncc_dist_rank(const nncc_dist *d) { return d ? d->rank : 0; }
int nncc_dist_size(const nncc_dist *d) { return d ? d->size : 1; }

void nncc_dist_shard(const nncc_dist *d, int64_t n, int64_t *begin, int64_t *count)
{
	int64_t k = d ? d->size : 1, r = d ? d->rank : 0, q = n / k, extra = n % k;
	*begin = r * q + (r < extra ? r : extra);
	*count = q + (r < extra);
}

void nncc_dist_free(nncc_dist *d)
{
	if (!d)
		return;
	if (d->pending)
		MPI_Waitall(d->nbucket + 1, d->req, MPI_STATUSES_IGNORE);
	MPI_Comm_free(&d->comm);
	free(d->req);
	free(d);
}

nncc_status nncc_dist_create(nncc_session *s, const nncc_model *m, MPI_Comm comm,
			     int64_t bucket_bytes, nncc_dist **out, char **err)
{
	nncc_status st;
	int rc;
	if (err)
		*err = NULL;
	if (!out || !s || !m)
		return fail(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_dist_create: no session");
	*out = NULL;
	nncc_dist *d = calloc(1, sizeof *d);
	if (!d)
		return fail(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	d->s = s;
	d->m = m;
	if ((rc = MPI_Comm_dup(comm, &d->comm)) != MPI_SUCCESS) {
		free(d);
		return mpi_fail(err, rc, "MPI_Comm_dup");
	}
	MPI_Comm_rank(d->comm, &d->rank);
	MPI_Comm_size(d->comm, &d->size);
	st = nncc_session_grad_buffer(s, &d->grad, &d->ngrad, err);
	/* every rank must hold the same gradient layout: compare the sizes */
	long long mine[2] = {st == NNCC_STATUS_OK ? d->ngrad : -1, st == NNCC_STATUS_OK ? -d->ngrad : 1};
	long long lo[2];
	if ((rc = MPI_Allreduce(mine, lo, 2, MPI_LONG_LONG, MPI_MIN, d->comm)) != MPI_SUCCESS) {
		nncc_dist_free(d);
		return mpi_fail(err, rc, "MPI_Allreduce");
	}
	if (st != NNCC_STATUS_OK) {
		nncc_dist_free(d);
		return st;
	}
	if (lo[0] != d->ngrad || -lo[1] != d->ngrad) {
		nncc_dist_free(d);
		return fail(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_dist_create: model '%s': the ranks' "
			    "gradient buffers differ in size (this rank: %lld floats)", nncc_model_name(m),
			    (long long)d->ngrad);
	}
	if (bucket_bytes <= 0) {
		const char *e = getenv("NNCC_DIST_BUCKET_BYTES");
		bucket_bytes = e && atoll(e) > 0 ? atoll(e) : DEFAULT_BUCKET;
	}
	if (bucket_bytes > MAX_MSG)
		bucket_bytes = MAX_MSG;
	d->bucket = (bucket_bytes / 4 + 15) / 16 * 16;
	int64_t nb = (d->ngrad + d->bucket - 1) / d->bucket;
	d->nbucket = nb > 0 ? (int)nb : 0;
	if (nb > INT_MAX - 1 || !(d->req = malloc((size_t)(d->nbucket + 1) * sizeof *d->req))) {
		nncc_dist_free(d);
		return fail(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	}
	*out = d;
	return NNCC_STATUS_OK;
}

/* MPI_Bcast of n bytes from rank 0, in messages of at most MAX_MSG. */
static int bcast(void *p, int64_t n, MPI_Comm comm)
{
	for (int64_t o = 0; o < n; o += MAX_MSG) {
		int rc = MPI_Bcast((char *)p + o, (int)(n - o < MAX_MSG ? n - o : MAX_MSG), MPI_BYTE, 0, comm);
		if (rc != MPI_SUCCESS)
			return rc;
	}
	return MPI_SUCCESS;
}

nncc_status nncc_dist_broadcast_state(nncc_dist *d, char **err)
{
	if (err)
		*err = NULL;
	if (!d)
		return fail(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_dist_broadcast_state: no helper");
	int n = nncc_model_num_params(d->m);
	int64_t max = 1;
	for (int i = 0; i < n; i++) {
		nncc_tensor_info t;
		nncc_model_param_info(d->m, i, &t);
		max = t.nbytes > max ? t.nbytes : max;
	}
	void *buf = malloc((size_t)max);
	if (!buf)
		return fail(err, NNCC_STATUS_OUT_OF_MEMORY, "out of memory");
	nncc_status st = NNCC_STATUS_OK;
	for (int i = 0; i < n && st == NNCC_STATUS_OK; i++) {
		int role = nncc_model_param_role(d->m, i);
		nncc_tensor_info t;
		nncc_model_param_info(d->m, i, &t);
		if (role == 0 || role == 5) /* constants; the seed (each rank's own draws) */
			continue;
		if (d->rank == 0)
			st = nncc_session_get_param(d->s, t.name, buf, t.nbytes, err);
		int rc = bcast(buf, t.nbytes, d->comm); /* the same sequence on every rank */
		if (rc != MPI_SUCCESS)
			st = mpi_fail(err, rc, "MPI_Bcast");
		else if (st == NNCC_STATUS_OK && d->rank != 0)
			st = nncc_session_set_param(d->s, t.name, buf, t.nbytes, err);
	}
	free(buf);
	return st;
}

nncc_status nncc_dist_allreduce_start(nncc_dist *d, float loss, char **err)
{
	if (err)
		*err = NULL;
	if (!d || d->pending)
		return fail(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_dist_allreduce_start: %s",
			    d ? "already started" : "no helper");
	for (int b = 0; b < d->nbucket; b++) {
		int64_t o = (int64_t)b * d->bucket, n = d->ngrad - o < d->bucket ? d->ngrad - o : d->bucket;
		int rc = MPI_Iallreduce(MPI_IN_PLACE, d->grad + o, (int)n, MPI_FLOAT, MPI_SUM, d->comm,
					&d->req[b]);
		if (rc != MPI_SUCCESS) {
			MPI_Waitall(b, d->req, MPI_STATUSES_IGNORE);
			return mpi_fail(err, rc, "MPI_Iallreduce");
		}
	}
	d->loss = loss;
	int rc = MPI_Iallreduce(MPI_IN_PLACE, &d->loss, 1, MPI_FLOAT, MPI_SUM, d->comm,
				&d->req[d->nbucket]);
	if (rc != MPI_SUCCESS) {
		MPI_Waitall(d->nbucket, d->req, MPI_STATUSES_IGNORE);
		return mpi_fail(err, rc, "MPI_Iallreduce");
	}
	d->pending = 1;
	return NNCC_STATUS_OK;
}

nncc_status nncc_dist_allreduce_finish(nncc_dist *d, float *mean_loss, char **err)
{
	if (err)
		*err = NULL;
	if (!d || !d->pending)
		return fail(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_dist_allreduce_finish: %s",
			    d ? "not started" : "no helper");
	const float inv = 1.0f / (float)d->size;
	d->pending = 0;
	for (int done = 0; done <= d->nbucket; done++) {
		int b, rc = MPI_Waitany(d->nbucket + 1, d->req, &b, MPI_STATUS_IGNORE);
		if (rc != MPI_SUCCESS) {
			MPI_Waitall(d->nbucket + 1, d->req, MPI_STATUSES_IGNORE);
			return mpi_fail(err, rc, "MPI_Waitany");
		}
		if (b == MPI_UNDEFINED)
			break;
		if (b == d->nbucket) {
			d->loss *= inv;
			continue;
		}
		float *g = d->grad + (int64_t)b * d->bucket; /* a bucket: scale it */
		int64_t n = d->ngrad - (int64_t)b * d->bucket;
		n = n < d->bucket ? n : d->bucket;
		for (int64_t i = 0; i < n; i++) /* the same rounding on every rank */
			g[i] *= inv;
	}
	if (mean_loss)
		*mean_loss = d->loss;
	return NNCC_STATUS_OK;
}

nncc_status nncc_dist_train_step(nncc_dist *d, float *loss, char **err)
{
	nncc_status st;
	if (err)
		*err = NULL;
	if (!d)
		return fail(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_dist_train_step: no helper");
	/* a failure on one rank must not leave the others waiting: every rank
	 * takes part in the allreduce, a failed one with zeros and a NaN loss,
	 * and a NaN mean stops every rank before its update */
	float mine;
	if ((st = nncc_session_compute_grads(d->s, &mine, err)) != NNCC_STATUS_OK) {
		memset(d->grad, 0, (size_t)d->ngrad * sizeof *d->grad);
		mine = NAN;
	}
	char *e2 = NULL;
	nncc_status st2 = nncc_dist_allreduce_start(d, mine, st == NNCC_STATUS_OK ? err : &e2);
	if (st2 == NNCC_STATUS_OK)
		st2 = nncc_dist_allreduce_finish(d, loss, st == NNCC_STATUS_OK ? err : &e2);
	free(e2);
	if (st != NNCC_STATUS_OK)
		return st;
	if (st2 != NNCC_STATUS_OK)
		return st2;
	if (isnan(d->loss)) /* the mean: no rank updates, so the parameters stay equal */
		return fail(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_dist_train_step: the mean loss is NaN "
			    "(another rank failed, or a loss is NaN): no update");
	return nncc_session_apply_update(d->s, err);
}

/* rank 0's status, everywhere; other ranks get a message saying so. */
static nncc_status agree(nncc_dist *d, nncc_status st, const char *path, char **err)
{
	int v = (int)st;
	int rc = MPI_Bcast(&v, 1, MPI_INT, 0, d->comm);
	if (rc != MPI_SUCCESS)
		return mpi_fail(err, rc, "MPI_Bcast");
	if (d->rank != 0 && v != NNCC_STATUS_OK)
		return fail(err, (nncc_status)v, "%s: rank 0 failed (%s)", path,
			    nncc_status_string((nncc_status)v));
	return (nncc_status)v;
}

nncc_status nncc_dist_save_weights(nncc_dist *d, const char *path, char **err)
{
	if (err)
		*err = NULL;
	if (!d || !path)
		return fail(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_dist_save_weights: no helper or path");
	nncc_status st = d->rank == 0 ? nncc_session_save_weights(d->s, path, err) : NNCC_STATUS_OK;
	return agree(d, st, path, err);
}

nncc_status nncc_dist_load_weights(nncc_dist *d, const char *path, char **err)
{
	if (err)
		*err = NULL;
	if (!d || !path)
		return fail(err, NNCC_STATUS_INVALID_ARGUMENT, "nncc_dist_load_weights: no helper or path");
	nncc_status st = d->rank == 0 ? nncc_session_load_weights(d->s, path, err) : NNCC_STATUS_OK;
	if ((st = agree(d, st, path, err)) != NNCC_STATUS_OK)
		return st;
	return nncc_dist_broadcast_state(d, err);
}
