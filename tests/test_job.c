/* The reconstruction job of a config (pet_job.h), as an outside C program runs it: the same
 * image as pet_osem_run on the same data, its hooks, a stop with a checkpoint and the resume
 * that equals an uninterrupted run, the sensitivity job, streamed == in-memory list-mode, and
 * errors that name the field. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pet_config.h"
#include "pet_fov.h"
#include "pet_h5.h"
#include "pet_histogram.h"
#include "pet_job.h"
#include "pet_nifti.h"
#include "pet_osem.h"
#include "pet_phantom.h"
#include "pet_scanner.h"
#include "pet_simulate.h"
#include "pet_test_util.h"

typedef struct fixture {
  char dir[512];
  char scanner[600], data[600], listmode[600];
  pet_scanner *sc;
  pet_histo_layout *L;
  pet_sim_result sim;
  pet_image_params ip;
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_non_null(pet_test_tmpdir(f->dir, sizeof f->dir));
  pet_scanner_params sp = pet_scanner_params_small();
  sp.dets_per_ring = 64;
  sp.num_rings = 2;
  sp.axial_fov = 8.0f;
  sp.crystal_size_z = 4.0f;
  sp.scanner_radius = 50.0f;
  sp.dets_per_block = 8;
  sp.max_ring_diff = 1;
  sp.min_ang_diff = 1;
  assert_int_equal(pet_scanner_create(&f->sc, &sp), PET_OK);
  assert_int_equal(pet_histo_layout_create(&f->L, f->sc), PET_OK);
  f->ip = pet_image_params_make(16, 16, 2, 80.f, 80.f, 8.f);
  pet_image *truth = NULL;
  assert_int_equal(pet_image_create_owned(&truth, f->ip, PET_HOST), PET_OK);
  pet_phantom ph = pet_phantom_default(&f->ip);
  assert_int_equal(pet_phantom_activity(&ph, truth, 1), PET_OK);
  pet_sim_opts so = pet_sim_opts_default();
  so.total_trues = 2e4;
  assert_int_equal(pet_simulate_histogram(f->sc, f->L, truth, NULL, &so, &f->sim), PET_OK);
  pet_image_destroy(&truth);
  snprintf(f->scanner, sizeof f->scanner, "%s/scanner.json", f->dir);
  snprintf(f->data, sizeof f->data, "%s/data.h5", f->dir);
  snprintf(f->listmode, sizeof f->listmode, "%s/listmode.h5", f->dir);
  assert_int_equal(pet_scanner_write_json(f->sc, f->scanner, NULL), PET_OK);
  pet_h5_corrections corr;
  memset(&corr, 0, sizeof corr);
  assert_int_equal(pet_h5_write_histogram(f->data, f->sc->params.name, f->L->num_bins, f->sim.counts, &corr),
                   PET_OK);
  pet_listmode *lm = NULL;
  assert_int_equal(pet_simulate_listmode_from_histogram(f->L, f->sim.counts, 60000u, 5, &lm), PET_OK);
  assert_int_equal(pet_h5_write_listmode(f->listmode, f->sc->params.name, lm->num_events, lm->time_ms, lm->d1,
                                         lm->d2, NULL),
                   PET_OK);
  pet_listmode_destroy(&lm);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  const char *names[] = {"scanner.json", "data.h5", "listmode.h5", "ck.h5", "sens.nii", "other.h5"};
  char p[700];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
    snprintf(p, sizeof p, "%s/%s", f->dir, names[i]);
    remove(p);
  }
  rmdir(f->dir);
  pet_sim_result_free(&f->sim);
  pet_histo_layout_destroy(&f->L);
  pet_scanner_destroy(&f->sc);
  free(f);
  return 0;
}

/* The config of the fixture's histogram: 2 iterations x 4 subsets, one thread. */
static void config_of(const fixture *f, pet_config *c)
{
  pet_config_defaults(c);
  snprintf(c->scanner, sizeof c->scanner, "%s", f->scanner);
  snprintf(c->data, sizeof c->data, "%s", f->data);
  snprintf(c->output, sizeof c->output, "%s/never_written.nii", f->dir);
  c->iterations = 2;
  c->subsets = 4;
  c->threads = 1;
  c->image.nx = f->ip.nx;
  c->image.ny = f->ip.ny;
  c->image.nz = f->ip.nz;
  c->image.length_x = f->ip.length_x;
  c->image.length_y = f->ip.length_y;
  c->image.length_z = f->ip.length_z;
  assert_int_equal(pet_config_validate(c), PET_OK);
}

