/* Siddon and multi-ray Siddon for one LOR: forward and back projection, optional TOF.
 * Valid C17 and CUDA C++ (included by the OpenMP driver and by gpu/ kernels). */
#ifndef PET_SIDDON_KERNEL_H
#define PET_SIDDON_KERNEL_H

#include <math.h>
#include <stdint.h>

#include "pet_atomic.h"
#include "pet_hd.h"
#include "pet_image.h"
#include "pet_tof_kernel.h"

/* What a walker does with each (voxel, weight): the forward sum or one of two back updates. */
#define PET_WALK_FWD 0         /* return sum_v a_v img[v] */
#define PET_WALK_BACK_ATOMIC 1 /* img[v] += a_v val, atomically (shared image) */
#define PET_WALK_BACK_PLAIN 2  /* img[v] += a_v val, plain store (private image) */
#define PET_WALK_BACK_TILE 3   /* img[v] += a_v val through PET_BACK_TILE_ADD (pet_atomic.h) */

/* A direction component below this (mm, over the whole LOR) counts as parallel to the axis. */
#define PET_SIDDON_PARALLEL_EPS 1e-6f
/* "Never": the next crossing along an axis the LOR does not move along. */
#define PET_SIDDON_BIG 1e30f

/* min/max/floor for the inner loops. fminf/fmaxf have NaN rules that x86 minss lacks, so
 * without -ffast-math gcc calls libm for them (and for floorf without SSE4.1): ~10x slower.
 * These compile to minss/maxss and cvttss2si; inputs here are finite. */
PET_HD static inline float pet_minf(float a, float b) { return a < b ? a : b; }
PET_HD static inline float pet_maxf(float a, float b) { return a > b ? a : b; }
/* floor(x) as an int for |x| < 2^31 */
PET_HD static inline int32_t pet_floori(float x)
{
  int32_t i = (int32_t)x;
  return i - (x < (float)i);
}

/* Clips [amin, amax] to the slab b0 < p + a d < b1 of one axis; 0 when the LOR misses it.
 * A LOR parallel to the axis must lie strictly inside the slab (one on a face misses). */
PET_HD static inline int pet_siddon_clip_axis(float p, float d, float b0, float b1, float *amin,
                                              float *amax)
{
  if (fabsf(d) < PET_SIDDON_PARALLEL_EPS) return p > b0 && p < b1;
  float id = 1.0f / d;
  float a0 = (b0 - p) * id;
  float a1 = (b1 - p) * id;
  *amin = pet_maxf(*amin, pet_minf(a0, a1));
  *amax = pet_minf(*amax, pet_maxf(a0, a1));
  return 1;
}

/* Start of the incremental walk along one axis: the voxel index at alpha = a0 (point p + a0 d),
 * the alpha of its next boundary crossing, the alpha step per voxel, the number of voxels left
 * before leaving the image (the walk stops when it reaches 0) and the direction (+1/-1). */
PET_HD static inline void pet_siddon_axis_start(float p, float d, float b0, float v, int32_t n,
                                                float a0, int32_t *i, float *a_next,
                                                float *a_step, int32_t *left, int32_t *dir)
{
  float pos = p + a0 * d;
  float f = pet_minf(pet_maxf((pos - b0) / v, -1.0f), (float)n);
  int32_t k = pet_floori(f);
  k = k < 0 ? 0 : (k > n - 1 ? n - 1 : k);
  *i = k;
  if (fabsf(d) < PET_SIDDON_PARALLEL_EPS) {
    *a_next = PET_SIDDON_BIG;
    *a_step = 0.0f;
    *left = 0x7fffffff;
    *dir = 0;
    return;
  }
  float id = 1.0f / d;
  if (d > 0.0f) {
    *a_next = (b0 + (float)(k + 1) * v - p) * id;
    *left = n - k;
    *dir = 1;
  } else {
    *a_next = (b0 + (float)k * v - p) * id;
    *left = k + 1;
    *dir = -1;
  }
  /* rounding may put the first crossing a hair before the entry: it is then a zero step */
  *a_next = pet_maxf(*a_next, a0);
  *a_step = v * fabsf(id);
}

