/* petrel: device memory, as the core data structures see it. Images, histograms and
 * list-modes keep their memory space as a field and allocate, fill and copy device memory
 * through these functions; gpu/ implements them with the CUDA runtime, and a build without
 * CUDA links gpu/pet_gpu_stub.c, whose versions return PET_ERR_UNSUPPORTED. Declared at the
 * core floor so that core needs no GPU header (the dependency points down, the link up). */
#ifndef PET_DEVMEM_H
#define PET_DEVMEM_H

#include <stddef.h>
#include <stdint.h>

#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** cudaMalloc with a clear out-of-memory message naming `what` and the sizes. */
pet_status pet_gpu_malloc(void **ptr, size_t bytes, const char *what);
/** NULL-safe cudaFree. */
void pet_gpu_free(void *ptr);
/** Copies: kind 0 = host->device, 1 = device->host, 2 = device->device. Synchronous. */
pet_status pet_gpu_memcpy(void *dst, const void *src, size_t bytes, int kind);
/** Sets n floats of device memory to value. Synchronous. */
pet_status pet_gpu_fill_f32(float *dev, int64_t n, float value);
/** True when ptr is device (or managed) memory of the current context. */
int pet_gpu_is_device_ptr(const void *ptr);

#ifdef __cplusplus
}
#endif
#endif /* PET_DEVMEM_H */
