/* TOF histograms (pet_projector_params.num_tof_bins): a LOR's bins sum to its non-TOF
 * projection, bin placement against the erf formula, adjointness, CPU == GPU, bad fields. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_gpu.h"
#include "pet_h5.h"
#include "pet_histogram.h"
#include "pet_listmode.h"
#include "pet_osem.h"
#include "pet_phantom.h"
#include "pet_projector.h"
#include "pet_scanner.h"
#include "pet_simulate.h"
#include "pet_test_util.h"

static pet_image *make_image(pet_image_params g, uint64_t key)
{
  pet_image *img = NULL;
  assert_int_equal(pet_image_create_owned(&img, g, PET_HOST), PET_OK);
  for (int64_t v = 0; v < pet_image_num_voxels(img); ++v)
    img->data[v] = key ? 0.2f + pet_test_uniform(key + (uint64_t)v) : 0.0f;
  return img;
}

static pet_image_params test_geom(void)
{
  pet_image_params g = pet_image_params_make(20, 16, 12, 60.0f, 48.0f, 24.0f);
  g.off_x = 1.5f;
  g.off_y = -2.0f;
  g.off_z = 0.5f;
  return g;
}

/* n LORs between points of a cylinder of radius r (|z| <= hz) with radial crystal normals. */
typedef struct lorset {
  int64_t n;
  float *lor, *ori;
} lorset;

static lorset make_lors(int64_t n, uint64_t seed, float r, float hz)
{
  lorset s = {n, malloc((size_t)n * 24), malloc((size_t)n * 24)};
  for (int64_t i = 0; i < n; ++i)
    for (int e = 0; e < 2; ++e) {
      float phi = 6.2831853f * pet_test_uniform(seed + 8 * (uint64_t)i + (uint64_t)e);
      float z = hz * (2.0f * pet_test_uniform(seed + 8 * (uint64_t)i + 2 + (uint64_t)e) - 1.0f);
      s.lor[6 * i + 3 * e] = r * cosf(phi);
      s.lor[6 * i + 3 * e + 1] = r * sinf(phi);
      s.lor[6 * i + 3 * e + 2] = z;
      s.ori[6 * i + 3 * e] = cosf(phi);
      s.ori[6 * i + 3 * e + 1] = sinf(phi);
      s.ori[6 * i + 3 * e + 2] = 0.0f;
    }
  return s;
}

static void free_lors(lorset *s)
{
  free(s->lor);
  free(s->ori);
}

/* Projector k (0 S, 1 MRS, 2 DD) with TOF bins: FWHM 200 ps (30 mm), bins of bin_ps. */
static pet_projector_params tof_params(int k, int nbins, float bin_ps)
{
  static const char *names[3] = {"S", "MRS", "DD"};
  pet_projector_params p = pet_projector_params_default();
  assert_int_equal(pet_projector_params_set_name(&p, names[k]), PET_OK);
  p.crystal_size_trans = 2.0f;
  p.crystal_size_z = 2.5f;
  p.tof_fwhm_ps = 200.0f;
  p.num_tof_bins = nbins;
  p.tof_bin_width_ps = bin_ps;
  p.num_threads = 2;
  return p;
}

static const char *kind_name(int k) { return k == 0 ? "S" : (k == 1 ? "MRS" : "DD"); }

static void test_tof_bins_sum_to_non_tof_projection(void **state)
{
  (void)state;
  const pet_image_params g = test_geom();
  pet_image *x = make_image(g, 1000);
  /* LORs of length <= 300 mm; 25 bins of 16 mm (106.7 ps) reach 200 mm either side of the
   * midpoint, beyond 150 mm plus the kernel's 3 sigma (38 mm): they cover every LOR */
  const float bin_ps = 2.0f * 16.0f / PET_SPEED_OF_LIGHT_MM_PS;
  lorset s = make_lors(2000, 55, 150.0f, 10.0f);
  for (int k = 0; k < 3; ++k)
    for (int ori = 0; ori <= 1; ++ori) {
      pet_lor_batch b = {s.n, s.lor, ori ? s.ori : NULL, NULL};
      pet_projector_params p0 = tof_params(k, 0, 0.0f);
      pet_projector_params pt = tof_params(k, 25, bin_ps);
      float *y0 = malloc((size_t)s.n * 4), *yt = malloc((size_t)s.n * 25 * 4);
      assert_int_equal(pet_project_fwd_cpu(&p0, &b, x, y0), PET_OK);
      assert_int_equal(pet_project_fwd_cpu(&pt, &b, x, yt), PET_OK);
      double worst = 0.0;
      int64_t hit = 0;
      for (int64_t i = 0; i < s.n; ++i) {
        double sum = 0.0;
        for (int t = 0; t < 25; ++t) {
          assert_true(yt[i * 25 + t] >= 0.0f);
          sum += yt[i * 25 + t];
        }
        if (y0[i] > 0.0f) ++hit;
        double r = fabs(sum - y0[i]) / fmax(fabs((double)y0[i]), 1e-3);
        if (r > worst) worst = r;
      }
      printf("  %-3s orient %d: %lld LORs hit, worst |sum_t - non-TOF| / non-TOF %.3g\n",
             kind_name(k), ori, (long long)hit, worst);
      assert_true(hit > 200);
      assert_true(worst <= 1e-5);
      free(y0);
      free(yt);
    }
  free_lors(&s);
  pet_image_destroy(&x);
}

