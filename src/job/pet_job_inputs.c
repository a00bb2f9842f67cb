#include "pet_job_inputs.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_comm.h"
#include "pet_fileutil.h"
#include "pet_fov.h"
#include "pet_h5.h"
#include "pet_nifti.h"
#include "pet_yrt_io.h"
#include "pet_project_batch.h"

pet_image_params pet_job_default_grid(const pet_scanner *s)
{
  const pet_scanner_params *p = &s->params;
  if (strcmp(p->name, pet_scanner_params_total_body().name) == 0) {
    const float v = PET_TOTAL_BODY_VOXEL_MM;
    return pet_image_params_make(PET_TOTAL_BODY_GRID_NXY, PET_TOTAL_BODY_GRID_NXY, PET_TOTAL_BODY_GRID_NZ,
                                 PET_TOTAL_BODY_GRID_NXY * v, PET_TOTAL_BODY_GRID_NXY * v, PET_TOTAL_BODY_GRID_NZ * v);
  }
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

pet_status pet_job_detect_format(const char *path, pet_data_format hint, pet_data_format *fmt,
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
    /* probing: a list-mode file is not a histogram, and that is no error to print */
    bool was = pet_error_set_print(false);
    pet_status st = pet_h5_histogram_info(path, &nb, NULL, 0, NULL);
    char why[512];
    snprintf(why, sizeof why, "%s", st != PET_OK ? pet_last_error() : "");
    pet_error_set_print(was);
    if (st == PET_OK) {
      *kind = PET_KIND_HISTOGRAM;
    } else if (pet_h5_has_dataset(path, "histogram")) {
      /* a histogram that is wrong in some way: say that, not that it is no list-mode */
      return PET_ERROR(PET_ERR_IO, "field \"data\": %s", why);
    } else {
      int64_t n = 0;
      bool tof = false;
      PET_TRY(pet_h5_listmode_info(path, &n, &tof, NULL, 0));
      *kind = PET_KIND_LISTMODE;
    }
  }
  return PET_OK;
}

pet_status pet_job_file_checksum(const char *path, int64_t *bytes, uint64_t *sum)
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

pet_status pet_job_read_bins(pet_comm *comm, const char *path, const char *h5_name, int64_t num_bins,
                             int64_t first, int64_t count, float *out)
{
  /* every rank passes the same agreements in the same order, so that one rank's failure
   * (a file it cannot see, a short read) cannot leave the others in the collective read */
  unsigned char sig[8] = {0};
  size_t n = 0;
  FILE *fp = fopen(path, "rb");
  pet_status st = fp != NULL ? PET_OK : PET_ERROR(PET_ERR_IO, "%s: cannot open", path);
  if (fp) {
    n = fread(sig, 1, 8, fp);
    fclose(fp);
  }
  PET_TRY(pet_comm_agree(comm, st));
  if (n == 8 && sig[0] == 0x89 && sig[1] == 'H' && sig[2] == 'D' && sig[3] == 'F') {
    int64_t nb = 0;
    unsigned which = 0;
    pet_h5_tof_info ti = {0, 0.0f, 0};
    st = pet_h5_histogram_info(path, &nb, NULL, 0, &which);
    if (st == PET_OK && nb != num_bins)
      st = PET_ERROR(PET_ERR_IO, "%s: dataset /histogram has %lld bins, the scanner's histogram has %lld", path,
                     (long long)nb, (long long)num_bins);
    if (st == PET_OK) st = pet_h5_histogram_tof_info(path, &nb, &ti);
    PET_TRY(pet_comm_agree(comm, st));
    static const char *names[4] = {"normalisation", "attenuation", "randoms", "scatter"};
    const char *ds = "histogram";
    unsigned per_tof = ti.num_tof_bins > 0; /* /histogram of a TOF file: T values per bin */
    for (int i = 0; i < 4; ++i)
      if (h5_name && !strcmp(h5_name, names[i]) && (which & (1u << i))) {
        ds = h5_name;
        per_tof = (ti.corr_per_tof_bin >> i) & 1u;
      }
    /* the callers read one value per bin: TOF-binned values are refused, not misread */
    st = per_tof ? PET_ERROR(PET_ERR_UNSUPPORTED, "%s: dataset /%s%s holds %d TOF bins per bin; the command "
                             "reads one value per bin here",
                             path, strcmp(ds, "histogram") ? "corrections/" : "", ds, (int)ti.num_tof_bins)
                 : PET_OK;
    PET_TRY(pet_comm_agree(comm, st));
    char full[64];
    snprintf(full, sizeof full, "%s%s", strcmp(ds, "histogram") ? "corrections/" : "", ds);
    return pet_h5_read_histogram_range_all(comm, path, full, first, count, out + first);
  }
  int32_t ndim = 0;
  int64_t dims[8];
  float *data = NULL;
  st = pet_rawd_read(path, &ndim, dims, &data);
  if (st == PET_OK) {
    int64_t total = 1;
    for (int i = 0; i < ndim; ++i) total *= dims[i];
    if (total != num_bins)
      st = PET_ERROR(PET_ERR_IO, "%s: %lld values, the scanner's histogram has %lld bins", path,
                     (long long)total, (long long)num_bins);
    else
      memcpy(out + first, data + first, (size_t)count * sizeof(float));
  }
  free(data);
  return pet_comm_agree(comm, st);
}

