/* petrel (internal to src/recon): the sensitivity image A^T 1 of a regular scanner from its
 * axial shift symmetry, without visiting every bin.
 *
 * Every ring of a regular scanner has the same transaxial detectors, its rings are one pitch p
 * apart, and the histogram holds every (transaxial pair e) x (ring pair (r1, r2) with
 * |r2 - r1| <= D). Without per-bin factors, the bins (e, r1 + k, r2 + k) are the LOR (e, r1, r2)
 * translated by k p along z. So only the LORs on the lowest rings (one per (e, d = r2 - r1):
 * num_phi * num_r * (2 D + 1) of them, pet_bin_map_sym_dets) are back-projected, into a fine
 * grid B with the image's x / y voxels and z voxels of p / m (ring centres on voxel centres,
 * ring 0 at fine index 0); the translated copies are then added exactly on that grid. With
 * R rings, (e, d) has R - |d| copies; the copies beyond the scanner (k >= R - |d|) are the
 * LOR set whose highest ring is 0 translated by R p, which is the z-mirror of B about ring 0
 * (orientations have no z part). Hence
 *     S(j) = sum_{k >= 0} X(j - k m),   X(j) = B(j) - B(R m - j),
 * one pass over the fine grid (a strided running sum), and S is resampled to the image's z
 * voxels by overlap (box) integration. Siddon chord lengths are additive under the refinement,
 * so the only approximation is that last resampling, which is exact where the image's z planes
 * are fine planes (tests/test_sens_symmetric.c measures it against the brute force).
 */
#ifndef PET_SENS_SYM_H
#define PET_SENS_SYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pet_osem.h"

/** Default fine z voxels per ring pitch: the smallest even m whose fine voxel is at most a
 *  quarter of the image's z voxel (at least 2, at most 16; 6 on the total-body grid). */
int32_t pet_sens_sym_default_refine(float ring_pitch_mm, float voxel_z_mm);

/** The fine z voxels per ring pitch the pass uses on image grid g: o->sens_z_refine when > 0,
 *  else the smallest m <= 16 whose fine planes hold g's z planes (the fold is then exact),
 *  else the default. 0 for a scanner that is not regular. Local. */
int32_t pet_sens_sym_refine(const pet_scanner *s, const pet_osem_opts *o, const pet_image_params *g);

/**
 * True when the symmetric pass gives A^T 1 of (d, o) for nsens sensitivity images with backend
 * ops: one image, no per-bin factors (mult), no det_mask, no TOF histogram, not forced off
 * (o->sens_brute, PET_SENS_BRUTE=1), a backend that offers sens_sym, a projector without
 * DD's centre box (which depends on the grid's z extent), the layout's z-bins exactly every
 * ring pair within max_ring_diff, at least 2 rings and a LUT whose rings repeat ring 0's
 * detectors (x, y and normals equal, normals without z, ring centres one uniform pitch apart).
 * Otherwise false, with the first reason in why (may be NULL). Local.
 */
bool pet_sens_sym_applies(const pet_osem_data *d, const pet_osem_opts *o, const pet_osem_backend_ops *ops,
                          int32_t nsens, char *why, size_t len);

/**
 * out = A^T 1 by the symmetric pass (no PSF, no FOV mask: the caller's), out an image of the
 * backend's space on the reconstruction grid. This rank back-projects its share of the items,
 * the fine image is summed over o->reducer, every rank folds it. should_stop is polled between
 * chunks (the same number on every rank): PET_ERR_INTERRUPTED when it says so. *lors (may be
 * NULL) = LORs this rank back-projected. Collective on o->reducer.
 */
pet_status pet_sens_sym_compute(const pet_osem_backend_ops *ops, void *be, const pet_osem_data *d,
                                const pet_osem_opts *o, pet_image *out, int64_t *lors);

/** Chunks between should_stop polls of a sensitivity pass (both) over total items split over
 *  size ranks: the largest share in pieces of 16 host batches of opts, so that every rank
 *  polls as often. Local. */
int64_t pet_sens_poll_chunks(const pet_osem_opts *o, int64_t total, int64_t size);

#endif /* PET_SENS_SYM_H */
