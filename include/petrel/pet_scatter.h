/* petrel: scatter estimation by single scatter simulation (SSS; Watson 2000, TOF: Watson
 * 2007) from an emission image and a mu-map, scaled to the data's tails (Ollinger 1996).
 *
 * The estimate of a histogram bin (detector pair A, B) is, in the projector's units (a true
 * count of the bin is m * sum_v a_v x_v with the chord lengths a_v in mm; m the bin's
 * multiplicative factor), the single-scatter integral over the scatter points S:
 *
 *   sss_AB = L_AB^2 / (c_A c_B) * sum_S V_S mu_S (1/sigma_T(511)) dsigma_KN/dOmega(theta)
 *            * (eps(E') / eps(511)) * (c_AS / R_AS^2) (c_BS / R_BS^2)
 *            * (I_A exp(-(M_A + r(E') M_B)) + I_B exp(-(r(E') M_A + M_B)))
 *
 * with V_S mu_S the scatter point's cell volume times its mean mu (511 keV), theta the
 * scattering angle (cos theta = -u_SA . u_SB), E' = 511 / (2 - cos theta) keV, I_X = int_S^X
 * lambda ds and M_X = int_S^X mu ds (Siddon line integrals on the image and mu-map grids),
 * r(E) = sigma_T(E) / sigma_T(511) (mu at E scaled from 511 keV by the Klein-Nishina total
 * cross-section: Compton-dominated media such as water and soft tissue), eps the energy
 * window's efficiency (a Gaussian energy resolution whose FWHM grows as sqrt(E)), c_XS =
 * |n_X . u_SX| and c_X = |n_X . u_AB| the cosines at the detector faces and L_AB the LOR's
 * length: Watson's per-pair SSS divided by the same pair's geometric efficiency for trues
 * (sigma_A sigma_B eps(511)^2 / (4 pi L_AB^2)), so that the detector area, the 4 pi and the
 * crystal efficiencies cancel and the bin's scatter is m_norm * scale * sss_AB, m_norm the
 * bin's normalisation (the scatter sees the crystals' efficiencies as the trues do).
 *
 * TOF: each leg's emission is split into PET_SSS_LEG_PIECES pieces; a piece at distance x from
 * S on leg SA is measured at the offset (t2 - t1) c / 2 = x + (R_SB - R_SA) / 2 (leg SB: -x +
 * (R_SB - R_SA) / 2) from the LOR's midpoint, with A the bin's first detector, and spread over
 * the TOF bins by the scanner's TOF kernel (pet_tof_bins' convention), so the TOF bins of a
 * bin sum to its non-TOF estimate wherever the bins cover the offsets.
 *
 * The integral is evaluated on a sample of detectors (every det_step-th crystal of a block and
 * the block's last, ring_samples rings spread over the axial FOV) and interpolated to every bin
 * quadrilinearly in (angle of A, angle of B, ring of A, ring of B): linear in each crystal's
 * angle between the two samples around it (periodic), and in the ring index between the two
 * sampled rings around it; then times the bin's own L^2 / (c_A c_B).
 */
#ifndef PET_SCATTER_H
#define PET_SCATTER_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_reducer.h"
#include "pet_scanner.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Energy window and resolution used when neither the options nor the scanner give them. */
#define PET_SSS_DEFAULT_LLD_KEV 430.0f
#define PET_SSS_DEFAULT_ULD_KEV 650.0f
#define PET_SSS_DEFAULT_FWHM_KEV 51.1f /* 10% at 511 keV */
/* Emission pieces per leg for the TOF offsets. */
#define PET_SSS_LEG_PIECES 4

typedef struct pet_sss_opts {
  float scatter_step_mm;  /* spacing of the scatter-point cells (each axis; at least a voxel);
                             0 = 20 mm */
  float mu_threshold;     /* a cell is a scatter point when its mean mu (1/mm) exceeds this;
                             0 = 0.003 (a third of water) */
  int32_t det_step;       /* transaxial detector sample: in every block its crystals 0,
                             det_step, 2 det_step, ... and its last one (no interpolation across
                             the gap between blocks), or every det_step-th crystal of a ring
                             without blocks; 0 = 4 */
  int32_t ring_samples;   /* rings sampled (first and last included); 0 = min(num_rings, 8) */
  float energy_lld_kev, energy_uld_kev, energy_fwhm_kev; /* 0 = the scanner's (energy_lld_kev,
                             fwhm_kev), else PET_SSS_DEFAULT_* */
  int32_t num_tof_bins;   /* > 0: a TOF estimate, T values per bin (TOF fastest) */
  float tof_bin_width_ps, tof_fwhm_ps; /* with num_tof_bins */
  float tail_mu_max;      /* tail bins: int mu along the LOR below this; 0 = 0.01 */
  bool gpu;               /* evaluate the detector-pair sums on the current CUDA device */
} pet_sss_opts;