/* Tie rule. A LOR whose coordinate along one axis stays, at both endpoints, within
 * PET_SIDDON_TIE_TOL voxels of the same voxel plane k runs along that plane (it is parallel to
 * it and on it up to float rounding): which of the two rows k-1, k a walk would take is then
 * decided by rounding (and differs between CPU, GPU and endpoint orders). Such a LOR gives
 * each row half of its weights instead: the mean of the LORs displaced by +eps and -eps, the
 * limit of the projector from both sides. On an edge (tied along two axes) each of the four
 * voxels gets a quarter; a row outside the image gets nothing (so a LOR on a face of the image
 * gets half its chord). Tolerance: 1e-4 voxel is 4e-4 mm on a 4 mm grid, ~13 float ulps of a
 * coordinate of 431 mm (ulp 3e-5 mm; LUT positions from cos/sin carry a few ulps), so the
 * rounding noise of real scanner LORs is caught; and it is far below any physical offset (a
 * crystal is ~4 mm), so only LORs meant to lie on the plane are affected. The tests' cases 5e-4
 * voxel inside/outside a face still walk as plain LORs. */
#define PET_SIDDON_TIE_TOL 1e-4f

/* The plane k in [0, n] when both endpoint coordinates f1, f2 (voxel units from the image's
 * lower face along one axis) lie within PET_SIDDON_TIE_TOL of it, else -1. Symmetric in
 * (f1, f2): both within tol of k means both round to k. */
PET_HD static inline int32_t pet_siddon_tie_plane(float f1, float f2, int32_t n)
{
  if (!(f1 > -1.0f && f1 < (float)n + 1.0f)) return -1; /* also NaN; keeps the int in range */
  int32_t k = pet_floori(f1 + 0.5f);
  if (k < 0 || k > n) return -1;
  float fk = (float)k;
  return fabsf(f1 - fk) <= PET_SIDDON_TIE_TOL && fabsf(f2 - fk) <= PET_SIDDON_TIE_TOL ? k : -1;
}

/* Clips [amin, amax] to the part of the line (x, y) + a (dx, dy) inside the cylinder
 * x^2 + y^2 < r^2 around the z axis; 0 when the line misses it or only touches it. The roots
 * are taken around the point of closest approach (no cancellation in b^2 - 4ac). Local. */
PET_HD static inline int pet_fov_clip(float x, float y, float dx, float dy, float r, float *amin,
                                      float *amax)
{
  /* in double: once per LOR, and a LOR nearly tangent to the cylinder has r^2 - h^2 of a few
   * ulps, where float rounding (and the GPU's fused multiply-adds) would decide its chord */
  double r2 = (double)r * r;
  double a2 = (double)dx * dx + (double)dy * dy;
  if (a2 < (double)PET_SIDDON_PARALLEL_EPS * PET_SIDDON_PARALLEL_EPS) return (double)x * x + (double)y * y < r2;
  double ac = -((double)x * dx + (double)y * dy) / a2;
  double qx = x + ac * dx, qy = y + ac * dy;
  double h2 = qx * qx + qy * qy;
  if (!(h2 < r2)) return 0;
  double half = sqrt((r2 - h2) / a2);
  *amin = pet_maxf(*amin, (float)(ac - half));
  *amax = pet_minf(*amax, (float)(ac + half));
  return 1;
}

/* The walk itself (Jacobs' incremental form) along the segment, clipped to the image box and,
 * with fov_r > 0, to the FOV cylinder; no tie rule (pet_siddon_ray adds it). tb != NULL: the
 * TOF bins of a TOF histogram (tof is then NULL; every caller but the TOF-histogram ones passes
 * a literal 0, so their inlined walks hold no code of that path). */
