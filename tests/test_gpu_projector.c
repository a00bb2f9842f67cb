/* GPU projectors and the device projection list against the host drivers: fwd and back of
 * Siddon, multi-ray Siddon and DD, TOF and non-TOF, on random images and LORs (fresh each run:
 * the seed is printed), the analytic cases, adjointness on the device, batching, device image
 * aliases, and the errors. Exits 77 (skipped) without a CUDA device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pet_gpu.h"
#include "pet_histogram.h"
#include "pet_listmode.h"
#include "pet_projector.h"
#include "pet_projector_cases.h"
#include "pet_scanner.h"
#include "pet_test_util.h"

static uint64_t g_seed;
#define NLORS 4000

typedef struct lorset {
  int64_t n;
  float *lor, *orient, *tof, *vals;
} lorset;

static float urand(uint64_t *k) { return pet_test_uniform((*k)++); }

/* Random LORs between two points on a cylinder of radius 60 mm around the image, their
 * outward normals, TOF in [-300, 300] ps and positive values. */
static lorset make_lors(int64_t n, uint64_t key)
{
  lorset s;
  s.n = n;
  s.lor = malloc((size_t)n * 24);
  s.orient = malloc((size_t)n * 24);
  s.tof = malloc((size_t)n * 4);
  s.vals = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; ++i) {
    for (int e = 0; e < 2; ++e) {
      float a = 6.2831853f * urand(&key);
      float z = -12.0f + 24.0f * urand(&key);
      s.lor[6 * i + 3 * e + 0] = 60.0f * cosf(a);
      s.lor[6 * i + 3 * e + 1] = 60.0f * sinf(a);
      s.lor[6 * i + 3 * e + 2] = z;
      s.orient[6 * i + 3 * e + 0] = cosf(a);
      s.orient[6 * i + 3 * e + 1] = sinf(a);
      s.orient[6 * i + 3 * e + 2] = 0.0f;
    }
    s.tof[i] = -300.0f + 600.0f * urand(&key);
    s.vals[i] = 0.1f + urand(&key);
  }
  return s;
}
static void free_lors(lorset *s)
{
  free(s->lor);
  free(s->orient);
  free(s->tof);
  free(s->vals);
}

/* Device copies of a LOR set. */
typedef struct dlorset {
  float *lor, *orient, *tof, *vals, *out;
} dlorset;
static void *up(const void *h, size_t bytes)
{
  void *d = NULL;
  assert_int_equal(pet_gpu_malloc(&d, bytes, "test"), PET_OK);
  assert_int_equal(pet_gpu_memcpy(d, h, bytes, 0), PET_OK);
  return d;
}
static dlorset upload_lors(const lorset *s)
{
  dlorset d;
  d.lor = up(s->lor, (size_t)s->n * 24);
  d.orient = up(s->orient, (size_t)s->n * 24);
  d.tof = up(s->tof, (size_t)s->n * 4);
  d.vals = up(s->vals, (size_t)s->n * 4);
  d.out = up(s->vals, (size_t)s->n * 4);
  return d;
}
static void free_dlors(dlorset *d)
{
  pet_gpu_free(d->lor);
  pet_gpu_free(d->orient);
  pet_gpu_free(d->tof);
  pet_gpu_free(d->vals);
  pet_gpu_free(d->out);
}

static pet_image_params test_geom(void)
{
  pet_image_params g = pet_image_params_make(20, 16, 12, 60.0f, 48.0f, 24.0f);
  g.off_x = 1.5f;
  g.off_y = -2.0f;
  g.off_z = 0.5f;
  return g;
}

static pet_image *host_image(pet_image_params g, uint64_t key, int random)
{
  pet_image *img = NULL;
  assert_int_equal(pet_image_create_owned(&img, g, PET_HOST), PET_OK);
  for (int64_t v = 0; v < pet_image_num_voxels(img); ++v)
    img->data[v] = random ? pet_test_uniform(key + (uint64_t)v) : 0.0f;
  return img;
}
static pet_image *device_copy(const pet_image *h)
{
  pet_image *d = NULL;
  assert_int_equal(pet_image_create_owned(&d, h->params, PET_DEVICE), PET_OK);
  assert_int_equal(pet_image_copy(d, h), PET_OK);
  return d;
}

