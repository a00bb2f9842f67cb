/* petrel: the sensitivity of a regular scanner from its axial shift symmetry (pet_sens_sym.h). */
#include "pet_sens_sym.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "pet_gpu.h"

static void say(char *why, size_t len, const char *msg)
{
  if (why && len > 0) snprintf(why, len, "%s", msg);
}

int32_t pet_sens_sym_default_refine(float ring_pitch_mm, float voxel_z_mm)
{
  if (!(ring_pitch_mm > 0.0f) || !(voxel_z_mm > 0.0f)) return 4;
  /* even: the ring centres and the points half-way between them (where LORs through the axis
   * cross it) are both fine voxel centres, which halves the resampling error of odd m */
  int32_t m = 2 * (int32_t)ceil(2.0 * (double)ring_pitch_mm / (double)voxel_z_mm - 1e-6);
  return m < 2 ? 2 : m > 16 ? 16 : m;
}

int64_t pet_sens_poll_chunks(const pet_osem_opts *o, int64_t total, int64_t size)
{
  const int64_t b = o->batch_lors > 0 ? o->batch_lors : ((int64_t)1 << 20);
  const int64_t most = (total + size - 1) / size, C = 16 * b; /* the largest share, LORs a poll */
  return most > C ? (most + C - 1) / C : 1;
}

/* Ring pitch of a regular LUT (every ring ring 0's detectors moved by r p along z), or 0. */
static double regular_pitch(const pet_scanner *s, char *why, size_t len)
{
  const pet_scanner_params *p = &s->params;
  const int64_t n = p->dets_per_ring, R = p->num_rings;
  const float *lut = s->lut;
  const double z0 = lut[2], pitch = ((double)lut[6 * (R - 1) * n + 2] - z0) / (double)(R - 1);
  if (!(pitch > 0.0)) {
    say(why, len, "the rings' z does not increase with the ring index");
    return 0.0;
  }
  const double tol = 1e-3; /* mm, and for the unit normals */
  for (int64_t l = 0; l < p->num_doi; ++l)
    for (int64_t r = 0; r < R; ++r)
      for (int64_t t = 0; t < n; ++t) {
        const float *a = lut + 6 * ((l * R + r) * n + t), *b = lut + 6 * (l * R * n + t);
        if (fabs((double)a[0] - b[0]) > tol || fabs((double)a[1] - b[1]) > tol || fabs((double)a[3] - b[3]) > tol ||
            fabs((double)a[4] - b[4]) > tol || fabs((double)a[5]) > tol ||
            fabs((double)a[2] - (z0 + (double)r * pitch)) > tol) {
          say(why, len, "the LUT's rings are not one ring's detectors at a uniform pitch");
          return 0.0;
        }
      }
  return pitch;
}

/* True when the layout's z-bins are each ring pair within max_ring_diff exactly once. */
static bool standard_zbins(const pet_histo_layout *L, int32_t D)
{
  const int64_t R = L->num_rings;
  if (L->num_zbin != (2 * (int64_t)D + 1) * R - (int64_t)D * (D + 1)) return false;
  uint8_t *seen = calloc((size_t)(R * R), 1);
  if (seen == NULL) return false;
  bool ok = true;
  for (int64_t z = 0; ok && z < L->num_zbin; ++z) {
    const int64_t r1 = L->zbin_rings[2 * z], r2 = L->zbin_rings[2 * z + 1];
    ok = r1 >= 0 && r1 < R && r2 >= 0 && r2 < R && llabs(r2 - r1) <= D && !seen[r1 * R + r2];
    if (ok) seen[r1 * R + r2] = 1;
  }
  free(seen);
  return ok;
}

