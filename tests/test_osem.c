/* OSEM: monotone likelihood (MLEM), convergence on noise-free data, list-mode == histogram,
 * corrections, PSF adjointness, option errors; OSL and BSREM: beta 0 is OSEM, BSREM's objective
 * rises, the penalty falls, resume, option errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_histogram.h"
#include "pet_osem.h"
#include "pet_phantom.h"
#include "pet_prior.h"
#include "pet_scanner.h"
#include "pet_simulate.h"
#include "pet_test_util.h"

typedef struct fixture {
  pet_scanner *scanner;
  pet_histo_layout *L;
  pet_image *truth, *mu;
  pet_phantom ph;
  pet_image_params ip;
} fixture;

/* A small ring (96 detectors x 4 rings) and a 32 x 32 x 4 image: fast enough for many
 * iterations, big enough to have a phantom with spheres. */
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
  f->ph = pet_phantom_default(&f->ip);
  if (pet_image_create_owned(&f->truth, f->ip, PET_HOST) != PET_OK) return -1;
  if (pet_image_create_owned(&f->mu, f->ip, PET_HOST) != PET_OK) return -1;
  pet_phantom_activity(&f->ph, f->truth, 2);
  pet_phantom_mu(&f->ph, f->mu, 2);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  pet_image_destroy(&f->truth);
  pet_image_destroy(&f->mu);
  pet_histo_layout_destroy(&f->L);
  pet_scanner_destroy(&f->scanner);
  free(f);
  return 0;
}

static pet_osem_data histo_data(const fixture *f, const pet_histogram *h, const pet_sim_result *r)
{
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  d.histogram = h;
  d.mult = r ? r->mult : NULL;
  d.add = r ? r->add : NULL;
  d.lm_count = -1;
  return d;
}

static double rel_rmse(const pet_image *x, const pet_image *truth, double scale)
{
  double se = 0, st = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(x); ++v) {
    double t = truth->data[v] * scale;
    se += (x->data[v] - t) * (x->data[v] - t);
    st += t * t;
  }
  return sqrt(se / st);
}

static void test_mlem_loglik_increases_monotonically(void **state)
{
  fixture *f = *state;
  pet_sim_opts so = pet_sim_opts_default();
  so.total_trues = 2e5;
  so.seed = 7;
  pet_sim_result r;
  assert_int_equal(pet_simulate_histogram(f->scanner, f->L, f->truth, NULL, &so, &r), PET_OK);
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create_alias(&h, f->scanner, r.counts), PET_OK);
  pet_osem_data d = histo_data(f, h, NULL);
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 1;
  o.iterations = 1;
  pet_image *x = NULL, *sens = NULL;
  assert_int_equal(pet_image_create_owned(&x, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&sens, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_osem_sensitivity(&d, &o, &sens, 1), PET_OK);
  pet_image_fill(x, 1.0f);
  double prev = -INFINITY;
  for (int it = 0; it < 12; ++it) {
    assert_int_equal(pet_osem_run(&d, &o, &sens, x), PET_OK);
    double ll;
    assert_int_equal(pet_osem_loglik(&d, &o, x, &ll), PET_OK);
    assert_true(ll > prev - 1e-6 * fabs(prev));
    if (it > 0) assert_true(ll >= prev); /* MLEM never decreases the likelihood */
    prev = ll;
  }
  pet_image_destroy(&x);
  pet_image_destroy(&sens);
  pet_histogram_destroy(&h);
  pet_sim_result_free(&r);
}

