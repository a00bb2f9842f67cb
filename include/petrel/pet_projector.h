/* petrel: projection operators (Siddon, multi-ray Siddon, Distance-Driven; TOF optional) over
 * batches of explicit LORs. The per-LOR math lives in pet_*_kernel.h (C17 and CUDA C++);
 * this header is the host (OpenMP) driver API. */
#ifndef PET_PROJECTOR_H
#define PET_PROJECTOR_H

#include <stdint.h>

#include "pet_image.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Speed of light in mm/ps. */
#define PET_SPEED_OF_LIGHT_MM_PS 0.299792458f

typedef enum pet_projector_kind {
  PET_PROJ_SIDDON = 0, /* exact intersection lengths; num_rays > 1 gives multi-ray Siddon */
  PET_PROJ_DD = 1      /* distance-driven footprint overlaps */
} pet_projector_kind;

/** Projector choice and its parameters (YRT-PET's ProjectorParams). POD. */
typedef struct pet_projector_params {
  pet_projector_kind kind;
  int32_t num_rays;           /* Siddon: rays per LOR spread over the crystal faces (1 = plain) */
  float crystal_size_trans;   /* mm: crystal face width (multi-ray spread, DD footprint) */
  float crystal_size_z;       /* mm: crystal face height */
  int32_t tof;                /* 1: weight by the TOF kernel (needs tof_ps in the batch) */
  float tof_fwhm_ps;          /* TOF resolution, FWHM in ps */
  float tof_n_sigmas;         /* kernel truncated at this many sigmas (default 3) */
  int32_t num_threads;        /* host threads, 0 = OpenMP default */
  float fov_radius_mm;        /* > 0: LORs are clipped to the cylinder x^2 + y^2 <= R^2 (the
                                 scanner's transaxial field of view, around the z axis) in every
                                 projector; <= 0 = the whole image box (no cylinder) */
  int32_t dd_centre_box;      /* DD only, 1: clip each LOR to the box spanned by the voxel
                                 centres (YRT-PET's convention: the outermost slices weigh half);
                                 0 = the full image box (default) */
  int32_t num_tof_bins;       /* > 0: a TOF histogram with this many TOF bins per LOR (at most
                                 PET_TOF_BINS_MAX = 64), TOF the fastest axis: the projection of
                                 LOR i, bin t is proj[i * num_tof_bins + t]; needs tof == 0,
                                 tof_fwhm_ps and tof_bin_width_ps; b->tof_ps is not read.
                                 0 = none (default) */
  float tof_bin_width_ps;     /* TOF histogram: width of one TOF bin in ps; the bins are centred
                                 on tof 0 (pet_tof_kernel.h, pet_tof_bins) */
} pet_projector_params;

/** Defaults: Siddon, 1 ray, crystals 4 x 4 mm, no TOF, 3 sigmas, all threads, no FOV
 *  cylinder, DD over the full box. */
pet_projector_params pet_projector_params_default(void);
/** Parses a YRT-PET projector name: "S" / "Siddon", "DD" / "DistanceDriven",
 *  "MRS" / "MultiRaySiddon" (num_rays set to 4 unless already > 1). PET_ERR_ARG otherwise. */
pet_status pet_projector_params_set_name(pet_projector_params *p, const char *name);
/** Checks ranges (num_rays >= 1, sizes > 0, TOF FWHM > 0 when tof, fov_radius_mm finite,
 *  dd_centre_box 0 or 1, num_tof_bins in [0, 64] and then tof 0, FWHM and bin width > 0, ...);
 *  the message names the field. */
pet_status pet_projector_params_check(const pet_projector_params *p);

/**
 * A batch of LORs, all arrays borrowed and in the same memory space.
 * lor: n x 6 floats, the endpoints (x1 y1 z1 x2 y2 z2) in mm, scanner frame.
 * orient: n x 6 floats, outward unit normals of the crystals at each end, or NULL (then the
 *   projectors take the LOR direction as the normal).
 * tof_ps: n floats, t2 - t1 in ps (the emission lies nearer endpoint 1 when positive), or NULL.
 */
typedef struct pet_lor_batch {
  int64_t n;
  const float *lor;
  const float *orient;
  const float *tof_ps;
} pet_lor_batch;

/**
 * Forward projection: proj[i] = sum_v a_iv img[v] for each LOR i of the batch (host memory).
 * a_iv is the intersection length in mm (Siddon), its average over rays (multi-ray), the
 * DD weight, times the TOF kernel when p->tof. Overwrites proj. Local (OpenMP inside).
 * TOF histogram (p->num_tof_bins = T > 0): proj holds n x T values, proj[i T + t] =
 * sum_v a_iv k_t(s_iv) img[v], k_t bin t's kernel at the voxel's point of the LOR (midpoint of
 * the Siddon chord, DD slice centre; pet_tof_bins): the T bins of a LOR sum to its non-TOF
 * projection where they cover the LOR.
 * Errors: PET_ERR_ARG, PET_ERR_STATE (image not allocated/bound or not on the host).
 */
pet_status pet_project_fwd_cpu(const pet_projector_params *p, const pet_lor_batch *b,
                               const pet_image *img, float *proj);
/**
 * Back projection: img[v] += sum_i a_iv proj[i], the exact transpose of pet_project_fwd_cpu
 * (with TOF bins: sum over i and t of a_ivt proj[i T + t]).
 * Accumulates into img (host). Local (OpenMP inside, race free).
 */
pet_status pet_project_back_cpu(const pet_projector_params *p, const pet_lor_batch *b,
                                const float *proj, pet_image *img);

/** How pet_project_back_cpu_with keeps concurrent threads from racing on the image. */
typedef enum pet_back_strategy {
  PET_BACK_AUTO = 0,    /* what pet_project_back_cpu uses: PRIVATE when it fits, else ATOMIC */
  PET_BACK_ATOMIC = 1,  /* every thread adds into the image with atomic adds */
  PET_BACK_PRIVATE = 2  /* thread 0 adds into the image, the others into private zeroed copies
                           (nvox floats each) summed into the image at the end */
} pet_back_strategy;

/**
 * pet_project_back_cpu with a chosen race-avoidance strategy (for benchmarks and tests; the
 * result is the same up to the order of float additions). Local (OpenMP inside).
 * Errors: as pet_project_back_cpu; PET_ERR_NOMEM when PRIVATE cannot get its copies.
 */
pet_status pet_project_back_cpu_with(const pet_projector_params *p, const pet_lor_batch *b,
                                     const float *proj, pet_image *img, pet_back_strategy s);

#ifdef __cplusplus
}
#endif
#endif /* PET_PROJECTOR_H */
