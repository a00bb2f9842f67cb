/* Distributed OSEM on the host MPI path: N ranks == 1 rank (histogram and list-mode; OSEM, OSL
 * and BSREM) with both per-subset reductions (allreduce; reduce-scatter to z-slabs +
 * allgather), ranks with no work or no slab, agreement on a rank-local failure. Run under mpirun at np = 1, 2, 4. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pet_comm.h"
#include "pet_gpu.h"
#include "pet_h5.h"
#include "pet_histogram.h"
#include "pet_osem.h"
#include "pet_phantom.h"
#include "pet_prior.h"
#include "pet_scanner.h"
#include "pet_simulate.h"
#include "pet_test_util.h"

static pet_comm *comm;

/* Every rank must reach the same verdict, or one would wait forever in a collective. */
static void assert_all(int ok)
{
  int64_t bad = ok ? 0 : 1;
  assert_int_equal(pet_comm_allreduce_sum_i64(comm, &bad, 1), PET_OK);
  assert_int_equal(bad, 0);
}

typedef struct fixture {
  pet_scanner *scanner;
  pet_histo_layout *L;
  pet_image_params ip;
  pet_sim_result sim;
  pet_histogram *h;
  pet_listmode *lm;
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  pet_scanner_params sp = pet_scanner_params_small();
  sp.dets_per_ring = 64;
  sp.num_rings = 3;
  sp.axial_fov = 9.0f;
  sp.crystal_size_z = 3.0f;
  sp.scanner_radius = 50.0f;
  sp.dets_per_block = 8;
  sp.max_ring_diff = 2;
  if (pet_scanner_create(&f->scanner, &sp) != PET_OK) return -1;
  if (pet_histo_layout_create(&f->L, f->scanner) != PET_OK) return -1;
  f->ip = pet_image_params_make(24, 24, 3, 72.f, 72.f, 9.f);
  pet_image *truth = NULL;
  pet_image_create_owned(&truth, f->ip, PET_HOST);
  pet_phantom ph = pet_phantom_default(&f->ip);
  pet_phantom_activity(&ph, truth, 2);
  pet_sim_opts so = pet_sim_opts_default();
  so.total_trues = 3e4;
  so.normalisation = true;
  so.randoms_fraction = 0.1f;
  if (pet_simulate_histogram(f->scanner, f->L, truth, NULL, &so, &f->sim) != PET_OK) return -1;
  pet_image_destroy(&truth);
  if (pet_histogram_create_alias(&f->h, f->scanner, f->sim.counts) != PET_OK) return -1;
  if (pet_simulate_listmode_from_histogram(f->L, f->sim.counts, 1000, 5, &f->lm) != PET_OK) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  pet_listmode_destroy(&f->lm);
  pet_histogram_destroy(&f->h);
  pet_sim_result_free(&f->sim);
  pet_histo_layout_destroy(&f->L);
  pet_scanner_destroy(&f->scanner);
  free(f);
  return 0;
}

/* 1 rank vs N ranks with options base (its reducer is set here). */
static double run_compare_opts(fixture *f, pet_osem_data *d, const pet_osem_opts *base)
{
  pet_osem_opts o = *base;
  pet_image *ref = NULL, *dist = NULL;
  pet_image_create_owned(&ref, f->ip, PET_HOST);
  pet_image_create_owned(&dist, f->ip, PET_HOST);
  pet_image_fill(ref, 1.0f);
  pet_image_fill(dist, 1.0f);
  pet_status st = pet_osem_run(d, &o, NULL, ref); /* this rank alone: the 1-rank result */
  pet_reducer r = pet_comm_reducer(comm);
  o.reducer = &r;
  pet_status st2 = pet_osem_run(d, &o, NULL, dist);
  assert_all(st == PET_OK && st2 == PET_OK);
  double num = 0, den = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(ref); ++v) {
    num += (ref->data[v] - dist->data[v]) * (double)(ref->data[v] - dist->data[v]);
    den += (double)ref->data[v] * ref->data[v];
  }
  pet_image_destroy(&ref);
  pet_image_destroy(&dist);
  return den > 0 ? sqrt(num / den) : 1.0;
}

static double run_compare(fixture *f, pet_osem_data *d, int subsets, int iterations, bool slab)
{
  pet_osem_opts o = pet_osem_opts_default();
  o.slab_update = slab;
  o.subsets = subsets;
  o.iterations = iterations;
  o.batch_lors = 777; /* many batches, uneven ones */
  return run_compare_opts(f, d, &o);
}

/* A beta that makes the prior matter on this data: the RDP's gradient is O(beta), so a
 * fraction of the mean sensitivity (the same on every rank: computed by each alone). */
