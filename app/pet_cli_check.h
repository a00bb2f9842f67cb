/* Checks the petrel subcommands make before any computation: outputs writable, input images
 * plausible, a checkpoint belonging to this run. */
#ifndef PET_CLI_CHECK_H
#define PET_CLI_CHECK_H

#include <stdbool.h>

#include "pet_cli_data.h"
#include "pet_config.h"
#include "pet_h5.h"
#include "pet_image.h"

/** What an input image holds, for pet_cli_read_image_checked. */
typedef enum pet_cli_image_kind {
  PET_CLI_IMAGE_NONNEG = 0, /* activity, sensitivity, initial image: finite, >= 0 */
  PET_CLI_IMAGE_MU          /* a mu-map: finite, >= 0 and plausible for 1/mm */
} pet_cli_image_kind;

/**
 * Reads a NIfTI image (`path`, given as config field or flag `field`) and checks its voxels
 * (pet_image_check_values, or pet_image_check_mu for a mu-map). Returns ownership of *out
 * (free with pet_image_destroy); NULL on error. Errors name the field, the file and the first
 * bad voxel. Local. Errors: those of pet_image_read_nifti, PET_ERR_ARG.
 */
pet_status pet_cli_read_image_checked(const char *path, const char *field, pet_cli_image_kind kind,
                                      pet_image **out);

/**
 * Checks an output path before anything is computed: not empty, not a directory, one of the
 * extensions `exts` (a NULL-terminated list, e.g. {".nii", ".nii.gz", NULL}; NULL: any), in a
 * folder that exists and is writable. PET_ERR_CONFIG naming `field` and the path. Local.
 */
pet_status pet_cli_check_output(const char *field, const char *path, const char *const *exts);

/**
 * Checks an output folder: if it exists, a writable directory; if not, its parent exists and
 * is writable (the folder is created later). PET_ERR_CONFIG naming `field` and the path. Local.
 */
pet_status pet_cli_check_output_dir(const char *field, const char *path);

/**
 * Every output petrel recon / petrel sens would write for cfg (output, checkpoint,
 * save_sensitivity, the files derived from output: per-iteration images, the dynamic sidecar,
 * TAC CSV and PNG), and the checkpoint that --resume needs (resume: it must be named and
 * exist). PET_ERR_CONFIG naming the field and path. Local (every rank may call it).
 */
pet_status pet_cli_check_recon_outputs(const pet_config *cfg, bool sens_only, bool resume);

/** Hash of the config fields that determine the iterates (not output names, verbosity,
 *  threads, devices, iteration count, nor the paths of the scanner and data, whose contents
 *  are hashed instead: in->scanner_checksum, in->data_checksum). */
uint64_t pet_cli_result_hash(const pet_config *cfg, const pet_inputs *in);

/** Fills the identity part of a checkpoint (config hash, data size and checksum, and the
 *  "name: value" lines of ck->fields). Local. */
void pet_cli_checkpoint_identity(const pet_config *cfg, const pet_inputs *in, pet_h5_checkpoint *ck);

/**
 * PET_OK when checkpoint ck (image x) can continue this run; otherwise PET_ERR_CONFIG saying
 * field by field what differs ("subsets: checkpoint 12, this run 8"), or which data file, grid
 * or iteration does not match. Local.
 */
pet_status pet_cli_check_resume(const pet_config *cfg, const pet_inputs *in, const pet_h5_checkpoint *ck,
                                const pet_image *x);

#endif
