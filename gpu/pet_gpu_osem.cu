/* OSEM on the GPU: pet_osem_run's loop (src/pet_osem.c) with the image, the back projection
 * and the sensitivities resident on the device and the projection data streamed through
 * batches that fit the VRAM budget. Per batch: the host gathers the batch's data values,
 * corrections (and list-mode ids, TOF) into a pinned slot, a copy stream uploads them while
 * the compute stream runs the previous batch (two slots), then the compute stream builds the
 * batch's LORs on the device and runs the fused forward / ratio / back kernel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pet_gpu.h"
#include "pet_gpu_check.cuh"
#include "pet_gpu_internal.cuh"
#include "pet_osem.h"

/* The division guards of pet_osem.c (same values, same meaning). */
#define PRED_EPS 1e-10f
#define SENS_REL_EPS 1e-8f

namespace {

double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

pet_status cuda_st(cudaError_t e, const char *what, int line)
{
  if (e == cudaSuccess) return PET_OK;
  (void)cudaGetLastError();
  return pet_error_at(e == cudaErrorMemoryAllocation ? PET_ERR_NOMEM : PET_ERR_CUDA, __FILE__,
                      line, "%s: %s", what, cudaGetErrorString(e));
}
#define CU(expr) cuda_st((expr), #expr, __LINE__)

bool is_lm(const pet_osem_data *d) { return d->listmode != NULL; }
int64_t lm_first(const pet_osem_data *d) { return d->lm_count < 0 ? 0 : d->lm_first; }
int64_t lm_count(const pet_osem_data *d)
{
  return d->lm_count < 0 ? d->listmode->num_events : d->lm_count;
}

/* The rank shares of pet_osem.c: my_share and histo_share. */
void my_share(const pet_reducer *r, int64_t n, int64_t *lo, int64_t *hi)
{
  int rank = r ? r->rank : 0, size = r ? r->size : 1;
  *lo = n * rank / size;
  *hi = n * (rank + 1) / size;
}
void histo_share(const pet_histo_layout *L, const pet_reducer *r, int32_t S, int32_t s,
                 int64_t *lo, int64_t *hi)
{
  int64_t z0, z1;
  my_share(r, L->num_zbin, &z0, &z1);
  int64_t per_z = pet_histo_subset_size(L->num_phi, L->num_r, 1, S, s);
  *lo = z0 * per_z;
  *hi = z1 * per_z;
}

pet_status check_data(const pet_osem_data *d, const pet_osem_opts *o)
{
  PET_CHECK(d != NULL && o != NULL, PET_ERR_ARG, "gpu osem: NULL data or options");
  PET_CHECK(d->scanner != NULL && d->layout != NULL, PET_ERR_ARG,
            "gpu osem: scanner and bin layout required");
  PET_CHECK((d->histogram != NULL) != (d->listmode != NULL), PET_ERR_ARG,
            "gpu osem: give exactly one of a histogram and a list-mode");
  if (d->histogram) {
    PET_TRY(pet_histogram_require(d->histogram));
    PET_CHECK(d->histogram->space == PET_HOST, PET_ERR_STATE,
              "gpu osem: the histogram must be in host memory (it is streamed to the device)");
  }
  if (d->listmode) {
    PET_TRY(pet_listmode_require(d->listmode));
    PET_TRY(pet_listmode_check(d->listmode, d->scanner));
    PET_CHECK(d->lm_count < 0 ||
                  (d->lm_first >= 0 && d->lm_first + d->lm_count <= d->listmode->num_events),
              PET_ERR_ARG, "gpu osem: list-mode range outside the events");
  }
  PET_CHECK(o->iterations >= 1, PET_ERR_CONFIG, "osem: iterations must be >= 1 (got %d)",
            o->iterations);
  PET_CHECK(o->subsets >= 1, PET_ERR_CONFIG, "osem: subsets must be >= 1 (got %d)", o->subsets);
  PET_CHECK(is_lm(d) || o->subsets <= d->layout->num_phi, PET_ERR_CONFIG,
            "osem: subsets (%d) must not exceed the histogram's %lld angles", o->subsets,
            (long long)d->layout->num_phi);
  PET_CHECK(!o->proj.tof || (is_lm(d) && d->listmode->has_tof), PET_ERR_CONFIG,
            "osem: TOF needs list-mode data with TOF values");
  PET_CHECK(o->psf_fwhm_mm >= 0.0f && isfinite(o->psf_fwhm_mm), PET_ERR_CONFIG,
            "osem: psf_fwhm_mm must be >= 0");
  return pet_projector_params_check(&o->proj);
}

/* One staging slot: pinned host arrays and their device twins. */
struct slot {
  float *h_y, *h_m, *h_a, *h_tof;
  uint32_t *h_d1, *h_d2;
  float *d_y, *d_m, *d_a, *d_tof;
  uint32_t *d_d1, *d_d2;
  cudaEvent_t copied, consumed;
};

struct engine {
  const pet_osem_data *d;
  const pet_osem_opts *o;
  pet_image_params g;
  int64_t nv, cap;
  bool need_orient, tof, lm;
  cudaStream_t ks, cs; /* compute, copy */
  pet_gpu_lorsrc src;
  float *d_lut;
  int32_t *d_ring_pairs, *d_zbin_rings;
  uint8_t *d_invalid;
  float *d_lor, *d_orient;
  slot sl[2];
};

/* Bytes per LOR of one batch for (d, o): LORs and normals once, the staged inputs twice. */
int64_t stage_bytes(const pet_osem_data *d, const pet_osem_opts *o)
{
  int64_t b = 0;
  if (is_lm(d)) {
    b += 8; /* d1, d2 */
    if (d->mult) b += 4;
    if (d->lm_add) b += 4;
    if (o->proj.tof) b += 4;
  } else {
    b += 4; /* y */
    if (d->mult) b += 4;
    if (d->add) b += 4;
  }
  return b;
}
int64_t lor_bytes(const pet_osem_opts *o)
{
  const bool orient = o->proj.kind == PET_PROJ_DD || o->proj.num_rays > 1;
  return 24 + (orient ? 24 : 0);
}

pet_status alloc_pair(void **h, void **dv, size_t bytes, const char *what)
{
  PET_TRY(CU(cudaMallocHost(h, bytes)));
  return pet_gpu_malloc(dv, bytes, what);
}

void free_engine(engine *e)
{
  for (int k = 0; k < 2; ++k) {
    slot *s = &e->sl[k];
    cudaFreeHost(s->h_y);
    cudaFreeHost(s->h_m);
    cudaFreeHost(s->h_a);
    cudaFreeHost(s->h_tof);
    cudaFreeHost(s->h_d1);
    cudaFreeHost(s->h_d2);
    pet_gpu_free(s->d_y);
    pet_gpu_free(s->d_m);
    pet_gpu_free(s->d_a);
    pet_gpu_free(s->d_tof);
    pet_gpu_free(s->d_d1);
    pet_gpu_free(s->d_d2);
    if (s->copied) cudaEventDestroy(s->copied);
    if (s->consumed) cudaEventDestroy(s->consumed);
  }
  pet_gpu_free(e->d_lut);
  pet_gpu_free(e->d_ring_pairs);
  pet_gpu_free(e->d_zbin_rings);
  pet_gpu_free(e->d_invalid);
  pet_gpu_free(e->d_lor);
  pet_gpu_free(e->d_orient);
  if (e->ks) cudaStreamDestroy(e->ks);
  if (e->cs) cudaStreamDestroy(e->cs);
}

pet_status upload(void **dst, const void *src, size_t bytes, const char *what)
{
  PET_TRY(pet_gpu_malloc(dst, bytes, what));
  return pet_gpu_memcpy(*dst, src, bytes, 0);
}

pet_status init_engine(engine *e, int64_t budget, int64_t max_items)
{
  const pet_osem_data *d = e->d;
  const pet_osem_opts *o = e->o;
  PET_TRY(CU(cudaStreamCreateWithFlags(&e->ks, cudaStreamNonBlocking)));
  PET_TRY(CU(cudaStreamCreateWithFlags(&e->cs, cudaStreamNonBlocking)));
  const pet_scanner *sc = d->scanner;
  const pet_histo_layout *L = d->layout;
  PET_TRY(upload((void **)&e->d_lut, sc->lut, (size_t)sc->num_dets * 24, "the detector LUT"));
  const size_t pr = (size_t)(L->num_phi * L->num_r);
  PET_TRY(upload((void **)&e->d_ring_pairs, L->ring_pairs, pr * 8, "the histogram ring pairs"));
  PET_TRY(upload((void **)&e->d_invalid, L->invalid, pr, "the histogram mask"));
  PET_TRY(upload((void **)&e->d_zbin_rings, L->zbin_rings, (size_t)L->num_zbin * 8,
                 "the z-bin rings"));
  e->src.lut = e->d_lut;
  e->src.ring_pairs = e->d_ring_pairs;
  e->src.invalid = e->d_invalid;
  e->src.zbin_rings = e->d_zbin_rings;
  e->src.num_phi = L->num_phi;
  e->src.num_r = L->num_r;
  e->src.num_zbin = L->num_zbin;
  e->src.dets_per_ring = L->dets_per_ring;
  e->src.num_rings = L->num_rings;
  e->src.num_doi = L->num_doi;

  /* the sensitivity pass stages m over histogram bins even in list-mode */
  const int64_t per = lor_bytes(o) + 2 * (stage_bytes(d, o) + 4);
  int64_t cap = budget / per;
  PET_CHECK(cap >= 1, PET_ERR_ARG,
            "gpu osem: a VRAM budget of %lld bytes holds no LOR (%lld bytes each); raise "
            "--vram-budget", (long long)budget, (long long)per);
  e->cap = cap < max_items ? cap : (max_items > 0 ? max_items : 1);
  const size_t c = (size_t)e->cap * 4;
  PET_TRY(pet_gpu_malloc((void **)&e->d_lor, c * 6, "batch LOR endpoints"));
  if (e->need_orient)
    PET_TRY(pet_gpu_malloc((void **)&e->d_orient, c * 6, "batch crystal normals"));
  for (int k = 0; k < 2; ++k) {
    slot *s = &e->sl[k];
    PET_TRY(CU(cudaEventCreateWithFlags(&s->copied, cudaEventDisableTiming)));
    PET_TRY(CU(cudaEventCreateWithFlags(&s->consumed, cudaEventDisableTiming)));
    PET_TRY(alloc_pair((void **)&s->h_m, (void **)&s->d_m, c, "staged multiplicative factors"));
    if (e->lm) {
      PET_TRY(alloc_pair((void **)&s->h_d1, (void **)&s->d_d1, c, "staged detector ids"));
      PET_TRY(alloc_pair((void **)&s->h_d2, (void **)&s->d_d2, c, "staged detector ids"));
      if (d->lm_add) PET_TRY(alloc_pair((void **)&s->h_a, (void **)&s->d_a, c, "staged additive terms"));
      if (e->tof) PET_TRY(alloc_pair((void **)&s->h_tof, (void **)&s->d_tof, c, "staged TOF"));
    } else {
      PET_TRY(alloc_pair((void **)&s->h_y, (void **)&s->d_y, c, "staged counts"));
      if (d->add) PET_TRY(alloc_pair((void **)&s->h_a, (void **)&s->d_a, c, "staged additive terms"));
    }
  }
  return PET_OK;
}

enum pass { PASS_SENS, PASS_RECON };

/* Host side of a batch: wait until the slot is free, gather into its pinned arrays, upload on
 * the copy stream. Histogram items are subset-local bins of subset s of S; list-mode items
 * are the events [ev0, ev0 + n) (absolute indices). */
pet_status stage(engine *e, int k, pass ps, int32_t S, int32_t s, int64_t k0, int64_t ev0,
                 int64_t n, pet_gpu_osem_batch *in)
{
  const pet_osem_data *d = e->d;
  slot *sl = &e->sl[k];
  PET_TRY(CU(cudaEventSynchronize(sl->consumed)));
  const pet_histo_layout *L = d->layout;
  const bool lm_ev = e->lm && ps == PASS_RECON;
  const float *mult = d->mult;
  in->y = in->m = in->a = NULL;
  if (!lm_ev) { /* histogram bins: counts (recon), m, a (recon) */
    const float *y = ps == PASS_RECON ? d->histogram->data : NULL;
    const float *add = ps == PASS_RECON ? d->add : NULL;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      int64_t bin = pet_histo_subset_bin(L->num_phi, L->num_r, L->num_zbin, S, s, k0 + i);
      if (y) sl->h_y[i] = y[bin];
      if (mult) sl->h_m[i] = mult[bin];
      if (add) sl->h_a[i] = add[bin];
    }
    const size_t b = (size_t)n * 4;
    if (y) PET_TRY(CU(cudaMemcpyAsync(sl->d_y, sl->h_y, b, cudaMemcpyHostToDevice, e->cs)));
    if (mult) PET_TRY(CU(cudaMemcpyAsync(sl->d_m, sl->h_m, b, cudaMemcpyHostToDevice, e->cs)));
    if (add) PET_TRY(CU(cudaMemcpyAsync(sl->d_a, sl->h_a, b, cudaMemcpyHostToDevice, e->cs)));
    in->y = y ? sl->d_y : NULL;
    in->m = mult ? sl->d_m : NULL;
    in->a = add ? sl->d_a : NULL;
  } else {
    const pet_listmode *lmd = d->listmode;
    memcpy(sl->h_d1, lmd->d1 + ev0, (size_t)n * 4);
    memcpy(sl->h_d2, lmd->d2 + ev0, (size_t)n * 4);
    if (e->tof) memcpy(sl->h_tof, lmd->tof_ps + ev0, (size_t)n * 4);
    if (d->lm_add) memcpy(sl->h_a, d->lm_add + ev0, (size_t)n * 4);
    if (mult) {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        int64_t bin = -1;
        if (pet_histo_dets_to_bin(L, (int32_t)lmd->d1[ev0 + i], (int32_t)lmd->d2[ev0 + i],
                                  &bin) != PET_OK)
          bin = -1;
        sl->h_m[i] = bin >= 0 ? mult[bin] : 0.0f;
      }
    }
    const size_t b = (size_t)n * 4;
    PET_TRY(CU(cudaMemcpyAsync(sl->d_d1, sl->h_d1, b, cudaMemcpyHostToDevice, e->cs)));
    PET_TRY(CU(cudaMemcpyAsync(sl->d_d2, sl->h_d2, b, cudaMemcpyHostToDevice, e->cs)));
    if (e->tof) PET_TRY(CU(cudaMemcpyAsync(sl->d_tof, sl->h_tof, b, cudaMemcpyHostToDevice, e->cs)));
    if (d->lm_add) PET_TRY(CU(cudaMemcpyAsync(sl->d_a, sl->h_a, b, cudaMemcpyHostToDevice, e->cs)));
    if (mult) PET_TRY(CU(cudaMemcpyAsync(sl->d_m, sl->h_m, b, cudaMemcpyHostToDevice, e->cs)));
    in->m = mult ? sl->d_m : NULL;
    in->a = d->lm_add ? sl->d_a : NULL;
  }
  PET_TRY(CU(cudaEventRecord(sl->copied, e->cs)));
  return PET_OK;
}

