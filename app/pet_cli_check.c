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

pet_status pet_cli_read_image_checked(const char *path, const char *field, pet_cli_image_kind kind,
                                      pet_image **out)
{
  *out = NULL;
  pet_image *img = NULL;
  /* the reader's message is printed once, below, with the field's name in front */
  const bool was = pet_error_set_print(false);
  pet_status st = pet_image_read_nifti(&img, path);
  if (st == PET_OK) st = kind == PET_CLI_IMAGE_MU ? pet_image_check_mu(img, path) : pet_image_check_values(img, path, false);
  pet_error_set_print(was);
  if (st != PET_OK) {
    pet_image_destroy(&img);
    return PET_ERROR(st, "%s: %s", L(field), pet_last_error());
  }
  *out = img;
  return PET_OK;
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

static uint64_t mix(uint64_t h, uint64_t v)
{
  for (int i = 0; i < 8; ++i) h = (h ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ull;
  return h;
}

uint64_t pet_cli_result_hash(const pet_config *cfg, const pet_inputs *in)
{
  pet_config c = *cfg;
  c.quiet = false;
  c.json_lines = false;
  c.save_every = 0;
  c.iterations = 1;
  c.threads = 0;
  c.gpu = false;
  c.device = 0;
  c.vram_budget_mb = 0;
  c.output[0] = '\0';
  c.checkpoint[0] = '\0';
  c.save_sensitivity[0] = '\0';
  /* contents, not paths: a moved scanner or data file resumes, a changed one does not */
  c.scanner[0] = '\0';
  c.data[0] = '\0';
  return mix(pet_config_hash(&c), in->scanner_checksum);
}

void pet_cli_checkpoint_identity(const pet_config *cfg, const pet_inputs *in, pet_h5_checkpoint *ck)
{
  ck->config_hash = pet_cli_result_hash(cfg, in);
  ck->data_bytes = in->data_bytes;
  ck->data_checksum = in->data_checksum;
  const pet_config_image *im = &cfg->image;
  snprintf(ck->fields, sizeof ck->fields,
           "scanner content: checksum %016llx\n"
           "data content: %lld bytes, checksum %016llx\n"
           "data_format: %s\nlistmode_tof: %s\n"
           "subsets: %d\nprojector: %s\nnum_rays: %d\ntof: %s\ntof_n_sigmas: %g\npsf_fwhm_mm: %g\n"
           "image: %dx%dx%d voxels, %gx%gx%g mm, centre (%g, %g, %g) mm\n"
           "normalisation: %s\nattenuation: %s\nattenuation_image: %s\nrandoms: %s\nscatter: %s\n"
           "sensitivity: %s\ninitial_image: %s\n",
           (unsigned long long)in->scanner_checksum, (long long)in->data_bytes,
           (unsigned long long)in->data_checksum, pet_data_format_name(cfg->data_format),
           cfg->listmode_tof ? "true" : "false", cfg->subsets, pet_config_projector_name(cfg->projector),
           cfg->num_rays, cfg->tof ? "true" : "false", cfg->tof_n_sigmas, cfg->psf_fwhm_mm, im->nx, im->ny, im->nz,
           im->length_x, im->length_y, im->length_z, im->off_x, im->off_y, im->off_z, cfg->normalisation,
           cfg->attenuation, cfg->attenuation_image, cfg->randoms, cfg->scatter, cfg->sensitivity,
           cfg->initial_image);
  /* the regularisation (also in the hash): a resume with another prior is refused, naming it */
  const size_t used = strlen(ck->fields);
  snprintf(ck->fields + used, sizeof ck->fields - used,
           "algorithm: %s\nprior: %s\nbeta: %.9g\ngamma: %.9g\nepsilon: %.9g\nrelaxation: %.9g\nrelaxation_eta: %.9g\n",
           pet_osem_algorithm_name(cfg->algorithm), pet_prior_kind_name(cfg->prior), cfg->beta, cfg->gamma, cfg->epsilon,
           cfg->relaxation, cfg->relaxation_eta);
}

/* The value of line "key: value" in fields, into val; false if there is no such line. */
static bool field_value(const char *fields, const char *key, size_t klen, char *val, size_t len)
{
  for (const char *p = fields; *p;) {
    const char *eol = strchr(p, '\n');
    size_t n = eol ? (size_t)(eol - p) : strlen(p);
    if (n > klen + 1 && strncmp(p, key, klen) == 0 && p[klen] == ':' && p[klen + 1] == ' ') {
      snprintf(val, len, "%.*s", (int)(n - klen - 2), p + klen + 2);
      return true;
    }
    if (n == klen + 1 && strncmp(p, key, klen) == 0 && p[klen] == ':') {
      snprintf(val, len, "%s", "");
      return true;
    }
    p += n + (eol ? 1 : 0);
  }
  return false;
}

/* "key: checkpoint A, this run B; ..." for every line of a that differs in b. */
static void describe_diff(const char *a, const char *b, char *out, size_t len)
{
  out[0] = '\0';
  char va[PET_CONFIG_PATH_MAX + 64], vb[PET_CONFIG_PATH_MAX + 64];
  for (const char *p = a; *p;) {
    const char *eol = strchr(p, '\n');
    size_t n = eol ? (size_t)(eol - p) : strlen(p);
    const char *colon = memchr(p, ':', n);
    if (colon) {
      size_t klen = (size_t)(colon - p);
      field_value(a, p, klen, va, sizeof va);
      if (!field_value(b, p, klen, vb, sizeof vb)) snprintf(vb, sizeof vb, "%s", "(none)");
      if (strcmp(va, vb) != 0) {
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%.*s: checkpoint %s, this run %s", used ? "; " : "", (int)klen, p,
                 va[0] ? va : "\"\"", vb[0] ? vb : "\"\"");
      }
    }
    p += n + (eol ? 1 : 0);
  }
}

pet_status pet_cli_check_resume(const pet_config *cfg, const pet_inputs *in, const pet_h5_checkpoint *ck,
                                const pet_image *x)
{
  pet_h5_checkpoint now;
  memset(&now, 0, sizeof now);
  pet_cli_checkpoint_identity(cfg, in, &now);
  char diff[4096] = "";
  if (ck->fields[0]) describe_diff(ck->fields, now.fields, diff, sizeof diff);
  if (diff[0])
    return PET_ERROR(PET_ERR_CONFIG, "%s: the checkpoint was written with another config or other inputs: %s; "
                     "refusing to resume", cfg->checkpoint, diff);
  if (ck->config_hash != now.config_hash)
    return PET_ERROR(PET_ERR_CONFIG, "%s: the checkpoint was written with another config (hash %016llx, this "
                     "config %016llx, scanner %s content %016llx): refusing to resume", cfg->checkpoint,
                     (unsigned long long)ck->config_hash, (unsigned long long)now.config_hash, cfg->scanner,
                     (unsigned long long)in->scanner_checksum);
  if (ck->data_bytes != in->data_bytes || ck->data_checksum != in->data_checksum)
    return PET_ERROR(PET_ERR_CONFIG, "%s: the checkpoint belongs to other data (%lld bytes, checksum %016llx; %s "
                     "has %lld bytes, checksum %016llx): refusing to resume", cfg->checkpoint,
                     (long long)ck->data_bytes, (unsigned long long)ck->data_checksum, cfg->data,
                     (long long)in->data_bytes, (unsigned long long)in->data_checksum);
  if (!pet_image_params_equal(&x->params, &in->image))
    return PET_ERROR(PET_ERR_CONFIG, "%s: the checkpoint's image grid differs from the config's", cfg->checkpoint);
  if (ck->next_iteration >= cfg->iterations)
    return PET_ERROR(PET_ERR_CONFIG, "%s: the checkpoint is already past iteration %d", cfg->checkpoint,
                     cfg->iterations);
  return PET_OK;
}
