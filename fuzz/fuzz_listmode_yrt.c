/* libFuzzer target: pet_listmode_read_yrt (src/io/pet_yrt_io.c) for the tiny scanner (16
 * detectors), without and with TOF, then pet_listmode_check_sorted on what it read. */
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
  const char *path = fuzz_input_file(data, size);
  for (int tof = 0; tof < 2; ++tof) {
    pet_listmode *lm = NULL;
    if (pet_listmode_read_yrt(&lm, scanner, path, tof != 0) == PET_OK) {
      int64_t first_bad = -2;
      if (pet_listmode_check(lm, scanner) != PET_OK) abort(); /* the reader checked the ids */
      pet_status st = pet_listmode_check_sorted(lm, &first_bad);
      if ((st == PET_OK) != (first_bad == -1)) abort();
    }
    pet_listmode_destroy(&lm);
    pet_error_clear();
  }
  return 0;
}
