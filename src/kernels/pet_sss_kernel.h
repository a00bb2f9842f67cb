/* Single scatter simulation (pet_scatter.h) for one sampled detector pair: the sum over the
 * scatter points, non-TOF or into TOF bins. Valid C17 and CUDA C++ (included by the OpenMP
 * driver src/recon/pet_scatter.c and by gpu/pet_gpu_sss.cu). */
#ifndef PET_SSS_KERNEL_H
#define PET_SSS_KERNEL_H

#include <math.h>
#include <stdint.h>

#include "pet_hd.h"

/* Fields of one (scatter point S, sampled detector D) entry: the unit vector S -> D, the
 * distance R_SD (mm), |n_D . u_SD| / R_SD^2 (the solid-angle factor), int_S^D mu ds (511 keV),
 * the emission integral of the whole leg, then those of the leg's pieces (piece k: from S +
 * k/K (D - S) to S + (k+1)/K (D - S)). */
#define PET_SSS_F_UX 0
#define PET_SSS_F_UY 1
#define PET_SSS_F_UZ 2
#define PET_SSS_F_R 3
#define PET_SSS_F_G 4
#define PET_SSS_F_MU 5
#define PET_SSS_F_EMT 6
#define PET_SSS_F_EM 7
/* Cells of the fine offset grid of a TOF estimate (at most). */
#define PET_SSS_FINE_MAX 512

/** What the pair worker reads: tables built by the driver (host or device pointers). */
typedef struct pet_sss_tabs {
  int32_t num_points, num_dets, pieces, nf; /* nf = PET_SSS_F_EM + pieces */
  const float *sd;     /* num_dets x num_points x nf (a detector's points contiguous) */
  const float *pw;     /* num_points: V_S mu_S (mm^2) */
  int32_t n_kn;        /* entries of the cos theta tables over [-1, 1] */
  const float *kn_w;   /* dsigma/dOmega / sigma_T(511) * eps(E') / eps(511) (1/sr) */
  const float *kn_r;   /* sigma_T(E') / sigma_T(511): mu(E') / mu(511) */
  /* TOF (num_tof_bins > 0): the fine offset grid (fine_n cells of fine_h mm from -fine_reach)
   * and its kernel matrix tofw[c * T + t] (bin t's mass of an emission at cell c's centre) */
  int32_t num_tof_bins, fine_n;
  float fine_h, fine_reach;
  const float *tofw;
} pet_sss_tabs;

PET_HD static inline void pet_sss_kn_lookup(const pet_sss_tabs *t, float c, float *w, float *r)
{
  float f = (c + 1.0f) * 0.5f * (float)(t->n_kn - 1);
  f = f < 0.0f ? 0.0f : (f > (float)(t->n_kn - 1) ? (float)(t->n_kn - 1) : f);
  int32_t i = (int32_t)f;
  if (i > t->n_kn - 2) i = t->n_kn - 2;
  float a = f - (float)i;
  *w = t->kn_w[i] + a * (t->kn_w[i + 1] - t->kn_w[i]);
  *r = t->kn_r[i] + a * (t->kn_r[i + 1] - t->kn_r[i]);
}

/* Adds v at offset o (mm) into the fine grid (linear between cell centres). */
PET_HD static inline void pet_sss_fine_add(const pet_sss_tabs *t, float *fine, float o, float v)
{
  float p = (o + t->fine_reach) / t->fine_h - 0.5f;
  if (!(p > -1.0f && p < (float)t->fine_n)) return;
  int32_t i = (int32_t)floorf(p);
  float a = p - (float)i;
  if (i >= 0) fine[i] += v * (1.0f - a);
  if (i + 1 < t->fine_n) fine[i + 1] += v * a;
}

/**
 * The SSS of the sampled pair (a, b), a the first detector: out[0] (non-TOF) or out[0..T-1]
 * (TOF; fine: fine_n floats of scratch), times geom = L_AB^2 / (c_A c_B).
 */
PET_HD static inline void pet_sss_pair(const pet_sss_tabs *t, int32_t a, int32_t b, float geom,
                                       float *fine, float *out)
{
  const int32_t T = t->num_tof_bins, K = t->pieces, nf = t->nf;
  double acc = 0.0;
  if (T > 0)
    for (int32_t c = 0; c < t->fine_n; ++c) fine[c] = 0.0f;
  for (int32_t s = 0; s < t->num_points; ++s) {
    const float *ea = t->sd + ((int64_t)a * t->num_points + s) * nf;
    const float *eb = t->sd + ((int64_t)b * t->num_points + s) * nf;
    float ra = ea[PET_SSS_F_R], rb = eb[PET_SSS_F_R];
    if (!(ra > 0.0f && rb > 0.0f)) continue;
    float cth = -(ea[PET_SSS_F_UX] * eb[PET_SSS_F_UX] + ea[PET_SSS_F_UY] * eb[PET_SSS_F_UY] +
                  ea[PET_SSS_F_UZ] * eb[PET_SSS_F_UZ]);
    float w, r;
    pet_sss_kn_lookup(t, cth, &w, &r);
    float base = t->pw[s] * w * ea[PET_SSS_F_G] * eb[PET_SSS_F_G];
    float ma = ea[PET_SSS_F_MU], mb = eb[PET_SSS_F_MU];
    float att_a = expf(-(ma + r * mb)); /* emission on leg SA: the photon to B scattered */
    float att_b = expf(-(r * ma + mb));
    if (T == 0) {
      acc += (double)(base * (ea[PET_SSS_F_EMT] * att_a + eb[PET_SSS_F_EMT] * att_b));
    } else {
      float o0 = 0.5f * (rb - ra);
      for (int32_t k = 0; k < K; ++k) {
        float xa = ((float)k + 0.5f) * ra / (float)K, xb = ((float)k + 0.5f) * rb / (float)K;
        pet_sss_fine_add(t, fine, o0 + xa, base * att_a * ea[PET_SSS_F_EM + k]);
        pet_sss_fine_add(t, fine, o0 - xb, base * att_b * eb[PET_SSS_F_EM + k]);
      }
    }
  }
  if (T == 0) {
    out[0] = (float)acc * geom;
    return;
  }
  for (int32_t tb = 0; tb < T; ++tb) out[tb] = 0.0f;
  for (int32_t c = 0; c < t->fine_n; ++c) {
    float v = fine[c];
    if (v == 0.0f) continue;
    const float *row = t->tofw + (int64_t)c * T;
    for (int32_t tb = 0; tb < T; ++tb) out[tb] += v * row[tb];
  }
  for (int32_t tb = 0; tb < T; ++tb) out[tb] *= geom;
}

#endif /* PET_SSS_KERNEL_H */