/* max |a-b| / max|a| and the worst per-element relative difference of elements above 1% of
 * the largest. */
static void compare(const char *what, const float *a, const float *b, int64_t n, double tol)
{
  double amax = 0, worst = 0;
  for (int64_t i = 0; i < n; ++i) amax = fmax(amax, fabs(a[i]));
  for (int64_t i = 0; i < n; ++i) {
    double d = fabs((double)a[i] - b[i]);
    double r = d / fmax(fmax(fabs(a[i]), fabs(b[i])), 1e-2 * amax);
    if (r > worst) worst = r;
  }
  printf("  %-28s n=%lld max=%.4g worst rel diff %.3g\n", what, (long long)n, amax, worst);
  assert_true(amax > 0.0);
  assert_true(worst <= tol);
}

static pet_projector_params proj_of(int kind, int tof)
{
  pet_projector_params p = pet_projector_params_default();
  p.kind = kind == 2 ? PET_PROJ_DD : PET_PROJ_SIDDON;
  p.num_rays = kind == 1 ? 4 : 1;
  p.crystal_size_trans = 3.0f;
  p.crystal_size_z = 3.0f;
  p.tof = tof;
  p.tof_fwhm_ps = 400.0f;
  p.tof_n_sigmas = 3.0f;
  return p;
}
static const char *kind_name(int k) { return k == 0 ? "siddon" : (k == 1 ? "mrs4" : "dd"); }

static void test_cpu_equals_gpu(void **state)
{
  (void)state;
  pet_image_params g = test_geom();
  lorset s = make_lors(NLORS, g_seed);
  dlorset d = upload_lors(&s);
  pet_image *hx = host_image(g, g_seed + 7777777, 1);
  pet_image *dx = device_copy(hx);
  float *hp = malloc((size_t)s.n * 4), *gp = malloc((size_t)s.n * 4);
  int64_t nv = pet_image_num_voxels(hx);
  for (int kind = 0; kind < 3; ++kind)
    for (int tof = 0; tof < 2; ++tof) {
      pet_projector_params p = proj_of(kind, tof);
      pet_lor_batch hb = {s.n, s.lor, s.orient, tof ? s.tof : NULL};
      pet_lor_batch db = {s.n, d.lor, d.orient, tof ? d.tof : NULL};
      char name[64];
      /* forward */
      assert_int_equal(pet_project_fwd_cpu(&p, &hb, hx, hp), PET_OK);
      assert_int_equal(pet_gpu_project_fwd(&p, &db, dx, d.out), PET_OK);
      assert_int_equal(pet_gpu_memcpy(gp, d.out, (size_t)s.n * 4, 1), PET_OK);
      snprintf(name, sizeof name, "%s%s fwd", kind_name(kind), tof ? "+tof" : "");
      compare(name, hp, gp, s.n, 1e-4);
      /* back */
      pet_image *hb_img = host_image(g, 0, 0);
      pet_image *db_img = device_copy(hb_img);
      pet_image *gb_img = host_image(g, 0, 0);
      assert_int_equal(pet_project_back_cpu(&p, &hb, s.vals, hb_img), PET_OK);
      assert_int_equal(pet_gpu_project_back(&p, &db, d.vals, db_img), PET_OK);
      assert_int_equal(pet_image_copy(gb_img, db_img), PET_OK);
      snprintf(name, sizeof name, "%s%s back", kind_name(kind), tof ? "+tof" : "");
      compare(name, hb_img->data, gb_img->data, nv, 1e-4);
      pet_image_destroy(&hb_img);
      pet_image_destroy(&db_img);
      pet_image_destroy(&gb_img);
    }
  free(hp);
  free(gp);
  pet_image_destroy(&hx);
  pet_image_destroy(&dx);
  free_dlors(&d);
  free_lors(&s);
}