PET_HD static PET_WORKER float pet_siddon_walk(float x1, float y1, float z1, float x2, float y2,
                                          float z2, pet_image_params g,
                                          const float *PET_RESTRICT img_in, float *img_out,
                                          float back_val, int mode, const pet_tof_kernel *tof,
                                          float tof_ps, float fov_r, const pet_tof_bins *tb)
{
  float dx = x2 - x1, dy = y2 - y1, dz = z2 - z1;
  float len = sqrtf(dx * dx + dy * dy + dz * dz);
  if (!(len > 0.0f)) return 0.0f;

  float vx = g.length_x / (float)g.nx, vy = g.length_y / (float)g.ny;
  float vz = g.length_z / (float)g.nz;
  float bx = g.off_x - 0.5f * g.length_x, by = g.off_y - 0.5f * g.length_y;
  float bz = g.off_z - 0.5f * g.length_z;

  float amin = 0.0f, amax = 1.0f;
  if (!pet_siddon_clip_axis(x1, dx, bx, bx + g.length_x, &amin, &amax)) return 0.0f;
  if (!pet_siddon_clip_axis(y1, dy, by, by + g.length_y, &amin, &amax)) return 0.0f;
  if (!pet_siddon_clip_axis(z1, dz, bz, bz + g.length_z, &amin, &amax)) return 0.0f;
  if (fov_r > 0.0f && !pet_fov_clip(x1, y1, dx, dy, fov_r, &amin, &amax)) return 0.0f;
  float tc = 0.0f;
  if (tof) {
    tc = pet_tof_centre_mm(len, tof_ps);
    float ilen = 1.0f / len;
    amin = pet_maxf(amin, (tc - tof->half_width_mm) * ilen);
    amax = pet_minf(amax, (tc + tof->half_width_mm) * ilen);
  }
  if (tb) {
    float reach = pet_tof_bins_reach_mm(tb), ilen = 1.0f / len;
    amin = pet_maxf(amin, (0.5f * len - reach) * ilen);
    amax = pet_minf(amax, (0.5f * len + reach) * ilen);
  }
  if (!(amax > amin)) return 0.0f;

  int32_t ix, iy, iz, cx, cy, cz, sx, sy, sz;
  float ax, ay, az, dax, day, daz;
  pet_siddon_axis_start(x1, dx, bx, vx, g.nx, amin, &ix, &ax, &dax, &cx, &sx);
  pet_siddon_axis_start(y1, dy, by, vy, g.ny, amin, &iy, &ay, &day, &cy, &sy);
  pet_siddon_axis_start(z1, dz, bz, vz, g.nz, amin, &iz, &az, &daz, &cz, &sz);
  int64_t nx = g.nx, nxy = (int64_t)g.nx * g.ny;
  int64_t idx = ((int64_t)iz * g.ny + iy) * nx + ix;
  int64_t stx = sx, sty = (int64_t)sy * nx, stz = (int64_t)sz * nxy;

  float acur = amin, sum = 0.0f;
  if (tb) {
    /* TOF histogram: a segment's weight for bin t is its chord (mm) times the bin's kernel at
     * the segment's midpoint, so the bins of a segment sum to its chord wherever they cover
     * it. Forward adds into tb->out scaled by back_val (the callers' ray and tie scales). */
    const float ibm = 1.0f / tb->bin_mm, half_n = 0.5f * (float)tb->n;
    for (;;) {
      float a = pet_minf(ax, pet_minf(ay, az));
      float ae = pet_minf(a, amax);
      float w = (ae - acur) * len;
      if (w > 0.0f) {
        float u = (0.5f - 0.5f * (acur + ae)) * len * ibm + half_n;
        if (mode == PET_WALK_FWD) {
          pet_tof_bins_add(tb, u, w * back_val * img_in[idx]);
        } else {
          float v = w * back_val * pet_tof_bins_dot(tb, u);
          if (mode == PET_WALK_BACK_ATOMIC)
            pet_atomic_add(&img_out[idx], v);
          else if (mode == PET_WALK_BACK_TILE)
            PET_BACK_TILE_ADD(img_out, idx, ix, iy, iz, v);
          else
            img_out[idx] += v;
        }
      }
      if (a >= amax) break;
      acur = a;
      if (a == ax) {
        ax += dax;
        idx += stx;
        ix += sx;
        if (--cx == 0) break;
      } else if (a == ay) {
        ay += day;
        idx += sty;
        iy += sy;
        if (--cy == 0) break;
      } else {
        az += daz;
        idx += stz;
        iz += sz;
        if (--cz == 0) break;
      }
    }
    return 0.0f;
  }
  if (!tof) {
    /* The counters stop the walk at the image boundary (never out of bounds, whatever the
     * rounding) and amax stops it inside the image. A branch-free (select) step measured
     * 3x slower here than this branchy one: its loop-carried chain is longer than the cost
     * of the mispredicted axis choices. */
    float bval = back_val * len;
    for (;;) {
      float a = pet_minf(ax, pet_minf(ay, az));
      float w = pet_minf(a, amax) - acur;
      if (mode == PET_WALK_FWD) {
        sum += w * img_in[idx];
      } else if (mode == PET_WALK_BACK_ATOMIC) {
        pet_atomic_add(&img_out[idx], w * bval);
      } else if (mode == PET_WALK_BACK_TILE) {
        PET_BACK_TILE_ADD(img_out, idx, ix, iy, iz, w * bval);
      } else {
        img_out[idx] += w * bval;
      }
      if (a >= amax) break;
      acur = a;
      if (a == ax) {
        ax += dax;
        idx += stx;
        ix += sx;
        if (--cx == 0) break;
      } else if (a == ay) {
        ay += day;
        idx += sty;
        iy += sy;
        if (--cy == 0) break;
      } else {
        az += daz;
        idx += stz;
        iz += sz;
        if (--cz == 0) break;
      }
    }
    return sum * len;
  }
  /* TOF: the weight of a segment is the kernel's mass over it (cdf difference) */
  float cprev = pet_tof_cdf(tof, amin * len - tc);
  for (;;) {
    float a = pet_minf(ax, pet_minf(ay, az));
    float c = pet_tof_cdf(tof, pet_minf(a, amax) * len - tc);
    float w = c - cprev;
    cprev = c;
    if (mode == PET_WALK_FWD) {
      sum += w * img_in[idx];
    } else if (mode == PET_WALK_BACK_ATOMIC) {
      pet_atomic_add(&img_out[idx], w * back_val);
    } else if (mode == PET_WALK_BACK_TILE) {
      PET_BACK_TILE_ADD(img_out, idx, ix, iy, iz, w * back_val);
    } else {
      img_out[idx] += w * back_val;
    }
    if (a >= amax) break;
    if (a == ax) {
      ax += dax;
      idx += stx;
      ix += sx;
      if (--cx == 0) break;
    } else if (a == ay) {
      ay += day;
      idx += sty;
      iy += sy;
      if (--cy == 0) break;
    } else {
      az += daz;
      idx += stz;
      iz += sz;
      if (--cz == 0) break;
    }
  }
  return sum;
}


