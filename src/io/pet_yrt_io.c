#include "pet_yrt_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_fileutil.h"
#include "pet_devmem.h"

#define RAWD_MAX_DIMS 8
/* Events and device floats go through host buffers of this many elements. */
#define IO_CHUNK ((int64_t)1 << 20)

static pet_status rawd_check_dims(const char *path, int32_t ndim, const int64_t *dims,
                                  int64_t *count)
{
  PET_CHECK(ndim >= 1 && ndim <= RAWD_MAX_DIMS, PET_ERR_IO,
            "%s: RAWD ndim is %d, expected 1 to %d", path, ndim, RAWD_MAX_DIMS);
  int64_t n = 1;
  for (int32_t i = 0; i < ndim; ++i) {
    PET_CHECK(dims[i] > 0, PET_ERR_IO, "%s: RAWD dimension %d is %lld, expected > 0", path, i,
              (long long)dims[i]);
    PET_CHECK(n <= (INT64_MAX / 8) / dims[i], PET_ERR_IO, "%s: RAWD dimensions are too large",
              path);
    n *= dims[i];
  }
  *count = n;
  return PET_OK;
}

static void dims_str(char *buf, size_t len, int32_t ndim, const int64_t *dims)
{
  size_t used = 0;
  buf[0] = '\0';
  for (int32_t i = 0; i < ndim && used < len; ++i)
    used += (size_t)snprintf(buf + used, len - used, i ? "x%lld" : "%lld", (long long)dims[i]);
}

/* Writes the RAWD header then n floats from host or device memory. */
static pet_status rawd_write_stream(FILE *f, const char *path, int32_t ndim, const int64_t *dims,
                                    const float *data, pet_memspace space)
{
  pet_status st = PET_OK;
  float *host = NULL;
  int64_t n = 0;
  const int32_t magic = PET_RAWD_MAGIC;
  PET_TRY(rawd_check_dims(path, ndim, dims, &n));
  PET_TRY(pet_file_write(f, &magic, sizeof magic, path));
  PET_TRY(pet_file_write(f, &ndim, sizeof ndim, path));
  PET_TRY(pet_file_write(f, dims, (size_t)ndim * sizeof(int64_t), path));
  if (space == PET_HOST) return pet_file_write(f, data, (size_t)n * sizeof(float), path);
  int64_t chunk = n < IO_CHUNK ? n : IO_CHUNK;
  host = malloc((size_t)chunk * sizeof(float));
  PET_CHECK_GOTO(st, host != NULL, PET_ERR_NOMEM, out, "%s: out of host memory", path);
  for (int64_t i = 0; i < n; i += chunk) {
    int64_t m = n - i < chunk ? n - i : chunk;
    PET_TRY_GOTO(st, pet_gpu_memcpy(host, data + i, (size_t)m * sizeof(float), 1), out);
    PET_TRY_GOTO(st, pet_file_write(f, host, (size_t)m * sizeof(float), path), out);
  }
out:
  free(host);
  return st;
}

static pet_status rawd_write_space(const char *path, int32_t ndim, const int64_t *dims,
                                   const float *data, pet_memspace space)
{
  pet_status st = PET_OK;
  FILE *f = NULL;
  char *tmp = NULL;
  PET_CHECK(path != NULL && dims != NULL && data != NULL, PET_ERR_ARG,
            "pet_rawd_write: NULL argument");
  PET_TRY_GOTO(st, pet_file_open_temp(path, &tmp, &f), out);
  PET_TRY_GOTO(st, rawd_write_stream(f, path, ndim, dims, data, space), out);
  PET_TRY_GOTO(st, pet_file_commit(&f, &tmp, path), out);
out:
  pet_file_abort(&f, &tmp);
  return st;
}

pet_status pet_rawd_write(const char *path, int32_t ndim, const int64_t *dims, const float *data)
{
  return rawd_write_space(path, ndim, dims, data, PET_HOST);
}

/* Opens a RAWD file and reads its header; the stream is left at the first value. The file
 * size must be exactly header + 4 bytes per value. */
