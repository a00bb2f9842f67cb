/* Histogram3D: sizes, YRT-PET's tables (byte for byte against the fixtures), the bin <->
 * detector-pair bijection, DOI encoding, subsets, LORs, Owned/Alias. */
#include <stdlib.h>
#include <string.h>

#include "pet_gpu.h"
#include "pet_histogram.h"
#include "pet_test_util.h"

static pet_scanner *make_scanner(pet_scanner_params p)
{
  pet_scanner *s = NULL;
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  return s;
}

static pet_histo_layout *make_layout(const pet_scanner *s)
{
  pet_histo_layout *L = NULL;
  assert_int_equal(pet_histo_layout_create(&L, s), PET_OK);
  return L;
}

/* Sizes straight from the spec's formulas. */
static void expect_sizes(const pet_scanner_params *p, int64_t zbin, int64_t phi, int64_t r)
{
  pet_scanner *s = make_scanner(*p);
  pet_histo_layout *L = make_layout(s);
  int64_t D = p->num_doi, m = p->max_ring_diff, R = p->num_rings;
  assert_int_equal(L->num_r, D * D * (p->dets_per_ring / 2 + 1 - p->min_ang_diff));
  assert_int_equal(L->num_phi, p->dets_per_ring);
  assert_int_equal(L->num_zbin, 2 * ((m + 1) * R - m * (m + 1) / 2) - R);
  assert_int_equal(L->num_zbin, zbin);
  assert_int_equal(L->num_phi, phi);
  assert_int_equal(L->num_r, r);
  assert_int_equal(L->num_bins, zbin * phi * r);
  pet_histo_layout_destroy(&L);
  assert_null(L);
  pet_scanner_destroy(&s);
}

/* A total-body scanner: the layout's tables are small (rings^2 + dets_per_ring^2), but its
 * 1.04e11 bins are refused, quickly and by name, wherever a per-bin array would be made. */
static void test_histogram_total_body_refused_clearly(void **state)
{
  (void)state;
  pet_scanner_params p = pet_scanner_params_total_body();
  expect_sizes(&p, 672 * 672, 840, 274);
  pet_scanner *s = make_scanner(p);
  pet_histo_layout *L = make_layout(s);
  assert_true(L->num_bins == (int64_t)672 * 672 * 840 * 274);
  assert_int_equal(pet_histo_layout_check_array(L, sizeof(float), "the test's array"), PET_ERR_UNSUPPORTED);
  assert_non_null(strstr(pet_last_error(), "the test's array"));
  assert_non_null(strstr(pet_last_error(), "1.04e+11"));
  int64_t bin = -1;
  assert_int_equal(pet_histo_dets_to_bin(L, 0, 840 * 671 + 420, &bin), PET_OK); /* still addressable */
  assert_true(bin >= 0 && bin < L->num_bins);
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create_owned(&h, s), PET_ERR_UNSUPPORTED);
  assert_null(h);
  assert_non_null(strstr(pet_last_error(), "histogram"));
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);

  s = make_scanner(pet_scanner_params_clinical());
  L = make_layout(s);
  assert_int_equal(pet_histo_layout_check_array(L, sizeof(float), "clinical"), PET_OK);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
}

static void test_histogram_sizes_follow_the_formula(void **state)
{
  (void)state;
  pet_scanner_params p = pet_scanner_params_clinical();
  expect_sizes(&p, 420, 624, 154);
  pet_scanner *s = make_scanner(p);
  pet_histo_layout *L = make_layout(s);
  assert_int_equal(L->num_bins, 40360320);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
  p = pet_scanner_params_small();
  expect_sizes(&p, 64, 256, 128);
  p.num_doi = 2;
  expect_sizes(&p, 64, 256, 4 * 128);
  p = pet_scanner_params_small();
  p.max_ring_diff = 2; /* 8 + 2*(7 + 6) */
  p.min_ang_diff = 10;
  expect_sizes(&p, 34, 256, 119);
  p = pet_scanner_params_small();
  p.dets_per_ring = 250; /* not a multiple of 4 */
  p.dets_per_block = 25;
  p.min_ang_diff = 5;
  p.max_ring_diff = 0;
  expect_sizes(&p, 8, 250, 121);
  p.dets_per_ring = 255; /* odd: no Histogram3D */
  p.dets_per_block = 15;
  pet_scanner *odd = make_scanner(p);
  pet_histo_layout *none = NULL;
  assert_int_equal(pet_histo_layout_create(&none, odd), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "even"));
  assert_null(none);
  pet_scanner_destroy(&odd);
}

