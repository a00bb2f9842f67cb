/* Analytic projector cases shared by the host tests and (later) the GPU tests: LORs through
 * a box image whose chord length is known (computed in double from the float endpoints). */
#ifndef PET_PROJECTOR_CASES_H
#define PET_PROJECTOR_CASES_H

#include "pet_image.h"

typedef struct pet_projector_case {
  const char *name;
  pet_image_params g; /* nx ny nz, lengths (mm), offsets (mm) */
  float lor[6];       /* x1 y1 z1 x2 y2 z2, mm */
  float chord_mm;     /* length of the segment inside the image box (0: misses) */
  int dd_exact;       /* 1: DD (1 x 1 mm crystals, orient NULL) must give the chord too: the
                         LOR enters and leaves through the two faces normal to its driving
                         axis with the footprint inside the image on every slice */
} pet_projector_case;

/* Plain initialisers (no designated ones): the table also compiles as CUDA C++. */
static const pet_projector_case pet_projector_cases[] = {
    {"axis_x", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {-50.0f, 0.5f, 0.300000012f, 50.0f, 0.5f, 0.300000012f}, 20.0f, 1},
    {"axis_y", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {0.699999988f, -50.0f, -0.300000012f, 1.10000002f, 50.0f, -0.300000012f}, 20.00016f, 1},
    {"axis_z", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {0.699999988f, 1.29999995f, -50.0f, 0.699999988f, 1.29999995f, 50.0f}, 20.0f, 0},
    {"axis_x_reversed", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {50.0f, -3.5f, 4.30000019f, -50.0f, -3.5f, 4.30000019f}, 20.0f, 1},
    {"diagonal_xy", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {-50.0f, -50.0f, 0.300000012f, 50.0f, 50.0f, 0.300000012f}, 28.2842712f, 0},
    {"diagonal_xyz", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {-50.0f, -50.0f, -50.0f, 50.0f, 50.0f, 50.0f}, 34.6410162f, 0},
    {"oblique", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {-50.0f, -5.0f, 1.0f, 50.0f, 5.0f, 2.0f}, 20.1007463f, 1},
    {"oblique_y_driven", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {3.0f, 60.0f, -1.0f, -2.0f, -60.0f, 2.5f}, 20.0258513f, 1},
    {"corner_clip", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {-2.0f, 14.0f, 0.5f, 16.0f, 5.0f, 0.5f}, 4.47213595f, 0},
    {"grazing_shallow", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {-50.0f, 9.5f, 0.300000012f, 50.0f, 10.5f, 0.300000012f}, 10.0005f, 0},
    {"grazing_inside_face", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {-50.0f, 9.9989996f, 0.300000012f, 50.0f, 9.9989996f, 0.300000012f}, 20.0f, 0},
    {"miss_parallel", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {-50.0f, 10.0010004f, 0.300000012f, 50.0f, 10.0010004f, 0.300000012f}, 0.0f, 0},
    {"miss_oblique", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {-50.0f, 20.0f, 0.0f, 50.0f, 40.0f, 3.0f}, 0.0f, 0},
    {"miss_short", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {-50.0f, 0.0f, 0.0f, -20.0f, 1.0f, 0.0f}, 0.0f, 0},
    {"start_inside", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {1.0f, 1.0f, 1.0f, 50.0f, 3.0f, 2.0f}, 9.00936622f, 0},
    {"both_inside", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {-3.0f, -2.0f, 1.0f, 4.0f, 5.0f, -2.0f}, 10.3440804f, 0},
    {"zero_length", {10, 10, 10, 20.0f, 20.0f, 20.0f, 0.0f, 0.0f, 0.0f},
     {1.0f, 2.0f, 3.0f, 1.0f, 2.0f, 3.0f}, 0.0f, 0},
    {"offset_image", {10, 10, 10, 20.0f, 20.0f, 20.0f, 5.0f, -3.0f, 2.0f},
     {-50.0f, -2.29999995f, 2.4000001f, 50.0f, -2.29999995f, 2.4000001f}, 20.0f, 1},
    {"offset_oblique", {10, 10, 10, 20.0f, 20.0f, 20.0f, 5.0f, -3.0f, 2.0f},
     {-40.0f, -8.0f, 0.0f, 60.0f, 2.0f, 5.0f}, 20.1246118f, 1},
    {"noncubic", {8, 5, 3, 24.0f, 10.0f, 9.0f, 0.0f, 0.0f, 0.0f},
     {-40.0f, -1.0f, -0.5f, 40.0f, 2.0f, 1.0f}, 24.0210845f, 1},
    {"noncubic_offset_diag", {8, 5, 3, 24.0f, 10.0f, 9.0f, 1.0f, -2.0f, 0.5f},
     {-30.0f, -25.0f, -10.0f, 30.0f, 25.0f, 10.0f}, 16.1245155f, 0},
    {"clinical_centre", {150, 150, 24, 600.0f, 600.0f, 97.68f, 0.0f, 0.0f, 0.0f},
     {431.0f, 0.0f, -20.0f, -431.0f, 0.0f, 20.0f}, 600.645644f, 1},
    {"clinical_chord", {150, 150, 24, 600.0f, 600.0f, 97.68f, 0.0f, 0.0f, 0.0f},
     {411.750031f, 127.369209f, -40.7000008f, -418.482971f, 103.116463f, 30.1000004f}, 602.432734f, 0},
};

#define PET_PROJECTOR_NUM_CASES ((int)(sizeof pet_projector_cases / sizeof pet_projector_cases[0]))

#endif /* PET_PROJECTOR_CASES_H */