/* The truncated, renormalised Gaussian's mass on [a, b] (mm from its centre), in double. */
static double kernel_mass(double a, double b, double sigma, double nsig)
{
  double h = nsig * sigma;
  a = fmax(fmin(a, h), -h);
  b = fmax(fmin(b, h), -h);
  return 0.5 * (erf(b / (sqrt(2.0) * sigma)) - erf(a / (sqrt(2.0) * sigma))) /
         erf(nsig / sqrt(2.0));
}

/* One hot voxel on a LOR along x: bin t's projection is the voxel's chord times the kernel's
 * mass, centred on the voxel, over bin t's interval, with bin 0 at the end of endpoint 2 (the
 * most negative t2 - t1). */
static void test_tof_bins_place_a_point_by_the_erf_formula(void **state)
{
  (void)state;
  pet_image_params g = pet_image_params_make(40, 1, 1, 80.0f, 2.0f, 2.0f);
  for (int k = 0; k < 3; k += 2) {
    for (int dir = 0; dir < 2; ++dir) {
      pet_image *x = make_image(g, 0);
      const int hot = 28; /* centre at x = -40 + 2 * 28 + 1 = 17 mm */
      x->data[hot] = 1.0f;
      const float lor[6] = {dir ? 100.0f : -100.0f, 0.0f, 0.0f, dir ? -100.0f : 100.0f, 0.0f,
                            0.0f};
      const int nb = 13;
      const float bin_ps = 100.0f; /* 15 mm */
      pet_projector_params p = tof_params(k, nb, bin_ps);
      p.crystal_size_z = 2.0f; /* DD: the footprint is the voxel's face */
      pet_lor_batch b = {1, lor, NULL, NULL};
      float y[13];
      assert_int_equal(pet_project_fwd_cpu(&p, &b, x, y), PET_OK);
      const double bm = 0.5 * PET_SPEED_OF_LIGHT_MM_PS * bin_ps;
      const double sigma = 0.5 * PET_SPEED_OF_LIGHT_MM_PS * 200.0 / (2.0 * sqrt(2.0 * log(2.0)));
      const double s = dir ? 100.0 - 17.0 : 100.0 + 17.0; /* from endpoint 1 */
      const double len = 200.0;
      int tmax = 0;
      for (int t = 0; t < nb; ++t) {
        /* bin t: measured positions d with (len/2 - d)/bm + nb/2 in [t, t + 1) */
        double d_hi = 0.5 * len - (t - 0.5 * nb) * bm, d_lo = 0.5 * len - (t + 1 - 0.5 * nb) * bm;
        double want = 2.0 * kernel_mass(d_lo - s, d_hi - s, sigma, 3.0);
        if (fabs(y[t] - want) > 1e-5) {
          print_error("%s dir %d bin %d: got %.8g want %.8g\n", kind_name(k), dir, t, y[t], want);
          fail();
        }
        if (y[t] > y[tmax]) tmax = t;
      }
      /* the emission is 17 mm from the midpoint toward endpoint 1 (dir 0: endpoint 2) */
      assert_int_equal(tmax, dir ? 7 : 5);
      pet_image_destroy(&x);
    }
  }
}