static void expect_tables_equal_fixture(pet_scanner_params p, const char *fixture)
{
  char path[512];
  size_t bytes = 0;
  pet_scanner *s = make_scanner(p);
  pet_histo_layout *L = make_layout(s);
  void *ref = pet_test_read_file(pet_test_fixture(path, sizeof path, fixture, "ring_pairs.i32"),
                                 &bytes);
  assert_non_null(ref);
  assert_int_equal(bytes, (size_t)(L->num_phi * L->num_r) * 2 * sizeof(int32_t));
  assert_memory_equal(L->ring_pairs, ref, bytes);
  free(ref);
  ref = pet_test_read_file(pet_test_fixture(path, sizeof path, fixture, "invalid_phi_r.u8"),
                           &bytes);
  assert_non_null(ref);
  assert_int_equal(bytes, (size_t)(L->num_phi * L->num_r));
  assert_memory_equal(L->invalid, ref, bytes);
  free(ref);
  ref = pet_test_read_file(pet_test_fixture(path, sizeof path, fixture, "zbin_rings.i32"),
                           &bytes);
  assert_non_null(ref);
  assert_int_equal(bytes, (size_t)L->num_zbin * 2 * sizeof(int32_t));
  assert_memory_equal(L->zbin_rings, ref, bytes);
  free(ref);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
}

static void test_histogram_tables_equal_yrtpet_fixtures(void **state)
{
  (void)state;
  expect_tables_equal_fixture(pet_scanner_params_small(), "small");
  expect_tables_equal_fixture(pet_scanner_params_clinical(), "clinical");
}

/* Every valid bin gives an allowed pair (in-ring indices differ, ring difference within
 * max_ring_diff), no two bins share a pair, and dets_to_bin gives the bin back. */
static void check_bijection(pet_scanner_params p, int64_t stride, bool check_distinct)
{
  pet_scanner *s = make_scanner(p);
  pet_histo_layout *L = make_layout(s);
  const int64_t nd = s->num_dets, n = p.dets_per_ring;
  uint8_t *seen = check_distinct ? calloc((size_t)(nd * nd / 8 + 1), 1) : NULL;
  int64_t n_valid = 0, n_invalid = 0;
  for (int64_t bin = 0; bin < L->num_bins; bin += stride) {
    int32_t d1 = -1, d2 = -1;
    bool valid = false;
    assert_int_equal(pet_histo_bin_to_dets(L, bin, &d1, &d2, &valid), PET_OK);
    if (!valid) {
      assert_true(d1 == d2);
      ++n_invalid;
      continue;
    }
    ++n_valid;
    assert_true(d1 >= 0 && d1 < nd && d2 >= 0 && d2 < nd);
    int64_t i1 = d1 % n, i2 = d2 % n;
    int64_t z1 = (d1 / n) % p.num_rings, z2 = (d2 / n) % p.num_rings;
    assert_true(i1 < i2); /* smaller in-ring index first */
    int64_t dz = z1 > z2 ? z1 - z2 : z2 - z1;
    assert_true(dz <= p.max_ring_diff);
    int64_t sep = i2 - i1 < n - (i2 - i1) ? i2 - i1 : n - (i2 - i1);
    assert_true(sep >= p.min_ang_diff - 1);
    if (seen != NULL) {
      int64_t key = (int64_t)d1 * nd + d2;
      assert_false(seen[key / 8] & (1u << (key % 8)));
      seen[key / 8] |= (uint8_t)(1u << (key % 8));
    }
    int64_t back = -1;
    assert_int_equal(pet_histo_dets_to_bin(L, d1, d2, &back), PET_OK);
    assert_int_equal(back, bin);
    assert_int_equal(pet_histo_dets_to_bin(L, d2, d1, &back), PET_OK);
    assert_int_equal(back, bin);
  }
  if (stride == 1) {
    int64_t n_invalid_cells = 0;
    for (int64_t e = 0; e < L->num_phi * L->num_r; ++e) n_invalid_cells += L->invalid[e];
    assert_int_equal(n_invalid, n_invalid_cells * L->num_zbin);
  }
  assert_true(n_valid > 0);
  free(seen);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
}

