/* petrel simulate: N list-mode events (TOF optional) of the default phantom on a built-in or
 * JSON scanner, written to HDF5 chunk by chunk (bounded memory, any N up to 1e9 and beyond),
 * with a progress bar on stderr. Also the simulation step of petrel demo --total-body. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pet_cli.h"
#include "pet_cli_check.h"
#include "pet_job_inputs.h"
#include "pet_cli_signal.h"
#include "pet_cli_simulate.h"
#include "pet_cli_util.h"
#include "pet_h5.h"
#include "pet_phantom.h"
#include "pet_scanner.h"
#include "pet_simulate.h"

static const char *simulate_help =
    "usage: petrel simulate --events N --output lm.h5 [options]\n"
    "  Simulates N list-mode events of a phantom (a water-filled cylinder of activity 1 with three\n"
    "  4:1 hot spheres and a cold one, sized to the scanner's default image grid) and writes them\n"
    "  to an HDF5 list-mode file with a time index, chunk by chunk: memory stays at about 16 bytes\n"
    "  x --chunk whatever N is. Each event: a point drawn from the activity, two back-to-back\n"
    "  photons in an isotropic direction, the crystals they reach (gaps and the axial ends lose\n"
    "  the event); only LORs the scanner histograms are kept. No attenuation, scatter or randoms.\n"
    "  The events depend only on the seed (not on threads or the chunk size).\n"
    "options:\n"
    "  --scanner S         total-body (default), clinical, small, or a scanner JSON file\n"
    "  --events N          number of events (required; up to 1e12)\n"
    "  --output FILE       the list-mode file (.h5 or .hdf5; required)\n"
    "  --tof               sample TOF (the scanner's tofResolution_ps, 430 ps on total-body)\n"
    "  --compress L        deflate level 0..9 (default 0: none)\n"
    "  --seed S            seed (default 1)\n"
    "  --duration-s T      acquisition time: events evenly over [0, T) s (default 600)\n"
    "  --chunk N           events sampled and written at a time (default 4194304)\n"
    "  --threads N         OpenMP threads (default: all)\n"
    "  --quiet             no progress, no summary\n"
    "  --json              the summary as one JSON line on stdout\n";

pet_status pet_cli_scanner_open(const char *name, pet_scanner **s)
{
  pet_scanner_params p;
  *s = NULL;
  if (strcmp(name, "total-body") == 0 || strcmp(name, "clinical") == 0 || strcmp(name, "small") == 0) {
    PET_TRY(pet_scanner_params_builtin(name, &p));
    return pet_scanner_create(s, &p);
  }
  return pet_scanner_read_json(s, name);
}

/* A progress bar on stderr: redrawn in place on a terminal, a line every 5 s otherwise. */
typedef struct bar {
  bool quiet, tty;
  double t0, last;
  const char *what;
} bar;

static void bar_report(void *ctx, int64_t done, int64_t total)
{
  bar *b = ctx;
  if (b->quiet || total <= 0) return;
  const double now = pet_cli_now(), el = now - b->t0;
  if (done < total && now - b->last < (b->tty ? 0.2 : 5.0)) return;
  b->last = now;
  const double frac = (double)done / (double)total;
  const double eta = frac > 0 ? el * (1.0 - frac) / frac : 0.0;
  const int width = 30, fill = (int)(frac * width + 0.5);
  char cells[64];
  for (int i = 0; i < width; ++i) cells[i] = i < fill ? '#' : '.';
  cells[width] = '\0';
  fprintf(stderr, "%s%s [%s] %5.1f%% %lld/%lld events, %.3g events/s, ETA %.0f s%s", b->tty ? "\r" : "", b->what,
          cells, 100.0 * frac, (long long)done, (long long)total, el > 0 ? (double)done / el : 0.0, eta,
          b->tty && done < total ? "" : "\n");
  fflush(stderr);
}

pet_status pet_cli_simulate_file(const pet_event_sim *es, const char *path, int deflate, int64_t chunk, bool quiet,
                                 pet_sim_file_stats *stats)
{
  bar b;
  memset(&b, 0, sizeof b);
  b.quiet = quiet;
  b.tty = isatty(fileno(stderr)) != 0;
  b.t0 = pet_cli_now();
  b.last = b.t0;
  b.what = "simulate";
  pet_batch_cb cb = {pet_cli_should_stop, bar_report, &b};
  pet_sim_file_opts o = pet_sim_file_opts_default();
  o.deflate_level = deflate;
  o.chunk_events = chunk;
  o.cb = &cb;
  pet_cli_signals_poll(true);
  pet_status st = pet_cli_signals_poll_end(pet_simulate_listmode_file(es, path, &o, stats));
  if (st == PET_OK) pet_cli_output_add(path);
  return st;
}

