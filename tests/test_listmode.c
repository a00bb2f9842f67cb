/* List-mode events: Owned/Alias, detector-id checks, chronological subsets, LORs and TOF. */
#include <stdlib.h>
#include <string.h>

#include "pet_listmode.h"
#include "pet_test_util.h"

static pet_scanner *small_scanner(void)
{
  pet_scanner *s = NULL;
  pet_scanner_params p = pet_scanner_params_small();
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  return s;
}

static void test_listmode_owned_allocates_and_frees(void **state)
{
  (void)state;
  pet_listmode *lm = NULL;
  assert_int_equal(pet_listmode_create(&lm, 100, true, PET_OWNED), PET_OK);
  assert_int_equal(pet_listmode_require(lm), PET_ERR_STATE);
  assert_non_null(strstr(pet_last_error(), "allocate()"));
  uint32_t t[1], a[1], b[1];
  assert_int_equal(pet_listmode_bind(lm, t, a, b, NULL), PET_ERR_STATE);
  assert_int_equal(pet_listmode_allocate(lm), PET_OK);
  assert_int_equal(pet_listmode_require(lm), PET_OK);
  assert_non_null(lm->tof_ps);
  for (int i = 0; i < 100; ++i) assert_true(lm->d1[i] == 0 && lm->tof_ps[i] == 0.0f);
  pet_listmode_destroy(&lm);
  assert_null(lm);
  pet_listmode_destroy(&lm);
  assert_int_equal(pet_listmode_create_owned(&lm, 10, false), PET_OK);
  assert_null(lm->tof_ps);
  assert_false(lm->has_tof);
  pet_listmode_destroy(&lm);
  assert_int_equal(pet_listmode_create_owned(&lm, 0, false), PET_OK); /* empty is valid */
  assert_int_equal(pet_listmode_require(lm), PET_OK);
  pet_listmode_destroy(&lm);
  assert_int_equal(pet_listmode_create(&lm, -1, false, PET_OWNED), PET_ERR_ARG);
  assert_null(lm);
}

static void test_listmode_alias_borrows(void **state)
{
  (void)state;
  enum { N = 16 };
  uint32_t *t = malloc(N * 4), *a = malloc(N * 4), *b = malloc(N * 4);
  float *tof = malloc(N * 4);
  pet_listmode *lm = NULL;
  assert_int_equal(pet_listmode_create(&lm, N, true, PET_ALIAS), PET_OK);
  assert_int_equal(pet_listmode_require(lm), PET_ERR_STATE);
  assert_non_null(strstr(pet_last_error(), "bind()"));
  assert_int_equal(pet_listmode_allocate(lm), PET_ERR_STATE);
  assert_int_equal(pet_listmode_bind(lm, t, a, b, NULL), PET_ERR_ARG); /* TOF required */
  assert_int_equal(pet_listmode_bind(lm, t, NULL, b, tof), PET_ERR_ARG);
  assert_int_equal(pet_listmode_bind(lm, t, a, b, tof), PET_OK);
  a[3] = 77;
  assert_int_equal(lm->d1[3], 77);
  lm->tof_ps[2] = 12.5f;
  assert_true(tof[2] == 12.5f);
  pet_listmode_destroy(&lm);
  a[0] = 1; /* still ours */
  assert_int_equal(pet_listmode_create(&lm, N, false, PET_ALIAS), PET_OK);
  assert_int_equal(pet_listmode_bind(lm, t, a, b, tof), PET_ERR_ARG); /* no TOF expected */
  pet_listmode_destroy(&lm);
  free(t);
  free(a);
  free(b);
  free(tof);
}

static void test_listmode_check_finds_bad_ids(void **state)
{
  (void)state;
  pet_scanner *s = small_scanner();
  pet_listmode *lm = NULL;
  assert_int_equal(pet_listmode_create_owned(&lm, 1000, false), PET_OK);
  for (uint32_t i = 0; i < 1000; ++i) {
    lm->d1[i] = (i * 37u) % 2048u;
    lm->d2[i] = 2047u - (i % 2048u);
  }
  assert_int_equal(pet_listmode_check(lm, s), PET_OK);
  lm->d2[917] = 2048;
  lm->d1[950] = 0xFFFFFFFFu;
  assert_int_equal(pet_listmode_check(lm, s), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "event 917"));
  assert_non_null(strstr(pet_last_error(), "2048"));
  float lor[6];
  assert_int_equal(pet_listmode_get_lors(lm, s, 917, 1, lor, NULL, NULL), PET_ERR_ARG);
  assert_int_equal(pet_listmode_get_lors(lm, s, 0, 917, NULL, NULL, NULL), PET_ERR_ARG);
  pet_listmode_destroy(&lm);
  pet_scanner_destroy(&s);
}

