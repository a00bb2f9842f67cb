/* petrel fwd / back / convert: projections and file conversions from the command line. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_cli.h"
#include "pet_cli_check.h"
#include "pet_job_inputs.h"
#include "pet_cli_signal.h"
#include "pet_cli_util.h"
#include "pet_fov.h"
#include "pet_gpu.h"
#include "pet_h5.h"
#include "pet_nifti.h"
#include "pet_yrt_io.h"
#include "pet_project_batch.h"

typedef struct proj_args {
  const char *scanner, *image, *data, *out, *like, *projector, *in;
  int64_t threads, num_rays, device, vram_mb;
  bool gpu, tof, quiet, histogram;
  pet_image_params grid;
  bool have_grid;
} proj_args;

static bool ends_with(const char *s, const char *suffix)
{
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The spellings petrel recon accepts name the same options here: --num_rays or --num-rays,
 * --vram_budget_mb or --vram-budget, --output or --out, --tof or --tof true|false. */
static const char *canonical(const char *arg, char *buf, size_t len)
{
  snprintf(buf, len, "%s", arg);
  for (char *c = buf + 2; *c; ++c)
    if (*c == '_') *c = '-';
  if (!strcmp(buf, "--vram-budget-mb")) return "--vram-budget";
  if (!strcmp(buf, "--output")) return "--out";
  return buf;
}

static bool is_bool(const char *v) { return v && (!strcmp(v, "true") || !strcmp(v, "false")); }

static int parse(int argc, char **argv, proj_args *a, const char *cmd)
{
  memset(a, 0, sizeof *a);
  a->projector = "S";
  a->vram_mb = 0;
  for (int i = 1; i < argc; ++i) {
    char kb[64];
    const char *k = canonical(argv[i], kb, sizeof kb), *v = i + 1 < argc ? argv[i + 1] : NULL;
    pet_status st = PET_OK;
    double f = 0;
    if (!strcmp(k, "--gpu") || !strcmp(k, "--tof") || !strcmp(k, "--histogram")) {
      bool on = true;
      if (is_bool(v)) on = !strcmp(argv[++i], "true");
      if (!strcmp(k, "--gpu")) a->gpu = on;
      else if (!strcmp(k, "--tof")) a->tof = on;
      else a->histogram = on;
    } else if (!strcmp(k, "--quiet")) a->quiet = true;
    else if (!v) {
      fprintf(stderr, "petrel %s: option %s needs a value (petrel %s --help)\n", cmd, argv[i], cmd);
      return 2;
    } else if (!strcmp(k, "--scanner")) a->scanner = argv[++i];
    else if (!strcmp(k, "--image")) a->image = argv[++i];
    else if (!strcmp(k, "--data")) a->data = argv[++i];
    else if (!strcmp(k, "--in")) a->in = argv[++i];
    else if (!strcmp(k, "--out")) a->out = argv[++i];
    else if (!strcmp(k, "--like")) a->like = argv[++i];
    else if (!strcmp(k, "--projector")) a->projector = argv[++i];
    else if (!strcmp(k, "--threads")) st = pet_cli_parse_int(k, argv[++i], 0, 4096, &a->threads);
    else if (!strcmp(k, "--num-rays")) st = pet_cli_parse_int(k, argv[++i], 1, 1024, &a->num_rays);
    else if (!strcmp(k, "--device")) st = pet_cli_parse_int(k, argv[++i], 0, 1024, &a->device);
    else if (!strcmp(k, "--vram-budget")) st = pet_cli_parse_int(k, argv[++i], 1, INT64_C(1) << 30, &a->vram_mb);
    else if (!strcmp(k, "--grid")) {
      float nx, ny, nz, lx, ly, lz;
      if (sscanf(argv[++i], "%f,%f,%f,%f,%f,%f", &nx, &ny, &nz, &lx, &ly, &lz) != 6) {
        fprintf(stderr, "petrel %s: --grid: expected nx,ny,nz,length_x,length_y,length_z\n", cmd);
        return 2;
      }
      a->grid = pet_image_params_make((int32_t)nx, (int32_t)ny, (int32_t)nz, lx, ly, lz);
      a->have_grid = true;
      if (pet_image_params_check(&a->grid) != PET_OK) return 2;
    } else {
      fprintf(stderr, "petrel %s: unknown option '%s' (petrel %s --help)\n", cmd, argv[i], cmd);
      return 2;
    }
    (void)f;
    if (st != PET_OK) return 2;
  }
  if (a->threads > 0) omp_set_num_threads((int)a->threads);
  return 0;
}

