/* Single scatter simulation and the tail fit (pet_scatter.h): the host (OpenMP) driver. The
 * per-pair sum is pet_sss_pair (src/kernels/pet_sss_kernel.h), shared with the GPU. */
#include "pet_scatter.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "pet_gpu.h"
#include "pet_siddon_kernel.h"
#include "pet_sss_kernel.h"
#include "pet_tof_kernel.h"

#define SSS_E0_KEV 511.0
#define SSS_PI 3.14159265358979323846
#define SSS_MEC2_KEV 510.99895
#define SSS_N_KN 4097
#define SSS_TOF_SIGMAS 3.0f
/* a LOR cosine below this at a detector face is taken as this (a LOR along the face) */
#define SSS_COS_MIN 1e-3f

pet_sss_opts pet_sss_opts_default(void)
{
  pet_sss_opts o;
  memset(&o, 0, sizeof o);
  return o;
}

double pet_kn_dsigma_domega(double e_kev, double c)
{
  double k = e_kev / SSS_MEC2_KEV;
  double p = 1.0 / (1.0 + k * (1.0 - c));
  return 0.5 * p * p * (p + 1.0 / p - (1.0 - c * c));
}

double pet_kn_sigma_total(double e_kev)
{
  double k = e_kev / SSS_MEC2_KEV, l = log(1.0 + 2.0 * k);
  return 2.0 * SSS_PI *
         ((1.0 + k) / (k * k) * (2.0 * (1.0 + k) / (1.0 + 2.0 * k) - l / k) + l / (2.0 * k) -
          (1.0 + 3.0 * k) / ((1.0 + 2.0 * k) * (1.0 + 2.0 * k)));
}

double pet_sss_window_eff(double e, float lld, float uld, float fwhm_511)
{
  double sig = (double)fwhm_511 * sqrt(e / SSS_E0_KEV) / 2.3548200450309493;
  double is = 1.0 / (sqrt(2.0) * sig);
  return 0.5 * (erf(((double)uld - e) * is) - erf(((double)lld - e) * is));
}

/* The options with every default filled in, checked. */
typedef struct sss_conf {
  float step_mm, mu_thr, lld, uld, fwhm, tail_mu;
  int32_t kt, nr, T;
  float bin_mm, tof_fwhm_ps;
} sss_conf;

static pet_status sss_conf_make(const pet_scanner *s, const pet_sss_opts *o, sss_conf *c)
{
  const pet_scanner_params *p = &s->params;
  memset(c, 0, sizeof *c);
  c->step_mm = o->scatter_step_mm > 0.0f ? o->scatter_step_mm : 20.0f;
  c->mu_thr = o->mu_threshold > 0.0f ? o->mu_threshold : 0.003f;
  c->tail_mu = o->tail_mu_max > 0.0f ? o->tail_mu_max : 0.01f;
  c->lld = o->energy_lld_kev > 0.0f ? o->energy_lld_kev
           : p->energy_lld_kev > 0.0f ? p->energy_lld_kev : PET_SSS_DEFAULT_LLD_KEV;
  c->uld = o->energy_uld_kev > 0.0f ? o->energy_uld_kev : PET_SSS_DEFAULT_ULD_KEV;
  c->fwhm = o->energy_fwhm_kev > 0.0f ? o->energy_fwhm_kev
            : p->fwhm_kev > 0.0f ? p->fwhm_kev : PET_SSS_DEFAULT_FWHM_KEV;
  PET_CHECK(isfinite(o->scatter_step_mm) && o->scatter_step_mm >= 0.0f && isfinite(o->mu_threshold) &&
                o->mu_threshold >= 0.0f && isfinite(o->tail_mu_max) && o->tail_mu_max >= 0.0f,
            PET_ERR_ARG, "scatter: scatter_step_mm, mu_threshold and tail_mu_max must be >= 0");
  PET_CHECK(c->lld < c->uld && c->uld > SSS_E0_KEV && c->lld < SSS_E0_KEV && c->fwhm > 0.0f &&
                isfinite(c->lld) && isfinite(c->uld) && isfinite(c->fwhm),
            PET_ERR_ARG,
            "scatter: the energy window [%g, %g] keV must contain 511 keV and the resolution "
            "(FWHM %g keV) be > 0",
            (double)c->lld, (double)c->uld, (double)c->fwhm);
  const int32_t dpr = p->dets_per_ring;
  PET_CHECK(o->det_step >= 0 && o->det_step <= dpr, PET_ERR_ARG, "scatter: det_step %d outside [0, %d]",
            o->det_step, dpr);
  c->kt = o->det_step > 0 ? o->det_step : 4;
  PET_CHECK(o->ring_samples >= 0 && o->ring_samples <= p->num_rings, PET_ERR_ARG,
            "scatter: ring_samples %d outside [0, num_rings = %d]", o->ring_samples, p->num_rings);
  c->nr = o->ring_samples > 0 ? o->ring_samples : (p->num_rings < 8 ? p->num_rings : 8);
  PET_CHECK(o->num_tof_bins >= 0 && o->num_tof_bins <= PET_TOF_BINS_MAX, PET_ERR_ARG,
            "scatter: num_tof_bins %d outside [0, %d]", o->num_tof_bins, PET_TOF_BINS_MAX);
  c->T = o->num_tof_bins;
  if (c->T > 0) {
    PET_CHECK(o->tof_bin_width_ps > 0.0f && o->tof_fwhm_ps > 0.0f && isfinite(o->tof_bin_width_ps) &&
                  isfinite(o->tof_fwhm_ps),
              PET_ERR_ARG, "scatter: a TOF estimate needs tof_bin_width_ps > 0 and tof_fwhm_ps > 0");
    c->bin_mm = PET_SPEED_OF_LIGHT_MM_PS * o->tof_bin_width_ps * 0.5f;
    c->tof_fwhm_ps = o->tof_fwhm_ps;
  }
  return PET_OK;
}