static void test_listmode_subsets_are_chronological_chunks(void **state)
{
  (void)state;
  const int64_t sizes[] = {0, 1, 7, 100, 1001};
  const int32_t subsets[] = {1, 2, 3, 10};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i)
    for (size_t j = 0; j < sizeof subsets / sizeof subsets[0]; ++j) {
      const int64_t n = sizes[i];
      const int32_t S = subsets[j];
      int64_t next = 0;
      for (int32_t s = 0; s < S; ++s) {
        int64_t b = -1, e = -1;
        pet_listmode_subset_range(n, S, s, &b, &e);
        assert_int_equal(b, next); /* contiguous, in order, no gap or overlap */
        assert_true(e >= b);
        if (s < S - 1) assert_int_equal(e - b, n / S);
        next = e;
      }
      assert_int_equal(next, n);
    }
  int64_t b = 0, e = 0;
  pet_listmode_subset_range(1003, 10, 9, &b, &e); /* the last takes the remainder */
  assert_int_equal(b, 900);
  assert_int_equal(e, 1003);
  pet_listmode_subset_range(100, 4, 4, &b, &e); /* bad subset: empty */
  assert_int_equal(e - b, 0);
}

static void test_listmode_lors_are_lut_positions(void **state)
{
  (void)state;
  pet_scanner *s = small_scanner();
  enum { N = 500 };
  pet_listmode *lm = NULL;
  assert_int_equal(pet_listmode_create_owned(&lm, N, true), PET_OK);
  for (int64_t i = 0; i < N; ++i) {
    lm->time_ms[i] = (uint32_t)i;
    lm->d1[i] = (uint32_t)(pet_test_uniform(2 * (uint64_t)i) * 2048.0f);
    lm->d2[i] = (uint32_t)(pet_test_uniform(2 * (uint64_t)i + 1) * 2048.0f);
    lm->tof_ps[i] = (float)i * 3.0f - 700.0f;
  }
  float lor[6 * 100], orient[6 * 100], tof[100];
  assert_int_equal(pet_listmode_get_lors(lm, s, 400, 100, lor, orient, tof), PET_OK);
  for (int64_t k = 0; k < 100; ++k) {
    const int64_t i = 400 + k;
    assert_memory_equal(lor + 6 * k, s->lut + 6 * (int64_t)lm->d1[i], 3 * sizeof(float));
    assert_memory_equal(lor + 6 * k + 3, s->lut + 6 * (int64_t)lm->d2[i], 3 * sizeof(float));
    assert_memory_equal(orient + 6 * k, s->lut + 6 * (int64_t)lm->d1[i] + 3, 3 * sizeof(float));
    assert_memory_equal(orient + 6 * k + 3, s->lut + 6 * (int64_t)lm->d2[i] + 3,
                        3 * sizeof(float));
    assert_true(tof[k] == lm->tof_ps[i]);
  }
  assert_int_equal(pet_listmode_get_lors(lm, s, 401, 100, lor, NULL, NULL), PET_ERR_ARG);
  pet_listmode_destroy(&lm);
  assert_int_equal(pet_listmode_create_owned(&lm, 10, false), PET_OK);
  assert_int_equal(pet_listmode_get_lors(lm, s, 0, 10, lor, NULL, tof), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "TOF"));
  pet_listmode_destroy(&lm);
  pet_scanner_destroy(&s);
}

int main(void)
{
  pet_error_set_print(false);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_listmode_owned_allocates_and_frees),
      cmocka_unit_test(test_listmode_alias_borrows),
      cmocka_unit_test(test_listmode_check_finds_bad_ids),
      cmocka_unit_test(test_listmode_subsets_are_chronological_chunks),
      cmocka_unit_test(test_listmode_lors_are_lut_positions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
