/* Single scatter simulation (pet_scatter.h): the estimate of a uniform water cylinder against
 * an independent brute-force evaluation of the single-scatter integral (analytic chords, a
 * fine grid of scatter points), the Klein-Nishina normalisation, the tail fit, TOF bins summing
 * to the non-TOF estimate, and bad inputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_config.h"
#include "pet_fov.h"
#include "pet_h5.h"
#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_job.h"
#include "pet_nifti.h"
#include "pet_project_batch.h"
#include "pet_projector.h"
#include "pet_scanner.h"
#include "pet_scatter.h"
#include "pet_test_util.h"

/* the water cylinder: radius CYL_R, |z| < CYL_HZ (the image's z extent), mu of water */
#define CYL_R 60.0
#define CYL_HZ 12.5
#define MU_WATER 0.0096
#define LAMBDA0 1.0
#define TEST_PI 3.14159265358979323846

typedef struct fixture {
  pet_scanner *s;
  pet_histo_layout *L;
  pet_image *mu, *lam;
} fixture;

/* a voxel's fraction inside the cylinder, by 4 x 4 supersampling in x-y */
static float cyl_fraction(const pet_image_params *g, int32_t i, int32_t j)
{
  float vx = pet_image_vx(g), vy = pet_image_vy(g);
  int in = 0;
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) {
      double x = ((double)i - 0.5 * (g->nx - 1) + (a + 0.5) / 4.0 - 0.5) * vx + g->off_x;
      double y = ((double)j - 0.5 * (g->ny - 1) + (b + 0.5) / 4.0 - 0.5) * vy + g->off_y;
      in += x * x + y * y < CYL_R * CYL_R;
    }
  return (float)in / 16.0f;
}

static void fixture_make(fixture *f, double radius)
{
  memset(f, 0, sizeof *f);
  pet_scanner_params p = pet_scanner_params_small();
  assert_int_equal(pet_scanner_create(&f->s, &p), PET_OK);
  assert_int_equal(pet_histo_layout_create(&f->L, f->s), PET_OK);
  pet_image_params g = pet_image_params_make(64, 64, 10, 160.0f, 160.0f, (float)(2.0 * CYL_HZ));
  assert_int_equal(pet_image_create_owned(&f->mu, g, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&f->lam, g, PET_HOST), PET_OK);
  for (int32_t k = 0; k < g.nz; ++k)
    for (int32_t j = 0; j < g.ny; ++j)
      for (int32_t i = 0; i < g.nx; ++i) {
        float fr = radius > 0.0 ? cyl_fraction(&g, i, j) : 0.0f;
        int64_t v = ((int64_t)k * g.ny + j) * g.nx + i;
        f->mu->data[v] = (float)MU_WATER * fr;
        f->lam->data[v] = (float)LAMBDA0 * fr;
      }
}

static void fixture_free(fixture *f)
{
  pet_image_destroy(&f->mu);
  pet_image_destroy(&f->lam);
  pet_histo_layout_destroy(&f->L);
  pet_scanner_destroy(&f->s);
}

/* the chord (mm) of the segment from p (inside the cylinder) towards q inside the cylinder */
static double chord_from_inside(const double *p, const double *q)
{
  double d[3] = {q[0] - p[0], q[1] - p[1], q[2] - p[2]};
  double len = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
  double t1 = 1.0; /* fraction of the segment */
  double a = d[0] * d[0] + d[1] * d[1], b = 2.0 * (p[0] * d[0] + p[1] * d[1]);
  double c = p[0] * p[0] + p[1] * p[1] - CYL_R * CYL_R;
  if (a > 0.0) {
    double tr = (-b + sqrt(b * b - 4.0 * a * c)) / (2.0 * a);
    if (tr < t1) t1 = tr;
  }
  if (d[2] > 0.0) {
    double tz = (CYL_HZ - p[2]) / d[2];
    if (tz < t1) t1 = tz;
  } else if (d[2] < 0.0) {
    double tz = (-CYL_HZ - p[2]) / d[2];
    if (tz < t1) t1 = tz;
  }
  return t1 > 0.0 ? t1 * len : 0.0;
}

