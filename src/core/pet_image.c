#include "pet_image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pet_storage.h"

pet_image_params pet_image_params_make(int32_t nx, int32_t ny, int32_t nz, float length_x,
                                       float length_y, float length_z)
{
  pet_image_params p;
  memset(&p, 0, sizeof p);
  p.nx = nx;
  p.ny = ny;
  p.nz = nz;
  p.length_x = length_x;
  p.length_y = length_y;
  p.length_z = length_z;
  return p;
}

pet_status pet_image_params_check(const pet_image_params *p)
{
  PET_CHECK(p != NULL, PET_ERR_ARG, "image params: NULL");
  PET_CHECK(p->nx > 0 && p->ny > 0 && p->nz > 0, PET_ERR_ARG,
            "image params: nx, ny, nz must be > 0 (got %d, %d, %d)", p->nx, p->ny, p->nz);
  PET_CHECK(isfinite(p->length_x) && isfinite(p->length_y) && isfinite(p->length_z) &&
                p->length_x > 0 && p->length_y > 0 && p->length_z > 0,
            PET_ERR_ARG, "image params: length_x/y/z must be finite and > 0 (got %g, %g, %g)",
            (double)p->length_x, (double)p->length_y, (double)p->length_z);
  PET_CHECK(isfinite(p->off_x) && isfinite(p->off_y) && isfinite(p->off_z), PET_ERR_ARG,
            "image params: off_x/y/z must be finite");
  PET_CHECK((int64_t)p->nx * p->ny * p->nz < ((int64_t)1 << 40), PET_ERR_ARG,
            "image params: %d x %d x %d voxels is too many", p->nx, p->ny, p->nz);
  return PET_OK;
}

int64_t pet_image_params_num_voxels(const pet_image_params *p)
{
  return (int64_t)p->nx * p->ny * p->nz;
}

bool pet_image_params_equal(const pet_image_params *a, const pet_image_params *b)
{
  const float tol = 1e-4f;
  return a->nx == b->nx && a->ny == b->ny && a->nz == b->nz &&
         fabsf(a->length_x - b->length_x) <= tol && fabsf(a->length_y - b->length_y) <= tol &&
         fabsf(a->length_z - b->length_z) <= tol && fabsf(a->off_x - b->off_x) <= tol &&
         fabsf(a->off_y - b->off_y) <= tol && fabsf(a->off_z - b->off_z) <= tol;
}

pet_status pet_image_create(pet_image **img, pet_image_params params, pet_ownership ownership,
                            pet_memspace space)
{
  PET_CHECK(img != NULL, PET_ERR_ARG, "pet_image_create: NULL output pointer");
  *img = NULL;
  PET_TRY(pet_image_params_check(&params));
  pet_image *im = calloc(1, sizeof *im);
  PET_CHECK(im != NULL, PET_ERR_NOMEM, "pet_image_create: out of host memory");
  im->params = params;
  im->ownership = ownership;
  im->space = space;
  *img = im;
  return PET_OK;
}

/* The image's memory as a pet_storage (the public fields stay its one record). */
static pet_storage image_storage(const pet_image *img)
{
  return pet_storage_make(img->data, pet_image_num_voxels(img), sizeof(float), img->ownership,
                          img->space);
}

pet_status pet_image_allocate(pet_image *img)
{
  PET_CHECK(img != NULL, PET_ERR_ARG, "image: NULL");
  pet_storage st = image_storage(img);
  PET_TRY(pet_storage_allocate(&st, "image"));
  img->data = st.data;
  return PET_OK;
}

pet_status pet_image_bind(pet_image *img, float *data)
{
  PET_CHECK(img != NULL, PET_ERR_ARG, "image: NULL");
  pet_storage st = image_storage(img);
  PET_TRY(pet_storage_bind(&st, data, "image"));
  img->data = st.data;
  return PET_OK;
}

pet_status pet_image_create_owned(pet_image **img, pet_image_params params, pet_memspace space)
{
  PET_TRY(pet_image_create(img, params, PET_OWNED, space));
  pet_status st = pet_image_allocate(*img);
  if (st != PET_OK) pet_image_destroy(img);
  return st;
}

pet_status pet_image_create_alias(pet_image **img, pet_image_params params, float *data,
                                  pet_memspace space)
{
  PET_TRY(pet_image_create(img, params, PET_ALIAS, space));
  pet_status st = pet_image_bind(*img, data);
  if (st != PET_OK) pet_image_destroy(img);
  return st;
}

void pet_image_destroy(pet_image **img)
{
  if (img == NULL || *img == NULL) return;
  pet_image *im = *img;
  pet_storage st = image_storage(im);
  pet_storage_release(&st);
  free(im);
  *img = NULL;
}