static float beta_for(fixture *f, const pet_osem_data *d, double fraction)
{
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 1;
  pet_image *s = NULL;
  pet_image_create_owned(&s, f->ip, PET_HOST);
  assert_all(pet_osem_sensitivity(d, &o, &s, 1) == PET_OK);
  double sum = 0.0;
  int64_t n = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(s); ++v)
    if (s->data[v] > 0.0f) sum += s->data[v], ++n;
  pet_image_destroy(&s);
  return (float)(fraction * sum / (double)(n > 0 ? n : 1));
}

/* OSL and BSREM with each prior: the prior's gradient comes from the whole image, which every
 * rank holds after the reduction (slab update: each rank its slab, from its slab and the
 * neighbouring slices; with 4 ranks on 3 slices one rank has no slab). */
static void test_regularised_osem_n_ranks_equals_one_rank(void **state)
{
  fixture *f = *state;
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  d.histogram = f->h;
  d.mult = f->sim.mult;
  d.add = f->sim.add;
  d.lm_count = -1;
  const float beta = beta_for(f, &d, 0.05);
  for (int c = 0; c < 5; ++c) {
    pet_osem_data dc = d;
    if (c == 4) {
      dc.histogram = NULL;
      dc.listmode = f->lm;
      dc.add = NULL;
    }
    pet_osem_opts o = pet_osem_opts_default();
    o.subsets = c == 4 ? 3 : 4;
    o.iterations = 2;
    o.batch_lors = 777;
    o.slab_update = c % 2 == 1 || c == 4;
    o.algorithm = c < 2 || c == 4 ? PET_OSEM_ALG_OSL : PET_OSEM_ALG_BSREM;
    o.prior.kind = c == 3 ? PET_PRIOR_QUADRATIC : PET_PRIOR_RDP;
    o.prior.beta = c == 3 ? 0.02f * beta : beta;
    o.relaxation_eta = 0.3f;
    const double e = run_compare_opts(f, &dc, &o);
    if (pet_comm_rank(comm) == 0)
      printf("  %d rank(s): %s %s, %s%s: rel rmse to 1 rank %.3g\n", pet_comm_size(comm),
             pet_osem_algorithm_name(o.algorithm), pet_prior_kind_name(o.prior.kind),
             o.slab_update ? "slab update" : "allreduce", c == 4 ? ", list-mode" : "", e);
    assert_all(e < 1e-5);
  }
}

static void test_histogram_osem_n_ranks_equals_one_rank(void **state)
{
  fixture *f = *state;
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  d.histogram = f->h;
  d.mult = f->sim.mult;
  d.add = f->sim.add;
  d.lm_count = -1;
  assert_all(run_compare(f, &d, 4, 2, false) < 1e-5);
  assert_all(run_compare(f, &d, 4, 2, true) < 1e-5);
}

static void test_listmode_osem_n_ranks_equals_one_rank(void **state)
{
  fixture *f = *state;
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  d.listmode = f->lm;
  d.mult = f->sim.mult;
  d.lm_count = -1;
  assert_all(run_compare(f, &d, 3, 2, false) < 1e-5);
  assert_all(run_compare(f, &d, 3, 2, true) < 1e-5);
}

static double rel_rmse(const pet_image *a, const pet_image *b)
{
  double num = 0, den = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(a); ++v) {
    num += (a->data[v] - b->data[v]) * (double)(a->data[v] - b->data[v]);
    den += (double)a->data[v] * a->data[v];
  }
  return den > 0 ? sqrt(num / den) : 1.0;
}

/* list-mode streamed from a file on every rank (each its own copy of the file): N ranks,
 * streamed, == 1 rank in memory, with both reductions, on the CPU and (where every rank sees
 * a device) on the GPU */
