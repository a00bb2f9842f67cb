/* Distance-driven projection of one LOR (forward and back, optional TOF).
 * Valid C17 and CUDA C++ (included by the OpenMP driver and by gpu/ kernels). */
#ifndef PET_DD_KERNEL_H
#define PET_DD_KERNEL_H

#include <math.h>
#include <stdint.h>

#include "pet_hd.h"
#include "pet_image.h"
#include "pet_siddon_kernel.h"
#include "pet_tof_kernel.h"

/* Narrows the slice range [*f0, *f1] (float slice indices) to the slices where a footprint
 * centred at c = cA + fi cB (voxel units along one axis) with half-width at most hw comes
 * within reach of [0, n): |c - n/2| <= n/2 + hw, widened by one slice either side. Returns 0
 * when no slice is left. Local. */
PET_HD static inline int pet_dd_clip_slices(float cA, float cB, float hw, float n, float *f0,
                                           float *f1)
{
  float lo = -hw, hi = n + hw;
  if (fabsf(cB) < 1e-12f) return cA >= lo && cA <= hi;
  float icb = 1.0f / cB;
  float t0 = (lo - cA) * icb, t1 = (hi - cA) * icb;
  *f0 = pet_maxf(*f0, pet_minf(t0, t1) - 1.0f);
  *f1 = pet_minf(*f1, pet_maxf(t0, t1) + 1.0f);
  return *f0 <= *f1;
}

/**
 * Distance-driven weights of the LOR p1 -> p2 (lor: x1 y1 z1 x2 y2 z2, mm), exactly:
 *
 * Driving axis a: x when |dx| >= |dy|, else y (d = p2 - p1); b is the other transaxial axis.
 * A LOR with |d_a| < PET_SIDDON_PARALLEL_EPS (along z: no ring scanner has one) gives 0.
 * Slices: the voxel planes i along a whose centre c_i lies between p1_a and p2_a (inclusive);
 * the LOR meets plane a = c_i at alpha_i = (c_i - p1_a) / d_a, point q_i = p1 + alpha_i d.
 * Footprint: at each end e, the crystal face (pet_crystal_face_axes of its normal: orient,
 * or the LOR direction when orient == NULL) has width vector size_trans * u_e and height
 * vector size_z * v_e; projected along d onto a plane a = const they measure
 *   W_e = size_trans |u_e,b - u_e,a d_b / d_a|  along b,   H_e = size_z |v_e,z - v_e,a d_z / d_a|
 * along z (cross terms ignored: the footprint is an axis-aligned rectangle). On slice i the
 * footprint is the rectangle centred at q_i of width W = W_1 + alpha_i (W_2 - W_1) and height
 * H = H_1 + alpha_i (H_2 - H_1) (both floored at 1e-4 mm).
 * Weight of voxel (i, j, k) = ov_b(j) ov_z(k) / (W H) * dl, with ov the 1D overlaps of the
 * footprint with the voxel's [lower, upper) boundaries along b and z, and dl = v_a |d| / |d_a|
 * the LOR's path length through one slice. So a footprint inside the image gives weights that
 * sum to dl per slice and an image of ones projects to the chord length (exactly when the LOR
 * enters and leaves through the two faces normal to a and stays away from the other faces).
 * TOF: times the kernel pdf at q_i (pet_tof_pdf at alpha_i |d| - centre), 1/mm, as Siddon's
 * TOF weights integrate the same kernel.
 * Clipping (off by default: fov_r <= 0 and centre_box == 0 give the weights above bit for
 * bit): the LOR's parameter range is clipped to [t0, t1], the part inside the cylinder
 * x^2 + y^2 <= fov_r^2 (pet_fov_clip) and, with centre_box, inside the box spanned by the
 * voxel centres (half a voxel inside the image faces, along every axis with >= 2 voxels:
 * YRT-PET's convention); slice i then weighs dl times the fraction of its own piece of the LOR,
 * alpha in alpha_i +- |dal|/2, that lies in [t0, t1]. So an image of ones projects to the
 * clipped chord, and with centre_box the first and last slices along a weigh dl/2.
 * Forward and back visit identical weights (adjoint).
 */
