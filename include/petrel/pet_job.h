/* petrel: one reconstruction job from a config (pet_config.h): load the scanner, the data and
 * its corrections (each rank its share), load or compute the sensitivity (and save it), resume
 * from a checkpoint, run OSEM. The petrel command, the Python module (reconstructConfig) and an
 * outside C program run the same job; what they differ in (printing, signals, intermediate
 * files, the final write) comes in through hooks. The library prints nothing: the lines a
 * command shows go to hooks->log and hooks->on_layout. */
#ifndef PET_JOB_H
#define PET_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_comm.h"
#include "pet_config.h"
#include "pet_image.h"
#include "pet_osem_backend.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Whether a run continues from cfg->checkpoint. */
typedef enum pet_job_resume {
  PET_JOB_RESUME_NO = 0,     /* start afresh (cfg->initial_image or a uniform 1) */
  PET_JOB_RESUME_REQUIRED,   /* continue from the checkpoint; an error if it is missing */
  PET_JOB_RESUME_IF_PRESENT  /* continue when the checkpoint exists, else start afresh */
} pet_job_resume;

/** What a job takes beside the config. pet_job_opts_default() gives the zero values below. */
typedef struct pet_job_opts {
  pet_job_resume resume;     /* PET_JOB_RESUME_NO; the checkpoint is cfg->checkpoint */
  bool slab_update;          /* false: allreduce per subset; true: reduce-scatter to z-slabs */
  int32_t gpu_device;        /* with cfg->gpu: the CUDA device (pet_comm_setup_gpu); -1: none */
} pet_job_opts;

typedef enum pet_job_log_level {
  PET_JOB_INFO = 0, /* what a run does (resuming, voxels no LOR crosses, checkpoints written) */
  PET_JOB_WARNING   /* almost certainly a mistake in the inputs (all-zero counts, no events) */
} pet_job_log_level;

/** How the work is spread, for the layout line a command prints before the iterations. */
typedef struct pet_job_layout {
  int ranks;
  int64_t nodes, gpus;        /* nodes in use; GPUs in use (0 on the host) */
  int threads;                /* OpenMP threads per rank */
  bool gpu, listmode, slab;   /* slab: reduce-scatter to z-slabs + allgather (ranks > 1) */
  const char *comm;           /* "mpi" or "nccl": how buffers are summed */
  int64_t items;              /* bins (histogram, sensitivity) or events (list-mode) */
  int64_t per_rank, per_subset; /* items per rank per iteration, per rank per subset */
  int64_t batches, batch_lors;  /* host: batches per rank per subset, items per batch */
  int64_t vram_budget_mb;     /* GPU: cfg->vram_budget_mb (0: 80% of the free VRAM) */
  int32_t nx, ny, nz;         /* the image grid */
  bool hdf5_parallel;         /* collective MPI-IO reads (else independent reads per rank) */
} pet_job_layout;

/**
 * Callbacks of a job; every one may be NULL, and so may the struct. ctx is handed to each.
 * Called on rank 0 only: log, on_layout, on_subset, on_progress. Called on every rank at the
 * same points (so they may be collective): should_stop, on_iteration, on_interrupt.
 */
typedef struct pet_job_hooks {
  void *ctx;
  /* one line, without a trailing newline and without a program name */
  void (*log)(void *ctx, pet_job_log_level level, const char *msg);
  void (*on_layout)(void *ctx, const pet_job_layout *layout);
  /* after every OSEM subset */
  void (*on_subset)(void *ctx, const pet_osem_progress *p);
  /* a long step other than the iterations (what "sensitivity", unit "subsets" or "parts"):
   * done of total: 0 when it starts, then after each part */
  void (*on_progress)(void *ctx, const char *what, const char *unit, int64_t done, int64_t total);
  /* polled between subsets: this rank's wish to stop (a signal). The job sums the wishes over
   * the ranks, so that every rank stops at the same subset. */
  bool (*should_stop)(void *ctx);
  /* after every iteration (1-based it) with the current image (host); non-OK stops the run
   * (the statuses are agreed over the ranks). The job writes the checkpoint after it when
   * cfg->save_every divides it. */
  pet_status (*on_iteration)(void *ctx, int it, const pet_image *x);
  /* the run stopped (should_stop) before iteration next_it, subset next_s (0-based); the
   * checkpoint was written to `checkpoint` ("" when there is nowhere to write it: no
   * cfg->checkpoint and no cfg->output) */
  void (*on_interrupt)(void *ctx, int next_it, int next_s, const char *checkpoint);
} pet_job_hooks;

