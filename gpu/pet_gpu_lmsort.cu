/* Spatially coherent list-mode batches (issue 16; bench_stream --sort 0,1,2 measures): a key per
 * event on the device (pet_lm_sort_key: the z slab and transaxial tile of the TOF centre, or
 * the z slab and line of a non-TOF LOR), a CUB radix sort of (key, index), then the batch's
 * LORs, normals, TOF, m and a written in the sorted order. The OSEM kernel then runs the sorted
 * batch: each event keeps its own inputs, so its ratio is its own, and the back projection
 * equals the unsorted one up to the order of its float sums. CUB's template kernels are
 * instantiated here only (CUDA 13 links template kernels within one .cu file). */
#include <stdint.h>
#include <string.h>

#include <cub/device/device_radix_sort.cuh>

#include "pet_gpu.h"
#include "pet_gpu_check.cuh"
#include "pet_gpu_internal.cuh"

#define LMSORT_BLOCK 256

namespace {

unsigned lmsort_grid(int64_t n) { return (unsigned)((n + LMSORT_BLOCK - 1) / LMSORT_BLOCK); }

/* keys[i] = the key of event i (its endpoints from the LUT), idx[i] = i. */
__global__ void __launch_bounds__(LMSORT_BLOCK)
lm_sort_key_kernel(pet_lm_sort_grid sg, const float *__restrict__ lut,
                   const uint32_t *__restrict__ d1, const uint32_t *__restrict__ d2,
                   const float *__restrict__ tof, int64_t n, uint32_t *__restrict__ keys,
                   uint32_t *__restrict__ idx)
{
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float *a = lut + 6 * (int64_t)__ldg(d1 + i), *c = lut + 6 * (int64_t)__ldg(d2 + i);
  float lor[6] = {__ldg(a), __ldg(a + 1), __ldg(a + 2), __ldg(c), __ldg(c + 1), __ldg(c + 2)};
  keys[i] = pet_lm_sort_key(&sg, lor, tof ? __ldg(tof + i) : 0.0f);
  idx[i] = (uint32_t)i;
}

/* Slot k of the sorted batch takes event j = perm[k] (perm NULL: j = k): its LOR and normals
 * from the LUT, its TOF, m and a (each when given). */
__global__ void __launch_bounds__(LMSORT_BLOCK)
lm_sort_gather_kernel(const float *__restrict__ lut, const uint32_t *__restrict__ perm,
                      const uint32_t *__restrict__ d1, const uint32_t *__restrict__ d2,
                      const float *__restrict__ tof, const float *__restrict__ m,
                      const float *__restrict__ a, int64_t n, float *__restrict__ lor,
                      float *__restrict__ orient, float *__restrict__ tof_s,
                      float *__restrict__ m_s, float *__restrict__ a_s)
{
  const int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= n) return;
  const int64_t j = perm ? (int64_t)__ldg(perm + k) : k;
  pet_gpu_put_lor(lut, (int64_t)__ldg(d1 + j), (int64_t)__ldg(d2 + j), k, lor, orient);
  if (tof) tof_s[k] = __ldg(tof + j);
  if (m) m_s[k] = __ldg(m + j);
  if (a) a_s[k] = __ldg(a + j);
}

}  // namespace

int64_t pet_gpu_lmsort_bytes_per_event(void)
{
  /* keys and indices twice (CUB's double buffers), TOF, m, a, and CUB's scratch (a few
   * histograms and per-tile counters: well under 4 bytes an event for batches of 2^16 up) */
  return 16 + 12 + 4;
}

void pet_gpu_lmsort_free(pet_gpu_lmsort *s)
{
  if (s == NULL) return;
  for (int k = 0; k < 2; ++k) {
    pet_gpu_free(s->keys[k]);
    pet_gpu_free(s->idx[k]);
  }
  pet_gpu_free(s->tof);
  pet_gpu_free(s->m);
  pet_gpu_free(s->a);
  pet_gpu_free(s->tmp);
  memset(s, 0, sizeof *s);
}

