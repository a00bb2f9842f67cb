/* GPU OSEM (pet_osem_run with the GPU backend) against the host OSEM (the CPU backend): histogram with
 * corrections and PSF, list-mode with TOF and corrections, a tiny VRAM budget, resume and
 * callbacks, OSL and BSREM with the RDP and quadratic priors, the device prior gradient. Exits 77 (skipped) without a CUDA device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pet_gpu.h"
#include "pet_osem.h"
#include "pet_phantom.h"
#include "pet_prior.h"
#include "pet_simulate.h"
#include "pet_test_util.h"

typedef struct fixture {
  pet_scanner *scanner;
  pet_histo_layout *L;
  pet_image_params ip;
  pet_image *truth, *mu;
  pet_sim_result r;
  pet_histogram *h;
} fixture;

static uint64_t g_seed;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  pet_scanner_params sp = pet_scanner_params_small();
  snprintf(sp.name, sizeof sp.name, "TEST96");
  sp.dets_per_ring = 96;
  sp.num_rings = 4;
  sp.axial_fov = 12.0f;
  sp.crystal_size_z = 3.0f;
  sp.crystal_size_trans = 3.0f;
  sp.scanner_radius = 60.0f;
  sp.dets_per_block = 8;
  sp.max_ring_diff = 3;
  sp.min_ang_diff = 1;
  if (pet_scanner_create(&f->scanner, &sp) != PET_OK) return -1;
  if (pet_histo_layout_create(&f->L, f->scanner) != PET_OK) return -1;
  f->ip = pet_image_params_make(32, 32, 4, 96.f, 96.f, 12.f);
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
  if (pet_histogram_create_alias(&f->h, f->scanner, f->r.counts) != PET_OK) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  pet_histogram_destroy(&f->h);
  pet_sim_result_free(&f->r);
  pet_image_destroy(&f->truth);
  pet_image_destroy(&f->mu);
  pet_histo_layout_destroy(&f->L);
  pet_scanner_destroy(&f->scanner);
  free(f);
  return 0;
}

static double rel_diff(const pet_image *a, const pet_image *b, double *maxrel)
{
  double num = 0, den = 0, amax = 0, worst = 0;
  const int64_t n = pet_image_num_voxels(a);
  for (int64_t v = 0; v < n; ++v) amax = fmax(amax, fabs(a->data[v]));
  for (int64_t v = 0; v < n; ++v) {
    double d = (double)a->data[v] - b->data[v];
    num += d * d;
    den += (double)a->data[v] * a->data[v];
    if (fabs(a->data[v]) > 0.05 * amax) worst = fmax(worst, fabs(d) / fabs(a->data[v]));
  }
  *maxrel = worst;
  return den > 0 ? sqrt(num / den) : INFINITY;
}

static int g_subsets_seen;
static void count_subset(void *ctx, const pet_osem_progress *p)
{
  (void)ctx;
  (void)p;
  ++g_subsets_seen;
}

static void run_both(const pet_osem_data *d, const pet_osem_opts *o, int64_t budget,
                     const char *what, const pet_image_params *ip)
{
  pet_image *xc = NULL, *xg = NULL;
  assert_int_equal(pet_image_create_owned(&xc, *ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&xg, *ip, PET_HOST), PET_OK);
  pet_image_fill(xc, 1.0f);
  pet_image_fill(xg, 1.0f);
  assert_int_equal(pet_osem_run(d, o, NULL, xc), PET_OK);
  g_subsets_seen = 0;
  pet_osem_opts og = *o;
  og.gpu = true;
  og.vram_budget_bytes = budget;
  og.on_subset = count_subset;
  assert_int_equal(pet_osem_run(d, &og, NULL, xg), PET_OK);
  assert_int_equal(g_subsets_seen, o->iterations * o->subsets);
  double worst = 0, r = rel_diff(xc, xg, &worst);
  printf("  %-40s rel rmse %.3g, worst voxel (>5%% of max) %.3g\n", what, r, worst);
  assert_true(r < 1e-3);
  assert_true(worst < 1e-3);
  pet_image_destroy(&xc);
  pet_image_destroy(&xg);
}

static pet_osem_data histo_data(const fixture *f)
{
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  d.histogram = f->h;
  d.mult = f->r.mult;
  d.add = f->r.add;
  d.lm_count = -1;
  return d;
}

static void test_histogram(void **state)
{
  fixture *f = *state;
  pet_osem_data d = histo_data(f);
  pet_osem_opts o = pet_osem_opts_default();
  o.iterations = 2;
  o.subsets = 4;
  run_both(&d, &o, 0, "histogram siddon 2x4", &f->ip);
  o.proj.kind = PET_PROJ_DD;
  o.proj.crystal_size_trans = o.proj.crystal_size_z = 3.0f;
  run_both(&d, &o, 0, "histogram dd 2x4", &f->ip);
  run_both(&d, &o, 5000, "histogram dd 2x4, tiny budget", &f->ip);
  o.psf_fwhm_mm = 4.0f;
  run_both(&d, &o, 0, "histogram dd 2x4 + psf 4 mm", &f->ip);
}

static void test_listmode_tof(void **state)
{
  fixture *f = *state;
  pet_listmode *plain = NULL, *lm = NULL;
  assert_int_equal(pet_simulate_listmode_from_histogram(f->L, f->r.counts, 60000, g_seed + 1,
                                                        &plain),
                   PET_OK);
  const int64_t n = plain->num_events;
  assert_int_equal(pet_listmode_create_owned(&lm, n, true), PET_OK);
  memcpy(lm->time_ms, plain->time_ms, (size_t)n * 4);
  memcpy(lm->d1, plain->d1, (size_t)n * 4);
  memcpy(lm->d2, plain->d2, (size_t)n * 4);
  float *lm_add = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; ++i) {
    lm->tof_ps[i] = -250.0f + 500.0f * pet_test_uniform(g_seed * 31 + (uint64_t)i);
    lm_add[i] = 1e-3f * pet_test_uniform(g_seed * 17 + (uint64_t)i);
  }
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  d.listmode = lm;
  d.mult = f->r.mult;
  d.lm_add = lm_add;
  d.lm_count = -1;
  pet_osem_opts o = pet_osem_opts_default();
  o.iterations = 2;
  o.subsets = 4;
  o.proj.tof = 1;
  o.proj.tof_fwhm_ps = 500.0f;
  o.proj.tof_n_sigmas = 3.0f;
  printf("  %lld events\n", (long long)n);
  run_both(&d, &o, 0, "list-mode siddon+tof 2x4", &f->ip);
  o.proj.kind = PET_PROJ_DD;
  o.proj.crystal_size_trans = o.proj.crystal_size_z = 3.0f;
  run_both(&d, &o, 0, "list-mode dd+tof 2x4", &f->ip);
  run_both(&d, &o, 20000, "list-mode dd+tof 2x4, tiny budget", &f->ip);
  free(lm_add);
  pet_listmode_destroy(&lm);
  pet_listmode_destroy(&plain);
}

/* Stop after 3 subsets, resume from the reported position: equals an uninterrupted run. The
 * subsets done are counted by on_subset (count_subset) (the sensitivity pass polls should_stop too). */
