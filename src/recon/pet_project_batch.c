/* petrel: the batch loops over projection data that every caller of a whole-data projection
 * shares (simulation, forward model, petrel fwd/back, mu-map attenuation, the Python
 * operators). */
#include "pet_project_batch.h"

#include <stdbool.h>
#include <stdlib.h>

#define BATCH ((int64_t)1 << 20)

/* Batch size: 2^20 LORs, or when someone polls, small enough that a stop is seen within a
 * fraction of a second (2^17 Siddon LORs, fewer per ray of the multi-ray projector). */
static int64_t batch_cap(const pet_projector_params *p, const pet_batch_cb *cb, int64_t count)
{
  const int64_t rays = p->num_rays > 1 ? p->num_rays : 1;
  const int64_t polled = ((int64_t)1 << 17) / rays > 4096 ? ((int64_t)1 << 17) / rays : 4096;
  const int64_t max_batch = cb != NULL ? polled : BATCH;
  return count < max_batch ? (count > 0 ? count : 1) : max_batch;
}

pet_status pet_histo_project_fwd_cpu(const pet_histo_layout *L, const pet_scanner *s,
                                     const pet_projector_params *p, const pet_image *img,
                                     int64_t first, int64_t count, float *out)
{
  return pet_histo_project_fwd_cpu_cb(L, s, p, img, first, count, out, NULL);
}

pet_status pet_histo_project_fwd_cpu_cb(const pet_histo_layout *L, const pet_scanner *s,
                                        const pet_projector_params *p, const pet_image *img,
                                        int64_t first, int64_t count, float *out,
                                        const pet_batch_cb *cb)
{
  PET_CHECK(L && s && p && img && (out || count == 0), PET_ERR_ARG, "histogram projection: NULL argument");
  PET_CHECK(first >= 0 && count >= 0 && first + count <= L->num_bins, PET_ERR_ARG,
            "histogram projection: bins [%lld, +%lld) outside [0, %lld)", (long long)first, (long long)count,
            (long long)L->num_bins);
  if (count == 0) return PET_OK;
  const int64_t cap = batch_cap(p, cb, count);
  /* crystal normals only where the projector uses them (DD, multi-ray) */
  const bool need_orient = p->kind == PET_PROJ_DD || p->num_rays > 1;
  float *lor = malloc((size_t)cap * 6 * sizeof(float));
  float *orient = need_orient ? malloc((size_t)cap * 6 * sizeof(float)) : NULL;
  pet_status st = PET_OK;
  if (!lor || (need_orient && !orient))
    st = PET_ERROR(PET_ERR_NOMEM, "histogram projection: no memory for %lld LORs", (long long)cap);
  for (int64_t k0 = 0; k0 < count && st == PET_OK; k0 += cap) {
    int64_t cnt = count - k0 < cap ? count - k0 : cap;
    st = pet_histo_get_lors(L, s, NULL, first + k0, cnt, lor, orient);
    pet_lor_batch b;
    b.n = cnt;
    b.lor = lor;
    b.orient = orient;
    b.tof_ps = NULL;
    if (st == PET_OK) st = pet_project_fwd_cpu(p, &b, img, out + k0);
    if (st == PET_OK) pet_batch_cb_report(cb, k0 + cnt, count);
    if (st == PET_OK && k0 + cnt < count && pet_batch_cb_stop(cb)) st = PET_ERR_INTERRUPTED;
  }
  free(lor);
  free(orient);
  return st;
}


