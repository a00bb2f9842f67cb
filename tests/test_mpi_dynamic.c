/* Dynamic reconstruction over ranks: N ranks == 1 rank in both regimes (frames >= ranks,
 * ranks > frames), events outside every frame counted, and time-activity curves of a phantom
 * with a rising region, a washing-out region and a constant background recovered within a
 * stated tolerance after decay correction. Run under mpirun at np = 1, 2, 4. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_comm.h"
#include "pet_dyn_recon.h"
#include "pet_dynamic.h"
#include "pet_histogram.h"
#include "pet_listmode.h"
#include "pet_osem.h"
#include "pet_phantom.h"
#include "pet_scanner.h"
#include "pet_test_util.h"

static pet_comm *comm;

static void assert_all(int ok)
{
  int64_t bad = ok ? 0 : 1;
  assert_int_equal(pet_comm_allreduce_sum_i64(comm, &bad, 1), PET_OK);
  assert_int_equal(bad, 0);
}

#define NSIM 6       /* simulated frames: 5 x 20 s, then 10 s after the last recon frame */
#define HALF_LIFE 120.0
#define NREG 3       /* background, rising, washout */

typedef struct fixture {
  pet_scanner *scanner;
  pet_histo_layout *L;
  pet_image_params ip;
  pet_image *comp[NREG], *labels;
  double act[NREG * NSIM];
  pet_listmode *lm;
  pet_dyn_frame sim[NSIM];
} fixture;

static double tac(int k, double t)
{
  if (k == 0) return 1.0;
  if (k == 1) return 4.0 * (1.0 - exp(-t / 30.0));
  return 4.0 * exp(-t / 40.0) + 0.5;
}

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  pet_scanner_params sp = pet_scanner_params_small();
  sp.dets_per_ring = 128;
  sp.crystal_size_trans = 2.4f;
  sp.num_rings = 3;
  sp.axial_fov = 9.0f;
  sp.crystal_size_z = 3.0f;
  sp.scanner_radius = 50.0f;
  sp.dets_per_block = 16;
  sp.max_ring_diff = 2;
  if (pet_scanner_create(&f->scanner, &sp) != PET_OK) return -1;
  if (pet_histo_layout_create(&f->L, f->scanner) != PET_OK) return -1;
  f->ip = pet_image_params_make(24, 24, 3, 72.f, 72.f, 9.f);
  /* components: background (cylinder less the spheres), sphere A, sphere B */
  pet_phantom ph;
  memset(&ph, 0, sizeof ph);
  ph.cyl_radius = 30.f;
  ph.cyl_half_length = 100.f;
  ph.num_spheres = 2;
  ph.spheres[0].x = -14.f;
  ph.spheres[0].radius = 10.f;
  ph.spheres[1].x = 14.f;
  ph.spheres[1].radius = 10.f;
  for (int k = 0; k < NREG; ++k) {
    pet_phantom c = ph;
    c.background = k == 0 ? 1.f : 0.f;
    c.spheres[0].value = k == 1 ? 1.f : 0.f;
    c.spheres[1].value = k == 2 ? 1.f : 0.f;
    if (pet_image_create_owned(&f->comp[k], f->ip, PET_HOST) != PET_OK) return -1;
    if (pet_phantom_activity(&c, f->comp[k], 3) != PET_OK) return -1;
  }
  /* ROIs well inside each region: label 1 background, 2 rising, 3 washout */
  if (pet_image_create_owned(&f->labels, f->ip, PET_HOST) != PET_OK) return -1;
  for (int z = 0; z < 3; ++z)
    for (int y = 0; y < 24; ++y)
      for (int x = 0; x < 24; ++x) {
        float px = (x - 11.5f) * 3.f, py = (y - 11.5f) * 3.f;
        float da = hypotf(px + 14.f, py), db = hypotf(px - 14.f, py), r = hypotf(px, py);
        float l = 0.f;
        if (da < 6.f) l = 2.f;
        else if (db < 6.f) l = 3.f;
        else if (r < 24.f && da > 17.f && db > 17.f) l = 1.f;
        f->labels->data[(z * 24 + y) * 24 + x] = l;
      }
  for (int s = 0; s < NSIM; ++s) {
    f->sim[s].start_s = s * 20.0;
    f->sim[s].duration_s = s < 5 ? 20.0 : 10.0;
    f->sim[s].factor = 1.0;
  }
  if (pet_dyn_frames_init(f->sim, NSIM) != PET_OK) return -1;
  for (int k = 0; k < NREG; ++k)
    for (int s = 0; s < NSIM; ++s) f->act[k * NSIM + s] = tac(k, f->sim[s].start_s + 0.5 * f->sim[s].duration_s);
  pet_projector_params pp = pet_projector_params_default();
  if (pet_dyn_simulate_listmode(f->scanner, f->L, &pp, (const pet_image *const *)f->comp, NREG, f->act, f->sim,
                                NSIM, HALF_LIFE, 4e5, 11, &f->lm) != PET_OK)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  pet_listmode_destroy(&f->lm);
  for (int k = 0; k < NREG; ++k) pet_image_destroy(&f->comp[k]);
  pet_image_destroy(&f->labels);
  pet_histo_layout_destroy(&f->L);
  pet_scanner_destroy(&f->scanner);
  free(f);
  return 0;
}

