/* petrel: YRT-PET's image-parameters JSON <-> pet_image_params (implemented with cJSON in
 * config/pet_image_json.c). */
#ifndef PET_IMAGE_JSON_H
#define PET_IMAGE_JSON_H

#include "pet_image.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Reads a YRT-PET image-parameters JSON: "VERSION" (1.x), "nx", "ny", "nz" (integers >= 1),
 * for each axis "vx"/"vy"/"vz" (mm) or else "length_x"/"length_y"/"length_z" (mm; YRT-PET's
 * rule: the voxel size wins when both are given, length = n * v), optional "off_x"/"off_y"/
 * "off_z" (mm, also spelled "offset_x"...; default 0) and optional "nt" (also "num_frames";
 * only 1 is supported). Local.
 * Errors: PET_ERR_IO (unreadable file), PET_ERR_CONFIG (malformed JSON, missing or mistyped
 * field, bad value: the message names the file and the field), PET_ERR_UNSUPPORTED (nt > 1).
 */
pet_status pet_image_params_read_json(pet_image_params *p, const char *path);

/**
 * The JSON text YRT-PET writes for p: VERSION, nx, ny, nz, vx, vy, vz, off_x, off_y, off_z,
 * nt (= 1). Returns ownership of *json: free() it. Local. PET_ERR_NOMEM.
 */
pet_status pet_image_params_to_json(const pet_image_params *p, char **json);

/** Writes pet_image_params_to_json(p) to path atomically (temp file + rename). Local.
 *  PET_ERR_IO naming the file. */
pet_status pet_image_params_write_json(const pet_image_params *p, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* PET_IMAGE_JSON_H */
