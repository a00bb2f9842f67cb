/* YRT-PET files: RAWD, .his and .lmDat round trips byte for byte, malformed files, and
 * atomic writes that leave nothing under the final name when they fail. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pet_fileutil.h"
#include "pet_gpu.h"
#include "pet_yrt_io.h"
#include "pet_test_util.h"

static void rm_tree(const char *dir)
{
  DIR *d = opendir(dir);
  if (d == NULL) return;
  struct dirent *e;
  char p[1024];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static int count_entries(const char *dir)
{
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) ++n;
  closedir(d);
  return n;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

static void expect_same_files(const char *a, const char *b)
{
  size_t na = 0, nb = 0;
  void *x = pet_test_read_file(a, &na), *y = pet_test_read_file(b, &nb);
  assert_non_null(x);
  assert_non_null(y);
  assert_int_equal(na, nb);
  assert_memory_equal(x, y, na);
  free(x);
  free(y);
}

/* Writes the first `bytes` bytes of `src` to `dst`. */
static void truncate_copy(const char *src, const char *dst, size_t bytes)
{
  size_t n = 0;
  void *x = pet_test_read_file(src, &n);
  assert_non_null(x);
  assert_true(bytes <= n);
  FILE *f = fopen(dst, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(x, 1, bytes, f), bytes);
  fclose(f);
  free(x);
}

static int setup_dir(void **state)
{
  char *dir = malloc(256);
  if (pet_test_tmpdir(dir, 256) == NULL) {
    free(dir);
    return -1;
  }
  *state = dir;
  return 0;
}

static int teardown_dir(void **state)
{
  rm_tree(*state);
  free(*state);
  return 0;
}

static void test_rawd_round_trip_and_layout(void **state)
{
  const char *dir = *state;
  char path[512];
  snprintf(path, sizeof path, "%s/a.raw", dir);
  const int64_t dims[3] = {2, 3, 4};
  float data[24];
  for (int i = 0; i < 24; ++i) data[i] = (float)i * 0.5f - 3.0f;
  assert_int_equal(pet_rawd_write(path, 3, dims, data), PET_OK);
  size_t n = 0;
  unsigned char *raw = pet_test_read_file(path, &n);
  assert_int_equal(n, 4 + 4 + 3 * 8 + 24 * 4);
  int32_t head[2];
  int64_t d[3];
  memcpy(head, raw, 8);
  memcpy(d, raw + 8, 24);
  assert_int_equal(head[0], 732174000);
  assert_int_equal(head[1], 3);
  assert_memory_equal(d, dims, sizeof d);
  assert_memory_equal(raw + 32, data, sizeof data);
  free(raw);

  int32_t ndim = 0;
  int64_t got[8];
  float *back = NULL;
  assert_int_equal(pet_rawd_read(path, &ndim, got, &back), PET_OK);
  assert_int_equal(ndim, 3);
  assert_memory_equal(got, dims, sizeof dims);
  assert_memory_equal(back, data, sizeof data);
  free(back);
  assert_int_equal(pet_rawd_read(path, &ndim, got, NULL), PET_OK); /* header only */

  char bad[512];
  snprintf(bad, sizeof bad, "%s/trunc.raw", dir);
  truncate_copy(path, bad, 32 + 23 * 4);
  assert_int_equal(pet_rawd_read(bad, &ndim, got, &back), PET_ERR_IO);
  assert_null(back);
  assert_non_null(strstr(pet_last_error(), bad));
  assert_non_null(strstr(pet_last_error(), "truncated"));
  truncate_copy(path, bad, 6);
  assert_int_equal(pet_rawd_read(bad, &ndim, got, &back), PET_ERR_IO);
  FILE *f = fopen(bad, "wb");
  const int32_t wrong[2] = {1234, 3};
  fwrite(wrong, 4, 2, f);
  fclose(f);
  assert_int_equal(pet_rawd_read(bad, &ndim, got, &back), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "magic"));
  const int64_t zero[2] = {3, 0};
  assert_int_equal(pet_rawd_write(bad, 2, zero, data), PET_ERR_IO);
}

static pet_scanner *make_scanner(pet_scanner_params p)
{
  pet_scanner *s = NULL;
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  return s;
}