/* Device side of a batch on the compute stream: LORs, then the sensitivity or OSEM kernel. */
pet_status compute(engine *e, int k, pass ps, int32_t S, int32_t s, int64_t k0, int64_t n,
                   pet_gpu_osem_batch in, const float *xf, float *back)
{
  slot *sl = &e->sl[k];
  PET_TRY(CU(cudaStreamWaitEvent(e->ks, sl->copied, 0)));
  pet_lor_batch b;
  pet_gpu_groups gr; /* histogram batches: one (phi, r) in every z-bin per group */
  gr.stride = e->lm ? 0 : pet_histo_subset_size(e->src.num_phi, e->src.num_r, 1, S, s);
  gr.k0 = k0;
  b.n = n;
  b.lor = e->d_lor;
  b.orient = e->need_orient ? e->d_orient : NULL;
  b.tof_ps = NULL;
  if (e->lm && ps == PASS_RECON) {
    PET_TRY(pet_gpu_gen_lors_lm(e->ks, e->src, sl->d_d1, sl->d_d2, n, e->d_lor,
                                e->need_orient ? e->d_orient : NULL));
    if (e->tof) b.tof_ps = sl->d_tof;
  } else {
    PET_TRY(pet_gpu_gen_lors_histo(e->ks, e->src, S, s, k0, n, e->d_lor,
                                   e->need_orient ? e->d_orient : NULL));
  }
  if (ps == PASS_SENS)
    PET_TRY(pet_gpu_launch_sens(e->ks, &e->o->proj, &b, in.m, e->g, back));
  else
    PET_TRY(pet_gpu_launch_osem(e->ks, &e->o->proj, &b, e->lm ? NULL : &gr, in, PRED_EPS, e->g,
                                xf, back));
  PET_TRY(CU(cudaEventRecord(sl->consumed, e->ks)));
  return PET_OK;
}

