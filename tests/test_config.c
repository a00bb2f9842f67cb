/* Reconstruction config: every field checked and named, defaults, CLI overrides, round trip. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pet_config.h"
#include "pet_osem.h"
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

static const char *write_json(const char *name, const char *text)
{
  static char path[1024];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

/* Every field: a good value and bad ones (as JSON and as command-line text). */
typedef struct field_case {
  const char *key;       /* "image.nx" for nested fields */
  const char *good_json; /* a valid, non-default value */
  const char *good_text;
  const char *bad_json; /* wrong type or out of range */
  const char *bad_json2;
  const char *bad_text;
} field_case;

#define LONG_PATH_MARK "@long"

static const field_case cases[] = {
    {"scanner", "\"s.json\"", "s2.json", "42", "[\"a\"]", LONG_PATH_MARK},
    {"data", "\"d.h5\"", "d2.h5", "true", "{}", LONG_PATH_MARK},
    {"data_format", "\"hdf5\"", "yrt-listmode", "\"xml\"", "3", "HDF5"},
    {"listmode_tof", "true", "yes", "\"true\"", "1", "maybe"},
    {"normalisation", "\"n.his\"", "n2.his", "1.5", "false", LONG_PATH_MARK},
    {"attenuation", "\"a.his\"", "a2.his", "0", "[]", LONG_PATH_MARK},
    {"attenuation_image", "\"mu.nii\"", "mu2.nii", "7", "true", LONG_PATH_MARK},
    {"randoms", "\"r.his\"", "r2.his", "1", "{}", LONG_PATH_MARK},
    {"scatter", "\"sc.his\"", "sc2.his", "2", "false", LONG_PATH_MARK},
    {"sensitivity", "\"sens.nii\"", "sens2.nii", "3", "true", LONG_PATH_MARK},
    {"save_sensitivity", "\"ss.nii\"", "ss2.nii", "4", "[1]", LONG_PATH_MARK},
    {"output", "\"o.nii.gz\"", "o2.nii.gz", "5", "true", LONG_PATH_MARK},
    {"initial_image", "\"i.nii\"", "i2.nii", "6", "{}", LONG_PATH_MARK},
    {"iterations", "4", "7", "0", "1.5", "three"},
    {"subsets", "12", "21", "0", "\"12\"", "-2"},
    {"projector", "\"DD\"", "MRS", "\"Joseph\"", "1", "s"},
    {"num_rays", "4", "8", "0", "2000", "1.25"},
    {"tof", "true", "on", "1", "\"false\"", "2"},
    {"tof_n_sigmas", "2.5", "4", "0", "-1", "nan"},
    {"psf_fwhm_mm", "4.5", "2", "-0.5", "\"4\"", "inf"},
    {"algorithm", "\"osl\"", "bsrem", "\"map\"", "1", "OSL"},
    {"prior", "\"rdp\"", "quadratic", "\"tv\"", "2", "RDP"},
    {"beta", "0.25", "3e-2", "-1", "\"0.1\"", "-0.5"},
    {"gamma", "1", "0", "-2", "null", "x"},
    {"epsilon", "1e-3", "0", "-1e-3", "[]", "eps"},
    {"relaxation", "0.5", "2", "0", "-1", "0"},
    {"relaxation_eta", "0.5", "0", "-0.1", "true", "fast"},
    {"threads", "8", "16", "-1", "8.5", "x8"},
    {"image.nx", "128", "96", "-1", "40000", "1e9"},
    {"image.ny", "128", "96", "1.5", "\"128\"", "-3"},
    {"image.nz", "64", "48", "-64", "null", "64mm"},
    {"image.length_x", "512", "400.5", "-5", "1e6", "abc"},
    {"image.length_y", "512", "400.5", "\"512\"", "-1", ""},
    {"image.length_z", "256", "200.25", "true", "2e5", "-0.1"},
    {"image.off_x", "1.5", "-2.5", "\"a\"", "1e9", "1e9"},
    {"image.off_y", "-1.5", "2.5", "null", "-2e5", "y"},
    {"image.off_z", "10", "-10", "[]", "3e5", " "},
    {"save_every", "2", "3", "-1", "0.5", "never"},
    {"gpu", "true", "1", "\"true\"", "0", "gpu"},
    {"device", "1", "2", "-1", "2000", "cuda:0"},
    {"vram_budget_mb", "60000", "80000", "-1", "1.5", "lots"},
    {"checkpoint", "\"c.h5\"", "c2.h5", "5", "false", LONG_PATH_MARK},
    {"quiet", "true", "true", "0", "\"no\"", "quietly"},
    {"json_lines", "true", "on", "null", "1", "jsonl"},
    {"frames", "\"6x10,8x30\"", "2x5.5", "\"6x\"", "12", "3y10"},
    {"half_life_s", "6586.2", "109.77", "-1", "\"6586\"", "-5"},
    {"tac_mask", "\"mask.nii\"", "m2.nii", "8", "[2]", LONG_PATH_MARK},
    {"frame_files", "true", "yes", "\"no\"", "2", "perhaps"},
    {"seed", "7", "123456789", "-1", "1.5", "lucky"},
    {"counts", "3e6", "1e4", "0", "1e14", "many"},
    {"stream", "true", "on", "\"yes\"", "1", "maybe"},
    {"lm_window_events", "100000", "4096", "-1", "0.5", "big"},
};
#define NUM_CASES (sizeof cases / sizeof cases[0])

