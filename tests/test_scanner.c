/* Scanner geometry: parameters, YRT-PET's regular LUT against the fixtures, LUT and JSON
 * files (round trips and every error path naming the file and the key). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pet_scanner.h"
#include "pet_test_util.h"

static const double PI = 3.14159265358979323846;

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

static void write_text(const char *path, const char *text)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  fclose(f);
}

static pet_scanner_params with_name(pet_scanner_params p, const char *name)
{
  snprintf(p.name, sizeof p.name, "%s", name);
  return p;
}

/* Max |a - b| over the whole LUT of s and the fixture LUT file. */
static double lut_diff_to_fixture(const pet_scanner *s, const char *fixture)
{
  char path[512];
  size_t bytes = 0;
  float *ref = pet_test_read_file(pet_test_fixture(path, sizeof path, fixture, "scanner.lut"),
                                  &bytes);
  assert_non_null(ref);
  assert_int_equal(bytes, (size_t)s->num_dets * 6 * sizeof(float));
  double worst = 0.0;
  for (int64_t i = 0; i < s->num_dets * 6; ++i)
    worst = fmax(worst, fabs((double)s->lut[i] - (double)ref[i]));
  free(ref);
  return worst;
}

static void test_scanner_detector_counts(void **state)
{
  (void)state;
  pet_scanner *s = NULL;
  pet_scanner_params p = pet_scanner_params_small();
  assert_string_equal(p.name, "MYSCANNER");
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  assert_int_equal(pet_scanner_num_dets(s), 256 * 8);
  assert_null(s->det_mask);
  pet_scanner_destroy(&s);
  assert_null(s);
  p = pet_scanner_params_clinical();
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  assert_int_equal(pet_scanner_num_dets(s), 624 * 24);
  pet_scanner_destroy(&s);
  p.num_doi = 3;
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  assert_int_equal(pet_scanner_num_dets(s), 624 * 24 * 3);
  pet_scanner_destroy(&s);
  pet_scanner_destroy(&s); /* NULL-safe */
}

static void test_scanner_ring_z_positions(void **state)
{
  (void)state;
  pet_scanner_params ps[2] = {pet_scanner_params_small(), pet_scanner_params_clinical()};
  for (int k = 0; k < 2; ++k) {
    pet_scanner *s = NULL;
    const pet_scanner_params *p = &ps[k];
    assert_int_equal(pet_scanner_create(&s, p), PET_OK);
    for (int64_t d = 0; d < s->num_dets; ++d) {
      int64_t ring = (d / p->dets_per_ring) % p->num_rings;
      double z = -p->axial_fov / 2.0 + (ring + 0.5) * p->axial_fov / p->num_rings;
      assert_true(fabs(s->lut[6 * d + 2] - z) < 1e-4);
      assert_true(s->lut[6 * d + 5] == 0.0f);
    }
    pet_scanner_destroy(&s);
  }
}

static void test_scanner_in_ring_angles(void **state)
{
  (void)state;
  pet_scanner_params ps[2] = {pet_scanner_params_small(), pet_scanner_params_clinical()};
  for (int k = 0; k < 2; ++k) {
    pet_scanner *s = NULL;
    const pet_scanner_params *p = &ps[k];
    assert_int_equal(pet_scanner_create(&s, p), PET_OK);
    const int32_t nb = p->dets_per_ring / p->dets_per_block;
    double prev = -1.0, a0 = 0.0;
    for (int32_t i = 0; i < p->dets_per_ring; ++i) {
      const float *row = s->lut + 6 * i;
      const double block_angle = 2.0 * PI * (i / p->dets_per_block) / nb;
      /* orientation: unit, pointing outwards along the block's normal */
      assert_true(fabs(hypot(row[3], row[4]) - 1.0) < 1e-5);
      assert_true(fabs(row[3] - cos(block_angle)) < 1e-5);
      assert_true(fabs(row[4] - sin(block_angle)) < 1e-5);
      /* distance from the face plane: radius + depth/2 */
      double depth = row[0] * row[3] + row[1] * row[4];
      assert_true(fabs(depth - (p->scanner_radius + p->crystal_depth / 2)) < 1e-3);
      /* index 0 on the +x side, angles increasing towards +y */
      double a = atan2(row[1], row[0]);
      if (i == 0) {
        assert_true(fabs(a) < PI / nb);
        a0 = a;
      }
      double rel = fmod(a - a0 + 4.0 * PI, 2.0 * PI); /* once around, from detector 0 */
      if (i > 0) assert_true(rel > prev);
      prev = rel;
    }
    /* crystals are crystal_size_trans apart within a block */
    double gap = hypot(s->lut[6] - s->lut[0], s->lut[7] - s->lut[1]);
    assert_true(fabs(gap - p->crystal_size_trans) < 1e-4);
    pet_scanner_destroy(&s);
  }
}