static double window_eff(double e, double lld, double uld, double fwhm511)
{
  double sig = fwhm511 * sqrt(e / 511.0) / (2.0 * sqrt(2.0 * log(2.0)));
  return 0.5 * (erf((uld - e) / (sqrt(2.0) * sig)) - erf((lld - e) / (sqrt(2.0) * sig)));
}

/* Brute force: the single-scatter integral of pet_scatter.h for the pair (d1, d2) of the
 * cylinder, over scatter cells of h mm, with analytic chords. */
static double brute_sss(const pet_scanner *s, int32_t d1, int32_t d2, double h)
{
  const float *A = s->lut + 6 * (int64_t)d1, *B = s->lut + 6 * (int64_t)d2;
  double a[3] = {A[0], A[1], A[2]}, b[3] = {B[0], B[1], B[2]};
  double s0 = pet_kn_sigma_total(511.0), e0 = window_eff(511.0, 430.0, 650.0, 51.1);
  double sum = 0.0;
  int n = (int)lround(2.0 * CYL_R / h), nz = (int)lround(2.0 * CYL_HZ / h);
  double hz = 2.0 * CYL_HZ / nz;
  for (int kz = 0; kz < nz; ++kz)
    for (int ky = 0; ky < n; ++ky)
      for (int kx = 0; kx < n; ++kx) {
        double S[3] = {-CYL_R + (kx + 0.5) * h, -CYL_R + (ky + 0.5) * h, -CYL_HZ + (kz + 0.5) * hz};
        if (S[0] * S[0] + S[1] * S[1] >= CYL_R * CYL_R) continue;
        double ua[3], ub[3], ra = 0.0, rb = 0.0;
        for (int i = 0; i < 3; ++i) {
          ua[i] = a[i] - S[i];
          ub[i] = b[i] - S[i];
          ra += ua[i] * ua[i];
          rb += ub[i] * ub[i];
        }
        ra = sqrt(ra);
        rb = sqrt(rb);
        double ct = 0.0, ca = 0.0, cb = 0.0;
        for (int i = 0; i < 3; ++i) {
          ct -= ua[i] * ub[i] / (ra * rb);
          ca += A[3 + i] * ua[i] / ra;
          cb += B[3 + i] * ub[i] / rb;
        }
        double e1 = 511.0 / (1.0 + 511.0 / 510.99895 * (1.0 - ct));
        double r = pet_kn_sigma_total(e1) / s0;
        double w = pet_kn_dsigma_domega(511.0, ct) / s0 * window_eff(e1, 430.0, 650.0, 51.1) / e0;
        double la = chord_from_inside(S, a), lb = chord_from_inside(S, b);
        double ma = MU_WATER * la, mb = MU_WATER * lb;
        double att = LAMBDA0 * la * exp(-(ma + r * mb)) + LAMBDA0 * lb * exp(-(r * ma + mb));
        sum += h * h * hz * MU_WATER * w * fabs(ca) * fabs(cb) / (ra * ra * rb * rb) * att;
      }
  double u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
  double L = sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
  double c1 = fabs(A[3] * u[0] + A[4] * u[1] + A[5] * u[2]) / L;
  double c2 = fabs(B[3] * u[0] + B[4] * u[1] + B[5] * u[2]) / L;
  return sum * L * L / (c1 * c2);
}

static pet_sss_opts test_opts(void)
{
  pet_sss_opts o = pet_sss_opts_default();
  o.scatter_step_mm = 10.0f;
  o.det_step = 4;
  o.ring_samples = 4;
  return o;
}

