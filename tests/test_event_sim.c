/* Event-by-event list-mode simulation (pet_simulate_events) and its HDF5 file written in
 * chunks: round trips through the readers, determinism (seed, chunking, threads), the time
 * index answering windows exactly, list-mode OSEM == histogram OSEM on a cut-down total-body
 * scanner, and bad parameters. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "pet_h5.h"
#include "pet_histogram.h"
#include "pet_osem.h"
#include "pet_phantom.h"
#include "pet_scanner.h"
#include "pet_simulate.h"
#include "pet_test_util.h"

typedef struct fixture {
  pet_scanner *scanner; /* the seed's small scanner with a TOF resolution */
  pet_image_params ip;
  char dir[256];
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  pet_scanner_params sp = pet_scanner_params_small();
  sp.tof_fwhm_ps = 300.0f;
  if (f == NULL || pet_scanner_create(&f->scanner, &sp) != PET_OK) return -1;
  f->ip = pet_image_params_make(64, 64, 8, 200.f, 200.f, 25.f);
  pet_test_tmpdir(f->dir, sizeof f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  pet_scanner_destroy(&f->scanner);
  rmdir(f->dir); /* the tests remove their files */
  free(f);
  return 0;
}

static pet_event_sim sim_of(const fixture *f, int64_t n, uint64_t seed, bool tof)
{
  pet_event_sim es;
  memset(&es, 0, sizeof es);
  es.scanner = f->scanner;
  es.phantom = pet_phantom_default(&f->ip);
  es.seed = seed;
  es.num_events = n;
  es.duration_s = 10.0;
  es.tof = tof;
  return es;
}

static void read_all(const char *path, int64_t n, bool tof, pet_listmode **out)
{
  int64_t m = -1;
  bool has_tof = !tof;
  char name[128] = "";
  assert_int_equal(pet_h5_listmode_info(path, &m, &has_tof, name, sizeof name), PET_OK);
  assert_int_equal(m, n);
  assert_int_equal(has_tof, tof);
  assert_string_equal(name, "MYSCANNER");
  assert_int_equal(pet_listmode_create_owned(out, n, tof), PET_OK);
  assert_int_equal(pet_h5_read_listmode_range(path, 0, n, (*out)->time_ms, (*out)->d1, (*out)->d2, (*out)->tof_ps),
                   PET_OK);
}

static void expect_same_events(const pet_listmode *a, const pet_listmode *b)
{
  assert_int_equal(a->num_events, b->num_events);
  const size_t bytes = (size_t)a->num_events * sizeof(uint32_t);
  assert_memory_equal(a->time_ms, b->time_ms, bytes);
  assert_memory_equal(a->d1, b->d1, bytes);
  assert_memory_equal(a->d2, b->d2, bytes);
  if (a->has_tof) assert_memory_equal(a->tof_ps, b->tof_ps, (size_t)a->num_events * sizeof(float));
}

/* Written in chunks smaller than N (uneven: 7 chunks, the last short), plain and deflated:
 * the file holds N events, ids of histogrammed pairs, sorted times within the duration, TOF
 * within the LOR's length plus the truncated blur, and exactly the events sampled in memory. */
