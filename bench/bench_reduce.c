/* The per-subset reduction of distributed OSEM on the host path, alone: for each image size,
 * (a) allreduce of the back projection + EM update of the whole image on every rank, versus
 * (b) reduce-scatter to z-slabs + EM update of the rank's slab + allgather of the slabs,
 * both exactly as pet_osem_run does them (pet_comm_* calls, same voxel update). Prints one
 * JSON line per (size, variant) on rank 0: median seconds of the phases over the repetitions,
 * and a checksum of the image (identical for both variants up to float summation order).
 * usage: mpirun -np N bench_reduce [--reps R] */
#include "bench_help.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_comm.h"
#include "pet_osem.h"

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void em_update(float *x, const float *back, const float *sens, int64_t n)
{
#pragma omp parallel for schedule(static)
  for (int64_t v = 0; v < n; ++v) x[v] = sens[v] > 0.0f ? x[v] * back[v] / sens[v] : 0.0f;
}

int main(int argc, char **argv)
{
  if (bench_help(argc, argv,
                 "usage: [mpirun -np N] bench_reduce [--reps R]\n"
    "  The per-subset reduction of distributed OSEM on the host path (allreduce + update, versus\n"
    "  reduce-scatter to z-slabs + slab update + allgather), for image sizes up to 320x320x96.\n"
    "  One JSON line per (size, variant) on rank 0; R repetitions (default 20).\n"))
    return 0;
  pet_comm *comm = NULL;
  if (pet_comm_init(&argc, &argv, &comm) != PET_OK) return 1;
  int reps = 20;
  for (int i = 1; i + 1 < argc; ++i)
    if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
  if (reps < 1) reps = 1;
  const int rank = pet_comm_rank(comm), size = pet_comm_size(comm);
  /* nx, ny, nz: from small to the clinical grid (150 x 150 x 24) and beyond */
  static const int32_t dims[][3] = {{32, 32, 8},   {64, 64, 16},   {96, 96, 24},   {150, 150, 24},
                                    {200, 200, 48}, {256, 256, 64}, {320, 320, 96}};
  const int ndims = (int)(sizeof dims / sizeof dims[0]);
  int rc = 0;
  for (int k = 0; k < ndims && rc == 0; ++k) {
    const int32_t nx = dims[k][0], ny = dims[k][1], nz = dims[k][2];
    const int64_t plane = (int64_t)nx * ny, n = plane * nz;
    float *x = malloc((size_t)n * sizeof(float)), *back = malloc((size_t)n * sizeof(float));
    float *sens = malloc((size_t)n * sizeof(float)), *slab = malloc((size_t)n * sizeof(float));
    int64_t *counts = malloc((size_t)size * sizeof(int64_t));
    double *t_red = malloc((size_t)reps * sizeof(double)), *t_upd = malloc((size_t)reps * sizeof(double));
    double *t_gat = malloc((size_t)reps * sizeof(double)), *t_all = malloc((size_t)reps * sizeof(double));
    if (!x || !back || !sens || !slab || !counts || !t_red || !t_upd || !t_gat || !t_all) {
      fprintf(stderr, "bench_reduce: out of memory\n");
      rc = 1;
    }
    for (int variant = 0; variant < 2 && rc == 0; ++variant) {
      for (int64_t v = 0; v < n; ++v) {
        x[v] = 1.0f;
        sens[v] = 1.0f + (float)(v % 7);
      }
      int32_t z0 = 0, z1 = 0;
      for (int r = 0; r < size; ++r) {
        pet_plan_rank_slab(nz, r, size, &z0, &z1);
        counts[r] = (int64_t)(z1 - z0) * plane;
      }
      pet_plan_rank_slab(nz, rank, size, &z0, &z1);
      const int64_t off = (int64_t)z0 * plane, mine = counts[rank];
      for (int it = -2; it < reps; ++it) { /* two warm-up rounds */
        for (int64_t v = 0; v < n; ++v) back[v] = (float)((v + rank) % 13) / 13.0f + 0.5f;
        pet_comm_barrier(comm);
        double t0 = pet_comm_wtime(), t1, t2, t3;
        pet_status st;
        if (variant == 0) {
          st = pet_comm_allreduce_sum(comm, back, n, PET_HOST);
          t1 = pet_comm_wtime();
          em_update(x, back, sens, n);
          t2 = t3 = pet_comm_wtime();
        } else {
          st = pet_comm_reduce_scatter_sum(comm, back, slab, counts, PET_HOST);
          t1 = pet_comm_wtime();
          em_update(x + off, slab, sens + off, mine);
          t2 = pet_comm_wtime();
          if (st == PET_OK) st = pet_comm_allgather(comm, x, counts, PET_HOST);
          t3 = pet_comm_wtime();
        }
        if (st != PET_OK) {
          rc = 1;
          break;
        }
        if (it >= 0) {
          t_red[it] = t1 - t0;
          t_upd[it] = t2 - t1;
          t_gat[it] = t3 - t2;
          t_all[it] = t3 - t0;
        }
      }
      double med[4] = {median(t_red, reps), median(t_upd, reps), median(t_gat, reps), median(t_all, reps)};
      double sum = 0.0;
      for (int64_t v = 0; v < n; ++v) sum += x[v];
      /* the slowest rank's median decides the subset's time: gather every rank's, take the max */
      double *gather = calloc((size_t)size * 4, sizeof(double));
      if (gather) {
        for (int q = 0; q < 4; ++q) gather[(size_t)rank * 4 + (size_t)q] = med[q];
        pet_comm_allreduce_sum_f64(comm, gather, (int64_t)size * 4);
        for (int r = 0; r < size; ++r)
          for (int q = 0; q < 4; ++q) med[q] = fmax(med[q], gather[(size_t)r * 4 + (size_t)q]);
        free(gather);
      }
      if (rank == 0)
        printf("{\"bench\":\"reduce\",\"variant\":\"%s\",\"ranks\":%d,\"nx\":%d,\"ny\":%d,\"nz\":%d,"
               "\"mbytes\":%.3f,\"reps\":%d,\"reduce_s\":%.6f,\"update_s\":%.6f,\"gather_s\":%.6f,"
               "\"total_s\":%.6f,\"checksum\":%.6e}\n",
               variant == 0 ? "allreduce" : "slab", size, nx, ny, nz, (double)n * 4.0 / 1e6, reps, med[0], med[1],
               med[2], med[3], sum);
      fflush(stdout);
    }
    free(x);
    free(back);
    free(sens);
    free(slab);
    free(counts);
    free(t_red);
    free(t_upd);
    free(t_gat);
    free(t_all);
  }
  pet_comm_finalize(&comm);
  return rc;
}