/**
 * Siddon (Jacobs' incremental form) along the segment (x1,y1,z1) -> (x2,y2,z2), mm.
 * Weights: a_v = exact intersection length (mm) of the segment with voxel v of the box
 * geometry g; with tof != NULL, a_v = the TOF kernel's mass over that intersection (its
 * integral, i.e. the kernel averaged over the segment times its length), the kernel centred
 * at pet_tof_centre_mm(|p2 - p1|, tof_ps) from p1 and the walk limited to its support.
 * fov_r > 0: the segment is first clipped to the cylinder x^2 + y^2 <= fov_r^2 (pet_fov_clip).
 * A segment lying on a voxel plane (pet_siddon_tie_plane) splits its weights equally between
 * the rows on both sides (the tie rule above; decided once per LOR from its endpoints, so the
 * same in both directions).
 * mode PET_WALK_FWD returns sum_v a_v img_in[v]; the back modes add a_v * back_val to
 * img_out[v] and return 0. A zero-length segment or one that misses the image gives 0.
 * tb != NULL (TOF histogram, tof NULL): the weights of bin t are a_v k_t(s_v), s_v the midpoint
 * of the intersection with voxel v (pet_tof_bins); forward adds back_val sum_v a_v k_t(s_v)
 * img_in[v] to tb->out[t] and returns 0, back adds a_v back_val sum_t k_t(s_v) tb->in[t].
 */
