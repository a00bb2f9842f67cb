#include "pet_osem.h"
#include "pet_project_batch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

/* Division guards, following YRT-PET: a ratio whose predicted count m*Ax + a is not above
 * PRED_EPS contributes 0 (the LOR sees no activity in the model, so it carries no
 * information about the image), and a voxel whose sensitivity is at most SENS_REL_EPS times
 * the largest sensitivity is outside what the data can see and is set to 0. */
#define PRED_EPS 1e-10f
#define SENS_REL_EPS 1e-8f

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

pet_osem_opts pet_osem_opts_default(void)
{
  pet_osem_opts o;
  memset(&o, 0, sizeof o);
  o.iterations = 2;
  o.subsets = 4;
  o.proj = pet_projector_params_default();
  return o;
}

static bool is_listmode(const pet_osem_data *d) { return d->listmode != NULL; }

static int64_t lm_first(const pet_osem_data *d) { return d->lm_count < 0 ? 0 : d->lm_first; }
static int64_t lm_count(const pet_osem_data *d)
{
  return d->lm_count < 0 ? d->listmode->num_events : d->lm_count;
}

int64_t pet_osem_data_size(const pet_osem_data *d)
{
  if (is_listmode(d)) return lm_count(d);
  return d->layout->num_bins;
}

/* need_data: a reconstruction needs exactly one of a histogram and a list-mode; a sensitivity
 * needs only the scanner, the layout and the factors (and ignores TOF). */
static pet_status check(const pet_osem_data *d, const pet_osem_opts *o, bool need_data)
{
  PET_CHECK(d != NULL && o != NULL, PET_ERR_ARG, "osem: NULL data or options");
  PET_CHECK(d->scanner != NULL && d->layout != NULL, PET_ERR_ARG, "osem: scanner and bin layout required");
  PET_CHECK(!(d->histogram && d->listmode), PET_ERR_ARG, "osem: give one of a histogram and a list-mode, not both");
  PET_CHECK(!need_data || d->histogram || d->listmode, PET_ERR_ARG,
            "osem: give exactly one of a histogram and a list-mode");
  if (d->histogram) PET_TRY(pet_histogram_require(d->histogram));
  if (d->listmode) {
    PET_TRY(pet_listmode_require(d->listmode));
    PET_CHECK(d->lm_count < 0 || (d->lm_first >= 0 && d->lm_first + d->lm_count <= d->listmode->num_events),
              PET_ERR_ARG, "osem: list-mode range [%lld, +%lld) outside the %lld events",
              (long long)d->lm_first, (long long)d->lm_count, (long long)d->listmode->num_events);
  }
  PET_CHECK(o->iterations >= 1, PET_ERR_CONFIG, "osem: iterations must be >= 1 (got %d)", o->iterations);
  PET_CHECK(o->subsets >= 1, PET_ERR_CONFIG, "osem: subsets must be >= 1 (got %d)", o->subsets);
  PET_CHECK(is_listmode(d) || o->subsets <= d->layout->num_phi, PET_ERR_CONFIG,
            "osem: subsets (%d) must not exceed the histogram's %lld angles", o->subsets,
            (long long)d->layout->num_phi);
  PET_CHECK(!need_data || !o->proj.tof || (is_listmode(d) && d->listmode->has_tof), PET_ERR_CONFIG,
            "osem: TOF needs list-mode data with TOF values");
  PET_CHECK(o->psf_fwhm_mm >= 0.0f && isfinite(o->psf_fwhm_mm), PET_ERR_CONFIG,
            "osem: psf_fwhm_mm must be >= 0");
  return pet_projector_params_check(&o->proj);
}

static pet_status check_data(const pet_osem_data *d, const pet_osem_opts *o) { return check(d, o, true); }

pet_status pet_osem_check(const pet_osem_data *d, const pet_osem_opts *o) { return check_data(d, o); }

