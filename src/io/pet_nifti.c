#include "pet_nifti.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nifti1_io.h>
#include <zlib.h>

#include "pet_fileutil.h"

#define NIFTI_HDR_BYTES 348
#define NIFTI_VOX_OFFSET 352 /* header + the 4-byte extension flag (no extensions) */
/* Above this many voxels a header is treated as corrupt rather than trusted for malloc. */
#define NIFTI_MAX_VOXELS ((int64_t)1 << 36)

typedef enum nifti_kind { NIFTI_PLAIN, NIFTI_GZ } nifti_kind;

static bool ends_with(const char *s, const char *suffix)
{
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static pet_status path_kind(const char *path, nifti_kind *kind)
{
  if (ends_with(path, ".nii.gz")) {
    *kind = NIFTI_GZ;
    return PET_OK;
  }
  if (ends_with(path, ".nii")) {
    *kind = NIFTI_PLAIN;
    return PET_OK;
  }
  return PET_ERROR(PET_ERR_ARG, "%s: a NIfTI image needs the extension .nii or .nii.gz", path);
}

/* A sink over a plain or gzip stream that remembers the first failure. */
typedef struct sink {
  nifti_kind kind;
  FILE *f;
  gzFile gz;
  bool failed;
} sink;

static void sink_write(sink *s, const void *buf, size_t bytes)
{
  const char *p = buf;
  while (!s->failed && bytes > 0) {
    /* gzwrite takes an unsigned count: write in pieces of at most 1 GiB. */
    size_t piece = bytes < ((size_t)1 << 30) ? bytes : ((size_t)1 << 30);
    if (s->kind == NIFTI_GZ) {
      if (gzwrite(s->gz, p, (unsigned)piece) != (int)piece) s->failed = true;
    } else if (fwrite(p, 1, piece, s->f) != piece) {
      s->failed = true;
    }
    p += piece;
    bytes -= piece;
  }
}

static void fill_header(nifti_1_header *h, const pet_image_params *p, int nt)
{
  double vx = (double)pet_image_vx(p), vy = (double)pet_image_vy(p), vz = (double)pet_image_vz(p);
  double x0 = -0.5 * (p->nx - 1) * vx + (double)p->off_x;
  double y0 = -0.5 * (p->ny - 1) * vy + (double)p->off_y;
  double z0 = -0.5 * (p->nz - 1) * vz + (double)p->off_z;
  int dims[8] = {nt > 0 ? 4 : 3, p->nx, p->ny, p->nz, nt > 0 ? nt : 1, 1, 1, 1};
  nifti_1_header *made = nifti_make_new_header(dims, NIFTI_TYPE_FLOAT32);
  if (made) {
    *h = *made;
    free(made);
  } else {
    memset(h, 0, sizeof *h);
  }
  /* Everything the convention fixes is set here, whatever nifti_make_new_header chose. */
  h->sizeof_hdr = NIFTI_HDR_BYTES;
  for (int i = 0; i < 8; ++i) h->dim[i] = (short)dims[i];
  h->datatype = NIFTI_TYPE_FLOAT32;
  h->bitpix = 32;
  h->pixdim[0] = 1.0f;
  h->pixdim[1] = (float)vx;
  h->pixdim[2] = (float)vy;
  h->pixdim[3] = (float)vz;
  h->pixdim[4] = nt > 0 ? 1.0f : 0.0f;
  for (int i = 5; i < 8; ++i) h->pixdim[i] = 0.0f;
  h->vox_offset = (float)NIFTI_VOX_OFFSET;
  h->scl_slope = 1.0f;
  h->scl_inter = 0.0f;
  h->xyzt_units = (char)(NIFTI_UNITS_MM | (nt > 0 ? NIFTI_UNITS_SEC : 0));
  h->qform_code = 0;
  h->sform_code = NIFTI_XFORM_SCANNER_ANAT;
  h->quatern_b = h->quatern_c = h->quatern_d = 0.0f;
  h->qoffset_x = h->qoffset_y = h->qoffset_z = 0.0f;
  memset(h->srow_x, 0, sizeof h->srow_x);
  memset(h->srow_y, 0, sizeof h->srow_y);
  memset(h->srow_z, 0, sizeof h->srow_z);
  h->srow_x[0] = (float)-vx;
  h->srow_x[3] = (float)-x0;
  h->srow_y[1] = (float)-vy;
  h->srow_y[3] = (float)-y0;
  h->srow_z[2] = (float)vz;
  h->srow_z[3] = (float)z0;
  memcpy(h->magic, "n+1", 4);
}

/* Writes header + frames to a temporary file, then renames it over `path`. */
static pet_status write_frames(const pet_image *const *frames, int nt, bool four_d,
                               const char *path)
{
  pet_status st = PET_OK;
  nifti_kind kind = NIFTI_PLAIN;
  char *tmp = NULL;
  FILE *tf = NULL;
  sink out;
  memset(&out, 0, sizeof out);

  if (!path || !frames || nt < 1)
    return PET_ERROR(PET_ERR_ARG, "NIfTI write: NULL path/frames or nt < 1");
  PET_TRY(path_kind(path, &kind));
  for (int f = 0; f < nt; ++f) {
    PET_CHECK(frames[f] != NULL, PET_ERR_ARG, "%s: frame %d is NULL", path, f);
    PET_TRY(pet_image_params_check(&frames[f]->params));
    PET_TRY(pet_image_require(frames[f], PET_HOST));
    PET_CHECK(pet_image_params_equal(&frames[f]->params, &frames[0]->params) &&
                  frames[f]->params.nx == frames[0]->params.nx &&
                  frames[f]->params.ny == frames[0]->params.ny &&
                  frames[f]->params.nz == frames[0]->params.nz,
              PET_ERR_ARG, "%s: frame %d has other image params than frame 0", path, f);
  }
  const pet_image_params *p = &frames[0]->params;
  PET_CHECK(p->nx <= INT16_MAX && p->ny <= INT16_MAX && p->nz <= INT16_MAX && nt <= INT16_MAX,
            PET_ERR_ARG, "%s: NIfTI-1 dims are limited to 32767 (got %d x %d x %d x %d)", path,
            p->nx, p->ny, p->nz, nt);

  nifti_1_header h;
  fill_header(&h, p, four_d ? nt : 0);
  static const char ext_flag[4] = {0, 0, 0, 0};

  PET_TRY_GOTO(st, pet_file_open_temp(path, &tmp, &tf), out);
  out.kind = kind;
  if (kind == NIFTI_GZ) {
    int gz_fd = dup(fileno(tf)); /* gzclose closes its descriptor; tf stays ours to commit */
    out.gz = gz_fd >= 0 ? gzdopen(gz_fd, "wb6") : NULL;
    if (!out.gz && gz_fd >= 0) close(gz_fd);
    PET_CHECK_GOTO(st, out.gz != NULL, PET_ERR_IO, out, "%s: cannot open a gzip stream on %s",
                   path, tmp);
  } else {
    out.f = tf;
  }
  sink_write(&out, &h, sizeof h);
  sink_write(&out, ext_flag, sizeof ext_flag);
  for (int f = 0; f < nt; ++f)
    sink_write(&out, frames[f]->data, (size_t)pet_image_num_voxels(frames[f]) * sizeof(float));
  if (kind == NIFTI_GZ) {
    if (gzclose(out.gz) != Z_OK) out.failed = true;
    out.gz = NULL;
  }
  out.f = NULL; /* plain: tf itself, flushed, fsynced and closed by the commit */
  PET_CHECK_GOTO(st, !out.failed, PET_ERR_IO, out, "%s: write failed (temporary file %s): %s",
                 path, tmp, strerror(errno));
  st = pet_file_commit(&tf, &tmp, path);
out:
  if (out.gz) gzclose(out.gz);
  pet_file_abort(&tf, &tmp); /* no-op after a commit */
  return st;
}

pet_status pet_image_write_nifti(const pet_image *img, const char *path)
{
  return write_frames(&img, 1, false, path);
}

pet_status pet_image_write_nifti_4d(const pet_image *const *frames, int nt, const char *path)
{
  return write_frames(frames, nt, true, path);
}

static int16_t swap16(int16_t v)
{
  uint16_t u = (uint16_t)v;
  return (int16_t)(uint16_t)((u >> 8) | (u << 8));
}

static int32_t swap32(int32_t v)
{
  uint32_t u = (uint32_t)v;
  return (int32_t)((u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24));
}

static float swapf(float v)
{
  int32_t i;
  memcpy(&i, &v, 4);
  i = swap32(i);
  memcpy(&v, &i, 4);
  return v;
}

static bool known_real_type(int dt, int *bytes)
{
  switch (dt) {
  case NIFTI_TYPE_UINT8:
  case NIFTI_TYPE_INT8: *bytes = 1; return true;
  case NIFTI_TYPE_INT16:
  case NIFTI_TYPE_UINT16: *bytes = 2; return true;
  case NIFTI_TYPE_INT32:
  case NIFTI_TYPE_UINT32:
  case NIFTI_TYPE_FLOAT32: *bytes = 4; return true;
  case NIFTI_TYPE_INT64:
  case NIFTI_TYPE_UINT64:
  case NIFTI_TYPE_FLOAT64: *bytes = 8; return true;
  default: return false;
  }
}

/*
 * Checks the header ourselves before nifti_clib sees the file, so that a garbage, truncated or
 * unsupported file gives one clear message instead of library noise or a huge allocation.
 */
static pet_status precheck(const char *path, int64_t *dims /* [8] */)
{
  pet_status st = PET_OK;
  gzFile gz = NULL;
  nifti_1_header h;
  struct stat sb;

  PET_CHECK(stat(path, &sb) == 0, PET_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  PET_CHECK(S_ISREG(sb.st_mode), PET_ERR_IO, "%s: not a regular file", path);
  gz = gzopen(path, "rb");
  PET_CHECK_GOTO(st, gz != NULL, PET_ERR_IO, out, "%s: cannot open: %s", path, strerror(errno));
  int got = gzread(gz, &h, sizeof h);
  PET_CHECK_GOTO(st, got == (int)sizeof h, PET_ERR_IO, out,
                 "%s: truncated or corrupt NIfTI file (header has %d of %d bytes)", path,
                 got < 0 ? 0 : got, NIFTI_HDR_BYTES);
  bool plain = gzdirect(gz) != 0;
  bool swapped = false;
  if (h.sizeof_hdr != NIFTI_HDR_BYTES) {
    swapped = swap32(h.sizeof_hdr) == NIFTI_HDR_BYTES;
    PET_CHECK_GOTO(st, swapped, PET_ERR_IO, out,
                   "%s: not a NIfTI-1 file (sizeof_hdr = %d, expected 348)", path, h.sizeof_hdr);
  }
  PET_CHECK_GOTO(st, memcmp(h.magic, "n+1", 4) == 0, PET_ERR_IO, out,
                 "%s: not a one-file NIfTI-1 image (magic is not \"n+1\"; .hdr/.img pairs and "
                 "ANALYZE files are not supported)",
                 path);
  int16_t ndim = swapped ? swap16(h.dim[0]) : h.dim[0];
  PET_CHECK_GOTO(st, ndim >= 1 && ndim <= 7, PET_ERR_IO, out, "%s: corrupt header: dim[0] = %d",
                 path, ndim);
  int64_t nvox = 1;
  for (int i = 1; i < 8; ++i) {
    int16_t d = swapped ? swap16(h.dim[i]) : h.dim[i];
    dims[i] = i <= ndim ? d : 1;
    PET_CHECK_GOTO(st, dims[i] >= 1, PET_ERR_IO, out, "%s: corrupt header: dim[%d] = %d", path,
                   i, d);
    nvox *= dims[i];
    /* checked at every step: 7 dims of up to 32767 would overflow int64 before the end */
    PET_CHECK_GOTO(st, nvox <= NIFTI_MAX_VOXELS, PET_ERR_IO, out,
                   "%s: corrupt header: %lld voxels in dims 1..%d", path, (long long)nvox, i);
  }
  dims[0] = ndim;
  int16_t dt = swapped ? swap16(h.datatype) : h.datatype;
  int bytes = 0;
  PET_CHECK_GOTO(st, known_real_type(dt, &bytes), PET_ERR_IO, out,
                 "%s: unsupported NIfTI datatype %d (%s); real integer and float types only",
                 path, dt, nifti_datatype_string(dt));
  float vox_offset = swapped ? swapf(h.vox_offset) : h.vox_offset;
  PET_CHECK_GOTO(st, isfinite(vox_offset) && vox_offset >= (float)NIFTI_VOX_OFFSET &&
                         vox_offset < 1e9f,
                 PET_ERR_IO, out, "%s: corrupt header: vox_offset = %g", path, (double)vox_offset);
  if (plain) {
    int64_t need = (int64_t)vox_offset + nvox * bytes;
    PET_CHECK_GOTO(st, (int64_t)sb.st_size >= need, PET_ERR_IO, out,
                   "%s: truncated NIfTI file: %lld bytes, the header needs %lld", path,
                   (long long)sb.st_size, (long long)need);
  }
out:
  if (gz) gzclose(gz);
  return st;
}

static pet_status to_float(const nifti_image *nim, const void *raw, int64_t first, int64_t n,
                           float *dst, const char *path)
{
  double slope = nim->scl_slope, inter = nim->scl_inter;
  bool scale = slope != 0.0 && isfinite(slope) && isfinite(inter) &&
               !(slope == 1.0 && inter == 0.0);
  const char *base = (const char *)raw;
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = first + i;
    double v;
    switch (nim->datatype) {
    case NIFTI_TYPE_UINT8: v = ((const uint8_t *)base)[k]; break;
    case NIFTI_TYPE_INT8: v = ((const int8_t *)base)[k]; break;
    case NIFTI_TYPE_INT16: v = ((const int16_t *)base)[k]; break;
    case NIFTI_TYPE_UINT16: v = ((const uint16_t *)base)[k]; break;
    case NIFTI_TYPE_INT32: v = ((const int32_t *)base)[k]; break;
    case NIFTI_TYPE_UINT32: v = ((const uint32_t *)base)[k]; break;
    case NIFTI_TYPE_INT64: v = (double)((const int64_t *)base)[k]; break;
    case NIFTI_TYPE_UINT64: v = (double)((const uint64_t *)base)[k]; break;
    case NIFTI_TYPE_FLOAT64: v = ((const double *)base)[k]; break;
    case NIFTI_TYPE_FLOAT32:
      if (!scale) {
        dst[i] = ((const float *)base)[k];
        continue;
      }
      v = ((const float *)base)[k];
      break;
    default:
      return PET_ERROR(PET_ERR_IO, "%s: unsupported NIfTI datatype %d", path, nim->datatype);
    }
    dst[i] = (float)(scale ? v * slope + inter : v);
  }
  return PET_OK;
}

/* Image params from the transform; rejects anything but diag(-vx, -vy, +vz). */
static pet_status params_from_header(const nifti_image *nim, const char *path,
                                     pet_image_params *p)
{
  double m[3][4];
  if (nim->sform_code > 0 || nim->qform_code > 0) {
    const mat44 *a = nim->sform_code > 0 ? &nim->sto_xyz : &nim->qto_xyz;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) m[r][c] = a->m[r][c];
  } else {
    /* No transform (NIfTI method 1): voxel sizes only, image centred in the scanner. */
    memset(m, 0, sizeof m);
    m[0][0] = -fabs((double)nim->dx);
    m[1][1] = -fabs((double)nim->dy);
    m[2][2] = fabs((double)nim->dz);
    m[0][3] = 0.5 * (nim->nx - 1) * fabs((double)nim->dx);
    m[1][3] = 0.5 * (nim->ny - 1) * fabs((double)nim->dy);
    m[2][3] = -0.5 * (nim->nz - 1) * fabs((double)nim->dz);
  }
  const char *which = nim->sform_code > 0 ? "sform" : nim->qform_code > 0 ? "qform" : "pixdim";
  double scale = fmax(fabs(m[0][0]), fmax(fabs(m[1][1]), fabs(m[2][2])));
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
      PET_CHECK(r == c || fabs(m[r][c]) <= 1e-6 * scale, PET_ERR_IO,
                "%s: the %s is rotated or sheared (element [%d][%d] = %g); only axis-aligned "
                "images are supported",
                path, which, r, c, m[r][c]);
  PET_CHECK(m[0][0] < 0 && m[1][1] < 0 && m[2][2] > 0, PET_ERR_IO,
            "%s: the %s diagonal (%g, %g, %g) does not have the signs (-, -, +) of the "
            "scanner-frame convention (flipped axes are not supported)",
            path, which, m[0][0], m[1][1], m[2][2]);
  double vx = -m[0][0], vy = -m[1][1], vz = m[2][2];
  double x0 = -m[0][3], y0 = -m[1][3], z0 = m[2][3];
  p->nx = nim->nx;
  p->ny = nim->ny;
  p->nz = nim->nz;
  p->length_x = (float)(vx * nim->nx);
  p->length_y = (float)(vy * nim->ny);
  p->length_z = (float)(vz * nim->nz);
  p->off_x = (float)(x0 + 0.5 * (nim->nx - 1) * vx);
  p->off_y = (float)(y0 + 0.5 * (nim->ny - 1) * vy);
  p->off_z = (float)(z0 + 0.5 * (nim->nz - 1) * vz);
  pet_status st = pet_image_params_check(p);
  if (st != PET_OK) return PET_ERROR(PET_ERR_IO, "%s: bad image geometry in the header", path);
  return PET_OK;
}

