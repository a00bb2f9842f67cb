/* Collective HDF5 reads (pet_h5_read_*_range_all): each rank's share read collectively equals
 * the same part of the serial read of the whole; ranks with nothing to read take part; an error
 * on one rank reaches every rank. Run under mpirun at np = 1, 2, 4. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_comm.h"
#include "pet_h5.h"
#include "pet_osem.h"
#include "pet_test_util.h"

static pet_comm *comm;
static char dir[512];

#define NBINS 100003 /* not a multiple of any rank count */
#define NEV 50021

/* Every rank must reach the same verdict, or one would wait forever in a collective. */
static void assert_all(int ok)
{
  int64_t bad = ok ? 0 : 1;
  assert_int_equal(pet_comm_allreduce_sum_i64(comm, &bad, 1), PET_OK);
  assert_int_equal(bad, 0);
}

static void path_of(char *buf, size_t len, const char *name) { snprintf(buf, len, "%s/%s", dir, name); }

static int setup(void **state)
{
  (void)state;
  if (pet_comm_rank(comm) == 0) {
    if (pet_test_tmpdir(dir, sizeof dir) == NULL) return -1;
    float *h = malloc(NBINS * sizeof(float)), *norm = malloc(NBINS * sizeof(float));
    uint32_t *t = malloc(NEV * 4), *d1 = malloc(NEV * 4), *d2 = malloc(NEV * 4);
    float *tof = malloc(NEV * sizeof(float));
    for (int64_t i = 0; i < NBINS; ++i) {
      h[i] = (float)(int)(20.0f * pet_test_uniform((uint64_t)i));
      norm[i] = 0.5f + pet_test_uniform((uint64_t)i + 7777777u);
    }
    for (int64_t e = 0; e < NEV; ++e) {
      t[e] = (uint32_t)(e / 10);
      d1[e] = (uint32_t)(e * 7 % 4096);
      d2[e] = (uint32_t)(e * 13 % 4096);
      tof[e] = 100.0f * pet_test_uniform((uint64_t)e) - 50.0f;
    }
    pet_h5_corrections corr = {norm, NULL, NULL, NULL};
    char p[600];
    path_of(p, sizeof p, "h.h5");
    pet_status st = pet_h5_write_histogram(p, "test", NBINS, h, &corr);
    path_of(p, sizeof p, "lm.h5");
    if (st == PET_OK) st = pet_h5_write_listmode(p, "test", NEV, t, d1, d2, tof);
    free(h);
    free(norm);
    free(t);
    free(d1);
    free(d2);
    free(tof);
    if (st != PET_OK) return -1;
  }
  if (pet_comm_bcast(comm, dir, sizeof dir, 0) != PET_OK) return -1;
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  pet_comm_barrier(comm);
  if (pet_comm_rank(comm) == 0) {
    char p[600];
    path_of(p, sizeof p, "h.h5");
    remove(p);
    path_of(p, sizeof p, "lm.h5");
    remove(p);
    remove(dir);
  }
  return 0;
}

/* Reads each rank's share [n*r/size, n*(r+1)/size) of a float dataset collectively, gathers
 * the shares and compares them with the serial read of the whole. */
static void check_histogram_dataset(const char *dataset)
{
  char p[600];
  path_of(p, sizeof p, "h.h5");
  const int rank = pet_comm_rank(comm), size = pet_comm_size(comm);
  float *whole = malloc(NBINS * sizeof(float)), *gathered = malloc(NBINS * sizeof(float));
  int64_t *counts = malloc((size_t)size * sizeof(int64_t));
  for (int r = 0; r < size; ++r) counts[r] = (int64_t)NBINS * (r + 1) / size - (int64_t)NBINS * r / size;
  const int64_t first = (int64_t)NBINS * rank / size;
  assert_int_equal(pet_h5_read_histogram_range(p, dataset, 0, NBINS, whole), PET_OK);
  memset(gathered, 0, NBINS * sizeof(float));
  pet_status st = pet_h5_read_histogram_range_all(comm, p, dataset, first, counts[rank], gathered + first);
  assert_all(st == PET_OK);
  assert_int_equal(pet_comm_allgather(comm, gathered, counts, PET_HOST), PET_OK);
  assert_all(memcmp(whole, gathered, NBINS * sizeof(float)) == 0);
  free(whole);
  free(gathered);
  free(counts);
}

static void test_histogram_shares_equal_serial_read(void **state)
{
  (void)state;
  check_histogram_dataset("histogram");
  check_histogram_dataset("/corrections/normalisation");
}

