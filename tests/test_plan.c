/* The plan (pet_plan.h), tested directly: over every rank count, every histogram bin and every
 * list-mode event lies in exactly one (rank, subset, batch); the sensitivity passes cover every
 * bin once; slabs tile the image once; batches follow the budget; a budget that holds no LOR is
 * an error naming --vram-budget. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_histogram.h"
#include "pet_listmode.h"
#include "pet_osem.h"
#include "pet_plan.h"
#include "pet_scanner.h"
#include "pet_test_util.h"

typedef struct fixture {
  pet_scanner *scanner;
  pet_histo_layout *L;
  pet_image_params ip;
} fixture;

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  pet_scanner_params sp = pet_scanner_params_small();
  sp.dets_per_ring = 64;
  sp.num_rings = 5;
  sp.axial_fov = 15.0f;
  sp.crystal_size_z = 3.0f;
  sp.scanner_radius = 50.0f;
  sp.dets_per_block = 8;
  sp.max_ring_diff = 4;
  if (pet_scanner_create(&f->scanner, &sp) != PET_OK) return -1;
  if (pet_histo_layout_create(&f->L, f->scanner) != PET_OK) return -1;
  f->ip = pet_image_params_make(16, 16, 7, 64.f, 64.f, 15.f);
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;
  pet_histo_layout_destroy(&f->L);
  pet_scanner_destroy(&f->scanner);
  free(f);
  return 0;
}

/* A reducer that only says rank/size and offers the slab pair (never called here). */
static pet_status fake_rs(void *c, const float *s, float *r, const int64_t *n, pet_memspace sp)
{
  (void)c; (void)s; (void)r; (void)n; (void)sp;
  return PET_OK;
}
static pet_status fake_ag(void *c, float *b, const int64_t *n, pet_memspace sp)
{
  (void)c; (void)b; (void)n; (void)sp;
  return PET_OK;
}

static pet_reducer reducer(int rank, int size)
{
  pet_reducer r;
  memset(&r, 0, sizeof r);
  r.rank = rank;
  r.size = size;
  r.reduce_scatter_sum = fake_rs;
  r.allgather = fake_ag;
  return r;
}

static void test_histogram_bins_each_in_one_rank_subset_batch(void **state)
{
  fixture *f = *state;
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  pet_histogram h;
  memset(&h, 0, sizeof h);
  d.histogram = &h; /* only its presence matters to the plan */
  d.lm_count = -1;
  const int64_t nb = f->L->num_bins;
  int *seen = calloc((size_t)nb, sizeof *seen), *seen_sens = calloc((size_t)nb, sizeof *seen_sens);
  for (int size = 1; size <= 6; ++size) {
    for (int S = 1; S <= 5; S += 2) {
      memset(seen, 0, (size_t)nb * sizeof *seen);
      memset(seen_sens, 0, (size_t)nb * sizeof *seen_sens);
      for (int rank = 0; rank < size; ++rank) {
        pet_reducer r = reducer(rank, size);
        pet_osem_opts o = pet_osem_opts_default();
        o.subsets = S;
        o.reducer = &r;
        o.batch_lors = 1000;
        pet_plan p;
        assert_int_equal(pet_plan_make(&p, &d, &o, &f->ip, 0, 0), PET_OK);
        assert_int_equal(p.sens_subsets, S);
        assert_true(p.batch_items <= 1000 && p.batch_items >= 1);
        for (int s = 0; s < S; ++s) {
          /* batches of at most batch_items walk the share without gaps */
          int64_t k = p.lo[s], nbatch = 0;
          for (; k < p.hi[s]; k += p.batch_items, ++nbatch)
            for (int64_t i = k; i < p.hi[s] && i < k + p.batch_items; ++i)
              seen[pet_histo_subset_bin(f->L->num_phi, f->L->num_r, f->L->num_zbin, S, s, i)]++;
          assert_int_equal(nbatch, (p.hi[s] - p.lo[s] + p.batch_items - 1) / p.batch_items);
          for (int64_t i = p.sens_lo[s]; i < p.sens_hi[s]; ++i)
            seen_sens[pet_histo_subset_bin(f->L->num_phi, f->L->num_r, f->L->num_zbin, S, s, i)]++;
        }
        /* a rank's share is the contiguous range of bins it reads from the file */
        int64_t first, count;
        pet_plan_rank_bins(f->L, rank, size, &first, &count);
        for (int s = 0; s < S; ++s)
          for (int64_t i = p.lo[s]; i < p.hi[s]; ++i) {
            int64_t b = pet_histo_subset_bin(f->L->num_phi, f->L->num_r, f->L->num_zbin, S, s, i);
            assert_true(b >= first && b < first + count);
          }
        pet_plan_free(&p);
      }
      for (int64_t b = 0; b < nb; ++b) {
        if (seen[b] != 1 || seen_sens[b] != 1) fail_msg("bin %lld seen %d/%d times (%d ranks, %d subsets)",
                                                         (long long)b, seen[b], seen_sens[b], size, S);
      }
    }
  }
  free(seen);
  free(seen_sens);
}

