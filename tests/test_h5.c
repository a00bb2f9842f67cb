/* HDF5 layout: round trips, hyperslab ranges, time-window lookup, and named errors. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pet_h5.h"
#include "pet_test_util.h"

static char g_dir[512];

static int setup(void **state)
{
  (void)state;
  pet_error_set_print(false);
  return pet_test_tmpdir(g_dir, sizeof g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  DIR *d = opendir(g_dir);
  if (d) {
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
      remove(p);
    }
    closedir(d);
  }
  rmdir(g_dir);
  return 0;
}

static const char *tmp_path(char *buf, size_t len, const char *name)
{
  snprintf(buf, len, "%s/%s", g_dir, name);
  return buf;
}

static size_t count_entries(void)
{
  size_t n = 0;
  DIR *d = opendir(g_dir);
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) ++n;
  closedir(d);
  return n;
}

static void write_bytes(const char *path, const void *buf, size_t n)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (n) assert_int_equal(fwrite(buf, 1, n, f), n);
  fclose(f);
}

static float *random_floats(int64_t n, uint64_t seed)
{
  float *v = malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; ++i) v[i] = 100.f * pet_test_uniform(seed * 1000003u + (uint64_t)i);
  return v;
}

/* More than one chunk (1M elements), so ranges cross chunk boundaries. */
#define NBINS ((int64_t)1 << 20) + 12345

static void test_h5_histogram_round_trip_and_ranges(void **state)
{
  (void)state;
  char path[1024], name[64];
  tmp_path(path, sizeof path, "hist.h5");
  int64_t n = NBINS;
  float *values = random_floats(n, 1), *att = random_floats(n, 2), *scat = random_floats(n, 3);
  pet_h5_corrections corr = {NULL, att, NULL, scat};
  assert_int_equal(pet_h5_write_histogram(path, "small-test", n, values, &corr), PET_OK);

  int64_t num_bins = 0;
  unsigned which = 0;
  assert_int_equal(pet_h5_histogram_info(path, &num_bins, name, sizeof name, &which), PET_OK);
  assert_int_equal(num_bins, n);
  assert_string_equal(name, "small-test");
  assert_int_equal(which, PET_H5_CORR_ATTENUATION | PET_H5_CORR_SCATTER);
  /* a short buffer truncates the name */
  assert_int_equal(pet_h5_histogram_info(path, &num_bins, name, 6, NULL), PET_OK);
  assert_string_equal(name, "small");

  float *all = malloc((size_t)n * sizeof *all);
  assert_int_equal(pet_h5_read_histogram_range(path, "histogram", 0, n, all), PET_OK);
  assert_memory_equal(all, values, (size_t)n * sizeof *all);
  assert_int_equal(pet_h5_read_histogram_range(path, "/corrections/attenuation", 0, n, all),
                   PET_OK);
  assert_memory_equal(all, att, (size_t)n * sizeof *all);

  /* hyperslabs equal the slices: inside a chunk, across the chunk boundary, the tail, empty */
  const int64_t ranges[][2] = {{0, 1},       {17, 1000},   {PET_H5_CHUNK_ELEMS - 10, 20},
                               {n - 77, 77}, {n - 1, 1},   {5, 0},
                               {n, 0},       {123456, 654321}};
  float *part = malloc((size_t)n * sizeof *part);
  for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; ++r) {
    int64_t first = ranges[r][0], count = ranges[r][1];
    assert_int_equal(pet_h5_read_histogram_range(path, "histogram", first, count, part), PET_OK);
    if (count) assert_memory_equal(part, values + first, (size_t)count * sizeof *part);
    assert_int_equal(pet_h5_read_histogram_range(path, "corrections/scatter", first, count, part),
                     PET_OK);
    if (count) assert_memory_equal(part, scat + first, (size_t)count * sizeof *part);
  }

  /* no corrections at all */
  tmp_path(path, sizeof path, "hist_plain.h5");
  assert_int_equal(pet_h5_write_histogram(path, "s", 10, values, NULL), PET_OK);
  assert_int_equal(pet_h5_histogram_info(path, &num_bins, NULL, 0, &which), PET_OK);
  assert_int_equal(num_bins, 10);
  assert_int_equal(which, 0);
  free(part);
  free(all);
  free(values);
  free(att);
  free(scat);
}

