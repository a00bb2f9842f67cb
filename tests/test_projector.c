/* Projectors (Siddon, multi-ray Siddon, distance-driven; TOF): analytic chords, geometry of
 * a hot voxel, adjointness, DD vs Siddon, TOF tiling, argument errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pet_projector.h"
#include "pet_projector_cases.h"
#include "pet_projector_kernel.h"
#include "pet_test_util.h"

/* Exact chord of the segment p -> q through the box of g, in double (slab method). */
static double box_chord(const pet_image_params *g, const float *l)
{
  double lo[3] = {g->off_x - 0.5 * g->length_x, g->off_y - 0.5 * g->length_y,
                  g->off_z - 0.5 * g->length_z};
  double hi[3] = {g->off_x + 0.5 * g->length_x, g->off_y + 0.5 * g->length_y,
                  g->off_z + 0.5 * g->length_z};
  double d[3], a0 = 0.0, a1 = 1.0, len = 0.0;
  for (int c = 0; c < 3; ++c) {
    d[c] = (double)l[3 + c] - (double)l[c];
    len += d[c] * d[c];
  }
  len = sqrt(len);
  if (len == 0.0) return 0.0;
  for (int c = 0; c < 3; ++c) {
    if (fabs(d[c]) < 1e-6) {
      if (!(l[c] > lo[c] && l[c] < hi[c])) return 0.0;
      continue;
    }
    double t0 = (lo[c] - l[c]) / d[c], t1 = (hi[c] - l[c]) / d[c];
    a0 = fmax(a0, fmin(t0, t1));
    a1 = fmin(a1, fmax(t0, t1));
  }
  return a1 > a0 ? (a1 - a0) * len : 0.0;
}

static pet_image *make_image(pet_image_params g, float value)
{
  pet_image *img = NULL;
  assert_int_equal(pet_image_create_owned(&img, g, PET_HOST), PET_OK);
  assert_int_equal(pet_image_fill(img, value), PET_OK);
  return img;
}

static float project_one(const pet_projector_params *p, const float *lor, const float *orient,
                         const pet_image *img)
{
  pet_lor_batch b = {1, lor, orient, NULL};
  float y = -1.0f;
  assert_int_equal(pet_project_fwd_cpu(p, &b, img, &y), PET_OK);
  return y;
}

static void check_close(const char *what, const char *name, double got, double want, double tol)
{
  double err = fabs(got - want) / fmax(fabs(want), 1.0);
  if (err > tol) {
    print_error("%s %s: got %.9g want %.9g (rel err %.3g > %.3g)\n", what, name, got, want, err,
                tol);
    fail();
  }
}

static void test_projector_siddon_gives_chord_lengths(void **state)
{
  (void)state;
  pet_projector_params p = pet_projector_params_default();
  for (int c = 0; c < PET_PROJECTOR_NUM_CASES; ++c) {
    const pet_projector_case *k = &pet_projector_cases[c];
    pet_image *img = make_image(k->g, 1.0f);
    check_close("siddon", k->name, project_one(&p, k->lor, NULL, img), k->chord_mm, 1e-5);
    /* and against the double-precision slab chord of the test itself */
    check_close("siddon/slab", k->name, project_one(&p, k->lor, NULL, img),
                box_chord(&k->g, k->lor), 1e-5);
    pet_image_destroy(&img);
  }
}

static void test_projector_mrs_gives_mean_ray_chord(void **state)
{
  (void)state;
  pet_projector_params p = pet_projector_params_default();
  assert_int_equal(pet_projector_params_set_name(&p, "MRS"), PET_OK);
  assert_int_equal(p.num_rays, 4);
  p.crystal_size_trans = 1.0f;
  p.crystal_size_z = 1.0f;
  for (int c = 0; c < PET_PROJECTOR_NUM_CASES; ++c) {
    const pet_projector_case *k = &pet_projector_cases[c];
    pet_image *img = make_image(k->g, 1.0f);
    double want = 0.0;
    for (int r = 0; r < p.num_rays; ++r) {
      float ray[6];
      pet_mrs_ray(k->lor, NULL, r, p.num_rays, p.crystal_size_trans, p.crystal_size_z, ray);
      want += box_chord(&k->g, ray) / p.num_rays;
    }
    check_close("mrs", k->name, project_one(&p, k->lor, NULL, img), want, 1e-5);
    pet_image_destroy(&img);
  }
}

