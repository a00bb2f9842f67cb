#include "pet_histogram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pet_bin_map.h"
#include "pet_storage.h"

static int64_t mod_i64(int64_t a, int64_t n)
{
  int64_t m = a % n;
  return m < 0 ? m + n : m;
}

/* YRT-PET's in-ring pair of (phi, r_ring), smaller index first (the two may be equal). */
static void ring_pair(int64_t n, int64_t r_cut, int64_t phi, int64_t r_ring, int32_t *i1,
                      int32_t *i2)
{
  int64_t a = r_ring - n / 4 + r_cut;
  int64_t d1 = mod_i64(mod_i64(a, n) + phi / 2, n);
  int64_t d2 = mod_i64(mod_i64(n / 2 + (phi % 2) - a, n) + phi / 2, n);
  *i1 = (int32_t)(d1 < d2 ? d1 : d2);
  *i2 = (int32_t)(d1 < d2 ? d2 : d1);
}

static int64_t r_cut_of(int32_t n, int32_t min_ang_diff)
{
  int64_t r_cut = min_ang_diff / 2;
  if (min_ang_diff % 2 != 0 && n % 4 == 0) ++r_cut;
  return r_cut;
}

pet_status pet_histo_layout_create(pet_histo_layout **out, const pet_scanner *s)
{
  pet_status st = PET_OK;
  pet_histo_layout *L = NULL;
  PET_CHECK(out != NULL && s != NULL, PET_ERR_ARG, "pet_histo_layout_create: NULL argument");
  *out = NULL;
  const pet_scanner_params *p = &s->params;
  PET_TRY(pet_scanner_params_check(p));
  PET_CHECK(p->dets_per_ring % 2 == 0, PET_ERR_ARG,
            "scanner %s: dets_per_ring must be even for Histogram3D (got %d)", p->name,
            p->dets_per_ring);

  L = calloc(1, sizeof *L);
  PET_CHECK_GOTO(st, L != NULL, PET_ERR_NOMEM, out, "histogram layout: out of host memory");
  const int64_t n = p->dets_per_ring, nr = p->num_rings, dz_max = p->max_ring_diff;
  const int64_t doi_poss = (int64_t)p->num_doi * p->num_doi;
  const int64_t num_r_ring = n / 2 + 1 - p->min_ang_diff;
  const int64_t half = (dz_max + 1) * nr - dz_max * (dz_max + 1) / 2;
  L->dets_per_ring = p->dets_per_ring;
  L->num_rings = p->num_rings;
  L->num_doi = p->num_doi;
  L->num_r = doi_poss * num_r_ring;
  L->num_phi = n;
  L->num_zbin = 2 * half - nr;
  L->num_bins = L->num_zbin * L->num_phi * L->num_r;

  L->ring_pairs = malloc((size_t)(L->num_phi * L->num_r) * 2 * sizeof(int32_t));
  L->invalid = malloc((size_t)(L->num_phi * L->num_r));
  L->zbin_rings = malloc((size_t)L->num_zbin * 2 * sizeof(int32_t));
  PET_CHECK_GOTO(st, L->ring_pairs != NULL && L->invalid != NULL && L->zbin_rings != NULL,
                 PET_ERR_NOMEM, out, "histogram layout: out of host memory");

  const int64_t r_cut = r_cut_of(p->dets_per_ring, p->min_ang_diff);
  for (int64_t phi = 0; phi < L->num_phi; ++phi) {
    for (int64_t r = 0; r < L->num_r; ++r) {
      int32_t i1 = 0, i2 = 0;
      ring_pair(n, r_cut, phi, r / doi_poss, &i1, &i2);
      int64_t e = phi * L->num_r + r;
      /* minAngDiff = 1 leaves a few (phi, r) on a single crystal: YRT-PET maps them to (0, 0) */
      L->invalid[e] = i1 == i2;
      L->ring_pairs[2 * e] = i1 == i2 ? 0 : i1;
      L->ring_pairs[2 * e + 1] = i1 == i2 ? 0 : i2;
    }
  }

  int64_t zb = 0;
  for (int64_t z = 0; z < nr; ++z, ++zb) {
    L->zbin_rings[2 * zb] = (int32_t)z;
    L->zbin_rings[2 * zb + 1] = (int32_t)z;
  }
  for (int swap = 0; swap < 2; ++swap)
    for (int64_t dz = 1; dz <= dz_max; ++dz)
      for (int64_t z1 = 0; z1 + dz < nr; ++z1, ++zb) {
        L->zbin_rings[2 * zb + swap] = (int32_t)z1;
        L->zbin_rings[2 * zb + 1 - swap] = (int32_t)(z1 + dz);
      }
  PET_ASSERT(zb == L->num_zbin);

  *out = L;
  L = NULL;
out:
  pet_histo_layout_destroy(&L);
  return st;
}