/* 0 done, 2 bad flag or value, 128+signal stopped by a signal (nothing written), else 1 */
static int exit_code(pet_status st)
{
  if (st == PET_ERR_INTERRUPTED) {
    fprintf(stderr, "petrel: stopped by %s; nothing was written\n", pet_cli_signal_name(pet_cli_stop_signal()));
    return pet_cli_signal_exit_code();
  }
  return st == PET_OK ? 0 : (st == PET_ERR_CONFIG ? 2 : 1);
}

static pet_status projector_params(const proj_args *a, const pet_scanner *s, pet_projector_params *p)
{
  *p = pet_projector_params_default();
  const bool was = pet_error_set_print(false); /* printed once, below */
  const pet_status st = pet_projector_params_set_name(p, a->projector);
  pet_error_set_print(was);
  if (st != PET_OK) return PET_ERROR(PET_ERR_CONFIG, "--projector: %s", pet_last_error());
  if (a->num_rays > 0) p->num_rays = (int32_t)a->num_rays;
  p->crystal_size_trans = s->params.crystal_size_trans;
  p->crystal_size_z = s->params.crystal_size_z;
  pet_projector_params_set_fov(p, &s->params);
  p->num_threads = (int32_t)a->threads;
  p->tof = a->tof ? 1 : 0;
  p->tof_fwhm_ps = s->params.tof_fwhm_ps;
  if (a->tof)
    PET_CHECK(s->params.tof_fwhm_ps > 0, PET_ERR_CONFIG,
              "--tof: the scanner %s has no TOF resolution (tofResolution_ps)", s->params.name);
  return pet_projector_params_check(p);
}

/* Writes a histogram to .his (YRT-PET) or HDF5 by the extension. */
static pet_status write_histogram_file(const pet_histogram *h, const char *path)
{
  PET_CHECK(h->num_tof_bins == 0 || !ends_with(path, ".his"), PET_ERR_CONFIG,
            "--out %s: a TOF histogram (numTOFBins = %d) is written to .h5 only (.his has no TOF bins)", path,
            (int)h->num_tof_bins);
  if (ends_with(path, ".his")) return pet_histogram_write_yrt(h, path);
  PET_CHECK(ends_with(path, ".h5") || ends_with(path, ".hdf5"), PET_ERR_CONFIG,
            "--out %s: use .his (YRT-PET) or .h5 (HDF5)", path);
  const pet_h5_tof_info ti = {h->num_tof_bins, h->tof_bin_width_ps, 0};
  return pet_h5_write_histogram_tof(path, h->scanner->params.name, h->layout->num_bins, &ti, h->data, NULL);
}

