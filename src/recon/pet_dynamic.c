#include "pet_dynamic.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_fileutil.h"
#include "pet_png.h"

pet_status pet_dyn_frames_init(pet_dyn_frame *frames, int n)
{
  PET_CHECK(frames != NULL && n >= 1, PET_ERR_ARG, "dynamic: no frames");
  double prev_end = 0.0;
  for (int k = 0; k < n; ++k) {
    pet_dyn_frame *f = &frames[k];
    PET_CHECK(isfinite(f->start_s) && isfinite(f->duration_s) && f->start_s >= 0 && f->duration_s > 0,
              PET_ERR_CONFIG, "dynamic: frame %d: start %g s, duration %g s (need start >= 0, duration > 0)", k,
              f->start_s, f->duration_s);
    PET_CHECK(f->start_s >= prev_end, PET_ERR_CONFIG,
              "dynamic: frame %d starts at %g s, before frame %d ends (%g s): frames must not overlap", k,
              f->start_s, k - 1, prev_end);
    const double end_s = f->start_s + f->duration_s;
    PET_CHECK(end_s * 1000.0 < 4294967295.0, PET_ERR_CONFIG,
              "dynamic: frame %d ends at %g s, beyond the 32-bit ms list-mode clock", k, end_s);
    PET_CHECK(isfinite(f->factor) && f->factor > 0, PET_ERR_CONFIG, "dynamic: frame %d: factor %g (need > 0)", k,
              f->factor);
    f->t0_ms = (uint32_t)llround(f->start_s * 1000.0);
    f->t1_ms = (uint32_t)llround(end_s * 1000.0);
    PET_CHECK(f->t1_ms > f->t0_ms, PET_ERR_CONFIG, "dynamic: frame %d is shorter than 1 ms", k);
    prev_end = end_s;
    f->first = 0;
    f->count = 0;
  }
  return PET_OK;
}

