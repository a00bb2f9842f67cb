/* Projector throughput (LORs/s) for Siddon, multi-ray Siddon and distance-driven, forward or
 * back, over all bins of a scanner's fully-3D histogram. Prints one JSON line.
 *
 *   bench_projectors [--threads N] [--scanner small|clinical] [--projector S|MRS|DD]
 *                    [--dir fwd|back] [--lors histogram|cylinder] [--n N] [--chunk N]
 *                    [--back auto|atomic|private] [--tof-bins T] [--tof-fwhm PS] [--tof-bin-width PS]
 *
 * --tof-bins T > 0 projects a TOF histogram: T TOF bins per LOR (default width: the bins span the
 * ring's diameter), FWHM --tof-fwhm (default 300 ps); the line then gives ns per (LOR, TOF bin)
 * besides ns per LOR, to compare with the same run without TOF bins.
 *
 * --lors histogram (default when built with the histogram module) takes the LORs of every bin
 * from pet_histo_get_lors in chunks of --chunk bins (default 1M) to bound memory.
 * --lors cylinder is a stand-in that needs no scanner code: --n LORs (default 4M) between
 * pseudo-random detector pairs on a ring scanner of the same geometry (radius to the crystal
 * centres, dets per ring, rings, min angle and max ring differences), points on a cylinder.
 * Only the projection is timed, not the LOR generation. */
#include "bench_help.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "pet_image.h"
#include "pet_projector.h"
#include "pet_histogram.h"
#include "pet_scanner.h"

typedef struct bench_opts {
  int threads;
  const char *scanner, *projector, *dir, *lors, *back;
  int64_t n, chunk;
  int tof_bins;
  double tof_fwhm_ps, tof_bin_width_ps;
} bench_opts;

/* Ring geometry of the stand-in (matches pet_scanner_params_small/_clinical). */
typedef struct ring_geom {
  float radius_mm; /* to the crystal centres */
  int32_t dets_per_ring, num_rings, min_ang_diff, max_ring_diff;
  float axial_fov_mm;
} ring_geom;

static double now_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t mix64(uint64_t z)
{
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void cpu_model(char *buf, size_t len)
{
  snprintf(buf, len, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0) {
      char *c = strchr(line, ':');
      if (c) {
        c += 1 + (c[1] == ' ');
        c[strcspn(c, "\n")] = 0;
        for (char *q = c; *q; ++q)
          if (*q == '"' || *q == '\\') *q = '\'';
        snprintf(buf, len, "%s", c);
      }
      break;
    }
  }
  fclose(f);
}

/* Stand-in LOR k: a detector pair drawn from the LOR's index (any chunking gives the same). */
static void cylinder_lor(const ring_geom *r, int64_t k, float *lor, float *ori)
{
  uint64_t h = mix64((uint64_t)k);
  int32_t d1 = (int32_t)(h % (uint64_t)r->dets_per_ring);
  int32_t span = r->dets_per_ring - 2 * r->min_ang_diff + 1;
  int32_t d2 = (d1 + r->min_ang_diff + (int32_t)((h >> 16) % (uint64_t)span)) % r->dets_per_ring;
  int32_t z1 = (int32_t)((h >> 32) % (uint64_t)r->num_rings);
  int32_t dz = (int32_t)((h >> 40) % (uint64_t)(2 * r->max_ring_diff + 1)) - r->max_ring_diff;
  int32_t z2 = z1 + dz < 0 ? 0 : (z1 + dz >= r->num_rings ? r->num_rings - 1 : z1 + dz);
  float pitch = r->axial_fov_mm / (float)r->num_rings;
  int32_t d[2] = {d1, d2}, z[2] = {z1, z2};
  for (int e = 0; e < 2; ++e) {
    float phi = 6.28318531f * (float)d[e] / (float)r->dets_per_ring;
    lor[3 * e] = r->radius_mm * cosf(phi);
    lor[3 * e + 1] = r->radius_mm * sinf(phi);
    lor[3 * e + 2] = ((float)z[e] + 0.5f) * pitch - 0.5f * r->axial_fov_mm;
    ori[3 * e] = cosf(phi);
    ori[3 * e + 1] = sinf(phi);
    ori[3 * e + 2] = 0.0f;
  }
}

