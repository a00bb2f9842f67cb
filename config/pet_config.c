#include "pet_config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "pet_fileutil.h"

#define MAX_FRAMES 100000

typedef enum field_type {
  F_PATH,
  F_FRAMES,
  F_BOOL,
  F_INT32,
  F_INT64,
  F_DOUBLE,
  F_FORMAT,
  F_PROJECTOR,
  F_ALGORITHM,
  F_PRIOR
} field_type;

/* One config field: its key, where it lives in pet_config, and its range. */
typedef struct field {
  const char *key; /* "image.nx" for the nested image object */
  field_type type;
  size_t offset;
  size_t size; /* bytes of a char[] field */
  double min, max;
  bool min_exclusive;
} field;

#define PATH_FIELD(name)                                                                         \
  {#name, F_PATH, offsetof(pet_config, name), PET_CONFIG_PATH_MAX, 0, 0, false}
#define NUM_FIELD(key, type, member, lo, hi, excl)                                               \
  {key, type, offsetof(pet_config, member), 0, lo, hi, excl}

static const field fields[] = {
    PATH_FIELD(scanner),
    PATH_FIELD(data),
    NUM_FIELD("data_format", F_FORMAT, data_format, 0, 0, false),
    NUM_FIELD("listmode_tof", F_BOOL, listmode_tof, 0, 0, false),
    PATH_FIELD(normalisation),
    PATH_FIELD(attenuation),
    PATH_FIELD(attenuation_image),
    PATH_FIELD(randoms),
    PATH_FIELD(scatter),
    PATH_FIELD(sensitivity),
    PATH_FIELD(save_sensitivity),
    PATH_FIELD(output),
    PATH_FIELD(initial_image),
    NUM_FIELD("iterations", F_INT32, iterations, 1, 100000, false),
    NUM_FIELD("subsets", F_INT32, subsets, 1, 100000, false),
    NUM_FIELD("projector", F_PROJECTOR, projector, 0, 0, false),
    NUM_FIELD("num_rays", F_INT32, num_rays, 1, 1024, false),
    NUM_FIELD("tof", F_BOOL, tof, 0, 0, false),
    NUM_FIELD("tof_n_sigmas", F_DOUBLE, tof_n_sigmas, 0, 100, true),
    NUM_FIELD("psf_fwhm_mm", F_DOUBLE, psf_fwhm_mm, 0, 1000, false),
    NUM_FIELD("algorithm", F_ALGORITHM, algorithm, 0, 0, false),
    NUM_FIELD("prior", F_PRIOR, prior, 0, 0, false),
    NUM_FIELD("beta", F_DOUBLE, beta, 0, 1e12, false),
    NUM_FIELD("gamma", F_DOUBLE, gamma, 0, 1e6, false),
    NUM_FIELD("epsilon", F_DOUBLE, epsilon, 0, 1e6, false),
    NUM_FIELD("relaxation", F_DOUBLE, relaxation, 0, 1e6, true),
    NUM_FIELD("relaxation_eta", F_DOUBLE, relaxation_eta, 0, 1e6, false),
    NUM_FIELD("threads", F_INT32, threads, 0, 4096, false),
    NUM_FIELD("image.nx", F_INT32, image.nx, 0, 32767, false),
    NUM_FIELD("image.ny", F_INT32, image.ny, 0, 32767, false),
    NUM_FIELD("image.nz", F_INT32, image.nz, 0, 32767, false),
    NUM_FIELD("image.length_x", F_DOUBLE, image.length_x, 0, 1e5, false),
    NUM_FIELD("image.length_y", F_DOUBLE, image.length_y, 0, 1e5, false),
    NUM_FIELD("image.length_z", F_DOUBLE, image.length_z, 0, 1e5, false),
    NUM_FIELD("image.off_x", F_DOUBLE, image.off_x, -1e5, 1e5, false),
    NUM_FIELD("image.off_y", F_DOUBLE, image.off_y, -1e5, 1e5, false),
    NUM_FIELD("image.off_z", F_DOUBLE, image.off_z, -1e5, 1e5, false),
    NUM_FIELD("save_every", F_INT32, save_every, 0, 1e6, false),
    NUM_FIELD("gpu", F_BOOL, gpu, 0, 0, false),
    NUM_FIELD("device", F_INT32, device, 0, 1024, false),
    NUM_FIELD("vram_budget_mb", F_INT64, vram_budget_mb, 0, 1099511627776.0, false),
    PATH_FIELD(checkpoint),
    NUM_FIELD("quiet", F_BOOL, quiet, 0, 0, false),
    NUM_FIELD("json_lines", F_BOOL, json_lines, 0, 0, false),
    {"frames", F_FRAMES, offsetof(pet_config, frames), PET_CONFIG_FRAMES_MAX, 0, 0, false},
    NUM_FIELD("half_life_s", F_DOUBLE, half_life_s, 0, 1e12, false),
    PATH_FIELD(tac_mask),
    NUM_FIELD("frame_files", F_BOOL, frame_files, 0, 0, false),
    NUM_FIELD("seed", F_INT64, seed, 0, 9007199254740992.0, false),
    NUM_FIELD("counts", F_DOUBLE, counts, 1, 1e13, false),
    NUM_FIELD("stream", F_BOOL, stream, 0, 0, false),
    NUM_FIELD("lm_window_events", F_INT64, lm_window_events, 0, 1099511627776.0, false),
    NUM_FIELD("scatter_iterations", F_INT32, scatter_iterations, 1, 100, false),
    NUM_FIELD("scatter_step_mm", F_DOUBLE, scatter_step_mm, 0, 1000, false),
    PATH_FIELD(scatter_output),
};
#define NUM_FIELDS (sizeof fields / sizeof fields[0])

static const char *const format_names[] = {"auto", "hdf5", "yrt-histogram", "yrt-listmode"};
static const char *const projector_names[] = {"S", "DD", "MRS"};

const char *pet_data_format_name(pet_data_format f)
{
  return (unsigned)f < 4 ? format_names[f] : "?";
}

const char *pet_config_projector_name(pet_config_projector p)
{
  return (unsigned)p < 3 ? projector_names[p] : "?";
}

void pet_config_defaults(pet_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->data_format = PET_DATA_AUTO;
  cfg->iterations = 10;
  cfg->subsets = 1;
  cfg->projector = PET_CONFIG_PROJ_S;
  cfg->num_rays = 1;
  cfg->tof_n_sigmas = 3.0;
  cfg->seed = 42;
  cfg->counts = 2e7;
  const pet_prior_params pp = pet_prior_params_default();
  cfg->algorithm = PET_OSEM_ALG_OSEM;
  cfg->prior = pp.kind;
  cfg->beta = pp.beta;
  cfg->gamma = pp.gamma;
  cfg->epsilon = pp.epsilon;
  cfg->relaxation = 1.0;
  cfg->relaxation_eta = 0.1;
  cfg->scatter_iterations = 3;
}

static const field *find_field(const char *key)
{
  for (size_t i = 0; i < NUM_FIELDS; ++i)
    if (strcmp(fields[i].key, key) == 0) return &fields[i];
  return NULL;
}

static void *field_ptr(pet_config *cfg, const field *f) { return (char *)cfg + f->offset; }
static const void *field_cptr(const pet_config *cfg, const field *f)
{
  return (const char *)cfg + f->offset;
}

/* ---- frames: "6x10,8x30", "10,10,30", "0-10,10-20@1.02", "study.dyn" ---- */

static bool ends_with_dyn(const char *s)
{
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) --n;
  return n >= 4 && strncmp(s + n - 4, ".dyn", 4) == 0;
}

