/* Device memory and device queries behind pet_gpu.h. */
#include <cuda_runtime.h>

#include <string.h>

#include "pet_gpu.h"
#include "pet_gpu_check.cuh"
#include "pet_gpu_internal.cuh"

namespace {

/* Allocates n elements on the device (*dst is set before the copy, so that a failed copy
 * leaves it to be freed) and copies them from the host. */
template <typename T> pet_status upload(const T **dst, const T *host, size_t n, const char *what)
{
  void *p = NULL;
  PET_TRY(pet_gpu_malloc(&p, n * sizeof(T), what));
  *dst = static_cast<const T *>(p);
  return pet_gpu_memcpy(p, host, n * sizeof(T), 0);
}

}  // namespace

pet_status pet_gpu_lorsrc_upload(pet_gpu_lorsrc *src, const pet_scanner *s,
                                 const pet_histo_layout *L)
{
  memset(src, 0, sizeof *src);
  PET_TRY(upload(&src->lut, s->lut, (size_t)s->num_dets * 6, "the detector LUT"));
  if (L == NULL) return PET_OK;
  const size_t pr = (size_t)(L->num_phi * L->num_r);
  PET_TRY(upload(&src->ring_pairs, L->ring_pairs, pr * 2, "the histogram ring pairs"));
  PET_TRY(upload(&src->invalid, L->invalid, pr, "the histogram mask"));
  PET_TRY(upload(&src->zbin_rings, L->zbin_rings, (size_t)L->num_zbin * 2, "the z-bin rings"));
  src->num_phi = L->num_phi;
  src->num_r = L->num_r;
  src->num_zbin = L->num_zbin;
  src->dets_per_ring = L->dets_per_ring;
  src->num_rings = L->num_rings;
  src->num_doi = L->num_doi;
  return PET_OK;
}

void pet_gpu_lorsrc_free(pet_gpu_lorsrc *src)
{
  pet_gpu_free((void *)src->lut);
  pet_gpu_free((void *)src->ring_pairs);
  pet_gpu_free((void *)src->invalid);
  pet_gpu_free((void *)src->zbin_rings);
  src->lut = NULL;
  src->ring_pairs = NULL;
  src->invalid = NULL;
  src->zbin_rings = NULL;
}

extern "C" {

int pet_gpu_compiled(void) { return 1; }

int pet_gpu_device_count(void)
{
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError(); /* clear the sticky "no driver" error */
    return 0;
  }
  return n;
}

pet_status pet_gpu_set_device(int dev)
{
  int n = pet_gpu_device_count();
  PET_CHECK(n > 0, PET_ERR_CUDA, "no CUDA device is visible (is this a GPU node? check CUDA_VISIBLE_DEVICES)");
  PET_CHECK(dev >= 0 && dev < n, PET_ERR_ARG, "device %d requested but only %d CUDA device(s) visible", dev, n);
  PET_CUDA(cudaSetDevice(dev));
  return PET_OK;
}

pet_status pet_gpu_mem_info(size_t *free_bytes, size_t *total_bytes)
{
  PET_CHECK(pet_gpu_device_count() > 0, PET_ERR_CUDA, "no CUDA device is visible");
  size_t f = 0, t = 0;
  PET_CUDA(cudaMemGetInfo(&f, &t));
  if (free_bytes) *free_bytes = f;
  if (total_bytes) *total_bytes = t;
  return PET_OK;
}

pet_status pet_gpu_device_name(int dev, char *buf, size_t len)
{
  cudaDeviceProp prop;
  PET_CUDA(cudaGetDeviceProperties(&prop, dev));
  snprintf(buf, len, "%s", prop.name);
  return PET_OK;
}

pet_status pet_gpu_malloc(void **ptr, size_t bytes, const char *what)
{
  PET_CHECK(ptr != NULL, PET_ERR_ARG, "pet_gpu_malloc: NULL output");
  *ptr = NULL;
  PET_CHECK(pet_gpu_device_count() > 0, PET_ERR_CUDA,
            "cannot allocate %s on the GPU: no CUDA device is visible", what);
  cudaError_t e = cudaMalloc(ptr, bytes ? bytes : 1);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    size_t f = 0, t = 0;
    cudaMemGetInfo(&f, &t);
    *ptr = NULL;
    return PET_ERROR(PET_ERR_NOMEM,
                     "out of GPU memory allocating %s: %.1f MiB requested, %.1f MiB free of %.1f MiB; "
                     "lower --vram-budget or the image size",
                     what, bytes / 1048576.0, f / 1048576.0, t / 1048576.0);
  }
  PET_CUDA(e);
  return PET_OK;
}

void pet_gpu_free(void *ptr)
{
  if (ptr) cudaFree(ptr);
}

pet_status pet_gpu_memcpy(void *dst, const void *src, size_t bytes, int kind)
{
  cudaMemcpyKind k = kind == 0 ? cudaMemcpyHostToDevice
                   : kind == 1 ? cudaMemcpyDeviceToHost
                               : cudaMemcpyDeviceToDevice;
  PET_CUDA(cudaMemcpy(dst, src, bytes, k));
  return PET_OK;
}

static __global__ void fill_kernel(float *p, int64_t n, float v)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (; i < n; i += stride) p[i] = v;
}

pet_status pet_gpu_fill_f32(float *dev, int64_t n, float value)
{
  if (n <= 0) return PET_OK;
  int64_t blocks = (n + 255) / 256;
  if (blocks > 65535 * 8) blocks = 65535 * 8;
  fill_kernel<<<(unsigned)blocks, 256>>>(dev, n, value);
  PET_CUDA(cudaGetLastError());
  PET_CUDA(cudaDeviceSynchronize());
  return PET_OK;
}

pet_status pet_gpu_synchronize(void)
{
  PET_CUDA(cudaDeviceSynchronize());
  return PET_OK;
}

int pet_gpu_is_device_ptr(const void *ptr)
{
  cudaPointerAttributes a;
  if (cudaPointerGetAttributes(&a, ptr) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
}

} /* extern "C" */
