/* One reconstruction job: inputs -> sensitivity -> (resume) -> OSEM, on one process or the
 * ranks of a communicator; the hooks are how a caller sees and steers it. */
#include "pet_job.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pet_comm.h"
#include "pet_gpu.h"
#include "pet_h5.h"
#include "pet_job_inputs.h"
#include "pet_nifti.h"
#include "pet_scatter.h"
#include "pet_sens_sym.h"

pet_job_opts pet_job_opts_default(void)
{
  pet_job_opts o;
  memset(&o, 0, sizeof o);
  o.resume = PET_JOB_RESUME_NO;
  o.gpu_device = -1;
  return o;
}

void pet_job_result_free(pet_job_result *res)
{
  if (res == NULL) return;
  pet_image_destroy(&res->image);
  free(res->scatter);
  memset(res, 0, sizeof *res);
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Collective helpers that also take comm == NULL (one process). */
static pet_status sum_i64(pet_comm *comm, int64_t *v, int64_t n)
{
  return comm ? pet_comm_allreduce_sum_i64(comm, v, n) : PET_OK;
}

static pet_status bcast(pet_comm *comm, void *buf, int64_t bytes)
{
  return comm ? pet_comm_bcast(comm, buf, bytes, 0) : PET_OK;
}

/* --- the sensitivity, with progress ---------------------------------------------------- */

/* pet_osem_sensitivity agrees on a status after every subset, so a reducer that forwards to
 * the real one and counts those calls reports progress without a hook in the OSEM loop. */
typedef struct counting_reducer {
  const pet_reducer *inner;
  const pet_job_hooks *hooks;
  const char *unit;
  int64_t done, total;
  bool report;
} counting_reducer;

static pet_status count_agree(void *ctx, pet_status local)
{
  counting_reducer *c = ctx;
  ++c->done;
  if (c->report && c->hooks && c->hooks->on_progress)
    c->hooks->on_progress(c->hooks->ctx, "sensitivity", c->unit, c->done, c->total);
  return c->inner && c->inner->agree ? c->inner->agree(c->inner->ctx, local) : local;
}

static pet_status count_sum(void *ctx, float *buf, int64_t n, pet_memspace space)
{
  counting_reducer *c = ctx;
  return c->inner && c->inner->allreduce_sum ? c->inner->allreduce_sum(c->inner->ctx, buf, n, space) : PET_OK;
}

enum { SENS_CHUNKS = 8 };

/* Sensitivity-only data (no counts) is computed in chunks (as subsets, whose images sum to the
 * whole A^T m, equal up to float rounding; 8 images of extra memory) so that a long run
 * reports progress too. */
static pet_status sensitivity(const pet_osem_data *d, const pet_osem_opts *o, pet_image **sens, int nsens,
                              const pet_job_hooks *hooks, int rank)
{
  counting_reducer cr;
  memset(&cr, 0, sizeof cr);
  cr.inner = o->reducer;
  cr.hooks = hooks;
  cr.unit = "subsets";
  cr.report = rank == 0;
  pet_reducer r;
  memset(&r, 0, sizeof r);
  r.ctx = &cr;
  r.rank = o->reducer ? o->reducer->rank : 0;
  r.size = o->reducer ? o->reducer->size : 1;
  r.allreduce_sum = count_sum;
  r.agree = count_agree;
  pet_osem_opts oc = *o;
  oc.reducer = &r;
  /* (not when the scanner's axial symmetry gives it in one short pass: pet_sens_sym.h) */
  const bool parts = nsens == 1 && !d->histogram && !pet_osem_data_is_listmode(d);
  const pet_osem_backend_ops *ops = o->gpu ? pet_osem_gpu_backend() : pet_osem_cpu_backend();
  const bool sym = parts && ops && pet_sens_sym_applies(d, o, ops, 1, NULL, 0);
  const bool chunk = parts && !sym;
  if (sym) oc.subsets = 1; /* one image over every bin */
  cr.total = chunk ? SENS_CHUNKS : nsens;
  if (chunk) cr.unit = "parts";
  /* done 0: the step starts (a caller's clock for its ETA) */
  if (cr.report && hooks && hooks->on_progress) hooks->on_progress(hooks->ctx, "sensitivity", cr.unit, 0, cr.total);
  if (!chunk) return pet_osem_sensitivity(d, &oc, sens, nsens);
  pet_image *part[SENS_CHUNKS];
  memset(part, 0, sizeof part);
  pet_status st = PET_OK;
  for (int k = 0; k < SENS_CHUNKS && st == PET_OK; ++k) st = pet_image_create_owned(&part[k], sens[0]->params, PET_HOST);
  oc.subsets = SENS_CHUNKS;
  if (st == PET_OK) st = pet_osem_sensitivity(d, &oc, part, SENS_CHUNKS);
  if (st == PET_OK) {
    const int64_t nv = pet_image_num_voxels(sens[0]);
    float *out = sens[0]->data;
    for (int64_t v = 0; v < nv; ++v) {
      float sum = 0.0f;
      for (int k = 0; k < SENS_CHUNKS; ++k) sum += part[k]->data[v];
      out[v] = sum;
    }
  }
  for (int k = 0; k < SENS_CHUNKS; ++k) pet_image_destroy(&part[k]);
  return st;
}

static void free_sens(pet_image **sens, int nsens)
{
  if (!sens) return;
  for (int s = 0; s < nsens; ++s) pet_image_destroy(&sens[s]);
  free(sens);
}

/* cfg->sensitivity, or computed (and written to cfg->save_sensitivity on rank 0): one image
 * per histogram subset, one for a list-mode or sensitivity-only data. */
static pet_status load_or_compute_sens(const pet_config *cfg, const pet_osem_data *d, const pet_osem_opts *o,
                                       const pet_image_params *ip, const pet_job_hooks *hooks, int rank,
                                       pet_image ***sens_out, int *nsens_out)
{
  const int nsens = pet_osem_data_is_listmode(d) || !d->histogram ? 1 : o->subsets;
  pet_image **sens = calloc((size_t)nsens, sizeof *sens);
  PET_CHECK(sens != NULL, PET_ERR_NOMEM, "out of memory");
  pet_status st = PET_OK;
  *sens_out = sens;
  *nsens_out = nsens;
  if (cfg->sensitivity[0]) {
    /* a loaded sensitivity is the whole A^T m: each histogram subset uses 1/S of it */
    pet_image *full = NULL;
    PET_TRY(pet_job_read_image_checked(cfg->sensitivity, "sensitivity", PET_JOB_IMAGE_NONNEG, &full));
    if (!pet_image_params_equal(&full->params, ip)) {
      pet_image_destroy(&full);
      return PET_ERROR(PET_ERR_CONFIG, "%s: field \"sensitivity\": its grid does not match the image grid",
                       cfg->sensitivity);
    }
    for (int s = 0; s < nsens && st == PET_OK; ++s) st = pet_image_create_owned(&sens[s], *ip, PET_HOST);
    if (st == PET_OK) st = pet_osem_split_sensitivity(full, sens, nsens);
    pet_image_destroy(&full);
    return st;
  }
  for (int s = 0; s < nsens; ++s) PET_TRY(pet_image_create_owned(&sens[s], *ip, PET_HOST));
  PET_TRY(sensitivity(d, o, sens, nsens, hooks, rank));
  if (cfg->save_sensitivity[0] && rank == 0) {
    pet_image *sum = NULL;
    PET_TRY(pet_image_create_owned(&sum, *ip, PET_HOST));
    st = pet_osem_sum_sensitivity(sens, nsens, sum);
    if (st == PET_OK) st = pet_image_write_nifti(sum, cfg->save_sensitivity);
    pet_image_destroy(&sum);
  }
  return st;
}

/* --- what the job shares with its OSEM callbacks ---------------------------------------- */

typedef struct job_ctx {
  const pet_config *cfg;
  const pet_job_hooks *hooks;
  pet_comm *comm;
  const pet_job_inputs *in;
  int rank;
} job_ctx;

static void subset_cb(void *ctx, const pet_osem_progress *p)
{
  job_ctx *c = ctx;
  if (!(c->rank == 0 && c->hooks && c->hooks->on_subset)) return;
  pet_osem_progress q = *p;
  if (c->in && c->in->scatter_estimate && q.num_iterations < c->cfg->iterations) {
    /* a piece of the iterations between two scatter estimates: report the whole run */
    q.eta += (double)(c->cfg->iterations - q.num_iterations) * q.seconds * (double)q.num_subsets;
    q.num_iterations = c->cfg->iterations;
  }
  c->hooks->on_subset(c->hooks->ctx, &q);
}

/* Every rank must stop at the same subset: agree on the wish. */
static bool should_stop(void *ctx)
{
  job_ctx *c = ctx;
  int64_t flag = c->hooks->should_stop(c->hooks->ctx) ? 1 : 0;
  if (sum_i64(c->comm, &flag, 1) != PET_OK) return true;
  return flag > 0;
}

/* Rank 0 writes the checkpoint of position (it, s); agreed. */
static pet_status write_checkpoint(job_ctx *c, int it, int s, const pet_image *x, const char *path)
{
  pet_status st = PET_OK;
  if (c->rank == 0 && path[0]) {
    pet_h5_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    ck.next_iteration = it;
    ck.next_subset = s;
    ck.num_ranks = pet_comm_size(c->comm);
    /* no "checkpoint" field: the data was not hashed at the start; hash it now */
    pet_job_inputs in = *c->in;
    if (!c->cfg->checkpoint[0]) st = pet_job_file_checksum(c->cfg->data, &in.data_bytes, &in.data_checksum);
    pet_job_checkpoint_identity(c->cfg, &in, &ck);
    if (st == PET_OK) st = pet_h5_write_checkpoint(path, x, &ck);
  }
  return pet_comm_agree(c->comm, st);
}

static pet_status on_interrupt(void *ctx, int it, int s, const pet_image *x)
{
  job_ctx *c = ctx;
  char path[PET_CONFIG_PATH_MAX + 16];
  pet_job_checkpoint_path(c->cfg, path, sizeof path);
  PET_TRY(write_checkpoint(c, it, s, x, path));
  if (c->hooks && c->hooks->on_interrupt) c->hooks->on_interrupt(c->hooks->ctx, it, s, path);
  return PET_OK;
}

static pet_status on_iteration(void *ctx, int it, const pet_image *x)
{
  job_ctx *c = ctx;
  if (c->hooks && c->hooks->on_iteration) PET_TRY(pet_comm_agree(c->comm, c->hooks->on_iteration(c->hooks->ctx, it, x)));
  if (c->cfg->save_every > 0 && it % c->cfg->save_every == 0 && it < c->cfg->iterations) {
    PET_TRY(write_checkpoint(c, it, 0, x, c->cfg->checkpoint));
    if (c->cfg->checkpoint[0])
      pet_job_log(c->hooks, c->comm, PET_JOB_INFO, "checkpoint written to %s (next: iteration %d, subset %d)",
                  c->cfg->checkpoint, it + 1, 1);
  }
  return PET_OK;
}

/* --- scatter estimation (field scatter = "estimate") -------------------------------------- */

/* The counts per bin the tail fit reads: the histogram's, or for list-mode the events binned
 * (each rank its events, summed over the ranks: every rank then holds all bins' counts). */
static pet_status scatter_counts(const pet_job_inputs *in, const pet_osem_data *d, const pet_osem_opts *o,
                                 float **counts, float **owned)
{
  *owned = NULL;
  if (d->histogram) {
    *counts = d->histogram->data;
    return PET_OK;
  }
  const int64_t nb = in->layout->num_bins;
  float *c = calloc((size_t)nb, sizeof(float));
  PET_CHECK(c != NULL, PET_ERR_NOMEM, "scatter: no memory for the counts of %lld bins", (long long)nb);
  const pet_listmode *lm = d->listmode;
  const bool was = pet_error_set_print(false); /* pairs without a bin (another rank's zeros) are skipped */
  for (int64_t e = 0; lm && e < lm->num_events; ++e) {
    int64_t bin;
    if (lm->d1[e] == lm->d2[e]) continue;
    if (pet_histo_dets_to_bin(in->layout, (int32_t)lm->d1[e], (int32_t)lm->d2[e], &bin) == PET_OK) c[bin] += 1.0f;
  }
  pet_error_clear();
  pet_error_set_print(was);
  pet_status st = pet_reducer_sum(o->reducer, c, nb, PET_HOST);
  if (st != PET_OK) {
    free(c);
    return st;
  }
  *counts = *owned = c;
  return PET_OK;
}

/* One SSS estimate from x into add (this rank's bins): randoms + scale n sss, per TOF bin
 * (randoms spread evenly) for a TOF histogram; the tail fit's sums over the ranks. counts: the
 * tail fit's data (scatter_counts), the same for every estimate of a run. */
static pet_status estimate_scatter(const pet_config *cfg, const pet_job_inputs *in, const pet_osem_data *d,
                                   const pet_osem_opts *o, const pet_image *x, const float *counts, pet_comm *comm,
                                   const pet_job_hooks *hooks, int it, float *add, float *scat)
{
  /* list-mode: a non-TOF estimate per bin, which each event takes as it takes the randoms */
  const int32_t T = d->histogram ? d->histogram->num_tof_bins : 0, T1 = T > 0 ? T : 1;
  pet_sss_opts so = pet_sss_opts_default();
  so.scatter_step_mm = (float)cfg->scatter_step_mm;
  so.gpu = cfg->gpu;
  if (T > 0) {
    PET_CHECK(in->scanner->params.tof_fwhm_ps > 0.0f, PET_ERR_CONFIG,
              "field \"scatter\" = \"estimate\": the data is a TOF histogram but the scanner (%s) has no TOF "
              "resolution (tofResolution_ps)", in->scanner->params.name);
    so.num_tof_bins = T;
    so.tof_bin_width_ps = d->histogram->tof_bin_width_ps;
    so.tof_fwhm_ps = in->scanner->params.tof_fwhm_ps;
  }
  const int64_t b0 = in->bfirst, n = in->bcount;
  pet_sss_info info;
  const bool was = pet_error_set_print(false); /* printed once, below */
  /* list-mode: every rank holds every bin (and all counts): its tail sums are already whole */
  pet_status st = pet_scatter_estimate(in->scanner, in->layout, x, in->mu, &so, b0, n, counts + b0 * T1,
                                       in->randoms ? in->randoms + b0 : NULL, in->norm ? in->norm + b0 : NULL,
                                       in->mu_int + b0, d->histogram ? o->reducer : NULL, scat + b0 * T1, &info);
  pet_error_set_print(was);
  if (st != PET_OK) st = PET_ERROR(st, "field \"scatter\" = \"estimate\": %s", pet_last_error());
  PET_TRY(pet_comm_agree(comm, st));
  for (int64_t i = b0; i < b0 + n; ++i) {
    float r = in->randoms ? in->randoms[i] / (float)T1 : 0.0f;
    for (int32_t t = 0; t < T1; ++t) add[i * T1 + t] = r + scat[i * T1 + t];
  }
  char when[64] = "from the given image";
  if (it > 0) snprintf(when, sizeof when, "after iteration %d", it);
  pet_job_log(hooks, comm, PET_JOB_INFO,
              "scatter estimate %s: scale %.4g from %lld tail bins; %lld scatter points, %lld "
              "detector samples (every %d-th crystal, %d rings), window [%g, %g] keV, FWHM %g keV%s; %.2f s",
              when, info.scale, (long long)info.tail_bins, (long long)info.scatter_points,
              (long long)info.det_samples, info.det_step, info.ring_samples, (double)info.lld_kev,
              (double)info.uld_kev, (double)info.fwhm_kev, T > 0 ? ", TOF" : "", info.seconds);
  return PET_OK;
}

/* The whole estimate on every rank into res (each rank computed its bins, the others are 0;
 * list-mode ranks computed every bin); takes scat over. */
static pet_status publish_scatter(const pet_osem_data *d, const pet_osem_opts *o, int64_t nb, float **scat,
                                  pet_job_result *res)
{
  const int32_t T = d->histogram ? d->histogram->num_tof_bins : 0, T1 = T > 0 ? T : 1;
  if (d->histogram) PET_TRY(pet_reducer_sum(o->reducer, *scat, nb * T1, PET_HOST));
  res->scatter = *scat;
  res->scatter_num_bins = nb;
  res->scatter_tof_bins = T;
  res->scatter_tof_bin_width_ps = T > 0 ? d->histogram->tof_bin_width_ps : 0.0f;
  *scat = NULL;
  return PET_OK;
}

/* OSEM with the scatter re-estimated after each of the first scatter_iterations iterations
 * (from the current image): the iterations run in pieces through pet_osem_run's start
 * iteration, each piece with the additive term of the latest estimate (the first with the
 * randoms alone). A resumed run estimates once from the checkpoint's image first. */
static pet_status osem_with_scatter(const pet_config *cfg, const pet_job_inputs *in, const pet_osem_data *d,
                                    const pet_osem_opts *o, pet_image *const *sens, pet_image *x, pet_comm *comm,
                                    const pet_job_hooks *hooks, pet_job_result *res)
{
  if (!in->scatter_estimate) return pet_osem_run(d, o, sens, x);
  const int32_t T = d->histogram ? d->histogram->num_tof_bins : 0, T1 = T > 0 ? T : 1;
  const int64_t nb = in->layout->num_bins;
  const int32_t N = o->iterations, K = cfg->scatter_iterations;
  pet_status st = PET_OK;
  float *add = calloc((size_t)(nb * T1), sizeof(float)), *scat = calloc((size_t)(nb * T1), sizeof(float));
  float *counts = NULL, *owned = NULL;
  PET_CHECK_GOTO(st, add && scat, PET_ERR_NOMEM, out, "scatter: no memory for %lld bins x %d", (long long)nb, T1);
  PET_TRY_GOTO(st, pet_comm_agree(comm, scatter_counts(in, d, o, &counts, &owned)), out);
  for (int64_t i = in->bfirst; i < in->bfirst + in->bcount; ++i) {
    float r = in->randoms ? in->randoms[i] / (float)T1 : 0.0f;
    for (int32_t t = 0; t < T1; ++t) add[i * T1 + t] = r;
  }
  pet_osem_data dd = *d;
  dd.add = add;
  dd.add_per_tof_bin = T > 0;
  int32_t it = o->start_iteration;
  bool estimated = false;
  if (it > 0) {
    PET_TRY_GOTO(st, estimate_scatter(cfg, in, d, o, x, counts, comm, hooks, it, add, scat), out);
    estimated = true;
  }
  while (it < N) {
    pet_osem_opts oo = *o;
    oo.start_iteration = it;
    oo.start_subset = it == o->start_iteration ? o->start_subset : 0;
    oo.iterations = it < K ? it + 1 : N;
    st = pet_osem_run(&dd, &oo, sens, x);
    PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
    it = oo.iterations;
    if (it <= K && it < N) {
      PET_TRY_GOTO(st, estimate_scatter(cfg, in, d, o, x, counts, comm, hooks, it, add, scat), out);
      estimated = true;
    }
  }
  if (!estimated) /* iterations == scatter_iterations == ... : the final estimate for the output */
    PET_TRY_GOTO(st, estimate_scatter(cfg, in, d, o, x, counts, comm, hooks, it, add, scat), out);
  PET_TRY_GOTO(st, publish_scatter(d, o, nb, &scat, res), out);
out:
  free(add);
  free(scat);
  free(owned);
  return st;
}

/* --- the job ------------------------------------------------------------------------------ */

/* The work split for the layout line: nodes and GPUs in use (collective). */
static pet_status layout_of(const pet_config *cfg, const pet_job_inputs *in, const pet_osem_data *d,
                            const pet_osem_opts *o, pet_comm *comm, bool sens_only, pet_job_layout *l)
{
  memset(l, 0, sizeof *l);
  const int size = pet_comm_size(comm);
  const int ndev = cfg->gpu ? pet_gpu_device_count() : 0;
  int64_t where[2] = {pet_comm_local_rank(comm) == 0 ? 1 : 0, cfg->gpu && pet_comm_local_rank(comm) < ndev ? 1 : 0};
  PET_TRY(sum_i64(comm, where, 2));
  l->ranks = size;
  l->nodes = where[0];
  l->gpus = where[1];
  l->threads = omp_get_max_threads();
  l->gpu = cfg->gpu;
  l->listmode = in->kind == PET_KIND_LISTMODE;
  l->slab = o->slab_update && size > 1;
  l->comm = cfg->gpu ? pet_comm_device_backend(comm) : "mpi";
  l->items = sens_only ? in->layout->num_bins : pet_osem_data_size(d);
  const int32_t S = o->subsets;
  l->per_rank = l->items / size;
  l->per_subset = (l->items + (int64_t)size * S - 1) / ((int64_t)size * S);
  l->batch_lors = o->batch_lors > 0 ? o->batch_lors : ((int64_t)1 << 20);
  l->batches = l->per_subset > 0 ? (l->per_subset + l->batch_lors - 1) / l->batch_lors : 0;
  l->vram_budget_mb = cfg->vram_budget_mb;
  l->nx = in->image.nx;
  l->ny = in->image.ny;
  l->nz = in->image.nz;
  l->hdf5_parallel = pet_comm_build_info_get().hdf5_parallel;
  return PET_OK;
}

/* An image grid that does not fit the scanner: voxels that no LOR crosses (sensitivity 0)
 * cannot be estimated and stay 0 (a counted, logged skip); a grid that no LOR crosses at all
 * is an error. Local (every rank has the whole sensitivity). */
static pet_status check_seen(const pet_job_inputs *in, pet_image *const *sens, int nsens,
                             const pet_job_hooks *hooks, pet_comm *comm)
{
  int64_t nv = pet_image_num_voxels(sens[0]), unseen = 0;
  for (int64_t v = 0; v < nv; ++v) {
    float sum = 0.0f;
    for (int s = 0; s < nsens; ++s) sum += sens[s]->data[v];
    unseen += sum <= 0.0f;
  }
  if (unseen == nv)
    return PET_ERROR(PET_ERR_CONFIG, "field \"image\": no LOR of scanner %s crosses the image grid (%dx%dx%d, "
                     "centre %g, %g, %g mm): check the image size and offsets", in->scanner->params.name,
                     in->image.nx, in->image.ny, in->image.nz, (double)in->image.off_x, (double)in->image.off_y,
                     (double)in->image.off_z);
  if (unseen > 0)
    pet_job_log(hooks, comm, PET_JOB_INFO, "%lld of %lld voxels are crossed by no LOR (outside the scanner's field "
                "of view): they stay 0", (long long)unseen, (long long)nv);
  return PET_OK;
}

/* The initial image: the checkpoint (when resuming), cfg->initial_image or a uniform 1. */
static pet_status initial_image(const pet_config *cfg, const pet_job_opts *opts, const pet_job_inputs *in,
                                pet_comm *comm, const pet_job_hooks *hooks, pet_osem_opts *o, pet_image **out)
{
  pet_status st = PET_OK;
  pet_image *x = NULL;
  bool resuming = false;
  if (opts->resume != PET_JOB_RESUME_NO && cfg->checkpoint[0]) {
    const bool exists = access(cfg->checkpoint, F_OK) == 0;
    pet_h5_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    if (!exists && opts->resume == PET_JOB_RESUME_REQUIRED)
      st = PET_ERROR(PET_ERR_CONFIG, "--resume: checkpoint %s does not exist", cfg->checkpoint);
    if (st == PET_OK && exists) {
      st = pet_h5_read_checkpoint(cfg->checkpoint, &x, &ck);
      if (st == PET_OK) st = pet_job_check_resume(cfg, in, &ck, x);
      resuming = st == PET_OK;
    }
    st = pet_comm_agree(comm, st);
    if (st != PET_OK) {
      pet_image_destroy(&x);
      return st;
    }
    if (resuming) {
      o->start_iteration = ck.next_iteration;
      o->start_subset = ck.next_subset;
      pet_job_log(hooks, comm, PET_JOB_INFO, "resuming from %s at iteration %d, subset %d", cfg->checkpoint,
                  ck.next_iteration + 1, ck.next_subset + 1);
    }
  }
  if (!resuming) {
    if (cfg->initial_image[0]) {
      st = pet_job_read_image_checked(cfg->initial_image, "initial_image", PET_JOB_IMAGE_NONNEG, &x);
      if (st == PET_OK && !pet_image_params_equal(&x->params, &in->image))
        st = PET_ERROR(PET_ERR_CONFIG, "%s: field \"initial_image\": its grid differs from the image grid",
                       cfg->initial_image);
    } else {
      st = pet_image_create_owned(&x, in->image, PET_HOST);
      if (st == PET_OK) st = pet_image_fill(x, 1.0f);
    }
    st = pet_comm_agree(comm, st);
    if (st != PET_OK) {
      pet_image_destroy(&x);
      return st;
    }
  }
  *out = x;
  return PET_OK;
}

static pet_status run_job(const pet_config *cfg, const pet_job_opts *opts_in, pet_comm *comm,
                          const pet_job_hooks *hooks, bool sens_only, pet_job_result *res)
{
  PET_CHECK(cfg != NULL && res != NULL, PET_ERR_ARG, "pet_job: NULL config or result");
  memset(res, 0, sizeof *res);
  PET_CHECK(!cfg->frames[0] || sens_only, PET_ERR_UNSUPPORTED,
            "field \"frames\": a dynamic reconstruction is not a pet_job_recon job (petrel recon --frames)");
  const pet_job_opts opts = opts_in ? *opts_in : pet_job_opts_default();
  const int rank = pet_comm_rank(comm);
  const double t0 = now_s();
  pet_status st = PET_OK;
  pet_job_inputs in;
  memset(&in, 0, sizeof in);
  pet_image *x = NULL;
  pet_image **sens = NULL;
  int nsens = 0;
  job_ctx ctx;
  memset(&ctx, 0, sizeof ctx);

  st = pet_job_load_inputs(cfg, comm, !sens_only, hooks, &in);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  if (!sens_only && in.kind == PET_KIND_NONE)
    PET_CHECK_GOTO(st, false, PET_ERR_CONFIG, out, "field \"data\" is required for a reconstruction");
  if (!sens_only && cfg->checkpoint[0] && rank == 0)
    st = pet_job_file_checksum(cfg->data, &in.data_bytes, &in.data_checksum);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  PET_TRY_GOTO(st, bcast(comm, &in.data_checksum, sizeof in.data_checksum), out);

  pet_osem_data d;
  pet_job_osem_data(&in, &d);
  if (sens_only) {
    /* sensitivity over all bins: a histogram-shaped data set without counts */
    d.histogram = NULL;
    d.listmode = NULL;
    d.lm_source = NULL;
  }
  pet_osem_opts o;
  PET_TRY_GOTO(st, pet_job_osem_opts(cfg, in.scanner, &o), out);
  if (d.histogram && d.histogram->num_tof_bins > 0) {
    /* the data file says it is a TOF histogram: project through its TOF bins */
    o.proj.num_tof_bins = d.histogram->num_tof_bins;
    o.proj.tof_bin_width_ps = d.histogram->tof_bin_width_ps;
  }
  pet_reducer red;
  if (comm) {
    red = pet_comm_reducer(comm);
    o.reducer = &red;
  }
  if (sens_only) o.subsets = 1;
  o.slab_update = opts.slab_update;
  o.gpu_device = opts.gpu_device;
  pet_job_layout lay;
  PET_TRY_GOTO(st, layout_of(cfg, &in, &d, &o, comm, sens_only, &lay), out);
  if (rank == 0 && hooks && hooks->on_layout) hooks->on_layout(hooks->ctx, &lay);
  res->io_s = now_s() - t0;
  res->bytes_read = in.bytes_read;

  if (sens_only) {
    const double ts = now_s();
    st = load_or_compute_sens(cfg, &d, &o, &in.image, hooks, rank, &sens, &nsens);
    PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
    PET_TRY_GOTO(st, pet_image_create_owned(&x, in.image, PET_HOST), out);
    PET_TRY_GOTO(st, pet_osem_sum_sensitivity(sens, nsens, x), out);
    res->sens_s = now_s() - ts;
    goto done;
  }

  PET_TRY_GOTO(st, initial_image(cfg, &opts, &in, comm, hooks, &o, &x), out);
  const double t_sens0 = now_s();
  /* options against the data (e.g. subsets <= angles) before any per-subset allocation */
  PET_TRY_GOTO(st, pet_comm_agree(comm, pet_osem_check(&d, &o)), out);
  st = load_or_compute_sens(cfg, &d, &o, &in.image, hooks, rank, &sens, &nsens);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  res->sens_s = now_s() - t_sens0;
  PET_TRY_GOTO(st, pet_comm_agree(comm, check_seen(&in, sens, nsens, hooks, comm)), out);

  ctx.cfg = cfg;
  ctx.hooks = hooks;
  ctx.comm = comm;
  ctx.in = &in;
  ctx.rank = rank;
  o.on_subset = subset_cb;
  o.on_iteration = on_iteration;
  o.cb_ctx = &ctx;
  o.should_stop = hooks && hooks->should_stop ? should_stop : NULL;
  o.on_interrupt = on_interrupt;
  res->start_iteration = o.start_iteration;
  const double t_osem0 = now_s();
  st = osem_with_scatter(cfg, &in, &d, &o, sens, x, comm, hooks, res);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  res->osem_s = now_s() - t_osem0;
done:
  res->image = x;
  x = NULL;
out:
  free_sens(sens, nsens);
  pet_image_destroy(&x);
  pet_job_free_inputs(&in);
  return st;
}

pet_status pet_job_scatter(const pet_config *cfg, const pet_job_opts *opts, pet_comm *comm,
                           const pet_job_hooks *hooks, const pet_image *image, pet_job_result *res)
{
  (void)opts;
  PET_CHECK(cfg != NULL && res != NULL && image != NULL, PET_ERR_ARG, "pet_job_scatter: NULL config, image or result");
  PET_CHECK(strcmp(cfg->scatter, PET_CONFIG_SCATTER_ESTIMATE) == 0, PET_ERR_CONFIG,
            "pet_job_scatter: field \"scatter\" must be \"estimate\" (it is \"%s\")", cfg->scatter);
  memset(res, 0, sizeof *res);
  PET_TRY(pet_image_require(image, PET_HOST));
  const double t0 = now_s();
  pet_job_inputs in;
  float *add = NULL, *scat = NULL, *counts = NULL, *owned = NULL;
  pet_status st = pet_job_load_inputs(cfg, comm, true, hooks, &in);
  PET_TRY(pet_comm_agree(comm, st));
  res->io_s = now_s() - t0;
  pet_osem_data d;
  pet_job_osem_data(&in, &d);
  pet_osem_opts o;
  PET_TRY_GOTO(st, pet_comm_agree(comm, pet_job_osem_opts(cfg, in.scanner, &o)), out);
  pet_reducer red;
  if (comm) {
    red = pet_comm_reducer(comm);
    o.reducer = &red;
  }
  {
    const int32_t T = d.histogram ? d.histogram->num_tof_bins : 0, T1 = T > 0 ? T : 1;
    const int64_t nb = in.layout->num_bins;
    add = calloc((size_t)(nb * T1), sizeof(float));
    scat = calloc((size_t)(nb * T1), sizeof(float));
    st = add && scat ? PET_OK : PET_ERROR(PET_ERR_NOMEM, "scatter: no memory for %lld bins x %d", (long long)nb, T1);
    PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
    PET_TRY_GOTO(st, pet_comm_agree(comm, scatter_counts(&in, &d, &o, &counts, &owned)), out);
    PET_TRY_GOTO(st, estimate_scatter(cfg, &in, &d, &o, image, counts, comm, hooks, 0, add, scat), out);
    PET_TRY_GOTO(st, publish_scatter(&d, &o, nb, &scat, res), out);
  }
out:
  free(add);
  free(scat);
  free(owned);
  pet_job_free_inputs(&in);
  return st;
}

pet_status pet_job_recon(const pet_config *cfg, const pet_job_opts *opts, pet_comm *comm,
                         const pet_job_hooks *hooks, pet_job_result *res)
{
  return run_job(cfg, opts, comm, hooks, false, res);
}

pet_status pet_job_sens(const pet_config *cfg, const pet_job_opts *opts, pet_comm *comm,
                        const pet_job_hooks *hooks, pet_job_result *res)
{
  return run_job(cfg, opts, comm, hooks, true, res);
}
