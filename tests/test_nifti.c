/* NIfTI images: round trips in YRT-PET's convention, the header as specified, bad files. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nifti1_io.h>

#include "pet_nifti.h"
#include "pet_test_util.h"

static char g_dir[512];

static int setup(void **state)
{
  (void)state;
  pet_error_set_print(false);
  return pet_test_tmpdir(g_dir, sizeof g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  DIR *d = opendir(g_dir);
  if (d) {
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && !e->d_name[2])))
        continue;
      snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
      if (remove(p) != 0) rmdir(p);
    }
    closedir(d);
  }
  rmdir(g_dir);
  return 0;
}

static const char *tmp_path(char *buf, size_t len, const char *name)
{
  snprintf(buf, len, "%s/%s", g_dir, name);
  return buf;
}

/* Non-cubic voxels (2, 1.5, 2.5 mm), every offset non-zero, odd and even sizes. */
static pet_image *make_image(float seed)
{
  pet_image_params p = pet_image_params_make(5, 4, 3, 10.f, 6.f, 7.5f);
  p.off_x = 1.5f;
  p.off_y = -2.f;
  p.off_z = 3.25f;
  pet_image *img = NULL;
  assert_int_equal(pet_image_create_owned(&img, p, PET_HOST), PET_OK);
  for (int64_t i = 0; i < pet_image_num_voxels(img); ++i)
    img->data[i] = seed + 0.5f * (float)i - 3.f * pet_test_uniform((uint64_t)i);
  return img;
}

static void assert_same_image(const pet_image *a, const pet_image *b)
{
  assert_int_equal(a->params.nx, b->params.nx);
  assert_int_equal(a->params.ny, b->params.ny);
  assert_int_equal(a->params.nz, b->params.nz);
  assert_true(fabsf(a->params.length_x - b->params.length_x) < 1e-5f);
  assert_true(fabsf(a->params.length_y - b->params.length_y) < 1e-5f);
  assert_true(fabsf(a->params.length_z - b->params.length_z) < 1e-5f);
  assert_true(fabsf(a->params.off_x - b->params.off_x) < 1e-5f);
  assert_true(fabsf(a->params.off_y - b->params.off_y) < 1e-5f);
  assert_true(fabsf(a->params.off_z - b->params.off_z) < 1e-5f);
  assert_memory_equal(a->data, b->data, (size_t)pet_image_num_voxels(a) * sizeof(float));
}

/* The header, read back by nifti_clib itself, against shared/formats/yrtpet.md. */
static void assert_header_as_specified(const char *path, const pet_image_params *p, int nt)
{
  nifti_set_debug_level(0);
  nifti_image *nim = nifti_image_read(path, 0);
  assert_non_null(nim);
  assert_int_equal(nim->nifti_type, NIFTI_FTYPE_NIFTI1_1);
  assert_int_equal(nim->datatype, NIFTI_TYPE_FLOAT32);
  assert_int_equal(nim->ndim, nt > 0 ? 4 : 3);
  assert_int_equal(nim->nx, p->nx);
  assert_int_equal(nim->ny, p->ny);
  assert_int_equal(nim->nz, p->nz);
  assert_int_equal(nim->nt, nt > 0 ? nt : 1);
  double vx = (double)p->length_x / p->nx, vy = (double)p->length_y / p->ny,
         vz = (double)p->length_z / p->nz;
  assert_true(fabs(nim->dx - vx) < 1e-6 && fabs(nim->dy - vy) < 1e-6 && fabs(nim->dz - vz) < 1e-6);
  assert_int_equal(nim->qform_code, 0);
  assert_int_equal(nim->sform_code, 1);
  /* scanner-frame centre of voxel (0,0,0) */
  double x0 = (0 - (p->nx - 1) / 2.0) * vx + p->off_x;
  double y0 = (0 - (p->ny - 1) / 2.0) * vy + p->off_y;
  double z0 = (0 - (p->nz - 1) / 2.0) * vz + p->off_z;
  double want[3][4] = {{-vx, 0, 0, -x0}, {0, -vy, 0, -y0}, {0, 0, vz, z0}};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) assert_true(fabs(nim->sto_xyz.m[r][c] - want[r][c]) < 1e-5);
  /* and a voxel maps to RAS = (-x, -y, +z) of its scanner-frame centre */
  int i = 3, j = 1, k = 2;
  double x = (i - (p->nx - 1) / 2.0) * vx + p->off_x;
  double y = (j - (p->ny - 1) / 2.0) * vy + p->off_y;
  double z = (k - (p->nz - 1) / 2.0) * vz + p->off_z;
  float(*m)[4] = nim->sto_xyz.m;
  assert_true(fabs(m[0][0] * i + m[0][1] * j + m[0][2] * k + m[0][3] - (-x)) < 1e-5);
  assert_true(fabs(m[1][0] * i + m[1][1] * j + m[1][2] * k + m[1][3] - (-y)) < 1e-5);
  assert_true(fabs(m[2][0] * i + m[2][1] * j + m[2][2] * k + m[2][3] - z) < 1e-5);
  nifti_image_free(nim);
}

