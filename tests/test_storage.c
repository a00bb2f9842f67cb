/* pet_storage, the buffer under every Owned/Alias container: allocate (zeroed), bind,
 * release, require (the allocate()/bind() messages), fill and copy, on the host; device
 * storage without a GPU is a clear error. */
#include <stdlib.h>
#include <string.h>

#include "pet_storage.h"
#include "pet_test_util.h"

static void test_storage_owned_allocates_zeroed_and_fills(void **state)
{
  (void)state;
  pet_storage s = pet_storage_make(NULL, 10, sizeof(float), PET_OWNED, PET_HOST);
  assert_int_equal(pet_storage_require(&s, "thing"), PET_ERR_STATE);
  assert_non_null(strstr(pet_last_error(), "thing used before allocate()"));
  assert_int_equal(pet_storage_allocate(&s, "thing"), PET_OK);
  assert_non_null(s.data);
  assert_int_equal(pet_storage_bytes(&s), 10 * sizeof(float));
  const float *f = s.data;
  for (int i = 0; i < 10; ++i) assert_true(f[i] == 0.0f);
  void *first = s.data;
  assert_int_equal(pet_storage_allocate(&s, "thing"), PET_OK); /* allocated: a no-op */
  assert_ptr_equal(s.data, first);
  assert_int_equal(pet_storage_fill_f32(&s, 1.5f, "thing"), PET_OK);
  for (int i = 0; i < 10; ++i) assert_true(f[i] == 1.5f);
  assert_int_equal(pet_storage_require_space(&s, PET_HOST, "thing"), PET_OK);
  assert_int_equal(pet_storage_require_space(&s, PET_DEVICE, "thing"), PET_ERR_STATE);
  assert_non_null(strstr(pet_last_error(), "thing is in host memory, device memory expected"));
  assert_int_equal(pet_storage_bind(&s, first, "thing"), PET_ERR_STATE);
  assert_non_null(strstr(pet_last_error(), "thing: bind() called on an Owned thing"));
  pet_storage_release(&s);
  assert_null(s.data);
  pet_storage_release(&s); /* released: a no-op */
  pet_storage_release(NULL);
}

static void test_storage_zero_elements_still_allocates(void **state)
{
  (void)state;
  pet_storage s = pet_storage_make(NULL, 0, sizeof(uint32_t), PET_OWNED, PET_HOST);
  assert_int_equal(pet_storage_allocate(&s, "list-mode"), PET_OK);
  assert_non_null(s.data); /* "allocated" differs from "not yet" */
  assert_int_equal(pet_storage_require(&s, "list-mode"), PET_OK);
  pet_storage_release(&s);
}

static void test_storage_alias_binds_and_does_not_free(void **state)
{
  (void)state;
  float *buf = malloc(4 * sizeof(float));
  float other[4] = {0};
  pet_storage s = pet_storage_make(NULL, 4, sizeof(float), PET_ALIAS, PET_HOST);
  assert_int_equal(pet_storage_require(&s, "thing"), PET_ERR_STATE);
  assert_non_null(strstr(pet_last_error(), "thing used before bind()"));
  assert_int_equal(pet_storage_allocate(&s, "thing"), PET_ERR_STATE);
  assert_non_null(strstr(pet_last_error(), "thing: allocate() called on an Alias thing"));
  assert_int_equal(pet_storage_bind(&s, NULL, "thing"), PET_ERR_ARG);
  assert_int_equal(pet_storage_bind(&s, buf, "thing"), PET_OK);
  assert_ptr_equal(s.data, buf);
  assert_int_equal(pet_storage_bind(&s, other, "thing"), PET_OK); /* rebinding */
  assert_ptr_equal(s.data, other);
  assert_int_equal(pet_storage_bind(&s, buf, "thing"), PET_OK);
  assert_int_equal(pet_storage_fill_f32(&s, 3.0f, "thing"), PET_OK);
  assert_true(buf[3] == 3.0f);
  pet_storage_release(&s); /* forgets, never frees: ASan would flag a double free below */
  assert_null(s.data);
  buf[0] = 1.0f;
  free(buf);
}

static void test_storage_copy_checks_sizes(void **state)
{
  (void)state;
  float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {0}, c[5] = {0};
  pet_storage sa = pet_storage_make(a, 6, sizeof(float), PET_ALIAS, PET_HOST);
  pet_storage sb = pet_storage_make(b, 6, sizeof(float), PET_ALIAS, PET_HOST);
  pet_storage sc = pet_storage_make(c, 5, sizeof(float), PET_ALIAS, PET_HOST);
  assert_int_equal(pet_storage_copy(&sb, &sa, "thing"), PET_OK);
  assert_memory_equal(a, b, sizeof a);
  assert_int_equal(pet_storage_copy(&sc, &sa, "thing"), PET_ERR_ARG);
  pet_storage none = pet_storage_make(NULL, 6, sizeof(float), PET_OWNED, PET_HOST);
  assert_int_equal(pet_storage_copy(&none, &sa, "thing"), PET_ERR_STATE);
  pet_storage bytes = pet_storage_make(c, 5, 1, PET_ALIAS, PET_HOST);
  assert_int_equal(pet_storage_fill_f32(&bytes, 1.0f, "thing"), PET_ERR_ARG);
}

static void test_storage_device_without_gpu_is_a_clear_error(void **state)
{
  (void)state;
  pet_storage s = pet_storage_make(NULL, 8, sizeof(float), PET_OWNED, PET_DEVICE);
  const pet_status st = pet_storage_allocate(&s, "thing");
  if (st == PET_OK) { /* a GPU is there: zeroed device memory */
    pet_storage_release(&s);
    skip();
  }
  assert_true(st == PET_ERR_CUDA || st == PET_ERR_UNSUPPORTED);
  assert_null(s.data);
}

int main(void)
{
  pet_error_set_print(false);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_storage_owned_allocates_zeroed_and_fills),
      cmocka_unit_test(test_storage_zero_elements_still_allocates),
      cmocka_unit_test(test_storage_alias_binds_and_does_not_free),
      cmocka_unit_test(test_storage_copy_checks_sizes),
      cmocka_unit_test(test_storage_device_without_gpu_is_a_clear_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