/* Appends one frame (out may be NULL: count only). */
static bool add_frame(pet_frame_def *out, int *total, double start, double dur, double factor,
                      const char **why)
{
  if (*total >= MAX_FRAMES) {
    *why = "more than 100000 frames";
    return false;
  }
  if (out) {
    out[*total].start_s = start;
    out[*total].duration_s = dur;
    out[*total].factor = factor;
  }
  ++*total;
  return true;
}

static bool parse_number(const char **p, double *v)
{
  char *end = NULL;
  if (!isdigit((unsigned char)**p) && **p != '.') return false;
  errno = 0;
  *v = strtod(*p, &end);
  if (end == *p || errno == ERANGE || !isfinite(*v)) return false;
  for (const char *c = *p; c < end; ++c)
    if (*c == 'x' || *c == 'X') return false; /* strtod reads hex: "0x10" is not 16 s */
  *p = end;
  return true;
}

/*
 * Parses the frames syntax into frames (NULL: count only). Items, comma-separated:
 *   NxD    N frames of D seconds, following the previous frame
 *   D      one frame of D seconds, following the previous frame
 *   A-B    one frame from A to B seconds (A at or after the previous frame's end: no overlap)
 * each optionally followed by "@F", a per-frame factor (dead time x normalisation drift) that
 * multiplies the frame's image. A string ending in ".dyn" is a YRT-PET framing file, read by
 * pet_config_frame_defs (counted here as 0 frames). *why says what is wrong.
 */
static bool parse_frames(const char *s, pet_frame_def *frames, int *n, const char **why)
{
  int total = 0;
  double t = 0.0;
  const char *p = s;
  *why = "";
  while (isspace((unsigned char)*p)) ++p;
  if (*p == '\0' || ends_with_dyn(p)) {
    *n = 0;
    return true;
  }
  static const char *syntax =
      "each item is <count>x<seconds>, <seconds> or <start>-<end> (seconds), optionally "
      "followed by @<factor>, e.g. \"6x10,8x30\"";
  for (;;) {
    while (isspace((unsigned char)*p)) ++p;
    if (!isdigit((unsigned char)*p) && *p != '.') {
      *why = syntax;
      return false;
    }
    const char *item = p;
    double a = 0.0, b = 0.0, factor = 1.0;
    long count = 1;
    bool range = false;
    if (!parse_number(&p, &a)) {
      *why = syntax;
      return false;
    }
    if (*p == 'x' || *p == 'X') {
      char *end = NULL;
      count = strtol(item, &end, 10);
      if (end != p || count < 1 || count > MAX_FRAMES) {
        *why = end != p ? syntax : "a frame count must be in [1, 100000]";
        return false;
      }
      ++p;
      if (!parse_number(&p, &a) || a <= 0) {
        *why = "a frame duration must be a number of seconds > 0";
        return false;
      }
    } else if (*p == '-') {
      ++p;
      range = true;
      if (!parse_number(&p, &b) || b <= a) {
        *why = "a frame <start>-<end> needs end > start >= 0 (seconds)";
        return false;
      }
      if (a < t) {
        *why = "frames overlap: a frame starts before the previous one ends";
        return false;
      }
    } else if (a <= 0) {
      *why = "a frame duration must be a number of seconds > 0";
      return false;
    }
    if (*p == '@') {
      ++p;
      if (!parse_number(&p, &factor) || factor <= 0) {
        *why = "a frame factor (@F) must be a number > 0";
        return false;
      }
    }
    if (range) {
      if (!add_frame(frames, &total, a, b - a, factor, why)) return false;
      t = b;
    } else {
      for (long i = 0; i < count; ++i) {
        if (!add_frame(frames, &total, t, a, factor, why)) return false;
        t += a;
      }
    }
    while (isspace((unsigned char)*p)) ++p;
    if (*p == '\0') break;
    if (*p != ',') {
      *why = "items are separated by commas, e.g. \"6x10,8x30\"";
      return false;
    }
    ++p;
  }
  *n = total;
  return true;
}

