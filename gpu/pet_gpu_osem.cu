/* petrel: the GPU backend of the OSEM loop (pet_osem_backend.h; the loop itself is
 * src/recon/pet_osem.c). The image, the back projection and the sensitivities live on the
 * device (images of the loop in PET_DEVICE space) and the projection data is streamed through
 * batches that fit the VRAM budget. Per batch: the host gathers the batch's data values,
 * corrections (and list-mode ids, TOF) into a pinned slot, a copy stream uploads them while
 * the compute stream runs the previous batch (two slots), then the compute stream builds the
 * batch's LORs on the device and runs the fused forward / ratio / back kernel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pet_gpu.h"
#include "pet_gpu_check.cuh"
#include "pet_gpu_internal.cuh"
#include "pet_osem_backend.h"

namespace {

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
  float *d_tmp; /* PSF scratch image */
  bool need_orient, tof, lm, tofh; /* tofh: a TOF histogram */
  cudaStream_t ks, cs; /* compute, copy */
  pet_gpu_lorsrc src; /* device LUT and histogram tables */
  float *d_lor, *d_orient;
  pet_gpu_lmsort sort; /* list-mode batches sorted on the device (sort.mode > 0) */
  slot sl[2];
};

/* Values per LOR: a TOF histogram's TOF bins, else 1. */
int64_t num_tof(const pet_osem_data *d)
{
  return d->histogram && d->histogram->num_tof_bins > 0 ? d->histogram->num_tof_bins : 1;
}

/* PET_GPU_LM_SORT: 1 (the default) sorts each list-mode batch into spatially coherent order on
 * the device (pet_gpu_lmsort_lors), 0 runs the file order, 2 sorts but runs the file order (the
 * sort's cost alone). Measured on the H200 (bench/RESULTS.md, 1e9 TOF events, total-body image):
 * Siddon 4.52 -> 2.83 s an iteration, DD 8.76 -> 4.12 s; the sort itself costs nothing visible. PET_GPU_LM_SORT_SLAB, PET_GPU_LM_SORT_TILE: the key's z slab in
 * slices and transaxial tile in voxels (8 each; pet_lm_sort_key.h; a slab of 4096 is one slab:
 * keys by transaxial position or line alone). */
int lm_sort_mode(const pet_osem_data *d)
{
  const char *s = getenv("PET_GPU_LM_SORT");
  if (d->listmode == NULL) return 0;
  if (s == NULL || *s == '\0') return 1;
  const int m = atoi(s);
  return m == 1 || m == 2 ? m : 0;
}
int32_t env_voxels(const char *name)
{
  const char *s = getenv(name);
  const int v = s ? atoi(s) : 0;
  return v >= 1 && v <= 4096 ? (int32_t)v : 8;
}