static void test_projector_dd_gives_chord_away_from_edges(void **state)
{
  (void)state;
  pet_projector_params p = pet_projector_params_default();
  assert_int_equal(pet_projector_params_set_name(&p, "DD"), PET_OK);
  p.crystal_size_trans = 1.0f;
  p.crystal_size_z = 1.0f;
  int checked = 0;
  for (int c = 0; c < PET_PROJECTOR_NUM_CASES; ++c) {
    const pet_projector_case *k = &pet_projector_cases[c];
    pet_image *img = make_image(k->g, 1.0f);
    float y = project_one(&p, k->lor, NULL, img);
    if (k->dd_exact) {
      check_close("dd", k->name, y, k->chord_mm, 1e-5);
      ++checked;
    } else if (k->chord_mm == 0.0f && strcmp(k->name, "miss_parallel") != 0) {
      assert_true(y == 0.0f); /* far misses; miss_parallel's footprint still grazes the box */
    }
    pet_image_destroy(&img);
  }
  assert_true(checked >= 8);
}

static void test_projector_mrs_one_ray_is_siddon_bitwise(void **state)
{
  (void)state;
  pet_image_params g = pet_image_params_make(20, 16, 12, 40.f, 32.f, 24.f);
  g.off_x = 1.5f;
  pet_image *img = make_image(g, 0.0f);
  for (int64_t v = 0; v < pet_image_num_voxels(img); ++v) img->data[v] = pet_test_uniform(v);
  enum { N = 500 };
  float *lor = malloc(6 * N * sizeof(float)), *ori = malloc(6 * N * sizeof(float));
  for (int i = 0; i < N; ++i) {
    for (int e = 0; e < 2; ++e) {
      float phi = 6.2831853f * pet_test_uniform(1000 + 4 * i + e);
      lor[6 * i + 3 * e] = 60.f * cosf(phi);
      lor[6 * i + 3 * e + 1] = 60.f * sinf(phi);
      lor[6 * i + 3 * e + 2] = 30.f * (pet_test_uniform(5000 + 2 * i + e) - 0.5f);
      ori[6 * i + 3 * e] = cosf(phi);
      ori[6 * i + 3 * e + 1] = sinf(phi);
      ori[6 * i + 3 * e + 2] = 0.f;
    }
  }
  float *a = malloc(N * sizeof(float)), *b = malloc(N * sizeof(float));
  pet_projector_params ps = pet_projector_params_default();
  pet_projector_params pm = ps;
  pm.num_rays = 1;
  pm.crystal_size_trans = 3.f;
  pet_lor_batch bs = {N, lor, NULL, NULL}, bm = {N, lor, ori, NULL};
  assert_int_equal(pet_project_fwd_cpu(&ps, &bs, img, a), PET_OK);
  assert_int_equal(pet_project_fwd_cpu(&pm, &bm, img, b), PET_OK);
  assert_memory_equal(a, b, N * sizeof(float));
  free(a);
  free(b);
  free(lor);
  free(ori);
  pet_image_destroy(&img);
}