/* Streams items [lo, hi) of subset s of S through the batches. */
pet_status run_pass(engine *e, pass ps, int32_t S, int32_t s, int64_t lo, int64_t hi,
                    int64_t ev_base, const float *xf, float *back, int64_t *lors)
{
  int k = 0;
  for (int64_t k0 = lo; k0 < hi; k0 += e->cap, k ^= 1) {
    int64_t n = hi - k0 < e->cap ? hi - k0 : e->cap;
    pet_gpu_osem_batch in;
    PET_TRY(stage(e, k, ps, S, s, k0, ev_base + k0, n, &in));
    PET_TRY(compute(e, k, ps, S, s, k0, n, in, xf, back));
    *lors += n;
  }
  return PET_OK;
}

pet_status reduce_dev(const pet_reducer *r, float *buf, int64_t n)
{
  if (r == NULL || r->size <= 1 || r->allreduce_sum == NULL) return PET_OK;
  return r->allreduce_sum(r->ctx, buf, n, PET_DEVICE);
}
pet_status agree(const pet_reducer *r, pet_status st)
{
  if (r == NULL || r->agree == NULL) return st;
  return r->agree(r->ctx, st);
}

}  // namespace

extern "C" int64_t pet_gpu_osem_bytes_per_lor(const struct pet_osem_data *d,
                                              const struct pet_osem_opts *o)
{
  if (d == NULL || o == NULL) return 0;
  return lor_bytes(o) + 2 * (stage_bytes(d, o) + 4);
}