static void test_tof_bins_are_adjoint(void **state)
{
  (void)state;
  const pet_image_params g = test_geom();
  pet_image *x = make_image(g, 3000);
  const int nb = 13;
  lorset s = make_lors(1500, 91, 60.0f, 12.0f);
  float *y = malloc((size_t)s.n * nb * 4), *ax = malloc((size_t)s.n * nb * 4);
  for (int64_t i = 0; i < s.n * nb; ++i) y[i] = pet_test_uniform(9000 + (uint64_t)i);
  const int64_t nv = pet_image_num_voxels(x);
  for (int k = 0; k < 3; ++k)
    for (int ori = 0; ori <= 1; ++ori)
      for (int clip = 0; clip <= 1; ++clip) {
        pet_projector_params p = tof_params(k, nb, 60.0f); /* 9 mm bins: some LOR ends outside */
        if (clip) {
          p.fov_radius_mm = 25.0f;
          p.dd_centre_box = k == 2;
        }
        pet_lor_batch b = {s.n, s.lor, ori ? s.ori : NULL, NULL};
        assert_int_equal(pet_project_fwd_cpu(&p, &b, x, ax), PET_OK);
        double lhs = 0.0;
        for (int64_t i = 0; i < s.n * nb; ++i) lhs += (double)ax[i] * y[i];
        assert_true(lhs > 0.0);
        for (int strat = PET_BACK_AUTO; strat <= PET_BACK_PRIVATE; ++strat) {
          pet_image *aty = make_image(g, 0);
          assert_int_equal(pet_project_back_cpu_with(&p, &b, y, aty, (pet_back_strategy)strat),
                           PET_OK);
          double rhs = 0.0;
          for (int64_t v = 0; v < nv; ++v) rhs += (double)x->data[v] * aty->data[v];
          if (pet_test_reldiff(lhs, rhs) > 1e-5) {
            print_error("%s orient %d clip %d strategy %d: <Ax,y> %.10g <x,A'y> %.10g\n",
                        kind_name(k), ori, clip, strat, lhs, rhs);
            fail();
          }
          pet_image_destroy(&aty);
        }
      }
  free(y);
  free(ax);
  free_lors(&s);
  pet_image_destroy(&x);
}

static void test_tof_bins_cpu_equals_gpu(void **state)
{
  (void)state;
  if (pet_gpu_device_count() <= 0) {
    printf("  no CUDA device: skipped\n");
    skip();
  }
  const pet_image_params g = test_geom();
  pet_image *x = make_image(g, 5000), *dx = NULL;
  assert_int_equal(pet_image_create_owned(&dx, g, PET_DEVICE), PET_OK);
  assert_int_equal(pet_image_copy(dx, x), PET_OK);
  const int nb = 13;
  lorset s = make_lors(4000, 17, 60.0f, 12.0f);
  const size_t nbytes = (size_t)s.n * nb * 4;
  float *y = malloc(nbytes), *cpu = malloc(nbytes), *gpu = malloc(nbytes);
  for (int64_t i = 0; i < s.n * nb; ++i) y[i] = pet_test_uniform(7000 + (uint64_t)i);
  float *dl = NULL, *dor = NULL, *dy = NULL;
  assert_int_equal(pet_gpu_malloc((void **)&dl, (size_t)s.n * 24, "lors"), PET_OK);
  assert_int_equal(pet_gpu_malloc((void **)&dor, (size_t)s.n * 24, "orient"), PET_OK);
  assert_int_equal(pet_gpu_malloc((void **)&dy, nbytes, "values"), PET_OK);
  assert_int_equal(pet_gpu_memcpy(dl, s.lor, (size_t)s.n * 24, 0), PET_OK);
  assert_int_equal(pet_gpu_memcpy(dor, s.ori, (size_t)s.n * 24, 0), PET_OK);
  const int64_t nv = pet_image_num_voxels(x);
  float *back_gpu = malloc((size_t)nv * 4);
  for (int k = 0; k < 3; ++k) {
    pet_projector_params p = tof_params(k, nb, 60.0f);
    pet_lor_batch hb = {s.n, s.lor, s.ori, NULL}, db = {s.n, dl, dor, NULL};
    assert_int_equal(pet_project_fwd_cpu(&p, &hb, x, cpu), PET_OK);
    assert_int_equal(pet_gpu_project_fwd(&p, &db, dx, dy), PET_OK);
    assert_int_equal(pet_gpu_memcpy(gpu, dy, nbytes, 1), PET_OK);
    double amax = 0.0, worst = 0.0;
    for (int64_t i = 0; i < s.n * nb; ++i) amax = fmax(amax, fabs(cpu[i]));
    for (int64_t i = 0; i < s.n * nb; ++i)
      worst = fmax(worst, fabs((double)cpu[i] - gpu[i]) / fmax(fabs(cpu[i]), 1e-2 * amax));
    printf("  %-3s forward: worst rel diff %.3g\n", kind_name(k), worst);
    assert_true(amax > 0.0 && worst < 1e-3);

    pet_image *bc = make_image(g, 0), *bd = NULL;
    assert_int_equal(pet_image_create_owned(&bd, g, PET_DEVICE), PET_OK);
    assert_int_equal(pet_image_copy(bd, bc), PET_OK);
    assert_int_equal(pet_gpu_memcpy(dy, y, nbytes, 0), PET_OK);
    assert_int_equal(pet_project_back_cpu(&p, &hb, y, bc), PET_OK);
    assert_int_equal(pet_gpu_project_back(&p, &db, dy, bd), PET_OK);
    assert_int_equal(pet_gpu_memcpy(back_gpu, bd->data, (size_t)nv * 4, 1), PET_OK);
    amax = worst = 0.0;
    for (int64_t v = 0; v < nv; ++v) amax = fmax(amax, fabs(bc->data[v]));
    for (int64_t v = 0; v < nv; ++v)
      worst = fmax(worst,
                   fabs((double)bc->data[v] - back_gpu[v]) / fmax(fabs(bc->data[v]), 1e-2 * amax));
    printf("  %-3s back: worst rel diff %.3g\n", kind_name(k), worst);
    assert_true(amax > 0.0 && worst < 1e-3);
    pet_image_destroy(&bc);
    pet_image_destroy(&bd);
  }
  free(back_gpu);
  pet_gpu_free(dl);
  pet_gpu_free(dor);
  pet_gpu_free(dy);
  free(y);
  free(cpu);
  free(gpu);
  free_lors(&s);
  pet_image_destroy(&x);
  pet_image_destroy(&dx);
}