static void test_osem_noise_free_error_decreases_to_bound(void **state)
{
  fixture *f = *state;
  pet_sim_opts so = pet_sim_opts_default();
  so.noise = false;
  so.total_trues = 1e6;
  pet_sim_result r;
  assert_int_equal(pet_simulate_histogram(f->scanner, f->L, f->truth, NULL, &so, &r), PET_OK);
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create_alias(&h, f->scanner, r.counts), PET_OK);
  pet_osem_data d = histo_data(f, h, NULL);
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 4;
  o.iterations = 1;
  pet_image *x = NULL;
  pet_image *sens[4] = {NULL};
  assert_int_equal(pet_image_create_owned(&x, f->ip, PET_HOST), PET_OK);
  for (int s = 0; s < 4; ++s) assert_int_equal(pet_image_create_owned(&sens[s], f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_osem_sensitivity(&d, &o, sens, 4), PET_OK);
  pet_image_fill(x, 1.0f);
  double err0 = rel_rmse(x, f->truth, r.scale), prev = err0;
  for (int it = 0; it < 20; ++it) {
    assert_int_equal(pet_osem_run(&d, &o, sens, x), PET_OK);
    double e = rel_rmse(x, f->truth, r.scale);
    if (it < 5) assert_true(e < prev); /* early iterations: strictly better each time */
    prev = e;
  }
  /* 20 x 4 sub-iterations on noise-free data: within 25% RMS of the (partial-volume) truth */
  assert_true(prev < 0.25);
  assert_true(prev < 0.5 * err0);
  for (int s = 0; s < 4; ++s) pet_image_destroy(&sens[s]);
  pet_image_destroy(&x);
  pet_histogram_destroy(&h);
  pet_sim_result_free(&r);
}

static void test_listmode_osem_equals_histogram_osem(void **state)
{
  fixture *f = *state;
  pet_sim_opts so = pet_sim_opts_default();
  so.total_trues = 5e4;
  so.seed = 3;
  pet_sim_result r;
  assert_int_equal(pet_simulate_histogram(f->scanner, f->L, f->truth, NULL, &so, &r), PET_OK);
  pet_histogram *h = NULL;
  pet_listmode *lm = NULL;
  assert_int_equal(pet_histogram_create_alias(&h, f->scanner, r.counts), PET_OK);
  assert_int_equal(pet_simulate_listmode_from_histogram(f->L, r.counts, 60000, 11, &lm), PET_OK);
  pet_osem_data dh = histo_data(f, h, NULL);
  pet_osem_data dl = dh;
  dl.histogram = NULL;
  dl.listmode = lm;
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 1; /* same subsets on both sides: the whole data */
  o.iterations = 3;
  pet_image *xh = NULL, *xl = NULL;
  assert_int_equal(pet_image_create_owned(&xh, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&xl, f->ip, PET_HOST), PET_OK);
  pet_image_fill(xh, 1.0f);
  pet_image_fill(xl, 1.0f);
  assert_int_equal(pet_osem_run(&dh, &o, NULL, xh), PET_OK);
  assert_int_equal(pet_osem_run(&dl, &o, NULL, xl), PET_OK);
  double num = 0, den = 0, maxv = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(xh); ++v) {
    num += (xh->data[v] - xl->data[v]) * (double)(xh->data[v] - xl->data[v]);
    den += (double)xh->data[v] * xh->data[v];
    if (xh->data[v] > maxv) maxv = xh->data[v];
  }
  assert_true(maxv > 0);
  assert_true(sqrt(num / den) < 1e-4);
  pet_image_destroy(&xh);
  pet_image_destroy(&xl);
  pet_listmode_destroy(&lm);
  pet_histogram_destroy(&h);
  pet_sim_result_free(&r);
}

/* Mean of x over the central background region, relative to the scaled truth there. */
static double central_bias(const fixture *f, const pet_image *x, double scale)
{
  const pet_image_params *p = &f->ip;
  double sx = 0, st = 0;
  for (int z = 0; z < p->nz; ++z)
    for (int y = p->ny / 2 - 3; y < p->ny / 2 + 3; ++y)
      for (int xi = p->nx / 2 - 3; xi < p->nx / 2 + 3; ++xi) {
        int64_t v = ((int64_t)z * p->ny + y) * p->nx + xi;
        sx += x->data[v];
        st += f->truth->data[v] * scale;
      }
  return sx / st - 1.0;
}

