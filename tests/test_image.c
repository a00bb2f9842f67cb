/* Owned/Alias images: memory ownership, aliasing both ways, use before allocate/bind. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pet_image.h"
#include "pet_test_util.h"

static pet_image_params small_params(void) { return pet_image_params_make(4, 3, 2, 8.f, 6.f, 4.f); }

static void test_image_owned_allocates_zeroed(void **state)
{
  (void)state;
  pet_image *img = NULL;
  assert_int_equal(pet_image_create_owned(&img, small_params(), PET_HOST), PET_OK);
  assert_non_null(img->data);
  for (int64_t i = 0; i < pet_image_num_voxels(img); ++i) assert_true(img->data[i] == 0.0f);
  assert_int_equal(pet_image_fill(img, 2.5f), PET_OK);
  assert_true(img->data[23] == 2.5f);
  pet_image_destroy(&img);
  assert_null(img);
  pet_image_destroy(&img); /* NULL-safe */
}

static void test_image_use_before_allocate_is_an_error(void **state)
{
  (void)state;
  pet_image *img = NULL;
  assert_int_equal(pet_image_create(&img, small_params(), PET_OWNED, PET_HOST), PET_OK);
  assert_int_equal(pet_image_fill(img, 1.0f), PET_ERR_STATE);
  assert_int_equal(pet_image_require(img, PET_HOST), PET_ERR_STATE);
  assert_non_null(strstr(pet_last_error(), "allocate()"));
  assert_int_equal(pet_image_bind(img, (float[1]){0}), PET_ERR_STATE);
  pet_image_destroy(&img);

  assert_int_equal(pet_image_create(&img, small_params(), PET_ALIAS, PET_HOST), PET_OK);
  assert_int_equal(pet_image_fill(img, 1.0f), PET_ERR_STATE);
  assert_non_null(strstr(pet_last_error(), "bind()"));
  assert_int_equal(pet_image_allocate(img), PET_ERR_STATE);
  assert_int_equal(pet_image_bind(img, NULL), PET_ERR_ARG);
  pet_image_destroy(&img);
}

static void test_image_alias_sees_caller_writes_and_does_not_free(void **state)
{
  (void)state;
  float *buf = malloc(24 * sizeof(float));
  for (int i = 0; i < 24; ++i) buf[i] = (float)i;
  pet_image *img = NULL;
  assert_int_equal(pet_image_create_alias(&img, small_params(), buf, PET_HOST), PET_OK);
  assert_ptr_equal(img->data, buf);
  buf[5] = 42.0f;
  assert_true(img->data[5] == 42.0f);
  img->data[(1 * 3 + 2) * 4 + 3] = -1.0f; /* z=1, y=2, x=3: the last voxel */
  assert_true(buf[23] == -1.0f);
  pet_image_destroy(&img);
  /* still ours: ASan would flag a double free or a use after free here */
  buf[0] = 7.0f;
  assert_true(buf[0] == 7.0f);
  free(buf);
}

static void test_image_params_are_validated(void **state)
{
  (void)state;
  pet_image *img = NULL;
  pet_image_params p = small_params();
  p.nx = 0;
  assert_int_equal(pet_image_create(&img, p, PET_OWNED, PET_HOST), PET_ERR_ARG);
  assert_null(img);
  p = small_params();
  p.length_y = -1.0f;
  assert_int_equal(pet_image_create(&img, p, PET_OWNED, PET_HOST), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "length"));
}

static void test_image_copy_checks_geometry(void **state)
{
  (void)state;
  pet_image *a = NULL, *b = NULL;
  assert_int_equal(pet_image_create_owned(&a, small_params(), PET_HOST), PET_OK);
  pet_image_params q = small_params();
  q.nz = 3;
  assert_int_equal(pet_image_create_owned(&b, q, PET_HOST), PET_OK);
  assert_int_equal(pet_image_copy(b, a), PET_ERR_ARG);
  pet_image_destroy(&b);
  assert_int_equal(pet_image_create_owned(&b, small_params(), PET_HOST), PET_OK);
  pet_image_fill(a, 3.0f);
  assert_int_equal(pet_image_copy(b, a), PET_OK);
  assert_true(b->data[11] == 3.0f);
  pet_image_destroy(&a);
  pet_image_destroy(&b);
}

