/* Projector conventions shared with YRT-PET: the tie rule for LORs on a voxel plane (Siddon and
 * multi-ray Siddon), the FOV cylinder (every projector) and DD's centre-box option: analytic
 * line integrals, symmetry under swapping the endpoints, adjointness, the image mask, and the
 * parameter checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_fov.h"
#include "pet_projector.h"
#include "pet_test_util.h"

static pet_image *make_image(pet_image_params g, float value)
{
  pet_image *img = NULL;
  assert_int_equal(pet_image_create_owned(&img, g, PET_HOST), PET_OK);
  assert_int_equal(pet_image_fill(img, value), PET_OK);
  return img;
}

static float fwd_one(const pet_projector_params *p, const float *lor, const pet_image *img)
{
  pet_lor_batch b = {1, lor, NULL, NULL};
  float y = -1.0f;
  assert_int_equal(pet_project_fwd_cpu(p, &b, img, &y), PET_OK);
  return y;
}

static void reversed(const float *l, float *r)
{
  for (int c = 0; c < 3; ++c) {
    r[c] = l[3 + c];
    r[3 + c] = l[c];
  }
}

static void check_close(const char *what, double got, double want, double tol)
{
  if (fabs(got - want) > tol * fmax(fabs(want), 1.0)) {
    print_error("%s: got %.9g want %.9g\n", what, got, want);
    fail();
  }
}

/* 4 x 2 x 2 voxels of 2 mm centred at 0: x planes at -4..4, y and z planes at -2, 0, 2. Voxel
 * (i, j, k) holds 1 + 2 j + 4 k (+ 0.001 i, so a wrong column would show), so a LOR along x on
 * the plane y = 0 inside z row 1 integrates to 8 * (5 + 7) / 2 = 48 (+ the x part). */
static pet_image_params tie_geom(void) { return pet_image_params_make(4, 2, 2, 8.f, 4.f, 4.f); }
static pet_image *tie_image(void)
{
  pet_image_params g = tie_geom();
  pet_image *img = make_image(g, 0.f);
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 2; ++j)
      for (int i = 0; i < 4; ++i) img->data[(k * 2 + j) * 4 + i] = 1.f + 2.f * j + 4.f * k + 1e-3f * i;
  return img;
}
/* sum over i of the row (j, k), times 2 mm: the integral of a LOR along x inside that row */
static double row_x(int j, int k) { return 2.0 * (4.0 * (1 + 2 * j + 4 * k) + 1e-3 * 6); }

typedef struct tie_case {
  const char *name;
  float lor[6];
  double want;
} tie_case;

