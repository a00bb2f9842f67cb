#include "pet_scanner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_fileutil.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "petrel reads and writes YRT-PET's little-endian files with plain fread/fwrite"
#endif

static pet_scanner_params params_zero(void)
{
  pet_scanner_params p;
  memset(&p, 0, sizeof p);
  return p;
}

pet_scanner_params pet_scanner_params_small(void)
{
  pet_scanner_params p = params_zero();
  snprintf(p.name, sizeof p.name, "%s", "MYSCANNER");
  p.axial_fov = 25.0f;
  p.crystal_size_z = 2.0f;
  p.crystal_size_trans = 2.0f;
  p.crystal_depth = 10.0f;
  p.scanner_radius = 161.0f;
  p.dets_per_ring = 256;
  p.num_rings = 8;
  p.num_doi = 1;
  p.max_ring_diff = 7;
  p.min_ang_diff = 1;
  p.dets_per_block = 32;
  return p;
}

pet_scanner_params pet_scanner_params_clinical(void)
{
  pet_scanner_params p = params_zero();
  snprintf(p.name, sizeof p.name, "%s", "YRTREF_CLINICAL");
  p.axial_fov = 97.68f;
  p.crystal_size_z = 4.0f;
  p.crystal_size_trans = 4.0f;
  p.crystal_depth = 20.0f;
  p.scanner_radius = 421.0f;
  p.dets_per_ring = 624;
  p.num_rings = 24;
  p.num_doi = 1;
  p.max_ring_diff = 11;
  p.min_ang_diff = 159;
  p.dets_per_block = 13;
  return p;
}

pet_scanner_params pet_scanner_params_total_body(void)
{
  pet_scanner_params p = params_zero();
  snprintf(p.name, sizeof p.name, "%s", "PETREL_TOTALBODY");
  p.axial_fov = 1940.0f;        /* 8 units x 84 rings, pitch 1940/672 = 2.887 mm */
  p.crystal_size_z = 2.76f;
  p.crystal_size_trans = 2.76f; /* 7 per block: 19.3 mm blocks with 1.3 mm gaps at r = 393 */
  p.crystal_depth = 18.1f;
  p.scanner_radius = 393.0f;    /* ring diameter 786 mm */
  p.dets_per_ring = 840;
  p.num_rings = 672;
  p.num_doi = 1;
  p.max_ring_diff = 671;        /* every ring pair: the full axial acceptance */
  p.min_ang_diff = 147;         /* LORs within 343 mm of the axis (a 686 mm transaxial FOV) */
  p.dets_per_block = 7;
  p.tof_fwhm_ps = 430.0f;
  p.fov_radius = 343.0f;
  return p;
}

pet_status pet_scanner_params_builtin(const char *name, pet_scanner_params *p)
{
  PET_CHECK(name != NULL && p != NULL, PET_ERR_ARG, "pet_scanner_params_builtin: NULL argument");
  if (strcmp(name, "small") == 0)
    *p = pet_scanner_params_small();
  else if (strcmp(name, "clinical") == 0)
    *p = pet_scanner_params_clinical();
  else if (strcmp(name, "total-body") == 0)
    *p = pet_scanner_params_total_body();
  else
    return PET_ERROR(PET_ERR_ARG,
                     "scanner \"%s\": not a built-in scanner (small, clinical, total-body)", name);
  return PET_OK;
}