/* Reads this rank's events of every subset from an HDF5 list-mode into full-size arrays: S
 * collective reads on every rank, whatever its share of each subset (possibly none). */
static pet_status read_lm_shares(pet_comm *comm, const char *path, int64_t n, int32_t S, pet_listmode *lm,
                                 int64_t *bytes)
{
  const int rank = pet_comm_rank(comm), size = pet_comm_size(comm);
  for (int32_t s = 0; s < S; ++s) {
    int64_t first, count;
    pet_plan_rank_events(n, S, s, rank, size, &first, &count);
    PET_TRY(pet_h5_read_listmode_range_all(comm, path, first, count, lm->time_ms + first, lm->d1 + first,
                                           lm->d2 + first, lm->has_tof ? lm->tof_ps + first : NULL));
    *bytes += count * (lm->has_tof ? 16 : 12);
  }
  return PET_OK;
}

/* A sum over ranks; comm NULL: one process. Collective on comm. */
static pet_status sum_i64(pet_comm *comm, int64_t *v)
{
  return comm ? pet_comm_allreduce_sum_i64(comm, v, 1) : PET_OK;
}

static pet_status load_per_bin(pet_comm *comm, const char *path, const char *name, int64_t nb, int64_t first,
                               int64_t count, float fill, float **out)
{
  if (path[0] == '\0') return PET_OK;
  float *buf = malloc((size_t)nb * sizeof(float));
  pet_status st = buf ? PET_OK : PET_ERROR(PET_ERR_NOMEM, "%s: no memory for %lld bins", path, (long long)nb);
  PET_TRY(pet_comm_agree(comm, st));
  for (int64_t i = 0; i < nb; ++i) buf[i] = fill;
  /* the reader's message is printed once, with the field's name in front */
  const bool was = pet_error_set_print(false);
  st = pet_job_read_bins(comm, path, name, nb, first, count, buf);
  pet_error_set_print(was);
  if (st != PET_OK) {
    free(buf);
    return PET_ERROR(st, "field \"%s\": %s", name, pet_last_error());
  }
  int64_t nonzero = 0;
  for (int64_t i = first; i < first + count && st == PET_OK; ++i) {
    if (!isfinite(buf[i]) || buf[i] < 0)
      st = PET_ERROR(PET_ERR_IO, "%s: field \"%s\": bin %lld holds %g (must be finite and >= 0)", path, name,
                     (long long)i, (double)buf[i]);
    nonzero += buf[i] != 0.0f;
  }
  st = pet_comm_agree(comm, st);
  /* a multiplicative factor that is 0 everywhere makes every LOR invisible */
  if (st == PET_OK && fill == 1.0f) {
    st = sum_i64(comm, &nonzero);
    if (st == PET_OK && nonzero == 0 && nb > 0)
      st = PET_ERROR(PET_ERR_IO, "%s: field \"%s\": every bin is 0 (a %s of 0 means no LOR is seen): wrong "
                     "dataset or file?", path, name, name);
  }
  if (st != PET_OK) {
    free(buf);
    return st;
  }
  *out = buf;
  return PET_OK;
}

