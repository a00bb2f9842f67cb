/* GPU OSEM: replaced by the GPU implementation (work in progress on branch gpu). */
#include "pet_gpu.h"

extern "C" pet_status pet_osem_run_gpu(const struct pet_osem_data *d, const struct pet_osem_opts *o,
                                       const pet_gpu_opts *g, struct pet_image *x)
{
  (void)d;
  (void)o;
  (void)g;
  (void)x;
  return PET_ERROR(PET_ERR_UNSUPPORTED, "GPU OSEM is not implemented in this build yet");
}