#define CHECK_POSITIVE_F(field)                                                                  \
  PET_CHECK(isfinite(p->field) && p->field > 0.0f, PET_ERR_ARG,                                  \
            "scanner %s: " #field " must be finite and > 0 (got %g)", p->name, (double)p->field)
#define CHECK_NONNEG_F(field)                                                                    \
  PET_CHECK(isfinite(p->field) && p->field >= 0.0f, PET_ERR_ARG,                                 \
            "scanner %s: " #field " must be finite and >= 0 (got %g)", p->name, (double)p->field)
#define CHECK_POSITIVE_I(field)                                                                  \
  PET_CHECK(p->field > 0, PET_ERR_ARG, "scanner %s: " #field " must be > 0 (got %d)", p->name,   \
            (int)p->field)

pet_status pet_scanner_params_check(const pet_scanner_params *p)
{
  PET_CHECK(p != NULL, PET_ERR_ARG, "scanner params: NULL");
  PET_CHECK(memchr(p->name, '\0', sizeof p->name) != NULL, PET_ERR_ARG,
            "scanner params: name is not terminated within %d bytes", PET_SCANNER_NAME_MAX);
  CHECK_POSITIVE_F(axial_fov);
  CHECK_POSITIVE_F(crystal_size_z);
  CHECK_POSITIVE_F(crystal_size_trans);
  CHECK_POSITIVE_F(crystal_depth);
  CHECK_POSITIVE_F(scanner_radius);
  CHECK_POSITIVE_I(dets_per_ring);
  CHECK_POSITIVE_I(num_rings);
  CHECK_POSITIVE_I(num_doi);
  CHECK_POSITIVE_I(dets_per_block);
  PET_CHECK(p->max_ring_diff >= 0 && p->max_ring_diff < p->num_rings, PET_ERR_ARG,
            "scanner %s: max_ring_diff must be in [0, num_rings = %d) (got %d)", p->name,
            p->num_rings, p->max_ring_diff);
  PET_CHECK(p->min_ang_diff >= 1 && p->min_ang_diff <= p->dets_per_ring / 2, PET_ERR_ARG,
            "scanner %s: min_ang_diff must be in [1, dets_per_ring/2 = %d] (got %d)", p->name,
            p->dets_per_ring / 2, p->min_ang_diff);
  PET_CHECK((int64_t)p->dets_per_ring * p->num_rings * p->num_doi <= INT32_MAX, PET_ERR_ARG,
            "scanner %s: dets_per_ring x num_rings x num_doi = %d x %d x %d exceeds 2^31-1 "
            "detectors",
            p->name, p->dets_per_ring, p->num_rings, p->num_doi);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  /* fuzz builds only (fuzz/CMakeLists.txt): keep fuzzed scanners within the fuzzer's memory */
  PET_CHECK((int64_t)p->dets_per_ring * p->num_rings * p->num_doi <= ((int64_t)1 << 20),
            PET_ERR_ARG, "scanner %s: more than 2^20 detectors (fuzzing build)", p->name);
#endif
  CHECK_NONNEG_F(tof_fwhm_ps);
  CHECK_NONNEG_F(collimator_radius);
  CHECK_NONNEG_F(fwhm_kev);
  CHECK_NONNEG_F(energy_lld_kev);
  CHECK_NONNEG_F(fov_radius);
  PET_CHECK(p->num_tof_bins >= 0 && p->num_tof_bins <= 64, PET_ERR_ARG,
            "scanner %s: numTOFBins must be in [1, 64] (0 = no TOF histograms), got %d", p->name,
            (int)p->num_tof_bins);
  if (p->num_tof_bins > 0) {
    PET_CHECK(isfinite(p->tof_bin_width_ps) && p->tof_bin_width_ps > 0.0f, PET_ERR_ARG,
              "scanner %s: tofBinWidth_ps must be > 0 with numTOFBins = %d, got %g", p->name,
              (int)p->num_tof_bins, (double)p->tof_bin_width_ps);
    PET_CHECK(p->tof_fwhm_ps > 0.0f, PET_ERR_ARG,
              "scanner %s: numTOFBins = %d needs the TOF resolution tofResolution_ps", p->name,
              (int)p->num_tof_bins);
  } else {
    PET_CHECK(p->tof_bin_width_ps == 0.0f, PET_ERR_ARG,
              "scanner %s: tofBinWidth_ps = %g without numTOFBins", p->name,
              (double)p->tof_bin_width_ps);
  }
  return PET_OK;
}

/* Regular LUT: numBlocks flat blocks per ring, block b at angle 2*pi*b/numBlocks with its
 * face at scanner_radius (DOI layer l: scanner_radius + l*crystal_depth) and its crystal
 * centres crystal_depth/2 further out; crystals spaced crystal_size_trans along the face. The
 * float arithmetic follows YRT-PET's DetRegular so that the fixtures agree to rounding. */
static pet_status generate_lut(const pet_scanner_params *p, float *lut)
{
  const double pi = 3.14159265358979323846;
  const float two_pi_f = (float)(2.0 * pi);
  const float pi_f = (float)pi;
  PET_CHECK(p->dets_per_ring % p->dets_per_block == 0, PET_ERR_ARG,
            "scanner %s: dets_per_ring (%d) must be a multiple of dets_per_block (%d) to "
            "generate a LUT",
            p->name, p->dets_per_ring, p->dets_per_block);
  const int32_t num_blocks = p->dets_per_ring / p->dets_per_block;
  const float block_len = p->crystal_size_trans * (float)p->dets_per_block;
  if (num_blocks > 2) {
    double edge_max = 2.0 * p->scanner_radius * tan(pi / num_blocks);
    PET_CHECK(block_len <= edge_max + 1e-4, PET_ERR_ARG,
              "scanner %s: blocks of %d crystals of %g mm overlap; scanner_radius should be at "
              "least %g mm",
              p->name, p->dets_per_block, (double)p->crystal_size_trans,
              block_len / (2.0 * tan(pi / num_blocks)));
  }
  const float z_gap = p->axial_fov / (float)p->num_rings;
  for (int32_t doi = 0; doi < p->num_doi; ++doi) {
    const float dist = p->scanner_radius + p->crystal_depth * (float)doi;
    for (int32_t ring = 0; ring < p->num_rings; ++ring) {
      const float z = -p->axial_fov / 2.0f + ((float)ring + 0.5f) * z_gap;
      for (int32_t b = 0; b < num_blocks; ++b) {
        const float angle = (float)b * two_pi_f / (float)num_blocks;
        const float c = cosf(angle), s = sinf(angle);
        const float xb = (dist + 0.5f * p->crystal_depth) * c;
        const float yb = (dist + 0.5f * p->crystal_depth) * s;
        const float ct = cosf(angle + pi_f / 2.0f), st = sinf(angle + pi_f / 2.0f);
        for (int32_t k = 0; k < p->dets_per_block; ++k) {
          float rel = 0.0f;
          if (p->dets_per_block != 1) rel = -0.5f + ((float)k + 0.5f) / (float)p->dets_per_block;
          int64_t id = (int64_t)doi * p->num_rings * p->dets_per_ring +
                       (int64_t)ring * p->dets_per_ring + (int64_t)b * p->dets_per_block + k;
          float *row = lut + 6 * id;
          row[0] = xb + block_len * (rel * ct);
          row[1] = yb + block_len * (rel * st);
          row[2] = z;
          row[3] = c;
          row[4] = s;
          row[5] = 0.0f;
        }
      }
    }
  }
  return PET_OK;
}

static pet_status scanner_alloc(pet_scanner **out, const pet_scanner_params *p)
{
  pet_status st = PET_OK;
  pet_scanner *s = NULL;
  PET_CHECK(out != NULL, PET_ERR_ARG, "pet_scanner_create: NULL output pointer");
  *out = NULL;
  PET_TRY(pet_scanner_params_check(p));
  s = calloc(1, sizeof *s);
  PET_CHECK_GOTO(st, s != NULL, PET_ERR_NOMEM, out, "scanner: out of host memory");
  s->params = *p;
  s->num_dets = (int64_t)p->dets_per_ring * p->num_rings * p->num_doi;
  s->lut = malloc((size_t)s->num_dets * 6 * sizeof(float));
  PET_CHECK_GOTO(st, s->lut != NULL, PET_ERR_NOMEM, out,
                 "scanner %s: cannot allocate the LUT (%lld detectors)", p->name,
                 (long long)s->num_dets);
  *out = s;
  s = NULL;
out:
  pet_scanner_destroy(&s);
  return st;
}

pet_status pet_scanner_create(pet_scanner **s, const pet_scanner_params *p)
{
  PET_TRY(scanner_alloc(s, p));
  pet_status st = generate_lut(p, (*s)->lut);
  if (st != PET_OK) pet_scanner_destroy(s);
  return st;
}

pet_status pet_scanner_create_with_lut(pet_scanner **s, const pet_scanner_params *p,
                                       const float *lut)
{
  PET_CHECK(lut != NULL, PET_ERR_ARG, "pet_scanner_create_with_lut: NULL LUT");
  PET_TRY(scanner_alloc(s, p));
  memcpy((*s)->lut, lut, (size_t)(*s)->num_dets * 6 * sizeof(float));
  return PET_OK;
}

void pet_scanner_destroy(pet_scanner **s)
{
  if (s == NULL || *s == NULL) return;
  free((*s)->lut);
  free((*s)->det_mask);
  free(*s);
  *s = NULL;
}

pet_status pet_scanner_read_lut(const char *path, int64_t num_dets, float **lut)
{
  pet_status st = PET_OK;
  FILE *f = NULL;
  float *buf = NULL;
  int64_t bytes = 0;
  PET_CHECK(path != NULL && lut != NULL, PET_ERR_ARG, "pet_scanner_read_lut: NULL argument");
  *lut = NULL;
  PET_CHECK(num_dets > 0, PET_ERR_ARG, "%s: num_dets must be > 0 (got %lld)", path,
            (long long)num_dets);
  const int64_t expected = num_dets * 6 * (int64_t)sizeof(float);
  PET_TRY(pet_file_size(path, &bytes));
  PET_CHECK(bytes == expected, PET_ERR_IO,
            "%s: LUT has %lld bytes, expected %lld (%lld detectors x 6 float32)", path,
            (long long)bytes, (long long)expected, (long long)num_dets);
  buf = malloc((size_t)expected);
  PET_CHECK_GOTO(st, buf != NULL, PET_ERR_NOMEM, out, "%s: out of host memory", path);
  PET_TRY_GOTO(st, pet_file_open_read(path, &f), out);
  PET_TRY_GOTO(st, pet_file_read(f, buf, (size_t)expected, path, "LUT"), out);
  for (int64_t i = 0; i < num_dets * 6; ++i)
    PET_CHECK_GOTO(st, isfinite(buf[i]), PET_ERR_IO, out,
                   "%s: detector %lld has a non-finite coordinate", path, (long long)(i / 6));
  *lut = buf;
  buf = NULL;
out:
  if (f != NULL) fclose(f);
  free(buf);
  return st;
}

pet_status pet_scanner_write_lut(const pet_scanner *s, const char *path)
{
  PET_CHECK(s != NULL && s->lut != NULL && path != NULL, PET_ERR_ARG,
            "pet_scanner_write_lut: NULL argument");
  return pet_file_write_atomic(path, s->lut, (size_t)s->num_dets * 6 * sizeof(float));
}
