/* petrel: list-mode data (time, d1, d2, optional TOF), Owned or Alias, structure of arrays. */
#ifndef PET_LISTMODE_H
#define PET_LISTMODE_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_image.h"
#include "pet_scanner.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pet_listmode {
  int64_t num_events;
  bool has_tof;
  uint32_t *time_ms; /* NULL until allocate()/bind() */
  uint32_t *d1, *d2;
  float *tof_ps;     /* t2 - t1 (ps) when has_tof, else NULL */
  pet_ownership ownership;
} pet_listmode;

pet_status pet_listmode_create(pet_listmode **lm, int64_t num_events, bool has_tof,
                               pet_ownership own);
pet_status pet_listmode_allocate(pet_listmode *lm); /* Owned only */
/** Alias only: binds caller arrays (tof_ps required iff has_tof); borrowed. */
pet_status pet_listmode_bind(pet_listmode *lm, uint32_t *time_ms, uint32_t *d1, uint32_t *d2,
                             float *tof_ps);
pet_status pet_listmode_create_owned(pet_listmode **lm, int64_t num_events, bool has_tof);
void pet_listmode_destroy(pet_listmode **lm);
pet_status pet_listmode_require(const pet_listmode *lm);
/** Every detector id < num_dets, else PET_ERR_ARG naming the first bad event. */
pet_status pet_listmode_check(const pet_listmode *lm, const pet_scanner *s);
/**
 * Input validation of list-mode data. pet_listmode_read_yrt checks the detector ids against
 * the scanner (an id out of range would index outside the LUT), but not the times: YRT-PET
 * does not require them sorted and a static reconstruction is right either way (subsets are
 * contiguous chunks, any order gives the same sums). Time framing (dynamic frames, a time
 * window) assumes non-decreasing times, so whatever frames by time calls this first and
 * refuses unsorted data, naming the file and the event.
 * *first_bad (may be NULL) = the first event i with time_ms[i] < time_ms[i-1], -1 when sorted.
 * Errors: PET_ERR_ARG when unsorted (the message names the event and both times);
 * PET_ERR_STATE when there is no memory.
 */
pet_status pet_listmode_check_sorted(const pet_listmode *lm, int64_t *first_bad);

/**
 * A list-mode that is read in pieces instead of held in memory (a file larger than the host's
 * RAM, streamed through OSEM): num_events events, with TOF when has_tof; read() fills
 * d1[0 .. count), d2[0 .. count) and, when has_tof, tof_ps[0 .. count) with the events
 * [first, first + count) (0 <= first, first + count <= num_events) and returns PET_OK or an
 * error naming the source. read() may be called from a thread other than the caller's, but
 * never twice at once. pet_h5_listmode_source() makes one over an HDF5 list-mode file.
 */
typedef struct pet_lm_source {
  int64_t num_events;
  bool has_tof;
  pet_status (*read)(void *ctx, int64_t first, int64_t count, uint32_t *d1, uint32_t *d2, float *tof_ps);
  void *ctx;
  const char *name; /* for messages (e.g. the file's path) */
} pet_lm_source;

/** Events [begin, end) of subset s of S: contiguous chunks in time order (as YRT-PET). */
void pet_listmode_subset_range(int64_t num_events, int32_t num_subsets, int32_t subset,
                               int64_t *begin, int64_t *end);
/** Endpoints/normals (count x 6 each, orient may be NULL) and TOF (count, may be NULL) of
 *  events [first, first + count). */
pet_status pet_listmode_get_lors(const pet_listmode *lm, const pet_scanner *s, int64_t first,
                                 int64_t count, float *lor, float *orient, float *tof_ps);

#ifdef __cplusplus
}
#endif
#endif /* PET_LISTMODE_H */