static pet_status rawd_open(const char *path, FILE **out, int32_t *ndim, int64_t dims[8],
                            int64_t *count)
{
  pet_status st = PET_OK;
  FILE *f = NULL;
  int64_t bytes = 0;
  int32_t head[2] = {0, 0};
  *out = NULL;
  PET_TRY(pet_file_size(path, &bytes));
  PET_CHECK(bytes >= (int64_t)sizeof head, PET_ERR_IO,
            "%s: %lld bytes is too short for a RAWD header", path, (long long)bytes);
  PET_TRY_GOTO(st, pet_file_open_read(path, &f), out);
  PET_TRY_GOTO(st, pet_file_read(f, head, sizeof head, path, "RAWD header"), out);
  PET_CHECK_GOTO(st, head[0] == PET_RAWD_MAGIC, PET_ERR_IO, out,
                 "%s: not a RAWD file (magic %d, expected %d)", path, head[0], PET_RAWD_MAGIC);
  PET_CHECK_GOTO(st, head[1] >= 1 && head[1] <= RAWD_MAX_DIMS, PET_ERR_IO, out,
                 "%s: RAWD ndim is %d, expected 1 to %d", path, head[1], RAWD_MAX_DIMS);
  PET_TRY_GOTO(st, pet_file_read(f, dims, (size_t)head[1] * sizeof(int64_t), path, "RAWD dims"),
               out);
  PET_TRY_GOTO(st, rawd_check_dims(path, head[1], dims, count), out);
  const int64_t expected = (int64_t)sizeof head + head[1] * 8 + *count * 4;
  if (bytes != expected) {
    char d[256];
    dims_str(d, sizeof d, head[1], dims);
    st = PET_ERROR(PET_ERR_IO, "%s: %s (dims %s: %lld bytes expected, file has %lld)", path,
                   bytes < expected ? "truncated" : "trailing bytes after the data", d,
                   (long long)expected, (long long)bytes);
    goto out;
  }
  *ndim = head[1];
  *out = f;
  f = NULL;
out:
  if (f != NULL) fclose(f);
  return st;
}

pet_status pet_rawd_read(const char *path, int32_t *ndim, int64_t dims[8], float **data)
{
  pet_status st = PET_OK;
  FILE *f = NULL;
  float *buf = NULL;
  int64_t n = 0, d[RAWD_MAX_DIMS];
  int32_t nd = 0;
  PET_CHECK(path != NULL && ndim != NULL && dims != NULL, PET_ERR_ARG,
            "pet_rawd_read: NULL argument");
  if (data != NULL) *data = NULL;
  PET_TRY_GOTO(st, rawd_open(path, &f, &nd, d, &n), out);
  if (data != NULL) {
    buf = malloc((size_t)n * sizeof(float));
    PET_CHECK_GOTO(st, buf != NULL, PET_ERR_NOMEM, out, "%s: cannot allocate %lld floats", path,
                   (long long)n);
    PET_TRY_GOTO(st, pet_file_read(f, buf, (size_t)n * sizeof(float), path, "RAWD data"), out);
    *data = buf;
    buf = NULL;
  }
  *ndim = nd;
  memcpy(dims, d, (size_t)nd * sizeof(int64_t));
out:
  if (f != NULL) fclose(f);
  free(buf);
  return st;
}

pet_status pet_histogram_write_yrt(const pet_histogram *h, const char *path)
{
  PET_CHECK(h != NULL && path != NULL, PET_ERR_ARG, "pet_histogram_write_yrt: NULL argument");
  PET_TRY(pet_histogram_require(h));
  PET_CHECK(h->num_tof_bins == 0, PET_ERR_UNSUPPORTED,
            "%s: YRT-PET's .his has no TOF bins: write a TOF histogram (%d TOF bins) to HDF5", path,
            (int)h->num_tof_bins);
  const int64_t dims[3] = {h->layout->num_zbin, h->layout->num_phi, h->layout->num_r};
  return rawd_write_space(path, 3, dims, h->data, h->space);
}

pet_status pet_histogram_read_yrt(pet_histogram **out, const pet_scanner *s, const char *path)
{
  pet_status st = PET_OK;
  FILE *f = NULL;
  pet_histogram *h = NULL;
  int64_t dims[RAWD_MAX_DIMS], n = 0;
  int32_t ndim = 0;
  PET_CHECK(out != NULL && s != NULL && path != NULL, PET_ERR_ARG,
            "pet_histogram_read_yrt: NULL argument");
  *out = NULL;
  PET_TRY_GOTO(st, pet_histogram_create(&h, s, PET_OWNED, PET_HOST), out);
  PET_TRY_GOTO(st, rawd_open(path, &f, &ndim, dims, &n), out);
  const int64_t want[3] = {h->layout->num_zbin, h->layout->num_phi, h->layout->num_r};
  if (ndim != 3 || dims[0] != want[0] || dims[1] != want[1] || dims[2] != want[2]) {
    char got[256], exp[256];
    dims_str(got, sizeof got, ndim, dims);
    dims_str(exp, sizeof exp, 3, want);
    st = PET_ERROR(PET_ERR_IO, "%s: dims %s do not match scanner %s (%s)", path, got,
                   s->params.name, exp);
    goto out;
  }
  PET_TRY_GOTO(st, pet_histogram_allocate(h), out);
  PET_TRY_GOTO(st, pet_file_read(f, h->data, (size_t)n * sizeof(float), path, "histogram data"),
               out);
  *out = h;
  h = NULL;
out:
  if (f != NULL) fclose(f);
  pet_histogram_destroy(&h);
  return st;
}

