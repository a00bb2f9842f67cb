/* Fuzzing regressions and input validation. Every file in tests/fuzz_regressions/<target>/
 * (an input that once crashed, leaked or hit UB under fuzz/fuzz_<target>) and every malformed
 * seed tests/fuzz_corpus/<target>/bad_* must be refused with a status, not crash; the good
 * tiny seeds must load. Then pet_histogram_validate and pet_listmode_check_sorted on the
 * seeds made for them. The readers are called as fuzz/fuzz_<target>.c calls them. Of the
 * inputs that break libhdf5 (fuzz/known/h5), the one petrel can refuse is a regression here;
 * the other is read "successfully" by libhdf5 past its own buffer (fuzz/known/README.md). */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pet_config.h"
#include "pet_h5.h"
#include "pet_nifti.h"
#include "pet_yrt_io.h"
#include "pet_test_util.h"

#define CORPUS_DIR PET_TESTS_DIR "/fuzz_corpus"
#define REGRESSIONS_DIR PET_TESTS_DIR "/fuzz_regressions"

static const char *const TARGETS[] = {"scanner_json", "scanner_lut", "rawd", "histogram_yrt",
                                      "listmode_yrt", "config", "nifti", "h5"};

/* fuzz/fuzz_common.h's tiny scanner: 8 x 2 rings, 16 detectors, 128 histogram bins. */
static pet_scanner *tiny_scanner(void)
{
  pet_scanner_params p;
  memset(&p, 0, sizeof p);
  snprintf(p.name, sizeof p.name, "%s", "FUZZ_TINY");
  p.axial_fov = 4.0f;
  p.crystal_size_z = 2.0f;
  p.crystal_size_trans = 2.0f;
  p.crystal_depth = 10.0f;
  p.scanner_radius = 50.0f;
  p.dets_per_ring = 8;
  p.num_rings = 2;
  p.num_doi = 1;
  p.max_ring_diff = 1;
  p.min_ang_diff = 1;
  p.dets_per_block = 1;
  pet_scanner *s = NULL;
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  return s;
}

/* The message of the last refusal read_as saw. */
static char last_error[1024];

/* Reads `path` as target does; PET_OK only if every read it makes succeeds. */
static pet_status read_as(const char *target, const char *path)
{
  pet_status st = PET_ERR_ARG;
  if (strcmp(target, "scanner_json") == 0) {
    pet_scanner *s = NULL;
    st = pet_scanner_read_json(&s, path);
    pet_scanner_destroy(&s);
  } else if (strcmp(target, "scanner_lut") == 0) {
    float *lut = NULL;
    st = pet_scanner_read_lut(path, 16, &lut);
    free(lut);
  } else if (strcmp(target, "rawd") == 0) {
    int32_t ndim = 0;
    int64_t dims[8];
    float *v = NULL;
    st = pet_rawd_read(path, &ndim, dims, &v);
    free(v);
  } else if (strcmp(target, "histogram_yrt") == 0) {
    pet_scanner *s = tiny_scanner();
    pet_histogram *h = NULL;
    st = pet_histogram_read_yrt(&h, s, path);
    pet_histogram_destroy(&h);
    pet_scanner_destroy(&s);
  } else if (strcmp(target, "listmode_yrt") == 0) {
    pet_scanner *s = tiny_scanner();
    pet_listmode *lm = NULL;
    st = pet_listmode_read_yrt(&lm, s, path, false);
    pet_listmode_destroy(&lm);
    pet_scanner_destroy(&s);
  } else if (strcmp(target, "config") == 0) {
    pet_config cfg;
    pet_config_defaults(&cfg);
    st = pet_config_read_json(&cfg, path);
  } else if (strcmp(target, "nifti") == 0) {
    pet_image **frames = NULL;
    int nt = 0;
    st = pet_image_read_nifti_4d(&frames, &nt, path);
    pet_image_free_frames(&frames, nt);
  } else if (strcmp(target, "h5") == 0) {
    /* as fuzz/fuzz_h5.c: the file tried as a histogram, a list-mode and an image; refused
     * only if every reader refuses it */
    int64_t n = 0;
    bool tof = false;
    static float buf[4096];
    pet_status sh = pet_h5_histogram_info(path, &n, NULL, 0, NULL);
    if (sh == PET_OK) sh = pet_h5_read_histogram_range(path, "histogram", 0, n < 4096 ? n : 4096, buf);
    pet_status sl = pet_h5_listmode_info(path, &n, &tof, NULL, 0);
    pet_image *img = NULL;
    pet_status si = pet_h5_read_image(path, &img);
    pet_image_destroy(&img);
    print_message("%s: histogram %s, list-mode %s, image %s\n", path, pet_status_name(sh),
                  pet_status_name(sl), pet_status_name(si));
    st = sh == PET_OK || sl == PET_OK || si == PET_OK ? PET_OK : sh;
  } else {
    fail_msg("unknown fuzz target %s", target);
  }
  snprintf(last_error, sizeof last_error, "%s", pet_last_error());
  pet_error_clear();
  return st;
}

/* Calls read_as on every file of dir/target whose name starts with prefix ("" = all) and
 * checks that it fails; returns how many files it tried. */
static int refuse_all(const char *dir, const char *target, const char *prefix)
{
  char folder[1024], path[2048];
  int n = 0;
  snprintf(folder, sizeof folder, "%s/%s", dir, target);
  DIR *d = opendir(folder);
  if (d == NULL) return 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
    snprintf(path, sizeof path, "%s/%s", folder, e->d_name);
    if (read_as(target, path) == PET_OK) fail_msg("%s was accepted", path);
    /* refused with a message that names the file, not only a status */
    if (strstr(last_error, e->d_name) == NULL)
      fail_msg("%s was refused without a message naming it: \"%s\"", path, last_error);
    ++n;
  }
  closedir(d);
  return n;
}

