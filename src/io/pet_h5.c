#include "pet_h5.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>
#include <zlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "pet_comm.h"
#include "pet_fileutil.h"
#include "pet_version.h"
#ifdef PET_HDF5_PARALLEL
#include "pet_comm_mpi.h"
#endif

/* Events read at once when narrowing a time window down to one element. */
#define SEARCH_BLOCK 65536

/* ---- HDF5 error stack: silenced inside every public function, restored on the way out ---- */

typedef struct h5_quiet {
  H5E_auto2_t func;
  void *data;
} h5_quiet;

static void quiet_begin(h5_quiet *q)
{
  q->func = NULL;
  q->data = NULL;
  H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void quiet_end(const h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

static void close_id(hid_t *id)
{
  if (*id < 0) return;
  switch (H5Iget_type(*id)) {
  case H5I_FILE: H5Fclose(*id); break;
  case H5I_GROUP: H5Gclose(*id); break;
  case H5I_DATASET: H5Dclose(*id); break;
  case H5I_DATASPACE: H5Sclose(*id); break;
  case H5I_DATATYPE: H5Tclose(*id); break;
  case H5I_ATTR: H5Aclose(*id); break;
  case H5I_GENPROP_LST: H5Pclose(*id); break;
  default: break;
  }
  *id = H5I_INVALID_HID;
}

static const char *skip_slash(const char *name) { return name[0] == '/' ? name + 1 : name; }

static const char *class_name(H5T_class_t c)
{
  switch (c) {
  case H5T_INTEGER: return "integer";
  case H5T_FLOAT: return "float";
  case H5T_STRING: return "string";
  case H5T_COMPOUND: return "compound";
  default: return "other";
  }
}

/* ---- files ---- */

static pet_status open_read(const char *path, hid_t *file)
{
  struct stat sb;
  *file = H5I_INVALID_HID;
  PET_CHECK(stat(path, &sb) == 0, PET_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  PET_CHECK(S_ISREG(sb.st_mode), PET_ERR_IO, "%s: not a regular file", path);
  PET_CHECK(H5Fis_hdf5(path) > 0, PET_ERR_IO, "%s: not an HDF5 file (or its superblock is corrupt)",
            path);
  *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  PET_CHECK(*file >= 0, PET_ERR_IO, "%s: cannot open the HDF5 file (truncated or corrupt)", path);
  return PET_OK;
}

/* Creates "<path>.tmp.<pid>"; *tmp is malloc'd. */
static pet_status create_temp(const char *path, char **tmp, hid_t *file)
{
  pet_status st = PET_OK;
  size_t cap = strlen(path) + 32;
  hid_t fapl = H5I_INVALID_HID;
  *file = H5I_INVALID_HID;
  *tmp = malloc(cap);
  PET_CHECK(*tmp != NULL, PET_ERR_NOMEM, "%s: out of memory", path);
  snprintf(*tmp, cap, "%s.tmp.%ld", path, (long)getpid());
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  /* STRONG: H5Fclose closes anything left open, so the file is complete when it returns. */
  if (fapl >= 0) H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  *file = H5Fcreate(*tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl >= 0 ? fapl : H5P_DEFAULT);
  PET_CHECK_GOTO(st, *file >= 0, PET_ERR_IO, out, "%s: cannot create the temporary file %s: %s",
                 path, *tmp, strerror(errno));
  pet_file_temp_register(*tmp); /* removed by the signal handler of the petrel command */
out:
  close_id(&fapl);
  return st;
}

/* Closes the file; on success renames the temporary over path, else removes it. */
static pet_status finish_write(const char *path, char **tmp, hid_t *file, pet_status st)
{
  if (*file >= 0) {
    herr_t err = H5Fclose(*file);
    *file = H5I_INVALID_HID;
    if (st == PET_OK && err < 0)
      st = PET_ERROR(PET_ERR_IO, "%s: closing (flushing) %s failed", path, *tmp);
  }
  if (*tmp) {
    if (st == PET_OK && rename(*tmp, path) != 0)
      st = PET_ERROR(PET_ERR_IO, "%s: cannot rename %s to it: %s", path, *tmp, strerror(errno));
    if (st != PET_OK) remove(*tmp);
    pet_file_temp_unregister(*tmp);
    free(*tmp);
    *tmp = NULL;
  }
  return st;
}

/* H5Lexists needs every parent to exist: check "a/b/c" one component at a time. */
static bool link_exists(hid_t loc, const char *name)
{
  char buf[256];
  size_t n = strlen(name);
  if (n == 0 || n >= sizeof buf) return false;
  memcpy(buf, name, n + 1);
  for (size_t i = 0; i <= n; ++i) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char c = buf[i];
    buf[i] = '\0';
    if (i > 0 && H5Lexists(loc, buf, H5P_DEFAULT) <= 0) return false;
    buf[i] = c;
  }
  return true;
}

/* ---- attributes ---- */

static pet_status attr_put(const char *path, hid_t file, const char *obj, const char *name,
                           hid_t file_type, hid_t mem_type, const void *value)
{
  pet_status st = PET_OK;
  hid_t space = H5Screate(H5S_SCALAR), attr = H5I_INVALID_HID;
  attr = space >= 0 ? H5Acreate_by_name(file, obj, name, file_type, space, H5P_DEFAULT,
                                        H5P_DEFAULT, H5P_DEFAULT)
                    : H5I_INVALID_HID;
  PET_CHECK_GOTO(st, attr >= 0 && H5Awrite(attr, mem_type, value) >= 0, PET_ERR_IO, out,
                 "%s: cannot write attribute %s of %s", path, name, obj);
out:
  close_id(&attr);
  close_id(&space);
  return st;
}

static pet_status attr_put_str(const char *path, hid_t file, const char *obj, const char *name,
                               const char *value)
{
  pet_status st = PET_OK;
  hid_t type = H5Tcopy(H5T_C_S1);
  PET_CHECK_GOTO(st, type >= 0 && H5Tset_size(type, strlen(value) + 1) >= 0 &&
                         H5Tset_strpad(type, H5T_STR_NULLTERM) >= 0,
                 PET_ERR_IO, out, "%s: cannot make a string type for %s", path, name);
  st = attr_put(path, file, obj, name, type, type, value);
out:
  close_id(&type);
  return st;
}

static pet_status attr_open(const char *path, hid_t file, const char *obj, const char *name,
                            hid_t *attr)
{
  *attr = H5I_INVALID_HID;
  PET_CHECK(H5Aexists_by_name(file, obj, name, H5P_DEFAULT) > 0, PET_ERR_IO,
            "%s: %s has no attribute %s", path, obj, name);
  *attr = H5Aopen_by_name(file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
  PET_CHECK(*attr >= 0, PET_ERR_IO, "%s: cannot open attribute %s of %s", path, obj, name);
  return PET_OK;
}

/* A scalar numeric attribute of class cls, converted to mem_type by HDF5. */
static pet_status attr_get(const char *path, hid_t file, const char *obj, const char *name,
                           H5T_class_t cls, hid_t mem_type, void *value)
{
  pet_status st = PET_OK;
  hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID;
  PET_TRY_GOTO(st, attr_open(path, file, obj, name, &attr), out);
  type = H5Aget_type(attr);
  space = H5Aget_space(attr);
  H5T_class_t got = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  PET_CHECK_GOTO(st, got == cls, PET_ERR_IO, out,
                 "%s: attribute %s of %s is of type %s, expected %s",
                 path, name, obj, class_name(got), class_name(cls));
  PET_CHECK_GOTO(st, space >= 0 && H5Sget_simple_extent_npoints(space) == 1, PET_ERR_IO, out,
                 "%s: attribute %s of %s is not a single value", path, name, obj);
  PET_CHECK_GOTO(st, H5Aread(attr, mem_type, value) >= 0, PET_ERR_IO, out,
                 "%s: cannot read attribute %s of %s (value out of range?)", path, name, obj);
out:
  close_id(&space);
  close_id(&type);
  close_id(&attr);
  return st;
}

/* A string attribute (fixed or variable length) into buf[len], truncated, NUL-terminated. */
static pet_status attr_get_str(const char *path, hid_t file, const char *obj, const char *name,
                               char *buf, size_t len)
{
  pet_status st = PET_OK;
  hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID, mem = H5I_INVALID_HID;
  char *fixed = NULL, *var = NULL;
  PET_TRY_GOTO(st, attr_open(path, file, obj, name, &attr), out);
  type = H5Aget_type(attr);
  PET_CHECK_GOTO(st, type >= 0 && H5Tget_class(type) == H5T_STRING, PET_ERR_IO, out,
                 "%s: attribute %s of %s is not a string", path, name, obj);
  const char *s = NULL;
  if (H5Tis_variable_str(type) > 0) {
    mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    PET_CHECK_GOTO(st, H5Aread(attr, mem, &var) >= 0, PET_ERR_IO, out,
                   "%s: cannot read attribute %s of %s", path, name, obj);
    s = var ? var : "";
  } else {
    size_t size = H5Tget_size(type);
    fixed = calloc(size + 1, 1);
    PET_CHECK_GOTO(st, fixed != NULL, PET_ERR_NOMEM, out, "%s: out of memory", path);
    mem = H5Tcopy(type);
    PET_CHECK_GOTO(st, H5Aread(attr, mem, fixed) >= 0, PET_ERR_IO, out,
                   "%s: cannot read attribute %s of %s", path, name, obj);
    s = fixed;
  }
  if (buf && len > 0) snprintf(buf, len, "%s", s);
out:
  if (var) H5free_memory(var);
  free(fixed);
  close_id(&mem);
  close_id(&type);
  close_id(&attr);
  return st;
}

static pet_status write_common_attrs(const char *path, hid_t file, const char *content)
{
  PET_TRY(attr_put_str(path, file, "/", "petrel_content", content));
  return attr_put_str(path, file, "/", "petrel_version", PETREL_VERSION);
}

/* ---- datasets ---- */

/* A new 1D dataset of n elements (chunked by `chunk`, contiguous when empty), written whole. */
static pet_status write_1d(const char *path, hid_t file, const char *name, hid_t file_type,
                           hid_t mem_type, int64_t n, int64_t chunk, const void *data)
{
  pet_status st = PET_OK;
  hsize_t dims[1] = {(hsize_t)n};
  hid_t space = H5Screate_simple(1, dims, NULL);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hid_t dset = H5I_INVALID_HID;
  PET_CHECK_GOTO(st, space >= 0 && lcpl >= 0 && dcpl >= 0, PET_ERR_IO, out,
                 "%s: cannot set up dataset %s", path, name);
  H5Pset_create_intermediate_group(lcpl, 1);
  if (n > 0) {
    hsize_t cdims[1] = {(hsize_t)(n < chunk ? n : chunk)};
    H5Pset_chunk(dcpl, 1, cdims);
  }
  dset = H5Dcreate2(file, name, file_type, space, lcpl, dcpl, H5P_DEFAULT);
  PET_CHECK_GOTO(st, dset >= 0, PET_ERR_IO, out, "%s: cannot create dataset %s", path, name);
  if (n > 0)
    PET_CHECK_GOTO(st, H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0,
                   PET_ERR_IO, out, "%s: cannot write dataset %s", path, name);
out:
  close_id(&dset);
  close_id(&dcpl);
  close_id(&lcpl);
  close_id(&space);
  return st;
}

/* Opens a dataset of class cls and the given rank; dims may be NULL. */
static pet_status open_dataset(const char *path, hid_t file, const char *name, H5T_class_t cls,
                               int rank, hid_t *dset, hsize_t *dims)
{
  pet_status st = PET_OK;
  hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID;
  *dset = H5I_INVALID_HID;
  PET_CHECK(link_exists(file, skip_slash(name)), PET_ERR_IO, "%s: no dataset /%s", path,
            skip_slash(name));
  *dset = H5Dopen2(file, name, H5P_DEFAULT);
  PET_CHECK(*dset >= 0, PET_ERR_IO, "%s: cannot open dataset /%s (not a dataset, or corrupt)",
            path, skip_slash(name));
  type = H5Dget_type(*dset);
  space = H5Dget_space(*dset);
  H5T_class_t got = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  PET_CHECK_GOTO(st, got == cls, PET_ERR_IO, out, "%s: dataset /%s is of type %s, expected %s",
                 path, skip_slash(name), class_name(got), class_name(cls));
  int got_rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  PET_CHECK_GOTO(st, got_rank == rank, PET_ERR_IO, out,
                 "%s: dataset /%s has %d dimensions, expected %d", path, skip_slash(name),
                 got_rank, rank);
  if (dims) H5Sget_simple_extent_dims(space, dims, NULL);
out:
  close_id(&space);
  close_id(&type);
  if (st != PET_OK) close_id(dset);
  return st;
}

static pet_status dataset_length(const char *path, hid_t file, const char *name,
                                 H5T_class_t cls, int64_t *n)
{
  hid_t dset;
  hsize_t dims[1];
  PET_TRY(open_dataset(path, file, name, cls, 1, &dset, dims));
  close_id(&dset);
  *n = (int64_t)dims[0];
  return PET_OK;
}

/* Reads [first, first + count) of a 1D dataset as a hyperslab. */
static pet_status read_range(const char *path, hid_t dset, const char *name, hid_t mem_type,
                             int64_t first, int64_t count, void *out_buf)
{
  pet_status st = PET_OK;
  hid_t fspace = H5Dget_space(dset), mspace = H5I_INVALID_HID;
  hsize_t n = 0;
  if (fspace >= 0) H5Sget_simple_extent_dims(fspace, &n, NULL);
  PET_CHECK_GOTO(st, first >= 0 && count >= 0 && first + count <= (int64_t)n, PET_ERR_IO, out,
                 "%s: dataset /%s has %llu elements; the range [%lld, %lld) is beyond it", path,
                 skip_slash(name), (unsigned long long)n, (long long)first,
                 (long long)(first + count));
  if (count == 0) goto out;
  hsize_t start[1] = {(hsize_t)first}, cnt[1] = {(hsize_t)count};
  mspace = H5Screate_simple(1, cnt, NULL);
  PET_CHECK_GOTO(st, mspace >= 0 &&
                         H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) >= 0 &&
                         H5Dread(dset, mem_type, mspace, fspace, H5P_DEFAULT, out_buf) >= 0,
                 PET_ERR_IO, out, "%s: cannot read dataset /%s [%lld, %lld) (truncated or corrupt)",
                 path, skip_slash(name), (long long)first, (long long)(first + count));
out:
  close_id(&mspace);
  close_id(&fspace);
  return st;
}

static pet_status read_dataset_range(const char *path, hid_t file, const char *name,
                                     H5T_class_t cls, hid_t mem_type, int64_t first,
                                     int64_t count, void *out_buf)
{
  hid_t dset;
  PET_TRY(open_dataset(path, file, name, cls, 1, &dset, NULL));
  pet_status st = read_range(path, dset, name, mem_type, first, count, out_buf);
  close_id(&dset);
  return st;
}

/* ---- histograms ---- */

static const char *const corr_names[4] = {"corrections/normalisation", "corrections/attenuation",
                                          "corrections/randoms", "corrections/scatter"};

static int64_t tof_factor(const pet_h5_tof_info *tof)
{
  return tof && tof->num_tof_bins > 0 ? tof->num_tof_bins : 1;
}

static pet_status write_histogram(const char *path, const char *scanner_name, int64_t num_bins,
                                  const pet_h5_tof_info *tof, const float *values,
                                  const pet_h5_corrections *corr)
{
  pet_status st = PET_OK;
  char *tmp = NULL;
  hid_t file = H5I_INVALID_HID;
  PET_CHECK(path && values, PET_ERR_ARG, "pet_h5_write_histogram: NULL path or values");
  PET_CHECK(num_bins >= 1, PET_ERR_ARG, "%s: num_bins = %lld, must be >= 1", path,
            (long long)num_bins);
  if (tof && tof->num_tof_bins != 0) {
    PET_CHECK(tof->num_tof_bins >= 1 && tof->num_tof_bins <= 64, PET_ERR_ARG,
              "%s: num_tof_bins = %d, must be in [1, 64]", path, (int)tof->num_tof_bins);
    PET_CHECK(isfinite(tof->tof_bin_width_ps) && tof->tof_bin_width_ps > 0.0f, PET_ERR_ARG,
              "%s: tof_bin_width_ps = %g, must be > 0", path, (double)tof->tof_bin_width_ps);
  }
  const int64_t T = tof_factor(tof);
  const float *corr_data[4] = {NULL, NULL, NULL, NULL};
  if (corr) {
    corr_data[0] = corr->normalisation;
    corr_data[1] = corr->attenuation;
    corr_data[2] = corr->randoms;
    corr_data[3] = corr->scatter;
  }
  PET_TRY_GOTO(st, create_temp(path, &tmp, &file), out);
  PET_TRY_GOTO(st, write_common_attrs(path, file, "histogram"), out);
  PET_TRY_GOTO(st, write_1d(path, file, "histogram", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                            num_bins * T, PET_H5_CHUNK_ELEMS, values),
               out);
  if (tof && tof->num_tof_bins > 0) {
    const int32_t nt = tof->num_tof_bins;
    PET_TRY_GOTO(st, attr_put(path, file, "histogram", "num_tof_bins", H5T_STD_I32LE,
                              H5T_NATIVE_INT32, &nt),
                 out);
    PET_TRY_GOTO(st, attr_put(path, file, "histogram", "tof_bin_width_ps", H5T_IEEE_F32LE,
                              H5T_NATIVE_FLOAT, &tof->tof_bin_width_ps),
                 out);
  }
  PET_TRY_GOTO(st, attr_put_str(path, file, "histogram", "units", "counts"), out);
  PET_TRY_GOTO(st, attr_put_str(path, file, "histogram", "scanner_name",
                                scanner_name ? scanner_name : ""),
               out);
  PET_TRY_GOTO(st, attr_put(path, file, "histogram", "num_bins", H5T_STD_I64LE, H5T_NATIVE_INT64,
                            &num_bins),
               out);
  PET_TRY_GOTO(st, attr_put_str(path, file, "histogram", "bin_order", PET_H5_BIN_ORDER), out);
  PET_TRY_GOTO(st, attr_put_str(path, file, "histogram", "petrel_version", PETREL_VERSION), out);
  for (int c = 0; c < 4; ++c)
    if (corr_data[c]) {
      const bool per_tof = tof && (tof->corr_per_tof_bin >> c) & 1u;
      PET_TRY_GOTO(st, write_1d(path, file, corr_names[c], H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                                per_tof ? num_bins * T : num_bins, PET_H5_CHUNK_ELEMS,
                                corr_data[c]),
                   out);
    }
out:
  return finish_write(path, &tmp, &file, st);
}

static pet_status histogram_info(const char *path, int64_t *num_bins, char *scanner_name,
                                 size_t len, unsigned *which, pet_h5_tof_info *tof)
{
  pet_status st = PET_OK;
  hid_t file = H5I_INVALID_HID;
  char order[64];
  int64_t n = 0, attr_n = 0;
  pet_h5_tof_info ti;
  memset(&ti, 0, sizeof ti);
  PET_CHECK(path && num_bins, PET_ERR_ARG, "pet_h5_histogram_info: NULL argument");
  PET_TRY_GOTO(st, open_read(path, &file), out);
  PET_TRY_GOTO(st, dataset_length(path, file, "histogram", H5T_FLOAT, &n), out);
  PET_TRY_GOTO(st, attr_get(path, file, "histogram", "num_bins", H5T_INTEGER, H5T_NATIVE_INT64,
                            &attr_n),
               out);
  if (H5Aexists_by_name(file, "histogram", "num_tof_bins", H5P_DEFAULT) > 0) {
    PET_TRY_GOTO(st, attr_get(path, file, "histogram", "num_tof_bins", H5T_INTEGER,
                              H5T_NATIVE_INT32, &ti.num_tof_bins),
                 out);
    PET_CHECK_GOTO(st, ti.num_tof_bins >= 1 && ti.num_tof_bins <= 64, PET_ERR_IO, out,
                   "%s: attribute num_tof_bins of /histogram is %d, must be in [1, 64]", path,
                   (int)ti.num_tof_bins);
    PET_TRY_GOTO(st, attr_get(path, file, "histogram", "tof_bin_width_ps", H5T_FLOAT,
                              H5T_NATIVE_FLOAT, &ti.tof_bin_width_ps),
                 out);
    PET_CHECK_GOTO(st, isfinite(ti.tof_bin_width_ps) && ti.tof_bin_width_ps > 0.0f, PET_ERR_IO,
                   out, "%s: attribute tof_bin_width_ps of /histogram is %g, must be > 0", path,
                   (double)ti.tof_bin_width_ps);
  }
  const int64_t T = tof_factor(&ti);
  PET_CHECK_GOTO(st, attr_n >= 0 && attr_n * T == n, PET_ERR_IO, out,
                 "%s: /histogram has %lld elements but its attributes num_bins = %lld and "
                 "num_tof_bins = %d",
                 path, (long long)n, (long long)attr_n, (int)ti.num_tof_bins);
  n = attr_n;
  PET_TRY_GOTO(st, attr_get_str(path, file, "histogram", "bin_order", order, sizeof order), out);
  PET_CHECK_GOTO(st, strcmp(order, PET_H5_BIN_ORDER) == 0, PET_ERR_IO, out,
                 "%s: /histogram has bin_order \"%s\"; this petrel reads \"%s\"", path, order,
                 PET_H5_BIN_ORDER);
  if (scanner_name)
    PET_TRY_GOTO(st, attr_get_str(path, file, "histogram", "scanner_name", scanner_name, len),
                 out);
  unsigned bits = 0;
  for (int c = 0; c < 4; ++c) {
    if (!link_exists(file, corr_names[c])) continue;
    int64_t nc = 0;
    PET_TRY_GOTO(st, dataset_length(path, file, corr_names[c], H5T_FLOAT, &nc), out);
    PET_CHECK_GOTO(st, nc == n || (T > 1 && nc == n * T), PET_ERR_IO, out,
                   "%s: dataset /%s has %lld elements, /histogram has %lld bins%s", path,
                   corr_names[c], (long long)nc, (long long)n,
                   T > 1 ? " (per bin, or per bin and TOF bin)" : "");
    bits |= 1u << c;
    if (T > 1 && nc == n * T) ti.corr_per_tof_bin |= 1u << c;
  }
  *num_bins = n;
  if (which) *which = bits;
  if (tof) *tof = ti;
out:
  close_id(&file);
  return st;
}

static pet_status read_histogram_range(const char *path, const char *dataset, int64_t first,
                                       int64_t count, float *out_buf)
{
  pet_status st = PET_OK;
  hid_t file = H5I_INVALID_HID;
  PET_CHECK(path && dataset && (out_buf || count == 0), PET_ERR_ARG,
            "pet_h5_read_histogram_range: NULL argument");
  PET_CHECK(first >= 0 && count >= 0, PET_ERR_ARG, "%s: bad range first = %lld, count = %lld",
            path, (long long)first, (long long)count);
  PET_TRY_GOTO(st, open_read(path, &file), out);
  PET_TRY_GOTO(st, read_dataset_range(path, file, skip_slash(dataset), H5T_FLOAT,
                                      H5T_NATIVE_FLOAT, first, count, out_buf),
               out);
out:
  close_id(&file);
  return st;
}

/* ---- list-mode ---- */

static pet_status write_listmode(const char *path, const char *scanner_name, int64_t n,
                                 const uint32_t *t, const uint32_t *d1, const uint32_t *d2,
                                 const float *tof, uint32_t index_ms)
{
  pet_status st = PET_OK;
  char *tmp = NULL;
  hid_t file = H5I_INVALID_HID, group = H5I_INVALID_HID;
  int64_t *index = NULL;
  PET_CHECK(path, PET_ERR_ARG, "pet_h5_write_listmode: NULL path");
  PET_CHECK(n >= 0 && (n == 0 || (t && d1 && d2)), PET_ERR_ARG,
            "%s: list-mode needs n >= 0 and non-NULL time, d1, d2 arrays", path);
  PET_CHECK(index_ms >= 1, PET_ERR_ARG, "%s: index_ms must be >= 1", path);
  for (int64_t i = 1; i < n; ++i)
    PET_CHECK(t[i] >= t[i - 1], PET_ERR_ARG,
              "%s: list-mode events must be sorted by time: event %lld has time %" PRIu32
              " ms, before event %lld at %" PRIu32 " ms",
              path, (long long)i, t[i], (long long)(i - 1), t[i - 1]);
  /* time_index[k] = first event with t >= k * index_ms, k = 0 .. num_windows; last = n */
  int64_t num_windows = n > 0 ? (int64_t)(t[n - 1] / index_ms) + 1 : 0;
  index = malloc((size_t)(num_windows + 1) * sizeof *index);
  PET_CHECK(index != NULL, PET_ERR_NOMEM, "%s: out of memory for the time index", path);
  for (int64_t k = 0, i = 0; k <= num_windows; ++k) {
    uint64_t start = (uint64_t)k * index_ms;
    while (i < n && (uint64_t)t[i] < start) ++i;
    index[k] = k == num_windows ? n : i;
  }

  PET_TRY_GOTO(st, create_temp(path, &tmp, &file), out);
  PET_TRY_GOTO(st, write_common_attrs(path, file, "listmode"), out);
  group = H5Gcreate2(file, "listmode", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PET_CHECK_GOTO(st, group >= 0, PET_ERR_IO, out, "%s: cannot create group /listmode", path);
  close_id(&group);
  PET_TRY_GOTO(st, attr_put_str(path, file, "listmode", "scanner_name",
                                scanner_name ? scanner_name : ""),
               out);
  PET_TRY_GOTO(st, attr_put(path, file, "listmode", "num_events", H5T_STD_I64LE,
                            H5T_NATIVE_INT64, &n),
               out);
  PET_TRY_GOTO(st, attr_put_str(path, file, "listmode", "units", "time_ms: ms, tof_ps: ps"), out);
  PET_TRY_GOTO(st, attr_put_str(path, file, "listmode", "petrel_version", PETREL_VERSION), out);
  PET_TRY_GOTO(st, write_1d(path, file, "listmode/time_ms", H5T_STD_U32LE, H5T_NATIVE_UINT32, n,
                            PET_H5_CHUNK_ELEMS, t),
               out);
  PET_TRY_GOTO(st, write_1d(path, file, "listmode/d1", H5T_STD_U32LE, H5T_NATIVE_UINT32, n,
                            PET_H5_CHUNK_ELEMS, d1),
               out);
  PET_TRY_GOTO(st, write_1d(path, file, "listmode/d2", H5T_STD_U32LE, H5T_NATIVE_UINT32, n,
                            PET_H5_CHUNK_ELEMS, d2),
               out);
  if (tof)
    PET_TRY_GOTO(st, write_1d(path, file, "listmode/tof_ps", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, n,
                              PET_H5_CHUNK_ELEMS, tof),
                 out);
  PET_TRY_GOTO(st, write_1d(path, file, "listmode/time_index", H5T_STD_I64LE, H5T_NATIVE_INT64,
                            num_windows + 1, PET_H5_CHUNK_ELEMS, index),
               out);
  PET_TRY_GOTO(st, attr_put(path, file, "listmode/time_index", "index_ms", H5T_STD_U32LE,
                            H5T_NATIVE_UINT32, &index_ms),
               out);
out:
  free(index);
  close_id(&group);
  return finish_write(path, &tmp, &file, st);
}

static const char *const event_names[4] = {"listmode/time_ms", "listmode/d1", "listmode/d2",
                                           "listmode/tof_ps"};

static pet_status listmode_check(const char *path, hid_t file, int64_t *n, bool *has_tof)
{
  PET_TRY(dataset_length(path, file, event_names[0], H5T_INTEGER, n));
  *has_tof = link_exists(file, event_names[3]);
  for (int a = 1; a < (*has_tof ? 4 : 3); ++a) {
    int64_t m = 0;
    PET_TRY(dataset_length(path, file, event_names[a], a == 3 ? H5T_FLOAT : H5T_INTEGER, &m));
    PET_CHECK(m == *n, PET_ERR_IO, "%s: dataset /%s has %lld elements, /%s has %lld", path,
              event_names[a], (long long)m, event_names[0], (long long)*n);
  }
  return PET_OK;
}

static pet_status listmode_info(const char *path, int64_t *n, bool *has_tof, char *scanner,
                                size_t len)
{
  pet_status st = PET_OK;
  hid_t file = H5I_INVALID_HID;
  int64_t count = 0;
  bool tof = false;
  PET_CHECK(path, PET_ERR_ARG, "pet_h5_listmode_info: NULL path");
  PET_TRY_GOTO(st, open_read(path, &file), out);
  PET_TRY_GOTO(st, listmode_check(path, file, &count, &tof), out);
  if (scanner)
    PET_TRY_GOTO(st, attr_get_str(path, file, "listmode", "scanner_name", scanner, len), out);
  if (n) *n = count;
  if (has_tof) *has_tof = tof;
out:
  close_id(&file);
  return st;
}

/* Index of the first event with time >= t, using the index and a search in one window. */
static pet_status lower_bound(const char *path, hid_t times, hid_t index, int64_t num_windows,
                              uint32_t index_ms, int64_t n, uint32_t t, int64_t *pos)
{
  pet_status st = PET_OK;
  uint32_t *block = NULL;
  int64_t k = (int64_t)(t / index_ms);
  if (k >= num_windows) {
    *pos = n;
    return PET_OK;
  }
  int64_t bounds[2];
  PET_TRY(read_range(path, index, "listmode/time_index", H5T_NATIVE_INT64, k, 2, bounds));
  int64_t lo = bounds[0], hi = bounds[1];
  PET_CHECK(0 <= lo && lo <= hi && hi <= n, PET_ERR_IO,
            "%s: dataset /listmode/time_index is corrupt (window %lld: [%lld, %lld) of %lld "
            "events)",
            path, (long long)k, (long long)lo, (long long)hi, (long long)n);
  /* Events [lo, hi) have k*index_ms <= time < (k+1)*index_ms: bisect down to one block. */
  while (hi - lo > SEARCH_BLOCK) {
    int64_t mid = lo + (hi - lo) / 2;
    uint32_t v;
    PET_TRY(read_range(path, times, event_names[0], H5T_NATIVE_UINT32, mid, 1, &v));
    if (v < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (hi > lo) {
    block = malloc((size_t)(hi - lo) * sizeof *block);
    PET_CHECK(block != NULL, PET_ERR_NOMEM, "%s: out of memory", path);
    PET_TRY_GOTO(st, read_range(path, times, event_names[0], H5T_NATIVE_UINT32, lo, hi - lo, block),
                 out);
    int64_t a = 0, b = hi - lo;
    while (a < b) {
      int64_t mid = a + (b - a) / 2;
      if (block[mid] < t)
        a = mid + 1;
      else
        b = mid;
    }
    lo += a;
  }
  *pos = lo;
out:
  free(block);
  return st;
}

static pet_status listmode_find_window(const char *path, uint32_t t0, uint32_t t1,
                                       int64_t *first, int64_t *count)
{
  pet_status st = PET_OK;
  hid_t file = H5I_INVALID_HID, times = H5I_INVALID_HID, index = H5I_INVALID_HID;
  hsize_t tdims[1], idims[1];
  uint32_t index_ms = 0;
  int64_t a = 0, b = 0;
  PET_CHECK(path && first && count, PET_ERR_ARG, "pet_h5_listmode_find_window: NULL argument");
  PET_TRY_GOTO(st, open_read(path, &file), out);
  PET_TRY_GOTO(st, open_dataset(path, file, event_names[0], H5T_INTEGER, 1, &times, tdims), out);
  PET_TRY_GOTO(st, open_dataset(path, file, "listmode/time_index", H5T_INTEGER, 1, &index, idims),
               out);
  PET_TRY_GOTO(st, attr_get(path, file, "listmode/time_index", "index_ms", H5T_INTEGER,
                            H5T_NATIVE_UINT32, &index_ms),
               out);
  PET_CHECK_GOTO(st, index_ms >= 1 && idims[0] >= 1, PET_ERR_IO, out,
                 "%s: /listmode/time_index is corrupt (index_ms = %" PRIu32 ", %llu entries)",
                 path, index_ms, (unsigned long long)idims[0]);
  int64_t n = (int64_t)tdims[0], num_windows = (int64_t)idims[0] - 1;
  if (t1 > t0) {
    PET_TRY_GOTO(st, lower_bound(path, times, index, num_windows, index_ms, n, t0, &a), out);
    PET_TRY_GOTO(st, lower_bound(path, times, index, num_windows, index_ms, n, t1, &b), out);
  }
  *first = a;
  *count = b > a ? b - a : 0;
out:
  close_id(&index);
  close_id(&times);
  close_id(&file);
  return st;
}

/* Streams /listmode/time_ms in blocks: sorted, and /listmode/time_index (if any) agreeing with
 * it (index[k] = first event with time >= k * index_ms). */
static pet_status listmode_check_times(const char *path, int64_t *first_unsorted)
{
  pet_status st = PET_OK;
  hid_t file = H5I_INVALID_HID, times = H5I_INVALID_HID, index = H5I_INVALID_HID;
  hsize_t tdims[1], idims[1] = {0};
  uint32_t index_ms = 0, prev = 0, *block = NULL;
  int64_t *idx = NULL, k = 0, num_windows = 0, bad_k = -1, bad_at = -1;
  const int64_t B = (int64_t)1 << 20;
  if (first_unsorted) *first_unsorted = -1;
  PET_TRY_GOTO(st, open_read(path, &file), out);
  PET_TRY_GOTO(st, open_dataset(path, file, event_names[0], H5T_INTEGER, 1, &times, tdims), out);
  const int64_t n = (int64_t)tdims[0];
  const bool has_index = link_exists(file, "listmode/time_index");
  if (has_index) {
    PET_TRY_GOTO(st, open_dataset(path, file, "listmode/time_index", H5T_INTEGER, 1, &index, idims), out);
    PET_TRY_GOTO(st, attr_get(path, file, "listmode/time_index", "index_ms", H5T_INTEGER, H5T_NATIVE_UINT32,
                              &index_ms),
                 out);
    PET_CHECK_GOTO(st, index_ms >= 1 && idims[0] >= 1 && idims[0] <= ((hsize_t)1 << 32), PET_ERR_IO, out,
                   "%s: /listmode/time_index is corrupt (index_ms = %" PRIu32 ", %llu entries)", path, index_ms,
                   (unsigned long long)idims[0]);
    num_windows = (int64_t)idims[0] - 1;
    idx = malloc((size_t)idims[0] * sizeof *idx);
    PET_CHECK_GOTO(st, idx != NULL, PET_ERR_NOMEM, out, "%s: out of memory for the time index", path);
    PET_TRY_GOTO(st, read_range(path, index, "listmode/time_index", H5T_NATIVE_INT64, 0, (int64_t)idims[0], idx),
                 out);
  }
  block = malloc((size_t)(n < B ? (n > 0 ? n : 1) : B) * sizeof *block);
  PET_CHECK_GOTO(st, block != NULL, PET_ERR_NOMEM, out, "%s: out of memory", path);
  for (int64_t i0 = 0; i0 < n; i0 += B) {
    const int64_t cnt = n - i0 < B ? n - i0 : B;
    PET_TRY_GOTO(st, read_range(path, times, event_names[0], H5T_NATIVE_UINT32, i0, cnt, block), out);
    for (int64_t j = 0; j < cnt; ++j) {
      const int64_t i = i0 + j;
      if (i > 0 && block[j] < prev) {
        if (first_unsorted) *first_unsorted = i;
        PET_CHECK_GOTO(st, false, PET_ERR_IO, out,
                       "%s: /listmode/time_ms is not sorted: event %lld at %" PRIu32 " ms follows event %lld at "
                       "%" PRIu32 " ms",
                       path, (long long)i, block[j], (long long)(i - 1), prev);
      }
      prev = block[j];
      /* every window starting at or before this event's time begins at this event; the
       * first mismatch is reported after the whole column (unsorted times explain it better) */
      for (; has_index && k < num_windows && (uint64_t)k * index_ms <= block[j]; ++k)
        if (idx[k] != i && bad_k < 0) {
          bad_k = k;
          bad_at = i;
        }
    }
  }
  for (; has_index && k <= num_windows; ++k)
    if (idx[k] != n && bad_k < 0) {
      bad_k = k;
      bad_at = n;
    }
  /* the index must also reach the last event's window */
  PET_CHECK_GOTO(st, !has_index || n == 0 || (uint64_t)prev < (uint64_t)num_windows * index_ms, PET_ERR_IO, out,
                 "%s: /listmode/time_index does not match /listmode/time_ms (its %lld windows of %" PRIu32
                 " ms end before the last event, at %" PRIu32 " ms): rewrite the file with petrel convert",
                 path, (long long)num_windows, index_ms, prev);
  PET_CHECK_GOTO(st, bad_k < 0, PET_ERR_IO, out,
                 "%s: /listmode/time_index does not match /listmode/time_ms (window %lld starts at event %lld, "
                 "the times say %lld): rewrite the file with petrel convert",
                 path, (long long)bad_k, (long long)idx[bad_k], (long long)bad_at);
out:
  free(block);
  free(idx);
  close_id(&index);
  close_id(&times);
  close_id(&file);
  return st;
}

static pet_status read_listmode_range(const char *path, int64_t first, int64_t count,
                                      uint32_t *t, uint32_t *d1, uint32_t *d2, float *tof)
{
  pet_status st = PET_OK;
  hid_t file = H5I_INVALID_HID;
  int64_t n = 0;
  bool has_tof = false;
  PET_CHECK(path, PET_ERR_ARG, "pet_h5_read_listmode_range: NULL path");
  PET_TRY_GOTO(st, open_read(path, &file), out);
  PET_TRY_GOTO(st, listmode_check(path, file, &n, &has_tof), out);
  PET_CHECK_GOTO(st, first >= 0 && count >= 0 && first + count <= n, PET_ERR_ARG, out,
                 "%s: events [%lld, %lld) asked of a file with %lld events", path,
                 (long long)first, (long long)(first + count), (long long)n);
  PET_CHECK_GOTO(st, !tof || has_tof, PET_ERR_ARG, out,
                 "%s: TOF asked for, but the file has no dataset /listmode/tof_ps", path);
  void *outs[4] = {t, d1, d2, tof};
  for (int a = 0; a < 4; ++a)
    if (outs[a])
      PET_TRY_GOTO(st, read_dataset_range(path, file, event_names[a],
                                          a == 3 ? H5T_FLOAT : H5T_INTEGER,
                                          a == 3 ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT32, first,
                                          count, outs[a]),
                   out);
out:
  close_id(&file);
  return st;
}

/* ---- list-mode written in pieces ---- */

struct pet_h5_lm_writer {
  char *path, *tmp;
  hid_t file;
  hid_t dset[4]; /* time_ms, d1, d2, tof_ps (the last only with TOF) */
  bool has_tof;
  uint32_t index_ms, last_t;
  int64_t n;                 /* events appended */
  int64_t *index;            /* time_index[0 .. num_windows) so far */
  int64_t num_windows, cap;  /* windows started (the next one starts at num_windows * index_ms) */
  /* deflated files: whole chunks are shuffled and compressed here, on every thread, and
   * written as they are (H5Dwrite_chunk): HDF5's own filter runs on one thread */
  int level;
  int64_t chunk;             /* elements a chunk */
  int64_t batch;             /* chunks staged a column before they are compressed */
  int64_t staged;            /* elements staged a column (< batch * chunk) */
  int64_t flushed;           /* elements already in the file */
  uint32_t *stage[4];        /* batch * chunk elements a column (all columns are 4 bytes) */
  unsigned char *shuf;       /* batch * ncols shuffled chunks */
  unsigned char *zbuf;       /* batch * ncols compressed chunks of zcap bytes */
  uLongf *zlen;              /* their sizes */
  uLong zcap;
};

/* An empty, extendible 1D dataset chunked by chunk elements, deflated when level > 0 (the
 * bytes shuffled first: times and ids compress far better that way). */
static pet_status create_extendible(const char *path, hid_t file, const char *name, hid_t file_type,
                                    int64_t chunk, int level, hid_t *dset)
{
  pet_status st = PET_OK;
  hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, cdims[1] = {(hsize_t)chunk};
  hid_t space = H5Screate_simple(1, dims, maxdims);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE), dapl = H5I_INVALID_HID;
  PET_CHECK_GOTO(st, space >= 0 && lcpl >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 1, cdims) >= 0, PET_ERR_IO, out,
                 "%s: cannot set up dataset %s", path, name);
  H5Pset_create_intermediate_group(lcpl, 1);
  if (level > 0)
    PET_CHECK_GOTO(st, H5Pset_shuffle(dcpl) >= 0 && H5Pset_deflate(dcpl, (unsigned)level) >= 0, PET_ERR_IO, out,
                   "%s: cannot set deflate level %d on dataset %s", path, level, name);
  /* a cache that holds two chunks: appends that end inside a chunk (a sampling chunk that is
   * not a multiple of it) complete it in memory instead of rewriting (and recompressing) it */
  dapl = H5Pcreate(H5P_DATASET_ACCESS);
  const size_t cache = (size_t)chunk * 8 > ((size_t)1 << 20) ? (size_t)chunk * 8 : ((size_t)1 << 20);
  if (dapl >= 0) H5Pset_chunk_cache(dapl, 521, cache, 1.0);
  *dset = H5Dcreate2(file, name, file_type, space, lcpl, dcpl, dapl >= 0 ? dapl : H5P_DEFAULT);
  PET_CHECK_GOTO(st, *dset >= 0, PET_ERR_IO, out, "%s: cannot create dataset %s", path, name);
out:
  close_id(&dapl);
  close_id(&dcpl);
  close_id(&lcpl);
  close_id(&space);
  return st;
}

/* Appends count elements to an extendible 1D dataset that holds `at` of them. */
static pet_status append_1d(const char *path, hid_t dset, const char *name, hid_t mem_type, int64_t at,
                            int64_t count, const void *data)
{
  pet_status st = PET_OK;
  hsize_t size[1] = {(hsize_t)(at + count)}, start[1] = {(hsize_t)at}, cnt[1] = {(hsize_t)count};
  hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
  PET_CHECK(H5Dset_extent(dset, size) >= 0, PET_ERR_IO, "%s: cannot extend dataset /%s to %lld elements", path,
            name, (long long)(at + count));
  fspace = H5Dget_space(dset);
  mspace = H5Screate_simple(1, cnt, NULL);
  PET_CHECK_GOTO(st, fspace >= 0 && mspace >= 0 &&
                         H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) >= 0 &&
                         H5Dwrite(dset, mem_type, mspace, fspace, H5P_DEFAULT, data) >= 0,
                 PET_ERR_IO, out, "%s: cannot write dataset /%s [%lld, %lld) (disk full?)", path, name,
                 (long long)at, (long long)(at + count));
out:
  close_id(&mspace);
  close_id(&fspace);
  return st;
}

static void free_stage(pet_h5_lm_writer *w)
{
  for (int a = 0; a < 4; ++a) {
    free(w->stage[a]);
    w->stage[a] = NULL;
  }
  free(w->shuf);
  free(w->zbuf);
  free(w->zlen);
  w->shuf = w->zbuf = NULL;
  w->zlen = NULL;
}

/* Compresses the staged elements (whole chunks; the last one padded with zeros when `last`)
 * and writes them as chunks at `flushed`: the shuffle and deflate filters' own formats, so
 * HDF5 reads them back through its filters. */
static pet_status flush_stage(pet_h5_lm_writer *w, bool last)
{
  const int ncols = w->has_tof ? 4 : 3;
  const int64_t C = w->chunk;
  const int64_t nchunks = (w->staged + C - 1) / C;
  if (nchunks == 0) return PET_OK;
  const int64_t items = nchunks * ncols;
  if (w->staged % C != 0) /* only the last piece ends inside a chunk: zeros (the fill value) after it */
    for (int a = 0; a < ncols; ++a) memset(w->stage[a] + w->staged, 0, (size_t)(nchunks * C - w->staged) * 4);
  int bad = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : bad)
  for (int64_t it = 0; it < items; ++it) {
    const int a = (int)(it % ncols);
    const int64_t c = it / ncols;
    const unsigned char *src = (const unsigned char *)(w->stage[a] + c * C);
    unsigned char *sh = w->shuf + (size_t)it * (size_t)C * 4;
    for (int b = 0; b < 4; ++b) {
      unsigned char *row = sh + (size_t)b * (size_t)C;
      for (int64_t i = 0; i < C; ++i) row[i] = src[4 * i + b];
    }
    uLongf len = w->zcap;
    bad |= compress2(w->zbuf + (size_t)it * w->zcap, &len, sh, (uLong)(C * 4), w->level) != Z_OK;
    w->zlen[it] = len;
  }
  PET_CHECK(!bad, PET_ERR_IO, "%s: zlib failed to compress a chunk", w->path);
  const int64_t total = w->flushed + w->staged;
  for (int a = 0; a < ncols; ++a) {
    hsize_t size[1] = {(hsize_t)(last ? total : w->flushed + nchunks * C)};
    PET_CHECK(H5Dset_extent(w->dset[a], size) >= 0, PET_ERR_IO, "%s: cannot extend dataset /%s to %llu elements",
              w->path, event_names[a], (unsigned long long)size[0]);
    for (int64_t c = 0; c < nchunks; ++c) {
      const int64_t it = c * ncols + a;
      hsize_t off[1] = {(hsize_t)(w->flushed + c * C)};
      PET_CHECK(H5Dwrite_chunk(w->dset[a], H5P_DEFAULT, 0, off, (size_t)w->zlen[it],
                               w->zbuf + (size_t)it * w->zcap) >= 0,
                PET_ERR_IO, "%s: cannot write dataset /%s [%llu, %llu) (disk full?)", w->path, event_names[a],
                (unsigned long long)off[0], (unsigned long long)(off[0] + (hsize_t)C));
    }
  }
  w->flushed = total;
  w->staged = 0;
  return PET_OK;
}

static void writer_free(pet_h5_lm_writer *w, pet_status st)
{
  free_stage(w);
  for (int a = 0; a < 4; ++a) close_id(&w->dset[a]);
  (void)finish_write(w->path, &w->tmp, &w->file, st); /* st != PET_OK: removes the temporary */
  free(w->index);
  free(w->path);
  free(w);
}

static pet_status lm_writer_open(pet_h5_lm_writer **out, const char *path, const char *scanner_name, bool has_tof,
                                 int64_t chunk_events, int deflate_level, uint32_t index_ms)
{
  pet_status st = PET_OK;
  hid_t group = H5I_INVALID_HID;
  PET_CHECK(out != NULL && path != NULL, PET_ERR_ARG, "pet_h5_lm_writer_open: NULL argument");
  *out = NULL;
  if (chunk_events == 0) chunk_events = PET_H5_CHUNK_ELEMS;
  if (index_ms == 0) index_ms = PET_H5_LISTMODE_INDEX_MS;
  PET_CHECK(chunk_events >= 1 && chunk_events <= ((int64_t)1 << 28), PET_ERR_ARG,
            "%s: chunk_events must be in [1, 2^28] (got %lld)", path, (long long)chunk_events);
  PET_CHECK(deflate_level >= 0 && deflate_level <= 9, PET_ERR_ARG,
            "%s: the deflate level must be in [0, 9] (got %d)", path, deflate_level);
  PET_CHECK(deflate_level == 0 || H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0, PET_ERR_UNSUPPORTED,
            "%s: this HDF5 library has no deflate filter: write without compression", path);
  pet_h5_lm_writer *w = calloc(1, sizeof *w);
  PET_CHECK(w != NULL, PET_ERR_NOMEM, "%s: out of memory", path);
  w->file = H5I_INVALID_HID;
  for (int a = 0; a < 4; ++a) w->dset[a] = H5I_INVALID_HID;
  w->has_tof = has_tof;
  w->index_ms = index_ms;
  w->path = strdup(path);
  PET_CHECK_GOTO(st, w->path != NULL, PET_ERR_NOMEM, fail, "%s: out of memory", path);
  PET_TRY_GOTO(st, create_temp(path, &w->tmp, &w->file), fail);
  PET_TRY_GOTO(st, write_common_attrs(path, w->file, "listmode"), fail);
  group = H5Gcreate2(w->file, "listmode", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PET_CHECK_GOTO(st, group >= 0, PET_ERR_IO, fail, "%s: cannot create group /listmode", path);
  close_id(&group);
  PET_TRY_GOTO(st, attr_put_str(path, w->file, "listmode", "scanner_name", scanner_name ? scanner_name : ""), fail);
  PET_TRY_GOTO(st, attr_put_str(path, w->file, "listmode", "units", "time_ms: ms, tof_ps: ps"), fail);
  PET_TRY_GOTO(st, attr_put_str(path, w->file, "listmode", "petrel_version", PETREL_VERSION), fail);
  const hid_t types[4] = {H5T_STD_U32LE, H5T_STD_U32LE, H5T_STD_U32LE, H5T_IEEE_F32LE};
  for (int a = 0; a < (has_tof ? 4 : 3); ++a)
    PET_TRY_GOTO(st, create_extendible(path, w->file, event_names[a], types[a], chunk_events, deflate_level,
                                       &w->dset[a]),
                 fail);
  w->level = deflate_level;
  w->chunk = chunk_events;
  if (deflate_level > 0) {
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    const int ncols = has_tof ? 4 : 3;
    w->batch = (threads + ncols - 1) / ncols;
    const size_t bytes = (size_t)w->batch * (size_t)chunk_events * 4;
    w->zcap = compressBound((uLong)(chunk_events * 4));
    for (int a = 0; a < ncols; ++a) {
      w->stage[a] = malloc(bytes);
      PET_CHECK_GOTO(st, w->stage[a] != NULL, PET_ERR_NOMEM, fail, "%s: out of memory for the compression buffers",
                     path);
    }
    w->shuf = malloc(bytes * (size_t)ncols);
    w->zbuf = malloc((size_t)w->zcap * (size_t)w->batch * (size_t)ncols);
    w->zlen = malloc(sizeof *w->zlen * (size_t)w->batch * (size_t)ncols);
    PET_CHECK_GOTO(st, w->shuf && w->zbuf && w->zlen, PET_ERR_NOMEM, fail,
                   "%s: out of memory for the compression buffers", path);
  }
  *out = w;
  return PET_OK;
fail:
  close_id(&group);
  writer_free(w, st);
  return st;
}

static pet_status lm_writer_append(pet_h5_lm_writer *w, int64_t n, const uint32_t *t, const uint32_t *d1,
                                   const uint32_t *d2, const float *tof)
{
  PET_CHECK(w != NULL, PET_ERR_ARG, "pet_h5_lm_writer_append: NULL writer");
  PET_CHECK(n >= 0 && (n == 0 || (t && d1 && d2)), PET_ERR_ARG,
            "%s: appending needs n >= 0 and non-NULL time, d1, d2 arrays", w->path);
  PET_CHECK(n == 0 || (tof != NULL) == w->has_tof, PET_ERR_ARG, "%s: the file was opened %s TOF, appended %s",
            w->path, w->has_tof ? "with" : "without", tof ? "with" : "without");
  if (n == 0) return PET_OK;
  /* sorted within the piece and after the last event appended */
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t prev = i > 0 ? t[i - 1] : w->last_t;
    PET_CHECK(t[i] >= prev || (i == 0 && w->n == 0), PET_ERR_ARG,
              "%s: list-mode events must be sorted by time: event %lld has time %" PRIu32
              " ms, before event %lld at %" PRIu32 " ms",
              w->path, (long long)(w->n + i), t[i], (long long)(w->n + i - 1), prev);
  }
  /* every window starting at or before t[i] (and not started yet) starts at event n + i */
  const int64_t need = (int64_t)(t[n - 1] / w->index_ms) + 1;
  if (need > w->cap) {
    int64_t cap = w->cap > 0 ? w->cap : 1024;
    while (cap < need) cap *= 2;
    int64_t *idx = realloc(w->index, (size_t)cap * sizeof *idx);
    PET_CHECK(idx != NULL, PET_ERR_NOMEM, "%s: out of memory for the time index", w->path);
    w->index = idx;
    w->cap = cap;
  }
  for (int64_t i = 0; i < n; ++i)
    for (; (uint64_t)w->num_windows * w->index_ms <= t[i]; ++w->num_windows) w->index[w->num_windows] = w->n + i;
  const void *cols[4] = {t, d1, d2, tof};
  if (w->level > 0) {
    const int64_t cap = w->batch * w->chunk;
    for (int64_t done = 0; done < n;) {
      const int64_t k = n - done < cap - w->staged ? n - done : cap - w->staged;
      for (int a = 0; a < (w->has_tof ? 4 : 3); ++a)
        memcpy(w->stage[a] + w->staged, (const uint32_t *)cols[a] + done, (size_t)k * 4);
      w->staged += k;
      done += k;
      if (w->staged == cap) PET_TRY(flush_stage(w, false));
    }
    w->n += n;
    w->last_t = t[n - 1];
    return PET_OK;
  }
  const hid_t mem[4] = {H5T_NATIVE_UINT32, H5T_NATIVE_UINT32, H5T_NATIVE_UINT32, H5T_NATIVE_FLOAT};
  for (int a = 0; a < (w->has_tof ? 4 : 3); ++a)
    PET_TRY(append_1d(w->path, w->dset[a], event_names[a], mem[a], w->n, n, cols[a]));
  w->n += n;
  w->last_t = t[n - 1];
  return PET_OK;
}

static pet_status lm_writer_close(pet_h5_lm_writer *w)
{
  pet_status st = PET_OK;
  if (w->level > 0) PET_TRY_GOTO(st, flush_stage(w, true), out);
  int64_t *idx = realloc(w->index, (size_t)(w->num_windows + 1) * sizeof *idx);
  PET_CHECK_GOTO(st, idx != NULL, PET_ERR_NOMEM, out, "%s: out of memory for the time index", w->path);
  w->index = idx;
  w->index[w->num_windows] = w->n; /* the last entry is n */
  PET_TRY_GOTO(st, attr_put(w->path, w->file, "listmode", "num_events", H5T_STD_I64LE, H5T_NATIVE_INT64, &w->n),
               out);
  PET_TRY_GOTO(st, write_1d(w->path, w->file, "listmode/time_index", H5T_STD_I64LE, H5T_NATIVE_INT64,
                            w->num_windows + 1, PET_H5_CHUNK_ELEMS, w->index),
               out);
  PET_TRY_GOTO(st, attr_put(w->path, w->file, "listmode/time_index", "index_ms", H5T_STD_U32LE, H5T_NATIVE_UINT32,
                            &w->index_ms),
               out);
out:
  free_stage(w);
  for (int a = 0; a < 4; ++a) close_id(&w->dset[a]);
  st = finish_write(w->path, &w->tmp, &w->file, st);
  return st;
}

/* ---- collective reads ---- */

#ifdef PET_HDF5_PARALLEL
/* Opens path read-only through MPI-IO on comm's ranks. The local checks (exists, regular,
 * HDF5) are agreed first, so that no rank enters H5Fopen alone. Collective on comm. */
static pet_status open_read_mpio(pet_comm *comm, const char *path, hid_t *file)
{
  struct stat sb;
  pet_status st = PET_OK;
  hid_t fapl = H5I_INVALID_HID;
  *file = H5I_INVALID_HID;
  if (stat(path, &sb) != 0)
    st = PET_ERROR(PET_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  else if (!S_ISREG(sb.st_mode))
    st = PET_ERROR(PET_ERR_IO, "%s: not a regular file", path);
  else if (H5Fis_hdf5(path) <= 0)
    st = PET_ERROR(PET_ERR_IO, "%s: not an HDF5 file (or its superblock is corrupt)", path);
  PET_TRY(pet_comm_agree(comm, st));
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0 || H5Pset_fapl_mpio(fapl, pet_comm_mpi_comm(comm), MPI_INFO_NULL) < 0)
    st = PET_ERROR(PET_ERR_IO, "%s: cannot set up MPI-IO file access", path);
  else if ((*file = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0)
    st = PET_ERROR(PET_ERR_IO, "%s: cannot open the HDF5 file through MPI-IO (truncated or corrupt)",
                   path);
  close_id(&fapl);
  /* every rank opened the same file: a failure here is everyone's, but agree to be sure */
  st = pet_comm_agree(comm, st);
  if (st != PET_OK) close_id(file);
  return st;
}

/* Collective hyperslab read of [first, first + count) of a 1D dataset; count may be 0 (the
 * rank still takes part, with an empty selection). Collective on comm. */
static pet_status read_range_mpio(pet_comm *comm, const char *path, hid_t file, const char *name,
                                  H5T_class_t cls, hid_t mem_type, int64_t first, int64_t count,
                                  void *out_buf)
{
  pet_status st = PET_OK;
  hid_t dset = H5I_INVALID_HID, fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
  hid_t dxpl = H5I_INVALID_HID;
  char dummy[16];
  st = open_dataset(path, file, name, cls, 1, &dset, NULL);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  fspace = H5Dget_space(dset);
  hsize_t n = 0;
  if (fspace >= 0) H5Sget_simple_extent_dims(fspace, &n, NULL);
  if (fspace < 0 || first < 0 || count < 0 || first + count > (int64_t)n)
    st = PET_ERROR(PET_ERR_IO, "%s: dataset /%s has %llu elements; the range [%lld, %lld) is beyond it",
                   path, skip_slash(name), (unsigned long long)n, (long long)first,
                   (long long)(first + count));
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  hsize_t start[1] = {(hsize_t)first}, cnt[1] = {(hsize_t)(count > 0 ? count : 1)};
  mspace = H5Screate_simple(1, cnt, NULL);
  herr_t sel = mspace < 0 ? -1
               : count > 0 ? H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL)
                           : (H5Sselect_none(fspace) < 0 ? -1 : H5Sselect_none(mspace));
  dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (sel < 0 || dxpl < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0)
    st = PET_ERROR(PET_ERR_IO, "%s: cannot set up the collective read of /%s", path, skip_slash(name));
  /* a rank whose setup failed must not leave the others inside the collective H5Dread */
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  if (H5Dread(dset, mem_type, mspace, fspace, dxpl, count > 0 ? out_buf : (void *)dummy) < 0)
    st = PET_ERROR(PET_ERR_IO, "%s: cannot read dataset /%s [%lld, %lld) (truncated or corrupt)", path,
                   skip_slash(name), (long long)first, (long long)(first + count));
  st = pet_comm_agree(comm, st); /* the next collective call must find every rank */
out:
  close_id(&dxpl);
  close_id(&mspace);
  close_id(&fspace);
  close_id(&dset);
  return st;
}

static pet_status read_histogram_range_all(pet_comm *comm, const char *path, const char *dataset,
                                           int64_t first, int64_t count, float *out_buf)
{
  pet_status st = PET_OK;
  hid_t file = H5I_INVALID_HID;
  if (!path || !dataset || (!out_buf && count > 0))
    st = PET_ERROR(PET_ERR_ARG, "pet_h5_read_histogram_range_all: NULL argument");
  else if (first < 0 || count < 0)
    st = PET_ERROR(PET_ERR_ARG, "%s: bad range first = %lld, count = %lld", path, (long long)first,
                   (long long)count);
  PET_TRY(pet_comm_agree(comm, st));
  PET_TRY(open_read_mpio(comm, path, &file));
  st = read_range_mpio(comm, path, file, skip_slash(dataset), H5T_FLOAT, H5T_NATIVE_FLOAT, first,
                       count, out_buf);
  close_id(&file);
  return pet_comm_agree(comm, st);
}

static pet_status read_listmode_range_all(pet_comm *comm, const char *path, int64_t first,
                                          int64_t count, uint32_t *t, uint32_t *d1, uint32_t *d2,
                                          float *tof)
{
  pet_status st = PET_OK;
  hid_t file = H5I_INVALID_HID;
  int64_t n = 0;
  bool has_tof = false;
  void *outs[4] = {t, d1, d2, tof};
  /* the arrays read are the union over ranks of those asked for: a rank with no events may
   * pass NULL everywhere and still takes part in each collective read */
  int mine = 0, all = 0;
  for (int a = 0; a < 4; ++a)
    if (outs[a]) mine |= 1 << a;
  if (MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_BOR, pet_comm_mpi_comm(comm)) != MPI_SUCCESS)
    st = PET_ERROR(PET_ERR_MPI, "pet_h5_read_listmode_range_all: MPI_Allreduce failed");
  if (st == PET_OK && !path) st = PET_ERROR(PET_ERR_ARG, "pet_h5_read_listmode_range_all: NULL path");
  PET_TRY(pet_comm_agree(comm, st));
  PET_TRY(open_read_mpio(comm, path, &file));
  st = listmode_check(path, file, &n, &has_tof);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  if (first < 0 || count < 0 || first + count > n)
    st = PET_ERROR(PET_ERR_ARG, "%s: events [%lld, %lld) asked of a file with %lld events", path,
                   (long long)first, (long long)(first + count), (long long)n);
  else if ((all & 8) && !has_tof)
    st = PET_ERROR(PET_ERR_ARG, "%s: TOF asked for, but the file has no dataset /listmode/tof_ps", path);
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  for (int a = 0; a < 4 && st == PET_OK; ++a)
    if (all & (1 << a))
      st = read_range_mpio(comm, path, file, event_names[a], a == 3 ? H5T_FLOAT : H5T_INTEGER,
                           a == 3 ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT32, outs[a] ? first : 0,
                           outs[a] ? count : 0, outs[a]);
out:
  close_id(&file);
  return pet_comm_agree(comm, st);
}
#endif /* PET_HDF5_PARALLEL */