static size_t event_bytes(bool has_tof) { return 3 * sizeof(uint32_t) + (has_tof ? 4 : 0); }

pet_status pet_listmode_write_yrt(const pet_listmode *lm, const char *path)
{
  pet_status st = PET_OK;
  FILE *f = NULL;
  char *tmp = NULL;
  unsigned char *buf = NULL;
  PET_CHECK(lm != NULL && path != NULL, PET_ERR_ARG, "pet_listmode_write_yrt: NULL argument");
  PET_TRY(pet_listmode_require(lm));
  const size_t eb = event_bytes(lm->has_tof);
  const int64_t n = lm->num_events;
  const int64_t chunk = n < IO_CHUNK ? (n > 0 ? n : 1) : IO_CHUNK;
  buf = malloc((size_t)chunk * eb);
  PET_CHECK_GOTO(st, buf != NULL, PET_ERR_NOMEM, out, "%s: out of host memory", path);
  PET_TRY_GOTO(st, pet_file_open_temp(path, &tmp, &f), out);
  for (int64_t i = 0; i < n; i += chunk) {
    const int64_t m = n - i < chunk ? n - i : chunk;
    for (int64_t k = 0; k < m; ++k) {
      unsigned char *e = buf + (size_t)k * eb;
      memcpy(e, &lm->time_ms[i + k], 4);
      memcpy(e + 4, &lm->d1[i + k], 4);
      memcpy(e + 8, &lm->d2[i + k], 4);
      if (lm->has_tof) memcpy(e + 12, &lm->tof_ps[i + k], 4);
    }
    PET_TRY_GOTO(st, pet_file_write(f, buf, (size_t)m * eb, path), out);
  }
  PET_TRY_GOTO(st, pet_file_commit(&f, &tmp, path), out);
out:
  pet_file_abort(&f, &tmp);
  free(buf);
  return st;
}

pet_status pet_listmode_read_yrt(pet_listmode **out, const pet_scanner *s, const char *path,
                                 bool has_tof)
{
  pet_status st = PET_OK;
  FILE *f = NULL;
  unsigned char *buf = NULL;
  pet_listmode *lm = NULL;
  int64_t bytes = 0;
  PET_CHECK(out != NULL && s != NULL && path != NULL, PET_ERR_ARG,
            "pet_listmode_read_yrt: NULL argument");
  *out = NULL;
  const size_t eb = event_bytes(has_tof);
  PET_TRY(pet_file_size(path, &bytes));
  PET_CHECK(bytes % (int64_t)eb == 0, PET_ERR_IO,
            "%s: %lld bytes is not a multiple of the %zu-byte event (time, d1, d2%s); truncated, "
            "or TOF flag wrong?",
            path, (long long)bytes, eb, has_tof ? ", tof" : "");
  const int64_t n = bytes / (int64_t)eb;
  const int64_t chunk = n < IO_CHUNK ? (n > 0 ? n : 1) : IO_CHUNK;
  PET_TRY_GOTO(st, pet_listmode_create_owned(&lm, n, has_tof), out);
  buf = malloc((size_t)chunk * eb);
  PET_CHECK_GOTO(st, buf != NULL, PET_ERR_NOMEM, out, "%s: out of host memory", path);
  PET_TRY_GOTO(st, pet_file_open_read(path, &f), out);
  for (int64_t i = 0; i < n; i += chunk) {
    const int64_t m = n - i < chunk ? n - i : chunk;
    PET_TRY_GOTO(st, pet_file_read(f, buf, (size_t)m * eb, path, "events"), out);
    for (int64_t k = 0; k < m; ++k) {
      const unsigned char *e = buf + (size_t)k * eb;
      memcpy(&lm->time_ms[i + k], e, 4);
      memcpy(&lm->d1[i + k], e + 4, 4);
      memcpy(&lm->d2[i + k], e + 8, 4);
      if (has_tof) memcpy(&lm->tof_ps[i + k], e + 12, 4);
      PET_CHECK_GOTO(st, lm->d1[i + k] < (uint64_t)s->num_dets &&
                             lm->d2[i + k] < (uint64_t)s->num_dets,
                     PET_ERR_IO, out,
                     "%s: event %lld has detectors (%u, %u); scanner %s has %lld detectors", path,
                     (long long)(i + k), lm->d1[i + k], lm->d2[i + k], s->params.name,
                     (long long)s->num_dets);
    }
  }
  *out = lm;
  lm = NULL;
out:
  if (f != NULL) fclose(f);
  free(buf);
  pet_listmode_destroy(&lm);
  return st;
}