static pet_status fwd_gpu(const proj_args *a, const pet_projector_params *pp, const pet_image *img,
                          pet_histogram *h)
{
  pet_status st = PET_OK;
  pet_image *dimg = NULL;
  pet_projlist_device *pl = NULL;
  PET_TRY(pet_gpu_set_device((int)a->device));
  PET_TRY_GOTO(st, pet_image_create_owned(&dimg, img->params, PET_DEVICE), out);
  PET_TRY_GOTO(st, pet_image_copy(dimg, img), out);
  PET_TRY_GOTO(st, pet_projlist_device_create(&pl, h->scanner, h, NULL, 0, a->vram_mb * 1048576, 1, PET_OWNED), out);
  PET_TRY_GOTO(st, pet_projlist_device_allocate_values(pl), out);
  const int64_t cap = pet_projlist_device_batch_capacity(pl), nb = pet_projlist_device_num_batches(pl, 0);
  for (int64_t b = 0; b < nb; ++b) {
    if (b > 0 && pet_cli_should_stop(NULL)) {
      st = PET_ERR_INTERRUPTED; /* reported by the caller */
      goto out;
    }
    PET_TRY_GOTO(st, pet_projlist_device_prepare_batch(pl, 0, b), out);
    PET_TRY_GOTO(st, pet_projlist_device_fwd(pl, pp, dimg), out);
    int64_t n = pet_projlist_device_loaded_batch_size(pl);
    PET_TRY_GOTO(st, pet_gpu_memcpy(h->data + b * cap, pet_projlist_device_values(pl), (size_t)n * sizeof(float), 1),
                 out);
  }
out:
  pet_projlist_device_destroy(&pl);
  pet_image_destroy(&dimg);
  return st;
}

int pet_cli_fwd(int argc, char **argv)
{
  if (pet_cli_is_help(argc, argv)) {
    printf("usage: petrel fwd --scanner scanner.json --image img.nii[.gz] --out proj.{h5,his}\n"
           "                  [--projector S|MRS|DD] [--num-rays N] [--threads N]\n"
           "                  [--gpu [--device N] [--vram-budget MB]]\n"
           "  Forward-projects an image into the scanner's fully-3D histogram (every bin: line\n"
           "  integrals of the image in activity x mm).\n"
           "  Options also take recon's spellings (--num_rays, --vram_budget_mb, --output).\n"
           "  exit codes: 0 done, 1 error, 2 bad flag or value, 128+N stopped by signal N (130 for\n"
           "  Ctrl-C): nothing is written.\n");
    return 0;
  }
  proj_args a;
  int rc = parse(argc, argv, &a, "fwd");
  if (rc) return rc;
  if (!a.scanner || !a.image || !a.out) {
    fprintf(stderr, "petrel fwd: --scanner, --image and --out are required\n");
    return 2;
  }
  static const char *const fwd_exts[] = {".his", ".h5", ".hdf5", NULL};
  if (pet_cli_check_output("--out", a.out, fwd_exts) != PET_OK) return 2;
  double t0 = pet_cli_now();
  pet_scanner *s = NULL;
  pet_histogram *h = NULL;
  pet_image *img = NULL;
  pet_status st = PET_OK;
  pet_projector_params pp;
  PET_TRY_GOTO(st, pet_scanner_read_json(&s, a.scanner), out);
  PET_TRY_GOTO(st, projector_params(&a, s, &pp), out);
  PET_CHECK_GOTO(st, !pp.tof, PET_ERR_CONFIG, out, "--tof: histograms are not TOF-binned");
  PET_TRY_GOTO(st, pet_job_read_image_checked(a.image, "--image", PET_JOB_IMAGE_NONNEG, &img), out);
  PET_TRY_GOTO(st, pet_histogram_create_owned(&h, s), out);
  if (a.gpu) {
    /* polled between device batches */
    pet_cli_signals_poll(true);
    st = pet_cli_signals_poll_end(fwd_gpu(&a, &pp, img, h));
    if (st != PET_OK) goto out;
  } else {
    pet_cli_eta eta;
    pet_batch_cb cb = pet_cli_batch_cb(&eta, "fwd", "bins", a.quiet, false);
    pet_cli_signals_poll(true);
    st = pet_histo_project_fwd_cpu_cb(h->layout, s, &pp, img, 0, h->layout->num_bins, h->data, &cb);
    st = pet_cli_signals_poll_end(st);
    if (st != PET_OK) goto out;
  }
  PET_TRY_GOTO(st, write_histogram_file(h, a.out), out);
  if (!a.quiet)
    printf("fwd: %lld bins -> %s in %.3f s (%s)\n", (long long)h->layout->num_bins, a.out, pet_cli_now() - t0,
           a.gpu ? "GPU" : "CPU");
out:
  pet_histogram_destroy(&h);
  pet_image_destroy(&img);
  pet_scanner_destroy(&s);
  return exit_code(st);
}