static void test_projector_hot_voxel_lies_on_the_line(void **state)
{
  (void)state;
  pet_image_params g = pet_image_params_make(10, 10, 10, 20.f, 20.f, 20.f);
  pet_projector_params p = pet_projector_params_default();
  /* voxel (i=4, j=6, k=2) has its centre at (-1, 3, -5) mm */
  pet_image *hot = make_image(g, 0.0f);
  hot->data[(2 * 10 + 6) * 10 + 4] = 1.0f;
  float through[6] = {-50.f, 3.f, -5.f, 50.f, 3.f, -5.f};
  float beside[6] = {-50.f, 5.f, -5.f, 50.f, 5.f, -5.f}; /* centre of row j = 7 */
  float diag[6] = {-1.f - 40.f, 3.f - 40.f, -5.f, -1.f + 40.f, 3.f + 40.f, -5.f};
  check_close("hot", "through", project_one(&p, through, NULL, hot), 2.0, 1e-6);
  assert_true(project_one(&p, beside, NULL, hot) == 0.0f);
  check_close("hot", "diagonal", project_one(&p, diag, NULL, hot), 2.0 * sqrt(2.0), 1e-5);
  pet_image_destroy(&hot);

  /* back projection of an oblique LOR: only voxels the line crosses, total = chord */
  float lor[6] = {-37.f, -12.f, -8.f, 41.f, 17.f, 6.f};
  float one = 1.0f;
  pet_lor_batch b = {1, lor, NULL, NULL};
  pet_image *bp = make_image(g, 0.0f);
  assert_int_equal(pet_project_back_cpu(&p, &b, &one, bp), PET_OK);
  double total = 0.0;
  int touched = 0;
  double d[3] = {lor[3] - lor[0], lor[4] - lor[1], lor[5] - lor[2]};
  double dn = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
  for (int k = 0; k < 10; ++k)
    for (int j = 0; j < 10; ++j)
      for (int i = 0; i < 10; ++i) {
        float w = bp->data[(k * 10 + j) * 10 + i];
        assert_true(w >= 0.0f);
        if (w == 0.0f) continue;
        ++touched;
        total += w;
        /* distance of the voxel centre from the line <= half the voxel diagonal */
        double c[3] = {-9.0 + 2 * i - lor[0], -9.0 + 2 * j - lor[1], -9.0 + 2 * k - lor[2]};
        double cr[3] = {c[1] * d[2] - c[2] * d[1], c[2] * d[0] - c[0] * d[2],
                        c[0] * d[1] - c[1] * d[0]};
        double dist = sqrt(cr[0] * cr[0] + cr[1] * cr[1] + cr[2] * cr[2]) / dn;
        assert_true(dist <= sqrt(3.0) + 1e-4);
        assert_true(w <= 2.0f * sqrtf(3.0f) + 1e-4f);
      }
  check_close("back", "total", total, box_chord(&g, lor), 1e-5);
  assert_true(touched >= 10);
  pet_image_destroy(&bp);
}

/* Random LORs between points on a cylinder of radius 30 mm around a 24 x 20 x 16 mm image
 * (offset), with radial crystal normals and TOF differences in [-200, 200] ps; a few miss. */
typedef struct lor_set {
  int64_t n;
  float *lor, *ori, *tof;
} lor_set;

static lor_set make_lors(int64_t n, uint64_t seed, float radius, float half_z)
{
  lor_set s = {n, malloc(6 * n * sizeof(float)), malloc(6 * n * sizeof(float)),
               malloc(n * sizeof(float))};
  for (int64_t i = 0; i < n; ++i) {
    for (int e = 0; e < 2; ++e) {
      float phi = 6.2831853f * pet_test_uniform(seed + 8 * i + e);
      float z = half_z * (2.f * pet_test_uniform(seed + 8 * i + 2 + e) - 1.f);
      s.lor[6 * i + 3 * e] = radius * cosf(phi);
      s.lor[6 * i + 3 * e + 1] = radius * sinf(phi);
      s.lor[6 * i + 3 * e + 2] = z;
      s.ori[6 * i + 3 * e] = cosf(phi);
      s.ori[6 * i + 3 * e + 1] = sinf(phi);
      s.ori[6 * i + 3 * e + 2] = 0.f;
    }
    s.tof[i] = 400.f * (pet_test_uniform(seed + 8 * i + 4) - 0.5f);
  }
  return s;
}

static void free_lors(lor_set *s)
{
  free(s->lor);
  free(s->ori);
  free(s->tof);
}

static void check_adjoint(const char *name, pet_projector_params p, int use_orient)
{
  pet_image_params g = pet_image_params_make(12, 10, 8, 24.f, 20.f, 16.f);
  g.off_x = 1.f;
  g.off_y = -1.f;
  g.off_z = 0.5f;
  lor_set s = make_lors(3000, 77, 30.f, 12.f);
  pet_lor_batch b = {s.n, s.lor, use_orient ? s.ori : NULL, s.tof};
  pet_image *x = make_image(g, 0.0f);
  int64_t nv = pet_image_num_voxels(x);
  for (int64_t v = 0; v < nv; ++v) x->data[v] = pet_test_uniform(100000 + v);
  float *y = malloc(s.n * sizeof(float)), *ax = malloc(s.n * sizeof(float));
  for (int64_t i = 0; i < s.n; ++i) y[i] = pet_test_uniform(200000 + i);
  p.num_threads = 2;
  assert_int_equal(pet_project_fwd_cpu(&p, &b, x, ax), PET_OK);
  double lhs = 0.0, nonzero = 0.0;
  for (int64_t i = 0; i < s.n; ++i) {
    lhs += (double)ax[i] * y[i];
    nonzero += ax[i] != 0.0f;
  }
  assert_true(nonzero > 0.2 * (double)s.n);
  for (int strat = PET_BACK_AUTO; strat <= PET_BACK_PRIVATE; ++strat) {
    pet_image *aty = make_image(g, 0.0f);
    assert_int_equal(pet_project_back_cpu_with(&p, &b, y, aty, (pet_back_strategy)strat),
                     PET_OK);
    double rhs = 0.0;
    for (int64_t v = 0; v < nv; ++v) rhs += (double)x->data[v] * aty->data[v];
    if (pet_test_reldiff(lhs, rhs) > 1e-5) {
      print_error("%s (orient %d, strategy %d): <Ax,y> = %.10g, <x,A'y> = %.10g\n", name,
                  use_orient, strat, lhs, rhs);
      fail();
    }
    pet_image_destroy(&aty);
  }
  free(y);
  free(ax);
  free_lors(&s);
  pet_image_destroy(&x);
}

