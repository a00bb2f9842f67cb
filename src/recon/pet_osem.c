/* petrel: THE OSEM loop. One loop for every backend (CPU: pet_osem_cpu.c, GPU:
 * gpu/pet_gpu_osem.cu) and every layout of ranks: the plan (pet_plan.h) says which items of
 * each subset this rank projects and which image slab it updates, the backend projects them
 * into its back projection, the reducer sums it over ranks once per subset (allreduce, or
 * reduce-scatter to slabs + allgather), and each rank updates its slab of the image through
 * an Alias of it. Resume, interrupts, progress and the division guards live here only. */
#include "pet_osem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "pet_fov.h"
#include "pet_gauss_kernel.h"
#include "pet_lm_window.h"
#include "pet_project_batch.h"
#include "pet_sens_sym.h"

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
  o.algorithm = PET_OSEM_ALG_OSEM;
  o.prior = pet_prior_params_default();
  o.relaxation = 1.0f;
  o.relaxation_eta = 0.1f;
  return o;
}

/* Largest batch of a device backend (items). */
#define PET_OSEM_DEVICE_MAX_BATCH ((int64_t)1 << 24)

static bool is_listmode(const pet_osem_data *d) { return pet_osem_data_is_listmode(d); }

static int64_t lm_count(const pet_osem_data *d)
{
  return d->lm_count < 0 ? pet_osem_data_num_events(d) : d->lm_count;
}

int64_t pet_osem_data_size(const pet_osem_data *d)
{
  if (is_listmode(d)) return lm_count(d);
  return d->layout->num_bins;
}

/* The algorithm and its prior. */
static pet_status check_regularised(const pet_osem_opts *o)
{
  PET_CHECK((unsigned)o->algorithm <= PET_OSEM_ALG_BSREM, PET_ERR_CONFIG,
            "osem: algorithm must be osem, osl or bsrem (got %d)", (int)o->algorithm);
  PET_TRY(pet_prior_params_check(&o->prior));
  PET_CHECK(o->algorithm != PET_OSEM_ALG_OSEM || o->prior.kind == PET_PRIOR_NONE || o->prior.beta == 0.0f,
            PET_ERR_CONFIG, "osem: prior \"%s\" with beta %g needs algorithm osl or bsrem (algorithm is osem)",
            pet_prior_kind_name(o->prior.kind), (double)o->prior.beta);
  if (o->algorithm == PET_OSEM_ALG_BSREM) {
    PET_CHECK(isfinite(o->relaxation) && o->relaxation > 0.0f, PET_ERR_CONFIG,
              "osem: bsrem relaxation must be finite and > 0 (got %g)", (double)o->relaxation);
    PET_CHECK(isfinite(o->relaxation_eta) && o->relaxation_eta >= 0.0f, PET_ERR_CONFIG,
              "osem: bsrem relaxation_eta must be finite and >= 0 (got %g)", (double)o->relaxation_eta);
  }
  return PET_OK;
}

/* need_data: a reconstruction needs exactly one of a histogram and a list-mode; a sensitivity
 * needs only the scanner, the layout and the factors (and ignores TOF). */
