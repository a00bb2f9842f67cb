/* petrel: the communicator of a build without MPI (-DPET_ENABLE_MPI=OFF): one process, rank 0
 * of 1. Every collective is the identity (a sum over one rank is the buffer itself), so the
 * algorithms above run unchanged; pet_comm.c is the MPI version of this file. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pet_comm.h"
#include "pet_gpu.h"

struct pet_comm {
  int unused;
};

pet_comm_build_info pet_comm_build_info_get(void)
{
  pet_comm_build_info info;
  memset(&info, 0, sizeof info);
  snprintf(info.mpi_version, sizeof info.mpi_version, "none (built with PET_ENABLE_MPI=OFF: one process)");
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  snprintf(info.hdf5_version, sizeof info.hdf5_version, "%u.%u.%u", maj, min, rel);
  return info;
}

pet_status pet_comm_init(int *argc, char ***argv, pet_comm **out)
{
  (void)argc;
  (void)argv;
  PET_CHECK(out != NULL, PET_ERR_ARG, "pet_comm_init: NULL output");
  *out = calloc(1, sizeof **out);
  PET_CHECK(*out != NULL, PET_ERR_NOMEM, "pet_comm_init: out of memory");
  return PET_OK;
}

pet_status pet_comm_setup_gpu(pet_comm *c, pet_comm_backend backend, int *device_out)
{
  PET_CHECK(c != NULL, PET_ERR_ARG, "comm: NULL");
  PET_CHECK(backend != PET_COMM_NCCL, PET_ERR_UNSUPPORTED,
            "NCCL asked for, but this petrel build has no MPI (one process needs no reduction)");
  const int ndev = pet_gpu_device_count();
  PET_CHECK(ndev > 0, pet_gpu_compiled() ? PET_ERR_CUDA : PET_ERR_UNSUPPORTED, "%s",
            pet_gpu_compiled() ? "--gpu: no CUDA device is visible on this node"
                               : "--gpu: this petrel build has no CUDA support");
  PET_TRY(pet_gpu_set_device(0));
  if (device_out) *device_out = 0;
  return PET_OK;
}

void pet_comm_finalize(pet_comm **cp)
{
  if (cp == NULL || *cp == NULL) return;
  free(*cp);
  *cp = NULL;
}

int pet_comm_rank(const pet_comm *c) { (void)c; return 0; }
int pet_comm_size(const pet_comm *c) { (void)c; return 1; }
int pet_comm_local_rank(const pet_comm *c) { (void)c; return 0; }
int pet_comm_local_size(const pet_comm *c) { (void)c; return 1; }
const char *pet_comm_device_backend(const pet_comm *c) { (void)c; return "none"; }

pet_status pet_comm_allreduce_sum(pet_comm *c, float *buf, int64_t n, pet_memspace space)
{
  (void)c; (void)buf; (void)n; (void)space;
  return PET_OK;
}

pet_status pet_comm_reduce_scatter_sum(pet_comm *c, const float *send, float *recv, const int64_t *counts,
                                       pet_memspace space)
{
  (void)c;
  PET_CHECK(send != NULL && recv != NULL && counts != NULL, PET_ERR_ARG, "reduce_scatter: NULL argument");
  if (send == recv) return PET_OK;
  const size_t bytes = (size_t)counts[0] * sizeof(float);
  if (space == PET_DEVICE) return pet_gpu_memcpy(recv, send, bytes, 2);
  memmove(recv, send, bytes);
  return PET_OK;
}

pet_status pet_comm_allgather(pet_comm *c, float *buf, const int64_t *counts, pet_memspace space)
{
  (void)c; (void)buf; (void)counts; (void)space;
  return PET_OK;
}

pet_status pet_comm_allreduce_sum_f64(pet_comm *c, double *buf, int64_t n)
{
  (void)c; (void)buf; (void)n;
  return PET_OK;
}

pet_status pet_comm_allreduce_sum_i64(pet_comm *c, int64_t *buf, int64_t n)
{
  (void)c; (void)buf; (void)n;
  return PET_OK;
}

pet_status pet_comm_bcast(pet_comm *c, void *buf, int64_t bytes, int root)
{
  (void)c; (void)buf; (void)bytes;
  PET_CHECK(root == 0, PET_ERR_ARG, "bcast: root %d outside the one rank", root);
  return PET_OK;
}

pet_status pet_comm_barrier(pet_comm *c) { (void)c; return PET_OK; }

pet_status pet_comm_agree(pet_comm *c, pet_status local) { (void)c; return local; }

pet_reducer pet_comm_reducer(pet_comm *c)
{
  pet_reducer r;
  memset(&r, 0, sizeof r);
  r.ctx = c;
  r.rank = 0;
  r.size = 1;
  return r;
}

pet_status pet_comm_split(pet_comm *c, int color, pet_comm **sub)
{
  (void)c;
  (void)color;
  return pet_comm_init(NULL, NULL, sub);
}

double pet_comm_wtime(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

pet_status pet_comm_nccl_allreduce_bench(int64_t n, int iters, double *ms)
{
  (void)n; (void)iters; (void)ms;
  return PET_ERROR(PET_ERR_UNSUPPORTED, "this petrel build has no MPI or NCCL");
}
