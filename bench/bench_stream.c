/* List-mode OSEM streamed from an HDF5 file vs held in memory (issue 16), one process, CPU or
 * GPU (--gpu), the clinical scanner (4 x 4 x 20 mm crystals; image 150 x 150 x 24), TOF, or
 * the total-body one (--scanner total-body: 840 x 672 rings, image 240 x 240 x 680 of 2.85 mm,
 * --coarse for 120 x 120 x 340 of 5.7 mm).
 *
 *   bench_stream --write FILE [--events N]     writes N events (default 1e8): keyed random
 *                                              LORs through the FOV, TOF values drawn around
 *                                              the LOR's middle with the scanner's resolution
 *   bench_stream --scanner total-body --write FILE [--events N] [--compress 0,4] [--chunk C]
 *                                              the event simulator's file (pet_simulate_listmode_file,
 *                                              chunks of C events, bounded memory), once per deflate
 *                                              level (level L > 0 goes to FILE.deflateL.h5); one JSON
 *                                              line each: events/s, MB/s written, file size
 *   bench_stream --file FILE [--gpu] [--modes read,memory,stream,stream10] [--iterations I]
 *                [--projector siddon|dd] [--no-tof] [--scanner clinical|total-body] [--coarse]
 *                [--sort 0,1,2]
 *
 * --sort runs each mode once per value of PET_GPU_LM_SORT (GPU list-mode batches: 0 in file
 * order, 1 sorted into spatially coherent order on the device, 2 sorted but run in file order:
 * the sort's cost alone); each JSON line says its "sort" (-1: the variable unset, i.e. the default, 1) and the key's
 * slab and tile (PET_GPU_LM_SORT_SLAB, PET_GPU_LM_SORT_TILE: slices, voxels; 8 each by default).
 *
 * The total-body scanner has 1.04e11 LORs: its sensitivity is not computed here (bench_sens
 * times it: 12.6 s on an H200 from the axial symmetry); the iterations run with a uniform one
 * ("sensitivity":"uniform"; the time of an iteration does not depend on its values).
 *
 * Modes: memory = read all events (timed: read_s), then OSEM; stream = OSEM streamed from the
 * file with the default window (2^24 events) and VRAM budget; stream10 = streamed with the
 * window and the VRAM budget cut to 1/10 of the events. One JSON line per mode: iteration
 * seconds, events/s, and the process's peak RSS so far (run the stream modes alone to see
 * what streaming holds). The sensitivity is computed once, outside the timings. */
#include "bench_help.h"
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "pet_gpu.h"
#include "pet_fov.h"
#include "pet_h5.h"
#include "pet_histogram.h"
#include "pet_listmode.h"
#include "pet_osem.h"
#include "pet_phantom.h"
#include "pet_scanner.h"
#include "pet_simulate.h"

