/* The checks of a job's inputs that are not about a command line: input images, and a
 * checkpoint's identity (config hash, data and scanner checksums, the fields it was written
 * with) against this run. */
#include <stdio.h>
#include <string.h>

#include "pet_job_inputs.h"
#include "pet_nifti.h"

/* How an error names what it is about: a flag as itself (--image), a config field as
 * field "output". */
static const char *L(const char *field)
{
  static char buf[96];
  if (field[0] == '-') return field;
  snprintf(buf, sizeof buf, "field \"%s\"", field);
  return buf;
}

pet_status pet_job_read_image_checked(const char *path, const char *field, pet_job_image_kind kind,
                                      pet_image **out)
{
  *out = NULL;
  pet_image *img = NULL;
  /* the reader's message is printed once, below, with the field's name in front */
  const bool was = pet_error_set_print(false);
  pet_status st = pet_image_read_nifti(&img, path);
  if (st == PET_OK) st = kind == PET_JOB_IMAGE_MU ? pet_image_check_mu(img, path) : pet_image_check_values(img, path, false);
  pet_error_set_print(was);
  if (st != PET_OK) {
    pet_image_destroy(&img);
    return PET_ERROR(st, "%s: %s", L(field), pet_last_error());
  }
  *out = img;
  return PET_OK;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
  for (int i = 0; i < 8; ++i) h = (h ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ull;
  return h;
}

uint64_t pet_job_result_hash(const pet_config *cfg, const pet_job_inputs *in)
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
  /* the demo's simulation fields: not read by a reconstruction */
  c.seed = 0;
  c.counts = 0;
  /* streamed or in memory: the same iterates (bit for bit on the CPU) */
  c.stream = false;
  c.lm_window_events = 0;
  return mix(pet_config_hash(&c), in->scanner_checksum);
}

void pet_job_checkpoint_identity(const pet_config *cfg, const pet_job_inputs *in, pet_h5_checkpoint *ck)
{
  ck->config_hash = pet_job_result_hash(cfg, in);
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

pet_status pet_job_check_resume(const pet_config *cfg, const pet_job_inputs *in, const pet_h5_checkpoint *ck,
                                const pet_image *x)
{
  pet_h5_checkpoint now;
  memset(&now, 0, sizeof now);
  pet_job_checkpoint_identity(cfg, in, &now);
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

void pet_job_checkpoint_path(const pet_config *cfg, char *buf, size_t len)
{
  int n = 0;
  if (cfg->checkpoint[0]) n = snprintf(buf, len, "%s", cfg->checkpoint);
  else if (cfg->output[0]) n = snprintf(buf, len, "%s.ckpt.h5", cfg->output);
  else buf[0] = '\0';
  if (n < 0 || (size_t)n >= len) buf[0] = '\0';
}
