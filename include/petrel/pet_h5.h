/* petrel: projection data, list-mode and images in HDF5. Only mpi/ includes hdf5.h. */
#ifndef PET_H5_H
#define PET_H5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pet_histogram.h"
#include "pet_image.h"
#include "pet_listmode.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pet_comm pet_comm;

/*
 * File layout (every file also has root attributes petrel_content = "histogram" | "listmode" |
 * "image" and petrel_version):
 *
 *   /histogram                 float32 [num_bins], chunked by PET_H5_CHUNK_ELEMS; attributes
 *                              units = "counts", scanner_name, num_bins (int64),
 *                              bin_order = PET_H5_BIN_ORDER, petrel_version
 *                              TOF histogram: float32 [num_bins x num_tof_bins], TOF the
 *                              fastest axis (element bin * num_tof_bins + t), attributes
 *                              num_tof_bins (int32, 1..64) and tof_bin_width_ps (float32);
 *                              its corrections hold num_bins (one per bin, for all its TOF
 *                              bins) or num_bins x num_tof_bins values
 *   /corrections/normalisation float32 [num_bins], optional, same bin order and chunking;
 *   /corrections/attenuation   likewise (multiplicative factors, as YRT-PET's ACF histograms);
 *   /corrections/randoms       likewise (counts per bin);
 *   /corrections/scatter       likewise (counts per bin)
 *
 *   /listmode                  group; attributes scanner_name, num_events (int64), units
 *                              ("time_ms: ms, tof_ps: ps"), petrel_version
 *   /listmode/time_ms          uint32 [n], sorted ascending
 *   /listmode/d1, /listmode/d2 uint32 [n] detector ids
 *   /listmode/tof_ps           float32 [n], optional (d1 - d2 arrival-time difference in ps)
 *   /listmode/time_index       int64 [num_windows + 1], attribute index_ms (uint32):
 *                              time_index[k] = index of the first event with
 *                              time_ms >= k * index_ms; the last entry is n
 *
 *   /image                     float32 [nz][ny][nx] (x fastest), chunked by z slice;
 *                              attributes nx, ny, nz (int32), length_x/y/z, off_x/y/z
 *                              (float32, mm; as pet_image_params)
 *
 * Event and bin arrays are chunked and unfiltered, so that ranks can read disjoint
 * hyperslabs efficiently; list-mode written by pet_h5_lm_writer may be deflated (same layout,
 * extendible datasets; the readers need nothing different). The *_range readers are Local; the collective variants
 * pet_h5_read_*_range_all take the same arguments plus the communicator: with a parallel
 * HDF5 (PET_HDF5_PARALLEL) every rank reads its hyperslab in one collective MPI-IO read
 * (H5Pset_fapl_mpio, H5FD_MPIO_COLLECTIVE); with a serial one each rank opens the file
 * read-only and reads its part independently. Either way every rank must call them, the
 * same number of times, even with count 0.
 *
 * Writes are atomic: the file is written as "<path>.tmp.<pid>" and renamed over <path> once
 * closed; the temporary is removed on failure. Errors name the file and the dataset or
 * attribute; the HDF5 error stack is silenced inside these functions (and restored).
 */

#define PET_H5_BIN_ORDER "yrtpet-histogram3d-v1"
#define PET_H5_CHUNK_ELEMS ((int64_t)1 << 20)
#define PET_H5_LISTMODE_INDEX_MS 1000u

/** Optional per-bin corrections, each NULL or num_bins floats in the histogram's bin order. */
typedef struct pet_h5_corrections {
  const float *normalisation;
  const float *attenuation;
  const float *randoms;
  const float *scatter;
} pet_h5_corrections;

/** Bits of pet_h5_histogram_info's which_corrections. */
enum {
  PET_H5_CORR_NORMALISATION = 1u << 0,
  PET_H5_CORR_ATTENUATION = 1u << 1,
  PET_H5_CORR_RANDOMS = 1u << 2,
  PET_H5_CORR_SCATTER = 1u << 3
};

/**
 * Writes a histogram of num_bins >= 1 bins (and the corrections given in `corr`, which may be
 * NULL) as a new file at `path`, atomically. scanner_name is stored as an attribute. Local.
 * Errors: PET_ERR_ARG (NULL, num_bins < 1), PET_ERR_IO (naming the file and dataset).
 */