/* <A x, y> == <x, A^T y> with both sides computed on the device. */
static void test_adjoint_on_device(void **state)
{
  (void)state;
  pet_image_params g = test_geom();
  lorset s = make_lors(NLORS, g_seed + 99);
  dlorset d = upload_lors(&s);
  pet_image *hx = host_image(g, g_seed + 4242, 1);
  pet_image *dx = device_copy(hx);
  int64_t nv = pet_image_num_voxels(hx);
  float *ax = malloc((size_t)s.n * 4);
  for (int kind = 0; kind < 3; ++kind)
    for (int tof = 0; tof < 2; ++tof) {
      pet_projector_params p = proj_of(kind, tof);
      pet_lor_batch db = {s.n, d.lor, d.orient, tof ? d.tof : NULL};
      assert_int_equal(pet_gpu_project_fwd(&p, &db, dx, d.out), PET_OK);
      assert_int_equal(pet_gpu_memcpy(ax, d.out, (size_t)s.n * 4, 1), PET_OK);
      pet_image *bt = host_image(g, 0, 0);
      pet_image *dbt = device_copy(bt);
      assert_int_equal(pet_gpu_project_back(&p, &db, d.vals, dbt), PET_OK);
      assert_int_equal(pet_image_copy(bt, dbt), PET_OK);
      double lhs = 0, rhs = 0;
      for (int64_t i = 0; i < s.n; ++i) lhs += (double)ax[i] * s.vals[i];
      for (int64_t v = 0; v < nv; ++v) rhs += (double)hx->data[v] * bt->data[v];
      printf("  adjoint %s%s: <Ax,y>=%.8g <x,A^Ty>=%.8g rel %.3g\n", kind_name(kind),
             tof ? "+tof" : "", lhs, rhs, pet_test_reldiff(lhs, rhs));
      assert_true(lhs > 0);
      assert_true(pet_test_reldiff(lhs, rhs) < 1e-5);
      pet_image_destroy(&bt);
      pet_image_destroy(&dbt);
    }
  free(ax);
  pet_image_destroy(&hx);
  pet_image_destroy(&dx);
  free_dlors(&d);
  free_lors(&s);
}

/* The analytic table: an image of ones projects to the chord length (Siddon; DD where exact). */
static void test_analytic_cases(void **state)
{
  (void)state;
  const int ncases = (int)(sizeof pet_projector_cases / sizeof pet_projector_cases[0]);
  float *dl = NULL, *dp = NULL;
  assert_int_equal(pet_gpu_malloc((void **)&dl, 24, "case"), PET_OK);
  assert_int_equal(pet_gpu_malloc((void **)&dp, 4, "case"), PET_OK);
  for (int c = 0; c < ncases; ++c) {
    const pet_projector_case *pc = &pet_projector_cases[c];
    pet_image *img = NULL;
    assert_int_equal(pet_image_create_owned(&img, pc->g, PET_DEVICE), PET_OK);
    assert_int_equal(pet_image_fill(img, 1.0f), PET_OK);
    assert_int_equal(pet_gpu_memcpy(dl, pc->lor, 24, 0), PET_OK);
    pet_lor_batch b = {1, dl, NULL, NULL};
    for (int dd = 0; dd < 2; ++dd) {
      if (dd && !pc->dd_exact) continue;
      pet_projector_params p = pet_projector_params_default();
      if (dd) {
        p.kind = PET_PROJ_DD;
        p.crystal_size_trans = 1.0f;
        p.crystal_size_z = 1.0f;
      }
      float v = -1.0f;
      assert_int_equal(pet_gpu_project_fwd(&p, &b, img, dp), PET_OK);
      assert_int_equal(pet_gpu_memcpy(&v, dp, 4, 1), PET_OK);
      double tol = 1e-4 * fmax(1.0, pc->chord_mm);
      if (fabs(v - pc->chord_mm) > tol)
        printf("  case %s (%s): %.7g, chord %.7g\n", pc->name, dd ? "dd" : "siddon", v,
               pc->chord_mm);
      assert_true(fabs(v - pc->chord_mm) <= tol);
    }
    pet_image_destroy(&img);
  }
  printf("  %d analytic cases on the device\n", ncases);
  pet_gpu_free(dl);
  pet_gpu_free(dp);
}