static void test_projector_all_are_adjoint(void **state)
{
  (void)state;
  const char *names[3] = {"S", "MRS", "DD"};
  for (int k = 0; k < 3; ++k)
    for (int tof = 0; tof <= 1; ++tof)
      for (int ori = 0; ori <= 1; ++ori) {
        pet_projector_params p = pet_projector_params_default();
        assert_int_equal(pet_projector_params_set_name(&p, names[k]), PET_OK);
        p.crystal_size_trans = 2.f;
        p.crystal_size_z = 2.5f;
        p.tof = tof;
        p.tof_fwhm_ps = 150.f;
        check_adjoint(names[k], p, ori);
      }
}

static void test_projector_dd_agrees_with_siddon_on_smooth_phantom(void **state)
{
  (void)state;
  pet_image_params g = pet_image_params_make(60, 60, 24, 240.f, 240.f, 96.f);
  pet_image *img = make_image(g, 0.0f);
  for (int k = 0; k < g.nz; ++k)
    for (int j = 0; j < g.ny; ++j)
      for (int i = 0; i < g.nx; ++i) {
        double x = -118.0 + 4 * i - 10.0, y = -118.0 + 4 * j + 5.0, z = -46.0 + 4 * k;
        img->data[(k * g.ny + j) * g.nx + i] =
            (float)(exp(-(x * x + y * y) / (2 * 50.0 * 50.0) - z * z / (2 * 40.0 * 40.0)));
      }
  lor_set s = make_lors(20000, 991, 200.f, 40.f);
  pet_lor_batch b = {s.n, s.lor, s.ori, NULL};
  float *ys = malloc(s.n * sizeof(float)), *yd = malloc(s.n * sizeof(float));
  pet_projector_params p = pet_projector_params_default();
  assert_int_equal(pet_project_fwd_cpu(&p, &b, img, ys), PET_OK);
  assert_int_equal(pet_projector_params_set_name(&p, "DD"), PET_OK);
  assert_int_equal(pet_project_fwd_cpu(&p, &b, img, yd), PET_OK);
  double num = 0.0, den = 0.0, maxrel = 0.0;
  for (int64_t i = 0; i < s.n; ++i) {
    num += (double)(yd[i] - ys[i]) * (yd[i] - ys[i]);
    den += (double)ys[i] * ys[i];
    if (ys[i] > 10.f) maxrel = fmax(maxrel, fabs(yd[i] - ys[i]) / ys[i]);
  }
  double rel = sqrt(num / den);
  print_message("DD vs Siddon, smooth phantom: relative L2 %.3g, max relative %.3g\n", rel,
                maxrel);
  /* Both project the same piecewise-constant image: Siddon samples the voxels the line
   * crosses, DD averages over a ~4 x 4 mm footprint (about one voxel), so single LORs that run
   * close to a voxel boundary, parallel to it, differ by up to the step between neighbouring
   * voxels (~8% on this 4 mm grid at 1.5 sigma); over all LORs the difference is < 1%. */
  assert_true(rel < 1e-2);
  assert_true(maxrel < 0.15);
  free(ys);
  free(yd);
  free_lors(&s);
  pet_image_destroy(&img);
}

/* Sum over TOF centres spaced dt mm covering the LOR and the kernel support, times dt, vs
 * the non-TOF projection. */