static pet_status check(const pet_osem_data *d, const pet_osem_opts *o, bool need_data)
{
  PET_CHECK(d != NULL && o != NULL, PET_ERR_ARG, "osem: NULL data or options");
  PET_CHECK(d->scanner != NULL && d->layout != NULL, PET_ERR_ARG, "osem: scanner and bin layout required");
  PET_CHECK((d->histogram != NULL) + (d->listmode != NULL) + (d->lm_source != NULL) <= 1, PET_ERR_ARG,
            "osem: give one of a histogram, a list-mode and a list-mode source, not several");
  PET_CHECK(!need_data || d->histogram || is_listmode(d), PET_ERR_ARG,
            "osem: give exactly one of a histogram and a list-mode");
  if (d->lm_source) {
    PET_CHECK(d->lm_source->read != NULL && d->lm_source->num_events >= 0, PET_ERR_ARG,
              "osem: the list-mode source has no reader");
    PET_CHECK(o->lm_window_events >= 0, PET_ERR_CONFIG, "osem: lm_window_events must be >= 0 (got %lld)",
              (long long)o->lm_window_events);
    PET_CHECK(d->lm_count < 0 || (d->lm_first >= 0 && d->lm_first + d->lm_count <= d->lm_source->num_events),
              PET_ERR_ARG, "osem: list-mode range [%lld, +%lld) outside the %lld events of %s",
              (long long)d->lm_first, (long long)d->lm_count, (long long)d->lm_source->num_events,
              d->lm_source->name ? d->lm_source->name : "the source");
  }
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
  PET_CHECK(!need_data || !o->proj.tof ||
                (d->listmode ? d->listmode->has_tof : d->lm_source && d->lm_source->has_tof), PET_ERR_CONFIG,
            "osem: TOF needs list-mode data with TOF values");
  PET_CHECK(o->psf_fwhm_mm >= 0.0f && isfinite(o->psf_fwhm_mm), PET_ERR_CONFIG,
            "osem: psf_fwhm_mm must be >= 0");
  PET_TRY(check_regularised(o));
  /* a TOF histogram is projected with its own TOF bins; any other data with none */
  const int32_t nt = d->histogram ? d->histogram->num_tof_bins : 0;
  if (need_data || d->histogram) {
    PET_CHECK(o->proj.num_tof_bins == nt, PET_ERR_CONFIG,
              "osem: the projector has num_tof_bins = %d but the data has %d TOF bins"
              " (numTOFBins)",
              (int)o->proj.num_tof_bins, (int)nt);
    PET_CHECK(nt == 0 || fabsf(o->proj.tof_bin_width_ps - d->histogram->tof_bin_width_ps) <=
                             1e-6f * d->histogram->tof_bin_width_ps,
              PET_ERR_CONFIG,
              "osem: the projector's tof_bin_width_ps %g differs from the data's %g (tofBinWidth_ps)",
              (double)o->proj.tof_bin_width_ps, (double)(nt ? d->histogram->tof_bin_width_ps : 0.0f));
  }
  PET_CHECK(nt == 0 || !d->lm_add, PET_ERR_ARG, "osem: lm_add is for list-mode data");
  return pet_projector_params_check(&o->proj);
}

static pet_status check_data(const pet_osem_data *d, const pet_osem_opts *o) { return check(d, o, true); }

static const pet_osem_backend_ops *backend_of(const pet_osem_opts *o);

pet_status pet_osem_check(const pet_osem_data *d, const pet_osem_opts *o)
{
  PET_TRY(check_data(d, o));
  const pet_osem_backend_ops *ops = backend_of(o);
  PET_CHECK(ops != NULL, PET_ERR_UNSUPPORTED, "osem: this petrel build has no CUDA support (rebuild with -DPET_ENABLE_CUDA=ON)");
  PET_CHECK(o->algorithm == PET_OSEM_ALG_OSEM || (ops->prior_grad && ops->map_update), PET_ERR_UNSUPPORTED,
            "osem: the %s backend has no %s update", ops->name, pet_osem_algorithm_name(o->algorithm));
  return ops->check(d, o);
}


static const pet_osem_backend_ops *backend_of(const pet_osem_opts *o) 
{
  return o->gpu ? pet_osem_gpu_backend() : pet_osem_cpu_backend();
}

/* One run's state: the backend, the plan, and the image buffers in the backend's space. */
typedef struct engine {
  const pet_osem_backend_ops *ops;
  void *be;
  pet_plan plan;
  pet_image_params g;
  int32_t nsens;
  pet_image **sens;     /* nsens images (backend space) */
  bool *sens_owned;     /* sens[s] made here (else the caller's) */
  float *smax;          /* largest value of each sensitivity image */
  pet_image *x, *xf, *back, *slab_back; /* x: the caller's image when in the backend's space */
  pet_image *grad;      /* the prior's gradient on the voxels this rank updates (osl, bsrem) */
  bool x_owned;
  pet_image *x_slab;    /* Alias of this rank's slab of x (slab update), NULL for an empty slab */
  pet_image **sens_slab;
  /* streamed list-mode: the backend sees dw, whose listmode is win, an Alias of the window
   * being projected (lw holds the two windows) */
  double read_wait; /* this subset's seconds blocked on the list-mode reader */
  bool streamed;
  pet_osem_data dw;
  pet_listmode win;
  pet_lm_window lw;
} engine;

