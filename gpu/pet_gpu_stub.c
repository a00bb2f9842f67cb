/* Linked when petrel is built without CUDA: every GPU entry point says so clearly. */
#include "pet_gpu.h"
#include "pet_osem_backend.h"

#define NO_CUDA() PET_ERROR(PET_ERR_UNSUPPORTED, "this petrel build has no CUDA support (rebuild with -DPET_ENABLE_CUDA=ON)")

int pet_gpu_compiled(void) { return 0; }
int pet_gpu_device_count(void) { return 0; }
pet_status pet_gpu_set_device(int dev) { (void)dev; return NO_CUDA(); }
pet_status pet_gpu_mem_info(size_t *f, size_t *t) { (void)f; (void)t; return NO_CUDA(); }
pet_status pet_gpu_device_name(int dev, char *b, size_t l) { (void)dev; (void)b; (void)l; return NO_CUDA(); }
pet_status pet_gpu_malloc(void **p, size_t n, const char *w) { (void)p; (void)n; (void)w; return NO_CUDA(); }
void pet_gpu_free(void *p) { (void)p; }
pet_status pet_gpu_memcpy(void *d, const void *s, size_t n, int k) { (void)d; (void)s; (void)n; (void)k; return NO_CUDA(); }
pet_status pet_gpu_fill_f32(float *d, int64_t n, float v) { (void)d; (void)n; (void)v; return NO_CUDA(); }
int pet_gpu_is_device_ptr(const void *p) { (void)p; return 0; }
pet_status pet_gpu_synchronize(void) { return NO_CUDA(); }
const pet_osem_backend_ops *pet_osem_gpu_backend(void) { return NULL; }
size_t pet_gpu_available_vram(void) { return 0; }
pet_status pet_gpu_project_fwd(const pet_projector_params *p, const pet_lor_batch *b,
                               const pet_image *img, float *proj)
{
  (void)p; (void)b; (void)img; (void)proj;
  return NO_CUDA();
}
pet_status pet_gpu_project_back(const pet_projector_params *p, const pet_lor_batch *b,
                                const float *proj, pet_image *img)
{
  (void)p; (void)b; (void)img; (void)proj;
  return NO_CUDA();
}
pet_status pet_projlist_device_create(pet_projlist_device **pl, const struct pet_scanner *s,
                                      const struct pet_histogram *h,
                                      const struct pet_listmode *lm, int has_tof,
                                      int64_t budget_bytes, int32_t num_subsets,
                                      pet_ownership values)
{
  (void)s; (void)h; (void)lm; (void)has_tof; (void)budget_bytes; (void)num_subsets; (void)values;
  if (pl) *pl = NULL;
  return NO_CUDA();
}
void pet_projlist_device_destroy(pet_projlist_device **pl) { if (pl) *pl = NULL; }
int64_t pet_projlist_device_batch_capacity(const pet_projlist_device *pl) { (void)pl; return 0; }
int64_t pet_projlist_device_num_batches(const pet_projlist_device *pl, int32_t s) { (void)pl; (void)s; return 0; }
pet_status pet_projlist_device_prepare_batch(pet_projlist_device *pl, int32_t s, int64_t b) { (void)pl; (void)s; (void)b; return NO_CUDA(); }
int64_t pet_projlist_device_loaded_batch_size(const pet_projlist_device *pl) { (void)pl; return 0; }
pet_status pet_projlist_device_allocate_values(pet_projlist_device *pl) { (void)pl; return NO_CUDA(); }
pet_status pet_projlist_device_bind_values(pet_projlist_device *pl, float *v) { (void)pl; (void)v; return NO_CUDA(); }
float *pet_projlist_device_values(const pet_projlist_device *pl) { (void)pl; return NULL; }
pet_lor_batch pet_projlist_device_batch(const pet_projlist_device *pl)
{
  pet_lor_batch b = {0, NULL, NULL, NULL};
  (void)pl;
  return b;
}
pet_status pet_projlist_device_fwd(pet_projlist_device *pl, const pet_projector_params *p, const pet_image *img) { (void)pl; (void)p; (void)img; return NO_CUDA(); }
pet_status pet_projlist_device_back(pet_projlist_device *pl, const pet_projector_params *p, pet_image *img) { (void)pl; (void)p; (void)img; return NO_CUDA(); }
int64_t pet_gpu_osem_bytes_per_lor(const struct pet_osem_data *d, const struct pet_osem_opts *o) { (void)d; (void)o; return 0; }
pet_status pet_gpu_time_ms(pet_status (*fn)(void *), void *ctx, float *ms) { (void)fn; (void)ctx; (void)ms; return NO_CUDA(); }
pet_status pet_gpu_bench_atomics(float *img, int64_t nvox, int64_t n, float *ms) { (void)img; (void)nvox; (void)n; (void)ms; return NO_CUDA(); }
pet_status pet_gpu_prior_gradient(const pet_prior_params *p, const pet_image *x, pet_image *grad) { (void)p; (void)x; (void)grad; return NO_CUDA(); }
pet_status pet_gpu_sss_pairs(const struct pet_sss_tabs *t, const uint8_t *need, float *out) { (void)t; (void)need; (void)out; return NO_CUDA(); }