/* Bytes per LOR of one batch for (d, o): LORs and normals once, the staged inputs twice. */
int64_t stage_bytes(const pet_osem_data *d, const pet_osem_opts *o)
{
  int64_t b = 0;
  if (d->listmode != NULL) {
    b += 8; /* d1, d2 */
    if (d->mult) b += 4;
    if (d->lm_add || d->add) b += 4;
    if (o->proj.tof) b += 4;
  } else {
    b += 4; /* y */
    if (d->mult) b += 4;
    if (d->add) b += 4;
    b *= num_tof(d); /* a TOF histogram stages all three per (bin, TOF bin) */
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
  PET_CUDA(cudaMallocHost(h, bytes));
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
  pet_gpu_lorsrc_free(&e->src);
  pet_gpu_lmsort_free(&e->sort);
  pet_gpu_free(e->d_lor);
  pet_gpu_free(e->d_orient);
  pet_gpu_free(e->d_tmp);
  if (e->ks) cudaStreamDestroy(e->ks);
  if (e->cs) cudaStreamDestroy(e->cs);
}

pet_status init_engine(engine *e, int64_t cap)
{
  const pet_osem_data *d = e->d;
  const pet_osem_opts *o = e->o;
  PET_CUDA(cudaStreamCreateWithFlags(&e->ks, cudaStreamNonBlocking));
  PET_CUDA(cudaStreamCreateWithFlags(&e->cs, cudaStreamNonBlocking));
  /* the sensitivity pass runs over histogram bins in list-mode too: always the tables */
  PET_TRY(pet_gpu_lorsrc_upload(&e->src, d->scanner, d->layout));

  e->cap = cap;
  if (o->psf_fwhm_mm > 0)
    PET_TRY(pet_gpu_malloc((void **)&e->d_tmp, (size_t)e->nv * 4, "the PSF scratch image"));
  const size_t c = (size_t)e->cap * 4;
  const size_t ct = c * (size_t)num_tof(d); /* per (bin, TOF bin) */
  PET_TRY(pet_gpu_malloc((void **)&e->d_lor, c * 6, "batch LOR endpoints"));
  if (e->need_orient)
    PET_TRY(pet_gpu_malloc((void **)&e->d_orient, c * 6, "batch crystal normals"));
  const int sort = lm_sort_mode(d);
  if (sort)
    PET_TRY(pet_gpu_lmsort_init(&e->sort, sort, e->g, e->tof, d->mult != NULL,
                                d->lm_add != NULL || d->add != NULL, e->cap,
                                env_voxels("PET_GPU_LM_SORT_SLAB"), env_voxels("PET_GPU_LM_SORT_TILE")));
  for (int k = 0; k < 2; ++k) {
    slot *s = &e->sl[k];
    PET_CUDA(cudaEventCreateWithFlags(&s->copied, cudaEventDisableTiming));
    PET_CUDA(cudaEventCreateWithFlags(&s->consumed, cudaEventDisableTiming));
    PET_TRY(alloc_pair((void **)&s->h_m, (void **)&s->d_m, ct, "staged multiplicative factors"));
    if (e->lm) {
      PET_TRY(alloc_pair((void **)&s->h_d1, (void **)&s->d_d1, c, "staged detector ids"));
      PET_TRY(alloc_pair((void **)&s->h_d2, (void **)&s->d_d2, c, "staged detector ids"));
      if (d->lm_add || d->add)
        PET_TRY(alloc_pair((void **)&s->h_a, (void **)&s->d_a, c, "staged additive terms"));
      if (e->tof) PET_TRY(alloc_pair((void **)&s->h_tof, (void **)&s->d_tof, c, "staged TOF"));
    } else {
      PET_TRY(alloc_pair((void **)&s->h_y, (void **)&s->d_y, ct, "staged counts"));
      if (d->add) PET_TRY(alloc_pair((void **)&s->h_a, (void **)&s->d_a, ct, "staged additive terms"));
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
  PET_CUDA(cudaEventSynchronize(sl->consumed));
  const pet_histo_layout *L = d->layout;
  const bool lm_ev = e->lm && ps == PASS_RECON;
  const float *mult = d->mult;
  in->y = in->m = in->a = NULL;
  if (!lm_ev) { /* histogram bins: counts (recon), m, a (recon) */
    const float *y = ps == PASS_RECON ? d->histogram->data : NULL;
    const float *add = ps == PASS_RECON ? d->add : NULL;
    const int64_t T = e->tofh ? num_tof(d) : 1;
    if (T == 1) {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        int64_t bin = pet_histo_subset_bin(L->num_phi, L->num_r, L->num_zbin, S, s, k0 + i);
        if (y) sl->h_y[i] = y[bin];
        if (mult) sl->h_m[i] = mult[bin];
        if (add) sl->h_a[i] = add[bin];
      }
    } else {
      /* TOF histogram: T values per bin; per-bin factors repeated over its TOF bins, a per-bin
       * additive term spread evenly over them (pet_osem_data) */
      const bool mpt = d->mult_per_tof_bin, apt = d->add_per_tof_bin;
      const float share = apt ? 1.0f : 1.0f / (float)T;
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        int64_t bin = pet_histo_subset_bin(L->num_phi, L->num_r, L->num_zbin, S, s, k0 + i);
        for (int64_t t = 0; t < T; ++t) {
          const int64_t v = bin * T + t;
          if (y) sl->h_y[i * T + t] = y[v];
          if (mult) sl->h_m[i * T + t] = mult[mpt ? v : bin];
          if (add) sl->h_a[i * T + t] = add[apt ? v : bin] * share;
        }
      }
    }
    const size_t b = (size_t)n * T * 4;
    if (y) PET_CUDA(cudaMemcpyAsync(sl->d_y, sl->h_y, b, cudaMemcpyHostToDevice, e->cs));
    if (mult) PET_CUDA(cudaMemcpyAsync(sl->d_m, sl->h_m, b, cudaMemcpyHostToDevice, e->cs));
    if (add) PET_CUDA(cudaMemcpyAsync(sl->d_a, sl->h_a, b, cudaMemcpyHostToDevice, e->cs));
    in->y = y ? sl->d_y : NULL;
    in->m = mult ? sl->d_m : NULL;
    in->a = add ? sl->d_a : NULL;
  } else {
    const pet_listmode *lmd = d->listmode;
    /* ids and TOF into the pinned slot: one thread copies ~10 GB/s, a batch of 2^24 TOF
     * events is 200 MB, so the copy is split over the host's threads in 1 MiB pieces */
    const int64_t piece = (int64_t)1 << 18, np = (n + piece - 1) / piece;
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < np; ++q) {
      const int64_t i0 = q * piece, c = n - i0 < piece ? n - i0 : piece;
      memcpy(sl->h_d1 + i0, lmd->d1 + ev0 + i0, (size_t)c * 4);
      memcpy(sl->h_d2 + i0, lmd->d2 + ev0 + i0, (size_t)c * 4);
      if (e->tof) memcpy(sl->h_tof + i0, lmd->tof_ps + ev0 + i0, (size_t)c * 4);
    }
    /* per-bin factors apply to each event of the bin (the additive term is the bin's expected
     * randoms + scatter, as in the histogram model), plus the event's own additive term */
    const float *add = d->add;
    const bool has_a = add || d->lm_add;
    if (mult || add) {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        int64_t bin = -1;
        if (pet_histo_dets_to_bin(L, (int32_t)lmd->d1[ev0 + i], (int32_t)lmd->d2[ev0 + i],
                                  &bin) != PET_OK)
          bin = -1;
        if (mult) sl->h_m[i] = bin >= 0 ? mult[bin] : 0.0f;
        if (has_a)
          sl->h_a[i] = (add && bin >= 0 ? add[bin] : 0.0f) + (d->lm_add ? d->lm_add[ev0 + i] : 0.0f);
      }
    } else if (d->lm_add) {
      memcpy(sl->h_a, d->lm_add + ev0, (size_t)n * 4);
    }
    const size_t b = (size_t)n * 4;
    PET_CUDA(cudaMemcpyAsync(sl->d_d1, sl->h_d1, b, cudaMemcpyHostToDevice, e->cs));
    PET_CUDA(cudaMemcpyAsync(sl->d_d2, sl->h_d2, b, cudaMemcpyHostToDevice, e->cs));
    if (e->tof) PET_CUDA(cudaMemcpyAsync(sl->d_tof, sl->h_tof, b, cudaMemcpyHostToDevice, e->cs));
    if (has_a) PET_CUDA(cudaMemcpyAsync(sl->d_a, sl->h_a, b, cudaMemcpyHostToDevice, e->cs));
    if (mult) PET_CUDA(cudaMemcpyAsync(sl->d_m, sl->h_m, b, cudaMemcpyHostToDevice, e->cs));
    in->m = mult ? sl->d_m : NULL;
    in->a = has_a ? sl->d_a : NULL;
  }
  PET_CUDA(cudaEventRecord(sl->copied, e->cs));
  return PET_OK;
}

