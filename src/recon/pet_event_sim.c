/* Event-by-event list-mode simulation (pet_simulate.h): emission points drawn from the
 * phantom's activity, back-to-back photons in an isotropic direction, the crystals they reach
 * on the scanner's regular geometry, the TOF difference blurred by the scanner's resolution.
 * Every draw of event i comes from a stream keyed by (seed, i), so the events do not depend on
 * the number of threads or on how [0, N) is cut into calls: a file written in chunks holds
 * the same events as one sampled in memory. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pet_h5.h"
#include "pet_histogram.h"
#include "pet_phantom.h"
#include "pet_simulate.h"
#include "pet_sim_internal.h"

#define MAX_ATTEMPTS ((int64_t)1 << 22) /* per event: a phantom that emits nothing the scanner sees */
#define TOF_TRUNC_SIGMAS 4.0            /* the TOF blur is a Gaussian truncated here */
#define SPEED_OF_LIGHT_MM_PS 0.299792458

static const double TWO_PI = 6.283185307179586;

pet_sim_geom pet_sim_geom_of(const pet_scanner_params *p)
{
  pet_sim_geom g;
  g.rc = (double)p->scanner_radius + 0.5 * (double)p->crystal_depth;
  g.num_blocks = p->dets_per_ring / p->dets_per_block;
  g.dang = TWO_PI / g.num_blocks;
  g.block_len = (double)p->crystal_size_trans * p->dets_per_block;
  g.half_fov = 0.5 * (double)p->axial_fov;
  g.z_gap = (double)p->axial_fov / p->num_rings;
  g.dets_per_block = p->dets_per_block;
  g.dets_per_ring = p->dets_per_ring;
  g.num_rings = p->num_rings;
  return g;
}

bool pet_sim_geom_hit(const pet_sim_geom *g, const double p[3], const double u[3], int32_t *det)
{
  const double a = u[0] * u[0] + u[1] * u[1];
  if (a < 1e-12) return false;
  const double b = p[0] * u[0] + p[1] * u[1];
  const double c = p[0] * p[0] + p[1] * p[1] - g->rc * g->rc;
  const double disc = b * b - a * c;
  if (!(c < 0.0) || disc < 0.0) return false;
  const double s = (-b + sqrt(disc)) / a;
  double ang = atan2(p[1] + s * u[1], p[0] + s * u[0]);
  if (ang < 0.0) ang += TWO_PI;
  int32_t blk = (int32_t)floor(ang / g->dang + 0.5);
  if (blk >= g->num_blocks) blk -= g->num_blocks;
  const double alpha = blk * g->dang;
  const double n0 = cos(alpha), n1 = sin(alpha);
  const double dn = u[0] * n0 + u[1] * n1;
  if (!(dn > 0.0)) return false;
  const double sb = (g->rc - (p[0] * n0 + p[1] * n1)) / dn;
  const double qx = p[0] + sb * u[0], qy = p[1] + sb * u[1], qz = p[2] + sb * u[2];
  const double f = (qx * -n1 + qy * n0) / g->block_len + 0.5; /* along the face, 0..1 */
  if (!(f >= 0.0 && f < 1.0)) return false;
  const double zr = (qz + g->half_fov) / g->z_gap;
  if (!(zr >= 0.0 && zr < g->num_rings)) return false;
  int32_t k = (int32_t)(f * g->dets_per_block), ring = (int32_t)zr;
  if (k >= g->dets_per_block) k = g->dets_per_block - 1;
  if (ring >= g->num_rings) ring = g->num_rings - 1;
  *det = ring * g->dets_per_ring + blk * g->dets_per_block + k;
  return true;
}

static float max_activity(const pet_phantom *ph)
{
  float m = ph->background;
  for (int i = 0; i < ph->num_spheres; ++i) m = fmaxf(m, ph->spheres[i].value);
  return m;
}

