/* The config's regularisation fields -> the OSEM engine's options (one place, called by the
 * command's option mapping). */
#include "pet_config.h"
#include "pet_osem_backend.h"

pet_status pet_config_apply_prior(const pet_config *cfg, pet_osem_opts *o)
{
  PET_CHECK(cfg != NULL && o != NULL, PET_ERR_ARG, "pet_config_apply_prior: NULL argument");
  o->algorithm = cfg->algorithm;
  o->prior.kind = cfg->prior;
  o->prior.beta = (float)cfg->beta;
  o->prior.gamma = (float)cfg->gamma;
  o->prior.epsilon = (float)cfg->epsilon;
  o->relaxation = (float)cfg->relaxation;
  o->relaxation_eta = (float)cfg->relaxation_eta;
  return pet_prior_params_check(&o->prior);
}
