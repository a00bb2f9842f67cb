/* Dynamic reconstruction, local parts: frame boundaries (each event in exactly one frame,
 * the rest counted outside), decay factors, the frame-parallel plan, TACs and the sidecar. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pet_dynamic.h"
#include "pet_test_util.h"

static pet_dyn_frame frame(double start, double dur)
{
  pet_dyn_frame f;
  memset(&f, 0, sizeof f);
  f.start_s = start;
  f.duration_s = dur;
  f.factor = 1.0;
  return f;
}

static void test_dynamic_every_event_in_exactly_one_frame(void **state)
{
  (void)state;
  /* sorted times with repeats and events exactly on the boundaries */
  const int64_t n = 20000;
  uint32_t *t = malloc((size_t)n * sizeof *t);
  for (int64_t i = 0; i < n; ++i) t[i] = (uint32_t)(i * 7 / 3); /* 0 .. ~46.6 s, repeats */
  pet_dyn_frame fr[4] = {frame(1.0, 5.0), frame(6.0, 4.0), frame(12.5, 0.5), frame(20.0, 10.0)};
  assert_int_equal(pet_dyn_frames_init(fr, 4), PET_OK);
  int64_t outside = -1;
  assert_int_equal(pet_dyn_find_events_sorted(t, n, fr, 4, &outside), PET_OK);
  int64_t brute_outside = 0, in_frames = 0;
  for (int64_t i = 0; i < n; ++i) {
    int hits = 0;
    for (int k = 0; k < 4; ++k) {
      bool in_window = t[i] >= fr[k].t0_ms && t[i] < fr[k].t1_ms;
      bool in_range = i >= fr[k].first && i < fr[k].first + fr[k].count;
      assert_int_equal(in_window, in_range);
      hits += in_window;
    }
    assert_true(hits <= 1);
    brute_outside += hits == 0;
    in_frames += hits;
  }
  assert_int_equal(outside, brute_outside);
  assert_int_equal(in_frames + outside, n);
  assert_true(outside > 0);
  /* a boundary event belongs to the frame that starts there: t = 6000 ms is in frame 1 */
  int64_t at6 = 6000 * 3 / 7 + 1;
  while (t[at6 - 1] >= 6000) --at6;
  assert_int_equal(fr[1].first, at6);
  free(t);
}

static void test_dynamic_frames_reject_overlap_and_bad_values(void **state)
{
  (void)state;
  pet_dyn_frame a[2] = {frame(0, 10), frame(5, 10)};
  assert_int_equal(pet_dyn_frames_init(a, 2), PET_ERR_CONFIG);
  pet_dyn_frame b[1] = {frame(0, 0)};
  assert_int_equal(pet_dyn_frames_init(b, 1), PET_ERR_CONFIG);
  pet_dyn_frame c[1] = {frame(0, 5e6)};
  assert_int_equal(pet_dyn_frames_init(c, 1), PET_ERR_CONFIG);
}

static void test_dynamic_decay_factor(void **state)
{
  (void)state;
  assert_true(pet_dyn_decay_factor(100, 10, 0) == 1.0);
  /* a very short frame at one half-life: factor 2 */
  assert_true(fabs(pet_dyn_decay_factor(60, 1e-6, 60) - 2.0) < 1e-6);
  /* closed form against a numerical mean of e^{-lambda t} over the frame */
  const double hl = 6586.2, t0 = 1200, d = 600, lambda = log(2.0) / hl;
  double mean = 0;
  for (int i = 0; i < 100000; ++i) mean += exp(-lambda * (t0 + (i + 0.5) * d / 100000));
  mean /= 100000;
  assert_true(fabs(pet_dyn_decay_factor(t0, d, hl) * mean - 1.0) < 1e-9);
  pet_dyn_frame f = frame(t0, d);
  f.factor = 1.1;
  assert_true(fabs(pet_dyn_frame_scale(&f, hl) - 1.1 * pet_dyn_decay_factor(t0, d, hl) / d) < 1e-15);
}

