#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pet_dynamic.h"
#include "pet_histogram.h"
#include "pet_listmode.h"
#include "pet_phantom.h"
#include "pet_project_batch.h"
#include "pet_projector.h"
#include "pet_simulate.h"

/* out[bin] = (A img)[bin] over all bins (no TOF). */
static pet_status project_all(const pet_scanner *s, const pet_histo_layout *L, const pet_projector_params *pp,
                              const pet_image *img, float *out)
{
  pet_projector_params p = *pp;
  p.tof = 0;
  return pet_histo_project_fwd_cpu(L, s, &p, img, 0, L->num_bins, out);
}

static double decayed_integral(double t0, double d, double half_life_s)
{
  if (!(half_life_s > 0)) return d;
  const double lambda = log(2.0) / half_life_s;
  return exp(-lambda * t0) * -expm1(-lambda * d) / lambda;
}

pet_status pet_dyn_simulate_listmode(const pet_scanner *s, const pet_histo_layout *L, const pet_projector_params *pp,
                                     const pet_image *const *components, int K, const double *activity,
                                     const pet_dyn_frame *frames, int F, double half_life_s, double total_events,
                                     uint64_t seed, pet_listmode **lm)
{
  PET_CHECK(s && L && pp && components && K >= 1 && activity && frames && F >= 1 && total_events > 0 && lm,
            PET_ERR_ARG, "simulate: bad arguments");
  *lm = NULL;
  PET_TRY(pet_histo_layout_check_array(L, (size_t)(K + 1) * sizeof(float), "simulate dynamic list-mode"));
  const int64_t nb = L->num_bins;
  pet_status st = PET_OK;
  float *proj = malloc((size_t)K * (size_t)nb * sizeof(float));
  float *mean = malloc((size_t)nb * sizeof(float));
  pet_listmode **parts = calloc((size_t)F, sizeof *parts);
  pet_listmode *all = NULL;
  PET_CHECK_GOTO(st, proj && mean && parts, PET_ERR_NOMEM, out, "simulate: out of memory");
  for (int k = 0; k < K; ++k) PET_TRY_GOTO(st, project_all(s, L, pp, components[k], proj + (size_t)k * nb), out);
  /* the constant c: total expected counts over all frames = total_events */
  double total = 0.0;
  for (int f = 0; f < F; ++f) {
    const double w = decayed_integral(frames[f].start_s, frames[f].duration_s, half_life_s);
    for (int k = 0; k < K; ++k) {
      double sum = 0.0;
      for (int64_t i = 0; i < nb; ++i) sum += proj[(size_t)k * nb + i];
      total += w * activity[(size_t)k * F + f] * sum;
    }
  }
  PET_CHECK_GOTO(st, total > 0, PET_ERR_ARG, out, "simulate: the phantom projects to zero counts");
  const double c = total_events / total;
  int64_t n = 0;
  for (int f = 0; f < F; ++f) {
    const double w = c * decayed_integral(frames[f].start_s, frames[f].duration_s, half_life_s);
    const uint64_t fseed = seed * 1000003ull + (uint64_t)f;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nb; ++i) {
      double m = 0.0;
      for (int k = 0; k < K; ++k) m += activity[(size_t)k * F + f] * proj[(size_t)k * nb + i];
      mean[i] = pet_poisson_sample(fseed, (uint64_t)i, w * m);
    }
    PET_TRY_GOTO(st, pet_simulate_listmode_from_histogram(L, mean, frames[f].t1_ms - frames[f].t0_ms, fseed + 7,
                                                          &parts[f]),
                 out);
    for (int64_t e = 0; e < parts[f]->num_events; ++e) parts[f]->time_ms[e] += frames[f].t0_ms;
    n += parts[f]->num_events;
  }
  PET_TRY_GOTO(st, pet_listmode_create_owned(&all, n, false), out);
  int64_t at = 0;
  for (int f = 0; f < F; ++f) {
    const size_t bytes = (size_t)parts[f]->num_events * sizeof(uint32_t);
    if (bytes == 0) continue;
    memcpy(all->time_ms + at, parts[f]->time_ms, bytes);
    memcpy(all->d1 + at, parts[f]->d1, bytes);
    memcpy(all->d2 + at, parts[f]->d2, bytes);
    at += parts[f]->num_events;
  }
  *lm = all;
  all = NULL;
out:
  if (parts)
    for (int f = 0; f < F; ++f) pet_listmode_destroy(&parts[f]);
  free(parts);
  free(proj);
  free(mean);
  pet_listmode_destroy(&all);
  return st;
}