static void test_corrections_recover_the_phantom_and_are_needed(void **state)
{
  fixture *f = *state;
  pet_sim_opts so = pet_sim_opts_default();
  so.noise = false;
  so.total_trues = 1e6;
  so.normalisation = true;
  so.randoms_fraction = 0.3f;
  pet_sim_result r;
  assert_int_equal(pet_simulate_histogram(f->scanner, f->L, f->truth, f->mu, &so, &r), PET_OK);
  assert_non_null(r.mult);
  assert_non_null(r.add);
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create_alias(&h, f->scanner, r.counts), PET_OK);
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 4;
  o.iterations = 15;
  pet_image *with = NULL, *without = NULL;
  assert_int_equal(pet_image_create_owned(&with, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&without, f->ip, PET_HOST), PET_OK);
  pet_image_fill(with, 1.0f);
  pet_image_fill(without, 1.0f);
  pet_osem_data d = histo_data(f, h, &r);
  assert_int_equal(pet_osem_run(&d, &o, NULL, with), PET_OK);
  pet_osem_data d0 = histo_data(f, h, NULL);
  assert_int_equal(pet_osem_run(&d0, &o, NULL, without), PET_OK);
  double e_with = rel_rmse(with, f->truth, r.scale);
  double e_without = rel_rmse(without, f->truth, r.scale);
  double b_with = central_bias(f, with, r.scale);
  double b_without = central_bias(f, without, r.scale);
  assert_true(e_with < 0.25);
  assert_true(fabs(b_with) < 0.05);
  /* without attenuation correction the centre is strongly under-estimated */
  assert_true(b_without < -0.2);
  assert_true(e_without > 2.0 * e_with);
  pet_image_destroy(&with);
  pet_image_destroy(&without);
  pet_histogram_destroy(&h);
  pet_sim_result_free(&r);
}

static void test_psf_blur_is_self_adjoint(void **state)
{
  fixture *f = *state;
  pet_image *a = NULL, *b = NULL, *ga = NULL, *gb = NULL;
  assert_int_equal(pet_image_create_owned(&a, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&b, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&ga, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&gb, f->ip, PET_HOST), PET_OK);
  for (int64_t v = 0; v < pet_image_num_voxels(a); ++v) {
    a->data[v] = pet_test_uniform((uint64_t)v);
    b->data[v] = pet_test_uniform((uint64_t)v + 1000003);
  }
  pet_image_copy(ga, a);
  pet_image_copy(gb, b);
  assert_int_equal(pet_image_gaussian_blur(ga, 6.0f), PET_OK);
  assert_int_equal(pet_image_gaussian_blur(gb, 6.0f), PET_OK);
  double l = 0, r = 0, diff = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(a); ++v) {
    l += (double)ga->data[v] * b->data[v];
    r += (double)a->data[v] * gb->data[v];
    diff += fabs(ga->data[v] - a->data[v]);
  }
  assert_true(pet_test_reldiff(l, r) < 1e-5);
  assert_true(diff > 1.0); /* it did blur */
  assert_int_equal(pet_image_gaussian_blur(ga, -1.0f), PET_ERR_ARG);
  pet_image_destroy(&a);
  pet_image_destroy(&b);
  pet_image_destroy(&ga);
  pet_image_destroy(&gb);
}

/* The sensitivity reads only the scanner, the layout and the factors: data without counts
 * gives the same images as a histogram, and run() still needs data. */
static void test_sensitivity_needs_no_counts(void **state)
{
  fixture *f = *state;
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create_owned(&h, f->scanner), PET_OK);
  pet_osem_data d = histo_data(f, h, NULL);
  pet_osem_data none = d;
  none.histogram = NULL;
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 2;
  pet_image *a[2] = {NULL}, *b[2] = {NULL};
  for (int s = 0; s < 2; ++s) {
    assert_int_equal(pet_image_create_owned(&a[s], f->ip, PET_HOST), PET_OK);
    assert_int_equal(pet_image_create_owned(&b[s], f->ip, PET_HOST), PET_OK);
  }
  assert_int_equal(pet_osem_sensitivity(&d, &o, a, 2), PET_OK);
  assert_int_equal(pet_osem_sensitivity(&none, &o, b, 2), PET_OK);
  double sum = 0;
  for (int s = 0; s < 2; ++s)
    for (int64_t v = 0; v < pet_image_num_voxels(a[s]); ++v) {
      assert_true(a[s]->data[v] == b[s]->data[v]);
      sum += a[s]->data[v];
    }
  assert_true(sum > 0);
  assert_int_equal(pet_osem_run(&none, &o, NULL, a[0]), PET_ERR_ARG); /* a reconstruction needs data */
  for (int s = 0; s < 2; ++s) {
    pet_image_destroy(&a[s]);
    pet_image_destroy(&b[s]);
  }
  pet_histogram_destroy(&h);
}