/* A ring of 96 detectors x 4 rings (radius 60 mm), a 32 x 32 x 4 image and a phantom's
 * list-mode with TOF times: the simulated events' pairs, each given a time drawn uniformly in
 * [-400, 400] ps (the reconstructions compared see the same events, so the times need not be
 * physical); odd events are written with their pair swapped and the time negated. */
typedef struct osem_case {
  pet_scanner *scanner;
  pet_histo_layout *L;
  pet_image_params ip;
  pet_listmode *lm;
  pet_sim_result r;
} osem_case;

static void osem_case_make(osem_case *c)
{
  memset(c, 0, sizeof *c);
  pet_scanner_params sp = pet_scanner_params_small();
  snprintf(sp.name, sizeof sp.name, "TOF96");
  sp.dets_per_ring = 96;
  sp.num_rings = 4;
  sp.axial_fov = 12.0f;
  sp.crystal_size_z = 3.0f;
  sp.crystal_size_trans = 3.0f;
  sp.scanner_radius = 60.0f;
  sp.dets_per_block = 8;
  sp.max_ring_diff = 3;
  sp.min_ang_diff = 1;
  sp.tof_fwhm_ps = 400.0f;
  assert_int_equal(pet_scanner_create(&c->scanner, &sp), PET_OK);
  assert_int_equal(pet_histo_layout_create(&c->L, c->scanner), PET_OK);
  c->ip = pet_image_params_make(32, 32, 4, 96.f, 96.f, 12.f);
  pet_phantom ph = pet_phantom_default(&c->ip);
  pet_image *truth = NULL;
  assert_int_equal(pet_image_create_owned(&truth, c->ip, PET_HOST), PET_OK);
  pet_phantom_activity(&ph, truth, 2);
  pet_sim_opts so = pet_sim_opts_default();
  so.total_trues = 3e4;
  so.seed = 5;
  assert_int_equal(pet_simulate_histogram(c->scanner, c->L, truth, NULL, &so, &c->r), PET_OK);
  pet_listmode *plain = NULL;
  assert_int_equal(pet_simulate_listmode_from_histogram(c->L, c->r.counts, 60000, 13, &plain),
                   PET_OK);
  assert_int_equal(pet_listmode_create_owned(&c->lm, plain->num_events, true), PET_OK);
  for (int64_t e = 0; e < plain->num_events; ++e) {
    /* odd events name their pair the other way round, with the time negated: the same
     * emission, which the binning must put into the same TOF bin */
    const int flip = (int)(e & 1);
    const float t = 800.0f * (pet_test_uniform(424242 + (uint64_t)e) - 0.5f);
    c->lm->time_ms[e] = plain->time_ms[e];
    c->lm->d1[e] = flip ? plain->d2[e] : plain->d1[e];
    c->lm->d2[e] = flip ? plain->d1[e] : plain->d2[e];
    c->lm->tof_ps[e] = flip ? -t : t;
  }
  pet_listmode_destroy(&plain);
  pet_image_destroy(&truth);
}

static void osem_case_free(osem_case *c)
{
  pet_listmode_destroy(&c->lm);
  pet_sim_result_free(&c->r);
  pet_histo_layout_destroy(&c->L);
  pet_scanner_destroy(&c->scanner);
}

/* The events binned into a TOF histogram of nb bins of w ps. */
static pet_histogram *tof_histogram(const osem_case *c, int nb, float w)
{
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create(&h, c->scanner, PET_OWNED, PET_HOST), PET_OK);
  assert_int_equal(pet_histogram_set_tof_bins(h, nb, w), PET_OK);
  assert_int_equal(pet_histogram_allocate(h), PET_OK);
  int64_t skipped = -1;
  assert_int_equal(pet_histogram_add_events(h, c->lm->d1, c->lm->d2, c->lm->tof_ps,
                                            c->lm->num_events, &skipped),
                   PET_OK);
  assert_int_equal(skipped, 0);
  double total = 0.0;
  for (int64_t v = 0; v < pet_histogram_num_values(h); ++v) total += h->data[v];
  assert_true(total == (double)c->lm->num_events);
  return h;
}