static void test_his_round_trip_is_byte_identical(void **state)
{
  const char *dir = *state;
  char a[512], b[512];
  snprintf(a, sizeof a, "%s/h.his", dir);
  snprintf(b, sizeof b, "%s/h2.his", dir);
  pet_scanner *s = make_scanner(pet_scanner_params_small());
  pet_histogram *h = NULL, *g = NULL;
  assert_int_equal(pet_histogram_create_owned(&h, s), PET_OK);
  const int64_t n = pet_histogram_num_bins(h);
  for (int64_t i = 0; i < n; ++i) h->data[i] = pet_test_uniform((uint64_t)i) * 100.0f;
  assert_int_equal(pet_histogram_write_yrt(h, a), PET_OK);
  assert_int_equal(pet_histogram_read_yrt(&g, s, a), PET_OK);
  assert_int_equal(g->ownership, PET_OWNED);
  assert_memory_equal(g->data, h->data, (size_t)n * sizeof(float));
  assert_int_equal(pet_histogram_write_yrt(g, b), PET_OK);
  expect_same_files(a, b);
  /* and the header is RAWD with dims (num_zbin, num_phi, num_r) */
  int32_t ndim = 0;
  int64_t dims[8];
  assert_int_equal(pet_rawd_read(a, &ndim, dims, NULL), PET_OK);
  assert_int_equal(ndim, 3);
  assert_true(dims[0] == 64 && dims[1] == 256 && dims[2] == 128);
  pet_histogram_destroy(&g);

  /* an Alias histogram writes the same file */
  pet_histogram *al = NULL;
  assert_int_equal(pet_histogram_create_alias(&al, s, h->data), PET_OK);
  assert_int_equal(pet_histogram_write_yrt(al, b), PET_OK);
  expect_same_files(a, b);
  pet_histogram_destroy(&al);
  /* one without memory does not write anything */
  assert_int_equal(pet_histogram_create(&al, s, PET_ALIAS, PET_HOST), PET_OK);
  unlink(b);
  assert_int_equal(pet_histogram_write_yrt(al, b), PET_ERR_STATE);
  assert_false(exists(b));
  pet_histogram_destroy(&al);
  pet_histogram_destroy(&h);
  pet_scanner_destroy(&s);
}

static void test_his_wrong_dims_and_truncation(void **state)
{
  const char *dir = *state;
  char path[512], t[512];
  snprintf(path, sizeof path, "%s/w.his", dir);
  pet_scanner *s = make_scanner(pet_scanner_params_small());
  pet_histogram *h = NULL;
  const int64_t dims[3] = {128, 256, 63};
  float *zeros = calloc(128 * 256 * 63, sizeof(float));
  assert_int_equal(pet_rawd_write(path, 3, dims, zeros), PET_OK);
  free(zeros);
  assert_int_equal(pet_histogram_read_yrt(&h, s, path), PET_ERR_IO);
  assert_null(h);
  char want[1024];
  snprintf(want, sizeof want,
           "%s: dims 128x256x63 do not match scanner MYSCANNER (64x256x128)", path);
  assert_non_null(strstr(pet_last_error(), want));

  /* a clinical histogram is refused by the small scanner, and truncation is caught */
  pet_scanner *c = make_scanner(pet_scanner_params_clinical());
  pet_histogram *hc = NULL;
  assert_int_equal(pet_histogram_create_owned(&hc, s), PET_OK);
  snprintf(path, sizeof path, "%s/ok.his", dir);
  assert_int_equal(pet_histogram_write_yrt(hc, path), PET_OK);
  assert_int_equal(pet_histogram_read_yrt(&h, c, path), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "(420x624x154)"));
  snprintf(t, sizeof t, "%s/t.his", dir);
  truncate_copy(path, t, 32 + 1000);
  assert_int_equal(pet_histogram_read_yrt(&h, s, t), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "truncated"));
  assert_null(h);
  snprintf(t, sizeof t, "%s/absent.his", dir);
  assert_int_equal(pet_histogram_read_yrt(&h, s, t), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "absent.his"));
  pet_histogram_destroy(&hc);
  pet_scanner_destroy(&c);
  pet_scanner_destroy(&s);
}

static void test_his_from_device_equals_host(void **state)
{
  const char *dir = *state;
  if (!pet_gpu_compiled() || pet_gpu_device_count() == 0) skip();
  char a[512], b[512];
  snprintf(a, sizeof a, "%s/host.his", dir);
  snprintf(b, sizeof b, "%s/dev.his", dir);
  pet_scanner *s = make_scanner(pet_scanner_params_clinical()); /* 40M bins: several chunks */
  pet_histogram *h = NULL, *d = NULL;
  assert_int_equal(pet_histogram_create_owned(&h, s), PET_OK);
  const int64_t n = pet_histogram_num_bins(h);
  for (int64_t i = 0; i < n; ++i) h->data[i] = (float)(i % 1000003);
  assert_int_equal(pet_histogram_create(&d, s, PET_OWNED, PET_DEVICE), PET_OK);
  assert_int_equal(pet_histogram_allocate(d), PET_OK);
  assert_int_equal(pet_gpu_memcpy(d->data, h->data, (size_t)n * sizeof(float), 0), PET_OK);
  assert_int_equal(pet_histogram_write_yrt(h, a), PET_OK);
  assert_int_equal(pet_histogram_write_yrt(d, b), PET_OK);
  expect_same_files(a, b);
  assert_int_equal(pet_histogram_fill(d, 0.5f), PET_OK);
  float back = 0.0f;
  assert_int_equal(pet_gpu_memcpy(&back, d->data + n - 1, sizeof back, 1), PET_OK);
  assert_true(back == 0.5f);
  pet_histogram_destroy(&d);
  pet_histogram_destroy(&h);
  pet_scanner_destroy(&s);
}

