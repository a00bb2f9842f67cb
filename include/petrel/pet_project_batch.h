/* petrel: projections of whole histograms (or ranges of bins) in bounded-memory batches, on
 * the host. One loop for every caller (simulation, OSEM's forward model, petrel fwd, the
 * mu-map's attenuation factors). */
#ifndef PET_PROJECT_BATCH_H
#define PET_PROJECT_BATCH_H

#include <stdint.h>

#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_listmode.h"
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

/**
 * Forward projection into the bins of subset `sub` of S on the host (S = 1: every bin):
 * values[bin] = (A img)[bin] for those bins (values: num_bins floats in bin order; the other
 * bins are left as they are), in batches of 2^20 LORs. p->tof must be 0. Local.
 */
pet_status pet_histo_project_fwd_subset_cpu(const pet_histo_layout *L, const pet_scanner *s,
                                            const pet_projector_params *p, const pet_image *img,
                                            int32_t S, int32_t sub, float *values);

/**
 * Back projection of histogram values on the host: img += A^T v over the bins of subset `sub`
 * of S (S = 1: every bin, in bin order), v[bin] = values[bin] (values: num_bins floats in bin
 * order; NULL = 1 for every bin), in batches of 2^20 LORs. p->tof must be 0. cb (may be
 * NULL) is polled between smaller batches and told the bins done. Local.
 */
pet_status pet_histo_project_back_cpu(const pet_histo_layout *L, const pet_scanner *s,
                                      const pet_projector_params *p, const float *values,
                                      int32_t S, int32_t sub, pet_image *img, const pet_batch_cb *cb);

/**
 * Back projection of list-mode events [first, first + count) on the host: img += A^T v, v =
 * values[k] for event first + k (NULL = 1 per event), TOF weighted when p->tof (needs the
 * events' TOF). In batches of 2^20 LORs; cb as for pet_histo_project_back_cpu. Local.
 */
pet_status pet_listmode_project_back_cpu(const pet_listmode *lm, const pet_scanner *s,
                                         const pet_projector_params *p, const float *values,
                                         int64_t first, int64_t count, pet_image *img,
                                         const pet_batch_cb *cb);

#ifdef __cplusplus
}
#endif
#endif /* PET_PROJECT_BATCH_H */
