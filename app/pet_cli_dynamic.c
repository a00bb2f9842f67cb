#include "pet_cli_dynamic.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_cli_check.h"
#include "pet_job_inputs.h"
#include "pet_cli_util.h"
#include "pet_dyn_recon.h"
#include "pet_dynamic.h"
#include "pet_h5.h"
#include "pet_nifti.h"
#include "pet_yrt_io.h"

typedef struct dyn_source {
  const char *path; /* HDF5 file, or NULL: all events in `all` */
  bool tof;
  const pet_dyn_frame *frames;
  pet_listmode *all;   /* .lmDat: the whole (sorted) list-mode */
  pet_listmode *frame; /* HDF5: the current frame's events */
  int64_t bytes;
} dyn_source;

static pet_status src_load(void *ctx, int f, pet_osem_data *d)
{
  dyn_source *s = ctx;
  const pet_dyn_frame *fr = &s->frames[f];
  if (!s->path) {
    d->listmode = s->all;
    d->lm_first = fr->first;
    d->lm_count = fr->count;
    return PET_OK;
  }
  /* HDF5: read the frame's events (found through the time index) */
  PET_TRY(pet_listmode_create_owned(&s->frame, fr->count > 0 ? fr->count : 1, s->tof));
  if (fr->count > 0)
    PET_TRY(pet_h5_read_listmode_range(s->path, fr->first, fr->count, s->frame->time_ms, s->frame->d1,
                                       s->frame->d2, s->tof ? s->frame->tof_ps : NULL));
  s->bytes += fr->count * (s->tof ? 16 : 12);
  d->listmode = s->frame;
  d->lm_first = 0;
  d->lm_count = fr->count;
  return PET_OK;
}

static void src_release(void *ctx, int f)
{
  (void)f;
  dyn_source *s = ctx;
  pet_listmode_destroy(&s->frame);
}

typedef struct frame_log {
  bool quiet;
  int num_frames;
} frame_log;

static void on_frame(void *ctx, int f, int64_t events, double seconds)
{
  frame_log *l = ctx;
  if (!l->quiet)
    fprintf(stderr, "petrel: frame %d/%d: %lld events in %.2f s (%.3g events/s)\n", f + 1, l->num_frames,
            (long long)events, seconds, seconds > 0 ? (double)events / seconds : 0.0);
}

/* out.nii.gz -> out<suffix> (the extension replaced) */
static void stem_with(char *buf, size_t len, const char *path, const char *suffix)
{
  const char *ext = strstr(path, ".nii");
  size_t stem = ext ? (size_t)(ext - path) : strlen(path);
  snprintf(buf, len, "%.*s%s", (int)stem, path, suffix);
}

static pet_status write_outputs(const pet_config *cfg, const pet_dyn_frame *fr, int nf, pet_image *const *x)
{
  char path[PET_CONFIG_PATH_MAX + 64];
  if (cfg->frame_files) {
    const char *ext = strstr(cfg->output, ".nii");
    for (int f = 0; f < nf; ++f) {
      char suf[64];
      snprintf(suf, sizeof suf, "_frame%03d%s", f, ext ? ext : ".nii.gz");
      stem_with(path, sizeof path, cfg->output, suf);
      PET_TRY(pet_image_write_nifti(x[f], path));
    }
  } else {
    PET_TRY(pet_image_write_nifti_4d((const pet_image *const *)x, nf, cfg->output));
  }
  stem_with(path, sizeof path, cfg->output, ".json");
  PET_TRY(pet_dyn_write_sidecar(path, fr, nf, cfg->half_life_s));
  if (cfg->tac_mask[0]) {
    pet_image *mask = NULL;
    int nl = 0;
    int32_t *ids = NULL;
    double *means = NULL;
    const bool was = pet_error_set_print(false); /* printed once, below */
    pet_status st = pet_image_read_nifti(&mask, cfg->tac_mask);
    pet_error_set_print(was);
    if (st != PET_OK) return PET_ERROR(st, "field \"tac_mask\": %s", pet_last_error());
    st = pet_dyn_tac((const pet_image *const *)x, nf, mask, &nl, &ids, &means);
    if (st != PET_OK) st = PET_ERROR(st, "%s: field \"tac_mask\": %s", cfg->tac_mask, pet_last_error());
    if (st == PET_OK) {
      stem_with(path, sizeof path, cfg->output, "_tac.csv");
      st = pet_dyn_write_tac_csv(path, fr, nf, nl, ids, means);
    }
    if (st == PET_OK) {
      stem_with(path, sizeof path, cfg->output, "_tac.png");
      st = pet_dyn_write_tac_png(path, fr, nf, nl, means);
    }
    free(ids);
    free(means);
    pet_image_destroy(&mask);
    PET_TRY(st);
  }
  return PET_OK;
}

