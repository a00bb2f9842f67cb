/* Monte-Carlo single scatter (pet_simulate.h: pet_scatter_mc), independent of the scatter
 * estimators: photon pairs emitted from an activity image and tracked through a mu-map.
 *
 * The model, per pair i (a stream keyed by (seed, i), so the counts are the same for any
 * thread count; bins are counted with atomic integer increments):
 * - emission: a voxel drawn from a cumulative table of the activity (binary search), a point
 *   uniform in it; no positron range, no non-collinearity; an isotropic direction u, photons
 *   along u and -u at 511 keV;
 * - transport: delta (Woodcock) tracking through the mu grid: free paths exponential at the
 *   grid's largest mu(E), a real interaction with probability mu(x, E) / max. mu(x, E) = mu(x)
 *   (1/mm at 511 keV) x water's total attenuation at E relative to 511 keV (NIST XCOM mass
 *   attenuation of water, log-log interpolation), i.e. every material is water-like;
 * - every interaction is a Compton scatter (in water at 200-511 keV Compton is > 99% of the
 *   total attenuation; Rayleigh and photoelectric are neglected): cos drawn from Klein-Nishina
 *   by rejection, azimuth uniform, E' = E / (1 + E/511 (1 - cos)). At most one interaction in
 *   the pair: a photon interacting when the pair already has one is lost (single scatter only;
 *   multiple scatter is not modelled);
 * - detection: the photon reaches a crystal of the scanner's regular geometry along its last
 *   straight segment (pet_sim_geom_hit, as the event simulator); the crystal absorbs all its
 *   energy (no scatter in the detector, 100% efficiency), measured with a Gaussian blur of
 *   FWHM energy_fwhm_kev sqrt(E / 511), kept within [lld, uld]. Both photons kept and the pair
 *   held by the histogram: a true (no interaction) or a scatter (one) in the pair's bin.
 * TOF (optional): t2 - t1 of the bin's detector order from the photons' path lengths (emission to
 * scatter to the crystal's centre) over c, blurred by the scanner's resolution (a Gaussian
 * truncated at 4 sigma), binned as a TOF histogram (pet_histogram.h: t = floor(tof / w + T / 2));
 * times outside the T bins are left out of the TOF array only.
 * The counts of a bin are divided by the pair's geometric efficiency along its LOR (relative
 * to a diametral LOR, see pet_simulate.h), which the analytic projection does not have. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pet_histogram.h"
#include "pet_sim_internal.h"
#include "pet_simulate.h"

#define SCATTER_SALT 0x5CA77E5ull        /* the scatter's streams differ from the noise's */
#define MAX_PHOTONS ((int64_t)1000000000000) /* 1e12: uint32 counts per bin cannot overflow */
#define MAX_STEPS 100000                  /* delta-tracking steps of one photon (a guard) */
#define ME_KEV 511.0
#define MC_CHUNK ((int64_t)1 << 22) /* pairs between two polls of the stop callback */
#define TOF_TRUNC_SIGMAS 4.0 /* the TOF blur: a Gaussian truncated here (as the event simulator) */
#define SPEED_OF_LIGHT_MM_PS 0.299792458

static const double TWO_PI = 6.283185307179586;

/* NIST XCOM (Hubbell and Seltzer, NISTIR 5632): water, mass attenuation coefficient with
 * coherent scattering (cm^2/g), 100 keV .. 800 keV */
static const double WATER_E_KEV[] = {100, 150, 200, 300, 400, 500, 600, 800};
static const double WATER_MU_RHO[] = {0.1707, 0.1505, 0.1370, 0.1186, 0.1061, 0.09687, 0.08956, 0.07865};
#define WATER_N ((int)(sizeof WATER_E_KEV / sizeof WATER_E_KEV[0]))