/* LORs on voxel planes (the tie rule) and across the FOV cylinder: CPU == GPU, forward and
 * back, Siddon, multi-ray and DD (DD with the centre box too). */
static void test_ties_and_fov_cpu_equals_gpu(void **state)
{
  (void)state;
  pet_image_params g = pet_image_params_make(20, 16, 12, 40.f, 32.f, 24.f);
  enum { N = 600 };
  lorset s = make_lors(N, g_seed + 31337);
  /* voxel planes: x, y, z at even mm; every other LOR on a plane (an edge every 6th) */
  for (int i = 0; i < N; i += 2) {
    float *l = s.lor + 6 * i;
    float q = 2.0f * (float)(int)(-8.0f + 16.0f * pet_test_uniform(g_seed + 77 * (uint64_t)i));
    float jit = (i % 4 == 0) ? 0.0f : 1e-4f;
    if (i % 3 == 0) {
      l[1] = l[4] = q + jit; /* along x-ish on a y plane */
      if (i % 6 == 0) l[2] = l[5] = 2.0f;
    } else {
      l[2] = l[5] = q * 0.5f + jit; /* in a z plane */
    }
  }
  dlorset d = upload_lors(&s);
  pet_image *hx = host_image(g, g_seed + 5150, 1), *dx = device_copy(hx);
  float *hp = malloc(N * 4), *gp = malloc(N * 4);
  for (int kind = 0; kind < 3; ++kind)
    for (int variant = 0; variant < 3; ++variant) {
      pet_projector_params p = proj_of(kind, variant == 2);
      p.fov_radius_mm = variant >= 1 ? 14.0f : 0.0f;
      p.dd_centre_box = kind == 2 && variant == 1;
      pet_lor_batch hb = {s.n, s.lor, s.orient, p.tof ? s.tof : NULL};
      pet_lor_batch db = {s.n, d.lor, d.orient, p.tof ? d.tof : NULL};
      assert_int_equal(pet_project_fwd_cpu(&p, &hb, hx, hp), PET_OK);
      assert_int_equal(pet_gpu_project_fwd(&p, &db, dx, d.out), PET_OK);
      assert_int_equal(pet_gpu_memcpy(gp, d.out, (size_t)N * 4, 1), PET_OK);
      char name[64];
      snprintf(name, sizeof name, "%s ties/fov v%d fwd", kind_name(kind), variant);
      compare(name, hp, gp, N, 1e-4);
      pet_image *hb_img = host_image(g, 0, 0), *gb_img = host_image(g, 0, 0);
      pet_image *db_img = device_copy(hb_img);
      assert_int_equal(pet_project_back_cpu(&p, &hb, s.vals, hb_img), PET_OK);
      assert_int_equal(pet_gpu_project_back(&p, &db, d.vals, db_img), PET_OK);
      assert_int_equal(pet_image_copy(gb_img, db_img), PET_OK);
      snprintf(name, sizeof name, "%s ties/fov v%d back", kind_name(kind), variant);
      compare(name, hb_img->data, gb_img->data, pet_image_num_voxels(hb_img), 1e-4);
      pet_image_destroy(&hb_img);
      pet_image_destroy(&gb_img);
      pet_image_destroy(&db_img);
    }
  free(hp);
  free(gp);
  pet_image_destroy(&hx);
  pet_image_destroy(&dx);
  free_dlors(&d);
  free_lors(&s);
}

static pet_scanner *small_scanner(void)
{
  pet_scanner_params sp = pet_scanner_params_small();
  snprintf(sp.name, sizeof sp.name, "TEST96");
  sp.dets_per_ring = 96;
  sp.num_rings = 4;
  sp.axial_fov = 12.0f;
  sp.crystal_size_z = 3.0f;
  sp.crystal_size_trans = 3.0f;
  sp.scanner_radius = 60.0f;
  sp.dets_per_block = 8;
  sp.max_ring_diff = 3;
  sp.min_ang_diff = 1;
  pet_scanner *s = NULL;
  assert_int_equal(pet_scanner_create(&s, &sp), PET_OK);
  return s;
}

