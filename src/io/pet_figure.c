/* The demo's figure (cairo): orthogonal slices of several images on one intensity scale. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pet_fileutil.h"
#include "pet_png.h"

#ifdef PET_HAVE_CAIRO
#include <cairo.h>

/* "hot": black, red, yellow, white; t in [0, 1] */
static void colour(double t, double *r, double *g, double *b)
{
  t = t < 0 ? 0 : (t > 1 ? 1 : t);
  *r = fmin(1.0, 3.0 * t);
  *g = fmin(1.0, fmax(0.0, 3.0 * t - 1.0));
  *b = fmin(1.0, fmax(0.0, 3.0 * t - 2.0));
}

static uint32_t argb(double t)
{
  double r, g, b;
  colour(t, &r, &g, &b);
  return 0xff000000u | ((uint32_t)lround(r * 255) << 16) | ((uint32_t)lround(g * 255) << 8) |
         (uint32_t)lround(b * 255);
}

/* One slice as a cairo surface with one pixel per voxel: plane 0 = axial (cols x, rows y),
 * 1 = coronal (cols x, rows z, top = +z), 2 = sagittal (cols y, rows z, top = +z). */
static cairo_surface_t *slice_surface(const pet_image *img, int plane, int ix, int iy, int iz, float vmax)
{
  const pet_image_params *p = &img->params;
  const int w = plane == 2 ? p->ny : p->nx, h = plane == 0 ? p->ny : p->nz;
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
  if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) return s;
  cairo_surface_flush(s);
  unsigned char *base = cairo_image_surface_get_data(s);
  const int stride = cairo_image_surface_get_stride(s);
  for (int r = 0; r < h; ++r) {
    uint32_t *row = (uint32_t *)(void *)(base + (size_t)r * stride);
    for (int c = 0; c < w; ++c) {
      int64_t x = ix, y = iy, z = iz;
      if (plane == 0) x = c, y = r;
      else if (plane == 1) x = c, z = p->nz - 1 - r;
      else y = c, z = p->nz - 1 - r;
      const float v = img->data[(z * p->ny + y) * p->nx + x];
      row[c] = argb(vmax > 0 ? v / vmax : 0.0);
    }
  }
  cairo_surface_mark_dirty(s);
  return s;
}

static void text(cairo_t *cr, double x, double y, double size, bool bold, const char *s, double align)
{
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t e;
  cairo_text_extents(cr, s, &e);
  cairo_move_to(cr, x - align * e.x_advance, y);
  cairo_show_text(cr, s);
}