static void test_ties_split_the_chord_between_rows(void **state)
{
  (void)state;
  pet_image *img = tie_image();
  const float off = 1e-4f; /* mm: 5e-5 voxel, inside the tie tolerance (1e-4 voxel) */
  const float far = 2e-3f; /* mm: 1e-3 voxel, a plain LOR */
  /* column (i, k) along y: 2 mm x (sum over j) */
  double col_y_i1_k0 = 2.0 * ((1 + 1e-3) + (3 + 1e-3)), col_y_i2_k0 = 2.0 * ((1 + 2e-3) + (3 + 2e-3));
  const tie_case cases[] = {
      {"x on y=0", {-50.f, 0.f, 1.f, 50.f, 0.f, 1.f}, 0.5 * (row_x(0, 1) + row_x(1, 1))},
      {"x 1e-4 above y=0", {-50.f, off, 1.f, 50.f, off, 1.f}, 0.5 * (row_x(0, 1) + row_x(1, 1))},
      {"x 1e-4 below y=0", {-50.f, -off, 1.f, 50.f, -off, 1.f}, 0.5 * (row_x(0, 1) + row_x(1, 1))},
      {"x tilted across y=0 within tol", {-50.f, off, 1.f, 50.f, -off, 1.f},
       0.5 * (row_x(0, 1) + row_x(1, 1))},
      {"x 1e-3 voxel above y=0", {-50.f, far, 1.f, 50.f, far, 1.f}, row_x(1, 1)},
      {"x 1e-3 voxel below y=0", {-50.f, -far, 1.f, 50.f, -far, 1.f}, row_x(0, 1)},
      {"x on z=0", {-50.f, 1.f, 0.f, 50.f, 1.f, 0.f}, 0.5 * (row_x(1, 0) + row_x(1, 1))},
      {"x on z=0 1e-4 off", {-50.f, 1.f, -off, 50.f, 1.f, -off}, 0.5 * (row_x(1, 0) + row_x(1, 1))},
      {"x on the edge y=0 z=0", {-50.f, 0.f, 0.f, 50.f, 0.f, 0.f},
       0.25 * (row_x(0, 0) + row_x(1, 0) + row_x(0, 1) + row_x(1, 1))},
      {"x on the edge, 1e-4 off", {-50.f, off, -off, 50.f, -off, off},
       0.25 * (row_x(0, 0) + row_x(1, 0) + row_x(0, 1) + row_x(1, 1))},
      {"y on x=-2 (between i=0 and 1)", {-2.f, -50.f, -1.f, -2.f, 50.f, -1.f},
       0.5 * (2.0 * ((1 + 0.0) + (3 + 0.0)) + col_y_i1_k0)},
      {"y on x=0, 1e-4 off", {off, -50.f, -1.f, off, 50.f, -1.f}, 0.5 * (col_y_i1_k0 + col_y_i2_k0)},
      {"x on the lower face y=-2", {-50.f, -2.f, 1.f, 50.f, -2.f, 1.f}, 0.5 * row_x(0, 1)},
      {"x 1e-4 outside the lower face", {-50.f, -2.f - off, 1.f, 50.f, -2.f - off, 1.f},
       0.5 * row_x(0, 1)},
      {"x on the upper face y=2", {-50.f, 2.f, 1.f, 50.f, 2.f, 1.f}, 0.5 * row_x(1, 1)},
      {"x on the corner edge y=2 z=2", {-50.f, 2.f, 2.f, 50.f, 2.f, 2.f}, 0.25 * row_x(1, 1)},
  };
  pet_projector_params p = pet_projector_params_default();
  pet_projector_params m = p;
  m.num_rays = 4; /* multi-ray with (nearly) point crystals: every ray is on the tie */
  m.crystal_size_trans = 1e-6f;
  m.crystal_size_z = 1e-6f;
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    const tie_case *k = &cases[c];
    float r[6];
    reversed(k->lor, r);
    char what[96];
    snprintf(what, sizeof what, "siddon %s", k->name);
    check_close(what, fwd_one(&p, k->lor, img), k->want, 2e-6);
    snprintf(what, sizeof what, "siddon reversed %s", k->name);
    check_close(what, fwd_one(&p, r, img), k->want, 2e-6);
    snprintf(what, sizeof what, "mrs %s", k->name);
    check_close(what, fwd_one(&m, k->lor, img), k->want, 2e-6);
    snprintf(what, sizeof what, "mrs reversed %s", k->name);
    check_close(what, fwd_one(&m, r, img), k->want, 2e-6);
  }
  pet_image_destroy(&img);
}

/* A tied LOR oblique in xy, in the plane z = 0: half its chord in each z row. */
static void test_ties_oblique_lor_in_a_z_plane(void **state)
{
  (void)state;
  pet_image_params g = pet_image_params_make(10, 10, 4, 20.f, 20.f, 8.f);
  pet_image *img = make_image(g, 0.f);
  for (int64_t v = 0; v < pet_image_num_voxels(img); ++v) {
    int k = (int)(v / 100);
    img->data[v] = k == 1 ? 1.f : (k == 2 ? 3.f : 100.f);
  }
  float lor[6] = {-40.f, -13.f, 0.f, 40.f, 17.f, 0.f}, r[6];
  reversed(lor, r);
  /* the chord through the 20 x 20 box: x from -10 to 10 (y = 2 + 0.375 x stays inside) */
  double chord = 20.0 * sqrt(1.0 + 0.375 * 0.375);
  pet_projector_params p = pet_projector_params_default();
  check_close("oblique on z=0", fwd_one(&p, lor, img), 0.5 * chord * (1.0 + 3.0), 2e-6);
  check_close("oblique on z=0 reversed", fwd_one(&p, r, img), 0.5 * chord * (1.0 + 3.0), 2e-6);
  pet_image_destroy(&img);
}