static void test_scanner_lut_matches_yrtpet_fixtures(void **state)
{
  (void)state;
  pet_scanner *s = NULL;
  pet_scanner_params p = pet_scanner_params_small();
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  assert_true(lut_diff_to_fixture(s, "small") < 1e-3);
  pet_scanner_destroy(&s);
  p = pet_scanner_params_clinical();
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  assert_true(lut_diff_to_fixture(s, "clinical") < 1e-3);
  /* the example in the spec */
  assert_true(fabs(s->lut[0] - 431.0) < 1e-3 && fabs(s->lut[1] + 24.0) < 1e-3 &&
              fabs(s->lut[2] + 46.805) < 1e-3 && s->lut[3] == 1.0f);
  pet_scanner_destroy(&s);
}

static void test_scanner_doi_layers_stack_outwards(void **state)
{
  (void)state;
  pet_scanner *s = NULL;
  pet_scanner_params p = pet_scanner_params_small();
  p.num_doi = 2;
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  const int64_t layer = (int64_t)p.dets_per_ring * p.num_rings;
  for (int64_t d = 0; d < layer; ++d) {
    const float *in = s->lut + 6 * d, *out = s->lut + 6 * (d + layer);
    /* same direction, one crystal depth further out, same z */
    assert_true(fabs((out[0] - in[0]) - p.crystal_depth * in[3]) < 1e-3);
    assert_true(fabs((out[1] - in[1]) - p.crystal_depth * in[4]) < 1e-3);
    assert_true(out[2] == in[2] && out[3] == in[3] && out[4] == in[4]);
  }
  pet_scanner_destroy(&s);
}

static void test_scanner_params_check_names_the_field(void **state)
{
  (void)state;
  pet_scanner *s = NULL;
  pet_scanner_params p;
#define EXPECT_BAD(field, assign)                                                                \
  do {                                                                                           \
    p = pet_scanner_params_small();                                                              \
    assign;                                                                                      \
    assert_int_equal(pet_scanner_params_check(&p), PET_ERR_ARG);                                 \
    assert_non_null(strstr(pet_last_error(), field));                                            \
    assert_int_equal(pet_scanner_create(&s, &p), PET_ERR_ARG);                                   \
    assert_null(s);                                                                              \
  } while (0)
  EXPECT_BAD("axial_fov", p.axial_fov = 0.0f);
  EXPECT_BAD("crystal_size_z", p.crystal_size_z = -2.0f);
  EXPECT_BAD("crystal_size_trans", p.crystal_size_trans = NAN);
  EXPECT_BAD("crystal_depth", p.crystal_depth = -1.0f);
  EXPECT_BAD("scanner_radius", p.scanner_radius = INFINITY);
  EXPECT_BAD("dets_per_ring", p.dets_per_ring = 0);
  EXPECT_BAD("num_rings", p.num_rings = -8);
  EXPECT_BAD("num_doi", p.num_doi = 0);
  EXPECT_BAD("dets_per_block", p.dets_per_block = 0);
  EXPECT_BAD("max_ring_diff", p.max_ring_diff = 8);
  EXPECT_BAD("max_ring_diff", p.max_ring_diff = -1);
  EXPECT_BAD("min_ang_diff", p.min_ang_diff = 0);
  EXPECT_BAD("min_ang_diff", p.min_ang_diff = 129);
  EXPECT_BAD("tof_fwhm_ps", p.tof_fwhm_ps = -5.0f);
  /* LUT generation needs whole blocks that do not overlap */
  p = pet_scanner_params_small();
  p.dets_per_block = 30;
  assert_int_equal(pet_scanner_params_check(&p), PET_OK);
  assert_int_equal(pet_scanner_create(&s, &p), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "dets_per_block"));
  p = pet_scanner_params_small();
  p.scanner_radius = 50.0f;
  assert_int_equal(pet_scanner_create(&s, &p), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "overlap"));
  assert_null(s);
}