/** Zero options (every default). Local. */
pet_sss_opts pet_sss_opts_default(void);

/** Klein-Nishina differential cross-section dsigma/dOmega at energy e_kev and cos theta, in
 *  units of r_e^2 per steradian. Local. */
double pet_kn_dsigma_domega(double e_kev, double cos_theta);
/** Klein-Nishina total cross-section at e_kev (analytic), in units of r_e^2. Local. */
double pet_kn_sigma_total(double e_kev);
/** Efficiency of the window [lld, uld] keV for a photon of e_kev with a Gaussian energy
 *  resolution of FWHM fwhm_511 * sqrt(e / 511) keV. Local. */
double pet_sss_window_eff(double e_kev, float lld, float uld, float fwhm_511);

/** What an estimate did (may be NULL in the calls below). */
typedef struct pet_sss_info {
  int64_t scatter_points, det_samples, pairs, bins, tail_bins;
  int32_t det_step, ring_samples;
  float lld_kev, uld_kev, fwhm_kev;
  double scale;      /* the tail fit's scale (pet_scatter_estimate) */
  double seconds;    /* wall time of the SSS itself */
  double seconds_tables, seconds_pairs; /* of which: points and line integrals; pair sums */
} pet_sss_info;

/**
 * The unscaled SSS (the formula above) of the bins [bfirst, bfirst + bcount) of the scanner's
 * histogram: out holds bcount values, or bcount x num_tof_bins (TOF fastest) for a TOF
 * estimate. lambda: the emission image; mu: the mu-map (1/mm at 511 keV); host images, any
 * grids. Invalid bins get 0. Local (each rank calls it for its own bins).
 * Errors: PET_ERR_ARG (NULL, bad options, bins out of range, no scatter point: the mu-map has
 * no cell above mu_threshold), PET_ERR_UNSUPPORTED (opts->gpu in a build without CUDA),
 * PET_ERR_NOMEM, PET_ERR_CUDA.
 */
pet_status pet_sss_simulate(const pet_scanner *s, const pet_histo_layout *L, const pet_image *lambda,
                            const pet_image *mu, const pet_sss_opts *opts, int64_t bfirst,
                            int64_t bcount, float *out, pet_sss_info *info);

/**
 * Ollinger's tail fit: the tail bins are those with int mu < opts->tail_mu_max (mu_int: the
 * line integral of mu per bin of [bfirst, bfirst + bcount); NULL: computed here from mu) and a
 * normalisation > 0; scale = sum_tails (y - r) / sum_tails (n sss), clamped at 0, where y are
 * the counts (per TOF bin when T > 0: T values a bin, summed), r the randoms (one per bin, NULL
 * = 0), n the normalisation (NULL = 1), sss the unscaled estimate (T values a bin when T > 0).
 * The sums go through the reducer (NULL: one process), so N ranks give 1 rank's scale.
 * Collective on red. Errors: PET_ERR_ARG (no tail bin on any rank: the mu-map covers every
 * LOR, the message says so; the estimate is 0 in every tail bin).
 */
pet_status pet_scatter_tail_fit(const pet_scanner *s, const pet_histo_layout *L, const pet_image *mu,
                                const pet_sss_opts *opts, int64_t bfirst, int64_t bcount,
                                int32_t T, const float *y, const float *randoms, const float *norm,
                                const float *mu_int, const float *sss, const pet_reducer *red,
                                double *scale, int64_t *tail_bins);

/**
 * One scatter estimate, ready for the additive term: pet_sss_simulate, then the tail fit,
 * then out[i] = scale * n_i * sss_i (n: norm, NULL = 1). Arguments as above; out has bcount x
 * max(1, opts->num_tof_bins) floats. Collective on red.
 */
pet_status pet_scatter_estimate(const pet_scanner *s, const pet_histo_layout *L,
                                const pet_image *lambda, const pet_image *mu,
                                const pet_sss_opts *opts, int64_t bfirst, int64_t bcount,
                                const float *y, const float *randoms, const float *norm,
                                const float *mu_int, const pet_reducer *red, float *out,
                                pet_sss_info *info);

/** The line integral of mu (1/mm) along every bin of [bfirst, bfirst + bcount) (Siddon, host,
 *  OpenMP): the tail mask's input. Local. */
pet_status pet_sss_mu_integrals(const pet_scanner *s, const pet_histo_layout *L, const pet_image *mu,
                                int64_t bfirst, int64_t bcount, float *out);

#ifdef __cplusplus
}
#endif
#endif /* PET_SCATTER_H */