/* ---- images ---- */

static const char *const int_params[3] = {"nx", "ny", "nz"};
static const char *const float_params[6] = {"length_x", "length_y", "length_z",
                                            "off_x",    "off_y",    "off_z"};

static const char *const ckpt_i64[6] = {"next_iteration", "next_subset", "num_ranks",
                                         "data_bytes", "config_hash", "data_checksum"};

static pet_status write_image(const char *path, const pet_image *img, const pet_h5_checkpoint *ck)
{
  pet_status st = PET_OK;
  char *tmp = NULL;
  hid_t file = H5I_INVALID_HID, space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID,
        dset = H5I_INVALID_HID;
  PET_CHECK(path && img, PET_ERR_ARG, "pet_h5_write_image: NULL argument");
  PET_TRY(pet_image_params_check(&img->params));
  PET_TRY(pet_image_require(img, PET_HOST));
  const pet_image_params *p = &img->params;
  hsize_t dims[3] = {(hsize_t)p->nz, (hsize_t)p->ny, (hsize_t)p->nx};
  hsize_t chunk[3] = {1, (hsize_t)p->ny, (hsize_t)p->nx};
  PET_TRY_GOTO(st, create_temp(path, &tmp, &file), out);
  PET_TRY_GOTO(st, write_common_attrs(path, file, ck ? "checkpoint" : "image"), out);
  if (ck) {
    /* hashes are stored as int64 bit patterns: HDF5 attributes have no unsigned-int read check */
    const int64_t v[6] = {ck->next_iteration, ck->next_subset, ck->num_ranks, ck->data_bytes,
                          (int64_t)ck->config_hash, (int64_t)ck->data_checksum};
    for (int i = 0; i < 6; ++i)
      PET_TRY_GOTO(st, attr_put(path, file, "/", ckpt_i64[i], H5T_STD_I64LE, H5T_NATIVE_INT64, &v[i]), out);
    if (ck->fields[0]) PET_TRY_GOTO(st, attr_put_str(path, file, "/", "run_fields", ck->fields), out);
  }
  space = H5Screate_simple(3, dims, NULL);
  dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (dcpl >= 0) H5Pset_chunk(dcpl, 3, chunk);
  dset = space >= 0 && dcpl >= 0
             ? H5Dcreate2(file, "image", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)
             : H5I_INVALID_HID;
  PET_CHECK_GOTO(st, dset >= 0, PET_ERR_IO, out, "%s: cannot create dataset /image", path);
  PET_CHECK_GOTO(st,
                 H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, img->data) >= 0,
                 PET_ERR_IO, out, "%s: cannot write dataset /image", path);
  const int32_t ivals[3] = {p->nx, p->ny, p->nz};
  const float fvals[6] = {p->length_x, p->length_y, p->length_z, p->off_x, p->off_y, p->off_z};
  for (int i = 0; i < 3; ++i)
    PET_TRY_GOTO(st, attr_put(path, file, "image", int_params[i], H5T_STD_I32LE, H5T_NATIVE_INT32,
                              &ivals[i]),
                 out);
  for (int i = 0; i < 6; ++i)
    PET_TRY_GOTO(st, attr_put(path, file, "image", float_params[i], H5T_IEEE_F32LE,
                              H5T_NATIVE_FLOAT, &fvals[i]),
                 out);
  PET_TRY_GOTO(st, attr_put_str(path, file, "image", "units", "mm"), out);
