/* petrel: simulated acquisitions (histogram and list-mode) of an image, with attenuation,
 * detector normalisation, randoms and Poisson noise; deterministic for a seed. */
#ifndef PET_SIMULATE_H
#define PET_SIMULATE_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_histogram.h"
#include "pet_progress.h"
#include "pet_image.h"
#include "pet_listmode.h"
#include "pet_phantom.h"
#include "pet_projector.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pet_sim_opts {
  uint64_t seed;
  double total_trues;      /* expected true counts (after attenuation and normalisation) */
  float randoms_fraction;  /* expected randoms / expected trues, spread uniformly over bins */
  bool normalisation;      /* random crystal efficiencies in [0.8, 1.2] */
  bool noise;              /* Poisson noise (else the expected values) */
  pet_projector_params proj;
  /* progress and stop of the projections (borrowed, may be NULL): done/total count the bins
   * of both projections (activity, then mu-map); a stop returns PET_ERR_INTERRUPTED (the
   * scatter Monte Carlo polls the stop too, between chunks of 2^22 pairs) */
  const pet_batch_cb *cb;
  /* Monte-Carlo single scatter (pet_scatter_mc), added to the expected counts; needs mu */
  bool scatter;
  int64_t scatter_photons; /* photon pairs emitted (> 0; default 2e7) */
  float energy_lld_kev, energy_uld_kev; /* energy window (default 430, 650 keV) */
  float energy_fwhm_kev;   /* energy resolution FWHM at 511 keV (default 51.1: 10%) */
} pet_sim_opts;

pet_sim_opts pet_sim_opts_default(void);

/** Outputs: every array has num_bins floats, malloc'd, owned by the caller
 *  (pet_sim_result_free). mult = attenuation x normalisation (NULL if neither), add =
 *  randoms per bin (NULL if randoms_fraction == 0). scale: counts per unit of A x.
 *  scatter = expected single-scatter counts per bin (NULL unless o->scatter), already in
 *  counts (which = Poisson(scale A x mult + add + scatter)); scatter_fraction = sum scatter /
 *  (sum scatter + total_trues) (0 without scatter). */
typedef struct pet_sim_result {
  float *counts, *mult, *add, *attenuation, *normalisation;
  float *scatter;
  float *scatter_tof; /* with scatter on a scanner with TOF bins (num_tof_bins, tof_bin_width_ps,
                         tof_fwhm_ps): num_bins x num_tof_bins floats, the scatter by TOF bin
                         (pet_scatter_mc), scaled as scatter; else NULL */
  double scale;
  double scatter_fraction;
} pet_sim_result;

void pet_sim_result_free(pet_sim_result *r);

/** Simulates a histogram of `truth` (mu: attenuation map in 1/mm or NULL; needed with
 *  o->scatter). Errors: PET_ERR_ARG naming the bad field. */
pet_status pet_simulate_histogram(const pet_scanner *s, const pet_histo_layout *L,
                                  const pet_image *truth, const pet_image *mu,
                                  const pet_sim_opts *o, pet_sim_result *out);

/**
 * Monte-Carlo single scatter (src/recon/pet_scatter_mc.c), independent of any scatter
 * estimator. o->scatter_photons photon pairs, pair i drawn from a stream keyed by (o->seed, i)
 * (the result is the same for any thread count): an emission point drawn from `activity`
 * (a voxel by its activity, uniform within it), an isotropic direction, two back-to-back
 * 511 keV photons tracked through `mu` (1/mm at 511 keV; water's energy dependence) with
 * exponential free paths (delta tracking). Every interaction is a Compton scatter (Klein-Nishina
 * angle, E' = E / (1 + E/511 (1 - cos))); at most one interaction in the pair: a second one
 * loses the pair. Each photon then reaches a crystal of the scanner's regular geometry (as
 * pet_simulate_events), its energy blurred by a Gaussian of FWHM energy_fwhm_kev sqrt(E/511)
 * and kept in [energy_lld_kev, energy_uld_kev]; a pair the histogram holds adds 1 to trues[b]
 * (no interaction) or scattered[b] (one scatter), each divided by the pair's geometric
 * efficiency relative to a diametral LOR (|n1.e| |n2.e| (2 rc / D)^2: crystal faces n1, n2,
 * LOR direction e, length D), so that trues is proportional to A x times attenuation as the
 * analytic simulator's trues. trues, scattered: num_bins floats each (overwritten).
 * scattered_tof (NULL: none): the scattered coincidences by TOF bin too, num_bins x the
 * scanner's num_tof_bins floats (TOF fastest, pet_histogram.h's convention), t2 - t1 the photons'
 * path difference (emission, scatter point, crystal centre) / c plus the scanner's TOF blur
 * (truncated at 4 sigma); a time outside the bins is left out of it only. Needs the scanner's
 * num_tof_bins, tof_bin_width_ps and tof_fwhm_ps. info (may be NULL): raw counts, time. Local.
 * Errors: PET_ERR_ARG naming the field (no mu, scatter_photons <= 0, a bad window, negative
 * activity or mu, images not on the host), PET_ERR_UNSUPPORTED (several DOI layers), NOMEM.
 */
