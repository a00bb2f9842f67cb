/* Stopping OSEM: between subsets at the next position, and during the sensitivity pass (which
 * polls should_stop between its subsets) at the start position, with the image untouched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_histogram.h"
#include "pet_osem.h"
#include "pet_phantom.h"
#include "pet_scanner.h"
#include "pet_simulate.h"
#include "pet_test_util.h"

typedef struct stopper {
  int polls, stop_at; /* should_stop returns true at poll number stop_at (1-based) */
  int it, s, calls;   /* what on_interrupt was told */
} stopper;

static bool stop_cb(void *ctx)
{
  stopper *k = ctx;
  return ++k->polls == k->stop_at;
}

static pet_status interrupt_cb(void *ctx, int it, int s, const pet_image *x)
{
  (void)x;
  stopper *k = ctx;
  k->it = it;
  k->s = s;
  k->calls++;
  return PET_OK;
}

static void run(int stop_at, stopper *k, pet_status *st, pet_image **x)
{
  pet_scanner_params sp = pet_scanner_params_small();
  sp.dets_per_ring = 64;
  sp.num_rings = 2;
  sp.axial_fov = 8.0f;
  sp.crystal_size_z = 4.0f;
  sp.scanner_radius = 50.0f;
  sp.dets_per_block = 8;
  sp.max_ring_diff = 1;
  sp.min_ang_diff = 1;
  pet_scanner *sc = NULL;
  pet_histo_layout *L = NULL;
  assert_int_equal(pet_scanner_create(&sc, &sp), PET_OK);
  assert_int_equal(pet_histo_layout_create(&L, sc), PET_OK);
  pet_image_params ip = pet_image_params_make(16, 16, 2, 80.f, 80.f, 8.f);
  pet_image *truth = NULL;
  assert_int_equal(pet_image_create_owned(&truth, ip, PET_HOST), PET_OK);
  pet_phantom ph = pet_phantom_default(&ip);
  pet_phantom_activity(&ph, truth, 1);
  pet_sim_opts so = pet_sim_opts_default();
  so.total_trues = 1e4;
  pet_sim_result r;
  assert_int_equal(pet_simulate_histogram(sc, L, truth, NULL, &so, &r), PET_OK);
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create_alias(&h, sc, r.counts), PET_OK);
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = sc;
  d.layout = L;
  d.histogram = h;
  d.lm_count = -1;
  pet_osem_opts o = pet_osem_opts_default();
  o.iterations = 2;
  o.subsets = 4;
  memset(k, 0, sizeof *k);
  k->stop_at = stop_at;
  k->it = k->s = -1;
  o.should_stop = stop_cb;
  o.on_interrupt = interrupt_cb;
  o.cb_ctx = k;
  assert_int_equal(pet_image_create_owned(x, ip, PET_HOST), PET_OK);
  pet_image_fill(*x, 1.0f);
  const bool was = pet_error_set_print(false);
  *st = pet_osem_run(&d, &o, NULL, *x);
  pet_error_set_print(was);
  pet_histogram_destroy(&h);
  pet_sim_result_free(&r);
  pet_image_destroy(&truth);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&sc);
}

static void test_stop_during_the_sensitivity_pass(void **state)
{
  (void)state;
  stopper k;
  pet_status st;
  pet_image *x = NULL;
  run(2, &k, &st, &x); /* polls 1..3 are between the 4 sensitivity subsets */
  assert_int_equal(st, PET_ERR_INTERRUPTED);
  assert_int_equal(k.calls, 1);
  assert_int_equal(k.it, 0);
  assert_int_equal(k.s, 0);
  for (int64_t v = 0; v < pet_image_num_voxels(x); ++v) assert_true(x->data[v] == 1.0f);
  pet_image_destroy(&x);
}

static void test_stop_between_subsets(void **state)
{
  (void)state;
  stopper k;
  pet_status st;
  pet_image *x = NULL;
  run(3 + 6, &k, &st, &x); /* 3 sensitivity polls, then before subsets 1..6: stops before the 6th */
  assert_int_equal(st, PET_ERR_INTERRUPTED);
  assert_int_equal(k.calls, 1);
  assert_int_equal(k.it, 1);
  assert_int_equal(k.s, 1);
  pet_image_destroy(&x);
}

static void test_no_stop_runs_to_the_end(void **state)
{
  (void)state;
  stopper k;
  pet_status st;
  pet_image *x = NULL;
  run(0, &k, &st, &x);
  assert_int_equal(st, PET_OK);
  assert_int_equal(k.calls, 0);
  assert_int_equal(k.polls, 3 + 8);
  pet_image_destroy(&x);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stop_during_the_sensitivity_pass),
      cmocka_unit_test(test_stop_between_subsets),
      cmocka_unit_test(test_no_stop_runs_to_the_end),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
