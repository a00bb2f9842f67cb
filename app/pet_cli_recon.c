/* petrel recon / petrel sens: parse the flags into a config, set up the ranks and GPUs, run the
 * job (pet_job.h: inputs, sensitivity, resume, OSEM) with hooks that print progress and turn
 * signals into a stop at a subset boundary, write the image. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_cli.h"
#include "pet_cli_check.h"
#include "pet_cli_dynamic.h"
#include "pet_cli_signal.h"
#include "pet_cli_util.h"
#include "pet_comm.h"
#include "pet_h5.h"
#include "pet_config.h"
#include "pet_gpu.h"
#include "pet_job.h"
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
    "regularised: --algorithm osl|bsrem --prior rdp|quadratic --beta B [--gamma 2 --epsilon 1e-7]\n"
    "  [--relaxation 1 --relaxation_eta 0.1] (OSL-MAP or BSREM with STIR's relative difference or\n"
    "  quadratic prior; see config/examples/bsrem_rdp.json)\n"
    "dynamic (list-mode): --frames 6x10,8x30,10x60 (or \"10,10,30\", \"0-10,20-30@1.02\", study.dyn)\n"
    "  reconstructs each frame (frames over ranks, or rank groups per frame), decay-corrected with\n"
    "  --half_life_s; output: one 4D NIfTI + <stem>.json (FrameTimesStart, FrameDuration), or\n"
    "  --frame_files true; --tac_mask labels.nii.gz adds <stem>_tac.csv and <stem>_tac.png\n"
    "exit codes: 0 done, 1 error, 2 bad flag or config, 3 stopped by SIGINT/SIGTERM/SIGUSR1 at a subset\n"
    "  boundary after writing a checkpoint (the field \"checkpoint\", default <output>.ckpt.h5; the\n"
    "  message gives the --resume command); a second signal exits at once with 128+signal (130)\n";

/* What the hooks of the job see: the progress printer, the config, and the command line (for
 * the --resume command printed on a stop). */
typedef struct recon_ctx {
  pet_cli_progress prog;
  pet_cli_eta eta;
  bool eta_started;
  const pet_config *cfg;
  int rank, size;
  int argc;
  char **argv;
} recon_ctx;

static void log_cb(void *ctx, pet_job_log_level level, const char *msg)
{
  recon_ctx *c = ctx;
  if (level == PET_JOB_WARNING || !c->cfg->quiet) pet_cli_job_log(NULL, level, msg);
}

static void subset_cb(void *ctx, const pet_osem_progress *p)
{
  recon_ctx *c = ctx;
  pet_cli_print_subset(&c->prog, p);
}

/* the sensitivity's progress: lines after 2 s from its start (done 0; JSON lines even with
 * --quiet) */
static void progress_cb(void *ctx, const char *what, const char *unit, int64_t done, int64_t total)
{
  recon_ctx *c = ctx;
  if (!c->eta_started) {
    (void)pet_cli_batch_cb(&c->eta, what, unit, c->cfg->quiet && !c->cfg->json_lines, c->cfg->json_lines);
    c->eta_started = true;
  }
  c->eta.unit = unit;
  pet_cli_eta_report(&c->eta, done, total);
}

static bool should_stop(void *ctx)
{
  (void)ctx;
  return pet_cli_stop_signal() != 0;
}

static void on_interrupt(void *ctx, int it, int s, const char *path)
{
  recon_ctx *c = ctx;
  if (c->rank != 0) return;
  fprintf(stderr, "petrel: stopped by %s\n", pet_cli_signal_name(pet_cli_stop_signal()));
  if (!path[0]) return;
  if (!c->cfg->quiet)
    fprintf(stderr, "petrel: checkpoint written to %s (next: iteration %d, subset %d)\n", path, it + 1, s + 1);
  fprintf(stderr, "petrel: to continue from the checkpoint, run:\n  ");
  bool has = false;
  for (int i = 1; i < c->argc; ++i) has |= !strcmp(c->argv[i], "--resume") || !strcmp(c->argv[i], "--resume-if-present");
  pet_cli_print_command(stderr, "recon", c->argc, c->argv, has ? NULL : "--resume", c->size);
}

/* Output name with a suffix before the extension: out.nii.gz -> out_it3.nii.gz */
static void suffixed(char *buf, size_t len, const char *path, const char *suffix)
{
  const char *ext = strstr(path, ".nii");
  size_t stem = ext ? (size_t)(ext - path) : strlen(path);
  snprintf(buf, len, "%.*s%s%s", (int)stem, path, suffix, ext ? ext : "");
}

