/* NCCL all-reduce of one image on the device at hand (one rank): the per-subset reduction
 * cost of the GPU path. Prints one JSON line per image size. */
#include "bench_help.h"
#include <stdio.h>

#include "pet_comm.h"
#include "pet_gpu.h"

int main(int argc, char **argv)
{
  if (bench_help(argc, argv,
                 "usage: bench_nccl\n"
    "  NCCL all-reduce of one image on the device at hand (one rank): one JSON line per image size.\n"
    "  No options.\n"))
    return 0;
  if (pet_gpu_device_count() == 0) {
    fprintf(stderr, "bench_nccl: no CUDA device\n");
    return 77;
  }
  char name[256] = "?";
  pet_gpu_device_name(0, name, sizeof name);
  const struct {
    const char *what;
    int nx, ny, nz;
  } sizes[] = {{"clinical 150x150x24", 150, 150, 24}, {"256x256x96", 256, 256, 96}, {"512x512x192", 512, 512, 192}};
  for (int i = 0; i < 3; ++i) {
    int64_t n = (int64_t)sizes[i].nx * sizes[i].ny * sizes[i].nz;
    double ms = 0;
    if (pet_comm_nccl_allreduce_bench(n, 20, &ms) != PET_OK) return 1;
    printf("{\"bench\":\"nccl_allreduce\",\"device\":\"%s\",\"ranks\":1,\"image\":\"%s\",\"bytes\":%lld,"
           "\"ms\":%.4f,\"GB_per_s\":%.2f}\n",
           name, sizes[i].what, (long long)(n * 4), ms, n * 4 / (ms * 1e6));
  }
  return 0;
}
