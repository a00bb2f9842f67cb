/* Atomic float add shared by the host (OpenMP) and device (CUDA) back projections. */
#ifndef PET_ATOMIC_H
#define PET_ATOMIC_H

#include "pet_hd.h"

/** *p += v atomically: atomicAdd on the device, `omp atomic` on the host. Local. */
PET_HD static inline void pet_atomic_add(float *p, float v)
{
#if defined(__CUDA_ARCH__)
  atomicAdd(p, v);
#else
  _Pragma("omp atomic")
  *p += v;
#endif
}

#endif /* PET_ATOMIC_H */