/* A smooth phantom: a warm cylinder with a hot off-centre Gaussian blob. */
static void fill_phantom(pet_image *img)
{
  const pet_image_params *g = &img->params;
  float vx = pet_image_vx(g), vy = pet_image_vy(g), vz = pet_image_vz(g);
  float rmax = 0.4f * g->length_x;
  for (int32_t k = 0; k < g->nz; ++k)
    for (int32_t j = 0; j < g->ny; ++j)
      for (int32_t i = 0; i < g->nx; ++i) {
        float x = ((float)i - 0.5f * (float)(g->nx - 1)) * vx;
        float y = ((float)j - 0.5f * (float)(g->ny - 1)) * vy;
        float z = ((float)k - 0.5f * (float)(g->nz - 1)) * vz;
        float r2 = x * x + y * y;
        float v = r2 < rmax * rmax ? 1.0f : 0.0f;
        float bx = x - 0.15f * g->length_x, by = y + 0.1f * g->length_y;
        v += 3.0f * expf(-(bx * bx + by * by + z * z) / (2.0f * (0.08f * g->length_x) *
                                                                 (0.08f * g->length_x)));
        img->data[((int64_t)k * g->ny + j) * g->nx + i] = v;
      }
}

static int parse(int argc, char **argv, bench_opts *o)
{
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return fprintf(stderr, "bench_projectors: %s needs a value\n", a), 1;
    if (!strcmp(a, "--threads")) o->threads = atoi(v);
    else if (!strcmp(a, "--scanner")) o->scanner = v;
    else if (!strcmp(a, "--projector")) o->projector = v;
    else if (!strcmp(a, "--dir")) o->dir = v;
    else if (!strcmp(a, "--lors")) o->lors = v;
    else if (!strcmp(a, "--back")) o->back = v;
    else if (!strcmp(a, "--n")) o->n = atoll(v);
    else if (!strcmp(a, "--chunk")) o->chunk = atoll(v);
    else if (!strcmp(a, "--tof-bins")) o->tof_bins = atoi(v);
    else if (!strcmp(a, "--tof-fwhm")) o->tof_fwhm_ps = atof(v);
    else if (!strcmp(a, "--tof-bin-width")) o->tof_bin_width_ps = atof(v);
    else return fprintf(stderr, "bench_projectors: unknown option %s\n", a), 1;
    ++i;
  }
  return 0;
}