/* The transaxial detector sample: in each block (dets_per_block dividing dets_per_ring) its
 * crystals 0, kt, 2 kt, ... and its last one, so that no interpolation crosses the gap between
 * two blocks; otherwise every kt-th crystal. Then, for every crystal of a ring, the two samples
 * around it in angle (periodic) and the weight of the second. */
typedef struct sss_samples {
  int32_t nt;
  int32_t *cs;     /* nt in-ring crystal indices, in increasing angle */
  int32_t *j0, *j1; /* per crystal: bracketing samples */
  float *w;        /* per crystal: weight of j1 */
} sss_samples;

static void sss_samples_free(sss_samples *t)
{
  free(t->cs);
  free(t->j0);
  free(t->j1);
  free(t->w);
  memset(t, 0, sizeof *t);
}

static double crystal_angle(const pet_scanner *s, int32_t c)
{
  const float *q = s->lut + 6 * (int64_t)c;
  double a = atan2((double)q[1], (double)q[0]);
  return a < 0.0 ? a + 2.0 * SSS_PI : a;
}

static pet_status sss_samples_make(const pet_scanner *s, int32_t kt, sss_samples *t)
{
  const int32_t dpr = s->params.dets_per_ring, dpb = s->params.dets_per_block;
  memset(t, 0, sizeof *t);
  t->cs = malloc((size_t)dpr * sizeof(int32_t));
  t->j0 = malloc((size_t)dpr * sizeof(int32_t));
  t->j1 = malloc((size_t)dpr * sizeof(int32_t));
  t->w = malloc((size_t)dpr * sizeof(float));
  double *ang = malloc((size_t)dpr * sizeof(double));
  if (!t->cs || !t->j0 || !t->j1 || !t->w || !ang) {
    free(ang);
    sss_samples_free(t);
    return PET_ERROR(PET_ERR_NOMEM, "scatter: no memory for the detector sample");
  }
  bool blocks = dpb > 1 && dpr % dpb == 0;
  int32_t n = 0;
  for (int32_t c = 0; c < dpr; ++c) {
    int32_t k = blocks ? c % dpb : c;
    if (k % kt == 0 || (blocks && k == dpb - 1)) t->cs[n++] = c;
  }
  t->nt = n;
  /* sort the samples by angle (insertion: a few hundred) */
  for (int32_t i = 0; i < n; ++i) ang[i] = crystal_angle(s, t->cs[i]);
  for (int32_t i = 1; i < n; ++i)
    for (int32_t j = i; j > 0 && ang[j] < ang[j - 1]; --j) {
      double ta = ang[j];
      ang[j] = ang[j - 1];
      ang[j - 1] = ta;
      int32_t tc = t->cs[j];
      t->cs[j] = t->cs[j - 1];
      t->cs[j - 1] = tc;
    }
  for (int32_t c = 0; c < dpr; ++c) {
    double a = crystal_angle(s, c);
    int32_t j = n - 1; /* the last sample at or below a (periodic: the last one below 0) */
    for (int32_t i = 0; i < n; ++i)
      if (ang[i] <= a) j = i;
    int32_t j1 = (j + 1) % n;
    double span = ang[j1] - ang[j], off = a - ang[j];
    if (span <= 0.0) span += 2.0 * SSS_PI;
    if (off < 0.0) off += 2.0 * SSS_PI;
    double w = span > 0.0 ? off / span : 0.0;
    t->j0[c] = j;
    t->j1[c] = j1;
    t->w[c] = (float)(w < 0.0 ? 0.0 : (w > 1.0 ? 1.0 : w));
  }
  free(ang);
  return PET_OK;
}