static double rel_diff_images(const pet_image *a, const pet_image *b)
{
  double num = 0.0, den = 0.0;
  for (int64_t v = 0; v < pet_image_num_voxels(a); ++v) {
    num += ((double)a->data[v] - b->data[v]) * ((double)a->data[v] - b->data[v]);
    den += (double)a->data[v] * a->data[v];
  }
  assert_true(den > 0.0);
  return sqrt(num / den);
}

/* TOF histogram OSEM == TOF list-mode OSEM on the same events, up to the binning: 64 bins of
 * 28 ps (4.2 mm along the LOR, a sixth of the kernel's sigma of 25 mm) move each event by at
 * most 2.1 mm. The bins reach 136 mm either side of a LOR's midpoint, beyond the half chord
 * of any LOR through the image plus the kernel's support, so the TOF histogram's sensitivity
 * is the list-mode's. Tolerance: 2% relative RMS difference; a histogram of 16 bins of 112 ps
 * (17 mm) is expected further from the list-mode than the fine one. */
static void test_tof_histogram_osem_equals_listmode_osem(void **state)
{
  (void)state;
  osem_case c;
  osem_case_make(&c);
  pet_osem_opts o = pet_osem_opts_default();
  o.iterations = 2;
  o.proj.tof_fwhm_ps = 400.0f;
  pet_osem_data dl;
  memset(&dl, 0, sizeof dl);
  dl.scanner = c.scanner;
  dl.layout = c.L;
  dl.listmode = c.lm;
  dl.lm_count = -1;
  pet_osem_opts ol = o;
  ol.proj.tof = 1;
  ol.subsets = 1; /* list-mode subsets split the events, histogram subsets the angles: one */
  o.subsets = 1;
  pet_image *xl = NULL, *xh = NULL, *xc = NULL;
  assert_int_equal(pet_image_create_owned(&xl, c.ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&xh, c.ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&xc, c.ip, PET_HOST), PET_OK);
  pet_image_fill(xl, 1.0f);
  assert_int_equal(pet_osem_run(&dl, &ol, NULL, xl), PET_OK);

  double diff[2];
  const int nbs[2] = {64, 16};
  const float ws[2] = {28.0f, 112.0f};
  for (int k = 0; k < 2; ++k) {
    pet_histogram *h = tof_histogram(&c, nbs[k], ws[k]);
    pet_osem_data dh = dl;
    dh.listmode = NULL;
    dh.histogram = h;
    pet_osem_opts oh = o;
    oh.proj.num_tof_bins = nbs[k];
    oh.proj.tof_bin_width_ps = ws[k];
    pet_image_fill(xh, 1.0f);
    assert_int_equal(pet_osem_run(&dh, &oh, NULL, xh), PET_OK);
    diff[k] = rel_diff_images(xl, xh);
    printf("  %d TOF bins of %g ps: relative RMS difference to list-mode %.3g\n", nbs[k],
           (double)ws[k], diff[k]);
    if (k == 0) {
      /* a normalisation given per bin, or repeated per (bin, TOF bin), is the same model */
      const int64_t nbin = c.L->num_bins, T = nbs[k];
      float *m = malloc((size_t)nbin * 4), *mt = malloc((size_t)(nbin * T) * 4);
      for (int64_t b = 0; b < nbin; ++b) {
        m[b] = 0.5f + pet_test_uniform(777 + (uint64_t)b);
        for (int64_t t = 0; t < T; ++t) mt[b * T + t] = m[b];
      }
      dh.mult = m;
      pet_image_fill(xh, 1.0f);
      assert_int_equal(pet_osem_run(&dh, &oh, NULL, xh), PET_OK);
      dh.mult = mt;
      dh.mult_per_tof_bin = true;
      pet_image_fill(xc, 1.0f);
      assert_int_equal(pet_osem_run(&dh, &oh, NULL, xc), PET_OK);
      double dm = rel_diff_images(xh, xc);
      printf("  normalisation per bin vs per (bin, TOF bin): %.3g\n", dm);
      assert_true(dm < 1e-5);
      /* the data's TOF bins must be the projector's */
      oh.proj.num_tof_bins = 32;
      assert_int_equal(pet_osem_run(&dh, &oh, NULL, xc), PET_ERR_CONFIG);
      oh.proj.num_tof_bins = nbs[k];
      oh.proj.tof_bin_width_ps = 30.0f;
      assert_int_equal(pet_osem_run(&dh, &oh, NULL, xc), PET_ERR_CONFIG);
      oh.proj.num_tof_bins = 0;
      assert_int_equal(pet_osem_run(&dh, &oh, NULL, xc), PET_ERR_CONFIG);
      free(m);
      free(mt);
    }
    pet_histogram_destroy(&h);
  }
  assert_true(diff[0] < 0.02);
  assert_true(diff[1] > diff[0]);
  pet_image_destroy(&xl);
  pet_image_destroy(&xh);
  pet_image_destroy(&xc);
  osem_case_free(&c);
}

