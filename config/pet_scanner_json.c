/* YRT-PET scanner JSON (VERSION 3.x) <-> pet_scanner. The only file that sees cJSON for it. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "pet_fileutil.h"
#include "pet_scanner.h"

#define SCANNER_JSON_VERSION 3.2
#define JSON_MAX_BYTES ((int64_t)16 << 20)

typedef struct float_key {
  const char *key;
  size_t offset;
  bool mandatory;
  bool positive; /* > 0; otherwise >= 0 */
} float_key;

typedef struct int_key {
  const char *key;
  size_t offset;
  bool mandatory;
  int32_t min;
} int_key;

static const float_key FLOAT_KEYS[] = {
    {"axialFOV", offsetof(pet_scanner_params, axial_fov), true, true},
    {"crystalSize_trans", offsetof(pet_scanner_params, crystal_size_trans), true, true},
    {"crystalSize_z", offsetof(pet_scanner_params, crystal_size_z), true, true},
    {"crystalDepth", offsetof(pet_scanner_params, crystal_depth), true, true},
    {"scannerRadius", offsetof(pet_scanner_params, scanner_radius), true, true},
    {"collimatorRadius", offsetof(pet_scanner_params, collimator_radius), false, false},
    {"fwhm", offsetof(pet_scanner_params, fwhm_kev), false, false},
    {"energyLLD", offsetof(pet_scanner_params, energy_lld_kev), false, false},
    {"tofResolution_ps", offsetof(pet_scanner_params, tof_fwhm_ps), false, false},
    /* not in YRT-PET 3.2's spec: named like its C++ members (fovRadius); optional */
    {"fovRadius", offsetof(pet_scanner_params, fov_radius), false, false},
    /* TOF histograms (petrel's; optional, together): the width of a TOF bin */
    {"tofBinWidth_ps", offsetof(pet_scanner_params, tof_bin_width_ps), false, true},
};

static const int_key INT_KEYS[] = {
    {"detsPerRing", offsetof(pet_scanner_params, dets_per_ring), true, 1},
    {"numRings", offsetof(pet_scanner_params, num_rings), true, 1},
    {"numDOI", offsetof(pet_scanner_params, num_doi), true, 1},
    {"maxRingDiff", offsetof(pet_scanner_params, max_ring_diff), true, 0},
    {"minAngDiff", offsetof(pet_scanner_params, min_ang_diff), true, 1},
    {"detsPerBlock", offsetof(pet_scanner_params, dets_per_block), false, 1},
    {"numTOFBins", offsetof(pet_scanner_params, num_tof_bins), false, 1},
};

static pet_status read_text(const char *path, char **text, size_t *len)
{
  pet_status st = PET_OK;
  FILE *f = NULL;
  char *buf = NULL;
  int64_t bytes = 0;
  *text = NULL;
  PET_TRY(pet_file_size(path, &bytes));
  PET_CHECK(bytes <= JSON_MAX_BYTES, PET_ERR_CONFIG, "%s: %lld bytes is too large for a JSON file",
            path, (long long)bytes);
  buf = malloc((size_t)bytes + 1);
  PET_CHECK_GOTO(st, buf != NULL, PET_ERR_NOMEM, out, "%s: out of host memory", path);
  PET_TRY_GOTO(st, pet_file_open_read(path, &f), out);
  PET_TRY_GOTO(st, pet_file_read(f, buf, (size_t)bytes, path, "JSON text"), out);
  buf[bytes] = '\0';
  *len = (size_t)bytes;
  *text = buf;
  buf = NULL;
out:
  if (f != NULL) fclose(f);
  free(buf);
  return st;
}

/* Joins a path given in the JSON to the JSON's folder (absolute paths are kept). */
static pet_status join_relative(const char *json_path, const char *rel, char **out)
{
  const char *slash = strrchr(json_path, '/');
  size_t dir_len = (rel[0] == '/' || slash == NULL) ? 0 : (size_t)(slash - json_path) + 1;
  char *p = malloc(dir_len + strlen(rel) + 1);
  PET_CHECK(p != NULL, PET_ERR_NOMEM, "%s: out of host memory", json_path);
  memcpy(p, json_path, dir_len);
  strcpy(p + dir_len, rel);
  *out = p;
  return PET_OK;
}