/* Reads a YRT-PET .dyn file: frame start times in ms, then the end of the last frame. */
static pet_status read_dyn(const char *path, pet_frame_def **out, int *n)
{
  char name[PET_CONFIG_FRAMES_MAX];
  const char *b = path;
  while (isspace((unsigned char)*b)) ++b;
  size_t len = strlen(b);
  while (len > 0 && isspace((unsigned char)b[len - 1])) --len;
  snprintf(name, sizeof name, "%.*s", (int)len, b);
  FILE *f = fopen(name, "r");
  PET_CHECK(f != NULL, PET_ERR_CONFIG, "config: field \"frames\": cannot open the framing file %s: %s",
            name, strerror(errno));
  double *t = NULL;
  int cnt = 0, cap = 0;
  pet_status st = PET_OK;
  char tok[64];
  while (fscanf(f, "%63s", tok) == 1) {
    char *end = NULL;
    double v = strtod(tok, &end);
    if (end == tok || *end != '\0' || !isfinite(v) || v < 0) {
      st = PET_ERROR(PET_ERR_CONFIG, "%s: field \"frames\": \"%s\" is not a time in ms >= 0", name, tok);
      goto out;
    }
    if (cnt > 0 && v <= t[cnt - 1]) {
      st = PET_ERROR(PET_ERR_CONFIG, "%s: field \"frames\": times must increase (%g ms after %g ms)", name,
                     v, t[cnt - 1]);
      goto out;
    }
    if (cnt == cap) {
      cap = cap ? 2 * cap : 64;
      double *bigger = cnt < MAX_FRAMES + 1 ? realloc(t, (size_t)cap * sizeof *t) : NULL;
      PET_CHECK_GOTO(st, bigger != NULL, PET_ERR_CONFIG, out, "%s: field \"frames\": too many frames", name);
      t = bigger;
    }
    t[cnt++] = v;
  }
  PET_CHECK_GOTO(st, cnt >= 2, PET_ERR_CONFIG, out,
                 "%s: field \"frames\": a framing file needs at least one frame (start and end times in ms)",
                 name);
  *out = malloc((size_t)(cnt - 1) * sizeof **out);
  PET_CHECK_GOTO(st, *out != NULL, PET_ERR_NOMEM, out, "config: out of memory");
  for (int k = 0; k + 1 < cnt; ++k) {
    (*out)[k].start_s = t[k] / 1000.0;
    (*out)[k].duration_s = (t[k + 1] - t[k]) / 1000.0;
    (*out)[k].factor = 1.0;
  }
  *n = cnt - 1;
out:
  fclose(f);
  free(t);
  return st;
}

pet_status pet_config_frame_defs(const pet_config *cfg, pet_frame_def **frames, int *n)
{
  const char *why;
  int count = 0;
  PET_CHECK(cfg && frames && n, PET_ERR_ARG, "pet_config_frame_defs: NULL argument");
  *frames = NULL;
  *n = 0;
  if (ends_with_dyn(cfg->frames)) return read_dyn(cfg->frames, frames, n);
  PET_CHECK(parse_frames(cfg->frames, NULL, &count, &why), PET_ERR_CONFIG,
            "config: field \"frames\": \"%s\": %s", cfg->frames, why);
  if (count == 0) return PET_OK;
  pet_frame_def *d = malloc((size_t)count * sizeof *d);
  PET_CHECK(d != NULL, PET_ERR_NOMEM, "config: out of memory for %d frames", count);
  parse_frames(cfg->frames, d, &count, &why);
  *frames = d;
  *n = count;
  return PET_OK;
}

pet_status pet_config_frames(const pet_config *cfg, double **durations_s, int *n)
{
  PET_CHECK(cfg && durations_s && n, PET_ERR_ARG, "pet_config_frames: NULL argument");
  *durations_s = NULL;
  pet_frame_def *f = NULL;
  PET_TRY(pet_config_frame_defs(cfg, &f, n));
  if (*n == 0) return PET_OK;
  double *d = malloc((size_t)*n * sizeof *d);
  if (!d) {
    free(f);
    return PET_ERROR(PET_ERR_NOMEM, "config: out of memory for %d frames", *n);
  }
  for (int i = 0; i < *n; ++i) d[i] = f[i].duration_s;
  free(f);
  *durations_s = d;
  return PET_OK;
}

