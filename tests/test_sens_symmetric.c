/* The list-mode sensitivity by the scanner's axial symmetry (src/recon/pet_sens_sym.c) against
 * the brute force (every bin back-projected) on a cut-down total-body-like scanner whose image
 * z voxel (2.85 mm) is not commensurate with its ring pitch (2.887 mm): Siddon, multi-ray and
 * DD within the stated tolerance; exact (to float rounding) where the image's z planes are fine
 * planes; the brute force taken with per-bin factors or when asked for; a stop during the pass
 * returns PET_ERR_INTERRUPTED. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_fov.h"
#include "pet_histogram.h"
#include "pet_osem.h"
#include "pet_scanner.h"
#include "pet_sens_sym.h"
#include "pet_test_util.h"

/* Error bounds of the symmetric pass on this scanner (README: "Sensitivity of large scanners") */
#define RMS_TOL 0.005 /* relative RMS over the FOV */
#define MAX_TOL 0.02  /* largest voxel difference / the image's largest value */

typedef struct fixture {
  pet_scanner *sc;
  pet_histo_layout *L;
  pet_image_params ip;
} fixture;

/* 64 detectors a ring in 16 blocks, 32 rings of 2.887 mm (the total-body pitch), every ring
 * difference; image 24 x 24 x 32 of 2.85 mm in z (a different pitch), offset by a fraction of
 * a voxel. */
static pet_scanner_params tb_like(void)
{
  pet_scanner_params sp = pet_scanner_params_total_body();
  sp.dets_per_ring = 64;
  sp.dets_per_block = 4;
  sp.num_rings = 32;
  sp.axial_fov = 32 * (1940.0f / 672.0f);
  sp.scanner_radius = 80.0f;
  sp.crystal_size_trans = 7.0f;
  sp.max_ring_diff = 31;
  sp.min_ang_diff = 12;
  sp.fov_radius = 0.0f;
  return sp;
}

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  pet_scanner_params sp = tb_like();
  if (pet_scanner_create(&f->sc, &sp) != PET_OK) return -1;
  if (pet_histo_layout_create(&f->L, f->sc) != PET_OK) return -1;
  f->ip = pet_image_params_make(24, 24, 32, 120.f, 120.f, 32 * 2.85f);
  f->ip.off_z = 0.7f;
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

static pet_osem_data data_of(const fixture *f)
{
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->sc;
  d.layout = f->L;
  d.lm_count = -1;
  return d;
}

static pet_osem_opts opts_of(pet_projector_kind kind, int32_t rays)
{
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 1; /* no data: one image over all bins, as list-mode */
  o.proj.kind = kind;
  o.proj.num_rays = rays;
  o.proj.crystal_size_trans = 7.0f;
  o.proj.crystal_size_z = 2.76f;
  o.proj.fov_radius_mm = 55.0f;
  return o;
}

static pet_image *sens_of(const fixture *f, const pet_osem_data *d, const pet_osem_opts *o, pet_image_params ip)
{
  pet_image *s = NULL;
  assert_int_equal(pet_image_create_owned(&s, ip, PET_HOST), PET_OK);
  assert_int_equal(pet_osem_sensitivity(d, o, &s, 1), PET_OK);
  (void)f;
  return s;
}

/* Relative RMS over the voxels inside the FOV and the largest difference / max(ref). */
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

static void compare(const fixture *f, pet_projector_kind kind, int32_t rays, const char *name)
{
  pet_osem_data d = data_of(f);
  pet_osem_opts o = opts_of(kind, rays);
  assert_true(pet_sens_sym_applies(&d, &o, pet_osem_cpu_backend(), 1, NULL, 0));
  o.sens_brute = true;
  pet_image *ref = sens_of(f, &d, &o, f->ip);
  o.sens_brute = false;
  double top = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(ref); ++v) top = fmax(top, ref->data[v]);
  assert_true(top > 0);
  /* the README's table: PET_TEST_SENS_SWEEP=1 (the default m alone otherwise: CI's sanitizer
   * builds run this unoptimised) */
  const int32_t sweep[] = {1, 2, 4, 5, 6, 8, 0}, once[] = {0};
  const bool all = getenv("PET_TEST_SENS_SWEEP") != NULL;
  const int32_t *refine = all ? sweep : once;
  const size_t nref = all ? sizeof sweep / sizeof sweep[0] : 1;
  double rms_def = 1, mx_def = 1;
  for (size_t i = 0; i < nref; ++i) {
    o.sens_z_refine = refine[i];
    pet_image *s = sens_of(f, &d, &o, f->ip);
    double rms, mx;
    errors(s, ref, &rms, &mx);
    printf("  %s m=%d%s: rms %.4f%%, max %.4f%% of max\n", name, (int)refine[i], refine[i] ? "" : " (default)",
           100 * rms, 100 * mx);
    if (refine[i] == 0) {
      rms_def = rms;
      mx_def = mx;
    }
    pet_image_destroy(&s);
  }
  assert_true(rms_def < RMS_TOL);
  assert_true(mx_def < MAX_TOL);
  pet_image_destroy(&ref);
}