void pet_histo_layout_destroy(pet_histo_layout **L)
{
  if (L == NULL || *L == NULL) return;
  free((*L)->ring_pairs);
  free((*L)->invalid);
  free((*L)->zbin_rings);
  free(*L);
  *L = NULL;
}

/* Unchecked bin -> detector pair; bin must be in [0, num_bins). */
static inline void bin_dets(const pet_histo_layout *L, int64_t bin, int32_t *d1, int32_t *d2,
                            bool *valid)
{
  int64_t a = 0, b = 0;
  *valid = pet_bin_map_dets(L->ring_pairs, L->invalid, L->zbin_rings, L->num_phi, L->num_r,
                            L->dets_per_ring, L->num_rings, L->num_doi, bin, &a, &b) != 0;
  *d1 = (int32_t)a;
  *d2 = (int32_t)b;
}

pet_status pet_histo_bin_to_dets(const pet_histo_layout *L, int64_t bin, int32_t *d1,
                                 int32_t *d2, bool *valid)
{
  PET_CHECK(L != NULL && d1 != NULL && d2 != NULL, PET_ERR_ARG,
            "pet_histo_bin_to_dets: NULL argument");
  PET_CHECK(bin >= 0 && bin < L->num_bins, PET_ERR_ARG,
            "histogram: bin %lld is outside [0, %lld)", (long long)bin, (long long)L->num_bins);
  bool v = false;
  bin_dets(L, bin, d1, d2, &v);
  if (valid != NULL) *valid = v;
  return PET_OK;
}

/* The (phi, r_ring) of the in-ring pair i1 < i2, r_ring = -1 when the table has none (an angle
 * below min_ang_diff). phi is fixed by the sum of the in-ring indices (mod n); the pair then
 * leaves two candidates for r (either detector playing YRT-PET's dr1). Like YRT-PET's map,
 * filled in (phi, r) order, the larger r wins if both are in range. */
static int64_t in_ring_r(int64_t n, int64_t r_cut, int64_t num_r_ring, int64_t i1, int64_t i2, int64_t *phi_out)
{
  const int64_t phi = mod_i64(i1 + i2 - n / 2, n);
  const int64_t cand[2] = {i1, i2};
  int64_t r_ring = -1;
  for (int c = 0; c < 2; ++c) {
    int64_t a = mod_i64(cand[c] - phi / 2, n);
    int64_t r = mod_i64(a + n / 4 - r_cut, n);
    if (r >= num_r_ring || r <= r_ring) continue;
    int32_t p1 = 0, p2 = 0;
    ring_pair(n, r_cut, phi, r, &p1, &p2);
    if (p1 == i1 && p2 == i2) r_ring = r;
  }
  *phi_out = phi;
  return r_ring;
}

bool pet_histo_pair_valid(const pet_scanner_params *p, int32_t d1, int32_t d2)
{
  const int64_t n = p->dets_per_ring, nr = p->num_rings;
  int64_t i1 = d1 % n, i2 = d2 % n;
  const int64_t z1 = (d1 / n) % nr, z2 = (d2 / n) % nr;
  if (i1 == i2 || (z1 > z2 ? z1 - z2 : z2 - z1) > p->max_ring_diff) return false;
  if (i1 > i2) {
    const int64_t t = i1;
    i1 = i2;
    i2 = t;
  }
  int64_t phi = 0;
  return in_ring_r(n, r_cut_of(p->dets_per_ring, p->min_ang_diff), n / 2 + 1 - p->min_ang_diff, i1, i2, &phi) >= 0;
}