static void test_h5_histogram_errors_name_the_dataset(void **state)
{
  (void)state;
  char path[1024];
  tmp_path(path, sizeof path, "hist_err.h5");
  float v[100];
  for (int i = 0; i < 100; ++i) v[i] = (float)i;
  pet_h5_corrections corr = {v, NULL, NULL, NULL};
  assert_int_equal(pet_h5_write_histogram(path, "s", 100, v, &corr), PET_OK);

  float out[200];
  /* missing dataset */
  assert_int_equal(pet_h5_read_histogram_range(path, "corrections/randoms", 0, 10, out),
                   PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), path));
  assert_non_null(strstr(pet_last_error(), "corrections/randoms"));
  assert_int_equal(pet_h5_read_histogram_range(path, "nothing/here/at/all", 0, 10, out),
                   PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "nothing/here/at/all"));
  /* range beyond the size */
  assert_int_equal(pet_h5_read_histogram_range(path, "corrections/normalisation", 95, 10, out),
                   PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "corrections/normalisation"));
  assert_non_null(strstr(pet_last_error(), "100 elements"));
  assert_int_equal(pet_h5_read_histogram_range(path, "histogram", -1, 10, out), PET_ERR_ARG);
  /* a group is not a dataset */
  assert_int_equal(pet_h5_read_histogram_range(path, "corrections", 0, 1, out), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "corrections"));
  /* an image file has no histogram */
  pet_image *img = NULL;
  assert_int_equal(pet_image_create_owned(&img, pet_image_params_make(2, 2, 2, 2, 2, 2), PET_HOST),
                   PET_OK);
  tmp_path(path, sizeof path, "img_not_hist.h5");
  assert_int_equal(pet_h5_write_image(path, img), PET_OK);
  int64_t nb;
  assert_int_equal(pet_h5_histogram_info(path, &nb, NULL, 0, NULL), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "/histogram"));
  assert_non_null(strstr(pet_last_error(), path));
  pet_image_destroy(&img);

  /* wrong type: list-mode detector ids are integers */
  uint32_t t[3] = {0, 1, 2}, d[3] = {1, 2, 3};
  tmp_path(path, sizeof path, "lm_not_hist.h5");
  assert_int_equal(pet_h5_write_listmode(path, "s", 3, t, d, d, NULL), PET_OK);
  assert_int_equal(pet_h5_read_histogram_range(path, "listmode/d1", 0, 3, out), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "listmode/d1"));
  assert_non_null(strstr(pet_last_error(), "integer"));

  assert_int_equal(pet_h5_write_histogram(path, "s", 0, v, NULL), PET_ERR_ARG);
}

/* Random sorted times with duplicates, gaps and dense stretches. */
static uint32_t *sorted_times(int64_t n, uint64_t seed, uint32_t max_step)
{
  uint32_t *t = malloc((size_t)n * sizeof *t);
  uint32_t now = (uint32_t)(pet_test_uniform(seed) * 50.f);
  for (int64_t i = 0; i < n; ++i) {
    float u = pet_test_uniform(seed * 7919u + (uint64_t)i);
    if (u > 0.999f) now += 5000; /* a gap of several windows */
    else if (u > 0.5f) now += (uint32_t)(u * (float)max_step);
    t[i] = now;
  }
  return t;
}

static void check_windows(const char *path, const uint32_t *t, int64_t n)
{
  uint32_t tmax = n ? t[n - 1] : 0;
  for (int w = 0; w < 300; ++w) {
    uint32_t t0 = (uint32_t)(pet_test_uniform(10000u + (uint64_t)w) * (float)(tmax + 2000));
    uint32_t t1 = t0 + (uint32_t)(pet_test_uniform(20000u + (uint64_t)w) * 3000.f);
    if (w == 0) t0 = 0, t1 = tmax + 1;       /* everything */
    if (w == 1) t0 = tmax, t1 = UINT32_MAX;   /* the last time stamp */
    if (w == 2) t0 = 500, t1 = 500;           /* empty by definition */
    if (w == 3) t0 = 900, t1 = 100;           /* reversed */
    if (w == 4 && n) t0 = t[n / 2], t1 = t[n / 2] + 1; /* one time stamp exactly */
    int64_t first = -1, count = -1;
    assert_int_equal(pet_h5_listmode_find_window(path, t0, t1, &first, &count), PET_OK);
    int64_t want_first = 0, want_count = 0;
    while (want_first < n && t[want_first] < t0) ++want_first;
    for (int64_t i = want_first; i < n && t[i] < t1; ++i) ++want_count;
    if (want_count) assert_int_equal(first, want_first);
    assert_int_equal(count, want_count);
  }
}

