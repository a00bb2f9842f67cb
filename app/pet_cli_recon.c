/* petrel recon / petrel sens: OSEM reconstruction from a config file and flags, on one process
 * or many (mpirun/srun), on CPUs or GPUs, with checkpoints and signal handling. */
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pet_cli.h"
#include "pet_cli_check.h"
#include "pet_cli_data.h"
#include "pet_cli_dynamic.h"
#include "pet_cli_signal.h"
#include "pet_cli_util.h"
#include "pet_comm.h"
#include "pet_config.h"
#include "pet_gpu.h"
#include "pet_h5.h"
#include "pet_nifti.h"
#include "pet_image_json.h"

static const char *recon_help =
    "usage: petrel recon --config recon.json [--FIELD VALUE ...] [options]\n"
    "  OSEM reconstruction of a histogram or list-mode (HDF5, YRT-PET .his/.lmDat). Every config\n"
    "  field can be given or overridden as a flag: --iterations 4 --subsets 12 --projector DD\n"
    "  --output out.nii.gz --scanner scanner.json --data data.h5 --tof true --threads 8 ...\n"
    "  (see config/examples/*.json for all fields). Runs unchanged under mpirun/srun: each rank\n"
    "  projects its share of every subset and the backprojections are summed once per subset.\n"
    "options:\n"
    "  --config FILE         the reconstruction config (JSON)\n"
    "  --gpu                 reconstruct on GPUs (one per rank); --device N, --vram-budget MB\n"
    "  --comm auto|mpi|nccl  how device buffers are summed across ranks (default auto)\n"
    "  --params FILE         the image grid from YRT-PET's image-params JSON (nx, vx, off_x, ...)\n"
    "  --reduce allreduce|slab  per-subset reduction (host or GPU): allreduce of the back\n"
    "                        projection (default), or reduce-scatter to z-slabs, update of each\n"
    "                        rank's slab, allgather (same image up to float summation order)\n"
    "  --resume              continue from the checkpoint (field \"checkpoint\"); refused if it does\n"
    "                        not match the config and data\n"
    "  --resume-if-present   resume when the checkpoint exists, else start (for requeued jobs)\n"
    "  --requeue-on-signal   under SLURM: after a signal has stopped the run with a checkpoint,\n"
    "                        requeue the job (scontrol requeue $SLURM_JOB_ID) so it resumes\n"
    "  --quiet, --json       progress: none, or JSON lines\n"
    "dynamic (list-mode): --frames 6x10,8x30,10x60 (or \"10,10,30\", \"0-10,20-30@1.02\", study.dyn)\n"
    "  reconstructs each frame (frames over ranks, or rank groups per frame), decay-corrected with\n"
    "  --half_life_s; output: one 4D NIfTI + <stem>.json (FrameTimesStart, FrameDuration), or\n"
    "  --frame_files true; --tac_mask labels.nii.gz adds <stem>_tac.csv and <stem>_tac.png\n"
    "exit codes: 0 done, 1 error, 2 bad flag or config, 3 stopped by SIGINT/SIGTERM/SIGUSR1 at a subset\n"
    "  boundary after writing a checkpoint (the field \"checkpoint\", default <output>.ckpt.h5; the\n"
    "  message gives the --resume command); a second signal exits at once with 128+signal (130)\n";

typedef struct recon_ctx {
  pet_cli_progress prog;
  pet_comm *comm;
  const pet_config *cfg;
  const pet_inputs *in;
  int rank;
  int argc; /* the command line, for the --resume command printed on a stop */
  char **argv;
} recon_ctx;

static void subset_cb(void *ctx, const pet_osem_progress *p)
{
  recon_ctx *c = ctx;
  if (c->rank == 0) pet_cli_print_subset(&c->prog, p);
}

/* Every rank must stop at the same subset: agree on the flag. */
static bool should_stop(void *ctx)
{
  recon_ctx *c = ctx;
  int64_t flag = pet_cli_stop_signal() != 0 ? 1 : 0;
  if (pet_comm_allreduce_sum_i64(c->comm, &flag, 1) != PET_OK) return true;
  return flag > 0;
}