out:
  close_id(&dset);
  close_id(&dcpl);
  close_id(&space);
  return finish_write(path, &tmp, &file, st);
}

static pet_status read_image(const char *path, pet_image **out_img)
{
  pet_status st = PET_OK;
  hid_t file = H5I_INVALID_HID, dset = H5I_INVALID_HID;
  pet_image *img = NULL;
  pet_image_params p;
  int32_t ivals[3];
  float fvals[6];
  hsize_t dims[3];
  PET_CHECK(path && out_img, PET_ERR_ARG, "pet_h5_read_image: NULL argument");
  *out_img = NULL;
  PET_TRY_GOTO(st, open_read(path, &file), out);
  PET_TRY_GOTO(st, open_dataset(path, file, "image", H5T_FLOAT, 3, &dset, dims), out);
  for (int i = 0; i < 3; ++i)
    PET_TRY_GOTO(st, attr_get(path, file, "image", int_params[i], H5T_INTEGER, H5T_NATIVE_INT32,
                              &ivals[i]),
                 out);
  for (int i = 0; i < 6; ++i)
    PET_TRY_GOTO(st, attr_get(path, file, "image", float_params[i], H5T_FLOAT, H5T_NATIVE_FLOAT,
                              &fvals[i]),
                 out);
  memset(&p, 0, sizeof p);
  p.nx = ivals[0];
  p.ny = ivals[1];
  p.nz = ivals[2];
  p.length_x = fvals[0];
  p.length_y = fvals[1];
  p.length_z = fvals[2];
  p.off_x = fvals[3];
  p.off_y = fvals[4];
  p.off_z = fvals[5];
  PET_CHECK_GOTO(st, pet_image_params_check(&p) == PET_OK, PET_ERR_IO, out,
                 "%s: the attributes of /image are not a valid image geometry", path);
  PET_CHECK_GOTO(st, dims[0] == (hsize_t)p.nz && dims[1] == (hsize_t)p.ny &&
                         dims[2] == (hsize_t)p.nx,
                 PET_ERR_IO, out,
                 "%s: dataset /image is [%llu][%llu][%llu], its attributes say "
                 "[nz=%d][ny=%d][nx=%d]",
                 path, (unsigned long long)dims[0], (unsigned long long)dims[1],
                 (unsigned long long)dims[2], p.nz, p.ny, p.nx);
  PET_TRY_GOTO(st, pet_image_create_owned(&img, p, PET_HOST), out);
  PET_CHECK_GOTO(st, H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, img->data) >= 0,
                 PET_ERR_IO, out, "%s: cannot read dataset /image (truncated or corrupt)", path);
  *out_img = img;
  img = NULL;
