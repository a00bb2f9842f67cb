/* Prior gradient throughput (voxels/s): pet_prior_gradient on the host (OpenMP over the
 * per-voxel worker of src/kernels/pet_prior_kernel.h) and pet_gpu_prior_gradient on the device
 * (the GPU backend's kernel, the same worker), RDP and quadratic, for image sizes from the demo
 * grid to 320 x 320 x 96. One JSON line per (backend, prior, size): the median of the
 * repetitions, and a checksum (the gradient's sum of |g|, double) that is the same on both
 * backends up to float rounding.
 *   bench_prior [--reps R] [--threads N] [--cpu-only] */
#include "bench_help.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "pet_gpu.h"
#include "pet_image.h"
#include "pet_prior.h"

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double checksum(const pet_image *g)
{
  double s = 0.0;
  for (int64_t v = 0; v < pet_image_num_voxels(g); ++v) s += fabs((double)g->data[v]);
  return s;
}

/* A deterministic positive image (hash of the voxel index): the same for any backend. */
static void fill_image(pet_image *x)
{
  for (int64_t v = 0; v < pet_image_num_voxels(x); ++v) {
    uint64_t h = (uint64_t)v * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    x->data[v] = 0.5f + (float)(h >> 40) / (float)(1u << 24);
  }
}

typedef struct gpu_run {
  const pet_prior_params *p;
  const pet_image *x;
  pet_image *g;
} gpu_run;

static pet_status run_gpu(void *ctx)
{
  gpu_run *r = ctx;
  return pet_gpu_prior_gradient(r->p, r->x, r->g);
}

int main(int argc, char **argv)
{
  if (bench_help(argc, argv,
                 "usage: bench_prior [--reps R] [--threads N] [--cpu-only]\n"
                 "  Prior gradient throughput (RDP, quadratic) on the host (OpenMP) and on a GPU\n"
                 "  (when there is one), for image sizes up to 320x320x96. One JSON line per\n"
                 "  (backend, prior, size): median seconds over R repetitions (default 10),\n"
                 "  voxels/s and a checksum equal across backends up to rounding.\n"))
    return 0;
  int reps = 10, threads = 0;
  bool cpu_only = false;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--cpu-only")) cpu_only = true;
    else {
      fprintf(stderr, "bench_prior: unknown option '%s' (--help)\n", argv[i]);
      return 2;
    }
  }
  if (reps < 1) reps = 1;
  if (threads > 0) omp_set_num_threads(threads);
  const bool gpu = !cpu_only && pet_gpu_device_count() > 0;
  static const int32_t dims[][3] = {{96, 96, 8}, {150, 150, 24}, {256, 256, 64}, {320, 320, 96}};
  const int ndims = (int)(sizeof dims / sizeof dims[0]);
  double *t = malloc((size_t)reps * sizeof(double));
  if (t == NULL) return 1;
  int rc = 0;
  for (int k = 0; k < ndims && rc == 0; ++k) {
    const pet_image_params ip = pet_image_params_make(dims[k][0], dims[k][1], dims[k][2], 2.0f * (float)dims[k][0],
                                                      2.0f * (float)dims[k][1], 2.0f * (float)dims[k][2]);
    pet_image *x = NULL, *g = NULL, *xd = NULL, *gd = NULL;
    if (pet_image_create_owned(&x, ip, PET_HOST) != PET_OK || pet_image_create_owned(&g, ip, PET_HOST) != PET_OK) {
      rc = 1;
      break;
    }
    fill_image(x);
    if (gpu && (pet_image_create_owned(&xd, ip, PET_DEVICE) != PET_OK ||
                pet_image_create_owned(&gd, ip, PET_DEVICE) != PET_OK || pet_image_copy(xd, x) != PET_OK))
      rc = 1;
    const int64_t nv = pet_image_num_voxels(x);
    for (int kind = PET_PRIOR_RDP; kind <= PET_PRIOR_QUADRATIC && rc == 0; ++kind) {
      pet_prior_params p = pet_prior_params_default();
      p.kind = (pet_prior_kind)kind;
      p.beta = 1.0f;
      for (int be = 0; be < (gpu ? 2 : 1) && rc == 0; ++be) {
        for (int r = 0; r < reps && rc == 0; ++r) {
          if (be == 0) {
            const double t0 = now_s();
            if (pet_prior_gradient(&p, x, g) != PET_OK) rc = 1;
            t[r] = now_s() - t0;
          } else {
            gpu_run run = {&p, xd, gd};
            float ms = 0.0f;
            if (pet_gpu_time_ms(run_gpu, &run, &ms) != PET_OK) rc = 1;
            t[r] = 1e-3 * ms;
          }
        }
        if (rc != 0) break;
        if (be == 1 && pet_image_copy(g, gd) != PET_OK) {
          rc = 1;
          break;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp_double);
        const double med = t[reps / 2];
        printf("{\"bench\":\"prior_gradient\",\"backend\":\"%s\",\"prior\":\"%s\",\"nx\":%d,\"ny\":%d,\"nz\":%d,"
               "\"voxels\":%lld,\"threads\":%d,\"reps\":%d,\"seconds\":%.6g,\"voxels_per_s\":%.4g,\"checksum\":%.10g}\n",
               be ? "gpu" : "cpu", pet_prior_kind_name(p.kind), ip.nx, ip.ny, ip.nz, (long long)nv,
               be ? 0 : omp_get_max_threads(), reps, med, med > 0 ? (double)nv / med : 0.0, checksum(g));
        fflush(stdout);
      }
    }
    pet_image_destroy(&x);
    pet_image_destroy(&g);
    pet_image_destroy(&xd);
    pet_image_destroy(&gd);
  }
  free(t);
  if (rc != 0) fprintf(stderr, "bench_prior: %s\n", pet_last_error());
  return rc;
}
