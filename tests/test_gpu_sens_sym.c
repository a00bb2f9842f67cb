/* The symmetric sensitivity pass (src/recon/pet_sens_sym.c) on the GPU backend against the CPU
 * backend's (same items, same fold: equal to float rounding), and against the GPU's brute force
 * within the tolerance of tests/test_sens_symmetric.c; a stop during the GPU pass. Exits 77
 * (skipped) without a CUDA device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_gpu.h"
#include "pet_histogram.h"
#include "pet_osem.h"
#include "pet_scanner.h"
#include "pet_sens_sym.h"
#include "pet_test_util.h"

typedef struct fixture {
  pet_scanner *sc;
  pet_histo_layout *L;
  pet_image_params ip;
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  pet_scanner_params sp = pet_scanner_params_total_body();
  sp.dets_per_ring = 96;
  sp.dets_per_block = 4;
  sp.num_rings = 40;
  sp.axial_fov = 40 * (1940.0f / 672.0f);
  sp.scanner_radius = 100.0f;
  sp.crystal_size_trans = 6.0f;
  sp.max_ring_diff = 39;
  sp.min_ang_diff = 16;
  sp.fov_radius = 0.0f;
  if (pet_scanner_create(&f->sc, &sp) != PET_OK) return -1;
  if (pet_histo_layout_create(&f->L, f->sc) != PET_OK) return -1;
  f->ip = pet_image_params_make(32, 32, 40, 160.f, 160.f, 40 * 2.85f);
  f->ip.off_z = 0.4f;
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

static pet_image *sens_of(const fixture *f, const pet_osem_opts *o)
{
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->sc;
  d.layout = f->L;
  d.lm_count = -1;
  pet_image *s = NULL;
  assert_int_equal(pet_image_create_owned(&s, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_osem_sensitivity(&d, o, &s, 1), PET_OK);
  return s;
}

static void errors(const pet_image *a, const pet_image *ref, double *rms, double *mx)
{
  double num = 0, den = 0, worst = 0, top = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(ref); ++v) top = fmax(top, ref->data[v]);
  for (int64_t v = 0; v < pet_image_num_voxels(ref); ++v) {
    const double e = (double)a->data[v] - ref->data[v];
    num += e * e;
    den += (double)ref->data[v] * ref->data[v];
    worst = fmax(worst, fabs(e));
  }
  *rms = den > 0 ? sqrt(num / den) : 1.0;
  *mx = top > 0 ? worst / top : 1.0;
}

static void gpu_vs_cpu(const fixture *f, pet_projector_kind kind, int32_t rays, const char *name)
{
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 1;
  o.proj.kind = kind;
  o.proj.num_rays = rays;
  o.proj.crystal_size_trans = 6.0f;
  o.proj.crystal_size_z = 2.76f;
  o.proj.fov_radius_mm = 75.0f;
  assert_true(pet_sens_sym_applies(&(pet_osem_data){.scanner = f->sc, .layout = f->L, .lm_count = -1}, &o,
                                   pet_osem_gpu_backend(), 1, NULL, 0));
  pet_image *cpu = sens_of(f, &o);
  o.gpu = true;
  o.vram_budget_bytes = 1 << 20; /* many batches */
  pet_image *gpu = sens_of(f, &o);
  o.sens_brute = true;
  pet_image *brute = sens_of(f, &o);
  double rms, mx, rms_b, mx_b;
  errors(gpu, cpu, &rms, &mx);
  errors(gpu, brute, &rms_b, &mx_b);
  printf("  %s: gpu vs cpu rms %.2e max %.2e; gpu symmetric vs gpu brute force rms %.4f%% max %.4f%%\n", name, rms,
         mx, 100 * rms_b, 100 * mx_b);
  assert_true(rms < 1e-4 && mx < 1e-3);
  assert_true(rms_b < 0.005 && mx_b < 0.02);
  pet_image_destroy(&cpu);
  pet_image_destroy(&gpu);
  pet_image_destroy(&brute);
}

static void test_siddon(void **state) { gpu_vs_cpu(*state, PET_PROJ_SIDDON, 1, "siddon"); }
static void test_dd(void **state) { gpu_vs_cpu(*state, PET_PROJ_DD, 1, "dd"); }
static void test_multi_ray(void **state) { gpu_vs_cpu(*state, PET_PROJ_SIDDON, 4, "mrs-4"); }

static int g_polls;
static bool stop_at_3(void *ctx)
{
  (void)ctx;
  return ++g_polls == 3;
}

static void test_stop(void **state)
{
  fixture *f = *state;
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 1;
  o.gpu = true;
  o.batch_lors = 1024;
  o.should_stop = stop_at_3;
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->sc;
  d.layout = f->L;
  d.lm_count = -1;
  pet_image *s = NULL;
  assert_int_equal(pet_image_create_owned(&s, f->ip, PET_HOST), PET_OK);
  g_polls = 0;
  const bool was = pet_error_set_print(false);
  assert_int_equal(pet_osem_sensitivity(&d, &o, &s, 1), PET_ERR_INTERRUPTED);
  pet_error_set_print(was);
  assert_int_equal(g_polls, 3);
  pet_image_destroy(&s);
}

int main(void)
{
  if (pet_gpu_device_count() == 0) {
    printf("no CUDA device: skipped\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_siddon),
      cmocka_unit_test(test_dd),
      cmocka_unit_test(test_multi_ray),
      cmocka_unit_test(test_stop),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
