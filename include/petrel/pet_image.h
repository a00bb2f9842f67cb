/* petrel: 3D images (float32, x fastest), Owned or Alias, on the host or a device. */
#ifndef PET_IMAGE_H
#define PET_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pet_status.h"
#include "pet_storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Image geometry as YRT-PET defines it: nx, ny, nz voxels over length_x/y/z mm, the image
 * centre at (off_x, off_y, off_z) mm in the scanner frame. Voxel sizes are length/n; the
 * centre of voxel i along x is (i - (nx-1)/2)*vx + off_x. POD: passed to kernels by value.
 */
typedef struct pet_image_params {
  int32_t nx, ny, nz;
  float length_x, length_y, length_z; /* mm */
  float off_x, off_y, off_z;          /* mm, position of the image centre */
} pet_image_params;

/** Fills params from sizes (offsets 0). Local. */
pet_image_params pet_image_params_make(int32_t nx, int32_t ny, int32_t nz, float length_x,
                                       float length_y, float length_z);
/** PET_OK when every n > 0 and every length is finite and > 0 and offsets finite. Local. */
pet_status pet_image_params_check(const pet_image_params *p);
/** nx*ny*nz. Local. */
int64_t pet_image_params_num_voxels(const pet_image_params *p);
/** True when two params describe the same grid (sizes equal, lengths/offsets within 1e-4 mm). */
bool pet_image_params_equal(const pet_image_params *a, const pet_image_params *b);

typedef struct pet_image {
  pet_image_params params;
  float *data;            /* NULL until allocate()/bind(); data[(z*ny + y)*nx + x] */
  pet_memspace space;     /* where data lives */
  pet_ownership ownership;
} pet_image;

/**
 * Creates image metadata without memory (YRT-PET's `ImageOwned(params)` /
 * `ImageAlias(params)`). Memory comes from pet_image_allocate (Owned) or pet_image_bind
 * (Alias). Returns ownership of *img: free with pet_image_destroy. Local.
 * Errors: PET_ERR_ARG (bad params or NULL out), PET_ERR_NOMEM.
 */
pet_status pet_image_create(pet_image **img, pet_image_params params, pet_ownership ownership,
                            pet_memspace space);
/** Owned: allocates zeroed storage in the image's memory space. PET_ERR_STATE on an Alias. */
pet_status pet_image_allocate(pet_image *img);
/** Alias: binds caller memory (in the image's memory space) that must outlive the binding.
 *  PET_ERR_STATE on an Owned image; PET_ERR_ARG on NULL data. Rebinding is allowed. */
pet_status pet_image_bind(pet_image *img, float *data);
/** create + allocate. */
pet_status pet_image_create_owned(pet_image **img, pet_image_params params, pet_memspace space);
/** create + bind. `data` is borrowed. */
pet_status pet_image_create_alias(pet_image **img, pet_image_params params, float *data,
                                  pet_memspace space);
/** NULL-safe; frees data iff Owned; sets *img = NULL. */
void pet_image_destroy(pet_image **img);

/** PET_OK when img has memory in `space`; otherwise a PET_ERR_STATE naming what is missing. */
pet_status pet_image_require(const pet_image *img, pet_memspace space);
/** Number of voxels. */
int64_t pet_image_num_voxels(const pet_image *img);
/** Sets every voxel (host or device). */
pet_status pet_image_fill(pet_image *img, float value);
/** Copies values between two images of equal params, in any memory spaces. */
pet_status pet_image_copy(pet_image *dst, const pet_image *src);

/**
 * Checks every voxel of a host image: NaN and infinite values are errors, and negative ones
 * unless allow_negative. On the first bad voxel, PET_ERR_ARG with a message naming `what` (the
 * file or field), the voxel (i, j, k) (x, y, z indices, 0-based) and its value. Local.
 */
pet_status pet_image_check_values(const pet_image *img, const char *what, bool allow_negative);

/** What a mu-map in 1/mm may hold at 511 keV: water is 0.0096 /mm, cortical bone ~0.017, steel
 *  ~0.07. Any voxel above PET_MU_MAX_PER_MM, a mean above PET_MU_MEAN_MAX_PER_MM, or a median of
 *  the non-air voxels (above PET_MU_AIR_PER_MM) above PET_MU_TYPICAL_MAX_PER_MM (3x water: what
 *  a map in 1/cm, 0.096 for water, gives even when the body fills little of the grid) is an
 *  error. */
#define PET_MU_MAX_PER_MM 1.0
#define PET_MU_MEAN_MAX_PER_MM 0.05
#define PET_MU_AIR_PER_MM 0.002
#define PET_MU_TYPICAL_MAX_PER_MM 0.03
/**
 * pet_image_check_values (no negatives), then the unit of a mu-map (the limits above):
 * PET_ERR_ARG with a message naming `what` and the unit expected (1/mm). Local.
 */
pet_status pet_image_check_mu(const pet_image *img, const char *what);

/** Voxel sizes in mm. */
static inline float pet_image_vx(const pet_image_params *p) { return p->length_x / (float)p->nx; }
static inline float pet_image_vy(const pet_image_params *p) { return p->length_y / (float)p->ny; }
static inline float pet_image_vz(const pet_image_params *p) { return p->length_z / (float)p->nz; }

#ifdef __cplusplus
}
#endif
#endif /* PET_IMAGE_H */
