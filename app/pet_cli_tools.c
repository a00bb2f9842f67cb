/* Small tools: petrel diff (compare two images), petrel convert (file formats). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_cli.h"
#include "pet_cli_util.h"
#include "pet_h5.h"
#include "pet_histogram.h"
#include "pet_nifti.h"
#include "pet_scanner.h"
#include "pet_yrt_io.h"

static pet_status read_any_image(const char *path, pet_image **img)
{
  size_t n = strlen(path);
  if (n > 3 && (!strcmp(path + n - 3, ".h5") || !strcmp(path + n - 5, ".hdf5"))) return pet_h5_read_image(path, img);
  return pet_image_read_nifti(img, path);
}

int pet_cli_diff(int argc, char **argv)
{
  if (pet_cli_is_help(argc, argv) || argc < 3) {
    printf("usage: petrel diff A B [--tol T]\n"
           "  Prints the relative L2 difference ||A - B|| / ||A|| and the largest voxel difference of two\n"
           "  images (NIfTI or HDF5) on the same grid; exits 1 when it exceeds T (default: never).\n");
    return argc < 3 && !pet_cli_is_help(argc, argv) ? 2 : 0;
  }
  double tol = INFINITY;
  if (argc >= 5 && !strcmp(argv[3], "--tol") && pet_cli_parse_float("--tol", argv[4], 0, 1e30, &tol) != PET_OK)
    return 2;
  pet_image *a = NULL, *b = NULL;
  int rc = 1;
  if (read_any_image(argv[1], &a) != PET_OK || read_any_image(argv[2], &b) != PET_OK) goto out;
  if (!pet_image_params_equal(&a->params, &b->params)) {
    fprintf(stderr, "petrel diff: %s and %s are on different grids\n", argv[1], argv[2]);
    goto out;
  }
  double num = 0, den = 0, maxd = 0;
  for (int64_t v = 0; v < pet_image_num_voxels(a); ++v) {
    double d = (double)a->data[v] - b->data[v];
    num += d * d;
    den += (double)a->data[v] * a->data[v];
    if (fabs(d) > maxd) maxd = fabs(d);
  }
  double rel = den > 0 ? sqrt(num / den) : sqrt(num);
  printf("relative_l2 %.6e max_abs %.6e\n", rel, maxd);
  rc = rel <= tol ? 0 : 1;
out:
  pet_image_destroy(&a);
  pet_image_destroy(&b);
  return rc;
}