/* (a) shape and scale against the brute force, on bins of three ring pairs and many angles */
static void test_sss_matches_brute_force(void **state)
{
  (void)state;
  fixture f;
  fixture_make(&f, CYL_R);
  const int32_t dpr = f.s->params.dets_per_ring;
  enum { NC = 12, NO = 9, NRP = 3 };
  const int32_t rings[NRP][2] = {{0, 0}, {2, 5}, {7, 1}};
  int64_t bins[NRP * NC * NO];
  int32_t pd1[NRP * NC * NO], pd2[NRP * NC * NO];
  int nb = 0;
  for (int rp = 0; rp < NRP; ++rp)
    for (int ic = 0; ic < NC; ++ic)
      for (int io = 0; io < NO; ++io) {
        int32_t c1 = (ic * 21 + 3) % dpr, c2 = (c1 + dpr / 2 + (io - NO / 2) * 13 + dpr) % dpr;
        int32_t d1 = rings[rp][0] * dpr + c1, d2 = rings[rp][1] * dpr + c2;
        int64_t bin;
        assert_int_equal(pet_histo_dets_to_bin(f.L, d1, d2, &bin), PET_OK);
        int32_t b1, b2;
        bool valid;
        assert_int_equal(pet_histo_bin_to_dets(f.L, bin, &b1, &b2, &valid), PET_OK);
        assert_true(valid);
        bins[nb] = bin;
        pd1[nb] = b1;
        pd2[nb] = b2;
        ++nb;
      }
  pet_sss_opts o = test_opts();
  pet_sss_info info;
  double sum_est = 0.0, sum_ref = 0.0, max_rel = 0.0, max_far = 0.0, ref_max = 0.0;
  double *refs = malloc((size_t)nb * sizeof(double));
  assert_non_null(refs);
  for (int i = 0; i < nb; ++i) {
    refs[i] = brute_sss(f.s, pd1[i], pd2[i], 2.0);
    ref_max = fmax(ref_max, refs[i]);
  }
  float *est = malloc((size_t)f.L->num_bins * sizeof(float));
  assert_non_null(est);
  assert_int_equal(pet_sss_simulate(f.s, f.L, f.lam, f.mu, &o, 0, f.L->num_bins, est, &info), PET_OK);
  for (int i = 0; i < nb; ++i) {
    float v = est[bins[i]];
    double ref = refs[i];
    assert_true(ref > 0.0);
    sum_est += v;
    sum_ref += ref;
    double rel = fabs(v - ref) / ref;
    if (ref < 0.01 * ref_max) { /* the far tails: only large angles, cut by the window */
      max_far = fmax(max_far, fmax(v / ref, ref / v));
      rel = 0.0;
    }
    if (getenv("PET_SSS_DEBUG")) {
      const float *P = f.s->lut + 6 * pd1[i], *Q = f.s->lut + 6 * pd2[i];
      double dxy = fabs(P[0] * Q[1] - Q[0] * P[1]) / hypot(Q[0] - P[0], Q[1] - P[1]);
      printf("bin %d d1 %d d2 %d est %g ref %g rel %.3f dist %.1f\n", i, pd1[i], pd2[i], v, ref, rel, dxy);
    }
    if (rel > max_rel) max_rel = rel;
  }
  printf("sss vs brute force: %d bins, %lld scatter points, %lld detector samples: scale %.4f, "
         "max relative difference %.4f (bins above 1%% of the maximum), max ratio %.2f below\n",
         nb, (long long)info.scatter_points, (long long)info.det_samples, sum_est / sum_ref, max_rel,
         max_far);
  /* stated tolerances: the overall scale within 3%; the shape: every bin above 1% of the
   * maximum within 8%; the far tails (1e-3 of the maximum, where the energy window leaves only
   * the few scatter points next to the LOR and the 10 mm grid is coarse) within a factor 3 */
  assert_true(fabs(sum_est / sum_ref - 1.0) < 0.03);
  assert_true(max_rel < 0.08);
  assert_true(max_far < 3.0);
  free(refs);
  free(est);
  fixture_free(&f);
}

