/* Priors (pet_prior.h): analytic values of small images, the gradient against a central finite
 * difference of the value, the invariances of each penalty, the slab gradient, bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_prior.h"
#include "pet_test_util.h"

static pet_prior_params prior(pet_prior_kind kind, float beta, float gamma, float eps)
{
  pet_prior_params p = pet_prior_params_default();
  p.kind = kind;
  p.beta = beta;
  p.gamma = gamma;
  p.epsilon = eps;
  return p;
}

/* A positive random image on an anisotropic grid (voxels 2 x 2.5 x 3 mm). */
static pet_image *random_image(uint64_t seed)
{
  pet_image *x = NULL;
  assert_int_equal(pet_image_create_owned(&x, pet_image_params_make(7, 6, 5, 14.f, 15.f, 15.f), PET_HOST),
                   PET_OK);
  for (int64_t v = 0; v < pet_image_num_voxels(x); ++v)
    x->data[v] = 0.2f + 2.0f * pet_test_uniform(seed * 1000003u + (uint64_t)v);
  return x;
}

static double value_of(const pet_prior_params *p, const pet_image *x)
{
  double u = NAN;
  assert_int_equal(pet_prior_value(p, x, &u), PET_OK);
  return u;
}

static void test_two_voxel_values_are_analytic(void **state)
{
  (void)state;
  pet_image *x = NULL;
  /* two voxels along x (1 mm), then along z with vz = 2 vx: w = vx / distance = 1/2 */
  assert_int_equal(pet_image_create_owned(&x, pet_image_params_make(2, 1, 1, 2.f, 1.f, 1.f), PET_HOST), PET_OK);
  x->data[0] = 3.0f;
  x->data[1] = 1.0f;
  const pet_prior_params q = prior(PET_PRIOR_QUADRATIC, 0.5f, 2.0f, 0.0f);
  /* both ordered pairs: 0.5 * 2 * (3 - 1)^2 / 2 */
  assert_float_equal(value_of(&q, x), 2.0, 1e-12);
  const pet_prior_params r = prior(PET_PRIOR_RDP, 0.5f, 2.0f, 0.25f);
  /* 0.5 * 2 * 4 / (3 + 1 + 2 * 2 + 0.25) */
  assert_float_equal(value_of(&r, x), 4.0 / 8.25, 1e-7);
  pet_image *g = NULL;
  assert_int_equal(pet_image_create_owned(&g, x->params, PET_HOST), PET_OK);
  assert_int_equal(pet_prior_gradient(&q, x, g), PET_OK);
  assert_float_equal(g->data[0], 2.0 * 0.5 * 2.0, 1e-6); /* 2 beta w (a - b) */
  assert_float_equal(g->data[1], -2.0, 1e-6);
  assert_int_equal(pet_prior_gradient(&r, x, g), PET_OK);
  /* 2 beta (a - b)(a + 3b + gamma |a - b| + 2 eps) / den^2 at a = 3, b = 1, and a = 1, b = 3 */
  assert_float_equal(g->data[0], 2.0 * 0.5 * 2.0 * (3 + 3 + 4 + 0.5) / (8.25 * 8.25), 1e-6);
  assert_float_equal(g->data[1], 2.0 * 0.5 * -2.0 * (1 + 9 + 4 + 0.5) / (8.25 * 8.25), 1e-6);
  pet_image_destroy(&g);
  pet_image_destroy(&x);
  assert_int_equal(pet_image_create_owned(&x, pet_image_params_make(1, 1, 2, 1.f, 1.f, 4.f), PET_HOST), PET_OK);
  x->data[0] = 3.0f;
  x->data[1] = 1.0f;
  assert_float_equal(value_of(&q, x), 0.5 * 0.5 * 2 * 4 / 2, 1e-12);
  pet_image_destroy(&x);
}

/* dU/dx_j against (U(x + h e_j) - U(x - h e_j)) / 2h for every voxel of a random image. */
static void check_gradient_fd(const pet_prior_params *p)
{
  pet_image *x = random_image(11), *g = NULL;
  assert_int_equal(pet_image_create_owned(&g, x->params, PET_HOST), PET_OK);
  assert_int_equal(pet_prior_gradient(p, x, g), PET_OK);
  double gmax = 0.0;
  for (int64_t v = 0; v < pet_image_num_voxels(x); ++v) gmax = fmax(gmax, fabs(g->data[v]));
  assert_true(gmax > 0.0);
  for (int64_t v = 0; v < pet_image_num_voxels(x); ++v) {
    const float x0 = x->data[v];
    const float xp = x0 + 1e-2f, xm = x0 - 1e-2f;
    x->data[v] = xp;
    const double up = value_of(p, x);
    x->data[v] = xm;
    const double um = value_of(p, x);
    x->data[v] = x0;
    const double fd = (up - um) / ((double)xp - (double)xm);
    if (fabs(fd - g->data[v]) > 2e-4 * gmax + 1e-4 * fabs(fd))
      fail_msg("%s: voxel %lld: gradient %.8g, finite difference %.8g", pet_prior_kind_name(p->kind), (long long)v,
               (double)g->data[v], fd);
  }
  pet_image_destroy(&g);
  pet_image_destroy(&x);
}

