// Proves that the shared per-LOR projector headers compile as CUDA C++17 (host and device
// passes): one __global__ wrapper per projector and direction. Not called by anything yet;
// the real device drivers will live in gpu/pet_projector_gpu.cu.
#include <stdint.h>

#include "pet_dd_kernel.h"
#include "pet_projector_kernel.h"
#include "pet_siddon_kernel.h"
#include "pet_tof_kernel.h"

namespace {

__global__ void siddon_fwd_check(int64_t n, const float *lor, const float *tof_ps,
                                 pet_tof_kernel tk, int use_tof, pet_image_params g,
                                 const float *img, float *proj)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    proj[i] = pet_siddon_fwd_lor(lor + 6 * i, g, img, use_tof ? &tk : 0,
                                 tof_ps ? tof_ps[i] : 0.0f);
}

__global__ void siddon_back_check(int64_t n, const float *lor, const float *tof_ps,
                                  pet_tof_kernel tk, int use_tof, pet_image_params g,
                                  const float *proj, float *img)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    pet_siddon_back_lor(lor + 6 * i, g, proj[i], img, PET_WALK_BACK_ATOMIC,
                        use_tof ? &tk : 0, tof_ps ? tof_ps[i] : 0.0f);
}

__global__ void mrs_fwd_check(int64_t n, const float *lor, const float *orient, int32_t rays,
                              pet_image_params g, const float *img, float *proj)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    proj[i] = pet_mrs_lor(lor + 6 * i, orient ? orient + 6 * i : 0, rays, 4.0f, 4.0f, g, img,
                          0, 0.0f, PET_WALK_FWD, 0, 0.0f, 0.0f);
}

__global__ void mrs_back_check(int64_t n, const float *lor, const float *orient, int32_t rays,
                               pet_image_params g, const float *proj, float *img)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    pet_mrs_lor(lor + 6 * i, orient ? orient + 6 * i : 0, rays, 4.0f, 4.0f, g, 0, img, proj[i],
                PET_WALK_BACK_ATOMIC, 0, 0.0f, 0.0f);
}

__global__ void dd_fwd_check(int64_t n, const float *lor, const float *orient,
                             pet_tof_kernel tk, const float *tof_ps, pet_image_params g,
                             const float *img, float *proj)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    proj[i] = pet_dd_lor(lor + 6 * i, orient ? orient + 6 * i : 0, 4.0f, 4.0f, g, img, 0, 0.0f,
                         PET_WALK_FWD, tof_ps ? &tk : 0, tof_ps ? tof_ps[i] : 0.0f, 0.0f, 0);
}

__global__ void dd_back_check(int64_t n, const float *lor, const float *orient,
                              pet_tof_kernel tk, const float *tof_ps, pet_image_params g,
                              const float *proj, float *img)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    pet_dd_lor(lor + 6 * i, orient ? orient + 6 * i : 0, 4.0f, 4.0f, g, 0, img, proj[i],
               PET_WALK_BACK_ATOMIC, tof_ps ? &tk : 0, tof_ps ? tof_ps[i] : 0.0f, 0.0f, 0);
}

// the dispatch used by the host driver, through one kernel per direction
__global__ void project_fwd_check(pet_projector_params p, pet_tof_kernel tk, pet_lor_batch b,
                                  pet_image_params g, const float *img, float *proj)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < b.n) proj[i] = pet_project_lor(&p, p.tof ? &tk : 0, &b, i, g, img, 0, 0.0f,
                                         PET_WALK_FWD);
}

__global__ void project_back_check(pet_projector_params p, pet_tof_kernel tk, pet_lor_batch b,
                                   pet_image_params g, const float *proj, float *img)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < b.n)
    pet_project_lor(&p, p.tof ? &tk : 0, &b, i, g, 0, img, proj[i], PET_WALK_BACK_ATOMIC);
}

}  // namespace

// Keeps the wrappers referenced so that every template-free kernel body is compiled for the
// device; never called.
extern "C" void *pet_projector_compile_check_kernels(int k)
{
  void *kernels[8] = {(void *)siddon_fwd_check, (void *)siddon_back_check,
                      (void *)mrs_fwd_check,    (void *)mrs_back_check,
                      (void *)dd_fwd_check,     (void *)dd_back_check,
                      (void *)project_fwd_check, (void *)project_back_check};
  return kernels[k & 7];
}