PET_HD static PET_WORKER float pet_dd_lor_impl(const float *PET_RESTRICT lor, const float *orient,
                                           float size_trans, float size_z, pet_image_params g,
                                           const float *PET_RESTRICT img_in, float *img_out,
                                           float back_val, int mode, const pet_tof_kernel *tof,
                                           float tof_ps, float fov_r, int centre_box, const int clip,
                                           const pet_tof_bins *tb)
{
  float d[3];
  d[0] = lor[3] - lor[0];
  d[1] = lor[4] - lor[1];
  d[2] = lor[5] - lor[2];
  float len = sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
  if (!(len > 0.0f)) return 0.0f;
  int a = fabsf(d[0]) >= fabsf(d[1]) ? 0 : 1;
  int b = 1 - a;
  if (fabsf(d[a]) < PET_SIDDON_PARALLEL_EPS) return 0.0f;
  float ida = 1.0f / d[a];

  float vox[3], b0[3];
  int32_t nv[3];
  int64_t st[3];
  vox[0] = g.length_x / (float)g.nx;
  vox[1] = g.length_y / (float)g.ny;
  vox[2] = g.length_z / (float)g.nz;
  b0[0] = g.off_x - 0.5f * g.length_x;
  b0[1] = g.off_y - 0.5f * g.length_y;
  b0[2] = g.off_z - 0.5f * g.length_z;
  nv[0] = g.nx;
  nv[1] = g.ny;
  nv[2] = g.nz;
  st[0] = 1;
  st[1] = g.nx;
  st[2] = (int64_t)g.nx * g.ny;

  float wt[2], wz[2];
  for (int e = 0; e < 2; ++e) {
    float u[3], v[3];
    if (orient)
      pet_crystal_face_axes(orient[3 * e], orient[3 * e + 1], orient[3 * e + 2], u, v);
    else
      pet_crystal_face_axes(d[0], d[1], d[2], u, v);
    wt[e] = pet_maxf(size_trans * fabsf(u[b] - u[a] * d[b] * ida), 1e-4f);
    wz[e] = pet_maxf(size_z * fabsf(v[2] - v[a] * d[2] * ida), 1e-4f);
  }

  float pa = lor[a], pb = lor[b], pz = lor[2];
  float lo = pet_minf(pa, lor[3 + a]), hi = pet_maxf(pa, lor[3 + a]);
    /* first/last slice centre in [lo, hi]: clamp in float before converting to int */
  float fi0 = pet_maxf((lo - b0[a]) / vox[a] - 0.5f, -1.0f);
  float fi1 = pet_minf((hi - b0[a]) / vox[a] - 0.5f, (float)nv[a]);

  /* Everything on slice i is linear in fi = i (alpha_i = al0 + fi dal), so it is evaluated as
   * base + fi * step, with the footprint edges in voxel units of b and z (no division per
   * slice but the normalisation). */
  float ivb = 1.0f / vox[b], ivz = 1.0f / vox[2];
  float al0 = (b0[a] + 0.5f * vox[a] - pa) * ida, dal = vox[a] * ida;
  float dwt = wt[1] - wt[0], dwz = wz[1] - wz[0];
  /* footprint centre and width in voxel units: c = cA + fi cB, w = wA + fi wB */
  float cbA = (pb + al0 * d[b] - b0[b]) * ivb, cbB = dal * d[b] * ivb;
  float czA = (pz + al0 * d[2] - b0[2]) * ivz, czB = dal * d[2] * ivz;
  float wbA = (wt[0] + al0 * dwt) * ivb, wbB = dal * dwt * ivb;
  float wzA = (wz[0] + al0 * dwz) * ivz, wzB = dal * dwz * ivz;
  float nbf = (float)nv[b], nzf = (float)nv[2];
  /* Slices whose footprint can touch the image box (the centre within half the widest
   * footprint, plus one voxel, of [0, n) along b and z; then one slice more either side):
   * the others give j0 > j1 or k0 > k1 below, so this only skips empty work. */
  if (!pet_dd_clip_slices(cbA, cbB, 0.5f * pet_maxf(wt[0], wt[1]) * ivb + 1.0f, nbf, &fi0,
                          &fi1))
    return 0.0f;
  if (!pet_dd_clip_slices(czA, czB, 0.5f * pet_maxf(wz[0], wz[1]) * ivz + 1.0f, nzf, &fi0,
                          &fi1))
    return 0.0f;
  float tc = tof ? pet_tof_centre_mm(len, tof_ps) : 0.0f;
  if (tof) {
    /* the TOF support |alpha |d| - tc| <= half_width, in slices, with one slice of margin */
    float ilen = 1.0f / len;
    float aA = ((tc - tof->half_width_mm) * ilen - al0) / dal;
    float aB = ((tc + tof->half_width_mm) * ilen - al0) / dal;
    fi0 = pet_maxf(fi0, pet_minf(aA, aB) - 1.0f);
    fi1 = pet_minf(fi1, pet_maxf(aA, aB) + 1.0f);
  }
  if (tb) {
    /* the bins' reach around the midpoint, in slices, with one slice of margin */
    float reach = pet_tof_bins_reach_mm(tb), ilen = 1.0f / len;
    float aA = ((0.5f * len - reach) * ilen - al0) / dal;
    float aB = ((0.5f * len + reach) * ilen - al0) / dal;
    fi0 = pet_maxf(fi0, pet_minf(aA, aB) - 1.0f);
    fi1 = pet_minf(fi1, pet_maxf(aA, aB) + 1.0f);
  }
  /* the clipped range [t0, t1] of the LOR parameter and the slices it can touch */
  float t0 = -PET_SIDDON_BIG, t1 = PET_SIDDON_BIG;
  if (clip) {
    if (fov_r > 0.0f && !pet_fov_clip(lor[0], lor[1], d[0], d[1], fov_r, &t0, &t1)) return 0.0f;
    if (centre_box) {
      for (int c = 0; c < 3; ++c) {
        if (nv[c] < 2) continue; /* one voxel: its centre plane would leave nothing */
        float clo = b0[c] + 0.5f * vox[c], chi = b0[c] + ((float)nv[c] - 0.5f) * vox[c];
        if (fabsf(d[c]) < PET_SIDDON_PARALLEL_EPS) {
          if (lor[c] < clo || lor[c] > chi) return 0.0f;
          continue;
        }
        float idc = 1.0f / d[c];
        float q0 = (clo - lor[c]) * idc, q1 = (chi - lor[c]) * idc;
        t0 = pet_maxf(t0, pet_minf(q0, q1));
        t1 = pet_minf(t1, pet_maxf(q0, q1));
      }
    }
    if (!(t1 > t0)) return 0.0f;
    float aA = (t0 - al0) / dal, aB = (t1 - al0) / dal;
    fi0 = pet_maxf(fi0, pet_minf(aA, aB) - 1.0f);
    fi1 = pet_minf(fi1, pet_maxf(aA, aB) + 1.0f);
  }
  if (!(fi0 <= fi1)) return 0.0f;
  int32_t i0 = -pet_floori(-fi0), i1 = pet_floori(fi1);
  i0 = i0 < 0 ? 0 : i0;
  i1 = i1 > nv[a] - 1 ? nv[a] - 1 : i1;
  if (i0 > i1) return 0.0f;

  float dl = vox[a] * len * fabsf(ida);
  float nbm1 = nbf - 1.0f, nzm1 = nzf - 1.0f;
  int64_t stb = st[b], stz = st[2];
  float sum = 0.0f;
  for (int32_t i = i0; i <= i1; ++i) {
    float fi = (float)i;
    float scale = dl;
    if (clip) {
      /* fraction of this slice's piece of the LOR inside [t0, t1] */
      float ai = al0 + fi * dal, h = 0.5f * fabsf(dal);
      float fr = (pet_minf(ai + h, t1) - pet_maxf(ai - h, t0)) / (2.0f * h);
      if (!(fr > 0.0f)) continue;
      scale *= pet_minf(fr, 1.0f);
    }
    if (tof) {
      scale *= pet_tof_pdf(tof, (al0 + fi * dal) * len - tc);
      if (scale == 0.0f) continue;
    }
    /* TOF histogram: the slice's weights times each bin's kernel at q_i; back folds the bins
     * into the slice's value, forward spreads the slice's sum (from sum0) over the bins */
    float bv = back_val, u = 0.0f, sum0 = sum;
    if (tb) {
      u = (0.5f - (al0 + fi * dal)) * len / tb->bin_mm + 0.5f * (float)tb->n;
      if (mode != PET_WALK_FWD) {
        bv = back_val * pet_tof_bins_dot(tb, u);
        if (bv == 0.0f) continue;
      }
    }
    float cb = cbA + fi * cbB, cz = czA + fi * czB;
    float hwb = 0.5f * pet_maxf(wbA + fi * wbB, 0.0f), hwz = 0.5f * pet_maxf(wzA + fi * wzB, 0.0f);
    float blo = cb - hwb, bhi = cb + hwb;
    float zlo = cz - hwz, zhi = cz + hwz;
    /* voxel ranges of the footprint, clamped to the image (in float first: no int overflow;
     * the lower ends are >= 0, so truncation is the floor) */
    int32_t j0 = (int32_t)pet_minf(pet_maxf(blo, 0.0f), nbf);
    int32_t j1 = pet_floori(pet_maxf(pet_minf(bhi, nbm1), -1.0f));
    int32_t k0 = (int32_t)pet_minf(pet_maxf(zlo, 0.0f), nzf);
    int32_t k1 = pet_floori(pet_maxf(pet_minf(zhi, nzm1), -1.0f));
    if (j0 > j1 || k0 > k1) continue;
    /* weight = (overlap_b / width_b) (overlap_z / width_z) dl: edges in voxel units, so the
     * overlaps of one slice sum to its width (inside the image) whatever the rounding; a
     * footprint that rounds to (near) zero width has (near) zero overlaps: no 0/0 */
    scale /= pet_maxf(bhi - blo, 1e-5f) * pet_maxf(zhi - zlo, 1e-5f);
    int64_t base = (int64_t)i * st[a];
    float fj0 = (float)j0, fk0 = (float)k0;
    if (j1 - j0 <= 1 && k1 - k0 <= 1) {
      /* the common case (footprint <= one voxel in each direction): a fixed 2 x 2 block,
       * branch free; a second row/column outside [j0, j1] / [k0, k1] gets overlap 0 and the
       * index of the first (never out of the image) */
      float ob0 = pet_minf(bhi, fj0 + 1.0f) - pet_maxf(blo, fj0);
      float ob1 = j1 > j0 ? pet_minf(bhi, fj0 + 2.0f) - (fj0 + 1.0f) : 0.0f;
      float oz0 = (pet_minf(zhi, fk0 + 1.0f) - pet_maxf(zlo, fk0)) * scale;
      float oz1 = k1 > k0 ? (pet_minf(zhi, fk0 + 2.0f) - (fk0 + 1.0f)) * scale : 0.0f;
      ob0 = pet_maxf(ob0, 0.0f);
      ob1 = pet_maxf(ob1, 0.0f);
      oz0 = pet_maxf(oz0, 0.0f);
      oz1 = pet_maxf(oz1, 0.0f);
      int64_t i00 = base + (int64_t)k0 * stz + (int64_t)j0 * stb;
      int64_t djb = j1 > j0 ? stb : 0, dkz = k1 > k0 ? stz : 0;
      if (mode == PET_WALK_FWD) {
        sum += oz0 * (ob0 * img_in[i00] + ob1 * img_in[i00 + djb]) +
               oz1 * (ob0 * img_in[i00 + dkz] + ob1 * img_in[i00 + dkz + djb]);
      } else if (mode == PET_WALK_BACK_ATOMIC) {
        pet_atomic_add(&img_out[i00], oz0 * ob0 * bv);
        if (j1 > j0) pet_atomic_add(&img_out[i00 + djb], oz0 * ob1 * bv);
        if (k1 > k0) {
          pet_atomic_add(&img_out[i00 + dkz], oz1 * ob0 * bv);
          if (j1 > j0) pet_atomic_add(&img_out[i00 + dkz + djb], oz1 * ob1 * bv);
        }
      } else if (mode == PET_WALK_BACK_TILE) {
        /* voxel (x, y, z) of (slice i, column j, row k): i is x when a == 0 */
        PET_BACK_TILE_ADD(img_out, i00, a ? j0 : i, a ? i : j0, k0, oz0 * ob0 * bv);
        if (j1 > j0)
          PET_BACK_TILE_ADD(img_out, i00 + djb, a ? j0 + 1 : i, a ? i : j0 + 1, k0,
                            oz0 * ob1 * bv);
        if (k1 > k0) {
          PET_BACK_TILE_ADD(img_out, i00 + dkz, a ? j0 : i, a ? i : j0, k0 + 1,
                            oz1 * ob0 * bv);
          if (j1 > j0)
            PET_BACK_TILE_ADD(img_out, i00 + dkz + djb, a ? j0 + 1 : i, a ? i : j0 + 1, k0 + 1,
                              oz1 * ob1 * bv);
        }
      } else {
        img_out[i00] += oz0 * ob0 * bv;
        img_out[i00 + djb] += oz0 * ob1 * bv;
        img_out[i00 + dkz] += oz1 * ob0 * bv;
        img_out[i00 + dkz + djb] += oz1 * ob1 * bv;
      }
      if (tb && mode == PET_WALK_FWD) {
        pet_tof_bins_add(tb, u, (sum - sum0) * back_val);
        sum = sum0;
      }
      continue;
    }
    for (int32_t k = k0; k <= k1; ++k) {
      float fk = (float)k;
      float ovz = pet_minf(zhi, fk + 1.0f) - pet_maxf(zlo, fk);
      if (!(ovz > 0.0f)) continue;
      float sk = ovz * scale;
      int64_t bk = base + (int64_t)k * stz;
      for (int32_t j = j0; j <= j1; ++j) {
        float fj = (float)j;
        float ovb = pet_minf(bhi, fj + 1.0f) - pet_maxf(blo, fj);
        if (!(ovb > 0.0f)) continue;
        float wv = ovb * sk;
        int64_t idx = bk + (int64_t)j * stb;
        if (mode == PET_WALK_FWD)
          sum += wv * img_in[idx];
        else if (mode == PET_WALK_BACK_ATOMIC)
          pet_atomic_add(&img_out[idx], wv * bv);
        else if (mode == PET_WALK_BACK_TILE)
          PET_BACK_TILE_ADD(img_out, idx, a ? j : i, a ? i : j, k, wv * bv);
        else
          img_out[idx] += wv * bv;
      }
    }
    if (tb && mode == PET_WALK_FWD) {
      pet_tof_bins_add(tb, u, (sum - sum0) * back_val);
      sum = sum0;
    }
  }
  return sum;
}