PET_HD static PET_WORKER float pet_siddon_ray(float x1, float y1, float z1, float x2, float y2,
                                          float z2, pet_image_params g,
                                          const float *PET_RESTRICT img_in, float *img_out,
                                          float back_val, int mode, const pet_tof_kernel *tof,
                                          float tof_ps, float fov_r, const pet_tof_bins *tb)
{
  /* an axis can be tied only if the LOR moves less than 2 tolerances along it: that test is a
   * compare (no division), and only the rare axes that pass it get the plane test */
  const float lim = 2.5f * PET_SIDDON_TIE_TOL;
  const float bx = g.off_x - 0.5f * g.length_x, by = g.off_y - 0.5f * g.length_y;
  const float bz = g.off_z - 0.5f * g.length_z;
  const float vx = g.length_x / (float)g.nx, vy = g.length_y / (float)g.ny, vz = g.length_z / (float)g.nz;
  int32_t tx = -1, ty = -1, tz = -1;
  if (fabsf(x2 - x1) * (float)g.nx <= lim * g.length_x)
    tx = pet_siddon_tie_plane((x1 - bx) * ((float)g.nx / g.length_x), (x2 - bx) * ((float)g.nx / g.length_x), g.nx);
  if (fabsf(y2 - y1) * (float)g.ny <= lim * g.length_y)
    ty = pet_siddon_tie_plane((y1 - by) * ((float)g.ny / g.length_y), (y2 - by) * ((float)g.ny / g.length_y), g.ny);
  if (fabsf(z2 - z1) * (float)g.nz <= lim * g.length_z)
    tz = pet_siddon_tie_plane((z1 - bz) * ((float)g.nz / g.length_z), (z2 - bz) * ((float)g.nz / g.length_z), g.nz);
  /* The tie rule: the mean of the walks of the segment moved, parallel to each tied plane, to
   * the centre of the row on either side (exactly parallel there, so it stays in that row, with
   * the chords of the other axes unchanged); a row outside the image gives nothing. One call
   * site of the walk for tied and untied LORs alike (an untied LOR is the single combination,
   * with scale 1, so bitwise the plain walk): a second inlined copy of the walk for the rare
   * tied LORs cost the GPU kernels 30-70% (registers and instruction cache; bench/RESULTS.md). */
  const int ntie = (tx >= 0) + (ty >= 0) + (tz >= 0);
  const int ncomb = 1 << ntie;
  const float scale = 1.0f / (float)ncomb; /* exact: 1, 1/2, 1/4, 1/8 */
  float total = 0.0f;
  for (int c = 0; c < ncomb; ++c) {
    float ax1 = x1, ay1 = y1, az1 = z1, ax2 = x2, ay2 = y2, az2 = z2;
    int bit = 0;
    if (tx >= 0) ax1 = ax2 = bx + ((float)(tx - 1 + ((c >> bit++) & 1)) + 0.5f) * vx;
    if (ty >= 0) ay1 = ay2 = by + ((float)(ty - 1 + ((c >> bit++) & 1)) + 0.5f) * vy;
    if (tz >= 0) az1 = az2 = bz + ((float)(tz - 1 + ((c >> bit++) & 1)) + 0.5f) * vz;
    total += pet_siddon_walk(ax1, ay1, az1, ax2, ay2, az2, g, img_in, img_out, back_val * scale, mode, tof,
                             tof_ps, fov_r, tb);
  }
  return total * scale;
}