/* m *= exp(-A mu) over this rank's bins. */
static pet_status attenuation_from_image(pet_job_inputs *in, const char *path, const pet_config *cfg,
                                         int64_t first, int64_t count, float *mult)
{
  pet_image *mu = NULL;
  PET_TRY(pet_image_read_nifti(&mu, path));
  const bool keep = in->scatter_estimate; /* the SSS needs the mu-map and the line integrals */
  pet_status st = pet_image_check_mu(mu, path);
  if (st != PET_OK) {
    pet_image_destroy(&mu);
    return st;
  }
  const int64_t cap = count < ((int64_t)1 << 20) ? count : ((int64_t)1 << 20);
  float *proj = malloc((size_t)(cap > 0 ? cap : 1) * sizeof(float));
  pet_projector_params pp = pet_projector_params_default();
  pp.crystal_size_trans = in->scanner->params.crystal_size_trans;
  pp.crystal_size_z = in->scanner->params.crystal_size_z;
  pet_projector_params_set_fov(&pp, &in->scanner->params);
  pp.num_threads = cfg->threads;
  PET_CHECK_GOTO(st, proj != NULL, PET_ERR_NOMEM, out, "attenuation_image: out of memory");
  for (int64_t k0 = first; k0 < first + count; k0 += cap) {
    int64_t cnt = first + count - k0 < cap ? first + count - k0 : cap;
    PET_TRY_GOTO(st, pet_histo_project_fwd_cpu(in->layout, in->scanner, &pp, mu, k0, cnt, proj), out);
    for (int64_t i = 0; i < cnt; ++i) mult[k0 + i] *= expf(-proj[i]);
    if (keep) memcpy(in->mu_int + k0, proj, (size_t)cnt * sizeof(float));
  }
  if (keep) {
    in->mu = mu;
    mu = NULL;
  }
out:
  free(proj);
  pet_image_destroy(&mu);
  return st;
}

/* The scanner's content: the JSON's bytes and the detector LUT it gave (from its LUT file or
 * generated), so that a resumed run notices a changed scanner at an unchanged path. */
static pet_status scanner_checksum(const char *path, const pet_scanner *s, uint64_t *sum)
{
  int64_t bytes = 0;
  uint64_t h = 0;
  PET_TRY(pet_job_file_checksum(path, &bytes, &h));
  const unsigned char *b = (const unsigned char *)s->lut;
  for (size_t i = 0; b && i < (size_t)s->num_dets * 6 * sizeof(float); ++i) h = (h ^ b[i]) * 1099511628211ull;
  for (int64_t i = 0; s->det_mask && i < s->num_dets; ++i) h = (h ^ s->det_mask[i]) * 1099511628211ull;
  *sum = h;
  return PET_OK;
}

/* Every step's status is agreed across ranks (a no-op for one process), so all ranks fail
 * together and each reaches every collective read. */
#define AGREE_GOTO(st, expr)                                                                     \
  do {                                                                                           \
    (st) = (expr);                                                                               \
    (st) = pet_comm_agree(comm, (st));                                                           \
    if ((st) != PET_OK) goto fail;                                                               \
  } while (0)

static pet_status check_counts(const char *path, const float *v, int64_t first, int64_t count, bool signed_ok)
{
  if (signed_ok) {
    for (int64_t i = first; i < first + count; ++i)
      PET_CHECK(isfinite(v[i]), PET_ERR_IO, "%s: field \"data\": bin %lld holds %g (values must be finite)", path,
                (long long)i, (double)v[i]);
    return PET_OK;
  }
  for (int64_t i = first; i < first + count; ++i)
    PET_CHECK(isfinite(v[i]) && v[i] >= 0, PET_ERR_IO,
              "%s: field \"data\": bin %lld holds %g (counts must be finite and >= 0)", path, (long long)i,
              (double)v[i]);
  return PET_OK;
}