typedef struct pet_scatter_mc_info {
  int64_t photons;           /* pairs emitted */
  int64_t trues, scattered;  /* coincidences recorded (raw counts) */
  double seconds, photons_per_s;
} pet_scatter_mc_info;
pet_status pet_scatter_mc(const pet_scanner *s, const pet_histo_layout *L, const pet_image *activity,
                          const pet_image *mu, const pet_sim_opts *o, float *trues, float *scattered,
                          float *scattered_tof, pet_scatter_mc_info *info);

/** Expands histogram counts into list-mode events (each count an event of its bin's
 *  detector pair, no TOF), in a keyed random order, times spread uniformly over
 *  [0, duration_ms). Returns ownership of *lm. */
pet_status pet_simulate_listmode_from_histogram(const pet_histo_layout *L, const float *counts,
                                                uint32_t duration_ms, uint64_t seed,
                                                pet_listmode **lm);

/**
 * Event-by-event list-mode simulation, for scanners too large for a histogram (a total-body
 * one: 1e11 bins) and event counts too large for memory. Each event: a point drawn from the
 * phantom's activity (uniform in its cylinder, kept with probability activity / max), two
 * back-to-back photons in an isotropic direction, the crystal each reaches on the scanner's
 * regular geometry (flat blocks, rings; gaps and the axial ends lose the event); the pair is
 * kept only where the scanner's histogram has a bin for it (pet_histo_pair_valid: ring
 * difference, minimum angle), so binning the events is always possible on small scanners.
 * With tof, tof_ps = t2 - t1 along the LUT's LOR plus a Gaussian blur of the scanner's FWHM,
 * truncated at 4 sigma (so |tof_ps| <= LOR length / c + 4 sigma). No attenuation, scatter,
 * randoms or detector efficiencies. Event i (of num_events) is at time floor(i duration / N)
 * ms: sorted, evenly spread (a constant activity). Every draw of event i comes from a stream
 * keyed by (seed, i): the events are the same for any thread count and any split of [0, N)
 * into calls.
 */
typedef struct pet_event_sim {
  const pet_scanner *scanner; /* borrowed; one DOI layer; ids follow its regular geometry */
  pet_phantom phantom;        /* activity: the cylinder's background and its spheres */
  uint64_t seed;
  int64_t num_events;         /* N >= 0 */
  double duration_s;          /* > 0, at most 2^32 ms */
  bool tof;                   /* sample tof_ps (the scanner needs tof_fwhm_ps > 0) */
} pet_event_sim;

/** Checks a simulation's fields, naming the bad one. Errors: PET_ERR_ARG, PET_ERR_UNSUPPORTED
 *  (several DOI layers). Local. */
pet_status pet_event_sim_check(const pet_event_sim *es);
/** Samples events [first, first + count) of es into t, d1, d2 and (with tof) tof_ps, count
 *  elements each (OpenMP threads). Errors: PET_ERR_ARG (bad range, NULL arrays, a phantom whose
 *  emissions never reach two crystals: the message names the event). */
pet_status pet_simulate_events(const pet_event_sim *es, int64_t first, int64_t count, uint32_t *t, uint32_t *d1,
                               uint32_t *d2, float *tof_ps);
/** All N events in memory. Returns ownership of *lm. */
pet_status pet_simulate_listmode_events(const pet_event_sim *es, pet_listmode **lm);

#define PET_SIM_CHUNK_EVENTS ((int64_t)1 << 22)

typedef struct pet_sim_file_opts {
  int64_t chunk_events;    /* events sampled, then written, at a time: the memory bound (16 bytes an event) */
  int deflate_level;       /* 0 (none) .. 9 */
  uint32_t index_ms;       /* time index windows, 0 = PET_H5_LISTMODE_INDEX_MS */
  const pet_batch_cb *cb;  /* progress in events, and stop (borrowed, may be NULL) */
} pet_sim_file_opts;
/** chunk_events PET_SIM_CHUNK_EVENTS (2^22: 64 MiB of buffers), no compression. */
pet_sim_file_opts pet_sim_file_opts_default(void);

typedef struct pet_sim_file_stats {
  double sample_s, write_s; /* wall time sampling, and appending + closing the file */
  int64_t chunks;           /* pieces sampled and appended */
} pet_sim_file_stats;

/**
 * Writes the N events of es to an HDF5 list-mode file at path (pet_h5.h's layout, time index
 * included; pet_h5_listmode_source_open and the readers take it as any other), chunk_events
 * at a time: sample, append, repeat; never more than one chunk in memory. The same events as
 * pet_simulate_listmode_events. Atomic: nothing at path unless complete. stats may be NULL.
 * Local. Errors: those of pet_simulate_events and pet_h5_lm_writer_*, PET_ERR_INTERRUPTED
 * when cb asks to stop (the temporary file removed).
 */
pet_status pet_simulate_listmode_file(const pet_event_sim *es, const char *path, const pet_sim_file_opts *o,
                                      pet_sim_file_stats *stats);

#ifdef __cplusplus
}
#endif
#endif /* PET_SIMULATE_H */
