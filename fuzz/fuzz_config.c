/* libFuzzer target: pet_config_read_json (config/pet_config.c), then on success the
 * cross-field checks, the frames parser and the canonical JSON (which must read back to the
 * same hash). */
#include "fuzz_common.h"
#include "pet_config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  fuzz_setup();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  pet_config cfg;
  pet_config_defaults(&cfg);
  if (pet_config_read_json(&cfg, fuzz_input_file(data, size)) == PET_OK) {
    double *durations = NULL;
    int n = 0;
    char *json = NULL;
    (void)pet_config_validate(&cfg);
    if (pet_config_frames(&cfg, &durations, &n) == PET_OK && n > 0)
      fuzz_touch(durations, (size_t)n * sizeof(double));
    free(durations);
    if (pet_config_to_json(&cfg, false, &json) == PET_OK) {
      /* round trip: the canonical JSON must read back to the same configuration */
      pet_config again;
      pet_config_defaults(&again);
      const char *path = fuzz_input_file((const uint8_t *)json, strlen(json));
      if (pet_config_read_json(&again, path) != PET_OK) abort();
      if (pet_config_hash(&again) != pet_config_hash(&cfg)) abort();
    }
    free(json);
  }
  pet_error_clear();
  return 0;
}