/* Device LORs of a histogram subset equal pet_histo_get_subset_lors, and a tiny budget (many
 * batches) back-projects the same image as one batch. */
static void test_projlist_batches(void **state)
{
  (void)state;
  pet_scanner *sc = small_scanner();
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create_owned(&h, sc), PET_OK);
  const pet_histo_layout *L = h->layout;
  const int32_t S = 4, s = 1;
  pet_image_params g = pet_image_params_make(24, 24, 4, 72.f, 72.f, 12.f);
  pet_projector_params p = pet_projector_params_default();
  p.kind = PET_PROJ_DD;
  p.crystal_size_trans = 3.0f;
  p.crystal_size_z = 3.0f;

  pet_projlist_device *one = NULL, *many = NULL;
  assert_int_equal(pet_projlist_device_create(&one, sc, h, NULL, 0, 0, S, PET_OWNED), PET_OK);
  assert_int_equal(pet_projlist_device_num_batches(one, s), 1);
  assert_int_equal(pet_projlist_device_create(&many, sc, h, NULL, 0, 97 * 56, S, PET_OWNED), PET_OK);
  const int64_t nb = pet_projlist_device_num_batches(many, s);
  printf("  tiny budget: %lld LORs per batch, %lld batches\n",
         (long long)pet_projlist_device_batch_capacity(many), (long long)nb);
  assert_true(nb > 10);

  /* LORs of the single batch equal the host's */
  assert_int_equal(pet_projlist_device_prepare_batch(one, s, 0), PET_OK);
  const int64_t n = pet_projlist_device_loaded_batch_size(one);
  assert_int_equal(n, pet_histo_subset_size(L->num_phi, L->num_r, L->num_zbin, S, s));
  float *hl = malloc((size_t)n * 24), *ho = malloc((size_t)n * 24), *gl = malloc((size_t)n * 24);
  assert_int_equal(pet_histo_get_subset_lors(L, sc, S, s, 0, n, hl, ho), PET_OK);
  pet_lor_batch b = pet_projlist_device_batch(one);
  assert_int_equal(pet_gpu_memcpy(gl, b.lor, (size_t)n * 24, 1), PET_OK);
  assert_memory_equal(hl, gl, (size_t)n * 24);
  assert_int_equal(pet_gpu_memcpy(gl, b.orient, (size_t)n * 24, 1), PET_OK);
  assert_memory_equal(ho, gl, (size_t)n * 24);

  /* back projection of ones: one batch vs many */
  pet_image *d1 = NULL, *d2 = NULL, *h1 = host_image(g, 0, 0), *h2 = host_image(g, 0, 0);
  assert_int_equal(pet_image_create_owned(&d1, g, PET_DEVICE), PET_OK);
  assert_int_equal(pet_image_create_owned(&d2, g, PET_DEVICE), PET_OK);
  assert_int_equal(pet_projlist_device_allocate_values(one), PET_OK);
  assert_int_equal(pet_gpu_fill_f32(pet_projlist_device_values(one), n, 1.0f), PET_OK);
  assert_int_equal(pet_projlist_device_back(one, &p, d1), PET_OK);
  assert_int_equal(pet_projlist_device_allocate_values(many), PET_OK);
  for (int64_t k = 0; k < nb; ++k) {
    assert_int_equal(pet_projlist_device_prepare_batch(many, s, k), PET_OK);
    assert_int_equal(pet_gpu_fill_f32(pet_projlist_device_values(many),
                                      pet_projlist_device_loaded_batch_size(many), 1.0f), PET_OK);
    assert_int_equal(pet_projlist_device_back(many, &p, d2), PET_OK);
  }
  assert_int_equal(pet_image_copy(h1, d1), PET_OK);
  assert_int_equal(pet_image_copy(h2, d2), PET_OK);
  compare("one batch vs tiny budget", h1->data, h2->data, pet_image_num_voxels(h1), 1e-5);

  free(hl);
  free(ho);
  free(gl);
  pet_image_destroy(&d1);
  pet_image_destroy(&d2);
  pet_image_destroy(&h1);
  pet_image_destroy(&h2);
  pet_projlist_device_destroy(&one);
  pet_projlist_device_destroy(&many);
  pet_histogram_destroy(&h);
  pet_scanner_destroy(&sc);
}