static void engine_free(engine *e)
{
  if (e->ops && e->be) {
    e->ops->sync(e->be);
    e->ops->destroy(e->be);
  }
  if (e->streamed) pet_lm_window_free(&e->lw);
  for (int32_t s = 0; e->sens && s < e->nsens; ++s) {
    if (e->sens_owned[s]) pet_image_destroy(&e->sens[s]);
    if (e->sens_slab) pet_image_destroy(&e->sens_slab[s]);
  }
  free(e->sens);
  free(e->sens_owned);
  free(e->sens_slab);
  free(e->smax);
  if (e->x_owned) pet_image_destroy(&e->x);
  pet_image_destroy(&e->xf);
  pet_image_destroy(&e->back);
  pet_image_destroy(&e->slab_back);
  pet_image_destroy(&e->grad);
  pet_image_destroy(&e->x_slab);
  pet_plan_free(&e->plan);
  memset(e, 0, sizeof *e);
}

/* Backend, plan and the sensitivity slots for (d, o) on grid g. */
static pet_status engine_init(engine *e, const pet_osem_data *d, const pet_osem_opts *o,
                              const pet_image_params *g, bool need_data)
{
  memset(e, 0, sizeof *e);
  PET_TRY(check(d, o, need_data));
  e->ops = backend_of(o);
  PET_CHECK(e->ops != NULL, PET_ERR_UNSUPPORTED,
            "osem: this petrel build has no CUDA support (rebuild with -DPET_ENABLE_CUDA=ON)");
  e->g = *g;
  int64_t budget = 0;
  PET_TRY(e->ops->budget(o, &budget));
  if (d->lm_source && need_data) {
    /* the backend sees an in-memory list-mode: the window being projected */
    e->streamed = true;
    e->dw = *d;
    e->dw.lm_source = NULL;
    e->dw.listmode = &e->win;
    e->dw.lm_first = 0;
    e->dw.lm_count = -1;
    e->win.has_tof = o->proj.tof != 0; /* TOF values are read only when used */
    e->win.ownership = PET_ALIAS;
  }
  const pet_osem_data *db = e->streamed ? &e->dw : d; /* what the backend sees */
  PET_TRY(pet_plan_make(&e->plan, d, o, g, e->ops->bytes_per_item(db, o), budget));
  if (e->streamed) {
    /* windows of whole batches (so that the backend's batches are those of the in-memory
     * list-mode, and so is the image), or one batch cut to the window when a batch is larger */
    const int64_t want = o->lm_window_events > 0 ? o->lm_window_events : ((int64_t)1 << 24);
    const int64_t cap = e->plan.batch_items;
    int64_t W = want >= cap ? (want / cap) * cap : want;
    int64_t most = 0; /* the largest share of a subset: no window need be larger */
    for (int32_t k = 0; k < e->plan.subsets; ++k)
      if (e->plan.hi[k] - e->plan.lo[k] > most) most = e->plan.hi[k] - e->plan.lo[k];
    if (W > most) W = most;
    if (W < 1) W = 1;
    PET_TRY(pet_lm_window_init(&e->lw, d->lm_source, d->scanner, W, e->win.has_tof));
    e->win.d1 = e->lw.d1[0];
    e->win.d2 = e->lw.d2[0];
    e->win.tof_ps = e->lw.tof_ps[0];
    e->win.time_ms = e->lw.d1[0]; /* not read by the backends; bound so that the Alias is complete */
  }
  PET_TRY(e->ops->check(db, o));
  PET_CHECK(o->algorithm == PET_OSEM_ALG_OSEM || (e->ops->prior_grad && e->ops->map_update), PET_ERR_UNSUPPORTED,
            "osem: the %s backend has no %s update", e->ops->name, pet_osem_algorithm_name(o->algorithm));
  e->nsens = e->plan.sens_subsets;
  e->sens = calloc((size_t)e->nsens, sizeof *e->sens);
  e->sens_owned = calloc((size_t)e->nsens, sizeof *e->sens_owned);
  e->smax = calloc((size_t)e->nsens, sizeof *e->smax);
  PET_CHECK(e->sens && e->sens_owned && e->smax, PET_ERR_NOMEM, "osem: out of memory");
  if (e->streamed && e->lw.cap < e->plan.batch_items) e->plan.batch_items = e->lw.cap;
  /* a device backend stages each batch through pinned host memory while the previous one is
   * projected: batches of all the data (a large budget) would pin gigabytes and overlap
   * nothing (2e8 TOF events on an H200: 4.3 s an iteration in one batch, 1.2 s in 2^24) */
  if (e->ops->space == PET_DEVICE && e->plan.batch_items > PET_OSEM_DEVICE_MAX_BATCH)
    e->plan.batch_items = PET_OSEM_DEVICE_MAX_BATCH;
  return e->ops->create(&e->be, db, o, g, e->plan.batch_items);
}