static pet_listmode *make_events(int64_t n, bool tof)
{
  pet_listmode *lm = NULL;
  assert_int_equal(pet_listmode_create_owned(&lm, n, tof), PET_OK);
  for (int64_t i = 0; i < n; ++i) {
    lm->time_ms[i] = (uint32_t)(i / 3);
    lm->d1[i] = (uint32_t)(pet_test_uniform(3 * (uint64_t)i) * 2048.0f);
    lm->d2[i] = (uint32_t)(pet_test_uniform(3 * (uint64_t)i + 1) * 2048.0f);
    if (tof) lm->tof_ps[i] = pet_test_uniform(3 * (uint64_t)i + 2) * 800.0f - 400.0f;
  }
  return lm;
}

static void test_lmdat_round_trips(void **state)
{
  const char *dir = *state;
  pet_scanner *s = make_scanner(pet_scanner_params_small());
  for (int tof = 0; tof < 2; ++tof) {
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/e%d.lmDat", dir, tof);
    snprintf(b, sizeof b, "%s/f%d.lmDat", dir, tof);
    const int64_t n = 12345;
    pet_listmode *lm = make_events(n, tof), *back = NULL;
    assert_int_equal(pet_listmode_write_yrt(lm, a), PET_OK);
    size_t bytes = 0;
    unsigned char *raw = pet_test_read_file(a, &bytes);
    const size_t eb = tof ? 16 : 12;
    assert_int_equal(bytes, (size_t)n * eb);
    uint32_t word = 0;
    memcpy(&word, raw + 7 * eb + 4, 4); /* d1 of event 7, packed */
    assert_int_equal(word, lm->d1[7]);
    free(raw);
    assert_int_equal(pet_listmode_read_yrt(&back, s, a, tof), PET_OK);
    assert_int_equal(back->num_events, n);
    assert_int_equal(back->has_tof, (bool)tof);
    assert_memory_equal(back->time_ms, lm->time_ms, (size_t)n * 4);
    assert_memory_equal(back->d1, lm->d1, (size_t)n * 4);
    assert_memory_equal(back->d2, lm->d2, (size_t)n * 4);
    if (tof) assert_memory_equal(back->tof_ps, lm->tof_ps, (size_t)n * 4);
    assert_int_equal(pet_listmode_write_yrt(back, b), PET_OK);
    expect_same_files(a, b);
    pet_listmode_destroy(&back);
    pet_listmode_destroy(&lm);
  }
  /* empty list-mode */
  char e[512];
  snprintf(e, sizeof e, "%s/empty.lmDat", dir);
  pet_listmode *lm = make_events(0, false), *back = NULL;
  assert_int_equal(pet_listmode_write_yrt(lm, e), PET_OK);
  assert_int_equal(pet_listmode_read_yrt(&back, s, e, false), PET_OK);
  assert_int_equal(back->num_events, 0);
  pet_listmode_destroy(&back);
  pet_listmode_destroy(&lm);
  pet_scanner_destroy(&s);
}

