/* petrel demo: simulate an acquisition of a phantom on a built-in scanner and reconstruct it,
 * with no input files. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_cli.h"
#include "pet_config.h"
#include "pet_cli_check.h"
#include "pet_cli_signal.h"
#include "pet_cli_util.h"
#include "pet_h5.h"
#include "pet_histogram.h"
#include "pet_fileutil.h"
#include "pet_fov.h"
#include "pet_nifti.h"
#include "pet_osem.h"
#include "pet_phantom.h"
#include "pet_png.h"
#include "pet_scanner.h"
#include "pet_simulate.h"

static const char *demo_help =
    "usage: petrel demo [options]\n"
    "  Simulates a phantom (water cylinder, three 4:1 hot spheres and a cold one) on a built-in\n"
    "  scanner, forward-projects it with attenuation (and normalisation, randoms), adds Poisson\n"
    "  noise, reconstructs it with OSEM with the same corrections, and prints the error to the\n"
    "  truth and the contrast recovery per iteration.\n"
    "options:\n"
    "  --clinical          the clinical scanner (624 x 24 rings) instead of the seed's small one\n"
    "  --out DIR           output folder (default petrel-demo): truth.nii.gz, recon.nii.gz, montage.png\n"
    "  --iterations N      OSEM iterations (default 3)\n"
    "  --subsets S         OSEM subsets (default 8)\n"
    "  --projector P       S (Siddon), MRS (multi-ray Siddon), DD (distance-driven); default S\n"
    "  --counts C          expected true counts (default 2e7)\n"
    "  --randoms F         randoms fraction (default 0.1)\n"
    "  --seed N            noise seed (default 42)\n"
    "  --threads N         OpenMP threads (default: all)\n"
    "  --psf MM            image-space PSF FWHM in mm in the model (default 0)\n"
    "  --scatter           add single scatter to the simulation (a Monte Carlo of photon pairs in the\n"
    "                      water: 430-650 keV window, 10% FWHM) and correct for it, the known scatter,\n"
    "                      in the reconstruction (its additive term: randoms + scatter)\n"
    "  --scatter-photons N photon pairs of the scatter Monte Carlo (default 2e7)\n"
    "  --no-scatter-correction\n"
    "                      with --scatter: reconstruct without the scatter (shows its bias)\n"
    "  --algorithm A --prior P --beta B [--gamma G --epsilon E --relaxation R --relaxation_eta H]\n"
    "                      a regularised reconstruction instead (osl or bsrem with the rdp or\n"
    "                      quadratic prior; the fields of petrel recon)\n"
    "  --save-data DIR     also write the simulated acquisition as inputs for petrel recon:\n"
    "                      DIR/scanner.json, DIR/data.h5 (histogram + corrections), DIR/listmode.h5,\n"
    "                      DIR/mu.nii.gz and DIR/recon.json (with --scatter: /corrections/scatter in\n"
    "                      data.h5, used by recon.json; recon_no_scatter.json leaves it out)\n"
    "  --dynamic           a dynamic list-mode study instead (petrel demo --dynamic --help)\n"
    "  --total-body        the total-body scanner, list-mode only (petrel demo --total-body --help)\n"
    "  --quiet             only the final summary\n"
    "  --json              progress as JSON lines\n";

typedef struct demo_ctx {
  pet_cli_progress prog;
  const pet_phantom *ph;
  const pet_image *truth_scaled;
  double t0;
} demo_ctx;

static void print_metrics(const demo_ctx *c, int it, const pet_phantom_metrics *m)
{
  if (c->prog.json) {
    printf("{\"event\":\"iteration\",\"iteration\":%d,\"rmse_rel\":%.5f,\"crc_hot\":[%.4f,%.4f,%.4f],"
           "\"crc_cold\":%.4f,\"bkg_cv\":%.4f,\"elapsed\":%.3f}\n",
           it, m->rmse_rel, m->crc_hot[0], m->crc_hot[1], m->crc_hot[2], m->crc_hot[3], m->bkg_cv,
           pet_cli_now() - c->t0);
  } else {
    printf("demo: iteration %d: RMSE %.4f (relative), contrast recovery hot %.3f %.3f %.3f, cold %.3f, "
           "background CV %.3f\n",
           it, m->rmse_rel, m->crc_hot[0], m->crc_hot[1], m->crc_hot[2], m->crc_hot[3], m->bkg_cv);
  }
  fflush(stdout);
}

static pet_status on_iteration(void *ctx, int it, const pet_image *x)
{
  demo_ctx *c = ctx;
  pet_phantom_metrics m;
  PET_TRY(pet_phantom_metrics_compute(c->ph, c->truth_scaled, x, &m));
  if (!c->prog.quiet || c->prog.json) print_metrics(c, it, &m);
  return PET_OK;
}

static void subset_cb(void *ctx, const pet_osem_progress *p)
{
  demo_ctx *c = ctx;
  pet_cli_print_subset(&c->prog, p);
}

/* Writes the simulated acquisition as petrel recon inputs, and a config that reconstructs it. */
static pet_status save_inputs(const char *dir, const pet_scanner *scanner, const pet_histo_layout *L,
                              const pet_sim_result *sim, const pet_image *mu, const pet_osem_opts *oo,
                              pet_image_params ip)
{
  char path[8192];
  PET_TRY(pet_cli_mkdir(dir));
  snprintf(path, sizeof path, "%s/scanner.json", dir);
  PET_TRY(pet_scanner_write_json(scanner, path, NULL));
  pet_cli_output_add(path);
  snprintf(path, sizeof path, "%s/data.h5", dir);
  pet_h5_corrections corr;
  memset(&corr, 0, sizeof corr);
  corr.normalisation = sim->normalisation;
  corr.attenuation = sim->attenuation;
  corr.randoms = sim->add;
  corr.scatter = sim->scatter;
  PET_TRY(pet_h5_write_histogram(path, scanner->params.name, L->num_bins, sim->counts, &corr));
  pet_cli_output_add(path);
  pet_listmode *lm = NULL;
  PET_TRY(pet_simulate_listmode_from_histogram(L, sim->counts, 600000u, 99, &lm));
  snprintf(path, sizeof path, "%s/listmode.h5", dir);
  pet_status st = pet_h5_write_listmode(path, scanner->params.name, lm->num_events, lm->time_ms, lm->d1, lm->d2, NULL);
  pet_listmode_destroy(&lm);
  PET_TRY(st);
  pet_cli_output_add(path);
  snprintf(path, sizeof path, "%s/mu.nii.gz", dir);
  PET_TRY(pet_image_write_nifti(mu, path));
  pet_cli_output_add(path);
  /* inputs relative to the config's folder, so DIR can be moved or shared; the output is
   * relative to the folder petrel recon runs in (outputs are, see pet_config) */
  for (int with_scatter = sim->scatter ? 1 : 0; with_scatter >= 0; --with_scatter) {
    char json[4096];
    snprintf(json, sizeof json,
             "{\n  \"scanner\": \"scanner.json\",\n  \"data\": \"data.h5\",\n"
             "  \"normalisation\": \"data.h5\",\n  \"attenuation\": \"data.h5\",\n"
             "  \"randoms\": \"data.h5\",\n%s  \"output\": \"recon_from_config.nii.gz\",\n"
             "  \"iterations\": %d,\n  \"subsets\": %d,\n  \"projector\": \"%s\",\n"
             "  \"image\": {\"nx\": %d, \"ny\": %d, \"nz\": %d, \"length_x\": %g, \"length_y\": %g, "
             "\"length_z\": %g}\n}\n",
             with_scatter ? "  \"scatter\": \"data.h5\",\n" : "", oo->iterations, oo->subsets,
             oo->proj.kind == PET_PROJ_DD ? "DD" : (oo->proj.num_rays > 1 ? "MRS" : "S"), ip.nx, ip.ny, ip.nz,
             (double)ip.length_x, (double)ip.length_y, (double)ip.length_z);
    /* with scatter: recon.json corrects for it, recon_no_scatter.json does not */
    snprintf(path, sizeof path, "%s/%s", dir, sim->scatter && !with_scatter ? "recon_no_scatter.json" : "recon.json");
    PET_TRY(pet_file_write_atomic(path, json, strlen(json)));
    pet_cli_output_add(path);
  }
  return PET_OK;
}