static void round_trip(const char *name, bool gz)
{
  char path[1024];
  tmp_path(path, sizeof path, name);
  pet_image *img = make_image(1.f), *back = NULL;
  assert_int_equal(pet_image_write_nifti(img, path), PET_OK);
  size_t size = 0;
  unsigned char *bytes = pet_test_read_file(path, &size);
  assert_non_null(bytes);
  if (gz) {
    assert_true(size > 2 && bytes[0] == 0x1f && bytes[1] == 0x8b);
  } else {
    assert_int_equal(size, 352 + 60 * 4);
    assert_memory_equal(bytes + 344, "n+1", 4);
  }
  free(bytes);
  assert_header_as_specified(path, &img->params, 0);
  assert_int_equal(pet_image_read_nifti(&back, path), PET_OK);
  assert_same_image(img, back);
  assert_int_equal(back->ownership, PET_OWNED);
  assert_int_equal(back->space, PET_HOST);
  pet_image_destroy(&back);
  pet_image_destroy(&img);
}

static void test_nifti_round_trip_nii(void **state)
{
  (void)state;
  round_trip("img.nii", false);
}

static void test_nifti_round_trip_nii_gz(void **state)
{
  (void)state;
  round_trip("img.nii.gz", true);
}

static void test_nifti_overwrite_leaves_no_temporaries(void **state)
{
  (void)state;
  char path[1024];
  tmp_path(path, sizeof path, "over.nii.gz");
  pet_image *a = make_image(1.f), *b = make_image(7.f), *back = NULL;
  assert_int_equal(pet_image_write_nifti(a, path), PET_OK);
  assert_int_equal(pet_image_write_nifti(b, path), PET_OK);
  assert_int_equal(pet_image_read_nifti(&back, path), PET_OK);
  assert_same_image(b, back);
  DIR *d = opendir(g_dir);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) assert_null(strstr(e->d_name, ".tmp"));
  closedir(d);
  pet_image_destroy(&back);
  pet_image_destroy(&a);
  pet_image_destroy(&b);
}

static void test_nifti_4d_round_trip_and_3d_reader_rejects_it(void **state)
{
  (void)state;
  char path[1024];
  tmp_path(path, sizeof path, "dyn.nii.gz");
  pet_image *f[3] = {make_image(1.f), make_image(2.f), make_image(3.f)};
  assert_int_equal(pet_image_write_nifti_4d((const pet_image *const *)f, 3, path), PET_OK);
  assert_header_as_specified(path, &f[0]->params, 3);

  pet_image *img = NULL;
  assert_int_equal(pet_image_read_nifti(&img, path), PET_ERR_IO);
  assert_null(img);
  assert_non_null(strstr(pet_last_error(), path));
  assert_non_null(strstr(pet_last_error(), "nt = 3"));

  pet_image **back = NULL;
  int nt = 0;
  assert_int_equal(pet_image_read_nifti_4d(&back, &nt, path), PET_OK);
  assert_int_equal(nt, 3);
  for (int i = 0; i < 3; ++i) assert_same_image(f[i], back[i]);
  pet_image_free_frames(&back, nt);
  assert_null(back);

  /* a 3D file reads as one frame */
  tmp_path(path, sizeof path, "one.nii");
  assert_int_equal(pet_image_write_nifti(f[1], path), PET_OK);
  assert_int_equal(pet_image_read_nifti_4d(&back, &nt, path), PET_OK);
  assert_int_equal(nt, 1);
  assert_same_image(f[1], back[0]);
  pet_image_free_frames(&back, nt);

  /* frames must share params */
  pet_image_params q = f[2]->params;
  q.off_x += 1.f;
  pet_image *other = NULL;
  assert_int_equal(pet_image_create_owned(&other, q, PET_HOST), PET_OK);
  const pet_image *mixed[2] = {f[0], other};
  tmp_path(path, sizeof path, "mixed.nii");
  assert_int_equal(pet_image_write_nifti_4d(mixed, 2, path), PET_ERR_ARG);
  assert_int_equal(access(path, F_OK), -1);
  pet_image_destroy(&other);
  for (int i = 0; i < 3; ++i) pet_image_destroy(&f[i]);
}