/* Tied and untied LORs: ties along x, y, z and edges, in several directions, random offsets on
 * and near planes. */
static float *tie_lors(int64_t n, uint64_t seed, float *tof)
{
  float *l = malloc((size_t)n * 6 * sizeof(float));
  for (int64_t i = 0; i < n; ++i) {
    float *o = l + 6 * i;
    float u = pet_test_uniform(seed + 5 * i), v = pet_test_uniform(seed + 5 * i + 1);
    float w = pet_test_uniform(seed + 5 * i + 2);
    int kind = (int)(i % 6);
    /* planes of tie_geom: x in {-4..4} step 2, y and z in {-2, 0, 2}; 1e-4 mm jitter */
    float jit = 1e-4f * (2.f * pet_test_uniform(seed + 5 * i + 3) - 1.f);
    float py = -2.f + 2.f * (float)(int)(3.f * u) + jit, pz = -2.f + 2.f * (float)(int)(3.f * v) + jit;
    float px = -4.f + 2.f * (float)(int)(5.f * w) + jit;
    float a = 6.2831853f * w;
    switch (kind) {
    case 0: /* along x on a y plane */
      o[0] = -30.f; o[1] = py; o[2] = 4.f * v - 2.f; o[3] = 30.f; o[4] = py; o[5] = o[2]; break;
    case 1: /* along y on an x plane */
      o[0] = px; o[1] = -30.f; o[2] = 4.f * u - 2.f; o[3] = px; o[4] = 30.f; o[5] = o[2]; break;
    case 2: /* along x on an edge */
      o[0] = 30.f; o[1] = py; o[2] = pz; o[3] = -30.f; o[4] = py; o[5] = pz; break;
    case 3: /* any direction in a z plane */
      o[0] = 30.f * cosf(a); o[1] = 30.f * sinf(a); o[2] = pz;
      o[3] = -30.f * cosf(a) + u; o[4] = -30.f * sinf(a) - v; o[5] = pz; break;
    case 4: /* along z on an edge of x and y planes */
      o[0] = px; o[1] = py; o[2] = -30.f; o[3] = px; o[4] = py; o[5] = 30.f; break;
    default: /* untied */
      o[0] = 30.f * cosf(a); o[1] = 30.f * sinf(a); o[2] = 4.f * u - 2.f;
      o[3] = -30.f * cosf(a + v); o[4] = -30.f * sinf(a + v); o[5] = 2.f - 4.f * u; break;
    }
    if (tof) tof[i] = 200.f * (pet_test_uniform(seed + 5 * i + 4) - 0.5f);
  }
  return l;
}

static void check_adjoint(const char *name, pet_projector_params p, pet_image_params g,
                          const float *lor, const float *tof, int64_t n)
{
  pet_lor_batch b = {n, lor, NULL, p.tof ? tof : NULL};
  pet_image *x = make_image(g, 0.f);
  int64_t nv = pet_image_num_voxels(x);
  for (int64_t v = 0; v < nv; ++v) x->data[v] = pet_test_uniform(900000 + v);
  float *y = malloc((size_t)n * sizeof(float)), *ax = malloc((size_t)n * sizeof(float));
  for (int64_t i = 0; i < n; ++i) y[i] = pet_test_uniform(800000 + i);
  p.num_threads = 2;
  assert_int_equal(pet_project_fwd_cpu(&p, &b, x, ax), PET_OK);
  double lhs = 0.0;
  int64_t nonzero = 0;
  for (int64_t i = 0; i < n; ++i) {
    lhs += (double)ax[i] * y[i];
    nonzero += ax[i] != 0.f;
  }
  assert_true(nonzero > n / 10);
  for (int strat = PET_BACK_ATOMIC; strat <= PET_BACK_PRIVATE; ++strat) {
    pet_image *aty = make_image(g, 0.f);
    assert_int_equal(pet_project_back_cpu_with(&p, &b, y, aty, (pet_back_strategy)strat), PET_OK);
    double rhs = 0.0;
    for (int64_t v = 0; v < nv; ++v) rhs += (double)x->data[v] * aty->data[v];
    if (pet_test_reldiff(lhs, rhs) > 1e-5) {
      print_error("%s (strategy %d): <Ax,y> = %.10g, <x,A'y> = %.10g\n", name, strat, lhs, rhs);
      fail();
    }
    pet_image_destroy(&aty);
  }
  free(y);
  free(ax);
  pet_image_destroy(&x);
}

