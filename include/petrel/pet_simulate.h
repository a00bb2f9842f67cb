/* petrel: simulated acquisitions (histogram and list-mode) of an image, with attenuation,
 * detector normalisation, randoms and Poisson noise; deterministic for a seed. */
#ifndef PET_SIMULATE_H
#define PET_SIMULATE_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_histogram.h"
#include "pet_progress.h"
#include "pet_image.h"
#include "pet_listmode.h"
#include "pet_projector.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pet_sim_opts {
  uint64_t seed;
  double total_trues;      /* expected true counts (after attenuation and normalisation) */
  float randoms_fraction;  /* expected randoms / expected trues, spread uniformly over bins */
  bool normalisation;      /* random crystal efficiencies in [0.8, 1.2] */
  bool noise;              /* Poisson noise (else the expected values) */
  pet_projector_params proj;
  /* progress and stop of the projections (borrowed, may be NULL): done/total count the bins
   * of both projections (activity, then mu-map); a stop returns PET_ERR_INTERRUPTED */
  const pet_batch_cb *cb;
} pet_sim_opts;

pet_sim_opts pet_sim_opts_default(void);

/** Outputs: every array has num_bins floats, malloc'd, owned by the caller
 *  (pet_sim_result_free). mult = attenuation x normalisation (NULL if neither), add =
 *  randoms per bin (NULL if randoms_fraction == 0). scale: counts per unit of A x. */
typedef struct pet_sim_result {
  float *counts, *mult, *add, *attenuation, *normalisation;
  double scale;
} pet_sim_result;

void pet_sim_result_free(pet_sim_result *r);

/** Simulates a histogram of `truth` (mu: attenuation map in 1/mm or NULL). */
pet_status pet_simulate_histogram(const pet_scanner *s, const pet_histo_layout *L,
                                  const pet_image *truth, const pet_image *mu,
                                  const pet_sim_opts *o, pet_sim_result *out);

/** Expands histogram counts into list-mode events (each count an event of its bin's
 *  detector pair, no TOF), in a keyed random order, times spread uniformly over
 *  [0, duration_ms). Returns ownership of *lm. */
pet_status pet_simulate_listmode_from_histogram(const pet_histo_layout *L, const float *counts,
                                                uint32_t duration_ms, uint64_t seed,
                                                pet_listmode **lm);

#ifdef __cplusplus
}
#endif
#endif /* PET_SIMULATE_H */