/* (b) integral of dsigma/dOmega over the sphere = the analytic total; Thomson limit */
static void test_kn_normalisation(void **state)
{
  (void)state;
  const double es[] = {20.0, 140.0, 340.0, 511.0, 1000.0};
  for (size_t k = 0; k < sizeof es / sizeof es[0]; ++k) {
    int n = 20000; /* Simpson in cos theta */
    double h = 2.0 / n, acc = 0.0;
    for (int i = 0; i <= n; ++i) {
      double c = -1.0 + i * h, w = (i == 0 || i == n) ? 1.0 : (i % 2 ? 4.0 : 2.0);
      acc += w * pet_kn_dsigma_domega(es[k], c);
    }
    acc *= 2.0 * TEST_PI * h / 3.0;
    assert_true(fabs(acc / pet_kn_sigma_total(es[k]) - 1.0) < 1e-8);
  }
  /* low energy: Thomson's 8 pi / 3 r_e^2; 511 keV: 0.2867 barn (r_e^2 = 0.07941 barn) */
  assert_true(fabs(pet_kn_sigma_total(0.05) / (8.0 * TEST_PI / 3.0) - 1.0) < 1e-3);
  assert_true(fabs(pet_kn_sigma_total(511.0) * 0.0794078 / 0.2867 - 1.0) < 2e-3);
  /* the window accepts most 511 keV photons, fewer 340 keV ones */
  double e511 = pet_sss_window_eff(511.0, 430.0f, 650.0f, 51.1f);
  assert_true(e511 > 0.99 && e511 <= 1.0);
  assert_true(pet_sss_window_eff(340.0, 430.0f, 650.0f, 51.1f) < 0.01);
}

/* (c) the tail fit recovers a known scale with randoms and a normalisation */
static void test_tail_fit_recovers_scale(void **state)
{
  (void)state;
  fixture f;
  fixture_make(&f, CYL_R);
  const int64_t n = f.L->num_bins;
  float *sss = malloc((size_t)n * 4), *y = malloc((size_t)n * 4), *rnd = malloc((size_t)n * 4);
  float *nrm = malloc((size_t)n * 4), *mui = malloc((size_t)n * 4);
  assert_non_null(sss);
  assert_non_null(y && rnd && nrm && mui);
  assert_int_equal(pet_sss_mu_integrals(f.s, f.L, f.mu, 0, n, mui), PET_OK);
  const double scale = 3.7;
  int64_t body = 0;
  for (int64_t i = 0; i < n; ++i) {
    sss[i] = 0.5f + pet_test_uniform(3 * (uint64_t)i);
    nrm[i] = 0.5f + pet_test_uniform(3 * (uint64_t)i + 1);
    rnd[i] = 2.0f * pet_test_uniform(3 * (uint64_t)i + 2);
    y[i] = (float)(scale * nrm[i] * sss[i]) + rnd[i];
    if (mui[i] >= 0.01f) { /* trues inside the body do not enter the fit */
      y[i] += 100.0f;
      ++body;
    }
  }
  assert_true(body > 0 && body < n);
  pet_sss_opts o = pet_sss_opts_default();
  double got = 0.0;
  int64_t tails = 0;
  assert_int_equal(pet_scatter_tail_fit(f.s, f.L, f.mu, &o, 0, n, 0, y, rnd, nrm, NULL, sss, NULL, &got, &tails),
                   PET_OK);
  assert_true(fabs(got / scale - 1.0) < 1e-4);
  assert_true(tails > 0 && tails < n);
  /* a negative excess clamps at 0 */
  for (int64_t i = 0; i < n; ++i) y[i] = 0.0f;
  assert_int_equal(pet_scatter_tail_fit(f.s, f.L, f.mu, &o, 0, n, 0, y, rnd, nrm, mui, sss, NULL, &got, NULL),
                   PET_OK);
  assert_true(got == 0.0);
  free(sss);
  free(y);
  free(rnd);
  free(nrm);
  free(mui);
  fixture_free(&f);
}

/* (d) the TOF estimate's bins sum to the non-TOF estimate, and are not all in one bin */
static void test_tof_bins_sum_to_non_tof(void **state)
{
  (void)state;
  fixture f;
  fixture_make(&f, CYL_R);
  const int32_t T = 31;
  const int64_t b0 = f.L->num_bins / 3, nb = 2000;
  float *a = malloc((size_t)nb * 4), *t = malloc((size_t)nb * T * 4);
  assert_non_null(a);
  assert_non_null(t);
  pet_sss_opts o = test_opts();
  assert_int_equal(pet_sss_simulate(f.s, f.L, f.lam, f.mu, &o, b0, nb, a, NULL), PET_OK);
  o.num_tof_bins = T;
  o.tof_bin_width_ps = 200.0f;
  o.tof_fwhm_ps = 400.0f;
  assert_int_equal(pet_sss_simulate(f.s, f.L, f.lam, f.mu, &o, b0, nb, t, NULL), PET_OK);
  double maxa = 0.0;
  for (int64_t i = 0; i < nb; ++i) maxa = fmax(maxa, a[i]);
  assert_true(maxa > 0.0);
  int spread = 0;
  for (int64_t i = 0; i < nb; ++i) {
    double s = 0.0, mx = 0.0;
    for (int32_t k = 0; k < T; ++k) {
      assert_true(t[i * T + k] >= 0.0f);
      s += t[i * T + k];
      mx = fmax(mx, t[i * T + k]);
    }
    assert_true(fabs(s - a[i]) <= 1e-4 * fabs(a[i]) + 1e-6 * maxa);
    spread += a[i] > 0.1 * maxa && mx < 0.9 * s;
  }
  assert_true(spread > 0);
  free(a);
  free(t);
  fixture_free(&f);
}