static void test_scanner_lut_file_round_trip_and_size_check(void **state)
{
  (void)state;
  char dir[256], path[512];
  assert_non_null(pet_test_tmpdir(dir, sizeof dir));
  pet_scanner *s = NULL, *t = NULL;
  pet_scanner_params p = pet_scanner_params_small();
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  snprintf(path, sizeof path, "%s/a.lut", dir);
  assert_int_equal(pet_scanner_write_lut(s, path), PET_OK);
  float *lut = NULL;
  assert_int_equal(pet_scanner_read_lut(path, s->num_dets, &lut), PET_OK);
  assert_memory_equal(lut, s->lut, (size_t)s->num_dets * 6 * sizeof(float));
  assert_int_equal(pet_scanner_create_with_lut(&t, &p, lut), PET_OK);
  assert_memory_equal(t->lut, s->lut, (size_t)s->num_dets * 6 * sizeof(float));
  assert_ptr_not_equal(t->lut, lut); /* copied */
  free(lut);
  lut = NULL;
  /* one detector more than the file holds */
  assert_int_equal(pet_scanner_read_lut(path, s->num_dets + 1, &lut), PET_ERR_IO);
  assert_null(lut);
  assert_non_null(strstr(pet_last_error(), path));
  assert_non_null(strstr(pet_last_error(), "49152"));
  snprintf(path, sizeof path, "%s/missing.lut", dir);
  assert_int_equal(pet_scanner_read_lut(path, s->num_dets, &lut), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "missing.lut"));
  snprintf(path, sizeof path, "%s/nodir/a.lut", dir);
  assert_int_equal(pet_scanner_write_lut(s, path), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "nodir/a.lut"));
  pet_scanner_destroy(&s);
  pet_scanner_destroy(&t);
  rm_tree(dir);
}

static void expect_params_equal(const pet_scanner_params *a, const pet_scanner_params *b)
{
  assert_string_equal(a->name, b->name);
  assert_true(a->axial_fov == b->axial_fov);
  assert_true(a->crystal_size_z == b->crystal_size_z);
  assert_true(a->crystal_size_trans == b->crystal_size_trans);
  assert_true(a->crystal_depth == b->crystal_depth);
  assert_true(a->scanner_radius == b->scanner_radius);
  assert_int_equal(a->dets_per_ring, b->dets_per_ring);
  assert_int_equal(a->num_rings, b->num_rings);
  assert_int_equal(a->num_doi, b->num_doi);
  assert_int_equal(a->max_ring_diff, b->max_ring_diff);
  assert_int_equal(a->min_ang_diff, b->min_ang_diff);
  assert_int_equal(a->dets_per_block, b->dets_per_block);
  assert_true(a->tof_fwhm_ps == b->tof_fwhm_ps);
  assert_true(a->collimator_radius == b->collimator_radius);
  assert_true(a->fwhm_kev == b->fwhm_kev);
  assert_true(a->energy_lld_kev == b->energy_lld_kev);
}

static void test_scanner_reads_fixture_jsons(void **state)
{
  (void)state;
  char path[512];
  pet_scanner *s = NULL;
  assert_int_equal(pet_scanner_read_json(&s, pet_test_fixture(path, sizeof path, "small",
                                                              "scanner.json")),
                   PET_OK);
  pet_scanner_params want = with_name(pet_scanner_params_small(), "YRTREF_SMALL");
  want.collimator_radius = 151.0f;
  want.fwhm_kev = 0.2f;
  want.energy_lld_kev = 400.0f;
  expect_params_equal(&s->params, &want);
  assert_true(lut_diff_to_fixture(s, "small") == 0.0); /* loaded from detCoord */
  pet_scanner_destroy(&s);

  assert_int_equal(pet_scanner_read_json(&s, pet_test_fixture(path, sizeof path, "clinical",
                                                              "scanner.json")),
                   PET_OK);
  want = pet_scanner_params_clinical();
  want.collimator_radius = 401.0f;
  want.fwhm_kev = 0.2f;
  want.energy_lld_kev = 400.0f;
  expect_params_equal(&s->params, &want);
  assert_int_equal(s->num_dets, 14976);
  assert_true(lut_diff_to_fixture(s, "clinical") == 0.0);
  pet_scanner_destroy(&s);
}

