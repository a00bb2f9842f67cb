/* Device projection list (YRT-PET's ProjectionListDeviceOwned/Alias): the LORs of one
 * (subset, batch) of a histogram or list-mode, generated on the device, and one value each. */
#include <stdlib.h>
#include <string.h>

#include "pet_gpu.h"
#include "pet_gpu_check.cuh"
#include "pet_gpu_internal.cuh"
#include "pet_histogram.h"
#include "pet_listmode.h"
#include "pet_scanner.h"
#include "pet_storage.h"

struct pet_projlist_device {
  const pet_scanner *scanner;
  const pet_histogram *histo;
  const pet_listmode *lm;
  int has_tof;
  int32_t num_subsets;
  int64_t cap;          /* LORs per batch */
  pet_ownership values_own;
  pet_gpu_lorsrc src;   /* device tables */
  float *d_lor, *d_orient, *d_tof; /* cap x 6, cap x 6, cap */
  uint32_t *d_d1, *d_d2;           /* list-mode ids of the batch */
  float *values;                   /* Owned: ours; Alias: borrowed */
  int64_t loaded;                  /* LORs in the loaded batch */
  pet_gpu_groups groups;           /* of the loaded batch (histogram; stride 0: none) */
};

/* Device bytes per LOR of a batch. */
static int64_t bytes_per_lor(int listmode, int tof)
{
  return 12 * (int64_t)sizeof(float) + (tof ? 4 : 0) + 4 /* value */ + (listmode ? 8 : 0);
}

static int64_t subset_items(const pet_projlist_device *pl, int32_t s)
{
  if (s < 0 || s >= pl->num_subsets) return 0;
  if (pl->lm) {
    int64_t b, e;
    pet_listmode_subset_range(pl->lm->num_events, pl->num_subsets, s, &b, &e);
    return e - b;
  }
  const pet_histo_layout *L = pl->histo->layout;
  return pet_histo_subset_size(L->num_phi, L->num_r, L->num_zbin, pl->num_subsets, s);
}

/* The values as a pet_storage in device memory (values_own and values stay its record); its
 * allocate() and bind() messages are the projection list's own (Python's names). */
static pet_storage values_storage(const pet_projlist_device *pl)
{
  return pet_storage_make(pl->values, pl->cap, sizeof(float), pl->values_own, PET_DEVICE);
}

extern "C" void pet_projlist_device_destroy(pet_projlist_device **plp)
{
  if (plp == NULL || *plp == NULL) return;
  pet_projlist_device *pl = *plp;
  pet_gpu_lorsrc_free(&pl->src);
  pet_gpu_free(pl->d_lor);
  pet_gpu_free(pl->d_orient);
  pet_gpu_free(pl->d_tof);
  pet_gpu_free(pl->d_d1);
  pet_gpu_free(pl->d_d2);
  pet_storage v = values_storage(pl);
  pet_storage_release(&v);
  free(pl);
  *plp = NULL;
}