/* Host work buffers for one batch. */
typedef struct batch_buf {
  int64_t cap;
  float *lor, *orient, *tof, *proj;
  int64_t *bins;
} batch_buf;

static void batch_free(batch_buf *b)
{
  free(b->lor);
  free(b->orient);
  free(b->tof);
  free(b->proj);
  free(b->bins);
  memset(b, 0, sizeof *b);
}

static pet_status batch_alloc(batch_buf *b, int64_t cap)
{
  memset(b, 0, sizeof *b);
  b->cap = cap;
  b->lor = malloc((size_t)cap * 6 * sizeof(float));
  b->orient = malloc((size_t)cap * 6 * sizeof(float));
  b->tof = malloc((size_t)cap * sizeof(float));
  b->proj = malloc((size_t)cap * sizeof(float));
  b->bins = malloc((size_t)cap * sizeof(int64_t));
  if (!b->lor || !b->orient || !b->tof || !b->proj || !b->bins) {
    batch_free(b);
    return PET_ERROR(PET_ERR_NOMEM, "osem: cannot allocate host buffers for %lld LORs", (long long)cap);
  }
  return PET_OK;
}

static int64_t batch_cap(const pet_osem_opts *o)
{
  return o->batch_lors > 0 ? o->batch_lors : ((int64_t)1 << 20);
}

/* This rank's contiguous share [*lo, *hi) of n items. */
static void my_share(const pet_reducer *r, int64_t n, int64_t *lo, int64_t *hi)
{
  int rank = r ? r->rank : 0, size = r ? r->size : 1;
  *lo = n * rank / size;
  *hi = n * (rank + 1) / size;
}

/* Histogram shares are whole z-bins (the same for every subset), so that a rank's data is one
 * contiguous range of bins in the file: [z0 * num_phi * num_r, z1 * num_phi * num_r). */
static void histo_share(const pet_histo_layout *L, const pet_reducer *r, int32_t S, int32_t s,
                        int64_t *lo, int64_t *hi)
{
  int64_t z0, z1;
  my_share(r, L->num_zbin, &z0, &z1);
  int64_t per_z = pet_histo_subset_size(L->num_phi, L->num_r, 1, S, s);
  *lo = z0 * per_z;
  *hi = z1 * per_z;
}

void pet_osem_rank_bins(const pet_histo_layout *L, int rank, int size, int64_t *first, int64_t *count)
{
  pet_reducer r;
  memset(&r, 0, sizeof r);
  r.rank = rank;
  r.size = size;
  int64_t z0, z1;
  my_share(&r, L->num_zbin, &z0, &z1);
  *first = z0 * L->num_phi * L->num_r;
  *count = (z1 - z0) * L->num_phi * L->num_r;
}

void pet_osem_rank_events(int64_t num_events, int32_t S, int32_t s, int rank, int size,
                          int64_t *first, int64_t *count)
{
  pet_reducer r;
  memset(&r, 0, sizeof r);
  r.rank = rank;
  r.size = size;
  int64_t beg, end, lo, hi;
  pet_listmode_subset_range(num_events, S, s, &beg, &end);
  my_share(&r, end - beg, &lo, &hi);
  *first = beg + lo;
  *count = hi - lo;
}

static pet_status reduce(const pet_reducer *r, float *buf, int64_t n)
{
  if (r == NULL || r->size <= 1 || r->allreduce_sum == NULL) return PET_OK;
  return r->allreduce_sum(r->ctx, buf, n, PET_HOST);
}

static pet_status agree(const pet_reducer *r, pet_status st)
{
  if (r == NULL || r->agree == NULL) return st;
  return r->agree(r->ctx, st);
}

static pet_lor_batch make_batch(const batch_buf *b, int64_t n, bool tof)
{
  pet_lor_batch lb;
  lb.n = n;
  lb.lor = b->lor;
  lb.orient = b->orient;
  lb.tof_ps = tof ? b->tof : NULL;
  return lb;
}

