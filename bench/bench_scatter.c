/* One single scatter simulation (pet_sss_simulate: scatter points, line integrals, the
 * detector-pair sums, the interpolation to every bin) on the clinical geometry (624 x 24 rings,
 * 150 x 150 x 24 grid, the demo phantom's water cylinder as both the emission image and the
 * mu-map), on the host and with --gpu the pair sums on the device. One JSON line: device,
 * sizes (scatter points, detector samples, pairs, bins), seconds, and the estimate's sum (the
 * same on both up to rounding).
 *   bench_scatter [--gpu] [--threads N] [--step MM] [--det-step K] [--ring-samples R]
 *                 [--bins N] [--tof-bins T] */
#include "bench_help.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "pet_gpu.h"
#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_phantom.h"
#include "pet_scanner.h"
#include "pet_scatter.h"

int main(int argc, char **argv)
{
  if (bench_help(argc, argv,
                 "usage: bench_scatter [--gpu] [--threads N] [--step MM] [--det-step K] [--ring-samples R]\n"
                 "                     [--bins N] [--tof-bins T]\n"
                 "  One SSS estimate (unscaled, every bin or the first N) of the demo phantom on the\n"
                 "  clinical scanner (150x150x24 grid); --gpu: the detector-pair sums on the device.\n"
                 "  --tof-bins T: a TOF estimate (T bins of 100 ps, 400 ps FWHM). One JSON line.\n"))
    return 0;
  bool gpu = false;
  int threads = 0;
  pet_sss_opts o = pet_sss_opts_default();
  int64_t nbins = -1;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--gpu")) gpu = true;
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--step") && i + 1 < argc) o.scatter_step_mm = (float)atof(argv[++i]);
    else if (!strcmp(argv[i], "--det-step") && i + 1 < argc) o.det_step = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--ring-samples") && i + 1 < argc) o.ring_samples = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--bins") && i + 1 < argc) nbins = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--tof-bins") && i + 1 < argc) o.num_tof_bins = atoi(argv[++i]);
    else {
      fprintf(stderr, "bench_scatter: unknown argument %s (see --help)\n", argv[i]);
      return 2;
    }
  }
  if (threads > 0) omp_set_num_threads(threads);
  if (o.num_tof_bins > 0) {
    o.tof_bin_width_ps = 100.0f;
    o.tof_fwhm_ps = 400.0f;
  }
  o.gpu = gpu;
  char dev[256] = "host";
  if (gpu) {
    if (pet_gpu_device_count() == 0) {
      fprintf(stderr, "bench_scatter: --gpu: no CUDA device\n");
      return 1;
    }
    pet_gpu_device_name(0, dev, sizeof dev);
  }
  pet_scanner_params sp = pet_scanner_params_clinical();
  pet_scanner *s = NULL;
  pet_histo_layout *L = NULL;
  pet_image *lam = NULL, *mu = NULL;
  float *out = NULL;
  int rc = 1;
  if (pet_scanner_create(&s, &sp) != PET_OK || pet_histo_layout_create(&L, s) != PET_OK) goto done;
  {
    const float len = 1.4f * sp.scanner_radius;
    pet_image_params g = pet_image_params_make(150, 150, 24, len, len, sp.axial_fov);
    pet_phantom ph = pet_phantom_default(&g);
    if (pet_image_create_owned(&lam, g, PET_HOST) != PET_OK || pet_image_create_owned(&mu, g, PET_HOST) != PET_OK ||
        pet_phantom_activity(&ph, lam, 2) != PET_OK || pet_phantom_mu(&ph, mu, 2) != PET_OK)
      goto done;
    if (nbins < 0 || nbins > L->num_bins) nbins = L->num_bins;
    const int64_t T1 = o.num_tof_bins > 0 ? o.num_tof_bins : 1;
    out = malloc((size_t)(nbins * T1) * sizeof(float));
    if (out == NULL) goto done;
    pet_sss_info info;
    double t0 = omp_get_wtime();
    if (pet_sss_simulate(s, L, lam, mu, &o, 0, nbins, out, &info) != PET_OK) goto done;
    double sec = omp_get_wtime() - t0;
    double sum = 0.0;
    for (int64_t i = 0; i < nbins * T1; ++i) sum += out[i];
    printf("{\"bench\":\"scatter\",\"device\":\"%s\",\"threads\":%d,\"scanner\":\"%s\",\"grid\":[150,150,24],"
           "\"scatter_points\":%lld,\"det_samples\":%lld,\"pairs\":%lld,\"bins\":%lld,\"tof_bins\":%d,"
           "\"seconds\":%.4f,\"tables_s\":%.4f,\"pairs_s\":%.4f,\"sum\":%.6e}\n",
           dev, omp_get_max_threads(), sp.name, (long long)info.scatter_points, (long long)info.det_samples,
           (long long)info.pairs, (long long)info.bins, o.num_tof_bins, sec, info.seconds_tables,
           info.seconds_pairs, sum);
    rc = 0;
  }
done:
  if (rc != 0) fprintf(stderr, "bench_scatter: %s\n", pet_last_error());
  free(out);
  pet_image_destroy(&lam);
  pet_image_destroy(&mu);
  pet_histo_layout_destroy(&L);
  pet_scanner_destroy(&s);
  return rc;
}