/* {"key": value} or {"image": {"nx": value}} */
static void json_for(char *buf, size_t len, const char *key, const char *value)
{
  if (strncmp(key, "image.", 6) == 0)
    snprintf(buf, len, "{\"image\": {\"%s\": %s}}", key + 6, value);
  else
    snprintf(buf, len, "{\"%s\": %s}", key, value);
}

static void test_config_defaults(void **state)
{
  (void)state;
  pet_config c;
  pet_config_defaults(&c);
  assert_string_equal(c.scanner, "");
  assert_string_equal(c.output, "");
  assert_int_equal(c.data_format, PET_DATA_AUTO);
  assert_false(c.listmode_tof);
  assert_int_equal(c.iterations, 10);
  assert_int_equal(c.subsets, 1);
  assert_int_equal(c.projector, PET_CONFIG_PROJ_S);
  assert_int_equal(c.num_rays, 1);
  assert_false(c.tof);
  assert_true(c.tof_n_sigmas == 3.0);
  assert_true(c.psf_fwhm_mm == 0.0);
  assert_int_equal(c.threads, 0);
  assert_int_equal(c.image.nx, 0);
  assert_true(c.image.length_x == 0.0);
  assert_int_equal(c.save_every, 0);
  assert_false(c.gpu);
  assert_int_equal(c.device, 0);
  assert_int_equal(c.vram_budget_mb, 0);
  assert_false(c.quiet);
  assert_false(c.json_lines);
  assert_string_equal(c.frames, "");
  assert_true(c.half_life_s == 0.0);
  assert_int_equal(c.seed, 42);
  assert_true(c.counts == 2e7);
  assert_false(c.stream);
  assert_int_equal(c.lm_window_events, 0);
  assert_string_equal(pet_data_format_name(c.data_format), "auto");
  assert_string_equal(pet_config_projector_name(c.projector), "S");
  /* an empty object keeps every default */
  pet_config d;
  pet_config_defaults(&d);
  assert_int_equal(pet_config_read_json(&d, write_json("empty.json", "{}")), PET_OK);
  assert_memory_equal(&c, &d, sizeof c);
}

static void test_config_every_field_accepts_a_good_value(void **state)
{
  (void)state;
  char json[256];
  for (size_t i = 0; i < NUM_CASES; ++i) {
    pet_config c, d;
    pet_config_defaults(&c);
    pet_config_defaults(&d);
    json_for(json, sizeof json, cases[i].key, cases[i].good_json);
    if (pet_config_read_json(&c, write_json("good.json", json)) != PET_OK)
      fail_msg("%s: %s", json, pet_last_error());
    assert_true(memcmp(&c, &d, sizeof c) != 0); /* the field changed */
    assert_int_equal(pet_config_set(&d, cases[i].key, cases[i].good_text), PET_OK);
  }
}