/* First index i in [0, n) with t[i] >= v (n if none). */
static int64_t lower_bound(const uint32_t *t, int64_t n, uint32_t v)
{
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (t[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

pet_status pet_dyn_find_events_sorted(const uint32_t *time_ms, int64_t n, pet_dyn_frame *frames, int num_frames,
                                      int64_t *outside)
{
  PET_CHECK((time_ms != NULL || n == 0) && n >= 0 && frames != NULL && num_frames >= 0, PET_ERR_ARG,
            "dynamic: bad arguments to find_events");
  int64_t inside = 0;
  for (int k = 0; k < num_frames; ++k) {
    int64_t a = lower_bound(time_ms, n, frames[k].t0_ms);
    int64_t b = lower_bound(time_ms, n, frames[k].t1_ms);
    frames[k].first = a;
    frames[k].count = b - a;
    inside += b - a;
  }
  if (outside) *outside = n - inside;
  return PET_OK;
}

double pet_dyn_decay_factor(double t0_s, double d_s, double half_life_s)
{
  if (!(half_life_s > 0) || !(d_s > 0)) return 1.0;
  const double lambda = log(2.0) / half_life_s;
  const double ld = lambda * d_s;
  /* -expm1(-x) = 1 - e^{-x} without cancellation for short frames */
  return ld / (exp(-lambda * t0_s) * -expm1(-ld));
}

double pet_dyn_frame_scale(const pet_dyn_frame *f, double half_life_s)
{
  return f->factor * pet_dyn_decay_factor(f->start_s, f->duration_s, half_life_s) / f->duration_s;
}

pet_status pet_dyn_plan_make(int num_frames, int num_ranks, int rank, pet_dyn_plan *p)
{
  PET_CHECK(p != NULL && num_frames >= 1 && num_ranks >= 1 && rank >= 0 && rank < num_ranks, PET_ERR_ARG,
            "dynamic: plan for %d frames, %d ranks, rank %d", num_frames, num_ranks, rank);
  memset(p, 0, sizeof *p);
  p->num_frames = num_frames;
  p->num_ranks = num_ranks;
  p->rank = rank;
  if (num_frames >= num_ranks) {
    p->regime = PET_DYN_FRAMES_PER_RANK;
    p->group = rank;
    p->group_rank = 0;
    p->group_size = 1;
    return PET_OK;
  }
  p->regime = PET_DYN_RANKS_PER_FRAME;
  const int64_t F = num_frames, R = num_ranks;
  p->group = (int)((int64_t)rank * F / R);
  /* the ranks r with floor(r F / R) == g are [ceil(g R / F), ceil((g + 1) R / F)) */
  const int64_t lo = ((int64_t)p->group * R + F - 1) / F;
  const int64_t hi = (((int64_t)p->group + 1) * R + F - 1) / F;
  p->group_rank = (int)(rank - lo);
  p->group_size = (int)(hi - lo);
  return PET_OK;
}

bool pet_dyn_plan_has_frame(const pet_dyn_plan *p, int f)
{
  if (f < 0 || f >= p->num_frames) return false;
  if (p->regime == PET_DYN_FRAMES_PER_RANK) return f % p->num_ranks == p->rank;
  return f == p->group;
}

void pet_dyn_plan_describe(const pet_dyn_plan *p, char *buf, size_t len)
{
  if (p->regime == PET_DYN_FRAMES_PER_RANK) {
    const int lo = p->num_frames / p->num_ranks, hi = (p->num_frames + p->num_ranks - 1) / p->num_ranks;
    snprintf(buf, len,
             "%d frame(s) over %d rank(s): frames >= ranks, so each rank reconstructs whole frames alone "
             "(rank r: frames r, r+%d, ...; %d to %d frame(s) per rank), no reduction between ranks; the frame "
             "images are gathered at the end",
             p->num_frames, p->num_ranks, p->num_ranks, lo, hi);
  } else {
    const int lo = p->num_ranks / p->num_frames, hi = (p->num_ranks + p->num_frames - 1) / p->num_frames;
    snprintf(buf, len,
             "%d frame(s) over %d rank(s): ranks > frames, so the ranks are split into %d groups of %d to %d "
             "consecutive ranks (sub-communicators), one frame per group; each group splits its frame's "
             "events and sums its backprojections within the group only",
             p->num_frames, p->num_ranks, p->num_frames, lo, hi);
  }
}

static int cmp_i32(const void *a, const void *b)
{
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

pet_status pet_dyn_tac(const pet_image *const *frames, int num_frames, const pet_image *labels, int *num_labels,
                       int32_t **label_ids, double **means)
{
  PET_CHECK(frames && num_frames >= 1 && labels && num_labels && label_ids && means, PET_ERR_ARG,
            "tac: NULL argument");
  *label_ids = NULL;
  *means = NULL;
  *num_labels = 0;
  PET_TRY(pet_image_require(labels, PET_HOST));
  for (int f = 0; f < num_frames; ++f) {
    PET_TRY(pet_image_require(frames[f], PET_HOST));
    PET_CHECK(pet_image_params_equal(&frames[f]->params, &labels->params), PET_ERR_ARG,
              "tac: the mask's grid (%dx%dx%d) differs from the images' (%dx%dx%d)", labels->params.nx,
              labels->params.ny, labels->params.nz, frames[f]->params.nx, frames[f]->params.ny,
              frames[f]->params.nz);
  }
  const int64_t nv = pet_image_num_voxels(labels);
  /* distinct labels: sort a copy of the positive ones */
  int32_t *all = malloc((size_t)(nv > 0 ? nv : 1) * sizeof *all);
  PET_CHECK(all != NULL, PET_ERR_NOMEM, "tac: out of memory");
  int64_t m = 0;
  for (int64_t v = 0; v < nv; ++v) {
    float l = labels->data[v];
    if (isfinite(l) && lroundf(l) > 0) all[m++] = (int32_t)lroundf(l);
  }
  if (m == 0) {
    free(all);
    return PET_ERROR(PET_ERR_ARG, "tac: the mask has no voxel with a label > 0");
  }
  qsort(all, (size_t)m, sizeof *all, cmp_i32);
  int n = 0;
  for (int64_t i = 0; i < m; ++i)
    if (i == 0 || all[i] != all[i - 1]) all[n++] = all[i];
  double *sum = calloc((size_t)n * (size_t)num_frames, sizeof *sum);
  int64_t *cnt = calloc((size_t)n, sizeof *cnt);
  int32_t *ids = malloc((size_t)n * sizeof *ids);
  if (!sum || !cnt || !ids) {
    free(all);
    free(sum);
    free(cnt);
    free(ids);
    return PET_ERROR(PET_ERR_NOMEM, "tac: out of memory");
  }
  memcpy(ids, all, (size_t)n * sizeof *ids);
  free(all);
  for (int64_t v = 0; v < nv; ++v) {
    float l = labels->data[v];
    if (!isfinite(l) || lroundf(l) <= 0) continue;
    int32_t key = (int32_t)lroundf(l);
    const int32_t *hit = bsearch(&key, ids, (size_t)n, sizeof *ids, cmp_i32);
    int li = (int)(hit - ids);
    ++cnt[li];
    for (int f = 0; f < num_frames; ++f) sum[(size_t)li * num_frames + f] += frames[f]->data[v];
  }
  for (int li = 0; li < n; ++li)
    for (int f = 0; f < num_frames; ++f) sum[(size_t)li * num_frames + f] /= (double)cnt[li];
  free(cnt);
  *num_labels = n;
  *label_ids = ids;
  *means = sum;
  return PET_OK;
}

/* A growing text buffer. */
typedef struct text {
  char *s;
  size_t len, cap;
  bool failed;
} text;

static void put(text *t, const char *fmt, ...)
{
  if (t->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      t->failed = true;
      return;
    }
    if (t->s && t->len + (size_t)k < t->cap) {
      t->len += (size_t)k;
      return;
    }
    size_t cap = t->cap ? t->cap * 2 : 4096;
    while (cap < t->len + (size_t)k + 1) cap *= 2;
    char *bigger = realloc(t->s, cap);
    if (!bigger) {
      t->failed = true;
      return;
    }
    t->s = bigger;
    t->cap = cap;
  }
}

static pet_status text_commit(text *t, const char *path)
{
  pet_status st = PET_OK;
  if (t->failed) st = PET_ERROR(PET_ERR_NOMEM, "%s: out of memory", path);
  else st = pet_file_write_atomic(path, t->s, t->len);
  free(t->s);
  memset(t, 0, sizeof *t);
  return st;
}

pet_status pet_dyn_write_tac_csv(const char *path, const pet_dyn_frame *frames, int num_frames, int num_labels,
                                 const int32_t *label_ids, const double *means)
{
  PET_CHECK(path && frames && num_frames >= 1 && num_labels >= 0 && ((label_ids && means) || num_labels == 0),
            PET_ERR_ARG, "tac: bad arguments");
  text t;
  memset(&t, 0, sizeof t);
  put(&t, "frame,start_s,duration_s,mid_s");
  for (int l = 0; l < num_labels; ++l) put(&t, ",roi_%d", label_ids[l]);
  put(&t, "\n");
  for (int f = 0; f < num_frames; ++f) {
    const pet_dyn_frame *fr = &frames[f];
    put(&t, "%d,%.9g,%.9g,%.9g", f, fr->start_s, fr->duration_s, fr->start_s + 0.5 * fr->duration_s);
    for (int l = 0; l < num_labels; ++l) put(&t, ",%.9g", means[(size_t)l * num_frames + f]);
    put(&t, "\n");
  }
  return text_commit(&t, path);
}

pet_status pet_dyn_write_tac_png(const char *path, const pet_dyn_frame *frames, int num_frames, int num_labels,
                                 const double *means)
{
  PET_CHECK(path && frames && means && num_frames >= 1 && num_labels >= 1, PET_ERR_ARG, "tac: bad arguments");
  double *x = malloc((size_t)num_frames * sizeof *x);
  PET_CHECK(x != NULL, PET_ERR_NOMEM, "tac: out of memory");
  for (int f = 0; f < num_frames; ++f) x[f] = frames[f].start_s + 0.5 * frames[f].duration_s;
  pet_status st = pet_png_write_plot(path, x, means, num_frames, num_labels, 640, 400);
  free(x);
  return st;
}

pet_status pet_dyn_write_sidecar(const char *path, const pet_dyn_frame *frames, int num_frames,
                                 double half_life_s)
{
  PET_CHECK(path && frames && num_frames >= 1, PET_ERR_ARG, "sidecar: bad arguments");
  text t;
  memset(&t, 0, sizeof t);
  const char *keys[5] = {"FrameTimesStart", "FrameDuration", "DecayCorrectionFactor", "FrameFactor",
                         "FrameEventCounts"};
  put(&t, "{\n");
  for (int k = 0; k < 5; ++k) {
    put(&t, "  \"%s\": [", keys[k]);
    for (int f = 0; f < num_frames; ++f) {
      const pet_dyn_frame *fr = &frames[f];
      if (f) put(&t, ", ");
      if (k == 0) put(&t, "%.9g", fr->start_s);
      else if (k == 1) put(&t, "%.9g", fr->duration_s);
      else if (k == 2) put(&t, "%.9g", pet_dyn_decay_factor(fr->start_s, fr->duration_s, half_life_s));
      else if (k == 3) put(&t, "%.9g", fr->factor);
      else put(&t, "%lld", (long long)fr->count);
    }
    put(&t, "],\n");
  }
  if (half_life_s > 0) put(&t, "  \"RadionuclideHalfLife\": %.9g,\n", half_life_s);
  put(&t, "  \"ImageDecayCorrected\": %s,\n", half_life_s > 0 ? "true" : "false");
  put(&t, "  \"ImageDecayCorrectionTime\": 0,\n");
  put(&t, "  \"Units\": \"counts/s (sensitivity-normalised, decay-corrected to scan start%s)\"\n",
      half_life_s > 0 ? "" : ": no half-life given, not decay-corrected");
  put(&t, "}\n");
  return text_commit(&t, path);
}