/* Back-projection of m over subset s of S of all histogram bins (this rank's share). */
static pet_status sens_histogram_subset(const pet_osem_data *d, const pet_osem_opts *o,
                                        int32_t S, int32_t s, batch_buf *b, pet_image *out)
{
  const pet_histo_layout *L = d->layout;
  int64_t lo, hi;
  histo_share(L, o->reducer, S, s, &lo, &hi);
  pet_projector_params pp = o->proj;
  pp.tof = 0; /* the TOF kernel integrates to 1 along the LOR */
  for (int64_t k0 = lo; k0 < hi; k0 += b->cap) {
    int64_t cnt = hi - k0 < b->cap ? hi - k0 : b->cap;
    PET_TRY(pet_histo_get_subset_lors(L, d->scanner, S, s, k0, cnt, b->lor, b->orient));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < cnt; ++i) {
      int64_t bin = pet_histo_subset_bin(L->num_phi, L->num_r, L->num_zbin, S, s, k0 + i);
      b->proj[i] = d->mult ? d->mult[bin] : 1.0f;
    }
    pet_lor_batch lb = make_batch(b, cnt, false);
    PET_TRY(pet_project_back_cpu(&pp, &lb, b->proj, out));
  }
  return PET_OK;
}

pet_status pet_osem_sensitivity(const pet_osem_data *d, const pet_osem_opts *o, pet_image **sens,
                                int32_t num_sens)
{
  PET_TRY(check(d, o, false));
  PET_CHECK(sens != NULL && num_sens >= 1, PET_ERR_ARG, "osem: no sensitivity images given");
  int32_t S = is_listmode(d) ? 1 : o->subsets;
  PET_CHECK(num_sens == S, PET_ERR_ARG, "osem: %d sensitivity images given, %d expected", num_sens, S);
  batch_buf b;
  PET_TRY(batch_alloc(&b, batch_cap(o)));
  pet_status st = PET_OK;
  for (int32_t s = 0; s < S && st == PET_OK; ++s) {
    if ((st = pet_image_require(sens[s], PET_HOST)) != PET_OK) break;
    if ((st = pet_image_fill(sens[s], 0.0f)) != PET_OK) break;
    st = sens_histogram_subset(d, o, S, s, &b, sens[s]);
    st = agree(o->reducer, st);
    if (st == PET_OK) st = reduce(o->reducer, sens[s]->data, pet_image_num_voxels(sens[s]));
    if (st == PET_OK && o->psf_fwhm_mm > 0) st = pet_image_gaussian_blur(sens[s], o->psf_fwhm_mm);
  }
  batch_free(&b);
  return st;
}

/* Fills b with the LORs of items [k0, k0+cnt) of subset s (histogram: only bins with
 * non-zero counts, collected first; list-mode: events). Returns the LOR count in *n and,
 * for histograms, the bins in b->bins. *next is the subset-local index to continue from. */
static pet_status load_batch(const pet_osem_data *d, int32_t S, int32_t s, int64_t k0, int64_t hi,
                             batch_buf *b, int64_t *n, int64_t *next)
{
  if (is_listmode(d)) {
    int64_t beg, end;
    pet_listmode_subset_range(lm_count(d), S, s, &beg, &end);
    (void)end;
    int64_t cnt = hi - k0 < b->cap ? hi - k0 : b->cap;
    PET_TRY(pet_listmode_get_lors(d->listmode, d->scanner, lm_first(d) + beg + k0, cnt, b->lor,
                                  b->orient, d->listmode->has_tof ? b->tof : NULL));
    *n = cnt;
    *next = k0 + cnt;
    return PET_OK;
  }
  const pet_histo_layout *L = d->layout;
  const float *y = d->histogram->data;
  int64_t m = 0, k = k0;
  for (; k < hi && m < b->cap; ++k) {
    int64_t bin = pet_histo_subset_bin(L->num_phi, L->num_r, L->num_zbin, S, s, k);
    if (y[bin] != 0.0f) b->bins[m++] = bin;
  }
  if (m > 0) PET_TRY(pet_histo_get_lors(L, d->scanner, b->bins, 0, m, b->lor, b->orient));
  *n = m;
  *next = k;
  return PET_OK;
}