static void test_histogram_small_bins_are_a_bijection(void **state)
{
  (void)state;
  check_bijection(pet_scanner_params_small(), 1, true);
}

static void test_histogram_clinical_bins_are_a_bijection(void **state)
{
  (void)state;
  check_bijection(pet_scanner_params_clinical(), 1, false);
}

static void test_histogram_every_allowed_pair_has_a_bin(void **state)
{
  (void)state;
  /* small (minAngDiff 1): every pair of distinct in-ring indices in every allowed ring pair;
   * clinical: every pair at least minAngDiff apart, none closer than minAngDiff - 1 */
  pet_scanner_params ps[2] = {pet_scanner_params_small(), pet_scanner_params_clinical()};
  for (int k = 0; k < 2; ++k) {
    const pet_scanner_params p = ps[k];
    pet_scanner *s = make_scanner(p);
    pet_histo_layout *L = make_layout(s);
    const int32_t n = p.dets_per_ring;
    int64_t count = 0;
    for (int32_t i1 = 0; i1 < n; ++i1)
      for (int32_t i2 = i1 + 1; i2 < n; ++i2) {
        int32_t sep = i2 - i1 < n - (i2 - i1) ? i2 - i1 : n - (i2 - i1);
        int64_t bin = -1;
        pet_status st = pet_histo_dets_to_bin(L, i1 + 2 * n, i2 + 3 * n, &bin);
        if (sep >= p.min_ang_diff) assert_int_equal(st, PET_OK);
        if (sep < p.min_ang_diff - 1) assert_int_equal(st, PET_ERR_ARG);
        count += st == PET_OK;
      }
    int64_t valid_cells = 0;
    for (int64_t e = 0; e < L->num_phi * L->num_r; ++e) valid_cells += !L->invalid[e];
    assert_int_equal(count, valid_cells);
    pet_histo_layout_destroy(&L);
    pet_scanner_destroy(&s);
  }
}

static void test_histogram_dets_to_bin_errors(void **state)
{
  (void)state;
  pet_scanner *s = make_scanner(pet_scanner_params_clinical());
  pet_histo_layout *L = make_layout(s);
  int64_t bin = 0;
  assert_int_equal(pet_histo_dets_to_bin(L, -1, 5, &bin), PET_ERR_ARG);
  assert_int_equal(pet_histo_dets_to_bin(L, 0, 14976, &bin), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "14976"));
  assert_int_equal(pet_histo_dets_to_bin(L, 3, 3 + 624, &bin), PET_ERR_ARG); /* same index */
  assert_non_null(strstr(pet_last_error(), "in-ring index"));
  assert_int_equal(pet_histo_dets_to_bin(L, 0, 1, &bin), PET_ERR_ARG); /* neighbours */
  assert_non_null(strstr(pet_last_error(), "angle"));
  assert_int_equal(pet_histo_dets_to_bin(L, 0, 312 + 12 * 624, &bin), PET_ERR_ARG); /* dz 12 */
  assert_non_null(strstr(pet_last_error(), "12 rings apart"));
  assert_int_equal(pet_histo_dets_to_bin(L, 0, 312 + 11 * 624, &bin), PET_OK); /* dz 11 */
  int32_t d1 = 0, d2 = 0;
  assert_int_equal(pet_histo_bin_to_dets(L, L->num_bins, &d1, &d2, NULL), PET_ERR_ARG);
  assert_int_equal(pet_histo_bin_to_dets(L, -1, &d1, &d2, NULL), PET_ERR_ARG);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
}

