/* petrel: the reconstruction configuration (JSON). Only config/ includes cJSON.h. */
#ifndef PET_CONFIG_H
#define PET_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_prior.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PET_CONFIG_PATH_MAX 1024 /* bytes of a path, NUL included */
#define PET_CONFIG_FRAMES_MAX 4096

typedef enum pet_data_format {
  PET_DATA_AUTO = 0,          /* "auto": from the file (HDF5 signature, else the extension) */
  PET_DATA_HDF5 = 1,          /* "hdf5": petrel's HDF5 layout (include/petrel/pet_h5.h) */
  PET_DATA_YRT_HISTOGRAM = 2, /* "yrt-histogram": YRT-PET .his */
  PET_DATA_YRT_LISTMODE = 3   /* "yrt-listmode": YRT-PET .lmDat */
} pet_data_format;

typedef enum pet_config_projector {
  PET_CONFIG_PROJ_S = 0,  /* "S": Siddon */
  PET_CONFIG_PROJ_DD = 1, /* "DD": distance-driven */
  PET_CONFIG_PROJ_MRS = 2 /* "MRS": multi-ray Siddon (num_rays rays per LOR) */
} pet_config_projector;

/** Image grid; all zeros (the default) means "the scanner's default grid". */
typedef struct pet_config_image {
  int32_t nx, ny, nz;                 /* 0, or all three > 0 */
  double length_x, length_y, length_z; /* mm; 0, or all three > 0 */
  double off_x, off_y, off_z;         /* mm, image centre in the scanner frame */
} pet_config_image;

/**
 * A reconstruction run. JSON keys are the field names ("image" is a nested object with the
 * pet_config_image fields); a path "" means "not given". Defaults (pet_config_defaults):
 *   scanner, data, output: ""   (scanner required; data and output required unless only
 *                                save_sensitivity is wanted: a sensitivity-only run)
 *   data_format "auto", listmode_tof false (YRT-PET .lmDat events carry a float32 TOF)
 *   normalisation, attenuation (per-bin ACFs), attenuation_image (mu-map, cm^-1), randoms,
 *   scatter: ""                 (attenuation and attenuation_image exclude each other)
 *   sensitivity "" (load instead of computing), save_sensitivity "" (they exclude each other)
 *   initial_image ""            (uniform 1 when not given)
 *   iterations 10 [1, 100000], subsets 1 [1, 100000]
 *   projector "S" ("S" | "DD" | "MRS"), num_rays 1 [1, 1024]
 *   tof false, tof_n_sigmas 3 (0, 100]
 *   psf_fwhm_mm 0 [0, 1000]     (0: no image-space PSF)
 *   algorithm "osem" ("osem" | "osl" | "bsrem"), prior "none" ("none" | "rdp" | "quadratic"),
 *   beta 0 [0, 1e12], gamma 2 [0, 1e6], epsilon 1e-7 [0, 1e6] (pet_prior.h; a prior with
 *                               beta > 0 needs "osl" or "bsrem", beta > 0 needs a prior)
 *   relaxation 1 (0, 1e6], relaxation_eta 0.1 [0, 1e6] (bsrem: lambda_k = relaxation /
 *                               (1 + relaxation_eta k) in iteration k)
 *   threads 0 [0, 4096]         (0: OpenMP's default)
 *   image all 0                 (the scanner's default grid); n in [0, 32767], length in
 *                               [0, 1e5] mm, off in [-1e5, 1e5] mm
 *   save_every 0 [0, 1e6]       (0: only the final image)
 *   gpu false, device 0 [0, 1024], vram_budget_mb 0 [0, 2^40] (0: automatic)
 *   checkpoint ""               (no checkpoints)
 *   quiet false, json_lines false (progress as one JSON object per line)
 *   frames ""                   (static); "6x10,8x30" = 6 frames of 10 s then 8 of 30 s;
 *                               "10,10,30" durations; "0-10,20-30" start-end seconds (gaps
 *                               allowed, no overlap); "@F" after an item: a per-frame factor
 *                               (dead time, normalisation drift) multiplying its image;
 *                               "study.dyn": a YRT-PET framing file (start times in ms, then
 *                               the last end). In JSON also an array: [10, 10, 30],
 *                               [[0, 10], [10, 20]] or [{"start": 0, "end": 10, "factor": 1.02},
 *                               {"duration": 30}] (converted to the text form)
 *   half_life_s 0 [0, 1e12]     (0: no decay correction)
 *   tac_mask ""                 dynamic: a label image (NIfTI); mean activity per label and
 *                               frame goes to <output stem>_tac.csv and _tac.png
 *   frame_files false           dynamic: one NIfTI per frame instead of one 4D file
 *   seed 42 [0, 2^53]           petrel demo: the seed of the simulated noise (not read by a
 *                               reconstruction)
 *   counts 2e7 [1, 1e13]        petrel demo: the expected true counts of the simulation
 *   stream false                an HDF5 list-mode is read from its file in windows while OSEM
 *                               runs instead of all at once (static reconstructions; other
 *                               data is an error); the same image
 *   lm_window_events 0 [0, 2^40] events per window when streamed (0: the library's default)
 *   scatter "estimate"          instead of a per-bin file: single scatter simulation from the
 *                               current image and attenuation_image (required), tail-fitted
 *                               to the data, re-estimated after each of the first
 *   scatter_iterations 3 [1, 100]  iterations (at most "iterations"); histograms and in-memory
 *                               list-mode (non-TOF estimate per bin; not streamed)
 *   scatter_step_mm 0 [0, 1000] spacing of the scatter points (0: 20 mm)
 *   scatter_output ""           where the final scatter estimate goes (HDF5 per-bin, rank 0)
 */
