/* GPU list-mode OSEM with spatially coherent batches (PET_GPU_LM_SORT=1: each batch sorted on the
 * device by pet_lm_sort_key) equals the file-order run (PET_GPU_LM_SORT=0) up to float summation
 * order, as does the sort-only mode 2: Siddon and DD, TOF and non-TOF, with per-bin factors and
 * per-event additive terms (each event's inputs must travel with it), one batch and many.
 * Exits 77 (skipped) without a CUDA device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pet_gpu.h"
#include "pet_osem.h"
#include "pet_phantom.h"
#include "pet_simulate.h"
#include "pet_test_util.h"

typedef struct fixture {
  pet_scanner *scanner;
  pet_histo_layout *L;
  pet_image_params ip;
  pet_image *truth, *mu;
  pet_sim_result r;
  pet_listmode *lm;
  float *lm_add;
} fixture;

static uint64_t g_seed;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  if (f == NULL) return -1;
  pet_scanner_params sp = pet_scanner_params_small();
  snprintf(sp.name, sizeof sp.name, "TEST96");
  sp.dets_per_ring = 96;
  sp.num_rings = 8;
  sp.axial_fov = 24.0f;
  sp.crystal_size_z = 3.0f;
  sp.crystal_size_trans = 3.0f;
  sp.scanner_radius = 60.0f;
  sp.dets_per_block = 8;
  sp.max_ring_diff = 7;
  sp.min_ang_diff = 1;
  if (pet_scanner_create(&f->scanner, &sp) != PET_OK) return -1;
  if (pet_histo_layout_create(&f->L, f->scanner) != PET_OK) return -1;
  f->ip = pet_image_params_make(32, 32, 8, 96.f, 96.f, 24.f);
  pet_phantom ph = pet_phantom_default(&f->ip);
  if (pet_image_create_owned(&f->truth, f->ip, PET_HOST) != PET_OK) return -1;
  if (pet_image_create_owned(&f->mu, f->ip, PET_HOST) != PET_OK) return -1;
  pet_phantom_activity(&ph, f->truth, 2);
  pet_phantom_mu(&ph, f->mu, 2);
  pet_sim_opts so = pet_sim_opts_default();
  so.total_trues = 2e5;
  so.seed = g_seed;
  so.randoms_fraction = 0.2f;
  so.normalisation = true;
  if (pet_simulate_histogram(f->scanner, f->L, f->truth, f->mu, &so, &f->r) != PET_OK) return -1;
  pet_listmode *plain = NULL;
  if (pet_simulate_listmode_from_histogram(f->L, f->r.counts, 60000, g_seed + 1, &plain) != PET_OK)
    return -1;
  const int64_t n = plain->num_events;
  if (pet_listmode_create_owned(&f->lm, n, true) != PET_OK) return -1;
  memcpy(f->lm->time_ms, plain->time_ms, (size_t)n * 4);
  memcpy(f->lm->d1, plain->d1, (size_t)n * 4);
  memcpy(f->lm->d2, plain->d2, (size_t)n * 4);
  pet_listmode_destroy(&plain);
  f->lm_add = malloc((size_t)n * 4);
  if (f->lm_add == NULL) return -1;
  for (int64_t i = 0; i < n; ++i) {
    f->lm->tof_ps[i] = -250.0f + 500.0f * pet_test_uniform(g_seed * 31 + (uint64_t)i);
    f->lm_add[i] = 1e-3f * pet_test_uniform(g_seed * 17 + (uint64_t)i);
  }
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  free(f->lm_add);
  pet_listmode_destroy(&f->lm);
  pet_sim_result_free(&f->r);
  pet_image_destroy(&f->truth);
  pet_image_destroy(&f->mu);
  pet_histo_layout_destroy(&f->L);
  pet_scanner_destroy(&f->scanner);
  free(f);
  return 0;
}

static double rel_rmse(const pet_image *a, const pet_image *b)
{
  double num = 0, den = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(a); ++v) {
    const double d = (double)a->data[v] - b->data[v];
    num += d * d;
    den += (double)a->data[v] * a->data[v];
  }
  return den > 0 ? sqrt(num / den) : INFINITY;
}

/* GPU OSEM of f's list-mode with PET_GPU_LM_SORT = mode into x (from 1). */
static void run_mode(const fixture *f, const pet_osem_opts *o, const char *mode, pet_image *x)
{
  setenv("PET_GPU_LM_SORT", mode, 1);
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  d.listmode = f->lm;
  d.mult = f->r.mult;
  d.lm_add = f->lm_add;
  d.lm_count = -1;
  assert_int_equal(pet_image_fill(x, 1.0f), PET_OK);
  assert_int_equal(pet_osem_run(&d, o, NULL, x), PET_OK);
}