static void test_config_every_bad_value_names_file_and_field(void **state)
{
  (void)state;
  char json[2300], long_path[2001];
  memset(long_path, 'p', 2000);
  long_path[2000] = '\0';
  for (size_t i = 0; i < NUM_CASES; ++i) {
    const char *bads[2] = {cases[i].bad_json, cases[i].bad_json2};
    for (int b = 0; b < 2; ++b) {
      pet_config c;
      pet_config_defaults(&c);
      json_for(json, sizeof json, cases[i].key, bads[b]);
      const char *path = write_json("bad.json", json);
      pet_status st = pet_config_read_json(&c, path);
      if (st != PET_ERR_CONFIG) fail_msg("%s accepted (status %s)", json, pet_status_name(st));
      assert_non_null(strstr(pet_last_error(), path));
      if (!strstr(pet_last_error(), cases[i].key))
        fail_msg("%s: message does not name the field: %s", json, pet_last_error());
    }
    /* a path longer than PET_CONFIG_PATH_MAX, in JSON */
    if (strcmp(cases[i].bad_text, LONG_PATH_MARK) == 0) {
      pet_config c;
      pet_config_defaults(&c);
      char quoted[2010];
      snprintf(quoted, sizeof quoted, "\"%s\"", long_path);
      json_for(json, sizeof json, cases[i].key, quoted);
      assert_int_equal(pet_config_read_json(&c, write_json("long.json", json)), PET_ERR_CONFIG);
      assert_non_null(strstr(pet_last_error(), cases[i].key));
    }
    /* the same checks on the command line */
    pet_config c;
    pet_config_defaults(&c);
    const char *text =
        strcmp(cases[i].bad_text, LONG_PATH_MARK) == 0 ? long_path : cases[i].bad_text;
    pet_status st = pet_config_set(&c, cases[i].key, text);
    if (st != PET_ERR_CONFIG)
      fail_msg("--%s '%.20s' accepted (status %s)", cases[i].key, text, pet_status_name(st));
    assert_non_null(strstr(pet_last_error(), cases[i].key));
    assert_non_null(strstr(pet_last_error(), "command line"));
  }
}

static void test_config_unknown_keys_and_bad_files(void **state)
{
  (void)state;
  pet_config c;
  pet_config_defaults(&c);
  const char *path = write_json("unknown.json", "{\"iterations\": 2, \"iteration\": 3}");
  assert_int_equal(pet_config_read_json(&c, path), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "\"iteration\""));
  assert_non_null(strstr(pet_last_error(), path));

  path = write_json("unknown_image.json", "{\"image\": {\"nx\": 2, \"nq\": 3}}");
  assert_int_equal(pet_config_read_json(&c, path), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "image.nq"));

  path = write_json("image_number.json", "{\"image\": 128}");
  assert_int_equal(pet_config_read_json(&c, path), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "\"image\""));

  path = write_json("invalid.json", "{\n  \"iterations\": 2,\n  \"subsets\": \n}\n");
  assert_int_equal(pet_config_read_json(&c, path), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), path));
  assert_non_null(strstr(pet_last_error(), "line 4"));

  path = write_json("array.json", "[1, 2]");
  assert_int_equal(pet_config_read_json(&c, path), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), path));

  char missing[1024];
  snprintf(missing, sizeof missing, "%s/nope.json", g_dir);
  assert_int_equal(pet_config_read_json(&c, missing), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), missing));

  assert_int_equal(pet_config_set(&c, "--iteration", "3"), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "iteration"));
  assert_int_equal(pet_config_set(&c, "image.nq", "3"), PET_ERR_CONFIG);
}

