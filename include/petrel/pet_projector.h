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
} pet_projector_params;

/** Defaults: Siddon, 1 ray, crystals 4 x 4 mm, no TOF, 3 sigmas, all threads. */
pet_projector_params pet_projector_params_default(void);
/** Parses a YRT-PET projector name: "S" / "Siddon", "DD" / "DistanceDriven",
 *  "MRS" / "MultiRaySiddon" (num_rays set to 4 unless already > 1). PET_ERR_ARG otherwise. */
pet_status pet_projector_params_set_name(pet_projector_params *p, const char *name);
/** Checks ranges (num_rays >= 1, sizes > 0, TOF FWHM > 0 when tof, ...). */
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
 * Errors: PET_ERR_ARG, PET_ERR_STATE (image not allocated/bound or not on the host).
 */
pet_status pet_project_fwd_cpu(const pet_projector_params *p, const pet_lor_batch *b,
                               const pet_image *img, float *proj);
/**
 * Back projection: img[v] += sum_i a_iv proj[i], the exact transpose of pet_project_fwd_cpu.
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
