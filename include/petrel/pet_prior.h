/* petrel: priors for regularised (MAP) reconstruction, and the regularised algorithms of the
 * OSEM engine (OSL-MAP, BSREM).
 *
 * Penalties, with STIR's definitions (GibbsPrior: the sum runs over every voxel j and each of
 * its neighbours k, so every pair counts twice):
 *   relative difference (Nuyts et al. 2002):
 *     U(x) = beta sum_j sum_{k in N(j)} w_jk (x_j - x_k)^2 / (x_j + x_k + gamma |x_j - x_k| + epsilon)
 *   quadratic:
 *     U(x) = beta sum_j sum_{k in N(j)} w_jk (x_j - x_k)^2 / 2
 * N(j) is the 3x3x3 neighbourhood of j (26 voxels, cut at the image's faces) and w_jk = vx /
 * |r_j - r_k| (STIR: the x voxel size over the distance in mm; 1 / the distance in voxels for
 * cubic voxels). The gradient is dU/dx_j = 2 beta sum_k w_jk dphi(x_j, x_k)/dx_j. The RDP is
 * defined for x >= 0; a pair whose denominator is not positive contributes 0.
 *
 * The per-voxel math is src/kernels/pet_prior_kernel.h, used by the OpenMP loops here and by
 * the CUDA kernels of the GPU backend. */
#ifndef PET_PRIOR_H
#define PET_PRIOR_H

#include <stdint.h>

#include "pet_image.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pet_prior_kind {
  PET_PRIOR_NONE = 0,     /* "none" */
  PET_PRIOR_RDP = 1,      /* "rdp": relative difference prior */
  PET_PRIOR_QUADRATIC = 2 /* "quadratic" */
} pet_prior_kind;

/** A penalty and its parameters (pet_prior_params_default: none, beta 0, gamma 2, epsilon
 *  1e-7, STIR's defaults). gamma and epsilon are read by the RDP only. */
typedef struct pet_prior_params {
  pet_prior_kind kind;
  float beta;    /* penalisation factor (STIR's "penalisation factor"), >= 0 */
  float gamma;   /* RDP edge preservation, >= 0 */
  float epsilon; /* RDP: keeps the denominator positive where x_j = x_k = 0, >= 0 */
} pet_prior_params;

/** The reconstruction algorithm of the OSEM engine (pet_osem_opts.algorithm). */
typedef enum pet_osem_algorithm {
  PET_OSEM_ALG_OSEM = 0,  /* "osem": no prior */
  PET_OSEM_ALG_OSL = 1,   /* "osl": one-step-late MAP-OSEM (Green 1990) */
  PET_OSEM_ALG_BSREM = 2  /* "bsrem": block sequential regularised EM (De Pierro & Yamagishi 2001) */
} pet_osem_algorithm;

/** Lower bound of the OSL denominator S_s + dU/dx / num_subsets, as a fraction of S_s: where
 *  the prior's gradient is strongly negative the step stays a bounded positive factor. */
#define PET_OSL_MIN_DENOM_FRACTION 0.5f
/** BSREM keeps every voxel at or above this fraction of the image's current maximum (a
 *  multiplicative step can never leave 0). */
#define PET_BSREM_REL_FLOOR 1e-6f

/** Defaults (no prior, STIR's gamma and epsilon). Local. */
pet_prior_params pet_prior_params_default(void);

/** Checks kind, beta, gamma and epsilon (finite, >= 0). Local.
 *  Errors: PET_ERR_ARG (NULL), PET_ERR_CONFIG naming the bad field. */
pet_status pet_prior_params_check(const pet_prior_params *p);

/** "none", "rdp", "quadratic" ("?" for another value). Local. */
const char *pet_prior_kind_name(pet_prior_kind k);
/** Parses a name of pet_prior_kind_name. Local. Errors: PET_ERR_CONFIG (unknown, named). */
pet_status pet_prior_kind_parse(const char *name, pet_prior_kind *k);
/** "osem", "osl", "bsrem". Local. */
const char *pet_osem_algorithm_name(pet_osem_algorithm a);
/** Parses a name of pet_osem_algorithm_name. Local. Errors: PET_ERR_CONFIG (unknown, named). */
pet_status pet_osem_algorithm_parse(const char *name, pet_osem_algorithm *a);

/**
 * U(x) (above), accumulated in double. x: host image. 0 for PET_PRIOR_NONE. Local.
 * Errors: PET_ERR_ARG (NULL, bad parameters), PET_ERR_STATE (no memory bound, not host).
 */
pet_status pet_prior_value(const pet_prior_params *p, const pet_image *x, double *value);

/**
 * grad = dU/dx at every voxel of x (host images on one grid; grad is overwritten, 0 for
 * PET_PRIOR_NONE). OpenMP over slices. Local.
 * Errors: PET_ERR_ARG (NULL, bad parameters, grids differ), PET_ERR_STATE (not host).
 */
pet_status pet_prior_gradient(const pet_prior_params *p, const pet_image *x, pet_image *grad);

/**
 * dU/dx at the voxels of slices [z0, z1) of the whole image x (host), into out: (z1 - z0) *
 * ny * nx floats, x fastest. The slices z0 - 1 and z1 are read where they exist (a slab and
 * its one-slice halo). Local. Errors: PET_ERR_ARG (NULL, bad parameters, range).
 */
pet_status pet_prior_gradient_slab(const pet_prior_params *p, const pet_image *x, int32_t z0, int32_t z1,
                                   float *out);

#ifdef __cplusplus
}
#endif
#endif /* PET_PRIOR_H */
