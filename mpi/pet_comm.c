#include "pet_comm.h"
#include "pet_comm_mpi.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef PET_HAVE_NCCL
#include <nccl.h>
#endif

#include "pet_gpu.h"

struct pet_comm {
  MPI_Comm world, node;
  int rank, size, local_rank, local_size;
  bool owns_mpi;   /* this module called MPI_Init */
  bool owns_comm;  /* world was created by us (split) */
  bool use_nccl;
  float *stage;    /* host staging buffer for device reductions without NCCL */
  int64_t stage_n;
#ifdef PET_HAVE_NCCL
  ncclComm_t nccl;
#endif
};

/* Records an MPI failure with the library's message. */
#define PET_MPI(expr)                                                                            \
  do {                                                                                           \
    int pet_mpi_e_ = (expr);                                                                     \
    if (pet_mpi_e_ != MPI_SUCCESS) {                                                             \
      char pet_mpi_msg_[MPI_MAX_ERROR_STRING];                                                   \
      int pet_mpi_len_ = 0;                                                                      \
      MPI_Error_string(pet_mpi_e_, pet_mpi_msg_, &pet_mpi_len_);                                 \
      return PET_ERROR(PET_ERR_MPI, "%s: %s", #expr, pet_mpi_msg_);                              \
    }                                                                                            \
  } while (0)

#ifdef PET_HAVE_NCCL
#define PET_NCCL(expr)                                                                           \
  do {                                                                                           \
    ncclResult_t pet_nccl_e_ = (expr);                                                           \
    if (pet_nccl_e_ != ncclSuccess)                                                              \
      return PET_ERROR(PET_ERR_NCCL, "%s: %s", #expr, ncclGetErrorString(pet_nccl_e_));          \
  } while (0)
#endif

/* MPI counts are int: move large buffers in pieces. */
#define CHUNK ((int64_t)1 << 28)

pet_status pet_comm_init(int *argc, char ***argv, pet_comm **out)
{
  PET_CHECK(out != NULL, PET_ERR_ARG, "pet_comm_init: NULL output");
  *out = NULL;
  int inited = 0;
  MPI_Initialized(&inited);
  bool owns = false;
  if (!inited) {
    int provided = 0;
    PET_MPI(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
    owns = true;
  }
  pet_comm *c = calloc(1, sizeof *c);
  PET_CHECK(c != NULL, PET_ERR_NOMEM, "pet_comm_init: out of memory");
  c->owns_mpi = owns;
  c->world = MPI_COMM_WORLD;
  /* errors come back as codes, so a failing call is reported instead of aborting the job */
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(c->world, &c->rank);
  MPI_Comm_size(c->world, &c->size);
  if (MPI_Comm_split_type(c->world, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &c->node) != MPI_SUCCESS) {
    free(c);
    return PET_ERROR(PET_ERR_MPI, "MPI_Comm_split_type failed");
  }
  MPI_Comm_rank(c->node, &c->local_rank);
  MPI_Comm_size(c->node, &c->local_size);
  if (c->size > 1) pet_error_set_rank(c->rank);
  *out = c;
  return PET_OK;
}

pet_status pet_comm_setup_gpu(pet_comm *c, pet_comm_backend backend, int *device_out)
{
  PET_CHECK(c != NULL, PET_ERR_ARG, "comm: NULL");
  int ndev = pet_gpu_device_count();
  pet_status st = PET_OK;
  if (ndev == 0)
    st = PET_ERROR(pet_gpu_compiled() ? PET_ERR_CUDA : PET_ERR_UNSUPPORTED,
                   pet_gpu_compiled() ? "--gpu: no CUDA device is visible on this node"
                                      : "--gpu: this petrel build has no CUDA support");
  else
    st = pet_gpu_set_device(c->local_rank % ndev);
  PET_TRY(pet_comm_agree(c, st));
  if (device_out) *device_out = c->local_rank % ndev;
  /* NCCL needs one GPU per rank on every node */
  int shared = c->local_size > ndev ? 1 : 0, any_shared = 0;
  PET_MPI(MPI_Allreduce(&shared, &any_shared, 1, MPI_INT, MPI_MAX, c->world));
  c->use_nccl = false;
#ifdef PET_HAVE_NCCL
  if (backend == PET_COMM_NCCL && any_shared)
    st = PET_ERROR(PET_ERR_NCCL, "NCCL asked for, but %d ranks share %d GPU(s) on a node: two NCCL ranks "
                   "cannot share a GPU; use --comm mpi or fewer ranks per node", c->local_size, ndev);
  PET_TRY(pet_comm_agree(c, st));
  if (backend != PET_COMM_MPI && !any_shared && c->size > 1) {
    ncclUniqueId id;
    if (c->rank == 0) PET_NCCL(ncclGetUniqueId(&id));
    PET_MPI(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, c->world));
    ncclResult_t r = ncclCommInitRank(&c->nccl, c->size, id, c->rank);
    st = r == ncclSuccess ? PET_OK
                          : PET_ERROR(PET_ERR_NCCL, "ncclCommInitRank: %s", ncclGetErrorString(r));
    PET_TRY(pet_comm_agree(c, st));
    c->use_nccl = true;
  }
#else
  if (backend == PET_COMM_NCCL)
    st = PET_ERROR(PET_ERR_UNSUPPORTED, "NCCL asked for, but this petrel build has no NCCL");
  PET_TRY(pet_comm_agree(c, st));
#endif
  return PET_OK;
}

void pet_comm_finalize(pet_comm **cp)
{
  if (cp == NULL || *cp == NULL) return;
  pet_comm *c = *cp;
#ifdef PET_HAVE_NCCL
  if (c->use_nccl) ncclCommDestroy(c->nccl);
#endif
  free(c->stage);
  if (c->node != MPI_COMM_NULL) MPI_Comm_free(&c->node);
  if (c->owns_comm) MPI_Comm_free(&c->world);
  if (c->owns_mpi) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
  }
  free(c);
  *cp = NULL;
}

int pet_comm_rank(const pet_comm *c) { return c ? c->rank : 0; }
int pet_comm_size(const pet_comm *c) { return c ? c->size : 1; }
int pet_comm_local_rank(const pet_comm *c) { return c ? c->local_rank : 0; }
int pet_comm_local_size(const pet_comm *c) { return c ? c->local_size : 1; }
const char *pet_comm_device_backend(const pet_comm *c) { return c && c->use_nccl ? "nccl" : "mpi"; }
MPI_Comm pet_comm_mpi_comm(const pet_comm *c) { return c ? c->world : MPI_COMM_SELF; }

/* The host staging buffer for device collectives without NCCL: at least n floats. */
static pet_status stage_reserve(pet_comm *c, int64_t n)
{
  if (c->stage_n >= n) return PET_OK;
  free(c->stage);
  c->stage = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  c->stage_n = c->stage ? n : 0;
  PET_CHECK(c->stage != NULL, PET_ERR_NOMEM, "comm: no host memory to stage %lld floats", (long long)n);
  return PET_OK;
}

static pet_status allreduce_host(pet_comm *c, void *buf, int64_t n, MPI_Datatype t, size_t elem)
{
  for (int64_t off = 0; off < n; off += CHUNK) {
    int cnt = (int)(n - off < CHUNK ? n - off : CHUNK);
    PET_MPI(MPI_Allreduce(MPI_IN_PLACE, (char *)buf + (size_t)off * elem, cnt, t, MPI_SUM, c->world));
  }
  return PET_OK;
}

pet_status pet_comm_allreduce_sum(pet_comm *c, float *buf, int64_t n, pet_memspace space)
{
  PET_CHECK(c != NULL && (buf != NULL || n == 0) && n >= 0, PET_ERR_ARG, "allreduce: bad arguments");
  if (c->size == 1 || n == 0) return PET_OK;
  if (space == PET_HOST) return allreduce_host(c, buf, n, MPI_FLOAT, sizeof(float));
#ifdef PET_HAVE_NCCL
  if (c->use_nccl) {
    PET_NCCL(ncclAllReduce(buf, buf, (size_t)n, ncclFloat, ncclSum, c->nccl, NULL));
    return pet_gpu_synchronize();
  }
#endif
  PET_TRY(stage_reserve(c, n));
  PET_TRY(pet_gpu_memcpy(c->stage, buf, (size_t)n * sizeof(float), 1));
  PET_TRY(allreduce_host(c, c->stage, n, MPI_FLOAT, sizeof(float)));
  return pet_gpu_memcpy(buf, c->stage, (size_t)n * sizeof(float), 0);
}

pet_status pet_comm_allreduce_sum_f64(pet_comm *c, double *buf, int64_t n)
{
  PET_CHECK(c != NULL, PET_ERR_ARG, "allreduce: NULL comm");
  return c->size == 1 ? PET_OK : allreduce_host(c, buf, n, MPI_DOUBLE, sizeof(double));
}

pet_status pet_comm_allreduce_sum_i64(pet_comm *c, int64_t *buf, int64_t n)
{
  PET_CHECK(c != NULL, PET_ERR_ARG, "allreduce: NULL comm");
  return c->size == 1 ? PET_OK : allreduce_host(c, buf, n, MPI_INT64_T, sizeof(int64_t));
}

static int64_t total_count(const pet_comm *c, const int64_t *counts, int64_t *mine_off)
{
  int64_t off = 0;
  for (int r = 0; r < c->size; ++r) {
    if (r == c->rank && mine_off) *mine_off = off;
    off += counts[r];
  }
  return off;
}

static pet_status reduce_scatter_host(pet_comm *c, const float *send, float *recv, const int64_t *counts)
{
  int *rc = malloc((size_t)c->size * sizeof(int));
  PET_CHECK(rc != NULL, PET_ERR_NOMEM, "reduce_scatter: out of memory");
  for (int r = 0; r < c->size; ++r) {
    if (counts[r] > INT32_MAX) {
      free(rc);
      return PET_ERROR(PET_ERR_ARG, "reduce_scatter: slab of %lld floats too large", (long long)counts[r]);
    }
    rc[r] = (int)counts[r];
  }
  int e = MPI_Reduce_scatter(send, recv, rc, MPI_FLOAT, MPI_SUM, c->world);
  free(rc);
  PET_CHECK(e == MPI_SUCCESS, PET_ERR_MPI, "MPI_Reduce_scatter failed");
  return PET_OK;
}

static pet_status allgather_host(pet_comm *c, float *buf, const int64_t *counts)
{
  int *rc = malloc((size_t)c->size * sizeof(int)), *displ = malloc((size_t)c->size * sizeof(int));
  if (!rc || !displ) {
    free(rc);
    free(displ);
    return PET_ERROR(PET_ERR_NOMEM, "allgather: out of memory");
  }
  int64_t off = 0;
  for (int r = 0; r < c->size; ++r) {
    rc[r] = (int)counts[r];
    displ[r] = (int)off;
    off += counts[r];
  }
  int e = off > INT32_MAX ? MPI_ERR_COUNT
                          : MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, rc, displ, MPI_FLOAT, c->world);
  free(rc);
  free(displ);
  PET_CHECK(e == MPI_SUCCESS, PET_ERR_MPI, "MPI_Allgatherv failed");
  return PET_OK;
}

