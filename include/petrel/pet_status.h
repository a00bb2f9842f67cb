/* petrel: status codes, error reporting and the checking macros used everywhere. */
#ifndef PET_STATUS_H
#define PET_STATUS_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pet_status {
  PET_OK = 0,
  PET_ERR_ARG,         /* a bad argument or a bad value in an input file */
  PET_ERR_NOMEM,       /* host or device allocation failed */
  PET_ERR_IO,          /* a file could not be opened, read or written, or is malformed */
  PET_ERR_CONFIG,      /* a configuration field is missing or out of range */
  PET_ERR_CUDA,        /* a CUDA runtime call failed */
  PET_ERR_MPI,         /* an MPI call failed, or another rank failed */
  PET_ERR_NCCL,        /* an NCCL call failed */
  PET_ERR_UNSUPPORTED, /* the build lacks the feature (CUDA, NCCL, ...) */
  PET_ERR_STATE,       /* an object used before allocate()/bind(), or in the wrong memory space */
  PET_ERR_INTERRUPTED  /* a signal asked the run to stop (checkpoint written) */
} pet_status;

/** Short name of a status ("PET_ERR_IO"). Local. */
const char *pet_status_name(pet_status st);

/**
 * Records an error: formats "file:line: message", keeps it as the calling thread's last
 * error (pet_last_error) and prints it on stderr (prefixed with the MPI rank when set)
 * unless printing was switched off with pet_error_set_print(false). Returns `st`, so that
 * `return PET_ERROR(PET_ERR_IO, "...")` reads naturally. Local.
 */
pet_status pet_error_at(pet_status st, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/** Records (and prints, as pet_error_at) an error message recorded by another thread (its
 *  pet_last_error, file and line included) as this thread's last error. Returns st. Local. */
pet_status pet_error_raise_again(pet_status st, const char *msg);
/** Keeps this thread's errors off stderr (a worker thread whose errors its caller raises again
 *  with pet_error_raise_again); returns the previous setting. Local. */
bool pet_error_set_thread_quiet(bool quiet);
/** The last message recorded by this thread ("" when none). Local. */
const char *pet_last_error(void);
/** The last status recorded by this thread (PET_OK when none). Local. */
pet_status pet_last_status(void);
/** Forget the last error of this thread. Local. */
void pet_error_clear(void);
/** Switch printing of errors on stderr on or off (the Python module turns it off); returns
 *  the previous setting, so that a caller can restore it. Local. */
bool pet_error_set_print(bool on);
/** Rank shown in messages; -1 (the default) shows none. Local. */
void pet_error_set_rank(int rank);

/** Informational log line on stderr, prefixed with "petrel: " and the rank. Local. */
void pet_log(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#define PET_ERROR(st, ...) pet_error_at((st), __FILE__, __LINE__, __VA_ARGS__)

/* Pass our own errors up (the callee has already recorded the message). */
#define PET_TRY(expr)                                                                            \
  do {                                                                                           \
    pet_status pet_try_st_ = (expr);                                                             \
    if (pet_try_st_ != PET_OK) return pet_try_st_;                                               \
  } while (0)

/* Always-on check of an input or a precondition. */
#define PET_CHECK(cond, st, ...)                                                                 \
  do {                                                                                           \
    if (!(cond)) return PET_ERROR((st), __VA_ARGS__);                                            \
  } while (0)

/* For functions with one exit: set `st` and jump to `label` on failure. */
#define PET_TRY_GOTO(st, expr, label)                                                            \
  do {                                                                                           \
    if (((st) = (expr)) != PET_OK) goto label;                                                   \
  } while (0)
#define PET_CHECK_GOTO(st, cond, code, label, ...)                                               \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      (st) = PET_ERROR((code), __VA_ARGS__);                                                     \
      goto label;                                                                                \
    }                                                                                            \
  } while (0)

#ifdef NDEBUG
#define PET_ASSERT(cond) ((void)0)
#else
#include <stdio.h>
#include <stdlib.h>
#define PET_ASSERT(cond)                                                                         \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);              \
      abort();                                                                                   \
    }                                                                                            \
  } while (0)
#endif

#ifdef __cplusplus
}
#endif
#endif /* PET_STATUS_H */
