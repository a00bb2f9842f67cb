/* OSEM over a list-mode streamed from a file (pet_osem_data.lm_source): the same image as the
 * list-mode held in memory, bit for bit on the CPU, for TOF, subsets, a time-frame range and
 * an additive term; windows smaller than a batch; errors from the file or its reader. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pet_gpu.h"
#include "pet_h5.h"
#include "pet_histogram.h"
#include "pet_osem.h"
#include "pet_phantom.h"
#include "pet_scanner.h"
#include "pet_simulate.h"
#include "pet_test_util.h"

typedef struct fixture {
  pet_scanner *scanner;
  pet_histo_layout *L;
  pet_image_params ip;
  pet_listmode *lm; /* with TOF */
  float *lm_add;
  char dir[512], path[600];
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  pet_scanner_params sp = pet_scanner_params_small();
  snprintf(sp.name, sizeof sp.name, "TEST96");
  sp.dets_per_ring = 96;
  sp.num_rings = 4;
  sp.axial_fov = 12.0f;
  sp.crystal_size_z = 3.0f;
  sp.crystal_size_trans = 3.0f;
  sp.scanner_radius = 60.0f;
  sp.dets_per_block = 8;
  sp.max_ring_diff = 3;
  sp.min_ang_diff = 1;
  if (pet_scanner_create(&f->scanner, &sp) != PET_OK) return -1;
  if (pet_histo_layout_create(&f->L, f->scanner) != PET_OK) return -1;
  f->ip = pet_image_params_make(32, 32, 4, 96.f, 96.f, 12.f);
  pet_image *truth = NULL;
  if (pet_image_create_owned(&truth, f->ip, PET_HOST) != PET_OK) return -1;
  pet_phantom ph = pet_phantom_default(&f->ip);
  pet_phantom_activity(&ph, truth, 2);
  pet_sim_opts so = pet_sim_opts_default();
  so.total_trues = 4e4;
  so.seed = 5;
  pet_sim_result r;
  if (pet_simulate_histogram(f->scanner, f->L, truth, NULL, &so, &r) != PET_OK) return -1;
  pet_listmode *plain = NULL;
  if (pet_simulate_listmode_from_histogram(f->L, r.counts, 50000, 7, &plain) != PET_OK) return -1;
  /* the same events with TOF values (any values do for the equality; within +-400 ps) */
  const int64_t n = plain->num_events;
  if (pet_listmode_create_owned(&f->lm, n, true) != PET_OK) return -1;
  f->lm_add = malloc((size_t)n * sizeof(float));
  for (int64_t i = 0; i < n; ++i) {
    f->lm->time_ms[i] = plain->time_ms[i];
    f->lm->d1[i] = plain->d1[i];
    f->lm->d2[i] = plain->d2[i];
    f->lm->tof_ps[i] = 800.0f * (pet_test_uniform((uint64_t)i * 2 + 1) - 0.5f);
    f->lm_add[i] = 1e-3f * pet_test_uniform((uint64_t)i * 2 + 2);
  }
  pet_listmode_destroy(&plain);
  pet_sim_result_free(&r);
  pet_image_destroy(&truth);
  pet_test_tmpdir(f->dir, sizeof f->dir);
  snprintf(f->path, sizeof f->path, "%s/lm.h5", f->dir);
  if (pet_h5_write_listmode(f->path, "TEST96", n, f->lm->time_ms, f->lm->d1, f->lm->d2, f->lm->tof_ps) != PET_OK)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  unlink(f->path);
  rmdir(f->dir);
  free(f->lm_add);
  pet_listmode_destroy(&f->lm);
  pet_histo_layout_destroy(&f->L);
  pet_scanner_destroy(&f->scanner);
  free(f);
  return 0;
}

