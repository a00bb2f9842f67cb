/* Linked when petrel is built without CUDA: every GPU entry point says so clearly. */
#include "pet_gpu.h"

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
pet_status pet_osem_run_gpu(const struct pet_osem_data *d, const struct pet_osem_opts *o,
                            const pet_gpu_opts *g, struct pet_image *x)
{
  (void)d; (void)o; (void)g; (void)x;
  return NO_CUDA();
}
