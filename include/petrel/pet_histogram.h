/* petrel: YRT-PET's fully-3D histogram (Histogram3D), its bin <-> detector-pair mapping,
 * OSEM subsets over it, and LOR generation for batches of bins. */
#ifndef PET_HISTOGRAM_H
#define PET_HISTOGRAM_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_hd.h"
#include "pet_image.h"
#include "pet_scanner.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The bin layout: shape (num_zbin, num_phi, num_r), r fastest,
 * bin = (z_bin * num_phi + phi) * num_r + r. Tables as in ../shared/formats/yrtpet.md.
 */
typedef struct pet_histo_layout {
  int64_t num_r, num_phi, num_zbin, num_bins;
  int32_t dets_per_ring, num_rings, num_doi;
  int32_t *ring_pairs; /* num_phi * num_r * 2: in-ring indices (d1, d2) of (phi, r); owned */
  uint8_t *invalid;    /* num_phi * num_r: 1 where (phi, r) is not an allowed pair; owned */
  int32_t *zbin_rings; /* num_zbin * 2: rings (z1, z2) of each z-bin; owned */
} pet_histo_layout;

/** Builds the layout of a scanner (YRT-PET's tables). Returns ownership. */
pet_status pet_histo_layout_create(pet_histo_layout **L, const pet_scanner *s);
void pet_histo_layout_destroy(pet_histo_layout **L);

/** The most bins a histogram (or any per-bin array) may have: 2^34, 64 GiB of float32. The
 *  clinical scanner has 4e7; a total-body one (pet_scanner_params_total_body) 1.04e11. */
#define PET_HISTO_MAX_BINS ((int64_t)1 << 34)
/**
 * Refuses an array of bytes_per_bin bytes per bin of L (what names it in the message: "the
 * histogram", "normalisation") when L has more than PET_HISTO_MAX_BINS bins, instead of
 * trying to allocate terabytes. The layout itself (its tables grow with rings^2 and
 * dets_per_ring^2, not with the bins) is fine for any scanner. Local.
 * Errors: PET_ERR_UNSUPPORTED, with the bin count and the size it would take.
 */
pet_status pet_histo_layout_check_array(const pet_histo_layout *L, size_t bytes_per_bin, const char *what);

/**
 * Detector pair of a bin (DOI layers included as YRT-PET encodes them in r).
 * Invalid (phi, r) bins give d1 == d2 (a zero-length LOR) and *valid = false.
 * PET_ERR_ARG when bin is out of [0, num_bins).
 */
pet_status pet_histo_bin_to_dets(const pet_histo_layout *L, int64_t bin, int32_t *d1,
                                 int32_t *d2, bool *valid);
/** Bin of a detector pair (either order). PET_ERR_ARG for out-of-range ids or a pair that
 *  the scanner does not histogram (same ring index, too small angle, ring difference). */
pet_status pet_histo_dets_to_bin(const pet_histo_layout *L, int32_t d1, int32_t d2,
                                 int64_t *bin);

/** True when detectors d1 and d2 (either order, ids < the scanner's num_dets) have a bin in
 *  the scanner's histogram, as pet_histo_dets_to_bin decides (different in-ring indices, at
 *  most max_ring_diff rings apart, min_ang_diff), without a layout and without logging an
 *  error: for samplers that keep only the LORs a histogram holds. Local. */
bool pet_histo_pair_valid(const pet_scanner_params *p, int32_t d1, int32_t d2);

/** Number of bins in subset s of S (subset s takes phi = s, s+S, ...; all r, all z-bins). */
static inline PET_HD int64_t pet_histo_subset_size(int64_t num_phi, int64_t num_r,
                                                   int64_t num_zbin, int32_t S, int32_t s)
{
  int64_t nphi = (num_phi - s + S - 1) / S;
  return nphi * num_r * num_zbin;
}
/** k-th bin (0 <= k < subset size) of subset s of S, in z-bin, phi, r order. */
static inline PET_HD int64_t pet_histo_subset_bin(int64_t num_phi, int64_t num_r,
                                                  int64_t num_zbin, int32_t S, int32_t s,
                                                  int64_t k)
{
  int64_t nphi = (num_phi - s + S - 1) / S;
  int64_t r = k % num_r;
  int64_t t = k / num_r;
  int64_t phi = s + (t % nphi) * S;
  int64_t z = t / nphi;
  (void)num_zbin;
  return (z * num_phi + phi) * num_r + r;
}

/** Histogram3D: one float per bin, or num_tof_bins floats per bin for a TOF histogram (TOF
 *  the fastest axis: data[bin * num_tof_bins + t], so one LOR's TOF bins are adjacent). Owned
 *  (allocate) or Alias (bind), host or device. */