/* The built-in total-body scanner: the published figures, a LUT without overlapping blocks,
 * and config/examples/total_body.json holding the same geometry. */
static void test_scanner_total_body_builtin_and_example_json(void **state)
{
  (void)state;
  pet_scanner_params p = pet_scanner_params_total_body();
  assert_int_equal(pet_scanner_params_check(&p), PET_OK);
  pet_scanner *s = NULL;
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  assert_int_equal(s->num_dets, 840 * 672);
  /* ring pitch axial_fov / rings, first and last ring centred within the 1940 mm FOV */
  const float pitch = 1940.0f / 672.0f;
  assert_float_equal(s->lut[2], -970.0f + 0.5f * pitch, 1e-3);
  assert_float_equal(s->lut[6 * (s->num_dets - 1) + 2], 970.0f - 0.5f * pitch, 1e-2);
  /* crystal centres between the block face (393 mm) and its back (411.1 mm) */
  double rmin = 1e9, rmax = 0.0;
  for (int64_t d = 0; d < 840; ++d) {
    double r = hypot(s->lut[6 * d], s->lut[6 * d + 1]);
    rmin = r < rmin ? r : rmin;
    rmax = r > rmax ? r : rmax;
  }
  assert_true(rmin >= 393.0 + 9.0 && rmax <= 393.0 + 18.1);
  pet_scanner_destroy(&s);

  pet_scanner_params b;
  assert_int_equal(pet_scanner_params_builtin("total-body", &b), PET_OK);
  expect_params_equal(&b, &p);
  assert_int_equal(pet_scanner_params_builtin("clinical", &b), PET_OK);
  pet_scanner_params c = pet_scanner_params_clinical();
  expect_params_equal(&b, &c);
  assert_int_equal(pet_scanner_params_builtin("explorer", &b), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "explorer"));

  char path[1024];
  snprintf(path, sizeof path, "%s/../config/examples/total_body.json", PET_TESTS_DIR);
  assert_int_equal(pet_scanner_read_json(&s, path), PET_OK);
  expect_params_equal(&s->params, &p);
  assert_true(s->params.fov_radius == p.fov_radius);
  assert_int_equal(s->num_dets, 564480);
  pet_scanner_destroy(&s);
}

static void test_scanner_json_round_trip(void **state)
{
  (void)state;
  char dir[256], path[512], path2[512];
  assert_non_null(pet_test_tmpdir(dir, sizeof dir));
  pet_scanner *s = NULL, *t = NULL;
  pet_scanner_params p = pet_scanner_params_clinical();
  p.tof_fwhm_ps = 250.0f;
  p.energy_lld_kev = 425.0f;
  assert_int_equal(pet_scanner_create(&s, &p), PET_OK);
  /* a LUT that differs from the generated one must come back through detCoord */
  s->lut[6 * 5 + 0] += 0.25f;
  s->det_mask = calloc((size_t)s->num_dets, 1);
  for (int64_t d = 0; d < s->num_dets; ++d) s->det_mask[d] = (uint8_t)(d % 7 != 3);

  snprintf(path, sizeof path, "%s/rt.json", dir);
  assert_int_equal(pet_scanner_write_json(s, path, "rt.lut"), PET_OK);
  assert_int_equal(pet_scanner_read_json(&t, path), PET_OK);
  expect_params_equal(&t->params, &s->params);
  assert_int_equal(t->num_dets, s->num_dets);
  assert_memory_equal(t->lut, s->lut, (size_t)s->num_dets * 6 * sizeof(float));
  assert_non_null(t->det_mask);
  assert_memory_equal(t->det_mask, s->det_mask, (size_t)s->num_dets);
  pet_scanner_destroy(&t);

  /* without a LUT file, reading back regenerates the geometry */
  free(s->det_mask);
  s->det_mask = NULL;
  snprintf(path2, sizeof path2, "%s/gen.json", dir);
  assert_int_equal(pet_scanner_write_json(s, path2, NULL), PET_OK);
  assert_int_equal(pet_scanner_read_json(&t, path2), PET_OK);
  expect_params_equal(&t->params, &s->params);
  assert_null(t->det_mask);
  assert_true(t->lut[6 * 5] == s->lut[6 * 5] - 0.25f);
  assert_true(lut_diff_to_fixture(t, "clinical") < 1e-3);
  pet_scanner_destroy(&t);

  /* the LUT name must be a bare name next to the JSON */
  assert_int_equal(pet_scanner_write_json(s, path, "sub/x.lut"), PET_ERR_ARG);
  snprintf(path, sizeof path, "%s/nodir/x.json", dir);
  assert_int_equal(pet_scanner_write_json(s, path, NULL), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "nodir/x.json"));
  pet_scanner_destroy(&s);
  rm_tree(dir);
}