static void test_config_cli_overrides_the_file(void **state)
{
  (void)state;
  pet_config c;
  pet_config_defaults(&c);
  const char *path = write_json("base.json", "{\"iterations\": 3, \"output\": \"a.nii\", "
                                             "\"image\": {\"nx\": 10}, \"save_every\": 1}");
  assert_int_equal(pet_config_read_json(&c, path), PET_OK);
  assert_int_equal(c.iterations, 3);
  assert_int_equal(pet_config_set(&c, "--iterations", "5"), PET_OK);
  assert_int_equal(c.iterations, 5);
  assert_int_equal(pet_config_set(&c, "--save-every", "2"), PET_OK);
  assert_int_equal(c.save_every, 2);
  assert_int_equal(pet_config_set(&c, "image.nx", "128"), PET_OK);
  assert_int_equal(pet_config_set(&c, "--image-ny", "96"), PET_OK);
  assert_int_equal(pet_config_set(&c, "image_off_z", "-12.5"), PET_OK);
  assert_int_equal(c.image.nx, 128);
  assert_int_equal(c.image.ny, 96);
  assert_true(c.image.off_z == -12.5);
  assert_int_equal(pet_config_set(&c, "gpu", "yes"), PET_OK);
  assert_true(c.gpu);
  assert_int_equal(pet_config_set(&c, "gpu", "off"), PET_OK);
  assert_false(c.gpu);
  assert_int_equal(pet_config_set(&c, "projector", "MRS"), PET_OK);
  assert_int_equal(c.projector, PET_CONFIG_PROJ_MRS);
  assert_int_equal(pet_config_set(&c, "data-format", "yrt-histogram"), PET_OK);
  assert_int_equal(c.data_format, PET_DATA_YRT_HISTOGRAM);
  assert_int_equal(pet_config_set(&c, "output", ""), PET_OK);
  assert_string_equal(c.output, "");
  assert_int_equal(pet_config_set(&c, "vram_budget_mb", "81920"), PET_OK);
  assert_int_equal(c.vram_budget_mb, 81920);
  /* a failed override leaves the field alone */
  assert_int_equal(pet_config_set(&c, "iterations", "0"), PET_ERR_CONFIG);
  assert_int_equal(c.iterations, 5);
}

static void valid_base(pet_config *c)
{
  pet_config_defaults(c);
  strcpy(c->scanner, "s.json");
  strcpy(c->data, "d.h5");
  strcpy(c->output, "o.nii");
}

static void test_config_validate_cross_field(void **state)
{
  (void)state;
  pet_config c;
  pet_config_defaults(&c);
  assert_int_equal(pet_config_validate(&c), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "scanner"));
  valid_base(&c);
  assert_int_equal(pet_config_validate(&c), PET_OK);

  c.output[0] = '\0';
  assert_int_equal(pet_config_validate(&c), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "output"));

  valid_base(&c);
  c.data[0] = '\0';
  assert_int_equal(pet_config_validate(&c), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "data"));
  strcpy(c.save_sensitivity, "s.nii"); /* a sensitivity-only run */
  c.output[0] = '\0';
  assert_int_equal(pet_config_validate(&c), PET_OK);

  valid_base(&c);
  strcpy(c.attenuation, "a.his");
  strcpy(c.attenuation_image, "mu.nii");
  assert_int_equal(pet_config_validate(&c), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "attenuation_image"));

  valid_base(&c);
  strcpy(c.sensitivity, "a.nii");
  strcpy(c.save_sensitivity, "b.nii");
  assert_int_equal(pet_config_validate(&c), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "save_sensitivity"));

  valid_base(&c);
  c.image.nx = c.image.ny = 128;
  assert_int_equal(pet_config_validate(&c), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "image"));
  c.image.nz = 64;
  c.image.length_x = c.image.length_y = c.image.length_z = 300.0;
  assert_int_equal(pet_config_validate(&c), PET_OK);

  valid_base(&c);
  c.data_format = PET_DATA_YRT_LISTMODE;
  c.tof = true;
  assert_int_equal(pet_config_validate(&c), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "listmode_tof"));
  c.listmode_tof = true;
  assert_int_equal(pet_config_validate(&c), PET_OK);

  valid_base(&c);
  c.data_format = PET_DATA_YRT_HISTOGRAM;
  strcpy(c.frames, "2x10");
  assert_int_equal(pet_config_validate(&c), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "frames"));

  valid_base(&c);
  c.projector = PET_CONFIG_PROJ_DD;
  c.num_rays = 4;
  assert_int_equal(pet_config_validate(&c), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "num_rays"));

  /* a prior needs a regularised algorithm, and beta needs a prior */
  valid_base(&c);
  c.prior = PET_PRIOR_RDP;
  assert_int_equal(pet_config_validate(&c), PET_OK); /* beta 0: no prior in effect */
  c.beta = 0.1;
  assert_int_equal(pet_config_validate(&c), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "algorithm"));
  c.algorithm = PET_OSEM_ALG_BSREM;
  assert_int_equal(pet_config_validate(&c), PET_OK);
  c.prior = PET_PRIOR_NONE;
  assert_int_equal(pet_config_validate(&c), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "beta"));
}

