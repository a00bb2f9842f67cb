/* Every __global__ of petrel's GPU backend lives here (templates must stay in one .cu file
 * with CUDA 13's static template stubs): thin wrappers over the per-LOR workers of
 * src/kernels/pet_projector_kernel.h, LOR generation from bins or events, and the image-space helpers
 * of OSEM. The launchers are declared in pet_gpu_internal.cuh; the public C entry points
 * pet_gpu_project_fwd/back are at the end. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The walkers' PET_WALK_BACK_TILE adds go to tile_add (below) in device code. */
#if defined(__CUDA_ARCH__)
static __device__ __forceinline__ void tile_add(float *img, int64_t idx, int32_t x, int32_t y,
                                                int32_t z, float v);
#define PET_BACK_TILE_ADD(img, idx, x, y, z, v) tile_add(img, idx, x, y, z, v)
#endif

#include "pet_bin_map.h"
#include "pet_gpu.h"
#include "pet_gpu_check.cuh"
#include "pet_gauss_kernel.h"
#include "pet_gpu_internal.cuh"
#include "pet_histogram.h"
#include "pet_projector_kernel.h"

#define PET_GPU_BLOCK 256
/* Blocks per SM that the projection kernels are compiled for (__launch_bounds__' second
 * argument, so at most 65536 / (256 x n) registers a thread): the walks' rare paths (the
 * Siddon tie rule, the FOV cylinder) would otherwise raise every thread's register count and
 * lower the occupancy of the common path (bench/RESULTS.md, "Siddon tie rule"). */
#ifndef PET_GPU_MINB_PROJ
#define PET_GPU_MINB_PROJ 4 /* fwd, back, sensitivity: 64 registers */
#endif
#ifndef PET_GPU_MINB_OSEM
#define PET_GPU_MINB_OSEM 3 /* fused forward + back: 85 registers */
#endif

namespace {

unsigned grid_for(int64_t n) { return (unsigned)((n + PET_GPU_BLOCK - 1) / PET_GPU_BLOCK); }

/* ---- projectors: one thread per LOR; the kind and TOF are template constants so that each
 * kernel holds only its projector's code (fewer registers), the math is pet_project_lor's. */

template <int KIND, bool TOF>
__device__ __forceinline__ float lor_fwd(const pet_projector_params &p, const pet_tof_kernel &tk,
                                         const pet_lor_batch &b, int64_t i, pet_image_params g,
                                         const float *__restrict__ img)
{
  pet_projector_params pp = p;
  pp.kind = (pet_projector_kind)KIND;
  return pet_project_lor(&pp, TOF ? &tk : 0, &b, i, g, img, 0, 0.0f, PET_WALK_FWD);
}

template <int KIND, bool TOF>
__device__ __forceinline__ void lor_back(const pet_projector_params &p, const pet_tof_kernel &tk,
                                         const pet_lor_batch &b, int64_t i, pet_image_params g,
                                         float v, float *img)
{
  pet_projector_params pp = p;
  pp.kind = (pet_projector_kind)KIND;
  pet_project_lor(&pp, TOF ? &tk : 0, &b, i, g, 0, img, v, PET_WALK_BACK_ATOMIC);
}

template <int KIND, bool TOF>
__global__ void __launch_bounds__(PET_GPU_BLOCK, PET_GPU_MINB_PROJ)
fwd_kernel(pet_projector_params p, pet_tof_kernel tk, pet_lor_batch b, pet_image_params g,
           const float *__restrict__ img, float *__restrict__ proj)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < b.n) proj[i] = lor_fwd<KIND, TOF>(p, tk, b, i, g, img);
}

template <int KIND, bool TOF>
__global__ void __launch_bounds__(PET_GPU_BLOCK, PET_GPU_MINB_PROJ)
back_kernel(pet_projector_params p, pet_tof_kernel tk, pet_lor_batch b, pet_image_params g,
            const float *__restrict__ proj, float *img)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= b.n) return;
  float v = proj[i];
  if (v != 0.0f) lor_back<KIND, TOF>(p, tk, b, i, g, v, img); /* adding 0 changes nothing */
}

/* ---- TOF histograms: one thread per LOR computes all its TOF bins in one walk. Separate
 * kernels (not a flag of the ones above), so that the non-TOF and list-mode TOF kernels keep
 * their registers. A LOR's T bins are adjacent (TOF fastest): its thread accumulates them in a
 * local array and writes them as one contiguous row, and a warp's rows are one contiguous
 * block of 32 T floats, so every cache line is written whole. */

pet_tof_bins tof_bins_of(const pet_projector_params *p)
{
  pet_tof_bins tb;
  memset(&tb, 0, sizeof tb);
  tb.k = pet_tof_kernel_make(p->tof_fwhm_ps, p->tof_n_sigmas);
  tb.n = p->num_tof_bins;
  tb.bin_mm = 0.5f * PET_SPEED_OF_LIGHT_MM_PS * p->tof_bin_width_ps;
  return tb;
}