/* The ring of sample j (rings spread over the axial FOV, first and last included). */
static int32_t sss_ring_of(int32_t j, int32_t nr, int32_t R)
{
  if (nr <= 1) return (R - 1) / 2;
  return (int32_t)lround((double)j * (double)(R - 1) / (double)(nr - 1));
}

/* The two sampled rings around ring q and the second's weight. */
static void ring_bracket(const int32_t *rs, int32_t nr, int32_t q, int32_t *j0, int32_t *j1, float *w)
{
  if (nr <= 1) {
    *j0 = *j1 = 0;
    *w = 0.0f;
    return;
  }
  int32_t k = 0;
  while (k + 1 < nr - 1 && rs[k + 1] <= q) ++k;
  float g = (float)(q - rs[k]) / (float)(rs[k + 1] - rs[k]);
  *j0 = k;
  *j1 = k + 1;
  *w = g < 0.0f ? 0.0f : (g > 1.0f ? 1.0f : g);
}

/* Scatter points: cells of the mu-map whose mean mu exceeds the threshold; xyz + V mu each. */
static pet_status sss_points(const pet_image *mu, const sss_conf *c, float **pts, int32_t *np)
{
  const pet_image_params *g = &mu->params;
  float vx = pet_image_vx(g), vy = pet_image_vy(g), vz = pet_image_vz(g);
  int32_t fx = (int32_t)lroundf(c->step_mm / vx), fy = (int32_t)lroundf(c->step_mm / vy);
  int32_t fz = (int32_t)lroundf(c->step_mm / vz);
  fx = fx < 1 ? 1 : fx;
  fy = fy < 1 ? 1 : fy;
  fz = fz < 1 ? 1 : fz;
  int32_t cx = (g->nx + fx - 1) / fx, cy = (g->ny + fy - 1) / fy, cz = (g->nz + fz - 1) / fz;
  int64_t ncell = (int64_t)cx * cy * cz;
  float *p = malloc((size_t)ncell * 4 * sizeof(float));
  PET_CHECK(p != NULL, PET_ERR_NOMEM, "scatter: no memory for %lld scatter cells", (long long)ncell);
  int32_t n = 0;
  double vvox = (double)vx * vy * vz;
  for (int32_t kz = 0; kz < cz; ++kz)
    for (int32_t ky = 0; ky < cy; ++ky)
      for (int32_t kx = 0; kx < cx; ++kx) {
        double sum = 0.0, sx = 0.0, sy = 0.0, sz = 0.0;
        int64_t cnt = 0;
        for (int32_t z = kz * fz; z < g->nz && z < (kz + 1) * fz; ++z)
          for (int32_t y = ky * fy; y < g->ny && y < (ky + 1) * fy; ++y)
            for (int32_t x = kx * fx; x < g->nx && x < (kx + 1) * fx; ++x) {
              sum += mu->data[((int64_t)z * g->ny + y) * g->nx + x];
              sx += x;
              sy += y;
              sz += z;
              ++cnt;
            }
        double mean = sum / (double)cnt;
        if (!(mean > (double)c->mu_thr)) continue;
        float *q = p + 4 * (int64_t)n;
        q[0] = (float)((sx / (double)cnt - 0.5 * (g->nx - 1)) * vx + g->off_x);
        q[1] = (float)((sy / (double)cnt - 0.5 * (g->ny - 1)) * vy + g->off_y);
        q[2] = (float)((sz / (double)cnt - 0.5 * (g->nz - 1)) * vz + g->off_z);
        q[3] = (float)(sum * vvox); /* V mu = sum of the voxels' mu times a voxel's volume */
        ++n;
      }
  if (n == 0) {
    free(p);
    return PET_ERROR(PET_ERR_ARG,
                     "scatter: no scatter point: no %dx%dx%d-voxel cell of the mu-map has a mean mu "
                     "above %g /mm (is attenuation_image a mu-map in 1/mm?)",
                     fx, fy, fz, (double)c->mu_thr);
  }
  *pts = p;
  *np = n;
  return PET_OK;
}