/* pet_config_apply_prior: the config's regularisation fields are the engine's options. */
static void test_config_apply_prior(void **state)
{
  (void)state;
  pet_config c;
  pet_config_defaults(&c);
  pet_osem_opts o = pet_osem_opts_default();
  const pet_osem_opts d = o;
  assert_int_equal(pet_config_apply_prior(&c, &o), PET_OK);
  /* the config's defaults are the engine's */
  assert_int_equal(o.algorithm, d.algorithm);
  assert_int_equal(o.prior.kind, d.prior.kind);
  assert_true(o.prior.beta == d.prior.beta && o.prior.gamma == d.prior.gamma);
  assert_true(o.prior.epsilon == d.prior.epsilon);
  assert_true(o.relaxation == d.relaxation && o.relaxation_eta == d.relaxation_eta);
  assert_int_equal(pet_config_set(&c, "algorithm", "bsrem"), PET_OK);
  assert_int_equal(pet_config_set(&c, "prior", "quadratic"), PET_OK);
  assert_int_equal(pet_config_set(&c, "beta", "0.25"), PET_OK);
  assert_int_equal(pet_config_set(&c, "gamma", "1.5"), PET_OK);
  assert_int_equal(pet_config_set(&c, "epsilon", "0.125"), PET_OK);
  assert_int_equal(pet_config_set(&c, "relaxation", "0.75"), PET_OK);
  assert_int_equal(pet_config_set(&c, "relaxation-eta", "0.5"), PET_OK);
  assert_int_equal(pet_config_apply_prior(&c, &o), PET_OK);
  assert_int_equal(o.algorithm, PET_OSEM_ALG_BSREM);
  assert_int_equal(o.prior.kind, PET_PRIOR_QUADRATIC);
  assert_true(o.prior.beta == 0.25f && o.prior.gamma == 1.5f && o.prior.epsilon == 0.125f);
  assert_true(o.relaxation == 0.75f && o.relaxation_eta == 0.5f);
  assert_int_equal(o.iterations, d.iterations); /* the rest is left alone */
  assert_int_equal(pet_config_apply_prior(NULL, &o), PET_ERR_ARG);
}

static void test_config_frames(void **state)
{
  (void)state;
  pet_config c;
  pet_config_defaults(&c);
  double *d = NULL;
  int n = -1;
  assert_int_equal(pet_config_frames(&c, &d, &n), PET_OK);
  assert_int_equal(n, 0);
  assert_null(d);
  assert_int_equal(pet_config_set(&c, "frames", " 6x10, 2x2.5 ,1x60"), PET_OK);
  assert_int_equal(pet_config_frames(&c, &d, &n), PET_OK);
  assert_int_equal(n, 9);
  assert_true(d[0] == 10.0 && d[5] == 10.0 && d[6] == 2.5 && d[7] == 2.5 && d[8] == 60.0);
  free(d);
  /* durations, start-end with a gap, factors */
  pet_frame_def *fd = NULL;
  assert_int_equal(pet_config_set(&c, "frames", "2x10,5,30-40@1.5"), PET_OK);
  assert_int_equal(pet_config_frame_defs(&c, &fd, &n), PET_OK);
  assert_int_equal(n, 4);
  assert_true(fd[0].start_s == 0 && fd[1].start_s == 10 && fd[2].start_s == 20 && fd[2].duration_s == 5);
  assert_true(fd[3].start_s == 30 && fd[3].duration_s == 10 && fd[3].factor == 1.5 && fd[0].factor == 1.0);
  free(fd);
  const char *bad[] = {"x10", "6x", "6x0", "0x10", "6x10,", "6x10;8x30", "6*10", "6x-1", "a",
                       "0-10,5-20", "10-5", "2x10@0", "2x10@"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    assert_int_equal(pet_config_set(&c, "frames", bad[i]), PET_ERR_CONFIG);
    assert_non_null(strstr(pet_last_error(), "frames"));
  }
}