/* A number as short text that reads back exactly. */
static void number_text(char *buf, size_t len, double v)
{
  snprintf(buf, len, "%.15g", v);
  if (strtod(buf, NULL) != v) snprintf(buf, len, "%.17g", v);
}

/* A JSON array of frames -> the frames string: numbers (durations), [start, end] pairs, or
 * objects {"duration"} / {"start", "end"} with an optional "factor". */
static pet_status frames_from_json(const cJSON *arr, char *out, size_t cap, const char *src)
{
  size_t used = 0;
  out[0] = '\0';
  int i = 0;
  for (const cJSON *it = arr->child; it; it = it->next, ++i) {
    char item[128], a[40], b[40], fac[48] = "";
    const cJSON *factor = NULL;
    if (cJSON_IsNumber(it)) {
      number_text(a, sizeof a, it->valuedouble);
      snprintf(item, sizeof item, "%s", a);
    } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(it, 0)) &&
               cJSON_IsNumber(cJSON_GetArrayItem(it, 1))) {
      number_text(a, sizeof a, cJSON_GetArrayItem(it, 0)->valuedouble);
      number_text(b, sizeof b, cJSON_GetArrayItem(it, 1)->valuedouble);
      snprintf(item, sizeof item, "%s-%s", a, b);
    } else if (cJSON_IsObject(it)) {
      const cJSON *d = cJSON_GetObjectItemCaseSensitive(it, "duration");
      const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "start");
      const cJSON *e = cJSON_GetObjectItemCaseSensitive(it, "end");
      factor = cJSON_GetObjectItemCaseSensitive(it, "factor");
      int known = (d != NULL) + (s != NULL) + (e != NULL) + (factor != NULL);
      PET_CHECK(known == cJSON_GetArraySize(it), PET_ERR_CONFIG,
                "%s: field \"frames\": frame %d: keys are duration, or start and end, and factor", src, i);
      if (d && !s && !e && cJSON_IsNumber(d)) {
        number_text(a, sizeof a, d->valuedouble);
        snprintf(item, sizeof item, "%s", a);
      } else if (!d && s && e && cJSON_IsNumber(s) && cJSON_IsNumber(e)) {
        number_text(a, sizeof a, s->valuedouble);
        number_text(b, sizeof b, e->valuedouble);
        snprintf(item, sizeof item, "%s-%s", a, b);
      } else {
        return PET_ERROR(PET_ERR_CONFIG, "%s: field \"frames\": frame %d needs a number \"duration\", or "
                         "numbers \"start\" and \"end\" (seconds)", src, i);
      }
      if (factor) {
        PET_CHECK(cJSON_IsNumber(factor), PET_ERR_CONFIG, "%s: field \"frames\": frame %d: \"factor\" must "
                  "be a number", src, i);
        number_text(a, sizeof a, factor->valuedouble);
        snprintf(fac, sizeof fac, "@%s", a);
      }
    } else {
      return PET_ERROR(PET_ERR_CONFIG, "%s: field \"frames\": frame %d: expected a duration (seconds), a "
                       "[start, end] pair or an object, got %s", src, i,
                       cJSON_IsString(it) ? "a string" : "another value");
    }
    size_t need = strlen(item) + strlen(fac) + (i > 0 ? 1 : 0);
    PET_CHECK(used + need < cap, PET_ERR_CONFIG, "%s: field \"frames\": too many frames for %zu bytes of "
              "text; use \"NxD\" items or a .dyn file", src, cap - 1);
    used += (size_t)snprintf(out + used, cap - used, "%s%s%s", i > 0 ? "," : "", item, fac);
  }
  PET_CHECK(i > 0, PET_ERR_CONFIG, "%s: field \"frames\": an empty list", src);
  return PET_OK;
}

/* ---- setting one field from a JSON value or from text ---- */

static pet_status bad(const char *src, const field *f, const char *expected, const char *got)
{
  return PET_ERROR(PET_ERR_CONFIG, "%s: field \"%s\": expected %s, got %s", src, f->key,
                   expected, got);
}

static void range_text(const field *f, char *buf, size_t len)
{
  const char *kind = f->type == F_DOUBLE ? "a number" : "an integer";
  if (f->min_exclusive)
    snprintf(buf, len, "%s in (%.17g, %.17g]", kind, f->min, f->max);
  else
    snprintf(buf, len, "%s in [%.17g, %.17g]", kind, f->min, f->max);
}

/* Checks and stores a number; `text` is how the value appeared (for the message). */
static pet_status set_number(pet_config *cfg, const field *f, double v, const char *text,
                             const char *src)
{
  char expected[96];
  range_text(f, expected, sizeof expected);
  bool integral = f->type != F_DOUBLE;
  if (!isfinite(v) || (integral && v != floor(v)) || v < f->min || v > f->max ||
      (f->min_exclusive && v <= f->min))
    return bad(src, f, expected, text);
  void *p = field_ptr(cfg, f);
  if (f->type == F_INT32) *(int32_t *)p = (int32_t)v;
  else if (f->type == F_INT64) *(int64_t *)p = (int64_t)v;
  else *(double *)p = v;
  return PET_OK;
}

