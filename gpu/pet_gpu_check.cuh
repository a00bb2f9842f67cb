/* PET_CUDA: check a CUDA runtime call, record the library's message, return PET_ERR_CUDA. */
#ifndef PET_GPU_CHECK_CUH
#define PET_GPU_CHECK_CUH
#include <cuda_runtime.h>
#include <stdio.h>

#include "pet_status.h"

#define PET_CUDA(expr)                                                                           \
  do {                                                                                           \
    cudaError_t pet_cuda_e_ = (expr);                                                            \
    if (pet_cuda_e_ != cudaSuccess) {                                                            \
      (void)cudaGetLastError();                                                                  \
      return PET_ERROR(pet_cuda_e_ == cudaErrorMemoryAllocation ? PET_ERR_NOMEM : PET_ERR_CUDA,  \
                       "%s: %s", #expr, cudaGetErrorString(pet_cuda_e_));                        \
    }                                                                                            \
  } while (0)
#endif /* PET_GPU_CHECK_CUH */