/* The projection list's back projection of a whole histogram subset (the shared-memory tile
 * path: one (phi, r) in every z-bin per block) equals the host's, and is the adjoint of the
 * device forward projection, for Siddon, multi-ray Siddon and DD. */
static void test_projlist_tile_back(void **state)
{
  (void)state;
  pet_scanner *sc = small_scanner();
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create_owned(&h, sc), PET_OK);
  const int32_t S = 3, s = 2;
  pet_image_params g = pet_image_params_make(24, 20, 6, 72.f, 60.f, 18.f);
  g.off_x = 1.0f;
  g.off_y = -1.5f;
  pet_projlist_device *pl = NULL;
  assert_int_equal(pet_projlist_device_create(&pl, sc, h, NULL, 0, 0, S, PET_OWNED), PET_OK);
  assert_int_equal(pet_projlist_device_allocate_values(pl), PET_OK);
  assert_int_equal(pet_projlist_device_prepare_batch(pl, s, 0), PET_OK);
  const int64_t n = pet_projlist_device_loaded_batch_size(pl);
  float *hl = malloc((size_t)n * 24), *ho = malloc((size_t)n * 24), *y = malloc((size_t)n * 4);
  float *ax = malloc((size_t)n * 4);
  assert_int_equal(pet_histo_get_subset_lors(h->layout, sc, S, s, 0, n, hl, ho), PET_OK);
  for (int64_t i = 0; i < n; ++i) y[i] = pet_test_uniform(g_seed + 31 * (uint64_t)i);
  pet_image *hx = host_image(g, g_seed + 555, 1), *dx = device_copy(hx);
  const int64_t nv = pet_image_num_voxels(hx);
  for (int kind = 0; kind < 3; ++kind) {
    pet_projector_params p = proj_of(kind, 0);
    pet_lor_batch hb = {n, hl, ho, NULL};
    pet_image *hb_img = host_image(g, 0, 0), *gb_img = host_image(g, 0, 0);
    pet_image *db_img = device_copy(hb_img);
    assert_int_equal(pet_project_back_cpu(&p, &hb, y, hb_img), PET_OK);
    assert_int_equal(pet_gpu_memcpy(pet_projlist_device_values(pl), y, (size_t)n * 4, 0), PET_OK);
    assert_int_equal(pet_projlist_device_back(pl, &p, db_img), PET_OK);
    assert_int_equal(pet_image_copy(gb_img, db_img), PET_OK);
    char name[64];
    snprintf(name, sizeof name, "%s tile back", kind_name(kind));
    compare(name, hb_img->data, gb_img->data, nv, 1e-4);
    assert_int_equal(pet_projlist_device_fwd(pl, &p, dx), PET_OK);
    assert_int_equal(pet_gpu_memcpy(ax, pet_projlist_device_values(pl), (size_t)n * 4, 1), PET_OK);
    double lhs = 0, rhs = 0;
    for (int64_t i = 0; i < n; ++i) lhs += (double)ax[i] * y[i];
    for (int64_t v = 0; v < nv; ++v) rhs += (double)hx->data[v] * gb_img->data[v];
    printf("  adjoint %s tile: <Ax,y>=%.8g <x,A^Ty>=%.8g rel %.3g\n", kind_name(kind), lhs, rhs,
           pet_test_reldiff(lhs, rhs));
    assert_true(lhs > 0);
    assert_true(pet_test_reldiff(lhs, rhs) < 1e-5);
    pet_image_destroy(&hb_img);
    pet_image_destroy(&gb_img);
    pet_image_destroy(&db_img);
  }
  free(hl);
  free(ho);
  free(y);
  free(ax);
  pet_image_destroy(&hx);
  pet_image_destroy(&dx);
  pet_projlist_device_destroy(&pl);
  pet_histogram_destroy(&h);
  pet_scanner_destroy(&sc);
}