static void test_h5_listmode_round_trip_and_time_windows(void **state)
{
  (void)state;
  char path[1024], scanner[32];
  const int64_t n = 30000;
  uint32_t *t = sorted_times(n, 3, 40);
  uint32_t *d1 = malloc((size_t)n * 4), *d2 = malloc((size_t)n * 4);
  float *tof = random_floats(n, 9);
  for (int64_t i = 0; i < n; ++i) {
    d1[i] = (uint32_t)(i * 7 % 1000);
    d2[i] = (uint32_t)(i * 13 % 1000);
  }
  const uint32_t index_ms[3] = {1, 10, 1000};
  for (int k = 0; k < 3; ++k) {
    tmp_path(path, sizeof path, "lm.h5");
    assert_int_equal(pet_h5_write_listmode_indexed(path, "lm-scanner", n, t, d1, d2, tof,
                                                   index_ms[k]),
                     PET_OK);
    int64_t m = 0;
    bool has_tof = false;
    assert_int_equal(pet_h5_listmode_info(path, &m, &has_tof, scanner, sizeof scanner), PET_OK);
    assert_int_equal(m, n);
    assert_true(has_tof);
    assert_string_equal(scanner, "lm-scanner");
    check_windows(path, t, n);
    int64_t first = -2;
    assert_int_equal(pet_h5_listmode_check_times(path, &first), PET_OK);
    assert_int_equal(first, -1);
  }
  uint32_t *rt = malloc((size_t)n * 4), *r1 = malloc((size_t)n * 4), *r2 = malloc((size_t)n * 4);
  float *rtof = malloc((size_t)n * 4);
  assert_int_equal(pet_h5_read_listmode_range(path, 0, n, rt, r1, r2, rtof), PET_OK);
  assert_memory_equal(rt, t, (size_t)n * 4);
  assert_memory_equal(r1, d1, (size_t)n * 4);
  assert_memory_equal(r2, d2, (size_t)n * 4);
  assert_memory_equal(rtof, tof, (size_t)n * 4);
  /* a range, and arrays skipped with NULL */
  assert_int_equal(pet_h5_read_listmode_range(path, 1234, 567, NULL, r1, NULL, NULL), PET_OK);
  assert_memory_equal(r1, d1 + 1234, 567 * 4);
  assert_int_equal(pet_h5_read_listmode_range(path, n - 5, 6, rt, NULL, NULL, NULL), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), path));

  /* without TOF */
  assert_int_equal(pet_h5_write_listmode(path, "s", n, t, d1, d2, NULL), PET_OK);
  bool has_tof = true;
  assert_int_equal(pet_h5_listmode_info(path, NULL, &has_tof, NULL, 0), PET_OK);
  assert_false(has_tof);
  assert_int_equal(pet_h5_read_listmode_range(path, 0, 10, NULL, NULL, NULL, rtof), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "tof_ps"));
  check_windows(path, t, n);

  /* empty list-mode */
  assert_int_equal(pet_h5_write_listmode(path, "s", 0, NULL, NULL, NULL, NULL), PET_OK);
  int64_t m = -1;
  assert_int_equal(pet_h5_listmode_info(path, &m, NULL, NULL, 0), PET_OK);
  assert_int_equal(m, 0);
  check_windows(path, t, 0);
  free(rt);
  free(r1);
  free(r2);
  free(rtof);
  free(t);
  free(d1);
  free(d2);
  free(tof);
}