/* project_subset over a streamed list-mode: window after window of this rank's events of
 * subset s, the next one read (and its ids checked) in a second thread while this one is
 * projected. The backend sees window events as items [w, w + n) with ev_base -w, so its
 * batches start where they would in memory. */
static pet_status project_streamed(engine *e, const pet_osem_data *d, int32_t S, int32_t s, const pet_image *xf,
                                   int64_t *lors)
{
  const pet_plan *p = &e->plan;
  const int64_t lo = p->lo[s], hi = p->hi[s], base = p->ev_base[s], W = e->lw.cap;
  if (hi <= lo) return PET_OK;
  PET_TRY(pet_lm_window_start(&e->lw, 0, base + lo, hi - lo < W ? hi - lo : W));
  pet_status st = PET_OK;
  int b = 0;
  for (int64_t w = lo; w < hi; w += W, b ^= 1) {
    const int64_t n = hi - w < W ? hi - w : W;
    const double t0 = now_s();
    st = pet_lm_window_wait(&e->lw);
    e->read_wait += now_s() - t0;
    if (st != PET_OK) break;
    if (w + W < hi) {
      const int64_t n2 = hi - w - W < W ? hi - w - W : W;
      st = pet_lm_window_start(&e->lw, b ^ 1, base + w + W, n2);
      if (st != PET_OK) break;
    }
    e->win.num_events = n;
    e->win.d1 = e->lw.d1[b];
    e->win.d2 = e->lw.d2[b];
    e->win.tof_ps = e->lw.tof_ps[b];
    e->dw.lm_add = d->lm_add ? d->lm_add + base + w : NULL;
    st = e->ops->project_subset(e->be, S, s, w, w + n, -w, xf, e->back, lors);
    if (st != PET_OK) break;
  }
  if (e->lw.running) {
    pet_status st2 = pet_lm_window_wait(&e->lw);
    if (st == PET_OK) st = st2;
  }
  return st;
}

/* A sensitivity image of the backend's space for slot s: the caller's when it is already
 * there (host = host), else one made here. */
static pet_status sens_slot(engine *e, int32_t s, pet_image *caller)
{
  if (caller && caller->space == e->ops->space) {
    e->sens[s] = caller;
    return PET_OK;
  }
  e->sens_owned[s] = true;
  return pet_image_create_owned(&e->sens[s], e->g, e->ops->space);
}

/* Back projection of this rank's share of sensitivity subset s (brute force: every bin),
 * polling should_stop between chunks (as many on every rank: chunks of the largest share)
 * and once before the first one of a later subset. */
static pet_status sens_brute(engine *e, const pet_osem_data *d, const pet_osem_opts *o, int32_t s)
{
  const pet_plan *p = &e->plan;
  const pet_histo_layout *L = d->layout;
  const int64_t lo = p->sens_lo[s], hi = p->sens_hi[s];
  const int64_t total = pet_histo_subset_size(L->num_phi, L->num_r, L->num_zbin, e->nsens, s);
  const int64_t nchunks = pet_sens_poll_chunks(o, total, p->size > 1 ? p->size : 1);
  pet_status st = e->ops->fill(e->be, e->sens[s], 0.0f);
  for (int64_t c = 0; c < nchunks; ++c) {
    /* a long pass (every bin of the scanner) stops between its chunks; should_stop is
     * collective, called at the same points on every rank */
    if ((c > 0 || s > 0) && o->should_stop && o->should_stop(o->cb_ctx))
      return PET_ERROR(PET_ERR_INTERRUPTED,
                       "osem: stopped during the sensitivity pass (subset %d of %d, after %lld of %lld chunks)", s + 1,
                       e->nsens, (long long)c, (long long)nchunks);
    const int64_t a = lo + (hi - lo) * c / nchunks, b = lo + (hi - lo) * (c + 1) / nchunks;
    if (st == PET_OK && b > a) st = e->ops->sens_subset(e->be, e->nsens, s, a, b, e->sens[s]);
    if (st == PET_OK) st = e->ops->sync(e->be);
  }
  return pet_reducer_agree(o->reducer, st);
}