pet_status pet_histo_dets_to_bin(const pet_histo_layout *L, int32_t d1, int32_t d2,
                                 int64_t *bin)
{
  PET_CHECK(L != NULL && bin != NULL, PET_ERR_ARG, "pet_histo_dets_to_bin: NULL argument");
  const int64_t n = L->dets_per_ring, nr = L->num_rings;
  const int64_t num_dets = n * nr * L->num_doi;
  PET_CHECK(d1 >= 0 && d1 < num_dets && d2 >= 0 && d2 < num_dets, PET_ERR_ARG,
            "histogram: detector pair (%d, %d) is outside [0, %lld)", d1, d2,
            (long long)num_dets);
  int64_t i1 = d1 % n, i2 = d2 % n;
  int64_t z1 = (d1 / n) % nr, z2 = (d2 / n) % nr;
  int64_t l1 = d1 / (n * nr), l2 = d2 / (n * nr);
  PET_CHECK(i1 != i2, PET_ERR_ARG,
            "histogram: detectors %d and %d share in-ring index %lld; Histogram3D has no bin "
            "for them",
            d1, d2, (long long)i1);
  if (i1 > i2) { /* the histogram stores the smaller in-ring index first */
    int64_t t = i1;
    i1 = i2;
    i2 = t;
    t = z1;
    z1 = z2;
    z2 = t;
    t = l1;
    l1 = l2;
    l2 = t;
  }
  const int64_t dz = z1 > z2 ? z1 - z2 : z2 - z1;
  /* The layout keeps only the table sizes: maxRingDiff and minAngDiff follow from them. */
  const int64_t half = (L->num_zbin + nr) / 2;
  int64_t max_dz = 0;
  for (int64_t count = nr; count < half; count += nr - max_dz) ++max_dz;
  PET_CHECK(dz <= max_dz, PET_ERR_ARG,
            "histogram: detectors %d and %d are %lld rings apart; the scanner histograms at "
            "most %lld",
            d1, d2, (long long)dz, (long long)max_dz);

  const int64_t doi_poss = (int64_t)L->num_doi * L->num_doi;
  const int64_t num_r_ring = L->num_r / doi_poss;
  const int32_t min_ang_diff = (int32_t)(n / 2 + 1 - num_r_ring);
  const int64_t r_cut = r_cut_of((int32_t)n, min_ang_diff);
  int64_t phi = 0;
  const int64_t r_ring = in_ring_r(n, r_cut, num_r_ring, i1, i2, &phi);
  PET_CHECK(r_ring >= 0, PET_ERR_ARG,
            "histogram: detectors %d and %d (in-ring %lld and %lld) are closer than the minimum "
            "angle difference %d",
            d1, d2, (long long)i1, (long long)i2, (int)min_ang_diff);
  const int64_t r = r_ring * doi_poss + l1 * L->num_doi + l2;
  PET_ASSERT(!L->invalid[phi * L->num_r + r]);

  int64_t z_bin = dz * nr + (z1 < z2 ? z1 : z2) - dz * (dz - 1) / 2;
  if (z1 > z2) z_bin += half - nr;
  *bin = (z_bin * L->num_phi + phi) * L->num_r + r;
  return PET_OK;
}

pet_status pet_histogram_create(pet_histogram **out, const pet_scanner *s, pet_ownership own,
                                pet_memspace space)
{
  pet_status st = PET_OK;
  pet_histogram *h = NULL;
  PET_CHECK(out != NULL && s != NULL, PET_ERR_ARG, "pet_histogram_create: NULL argument");
  *out = NULL;
  PET_CHECK(own == PET_OWNED || own == PET_ALIAS, PET_ERR_ARG,
            "pet_histogram_create: bad ownership %d", (int)own);
  PET_CHECK(space == PET_HOST || space == PET_DEVICE, PET_ERR_ARG,
            "pet_histogram_create: bad memory space %d", (int)space);
  h = calloc(1, sizeof *h);
  PET_CHECK_GOTO(st, h != NULL, PET_ERR_NOMEM, out, "histogram: out of host memory");
  h->scanner = s;
  h->ownership = own;
  h->space = space;
  PET_TRY_GOTO(st, pet_histo_layout_create(&h->layout, s), out);
  *out = h;
  h = NULL;
out:
  pet_histogram_destroy(&h);
  return st;
}