static void test_siddon_matches_brute_force(void **state) { compare(*state, PET_PROJ_SIDDON, 1, "siddon"); }
static void test_dd_matches_brute_force(void **state) { compare(*state, PET_PROJ_DD, 1, "dd"); }
/* 4 brute-force passes' worth: with PET_TEST_SENS_SWEEP=1 only (tests/test_gpu_sens_sym.c has it) */
static void test_multi_ray_matches_brute_force(void **state)
{
  if (getenv("PET_TEST_SENS_SWEEP") == NULL) skip();
  compare(*state, PET_PROJ_SIDDON, 4, "mrs-4");
}

/* Image z voxels of one ring pitch centred on the rings: the fine planes hold the image's
 * planes (m = 1 is chosen), so the translation is exact: equal to float rounding. */
static void test_aligned_grid_is_exact(void **state)
{
  fixture *f = *state;
  const pet_scanner_params *sp = &f->sc->params;
  const float pitch = sp->axial_fov / (float)sp->num_rings;
  pet_image_params ip = pet_image_params_make(24, 24, 20, 120.f, 120.f, 20 * pitch);
  ip.off_z = 0.0f; /* voxel centres on ring centres: rings 6..25 */
  pet_osem_data d = data_of(f);
  for (int kind = 0; kind < 2; ++kind) {
    pet_osem_opts o = opts_of((pet_projector_kind)kind, 1);
    o.sens_brute = true;
    pet_image *ref = sens_of(f, &d, &o, ip);
    o.sens_brute = false;
    pet_image *s = sens_of(f, &d, &o, ip);
    double rms, mx;
    errors(s, ref, &rms, &mx);
    printf("  aligned %s: rms %.2e, max %.2e of max\n", kind ? "dd" : "siddon", rms, mx);
    assert_true(rms < 1e-5);
    assert_true(mx < 1e-5);
    pet_image_destroy(&s);
    pet_image_destroy(&ref);
  }
}

/* Per-bin factors (here all 1), a detector mask or sens_brute / PET_SENS_BRUTE: the brute force,
 * bit for bit what it gives without them. */
static void test_fallbacks(void **state)
{
  fixture *f = *state;
  pet_osem_data d = data_of(f);
  pet_osem_opts o = opts_of(PET_PROJ_SIDDON, 1);
  char why[160] = "";
  o.sens_brute = true;
  assert_false(pet_sens_sym_applies(&d, &o, pet_osem_cpu_backend(), 1, why, sizeof why));
  pet_image *ref = sens_of(f, &d, &o, f->ip);
  o.sens_brute = false;
  assert_false(pet_sens_sym_applies(&d, &o, pet_osem_cpu_backend(), 4, why, sizeof why)); /* subsets */
  float *ones = malloc((size_t)f->L->num_bins * sizeof(float));
  assert_non_null(ones);
  for (int64_t b = 0; b < f->L->num_bins; ++b) ones[b] = 1.0f;
  d.mult = ones;
  assert_false(pet_sens_sym_applies(&d, &o, pet_osem_cpu_backend(), 1, why, sizeof why));
  assert_non_null(strstr(why, "multiplicative"));
  pet_image *s = sens_of(f, &d, &o, f->ip);
  assert_memory_equal(s->data, ref->data, (size_t)pet_image_num_voxels(ref) * sizeof(float));
  pet_image_destroy(&s);
  free(ones);
  d.mult = NULL;
  assert_int_equal(setenv("PET_SENS_BRUTE", "1", 1), 0);
  assert_false(pet_sens_sym_applies(&d, &o, pet_osem_cpu_backend(), 1, why, sizeof why));
  s = sens_of(f, &d, &o, f->ip);
  assert_memory_equal(s->data, ref->data, (size_t)pet_image_num_voxels(ref) * sizeof(float));
  pet_image_destroy(&s);
  assert_int_equal(unsetenv("PET_SENS_BRUTE"), 0);
  assert_true(pet_sens_sym_applies(&d, &o, pet_osem_cpu_backend(), 1, why, sizeof why));
  /* a LUT whose ring 3 is moved along z: not regular */
  pet_scanner *moved = NULL;
  assert_int_equal(pet_scanner_create_with_lut(&moved, &f->sc->params, f->sc->lut), PET_OK);
  for (int64_t t = 0; t < f->sc->params.dets_per_ring; ++t) moved->lut[6 * (3 * f->sc->params.dets_per_ring + t) + 2] += 0.5f;
  d.scanner = moved;
  assert_false(pet_sens_sym_applies(&d, &o, pet_osem_cpu_backend(), 1, why, sizeof why));
  assert_non_null(strstr(why, "LUT"));
  pet_scanner_destroy(&moved);
  pet_image_destroy(&ref);
}