extern "C" pet_status pet_projlist_device_create(pet_projlist_device **out, const pet_scanner *s,
                                                 const pet_histogram *h, const pet_listmode *lm,
                                                 int has_tof, int64_t budget_bytes,
                                                 int32_t num_subsets, pet_ownership values)
{
  PET_CHECK(out != NULL && s != NULL && s->lut != NULL, PET_ERR_ARG,
            "projection list: NULL output or scanner");
  *out = NULL;
  PET_CHECK((h != NULL) != (lm != NULL), PET_ERR_ARG,
            "projection list: give exactly one of a histogram and a list-mode");
  PET_CHECK(values == PET_OWNED || values == PET_ALIAS, PET_ERR_ARG,
            "projection list: bad ownership %d", (int)values);
  PET_CHECK(!has_tof || (lm != NULL && lm->has_tof), PET_ERR_ARG,
            "projection list: TOF needs a list-mode with TOF values");
  PET_CHECK(h == NULL || h->num_tof_bins == 0, PET_ERR_UNSUPPORTED,
            "projection list: a TOF histogram (%d TOF bins) is not supported yet (one value per LOR)",
            (int)h->num_tof_bins);
  PET_CHECK(budget_bytes >= 0, PET_ERR_ARG, "projection list: negative VRAM budget");
  if (lm) PET_TRY(pet_listmode_require(lm));
  const int64_t nitems = h ? h->layout->num_bins : lm->num_events;
  PET_CHECK(num_subsets >= 1 && (lm != NULL || num_subsets <= h->layout->num_phi), PET_ERR_ARG,
            "projection list: num_subsets %d outside [1, %lld]", num_subsets,
            (long long)(h ? h->layout->num_phi : nitems));
  PET_CHECK(pet_gpu_device_count() > 0, PET_ERR_CUDA, "projection list: no CUDA device is visible");
  if (budget_bytes == 0) budget_bytes = (int64_t)(0.8 * (double)pet_gpu_available_vram());
  const int64_t bpl = bytes_per_lor(lm != NULL, has_tof);
  int64_t cap = budget_bytes / bpl;
  PET_CHECK(cap >= 1, PET_ERR_ARG,
            "projection list: a VRAM budget of %lld bytes holds no LOR (%lld bytes each); raise "
            "--vram-budget", (long long)budget_bytes, (long long)bpl);

  pet_status st = PET_OK;
  pet_projlist_device *pl = (pet_projlist_device *)calloc(1, sizeof *pl);
  PET_CHECK(pl != NULL, PET_ERR_NOMEM, "projection list: out of host memory");
  pl->scanner = s;
  pl->histo = h;
  pl->lm = lm;
  pl->has_tof = has_tof;
  pl->num_subsets = num_subsets;
  pl->values_own = values;
  int64_t maxn = 0;
  for (int32_t k = 0; k < num_subsets; ++k) {
    int64_t n = subset_items(pl, k);
    if (n > maxn) maxn = n;
  }
  pl->cap = cap < maxn ? cap : (maxn > 0 ? maxn : 1);
  const size_t c = (size_t)pl->cap;
  PET_TRY_GOTO(st, pet_gpu_lorsrc_upload(&pl->src, s, h ? h->layout : NULL), out);
  if (lm) {
    PET_TRY_GOTO(st, pet_gpu_malloc((void **)&pl->d_d1, c * 4, "list-mode detector ids"), out);
    PET_TRY_GOTO(st, pet_gpu_malloc((void **)&pl->d_d2, c * 4, "list-mode detector ids"), out);
  }
  PET_TRY_GOTO(st, pet_gpu_malloc((void **)&pl->d_lor, c * 24, "batch LOR endpoints"), out);
  PET_TRY_GOTO(st, pet_gpu_malloc((void **)&pl->d_orient, c * 24, "batch crystal normals"), out);
  if (has_tof) PET_TRY_GOTO(st, pet_gpu_malloc((void **)&pl->d_tof, c * 4, "batch TOF"), out);
  *out = pl;
  pl = NULL;
out:
  pet_projlist_device_destroy(&pl);
  return st;
}

extern "C" int64_t pet_projlist_device_batch_capacity(const pet_projlist_device *pl)
{
  return pl ? pl->cap : 0;
}

extern "C" int64_t pet_projlist_device_num_batches(const pet_projlist_device *pl, int32_t subset)
{
  if (pl == NULL) return 0;
  int64_t n = subset_items(pl, subset);
  return (n + pl->cap - 1) / pl->cap;
}

extern "C" pet_status pet_projlist_device_prepare_batch(pet_projlist_device *pl, int32_t subset,
                                                        int64_t batch)
{
  PET_CHECK(pl != NULL, PET_ERR_ARG, "projection list: NULL");
  PET_CHECK(subset >= 0 && subset < pl->num_subsets, PET_ERR_ARG,
            "projection list: subset %d outside [0, %d)", subset, pl->num_subsets);
  const int64_t nb = pet_projlist_device_num_batches(pl, subset);
  PET_CHECK(batch >= 0 && batch < nb, PET_ERR_ARG,
            "projection list: batch %lld outside [0, %lld) of subset %d", (long long)batch,
            (long long)nb, subset);
  const int64_t items = subset_items(pl, subset);
  const int64_t k0 = batch * pl->cap;
  const int64_t n = items - k0 < pl->cap ? items - k0 : pl->cap;
  pl->loaded = 0;
  pl->groups.stride = 0;
  pl->groups.k0 = 0;
  if (pl->histo) {
    pl->groups.stride = pet_histo_subset_size(pl->src.num_phi, pl->src.num_r, 1,
                                              pl->num_subsets, subset);
    pl->groups.k0 = k0;
    PET_TRY(pet_gpu_gen_lors_histo(0, pl->src, pl->num_subsets, subset, k0, n, pl->d_lor,
                                   pl->d_orient));
  } else {
    int64_t beg, end;
    pet_listmode_subset_range(pl->lm->num_events, pl->num_subsets, subset, &beg, &end);
    const pet_listmode *lm = pl->lm;
    for (int64_t i = beg + k0; i < beg + k0 + n; ++i)
      PET_CHECK(lm->d1[i] < (uint32_t)pl->scanner->num_dets &&
                    lm->d2[i] < (uint32_t)pl->scanner->num_dets,
                PET_ERR_ARG, "projection list: event %lld has detectors (%u, %u) of %lld",
                (long long)i, lm->d1[i], lm->d2[i], (long long)pl->scanner->num_dets);
    PET_CUDA(cudaMemcpy(pl->d_d1, lm->d1 + beg + k0, (size_t)n * 4, cudaMemcpyHostToDevice));
    PET_CUDA(cudaMemcpy(pl->d_d2, lm->d2 + beg + k0, (size_t)n * 4, cudaMemcpyHostToDevice));
    if (pl->has_tof)
      PET_CUDA(cudaMemcpy(pl->d_tof, lm->tof_ps + beg + k0, (size_t)n * 4,
                          cudaMemcpyHostToDevice));
    PET_TRY(pet_gpu_gen_lors_lm(0, pl->src, pl->d_d1, pl->d_d2, n, pl->d_lor, pl->d_orient));
  }
  PET_CUDA(cudaStreamSynchronize(0));
  pl->loaded = n;
  return PET_OK;
}