static void test_regressions_refused(void **state)
{
  int n = 0;
  for (size_t i = 0; i < sizeof TARGETS / sizeof TARGETS[0]; ++i)
    n += refuse_all(REGRESSIONS_DIR, TARGETS[i], "");
  print_message("%d regression inputs refused\n", n);
  assert_true(n >= 1);
}

static void test_bad_seeds_refused(void **state)
{
  int n = 0;
  for (size_t i = 0; i < sizeof TARGETS / sizeof TARGETS[0]; ++i)
    n += refuse_all(CORPUS_DIR, TARGETS[i], "bad_");
  assert_true(n >= 20);
}

static void test_good_seeds_read(void **state)
{
  static const char *const good[][2] = {
      {"scanner_json", "tiny_nolut.json"}, {"scanner_json", "small_nolut.json"},
      {"scanner_json", "clinical_nolut.json"}, {"scanner_lut", "tiny.lut"},
      {"rawd", "2x3.raw"}, {"rawd", "1d.raw"}, {"histogram_yrt", "tiny.his"},
      {"histogram_yrt", "tiny_nan_neg.his"}, {"listmode_yrt", "tiny.lmDat"},
      {"listmode_yrt", "tiny_unsorted.lmDat"}, {"listmode_yrt", "empty.lmDat"},
      {"config", "minimal.json"}, {"nifti", "image3d.nii"}, {"nifti", "image4d.nii"}};
  char path[1024];
  for (size_t i = 0; i < sizeof good / sizeof good[0]; ++i) {
    snprintf(path, sizeof path, "%s/%s/%s", CORPUS_DIR, good[i][0], good[i][1]);
    if (read_as(good[i][0], path) != PET_OK) fail_msg("%s: %s", path, pet_last_error());
  }
}

static void test_histogram_validate(void **state)
{
  pet_scanner *s = tiny_scanner();
  pet_histogram *h = NULL;
  int64_t n_bad = -1, first = -2;
  /* raw reading accepts anything; validation counts NaN, Inf and negative bins */
  assert_int_equal(pet_histogram_read_yrt(&h, s, CORPUS_DIR "/histogram_yrt/tiny_nan_neg.his"),
                   PET_OK);
  assert_int_equal(pet_histogram_validate(h, &n_bad, &first), PET_ERR_ARG);
  assert_int_equal(n_bad, 3); /* bin 5 = -1, bin 9 = NaN, bin 100 = +Inf */
  assert_int_equal(first, 5);
  assert_non_null(strstr(pet_last_error(), "bin 5 (z_bin 0, phi 1, r 1) = -1"));
  h->data[5] = -0.0f; /* not negative */
  h->data[9] = 0.0f;
  h->data[100] = -INFINITY;
  assert_int_equal(pet_histogram_validate(h, &n_bad, NULL), PET_ERR_ARG);
  assert_int_equal(n_bad, 1);
  h->data[100] = 3.0f;
  assert_int_equal(pet_histogram_validate(h, &n_bad, &first), PET_OK);
  assert_int_equal(n_bad, 0);
  assert_int_equal(first, -1);
  assert_int_equal(pet_histogram_validate(h, NULL, NULL), PET_OK);
  pet_histogram_destroy(&h);
  /* no memory yet */
  assert_int_equal(pet_histogram_create(&h, s, PET_OWNED, PET_HOST), PET_OK);
  assert_int_equal(pet_histogram_validate(h, &n_bad, &first), PET_ERR_STATE);
  pet_histogram_destroy(&h);
  pet_scanner_destroy(&s);
  pet_error_clear();
}

static void test_listmode_check_sorted(void **state)
{
  pet_scanner *s = tiny_scanner();
  pet_listmode *lm = NULL;
  int64_t first = -2;
  assert_int_equal(pet_listmode_read_yrt(&lm, s, CORPUS_DIR "/listmode_yrt/tiny.lmDat", false),
                   PET_OK);
  assert_int_equal(pet_listmode_check_sorted(lm, &first), PET_OK); /* ties are sorted */
  assert_int_equal(first, -1);
  pet_listmode_destroy(&lm);
  assert_int_equal(
      pet_listmode_read_yrt(&lm, s, CORPUS_DIR "/listmode_yrt/tiny_unsorted.lmDat", false),
      PET_OK);
  assert_int_equal(pet_listmode_check_sorted(lm, &first), PET_ERR_ARG);
  assert_int_equal(first, 1);
  assert_non_null(strstr(pet_last_error(), "event 1 at 0 ms follows event 0 at 3 ms"));
  pet_listmode_destroy(&lm);
  assert_int_equal(pet_listmode_read_yrt(&lm, s, CORPUS_DIR "/listmode_yrt/empty.lmDat", false),
                   PET_OK);
  assert_int_equal(pet_listmode_check_sorted(lm, NULL), PET_OK);
  pet_listmode_destroy(&lm);
  pet_scanner_destroy(&s);
  pet_error_clear();
}

int main(void)
{
  pet_error_set_print(false);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_regressions_refused), cmocka_unit_test(test_bad_seeds_refused),
      cmocka_unit_test(test_good_seeds_read), cmocka_unit_test(test_histogram_validate),
      cmocka_unit_test(test_listmode_check_sorted)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