/* A_s^T m for every sensitivity slot (this rank's share, summed over ranks, PSF applied):
 * by the scanner's axial symmetry when it applies (pet_sens_sym.h), else bin by bin. */
static pet_status compute_sens(engine *e, const pet_osem_data *d, const pet_osem_opts *o)
{
  const bool sym = pet_sens_sym_applies(d, o, e->ops, e->nsens, NULL, 0);
  for (int32_t s = 0; s < e->nsens; ++s) {
    if (sym) {
      PET_TRY(pet_sens_sym_compute(e->ops, e->be, d, o, e->sens[s], NULL));
    } else {
      PET_TRY(sens_brute(e, d, o, s));
      PET_TRY(pet_reducer_sum(o->reducer, e->sens[s]->data, pet_image_num_voxels(e->sens[s]), e->ops->space));
    }
    if (o->psf_fwhm_mm > 0) PET_TRY(e->ops->blur(e->be, e->sens[s], o->psf_fwhm_mm));
    /* as YRT-PET: voxels whose centre is outside the FOV cylinder have no sensitivity and stay 0 */
    if (o->proj.fov_radius_mm > 0) {
      PET_TRY(e->ops->sync(e->be));
      PET_TRY(pet_image_mask_fov(e->sens[s], o->proj.fov_radius_mm));
    }
    PET_TRY(e->ops->max(e->be, e->sens[s], &e->smax[s]));
  }
  return PET_OK;
}

pet_status pet_osem_sensitivity(const pet_osem_data *d, const pet_osem_opts *o, pet_image **sens,
                                int32_t num_sens)
{
  PET_CHECK(sens != NULL && num_sens >= 1 && sens[0] != NULL, PET_ERR_ARG, "osem: no sensitivity images given");
  PET_CHECK(d != NULL && o != NULL, PET_ERR_ARG, "osem: NULL data or options");
  const int32_t S = is_listmode(d) ? 1 : o->subsets;
  PET_CHECK(num_sens == S, PET_ERR_ARG, "osem: %d sensitivity images given, %d expected", num_sens, S);
  for (int32_t s = 0; s < num_sens; ++s) {
    PET_TRY(pet_image_require(sens[s], PET_HOST));
    PET_CHECK(pet_image_params_equal(&sens[s]->params, &sens[0]->params), PET_ERR_ARG,
              "osem: sensitivity image %d is not on the grid of image 0", s);
  }
  engine e;
  pet_status st = engine_init(&e, d, o, &sens[0]->params, false);
  for (int32_t s = 0; st == PET_OK && s < e.nsens; ++s) st = sens_slot(&e, s, sens[s]);
  if (st == PET_OK) st = compute_sens(&e, d, o);
  for (int32_t s = 0; st == PET_OK && s < e.nsens; ++s)
    if (e.sens_owned[s]) st = pet_image_copy(sens[s], e.sens[s]);
  engine_free(&e);
  return st;
}

static pet_status check_sens_set(const pet_image *full, pet_image *const *sens, int32_t n)
{
  PET_CHECK(sens != NULL && n >= 1, PET_ERR_ARG, "sensitivity: no subset images");
  PET_TRY(pet_image_require(full, PET_HOST));
  for (int32_t s = 0; s < n; ++s) {
    PET_TRY(pet_image_require(sens[s], PET_HOST));
    PET_CHECK(pet_image_params_equal(&sens[s]->params, &full->params), PET_ERR_ARG,
              "sensitivity: subset image %d is not on the grid of the whole one", s);
  }
  return PET_OK;
}