#define CHK(expr)                                                                                \
  do {                                                                                           \
    pet_status st_ = (expr);                                                                     \
    if (st_ != PET_OK) {                                                                         \
      fprintf(stderr, "bench_stream: %s failed: %s\n", #expr, pet_status_name(st_));            \
      return 1;                                                                                  \
    }                                                                                            \
  } while (0)

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss_gb(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / (1024.0 * 1024.0);
}

/* splitmix64 */
static uint64_t mix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static const float TOF_FWHM_PS = 400.0f;

static int write_file(const char *path, int64_t n, const pet_scanner_params *sp)
{
  pet_listmode *lm = NULL;
  CHK(pet_listmode_create_owned(&lm, n, true));
  const int n_ring = sp->dets_per_ring, n_rings = sp->num_rings, mrd = sp->max_ring_diff;
  const float sigma = TOF_FWHM_PS / 2.3548f;
  const double t0 = now_s();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    uint64_t r = mix(0x5eedull ^ (uint64_t)i), r2 = mix(r), r3 = mix(r2);
    int i1 = (int)(r % (uint64_t)n_ring);
    int ring1 = (int)((r >> 20) % (uint64_t)n_rings);
    int dr = (int)((r >> 40) % (uint64_t)(2 * mrd + 1)) - mrd;
    int ring2 = ring1 + dr;
    if (ring2 < 0 || ring2 >= n_rings) ring2 = ring1;
    int off = n_ring / 2 + (int)(r2 % (uint64_t)(n_ring / 2)) - n_ring / 4;
    int i2 = (i1 + off) % n_ring;
    /* Box-Muller: a TOF value around the middle of the LOR */
    double u1 = ((double)(r3 >> 11) + 0.5) / 9007199254740992.0, u2 = (double)(mix(r3) >> 11) / 9007199254740992.0;
    lm->time_ms[i] = (uint32_t)((double)i / (double)n * 600000.0);
    lm->d1[i] = (uint32_t)(ring1 * n_ring + i1);
    lm->d2[i] = (uint32_t)(ring2 * n_ring + i2);
    lm->tof_ps[i] = (float)(sigma * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
  }
  const double t1 = now_s();
  CHK(pet_h5_write_listmode(path, sp->name, n, lm->time_ms, lm->d1, lm->d2, lm->tof_ps));
  const double t2 = now_s();
  printf("{\"bench\":\"stream\",\"case\":\"write\",\"events\":%lld,\"bytes\":%lld,\"generate_s\":%.3f,\"write_s\":%.3f,"
         "\"write_gb_per_s\":%.3f}\n",
         (long long)n, (long long)n * 16, t1 - t0, t2 - t1, (double)n * 16 / (t2 - t1) / 1e9);
  pet_listmode_destroy(&lm);
  return 0;
}

/* Where the iterations' time went (pet_osem_progress, summed over subsets). */
typedef struct split {
  double project, read_wait, reduce, update;
} split;
static void add_split(void *ctx, const pet_osem_progress *p)
{
  split *t = ctx;
  t->project += p->project_s;
  t->read_wait += p->read_wait_s;
  t->reduce += p->reduce_s;
  t->update += p->update_s + p->gather_s;
}

/* The event simulator's file on the total-body scanner, once per deflate level. */
static int write_sim_files(const char *path, int64_t n, const pet_scanner_params *sp, const char *levels,
                           int64_t chunk, const pet_image_params *ip)
{
  pet_scanner *s = NULL;
  CHK(pet_scanner_create(&s, sp));
  pet_event_sim es;
  memset(&es, 0, sizeof es);
  es.scanner = s;
  es.phantom = pet_phantom_default(ip);
  es.seed = 1;
  es.num_events = n;
  es.duration_s = 600.0;
  es.tof = true;
  char list[128];
  snprintf(list, sizeof list, "%s", levels);
  for (char *l = strtok(list, ","); l; l = strtok(NULL, ",")) {
    const int level = atoi(l);
    char out[4096];
    const size_t len = strlen(path);
    if (level == 0)
      snprintf(out, sizeof out, "%s", path);
    else if (len > 3 && !strcmp(path + len - 3, ".h5"))
      snprintf(out, sizeof out, "%.*s.deflate%d.h5", (int)(len - 3), path, level);
    else
      snprintf(out, sizeof out, "%s.deflate%d.h5", path, level);
    pet_sim_file_opts o = pet_sim_file_opts_default();
    o.deflate_level = level;
    o.chunk_events = chunk;
    pet_sim_file_stats stats;
    const double t0 = now_s();
    CHK(pet_simulate_listmode_file(&es, out, &o, &stats));
    const double wall = now_s() - t0;
    struct stat sb;
    const long long bytes = stat(out, &sb) == 0 ? (long long)sb.st_size : -1;
    printf("{\"bench\":\"stream\",\"case\":\"simulate_write\",\"scanner\":\"%s\",\"events\":%lld,\"deflate\":%d,"
           "\"chunk_events\":%lld,\"threads\":%d,\"file_bytes\":%lld,\"raw_bytes\":%lld,\"seconds\":%.3f,"
           "\"sample_s\":%.3f,\"write_s\":%.3f,\"events_per_s\":%.4g,\"write_events_per_s\":%.4g,"
           "\"write_mb_per_s\":%.4g,\"write_raw_mb_per_s\":%.4g,\"peak_rss_gb\":%.2f,\"file\":\"%s\"}\n",
           sp->name, (long long)n, level, (long long)o.chunk_events, omp_get_max_threads(), bytes,
           (long long)n * 16, wall, stats.sample_s, stats.write_s, (double)n / wall, (double)n / stats.write_s,
           (double)bytes / stats.write_s / 1e6, (double)n * 16 / stats.write_s / 1e6, peak_rss_gb(), out);
    fflush(stdout);
  }
  pet_scanner_destroy(&s);
  return 0;
}

int main(int argc, char **argv)
{
  if (bench_help(argc, argv,
                 "usage: bench_stream --write FILE [--events N]\n"
                 "       bench_stream --file FILE [--gpu] [--modes read,memory,stream,stream10] [--iterations I]\n"
                 "                    [--projector siddon|dd] [--no-tof] [--sort 0,1,2]\n"
                 "       add --scanner total-body [--coarse] to either; with --write also\n"
                 "       [--compress 0,4] [--chunk C] (the event simulator, bounded memory), or\n"
                 "       --random-lors (the keyed random LORs of the clinical --write, held in memory)\n"
                 "  List-mode OSEM streamed from an HDF5 file vs held in memory (clinical or total-body\n"
                 "  scanner, TOF); one JSON line per mode (per deflate level with --write).\n"))
    return 0;
  const char *wpath = NULL, *path = NULL, *modes = "memory,stream,stream10", *sorts = NULL;
  int64_t n = 100000000;
  int iterations = 1;
  bool gpu = false, tof = true, dd = false, total_body = false, coarse = false, random_lors = false;
  const char *levels = "0";
  int64_t chunk = PET_SIM_CHUNK_EVENTS;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--write") && i + 1 < argc) wpath = argv[++i];
    else if (!strcmp(argv[i], "--file") && i + 1 < argc) path = argv[++i];
    else if (!strcmp(argv[i], "--events") && i + 1 < argc) n = (int64_t)atof(argv[++i]);
    else if (!strcmp(argv[i], "--modes") && i + 1 < argc) modes = argv[++i];
    else if (!strcmp(argv[i], "--sort") && i + 1 < argc) sorts = argv[++i];
    else if (!strcmp(argv[i], "--iterations") && i + 1 < argc) iterations = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--projector") && i + 1 < argc) dd = !strcmp(argv[++i], "dd");
    else if (!strcmp(argv[i], "--gpu")) gpu = true;
    else if (!strcmp(argv[i], "--no-tof")) tof = false;
    else if (!strcmp(argv[i], "--coarse")) coarse = true;
    else if (!strcmp(argv[i], "--random-lors")) random_lors = true;
    else if (!strcmp(argv[i], "--compress") && i + 1 < argc) levels = argv[++i];
    else if (!strcmp(argv[i], "--chunk") && i + 1 < argc) chunk = (int64_t)atof(argv[++i]);
    else if (!strcmp(argv[i], "--scanner") && i + 1 < argc) {
      const char *name = argv[++i];
      if (!strcmp(name, "total-body")) total_body = true;
      else if (strcmp(name, "clinical") != 0) {
        fprintf(stderr, "bench_stream: --scanner clinical or total-body (got %s)\n", name);
        return 2;
      }
    }
    else {
      fprintf(stderr, "bench_stream: unknown argument %s (see --help)\n", argv[i]);
      return 2;
    }
  }
  if (n < 1 || iterations < 1 || (!wpath && !path)) {
    fprintf(stderr, "bench_stream: give --write FILE or --file FILE, --events >= 1, --iterations >= 1\n");
    return 2;
  }
  pet_scanner_params sp = total_body ? pet_scanner_params_total_body() : pet_scanner_params_clinical();
  const int tb_xy = coarse ? PET_TOTAL_BODY_GRID_NXY / 2 : PET_TOTAL_BODY_GRID_NXY;
  const int tb_z = coarse ? PET_TOTAL_BODY_GRID_NZ / 2 : PET_TOTAL_BODY_GRID_NZ;
  const float tb_v = coarse ? 2.0f * PET_TOTAL_BODY_VOXEL_MM : PET_TOTAL_BODY_VOXEL_MM;
  pet_image_params ip = total_body ? pet_image_params_make(tb_xy, tb_xy, tb_z, tb_xy * tb_v, tb_xy * tb_v, tb_z * tb_v)
                                   : pet_image_params_make(150, 150, 24, 600.f, 600.f, 97.68f);
  if (wpath && total_body && !random_lors) return write_sim_files(wpath, n, &sp, levels, chunk, &ip);
  if (wpath) return write_file(wpath, n, &sp);

  pet_scanner *scanner = NULL;
  pet_histo_layout *L = NULL;
  CHK(pet_scanner_create(&scanner, &sp));
  CHK(pet_histo_layout_create(&L, scanner));
  pet_lm_source src;
  CHK(pet_h5_listmode_source_open(path, &src));
  n = src.num_events;

  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = scanner;
  d.layout = L;
  d.lm_count = -1;
  pet_osem_opts o = pet_osem_opts_default();
  o.iterations = iterations;
  o.subsets = 1;
  o.proj.kind = dd ? PET_PROJ_DD : PET_PROJ_SIDDON;
  o.proj.crystal_size_trans = sp.crystal_size_trans;
  o.proj.crystal_size_z = sp.crystal_size_z;
  o.proj.tof = tof;
  o.proj.tof_fwhm_ps = total_body ? sp.tof_fwhm_ps : TOF_FWHM_PS;
  if (total_body) pet_projector_params_set_fov(&o.proj, &sp);
  o.gpu = gpu;
  char device[128] = "cpu";
  if (gpu) CHK(pet_gpu_device_name(0, device, sizeof device));

  pet_image *sens = NULL, *x = NULL;
  CHK(pet_image_create_owned(&sens, ip, PET_HOST));
  CHK(pet_image_create_owned(&x, ip, PET_HOST));
  if (total_body) {
    CHK(pet_image_fill(sens, 1.0f));
  } else {
    pet_osem_opts os = o;
    os.subsets = 1;
    CHK(pet_osem_sensitivity(&d, &os, &sens, 1));
  }
  struct stat fsb;
  const long long file_bytes = stat(path, &fsb) == 0 ? (long long)fsb.st_size : -1;
  int sort_v[8] = {-1}, nsort = 1; /* -1: leave PET_GPU_LM_SORT as it is */
  if (sorts) {
    nsort = 0;
    for (const char *q = sorts; *q && nsort < 8;) {
      sort_v[nsort++] = atoi(q);
      q = strchr(q, ',');
      if (q == NULL) break;
      ++q;
    }
  }
  char list[256];
  snprintf(list, sizeof list, "%s", modes);
  for (char *m = strtok(list, ","); m; m = strtok(NULL, ",")) {
    pet_osem_data dm = d;
    pet_osem_opts om = o;
    pet_listmode *lm = NULL;
    double read_s = 0.0;
    if (!strcmp(m, "read")) {
      /* the source alone: the whole file in windows of 2^24 events, as the streamed OSEM reads it */
      const int64_t w = (int64_t)1 << 24;
      uint32_t *b1 = malloc((size_t)w * 4), *b2 = malloc((size_t)w * 4);
      float *bt = malloc((size_t)w * 4);
      if (!b1 || !b2 || !bt) return 1;
      const double t0 = now_s();
      for (int64_t f = 0; f < n; f += w) CHK(src.read(src.ctx, f, n - f < w ? n - f : w, b1, b2, tof ? bt : NULL));
      const double rs = now_s() - t0;
      printf("{\"bench\":\"stream\",\"case\":\"read\",\"reader\":\"%s\",\"events\":%lld,\"bytes\":%lld,"
             "\"read_s\":%.3f,\"GB_per_s\":%.2f,\"events_per_s\":%.4g}\n",
             pet_h5_listmode_source_is_raw(&src) ? "pread" : "hdf5", (long long)n, (long long)n * (tof ? 12 : 8), rs,
             (double)n * (tof ? 12 : 8) / rs / 1e9, (double)n / rs);
      fflush(stdout);
      free(b1);
      free(b2);
      free(bt);
      continue;
    }
    if (!strcmp(m, "memory")) {
      const double t0 = now_s();
      CHK(pet_listmode_create_owned(&lm, n, tof));
      CHK(pet_h5_read_listmode_range(path, 0, n, NULL, lm->d1, lm->d2, tof ? lm->tof_ps : NULL));
      read_s = now_s() - t0;
      dm.listmode = lm;
    } else if (!strcmp(m, "stream") || !strcmp(m, "stream10")) {
      dm.lm_source = &src;
      if (!strcmp(m, "stream10")) {
        om.lm_window_events = (n + 9) / 10;
        /* the GPU's batches of a tenth of the events too (bytes per event as the backend counts) */
        if (gpu) om.vram_budget_bytes = (om.lm_window_events + 1) * 64;
        else om.batch_lors = om.lm_window_events;
      }
    } else {
      fprintf(stderr, "bench_stream: unknown mode %s\n", m);
      return 2;
    }
    /* --sort: once per PET_GPU_LM_SORT value */
    for (int si = 0; si < nsort; ++si) {
      if (sort_v[si] >= 0) {
        char sb[16];
        snprintf(sb, sizeof sb, "%d", sort_v[si]);
        setenv("PET_GPU_LM_SORT", sb, 1);
      }
      const char *senv = getenv("PET_GPU_LM_SORT");
      const int sort = senv ? atoi(senv) : -1;
      const char *slab_env = getenv("PET_GPU_LM_SORT_SLAB"), *tile_env = getenv("PET_GPU_LM_SORT_TILE");
      const int slab = slab_env && atoi(slab_env) > 0 ? atoi(slab_env) : 8; /* the backend's default */
      const int tile = tile_env && atoi(tile_env) > 0 ? atoi(tile_env) : 8;
      CHK(pet_image_fill(x, 1.0f));
      split sp_t = {0, 0, 0, 0};
      om.on_subset = add_split;
      om.cb_ctx = &sp_t;
      const double t0 = now_s();
      CHK(pet_osem_run(&dm, &om, &sens, x));
      const double osem_s = now_s() - t0;
      double sum = 0.0;
      for (int64_t v = 0; v < pet_image_num_voxels(x); ++v) sum += x->data[v];
      printf("{\"bench\":\"stream\",\"case\":\"%s\",\"scanner\":\"%s\",\"sensitivity\":\"%s\",\"device\":\"%s\",\"projector\":\"%s\",\"tof\":%s,\"events\":%lld,"
             "\"file_bytes\":%lld,\"image\":[%d,%d,%d],\"iterations\":%d,\"read_s\":%.3f,\"iteration_s\":%.3f,"
             "\"events_per_s\":%.4g,\"window\":%lld,\"vram_budget_bytes\":%lld,\"peak_rss_gb\":%.2f,\"checksum\":%.6g,"
             "\"reader\":\"%s\",\"sort\":%d,\"sort_slab\":%d,\"sort_tile\":%d,\"split_s\":{\"project\":%.3f,\"of_which_read_wait\":%.3f,\"reduce\":%.3f,"
             "\"update\":%.3f}}\n",
             m, sp.name, total_body ? "uniform" : "computed", device, dd ? "DD" : "Siddon", tof ? "true" : "false", (long long)n, file_bytes, ip.nx, ip.ny,
             ip.nz, iterations, read_s, osem_s / iterations, (double)n * iterations / osem_s,
             (long long)om.lm_window_events, (long long)om.vram_budget_bytes, peak_rss_gb(), sum,
             dm.lm_source ? (pet_h5_listmode_source_is_raw(&src) ? "pread" : "hdf5") : "hdf5", sort, slab, tile,
             sp_t.project / iterations,
             sp_t.read_wait / iterations, sp_t.reduce / iterations, sp_t.update / iterations);
      fflush(stdout);
    }
    pet_listmode_destroy(&lm);
  }
  pet_h5_listmode_source_close(&src);
  pet_image_destroy(&sens);
  pet_image_destroy(&x);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&scanner);
  return 0;
}