pet_status pet_cli_recon_dynamic(const pet_config *cfg, pet_comm *comm, int device)
{
  const int rank = pet_comm_rank(comm), size = pet_comm_size(comm);
  const double t_start = pet_cli_now();
  pet_status st = PET_OK;
  pet_job_inputs in;
  memset(&in, 0, sizeof in);
  pet_frame_def *defs = NULL;
  pet_dyn_frame *fr = NULL;
  pet_image *sens = NULL, **x = NULL;
  dyn_source src;
  memset(&src, 0, sizeof src);
  int nf = 0;
  int64_t n = 0, outside = 0;
  uint32_t t_first = 0, t_last = 0;

  /* scanner, grid and per-bin corrections; the events come frame by frame */
  st = pet_job_load_inputs(cfg, comm, false, pet_cli_log_hooks(), &in);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  pet_data_format fmt = PET_DATA_AUTO;
  pet_data_kind kind = PET_KIND_NONE;
  st = cfg->data[0] ? pet_job_detect_format(cfg->data, cfg->data_format, &fmt, &kind)
                    : PET_ERROR(PET_ERR_CONFIG, "field \"data\" is required for a reconstruction");
  if (st == PET_OK && kind != PET_KIND_LISTMODE)
    st = PET_ERROR(PET_ERR_CONFIG, "%s: field \"frames\" needs list-mode data (this is a histogram)", cfg->data);
  if (st == PET_OK) st = pet_config_frame_defs(cfg, &defs, &nf);
  if (st == PET_OK && nf < 1) st = PET_ERROR(PET_ERR_CONFIG, "field \"frames\": no frames");
  if (st == PET_OK) {
    fr = calloc((size_t)nf, sizeof *fr);
    if (!fr) st = PET_ERROR(PET_ERR_NOMEM, "out of memory for %d frames", nf);
  }
  if (st == PET_OK) {
    for (int f = 0; f < nf; ++f) {
      fr[f].start_s = defs[f].start_s;
      fr[f].duration_s = defs[f].duration_s;
      fr[f].factor = defs[f].factor;
    }
    st = pet_dyn_frames_init(fr, nf);
  }
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);

  /* each frame's events: the HDF5 time index (a few small reads per frame), or a binary
   * search over the sorted times of a .lmDat held in memory */
  if (fmt == PET_DATA_HDF5) {
    bool tof = false;
    src.path = cfg->data;
    st = pet_h5_listmode_info(cfg->data, &n, &tof, NULL, 0);
    if (st == PET_OK && cfg->tof && !tof)
      st = PET_ERROR(PET_ERR_CONFIG, "%s: field \"tof\" is true but the list-mode has no TOF values", cfg->data);
    src.tof = cfg->tof && tof;
    /* frames are found through the time index: the time column must be sorted and the index
     * agree with it (rank 0 reads the column; the others wait for its verdict) */
    if (st == PET_OK && rank == 0) {
      st = pet_h5_listmode_check_times(cfg->data, NULL);
      if (st != PET_OK)
        st = PET_ERROR(st, "field \"frames\": dynamic frames need time-sorted events: %s", pet_last_error());
    }
    st = pet_comm_agree(comm, st);
    int64_t inside = 0;
    for (int f = 0; f < nf && st == PET_OK; ++f) {
      st = pet_h5_listmode_find_window(cfg->data, fr[f].t0_ms, fr[f].t1_ms, &fr[f].first, &fr[f].count);
      inside += fr[f].count;
    }
    outside = n - inside;
    if (st == PET_OK && n > 0) st = pet_h5_read_listmode_range(cfg->data, 0, 1, &t_first, NULL, NULL, NULL);
    if (st == PET_OK && n > 0) st = pet_h5_read_listmode_range(cfg->data, n - 1, 1, &t_last, NULL, NULL, NULL);
  } else {
    st = pet_listmode_read_yrt(&src.all, in.scanner, cfg->data, cfg->listmode_tof);
    if (st == PET_OK) st = pet_listmode_check_sorted(src.all, NULL);
    if (st != PET_OK) st = PET_ERROR(st, "%s: dynamic frames need time-sorted events: %s", cfg->data, pet_last_error());
    if (st == PET_OK) {
      n = src.all->num_events;
      st = pet_dyn_find_events_sorted(src.all->time_ms, n, fr, nf, &outside);
      if (n > 0) {
        t_first = src.all->time_ms[0];
        t_last = src.all->time_ms[n - 1];
      }
    }
  }
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  src.frames = fr;

  pet_osem_opts o;
  PET_TRY_GOTO(st, pet_job_osem_opts(cfg, in.scanner, &o), out);
  pet_reducer red = pet_comm_reducer(comm);
  o.reducer = &red;
  o.gpu_device = device;

  /* the sensitivity, once over all ranks and all bins, shared by every frame */
  st = pet_image_create_owned(&sens, in.image, PET_HOST);
  if (st == PET_OK && cfg->sensitivity[0]) {
    pet_image *full = NULL;
    st = pet_job_read_image_checked(cfg->sensitivity, "sensitivity", PET_JOB_IMAGE_NONNEG, &full);
    if (st == PET_OK && !pet_image_params_equal(&full->params, &in.image))
      st = PET_ERROR(PET_ERR_CONFIG, "%s: field \"sensitivity\": its grid does not match the image grid",
                     cfg->sensitivity);
    if (st == PET_OK) st = pet_image_copy(sens, full);
    pet_image_destroy(&full);
  } else if (st == PET_OK) {
    pet_osem_data ds; /* the factors over all bins, no events (on the GPU with --gpu) */
    pet_job_osem_data(&in, &ds);
    ds.histogram = NULL;
    ds.listmode = NULL;
    pet_osem_opts os = o;
    os.subsets = 1;
    st = pet_osem_sensitivity(&ds, &os, &sens, 1);
    if (st == PET_OK && cfg->save_sensitivity[0] && rank == 0) st = pet_image_write_nifti(sens, cfg->save_sensitivity);
  }
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);

  x = calloc((size_t)nf, sizeof *x);
  if (!x) st = PET_ERROR(PET_ERR_NOMEM, "out of memory");
  for (int f = 0; f < nf && st == PET_OK; ++f) st = pet_image_create_owned(&x[f], in.image, PET_HOST);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);

  pet_dyn_plan plan;
  PET_TRY_GOTO(st, pet_dyn_plan_make(nf, size, rank, &plan), out);
  if (rank == 0 && !cfg->quiet) {
    char line[512];
    pet_dyn_plan_describe(&plan, line, sizeof line);
    int64_t inside = n - outside;
    fprintf(stderr, "petrel: dynamic: %s\n", line);
    fprintf(stderr,
            "petrel: dynamic: %d frame(s), %lld of %lld events in frames, %lld outside every frame (ignored); "
            "%s; decay correction %s; %s, image %dx%dx%d, %d thread(s) per rank\n",
            nf, (long long)inside, (long long)n, (long long)outside,
            fmt == PET_DATA_HDF5 ? "events per frame from the HDF5 time index" : "events per frame by binary search",
            cfg->half_life_s > 0 ? "on" : "off (no half_life_s)", cfg->gpu ? "GPU" : "CPU", in.image.nx,
            in.image.ny, in.image.nz, omp_get_max_threads());
    for (int f = 0; f < nf; ++f)
      fprintf(stderr, "petrel: dynamic: frame %d: %.6g s + %.6g s, %lld events, decay factor %.6g, factor %.6g\n",
              f + 1, fr[f].start_s, fr[f].duration_s, (long long)fr[f].count,
              pet_dyn_decay_factor(fr[f].start_s, fr[f].duration_s, cfg->half_life_s), fr[f].factor);
  }

  pet_dyn_opts dy;
  memset(&dy, 0, sizeof dy);
  dy.frames = fr;
  dy.num_frames = nf;
  dy.half_life_s = cfg->half_life_s;
  /* per-bin randoms/scatter cover the acquisition from the first to the last event */
  dy.add_duration_s = n > 0 ? (t_last - t_first + 1) / 1000.0 : 0.0;
  frame_log fl = {cfg->quiet, nf};
  dy.on_frame = on_frame;
  dy.cb_ctx = &fl;
  pet_osem_data d;
  pet_job_osem_data(&in, &d);
  pet_dyn_source s;
  s.load = src_load;
  s.release = src_release;
  s.ctx = &src;
  const double t_rec = pet_cli_now();
  PET_TRY_GOTO(st, pet_dyn_reconstruct(comm, &d, &o, &sens, &dy, &s, x, NULL), out);
  const double rec_s = pet_cli_now() - t_rec;
  if (rank == 0) st = write_outputs(cfg, fr, nf, x);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  if (rank == 0) {
    const int64_t inside = n - outside;
    if (cfg->json_lines)
      printf("{\"event\":\"done\",\"output\":\"%s\",\"frames\":%d,\"events\":%lld,\"outside\":%lld,"
             "\"seconds\":%.3f,\"events_per_s\":%.6g,\"ranks\":%d}\n",
             cfg->output, nf, (long long)inside, (long long)outside, pet_cli_now() - t_start,
             rec_s > 0 ? (double)inside * cfg->iterations / rec_s : 0.0, size);
    else if (!cfg->quiet)
      printf("recon: wrote %s (%d frames, %d iterations x %d subsets, %lld events, %lld outside the frames) in "
             "%.2f s on %d rank(s): %.3g events/s (x iterations)\n",
             cfg->output, nf, cfg->iterations, cfg->subsets, (long long)inside, (long long)outside,
             pet_cli_now() - t_start, size, rec_s > 0 ? (double)inside * cfg->iterations / rec_s : 0.0);
  }
out:
  if (x) {
    for (int f = 0; f < nf; ++f) pet_image_destroy(&x[f]);
    free(x);
  }
  pet_image_destroy(&sens);
  pet_listmode_destroy(&src.all);
  pet_listmode_destroy(&src.frame);
  free(fr);
  free(defs);
  pet_job_free_inputs(&in);
  return st;
}
