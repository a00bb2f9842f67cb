#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "pet_comm.h"

pet_comm_build_info pet_comm_build_info_get(void)
{
  pet_comm_build_info info;
  memset(&info, 0, sizeof info);
#ifdef PET_HAVE_NCCL
  info.nccl = true;
#endif
#ifdef PET_HDF5_PARALLEL
  info.hdf5_parallel = true;
#endif
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(lib, &len);
  char *nl = strchr(lib, ',');
  if (nl) *nl = '\0';
  snprintf(info.mpi_version, sizeof info.mpi_version, "%.300s", lib);
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  snprintf(info.hdf5_version, sizeof info.hdf5_version, "%u.%u.%u", maj, min, rel);
  return info;
}
