/* petrel: a histogram bin's detector pair, from the plain tables of pet_histo_layout, for the
 * host (pet_histogram.c: pet_histo_bin_to_dets, pet_histo_get_lors) and the device
 * (gpu/pet_gpu_project.cu: LORs of a batch of bins) alike. Valid C17 and CUDA C++. At the
 * core floor (not src/kernels) because its host caller, pet_histogram.c, is core. */
#ifndef PET_BIN_MAP_H
#define PET_BIN_MAP_H

#include <stdint.h>

#include "pet_hd.h"

/**
 * Detector pair (d1, d2) of histogram bin `bin` (in [0, num_phi * num_r * num_zbin); not
 * checked) from the layout's tables: ring_pairs (num_phi * num_r * 2 in-ring indices),
 * invalid (num_phi * num_r flags), zbin_rings (num_zbin * 2 rings). DOI layers are decoded
 * from r as YRT-PET encodes them (case k = (r % num_doi^2) = doi1 * num_doi + doi2: with
 * two layers r+0 {0,0}, r+1 {0,1}, r+2 {1,0}, r+3 {1,1}). An invalid (phi, r) gives
 * d1 = d2 = 0 (a zero-length LOR at detector 0) and returns 0; a valid bin returns 1. Local.
 */
static inline PET_HD int pet_bin_map_dets(const int32_t *ring_pairs, const uint8_t *invalid,
                                          const int32_t *zbin_rings, int64_t num_phi,
                                          int64_t num_r, int32_t dets_per_ring,
                                          int32_t num_rings, int32_t num_doi, int64_t bin,
                                          int64_t *d1, int64_t *d2)
{
  const int64_t pr = num_phi * num_r;
  const int64_t z = bin / pr;
  const int64_t e = bin % pr; /* phi * num_r + r */
  if (invalid[e]) {
    *d1 = 0;
    *d2 = 0;
    return 0;
  }
  const int64_t doi_poss = (int64_t)num_doi * num_doi;
  const int64_t kase = (e % num_r) % doi_poss;
  const int64_t doi1 = kase / num_doi, doi2 = kase % num_doi;
  const int64_t layer = (int64_t)dets_per_ring * num_rings;
  *d1 = ring_pairs[2 * e] + (int64_t)zbin_rings[2 * z] * dets_per_ring + doi1 * layer;
  *d2 = ring_pairs[2 * e + 1] + (int64_t)zbin_rings[2 * z + 1] * dets_per_ring + doi2 * layer;
  return 1;
}

/**
 * Detector pair (d1, d2) of item k of the symmetric sensitivity pass (pet_sens_sym.h): item
 * k = e * (2 D + 1) + (d + D) is the transaxial pair e (in [0, num_phi * num_r), the (phi, r)
 * of pet_bin_map_dets, DOI layers decoded the same way) at ring difference d = r2 - r1 in
 * [-D, D] on the lowest rings: (r1, r2) = (max(0, -d), max(0, -d) + d), the histogram bin of
 * that z-bin (d1 on ring r1). Every other bin of (e, d) is this LOR translated by whole rings.
 * An invalid e gives d1 = d2 = 0 and returns 0; a valid one returns 1. Local.
 */
static inline PET_HD int pet_bin_map_sym_dets(const int32_t *ring_pairs, const uint8_t *invalid,
                                              int64_t num_r, int32_t dets_per_ring,
                                              int32_t num_rings, int32_t num_doi,
                                              int32_t max_ring_diff, int64_t k, int64_t *d1,
                                              int64_t *d2)
{
  const int64_t nd = 2 * (int64_t)max_ring_diff + 1;
  const int64_t e = k / nd;
  const int64_t d = k % nd - max_ring_diff;
  if (invalid[e]) {
    *d1 = 0;
    *d2 = 0;
    return 0;
  }
  const int64_t doi_poss = (int64_t)num_doi * num_doi;
  const int64_t kase = (e % num_r) % doi_poss;
  const int64_t doi1 = kase / num_doi, doi2 = kase % num_doi;
  const int64_t layer = (int64_t)dets_per_ring * num_rings;
  const int64_t r1 = d < 0 ? -d : 0, r2 = r1 + d;
  *d1 = ring_pairs[2 * e] + r1 * dets_per_ring + doi1 * layer;
  *d2 = ring_pairs[2 * e + 1] + r2 * dets_per_ring + doi2 * layer;
  return 1;
}

#endif /* PET_BIN_MAP_H */
