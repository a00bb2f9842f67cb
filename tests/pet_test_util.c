#include "pet_test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *pet_test_read_file(const char *path, size_t *size)
{
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *buf = malloc(n > 0 ? (size_t)n : 1);
  if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (size) *size = (size_t)n;
  return buf;
}

const char *pet_test_fixture(char *buf, size_t len, const char *scanner, const char *file)
{
  int n = snprintf(buf, len, "%s/%s/%s", PET_FIXTURES_DIR, scanner, file);
  if (n < 0 || (size_t)n >= len) fail_msg("fixture path %s/%s/%s is too long", PET_FIXTURES_DIR, scanner, file);
  /* a missing table is a failure naming it, not a status mismatch further on */
  if (access(buf, R_OK) != 0)
    fail_msg("YRT-PET fixture %s is missing or unreadable (tests/fixtures/yrtpet/README.md)", buf);
  return buf;
}

const char *pet_test_tmpdir(char *buf, size_t len)
{
  const char *base = getenv("TMPDIR");
  snprintf(buf, len, "%s/petrel_test_XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(buf)) return NULL;
  return buf;
}

float pet_test_uniform(uint64_t key)
{
  uint64_t z = key + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (float)((z >> 40) * (1.0 / 16777216.0));
}

double pet_test_reldiff(double a, double b)
{
  double m = fmax(fabs(a), fabs(b));
  if (m < 1e-30) return 0.0;
  return fabs(a - b) / m;
}