/* Reads nvox voxels at vox_offset (plain or gzip) into a new buffer, in host byte order. */
static pet_status read_voxels(const nifti_image *nim, const char *path, int64_t nvox, void **out)
{
  pet_status st = PET_OK;
  size_t bytes = (size_t)nvox * (size_t)nim->nbyper;
  char *buf = malloc(bytes ? bytes : 1);
  gzFile gz = NULL;

  PET_CHECK_GOTO(st, buf != NULL, PET_ERR_NOMEM, out, "%s: out of memory for %zu bytes", path,
                 bytes);
  gz = gzopen(path, "rb");
  PET_CHECK_GOTO(st, gz != NULL, PET_ERR_IO, out, "%s: cannot open: %s", path, strerror(errno));
  PET_CHECK_GOTO(st, gzseek(gz, (z_off_t)nim->iname_offset, SEEK_SET) == (z_off_t)nim->iname_offset,
                 PET_ERR_IO, out, "%s: truncated or corrupt NIfTI file (no data at offset %d)",
                 path, nim->iname_offset);
  for (size_t done = 0; done < bytes;) {
    size_t left = bytes - done;
    unsigned piece = left < ((size_t)1 << 30) ? (unsigned)left : (1u << 30);
    int got = gzread(gz, buf + done, piece);
    int zerr = Z_OK;
    const char *msg = got < 0 ? gzerror(gz, &zerr) : "end of file";
    PET_CHECK_GOTO(st, got == (int)piece, PET_ERR_IO, out,
                   "%s: truncated or corrupt NIfTI file (voxel data: %s after %zu of %zu bytes)",
                   path, msg, done + (got > 0 ? (size_t)got : 0), bytes);
    done += piece;
  }
  if (nim->nbyper > 1 && nim->byteorder != nifti_short_order())
    nifti_swap_Nbytes((size_t)nvox, nim->nbyper, buf);
  *out = buf;
  buf = NULL;
out:
  if (gz) gzclose(gz);
  free(buf);
  return st;
}