static void test_dynamic_plan_covers_every_frame_once(void **state)
{
  (void)state;
  for (int F = 1; F <= 9; ++F)
    for (int R = 1; R <= 9; ++R) {
      int *owners = calloc((size_t)F, sizeof *owners); /* group roots per frame */
      int *members = calloc((size_t)F, sizeof *members);
      for (int r = 0; r < R; ++r) {
        pet_dyn_plan p;
        assert_int_equal(pet_dyn_plan_make(F, R, r, &p), PET_OK);
        assert_int_equal(p.regime, F >= R ? PET_DYN_FRAMES_PER_RANK : PET_DYN_RANKS_PER_FRAME);
        assert_true(p.group_rank >= 0 && p.group_rank < p.group_size);
        if (p.regime == PET_DYN_RANKS_PER_FRAME) {
          assert_true(p.group_size >= R / F && p.group_size <= (R + F - 1) / F);
        }
        for (int f = 0; f < F; ++f)
          if (pet_dyn_plan_has_frame(&p, f)) {
            members[f]++;
            owners[f] += p.group_rank == 0;
          }
        char line[512];
        pet_dyn_plan_describe(&p, line, sizeof line);
        assert_non_null(strstr(line, F >= R ? "frames >= ranks" : "ranks > frames"));
      }
      for (int f = 0; f < F; ++f) {
        assert_int_equal(owners[f], 1);
        assert_true(members[f] >= 1);
      }
      free(owners);
      free(members);
    }
  pet_dyn_plan p;
  assert_int_equal(pet_dyn_plan_make(0, 1, 0, &p), PET_ERR_ARG);
}

static void test_dynamic_tac_and_files(void **state)
{
  (void)state;
  pet_image_params ip = pet_image_params_make(4, 4, 1, 4.f, 4.f, 1.f);
  pet_image *lab = NULL, *fr[2] = {NULL, NULL};
  assert_int_equal(pet_image_create_owned(&lab, ip, PET_HOST), PET_OK);
  for (int k = 0; k < 2; ++k) {
    assert_int_equal(pet_image_create_owned(&fr[k], ip, PET_HOST), PET_OK);
    for (int v = 0; v < 16; ++v) fr[k]->data[v] = (float)(v + 100 * k);
  }
  lab->data[0] = 2.f;
  lab->data[1] = 2.f;
  lab->data[5] = 7.f;
  int nl = 0;
  int32_t *ids = NULL;
  double *m = NULL;
  assert_int_equal(pet_dyn_tac((const pet_image *const *)fr, 2, lab, &nl, &ids, &m), PET_OK);
  assert_int_equal(nl, 2);
  assert_int_equal(ids[0], 2);
  assert_int_equal(ids[1], 7);
  assert_true(m[0] == 0.5 && m[1] == 100.5 && m[2] == 5.0 && m[3] == 105.0);
  char dir[512], path[1024];
  pet_test_tmpdir(dir, sizeof dir);
  pet_dyn_frame f[2] = {frame(0, 10), frame(10, 30)};
  assert_int_equal(pet_dyn_frames_init(f, 2), PET_OK);
  snprintf(path, sizeof path, "%s/tac.csv", dir);
  assert_int_equal(pet_dyn_write_tac_csv(path, f, 2, nl, ids, m), PET_OK);
  char *csv = pet_test_read_file(path, NULL);
  assert_non_null(strstr(csv, "frame,start_s,duration_s,mid_s,roi_2,roi_7\n0,0,10,5,0.5,5\n1,10,30,25,100.5,105\n"));
  free(csv);
  remove(path);
  snprintf(path, sizeof path, "%s/tac.png", dir);
  assert_int_equal(pet_dyn_write_tac_png(path, f, 2, nl, m), PET_OK);
  remove(path);
  snprintf(path, sizeof path, "%s/side.json", dir);
  assert_int_equal(pet_dyn_write_sidecar(path, f, 2, 6586.2), PET_OK);
  char *js = pet_test_read_file(path, NULL);
  assert_non_null(strstr(js, "\"FrameTimesStart\": [0, 10]"));
  assert_non_null(strstr(js, "\"FrameDuration\": [10, 30]"));
  assert_non_null(strstr(js, "\"ImageDecayCorrected\": true"));
  free(js);
  remove(path);
  rmdir(dir);
  free(ids);
  free(m);
  /* a mask without labels */
  for (int v = 0; v < 16; ++v) lab->data[v] = 0.f;
  assert_int_equal(pet_dyn_tac((const pet_image *const *)fr, 2, lab, &nl, &ids, &m), PET_ERR_ARG);
  free(ids);
  free(m);
  pet_image_destroy(&lab);
  pet_image_destroy(&fr[0]);
  pet_image_destroy(&fr[1]);
}

int main(void)
{
  pet_error_set_print(false);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dynamic_every_event_in_exactly_one_frame),
      cmocka_unit_test(test_dynamic_frames_reject_overlap_and_bad_values),
      cmocka_unit_test(test_dynamic_decay_factor),
      cmocka_unit_test(test_dynamic_plan_covers_every_frame_once),
      cmocka_unit_test(test_dynamic_tac_and_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
