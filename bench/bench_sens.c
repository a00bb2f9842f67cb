/* The list-mode sensitivity image of a large scanner (issue 16): the symmetric pass
 * (src/recon/pet_sens_sym.c: the LORs of the lowest rings, translated along z) timed whole, and
 * the brute force (every histogram bin back-projected, the backend's sens_subset) timed over a
 * sample of the bins and extrapolated to all of them. CPU or GPU (--gpu), one process.
 *
 *   bench_sens [--gpu] [--scanner total-body|clinical|small] [--coarse] [--rings R]
 *              [--projector siddon|dd|mrs] [--refine M] [--no-sym] [--brute-angles K]
 *              [--brute-lors N] [--compare]
 *
 * total-body: image 240 x 240 x 680 of 2.85 mm (--coarse: 120 x 120 x 340 of 5.7 mm); the other
 * scanners: 128 x 128 over the FOV, one slice a ring; --rings R keeps the first R rings (every
 * ring difference within them, the grid's z voxels over them). The brute-force sample: K transaxial
 * angles spread over the half turn (histogram subsets s * num_phi / K of num_phi: one angle each,
 * every ring pair), of each at most N LORs in 16 pieces spread over its ring pairs (N = 0: the
 * whole angle; default 0 on the GPU, 4e6 on the CPU). --compare also runs the whole brute force
 * (small scanners only) and prints the symmetric pass's error against it.
 * One JSON line per method: device, LORs back-projected, seconds (the brute force's measured
 * and extrapolated to all bins). */
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
#include "pet_sens_sym.h"