/* The histogram's memory as a pet_storage (the public fields stay its one record). */
static pet_storage histo_storage(const pet_histogram *h)
{
  return pet_storage_make(h->data, h->layout != NULL ? pet_histogram_num_values(h) : 0,
                          sizeof(float), h->ownership, h->space);
}

pet_status pet_histo_layout_check_array(const pet_histo_layout *L, size_t bytes_per_bin, const char *what)
{
  PET_CHECK(L != NULL, PET_ERR_ARG, "pet_histo_layout_check_array: NULL layout");
  const char *w = what != NULL ? what : "per-bin array";
  PET_CHECK(L->num_bins <= PET_HISTO_MAX_BINS, PET_ERR_UNSUPPORTED,
            "%s: the scanner (%d detectors a ring x %d rings) has %.3g histogram bins, so it "
            "would take %.3g GB; petrel refuses histograms and per-bin arrays above %lld bins "
            "(a total-body scanner is list-mode only: give list-mode data without per-bin "
            "corrections)",
            w, L->dets_per_ring, L->num_rings, (double)L->num_bins,
            (double)L->num_bins * (double)bytes_per_bin * 1e-9, (long long)PET_HISTO_MAX_BINS);
  return PET_OK;
}

pet_status pet_histogram_allocate(pet_histogram *h)
{
  PET_CHECK(h != NULL, PET_ERR_ARG, "histogram: NULL");
  if (h->layout != NULL) PET_TRY(pet_histo_layout_check_array(h->layout, sizeof(float), "histogram"));
  pet_storage st = histo_storage(h);
  PET_TRY(pet_storage_allocate(&st, "histogram"));
  h->data = st.data;
  return PET_OK;
}

pet_status pet_histogram_bind(pet_histogram *h, float *data)
{
  PET_CHECK(h != NULL, PET_ERR_ARG, "histogram: NULL");
  pet_storage st = histo_storage(h);
  PET_TRY(pet_storage_bind(&st, data, "histogram"));
  h->data = st.data;
  return PET_OK;
}

pet_status pet_histogram_create_owned(pet_histogram **h, const pet_scanner *s)
{
  PET_TRY(pet_histogram_create(h, s, PET_OWNED, PET_HOST));
  pet_status st = pet_histogram_allocate(*h);
  if (st != PET_OK) pet_histogram_destroy(h);
  return st;
}

pet_status pet_histogram_create_alias(pet_histogram **h, const pet_scanner *s, float *data)
{
  PET_TRY(pet_histogram_create(h, s, PET_ALIAS, PET_HOST));
  pet_status st = pet_histogram_bind(*h, data);
  if (st != PET_OK) pet_histogram_destroy(h);
  return st;
}

void pet_histogram_destroy(pet_histogram **h)
{
  if (h == NULL || *h == NULL) return;
  pet_histogram *x = *h;
  pet_storage st = histo_storage(x);
  pet_storage_release(&st);
  pet_histo_layout_destroy(&x->layout);
  free(x);
  *h = NULL;
}

pet_status pet_histogram_require(const pet_histogram *h)
{
  PET_CHECK(h != NULL, PET_ERR_ARG, "histogram: NULL");
  pet_storage st = histo_storage(h);
  return pet_storage_require(&st, "histogram");
}

int64_t pet_histogram_num_bins(const pet_histogram *h) { return h->layout->num_bins; }

int64_t pet_histogram_num_values(const pet_histogram *h)
{
  return h->layout->num_bins * (h->num_tof_bins > 1 ? h->num_tof_bins : 1);
}