static void test_rdp_gradient_is_the_finite_difference_of_its_value(void **state)
{
  (void)state;
  pet_prior_params p = prior(PET_PRIOR_RDP, 0.7f, 2.0f, 1e-7f);
  check_gradient_fd(&p);
  p.gamma = 0.0f;
  p.epsilon = 0.1f;
  check_gradient_fd(&p);
}

static void test_quadratic_gradient_is_the_finite_difference_of_its_value(void **state)
{
  (void)state;
  const pet_prior_params p = prior(PET_PRIOR_QUADRATIC, 0.3f, 2.0f, 0.0f);
  check_gradient_fd(&p);
}

/* The quadratic penalty does not change under x + c (so its gradient sums to 0); the RDP with
 * epsilon 0 is homogeneous of degree 1 (U(c x) = c U(x), so sum_j x_j dU/dx_j = U(x), Euler);
 * a uniform image has no penalty and a zero gradient. */
static void test_penalty_invariances(void **state)
{
  (void)state;
  pet_image *x = random_image(5), *g = NULL;
  assert_int_equal(pet_image_create_owned(&g, x->params, PET_HOST), PET_OK);
  const int64_t nv = pet_image_num_voxels(x);
  const pet_prior_params q = prior(PET_PRIOR_QUADRATIC, 0.4f, 0.0f, 0.0f);
  const double uq = value_of(&q, x);
  assert_true(uq > 0.0);
  assert_int_equal(pet_prior_gradient(&q, x, g), PET_OK);
  double sum = 0.0, sum_abs = 0.0;
  for (int64_t v = 0; v < nv; ++v) {
    sum += g->data[v];
    sum_abs += fabs(g->data[v]);
  }
  assert_true(fabs(sum) < 1e-5 * sum_abs);
  for (int64_t v = 0; v < nv; ++v) x->data[v] += 1.0f; /* exact in float for these values */
  assert_true(pet_test_reldiff(value_of(&q, x), uq) < 1e-5);

  const pet_prior_params r = prior(PET_PRIOR_RDP, 1.5f, 2.0f, 0.0f);
  const double ur = value_of(&r, x);
  assert_int_equal(pet_prior_gradient(&r, x, g), PET_OK);
  double euler = 0.0;
  for (int64_t v = 0; v < nv; ++v) euler += (double)x->data[v] * g->data[v];
  assert_true(pet_test_reldiff(euler, ur) < 1e-5);
  for (int64_t v = 0; v < nv; ++v) x->data[v] *= 4.0f; /* exact */
  assert_true(pet_test_reldiff(value_of(&r, x), 4.0 * ur) < 1e-6);

  pet_image_fill(x, 2.5f);
  assert_float_equal(value_of(&r, x), 0.0, 0.0);
  assert_float_equal(value_of(&q, x), 0.0, 0.0);
  assert_int_equal(pet_prior_gradient(&r, x, g), PET_OK);
  for (int64_t v = 0; v < nv; ++v) assert_float_equal(g->data[v], 0.0, 0.0);
  /* RDP with epsilon 0 on an all-zero image: 0 / 0 pairs contribute 0, not NaN */
  pet_image_fill(x, 0.0f);
  assert_float_equal(value_of(&r, x), 0.0, 0.0);
  assert_int_equal(pet_prior_gradient(&r, x, g), PET_OK);
  for (int64_t v = 0; v < nv; ++v) assert_float_equal(g->data[v], 0.0, 0.0);
  /* no prior, or beta 0: nothing */
  const pet_prior_params none = pet_prior_params_default();
  x->data[3] = 5.0f;
  assert_float_equal(value_of(&none, x), 0.0, 0.0);
  const pet_prior_params zero = prior(PET_PRIOR_RDP, 0.0f, 2.0f, 1e-7f);
  assert_float_equal(value_of(&zero, x), 0.0, 0.0);
  pet_image_destroy(&g);
  pet_image_destroy(&x);
}

/* A slab's gradient (what each rank computes with the slab update) is the whole image's on
 * those slices: the slices next to the slab are read, not cut off. */
