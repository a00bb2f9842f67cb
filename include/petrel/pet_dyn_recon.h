/* petrel: frame-parallel dynamic reconstruction over ranks (collective). The local parts
 * (frames, decay, plan, TACs) are in pet_dynamic.h. */
#ifndef PET_DYN_RECON_H
#define PET_DYN_RECON_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_comm.h"
#include "pet_dynamic.h"
#include "pet_osem.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Where a rank gets the events of a frame. load fills d->listmode, d->lm_first, d->lm_count
 * (d is a copy of the template, corrections set) with at least the events this rank projects
 * (pet_plan_rank_events of the frame over its group); what it points to stays owned by the
 * source until release(ctx, frame) (may be NULL). Called only for frames of this rank.
 */
typedef struct pet_dyn_source {
  pet_status (*load)(void *ctx, int frame, pet_osem_data *d);
  void (*release)(void *ctx, int frame);
  void *ctx;
} pet_dyn_source;

typedef struct pet_dyn_opts {
  const pet_dyn_frame *frames; /* num_frames frames, events found (first, count) */
  int num_frames;
  double half_life_s;          /* <= 0: no decay correction */
  /* > 0: the template's per-bin additive term (randoms + scatter, counts) covers this many
   * seconds; a frame gets add x duration / add_duration_s. 0: used as given in every frame */
  double add_duration_s;
  /* called on rank 0 of each group after each of its frames (may be NULL) */
  void (*on_frame)(void *ctx, int frame, int64_t events, double seconds);
  void *cb_ctx;
} pet_dyn_opts;

/**
 * Reconstructs every frame with OSEM (opts->iterations x subsets, x = 1 at the start) and
 * scales it by pet_dyn_frame_scale (factor x decay / duration). The plan (pet_dyn_plan_make
 * over comm) decides who does what: frames >= ranks, each rank does its frames alone
 * (opts->reducer ignored, none used); ranks > frames, comm is split into one group per frame
 * and each group's reducer sums that frame's backprojections. At the end the frames are summed
 * over comm from each group's rank 0, so every rank holds every frame: out[f] (num_frames host
 * images of sens[0]'s grid, created by the caller) are overwritten. sens: the list-mode
 * sensitivity (one image, A^T m over all bins), computed once by the caller and shared by all
 * frames; without sens, each rank (group) computes it on its first frame (with the backend of
 * o: on the GPU when o->gpu) and reuses it.
 * plan_out may be NULL. Collective on comm.
 * Errors: PET_ERR_ARG, PET_ERR_NOMEM, PET_ERR_MPI, and any of load's or OSEM's, agreed over comm.
 */
pet_status pet_dyn_reconstruct(pet_comm *comm, const pet_osem_data *tmpl, const pet_osem_opts *o,
                               pet_image *const *sens, const pet_dyn_opts *dy, const pet_dyn_source *src,
                               pet_image *const *out, pet_dyn_plan *plan_out);

#ifdef __cplusplus
}
#endif
#endif /* PET_DYN_RECON_H */