typedef struct pet_config {
  char scanner[PET_CONFIG_PATH_MAX];
  char data[PET_CONFIG_PATH_MAX];
  pet_data_format data_format;
  bool listmode_tof;
  char normalisation[PET_CONFIG_PATH_MAX];
  char attenuation[PET_CONFIG_PATH_MAX];
  char attenuation_image[PET_CONFIG_PATH_MAX];
  char randoms[PET_CONFIG_PATH_MAX];
  char scatter[PET_CONFIG_PATH_MAX];
  char sensitivity[PET_CONFIG_PATH_MAX];
  char save_sensitivity[PET_CONFIG_PATH_MAX];
  char output[PET_CONFIG_PATH_MAX];
  char initial_image[PET_CONFIG_PATH_MAX];
  int32_t iterations;
  int32_t subsets;
  pet_config_projector projector;
  int32_t num_rays;
  bool tof;
  double tof_n_sigmas;
  double psf_fwhm_mm;
  pet_osem_algorithm algorithm;
  pet_prior_kind prior;
  double beta, gamma, epsilon;
  double relaxation, relaxation_eta;
  int32_t threads;
  pet_config_image image;
  int32_t save_every;
  bool gpu;
  int32_t device;
  int64_t vram_budget_mb;
  char checkpoint[PET_CONFIG_PATH_MAX];
  bool quiet;
  bool json_lines;
  char frames[PET_CONFIG_FRAMES_MAX];
  double half_life_s;
  char tac_mask[PET_CONFIG_PATH_MAX];
  bool frame_files;
  int64_t seed;
  double counts;
  bool stream;
  int64_t lm_window_events;
  int32_t scatter_iterations;
  double scatter_step_mm;
  char scatter_output[PET_CONFIG_PATH_MAX];
} pet_config;

/* The value of field "scatter" that asks for a scatter estimate (pet_scatter.h) instead of a
 * per-bin file. */
#define PET_CONFIG_SCATTER_ESTIMATE "estimate"

/** One time frame: [start_s, start_s + duration_s), and a factor multiplying its image. */
typedef struct pet_frame_def {
  double start_s, duration_s, factor;
} pet_frame_def;

/** The defaults listed above. Local. */
void pet_config_defaults(pet_config *cfg);