static int64_t subset_items(const pet_osem_data *d, int32_t S, int32_t s)
{
  if (is_listmode(d)) {
    int64_t beg, end;
    pet_listmode_subset_range(lm_count(d), S, s, &beg, &end);
    return end - beg;
  }
  const pet_histo_layout *L = d->layout;
  return pet_histo_subset_size(L->num_phi, L->num_r, L->num_zbin, S, s);
}

/* Event's histogram bin, for per-bin multiplicative factors in list-mode; -1 if none. */
static int64_t event_bin(const pet_osem_data *d, int64_t e)
{
  int64_t bin = -1;
  if (pet_histo_dets_to_bin(d->layout, (int32_t)d->listmode->d1[e], (int32_t)d->listmode->d2[e],
                            &bin) != PET_OK)
    return -1;
  return bin;
}

/* back += A_s^T (m y / (m A_s x + a)) over this rank's share of subset s. */
static pet_status ratio_back(const pet_osem_data *d, const pet_osem_opts *o, int32_t S, int32_t s,
                             const pet_image *xf, batch_buf *b, pet_image *back, int64_t *lors)
{
  int64_t lo, hi;
  const bool lm = is_listmode(d);
  if (lm)
    my_share(o->reducer, subset_items(d, S, s), &lo, &hi);
  else
    histo_share(d->layout, o->reducer, S, s, &lo, &hi);
  int64_t beg = 0, end = 0;
  if (lm) pet_listmode_subset_range(lm_count(d), S, s, &beg, &end);
  int64_t k = lo;
  while (k < hi) {
    int64_t n = 0, next = k;
    PET_TRY(load_batch(d, S, s, k, hi, b, &n, &next));
    if (n > 0) {
      pet_lor_batch lb = make_batch(b, n, o->proj.tof != 0);
      PET_TRY(pet_project_fwd_cpu(&o->proj, &lb, xf, b->proj));
      int64_t base = lm_first(d) + beg + k;
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        float m = 1.0f, a = 0.0f, y = 1.0f;
        if (lm) {
          int64_t e = base + i;
          if (d->mult || d->add) {
            /* per-bin corrections apply to each event of the bin: the additive term is the
             * bin's expected randoms + scatter, as in the histogram model */
            int64_t bin = event_bin(d, e);
            if (d->mult) m = bin >= 0 ? d->mult[bin] : 0.0f;
            if (d->add) a = bin >= 0 ? d->add[bin] : 0.0f;
          }
          if (d->lm_add) a += d->lm_add[e];
        } else {
          int64_t bin = b->bins[i];
          y = d->histogram->data[bin];
          if (d->mult) m = d->mult[bin];
          if (d->add) a = d->add[bin];
        }
        float pred = m * b->proj[i] + a;
        b->proj[i] = pred > PRED_EPS ? m * y / pred : 0.0f;
      }
      PET_TRY(pet_project_back_cpu(&o->proj, &lb, b->proj, back));
      *lors += n;
    }
    k = next;
  }
  return PET_OK;
}

/* The voxel threshold of a sensitivity image: relative to its largest value over the whole
 * image (also when only a slab is updated, so that every rank count gives the same image). */
static float sens_threshold(const pet_image *sens, float sens_scale)
{
  int64_t nv = pet_image_num_voxels(sens);
  float smax = 0.0f;
  for (int64_t v = 0; v < nv; ++v) smax = fmaxf(smax, sens->data[v]);
  return SENS_REL_EPS * smax * sens_scale;
}

/* x <- x * back / (sens * scale) voxel by voxel; x, back and sens have the same voxel count
 * (the whole image, or aliases of the same slab of each). */