static pet_osem_opts opts(bool tof)
{
  pet_osem_opts o = pet_osem_opts_default();
  o.iterations = 2;
  o.subsets = 3;
  o.batch_lors = 1000;
  o.lm_window_events = 2500; /* two batches a window: windows end inside subsets */
  if (tof) {
    o.proj.tof = 1;
    o.proj.tof_fwhm_ps = 300.0f;
  }
  return o;
}

/* OSEM in memory and streamed from the file, same data and options; the images. */
static void run_both(const fixture *f, const pet_osem_data *base, const pet_osem_opts *o, pet_image **xm,
                     pet_image **xs)
{
  pet_osem_data dm = *base;
  dm.listmode = f->lm;
  pet_lm_source src;
  assert_int_equal(pet_h5_listmode_source_open(f->path, &src), PET_OK);
  assert_int_equal(src.num_events, f->lm->num_events);
  assert_true(src.has_tof);
  pet_osem_data ds = *base;
  ds.lm_source = &src;
  assert_int_equal(pet_image_create_owned(xm, f->ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(xs, f->ip, PET_HOST), PET_OK);
  pet_image_fill(*xm, 1.0f);
  pet_image_fill(*xs, 1.0f);
  assert_int_equal(pet_osem_run(&dm, o, NULL, *xm), PET_OK);
  assert_int_equal(pet_osem_run(&ds, o, NULL, *xs), PET_OK);
  pet_h5_listmode_source_close(&src);
}

static pet_osem_data base_data(const fixture *f)
{
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  d.lm_count = -1;
  return d;
}

static void assert_bitwise(const pet_image *a, const pet_image *b)
{
  const int64_t nv = pet_image_num_voxels(a);
  double sum = 0;
  for (int64_t v = 0; v < nv; ++v) sum += a->data[v];
  assert_true(sum > 0);
  assert_memory_equal(a->data, b->data, (size_t)nv * sizeof(float));
}

static void test_streamed_equals_in_memory_bitwise(void **state)
{
  fixture *f = *state;
  for (int tof = 0; tof < 2; ++tof) {
    pet_osem_opts o = opts(tof);
    pet_image *xm = NULL, *xs = NULL;
    pet_osem_data d = base_data(f);
    run_both(f, &d, &o, &xm, &xs);
    assert_bitwise(xm, xs);
    pet_image_destroy(&xm);
    pet_image_destroy(&xs);
  }
}

/* the regularised updates read only the image: streamed == in memory, bit for bit, too */
static void test_streamed_regularised_equals_in_memory_bitwise(void **state)
{
  fixture *f = *state;
  for (int alg = PET_OSEM_ALG_OSL; alg <= PET_OSEM_ALG_BSREM; ++alg) {
    pet_osem_opts o = opts(alg == PET_OSEM_ALG_BSREM);
    o.algorithm = (pet_osem_algorithm)alg;
    o.prior.kind = alg == PET_OSEM_ALG_OSL ? PET_PRIOR_RDP : PET_PRIOR_QUADRATIC;
    o.prior.beta = 0.5f;
    pet_image *xm = NULL, *xs = NULL;
    pet_osem_data d = base_data(f);
    run_both(f, &d, &o, &xm, &xs);
    assert_bitwise(xm, xs);
    pet_image_destroy(&xm);
    pet_image_destroy(&xs);
  }
}

/* a time frame (a range of the events) and a per-event additive term */
static void test_streamed_frame_range_and_additive(void **state)
{
  fixture *f = *state;
  pet_osem_opts o = opts(true);
  pet_osem_data d = base_data(f);
  d.lm_first = 7001;
  d.lm_count = 30011;
  d.lm_add = f->lm_add;
  pet_image *xm = NULL, *xs = NULL;
  run_both(f, &d, &o, &xm, &xs);
  assert_bitwise(xm, xs);
  pet_image_destroy(&xm);
  pet_image_destroy(&xs);
}

/* windows smaller than a batch cut the batches: the same image up to float summation order */
static void test_small_windows(void **state)
{
  fixture *f = *state;
  pet_osem_opts o = opts(false);
  o.lm_window_events = 333;
  pet_osem_data d = base_data(f);
  pet_image *xm = NULL, *xs = NULL;
  run_both(f, &d, &o, &xm, &xs);
  double num = 0, den = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(xm); ++v) {
    num += (xm->data[v] - (double)xs->data[v]) * (xm->data[v] - (double)xs->data[v]);
    den += (double)xm->data[v] * xm->data[v];
  }
  assert_true(den > 0);
  assert_true(sqrt(num / den) < 1e-5);
  pet_image_destroy(&xm);
  pet_image_destroy(&xs);
}