static pet_status get_number(const cJSON *root, const char *path, const char *key, bool mandatory,
                             double *value, bool *found)
{
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
  *found = item != NULL;
  if (item == NULL) {
    PET_CHECK(!mandatory, PET_ERR_CONFIG, "%s: missing mandatory key \"%s\"", path, key);
    return PET_OK;
  }
  PET_CHECK(cJSON_IsNumber(item), PET_ERR_CONFIG, "%s: key \"%s\" must be a number", path, key);
  *value = item->valuedouble;
  PET_CHECK(isfinite(*value), PET_ERR_CONFIG, "%s: key \"%s\" must be finite", path, key);
  return PET_OK;
}

static pet_status get_string(const cJSON *root, const char *path, const char *key, bool mandatory,
                             const char **value)
{
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
  *value = NULL;
  if (item == NULL) {
    PET_CHECK(!mandatory, PET_ERR_CONFIG, "%s: missing mandatory key \"%s\"", path, key);
    return PET_OK;
  }
  PET_CHECK(cJSON_IsString(item) && item->valuestring != NULL, PET_ERR_CONFIG,
            "%s: key \"%s\" must be a string", path, key);
  *value = item->valuestring;
  return PET_OK;
}

static pet_status parse_params(const cJSON *root, const char *path, pet_scanner_params *p)
{
  double v = 0.0;
  bool found = false;
  const char *name = NULL;
  memset(p, 0, sizeof *p);

  PET_TRY(get_number(root, path, "VERSION", true, &v, &found));
  PET_CHECK(v >= 3.0 && v < 4.0, PET_ERR_CONFIG,
            "%s: key \"VERSION\" is %g; scanner files of version 3.x are supported", path, v);
  PET_TRY(get_string(root, path, "scannerName", true, &name));
  PET_CHECK(strlen(name) < PET_SCANNER_NAME_MAX, PET_ERR_CONFIG,
            "%s: key \"scannerName\" is longer than %d characters", path, PET_SCANNER_NAME_MAX - 1);
  snprintf(p->name, sizeof p->name, "%s", name);

  for (size_t i = 0; i < sizeof FLOAT_KEYS / sizeof FLOAT_KEYS[0]; ++i) {
    const float_key *k = &FLOAT_KEYS[i];
    PET_TRY(get_number(root, path, k->key, k->mandatory, &v, &found));
    if (!found) continue;
    PET_CHECK(k->positive ? v > 0.0 : v >= 0.0, PET_ERR_CONFIG, "%s: key \"%s\" must be %s (got %g)",
              path, k->key, k->positive ? "> 0" : ">= 0", v);
    PET_CHECK(v <= 3.0e38, PET_ERR_CONFIG, "%s: key \"%s\" is out of range (got %g)", path,
              k->key, v);
    *(float *)((char *)p + k->offset) = (float)v;
  }
  p->dets_per_block = 1; /* YRT-PET's default when absent; only used to generate a LUT */
  for (size_t i = 0; i < sizeof INT_KEYS / sizeof INT_KEYS[0]; ++i) {
    const int_key *k = &INT_KEYS[i];
    PET_TRY(get_number(root, path, k->key, k->mandatory, &v, &found));
    if (!found) continue;
    PET_CHECK(v == floor(v), PET_ERR_CONFIG, "%s: key \"%s\" must be an integer (got %g)", path,
              k->key, v);
    PET_CHECK(v >= k->min && v <= INT32_MAX, PET_ERR_CONFIG,
              "%s: key \"%s\" must be an integer >= %d (got %g)", path, k->key, (int)k->min, v);
    *(int32_t *)((char *)p + k->offset) = (int32_t)v;
  }

  if (pet_scanner_params_check(p) != PET_OK) {
    char why[1024];
    snprintf(why, sizeof why, "%s", pet_last_error());
    return PET_ERROR(PET_ERR_CONFIG, "%s: %s", path, why);
  }
  return PET_OK;
}

static pet_status read_mask(const char *path, const char *json_path, int64_t num_dets,
                            uint8_t **mask)
{
  pet_status st = PET_OK;
  FILE *f = NULL;
  uint8_t *m = NULL;
  int64_t bytes = 0;
  PET_TRY(pet_file_size(path, &bytes));
  PET_CHECK(bytes == num_dets, PET_ERR_CONFIG,
            "%s: detMask %s has %lld bytes, expected one per detector (%lld)", json_path, path,
            (long long)bytes, (long long)num_dets);
  m = malloc((size_t)num_dets);
  PET_CHECK_GOTO(st, m != NULL, PET_ERR_NOMEM, out, "%s: out of host memory", path);
  PET_TRY_GOTO(st, pet_file_open_read(path, &f), out);
  PET_TRY_GOTO(st, pet_file_read(f, m, (size_t)num_dets, path, "detector mask"), out);
  for (int64_t i = 0; i < num_dets; ++i)
    PET_CHECK_GOTO(st, m[i] <= 1, PET_ERR_CONFIG, out,
                   "%s: detMask %s: byte %lld is %d, expected 0 or 1", json_path, path,
                   (long long)i, (int)m[i]);
  *mask = m;
  m = NULL;
out:
  if (f != NULL) fclose(f);
  free(m);
  return st;
}