static void test_osem_rejects_bad_options(void **state)
{
  fixture *f = *state;
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create_owned(&h, f->scanner), PET_OK);
  pet_osem_data d = histo_data(f, h, NULL);
  pet_image *x = NULL;
  assert_int_equal(pet_image_create_owned(&x, f->ip, PET_HOST), PET_OK);
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 0;
  assert_int_equal(pet_osem_run(&d, &o, NULL, x), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "subsets"));
  o = pet_osem_opts_default();
  o.iterations = 0;
  assert_int_equal(pet_osem_run(&d, &o, NULL, x), PET_ERR_CONFIG);
  o = pet_osem_opts_default();
  o.subsets = 100000;
  assert_int_equal(pet_osem_run(&d, &o, NULL, x), PET_ERR_CONFIG);
  o = pet_osem_opts_default();
  o.proj.tof = 1;
  o.proj.tof_fwhm_ps = 300;
  assert_int_equal(pet_osem_run(&d, &o, NULL, x), PET_ERR_CONFIG); /* TOF on a histogram */
  pet_osem_data bad = d;
  bad.histogram = NULL;
  o = pet_osem_opts_default();
  assert_int_equal(pet_osem_run(&bad, &o, NULL, x), PET_ERR_ARG);
  pet_image *unbound = NULL;
  assert_int_equal(pet_image_create(&unbound, f->ip, PET_ALIAS, PET_HOST), PET_OK);
  assert_int_equal(pet_osem_run(&d, &o, NULL, unbound), PET_ERR_STATE);
  pet_image_destroy(&unbound);
  pet_image_destroy(&x);
  pet_histogram_destroy(&h);
}

/* ---- regularised reconstruction (OSL, BSREM) ---- */

/* Noisy data of the fixture's phantom: counts (r), its histogram (h) and the data for OSEM. */
static pet_osem_data noisy_data(const fixture *f, double trues, uint64_t seed, pet_sim_result *r, pet_histogram **h)
{
  pet_sim_opts so = pet_sim_opts_default();
  so.total_trues = trues;
  so.seed = seed;
  assert_int_equal(pet_simulate_histogram(f->scanner, f->L, f->truth, NULL, &so, r), PET_OK);
  assert_int_equal(pet_histogram_create_alias(h, f->scanner, r->counts), PET_OK);
  return histo_data(f, *h, NULL);
}

static pet_image *run_from_ones(const fixture *f, const pet_osem_data *d, const pet_osem_opts *o)
{
  pet_image *x = NULL;
  assert_int_equal(pet_image_create_owned(&x, f->ip, PET_HOST), PET_OK);
  pet_image_fill(x, 1.0f);
  assert_int_equal(pet_osem_run(d, o, NULL, x), PET_OK);
  return x;
}

/* The mean of the whole sensitivity over the voxels that see data: the RDP's gradient does not
 * depend on the image's scale, so a beta relative to it means the same on any data. */
static double mean_sensitivity(const fixture *f, const pet_osem_data *d)
{
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 1;
  pet_image *s = NULL;
  assert_int_equal(pet_image_create_owned(&s, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_osem_sensitivity(d, &o, &s, 1), PET_OK);
  double sum = 0.0;
  int64_t n = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(s); ++v)
    if (s->data[v] > 0.0f) {
      sum += s->data[v];
      ++n;
    }
  pet_image_destroy(&s);
  assert_true(n > 0);
  return sum / (double)n;
}