pet_status pet_histogram_add_events(pet_histogram *h, const uint32_t *d1, const uint32_t *d2,
                                    const float *tof_ps, int64_t n, int64_t *skipped)
{
  if (skipped != NULL) *skipped = 0;
  PET_TRY(pet_histogram_require(h));
  PET_CHECK(h->space == PET_HOST, PET_ERR_STATE, "histogram: adding events needs host memory");
  PET_CHECK(n >= 0 && (n == 0 || (d1 != NULL && d2 != NULL)), PET_ERR_ARG,
            "histogram: NULL detector arrays for %lld events", (long long)n);
  const int64_t T = h->num_tof_bins;
  PET_CHECK(T == 0 || n == 0 || tof_ps != NULL, PET_ERR_ARG,
            "histogram: a TOF histogram (%d TOF bins) needs the events' TOF values", (int)T);
  const double inv_w = T > 0 ? 1.0 / (double)h->tof_bin_width_ps : 0.0;
  int64_t skip = 0;
  for (int64_t e = 0; e < n; ++e) {
    int64_t bin = -1;
    if (pet_histo_dets_to_bin(h->layout, (int32_t)d1[e], (int32_t)d2[e], &bin) != PET_OK) {
      ++skip;
      continue;
    }
    if (T == 0) {
      h->data[bin] += 1.0f;
      continue;
    }
    int32_t b1 = 0, b2 = 0;
    bool valid = false;
    PET_TRY(pet_histo_bin_to_dets(h->layout, bin, &b1, &b2, &valid));
    double tof = (double)tof_ps[e];
    if ((uint32_t)b1 != d1[e]) tof = -tof;
    double u = tof * inv_w + 0.5 * (double)T;
    if (!(u >= 0.0 && u < (double)T)) {
      ++skip;
      continue;
    }
    h->data[bin * T + (int64_t)u] += 1.0f;
  }
  pet_error_clear(); /* the pairs it does not hold are counted, not errors */
  if (skipped != NULL) *skipped = skip;
  return PET_OK;
}

pet_status pet_histogram_set_tof_bins(pet_histogram *h, int32_t num_tof_bins, float width_ps)
{
  PET_CHECK(h != NULL, PET_ERR_ARG, "histogram: NULL");
  PET_CHECK(h->data == NULL, PET_ERR_STATE,
            "histogram: the TOF bins must be set before allocate()/bind()");
  PET_CHECK(num_tof_bins >= 0 && num_tof_bins <= 64, PET_ERR_ARG,
            "histogram: numTOFBins must be in [0, 64] (0 = no TOF), got %d", (int)num_tof_bins);
  PET_CHECK(num_tof_bins == 0 || (isfinite(width_ps) && width_ps > 0.0f), PET_ERR_ARG,
            "histogram: tofBinWidth_ps must be > 0 with %d TOF bins, got %g", (int)num_tof_bins,
            (double)width_ps);
  h->num_tof_bins = num_tof_bins;
  h->tof_bin_width_ps = num_tof_bins > 0 ? width_ps : 0.0f;
  return PET_OK;
}

pet_status pet_histogram_fill(pet_histogram *h, float value)
{
  PET_CHECK(h != NULL, PET_ERR_ARG, "histogram: NULL");
  pet_storage st = histo_storage(h);
  return pet_storage_fill_f32(&st, value, "histogram");
}

pet_status pet_histogram_validate(const pet_histogram *h, int64_t *n_bad, int64_t *first_bad)
{
  if (n_bad != NULL) *n_bad = 0;
  if (first_bad != NULL) *first_bad = -1;
  PET_TRY(pet_histogram_require(h));
  PET_CHECK(h->space == PET_HOST, PET_ERR_STATE,
            "pet_histogram_validate: the histogram is in device memory; copy it to the host");
  const float *d = h->data;
  const int64_t n = pet_histogram_num_values(h);
  const int64_t nt = h->num_tof_bins > 1 ? h->num_tof_bins : 1;
  int64_t bad = 0, first = n;
#pragma omp parallel for schedule(static) reduction(+ : bad) reduction(min : first)
  for (int64_t i = 0; i < n; ++i)
    if (!(isfinite(d[i]) && d[i] >= 0.0f)) { /* NaN fails both tests */
      ++bad;
      first = i < first ? i : first;
    }
  if (n_bad != NULL) *n_bad = bad;
  if (bad == 0) return PET_OK;
  if (first_bad != NULL) *first_bad = first;
  const int64_t pr = h->layout->num_phi * h->layout->num_r, fb = first / nt;
  if (h->num_tof_bins > 0)
    return PET_ERROR(PET_ERR_ARG,
                     "histogram: %lld of %lld values are NaN, infinite or negative; the first is "
                     "bin %lld (z_bin %lld, phi %lld, r %lld), TOF bin %lld = %g",
                     (long long)bad, (long long)n, (long long)fb, (long long)(fb / pr),
                     (long long)((fb % pr) / h->layout->num_r), (long long)(fb % h->layout->num_r),
                     (long long)(first % nt), (double)d[first]);
  return PET_ERROR(PET_ERR_ARG,
                   "histogram: %lld of %lld bins are NaN, infinite or negative; the first is "
                   "bin %lld (z_bin %lld, phi %lld, r %lld) = %g",
                   (long long)bad, (long long)n, (long long)first, (long long)(first / pr),
                   (long long)((first % pr) / h->layout->num_r),
                   (long long)(first % h->layout->num_r), (double)d[first]);
}