/* The GPU backend's TOF-histogram OSEM (staging T values per bin, the fused TOF-bin kernel,
 * the TOF-bin sensitivity) == the CPU backend's, with corrections per bin and per (bin, TOF
 * bin), Siddon and DD, over several batches (a small VRAM budget). */
static void test_tof_histogram_osem_cpu_equals_gpu(void **state)
{
  (void)state;
  if (pet_gpu_device_count() <= 0) {
    printf("  no CUDA device: skipped\n");
    skip();
  }
  osem_case c;
  osem_case_make(&c);
  const int T = 13;
  pet_histogram *h = tof_histogram(&c, T, 62.0f);
  const int64_t nbin = c.L->num_bins;
  float *m = malloc((size_t)nbin * 4), *at = malloc((size_t)(nbin * T) * 4);
  for (int64_t b = 0; b < nbin; ++b) {
    m[b] = 0.5f + pet_test_uniform(31 + (uint64_t)b);
    for (int t = 0; t < T; ++t) at[b * T + t] = 0.01f * pet_test_uniform(5000 + (uint64_t)(b * T + t));
  }
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = c.scanner;
  d.layout = c.L;
  d.histogram = h;
  d.lm_count = -1;
  d.mult = m;
  d.add = at;
  d.add_per_tof_bin = true;
  pet_image *xc = NULL, *xg = NULL;
  assert_int_equal(pet_image_create_owned(&xc, c.ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&xg, c.ip, PET_HOST), PET_OK);
  for (int k = 0; k < 2; ++k) {
    pet_osem_opts o = pet_osem_opts_default();
    assert_int_equal(pet_projector_params_set_name(&o.proj, k ? "DD" : "S"), PET_OK);
    o.iterations = 2;
    o.subsets = 4;
    o.proj.tof_fwhm_ps = 400.0f;
    o.proj.num_tof_bins = T;
    o.proj.tof_bin_width_ps = 62.0f;
    pet_image_fill(xc, 1.0f);
    pet_image_fill(xg, 1.0f);
    assert_int_equal(pet_osem_run(&d, &o, NULL, xc), PET_OK);
    o.gpu = true;
    o.vram_budget_bytes = 4 << 20; /* several batches per subset */
    assert_int_equal(pet_osem_run(&d, &o, NULL, xg), PET_OK);
    double r = rel_diff_images(xc, xg);
    printf("  %s: CPU vs GPU relative RMS difference %.3g\n", k ? "DD" : "S", r);
    assert_true(r < 1e-3);
  }
  free(m);
  free(at);
  pet_image_destroy(&xc);
  pet_image_destroy(&xg);
  pet_histogram_destroy(&h);
  osem_case_free(&c);
}

static void write_text(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_true(fputs(text, f) >= 0);
  assert_int_equal(fclose(f), 0);
}

static void expect_error_naming(pet_status got, pet_status want, const char *field)
{
  assert_int_equal(got, want);
  if (strstr(pet_last_error(), field) == NULL) {
    print_error("the error does not name %s: %s\n", field, pet_last_error());
    fail();
  }
}