static void test_streamed_listmode_n_ranks_equals_one_rank(void **state)
{
  fixture *f = *state;
  char dir[512], path[600];
  pet_test_tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/lm.h5", dir);
  assert_int_equal(pet_h5_write_listmode(path, "TEST", f->lm->num_events, f->lm->time_ms, f->lm->d1, f->lm->d2,
                                         NULL), PET_OK);
  pet_lm_source src;
  assert_int_equal(pet_h5_listmode_source_open(path, &src), PET_OK);
  int64_t none = pet_gpu_device_count() == 0;
  assert_int_equal(pet_comm_allreduce_sum_i64(comm, &none, 1), PET_OK);
  int dev = -1;
  if (none == 0) assert_all(pet_comm_setup_gpu(comm, PET_COMM_AUTO, &dev) == PET_OK);
  pet_reducer r = pet_comm_reducer(comm);
  for (int c = 0; c < (none == 0 ? 4 : 2); ++c) {
    pet_osem_data d;
    memset(&d, 0, sizeof d);
    d.scanner = f->scanner;
    d.layout = f->L;
    d.mult = f->sim.mult;
    d.lm_count = -1;
    pet_osem_opts o = pet_osem_opts_default();
    o.subsets = 3;
    o.iterations = 2;
    o.batch_lors = 777;
    o.lm_window_events = 1600; /* windows of two batches */
    pet_image *ref = NULL, *xs = NULL;
    pet_image_create_owned(&ref, f->ip, PET_HOST);
    pet_image_create_owned(&xs, f->ip, PET_HOST);
    pet_image_fill(ref, 1.0f);
    pet_image_fill(xs, 1.0f);
    d.listmode = f->lm;
    pet_status st = pet_osem_run(&d, &o, NULL, ref); /* this rank alone, in memory */
    d.listmode = NULL;
    d.lm_source = &src;
    o.reducer = &r;
    o.slab_update = c % 2 == 1;
    o.gpu = c >= 2;
    o.gpu_device = dev;
    pet_status st2 = pet_osem_run(&d, &o, NULL, xs);
    assert_all(st == PET_OK && st2 == PET_OK);
    const double e = rel_rmse(ref, xs);
    if (pet_comm_rank(comm) == 0)
      printf("  streamed at %d rank(s), %s, %s: rel rmse vs 1 rank in memory %.3g\n", pet_comm_size(comm),
             o.gpu ? "gpu" : "cpu", o.slab_update ? "slab update" : "allreduce", e);
    assert_all(e < 1e-5);
    pet_image_destroy(&ref);
    pet_image_destroy(&xs);
  }
  pet_h5_listmode_source_close(&src);
  unlink(path);
  rmdir(dir);
}

static void test_ranks_without_work_are_fine(void **state)
{
  fixture *f = *state;
  /* 3 events over up to 4 ranks and 1 subset: some ranks get nothing */
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  d.listmode = f->lm;
  d.lm_first = 10;
  d.lm_count = 3;
  assert_all(run_compare(f, &d, 1, 2, false) < 1e-5);
  assert_all(run_compare(f, &d, 1, 2, true) < 1e-5);
}

/* The slab update really splits the image: with 4 ranks and 3 slices one rank updates nothing
 * and still takes part; the phase timings it reports add up to no more than the subset. */
static void record_phases(void *ctx, const pet_osem_progress *p)
{
  int *ok = ctx;
  double sum = p->project_s + p->reduce_s + p->update_s + p->gather_s;
  *ok = *ok && p->project_s >= 0 && p->reduce_s >= 0 && p->update_s >= 0 && p->gather_s >= 0 &&
        sum <= p->seconds + 1e-6;
}

static void test_slab_update_equals_allreduce_and_times_phases(void **state)
{
  fixture *f = *state;
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  d.histogram = f->h;
  d.mult = f->sim.mult;
  d.add = f->sim.add;
  d.lm_count = -1;
  pet_reducer r = pet_comm_reducer(comm);
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 2;
  o.iterations = 2;
  o.reducer = &r;
  int ok = 1;
  o.on_subset = record_phases;
  o.cb_ctx = &ok;
  pet_image *a = NULL, *b = NULL;
  pet_image_create_owned(&a, f->ip, PET_HOST);
  pet_image_create_owned(&b, f->ip, PET_HOST);
  pet_image_fill(a, 1.0f);
  pet_image_fill(b, 1.0f);
  pet_status st = pet_osem_run(&d, &o, NULL, a);
  o.slab_update = true;
  pet_status st2 = pet_osem_run(&d, &o, NULL, b);
  assert_all(st == PET_OK && st2 == PET_OK && ok);
  double num = 0, den = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(a); ++v) {
    num += (a->data[v] - b->data[v]) * (double)(a->data[v] - b->data[v]);
    den += (double)a->data[v] * a->data[v];
  }
  assert_all(den > 0 && sqrt(num / den) < 1e-5);
  /* the slabs tile the slices */
  int32_t next = 0, z0, z1;
  for (int rk = 0; rk < pet_comm_size(comm); ++rk) {
    pet_plan_rank_slab(f->ip.nz, rk, pet_comm_size(comm), &z0, &z1);
    assert_int_equal(z0, next);
    next = z1;
  }
  assert_int_equal(next, f->ip.nz);
  pet_image_destroy(&a);
  pet_image_destroy(&b);
}


/* The one loop with the GPU backend over the ranks (on a one-GPU machine the ranks share the
 * GPU and reduce through host MPI, device buffers staged): for each option, allreduce and
 * slab update, histogram and list-mode, the GPU result at N ranks equals the CPU's at N ranks. */