static void em_update(pet_image *x, const float *back, const pet_image *sens, float sens_scale, float thr)
{
  int64_t nv = pet_image_num_voxels(x);
#pragma omp parallel for schedule(static)
  for (int64_t v = 0; v < nv; ++v) {
    float sv = sens->data[v] * sens_scale;
    x->data[v] = sv > thr && sv > 0.0f ? x->data[v] * back[v] / sv : 0.0f;
  }
}

void pet_osem_rank_slab(int32_t nz, int rank, int size, int32_t *z0, int32_t *z1)
{
  *z0 = (int32_t)((int64_t)nz * rank / size);
  *z1 = (int32_t)((int64_t)nz * (rank + 1) / size);
}

/* The slab update's state: each rank's voxel count, this rank's summed back projection and
 * Aliases of its slab of x and of each sensitivity image. */
typedef struct slab_state {
  int64_t *counts;
  int64_t offset;  /* first voxel of this rank's slab */
  float *back;     /* counts[rank] floats (at least 1) */
  pet_image *x;    /* Alias over x's slab, NULL for an empty slab */
  pet_image **sens;
  int32_t nsens;
} slab_state;

static void slab_free(slab_state *sl)
{
  free(sl->counts);
  free(sl->back);
  pet_image_destroy(&sl->x);
  if (sl->sens)
    for (int32_t s = 0; s < sl->nsens; ++s) pet_image_destroy(&sl->sens[s]);
  free(sl->sens);
  memset(sl, 0, sizeof *sl);
}

/* Params of slices [z0, z1) of p: same voxel size, centre moved to the slab's centre. */
static pet_image_params slab_params(const pet_image_params *p, int32_t z0, int32_t z1)
{
  pet_image_params q = *p;
  const float vz = p->length_z / (float)p->nz;
  q.nz = z1 - z0;
  q.length_z = vz * (float)q.nz;
  q.off_z = p->off_z - 0.5f * p->length_z + vz * (0.5f * (float)(z0 + z1));
  return q;
}

static pet_status slab_setup(const pet_reducer *r, pet_image *x, pet_image *const *sens, int32_t nsens,
                             slab_state *sl)
{
  memset(sl, 0, sizeof *sl);
  const pet_image_params *p = &x->params;
  const int64_t plane = (int64_t)p->nx * p->ny;
  sl->counts = malloc((size_t)r->size * sizeof(int64_t));
  sl->sens = calloc((size_t)nsens, sizeof *sl->sens);
  sl->nsens = nsens;
  PET_CHECK(sl->counts && sl->sens, PET_ERR_NOMEM, "osem: out of memory for the slab update");
  int32_t z0 = 0, z1 = 0;
  for (int rk = 0; rk < r->size; ++rk) {
    pet_osem_rank_slab(p->nz, rk, r->size, &z0, &z1);
    sl->counts[rk] = (int64_t)(z1 - z0) * plane;
  }
  pet_osem_rank_slab(p->nz, r->rank, r->size, &z0, &z1);
  sl->offset = (int64_t)z0 * plane;
  sl->back = malloc((size_t)(sl->counts[r->rank] > 0 ? sl->counts[r->rank] : 1) * sizeof(float));
  PET_CHECK(sl->back != NULL, PET_ERR_NOMEM, "osem: out of memory for the slab update");
  if (z1 == z0) return PET_OK; /* more ranks than slices: this rank only takes part */
  const pet_image_params q = slab_params(p, z0, z1);
  PET_TRY(pet_image_create_alias(&sl->x, q, x->data + sl->offset, PET_HOST));
  for (int32_t s = 0; s < nsens; ++s)
    PET_TRY(pet_image_create_alias(&sl->sens[s], q, sens[s]->data + sl->offset, PET_HOST));
  return PET_OK;
}

