/* --help / -h for the bench programs: prints usage on stdout; the caller returns 0. */
#ifndef PET_BENCH_HELP_H
#define PET_BENCH_HELP_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static inline bool bench_help(int argc, char **argv, const char *usage)
{
  for (int i = 1; i < argc; ++i)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage, stdout);
      return true;
    }
  return false;
}

#endif