static pet_status read_frames(pet_image ***frames_out, int *nt_out, const char *path,
                              bool allow_4d)
{
  pet_status st = PET_OK;
  nifti_image *nim = NULL;
  void *raw = NULL;
  pet_image **frames = NULL;
  int nt = 0;
  int64_t dims[8];
  nifti_kind kind;
  pet_image_params p;

  PET_CHECK(frames_out && path, PET_ERR_ARG, "NIfTI read: NULL argument");
  *frames_out = NULL;
  PET_TRY(path_kind(path, &kind));
  PET_TRY(precheck(path, dims));
  PET_CHECK(dims[0] <= 4 && dims[5] == 1 && dims[6] == 1 && dims[7] == 1, PET_ERR_IO,
            "%s: %lld-dimensional NIfTI image; 3D or 4D (time) images only", path,
            (long long)dims[0]);
  PET_CHECK(allow_4d || dims[4] == 1, PET_ERR_IO,
            "%s: 4D NIfTI image with nt = %lld frames; pet_image_read_nifti reads 3D images "
            "only (use pet_image_read_nifti_4d for dynamic series)",
            path, (long long)dims[4]);

  /*
   * nifti_clib parses the header and builds the transforms; the voxels are read here, because
   * its znzread turns a gzread error into a huge "bytes read" count, so that a truncated
   * .nii.gz would load without complaint. nifti_clib reports through stderr at debug level >= 1
   * (its default); we report instead.
   */
  nifti_set_debug_level(0);
  nim = nifti_image_read(path, 0);
  nifti_set_debug_level(1);
  PET_CHECK_GOTO(st, nim != NULL, PET_ERR_IO, out, "%s: cannot read the NIfTI header", path);
  /* dims come from precheck: nifti_clib leaves dim[i] = 0 beyond dim[0] in some files. */
  nt = (int)dims[4];
  PET_CHECK_GOTO(st, nim->nx == dims[1] && nim->ny == dims[2] && nim->nz == dims[3] &&
                         nim->nbyper >= 1 && nim->nbyper <= 8,
                 PET_ERR_IO, out, "%s: inconsistent NIfTI header", path);
  PET_TRY_GOTO(st, read_voxels(nim, path, dims[1] * dims[2] * dims[3] * nt, &raw), out);
  PET_TRY_GOTO(st, params_from_header(nim, path, &p), out);

  frames = calloc((size_t)nt, sizeof *frames);
  PET_CHECK_GOTO(st, frames != NULL, PET_ERR_NOMEM, out, "%s: out of memory", path);
  int64_t nvox = pet_image_params_num_voxels(&p);
  for (int f = 0; f < nt; ++f) {
    PET_TRY_GOTO(st, pet_image_create_owned(&frames[f], p, PET_HOST), out);
    PET_TRY_GOTO(st, to_float(nim, raw, (int64_t)f * nvox, nvox, frames[f]->data, path), out);
  }
  *frames_out = frames;
  *nt_out = nt;
  frames = NULL;
out:
  pet_image_free_frames(&frames, nt);
  free(raw);
  if (nim) nifti_image_free(nim);
  return st;
}

pet_status pet_image_read_nifti(pet_image **img, const char *path)
{
  pet_image **frames = NULL;
  int nt = 0;
  PET_CHECK(img != NULL, PET_ERR_ARG, "pet_image_read_nifti: NULL output");
  *img = NULL;
  PET_TRY(read_frames(&frames, &nt, path, false));
  *img = frames[0];
  free(frames);
  return PET_OK;
}

pet_status pet_image_read_nifti_4d(pet_image ***frames, int *nt, const char *path)
{
  PET_CHECK(nt != NULL, PET_ERR_ARG, "pet_image_read_nifti_4d: NULL nt");
  return read_frames(frames, nt, path, true);
}

void pet_image_free_frames(pet_image ***frames, int nt)
{
  if (!frames || !*frames) return;
  for (int f = 0; f < nt; ++f) pet_image_destroy(&(*frames)[f]);
  free(*frames);
  *frames = NULL;
}
