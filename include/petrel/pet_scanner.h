/* petrel: scanner geometry (YRT-PET's Scanner): parameters, detector LUT, JSON files. */
#ifndef PET_SCANNER_H
#define PET_SCANNER_H

#include <stddef.h>
#include <stdint.h>

#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PET_SCANNER_NAME_MAX 128

/** YRT-PET scanner parameters (the seed's keyword arguments; JSON keys in brackets). */
typedef struct pet_scanner_params {
  char name[PET_SCANNER_NAME_MAX]; /* scannerName */
  float axial_fov;          /* axialFOV, mm */
  float crystal_size_z;     /* crystalSize_z, mm */
  float crystal_size_trans; /* crystalSize_trans, mm */
  float crystal_depth;      /* crystalDepth, mm */
  float scanner_radius;     /* scannerRadius, mm: block face to centre */
  int32_t dets_per_ring;    /* detsPerRing */
  int32_t num_rings;        /* numRings */
  int32_t num_doi;          /* numDOI */
  int32_t max_ring_diff;    /* maxRingDiff */
  int32_t min_ang_diff;     /* minAngDiff */
  int32_t dets_per_block;   /* detsPerBlock */
  float tof_fwhm_ps;        /* TOF resolution FWHM in ps; 0 = no TOF (JSON: "tofResolution_ps") */
  float collimator_radius;  /* optional, mm (0 = absent) */
  float fwhm_kev;           /* optional energy resolution (JSON "fwhm"), 0 = absent */
  float energy_lld_kev;     /* optional (JSON "energyLLD"), 0 = absent */
  float fov_radius;         /* optional transaxial FOV radius, mm (JSON "fovRadius"), 0 = absent:
                               pet_scanner_fov_radius (pet_fov.h) then gives scanner_radius */
  int32_t num_tof_bins;     /* optional: TOF bins of this scanner's TOF histograms (JSON
                               "numTOFBins", 1..64; needs tofBinWidth_ps and tofResolution_ps),
                               0 = absent (histograms without TOF) */
  float tof_bin_width_ps;   /* optional: width of one TOF bin, ps (JSON "tofBinWidth_ps") */
} pet_scanner_params;

typedef struct pet_scanner {
  pet_scanner_params params;
  int64_t num_dets;  /* dets_per_ring * num_rings * num_doi */
  float *lut;        /* num_dets x 6: x y z (mm), outward unit normal; owned */
  uint8_t *det_mask; /* num_dets bytes, 1 = active; NULL = all active; owned */
} pet_scanner;

/** The seed's small scanner (MYSCANNER: radius 161, 256 x 8 rings, ...). */
pet_scanner_params pet_scanner_params_small(void);
/** The clinical benchmark scanner (YRTREF_CLINICAL: radius 421, 624 x 24 rings, 13 per block,
 *  ...), the geometry of the clinical fixture. TOF and the scatter-only fields are 0. */
pet_scanner_params pet_scanner_params_clinical(void);
/**
 * A uEXPLORER-class total-body scanner (PETREL_TOTALBODY), from published figures: 1940 mm
 * axial FOV of 8 units x 84 = 672 rings (one uniform ring pitch of 2.887 mm: the gaps between
 * units are spread over the rings), 840 crystals a ring in 120 flat blocks of 7, crystals of
 * 2.76 x 2.76 x 18.1 mm, ring diameter 786 mm (scanner_radius 393), TOF 430 ps FWHM, every
 * ring difference, min_ang_diff 147 (LORs within fov_radius = 343 mm of the axis). 564,480
 * detectors; a fully-3D histogram would have 1.04e11 bins, so it is list-mode only
 * (pet_histo_layout_check_array refuses per-bin arrays of it).
 */
pet_scanner_params pet_scanner_params_total_body(void);
/** Its default image grid (what `petrel recon` uses without an "image" field): 240 x 240 x
 *  680 voxels of 2.85 mm, 684 x 684 x 1938 mm: the 686 mm transaxial FOV and the 1940 mm axial
 *  FOV at about the crystal pitch (2.76 mm crystals, 2.887 mm rings). */