static cairo_status_t write_stream(void *closure, const unsigned char *data, unsigned int length)
{
  return fwrite(data, 1, length, closure) == length ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* A "nice" tick step for [0, vmax] with about n ticks. */
static double tick_step(double vmax, int n)
{
  double raw = vmax / n, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

/* The centre of the hottest feature of img: the biggest 6-connected region of voxels within 10%
 * of the maximum (a hot sphere, not one voxel on its rim), as the voxel nearest its centroid. */
static pet_status hottest_feature(const pet_image *img, int *ix, int *iy, int *iz)
{
  const pet_image_params *p = &img->params;
  const int64_t nv = pet_image_num_voxels(img), nxy = (int64_t)p->nx * p->ny;
  float vmax = -INFINITY;
  int64_t arg = 0;
  for (int64_t v = 0; v < nv; ++v)
    if (img->data[v] > vmax) vmax = img->data[v], arg = v;
  const float thr = vmax > 0 ? 0.9f * vmax : vmax;
  unsigned char *seen = calloc((size_t)nv, 1);
  int64_t *stack = malloc((size_t)nv * sizeof *stack);
  if (!seen || !stack) {
    free(seen);
    free(stack);
    return PET_ERROR(PET_ERR_NOMEM, "figure: out of memory");
  }
  int64_t best_n = 0;
  double best[3] = {(double)(arg % p->nx), (double)((arg / p->nx) % p->ny), (double)(arg / nxy)};
  for (int64_t v0 = 0; v0 < nv; ++v0) {
    if (seen[v0] || img->data[v0] < thr) continue;
    int64_t top = 0, n = 0;
    double sx = 0, sy = 0, sz = 0;
    stack[top++] = v0;
    seen[v0] = 1;
    while (top > 0) {
      const int64_t v = stack[--top];
      const int64_t x = v % p->nx, y = (v / p->nx) % p->ny, z = v / nxy;
      ++n, sx += (double)x, sy += (double)y, sz += (double)z;
      const int64_t nb[6] = {x > 0 ? v - 1 : -1, x + 1 < p->nx ? v + 1 : -1, y > 0 ? v - p->nx : -1,
                             y + 1 < p->ny ? v + p->nx : -1, z > 0 ? v - nxy : -1, z + 1 < p->nz ? v + nxy : -1};
      for (int k = 0; k < 6; ++k)
        if (nb[k] >= 0 && !seen[nb[k]] && img->data[nb[k]] >= thr) {
          seen[nb[k]] = 1;
          stack[top++] = nb[k];
        }
    }
    if (n > best_n) {
      best_n = n;
      best[0] = sx / n, best[1] = sy / n, best[2] = sz / n;
    }
  }
  free(seen);
  free(stack);
  *ix = (int)lround(best[0]);
  *iy = (int)lround(best[1]);
  *iz = (int)lround(best[2]);
  return PET_OK;
}

pet_status pet_png_write_figure(const char *path, const pet_image *const *imgs, const char *const *labels,
                                int num_imgs, const char *title)
{
  PET_CHECK(path != NULL && imgs != NULL && num_imgs > 0, PET_ERR_ARG, "figure: nothing to draw");
  for (int i = 0; i < num_imgs; ++i) {
    PET_TRY(pet_image_require(imgs[i], PET_HOST));
    PET_CHECK(pet_image_params_equal(&imgs[i]->params, &imgs[0]->params), PET_ERR_ARG,
              "figure: image %d is on another grid than image 0", i);
  }
  const pet_image_params *p = &imgs[0]->params;
  const int64_t nv = pet_image_num_voxels(imgs[0]);
  /* slices through the hottest feature of the first image (the truth); one shared scale */
  int ix = 0, iy = 0, iz = 0;
  PET_TRY(hottest_feature(imgs[0], &ix, &iy, &iz));
  float vmax = 0.0f;
  for (int i = 0; i < num_imgs; ++i)
    for (int64_t v = 0; v < nv; ++v) vmax = fmaxf(vmax, imgs[i]->data[v]);
  const double vx = p->length_x / p->nx, vy = p->length_y / p->ny, vz = p->length_z / p->nz;
  const double cx = p->off_x - 0.5 * p->length_x + (ix + 0.5) * vx;
  const double cy = p->off_y - 0.5 * p->length_y + (iy + 0.5) * vy;
  const double cz = p->off_z - 0.5 * p->length_z + (iz + 0.5) * vz;

  /* pixels per mm: the axial panel is about 300 px across, whatever the field of view */
  const double s = 300.0 / fmax(p->length_x, p->length_y);
  const double aw = p->length_x * s, ah = p->length_y * s;            /* axial */
  const double cw = p->length_x * s, sw = p->length_y * s, zh = p->length_z * s; /* coronal, sagittal */
  const double gap = 14, margin = 20, top = 54, label_h = 34, bar_w = 18, bar_area = 110;
  const bool side = zh * 2 + gap + 16 <= ah; /* flat z: coronal above sagittal, beside the axial */
  const double row_w = side ? aw + gap + fmax(cw, sw) : aw + gap + cw + gap + sw;
  const double row_h = side ? ah : fmax(ah, zh);
  const int W = (int)ceil(fmax(720.0, margin * 2 + row_w + bar_area));
  const int H = (int)ceil(top + num_imgs * (label_h + row_h) + (num_imgs - 1) * gap + 46);

  cairo_surface_t *fig = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
  cairo_t *cr = cairo_create(fig);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_set_source_rgb(cr, 0, 0, 0);
  text(cr, margin, 30, 17, true, title ? title : "", 0.0);
  char buf[256];
  snprintf(buf, sizeof buf,
           "slices through the centre of the top row's hottest feature (x %.1f, y %.1f, z %.1f mm; blue "
           "ticks); voxels %.2f x %.2f x %.2f mm", cx, cy, cz, vx, vy, vz);
  text(cr, margin, 47, 11, false, buf, 0.0);

  double y0 = top;
  for (int i = 0; i < num_imgs; ++i) {
    cairo_set_source_rgb(cr, 0, 0, 0);
    text(cr, margin, y0 + 16, 14, true, labels && labels[i] ? labels[i] : "", 0.0);
    const double py = y0 + label_h;
    struct { int plane; double x, y, w, h; const char *name; double pos; char axis; } pan[3] = {
        {0, margin, py, aw, ah, "axial", cz, 'z'},
        {1, margin + aw + gap, py + (side ? 14 : 0), cw, zh, "coronal", cy, 'y'},
        {2, side ? margin + aw + gap : margin + aw + gap + cw + gap, side ? py + 14 + zh + gap + 14 : py, sw, zh,
         "sagittal", cx, 'x'}};
    for (int k = 0; k < 3; ++k) {
      cairo_surface_t *sl = slice_surface(imgs[i], pan[k].plane, ix, iy, iz, vmax);
      cairo_save(cr);
      cairo_translate(cr, pan[k].x, pan[k].y);
      cairo_scale(cr, pan[k].w / cairo_image_surface_get_width(sl), pan[k].h / cairo_image_surface_get_height(sl));
      cairo_set_source_surface(cr, sl, 0, 0);
      cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
      cairo_paint(cr);
      cairo_restore(cr);
      cairo_surface_destroy(sl);
      /* where the other two planes cut this one: short ticks outside the panel */
      cairo_set_source_rgb(cr, 0.1, 0.5, 1.0);
      cairo_set_line_width(cr, 1.5);
      double tx = pan[k].plane == 2 ? (iy + 0.5) * vy * s : (ix + 0.5) * vx * s;
      double ty = pan[k].plane == 0 ? (iy + 0.5) * vy * s : (p->nz - iz - 0.5) * vz * s;
      cairo_move_to(cr, pan[k].x + tx, pan[k].y + pan[k].h);
      cairo_line_to(cr, pan[k].x + tx, pan[k].y + pan[k].h + 6);
      cairo_move_to(cr, pan[k].x + pan[k].w, pan[k].y + ty);
      cairo_line_to(cr, pan[k].x + pan[k].w + 6, pan[k].y + ty);
      cairo_stroke(cr);
      cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
      snprintf(buf, sizeof buf, "%s, %c = %.1f mm", pan[k].name, pan[k].axis, pan[k].pos);
      text(cr, pan[k].x, pan[k].y - 4, 11, false, buf, 0.0);
    }
    /* a scale bar (about a fifth of the field of view) under the axial panel of the last row */
    if (i == num_imgs - 1) {
      const double bar_mm = tick_step(p->length_x, 4), bl = bar_mm * s, bx = margin, by = py + ah + 16;
      cairo_set_source_rgb(cr, 0, 0, 0);
      cairo_set_line_width(cr, 3);
      cairo_move_to(cr, bx, by);
      cairo_line_to(cr, bx + bl, by);
      cairo_stroke(cr);
      snprintf(buf, sizeof buf, "%g mm", bar_mm);
      text(cr, bx + bl + 6, by + 4, 11, false, buf, 0.0);
    }
    y0 += label_h + row_h + gap;
  }

  /* colour bar for the shared scale, spanning the rows */
  const double bx = W - bar_area + 18, by0 = top + label_h, by1 = y0 - gap;
  cairo_pattern_t *grad = cairo_pattern_create_linear(0, by1, 0, by0);
  for (int k = 0; k <= 32; ++k) {
    double r, g, b;
    colour(k / 32.0, &r, &g, &b);
    cairo_pattern_add_color_stop_rgb(grad, k / 32.0, r, g, b);
  }
  cairo_rectangle(cr, bx, by0, bar_w, by1 - by0);
  cairo_set_source(cr, grad);
  cairo_fill_preserve(cr);
  cairo_pattern_destroy(grad);
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);
  if (vmax > 0) {
    const double step = tick_step(vmax, 5);
    for (double t = 0; t <= vmax * 1.0001; t += step) {
      const double ty = by1 - (by1 - by0) * t / vmax;
      cairo_move_to(cr, bx + bar_w, ty);
      cairo_line_to(cr, bx + bar_w + 5, ty);
      cairo_stroke(cr);
      snprintf(buf, sizeof buf, "%g", t);
      text(cr, bx + bar_w + 8, ty + 4, 11, false, buf, 0.0);
    }
  }
  cairo_save(cr);
  cairo_translate(cr, bx - 6, 0.5 * (by0 + by1));
  cairo_rotate(cr, -0.5 * 3.14159265358979);
  text(cr, 0, 0, 11, false, "activity per voxel (one scale for all)", 0.5);
  cairo_restore(cr);

  cairo_destroy(cr);
  pet_status st = PET_OK;
  if (cairo_surface_status(fig) != CAIRO_STATUS_SUCCESS) {
    st = PET_ERROR(PET_ERR_NOMEM, "%s: cairo could not draw the figure: %s", path,
                   cairo_status_to_string(cairo_surface_status(fig)));
  } else {
    FILE *f = NULL;
    char *tmp = NULL;
    st = pet_file_open_temp(path, &tmp, &f);
    if (st == PET_OK) {
      cairo_status_t cs = cairo_surface_write_to_png_stream(fig, write_stream, f);
      if (cs != CAIRO_STATUS_SUCCESS) {
        pet_file_abort(&f, &tmp);
        st = PET_ERROR(PET_ERR_IO, "%s: cannot write the PNG: %s", path, cairo_status_to_string(cs));
      } else {
        st = pet_file_commit(&f, &tmp, path);
      }
    }
  }
  cairo_surface_destroy(fig);
  return st;
}

#else /* no cairo in this build */

pet_status pet_png_write_figure(const char *path, const pet_image *const *imgs, const char *const *labels,
                                int num_imgs, const char *title)
{
  (void)labels;
  (void)title;
  return pet_png_write_montage(path, imgs, num_imgs);
}

#endif /* PET_HAVE_CAIRO */
