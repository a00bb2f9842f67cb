/* petrel: images as NIfTI-1 files (.nii, .nii.gz) in YRT-PET's convention. */
#ifndef PET_NIFTI_H
#define PET_NIFTI_H

#include "pet_image.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The convention (shared/formats/yrtpet.md, "Images"): one-file NIfTI-1, float32, dims
 * (nx, ny, nz[, nt]), x fastest, pixdim[1..3] = voxel sizes in mm, qform_code 0, sform_code 1
 * (scanner anatomical) with
 *     srow_x = (-vx,   0,   0, -x0)
 *     srow_y = (  0, -vy,   0, -y0)
 *     srow_z = (  0,   0, +vz, +z0)
 * where (x0, y0, z0) is the scanner-frame centre of voxel (0, 0, 0), x0 = -(nx-1)/2*vx + off_x:
 * NIfTI's RAS is (-x, -y, +z) of the scanner frame.
 */

/**
 * Writes a host image as a 3D NIfTI-1 file. The format follows the extension of `path`:
 * ".nii" (uncompressed) or ".nii.gz" (gzip). Atomic: the data go to a temporary file in the
 * same directory (".<name>.tmp<pid>_<n>.nii[.gz]"), which is renamed over `path` once
 * complete and removed on any failure. Local.
 * Errors: PET_ERR_ARG (NULL, bad params, other extension), PET_ERR_STATE (no host data),
 * PET_ERR_IO (cannot create/write/rename; the message names the file).
 */
pet_status pet_image_write_nifti(const pet_image *img, const char *path);

/**
 * Writes nt host frames of identical params as one 4D NIfTI-1 file (dims nx, ny, nz, nt;
 * frame f at offset f*nx*ny*nz voxels). Atomic as pet_image_write_nifti. Local.
 * Errors: PET_ERR_ARG (nt < 1, NULL frame, frames with different params), PET_ERR_STATE,
 * PET_ERR_IO.
 */
pet_status pet_image_write_nifti_4d(const pet_image *const *frames, int nt, const char *path);

/**
 * Reads a 3D NIfTI-1 image (.nii or .nii.gz, or a 4D file with nt == 1) into a new Owned
 * host image. Returns ownership of *img: free with pet_image_destroy.
 * Params: nx, ny, nz from dim; voxel sizes and offsets from the sform (sform_code > 0), else
 * from the qform (qform_code > 0), else from pixdim with offsets 0. The transform must be
 * diagonal with signs (-, -, +) as written by pet_image_write_nifti: rotated, sheared or
 * flipped images are rejected. Voxel types: float32 is read as is; the integer types and
 * float64 are converted to float32; every type honours scl_slope/scl_inter when
 * scl_slope != 0; complex and RGB types are rejected. Local.
 * Errors: PET_ERR_ARG (NULL), PET_ERR_NOMEM, PET_ERR_IO (missing, truncated, corrupt or
 * unsupported file, nt > 1 (use pet_image_read_nifti_4d), rotation; the message names the
 * file).
 */
pet_status pet_image_read_nifti(pet_image **img, const char *path);

/**
 * Reads a 3D or 4D NIfTI-1 file as *nt frames (1 for a 3D file). Returns ownership of
 * *frames, an array of *nt Owned host images: free with pet_image_free_frames. Rules as
 * pet_image_read_nifti. Local. Errors: as pet_image_read_nifti (dims beyond 4 rejected).
 */
pet_status pet_image_read_nifti_4d(pet_image ***frames, int *nt, const char *path);

/** Destroys nt frames and the array; NULL-safe; sets *frames = NULL. Local. */
void pet_image_free_frames(pet_image ***frames, int nt);

#ifdef __cplusplus
}
#endif
#endif /* PET_NIFTI_H */
