#include "pet_png.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_fileutil.h"

/* Writes rows of 8-bit pixels (channels 1 or 3) to path, atomically (pet_fileutil). */
static pet_status write_png(const char *path, const unsigned char *pix, int w, int h, int channels)
{
  FILE *f = NULL;
  char *tmp = NULL;
  PET_TRY(pet_file_open_temp(path, &tmp, &f));
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    pet_file_abort(&f, &tmp);
    return PET_ERROR(PET_ERR_IO, "%s: libpng failed to write the image", path);
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
               channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int r = 0; r < h; ++r) png_write_row(png, (png_const_bytep)(pix + (size_t)r * w * channels));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return pet_file_commit(&f, &tmp, path);
}

pet_status pet_png_write_montage(const char *path, const pet_image *const *imgs, int num_imgs)
{
  PET_CHECK(path != NULL && imgs != NULL && num_imgs > 0, PET_ERR_ARG, "png: nothing to write");
  const int pad = 4;
  int W = 0, H = 0;
  for (int i = 0; i < num_imgs; ++i) {
    PET_TRY(pet_image_require(imgs[i], PET_HOST));
    const pet_image_params *p = &imgs[i]->params;
    int w = p->nx + pad + p->nx + pad + p->ny;
    int h = p->ny > p->nz ? p->ny : p->nz;
    if (w > W) W = w;
    H += h + (i ? pad : 0);
  }
  unsigned char *pix = calloc((size_t)W * H, 1);
  PET_CHECK(pix != NULL, PET_ERR_NOMEM, "png: out of memory");
  int row0 = 0;
  for (int i = 0; i < num_imgs; ++i) {
    const pet_image_params *p = &imgs[i]->params;
    const float *d = imgs[i]->data;
    int64_t nv = pet_image_num_voxels(imgs[i]);
    float mx = 0.0f;
    for (int64_t v = 0; v < nv; ++v) mx = fmaxf(mx, d[v]);
    float scale = mx > 0 ? 255.0f / mx : 0.0f;
    int zc = p->nz / 2, yc = p->ny / 2, xc = p->nx / 2;
    /* transverse: rows y, cols x; coronal: rows z (top = +z), cols x; sagittal: rows z, cols y */
    for (int y = 0; y < p->ny; ++y)
      for (int x = 0; x < p->nx; ++x)
        pix[(size_t)(row0 + y) * W + x] =
            (unsigned char)fminf(255.f, fmaxf(0.f, d[((int64_t)zc * p->ny + y) * p->nx + x] * scale));
    int c0 = p->nx + pad;
    for (int z = 0; z < p->nz; ++z)
      for (int x = 0; x < p->nx; ++x)
        pix[(size_t)(row0 + p->nz - 1 - z) * W + c0 + x] =
            (unsigned char)fminf(255.f, fmaxf(0.f, d[((int64_t)z * p->ny + yc) * p->nx + x] * scale));
    int c1 = c0 + p->nx + pad;
    for (int z = 0; z < p->nz; ++z)
      for (int y = 0; y < p->ny; ++y)
        pix[(size_t)(row0 + p->nz - 1 - z) * W + c1 + y] =
            (unsigned char)fminf(255.f, fmaxf(0.f, d[((int64_t)z * p->ny + y) * p->nx + xc] * scale));
    row0 += (p->ny > p->nz ? p->ny : p->nz) + pad;
  }
  pet_status st = write_png(path, pix, W, H, 1);
  free(pix);
  return st;
}

pet_status pet_png_write_plot(const char *path, const double *x, const double *y, int n,
                              int num_series, int width, int height)
{
  PET_CHECK(n >= 1 && num_series >= 1 && width >= 64 && height >= 64, PET_ERR_ARG,
            "png plot: bad sizes");
  unsigned char *pix = malloc((size_t)width * height * 3);
  PET_CHECK(pix != NULL, PET_ERR_NOMEM, "png: out of memory");
  memset(pix, 255, (size_t)width * height * 3);
  double xmin = x[0], xmax = x[0], ymin = 0, ymax = 0;
  for (int i = 0; i < n; ++i) {
    xmin = fmin(xmin, x[i]);
    xmax = fmax(xmax, x[i]);
  }
  for (int i = 0; i < n * num_series; ++i) ymax = fmax(ymax, y[i]), ymin = fmin(ymin, y[i]);
  if (xmax <= xmin) xmax = xmin + 1;
  if (ymax <= ymin) ymax = ymin + 1;
  const int m = 24;
  const unsigned char colours[6][3] = {{200, 30, 30}, {30, 90, 200}, {30, 150, 30}, {200, 120, 0}, {120, 0, 160}, {0, 150, 150}};
#define PUT(px, py, c)                                                                          \
  do {                                                                                          \
    int px_ = (px), py_ = (py);                                                                 \
    if (px_ >= 0 && px_ < width && py_ >= 0 && py_ < height)                                    \
      memcpy(pix + ((size_t)py_ * width + px_) * 3, (c), 3);                                    \
  } while (0)
  const unsigned char black[3] = {0, 0, 0};
  for (int i = m; i < width - m; ++i) PUT(i, height - m, black);
  for (int j = m; j < height - m; ++j) PUT(m, j, black);
  for (int s = 0; s < num_series; ++s) {
    const unsigned char *c = colours[s % 6];
    for (int i = 0; i < n; ++i) {
      int px = m + (int)((x[i] - xmin) / (xmax - xmin) * (width - 2 * m));
      int py = height - m - (int)((y[s * n + i] - ymin) / (ymax - ymin) * (height - 2 * m));
      for (int a = -2; a <= 2; ++a)
        for (int b = -2; b <= 2; ++b) PUT(px + a, py + b, c);
      if (i > 0) {
        int qx = m + (int)((x[i - 1] - xmin) / (xmax - xmin) * (width - 2 * m));
        int qy = height - m - (int)((y[s * n + i - 1] - ymin) / (ymax - ymin) * (height - 2 * m));
        int steps = abs(px - qx) + abs(py - qy) + 1;
        for (int t = 0; t <= steps; ++t) PUT(qx + (px - qx) * t / steps, qy + (py - qy) * t / steps, c);
      }
    }
  }
#undef PUT
  pet_status st = write_png(path, pix, width, height, 3);
  free(pix);
  return st;
}
