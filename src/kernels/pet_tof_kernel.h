/* Gaussian time-of-flight kernel along a LOR; valid C17 and CUDA C++. */
#ifndef PET_TOF_KERNEL_H
#define PET_TOF_KERNEL_H

#include <math.h>
#include <stdint.h>

#include "pet_hd.h"

/* Speed of light in mm/ps (same value as pet_projector.h, which may not be included here). */
#ifndef PET_SPEED_OF_LIGHT_MM_PS
#define PET_SPEED_OF_LIGHT_MM_PS 0.299792458f
#endif

/**
 * The TOF kernel of one scanner, in mm along the LOR. With FWHM_mm = c * fwhm_ps / 2,
 * sigma = FWHM_mm / (2 sqrt(2 ln 2)); the Gaussian is truncated at |t| <= n_sigmas * sigma and
 * renormalised so that the truncated kernel integrates to exactly 1 over the line (its unit
 * is 1/mm). POD: passed to kernels by value.
 */
typedef struct pet_tof_kernel {
  float sigma_mm;
  float half_width_mm; /* n_sigmas * sigma_mm: support is [-half, half] around the centre */
  float inv_sqrt2_sigma;
  float norm;          /* 1 / erf(n_sigmas / sqrt 2): renormalisation of the truncated kernel */
  float peak;          /* norm / (sqrt(2 pi) sigma): pdf at the centre, 1/mm */
} pet_tof_kernel;

/** Builds the kernel for a resolution (FWHM, ps) and a truncation (sigmas). Local. */
PET_HD static inline pet_tof_kernel pet_tof_kernel_make(float fwhm_ps, float n_sigmas)
{
  pet_tof_kernel k;
  float fwhm_mm = PET_SPEED_OF_LIGHT_MM_PS * fwhm_ps * 0.5f;
  k.sigma_mm = fwhm_mm / 2.35482004503f; /* 2 sqrt(2 ln 2) */
  k.half_width_mm = n_sigmas * k.sigma_mm;
  k.inv_sqrt2_sigma = 0.70710678118f / k.sigma_mm;
  k.norm = 1.0f / erff(n_sigmas * 0.70710678118f);
  k.peak = k.norm * 0.39894228040f / k.sigma_mm;
  return k;
}

/**
 * Distance in mm from endpoint 1 to the TOF centre of a LOR of length len_mm: the centre is
 * midpoint + (c tof_ps / 2) unit(p1 - p2), i.e. nearer endpoint 1 when tof_ps > 0.
 */
PET_HD static inline float pet_tof_centre_mm(float len_mm, float tof_ps)
{
  return 0.5f * len_mm - 0.5f * PET_SPEED_OF_LIGHT_MM_PS * tof_ps;
}

/** Kernel value (1/mm) at signed distance t (mm) from the TOF centre; 0 outside the support. */
PET_HD static inline float pet_tof_pdf(const pet_tof_kernel *k, float t)
{
  if (fabsf(t) > k->half_width_mm) return 0.0f;
  float u = t * k->inv_sqrt2_sigma;
  return k->peak * expf(-u * u);
}

/**
 * Integral of the kernel from -half to t (t relative to the centre, clamped to the support),
 * minus 1/2: so cdf(t1) - cdf(t0) is the kernel's mass on [t0, t1], and runs from -1/2 to 1/2.
 */
PET_HD static inline float pet_tof_cdf(const pet_tof_kernel *k, float t)
{
  float h = k->half_width_mm;
  float tc = t < -h ? -h : (t > h ? h : t); /* not fminf: a libm call on x86 */
  return 0.5f * k->norm * erff(tc * k->inv_sqrt2_sigma);
}

/* Most TOF bins a TOF histogram may have (the GPU keeps a LOR's bins in this many registers or
 * local-memory floats). */
#define PET_TOF_BINS_MAX 64