typedef struct mem_source {
  const pet_listmode *lm;
  const pet_dyn_frame *frames;
} mem_source;

static pet_status mem_load(void *ctx, int frame, pet_osem_data *d)
{
  mem_source *m = ctx;
  d->listmode = m->lm;
  d->lm_first = m->frames[frame].first;
  d->lm_count = m->frames[frame].count;
  return PET_OK;
}

/* Reconstructs `frames` on comm c; returns ownership of the frame images. */
static pet_image **recon(fixture *f, pet_comm *c, pet_dyn_frame *frames, int nf, int iterations, int subsets,
                         pet_dyn_plan *plan)
{
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  d.lm_count = -1;
  pet_osem_opts o = pet_osem_opts_default();
  o.iterations = iterations;
  o.subsets = subsets;
  o.batch_lors = 999;
  /* the sensitivity once, over every bin, shared by all frames */
  pet_image *sens = NULL;
  assert_int_equal(pet_image_create_owned(&sens, f->ip, PET_HOST), PET_OK);
  pet_histogram *empty = NULL;
  float zero = 0.f;
  assert_int_equal(pet_histogram_create(&empty, f->scanner, PET_ALIAS, PET_HOST), PET_OK);
  assert_int_equal(pet_histogram_bind(empty, &zero), PET_OK);
  pet_osem_data ds = d;
  ds.histogram = empty;
  pet_osem_opts os = o;
  os.subsets = 1;
  pet_reducer red = pet_comm_reducer(c);
  os.reducer = &red;
  assert_int_equal(pet_osem_sensitivity(&ds, &os, &sens, 1), PET_OK);
  pet_histogram_destroy(&empty);

  pet_image **out = calloc((size_t)nf, sizeof *out);
  for (int k = 0; k < nf; ++k) assert_int_equal(pet_image_create_owned(&out[k], f->ip, PET_HOST), PET_OK);
  pet_dyn_opts dy;
  memset(&dy, 0, sizeof dy);
  dy.frames = frames;
  dy.num_frames = nf;
  dy.half_life_s = HALF_LIFE;
  mem_source ms = {f->lm, frames};
  pet_dyn_source src = {mem_load, NULL, &ms};
  pet_status st = pet_dyn_reconstruct(c, &d, &o, &sens, &dy, &src, out, plan);
  assert_all(st == PET_OK);
  pet_image_destroy(&sens);
  return out;
}

static void free_frames(pet_image **x, int nf)
{
  for (int k = 0; k < nf; ++k) pet_image_destroy(&x[k]);
  free(x);
}

static void make_frames(fixture *f, pet_dyn_frame *fr, int nf, double len_s, int64_t *outside)
{
  for (int k = 0; k < nf; ++k) {
    fr[k].start_s = k * len_s;
    fr[k].duration_s = len_s;
    fr[k].factor = 1.0;
  }
  assert_int_equal(pet_dyn_frames_init(fr, nf), PET_OK);
  assert_int_equal(pet_listmode_check_sorted(f->lm, NULL), PET_OK);
  assert_int_equal(pet_dyn_find_events_sorted(f->lm->time_ms, f->lm->num_events, fr, nf, outside), PET_OK);
}

/* N ranks (the plan's regime) against this rank alone. */
static void compare_with_one_rank(fixture *f, int nf, double len_s, pet_dyn_regime expect_regime_at_4)
{
  pet_dyn_frame fr[8];
  int64_t outside = 0;
  make_frames(f, fr, nf, len_s, &outside);
  pet_comm *self = NULL;
  assert_int_equal(pet_comm_split(comm, pet_comm_rank(comm), &self), PET_OK);
  pet_dyn_plan p1, pn;
  pet_image **ref = recon(f, self, fr, nf, 2, 3, &p1);
  pet_image **dist = recon(f, comm, fr, nf, 2, 3, &pn);
  pet_comm_finalize(&self);
  assert_all(p1.regime == PET_DYN_FRAMES_PER_RANK);
  if (pet_comm_size(comm) == 4) assert_all(pn.regime == expect_regime_at_4);
  double worst = 0.0;
  for (int k = 0; k < nf; ++k) {
    double num = 0, den = 0;
    for (int64_t v = 0; v < pet_image_num_voxels(ref[k]); ++v) {
      double e = (double)ref[k]->data[v] - dist[k]->data[v];
      num += e * e;
      den += (double)ref[k]->data[v] * ref[k]->data[v];
    }
    double rel = den > 0 ? sqrt(num / den) : (num > 0 ? 1.0 : 0.0);
    if (rel > worst) worst = rel;
  }
  if (pet_comm_rank(comm) == 0)
    printf("# %d frames, %d ranks (%s): worst relative L2 difference to 1 rank %.3g\n", nf, pet_comm_size(comm),
           pn.regime == PET_DYN_FRAMES_PER_RANK ? "frames >= ranks" : "ranks > frames", worst);
  assert_all(worst < 1e-5);
  free_frames(ref, nf);
  free_frames(dist, nf);
}