static pet_status set_string(pet_config *cfg, const field *f, const char *s, const char *src)
{
  char shown[80];
  snprintf(shown, sizeof shown, "\"%.60s%s\"", s, strlen(s) > 60 ? "..." : "");
  void *p = field_ptr(cfg, f);
  switch (f->type) {
  case F_PATH:
  case F_FRAMES: {
    if (strlen(s) >= f->size) {
      char expected[64];
      snprintf(expected, sizeof expected, "a string of at most %zu bytes", f->size - 1);
      return bad(src, f, expected, shown);
    }
    if (f->type == F_FRAMES) {
      const char *why;
      int n;
      if (!parse_frames(s, NULL, &n, &why))
        return PET_ERROR(PET_ERR_CONFIG, "%s: field \"frames\": %s: %s", src, shown, why);
    }
    memcpy(p, s, strlen(s) + 1);
    return PET_OK;
  }
  case F_FORMAT:
    for (int i = 0; i < 4; ++i)
      if (strcmp(s, format_names[i]) == 0) {
        *(pet_data_format *)p = (pet_data_format)i;
        return PET_OK;
      }
    return bad(src, f, "one of \"auto\", \"hdf5\", \"yrt-histogram\", \"yrt-listmode\"", shown);
  case F_PROJECTOR:
    for (int i = 0; i < 3; ++i)
      if (strcmp(s, projector_names[i]) == 0) {
        *(pet_config_projector *)p = (pet_config_projector)i;
        return PET_OK;
      }
    return bad(src, f, "one of \"S\", \"DD\", \"MRS\"", shown);
  case F_ALGORITHM:
    for (int i = 0; i < 3; ++i)
      if (strcmp(s, pet_osem_algorithm_name((pet_osem_algorithm)i)) == 0) {
        *(pet_osem_algorithm *)p = (pet_osem_algorithm)i;
        return PET_OK;
      }
    return bad(src, f, "one of \"osem\", \"osl\", \"bsrem\"", shown);
  case F_PRIOR:
    for (int i = 0; i < 3; ++i)
      if (strcmp(s, pet_prior_kind_name((pet_prior_kind)i)) == 0) {
        *(pet_prior_kind *)p = (pet_prior_kind)i;
        return PET_OK;
      }
    return bad(src, f, "one of \"none\", \"rdp\", \"quadratic\"", shown);
  default: return bad(src, f, "a non-string value", shown);
  }
}

static const char *json_kind(const cJSON *v)
{
  if (cJSON_IsBool(v)) return "a boolean";
  if (cJSON_IsNull(v)) return "null";
  if (cJSON_IsNumber(v)) return "a number";
  if (cJSON_IsString(v)) return "a string";
  if (cJSON_IsArray(v)) return "an array";
  if (cJSON_IsObject(v)) return "an object";
  return "an invalid value";
}

static pet_status set_from_json(pet_config *cfg, const field *f, const cJSON *v, const char *src)
{
  switch (f->type) {
  case F_PATH:
  case F_FRAMES:
    if (cJSON_IsNull(v)) return set_string(cfg, f, "", src);
    if (f->type == F_FRAMES && cJSON_IsArray(v)) {
      char text[PET_CONFIG_FRAMES_MAX];
      PET_TRY(frames_from_json(v, text, sizeof text, src));
      return set_string(cfg, f, text, src);
    }
    if (!cJSON_IsString(v)) return bad(src, f, "a string (or null)", json_kind(v));
    return set_string(cfg, f, v->valuestring, src);
  case F_FORMAT:
  case F_PROJECTOR:
  case F_ALGORITHM:
  case F_PRIOR:
    if (!cJSON_IsString(v))
      return bad(src, f,
                 f->type == F_FORMAT      ? "a data format string"
                 : f->type == F_PROJECTOR ? "a projector string"
                 : f->type == F_ALGORITHM ? "an algorithm string (\"osem\", \"osl\", \"bsrem\")"
                                          : "a prior string (\"none\", \"rdp\", \"quadratic\")",
                 json_kind(v));
    return set_string(cfg, f, v->valuestring, src);
  case F_BOOL:
    if (!cJSON_IsBool(v)) return bad(src, f, "true or false", json_kind(v));
    *(bool *)field_ptr(cfg, f) = cJSON_IsTrue(v);
    return PET_OK;
  default: {
    if (!cJSON_IsNumber(v)) {
      char expected[96];
      range_text(f, expected, sizeof expected);
      return bad(src, f, expected, json_kind(v));
    }
    char text[40];
    snprintf(text, sizeof text, "%.17g", v->valuedouble);
    return set_number(cfg, f, v->valuedouble, text, src);
  }
  }
}

static pet_status set_from_text(pet_config *cfg, const field *f, const char *value,
                                const char *src)
{
  char shown[80];
  snprintf(shown, sizeof shown, "\"%.60s%s\"", value, strlen(value) > 60 ? "..." : "");
  switch (f->type) {
  case F_BOOL: {
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; ++i) {
      if (strcmp(value, yes[i]) == 0) {
        *(bool *)field_ptr(cfg, f) = true;
        return PET_OK;
      }
      if (strcmp(value, no[i]) == 0) {
        *(bool *)field_ptr(cfg, f) = false;
        return PET_OK;
      }
    }
    return bad(src, f, "true or false", shown);
  }
  case F_INT32:
  case F_INT64:
  case F_DOUBLE: {
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end != '\0' || errno == ERANGE || isspace((unsigned char)value[0])) {
      char expected[96];
      range_text(f, expected, sizeof expected);
      return bad(src, f, expected, shown);
    }
    return set_number(cfg, f, v, shown, src);
  }
  default: return set_string(cfg, f, value, src);
  }
}