static void test_event_sim_file_round_trips_in_chunks(void **state)
{
  fixture *f = *state;
  const int64_t n = 45000;
  pet_event_sim es = sim_of(f, n, 7, true);
  pet_listmode *mem = NULL;
  assert_int_equal(pet_simulate_listmode_events(&es, &mem), PET_OK);

  char path[2][400];
  long long size[2];
  for (int c = 0; c < 2; ++c) {
    snprintf(path[c], sizeof path[c], "%s/lm%d.h5", f->dir, c);
    pet_sim_file_opts o = pet_sim_file_opts_default();
    o.chunk_events = 7000;
    o.deflate_level = c == 0 ? 0 : 4;
    pet_sim_file_stats stats;
    assert_int_equal(pet_simulate_listmode_file(&es, path[c], &o, &stats), PET_OK);
    assert_int_equal(stats.chunks, 7);
    struct stat sb;
    assert_int_equal(stat(path[c], &sb), 0);
    size[c] = (long long)sb.st_size;
    pet_listmode *lm = NULL;
    read_all(path[c], n, true, &lm);
    expect_same_events(lm, mem);
    pet_listmode_destroy(&lm);
    /* the streamed reconstruction's source reads it too */
    pet_lm_source src;
    assert_int_equal(pet_h5_listmode_source_open(path[c], &src), PET_OK);
    assert_int_equal(src.num_events, n);
    assert_true(src.has_tof);
    uint32_t a[1000], b[1000];
    float tf[1000];
    assert_int_equal(src.read(src.ctx, 12345, 1000, a, b, tf), PET_OK);
    assert_memory_equal(a, mem->d1 + 12345, sizeof a);
    assert_memory_equal(b, mem->d2 + 12345, sizeof b);
    assert_memory_equal(tf, mem->tof_ps + 12345, sizeof tf);
    pet_h5_listmode_source_close(&src);
    int64_t unsorted = 0;
    assert_int_equal(pet_h5_listmode_check_times(path[c], &unsorted), PET_OK);
    assert_int_equal(unsorted, -1);
  }
  assert_true(size[1] < size[0]); /* deflate did something */

  const pet_scanner_params *sp = &f->scanner->params;
  const double sigma = sp->tof_fwhm_ps / 2.3548200450309493;
  int64_t differ = 0;
  double mean_abs_tof = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    assert_true(mem->d1[i] < (uint32_t)f->scanner->num_dets && mem->d2[i] < (uint32_t)f->scanner->num_dets);
    assert_true(pet_histo_pair_valid(sp, (int32_t)mem->d1[i], (int32_t)mem->d2[i]));
    assert_true(mem->time_ms[i] < 10000u);
    if (i > 0) assert_true(mem->time_ms[i] >= mem->time_ms[i - 1]);
    const float *a = f->scanner->lut + 6 * mem->d1[i], *b = f->scanner->lut + 6 * mem->d2[i];
    const double len = sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
    assert_true(isfinite(mem->tof_ps[i]) && fabs(mem->tof_ps[i]) <= len / 0.299792458 + 4.0 * sigma + 1e-3);
    mean_abs_tof += fabs(mem->tof_ps[i]) / (double)n;
    differ += mem->d1[i] != mem->d1[n - 1 - i];
  }
  assert_true(mem->time_ms[n - 1] >= 9990u); /* spread over the whole duration */
  assert_true(differ > n / 2);
  /* the phantom (radius 70 mm) gives |tof| of a few hundred ps, not ~0 and not the full LOR */
  assert_true(mean_abs_tof > 0.5 * sigma && mean_abs_tof < 1000.0);
  pet_listmode_destroy(&mem);
  for (int c = 0; c < 2; ++c) assert_int_equal(remove(path[c]), 0);
}

/* The same seed gives the same events whatever the thread count and the split into calls;
 * another seed gives other events. */
static void test_event_sim_deterministic_for_a_seed(void **state)
{
  fixture *f = *state;
  const int64_t n = 20000;
  pet_event_sim es = sim_of(f, n, 11, true);
  pet_listmode *a = NULL, *b = NULL, *c = NULL;
  assert_int_equal(pet_simulate_listmode_events(&es, &a), PET_OK);
#ifdef _OPENMP
  const int threads = omp_get_max_threads();
  omp_set_num_threads(threads > 1 ? 1 : 3);
#endif
  assert_int_equal(pet_listmode_create_owned(&b, n, true), PET_OK);
  for (int64_t first = 0; first < n; first += 4999) {
    const int64_t cnt = n - first < 4999 ? n - first : 4999;
    assert_int_equal(pet_simulate_events(&es, first, cnt, b->time_ms + first, b->d1 + first, b->d2 + first,
                                         b->tof_ps + first),
                     PET_OK);
  }
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
  expect_same_events(a, b);
  es.seed = 12;
  assert_int_equal(pet_simulate_listmode_events(&es, &c), PET_OK);
  int64_t same = 0;
  for (int64_t i = 0; i < n; ++i) same += a->d1[i] == c->d1[i] && a->d2[i] == c->d2[i];
  assert_true(same < n / 100);
  assert_memory_equal(a->time_ms, c->time_ms, (size_t)n * sizeof(uint32_t)); /* times follow i only */
  pet_listmode_destroy(&a);
  pet_listmode_destroy(&b);
  pet_listmode_destroy(&c);
}