/* the intermediate images of --save_every (the job writes the checkpoint after them) */
static pet_status on_iteration(void *ctx, int it, const pet_image *x)
{
  recon_ctx *c = ctx;
  pet_status st = PET_OK;
  if (c->cfg->save_every > 0 && it % c->cfg->save_every == 0 && it < c->cfg->iterations && c->rank == 0 &&
      c->cfg->output[0]) {
    char path[PET_CONFIG_PATH_MAX + 32], suf[32];
    snprintf(suf, sizeof suf, "_it%d", it);
    suffixed(path, sizeof path, c->cfg->output, suf);
    st = pet_image_write_nifti(x, path);
    /* a complete file, removed again if the run fails (main) */
    if (st == PET_OK) pet_cli_output_add(path);
  }
  return st;
}

typedef struct recon_args {
  pet_config cfg;
  char image[PET_CONFIG_PATH_MAX]; /* petrel scatter: --image */
  bool resume, resume_if_present, requeue;
  bool slab_update;
  pet_comm_backend backend;
} recon_args;

/* Parses argv into the config: --config first, then every --field value override. */
static int parse_args(int argc, char **argv, recon_args *a, bool sens_only, bool scatter)
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
    } else if (scatter && !strcmp(arg, "--image") && i + 1 < argc) {
      snprintf(a->image, sizeof a->image, "%s", argv[++i]);
    } else if (scatter && !strcmp(arg, "--output") && i + 1 < argc) {
      if (pet_config_set(&a->cfg, "scatter_output", argv[++i]) != PET_OK) return 2;
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
      const char *cmd = scatter ? "scatter" : sens_only ? "sens" : "recon";
      fprintf(stderr, "petrel %s: unknown or incomplete option '%s' (petrel %s --help)\n", cmd, arg, cmd);
      return 2;
    }
  }
  if (scatter) {
    /* the estimate is the output: the image's "output" and iterations play no part */
    snprintf(a->cfg.scatter, sizeof a->cfg.scatter, "%s", PET_CONFIG_SCATTER_ESTIMATE);
    if (!a->cfg.output[0]) snprintf(a->cfg.output, sizeof a->cfg.output, "%s", "unused.nii.gz");
    if (a->cfg.scatter_iterations > a->cfg.iterations) a->cfg.scatter_iterations = a->cfg.iterations;
    if (!a->image[0] || !a->cfg.scatter_output[0]) {
      fprintf(stderr, "petrel scatter: --image (the emission image, NIfTI) and --output (the estimate, .h5) are "
                      "required\n");
      return 2;
    }
  }
  if (pet_config_validate(&a->cfg) != PET_OK) return 2;
  /* a job that may be requeued needs somewhere to resume from */
  if ((a->requeue || a->resume_if_present || a->resume) && !a->cfg.checkpoint[0])
    pet_job_checkpoint_path(&a->cfg, a->cfg.checkpoint, sizeof a->cfg.checkpoint);
  return 0;
}

/* The layout line (stderr) and, with --json, the same as a JSON line (stdout): ranks, nodes,
 * GPUs, threads, batches per rank, how the subsets are reduced, HDF5 reads. Rank 0. */
static void layout_cb(void *ctx, const pet_job_layout *l)
{
  recon_ctx *c = ctx;
  if (c->cfg->quiet) return;
  const char *reduce = l->slab ? "reduce-scatter to z-slabs + allgather" : "allreduce";
  char batch[128];
  if (l->gpu)
    snprintf(batch, sizeof batch, "batches sized by the VRAM budget (%s)", l->vram_budget_mb > 0 ? "--vram-budget" : "80%% of free");
  else
    snprintf(batch, sizeof batch, "%lld batch(es) of <= %lld LORs", (long long)l->batches, (long long)l->batch_lors);
  char devs[64];
  if (l->gpu)
    snprintf(devs, sizeof devs, "%lld GPU(s), one per rank", (long long)l->gpus);
  else
    snprintf(devs, sizeof devs, "CPU, no GPU");
  fprintf(stderr,
          "petrel: layout: %d rank(s) on %lld node(s); %s; %d thread(s) per rank; comm %s, %s per subset; %s of "
          "%lld %s, ~%lld per rank per iteration, ~%lld per rank per subset in %s; image %dx%dx%d; HDF5 %s\n",
          l->ranks, (long long)l->nodes, devs, l->threads, l->comm, reduce, l->listmode ? "list-mode" : "histogram",
          (long long)l->items, l->listmode ? "events" : "bins", (long long)l->per_rank, (long long)l->per_subset,
          batch, l->nx, l->ny, l->nz, l->hdf5_parallel ? "parallel (collective MPI-IO reads)" : "serial (independent reads per rank)");
  if (c->cfg->json_lines)
    printf("{\"event\":\"layout\",\"ranks\":%d,\"nodes\":%lld,\"gpus\":%lld,\"threads\":%d,\"comm\":\"%s\","
           "\"reduce\":\"%s\",\"kind\":\"%s\",\"items\":%lld,\"per_rank_per_subset\":%lld,\"batches_per_rank_"
           "per_subset\":%lld,\"image\":[%d,%d,%d],\"hdf5\":\"%s\"}\n",
           l->ranks, (long long)l->nodes, (long long)l->gpus, l->threads, l->comm, l->slab ? "slab" : "allreduce",
           l->listmode ? "listmode" : "histogram", (long long)l->items, (long long)l->per_subset,
           l->gpu ? -1LL : (long long)l->batches, l->nx, l->ny, l->nz, l->hdf5_parallel ? "parallel" : "serial");
}