static void test_histogram_zbins_and_rings(void **state)
{
  (void)state;
  pet_scanner *s = make_scanner(pet_scanner_params_clinical());
  pet_histo_layout *L = make_layout(s);
  const int64_t n = 624, R = 24;
  /* direct planes, then z1 < z2 blocks, then the swapped half */
  for (int64_t z = 0; z < R; ++z) {
    assert_int_equal(L->zbin_rings[2 * z], z);
    assert_int_equal(L->zbin_rings[2 * z + 1], z);
  }
  const int64_t half = (L->num_zbin - R) / 2;
  for (int64_t zb = R; zb < R + half; ++zb) {
    assert_true(L->zbin_rings[2 * zb] < L->zbin_rings[2 * zb + 1]);
    assert_int_equal(L->zbin_rings[2 * (zb + half)], L->zbin_rings[2 * zb + 1]);
    assert_int_equal(L->zbin_rings[2 * (zb + half) + 1], L->zbin_rings[2 * zb]);
  }
  /* a pair in rings (5, 9) lands in a z-bin listing (5, 9); swapped rings in the other half */
  int64_t b1 = 0, b2 = 0;
  assert_int_equal(pet_histo_dets_to_bin(L, 10 + 5 * n, 320 + 9 * n, &b1), PET_OK);
  assert_int_equal(pet_histo_dets_to_bin(L, 10 + 9 * n, 320 + 5 * n, &b2), PET_OK);
  int64_t z1 = b1 / (L->num_phi * L->num_r), z2 = b2 / (L->num_phi * L->num_r);
  assert_int_equal(L->zbin_rings[2 * z1], 5);
  assert_int_equal(L->zbin_rings[2 * z1 + 1], 9);
  assert_int_equal(z2, z1 + half);
  assert_int_equal(b2 % (L->num_phi * L->num_r), b1 % (L->num_phi * L->num_r));
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
}

static void test_histogram_doi_layers_in_r(void **state)
{
  (void)state;
  pet_scanner_params p = pet_scanner_params_small();
  p.num_doi = 2;
  p.max_ring_diff = 2;
  check_bijection(p, 1, true);
  pet_scanner *s = make_scanner(p);
  pet_histo_layout *L = make_layout(s);
  const int32_t layer = 256 * 8;
  /* r = 4 r_ring + k: k = 0 {0,0}, 1 {0,1}, 2 {1,0}, 3 {1,1} (layers of d1, d2) */
  const int64_t bin0 = (3 * L->num_phi + 17) * L->num_r + 4 * 40;
  int32_t a1 = 0, a2 = 0;
  bool valid = false;
  assert_int_equal(pet_histo_bin_to_dets(L, bin0, &a1, &a2, &valid), PET_OK);
  assert_true(valid && a1 < layer && a2 < layer);
  for (int k = 0; k < 4; ++k) {
    int32_t d1 = 0, d2 = 0;
    assert_int_equal(pet_histo_bin_to_dets(L, bin0 + k, &d1, &d2, &valid), PET_OK);
    assert_true(valid);
    assert_int_equal(d1, a1 + (k / 2) * layer);
    assert_int_equal(d2, a2 + (k % 2) * layer);
  }
  /* the outer layer's LOR lies one crystal depth further out */
  float lor[12];
  const int64_t bins[2] = {bin0, bin0 + 3};
  assert_int_equal(pet_histo_get_lors(L, s, bins, 0, 2, lor, NULL), PET_OK);
  float r_in = lor[0] * lor[0] + lor[1] * lor[1], r_out = lor[6] * lor[6] + lor[7] * lor[7];
  assert_true(r_out > r_in);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
}

static void test_histogram_subsets_cover_every_bin_once(void **state)
{
  (void)state;
  pet_scanner *s = make_scanner(pet_scanner_params_small());
  pet_histo_layout *L = make_layout(s);
  uint8_t *hits = malloc((size_t)L->num_bins);
  const int32_t subsets[] = {1, 3, 7, 16, 256};
  for (size_t c = 0; c < sizeof subsets / sizeof subsets[0]; ++c) {
    const int32_t S = subsets[c];
    memset(hits, 0, (size_t)L->num_bins);
    int64_t total = 0;
    for (int32_t sub = 0; sub < S; ++sub) {
      int64_t size = pet_histo_subset_size(L->num_phi, L->num_r, L->num_zbin, S, sub);
      total += size;
      for (int64_t k = 0; k < size; ++k) {
        int64_t bin = pet_histo_subset_bin(L->num_phi, L->num_r, L->num_zbin, S, sub, k);
        assert_true(bin >= 0 && bin < L->num_bins);
        assert_int_equal((bin / L->num_r) % L->num_phi % S, sub); /* phi = sub + j S */
        ++hits[bin];
      }
    }
    assert_int_equal(total, L->num_bins);
    for (int64_t b = 0; b < L->num_bins; ++b) assert_int_equal(hits[b], 1);
  }
  free(hits);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
}