typedef struct seen {
  int layouts, subsets, iterations, logs, interrupts, polls, stop_at;
  int last_it, last_s;
  pet_job_layout layout;
  char checkpoint[1100];
} seen;

static void log_cb(void *ctx, pet_job_log_level level, const char *msg)
{
  (void)level;
  (void)msg;
  ((seen *)ctx)->logs++;
}
static void layout_cb(void *ctx, const pet_job_layout *l)
{
  seen *s = ctx;
  s->layouts++;
  s->layout = *l;
}
static void subset_cb(void *ctx, const pet_osem_progress *p)
{
  seen *s = ctx;
  s->subsets++;
  s->last_it = p->iteration;
  s->last_s = p->subset;
}
static bool stop_cb(void *ctx)
{
  seen *s = ctx;
  return ++s->polls == s->stop_at;
}
static pet_status iteration_cb(void *ctx, int it, const pet_image *x)
{
  (void)x;
  seen *s = ctx;
  s->iterations++;
  s->last_it = it;
  return PET_OK;
}
static void interrupt_cb(void *ctx, int it, int s_, const char *checkpoint)
{
  seen *s = ctx;
  s->interrupts++;
  s->last_it = it;
  s->last_s = s_;
  snprintf(s->checkpoint, sizeof s->checkpoint, "%s", checkpoint);
}

static pet_job_hooks hooks_for(seen *s)
{
  pet_job_hooks h;
  memset(&h, 0, sizeof h);
  h.ctx = s;
  h.log = log_cb;
  h.on_layout = layout_cb;
  h.on_subset = subset_cb;
  h.should_stop = stop_cb;
  h.on_iteration = iteration_cb;
  h.on_interrupt = interrupt_cb;
  return h;
}

static void assert_same_image(const pet_image *a, const pet_image *b, double rtol)
{
  assert_true(pet_image_params_equal(&a->params, &b->params));
  double top = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(a); ++v) top = fmax(top, fabs(a->data[v]));
  assert_true(top > 0);
  for (int64_t v = 0; v < pet_image_num_voxels(a); ++v)
    if (fabs((double)a->data[v] - b->data[v]) > rtol * fmax(fabs(a->data[v]), 1e-3 * top))
      fail_msg("voxel %lld: %g vs %g", (long long)v, (double)a->data[v], (double)b->data[v]);
}

static void test_job_equals_osem_run_and_calls_its_hooks(void **state)
{
  fixture *f = *state;
  pet_config c;
  config_of(f, &c);
  seen s;
  memset(&s, 0, sizeof s);
  pet_job_hooks h = hooks_for(&s);
  pet_job_result res;
  assert_int_equal(pet_job_recon(&c, NULL, NULL, &h, &res), PET_OK);
  assert_non_null(res.image);
  assert_int_equal(res.start_iteration, 0);
  assert_int_equal(s.layouts, 1);
  assert_int_equal(s.layout.ranks, 1);
  assert_false(s.layout.listmode);
  assert_int_equal(s.layout.items, f->L->num_bins);
  assert_int_equal(s.layout.nx, 16);
  assert_int_equal(s.subsets, 8);
  assert_int_equal(s.iterations, 2);
  assert_int_equal(s.last_it, 2);
  assert_int_equal(s.interrupts, 0);
  assert_false(access(c.output, F_OK) == 0); /* the caller writes the image */

  /* the same data and options straight through pet_osem_run */
  pet_histogram *his = NULL;
  assert_int_equal(pet_histogram_create_alias(&his, f->sc, f->sim.counts), PET_OK);
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->sc;
  d.layout = f->L;
  d.histogram = his;
  d.lm_count = -1;
  pet_osem_opts o = pet_osem_opts_default();
  o.iterations = 2;
  o.subsets = 4;
  o.proj.crystal_size_trans = f->sc->params.crystal_size_trans;
  o.proj.crystal_size_z = f->sc->params.crystal_size_z;
  o.proj.num_threads = 1;
  pet_projector_params_set_fov(&o.proj, &f->sc->params);
  pet_image *x = NULL;
  assert_int_equal(pet_image_create_owned(&x, f->ip, PET_HOST), PET_OK);
  pet_image_fill(x, 1.0f);
  assert_int_equal(pet_osem_run(&d, &o, NULL, x), PET_OK);
  assert_same_image(x, res.image, 1e-6);
  pet_image_destroy(&x);
  pet_histogram_destroy(&his);
  pet_job_result_free(&res);
  assert_null(res.image);
}