static const char *scatter_help =
    "usage: petrel scatter --config recon.json --image x.nii.gz --output scatter.h5 [--FIELD VALUE ...]\n"
    "  One single scatter simulation (Watson) from the image and the config's attenuation_image,\n"
    "  scaled to the data's tails (the LORs that miss the mu-map) after the randoms, written as a\n"
    "  per-bin HDF5 file that field \"scatter\" reads back. The fields are those of petrel recon\n"
    "  (scatter_step_mm, gpu, threads, ...); histogram data only. MPI ranks each take their bins.\n";

static int run_scatter(recon_args *a, int argc, char **argv);

/* res's scatter estimate to path, as a per-bin file (TOF bins with it) that field "scatter"
 * reads back. Rank 0 only. */
static pet_status write_scatter(const char *path, const pet_job_result *res)
{
  const pet_h5_tof_info ti = {res->scatter_tof_bins, res->scatter_tof_bin_width_ps, 0};
  return pet_h5_write_histogram_tof(path, "", res->scatter_num_bins, &ti, res->scatter, NULL);
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
  int rc = parse_args(argc, argv, &a, sens_only, false);
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
  pet_job_result res;
  memset(&res, 0, sizeof res);
  recon_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.prog.quiet = cfg->quiet;
  ctx.prog.json = cfg->json_lines;
  ctx.prog.what = "recon";
  ctx.cfg = cfg;
  ctx.rank = rank;
  ctx.size = size;
  ctx.argc = argc;
  ctx.argv = argv;
  pet_job_hooks hooks = {&ctx, log_cb, layout_cb, subset_cb, progress_cb, NULL, NULL, NULL};
  if (!sens_only) {
    hooks.should_stop = should_stop;
    hooks.on_iteration = on_iteration;
    hooks.on_interrupt = on_interrupt;
  }
  const double t0 = pet_cli_now();
  /* every output (and --resume's checkpoint) before anything is loaded or computed */
  PET_TRY_GOTO(st, pet_comm_agree(comm, pet_cli_check_recon_outputs(cfg, sens_only, a.resume)), out);

  pet_job_opts jo = pet_job_opts_default();
  if (cfg->gpu) PET_TRY_GOTO(st, pet_comm_setup_gpu(comm, a.backend, &jo.gpu_device), out);
  if (!sens_only && cfg->frames[0]) {
    /* frames have no checkpoint and no poll point: a signal ends the run at once */
    pet_cli_signals_poll(false);
    st = pet_cli_recon_dynamic(cfg, comm, jo.gpu_device);
    goto out;
  }
  jo.slab_update = a.slab_update;
  jo.resume = a.resume ? PET_JOB_RESUME_REQUIRED : a.resume_if_present ? PET_JOB_RESUME_IF_PRESENT : PET_JOB_RESUME_NO;

  if (sens_only) {
    st = pet_job_sens(cfg, &jo, comm, &hooks, &res);
    if (st == PET_OK && rank == 0 && !cfg->quiet)
      printf("sens: wrote %s in %.2f s\n", cfg->save_sensitivity, pet_cli_now() - t0);
    goto out;
  }
  PET_TRY_GOTO(st, pet_job_recon(cfg, &jo, comm, &hooks, &res), out);
  if (rank == 0) st = pet_image_write_nifti(res.image, cfg->output);
  if (st == PET_OK && rank == 0 && cfg->scatter_output[0] && res.scatter) {
    st = write_scatter(cfg->scatter_output, &res); /* the final estimate */
    if (st == PET_OK && !cfg->quiet && !cfg->json_lines) printf("recon: wrote the scatter estimate to %s\n", cfg->scatter_output);
  }
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  /* a finished run needs no checkpoint: remove it so a requeue does not redo the last part */
  if (rank == 0 && cfg->checkpoint[0]) remove(cfg->checkpoint);
  if (rank == 0) {
    if (cfg->json_lines)
      printf("{\"event\":\"done\",\"output\":\"%s\",\"seconds\":%.3f,\"ranks\":%d,\"io_s\":%.4f,"
             "\"sens_s\":%.4f,\"osem_s\":%.4f,\"iterations\":%d,\"subsets\":%d}\n",
             cfg->output, pet_cli_now() - t0, size, res.io_s, res.sens_s, res.osem_s,
             cfg->iterations - res.start_iteration, cfg->subsets);
    else if (!cfg->quiet) {
      char alg[128] = "";
      if (cfg->algorithm != PET_OSEM_ALG_OSEM)
        snprintf(alg, sizeof alg, ", %s, prior %s beta %g", pet_osem_algorithm_name(cfg->algorithm),
                 pet_prior_kind_name(cfg->prior), (double)cfg->beta);
      printf("recon: wrote %s (%d iterations x %d subsets%s) in %.2f s on %d rank(s)\n", cfg->output,
             cfg->iterations, cfg->subsets, alg, pet_cli_now() - t0, size);
    }
  }
out:
  pet_job_result_free(&res);
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

static int run_scatter(recon_args *a, int argc, char **argv)
{
  pet_config *cfg = &a->cfg;
  static const char *const h5[] = {".h5", ".hdf5", NULL};
  if (pet_cli_check_output("scatter_output", cfg->scatter_output, h5) != PET_OK) return 2;
  pet_comm *comm = NULL;
  if (pet_comm_init(&argc, &argv, &comm) != PET_OK) return 1;
  const int rank = pet_comm_rank(comm);
  if (cfg->threads > 0) omp_set_num_threads(cfg->threads);
  pet_cli_signals_poll(false);
  recon_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.prog.quiet = cfg->quiet;
  ctx.prog.json = cfg->json_lines;
  ctx.prog.what = "scatter";
  ctx.cfg = cfg;
  ctx.rank = rank;
  ctx.size = pet_comm_size(comm);
  ctx.argc = argc;
  ctx.argv = argv;
  pet_job_hooks hooks = {&ctx, log_cb, NULL, NULL, progress_cb, NULL, NULL, NULL};
  pet_job_result res;
  memset(&res, 0, sizeof res);
  pet_image *img = NULL;
  const double t0 = pet_cli_now();
  pet_status st = pet_image_read_nifti(&img, a->image);
  if (st == PET_OK) st = pet_image_check_values(img, a->image, false);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  pet_job_opts jo = pet_job_opts_default();
  if (cfg->gpu) PET_TRY_GOTO(st, pet_comm_setup_gpu(comm, a->backend, &jo.gpu_device), out);
  PET_TRY_GOTO(st, pet_job_scatter(cfg, &jo, comm, &hooks, img, &res), out);
  if (rank == 0) {
    st = write_scatter(cfg->scatter_output, &res);
    if (st == PET_OK && !cfg->quiet)
      printf("scatter: wrote %s (%lld bins%s) in %.2f s\n", cfg->scatter_output, (long long)res.scatter_num_bins,
             res.scatter_tof_bins > 0 ? " x TOF bins" : "", pet_cli_now() - t0);
  }
  st = pet_comm_agree(comm, st);
out:
  pet_job_result_free(&res);
  pet_image_destroy(&img);
  pet_comm_finalize(&comm);
  return st == PET_OK ? 0 : (st == PET_ERR_CONFIG ? 2 : 1);
}

int pet_cli_scatter(int argc, char **argv)
{
  if (pet_cli_is_help(argc, argv)) {
    fputs(scatter_help, stdout);
    return 0;
  }
  recon_args *a = malloc(sizeof *a);
  if (a == NULL) return 1;
  int rc = parse_args(argc, argv, a, false, true);
  if (rc == 0) rc = run_scatter(a, argc, argv);
  free(a);
  return rc;
}

int pet_cli_recon(int argc, char **argv) { return run_recon(argc, argv, false); }
int pet_cli_sens(int argc, char **argv) { return run_recon(argc, argv, true); }