pet_status pet_scanner_read_json(pet_scanner **s, const char *path)
{
  pet_status st = PET_OK;
  char *text = NULL, *lut_path = NULL, *mask_path = NULL;
  size_t len = 0;
  cJSON *root = NULL;
  float *lut = NULL;
  pet_scanner *sc = NULL;
  pet_scanner_params p;
  const char *det_coord = NULL, *det_mask = NULL;

  PET_CHECK(s != NULL && path != NULL, PET_ERR_ARG, "pet_scanner_read_json: NULL argument");
  *s = NULL;
  PET_TRY_GOTO(st, read_text(path, &text, &len), out);
  root = cJSON_ParseWithLength(text, len);
  if (root == NULL) {
    const char *where = cJSON_GetErrorPtr();
    long offset = (where != NULL && where >= text && where <= text + len) ? (long)(where - text)
                                                                           : -1L;
    st = PET_ERROR(PET_ERR_CONFIG, "%s: malformed JSON near byte %ld", path, offset);
    goto out;
  }
  PET_CHECK_GOTO(st, cJSON_IsObject(root), PET_ERR_CONFIG, out,
                 "%s: the top level must be a JSON object", path);
  PET_TRY_GOTO(st, parse_params(root, path, &p), out);
  PET_TRY_GOTO(st, get_string(root, path, "detCoord", false, &det_coord), out);
  PET_TRY_GOTO(st, get_string(root, path, "detMask", false, &det_mask), out);

  PET_CHECK_GOTO(st, det_coord != NULL || cJSON_GetObjectItemCaseSensitive(root, "detsPerBlock"),
                 PET_ERR_CONFIG, out,
                 "%s: missing key \"detsPerBlock\", needed to generate the LUT when there is no "
                 "\"detCoord\"",
                 path);
  if (det_coord != NULL) {
    int64_t num_dets = (int64_t)p.dets_per_ring * p.num_rings * p.num_doi;
    PET_CHECK_GOTO(st, det_coord[0] != '\0', PET_ERR_CONFIG, out,
                   "%s: key \"detCoord\" is an empty path", path);
    PET_TRY_GOTO(st, join_relative(path, det_coord, &lut_path), out);
    if ((st = pet_scanner_read_lut(lut_path, num_dets, &lut)) != PET_OK) {
      char why[1024];
      snprintf(why, sizeof why, "%s", pet_last_error());
      st = PET_ERROR(st, "%s: key \"detCoord\": %s", path, why);
      goto out;
    }
    PET_TRY_GOTO(st, pet_scanner_create_with_lut(&sc, &p, lut), out);
  } else {
    PET_TRY_GOTO(st, pet_scanner_create(&sc, &p), out);
  }
  if (det_mask != NULL) {
    PET_CHECK_GOTO(st, det_mask[0] != '\0', PET_ERR_CONFIG, out,
                   "%s: key \"detMask\" is an empty path", path);
    PET_TRY_GOTO(st, join_relative(path, det_mask, &mask_path), out);
    PET_TRY_GOTO(st, read_mask(mask_path, path, sc->num_dets, &sc->det_mask), out);
  }
  *s = sc;
  sc = NULL;
out:
  cJSON_Delete(root);
  free(text);
  free(lut_path);
  free(mask_path);
  free(lut);
  pet_scanner_destroy(&sc);
  return st;
}

/* Name of the mask file written next to a JSON: "<json name without .json>_mask.u8". */
static pet_status mask_name(const char *json_path, char **name)
{
  const char *base = strrchr(json_path, '/');
  base = base != NULL ? base + 1 : json_path;
  size_t n = strlen(base);
  if (n > 5 && strcmp(base + n - 5, ".json") == 0) n -= 5;
  *name = malloc(n + sizeof "_mask.u8");
  PET_CHECK(*name != NULL, PET_ERR_NOMEM, "%s: out of host memory", json_path);
  memcpy(*name, base, n);
  strcpy(*name + n, "_mask.u8");
  return PET_OK;
}