static void test_ties_adjoint_and_symmetric(void **state)
{
  (void)state;
  pet_image_params g = tie_geom();
  enum { N = 1200 };
  float tof[N];
  float *lor = tie_lors(N, 4711, tof);
  for (int tofon = 0; tofon <= 1; ++tofon)
    for (int rays = 1; rays <= 3; rays += 2) {
      pet_projector_params p = pet_projector_params_default();
      p.num_rays = rays;
      p.crystal_size_trans = 0.5f;
      p.crystal_size_z = 0.5f;
      p.tof = tofon;
      p.tof_fwhm_ps = 100.f;
      check_adjoint(rays > 1 ? "mrs ties" : "siddon ties", p, g, lor, tof, N);
    }
  /* swapping the endpoints gives the same projection and the same back projection */
  float *rev = malloc(N * 6 * sizeof(float)), rtof[N];
  for (int i = 0; i < N; ++i) {
    reversed(lor + 6 * i, rev + 6 * i);
    rtof[i] = -tof[i];
  }
  pet_image *x = tie_image();
  float ya[N], yb[N], ones[N];
  for (int i = 0; i < N; ++i) ones[i] = 1.f;
  for (int tofon = 0; tofon <= 1; ++tofon) {
    pet_projector_params p = pet_projector_params_default();
    p.tof = tofon;
    p.tof_fwhm_ps = 100.f;
    p.num_threads = 1;
    pet_lor_batch ba = {N, lor, NULL, tof}, bb = {N, rev, NULL, rtof};
    assert_int_equal(pet_project_fwd_cpu(&p, &ba, x, ya), PET_OK);
    assert_int_equal(pet_project_fwd_cpu(&p, &bb, x, yb), PET_OK);
    /* up to float rounding of the clip at the box faces (3e-5 mm on one untied corner LOR) */
    for (int i = 0; i < N; ++i) check_close("swapped endpoints", yb[i], ya[i], 5e-5);
    pet_image *ia = make_image(g, 0.f), *ib = make_image(g, 0.f);
    assert_int_equal(pet_project_back_cpu(&p, &ba, ones, ia), PET_OK);
    assert_int_equal(pet_project_back_cpu(&p, &bb, ones, ib), PET_OK);
    for (int64_t v = 0; v < pet_image_num_voxels(ia); ++v)
      check_close("swapped endpoints, back", ib->data[v], ia->data[v], 5e-5);
    pet_image_destroy(&ia);
    pet_image_destroy(&ib);
  }
  pet_image_destroy(&x);
  free(rev);
  free(lor);
}

/* Chord (double) of the segment l inside box(g) and the cylinder of radius r (r <= 0: none). */
static double clipped_chord(const pet_image_params *g, const float *l, double r)
{
  double lo[3] = {g->off_x - 0.5 * g->length_x, g->off_y - 0.5 * g->length_y,
                  g->off_z - 0.5 * g->length_z};
  double hi[3] = {lo[0] + g->length_x, lo[1] + g->length_y, lo[2] + g->length_z};
  double d[3], a0 = 0.0, a1 = 1.0, len = 0.0;
  for (int c = 0; c < 3; ++c) {
    d[c] = (double)l[3 + c] - l[c];
    len += d[c] * d[c];
  }
  len = sqrt(len);
  for (int c = 0; c < 3; ++c) {
    if (fabs(d[c]) < 1e-9) {
      if (!(l[c] > lo[c] && l[c] < hi[c])) return 0.0;
      continue;
    }
    double t0 = (lo[c] - l[c]) / d[c], t1 = (hi[c] - l[c]) / d[c];
    a0 = fmax(a0, fmin(t0, t1));
    a1 = fmin(a1, fmax(t0, t1));
  }
  if (r > 0) {
    double A = d[0] * d[0] + d[1] * d[1], B = 2 * (l[0] * d[0] + l[1] * d[1]);
    double C = (double)l[0] * l[0] + (double)l[1] * l[1] - r * r, D = B * B - 4 * A * C;
    if (D <= 0) return 0.0;
    a0 = fmax(a0, (-B - sqrt(D)) / (2 * A));
    a1 = fmin(a1, (-B + sqrt(D)) / (2 * A));
  }
  return a1 > a0 ? (a1 - a0) * len : 0.0;
}

