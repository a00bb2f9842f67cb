/* The symmetric sensitivity pass over ranks (each back-projects its share of the (transaxial
 * pair, ring difference) items, the fine image is summed): N ranks == 1 rank, symmetric and
 * brute force; a stop during the pass stops every rank at the same poll. Run under mpirun at
 * np = 1, 2, 4. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_comm.h"
#include "pet_histogram.h"
#include "pet_osem.h"
#include "pet_scanner.h"
#include "pet_test_util.h"

static pet_comm *comm;

static void assert_all(int ok)
{
  int64_t bad = ok ? 0 : 1;
  assert_int_equal(pet_comm_allreduce_sum_i64(comm, &bad, 1), PET_OK);
  assert_int_equal(bad, 0);
}

typedef struct fixture {
  pet_scanner *sc;
  pet_histo_layout *L;
  pet_image_params ip;
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  pet_scanner_params sp = pet_scanner_params_total_body();
  sp.dets_per_ring = 48;
  sp.dets_per_block = 4;
  sp.num_rings = 12;
  sp.axial_fov = 12 * (1940.0f / 672.0f);
  sp.scanner_radius = 60.0f;
  sp.crystal_size_trans = 7.0f;
  sp.max_ring_diff = 11;
  sp.min_ang_diff = 8;
  sp.fov_radius = 0.0f;
  if (pet_scanner_create(&f->sc, &sp) != PET_OK) return -1;
  if (pet_histo_layout_create(&f->L, f->sc) != PET_OK) return -1;
  f->ip = pet_image_params_make(16, 16, 12, 96.f, 96.f, 12 * 2.85f);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  pet_histo_layout_destroy(&f->L);
  pet_scanner_destroy(&f->sc);
  free(f);
  return 0;
}

static pet_status sens(const fixture *f, const pet_osem_opts *o, pet_image *s)
{
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->sc;
  d.layout = f->L;
  d.lm_count = -1;
  return pet_osem_sensitivity(&d, o, &s, 1);
}

static void test_n_ranks_equals_one_rank(void **state)
{
  fixture *f = *state;
  for (int brute = 0; brute < 2; ++brute) {
    pet_osem_opts o = pet_osem_opts_default();
    o.subsets = 1;
    o.sens_brute = brute != 0;
    o.batch_lors = 333; /* many chunks, uneven */
    pet_image *one = NULL, *all = NULL;
    pet_image_create_owned(&one, f->ip, PET_HOST);
    pet_image_create_owned(&all, f->ip, PET_HOST);
    pet_status st = sens(f, &o, one); /* this rank alone */
    pet_reducer r = pet_comm_reducer(comm);
    o.reducer = &r;
    pet_status st2 = sens(f, &o, all);
    assert_all(st == PET_OK && st2 == PET_OK);
    double num = 0, den = 0;
    for (int64_t v = 0; v < pet_image_num_voxels(one); ++v) {
      num += ((double)one->data[v] - all->data[v]) * ((double)one->data[v] - all->data[v]);
      den += (double)one->data[v] * one->data[v];
    }
    const double rel = den > 0 ? sqrt(num / den) : 1.0;
    if (pet_comm_rank(comm) == 0)
      printf("  %s, %d ranks vs 1: rel rms %.2e\n", brute ? "brute force" : "symmetric", pet_comm_size(comm), rel);
    assert_all(den > 0 && rel < 1e-5);
    pet_image_destroy(&one);
    pet_image_destroy(&all);
  }
}

/* Collective: every rank polls as often (chunks of the largest share), so a stop at poll 2 is
 * seen by all ranks at once and each returns PET_ERR_INTERRUPTED (none waits in a reduction). */
static int g_polls;
static bool stop_at_2(void *ctx)
{
  (void)ctx;
  return ++g_polls == 2;
}

static void test_stop_is_collective(void **state)
{
  fixture *f = *state;
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 1;
  o.batch_lors = 64;
  o.should_stop = stop_at_2;
  pet_reducer r = pet_comm_reducer(comm);
  o.reducer = &r;
  pet_image *s = NULL;
  pet_image_create_owned(&s, f->ip, PET_HOST);
  g_polls = 0;
  const pet_status st = sens(f, &o, s);
  assert_all(st == PET_ERR_INTERRUPTED && g_polls == 2);
  pet_image_destroy(&s);
}

int main(int argc, char **argv)
{
  if (pet_comm_init(&argc, &argv, &comm) != PET_OK) return 1;
  pet_error_set_print(false);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_n_ranks_equals_one_rank),
      cmocka_unit_test(test_stop_is_collective),
  };
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  pet_comm_finalize(&comm);
  return rc;
}
