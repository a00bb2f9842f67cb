/* petrel: the per-voxel math of the priors (pet_prior.h) and of the regularised updates (OSL,
 * BSREM), one definition for the host loops (src/kernels/pet_prior.c, src/recon/pet_osem_cpu.c)
 * and the CUDA kernels (gpu/pet_gpu_prior.cu), so that both give the same image. Valid C17 and
 * CUDA C++. */
#ifndef PET_PRIOR_KERNEL_H
#define PET_PRIOR_KERNEL_H

#include <math.h>
#include <stdint.h>

#include "pet_hd.h"
#include "pet_image.h"
#include "pet_prior.h"

/* What a voxel worker needs: the penalty, the grid's size and the 27 neighbour weights
 * (index (dz + 1) * 9 + (dy + 1) * 3 + (dx + 1); the centre's is 0). POD, passed to kernels
 * by value. */
typedef struct pet_prior_kernel {
  int32_t kind;
  float beta, gamma, epsilon;
  int32_t nx, ny, nz;
  float w[27];
} pet_prior_kernel;

/* STIR's weights: the x voxel size over the distance between the voxel centres. */
static inline pet_prior_kernel pet_prior_kernel_make(const pet_prior_params *p, const pet_image_params *g)
{
  pet_prior_kernel k;
  const float vx = g->length_x / (float)g->nx, vy = g->length_y / (float)g->ny,
              vz = g->length_z / (float)g->nz;
  k.kind = (int32_t)p->kind;
  k.beta = p->beta;
  k.gamma = p->gamma;
  k.epsilon = p->epsilon;
  k.nx = g->nx;
  k.ny = g->ny;
  k.nz = g->nz;
  for (int dz = -1; dz <= 1; ++dz)
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        const float d2 = (float)(dx * dx) * vx * vx + (float)(dy * dy) * vy * vy + (float)(dz * dz) * vz * vz;
        k.w[(dz + 1) * 9 + (dy + 1) * 3 + (dx + 1)] = d2 > 0.0f ? vx / sqrtf(d2) : 0.0f;
      }
  return k;
}

/* phi(a, b) of one ordered pair (without beta and the weight). */
static PET_INLINE PET_HD float pet_prior_pair_value(int32_t kind, float gamma, float eps, float a, float b)
{
  const float d = a - b;
  if (kind == PET_PRIOR_QUADRATIC) return 0.5f * d * d;
  const float den = a + b + gamma * fabsf(d) + eps;
  return den > 0.0f ? d * d / den : 0.0f;
}

/* dphi(a, b)/da: quadratic a - b; RDP (a - b)(a + 3b + gamma |a - b| + 2 eps) / den^2. */
static PET_INLINE PET_HD float pet_prior_pair_deriv(int32_t kind, float gamma, float eps, float a, float b)
{
  const float d = a - b;
  if (kind == PET_PRIOR_QUADRATIC) return d;
  const float den = a + b + gamma * fabsf(d) + eps;
  return den > 0.0f ? d * (a + 3.0f * b + gamma * fabsf(d) + 2.0f * eps) / (den * den) : 0.0f;
}

/* dU/dx at voxel (i, j, l) of the whole image x (nz * ny * nx, x fastest). */
static PET_INLINE PET_HD float pet_prior_grad_voxel(const pet_prior_kernel *k, const float *PET_RESTRICT x,
                                                    int32_t i, int32_t j, int32_t l)
{
  if (k->kind == PET_PRIOR_NONE) return 0.0f;
  const int64_t nx = k->nx, nxy = (int64_t)k->nx * k->ny;
  const float xc = x[l * nxy + j * nx + i];
  float g = 0.0f;
  for (int dz = -1; dz <= 1; ++dz) {
    const int32_t z = l + dz;
    if (z < 0 || z >= k->nz) continue;
    for (int dy = -1; dy <= 1; ++dy) {
      const int32_t y = j + dy;
      if (y < 0 || y >= k->ny) continue;
      for (int dx = -1; dx <= 1; ++dx) {
        const int32_t xi = i + dx;
        if (xi < 0 || xi >= k->nx || (dx == 0 && dy == 0 && dz == 0)) continue;
        const float xn = x[z * nxy + y * nx + xi];
        g += k->w[(dz + 1) * 9 + (dy + 1) * 3 + (dx + 1)] * pet_prior_pair_deriv(k->kind, k->gamma, k->epsilon, xc, xn);
      }
    }
  }
  return 2.0f * k->beta * g;
}

/* sum_{k in N(j)} w_jk phi(x_j, x_k) at voxel (i, j, l), without beta, accumulated in double. */
static PET_INLINE PET_HD double pet_prior_value_voxel(const pet_prior_kernel *k, const float *PET_RESTRICT x,
                                                      int32_t i, int32_t j, int32_t l)
{
  if (k->kind == PET_PRIOR_NONE) return 0.0;
  const int64_t nx = k->nx, nxy = (int64_t)k->nx * k->ny;
  const float xc = x[l * nxy + j * nx + i];
  double v = 0.0;
  for (int dz = -1; dz <= 1; ++dz) {
    const int32_t z = l + dz;
    if (z < 0 || z >= k->nz) continue;
    for (int dy = -1; dy <= 1; ++dy) {
      const int32_t y = j + dy;
      if (y < 0 || y >= k->ny) continue;
      for (int dx = -1; dx <= 1; ++dx) {
        const int32_t xi = i + dx;
        if (xi < 0 || xi >= k->nx || (dx == 0 && dy == 0 && dz == 0)) continue;
        const float xn = x[z * nxy + y * nx + xi];
        v += (double)k->w[(dz + 1) * 9 + (dy + 1) * 3 + (dx + 1)] *
             (double)pet_prior_pair_value(k->kind, k->gamma, k->epsilon, xc, xn);
      }
    }
  }
  return v;
}

/* One regularised subset update of a voxel. x: the current value, back: the summed back
 * projection A_s^T (m y / ybar), sv: the subset's sensitivity (sens * scale), thr: below it
 * the voxel is outside what the data sees and is 0 (as the EM update), g: dU/dx at the current
 * image, gscale: 1 / num_subsets (the subset's share of the penalty).
 *   OSL:   x back / max(sv + gscale g, PET_OSL_MIN_DENOM_FRACTION sv)  (g = 0: the EM update,
 *          bit for bit)
 *   BSREM: max(x + lambda x / sv (back - sv - gscale g), floor): a step of lambda along the
 *          subset's gradient of L_s - U / num_subsets, preconditioned by x / sv. */
static PET_INLINE PET_HD float pet_map_update_voxel(int32_t bsrem, float x, float back, float sv, float thr,
                                                    float g, float gscale, float lambda, float floor_)
{
  if (!(sv > thr && sv > 0.0f)) return 0.0f;
  if (!bsrem) {
    float den = sv + gscale * g;
    const float lo = PET_OSL_MIN_DENOM_FRACTION * sv;
    if (!(den >= lo)) den = lo; /* also a NaN gradient */
    return x * back / den;
  }
  const float v = x + lambda * x / sv * (back - sv - gscale * g);
  return v >= floor_ ? v : floor_;
}

#endif /* PET_PRIOR_KERNEL_H */