pet_status pet_event_sim_check(const pet_event_sim *es)
{
  PET_CHECK(es != NULL && es->scanner != NULL && es->scanner->lut != NULL, PET_ERR_ARG,
            "simulate: NULL simulation or scanner");
  const pet_scanner_params *p = &es->scanner->params;
  const pet_phantom *ph = &es->phantom;
  PET_CHECK(es->num_events >= 0, PET_ERR_ARG, "simulate: the number of events must be >= 0 (got %lld)",
            (long long)es->num_events);
  PET_CHECK(isfinite(es->duration_s) && es->duration_s > 0 && es->duration_s * 1000.0 <= 4294967295.0, PET_ERR_ARG,
            "simulate: duration_s must be > 0 and at most 2^32 ms (got %g)", es->duration_s);
  PET_CHECK(p->num_doi == 1, PET_ERR_UNSUPPORTED,
            "simulate: scanner %s has %d DOI layers; the event simulator models one", p->name, p->num_doi);
  PET_CHECK(p->dets_per_ring % p->dets_per_block == 0, PET_ERR_ARG,
            "simulate: scanner %s: dets_per_ring (%d) is not a multiple of dets_per_block (%d)", p->name,
            p->dets_per_ring, p->dets_per_block);
  PET_CHECK(!es->tof || p->tof_fwhm_ps > 0, PET_ERR_ARG,
            "simulate: TOF asked for, but scanner %s has no TOF resolution (tofResolution_ps)", p->name);
  PET_CHECK(isfinite(ph->cyl_radius) && ph->cyl_radius > 0 && isfinite(ph->cyl_half_length) &&
                ph->cyl_half_length > 0,
            PET_ERR_ARG, "simulate: the phantom's cylinder must have a radius and half-length > 0 (got %g, %g)",
            (double)ph->cyl_radius, (double)ph->cyl_half_length);
  PET_CHECK(ph->cyl_radius < p->scanner_radius, PET_ERR_ARG,
            "simulate: the phantom's radius (%g mm) reaches the detectors of scanner %s (radius %g mm)",
            (double)ph->cyl_radius, p->name, (double)p->scanner_radius);
  PET_CHECK(ph->num_spheres >= 0 && ph->num_spheres <= PET_PHANTOM_MAX_SPHERES, PET_ERR_ARG,
            "simulate: the phantom has %d spheres (at most %d)", ph->num_spheres, PET_PHANTOM_MAX_SPHERES);
  const float amax = max_activity(ph);
  PET_CHECK(isfinite(amax) && amax > 0 && ph->background >= 0, PET_ERR_ARG,
            "simulate: the phantom has no activity (background %g, largest value %g)", (double)ph->background,
            (double)amax);
  for (int i = 0; i < ph->num_spheres; ++i)
    PET_CHECK(ph->spheres[i].value >= 0 && isfinite(ph->spheres[i].value), PET_ERR_ARG,
              "simulate: phantom sphere %d has activity %g (must be finite and >= 0)", i,
              (double)ph->spheres[i].value);
  return PET_OK;
}