/* (d') the TOF offsets have the projector's sign: with the activity on one side of the cylinder
 * (x > 20 mm), the TOF-weighted mean bin of a LOR's scatter lies on the same side of the LOR's
 * centre as that of its trues (the TOF-bin projection of the same image) */
static void test_tof_offsets_follow_the_activity(void **state)
{
  (void)state;
  fixture f;
  fixture_make(&f, CYL_R);
  const pet_image_params *g = &f.lam->params;
  for (int32_t k = 0; k < g->nz; ++k)
    for (int32_t j = 0; j < g->ny; ++j)
      for (int32_t i = 0; i < g->nx; ++i) {
        double x = ((double)i - 0.5 * (g->nx - 1)) * pet_image_vx(g);
        if (x < 20.0) f.lam->data[((int64_t)k * g->ny + j) * g->nx + i] = 0.0f;
      }
  const int32_t T = 15, dpr = f.s->params.dets_per_ring;
  enum { NB = 64 };
  int64_t bins[NB];
  int nb = 0;
  for (int i = 0; i < NB; ++i) {
    int32_t c1 = (i * 4) % dpr, c2 = (c1 + dpr / 2 + (i % 5) * 3) % dpr;
    if (pet_histo_dets_to_bin(f.L, c1, c2, &bins[nb]) == PET_OK) ++nb;
  }
  assert_true(nb > 32);
  /* ring 0's pairs are the first z-bin: one estimate of that z-bin */
  const int64_t per_z = f.L->num_phi * f.L->num_r;
  for (int i = 0; i < nb; ++i) assert_true(bins[i] < per_z);
  float *sss = malloc((size_t)(per_z * T) * sizeof(float));
  assert_non_null(sss);
  pet_projector_params pp = pet_projector_params_default();
  pp.num_tof_bins = T;
  pp.tof_bin_width_ps = 200.0f;
  pp.tof_fwhm_ps = 300.0f;
  pet_sss_opts o = test_opts();
  o.num_tof_bins = T;
  o.tof_bin_width_ps = 200.0f;
  o.tof_fwhm_ps = 300.0f;
  assert_int_equal(pet_sss_simulate(f.s, f.L, f.lam, f.mu, &o, 0, per_z, sss, NULL), PET_OK);
  int agree = 0, decided = 0;
  for (int i = 0; i < nb; ++i) {
    float tr[15];
    const float *sc = sss + bins[i] * T;
    assert_int_equal(pet_histo_project_fwd_cpu(f.L, f.s, &pp, f.lam, bins[i], 1, tr), PET_OK);
    double mt = 0.0, wt = 0.0, ms = 0.0, ws = 0.0;
    for (int t = 0; t < T; ++t) {
      mt += t * (double)tr[t];
      wt += tr[t];
      ms += t * (double)sc[t];
      ws += sc[t];
    }
    if (!(wt > 0.0 && ws > 0.0)) continue;
    mt = mt / wt - 0.5 * (T - 1);
    ms = ms / ws - 0.5 * (T - 1);
    if (fabs(mt) < 1.0) continue; /* the trues near the LOR's centre: no side to agree on */
    ++decided;
    agree += (mt > 0) == (ms > 0);
  }
  printf("TOF side of the scatter == side of the trues in %d of %d LORs\n", agree, decided);
  assert_true(decided >= 10);
  assert_int_equal(agree, decided);
  free(sss);
  fixture_free(&f);
}