pet_status pet_config_set(pet_config *cfg, const char *key, const char *value)
{
  char k[64];
  PET_CHECK(cfg && key && value, PET_ERR_ARG, "pet_config_set: NULL argument");
  if (strncmp(key, "--", 2) == 0) key += 2;
  PET_CHECK(strlen(key) < sizeof k, PET_ERR_CONFIG, "command line: unknown option --%.40s...",
            key);
  strcpy(k, key);
  for (char *c = k; *c; ++c)
    if (*c == '-') *c = '_';
  const field *f = find_field(k);
  if (!f && strncmp(k, "image_", 6) == 0) {
    k[5] = '.';
    f = find_field(k);
    k[5] = '_';
  }
  PET_CHECK(f != NULL, PET_ERR_CONFIG, "command line: unknown option --%s (no config field \"%s\")",
            key, k);
  return set_from_text(cfg, f, value, "command line");
}

/* ---- reading ---- */

static pet_status read_object(pet_config *cfg, const cJSON *obj, const char *prefix,
                              const char *path)
{
  for (const cJSON *item = obj->child; item; item = item->next) {
    char key[128];
    snprintf(key, sizeof key, "%s%s", prefix, item->string ? item->string : "");
    if (!*prefix && strcmp(key, "image") == 0) {
      PET_CHECK(cJSON_IsObject(item), PET_ERR_CONFIG,
                "%s: field \"image\": expected an object {nx, ny, nz, length_x, ...}, got %s",
                path, json_kind(item));
      PET_TRY(read_object(cfg, item, "image.", path));
      continue;
    }
    const field *f = find_field(key);
    PET_CHECK(f != NULL, PET_ERR_CONFIG, "%s: unknown key \"%s\"", path, key);
    PET_TRY(set_from_json(cfg, f, item, path));
  }
  return PET_OK;
}

/* Input paths that the file sets are relative to the file's folder (as YRT-PET's detCoord is),
 * so a config works from any working directory; flags on the command line stay relative to it.
 * Outputs (output, save_sensitivity, checkpoint) are relative to the working directory: results
 * go where petrel runs, not into a folder of inputs that may be read-only or shared. */
static pet_status resolve_relative_paths(pet_config *cfg, const pet_config *before, const char *path)
{
  const char *slash = strrchr(path, '/');
  if (slash == NULL) return PET_OK;
  size_t dlen = (size_t)(slash - path);
  char *paths[] = {cfg->scanner,     cfg->data,         cfg->normalisation, cfg->attenuation,
                    cfg->attenuation_image, cfg->randoms, cfg->scatter,   cfg->sensitivity,
                    cfg->initial_image};
  const char *old[] = {before->scanner,     before->data,     before->normalisation, before->attenuation,
                       before->attenuation_image, before->randoms, before->scatter, before->sensitivity,
                       before->initial_image};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; ++i) {
    char *v = paths[i];
    if (v[0] == '\0' || v[0] == '/' || strcmp(v, old[i]) == 0) continue;
    if (v == cfg->scatter && strcmp(v, PET_CONFIG_SCATTER_ESTIMATE) == 0) continue; /* not a path */
    char buf[PET_CONFIG_PATH_MAX];
    int n = snprintf(buf, sizeof buf, "%.*s/%s", (int)dlen, path, v);
    PET_CHECK(n > 0 && (size_t)n < sizeof buf, PET_ERR_CONFIG, "%s: path \"%s\" is too long once "
              "made relative to the config's folder", path, v);
    memcpy(v, buf, (size_t)n + 1);
  }
  return PET_OK;
}

static pet_status parse_text(pet_config *cfg, const char *text, size_t len, const char *path, bool relative);

pet_status pet_config_read_json(pet_config *cfg, const char *path)
{
  pet_status st = PET_OK;
  FILE *f = NULL;
  char *text = NULL;
  PET_CHECK(cfg && path, PET_ERR_ARG, "pet_config_read_json: NULL argument");
  f = fopen(path, "rb");
  PET_CHECK(f != NULL, PET_ERR_IO, "%s: cannot open the config: %s", path, strerror(errno));
  size_t cap = 4096, len = 0;
  text = malloc(cap);
  PET_CHECK_GOTO(st, text != NULL, PET_ERR_NOMEM, out, "%s: out of memory", path);
  for (;;) {
    len += fread(text + len, 1, cap - len, f);
    if (len < cap) break;
    PET_CHECK_GOTO(st, cap < ((size_t)64 << 20), PET_ERR_CONFIG, out,
                   "%s: a config file larger than 64 MiB", path);
    char *bigger = realloc(text, cap * 2);
    PET_CHECK_GOTO(st, bigger != NULL, PET_ERR_NOMEM, out, "%s: out of memory", path);
    text = bigger;
    cap *= 2;
  }
  PET_CHECK_GOTO(st, !ferror(f), PET_ERR_IO, out, "%s: read error", path);
  st = parse_text(cfg, text, len, path, true);
out:
  free(text);
  if (f) fclose(f);
  return st;
}

