/* petrel: analytic phantoms, Poisson sampling and image-quality metrics for simulations. */
#ifndef PET_PHANTOM_H
#define PET_PHANTOM_H

#include <stdint.h>

#include "pet_image.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PET_PHANTOM_MAX_SPHERES 8

typedef struct pet_sphere {
  float x, y, z, radius; /* mm */
  float value;           /* activity (hot > background, cold = 0) */
} pet_sphere;

/** A water cylinder along z with spheres inside. Activity = background inside the cylinder,
 *  replaced by the sphere's value inside a sphere. */
typedef struct pet_phantom {
  float cyl_radius, cyl_half_length; /* mm */
  float background;                  /* activity inside the cylinder */
  float mu_per_mm;                   /* linear attenuation inside the cylinder (water 0.0096) */
  int32_t num_spheres;
  pet_sphere spheres[PET_PHANTOM_MAX_SPHERES];
} pet_phantom;

/** A cylinder filling 70% of the image's transaxial extent, 4:1 hot spheres and a cold one,
 *  sized to the image. */
pet_phantom pet_phantom_default(const pet_image_params *p);
/** Activity at a point (mm): what pet_phantom_activity averages over a voxel. Local. */
float pet_phantom_activity_at(const pet_phantom *ph, float x, float y, float z);
/** Rasterises activity (ss^3 sub-samples per voxel, partial-volume averaged) into img. */
pet_status pet_phantom_activity(const pet_phantom *ph, pet_image *img, int ss);
/** Rasterises the attenuation map (1/mm). */
pet_status pet_phantom_mu(const pet_phantom *ph, pet_image *img, int ss);

/** Poisson sample of the given mean from a stream keyed by (seed, index): the same value for
 *  any thread or rank count. Means above 1e3 use the normal approximation. */
float pet_poisson_sample(uint64_t seed, uint64_t index, double mean);
/** Uniform [0,1) keyed by (seed, index). */
double pet_uniform_keyed(uint64_t seed, uint64_t index);

/** Image-quality metrics of a reconstruction against the phantom. */
typedef struct pet_phantom_metrics {
  double rmse_rel;          /* ||x - truth|| / ||truth|| inside the cylinder */
  double crc_hot[PET_PHANTOM_MAX_SPHERES];  /* contrast recovery per sphere (hot and cold) */
  double bkg_mean, bkg_cv;  /* background mean and coefficient of variation */
} pet_phantom_metrics;
/** Metrics; spheres are measured inside 0.7 x their radius, background in a ring. */
pet_status pet_phantom_metrics_compute(const pet_phantom *ph, const pet_image *truth,
                                       const pet_image *x, pet_phantom_metrics *m);

#ifdef __cplusplus
}
#endif
#endif /* PET_PHANTOM_H */