/* numTOFBins and tofBinWidth_ps in the scanner JSON: read, written back, bad values named. */
static void test_tof_scanner_json_fields(void **state)
{
  (void)state;
  char dir[512], path[600];
  pet_test_tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/tof.json", dir);
  pet_scanner_params sp = pet_scanner_params_small();
  sp.tof_fwhm_ps = 250.0f;
  sp.num_tof_bins = 13;
  sp.tof_bin_width_ps = 125.5f;
  pet_scanner *s = NULL, *r = NULL;
  assert_int_equal(pet_scanner_create(&s, &sp), PET_OK);
  assert_int_equal(pet_scanner_write_json(s, path, NULL), PET_OK);
  assert_int_equal(pet_scanner_read_json(&r, path), PET_OK);
  assert_int_equal(r->params.num_tof_bins, 13);
  assert_true(r->params.tof_bin_width_ps == 125.5f);
  pet_scanner_destroy(&r);
  pet_scanner_destroy(&s);

  static const char *head = "{\"VERSION\": 3.2, \"scannerName\": \"T\", \"axialFOV\": 20,"
                            " \"crystalSize_z\": 4, \"crystalSize_trans\": 4, \"crystalDepth\": 10,"
                            " \"scannerRadius\": 100, \"detsPerRing\": 64, \"numRings\": 4,"
                            " \"numDOI\": 1, \"maxRingDiff\": 3, \"minAngDiff\": 1,"
                            " \"detsPerBlock\": 8";
  struct {
    const char *tail, *field;
  } bad[] = {
      {", \"tofResolution_ps\": 200, \"numTOFBins\": 0, \"tofBinWidth_ps\": 100}", "numTOFBins"},
      {", \"tofResolution_ps\": 200, \"numTOFBins\": 65, \"tofBinWidth_ps\": 100}", "numTOFBins"},
      {", \"tofResolution_ps\": 200, \"numTOFBins\": 2.5, \"tofBinWidth_ps\": 100}", "numTOFBins"},
      {", \"tofResolution_ps\": 200, \"numTOFBins\": 13, \"tofBinWidth_ps\": -100}",
       "tofBinWidth_ps"},
      {", \"tofResolution_ps\": 200, \"numTOFBins\": 13, \"tofBinWidth_ps\": 0}", "tofBinWidth_ps"},
      {", \"tofResolution_ps\": 200, \"numTOFBins\": 13}", "tofBinWidth_ps"},
      {", \"tofResolution_ps\": 200, \"tofBinWidth_ps\": 100}", "numTOFBins"},
      {", \"numTOFBins\": 13, \"tofBinWidth_ps\": 100}", "tofResolution_ps"},
  };
  char text[1024];
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; ++k) {
    snprintf(text, sizeof text, "%s%s", head, bad[k].tail);
    write_text(path, text);
    expect_error_naming(pet_scanner_read_json(&r, path), PET_ERR_CONFIG, bad[k].field);
    assert_null(r);
  }
  snprintf(text, sizeof text, "%s%s", head,
           ", \"tofResolution_ps\": 200, \"numTOFBins\": 13, \"tofBinWidth_ps\": 100}");
  write_text(path, text);
  assert_int_equal(pet_scanner_read_json(&r, path), PET_OK);
  assert_int_equal(r->params.num_tof_bins, 13);
  pet_scanner_destroy(&r);
}

/* A TOF histogram and its corrections (one per bin, one per (bin, TOF bin)) through HDF5, and
 * the files that disagree with the scanner. */
static void test_tof_histogram_h5_round_trip(void **state)
{
  (void)state;
  char dir[512], path[600];
  pet_test_tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/tof.h5", dir);
  osem_case c;
  osem_case_make(&c);
  const int T = 9; /* +-405 ps: every event */
  pet_histogram *h = tof_histogram(&c, T, 90.0f);
  const int64_t nb = c.L->num_bins;
  float *norm = malloc((size_t)nb * 4), *rnd = malloc((size_t)(nb * T) * 4);
  for (int64_t b = 0; b < nb; ++b) norm[b] = pet_test_uniform(11 + (uint64_t)b);
  for (int64_t v = 0; v < nb * T; ++v) rnd[v] = pet_test_uniform(99 + (uint64_t)v);
  pet_h5_corrections corr;
  memset(&corr, 0, sizeof corr);
  corr.normalisation = norm;
  corr.randoms = rnd;
  pet_h5_tof_info ti = {T, 90.0f, PET_H5_CORR_RANDOMS};
  assert_int_equal(pet_h5_write_histogram_tof(path, c.scanner->params.name, nb, &ti, h->data,
                                              &corr),
                   PET_OK);
  pet_h5_tof_info got;
  int64_t gnb = 0;
  unsigned which = 0;
  assert_int_equal(pet_h5_histogram_tof_info(path, &gnb, &got), PET_OK);
  assert_int_equal(gnb, nb);
  assert_int_equal(got.num_tof_bins, T);
  assert_true(got.tof_bin_width_ps == 90.0f);
  assert_int_equal(got.corr_per_tof_bin, PET_H5_CORR_RANDOMS);
  assert_int_equal(pet_h5_histogram_info(path, &gnb, NULL, 0, &which), PET_OK);
  assert_int_equal(gnb, nb);
  assert_int_equal(which, PET_H5_CORR_NORMALISATION | PET_H5_CORR_RANDOMS);

  pet_histogram *r = NULL;
  assert_int_equal(pet_h5_read_histogram_file(path, c.scanner, &r), PET_OK);
  assert_int_equal(r->num_tof_bins, T);
  assert_true(r->tof_bin_width_ps == 90.0f);
  assert_memory_equal(r->data, h->data, (size_t)(nb * T) * 4);
  pet_histogram_destroy(&r);
  float *back = malloc((size_t)(nb * T) * 4);
  assert_int_equal(pet_h5_read_histogram_range(path, "corrections/randoms", 0, nb * T, back),
                   PET_OK);
  assert_memory_equal(back, rnd, (size_t)(nb * T) * 4);
  assert_int_equal(pet_h5_read_histogram_range(path, "corrections/normalisation", 0, nb, back),
                   PET_OK);
  assert_memory_equal(back, norm, (size_t)nb * 4);

  /* the scanner's numTOFBins / tofBinWidth_ps must be the file's */
  pet_scanner_params sp = c.scanner->params;
  sp.num_tof_bins = 11;
  sp.tof_bin_width_ps = 90.0f;
  pet_scanner *other = NULL;
  assert_int_equal(pet_scanner_create(&other, &sp), PET_OK);
  expect_error_naming(pet_h5_read_histogram_file(path, other, &r), PET_ERR_IO, "numTOFBins");
  assert_null(r);
  pet_scanner_destroy(&other);
  sp.num_tof_bins = T;
  sp.tof_bin_width_ps = 80.0f;
  assert_int_equal(pet_scanner_create(&other, &sp), PET_OK);
  expect_error_naming(pet_h5_read_histogram_file(path, other, &r), PET_ERR_IO, "tofBinWidth_ps");
  pet_scanner_destroy(&other);
  /* a scanner that says nothing of TOF bins takes the file's */
  sp.num_tof_bins = 0;
  sp.tof_bin_width_ps = 0.0f;
  assert_int_equal(pet_scanner_create(&other, &sp), PET_OK);
  assert_int_equal(pet_h5_read_histogram_file(path, other, &r), PET_OK);
  assert_int_equal(r->num_tof_bins, T);
  pet_histogram_destroy(&r);
  pet_scanner_destroy(&other);

  /* bad TOF fields are refused when writing */
  ti.num_tof_bins = 65;
  expect_error_naming(pet_h5_write_histogram_tof(path, "x", nb, &ti, h->data, NULL), PET_ERR_ARG,
                      "num_tof_bins");
  ti.num_tof_bins = T;
  ti.tof_bin_width_ps = -1.0f;
  expect_error_naming(pet_h5_write_histogram_tof(path, "x", nb, &ti, h->data, NULL), PET_ERR_ARG,
                      "tof_bin_width_ps");
  /* and in the histogram itself */
  pet_histogram *e = NULL;
  assert_int_equal(pet_histogram_create(&e, c.scanner, PET_OWNED, PET_HOST), PET_OK);
  expect_error_naming(pet_histogram_set_tof_bins(e, -1, 100.0f), PET_ERR_ARG, "numTOFBins");
  expect_error_naming(pet_histogram_set_tof_bins(e, 5, 0.0f), PET_ERR_ARG, "tofBinWidth_ps");
  pet_histogram_destroy(&e);

  free(back);
  free(norm);
  free(rnd);
  pet_histogram_destroy(&h);
  osem_case_free(&c);
}

