/* petrel: the scanner's cylindrical transaxial field of view (YRT-PET reconstructs only inside
 * it): the radius a scanner gives its projectors, and the image-space mask. */
#ifndef PET_FOV_H
#define PET_FOV_H

#include "pet_image.h"
#include "pet_projector.h"
#include "pet_scanner.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The FOV radius (mm) of a scanner: its fov_radius (JSON "fovRadius") when given (> 0), else
 * its scanner_radius (the block faces: every LOR between two detectors lies inside, so only
 * image corners beyond the detectors are cut). Local.
 */
float pet_scanner_fov_radius(const pet_scanner_params *sp);

/** Sets p->fov_radius_mm = pet_scanner_fov_radius(sp). Local. */
void pet_projector_params_set_fov(pet_projector_params *p, const pet_scanner_params *sp);

/**
 * Zeroes the voxels whose centre lies outside the cylinder x^2 + y^2 <= radius^2 (mm, scanner
 * frame: the image centre is at (off_x, off_y)), as YRT-PET does to its images; the others are
 * left as they are. radius <= 0: nothing to do. The reconstruction calls it on the sensitivity
 * (or the image) when projecting with fov_radius_mm > 0, so voxels outside the cylinder, which
 * Siddon/DD clipped to it only partly reach, stay 0. Host or device image (a device image
 * goes through a host copy). Local.
 * Errors: PET_ERR_ARG (NULL, NaN radius), PET_ERR_STATE (no memory bound), PET_ERR_NOMEM.
 */
pet_status pet_image_mask_fov(pet_image *img, float radius);

#ifdef __cplusplus
}
#endif
#endif /* PET_FOV_H */
