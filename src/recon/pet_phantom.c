#include "pet_phantom.h"

#include <math.h>
#include <string.h>

pet_phantom pet_phantom_default(const pet_image_params *p)
{
  pet_phantom ph;
  memset(&ph, 0, sizeof ph);
  float half_t = 0.5f * fminf(p->length_x, p->length_y);
  float half_z = 0.5f * p->length_z;
  ph.cyl_radius = 0.7f * half_t;
  ph.cyl_half_length = half_z; /* fills the axial extent */
  ph.background = 1.0f;
  ph.mu_per_mm = 0.0096f;
  float R = ph.cyl_radius;
  float rz = fminf(0.45f * half_z, 0.18f * R);
  float rs[4] = {0.22f * R, 0.16f * R, 0.12f * R, 0.20f * R};
  float ang[4] = {0.0f, 1.5708f, 3.1416f, 4.7124f};
  ph.num_spheres = 4;
  for (int i = 0; i < 4; ++i) {
    pet_sphere *s = &ph.spheres[i];
    s->radius = fmaxf(fminf(rs[i], 2.2f * rz), rz);
    s->x = p->off_x + 0.5f * R * cosf(ang[i]);
    s->y = p->off_y + 0.5f * R * sinf(ang[i]);
    s->z = p->off_z;
    s->value = i == 3 ? 0.0f : 4.0f; /* three hot (4:1), one cold */
  }
  return ph;
}

static float activity_at(const pet_phantom *ph, float x, float y, float z, int mu)
{
  if (x * x + y * y > ph->cyl_radius * ph->cyl_radius || fabsf(z) > ph->cyl_half_length) return 0.0f;
  if (mu) return ph->mu_per_mm;
  for (int i = 0; i < ph->num_spheres; ++i) {
    const pet_sphere *s = &ph->spheres[i];
    float dx = x - s->x, dy = y - s->y, dz = z - s->z;
    if (dx * dx + dy * dy + dz * dz <= s->radius * s->radius) return s->value;
  }
  return ph->background;
}

float pet_phantom_activity_at(const pet_phantom *ph, float x, float y, float z) { return activity_at(ph, x, y, z, 0); }

static pet_status rasterise(const pet_phantom *ph, pet_image *img, int ss, int mu)
{
  PET_TRY(pet_image_require(img, PET_HOST));
  PET_CHECK(ss >= 1 && ss <= 16, PET_ERR_ARG, "phantom: sub-sampling must be in [1, 16]");
  const pet_image_params *p = &img->params;
  const float vx = pet_image_vx(p), vy = pet_image_vy(p), vz = pet_image_vz(p);
#pragma omp parallel for collapse(2) schedule(static)
  for (int z = 0; z < p->nz; ++z)
    for (int y = 0; y < p->ny; ++y)
      for (int x = 0; x < p->nx; ++x) {
        float cx = ((float)x - 0.5f * (float)(p->nx - 1)) * vx + p->off_x;
        float cy = ((float)y - 0.5f * (float)(p->ny - 1)) * vy + p->off_y;
        float cz = ((float)z - 0.5f * (float)(p->nz - 1)) * vz + p->off_z;
        double acc = 0.0;
        for (int a = 0; a < ss; ++a)
          for (int b = 0; b < ss; ++b)
            for (int c = 0; c < ss; ++c) {
              float px = cx + ((float)a + 0.5f - 0.5f * (float)ss) / (float)ss * vx;
              float py = cy + ((float)b + 0.5f - 0.5f * (float)ss) / (float)ss * vy;
              float pz = cz + ((float)c + 0.5f - 0.5f * (float)ss) / (float)ss * vz;
              acc += activity_at(ph, px, py, pz, mu);
            }
        img->data[((int64_t)z * p->ny + y) * p->nx + x] = (float)(acc / (ss * ss * ss));
      }
  return PET_OK;
}

pet_status pet_phantom_activity(const pet_phantom *ph, pet_image *img, int ss) { return rasterise(ph, img, ss, 0); }
pet_status pet_phantom_mu(const pet_phantom *ph, pet_image *img, int ss) { return rasterise(ph, img, ss, 1); }