typedef struct stopper {
  int polls, stop_at;
} stopper;

static bool stop_cb(void *ctx)
{
  stopper *k = ctx;
  return ++k->polls == k->stop_at;
}

/* should_stop is polled between chunks of the pass (batch_lors small: many chunks), symmetric
 * and brute force alike: a stop returns PET_ERR_INTERRUPTED after as many polls. */
static void test_stop_during_the_pass(void **state)
{
  fixture *f = *state;
  pet_osem_data d = data_of(f);
  for (int brute = 0; brute < 2; ++brute) {
    pet_osem_opts o = opts_of(PET_PROJ_SIDDON, 1);
    o.sens_brute = brute != 0;
    o.batch_lors = 512; /* polls every 16 batches */
    stopper k = {0, 0};
    o.should_stop = stop_cb;
    o.cb_ctx = &k;
    pet_image *s = sens_of(f, &d, &o, f->ip); /* no stop: counts the polls */
    const int polls = k.polls;
    printf("  %s pass: %d polls\n", brute ? "brute-force" : "symmetric", polls);
    assert_true(polls >= 2);
    k.polls = 0;
    k.stop_at = 2;
    const bool was = pet_error_set_print(false);
    assert_int_equal(pet_osem_sensitivity(&d, &o, &s, 1), PET_ERR_INTERRUPTED);
    pet_error_set_print(was);
    assert_int_equal(k.polls, 2);
    pet_image_destroy(&s);
  }
}

/* A list-mode reconstruction stopped in its sensitivity pass: PET_ERR_INTERRUPTED, image untouched. */
static void test_listmode_run_stops_in_the_pass(void **state)
{
  fixture *f = *state;
  pet_listmode *lm = NULL;
  assert_int_equal(pet_listmode_create_owned(&lm, 64, false), PET_OK);
  const int64_t n = f->sc->params.dets_per_ring;
  for (int64_t e = 0; e < 64; ++e) {
    lm->d1[e] = (uint32_t)((e % 8) * n + e % n);
    lm->d2[e] = (uint32_t)((e % 5) * n + (e + n / 2) % n);
    lm->time_ms[e] = (uint32_t)e;
  }
  pet_osem_data d = data_of(f);
  d.listmode = lm;
  pet_osem_opts o = opts_of(PET_PROJ_SIDDON, 1);
  o.subsets = 2;
  o.batch_lors = 4096;
  stopper k = {0, 2};
  o.should_stop = stop_cb;
  o.cb_ctx = &k;
  pet_image *x = NULL;
  assert_int_equal(pet_image_create_owned(&x, f->ip, PET_HOST), PET_OK);
  pet_image_fill(x, 1.0f);
  const bool was = pet_error_set_print(false);
  assert_int_equal(pet_osem_run(&d, &o, NULL, x), PET_ERR_INTERRUPTED);
  pet_error_set_print(was);
  for (int64_t v = 0; v < pet_image_num_voxels(x); ++v) assert_true(x->data[v] == 1.0f);
  pet_image_destroy(&x);
  pet_listmode_destroy(&lm);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_siddon_matches_brute_force),
      cmocka_unit_test(test_dd_matches_brute_force),
      cmocka_unit_test(test_multi_ray_matches_brute_force),
      cmocka_unit_test(test_aligned_grid_is_exact),
      cmocka_unit_test(test_fallbacks),
      cmocka_unit_test(test_stop_during_the_pass),
      cmocka_unit_test(test_listmode_run_stops_in_the_pass),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
