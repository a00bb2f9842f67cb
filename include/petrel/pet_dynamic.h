/* petrel: dynamic (multi-frame) list-mode reconstruction, the local parts: frame windows over
 * sorted event times, decay correction, the frame-parallel plan, time-activity curves and the
 * BIDS-style sidecar. The collective driver is pet_dyn_recon.h. */
#ifndef PET_DYNAMIC_H
#define PET_DYNAMIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pet_image.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One time frame. Events with t0_ms <= time_ms < t1_ms belong to it: they are events
 *  [first, first + count) of a time-sorted list-mode. */
typedef struct pet_dyn_frame {
  double start_s, duration_s; /* the frame as defined (seconds from the scan start) */
  double factor;              /* dead time x normalisation drift; multiplies the image (1 = none) */
  uint32_t t0_ms, t1_ms;      /* the frame in the list-mode clock: rounded to ms */
  int64_t first, count;       /* its events (set by pet_dyn_find_events_sorted or the caller) */
} pet_dyn_frame;

/**
 * Sets t0_ms/t1_ms from start_s/duration_s (rounded to the nearest ms) and checks the frames:
 * durations > 0, time order, no overlap (so that an event belongs to at most one frame), end
 * within 2^32 ms. Local. Errors: PET_ERR_ARG (NULL, n < 1), PET_ERR_CONFIG (naming the frame).
 */
pet_status pet_dyn_frames_init(pet_dyn_frame *frames, int n);

/**
 * Finds each frame's events in time_ms[0 .. n), which must be sorted ascending (check with
 * pet_listmode_check_sorted first): two binary searches per frame, no scan. *outside (may be
 * NULL) = events in no frame (before, between or after the frames). Local.
 * Errors: PET_ERR_ARG (NULL, n < 0).
 */
pet_status pet_dyn_find_events_sorted(const uint32_t *time_ms, int64_t n, pet_dyn_frame *frames,
                                      int num_frames, int64_t *outside);

/**
 * Decay correction of a frame to the scan start. The frame measures the mean activity over
 * [t0, t0 + d); with lambda = ln 2 / half_life, the factor that takes it to the activity at
 * t = 0 is  lambda d / (exp(-lambda t0) (1 - exp(-lambda d))). half_life_s <= 0: 1 (none).
 * Local.
 */
double pet_dyn_decay_factor(double t0_s, double d_s, double half_life_s);

/** What a frame's OSEM image is multiplied by: factor x decay / duration, so that frames
 *  are in counts per second at the scan start (in the sensitivity's units). Local. */
double pet_dyn_frame_scale(const pet_dyn_frame *f, double half_life_s);

typedef enum pet_dyn_regime {
  PET_DYN_FRAMES_PER_RANK = 0, /* F >= R: rank r does frames r, r+R, ... alone, no reduction */
  PET_DYN_RANKS_PER_FRAME = 1  /* F < R: F groups of consecutive ranks, one frame each */
} pet_dyn_regime;

/** How F frames map onto R ranks, seen from one rank. */
typedef struct pet_dyn_plan {
  int num_frames, num_ranks, rank;
  pet_dyn_regime regime;
  int group;      /* RANKS_PER_FRAME: this rank's frame (= its group); else its rank */
  int group_rank; /* rank within the group (0 in FRAMES_PER_RANK) */
  int group_size; /* ranks in the group (1 in FRAMES_PER_RANK) */
} pet_dyn_plan;

/**
 * The plan for num_frames >= 1 frames over num_ranks >= 1 ranks, seen from `rank`. With more
 * ranks than frames, rank r is in group floor(r F / R): groups of floor(R/F) or ceil(R/F)
 * consecutive ranks. Local. Errors: PET_ERR_ARG.
 */
pet_status pet_dyn_plan_make(int num_frames, int num_ranks, int rank, pet_dyn_plan *p);

/** True if this rank works on frame f. Local. */
bool pet_dyn_plan_has_frame(const pet_dyn_plan *p, int f);

/** One line saying which regime and why ("5 frames over 2 ranks: ..."). Local. */
void pet_dyn_plan_describe(const pet_dyn_plan *p, char *buf, size_t len);

/**
 * Time-activity curves: the mean of each frame over the voxels of each label of `labels`
 * (voxel values rounded to integers; labels > 0 are ROIs, 0 and negatives are ignored). The
 * labels are those present, ascending. Returns ownership of *label_ids (num_labels ints) and
 * *means (num_labels x num_frames, label-major): free with free(). Local.
 * Errors: PET_ERR_ARG (NULL, grids differ, no label > 0), PET_ERR_NOMEM.
 */
pet_status pet_dyn_tac(const pet_image *const *frames, int num_frames, const pet_image *labels,
                       int *num_labels, int32_t **label_ids, double **means);

/** Writes TACs as CSV: a header "frame,start_s,duration_s,mid_s,roi_<id>..." then one row per
 *  frame. Atomic. Local. Errors: PET_ERR_ARG, PET_ERR_IO, PET_ERR_NOMEM. */
pet_status pet_dyn_write_tac_csv(const char *path, const pet_dyn_frame *frames, int num_frames,
                                 int num_labels, const int32_t *label_ids, const double *means);

/** Writes a PNG plot of the TACs against the frame mid-times. Local. */
pet_status pet_dyn_write_tac_png(const char *path, const pet_dyn_frame *frames, int num_frames,
                                 int num_labels, const double *means);

/**
 * Writes the JSON sidecar of a 4D image: BIDS-PET keys FrameTimesStart and FrameDuration
 * (seconds), DecayCorrectionFactor, ImageDecayCorrected, ImageDecayCorrectionTime (0: scan
 * start), RadionuclideHalfLife (when > 0), Units, plus petrel's FrameFactor and
 * FrameEventCounts. Atomic. Local. Errors: PET_ERR_ARG, PET_ERR_IO, PET_ERR_NOMEM.
 */
pet_status pet_dyn_write_sidecar(const char *path, const pet_dyn_frame *frames, int num_frames,
                                 double half_life_s);

struct pet_scanner;
struct pet_histo_layout;
struct pet_listmode;
struct pet_projector_params;

/**
 * Simulated dynamic list-mode: K component images (e.g. background and regions as indicator
 * maps) with activity[k * num_frames + f] in frame f. Each component is projected once; the
 * expected counts of frame f in a bin are c sum_k activity[k,f] (A img_k)[bin] times the decayed
 * integral over the frame, e^{-lambda t0} (1 - e^{-lambda d}) / lambda (d without decay), with
 * c chosen so that all frames together expect total_events; Poisson noise keyed by (seed,
 * frame, bin), events spread evenly over each frame in a keyed random order. Frames may leave
 * gaps. Returns ownership of *lm (time-sorted, no TOF): pet_listmode_destroy. Local.
 * Errors: PET_ERR_ARG, PET_ERR_NOMEM, projector errors.
 */
pet_status pet_dyn_simulate_listmode(const struct pet_scanner *s, const struct pet_histo_layout *L,
                                     const struct pet_projector_params *pp,
                                     const pet_image *const *components, int num_components,
                                     const double *activity, const pet_dyn_frame *frames,
                                     int num_frames, double half_life_s, double total_events,
                                     uint64_t seed, struct pet_listmode **lm);

#ifdef __cplusplus
}
#endif
#endif /* PET_DYNAMIC_H */
