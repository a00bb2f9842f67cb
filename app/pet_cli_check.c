#include "pet_cli_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pet_nifti.h"

/* How an error names what it is about: a flag as itself (--out), a config field as
 * field "output". */
static const char *L(const char *field)
{
  static char buf[96];
  if (field[0] == '-') return field;
  snprintf(buf, sizeof buf, "field \"%s\"", field);
  return buf;
}

static bool ends_with(const char *s, const char *suffix)
{
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The folder of path ("." for a bare name) into buf. */
static void folder_of(const char *path, char *buf, size_t len)
{
  const char *slash = strrchr(path, '/');
  if (slash == NULL)
    snprintf(buf, len, ".");
  else if (slash == path)
    snprintf(buf, len, "/");
  else
    snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

static pet_status check_folder(const char *field, const char *path, const char *dir)
{
  struct stat sb;
  PET_CHECK(stat(dir, &sb) == 0, PET_ERR_CONFIG, "%s: %s: the folder %s does not exist", L(field), path,
            dir);
  PET_CHECK(S_ISDIR(sb.st_mode), PET_ERR_CONFIG, "%s: %s: %s is not a folder", L(field), path, dir);
  /* files are written to a temporary name in the folder and renamed: the folder must be writable */
  PET_CHECK(access(dir, W_OK | X_OK) == 0, PET_ERR_CONFIG, "%s: %s: the folder %s is not writable (%s)",
            field, path, dir, strerror(errno));
  return PET_OK;
}

pet_status pet_cli_check_output(const char *field, const char *path, const char *const *exts)
{
  PET_CHECK(path != NULL && path[0] != '\0', PET_ERR_CONFIG, "%s: no output path given", L(field));
  struct stat sb;
  PET_CHECK(!(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)), PET_ERR_CONFIG,
            "%s: %s is a directory; give a file name", L(field), path);
  PET_CHECK(path[strlen(path) - 1] != '/', PET_ERR_CONFIG, "%s: %s names a directory; give a file name",
            field, path);
  if (exts) {
    bool ok = false;
    char list[256] = "";
    for (int i = 0; exts[i]; ++i) {
      ok = ok || ends_with(path, exts[i]);
      size_t n = strlen(list);
      snprintf(list + n, sizeof list - n, "%s%s", i ? (exts[i + 1] ? ", " : " or ") : "", exts[i]);
    }
    PET_CHECK(ok, PET_ERR_CONFIG, "%s: %s: petrel writes %s here", L(field), path, list);
  }
  char dir[PET_CONFIG_PATH_MAX + 8];
  folder_of(path, dir, sizeof dir);
  return check_folder(field, path, dir);
}

pet_status pet_cli_check_output_dir(const char *field, const char *path)
{
  PET_CHECK(path != NULL && path[0] != '\0', PET_ERR_CONFIG, "%s: no output folder given", L(field));
  struct stat sb;
  if (stat(path, &sb) == 0) {
    PET_CHECK(S_ISDIR(sb.st_mode), PET_ERR_CONFIG, "%s: %s exists and is not a folder", L(field), path);
    PET_CHECK(access(path, W_OK | X_OK) == 0, PET_ERR_CONFIG, "%s: the folder %s is not writable (%s)",
              field, path, strerror(errno));
    return PET_OK;
  }
  /* created later, one level: its parent must exist */
  char buf[PET_CONFIG_PATH_MAX + 8], dir[PET_CONFIG_PATH_MAX + 8];
  snprintf(buf, sizeof buf, "%s", path);
  for (size_t n = strlen(buf); n > 1 && buf[n - 1] == '/'; --n) buf[n - 1] = '\0';
  folder_of(buf, dir, sizeof dir);
  return check_folder(field, path, dir);
}

static const char *const nifti_exts[] = {".nii", ".nii.gz", NULL};
static const char *const h5_exts[] = {".h5", ".hdf5", NULL};

/* out.nii.gz -> out<suffix> (the extension replaced), as the writers derive their names */
static void stem_with(char *buf, size_t len, const char *path, const char *suffix)
{
  const char *ext = strstr(path, ".nii");
  size_t stem = ext ? (size_t)(ext - path) : strlen(path);
  snprintf(buf, len, "%.*s%s", (int)stem, path, suffix);
}

pet_status pet_cli_check_recon_outputs(const pet_config *cfg, bool sens_only, bool resume)
{
  if (sens_only) return pet_cli_check_output("save_sensitivity", cfg->save_sensitivity, nifti_exts);
  if (cfg->output[0] || cfg->data[0]) PET_TRY(pet_cli_check_output("output", cfg->output, nifti_exts));
  if (cfg->save_sensitivity[0]) PET_TRY(pet_cli_check_output("save_sensitivity", cfg->save_sensitivity, nifti_exts));
  if (cfg->checkpoint[0]) PET_TRY(pet_cli_check_output("checkpoint", cfg->checkpoint, h5_exts));
  if (cfg->scatter_output[0]) PET_TRY(pet_cli_check_output("scatter_output", cfg->scatter_output, h5_exts));
  if (cfg->output[0] && cfg->frames[0]) {
    /* the dynamic outputs next to the image: sidecar, TAC table and plot */
    static const char *const derived[3] = {".json", "_tac.csv", "_tac.png"};
    char path[PET_CONFIG_PATH_MAX + 16];
    for (int i = 0; i < (cfg->tac_mask[0] ? 3 : 1); ++i) {
      stem_with(path, sizeof path, cfg->output, derived[i]);
      PET_TRY(pet_cli_check_output(i == 0 ? "output" : "tac_mask", path, NULL));
    }
  }
  if (resume) {
    PET_CHECK(cfg->checkpoint[0], PET_ERR_CONFIG,
              "--resume: no checkpoint to resume from (field \"checkpoint\" is empty); --resume-if-present "
              "starts afresh when there is none");
    PET_CHECK(access(cfg->checkpoint, R_OK) == 0, PET_ERR_CONFIG,
              "--resume: field \"checkpoint\": %s does not exist or cannot be read (%s); --resume-if-present "
              "starts afresh when there is none",
              cfg->checkpoint, strerror(errno));
  }
  return PET_OK;
}