static void test_h5_listmode_dense_window_and_extreme_times(void **state)
{
  (void)state;
  char path[1024];
  tmp_path(path, sizeof path, "dense.h5");
  /* ~100k events per 1 s window: the search bisects before reading one block */
  const int64_t n = 300000;
  uint32_t *t = malloc((size_t)n * 4), *d = calloc((size_t)n, 4);
  for (int64_t i = 0; i < n; ++i) t[i] = (uint32_t)(i / 100);
  t[n - 1] = UINT32_MAX; /* the largest time stamp must not overflow the index */
  assert_int_equal(pet_h5_write_listmode_indexed(path, "s", n, t, d, d, NULL, 1u << 20), PET_OK);
  check_windows(path, t, n);
  assert_int_equal(pet_h5_write_listmode(path, "s", n - 1, t, d, d, NULL), PET_OK);
  check_windows(path, t, n - 1);
  free(t);
  free(d);
}

static void test_h5_unsorted_listmode_is_rejected(void **state)
{
  (void)state;
  char path[1024];
  tmp_path(path, sizeof path, "unsorted.h5");
  uint32_t t[5] = {0, 10, 20, 15, 30}, d[5] = {0};
  size_t before = count_entries();
  assert_int_equal(pet_h5_write_listmode(path, "s", 5, t, d, d, NULL), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "sorted"));
  assert_non_null(strstr(pet_last_error(), "event 3"));
  assert_int_equal(count_entries(), before);
  assert_int_equal(access(path, F_OK), -1);
}

/* Swaps the 4 bytes of a and of b in a file (each must occur once; b may be absent if
 * !need_b: then a becomes b). */
static void swap_u32_in_file(const char *path, uint32_t a, uint32_t b, bool need_b)
{
  size_t n = 0;
  unsigned char *raw = pet_test_read_file(path, &n);
  assert_non_null(raw);
  long ia = -1, ib = -1;
  for (size_t i = 0; i + 4 <= n; ++i) {
    if (memcmp(raw + i, &a, 4) == 0) {
      assert_true(ia < 0);
      ia = (long)i;
    }
    if (memcmp(raw + i, &b, 4) == 0) {
      assert_true(ib < 0);
      ib = (long)i;
    }
  }
  assert_true(ia >= 0 && (ib >= 0 || !need_b));
  memcpy(raw + ia, &b, 4);
  if (ib >= 0) memcpy(raw + ib, &a, 4);
  write_bytes(path, raw, n);
  free(raw);
}

/* A time column changed behind the writer's back (unsorted, or the index stale): frames cut
 * through the index would be wrong, so the check refuses it, naming the events. */
static void test_h5_listmode_check_times_refuses_unsorted_and_stale_index(void **state)
{
  (void)state;
  char path[1024];
  const int64_t n = 3000;
  uint32_t *t = malloc((size_t)n * 4), *d = calloc((size_t)n, 4);
  for (int64_t i = 0; i < n; ++i) t[i] = 100000000u + 3u * (uint32_t)i; /* distinct byte patterns */
  tmp_path(path, sizeof path, "lm_unsorted.h5");
  assert_int_equal(pet_h5_write_listmode_indexed(path, "s", n, t, d, d, NULL, 10), PET_OK);
  assert_int_equal(pet_h5_listmode_check_times(path, NULL), PET_OK);
  swap_u32_in_file(path, t[10], t[2990], true);
  int64_t first = -2;
  assert_int_equal(pet_h5_listmode_check_times(path, &first), PET_ERR_IO);
  assert_int_equal(first, 11);
  assert_non_null(strstr(pet_last_error(), "lm_unsorted.h5: /listmode/time_ms is not sorted: event 11"));
  /* sorted again, but moved: the times are fine, the index is not */
  swap_u32_in_file(path, t[2990], t[10], true);
  swap_u32_in_file(path, t[2999], 200000000u, false);
  assert_int_equal(pet_h5_listmode_check_times(path, &first), PET_ERR_IO);
  assert_int_equal(first, -1);
  assert_non_null(strstr(pet_last_error(), "/listmode/time_index does not match /listmode/time_ms"));
  assert_true(pet_h5_has_dataset(path, "listmode/time_ms"));
  assert_false(pet_h5_has_dataset(path, "histogram"));
  free(t);
  free(d);
  pet_error_clear();
}