/* The TOF sign is the projector's (pet_tof_centre_mm: the centre is midpoint + c tof / 2
 * unit(p1 - p2)): for a small hot sphere off the axis, the centres so placed sit around the
 * sphere, within the resolution, and the mirrored ones (the other sign) do not. */
static void test_event_sim_tof_points_at_the_source(void **state)
{
  fixture *f = *state;
  pet_event_sim es = sim_of(f, 3000, 3, true);
  es.phantom.background = 0.0f;
  es.phantom.cyl_radius = 50.0f; /* the sphere fills more of it: fewer tries an event */
  es.phantom.num_spheres = 1;
  pet_sphere *sph = &es.phantom.spheres[0];
  sph->x = 40.0f;
  sph->y = -25.0f;
  sph->z = 2.0f;
  sph->radius = 4.0f;
  sph->value = 1.0f;
  pet_listmode *lm = NULL;
  assert_int_equal(pet_simulate_listmode_events(&es, &lm), PET_OK);
  double err[2] = {0.0, 0.0};
  for (int64_t i = 0; i < lm->num_events; ++i) {
    const float *a = f->scanner->lut + 6 * lm->d1[i], *b = f->scanner->lut + 6 * lm->d2[i];
    double e[3], len = 0.0;
    for (int k = 0; k < 3; ++k) {
      e[k] = a[k] - b[k];
      len += e[k] * e[k];
    }
    len = sqrt(len);
    for (int sgn = 0; sgn < 2; ++sgn) {
      const double off = (sgn == 0 ? 0.5 : -0.5) * 0.299792458 * lm->tof_ps[i] / len;
      const double c[3] = {0.5 * (a[0] + b[0]) + off * e[0], 0.5 * (a[1] + b[1]) + off * e[1],
                           0.5 * (a[2] + b[2]) + off * e[2]};
      err[sgn] += sqrt((c[0] - sph->x) * (c[0] - sph->x) + (c[1] - sph->y) * (c[1] - sph->y) +
                       (c[2] - sph->z) * (c[2] - sph->z)) /
                  (double)lm->num_events;
    }
  }
  /* sigma along the LOR: c 300 ps / 2 / 2.355 = 19 mm; the mean distance of a 1D Gaussian is 0.8 sigma */
  assert_true(err[0] < 25.0);
  assert_true(err[1] > 1.5 * err[0]);
  pet_listmode_destroy(&lm);
}

/* The time index answers [t0, t1) with exactly the events whose time is in it: the range the
 * index returns is the brute-force one, and the events just outside it are outside the window. */
static void test_event_sim_time_index_answers_windows_exactly(void **state)
{
  fixture *f = *state;
  const int64_t n = 30000;
  pet_event_sim es = sim_of(f, n, 5, false);
  es.duration_s = 7.3;
  const uint32_t index_ms[2] = {1000u, 250u};
  for (int c = 0; c < 2; ++c) {
    char path[400];
    snprintf(path, sizeof path, "%s/win%d.h5", f->dir, c);
    pet_sim_file_opts o = pet_sim_file_opts_default();
    o.chunk_events = 4096;
    o.index_ms = index_ms[c];
    assert_int_equal(pet_simulate_listmode_file(&es, path, &o, NULL), PET_OK);
    uint32_t *t = malloc((size_t)n * sizeof *t);
    assert_int_equal(pet_h5_read_listmode_range(path, 0, n, t, NULL, NULL, NULL), PET_OK);
    const uint32_t win[][2] = {{0, 7300}, {0, 1}, {999, 1001}, {1000, 2000}, {1234, 5678}, {7299, 9000},
                               {7300, 8000}, {3000, 3000}, {4000, 3000}, {250, 251}, {6999, 7001}};
    for (size_t w = 0; w < sizeof win / sizeof win[0]; ++w) {
      int64_t first = -1, count = -1, bf_first = -1, bf_count = 0;
      assert_int_equal(pet_h5_listmode_find_window(path, win[w][0], win[w][1], &first, &count), PET_OK);
      for (int64_t i = 0; i < n; ++i)
        if (t[i] >= win[w][0] && t[i] < win[w][1]) {
          if (bf_first < 0) bf_first = i;
          ++bf_count;
        }
      assert_int_equal(count, bf_count);
      if (bf_count > 0) assert_int_equal(first, bf_first);
      for (int64_t i = first; i < first + count; ++i) assert_true(t[i] >= win[w][0] && t[i] < win[w][1]);
      if (count > 0 && first > 0) assert_true(t[first - 1] < win[w][0]);
      if (count > 0 && first + count < n) assert_true(t[first + count] >= win[w][1]);
    }
    free(t);
    assert_int_equal(remove(path), 0);
  }
}