template <int KIND>
__device__ __forceinline__ void lor_tofbins(const pet_projector_params &p, pet_tof_bins &tb,
                                            const pet_lor_batch &b, int64_t i, pet_image_params g,
                                            const float *__restrict__ img_in, float *img_out,
                                            float v, int mode)
{
  pet_projector_params pp = p;
  pp.kind = (pet_projector_kind)KIND;
  pet_project_lor_tofbins(&pp, &tb, &b, i, g, img_in, img_out, v, mode);
}

template <int KIND>
__global__ void __launch_bounds__(PET_GPU_BLOCK, PET_GPU_MINB_PROJ)
tofbins_fwd_kernel(pet_projector_params p, pet_tof_bins tb, pet_lor_batch b, pet_image_params g,
                   const float *__restrict__ img, float *__restrict__ proj)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= b.n) return;
  float acc[PET_TOF_BINS_MAX];
  const int n = tb.n;
  for (int t = 0; t < n; ++t) acc[t] = 0.0f;
  tb.out = acc;
  lor_tofbins<KIND>(p, tb, b, i, g, img, 0, 1.0f, PET_WALK_FWD);
  float *o = proj + i * n;
  for (int t = 0; t < n; ++t) o[t] = acc[t];
}

template <int KIND>
__global__ void __launch_bounds__(PET_GPU_BLOCK, PET_GPU_MINB_PROJ)
tofbins_back_kernel(pet_projector_params p, pet_tof_bins tb, pet_lor_batch b, pet_image_params g,
                    const float *__restrict__ proj, float *img)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= b.n) return;
  const int n = tb.n;
  const float *row = proj + i * n;
  bool any = false;
  for (int t = 0; t < n; ++t) any |= __ldg(row + t) != 0.0f;
  if (!any) return; /* adding 0 changes nothing */
  tb.in = row;
  lor_tofbins<KIND>(p, tb, b, i, g, 0, img, 1.0f, PET_WALK_BACK_ATOMIC);
}

/* OSEM on a TOF histogram: the LOR's T forward projections, the T ratios, one back walk
 * (in: T values per LOR: y, m, a; m NULL = 1, a NULL = 0). */
template <int KIND>
__global__ void __launch_bounds__(PET_GPU_BLOCK, PET_GPU_MINB_OSEM)
tofbins_osem_kernel(pet_projector_params p, pet_tof_bins tb, pet_lor_batch b,
                    pet_gpu_osem_batch in, float pred_eps, pet_image_params g,
                    const float *__restrict__ xf, float *back)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= b.n) return;
  const int n = tb.n;
  const int64_t base = i * n;
  bool any = false;
  for (int t = 0; t < n; ++t) any |= __ldg(in.y + base + t) != 0.0f;
  if (!any) return; /* m y / pred = 0 in every TOF bin */
  float acc[PET_TOF_BINS_MAX];
  for (int t = 0; t < n; ++t) acc[t] = 0.0f;
  tb.out = acc;
  lor_tofbins<KIND>(p, tb, b, i, g, xf, 0, 1.0f, PET_WALK_FWD);
  bool nz = false;
  for (int t = 0; t < n; ++t) {
    float y = __ldg(in.y + base + t);
    float m = in.m ? __ldg(in.m + base + t) : 1.0f;
    float a = in.a ? __ldg(in.a + base + t) : 0.0f;
    float pred = m * acc[t] + a;
    acc[t] = y != 0.0f && pred > pred_eps ? m * y / pred : 0.0f;
    nz |= acc[t] != 0.0f;
  }
  if (!nz) return;
  tb.in = acc;
  lor_tofbins<KIND>(p, tb, b, i, g, 0, back, 1.0f, PET_WALK_BACK_ATOMIC);
}

/* Sensitivity of a TOF histogram: back += sum_t A_t^T m_t (m: T values per LOR, NULL = 1). */
template <int KIND>
__global__ void __launch_bounds__(PET_GPU_BLOCK, PET_GPU_MINB_PROJ)
tofbins_sens_kernel(pet_projector_params p, pet_tof_bins tb, pet_lor_batch b,
                    const float *__restrict__ m, pet_image_params g, float *back)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= b.n) return;
  const int n = tb.n;
  float w[PET_TOF_BINS_MAX];
  bool any = false;
  for (int t = 0; t < n; ++t) {
    w[t] = m ? __ldg(m + i * n + t) : 1.0f;
    any |= w[t] != 0.0f;
  }
  if (!any) return;
  tb.in = w;
  lor_tofbins<KIND>(p, tb, b, i, g, 0, back, 1.0f, PET_WALK_BACK_ATOMIC);
}

/* ---- back projection through a shared-memory tile (mode PET_WALK_BACK_TILE) ----
 * A block takes one group of LORs that share their transaxial line: the bins of one (phi, r)
 * in every z-bin of a histogram subset, local indices first, first + stride, ... . Their
 * voxels lie in the slices i along the line's driving axis a (x when |dx| >= |dy|, as DD's)
 * within TILE_R rows of jc(i), the row of the line at the slice centre: that band, in every
 * z, is the tile, in shared memory. The walkers add into it with shared-memory atomics, then
 * the block adds each nonzero tile voxel to the image once: ~50 k global atomics per group
 * become ~3 k. The weights are the walkers' own (same math as every other mode); an add that
 * falls outside the band (a group whose LORs do not share the line) goes to the image.
 * Dynamic shared memory: 8 ints of header (a, na, maxc, -, lo, hi), maxc ints of
 * jc(i) - TILE_R, then nz x na x TILE_W floats (z slowest, o fastest). */
