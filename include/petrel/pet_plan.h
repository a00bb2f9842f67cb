/* petrel: the plan of a reconstruction, one object made once and used by every backend: who
 * projects which items (histogram bins or list-mode events) of which subset, in batches of
 * what size, and which image slab each rank updates. Made from the data size, the subsets,
 * the ranks, the backend's memory per item and its budget (the GPU's free VRAM); printed in
 * the layout line. One rank == N ranks up to float rounding: the plan changes who computes,
 * not what. (Frames of a dynamic study are planned over ranks by pet_dyn_plan_make.) */
#ifndef PET_PLAN_H
#define PET_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_osem_backend.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pet_plan {
  int rank, size;
  bool listmode;        /* items are events (else histogram bins) */
  int32_t subsets;      /* S of the reconstruction */
  int64_t num_items;    /* bins of the layout, or events considered */
  /* this rank's share of subset s (s < subsets): subset-local items [lo[s], hi[s]);
   * list-mode event index = ev_base[s] + item */
  int64_t *lo, *hi, *ev_base;
  /* sensitivity passes: sens_subsets of them (S for a histogram, 1 for list-mode: A^T m over
   * all bins), this rank's histogram items [sens_lo[s], sens_hi[s]) of each */
  int32_t sens_subsets;
  int64_t *sens_lo, *sens_hi;
  int64_t max_share;    /* largest share of any pass, items */
  int64_t batch_items;  /* items per backend batch */
  int64_t bytes_per_item, budget_bytes; /* what the batch size was derived from (0 = none) */
  /* slab update: this rank updates slices [z0, z1) of the image (slab_offset voxels in);
   * slab_counts[r] = voxels of rank r's slab. slab false: every rank updates the whole image. */
  bool slab;
  int32_t z0, z1;
  int64_t slab_offset;
  int64_t *slab_counts;
} pet_plan;

/**
 * Makes the plan of (d, o) on grid g for this rank of o->reducer (NULL = one process).
 * bytes_per_item, budget_bytes: the backend's memory per item and budget (budget 0 = no
 * limit: batches of o->batch_lors, default 2^20); a budget that holds no item is an error
 * naming --vram-budget. The slab update is planned when o->slab_update, more than one rank,
 * a reducer that offers it, and no PSF (the blur crosses slabs). Free with pet_plan_free.
 */
pet_status pet_plan_make(pet_plan *p, const pet_osem_data *d, const pet_osem_opts *o,
                         const pet_image_params *g, int64_t bytes_per_item, int64_t budget_bytes);
void pet_plan_free(pet_plan *p);
/** One line: ranks, items, subsets, share and batches per rank, slab. */
void pet_plan_describe(const pet_plan *p, char *buf, size_t len);

/** The contiguous range of histogram bins that rank `rank` of `size` projects in every
 *  subset (whole z-bins): what that rank must read of a histogram and its corrections. */
void pet_plan_rank_bins(const pet_histo_layout *L, int rank, int size, int64_t *first, int64_t *count);
/** The events of subset s of S (of num_events, relative to the first event considered) that
 *  rank `rank` of `size` projects. */
void pet_plan_rank_events(int64_t num_events, int32_t S, int32_t s, int rank, int size,
                          int64_t *first, int64_t *count);
/** The z-slices [*z0, *z1) of an nz-slice image that rank `rank` of `size` updates with the
 *  slab update (consecutive, as equal as possible; empty when nz < size for some ranks). */
void pet_plan_rank_slab(int32_t nz, int rank, int size, int32_t *z0, int32_t *z1);

#ifdef __cplusplus
}
#endif
#endif /* PET_PLAN_H */
