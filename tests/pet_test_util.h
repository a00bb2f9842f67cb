/* Helpers shared by the cmocka tests. */
#ifndef PET_TEST_UTIL_H
#define PET_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* cmocka needs these before its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

/** Reads a whole file into a malloc'd buffer (caller frees); NULL on failure. */
void *pet_test_read_file(const char *path, size_t *size);
/** Path of a YRT-PET fixture: PET_FIXTURES_DIR/<scanner>/<file> into buf (tests/fixtures/yrtpet).
 *  Fails the running test, naming the file, when it is missing or unreadable. */
const char *pet_test_fixture(char *buf, size_t len, const char *scanner, const char *file);
/** A fresh temporary directory (mkdtemp under $TMPDIR or /tmp); returns a static buffer copy. */
const char *pet_test_tmpdir(char *buf, size_t len);
/** Deterministic uniform [0,1) from a 64-bit key (splitmix64), identical on any backend. */
float pet_test_uniform(uint64_t key);
/** Relative difference |a-b| / max(|a|,|b|,tiny). */
double pet_test_reldiff(double a, double b);

#endif