pet_status pet_h5_write_histogram(const char *path, const char *scanner_name, int64_t num_bins,
                                  const float *values, const pet_h5_corrections *corr);

/** A histogram file's TOF bins (pet_h5_write_histogram_tof, pet_h5_histogram_tof_info). */
typedef struct pet_h5_tof_info {
  int32_t num_tof_bins;      /* 0: no TOF */
  float tof_bin_width_ps;
  unsigned corr_per_tof_bin; /* PET_H5_CORR_* bits: corrections held per (bin, TOF bin) */
} pet_h5_tof_info;

/**
 * pet_h5_write_histogram for a TOF histogram (tof NULL or tof->num_tof_bins 0: the same file
 * as pet_h5_write_histogram): values holds num_bins x num_tof_bins floats (TOF fastest); a
 * correction whose bit is set in tof->corr_per_tof_bin as many, the others num_bins. Local.
 * Errors: PET_ERR_ARG (num_tof_bins outside [1, 64], width not > 0), PET_ERR_IO.
 */
pet_status pet_h5_write_histogram_tof(const char *path, const char *scanner_name, int64_t num_bins,
                                      const pet_h5_tof_info *tof, const float *values,
                                      const pet_h5_corrections *corr);
/**
 * The geometric bins (*num_bins) and TOF bins of a histogram file (tof->num_tof_bins 0 for a
 * histogram without TOF), with the checks of pet_h5_histogram_info. Local.
 * Errors: PET_ERR_ARG, PET_ERR_IO (a bad num_tof_bins or tof_bin_width_ps attribute, a
 * dataset whose size disagrees with them; named).
 */
pet_status pet_h5_histogram_tof_info(const char *path, int64_t *num_bins, pet_h5_tof_info *tof);

/**
 * Reads the counts of a histogram file for scanner s into a new host pet_histogram (Owned;
 * returns ownership: free with pet_histogram_destroy), a TOF histogram when the file has TOF
 * bins. The file's bins must be s's, and where both the file and the scanner give TOF bins
 * (numTOFBins, tofBinWidth_ps in the scanner JSON) they must agree. Local.
 * Errors: PET_ERR_IO (as pet_h5_histogram_tof_info; bins or TOF bins that disagree with the
 * scanner, naming the file, the attribute and the scanner field), PET_ERR_NOMEM.
 */
pet_status pet_h5_read_histogram_file(const char *path, const pet_scanner *s, pet_histogram **out);

/**
 * Reads a histogram file's description: num_bins (geometric bins: a TOF histogram's dataset
 * holds num_tof_bins times as many values, pet_h5_histogram_tof_info), scanner_name (NUL-terminated, truncated to
 * len - 1 bytes; may be NULL) and which_corrections (PET_H5_CORR_* bits; may be NULL). Checks
 * that the bin order is PET_H5_BIN_ORDER and that every correction has num_bins elements.
 * Local. Errors: PET_ERR_ARG, PET_ERR_IO (missing/corrupt file, missing or wrong dataset or
 * attribute, named).
 */
pet_status pet_h5_histogram_info(const char *path, int64_t *num_bins, char *scanner_name,
                                 size_t len, unsigned *which_corrections);

/**
 * Reads bins [first, first + count) of a 1D float dataset ("histogram",
 * "corrections/attenuation", ...; a leading '/' is optional) into out[0 .. count). Local.
 * Errors: PET_ERR_ARG (NULL, first < 0, count < 0), PET_ERR_IO (missing dataset, not 1D, not a
 * float type, range beyond its size; named).
 */
pet_status pet_h5_read_histogram_range(const char *path, const char *dataset, int64_t first,
                                       int64_t count, float *out);

/**
 * Collective pet_h5_read_histogram_range: rank r reads its own [first, first + count) (ranges
 * may differ, overlap or be empty) into out[0 .. count). Every rank of comm must call it;
 * errors on any rank (missing file, range beyond the dataset) are agreed, so every rank
 * returns the same status (pet_comm_agree). Collective on comm.
 * Errors: PET_ERR_ARG, PET_ERR_IO (named), PET_ERR_MPI.
 */
pet_status pet_h5_read_histogram_range_all(pet_comm *comm, const char *path, const char *dataset,
                                           int64_t first, int64_t count, float *out);