static pet_status write_checkpoint(recon_ctx *c, int it, int s, const pet_image *x, const char *path)
{
  pet_status st = PET_OK;
  if (c->rank == 0 && path[0]) {
    pet_h5_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    ck.next_iteration = it;
    ck.next_subset = s;
    ck.num_ranks = pet_comm_size(c->comm);
    /* no "checkpoint" field: the data was not hashed at the start; hash it now */
    pet_inputs in = *c->in;
    if (!c->cfg->checkpoint[0]) st = pet_cli_file_checksum(c->cfg->data, &in.data_bytes, &in.data_checksum);
    pet_cli_checkpoint_identity(c->cfg, &in, &ck);
    if (st == PET_OK) st = pet_h5_write_checkpoint(path, x, &ck);
    if (st == PET_OK && !c->prog.quiet)
      fprintf(stderr, "petrel: checkpoint written to %s (next: iteration %d, subset %d)\n", path, it + 1, s + 1);
  }
  return pet_comm_agree(c->comm, st);
}

static pet_status on_interrupt(void *ctx, int it, int s, const pet_image *x)
{
  recon_ctx *c = ctx;
  char path[PET_CONFIG_PATH_MAX + 16];
  pet_cli_checkpoint_path(c->cfg, path, sizeof path);
  if (c->rank == 0) fprintf(stderr, "petrel: stopped by %s\n", pet_cli_signal_name(pet_cli_stop_signal()));
  PET_TRY(write_checkpoint(c, it, s, x, path));
  if (c->rank == 0 && path[0]) {
    fprintf(stderr, "petrel: to continue from the checkpoint, run:\n  ");
    bool has = false;
    for (int i = 1; i < c->argc; ++i) has |= !strcmp(c->argv[i], "--resume") || !strcmp(c->argv[i], "--resume-if-present");
    pet_cli_print_command(stderr, "recon", c->argc, c->argv, has ? NULL : "--resume", pet_comm_size(c->comm));
  }
  return PET_OK;
}

/* Output name with a suffix before the extension: out.nii.gz -> out_it3.nii.gz */
static void suffixed(char *buf, size_t len, const char *path, const char *suffix)
{
  const char *ext = strstr(path, ".nii");
  size_t stem = ext ? (size_t)(ext - path) : strlen(path);
  snprintf(buf, len, "%.*s%s%s", (int)stem, path, suffix, ext ? ext : "");
}

static pet_status on_iteration(void *ctx, int it, const pet_image *x)
{
  recon_ctx *c = ctx;
  pet_status st = PET_OK;
  if (c->cfg->save_every > 0 && it % c->cfg->save_every == 0 && it < c->cfg->iterations) {
    if (c->rank == 0 && c->cfg->output[0]) {
      char path[PET_CONFIG_PATH_MAX + 32], suf[32];
      snprintf(suf, sizeof suf, "_it%d", it);
      suffixed(path, sizeof path, c->cfg->output, suf);
      st = pet_image_write_nifti(x, path);
      /* a complete file, removed again if the run fails (main) */
      if (st == PET_OK) pet_cli_output_add(path);
    }
    PET_TRY(pet_comm_agree(c->comm, st));
    PET_TRY(write_checkpoint(c, it, 0, x, c->cfg->checkpoint));
  }
  return PET_OK;
}

typedef struct recon_args {
  pet_config cfg;
  bool resume, resume_if_present, requeue;
  bool slab_update;
  pet_comm_backend backend;
} recon_args;