pet_status pet_config_parse_json(pet_config *cfg, const char *text, const char *name)
{
  PET_CHECK(cfg && text && name, PET_ERR_ARG, "pet_config_parse_json: NULL argument");
  return parse_text(cfg, text, strlen(text), name, false);
}

/* text (len bytes) over *cfg; name in the messages; relative: resolve relative paths against
 * name's folder (a file) */
static pet_status parse_text(pet_config *cfg, const char *text, size_t len, const char *path, bool relative)
{
  pet_status st = PET_OK;
  cJSON *root = NULL;
  const char *end = NULL;
  root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!root) {
    size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
    int line = 1;
    for (size_t i = 0; i < at; ++i)
      if (text[i] == '\n') ++line;
    st = PET_ERROR(PET_ERR_CONFIG, "%s: invalid JSON at line %d (byte %zu)", path, line, at);
    goto out;
  }
  PET_CHECK_GOTO(st, cJSON_IsObject(root), PET_ERR_CONFIG, out,
                 "%s: the config must be a JSON object, got %s", path, json_kind(root));
  pet_config before = *cfg;
  PET_TRY_GOTO(st, read_object(cfg, root, "", path), out);
  if (relative) PET_TRY_GOTO(st, resolve_relative_paths(cfg, &before, path), out);
out:
  cJSON_Delete(root);
  return st;
}

/* ---- cross-field checks ---- */

pet_status pet_config_validate(const pet_config *cfg)
{
  PET_CHECK(cfg != NULL, PET_ERR_ARG, "pet_config_validate: NULL");
  PET_CHECK(cfg->scanner[0], PET_ERR_CONFIG, "config: field \"scanner\" is required");
  PET_CHECK(cfg->data[0] || cfg->save_sensitivity[0], PET_ERR_CONFIG,
            "config: field \"data\" is required (unless \"save_sensitivity\" is given for a "
            "sensitivity-only run)");
  PET_CHECK(cfg->output[0] || !cfg->data[0], PET_ERR_CONFIG,
            "config: field \"output\" is required (where the reconstructed image goes)");
  PET_CHECK(!(cfg->attenuation[0] && cfg->attenuation_image[0]), PET_ERR_CONFIG,
            "config: fields \"attenuation\" (per-bin factors) and \"attenuation_image\" (mu-map) "
            "exclude each other");
  PET_CHECK(!(cfg->sensitivity[0] && cfg->save_sensitivity[0]), PET_ERR_CONFIG,
            "config: fields \"sensitivity\" (load) and \"save_sensitivity\" (compute and save) "
            "exclude each other");
  const pet_config_image *im = &cfg->image;
  int n_set = (im->nx > 0) + (im->ny > 0) + (im->nz > 0);
  int len_set = (im->length_x > 0) + (im->length_y > 0) + (im->length_z > 0);
  PET_CHECK((n_set == 0 && len_set == 0) || (n_set == 3 && len_set == 3), PET_ERR_CONFIG,
            "config: field \"image\": give all of nx, ny, nz, length_x, length_y, length_z "
            "(> 0) or none (the scanner's default grid); got nx=%d ny=%d nz=%d length_x=%g "
            "length_y=%g length_z=%g",
            im->nx, im->ny, im->nz, im->length_x, im->length_y, im->length_z);
  PET_CHECK(!(cfg->listmode_tof && cfg->data_format == PET_DATA_YRT_HISTOGRAM), PET_ERR_CONFIG,
            "config: field \"listmode_tof\" is set but \"data_format\" is \"yrt-histogram\"");
  PET_CHECK(!(cfg->tof && cfg->data_format == PET_DATA_YRT_LISTMODE && !cfg->listmode_tof),
            PET_ERR_CONFIG,
            "config: field \"tof\" needs \"listmode_tof\": true for \"yrt-listmode\" data (a "
            ".lmDat file does not say whether it carries TOF)");
  PET_CHECK(!(cfg->frames[0] && cfg->data_format == PET_DATA_YRT_HISTOGRAM), PET_ERR_CONFIG,
            "config: field \"frames\" needs list-mode data, but \"data_format\" is "
            "\"yrt-histogram\"");
  PET_CHECK(!(cfg->num_rays > 1 && cfg->projector == PET_CONFIG_PROJ_DD), PET_ERR_CONFIG,
            "config: field \"num_rays\" = %d, but projector \"DD\" has no rays", cfg->num_rays);
  PET_CHECK(!(cfg->prior != PET_PRIOR_NONE && cfg->beta > 0 && cfg->algorithm == PET_OSEM_ALG_OSEM),
            PET_ERR_CONFIG,
            "config: field \"prior\" = \"%s\" with \"beta\" = %g needs \"algorithm\": \"osl\" or \"bsrem\" "
            "(it is \"osem\", which has no prior)",
            pet_prior_kind_name(cfg->prior), cfg->beta);
  PET_CHECK(!(cfg->prior == PET_PRIOR_NONE && cfg->beta > 0), PET_ERR_CONFIG,
            "config: field \"beta\" = %g, but \"prior\" is \"none\" (give \"rdp\" or \"quadratic\")", cfg->beta);
  if (strcmp(cfg->scatter, PET_CONFIG_SCATTER_ESTIMATE) == 0) {
    PET_CHECK(cfg->attenuation_image[0], PET_ERR_CONFIG,
              "config: field \"scatter\" = \"estimate\" needs the mu-map: give field \"attenuation_image\" (a "
              "mu-map in 1/mm; per-bin \"attenuation\" factors are not enough)");
    PET_CHECK(cfg->scatter_iterations <= cfg->iterations, PET_ERR_CONFIG,
              "config: field \"scatter_iterations\" = %d must be at most \"iterations\" = %d (the scatter is "
              "re-estimated after each of the first scatter_iterations iterations)",
              cfg->scatter_iterations, cfg->iterations);
    PET_CHECK(!cfg->frames[0], PET_ERR_CONFIG,
              "config: field \"scatter\" = \"estimate\" is not available with \"frames\" (dynamic studies)");
  }
  PET_CHECK(!cfg->scatter_output[0] || strcmp(cfg->scatter, PET_CONFIG_SCATTER_ESTIMATE) == 0, PET_ERR_CONFIG,
            "config: field \"scatter_output\" needs \"scatter\": \"estimate\" (it is \"%s\")", cfg->scatter);
  const char *why;
  int nf;
  PET_CHECK(parse_frames(cfg->frames, NULL, &nf, &why), PET_ERR_CONFIG,
            "config: field \"frames\": \"%s\": %s", cfg->frames, why);
  return PET_OK;
}