static void test_frames_more_than_ranks_equals_one_rank(void **state)
{
  compare_with_one_rank(*state, 5, 20.0, PET_DYN_FRAMES_PER_RANK);
}

static void test_ranks_more_than_frames_equals_one_rank(void **state)
{
  compare_with_one_rank(*state, 2, 50.0, PET_DYN_RANKS_PER_FRAME);
}

static void test_uneven_groups_equal_one_rank(void **state)
{
  compare_with_one_rank(*state, 3, 30.0, PET_DYN_RANKS_PER_FRAME);
}

/* TAC tolerance: each reconstructed ROI mean, divided by the one global scale that best fits
 * all (region, frame) pairs, is within 10% of the true activity of that region and frame. */
#define TAC_TOL 0.10

static void test_tacs_follow_known_curves(void **state)
{
  fixture *f = *state;
  pet_dyn_frame fr[5];
  int64_t outside = 0;
  /* frames 0-20, 20-40, 40-60, 60-80 and 85-100 s: events of 80-85 s and 100-110 s are outside */
  for (int k = 0; k < 5; ++k) {
    fr[k].start_s = k < 4 ? 20.0 * k : 85.0;
    fr[k].duration_s = k < 4 ? 20.0 : 15.0;
    fr[k].factor = 1.0;
  }
  assert_int_equal(pet_dyn_frames_init(fr, 5), PET_OK);
  assert_int_equal(pet_dyn_find_events_sorted(f->lm->time_ms, f->lm->num_events, fr, 5, &outside), PET_OK);
  int64_t expect_outside = 0;
  for (int64_t e = 0; e < f->lm->num_events; ++e)
    expect_outside += (f->lm->time_ms[e] >= 80000 && f->lm->time_ms[e] < 85000) || f->lm->time_ms[e] >= 100000;
  assert_all(outside == expect_outside && outside > 0);

  pet_image **x = recon(f, comm, fr, 5, 6, 4, NULL);
  int nl = 0;
  int32_t *ids = NULL;
  double *means = NULL;
  assert_int_equal(pet_dyn_tac((const pet_image *const *)x, 5, f->labels, &nl, &ids, &means), PET_OK);
  assert_int_equal(nl, 3);
  /* truth: the sim frame covering each recon frame (85-100 lies inside sim frame 80-100) */
  double truth[3 * 5], num = 0, den = 0;
  for (int l = 0; l < 3; ++l)
    for (int k = 0; k < 5; ++k) {
      truth[l * 5 + k] = f->act[l * NSIM + k];
      num += means[l * 5 + k] * truth[l * 5 + k];
      den += truth[l * 5 + k] * truth[l * 5 + k];
    }
  const double scale = num / den;
  double worst = 0.0;
  for (int l = 0; l < 3; ++l)
    for (int k = 0; k < 5; ++k) {
      double err = fabs(means[l * 5 + k] / scale - truth[l * 5 + k]) / truth[l * 5 + k];
      if (err > worst) worst = err;
      if (pet_comm_rank(comm) == 0)
        printf("# roi %d frame %d: recon %.4f truth %.4f\n", ids[l], k, means[l * 5 + k] / scale, truth[l * 5 + k]);
    }
  if (pet_comm_rank(comm) == 0) printf("# TAC worst relative error %.3f (tolerance %.2f)\n", worst, TAC_TOL);
  assert_all(worst < TAC_TOL);
  free(ids);
  free(means);
  free_frames(x, 5);
}

int main(int argc, char **argv)
{
  if (pet_comm_init(&argc, &argv, &comm) != PET_OK) return 1;
  pet_error_set_print(false);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_frames_more_than_ranks_equals_one_rank),
      cmocka_unit_test(test_ranks_more_than_frames_equals_one_rank),
      cmocka_unit_test(test_uneven_groups_equal_one_rank),
      cmocka_unit_test(test_tacs_follow_known_curves),
  };
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  pet_comm_finalize(&comm);
  return rc;
}
