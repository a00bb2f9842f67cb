/* libFuzzer target: the HDF5 readers of src/io/pet_h5.c (histogram, list-mode and image files),
 * serial use (no MPI). Each input is tried as all three kinds. Counts read are bounded so
 * that a header claiming 2^40 events cannot make the harness allocate that much. A crash
 * inside libhdf5 itself is a libhdf5 bug (it is not hardened against hostile files): such
 * inputs are reported upstream, not fixed here. */
#include "fuzz_common.h"
#include "pet_h5.h"
#include "pet_image.h"

#define FUZZ_H5_MAX_READ 4096

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  fuzz_setup_named("input.h5");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static float fbuf[FUZZ_H5_MAX_READ];
  static uint32_t t[FUZZ_H5_MAX_READ], d1[FUZZ_H5_MAX_READ], d2[FUZZ_H5_MAX_READ];
  const char *path = fuzz_input_file(data, size);
  char name[64];
  int64_t n = 0;
  unsigned corr = 0;
  bool has_tof = false;

  if (pet_h5_histogram_info(path, &n, name, sizeof name, &corr) == PET_OK) {
    if (n < 1 || memchr(name, '\0', sizeof name) == NULL) abort();
    const int64_t m = n < FUZZ_H5_MAX_READ ? n : FUZZ_H5_MAX_READ;
    (void)pet_h5_read_histogram_range(path, "histogram", n - m, m, fbuf);
    if (corr & PET_H5_CORR_ATTENUATION)
      (void)pet_h5_read_histogram_range(path, "corrections/attenuation", 0, m, fbuf);
  }
  pet_error_clear();

  if (pet_h5_listmode_info(path, &n, &has_tof, name, sizeof name) == PET_OK) {
    if (n < 0) abort();
    const int64_t m = n < FUZZ_H5_MAX_READ ? n : FUZZ_H5_MAX_READ;
    (void)pet_h5_read_listmode_range(path, 0, m, t, d1, d2, has_tof ? fbuf : NULL);
    int64_t first = 0, count = 0;
    (void)pet_h5_listmode_find_window(path, 10, 1000, &first, &count);
  }
  pet_error_clear();

  pet_image *img = NULL;
  if (pet_h5_read_image(path, &img) == PET_OK)
    fuzz_touch(img->data, (size_t)pet_image_params_num_voxels(&img->params) * sizeof(float));
  pet_image_destroy(&img);
  pet_error_clear();
  return 0;
}