static double tof_tiling_error(const char *name)
{
  pet_image_params g = pet_image_params_make(30, 30, 12, 120.f, 120.f, 48.f);
  pet_image *img = make_image(g, 0.0f);
  for (int64_t v = 0; v < pet_image_num_voxels(img); ++v)
    img->data[v] = 0.5f + pet_test_uniform(3 * v);
  lor_set s = make_lors(200, 4242, 100.f, 20.f);
  pet_projector_params p = pet_projector_params_default();
  assert_int_equal(pet_projector_params_set_name(&p, name), PET_OK);
  p.tof_fwhm_ps = 200.f; /* sigma 12.7 mm */
  pet_tof_kernel k = pet_tof_kernel_make(p.tof_fwhm_ps, p.tof_n_sigmas);
  const float dt = 0.25f * k.sigma_mm;
  const float c = PET_SPEED_OF_LIGHT_MM_PS;
  double worst = 0.0;
  for (int64_t i = 0; i < s.n; ++i) {
    pet_lor_batch b1 = {1, s.lor + 6 * i, s.ori + 6 * i, NULL};
    float y0;
    p.tof = 0;
    assert_int_equal(pet_project_fwd_cpu(&p, &b1, img, &y0), PET_OK);
    const float *l = s.lor + 6 * i;
    float len = sqrtf((l[3] - l[0]) * (l[3] - l[0]) + (l[4] - l[1]) * (l[4] - l[1]) +
                      (l[5] - l[2]) * (l[5] - l[2]));
    int nb = (int)ceilf((len + 2.f * k.half_width_mm + 10.f) / dt);
    float *tof = malloc(nb * sizeof(float)), *lors = malloc(6 * nb * sizeof(float));
    float *oris = malloc(6 * nb * sizeof(float)), *y = malloc(nb * sizeof(float));
    for (int j = 0; j < nb; ++j) {
      float tc = -k.half_width_mm - 5.f + (float)j * dt; /* centre, mm from endpoint 1 */
      tof[j] = (len - 2.f * tc) / c;
      memcpy(lors + 6 * j, l, 6 * sizeof(float));
      memcpy(oris + 6 * j, s.ori + 6 * i, 6 * sizeof(float));
    }
    pet_lor_batch bt = {nb, lors, oris, tof};
    p.tof = 1;
    assert_int_equal(pet_project_fwd_cpu(&p, &bt, img, y), PET_OK);
    double sum = 0.0;
    for (int j = 0; j < nb; ++j) sum += (double)y[j] * dt;
    if (y0 > 1.f) worst = fmax(worst, fabs(sum - y0) / y0);
    free(tof);
    free(lors);
    free(oris);
    free(y);
  }
  free_lors(&s);
  pet_image_destroy(&img);
  print_message("TOF tiling %s: worst relative error %.3g\n", name, worst);
  return worst;
}

static void test_projector_tof_bins_sum_to_non_tof(void **state)
{
  (void)state;
  /* Measured: S 3e-5, MRS 5e-6, DD 1e-4. Siddon integrates the kernel exactly per segment:
   * only the ripple of a sum of shifted,
   * truncated Gaussians (spacing sigma/4) remains. DD samples the kernel at slice centres
   * (spacing 4 mm ~ sigma/3): a Riemann sum of a smooth kernel, a bit coarser. */
  assert_true(tof_tiling_error("S") < 2e-4);
  assert_true(tof_tiling_error("MRS") < 2e-4);
  assert_true(tof_tiling_error("DD") < 1e-3);
}