#define TILE_R 1
#define TILE_W (2 * TILE_R + 1)
#define TILE_BLOCK 256 /* a thread walks several LORs of a large group */
/* The tile pays when a group has at least TILE_MIN_PER_SLICE x TILE_W x nz LORs on average:
 * zeroing and flushing it touches na x TILE_W x nz slots, and each LOR walks ~na voxels. On the
 * H100 (clinical, nz = 24: threshold 144), groups of 420 were 1.2-2.8x faster through the tile
 * and groups of 52 (OSEM streamed in 8 batches) 1.9x slower. */
#define TILE_MIN_PER_SLICE 2
#define TILE_MAX_SHMEM (100 * 1024)

}  // namespace

extern __shared__ int4 tile_dyn[];

static __device__ __forceinline__ float *tile_floats(const int *hdr, int maxc)
{
  return (float *)(hdr + 8 + maxc);
}

static __device__ __forceinline__ void tile_add(float *img, int64_t idx, int32_t x, int32_t y,
                                                int32_t z, float v)
{
  const int4 h = tile_dyn[0];
  const int *hdr = (const int *)tile_dyn;
  const int32_t i = h.x ? y : x, j = h.x ? x : y;
  const int32_t o = j - hdr[8 + i];
  if ((unsigned)o < (unsigned)TILE_W)
    atomicAdd(tile_floats(hdr, h.z) + ((int64_t)z * h.y + i) * TILE_W + o, v);
  else
    atomicAdd(img + idx, v);
}

namespace {

int64_t tile_shmem_bytes(pet_image_params g)
{
  const int64_t maxc = ((g.nx > g.ny ? g.nx : g.ny) + 3) / 4 * 4;
  return (8 + maxc) * 4 + maxc * (int64_t)TILE_W * g.nz * 4;
}

/* Sets up the tile of the line of LOR `first`, runs body(i) for every LOR i of the group (the
 * caller's walks, in mode PET_WALK_BACK_TILE), then adds the tile to img. */
template <typename Body>
__device__ __forceinline__ void tile_group(const pet_lor_batch &b, pet_gpu_groups gr,
                                           pet_image_params g, float *img, Body body)
{
  const int64_t first = ((int64_t)blockIdx.x - gr.k0 % gr.stride + gr.stride) % gr.stride;
  if (first >= b.n) return;
  const int64_t count = (b.n - first + gr.stride - 1) / gr.stride;
  int *hdr = (int *)tile_dyn;
  const int maxc = ((g.nx > g.ny ? g.nx : g.ny) + 3) / 4 * 4;
  const float *l = b.lor + 6 * first;
  const float dx = l[3] - l[0], dy = l[4] - l[1];
  const int a = fabsf(dx) >= fabsf(dy) ? 0 : 1;
  const int na = a ? g.ny : g.nx, nb = a ? g.nx : g.ny;
  const float da = a ? dy : dx, db = a ? dx : dy, pa = a ? l[1] : l[0], pb = a ? l[0] : l[1];
  const float va = a ? g.length_y / (float)g.ny : g.length_x / (float)g.nx;
  const float vb = a ? g.length_x / (float)g.nx : g.length_y / (float)g.ny;
  const float b0a = a ? g.off_y - 0.5f * g.length_y : g.off_x - 0.5f * g.length_x;
  const float b0b = a ? g.off_x - 0.5f * g.length_x : g.off_y - 0.5f * g.length_y;
  if (threadIdx.x == 0) {
    hdr[0] = a;
    hdr[1] = na;
    hdr[2] = maxc;
    hdr[4] = na; /* lo, hi: the slices whose band meets the image */
    hdr[5] = -1;
  }
  __syncthreads();
  const bool line = fabsf(da) >= PET_SIDDON_PARALLEL_EPS;
  for (int i = threadIdx.x; i < na; i += blockDim.x) {
    int jc = -(1 << 28); /* no band: every add goes to the image */
    if (line) {
      float c = b0a + ((float)i + 0.5f) * va;
      float f = (pb + (c - pa) / da * db - b0b) / vb;
      f = pet_minf(pet_maxf(f, -4.0f * TILE_W), (float)(nb + 4 * TILE_W));
      jc = pet_floori(f) - TILE_R;
      if (jc <= nb - 1 && jc + TILE_W - 1 >= 0) {
        atomicMin(&hdr[4], i);
        atomicMax(&hdr[5], i);
      }
    }
    hdr[8 + i] = jc;
  }
  __syncthreads();
  const int lo = hdr[4], ncol = hdr[5] - lo + 1;
  float *t = tile_floats(hdr, maxc);
  const int per_z = ncol > 0 ? ncol * TILE_W : 0;
  for (int q = threadIdx.x; q < per_z * g.nz; q += blockDim.x) {
    int z = q / per_z, r = q - z * per_z;
    t[(z * na + lo) * TILE_W + r] = 0.0f;
  }
  __syncthreads();
  for (int64_t m = threadIdx.x; m < count; m += blockDim.x) body(first + m * gr.stride);
  __syncthreads();
  for (int q = threadIdx.x; q < per_z * g.nz; q += blockDim.x) {
    int z = q / per_z, r = q - z * per_z;
    float v = t[(z * na + lo) * TILE_W + r];
    if (v == 0.0f) continue;
    int i = lo + r / TILE_W, j = hdr[8 + i] + r % TILE_W;
    if (j < 0 || j >= nb) continue; /* never added to: the walkers stay in the image */
    int x = a ? j : i, y = a ? i : j;
    atomicAdd(img + ((int64_t)z * g.ny + y) * g.nx + x, v);
  }
}

template <int KIND, bool TOF>
__device__ __forceinline__ void lor_back_tile(const pet_projector_params &p,
                                              const pet_tof_kernel &tk, const pet_lor_batch &b,
                                              int64_t i, pet_image_params g, float v, float *img)
{
  pet_projector_params pp = p;
  pp.kind = (pet_projector_kind)KIND;
  pet_project_lor(&pp, TOF ? &tk : 0, &b, i, g, 0, img, v, PET_WALK_BACK_TILE);
}

template <int KIND, bool TOF>
__global__ void __launch_bounds__(TILE_BLOCK, PET_GPU_MINB_PROJ)
back_tile_kernel(pet_projector_params p, pet_tof_kernel tk, pet_lor_batch b, pet_gpu_groups gr,
                 pet_image_params g, const float *__restrict__ proj, float *img)
{
  tile_group(b, gr, g, img, [&](int64_t i) {
    float v = proj[i];
    if (v != 0.0f) lor_back_tile<KIND, TOF>(p, tk, b, i, g, v, img);
  });
}

/* OSEM: forward, ratio and back of one LOR in one thread (xf and back are distinct images). */
template <int KIND, bool TOF>
__global__ void __launch_bounds__(PET_GPU_BLOCK, PET_GPU_MINB_OSEM)
osem_kernel(pet_projector_params p, pet_tof_kernel tk, pet_lor_batch b, pet_gpu_osem_batch in,
            float pred_eps, pet_image_params g, const float *__restrict__ xf, float *back)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= b.n) return;
  float y = in.y ? __ldg(in.y + i) : 1.0f;
  if (y == 0.0f) return; /* m y / pred = 0: nothing to add */
  float m = in.m ? __ldg(in.m + i) : 1.0f;
  float a = in.a ? __ldg(in.a + i) : 0.0f;
  float pred = m * lor_fwd<KIND, TOF>(p, tk, b, i, g, xf) + a;
  float r = pred > pred_eps ? m * y / pred : 0.0f;
  if (r != 0.0f) lor_back<KIND, TOF>(p, tk, b, i, g, r, back);
}