pet_status pet_osem_split_sensitivity(const pet_image *full, pet_image *const *sens, int32_t n)
{
  PET_TRY(check_sens_set(full, sens, n));
  const int64_t nv = pet_image_num_voxels(full);
  for (int32_t s = 0; s < n; ++s)
    for (int64_t v = 0; v < nv; ++v) sens[s]->data[v] = full->data[v] / (float)n;
  return PET_OK;
}

pet_status pet_osem_sum_sensitivity(pet_image *const *sens, int32_t n, pet_image *full)
{
  PET_TRY(check_sens_set(full, sens, n));
  const int64_t nv = pet_image_num_voxels(full);
  for (int64_t v = 0; v < nv; ++v) {
    float sum = 0.0f;
    for (int32_t s = 0; s < n; ++s) sum += sens[s]->data[v];
    full->data[v] = sum;
  }
  return PET_OK;
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

/* The slab update: this rank's summed back projection, and Aliases of its slab of x and of
 * each sensitivity image (in the backend's space). */
static pet_status slab_setup(engine *e)
{
  const pet_plan *p = &e->plan;
  const pet_image_params q = slab_params(&e->g, p->z0, p->z1);
  if (p->z1 == p->z0) { /* more ranks than slices: this rank only takes part */
    pet_image_params one = e->g;
    one.nx = one.ny = one.nz = 1;
    return pet_image_create_owned(&e->slab_back, one, e->ops->space);
  }
  PET_TRY(pet_image_create_owned(&e->slab_back, q, e->ops->space));
  PET_TRY(pet_image_create_alias(&e->x_slab, q, e->x->data + p->slab_offset, e->ops->space));
  e->sens_slab = calloc((size_t)e->nsens, sizeof *e->sens_slab);
  PET_CHECK(e->sens_slab != NULL, PET_ERR_NOMEM, "osem: out of memory for the slab update");
  for (int32_t s = 0; s < e->nsens; ++s)
    PET_TRY(pet_image_create_alias(&e->sens_slab[s], q, e->sens[s]->data + p->slab_offset, e->ops->space));
  return PET_OK;
}

static bool prior_active(const pet_osem_opts *o)
{
  return o->algorithm != PET_OSEM_ALG_OSEM && o->prior.kind != PET_PRIOR_NONE && o->prior.beta > 0.0f;
}

/* The update of xu (x, or this rank's slab of it: slices [z0, z1)) from its summed back
 * projection: EM, or the OSL / BSREM update with the prior's gradient at the current x (the
 * whole image, which every rank holds). */
static pet_status update_image(engine *e, const pet_osem_opts *o, int32_t it, pet_image *xu, const float *back,
                               const pet_image *sens, float scale, float thr, int32_t z0, int32_t z1)
{
  const pet_osem_backend_ops *ops = e->ops;
  if (o->algorithm == PET_OSEM_ALG_OSEM) return ops->em_update(e->be, xu, back, sens, scale, thr);
  const float *g = NULL;
  if (e->grad) {
    PET_TRY(ops->prior_grad(e->be, &o->prior, e->x, z0, z1, e->grad->data));
    g = e->grad->data;
  }
  pet_map_step step;
  step.algorithm = o->algorithm;
  step.grad_scale = 1.0f / (float)o->subsets;
  step.lambda = o->relaxation / (1.0f + o->relaxation_eta * (float)it);
  step.floor_value = 0.0f;
  if (o->algorithm == PET_OSEM_ALG_BSREM) {
    /* relative to the whole current image: the same bound on every rank and after a resume */
    float xmax = 0.0f;
    PET_TRY(ops->max(e->be, e->x, &xmax));
    step.floor_value = PET_BSREM_REL_FLOOR * xmax;
  }
  return ops->map_update(e->be, &step, xu, back, g, sens, scale, thr);
}

/* The caller's x up to date with the backend's (for callbacks and the result). */
static pet_status sync_x(engine *e, pet_image *x)
{
  PET_TRY(e->ops->sync(e->be));
  return e->x_owned ? pet_image_copy(x, e->x) : PET_OK;
}

pet_status pet_osem_run(const pet_osem_data *d, const pet_osem_opts *o, pet_image *const *sens_in,
                        pet_image *x)
{
  PET_CHECK(x != NULL, PET_ERR_ARG, "osem: NULL image");
  PET_CHECK(x->data != NULL, PET_ERR_STATE, "osem: image used before allocate()/bind()");
  engine e;
  pet_status st = engine_init(&e, d, o, &x->params, true);
  const pet_reducer *red = o ? o->reducer : NULL;
  const int32_t S = o ? o->subsets : 0;
  PET_TRY_GOTO(st, st, out);
  const pet_osem_backend_ops *ops = e.ops;
  const pet_plan *plan = &e.plan;
  if (x->space == ops->space) {
    e.x = x;
  } else {
    PET_CHECK_GOTO(st, ops->space == PET_DEVICE, PET_ERR_STATE, out,
                   "osem: the image is in device memory; reconstruct it with the GPU backend");
    e.x_owned = true;
    PET_TRY_GOTO(st, pet_image_create_owned(&e.x, x->params, ops->space), out);
    PET_TRY_GOTO(st, pet_image_copy(e.x, x), out);
  }
  /* sensitivity: given (host images), or computed here */
  for (int32_t s = 0; s < e.nsens; ++s) {
    pet_image *given = sens_in ? sens_in[s] : NULL;
    if (given) {
      PET_TRY_GOTO(st, pet_image_require(given, PET_HOST), out);
      PET_CHECK_GOTO(st, pet_image_params_equal(&given->params, &x->params), PET_ERR_ARG, out,
                     "osem: sensitivity image %d does not have the image's geometry", s);
    }
    PET_TRY_GOTO(st, sens_slot(&e, s, given), out);
  }
  if (sens_in) {
    for (int32_t s = 0; s < e.nsens; ++s) {
      if (e.sens_owned[s]) PET_TRY_GOTO(st, pet_image_copy(e.sens[s], sens_in[s]), out);
      PET_TRY_GOTO(st, ops->max(e.be, e.sens[s], &e.smax[s]), out);
      PET_CHECK_GOTO(st, e.smax[s] > 0.0f, PET_ERR_ARG, out, "osem: the sensitivity image %d given is zero everywhere", s);
    }
  } else {
    st = compute_sens(&e, d, o);
    if (st == PET_ERR_INTERRUPTED && o->on_interrupt) {
      /* nothing done yet: the position to resume from is the start */
      pet_status st2 = o->on_interrupt(o->cb_ctx, o->start_iteration, o->start_subset, x);
      if (st2 != PET_OK) st = st2;
    }
    PET_TRY_GOTO(st, st, out);
  }
  PET_TRY_GOTO(st, pet_image_create_owned(&e.back, x->params, ops->space), out);
  if (o->psf_fwhm_mm > 0) PET_TRY_GOTO(st, pet_image_create_owned(&e.xf, x->params, ops->space), out);
  if (plan->slab) st = slab_setup(&e);
  if (st == PET_OK && prior_active(o)) {
    if (!plan->slab)
      st = pet_image_create_owned(&e.grad, x->params, ops->space);
    else if (e.x_slab)
      st = pet_image_create_owned(&e.grad, e.x_slab->params, ops->space);
  }
  PET_TRY_GOTO(st, pet_reducer_agree(red, st), out);

  const double t_start = now_s();
  int done_subsets = 0;
  const int total_subsets = o->iterations * S - (o->start_iteration * S + o->start_subset);
  for (int32_t it = o->start_iteration; it < o->iterations; ++it) {
    for (int32_t s = (it == o->start_iteration ? o->start_subset : 0); s < S; ++s) {
      if (o->should_stop && o->should_stop(o->cb_ctx)) {
        if (o->on_interrupt) {
          PET_TRY_GOTO(st, sync_x(&e, x), out);
          PET_TRY_GOTO(st, o->on_interrupt(o->cb_ctx, it, s, x), out);
        }
        st = PET_ERR_INTERRUPTED;
        goto out;
      }
      const double t0 = now_s();
      int64_t lors = 0;
      const pet_image *fwd_img = e.x;
      if (e.xf) {
        PET_TRY_GOTO(st, ops->copy(e.be, e.xf, e.x), out);
        PET_TRY_GOTO(st, ops->blur(e.be, e.xf, o->psf_fwhm_mm), out);
        fwd_img = e.xf;
      }
      PET_TRY_GOTO(st, ops->fill(e.be, e.back, 0.0f), out);
      e.read_wait = 0.0;
      if (e.streamed)
        st = project_streamed(&e, d, S, s, fwd_img, &lors);
      else
        st = ops->project_subset(e.be, S, s, plan->lo[s], plan->hi[s], plan->ev_base[s], fwd_img, e.back, &lors);
      if (st == PET_OK) st = ops->sync(e.be);
      const double t_proj = now_s();
      PET_TRY_GOTO(st, pet_reducer_agree(red, st), out);
      const int32_t si = is_listmode(d) ? 0 : s;
      const float scale = is_listmode(d) ? 1.0f / (float)S : 1.0f;
      /* relative to the largest sensitivity over the whole image (also when only a slab is
       * updated, so that every rank count gives the same image) */
      const float thr = PET_OSEM_SENS_REL_EPS * e.smax[si] * scale;
      double t_red, t_upd, t_gather;
      if (plan->slab) {
        /* each rank gets the sum only over its z-slab and updates that slab of x (an Alias of
         * x's memory), then the slabs are gathered back into every rank's x */
        PET_TRY_GOTO(st, red->reduce_scatter_sum(red->ctx, e.back->data, e.slab_back->data, plan->slab_counts,
                                                 ops->space), out);
        t_red = now_s();
        if (e.x_slab)
          PET_TRY_GOTO(st, update_image(&e, o, it, e.x_slab, e.slab_back->data, e.sens_slab[si], scale, thr, plan->z0,
                                        plan->z1), out);
        PET_TRY_GOTO(st, ops->sync(e.be), out);
        t_upd = now_s();
        PET_TRY_GOTO(st, red->allgather(red->ctx, e.x->data, plan->slab_counts, ops->space), out);
        t_gather = now_s();
      } else {
        PET_TRY_GOTO(st, pet_reducer_sum(red, e.back->data, pet_image_num_voxels(e.back), ops->space), out);
        t_red = now_s();
        if (o->psf_fwhm_mm > 0) PET_TRY_GOTO(st, ops->blur(e.be, e.back, o->psf_fwhm_mm), out);
        PET_TRY_GOTO(st, update_image(&e, o, it, e.x, e.back->data, e.sens[si], scale, thr, 0, x->params.nz), out);
        PET_TRY_GOTO(st, ops->sync(e.be), out);
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
        p.read_wait_s = e.read_wait;
        o->on_subset(o->cb_ctx, &p);
      }
    }
    if (o->on_iteration) {
      PET_TRY_GOTO(st, sync_x(&e, x), out);
      PET_TRY_GOTO(st, o->on_iteration(o->cb_ctx, it + 1, x), out);
    }
  }
  st = sync_x(&e, x);
out:
  engine_free(&e);
  return st;
}


pet_status pet_osem_forward_model(const pet_osem_data *d, const pet_osem_opts *o, const pet_image *x,
                                  float *out)
{
  PET_TRY(check_data(d, o));
  PET_CHECK(!is_listmode(d), PET_ERR_ARG, "osem: the forward model is for histograms");
  PET_CHECK(!d->histogram || d->histogram->num_tof_bins == 0, PET_ERR_UNSUPPORTED,
            "osem: the forward model of a TOF histogram is not implemented");
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
  PET_CHECK(!d->histogram || d->histogram->num_tof_bins == 0, PET_ERR_UNSUPPORTED,
            "osem: the log-likelihood of a TOF histogram is not implemented");
  PET_TRY(pet_histo_layout_check_array(d->layout, sizeof(float), "osem: log-likelihood"));
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
  h = pet_gauss_taps(sig_mm / pet_image_vx(p), taps, 128);
  if (h > 0) blur_axis(img->data, p->nx, 1, 1, (int64_t)p->ny * p->nz, taps, h, scratch);
  h = pet_gauss_taps(sig_mm / pet_image_vy(p), taps, 128);
  if (h > 0) blur_axis(img->data, p->ny, p->nx, p->nx, p->nz, taps, h, scratch);
  h = pet_gauss_taps(sig_mm / pet_image_vz(p), taps, 128);
  if (h > 0) blur_axis(img->data, p->nz, (int64_t)p->nx * p->ny, (int64_t)p->nx * p->ny, 1, taps, h, scratch);
  free(scratch);
  return PET_OK;
}
