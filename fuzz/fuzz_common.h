/* petrel fuzzing: shared harness helpers (header-only, one copy per fuzz target).
 *
 * The readers take paths, so each input is written to a file that is reused for the whole
 * run: "<dir>/input" in a per-process folder made under $TMPDIR (or /dev/shm when TMPDIR is
 * unset) at start-up and removed at exit. The folder also holds the side files that the
 * scanner JSON may name relative to itself (see fuzz_add_side_file), so that "detCoord" and
 * "detMask" reach the LUT and mask readers. Errors are not printed (pet_error_set_print). */
#ifndef PET_FUZZ_COMMON_H
#define PET_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pet_scanner.h"
#include "pet_status.h"

#define FUZZ_MAX_SIDE_FILES 4

static char fuzz_dir[4096];
static char fuzz_input[4096 + 64];
static char fuzz_side[FUZZ_MAX_SIDE_FILES][4096 + 64];
static int fuzz_num_side;

static inline void fuzz_cleanup(void)
{
  if (fuzz_dir[0] == '\0') return;
  remove(fuzz_input);
  for (int i = 0; i < fuzz_num_side; ++i) remove(fuzz_side[i]);
  rmdir(fuzz_dir);
}

/* Creates the per-process folder, whose input file is called `input_name` (the NIfTI reader
 * wants a .nii name); aborts on failure (a harness bug, not an input bug). */
static inline void fuzz_setup_named(const char *input_name)
{
  pet_error_set_print(false);
  const char *tmp = getenv("TMPDIR");
  if (tmp == NULL || tmp[0] == '\0') tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(fuzz_dir, sizeof fuzz_dir, "%s/petrel_fuzz.XXXXXX", tmp);
  if (mkdtemp(fuzz_dir) == NULL) {
    perror("fuzz: mkdtemp");
    abort();
  }
  snprintf(fuzz_input, sizeof fuzz_input, "%s/%s", fuzz_dir, input_name);
  atexit(fuzz_cleanup);
}

static inline void fuzz_setup(void) { fuzz_setup_named("input"); }

static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
  FILE *f = fopen(path, "wb");
  if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror("fuzz: cannot write the input file");
    abort();
  }
}

/* Writes a side file `name` into the folder (before fuzzing starts). */
static inline void fuzz_add_side_file(const char *name, const void *data, size_t size)
{
  if (fuzz_num_side >= FUZZ_MAX_SIDE_FILES) abort();
  snprintf(fuzz_side[fuzz_num_side], sizeof fuzz_side[0], "%s/%s", fuzz_dir, name);
  fuzz_write_file(fuzz_side[fuzz_num_side], data, size);
  ++fuzz_num_side;
}

/* Replaces the input file's contents with the fuzzer's bytes; returns its path. */
static inline const char *fuzz_input_file(const uint8_t *data, size_t size)
{
  fuzz_write_file(fuzz_input, data, size);
  return fuzz_input;
}

static volatile unsigned char fuzz_sink;

/* Reads every byte of a buffer, so that a short allocation shows up under ASan. */
static inline void fuzz_touch(const void *buf, size_t bytes)
{
  const unsigned char *c = buf;
  unsigned char x = 0;
  for (size_t i = 0; i < bytes; ++i) x ^= c[i];
  fuzz_sink = x;
}

/* A tiny scanner for the histogram and list-mode targets: 8 detectors per ring, 2 rings,
 * one DOI layer (16 detectors), Histogram3D of 4 x 8 x 4 = 128 bins (a 544-byte .his). */
static inline pet_scanner_params fuzz_tiny_params(void)
{
  pet_scanner_params p;
  memset(&p, 0, sizeof p);
  snprintf(p.name, sizeof p.name, "%s", "FUZZ_TINY");
  p.axial_fov = 4.0f;
  p.crystal_size_z = 2.0f;
  p.crystal_size_trans = 2.0f;
  p.crystal_depth = 10.0f;
  p.scanner_radius = 50.0f;
  p.dets_per_ring = 8;
  p.num_rings = 2;
  p.num_doi = 1;
  p.max_ring_diff = 1;
  p.min_ang_diff = 1;
  p.dets_per_block = 1;
  return p;
}

#endif /* PET_FUZZ_COMMON_H */