template <int KIND, bool TOF>
__global__ void __launch_bounds__(TILE_BLOCK, PET_GPU_MINB_OSEM)
osem_tile_kernel(pet_projector_params p, pet_tof_kernel tk, pet_lor_batch b, pet_gpu_groups gr,
                 pet_gpu_osem_batch in, float pred_eps, pet_image_params g,
                 const float *__restrict__ xf, float *back)
{
  tile_group(b, gr, g, back, [&](int64_t i) {
    float y = in.y ? __ldg(in.y + i) : 1.0f;
    if (y == 0.0f) return;
    float m = in.m ? __ldg(in.m + i) : 1.0f;
    float a = in.a ? __ldg(in.a + i) : 0.0f;
    float pred = m * lor_fwd<KIND, TOF>(p, tk, b, i, g, xf) + a;
    float r = pred > pred_eps ? m * y / pred : 0.0f;
    if (r != 0.0f) lor_back_tile<KIND, TOF>(p, tk, b, i, g, r, back);
  });
}

template <int KIND>
__global__ void __launch_bounds__(PET_GPU_BLOCK, PET_GPU_MINB_PROJ)
sens_kernel(pet_projector_params p, pet_lor_batch b, const float *__restrict__ m,
            pet_image_params g, float *back)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= b.n) return;
  float v = m ? __ldg(m + i) : 1.0f;
  pet_tof_kernel tk;
  if (v != 0.0f) lor_back<KIND, false>(p, tk, b, i, g, v, back);
}

/* ---- LORs from bins (pet_bin_map_dets, as pet_histo_get_lors) or from detector ids ---- */


__global__ void gen_histo_kernel(pet_gpu_lorsrc src, int32_t S, int32_t s, int64_t k0, int64_t n,
                                 float *lor, float *orient)
{
  int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= n) return;
  int64_t bin = pet_histo_subset_bin(src.num_phi, src.num_r, src.num_zbin, S, s, k0 + k);
  int64_t d1 = 0, d2 = 0; /* invalid (phi, r): a zero-length LOR at detector 0, as the host */
  (void)pet_bin_map_dets(src.ring_pairs, src.invalid, src.zbin_rings, src.num_phi, src.num_r,
                         src.dets_per_ring, src.num_rings, src.num_doi, bin, &d1, &d2);
  pet_gpu_put_lor(src.lut, d1, d2, k, lor, orient);
}

