/* Checks the petrel subcommands make before any computation: outputs writable (the checks of
 * the inputs and of a checkpoint are the job's: src/job/pet_job_inputs.h). */
#ifndef PET_CLI_CHECK_H
#define PET_CLI_CHECK_H

#include <stdbool.h>

#include "pet_job_inputs.h"
#include "pet_config.h"
#include "pet_h5.h"
#include "pet_image.h"

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

#endif
