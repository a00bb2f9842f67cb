/* Host (OpenMP) drivers of the projectors; the per-LOR math is in pet_projector_kernel.h. */
#include "pet_projector.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "pet_projector_kernel.h"

/* Back projection with >1 thread: PRIVATE copies are the default (AUTO). Measured on the
 * 2-core dev machine, clinical geometry (150x150x24 image), 2M stand-in LORs, 2 threads:
 * Siddon 3.65M LORs/s PRIVATE vs 0.83M atomic; DD 0.83M vs 0.30M (the omp atomic float add
 * is a lock cmpxchg loop). The copies cost (threads-1) x image and one reduction per call.
 * PRIVATE back projection allocates (threads - 1) image copies; above this many bytes AUTO
 * falls back to atomics rather than risk exhausting host memory. */
#define PET_BACK_PRIVATE_MAX_BYTES ((size_t)2 << 30)

pet_projector_params pet_projector_params_default(void)
{
  pet_projector_params p;
  memset(&p, 0, sizeof p);
  p.kind = PET_PROJ_SIDDON;
  p.num_rays = 1;
  p.crystal_size_trans = 4.0f;
  p.crystal_size_z = 4.0f;
  p.tof = 0;
  p.tof_fwhm_ps = 0.0f;
  p.tof_n_sigmas = 3.0f;
  p.num_threads = 0;
  p.fov_radius_mm = 0.0f;
  p.dd_centre_box = 0;
  return p;
}

pet_status pet_projector_params_set_name(pet_projector_params *p, const char *name)
{
  PET_CHECK(p && name, PET_ERR_ARG, "projector: NULL params or name");
  if (strcmp(name, "S") == 0 || strcmp(name, "Siddon") == 0) {
    p->kind = PET_PROJ_SIDDON;
    p->num_rays = 1;
  } else if (strcmp(name, "DD") == 0 || strcmp(name, "DistanceDriven") == 0) {
    p->kind = PET_PROJ_DD;
  } else if (strcmp(name, "MRS") == 0 || strcmp(name, "MultiRaySiddon") == 0) {
    p->kind = PET_PROJ_SIDDON;
    if (p->num_rays <= 1) p->num_rays = 4;
  } else {
    return PET_ERROR(PET_ERR_ARG,
                     "projector: unknown name '%s' (S, Siddon, DD, DistanceDriven, MRS, "
                     "MultiRaySiddon)",
                     name);
  }
  return PET_OK;
}

static bool positive_finite(float v) { return isfinite(v) && v > 0.0f; }

pet_status pet_projector_params_check(const pet_projector_params *p)
{
  PET_CHECK(p, PET_ERR_ARG, "projector: NULL params");
  PET_CHECK(p->kind == PET_PROJ_SIDDON || p->kind == PET_PROJ_DD, PET_ERR_ARG,
            "projector: unknown kind %d", (int)p->kind);
  PET_CHECK(p->num_rays >= 1 && p->num_rays <= 4096, PET_ERR_ARG,
            "projector: num_rays must be in [1, 4096], got %d", (int)p->num_rays);
  PET_CHECK(positive_finite(p->crystal_size_trans), PET_ERR_ARG,
            "projector: crystal_size_trans must be > 0, got %g", (double)p->crystal_size_trans);
  PET_CHECK(positive_finite(p->crystal_size_z), PET_ERR_ARG,
            "projector: crystal_size_z must be > 0, got %g", (double)p->crystal_size_z);
  PET_CHECK(p->tof == 0 || p->tof == 1, PET_ERR_ARG, "projector: tof must be 0 or 1, got %d",
            (int)p->tof);
  if (p->tof) {
    PET_CHECK(positive_finite(p->tof_fwhm_ps), PET_ERR_ARG,
              "projector: tof_fwhm_ps must be > 0 with TOF, got %g", (double)p->tof_fwhm_ps);
    PET_CHECK(positive_finite(p->tof_n_sigmas), PET_ERR_ARG,
              "projector: tof_n_sigmas must be > 0 with TOF, got %g", (double)p->tof_n_sigmas);
  }
  PET_CHECK(p->num_threads >= 0, PET_ERR_ARG, "projector: num_threads must be >= 0, got %d",
            (int)p->num_threads);
  PET_CHECK(isfinite(p->fov_radius_mm), PET_ERR_ARG,
            "projector: fov_radius_mm must be finite (<= 0 = no FOV cylinder), got %g",
            (double)p->fov_radius_mm);
  PET_CHECK(p->dd_centre_box == 0 || p->dd_centre_box == 1, PET_ERR_ARG,
            "projector: dd_centre_box must be 0 or 1, got %d", (int)p->dd_centre_box);
  PET_CHECK(p->num_tof_bins >= 0 && p->num_tof_bins <= PET_TOF_BINS_MAX, PET_ERR_ARG,
            "projector: num_tof_bins must be in [0, %d] (0 = no TOF histogram), got %d",
            PET_TOF_BINS_MAX, (int)p->num_tof_bins);
  if (p->num_tof_bins > 0) {
    PET_CHECK(!p->tof, PET_ERR_ARG,
              "projector: num_tof_bins = %d (a TOF histogram) excludes list-mode tof = 1",
              (int)p->num_tof_bins);
    PET_CHECK(positive_finite(p->tof_bin_width_ps), PET_ERR_ARG,
              "projector: tof_bin_width_ps must be > 0 with num_tof_bins = %d, got %g",
              (int)p->num_tof_bins, (double)p->tof_bin_width_ps);
    PET_CHECK(positive_finite(p->tof_fwhm_ps), PET_ERR_ARG,
              "projector: tof_fwhm_ps must be > 0 with TOF bins, got %g", (double)p->tof_fwhm_ps);
    PET_CHECK(positive_finite(p->tof_n_sigmas), PET_ERR_ARG,
              "projector: tof_n_sigmas must be > 0 with TOF bins, got %g",
              (double)p->tof_n_sigmas);
  }
  return PET_OK;
}