/* A cut-down total-body scanner (2 units of 6 rings, 140 crystals a ring in blocks of 7, the
 * same TOF): the simulated events as list-mode and binned into its histogram give the same
 * MLEM image (1 subset: the same subsets on both sides; no TOF, which the histogram lacks),
 * up to float summation order: relative RMS difference < 1e-4. */
static void test_event_sim_listmode_osem_equals_histogram_on_cut_down_total_body(void **state)
{
  (void)state;
  pet_scanner_params sp = pet_scanner_params_total_body();
  snprintf(sp.name, sizeof sp.name, "TOTALBODY_CUT");
  sp.num_rings = 12;
  sp.axial_fov = 12.0f * 1940.0f / 672.0f;
  sp.max_ring_diff = 11;
  sp.dets_per_ring = 140;
  sp.scanner_radius = 70.0f;
  sp.min_ang_diff = 25;
  sp.fov_radius = 0.0f;
  pet_scanner *s = NULL;
  pet_histo_layout *L = NULL;
  assert_int_equal(pet_scanner_create(&s, &sp), PET_OK);
  assert_int_equal(pet_histo_layout_create(&L, s), PET_OK);
  pet_image_params ip = pet_image_params_make(32, 32, 12, 92.0f, 92.0f, sp.axial_fov);
  pet_event_sim es;
  memset(&es, 0, sizeof es);
  es.scanner = s;
  es.phantom = pet_phantom_default(&ip);
  es.seed = 21;
  es.num_events = 120000;
  es.duration_s = 60.0;
  pet_listmode *lm = NULL;
  assert_int_equal(pet_simulate_listmode_events(&es, &lm), PET_OK);
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create_owned(&h, s), PET_OK);
  for (int64_t i = 0; i < lm->num_events; ++i) {
    int64_t bin = -1;
    assert_int_equal(pet_histo_dets_to_bin(L, (int32_t)lm->d1[i], (int32_t)lm->d2[i], &bin), PET_OK);
    h->data[bin] += 1.0f;
  }
  pet_osem_data dh;
  memset(&dh, 0, sizeof dh);
  dh.scanner = s;
  dh.layout = L;
  dh.histogram = h;
  dh.lm_count = -1;
  pet_osem_data dl = dh;
  dl.histogram = NULL;
  dl.listmode = lm;
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 1;
  o.iterations = 3;
  pet_image *xh = NULL, *xl = NULL;
  assert_int_equal(pet_image_create_owned(&xh, ip, PET_HOST), PET_OK);
  assert_int_equal(pet_image_create_owned(&xl, ip, PET_HOST), PET_OK);
  pet_image_fill(xh, 1.0f);
  pet_image_fill(xl, 1.0f);
  assert_int_equal(pet_osem_run(&dh, &o, NULL, xh), PET_OK);
  assert_int_equal(pet_osem_run(&dl, &o, NULL, xl), PET_OK);
  double num = 0, den = 0, maxv = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(xh); ++v) {
    num += (xh->data[v] - xl->data[v]) * (double)(xh->data[v] - xl->data[v]);
    den += (double)xh->data[v] * xh->data[v];
    if (xh->data[v] > maxv) maxv = xh->data[v];
  }
  assert_true(maxv > 0);
  assert_true(sqrt(num / den) < 1e-4);
  pet_image_destroy(&xh);
  pet_image_destroy(&xl);
  pet_histogram_destroy(&h);
  pet_listmode_destroy(&lm);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
}

/* The writer's deflated files (chunks shuffled and compressed on every thread, written whole)
 * read back through HDF5's own filters as written: many chunks, pieces that end inside a chunk,
 * a short last chunk, with and without TOF, on 1 and 3 threads. */
