/* libFuzzer target: pet_scanner_read_json (config/pet_scanner_json.c), which also reaches
 * pet_scanner_read_lut and the mask reader through "detCoord" and "detMask": the input's
 * folder holds "tiny.lut" (16 detectors, the geometry of fuzz_tiny_params) and "tiny.u8"
 * (16 mask bytes), so a JSON naming them gets past the size checks. */
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  pet_scanner *s = NULL;
  pet_scanner_params p = fuzz_tiny_params();
  uint8_t mask[16];
  fuzz_setup();
  if (pet_scanner_create(&s, &p) != PET_OK) abort();
  fuzz_add_side_file("tiny.lut", s->lut, (size_t)s->num_dets * 6 * sizeof(float));
  for (int i = 0; i < 16; ++i) mask[i] = (uint8_t)(i % 2);
  fuzz_add_side_file("tiny.u8", mask, sizeof mask);
  pet_scanner_destroy(&s);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  pet_scanner *s = NULL;
  if (pet_scanner_read_json(&s, fuzz_input_file(data, size)) == PET_OK) {
    if (s == NULL || s->lut == NULL || s->num_dets <= 0) abort();
    fuzz_touch(s->lut, (size_t)s->num_dets * 6 * sizeof(float));
    if (s->det_mask != NULL)
      for (int64_t i = 0; i < s->num_dets; ++i)
        if (s->det_mask[i] > 1) abort();
  }
  pet_scanner_destroy(&s);
  pet_error_clear();
  return 0;
}