static double water_mu_rho(double e)
{
  int k = 0;
  while (k < WATER_N - 2 && e > WATER_E_KEV[k + 1]) ++k;
  const double t = log(e / WATER_E_KEV[k]) / log(WATER_E_KEV[k + 1] / WATER_E_KEV[k]);
  return exp(log(WATER_MU_RHO[k]) + t * log(WATER_MU_RHO[k + 1] / WATER_MU_RHO[k]));
}

double pet_scatter_mc_mu_ratio(double e_kev) { return water_mu_rho(e_kev) / water_mu_rho(ME_KEV); }

double pet_scatter_mc_kn(double k, double cos_t)
{
  const double eps = 1.0 / (1.0 + k * (1.0 - cos_t));
  return eps * eps * (eps + 1.0 / eps - (1.0 - cos_t * cos_t));
}

double pet_scatter_mc_kn_cos(pet_sim_rng *r, double k)
{
  /* the density is at most 2 (forward, eps = 1) */
  for (;;) {
    const double c = 2.0 * pet_sim_uniform(r) - 1.0;
    if (2.0 * pet_sim_uniform(r) <= pet_scatter_mc_kn(k, c)) return c;
  }
}

static double gauss(pet_sim_rng *r)
{
  const double u1 = pet_sim_uniform(r), u2 = pet_sim_uniform(r);
  return sqrt(-2.0 * log(1.0 - u1)) * cos(TWO_PI * u2);
}

/* The mu grid: voxel (ix, iy, iz) holds [x0 + ix vx, x0 + (ix + 1) vx), ... */
typedef struct grid {
  const float *mu;
  int32_t nx, ny, nz;
  double x0, y0, z0, vx, vy, vz;
  double mu_max;
} grid;

static grid grid_of(const pet_image *img)
{
  const pet_image_params *p = &img->params;
  grid g;
  g.mu = img->data;
  g.nx = p->nx;
  g.ny = p->ny;
  g.nz = p->nz;
  g.vx = (double)p->length_x / p->nx;
  g.vy = (double)p->length_y / p->ny;
  g.vz = (double)p->length_z / p->nz;
  g.x0 = (double)p->off_x - 0.5 * (double)p->length_x;
  g.y0 = (double)p->off_y - 0.5 * (double)p->length_y;
  g.z0 = (double)p->off_z - 0.5 * (double)p->length_z;
  g.mu_max = 0.0;
  return g;
}

/* mu at p (1/mm at 511 keV); false outside the grid */
static bool mu_at(const grid *g, const double p[3], double *m)
{
  const double fx = (p[0] - g->x0) / g->vx, fy = (p[1] - g->y0) / g->vy, fz = (p[2] - g->z0) / g->vz;
  if (!(fx >= 0.0 && fy >= 0.0 && fz >= 0.0 && fx < g->nx && fy < g->ny && fz < g->nz)) return false;
  const int64_t ix = (int64_t)fx, iy = (int64_t)fy, iz = (int64_t)fz;
  *m = g->mu[(iz * g->ny + iy) * g->nx + ix];
  return true;
}

/* u turned by a polar angle (cos ct) and an azimuth phi about itself */
static void rotate(double u[3], double ct, double phi)
{
  const double st = sqrt(fmax(0.0, 1.0 - ct * ct)), cp = cos(phi), sp = sin(phi);
  const double s = sqrt(fmax(0.0, 1.0 - u[2] * u[2]));
  double v[3];
  if (s > 1e-6) {
    v[0] = st * (u[0] * u[2] * cp - u[1] * sp) / s + u[0] * ct;
    v[1] = st * (u[1] * u[2] * cp + u[0] * sp) / s + u[1] * ct;
    v[2] = -st * cp * s + u[2] * ct;
  } else {
    v[0] = st * cp;
    v[1] = st * sp;
    v[2] = (u[2] >= 0.0 ? 1.0 : -1.0) * ct;
  }
  const double n = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  u[0] = v[0] / n;
  u[1] = v[1] / n;
  u[2] = v[2] / n;
}

