/* petrel: the taps of the image-space Gaussian (PSF), one definition for the host blur
 * (src/recon/pet_osem.c) and the device blur (gpu/pet_gpu_project.cu), so that both give the
 * same image. */
#ifndef PET_GAUSS_KERNEL_H
#define PET_GAUSS_KERNEL_H

#include <math.h>

/* 1D Gaussian taps for sigma in voxels, truncated at 3 sigma (at most max_half each side),
 * normalised to 1: taps[0 .. 2*half]; returns half (0: no blur along this axis, taps[0] = 1). */
static inline int pet_gauss_taps(float sigma_vox, float *taps, int max_half)
{
  int half = (int)ceilf(3.0f * sigma_vox);
  if (half > max_half) half = max_half;
  if (half < 1 || sigma_vox <= 0.0f) {
    taps[0] = 1.0f;
    return 0;
  }
  double sum = 0.0;
  for (int i = -half; i <= half; ++i) {
    taps[i + half] = expf(-0.5f * (float)(i * i) / (sigma_vox * sigma_vox));
    sum += taps[i + half];
  }
  for (int i = 0; i <= 2 * half; ++i) taps[i] = (float)(taps[i] / sum);
  return half;
}

#endif /* PET_GAUSS_KERNEL_H */