static void test_histogram_lors_are_lut_positions(void **state)
{
  (void)state;
  pet_scanner *s = make_scanner(pet_scanner_params_clinical());
  pet_histo_layout *L = make_layout(s);
  enum { N = 4096 };
  int64_t *bins = malloc(N * sizeof *bins);
  float *lor = malloc(N * 6 * sizeof *lor), *orient = malloc(N * 6 * sizeof *orient);
  float *lor2 = malloc(N * 6 * sizeof *lor2);
  for (int64_t k = 0; k < N; ++k)
    bins[k] = (int64_t)(pet_test_uniform((uint64_t)k) * (double)L->num_bins) % L->num_bins;
  assert_int_equal(pet_histo_get_lors(L, s, bins, 0, N, lor, orient), PET_OK);
  for (int64_t k = 0; k < N; ++k) {
    int32_t d1 = 0, d2 = 0;
    bool valid = false;
    assert_int_equal(pet_histo_bin_to_dets(L, bins[k], &d1, &d2, &valid), PET_OK);
    assert_true(valid); /* clinical has no invalid cells */
    assert_memory_equal(lor + 6 * k, s->lut + 6 * d1, 3 * sizeof(float));
    assert_memory_equal(lor + 6 * k + 3, s->lut + 6 * d2, 3 * sizeof(float));
    assert_memory_equal(orient + 6 * k, s->lut + 6 * d1 + 3, 3 * sizeof(float));
    assert_memory_equal(orient + 6 * k + 3, s->lut + 6 * d2 + 3, 3 * sizeof(float));
  }
  /* a contiguous range equals the same bins listed explicitly */
  for (int64_t k = 0; k < N; ++k) bins[k] = 123456 + k;
  assert_int_equal(pet_histo_get_lors(L, s, NULL, 123456, N, lor, NULL), PET_OK);
  assert_int_equal(pet_histo_get_lors(L, s, bins, 0, N, lor2, NULL), PET_OK);
  assert_memory_equal(lor, lor2, N * 6 * sizeof(float));
  /* subset LORs equal the LORs of the subset's bins */
  const int32_t S = 12, sub = 5;
  const int64_t k0 = 777;
  for (int64_t k = 0; k < N; ++k)
    bins[k] = pet_histo_subset_bin(L->num_phi, L->num_r, L->num_zbin, S, sub, k0 + k);
  assert_int_equal(pet_histo_get_subset_lors(L, s, S, sub, k0, N, lor, orient), PET_OK);
  assert_int_equal(pet_histo_get_lors(L, s, bins, 0, N, lor2, NULL), PET_OK);
  assert_memory_equal(lor, lor2, N * 6 * sizeof(float));
  /* range errors */
  int64_t size = pet_histo_subset_size(L->num_phi, L->num_r, L->num_zbin, S, sub);
  assert_int_equal(pet_histo_get_subset_lors(L, s, S, sub, size - 10, 11, lor, NULL), PET_ERR_ARG);
  assert_int_equal(pet_histo_get_subset_lors(L, s, S, S, 0, 1, lor, NULL), PET_ERR_ARG);
  assert_int_equal(pet_histo_get_subset_lors(L, s, 0, 0, 0, 1, lor, NULL), PET_ERR_ARG);
  assert_int_equal(pet_histo_get_lors(L, s, NULL, L->num_bins - 5, 6, lor, NULL), PET_ERR_ARG);
  bins[7] = L->num_bins;
  assert_int_equal(pet_histo_get_lors(L, s, bins, 0, 8, lor, NULL), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "bins[7]"));
  /* a layout from another scanner is refused */
  pet_scanner *small = make_scanner(pet_scanner_params_small());
  assert_int_equal(pet_histo_get_lors(L, small, NULL, 0, 1, lor, NULL), PET_ERR_ARG);
  pet_scanner_destroy(&small);
  free(bins);
  free(lor);
  free(lor2);
  free(orient);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
}

static void test_histogram_invalid_bins_are_zero_length(void **state)
{
  (void)state;
  pet_scanner *s = make_scanner(pet_scanner_params_small());
  pet_histo_layout *L = make_layout(s);
  int64_t e = 0;
  while (!L->invalid[e]) ++e;
  const int64_t bin = (20 * L->num_phi) * L->num_r + e; /* a z-bin with z1 != z2 */
  int32_t d1 = -1, d2 = -1;
  bool valid = true;
  assert_int_equal(pet_histo_bin_to_dets(L, bin, &d1, &d2, &valid), PET_OK);
  assert_false(valid);
  assert_int_equal(d1, d2);
  float lor[6];
  assert_int_equal(pet_histo_get_lors(L, s, NULL, bin, 1, lor, NULL), PET_OK);
  assert_true(lor[0] == lor[3] && lor[1] == lor[4] && lor[2] == lor[5]);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
}

