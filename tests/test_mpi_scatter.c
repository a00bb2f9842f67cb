/* Scatter estimation over ranks: each rank estimates its share of the bins (pet_plan_rank_bins)
 * with the tail fit's sums through the communicator; the scale and every bin equal the
 * one-process estimate of all bins. Run under mpirun at np = 1, 2, 4. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_comm.h"
#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_plan.h"
#include "pet_scanner.h"
#include "pet_scatter.h"
#include "pet_test_util.h"

static pet_comm *comm;

static void assert_all(int ok)
{
  int64_t bad = ok ? 0 : 1;
  assert_int_equal(pet_comm_allreduce_sum_i64(comm, &bad, 1), PET_OK);
  assert_int_equal(bad, 0);
}

static void test_scatter_n_ranks_equals_one_rank(void **state)
{
  (void)state;
  pet_scanner_params p = pet_scanner_params_small();
  p.dets_per_ring = 192;
  p.dets_per_block = 24;
  p.crystal_size_trans = 4.0f;
  p.num_rings = 4;
  p.max_ring_diff = 3;
  p.axial_fov = 16.0f;
  pet_scanner *s = NULL;
  pet_histo_layout *L = NULL;
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  assert_int_equal(pet_histo_layout_create(&L, s), PET_OK);
  pet_image_params g = pet_image_params_make(32, 32, 4, 160.0f, 160.0f, 16.0f);
  pet_image *mu = NULL, *lam = NULL;
  assert_int_equal(pet_image_create_owned(&mu, g, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&lam, g, PET_HOST), PET_OK);
  for (int32_t k = 0; k < g.nz; ++k)
    for (int32_t j = 0; j < g.ny; ++j)
      for (int32_t i = 0; i < g.nx; ++i) {
        double x = (i - 15.5) * 5.0, y = (j - 15.5) * 5.0;
        int64_t v = ((int64_t)k * g.ny + j) * g.nx + i;
        int in = x * x + y * y < 55.0 * 55.0;
        mu->data[v] = in ? 0.0096f : 0.0f;
        lam->data[v] = in ? 1.0f + (float)(x > 0) : 0.0f;
      }
  const int64_t nb = L->num_bins;
  float *y = malloc((size_t)nb * 4), *r = malloc((size_t)nb * 4), *one = malloc((size_t)nb * 4);
  float *part = malloc((size_t)nb * 4);
  assert_non_null(y);
  assert_non_null(r);
  assert_non_null(one);
  assert_non_null(part);
  for (int64_t i = 0; i < nb; ++i) {
    r[i] = 0.1f * pet_test_uniform((uint64_t)i);
    y[i] = r[i] + 3.0f * pet_test_uniform((uint64_t)i + 777777u);
  }
  pet_sss_opts o = pet_sss_opts_default();
  o.scatter_step_mm = 15.0f;
  pet_sss_info i1, in;
  assert_int_equal(pet_scatter_estimate(s, L, lam, mu, &o, 0, nb, y, r, NULL, NULL, NULL, one, &i1), PET_OK);
  int64_t b0, bc;
  pet_plan_rank_bins(L, pet_comm_rank(comm), pet_comm_size(comm), &b0, &bc);
  pet_reducer red = pet_comm_reducer(comm);
  pet_status st = pet_scatter_estimate(s, L, lam, mu, &o, b0, bc, y + b0, r + b0, NULL, NULL, &red, part, &in);
  assert_all(st == PET_OK);
  double md = 0.0, mx = 0.0;
  for (int64_t i = 0; i < bc; ++i) {
    md = fmax(md, fabs(part[i] - one[b0 + i]));
    mx = fmax(mx, fabs(one[b0 + i]));
  }
  if (pet_comm_rank(comm) == 0)
    printf("  %d rank(s): scale %.6g (1 rank %.6g), tail bins %lld (1 rank %lld), max bin difference %.3g\n",
           pet_comm_size(comm), in.scale, i1.scale, (long long)in.tail_bins, (long long)i1.tail_bins,
           mx > 0 ? md / mx : 0.0);
  assert_all(in.tail_bins == i1.tail_bins);
  assert_all(fabs(in.scale / i1.scale - 1.0) < 1e-5);
  assert_all(md <= 1e-5 * fmax(mx, 1e-30));
  free(y);
  free(r);
  free(one);
  free(part);
  pet_image_destroy(&mu);
  pet_image_destroy(&lam);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
}

int main(int argc, char **argv)
{
  if (pet_comm_init(&argc, &argv, &comm) != PET_OK) return 1;
  pet_error_set_print(false);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scatter_n_ranks_equals_one_rank),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  pet_comm_finalize(&comm);
  return rc;
}