/* A source whose reads fail from event `fail_at` on (a file cut short under the reader). */
typedef struct failing {
  pet_lm_source inner;
  int64_t fail_at;
  int reads;
} failing;

static pet_status failing_read(void *ctx, int64_t first, int64_t count, uint32_t *d1, uint32_t *d2, float *tof)
{
  failing *fl = ctx;
  fl->reads++;
  if (first + count > fl->fail_at)
    return PET_ERROR(PET_ERR_IO, "broken.h5: events from %lld cannot be read", (long long)fl->fail_at);
  return fl->inner.read(fl->inner.ctx, first, count, d1, d2, tof);
}

static void test_reader_errors_stop_the_run(void **state)
{
  fixture *f = *state;
  failing fl;
  memset(&fl, 0, sizeof fl);
  assert_int_equal(pet_h5_listmode_source_open(f->path, &fl.inner), PET_OK);
  fl.fail_at = 20000;
  pet_lm_source src = fl.inner;
  src.read = failing_read;
  src.ctx = &fl;
  src.name = "broken.h5";
  pet_osem_data d = base_data(f);
  d.lm_source = &src;
  pet_osem_opts o = opts(false);
  pet_image *x = NULL;
  assert_int_equal(pet_image_create_owned(&x, f->ip, PET_HOST), PET_OK);
  pet_image_fill(x, 1.0f);
  const bool was = pet_error_set_print(false);
  assert_int_equal(pet_osem_run(&d, &o, NULL, x), PET_ERR_IO);
  pet_error_set_print(was);
  assert_non_null(strstr(pet_last_error(), "broken.h5"));
  assert_true(fl.reads >= 2); /* it failed in a later window, not at the start */
  pet_h5_listmode_source_close(&fl.inner);
  pet_image_destroy(&x);
}

static void test_bad_detector_ids_in_the_file(void **state)
{
  fixture *f = *state;
  const int64_t n = 5000;
  uint32_t *d1 = malloc((size_t)n * 4), *d2 = malloc((size_t)n * 4), *t = calloc((size_t)n, 4);
  memcpy(d1, f->lm->d1, (size_t)n * 4);
  memcpy(d2, f->lm->d2, (size_t)n * 4);
  d2[4321] = (uint32_t)f->scanner->num_dets + 5;
  char path[700];
  snprintf(path, sizeof path, "%s/bad_ids.h5", f->dir);
  assert_int_equal(pet_h5_write_listmode(path, "TEST96", n, t, d1, d2, NULL), PET_OK);
  pet_lm_source src;
  assert_int_equal(pet_h5_listmode_source_open(path, &src), PET_OK);
  pet_osem_data d = base_data(f);
  d.lm_source = &src;
  pet_osem_opts o = opts(false);
  pet_image *x = NULL;
  assert_int_equal(pet_image_create_owned(&x, f->ip, PET_HOST), PET_OK);
  pet_image_fill(x, 1.0f);
  const bool was = pet_error_set_print(false);
  assert_int_not_equal(pet_osem_run(&d, &o, NULL, x), PET_OK);
  pet_error_set_print(was);
  assert_non_null(strstr(pet_last_error(), "bad_ids.h5"));
  assert_non_null(strstr(pet_last_error(), "event 4321"));
  pet_h5_listmode_source_close(&src);
  unlink(path);
  free(d1);
  free(d2);
  free(t);
  pet_image_destroy(&x);
}

