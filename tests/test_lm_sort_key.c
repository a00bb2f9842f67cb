/* The list-mode sort key (src/kernels/pet_lm_sort_key.h) on the host: keys in range, the z slab
 * most significant, TOF keys that name the tile of the TOF centre (found here from the
 * geometry), a reversed LOR keeps its key, non-TOF keys that follow the transaxial line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_lm_sort_key.h"
#include "pet_test_util.h"

#define NEV 20000

static pet_image_params total_body(void)
{
  return pet_image_params_make(240, 240, 680, 240 * 2.85f, 240 * 2.85f, 680 * 2.85f);
}

/* A random LOR between two points on a cylinder of radius R and half-length H (mm) around the
 * image centre g (both endpoints outside the image, as a scanner's). */
static void random_lor(uint64_t k, float R, float H, pet_image_params g, float lor[6])
{
  for (int e = 0; e < 2; ++e) {
    const float a = 6.2831853f * pet_test_uniform(k * 7 + (uint64_t)e * 3 + 1);
    lor[3 * e + 0] = g.off_x + R * cosf(a);
    lor[3 * e + 1] = g.off_y + R * sinf(a);
    lor[3 * e + 2] = g.off_z + H * (2.0f * pet_test_uniform(k * 7 + (uint64_t)e * 3 + 2) - 1.0f);
  }
}

/* Distance of v from the nearest multiple of w (the nearest bin edge). */
static float edge_dist(float v, float w)
{
  float f = v / w - floorf(v / w);
  return w * fminf(f, 1.0f - f);
}

static void test_grid_total_body(void **state)
{
  (void)state;
  const pet_image_params g = total_body();
  const pet_lm_sort_grid t = pet_lm_sort_grid_make(g, 8, 8, 1), n = pet_lm_sort_grid_make(g, 8, 8, 0);
  assert_int_equal(t.nslab, 85);
  assert_int_equal(t.ntile_x, 30);
  assert_int_equal(t.ntile_y, 30);
  assert_true(t.bits <= 24 && n.bits <= 24); /* 3 radix passes of 8 bits */
  assert_true((1 << t.tile_bits) >= t.ntile_x);
  assert_true((1 << (t.bits - 2 * t.tile_bits)) >= t.nslab);
  /* a slab of one slice still fits */
  const pet_lm_sort_grid t1 = pet_lm_sort_grid_make(g, 1, 8, 1);
  assert_int_equal(t1.nslab, 680);
  assert_true(t1.bits <= 32);
}

/* TOF: key = slab << 2 tile_bits | morton(tile x, tile y) of the TOF centre, which lies
 * c tof / 2 from the midpoint towards endpoint 1; reversed LORs (tof negated) keep it. */