/* A scanner JSON built from (key, value) pairs: entry `skip` left out, and entry `edit`
 * given `value` instead. */
typedef struct kv {
  const char *key, *value;
} kv;
static const kv GOOD[] = {
    {"VERSION", "3.2"},        {"scannerName", "\"T\""},   {"axialFOV", "25.0"},
    {"crystalSize_z", "2.0"},  {"crystalSize_trans", "2.0"}, {"crystalDepth", "10.0"},
    {"scannerRadius", "161.0"}, {"detsPerRing", "256"},     {"numRings", "8"},
    {"numDOI", "1"},           {"maxRingDiff", "7"},       {"minAngDiff", "1"},
    {"detsPerBlock", "32"},
};
#define N_GOOD (sizeof GOOD / sizeof GOOD[0])
#define N_MANDATORY 12 /* all but detsPerBlock */

static void write_json_case(const char *path, size_t skip, size_t edit, const char *value,
                            const char *extra)
{
  char text[4096];
  size_t used = (size_t)snprintf(text, sizeof text, "{\n");
  bool first = true;
  for (size_t i = 0; i < N_GOOD; ++i) {
    if (i == skip) continue;
    used += (size_t)snprintf(text + used, sizeof text - used, "%s  \"%s\": %s", first ? "" : ",\n",
                             GOOD[i].key, i == edit ? value : GOOD[i].value);
    first = false;
  }
  if (extra != NULL) used += (size_t)snprintf(text + used, sizeof text - used, ",\n  %s", extra);
  snprintf(text + used, sizeof text - used, "\n}\n");
  write_text(path, text);
}

static void expect_json_error(const char *path, pet_status want, const char *key)
{
  pet_scanner *s = NULL;
  pet_error_clear();
  assert_int_equal(pet_scanner_read_json(&s, path), want);
  assert_null(s);
  assert_non_null(strstr(pet_last_error(), path));
  if (key != NULL) {
    if (strstr(pet_last_error(), key) == NULL) fail_msg("'%s' not in: %s", key, pet_last_error());
  }
}