/* All-zero counts are allowed (an empty acquisition) but almost always a mistake: warn. */
static pet_status warn_if_empty(pet_comm *comm, const pet_job_hooks *hooks, const char *path, const float *v,
                                int64_t first, int64_t count)
{
  int64_t nonzero = 0;
  for (int64_t i = first; i < first + count; ++i) nonzero += v[i] != 0.0f;
  PET_TRY(sum_i64(comm, &nonzero));
  if (nonzero == 0)
    pet_job_log(hooks, comm, PET_JOB_WARNING, "%s: field \"data\": every bin of the histogram is 0 (the image "
                "will be 0)", path);
  return PET_OK;
}

/* The TOF bins of an HDF5 histogram (0: none), checked against the scanner's numTOFBins,
 * tofBinWidth_ps (pet_h5_read_histogram_file's rule) and its TOF resolution. */
static pet_status h5_histogram_tof(const pet_config *cfg, const pet_job_inputs *in, pet_h5_tof_info *ti)
{
  int64_t fnb = 0;
  const pet_scanner_params *sp = &in->scanner->params;
  PET_TRY(pet_h5_histogram_tof_info(cfg->data, &fnb, ti));
  if (ti->num_tof_bins == 0) return PET_OK;
  PET_CHECK(sp->num_tof_bins == 0 || (sp->num_tof_bins == ti->num_tof_bins &&
                                      fabsf(sp->tof_bin_width_ps - ti->tof_bin_width_ps) <=
                                          1e-6f * sp->tof_bin_width_ps),
            PET_ERR_IO,
            "%s: field \"data\": /histogram has %d TOF bins of %g ps, scanner %s (%s) has numTOFBins = %d, "
            "tofBinWidth_ps = %g",
            cfg->data, (int)ti->num_tof_bins, (double)ti->tof_bin_width_ps, sp->name, cfg->scanner,
            (int)sp->num_tof_bins, (double)sp->tof_bin_width_ps);
  PET_CHECK(sp->tof_fwhm_ps > 0, PET_ERR_CONFIG,
            "%s: field \"data\" is a TOF histogram but the scanner %s (%s) has no TOF resolution "
            "(tofResolution_ps)",
            cfg->data, sp->name, cfg->scanner);
  return PET_OK;
}

static pet_status h5_histogram_matches(const pet_config *cfg, const pet_job_inputs *in, int64_t nb)
{
  char name[PET_SCANNER_NAME_MAX] = "";
  int64_t fnb = 0;
  PET_TRY(pet_h5_histogram_info(cfg->data, &fnb, name, sizeof name, NULL));
  PET_CHECK(fnb == nb, PET_ERR_IO, "%s: field \"data\": dataset /histogram has %lld bins, scanner %s (%s) has %lld",
            cfg->data, (long long)fnb, in->scanner->params.name, cfg->scanner, (long long)nb);
  return PET_OK;
}

static pet_status h5_listmode_open(const pet_config *cfg, pet_job_inputs *in, int64_t *n)
{
  bool tof = false;
  PET_TRY(pet_h5_listmode_info(cfg->data, n, &tof, NULL, 0));
  PET_CHECK(!cfg->tof || tof, PET_ERR_CONFIG, "%s: field \"tof\" is true but the list-mode has no TOF values",
            cfg->data);
  PET_TRY(pet_listmode_create_owned(&in->listmode, *n, tof));
  memset(in->listmode->d1, 0, (size_t)*n * 4);
  memset(in->listmode->d2, 0, (size_t)*n * 4);
  memset(in->listmode->time_ms, 0, (size_t)*n * 4);
  return PET_OK;
}

/* Streamed (field "stream"): the events stay in the file; OSEM reads them in windows. */
static pet_status h5_listmode_source(const pet_config *cfg, pet_job_inputs *in)
{
  bool tof = false;
  int64_t n = 0;
  PET_TRY(pet_h5_listmode_info(cfg->data, &n, &tof, NULL, 0));
  PET_CHECK(!cfg->tof || tof, PET_ERR_CONFIG, "%s: field \"tof\" is true but the list-mode has no TOF values",
            cfg->data);
  PET_TRY(pet_h5_listmode_source_open(cfg->data, &in->lm_src));
  in->streamed = true;
  return PET_OK;
}