__global__ void gen_sym_kernel(pet_gpu_lorsrc src, int32_t D, int64_t k0, int64_t n, float *lor,
                               float *orient)
{
  int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= n) return;
  int64_t d1 = 0, d2 = 0; /* invalid (phi, r): a zero-length LOR at detector 0, as the host */
  (void)pet_bin_map_sym_dets(src.ring_pairs, src.invalid, src.num_r, src.dets_per_ring,
                             src.num_rings, src.num_doi, D, k0 + k, &d1, &d2);
  pet_gpu_put_lor(src.lut, d1, d2, k, lor, orient);
}

__global__ void gen_lm_kernel(pet_gpu_lorsrc src, const uint32_t *__restrict__ d1,
                              const uint32_t *__restrict__ d2, int64_t n, float *lor,
                              float *orient)
{
  int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (k < n) pet_gpu_put_lor(src.lut, d1[k], d2[k], k, lor, orient);
}

/* ---- image space ---- */

#define PET_GPU_MAX_TAPS 257
struct taps_t {
  float w[PET_GPU_MAX_TAPS];
};

/* One axis of the separable Gaussian, out of place, zero outside the image. */
__global__ void blur_axis_kernel(const float *__restrict__ in, float *__restrict__ out,
                                 int32_t nx, int32_t ny, int32_t nz, int axis, taps_t taps,
                                 int half)
{
  int64_t v = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  int64_t nv = (int64_t)nx * ny * nz;
  if (v >= nv) return;
  int32_t x = (int32_t)(v % nx), y = (int32_t)((v / nx) % ny), z = (int32_t)(v / ((int64_t)nx * ny));
  int32_t c = axis == 0 ? x : (axis == 1 ? y : z);
  int32_t n = axis == 0 ? nx : (axis == 1 ? ny : nz);
  int64_t stride = axis == 0 ? 1 : (axis == 1 ? nx : (int64_t)nx * ny);
  float acc = 0.0f;
  for (int t = -half; t <= half; ++t) {
    int32_t j = c + t;
    if (j >= 0 && j < n) acc += taps.w[t + half] * __ldg(in + v + (int64_t)t * stride);
  }
  out[v] = acc;
}

__global__ void max_kernel(const float *__restrict__ v, int64_t n, unsigned int *out)
{
  __shared__ float sh[PET_GPU_BLOCK];
  float m = 0.0f; /* as the host: the maximum starts at 0 */
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    m = fmaxf(m, v[i]);
  sh[threadIdx.x] = m;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if ((int)threadIdx.x < s) sh[threadIdx.x] = fmaxf(sh[threadIdx.x], sh[threadIdx.x + s]);
    __syncthreads();
  }
  if (threadIdx.x == 0) atomicMax(out, __float_as_uint(sh[0])); /* >= 0: bits order as values */
}

__global__ void em_kernel(int64_t n, float *x, const float *__restrict__ back,
                          const float *__restrict__ sens, float scale, float thr)
{
  int64_t v = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (v >= n) return;
  float sv = sens[v] * scale;
  x[v] = sv > thr && sv > 0.0f ? x[v] * back[v] / sv : 0.0f;
}

/* Dispatch on (kind, tof) to one template instance. */
template <template <int, bool> class F, typename... A>
pet_status dispatch(const pet_projector_params *p, A... args)
{
  const bool dd = p->kind == PET_PROJ_DD;
  if (p->tof) return dd ? F<PET_PROJ_DD, true>::run(args...) : F<PET_PROJ_SIDDON, true>::run(args...);
  return dd ? F<PET_PROJ_DD, false>::run(args...) : F<PET_PROJ_SIDDON, false>::run(args...);
}

pet_tof_kernel tof_of(const pet_projector_params *p)
{
  pet_tof_kernel tk;
  if (p->tof) return pet_tof_kernel_make(p->tof_fwhm_ps, p->tof_n_sigmas);
  tk.sigma_mm = tk.half_width_mm = tk.inv_sqrt2_sigma = tk.norm = tk.peak = 0.0f;
  return tk;
}

template <int K, bool T> struct run_fwd {
  static pet_status run(cudaStream_t st, pet_projector_params p, pet_lor_batch b,
                        pet_image_params g, const float *img, float *proj)
  {
    fwd_kernel<K, T><<<grid_for(b.n), PET_GPU_BLOCK, 0, st>>>(p, tof_of(&p), b, g, img, proj);
    PET_CUDA(cudaGetLastError());
    return PET_OK;
  }
};
/* Threads per tile block for groups of this batch: the average group size split into the
 * fewest passes of at most TILE_BLOCK, in whole warps (420 LORs: 2 x 224). */
int tile_block(const pet_lor_batch &b, pet_gpu_groups gr)
{
  int64_t avg = (b.n + gr.stride - 1) / gr.stride;
  int64_t passes = (avg + TILE_BLOCK - 1) / TILE_BLOCK;
  int64_t t = ((avg + passes - 1) / passes + 31) / 32 * 32;
  return (int)(t < 64 ? 64 : (t > TILE_BLOCK ? TILE_BLOCK : t));
}

/* Whether the tile kernels serve this batch: groups given, large enough on average, the tile
 * fits, and PET_GPU_BACK_TILE is not "0" (for comparisons). */
