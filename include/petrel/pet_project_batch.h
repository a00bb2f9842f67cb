/* petrel: projections of whole histograms (or ranges of bins) in bounded-memory batches, on
 * the host. One loop for every caller (simulation, OSEM's forward model, petrel fwd, the
 * mu-map's attenuation factors). */
#ifndef PET_PROJECT_BATCH_H
#define PET_PROJECT_BATCH_H

#include <stdint.h>

#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_progress.h"
#include "pet_projector.h"
#include "pet_scanner.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Forward projection of a host image into histogram bins [first, first + count) on the host:
 * out[k] = (A img) of bin first + k, in batches of 2^20 LORs (bounded memory). Local.
 */
pet_status pet_histo_project_fwd_cpu(const pet_histo_layout *L, const pet_scanner *s,
                                     const pet_projector_params *p, const pet_image *img,
                                     int64_t first, int64_t count, float *out);
/** Same, polling cb (may be NULL) between batches of 2^17 LORs (/ rays) and reporting the bins
 *  done: PET_ERR_INTERRUPTED when cb->should_stop says so (out partly filled). Local. */
pet_status pet_histo_project_fwd_cpu_cb(const pet_histo_layout *L, const pet_scanner *s,
                                        const pet_projector_params *p, const pet_image *img,
                                        int64_t first, int64_t count, float *out,
                                        const pet_batch_cb *cb);

#ifdef __cplusplus
}
#endif
#endif /* PET_PROJECT_BATCH_H */
