#include "pet_simulate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pet_phantom.h"
#include "pet_project_batch.h"

pet_sim_opts pet_sim_opts_default(void)
{
  pet_sim_opts o;
  memset(&o, 0, sizeof o);
  o.seed = 42;
  o.total_trues = 2e7;
  o.randoms_fraction = 0.0f;
  o.noise = true;
  o.proj = pet_projector_params_default();
  o.scatter = false;
  o.scatter_photons = 20000000;
  o.energy_lld_kev = 430.0f;
  o.energy_uld_kev = 650.0f;
  o.energy_fwhm_kev = 51.1f;
  return o;
}

void pet_sim_result_free(pet_sim_result *r)
{
  if (!r) return;
  free(r->counts);
  free(r->mult);
  free(r->add);
  free(r->attenuation);
  free(r->normalisation);
  free(r->scatter);
  free(r->scatter_tof);
  memset(r, 0, sizeof *r);
}

/* Reports both projections of a simulation as one piece of work: phase k of n. */
typedef struct phase_cb {
  const pet_batch_cb *outer;
  int phase, num_phases;
} phase_cb;

static bool phase_stop(void *ctx)
{
  const phase_cb *c = ctx;
  return pet_batch_cb_stop(c->outer);
}

static void phase_progress(void *ctx, int64_t done, int64_t total)
{
  const phase_cb *c = ctx;
  pet_batch_cb_report(c->outer, c->phase * total + done, c->num_phases * total);
}