static float seg_integral(const float *a, const float *b, const pet_image *img)
{
  return pet_siddon_walk(a[0], a[1], a[2], b[0], b[1], b[2], img->params, img->data, NULL, 0.0f,
                         PET_WALK_FWD, NULL, 0.0f, 0.0f, NULL);
}

static pet_status check_inputs(const pet_scanner *s, const pet_histo_layout *L, const pet_image *mu,
                               int64_t bfirst, int64_t bcount)
{
  PET_CHECK(s != NULL && L != NULL && mu != NULL, PET_ERR_ARG, "scatter: NULL scanner, layout or mu-map");
  PET_TRY(pet_image_require(mu, PET_HOST));
  PET_CHECK(bfirst >= 0 && bcount >= 0 && bfirst + bcount <= L->num_bins, PET_ERR_ARG,
            "scatter: bins [%lld, %lld) outside the histogram's [0, %lld)", (long long)bfirst,
            (long long)(bfirst + bcount), (long long)L->num_bins);
  return PET_OK;
}

pet_status pet_sss_simulate(const pet_scanner *s, const pet_histo_layout *L, const pet_image *lambda,
                            const pet_image *mu, const pet_sss_opts *opts, int64_t bfirst,
                            int64_t bcount, float *out, pet_sss_info *info)
{
  PET_TRY(check_inputs(s, L, mu, bfirst, bcount));
  PET_CHECK(lambda != NULL && opts != NULL && (out != NULL || bcount == 0), PET_ERR_ARG,
            "scatter: NULL image, options or output");
  PET_TRY(pet_image_require(lambda, PET_HOST));
  double t0 = omp_get_wtime();
  sss_conf c;
  PET_TRY(sss_conf_make(s, opts, &c));
  const pet_scanner_params *p = &s->params;
  const int32_t dpr = p->dets_per_ring, R = p->num_rings, T1 = c.T > 0 ? c.T : 1;
  sss_samples smp;
  PET_TRY(sss_samples_make(s, c.kt, &smp));
  const int32_t nt = smp.nt, nD = nt * c.nr, K = PET_SSS_LEG_PIECES, nf = PET_SSS_F_EM + K;
  pet_status st = PET_OK;
  float *pts = NULL, *sd = NULL, *pw = NULL, *knw = NULL, *knr = NULL, *tofw = NULL, *tab = NULL;
  float *dpos = NULL;
  int32_t *rs = NULL;
  uint8_t *need = NULL, *rneed = NULL, *cneed = NULL;
  int32_t np = 0;
  PET_TRY_GOTO(st, sss_points(mu, &c, &pts, &np), done);

  /* sampled detectors: position and normal (doi layer 0) */
  dpos = malloc((size_t)nD * 6 * sizeof(float));
  rs = malloc((size_t)c.nr * sizeof(int32_t));
  pw = malloc((size_t)np * sizeof(float));
  knw = malloc(SSS_N_KN * sizeof(float));
  knr = malloc(SSS_N_KN * sizeof(float));
  sd = malloc((size_t)np * nD * nf * sizeof(float));
  tab = calloc((size_t)nD * nD * T1, sizeof(float));
  PET_CHECK_GOTO(st, dpos && rs && pw && knw && knr && sd && tab, PET_ERR_NOMEM, done,
                 "scatter: no memory for the tables of %d scatter points x %d detectors", np, nD);
  for (int32_t j = 0; j < c.nr; ++j) rs[j] = sss_ring_of(j, c.nr, R);
  for (int32_t j = 0; j < c.nr; ++j)
    for (int32_t i = 0; i < nt; ++i) {
      int64_t det = (int64_t)rs[j] * dpr + smp.cs[i];
      memcpy(dpos + 6 * ((int64_t)j * nt + i), s->lut + 6 * det, 6 * sizeof(float));
    }
  for (int32_t i = 0; i < np; ++i) pw[i] = pts[4 * i + 3];

  /* the sampled pairs some bin of [bfirst, bfirst + bcount) interpolates from: ring-sample
   * pairs of its z-bins (a rank's bins are whole z-bins) times crystal-sample pairs of the valid
   * (phi, r); the others are not computed */
  need = calloc((size_t)nD * nD, 1);
  rneed = calloc((size_t)c.nr * c.nr, 1);
  cneed = calloc((size_t)nt * nt, 1);
  PET_CHECK_GOTO(st, need && rneed && cneed, PET_ERR_NOMEM, done, "scatter: no memory for the pair mask");
  if (bcount > 0) {
    const int64_t per_z = L->num_phi * L->num_r;
    for (int64_t zb = bfirst / per_z; zb <= (bfirst + bcount - 1) / per_z; ++zb) {
      int32_t a[2], b[2];
      float w;
      ring_bracket(rs, c.nr, L->zbin_rings[2 * zb], &a[0], &a[1], &w);
      ring_bracket(rs, c.nr, L->zbin_rings[2 * zb + 1], &b[0], &b[1], &w);
      for (int u = 0; u < 2; ++u)
        for (int v = 0; v < 2; ++v) {
          rneed[a[u] * c.nr + b[v]] = 1;
          rneed[b[v] * c.nr + a[u]] = 1;
        }
    }
    for (int64_t e = 0; e < per_z; ++e) {
      if (L->invalid[e]) continue;
      int32_t i1 = L->ring_pairs[2 * e] % dpr, i2 = L->ring_pairs[2 * e + 1] % dpr;
      int32_t a[2] = {smp.j0[i1], smp.j1[i1]}, b[2] = {smp.j0[i2], smp.j1[i2]};
      for (int u = 0; u < 2; ++u)
        for (int v = 0; v < 2; ++v) {
          cneed[a[u] * nt + b[v]] = 1;
          cneed[b[v] * nt + a[u]] = 1;
        }
    }
  }
  int64_t npairs = 0;
  for (int32_t A = 0; A < nD; ++A)
    for (int32_t B = A + 1; B < nD; ++B) {
      uint8_t nd = rneed[(A / nt) * c.nr + B / nt] && cneed[(A % nt) * nt + B % nt];
      need[(int64_t)A * nD + B] = nd;
      npairs += nd;
    }

  /* Klein-Nishina and energy-window tables over cos theta */
  {
    double st0 = pet_kn_sigma_total(SSS_E0_KEV);
    double e0 = pet_sss_window_eff(SSS_E0_KEV, c.lld, c.uld, c.fwhm);
    PET_CHECK_GOTO(st, e0 > 1e-6, PET_ERR_ARG, done,
                   "scatter: the energy window [%g, %g] keV (FWHM %g keV) accepts no 511 keV photon",
                   (double)c.lld, (double)c.uld, (double)c.fwhm);
    for (int32_t i = 0; i < SSS_N_KN; ++i) {
      double ct = -1.0 + 2.0 * (double)i / (double)(SSS_N_KN - 1);
      double e1 = SSS_E0_KEV / (1.0 + SSS_E0_KEV / SSS_MEC2_KEV * (1.0 - ct));
      knw[i] = (float)(pet_kn_dsigma_domega(SSS_E0_KEV, ct) / st0 *
                       pet_sss_window_eff(e1, c.lld, c.uld, c.fwhm) / e0);
      knr[i] = (float)(pet_kn_sigma_total(e1) / st0);
    }
  }

  /* per (scatter point, detector): direction, distance, cosine, mu and emission integrals */
  {
    const int64_t nsd = (int64_t)np * nD;
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t q = 0; q < nsd; ++q) {
      const float *S = pts + 4 * (q % np), *D = dpos + 6 * (q / np);
      float *e = sd + q * nf;
      float dx = D[0] - S[0], dy = D[1] - S[1], dz = D[2] - S[2];
      float r = sqrtf(dx * dx + dy * dy + dz * dz);
      float ir = r > 0.0f ? 1.0f / r : 0.0f;
      e[PET_SSS_F_UX] = dx * ir;
      e[PET_SSS_F_UY] = dy * ir;
      e[PET_SSS_F_UZ] = dz * ir;
      e[PET_SSS_F_R] = r;
      e[PET_SSS_F_G] = fabsf(D[3] * dx + D[4] * dy + D[5] * dz) * ir * ir * ir;
      e[PET_SSS_F_MU] = seg_integral(S, D, mu);
      float tot = 0.0f;
      for (int32_t k = 0; k < K; ++k) {
        float a[3], b[3];
        for (int i = 0; i < 3; ++i) {
          float d = D[i] - S[i];
          a[i] = S[i] + d * (float)k / (float)K;
          b[i] = S[i] + d * (float)(k + 1) / (float)K;
        }
        e[PET_SSS_F_EM + k] = seg_integral(a, b, lambda);
        tot += e[PET_SSS_F_EM + k];
      }
      e[PET_SSS_F_EMT] = tot;
    }
  }

  pet_sss_tabs tb;
  memset(&tb, 0, sizeof tb);
  tb.num_points = np;
  tb.num_dets = nD;
  tb.pieces = K;
  tb.nf = nf;
  tb.sd = sd;
  tb.pw = pw;
  tb.n_kn = SSS_N_KN;
  tb.kn_w = knw;
  tb.kn_r = knr;
  if (c.T > 0) {
    pet_tof_bins bins;
    memset(&bins, 0, sizeof bins);
    bins.k = pet_tof_kernel_make(c.tof_fwhm_ps, SSS_TOF_SIGMAS);
    bins.n = c.T;
    bins.bin_mm = c.bin_mm;
    float reach = pet_tof_bins_reach_mm(&bins);
    float h = 0.25f * (c.bin_mm < bins.k.sigma_mm ? c.bin_mm : bins.k.sigma_mm);
    int32_t nfine = (int32_t)ceilf(2.0f * reach / h);
    if (nfine > PET_SSS_FINE_MAX) {
      nfine = PET_SSS_FINE_MAX;
      h = 2.0f * reach / (float)nfine;
    }
    tofw = calloc((size_t)nfine * c.T, sizeof(float));
    PET_CHECK_GOTO(st, tofw != NULL, PET_ERR_NOMEM, done, "scatter: no memory for the TOF kernel");
    for (int32_t q = 0; q < nfine; ++q) {
      float o = -reach + ((float)q + 0.5f) * h;
      bins.out = tofw + (int64_t)q * c.T;
      pet_tof_bins_add(&bins, o / c.bin_mm + 0.5f * (float)c.T, 1.0f);
    }
    tb.num_tof_bins = c.T;
    tb.fine_n = nfine;
    tb.fine_h = h;
    tb.fine_reach = reach;
    tb.tofw = tofw;
  }

  const double t_pairs = omp_get_wtime();
  /* the sampled pairs a < b (on the device, or here), then b > a by symmetry */
  if (opts->gpu) {
    PET_TRY_GOTO(st, pet_gpu_sss_pairs(&tb, need, tab), done);
  } else {
#pragma omp parallel
    {
      float fine[PET_SSS_FINE_MAX];
#pragma omp for schedule(dynamic, 1)
      for (int32_t a = 0; a < nD; ++a)
        for (int32_t b = a + 1; b < nD; ++b)
          if (need[(int64_t)a * nD + b]) pet_sss_pair(&tb, a, b, 1.0f, fine, tab + ((int64_t)a * nD + b) * T1);
    }
  }
  for (int32_t a = 0; a < nD; ++a)
    for (int32_t b = a + 1; b < nD; ++b) {
      const float *src = tab + ((int64_t)a * nD + b) * T1;
      float *dst = tab + ((int64_t)b * nD + a) * T1;
      for (int32_t t = 0; t < T1; ++t) dst[t] = src[T1 - 1 - t];
    }

  const double t_interp = omp_get_wtime();
  /* interpolation to the bins, times each bin's L^2 / (c_A c_B) */
  {
    const int64_t nrd = (int64_t)R * dpr;
#pragma omp parallel for schedule(dynamic, 4096)
    for (int64_t i = 0; i < bcount; ++i) {
      float *o = out + i * T1;
      for (int32_t t = 0; t < T1; ++t) o[t] = 0.0f;
      int32_t d1, d2;
      bool valid = false;
      if (pet_histo_bin_to_dets(L, bfirst + i, &d1, &d2, &valid) != PET_OK || !valid) continue;
      int32_t dd[2] = {d1, d2};
      int32_t ci[2][2], ri[2][2];
      float cw[2][2], rw[2][2];
      for (int e = 0; e < 2; ++e) {
        int64_t d = dd[e] % nrd;
        int32_t ring = (int32_t)(d / dpr), cr = (int32_t)(d % dpr);
        ci[e][0] = smp.j0[cr];
        ci[e][1] = smp.j1[cr];
        cw[e][0] = 1.0f - smp.w[cr];
        cw[e][1] = smp.w[cr];
        float g;
        ring_bracket(rs, c.nr, ring, &ri[e][0], &ri[e][1], &g);
        rw[e][0] = 1.0f - g;
        rw[e][1] = g;
      }
      for (int ra = 0; ra < 2; ++ra)
        for (int ca = 0; ca < 2; ++ca)
          for (int rb = 0; rb < 2; ++rb)
            for (int cb = 0; cb < 2; ++cb) {
              float w = rw[0][ra] * cw[0][ca] * rw[1][rb] * cw[1][cb];
              if (w == 0.0f) continue;
              int64_t A = (int64_t)ri[0][ra] * nt + ci[0][ca];
              int64_t B = (int64_t)ri[1][rb] * nt + ci[1][cb];
              const float *v = tab + (A * nD + B) * T1;
              for (int32_t t = 0; t < T1; ++t) o[t] += w * v[t];
            }
      const float *P1 = s->lut + 6 * (int64_t)d1, *P2 = s->lut + 6 * (int64_t)d2;
      float ux = P2[0] - P1[0], uy = P2[1] - P1[1], uz = P2[2] - P1[2];
      float len = sqrtf(ux * ux + uy * uy + uz * uz);
      float c1 = fabsf(P1[3] * ux + P1[4] * uy + P1[5] * uz) / len;
      float c2 = fabsf(P2[3] * ux + P2[4] * uy + P2[5] * uz) / len;
      c1 = c1 < SSS_COS_MIN ? SSS_COS_MIN : c1;
      c2 = c2 < SSS_COS_MIN ? SSS_COS_MIN : c2;
      float geom = len * len / (c1 * c2);
      for (int32_t t = 0; t < T1; ++t) o[t] *= geom;
    }
  }
  if (info != NULL) {
    memset(info, 0, sizeof *info);
    info->scatter_points = np;
    info->det_samples = nD;
    info->pairs = npairs;
    info->bins = bcount;
    info->det_step = c.kt;
    info->ring_samples = c.nr;
    info->lld_kev = c.lld;
    info->uld_kev = c.uld;
    info->fwhm_kev = c.fwhm;
    info->seconds = omp_get_wtime() - t0;
    info->seconds_tables = t_pairs - t0;
    info->seconds_pairs = t_interp - t_pairs;
  }
