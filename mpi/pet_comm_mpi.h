/* petrel: the MPI communicator behind a pet_comm, for other files of mpi/ only (pet_h5.c's
 * collective reads). Includes mpi.h, so nothing outside mpi/ may include this header. */
#ifndef PET_COMM_MPI_H
#define PET_COMM_MPI_H

#include <mpi.h>

#include "pet_comm.h"

/** The communicator of c (borrowed: valid until pet_comm_finalize). Local. */
MPI_Comm pet_comm_mpi_comm(const pet_comm *c);

#endif /* PET_COMM_MPI_H */
