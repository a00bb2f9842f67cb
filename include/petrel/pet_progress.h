/* petrel: callbacks of the long batch loops (projections of whole histograms, simulation), so
 * that a caller can show progress and stop the work early without globals in the library. */
#ifndef PET_PROGRESS_H
#define PET_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Passed by pointer (NULL: none). Both functions may be NULL; ctx is borrowed and passed back.
 * should_stop is polled between batches: when it returns true the loop returns
 * PET_ERR_INTERRUPTED at once (outputs partly filled, nothing written). progress is called
 * after every batch with the items done so far and the total (same units: bins, events).
 * Called from the calling thread only, outside OpenMP regions.
 */
typedef struct pet_batch_cb {
  bool (*should_stop)(void *ctx);
  void (*progress)(void *ctx, int64_t done, int64_t total);
  void *ctx;
} pet_batch_cb;

/** True when cb asks to stop. Local. */
static inline bool pet_batch_cb_stop(const pet_batch_cb *cb)
{
  return cb != NULL && cb->should_stop != NULL && cb->should_stop(cb->ctx);
}
/** Reports progress through cb, if any. Local. */
static inline void pet_batch_cb_report(const pet_batch_cb *cb, int64_t done, int64_t total)
{
  if (cb != NULL && cb->progress != NULL) cb->progress(cb->ctx, done, total);
}

#ifdef __cplusplus
}
#endif
#endif /* PET_PROGRESS_H */
