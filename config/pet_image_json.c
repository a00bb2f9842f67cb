/* YRT-PET image-parameters JSON <-> pet_image_params. The only file that sees cJSON for it. */
#include "pet_image_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "pet_fileutil.h"

#define IMAGE_JSON_VERSION 1.0
#define IMAGE_JSON_MAX_BYTES ((int64_t)1 << 20)

static pet_status read_text(const char *path, char **text, size_t *len)
{
  pet_status st = PET_OK;
  FILE *f = NULL;
  char *buf = NULL;
  int64_t bytes = 0;
  *text = NULL;
  PET_TRY(pet_file_size(path, &bytes));
  PET_CHECK(bytes <= IMAGE_JSON_MAX_BYTES, PET_ERR_CONFIG,
            "%s: %lld bytes is too large for an image-parameters JSON", path, (long long)bytes);
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

/* The first of `names` present in root (NULL when none is); *which gets its name. */
static const cJSON *find(const cJSON *root, const char *const *names, const char **which)
{
  for (const char *const *n = names; *n != NULL; ++n) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, *n);
    if (item != NULL) {
      *which = *n;
      return item;
    }
  }
  *which = names[0];
  return NULL;
}

static pet_status get_number(const cJSON *root, const char *path, const char *const *names,
                             bool mandatory, double *out, bool *found)
{
  const char *name = NULL;
  const cJSON *item = find(root, names, &name);
  *found = item != NULL;
  if (item == NULL) {
    PET_CHECK(!mandatory, PET_ERR_CONFIG, "%s: missing field \"%s\"", path, name);
    return PET_OK;
  }
  PET_CHECK(cJSON_IsNumber(item) && isfinite(item->valuedouble), PET_ERR_CONFIG,
            "%s: field \"%s\" must be a finite number", path, name);
  *out = item->valuedouble;
  return PET_OK;
}

static pet_status get_count(const cJSON *root, const char *path, const char *name, int32_t *out)
{
  const char *names[] = {name, NULL};
  double v = 0.0;
  bool found = false;
  PET_TRY(get_number(root, path, names, true, &v, &found));
  PET_CHECK(v >= 1.0 && v <= 1e6 && floor(v) == v, PET_ERR_CONFIG,
            "%s: field \"%s\" must be an integer >= 1, got %g", path, name, v);
  *out = (int32_t)v;
  return PET_OK;
}

/* YRT-PET's readLengthFromJSON: the voxel size when given, else the length. */
static pet_status get_length(const cJSON *root, const char *path, const char *v_name,
                             const char *len_name, int32_t n, float *length)
{
  const char *vn[] = {v_name, NULL};
  const char *ln[] = {len_name, NULL};
  double v = 0.0;
  bool found = false;
  PET_TRY(get_number(root, path, vn, false, &v, &found));
  if (found) {
    PET_CHECK(v > 0.0, PET_ERR_CONFIG, "%s: field \"%s\" must be > 0 mm, got %g", path, v_name, v);
    *length = (float)(v * n);
    return PET_OK;
  }
  PET_TRY(get_number(root, path, ln, false, &v, &found));
  PET_CHECK(found, PET_ERR_CONFIG, "%s: missing field \"%s\" (or \"%s\")", path, v_name, len_name);
  PET_CHECK(v > 0.0, PET_ERR_CONFIG, "%s: field \"%s\" must be > 0 mm, got %g", path, len_name, v);
  *length = (float)v;
  return PET_OK;
}

