#include "pet_status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_msg[1024];
static _Thread_local pet_status last_st = PET_OK;
static bool print_errors = true;
static _Thread_local bool thread_quiet = false;
static int error_rank = -1;

const char *pet_status_name(pet_status st)
{
  switch (st) {
  case PET_OK: return "PET_OK";
  case PET_ERR_ARG: return "PET_ERR_ARG";
  case PET_ERR_NOMEM: return "PET_ERR_NOMEM";
  case PET_ERR_IO: return "PET_ERR_IO";
  case PET_ERR_CONFIG: return "PET_ERR_CONFIG";
  case PET_ERR_CUDA: return "PET_ERR_CUDA";
  case PET_ERR_MPI: return "PET_ERR_MPI";
  case PET_ERR_NCCL: return "PET_ERR_NCCL";
  case PET_ERR_UNSUPPORTED: return "PET_ERR_UNSUPPORTED";
  case PET_ERR_STATE: return "PET_ERR_STATE";
  case PET_ERR_INTERRUPTED: return "PET_ERR_INTERRUPTED";
  }
  return "PET_ERR_UNKNOWN";
}

pet_status pet_error_at(pet_status st, const char *file, int line, const char *fmt, ...)
{
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  snprintf(last_msg, sizeof last_msg, "%s (%s:%d)", msg, base, line);
  last_st = st;
  if (print_errors && !thread_quiet) {
    if (error_rank >= 0)
      fprintf(stderr, "petrel[%d]: error: %s\n", error_rank, last_msg);
    else
      fprintf(stderr, "petrel: error: %s\n", last_msg);
  }
  return st;
}

pet_status pet_error_raise_again(pet_status st, const char *msg)
{
  snprintf(last_msg, sizeof last_msg, "%s", msg);
  last_st = st;
  if (print_errors && !thread_quiet) {
    if (error_rank >= 0)
      fprintf(stderr, "petrel[%d]: error: %s\n", error_rank, last_msg);
    else
      fprintf(stderr, "petrel: error: %s\n", last_msg);
  }
  return st;
}

bool pet_error_set_thread_quiet(bool quiet)
{
  bool was = thread_quiet;
  thread_quiet = quiet;
  return was;
}

const char *pet_last_error(void) { return last_msg; }
pet_status pet_last_status(void) { return last_st; }

void pet_error_clear(void)
{
  last_msg[0] = '\0';
  last_st = PET_OK;
}

bool pet_error_set_print(bool on)
{
  bool was = print_errors;
  print_errors = on;
  return was;
}
void pet_error_set_rank(int rank) { error_rank = rank; }

void pet_log(const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (error_rank >= 0)
    fprintf(stderr, "petrel[%d]: %s\n", error_rank, msg);
  else
    fprintf(stderr, "petrel: %s\n", msg);
}