static bool stop_after_3(void *ctx)
{
  (void)ctx;
  return g_subsets_seen == 3;
}
static int g_next_it, g_next_s;
static pet_status remember(void *ctx, int it, int s, const pet_image *x)
{
  (void)ctx;
  (void)x;
  g_next_it = it;
  g_next_s = s;
  return PET_OK;
}

static void test_resume(void **state)
{
  fixture *f = *state;
  pet_osem_data d = histo_data(f);
  pet_osem_opts o = pet_osem_opts_default();
  o.iterations = 2;
  o.subsets = 4;
  pet_image *a = NULL, *b = NULL;
  assert_int_equal(pet_image_create_owned(&a, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&b, f->ip, PET_HOST), PET_OK);
  pet_image_fill(a, 1.0f);
  pet_image_fill(b, 1.0f);
  o.gpu = true;
  assert_int_equal(pet_osem_run(&d, &o, NULL, a), PET_OK);
  pet_osem_opts oi = o;
  g_subsets_seen = 0;
  oi.on_subset = count_subset;
  oi.should_stop = stop_after_3;
  oi.on_interrupt = remember;
  assert_int_equal(pet_osem_run(&d, &oi, NULL, b), PET_ERR_INTERRUPTED);
  assert_int_equal(g_next_it, 0);
  assert_int_equal(g_next_s, 3);
  oi.should_stop = NULL;
  oi.start_iteration = g_next_it;
  oi.start_subset = g_next_s;
  assert_int_equal(pet_osem_run(&d, &oi, NULL, b), PET_OK);
  double worst = 0, r = rel_diff(a, b, &worst);
  printf("  resume: rel rmse %.3g\n", r);
  assert_true(r < 1e-5);
  pet_image_destroy(&a);
  pet_image_destroy(&b);
}

