/* petrel: YRT-PET's native files: RAWD containers (.his, raw images), list-mode (.lmDat). */
#ifndef PET_YRT_IO_H
#define PET_YRT_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_histogram.h"
#include "pet_listmode.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PET_RAWD_MAGIC 732174000

/** Writes a RAWD file (magic, ndim, int64 dims slowest first, float32 data) atomically. */
pet_status pet_rawd_write(const char *path, int32_t ndim, const int64_t *dims, const float *data);
/** Reads a RAWD file's header (ndim <= 8) and data (malloc'd, caller frees; NULL to skip). */
pet_status pet_rawd_read(const char *path, int32_t *ndim, int64_t dims[8], float **data);

/** Writes a histogram as a YRT-PET .his (dims = num_zbin, num_phi, num_r). */
pet_status pet_histogram_write_yrt(const pet_histogram *h, const char *path);
/** Reads a .his into a new Owned host histogram of scanner s; the dims must match the
 *  scanner's layout, else PET_ERR_IO naming the file and the expected/actual dims. */
pet_status pet_histogram_read_yrt(pet_histogram **h, const pet_scanner *s, const char *path);

/** Writes .lmDat (time, d1, d2[, tof]) atomically. */
pet_status pet_listmode_write_yrt(const pet_listmode *lm, const char *path);
/** Reads .lmDat; has_tof says whether events carry a float32 TOF (not stored in the file);
 *  the file size must be a multiple of the event size; detector ids are checked against s. */
pet_status pet_listmode_read_yrt(pet_listmode **lm, const pet_scanner *s, const char *path,
                                 bool has_tof);

#ifdef __cplusplus
}
#endif
#endif /* PET_YRT_IO_H */