/**
 * Writes n >= 0 list-mode events as a new file at `path`, atomically, with a time index of
 * PET_H5_LISTMODE_INDEX_MS windows. t (ms) must be sorted ascending; tof (ps) may be NULL.
 * Local. Errors: PET_ERR_ARG (NULL arrays, unsorted times: the message gives the first event
 * out of order), PET_ERR_IO.
 */
pet_status pet_h5_write_listmode(const char *path, const char *scanner_name, int64_t n,
                                 const uint32_t *t, const uint32_t *d1, const uint32_t *d2,
                                 const float *tof);

/** As pet_h5_write_listmode with a time index of index_ms >= 1 ms windows. */
pet_status pet_h5_write_listmode_indexed(const char *path, const char *scanner_name, int64_t n,
                                         const uint32_t *t, const uint32_t *d1,
                                         const uint32_t *d2, const float *tof,
                                         uint32_t index_ms);

/**
 * A list-mode file written in pieces, for more events than fit in memory (the simulator's
 * 10^9): the layout above, with the event arrays extendible, chunked by chunk_events (0 =
 * PET_H5_CHUNK_ELEMS) and, when deflate_level is 1..9, shuffled and deflated (0 = none; the
 * readers need nothing different). The time index (index_ms >= 1 ms windows, 0 =
 * PET_H5_LISTMODE_INDEX_MS) is built as events arrive, so only it (one int64 a window) stays in
 * memory. Deflated chunks are shuffled and compressed by the writer on every OpenMP thread
 * (zlib, HDF5's shuffle + deflate formats, H5Dwrite_chunk), ceil(threads / columns) chunks a
 * column at a time (4 MiB each), instead of by HDF5's single-threaded filter.
 * The file is "<path>.tmp.<pid>" until pet_h5_lm_writer_close renames it; abort (or a
 * failed close) removes it. Local; one thread at a time. Errors: PET_ERR_ARG (bad level or
 * chunk, unsorted times: the message gives the event), PET_ERR_UNSUPPORTED (no deflate filter
 * in this HDF5), PET_ERR_IO naming the file and the dataset, PET_ERR_NOMEM.
 */
typedef struct pet_h5_lm_writer pet_h5_lm_writer;
/** Creates the temporary file and its datasets. Returns ownership of *w: end it with close or
 *  abort. */
pet_status pet_h5_lm_writer_open(pet_h5_lm_writer **w, const char *path, const char *scanner_name, bool has_tof,
                                 int64_t chunk_events, int deflate_level, uint32_t index_ms);
/** Appends n >= 0 events: times sorted and not before the last appended; tof non-NULL iff the
 *  file has TOF. A failed append leaves w to abort. */
pet_status pet_h5_lm_writer_append(pet_h5_lm_writer *w, int64_t n, const uint32_t *t, const uint32_t *d1,
                                   const uint32_t *d2, const float *tof);
/** Events appended so far. */
int64_t pet_h5_lm_writer_count(const pet_h5_lm_writer *w);
/** Writes num_events and the time index, closes and renames the file over path; frees *w
 *  (sets it to NULL) whatever the outcome. */
pet_status pet_h5_lm_writer_close(pet_h5_lm_writer **w);
/** Removes the temporary file and frees *w. NULL-safe. */
void pet_h5_lm_writer_abort(pet_h5_lm_writer **w);

/**
 * Reads a list-mode file's description: n events, has_tof, scanner (may be NULL; truncated to
 * len - 1 bytes). Checks that every event array has n elements. Local.
 * Errors: PET_ERR_ARG, PET_ERR_IO (named).
 */
pet_status pet_h5_listmode_info(const char *path, int64_t *n, bool *has_tof, char *scanner,
                                size_t len);

/**
 * Finds the events with t0_ms <= time_ms < t1_ms: they are [*first, *first + *count). Uses the
 * time index and a binary search within one index window, reading O(log) elements, not the
 * file. t1_ms <= t0_ms gives *count = 0. Local. Errors: PET_ERR_ARG, PET_ERR_IO (named).
 */
pet_status pet_h5_listmode_find_window(const char *path, uint32_t t0_ms, uint32_t t1_ms,
                                       int64_t *first, int64_t *count);

/**
 * Reads the whole /listmode/time_ms (in blocks of 2^20 events) and checks that it is sorted
 * and that /listmode/time_index, if present, agrees with it: what cutting frames by time
 * through the index needs. *first_unsorted (may be NULL): the first event earlier than the
 * one before it, or -1. Local. Errors: PET_ERR_IO naming the file, the events and their
 * times (or the index window), PET_ERR_NOMEM.
 */
