/* petrel: OSEM reconstruction (histogram and list-mode) with corrections.
 *
 * x <- x / S_s * A_s^T( m y / (m A_s x + a) ) for each subset s, with m the multiplicative
 * factors (normalisation x attenuation), a the additive term (randoms + scatter) and
 * S_s = A_s^T m the subset's sensitivity. List-mode: y = 1 per event, one sensitivity over
 * all scanner bins, used as S / num_subsets for each subset (as YRT-PET does).
 *
 * The loop knows only a backend (CPU here, GPU in gpu/) and a reducer (MPI/NCCL in mpi/):
 * CPU, GPU and distributed runs are the same loop with different instances. */
#ifndef PET_OSEM_H
#define PET_OSEM_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_listmode.h"
#include "pet_projector.h"
#include "pet_reducer.h"
#include "pet_scanner.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The measured data and its corrections. All pointers borrowed, host memory. */
typedef struct pet_osem_data {
  const pet_scanner *scanner;
  const pet_histo_layout *layout;
  const pet_histogram *histogram; /* histogram mode (exactly one of histogram, listmode) */
  const pet_listmode *listmode;   /* list-mode */
  const float *mult;    /* per histogram bin: normalisation x attenuation (NULL = 1) */
  const float *add;     /* per histogram bin: randoms + scatter, in counts (NULL = 0); in
                         * list-mode each event gets its bin's value */
  const float *lm_add;  /* list-mode: additive term per event (NULL = 0) */
  /* list-mode sub-range [lm_first, lm_first + lm_count) of the events (a time frame);
   * lm_count < 0 means all events */
  int64_t lm_first, lm_count;
} pet_osem_data;

typedef struct pet_osem_progress {
  int iteration, num_iterations; /* 1-based */
  int subset, num_subsets;       /* 1-based */
  double seconds;                /* this subset's wall time */
  double elapsed;                /* since the start of the iterations */
  double eta;                    /* estimated seconds left */
  int64_t lors;                  /* LORs projected in this subset (fwd + back count once) */
  /* where this subset's wall time went, in seconds (0 where a backend does not measure it):
   * project = forward, ratio and back projection of this rank's share (waiting for the
   * slowest rank shows up in reduce); reduce = status agreement plus the allreduce (or the
   * reduce-scatter); update = blur and EM update; gather = the slab allgather (slab_update) */
  double project_s, reduce_s, update_s, gather_s;
} pet_osem_progress;

typedef struct pet_osem_opts {
  int32_t iterations, subsets;
  pet_projector_params proj;
  float psf_fwhm_mm;             /* image-space Gaussian in the model; 0 = none */
  int64_t batch_lors;            /* LORs per host batch (0 = default 1<<20) */
  /* called after every subset (may be NULL) */
  void (*on_subset)(void *ctx, const pet_osem_progress *p);
  /* called after every iteration with the current image (may be NULL); non-OK stops */
  pet_status (*on_iteration)(void *ctx, int iteration, const pet_image *x);
  void *cb_ctx;
  /* resume: skip everything before (start_iteration, start_subset) (0-based) */
  int32_t start_iteration, start_subset;
  /* polled between subsets; when it returns true the run stops with PET_ERR_INTERRUPTED after
   * reporting the next position through on_interrupt */
  bool (*should_stop)(void *ctx);
  pet_status (*on_interrupt)(void *ctx, int next_iteration, int next_subset, const pet_image *x);
  const pet_reducer *reducer;    /* NULL = single process */
  /* per-subset reduction across ranks: false = allreduce of the whole back projection, then
   * every rank updates the whole image; true = reduce-scatter to z-slabs, each rank updates
   * its slab of the image, then allgather of the slabs. The slab update needs the reducer's
   * reduce_scatter_sum and allgather and no PSF (the blur crosses slabs); otherwise, and with
   * one rank, the allreduce is used. Both give the same image up to float summation order. */
  bool slab_update;
} pet_osem_opts;

pet_osem_opts pet_osem_opts_default(void);

/** Checks data and options (what pet_osem_run checks first), naming the bad field. */
pet_status pet_osem_check(const pet_osem_data *d, const pet_osem_opts *opts);

/** Total number of elements of the data that OSEM iterates over (bins or events). */
int64_t pet_osem_data_size(const pet_osem_data *d);

/**
 * Sensitivity image(s) (host). For a histogram, or for data with neither a histogram nor a
 * list-mode (only the scanner, layout and factors are read), sens must hold `subsets` images
 * (one per subset, A_s^T m); for list-mode one image (A^T m over all scanner bins). Each image has the
 * geometry of sens[0]. Collective on opts->reducer (each rank projects its share).
 */
pet_status pet_osem_sensitivity(const pet_osem_data *d, const pet_osem_opts *opts,
                                pet_image **sens, int32_t num_sens);

/**
 * Runs OSEM on the host. x holds the initial image on entry (uniform or given) and the result
 * on return. sens: as produced by pet_osem_sensitivity (NULL: computed here). Collective on
 * opts->reducer.
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

/** The contiguous range of histogram bins that rank `rank` of `size` projects in every
 *  subset (whole z-bins): what that rank must read of a histogram and its corrections. */
void pet_osem_rank_bins(const pet_histo_layout *L, int rank, int size, int64_t *first,
                        int64_t *count);
/** The events of subset s of S (of num_events, relative to the first event considered)
 *  that rank `rank` of `size` projects. */
void pet_osem_rank_events(int64_t num_events, int32_t S, int32_t s, int rank, int size,
                          int64_t *first, int64_t *count);

/** The z-slices [*z0, *z1) of an nz-slice image that rank `rank` of `size` updates with the
 *  slab update (consecutive, as equal as possible; empty when nz < size for some ranks). */
void pet_osem_rank_slab(int32_t nz, int rank, int size, int32_t *z0, int32_t *z1);

/** Separable image-space Gaussian blur (FWHM in mm), in place, host. */
pet_status pet_image_gaussian_blur(pet_image *img, float fwhm_mm);

#ifdef __cplusplus
}
#endif
#endif /* PET_OSEM_H */