static bool add_number(cJSON *o, const char *key, double v)
{
  return cJSON_AddNumberToObject(o, key, v) != NULL;
}

pet_status pet_scanner_write_json(const pet_scanner *s, const char *path, const char *lut_file)
{
  pet_status st = PET_OK;
  cJSON *root = NULL;
  char *text = NULL, *lut_path = NULL, *mask_file = NULL, *mask_path = NULL;
  const pet_scanner_params *p = NULL;

  PET_CHECK(s != NULL && path != NULL, PET_ERR_ARG, "pet_scanner_write_json: NULL argument");
  p = &s->params;
  PET_CHECK(lut_file == NULL || (lut_file[0] != '\0' && strchr(lut_file, '/') == NULL),
            PET_ERR_ARG, "%s: the LUT file name \"%s\" must be a bare file name", path,
            lut_file != NULL ? lut_file : "");
  root = cJSON_CreateObject();
  PET_CHECK_GOTO(st, root != NULL, PET_ERR_NOMEM, out, "%s: out of host memory", path);
  bool ok = add_number(root, "VERSION", SCANNER_JSON_VERSION) &&
            cJSON_AddStringToObject(root, "scannerName", p->name) != NULL;
  if (ok && lut_file != NULL) ok = cJSON_AddStringToObject(root, "detCoord", lut_file) != NULL;
  if (ok && s->det_mask != NULL) {
    PET_TRY_GOTO(st, mask_name(path, &mask_file), out);
    ok = cJSON_AddStringToObject(root, "detMask", mask_file) != NULL;
  }
  ok = ok && add_number(root, "axialFOV", p->axial_fov) &&
       add_number(root, "crystalSize_z", p->crystal_size_z) &&
       add_number(root, "crystalSize_trans", p->crystal_size_trans) &&
       add_number(root, "crystalDepth", p->crystal_depth) &&
       add_number(root, "scannerRadius", p->scanner_radius) &&
       add_number(root, "detsPerRing", p->dets_per_ring) &&
       add_number(root, "numRings", p->num_rings) && add_number(root, "numDOI", p->num_doi) &&
       add_number(root, "maxRingDiff", p->max_ring_diff) &&
       add_number(root, "minAngDiff", p->min_ang_diff) &&
       add_number(root, "detsPerBlock", p->dets_per_block);
  if (ok && p->collimator_radius > 0) ok = add_number(root, "collimatorRadius", p->collimator_radius);
  if (ok && p->fov_radius > 0) ok = add_number(root, "fovRadius", p->fov_radius);
  if (ok && p->fwhm_kev > 0) ok = add_number(root, "fwhm", p->fwhm_kev);
  if (ok && p->energy_lld_kev > 0) ok = add_number(root, "energyLLD", p->energy_lld_kev);
  if (ok && p->tof_fwhm_ps > 0) ok = add_number(root, "tofResolution_ps", p->tof_fwhm_ps);
  if (ok && p->num_tof_bins > 0)
    ok = add_number(root, "numTOFBins", p->num_tof_bins) &&
         add_number(root, "tofBinWidth_ps", p->tof_bin_width_ps);
  PET_CHECK_GOTO(st, ok, PET_ERR_NOMEM, out, "%s: out of host memory building the JSON", path);
  text = cJSON_Print(root);
  PET_CHECK_GOTO(st, text != NULL, PET_ERR_NOMEM, out, "%s: out of host memory printing the JSON",
                 path);

  /* Data files first: the JSON never refers to a file that was not written. */
  if (lut_file != NULL) {
    PET_TRY_GOTO(st, join_relative(path, lut_file, &lut_path), out);
    PET_TRY_GOTO(st, pet_scanner_write_lut(s, lut_path), out);
  }
  if (mask_file != NULL) {
    PET_TRY_GOTO(st, join_relative(path, mask_file, &mask_path), out);
    PET_TRY_GOTO(st, pet_file_write_atomic(mask_path, s->det_mask, (size_t)s->num_dets), out);
  }
  PET_TRY_GOTO(st, pet_file_write_atomic(path, text, strlen(text)), out);
out:
  cJSON_Delete(root);
  cJSON_free(text);
  free(lut_path);
  free(mask_file);
  free(mask_path);
  return st;
}