static void test_bad_stream_options(void **state)
{
  fixture *f = *state;
  pet_lm_source src;
  assert_int_equal(pet_h5_listmode_source_open(f->path, &src), PET_OK);
  pet_image *x = NULL;
  assert_int_equal(pet_image_create_owned(&x, f->ip, PET_HOST), PET_OK);
  pet_image_fill(x, 1.0f);
  const bool was = pet_error_set_print(false);
  pet_osem_data d = base_data(f);
  d.lm_source = &src;
  d.listmode = f->lm; /* both */
  pet_osem_opts o = opts(false);
  assert_int_equal(pet_osem_run(&d, &o, NULL, x), PET_ERR_ARG);
  d.listmode = NULL;
  o.lm_window_events = -1;
  assert_int_equal(pet_osem_run(&d, &o, NULL, x), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "lm_window_events"));
  o = opts(false);
  d.lm_first = 10;
  d.lm_count = f->lm->num_events; /* past the end */
  assert_int_equal(pet_osem_run(&d, &o, NULL, x), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), f->path));
  pet_error_set_print(was);
  char missing[700];
  snprintf(missing, sizeof missing, "%s/missing.h5", f->dir);
  pet_lm_source none;
  pet_error_set_print(false);
  assert_int_not_equal(pet_h5_listmode_source_open(missing, &none), PET_OK);
  pet_error_set_print(was);
  assert_non_null(strstr(pet_last_error(), "missing.h5"));
  pet_h5_listmode_source_close(&src);
  pet_image_destroy(&x);
}

/* the GPU backend streams the windows through its pinned batches: equal to its in-memory run
 * (up to the order of the atomic additions) and to the CPU's */
static void test_streamed_on_the_gpu(void **state)
{
  fixture *f = *state;
  if (pet_gpu_device_count() == 0) {
    print_message("no CUDA device: skipped\n");
    skip();
  }
  for (int tof = 0; tof < 2; ++tof) {
    pet_osem_opts o = opts(tof);
    o.gpu = true;
    o.vram_budget_bytes = 64 << 10; /* batches of ~1000 events: many batches per window */
    pet_osem_data d = base_data(f);
    pet_image *xm = NULL, *xs = NULL, *xc = NULL, *xc2 = NULL;
    run_both(f, &d, &o, &xm, &xs);
    pet_osem_opts oc = opts(tof);
    run_both(f, &d, &oc, &xc, &xc2);
    double n1 = 0, n2 = 0, den = 0;
    for (int64_t v = 0; v < pet_image_num_voxels(xm); ++v) {
      n1 += (xm->data[v] - (double)xs->data[v]) * (xm->data[v] - (double)xs->data[v]);
      n2 += (xc->data[v] - (double)xs->data[v]) * (xc->data[v] - (double)xs->data[v]);
      den += (double)xc->data[v] * xc->data[v];
    }
    print_message("gpu streamed: tof %d rel rmse vs gpu in memory %.3g, vs cpu %.3g\n", tof, sqrt(n1 / den),
                  sqrt(n2 / den));
    assert_true(den > 0);
    assert_true(sqrt(n1 / den) < 1e-5);
    assert_true(sqrt(n2 / den) < 1e-4);
    pet_image_destroy(&xm);
    pet_image_destroy(&xs);
    pet_image_destroy(&xc);
    pet_image_destroy(&xc2);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_streamed_equals_in_memory_bitwise),
      cmocka_unit_test(test_streamed_regularised_equals_in_memory_bitwise),
      cmocka_unit_test(test_streamed_frame_range_and_additive),
      cmocka_unit_test(test_small_windows),
      cmocka_unit_test(test_reader_errors_stop_the_run),
      cmocka_unit_test(test_bad_detector_ids_in_the_file),
      cmocka_unit_test(test_bad_stream_options),
      cmocka_unit_test(test_streamed_on_the_gpu),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