/* Parses argv into the config: --config first, then every --field value override. */
static int parse_args(int argc, char **argv, recon_args *a, bool sens_only)
{
  memset(a, 0, sizeof *a);
  pet_config_defaults(&a->cfg);
  for (int i = 1; i < argc; ++i)
    if (!strcmp(argv[i], "--config")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "petrel: --config needs a file\n");
        return 2;
      }
      if (pet_config_read_json(&a->cfg, argv[i + 1]) != PET_OK) return 2;
    }
  for (int i = 1; i < argc; ++i) {
    const char *arg = argv[i];
    if (!strcmp(arg, "--config")) {
      ++i;
    } else if (!strcmp(arg, "--resume")) {
      a->resume = true;
    } else if (!strcmp(arg, "--resume-if-present")) {
      a->resume_if_present = true;
    } else if (!strcmp(arg, "--requeue-on-signal")) {
      a->requeue = true;
    } else if (!strcmp(arg, "--gpu")) {
      a->cfg.gpu = true;
    } else if (!strcmp(arg, "--quiet")) {
      a->cfg.quiet = true;
    } else if (!strcmp(arg, "--json")) {
      a->cfg.json_lines = true;
    } else if (!strcmp(arg, "--comm") && i + 1 < argc) {
      const char *v = argv[++i];
      if (!strcmp(v, "auto")) a->backend = PET_COMM_AUTO;
      else if (!strcmp(v, "mpi")) a->backend = PET_COMM_MPI;
      else if (!strcmp(v, "nccl")) a->backend = PET_COMM_NCCL;
      else {
        fprintf(stderr, "petrel: --comm: '%s' is not auto, mpi or nccl\n", v);
        return 2;
      }
    } else if (!strcmp(arg, "--params") && i + 1 < argc) {
      /* YRT-PET's image-params JSON (nx, vx, off_x, ...) sets the image grid */
      pet_image_params ip;
      if (pet_image_params_read_json(&ip, argv[++i]) != PET_OK) return 2;
      a->cfg.image.nx = ip.nx;
      a->cfg.image.ny = ip.ny;
      a->cfg.image.nz = ip.nz;
      a->cfg.image.length_x = ip.length_x;
      a->cfg.image.length_y = ip.length_y;
      a->cfg.image.length_z = ip.length_z;
      a->cfg.image.off_x = ip.off_x;
      a->cfg.image.off_y = ip.off_y;
      a->cfg.image.off_z = ip.off_z;
    } else if (!strcmp(arg, "--reduce") && i + 1 < argc) {
      const char *v = argv[++i];
      if (!strcmp(v, "allreduce")) a->slab_update = false;
      else if (!strcmp(v, "slab")) a->slab_update = true;
      else {
        fprintf(stderr, "petrel: --reduce: '%s' is not allreduce or slab\n", v);
        return 2;
      }
    } else if (!strncmp(arg, "--", 2) && i + 1 < argc) {
      if (pet_config_set(&a->cfg, pet_cli_option_alias(arg + 2), argv[i + 1]) != PET_OK) return 2;
      ++i;
    } else {
      fprintf(stderr, "petrel %s: unknown or incomplete option '%s' (petrel %s --help)\n",
              sens_only ? "sens" : "recon", arg, sens_only ? "sens" : "recon");
      return 2;
    }
  }
  if (pet_config_validate(&a->cfg) != PET_OK) return 2;
  /* a job that may be requeued needs somewhere to resume from */
  if ((a->requeue || a->resume_if_present || a->resume) && !a->cfg.checkpoint[0])
    pet_cli_checkpoint_path(&a->cfg, a->cfg.checkpoint, sizeof a->cfg.checkpoint);
  return 0;
}

/* The layout line (stderr) and, with --json, the same as a JSON line (stdout): ranks, nodes,
 * GPUs, threads, batches per rank, how the subsets are reduced, HDF5 reads. Rank 0. */
static void print_layout(const pet_config *cfg, const pet_inputs *in, const pet_osem_data *d,
                         const pet_osem_opts *o, int size, int64_t nodes, int64_t gpus, bool sens_only,
                         const char *device_comm)
{
  const bool lm = in->kind == PET_KIND_LISTMODE;
  const int64_t items = sens_only ? in->layout->num_bins : pet_osem_data_size(d);
  const int32_t S = o->subsets;
  const int64_t per_rank = items / size, per_subset = (items + (int64_t)size * S - 1) / ((int64_t)size * S);
  const int64_t cap = o->batch_lors > 0 ? o->batch_lors : ((int64_t)1 << 20);
  const int64_t batches = per_subset > 0 ? (per_subset + cap - 1) / cap : 0;
  const bool hdf5_par = pet_comm_build_info_get().hdf5_parallel;
  const char *comm = cfg->gpu ? device_comm : "mpi";
  const char *reduce = o->slab_update && size > 1 ? "reduce-scatter to z-slabs + allgather" : "allreduce";
  char batch[128];
  if (cfg->gpu)
    snprintf(batch, sizeof batch, "batches sized by the VRAM budget (%s)", cfg->vram_budget_mb > 0 ? "--vram-budget" : "80%% of free");
  else
    snprintf(batch, sizeof batch, "%lld batch(es) of <= %lld LORs", (long long)batches, (long long)cap);
  char devs[64];
  if (cfg->gpu)
    snprintf(devs, sizeof devs, "%lld GPU(s), one per rank", (long long)gpus);
  else
    snprintf(devs, sizeof devs, "CPU, no GPU");
  fprintf(stderr,
          "petrel: layout: %d rank(s) on %lld node(s); %s; %d thread(s) per rank; comm %s, %s per subset; %s of "
          "%lld %s, ~%lld per rank per iteration, ~%lld per rank per subset in %s; image %dx%dx%d; HDF5 %s\n",
          size, (long long)nodes, devs, omp_get_max_threads(), comm, reduce, lm ? "list-mode" : "histogram",
          (long long)items, lm ? "events" : "bins", (long long)per_rank, (long long)per_subset, batch,
          in->image.nx, in->image.ny, in->image.nz,
          hdf5_par ? "parallel (collective MPI-IO reads)" : "serial (independent reads per rank)");
  if (cfg->json_lines)
    printf("{\"event\":\"layout\",\"ranks\":%d,\"nodes\":%lld,\"gpus\":%lld,\"threads\":%d,\"comm\":\"%s\","
           "\"reduce\":\"%s\",\"kind\":\"%s\",\"items\":%lld,\"per_rank_per_subset\":%lld,\"batches_per_rank_"
           "per_subset\":%lld,\"image\":[%d,%d,%d],\"hdf5\":\"%s\"}\n",
           size, (long long)nodes, (long long)gpus, omp_get_max_threads(), comm,
           o->slab_update && size > 1 ? "slab" : "allreduce", lm ? "listmode" : "histogram", (long long)items,
           (long long)per_subset, cfg->gpu ? -1LL : (long long)batches, in->image.nx, in->image.ny, in->image.nz,
           hdf5_par ? "parallel" : "serial");
}

