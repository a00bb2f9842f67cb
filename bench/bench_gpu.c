/* GPU hot paths on the clinical geometry (YRTREF_CLINICAL, all 40,360,320 bins, image
 * 150 x 150 x 24 over 600 x 600 x 97.68 mm): projector kernels (LORs generated on the device
 * first), OSEM iterations with 1 and 12 subsets, streaming under a budget of 1/8 of the data
 * vs unbatched, and device copy bandwidth / atomicAdd rate microbenchmarks for the roofline;
 * TOF histograms: fwd/back of 13 TOF bins per LOR against the same LORs without TOF bins
 * (every 5th bin, 8 M LORs), as ms per LOR and per (LOR, TOF bin).
 * One JSON line per case. Exits 77 without a CUDA device. */
#include "bench_help.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pet_fov.h"
#include "pet_gpu.h"
#include "pet_histogram.h"
#include "pet_osem.h"
#include "pet_scanner.h"

#define REPS 3
static char g_dev[256];

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define CHK(expr)                                                                                \
  do {                                                                                           \
    pet_status st_ = (expr);                                                                     \
    if (st_ != PET_OK) {                                                                         \
      fprintf(stderr, "bench_gpu: %s failed: %s\n", #expr, pet_status_name(st_));               \
      return 1;                                                                                  \
    }                                                                                            \
  } while (0)

typedef struct proj_ctx {
  pet_projlist_device *pl;
  pet_projector_params p;
  pet_image *img;
  int back;
} proj_ctx;

static pet_status run_proj(void *c)
{
  proj_ctx *x = c;
  return x->back ? pet_projlist_device_back(x->pl, &x->p, x->img)
                 : pet_projlist_device_fwd(x->pl, &x->p, x->img);
}

typedef struct copy_ctx {
  void *dst, *src;
  size_t bytes;
} copy_ctx;
static pet_status run_copy(void *c)
{
  copy_ctx *x = c;
  return pet_gpu_memcpy(x->dst, x->src, x->bytes, 2);
}

/* pet_gpu_project_fwd/back of one device batch (the TOF-histogram cases) */
typedef struct batch_ctx {
  pet_projector_params p;
  pet_lor_batch b;
  pet_image *img;
  float *vals;
  int back;
} batch_ctx;

static pet_status run_batch(void *c)
{
  batch_ctx *x = c;
  return x->back ? pet_gpu_project_back(&x->p, &x->b, x->vals, x->img)
                 : pet_gpu_project_fwd(&x->p, &x->b, x->img, x->vals);
}

/* 13 TOF bins (400 ps: 60 mm each, +-390 mm, the clinical ring's diameter) vs none, Siddon and
 * DD, forward and back, on the LORs of every 5th histogram bin. */
static int bench_tof_bins(const pet_scanner *sc, const pet_histogram *h, pet_image *img)
{
  const int T = 13;
  const int64_t stride = 5, n = h->layout->num_bins / stride;
  int64_t *bins = malloc((size_t)n * sizeof *bins);
  float *lor = malloc((size_t)n * 24), *ori = malloc((size_t)n * 24);
  if (!bins || !lor || !ori) return 1;
  for (int64_t k = 0; k < n; ++k) bins[k] = k * stride;
  CHK(pet_histo_get_lors(h->layout, sc, bins, 0, n, lor, ori));
  float *dl = NULL, *dor = NULL, *dv = NULL;
  CHK(pet_gpu_malloc((void **)&dl, (size_t)n * 24, "TOF bench LORs"));
  CHK(pet_gpu_malloc((void **)&dor, (size_t)n * 24, "TOF bench normals"));
  CHK(pet_gpu_malloc((void **)&dv, (size_t)(n * T) * 4, "TOF bench values"));
  CHK(pet_gpu_memcpy(dl, lor, (size_t)n * 24, 0));
  CHK(pet_gpu_memcpy(dor, ori, (size_t)n * 24, 0));
  double ms0[2][2] = {{0, 0}, {0, 0}};
  for (int tof = 0; tof < 2; ++tof)
    for (int kind = 0; kind < 2; ++kind)
      for (int back = 0; back < 2; ++back) {
        batch_ctx c;
        c.p = pet_projector_params_default();
        c.p.kind = kind ? PET_PROJ_DD : PET_PROJ_SIDDON;
        c.p.crystal_size_trans = sc->params.crystal_size_trans;
        c.p.crystal_size_z = sc->params.crystal_size_z;
        pet_projector_params_set_fov(&c.p, &sc->params);
        if (tof) {
          c.p.num_tof_bins = T;
          c.p.tof_bin_width_ps = 400.0f;
          c.p.tof_fwhm_ps = 300.0f;
        }
        c.b.n = n;
        c.b.lor = dl;
        c.b.orient = dor;
        c.b.tof_ps = NULL;
        c.img = img;
        c.vals = dv;
        c.back = back;
        if (back) CHK(pet_gpu_fill_f32(dv, n * (tof ? T : 1), 1.0f));
        float best = 1e30f, ms = 0;
        for (int r = 0; r < REPS + 1; ++r) {
          CHK(pet_gpu_time_ms(run_batch, &c, &ms));
          if (r > 0 && ms < best) best = ms;
        }
        if (!tof) ms0[kind][back] = best;
        const int64_t vals = n * (tof ? T : 1);
        printf("{\"bench\":\"gpu\",\"case\":\"tof_histogram_%s_%s\",\"device\":\"%s\",\"lors\":%lld,"
               "\"tof_bins\":%d,\"tof_bin_width_ps\":%g,\"tof_fwhm_ps\":%g,\"ms\":%.2f,"
               "\"ns_per_lor\":%.3f,\"ns_per_lor_tof_bin\":%.4f,\"vs_non_tof\":%.3f}\n",
               kind ? "dd" : "siddon", back ? "back" : "fwd", g_dev, (long long)n, tof ? T : 0,
               tof ? 400.0 : 0.0, tof ? 300.0 : 0.0, best, 1e6 * best / (double)n,
               1e6 * best / (double)vals, ms0[kind][back] > 0 ? best / ms0[kind][back] : 0.0);
        fflush(stdout);
        if (back) CHK(pet_image_fill(img, 1.0f));
      }
  pet_gpu_free(dl);
  pet_gpu_free(dor);
  pet_gpu_free(dv);
  free(bins);
  free(lor);
  free(ori);
  return 0;
}

static double g_subset_s;
static void on_subset(void *ctx, const pet_osem_progress *p)
{
  (void)ctx;
  g_subset_s += p->seconds;
}

static int bench_osem(const pet_osem_data *d, pet_image *x, int subsets, int64_t budget,
                      const char *name, double *iter_ms)
{
  pet_osem_opts o = pet_osem_opts_default();
  o.iterations = 1;
  o.subsets = subsets;
  o.on_subset = on_subset;
  o.gpu = true;
  o.vram_budget_bytes = budget;
  double best = 1e30, best_total = 1e30;
  for (int r = 0; r < 2; ++r) {
    CHK(pet_image_fill(x, 1.0f));
    g_subset_s = 0;
    double t0 = now_s();
    CHK(pet_osem_run(d, &o, NULL, x));
    double total = now_s() - t0;
    if (g_subset_s < best) best = g_subset_s;
    if (total < best_total) best_total = total;
  }
  int64_t bpl = pet_gpu_osem_bytes_per_lor(d, &o);
  printf("{\"bench\":\"gpu\",\"case\":\"%s\",\"device\":\"%s\",\"bins\":%lld,\"image\":[150,150,24],"
         "\"subsets\":%d,\"budget_bytes\":%lld,\"bytes_per_lor\":%lld,\"iteration_ms\":%.2f,"
         "\"with_setup_and_sensitivity_ms\":%.2f,\"lors_per_s\":%.4g}\n",
         name, g_dev, (long long)d->layout->num_bins, subsets, (long long)budget,
         (long long)bpl, best * 1e3, best_total * 1e3, (double)d->layout->num_bins / best);
  fflush(stdout);
  *iter_ms = best * 1e3;
  return 0;
}

int main(int argc, char **argv)
{
  if (bench_help(argc, argv,
                 "usage: bench_gpu\n"
    "  GPU hot paths on the clinical geometry: projector kernels, OSEM iterations (1 and 12 subsets),\n"
    "  streaming under a VRAM budget, copy bandwidth and atomicAdd rate. One JSON line per case;\n"
    "  exits 77 without a CUDA device. No options.\n"))
    return 0;
  if (pet_gpu_device_count() == 0) {
    fprintf(stderr, "bench_gpu: no CUDA device\n");
    return 77;
  }
  CHK(pet_gpu_set_device(0));
  CHK(pet_gpu_device_name(0, g_dev, sizeof g_dev));
  pet_scanner_params sp = pet_scanner_params_clinical();
  pet_scanner *sc = NULL;
  CHK(pet_scanner_create(&sc, &sp));
  pet_histogram *h = NULL;
  CHK(pet_histogram_create_owned(&h, sc));
  const int64_t nbins = h->layout->num_bins;
  pet_image_params ip = pet_image_params_make(150, 150, 24, 600.0f, 600.0f, 97.68f);
  pet_image *img = NULL, *xh = NULL;
  CHK(pet_image_create_owned(&img, ip, PET_DEVICE));
  CHK(pet_image_fill(img, 1.0f));

  /* projector kernels over all bins in one batch, LORs built on the device */
  pet_projlist_device *pl = NULL;
  CHK(pet_projlist_device_create(&pl, sc, h, NULL, 0, 0, 1, PET_OWNED));
  CHK(pet_projlist_device_allocate_values(pl));
  double tg = now_s();
  CHK(pet_projlist_device_prepare_batch(pl, 0, 0));
  tg = now_s() - tg;
  const int64_t n = pet_projlist_device_loaded_batch_size(pl);
  printf("{\"bench\":\"gpu\",\"case\":\"prepare_batch_lors\",\"device\":\"%s\",\"lors\":%lld,"
         "\"ms\":%.2f}\n", g_dev, (long long)n, tg * 1e3);
  /* fov 0: the whole image box; fov 1: the scanner's FOV cylinder (what petrel recon uses) */
  for (int fov = 0; fov < 2; ++fov)
  for (int kind = 0; kind < 2; ++kind)
    for (int back = 0; back < 2; ++back) {
      proj_ctx c;
      c.pl = pl;
      c.p = pet_projector_params_default();
      c.p.kind = kind ? PET_PROJ_DD : PET_PROJ_SIDDON;
      c.p.crystal_size_trans = sp.crystal_size_trans;
      c.p.crystal_size_z = sp.crystal_size_z;
      if (fov) pet_projector_params_set_fov(&c.p, &sp);
      c.img = img;
      c.back = back;
      if (back) CHK(pet_gpu_fill_f32(pet_projlist_device_values(pl), n, 1.0f));
      float best = 1e30f, ms = 0;
      for (int r = 0; r < REPS + 1; ++r) {
        CHK(pet_gpu_time_ms(run_proj, &c, &ms));
        if (r > 0 && ms < best) best = ms; /* the first run warms up */
      }
      float chk = 0;
      CHK(pet_gpu_memcpy(&chk, back ? img->data + (75 * 150 + 75) + 12 * 150 * 150
                                    : pet_projlist_device_values(pl) + n / 2,
                         4, 1));
      printf("{\"bench\":\"gpu\",\"case\":\"%s_%s%s\",\"device\":\"%s\",\"lors\":%lld,"
             "\"image\":[150,150,24],\"ms\":%.2f,\"lors_per_s\":%.4g,\"checksum\":%.6g}\n",
             kind ? "dd" : "siddon", back ? "back" : "fwd", fov ? "_fov" : "", g_dev, (long long)n, best,
             (double)n / (best * 1e-3), chk);
      fflush(stdout);
      if (back) CHK(pet_image_fill(img, 1.0f));
    }
  pet_projlist_device_destroy(&pl);
  if (bench_tof_bins(sc, h, img)) return 1;

  /* OSEM: y = 1 in every bin, no corrections, Siddon */
  CHK(pet_histogram_fill(h, 1.0f));
  CHK(pet_image_create_owned(&xh, ip, PET_HOST));
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = sc;
  d.layout = h->layout;
  d.histogram = h;
  d.lm_count = -1;
  double it1 = 0, it12 = 0, its = 0;
  if (bench_osem(&d, xh, 1, 0, "osem_iteration_1_subset", &it1)) return 1;
  if (bench_osem(&d, xh, 12, 0, "osem_iteration_12_subsets", &it12)) return 1;
  pet_osem_opts o1 = pet_osem_opts_default();
  o1.subsets = 1;
  int64_t need = pet_gpu_osem_bytes_per_lor(&d, &o1) * nbins;
  if (bench_osem(&d, xh, 1, need / 8, "osem_iteration_1_subset_streamed_budget_1_8", &its)) return 1;
  printf("{\"bench\":\"gpu\",\"case\":\"streaming_vs_unbatched\",\"device\":\"%s\","
         "\"unbatched_ms\":%.2f,\"streamed_ms\":%.2f,\"ratio\":%.3f}\n",
         g_dev, it1, its, its / it1);

  /* roofline microbenchmarks */
  {
    copy_ctx c;
    c.bytes = (size_t)1 << 30;
    CHK(pet_gpu_malloc(&c.src, c.bytes, "copy source"));
    CHK(pet_gpu_malloc(&c.dst, c.bytes, "copy destination"));
    float best = 1e30f, ms = 0;
    for (int r = 0; r < REPS + 1; ++r) {
      CHK(pet_gpu_time_ms(run_copy, &c, &ms));
      if (r > 0 && ms < best) best = ms;
    }
    printf("{\"bench\":\"gpu\",\"case\":\"d2d_copy\",\"device\":\"%s\",\"bytes\":%zu,\"ms\":%.3f,"
           "\"GB_per_s_read_plus_write\":%.1f}\n",
           g_dev, c.bytes, best, 2.0 * (double)c.bytes / (best * 1e-3) / 1e9);
    pet_gpu_free(c.src);
    pet_gpu_free(c.dst);
  }
  {
    const int64_t nvox = 150 * 150 * 24, nadd = (int64_t)1 << 30;
    float best = 1e30f, ms = 0;
    for (int r = 0; r < REPS + 1; ++r) {
      CHK(pet_gpu_bench_atomics(img->data, nvox, nadd, &ms));
      if (r > 0 && ms < best) best = ms;
    }
    printf("{\"bench\":\"gpu\",\"case\":\"atomic_add_rate\",\"device\":\"%s\",\"adds\":%lld,"
           "\"buffer_floats\":%lld,\"ms\":%.3f,\"G_atomics_per_s\":%.2f}\n",
           g_dev, (long long)nadd, (long long)nvox, best, (double)nadd / (best * 1e-3) / 1e9);
  }
  pet_image_destroy(&img);
  pet_image_destroy(&xh);
  pet_histogram_destroy(&h);
  pet_scanner_destroy(&sc);
  return 0;
}
