/* Loading what a reconstruction needs (scanner, data, corrections) for the subcommands. */
#ifndef PET_CLI_DATA_H
#define PET_CLI_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_comm.h"
#include "pet_config.h"
#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_listmode.h"
#include "pet_osem.h"
#include "pet_scanner.h"

typedef enum pet_data_kind { PET_KIND_NONE = 0, PET_KIND_HISTOGRAM, PET_KIND_LISTMODE } pet_data_kind;

typedef struct pet_inputs {
  pet_scanner *scanner;
  pet_histo_layout *layout;
  pet_image_params image;
  pet_data_kind kind;
  pet_histogram *histogram; /* Alias over values */
  float *values;            /* num_bins (histogram) */
  pet_listmode *listmode;
  float *mult, *add;        /* per bin or NULL */
  int64_t data_bytes;       /* size of the data file */
  uint64_t data_checksum;   /* of the data file's bytes (rank 0's view, shared) */
  uint64_t scanner_checksum; /* of the scanner JSON's bytes and the detector LUT */
  int64_t bytes_read;       /* what this rank read of the data */
} pet_inputs;

/** The default image grid of a scanner: 1.4 x radius transaxially with crystal-sized voxels,
 *  the axial FOV with one slice per ring. */
pet_image_params pet_cli_default_grid(const pet_scanner *s);

/** Detects the format of a data file (HDF5 signature, then the extension). */
pet_status pet_cli_detect_format(const char *path, pet_data_format hint, pet_data_format *fmt,
                                 pet_data_kind *kind);

/**
 * Loads the scanner, the grid, the data and the corrections of cfg. With more than one rank
 * the histogram, list-mode and per-bin corrections are read only where this rank projects
 * (pet_plan_rank_bins / pet_plan_rank_events) from HDF5 files, with collective reads
 * (pet_h5_read_*_range_all); elsewhere they stay zero. Every step's status is agreed, so all
 * ranks return the same status. need_data: false for sensitivity-only runs. comm may be NULL
 * (one process). Collective on comm.
 */
pet_status pet_cli_load_inputs(const pet_config *cfg, pet_comm *comm, bool need_data,
                               pet_inputs *in);
/** Same with need_data, for histograms of signed values (a gradient, a difference): only NaN
 *  and infinite values are refused. Collective on comm. */
pet_status pet_cli_load_inputs_signed(const pet_config *cfg, pet_comm *comm, pet_inputs *in);
void pet_cli_free_inputs(pet_inputs *in);

/** Fills d from the inputs (histogram or list-mode, corrections). */
void pet_cli_osem_data(const pet_inputs *in, pet_osem_data *d);
/** Options from the config (iterations, subsets, projector, TOF, PSF, threads). */
pet_status pet_cli_osem_opts(const pet_config *cfg, const pet_scanner *s, pet_osem_opts *o);

/** FNV-1a-style 64-bit checksum of a file's bytes (and its size). */
pet_status pet_cli_file_checksum(const char *path, int64_t *bytes, uint64_t *sum);

/** Reads num_bins floats of a per-bin array: an HDF5 file (dataset `h5_name`, or "histogram";
 *  a collective read of each rank's [first, first+count)) or a RAWD (.his) file; the rest of
 *  out is left untouched. Collective on comm (NULL: one process). */
pet_status pet_cli_read_bins(pet_comm *comm, const char *path, const char *h5_name,
                             int64_t num_bins, int64_t first, int64_t count, float *out);

#endif
