/* Small helpers shared by the petrel subcommands. */
#ifndef PET_CLI_UTIL_H
#define PET_CLI_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pet_config.h"
#include "pet_job.h"
#include "pet_osem.h"
#include "pet_status.h"

typedef struct pet_cli_progress {
  bool quiet, json;
  const char *what; /* "recon", "demo" */
} pet_cli_progress;

/** on_subset callback printing "iteration i/N subset s/S: t s, LOR/s, ETA" (or a JSON line). */
void pet_cli_print_subset(void *ctx, const pet_osem_progress *p);

/** Parses a non-negative integer / a float option value, with a message naming the flag. */
pet_status pet_cli_parse_int(const char *flag, const char *val, int64_t lo, int64_t hi, int64_t *out);
pet_status pet_cli_parse_float(const char *flag, const char *val, double lo, double hi, double *out);
/** True if argv[i] is --name and a value follows; advances *i. Missing value: error. */
bool pet_cli_is_help(int argc, char **argv);
/** mkdir -p for one level (exists ok). */
pet_status pet_cli_mkdir(const char *path);
/** Wall-clock seconds (monotonic). */
double pet_cli_now(void);

/** Other spellings of recon's flags: "vram-budget"/"vram_budget" -> "vram_budget_mb". */
const char *pet_cli_option_alias(const char *name);

/** Job hooks that only print the job's lines to stderr ("petrel: ...", "petrel: warning: ..."),
 *  for the subcommands that load inputs without running a job. */
const pet_job_hooks *pet_cli_log_hooks(void);
/** The log hook behind it (ctx unused). */
void pet_cli_job_log(void *ctx, pet_job_log_level level, const char *msg);

/** The program name to show in commands petrel prints (argv[0] of main; default "petrel"). */
void pet_cli_set_program(const char *argv0);
const char *pet_cli_program(void);
/** Prints to f the command that repeats `cmd` with argv[1..argc) and then `extra` (may be
 *  NULL), each argument shell-quoted where needed: e.g. the --resume command of a stopped run.
 *  ranks > 1 prefixes "mpirun -np N" (the checkpoint is for that many ranks). */
void pet_cli_print_command(FILE *f, const char *cmd, int argc, char **argv, const char *extra, int ranks);

#endif