/* Event i: false when no attempt was accepted (the phantom emits nothing the scanner sees). */
static bool sample_event(const pet_event_sim *es, const pet_sim_geom *g, float amax, double sigma_ps, int64_t i,
                         uint32_t *d1, uint32_t *d2, float *tof_ps)
{
  const pet_phantom *ph = &es->phantom;
  const pet_scanner_params *sp = &es->scanner->params;
  pet_sim_rng r = pet_sim_rng_of(es->seed, (uint64_t)i);
  for (int64_t attempt = 0; attempt < MAX_ATTEMPTS; ++attempt) {
    /* a point uniform in the phantom's cylinder, kept with probability activity / max */
    const double rad = ph->cyl_radius * sqrt(pet_sim_uniform(&r)), th = TWO_PI * pet_sim_uniform(&r);
    const double p[3] = {rad * cos(th), rad * sin(th), ph->cyl_half_length * (2.0 * pet_sim_uniform(&r) - 1.0)};
    const double keep = pet_sim_uniform(&r) * amax;
    if (!(keep < pet_phantom_activity_at(ph, (float)p[0], (float)p[1], (float)p[2]))) continue;
    const double cz = 2.0 * pet_sim_uniform(&r) - 1.0, phi = TWO_PI * pet_sim_uniform(&r), sz = sqrt(1.0 - cz * cz);
    const double u[3] = {sz * cos(phi), sz * sin(phi), cz}, v[3] = {-u[0], -u[1], -u[2]};
    int32_t a = 0, b = 0;
    if (!pet_sim_geom_hit(g, p, u, &a) || !pet_sim_geom_hit(g, p, v, &b) || !pet_histo_pair_valid(sp, a, b)) continue;
    *d1 = (uint32_t)a;
    *d2 = (uint32_t)b;
    if (tof_ps) {
      /* t2 - t1 along the LUT's LOR (what the projector reads): (s2 - s1) / c, s the distance
       * of the emission's projection from each crystal; then the resolution's blur */
      const float *la = es->scanner->lut + 6 * (int64_t)a, *lb = es->scanner->lut + 6 * (int64_t)b;
      const double e[3] = {lb[0] - la[0], lb[1] - la[1], lb[2] - la[2]};
      const double len = sqrt(e[0] * e[0] + e[1] * e[1] + e[2] * e[2]);
      const double s1 = ((p[0] - la[0]) * e[0] + (p[1] - la[1]) * e[1] + (p[2] - la[2]) * e[2]) / len;
      double gauss = 0.0;
      do {
        const double u1 = pet_sim_uniform(&r), u2 = pet_sim_uniform(&r);
        gauss = sqrt(-2.0 * log(1.0 - u1)) * cos(TWO_PI * u2);
      } while (fabs(gauss) > TOF_TRUNC_SIGMAS);
      *tof_ps = (float)((len - 2.0 * s1) / SPEED_OF_LIGHT_MM_PS + sigma_ps * gauss);
    }
    return true;
  }
  return false;
}

pet_status pet_simulate_events(const pet_event_sim *es, int64_t first, int64_t count, uint32_t *t, uint32_t *d1,
                               uint32_t *d2, float *tof_ps)
{
  PET_TRY(pet_event_sim_check(es));
  PET_CHECK(first >= 0 && count >= 0 && first + count <= es->num_events, PET_ERR_ARG,
            "simulate: events [%lld, %lld) asked of %lld", (long long)first, (long long)(first + count),
            (long long)es->num_events);
  PET_CHECK(count == 0 || (t && d1 && d2 && (!es->tof || tof_ps)), PET_ERR_ARG, "simulate: NULL output arrays");
  const pet_sim_geom g = pet_sim_geom_of(&es->scanner->params);
  const float amax = max_activity(&es->phantom);
  const double sigma_ps = es->tof ? es->scanner->params.tof_fwhm_ps / 2.3548200450309493 : 0.0;
  const uint64_t n = (uint64_t)es->num_events, dur_ms = (uint64_t)floor(es->duration_s * 1000.0);
  int64_t failed = -1;
#pragma omp parallel for schedule(dynamic, 4096)
  for (int64_t k = 0; k < count; ++k) {
    const int64_t i = first + k;
    /* evenly over the duration (a constant activity), sorted by construction */
    t[k] = (uint32_t)((uint64_t)i * dur_ms / n);
    if (!sample_event(es, &g, amax, sigma_ps, i, &d1[k], &d2[k], es->tof ? &tof_ps[k] : NULL)) {
#pragma omp critical(pet_event_sim_failed)
      if (failed < 0 || i < failed) failed = i;
      d1[k] = d2[k] = 0;
    }
  }
  PET_CHECK(failed < 0, PET_ERR_ARG,
            "simulate: event %lld: no emission of the phantom reached two crystals of scanner %s in %lld tries "
            "(is the phantom inside the scanner's field of view?)",
            (long long)failed, es->scanner->params.name, (long long)MAX_ATTEMPTS);
  return PET_OK;
}

