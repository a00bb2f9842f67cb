/* Read throughput of a list-mode file split over MPI ranks (issue 16: "parallel HDF5 read
 * throughput >= 80% of the disk's sequential read rate measured in the same run (dd of the
 * same file)"). Every rank reads its contiguous share of the events (t, d1, d2 and tof_ps when
 * present) with pet_h5_read_listmode_range_all, the reader the distributed list-mode
 * reconstruction uses: one collective MPI-IO read per dataset with a parallel HDF5, each rank
 * its own independent hyperslab reads with a serial one. Timed from a barrier before to a
 * barrier after (the slowest rank). One JSON line from rank 0: ranks, bytes, seconds, GB/s,
 * whether HDF5 is parallel. bench/h5read.sh runs it next to `dd` of the same file, cold and
 * warm.
 *
 *   mpirun -np N bench_h5read --file FILE [--repeat R]   (the fastest of R reads) */
#include "bench_help.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pet_comm.h"
#include "pet_h5.h"

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
  if (bench_help(argc, argv,
                 "usage: mpirun -np N bench_h5read --file FILE [--repeat R]\n"
                 "  each rank reads its share of the list-mode events (pet_h5_read_listmode_range_all);\n"
                 "  one JSON line: ranks, bytes read, seconds (slowest rank), GB/s\n"))
    return 0;
  pet_comm *comm = NULL;
  if (pet_comm_init(&argc, &argv, &comm) != PET_OK) {
    fprintf(stderr, "bench_h5read: %s\n", pet_last_error());
    return 1;
  }
  const char *path = NULL;
  int repeat = 1, rc = 0;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--file") && i + 1 < argc) path = argv[++i];
    else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
    else {
      fprintf(stderr, "bench_h5read: unknown argument %s (see --help)\n", argv[i]);
      rc = 2;
    }
  }
  if (!path && rc == 0) {
    fprintf(stderr, "bench_h5read: --file FILE is required\n");
    rc = 2;
  }
  const int rank = pet_comm_rank(comm), size = pet_comm_size(comm);
  int64_t n = 0;
  bool has_tof = false;
  char scanner[256];
  uint32_t *t = NULL, *d1 = NULL, *d2 = NULL;
  float *tof = NULL;
  if (rc == 0 && pet_h5_listmode_info(path, &n, &has_tof, scanner, sizeof scanner) != PET_OK) {
    fprintf(stderr, "bench_h5read: %s\n", pet_last_error());
    rc = 1;
  }
  const int64_t first = n * rank / size, count = n * (rank + 1) / size - first;
  if (rc == 0) {
    const size_t c = (size_t)(count > 0 ? count : 1);
    t = malloc(c * 4);
    d1 = malloc(c * 4);
    d2 = malloc(c * 4);
    tof = has_tof ? malloc(c * 4) : NULL;
    if (!t || !d1 || !d2 || (has_tof && !tof)) {
      fprintf(stderr, "bench_h5read: rank %d: out of memory for %lld events\n", rank, (long long)count);
      rc = 1;
    } else { /* fault the pages in outside the timing */
      memset(t, 0, c * 4);
      memset(d1, 0, c * 4);
      memset(d2, 0, c * 4);
      if (tof) memset(tof, 0, c * 4);
    }
  }
  /* every rank must take part in the collective reads, or none */
  if (pet_comm_agree(comm, rc == 0 ? PET_OK : PET_ERR_ARG) != PET_OK) rc = rc ? rc : 1;
  double best = 1e30;
  for (int r = 0; rc == 0 && r < repeat; ++r) {
    pet_comm_barrier(comm);
    const double t0 = now_s();
    pet_status st = pet_h5_read_listmode_range_all(comm, path, first, count, t, d1, d2, tof);
    pet_comm_barrier(comm);
    const double dt = now_s() - t0;
    if (st != PET_OK) {
      if (rank == 0) fprintf(stderr, "bench_h5read: %s\n", pet_last_error());
      rc = 1;
    } else if (dt < best) {
      best = dt;
    }
  }
  if (rc == 0 && rank == 0) {
    const double bytes = (double)n * (has_tof ? 16.0 : 12.0);
    const pet_comm_build_info bi = pet_comm_build_info_get();
    printf("{\"bench\":\"h5read\",\"file\":\"%s\",\"ranks\":%d,\"events\":%lld,\"bytes\":%.0f,"
           "\"seconds\":%.4f,\"gb_per_s\":%.3f,\"hdf5\":\"%s\",\"hdf5_parallel\":%s,\"repeat\":%d}\n",
           path, size, (long long)n, bytes, best, bytes / best * 1e-9, bi.hdf5_version,
           bi.hdf5_parallel ? "true" : "false", repeat);
  }
  free(t);
  free(d1);
  free(d2);
  free(tof);
  pet_comm_finalize(&comm);
  return rc;
}