static void test_projector_errors(void **state)
{
  (void)state;
  pet_error_set_print(false);
  pet_image_params g = pet_image_params_make(4, 4, 4, 8.f, 8.f, 8.f);
  float lor[6] = {-10.f, 0.f, 0.f, 10.f, 0.f, 0.f}, y = 0.f, tof = 0.f;
  pet_lor_batch b = {1, lor, NULL, NULL};
  pet_projector_params p = pet_projector_params_default();

  pet_image *unbound = NULL;
  assert_int_equal(pet_image_create(&unbound, g, PET_ALIAS, PET_HOST), PET_OK);
  assert_int_equal(pet_project_fwd_cpu(&p, &b, unbound, &y), PET_ERR_STATE);
  assert_int_equal(pet_project_back_cpu(&p, &b, &y, unbound), PET_ERR_STATE);
  pet_image_destroy(&unbound);

  pet_image *img = make_image(g, 1.f);
  assert_int_equal(pet_project_fwd_cpu(&p, &b, img, &y), PET_OK);
  assert_true(fabsf(y - 8.f) < 1e-5f);
  assert_int_equal(pet_project_fwd_cpu(&p, &b, NULL, &y), PET_ERR_ARG);
  assert_int_equal(pet_project_fwd_cpu(&p, NULL, img, &y), PET_ERR_ARG);
  assert_int_equal(pet_project_fwd_cpu(&p, &b, img, NULL), PET_ERR_ARG);
  assert_int_equal(pet_project_back_cpu(&p, &b, NULL, img), PET_ERR_ARG);
  pet_lor_batch bad = {-1, lor, NULL, NULL};
  assert_int_equal(pet_project_fwd_cpu(&p, &bad, img, &y), PET_ERR_ARG);
  bad.n = 1;
  bad.lor = NULL;
  assert_int_equal(pet_project_back_cpu(&p, &bad, &y, img), PET_ERR_ARG);
  pet_lor_batch empty = {0, NULL, NULL, NULL};
  assert_int_equal(pet_project_fwd_cpu(&p, &empty, img, NULL), PET_OK);

  /* TOF requested without TOF values */
  p.tof = 1;
  p.tof_fwhm_ps = 300.f;
  assert_int_equal(pet_project_fwd_cpu(&p, &b, img, &y), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "tof_ps"));
  assert_int_equal(pet_project_back_cpu(&p, &b, &y, img), PET_ERR_ARG);
  b.tof_ps = &tof;
  assert_int_equal(pet_project_fwd_cpu(&p, &b, img, &y), PET_OK);

  pet_projector_params q = pet_projector_params_default();
  assert_int_equal(pet_projector_params_check(&q), PET_OK);
  q.num_rays = 0;
  assert_int_equal(pet_projector_params_check(&q), PET_ERR_ARG);
  assert_int_equal(pet_project_fwd_cpu(&q, &b, img, &y), PET_ERR_ARG);
  q = pet_projector_params_default();
  q.crystal_size_trans = -1.f;
  assert_int_equal(pet_projector_params_check(&q), PET_ERR_ARG);
  q = pet_projector_params_default();
  q.crystal_size_z = NAN;
  assert_int_equal(pet_projector_params_check(&q), PET_ERR_ARG);
  q = pet_projector_params_default();
  q.tof = 1;
  assert_int_equal(pet_projector_params_check(&q), PET_ERR_ARG); /* FWHM 0 */
  q.tof_fwhm_ps = 200.f;
  q.tof_n_sigmas = 0.f;
  assert_int_equal(pet_projector_params_check(&q), PET_ERR_ARG);
  q = pet_projector_params_default();
  q.kind = (pet_projector_kind)7;
  assert_int_equal(pet_projector_params_check(&q), PET_ERR_ARG);
  q = pet_projector_params_default();
  q.num_threads = -2;
  assert_int_equal(pet_projector_params_check(&q), PET_ERR_ARG);
  q = pet_projector_params_default();
  assert_int_equal(pet_project_back_cpu_with(&q, &b, &y, img, (pet_back_strategy)9),
                   PET_ERR_ARG);

  q = pet_projector_params_default();
  assert_int_equal(pet_projector_params_set_name(&q, "Joseph"), PET_ERR_ARG);
  assert_int_equal(pet_projector_params_set_name(&q, NULL), PET_ERR_ARG);
  assert_int_equal(pet_projector_params_set_name(&q, "DistanceDriven"), PET_OK);
  assert_int_equal(q.kind, PET_PROJ_DD);
  q.num_rays = 8;
  assert_int_equal(pet_projector_params_set_name(&q, "MultiRaySiddon"), PET_OK);
  assert_int_equal(q.kind, PET_PROJ_SIDDON);
  assert_int_equal(q.num_rays, 8);
  assert_int_equal(pet_projector_params_set_name(&q, "Siddon"), PET_OK);
  assert_int_equal(q.num_rays, 1);
  pet_image_destroy(&img);
  pet_error_set_print(true);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_projector_siddon_gives_chord_lengths),
      cmocka_unit_test(test_projector_mrs_gives_mean_ray_chord),
      cmocka_unit_test(test_projector_dd_gives_chord_away_from_edges),
      cmocka_unit_test(test_projector_mrs_one_ray_is_siddon_bitwise),
      cmocka_unit_test(test_projector_hot_voxel_lies_on_the_line),
      cmocka_unit_test(test_projector_all_are_adjoint),
      cmocka_unit_test(test_projector_dd_agrees_with_siddon_on_smooth_phantom),
      cmocka_unit_test(test_projector_tof_bins_sum_to_non_tof),
      cmocka_unit_test(test_projector_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