static pet_status back_gpu(const proj_args *a, const pet_projector_params *pp, const pet_histogram *h,
                           const pet_listmode *lm, const pet_scanner *s, pet_image *img)
{
  pet_status st = PET_OK;
  pet_image *dimg = NULL;
  pet_projlist_device *pl = NULL;
  float *ones = NULL;
  PET_TRY(pet_gpu_set_device((int)a->device));
  PET_TRY_GOTO(st, pet_image_create_owned(&dimg, img->params, PET_DEVICE), out);
  PET_TRY_GOTO(st, pet_projlist_device_create(&pl, s, h, lm, pp->tof, a->vram_mb * 1048576, 1, PET_OWNED), out);
  PET_TRY_GOTO(st, pet_projlist_device_allocate_values(pl), out);
  const int64_t cap = pet_projlist_device_batch_capacity(pl), nb = pet_projlist_device_num_batches(pl, 0);
  if (lm) {
    ones = malloc((size_t)cap * sizeof(float));
    PET_CHECK_GOTO(st, ones != NULL, PET_ERR_NOMEM, out, "back: out of memory");
    for (int64_t i = 0; i < cap; ++i) ones[i] = 1.0f;
  }
  for (int64_t b = 0; b < nb; ++b) {
    if (b > 0 && pet_cli_should_stop(NULL)) {
      st = PET_ERR_INTERRUPTED;
      goto out;
    }
    PET_TRY_GOTO(st, pet_projlist_device_prepare_batch(pl, 0, b), out);
    int64_t n = pet_projlist_device_loaded_batch_size(pl);
    PET_TRY_GOTO(st, pet_gpu_memcpy(pet_projlist_device_values(pl), lm ? ones : h->data + b * cap,
                                    (size_t)n * sizeof(float), 0),
                 out);
    PET_TRY_GOTO(st, pet_projlist_device_back(pl, pp, dimg), out);
  }
  PET_TRY_GOTO(st, pet_image_copy(img, dimg), out);
out:
  free(ones);
  pet_projlist_device_destroy(&pl);
  pet_image_destroy(&dimg);
  return st;
}