out:
  pet_image_destroy(&img);
  close_id(&dset);
  close_id(&file);
  return st;
}

/* ---- public entry points: silence HDF5's own error printing around each ---- */

pet_status pet_h5_write_histogram(const char *path, const char *scanner_name, int64_t num_bins,
                                  const float *values, const pet_h5_corrections *corr)
{
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = write_histogram(path, scanner_name, num_bins, NULL, values, corr);
  quiet_end(&q);
  return st;
}

pet_status pet_h5_write_histogram_tof(const char *path, const char *scanner_name, int64_t num_bins,
                                      const pet_h5_tof_info *tof, const float *values,
                                      const pet_h5_corrections *corr)
{
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = write_histogram(path, scanner_name, num_bins, tof, values, corr);
  quiet_end(&q);
  return st;
}

pet_status pet_h5_histogram_tof_info(const char *path, int64_t *num_bins, pet_h5_tof_info *tof)
{
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = histogram_info(path, num_bins, NULL, 0, NULL, tof);
  quiet_end(&q);
  return st;
}

pet_status pet_h5_histogram_info(const char *path, int64_t *num_bins, char *scanner_name,
                                 size_t len, unsigned *which_corrections)
{
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = histogram_info(path, num_bins, scanner_name, len, which_corrections, NULL);
  quiet_end(&q);
  return st;
}

