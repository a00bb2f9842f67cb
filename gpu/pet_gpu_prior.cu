/* petrel: the priors and the regularised updates on the device: thin CUDA kernels over the
 * voxel workers of src/kernels/pet_prior_kernel.h (the host loops use the same workers), for
 * the GPU backend's prior_grad and map_update and for pet_gpu_prior_gradient. No templates. */
#include <stdint.h>

#include "pet_gpu.h"
#include "pet_gpu_check.cuh"
#include "pet_gpu_internal.cuh"
#include "pet_prior_kernel.h"

namespace {

const int PRIOR_BLOCK = 256;

unsigned blocks_for(int64_t n) { return (unsigned)((n + PRIOR_BLOCK - 1) / PRIOR_BLOCK); }

/* One thread per voxel of slices [z0, z1): x is the whole image, grad the slab. */
__global__ void prior_grad_kernel(pet_prior_kernel k, const float *__restrict__ x, int32_t z0, int64_t n,
                                  float *__restrict__ grad)
{
  const int64_t v = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (v >= n) return;
  const int64_t nxy = (int64_t)k.nx * k.ny;
  const int32_t l = z0 + (int32_t)(v / nxy);
  const int64_t r = v % nxy;
  grad[v] = pet_prior_grad_voxel(&k, x, (int32_t)(r % k.nx), (int32_t)(r / k.nx), l);
}

__global__ void map_update_kernel(int64_t n, int32_t bsrem, float *x, const float *__restrict__ back,
                                  const float *__restrict__ grad, const float *__restrict__ sens, float scale,
                                  float thr, float gscale, float lambda, float lo)
{
  const int64_t v = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (v >= n) return;
  x[v] = pet_map_update_voxel(bsrem, x[v], back[v], sens[v] * scale, thr, grad ? grad[v] : 0.0f, gscale, lambda,
                              lo);
}

}  // namespace

pet_status pet_gpu_launch_prior_grad(cudaStream_t st, const pet_prior_params *p, pet_image_params g, const float *x,
                                     int32_t z0, int32_t z1, float *grad)
{
  const int64_t n = (int64_t)(z1 - z0) * g.nx * g.ny;
  if (n <= 0) return PET_OK;
  const pet_prior_kernel k = pet_prior_kernel_make(p, &g);
  prior_grad_kernel<<<blocks_for(n), PRIOR_BLOCK, 0, st>>>(k, x, z0, n, grad);
  PET_CUDA(cudaGetLastError());
  return PET_OK;
}

pet_status pet_gpu_launch_map_update(cudaStream_t st, const pet_map_step *step, int64_t n, float *x,
                                     const float *back, const float *grad, const float *sens, float scale, float thr)
{
  if (n <= 0) return PET_OK;
  map_update_kernel<<<blocks_for(n), PRIOR_BLOCK, 0, st>>>(n, step->algorithm == PET_OSEM_ALG_BSREM, x, back, grad,
                                                           sens, scale, thr, step->grad_scale, step->lambda,
                                                           step->floor_value);
  PET_CUDA(cudaGetLastError());
  return PET_OK;
}

extern "C" pet_status pet_gpu_prior_gradient(const pet_prior_params *p, const pet_image *x, pet_image *grad)
{
  PET_TRY(pet_prior_params_check(p));
  PET_TRY(pet_image_require(x, PET_DEVICE));
  PET_TRY(pet_image_require(grad, PET_DEVICE));
  PET_CHECK(pet_image_params_equal(&x->params, &grad->params), PET_ERR_ARG,
            "gpu prior: the gradient image is not on the image's grid");
  PET_TRY(pet_gpu_launch_prior_grad(0, p, x->params, x->data, 0, x->params.nz, grad->data));
  PET_CUDA(cudaStreamSynchronize(0));
  return PET_OK;
}
