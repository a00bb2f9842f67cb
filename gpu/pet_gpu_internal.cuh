/* Internal to gpu/: the launchers of the kernels in pet_gpu_project.cu (where every
 * __global__ template lives, CUDA 13 links template kernels only within one .cu file) for
 * the projection list and the OSEM driver. C++; not a public header. */
#ifndef PET_GPU_INTERNAL_CUH
#define PET_GPU_INTERNAL_CUH

#include <cuda_runtime.h>
#include <stdint.h>

#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_lm_sort_key.h"
#include "pet_osem_backend.h"
#include "pet_prior.h"
#include "pet_projector.h"
#include "pet_status.h"

/* Device copies of what turns a bin or an event into a LOR. POD, passed to kernels by value. */
typedef struct pet_gpu_lorsrc {
  const float *lut;         /* num_dets x 6 */
  const int32_t *ring_pairs; /* num_phi * num_r * 2 (histogram only) */
  const uint8_t *invalid;   /* num_phi * num_r */
  const int32_t *zbin_rings; /* num_zbin * 2 */
  int64_t num_phi, num_r, num_zbin;
  int32_t dets_per_ring, num_rings, num_doi;
} pet_gpu_lorsrc;

/* Zeroes *src, uploads the scanner's LUT and, when L != NULL, the layout's tables, and sets
 * the sizes. On failure the tables uploaded so far stay in *src: free with
 * pet_gpu_lorsrc_free either way. Synchronous. */
pet_status pet_gpu_lorsrc_upload(pet_gpu_lorsrc *src, const pet_scanner *s,
                                 const pet_histo_layout *L);
/* Frees the device tables of *src (NULL-safe, each may be NULL). */
void pet_gpu_lorsrc_free(pet_gpu_lorsrc *src);

/* LORs (lor, orient: n x 6; orient may be NULL) of subset-local bins [k0, k0+n) of subset s
 * of S (histogram). */
pet_status pet_gpu_gen_lors_histo(cudaStream_t st, pet_gpu_lorsrc src, int32_t S, int32_t s,
                                  int64_t k0, int64_t n, float *lor, float *orient);
/* LORs of items [k0, k0+n) of the symmetric sensitivity pass (pet_bin_map_sym_dets, max
 * ring difference D; needs the layout's tables). */
pet_status pet_gpu_gen_lors_sym(cudaStream_t st, pet_gpu_lorsrc src, int32_t D, int64_t k0,
                                int64_t n, float *lor, float *orient);
/* LORs of n events given their detector ids (device). */
pet_status pet_gpu_gen_lors_lm(cudaStream_t st, pet_gpu_lorsrc src, const uint32_t *d1,
                               const uint32_t *d2, int64_t n, float *lor, float *orient);

/* LORs of a batch that share their transaxial line: local index i is in group
 * (k0 + i) % stride. For histogram subset s of S from subset-local bin k0 on, stride is
 * pet_histo_subset_size(num_phi, num_r, 1, S, s) (one z-bin): a group is one (phi, r) in every
 * z-bin. Back projections of grouped batches stage their adds in shared memory. */
typedef struct pet_gpu_groups {
  int64_t stride, k0;
} pet_gpu_groups;

/* Spatially coherent list-mode batches (gpu/pet_gpu_lmsort.cu): device buffers for batches of
 * up to cap events, allocated once per engine. mode 1 sorts each batch by pet_lm_sort_key and
 * runs it in that order; mode 2 sorts but runs the batch in its own order (the sort's cost
 * alone, for measurements). */
typedef struct pet_gpu_lmsort {
  int mode;
  int64_t cap;
  pet_lm_sort_grid grid;
  uint32_t *keys[2], *idx[2]; /* CUB's double buffers */
  float *tof, *m, *a;         /* the sorted batch's TOF, m, a */
  void *tmp;                  /* CUB's scratch */
  size_t tmp_bytes;
} pet_gpu_lmsort;

/* A batch's device arrays: LORs and normals (n x 6, orient may be NULL) written by
 * pet_gpu_lmsort_lors; tof, m, a (each may be NULL) the event order's in, the sorted order's
 * out (the sort's buffers). */
typedef struct pet_gpu_lmsort_batch {
  float *lor, *orient;
  const float *tof, *m, *a;
} pet_gpu_lmsort_batch;

/* Device bytes per event of the batch capacity that the sort's buffers take. */
int64_t pet_gpu_lmsort_bytes_per_event(void);
/* Allocates *s for batches of up to cap events on grid g (z slabs of slab_vox slices,
 * transaxial tiles of tile_vox voxels; TOF keys when tof), with sorted m and a buffers when
 * has_m, has_a. On failure free *s with pet_gpu_lmsort_free. Synchronous. */
pet_status pet_gpu_lmsort_init(pet_gpu_lmsort *s, int mode, pet_image_params g, int tof,
                               int has_m, int has_a, int64_t cap, int32_t slab_vox,
                               int32_t tile_vox);
