/* petrel recon with frames: dynamic list-mode reconstruction (called by pet_cli_recon.c). */
#ifndef PET_CLI_DYNAMIC_H
#define PET_CLI_DYNAMIC_H

#include "pet_comm.h"
#include "pet_config.h"
#include "pet_status.h"

/**
 * Reconstructs the frames of cfg->frames from list-mode data (HDF5 through its time index,
 * or a time-sorted .lmDat in memory) over the ranks of comm, and writes cfg->output as one
 * 4D NIfTI (or one file per frame with frame_files) with a JSON sidecar, and the TACs of
 * tac_mask as CSV and PNG. device: the GPU bound by pet_comm_setup_gpu (cfg->gpu). Logs the
 * plan, the events per frame and those outside every frame. Collective on comm.
 */
pet_status pet_cli_recon_dynamic(const pet_config *cfg, pet_comm *comm, int device);

#endif