pet_status pet_h5_listmode_check_times(const char *path, int64_t *first_unsorted);

/** True when path is an HDF5 file that holds an object `name` (e.g. "histogram"). Local. */
bool pet_h5_has_dataset(const char *path, const char *name);

/**
 * Reads events [first, first + count) into t, d1, d2 and tof (count elements each). Any of the
 * four may be NULL to skip that array; tof non-NULL needs a file with TOF. Local.
 * Errors: PET_ERR_ARG (first/count out of range, tof asked of a file without), PET_ERR_IO.
 */
pet_status pet_h5_read_listmode_range(const char *path, int64_t first, int64_t count,
                                      uint32_t *t, uint32_t *d1, uint32_t *d2, float *tof);

/**
 * A list-mode source (pet_listmode.h) over the HDF5 list-mode file path, for OSEM streamed
 * from the file (pet_osem_data.lm_source): each read gives what pet_h5_read_listmode_range
 * gives of d1, d2 and (when asked) tof_ps. Checks the file's layout now. When the event
 * datasets are stored raw (contiguous, or chunked without filters, in the machine's byte
 * order) their file offsets are mapped now and each read is several threads' pread()s
 * (PET_IO_THREADS, default the online CPUs up to 8); otherwise (compressed data, or with the
 * environment variable PET_IO_HDF5 set) each read is an H5Dread. Free with
 * pet_h5_listmode_source_close. Local. Errors: PET_ERR_ARG, PET_ERR_IO (named), PET_ERR_NOMEM.
 */
pet_status pet_h5_listmode_source_open(const char *path, pet_lm_source *src);
/** Whether src reads with pread() from mapped offsets (true) or through H5Dread (false). */
bool pet_h5_listmode_source_is_raw(const pet_lm_source *src);
void pet_h5_listmode_source_close(pet_lm_source *src);

/**
 * Collective pet_h5_read_listmode_range: each rank reads its events [first, first + count)
 * (count may be 0). The arrays read are those any rank asks for (a NULL array on a rank that
 * has events means that rank skips it). Every rank of comm must call it; errors are agreed.
 * Collective on comm. Errors: PET_ERR_ARG, PET_ERR_IO, PET_ERR_MPI.
 */
pet_status pet_h5_read_listmode_range_all(pet_comm *comm, const char *path, int64_t first,
                                          int64_t count, uint32_t *t, uint32_t *d1, uint32_t *d2,
                                          float *tof);

/**
 * Writes a host image as /image with its params as attributes, atomically. Local.
 * Errors: PET_ERR_ARG, PET_ERR_STATE (no host data), PET_ERR_IO.
 */
pet_status pet_h5_write_image(const char *path, const pet_image *img);

/**
 * Reads /image into a new Owned host image. Returns ownership of *img: free with
 * pet_image_destroy. Local. Errors: PET_ERR_ARG, PET_ERR_NOMEM, PET_ERR_IO (missing or bad
 * attribute or dataset, dims that disagree with nx/ny/nz; named).
 */
pet_status pet_h5_read_image(const char *path, pet_image **img);

#define PET_H5_CKPT_FIELDS_MAX 8192

/** What a checkpoint records besides the image: where to continue and what it belongs to. */
typedef struct pet_h5_checkpoint {
  int32_t next_iteration, next_subset; /* 0-based position of the next subset to run */
  int32_t num_ranks;                   /* ranks of the run that wrote it */
  uint64_t config_hash;                /* pet_config_hash of the reconstruction's config */
  int64_t data_bytes;                  /* size of the data file */
  uint64_t data_checksum;              /* checksum of the data file's bytes */
  /* "name: value" lines describing the run (attribute run_fields; "" if none), compared
   * field by field on resume */
  char fields[PET_H5_CKPT_FIELDS_MAX];
} pet_h5_checkpoint;

/** Writes the current image and the metadata to an HDF5 checkpoint, atomically. Local. */
pet_status pet_h5_write_checkpoint(const char *path, const pet_image *x, const pet_h5_checkpoint *ck);
/** Reads a checkpoint (image returned Owned, host). PET_ERR_IO names what is wrong. Local. */
pet_status pet_h5_read_checkpoint(const char *path, pet_image **x, pet_h5_checkpoint *ck);

#ifdef __cplusplus
}
#endif
#endif /* PET_H5_H */
