/* petrel: windows of a streamed list-mode (pet_lm_source), read in a second thread while the
 * previous window is projected. Internal to the OSEM loop (src/recon). */
#ifndef PET_LM_WINDOW_H
#define PET_LM_WINDOW_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pet_listmode.h"
#include "pet_scanner.h"
#include "pet_status.h"

typedef struct pet_lm_window {
  const pet_lm_source *src;
  const pet_scanner *scanner; /* the ids of every window are checked against it */
  bool tof;                   /* read the TOF values */
  int64_t cap;                /* events per window */
  uint32_t *d1[2], *d2[2];
  float *tof_ps[2];
  /* the read in flight */
  pthread_t thread;
  bool running;
  int buf;
  int64_t first, count;
  pet_status status;
  char message[1024];         /* the reader thread's error message (pet_last_error is per thread) */
} pet_lm_window;

/** Two windows of cap events (d1, d2 and, with tof, TOF values). */
pet_status pet_lm_window_init(pet_lm_window *w, const pet_lm_source *src, const pet_scanner *s, int64_t cap,
                              bool tof);
/** Waits for a read in flight, frees the windows. */
void pet_lm_window_free(pet_lm_window *w);
/** Starts reading events [first, first + count) (count <= cap) into window buf, in a thread. */
pet_status pet_lm_window_start(pet_lm_window *w, int buf, int64_t first, int64_t count);
/** Waits for the read started last; its status (an error is raised again on this thread). */
pet_status pet_lm_window_wait(pet_lm_window *w);

#endif
