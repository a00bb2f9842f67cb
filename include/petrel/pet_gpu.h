/* petrel: the plain-C face of the GPU backend. A build without CUDA links pet_gpu_stub.c,
 * whose functions return PET_ERR_UNSUPPORTED; callers never #ifdef on CUDA. */
#ifndef PET_GPU_H
#define PET_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "pet_devmem.h"
#include "pet_prior.h"
#include "pet_projector.h"
#include "pet_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** True when this build has CUDA. Local. */
int pet_gpu_compiled(void);
/** Number of visible CUDA devices (0 with no driver/device, never an error). Local. */
int pet_gpu_device_count(void);
/** Selects device `dev` for this host thread. */
pet_status pet_gpu_set_device(int dev);
/** Free and total memory of the current device, in bytes. */
pet_status pet_gpu_mem_info(size_t *free_bytes, size_t *total_bytes);
/** Name of device `dev` into buf. */
pet_status pet_gpu_device_name(int dev, char *buf, size_t len);

/** Waits for all work on the current device. */
pet_status pet_gpu_synchronize(void);
/** Free memory of the current device in bytes (YRT-PET's getAvailableVRAM); 0 without one. */
size_t pet_gpu_available_vram(void);

/* ---- projectors on the device (gpu/pet_gpu_project.cu) ---- */

/**
 * Forward projection on the device: proj[i] = sum_v a_iv img[v], the same weights as
 * pet_project_fwd_cpu (one thread per LOR through pet_project_lor). b: device arrays; img:
 * a PET_DEVICE image; proj: device, b->n floats, overwritten. Synchronous. Local.
 * Errors: PET_ERR_ARG, PET_ERR_STATE (image without memory or on the host), PET_ERR_CUDA.
 */
pet_status pet_gpu_project_fwd(const pet_projector_params *p, const pet_lor_batch *b,
                               const pet_image *img, float *proj);
/** Back projection on the device: img[v] += sum_i a_iv proj[i] (atomic adds). Synchronous. */
pet_status pet_gpu_project_back(const pet_projector_params *p, const pet_lor_batch *b,
                                const float *proj, pet_image *img);

/* ---- single scatter simulation (gpu/pet_gpu_sss.cu) ---- */
struct pet_sss_tabs;
/**
 * The detector-pair sums of the SSS (pet_sss_pair, src/kernels/pet_sss_kernel.h) on the
 * current device, one thread per sampled pair a < b with need[a * num_dets + b] != 0 (host,
 * num_dets^2 bytes): t holds host tables (uploaded here); out (host, num_dets^2 x max(1, T)
 * floats) gets those pairs' values (geom 1) at (a * num_dets + b) * max(1, T), the other a < b
 * entries 0 (the rest untouched). Synchronous.
 * Errors: PET_ERR_ARG, PET_ERR_NOMEM, PET_ERR_CUDA, PET_ERR_UNSUPPORTED (no CUDA).
 */
pet_status pet_gpu_sss_pairs(const struct pet_sss_tabs *t, const uint8_t *need, float *out);

/* ---- device projection list (gpu/pet_gpu_projlist.cu; YRT-PET's ProjectionListDevice) ---- */
struct pet_scanner;
struct pet_histogram;
struct pet_listmode;

/**
 * LORs of one (subset, batch) of a histogram or a list-mode, built on the device, plus one
 * value per LOR: Owned (pet_projlist_device_allocate_values) or Alias
 * (pet_projlist_device_bind_values: YRT-PET's setProjValuesDevicePointer).
 */
typedef struct pet_projlist_device pet_projlist_device;

/**
 * Creates a device projection list over exactly one of h (histogram: bins, subsets by angle as
 * pet_histo_subset_bin) and lm (list-mode: events, subsets as pet_listmode_subset_range).
 * Uploads the scanner LUT (and for h the layout tables). The batch size is the number of LORs
 * whose endpoints, normals, TOF, values (and list-mode ids) fit budget_bytes (0 = 80% of the
 * free VRAM). has_tof needs lm with TOF. s, h and lm are borrowed and must outlive *pl.
 * Returns ownership: free with pet_projlist_device_destroy. Local.
 */