static void test_listmode_events_each_in_one_rank_subset(void **state)
{
  fixture *f = *state;
  pet_listmode lm;
  memset(&lm, 0, sizeof lm);
  lm.num_events = 1001;
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  d.listmode = &lm;
  d.lm_first = 17; /* a frame: events [17, 17 + 950) */
  d.lm_count = 950;
  int seen[1001];
  for (int size = 1; size <= 7; ++size) {
    memset(seen, 0, sizeof seen);
    for (int rank = 0; rank < size; ++rank) {
      pet_reducer r = reducer(rank, size);
      pet_osem_opts o = pet_osem_opts_default();
      o.subsets = 4;
      o.reducer = &r;
      pet_plan p;
      assert_int_equal(pet_plan_make(&p, &d, &o, &f->ip, 0, 0), PET_OK);
      assert_int_equal(p.sens_subsets, 1); /* one sensitivity over all bins */
      for (int s = 0; s < 4; ++s) {
        for (int64_t i = p.lo[s]; i < p.hi[s]; ++i) seen[p.ev_base[s] + i]++;
        int64_t first, count;
        pet_plan_rank_events(950, 4, s, rank, size, &first, &count);
        assert_int_equal(17 + first, p.ev_base[s] + p.lo[s]);
        assert_int_equal(count, p.hi[s] - p.lo[s]);
      }
      pet_plan_free(&p);
    }
    for (int e = 0; e < 1001; ++e) assert_int_equal(seen[e], e >= 17 && e < 17 + 950 ? 1 : 0);
  }
}

static void test_slabs_tile_the_image_once(void **state)
{
  fixture *f = *state;
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  d.lm_count = -1;
  const int64_t nv = (int64_t)f->ip.nx * f->ip.ny * f->ip.nz;
  for (int size = 2; size <= 9; ++size) { /* 9 ranks > 7 slices: some slabs are empty */
    int64_t next = 0;
    for (int rank = 0; rank < size; ++rank) {
      pet_reducer r = reducer(rank, size);
      pet_osem_opts o = pet_osem_opts_default();
      o.reducer = &r;
      o.slab_update = true;
      pet_plan p;
      assert_int_equal(pet_plan_make(&p, &d, &o, &f->ip, 0, 0), PET_OK);
      assert_true(p.slab);
      assert_int_equal(p.slab_offset, next);
      assert_int_equal(p.slab_counts[rank], (int64_t)(p.z1 - p.z0) * f->ip.nx * f->ip.ny);
      int64_t sum = 0;
      for (int k = 0; k < size; ++k) sum += p.slab_counts[k];
      assert_int_equal(sum, nv);
      next += p.slab_counts[rank];
      pet_plan_free(&p);
    }
    assert_int_equal(next, nv);
  }
  /* no slab update with a PSF (the blur crosses slabs) or one rank */
  pet_reducer r = reducer(0, 3);
  pet_osem_opts o = pet_osem_opts_default();
  o.reducer = &r;
  o.slab_update = true;
  o.psf_fwhm_mm = 2.0f;
  pet_plan p;
  assert_int_equal(pet_plan_make(&p, &d, &o, &f->ip, 0, 0), PET_OK);
  assert_false(p.slab);
  assert_int_equal(p.z0, 0);
  assert_int_equal(p.z1, f->ip.nz);
  pet_plan_free(&p);
}

static void test_batches_follow_the_budget(void **state)
{
  fixture *f = *state;
  pet_osem_data d;
  memset(&d, 0, sizeof d);
  d.scanner = f->scanner;
  d.layout = f->L;
  d.lm_count = -1;
  pet_osem_opts o = pet_osem_opts_default();
  o.subsets = 2;
  pet_plan p;
  assert_int_equal(pet_plan_make(&p, &d, &o, &f->ip, 40, 40 * 333), PET_OK);
  assert_int_equal(p.batch_items, 333);
  pet_plan_free(&p);
  /* a budget larger than the data: one batch per pass */
  assert_int_equal(pet_plan_make(&p, &d, &o, &f->ip, 40, (int64_t)1 << 40), PET_OK);
  assert_int_equal(p.batch_items, p.max_share);
  char line[512];
  pet_plan_describe(&p, line, sizeof line);
  assert_non_null(strstr(line, "1 rank(s)"));
  pet_plan_free(&p);
  pet_error_set_print(false);
  assert_int_equal(pet_plan_make(&p, &d, &o, &f->ip, 40, 39), PET_ERR_ARG);
  assert_non_null(strstr(pet_last_error(), "--vram-budget"));
  pet_error_set_print(true);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_histogram_bins_each_in_one_rank_subset_batch),
      cmocka_unit_test(test_listmode_events_each_in_one_rank_subset),
      cmocka_unit_test(test_slabs_tile_the_image_once),
      cmocka_unit_test(test_batches_follow_the_budget),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
