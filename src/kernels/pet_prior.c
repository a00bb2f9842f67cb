/* petrel: priors on host images (pet_prior.h): OpenMP loops over the voxel workers of
 * pet_prior_kernel.h. */
#include "pet_prior.h"

#include <math.h>
#include <string.h>

#include "pet_prior_kernel.h"

static const char *const kind_names[] = {"none", "rdp", "quadratic"};
static const char *const algorithm_names[] = {"osem", "osl", "bsrem"};

pet_prior_params pet_prior_params_default(void)
{
  pet_prior_params p;
  p.kind = PET_PRIOR_NONE;
  p.beta = 0.0f;
  p.gamma = 2.0f;
  p.epsilon = 1e-7f;
  return p;
}

const char *pet_prior_kind_name(pet_prior_kind k) { return (unsigned)k < 3 ? kind_names[k] : "?"; }

const char *pet_osem_algorithm_name(pet_osem_algorithm a)
{
  return (unsigned)a < 3 ? algorithm_names[a] : "?";
}

pet_status pet_prior_kind_parse(const char *name, pet_prior_kind *k)
{
  PET_CHECK(name != NULL && k != NULL, PET_ERR_ARG, "prior: NULL name");
  for (int i = 0; i < 3; ++i)
    if (strcmp(name, kind_names[i]) == 0) {
      *k = (pet_prior_kind)i;
      return PET_OK;
    }
  return PET_ERROR(PET_ERR_CONFIG, "prior: unknown prior \"%s\" (none, rdp or quadratic)", name);
}

pet_status pet_osem_algorithm_parse(const char *name, pet_osem_algorithm *a)
{
  PET_CHECK(name != NULL && a != NULL, PET_ERR_ARG, "algorithm: NULL name");
  for (int i = 0; i < 3; ++i)
    if (strcmp(name, algorithm_names[i]) == 0) {
      *a = (pet_osem_algorithm)i;
      return PET_OK;
    }
  return PET_ERROR(PET_ERR_CONFIG, "algorithm: unknown algorithm \"%s\" (osem, osl or bsrem)", name);
}

pet_status pet_prior_params_check(const pet_prior_params *p)
{
  PET_CHECK(p != NULL, PET_ERR_ARG, "prior: NULL parameters");
  PET_CHECK((unsigned)p->kind < 3, PET_ERR_CONFIG, "prior: unknown prior kind %d (none, rdp or quadratic)",
            (int)p->kind);
  PET_CHECK(isfinite(p->beta) && p->beta >= 0.0f, PET_ERR_CONFIG, "prior: beta must be finite and >= 0 (got %g)",
            (double)p->beta);
  PET_CHECK(isfinite(p->gamma) && p->gamma >= 0.0f, PET_ERR_CONFIG, "prior: gamma must be finite and >= 0 (got %g)",
            (double)p->gamma);
  PET_CHECK(isfinite(p->epsilon) && p->epsilon >= 0.0f, PET_ERR_CONFIG,
            "prior: epsilon must be finite and >= 0 (got %g)", (double)p->epsilon);
  return PET_OK;
}

pet_status pet_prior_value(const pet_prior_params *p, const pet_image *x, double *value)
{
  PET_CHECK(value != NULL, PET_ERR_ARG, "prior: NULL output");
  PET_TRY(pet_prior_params_check(p));
  PET_TRY(pet_image_require(x, PET_HOST));
  const pet_prior_kernel k = pet_prior_kernel_make(p, &x->params);
  const float *xv = x->data;
  double sum = 0.0;
  if (p->kind != PET_PRIOR_NONE) {
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (int32_t l = 0; l < k.nz; ++l)
      for (int32_t j = 0; j < k.ny; ++j)
        for (int32_t i = 0; i < k.nx; ++i) sum += pet_prior_value_voxel(&k, xv, i, j, l);
  }
  *value = (double)p->beta * sum;
  return PET_OK;
}

pet_status pet_prior_gradient_slab(const pet_prior_params *p, const pet_image *x, int32_t z0, int32_t z1,
                                   float *out)
{
  PET_TRY(pet_prior_params_check(p));
  PET_TRY(pet_image_require(x, PET_HOST));
  PET_CHECK(out != NULL || z1 == z0, PET_ERR_ARG, "prior: NULL gradient buffer");
  PET_CHECK(z0 >= 0 && z0 <= z1 && z1 <= x->params.nz, PET_ERR_ARG,
            "prior: slices [%d, %d) outside the image's %d", z0, z1, x->params.nz);
  const pet_prior_kernel k = pet_prior_kernel_make(p, &x->params);
  const float *xv = x->data;
  const int64_t nxy = (int64_t)k.nx * k.ny;
#pragma omp parallel for collapse(2) schedule(static)
  for (int32_t l = z0; l < z1; ++l)
    for (int32_t j = 0; j < k.ny; ++j) {
      float *row = out + (int64_t)(l - z0) * nxy + (int64_t)j * k.nx;
      for (int32_t i = 0; i < k.nx; ++i) row[i] = pet_prior_grad_voxel(&k, xv, i, j, l);
    }
  return PET_OK;
}

pet_status pet_prior_gradient(const pet_prior_params *p, const pet_image *x, pet_image *grad)
{
  PET_TRY(pet_image_require(x, PET_HOST));
  PET_TRY(pet_image_require(grad, PET_HOST));
  PET_CHECK(pet_image_params_equal(&x->params, &grad->params), PET_ERR_ARG,
            "prior: the gradient image is not on the image's grid");
  return pet_prior_gradient_slab(p, x, 0, x->params.nz, grad->data);
}