extern "C" pet_status pet_osem_run_gpu(const struct pet_osem_data *d,
                                       const struct pet_osem_opts *o, const pet_gpu_opts *g,
                                       struct pet_image *x)
{
  PET_TRY(check_data(d, o));
  PET_CHECK(x != NULL && x->data != NULL, PET_ERR_STATE, "gpu osem: image used before allocate()/bind()");
  PET_CHECK(pet_gpu_device_count() > 0, PET_ERR_CUDA,
            "gpu osem: no CUDA device is visible (is this a GPU node? check CUDA_VISIBLE_DEVICES)");
  PET_TRY(pet_gpu_set_device(g ? g->device : 0));
  PET_CHECK(g == NULL || g->vram_budget_bytes >= 0, PET_ERR_ARG, "gpu osem: negative VRAM budget");

  pet_status st = PET_OK;
  const int32_t S = o->subsets;
  const bool lm = is_lm(d);
  const int32_t nsens = lm ? 1 : S;
  const pet_reducer *red = o->reducer;
  engine e;
  memset(&e, 0, sizeof e);
  e.d = d;
  e.o = o;
  e.g = x->params;
  e.nv = pet_image_num_voxels(x);
  e.lm = lm;
  e.tof = o->proj.tof != 0;
  e.need_orient = o->proj.kind == PET_PROJ_DD || o->proj.num_rays > 1;
  const size_t ib = (size_t)e.nv * 4;
  float *d_x = NULL, *d_xf = NULL, *d_tmp = NULL, *d_back = NULL, *d_sens = NULL;
  float *smax = NULL;
  const bool x_dev = x->space == PET_DEVICE;
  bool given = false; /* sensitivity handed over by the caller */