pet_status pet_osem_run(const pet_osem_data *d, const pet_osem_opts *o, pet_image *const *sens_in,
                        pet_image *x)
{
  PET_TRY(check_data(d, o));
  PET_TRY(pet_image_require(x, PET_HOST));
  pet_status st = PET_OK;
  const int32_t S = o->subsets;
  const int32_t nsens = is_listmode(d) ? 1 : S;
  pet_image **sens_own = NULL, *back = NULL, *xf = NULL;
  pet_image *const *sens = sens_in;
  batch_buf b;
  memset(&b, 0, sizeof b);
  slab_state sl;
  memset(&sl, 0, sizeof sl);

  if (sens == NULL) {
    sens_own = calloc((size_t)nsens, sizeof *sens_own);
    PET_CHECK_GOTO(st, sens_own != NULL, PET_ERR_NOMEM, out, "osem: out of memory");
    for (int32_t s = 0; s < nsens; ++s)
      PET_TRY_GOTO(st, pet_image_create_owned(&sens_own[s], x->params, PET_HOST), out);
    PET_TRY_GOTO(st, pet_osem_sensitivity(d, o, sens_own, nsens), out);
    sens = sens_own;
  }
  for (int32_t s = 0; s < nsens; ++s) {
    PET_TRY_GOTO(st, pet_image_require(sens[s], PET_HOST), out);
    PET_CHECK_GOTO(st, pet_image_params_equal(&sens[s]->params, &x->params), PET_ERR_ARG, out,
                   "osem: sensitivity image %d does not have the image's geometry", s);
  }
  PET_TRY_GOTO(st, pet_image_create_owned(&back, x->params, PET_HOST), out);
  if (o->psf_fwhm_mm > 0) PET_TRY_GOTO(st, pet_image_create_owned(&xf, x->params, PET_HOST), out);
  PET_TRY_GOTO(st, batch_alloc(&b, batch_cap(o)), out);
  const pet_reducer *red = o->reducer;
  const bool slab = o->slab_update && red != NULL && red->size > 1 && red->reduce_scatter_sum != NULL &&
                    red->allgather != NULL && o->psf_fwhm_mm <= 0;
  if (slab) st = slab_setup(red, x, sens, nsens, &sl);
  PET_TRY_GOTO(st, agree(red, st), out);

  const double t_start = now_s();
  int done_subsets = 0;
  const int total_subsets = o->iterations * S - (o->start_iteration * S + o->start_subset);
  for (int32_t it = o->start_iteration; it < o->iterations; ++it) {
    for (int32_t s = (it == o->start_iteration ? o->start_subset : 0); s < S; ++s) {
      if (o->should_stop && o->should_stop(o->cb_ctx)) {
        if (o->on_interrupt) PET_TRY_GOTO(st, o->on_interrupt(o->cb_ctx, it, s, x), out);
        st = PET_ERR_INTERRUPTED;
        goto out;
      }
      double t0 = now_s();
      int64_t lors = 0;
      const pet_image *fwd_img = x;
      if (xf) {
        PET_TRY_GOTO(st, pet_image_copy(xf, x), out);
        PET_TRY_GOTO(st, pet_image_gaussian_blur(xf, o->psf_fwhm_mm), out);
        fwd_img = xf;
      }
      PET_TRY_GOTO(st, pet_image_fill(back, 0.0f), out);
      st = ratio_back(d, o, S, s, fwd_img, &b, back, &lors);
      const double t_proj = now_s();
      PET_TRY_GOTO(st, agree(red, st), out);
      const int32_t si = is_listmode(d) ? 0 : s;
      const float scale = is_listmode(d) ? 1.0f / (float)S : 1.0f;
      const float thr = sens_threshold(sens[si], scale);
      double t_red, t_upd, t_gather;
      if (slab) {
        /* each rank gets the sum only over its z-slab and updates that slab of x (an Alias
         * of x's memory), then the slabs are gathered back into every rank's x */
        PET_TRY_GOTO(st, red->reduce_scatter_sum(red->ctx, back->data, sl.back, sl.counts), out);
        t_red = now_s();
        if (sl.x) em_update(sl.x, sl.back, sl.sens[si], scale, thr);
        t_upd = now_s();
        PET_TRY_GOTO(st, red->allgather(red->ctx, x->data, sl.counts), out);
        t_gather = now_s();
      } else {
        PET_TRY_GOTO(st, reduce(red, back->data, pet_image_num_voxels(back)), out);
        t_red = now_s();
        if (o->psf_fwhm_mm > 0) PET_TRY_GOTO(st, pet_image_gaussian_blur(back, o->psf_fwhm_mm), out);
        em_update(x, back->data, sens[si], scale, thr);
        t_upd = t_gather = now_s();
      }
      ++done_subsets;
      if (o->on_subset) {
        pet_osem_progress p;
        p.iteration = it + 1;
        p.num_iterations = o->iterations;
        p.subset = s + 1;
        p.num_subsets = S;
        p.seconds = now_s() - t0;
        p.elapsed = now_s() - t_start;
        p.eta = p.elapsed / done_subsets * (total_subsets - done_subsets);
        p.lors = lors;
        p.project_s = t_proj - t0;
        p.reduce_s = t_red - t_proj;
        p.update_s = t_upd - t_red;
        p.gather_s = t_gather - t_upd;
        o->on_subset(o->cb_ctx, &p);
      }
    }
    if (o->on_iteration) PET_TRY_GOTO(st, o->on_iteration(o->cb_ctx, it + 1, x), out);
  }
out:
  slab_free(&sl);
  batch_free(&b);
  pet_image_destroy(&back);
  pet_image_destroy(&xf);
  if (sens_own) {
    for (int32_t s = 0; s < nsens; ++s) pet_image_destroy(&sens_own[s]);
    free(sens_own);
  }
  return st;
}