int pet_cli_back(int argc, char **argv)
{
  if (pet_cli_is_help(argc, argv)) {
    printf("usage: petrel back --scanner scanner.json --data proj.{h5,his,lmDat} --out img.nii[.gz]\n"
           "                   [--like img.nii | --grid nx,ny,nz,lx,ly,lz] [--projector S|MRS|DD]\n"
           "                   [--num-rays N] [--tof] [--threads N] [--gpu [--device N] [--vram-budget MB]]\n"
           "  Back-projects a histogram (each bin's value) or a list-mode (1 per event, TOF with --tof)\n"
           "  into an image (the grid of --like, --grid, or the scanner's default grid). Histogram values\n"
           "  may be negative (a gradient, a difference); NaN and infinities are refused.\n"
           "  Options also take recon's spellings (--num_rays, --vram_budget_mb, --output, --tof true).\n"
           "  exit codes: 0 done, 1 error, 2 bad flag or value, 128+N stopped by signal N (130 for\n"
           "  Ctrl-C): nothing is written.\n");
    return 0;
  }
  proj_args a;
  int rc = parse(argc, argv, &a, "back");
  if (rc) return rc;
  if (!a.scanner || !a.data || !a.out) {
    fprintf(stderr, "petrel back: --scanner, --data and --out are required\n");
    return 2;
  }
  static const char *const back_exts[] = {".nii", ".nii.gz", NULL};
  if (pet_cli_check_output("--out", a.out, back_exts) != PET_OK) return 2;
  double t0 = pet_cli_now();
  pet_status st = PET_OK;
  pet_job_inputs in;
  pet_config cfg;
  pet_image *img = NULL, *like = NULL;
  pet_projector_params pp;
  pet_config_defaults(&cfg);
  snprintf(cfg.scanner, sizeof cfg.scanner, "%s", a.scanner);
  snprintf(cfg.data, sizeof cfg.data, "%s", a.data);
  cfg.listmode_tof = a.tof;
  cfg.tof = a.tof;
  memset(&in, 0, sizeof in);
  /* a histogram to back-project may be signed (a gradient, a difference) */
  PET_TRY_GOTO(st, pet_job_load_inputs_signed(&cfg, NULL, pet_cli_log_hooks(), &in), out);
  PET_TRY_GOTO(st, projector_params(&a, in.scanner, &pp), out);
  pet_image_params ip = in.image;
  if (a.like) {
    PET_TRY_GOTO(st, pet_image_read_nifti(&like, a.like), out);
    ip = like->params;
  } else if (a.have_grid) {
    ip = a.grid;
  }
  PET_TRY_GOTO(st, pet_image_create_owned(&img, ip, PET_HOST), out);
  const pet_histogram *h = in.kind == PET_KIND_HISTOGRAM ? in.histogram : NULL;
  const pet_listmode *lm = in.kind == PET_KIND_LISTMODE ? in.listmode : NULL;
  PET_CHECK_GOTO(st, !pp.tof || lm, PET_ERR_CONFIG, out, "--tof: needs list-mode data with TOF");
  PET_CHECK_GOTO(st, !h || h->num_tof_bins == 0, PET_ERR_UNSUPPORTED, out,
                 "%s: a TOF histogram (%d TOF bins): petrel back does not project TOF bins yet", a.data,
                 h ? (int)h->num_tof_bins : 0);
  if (a.gpu) {
    pet_cli_signals_poll(true);
    st = pet_cli_signals_poll_end(back_gpu(&a, &pp, h, lm, in.scanner, img));
    if (st != PET_OK) goto out;
  } else {
    pet_cli_eta eta;
    pet_batch_cb cb = pet_cli_batch_cb(&eta, "back", h ? "bins" : "events", a.quiet, false);
    pet_cli_signals_poll(true);
    if (h)
      st = pet_histo_project_back_cpu(in.layout, in.scanner, &pp, h->data, 1, 0, img, &cb);
    else
      st = pet_listmode_project_back_cpu(lm, in.scanner, &pp, NULL, 0, lm->num_events, img, &cb);
    st = pet_cli_signals_poll_end(st);
    if (st != PET_OK) goto out;
  }
  PET_TRY_GOTO(st, pet_image_write_nifti(img, a.out), out);
  if (!a.quiet)
    printf("back: %s -> %s (%dx%dx%d) in %.3f s (%s)\n", a.data, a.out, ip.nx, ip.ny, ip.nz, pet_cli_now() - t0,
           a.gpu ? "GPU" : "CPU");
out:
  pet_image_destroy(&img);
  pet_image_destroy(&like);
  pet_job_free_inputs(&in);
  return exit_code(st);
}