/* Device side of a batch on the compute stream: LORs, then the sensitivity or OSEM kernel. */
pet_status compute(engine *e, int k, pass ps, int32_t S, int32_t s, int64_t k0, int64_t n,
                   pet_gpu_osem_batch in, const float *xf, float *back)
{
  slot *sl = &e->sl[k];
  PET_CUDA(cudaStreamWaitEvent(e->ks, sl->copied, 0));
  pet_lor_batch b;
  pet_gpu_groups gr; /* histogram batches: one (phi, r) in every z-bin per group */
  gr.stride = e->lm ? 0 : pet_histo_subset_size(e->src.num_phi, e->src.num_r, 1, S, s);
  gr.k0 = k0;
  b.n = n;
  b.lor = e->d_lor;
  b.orient = e->need_orient ? e->d_orient : NULL;
  b.tof_ps = NULL;
  if (e->lm && ps == PASS_RECON && e->sort.mode > 0) {
    /* the batch in spatially coherent order: each event's TOF, m and a go with it */
    pet_gpu_lmsort_batch sb = {e->d_lor, e->need_orient ? e->d_orient : NULL,
                               e->tof ? sl->d_tof : NULL, in.m, in.a};
    PET_TRY(pet_gpu_lmsort_lors(e->ks, &e->sort, e->src, sl->d_d1, sl->d_d2, n, &sb));
    b.tof_ps = sb.tof;
    in.m = sb.m;
    in.a = sb.a;
  } else if (e->lm && ps == PASS_RECON) {
    PET_TRY(pet_gpu_gen_lors_lm(e->ks, e->src, sl->d_d1, sl->d_d2, n, e->d_lor,
                                e->need_orient ? e->d_orient : NULL));
    if (e->tof) b.tof_ps = sl->d_tof;
  } else {
    PET_TRY(pet_gpu_gen_lors_histo(e->ks, e->src, S, s, k0, n, e->d_lor,
                                   e->need_orient ? e->d_orient : NULL));
  }
  if (ps == PASS_SENS) {
    pet_projector_params sp = e->o->proj;
    if (!e->tofh) sp.num_tof_bins = 0; /* no TOF histogram: the non-TOF sensitivity */
    PET_TRY(pet_gpu_launch_sens(e->ks, &sp, &b, in.m, e->g, back));
  }
  else
    PET_TRY(pet_gpu_launch_osem(e->ks, &e->o->proj, &b, e->lm ? NULL : &gr, in, PET_OSEM_PRED_EPS, e->g,
                                xf, back));
  PET_CUDA(cudaEventRecord(sl->consumed, e->ks));
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


/* ---- the operations ---- */

pet_status gpu_check(const pet_osem_data *d, const pet_osem_opts *o)
{
  PET_CHECK(pet_gpu_device_count() > 0, PET_ERR_CUDA,
            "gpu osem: no CUDA device is visible (is this a GPU node? check CUDA_VISIBLE_DEVICES)");
  PET_CHECK(o->vram_budget_bytes >= 0, PET_ERR_ARG, "gpu osem: negative VRAM budget");
  if (d->histogram)
    PET_CHECK(d->histogram->space == PET_HOST, PET_ERR_STATE,
              "gpu osem: the histogram must be in host memory (it is streamed to the device)");
  /* the kernels index the LUT with the ids: every id is checked once, up front */
  if (d->listmode) PET_TRY(pet_listmode_check(d->listmode, d->scanner));
  return PET_OK;
}

int64_t gpu_bytes_per_item(const pet_osem_data *d, const pet_osem_opts *o)
{
  /* the sensitivity pass stages m over histogram bins (and TOF bins) even in list-mode */
  return lor_bytes(o) + 2 * (stage_bytes(d, o) + 4 * num_tof(d)) +
         (lm_sort_mode(d) ? pet_gpu_lmsort_bytes_per_event() : 0);
}

pet_status gpu_budget(const pet_osem_opts *o, int64_t *bytes)
{
  PET_TRY(pet_gpu_set_device(o->gpu_device));
  int64_t b = o->vram_budget_bytes;
  if (b == 0) b = (int64_t)(0.8 * (double)pet_gpu_available_vram());
  *bytes = b > 0 ? b : 1;
  return PET_OK;
}

void gpu_destroy(void *p)
{
  engine *e = (engine *)p;
  if (e == NULL) return;
  if (e->ks) cudaStreamSynchronize(e->ks);
  if (e->cs) cudaStreamSynchronize(e->cs);
  free_engine(e);
  free(e);
}

pet_status gpu_create(void **out, const pet_osem_data *d, const pet_osem_opts *o, const pet_image_params *g,
                      int64_t cap)
{
  engine *e = (engine *)calloc(1, sizeof(engine));
  PET_CHECK(e != NULL, PET_ERR_NOMEM, "gpu osem: out of host memory");
  e->d = d;
  e->o = o;
  e->g = *g;
  e->nv = (int64_t)g->nx * g->ny * g->nz;
  e->lm = d->listmode != NULL;
  e->tof = o->proj.tof != 0;
  e->tofh = d->histogram && d->histogram->num_tof_bins > 0;
  e->need_orient = o->proj.kind == PET_PROJ_DD || o->proj.num_rays > 1;
  pet_status st = pet_gpu_set_device(o->gpu_device);
  if (st == PET_OK) st = init_engine(e, cap);
  if (st != PET_OK) {
    gpu_destroy(e);
    return st;
  }
  *out = e;
  return PET_OK;
}

pet_status gpu_sens_subset(void *p, int32_t S, int32_t s, int64_t lo, int64_t hi, pet_image *out)
{
  int64_t lors = 0;
  return run_pass((engine *)p, PASS_SENS, S, s, lo, hi, 0, NULL, out->data, &lors);
}

/* The symmetric sensitivity pass: LORs made on the device from the item index, weight 1. */
pet_status gpu_sens_sym(void *p, int32_t D, int64_t lo, int64_t hi, pet_image *out)
{
  engine *e = (engine *)p;
  pet_projector_params sp = e->o->proj;
  sp.num_tof_bins = 0;
  for (int64_t k0 = lo; k0 < hi; k0 += e->cap) {
    pet_lor_batch b;
    b.n = hi - k0 < e->cap ? hi - k0 : e->cap;
    b.lor = e->d_lor;
    b.orient = e->need_orient ? e->d_orient : NULL;
    b.tof_ps = NULL;
    PET_TRY(pet_gpu_gen_lors_sym(e->ks, e->src, D, k0, b.n, e->d_lor, e->need_orient ? e->d_orient : NULL));
    PET_TRY(pet_gpu_launch_sens(e->ks, &sp, &b, NULL, out->params, out->data));
  }
  return PET_OK;
}

pet_status gpu_project_subset(void *p, int32_t S, int32_t s, int64_t lo, int64_t hi, int64_t ev_base,
                              const pet_image *xf, pet_image *back, int64_t *lors)
{
  return run_pass((engine *)p, PASS_RECON, S, s, lo, hi, ev_base, xf->data, back->data, lors);
}

pet_status gpu_sync(void *p)
{
  engine *e = (engine *)p;
  PET_CUDA(cudaStreamSynchronize(e->cs));
  PET_CUDA(cudaStreamSynchronize(e->ks));
  return PET_OK;
}

pet_status gpu_fill(void *p, pet_image *img, float v)
{
  engine *e = (engine *)p;
  const size_t bytes = (size_t)pet_image_num_voxels(img) * 4;
  if (v == 0.0f) {
    PET_CUDA(cudaMemsetAsync(img->data, 0, bytes, e->ks));
    return PET_OK;
  }
  PET_TRY(gpu_sync(p));
  return pet_image_fill(img, v);
}

pet_status gpu_copy(void *p, pet_image *dst, const pet_image *src)
{
  engine *e = (engine *)p;
  const size_t bytes = (size_t)pet_image_num_voxels(src) * 4;
  PET_CUDA(cudaMemcpyAsync(dst->data, src->data, bytes, cudaMemcpyDeviceToDevice, e->ks));
  return PET_OK;
}

pet_status gpu_blur(void *p, pet_image *img, float fwhm_mm)
{
  engine *e = (engine *)p;
  PET_CHECK(e->d_tmp != NULL, PET_ERR_STATE, "gpu osem: no PSF scratch image (PSF off at create)");
  return pet_gpu_blur(e->ks, img->params, fwhm_mm, img->data, e->d_tmp);
}

pet_status gpu_max(void *p, const pet_image *img, float *out)
{
  engine *e = (engine *)p;
  return pet_gpu_max(e->ks, img->data, pet_image_num_voxels(img), out);
}

pet_status gpu_em_update(void *p, pet_image *x, const float *back, const pet_image *sens, float scale, float thr)
{
  engine *e = (engine *)p;
  return pet_gpu_em_update(e->ks, pet_image_num_voxels(x), x->data, back, sens->data, scale, thr);
}

pet_status gpu_prior_grad(void *p, const pet_prior_params *pp, const pet_image *x, int32_t z0, int32_t z1,
                          float *grad)
{
  engine *e = (engine *)p;
  return pet_gpu_launch_prior_grad(e->ks, pp, x->params, x->data, z0, z1, grad);
}

pet_status gpu_map_update(void *p, const pet_map_step *step, pet_image *x, const float *back, const float *grad,
                          const pet_image *sens, float scale, float thr)
{
  engine *e = (engine *)p;
  return pet_gpu_launch_map_update(e->ks, step, pet_image_num_voxels(x), x->data, back, grad, sens->data, scale, thr);
}

pet_osem_backend_ops make_ops()
{
  pet_osem_backend_ops ops;
  memset(&ops, 0, sizeof ops);
  ops.name = "gpu";
  ops.space = PET_DEVICE;
  ops.check = gpu_check;
  ops.bytes_per_item = gpu_bytes_per_item;
  ops.budget = gpu_budget;
  ops.create = gpu_create;
  ops.destroy = gpu_destroy;
  ops.sens_subset = gpu_sens_subset;
  ops.sens_sym = gpu_sens_sym;
  ops.project_subset = gpu_project_subset;
  ops.fill = gpu_fill;
  ops.copy = gpu_copy;
  ops.blur = gpu_blur;
  ops.max = gpu_max;
  ops.em_update = gpu_em_update;
  ops.prior_grad = gpu_prior_grad;
  ops.map_update = gpu_map_update;
  ops.sync = gpu_sync;
  return ops;
}

const pet_osem_backend_ops gpu_ops = make_ops();

}  // namespace

extern "C" const pet_osem_backend_ops *pet_osem_gpu_backend(void) { return &gpu_ops; }

extern "C" int64_t pet_gpu_osem_bytes_per_lor(const struct pet_osem_data *d,
                                              const struct pet_osem_opts *o)
{
  if (d == NULL || o == NULL) return 0;
  return gpu_bytes_per_item(d, o);
}