bool use_tile(const pet_gpu_groups *gr, const pet_lor_batch &b, pet_image_params g)
{
  static int env = -1;
  if (env < 0) {
    const char *s = getenv("PET_GPU_BACK_TILE");
    env = !(s && s[0] == '0');
  }
  return env && gr && gr->stride > 0 &&
         b.n >= (int64_t)TILE_MIN_PER_SLICE * TILE_W * g.nz * gr->stride &&
         gr->stride <= 0x7fffffff && tile_shmem_bytes(g) <= TILE_MAX_SHMEM;
}

template <typename K> pet_status tile_smem_attr(K kernel, int64_t bytes)
{
  if (bytes > 48 * 1024)
    PET_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  (int)bytes));
  return PET_OK;
}

template <int K, bool T> struct run_back {
  static pet_status run(cudaStream_t st, pet_projector_params p, pet_lor_batch b,
                        const pet_gpu_groups *gr, pet_image_params g, const float *proj,
                        float *img)
  {
    if (use_tile(gr, b, g)) {
      const int64_t sh = tile_shmem_bytes(g);
      PET_TRY(tile_smem_attr(back_tile_kernel<K, T>, sh));
      back_tile_kernel<K, T><<<(unsigned)gr->stride, tile_block(b, *gr), (size_t)sh, st>>>(
          p, tof_of(&p), b, *gr, g, proj, img);
    } else {
      back_kernel<K, T><<<grid_for(b.n), PET_GPU_BLOCK, 0, st>>>(p, tof_of(&p), b, g, proj, img);
    }
    PET_CUDA(cudaGetLastError());
    return PET_OK;
  }
};
template <int K, bool T> struct run_osem {
  static pet_status run(cudaStream_t st, pet_projector_params p, pet_lor_batch b,
                        const pet_gpu_groups *gr, pet_gpu_osem_batch in, float eps,
                        pet_image_params g, const float *xf, float *back)
  {
    if (use_tile(gr, b, g)) {
      const int64_t sh = tile_shmem_bytes(g);
      PET_TRY(tile_smem_attr(osem_tile_kernel<K, T>, sh));
      osem_tile_kernel<K, T><<<(unsigned)gr->stride, tile_block(b, *gr), (size_t)sh, st>>>(
          p, tof_of(&p), b, *gr, in, eps, g, xf, back);
    } else {
      osem_kernel<K, T><<<grid_for(b.n), PET_GPU_BLOCK, 0, st>>>(p, tof_of(&p), b, in, eps, g,
                                                                 xf, back);
    }
    PET_CUDA(cudaGetLastError());
    return PET_OK;
  }
};

}  // namespace

pet_status pet_gpu_launch_fwd(cudaStream_t st, const pet_projector_params *p,
                              const pet_lor_batch *b, pet_image_params g, const float *img,
                              float *proj)
{
  if (b->n <= 0) return PET_OK;
  if (p->num_tof_bins > 0) {
    const pet_tof_bins tb = tof_bins_of(p);
    if (p->kind == PET_PROJ_DD)
      tofbins_fwd_kernel<PET_PROJ_DD><<<grid_for(b->n), PET_GPU_BLOCK, 0, st>>>(*p, tb, *b, g, img,
                                                                                 proj);
    else
      tofbins_fwd_kernel<PET_PROJ_SIDDON><<<grid_for(b->n), PET_GPU_BLOCK, 0, st>>>(*p, tb, *b, g,
                                                                                     img, proj);
    PET_CUDA(cudaGetLastError());
    return PET_OK;
  }
  return dispatch<run_fwd>(p, st, *p, *b, g, img, proj);
}

pet_status pet_gpu_launch_back(cudaStream_t st, const pet_projector_params *p,
                               const pet_lor_batch *b, const pet_gpu_groups *gr,
                               pet_image_params g, const float *proj, float *img)
{
  if (b->n <= 0) return PET_OK;
  if (p->num_tof_bins > 0) {
    const pet_tof_bins tb = tof_bins_of(p);
    if (p->kind == PET_PROJ_DD)
      tofbins_back_kernel<PET_PROJ_DD><<<grid_for(b->n), PET_GPU_BLOCK, 0, st>>>(*p, tb, *b, g,
                                                                                  proj, img);
    else
      tofbins_back_kernel<PET_PROJ_SIDDON><<<grid_for(b->n), PET_GPU_BLOCK, 0, st>>>(*p, tb, *b, g,
                                                                                      proj, img);
    PET_CUDA(cudaGetLastError());
    return PET_OK;
  }
  return dispatch<run_back>(p, st, *p, *b, gr, g, proj, img);
}

pet_status pet_gpu_launch_osem(cudaStream_t st, const pet_projector_params *p,
                               const pet_lor_batch *b, const pet_gpu_groups *gr,
                               pet_gpu_osem_batch in, float pred_eps, pet_image_params g,
                               const float *xf, float *back)
{
  if (b->n <= 0) return PET_OK;
  if (p->num_tof_bins > 0) {
    const pet_tof_bins tb = tof_bins_of(p);
    if (p->kind == PET_PROJ_DD)
      tofbins_osem_kernel<PET_PROJ_DD><<<grid_for(b->n), PET_GPU_BLOCK, 0, st>>>(*p, tb, *b, in,
                                                                                  pred_eps, g, xf, back);
    else
      tofbins_osem_kernel<PET_PROJ_SIDDON><<<grid_for(b->n), PET_GPU_BLOCK, 0, st>>>(
          *p, tb, *b, in, pred_eps, g, xf, back);
    PET_CUDA(cudaGetLastError());
    return PET_OK;
  }
  return dispatch<run_osem>(p, st, *p, *b, gr, in, pred_eps, g, xf, back);
}