static pet_status check_lor_args(const pet_histo_layout *L, const pet_scanner *s, int64_t count,
                                 const float *lor)
{
  PET_CHECK(L != NULL && s != NULL && s->lut != NULL, PET_ERR_ARG,
            "histogram LORs: NULL layout or scanner");
  PET_CHECK(count >= 0, PET_ERR_ARG, "histogram LORs: count must be >= 0 (got %lld)",
            (long long)count);
  PET_CHECK(count == 0 || lor != NULL, PET_ERR_ARG, "histogram LORs: NULL output");
  PET_CHECK(L->dets_per_ring == s->params.dets_per_ring && L->num_rings == s->params.num_rings &&
                L->num_doi == s->params.num_doi,
            PET_ERR_ARG, "histogram LORs: the layout does not belong to scanner %s",
            s->params.name);
  return PET_OK;
}

static inline void put_lor(const pet_histo_layout *L, const float *lut, int64_t bin, int64_t k,
                           float *lor, float *orient)
{
  int32_t d1 = 0, d2 = 0;
  bool valid = false;
  bin_dets(L, bin, &d1, &d2, &valid);
  pet_scanner_put_lor(lut, d1, d2, k, lor, orient);
}

pet_status pet_histo_get_lors(const pet_histo_layout *L, const pet_scanner *s,
                              const int64_t *bins, int64_t first, int64_t count, float *lor,
                              float *orient)
{
  PET_TRY(check_lor_args(L, s, count, lor));
  const float *lut = s->lut;
  if (bins == NULL) {
    PET_CHECK(first >= 0 && first <= L->num_bins - count, PET_ERR_ARG,
              "histogram LORs: bins [%lld, %lld) are outside [0, %lld)", (long long)first,
              (long long)(first + count), (long long)L->num_bins);
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < count; ++k) put_lor(L, lut, first + k, k, lor, orient);
    return PET_OK;
  }
  int64_t bad = -1;
  for (int64_t k = 0; k < count && bad < 0; ++k)
    if (bins[k] < 0 || bins[k] >= L->num_bins) bad = k;
  PET_CHECK(bad < 0, PET_ERR_ARG, "histogram LORs: bins[%lld] = %lld is outside [0, %lld)",
            (long long)bad, (long long)(bad >= 0 ? bins[bad] : 0), (long long)L->num_bins);
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < count; ++k) put_lor(L, lut, bins[k], k, lor, orient);
  return PET_OK;
}

pet_status pet_histo_get_subset_lors(const pet_histo_layout *L, const pet_scanner *s,
                                     int32_t num_subsets, int32_t subset, int64_t k0,
                                     int64_t count, float *lor, float *orient)
{
  PET_TRY(check_lor_args(L, s, count, lor));
  PET_CHECK(num_subsets >= 1 && num_subsets <= L->num_phi, PET_ERR_ARG,
            "histogram subsets: num_subsets must be in [1, num_phi = %lld] (got %d)",
            (long long)L->num_phi, num_subsets);
  PET_CHECK(subset >= 0 && subset < num_subsets, PET_ERR_ARG,
            "histogram subsets: subset %d is outside [0, %d)", subset, num_subsets);
  const int64_t size = pet_histo_subset_size(L->num_phi, L->num_r, L->num_zbin, num_subsets,
                                             subset);
  PET_CHECK(k0 >= 0 && k0 <= size - count, PET_ERR_ARG,
            "histogram subsets: bins [%lld, %lld) of subset %d/%d are outside [0, %lld)",
            (long long)k0, (long long)(k0 + count), subset, num_subsets, (long long)size);
  const float *lut = s->lut;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < count; ++k) {
    int64_t bin = pet_histo_subset_bin(L->num_phi, L->num_r, L->num_zbin, num_subsets, subset,
                                       k0 + k);
    put_lor(L, lut, bin, k, lor, orient);
  }
  return PET_OK;
}