  smax = (float *)calloc((size_t)nsens, sizeof(float));
  PET_CHECK_GOTO(st, smax != NULL, PET_ERR_NOMEM, out, "gpu osem: out of host memory");
  if (x_dev) {
    d_x = x->data; /* the caller's device image, updated in place */
  } else {
    PET_TRY_GOTO(st, pet_gpu_malloc((void **)&d_x, ib, "the image"), out);
    PET_TRY_GOTO(st, pet_gpu_memcpy(d_x, x->data, ib, 0), out);
  }
  PET_TRY_GOTO(st, pet_gpu_malloc((void **)&d_back, ib, "the back projection"), out);
  PET_TRY_GOTO(st, pet_gpu_malloc((void **)&d_sens, ib * (size_t)nsens, "the sensitivity images"), out);
  if (o->psf_fwhm_mm > 0) {
    PET_TRY_GOTO(st, pet_gpu_malloc((void **)&d_xf, ib, "the PSF image"), out);
    PET_TRY_GOTO(st, pet_gpu_malloc((void **)&d_tmp, ib, "the PSF scratch image"), out);
  }
  {
    int64_t budget = g ? g->vram_budget_bytes : 0;
    if (budget == 0) budget = (int64_t)(0.8 * (double)pet_gpu_available_vram());
    int64_t max_items = 0;
    for (int32_t s = 0; s < nsens; ++s) {
      int64_t lo, hi;
      histo_share(d->layout, red, lm ? 1 : S, s, &lo, &hi);
      if (hi - lo > max_items) max_items = hi - lo;
    }
    if (lm)
      for (int32_t s = 0; s < S; ++s) {
        int64_t beg, end, lo, hi;
        pet_listmode_subset_range(lm_count(d), S, s, &beg, &end);
        my_share(red, end - beg, &lo, &hi);
        if (hi - lo > max_items) max_items = hi - lo;
      }
    PET_TRY_GOTO(st, init_engine(&e, budget, max_items), out);
  }