/**
 * Reads a JSON config file over *cfg: the keys present replace their fields, the others keep
 * their values (start from pet_config_defaults). Every key is checked: its type, its range,
 * unknown keys. On error *cfg may be partly updated. Local.
 * Errors: PET_ERR_ARG (NULL), PET_ERR_IO (cannot read the file), PET_ERR_CONFIG (invalid JSON,
 * a bad value or an unknown key; the message names the file and the field).
 */
pet_status pet_config_read_json(pet_config *cfg, const char *path);

/**
 * Same as pet_config_read_json for JSON text already in memory (NUL-terminated); `name` stands
 * for the file in the messages; relative paths stay relative (to the working directory).
 * Local. Errors: PET_ERR_ARG (NULL), PET_ERR_CONFIG (as pet_config_read_json).
 */
pet_status pet_config_parse_json(pet_config *cfg, const char *text, const char *name);

/**
 * Sets one field from text, as given on the command line ("--iterations 3" -> key
 * "iterations", value "3"). Leading "--" is dropped and '-' read as '_' ("save-every");
 * image fields are "image.nx" (or "image_nx"). Booleans take true/false/1/0/yes/no/on/off;
 * "" clears a path. Same checks as pet_config_read_json. Local.
 * Errors: PET_ERR_ARG (NULL), PET_ERR_CONFIG (unknown key or bad value, named).
 */
pet_status pet_config_set(pet_config *cfg, const char *key, const char *value);

/** Cross-field checks (required fields, exclusive pairs, image all-or-nothing, ...). Local.
 *  Errors: PET_ERR_CONFIG naming the fields. */
pet_status pet_config_validate(const pet_config *cfg);

/**
 * The canonical JSON of cfg: every field, in declaration order. pretty selects indented
 * output (for files and logs) or one line (what pet_config_hash digests). Returns ownership of
 * *json: free with free(). Local. Errors: PET_ERR_ARG, PET_ERR_NOMEM.
 */
pet_status pet_config_to_json(const pet_config *cfg, bool pretty, char **json);

/** Writes the canonical JSON (indented) to path, atomically (temporary file + rename). Local.
 *  Errors: PET_ERR_ARG, PET_ERR_NOMEM, PET_ERR_IO naming the file. */
pet_status pet_config_write_json(const pet_config *cfg, const char *path);

/** 64-bit FNV-1a of the one-line canonical JSON; 0 only if that cannot be built. Local. */
uint64_t pet_config_hash(const pet_config *cfg);

/**
 * Parses cfg->frames into frame durations in seconds: "6x10,8x30" gives 14 durations. An empty
 * frames string gives *n = 0 and *durations_s = NULL. Returns ownership of *durations_s: free
 * with free(). Local. Errors: PET_ERR_CONFIG (bad syntax), PET_ERR_NOMEM.
 */
pet_status pet_config_frames(const pet_config *cfg, double **durations_s, int *n);

/**
 * The frames of cfg->frames with start times, durations and factors (all syntaxes above; a
 * ".dyn" path is read here, relative to the working directory). Frames are in time order and
 * do not overlap. Empty frames: *n = 0, *frames = NULL. Returns ownership of *frames: free
 * with free(). Local. Errors: PET_ERR_CONFIG (bad syntax, unreadable or bad .dyn file, named),
 * PET_ERR_NOMEM.
 */
pet_status pet_config_frame_defs(const pet_config *cfg, pet_frame_def **frames, int *n);

struct pet_osem_opts;
/** Sets the regularisation fields of o (algorithm, prior, beta, gamma, epsilon, relaxation,
 *  relaxation_eta) from cfg; the other fields are left as they are. Local.
 *  Errors: PET_ERR_ARG (NULL), PET_ERR_CONFIG (a bad value, named). */
pet_status pet_config_apply_prior(const pet_config *cfg, struct pet_osem_opts *o);

/** "auto", "hdf5", ... and "S", "DD", "MRS". Local. */
const char *pet_data_format_name(pet_data_format f);
const char *pet_config_projector_name(pet_config_projector p);

#ifdef __cplusplus
}
#endif
#endif /* PET_CONFIG_H */