static void test_fov_clips_to_the_cylinder(void **state)
{
  (void)state;
  pet_image_params g = pet_image_params_make(20, 20, 4, 40.f, 40.f, 8.f);
  pet_image *ones = make_image(g, 1.f);
  const float R = 15.f;
  const float lors[][6] = {
      {-50.f, 5.3f, 1.1f, 50.f, 5.3f, 1.1f},      /* along x: 2 sqrt(R^2 - y^2) */
      {-50.f, -10.3f, 0.5f, 50.f, 12.7f, 1.5f},   /* oblique across the boundary */
      {8.1f, -60.f, -1.3f, 3.3f, 60.f, 2.1f},     /* y-driven */
      {-50.f, 14.1f, 1.1f, 50.f, 13.9f, 1.1f},    /* a short chord near the edge */
      {-50.f, -30.f, 1.1f, 50.f, 30.f, -1.1f},    /* diagonal, clipped by both */
  };
  const char *names[3] = {"S", "MRS", "DD"};
  for (int k = 0; k < 3; ++k) {
    pet_projector_params p = pet_projector_params_default();
    assert_int_equal(pet_projector_params_set_name(&p, names[k]), PET_OK);
    p.crystal_size_trans = 1e-3f; /* rays and footprints ~ the line itself */
    p.crystal_size_z = 1e-3f;
    p.fov_radius_mm = R;
    for (size_t c = 0; c < sizeof lors / sizeof lors[0]; ++c) {
      double want = clipped_chord(&g, lors[c], R);
      assert_true(want > 0.0);
      float r[6];
      reversed(lors[c], r);
      char what[64];
      snprintf(what, sizeof what, "%s fov lor %d", names[k], (int)c);
      check_close(what, fwd_one(&p, lors[c], ones), want, k == 2 ? 1e-4 : 2e-5);
      check_close(what, fwd_one(&p, r, ones), want, k == 2 ? 1e-4 : 2e-5);
    }
    check_close("along x", clipped_chord(&g, lors[0], R), 2.0 * sqrt(R * R - 5.3 * 5.3), 1e-6);
    /* inside the box, outside the cylinder: nothing */
    float outside[6] = {-50.f, 16.f, 1.1f, 50.f, 16.f, 1.1f};
    float corner[6] = {10.f, 19.f, -3.f, 19.f, 10.f, 3.f};
    assert_true(fwd_one(&p, outside, ones) == 0.0f);
    assert_true(fwd_one(&p, corner, ones) == 0.0f);
  }
  pet_image_destroy(&ones);
}

static pet_image_params adj_geom(void)
{
  pet_image_params g = pet_image_params_make(12, 10, 8, 24.f, 20.f, 16.f);
  g.off_x = 1.f;
  g.off_y = -1.f;
  g.off_z = 0.5f;
  return g;
}
static float *cyl_lors(int64_t n, uint64_t seed, float *tof)
{
  float *l = malloc((size_t)n * 6 * sizeof(float));
  for (int64_t i = 0; i < n; ++i)
    for (int e = 0; e < 2; ++e) {
      float phi = 6.2831853f * pet_test_uniform(seed + 8 * i + e);
      l[6 * i + 3 * e] = 30.f * cosf(phi);
      l[6 * i + 3 * e + 1] = 30.f * sinf(phi);
      l[6 * i + 3 * e + 2] = 12.f * (2.f * pet_test_uniform(seed + 8 * i + 2 + e) - 1.f);
      tof[i] = 300.f * (pet_test_uniform(seed + 8 * i + 5) - 0.5f);
    }
  return l;
}