/* The GPU backend's sensitivity equals the host's; handed in to a GPU run it gives the same
 * result as the run that computes its own; a wrong count is refused. */
static void test_sensitivity_hand_over(void **state)
{
  fixture *f = *state;
  pet_osem_data d = histo_data(f);
  pet_osem_opts o = pet_osem_opts_default();
  o.iterations = 1;
  o.subsets = 4;
  pet_image *a = NULL, *b = NULL, *gs[4] = {NULL}, *hs[4] = {NULL};
  assert_int_equal(pet_image_create_owned(&a, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&b, f->ip, PET_HOST), PET_OK);
  for (int s = 0; s < 4; ++s) {
    assert_int_equal(pet_image_create_owned(&gs[s], f->ip, PET_HOST), PET_OK);
    assert_int_equal(pet_image_create_owned(&hs[s], f->ip, PET_HOST), PET_OK);
  }
  pet_image_fill(a, 1.0f);
  pet_image_fill(b, 1.0f);
  pet_osem_opts og = o;
  og.gpu = true;
  assert_int_equal(pet_osem_run(&d, &og, NULL, a), PET_OK);
  assert_int_equal(pet_osem_sensitivity(&d, &og, gs, 4), PET_OK);
  assert_int_equal(pet_osem_sensitivity(&d, &o, hs, 4), PET_OK);
  double worst = 0;
  for (int s = 0; s < 4; ++s) assert_true(rel_diff(hs[s], gs[s], &worst) < 1e-4);
  assert_int_equal(pet_osem_run(&d, &og, gs, b), PET_OK);
  double r = rel_diff(a, b, &worst);
  printf("  sensitivity hand-over: rel rmse %.3g\n", r);
  assert_true(r < 1e-6);
  assert_int_equal(pet_osem_sensitivity(&d, &og, gs, 3), PET_ERR_ARG);
  for (int s = 0; s < 4; ++s) {
    pet_image_destroy(&gs[s]);
    pet_image_destroy(&hs[s]);
  }
  pet_image_destroy(&a);
  pet_image_destroy(&b);
}

static void test_device_image_in_place(void **state)
{
  fixture *f = *state;
  pet_osem_data d = histo_data(f);
  pet_osem_opts o = pet_osem_opts_default();
  pet_image *xh = NULL, *xd = NULL, *back = NULL;
  assert_int_equal(pet_image_create_owned(&xh, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&back, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&xd, f->ip, PET_DEVICE), PET_OK);
  pet_image_fill(xh, 1.0f);
  pet_image_fill(xd, 1.0f);
  o.gpu = true;
  float *before = xd->data;
  assert_int_equal(pet_osem_run(&d, &o, NULL, xh), PET_OK);
  assert_int_equal(pet_osem_run(&d, &o, NULL, xd), PET_OK);
  assert_ptr_equal(xd->data, before);
  assert_int_equal(pet_image_copy(back, xd), PET_OK);
  double worst = 0;
  assert_true(rel_diff(xh, back, &worst) < 1e-6);
  pet_image_destroy(&xh);
  pet_image_destroy(&xd);
  pet_image_destroy(&back);
}

/* OSL and BSREM with each prior: the device's prior kernel and regularised update against the
 * host's (one worker, pet_prior_kernel.h), with the PSF and a tiny budget too. */