  /* sensitivity: given (uploaded), or A_s^T m per subset (histogram) / A^T m over all bins
   * (list-mode) computed here */
  given = g && g->sens_in;
  if (given || (g && g->sens_out)) {
    pet_image *const *hs = given ? g->sens_in : g->sens_out;
    PET_CHECK_GOTO(st, g->num_sens == nsens, PET_ERR_ARG, out,
                   "gpu osem: %d sensitivity images handed over, %d expected", g->num_sens, nsens);
    for (int32_t s = 0; s < nsens; ++s) {
      PET_TRY_GOTO(st, pet_image_require(hs[s], PET_HOST), out);
      PET_CHECK_GOTO(st, pet_image_params_equal(&hs[s]->params, &x->params), PET_ERR_ARG, out,
                     "gpu osem: sensitivity image %d is not on the image's grid", s);
    }
  }
  for (int32_t s = 0; given && s < nsens; ++s) {
    float *sens = d_sens + (size_t)s * (size_t)e.nv;
    PET_TRY_GOTO(st, pet_gpu_memcpy(sens, g->sens_in[s]->data, ib, 0), out);
    PET_TRY_GOTO(st, pet_gpu_max(e.ks, sens, e.nv, &smax[s]), out);
    PET_CHECK_GOTO(st, smax[s] > 0.0f, PET_ERR_ARG, out,
                   "gpu osem: the sensitivity image %d handed over is zero everywhere", s);
  }
  for (int32_t s = 0; !given && s < nsens; ++s) {
    float *sens = d_sens + (size_t)s * (size_t)e.nv;
    int64_t lo, hi, lors = 0;
    const int32_t Ss = lm ? 1 : S;
    histo_share(d->layout, red, Ss, s, &lo, &hi);
    PET_TRY_GOTO(st, CU(cudaMemsetAsync(sens, 0, ib, e.ks)), out);
    st = run_pass(&e, PASS_SENS, Ss, s, lo, hi, 0, NULL, sens, &lors);
    if (st == PET_OK) st = CU(cudaStreamSynchronize(e.ks));
    PET_TRY_GOTO(st, agree(red, st), out);
    PET_TRY_GOTO(st, reduce_dev(red, sens, e.nv), out);
    if (o->psf_fwhm_mm > 0) PET_TRY_GOTO(st, pet_gpu_blur(e.ks, e.g, o->psf_fwhm_mm, sens, d_tmp), out);
    PET_TRY_GOTO(st, pet_gpu_max(e.ks, sens, e.nv, &smax[s]), out);
    if (g && g->sens_out) PET_TRY_GOTO(st, pet_gpu_memcpy(g->sens_out[s]->data, sens, ib, 1), out);
  }