static void test_histogram_rank_shares_of_whole_z_bins(void **state)
{
  (void)state;
  /* the shares petrel recon reads: whole z-bins of a small layout shape, last rank may be empty */
  pet_histo_layout L;
  memset(&L, 0, sizeof L);
  L.num_zbin = 3;
  L.num_phi = 10;
  L.num_r = 1000;
  char p[600];
  path_of(p, sizeof p, "h.h5");
  const int rank = pet_comm_rank(comm), size = pet_comm_size(comm);
  int64_t first, count;
  pet_plan_rank_bins(&L, rank, size, &first, &count);
  float *mine = calloc((size_t)(count > 0 ? count : 1), sizeof(float));
  float *ref = malloc(30000 * sizeof(float));
  pet_status st = pet_h5_read_histogram_range_all(comm, p, "histogram", first, count, mine);
  assert_all(st == PET_OK);
  assert_int_equal(pet_h5_read_histogram_range(p, "histogram", 0, 30000, ref), PET_OK);
  assert_all(count == 0 || memcmp(mine, ref + first, (size_t)count * sizeof(float)) == 0);
  free(mine);
  free(ref);
}

static void test_listmode_subset_shares_equal_serial_read(void **state)
{
  (void)state;
  char p[600];
  path_of(p, sizeof p, "lm.h5");
  const int rank = pet_comm_rank(comm), size = pet_comm_size(comm);
  uint32_t *t = malloc(NEV * 4), *d1 = malloc(NEV * 4), *d2 = malloc(NEV * 4);
  uint32_t *pt = calloc(NEV, 4), *p1 = calloc(NEV, 4), *p2 = calloc(NEV, 4);
  float *tof = malloc(NEV * sizeof(float)), *ptof = calloc(NEV, sizeof(float));
  assert_int_equal(pet_h5_read_listmode_range(p, 0, NEV, t, d1, d2, tof), PET_OK);
  /* S calls on every rank, as petrel recon does, whatever each rank's share */
  const int32_t S = 5;
  int ok = 1;
  for (int32_t s = 0; s < S; ++s) {
    int64_t first, count;
    pet_plan_rank_events(NEV, S, s, rank, size, &first, &count);
    pet_status st = pet_h5_read_listmode_range_all(comm, p, first, count, pt + first, p1 + first, p2 + first,
                                                   ptof + first);
    ok = ok && st == PET_OK;
    ok = ok && !memcmp(pt + first, t + first, (size_t)count * 4) && !memcmp(p1 + first, d1 + first, (size_t)count * 4) &&
         !memcmp(p2 + first, d2 + first, (size_t)count * 4) &&
         !memcmp(ptof + first, tof + first, (size_t)count * sizeof(float));
  }
  assert_all(ok);
  /* 3 events over up to 4 ranks: some ranks read nothing and pass NULL arrays */
  int64_t first, count;
  pet_plan_rank_events(3, 1, 0, rank, size, &first, &count);
  first += 100;
  memset(p1, 0, NEV * 4);
  pet_status st = pet_h5_read_listmode_range_all(comm, p, first, count, NULL, count ? p1 : NULL, NULL, NULL);
  assert_all(st == PET_OK && (count == 0 || !memcmp(p1, d1 + first, (size_t)count * 4)));
  free(t);
  free(d1);
  free(d2);
  free(tof);
  free(pt);
  free(p1);
  free(p2);
  free(ptof);
}

static void test_error_on_one_rank_reaches_every_rank(void **state)
{
  (void)state;
  char p[600];
  path_of(p, sizeof p, "h.h5");
  const int rank = pet_comm_rank(comm), size = pet_comm_size(comm);
  float buf[8];
  /* the last rank asks beyond the dataset: every rank gets the error, none hangs */
  int64_t first = rank == size - 1 ? NBINS - 4 : 0;
  pet_status st = pet_h5_read_histogram_range_all(comm, p, "histogram", first, 8, buf);
  assert_int_equal(st, PET_ERR_IO);
  /* a missing file and a missing dataset, seen by every rank */
  path_of(p, sizeof p, "missing.h5");
  assert_int_equal(pet_h5_read_histogram_range_all(comm, p, "histogram", 0, 1, buf), PET_ERR_IO);
  path_of(p, sizeof p, "h.h5");
  assert_int_equal(pet_h5_read_histogram_range_all(comm, p, "corrections/scatter", 0, 1, buf), PET_ERR_IO);
  path_of(p, sizeof p, "lm.h5");
  uint32_t ev[4];
  first = rank == 0 ? NEV - 1 : 0;
  assert_int_equal(pet_h5_read_listmode_range_all(comm, p, first, 4, ev, NULL, NULL, NULL), PET_ERR_ARG);
  /* and the communicator still works afterwards */
  assert_all(1);
}

int main(int argc, char **argv)
{
  if (pet_comm_init(&argc, &argv, &comm) != PET_OK) return 1;
  pet_error_set_print(false);
  if (pet_comm_rank(comm) == 0)
    printf("test_mpi_h5: %d rank(s), %s HDF5\n", pet_comm_size(comm),
           pet_comm_build_info_get().hdf5_parallel ? "parallel (collective MPI-IO reads)" : "serial (independent reads)");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_histogram_shares_equal_serial_read),
      cmocka_unit_test(test_histogram_rank_shares_of_whole_z_bins),
      cmocka_unit_test(test_listmode_subset_shares_equal_serial_read),
      cmocka_unit_test(test_error_on_one_rank_reaches_every_rank),
  };
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  pet_comm_finalize(&comm);
  return rc;
}