static uint64_t splitmix(uint64_t z)
{
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double pet_uniform_keyed(uint64_t seed, uint64_t index)
{
  return (double)(splitmix(splitmix(seed) ^ index) >> 11) * (1.0 / 9007199254740992.0);
}

float pet_poisson_sample(uint64_t seed, uint64_t index, double mean)
{
  if (!(mean > 0.0)) return 0.0f;
  uint64_t state = splitmix(seed) ^ (index * 0xD1B54A32D192ED03ull);
  if (mean > 1e3) {
    /* Box-Muller normal approximation */
    double u1 = (double)((state = splitmix(state)) >> 11) * (1.0 / 9007199254740992.0);
    double u2 = (double)((state = splitmix(state)) >> 11) * (1.0 / 9007199254740992.0);
    double g = sqrt(-2.0 * log(u1 + 1e-300)) * cos(6.283185307179586 * u2);
    double v = floor(mean + sqrt(mean) * g + 0.5);
    return (float)(v < 0 ? 0 : v);
  }
  /* Knuth's multiplication method, split into chunks so exp(-mean) does not underflow */
  double k = 0.0;
  double remaining = mean;
  while (remaining > 0.0) {
    double chunk = remaining > 500.0 ? 500.0 : remaining;
    remaining -= chunk;
    double L = exp(-chunk), prod = 1.0;
    for (;;) {
      double u = (double)((state = splitmix(state)) >> 11) * (1.0 / 9007199254740992.0);
      prod *= u;
      if (prod <= L) break;
      k += 1.0;
    }
  }
  return (float)k;
}

pet_status pet_phantom_metrics_compute(const pet_phantom *ph, const pet_image *truth,
                                       const pet_image *x, pet_phantom_metrics *m)
{
  PET_TRY(pet_image_require(truth, PET_HOST));
  PET_TRY(pet_image_require(x, PET_HOST));
  PET_CHECK(pet_image_params_equal(&truth->params, &x->params), PET_ERR_ARG,
            "metrics: image and truth geometries differ");
  memset(m, 0, sizeof *m);
  const pet_image_params *p = &x->params;
  const float vx = pet_image_vx(p), vy = pet_image_vy(p), vz = pet_image_vz(p);
  double se = 0, st = 0, sb = 0, sbb = 0, nb = 0;
  double ssum[PET_PHANTOM_MAX_SPHERES] = {0}, scnt[PET_PHANTOM_MAX_SPHERES] = {0};
  for (int z = 0; z < p->nz; ++z)
    for (int y = 0; y < p->ny; ++y)
      for (int xi = 0; xi < p->nx; ++xi) {
        int64_t v = ((int64_t)z * p->ny + y) * p->nx + xi;
        float cx = ((float)xi - 0.5f * (float)(p->nx - 1)) * vx + p->off_x;
        float cy = ((float)y - 0.5f * (float)(p->ny - 1)) * vy + p->off_y;
        float cz = ((float)z - 0.5f * (float)(p->nz - 1)) * vz + p->off_z;
        float r2 = cx * cx + cy * cy;
        if (r2 > ph->cyl_radius * ph->cyl_radius || fabsf(cz) > ph->cyl_half_length) continue;
        double d = (double)x->data[v] - truth->data[v];
        se += d * d;
        st += (double)truth->data[v] * truth->data[v];
        int in_any = 0;
        for (int i = 0; i < ph->num_spheres; ++i) {
          const pet_sphere *s = &ph->spheres[i];
          float dx = cx - s->x, dy = cy - s->y, dz = cz - s->z;
          float dd = dx * dx + dy * dy + dz * dz;
          if (dd <= (1.3f * s->radius) * (1.3f * s->radius)) in_any = 1;
          if (dd <= (0.7f * s->radius) * (0.7f * s->radius)) {
            ssum[i] += x->data[v];
            scnt[i] += 1;
          }
        }
        /* background: not near a sphere, inside 0.85 R, central axial half */
        if (!in_any && r2 < 0.85f * 0.85f * ph->cyl_radius * ph->cyl_radius &&
            fabsf(cz) <= 0.5f * ph->cyl_half_length + 0.5f * vz) {
          sb += x->data[v];
          sbb += (double)x->data[v] * x->data[v];
          nb += 1;
        }
      }
  m->rmse_rel = st > 0 ? sqrt(se / st) : 0.0;
  if (nb > 0) {
    m->bkg_mean = sb / nb;
    double var = sbb / nb - m->bkg_mean * m->bkg_mean;
    m->bkg_cv = m->bkg_mean > 0 ? sqrt(var > 0 ? var : 0) / m->bkg_mean : 0;
  }
  for (int i = 0; i < ph->num_spheres; ++i) {
    if (scnt[i] == 0 || m->bkg_mean <= 0) continue;
    double ratio = ssum[i] / scnt[i] / m->bkg_mean;
    double true_ratio = ph->spheres[i].value / ph->background;
    m->crc_hot[i] = true_ratio > 1 ? (ratio - 1) / (true_ratio - 1) : 1.0 - ratio; /* cold: 1 - ratio */
  }
  return PET_OK;
}
