#include "pet_cli_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_fileutil.h"
#include "pet_h5.h"
#include "pet_nifti.h"
#include "pet_yrt_io.h"

pet_image_params pet_cli_default_grid(const pet_scanner *s)
{
  const pet_scanner_params *p = &s->params;
  float len = 1.4f * p->scanner_radius;
  float vox = p->crystal_size_trans > 0 ? p->crystal_size_trans : 2.0f;
  int32_t n = (int32_t)ceilf(len / vox);
  if (n < 8) n = 8;
  return pet_image_params_make(n, n, p->num_rings, (float)n * vox, (float)n * vox, p->axial_fov);
}

static bool ends_with(const char *s, const char *suffix)
{
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

pet_status pet_cli_detect_format(const char *path, pet_data_format hint, pet_data_format *fmt,
                                 pet_data_kind *kind)
{
  *kind = PET_KIND_NONE;
  pet_data_format f = hint;
  if (f == PET_DATA_AUTO) {
    unsigned char sig[8] = {0};
    FILE *fp = fopen(path, "rb");
    PET_CHECK(fp != NULL, PET_ERR_IO, "%s: cannot open the data file", path);
    size_t n = fread(sig, 1, 8, fp);
    fclose(fp);
    static const unsigned char h5sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (n == 8 && memcmp(sig, h5sig, 8) == 0)
      f = PET_DATA_HDF5;
    else if (ends_with(path, ".his"))
      f = PET_DATA_YRT_HISTOGRAM;
    else if (ends_with(path, ".lmDat") || ends_with(path, ".lmdat"))
      f = PET_DATA_YRT_LISTMODE;
    else
      return PET_ERROR(PET_ERR_CONFIG, "%s: field \"data_format\": cannot tell the format (not HDF5, "
                       "not .his or .lmDat); set data_format", path);
  }
  *fmt = f;
  if (f == PET_DATA_YRT_HISTOGRAM) *kind = PET_KIND_HISTOGRAM;
  if (f == PET_DATA_YRT_LISTMODE) *kind = PET_KIND_LISTMODE;
  if (f == PET_DATA_HDF5) {
    int64_t nb = 0;
    pet_error_set_print(false);
    pet_status st = pet_h5_histogram_info(path, &nb, NULL, 0, NULL);
    pet_error_set_print(true);
    if (st == PET_OK) {
      *kind = PET_KIND_HISTOGRAM;
    } else {
      int64_t n = 0;
      bool tof = false;
      PET_TRY(pet_h5_listmode_info(path, &n, &tof, NULL, 0));
      *kind = PET_KIND_LISTMODE;
    }
  }
  return PET_OK;
}

pet_status pet_cli_file_checksum(const char *path, int64_t *bytes, uint64_t *sum)
{
  FILE *f = fopen(path, "rb");
  PET_CHECK(f != NULL, PET_ERR_IO, "%s: cannot open", path);
  uint64_t h = 1469598103934665603ull;
  int64_t total = 0;
  uint64_t buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    size_t words = n / 8;
    for (size_t i = 0; i < words; ++i) h = (h ^ buf[i]) * 1099511628211ull;
    for (size_t i = words * 8; i < n; ++i) h = (h ^ ((unsigned char *)buf)[i]) * 1099511628211ull;
    total += (int64_t)n;
  }
  bool err = ferror(f) != 0;
  fclose(f);
  PET_CHECK(!err, PET_ERR_IO, "%s: read error", path);
  *bytes = total;
  *sum = h;
  return PET_OK;
}

pet_status pet_cli_read_bins(const char *path, const char *h5_name, int64_t num_bins, int64_t first,
                             int64_t count, float *out)
{
  pet_data_format fmt;
  pet_data_kind kind;
  FILE *fp = fopen(path, "rb");
  PET_CHECK(fp != NULL, PET_ERR_IO, "%s: cannot open", path);
  unsigned char sig[8] = {0};
  size_t n = fread(sig, 1, 8, fp);
  fclose(fp);
  (void)fmt;
  (void)kind;
  if (n == 8 && sig[0] == 0x89 && sig[1] == 'H' && sig[2] == 'D' && sig[3] == 'F') {
    int64_t nb = 0;
    unsigned which = 0;
    PET_TRY(pet_h5_histogram_info(path, &nb, NULL, 0, &which));
    PET_CHECK(nb == num_bins, PET_ERR_IO, "%s: %lld bins, the scanner has %lld", path, (long long)nb,
              (long long)num_bins);
    static const char *names[4] = {"normalisation", "attenuation", "randoms", "scatter"};
    const char *ds = "histogram";
    for (int i = 0; i < 4; ++i)
      if (h5_name && !strcmp(h5_name, names[i]) && (which & (1u << i))) ds = h5_name;
    char full[64];
    snprintf(full, sizeof full, "%s%s", strcmp(ds, "histogram") ? "corrections/" : "", ds);
    if (count == 0) return PET_OK;
    return pet_h5_read_histogram_range(path, full, first, count, out + first);
  }
  int32_t ndim = 0;
  int64_t dims[8];
  float *data = NULL;
  PET_TRY(pet_rawd_read(path, &ndim, dims, &data));
  int64_t total = 1;
  for (int i = 0; i < ndim; ++i) total *= dims[i];
  if (total != num_bins) {
    free(data);
    return PET_ERROR(PET_ERR_IO, "%s: %lld values, the scanner's histogram has %lld bins", path,
                     (long long)total, (long long)num_bins);
  }
  memcpy(out + first, data + first, (size_t)count * sizeof(float));
  free(data);
  return PET_OK;
}

