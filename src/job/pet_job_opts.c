/* The config -> OSEM mapping of a job: which pet_osem_data the inputs make, and the one
 * function that turns config fields into pet_osem_opts (keep new fields here). */
#include <string.h>

#include "pet_fov.h"
#include "pet_job_inputs.h"

void pet_job_osem_data(const pet_job_inputs *in, pet_osem_data *d)
{
  memset(d, 0, sizeof *d);
  d->scanner = in->scanner;
  d->layout = in->layout;
  d->histogram = in->kind == PET_KIND_HISTOGRAM ? in->histogram : NULL;
  d->listmode = in->kind == PET_KIND_LISTMODE && !in->streamed ? in->listmode : NULL;
  d->lm_source = in->kind == PET_KIND_LISTMODE && in->streamed ? &in->lm_src : NULL;
  d->mult = in->mult;
  d->add = in->add;
  d->lm_count = -1;
}

pet_status pet_job_osem_opts(const pet_config *cfg, const pet_scanner *s, pet_osem_opts *o)
{
  *o = pet_osem_opts_default();
  o->iterations = cfg->iterations;
  o->subsets = cfg->subsets;
  /* the config's projector is already parsed: map it, no round trip through its name */
  o->proj.kind = cfg->projector == PET_CONFIG_PROJ_DD ? PET_PROJ_DD : PET_PROJ_SIDDON;
  o->proj.num_rays = cfg->projector == PET_CONFIG_PROJ_MRS ? (cfg->num_rays > 1 ? cfg->num_rays : 4) : 1;
  o->proj.crystal_size_trans = s->params.crystal_size_trans;
  o->proj.crystal_size_z = s->params.crystal_size_z;
  pet_projector_params_set_fov(&o->proj, &s->params);
  o->proj.tof = cfg->tof ? 1 : 0;
  o->proj.tof_fwhm_ps = s->params.tof_fwhm_ps;
  o->proj.tof_n_sigmas = (float)cfg->tof_n_sigmas;
  o->proj.num_threads = cfg->threads;
  o->psf_fwhm_mm = (float)cfg->psf_fwhm_mm;
  o->gpu = cfg->gpu; /* the device index comes from the communicator (pet_comm_setup_gpu) */
  o->vram_budget_bytes = cfg->vram_budget_mb * 1024 * 1024;
  PET_TRY(pet_config_apply_prior(cfg, o));
  o->lm_window_events = cfg->lm_window_events; /* streamed list-mode only; 0: the library's default */
  if (cfg->tof)
    PET_CHECK(s->params.tof_fwhm_ps > 0, PET_ERR_CONFIG,
              "field \"tof\": the scanner (%s) has no TOF resolution (tofResolution_ps)", s->params.name);
  return pet_projector_params_check(&o->proj);
}