pet_status pet_h5_read_histogram_range(const char *path, const char *dataset, int64_t first,
                                       int64_t count, float *out)
{
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = read_histogram_range(path, dataset, first, count, out);
  quiet_end(&q);
  return st;
}

pet_status pet_h5_read_histogram_file(const char *path, const pet_scanner *s, pet_histogram **out)
{
  pet_status st = PET_OK;
  pet_histogram *h = NULL;
  pet_h5_tof_info ti;
  int64_t nb = 0;
  PET_CHECK(path && s && out, PET_ERR_ARG, "pet_h5_read_histogram_file: NULL argument");
  *out = NULL;
  PET_TRY(pet_h5_histogram_tof_info(path, &nb, &ti));
  PET_TRY_GOTO(st, pet_histogram_create(&h, s, PET_OWNED, PET_HOST), done);
  PET_CHECK_GOTO(st, nb == h->layout->num_bins, PET_ERR_IO, done,
                 "%s: /histogram has %lld bins, the histogram of scanner %s has %lld", path,
                 (long long)nb, s->params.name, (long long)h->layout->num_bins);
  if (ti.num_tof_bins > 0 && s->params.num_tof_bins > 0) {
    PET_CHECK_GOTO(st, ti.num_tof_bins == s->params.num_tof_bins, PET_ERR_IO, done,
                   "%s: /histogram has num_tof_bins = %d, scanner %s has numTOFBins = %d", path,
                   (int)ti.num_tof_bins, s->params.name, (int)s->params.num_tof_bins);
    PET_CHECK_GOTO(st, fabsf(ti.tof_bin_width_ps - s->params.tof_bin_width_ps) <=
                           1e-6f * s->params.tof_bin_width_ps,
                   PET_ERR_IO, done,
                   "%s: /histogram has tof_bin_width_ps = %g, scanner %s has tofBinWidth_ps = %g",
                   path, (double)ti.tof_bin_width_ps, s->params.name,
                   (double)s->params.tof_bin_width_ps);
  }
  PET_TRY_GOTO(st, pet_histogram_set_tof_bins(h, ti.num_tof_bins, ti.tof_bin_width_ps), done);
  PET_TRY_GOTO(st, pet_histogram_allocate(h), done);
  PET_TRY_GOTO(st, pet_h5_read_histogram_range(path, "histogram", 0, pet_histogram_num_values(h),
                                               h->data),
               done);
  *out = h;
  h = NULL;
done:
  pet_histogram_destroy(&h);
  return st;
}

