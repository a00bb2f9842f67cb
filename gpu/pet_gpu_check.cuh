/* The one CUDA error check of gpu/: PET_CUDA(call) records "file:line: call: CUDA's message"
 * and returns PET_ERR_NOMEM for cudaErrorMemoryAllocation, PET_ERR_CUDA for any other error.
 * pet_cuda_status is the same as an expression, for code that must clean up before it
 * returns. Both clear CUDA's last (non-sticky) error. */
#ifndef PET_GPU_CHECK_CUH
#define PET_GPU_CHECK_CUH
#include <cuda_runtime.h>
#include <stdio.h>

#include "pet_status.h"

/* PET_OK for cudaSuccess; otherwise records the error at file:line, naming `what`. */
static inline pet_status pet_cuda_status(cudaError_t e, const char *what, const char *file,
                                         int line)
{
  if (e == cudaSuccess) return PET_OK;
  (void)cudaGetLastError();
  return pet_error_at(e == cudaErrorMemoryAllocation ? PET_ERR_NOMEM : PET_ERR_CUDA, file, line,
                      "%s: %s", what, cudaGetErrorString(e));
}

#define PET_CUDA(expr)                                                                           \
  do {                                                                                           \
    pet_status pet_cuda_st_ = pet_cuda_status((expr), #expr, __FILE__, __LINE__);                \
    if (pet_cuda_st_ != PET_OK) return pet_cuda_st_;                                             \
  } while (0)
#endif /* PET_GPU_CHECK_CUH */