/** Siddon forward projection of one LOR (lor: x1 y1 z1 x2 y2 z2, mm); tof may be NULL; no
 *  FOV cylinder. */
PET_HD static inline float pet_siddon_fwd_lor(const float *PET_RESTRICT lor, pet_image_params g,
                                              const float *PET_RESTRICT img,
                                              const pet_tof_kernel *tof, float tof_ps)
{
  return pet_siddon_ray(lor[0], lor[1], lor[2], lor[3], lor[4], lor[5], g, img, 0, 0.0f,
                        PET_WALK_FWD, tof, tof_ps, 0.0f, 0);
}

/** Siddon back projection of one LOR: img[v] += a_v * val. mode: PET_WALK_BACK_*. */
PET_HD static inline void pet_siddon_back_lor(const float *PET_RESTRICT lor, pet_image_params g,
                                              float val, float *img, int mode,
                                              const pet_tof_kernel *tof, float tof_ps)
{
  pet_siddon_ray(lor[0], lor[1], lor[2], lor[3], lor[4], lor[5], g, 0, img, val, mode, tof,
                 tof_ps, 0.0f, 0);
}

/**
 * Unit vectors spanning a crystal face of outward normal n (need not be unit): u along
 * z x n (transaxial, width direction) and v = n x u (axial, height direction). A normal
 * along z takes u = x. Local.
 */
PET_HD static inline void pet_crystal_face_axes(float nx, float ny, float nz, float *u, float *v)
{
  float nn = sqrtf(nx * nx + ny * ny + nz * nz);
  if (nn > 0.0f) {
    nx /= nn;
    ny /= nn;
    nz /= nn;
  }
  float ux = -ny, uy = nx;
  float un = sqrtf(ux * ux + uy * uy);
  if (un < 1e-6f) {
    ux = 1.0f;
    uy = 0.0f;
  } else {
    ux /= un;
    uy /= un;
  }
  u[0] = ux;
  u[1] = uy;
  u[2] = 0.0f;
  /* v = n x u with u_z = 0 */
  v[0] = -nz * uy;
  v[1] = nz * ux;
  v[2] = nx * uy - ny * ux;
}

/**
 * Endpoints of ray r of num_rays of a multi-ray Siddon LOR. Each end moves within its crystal
 * face (the plane through the endpoint perpendicular to the crystal normal: orient[0..2] at
 * end 1, orient[3..5] at end 2, or the LOR direction when orient == NULL), by s * size_trans
 * along u and t * size_z along v (pet_crystal_face_axes), with s, t in (-1/2, 1/2) from a fixed
 * pattern (no random numbers, so forward and back are exact transposes and CPU == GPU):
 *   end 1: s = (r + 1/2)/R - 1/2,          t = frac((r + 1/2) g1) - 1/2, g1 = 0.6180339887
 *   end 2: s = frac((r + 1/2) g2) - 1/2,   t = (R - r - 1/2)/R - 1/2,    g2 = 0.7548776662
 * i.e. stratified in one coordinate and a golden-ratio lattice in the other, with different
 * pairings at the two ends so that the rays also spread in angle. out: x1 y1 z1 x2 y2 z2.
 */