pet_status pet_simulate_listmode_events(const pet_event_sim *es, pet_listmode **lm)
{
  PET_CHECK(lm != NULL, PET_ERR_ARG, "simulate: NULL output");
  *lm = NULL;
  PET_TRY(pet_event_sim_check(es));
  pet_listmode *out = NULL;
  PET_TRY(pet_listmode_create_owned(&out, es->num_events, es->tof));
  pet_status st = pet_simulate_events(es, 0, es->num_events, out->time_ms, out->d1, out->d2, out->tof_ps);
  if (st != PET_OK) {
    pet_listmode_destroy(&out);
    return st;
  }
  *lm = out;
  return PET_OK;
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

pet_sim_file_opts pet_sim_file_opts_default(void)
{
  pet_sim_file_opts o;
  memset(&o, 0, sizeof o);
  o.chunk_events = PET_SIM_CHUNK_EVENTS;
  return o;
}

pet_status pet_simulate_listmode_file(const pet_event_sim *es, const char *path, const pet_sim_file_opts *o,
                                      pet_sim_file_stats *stats)
{
  pet_status st = PET_OK;
  pet_h5_lm_writer *w = NULL;
  uint32_t *t = NULL, *d1 = NULL, *d2 = NULL;
  float *tof = NULL;
  PET_CHECK(path != NULL && o != NULL, PET_ERR_ARG, "simulate: NULL path or options");
  PET_TRY(pet_event_sim_check(es));
  PET_CHECK(o->chunk_events >= 1 && o->chunk_events <= ((int64_t)1 << 28), PET_ERR_ARG,
            "simulate: chunk_events must be in [1, 2^28] (got %lld)", (long long)o->chunk_events);
  if (stats) memset(stats, 0, sizeof *stats);
  const int64_t n = es->num_events;
  const int64_t chunk = n < o->chunk_events ? (n > 0 ? n : 1) : o->chunk_events;
  /* the file's chunks do not follow the sampling chunks: a partial last HDF5 chunk is stored
   * whole, so small files get one chunk and large ones PET_H5_CHUNK_ELEMS */
  const int64_t h5_chunk = n < PET_H5_CHUNK_ELEMS ? (n > 0 ? n : 1) : PET_H5_CHUNK_ELEMS;
  t = malloc((size_t)chunk * sizeof *t);
  d1 = malloc((size_t)chunk * sizeof *d1);
  d2 = malloc((size_t)chunk * sizeof *d2);
  if (es->tof) tof = malloc((size_t)chunk * sizeof *tof);
  PET_CHECK_GOTO(st, t && d1 && d2 && (!es->tof || tof), PET_ERR_NOMEM, out,
                 "simulate: no memory for a chunk of %lld events", (long long)chunk);
  PET_TRY_GOTO(st,
               pet_h5_lm_writer_open(&w, path, es->scanner->params.name, es->tof, h5_chunk, o->deflate_level,
                                     o->index_ms),
               out);
  pet_batch_cb_report(o->cb, 0, n);
  for (int64_t first = 0; first < n; first += chunk) {
    const int64_t cnt = n - first < chunk ? n - first : chunk;
    PET_CHECK_GOTO(st, !pet_batch_cb_stop(o->cb), PET_ERR_INTERRUPTED, out,
                   "simulate: stopped after %lld of %lld events; %s not written", (long long)first, (long long)n, path);
    double t0 = now_s();
    PET_TRY_GOTO(st, pet_simulate_events(es, first, cnt, t, d1, d2, tof), out);
    double t1 = now_s();
    PET_TRY_GOTO(st, pet_h5_lm_writer_append(w, cnt, t, d1, d2, tof), out);
    if (stats) {
      stats->sample_s += t1 - t0;
      stats->write_s += now_s() - t1;
      stats->chunks += 1;
    }
    pet_batch_cb_report(o->cb, first + cnt, n);
  }
  double t2 = now_s();
  st = pet_h5_lm_writer_close(&w);
  if (stats) stats->write_s += now_s() - t2;
out:
  pet_h5_lm_writer_abort(&w);
  free(t);
  free(d1);
  free(d2);
  free(tof);
  return st;
}
