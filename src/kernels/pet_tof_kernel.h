/* Gaussian time-of-flight kernel along a LOR; valid C17 and CUDA C++. */
#ifndef PET_TOF_KERNEL_H
#define PET_TOF_KERNEL_H

#include <math.h>

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

#endif /* PET_TOF_KERNEL_H */