pet_status pet_gpu_launch_sens(cudaStream_t st, const pet_projector_params *p,
                               const pet_lor_batch *b, const float *m, pet_image_params g,
                               float *back)
{
  if (b->n <= 0) return PET_OK;
  pet_projector_params pp = *p;
  pp.tof = 0; /* the TOF kernel integrates to 1 along the LOR */
  if (pp.num_tof_bins > 0) {
    /* a TOF histogram's bins integrate to 1 only where they cover the LOR: A^T m exactly */
    const pet_tof_bins tb = tof_bins_of(&pp);
    if (pp.kind == PET_PROJ_DD)
      tofbins_sens_kernel<PET_PROJ_DD><<<grid_for(b->n), PET_GPU_BLOCK, 0, st>>>(pp, tb, *b, m, g,
                                                                                  back);
    else
      tofbins_sens_kernel<PET_PROJ_SIDDON><<<grid_for(b->n), PET_GPU_BLOCK, 0, st>>>(pp, tb, *b, m,
                                                                                      g, back);
    PET_CUDA(cudaGetLastError());
    return PET_OK;
  }
  if (pp.kind == PET_PROJ_DD)
    sens_kernel<PET_PROJ_DD><<<grid_for(b->n), PET_GPU_BLOCK, 0, st>>>(pp, *b, m, g, back);
  else
    sens_kernel<PET_PROJ_SIDDON><<<grid_for(b->n), PET_GPU_BLOCK, 0, st>>>(pp, *b, m, g, back);
  PET_CUDA(cudaGetLastError());
  return PET_OK;
}

pet_status pet_gpu_gen_lors_histo(cudaStream_t st, pet_gpu_lorsrc src, int32_t S, int32_t s,
                                  int64_t k0, int64_t n, float *lor, float *orient)
{
  if (n <= 0) return PET_OK;
  gen_histo_kernel<<<grid_for(n), PET_GPU_BLOCK, 0, st>>>(src, S, s, k0, n, lor, orient);
  PET_CUDA(cudaGetLastError());
  return PET_OK;
}

pet_status pet_gpu_gen_lors_sym(cudaStream_t st, pet_gpu_lorsrc src, int32_t D, int64_t k0,
                                int64_t n, float *lor, float *orient)
{
  if (n <= 0) return PET_OK;
  gen_sym_kernel<<<grid_for(n), PET_GPU_BLOCK, 0, st>>>(src, D, k0, n, lor, orient);
  PET_CUDA(cudaGetLastError());
  return PET_OK;
}

pet_status pet_gpu_gen_lors_lm(cudaStream_t st, pet_gpu_lorsrc src, const uint32_t *d1,
                               const uint32_t *d2, int64_t n, float *lor, float *orient)
{
  if (n <= 0) return PET_OK;
  gen_lm_kernel<<<grid_for(n), PET_GPU_BLOCK, 0, st>>>(src, d1, d2, n, lor, orient);
  PET_CUDA(cudaGetLastError());
  return PET_OK;
}

pet_status pet_gpu_blur(cudaStream_t st, pet_image_params g, float fwhm_mm, float *img, float *tmp)
{
  if (!(fwhm_mm > 0.0f)) return PET_OK;
  const float sig = fwhm_mm / 2.35482f;
  const float vox[3] = {g.length_x / (float)g.nx, g.length_y / (float)g.ny,
                        g.length_z / (float)g.nz};
  const int64_t nv = (int64_t)g.nx * g.ny * g.nz;
  for (int axis = 0; axis < 3; ++axis) {
    taps_t t;
    int half = pet_gauss_taps(sig / vox[axis], t.w, 128);
    if (half <= 0) continue;
    blur_axis_kernel<<<grid_for(nv), PET_GPU_BLOCK, 0, st>>>(img, tmp, g.nx, g.ny, g.nz, axis, t,
                                                              half);
    PET_CUDA(cudaGetLastError());
    PET_CUDA(cudaMemcpyAsync(img, tmp, (size_t)nv * sizeof(float), cudaMemcpyDeviceToDevice, st));
  }
  return PET_OK;
}