static void test_event_sim_writer_deflate_round_trips(void **state)
{
  fixture *f = *state;
  const int64_t n = 5555;
  uint32_t *t = malloc((size_t)n * 4), *d1 = malloc((size_t)n * 4), *d2 = malloc((size_t)n * 4);
  float *tof = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; ++i) {
    t[i] = (uint32_t)(i / 3);
    d1[i] = (uint32_t)(pet_test_uniform((uint64_t)i) * 2048.0f);
    d2[i] = (uint32_t)(pet_test_uniform((uint64_t)i + 99999) * 2048.0f);
    tof[i] = 500.0f * (pet_test_uniform((uint64_t)i + 7777) - 0.5f);
  }
  char path[400];
  snprintf(path, sizeof path, "%s/z.h5", f->dir);
#ifdef _OPENMP
  const int threads = omp_get_max_threads();
#endif
  for (int c = 0; c < 4; ++c) {
    const bool with_tof = c % 2 == 0;
#ifdef _OPENMP
    omp_set_num_threads(c < 2 ? 1 : 3);
#endif
    pet_h5_lm_writer *w = NULL;
    assert_int_equal(pet_h5_lm_writer_open(&w, path, "MYSCANNER", with_tof, 1000, 1 + 2 * c, 100), PET_OK);
    for (int64_t first = 0; first < n; first += 777) {
      const int64_t cnt = n - first < 777 ? n - first : 777;
      assert_int_equal(pet_h5_lm_writer_append(w, cnt, t + first, d1 + first, d2 + first, with_tof ? tof + first : NULL),
                       PET_OK);
    }
    assert_int_equal(pet_h5_lm_writer_count(w), n);
    assert_int_equal(pet_h5_lm_writer_close(&w), PET_OK);
    assert_null(w);
    pet_listmode *lm = NULL;
    read_all(path, n, with_tof, &lm);
    assert_memory_equal(lm->time_ms, t, (size_t)n * 4);
    assert_memory_equal(lm->d1, d1, (size_t)n * 4);
    assert_memory_equal(lm->d2, d2, (size_t)n * 4);
    if (with_tof) assert_memory_equal(lm->tof_ps, tof, (size_t)n * 4);
    pet_listmode_destroy(&lm);
    int64_t first = -1, count = -1;
    assert_int_equal(pet_h5_listmode_check_times(path, NULL), PET_OK);
    assert_int_equal(pet_h5_listmode_find_window(path, 1000, 1234, &first, &count), PET_OK);
    assert_int_equal(first, 3000);
    assert_int_equal(count, 3 * 234);
    assert_int_equal(remove(path), 0);
  }
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
  free(t);
  free(d1);
  free(d2);
  free(tof);
}

static bool exists(const char *path)
{
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* Bad parameters are errors naming the field, and leave no file behind. */
static void test_event_sim_bad_parameters_are_clear_errors(void **state)
{
  fixture *f = *state;
  char path[400];
  snprintf(path, sizeof path, "%s/bad.h5", f->dir);
  pet_sim_file_opts o = pet_sim_file_opts_default();
  pet_event_sim es = sim_of(f, -1, 1, false);
  assert_int_equal(pet_simulate_listmode_file(&es, path, &o, NULL), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "number of events"));
  es = sim_of(f, 10, 1, false);
  es.duration_s = 0.0;
  assert_int_equal(pet_simulate_listmode_file(&es, path, &o, NULL), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "duration_s"));
  es = sim_of(f, 10, 1, false);
  es.phantom.cyl_radius = 500.0f;
  assert_int_equal(pet_simulate_listmode_file(&es, path, &o, NULL), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "radius"));
  es = sim_of(f, 10, 1, false);
  es.phantom.background = 0.0f;
  es.phantom.num_spheres = 0;
  assert_int_equal(pet_simulate_listmode_file(&es, path, &o, NULL), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "no activity"));
  es = sim_of(f, 10, 1, false);
  o.deflate_level = 12;
  assert_int_equal(pet_simulate_listmode_file(&es, path, &o, NULL), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "deflate"));
  o = pet_sim_file_opts_default();
  o.chunk_events = 0;
  assert_int_equal(pet_simulate_listmode_file(&es, path, &o, NULL), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "chunk_events"));
  o = pet_sim_file_opts_default();
  char missing[460];
  snprintf(missing, sizeof missing, "%s/no/such/dir/lm.h5", f->dir);
  assert_int_equal(pet_simulate_listmode_file(&es, missing, &o, NULL), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), missing));

  /* TOF on a scanner without a TOF resolution */
  pet_scanner_params sp = pet_scanner_params_small();
  pet_scanner *s = NULL;
  assert_int_equal(pet_scanner_create(&s, &sp), PET_OK);
  es.scanner = s;
  es.tof = true;
  assert_int_equal(pet_simulate_listmode_file(&es, path, &o, NULL), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "tofResolution_ps"));
  /* a phantom none of whose emissions reach two crystals: a hot sphere beyond the axial FOV */
  es.tof = false;
  es.num_events = 1;
  es.phantom.background = 0.0f;
  es.phantom.cyl_half_length = 100.0f;
  es.phantom.num_spheres = 1;
  es.phantom.spheres[0].x = es.phantom.spheres[0].y = 0.0f;
  es.phantom.spheres[0].z = 80.0f;
  es.phantom.spheres[0].radius = 5.0f;
  es.phantom.spheres[0].value = 1.0f;
  assert_int_equal(pet_simulate_listmode_file(&es, path, &o, NULL), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "event 0"));
  pet_scanner_destroy(&s);
  assert_false(exists(path));

  /* the writer: unsorted pieces and a TOF mismatch are refused; abort leaves nothing */
  pet_h5_lm_writer *w = NULL;
  uint32_t t[3] = {5, 6, 7}, d[3] = {1, 2, 3};
  float tof[3] = {0, 0, 0};
  assert_int_equal(pet_h5_lm_writer_open(&w, path, "X", false, 2, 1, 0), PET_OK);
  assert_int_equal(pet_h5_lm_writer_append(w, 3, t, d, d, NULL), PET_OK);
  t[0] = 4;
  assert_int_equal(pet_h5_lm_writer_append(w, 3, t, d, d, NULL), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "event 3"));
  assert_int_equal(pet_h5_lm_writer_append(w, 3, t, d, d, tof), PET_ERR_ARG);
  assert_int_equal(pet_h5_lm_writer_count(w), 3);
  pet_h5_lm_writer_abort(&w);
  assert_null(w);
  assert_false(exists(path));
}