#define PET_TOTAL_BODY_GRID_NXY 240
#define PET_TOTAL_BODY_GRID_NZ 680
#define PET_TOTAL_BODY_VOXEL_MM 2.85f
/** Built-in scanner by name: "small", "clinical" or "total-body". PET_ERR_ARG naming the
 *  name (and the choices) otherwise. Local. */
pet_status pet_scanner_params_builtin(const char *name, pet_scanner_params *p);
/** Checks every field, naming the first bad one ("scanner: dets_per_ring must be > 0 ..."). */
pet_status pet_scanner_params_check(const pet_scanner_params *p);

/**
 * Creates a scanner whose LUT is generated from the geometry exactly as YRT-PET does
 * (flat blocks of dets_per_block crystals, faces at scanner_radius, centres crystal_depth/2
 * behind; DOI layers stacked outwards). Returns ownership: free with pet_scanner_destroy.
 */
pet_status pet_scanner_create(pet_scanner **s, const pet_scanner_params *p);
/** Same, with a given LUT (num_dets x 6 floats, copied). */
pet_status pet_scanner_create_with_lut(pet_scanner **s, const pet_scanner_params *p,
                                       const float *lut);
void pet_scanner_destroy(pet_scanner **s);

/** Reads a YRT-PET .lut file (float32, num_dets rows of 6); size must match exactly.
 *  Returns a malloc'd array (caller frees). Errors name the file. */
pet_status pet_scanner_read_lut(const char *path, int64_t num_dets, float **lut);
/** Writes the LUT atomically (temp file + rename). */
pet_status pet_scanner_write_lut(const pet_scanner *s, const char *path);

/** Writes LOR k of a batch: the LUT positions of d1 and d2 into lor[6k..6k+5] and, if orient
 *  is not NULL, their outward normals into orient[6k..6k+5]. Ids are not checked. */
static inline void pet_scanner_put_lor(const float *lut, int64_t d1, int64_t d2, int64_t k, float *lor,
                                       float *orient)
{
  const float *a = lut + 6 * d1, *b = lut + 6 * d2;
  float *o = lor + 6 * k;
  for (int i = 0; i < 3; ++i) {
    o[i] = a[i];
    o[3 + i] = b[i];
  }
  if (orient != NULL) {
    float *n = orient + 6 * k;
    for (int i = 0; i < 3; ++i) {
      n[i] = a[3 + i];
      n[3 + i] = b[3 + i];
    }
  }
}

/** Number of detectors. */
static inline int64_t pet_scanner_num_dets(const pet_scanner *s) { return s->num_dets; }

/* JSON (implemented in config/pet_scanner_json.c) */

/**
 * Reads a YRT-PET scanner JSON (VERSION 3.x): mandatory keys checked with a message naming
 * the file and key; "detCoord" (relative to the JSON's folder) loads the LUT, otherwise it is
 * generated (then "detsPerBlock" is mandatory); "detMask" loads the mask (one byte, 0 or 1,
 * per detector). Returns ownership of *s. Errors: PET_ERR_CONFIG (malformed JSON, missing key,
 * wrong type, bad value: the message names the file and the key), PET_ERR_IO (unreadable
 * JSON or LUT file, LUT of the wrong size).
 */
pet_status pet_scanner_read_json(pet_scanner **s, const char *path);
/** Writes the scanner JSON atomically; if lut_file != NULL, also writes the LUT next to it and
 *  refers to it with "detCoord" (a bare file name, relative to the JSON's folder). A scanner
 *  with a det_mask also gets "<json name without .json>_mask.u8" next to it ("detMask").
 *  Without lut_file the reader regenerates the LUT from the geometry. Data files are written
 *  before the JSON. Errors: PET_ERR_ARG (lut_file not a bare name), PET_ERR_IO naming the file. */
pet_status pet_scanner_write_json(const pet_scanner *s, const char *path, const char *lut_file);

#ifdef __cplusplus
}
#endif
#endif /* PET_SCANNER_H */