/* A checkpoint keeps the run's fields for a field-by-field comparison on resume. */
/* The list-mode source reads windows with threads' pread()s from the mapped chunk offsets:
 * every window (inside one chunk, across chunk edges, the tail, empty) equals H5Dread's, with
 * 1 and 3 threads and through HDF5 (PET_IO_HDF5); a file truncated after open is a named
 * error, not garbage. */
static void test_h5_listmode_source_raw_reads_equal_h5dread(void **state)
{
  (void)state;
  char path[1024];
  tmp_path(path, sizeof path, "lm_raw.h5");
  const int64_t n = 3 * PET_H5_CHUNK_ELEMS + 12345;
  uint32_t *t = malloc((size_t)n * 4), *d1 = malloc((size_t)n * 4), *d2 = malloc((size_t)n * 4);
  float *tof = malloc((size_t)n * 4);
  assert_true(t && d1 && d2 && tof);
  for (int64_t i = 0; i < n; ++i) {
    t[i] = (uint32_t)(i / 1000);
    d1[i] = (uint32_t)(pet_test_uniform(3u * (uint64_t)i) * 4e6f);
    d2[i] = (uint32_t)(pet_test_uniform(3u * (uint64_t)i + 1u) * 4e6f);
    tof[i] = 800.f * (pet_test_uniform(3u * (uint64_t)i + 2u) - 0.5f);
  }
  assert_int_equal(pet_h5_write_listmode(path, "test", n, t, d1, d2, tof), PET_OK);
  const int64_t win[][2] = {{0, 10}, {5, PET_H5_CHUNK_ELEMS}, {PET_H5_CHUNK_ELEMS - 3, 7},
                            {1000, 2 * PET_H5_CHUNK_ELEMS + 77}, {n - 12345, 12345}, {n - 1, 1},
                            {0, n}, {17, 0}};
  const int64_t cap = n;
  uint32_t *a1 = malloc((size_t)cap * 4), *a2 = malloc((size_t)cap * 4);
  float *at = malloc((size_t)cap * 4);
  assert_true(a1 && a2 && at);
  const char *modes[3] = {"1", "3", NULL};
  for (int m = 0; m < 3; ++m) {
    setenv("PET_IO_THREADS", modes[m] ? modes[m] : "2", 1);
    if (!modes[m]) setenv("PET_IO_HDF5", "1", 1);
    pet_lm_source src;
    assert_int_equal(pet_h5_listmode_source_open(path, &src), PET_OK);
    assert_int_equal(pet_h5_listmode_source_is_raw(&src), modes[m] != NULL);
    assert_true(src.has_tof);
    assert_int_equal(src.num_events, n);
    for (size_t w = 0; w < sizeof win / sizeof win[0]; ++w) {
      const int64_t f = win[w][0], c = win[w][1];
      memset(a1, 0xff, (size_t)(c ? c : 1) * 4);
      memset(a2, 0xff, (size_t)(c ? c : 1) * 4);
      memset(at, 0xff, (size_t)(c ? c : 1) * 4);
      assert_int_equal(src.read(src.ctx, f, c, a1, a2, at), PET_OK);
      if (c == 0) { /* nothing written */
        assert_int_equal(a1[0], 0xffffffffu);
        continue;
      }
      assert_memory_equal(a1, d1 + f, (size_t)c * 4);
      assert_memory_equal(a2, d2 + f, (size_t)c * 4);
      assert_memory_equal(at, tof + f, (size_t)c * 4);
      /* d1 and d2 alone (no TOF asked) */
      memset(a1, 0xff, (size_t)c * 4);
      assert_int_equal(src.read(src.ctx, f, c, a1, a2, NULL), PET_OK);
      assert_memory_equal(a1, d1 + f, (size_t)c * 4);
    }
    if (modes[m]) {
      /* truncated under the open source: the last chunk is gone */
      char cut[1024];
      tmp_path(cut, sizeof cut, "lm_raw_cut.h5");
      size_t size = 0;
      unsigned char *bytes = pet_test_read_file(path, &size);
      assert_non_null(bytes);
      write_bytes(cut, bytes, size);
      free(bytes);
      pet_lm_source cs;
      assert_int_equal(pet_h5_listmode_source_open(cut, &cs), PET_OK);
      assert_true(truncate(cut, (off_t)(size / 2)) == 0);
      pet_status st = cs.read(cs.ctx, 0, n, a1, a2, at);
      assert_int_equal(st, PET_ERR_IO);
      assert_non_null(strstr(pet_last_error(), "lm_raw_cut.h5"));
      pet_h5_listmode_source_close(&cs);
      remove(cut);
    }
    pet_h5_listmode_source_close(&src);
    unsetenv("PET_IO_HDF5");
  }
  unsetenv("PET_IO_THREADS");
  free(a1);
  free(a2);
  free(at);
  free(t);
  free(d1);
  free(d2);
  free(tof);
}

