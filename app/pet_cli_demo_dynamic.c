#define _XOPEN_SOURCE 700 /* realpath */
/* petrel demo --dynamic: a simulated dynamic list-mode study (a constant background, a region
 * taking up tracer and a region washing out, with F-18 decay), reconstructed frame by frame
 * through the same path as petrel recon --frames. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_cli.h"
#include "pet_cli_dynamic.h"
#include "pet_cli_check.h"
#include "pet_cli_util.h"
#include "pet_comm.h"
#include "pet_config.h"
#include "pet_dynamic.h"
#include "pet_fileutil.h"
#include "pet_h5.h"
#include "pet_histogram.h"
#include "pet_listmode.h"
#include "pet_nifti.h"
#include "pet_phantom.h"
#include "pet_scanner.h"

static const char *help =
    "usage: petrel demo --dynamic [options]\n"
    "  Simulates a dynamic list-mode study on the seed's small scanner: a water cylinder with a\n"
    "  constant background, a sphere whose activity rises (4 (1 - e^{-t/60})) and one that washes\n"
    "  out (4 e^{-t/90} + 0.5), F-18 decay; writes DIR/{scanner.json, listmode.h5, labels.nii.gz,\n"
    "  truth_tac.csv, recon_dynamic.json} and reconstructs it: DIR/dynamic.nii.gz (4D) with\n"
    "  DIR/dynamic.json, DIR/dynamic_tac.csv and DIR/dynamic_tac.png. Runs under mpirun too.\n"
    "options:\n"
    "  --out DIR        output folder (default petrel-demo-dynamic)\n"
    "  --frames SPEC    frames (default 6x10,4x30,3x60: 6 min)\n"
    "  --events N       expected events over all frames (default 3e6)\n"
    "  --iterations N   (default 2), --subsets S (default 4), --threads N, --seed N, --quiet\n";

static double truth_tac(int k, double t)
{
  if (k == 0) return 1.0;
  if (k == 1) return 4.0 * (1.0 - exp(-t / 60.0));
  return 4.0 * exp(-t / 90.0) + 0.5;
}

#define NC 3

/* Simulates and writes the inputs (rank 0). */
static pet_status simulate(const char *dir, pet_config *cfg, double events, uint64_t seed, bool quiet)
{
  pet_status st = PET_OK;
  pet_scanner *scanner = NULL;
  pet_histo_layout *L = NULL;
  pet_image *comp[NC] = {NULL, NULL, NULL}, *labels = NULL;
  pet_listmode *lm = NULL;
  pet_frame_def *defs = NULL;
  pet_dyn_frame *fr = NULL;
  double *act = NULL;
  char path[PET_CONFIG_PATH_MAX];
  int nf = 0;
  PET_CHECK(strlen(dir) + 32 < sizeof path, PET_ERR_ARG, "%s: the folder's path is too long", dir);
  pet_scanner_params sp = pet_scanner_params_small();
  pet_image_params ip = pet_image_params_make(96, 96, 8, 240.f, 240.f, 25.f);
  PET_TRY_GOTO(st, pet_scanner_create(&scanner, &sp), out);
  PET_TRY_GOTO(st, pet_histo_layout_create(&L, scanner), out);
  PET_TRY_GOTO(st, pet_config_frame_defs(cfg, &defs, &nf), out);
  PET_CHECK_GOTO(st, nf >= 1, PET_ERR_CONFIG, out, "--frames: no frames");
  fr = calloc((size_t)nf, sizeof *fr);
  act = malloc((size_t)nf * NC * sizeof *act);
  PET_CHECK_GOTO(st, fr && act, PET_ERR_NOMEM, out, "out of memory");
  for (int f = 0; f < nf; ++f) {
    fr[f].start_s = defs[f].start_s;
    fr[f].duration_s = defs[f].duration_s;
    fr[f].factor = 1.0;
  }
  PET_TRY_GOTO(st, pet_dyn_frames_init(fr, nf), out);
  pet_phantom ph = pet_phantom_default(&ip);
  ph.num_spheres = 2;
  const float rs = 0.2f * ph.cyl_radius, cx = 0.45f * ph.cyl_radius;
  ph.spheres[0].x = -cx;
  ph.spheres[1].x = cx;
  ph.spheres[0].y = ph.spheres[1].y = 0.f;
  ph.spheres[0].z = ph.spheres[1].z = 0.f;
  ph.spheres[0].radius = ph.spheres[1].radius = rs;
  for (int k = 0; k < NC; ++k) {
    pet_phantom c = ph;
    c.background = k == 0 ? 1.f : 0.f;
    c.spheres[0].value = k == 1 ? 1.f : 0.f;
    c.spheres[1].value = k == 2 ? 1.f : 0.f;
    PET_TRY_GOTO(st, pet_image_create_owned(&comp[k], ip, PET_HOST), out);
    PET_TRY_GOTO(st, pet_phantom_activity(&c, comp[k], 2), out);
    for (int f = 0; f < nf; ++f) act[k * nf + f] = truth_tac(k, fr[f].start_s + 0.5 * fr[f].duration_s);
  }
  /* ROIs: well inside the spheres (labels 2, 3) and a background region away from them (1) */
  PET_TRY_GOTO(st, pet_image_create_owned(&labels, ip, PET_HOST), out);
  for (int z = 0; z < ip.nz; ++z)
    for (int y = 0; y < ip.ny; ++y)
      for (int x = 0; x < ip.nx; ++x) {
        float px = ((float)x - 0.5f * (float)(ip.nx - 1)) * 2.5f, py = ((float)y - 0.5f * (float)(ip.ny - 1)) * 2.5f;
        float da = hypotf(px + cx, py), db = hypotf(px - cx, py);
        float l = 0.f;
        if (da < 0.6f * rs) l = 2.f;
        else if (db < 0.6f * rs) l = 3.f;
        else if (hypotf(px, py) < 0.8f * ph.cyl_radius && da > rs + 15.f && db > rs + 15.f) l = 1.f;
        labels->data[((int64_t)z * ip.ny + y) * ip.nx + x] = l;
      }
  pet_projector_params pp = pet_projector_params_default();
  const double t0 = pet_cli_now();
  PET_TRY_GOTO(st, pet_dyn_simulate_listmode(scanner, L, &pp, (const pet_image *const *)comp, NC, act, fr, nf,
                                             cfg->half_life_s, events, seed, &lm),
               out);
  if (!quiet)
    printf("demo: simulated %lld events in %d frames (%.0f s of F-18) in %.1f s\n", (long long)lm->num_events, nf,
           fr[nf - 1].start_s + fr[nf - 1].duration_s, pet_cli_now() - t0);
  PET_TRY_GOTO(st, pet_cli_mkdir(dir), out);
  snprintf(path, sizeof path, "%s/scanner.json", dir);
  PET_TRY_GOTO(st, pet_scanner_write_json(scanner, path, NULL), out);
  snprintf(cfg->scanner, sizeof cfg->scanner, "%s", path);
  snprintf(path, sizeof path, "%s/listmode.h5", dir);
  PET_TRY_GOTO(st, pet_h5_write_listmode(path, sp.name, lm->num_events, lm->time_ms, lm->d1, lm->d2, NULL), out);
  snprintf(cfg->data, sizeof cfg->data, "%s", path);
  snprintf(path, sizeof path, "%s/labels.nii.gz", dir);
  PET_TRY_GOTO(st, pet_image_write_nifti(labels, path), out);
  snprintf(cfg->tac_mask, sizeof cfg->tac_mask, "%s", path);
  /* the true curves, decay-free, as the reconstructed TACs should follow up to one scale */
  snprintf(path, sizeof path, "%s/truth_tac.csv", dir);
  int32_t ids[NC] = {1, 2, 3};
  PET_TRY_GOTO(st, pet_dyn_write_tac_csv(path, fr, nf, NC, ids, act), out);
  cfg->image.nx = ip.nx;
  cfg->image.ny = ip.ny;
  cfg->image.nz = ip.nz;
  cfg->image.length_x = ip.length_x;
  cfg->image.length_y = ip.length_y;
  cfg->image.length_z = ip.length_z;
  snprintf(cfg->output, sizeof cfg->output, "%s/dynamic.nii.gz", dir);
  snprintf(path, sizeof path, "%s/recon_dynamic.json", dir);
  PET_TRY_GOTO(st, pet_config_write_json(cfg, path), out);
out:
  for (int k = 0; k < NC; ++k) pet_image_destroy(&comp[k]);
  pet_image_destroy(&labels);
  pet_listmode_destroy(&lm);
  free(defs);
  free(fr);
  free(act);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&scanner);
  return st;
}