/* (f) bad inputs */
static void test_bad_inputs(void **state)
{
  (void)state;
  fixture f;
  fixture_make(&f, 0.0); /* an empty mu-map */
  pet_sss_opts o = test_opts();
  float v[4];
  assert_int_equal(pet_sss_simulate(f.s, f.L, f.lam, f.mu, &o, 0, 4, v, NULL), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "no scatter point"));
  assert_int_equal(pet_sss_simulate(f.s, f.L, f.lam, NULL, &o, 0, 4, v, NULL), PET_ERR_ARG);
  assert_int_equal(pet_sss_simulate(f.s, f.L, f.lam, f.mu, &o, f.L->num_bins - 2, 4, v, NULL), PET_ERR_ARG);
  o.energy_lld_kev = 520.0f;
  assert_int_equal(pet_sss_simulate(f.s, f.L, f.lam, f.mu, &o, 0, 4, v, NULL), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "energy window"));
  o = test_opts();
  o.num_tof_bins = 5; /* no width */
  assert_int_equal(pet_sss_simulate(f.s, f.L, f.lam, f.mu, &o, 0, 4, v, NULL), PET_ERR_ARG);
  fixture_free(&f);
  /* a mu-map that every LOR crosses: no tail */
  memset(&f, 0, sizeof f);
  pet_scanner_params p = pet_scanner_params_small();
  assert_int_equal(pet_scanner_create(&f.s, &p), PET_OK);
  assert_int_equal(pet_histo_layout_create(&f.L, f.s), PET_OK);
  pet_image_params g = pet_image_params_make(8, 8, 4, 400.0f, 400.0f, 30.0f);
  assert_int_equal(pet_image_create_owned(&f.mu, g, PET_HOST), PET_OK);
  assert_int_equal(pet_image_fill(f.mu, 0.0096f), PET_OK);
  const int64_t n = f.L->num_bins;
  float *y = calloc((size_t)n, 4), *s = calloc((size_t)n, 4);
  assert_non_null(y);
  assert_non_null(s);
  double sc;
  o = pet_sss_opts_default();
  assert_int_equal(pet_scatter_tail_fit(f.s, f.L, f.mu, &o, 0, n, 0, y, NULL, NULL, NULL, s, NULL, &sc, NULL),
                   PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "tail mask is empty"));
  free(y);
  free(s);
  pet_image_destroy(&f.mu);
  pet_histo_layout_destroy(&f.L);
  pet_scanner_destroy(&f.s);
}

/* A scanner small enough for a few reconstructions in a test (2.9e5 bins). */
static pet_scanner_params tiny_scanner(void)
{
  pet_scanner_params p = pet_scanner_params_small();
  snprintf(p.name, sizeof p.name, "%s", "SSS_TINY");
  p.dets_per_ring = 192;
  p.dets_per_block = 24;
  p.crystal_size_trans = 4.0f;
  p.crystal_size_z = 4.0f;
  p.num_rings = 4;
  p.max_ring_diff = 3;
  p.axial_fov = 16.0f;
  return p;
}

/* background mean (r < 35 mm, every slice) of an image of the cylinder */
static double background_mean(const pet_image *x)
{
  const pet_image_params *g = &x->params;
  double sum = 0.0;
  int64_t n = 0;
  for (int32_t k = 0; k < g->nz; ++k)
    for (int32_t j = 0; j < g->ny; ++j)
      for (int32_t i = 0; i < g->nx; ++i) {
        double px = ((double)i - 0.5 * (g->nx - 1)) * pet_image_vx(g), py = ((double)j - 0.5 * (g->ny - 1)) * pet_image_vy(g);
        if (px * px + py * py >= 35.0 * 35.0) continue;
        sum += x->data[((int64_t)k * g->ny + j) * g->nx + i];
        ++n;
      }
  return sum / (double)n;
}

/* Data of a water cylinder with a known scatter (2.5 x its SSS: the tail fit must find the
 * scale), noise-free: OSEM without scatter overestimates the background by more than 10%;
 * with scatter = "estimate" (through the job, as petrel recon runs it) the mean is within 5%. */