static pet_status check_call(const pet_projector_params *p, const pet_lor_batch *b,
                             const pet_image *img, const float *proj)
{
  PET_TRY(pet_projector_params_check(p));
  PET_CHECK(b, PET_ERR_ARG, "projector: NULL LOR batch");
  PET_CHECK(b->n >= 0, PET_ERR_ARG, "projector: negative batch size %lld", (long long)b->n);
  PET_CHECK(img, PET_ERR_ARG, "projector: NULL image");
  PET_TRY(pet_image_require(img, PET_HOST));
  PET_TRY(pet_image_params_check(&img->params));
  if (b->n == 0) return PET_OK;
  PET_CHECK(b->lor, PET_ERR_ARG, "projector: NULL lor array for %lld LORs", (long long)b->n);
  PET_CHECK(proj, PET_ERR_ARG, "projector: NULL projection array for %lld LORs",
            (long long)b->n);
  PET_CHECK(!p->tof || b->tof_ps, PET_ERR_ARG,
            "projector: TOF requested but the batch has no tof_ps values");
  return PET_OK;
}

static int num_threads(const pet_projector_params *p)
{
  return p->num_threads > 0 ? p->num_threads : omp_get_max_threads();
}

/* p's TOF kernel, made in *tk; NULL without TOF. */
static const pet_tof_kernel *tof_kernel_of(const pet_projector_params *p, pet_tof_kernel *tk)
{
  if (!p->tof) return NULL;
  *tk = pet_tof_kernel_make(p->tof_fwhm_ps, p->tof_n_sigmas);
  return tk;
}

/* p's TOF bins (no out/in yet). */
static pet_tof_bins tof_bins_of(const pet_projector_params *p)
{
  pet_tof_bins tb;
  memset(&tb, 0, sizeof tb);
  tb.k = pet_tof_kernel_make(p->tof_fwhm_ps, p->tof_n_sigmas);
  tb.n = p->num_tof_bins;
  tb.bin_mm = 0.5f * PET_SPEED_OF_LIGHT_MM_PS * p->tof_bin_width_ps;
  return tb;
}

static void fwd_tofbins(const pet_projector_params *p, const pet_lor_batch *b,
                        const pet_image *img, float *proj)
{
  const pet_tof_bins tb0 = tof_bins_of(p);
  const pet_projector_params pp = *p;
  const pet_lor_batch bb = *b;
  const pet_image_params g = img->params;
  const float *x = img->data;
  const int64_t n = b->n, nt = p->num_tof_bins;
#pragma omp parallel for schedule(dynamic, 1024) num_threads(num_threads(p))
  for (int64_t i = 0; i < n; ++i) {
    pet_tof_bins tb = tb0;
    tb.out = proj + i * nt;
    for (int64_t t = 0; t < nt; ++t) tb.out[t] = 0.0f;
    pet_project_lor_tofbins(&pp, &tb, &bb, i, g, x, NULL, 1.0f, PET_WALK_FWD);
  }
}

/* The back projection of LOR i into img: list-mode/non-TOF, or its TOF bins. */
static PET_WORKER void back_one(const pet_projector_params *pp, const pet_tof_kernel *tof,
                            const pet_tof_bins *tb0, const pet_lor_batch *bb, int64_t i,
                            pet_image_params g, const float *proj, float *img, int mode)
{
  if (tb0) {
    pet_tof_bins tb = *tb0;
    tb.in = proj + i * tb0->n;
    pet_project_lor_tofbins(pp, &tb, bb, i, g, NULL, img, 1.0f, mode);
  } else {
    pet_project_lor(pp, tof, bb, i, g, NULL, img, proj[i], mode);
  }
}