/* Reads this rank's events of every subset from an HDF5 list-mode into full-size arrays. */
static pet_status read_lm_shares(const char *path, int64_t n, int32_t S, int rank, int size,
                                 pet_listmode *lm, int64_t *bytes)
{
  for (int32_t s = 0; s < S; ++s) {
    int64_t first, count;
    pet_osem_rank_events(n, S, s, rank, size, &first, &count);
    if (count == 0) continue;
    PET_TRY(pet_h5_read_listmode_range(path, first, count, lm->time_ms + first, lm->d1 + first,
                                       lm->d2 + first, lm->has_tof ? lm->tof_ps + first : NULL));
    *bytes += count * (lm->has_tof ? 16 : 12);
  }
  return PET_OK;
}

static pet_status load_per_bin(const char *path, const char *name, int64_t nb, int64_t first,
                               int64_t count, float fill, float **out)
{
  if (path[0] == '\0') return PET_OK;
  float *buf = malloc((size_t)nb * sizeof(float));
  PET_CHECK(buf != NULL, PET_ERR_NOMEM, "%s: no memory for %lld bins", path, (long long)nb);
  for (int64_t i = 0; i < nb; ++i) buf[i] = fill;
  pet_status st = pet_cli_read_bins(path, name, nb, first, count, buf);
  if (st != PET_OK) {
    free(buf);
    return PET_ERROR(st, "field \"%s\": %s", name, pet_last_error());
  }
  for (int64_t i = first; i < first + count; ++i)
    if (!isfinite(buf[i]) || buf[i] < 0) {
      float v = buf[i];
      free(buf);
      return PET_ERROR(PET_ERR_IO, "%s: field \"%s\": bin %lld holds %g (must be finite and >= 0)",
                       path, name, (long long)i, (double)v);
    }
  *out = buf;
  return PET_OK;
}

/* m *= exp(-A mu) over this rank's bins. */
static pet_status attenuation_from_image(const pet_inputs *in, const char *path, const pet_config *cfg,
                                         int64_t first, int64_t count, float *mult)
{
  pet_image *mu = NULL;
  PET_TRY(pet_image_read_nifti(&mu, path));
  pet_status st = PET_OK;
  const int64_t cap = (int64_t)1 << 20;
  float *lor = malloc((size_t)cap * 6 * sizeof(float)), *proj = malloc((size_t)cap * sizeof(float));
  pet_projector_params pp = pet_projector_params_default();
  pp.crystal_size_trans = in->scanner->params.crystal_size_trans;
  pp.crystal_size_z = in->scanner->params.crystal_size_z;
  pp.num_threads = cfg->threads;
  PET_CHECK_GOTO(st, lor && proj, PET_ERR_NOMEM, out, "attenuation_image: out of memory");
  for (int64_t k0 = first; k0 < first + count; k0 += cap) {
    int64_t cnt = first + count - k0 < cap ? first + count - k0 : cap;
    PET_TRY_GOTO(st, pet_histo_get_lors(in->layout, in->scanner, NULL, k0, cnt, lor, NULL), out);
    pet_lor_batch b = {cnt, lor, NULL, NULL};
    PET_TRY_GOTO(st, pet_project_fwd_cpu(&pp, &b, mu, proj), out);
    for (int64_t i = 0; i < cnt; ++i) mult[k0 + i] *= expf(-proj[i]);
  }
out:
  free(lor);
  free(proj);
  pet_image_destroy(&mu);
  return st;
}