static void test_config_frames_json_and_dyn(void **state)
{
  (void)state;
  pet_config c;
  pet_config_defaults(&c);
  pet_frame_def *fd = NULL;
  int n = 0;
  const char *p = write_json("frames_list.json", "{\"frames\": [10, 10, 30]}");
  assert_int_equal(pet_config_read_json(&c, p), PET_OK);
  assert_int_equal(pet_config_frame_defs(&c, &fd, &n), PET_OK);
  assert_int_equal(n, 3);
  assert_true(fd[2].start_s == 20 && fd[2].duration_s == 30);
  free(fd);
  p = write_json("frames_pairs.json",
                 "{\"frames\": [[0, 10], {\"start\": 20, \"end\": 25.5, \"factor\": 1.25}, {\"duration\": 4}]}");
  assert_int_equal(pet_config_read_json(&c, p), PET_OK);
  assert_int_equal(pet_config_frame_defs(&c, &fd, &n), PET_OK);
  assert_int_equal(n, 3);
  assert_true(fd[1].start_s == 20 && fd[1].duration_s == 5.5 && fd[1].factor == 1.25);
  assert_true(fd[2].start_s == 25.5 && fd[2].duration_s == 4);
  free(fd);
  p = write_json("frames_bad.json", "{\"frames\": [[0, 10], \"x\"]}");
  assert_int_equal(pet_config_read_json(&c, p), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "frame 1"));
  /* a YRT-PET framing file: start times in ms, then the end of the last frame */
  char dyn[1024];
  snprintf(dyn, sizeof dyn, "%s", write_json("study.dyn", "0 10000\n20000 50000\n"));
  pet_config_defaults(&c);
  assert_int_equal(pet_config_set(&c, "frames", dyn), PET_OK);
  assert_int_equal(pet_config_frame_defs(&c, &fd, &n), PET_OK);
  assert_int_equal(n, 3);
  assert_true(fd[0].duration_s == 10 && fd[1].start_s == 10 && fd[2].start_s == 20 && fd[2].duration_s == 30);
  free(fd);
  snprintf(dyn, sizeof dyn, "%s", write_json("bad.dyn", "0 10000 5000\n"));
  assert_int_equal(pet_config_set(&c, "frames", dyn), PET_OK);
  assert_int_equal(pet_config_frame_defs(&c, &fd, &n), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "increase"));
}

/* Every field set to a non-default value, written and read back identically. */
static void all_fields_set(pet_config *c)
{
  pet_config_defaults(c);
  for (size_t i = 0; i < NUM_CASES; ++i)
    assert_int_equal(pet_config_set(c, cases[i].key, cases[i].good_text), PET_OK);
}

/* JSON text in memory: the same fields as the file, relative paths kept relative, errors
 * name what the caller called the text. */
static void test_config_parse_json_text(void **state)
{
  (void)state;
  pet_config c, fromtext;
  all_fields_set(&c);
  char *j = NULL;
  assert_int_equal(pet_config_to_json(&c, true, &j), PET_OK);
  pet_config_defaults(&fromtext);
  pet_status st = pet_config_parse_json(&fromtext, j, "the text");
  free(j);
  if (st != PET_OK) fail_msg("%s", pet_last_error());
  assert_memory_equal(&c, &fromtext, sizeof c);
  pet_config d;
  pet_config_defaults(&d);
  assert_int_equal(pet_config_parse_json(&d, "{\"data\": \"rel/d.h5\", \"iterations\": 3}", "t"), PET_OK);
  assert_string_equal(d.data, "rel/d.h5");
  assert_int_equal(d.iterations, 3);
  assert_int_equal(pet_config_parse_json(&d, "{\"subsets\": 0}", "my dict"), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "my dict"));
  assert_non_null(strstr(pet_last_error(), "subsets"));
  assert_int_equal(pet_config_parse_json(&d, "{\"subsets\": ", "my dict"), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "invalid JSON"));
  assert_int_equal(pet_config_parse_json(&d, "[1]", "my dict"), PET_ERR_CONFIG);
  assert_int_equal(pet_config_parse_json(NULL, "{}", "x"), PET_ERR_ARG);
}