pet_status pet_comm_reduce_scatter_sum(pet_comm *c, const float *send, float *recv, const int64_t *counts,
                                       pet_memspace space)
{
  PET_CHECK(c != NULL && send && recv && counts, PET_ERR_ARG, "reduce_scatter: bad arguments");
  if (space == PET_HOST) return reduce_scatter_host(c, send, recv, counts);
  int64_t mine = 0;
  const int64_t n = total_count(c, counts, &mine);
#ifdef PET_HAVE_NCCL
  if (c->use_nccl) {
    /* slabs of unequal size: one reduce to each slab's owner, grouped into one launch */
    PET_NCCL(ncclGroupStart());
    int64_t off = 0;
    for (int r = 0; r < c->size; ++r) {
      if (counts[r] > 0)
        PET_NCCL(ncclReduce(send + off, recv, (size_t)counts[r], ncclFloat, ncclSum, r, c->nccl, NULL));
      off += counts[r];
    }
    PET_NCCL(ncclGroupEnd());
    return pet_gpu_synchronize();
  }
#endif
  /* host MPI: stage the whole buffer and this rank's slab through host memory */
  PET_TRY(stage_reserve(c, n + counts[c->rank]));
  PET_TRY(pet_gpu_memcpy(c->stage, send, (size_t)n * sizeof(float), 1));
  PET_TRY(reduce_scatter_host(c, c->stage, c->stage + n, counts));
  (void)mine;
  return pet_gpu_memcpy(recv, c->stage + n, (size_t)counts[c->rank] * sizeof(float), 0);
}