static void test_tof_bins_bad_params_are_errors(void **state)
{
  (void)state;
  pet_projector_params p = tof_params(0, 13, 100.0f);
  assert_int_equal(pet_projector_params_check(&p), PET_OK);
  p.num_tof_bins = -1;
  assert_int_equal(pet_projector_params_check(&p), PET_ERR_ARG);
  p.num_tof_bins = 65;
  assert_int_equal(pet_projector_params_check(&p), PET_ERR_ARG);
  p = tof_params(0, 13, 0.0f);
  assert_int_equal(pet_projector_params_check(&p), PET_ERR_ARG);
  p = tof_params(0, 13, -50.0f);
  assert_int_equal(pet_projector_params_check(&p), PET_ERR_ARG);
  p = tof_params(0, 13, NAN);
  assert_int_equal(pet_projector_params_check(&p), PET_ERR_ARG);
  p = tof_params(0, 13, 100.0f);
  p.tof_fwhm_ps = 0.0f;
  assert_int_equal(pet_projector_params_check(&p), PET_ERR_ARG);
  p = tof_params(0, 13, 100.0f);
  p.tof = 1; /* list-mode TOF and TOF bins together */
  assert_int_equal(pet_projector_params_check(&p), PET_ERR_ARG);
  /* and the projector refuses to run with them */
  pet_image *x = make_image(test_geom(), 1);
  const float lor[6] = {-100.0f, 0.0f, 0.0f, 100.0f, 0.0f, 0.0f};
  pet_lor_batch b = {1, lor, NULL, NULL};
  float y[13];
  p = tof_params(2, 13, -1.0f);
  assert_int_equal(pet_project_fwd_cpu(&p, &b, x, y), PET_ERR_ARG);
  assert_int_equal(pet_project_back_cpu(&p, &b, y, x), PET_ERR_ARG);
  pet_image_destroy(&x);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tof_bins_sum_to_non_tof_projection),
      cmocka_unit_test(test_tof_bins_place_a_point_by_the_erf_formula),
      cmocka_unit_test(test_tof_bins_are_adjoint),
      cmocka_unit_test(test_tof_bins_cpu_equals_gpu),
      cmocka_unit_test(test_tof_histogram_osem_equals_listmode_osem),
      cmocka_unit_test(test_tof_histogram_osem_cpu_equals_gpu),
      cmocka_unit_test(test_tof_scanner_json_fields),
      cmocka_unit_test(test_tof_histogram_h5_round_trip),
      cmocka_unit_test(test_tof_bins_bad_params_are_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
