/* petrel: the batch loops over histogram bins that every caller of a whole-histogram
 * projection shares (simulation, forward model, petrel fwd, mu-map attenuation). */
#include "pet_project_batch.h"

#include <stdbool.h>
#include <stdlib.h>

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
  /* smaller batches when someone polls, so that a stop is seen within a fraction of a second
   * (2^17 Siddon LORs, fewer per ray of the multi-ray projector) */
  const int64_t rays = p->num_rays > 1 ? p->num_rays : 1;
  const int64_t polled = ((int64_t)1 << 17) / rays > 4096 ? ((int64_t)1 << 17) / rays : 4096;
  const int64_t max_batch = cb != NULL ? polled : (int64_t)1 << 20;
  const int64_t cap = count < max_batch ? count : max_batch;
  if (cap == 0) return PET_OK;
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