/* pet_histo_pair_valid agrees with pet_histo_dets_to_bin on every pair of small scanners
 * with a minimum angle and a ring-difference cut. */
static void test_event_sim_pair_valid_matches_the_histogram(void **state)
{
  (void)state;
  const int32_t mad[3] = {1, 10, 31};
  const int32_t ndet[3] = {64, 96, 90};
  for (int c = 0; c < 3; ++c) {
    pet_scanner_params sp = pet_scanner_params_small();
    sp.dets_per_ring = ndet[c];
    sp.dets_per_block = ndet[c] == 90 ? 9 : 8;
    sp.scanner_radius = 120.0f;
    sp.num_rings = 5;
    sp.max_ring_diff = 2;
    sp.min_ang_diff = mad[c];
    pet_scanner *s = NULL;
    pet_histo_layout *L = NULL;
    assert_int_equal(pet_scanner_create(&s, &sp), PET_OK);
    assert_int_equal(pet_histo_layout_create(&L, s), PET_OK);
    const bool was = pet_error_set_print(false);
    int64_t valid = 0;
    for (int32_t a = 0; a < s->num_dets; ++a)
      for (int32_t b = 0; b < s->num_dets; ++b) {
        int64_t bin = -1;
        const bool want = pet_histo_dets_to_bin(L, a, b, &bin) == PET_OK;
        assert_int_equal(pet_histo_pair_valid(&sp, a, b), want);
        valid += want;
      }
    pet_error_set_print(was);
    assert_true(valid > 0 && valid < s->num_dets * s->num_dets);
    pet_histo_layout_destroy(&L);
    pet_scanner_destroy(&s);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_event_sim_file_round_trips_in_chunks),
      cmocka_unit_test(test_event_sim_deterministic_for_a_seed),
      cmocka_unit_test(test_event_sim_tof_points_at_the_source),
      cmocka_unit_test(test_event_sim_time_index_answers_windows_exactly),
      cmocka_unit_test(test_event_sim_listmode_osem_equals_histogram_on_cut_down_total_body),
      cmocka_unit_test(test_event_sim_writer_deflate_round_trips),
      cmocka_unit_test(test_event_sim_bad_parameters_are_clear_errors),
      cmocka_unit_test(test_event_sim_pair_valid_matches_the_histogram),
  };
  return cmocka_run_group_tests_name("event_sim", tests, setup, teardown);
}
