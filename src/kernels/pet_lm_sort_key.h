/* A spatial sort key per list-mode event, so that the GPU can run a batch's events in an order
 * whose concurrent threads touch one region of the image (its atomics and reads stay in L2 when
 * the image does not fit there). Valid C17 and CUDA C++: the device sorts by it
 * (gpu/pet_gpu_lmsort.cu), the host tests it.
 *
 * TOF: the key is that of the TOF kernel's centre on the LOR (pet_tof_centre_mm): its z slab
 * (most significant), then the Morton code of its transaxial tile. Non-TOF: the z slab of the
 * LOR's midpoint, then the LOR's transaxial line (angle bin, then signed-distance bin). Points
 * outside the image clamp to the edge bins; a LOR and its reverse (endpoints swapped, TOF
 * negated) get the same key. Keys are in [0, 2^bits). */
#ifndef PET_LM_SORT_KEY_H
#define PET_LM_SORT_KEY_H

#include <math.h>
#include <stdint.h>

#include "pet_hd.h"
#include "pet_image.h"
#include "pet_tof_kernel.h"

/** The bins of the key for one image grid. POD: passed to kernels by value. */
typedef struct pet_lm_sort_grid {
  float x0, y0, z0;            /* image corner, mm */
  float cx, cy;                /* transaxial centre, mm */
  float inv_tile, inv_slab;    /* 1 / transaxial tile width, 1 / slab thickness (1/mm) */
  float inv_r;                 /* non-TOF: signed-distance bins per mm */
  int32_t ntile_x, ntile_y;    /* transaxial tiles */
  int32_t nslab;               /* z slabs */
  int32_t tile_bits;           /* bits per transaxial axis of the Morton code */
  int32_t phi_bits, r_bits;    /* non-TOF: angle and signed-distance bits */
  int32_t tof;                 /* TOF key (centre point) or non-TOF key (line) */
  int32_t bits;                /* every key is below 2^bits */
} pet_lm_sort_grid;

/* Smallest b with 2^b >= n (n >= 1). */
PET_HD static inline int32_t pet_lm_sort_bits_for(int32_t n)
{
  int32_t b = 0;
  while (b < 30 && ((int32_t)1 << b) < n) ++b;
  return b;
}

/* floor(v) clamped to [0, n). */
PET_HD static inline int32_t pet_lm_sort_bin(float v, int32_t n)
{
  if (!(v >= 0.0f)) return 0; /* negative or NaN */
  if (v >= (float)n) return n - 1;
  int32_t k = (int32_t)v;
  return k < n ? k : n - 1;
}

/**
 * The key's bins for grid g: z slabs of slab_vox slices, transaxial tiles of tile_vox voxels
 * (each >= 1), TOF or not. Local.
 */
PET_HD static inline pet_lm_sort_grid pet_lm_sort_grid_make(pet_image_params g, int32_t slab_vox,
                                                          int32_t tile_vox, int tof)
{
  pet_lm_sort_grid s;
  if (slab_vox < 1) slab_vox = 1;
  if (tile_vox < 1) tile_vox = 1;
  const float vx = g.length_x / (float)g.nx, vy = g.length_y / (float)g.ny;
  const float vz = g.length_z / (float)g.nz;
  const float vxy = vx > vy ? vx : vy;
  s.x0 = g.off_x - 0.5f * g.length_x;
  s.y0 = g.off_y - 0.5f * g.length_y;
  s.z0 = g.off_z - 0.5f * g.length_z;
  s.cx = g.off_x;
  s.cy = g.off_y;
  s.inv_tile = 1.0f / ((float)tile_vox * vxy);
  s.inv_slab = 1.0f / ((float)slab_vox * vz);
  s.ntile_x = (int32_t)ceilf(g.length_x * s.inv_tile);
  s.ntile_y = (int32_t)ceilf(g.length_y * s.inv_tile);
  if (s.ntile_x < 1) s.ntile_x = 1;
  if (s.ntile_y < 1) s.ntile_y = 1;
  s.nslab = (g.nz + slab_vox - 1) / slab_vox;
  s.tile_bits = pet_lm_sort_bits_for(s.ntile_x > s.ntile_y ? s.ntile_x : s.ntile_y);
  /* non-TOF lines: 64 angles over [0, pi), signed distances over the image's half-diagonal
   * in bins of about a tile (at most 64) */
  const float R = 0.5f * sqrtf(g.length_x * g.length_x + g.length_y * g.length_y);
  int32_t nr = (int32_t)ceilf(2.0f * R * s.inv_tile);
  if (nr > 64) nr = 64;
  s.r_bits = pet_lm_sort_bits_for(nr < 1 ? 1 : nr);
  s.inv_r = (float)((int32_t)1 << s.r_bits) / (2.0f * R);
  s.phi_bits = 6;
  s.tof = tof != 0;
  s.bits = pet_lm_sort_bits_for(s.nslab) + (s.tof ? 2 * s.tile_bits : s.phi_bits + s.r_bits);
  return s;
}