pet_status pet_osem_forward_model(const pet_osem_data *d, const pet_osem_opts *o, const pet_image *x,
                                  float *out)
{
  PET_TRY(check_data(d, o));
  PET_CHECK(!is_listmode(d), PET_ERR_ARG, "osem: the forward model is for histograms");
  PET_TRY(pet_image_require(x, PET_HOST));
  PET_CHECK(out != NULL, PET_ERR_ARG, "osem: NULL output");
  pet_status st = PET_OK;
  pet_image *xf = NULL;
  const pet_image *img = x;
  pet_projector_params pp = o->proj;
  pp.tof = 0;
  if (o->psf_fwhm_mm > 0) {
    PET_TRY_GOTO(st, pet_image_create_owned(&xf, x->params, PET_HOST), done);
    PET_TRY_GOTO(st, pet_image_copy(xf, x), done);
    PET_TRY_GOTO(st, pet_image_gaussian_blur(xf, o->psf_fwhm_mm), done);
    img = xf;
  }
  const int64_t nb = d->layout->num_bins;
  PET_TRY_GOTO(st, pet_histo_project_fwd_cpu(d->layout, d->scanner, &pp, img, 0, nb, out), done);
#pragma omp parallel for schedule(static)
  for (int64_t bin = 0; bin < nb; ++bin) {
    float m = d->mult ? d->mult[bin] : 1.0f;
    float a = d->add ? d->add[bin] : 0.0f;
    out[bin] = m * out[bin] + a;
  }
done:
  pet_image_destroy(&xf);
  return st;
}