pet_status pet_comm_allgather(pet_comm *c, float *buf, const int64_t *counts, pet_memspace space)
{
  PET_CHECK(c != NULL && buf && counts, PET_ERR_ARG, "allgather: bad arguments");
  if (space == PET_HOST) return allgather_host(c, buf, counts);
  int64_t mine = 0;
  const int64_t n = total_count(c, counts, &mine);
#ifdef PET_HAVE_NCCL
  if (c->use_nccl) {
    /* each slab broadcast from its owner, in place, grouped into one launch */
    PET_NCCL(ncclGroupStart());
    int64_t off = 0;
    for (int r = 0; r < c->size; ++r) {
      if (counts[r] > 0)
        PET_NCCL(ncclBroadcast(buf + off, buf + off, (size_t)counts[r], ncclFloat, r, c->nccl, NULL));
      off += counts[r];
    }
    PET_NCCL(ncclGroupEnd());
    return pet_gpu_synchronize();
  }
#endif
  PET_TRY(stage_reserve(c, n));
  PET_TRY(pet_gpu_memcpy(c->stage + mine, buf + mine, (size_t)counts[c->rank] * sizeof(float), 1));
  PET_TRY(allgather_host(c, c->stage, counts));
  return pet_gpu_memcpy(buf, c->stage, (size_t)n * sizeof(float), 0);
}

