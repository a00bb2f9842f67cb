#include "pet_cli_util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void pet_cli_print_subset(void *ctx, const pet_osem_progress *p)
{
  const pet_cli_progress *c = ctx;
  if (c == NULL || c->quiet) return;
  double rate = p->seconds > 0 ? (double)p->lors / p->seconds : 0.0;
  if (c->json) {
    printf("{\"event\":\"subset\",\"what\":\"%s\",\"iteration\":%d,\"iterations\":%d,\"subset\":%d,"
           "\"subsets\":%d,\"seconds\":%.4f,\"lors\":%lld,\"lors_per_s\":%.4g,\"elapsed\":%.3f,"
           "\"eta\":%.3f,\"project_s\":%.5f,\"reduce_s\":%.5f,\"update_s\":%.5f,\"gather_s\":%.5f}\n",
           c->what, p->iteration, p->num_iterations, p->subset, p->num_subsets, p->seconds,
           (long long)p->lors, rate, p->elapsed, p->eta, p->project_s, p->reduce_s, p->update_s,
           p->gather_s);
  } else {
    printf("%s: iteration %d/%d subset %d/%d: %.3f s, %.3g LORs/s, elapsed %.1f s, ETA %.1f s\n",
           c->what, p->iteration, p->num_iterations, p->subset, p->num_subsets, p->seconds, rate,
           p->elapsed, p->eta);
  }
  fflush(stdout);
}

pet_status pet_cli_parse_int(const char *flag, const char *val, int64_t lo, int64_t hi, int64_t *out)
{
  PET_CHECK(val != NULL, PET_ERR_CONFIG, "%s: a value is required", flag);
  char *end = NULL;
  errno = 0;
  long long v = strtoll(val, &end, 10);
  PET_CHECK(errno == 0 && end != val && *end == '\0', PET_ERR_CONFIG, "%s: '%s' is not an integer", flag, val);
  PET_CHECK(v >= lo && v <= hi, PET_ERR_CONFIG, "%s: %lld is outside [%lld, %lld]", flag, v, (long long)lo, (long long)hi);
  *out = v;
  return PET_OK;
}

pet_status pet_cli_parse_float(const char *flag, const char *val, double lo, double hi, double *out)
{
  PET_CHECK(val != NULL, PET_ERR_CONFIG, "%s: a value is required", flag);
  char *end = NULL;
  errno = 0;
  double v = strtod(val, &end);
  PET_CHECK(errno == 0 && end != val && *end == '\0' && isfinite(v), PET_ERR_CONFIG,
            "%s: '%s' is not a number", flag, val);
  PET_CHECK(v >= lo && v <= hi, PET_ERR_CONFIG, "%s: %g is outside [%g, %g]", flag, v, lo, hi);
  *out = v;
  return PET_OK;
}

bool pet_cli_is_help(int argc, char **argv)
{
  for (int i = 1; i < argc; ++i)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
  return false;
}

pet_status pet_cli_mkdir(const char *path)
{
  if (mkdir(path, 0755) == 0 || errno == EEXIST) {
    struct stat sb;
    PET_CHECK(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode), PET_ERR_IO, "%s: not a directory", path);
    return PET_OK;
  }
  return PET_ERROR(PET_ERR_IO, "%s: cannot create the directory: %s", path, strerror(errno));
}

double pet_cli_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *program = "petrel";

void pet_cli_set_program(const char *argv0)
{
  if (argv0 != NULL && argv0[0]) program = argv0;
}

const char *pet_cli_program(void) { return program; }

static void print_quoted(FILE *f, const char *a)
{
  if (a[0] && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=./,:@%") == strlen(a)) {
    fputs(a, f);
    return;
  }
  fputc('\'', f);
  for (const char *c = a; *c; ++c)
    if (*c == '\'') fputs("'\\''", f);
    else fputc(*c, f);
  fputc('\'', f);
}

void pet_cli_print_command(FILE *f, const char *cmd, int argc, char **argv, const char *extra, int ranks)
{
  if (ranks > 1) fprintf(f, "mpirun -np %d ", ranks);
  print_quoted(f, program);
  fprintf(f, " %s", cmd);
  for (int i = 1; i < argc; ++i) {
    fputc(' ', f);
    print_quoted(f, argv[i]);
  }
  if (extra) fprintf(f, " %s", extra);
  fputc('\n', f);
}

const char *pet_cli_option_alias(const char *name)
{
  if (!strcmp(name, "vram-budget") || !strcmp(name, "vram_budget")) return "vram_budget_mb";
  return name;
}

void pet_cli_job_log(void *ctx, pet_job_log_level level, const char *msg)
{
  (void)ctx;
  fprintf(stderr, "petrel: %s%s\n", level == PET_JOB_WARNING ? "warning: " : "", msg);
}

const pet_job_hooks *pet_cli_log_hooks(void)
{
  static const pet_job_hooks hooks = {NULL, pet_cli_job_log, NULL, NULL, NULL, NULL, NULL, NULL};
  return &hooks;
}