pet_status pet_projlist_device_create(pet_projlist_device **pl, const struct pet_scanner *s,
                                      const struct pet_histogram *h,
                                      const struct pet_listmode *lm, int has_tof,
                                      int64_t budget_bytes, int32_t num_subsets,
                                      pet_ownership values);
void pet_projlist_device_destroy(pet_projlist_device **pl);
/** LORs per batch (from the budget). */
int64_t pet_projlist_device_batch_capacity(const pet_projlist_device *pl);
/** Number of batches of subset `subset` (0 for a bad subset). */
int64_t pet_projlist_device_num_batches(const pet_projlist_device *pl, int32_t subset);
/** Builds the LORs of (subset, batch) on the device (YRT-PET's prepareBatchLORs). Synchronous. */
pet_status pet_projlist_device_prepare_batch(pet_projlist_device *pl, int32_t subset,
                                             int64_t batch);
/** LORs in the loaded batch (0 before prepare_batch; getLoadedBatchSize). */
int64_t pet_projlist_device_loaded_batch_size(const pet_projlist_device *pl);
/** Owned: allocates device values for the batch capacity (zeroed). PET_ERR_STATE on Alias. */
pet_status pet_projlist_device_allocate_values(pet_projlist_device *pl);
/** Alias: binds caller device memory of at least loaded_batch_size floats (borrowed; rebinding
 *  allowed). PET_ERR_STATE on Owned, PET_ERR_ARG for NULL or host memory. */
pet_status pet_projlist_device_bind_values(pet_projlist_device *pl, float *dev_values);
/** Device pointer of the values (NULL before allocate/bind). */
float *pet_projlist_device_values(const pet_projlist_device *pl);
/** The loaded batch as device arrays (n = 0 before prepare_batch). */
pet_lor_batch pet_projlist_device_batch(const pet_projlist_device *pl);
/** values = A img over the loaded batch (img: PET_DEVICE). Synchronous. */
pet_status pet_projlist_device_fwd(pet_projlist_device *pl, const pet_projector_params *p,
                                   const pet_image *img);
/** img += A^T values over the loaded batch (YRT-PET's applyAH). Synchronous. */
pet_status pet_projlist_device_back(pet_projlist_device *pl, const pet_projector_params *p,
                                    pet_image *img);

/* ---- GPU reconstruction: the GPU backend of the OSEM loop, pet_osem_gpu_backend()
 * (pet_osem_backend.h), chosen with pet_osem_opts.gpu ---- */
struct pet_osem_data;
struct pet_osem_opts;

/** Runs fn(ctx) between two CUDA events on the default stream; *ms = the time between them. */
pet_status pet_gpu_time_ms(pet_status (*fn)(void *), void *ctx, float *ms);
/** Microbenchmark: n float atomicAdds into a device buffer of nvox floats; *ms = kernel time. */
pet_status pet_gpu_bench_atomics(float *img, int64_t nvox, int64_t n, float *ms);

/** pet_prior_gradient on device images (the GPU backend's kernel): grad = dU/dx of x, both
 *  PET_DEVICE on one grid. Synchronous. Errors: PET_ERR_ARG, PET_ERR_STATE, PET_ERR_CUDA,
 *  PET_ERR_UNSUPPORTED (no CUDA). */
pet_status pet_gpu_prior_gradient(const pet_prior_params *p, const pet_image *x, pet_image *grad);

/** Device bytes per LOR that the GPU backend's batches take for (d, o): the budget divided by
 *  this is the batch size. */
int64_t pet_gpu_osem_bytes_per_lor(const struct pet_osem_data *d, const struct pet_osem_opts *o);

#ifdef __cplusplus
}
#endif
#endif /* PET_GPU_H */
