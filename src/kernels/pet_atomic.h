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

/* The add of the walkers' mode PET_WALK_BACK_TILE: img[idx] += v for the voxel (x, y, z) of
 * linear index idx. A device driver may define it before including the kernel headers to
 * stage the adds in on-chip memory (gpu/pet_gpu_project.cu: a block's shared-memory tile);
 * by default, and always on the host, it is the atomic add of PET_WALK_BACK_ATOMIC. */
#ifndef PET_BACK_TILE_ADD
#define PET_BACK_TILE_ADD(img, idx, x, y, z, v)                                                  \
  ((void)(x), (void)(y), (void)(z), pet_atomic_add(&(img)[idx], (v)))
#endif

#endif /* PET_ATOMIC_H */
