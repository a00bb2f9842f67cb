/* One LOR through the projector chosen by pet_projector_params: the dispatch shared by the
 * OpenMP driver (pet_projector.c) and CUDA kernels. Valid C17 and CUDA C++. */
#ifndef PET_PROJECTOR_KERNEL_H
#define PET_PROJECTOR_KERNEL_H

#include <stdint.h>

#include "pet_dd_kernel.h"
#include "pet_hd.h"
#include "pet_projector.h"
#include "pet_siddon_kernel.h"
#include "pet_tof_kernel.h"

/**
 * LOR i of batch b through projector p (tof: the kernel when p->tof, else NULL).
 * mode PET_WALK_FWD returns sum_v a_iv img_in[v]; PET_WALK_BACK_* add a_iv * back_val to
 * img_out[v] and return 0. The weights a_iv are those of pet_project_fwd_cpu.
 */
PET_HD static PET_WORKER float pet_project_lor(const pet_projector_params *p,
                                           const pet_tof_kernel *tof, const pet_lor_batch *b,
                                           int64_t i, pet_image_params g,
                                           const float *PET_RESTRICT img_in, float *img_out,
                                           float back_val, int mode)
{
  const float *lor = b->lor + 6 * i;
  const float *orient = b->orient ? b->orient + 6 * i : 0;
  float tof_ps = b->tof_ps ? b->tof_ps[i] : 0.0f;
  if (p->kind == PET_PROJ_DD)
    return pet_dd_lor(lor, orient, p->crystal_size_trans, p->crystal_size_z, g, img_in, img_out,
                      back_val, mode, tof, tof_ps, p->fov_radius_mm, p->dd_centre_box);
  return pet_mrs_lor(lor, orient, p->num_rays, p->crystal_size_trans, p->crystal_size_z, g,
                     img_in, img_out, back_val, mode, tof, tof_ps, p->fov_radius_mm, 0);
}

/**
 * LOR i of batch b of a TOF histogram through projector p: its tb->n TOF bins in one walk
 * (b->tof_ps is not read). mode PET_WALK_FWD adds the n projections, times back_val (1 for the
 * plain projection), to tb->out[0..n); PET_WALK_BACK_* add sum_t a_ivt tb->in[t] times
 * back_val to img_out[v]. The weights a_ivt are those of pet_project_fwd_cpu with TOF bins.
 */
PET_HD static PET_WORKER void pet_project_lor_tofbins(const pet_projector_params *p,
                                                     const pet_tof_bins *tb,
                                                     const pet_lor_batch *b, int64_t i,
                                                     pet_image_params g,
                                                     const float *PET_RESTRICT img_in,
                                                     float *img_out, float back_val, int mode)
{
  const float *lor = b->lor + 6 * i;
  const float *orient = b->orient ? b->orient + 6 * i : 0;
  if (p->kind == PET_PROJ_DD)
    pet_dd_lor_tofbins(lor, orient, p->crystal_size_trans, p->crystal_size_z, g, img_in, img_out,
                       back_val, mode, p->fov_radius_mm, p->dd_centre_box, tb);
  else
    pet_mrs_lor(lor, orient, p->num_rays, p->crystal_size_trans, p->crystal_size_z, g, img_in,
                img_out, back_val, mode, 0, 0.0f, p->fov_radius_mm, tb);
}

#endif /* PET_PROJECTOR_KERNEL_H */
