/* The inputs of a reconstruction job (scanner, grid, data, corrections) and the checks of a
 * checkpoint against them: what pet_job_recon uses, and what the petrel command's other
 * subcommands (fwd, back, convert, the dynamic recon) load the same way. */
#ifndef PET_JOB_INPUTS_H
#define PET_JOB_INPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pet_comm.h"
#include "pet_config.h"
#include "pet_h5.h"
#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_job.h"
#include "pet_listmode.h"
#include "pet_osem.h"
#include "pet_scanner.h"

typedef enum pet_data_kind { PET_KIND_NONE = 0, PET_KIND_HISTOGRAM, PET_KIND_LISTMODE } pet_data_kind;

typedef struct pet_job_inputs {
  pet_scanner *scanner;
  pet_histo_layout *layout;
  pet_image_params image;
  pet_data_kind kind;
  pet_histogram *histogram; /* Alias over values */
  float *values;            /* num_bins (histogram) */
  pet_listmode *listmode;   /* in memory; NULL when streamed */
  pet_lm_source lm_src;     /* streamed (field "stream", an HDF5 list-mode): the open file */
  bool streamed;
  float *mult, *add;        /* per bin or NULL */
  int64_t data_bytes;       /* size of the data file */
  uint64_t data_checksum;   /* of the data file's bytes (rank 0's view, shared) */
  uint64_t scanner_checksum; /* of the scanner JSON's bytes and the detector LUT */
  int64_t bytes_read;       /* what this rank read of the data */
  int64_t bfirst, bcount;   /* this rank's bins of a histogram (all bins for list-mode) */
  /* field scatter = "estimate" (pet_scatter.h): the mu-map, and per bin (this rank's share,
   * at the bins' global indices) the normalisation alone (NULL = 1), the randoms alone (NULL =
   * 0) and the mu line integrals; add then holds the randoms until the first estimate */
  bool scatter_estimate;
  pet_image *mu;
  float *norm, *randoms, *mu_int;
} pet_job_inputs;

/** The default image grid of a scanner: 1.4 x radius transaxially with crystal-sized voxels,
 *  the axial FOV with one slice per ring. Local. */
pet_image_params pet_job_default_grid(const pet_scanner *s);

/** Detects the format of a data file (HDF5 signature, then the extension). Local. */
pet_status pet_job_detect_format(const char *path, pet_data_format hint, pet_data_format *fmt,
                                 pet_data_kind *kind);

/**
 * Loads the scanner, the grid, the data and the corrections of cfg. With more than one rank
 * the histogram, list-mode and per-bin corrections are read only where this rank projects
 * (pet_plan_rank_bins / pet_plan_rank_events) from HDF5 files, with collective reads
 * (pet_h5_read_*_range_all); elsewhere they stay zero. Every step's status is agreed, so all
 * ranks return the same status. need_data: false for sensitivity-only runs. comm may be NULL
 * (one process). With cfg->stream an HDF5 list-mode is not read but opened as a source
 * (in->lm_src; OSEM reads it in windows); other data with cfg->stream is PET_ERR_CONFIG naming
 * the field. Warnings (all-zero counts, no events) go to hooks->log on rank 0 (hooks may be
 * NULL). Collective on comm.
 */
pet_status pet_job_load_inputs(const pet_config *cfg, pet_comm *comm, bool need_data,
                               const pet_job_hooks *hooks, pet_job_inputs *in);
/** Same with need_data, for histograms of signed values (a gradient, a difference): only NaN
 *  and infinite values are refused. Collective on comm. */
pet_status pet_job_load_inputs_signed(const pet_config *cfg, pet_comm *comm, const pet_job_hooks *hooks,
                                      pet_job_inputs *in);
void pet_job_free_inputs(pet_job_inputs *in);

/** Fills d from the inputs (histogram or list-mode, corrections). Local. */
void pet_job_osem_data(const pet_job_inputs *in, pet_osem_data *d);
/** The OSEM options of a config (iterations, subsets, projector, TOF, PSF, threads, device
 *  choice): the one mapping of config fields to pet_osem_opts (src/job/pet_job_opts.c).
 *  Local. Errors: PET_ERR_CONFIG naming the field. */
pet_status pet_job_osem_opts(const pet_config *cfg, const pet_scanner *s, pet_osem_opts *o);

/** FNV-1a-style 64-bit checksum of a file's bytes (and its size). Local. */
pet_status pet_job_file_checksum(const char *path, int64_t *bytes, uint64_t *sum);

/** Reads num_bins floats of a per-bin array: an HDF5 file (dataset `h5_name`, or "histogram";
 *  a collective read of each rank's [first, first+count)) or a RAWD (.his) file; the rest of
 *  out is left untouched. Collective on comm (NULL: one process). */
pet_status pet_job_read_bins(pet_comm *comm, const char *path, const char *h5_name,
                             int64_t num_bins, int64_t first, int64_t count, float *out);

/** What an input image holds, for pet_job_read_image_checked. */
typedef enum pet_job_image_kind {
  PET_JOB_IMAGE_NONNEG = 0, /* activity, sensitivity, initial image: finite, >= 0 */
  PET_JOB_IMAGE_MU          /* a mu-map: finite, >= 0 and plausible for 1/mm */
} pet_job_image_kind;

/**
 * Reads a NIfTI image (`path`, given as config field or flag `field`: a name starting with
 * '-' is shown as is, any other as field "name") and checks its voxels. Returns ownership of
 * *out (free with pet_image_destroy); NULL on error. Errors name the field, the file and the
 * first bad voxel. Local. Errors: those of pet_image_read_nifti, PET_ERR_ARG.
 */
pet_status pet_job_read_image_checked(const char *path, const char *field, pet_job_image_kind kind,
                                      pet_image **out);

/** Hash of the config fields that determine the iterates (not output names, verbosity,
 *  threads, devices, iteration count, nor the paths of the scanner and data, whose contents
 *  are hashed instead: in->scanner_checksum, in->data_checksum). Local. */
uint64_t pet_job_result_hash(const pet_config *cfg, const pet_job_inputs *in);

/** Fills the identity part of a checkpoint (config hash, data size and checksum, and the
 *  "name: value" lines of ck->fields). Local. */
void pet_job_checkpoint_identity(const pet_config *cfg, const pet_job_inputs *in, pet_h5_checkpoint *ck);

/**
 * PET_OK when checkpoint ck (image x) can continue this run; otherwise PET_ERR_CONFIG saying
 * field by field what differs ("subsets: checkpoint 12, this run 8"), or which data file, grid
 * or iteration does not match. Local.
 */
pet_status pet_job_check_resume(const pet_config *cfg, const pet_job_inputs *in, const pet_h5_checkpoint *ck,
                                const pet_image *x);

/** printf-style line to hooks->log on rank 0 of comm (nothing if hooks or hooks->log is NULL).
 *  Local. */
void pet_job_log(const pet_job_hooks *hooks, pet_comm *comm, pet_job_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