/* ImageDeviceAlias over a caller's device buffer: written in place, not freed by destroy;
 * ProjectionListDeviceAlias values bound to a caller's buffer (the torch example). */
static void test_device_alias(void **state)
{
  (void)state;
  pet_scanner *sc = small_scanner();
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create_owned(&h, sc), PET_OK);
  pet_image_params g = pet_image_params_make(16, 16, 4, 64.f, 64.f, 12.f);
  const int64_t nv = pet_image_params_num_voxels(&g);
  float *buf = NULL;
  assert_int_equal(pet_gpu_malloc((void **)&buf, (size_t)nv * 4, "torch tensor"), PET_OK);
  assert_int_equal(pet_gpu_fill_f32(buf, nv, 0.0f), PET_OK);
  pet_image *img = NULL;
  assert_int_equal(pet_image_create(&img, g, PET_ALIAS, PET_DEVICE), PET_OK);
  assert_int_equal(pet_image_bind(img, buf), PET_OK);

  pet_projlist_device *pl = NULL;
  assert_int_equal(pet_projlist_device_create(&pl, sc, h, NULL, 0, (int64_t)pet_gpu_available_vram() / 4, 1, PET_ALIAS), PET_OK);
  assert_int_equal(pet_projlist_device_prepare_batch(pl, 0, 0), PET_OK);
  const int64_t n = pet_projlist_device_loaded_batch_size(pl);
  assert_int_equal(n, h->layout->num_bins);
  float *ones = NULL;
  assert_int_equal(pet_gpu_malloc((void **)&ones, (size_t)n * 4, "torch ones"), PET_OK);
  assert_int_equal(pet_gpu_fill_f32(ones, n, 1.0f), PET_OK);
  assert_int_equal(pet_projlist_device_bind_values(pl, ones), PET_OK);
  pet_projector_params p = pet_projector_params_default();
  p.kind = PET_PROJ_DD;
  assert_int_equal(pet_projlist_device_back(pl, &p, img), PET_OK);
  assert_ptr_equal(img->data, buf);
  pet_image_destroy(&img);
  pet_projlist_device_destroy(&pl);
  /* the buffers are still ours: read them and free them */
  float *host = malloc((size_t)nv * 4);
  assert_int_equal(pet_gpu_memcpy(host, buf, (size_t)nv * 4, 1), PET_OK);
  double sum = 0;
  for (int64_t v = 0; v < nv; ++v) sum += host[v];
  printf("  alias image sum after applyAH: %.6g\n", sum);
  assert_true(sum > 0);
  float one = 0;
  assert_int_equal(pet_gpu_memcpy(&one, ones, 4, 1), PET_OK);
  assert_true(one == 1.0f);
  free(host);
  pet_gpu_free(buf);
  pet_gpu_free(ones);
  pet_histogram_destroy(&h);
  pet_scanner_destroy(&sc);
}