typedef struct photon {
  double p[3]; /* the last interaction (or the emission) point */
  double u[3];
  double e;    /* keV */
  double path; /* mm from the emission to p */
} photon;

static double dist3(const double p[3], const float *q)
{
  const double d[3] = {q[0] - p[0], q[1] - p[1], q[2] - p[2]};
  return sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
}

/* Tracks ph until it leaves the grid. *interactions counts the pair's interactions: false when
 * this photon would make it two (the pair is lost). */
static bool track(const grid *g, pet_sim_rng *r, photon *ph, int *interactions)
{
  double q[3] = {ph->p[0], ph->p[1], ph->p[2]};
  if (!(g->mu_max > 0.0)) return true;
  for (int step = 0; step < MAX_STEPS; ++step) {
    const double ratio = pet_scatter_mc_mu_ratio(ph->e), mmax = g->mu_max * ratio;
    const double s = -log(1.0 - pet_sim_uniform(r)) / mmax;
    for (int d = 0; d < 3; ++d) q[d] += s * ph->u[d];
    double m = 0.0;
    if (!mu_at(g, q, &m)) return true;
    if (!(pet_sim_uniform(r) * g->mu_max < m)) continue; /* a virtual interaction */
    if (++*interactions > 1) return false;
    const double k = ph->e / ME_KEV;
    const double ct = pet_scatter_mc_kn_cos(r, k);
    rotate(ph->u, ct, TWO_PI * pet_sim_uniform(r));
    ph->e /= 1.0 + k * (1.0 - ct);
    const double dp[3] = {q[0] - ph->p[0], q[1] - ph->p[1], q[2] - ph->p[2]};
    ph->path += sqrt(dp[0] * dp[0] + dp[1] * dp[1] + dp[2] * dp[2]);
    for (int d = 0; d < 3; ++d) ph->p[d] = q[d];
  }
  return false;
}

/* Whether the ray from p along u may reach a crystal: it meets the crystals' planes between
 * the radii rc and rout (the blocks' corners) at a z within the axial FOV. False means it
 * never does: a pair neither of whose photons may go straight to a crystal is never recorded
 * (a true needs both, a single scatter the unscattered one), and is skipped before tracking. */