pet_status pet_gpu_max(cudaStream_t st, const float *v, int64_t n, float *out)
{
  unsigned int *d = NULL, h = 0;
  PET_TRY(pet_gpu_malloc((void **)&d, sizeof *d, "a reduction scalar"));
  cudaError_t e = cudaMemsetAsync(d, 0, sizeof *d, st);
  if (e == cudaSuccess) {
    int64_t blocks = grid_for(n);
    if (blocks > 1024) blocks = 1024;
    if (blocks < 1) blocks = 1;
    max_kernel<<<(unsigned)blocks, PET_GPU_BLOCK, 0, st>>>(v, n, d);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaMemcpyAsync(&h, d, sizeof h, cudaMemcpyDeviceToHost, st);
  if (e == cudaSuccess) e = cudaStreamSynchronize(st);
  const pet_status s = pet_cuda_status(e, "device max reduction", __FILE__, __LINE__);
  pet_gpu_free(d);
  float f;
  memcpy(&f, &h, sizeof f);
  *out = f;
  return s;
}

pet_status pet_gpu_em_update(cudaStream_t st, int64_t n, float *x, const float *back,
                             const float *sens, float scale, float thr)
{
  if (n <= 0) return PET_OK;
  em_kernel<<<grid_for(n), PET_GPU_BLOCK, 0, st>>>(n, x, back, sens, scale, thr);
  PET_CUDA(cudaGetLastError());
  return PET_OK;
}

/* ---- public C API ---- */

static pet_status check_proj_call(const pet_projector_params *p, const pet_lor_batch *b,
                                  const pet_image *img, const float *proj)
{
  PET_CHECK(p != NULL && b != NULL, PET_ERR_ARG, "gpu projector: NULL parameters or batch");
  PET_TRY(pet_projector_params_check(p));
  PET_TRY(pet_image_require(img, PET_DEVICE));
  PET_CHECK(b->n >= 0, PET_ERR_ARG, "gpu projector: negative LOR count %lld", (long long)b->n);
  if (b->n == 0) return PET_OK;
  PET_CHECK(b->lor != NULL && proj != NULL, PET_ERR_ARG, "gpu projector: NULL LORs or values");
  PET_CHECK(pet_gpu_is_device_ptr(b->lor) && pet_gpu_is_device_ptr(proj), PET_ERR_STATE,
            "gpu projector: the LORs and projection values must be device memory");
  PET_CHECK(!p->tof || b->tof_ps != NULL, PET_ERR_ARG, "gpu projector: TOF without tof_ps");
  return PET_OK;
}

extern "C" pet_status pet_gpu_project_fwd(const pet_projector_params *p, const pet_lor_batch *b,
                                          const pet_image *img, float *proj)
{
  PET_TRY(check_proj_call(p, b, img, proj));
  PET_TRY(pet_gpu_launch_fwd(0, p, b, img->params, img->data, proj));
  PET_CUDA(cudaStreamSynchronize(0));
  return PET_OK;
}

pet_status pet_gpu_project_back_groups(const pet_projector_params *p, const pet_lor_batch *b,
                                       const pet_gpu_groups *gr, const float *proj,
                                       pet_image *img)
{
  PET_TRY(check_proj_call(p, b, img, proj));
  PET_TRY(pet_gpu_launch_back(0, p, b, gr, img->params, proj, img->data));
  PET_CUDA(cudaStreamSynchronize(0));
  return PET_OK;
}

extern "C" pet_status pet_gpu_project_back(const pet_projector_params *p, const pet_lor_batch *b,
                                           const float *proj, pet_image *img)
{
  return pet_gpu_project_back_groups(p, b, NULL, proj, img);
}

extern "C" size_t pet_gpu_available_vram(void)
{
  size_t f = 0, t = 0;
  if (pet_gpu_device_count() <= 0) return 0;
  if (cudaMemGetInfo(&f, &t) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return f;
}

/* ---- microbenchmarks for the roofline comparison (bench/bench_gpu.c) ---- */

static __global__ void atomic_rate_kernel(float *img, int64_t nvox, int64_t n)
{
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (; i < n; i += stride) {
    /* neighbouring threads hit neighbouring voxels along a pseudo-random line start, as a back
     * projection of adjacent LORs does */
    uint64_t h = (uint64_t)(i / 32) * 0x9E3779B97F4A7C15ull;
    int64_t v = (int64_t)((h >> 20) % (uint64_t)nvox) + (i % 32);
    atomicAdd(img + (v % nvox), 1.0f);
  }
}

extern "C" pet_status pet_gpu_bench_atomics(float *img, int64_t nvox, int64_t n, float *ms)
{
  cudaEvent_t a, b;
  PET_CUDA(cudaEventCreate(&a));
  PET_CUDA(cudaEventCreate(&b));
  PET_CUDA(cudaEventRecord(a, 0));
  atomic_rate_kernel<<<132 * 16, PET_GPU_BLOCK>>>(img, nvox, n);
  PET_CUDA(cudaGetLastError());
  PET_CUDA(cudaEventRecord(b, 0));
  PET_CUDA(cudaEventSynchronize(b));
  PET_CUDA(cudaEventElapsedTime(ms, a, b));
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return PET_OK;
}

extern "C" pet_status pet_gpu_time_ms(pet_status (*fn)(void *), void *ctx, float *ms)
{
  cudaEvent_t a, b;
  PET_CUDA(cudaEventCreate(&a));
  PET_CUDA(cudaEventCreate(&b));
  PET_CUDA(cudaEventRecord(a, 0));
  pet_status st = fn(ctx);
  PET_CUDA(cudaEventRecord(b, 0));
  PET_CUDA(cudaEventSynchronize(b));
  PET_CUDA(cudaEventElapsedTime(ms, a, b));
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return st;
}
