/* The cylindrical field of view: scanner radius and image mask (pet_fov.h). */
#include "pet_fov.h"

#include <math.h>

float pet_scanner_fov_radius(const pet_scanner_params *sp)
{
  if (!sp) return 0.0f;
  return sp->fov_radius > 0.0f ? sp->fov_radius : sp->scanner_radius;
}

void pet_projector_params_set_fov(pet_projector_params *p, const pet_scanner_params *sp)
{
  if (p) p->fov_radius_mm = pet_scanner_fov_radius(sp);
}

static void mask_host(const pet_image_params *g, float *data, float radius)
{
  const float vx = g->length_x / (float)g->nx, vy = g->length_y / (float)g->ny;
  const double r2 = (double)radius * radius;
  const int64_t nxy = (int64_t)g->nx * g->ny;
  for (int32_t j = 0; j < g->ny; ++j) {
    const double y = g->off_y - 0.5 * g->length_y + (j + 0.5) * vy;
    for (int32_t i = 0; i < g->nx; ++i) {
      const double x = g->off_x - 0.5 * g->length_x + (i + 0.5) * vx;
      if (x * x + y * y <= r2) continue;
      for (int32_t k = 0; k < g->nz; ++k) data[k * nxy + (int64_t)j * g->nx + i] = 0.0f;
    }
  }
}

pet_status pet_image_mask_fov(pet_image *img, float radius)
{
  PET_CHECK(img, PET_ERR_ARG, "image FOV mask: NULL image");
  PET_CHECK(!isnan(radius), PET_ERR_ARG, "image FOV mask: radius is NaN");
  if (!(radius > 0.0f)) return PET_OK;
  PET_TRY(pet_image_require(img, img->space));
  if (img->space == PET_HOST) {
    mask_host(&img->params, img->data, radius);
    return PET_OK;
  }
  pet_image *tmp = NULL;
  PET_TRY(pet_image_create_owned(&tmp, img->params, PET_HOST));
  pet_status st = pet_image_copy(tmp, img);
  if (st == PET_OK) {
    mask_host(&tmp->params, tmp->data, radius);
    st = pet_image_copy(img, tmp);
  }
  pet_image_destroy(&tmp);
  return st;
}