/* The seed's scanner has big gaps between its blocks: say what that does to the image. */
static void print_coverage(const pet_scanner_params *sp, bool to_stderr)
{
  const double circ = 2.0 * 3.14159265358979 * sp->scanner_radius;
  const double cover = sp->dets_per_ring * sp->crystal_size_trans / circ;
  if (cover >= 0.9) return;
  fprintf(to_stderr ? stderr : stdout,
          "demo: note: this scanner's crystals cover %.0f%% of its ring (%d x %.1f mm on %.0f mm); the gaps "
          "between its blocks leave gap artifacts (streaks, uneven rings) in the reconstruction. "
          "Run petrel demo --clinical for a scanner without gaps and a clean image.\n",
          100.0 * cover, sp->dets_per_ring, (double)sp->crystal_size_trans, circ);
}

int pet_cli_demo(int argc, char **argv)
{
  for (int i = 1; i < argc; ++i)
    if (!strcmp(argv[i], "--dynamic")) return pet_cli_demo_dynamic(argc, argv);
    else if (!strcmp(argv[i], "--total-body")) return pet_cli_demo_total_body(argc, argv);
  if (pet_cli_is_help(argc, argv)) {
    fputs(demo_help, stdout);
    return 0;
  }
  bool clinical = false;
  const char *out_dir = "petrel-demo";
  double randoms = 0.1, scatter_photons = 2e7;
  bool scatter = false, scatter_correction = true;
  /* the options the demo shares with petrel recon go through the config's one table (one
   * parser, one range per option) */
  pet_config dc;
  pet_config_defaults(&dc);
  dc.iterations = 3;
  dc.subsets = 8;
  const char *save_dir = NULL;
  demo_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.prog.what = "demo";
  pet_status st = PET_OK;
  for (int i = 1; i < argc && st == PET_OK; ++i) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--clinical")) clinical = true;
    else if (!strcmp(a, "--quiet")) ctx.prog.quiet = true;
    else if (!strcmp(a, "--json")) ctx.prog.json = true;
    else if (!strcmp(a, "--out") && v) out_dir = argv[++i];
    else if (!strcmp(a, "--projector") || !strcmp(a, "--iterations") || !strcmp(a, "--subsets") ||
             !strcmp(a, "--threads") || !strcmp(a, "--psf") || !strcmp(a, "--seed") ||
             !strcmp(a, "--counts") || !strcmp(a, "--algorithm") || !strcmp(a, "--prior") ||
             !strcmp(a, "--beta") || !strcmp(a, "--gamma") || !strcmp(a, "--epsilon") ||
             !strcmp(a, "--relaxation") || !strcmp(a, "--relaxation_eta")) {
      if (!v) {
        fprintf(stderr, "petrel demo: %s needs a value\n", a);
        return 2;
      }
      st = pet_config_set(&dc, !strcmp(a, "--psf") ? "psf_fwhm_mm" : a, v), ++i;
    }
    else if (!strcmp(a, "--save-data") && v) save_dir = argv[++i];
    else if (!strcmp(a, "--randoms")) st = pet_cli_parse_float(a, v, 0, 100, &randoms), ++i;
    else if (!strcmp(a, "--scatter")) scatter = true;
    else if (!strcmp(a, "--no-scatter-correction")) scatter_correction = false;
    else if (!strcmp(a, "--scatter-photons") && v) {
      st = pet_cli_parse_float(a, v, 1, 1e12, &scatter_photons), ++i;
      if (st == PET_OK && scatter_photons != floor(scatter_photons))
        st = PET_ERROR(PET_ERR_CONFIG, "--scatter-photons %s: not a whole number", v);
    }
    else {
      fprintf(stderr, "petrel demo: unknown or incomplete option '%s'\n\n%s", a, demo_help);
      return 2;
    }
  }
  if (st == PET_OK && dc.prior != PET_PRIOR_NONE && dc.beta > 0 && dc.algorithm == PET_OSEM_ALG_OSEM)
    st = PET_ERROR(PET_ERR_CONFIG, "demo: --prior %s --beta %g needs --algorithm osl or bsrem",
                   pet_prior_kind_name(dc.prior), dc.beta);
  if (st == PET_OK && !scatter && !scatter_correction)
    st = PET_ERROR(PET_ERR_CONFIG, "demo: --no-scatter-correction needs --scatter");
  if (st != PET_OK) return 2;
  const char *projector = pet_config_projector_name(dc.projector);
  const int64_t threads = dc.threads;
  /* the output folders before the simulation, not after the reconstruction */
  if (pet_cli_check_output_dir("--out", out_dir) != PET_OK) return 2;
  if (save_dir && pet_cli_check_output_dir("--save-data", save_dir) != PET_OK) return 2;
  if (threads > 0) omp_set_num_threads((int)threads);

  pet_scanner *scanner = NULL;
  pet_histo_layout *L = NULL;
  pet_image *truth = NULL, *mu = NULL, *x = NULL, *truth_scaled = NULL;
  pet_histogram *his = NULL;
  float *add = NULL; /* randoms + scatter, when the reconstruction corrects for scatter */
  pet_sim_result sim;
  memset(&sim, 0, sizeof sim);
  const double t0 = pet_cli_now();
  ctx.t0 = t0;

  pet_scanner_params sp = clinical ? pet_scanner_params_clinical() : pet_scanner_params_small();
  pet_image_params ip = clinical ? pet_image_params_make(150, 150, 24, 600.f, 600.f, 97.68f)
                                 : pet_image_params_make(96, 96, 8, 240.f, 240.f, 25.f);
  PET_TRY_GOTO(st, pet_scanner_create(&scanner, &sp), out);
  PET_TRY_GOTO(st, pet_histo_layout_create(&L, scanner), out);
  pet_phantom ph = pet_phantom_default(&ip);
  ctx.ph = &ph;
  PET_TRY_GOTO(st, pet_image_create_owned(&truth, ip, PET_HOST), out);
  PET_TRY_GOTO(st, pet_image_create_owned(&mu, ip, PET_HOST), out);
  PET_TRY_GOTO(st, pet_phantom_activity(&ph, truth, 3), out);
  PET_TRY_GOTO(st, pet_phantom_mu(&ph, mu, 3), out);

  pet_osem_opts oo = pet_osem_opts_default();
  PET_TRY_GOTO(st, pet_projector_params_set_name(&oo.proj, projector), out);
  oo.proj.crystal_size_trans = sp.crystal_size_trans;
  oo.proj.crystal_size_z = sp.crystal_size_z;
  pet_projector_params_set_fov(&oo.proj, &sp);
  if (dc.projector == PET_CONFIG_PROJ_MRS && dc.num_rays > 1) oo.proj.num_rays = dc.num_rays;
  oo.iterations = dc.iterations;
  oo.subsets = dc.subsets;
  oo.psf_fwhm_mm = (float)dc.psf_fwhm_mm;
  PET_TRY_GOTO(st, pet_config_apply_prior(&dc, &oo), out);

  pet_sim_opts so = pet_sim_opts_default();
  so.seed = (uint64_t)dc.seed;
  so.total_trues = dc.counts;
  so.randoms_fraction = (float)randoms;
  so.normalisation = true;
  so.proj = oo.proj;
  so.scatter = scatter;
  so.scatter_photons = (int64_t)scatter_photons;
  /* with --json, stdout holds only JSON lines: human text goes to stderr */
  FILE *info = ctx.prog.json ? stderr : stdout;
  if (!ctx.prog.quiet)
    fprintf(info, "demo: scanner %s (%d detectors/ring x %d rings), image %dx%dx%d over %.1fx%.1fx%.1f mm, "
           "projector %s, %d threads\n",
           sp.name, sp.dets_per_ring, sp.num_rings, ip.nx, ip.ny, ip.nz, (double)ip.length_x,
           (double)ip.length_y, (double)ip.length_z, projector, omp_get_max_threads());
  print_coverage(&sp, ctx.prog.quiet || ctx.prog.json);
  pet_cli_eta eta;
  pet_batch_cb sim_cb = pet_cli_batch_cb(&eta, "demo: simulating", "bins", ctx.prog.quiet && !ctx.prog.json,
                                         ctx.prog.json);
  so.cb = &sim_cb;
  pet_cli_signals_poll(true);
  st = pet_simulate_histogram(scanner, L, truth, mu, &so, &sim);
  PET_TRY_GOTO(st, pet_cli_signals_poll_end(st), out);
  PET_TRY_GOTO(st, pet_histogram_create_alias(&his, scanner, sim.counts), out);
  double total = 0;
  for (int64_t i = 0; i < L->num_bins; ++i) total += sim.counts[i];
  if (!ctx.prog.quiet) {
    char sc[96] = "";
    if (scatter)
      snprintf(sc, sizeof sc, ", single scatter (fraction %.1f%%, %s)", 100.0 * sim.scatter_fraction,
               scatter_correction ? "corrected" : "not corrected");
    fprintf(info, "demo: simulated %.3g counts in %lld bins (attenuation, normalisation, %.0f%% randoms%s) in %.2f s\n",
           total, (long long)L->num_bins, 100.0 * randoms, sc, pet_cli_now() - t0);
  }

  if (save_dir) PET_TRY_GOTO(st, save_inputs(save_dir, scanner, L, &sim, mu, &oo, ip), out);

  /* the reconstruction estimates scale x truth: compare against that */
  PET_TRY_GOTO(st, pet_image_create_owned(&truth_scaled, ip, PET_HOST), out);
  for (int64_t v = 0; v < pet_image_num_voxels(truth); ++v)
    truth_scaled->data[v] = (float)(truth->data[v] * sim.scale);
  ctx.truth_scaled = truth_scaled;

  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = scanner;
  d.layout = L;
  d.histogram = his;
  d.mult = sim.mult;
  d.add = sim.add;
  if (sim.scatter && scatter_correction) {
    add = malloc((size_t)L->num_bins * sizeof *add);
    PET_CHECK_GOTO(st, add != NULL, PET_ERR_NOMEM, out, "demo: out of memory");
    for (int64_t i = 0; i < L->num_bins; ++i) add[i] = (sim.add ? sim.add[i] : 0.0f) + sim.scatter[i];
    d.add = add;
  }
  d.lm_count = -1;
  PET_TRY_GOTO(st, pet_image_create_owned(&x, ip, PET_HOST), out);
  PET_TRY_GOTO(st, pet_image_fill(x, 1.0f), out);
  oo.on_subset = subset_cb;
  oo.on_iteration = on_iteration;
  oo.cb_ctx = &ctx;
  oo.should_stop = pet_cli_should_stop;
  pet_cli_signals_poll(true);
  st = pet_osem_run(&d, &oo, NULL, x);
  PET_TRY_GOTO(st, pet_cli_signals_poll_end(st), out);

  PET_TRY_GOTO(st, pet_cli_mkdir(out_dir), out);
  char path[4096];
  snprintf(path, sizeof path, "%s/truth.nii.gz", out_dir);
  PET_TRY_GOTO(st, pet_image_write_nifti(truth_scaled, path), out);
  pet_cli_output_add(path);
  snprintf(path, sizeof path, "%s/recon.nii.gz", out_dir);
  PET_TRY_GOTO(st, pet_image_write_nifti(x, path), out);
  pet_cli_output_add(path);
  snprintf(path, sizeof path, "%s/montage.png", out_dir);
  const pet_image *pair[2] = {truth_scaled, x};
  const char *labels[2] = {"truth (scaled to counts)", NULL};
  char recon_label[128];
  if (oo.algorithm == PET_OSEM_ALG_OSEM || oo.prior.kind == PET_PRIOR_NONE)
    snprintf(recon_label, sizeof recon_label, "%s %d it x %d subsets, %s", oo.algorithm == PET_OSEM_ALG_BSREM ? "BSREM" : "OSEM",
             oo.iterations, oo.subsets, projector);
  else
    snprintf(recon_label, sizeof recon_label, "%s %s beta %g, %d it x %d subsets, %s",
             oo.algorithm == PET_OSEM_ALG_OSL ? "OSL" : "BSREM", pet_prior_kind_name(oo.prior.kind),
             (double)oo.prior.beta, oo.iterations, oo.subsets, projector);
  labels[1] = recon_label;
  char title[256];
  snprintf(title, sizeof title, "petrel demo: scanner %s, %.3g counts", sp.name, total);
  PET_TRY_GOTO(st, pet_png_write_figure(path, pair, labels, 2, title), out);
  pet_cli_output_add(path);
  pet_phantom_metrics m;
  PET_TRY_GOTO(st, pet_phantom_metrics_compute(&ph, truth_scaled, x, &m), out);
  if (ctx.prog.json)
    printf("{\"event\":\"done\",\"seconds\":%.3f,\"rmse_rel\":%.5f,\"out\":\"%s\"}\n", pet_cli_now() - t0,
           m.rmse_rel, out_dir);
  else
    printf("demo: done in %.1f s: RMSE %.4f, hot-sphere contrast recovery %.3f; wrote %s/{truth,recon}.nii.gz "
           "and %s/montage.png (top: truth, bottom: reconstruction)\n",
           pet_cli_now() - t0, m.rmse_rel, m.crc_hot[0], out_dir, out_dir);
out:
  free(add);
  pet_sim_result_free(&sim);
  pet_histogram_destroy(&his);
  pet_image_destroy(&x);
  pet_image_destroy(&truth);
  pet_image_destroy(&truth_scaled);
  pet_image_destroy(&mu);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&scanner);
  if (st == PET_ERR_INTERRUPTED) {
    fprintf(stderr, "petrel: demo stopped by %s; its outputs were removed\n",
            pet_cli_signal_name(pet_cli_stop_signal()));
    return pet_cli_signal_exit_code();
  }
  return st == PET_OK ? 0 : (st == PET_ERR_CONFIG ? 2 : 1);
}