pet_status pet_h5_write_listmode(const char *path, const char *scanner_name, int64_t n,
                                 const uint32_t *t, const uint32_t *d1, const uint32_t *d2,
                                 const float *tof)
{
  return pet_h5_write_listmode_indexed(path, scanner_name, n, t, d1, d2, tof,
                                       PET_H5_LISTMODE_INDEX_MS);
}

pet_status pet_h5_write_listmode_indexed(const char *path, const char *scanner_name, int64_t n,
                                         const uint32_t *t, const uint32_t *d1,
                                         const uint32_t *d2, const float *tof, uint32_t index_ms)
{
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = write_listmode(path, scanner_name, n, t, d1, d2, tof, index_ms);
  quiet_end(&q);
  return st;
}

pet_status pet_h5_lm_writer_open(pet_h5_lm_writer **w, const char *path, const char *scanner_name, bool has_tof,
                                 int64_t chunk_events, int deflate_level, uint32_t index_ms)
{
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = lm_writer_open(w, path, scanner_name, has_tof, chunk_events, deflate_level, index_ms);
  quiet_end(&q);
  return st;
}

pet_status pet_h5_lm_writer_append(pet_h5_lm_writer *w, int64_t n, const uint32_t *t, const uint32_t *d1,
                                   const uint32_t *d2, const float *tof)
{
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = lm_writer_append(w, n, t, d1, d2, tof);
  quiet_end(&q);
  return st;
}

