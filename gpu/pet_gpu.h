/* petrel: the plain-C face of the GPU backend. A build without CUDA links pet_gpu_stub.c,
 * whose functions return PET_ERR_UNSUPPORTED; callers never #ifdef on CUDA. */
#ifndef PET_GPU_H
#define PET_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** True when this build has CUDA. Local. */
int pet_gpu_compiled(void);
/** Number of visible CUDA devices (0 with no driver/device, never an error). Local. */
int pet_gpu_device_count(void);
/** Selects device `dev` for this host thread. */
pet_status pet_gpu_set_device(int dev);
/** Free and total memory of the current device, in bytes. */
pet_status pet_gpu_mem_info(size_t *free_bytes, size_t *total_bytes);
/** Name of device `dev` into buf. */
pet_status pet_gpu_device_name(int dev, char *buf, size_t len);

/** cudaMalloc with a clear out-of-memory message naming `what` and the sizes. */
pet_status pet_gpu_malloc(void **ptr, size_t bytes, const char *what);
/** NULL-safe cudaFree. */
void pet_gpu_free(void *ptr);
/** Copies: kind 0 = host->device, 1 = device->host, 2 = device->device. Synchronous. */
pet_status pet_gpu_memcpy(void *dst, const void *src, size_t bytes, int kind);
/** Sets n floats of device memory to value. Synchronous. */
pet_status pet_gpu_fill_f32(float *dev, int64_t n, float value);
/** Waits for all work on the current device. */
pet_status pet_gpu_synchronize(void);
/** True when ptr is device (or managed) memory of the current context. */
int pet_gpu_is_device_ptr(const void *ptr);

/* ---- GPU reconstruction (gpu/pet_gpu_osem.cu) ---- */
struct pet_osem_data;
struct pet_osem_opts;
struct pet_image;

typedef struct pet_gpu_opts {
  int32_t device;            /* CUDA device index (after CUDA_VISIBLE_DEVICES) */
  int64_t vram_budget_bytes; /* projection-data batches must fit this; 0 = 80% of free VRAM */
} pet_gpu_opts;

/**
 * OSEM on the GPU, same semantics and options as pet_osem_run (corrections, list-mode, TOF,
 * PSF, progress callbacks, reducer — whose allreduce_sum gets device buffers). x: host image,
 * the initial image on entry and the result on return. The image and sensitivity stay on the
 * device across subsets; projection data streams through batches that fit the VRAM budget.
 * Collective on opts->reducer. PET_ERR_UNSUPPORTED without CUDA, PET_ERR_CUDA without a device.
 */
pet_status pet_osem_run_gpu(const struct pet_osem_data *d, const struct pet_osem_opts *opts,
                            const pet_gpu_opts *g, struct pet_image *x);

#ifdef __cplusplus
}
#endif
#endif /* PET_GPU_H */