static void test_job_stop_writes_a_checkpoint_and_resume_equals_a_full_run(void **state)
{
  fixture *f = *state;
  pet_config c;
  config_of(f, &c);
  snprintf(c.checkpoint, sizeof c.checkpoint, "%s/ck.h5", f->dir);
  pet_job_result full;
  assert_int_equal(pet_job_recon(&c, NULL, NULL, NULL, &full), PET_OK);

  seen s;
  memset(&s, 0, sizeof s);
  s.stop_at = 6; /* polls come before subsets: stops before the 6th (iteration 2, subset 2) */
  pet_job_hooks h = hooks_for(&s);
  pet_job_result res;
  const bool was = pet_error_set_print(false);
  pet_status st = pet_job_recon(&c, NULL, NULL, &h, &res);
  pet_error_set_print(was);
  assert_int_equal(st, PET_ERR_INTERRUPTED);
  assert_null(res.image);
  assert_int_equal(s.interrupts, 1);
  assert_string_equal(s.checkpoint, c.checkpoint);
  assert_true(access(c.checkpoint, R_OK) == 0);
  const int next_it = s.last_it, next_s = s.last_s;
  assert_true(next_it * 4 + next_s > 0 && next_it * 4 + next_s < 8);

  pet_job_opts jo = pet_job_opts_default();
  jo.resume = PET_JOB_RESUME_REQUIRED;
  memset(&s, 0, sizeof s);
  h = hooks_for(&s);
  assert_int_equal(pet_job_recon(&c, &jo, NULL, &h, &res), PET_OK);
  assert_int_equal(res.start_iteration, next_it);
  assert_int_equal(s.subsets, 8 - (next_it * 4 + next_s));
  assert_true(s.logs >= 1); /* "resuming from ..." */
  /* one thread: the resumed image is the uninterrupted one, bit for bit */
  assert_memory_equal(res.image->data, full.image->data,
                      (size_t)pet_image_num_voxels(full.image) * sizeof(float));
  pet_job_result_free(&res);

  /* the checkpoint belongs to 4 subsets: 2 subsets refuse it, naming the field */
  c.subsets = 2;
  pet_error_set_print(false);
  st = pet_job_recon(&c, &jo, NULL, NULL, &res);
  pet_error_set_print(was);
  assert_int_equal(st, PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "subsets: checkpoint 4, this run 2"));
  /* none there: required is an error, if-present starts afresh */
  remove(c.checkpoint);
  c.subsets = 4;
  pet_error_set_print(false);
  st = pet_job_recon(&c, &jo, NULL, NULL, &res);
  pet_error_set_print(was);
  assert_int_equal(st, PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), c.checkpoint));
  jo.resume = PET_JOB_RESUME_IF_PRESENT;
  assert_int_equal(pet_job_recon(&c, &jo, NULL, NULL, &res), PET_OK);
  assert_int_equal(res.start_iteration, 0);
  assert_memory_equal(res.image->data, full.image->data,
                      (size_t)pet_image_num_voxels(full.image) * sizeof(float));
  pet_job_result_free(&res);
  pet_job_result_free(&full);
}