int pet_cli_convert(int argc, char **argv)
{
  if (pet_cli_is_help(argc, argv)) {
    printf("usage: petrel convert --scanner scanner.json --in FILE --out FILE [--tof] [--histogram]\n"
           "  Converts between petrel's HDF5 and YRT-PET's files, and histograms list-mode data:\n"
           "    .lmDat or list-mode .h5  ->  .his, or histogram .h5 with --histogram (events per bin)\n"
           "    .lmDat <-> list-mode .h5;  .his <-> histogram .h5\n"
           "  --tof: the .lmDat input carries a float32 TOF per event (not stored in the file).\n"
           "  TOF list-mode and a scanner JSON with numTOFBins and tofBinWidth_ps give a TOF histogram\n"
           "  (.h5 only: TOF bins the fastest axis).\n");
    return 0;
  }
  proj_args a;
  int rc = parse(argc, argv, &a, "convert");
  if (rc) return rc;
  if (!a.scanner || !a.in || !a.out) {
    fprintf(stderr, "petrel convert: --scanner, --in and --out are required\n");
    return 2;
  }
  static const char *const convert_exts[] = {".his", ".h5", ".hdf5", ".lmDat", NULL};
  if (pet_cli_check_output("--out", a.out, convert_exts) != PET_OK) return 2;
  pet_status st = PET_OK;
  pet_job_inputs in;
  pet_config cfg;
  pet_histogram *h = NULL;
  pet_config_defaults(&cfg);
  snprintf(cfg.scanner, sizeof cfg.scanner, "%s", a.scanner);
  snprintf(cfg.data, sizeof cfg.data, "%s", a.in);
  cfg.listmode_tof = a.tof;
  memset(&in, 0, sizeof in);
  PET_TRY_GOTO(st, pet_job_load_inputs(&cfg, NULL, true, pet_cli_log_hooks(), &in), out);
  /* .lmDat is list-mode, .his a histogram; an HDF5 output keeps the input's kind unless
   * --histogram asks to histogram a list-mode */
  const bool out_lm = ends_with(a.out, ".lmDat") || (in.kind == PET_KIND_LISTMODE && !a.histogram &&
                                                      !ends_with(a.out, ".his"));
  if (in.kind == PET_KIND_LISTMODE && out_lm) {
    const pet_listmode *lm = in.listmode;
    if (ends_with(a.out, ".lmDat"))
      st = pet_listmode_write_yrt(lm, a.out);
    else
      st = pet_h5_write_listmode(a.out, in.scanner->params.name, lm->num_events, lm->time_ms, lm->d1, lm->d2,
                                 lm->has_tof ? lm->tof_ps : NULL);
  } else if (in.kind == PET_KIND_LISTMODE) {
    /* TOF list-mode and a scanner with TOF bins: a TOF histogram (its TOF fastest) */
    const pet_listmode *lm = in.listmode;
    const bool tofh = lm->has_tof && in.scanner->params.num_tof_bins > 0;
    PET_TRY_GOTO(st, pet_histogram_create(&h, in.scanner, PET_OWNED, PET_HOST), out);
    if (tofh)
      PET_TRY_GOTO(st, pet_histogram_set_tof_bins(h, in.scanner->params.num_tof_bins, in.scanner->params.tof_bin_width_ps),
                   out);
    PET_TRY_GOTO(st, pet_histogram_allocate(h), out);
    int64_t skipped = 0;
    pet_cli_eta eta;
    pet_batch_cb cb = pet_cli_batch_cb(&eta, "convert", "events", a.quiet, false);
    const int64_t ne = lm->num_events, chunk = (int64_t)1 << 20;
    pet_cli_signals_poll(true);
    for (int64_t e = 0; e < ne && st == PET_OK; e += chunk) {
      const int64_t n = ne - e < chunk ? ne - e : chunk;
      int64_t sk = 0;
      st = pet_histogram_add_events(h, lm->d1 + e, lm->d2 + e, tofh ? lm->tof_ps + e : NULL, n, &sk);
      skipped += sk;
      pet_batch_cb_report(&cb, e + n, ne);
      if (st == PET_OK && e + n < ne && pet_batch_cb_stop(&cb)) st = PET_ERR_INTERRUPTED;
    }
    st = pet_cli_signals_poll_end(st);
    if (st != PET_OK) goto out;
    pet_error_clear();
    if (skipped && !a.quiet)
      fprintf(stderr, "petrel: convert: %lld events between detector pairs the histogram does not hold%s were skipped\n",
              (long long)skipped, tofh ? " or outside its TOF bins" : "");
    if (tofh && !a.quiet)
      printf("convert: a TOF histogram of %d TOF bins of %g ps\n", (int)h->num_tof_bins, (double)h->tof_bin_width_ps);
    st = write_histogram_file(h, a.out);
  } else {
    PET_CHECK_GOTO(st, !out_lm, PET_ERR_CONFIG, out, "--out %s: a histogram cannot become list-mode", a.out);
    st = write_histogram_file(in.histogram, a.out);
  }
  if (st == PET_OK && !a.quiet) printf("convert: %s -> %s\n", a.in, a.out);
out:
  pet_histogram_destroy(&h);
  pet_job_free_inputs(&in);
  return exit_code(st);
}
