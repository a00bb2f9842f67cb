/* petrel: the contract between THE OSEM loop (src/recon/pet_osem.c) and the backends that run
 * it: the data and options every backend reads, and the operations table each one fills in
 * (the CPU backend in src/recon/pet_osem_cpu.c, the GPU backend in gpu/pet_gpu_osem.cu), as
 * PETSc's VecOps or nccl-tests' collective table do. The loop owns the order of the work,
 * the rank shares, the reductions, resume, interrupts and progress; a backend owns only how
 * one subset is projected and how its image buffers are combined.
 *
 * Declared at the kernels floor, below gpu/, so that the GPU backend implements it without
 * seeing the loop. */
#ifndef PET_OSEM_BACKEND_H
#define PET_OSEM_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_listmode.h"
#include "pet_prior.h"
#include "pet_projector.h"
#include "pet_reducer.h"
#include "pet_scanner.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Division guards of the EM update, following YRT-PET (one definition for every backend): a
 * ratio whose predicted count m*Ax + a is not above PET_OSEM_PRED_EPS contributes 0 (the LOR
 * sees no activity in the model, so it carries no information about the image), and a voxel
 * whose sensitivity is at most PET_OSEM_SENS_REL_EPS times the largest sensitivity is outside
 * what the data can see and is set to 0. */
#define PET_OSEM_PRED_EPS 1e-10f
#define PET_OSEM_SENS_REL_EPS 1e-8f

/** The measured data and its corrections. All pointers borrowed, host memory. */
typedef struct pet_osem_data {
  const pet_scanner *scanner;
  const pet_histo_layout *layout;
  const pet_histogram *histogram; /* histogram mode (exactly one of histogram, listmode) */
  const pet_listmode *listmode;   /* list-mode, in host memory */
  /* list-mode streamed from a source (a file) instead: the loop reads it in windows of
   * opts.lm_window_events events, in a second thread while the previous window is projected,
   * so that neither host RAM nor VRAM holds all events (listmode must be NULL). The same
   * image as the in-memory list-mode (bit for bit on the CPU). */
  const pet_lm_source *lm_source;
  const float *mult;    /* per histogram bin: normalisation x attenuation (NULL = 1) */
  const float *add;     /* per histogram bin: randoms + scatter, in counts (NULL = 0); in
                         * list-mode each event gets its bin's value */
  const float *lm_add;  /* list-mode: additive term per event (NULL = 0) */
  /* TOF histogram (histogram->num_tof_bins = T > 0; opts.proj.num_tof_bins must equal T):
   * true = mult / add hold T values per bin (mult[bin * T + t], TOF fastest as the counts),
   * false = one value per bin for all its TOF bins (add then the bin's whole additive term,
   * spread over the TOF bins as the kernel spreads the LOR's: add[bin] / T each) */
  bool mult_per_tof_bin, add_per_tof_bin;
  /* list-mode sub-range [lm_first, lm_first + lm_count) of the events (a time frame);
   * lm_count < 0 means all events */
  int64_t lm_first, lm_count;
} pet_osem_data;

/** True for list-mode data (in memory or streamed). */
static inline bool pet_osem_data_is_listmode(const pet_osem_data *d)
{
  return d->listmode != NULL || d->lm_source != NULL;
}
/** All events of the list-mode (in memory or streamed), 0 for a histogram. */
static inline int64_t pet_osem_data_num_events(const pet_osem_data *d)
{
  return d->listmode ? d->listmode->num_events : d->lm_source ? d->lm_source->num_events : 0;
}

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
  /* of project_s, with a streamed list-mode (data.lm_source): the time spent waiting for the
   * reader thread's next window (0 when reading keeps ahead of projecting) */
  double read_wait_s;
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
  /* polled between subsets (and between the subsets of the sensitivity pass); when it returns
   * true the run stops with PET_ERR_INTERRUPTED after reporting the next position through
   * on_interrupt (the start position when the sensitivity pass is stopped). Collective: every
   * rank calls it at the same points. */
  bool (*should_stop)(void *ctx);
  pet_status (*on_interrupt)(void *ctx, int next_iteration, int next_subset, const pet_image *x);
  const pet_reducer *reducer;    /* NULL = single process */
  /* per-subset reduction across ranks: false = allreduce of the whole back projection, then
   * every rank updates the whole image; true = reduce-scatter to z-slabs, each rank updates
   * its slab of the image, then allgather of the slabs. The slab update needs the reducer's
   * reduce_scatter_sum and allgather and no PSF (the blur crosses slabs); otherwise, and with
   * one rank, the allreduce is used. Both give the same image up to float summation order. */
  bool slab_update;
  /* where it runs: false = the host (OpenMP), true = a CUDA device (the GPU backend) */
  bool gpu;
  int32_t gpu_device;          /* CUDA device index (after CUDA_VISIBLE_DEVICES) */
  int64_t vram_budget_bytes;   /* GPU: projection-data batches fit this; 0 = 80% of the free VRAM */
  /* streamed list-mode (data.lm_source): events per window in host memory (two windows of
   * 12-16 bytes an event); rounded up to whole batches; 0 = 1 << 24 */
  int64_t lm_window_events;
  /* regularised reconstruction (pet_prior.h): algorithm osem (the default), osl or bsrem, and
   * the penalty U they maximise L - U for (prior.kind none: U = 0; a prior with beta > 0 needs
   * osl or bsrem). Each subset s takes the share U / subsets of the penalty:
   *   osl:   x <- x A_s^T(m y / ybar) / max(S_s + dU/dx(x) / subsets, S_s / 2)
   *   bsrem: x <- max(x + lambda_k x / S_s (A_s^T(m y / ybar) - S_s - dU/dx(x) / subsets),
   *                   1e-6 max(x)), lambda_k = relaxation / (1 + relaxation_eta k) in
   *          iteration k (0-based)
   * With the slab update each rank computes dU/dx on its slab from the whole image (its slab
   * and a one-slice halo). */
  pet_osem_algorithm algorithm;
  pet_prior_params prior;
  float relaxation, relaxation_eta; /* bsrem: > 0 and >= 0 (defaults 1, 0.1) */
  /* the list-mode sensitivity of a regular scanner without per-bin factors is computed from
   * the LORs of the lowest rings and translated along z (pet_sens_sym.h, src/recon):
   * sens_brute = true (or the environment's PET_SENS_BRUTE=1) back-projects every bin
   * instead; sens_z_refine = the fine z voxels per ring pitch of that pass (0 = default) */
  bool sens_brute;
  int32_t sens_z_refine;
} pet_osem_opts;