static double max_abs_diff(const pet_image *a, const pet_image *b, double *amax)
{
  double m = 0.0, am = 0.0;
  for (int64_t v = 0; v < pet_image_num_voxels(a); ++v) {
    m = fmax(m, fabs((double)a->data[v] - b->data[v]));
    am = fmax(am, fabs((double)a->data[v]));
  }
  *amax = am;
  return m;
}

/* OSL's update with a zero prior gradient is the EM update, expression for expression: OSL
 * with no prior or with beta 0 gives OSEM's image bit for bit. BSREM with relaxation 1 and no
 * prior is the EM step written as x + x / S (back - S): OSEM's image up to float rounding (and
 * its floor of 1e-6 max x where OSEM gives 0). */
static void test_osl_with_beta_zero_is_osem_bit_for_bit(void **state)
{
  fixture *f = *state;
  pet_sim_result r;
  pet_histogram *h = NULL;
  const pet_osem_data d = noisy_data(f, 1e5, 21, &r, &h);
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 4;
  o.iterations = 3;
  pet_image *osem = run_from_ones(f, &d, &o);
  o.algorithm = PET_OSEM_ALG_OSL;
  pet_image *osl_none = run_from_ones(f, &d, &o);
  o.prior.kind = PET_PRIOR_RDP;
  o.prior.beta = 0.0f;
  pet_image *osl_zero = run_from_ones(f, &d, &o);
  const size_t bytes = (size_t)pet_image_num_voxels(osem) * sizeof(float);
  assert_memory_equal(osem->data, osl_none->data, bytes);
  assert_memory_equal(osem->data, osl_zero->data, bytes);
  o.algorithm = PET_OSEM_ALG_BSREM;
  o.prior.kind = PET_PRIOR_NONE;
  o.relaxation = 1.0f;
  o.relaxation_eta = 0.0f;
  pet_image *bsrem = run_from_ones(f, &d, &o);
  double amax = 0.0;
  const double diff = max_abs_diff(bsrem, osem, &amax);
  assert_true(amax > 0.0);
  assert_true(diff < 1e-4 * amax);
  assert_true(diff > 0.0); /* not the same expression: this is the rounding, not a copy */
  pet_image_destroy(&osem);
  pet_image_destroy(&osl_none);
  pet_image_destroy(&osl_zero);
  pet_image_destroy(&bsrem);
  pet_histogram_destroy(&h);
  pet_sim_result_free(&r);
}

static double objective(const pet_osem_data *d, const pet_osem_opts *o, const pet_image *x)
{
  double ll = 0.0, u = 0.0;
  assert_int_equal(pet_osem_loglik(d, o, x, &ll), PET_OK);
  assert_int_equal(pet_prior_value(&o->prior, x, &u), PET_OK);
  return ll - u;
}

/* BSREM maximises L(x) - U(x): with a decreasing relaxation the objective rises at every
 * iteration (RDP and quadratic). */
static void test_bsrem_objective_increases_monotonically(void **state)
{
  fixture *f = *state;
  pet_sim_result r;
  pet_histogram *h = NULL;
  const pet_osem_data d = noisy_data(f, 1e5, 5, &r, &h);
  const double smean = mean_sensitivity(f, &d);
  for (int kind = PET_PRIOR_RDP; kind <= PET_PRIOR_QUADRATIC; ++kind) {
    pet_osem_opts o = pet_osem_opts_default();
    o.subsets = 2;
    o.iterations = 1;
    o.algorithm = PET_OSEM_ALG_BSREM;
    o.prior.kind = (pet_prior_kind)kind;
    o.prior.beta = (float)(kind == PET_PRIOR_RDP ? 0.05 * smean : 2e-2 * smean);
    o.relaxation = 1.0f;
    o.relaxation_eta = 0.5f;
    pet_image *x = NULL;
    assert_int_equal(pet_image_create_owned(&x, f->ip, PET_HOST), PET_OK);
    pet_image_fill(x, 1.0f);
    double prev = objective(&d, &o, x);
    for (int it = 0; it < 12; ++it) {
      o.start_iteration = it;
      o.iterations = it + 1; /* one iteration at a time, with iteration it's relaxation */
      assert_int_equal(pet_osem_run(&d, &o, NULL, x), PET_OK);
      const double phi = objective(&d, &o, x);
      if (!(phi > prev))
        fail_msg("%s: iteration %d: objective %.10g after %.10g", pet_prior_kind_name(o.prior.kind), it + 1, phi,
                 prev);
      prev = phi;
    }
    pet_image_destroy(&x);
  }
  pet_histogram_destroy(&h);
  pet_sim_result_free(&r);
}

