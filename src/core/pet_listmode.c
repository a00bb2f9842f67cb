#include "pet_listmode.h"

#include <stdlib.h>
#include <string.h>

#include "pet_storage.h"

pet_status pet_listmode_create(pet_listmode **out, int64_t num_events, bool has_tof,
                               pet_ownership own)
{
  PET_CHECK(out != NULL, PET_ERR_ARG, "pet_listmode_create: NULL output pointer");
  *out = NULL;
  PET_CHECK(num_events >= 0, PET_ERR_ARG, "list-mode: num_events must be >= 0 (got %lld)",
            (long long)num_events);
  PET_CHECK(own == PET_OWNED || own == PET_ALIAS, PET_ERR_ARG,
            "pet_listmode_create: bad ownership %d", (int)own);
  pet_listmode *lm = calloc(1, sizeof *lm);
  PET_CHECK(lm != NULL, PET_ERR_NOMEM, "list-mode: out of host memory");
  lm->num_events = num_events;
  lm->has_tof = has_tof;
  lm->ownership = own;
  *out = lm;
  return PET_OK;
}

/* The list-mode's arrays as pet_storage, one per array (host memory; the public fields stay
 * their one record): time, d1, d2 and, with TOF, tof. Returns the number of arrays. */
enum { LM_TIME, LM_D1, LM_D2, LM_TOF, LM_ARRAYS };
static int lm_storage(const pet_listmode *lm, pet_storage st[LM_ARRAYS])
{
  const int64_t n = lm->num_events;
  st[LM_TIME] = pet_storage_make(lm->time_ms, n, sizeof(uint32_t), lm->ownership, PET_HOST);
  st[LM_D1] = pet_storage_make(lm->d1, n, sizeof(uint32_t), lm->ownership, PET_HOST);
  st[LM_D2] = pet_storage_make(lm->d2, n, sizeof(uint32_t), lm->ownership, PET_HOST);
  st[LM_TOF] = pet_storage_make(lm->tof_ps, n, sizeof(float), lm->ownership, PET_HOST);
  return lm->has_tof ? LM_ARRAYS : LM_TOF;
}

static void lm_set(pet_listmode *lm, const pet_storage st[LM_ARRAYS])
{
  lm->time_ms = st[LM_TIME].data;
  lm->d1 = st[LM_D1].data;
  lm->d2 = st[LM_D2].data;
  lm->tof_ps = st[LM_TOF].data;
}

pet_status pet_listmode_allocate(pet_listmode *lm)
{
  PET_CHECK(lm != NULL, PET_ERR_ARG, "list-mode: NULL");
  pet_storage st[LM_ARRAYS];
  const int na = lm_storage(lm, st);
  pet_status s = PET_OK;
  for (int k = 0; k < na && s == PET_OK; ++k) s = pet_storage_allocate(&st[k], "list-mode");
  if (s != PET_OK) {
    /* the arrays are allocated all or none, so a failure frees only what this call got (an
     * Alias fails on the first array, and releasing an Alias frees nothing) */
    for (int k = 0; k < na; ++k) pet_storage_release(&st[k]);
    return s;
  }
  lm_set(lm, st);
  return PET_OK;
}

pet_status pet_listmode_bind(pet_listmode *lm, uint32_t *time_ms, uint32_t *d1, uint32_t *d2,
                             float *tof_ps)
{
  PET_CHECK(lm != NULL, PET_ERR_ARG, "list-mode: NULL");
  PET_CHECK(lm->ownership == PET_ALIAS, PET_ERR_STATE,
            "list-mode: bind() called on an Owned list-mode; use allocate()");
  PET_CHECK(time_ms != NULL && d1 != NULL && d2 != NULL, PET_ERR_ARG,
            "list-mode: bind() to a NULL time or detector array");
  PET_CHECK((tof_ps != NULL) == lm->has_tof, PET_ERR_ARG,
            "list-mode: bind() %s a TOF array, but the list-mode has %s", lm->has_tof ? "without" : "with",
            lm->has_tof ? "TOF" : "no TOF");
  pet_storage st[LM_ARRAYS];
  const int na = lm_storage(lm, st);
  void *arrays[LM_ARRAYS] = {time_ms, d1, d2, tof_ps};
  for (int k = 0; k < na; ++k) PET_TRY(pet_storage_bind(&st[k], arrays[k], "list-mode"));
  lm_set(lm, st);
  return PET_OK;
}

pet_status pet_listmode_create_owned(pet_listmode **lm, int64_t num_events, bool has_tof)
{
  PET_TRY(pet_listmode_create(lm, num_events, has_tof, PET_OWNED));
  pet_status st = pet_listmode_allocate(*lm);
  if (st != PET_OK) pet_listmode_destroy(lm);
  return st;
}