typedef struct pet_histogram {
  const pet_scanner *scanner; /* borrowed: must outlive the histogram */
  pet_histo_layout *layout;   /* owned */
  float *data;                /* NULL until allocate()/bind() */
  pet_ownership ownership;
  pet_memspace space;
  int32_t num_tof_bins;       /* 0: no TOF (one value per bin); T >= 1: T TOF bins per bin */
  float tof_bin_width_ps;     /* TOF histogram: the width of one TOF bin (ps) */
} pet_histogram;

pet_status pet_histogram_create(pet_histogram **h, const pet_scanner *s, pet_ownership own,
                                pet_memspace space);
pet_status pet_histogram_allocate(pet_histogram *h);            /* Owned only; zeroed */
pet_status pet_histogram_bind(pet_histogram *h, float *data);   /* Alias only; borrowed */
pet_status pet_histogram_create_owned(pet_histogram **h, const pet_scanner *s);  /* host */
pet_status pet_histogram_create_alias(pet_histogram **h, const pet_scanner *s, float *data);
void pet_histogram_destroy(pet_histogram **h);
/** PET_ERR_STATE naming allocate()/bind() when there is no memory. */
pet_status pet_histogram_require(const pet_histogram *h);
int64_t pet_histogram_num_bins(const pet_histogram *h);
/**
 * Makes h a TOF histogram of num_tof_bins bins of width_ps each per geometric bin (0, 0: no
 * TOF), before allocate()/bind(). Local. Errors: PET_ERR_ARG naming the field (num_tof_bins
 * outside [0, 64], width not > 0 with bins), PET_ERR_STATE when h already has memory.
 */
pet_status pet_histogram_set_tof_bins(pet_histogram *h, int32_t num_tof_bins, float width_ps);
/** Floats of h's data: num_bins x max(1, num_tof_bins). */
int64_t pet_histogram_num_values(const pet_histogram *h);
/**
 * Adds n list-mode events (detector pairs d1, d2; tof_ps = t2 - t1 per event) to h (host):
 * each adds 1 to its bin, and in a TOF histogram to its TOF bin t = floor(tof / w + T / 2)
 * (pet_tof_bins' convention), with the time negated when the bin's detector pair is (d2, d1),
 * since a bin's LOR runs from its first detector. Events whose pair the histogram does not
 * hold, or whose time falls outside the T bins, are counted in *skipped (may be NULL). Local.
 * Errors: PET_ERR_ARG (NULL arrays; tof_ps NULL for a TOF histogram), PET_ERR_STATE.
 */
pet_status pet_histogram_add_events(pet_histogram *h, const uint32_t *d1, const uint32_t *d2,
                                    const float *tof_ps, int64_t n, int64_t *skipped);
/** Sets every bin (YRT-PET's clearProjections(v)). */
pet_status pet_histogram_fill(pet_histogram *h, float value);

/**
 * Input validation of measured data. pet_histogram_read_yrt reads raw: any float32 value is
 * accepted, so that a file always round-trips and tools can inspect broken data. Counts fed
 * to a reconstruction must be finite and >= 0 (a NaN or Inf bin poisons every voxel it
 * touches; a negative bin makes the MLEM ratio negative), so the reconstruction calls this
 * and refuses such data, naming the file and the first bad bin (the message here names the
 * bin, its (z_bin, phi, r) and its value; the caller adds the file).
 * *n_bad (may be NULL) = number of NaN, infinite or negative bins; *first_bad (may be NULL) =
 * the lowest such bin, -1 when none. Host histograms only. -0.0 is not negative.
 * Errors: PET_ERR_ARG when n_bad > 0; PET_ERR_STATE (no memory, or device memory).
 */
pet_status pet_histogram_validate(const pet_histogram *h, int64_t *n_bad, int64_t *first_bad);

/**
 * Endpoints and crystal normals of `count` bins (host): for k in [0, count), bin =
 * bins[k] (if bins != NULL) or first + k. lor: count x 6 (x1 y1 z1 x2 y2 z2, mm, LUT
 * positions of d1 and d2), orient: count x 6 or NULL. Invalid bins give a zero-length LOR.
 */
pet_status pet_histo_get_lors(const pet_histo_layout *L, const pet_scanner *s,
                              const int64_t *bins, int64_t first, int64_t count, float *lor,
                              float *orient);
/** Same for `count` bins of subset s of S starting at the k0-th bin of the subset. */
pet_status pet_histo_get_subset_lors(const pet_histo_layout *L, const pet_scanner *s,
                                     int32_t num_subsets, int32_t subset, int64_t k0,
                                     int64_t count, float *lor, float *orient);

#ifdef __cplusplus
}
#endif
#endif /* PET_HISTOGRAM_H */