pet_status pet_simulate_histogram(const pet_scanner *s, const pet_histo_layout *L,
                                  const pet_image *truth, const pet_image *mu,
                                  const pet_sim_opts *o, pet_sim_result *out)
{
  PET_CHECK(s && L && truth && o && out, PET_ERR_ARG, "simulate: NULL argument");
  PET_CHECK(o->total_trues > 0 && o->randoms_fraction >= 0, PET_ERR_ARG,
            "simulate: total_trues must be > 0 and randoms_fraction >= 0");
  PET_CHECK(!o->scatter || mu != NULL, PET_ERR_ARG,
            "simulate: pet_sim_opts.scatter needs the attenuation map (mu is NULL)");
  PET_CHECK(!o->scatter || o->scatter_photons > 0, PET_ERR_ARG,
            "simulate: pet_sim_opts.scatter_photons must be > 0 (got %lld)", (long long)o->scatter_photons);
  memset(out, 0, sizeof *out);
  float *mc_trues = NULL;
  PET_TRY(pet_histo_layout_check_array(L, sizeof(float), "simulate a histogram"));
  const int64_t nb = L->num_bins;
  pet_status st = PET_OK;
  pet_projector_params pp = o->proj;
  pp.tof = 0;
  out->counts = malloc((size_t)nb * sizeof(float));
  PET_CHECK_GOTO(st, out->counts != NULL, PET_ERR_NOMEM, fail, "simulate: out of memory");
  phase_cb pc = {o->cb, 0, mu ? 2 : 1};
  pet_batch_cb cb = {phase_stop, phase_progress, &pc};
  const pet_batch_cb *cbp = o->cb ? &cb : NULL;
  PET_TRY_GOTO(st, pet_histo_project_fwd_cpu_cb(L, s, &pp, truth, 0, nb, out->counts, cbp), fail);
  if (mu) {
    out->attenuation = malloc((size_t)nb * sizeof(float));
    PET_CHECK_GOTO(st, out->attenuation != NULL, PET_ERR_NOMEM, fail, "simulate: out of memory");
    pc.phase = 1;
    PET_TRY_GOTO(st, pet_histo_project_fwd_cpu_cb(L, s, &pp, mu, 0, nb, out->attenuation, cbp), fail);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < nb; ++i) out->attenuation[i] = expf(-out->attenuation[i]);
  }
  if (o->normalisation) {
    out->normalisation = malloc((size_t)nb * sizeof(float));
    PET_CHECK_GOTO(st, out->normalisation != NULL, PET_ERR_NOMEM, fail, "simulate: out of memory");
    for (int64_t i = 0; i < nb; ++i) {
      int32_t d1, d2;
      bool valid;
      PET_TRY_GOTO(st, pet_histo_bin_to_dets(L, i, &d1, &d2, &valid), fail);
      double e1 = 0.8 + 0.4 * pet_uniform_keyed(o->seed ^ 0x5eedull, (uint64_t)d1);
      double e2 = 0.8 + 0.4 * pet_uniform_keyed(o->seed ^ 0x5eedull, (uint64_t)d2);
      out->normalisation[i] = valid ? (float)(e1 * e2) : 0.0f;
    }
  }
  if (out->attenuation || out->normalisation) {
    out->mult = malloc((size_t)nb * sizeof(float));
    PET_CHECK_GOTO(st, out->mult != NULL, PET_ERR_NOMEM, fail, "simulate: out of memory");
    for (int64_t i = 0; i < nb; ++i)
      out->mult[i] = (out->attenuation ? out->attenuation[i] : 1.0f) *
                     (out->normalisation ? out->normalisation[i] : 1.0f);
  }
  double sum = 0.0;
  int64_t nvalid = 0;
  for (int64_t i = 0; i < nb; ++i) {
    sum += (double)out->counts[i] * (out->mult ? out->mult[i] : 1.0f);
    if (out->counts[i] > 0 || (out->mult && out->mult[i] > 0)) ++nvalid;
  }
  PET_CHECK_GOTO(st, sum > 0, PET_ERR_ARG, fail, "simulate: the image projects to zero counts");
  out->scale = o->total_trues / sum;
  float r = 0.0f;
  if (o->randoms_fraction > 0) {
    out->add = malloc((size_t)nb * sizeof(float));
    PET_CHECK_GOTO(st, out->add != NULL, PET_ERR_NOMEM, fail, "simulate: out of memory");
    /* randoms spread over the bins whose LOR crosses the image (a stand-in for a delayed
     * window), so that a bin outside the field of view carries no counts */
    int64_t nfov = 0;
    for (int64_t i = 0; i < nb; ++i) nfov += out->counts[i] > 0;
    r = (float)(o->randoms_fraction * o->total_trues / (double)(nfov > 0 ? nfov : 1));
    for (int64_t i = 0; i < nb; ++i) out->add[i] = out->counts[i] > 0 ? r : 0.0f;
  }
  (void)nvalid;
  if (o->scatter) {
    /* the MC's scatter in the analytic trues' units: scatter(b) = S(b) n(b) x total_trues /
     * sum_b T(b) n(b), T and S the MC's trues and scatter (geometric efficiency divided out), n
     * the normalisation (1 without): the scatter sees the crystals' efficiencies as the trues */
    pet_scatter_mc_info mi;
    out->scatter = malloc((size_t)nb * sizeof(float));
    mc_trues = malloc((size_t)nb * sizeof(float));
    PET_CHECK_GOTO(st, out->scatter != NULL && mc_trues != NULL, PET_ERR_NOMEM, fail, "simulate: out of memory");
    const pet_scanner_params *sp = &s->params;
    const int64_t nt = sp->num_tof_bins > 0 && sp->tof_bin_width_ps > 0 && sp->tof_fwhm_ps > 0 ? sp->num_tof_bins : 0;
    if (nt > 0) {
      PET_TRY_GOTO(st, pet_histo_layout_check_array(L, (size_t)nt * sizeof(float), "the TOF scatter"), fail);
      out->scatter_tof = malloc((size_t)(nb * nt) * sizeof(float));
      PET_CHECK_GOTO(st, out->scatter_tof != NULL, PET_ERR_NOMEM, fail, "simulate: out of memory (TOF scatter)");
    }
    PET_TRY_GOTO(st, pet_scatter_mc(s, L, truth, mu, o, mc_trues, out->scatter, out->scatter_tof, &mi), fail);
    double tsum = 0.0, ssum = 0.0;
    for (int64_t i = 0; i < nb; ++i) {
      const double nf = out->normalisation ? out->normalisation[i] : 1.0;
      tsum += mc_trues[i] * nf;
      ssum += out->scatter[i] * nf;
    }
    PET_CHECK_GOTO(st, tsum > 0, PET_ERR_ARG, fail,
                   "simulate: none of the %lld photon pairs of the scatter Monte Carlo was detected unscattered "
                   "(raise pet_sim_opts.scatter_photons, or is the activity outside the scanner?)",
                   (long long)o->scatter_photons);
    const double k = o->total_trues / tsum;
    for (int64_t i = 0; i < nb; ++i) {
      const double f = (out->normalisation ? out->normalisation[i] : 1.0f) * k;
      out->scatter[i] = (float)(out->scatter[i] * f);
      for (int64_t t = 0; t < nt; ++t) out->scatter_tof[i * nt + t] = (float)(out->scatter_tof[i * nt + t] * f);
    }
    out->scatter_fraction = ssum / (ssum + tsum);
    pet_log("simulate: scatter Monte Carlo: %lld photon pairs in %.2f s (%.3g pairs/s): %lld trues, %lld single "
            "scatters recorded; scatter fraction %.1f%% (window %g-%g keV, FWHM %g keV at 511)",
            (long long)mi.photons, mi.seconds, mi.photons_per_s, (long long)mi.trues, (long long)mi.scattered,
            100.0 * out->scatter_fraction, (double)o->energy_lld_kev, (double)o->energy_uld_kev,
            (double)o->energy_fwhm_kev);
    free(mc_trues);
    mc_trues = NULL;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < nb; ++i) {
    double mean = out->scale * out->counts[i] * (out->mult ? out->mult[i] : 1.0f) +
                  (out->add ? out->add[i] : 0.0f) + (out->scatter ? out->scatter[i] : 0.0f);
    out->counts[i] = o->noise ? pet_poisson_sample(o->seed, (uint64_t)i, mean) : (float)mean;
  }
  return PET_OK;