static void bias_case(int32_t T)
{
  char dir[512], path[700];
  pet_test_tmpdir(dir, sizeof dir);
  pet_scanner_params sp = tiny_scanner();
  const int64_t T1 = T > 0 ? T : 1;
  if (T > 0) {
    sp.tof_fwhm_ps = 400.0f;
    sp.num_tof_bins = T;
    sp.tof_bin_width_ps = 250.0f;
  }
  pet_scanner *s = NULL;
  pet_histo_layout *L = NULL;
  assert_int_equal(pet_scanner_create(&s, &sp), PET_OK);
  assert_int_equal(pet_histo_layout_create(&L, s), PET_OK);
  const int64_t nb = L->num_bins;
  pet_image_params g = pet_image_params_make(40, 40, 4, 160.0f, 160.0f, 16.0f);
  pet_image *mu = NULL, *lam = NULL;
  assert_int_equal(pet_image_create_owned(&mu, g, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&lam, g, PET_HOST), PET_OK);
  for (int32_t k = 0; k < g.nz; ++k)
    for (int32_t j = 0; j < g.ny; ++j)
      for (int32_t i = 0; i < g.nx; ++i) {
        int64_t v = ((int64_t)k * g.ny + j) * g.nx + i;
        float fr = cyl_fraction(&g, i, j); /* radius CYL_R = 60 mm */
        mu->data[v] = (float)MU_WATER * fr;
        lam->data[v] = fr;
      }
  float *y = malloc((size_t)(nb * T1) * 4), *att = malloc((size_t)nb * 4), *sc = malloc((size_t)(nb * T1) * 4);
  assert_non_null(y);
  assert_non_null(att);
  assert_non_null(sc);
  pet_projector_params pp = pet_projector_params_default();
  pp.crystal_size_trans = sp.crystal_size_trans;
  pp.crystal_size_z = sp.crystal_size_z;
  pet_projector_params_set_fov(&pp, &sp);
  assert_int_equal(pet_histo_project_fwd_cpu(L, s, &pp, mu, 0, nb, att), PET_OK);
  pet_sss_opts o = pet_sss_opts_default();
  if (T > 0) {
    pp.num_tof_bins = T;
    pp.tof_bin_width_ps = sp.tof_bin_width_ps;
    pp.tof_fwhm_ps = sp.tof_fwhm_ps;
    o.num_tof_bins = T;
    o.tof_bin_width_ps = sp.tof_bin_width_ps;
    o.tof_fwhm_ps = sp.tof_fwhm_ps;
  }
  assert_int_equal(pet_histo_project_fwd_cpu(L, s, &pp, lam, 0, nb, y), PET_OK);
  assert_int_equal(pet_sss_simulate(s, L, lam, mu, &o, 0, nb, sc, NULL), PET_OK);
  double st = 0.0, ss = 0.0;
  for (int64_t i = 0; i < nb; ++i) {
    att[i] = expf(-att[i]);
    for (int64_t t = 0; t < T1; ++t) {
      float tr = att[i] * y[i * T1 + t];
      y[i * T1 + t] = tr + 2.5f * sc[i * T1 + t];
      st += tr;
      ss += 2.5 * sc[i * T1 + t];
    }
  }
  printf("scatter fraction of the data %.3f\n", ss / (st + ss));
  char scn[700], data[700], mup[700], cfgtext[4096];
  snprintf(scn, sizeof scn, "%s/scanner.json", dir);
  snprintf(data, sizeof data, "%s/data.h5", dir);
  snprintf(mup, sizeof mup, "%s/mu.nii.gz", dir);
  assert_int_equal(pet_scanner_write_json(s, scn, NULL), PET_OK);
  pet_h5_corrections corr = {NULL, att, NULL, NULL};
  pet_h5_tof_info ti = {T, sp.tof_bin_width_ps, 0};
  assert_int_equal(pet_h5_write_histogram_tof(data, sp.name, nb, &ti, y, &corr), PET_OK);
  assert_int_equal(pet_image_write_nifti(mu, mup), PET_OK);
  double bias[2];
  for (int run = 0; run < 2; ++run) {
    snprintf(cfgtext, sizeof cfgtext,
             "{\"scanner\": \"%s\", \"data\": \"%s\", \"attenuation_image\": \"%s\", %s \"output\": "
             "\"x.nii.gz\", \"iterations\": 4, \"subsets\": 4, \"image\": {\"nx\": 40, \"ny\": 40, \"nz\": 4, "
             "\"length_x\": 160, \"length_y\": 160, \"length_z\": 16}}",
             scn, data, mup, run ? "\"scatter\": \"estimate\", \"scatter_iterations\": 2," : "");
    pet_config cfg;
    pet_config_defaults(&cfg);
    assert_int_equal(pet_config_parse_json(&cfg, cfgtext, "test"), PET_OK);
    assert_int_equal(pet_config_validate(&cfg), PET_OK);
    pet_job_result res;
    assert_int_equal(pet_job_recon(&cfg, NULL, NULL, NULL, &res), PET_OK);
    bias[run] = background_mean(res.image) - 1.0;
    if (run) {
      assert_non_null(res.scatter);
      double se = 0.0;
      assert_int_equal(res.scatter_tof_bins, T);
      for (int64_t i = 0; i < nb * T1; ++i) se += res.scatter[i];
      printf("T=%d: estimated scatter / true scatter (sum) %.4f\n", T, se / ss);
      assert_true(fabs(se / ss - 1.0) < 0.1);
    } else {
      assert_null(res.scatter);
    }
    pet_job_result_free(&res);
  }
  printf("T=%d: background bias: without scatter %+.4f, with the estimate %+.4f\n", T, bias[0], bias[1]);
  assert_true(bias[0] > 0.10);
  assert_true(fabs(bias[1]) < 0.05);
  if (T > 0) goto cleanup;
  /* bad config values name the field */
  pet_config cfg;
  pet_config_defaults(&cfg);
  snprintf(cfgtext, sizeof cfgtext, "{\"scanner\": \"%s\", \"data\": \"%s\", \"output\": \"x.nii.gz\", "
           "\"scatter\": \"estimate\"}", scn, data);
  assert_int_equal(pet_config_parse_json(&cfg, cfgtext, "test"), PET_OK);
  assert_int_equal(pet_config_validate(&cfg), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "attenuation_image"));
  pet_config_defaults(&cfg);
  assert_int_equal(pet_config_parse_json(&cfg, "{\"scatter_iterations\": 0}", "test"), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "scatter_iterations"));
  assert_int_equal(pet_config_parse_json(&cfg, "{\"scatter_iterations\": 101}", "test"), PET_ERR_CONFIG);
  pet_config_defaults(&cfg);
  snprintf(cfgtext, sizeof cfgtext, "{\"scanner\": \"%s\", \"data\": \"%s\", \"output\": \"x.nii.gz\", "
           "\"attenuation_image\": \"%s\", \"scatter\": \"estimate\", \"iterations\": 2, \"scatter_iterations\": 3}",
           scn, data, mup);
  assert_int_equal(pet_config_parse_json(&cfg, cfgtext, "test"), PET_OK);
  assert_int_equal(pet_config_validate(&cfg), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "scatter_iterations"));
cleanup:
  remove(scn);
  remove(data);
  remove(mup);
  snprintf(path, sizeof path, "%s", dir);
  remove(path);
  free(y);
  free(att);
  free(sc);
  pet_image_destroy(&mu);
  pet_image_destroy(&lam);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
}

static void test_recon_with_estimate_removes_bias(void **state)
{
  (void)state;
  bias_case(0);
}

/* the same with TOF data (a TOF histogram, the TOF estimate per TOF bin) */
static void test_tof_recon_with_estimate_removes_bias(void **state)
{
  (void)state;
  bias_case(9);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kn_normalisation),
      cmocka_unit_test(test_sss_matches_brute_force),
      cmocka_unit_test(test_tail_fit_recovers_scale),
      cmocka_unit_test(test_tof_bins_sum_to_non_tof),
      cmocka_unit_test(test_tof_offsets_follow_the_activity),
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_recon_with_estimate_removes_bias),
      cmocka_unit_test(test_tof_recon_with_estimate_removes_bias),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