/* ---- writing ---- */

static cJSON *field_json(const pet_config *cfg, const field *f)
{
  const void *p = field_cptr(cfg, f);
  switch (f->type) {
  case F_PATH:
  case F_FRAMES: return cJSON_CreateString((const char *)p);
  case F_FORMAT: return cJSON_CreateString(pet_data_format_name(*(const pet_data_format *)p));
  case F_PROJECTOR:
    return cJSON_CreateString(pet_config_projector_name(*(const pet_config_projector *)p));
  case F_ALGORITHM: return cJSON_CreateString(pet_osem_algorithm_name(*(const pet_osem_algorithm *)p));
  case F_PRIOR: return cJSON_CreateString(pet_prior_kind_name(*(const pet_prior_kind *)p));
  case F_BOOL: return cJSON_CreateBool(*(const bool *)p);
  case F_INT32: return cJSON_CreateNumber((double)*(const int32_t *)p);
  case F_INT64: return cJSON_CreateNumber((double)*(const int64_t *)p);
  case F_DOUBLE: return cJSON_CreateNumber(*(const double *)p);
  }
  return NULL;
}

pet_status pet_config_to_json(const pet_config *cfg, bool pretty, char **json)
{
  pet_status st = PET_OK;
  cJSON *root = NULL;
  char *text = NULL;
  PET_CHECK(cfg && json, PET_ERR_ARG, "pet_config_to_json: NULL argument");
  *json = NULL;
  root = cJSON_CreateObject();
  PET_CHECK_GOTO(st, root != NULL, PET_ERR_NOMEM, out, "config: out of memory");
  cJSON *image = NULL; /* created at its first field, so the output follows pet_config */
  for (size_t i = 0; i < NUM_FIELDS; ++i) {
    const field *f = &fields[i];
    bool in_image = strncmp(f->key, "image.", 6) == 0;
    if (in_image && !image) {
      image = cJSON_AddObjectToObject(root, "image");
      PET_CHECK_GOTO(st, image != NULL, PET_ERR_NOMEM, out, "config: out of memory");
    }
    cJSON *v = field_json(cfg, f);
    PET_CHECK_GOTO(st, v != NULL, PET_ERR_NOMEM, out, "config: out of memory");
    if (!cJSON_AddItemToObject(in_image ? image : root, in_image ? f->key + 6 : f->key, v)) {
      cJSON_Delete(v);
      st = PET_ERROR(PET_ERR_NOMEM, "config: out of memory");
      goto out;
    }
  }
  text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
  PET_CHECK_GOTO(st, text != NULL, PET_ERR_NOMEM, out, "config: out of memory");
  size_t n = strlen(text);
  *json = malloc(n + 2);
  PET_CHECK_GOTO(st, *json != NULL, PET_ERR_NOMEM, out, "config: out of memory");
  memcpy(*json, text, n);
  (*json)[n] = pretty ? '\n' : '\0';
  (*json)[n + 1] = '\0';
out:
  if (text) cJSON_free(text);
  cJSON_Delete(root);
  return st;
}

pet_status pet_config_write_json(const pet_config *cfg, const char *path)
{
  char *json = NULL;
  PET_CHECK(cfg && path, PET_ERR_ARG, "pet_config_write_json: NULL argument");
  PET_TRY(pet_config_to_json(cfg, true, &json));
  pet_status st = pet_file_write_atomic(path, json, strlen(json));
  free(json);
  return st;
}

uint64_t pet_config_hash(const pet_config *cfg)
{
  char *json = NULL;
  if (pet_config_to_json(cfg, false, &json) != PET_OK) return 0;
  uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char *p = (const unsigned char *)json; *p; ++p) {
    h ^= *p;
    h *= 0x100000001b3ull;
  }
  free(json);
  return h;
}