fail:
  free(mc_trues);
  pet_sim_result_free(out);
  return st;
}

pet_status pet_simulate_listmode_from_histogram(const pet_histo_layout *L, const float *counts,
                                                uint32_t duration_ms, uint64_t seed,
                                                pet_listmode **lm)
{
  PET_CHECK(L && counts && lm, PET_ERR_ARG, "simulate: NULL argument");
  *lm = NULL;
  PET_TRY(pet_histo_layout_check_array(L, sizeof(float), "simulate list-mode from a histogram"));
  int64_t n = 0;
  for (int64_t i = 0; i < L->num_bins; ++i) {
    PET_CHECK(counts[i] >= 0 && counts[i] == floorf(counts[i]), PET_ERR_ARG,
              "simulate: bin %lld holds %g, not a count", (long long)i, (double)counts[i]);
    n += (int64_t)counts[i];
  }
  pet_listmode *out = NULL;
  PET_TRY(pet_listmode_create_owned(&out, n, false));
  int64_t e = 0;
  pet_status st = PET_OK;
  for (int64_t i = 0; i < L->num_bins; ++i) {
    int64_t c = (int64_t)counts[i];
    if (c == 0) continue;
    int32_t d1, d2;
    bool valid;
    if ((st = pet_histo_bin_to_dets(L, i, &d1, &d2, &valid)) != PET_OK) break;
    for (int64_t k = 0; k < c; ++k, ++e) {
      out->d1[e] = (uint32_t)d1;
      out->d2[e] = (uint32_t)d2;
    }
  }
  if (st != PET_OK) {
    pet_listmode_destroy(&out);
    return st;
  }
  /* keyed Fisher-Yates shuffle, then increasing times */
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = (int64_t)(pet_uniform_keyed(seed, (uint64_t)i) * (double)(i + 1));
    if (j > i) j = i;
    uint32_t t1 = out->d1[i], t2 = out->d2[i];
    out->d1[i] = out->d1[j];
    out->d2[i] = out->d2[j];
    out->d1[j] = t1;
    out->d2[j] = t2;
  }
  for (int64_t i = 0; i < n; ++i)
    out->time_ms[i] = (uint32_t)((double)i * duration_ms / (double)(n > 0 ? n : 1));
  *lm = out;
  return PET_OK;
}
