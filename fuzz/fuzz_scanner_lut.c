/* libFuzzer target: pet_scanner_read_lut (src/core/pet_scanner.c). Each input is read twice:
 * as the LUT of the 16-detector tiny scanner (384 bytes) and with num_dets taken from its
 * size (size / 24, at least 1), which reaches the finiteness check of every coordinate. */
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  fuzz_setup();
  return 0;
}

static void read_once(const char *path, int64_t num_dets)
{
  float *lut = NULL;
  if (pet_scanner_read_lut(path, num_dets, &lut) == PET_OK) {
    if (lut == NULL) abort();
    fuzz_touch(lut, (size_t)num_dets * 6 * sizeof(float));
  }
  free(lut);
  pet_error_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *path = fuzz_input_file(data, size);
  read_once(path, 16);
  read_once(path, size / 24 > 0 ? (int64_t)(size / 24) : 1);
  return 0;
}