/* One subset of a histogram through batches: forward (img -> values) or back (values -> img). */
static pet_status histo_subset(const pet_histo_layout *L, const pet_scanner *s, const pet_projector_params *p,
                               int32_t S, int32_t sub, bool forward, const pet_image *img_in, pet_image *img_out,
                               const float *values_in, float *values_out, const pet_batch_cb *cb)
{
  PET_CHECK(L && s && p && (forward ? img_in && values_out : img_out != NULL), PET_ERR_ARG,
            "histogram projection: NULL argument");
  PET_CHECK(S >= 1 && sub >= 0 && sub < S, PET_ERR_ARG, "histogram projection: subset %d of %d", sub, S);
  PET_CHECK(!p->tof, PET_ERR_ARG, "histogram projection: TOF needs list-mode data with TOF, not a histogram");
  const int64_t total = pet_histo_subset_size(L->num_phi, L->num_r, L->num_zbin, S, sub);
  const int64_t cap = batch_cap(p, cb, total);
  const bool need_orient = p->kind == PET_PROJ_DD || p->num_rays > 1;
  float *lor = malloc((size_t)cap * 6 * sizeof(float));
  float *orient = need_orient ? malloc((size_t)cap * 6 * sizeof(float)) : NULL;
  float *vals = malloc((size_t)cap * sizeof(float));
  pet_status st = PET_OK;
  if (!lor || (need_orient && !orient) || !vals)
    st = PET_ERROR(PET_ERR_NOMEM, "histogram projection: no memory for %lld LORs", (long long)cap);
  for (int64_t k0 = 0; k0 < total && st == PET_OK; k0 += cap) {
    const int64_t cnt = total - k0 < cap ? total - k0 : cap;
    st = pet_histo_get_subset_lors(L, s, S, sub, k0, cnt, lor, orient);
    pet_lor_batch b = {cnt, lor, orient, NULL};
    if (st != PET_OK) break;
    if (forward) {
      st = pet_project_fwd_cpu(p, &b, img_in, vals);
      for (int64_t k = 0; st == PET_OK && k < cnt; ++k)
        values_out[pet_histo_subset_bin(L->num_phi, L->num_r, L->num_zbin, S, sub, k0 + k)] = vals[k];
    } else {
      for (int64_t k = 0; k < cnt; ++k)
        vals[k] = values_in ? values_in[pet_histo_subset_bin(L->num_phi, L->num_r, L->num_zbin, S, sub, k0 + k)]
                            : 1.0f;
      st = pet_project_back_cpu(p, &b, vals, img_out);
    }
    if (st == PET_OK) pet_batch_cb_report(cb, k0 + cnt, total);
    if (st == PET_OK && k0 + cnt < total && pet_batch_cb_stop(cb)) st = PET_ERR_INTERRUPTED;
  }
  free(lor);
  free(orient);
  free(vals);
  return st;
}

pet_status pet_histo_project_fwd_subset_cpu(const pet_histo_layout *L, const pet_scanner *s,
                                            const pet_projector_params *p, const pet_image *img, int32_t S,
                                            int32_t sub, float *values)
{
  return histo_subset(L, s, p, S, sub, true, img, NULL, NULL, values, NULL);
}

pet_status pet_histo_project_back_cpu(const pet_histo_layout *L, const pet_scanner *s,
                                      const pet_projector_params *p, const float *values, int32_t S,
                                      int32_t sub, pet_image *img, const pet_batch_cb *cb)
{
  return histo_subset(L, s, p, S, sub, false, NULL, img, values, NULL, cb);
}

pet_status pet_listmode_project_back_cpu(const pet_listmode *lm, const pet_scanner *s,
                                         const pet_projector_params *p, const float *values, int64_t first,
                                         int64_t count, pet_image *img, const pet_batch_cb *cb)
{
  PET_CHECK(lm && s && p && img, PET_ERR_ARG, "list-mode back projection: NULL argument");
  PET_TRY(pet_listmode_require(lm));
  PET_CHECK(first >= 0 && count >= 0 && first + count <= lm->num_events, PET_ERR_ARG,
            "list-mode back projection: events [%lld, +%lld) outside the %lld events", (long long)first,
            (long long)count, (long long)lm->num_events);
  PET_CHECK(!p->tof || lm->has_tof, PET_ERR_ARG, "list-mode back projection: TOF needs events with TOF");
  const int64_t cap = batch_cap(p, cb, count);
  const bool need_orient = p->kind == PET_PROJ_DD || p->num_rays > 1;
  float *lor = malloc((size_t)cap * 6 * sizeof(float));
  float *orient = need_orient ? malloc((size_t)cap * 6 * sizeof(float)) : NULL;
  float *tof = p->tof ? malloc((size_t)cap * sizeof(float)) : NULL;
  float *ones = values ? NULL : malloc((size_t)cap * sizeof(float));
  pet_status st = PET_OK;
  if (!lor || (need_orient && !orient) || (p->tof && !tof) || (!values && !ones))
    st = PET_ERROR(PET_ERR_NOMEM, "list-mode back projection: no memory for %lld LORs", (long long)cap);
  for (int64_t k = 0; ones && k < cap; ++k) ones[k] = 1.0f;
  for (int64_t k0 = 0; k0 < count && st == PET_OK; k0 += cap) {
    const int64_t cnt = count - k0 < cap ? count - k0 : cap;
    st = pet_listmode_get_lors(lm, s, first + k0, cnt, lor, orient, tof);
    pet_lor_batch b = {cnt, lor, orient, tof};
    if (st == PET_OK) st = pet_project_back_cpu(p, &b, values ? values + k0 : ones, img);
    if (st == PET_OK) pet_batch_cb_report(cb, k0 + cnt, count);
    if (st == PET_OK && k0 + cnt < count && pet_batch_cb_stop(cb)) st = PET_ERR_INTERRUPTED;
  }
  free(lor);
  free(orient);
  free(tof);
  free(ones);
  return st;
}
