/* libFuzzer target: pet_rawd_read (src/io/pet_yrt_io.c), header only and with the data. */
#include "fuzz_common.h"
#include "pet_yrt_io.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  fuzz_setup();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *path = fuzz_input_file(data, size);
  int32_t ndim = 0;
  int64_t dims[8];
  float *values = NULL;
  if (pet_rawd_read(path, &ndim, dims, NULL) == PET_OK && (ndim < 1 || ndim > 8)) abort();
  if (pet_rawd_read(path, &ndim, dims, &values) == PET_OK) {
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; ++i) n *= dims[i];
    fuzz_touch(values, (size_t)n * sizeof(float));
  }
  free(values);
  pet_error_clear();
  return 0;
}
