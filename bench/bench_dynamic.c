/* Dynamic list-mode throughput: N events (default 1e8) over F frames on the seed's small
 * scanner (256 x 8 rings), image 96 x 96 x 8, generated on the fly per frame from a keyed RNG
 * (event i is the same for any rank count; a rank holds one frame's events at a time), then
 * pet_dyn_reconstruct over the ranks of mpirun, on CPUs or (--gpu) one GPU per rank.
 * Prints one JSON line: events/s (events x iterations / reconstruction time, event
 * generation excluded), the plan, the sensitivity time and a checksum of the frames.
 * usage: [mpirun -np R] bench_dynamic [--events N] [--frames F] [--iterations I]
 *        [--subsets S] [--threads T] [--gpu] */
#include "pet_config.h"
#include "bench_help.h"
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_comm.h"
#include "pet_dyn_recon.h"
#include "pet_dynamic.h"
#include "pet_histogram.h"
#include "pet_listmode.h"
#include "pet_osem.h"
#include "pet_phantom.h"
#include "pet_scanner.h"

#define CHK(expr)                                                                                \
  do {                                                                                           \
    pet_status st_ = (expr);                                                                     \
    if (st_ != PET_OK) {                                                                         \
      fprintf(stderr, "bench_dynamic: %s failed: %s\n", #expr, pet_status_name(st_));           \
      pet_comm_finalize(&comm);                                                                  \
      return 1;                                                                                  \
    }                                                                                            \
  } while (0)

typedef struct gen {
  const pet_scanner_params *sp;
  int64_t n;
  int F;
  double total_s;
  pet_listmode *lm;
  double gen_s;
} gen;

/* splitmix64 */
static uint64_t mix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static pet_status gen_load(void *ctx, int f, pet_osem_data *d)
{
  gen *g = ctx;
  const double t0 = pet_comm_wtime();
  const int64_t a = g->n * f / g->F, b = g->n * (f + 1) / g->F;
  PET_TRY(pet_listmode_create_owned(&g->lm, b > a ? b - a : 1, false));
  const int n_ring = g->sp->dets_per_ring, n_rings = g->sp->num_rings, mrd = g->sp->max_ring_diff;
#pragma omp parallel for schedule(static)
  for (int64_t i = a; i < b; ++i) {
    uint64_t r = mix(0x5eedull ^ (uint64_t)i), r2 = mix(r);
    int i1 = (int)(r % (uint64_t)n_ring);
    int ring1 = (int)((r >> 20) % (uint64_t)n_rings);
    int dr = (int)((r >> 40) % (uint64_t)(2 * mrd + 1)) - mrd;
    int ring2 = ring1 + dr;
    if (ring2 < 0 || ring2 >= n_rings) ring2 = ring1;
    /* opposite side, +-1/4 of the ring: LORs through the field of view */
    int off = n_ring / 2 + (int)(r2 % (uint64_t)(n_ring / 2)) - n_ring / 4;
    int i2 = (i1 + off) % n_ring;
    g->lm->time_ms[i - a] = (uint32_t)((double)i / (double)g->n * g->total_s * 1000.0);
    g->lm->d1[i - a] = (uint32_t)(ring1 * n_ring + i1);
    g->lm->d2[i - a] = (uint32_t)(ring2 * n_ring + i2);
  }
  d->listmode = g->lm;
  d->lm_first = 0;
  d->lm_count = b - a;
  g->gen_s += pet_comm_wtime() - t0;
  return PET_OK;
}

static void gen_release(void *ctx, int f)
{
  (void)f;
  gen *g = ctx;
  pet_listmode_destroy(&g->lm);
}

int main(int argc, char **argv)
{
  if (bench_help(argc, argv,
                 "usage: [mpirun -np N] bench_dynamic [--events N] [--frames F] [--iterations I] [--subsets S]\n"
    "                                   [--threads T] [--gpu]\n"
    "  Dynamic list-mode throughput on the seed's small scanner: N events (default 1e8) over F frames\n"
    "  (default 4), reconstructed over the ranks (CPUs, or one GPU per rank with --gpu).\n"
    "  Prints one JSON line (events/s, checksum).\n"))
    return 0;
  pet_comm *comm = NULL;
  if (pet_comm_init(&argc, &argv, &comm) != PET_OK) return 1;
  int64_t n = 100000000;
  int F = 4;
  bool gpu = false;
  /* iterations, subsets, threads: the config's one parser and range */
  pet_config bc;
  pet_config_defaults(&bc);
  bc.iterations = 1;
  bc.subsets = 1;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--events") && i + 1 < argc) n = (int64_t)atof(argv[++i]);
    else if (!strcmp(argv[i], "--frames") && i + 1 < argc) F = atoi(argv[++i]);
    else if ((!strcmp(argv[i], "--iterations") || !strcmp(argv[i], "--subsets") || !strcmp(argv[i], "--threads")) &&
             i + 1 < argc) {
      if (pet_config_set(&bc, argv[i], argv[i + 1]) != PET_OK) return 2;
      ++i;
    } else if (!strcmp(argv[i], "--gpu")) gpu = true;
    else {
      fprintf(stderr, "usage: bench_dynamic [--events N] [--frames F] [--iterations I] [--subsets S] "
                      "[--threads T] [--gpu]\n");
      pet_comm_finalize(&comm);
      return 2;
    }
  }  const int iterations = bc.iterations, subsets = bc.subsets, threads = bc.threads;

  if (threads > 0) omp_set_num_threads(threads);
  const int rank = pet_comm_rank(comm), size = pet_comm_size(comm);
  int device = -1;
  if (gpu) CHK(pet_comm_setup_gpu(comm, PET_COMM_AUTO, &device));
  pet_scanner_params sp = pet_scanner_params_small();
  pet_scanner *scanner = NULL;
  pet_histo_layout *L = NULL;
  CHK(pet_scanner_create(&scanner, &sp));
  CHK(pet_histo_layout_create(&L, scanner));
  pet_image_params ip = pet_image_params_make(96, 96, 8, 240.f, 240.f, 25.f);

  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = scanner;
  d.layout = L;
  d.lm_count = -1;
  pet_osem_opts o = pet_osem_opts_default();
  o.iterations = iterations;
  o.subsets = subsets;
  o.proj.crystal_size_trans = sp.crystal_size_trans;
  o.proj.crystal_size_z = sp.crystal_size_z;
  pet_reducer red = pet_comm_reducer(comm);
  o.reducer = &red;
  o.gpu = gpu;
  o.gpu_device = device;

  /* the sensitivity once, over all ranks (on the GPU with --gpu) */
  pet_image *sens = NULL;
  double sens_s = 0.0;
  CHK(pet_image_create_owned(&sens, ip, PET_HOST));
  {
    /* the list-mode sensitivity: one image over all bins (d holds no events yet) */
    pet_osem_opts os = o;
    os.subsets = 1;
    const double t0 = pet_comm_wtime();
    CHK(pet_osem_sensitivity(&d, &os, &sens, 1));
    sens_s = pet_comm_wtime() - t0;
  }

  pet_dyn_frame *fr = calloc((size_t)F, sizeof *fr);
  pet_image **x = calloc((size_t)F, sizeof *x);
  const double total_s = 60.0 * F;
  for (int f = 0; f < F; ++f) {
    fr[f].start_s = 60.0 * f;
    fr[f].duration_s = 60.0;
    fr[f].factor = 1.0;
    CHK(pet_image_create_owned(&x[f], ip, PET_HOST));
  }
  CHK(pet_dyn_frames_init(fr, F));
  for (int f = 0; f < F; ++f) {
    fr[f].first = n * f / F;
    fr[f].count = n * (f + 1) / F - fr[f].first;
  }
  gen g;
  memset(&g, 0, sizeof g);
  g.sp = &sp;
  g.n = n;
  g.F = F;
  g.total_s = total_s;
  pet_dyn_source src = {gen_load, gen_release, &g};
  pet_dyn_opts dy;
  memset(&dy, 0, sizeof dy);
  dy.frames = fr;
  dy.num_frames = F;
  dy.half_life_s = 6586.2;
  pet_dyn_plan plan;
  CHK(pet_comm_barrier(comm));
  const double t0 = pet_comm_wtime();
  CHK(pet_dyn_reconstruct(comm, &d, &o, &sens, &dy, &src, x, &plan));
  const double wall = pet_comm_wtime() - t0;
  /* event generation is not reconstruction: the slowest rank's reconstruction time */
  double rec[2] = {wall - g.gen_s, g.gen_s};
  double mx[2] = {rec[0], rec[1]};
  for (int r = 0; r < size; ++r) {
    double v[2] = {rank == r ? rec[0] : 0.0, rank == r ? rec[1] : 0.0};
    CHK(pet_comm_allreduce_sum_f64(comm, v, 2));
    if (v[0] > mx[0]) mx[0] = v[0];
    if (v[1] > mx[1]) mx[1] = v[1];
  }
  double checksum = 0.0;
  for (int f = 0; f < F; ++f)
    for (int64_t v = 0; v < pet_image_num_voxels(x[f]); ++v) checksum += x[f]->data[v];
  if (rank == 0)
    printf("{\"bench\":\"dynamic\",\"backend\":\"%s\",\"ranks\":%d,\"threads_per_rank\":%d,\"events\":%lld,"
           "\"frames\":%d,\"iterations\":%d,\"subsets\":%d,\"regime\":\"%s\",\"sens_s\":%.3f,\"wall_s\":%.3f,"
           "\"gen_s_max\":%.3f,\"recon_s\":%.3f,\"events_per_s\":%.4g,\"checksum\":%.9g}\n",
           gpu ? "gpu" : "cpu", size, omp_get_max_threads(), (long long)n, F, iterations, subsets,
           plan.regime == PET_DYN_FRAMES_PER_RANK ? "frames>=ranks" : "ranks>frames", sens_s, wall, mx[1], mx[0],
           (double)n * iterations / mx[0], checksum);
  for (int f = 0; f < F; ++f) pet_image_destroy(&x[f]);
  free(x);
  free(fr);
  pet_image_destroy(&sens);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&scanner);
  pet_comm_finalize(&comm);
  return 0;
}