void pet_listmode_destroy(pet_listmode **lm)
{
  if (lm == NULL || *lm == NULL) return;
  pet_listmode *x = *lm;
  pet_storage st[LM_ARRAYS];
  lm_storage(x, st);
  for (int k = 0; k < LM_ARRAYS; ++k) pet_storage_release(&st[k]);
  free(x);
  *lm = NULL;
}

pet_status pet_listmode_require(const pet_listmode *lm)
{
  PET_CHECK(lm != NULL, PET_ERR_ARG, "list-mode: NULL");
  pet_storage st[LM_ARRAYS];
  const int na = lm_storage(lm, st);
  for (int k = 0; k < na; ++k) PET_TRY(pet_storage_require(&st[k], "list-mode"));
  return PET_OK;
}

pet_status pet_listmode_check(const pet_listmode *lm, const pet_scanner *s)
{
  PET_TRY(pet_listmode_require(lm));
  PET_CHECK(s != NULL, PET_ERR_ARG, "list-mode check: NULL scanner");
  const uint32_t *a = lm->d1, *b = lm->d2;
  const int64_t n = lm->num_events, nd = s->num_dets;
  int64_t bad = n;
#pragma omp parallel for schedule(static) reduction(min : bad)
  for (int64_t i = 0; i < n; ++i)
    if ((int64_t)a[i] >= nd || (int64_t)b[i] >= nd) bad = i < bad ? i : bad;
  PET_CHECK(bad == n, PET_ERR_ARG,
            "list-mode: event %lld has detectors (%u, %u); scanner %s has %lld detectors",
            (long long)bad, a[bad], b[bad], s->params.name,
            (long long)nd);
  return PET_OK;
}

pet_status pet_listmode_check_sorted(const pet_listmode *lm, int64_t *first_bad)
{
  if (first_bad != NULL) *first_bad = -1;
  PET_TRY(pet_listmode_require(lm));
  const uint32_t *t = lm->time_ms;
  const int64_t n = lm->num_events;
  int64_t bad = n;
#pragma omp parallel for schedule(static) reduction(min : bad)
  for (int64_t i = 1; i < n; ++i)
    if (t[i] < t[i - 1]) bad = i < bad ? i : bad;
  if (bad == n) return PET_OK;
  if (first_bad != NULL) *first_bad = bad;
  return PET_ERROR(PET_ERR_ARG,
                   "list-mode: times are not sorted: event %lld at %u ms follows event %lld at "
                   "%u ms",
                   (long long)bad, t[bad], (long long)(bad - 1), t[bad - 1]);
}

void pet_listmode_subset_range(int64_t num_events, int32_t num_subsets, int32_t subset,
                               int64_t *begin, int64_t *end)
{
  if (num_subsets < 1 || subset < 0 || subset >= num_subsets || num_events <= 0) {
    *begin = 0;
    *end = 0;
    return;
  }
  /* YRT-PET's chronological subsets: equal chunks, the remainder goes to the last one. */
  const int64_t chunk = num_events / num_subsets;
  *begin = subset * chunk;
  *end = subset == num_subsets - 1 ? num_events : (subset + 1) * chunk;
}

pet_status pet_listmode_get_lors(const pet_listmode *lm, const pet_scanner *s, int64_t first,
                                 int64_t count, float *lor, float *orient, float *tof_ps)
{
  PET_TRY(pet_listmode_require(lm));
  PET_CHECK(s != NULL && s->lut != NULL, PET_ERR_ARG, "list-mode LORs: NULL scanner");
  PET_CHECK(count >= 0 && first >= 0 && first <= lm->num_events - count, PET_ERR_ARG,
            "list-mode LORs: events [%lld, %lld) are outside [0, %lld)", (long long)first,
            (long long)(first + count), (long long)lm->num_events);
  PET_CHECK(count == 0 || lor != NULL, PET_ERR_ARG, "list-mode LORs: NULL output");
  PET_CHECK(tof_ps == NULL || lm->has_tof, PET_ERR_ARG,
            "list-mode LORs: TOF requested from a list-mode without TOF");
  const int64_t nd = s->num_dets;
  int64_t bad = first + count;
  for (int64_t i = first; i < first + count; ++i)
    if ((int64_t)lm->d1[i] >= nd || (int64_t)lm->d2[i] >= nd) {
      bad = i;
      break;
    }
  PET_CHECK(bad == first + count, PET_ERR_ARG,
            "list-mode LORs: event %lld has detectors (%u, %u); scanner %s has %lld detectors",
            (long long)bad, lm->d1[bad], lm->d2[bad], s->params.name, (long long)nd);
  const float *lut = s->lut;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < count; ++k) {
    pet_scanner_put_lor(lut, lm->d1[first + k], lm->d2[first + k], k, lor, orient);
    if (tof_ps != NULL) tof_ps[k] = lm->tof_ps[first + k];
  }
  return PET_OK;
}
