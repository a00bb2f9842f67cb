/* petrel: the communicator. Only mpi/ includes mpi.h and nccl.h; algorithms call pet_comm_*
 * at named points (sum the backprojection once per subset, agree on a status per phase). */
#ifndef PET_COMM_H
#define PET_COMM_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_image.h"
#include "pet_reducer.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PET_COMM_VERSION_LEN 320

/** What the build's communication and I/O layers are. Local. */
typedef struct pet_comm_build_info {
  bool nccl;
  bool hdf5_parallel;
  char mpi_version[PET_COMM_VERSION_LEN];
  char hdf5_version[32];
} pet_comm_build_info;

pet_comm_build_info pet_comm_build_info_get(void);

typedef enum pet_comm_backend {
  PET_COMM_AUTO = 0, /* NCCL for device buffers when every rank has its own GPU, else MPI */
  PET_COMM_MPI = 1,  /* host MPI for everything (device buffers are staged through the host) */
  PET_COMM_NCCL = 2  /* NCCL required for device buffers: refused if ranks share a GPU */
} pet_comm_backend;

typedef struct pet_comm pet_comm;

/**
 * Initialises MPI (unless already initialised) and returns a communicator over
 * MPI_COMM_WORLD with the node-local rank (MPI_Comm_split_type SHARED). Works as a single
 * process without mpirun. Returns ownership: pet_comm_finalize. Collective.
 */
pet_status pet_comm_init(int *argc, char ***argv, pet_comm **comm);
/**
 * Binds this rank to GPU local_rank % n_gpus and, with NCCL built in and asked for (or AUTO
 * with at least as many GPUs as ranks on every node), creates the NCCL communicator from a
 * unique id broadcast over MPI. With more ranks than GPUs on a node: AUTO falls back to the
 * host path, NCCL is refused with a clear message. Collective.
 */
pet_status pet_comm_setup_gpu(pet_comm *comm, pet_comm_backend backend, int *device_out);
/** Tears down NCCL, then MPI (if this module initialised it). NULL-safe. Collective. */
void pet_comm_finalize(pet_comm **comm);

int pet_comm_rank(const pet_comm *c);
int pet_comm_size(const pet_comm *c);
int pet_comm_local_rank(const pet_comm *c);
int pet_comm_local_size(const pet_comm *c);
/** "mpi" or "nccl": what device buffers are summed with. */
const char *pet_comm_device_backend(const pet_comm *c);

/** Sums n floats over all ranks, in place. Host buffers: MPI_Allreduce; device buffers:
 *  NCCL, or staged through the host when NCCL is not in use. Collective on comm. */
pet_status pet_comm_allreduce_sum(pet_comm *c, float *buf, int64_t n, pet_memspace space);
/** Sums, then gives each rank only its slab: recv gets elements [counts-prefix) of the sum.
 *  counts[r] elements go to rank r. Host buffers: MPI_Reduce_scatter; device buffers: one
 *  NCCL reduce per slab in a group, or staged through the host without NCCL. Collective. */
pet_status pet_comm_reduce_scatter_sum(pet_comm *c, const float *send, float *recv,
                                       const int64_t *counts, pet_memspace space);
/** Gathers each rank's slab (counts[r] floats at offset sum(counts[<r])) into buf, in place
 *  (host: MPI_Allgatherv; device: NCCL broadcasts in a group, or staged). Collective. */
pet_status pet_comm_allgather(pet_comm *c, float *buf, const int64_t *counts, pet_memspace space);
/** Sums doubles / int64s over ranks in place. Collective on comm. */
pet_status pet_comm_allreduce_sum_f64(pet_comm *c, double *buf, int64_t n);
pet_status pet_comm_allreduce_sum_i64(pet_comm *c, int64_t *buf, int64_t n);
/** Broadcasts bytes from root. Collective on comm. */
pet_status pet_comm_bcast(pet_comm *c, void *buf, int64_t bytes, int root);
pet_status pet_comm_barrier(pet_comm *c);

/**
 * Agreement at the end of a phase: every rank passes its local status; all get PET_OK only
 * if every rank succeeded. Otherwise the lowest failing rank's status and message are
 * broadcast, and every rank returns that status with the message "rank R: <message>", so
 * that no rank is left waiting in a later collective. Collective on comm.
 */
pet_status pet_comm_agree(pet_comm *c, pet_status local);

/** A pet_reducer (for pet_osem_run) over this communicator. Local. */
pet_reducer pet_comm_reducer(pet_comm *c);

/** Splits comm into groups of consecutive ranks (color = rank / group_size); returns a new
 *  communicator (pet_comm_finalize frees it, without finalising MPI). Collective. */
pet_status pet_comm_split(pet_comm *c, int color, pet_comm **sub);

/** Wall-clock seconds (MPI_Wtime). Local. */
double pet_comm_wtime(void);

/**
 * Times an NCCL all-reduce (sum, in place) of n floats on the current device over a
 * one-rank NCCL communicator, best of `iters` after a warm-up: the per-call cost of the
 * device reduction that pet_comm_allreduce_sum issues once per OSEM subset (on one GPU it
 * measures NCCL's launch and copy path, not the links). *ms = milliseconds per call.
 * PET_ERR_UNSUPPORTED without NCCL. Local.
 */
pet_status pet_comm_nccl_allreduce_bench(int64_t n, int iters, double *ms);

#ifdef __cplusplus
}
#endif
#endif /* PET_COMM_H */