static pet_status load_or_compute_sens(const pet_config *cfg, const pet_osem_data *d, const pet_osem_opts *o,
                                       const pet_image_params *ip, int rank, pet_image ***sens_out, int *nsens_out)
{
  const int nsens = d->listmode || !d->histogram ? 1 : o->subsets;
  pet_image **sens = calloc((size_t)nsens, sizeof *sens);
  PET_CHECK(sens != NULL, PET_ERR_NOMEM, "out of memory");
  pet_status st = PET_OK;
  *sens_out = sens;
  *nsens_out = nsens;
  if (cfg->sensitivity[0]) {
    /* a loaded sensitivity is the whole A^T m: each histogram subset uses 1/S of it */
    pet_image *full = NULL;
    PET_TRY(pet_cli_read_image_checked(cfg->sensitivity, "sensitivity", PET_CLI_IMAGE_NONNEG, &full));
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
  PET_TRY(pet_cli_sensitivity(d, o, sens, nsens, cfg, rank));
  if (cfg->save_sensitivity[0] && rank == 0) {
    pet_image *sum = NULL;
    PET_TRY(pet_image_create_owned(&sum, *ip, PET_HOST));
    st = pet_osem_sum_sensitivity(sens, nsens, sum);
    if (st == PET_OK) st = pet_image_write_nifti(sum, cfg->save_sensitivity);
    pet_image_destroy(&sum);
  }
  return st;
}

static int run_recon(int argc, char **argv, bool sens_only)
{
  if (pet_cli_is_help(argc, argv)) {
    fputs(sens_only ? "usage: petrel sens --config recon.json --save_sensitivity sens.nii.gz [--FIELD VALUE ...]\n"
                      "  Computes the sensitivity image (A^T of the normalisation x attenuation over all bins)\n"
                      "  and writes it; the fields are those of petrel recon.\n"
                    : recon_help,
          stdout);
    return 0;
  }
  recon_args a;
  int rc = parse_args(argc, argv, &a, sens_only);
  if (rc != 0) return rc;
  pet_config *cfg = &a.cfg;
  if (sens_only && !cfg->save_sensitivity[0]) {
    fprintf(stderr, "petrel sens: field \"save_sensitivity\" (the output) is required\n");
    return 2;
  }
  pet_comm *comm = NULL;
  if (pet_comm_init(&argc, &argv, &comm) != PET_OK) return 1;
  const int rank = pet_comm_rank(comm), size = pet_comm_size(comm);
  if (cfg->threads > 0) omp_set_num_threads(cfg->threads);
  /* recon stops at a subset boundary with a checkpoint; sens cannot stop early, exits at once */
  pet_cli_signals_poll(!sens_only);

  pet_status st = PET_OK;
  pet_inputs in;
  memset(&in, 0, sizeof in);
  pet_image *x = NULL;
  pet_image **sens = NULL;
  int nsens = 0;
  recon_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  pet_h5_checkpoint ck;
  memset(&ck, 0, sizeof ck);
  bool resuming = false;
  const double t0 = pet_cli_now();
  /* every output (and --resume's checkpoint) before anything is loaded or computed */
  PET_TRY_GOTO(st, pet_comm_agree(comm, pet_cli_check_recon_outputs(cfg, sens_only, a.resume)), out);

  int device = -1;
  if (cfg->gpu) PET_TRY_GOTO(st, pet_comm_setup_gpu(comm, a.backend, &device), out);
  if (!sens_only && cfg->frames[0]) {
    /* frames have no checkpoint and no poll point: a signal ends the run at once */
    pet_cli_signals_poll(false);
    st = pet_cli_recon_dynamic(cfg, comm, device);
    goto out;
  }
  st = pet_cli_load_inputs(cfg, comm, !sens_only, &in);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  if (!sens_only && in.kind == PET_KIND_NONE)
    PET_CHECK_GOTO(st, false, PET_ERR_CONFIG, out, "field \"data\" is required for a reconstruction");
  if (!sens_only && cfg->checkpoint[0] && rank == 0)
    st = pet_cli_file_checksum(cfg->data, &in.data_bytes, &in.data_checksum);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  PET_TRY_GOTO(st, pet_comm_bcast(comm, &in.data_checksum, sizeof in.data_checksum, 0), out);

  pet_osem_data d;
  pet_cli_osem_data(&in, &d);
  if (sens_only) {
    /* sensitivity over all bins: a histogram-shaped data set without counts */
    d.histogram = NULL;
    d.listmode = NULL;
  }
  pet_osem_opts o;
  PET_TRY_GOTO(st, pet_cli_osem_opts(cfg, in.scanner, &o), out);
  if (d.histogram && d.histogram->num_tof_bins > 0) {
    /* the data file says it is a TOF histogram: project through its TOF bins */
    o.proj.num_tof_bins = d.histogram->num_tof_bins;
    o.proj.tof_bin_width_ps = d.histogram->tof_bin_width_ps;
  }
  pet_reducer red = pet_comm_reducer(comm);
  o.reducer = &red;
  if (sens_only) o.subsets = 1;

  o.slab_update = a.slab_update;
  o.gpu_device = device;
  /* nodes and GPUs in use (collective, so every rank computes it) */
  const int ndev = cfg->gpu ? pet_gpu_device_count() : 0;
  int64_t where[2] = {pet_comm_local_rank(comm) == 0 ? 1 : 0,
                      cfg->gpu && pet_comm_local_rank(comm) < ndev ? 1 : 0};
  PET_TRY_GOTO(st, pet_comm_allreduce_sum_i64(comm, where, 2), out);
  if (rank == 0 && !cfg->quiet) print_layout(cfg, &in, &d, &o, size, where[0], where[1], sens_only,
                                             pet_comm_device_backend(comm));
  const double t_io = pet_cli_now() - t0;

  if (sens_only) {
    st = load_or_compute_sens(cfg, &d, &o, &in.image, rank, &sens, &nsens);
    PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
    if (rank == 0 && !cfg->quiet)
      printf("sens: wrote %s in %.2f s\n", cfg->save_sensitivity, pet_cli_now() - t0);
    goto out;
  }

  /* initial image, or the checkpoint */
  if ((a.resume || a.resume_if_present) && cfg->checkpoint[0]) {
    bool exists = access(cfg->checkpoint, F_OK) == 0;
    PET_CHECK_GOTO(st, exists || !a.resume, PET_ERR_CONFIG, out, "--resume: checkpoint %s does not exist",
                   cfg->checkpoint);
    if (exists) {
      st = pet_h5_read_checkpoint(cfg->checkpoint, &x, &ck);
      if (st == PET_OK) st = pet_cli_check_resume(cfg, &in, &ck, x);
      resuming = st == PET_OK;
    }
    PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  }
  if (!resuming) {
    if (cfg->initial_image[0]) {
      st = pet_cli_read_image_checked(cfg->initial_image, "initial_image", PET_CLI_IMAGE_NONNEG, &x);
      if (st == PET_OK && !pet_image_params_equal(&x->params, &in.image))
        st = PET_ERROR(PET_ERR_CONFIG, "%s: field \"initial_image\": its grid differs from the image grid",
                       cfg->initial_image);
    } else {
      st = pet_image_create_owned(&x, in.image, PET_HOST);
      if (st == PET_OK) st = pet_image_fill(x, 1.0f);
    }
    PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  } else {
    o.start_iteration = ck.next_iteration;
    o.start_subset = ck.next_subset;
    if (rank == 0 && !cfg->quiet)
      fprintf(stderr, "petrel: resuming from %s at iteration %d, subset %d\n", cfg->checkpoint,
              ck.next_iteration + 1, ck.next_subset + 1);
  }

  const double t_sens0 = pet_cli_now();
  /* options against the data (e.g. subsets <= angles) before any per-subset allocation */
  PET_TRY_GOTO(st, pet_comm_agree(comm, pet_osem_check(&d, &o)), out);
  st = load_or_compute_sens(cfg, &d, &o, &in.image, rank, &sens, &nsens);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  const double t_sens = pet_cli_now() - t_sens0;
  /* An image grid that does not fit the scanner: voxels that no LOR crosses (sensitivity 0)
   * cannot be estimated and stay 0 (a counted, logged skip); a grid that no LOR crosses at all
   * is an error. */
  {
    int64_t nv = pet_image_num_voxels(sens[0]), unseen = 0;
    for (int64_t v = 0; v < nv; ++v) {
      float sum = 0.0f;
      for (int s = 0; s < nsens; ++s) sum += sens[s]->data[v];
      unseen += sum <= 0.0f;
    }
    if (unseen == nv)
      st = PET_ERROR(PET_ERR_CONFIG, "field \"image\": no LOR of scanner %s crosses the image grid (%dx%dx%d, "
                     "centre %g, %g, %g mm): check the image size and offsets", in.scanner->params.name,
                     in.image.nx, in.image.ny, in.image.nz, (double)in.image.off_x, (double)in.image.off_y,
                     (double)in.image.off_z);
    else if (unseen > 0 && rank == 0 && !cfg->quiet)
      fprintf(stderr, "petrel: %lld of %lld voxels are crossed by no LOR (outside the scanner's field of view): "
              "they stay 0\n", (long long)unseen, (long long)nv);
    PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  }

  ctx.prog.quiet = cfg->quiet;
  ctx.prog.json = cfg->json_lines;
  ctx.prog.what = "recon";
  ctx.comm = comm;
  ctx.cfg = cfg;
  ctx.in = &in;
  ctx.rank = rank;
  ctx.argc = argc;
  ctx.argv = argv;
  o.on_subset = subset_cb;
  o.on_iteration = on_iteration;
  o.cb_ctx = &ctx;
  o.should_stop = should_stop;
  o.on_interrupt = on_interrupt;
  const double t_osem0 = pet_cli_now();
  st = pet_osem_run(&d, &o, sens, x);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  const double t_osem = pet_cli_now() - t_osem0;
  if (rank == 0) st = pet_image_write_nifti(x, cfg->output);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  /* a finished run needs no checkpoint: remove it so a requeue does not redo the last part */
  if (rank == 0 && cfg->checkpoint[0]) remove(cfg->checkpoint);
  if (rank == 0) {
    if (cfg->json_lines)
      printf("{\"event\":\"done\",\"output\":\"%s\",\"seconds\":%.3f,\"ranks\":%d,\"io_s\":%.4f,"
             "\"sens_s\":%.4f,\"osem_s\":%.4f,\"iterations\":%d,\"subsets\":%d}\n",
             cfg->output, pet_cli_now() - t0, size, t_io, t_sens, t_osem, cfg->iterations - o.start_iteration,
             cfg->subsets);
    else if (!cfg->quiet)
      printf("recon: wrote %s (%d iterations x %d subsets) in %.2f s on %d rank(s)\n", cfg->output,
             cfg->iterations, cfg->subsets, pet_cli_now() - t0, size);
  }
out:
  if (sens) {
    for (int s = 0; s < nsens; ++s) pet_image_destroy(&sens[s]);
    free(sens);
  }
  pet_image_destroy(&x);
  pet_cli_free_inputs(&in);
  pet_comm_finalize(&comm);
  if (st == PET_ERR_INTERRUPTED) {
    /* the checkpoint is on disk: a requeued job starts again with --resume-if-present */
    const char *job = getenv("SLURM_JOB_ID");
    if (a.requeue && cfg->checkpoint[0] && rank == 0 && job && *job && strspn(job, "0123456789_") == strlen(job)) {
      char cmd[128];
      snprintf(cmd, sizeof cmd, "scontrol requeue %s", job);
      fprintf(stderr, "petrel: requeueing SLURM job %s\n", job);
      if (system(cmd) != 0) fprintf(stderr, "petrel: '%s' failed; resubmit the job to resume\n", cmd);
    }
    return 3;
  }
  if (st == PET_ERR_CONFIG) return 2;
  return st == PET_OK ? 0 : 1;
}

int pet_cli_recon(int argc, char **argv) { return run_recon(argc, argv, false); }
int pet_cli_sens(int argc, char **argv) { return run_recon(argc, argv, true); }