/* Interleaves the low `bits` bits of x (even positions) and y (odd positions). */
PET_HD static inline uint32_t pet_lm_sort_morton(uint32_t x, uint32_t y, int32_t bits)
{
  uint32_t m = 0;
  for (int32_t b = 0; b < bits; ++b)
    m |= ((x >> b) & 1u) << (2 * b) | ((y >> b) & 1u) << (2 * b + 1);
  return m;
}

/**
 * The key of the event on LOR lor (endpoints p1 = lor[0..2], p2 = lor[3..5], mm) with TOF
 * tof_ps (read only when s->tof). Local.
 */
PET_HD static inline uint32_t pet_lm_sort_key(const pet_lm_sort_grid *s, const float *lor,
                                              float tof_ps)
{
  const float dx = lor[3] - lor[0], dy = lor[4] - lor[1], dz = lor[5] - lor[2];
  float f = 0.5f; /* fraction of the way from p1 to p2 */
  if (s->tof) {
    const float len = sqrtf(dx * dx + dy * dy + dz * dz);
    if (len > 0.0f) f = pet_tof_centre_mm(len, tof_ps) / len;
  }
  const float px = lor[0] + f * dx, py = lor[1] + f * dy, pz = lor[2] + f * dz;
  const uint32_t slab = (uint32_t)pet_lm_sort_bin((pz - s->z0) * s->inv_slab, s->nslab);
  if (s->tof) {
    const uint32_t tx = (uint32_t)pet_lm_sort_bin((px - s->x0) * s->inv_tile, s->ntile_x);
    const uint32_t ty = (uint32_t)pet_lm_sort_bin((py - s->y0) * s->inv_tile, s->ntile_y);
    return slab << (2 * s->tile_bits) | pet_lm_sort_morton(tx, ty, s->tile_bits);
  }
  /* the transaxial line: angle of p2 - p1 folded into [0, pi), signed distance r from the
   * centre (its sign flips with the direction, so a reversed LOR folds to the same bins) */
  const float l2 = sqrtf(dx * dx + dy * dy);
  uint32_t phib = 0, rb = 0;
  const int32_t nphi = (int32_t)1 << s->phi_bits, nr = (int32_t)1 << s->r_bits;
  if (l2 > 0.0f) {
    const float ux = dx / l2, uy = dy / l2;
    float r = (px - s->cx) * uy - (py - s->cy) * ux;
    float phi = atan2f(uy, ux);
    if (phi < 0.0f) {
      phi += 3.14159265358979f;
      r = -r;
    }
    int32_t k = (int32_t)(phi * (float)nphi * 0.318309886183791f);
    if (k >= nphi) { /* phi = pi: the direction of phi = 0 reversed */
      k = 0;
      r = -r;
    }
    if (k < 0) k = 0;
    phib = (uint32_t)k;
    rb = (uint32_t)pet_lm_sort_bin(r * s->inv_r + 0.5f * (float)nr, nr);
  }
  return (slab << s->phi_bits | phib) << s->r_bits | rb;
}

#endif /* PET_LM_SORT_KEY_H */