pet_status pet_project_fwd_cpu(const pet_projector_params *p, const pet_lor_batch *b,
                               const pet_image *img, float *proj)
{
  PET_TRY(check_call(p, b, img, proj));
  if (p->num_tof_bins > 0) {
    fwd_tofbins(p, b, img, proj);
    return PET_OK;
  }
  pet_tof_kernel tk;
  const pet_tof_kernel *tof = tof_kernel_of(p, &tk);
  const pet_projector_params pp = *p;
  const pet_lor_batch bb = *b;
  const pet_image_params g = img->params;
  const float *x = img->data;
  const int64_t n = b->n;
  /* LOR costs vary (misses are free, diagonals are long): dynamic chunks balance them */
#pragma omp parallel for schedule(dynamic, 1024) num_threads(num_threads(p))
  for (int64_t i = 0; i < n; ++i)
    proj[i] = pet_project_lor(&pp, tof, &bb, i, g, x, NULL, 0.0f, PET_WALK_FWD);
  return PET_OK;
}

pet_status pet_project_back_cpu_with(const pet_projector_params *p, const pet_lor_batch *b,
                                     const float *proj, pet_image *img, pet_back_strategy s)
{
  PET_TRY(check_call(p, b, img, proj));
  PET_CHECK(s == PET_BACK_AUTO || s == PET_BACK_ATOMIC || s == PET_BACK_PRIVATE, PET_ERR_ARG,
            "projector: unknown back-projection strategy %d", (int)s);
  const int64_t n = b->n;
  if (n == 0) return PET_OK;
  pet_tof_kernel tk;
  const pet_tof_kernel *tof = tof_kernel_of(p, &tk);
  const pet_projector_params pp = *p;
  const pet_lor_batch bb = *b;
  const pet_image_params g = img->params;
  float *x = img->data;
  const int nt = num_threads(p);
  const int64_t nvox = pet_image_num_voxels(img);
  const pet_tof_bins tbv = p->num_tof_bins > 0 ? tof_bins_of(p) : (pet_tof_bins){0};
  const pet_tof_bins *tb = p->num_tof_bins > 0 ? &tbv : NULL;

  if (nt == 1) {
    for (int64_t i = 0; i < n; ++i)
      back_one(&pp, tof, tb, &bb, i, g, proj, x, PET_WALK_BACK_PLAIN);
    return PET_OK;
  }

  float *priv = NULL;
  if (s != PET_BACK_ATOMIC) {
    size_t bytes = (size_t)(nt - 1) * (size_t)nvox * sizeof(float);
    if (s == PET_BACK_PRIVATE || bytes <= PET_BACK_PRIVATE_MAX_BYTES)
      priv = (float *)calloc((size_t)(nt - 1) * (size_t)nvox, sizeof(float));
    PET_CHECK(priv || s != PET_BACK_PRIVATE, PET_ERR_NOMEM,
              "projector: cannot allocate %d private images of %lld voxels", nt - 1,
              (long long)nvox);
  }

  if (!priv) {
#pragma omp parallel for schedule(dynamic, 1024) num_threads(nt)
    for (int64_t i = 0; i < n; ++i)
      back_one(&pp, tof, tb, &bb, i, g, proj, x, PET_WALK_BACK_ATOMIC);
    return PET_OK;
  }

#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num();
    /* the team may be smaller than asked: unused copies stay zero */
    float *mine = t == 0 ? x : priv + (size_t)(t - 1) * (size_t)nvox;
    /* static: each LOR always lands in the same copy, so the sums (and a resumed run) are
     * bit-for-bit reproducible for a given thread count */
#pragma omp for schedule(static, 1024)
    for (int64_t i = 0; i < n; ++i)
      back_one(&pp, tof, tb, &bb, i, g, proj, mine, PET_WALK_BACK_PLAIN);
    /* implicit barrier above: every copy is complete before the reduction */
#pragma omp for schedule(static)
    for (int64_t v = 0; v < nvox; ++v) {
      float acc = 0.0f;
      for (int c = 0; c < nt - 1; ++c) acc += priv[(size_t)c * (size_t)nvox + (size_t)v];
      x[v] += acc;
    }
  }
  free(priv);
  return PET_OK;
}

pet_status pet_project_back_cpu(const pet_projector_params *p, const pet_lor_batch *b,
                                const float *proj, pet_image *img)
{
  return pet_project_back_cpu_with(p, b, proj, img, PET_BACK_AUTO);
}
