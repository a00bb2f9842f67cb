/* petrel: the communicator. Only mpi/ includes mpi.h and nccl.h. */
#ifndef PET_COMM_H
#define PET_COMM_H

#include <stdbool.h>

#include "pet_status.h"

#define MPI_MAX_VERSION_LEN_PET 320

#ifdef __cplusplus
extern "C" {
#endif

/** What the build's communication and I/O layers are. Local. */
typedef struct pet_comm_build_info {
  bool nccl;
  bool hdf5_parallel;
  char mpi_version[MPI_MAX_VERSION_LEN_PET];
  char hdf5_version[32];
} pet_comm_build_info;

pet_comm_build_info pet_comm_build_info_get(void);

#ifdef __cplusplus
}
#endif
#endif /* PET_COMM_H */