static void test_image_device_without_gpu_is_a_clear_error(void **state)
{
  (void)state;
  pet_image *img = NULL;
  pet_status st = pet_image_create_owned(&img, small_params(), PET_DEVICE);
  if (st == PET_OK) { /* a GPU is present: the device path is tested by test_gpu_* */
    pet_image_destroy(&img);
    skip();
  }
  assert_true(st == PET_ERR_UNSUPPORTED || st == PET_ERR_CUDA);
  assert_null(img);
}

/* NaN, infinite and negative voxels are errors naming the file and the voxel (i, j, k). */
static void test_image_check_values_names_the_first_bad_voxel(void **state)
{
  (void)state;
  pet_image *img = NULL;
  assert_int_equal(pet_image_create_owned(&img, small_params(), PET_HOST), PET_OK);
  assert_int_equal(pet_image_check_values(img, "x.nii", false), PET_OK);
  img->data[(1 * 3 + 2) * 4 + 3] = -0.5f; /* (3, 2, 1) */
  assert_int_equal(pet_image_check_values(img, "x.nii", true), PET_OK);
  assert_int_equal(pet_image_check_values(img, "x.nii", false), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "x.nii: voxel (3, 2, 1) holds -0.5"));
  img->data[1] = NAN;
  assert_int_equal(pet_image_check_values(img, "x.nii", true), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "voxel (1, 0, 0) holds nan"));
  img->data[1] = -INFINITY;
  assert_int_equal(pet_image_check_values(img, "y.nii", true), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "y.nii: voxel (1, 0, 0) holds -inf"));
  pet_image_destroy(&img);
  pet_error_clear();
}

/* mu-maps: 1/mm values pass; 1/cm (10x), 1/m or HU, and negative values do not. */
static void test_image_check_mu_wants_1_per_mm(void **state)
{
  (void)state;
  pet_image *mu = NULL;
  assert_int_equal(pet_image_create_owned(&mu, pet_image_params_make(10, 10, 2, 10.f, 10.f, 2.f), PET_HOST),
                   PET_OK);
  const int64_t n = pet_image_num_voxels(mu);
  for (int64_t v = 0; v < n; ++v) mu->data[v] = v % 4 == 0 ? 0.0096f : 0.0f; /* a quarter water */
  mu->data[7] = 0.017f; /* bone */
  assert_int_equal(pet_image_check_mu(mu, "mu.nii"), PET_OK);
  for (int64_t v = 0; v < n; ++v) mu->data[v] *= 10.0f; /* 1/cm: max and mean pass, median does not */
  assert_int_equal(pet_image_check_mu(mu, "mu.nii"), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "mu.nii: implausible attenuation coefficients for 1/mm"));
  assert_non_null(strstr(pet_last_error(), "water is 0.0096 /mm"));
  for (int64_t v = 0; v < n; ++v) mu->data[v] = 0.0f;
  mu->data[3] = 1.5f; /* one voxel above 1 /mm */
  assert_int_equal(pet_image_check_mu(mu, "mu.nii"), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "largest 1.5 at voxel (3, 0, 0)"));
  for (int64_t v = 0; v < n; ++v) mu->data[v] = 0.06f; /* mean above 0.05 /mm */
  assert_int_equal(pet_image_check_mu(mu, "mu.nii"), PET_ERR_ARG);
  for (int64_t v = 0; v < n; ++v) mu->data[v] = 0.0f;
  assert_int_equal(pet_image_check_mu(mu, "mu.nii"), PET_OK); /* no attenuation at all */
  mu->data[9] = -0.001f;
  assert_int_equal(pet_image_check_mu(mu, "mu.nii"), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "voxel (9, 0, 0) holds -0.001"));
  pet_image_destroy(&mu);
  pet_error_clear();
}

int main(void)
{
  pet_error_set_print(false);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_image_owned_allocates_zeroed),
      cmocka_unit_test(test_image_use_before_allocate_is_an_error),
      cmocka_unit_test(test_image_alias_sees_caller_writes_and_does_not_free),
      cmocka_unit_test(test_image_params_are_validated),
      cmocka_unit_test(test_image_copy_checks_geometry),
      cmocka_unit_test(test_image_device_without_gpu_is_a_clear_error),
      cmocka_unit_test(test_image_check_values_names_the_first_bad_voxel),
      cmocka_unit_test(test_image_check_mu_wants_1_per_mm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