static void test_job_sens_writes_and_returns_the_sensitivity(void **state)
{
  fixture *f = *state;
  pet_config c;
  config_of(f, &c);
  c.data[0] = '\0';
  snprintf(c.save_sensitivity, sizeof c.save_sensitivity, "%s/sens.nii", f->dir);
  pet_job_result res;
  assert_int_equal(pet_job_sens(&c, NULL, NULL, NULL, &res), PET_OK);
  pet_image *back = NULL;
  assert_int_equal(pet_image_read_nifti(&back, c.save_sensitivity), PET_OK);
  assert_same_image(res.image, back, 1e-6);
  /* A^T 1 over all bins, in one pass of the library (the job sums 8 parts: float rounding) */
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->sc;
  d.layout = f->L;
  d.lm_count = -1;
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 1;
  o.proj.crystal_size_trans = f->sc->params.crystal_size_trans;
  o.proj.crystal_size_z = f->sc->params.crystal_size_z;
  pet_projector_params_set_fov(&o.proj, &f->sc->params);
  pet_image *one = NULL;
  assert_int_equal(pet_image_create_owned(&one, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_osem_sensitivity(&d, &o, &one, 1), PET_OK);
  assert_same_image(one, res.image, 1e-5);
  pet_image_destroy(&one);
  pet_image_destroy(&back);
  pet_job_result_free(&res);
}

static void test_job_streamed_listmode_equals_in_memory(void **state)
{
  fixture *f = *state;
  pet_config c;
  config_of(f, &c);
  snprintf(c.data, sizeof c.data, "%s", f->listmode);
  pet_job_result mem, str;
  assert_int_equal(pet_job_recon(&c, NULL, NULL, NULL, &mem), PET_OK);
  c.stream = true;
  c.lm_window_events = 3000; /* several windows */
  seen s;
  memset(&s, 0, sizeof s);
  pet_job_hooks h = hooks_for(&s);
  assert_int_equal(pet_job_recon(&c, NULL, NULL, &h, &str), PET_OK);
  assert_true(s.layout.listmode);
  assert_true(s.layout.items > 10000);
  /* the CPU image of a streamed list-mode is bit for bit the in-memory one */
  assert_memory_equal(str.image->data, mem.image->data, (size_t)pet_image_num_voxels(mem.image) * sizeof(float));
  pet_job_result_free(&mem);
  pet_job_result_free(&str);
  /* a histogram is not streamed: an error naming the field */
  snprintf(c.data, sizeof c.data, "%s", f->data);
  const bool was = pet_error_set_print(false);
  pet_status st = pet_job_recon(&c, NULL, NULL, NULL, &str);
  pet_error_set_print(was);
  assert_int_equal(st, PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "field \"stream\""));
}

static void test_job_errors_name_the_field(void **state)
{
  fixture *f = *state;
  pet_config c;
  config_of(f, &c);
  pet_job_result res;
  const bool was = pet_error_set_print(false);
  assert_int_equal(pet_job_recon(&c, NULL, NULL, NULL, NULL), PET_ERR_ARG);
  snprintf(c.frames, sizeof c.frames, "2x10");
  assert_int_equal(pet_job_recon(&c, NULL, NULL, NULL, &res), PET_ERR_UNSUPPORTED);
  assert_non_null(strstr(pet_last_error(), "frames"));
  c.frames[0] = '\0';
  snprintf(c.data, sizeof c.data, "%s/nonexistent.h5", f->dir);
  assert_int_not_equal(pet_job_recon(&c, NULL, NULL, NULL, &res), PET_OK);
  assert_non_null(strstr(pet_last_error(), "nonexistent.h5"));
  c.data[0] = '\0';
  assert_int_equal(pet_job_recon(&c, NULL, NULL, NULL, &res), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "field \"data\""));
  snprintf(c.data, sizeof c.data, "%s", f->data);
  c.subsets = 100000; /* more subsets than the scanner's angles */
  assert_int_not_equal(pet_job_recon(&c, NULL, NULL, NULL, &res), PET_OK);
  assert_null(res.image);
  pet_error_set_print(was);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_job_equals_osem_run_and_calls_its_hooks),
      cmocka_unit_test(test_job_stop_writes_a_checkpoint_and_resume_equals_a_full_run),
      cmocka_unit_test(test_job_sens_writes_and_returns_the_sensitivity),
      cmocka_unit_test(test_job_streamed_listmode_equals_in_memory),
      cmocka_unit_test(test_job_errors_name_the_field),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