pet_status pet_cli_load_inputs(const pet_config *cfg, int rank, int size, bool need_data, pet_inputs *in)
{
  memset(in, 0, sizeof *in);
  pet_status st = PET_OK;
  PET_TRY_GOTO(st, pet_scanner_read_json(&in->scanner, cfg->scanner), fail);
  PET_TRY_GOTO(st, pet_histo_layout_create(&in->layout, in->scanner), fail);
  if (cfg->image.nx > 0) {
    in->image = pet_image_params_make(cfg->image.nx, cfg->image.ny, cfg->image.nz, (float)cfg->image.length_x,
                                      (float)cfg->image.length_y, (float)cfg->image.length_z);
    in->image.off_x = (float)cfg->image.off_x;
    in->image.off_y = (float)cfg->image.off_y;
    in->image.off_z = (float)cfg->image.off_z;
  } else {
    in->image = pet_cli_default_grid(in->scanner);
  }
  const int64_t nb = in->layout->num_bins;
  int64_t bfirst = 0, bcount = nb;
  if (size > 1) pet_osem_rank_bins(in->layout, rank, size, &bfirst, &bcount);

  if (need_data && cfg->data[0]) {
    pet_data_format fmt;
    PET_TRY_GOTO(st, pet_cli_detect_format(cfg->data, cfg->data_format, &fmt, &in->kind), fail);
    PET_TRY_GOTO(st, pet_file_size(cfg->data, &in->data_bytes), fail);
    if (in->kind == PET_KIND_HISTOGRAM) {
      in->values = calloc((size_t)nb, sizeof(float));
      PET_CHECK_GOTO(st, in->values != NULL, PET_ERR_NOMEM, fail, "%s: no memory for %lld bins", cfg->data,
                     (long long)nb);
      if (fmt == PET_DATA_HDF5) {
        char name[PET_SCANNER_NAME_MAX] = "";
        int64_t fnb = 0;
        PET_TRY_GOTO(st, pet_h5_histogram_info(cfg->data, &fnb, name, sizeof name, NULL), fail);
        PET_CHECK_GOTO(st, fnb == nb, PET_ERR_IO, fail,
                       "%s: field \"data\": %lld bins, scanner %s (%s) has %lld", cfg->data, (long long)fnb,
                       in->scanner->params.name, cfg->scanner, (long long)nb);
        if (bcount > 0)
          PET_TRY_GOTO(st, pet_h5_read_histogram_range(cfg->data, "histogram", bfirst, bcount, in->values + bfirst),
                       fail);
        in->bytes_read = bcount * 4;
      } else {
        pet_histogram *h = NULL;
        PET_TRY_GOTO(st, pet_histogram_read_yrt(&h, in->scanner, cfg->data), fail);
        memcpy(in->values, h->data, (size_t)nb * sizeof(float));
        pet_histogram_destroy(&h);
        in->bytes_read = in->data_bytes;
      }
      for (int64_t i = bfirst; i < bfirst + bcount; ++i)
        PET_CHECK_GOTO(st, isfinite(in->values[i]) && in->values[i] >= 0, PET_ERR_IO, fail,
                       "%s: field \"data\": bin %lld holds %g (counts must be finite and >= 0)", cfg->data,
                       (long long)i, (double)in->values[i]);
      PET_TRY_GOTO(st, pet_histogram_create_alias(&in->histogram, in->scanner, in->values), fail);
    } else {
      if (fmt == PET_DATA_HDF5) {
        int64_t n = 0;
        bool tof = false;
        PET_TRY_GOTO(st, pet_h5_listmode_info(cfg->data, &n, &tof, NULL, 0), fail);
        PET_CHECK_GOTO(st, !cfg->tof || tof, PET_ERR_CONFIG, fail,
                       "%s: field \"tof\" is true but the list-mode has no TOF values", cfg->data);
        PET_TRY_GOTO(st, pet_listmode_create_owned(&in->listmode, n, tof), fail);
        memset(in->listmode->d1, 0, (size_t)n * 4);
        memset(in->listmode->d2, 0, (size_t)n * 4);
        memset(in->listmode->time_ms, 0, (size_t)n * 4);
        if (size > 1)
          PET_TRY_GOTO(st, read_lm_shares(cfg->data, n, cfg->subsets, rank, size, in->listmode, &in->bytes_read),
                       fail);
        else if (n > 0)
          PET_TRY_GOTO(st, pet_h5_read_listmode_range(cfg->data, 0, n, in->listmode->time_ms, in->listmode->d1,
                                                      in->listmode->d2, tof ? in->listmode->tof_ps : NULL),
                       fail);
        if (size == 1) in->bytes_read = in->data_bytes;
      } else {
        PET_TRY_GOTO(st, pet_listmode_read_yrt(&in->listmode, in->scanner, cfg->data, cfg->listmode_tof), fail);
        in->bytes_read = in->data_bytes;
      }
      PET_TRY_GOTO(st, pet_listmode_check(in->listmode, in->scanner), fail);
    }
  }
  /* corrections: m = normalisation x attenuation, a = randoms + scatter, per bin. A list-mode
   * rank's events fall in any bin, so it needs every bin's corrections. */
  if (in->kind != PET_KIND_HISTOGRAM) {
    bfirst = 0;
    bcount = nb;
  }
  PET_TRY_GOTO(st, load_per_bin(cfg->normalisation, "normalisation", nb, bfirst, bcount, 1.0f, &in->mult), fail);
  float *att = NULL;
  PET_TRY_GOTO(st, load_per_bin(cfg->attenuation, "attenuation", nb, bfirst, bcount, 1.0f, &att), fail);
  if (att) {
    if (in->mult) {
      for (int64_t i = 0; i < nb; ++i) in->mult[i] *= att[i];
      free(att);
    } else {
      in->mult = att;
    }
  }
  if (cfg->attenuation_image[0]) {
    if (!in->mult) {
      in->mult = malloc((size_t)nb * sizeof(float));
      PET_CHECK_GOTO(st, in->mult != NULL, PET_ERR_NOMEM, fail, "attenuation_image: out of memory");
      for (int64_t i = 0; i < nb; ++i) in->mult[i] = 1.0f;
    }
    st = attenuation_from_image(in, cfg->attenuation_image, cfg, bfirst, bcount, in->mult);
    if (st != PET_OK) {
      st = PET_ERROR(st, "field \"attenuation_image\": %s", pet_last_error());
      goto fail;
    }
  }
  PET_TRY_GOTO(st, load_per_bin(cfg->randoms, "randoms", nb, bfirst, bcount, 0.0f, &in->add), fail);
  float *sc = NULL;
  PET_TRY_GOTO(st, load_per_bin(cfg->scatter, "scatter", nb, bfirst, bcount, 0.0f, &sc), fail);
  if (sc) {
    if (in->add) {
      for (int64_t i = 0; i < nb; ++i) in->add[i] += sc[i];
      free(sc);
    } else {
      in->add = sc;
    }
  }
  return PET_OK;
fail:
  pet_cli_free_inputs(in);
  return st;
}