/** The outcome of pet_job_recon / pet_job_sens. */
typedef struct pet_job_result {
  pet_image *image;         /* the reconstruction (sens: the summed sensitivity), host; Owned */
  int32_t start_iteration;  /* 0-based iteration the run started at (> 0: resumed) */
  double io_s, sens_s, osem_s; /* seconds: loading the inputs, the sensitivity, the iterations */
  int64_t bytes_read;       /* of the data, by this rank */
  /* field scatter = "estimate": the final scatter estimate of every bin (num_bins x
   * max(1, scatter_tof_bins) floats, TOF fastest; in counts: what the additive term holds
   * beside the randoms), on every rank; NULL otherwise. Freed by pet_job_result_free. */
  float *scatter;
  int64_t scatter_num_bins;
  int32_t scatter_tof_bins;
  float scatter_tof_bin_width_ps;
} pet_job_result;

/** The zero options: no resume, allreduce, no device. Local. */
pet_job_opts pet_job_opts_default(void);

/**
 * Runs the reconstruction cfg describes (a static one: cfg->frames must be "") on the ranks
 * of comm (NULL: one process, no MPI): loads the inputs (pet_config fields scanner, data,
 * corrections, image grid), checks them, resumes from cfg->checkpoint as opts->resume says,
 * loads cfg->sensitivity or computes the sensitivity (and writes cfg->save_sensitivity, rank
 * 0), runs OSEM (on the host, or on opts->gpu_device when cfg->gpu), and writes the
 * checkpoint when stopped by hooks->should_stop and every cfg->save_every iterations. cfg
 * must have passed pet_config_validate. On PET_OK res->image holds the image on every rank:
 * free it with pet_job_result_free; the caller writes it (cfg->output is not written here).
 * Collective on comm; every rank returns the same status.
 * Errors: PET_ERR_ARG, PET_ERR_CONFIG (a field and its value, named), PET_ERR_IO (a file,
 * named), PET_ERR_NOMEM, PET_ERR_UNSUPPORTED (frames; a GPU in a build without CUDA),
 * PET_ERR_CUDA, PET_ERR_MPI, PET_ERR_INTERRUPTED (stopped; the checkpoint is written).
 */
pet_status pet_job_recon(const pet_config *cfg, const pet_job_opts *opts, pet_comm *comm,
                         const pet_job_hooks *hooks, pet_job_result *res);

/**
 * The sensitivity image A^T m over all bins of the scanner (m: normalisation x attenuation of
 * cfg; no counts needed), written to cfg->save_sensitivity when set (rank 0). On PET_OK
 * res->image holds it on every rank (free with pet_job_result_free). Collective on comm.
 * Errors: as pet_job_recon, without PET_ERR_INTERRUPTED.
 */
pet_status pet_job_sens(const pet_config *cfg, const pet_job_opts *opts, pet_comm *comm,
                        const pet_job_hooks *hooks, pet_job_result *res);

/**
 * One scatter estimate (cfg->scatter must be "estimate"; pet_scatter.h) of cfg's histogram from
 * a given emission image (host, any grid), tail-fitted to the data and its randoms, in
 * res->scatter (every bin, on every rank; res->image stays NULL). Collective on comm.
 * List-mode (in memory): the events are binned for the tail fit and every bin is estimated.
 * Errors: as pet_job_recon (streamed list-mode, no attenuation_image, an empty tail mask: named).
 */
pet_status pet_job_scatter(const pet_config *cfg, const pet_job_opts *opts, pet_comm *comm,
                           const pet_job_hooks *hooks, const pet_image *image, pet_job_result *res);

/** Frees res->image (and res->scatter) and zeroes res. NULL-safe. Local. */
void pet_job_result_free(pet_job_result *res);

/** Where a run's checkpoint goes: cfg->checkpoint, else "<output>.ckpt.h5" ("" when neither
 *  is set or the name does not fit in len bytes). Local. */
void pet_job_checkpoint_path(const pet_config *cfg, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* PET_JOB_H */