pet_status pet_gpu_lmsort_init(pet_gpu_lmsort *s, int mode, pet_image_params g, int tof,
                               int has_m, int has_a, int64_t cap, int32_t slab_vox,
                               int32_t tile_vox)
{
  memset(s, 0, sizeof *s);
  PET_CHECK(mode == 1 || mode == 2, PET_ERR_ARG, "list-mode sort: mode %d is not 1 or 2", mode);
  PET_CHECK(cap >= 1 && cap <= 0x7fffffff, PET_ERR_ARG,
            "list-mode sort: a batch of %lld events (the sort takes at most 2^31 - 1)",
            (long long)cap);
  s->mode = mode;
  s->cap = cap;
  s->grid = pet_lm_sort_grid_make(g, slab_vox, tile_vox, tof);
  const size_t c = (size_t)cap * 4;
  for (int k = 0; k < 2; ++k) {
    PET_TRY(pet_gpu_malloc((void **)&s->keys[k], c, "list-mode sort keys"));
    PET_TRY(pet_gpu_malloc((void **)&s->idx[k], c, "list-mode sort indices"));
  }
  if (tof) PET_TRY(pet_gpu_malloc((void **)&s->tof, c, "sorted TOF"));
  if (has_m) PET_TRY(pet_gpu_malloc((void **)&s->m, c, "sorted multiplicative factors"));
  if (has_a) PET_TRY(pet_gpu_malloc((void **)&s->a, c, "sorted additive terms"));
  cub::DoubleBuffer<uint32_t> kb(s->keys[0], s->keys[1]), vb(s->idx[0], s->idx[1]);
  size_t bytes = 0;
  PET_CUDA(cub::DeviceRadixSort::SortPairs(NULL, bytes, kb, vb, (int)cap, 0, s->grid.bits));
  s->tmp_bytes = bytes > 0 ? bytes : 1;
  PET_TRY(pet_gpu_malloc(&s->tmp, s->tmp_bytes, "list-mode sort scratch"));
  return PET_OK;
}

pet_status pet_gpu_lmsort_lors(cudaStream_t st, pet_gpu_lmsort *s, pet_gpu_lorsrc src,
                               const uint32_t *d1, const uint32_t *d2, int64_t n,
                               pet_gpu_lmsort_batch *b)
{
  if (n <= 0) return PET_OK;
  PET_CHECK(n <= s->cap, PET_ERR_ARG, "list-mode sort: a batch of %lld events over its %lld",
            (long long)n, (long long)s->cap);
  const float *tof = b->tof, *m = b->m, *a = b->a;
  PET_CHECK((!tof || s->tof) && (!m || s->m) && (!a || s->a), PET_ERR_STATE,
            "list-mode sort: a batch with TOF, m or a that the sort was not set up for");
  lm_sort_key_kernel<<<lmsort_grid(n), LMSORT_BLOCK, 0, st>>>(s->grid, src.lut, d1, d2, tof, n,
                                                              s->keys[0], s->idx[0]);
  PET_CUDA(cudaGetLastError());
  cub::DoubleBuffer<uint32_t> kb(s->keys[0], s->keys[1]), vb(s->idx[0], s->idx[1]);
  size_t bytes = s->tmp_bytes;
  PET_CUDA(cub::DeviceRadixSort::SortPairs(s->tmp, bytes, kb, vb, (int)n, 0, s->grid.bits, st));
  /* mode 2 (the sort's cost alone): sorted, but the batch gathered in its own order */
  const uint32_t *perm = s->mode == 1 ? vb.Current() : NULL;
  lm_sort_gather_kernel<<<lmsort_grid(n), LMSORT_BLOCK, 0, st>>>(
      src.lut, perm, d1, d2, tof, m, a, n, b->lor, b->orient, tof ? s->tof : NULL,
      m ? s->m : NULL, a ? s->a : NULL);
  PET_CUDA(cudaGetLastError());
  b->tof = tof ? s->tof : NULL;
  b->m = m ? s->m : NULL;
  b->a = a ? s->a : NULL;
  return PET_OK;
}
