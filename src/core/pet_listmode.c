#include "pet_listmode.h"

#include <stdlib.h>
#include <string.h>

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

pet_status pet_listmode_allocate(pet_listmode *lm)
{
  PET_CHECK(lm != NULL, PET_ERR_ARG, "list-mode: NULL");
  PET_CHECK(lm->ownership == PET_OWNED, PET_ERR_STATE,
            "list-mode: allocate() called on an Alias list-mode; use bind()");
  if (lm->time_ms != NULL) return PET_OK;
  /* calloc(0) may return NULL; one element keeps "allocated" distinguishable from "not yet" */
  size_t n = lm->num_events > 0 ? (size_t)lm->num_events : 1;
  uint32_t *t = calloc(n, sizeof *t), *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
  float *tof = lm->has_tof ? calloc(n, sizeof *tof) : NULL;
  if (t == NULL || a == NULL || b == NULL || (lm->has_tof && tof == NULL)) {
    free(t);
    free(a);
    free(b);
    free(tof);
    return PET_ERROR(PET_ERR_NOMEM, "list-mode: cannot allocate %lld events",
                     (long long)lm->num_events);
  }
  lm->time_ms = t;
  lm->d1 = a;
  lm->d2 = b;
  lm->tof_ps = tof;
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
  lm->time_ms = time_ms;
  lm->d1 = d1;
  lm->d2 = d2;
  lm->tof_ps = tof_ps;
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
  if (x->ownership == PET_OWNED) {
    free(x->time_ms);
    free(x->d1);
    free(x->d2);
    free(x->tof_ps);
  }
  free(x);
  *lm = NULL;
}

pet_status pet_listmode_require(const pet_listmode *lm)
{
  PET_CHECK(lm != NULL, PET_ERR_ARG, "list-mode: NULL");
  PET_CHECK(lm->time_ms != NULL && lm->d1 != NULL && lm->d2 != NULL &&
                (!lm->has_tof || lm->tof_ps != NULL),
            PET_ERR_STATE, "list-mode used before %s",
            lm->ownership == PET_OWNED ? "allocate()" : "bind()");
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