int64_t pet_h5_lm_writer_count(const pet_h5_lm_writer *w) { return w != NULL ? w->n : 0; }

pet_status pet_h5_lm_writer_close(pet_h5_lm_writer **w)
{
  PET_CHECK(w != NULL && *w != NULL, PET_ERR_ARG, "pet_h5_lm_writer_close: NULL writer");
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = lm_writer_close(*w);
  free((*w)->index);
  free((*w)->path);
  free(*w);
  *w = NULL;
  quiet_end(&q);
  return st;
}

void pet_h5_lm_writer_abort(pet_h5_lm_writer **w)
{
  if (w == NULL || *w == NULL) return;
  h5_quiet q;
  quiet_begin(&q);
  writer_free(*w, PET_ERR_INTERRUPTED);
  *w = NULL;
  quiet_end(&q);
}

pet_status pet_h5_listmode_info(const char *path, int64_t *n, bool *has_tof, char *scanner,
                                size_t len)
{
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = listmode_info(path, n, has_tof, scanner, len);
  quiet_end(&q);
  return st;
}

pet_status pet_h5_listmode_find_window(const char *path, uint32_t t0_ms, uint32_t t1_ms,
                                       int64_t *first, int64_t *count)
{
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = listmode_find_window(path, t0_ms, t1_ms, first, count);
  quiet_end(&q);
  return st;
}

pet_status pet_h5_listmode_check_times(const char *path, int64_t *first_unsorted)
{
  PET_CHECK(path, PET_ERR_ARG, "pet_h5_listmode_check_times: NULL path");
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = listmode_check_times(path, first_unsorted);
  quiet_end(&q);
  return st;
}

bool pet_h5_has_dataset(const char *path, const char *name)
{
  h5_quiet q;
  quiet_begin(&q);
  hid_t file = H5I_INVALID_HID;
  bool yes = false;
  bool was = pet_error_set_print(false);
  if (path && name && open_read(path, &file) == PET_OK) yes = link_exists(file, skip_slash(name));
  pet_error_set_print(was);
  pet_error_clear();
  close_id(&file);
  quiet_end(&q);
  return yes;
}

pet_status pet_h5_read_listmode_range(const char *path, int64_t first, int64_t count,
                                      uint32_t *t, uint32_t *d1, uint32_t *d2, float *tof)
{
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = read_listmode_range(path, first, count, t, d1, d2, tof);
  quiet_end(&q);
  return st;
}

/* ---- list-mode source: windows read by threads straight from the file ----
 *
 * A streamed OSEM iteration reads the whole event file once; HDF5's H5Dread is one thread and
 * a copy through its chunk cache. When the event datasets are stored raw (contiguous, or
 * chunked without filters, in the machine's byte order) the source maps each dataset's element
 * ranges to file offsets once, at open, and reads a window with several threads' pread()s into
 * the caller's arrays. Compressed or otherwise filtered data goes through H5Dread. */

#define RAW_ARRAYS 3 /* d1, d2, tof_ps */
#define RAW_PIECE_BYTES ((int64_t)8 << 20)

typedef struct raw_extent {
  int64_t first, count; /* elements [first, first + count) ... */
  int64_t offset;       /* ... start at this byte of the file */
} raw_extent;

typedef struct raw_map {
  raw_extent *ext;
  int64_t n;
  int64_t esize; /* bytes per element */
} raw_map;

typedef struct lm_source_ctx {
  char *path;
  int fd;              /* -1: read through HDF5 */
  int threads;
  raw_map map[RAW_ARRAYS];
} lm_source_ctx;

static int cmp_extent(const void *a, const void *b)
{
  const raw_extent *x = a, *y = b;
  return x->first < y->first ? -1 : x->first > y->first;
}

/* The element -> file offset map of a 1-D dataset of n elements stored raw with the native
 * type `native`; false (no map) when it is not (filters, another byte order, unallocated). */
static bool raw_map_build(hid_t file, const char *name, hid_t native, int64_t n, raw_map *m)
{
  memset(m, 0, sizeof *m);
  hid_t dset = H5Dopen2(file, name, H5P_DEFAULT), type = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
  hid_t space = H5I_INVALID_HID;
  bool ok = false;
  if (dset < 0) return false;
  type = H5Dget_type(dset);
  dcpl = H5Dget_create_plist(dset);
  space = H5Dget_space(dset); /* 1.10's chunk queries want the dataspace, not H5S_ALL */
  if (type < 0 || dcpl < 0 || H5Tequal(type, native) <= 0 || H5Pget_nfilters(dcpl) != 0) goto out;
  const int64_t esize = (int64_t)H5Tget_size(native);
  H5D_layout_t layout = H5Pget_layout(dcpl);
  if (layout == H5D_CONTIGUOUS) {
    haddr_t off = H5Dget_offset(dset);
    if (off == HADDR_UNDEF) goto out;
    m->ext = malloc(sizeof *m->ext);
    if (!m->ext) goto out;
    m->ext[0] = (raw_extent){0, n, (int64_t)off};
    m->n = 1;
    m->esize = esize;
    ok = true;
  }
#if H5_VERSION_GE(1, 10, 5)
  else if (layout == H5D_CHUNKED) {
    hsize_t nchunks = 0, cdim[1] = {0};
    if (H5Pget_chunk(dcpl, 1, cdim) != 1 || cdim[0] == 0) goto out;
    if (space < 0 || H5Dget_num_chunks(dset, space, &nchunks) < 0) goto out;
    /* every chunk allocated (none left to the fill value) */
    if ((int64_t)nchunks != (n + (int64_t)cdim[0] - 1) / (int64_t)cdim[0]) goto out;
    m->ext = malloc((size_t)(nchunks ? nchunks : 1) * sizeof *m->ext);
    if (!m->ext) goto out;
    for (hsize_t i = 0; i < nchunks; ++i) {
      hsize_t coord[1] = {0}, size = 0;
      haddr_t addr = HADDR_UNDEF;
      unsigned mask = 0;
      if (H5Dget_chunk_info(dset, space, i, coord, &mask, &addr, &size) < 0 || addr == HADDR_UNDEF) goto out;
      int64_t cnt = (int64_t)cdim[0];
      if ((int64_t)coord[0] + cnt > n) cnt = n - (int64_t)coord[0];
      if (cnt <= 0 || (int64_t)size < cnt * esize) goto out;
      m->ext[i] = (raw_extent){(int64_t)coord[0], cnt, (int64_t)addr};
    }
    m->n = (int64_t)nchunks;
    m->esize = esize;
    qsort(m->ext, (size_t)m->n, sizeof *m->ext, cmp_extent);
    int64_t next = 0;
    for (int64_t i = 0; i < m->n; ++i) {
      if (m->ext[i].first != next) goto out;
      next += m->ext[i].count;
    }
    ok = next == n;
  }
#endif
out:
  if (!ok) {
    free(m->ext);
    memset(m, 0, sizeof *m);
  }
  close_id(&space);
  close_id(&dcpl);
  close_id(&type);
  close_id(&dset);
  return ok;
}