static void test_regularised(void **state)
{
  fixture *f = *state;
  pet_osem_data d = histo_data(f);
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 1;
  pet_image *sens = NULL;
  assert_int_equal(pet_image_create_owned(&sens, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_osem_sensitivity(&d, &o, &sens, 1), PET_OK);
  double sum = 0.0;
  int64_t n = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(sens); ++v)
    if (sens->data[v] > 0.0f) sum += sens->data[v], ++n;
  pet_image_destroy(&sens);
  const float beta = (float)(0.05 * sum / (double)n);
  o.iterations = 3;
  o.subsets = 4;
  o.algorithm = PET_OSEM_ALG_OSL;
  o.prior.kind = PET_PRIOR_RDP;
  o.prior.beta = beta;
  run_both(&d, &o, 0, "osl rdp 3x4", &f->ip);
  o.algorithm = PET_OSEM_ALG_BSREM;
  o.relaxation_eta = 0.3f;
  run_both(&d, &o, 0, "bsrem rdp 3x4", &f->ip);
  run_both(&d, &o, 5000, "bsrem rdp 3x4, tiny budget", &f->ip);
  o.prior.kind = PET_PRIOR_QUADRATIC;
  o.prior.beta = 0.02f * beta;
  run_both(&d, &o, 0, "bsrem quadratic 3x4", &f->ip);
  o.algorithm = PET_OSEM_ALG_OSL;
  o.psf_fwhm_mm = 4.0f;
  run_both(&d, &o, 0, "osl quadratic 3x4 + psf 4 mm", &f->ip);
}

/* pet_gpu_prior_gradient (the backend's kernel) == pet_prior_gradient (the host loop). */
static void test_prior_gradient_device_equals_host(void **state)
{
  fixture *f = *state;
  pet_image *x = NULL, *gh = NULL, *xd = NULL, *gd = NULL, *back = NULL;
  assert_int_equal(pet_image_create_owned(&x, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&gh, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&back, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&xd, f->ip, PET_DEVICE), PET_OK);
  assert_int_equal(pet_image_create_owned(&gd, f->ip, PET_DEVICE), PET_OK);
  for (int64_t v = 0; v < pet_image_num_voxels(x); ++v) x->data[v] = f->truth->data[v] + pet_test_uniform(v + 17);
  assert_int_equal(pet_image_copy(xd, x), PET_OK);
  for (int kind = PET_PRIOR_RDP; kind <= PET_PRIOR_QUADRATIC; ++kind) {
    pet_prior_params p = pet_prior_params_default();
    p.kind = (pet_prior_kind)kind;
    p.beta = 0.7f;
    assert_int_equal(pet_prior_gradient(&p, x, gh), PET_OK);
    assert_int_equal(pet_gpu_prior_gradient(&p, xd, gd), PET_OK);
    assert_int_equal(pet_image_copy(back, gd), PET_OK);
    double gmax = 0.0, worst = 0.0;
    for (int64_t v = 0; v < pet_image_num_voxels(x); ++v) gmax = fmax(gmax, fabs(gh->data[v]));
    for (int64_t v = 0; v < pet_image_num_voxels(x); ++v) worst = fmax(worst, fabs((double)gh->data[v] - back->data[v]));
    printf("  prior gradient %-10s gpu - cpu: %.3g of the largest %.3g\n", pet_prior_kind_name(p.kind), worst / gmax,
           gmax);
    assert_true(gmax > 0.0);
    assert_true(worst <= 1e-5 * gmax);
  }
  pet_prior_params bad = pet_prior_params_default();
  bad.beta = -1.0f;
  assert_int_equal(pet_gpu_prior_gradient(&bad, xd, gd), PET_ERR_CONFIG);
  assert_int_equal(pet_gpu_prior_gradient(&bad, x, gd), PET_ERR_CONFIG);
  bad.beta = 1.0f;
  assert_int_equal(pet_gpu_prior_gradient(&bad, x, gd), PET_ERR_STATE); /* a host image */
  pet_image_destroy(&x);
  pet_image_destroy(&gh);
  pet_image_destroy(&xd);
  pet_image_destroy(&gd);
  pet_image_destroy(&back);
}

int main(void)
{
  if (pet_gpu_device_count() == 0) {
    printf("no CUDA device: skipped\n");
    return 77;
  }
  const char *env = getenv("PET_TEST_SEED");
  g_seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
  printf("test_gpu_osem: seed %llu (set PET_TEST_SEED to repeat)\n", (unsigned long long)g_seed);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_histogram),
      cmocka_unit_test(test_listmode_tof),
      cmocka_unit_test(test_resume),
      cmocka_unit_test(test_device_image_in_place),
      cmocka_unit_test(test_sensitivity_hand_over),
      cmocka_unit_test(test_regularised),
      cmocka_unit_test(test_prior_gradient_device_equals_host),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