/** One regularised update (map_update) of the loop: the algorithm, the prior gradient's
 *  factor (1 / subsets), BSREM's relaxation of this iteration and its lower bound. */
typedef struct pet_map_step {
  pet_osem_algorithm algorithm; /* PET_OSEM_ALG_OSL or PET_OSEM_ALG_BSREM */
  float grad_scale, lambda, floor_value;
} pet_map_step;

/**
 * One backend's operations. `be` is the state its create() returned. Buffers handed to the
 * operations are images in the backend's memory space (`space`), made by the loop; ranges
 * are the plan's: items [lo, hi) of subset s of S (histogram: subset-local bins as
 * pet_histo_subset_bin orders them; list-mode: subset-local events of the considered range,
 * event index = ev_base + item). Every operation may be asynchronous on the backend's own
 * stream; sync() waits for all of it (the loop calls it before a reduction and before the
 * host reads a buffer).
 */
typedef struct pet_osem_backend_ops {
  const char *name;   /* "cpu", "gpu" */
  pet_memspace space; /* where the loop's image buffers for this backend live */
  /* Backend-specific requirements on the data (after the loop's common checks). */
  pet_status (*check)(const pet_osem_data *d, const pet_osem_opts *o);
  /* Bytes of backend memory one projected item takes in a batch, and the budget that the
   * batches must fit (0 = no limit): the plan's batch size is budget / bytes. */
  int64_t (*bytes_per_item)(const pet_osem_data *d, const pet_osem_opts *o);
  pet_status (*budget)(const pet_osem_opts *o, int64_t *bytes);
  /* State for batches of at most batch_items items on grid g. */
  pet_status (*create)(void **be, const pet_osem_data *d, const pet_osem_opts *o,
                       const pet_image_params *g, int64_t batch_items);
  void (*destroy)(void *be);
  /* out += A_s^T m over items [lo, hi) of histogram subset s of S (TOF off). */
  pet_status (*sens_subset)(void *be, int32_t S, int32_t s, int64_t lo, int64_t hi, pet_image *out);
  /* out += the weight-1 back projection, on out's grid (any grid with the loop's x / y), of
   * items [lo, hi) of the symmetric sensitivity pass (pet_bin_map_sym_dets with max ring
   * difference D; TOF off). NULL = not offered (the loop then back-projects every bin). */
  pet_status (*sens_sym)(void *be, int32_t D, int64_t lo, int64_t hi, pet_image *out);
  /* back += A_s^T (m y / (m A_s xf + a)) over items [lo, hi) of subset s of S; *lors += LORs. */
  pet_status (*project_subset)(void *be, int32_t S, int32_t s, int64_t lo, int64_t hi,
                               int64_t ev_base, const pet_image *xf, pet_image *back, int64_t *lors);
  /* Image helpers in the backend's space: fill, copy (same grid), PSF blur in place,
   * maximum (to the host), and the EM update x <- x * back / (sens * scale), 0 where
   * sens * scale <= thr. x and sens may be Aliases of a slab. */
  pet_status (*fill)(void *be, pet_image *img, float value);
  pet_status (*copy)(void *be, pet_image *dst, const pet_image *src);
  pet_status (*blur)(void *be, pet_image *img, float fwhm_mm);
  pet_status (*max)(void *be, const pet_image *img, float *out);
  pet_status (*em_update)(void *be, pet_image *x, const float *back, const pet_image *sens,
                          float scale, float thr);
  /* The regularised update (pet_prior_kernel.h): grad[v] = dU/dx (p) at the voxels of slices
   * [z0, z1) of x (the whole image), into (z1 - z0) slices; then x <- the OSL or BSREM update
   * of step, per voxel, with back, sens * scale and thr as em_update and grad (NULL = 0) on
   * x's voxels. */
  pet_status (*prior_grad)(void *be, const pet_prior_params *p, const pet_image *x, int32_t z0, int32_t z1,
                           float *grad);
  pet_status (*map_update)(void *be, const pet_map_step *step, pet_image *x, const float *back, const float *grad,
                           const pet_image *sens, float scale, float thr);
  pet_status (*sync)(void *be);
} pet_osem_backend_ops;

/** The CPU backend (src/recon/pet_osem_cpu.c). */
const pet_osem_backend_ops *pet_osem_cpu_backend(void);
/** The GPU backend (gpu/pet_gpu_osem.cu); NULL in a build without CUDA. */
const pet_osem_backend_ops *pet_osem_gpu_backend(void);

#ifdef __cplusplus
}
#endif
#endif /* PET_OSEM_BACKEND_H */