int pet_cli_demo_dynamic(int argc, char **argv)
{
  if (pet_cli_is_help(argc, argv)) {
    fputs(help, stdout);
    return 0;
  }
  const char *out_dir = "petrel-demo-dynamic";
  double events = 3e6;
  pet_config cfg;
  pet_config_defaults(&cfg);
  cfg.iterations = 2;
  cfg.subsets = 4;
  snprintf(cfg.frames, sizeof cfg.frames, "6x10,4x30,3x60");
  cfg.half_life_s = 6586.2;
  pet_status st = PET_OK;
  for (int i = 1; i < argc && st == PET_OK; ++i) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--dynamic")) continue;
    else if (!strcmp(a, "--quiet")) cfg.quiet = true;
    else if (!strcmp(a, "--out") && v) out_dir = argv[++i];
    else if (!strcmp(a, "--frames") && v) st = pet_config_set(&cfg, "frames", argv[++i]);
    else if ((!strcmp(a, "--iterations") || !strcmp(a, "--subsets") || !strcmp(a, "--threads") ||
              !strcmp(a, "--seed")) && v)
      st = pet_config_set(&cfg, a, argv[++i]); /* the config's one parser and range */
    else if (!strcmp(a, "--events")) st = pet_cli_parse_float(a, v, 1, 1e10, &events), ++i;
    else {
      fprintf(stderr, "petrel demo --dynamic: unknown or incomplete option '%s'\n\n%s", a, help);
      return 2;
    }
  }
  if (st != PET_OK) return 2;
  if (pet_cli_check_output_dir("--out", out_dir) != PET_OK) return 2;
  if (cfg.threads > 0) omp_set_num_threads((int)cfg.threads);
  pet_comm *comm = NULL;
  if (pet_comm_init(&argc, &argv, &comm) != PET_OK) return 1;
  char adir[4096] = "";
  if (pet_comm_rank(comm) == 0) {
    st = pet_cli_mkdir(out_dir);
    if (st == PET_OK && realpath(out_dir, adir) == NULL)
      st = PET_ERROR(PET_ERR_IO, "%s: cannot resolve the folder", out_dir);
    if (st == PET_OK) st = simulate(adir, &cfg, events, (uint64_t)cfg.seed, cfg.quiet);
  }
  st = pet_comm_agree(comm, st);
  if (st == PET_OK) st = pet_comm_bcast(comm, &cfg, sizeof cfg, 0);
  if (st == PET_OK) st = pet_cli_recon_dynamic(&cfg, comm, -1);
  if (st == PET_OK && pet_comm_rank(comm) == 0 && !cfg.quiet)
    printf("demo: wrote %s/dynamic.nii.gz (+ .json sidecar), dynamic_tac.csv and dynamic_tac.png (ROIs 1 "
           "background, 2 rising, 3 washout; compare with truth_tac.csv); recon again with petrel recon --config "
           "%s/recon_dynamic.json\n",
           adir, adir);
  pet_comm_finalize(&comm);
  return st == PET_OK ? 0 : 1;
}
