/* Single scatter simulation on the GPU: the detector-pair sums of pet_sss_simulate with
 * opts.gpu equal the host's (the same worker, pet_sss_kernel.h), non-TOF and TOF. Exits 77
 * (skipped) without a CUDA device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "pet_gpu.h"
#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_scanner.h"
#include "pet_scatter.h"
#include "pet_test_util.h"

static void run_case(int32_t T)
{
  pet_scanner_params p = pet_scanner_params_small();
  pet_scanner *s = NULL;
  pet_histo_layout *L = NULL;
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  assert_int_equal(pet_histo_layout_create(&L, s), PET_OK);
  pet_image_params g = pet_image_params_make(48, 48, 8, 192.0f, 192.0f, 25.0f);
  pet_image *mu = NULL, *lam = NULL;
  assert_int_equal(pet_image_create_owned(&mu, g, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&lam, g, PET_HOST), PET_OK);
  for (int32_t k = 0; k < g.nz; ++k)
    for (int32_t j = 0; j < g.ny; ++j)
      for (int32_t i = 0; i < g.nx; ++i) {
        double x = (i - 23.5) * 4.0 - 7.0, y = (j - 23.5) * 4.0 + 3.0;
        int64_t v = ((int64_t)k * g.ny + j) * g.nx + i;
        int in = x * x / 3600.0 + y * y / 2500.0 < 1.0;
        mu->data[v] = in ? 0.0096f : 0.0f;
        lam->data[v] = in ? 0.5f + pet_test_uniform((uint64_t)v) : 0.0f;
      }
  const int64_t n = 50000, b0 = L->num_bins / 2, T1 = T > 0 ? T : 1;
  float *a = malloc((size_t)(n * T1) * 4), *b = malloc((size_t)(n * T1) * 4);
  assert_non_null(a);
  assert_non_null(b);
  pet_sss_opts o = pet_sss_opts_default();
  o.scatter_step_mm = 12.0f;
  o.num_tof_bins = T;
  o.tof_bin_width_ps = 150.0f;
  o.tof_fwhm_ps = 350.0f;
  assert_int_equal(pet_sss_simulate(s, L, lam, mu, &o, b0, n, a, NULL), PET_OK);
  o.gpu = true;
  pet_sss_info info;
  assert_int_equal(pet_sss_simulate(s, L, lam, mu, &o, b0, n, b, &info), PET_OK);
  double mx = 0.0, md = 0.0;
  for (int64_t i = 0; i < n * T1; ++i) mx = fmax(mx, fabs(a[i]));
  for (int64_t i = 0; i < n * T1; ++i) md = fmax(md, fabs(a[i] - b[i]));
  printf("T=%d: %lld scatter points x %lld detectors: max |cpu - gpu| / max = %.3g (%.3f s on the GPU)\n", T,
         (long long)info.scatter_points, (long long)info.det_samples, md / mx, info.seconds);
  assert_true(mx > 0.0);
  assert_true(md <= 1e-4 * mx);
  free(a);
  free(b);
  pet_image_destroy(&mu);
  pet_image_destroy(&lam);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
}

static void test_sss_gpu_equals_cpu(void **state)
{
  (void)state;
  run_case(0);
}

static void test_sss_tof_gpu_equals_cpu(void **state)
{
  (void)state;
  run_case(17);
}

int main(void)
{
  if (pet_gpu_device_count() == 0) {
    printf("no CUDA device: skipped\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sss_gpu_equals_cpu),
      cmocka_unit_test(test_sss_tof_gpu_equals_cpu),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
