#include "pet_cli.h"

#include <stdio.h>
#include <string.h>

#include "pet_comm.h"
#include "pet_gpu.h"
#include "pet_status.h"
#include "pet_version.h"

typedef struct subcommand {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
} subcommand;

static const subcommand commands[] = {
    {"demo", pet_cli_demo, "simulate a phantom on a built-in scanner and reconstruct it (no input files)"},
    {"recon", pet_cli_recon, "OSEM reconstruction from a config file and flags (mpirun/srun for many ranks)"},
    {"sens", pet_cli_sens, "compute and save the sensitivity image alone"},
    {"scatter", pet_cli_scatter, "estimate the scatter (single scatter simulation) of an image"},
    {"fwd", pet_cli_fwd, "forward-project an image into a histogram (CPU or --gpu)"},
    {"back", pet_cli_back, "back-project a histogram or list-mode into an image (CPU or --gpu)"},
    {"simulate", pet_cli_simulate, "write N list-mode events of a phantom to HDF5 in bounded memory (total-body)"},
    {"convert", pet_cli_convert, "list-mode -> histogram, YRT-PET files <-> HDF5"},
    {"diff", pet_cli_diff, "compare two images (relative L2 difference)"},
    {"info", pet_cli_info, "print what this build has (CUDA, devices, NCCL, MPI, HDF5)"},
};

static void usage(FILE *f)
{
  fprintf(f, "petrel %s - PET image reconstruction (OSEM) on CPUs, GPUs and clusters\n\n"
             "usage: petrel <command> [options]   (petrel <command> --help for its options)\n\n"
             "commands:\n", PETREL_VERSION);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; ++i)
    fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
}

int pet_cli_main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("petrel %s\n", PETREL_VERSION);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; ++i)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "petrel: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}

int pet_cli_info(int argc, char **argv)
{
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: petrel info\n  Prints the version and the optional parts this build has.\n");
    return 0;
  }
  printf("petrel %s\n", PETREL_VERSION);
  int ndev = pet_gpu_device_count();
  printf("cuda: %s", pet_gpu_compiled() ? "yes" : "no");
  if (pet_gpu_compiled()) printf(", %d device(s) visible", ndev);
  printf("\n");
  for (int d = 0; d < ndev; ++d) {
    char name[256] = "?";
    size_t f = 0, t = 0;
    pet_gpu_device_name(d, name, sizeof name);
    if (pet_gpu_set_device(d) == PET_OK) pet_gpu_mem_info(&f, &t);
    printf("  device %d: %s, %.0f MiB free of %.0f MiB\n", d, name, f / 1048576.0, t / 1048576.0);
  }
  pet_comm_build_info info = pet_comm_build_info_get();
  printf("nccl: %s\n", info.nccl ? "yes" : "no");
  printf("mpi: %s\n", info.mpi_version);
  printf("hdf5: %s (%s)\n", info.hdf5_version, info.hdf5_parallel ? "parallel" : "serial");
#ifdef PET_PYTHON_EXECUTABLE
  printf("python: %s (module built for it)\n", PET_PYTHON_EXECUTABLE);
#else
  printf("python: no module in this build\n");
#endif
  return 0;
}