static void test_fov_and_centre_box_are_adjoint(void **state)
{
  (void)state;
  enum { N = 2000 };
  float tof[N];
  float *lor = cyl_lors(N, 313, tof);
  const char *names[3] = {"S", "MRS", "DD"};
  for (int k = 0; k < 3; ++k)
    for (int tofon = 0; tofon <= 1; ++tofon)
      for (int box = 0; box <= (k == 2); ++box) {
        pet_projector_params p = pet_projector_params_default();
        assert_int_equal(pet_projector_params_set_name(&p, names[k]), PET_OK);
        p.crystal_size_trans = 2.f;
        p.crystal_size_z = 2.5f;
        p.tof = tofon;
        p.tof_fwhm_ps = 150.f;
        p.fov_radius_mm = box ? 0.f : 9.f; /* cuts the 24 x 20 image */
        p.dd_centre_box = box;
        check_adjoint(names[k], p, adj_geom(), lor, tof, N);
        if (box) {
          p.fov_radius_mm = 9.f;
          check_adjoint("DD centre box + fov", p, adj_geom(), lor, tof, N);
        }
      }
  free(lor);
}

/* fov_radius_mm 0 (and negative, and a cylinder enclosing every LOR) leave every projector's
 * results as they were, bit for bit. */
static void test_fov_zero_is_bitwise_unchanged(void **state)
{
  (void)state;
  enum { N = 2000 };
  float tof[N];
  float *lor = cyl_lors(N, 99, tof);
  pet_image_params g = adj_geom();
  pet_image *x = make_image(g, 0.f);
  for (int64_t v = 0; v < pet_image_num_voxels(x); ++v) x->data[v] = pet_test_uniform(7 * v);
  const char *names[3] = {"S", "MRS", "DD"};
  static float y0[N], y1[N];
  for (int k = 0; k < 3; ++k) {
    pet_projector_params p = pet_projector_params_default();
    assert_int_equal(pet_projector_params_set_name(&p, names[k]), PET_OK);
    pet_lor_batch b = {N, lor, NULL, NULL};
    assert_int_equal(pet_project_fwd_cpu(&p, &b, x, y0), PET_OK);
    const float radii[2] = {-5.f, 1e4f};
    for (int r = 0; r < 2; ++r) {
      if (k == 2 && r == 1) continue; /* DD's clipped path weighs slices by fractions */
      pet_projector_params q = p;
      q.fov_radius_mm = radii[r];
      assert_int_equal(pet_project_fwd_cpu(&q, &b, x, y1), PET_OK);
      assert_memory_equal(y0, y1, sizeof y0);
    }
  }
  free(lor);
  pet_image_destroy(&x);
}

/* DD with dd_centre_box: along x through a 10-voxel row, slices 0 and 9 weigh half (1 mm instead
 * of 2), the others as before; an image of ones projects to the distance between the first and
 * last centres (18 mm instead of 20). */
static void test_dd_centre_box_halves_the_outer_slices(void **state)
{
  (void)state;
  pet_image_params g = pet_image_params_make(10, 10, 10, 20.f, 20.f, 20.f);
  float lor[6] = {-50.f, 0.5f, 0.3f, 50.f, 0.5f, 0.3f};
  pet_projector_params p = pet_projector_params_default();
  assert_int_equal(pet_projector_params_set_name(&p, "DD"), PET_OK);
  p.crystal_size_trans = 1.f;
  p.crystal_size_z = 1.f;
  float one = 1.f;
  pet_lor_batch b = {1, lor, NULL, NULL};
  pet_image *full = make_image(g, 0.f), *cbox = make_image(g, 0.f), *ones = make_image(g, 1.f);
  assert_int_equal(pet_project_back_cpu(&p, &b, &one, full), PET_OK);
  check_close("dd full box", fwd_one(&p, lor, ones), 20.0, 1e-6);
  p.dd_centre_box = 1;
  assert_int_equal(pet_project_back_cpu(&p, &b, &one, cbox), PET_OK);
  check_close("dd centre box", fwd_one(&p, lor, ones), 18.0, 1e-6);
  for (int i = 0; i < 10; ++i) {
    double sf = 0.0, sc = 0.0;
    for (int k = 0; k < 10; ++k)
      for (int j = 0; j < 10; ++j) {
        int64_t v = (k * 10 + j) * 10 + i;
        sf += full->data[v];
        sc += cbox->data[v];
        /* same footprint, scaled */
        check_close("slice footprint", cbox->data[v], full->data[v] * ((i == 0 || i == 9) ? 0.5 : 1.0), 1e-6);
      }
    check_close("full slice weight", sf, 2.0, 1e-6);
    check_close("centre-box slice weight", sc, (i == 0 || i == 9) ? 1.0 : 2.0, 1e-6);
  }
  pet_image_destroy(&full);
  pet_image_destroy(&cbox);
  pet_image_destroy(&ones);
}