static void test_h5_checkpoint_keeps_run_fields(void **state)
{
  (void)state;
  char path[1024];
  pet_image *x = NULL, *y = NULL;
  assert_int_equal(pet_image_create_owned(&x, pet_image_params_make(4, 3, 2, 8.f, 6.f, 4.f), PET_HOST), PET_OK);
  assert_int_equal(pet_image_fill(x, 2.5f), PET_OK);
  pet_h5_checkpoint ck, back;
  memset(&ck, 0, sizeof ck);
  ck.next_iteration = 3;
  ck.next_subset = 1;
  ck.num_ranks = 2;
  ck.config_hash = 0xfedcba9876543210ull;
  ck.data_bytes = 1234;
  ck.data_checksum = 42;
  snprintf(ck.fields, sizeof ck.fields, "subsets: 12\nprojector: DD\n");
  tmp_path(path, sizeof path, "ck.h5");
  assert_int_equal(pet_h5_write_checkpoint(path, x, &ck), PET_OK);
  memset(&back, 0xff, sizeof back);
  assert_int_equal(pet_h5_read_checkpoint(path, &y, &back), PET_OK);
  assert_int_equal(back.next_iteration, 3);
  assert_int_equal(back.next_subset, 1);
  assert_true(back.config_hash == ck.config_hash);
  assert_int_equal(back.data_bytes, 1234);
  assert_string_equal(back.fields, ck.fields);
  assert_true(y->data[5] == 2.5f);
  pet_image_destroy(&y);
  ck.fields[0] = '\0'; /* none written: none read */
  assert_int_equal(pet_h5_write_checkpoint(path, x, &ck), PET_OK);
  assert_int_equal(pet_h5_read_checkpoint(path, &y, &back), PET_OK);
  assert_string_equal(back.fields, "");
  pet_image_destroy(&y);
  pet_image_destroy(&x);
}

static void test_h5_image_round_trip(void **state)
{
  (void)state;
  char path[1024];
  tmp_path(path, sizeof path, "img.h5");
  pet_image_params p = pet_image_params_make(7, 5, 3, 14.f, 7.5f, 9.f);
  p.off_x = -3.5f;
  p.off_y = 1.25f;
  p.off_z = 100.f;
  pet_image *img = NULL, *back = NULL;
  assert_int_equal(pet_image_create_owned(&img, p, PET_HOST), PET_OK);
  for (int64_t i = 0; i < pet_image_num_voxels(img); ++i) img->data[i] = (float)i * 0.25f - 3.f;
  assert_int_equal(pet_h5_write_image(path, img), PET_OK);
  assert_int_equal(pet_h5_read_image(path, &back), PET_OK);
  assert_memory_equal(&back->params, &img->params, sizeof p);
  assert_memory_equal(back->data, img->data, (size_t)pet_image_num_voxels(img) * sizeof(float));
  pet_image_destroy(&back);

  /* a histogram file has no image */
  float v[4] = {0};
  tmp_path(path, sizeof path, "hist_not_img.h5");
  assert_int_equal(pet_h5_write_histogram(path, "s", 4, v, NULL), PET_OK);
  assert_int_equal(pet_h5_read_image(path, &back), PET_ERR_IO);
  assert_null(back);
  assert_non_null(strstr(pet_last_error(), "/image"));
  pet_image_destroy(&img);
}

static void expect_io(pet_status st, const char *path)
{
  assert_int_equal(st, PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), path));
}