/** The face axes of both ends of a multi-ray LOR (pet_mrs_ray): axes = u1 v1 u2 v2. Local. */
PET_HD static inline void pet_mrs_face_axes(const float *PET_RESTRICT lor, const float *orient,
                                            float *PET_RESTRICT axes)
{
  for (int e = 0; e < 2; ++e) {
    float nx, ny, nz;
    if (orient) {
      nx = orient[3 * e];
      ny = orient[3 * e + 1];
      nz = orient[3 * e + 2];
    } else {
      nx = lor[3] - lor[0];
      ny = lor[4] - lor[1];
      nz = lor[5] - lor[2];
    }
    pet_crystal_face_axes(nx, ny, nz, axes + 6 * e, axes + 6 * e + 3);
  }
}

/** Ray r of pet_mrs_ray from the face axes of pet_mrs_face_axes (shared by the rays). Local. */
PET_HD static inline void pet_mrs_ray_from_axes(const float *PET_RESTRICT lor,
                                                const float *PET_RESTRICT axes, int32_t r,
                                                int32_t num_rays, float size_trans,
                                                float size_z, float *PET_RESTRICT out)
{
  float inv_r = 1.0f / (float)num_rays;
  float h = (float)r + 0.5f;
  float s1 = h * inv_r - 0.5f;
  float t1 = h * 0.6180339887f;
  t1 = t1 - floorf(t1) - 0.5f;
  float s2 = h * 0.7548776662f;
  s2 = s2 - floorf(s2) - 0.5f;
  float t2 = ((float)(num_rays - r) - 0.5f) * inv_r - 0.5f;
  for (int e = 0; e < 2; ++e) {
    const float *u = axes + 6 * e, *v = axes + 6 * e + 3;
    float s = (e == 0 ? s1 : s2) * size_trans;
    float t = (e == 0 ? t1 : t2) * size_z;
    for (int c = 0; c < 3; ++c) out[3 * e + c] = lor[3 * e + c] + s * u[c] + t * v[c];
  }
}

PET_HD static inline void pet_mrs_ray(const float *PET_RESTRICT lor, const float *orient,
                                      int32_t r, int32_t num_rays, float size_trans,
                                      float size_z, float *PET_RESTRICT out)
{
  float axes[12];
  pet_mrs_face_axes(lor, orient, axes);
  pet_mrs_ray_from_axes(lor, axes, r, num_rays, size_trans, size_z, out);
}

/**
 * Multi-ray Siddon: the average over num_rays rays (pet_mrs_ray) of the Siddon weights.
 * num_rays == 1 is plain Siddon on the LOR itself (bit for bit). mode and fov_r as
 * pet_siddon_ray (each ray is clipped to the cylinder and follows the tie rule on its own);
 * tb as pet_siddon_ray (each ray's bins are placed by its own length).
 */
PET_HD static PET_WORKER float pet_mrs_lor(const float *PET_RESTRICT lor, const float *orient,
                                       int32_t num_rays, float size_trans, float size_z,
                                       pet_image_params g, const float *PET_RESTRICT img_in,
                                       float *img_out, float back_val, int mode,
                                       const pet_tof_kernel *tof, float tof_ps, float fov_r,
                                       const pet_tof_bins *tb)
{
  if (num_rays <= 1)
    return pet_siddon_ray(lor[0], lor[1], lor[2], lor[3], lor[4], lor[5], g, img_in, img_out,
                          back_val, mode, tof, tof_ps, fov_r, tb);
  float inv_r = 1.0f / (float)num_rays;
  float ray[6], axes[12];
  float sum = 0.0f;
  pet_mrs_face_axes(lor, orient, axes);
  for (int32_t r = 0; r < num_rays; ++r) {
    pet_mrs_ray_from_axes(lor, axes, r, num_rays, size_trans, size_z, ray);
    sum += pet_siddon_ray(ray[0], ray[1], ray[2], ray[3], ray[4], ray[5], g, img_in, img_out,
                          back_val * inv_r, mode, tof, tof_ps, fov_r, tb);
  }
  return sum * inv_r;
}

#endif /* PET_SIDDON_KERNEL_H */