static void test_errors(void **state)
{
  (void)state;
  pet_image_params g = pet_image_params_make(8, 8, 4, 32.f, 32.f, 12.f);
  pet_projector_params p = pet_projector_params_default();
  float *dl = NULL, *dp = NULL;
  float lor[6] = {-50, 0, 0, 50, 0, 0};
  assert_int_equal(pet_gpu_malloc((void **)&dl, 24, "t"), PET_OK);
  assert_int_equal(pet_gpu_malloc((void **)&dp, 4, "t"), PET_OK);
  assert_int_equal(pet_gpu_memcpy(dl, lor, 24, 0), PET_OK);
  pet_lor_batch b = {1, dl, NULL, NULL};
  /* device image used before allocate / bind */
  pet_image *unalloc = NULL, *unbound = NULL, *host = NULL;
  assert_int_equal(pet_image_create(&unalloc, g, PET_OWNED, PET_DEVICE), PET_OK);
  assert_int_equal(pet_image_create(&unbound, g, PET_ALIAS, PET_DEVICE), PET_OK);
  assert_int_equal(pet_gpu_project_fwd(&p, &b, unalloc, dp), PET_ERR_STATE);
  assert_int_equal(pet_gpu_project_back(&p, &b, dp, unbound), PET_ERR_STATE);
  /* a host image given to the device projector */
  assert_int_equal(pet_image_create_owned(&host, g, PET_HOST), PET_OK);
  assert_int_equal(pet_gpu_project_fwd(&p, &b, host, dp), PET_ERR_STATE);
  /* host LORs given to the device projector */
  pet_lor_batch hb = {1, lor, NULL, NULL};
  pet_image *dimg = NULL;
  assert_int_equal(pet_image_create_owned(&dimg, g, PET_DEVICE), PET_OK);
  assert_int_equal(pet_gpu_project_fwd(&p, &hb, dimg, dp), PET_ERR_STATE);
  /* projection list values used before allocate / bind; wrong kind of call */
  pet_scanner *sc = small_scanner();
  pet_histogram *h = NULL;
  assert_int_equal(pet_histogram_create_owned(&h, sc), PET_OK);
  pet_projlist_device *own = NULL, *ali = NULL;
  assert_int_equal(pet_projlist_device_create(&own, sc, h, NULL, 0, 1 << 20, 1, PET_OWNED), PET_OK);
  assert_int_equal(pet_projlist_device_create(&ali, sc, h, NULL, 0, 1 << 20, 1, PET_ALIAS), PET_OK);
  assert_int_equal(pet_projlist_device_prepare_batch(own, 0, 0), PET_OK);
  assert_int_equal(pet_projlist_device_fwd(own, &p, dimg), PET_ERR_STATE);
  assert_int_equal(pet_projlist_device_back(ali, &p, dimg), PET_ERR_STATE);
  assert_int_equal(pet_projlist_device_bind_values(own, dp), PET_ERR_STATE);
  assert_int_equal(pet_projlist_device_allocate_values(ali), PET_ERR_STATE);
  assert_int_equal(pet_projlist_device_bind_values(ali, lor), PET_ERR_STATE); /* host memory */
  assert_int_equal(pet_projlist_device_prepare_batch(own, 0, 999999), PET_ERR_ARG);
  assert_int_equal(pet_projlist_device_prepare_batch(own, 3, 0), PET_ERR_ARG);
  /* a budget too small for one LOR */
  pet_projlist_device *tiny = NULL;
  assert_int_equal(pet_projlist_device_create(&tiny, sc, h, NULL, 0, 8, 1, PET_OWNED), PET_ERR_ARG);
  assert_null(tiny);
  /* out of memory: a clear PET_ERR_NOMEM */
  void *huge = NULL;
  assert_int_equal(pet_gpu_malloc(&huge, (size_t)1 << 50, "a test buffer"), PET_ERR_NOMEM);
  assert_null(huge);
  pet_projlist_device_destroy(&own);
  pet_projlist_device_destroy(&ali);
  pet_histogram_destroy(&h);
  pet_scanner_destroy(&sc);
  pet_image_destroy(&unalloc);
  pet_image_destroy(&unbound);
  pet_image_destroy(&host);
  pet_image_destroy(&dimg);
  pet_gpu_free(dl);
  pet_gpu_free(dp);
}

int main(void)
{
  if (pet_gpu_device_count() == 0) {
    printf("no CUDA device: skipped\n");
    return 77;
  }
  const char *env = getenv("PET_TEST_SEED");
  g_seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) * 1000003u;
  printf("test_gpu_projector: seed %llu (set PET_TEST_SEED to repeat)\n",
         (unsigned long long)g_seed);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cpu_equals_gpu),     cmocka_unit_test(test_adjoint_on_device),
      cmocka_unit_test(test_analytic_cases),     cmocka_unit_test(test_projlist_batches),
      cmocka_unit_test(test_projlist_tile_back),
      cmocka_unit_test(test_ties_and_fov_cpu_equals_gpu),
      cmocka_unit_test(test_device_alias),       cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