#define CHK(expr)                                                                                \
  do {                                                                                           \
    pet_status st_ = (expr);                                                                     \
    if (st_ != PET_OK) {                                                                         \
      fprintf(stderr, "bench_sens: %s failed: %s\n", #expr, pet_status_name(st_));              \
      return 1;                                                                                  \
    }                                                                                            \
  } while (0)

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The brute force over the sample: K angles, each at most n LORs in 16 pieces. */
static int brute_sample(const pet_osem_data *d, const pet_osem_opts *o, const pet_image_params *ip, int K, int64_t n,
                        int64_t *lors, double *seconds)
{
  const pet_osem_backend_ops *ops = o->gpu ? pet_osem_gpu_backend() : pet_osem_cpu_backend();
  if (ops == NULL) {
    fprintf(stderr, "bench_sens: no GPU backend in this build\n");
    return 1;
  }
  const pet_histo_layout *L = d->layout;
  const int32_t S = (int32_t)L->num_phi; /* one angle a subset */
  const int64_t cap = o->gpu ? ((int64_t)1 << 22) : ((int64_t)1 << 20);
  void *be = NULL;
  pet_image *img = NULL;
  CHK(ops->create(&be, d, o, ip, cap));
  CHK(pet_image_create_owned(&img, *ip, ops->space));
  CHK(ops->fill(be, img, 0.0f));
  CHK(ops->sync(be));
  *lors = 0;
  const double t0 = now_s();
  for (int k = 0; k < K; ++k) {
    const int32_t s = (int32_t)((int64_t)k * S / K);
    const int64_t size = pet_histo_subset_size(L->num_phi, L->num_r, L->num_zbin, S, s);
    if (n <= 0 || n >= size) {
      CHK(ops->sens_subset(be, S, s, 0, size, img));
      *lors += size;
      continue;
    }
    for (int p = 0; p < 16; ++p) { /* pieces spread over the ring pairs (z-bins are the slow axis) */
      const int64_t len = n / 16, lo = (size - len) * p / 15;
      CHK(ops->sens_subset(be, S, s, lo, lo + len, img));
      *lors += len;
    }
  }
  CHK(ops->sync(be));
  *seconds = now_s() - t0;
  pet_image_destroy(&img);
  ops->destroy(be);
  return 0;
}

int main(int argc, char **argv)
{
  if (bench_help(argc, argv,
                 "usage: bench_sens [--gpu] [--scanner total-body|clinical|small] [--coarse] [--rings R]\n"
                 "                  [--projector siddon|dd|mrs] [--refine M] [--no-sym] [--brute-angles K]\n"
                 "                  [--brute-lors N] [--compare]\n"
                 "  The list-mode sensitivity: the symmetric pass timed whole, the brute force timed over\n"
                 "  K angles (at most N LORs each) and extrapolated to every bin. JSON lines.\n"))
    return 0;
  const char *scanner_name = "total-body", *proj = "siddon";
  bool gpu = false, coarse = false, sym = true, compare = false;
  int refine = 0, angles = -1, rings = 0;
  int64_t blors = -1;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--gpu")) gpu = true;
    else if (!strcmp(argv[i], "--coarse")) coarse = true;
    else if (!strcmp(argv[i], "--no-sym")) sym = false;
    else if (!strcmp(argv[i], "--compare")) compare = true;
    else if (!strcmp(argv[i], "--scanner") && i + 1 < argc) scanner_name = argv[++i];
    else if (!strcmp(argv[i], "--projector") && i + 1 < argc) proj = argv[++i];
    else if (!strcmp(argv[i], "--refine") && i + 1 < argc) refine = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--rings") && i + 1 < argc) rings = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--brute-angles") && i + 1 < argc) angles = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--brute-lors") && i + 1 < argc) blors = (int64_t)atof(argv[++i]);
    else {
      fprintf(stderr, "bench_sens: unknown argument %s (see --help)\n", argv[i]);
      return 2;
    }
  }
  if (angles < 0) angles = gpu ? 4 : 1;
  if (blors < 0) blors = gpu ? 0 : 4000000;
  pet_scanner_params sp;
  CHK(pet_scanner_params_builtin(scanner_name, &sp));
  const bool tb = !strcmp(scanner_name, "total-body");
  if (rings > 0 && rings < sp.num_rings) { /* the first rings only, the same pitch */
    sp.axial_fov *= (float)rings / (float)sp.num_rings;
    sp.num_rings = rings;
    if (sp.max_ring_diff >= rings) sp.max_ring_diff = rings - 1;
  }
  pet_image_params ip;
  if (tb) {
    const int nxy = coarse ? PET_TOTAL_BODY_GRID_NXY / 2 : PET_TOTAL_BODY_GRID_NXY;
    const float v = coarse ? 2.0f * PET_TOTAL_BODY_VOXEL_MM : PET_TOTAL_BODY_VOXEL_MM;
    int nz = coarse ? PET_TOTAL_BODY_GRID_NZ / 2 : PET_TOTAL_BODY_GRID_NZ;
    if (rings > 0) nz = (int)lroundf(sp.axial_fov / v); /* the grid's voxels over the rings kept */
    ip = pet_image_params_make(nxy, nxy, nz, nxy * v, nxy * v, nz * v);
  } else {
    const float r = sp.fov_radius > 0 ? sp.fov_radius : sp.scanner_radius;
    ip = pet_image_params_make(128, 128, sp.num_rings, 2 * r, 2 * r, sp.axial_fov);
  }
  pet_scanner *scanner = NULL;
  pet_histo_layout *L = NULL;
  CHK(pet_scanner_create(&scanner, &sp));
  CHK(pet_histo_layout_create(&L, scanner));
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = scanner;
  d.layout = L;
  d.lm_count = -1;
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 1;
  if (!strcmp(proj, "dd")) o.proj.kind = PET_PROJ_DD;
  else if (!strcmp(proj, "mrs")) o.proj.num_rays = 4;
  else if (strcmp(proj, "siddon") != 0) {
    fprintf(stderr, "bench_sens: --projector siddon, dd or mrs (got %s)\n", proj);
    return 2;
  }
  o.proj.crystal_size_trans = sp.crystal_size_trans;
  o.proj.crystal_size_z = sp.crystal_size_z;
  pet_projector_params_set_fov(&o.proj, &sp);
  o.gpu = gpu;
  o.sens_z_refine = refine;
  char device[128] = "cpu";
  if (gpu) CHK(pet_gpu_device_name(0, device, sizeof device));
  const double pitch = (double)sp.axial_fov / sp.num_rings;
  const int64_t nsym = L->num_phi * L->num_r * (2 * (int64_t)sp.max_ring_diff + 1);
  pet_image *s_sym = NULL;
  if (sym) {
    char why[160] = "";
    const pet_osem_backend_ops *ops = gpu ? pet_osem_gpu_backend() : pet_osem_cpu_backend();
    if (ops == NULL || !pet_sens_sym_applies(&d, &o, ops, 1, why, sizeof why)) {
      fprintf(stderr, "bench_sens: the symmetric pass does not apply: %s\n", ops ? why : "no GPU backend");
      return 1;
    }
    CHK(pet_image_create_owned(&s_sym, ip, PET_HOST));
    const double t0 = now_s();
    CHK(pet_osem_sensitivity(&d, &o, &s_sym, 1));
    const double t = now_s() - t0;
    printf("{\"bench\":\"sens\",\"method\":\"symmetric\",\"scanner\":\"%s\",\"device\":\"%s\",\"projector\":\"%s\","
           "\"image\":[%d,%d,%d],\"voxel_z_mm\":%.4g,\"ring_pitch_mm\":%.4g,\"refine\":%d,\"lors\":%lld,"
           "\"bins\":%lld,\"seconds\":%.3f,\"lors_per_s\":%.4g}\n",
           sp.name, device, proj, ip.nx, ip.ny, ip.nz, (double)ip.length_z / ip.nz, pitch,
           (int)pet_sens_sym_refine(scanner, &o, &ip),
           (long long)nsym, (long long)L->num_bins, t, nsym / t);
    fflush(stdout);
  }
  if (angles > 0) {
    int64_t lors = 0;
    double t = 0;
    if (brute_sample(&d, &o, &ip, angles, blors, &lors, &t) != 0) return 1;
    printf("{\"bench\":\"sens\",\"method\":\"brute_sample\",\"scanner\":\"%s\",\"device\":\"%s\",\"projector\":\"%s\","
           "\"image\":[%d,%d,%d],\"angles\":%d,\"lors\":%lld,\"seconds\":%.3f,\"lors_per_s\":%.4g,\"bins\":%lld,"
           "\"extrapolated_seconds\":%.1f}\n",
           sp.name, device, proj, ip.nx, ip.ny, ip.nz, angles, (long long)lors, t, lors / t,
           (long long)L->num_bins, t * (double)L->num_bins / (double)lors);
    fflush(stdout);
  }
  if (compare && sym) {
    pet_image *s_b = NULL;
    CHK(pet_image_create_owned(&s_b, ip, PET_HOST));
    o.sens_brute = true;
    const double t0 = now_s();
    CHK(pet_osem_sensitivity(&d, &o, &s_b, 1));
    const double t = now_s() - t0;
    double num = 0, den = 0, worst = 0, top = 0;
    for (int64_t v = 0; v < pet_image_num_voxels(s_b); ++v) top = fmax(top, s_b->data[v]);
    for (int64_t v = 0; v < pet_image_num_voxels(s_b); ++v) {
      const double e = (double)s_sym->data[v] - s_b->data[v];
      num += e * e;
      den += (double)s_b->data[v] * s_b->data[v];
      worst = fmax(worst, fabs(e));
    }
    printf("{\"bench\":\"sens\",\"method\":\"brute\",\"scanner\":\"%s\",\"device\":\"%s\",\"projector\":\"%s\","
           "\"lors\":%lld,\"seconds\":%.3f,\"sym_rel_rms\":%.3g,\"sym_max_rel\":%.3g}\n",
           sp.name, device, proj, (long long)L->num_bins, t, den > 0 ? sqrt(num / den) : 0.0,
           top > 0 ? worst / top : 0.0);
    pet_image_destroy(&s_b);
  }
  pet_image_destroy(&s_sym);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&scanner);
  return 0;
}