static void test_tof_key(void **state)
{
  (void)state;
  const pet_image_params g = total_body();
  const int slab_vox = 4, tile_vox = 8;
  const pet_lm_sort_grid s = pet_lm_sort_grid_make(g, slab_vox, tile_vox, 1);
  const float vz = g.length_z / g.nz, vxy = g.length_x / g.nx;
  const float slab_mm = slab_vox * vz, tile_mm = tile_vox * vxy;
  const float x0 = g.off_x - 0.5f * g.length_x, y0 = g.off_y - 0.5f * g.length_y;
  const float z0 = g.off_z - 0.5f * g.length_z;
  int checked = 0, reversed_same = 0, reversed_checked = 0;
  for (uint64_t k = 0; k < NEV; ++k) {
    float lor[6], rev[6];
    random_lor(k, 410.0f, 0.6f * g.length_z, g, lor);
    const float tof = 1500.0f * (2.0f * pet_test_uniform(k * 7 + 5) - 1.0f);
    const uint32_t key = pet_lm_sort_key(&s, lor, tof);
    assert_true(key < (1u << s.bits));
    /* the centre from the geometry */
    const float dx = lor[3] - lor[0], dy = lor[4] - lor[1], dz = lor[5] - lor[2];
    const float len = sqrtf(dx * dx + dy * dy + dz * dz);
    const float f = 0.5f - 0.5f * 0.299792458f * tof / len;
    const float p[3] = {lor[0] + f * dx, lor[1] + f * dy, lor[2] + f * dz};
    const float rel[3] = {p[0] - x0, p[1] - y0, p[2] - z0};
    memcpy(rev, lor + 3, 12);
    memcpy(rev + 3, lor, 12);
    if (edge_dist(rel[0], tile_mm) > 0.01f && edge_dist(rel[1], tile_mm) > 0.01f &&
        edge_dist(rel[2], slab_mm) > 0.01f) {
      ++reversed_checked;
      reversed_same += pet_lm_sort_key(&s, rev, -tof) == key;
    }
    if (rel[0] < 0 || rel[1] < 0 || rel[2] < 0 || rel[0] >= g.length_x || rel[1] >= g.length_y ||
        rel[2] >= g.length_z)
      continue; /* outside: clamped (range checked above) */
    if (edge_dist(rel[0], tile_mm) < 0.01f || edge_dist(rel[1], tile_mm) < 0.01f ||
        edge_dist(rel[2], slab_mm) < 0.01f)
      continue; /* float rounding may pick either side of an edge */
    const uint32_t slab = (uint32_t)(rel[2] / slab_mm), tx = (uint32_t)(rel[0] / tile_mm),
                   ty = (uint32_t)(rel[1] / tile_mm);
    assert_int_equal(key >> (2 * s.tile_bits), slab);
    uint32_t kx = 0, ky = 0;
    for (int b = 0; b < s.tile_bits; ++b) {
      kx |= ((key >> (2 * b)) & 1u) << b;
      ky |= ((key >> (2 * b + 1)) & 1u) << b;
    }
    assert_int_equal(kx, tx);
    assert_int_equal(ky, ty);
    ++checked;
  }
  printf("  TOF: %d centres inside the image checked, %d of %d reversed LORs same key\n", checked,
         reversed_same, reversed_checked);
  assert_true(checked > NEV / 4);
  assert_int_equal(reversed_same, reversed_checked);
}

/* Keys of LORs near each other: the same LOR with TOF a few ps apart mostly shares its key
 * (the centre moves < 1 mm, tiles are ~23 mm); LORs whose centres are a slab apart in z are
 * ordered by z (slab most significant). */
static void test_locality(void **state)
{
  (void)state;
  const pet_image_params g = total_body();
  const pet_lm_sort_grid s = pet_lm_sort_grid_make(g, 8, 8, 1);
  int same = 0;
  for (uint64_t k = 0; k < NEV; ++k) {
    float lor[6];
    random_lor(k, 410.0f, 0.4f * g.length_z, g, lor);
    const float tof = 400.0f * (2.0f * pet_test_uniform(k * 7 + 5) - 1.0f);
    same += pet_lm_sort_key(&s, lor, tof) == pet_lm_sort_key(&s, lor, tof + 3.0f);
    /* the same LOR moved up by two slabs: its key is larger (unless clamped at the top) */
    float up[6];
    memcpy(up, lor, sizeof up);
    const float dz = 2.0f * 8.0f * g.length_z / g.nz;
    up[2] += dz;
    up[5] += dz;
    const float zc = 0.5f * (lor[2] + lor[5]);
    if (zc + dz + 100.0f < g.off_z + 0.5f * g.length_z && zc - 100.0f > g.off_z - 0.5f * g.length_z)
      assert_true(pet_lm_sort_key(&s, up, tof) > pet_lm_sort_key(&s, lor, tof));
  }
  printf("  same key for TOF 3 ps apart: %d of %d\n", same, NEV);
  assert_true(same > 0.9 * NEV);
}

/* Non-TOF: the slab of the midpoint, then the transaxial line. The same line at another z
 * keeps the low bits; a reversed LOR keeps the key; parallel lines are ordered by their signed
 * distance. */