static void test_config_round_trip_and_hash(void **state)
{
  (void)state;
  pet_config c, back;
  all_fields_set(&c);
  char path[1024];
  snprintf(path, sizeof path, "%s/written.json", g_dir);
  assert_int_equal(pet_config_write_json(&c, path), PET_OK);
  pet_config_defaults(&back);
  /* read from inside its folder: relative paths resolve against the config's folder, which
   * is then the working directory, so they come back unchanged */
  char cwd[1024];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(g_dir), 0);
  pet_status rst = pet_config_read_json(&back, "written.json");
  assert_int_equal(chdir(cwd), 0);
  if (rst != PET_OK) fail_msg("%s", pet_last_error());
  assert_memory_equal(&c, &back, sizeof c);
  /* from elsewhere, the file's relative paths are taken relative to its folder */
  pet_config other;
  pet_config_defaults(&other);
  assert_int_equal(pet_config_read_json(&other, path), PET_OK);
  if (c.data[0] && c.data[0] != '/') {
    char expect[2048];
    snprintf(expect, sizeof expect, "%s/%s", g_dir, c.data);
    assert_string_equal(other.data, expect);
  }
  assert_true(pet_config_hash(&c) == pet_config_hash(&back));
  assert_true(pet_config_hash(&c) != 0);

  /* the canonical JSON is stable and one line */
  char *j1 = NULL, *j2 = NULL;
  assert_int_equal(pet_config_to_json(&c, false, &j1), PET_OK);
  assert_int_equal(pet_config_to_json(&back, false, &j2), PET_OK);
  assert_string_equal(j1, j2);
  assert_null(strchr(j1, '\n'));
  free(j1);
  free(j2);

  /* defaults round-trip too */
  pet_config_defaults(&c);
  assert_int_equal(pet_config_write_json(&c, path), PET_OK);
  pet_config_defaults(&back);
  back.iterations = 99;
  assert_int_equal(pet_config_read_json(&back, path), PET_OK);
  assert_memory_equal(&c, &back, sizeof c);

  /* a failed write leaves nothing */
  snprintf(path, sizeof path, "%s/no/dir/c.json", g_dir);
  assert_int_equal(pet_config_write_json(&c, path), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), path));
}

static void test_config_hash_changes_with_every_field(void **state)
{
  (void)state;
  pet_config base;
  pet_config_defaults(&base);
  uint64_t h0 = pet_config_hash(&base);
  assert_true(h0 == pet_config_hash(&base));
  for (size_t i = 0; i < NUM_CASES; ++i) {
    pet_config c = base;
    assert_int_equal(pet_config_set(&c, cases[i].key, cases[i].good_text), PET_OK);
    if (pet_config_hash(&c) == h0) fail_msg("hash unchanged by %s", cases[i].key);
  }
  pet_config c = base;
  c.image.off_x = 1e-9; /* a tiny change still changes the canonical JSON */
  assert_true(pet_config_hash(&c) != h0);
}

static void test_config_examples_are_valid(void **state)
{
  (void)state;
  const char *names[] = {"minimal.json", "histogram_osem.json", "listmode_tof_dynamic_gpu.json",
                         "sensitivity_only.json", "bsrem_rdp.json", "scatter_estimate.json"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
    char path[1024];
    /* __FILE__ is this source's absolute path in a CMake build: <root>/tests/test_config.c */
    const char *here = __FILE__, *tail = strstr(here, "tests/test_config.c");
    assert_non_null(tail);
    snprintf(path, sizeof path, "%.*sconfig/examples/%s", (int)(tail - here), here, names[i]);
    pet_config c;
    pet_config_defaults(&c);
    if (pet_config_read_json(&c, path) != PET_OK || pet_config_validate(&c) != PET_OK)
      fail_msg("%s: %s", names[i], pet_last_error());
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_defaults),
      cmocka_unit_test(test_config_every_field_accepts_a_good_value),
      cmocka_unit_test(test_config_every_bad_value_names_file_and_field),
      cmocka_unit_test(test_config_unknown_keys_and_bad_files),
      cmocka_unit_test(test_config_cli_overrides_the_file),
      cmocka_unit_test(test_config_validate_cross_field),
      cmocka_unit_test(test_config_apply_prior),
      cmocka_unit_test(test_config_frames),
      cmocka_unit_test(test_config_frames_json_and_dyn),
      cmocka_unit_test(test_config_round_trip_and_hash),
      cmocka_unit_test(test_config_parse_json_text),
      cmocka_unit_test(test_config_hash_changes_with_every_field),
      cmocka_unit_test(test_config_examples_are_valid),
  };
  return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