pet_status pet_comm_bcast(pet_comm *c, void *buf, int64_t bytes, int root)
{
  PET_CHECK(c != NULL, PET_ERR_ARG, "bcast: NULL comm");
  if (c->size == 1) return PET_OK;
  for (int64_t off = 0; off < bytes; off += CHUNK) {
    int cnt = (int)(bytes - off < CHUNK ? bytes - off : CHUNK);
    PET_MPI(MPI_Bcast((char *)buf + off, cnt, MPI_BYTE, root, c->world));
  }
  return PET_OK;
}

pet_status pet_comm_barrier(pet_comm *c)
{
  PET_CHECK(c != NULL, PET_ERR_ARG, "barrier: NULL comm");
  PET_MPI(MPI_Barrier(c->world));
  return PET_OK;
}

pet_status pet_comm_agree(pet_comm *c, pet_status local)
{
  if (c == NULL || c->size == 1) return local;
  /* lowest failing rank, or size if none */
  int mine = local == PET_OK ? c->size : c->rank, first = c->size;
  PET_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, c->world));
  if (first == c->size) return PET_OK;
  struct {
    int st;
    char msg[1024];
  } m;
  memset(&m, 0, sizeof m);
  if (c->rank == first) {
    m.st = (int)local;
    snprintf(m.msg, sizeof m.msg, "%s", pet_last_error());
  }
  PET_MPI(MPI_Bcast(&m, sizeof m, MPI_BYTE, first, c->world));
  if (c->rank == first) return local; /* already reported */
  /* a stop asked by a signal is no failure: every rank stops with the same status */
  if (m.st == (int)PET_ERR_INTERRUPTED) {
    pet_log("stopped by a signal on rank %d", first);
    return PET_ERR_INTERRUPTED;
  }
  /* the failing rank printed its message; the others record it quietly for the caller */
  return PET_ERROR((pet_status)m.st, "stopping because rank %d failed: %s", first, m.msg);
}