int main(int argc, char **argv)
{
  if (bench_help(argc, argv,
                 "usage: bench_projectors [--threads N] [--scanner small|clinical] [--projector S|MRS|DD]\n"
    "                        [--dir fwd|back] [--lors histogram|cylinder] [--back auto|...] [--n N]\n"
    "                        [--chunk N] [--tof-bins T] [--tof-fwhm PS] [--tof-bin-width PS]\n"
    "  Projector throughput (LORs/s) over all bins of a scanner's fully-3D histogram. One JSON line.\n"))
    return 0;
  bench_opts o = {2, "clinical", "S", "fwd",
                  "histogram",
                  "auto", 4000000, 1000000, 0, 300.0, 0.0};
  if (parse(argc, argv, &o)) return 2;
  int clinical = !strcmp(o.scanner, "clinical");
  int back = !strcmp(o.dir, "back");
  int histogram = !strcmp(o.lors, "histogram");
  if ((!clinical && strcmp(o.scanner, "small")) || (!back && strcmp(o.dir, "fwd")) ||
      (!histogram && strcmp(o.lors, "cylinder")) || o.threads < 1 || o.chunk < 1 || o.n < 0) {
    fprintf(stderr, "bench_projectors: bad option value\n");
    return 2;
  }
  pet_back_strategy strategy = PET_BACK_AUTO;
  if (!strcmp(o.back, "atomic")) strategy = PET_BACK_ATOMIC;
  else if (!strcmp(o.back, "private")) strategy = PET_BACK_PRIVATE;
  else if (strcmp(o.back, "auto")) return fprintf(stderr, "bench_projectors: bad --back\n"), 2;

  pet_projector_params p = pet_projector_params_default();
  if (pet_projector_params_set_name(&p, o.projector) != PET_OK) return 2;
  p.num_threads = o.threads;
  /* the two scanners' crystals (pet_scanner_params_clinical / _small) */
  ring_geom rg;
  pet_image_params g;
  if (clinical) {
    rg = (ring_geom){431.0f, 624, 24, 159, 11, 97.68f};
    g = pet_image_params_make(150, 150, 24, 600.f, 600.f, 97.68f);
    p.crystal_size_trans = 4.0f;
    p.crystal_size_z = 97.68f / 24.0f;
  } else {
    rg = (ring_geom){171.0f, 256, 8, 1, 7, 25.0f};
    g = pet_image_params_make(100, 100, 50, 300.f, 300.f, 25.f);
    p.crystal_size_trans = 4.0f;
    p.crystal_size_z = 25.0f / 8.0f;
  }

  pet_scanner *scanner = NULL;
  pet_histo_layout *layout = NULL;
  if (histogram) {
    pet_scanner_params sp = clinical ? pet_scanner_params_clinical() : pet_scanner_params_small();
    if (pet_scanner_create(&scanner, &sp) != PET_OK) return 1;
    if (pet_histo_layout_create(&layout, scanner) != PET_OK) return 1;
    o.n = layout->num_bins;
    p.crystal_size_trans = sp.crystal_size_trans;
    p.crystal_size_z = sp.crystal_size_z;
  }

  const int64_t T = o.tof_bins > 0 ? o.tof_bins : 1;
  if (o.tof_bins > 0) {
    p.num_tof_bins = o.tof_bins;
    p.tof_fwhm_ps = (float)o.tof_fwhm_ps;
    /* default: T bins spanning the ring's diameter (2 x radius = T x c w / 2) */
    p.tof_bin_width_ps = o.tof_bin_width_ps > 0
                             ? (float)o.tof_bin_width_ps
                             : (float)(4.0 * rg.radius_mm / (PET_SPEED_OF_LIGHT_MM_PS * (double)o.tof_bins));
    if (pet_projector_params_check(&p) != PET_OK) return 2;
  }
  pet_image *img = NULL;
  if (pet_image_create_owned(&img, g, PET_HOST) != PET_OK) return 1;
  if (back) pet_image_fill(img, 0.0f);
  else fill_phantom(img);
  int64_t chunk = o.chunk < o.n ? o.chunk : (o.n > 0 ? o.n : 1);
  float *lor = malloc((size_t)chunk * 6 * sizeof(float));
  float *ori = malloc((size_t)chunk * 6 * sizeof(float));
  float *proj = malloc((size_t)(chunk * T) * sizeof(float));
  if (!lor || !ori || !proj) return 1;

  double seconds = 0.0, checksum = 0.0;
  for (int64_t first = 0; first < o.n; first += chunk) {
    int64_t count = o.n - first < chunk ? o.n - first : chunk;
    if (histogram) {
      if (pet_histo_get_lors(layout, scanner, NULL, first, count, lor, ori) != PET_OK) return 1;
    } else
    {
#pragma omp parallel for num_threads(o.threads)
      for (int64_t k = 0; k < count; ++k) cylinder_lor(&rg, first + k, lor + 6 * k, ori + 6 * k);
    }
    pet_lor_batch b = {count, lor, ori, NULL};
    if (back)
      for (int64_t k = 0; k < count * T; ++k) proj[k] = 1.0f;
    double t0 = now_s();
    pet_status st = back ? pet_project_back_cpu_with(&p, &b, proj, img, strategy)
                         : pet_project_fwd_cpu(&p, &b, img, proj);
    seconds += now_s() - t0;
    if (st != PET_OK) return 1;
    if (!back)
      for (int64_t k = 0; k < count * T; ++k) checksum += proj[k];
  }
  if (back)
    for (int64_t v = 0; v < pet_image_num_voxels(img); ++v) checksum += img->data[v];

  char cpu[256];
  cpu_model(cpu, sizeof cpu);
  printf("{\"bench\":\"projectors\",\"projector\":\"%s\",\"num_rays\":%d,\"dir\":\"%s\","
         "\"scanner\":\"%s\",\"lors\":\"%s\",\"n_lors\":%lld,\"threads\":%d,\"back\":\"%s\","
         "\"cpu\":\"%s\",\"seconds\":%.4f,\"lors_per_s\":%.1f,\"tof_bins\":%d,"
         "\"tof_fwhm_ps\":%g,\"tof_bin_width_ps\":%g,\"ns_per_lor\":%.2f,\"ns_per_lor_tof_bin\":%.3f,"
         "\"checksum\":%.9g}\n",
         o.projector, (int)p.num_rays, o.dir, o.scanner, o.lors, (long long)o.n, o.threads,
         back ? o.back : "n/a", cpu, seconds, seconds > 0 ? (double)o.n / seconds : 0.0,
         (int)p.num_tof_bins, p.num_tof_bins ? (double)p.tof_fwhm_ps : 0.0, (double)p.tof_bin_width_ps,
         o.n > 0 ? 1e9 * seconds / (double)o.n : 0.0, o.n > 0 ? 1e9 * seconds / ((double)o.n * (double)T) : 0.0,
         checksum);
  free(lor);
  free(ori);
  free(proj);
  pet_image_destroy(&img);
  pet_histo_layout_destroy(&layout);
  pet_scanner_destroy(&scanner);
  return 0;
}