static bool may_reach(const pet_sim_geom *g, double rout, const double p[3], const double u[3])
{
  const double a = u[0] * u[0] + u[1] * u[1];
  if (a < 1e-12) return false;
  const double b = p[0] * u[0] + p[1] * u[1], r2 = p[0] * p[0] + p[1] * p[1];
  const double c1 = r2 - g->rc * g->rc, c2 = r2 - rout * rout;
  const double s1 = c1 < 0.0 ? (-b + sqrt(b * b - a * c1)) / a : 0.0;
  const double s2 = c2 < 0.0 ? (-b + sqrt(b * b - a * c2)) / a : 0.0;
  const double z1 = p[2] + s1 * u[2], z2 = p[2] + s2 * u[2];
  return fmin(z1, z2) <= g->half_fov && fmax(z1, z2) >= -g->half_fov;
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static pet_status check_image(const pet_image *img, const char *what, bool need_positive, double *sum, double *max)
{
  PET_CHECK(img->data != NULL && img->space == PET_HOST, PET_ERR_ARG,
            "scatter MC: the %s image must have host memory", what);
  const int64_t n = pet_image_params_num_voxels(&img->params);
  double s = 0.0, m = 0.0;
  for (int64_t v = 0; v < n; ++v) {
    const float a = img->data[v];
    PET_CHECK(isfinite(a) && a >= 0.0f, PET_ERR_ARG, "scatter MC: %s voxel %lld is %g (must be finite and >= 0)",
              what, (long long)v, (double)a);
    s += a;
    m = fmax(m, a);
  }
  PET_CHECK(!need_positive || s > 0.0, PET_ERR_ARG, "scatter MC: the %s image is zero everywhere", what);
  *sum = s;
  *max = m;
  return PET_OK;
}

pet_status pet_scatter_mc(const pet_scanner *s, const pet_histo_layout *L, const pet_image *activity,
                          const pet_image *mu, const pet_sim_opts *o, float *trues, float *scattered,
                          float *scattered_tof, pet_scatter_mc_info *info)
{
  PET_CHECK(s && s->lut && L && activity && o && trues && scattered, PET_ERR_ARG, "scatter MC: NULL argument");
  PET_CHECK(mu != NULL, PET_ERR_ARG, "scatter MC: pet_sim_opts.scatter needs the attenuation map (mu is NULL)");
  PET_CHECK(o->scatter_photons > 0 && o->scatter_photons <= MAX_PHOTONS, PET_ERR_ARG,
            "scatter MC: pet_sim_opts.scatter_photons must be in [1, 1e12] (got %lld)", (long long)o->scatter_photons);
  PET_CHECK(isfinite(o->energy_lld_kev) && isfinite(o->energy_uld_kev) && o->energy_lld_kev >= 0 &&
                o->energy_lld_kev < o->energy_uld_kev,
            PET_ERR_ARG,
            "scatter MC: pet_sim_opts.energy_lld_kev and energy_uld_kev must be finite with 0 <= lld < uld "
            "(got %g, %g)",
            (double)o->energy_lld_kev, (double)o->energy_uld_kev);
  PET_CHECK(isfinite(o->energy_fwhm_kev) && o->energy_fwhm_kev >= 0, PET_ERR_ARG,
            "scatter MC: pet_sim_opts.energy_fwhm_kev must be finite and >= 0 (got %g)", (double)o->energy_fwhm_kev);
  const pet_scanner_params *sp = &s->params;
  PET_CHECK(sp->num_doi == 1, PET_ERR_UNSUPPORTED,
            "scatter MC: scanner %s has %d DOI layers; the Monte-Carlo scatter models one", sp->name, sp->num_doi);
  PET_CHECK(sp->dets_per_ring % sp->dets_per_block == 0, PET_ERR_ARG,
            "scatter MC: scanner %s: dets_per_ring (%d) is not a multiple of dets_per_block (%d)", sp->name,
            sp->dets_per_ring, sp->dets_per_block);
  const int32_t nt = scattered_tof ? sp->num_tof_bins : 0;
  PET_CHECK(!scattered_tof || (sp->num_tof_bins > 0 && sp->tof_bin_width_ps > 0 && sp->tof_fwhm_ps > 0), PET_ERR_ARG,
            "scatter MC: TOF scatter asked for, but scanner %s has no TOF bins (numTOFBins %d, tofBinWidth_ps %g, "
            "tofResolution_ps %g)",
            sp->name, sp->num_tof_bins, (double)sp->tof_bin_width_ps, (double)sp->tof_fwhm_ps);
  PET_TRY(pet_image_params_check(&activity->params));
  PET_TRY(pet_image_params_check(&mu->params));
  double asum = 0, amax = 0, msum = 0, mmax = 0;
  PET_TRY(check_image(activity, "activity", true, &asum, &amax));
  PET_TRY(check_image(mu, "mu", false, &msum, &mmax));
  PET_TRY(pet_histo_layout_check_array(L, (2 + 2 * (size_t)(nt > 0 ? nt : 0)) * sizeof(float) + 2 * sizeof(uint32_t),
                                       "the Monte-Carlo scatter"));

  pet_status st = PET_OK;
  const int64_t nb = L->num_bins, nvox = pet_image_params_num_voxels(&activity->params);
  int64_t nact = 0;
  for (int64_t v = 0; v < nvox; ++v) nact += activity->data[v] > 0.0f;
  double *cdf = malloc((size_t)nact * sizeof *cdf);
  int64_t *vox = malloc((size_t)nact * sizeof *vox);
  uint32_t *ct = calloc((size_t)nb, sizeof *ct), *cs = calloc((size_t)nb, sizeof *cs);
  uint32_t *ctof = nt > 0 ? calloc((size_t)nb * (size_t)nt, sizeof *ctof) : NULL;
  PET_CHECK_GOTO(st, cdf && vox && ct && cs && (nt == 0 || ctof), PET_ERR_NOMEM, out,
                 "scatter MC: out of memory (%lld bins)", (long long)nb);
  double acc = 0.0;
  for (int64_t v = 0, k = 0; v < nvox; ++v)
    if (activity->data[v] > 0.0f) {
      acc += activity->data[v];
      cdf[k] = acc;
      vox[k++] = v;
    }
  grid g = grid_of(mu);
  g.mu_max = mmax;
  const grid ga = grid_of(activity);
  const pet_sim_geom geo = pet_sim_geom_of(sp);
  const double rout = sqrt(geo.rc * geo.rc + 0.25 * geo.block_len * geo.block_len);
  const double lld = o->energy_lld_kev, uld = o->energy_uld_kev;
  const double sig511 = o->energy_fwhm_kev / 2.3548200450309493;
  const double sig_ps = nt > 0 ? sp->tof_fwhm_ps / 2.3548200450309493 : 0.0, tof_w = sp->tof_bin_width_ps;
  const int64_t n = o->scatter_photons;
  const uint64_t seed = o->seed ^ SCATTER_SALT;
  const double t0 = now_s();
  int64_t ntrue = 0, nscat = 0;
  for (int64_t first = 0; first < n; first += MC_CHUNK) {
    /* a stop (o->cb) is polled between chunks of pairs */
    PET_CHECK_GOTO(st, !pet_batch_cb_stop(o->cb), PET_ERR_INTERRUPTED, out,
                   "scatter MC: stopped after %lld of %lld photon pairs", (long long)first, (long long)n);
    const int64_t last = n - first < MC_CHUNK ? n : first + MC_CHUNK;
#pragma omp parallel for schedule(dynamic, 16384) reduction(+ : ntrue, nscat)
    for (int64_t i = first; i < last; ++i) {
      pet_sim_rng r = pet_sim_rng_of(seed, (uint64_t)i);
      /* the voxel: the first whose cumulative activity exceeds u x total */
      const double target = pet_sim_uniform(&r) * acc;
      int64_t lo = 0, hi = nact - 1;
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > target) hi = mid;
        else lo = mid + 1;
      }
      const int64_t v = vox[lo];
      const int64_t ix = v % ga.nx, iy = (v / ga.nx) % ga.ny, iz = v / ((int64_t)ga.nx * ga.ny);
      photon a, b;
      a.p[0] = ga.x0 + ((double)ix + pet_sim_uniform(&r)) * ga.vx;
      a.p[1] = ga.y0 + ((double)iy + pet_sim_uniform(&r)) * ga.vy;
      a.p[2] = ga.z0 + ((double)iz + pet_sim_uniform(&r)) * ga.vz;
      const double cz = 2.0 * pet_sim_uniform(&r) - 1.0, phi = TWO_PI * pet_sim_uniform(&r), sz = sqrt(1.0 - cz * cz);
      a.u[0] = sz * cos(phi);
      a.u[1] = sz * sin(phi);
      a.u[2] = cz;
      a.e = b.e = ME_KEV;
      a.path = b.path = 0.0;
      for (int d = 0; d < 3; ++d) {
        b.p[d] = a.p[d];
        b.u[d] = -a.u[d];
      }
      if (!may_reach(&geo, rout, a.p, a.u) && !may_reach(&geo, rout, b.p, b.u)) continue;
      int inter = 0;
      if (!track(&g, &r, &a, &inter) || !track(&g, &r, &b, &inter)) continue;
      int32_t da = 0, db = 0;
      if (!pet_sim_geom_hit(&geo, a.p, a.u, &da) || !pet_sim_geom_hit(&geo, b.p, b.u, &db)) continue;
      const double ea = a.e + sig511 * sqrt(a.e / ME_KEV) * gauss(&r);
      const double eb = b.e + sig511 * sqrt(b.e / ME_KEV) * gauss(&r);
      if (!(ea >= lld && ea <= uld && eb >= lld && eb <= uld)) continue;
      if (!pet_histo_pair_valid(sp, da, db)) continue;
      int64_t bin = 0;
      if (pet_histo_dets_to_bin(L, da, db, &bin) != PET_OK) continue;
      uint32_t *c = inter == 0 ? ct : cs;
#pragma omp atomic update
      c[bin] += 1u;
      if (inter == 0) ++ntrue;
      else ++nscat;
      if (nt > 0 && inter == 1) {
        /* t2 - t1 of the bin's detector order: arrival times from the paths to the crystals'
         * centres, then the scanner's resolution (the last draws of the pair's stream) */
        int32_t b1 = 0, b2 = 0;
        bool valid = false;
        (void)pet_histo_bin_to_dets(L, bin, &b1, &b2, &valid);
        const double la = a.path + dist3(a.p, s->lut + 6 * (int64_t)da);
        const double lb = b.path + dist3(b.p, s->lut + 6 * (int64_t)db);
        double tof = (lb - la) / SPEED_OF_LIGHT_MM_PS;
        if (b1 != da) tof = -tof;
        double gs = 0.0;
        do gs = gauss(&r);
        while (fabs(gs) > TOF_TRUNC_SIGMAS);
        const double tb = floor((tof + sig_ps * gs) / tof_w + 0.5 * nt);
        if (tb >= 0.0 && tb < nt) {
#pragma omp atomic update
          ctof[bin * nt + (int64_t)tb] += 1u;
        }
      }
    }
  }
  const double secs = now_s() - t0;
  /* the pair's geometric efficiency along its LOR, relative to a diametral one */
  const double d0 = 2.0 * geo.rc;
