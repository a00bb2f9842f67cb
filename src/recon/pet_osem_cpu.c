/* petrel: the CPU backend of the OSEM loop (pet_osem_backend.h). Batches of LORs are made on
 * the host from the data, projected with the OpenMP drivers (pet_project_fwd_cpu/back_cpu:
 * back projection into per-thread copies with a static schedule, so results are bit for bit
 * reproducible for a thread count) and combined with OpenMP loops. Buffers are host images. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pet_bin_map.h"
#include "pet_osem.h"
#include "pet_prior_kernel.h"

/* Host work buffers for one batch. */
typedef struct cpu_be {
  const pet_osem_data *d;
  const pet_osem_opts *o;
  int64_t cap;
  float *lor, *orient, *tof, *proj;
  int64_t *bins;
} cpu_be;

/* Values per LOR of the data: its TOF bins (a TOF histogram), else 1. */
static int64_t num_tof(const pet_osem_data *d)
{
  return d->histogram && d->histogram->num_tof_bins > 0 ? d->histogram->num_tof_bins : 1;
}

static void cpu_destroy(void *p)
{
  cpu_be *b = p;
  if (b == NULL) return;
  free(b->lor);
  free(b->orient);
  free(b->tof);
  free(b->proj);
  free(b->bins);
  free(b);
}

static pet_status cpu_create(void **out, const pet_osem_data *d, const pet_osem_opts *o,
                             const pet_image_params *g, int64_t cap)
{
  (void)g;
  cpu_be *b = calloc(1, sizeof *b);
  PET_CHECK(b != NULL, PET_ERR_NOMEM, "osem: out of memory");
  b->d = d;
  b->o = o;
  b->cap = cap;
  b->lor = malloc((size_t)cap * 6 * sizeof(float));
  b->orient = malloc((size_t)cap * 6 * sizeof(float));
  b->tof = malloc((size_t)cap * sizeof(float));
  b->proj = malloc((size_t)cap * (size_t)num_tof(d) * sizeof(float)); /* TOF bins of a LOR */
  b->bins = malloc((size_t)cap * sizeof(int64_t));
  if (!b->lor || !b->orient || !b->tof || !b->proj || !b->bins) {
    cpu_destroy(b);
    return PET_ERROR(PET_ERR_NOMEM, "osem: cannot allocate host buffers for %lld LORs", (long long)cap);
  }
  *out = b;
  return PET_OK;
}

static pet_lor_batch make_batch(const cpu_be *b, int64_t n, bool tof)
{
  pet_lor_batch lb;
  lb.n = n;
  lb.lor = b->lor;
  lb.orient = b->orient;
  lb.tof_ps = tof ? b->tof : NULL;
  return lb;
}

static pet_status cpu_sens_subset(void *p, int32_t S, int32_t s, int64_t lo, int64_t hi, pet_image *out)
{
  cpu_be *b = p;
  const pet_osem_data *d = b->d;
  const pet_histo_layout *L = d->layout;
  pet_projector_params pp = b->o->proj;
  pp.tof = 0; /* the TOF kernel integrates to 1 along the LOR */
  /* A TOF histogram's bins integrate to 1 only where they cover the LOR: its sensitivity is
   * the back projection through its TOF bins (A^T m exactly, as the update's A) */
  const int64_t T = num_tof(d);
  const bool mt = d->histogram && d->histogram->num_tof_bins > 0;
  if (!mt) pp.num_tof_bins = 0; /* no data: the non-TOF sensitivity */
  for (int64_t k0 = lo; k0 < hi; k0 += b->cap) {
    int64_t cnt = hi - k0 < b->cap ? hi - k0 : b->cap;
    PET_TRY(pet_histo_get_subset_lors(L, d->scanner, S, s, k0, cnt, b->lor, b->orient));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < cnt; ++i) {
      int64_t bin = pet_histo_subset_bin(L->num_phi, L->num_r, L->num_zbin, S, s, k0 + i);
      if (!mt) {
        b->proj[i] = d->mult ? d->mult[bin] : 1.0f;
        continue;
      }
      for (int64_t t = 0; t < T; ++t)
        b->proj[i * T + t] = !d->mult ? 1.0f : d->mult[d->mult_per_tof_bin ? bin * T + t : bin];
    }
    pet_lor_batch lb = make_batch(b, cnt, false);
    PET_TRY(pet_project_back_cpu(&pp, &lb, b->proj, out));
  }
  return PET_OK;
}