/* The regularised images are smoother than OSEM's in the prior's own measure, and resuming
 * BSREM at an iteration gives the uninterrupted image (the relaxation follows the iteration). */
static void test_regularised_images_have_a_lower_penalty_than_osem(void **state)
{
  fixture *f = *state;
  pet_sim_result r;
  pet_histogram *h = NULL;
  const pet_osem_data d = noisy_data(f, 1e5, 9, &r, &h);
  const double smean = mean_sensitivity(f, &d);
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 4;
  o.iterations = 4;
  pet_image *osem = run_from_ones(f, &d, &o);
  for (int alg = PET_OSEM_ALG_OSL; alg <= PET_OSEM_ALG_BSREM; ++alg)
    for (int kind = PET_PRIOR_RDP; kind <= PET_PRIOR_QUADRATIC; ++kind) {
      pet_osem_opts m = o;
      m.algorithm = (pet_osem_algorithm)alg;
      m.prior.kind = (pet_prior_kind)kind;
      m.prior.beta = (float)(kind == PET_PRIOR_RDP ? 0.05 * smean : 2e-2 * smean);
      pet_image *x = run_from_ones(f, &d, &m);
      double u_reg = 0.0, u_osem = 0.0;
      assert_int_equal(pet_prior_value(&m.prior, x, &u_reg), PET_OK);
      assert_int_equal(pet_prior_value(&m.prior, osem, &u_osem), PET_OK);
      if (!(u_reg < 0.8 * u_osem))
        fail_msg("%s %s: penalty %g, OSEM's %g", pet_osem_algorithm_name(m.algorithm),
                 pet_prior_kind_name(m.prior.kind), u_reg, u_osem);
      for (int64_t v = 0; v < pet_image_num_voxels(x); ++v) assert_true(isfinite(x->data[v]) && x->data[v] >= 0.0f);
      if (alg == PET_OSEM_ALG_BSREM && kind == PET_PRIOR_RDP) {
        pet_image *y = NULL;
        assert_int_equal(pet_image_create_owned(&y, f->ip, PET_HOST), PET_OK);
        pet_image_fill(y, 1.0f);
        pet_osem_opts first = m;
        first.iterations = 2;
        assert_int_equal(pet_osem_run(&d, &first, NULL, y), PET_OK);
        pet_osem_opts rest = m;
        rest.start_iteration = 2;
        rest.start_subset = 0;
        assert_int_equal(pet_osem_run(&d, &rest, NULL, y), PET_OK);
        assert_memory_equal(x->data, y->data, (size_t)pet_image_num_voxels(x) * sizeof(float));
        pet_image_destroy(&y);
      }
      pet_image_destroy(&x);
    }
  pet_image_destroy(&osem);
  pet_histogram_destroy(&h);
  pet_sim_result_free(&r);
}

/* List-mode and histogram data of the same counts give the same regularised image (one
 * subset: the same data in each update; the list-mode sensitivity is the histogram's). */