#pragma omp parallel for schedule(static)
  for (int64_t bin = 0; bin < nb; ++bin) {
    int32_t d1 = 0, d2 = 0;
    bool valid = false;
    trues[bin] = scattered[bin] = 0.0f;
    for (int32_t t = 0; t < nt; ++t) scattered_tof[bin * nt + t] = 0.0f;
    if (pet_histo_bin_to_dets(L, bin, &d1, &d2, &valid) != PET_OK || !valid) continue;
    const float *l1 = s->lut + 6 * (int64_t)d1, *l2 = s->lut + 6 * (int64_t)d2;
    const double e[3] = {l2[0] - l1[0], l2[1] - l1[1], l2[2] - l1[2]};
    const double len = sqrt(e[0] * e[0] + e[1] * e[1] + e[2] * e[2]);
    if (!(len > 0.0)) continue;
    const double c1 = fabs(e[0] * l1[3] + e[1] * l1[4] + e[2] * l1[5]) / len;
    const double c2 = fabs(e[0] * l2[3] + e[1] * l2[4] + e[2] * l2[5]) / len;
    const double eff = c1 * c2 * (d0 / len) * (d0 / len);
    if (!(eff > 0.0)) continue;
    trues[bin] = (float)(ct[bin] / eff);
    scattered[bin] = (float)(cs[bin] / eff);
    for (int32_t t = 0; t < nt; ++t) scattered_tof[bin * nt + t] = (float)(ctof[bin * nt + t] / eff);
  }
  if (info) {
    info->photons = n;
    info->trues = ntrue;
    info->scattered = nscat;
    info->seconds = secs;
    info->photons_per_s = secs > 0 ? (double)n / secs : 0.0;
  }
out:
  free(cdf);
  free(vox);
  free(ct);
  free(cs);
  free(ctof);
  return st;
}