pet_status pet_osem_loglik(const pet_osem_data *d, const pet_osem_opts *o, const pet_image *x,
                           double *loglik)
{
  PET_CHECK(loglik != NULL, PET_ERR_ARG, "osem: NULL output");
  PET_TRY(check_data(d, o));
  PET_CHECK(!is_listmode(d), PET_ERR_ARG, "osem: log-likelihood is computed for histograms");
  const int64_t nb = d->layout->num_bins;
  float *ybar = malloc((size_t)nb * sizeof(float));
  PET_CHECK(ybar != NULL, PET_ERR_NOMEM, "osem: out of memory for %lld bins", (long long)nb);
  pet_status st = pet_osem_forward_model(d, o, x, ybar);
  double sum = 0.0;
  if (st == PET_OK) {
    const float *y = d->histogram->data;
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (int64_t i = 0; i < nb; ++i) {
      double yb = ybar[i];
      if (yb > 0.0) sum += (double)y[i] * log(yb) - yb;
    }
  }
  free(ybar);
  *loglik = sum;
  return st;
}

/* 1D Gaussian taps for sigma in voxels, truncated at 3 sigma, normalised to 1. */
static int gauss_taps(float sigma_vox, float *taps, int max_half)
{
  int half = (int)ceilf(3.0f * sigma_vox);
  if (half > max_half) half = max_half;
  if (half < 1 || sigma_vox <= 0.0f) {
    taps[0] = 1.0f;
    return 0;
  }
  double sum = 0.0;
  for (int i = -half; i <= half; ++i) {
    taps[i + half] = expf(-0.5f * (float)(i * i) / (sigma_vox * sigma_vox));
    sum += taps[i + half];
  }
  for (int i = 0; i <= 2 * half; ++i) taps[i] = (float)(taps[i] / sum);
  return half;
}

/* Blurs along one axis (stride, length n, count of lines). Zero outside the image; the
 * kernel is symmetric, so the blur is its own adjoint (needed for A^T = G A'^T).
 * `scratch` holds n floats per OpenMP thread. */
static void blur_axis(float *data, int64_t n, int64_t stride, int64_t inner, int64_t outer,
                      const float *taps, int half, float *scratch)
{
#pragma omp parallel
  {
    float *line = scratch + (size_t)omp_get_thread_num() * (size_t)n;
#pragma omp for collapse(2) schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t in = 0; in < inner; ++in) {
        float *base = data + o * n * stride + in;
        for (int64_t i = 0; i < n; ++i) line[i] = base[i * stride];
        for (int64_t i = 0; i < n; ++i) {
          float acc = 0.0f;
          for (int t = -half; t <= half; ++t) {
            int64_t j = i + t;
            if (j >= 0 && j < n) acc += taps[t + half] * line[j];
          }
          base[i * stride] = acc;
        }
      }
    }
  }
}

pet_status pet_image_gaussian_blur(pet_image *img, float fwhm_mm)
{
  PET_TRY(pet_image_require(img, PET_HOST));
  PET_CHECK(fwhm_mm >= 0.0f && isfinite(fwhm_mm), PET_ERR_ARG, "psf: FWHM must be >= 0 mm");
  if (fwhm_mm == 0.0f) return PET_OK;
  const pet_image_params *p = &img->params;
  const float sig_mm = fwhm_mm / 2.35482f;
  int64_t nmax = p->nx > p->ny ? p->nx : p->ny;
  if (p->nz > nmax) nmax = p->nz;
  float *scratch = malloc((size_t)omp_get_max_threads() * (size_t)nmax * sizeof(float));
  PET_CHECK(scratch != NULL, PET_ERR_NOMEM, "psf: out of memory");
  float taps[257];
  int h;
  h = gauss_taps(sig_mm / pet_image_vx(p), taps, 128);
  if (h > 0) blur_axis(img->data, p->nx, 1, 1, (int64_t)p->ny * p->nz, taps, h, scratch);
  h = gauss_taps(sig_mm / pet_image_vy(p), taps, 128);
  if (h > 0) blur_axis(img->data, p->ny, p->nx, p->nx, p->nz, taps, h, scratch);
  h = gauss_taps(sig_mm / pet_image_vz(p), taps, 128);
  if (h > 0) blur_axis(img->data, p->nz, (int64_t)p->nx * p->ny, (int64_t)p->nx * p->ny, 1, taps, h, scratch);
  free(scratch);
  return PET_OK;
}