/* Writes a file through nifti_clib with a given transform and datatype. */
static void write_with_nifti_clib(const char *path, int datatype, const float sform[3][4],
                                  float slope, float inter)
{
  int dims[8] = {3, 4, 3, 2, 1, 1, 1, 1};
  nifti_image *nim = nifti_make_new_nim(dims, datatype, 1);
  assert_non_null(nim);
  nim->sform_code = 1;
  nim->qform_code = 0;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) nim->sto_xyz.m[r][c] = sform[r][c];
  nim->scl_slope = slope;
  nim->scl_inter = inter;
  if (datatype == NIFTI_TYPE_INT16)
    for (int i = 0; i < 24; ++i) ((short *)nim->data)[i] = (short)(i - 5);
  assert_int_equal(nifti_set_filenames(nim, path, 0, 1), 0);
  nifti_set_debug_level(0);
  nifti_image_write(nim);
  nifti_image_free(nim);
}

static void test_nifti_rotated_image_is_rejected(void **state)
{
  (void)state;
  char path[1024];
  tmp_path(path, sizeof path, "rot.nii");
  float c = cosf(0.3f), s = sinf(0.3f);
  const float rot[3][4] = {{-2 * c, -2 * s, 0, 1}, {2 * s, -2 * c, 0, 2}, {0, 0, 2, 3}};
  write_with_nifti_clib(path, NIFTI_TYPE_FLOAT32, rot, 1.f, 0.f);
  pet_image *img = NULL;
  assert_int_equal(pet_image_read_nifti(&img, path), PET_ERR_IO);
  assert_null(img);
  assert_non_null(strstr(pet_last_error(), path));
  assert_non_null(strstr(pet_last_error(), "rotated"));

  const float flipped[3][4] = {{2, 0, 0, 1}, {0, -2, 0, 2}, {0, 0, 2, 3}};
  tmp_path(path, sizeof path, "flip.nii");
  write_with_nifti_clib(path, NIFTI_TYPE_FLOAT32, flipped, 1.f, 0.f);
  assert_int_equal(pet_image_read_nifti(&img, path), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), "flipped"));
}

static void test_nifti_int16_is_converted_with_scaling(void **state)
{
  (void)state;
  char path[1024];
  tmp_path(path, sizeof path, "int16.nii.gz");
  /* voxel (0,0,0) at scanner (x0,y0,z0) = (-1, -2, 3); vx = vy = 2, vz = 4 */
  const float m[3][4] = {{-2, 0, 0, 1}, {0, -2, 0, 2}, {0, 0, 4, 3}};
  write_with_nifti_clib(path, NIFTI_TYPE_INT16, m, 0.5f, 1.f);
  pet_image *img = NULL;
  assert_int_equal(pet_image_read_nifti(&img, path), PET_OK);
  assert_int_equal(img->params.nx, 4);
  assert_int_equal(img->params.ny, 3);
  assert_int_equal(img->params.nz, 2);
  assert_true(fabsf(img->params.length_x - 8.f) < 1e-6f);
  assert_true(fabsf(img->params.length_z - 8.f) < 1e-6f);
  assert_true(fabsf(img->params.off_x - (-1.f + 1.5f * 2.f)) < 1e-6f);
  assert_true(fabsf(img->params.off_y - (-2.f + 1.f * 2.f)) < 1e-6f);
  assert_true(fabsf(img->params.off_z - (3.f + 0.5f * 4.f)) < 1e-6f);
  for (int i = 0; i < 24; ++i) assert_true(img->data[i] == 0.5f * (float)(i - 5) + 1.f);
  pet_image_destroy(&img);
}

static void expect_io_error(const char *path)
{
  pet_image *img = NULL;
  pet_status st = pet_image_read_nifti(&img, path);
  if (st != PET_ERR_IO) print_error("%s: got %s\n", path, pet_status_name(st));
  assert_int_equal(st, PET_ERR_IO);
  assert_null(img);
  assert_non_null(strstr(pet_last_error(), path));
}

static void write_bytes(const char *path, const void *buf, size_t n)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (n) assert_int_equal(fwrite(buf, 1, n, f), n);
  fclose(f);
}