static pet_status reducer_sum(void *ctx, float *buf, int64_t n, pet_memspace space)
{
  return pet_comm_allreduce_sum(ctx, buf, n, space);
}

static pet_status reducer_agree(void *ctx, pet_status st) { return pet_comm_agree(ctx, st); }

static pet_status reducer_scatter(void *ctx, const float *send, float *recv, const int64_t *counts,
                                  pet_memspace space)
{
  return pet_comm_reduce_scatter_sum(ctx, send, recv, counts, space);
}

static pet_status reducer_gather(void *ctx, float *buf, const int64_t *counts, pet_memspace space)
{
  return pet_comm_allgather(ctx, buf, counts, space);
}

pet_reducer pet_comm_reducer(pet_comm *c)
{
  pet_reducer r;
  r.ctx = c;
  r.rank = pet_comm_rank(c);
  r.size = pet_comm_size(c);
  r.allreduce_sum = reducer_sum;
  r.agree = reducer_agree;
  r.reduce_scatter_sum = reducer_scatter;
  r.allgather = reducer_gather;
  return r;
}

pet_status pet_comm_split(pet_comm *c, int color, pet_comm **sub)
{
  PET_CHECK(c != NULL && sub != NULL, PET_ERR_ARG, "split: bad arguments");
  *sub = NULL;
  pet_comm *s = calloc(1, sizeof *s);
  PET_CHECK(s != NULL, PET_ERR_NOMEM, "split: out of memory");
  if (MPI_Comm_split(c->world, color, c->rank, &s->world) != MPI_SUCCESS) {
    free(s);
    return PET_ERROR(PET_ERR_MPI, "MPI_Comm_split failed");
  }
  s->owns_comm = true;
  MPI_Comm_rank(s->world, &s->rank);
  MPI_Comm_size(s->world, &s->size);
  s->node = MPI_COMM_NULL;
  s->local_rank = c->local_rank;
  s->local_size = c->local_size;
  *sub = s;
  return PET_OK;
}

double pet_comm_wtime(void) { return MPI_Wtime(); }

pet_status pet_comm_nccl_allreduce_bench(int64_t n, int iters, double *ms)
{
  PET_CHECK(n > 0 && iters > 0 && ms != NULL, PET_ERR_ARG, "nccl bench: bad arguments");
#ifdef PET_HAVE_NCCL
  pet_status st = PET_OK;
  float *buf = NULL;
  ncclComm_t nc;
  int dev = 0;
  PET_NCCL(ncclCommInitAll(&nc, 1, &dev));
  if ((st = pet_gpu_malloc((void **)&buf, (size_t)n * sizeof(float), "the all-reduce buffer")) == PET_OK &&
      (st = pet_gpu_fill_f32(buf, n, 1.0f)) == PET_OK) {
    double best = 1e30;
    for (int i = 0; i <= iters && st == PET_OK; ++i) {
      double t0 = MPI_Wtime();
      ncclResult_t r = ncclAllReduce(buf, buf, (size_t)n, ncclFloat, ncclSum, nc, NULL);
      if (r != ncclSuccess) st = PET_ERROR(PET_ERR_NCCL, "ncclAllReduce: %s", ncclGetErrorString(r));
      if (st == PET_OK) st = pet_gpu_synchronize();
      double t = (MPI_Wtime() - t0) * 1e3;
      if (i > 0 && t < best) best = t; /* i == 0 is the warm-up */
    }
    *ms = best;
  }
  pet_gpu_free(buf);
  ncclCommDestroy(nc);
  return st;
#else
  (void)n;
  (void)iters;
  *ms = 0;
  return PET_ERROR(PET_ERR_UNSUPPORTED, "this petrel build has no NCCL");
#endif
}