static pet_status parse(const cJSON *root, const char *path, pet_image_params *p)
{
  static const char *version[] = {"VERSION", "GCIMAGEPARAMS_FILE_VERSION", NULL};
  static const char *nt_names[] = {"nt", "num_frames", NULL};
  static const char *offs[3][3] = {{"off_x", "offset_x", NULL},
                                   {"off_y", "offset_y", NULL},
                                   {"off_z", "offset_z", NULL}};
  double v = 0.0;
  bool found = false;
  pet_image_params q;
  memset(&q, 0, sizeof q);
  PET_TRY(get_number(root, path, version, true, &v, &found));
  PET_CHECK(v < IMAGE_JSON_VERSION + 1.0, PET_ERR_CONFIG,
            "%s: field \"VERSION\" is %g; this petrel reads image-parameters files up to "
            "version 1.x",
            path, v);
  PET_TRY(get_count(root, path, "nx", &q.nx));
  PET_TRY(get_count(root, path, "ny", &q.ny));
  PET_TRY(get_count(root, path, "nz", &q.nz));
  PET_TRY(get_number(root, path, nt_names, false, &v, &found));
  if (found) {
    PET_CHECK(v >= 1.0 && floor(v) == v, PET_ERR_CONFIG,
              "%s: field \"nt\" must be an integer >= 1, got %g", path, v);
    PET_CHECK(v == 1.0, PET_ERR_UNSUPPORTED,
              "%s: field \"nt\" is %g: petrel images have one frame (nt = 1)", path, v);
  }
  PET_TRY(get_length(root, path, "vx", "length_x", q.nx, &q.length_x));
  PET_TRY(get_length(root, path, "vy", "length_y", q.ny, &q.length_y));
  PET_TRY(get_length(root, path, "vz", "length_z", q.nz, &q.length_z));
  float *off[3] = {&q.off_x, &q.off_y, &q.off_z};
  for (int i = 0; i < 3; ++i) {
    v = 0.0;
    PET_TRY(get_number(root, path, offs[i], false, &v, &found));
    *off[i] = (float)v;
  }
  pet_status st = pet_image_params_check(&q);
  if (st != PET_OK) {
    char why[512];
    snprintf(why, sizeof why, "%s", pet_last_error());
    return PET_ERROR(PET_ERR_CONFIG, "%s: %s", path, why);
  }
  *p = q;
  return PET_OK;
}

pet_status pet_image_params_read_json(pet_image_params *p, const char *path)
{
  pet_status st = PET_OK;
  char *text = NULL;
  size_t len = 0;
  cJSON *root = NULL;
  PET_CHECK(p != NULL && path != NULL, PET_ERR_ARG, "pet_image_params_read_json: NULL argument");
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
  st = parse(root, path, p);
out:
  cJSON_Delete(root);
  free(text);
  return st;
}

pet_status pet_image_params_to_json(const pet_image_params *p, char **json)
{
  pet_status st = PET_OK;
  cJSON *root = NULL;
  PET_CHECK(p != NULL && json != NULL, PET_ERR_ARG, "pet_image_params_to_json: NULL argument");
  *json = NULL;
  root = cJSON_CreateObject();
  PET_CHECK(root != NULL, PET_ERR_NOMEM, "pet_image_params_to_json: out of host memory");
  const struct {
    const char *key;
    double value;
  } fields[] = {{"VERSION", IMAGE_JSON_VERSION},
                {"nx", p->nx},
                {"ny", p->ny},
                {"nz", p->nz},
                {"vx", (double)pet_image_vx(p)},
                {"vy", (double)pet_image_vy(p)},
                {"vz", (double)pet_image_vz(p)},
                {"off_x", (double)p->off_x},
                {"off_y", (double)p->off_y},
                {"off_z", (double)p->off_z},
                {"nt", 1}};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; ++i)
    PET_CHECK_GOTO(st, cJSON_AddNumberToObject(root, fields[i].key, fields[i].value) != NULL,
                   PET_ERR_NOMEM, out, "pet_image_params_to_json: out of host memory");
  *json = cJSON_Print(root);
  PET_CHECK_GOTO(st, *json != NULL, PET_ERR_NOMEM, out,
                 "pet_image_params_to_json: out of host memory");
out:
  cJSON_Delete(root);
  return st;
}

pet_status pet_image_params_write_json(const pet_image_params *p, const char *path)
{
  char *text = NULL;
  PET_CHECK(path != NULL, PET_ERR_ARG, "pet_image_params_write_json: NULL path");
  PET_TRY(pet_image_params_to_json(p, &text));
  pet_status st = pet_file_write_atomic(path, text, strlen(text));
  free(text);
  return st;
}