static bool env_brute(void)
{
  const char *v = getenv("PET_SENS_BRUTE");
  return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

bool pet_sens_sym_applies(const pet_osem_data *d, const pet_osem_opts *o, const pet_osem_backend_ops *ops,
                          int32_t nsens, char *why, size_t len)
{
  const pet_scanner *s = d->scanner;
  const pet_histo_layout *L = d->layout;
  if (o->sens_brute || env_brute()) {
    say(why, len, "the brute force was asked for (sens_brute, PET_SENS_BRUTE)");
    return false;
  }
  if (nsens != 1) {
    say(why, len, "one sensitivity image per histogram subset");
    return false;
  }
  if (ops->sens_sym == NULL) {
    say(why, len, "the backend has no symmetric pass");
    return false;
  }
  if (d->mult != NULL) {
    say(why, len, "per-bin multiplicative factors (normalisation, attenuation)");
    return false;
  }
  if (s->det_mask != NULL) {
    say(why, len, "a detector mask");
    return false;
  }
  if (d->histogram != NULL && d->histogram->num_tof_bins > 0) {
    say(why, len, "a TOF histogram");
    return false;
  }
  if (o->proj.kind == PET_PROJ_DD && o->proj.dd_centre_box) {
    say(why, len, "DD's centre box depends on the grid's z extent");
    return false;
  }
  const pet_scanner_params *p = &s->params;
  if (p->num_rings < 2 || L->num_rings != p->num_rings || L->dets_per_ring != p->dets_per_ring ||
      L->num_doi != p->num_doi) {
    say(why, len, "fewer than 2 rings, or a layout of another scanner");
    return false;
  }
  if (!standard_zbins(L, p->max_ring_diff)) {
    say(why, len, "the layout's z-bins are not every ring pair within max_ring_diff");
    return false;
  }
  return regular_pitch(s, why, len) > 0.0;
}

/* The fine z voxels per ring of the pass: the smallest m (up to 16) whose fine planes hold
 * the image's z planes (the fold is then exact), else the default. */
static int32_t choose_refine(double pitch, double z0, const pet_image_params *g)
{
  const double vz = (double)g->length_z / (double)g->nz, gz0 = (double)g->off_z - 0.5 * (double)g->length_z;
  for (int32_t m = 1; m <= 16; ++m) {
    const double h = pitch / m, step = vz / h, first = (gz0 - z0) / h + 0.5;
    if (fabs(step - round(step)) < 1e-4 * step && fabs(first - round(first)) < 1e-3) return m;
  }
  return pet_sens_sym_default_refine((float)pitch, (float)vz);
}

int32_t pet_sens_sym_refine(const pet_scanner *s, const pet_osem_opts *o, const pet_image_params *g)
{
  if (o->sens_z_refine > 0) return o->sens_z_refine;
  const double pitch = regular_pitch(s, NULL, 0);
  return pitch > 0.0 ? choose_refine(pitch, (double)s->lut[2], g) : 0;
}

/* out (host, zeroed here) = the fine image B (host; fine z index j = q + jlo, ring r at
 * j = r m, voxel h mm) folded over the translations and resampled to out's z voxels. */
static pet_status fold(const pet_image *B, int32_t jlo, int32_t m, int32_t R, double z0, double h, pet_image *out)
{
  const pet_image_params *g = &out->params;
  const int64_t nx = g->nx, ny = g->ny, nzf = B->params.nz, nz = g->nz;
  const double vz = (double)g->length_z / (double)nz, gz0 = (double)g->off_z - 0.5 * (double)g->length_z;
  memset(out->data, 0, (size_t)pet_image_num_voxels(out) * sizeof(float));
  const int nt = omp_get_max_threads();
  double *rings = malloc((size_t)nt * (size_t)(m * nx) * sizeof(double)); /* per thread: S of the last m fine planes of a row */
  PET_CHECK(rings != NULL, PET_ERR_NOMEM, "sensitivity: out of memory for the fold");
#pragma omp parallel num_threads(nt)
  {
    double *ring = rings + (size_t)omp_get_thread_num() * (size_t)(m * nx);
#pragma omp for schedule(static)
    for (int64_t y = 0; y < ny; ++y) {
      memset(ring, 0, (size_t)(m * nx) * sizeof(double));
      for (int64_t q = 0; q < nzf; ++q) {
        const int64_t j = q + jlo;
        const int64_t qm = (int64_t)R * m - j - jlo; /* the mirror plane R m - j */
        const float *b = B->data + (q * ny + y) * nx;
        const float *bm = qm >= 0 && qm < nzf ? B->data + (qm * ny + y) * nx : NULL;
        double *sv = ring + (q % m) * nx; /* S(j - m) on entry, S(j) on exit */
        for (int64_t x = 0; x < nx; ++x) sv[x] += (double)b[x] - (bm ? (double)bm[x] : 0.0);
        /* the fine voxel [za, zb) over the image's z voxels it overlaps */
        const double za = z0 + ((double)j - 0.5) * h, zb = za + h;
        int64_t i0 = (int64_t)floor((za - gz0) / vz), i1 = (int64_t)floor((zb - gz0) / vz);
        if (i0 < 0) i0 = 0;
        if (i1 > nz - 1) i1 = nz - 1;
        for (int64_t i = i0; i <= i1; ++i) {
          const double lo = fmax(za, gz0 + (double)i * vz), hi = fmin(zb, gz0 + (double)(i + 1) * vz);
          if (hi <= lo) continue;
          const double w = (hi - lo) / h;
          float *o = out->data + (i * ny + y) * nx;
          for (int64_t x = 0; x < nx; ++x) o[x] += (float)(w * sv[x]);
        }
      }
    }
  }
  free(rings);
  return PET_OK;
}

/* Plain Siddon puts the in-ring LORs (d = 0) of ring r exactly at z_r, a fine voxel centre:
 * their copies belong to the image voxel holding z_r, not spread over the fine voxel as fold's
 * box resampling does. B0 (host, fine z indices j in [-M, M]) holds the d = 0 LORs of ring 0:
 * moves each of their R copies from fold's box weights to the voxel of its fine voxel centre. */
static void fix_in_ring(const pet_image *B0, int32_t M, int32_t m, int32_t R, double z0, double h, pet_image *out)
{
  const pet_image_params *g = &out->params;
  const int64_t nx = g->nx, ny = g->ny, nz = g->nz;
  const double vz = (double)g->length_z / (double)nz, gz0 = (double)g->off_z - 0.5 * (double)g->length_z;
#pragma omp parallel for schedule(static)
  for (int64_t y = 0; y < ny; ++y)
    for (int64_t q = 0; q <= 2 * M; ++q) {
      const float *b = B0->data + (q * ny + y) * nx;
      for (int64_t k = 0; k < R; ++k) {
        const int64_t j = q - M + k * m;
        const double zc = z0 + (double)j * h, za = zc - 0.5 * h, zb = zc + 0.5 * h;
        const int64_t ic = (int64_t)floor((zc - gz0) / vz);
        if (ic >= 0 && ic < nz) {
          float *o = out->data + (ic * ny + y) * nx;
          for (int64_t x = 0; x < nx; ++x) o[x] += b[x];
        }
        int64_t i0 = (int64_t)floor((za - gz0) / vz), i1 = (int64_t)floor((zb - gz0) / vz);
        if (i0 < 0) i0 = 0;
        if (i1 > nz - 1) i1 = nz - 1;
        for (int64_t i = i0; i <= i1; ++i) {
          const double lo = fmax(za, gz0 + (double)i * vz), hi = fmin(zb, gz0 + (double)(i + 1) * vz);
          if (hi <= lo) continue;
          const float w = (float)((hi - lo) / h);
          float *o = out->data + (i * ny + y) * nx;
          for (int64_t x = 0; x < nx; ++x) o[x] -= w * b[x];
        }
      }
    }
}

pet_status pet_sens_sym_compute(const pet_osem_backend_ops *ops, void *be, const pet_osem_data *d,
                                const pet_osem_opts *o, pet_image *out, int64_t *lors)
{
  const pet_scanner *s = d->scanner;
  const pet_histo_layout *L = d->layout;
  const pet_scanner_params *sp = &s->params;
  const pet_image_params *g = &out->params;
  const int32_t R = sp->num_rings, D = sp->max_ring_diff;
  const double pitch = regular_pitch(s, NULL, 0);
  PET_CHECK(pitch > 0.0, PET_ERR_STATE, "sensitivity: scanner %s is not regular (no symmetric pass)", sp->name);
  const double z0 = (double)s->lut[2];
  const int32_t m = pet_sens_sym_refine(s, o, g);
  PET_CHECK(m <= 64, PET_ERR_CONFIG, "sensitivity: sens_z_refine must be in [0, 64] (got %d)", (int)m);
  const double h = pitch / m;
  /* the LORs reach half a crystal beyond the ring centres (DD footprints, multi-ray) */
  const double cz = fmax((double)o->proj.crystal_size_z, (double)sp->crystal_size_z);
  const int32_t M = (int32_t)ceil(0.5 * cz / h) + 2;
  const int32_t jlo = -M, jhi = (R - 1) * m + M;
  pet_image_params fp = *g;
  fp.nz = jhi - jlo + 1;
  fp.length_z = (float)(fp.nz * h);
  fp.off_z = (float)(z0 + 0.5 * (double)(jlo + jhi) * h);

  pet_status st = PET_OK;
  pet_image *fine = NULL, *fine_h = NULL, *out_h = NULL, *in_ring = NULL, *in_ring_h = NULL;
  /* plain Siddon: the in-ring LORs of ring 0 once more on a thin grid (fix_in_ring) */
  const bool fix = o->proj.kind == PET_PROJ_SIDDON && o->proj.num_rays <= 1;
  pet_image_params fp0 = fp;
  fp0.nz = 2 * M + 1;
  fp0.length_z = (float)(fp0.nz * h);
  fp0.off_z = (float)z0;
  PET_TRY(pet_image_create_owned(&fine, fp, ops->space));
  PET_TRY_GOTO(st, ops->fill(be, fine, 0.0f), out);
  const pet_reducer *red = o->reducer;
  const int rank = red ? red->rank : 0, size = red && red->size > 1 ? red->size : 1;
  const int64_t N = L->num_phi * L->num_r * (2 * (int64_t)D + 1);
  const int64_t lo = N * rank / size, hi = N * (rank + 1) / size;
  const int64_t nchunks = pet_sens_poll_chunks(o, N, size); /* as many polls on every rank */
  int64_t stopped_at = -1;
  pet_status work = PET_OK;
  for (int64_t c = 0; c < nchunks; ++c) {
    if (c > 0 && o->should_stop && o->should_stop(o->cb_ctx)) {
      stopped_at = c;
      break;
    }
    const int64_t a = lo + (hi - lo) * c / nchunks, b = lo + (hi - lo) * (c + 1) / nchunks;
    if (work == PET_OK && b > a) work = ops->sens_sym(be, D, a, b, fine);
    if (work == PET_OK) work = ops->sync(be); /* so that the next poll comes after this chunk's work */
    if (work == PET_OK && lors) *lors += b - a;
  }
  if (stopped_at >= 0) {
    st = PET_ERROR(PET_ERR_INTERRUPTED, "osem: stopped during the sensitivity pass (symmetric, after %lld of %lld chunks)",
                   (long long)stopped_at, (long long)nchunks);
    goto out;
  }
  if (fix) {
    const int64_t N0 = L->num_phi * L->num_r; /* items of max ring difference 0: (e, d = 0) */
    const int64_t a = N0 * rank / size, b = N0 * (rank + 1) / size;
    if (work == PET_OK) work = pet_image_create_owned(&in_ring, fp0, ops->space);
    if (work == PET_OK) work = ops->fill(be, in_ring, 0.0f);
    if (work == PET_OK && b > a) work = ops->sens_sym(be, 0, a, b, in_ring);
    if (work == PET_OK) work = ops->sync(be);
  }
  PET_TRY_GOTO(st, pet_reducer_agree(red, work), out);
  PET_TRY_GOTO(st, pet_reducer_sum(red, fine->data, pet_image_num_voxels(fine), ops->space), out);
  if (fix) {
    PET_TRY_GOTO(st, pet_reducer_sum(red, in_ring->data, pet_image_num_voxels(in_ring), ops->space), out);
    if (ops->space != PET_HOST) {
      PET_TRY_GOTO(st, pet_image_create_owned(&in_ring_h, fp0, PET_HOST), out);
      PET_TRY_GOTO(st, pet_image_copy(in_ring_h, in_ring), out);
    }
  }
  if (ops->space != PET_HOST) {
    PET_TRY_GOTO(st, pet_image_create_owned(&fine_h, fp, PET_HOST), out);
    PET_TRY_GOTO(st, pet_image_copy(fine_h, fine), out);
    pet_image_destroy(&fine); /* its memory (the device's) is free before the fold */
  }
  if (out->space != PET_HOST) PET_TRY_GOTO(st, pet_image_create_owned(&out_h, *g, PET_HOST), out);
  PET_TRY_GOTO(st, fold(fine_h ? fine_h : fine, jlo, m, R, z0, h, out_h ? out_h : out), out);
  if (fix) fix_in_ring(in_ring_h ? in_ring_h : in_ring, M, m, R, z0, h, out_h ? out_h : out);
  if (out_h) {
    PET_TRY_GOTO(st, pet_image_copy(out, out_h), out);
    /* the copy is on the legacy stream; the backend's next kernels are on its own */
    PET_TRY_GOTO(st, pet_gpu_synchronize(), out);
  }
out:
  pet_image_destroy(&fine);
  pet_image_destroy(&fine_h);
  pet_image_destroy(&out_h);
  pet_image_destroy(&in_ring);
  pet_image_destroy(&in_ring_h);
  return st;
}
