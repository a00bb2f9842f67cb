/* petrel: OSEM reconstruction (histogram and list-mode) with corrections.
 *
 * x <- x / S_s * A_s^T( m y / (m A_s x + a) ) for each subset s, with m the multiplicative
 * factors (normalisation x attenuation), a the additive term (randoms + scatter) and
 * S_s = A_s^T m the subset's sensitivity. List-mode: y = 1 per event, one sensitivity over
 * all scanner bins, used as S / num_subsets for each subset (as YRT-PET does).
 *
 * One loop (src/recon/pet_osem.c) over a backend (pet_osem_backend.h: the CPU's, or the GPU's
 * when opts.gpu) and a reducer (MPI/NCCL in mpi/), following one plan (pet_plan.h): CPU, GPU
 * and distributed runs are the same loop with different instances. */
#ifndef PET_OSEM_H
#define PET_OSEM_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_listmode.h"
#include "pet_osem_backend.h"
#include "pet_plan.h"
#include "pet_projector.h"
#include "pet_scanner.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

pet_osem_opts pet_osem_opts_default(void);

/** Checks data and options (what pet_osem_run checks first, the backend's requirements
 *  included), naming the bad field. */
pet_status pet_osem_check(const pet_osem_data *d, const pet_osem_opts *opts);

/** Total number of elements of the data that OSEM iterates over (bins or events). */
int64_t pet_osem_data_size(const pet_osem_data *d);

/**
 * Sensitivity image(s) (host). For a histogram, or for data with neither a histogram nor a
 * list-mode (only the scanner, layout and factors are read), sens must hold `subsets` images
 * (one per subset, A_s^T m); for list-mode one image (A^T m over all scanner bins). Each image has the
 * geometry of sens[0]. Computed by the backend of opts (on the GPU when opts->gpu, then copied
 * to the host images). Collective on opts->reducer (each rank projects its share).
 */
pet_status pet_osem_sensitivity(const pet_osem_data *d, const pet_osem_opts *opts,
                                pet_image **sens, int32_t num_sens);

/**
 * Runs OSEM with the backend of opts (the host, or a GPU when opts->gpu: the image, back
 * projection and sensitivities stay on the device, the projection data streams through
 * batches that fit the VRAM budget). x holds the initial image on entry (uniform or given)
 * and the result on return; host memory, or device memory with the GPU backend (updated in
 * place). sens: host images as produced by pet_osem_sensitivity (NULL: computed here, and
 * kept in the backend's memory). Collective on opts->reducer.
 */
pet_status pet_osem_run(const pet_osem_data *d, const pet_osem_opts *opts, pet_image *const *sens,
                        pet_image *x);

/** Poisson log-likelihood sum_i (y_i log(ybar_i) - ybar_i) of a histogram for image x
 *  (ybar = m A x + a). Host, histogram mode only. */
pet_status pet_osem_loglik(const pet_osem_data *d, const pet_osem_opts *opts, const pet_image *x,
                           double *loglik);

/** Forward model of a whole histogram: out[bin] = m A x + a (host). */
pet_status pet_osem_forward_model(const pet_osem_data *d, const pet_osem_opts *opts,
                                  const pet_image *x, float *out);

/** Separable image-space Gaussian blur (FWHM in mm), in place, host. */
pet_status pet_image_gaussian_blur(pet_image *img, float fwhm_mm);

#ifdef __cplusplus
}
#endif
#endif /* PET_OSEM_H */
