/* petrel: what a reconstruction needs from a communicator: sums over ranks and agreement on a
 * status. mpi/ provides one over MPI/NCCL (pet_comm_reducer); a NULL reducer is one process. */
#ifndef PET_REDUCER_H
#define PET_REDUCER_H

#include <stdint.h>

#include "pet_image.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Sums a buffer over ranks (in place). space: where buf lives. NULL ops = one process. */
typedef struct pet_reducer {
  void *ctx;
  int rank, size;
  pet_status (*allreduce_sum)(void *ctx, float *buf, int64_t n, pet_memspace space);
  /* agree on a status across ranks: returns the worst status of any rank */
  pet_status (*agree)(void *ctx, pet_status local);
  /* Optional pair for the slab update (both NULL = not offered); space: where the buffers live.
   * reduce_scatter_sum: sums send (sum(counts) floats) over ranks and gives rank r only the
   * counts[r] floats of its slab (at offset sum(counts[<r]) of the sum) in recv.
   * allgather: each rank's slab of buf (counts[r] floats at that offset) to every rank. */
  pet_status (*reduce_scatter_sum)(void *ctx, const float *send, float *recv, const int64_t *counts,
                                   pet_memspace space);
  pet_status (*allgather)(void *ctx, float *buf, const int64_t *counts, pet_memspace space);
} pet_reducer;

/** Sums buf (n floats in space) over r's ranks in place; nothing to do for a NULL reducer
 *  (one process), one rank, or no allreduce_sum. Collective on r. */
static inline pet_status pet_reducer_sum(const pet_reducer *r, float *buf, int64_t n, pet_memspace space)
{
  if (r == NULL || r->size <= 1 || r->allreduce_sum == NULL) return PET_OK;
  return r->allreduce_sum(r->ctx, buf, n, space);
}

/** The worst of every rank's local status (local itself for a NULL reducer or no agree).
 *  Collective on r. */
static inline pet_status pet_reducer_agree(const pet_reducer *r, pet_status local)
{
  if (r == NULL || r->agree == NULL) return local;
  return r->agree(r->ctx, local);
}

#ifdef __cplusplus
}
#endif
#endif /* PET_REDUCER_H */