static void test_nifti_bad_files_are_io_errors_naming_the_file(void **state)
{
  (void)state;
  char path[1024], bad[1024];
  pet_image *img = make_image(0.f);
  size_t size = 0;
  unsigned char *bytes;

  tmp_path(bad, sizeof bad, "missing.nii");
  expect_io_error(bad);

  tmp_path(bad, sizeof bad, "empty.nii");
  write_bytes(bad, "", 0);
  expect_io_error(bad);

  char garbage[2000];
  for (size_t i = 0; i < sizeof garbage; ++i)
    garbage[i] = (char)(pet_test_uniform(i) * 256.f);
  tmp_path(bad, sizeof bad, "garbage.nii");
  write_bytes(bad, garbage, sizeof garbage);
  expect_io_error(bad);
  tmp_path(bad, sizeof bad, "garbage.nii.gz");
  write_bytes(bad, garbage, sizeof garbage);
  expect_io_error(bad);

  /* truncated data (.nii), truncated header, truncated gzip stream */
  tmp_path(path, sizeof path, "good.nii");
  assert_int_equal(pet_image_write_nifti(img, path), PET_OK);
  bytes = pet_test_read_file(path, &size);
  tmp_path(bad, sizeof bad, "trunc.nii");
  write_bytes(bad, bytes, size - 7);
  expect_io_error(bad);
  assert_non_null(strstr(pet_last_error(), "truncated"));
  write_bytes(bad, bytes, 200);
  expect_io_error(bad);
  /* a corrupt dim in an otherwise good header */
  bytes[40] = 0xff;
  bytes[41] = 0xff; /* dim[0] = -1 */
  tmp_path(bad, sizeof bad, "baddim.nii");
  write_bytes(bad, bytes, size);
  expect_io_error(bad);
  free(bytes);

  tmp_path(path, sizeof path, "good.nii.gz");
  pet_image *big = NULL;
  pet_image_params bp = pet_image_params_make(64, 64, 16, 64.f, 64.f, 16.f);
  assert_int_equal(pet_image_create_owned(&big, bp, PET_HOST), PET_OK);
  for (int64_t i = 0; i < pet_image_num_voxels(big); ++i)
    big->data[i] = pet_test_uniform((uint64_t)i);
  assert_int_equal(pet_image_write_nifti(big, path), PET_OK);
  bytes = pet_test_read_file(path, &size);
  tmp_path(bad, sizeof bad, "trunc.nii.gz");
  write_bytes(bad, bytes, size / 2);
  expect_io_error(bad);
  write_bytes(bad, bytes, 20);
  expect_io_error(bad);
  free(bytes);
  pet_image_destroy(&big);

  /* a directory is not a file */
  tmp_path(bad, sizeof bad, "adir.nii");
  assert_int_equal(mkdir(bad, 0700), 0);
  expect_io_error(bad);
  rmdir(bad);

  /* wrong extension */
  pet_image *out = NULL;
  tmp_path(bad, sizeof bad, "img.hdr");
  assert_int_equal(pet_image_read_nifti(&out, bad), PET_ERR_ARG);
  assert_int_equal(pet_image_write_nifti(img, bad), PET_ERR_ARG);
  pet_image_destroy(&img);
}

static size_t count_entries(const char *dir)
{
  size_t n = 0;
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) ++n;
  closedir(d);
  return n;
}

static void test_nifti_failed_write_leaves_no_file(void **state)
{
  (void)state;
  char path[1200], sub[1024];
  pet_image *img = make_image(0.f);

  snprintf(path, sizeof path, "%s/no/such/dir/out.nii.gz", g_dir);
  size_t before = count_entries(g_dir);
  assert_int_equal(pet_image_write_nifti(img, path), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), path));
  assert_int_equal(count_entries(g_dir), before);

  /* the rename fails (the target is a non-empty directory): the temporary is removed */
  tmp_path(sub, sizeof sub, "busy.nii");
  assert_int_equal(mkdir(sub, 0700), 0);
  snprintf(path, sizeof path, "%s/keep", sub);
  write_bytes(path, "x", 1);
  before = count_entries(g_dir);
  assert_int_equal(pet_image_write_nifti(img, sub), PET_ERR_IO);
  assert_non_null(strstr(pet_last_error(), sub));
  assert_int_equal(count_entries(g_dir), before);
  remove(path);
  rmdir(sub);

  /* an image without host memory */
  pet_image *meta = NULL;
  assert_int_equal(pet_image_create(&meta, img->params, PET_OWNED, PET_HOST), PET_OK);
  tmp_path(path, sizeof path, "nodata.nii");
  assert_int_equal(pet_image_write_nifti(meta, path), PET_ERR_STATE);
  assert_int_equal(access(path, F_OK), -1);
  pet_image_destroy(&meta);
  pet_image_destroy(&img);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nifti_round_trip_nii),
      cmocka_unit_test(test_nifti_round_trip_nii_gz),
      cmocka_unit_test(test_nifti_overwrite_leaves_no_temporaries),
      cmocka_unit_test(test_nifti_4d_round_trip_and_3d_reader_rejects_it),
      cmocka_unit_test(test_nifti_rotated_image_is_rejected),
      cmocka_unit_test(test_nifti_int16_is_converted_with_scaling),
      cmocka_unit_test(test_nifti_bad_files_are_io_errors_naming_the_file),
      cmocka_unit_test(test_nifti_failed_write_leaves_no_file),
  };
  return cmocka_run_group_tests_name("nifti", tests, setup, teardown);
}