static void test_scanner_json_errors_name_file_and_key(void **state)
{
  (void)state;
  char dir[256], path[512];
  assert_non_null(pet_test_tmpdir(dir, sizeof dir));
  snprintf(path, sizeof path, "%s/s.json", dir);
  pet_scanner *s = NULL;

  /* the template itself is fine, and detsPerBlock is optional only with a LUT file */
  write_json_case(path, N_GOOD, N_GOOD, NULL, NULL);
  assert_int_equal(pet_scanner_read_json(&s, path), PET_OK);
  assert_int_equal(s->num_dets, 2048);
  assert_true(lut_diff_to_fixture(s, "small") < 1e-3);
  pet_scanner_destroy(&s);

  for (size_t i = 0; i < N_MANDATORY; ++i) {
    write_json_case(path, i, N_GOOD, NULL, NULL);
    expect_json_error(path, PET_ERR_CONFIG, GOOD[i].key);
    assert_non_null(strstr(pet_last_error(), "missing"));
  }
  for (size_t i = 0; i < N_MANDATORY; ++i) { /* wrong type */
    write_json_case(path, N_GOOD, i, i == 1 ? "42" : "\"7\"", NULL);
    expect_json_error(path, PET_ERR_CONFIG, GOOD[i].key);
  }
  for (size_t i = 2; i < N_GOOD; ++i) { /* negative sizes and counts */
    write_json_case(path, N_GOOD, i, "-3", NULL);
    expect_json_error(path, PET_ERR_CONFIG, GOOD[i].key);
  }
  write_json_case(path, N_GOOD, 7, "0", NULL); /* zero detectors per ring */
  expect_json_error(path, PET_ERR_CONFIG, "detsPerRing");
  write_json_case(path, N_GOOD, 8, "8.5", NULL); /* not an integer */
  expect_json_error(path, PET_ERR_CONFIG, "numRings");
  write_json_case(path, N_GOOD, 0, "4.0", NULL); /* unsupported version */
  expect_json_error(path, PET_ERR_CONFIG, "VERSION");
  write_json_case(path, N_GOOD, 10, "8", NULL); /* maxRingDiff >= numRings */
  expect_json_error(path, PET_ERR_CONFIG, "max_ring_diff");
  write_json_case(path, 12, N_GOOD, NULL, NULL); /* no detsPerBlock and no LUT to load */
  expect_json_error(path, PET_ERR_CONFIG, "detsPerBlock");
  write_json_case(path, N_GOOD, N_GOOD, NULL, "\"detCoord\": 5");
  expect_json_error(path, PET_ERR_CONFIG, "detCoord");

  write_text(path, "{ \"VERSION\": 3.2, \"scannerName\": \"T\", ");
  expect_json_error(path, PET_ERR_CONFIG, "malformed");
  write_text(path, "[1, 2]");
  expect_json_error(path, PET_ERR_CONFIG, "object");

  /* a LUT file of the wrong size: the message names the JSON, the key and the LUT */
  char lut[512];
  snprintf(lut, sizeof lut, "%s/short.lut", dir);
  write_text(lut, "0123456789abcdef");
  write_json_case(path, N_GOOD, N_GOOD, NULL, "\"detCoord\": \"short.lut\"");
  expect_json_error(path, PET_ERR_IO, "detCoord");
  assert_non_null(strstr(pet_last_error(), "short.lut"));
  write_json_case(path, N_GOOD, N_GOOD, NULL, "\"detCoord\": \"absent.lut\"");
  expect_json_error(path, PET_ERR_IO, "absent.lut");

  /* a mask of the wrong size, and one with a value other than 0/1 */
  char mask[512];
  snprintf(mask, sizeof mask, "%s/m.u8", dir);
  write_text(mask, "\1\1\1");
  write_json_case(path, N_GOOD, N_GOOD, NULL, "\"detMask\": \"m.u8\"");
  expect_json_error(path, PET_ERR_CONFIG, "detMask");
  char *ones = malloc(2048);
  memset(ones, 1, 2048);
  ones[77] = 2;
  FILE *f = fopen(mask, "wb");
  assert_int_equal(fwrite(ones, 1, 2048, f), 2048);
  fclose(f);
  expect_json_error(path, PET_ERR_CONFIG, "byte 77");
  ones[77] = 0;
  f = fopen(mask, "wb");
  assert_int_equal(fwrite(ones, 1, 2048, f), 2048);
  fclose(f);
  assert_int_equal(pet_scanner_read_json(&s, path), PET_OK);
  assert_non_null(s->det_mask);
  assert_int_equal(s->det_mask[77], 0);
  assert_int_equal(s->det_mask[78], 1);
  pet_scanner_destroy(&s);
  free(ones);

  snprintf(path, sizeof path, "%s/none.json", dir);
  expect_json_error(path, PET_ERR_IO, NULL);
  rm_tree(dir);
}

int main(void)
{
  pet_error_set_print(false);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scanner_detector_counts),
      cmocka_unit_test(test_scanner_ring_z_positions),
      cmocka_unit_test(test_scanner_in_ring_angles),
      cmocka_unit_test(test_scanner_lut_matches_yrtpet_fixtures),
      cmocka_unit_test(test_scanner_doi_layers_stack_outwards),
      cmocka_unit_test(test_scanner_params_check_names_the_field),
      cmocka_unit_test(test_scanner_lut_file_round_trip_and_size_check),
      cmocka_unit_test(test_scanner_reads_fixture_jsons),
      cmocka_unit_test(test_scanner_total_body_builtin_and_example_json),
      cmocka_unit_test(test_scanner_json_round_trip),
      cmocka_unit_test(test_scanner_json_errors_name_file_and_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