static void compare(const fixture *f, pet_projector_kind kind, int tof, int64_t budget)
{
  pet_osem_opts o = pet_osem_opts_default();
  o.iterations = 2;
  o.subsets = 2;
  o.gpu = true;
  o.vram_budget_bytes = budget;
  o.proj.kind = kind;
  o.proj.crystal_size_trans = o.proj.crystal_size_z = 3.0f;
  o.proj.tof = tof;
  o.proj.tof_fwhm_ps = 500.0f;
  o.proj.tof_n_sigmas = 3.0f;
  pet_image *x0 = NULL, *x1 = NULL, *x2 = NULL;
  assert_int_equal(pet_image_create_owned(&x0, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&x1, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&x2, f->ip, PET_HOST), PET_OK);
  run_mode(f, &o, "0", x0);
  run_mode(f, &o, "1", x1);
  run_mode(f, &o, "2", x2);
  double mean = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(x0); ++v) mean += x0->data[v];
  mean /= (double)pet_image_num_voxels(x0);
  const double r1 = rel_rmse(x0, x1), r2 = rel_rmse(x0, x2);
  printf("  %-6s %-7s budget %-7lld: sorted vs file order rel rmse %.3g, sort-only %.3g (mean %.4g)\n",
         kind == PET_PROJ_DD ? "DD" : "Siddon", tof ? "TOF" : "non-TOF", (long long)budget, r1, r2,
         mean);
  assert_true(mean > 0 && isfinite(mean)); /* a reconstruction, not an empty image */
  assert_true(r1 < 1e-5);
  assert_true(r2 < 1e-5);
  pet_image_destroy(&x0);
  pet_image_destroy(&x1);
  pet_image_destroy(&x2);
}

static void test_siddon_tof(void **state) { compare(*state, PET_PROJ_SIDDON, 1, 0); }
static void test_siddon_nontof(void **state) { compare(*state, PET_PROJ_SIDDON, 0, 0); }
static void test_dd_tof(void **state) { compare(*state, PET_PROJ_DD, 1, 0); }
static void test_dd_nontof(void **state) { compare(*state, PET_PROJ_DD, 0, 0); }
/* many batches per subset: every batch sorted on its own */
static void test_small_batches(void **state)
{
  compare(*state, PET_PROJ_SIDDON, 1, 200000);
  compare(*state, PET_PROJ_DD, 0, 200000);
}

int main(void)
{
  if (pet_gpu_device_count() == 0 && getenv("XX_NOSKIP") == NULL) {
    printf("no CUDA device: skipped\n");
    return 77;
  }
  const char *env = getenv("PET_TEST_SEED");
  g_seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
  printf("test_gpu_lmsort: seed %llu (set PET_TEST_SEED to repeat)\n", (unsigned long long)g_seed);
  /* slabs of one slice: the test image's 8 slices make 8 slabs */
  setenv("PET_GPU_LM_SORT_SLAB", "1", 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_siddon_tof),  cmocka_unit_test(test_siddon_nontof),
      cmocka_unit_test(test_dd_tof),      cmocka_unit_test(test_dd_nontof),
      cmocka_unit_test(test_small_batches),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