static pet_status yrt_histogram(const pet_config *cfg, pet_job_inputs *in, int64_t nb)
{
  pet_histogram *h = NULL;
  PET_TRY(pet_histogram_read_yrt(&h, in->scanner, cfg->data));
  memcpy(in->values, h->data, (size_t)nb * sizeof(float));
  pet_histogram_destroy(&h);
  in->bytes_read = in->data_bytes;
  return PET_OK;
}

static pet_status load_inputs(const pet_config *cfg, pet_comm *comm, bool need_data, bool signed_ok,
                              const pet_job_hooks *hooks, pet_job_inputs *in);

pet_status pet_job_load_inputs(const pet_config *cfg, pet_comm *comm, bool need_data,
                               const pet_job_hooks *hooks, pet_job_inputs *in)
{
  return load_inputs(cfg, comm, need_data, false, hooks, in);
}

pet_status pet_job_load_inputs_signed(const pet_config *cfg, pet_comm *comm, const pet_job_hooks *hooks,
                                      pet_job_inputs *in)
{
  return load_inputs(cfg, comm, true, true, hooks, in);
}

static pet_status load_inputs(const pet_config *cfg, pet_comm *comm, bool need_data, bool signed_ok,
                              const pet_job_hooks *hooks, pet_job_inputs *in)
{
  memset(in, 0, sizeof *in);
  pet_status st = PET_OK;
  const int rank = pet_comm_rank(comm), size = pet_comm_size(comm);
  st = pet_scanner_read_json(&in->scanner, cfg->scanner);
  if (st == PET_OK) st = pet_histo_layout_create(&in->layout, in->scanner);
  if (st == PET_OK) st = scanner_checksum(cfg->scanner, in->scanner, &in->scanner_checksum);
  AGREE_GOTO(st, st);
  if (cfg->image.nx > 0) {
    in->image = pet_image_params_make(cfg->image.nx, cfg->image.ny, cfg->image.nz, (float)cfg->image.length_x,
                                      (float)cfg->image.length_y, (float)cfg->image.length_z);
    in->image.off_x = (float)cfg->image.off_x;
    in->image.off_y = (float)cfg->image.off_y;
    in->image.off_z = (float)cfg->image.off_z;
  } else {
    in->image = pet_job_default_grid(in->scanner);
  }
  const int64_t nb = in->layout->num_bins;
  int64_t bfirst = 0, bcount = nb;
  if (size > 1) pet_plan_rank_bins(in->layout, rank, size, &bfirst, &bcount);

  if (need_data && cfg->data[0]) {
    pet_data_format fmt;
    st = pet_job_detect_format(cfg->data, cfg->data_format, &fmt, &in->kind);
    if (st == PET_OK) st = pet_file_size(cfg->data, &in->data_bytes);
    if (st == PET_OK && cfg->stream && !(fmt == PET_DATA_HDF5 && in->kind == PET_KIND_LISTMODE))
      st = PET_ERROR(PET_ERR_CONFIG, "%s: field \"stream\" is true, but only an HDF5 list-mode is streamed from "
                     "its file (this data is %s)", cfg->data,
                     in->kind == PET_KIND_HISTOGRAM ? "a histogram" : "a YRT-PET list-mode");
    AGREE_GOTO(st, st);
    if (in->kind == PET_KIND_HISTOGRAM) {
      AGREE_GOTO(st, pet_histo_layout_check_array(in->layout, sizeof(float), cfg->data));
      /* a TOF histogram (HDF5 only) holds T values per bin, TOF fastest */
      pet_h5_tof_info ti = {0, 0.0f, 0};
      if (fmt == PET_DATA_HDF5) AGREE_GOTO(st, h5_histogram_tof(cfg, in, &ti));
      const int64_t T = ti.num_tof_bins > 0 ? ti.num_tof_bins : 1;
      in->values = calloc((size_t)(nb * T), sizeof(float));
      st = in->values != NULL ? PET_OK
                              : PET_ERROR(PET_ERR_NOMEM, "%s: no memory for %lld bins", cfg->data, (long long)nb);
      AGREE_GOTO(st, st);
      if (fmt == PET_DATA_HDF5) {
        AGREE_GOTO(st, h5_histogram_matches(cfg, in, nb));
        /* collective: every rank reads its whole z-bins (parallel HDF5: one MPI-IO read) */
        PET_TRY_GOTO(st, pet_h5_read_histogram_range_all(comm, cfg->data, "histogram", bfirst * T, bcount * T,
                                                         in->values + bfirst * T),
                     fail);
        in->bytes_read = bcount * T * 4;
      } else {
        AGREE_GOTO(st, yrt_histogram(cfg, in, nb));
      }
      AGREE_GOTO(st, check_counts(cfg->data, in->values, bfirst * T, bcount * T, signed_ok));
      AGREE_GOTO(st, warn_if_empty(comm, hooks, cfg->data, in->values, bfirst * T, bcount * T));
      st = pet_histogram_create(&in->histogram, in->scanner, PET_ALIAS, PET_HOST);
      if (st == PET_OK) st = pet_histogram_set_tof_bins(in->histogram, ti.num_tof_bins, ti.tof_bin_width_ps);
      if (st == PET_OK) st = pet_histogram_bind(in->histogram, in->values);
      AGREE_GOTO(st, st);
    } else if (cfg->stream) {
      /* each rank reads its events while it projects; the ids are checked as they are read */
      AGREE_GOTO(st, h5_listmode_source(cfg, in));
      if (in->lm_src.num_events == 0)
        pet_job_log(hooks, comm, PET_JOB_WARNING, "%s: field \"data\": the list-mode has no events (the image "
                    "will be 0)", cfg->data);
    } else {
      if (fmt == PET_DATA_HDF5) {
        int64_t n = 0;
        AGREE_GOTO(st, h5_listmode_open(cfg, in, &n));
        const bool tof = in->listmode->has_tof;
        if (size > 1)
          PET_TRY_GOTO(st, read_lm_shares(comm, cfg->data, n, cfg->subsets, in->listmode, &in->bytes_read), fail);
        else
          PET_TRY_GOTO(st, pet_h5_read_listmode_range_all(comm, cfg->data, 0, n, in->listmode->time_ms,
                                                          in->listmode->d1, in->listmode->d2,
                                                          tof ? in->listmode->tof_ps : NULL),
                       fail);
        if (size == 1) in->bytes_read = in->data_bytes;
      } else {
        AGREE_GOTO(st, pet_listmode_read_yrt(&in->listmode, in->scanner, cfg->data, cfg->listmode_tof));
        in->bytes_read = in->data_bytes;
      }
      AGREE_GOTO(st, pet_listmode_check(in->listmode, in->scanner));
      if (in->listmode->num_events == 0)
        pet_job_log(hooks, comm, PET_JOB_WARNING, "%s: field \"data\": the list-mode has no events (the image "
                    "will be 0)", cfg->data);
    }
  }
  /* corrections: m = normalisation x attenuation, a = randoms + scatter, per bin. A list-mode
   * rank's events fall in any bin, so it needs every bin's corrections. */
  if (in->kind != PET_KIND_HISTOGRAM) {
    bfirst = 0;
    bcount = nb;
  }
  {
    /* per-bin factors of a scanner too large for a histogram (total-body): refused by name */
    const char *const per_bin[5][2] = {{cfg->normalisation, "normalisation"},
                                       {cfg->attenuation, "attenuation"},
                                       {cfg->randoms, "randoms"},
                                       {cfg->scatter, "scatter"},
                                       {cfg->attenuation_image, "attenuation_image"}};
    for (int k = 0; k < 5; ++k)
      if (per_bin[k][0][0] != '\0') {
        char what[64];
        snprintf(what, sizeof what, "field \"%s\"", per_bin[k][1]);
        AGREE_GOTO(st, pet_histo_layout_check_array(in->layout, sizeof(float), what));
      }
  }
  in->bfirst = bfirst;
  in->bcount = bcount;
  in->scatter_estimate = strcmp(cfg->scatter, PET_CONFIG_SCATTER_ESTIMATE) == 0;
  if (in->scatter_estimate && need_data) {
    AGREE_GOTO(st, !in->streamed
                       ? PET_OK
                       : PET_ERROR(PET_ERR_CONFIG,
                                   "%s: field \"scatter\" = \"estimate\" is not available with \"stream\" (the "
                                   "tail fit bins the events in memory): read the list-mode into memory or give a "
                                   "per-bin scatter file",
                                   cfg->data));
    AGREE_GOTO(st, cfg->attenuation_image[0]
                       ? PET_OK
                       : PET_ERROR(PET_ERR_CONFIG, "field \"scatter\" = \"estimate\" needs field "
                                   "\"attenuation_image\" (the mu-map)"));
    in->mu_int = calloc((size_t)nb, sizeof(float));
    AGREE_GOTO(st, in->mu_int ? PET_OK : PET_ERROR(PET_ERR_NOMEM, "scatter: no memory for %lld bins", (long long)nb));
  } else {
    in->scatter_estimate = false; /* a sensitivity-only run needs no scatter */
  }
  PET_TRY_GOTO(st, load_per_bin(comm, cfg->normalisation, "normalisation", nb, bfirst, bcount, 1.0f, &in->mult),
               fail);
  if (in->scatter_estimate && in->mult) {
    in->norm = malloc((size_t)nb * sizeof(float));
    AGREE_GOTO(st, in->norm ? PET_OK : PET_ERROR(PET_ERR_NOMEM, "scatter: no memory for %lld bins", (long long)nb));
    memcpy(in->norm, in->mult, (size_t)nb * sizeof(float));
  }
  float *att = NULL;
  PET_TRY_GOTO(st, load_per_bin(comm, cfg->attenuation, "attenuation", nb, bfirst, bcount, 1.0f, &att), fail);
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
      st = in->mult ? PET_OK : PET_ERROR(PET_ERR_NOMEM, "attenuation_image: out of memory");
      if (in->mult)
        for (int64_t i = 0; i < nb; ++i) in->mult[i] = 1.0f;
    }
    const bool was = pet_error_set_print(false); /* printed once, below */
    if (st == PET_OK) st = attenuation_from_image(in, cfg->attenuation_image, cfg, bfirst, bcount, in->mult);
    pet_error_set_print(was);
    if (st != PET_OK) st = PET_ERROR(st, "field \"attenuation_image\": %s", pet_last_error());
    AGREE_GOTO(st, st);
  }
  PET_TRY_GOTO(st, load_per_bin(comm, cfg->randoms, "randoms", nb, bfirst, bcount, 0.0f, &in->add), fail);
  if (in->scatter_estimate && in->add) {
    in->randoms = malloc((size_t)nb * sizeof(float));
    AGREE_GOTO(st, in->randoms ? PET_OK : PET_ERROR(PET_ERR_NOMEM, "scatter: no memory for %lld bins", (long long)nb));
    memcpy(in->randoms, in->add, (size_t)nb * sizeof(float));
  }
  float *sc = NULL;
  if (strcmp(cfg->scatter, PET_CONFIG_SCATTER_ESTIMATE) != 0)
    PET_TRY_GOTO(st, load_per_bin(comm, cfg->scatter, "scatter", nb, bfirst, bcount, 0.0f, &sc), fail);
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
  pet_job_free_inputs(in);
  return st;
}

void pet_job_free_inputs(pet_job_inputs *in)
{
  if (in->streamed) pet_h5_listmode_source_close(&in->lm_src);
  pet_histogram_destroy(&in->histogram);
  free(in->values);
  pet_listmode_destroy(&in->listmode);
  free(in->mult);
  free(in->add);
  free(in->norm);
  free(in->randoms);
  free(in->mu_int);
  pet_image_destroy(&in->mu);
  pet_histo_layout_destroy(&in->layout);
  pet_scanner_destroy(&in->scanner);
  memset(in, 0, sizeof *in);
}

void pet_job_log(const pet_job_hooks *hooks, pet_comm *comm, pet_job_log_level level, const char *fmt, ...)
{
  if (hooks == NULL || hooks->log == NULL || pet_comm_rank(comm) != 0) return;
  char line[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  hooks->log(hooks->ctx, level, line);
}