static long long file_bytes(const char *path)
{
  struct stat sb;
  return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

int pet_cli_simulate(int argc, char **argv)
{
  if (pet_cli_is_help(argc, argv)) {
    fputs(simulate_help, stdout);
    return 0;
  }
  const char *scanner_name = "total-body", *out = NULL;
  int64_t events = -1, deflate = 0, seed = 1, chunk = PET_SIM_CHUNK_EVENTS, threads = 0;
  double duration = 600.0;
  bool tof = false, quiet = false, json = false;
  pet_status st = PET_OK;
  for (int i = 1; i < argc && st == PET_OK; ++i) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--tof")) tof = true;
    else if (!strcmp(a, "--quiet")) quiet = true;
    else if (!strcmp(a, "--json")) json = true;
    else if (!strcmp(a, "--scanner") && v) scanner_name = argv[++i];
    else if ((!strcmp(a, "--output") || !strcmp(a, "--out")) && v) out = argv[++i];
    else if (!strcmp(a, "--events") && v) {
      double e = 0;
      st = pet_cli_parse_float(a, v, 0, 1e12, &e), ++i;
      if (st == PET_OK && e != floor(e)) st = PET_ERROR(PET_ERR_CONFIG, "--events %s: not a whole number", v);
      events = (int64_t)e;
    }
    else if (!strcmp(a, "--compress") && v) st = pet_cli_parse_int(a, v, 0, 9, &deflate), ++i;
    else if (!strcmp(a, "--seed") && v) st = pet_cli_parse_int(a, v, 0, INT64_MAX, &seed), ++i;
    else if (!strcmp(a, "--chunk") && v) st = pet_cli_parse_int(a, v, 1, (int64_t)1 << 28, &chunk), ++i;
    else if (!strcmp(a, "--threads") && v) st = pet_cli_parse_int(a, v, 1, 4096, &threads), ++i;
    else if (!strcmp(a, "--duration-s") && v) st = pet_cli_parse_float(a, v, 1e-3, 4294967.0, &duration), ++i;
    else {
      fprintf(stderr, "petrel simulate: unknown or incomplete option '%s'\n\n%s", a, simulate_help);
      return 2;
    }
  }
  if (st != PET_OK) return 2;
  if (events < 0 || out == NULL) {
    fprintf(stderr, "petrel simulate: --events and --output are required\n\n%s", simulate_help);
    return 2;
  }
  static const char *const exts[] = {".h5", ".hdf5", NULL};
  if (pet_cli_check_output("--output", out, exts) != PET_OK) return 2;
  if (threads > 0) omp_set_num_threads((int)threads);

  pet_scanner *s = NULL;
  st = pet_cli_scanner_open(scanner_name, &s);
  if (st != PET_OK) return st == PET_ERR_IO ? 1 : 2;
  const pet_image_params ip = pet_job_default_grid(s);
  pet_event_sim es;
  memset(&es, 0, sizeof es);
  es.scanner = s;
  es.phantom = pet_phantom_default(&ip);
  es.seed = (uint64_t)seed;
  es.num_events = events;
  es.duration_s = duration;
  es.tof = tof;
  if (!quiet && !json)
    fprintf(stderr, "simulate: scanner %s (%d x %d rings, %lld detectors), %lld events%s over %.0f s, seed %lld, "
            "%s, %d threads\n",
            s->params.name, s->params.dets_per_ring, s->params.num_rings, (long long)s->num_dets, (long long)events,
            tof ? " with TOF" : "", duration, (long long)seed,
            deflate > 0 ? "deflate" : "uncompressed", omp_get_max_threads());
  pet_sim_file_stats stats;
  const double t0 = pet_cli_now();
  st = pet_cli_simulate_file(&es, out, (int)deflate, chunk, quiet || json, &stats);
  const double wall = pet_cli_now() - t0;
  if (st == PET_OK) {
    const long long bytes = file_bytes(out);
    if (json)
      printf("{\"event\":\"simulate\",\"scanner\":\"%s\",\"events\":%lld,\"tof\":%s,\"deflate\":%lld,"
             "\"bytes\":%lld,\"seconds\":%.3f,\"sample_s\":%.3f,\"write_s\":%.3f,\"events_per_s\":%.4g,"
             "\"write_mb_per_s\":%.4g,\"output\":\"%s\"}\n",
             s->params.name, (long long)events, tof ? "true" : "false", (long long)deflate, bytes, wall,
             stats.sample_s, stats.write_s, wall > 0 ? (double)events / wall : 0.0,
             stats.write_s > 0 ? (double)bytes / stats.write_s / 1e6 : 0.0, out);
    else if (!quiet)
      printf("simulate: wrote %lld events to %s (%.1f MB) in %.1f s (sampling %.1f s, writing %.1f s: %.3g events/s)\n",
             (long long)events, out, (double)bytes / 1e6, wall, stats.sample_s, stats.write_s,
             wall > 0 ? (double)events / wall : 0.0);
  }
  pet_scanner_destroy(&s);
  if (st == PET_ERR_INTERRUPTED) {
    fprintf(stderr, "petrel: simulate stopped by %s; nothing was written\n", pet_cli_signal_name(pet_cli_stop_signal()));
    return pet_cli_signal_exit_code();
  }
  return st == PET_OK ? 0 : (st == PET_ERR_ARG || st == PET_ERR_CONFIG ? 2 : 1);
}