/* Frees the buffers of *s and zeroes it (NULL-safe). */
void pet_gpu_lmsort_free(pet_gpu_lmsort *s);
/* Keys, sort and gather of the n events with detector ids d1, d2 (device): b->lor and
 * b->orient filled in the sorted order, b->tof, m, a replaced by their sorted copies.
 * Asynchronous on st. */
pet_status pet_gpu_lmsort_lors(cudaStream_t st, pet_gpu_lmsort *s, pet_gpu_lorsrc src,
                               const uint32_t *d1, const uint32_t *d2, int64_t n,
                               pet_gpu_lmsort_batch *b);

/* Projector launchers (asynchronous on st); gr may be NULL (no grouping known). */
pet_status pet_gpu_launch_fwd(cudaStream_t st, const pet_projector_params *p,
                              const pet_lor_batch *b, pet_image_params g, const float *img,
                              float *proj);
pet_status pet_gpu_launch_back(cudaStream_t st, const pet_projector_params *p,
                               const pet_lor_batch *b, const pet_gpu_groups *gr,
                               pet_image_params g, const float *proj, float *img);
/* pet_gpu_project_back with the batch's grouping (synchronous). */
pet_status pet_gpu_project_back_groups(const pet_projector_params *p, const pet_lor_batch *b,
                                       const pet_gpu_groups *gr, const float *proj,
                                       pet_image *img);

/* Per-batch OSEM inputs on the device; any pointer may be NULL (y = 1, m = 1, a = 0). */
typedef struct pet_gpu_osem_batch {
  const float *y, *m, *a;
} pet_gpu_osem_batch;

/* Fused OSEM update of one batch: per LOR, v = A xf, r = m y / (m v + a) (0 when the
 * prediction is not above pred_eps), back += A^T r. */
pet_status pet_gpu_launch_osem(cudaStream_t st, const pet_projector_params *p,
                               const pet_lor_batch *b, const pet_gpu_groups *gr,
                               pet_gpu_osem_batch in, float pred_eps, pet_image_params g,
                               const float *xf, float *back);
/* back += A^T m (sensitivity; m NULL = 1). With p->num_tof_bins = T > 0 (a TOF histogram)
 * m holds T values per LOR and the back projection runs through the TOF bins; the OSEM
 * launch then reads T values of y, m, a per LOR. */
pet_status pet_gpu_launch_sens(cudaStream_t st, const pet_projector_params *p,
                               const pet_lor_batch *b, const float *m, pet_image_params g,
                               float *back);

/* Image-space helpers. */
pet_status pet_gpu_blur(cudaStream_t st, pet_image_params g, float fwhm_mm, float *img,
                        float *tmp);
/* *out = max over n floats (device), synchronous. */
pet_status pet_gpu_max(cudaStream_t st, const float *v, int64_t n, float *out);
/* x = s > thr && s > 0 ? x back / s : 0, with s = sens * scale. */
pet_status pet_gpu_em_update(cudaStream_t st, int64_t n, float *x, const float *back,
                             const float *sens, float scale, float thr);

/* Prior and regularised update (gpu/pet_gpu_prior.cu, asynchronous on st): grad = dU/dx at
 * the voxels of slices [z0, z1) of the whole image x on grid g; x <- the OSL / BSREM update of
 * step over n voxels (grad NULL = 0), as the host's (pet_prior_kernel.h). */
pet_status pet_gpu_launch_prior_grad(cudaStream_t st, const pet_prior_params *p, pet_image_params g, const float *x,
                                     int32_t z0, int32_t z1, float *grad);
pet_status pet_gpu_launch_map_update(cudaStream_t st, const pet_map_step *step, int64_t n, float *x,
                                     const float *back, const float *grad, const float *sens, float scale, float thr);

/* LOR k of a batch (endpoints, and the crystal normals when orient is not NULL) from the LUT
 * rows of detectors d1, d2: the one place the batch layout (6 floats a LOR) is written. */
__device__ __forceinline__ void pet_gpu_put_lor(const float *__restrict__ lut, int64_t d1, int64_t d2,
                                                int64_t k, float *lor, float *orient)
{
  const float *a = lut + 6 * d1, *c = lut + 6 * d2;
  float *o = lor + 6 * k;
  o[0] = __ldg(a + 0);
  o[1] = __ldg(a + 1);
  o[2] = __ldg(a + 2);
  o[3] = __ldg(c + 0);
  o[4] = __ldg(c + 1);
  o[5] = __ldg(c + 2);
  if (orient) {
    float *n = orient + 6 * k;
    n[0] = __ldg(a + 3);
    n[1] = __ldg(a + 4);
    n[2] = __ldg(a + 5);
    n[3] = __ldg(c + 3);
    n[4] = __ldg(c + 4);
    n[5] = __ldg(c + 5);
  }
}

#endif /* PET_GPU_INTERNAL_CUH */