void pet_cli_free_inputs(pet_inputs *in)
{
  pet_histogram_destroy(&in->histogram);
  free(in->values);
  pet_listmode_destroy(&in->listmode);
  free(in->mult);
  free(in->add);
  pet_histo_layout_destroy(&in->layout);
  pet_scanner_destroy(&in->scanner);
  memset(in, 0, sizeof *in);
}

void pet_cli_osem_data(const pet_inputs *in, pet_osem_data *d)
{
  memset(d, 0, sizeof *d);
  d->scanner = in->scanner;
  d->layout = in->layout;
  d->histogram = in->kind == PET_KIND_HISTOGRAM ? in->histogram : NULL;
  d->listmode = in->kind == PET_KIND_LISTMODE ? in->listmode : NULL;
  d->mult = in->mult;
  d->add = in->add;
  d->lm_count = -1;
}

pet_status pet_cli_osem_opts(const pet_config *cfg, const pet_scanner *s, pet_osem_opts *o)
{
  *o = pet_osem_opts_default();
  o->iterations = cfg->iterations;
  o->subsets = cfg->subsets;
  PET_TRY(pet_projector_params_set_name(&o->proj, pet_config_projector_name(cfg->projector)));
  if (cfg->projector == PET_CONFIG_PROJ_MRS) o->proj.num_rays = cfg->num_rays > 1 ? cfg->num_rays : 4;
  o->proj.crystal_size_trans = s->params.crystal_size_trans;
  o->proj.crystal_size_z = s->params.crystal_size_z;
  o->proj.tof = cfg->tof ? 1 : 0;
  o->proj.tof_fwhm_ps = s->params.tof_fwhm_ps;
  o->proj.tof_n_sigmas = (float)cfg->tof_n_sigmas;
  o->proj.num_threads = cfg->threads;
  o->psf_fwhm_mm = (float)cfg->psf_fwhm_mm;
  if (cfg->tof)
    PET_CHECK(s->params.tof_fwhm_ps > 0, PET_ERR_CONFIG,
              "field \"tof\": the scanner (%s) has no TOF resolution (tofResolution_ps)", s->params.name);
  return pet_projector_params_check(&o->proj);
}