typedef struct raw_piece {
  char *dst;
  int64_t offset, bytes;
} raw_piece;

typedef struct raw_job {
  const raw_piece *pieces;
  int64_t num_pieces;
  int fd;
  int64_t next; /* taken with __atomic builtins */
  int err;      /* first errno (or EIO for a short read) */
} raw_job;

static void *raw_worker(void *arg)
{
  raw_job *j = arg;
  for (;;) {
    int64_t k = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (k >= j->num_pieces || __atomic_load_n(&j->err, __ATOMIC_RELAXED)) break;
    const raw_piece *p = &j->pieces[k];
    int64_t done = 0;
    while (done < p->bytes) {
      ssize_t r = pread(j->fd, p->dst + done, (size_t)(p->bytes - done), (off_t)(p->offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        int e = r < 0 ? errno : EIO;
        int zero = 0;
        __atomic_compare_exchange_n(&j->err, &zero, e, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        return NULL;
      }
      done += r;
    }
  }
  return NULL;
}

/* Elements [first, first + count) of the mapped arrays into dst[a] (NULL: skipped), in pieces
 * of at most RAW_PIECE_BYTES read by up to c->threads threads. */
static pet_status raw_read(const lm_source_ctx *c, int64_t first, int64_t count, void *const dst[RAW_ARRAYS])
{
  int64_t cap = 16, np = 0;
  raw_piece *pieces = malloc((size_t)cap * sizeof *pieces);
  PET_CHECK(pieces != NULL, PET_ERR_NOMEM, "%s: out of memory", c->path);
  for (int a = 0; a < RAW_ARRAYS; ++a) {
    if (!dst[a]) continue;
    const raw_map *m = &c->map[a];
    const int64_t es = m->esize;
    /* the first extent holding `first` (extents are sorted and tile the dataset) */
    int64_t lo = 0, hi = m->n - 1;
    while (lo < hi) {
      int64_t mid = (lo + hi + 1) / 2;
      if (m->ext[mid].first <= first) lo = mid;
      else hi = mid - 1;
    }
    for (int64_t e = lo, at = first; at < first + count && e < m->n; ++e) {
      const raw_extent *x = &m->ext[e];
      int64_t end = x->first + x->count < first + count ? x->first + x->count : first + count;
      for (int64_t i = at; i < end;) {
        int64_t n = end - i, most = RAW_PIECE_BYTES / es;
        if (n > most) n = most;
        if (np == cap) {
          raw_piece *grown = realloc(pieces, (size_t)(cap *= 2) * sizeof *pieces);
          if (!grown) {
            free(pieces);
            return PET_ERROR(PET_ERR_NOMEM, "%s: out of memory", c->path);
          }
          pieces = grown;
        }
        pieces[np++] = (raw_piece){(char *)dst[a] + (i - first) * es, x->offset + (i - x->first) * es, n * es};
        i += n;
      }
      at = end;
    }
  }
  raw_job job = {pieces, np, c->fd, 0, 0};
  int nt = c->threads < np ? c->threads : (int)np, started = 0;
  pthread_t tid[64];
  for (; started < nt - 1 && started < 63; ++started)
    if (pthread_create(&tid[started], NULL, raw_worker, &job) != 0) break;
  raw_worker(&job); /* this thread is one of the readers */
  for (int t = 0; t < started; ++t) pthread_join(tid[t], NULL);
  free(pieces);
  PET_CHECK(job.err == 0, PET_ERR_IO, "%s: read of events [%lld, %lld) failed: %s (truncated file?)", c->path,
            (long long)first, (long long)(first + count), job.err == EIO ? "short read" : strerror(job.err));
  return PET_OK;
}

static pet_status source_read(void *ctx, int64_t first, int64_t count, uint32_t *d1, uint32_t *d2, float *tof)
{
  const lm_source_ctx *c = ctx;
  if (c->fd < 0 || (tof && c->map[2].n == 0))
    return pet_h5_read_listmode_range(c->path, first, count, NULL, d1, d2, tof);
  void *dst[RAW_ARRAYS] = {d1, d2, tof};
  return raw_read(c, first, count, dst);
}

/* Threads that read a window: PET_IO_THREADS, else the online CPUs up to 8. */
static int io_threads(void)
{
  const char *env = getenv("PET_IO_THREADS");
  long n = env && *env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
  if (!env || !*env) n = n > 8 ? 8 : n;
  return n < 1 ? 1 : (n > 64 ? 64 : (int)n);
}

static void source_ctx_free(lm_source_ctx *c)
{
  if (!c) return;
  if (c->fd >= 0) close(c->fd);
  for (int a = 0; a < RAW_ARRAYS; ++a) free(c->map[a].ext);
  free(c->path);
  free(c);
}

pet_status pet_h5_listmode_source_open(const char *path, pet_lm_source *src)
{
  PET_CHECK(path != NULL && src != NULL, PET_ERR_ARG, "pet_h5_listmode_source_open: NULL argument");
  memset(src, 0, sizeof *src);
  int64_t n = 0;
  bool tof = false;
  char scanner[256];
  PET_TRY(pet_h5_listmode_info(path, &n, &tof, scanner, sizeof scanner));
  lm_source_ctx *c = calloc(1, sizeof *c);
  PET_CHECK(c != NULL, PET_ERR_NOMEM, "%s: out of memory", path);
  c->fd = -1;
  c->threads = io_threads();
  c->path = strdup(path);
  if (!c->path) {
    source_ctx_free(c);
    return PET_ERROR(PET_ERR_NOMEM, "%s: out of memory", path);
  }
  /* the raw map, when every event dataset read is stored raw; else H5Dread */
  h5_quiet q;
  quiet_begin(&q);
  hid_t file = H5I_INVALID_HID;
  bool was = pet_error_set_print(false);
  if (getenv("PET_IO_HDF5") == NULL && open_read(path, &file) == PET_OK) {
    bool raw = raw_map_build(file, "listmode/d1", H5T_NATIVE_UINT32, n, &c->map[0]) &&
               raw_map_build(file, "listmode/d2", H5T_NATIVE_UINT32, n, &c->map[1]);
    if (raw && tof) raw = raw_map_build(file, "listmode/tof_ps", H5T_NATIVE_FLOAT, n, &c->map[2]);
    if (raw) c->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c->fd >= 0) (void)posix_fadvise(c->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  pet_error_set_print(was);
  pet_error_clear();
  close_id(&file);
  quiet_end(&q);
  src->num_events = n;
  src->has_tof = tof;
  src->read = source_read;
  src->ctx = c;
  src->name = c->path;
  return PET_OK;
}

bool pet_h5_listmode_source_is_raw(const pet_lm_source *src)
{
  return src && src->read == source_read && ((const lm_source_ctx *)src->ctx)->fd >= 0;
}

void pet_h5_listmode_source_close(pet_lm_source *src)
{
  if (src == NULL) return;
  if (src->read == source_read) source_ctx_free(src->ctx);
  memset(src, 0, sizeof *src);
}

pet_status pet_h5_read_histogram_range_all(pet_comm *comm, const char *path, const char *dataset,
                                           int64_t first, int64_t count, float *out)
{
  h5_quiet q;
  quiet_begin(&q);
#ifdef PET_HDF5_PARALLEL
  /* without a communicator (one process, MPI maybe not even initialised) read locally */
  pet_status st = comm == NULL ? (count == 0 ? PET_OK : read_histogram_range(path, dataset, first, count, out))
                               : read_histogram_range_all(comm, path, dataset, first, count, out);
#else
  /* serial HDF5: each rank opens the file read-only on its own and reads its part */
  pet_status st = count == 0 ? PET_OK : read_histogram_range(path, dataset, first, count, out);
  st = pet_comm_agree(comm, st);
#endif
  quiet_end(&q);
  return st;
}

pet_status pet_h5_read_listmode_range_all(pet_comm *comm, const char *path, int64_t first,
                                          int64_t count, uint32_t *t, uint32_t *d1, uint32_t *d2,
                                          float *tof)
{
  h5_quiet q;
  quiet_begin(&q);
#ifdef PET_HDF5_PARALLEL
  pet_status st = comm == NULL ? (count == 0 ? PET_OK : read_listmode_range(path, first, count, t, d1, d2, tof))
                               : read_listmode_range_all(comm, path, first, count, t, d1, d2, tof);
#else
  pet_status st = count == 0 ? PET_OK : read_listmode_range(path, first, count, t, d1, d2, tof);
  st = pet_comm_agree(comm, st);
#endif
  quiet_end(&q);
  return st;
}

pet_status pet_h5_write_image(const char *path, const pet_image *img)
{
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = write_image(path, img, NULL);
  quiet_end(&q);
  return st;
}

pet_status pet_h5_read_image(const char *path, pet_image **img)
{
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = read_image(path, img);
  quiet_end(&q);
  return st;
}

pet_status pet_h5_write_checkpoint(const char *path, const pet_image *x, const pet_h5_checkpoint *ck)
{
  PET_CHECK(ck != NULL, PET_ERR_ARG, "pet_h5_write_checkpoint: NULL metadata");
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = write_image(path, x, ck);
  quiet_end(&q);
  return st;
}

static pet_status read_checkpoint(const char *path, pet_image **x, pet_h5_checkpoint *ck)
{
  pet_status st = PET_OK;
  hid_t file = H5I_INVALID_HID;
  char content[64] = "";
  int64_t v[6];
  PET_TRY_GOTO(st, open_read(path, &file), out);
  PET_TRY_GOTO(st, attr_get_str(path, file, "/", "petrel_content", content, sizeof content), out);
  PET_CHECK_GOTO(st, strcmp(content, "checkpoint") == 0, PET_ERR_IO, out,
                 "%s: not a petrel checkpoint (petrel_content is \"%s\")", path, content);
  for (int i = 0; i < 6; ++i)
    PET_TRY_GOTO(st, attr_get(path, file, "/", ckpt_i64[i], H5T_INTEGER, H5T_NATIVE_INT64, &v[i]), out);
  ck->next_iteration = (int32_t)v[0];
  ck->next_subset = (int32_t)v[1];
  ck->num_ranks = (int32_t)v[2];
  ck->data_bytes = v[3];
  ck->config_hash = (uint64_t)v[4];
  ck->data_checksum = (uint64_t)v[5];
  ck->fields[0] = '\0';
  /* older checkpoints have no run_fields: then only the hashes can be compared */
  if (H5Aexists_by_name(file, "/", "run_fields", H5P_DEFAULT) > 0)
    PET_TRY_GOTO(st, attr_get_str(path, file, "/", "run_fields", ck->fields, sizeof ck->fields), out);
  close_id(&file);
  PET_TRY_GOTO(st, read_image(path, x), out);
out:
  close_id(&file);
  return st;
}

pet_status pet_h5_read_checkpoint(const char *path, pet_image **x, pet_h5_checkpoint *ck)
{
  PET_CHECK(path && x && ck, PET_ERR_ARG, "pet_h5_read_checkpoint: NULL argument");
  *x = NULL;
  h5_quiet q;
  quiet_begin(&q);
  pet_status st = read_checkpoint(path, x, ck);
  quiet_end(&q);
  return st;
}