static pet_status cpu_sens_sym(void *p, int32_t D, int64_t lo, int64_t hi, pet_image *out)
{
  cpu_be *b = p;
  const pet_histo_layout *L = b->d->layout;
  const pet_scanner *sc = b->d->scanner;
  pet_projector_params pp = b->o->proj;
  pp.tof = 0;
  pp.num_tof_bins = 0;
  /* a large image: private copies per thread and batch would cost more than the adds */
  const pet_back_strategy how = pet_image_num_voxels(out) > ((int64_t)1 << 24) ? PET_BACK_ATOMIC : PET_BACK_AUTO;
  for (int64_t k0 = lo; k0 < hi; k0 += b->cap) {
    const int64_t cnt = hi - k0 < b->cap ? hi - k0 : b->cap;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < cnt; ++i) {
      int64_t d1 = 0, d2 = 0;
      (void)pet_bin_map_sym_dets(L->ring_pairs, L->invalid, L->num_r, L->dets_per_ring, L->num_rings, L->num_doi,
                                 D, k0 + i, &d1, &d2);
      pet_scanner_put_lor(sc->lut, d1, d2, i, b->lor, b->orient);
      b->proj[i] = 1.0f;
    }
    pet_lor_batch lb = make_batch(b, cnt, false);
    PET_TRY(pet_project_back_cpu_with(&pp, &lb, b->proj, out, how));
  }
  return PET_OK;
}

/* Fills the batch with the LORs of items [k0, hi) of subset s, at most cap of them
 * (histogram: only bins with non-zero counts, collected first, in b->bins; list-mode: events
 * ev_base + k). *n = LORs loaded, *next = the subset-local item to continue from. */
static pet_status load_batch(cpu_be *b, int32_t S, int32_t s, int64_t k0, int64_t hi, int64_t ev_base,
                             int64_t *n, int64_t *next)
{
  const pet_osem_data *d = b->d;
  if (d->listmode) {
    int64_t cnt = hi - k0 < b->cap ? hi - k0 : b->cap;
    PET_TRY(pet_listmode_get_lors(d->listmode, d->scanner, ev_base + k0, cnt, b->lor, b->orient,
                                  d->listmode->has_tof ? b->tof : NULL));
    *n = cnt;
    *next = k0 + cnt;
    return PET_OK;
  }
  const pet_histo_layout *L = d->layout;
  const float *y = d->histogram->data;
  const int64_t T = num_tof(d);
  int64_t m = 0, k = k0;
  for (; k < hi && m < b->cap; ++k) {
    int64_t bin = pet_histo_subset_bin(L->num_phi, L->num_r, L->num_zbin, S, s, k);
    bool any = false;
    for (int64_t t = 0; t < T; ++t) any |= y[bin * T + t] != 0.0f;
    if (any) b->bins[m++] = bin;
  }
  if (m > 0) PET_TRY(pet_histo_get_lors(L, d->scanner, b->bins, 0, m, b->lor, b->orient));
  *n = m;
  *next = k;
  return PET_OK;
}

/* Event's histogram bin, for per-bin factors in list-mode; -1 if none. */
static int64_t event_bin(const pet_osem_data *d, int64_t e)
{
  int64_t bin = -1;
  if (pet_histo_dets_to_bin(d->layout, (int32_t)d->listmode->d1[e], (int32_t)d->listmode->d2[e], &bin) != PET_OK)
    return -1;
  return bin;
}

static pet_status cpu_project_subset(void *p, int32_t S, int32_t s, int64_t lo, int64_t hi, int64_t ev_base,
                                     const pet_image *xf, pet_image *back, int64_t *lors)
{
  cpu_be *b = p;
  const pet_osem_data *d = b->d;
  const pet_osem_opts *o = b->o;
  const bool lm = d->listmode != NULL;
  int64_t k = lo;
  while (k < hi) {
    int64_t n = 0, next = k;
    PET_TRY(load_batch(b, S, s, k, hi, ev_base, &n, &next));
    if (n > 0) {
      pet_lor_batch lb = make_batch(b, n, o->proj.tof != 0);
      PET_TRY(pet_project_fwd_cpu(&o->proj, &lb, xf, b->proj));
      const int64_t base = ev_base + k;
      const int64_t T = num_tof(d);
      if (d->histogram && d->histogram->num_tof_bins > 0) {
        /* TOF histogram: the ratio per (bin, TOF bin); per-bin factors serve all its TOF bins,
         * the additive term spread evenly over them */
        const float add_share = d->add_per_tof_bin ? 1.0f : 1.0f / (float)T;
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; ++i) {
          const int64_t bin = b->bins[i];
          for (int64_t t = 0; t < T; ++t) {
            const int64_t v = bin * T + t;
            float y = d->histogram->data[v];
            float m = d->mult ? d->mult[d->mult_per_tof_bin ? v : bin] : 1.0f;
            float a = d->add ? d->add[d->add_per_tof_bin ? v : bin] * add_share : 0.0f;
            float pred = m * b->proj[i * T + t] + a;
            b->proj[i * T + t] = y != 0.0f && pred > PET_OSEM_PRED_EPS ? m * y / pred : 0.0f;
          }
        }
        PET_TRY(pet_project_back_cpu(&o->proj, &lb, b->proj, back));
        *lors += n;
        k = next;
        continue;
      }
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        float m = 1.0f, a = 0.0f, y = 1.0f;
        if (lm) {
          int64_t e = base + i;
          if (d->mult || d->add) {
            /* per-bin corrections apply to each event of the bin: the additive term is the
             * bin's expected randoms + scatter, as in the histogram model */
            int64_t bin = event_bin(d, e);
            if (d->mult) m = bin >= 0 ? d->mult[bin] : 0.0f;
            if (d->add) a = bin >= 0 ? d->add[bin] : 0.0f;
          }
          if (d->lm_add) a += d->lm_add[e];
        } else {
          int64_t bin = b->bins[i];
          y = d->histogram->data[bin];
          if (d->mult) m = d->mult[bin];
          if (d->add) a = d->add[bin];
        }
        float pred = m * b->proj[i] + a;
        b->proj[i] = pred > PET_OSEM_PRED_EPS ? m * y / pred : 0.0f;
      }
      PET_TRY(pet_project_back_cpu(&o->proj, &lb, b->proj, back));
      *lors += n;
    }
    k = next;
  }
  return PET_OK;
}