pet_status pet_image_require(const pet_image *img, pet_memspace space)
{
  PET_CHECK(img != NULL, PET_ERR_ARG, "image: NULL");
  pet_storage st = image_storage(img);
  return pet_storage_require_space(&st, space, "image");
}

int64_t pet_image_num_voxels(const pet_image *img) { return pet_image_params_num_voxels(&img->params); }

pet_status pet_image_fill(pet_image *img, float value)
{
  PET_CHECK(img != NULL, PET_ERR_ARG, "image: NULL");
  pet_storage st = image_storage(img);
  return pet_storage_fill_f32(&st, value, "image");
}

pet_status pet_image_copy(pet_image *dst, const pet_image *src)
{
  PET_CHECK(dst != NULL && src != NULL, PET_ERR_ARG, "image copy: NULL image");
  PET_TRY(pet_image_require(dst, dst->space));
  PET_TRY(pet_image_require(src, src->space));
  PET_CHECK(pet_image_params_equal(&dst->params, &src->params), PET_ERR_ARG,
            "image copy: geometries differ (%dx%dx%d vs %dx%dx%d)", dst->params.nx,
            dst->params.ny, dst->params.nz, src->params.nx, src->params.ny, src->params.nz);
  pet_storage d = image_storage(dst), s = image_storage(src);
  return pet_storage_copy(&d, &s, "image");
}

pet_status pet_image_check_values(const pet_image *img, const char *what, bool allow_negative)
{
  PET_CHECK(img != NULL, PET_ERR_ARG, "%s: NULL image", what ? what : "image");
  PET_TRY(pet_image_require(img, PET_HOST));
  const pet_image_params *p = &img->params;
  const int64_t n = pet_image_num_voxels(img);
  for (int64_t v = 0; v < n; ++v) {
    const float x = img->data[v];
    if (isfinite(x) && (allow_negative || x >= 0.0f)) continue;
    const int64_t i = v % p->nx, j = (v / p->nx) % p->ny, k = v / ((int64_t)p->nx * p->ny);
    return PET_ERROR(PET_ERR_ARG, "%s: voxel (%lld, %lld, %lld) holds %g (voxels must be finite%s)",
                     what ? what : "image", (long long)i, (long long)j, (long long)k, (double)x,
                     allow_negative ? "" : " and >= 0");
  }
  return PET_OK;
}

static int cmp_float(const void *a, const void *b)
{
  const float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Median of the values above `floor` (0 if none). */
static double median_above(const float *v, int64_t n, float floor)
{
  int64_t m = 0;
  for (int64_t i = 0; i < n; ++i) m += v[i] > floor;
  if (m == 0) return 0.0;
  float *buf = malloc((size_t)m * sizeof *buf);
  if (buf == NULL) return 0.0; /* the check is a plausibility test: skip it rather than fail */
  for (int64_t i = 0, j = 0; i < n; ++i)
    if (v[i] > floor) buf[j++] = v[i];
  qsort(buf, (size_t)m, sizeof *buf, cmp_float);
  const double med = buf[m / 2];
  free(buf);
  return med;
}

pet_status pet_image_check_mu(const pet_image *img, const char *what)
{
  PET_TRY(pet_image_check_values(img, what, false));
  const pet_image_params *p = &img->params;
  const int64_t n = pet_image_num_voxels(img);
  double sum = 0.0;
  int64_t vmax = 0;
  for (int64_t v = 0; v < n; ++v) {
    sum += img->data[v];
    if (img->data[v] > img->data[vmax]) vmax = v;
  }
  const double mean = n > 0 ? sum / (double)n : 0.0, top = n > 0 ? img->data[vmax] : 0.0;
  const double typical = median_above(img->data, n, (float)PET_MU_AIR_PER_MM);
  if (top > PET_MU_MAX_PER_MM || mean > PET_MU_MEAN_MAX_PER_MM || typical > PET_MU_TYPICAL_MAX_PER_MM) {
    const int64_t i = vmax % p->nx, j = (vmax / p->nx) % p->ny, k = vmax / ((int64_t)p->nx * p->ny);
    return PET_ERROR(PET_ERR_ARG,
                     "%s: implausible attenuation coefficients for 1/mm (largest %g at voxel (%lld, %lld, "
                     "%lld), mean %g, median of the non-air voxels %g; a mu-map must be in 1/mm: water is "
                     "0.0096 /mm; none above %g /mm, mean at most %g /mm, median of the voxels above %g /mm at "
                     "most %g /mm; values in 1/cm are 10x too large)",
                     what ? what : "mu-map", top, (long long)i, (long long)j, (long long)k, mean, typical,
                     PET_MU_MAX_PER_MM, PET_MU_MEAN_MAX_PER_MM, PET_MU_AIR_PER_MM, PET_MU_TYPICAL_MAX_PER_MM);
  }
  return PET_OK;
}