  {
    const double t_start = now_s();
    int done_subsets = 0;
    const int total_subsets = o->iterations * S - (o->start_iteration * S + o->start_subset);
    for (int32_t it = o->start_iteration; it < o->iterations; ++it) {
      for (int32_t s = (it == o->start_iteration ? o->start_subset : 0); s < S; ++s) {
        if (o->should_stop && o->should_stop(o->cb_ctx)) {
          if (o->on_interrupt) {
            if (!x_dev) PET_TRY_GOTO(st, pet_gpu_memcpy(x->data, d_x, ib, 1), out);
            PET_TRY_GOTO(st, o->on_interrupt(o->cb_ctx, it, s, x), out);
          }
          st = PET_ERR_INTERRUPTED;
          goto out;
        }
        const double t0 = now_s();
        int64_t lors = 0;
        const float *xf = d_x;
        if (d_xf) {
          PET_TRY_GOTO(st, CU(cudaMemcpyAsync(d_xf, d_x, ib, cudaMemcpyDeviceToDevice, e.ks)), out);
          PET_TRY_GOTO(st, pet_gpu_blur(e.ks, e.g, o->psf_fwhm_mm, d_xf, d_tmp), out);
          xf = d_xf;
        }
        PET_TRY_GOTO(st, CU(cudaMemsetAsync(d_back, 0, ib, e.ks)), out);
        int64_t lo, hi, base = 0;
        if (lm) {
          int64_t beg, end;
          pet_listmode_subset_range(lm_count(d), S, s, &beg, &end);
          my_share(red, end - beg, &lo, &hi);
          base = lm_first(d) + beg; /* event index = base + subset-local index */
        } else {
          histo_share(d->layout, red, S, s, &lo, &hi);
        }
        st = run_pass(&e, PASS_RECON, S, s, lo, hi, base, xf, d_back, &lors);
        if (st == PET_OK) st = CU(cudaStreamSynchronize(e.ks));
        PET_TRY_GOTO(st, agree(red, st), out);
        PET_TRY_GOTO(st, reduce_dev(red, d_back, e.nv), out);
        if (o->psf_fwhm_mm > 0) PET_TRY_GOTO(st, pet_gpu_blur(e.ks, e.g, o->psf_fwhm_mm, d_back, d_tmp), out);
        const int32_t si = lm ? 0 : s;
        const float scale = lm ? 1.0f / (float)S : 1.0f;
        PET_TRY_GOTO(st, pet_gpu_em_update(e.ks, e.nv, d_x, d_back, d_sens + (size_t)si * (size_t)e.nv,
                                           scale, SENS_REL_EPS * smax[si] * scale), out);
        PET_TRY_GOTO(st, CU(cudaStreamSynchronize(e.ks)), out);
        ++done_subsets;
        if (o->on_subset) {
          pet_osem_progress p;
          memset(&p, 0, sizeof p); /* the phase split is measured on the host path only */
          p.iteration = it + 1;
          p.num_iterations = o->iterations;
          p.subset = s + 1;
          p.num_subsets = S;
          p.seconds = now_s() - t0;
          p.elapsed = now_s() - t_start;
          p.eta = p.elapsed / done_subsets * (total_subsets - done_subsets);
          p.lors = lors;
          o->on_subset(o->cb_ctx, &p);
        }
      }
      if (o->on_iteration) {
        if (!x_dev) PET_TRY_GOTO(st, pet_gpu_memcpy(x->data, d_x, ib, 1), out);
        PET_TRY_GOTO(st, o->on_iteration(o->cb_ctx, it + 1, x), out);
      }
    }
  }
  if (!x_dev) PET_TRY_GOTO(st, pet_gpu_memcpy(x->data, d_x, ib, 1), out);
out:
  if (e.ks) cudaStreamSynchronize(e.ks);
  if (e.cs) cudaStreamSynchronize(e.cs);
  free_engine(&e);
  if (!x_dev) pet_gpu_free(d_x);
  pet_gpu_free(d_xf);
  pet_gpu_free(d_tmp);
  pet_gpu_free(d_back);
  pet_gpu_free(d_sens);
  free(smax);
  return st;
}