static void test_slab_gradient_equals_the_whole_images_slices(void **state)
{
  (void)state;
  pet_image *x = random_image(9), *g = NULL;
  assert_int_equal(pet_image_create_owned(&g, x->params, PET_HOST), PET_OK);
  const pet_prior_params r = prior(PET_PRIOR_RDP, 1.0f, 2.0f, 1e-7f);
  assert_int_equal(pet_prior_gradient(&r, x, g), PET_OK);
  const int64_t nxy = (int64_t)x->params.nx * x->params.ny;
  float *slab = malloc((size_t)(3 * nxy) * sizeof(float));
  assert_non_null(slab);
  assert_int_equal(pet_prior_gradient_slab(&r, x, 1, 4, slab), PET_OK);
  assert_memory_equal(slab, g->data + nxy, (size_t)(3 * nxy) * sizeof(float));
  assert_int_equal(pet_prior_gradient_slab(&r, x, 4, 5, slab), PET_OK);
  assert_memory_equal(slab, g->data + 4 * nxy, (size_t)nxy * sizeof(float));
  assert_int_equal(pet_prior_gradient_slab(&r, x, 2, 2, slab), PET_OK); /* an empty slab */
  assert_int_equal(pet_prior_gradient_slab(&r, x, 3, 6, slab), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "slices"));
  free(slab);
  pet_image_destroy(&g);
  pet_image_destroy(&x);
}

static void test_bad_prior_input_is_a_clear_error(void **state)
{
  (void)state;
  pet_image *x = random_image(3), *g = NULL;
  double u = 0.0;
  pet_prior_params p = prior(PET_PRIOR_RDP, -1.0f, 2.0f, 1e-7f);
  assert_int_equal(pet_prior_value(&p, x, &u), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "beta"));
  p = prior(PET_PRIOR_RDP, 1.0f, NAN, 1e-7f);
  assert_int_equal(pet_prior_value(&p, x, &u), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "gamma"));
  p = prior(PET_PRIOR_RDP, 1.0f, 2.0f, -1e-3f);
  assert_int_equal(pet_prior_value(&p, x, &u), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "epsilon"));
  p = prior((pet_prior_kind)7, 1.0f, 2.0f, 0.0f);
  assert_int_equal(pet_prior_value(&p, x, &u), PET_ERR_CONFIG);
  pet_prior_kind k = PET_PRIOR_NONE;
  assert_int_equal(pet_prior_kind_parse("tv", &k), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "\"tv\""));
  assert_int_equal(pet_prior_kind_parse("quadratic", &k), PET_OK);
  assert_int_equal(k, PET_PRIOR_QUADRATIC);
  assert_string_equal(pet_prior_kind_name(PET_PRIOR_RDP), "rdp");
  pet_osem_algorithm a = PET_OSEM_ALG_OSEM;
  assert_int_equal(pet_osem_algorithm_parse("mapem", &a), PET_ERR_CONFIG);
  assert_non_null(strstr(pet_last_error(), "\"mapem\""));
  assert_int_equal(pet_osem_algorithm_parse("bsrem", &a), PET_OK);
  assert_int_equal(a, PET_OSEM_ALG_BSREM);
  assert_string_equal(pet_osem_algorithm_name(PET_OSEM_ALG_OSL), "osl");

  p = prior(PET_PRIOR_RDP, 1.0f, 2.0f, 1e-7f);
  assert_int_equal(pet_prior_value(&p, x, NULL), PET_ERR_ARG);
  assert_int_equal(pet_prior_value(NULL, x, &u), PET_ERR_ARG);
  assert_int_equal(pet_prior_gradient(&p, x, NULL), PET_ERR_ARG);
  assert_int_equal(pet_image_create_owned(&g, pet_image_params_make(7, 6, 4, 14.f, 15.f, 12.f), PET_HOST), PET_OK);
  assert_int_equal(pet_prior_gradient(&p, x, g), PET_ERR_ARG); /* another grid */
  assert_non_null(strstr(pet_last_error(), "grid"));
  pet_image_destroy(&g);
  pet_image *unbound = NULL;
  assert_int_equal(pet_image_create(&unbound, x->params, PET_ALIAS, PET_HOST), PET_OK);
  assert_int_equal(pet_prior_value(&p, unbound, &u), PET_ERR_STATE);
  pet_image_destroy(&unbound);
  pet_image_destroy(&x);
}

int main(void)
{
  pet_error_set_print(false);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_voxel_values_are_analytic),
      cmocka_unit_test(test_rdp_gradient_is_the_finite_difference_of_its_value),
      cmocka_unit_test(test_quadratic_gradient_is_the_finite_difference_of_its_value),
      cmocka_unit_test(test_penalty_invariances),
      cmocka_unit_test(test_slab_gradient_equals_the_whole_images_slices),
      cmocka_unit_test(test_bad_prior_input_is_a_clear_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