extern "C" int64_t pet_projlist_device_loaded_batch_size(const pet_projlist_device *pl)
{
  return pl ? pl->loaded : 0;
}

extern "C" pet_status pet_projlist_device_allocate_values(pet_projlist_device *pl)
{
  PET_CHECK(pl != NULL, PET_ERR_ARG, "projection list: NULL");
  PET_CHECK(pl->values_own == PET_OWNED, PET_ERR_STATE,
            "projection list: allocate() called on an Alias list; use bind "
            "(setProjValuesDevicePointer)");
  pet_storage v = values_storage(pl);
  PET_TRY(pet_storage_allocate(&v, "projection values"));
  pl->values = (float *)v.data;
  return PET_OK;
}

extern "C" pet_status pet_projlist_device_bind_values(pet_projlist_device *pl, float *dev)
{
  PET_CHECK(pl != NULL, PET_ERR_ARG, "projection list: NULL");
  PET_CHECK(pl->values_own == PET_ALIAS, PET_ERR_STATE,
            "projection list: bind called on an Owned list; use allocate()");
  PET_CHECK(dev != NULL, PET_ERR_ARG, "projection list: bind to a NULL pointer");
  PET_CHECK(pet_gpu_is_device_ptr(dev), PET_ERR_STATE,
            "projection list: bind needs device memory (got a host pointer)");
  pl->values = dev;
  return PET_OK;
}

extern "C" float *pet_projlist_device_values(const pet_projlist_device *pl)
{
  return pl ? pl->values : NULL;
}

extern "C" pet_lor_batch pet_projlist_device_batch(const pet_projlist_device *pl)
{
  pet_lor_batch b;
  memset(&b, 0, sizeof b);
  if (pl == NULL) return b;
  b.n = pl->loaded;
  b.lor = pl->d_lor;
  b.orient = pl->d_orient;
  b.tof_ps = pl->has_tof ? pl->d_tof : NULL;
  return b;
}

static pet_status check_use(const pet_projlist_device *pl, const pet_projector_params *p)
{
  PET_CHECK(pl != NULL && p != NULL, PET_ERR_ARG, "projection list: NULL");
  PET_CHECK(pl->values != NULL, PET_ERR_STATE, "projection list values used before %s",
            pl->values_own == PET_OWNED ? "allocate()" : "bind (setProjValuesDevicePointer)");
  PET_CHECK(!p->tof || pl->has_tof, PET_ERR_ARG,
            "projection list: a TOF projector over a list without TOF");
  return PET_OK;
}

extern "C" pet_status pet_projlist_device_fwd(pet_projlist_device *pl,
                                              const pet_projector_params *p, const pet_image *img)
{
  PET_TRY(check_use(pl, p));
  pet_lor_batch b = pet_projlist_device_batch(pl);
  return pet_gpu_project_fwd(p, &b, img, pl->values);
}

extern "C" pet_status pet_projlist_device_back(pet_projlist_device *pl,
                                               const pet_projector_params *p, pet_image *img)
{
  PET_TRY(check_use(pl, p));
  pet_lor_batch b = pet_projlist_device_batch(pl);
  return pet_gpu_project_back_groups(p, &b, &pl->groups, pl->values, img);
}
