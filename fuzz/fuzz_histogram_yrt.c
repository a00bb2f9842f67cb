/* libFuzzer target: pet_histogram_read_yrt (src/io/pet_yrt_io.c) for the tiny scanner (a valid
 * .his is 544 bytes), then pet_histogram_validate on what it read. */
#include "fuzz_common.h"
#include "pet_yrt_io.h"

static pet_scanner *scanner;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  pet_scanner_params p = fuzz_tiny_params();
  fuzz_setup();
  if (pet_scanner_create(&scanner, &p) != PET_OK) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  pet_histogram *h = NULL;
  if (pet_histogram_read_yrt(&h, scanner, fuzz_input_file(data, size)) == PET_OK) {
    int64_t n_bad = -1, first_bad = -1;
    if (pet_histogram_validate(h, &n_bad, &first_bad) != PET_OK && n_bad <= 0) abort();
  }
  pet_histogram_destroy(&h);
  pet_error_clear();
  return 0;
}
