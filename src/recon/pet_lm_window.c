#include "pet_lm_window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pet_status pet_lm_window_init(pet_lm_window *w, const pet_lm_source *src, const pet_scanner *s, int64_t cap,
                              bool tof)
{
  memset(w, 0, sizeof *w);
  PET_CHECK(src != NULL && src->read != NULL && cap > 0, PET_ERR_ARG, "osem: invalid list-mode source");
  w->src = src;
  w->scanner = s;
  w->tof = tof;
  w->cap = cap;
  for (int b = 0; b < 2; ++b) {
    w->d1[b] = malloc((size_t)cap * sizeof(uint32_t));
    w->d2[b] = malloc((size_t)cap * sizeof(uint32_t));
    if (tof) w->tof_ps[b] = malloc((size_t)cap * sizeof(float));
    if (!w->d1[b] || !w->d2[b] || (tof && !w->tof_ps[b])) {
      pet_lm_window_free(w);
      return PET_ERROR(PET_ERR_NOMEM, "osem: out of host memory for two list-mode windows of %lld events (%s)",
                       (long long)cap, src->name ? src->name : "list-mode source");
    }
  }
  return PET_OK;
}

void pet_lm_window_free(pet_lm_window *w)
{
  if (w->running) (void)pet_lm_window_wait(w);
  for (int b = 0; b < 2; ++b) {
    free(w->d1[b]);
    free(w->d2[b]);
    free(w->tof_ps[b]);
  }
  memset(w, 0, sizeof *w);
}

static void *reader(void *arg)
{
  pet_lm_window *w = arg;
  const int b = w->buf;
  pet_error_set_thread_quiet(true); /* the waiting thread raises it again */
  pet_status st = w->src->read(w->src->ctx, w->first, w->count, w->d1[b], w->d2[b], w->tof ? w->tof_ps[b] : NULL);
  /* the kernels index the detector tables with the ids: every window is checked here, off
   * the projecting thread */
  if (st == PET_OK && w->scanner) {
    const int64_t nd = w->scanner->num_dets;
    for (int64_t i = 0; i < w->count; ++i) {
      if (w->d1[b][i] >= (uint64_t)nd || w->d2[b][i] >= (uint64_t)nd) {
        st = PET_ERROR(PET_ERR_IO, "%s: event %lld has detector ids (%u, %u), outside the scanner's %lld detectors",
                       w->src->name ? w->src->name : "list-mode", (long long)(w->first + i), w->d1[b][i],
                       w->d2[b][i], (long long)nd);
        break;
      }
    }
  }
  if (st != PET_OK) snprintf(w->message, sizeof w->message, "%s", pet_last_error());
  w->status = st;
  return NULL;
}

pet_status pet_lm_window_start(pet_lm_window *w, int buf, int64_t first, int64_t count)
{
  PET_CHECK(!w->running && buf >= 0 && buf < 2 && count >= 0 && count <= w->cap, PET_ERR_ARG,
            "osem: list-mode window misuse");
  PET_CHECK(first >= 0 && first + count <= w->src->num_events, PET_ERR_ARG,
            "%s: events [%lld, %lld) outside its %lld events", w->src->name ? w->src->name : "list-mode",
            (long long)first, (long long)(first + count), (long long)w->src->num_events);
  w->buf = buf;
  w->first = first;
  w->count = count;
  w->status = PET_OK;
  w->message[0] = 0;
  PET_CHECK(pthread_create(&w->thread, NULL, reader, w) == 0, PET_ERR_NOMEM,
            "osem: cannot start the list-mode reader thread");
  w->running = true;
  return PET_OK;
}

pet_status pet_lm_window_wait(pet_lm_window *w)
{
  PET_CHECK(w->running, PET_ERR_ARG, "osem: no list-mode read in flight");
  pthread_join(w->thread, NULL);
  w->running = false;
  if (w->status != PET_OK) return pet_error_raise_again(w->status, w->message);
  return PET_OK;
}