static void test_lmdat_bad_files(void **state)
{
  const char *dir = *state;
  char a[512], t[512];
  snprintf(a, sizeof a, "%s/g.lmDat", dir);
  snprintf(t, sizeof t, "%s/t.lmDat", dir);
  pet_scanner *s = make_scanner(pet_scanner_params_small());
  pet_listmode *lm = make_events(100, true), *back = NULL;
  assert_int_equal(pet_listmode_write_yrt(lm, a), PET_OK);
  truncate_copy(a, t, 100 * 16 - 3);
  assert_int_equal(pet_listmode_read_yrt(&back, s, t, true), PET_ERR_IO);
  assert_null(back);
  assert_non_null(strstr(pet_last_error(), t));
  assert_non_null(strstr(pet_last_error(), "multiple"));
  /* 1600 bytes are not whole 12-byte events: the TOF flag is wrong */
  assert_int_equal(pet_listmode_read_yrt(&back, s, a, false), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "12-byte"));
  /* a detector id beyond the scanner */
  lm->d2[61] = 2048;
  assert_int_equal(pet_listmode_write_yrt(lm, t), PET_OK);
  assert_int_equal(pet_listmode_read_yrt(&back, s, t, true), PET_ERR_IO);
  assert_null(back);
  assert_non_null(strstr(pet_last_error(), "event 61"));
  assert_non_null(strstr(pet_last_error(), t));
  /* ... that a bigger scanner accepts */
  pet_scanner *c = make_scanner(pet_scanner_params_clinical());
  assert_int_equal(pet_listmode_read_yrt(&back, c, t, true), PET_OK);
  assert_int_equal(back->d2[61], 2048);
  pet_listmode_destroy(&back);
  pet_scanner_destroy(&c);
  pet_listmode_destroy(&lm);
  pet_scanner_destroy(&s);
}

static void test_failed_writes_leave_nothing_behind(void **state)
{
  const char *dir = *state;
  char sub[300], path[512];
  snprintf(sub, sizeof sub, "%s/sub", dir);
  assert_int_equal(mkdir(sub, 0755), 0);
  pet_scanner *s = make_scanner(pet_scanner_params_small());
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create_owned(&h, s), PET_OK);
  pet_listmode *lm = make_events(10, false);

  /* a folder that does not exist */
  snprintf(path, sizeof path, "%s/nodir/h.his", dir);
  assert_int_equal(pet_histogram_write_yrt(h, path), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "nodir/h.his"));
  assert_false(exists(path));
  snprintf(path, sizeof path, "%s/nodir/e.lmDat", dir);
  assert_int_equal(pet_listmode_write_yrt(lm, path), PET_ERR_IO);
  assert_false(exists(path));

  /* a failure after the temporary file was opened (bad dims): nothing in the folder */
  snprintf(path, sizeof path, "%s/x.raw", sub);
  const int64_t bad[1] = {-4};
  float v[4] = {1, 2, 3, 4};
  assert_int_equal(pet_rawd_write(path, 1, bad, v), PET_ERR_IO);
  assert_false(exists(path));
  assert_int_equal(count_entries(sub), 0);

  /* a failed rewrite keeps the previous file intact */
  const int64_t good[1] = {4};
  assert_int_equal(pet_rawd_write(path, 1, good, v), PET_OK);
  size_t n0 = 0;
  void *before = pet_test_read_file(path, &n0);
  assert_int_equal(pet_rawd_write(path, 1, bad, v), PET_ERR_IO);
  size_t n1 = 0;
  void *after = pet_test_read_file(path, &n1);
  assert_int_equal(n0, n1);
  assert_memory_equal(before, after, n0);
  assert_int_equal(count_entries(sub), 1);
  free(before);
  free(after);

  /* the helpers themselves: abort removes the temporary, commit replaces atomically */
  FILE *f = NULL;
  char *tmp = NULL;
  snprintf(path, sizeof path, "%s/y.bin", sub);
  assert_int_equal(pet_file_open_temp(path, &tmp, &f), PET_OK);
  assert_true(exists(tmp));
  assert_false(exists(path));
  char tmp_copy[600];
  snprintf(tmp_copy, sizeof tmp_copy, "%s", tmp);
  assert_int_equal(pet_file_write(f, "abc", 3, path), PET_OK);
  pet_file_abort(&f, &tmp);
  assert_null(f);
  assert_null(tmp);
  assert_false(exists(tmp_copy));
  assert_false(exists(path));
  assert_int_equal(pet_file_write_atomic(path, "abc", 3), PET_OK);
  size_t n = 0;
  char *txt = pet_test_read_file(path, &n);
  assert_int_equal(n, 3);
  assert_memory_equal(txt, "abc", 3);
  free(txt);
  assert_int_equal(count_entries(sub), 2);
  unlink(path);
  snprintf(path, sizeof path, "%s/x.raw", sub);
  unlink(path);
  rmdir(sub);

  pet_listmode_destroy(&lm);
  pet_histogram_destroy(&h);
  pet_scanner_destroy(&s);
}

int main(void)
{
  pet_error_set_print(false);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rawd_round_trip_and_layout, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_his_round_trip_is_byte_identical, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_his_wrong_dims_and_truncation, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_his_from_device_equals_host, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_lmdat_round_trips, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_lmdat_bad_files, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_failed_writes_leave_nothing_behind, setup_dir,
                                      teardown_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
