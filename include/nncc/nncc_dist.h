/* nncc_dist.h — data-parallel training over MPI (docs/distributed.md).
 *
 * libnncc_dist (runtime/dist.c) is built only where CMake finds MPI; the
 * core runtime (libnncc_rt) stays MPI-free. Each process (rank) holds a
 * session of the same training step, compiled with `nncc --train
 * --split-step`, and trains on its shard of every global batch: the
 * gradients are computed locally (nncc_session_compute_grads), averaged
 * over the ranks with MPI_Allreduce in buckets, and the optimizer's update
 * applied on every rank from the same average (nncc_session_apply_update),
 * so the parameters stay identical on all ranks. The caller initializes
 * and finalizes MPI. */
#ifndef NNCC_DIST_H
#define NNCC_DIST_H

#include <mpi.h>
#include <stdint.h>

#include <nncc/nncc.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nncc_dist nncc_dist; /* one rank's helper */

/* Creates the helper of session s (of model m, a --split-step step) over
 * comm (duplicated; MPI_COMM_WORLD usually). bucket_bytes: gradient bytes
 * per allreduce (0: $NNCC_DIST_BUCKET_BYTES, else 4 MiB). Collective:
 * every rank of comm calls it. UNSUPPORTED when the step has no halves;
 * INVALID_ARGUMENT when the ranks' models differ in their gradients. */
nncc_status nncc_dist_create(nncc_session *s, const nncc_model *m, MPI_Comm comm,
			     int64_t bucket_bytes, nncc_dist **out, char **err);
void nncc_dist_free(nncc_dist *d);
int nncc_dist_rank(const nncc_dist *d);
int nncc_dist_size(const nncc_dist *d);

/* Copies rank 0's training state (parameters, optimizer state, step,
 * learning rate, running statistics; not the random seed, which each rank
 * keeps for its own dropout and augmentation draws) to every rank.
 * Collective; call it once before training. */
nncc_status nncc_dist_broadcast_state(nncc_dist *d, char **err);

/* Averages the session's gradient buffer over the ranks: one nonblocking
 * MPI_Iallreduce (sum) per bucket, each bucket scaled by 1/size as it
 * completes, and the ranks' losses with them. start posts them (loss:
 * this rank's) and returns; finish waits and gives the mean loss in
 * *mean_loss (may be NULL). Between the two the caller may do other work
 * (prepare its next batch), but must leave the gradient buffer alone.
 * Collective. */
nncc_status nncc_dist_allreduce_start(nncc_dist *d, float loss, char **err);
nncc_status nncc_dist_allreduce_finish(nncc_dist *d, float *mean_loss, char **err);

/* One data-parallel step on the inputs set: compute_grads, the averaging
 * above, apply_update. *loss (may be NULL) gets the mean of the ranks'
 * losses (the loss of the global batch, for mean losses). Collective.
 * When a rank fails, every rank returns an error and none updates (the
 * failed rank sends a NaN loss; a NaN loss anywhere stops the step). */
nncc_status nncc_dist_train_step(nncc_dist *d, float *loss, char **err);

/* This rank's share of n items split as evenly as the ranks allow, in
 * rank order: [*begin, *begin + *count). E.g. the indices of its samples
 * in a global batch of n. */
void nncc_dist_shard(const nncc_dist *d, int64_t n, int64_t *begin, int64_t *count);

/* Checkpoints: rank 0 writes the file (nncc_session_save_weights); every
 * rank returns rank 0's status. load: rank 0 reads the file and
 * broadcasts the state, so only rank 0 needs to see the file. Collective. */
nncc_status nncc_dist_save_weights(nncc_dist *d, const char *path, char **err);
nncc_status nncc_dist_load_weights(nncc_dist *d, const char *path, char **err);

#ifdef __cplusplus
}
#endif

#endif