static pet_status cpu_fill(void *p, pet_image *img, float v)
{
  (void)p;
  return pet_image_fill(img, v);
}

static pet_status cpu_copy(void *p, pet_image *dst, const pet_image *src)
{
  (void)p;
  return pet_image_copy(dst, src);
}

static pet_status cpu_blur(void *p, pet_image *img, float fwhm_mm)
{
  (void)p;
  return pet_image_gaussian_blur(img, fwhm_mm);
}

static pet_status cpu_max(void *p, const pet_image *img, float *out)
{
  (void)p;
  const int64_t nv = pet_image_num_voxels(img);
  float m = 0.0f;
  for (int64_t v = 0; v < nv; ++v) m = fmaxf(m, img->data[v]);
  *out = m;
  return PET_OK;
}

static pet_status cpu_em_update(void *p, pet_image *x, const float *back, const pet_image *sens, float scale,
                                float thr)
{
  (void)p;
  const int64_t nv = pet_image_num_voxels(x);
  float *xv = x->data;
  const float *sv_ = sens->data;
#pragma omp parallel for schedule(static)
  for (int64_t v = 0; v < nv; ++v) {
    float sv = sv_[v] * scale;
    xv[v] = sv > thr && sv > 0.0f ? xv[v] * back[v] / sv : 0.0f;
  }
  return PET_OK;
}

static pet_status cpu_prior_grad(void *p, const pet_prior_params *pp, const pet_image *x, int32_t z0, int32_t z1,
                                 float *grad)
{
  (void)p;
  return pet_prior_gradient_slab(pp, x, z0, z1, grad);
}

static pet_status cpu_map_update(void *p, const pet_map_step *step, pet_image *x, const float *back,
                                 const float *grad, const pet_image *sens, float scale, float thr)
{
  (void)p;
  const int64_t nv = pet_image_num_voxels(x);
  float *xv = x->data;
  const float *sv_ = sens->data;
  const int32_t bsrem = step->algorithm == PET_OSEM_ALG_BSREM;
  const float gs = step->grad_scale, lambda = step->lambda, lo = step->floor_value;
#pragma omp parallel for schedule(static)
  for (int64_t v = 0; v < nv; ++v)
    xv[v] = pet_map_update_voxel(bsrem, xv[v], back[v], sv_[v] * scale, thr, grad ? grad[v] : 0.0f, gs, lambda, lo);
  return PET_OK;
}

static pet_status cpu_sync(void *p)
{
  (void)p;
  return PET_OK;
}

static int64_t cpu_bytes_per_item(const pet_osem_data *d, const pet_osem_opts *o)
{
  (void)d;
  (void)o;
  return 0; /* host memory: batches of o->batch_lors */
}

static pet_status cpu_budget(const pet_osem_opts *o, int64_t *bytes)
{
  (void)o;
  *bytes = 0;
  return PET_OK;
}

static pet_status cpu_check(const pet_osem_data *d, const pet_osem_opts *o)
{
  (void)o;
  PET_CHECK(d->histogram == NULL || d->histogram->space == PET_HOST, PET_ERR_STATE,
            "osem: the CPU backend needs the histogram in host memory");
  return PET_OK;
}

static const pet_osem_backend_ops cpu_ops = {
  .name = "cpu",
  .space = PET_HOST,
  .check = cpu_check,
  .bytes_per_item = cpu_bytes_per_item,
  .budget = cpu_budget,
  .create = cpu_create,
  .destroy = cpu_destroy,
  .sens_subset = cpu_sens_subset,
  .sens_sym = cpu_sens_sym,
  .project_subset = cpu_project_subset,
  .fill = cpu_fill,
  .copy = cpu_copy,
  .blur = cpu_blur,
  .max = cpu_max,
  .em_update = cpu_em_update,
  .prior_grad = cpu_prior_grad,
  .map_update = cpu_map_update,
  .sync = cpu_sync,
};

const pet_osem_backend_ops *pet_osem_cpu_backend(void) { return &cpu_ops; }