static void test_histogram_owned_and_alias(void **state)
{
  (void)state;
  pet_scanner *s = make_scanner(pet_scanner_params_small());
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create(&h, s, PET_OWNED, PET_HOST), PET_OK);
  assert_ptr_equal(h->scanner, s);
  assert_int_equal(pet_histogram_num_bins(h), 64 * 256 * 128);
  assert_int_equal(pet_histogram_fill(h, 1.0f), PET_ERR_STATE);
  assert_non_null(strstr(pet_last_error(), "allocate()"));
  assert_int_equal(pet_histogram_require(h), PET_ERR_STATE);
  float one = 0.0f;
  assert_int_equal(pet_histogram_bind(h, &one), PET_ERR_STATE);
  assert_int_equal(pet_histogram_allocate(h), PET_OK);
  for (int64_t i = 0; i < pet_histogram_num_bins(h); ++i) assert_true(h->data[i] == 0.0f);
  assert_int_equal(pet_histogram_fill(h, 2.5f), PET_OK);
  assert_true(h->data[0] == 2.5f && h->data[pet_histogram_num_bins(h) - 1] == 2.5f);
  pet_histogram_destroy(&h);
  assert_null(h);
  pet_histogram_destroy(&h);

  const int64_t n = 64 * 256 * 128;
  float *buf = malloc((size_t)n * sizeof(float));
  assert_int_equal(pet_histogram_create(&h, s, PET_ALIAS, PET_HOST), PET_OK);
  assert_int_equal(pet_histogram_fill(h, 1.0f), PET_ERR_STATE);
  assert_non_null(strstr(pet_last_error(), "bind()"));
  assert_int_equal(pet_histogram_allocate(h), PET_ERR_STATE);
  assert_int_equal(pet_histogram_bind(h, NULL), PET_ERR_ARG);
  pet_histogram_destroy(&h);
  assert_int_equal(pet_histogram_create_alias(&h, s, buf), PET_OK);
  assert_ptr_equal(h->data, buf);
  assert_int_equal(pet_histogram_fill(h, -3.0f), PET_OK);
  assert_true(buf[n - 1] == -3.0f);
  buf[42] = 9.0f;
  assert_true(h->data[42] == 9.0f);
  pet_histogram_destroy(&h);
  buf[0] = 1.0f; /* still ours: ASan would flag a double free or use after free */
  free(buf);

  assert_int_equal(pet_histogram_create_owned(&h, s), PET_OK);
  assert_non_null(h->data);
  pet_histogram_destroy(&h);

  pet_status st = pet_histogram_create(&h, s, PET_OWNED, PET_DEVICE);
  assert_int_equal(st, PET_OK);
  st = pet_histogram_allocate(h);
  if (pet_gpu_compiled() && pet_gpu_device_count() > 0) {
    assert_int_equal(st, PET_OK);
    assert_int_equal(pet_histogram_fill(h, 1.0f), PET_OK);
  } else {
    assert_true(st == PET_ERR_UNSUPPORTED || st == PET_ERR_CUDA);
    assert_null(h->data);
  }
  pet_histogram_destroy(&h);
  pet_scanner_destroy(&s);
}

int main(void)
{
  pet_error_set_print(false);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_histogram_sizes_follow_the_formula),
      cmocka_unit_test(test_histogram_total_body_refused_clearly),
      cmocka_unit_test(test_histogram_tables_equal_yrtpet_fixtures),
      cmocka_unit_test(test_histogram_small_bins_are_a_bijection),
      cmocka_unit_test(test_histogram_clinical_bins_are_a_bijection),
      cmocka_unit_test(test_histogram_every_allowed_pair_has_a_bin),
      cmocka_unit_test(test_histogram_dets_to_bin_errors),
      cmocka_unit_test(test_histogram_zbins_and_rings),
      cmocka_unit_test(test_histogram_doi_layers_in_r),
      cmocka_unit_test(test_histogram_subsets_cover_every_bin_once),
      cmocka_unit_test(test_histogram_lors_are_lut_positions),
      cmocka_unit_test(test_histogram_invalid_bins_are_zero_length),
      cmocka_unit_test(test_histogram_owned_and_alias),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