static void test_h5_corrupt_and_truncated_files(void **state)
{
  (void)state;
  char good[1024], bad[1024];
  tmp_path(good, sizeof good, "good.h5");
  int64_t n = 5000, nb;
  float *v = random_floats(n, 4), out[16];
  assert_int_equal(pet_h5_write_histogram(good, "s", n, v, NULL), PET_OK);
  size_t size = 0;
  unsigned char *bytes = pet_test_read_file(good, &size);
  assert_non_null(bytes);

  tmp_path(bad, sizeof bad, "missing.h5");
  expect_io(pet_h5_histogram_info(bad, &nb, NULL, 0, NULL), bad);
  pet_image *img = NULL;
  expect_io(pet_h5_read_image(bad, &img), bad);

  tmp_path(bad, sizeof bad, "empty.h5");
  write_bytes(bad, "", 0);
  expect_io(pet_h5_histogram_info(bad, &nb, NULL, 0, NULL), bad);

  tmp_path(bad, sizeof bad, "garbage.h5");
  char garbage[4096];
  for (size_t i = 0; i < sizeof garbage; ++i) garbage[i] = (char)(pet_test_uniform(i) * 256.f);
  write_bytes(bad, garbage, sizeof garbage);
  expect_io(pet_h5_histogram_info(bad, &nb, NULL, 0, NULL), bad);

  const size_t cuts[3] = {size / 2, size - 100, 600};
  for (int c = 0; c < 3; ++c) {
    tmp_path(bad, sizeof bad, "trunc.h5");
    write_bytes(bad, bytes, cuts[c]);
    pet_status st = pet_h5_histogram_info(bad, &nb, NULL, 0, NULL);
    if (st == PET_OK) st = pet_h5_read_histogram_range(bad, "histogram", 0, n, v);
    expect_io(st, bad);
  }

  /* the superblock zeroed */
  memset(bytes, 0, 64);
  tmp_path(bad, sizeof bad, "nosuper.h5");
  write_bytes(bad, bytes, size);
  expect_io(pet_h5_read_histogram_range(bad, "histogram", 0, 16, out), bad);
  free(bytes);
  free(v);
}

static void test_h5_failed_write_leaves_no_file(void **state)
{
  (void)state;
  char path[1200];
  float v[4] = {1, 2, 3, 4};
  snprintf(path, sizeof path, "%s/no/such/dir/h.h5", g_dir);
  size_t before = count_entries();
  assert_int_equal(pet_h5_write_histogram(path, "s", 4, v, NULL), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), path));
  assert_int_equal(count_entries(), before);
  /* an overwrite replaces the file whole */
  tmp_path(path, sizeof path, "over.h5");
  assert_int_equal(pet_h5_write_histogram(path, "first", 4, v, NULL), PET_OK);
  assert_int_equal(pet_h5_write_histogram(path, "second", 2, v, NULL), PET_OK);
  char name[16];
  int64_t nb = 0;
  assert_int_equal(pet_h5_histogram_info(path, &nb, name, sizeof name, NULL), PET_OK);
  assert_int_equal(nb, 2);
  assert_string_equal(name, "second");
  assert_int_equal(count_entries(), before + 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_h5_histogram_round_trip_and_ranges),
      cmocka_unit_test(test_h5_histogram_errors_name_the_dataset),
      cmocka_unit_test(test_h5_listmode_round_trip_and_time_windows),
      cmocka_unit_test(test_h5_listmode_dense_window_and_extreme_times),
      cmocka_unit_test(test_h5_unsorted_listmode_is_rejected),
      cmocka_unit_test(test_h5_listmode_check_times_refuses_unsorted_and_stale_index),
      cmocka_unit_test(test_h5_listmode_source_raw_reads_equal_h5dread),
      cmocka_unit_test(test_h5_checkpoint_keeps_run_fields),
      cmocka_unit_test(test_h5_image_round_trip),
      cmocka_unit_test(test_h5_corrupt_and_truncated_files),
      cmocka_unit_test(test_h5_failed_write_leaves_no_file),
  };
  return cmocka_run_group_tests_name("h5", tests, setup, teardown);
}