static void test_image_mask_fov(void **state)
{
  (void)state;
  pet_image_params g = pet_image_params_make(8, 6, 2, 16.f, 12.f, 4.f);
  g.off_x = 1.f;
  pet_image *img = make_image(g, 2.f);
  assert_int_equal(pet_image_mask_fov(img, 0.f), PET_OK); /* no cylinder: unchanged */
  assert_int_equal(pet_image_mask_fov(img, -1.f), PET_OK);
  for (int64_t v = 0; v < pet_image_num_voxels(img); ++v) assert_true(img->data[v] == 2.f);
  assert_int_equal(pet_image_mask_fov(img, 5.f), PET_OK);
  int kept = 0;
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 6; ++j)
      for (int i = 0; i < 8; ++i) {
        double x = 1.0 - 8.0 + 2.0 * i + 1.0, y = -6.0 + 2.0 * j + 1.0;
        float want = x * x + y * y <= 25.0 ? 2.f : 0.f;
        assert_true(img->data[(k * 6 + j) * 8 + i] == want);
        kept += want > 0.f;
      }
  assert_true(kept > 0 && kept < 96);
  pet_error_set_print(false);
  assert_int_equal(pet_image_mask_fov(NULL, 5.f), PET_ERR_ARG);
  assert_int_equal(pet_image_mask_fov(img, NAN), PET_ERR_ARG);
  pet_image *unbound = NULL;
  assert_int_equal(pet_image_create(&unbound, g, PET_ALIAS, PET_HOST), PET_OK);
  assert_int_equal(pet_image_mask_fov(unbound, 5.f), PET_ERR_STATE);
  pet_error_set_print(true);
  pet_image_destroy(&unbound);
  pet_image_destroy(&img);

  pet_scanner_params sp = pet_scanner_params_small();
  check_close("default fov", pet_scanner_fov_radius(&sp), sp.scanner_radius, 0.0);
  sp.fov_radius = 120.f;
  check_close("given fov", pet_scanner_fov_radius(&sp), 120.0, 0.0);
  pet_projector_params p = pet_projector_params_default();
  pet_projector_params_set_fov(&p, &sp);
  check_close("params fov", p.fov_radius_mm, 120.0, 0.0);
}

static void test_new_params_are_checked(void **state)
{
  (void)state;
  pet_error_set_print(false);
  pet_projector_params q = pet_projector_params_default();
  assert_true(q.fov_radius_mm == 0.f && q.dd_centre_box == 0);
  q.fov_radius_mm = NAN;
  assert_int_equal(pet_projector_params_check(&q), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "fov_radius_mm"));
  q.fov_radius_mm = INFINITY;
  assert_int_equal(pet_projector_params_check(&q), PET_ERR_ARG);
  q.fov_radius_mm = -1.f; /* = no cylinder */
  assert_int_equal(pet_projector_params_check(&q), PET_OK);
  q.dd_centre_box = 2;
  assert_int_equal(pet_projector_params_check(&q), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "dd_centre_box"));
  pet_scanner_params sp = pet_scanner_params_small();
  sp.fov_radius = -3.f;
  assert_int_equal(pet_scanner_params_check(&sp), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "fov_radius"));
  pet_error_set_print(true);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ties_split_the_chord_between_rows),
      cmocka_unit_test(test_ties_oblique_lor_in_a_z_plane),
      cmocka_unit_test(test_ties_adjoint_and_symmetric),
      cmocka_unit_test(test_fov_clips_to_the_cylinder),
      cmocka_unit_test(test_fov_and_centre_box_are_adjoint),
      cmocka_unit_test(test_fov_zero_is_bitwise_unchanged),
      cmocka_unit_test(test_dd_centre_box_halves_the_outer_slices),
      cmocka_unit_test(test_image_mask_fov),
      cmocka_unit_test(test_new_params_are_checked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