static void test_gpu_backend_over_ranks_equals_cpu(void **state)
{
  fixture *f = *state;
  /* every rank needs a device (they may share one) */
  int64_t none = pet_gpu_device_count() == 0;
  assert_int_equal(pet_comm_allreduce_sum_i64(comm, &none, 1), PET_OK);
  if (none > 0) skip();
  int dev = -1;
  assert_all(pet_comm_setup_gpu(comm, PET_COMM_AUTO, &dev) == PET_OK);
  pet_reducer r = pet_comm_reducer(comm);
  float beta = 0.0f;
  {
    pet_osem_data d;
    memset(&d, 0, sizeof d);
    d.scanner = f->scanner;
    d.layout = f->L;
    d.mult = f->sim.mult;
    d.lm_count = -1;
    beta = beta_for(f, &d, 0.05);
  }
  for (int c = 0; c < 7; ++c) {
    pet_osem_data d;
    memset(&d, 0, sizeof d);
    d.scanner = f->scanner;
    d.layout = f->L;
    d.mult = f->sim.mult;
    d.add = f->sim.add;
    d.lm_count = -1;
    if (c == 3) d.listmode = f->lm;
    else d.histogram = f->h;
    pet_osem_opts o = pet_osem_opts_default();
    o.subsets = 2;
    o.iterations = 2;
    o.reducer = &r;
    o.gpu_device = dev;
    o.slab_update = c == 1 || c == 3 || c == 4;
    if (c == 2) o.psf_fwhm_mm = 4.0f;
    if (c == 4) pet_projector_params_set_name(&o.proj, "DD");
    if (c >= 5) { /* regularised: the prior's kernels and the OSL / BSREM updates on the device */
      o.slab_update = c == 5;
      o.algorithm = c == 5 ? PET_OSEM_ALG_OSL : PET_OSEM_ALG_BSREM;
      o.prior.kind = c == 5 ? PET_PRIOR_RDP : PET_PRIOR_QUADRATIC;
      o.prior.beta = c == 5 ? beta : 0.02f * beta;
    }
    const char *what[] = {"histogram, allreduce", "histogram, slab update", "histogram, PSF",
                          "list-mode, slab update", "DD, slab update", "OSL RDP, slab update",
                          "BSREM quadratic"};
    pet_image *xc = NULL, *xg = NULL;
    pet_image_create_owned(&xc, f->ip, PET_HOST);
    pet_image_create_owned(&xg, f->ip, PET_HOST);
    pet_image_fill(xc, 1.0f);
    pet_image_fill(xg, 1.0f);
    pet_status st = pet_osem_run(&d, &o, NULL, xc);
    o.gpu = true;
    pet_status st2 = pet_osem_run(&d, &o, NULL, xg);
    assert_all(st == PET_OK && st2 == PET_OK);
    const double e = rel_rmse(xc, xg);
    if (pet_comm_rank(comm) == 0) printf("  gpu == cpu at %d rank(s), %-24s rel rmse %.3g\n", pet_comm_size(comm), what[c], e);
    assert_all(e < 1e-4);
    pet_image_destroy(&xc);
    pet_image_destroy(&xg);
  }
}

static void test_rank_local_failure_stops_every_rank(void **state)
{
  (void)state;
  int last = pet_comm_size(comm) - 1;
  pet_status local = PET_OK;
  if (pet_comm_rank(comm) == last) local = PET_ERROR(PET_ERR_IO, "missing.h5: cannot open (test)");
  pet_status st = pet_comm_agree(comm, local);
  assert_int_equal(st, PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "missing.h5"));
  /* and agreement on success is success everywhere */
  assert_int_equal(pet_comm_agree(comm, PET_OK), PET_OK);
}

int main(int argc, char **argv)
{
  if (pet_comm_init(&argc, &argv, &comm) != PET_OK) return 1;
  pet_error_set_print(false);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_histogram_osem_n_ranks_equals_one_rank),
      cmocka_unit_test(test_listmode_osem_n_ranks_equals_one_rank),
      cmocka_unit_test(test_regularised_osem_n_ranks_equals_one_rank),
      cmocka_unit_test(test_streamed_listmode_n_ranks_equals_one_rank),
      cmocka_unit_test(test_ranks_without_work_are_fine),
      cmocka_unit_test(test_slab_update_equals_allreduce_and_times_phases),
      cmocka_unit_test(test_gpu_backend_over_ranks_equals_cpu),
      cmocka_unit_test(test_rank_local_failure_stops_every_rank),
  };
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  pet_comm_finalize(&comm);
  return rc;
}
