#include "pet_fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Makes the rename durable; a folder that cannot be opened or synced is not an error. */
static void sync_parent_dir(const char *path)
{
  char *dir = malloc(strlen(path) + 2);
  if (dir == NULL) return;
  strcpy(dir, path);
  char *slash = strrchr(dir, '/');
  if (slash == NULL)
    strcpy(dir, ".");
  else if (slash == dir)
    dir[1] = '\0';
  else
    *slash = '\0';
  int fd = open(dir, O_RDONLY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(dir);
}

/* A few writers at a time at most (one output, a checkpoint); a slot is in use while its flag is
 * set, and the name is complete before the flag is, so a handler never reads half a name. */
#define TEMP_SLOTS 8
static char temp_names[TEMP_SLOTS][PET_FILE_TEMP_NAME_MAX];
static volatile sig_atomic_t temp_used[TEMP_SLOTS];

void pet_file_temp_register(const char *tmp_path)
{
  if (tmp_path == NULL || strlen(tmp_path) >= PET_FILE_TEMP_NAME_MAX) return;
  for (int i = 0; i < TEMP_SLOTS; ++i)
    if (!temp_used[i]) {
      strcpy(temp_names[i], tmp_path);
      temp_used[i] = 1;
      return;
    }
}

void pet_file_temp_unregister(const char *tmp_path)
{
  if (tmp_path == NULL) return;
  for (int i = 0; i < TEMP_SLOTS; ++i)
    if (temp_used[i] && strcmp(temp_names[i], tmp_path) == 0) {
      temp_used[i] = 0;
      return;
    }
}

void pet_file_temp_remove_all(void)
{
  for (int i = 0; i < TEMP_SLOTS; ++i)
    if (temp_used[i]) {
      (void)unlink(temp_names[i]);
      temp_used[i] = 0;
    }
}

pet_status pet_file_open_temp(const char *path, char **tmp_path, FILE **f)
{
  pet_status st = PET_OK;
  char *name = NULL;
  int fd = -1;
  PET_CHECK(path != NULL && tmp_path != NULL && f != NULL, PET_ERR_ARG,
            "pet_file_open_temp: NULL argument");
  *tmp_path = NULL;
  *f = NULL;
  PET_CHECK(path[0] != '\0', PET_ERR_ARG, "pet_file_open_temp: empty file name");

  size_t len = strlen(path) + sizeof ".tmpXXXXXX";
  name = malloc(len);
  PET_CHECK_GOTO(st, name != NULL, PET_ERR_NOMEM, out, "%s: out of host memory", path);
  snprintf(name, len, "%s.tmpXXXXXX", path);
  fd = mkstemp(name);
  PET_CHECK_GOTO(st, fd >= 0, PET_ERR_IO, out, "%s: cannot create a temporary file: %s", path,
                 strerror(errno));
  pet_file_temp_register(name);
  /* mkstemp gives 0600; results are meant to be shared like any ordinary output. */
  (void)fchmod(fd, 0644);
  *f = fdopen(fd, "wb");
  PET_CHECK_GOTO(st, *f != NULL, PET_ERR_IO, out, "%s: cannot open a temporary file: %s", path,
                 strerror(errno));
  fd = -1;
  *tmp_path = name;
  name = NULL;
out:
  if (fd >= 0) close(fd);
  if (name != NULL) {
    if (st != PET_OK && fd >= 0) unlink(name);
    pet_file_temp_unregister(name);
    free(name);
  }
  return st;
}

pet_status pet_file_commit(FILE **f, char **tmp_path, const char *path)
{
  pet_status st = PET_OK;
  PET_CHECK(f != NULL && *f != NULL && tmp_path != NULL && *tmp_path != NULL && path != NULL,
            PET_ERR_ARG, "pet_file_commit: NULL argument");
  FILE *fp = *f;
  *f = NULL;
  bool ok = fflush(fp) == 0;
  int err = errno;
  if (ok && fsync(fileno(fp)) != 0) {
    ok = false;
    err = errno;
  }
  if (fclose(fp) != 0 && ok) {
    ok = false;
    err = errno;
  }
  PET_CHECK_GOTO(st, ok, PET_ERR_IO, out, "%s: write failed: %s", path, strerror(err));
  PET_CHECK_GOTO(st, rename(*tmp_path, path) == 0, PET_ERR_IO, out, "%s: cannot rename %s: %s",
                 path, *tmp_path, strerror(errno));
  sync_parent_dir(path);
out:
  if (st != PET_OK) unlink(*tmp_path);
  pet_file_temp_unregister(*tmp_path);
  free(*tmp_path);
  *tmp_path = NULL;
  return st;
}

void pet_file_abort(FILE **f, char **tmp_path)
{
  if (f != NULL && *f != NULL) {
    fclose(*f);
    *f = NULL;
  }
  if (tmp_path != NULL && *tmp_path != NULL) {
    unlink(*tmp_path);
    pet_file_temp_unregister(*tmp_path);
    free(*tmp_path);
    *tmp_path = NULL;
  }
}

pet_status pet_file_write(FILE *f, const void *buf, size_t bytes, const char *path)
{
  if (bytes == 0) return PET_OK;
  size_t n = fwrite(buf, 1, bytes, f);
  PET_CHECK(n == bytes, PET_ERR_IO, "%s: short write (%zu of %zu bytes): %s", path, n, bytes,
            strerror(errno));
  return PET_OK;
}

pet_status pet_file_read(FILE *f, void *buf, size_t bytes, const char *path, const char *what)
{
  if (bytes == 0) return PET_OK;
  size_t n = fread(buf, 1, bytes, f);
  PET_CHECK(n == bytes, PET_ERR_IO, "%s: truncated %s (read %zu of %zu bytes)", path, what, n,
            bytes);
  return PET_OK;
}

pet_status pet_file_open_read(const char *path, FILE **f)
{
  PET_CHECK(path != NULL && f != NULL, PET_ERR_ARG, "pet_file_open_read: NULL argument");
  *f = fopen(path, "rb");
  PET_CHECK(*f != NULL, PET_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  return PET_OK;
}

pet_status pet_file_size(const char *path, int64_t *bytes)
{
  struct stat sb;
  PET_CHECK(path != NULL && bytes != NULL, PET_ERR_ARG, "pet_file_size: NULL argument");
  PET_CHECK(stat(path, &sb) == 0, PET_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
  PET_CHECK(S_ISREG(sb.st_mode), PET_ERR_IO, "%s: not a regular file", path);
  *bytes = (int64_t)sb.st_size;
  return PET_OK;
}

pet_status pet_file_write_atomic(const char *path, const void *buf, size_t bytes)
{
  pet_status st = PET_OK;
  FILE *f = NULL;
  char *tmp = NULL;
  PET_TRY_GOTO(st, pet_file_open_temp(path, &tmp, &f), out);
  PET_TRY_GOTO(st, pet_file_write(f, buf, bytes, path), out);
  PET_TRY_GOTO(st, pet_file_commit(&f, &tmp, path), out);
out:
  pet_file_abort(&f, &tmp);
  return st;
}