static void test_listmode_map_equals_histogram_map(void **state)
{
  fixture *f = *state;
  pet_sim_opts so = pet_sim_opts_default();
  so.total_trues = 5e4;
  so.seed = 4;
  pet_sim_result r;
  assert_int_equal(pet_simulate_histogram(f->scanner, f->L, f->truth, NULL, &so, &r), PET_OK);
  pet_histogram *h = NULL;
  pet_listmode *lm = NULL;
  assert_int_equal(pet_histogram_create_alias(&h, f->scanner, r.counts), PET_OK);
  assert_int_equal(pet_simulate_listmode_from_histogram(f->L, r.counts, 60000, 11, &lm), PET_OK);
  pet_osem_data dh = histo_data(f, h, NULL);
  pet_osem_data dl = dh;
  dl.histogram = NULL;
  dl.listmode = lm;
  const double smean = mean_sensitivity(f, &dh);
  for (int alg = PET_OSEM_ALG_OSL; alg <= PET_OSEM_ALG_BSREM; ++alg) {
    pet_osem_opts o = pet_osem_opts_default();
    o.subsets = 1;
    o.iterations = 3;
    o.algorithm = (pet_osem_algorithm)alg;
    o.prior.kind = PET_PRIOR_RDP;
    o.prior.beta = (float)(0.02 * smean);
    pet_image *xh = run_from_ones(f, &dh, &o), *xl = run_from_ones(f, &dl, &o);
    double amax = 0.0;
    const double diff = max_abs_diff(xh, xl, &amax);
    if (!(amax > 0.0 && diff < 1e-3 * amax))
      fail_msg("%s: list-mode vs histogram: max diff %g of %g", pet_osem_algorithm_name(o.algorithm), diff, amax);
    pet_image_destroy(&xh);
    pet_image_destroy(&xl);
  }
  pet_listmode_destroy(&lm);
  pet_histogram_destroy(&h);
  pet_sim_result_free(&r);
}

static void test_regularised_options_are_checked(void **state)
{
  fixture *f = *state;
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create_owned(&h, f->scanner), PET_OK);
  pet_osem_data d = histo_data(f, h, NULL);
  pet_image *x = NULL;
  assert_int_equal(pet_image_create_owned(&x, f->ip, PET_HOST), PET_OK);
  pet_osem_opts o = pet_osem_opts_default();
  o.algorithm = (pet_osem_algorithm)9;
  assert_int_equal(pet_osem_check(&d, &o), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "algorithm"));
  o = pet_osem_opts_default();
  o.algorithm = PET_OSEM_ALG_OSL;
  o.prior.kind = PET_PRIOR_RDP;
  o.prior.beta = -0.5f;
  assert_int_equal(pet_osem_run(&d, &o, NULL, x), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "beta"));
  o.prior.beta = 1.0f;
  o.prior.gamma = -1.0f;
  assert_int_equal(pet_osem_check(&d, &o), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "gamma"));
  o.prior.gamma = 2.0f;
  o.prior.kind = (pet_prior_kind)5;
  assert_int_equal(pet_osem_check(&d, &o), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "prior"));
  o = pet_osem_opts_default(); /* a prior needs a regularised algorithm */
  o.prior.kind = PET_PRIOR_QUADRATIC;
  o.prior.beta = 1.0f;
  assert_int_equal(pet_osem_check(&d, &o), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "osl or bsrem"));
  o.algorithm = PET_OSEM_ALG_BSREM;
  o.relaxation = 0.0f;
  assert_int_equal(pet_osem_check(&d, &o), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "relaxation"));
  o.relaxation = 1.0f;
  o.relaxation_eta = NAN;
  assert_int_equal(pet_osem_check(&d, &o), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "relaxation_eta"));
  o.relaxation_eta = 0.1f;
  assert_int_equal(pet_osem_check(&d, &o), PET_OK);
  pet_image_destroy(&x);
  pet_histogram_destroy(&h);
}

int main(void)
{
  pet_error_set_print(false);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mlem_loglik_increases_monotonically),
      cmocka_unit_test(test_osem_noise_free_error_decreases_to_bound),
      cmocka_unit_test(test_listmode_osem_equals_histogram_osem),
      cmocka_unit_test(test_corrections_recover_the_phantom_and_are_needed),
      cmocka_unit_test(test_psf_blur_is_self_adjoint),
      cmocka_unit_test(test_sensitivity_needs_no_counts),
      cmocka_unit_test(test_osem_rejects_bad_options),
      cmocka_unit_test(test_osl_with_beta_zero_is_osem_bit_for_bit),
      cmocka_unit_test(test_bsrem_objective_increases_monotonically),
      cmocka_unit_test(test_regularised_images_have_a_lower_penalty_than_osem),
      cmocka_unit_test(test_listmode_map_equals_histogram_map),
      cmocka_unit_test(test_regularised_options_are_checked),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