#if defined(__CUDACC__)
#define PET_DD_CLIPPED __noinline__
#else
#define PET_DD_CLIPPED
#endif

/* The clipped variant, out of line, so that the unclipped walk keeps its registers. */
PET_HD static PET_DD_CLIPPED float pet_dd_lor_clipped(const float *PET_RESTRICT lor, const float *orient,
                                                      float size_trans, float size_z, pet_image_params g,
                                                      const float *PET_RESTRICT img_in, float *img_out,
                                                      float back_val, int mode, const pet_tof_kernel *tof,
                                                      float tof_ps, float fov_r, int centre_box)
{
  return pet_dd_lor_impl(lor, orient, size_trans, size_z, g, img_in, img_out, back_val, mode, tof, tof_ps,
                         fov_r, centre_box, 1, 0);
}

/** DD of one LOR (weights above); the clipping to the FOV cylinder or the centre box only when
 *  asked for (fov_r > 0, centre_box), else today's walk with no clipping code in it. */
PET_HD static PET_WORKER float pet_dd_lor(const float *PET_RESTRICT lor, const float *orient,
                                      float size_trans, float size_z, pet_image_params g,
                                      const float *PET_RESTRICT img_in, float *img_out,
                                      float back_val, int mode, const pet_tof_kernel *tof,
                                      float tof_ps, float fov_r, int centre_box)
{
  if (fov_r > 0.0f || centre_box)
    return pet_dd_lor_clipped(lor, orient, size_trans, size_z, g, img_in, img_out, back_val, mode, tof, tof_ps,
                              fov_r, centre_box);
  return pet_dd_lor_impl(lor, orient, size_trans, size_z, g, img_in, img_out, back_val, mode, tof, tof_ps, 0.0f,
                         0, 0, 0);
}

/** DD of one LOR of a TOF histogram (tb as pet_siddon_ray's: bin t's weights are the DD
 *  weights of slice i times k_t(q_i); forward adds back_val times them into tb->out and
 *  returns 0); clipping as pet_dd_lor. */
PET_HD static PET_WORKER float pet_dd_lor_tofbins(const float *PET_RESTRICT lor, const float *orient,
                                              float size_trans, float size_z, pet_image_params g,
                                              const float *PET_RESTRICT img_in, float *img_out,
                                              float back_val, int mode, float fov_r, int centre_box,
                                              const pet_tof_bins *tb)
{
  return pet_dd_lor_impl(lor, orient, size_trans, size_z, g, img_in, img_out, back_val, mode, 0, 0.0f, fov_r,
                         centre_box, fov_r > 0.0f || centre_box, tb);
}

#endif /* PET_DD_KERNEL_H */
