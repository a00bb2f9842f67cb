/* petrel: PNG montages of central slices (libpng), for quick looks at reconstructions. */
#ifndef PET_PNG_H
#define PET_PNG_H

#include "pet_image.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Writes a grayscale PNG with one row per image and three panels per row: the central
 * transverse (z), coronal (y) and sagittal (x) slices, each image scaled to its own maximum.
 * Written atomically (temp file + rename). Host images of any geometries.
 */
pet_status pet_png_write_montage(const char *path, const pet_image *const *imgs, int num_imgs);

/**
 * Writes a figure (cairo, PNG, at least 640 px wide; written atomically): one row per image with
 * its label (labels may be NULL), each row the axial, coronal and sagittal slices through the
 * hottest feature of imgs[0] (the centre of its biggest region within 10% of its maximum), drawn to scale in mm (aspect-correct by voxel size), every image on
 * one shared intensity scale shown by a colour bar; a title on top and a scale bar in mm. The
 * images must share one grid (host). A build without cairo writes pet_png_write_montage's plain
 * montage instead. Errors: PET_ERR_ARG, PET_ERR_IO, PET_ERR_NOMEM. Local.
 */
pet_status pet_png_write_figure(const char *path, const pet_image *const *imgs, const char *const *labels,
                                int num_imgs, const char *title);

/** Writes a line plot (e.g. time-activity curves): num_series series of n points each,
 *  x[n] shared, y[num_series*n], each series in its own colour, axes in black. */
pet_status pet_png_write_plot(const char *path, const double *x, const double *y, int n,
                              int num_series, int width, int height);

#ifdef __cplusplus
}
#endif
#endif /* PET_PNG_H */
