/* petrel demo --total-body: the chain on the built-in total-body scanner (uEXPLORER-class):
 * simulate TOF list-mode events to HDF5 in chunks, read them back (count, time index, a
 * window), TOF back-project a window onto the image grid, and reconstruct with list-mode OSEM
 * streamed from the file when a sensitivity image is given. Without one it says why not: the
 * scanner has no histogram (1e11 bins, refused), and the list-mode sensitivity is a projection
 * of all those LORs, which is GPU work done once, not a demo's minute. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_cli.h"
#include "pet_cli_check.h"
#include "pet_job_inputs.h"
#include "pet_cli_signal.h"
#include "pet_cli_simulate.h"
#include "pet_cli_util.h"
#include "pet_fov.h"
#include "pet_h5.h"
#include "pet_histogram.h"
#include "pet_nifti.h"
#include "pet_osem.h"
#include "pet_phantom.h"
#include "pet_png.h"
#include "pet_project_batch.h"
#include "pet_scanner.h"
#include "pet_simulate.h"

static const char *tb_help =
    "usage: petrel demo --total-body [options]\n"
    "  The chain on the built-in total-body scanner (840 crystals x 672 rings, 1940 mm axial FOV,\n"
    "  TOF 430 ps): simulates TOF list-mode events of the phantom into DIR/listmode.h5 (in chunks,\n"
    "  a progress bar on stderr), reads them back through the time index, TOF back-projects the\n"
    "  first half of the acquisition into DIR/backprojection.nii.gz and DIR/montage.png, and,\n"
    "  with --sensitivity, reconstructs all events with list-mode OSEM streamed from the file.\n"
    "options:\n"
    "  --events N          events (default 1e6)\n"
    "  --full              the full image grid, 240 x 240 x 680 of 2.85 mm (default: 120 x 120 x 340\n"
    "                      of 5.7 mm, which runs in about a minute on a laptop)\n"
    "  --out DIR           output folder (default petrel-demo-total-body)\n"
    "  --compress L        deflate level 0..9 of the list-mode file (default 0)\n"
    "  --seed S            seed (default 1)\n"
    "  --duration-s T      acquisition time (default 600)\n"
    "  --sensitivity FILE  list-mode sensitivity (A^T 1 over all LORs, NIfTI on the demo's grid) for OSEM\n"
    "  --iterations N      OSEM iterations with --sensitivity (default 2)\n"
    "  --subsets S         OSEM subsets with --sensitivity (default 10)\n"
    "  --threads N         OpenMP threads (default: all)\n"
    "  --quiet             only the final summary\n";

int pet_cli_demo_total_body(int argc, char **argv)
{
  if (pet_cli_is_help(argc, argv)) {
    fputs(tb_help, stdout);
    return 0;
  }
  double events = 1e6, duration = 600.0;
  int64_t deflate = 0, seed = 1, threads = 0, iterations = 2, subsets = 10;
  bool full = false, quiet = false;
  const char *out_dir = "petrel-demo-total-body", *sens_path = NULL;
  pet_status st = PET_OK;
  for (int i = 1; i < argc && st == PET_OK; ++i) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--total-body")) continue;
    else if (!strcmp(a, "--full")) full = true;
    else if (!strcmp(a, "--quiet")) quiet = true;
    else if (!strcmp(a, "--out") && v) out_dir = argv[++i];
    else if (!strcmp(a, "--sensitivity") && v) sens_path = argv[++i];
    else if (!strcmp(a, "--events") && v) st = pet_cli_parse_float(a, v, 1, 1e12, &events), ++i;
    else if (!strcmp(a, "--duration-s") && v) st = pet_cli_parse_float(a, v, 1, 4294967.0, &duration), ++i;
    else if (!strcmp(a, "--compress") && v) st = pet_cli_parse_int(a, v, 0, 9, &deflate), ++i;
    else if (!strcmp(a, "--seed") && v) st = pet_cli_parse_int(a, v, 0, INT64_MAX, &seed), ++i;
    else if (!strcmp(a, "--threads") && v) st = pet_cli_parse_int(a, v, 1, 4096, &threads), ++i;
    else if (!strcmp(a, "--iterations") && v) st = pet_cli_parse_int(a, v, 1, 1000, &iterations), ++i;
    else if (!strcmp(a, "--subsets") && v) st = pet_cli_parse_int(a, v, 1, 10000, &subsets), ++i;
    else {
      fprintf(stderr, "petrel demo --total-body: unknown or incomplete option '%s'\n\n%s", a, tb_help);
      return 2;
    }
  }
  if (st != PET_OK) return 2;
  if (pet_cli_check_output_dir("--out", out_dir) != PET_OK) return 2;
  if (threads > 0) omp_set_num_threads((int)threads);

  const double t0 = pet_cli_now();
  pet_scanner *s = NULL;
  pet_image *truth = NULL, *bp = NULL, *sens = NULL, *x = NULL;
  pet_listmode *win = NULL;
  pet_lm_source src;
  memset(&src, 0, sizeof src);
  char lm_path[4096], path[4096];
  snprintf(lm_path, sizeof lm_path, "%s/listmode.h5", out_dir);

  PET_TRY_GOTO(st, pet_cli_scanner_open("total-body", &s), out);
  const pet_scanner_params *sp = &s->params;
  const float vox = full ? PET_TOTAL_BODY_VOXEL_MM : 2.0f * PET_TOTAL_BODY_VOXEL_MM;
  const int nxy = full ? PET_TOTAL_BODY_GRID_NXY : PET_TOTAL_BODY_GRID_NXY / 2;
  const int nz = full ? PET_TOTAL_BODY_GRID_NZ : PET_TOTAL_BODY_GRID_NZ / 2;
  const pet_image_params ip = pet_image_params_make(nxy, nxy, nz, nxy * vox, nxy * vox, nz * vox);
  pet_event_sim es;
  memset(&es, 0, sizeof es);
  es.scanner = s;
  es.phantom = pet_phantom_default(&ip);
  es.seed = (uint64_t)seed;
  es.num_events = (int64_t)events;
  es.duration_s = duration;
  es.tof = true;
  if (!quiet)
    printf("demo: scanner %s (%d crystals x %d rings, %lld detectors, TOF %.0f ps), image %dx%dx%d of %.2f mm, "
           "%lld events over %.0f s, %d threads\n",
           sp->name, sp->dets_per_ring, sp->num_rings, (long long)s->num_dets, (double)sp->tof_fwhm_ps, nxy, nxy,
           nz, (double)vox, (long long)es.num_events, duration, omp_get_max_threads());
  PET_TRY_GOTO(st, pet_cli_mkdir(out_dir), out);
  pet_sim_file_stats stats;
  PET_TRY_GOTO(st, pet_cli_simulate_file(&es, lm_path, (int)deflate, PET_SIM_CHUNK_EVENTS, quiet, &stats), out);
  if (!quiet)
    printf("demo: simulated %lld TOF events into %s in %.1f s (sampling %.1f s, writing %.1f s)\n",
           (long long)es.num_events, lm_path, stats.sample_s + stats.write_s, stats.sample_s, stats.write_s);

  /* read back: the layout, the time index, one window */
  PET_TRY_GOTO(st, pet_h5_listmode_source_open(lm_path, &src), out);
  PET_CHECK_GOTO(st, src.num_events == es.num_events && src.has_tof, PET_ERR_IO, out,
                 "%s: read back %lld events (TOF %s), wrote %lld with TOF", lm_path, (long long)src.num_events,
                 src.has_tof ? "yes" : "no", (long long)es.num_events);
  PET_TRY_GOTO(st, pet_h5_listmode_check_times(lm_path, NULL), out);
  int64_t first = 0, count = 0;
  const uint32_t t1_ms = (uint32_t)(duration * 500.0); /* the first half */
  PET_TRY_GOTO(st, pet_h5_listmode_find_window(lm_path, 0, t1_ms, &first, &count), out);
  PET_TRY_GOTO(st, pet_listmode_create_owned(&win, count, true), out);
  PET_TRY_GOTO(st, pet_h5_read_listmode_range(lm_path, first, count, win->time_ms, win->d1, win->d2, win->tof_ps), out);
  PET_TRY_GOTO(st, pet_listmode_check(win, s), out);
  if (!quiet)
    printf("demo: read back %lld events (sorted, time index consistent); the window [0, %u) ms holds events "
           "[%lld, %lld)\n",
           (long long)src.num_events, t1_ms, (long long)first, (long long)(first + count));

  /* TOF back-projection of the window, next to the phantom */
  pet_projector_params pp = pet_projector_params_default();
  pp.crystal_size_trans = sp->crystal_size_trans;
  pp.crystal_size_z = sp->crystal_size_z;
  pet_projector_params_set_fov(&pp, sp);
  pp.tof = 1;
  pp.tof_fwhm_ps = sp->tof_fwhm_ps;
  PET_TRY_GOTO(st, pet_image_create_owned(&bp, ip, PET_HOST), out);
  PET_TRY_GOTO(st, pet_image_fill(bp, 0.0f), out);
  const double tb0 = pet_cli_now();
  pet_batch_cb cb = {pet_cli_should_stop, NULL, NULL};
  pet_cli_signals_poll(true);
  st = pet_cli_signals_poll_end(pet_listmode_project_back_cpu(win, s, &pp, NULL, 0, count, bp, &cb));
  if (st != PET_OK) goto out;
  const double bp_s = pet_cli_now() - tb0;
  PET_TRY_GOTO(st, pet_image_create_owned(&truth, ip, PET_HOST), out);
  PET_TRY_GOTO(st, pet_phantom_activity(&es.phantom, truth, 2), out);
  {
    /* shown on the phantom's scale: the same total */
    double sum_t = 0.0, sum_b = 0.0;
    for (int64_t v = 0; v < pet_image_num_voxels(bp); ++v) {
      sum_t += truth->data[v];
      sum_b += bp->data[v];
    }
    const float k = sum_b > 0 ? (float)(sum_t / sum_b) : 1.0f;
    for (int64_t v = 0; v < pet_image_num_voxels(bp); ++v) bp->data[v] *= k;
  }
  snprintf(path, sizeof path, "%s/backprojection.nii.gz", out_dir);
  PET_TRY_GOTO(st, pet_image_write_nifti(bp, path), out);
  pet_cli_output_add(path);
  const double lors_per_s = bp_s > 0 ? (double)count / bp_s : 0.0;
  if (!quiet)
    printf("demo: TOF back-projection of %lld events in %.1f s (%.3g LORs/s) -> %s\n", (long long)count, bp_s,
           lors_per_s, path);

  if (sens_path) {
    PET_TRY_GOTO(st, pet_job_read_image_checked(sens_path, "--sensitivity", PET_JOB_IMAGE_NONNEG, &sens), out);
    PET_CHECK_GOTO(st, sens->params.nx == ip.nx && sens->params.ny == ip.ny && sens->params.nz == ip.nz, PET_ERR_CONFIG,
                   out, "--sensitivity %s: grid %dx%dx%d, the demo's is %dx%dx%d%s", sens_path, sens->params.nx,
                   sens->params.ny, sens->params.nz, ip.nx, ip.ny, ip.nz, full ? "" : " (--full for the full grid)");
    pet_histo_layout *L = NULL;
    PET_TRY_GOTO(st, pet_histo_layout_create(&L, s), out);
    pet_osem_data d;
    memset(&d, 0, sizeof d);
    d.scanner = s;
    d.layout = L;
    d.lm_source = &src;
    d.lm_count = -1;
    pet_osem_opts oo = pet_osem_opts_default();
    oo.proj = pp;
    oo.iterations = (int32_t)iterations;
    oo.subsets = (int32_t)subsets;
    oo.should_stop = pet_cli_should_stop;
    pet_image *sl[1] = {sens};
    st = pet_image_create_owned(&x, ip, PET_HOST);
    if (st == PET_OK) st = pet_image_fill(x, 1.0f);
    pet_cli_signals_poll(true);
    if (st == PET_OK) st = pet_cli_signals_poll_end(pet_osem_run(&d, &oo, sl, x));
    pet_histo_layout_destroy(&L);
    if (st != PET_OK) goto out;
    snprintf(path, sizeof path, "%s/recon.nii.gz", out_dir);
    PET_TRY_GOTO(st, pet_image_write_nifti(x, path), out);
    pet_cli_output_add(path);
    if (!quiet) printf("demo: list-mode TOF OSEM (%lld it x %lld subsets, streamed from %s) -> %s\n",
                       (long long)iterations, (long long)subsets, lm_path, path);
  }
  snprintf(path, sizeof path, "%s/montage.png", out_dir);
  const pet_image *pair[2] = {truth, x ? x : bp};
  const char *labels[2] = {"phantom", x ? "list-mode TOF OSEM" : "TOF back-projection (first half; no sensitivity, scaled to the phantom's total)"};
  char title[256];
  snprintf(title, sizeof title, "petrel demo: total-body scanner %s, %.3g events", sp->name, events);
  PET_TRY_GOTO(st, pet_png_write_figure(path, pair, labels, 2, title), out);
  pet_cli_output_add(path);
  if (!sens_path) {
    /* what the reconstruction needs, and why the demo stops here */
    const double nb = (double)(sp->num_rings * (double)sp->num_rings) * sp->dets_per_ring *
                      (sp->dets_per_ring / 2 + 1 - sp->min_ang_diff);
    const double nsym = (double)sp->dets_per_ring * (sp->dets_per_ring / 2 + 1 - sp->min_ang_diff) *
                        (2.0 * sp->max_ring_diff + 1);
    printf("demo: no reconstruction: this scanner has %.3g LORs, so no histogram (refused above %.3g bins) and "
           "list-mode OSEM needs its sensitivity image, the back-projection of all %.3g LORs (bin by bin: about "
           "%.0f h at this CPU's %.3g TOF LORs/s), which petrel computes from the scanner's axial symmetry out of "
           "%.3g LORs (README: Sensitivity of large scanners; bench_sens times it). Compute it once (petrel sens "
           "with a config naming config/examples/total_body.json, --gpu) on this grid and pass --sensitivity "
           "FILE to reconstruct.\n",
           nb, (double)PET_HISTO_MAX_BINS, nb, lors_per_s > 0 ? nb / lors_per_s / 3600.0 : 0.0, lors_per_s, nsym);
  }
  printf("demo: done in %.1f s; wrote %s, %s/backprojection.nii.gz%s and %s/montage.png\n", pet_cli_now() - t0,
         lm_path, out_dir, x ? ", recon.nii.gz" : "", out_dir);
out:
  pet_h5_listmode_source_close(&src);
  pet_listmode_destroy(&win);
  pet_image_destroy(&truth);
  pet_image_destroy(&bp);
  pet_image_destroy(&sens);
  pet_image_destroy(&x);
  pet_scanner_destroy(&s);
  if (st == PET_ERR_INTERRUPTED) {
    fprintf(stderr, "petrel: demo stopped by %s; its outputs were removed\n", pet_cli_signal_name(pet_cli_stop_signal()));
    return pet_cli_signal_exit_code();
  }
  return st == PET_OK ? 0 : (st == PET_ERR_CONFIG || st == PET_ERR_ARG ? 2 : 1);
}
