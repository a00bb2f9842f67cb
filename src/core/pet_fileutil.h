/* petrel: small file helpers shared by every writer: atomic writes (temp file + rename),
 * checked whole-buffer reads and writes, file sizes. */
#ifndef PET_FILEUTIL_H
#define PET_FILEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Opens a fresh temporary file in the folder of `path` (named "<path>.tmpXXXXXX", mode 0644)
 * for writing in binary mode. On success *f is the stream and *tmp_path its name; both are
 * owned by the caller and end with pet_file_commit or pet_file_abort. Local.
 * Errors: PET_ERR_ARG (NULL arguments), PET_ERR_IO (folder missing or not writable, naming
 * `path`), PET_ERR_NOMEM.
 */
pet_status pet_file_open_temp(const char *path, char **tmp_path, FILE **f);
/**
 * Flushes, fsyncs and closes *f, then renames *tmp_path to `path` (replacing it atomically).
 * On any failure the temporary file is removed and `path` is left untouched. Always closes
 * the stream, frees *tmp_path and sets *f and *tmp_path to NULL. Local.
 * Errors: PET_ERR_IO naming `path`.
 */
pet_status pet_file_commit(FILE **f, char **tmp_path, const char *path);
/** Closes *f and removes *tmp_path; frees it; sets both to NULL. NULL-safe. Local. */
void pet_file_abort(FILE **f, char **tmp_path);

/** fwrite of `bytes` bytes; PET_ERR_IO naming `path` (what the stream writes to) on a short
 *  write. Local. */
pet_status pet_file_write(FILE *f, const void *buf, size_t bytes, const char *path);
/** fread of exactly `bytes` bytes; PET_ERR_IO naming `path` and `what` on a short read. */
pet_status pet_file_read(FILE *f, void *buf, size_t bytes, const char *path, const char *what);
/** Opens `path` for binary reading; PET_ERR_IO naming it (with strerror) on failure. */
pet_status pet_file_open_read(const char *path, FILE **f);
/** Size in bytes of the regular file `path`; PET_ERR_IO naming it on failure. */
pet_status pet_file_size(const char *path, int64_t *bytes);

/**
 * Registry of the temporary files being written, so that a signal handler can remove them
 * before the process exits (pet_file_open_temp and the HDF5 writers register theirs; commit
 * and abort unregister). register copies the name (at most PET_FILE_TEMP_NAME_MAX bytes; a
 * longer name or a full table is not registered, which only means it survives a signal).
 * remove_all is async-signal-safe (unlink only). Local; call from one thread at a time.
 */
#define PET_FILE_TEMP_NAME_MAX 4096
void pet_file_temp_register(const char *tmp_path);
void pet_file_temp_unregister(const char *tmp_path);
void pet_file_temp_remove_all(void);

/** Writes `bytes` bytes to `path` atomically (open_temp + write + commit). Local. */
pet_status pet_file_write_atomic(const char *path, const void *buf, size_t bytes);

#ifdef __cplusplus
}
#endif
#endif /* PET_FILEUTIL_H */