done:
  free(pts);
  free(sd);
  free(pw);
  free(knw);
  free(knr);
  free(tofw);
  free(tab);
  free(dpos);
  free(rs);
  free(need);
  free(rneed);
  free(cneed);
  sss_samples_free(&smp);
  return st;
}

pet_status pet_sss_mu_integrals(const pet_scanner *s, const pet_histo_layout *L, const pet_image *mu,
                                int64_t bfirst, int64_t bcount, float *out)
{
  PET_TRY(check_inputs(s, L, mu, bfirst, bcount));
  PET_CHECK(out != NULL || bcount == 0, PET_ERR_ARG, "scatter: NULL output");
#pragma omp parallel for schedule(dynamic, 4096)
  for (int64_t i = 0; i < bcount; ++i) {
    int32_t d1, d2;
    bool valid = false;
    out[i] = 0.0f;
    if (pet_histo_bin_to_dets(L, bfirst + i, &d1, &d2, &valid) != PET_OK || !valid) continue;
    out[i] = seg_integral(s->lut + 6 * (int64_t)d1, s->lut + 6 * (int64_t)d2, mu);
  }
  return PET_OK;
}

pet_status pet_scatter_tail_fit(const pet_scanner *s, const pet_histo_layout *L, const pet_image *mu,
                                const pet_sss_opts *opts, int64_t bfirst, int64_t bcount,
                                int32_t T, const float *y, const float *randoms, const float *norm,
                                const float *mu_int, const float *sss, const pet_reducer *red,
                                double *scale, int64_t *tail_bins)
{
  PET_TRY(check_inputs(s, L, mu, bfirst, bcount));
  PET_CHECK(opts != NULL && scale != NULL && ((y != NULL && sss != NULL) || bcount == 0), PET_ERR_ARG,
            "scatter: tail fit: NULL counts, estimate, options or scale");
  PET_CHECK(T >= 0 && T <= PET_TOF_BINS_MAX, PET_ERR_ARG, "scatter: tail fit: %d TOF bins", T);
  const float thr = opts->tail_mu_max > 0.0f ? opts->tail_mu_max : 0.01f;
  const int32_t T1 = T > 0 ? T : 1;
  float *own = NULL;
  if (mu_int == NULL && bcount > 0) {
    own = malloc((size_t)bcount * sizeof(float));
    PET_CHECK(own != NULL, PET_ERR_NOMEM, "scatter: no memory for %lld line integrals", (long long)bcount);
    pet_status st = pet_sss_mu_integrals(s, L, mu, bfirst, bcount, own);
    if (st != PET_OK) {
      free(own);
      return st;
    }
    mu_int = own;
  }
  double n = 0.0, num = 0.0, den = 0.0;
#pragma omp parallel for reduction(+ : n, num, den) schedule(static)
  for (int64_t i = 0; i < bcount; ++i) {
    float nm = norm ? norm[i] : 1.0f;
    if (!(mu_int[i] < thr) || !(nm > 0.0f)) continue;
    int32_t d1, d2;
    bool valid = false;
    if (pet_histo_bin_to_dets(L, bfirst + i, &d1, &d2, &valid) != PET_OK || !valid) continue;
    double ys = 0.0, ss = 0.0;
    for (int32_t t = 0; t < T1; ++t) {
      ys += y[i * T1 + t];
      ss += sss[i * T1 + t];
    }
    n += 1.0;
    num += ys - (randoms ? randoms[i] : 0.0f);
    den += (double)nm * ss;
  }
  free(own);
  float buf[3] = {(float)n, (float)num, (float)den};
  PET_TRY(pet_reducer_sum(red, buf, 3, PET_HOST));
  if (tail_bins) *tail_bins = (int64_t)llround((double)buf[0]);
  PET_CHECK(buf[0] > 0.5f, PET_ERR_ARG,
            "scatter: the tail mask is empty: every LOR crosses the mu-map (int mu >= %g); the tail "
            "fit needs LORs that miss the body (a mu-map smaller than the field of view)",
            (double)thr);
  PET_CHECK(buf[2] > 0.0f, PET_ERR_ARG,
            "scatter: the SSS estimate is 0 in all %.0f tail bins: nothing to fit the scale to",
            (double)buf[0]);
  double sc = (double)buf[1] / (double)buf[2];
  *scale = sc > 0.0 ? sc : 0.0;
  return PET_OK;
}

pet_status pet_scatter_estimate(const pet_scanner *s, const pet_histo_layout *L,
                                const pet_image *lambda, const pet_image *mu,
                                const pet_sss_opts *opts, int64_t bfirst, int64_t bcount,
                                const float *y, const float *randoms, const float *norm,
                                const float *mu_int, const pet_reducer *red, float *out,
                                pet_sss_info *info)
{
  pet_sss_info loc;
  PET_TRY(pet_sss_simulate(s, L, lambda, mu, opts, bfirst, bcount, out, &loc));
  double scale = 0.0;
  int64_t tails = 0;
  const int32_t T = opts->num_tof_bins, T1 = T > 0 ? T : 1;
  PET_TRY(pet_scatter_tail_fit(s, L, mu, opts, bfirst, bcount, T, y, randoms, norm, mu_int, out, red,
                               &scale, &tails));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < bcount; ++i) {
    float f = (float)scale * (norm ? norm[i] : 1.0f);
    for (int32_t t = 0; t < T1; ++t) out[i * T1 + t] *= f;
  }
  loc.scale = scale;
  loc.tail_bins = tails;
  if (info) *info = loc;
  return PET_OK;
}