static void test_nontof_key(void **state)
{
  (void)state;
  const pet_image_params g = total_body();
  const pet_lm_sort_grid s = pet_lm_sort_grid_make(g, 8, 8, 0);
  const uint32_t low = (1u << (s.phi_bits + s.r_bits)) - 1u;
  int checked = 0;
  for (uint64_t k = 0; k < NEV; ++k) {
    float lor[6], rev[6], up[6];
    random_lor(k, 410.0f, 0.6f * g.length_z, g, lor);
    const uint32_t key = pet_lm_sort_key(&s, lor, 123.0f); /* TOF ignored */
    assert_true(key < (1u << s.bits));
    assert_int_equal(key, pet_lm_sort_key(&s, lor, -77.0f));
    memcpy(rev, lor + 3, 12);
    memcpy(rev + 3, lor, 12);
    memcpy(up, lor, sizeof up);
    up[2] += 50.0f;
    up[5] += 50.0f;
    const uint32_t kr = pet_lm_sort_key(&s, rev, 0.0f), ku = pet_lm_sort_key(&s, up, 0.0f);
    /* away from an angle-bin edge, the reverse shares the key, the lifted LOR the line bits */
    const float phi = atan2f(lor[4] - lor[1], lor[3] - lor[0]);
    const float u = (phi < 0 ? phi + 3.14159265f : phi) * 64.0f / 3.14159265f;
    const float l2 = hypotf(lor[3] - lor[0], lor[4] - lor[1]);
    const float r = ((0.5f * (lor[0] + lor[3]) - g.off_x) * (lor[4] - lor[1]) -
                     (0.5f * (lor[1] + lor[4]) - g.off_y) * (lor[3] - lor[0])) / l2;
    const float ur = fabsf(r) * s.inv_r;
    if (fabsf(u - roundf(u)) < 1e-3f || fabsf(ur - roundf(ur)) < 1e-3f) continue;
    assert_int_equal(kr, key);
    assert_int_equal(ku & low, key & low);
    assert_true((ku >> (s.phi_bits + s.r_bits)) >= (key >> (s.phi_bits + s.r_bits)));
    ++checked;
  }
  assert_true(checked > NEV / 2);
  /* parallel lines along x (phi = 0) at y = -200 ... 200: r bins never decrease with -y
   * (r = (p - c) x u: for u = +x, r = -(y - cy)) */
  uint32_t prev = 0;
  for (int i = 0; i <= 40; ++i) {
    const float y = 200.0f - 10.0f * (float)i;
    const float lor[6] = {-400.0f, y, 0.0f, 400.0f, y, 0.0f};
    const uint32_t key = pet_lm_sort_key(&s, lor, 0.0f);
    assert_true((key & low) >> s.r_bits == 0); /* angle bin 0 */
    if (i > 0) assert_true((key & ((1u << s.r_bits) - 1u)) >= prev);
    prev = key & ((1u << s.r_bits) - 1u);
  }
  assert_true(prev > 0);
}

/* Degenerate input stays in range: zero-length LORs, NaN TOF, far outside the image. */
static void test_degenerate(void **state)
{
  (void)state;
  const pet_image_params g = pet_image_params_make(32, 32, 4, 96.f, 96.f, 12.f);
  for (int tof = 0; tof < 2; ++tof) {
    const pet_lm_sort_grid s = pet_lm_sort_grid_make(g, 1, 4, tof);
    const float zero[6] = {1, 2, 3, 1, 2, 3}, far[6] = {1e6f, -1e6f, 1e6f, 2e6f, 1e6f, -3e6f};
    assert_true(pet_lm_sort_key(&s, zero, 0.0f) < (1u << s.bits));
    assert_true(pet_lm_sort_key(&s, zero, NAN) < (1u << s.bits));
    assert_true(pet_lm_sort_key(&s, far, 1e9f) < (1u << s.bits));
    assert_true(pet_lm_sort_key(&s, far, -1e9f) < (1u << s.bits));
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grid_total_body), cmocka_unit_test(test_tof_key),
      cmocka_unit_test(test_locality),        cmocka_unit_test(test_nontof_key),
      cmocka_unit_test(test_degenerate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