/**
 * The TOF bins of one LOR of a TOF histogram, for the walkers. Bin t (0 <= t < n) holds the
 * events whose tof_ps (t2 - t1, pet_tof_centre_mm's convention) lies in
 * [(t - n/2) w, (t + 1 - n/2) w), w the bin width in ps: the bins are centred on tof 0 (for odd
 * n bin (n-1)/2 is centred on it) and bin 0 holds the most negative times, i.e. the emissions
 * nearest endpoint 2. Along the LOR, at distance s from endpoint 1, the continuous bin
 * coordinate is u(s) = (len/2 - s) / bin_mm + n/2 with bin_mm = c w / 2 (floor(u) is the bin
 * of an event measured at s). The kernel of bin t at an emission point s is the probability
 * that the measured position falls in bin t: the Gaussian TOF kernel (truncated and
 * renormalised as pet_tof_kernel) integrated over the bin's interval,
 *   k_t(s) = cdf((u(s) - t) bin_mm) - cdf((u(s) - t - 1) bin_mm)   (an erf difference,
 *            pet_tof_bins_cdf),
 * so the bins' kernels sum to 1 wherever the bins cover s +- half_width_mm.
 * out: forward, n sums added to; in: back, n values. Borrowed; POD otherwise.
 */
typedef struct pet_tof_bins {
  pet_tof_kernel k;
  int32_t n;
  float bin_mm;
  float *out;
  const float *in;
} pet_tof_bins;

/** Half the length along the LOR (mm, around its midpoint) where some bin has mass. Local. */
PET_HD static inline float pet_tof_bins_reach_mm(const pet_tof_bins *tb)
{
  return 0.5f * (float)tb->n * tb->bin_mm + tb->k.half_width_mm;
}

/** The bin coordinate u of the point at s_mm from endpoint 1 of a LOR of length len_mm. */
PET_HD static inline float pet_tof_bins_coord(const pet_tof_bins *tb, float len_mm, float s_mm)
{
  return (0.5f * len_mm - s_mm) / tb->bin_mm + 0.5f * (float)tb->n;
}

/* The bins [*t0, *t1] that can have mass at coordinate u (a superset: the others are 0). */
PET_HD static inline int pet_tof_bins_range(const pet_tof_bins *tb, float u, int32_t *t0,
                                            int32_t *t1)
{
  float hb = tb->k.half_width_mm / tb->bin_mm;
  float lo = u - hb - 1.0f, hi = u + hb;
  if (!(hi >= 0.0f && lo < (float)tb->n)) return 0; /* also NaN */
  lo = lo < 0.0f ? 0.0f : lo;
  hi = hi > (float)(tb->n - 1) ? (float)(tb->n - 1) : hi;
  *t0 = (int32_t)lo; /* >= 0: truncation is the floor */
  *t1 = (int32_t)hi;
  return 1;
}

/* pet_tof_cdf for the bins: exactly -1/2 or 1/2 beyond the support without evaluating erf
 * (most of the cost of a TOF-bin walk is erf), so that the first and last edges of a point's
 * bins telescope to exactly 1. */
PET_HD static inline float pet_tof_bins_cdf(const pet_tof_kernel *k, float t)
{
  if (t >= k->half_width_mm) return 0.5f;
  if (t <= -k->half_width_mm) return -0.5f;
  return 0.5f * k->norm * erff(t * k->inv_sqrt2_sigma);
}

/** out[t] += v k_t(u) for every bin t (forward). Local. */
PET_HD static inline void pet_tof_bins_add(const pet_tof_bins *tb, float u, float v)
{
  int32_t t0, t1;
  if (!pet_tof_bins_range(tb, u, &t0, &t1)) return;
  float c = pet_tof_bins_cdf(&tb->k, (u - (float)t0) * tb->bin_mm);
  for (int32_t t = t0; t <= t1; ++t) {
    float cn = pet_tof_bins_cdf(&tb->k, (u - (float)(t + 1)) * tb->bin_mm);
    tb->out[t] += v * (c - cn);
    c = cn;
  }
}

/** sum_t k_t(u) in[t] (back). Local. */
PET_HD static inline float pet_tof_bins_dot(const pet_tof_bins *tb, float u)
{
  int32_t t0, t1;
  if (!pet_tof_bins_range(tb, u, &t0, &t1)) return 0.0f;
  float c = pet_tof_bins_cdf(&tb->k, (u - (float)t0) * tb->bin_mm);
  float acc = 0.0f;
  for (int32_t t = t0; t <= t1; ++t) {
    float cn = pet_tof_bins_cdf(&tb->k, (u - (float)(t + 1)) * tb->bin_mm);
    acc += tb->in[t] * (c - cn);
    c = cn;
  }
  return acc;
}

#endif /* PET_TOF_KERNEL_H */
