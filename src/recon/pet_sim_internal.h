/* petrel (internal to the recon floor): what the event simulator (pet_event_sim.c) and the
 * Monte-Carlo scatter (pet_scatter_mc.c) share: a counter-based random stream keyed by
 * (seed, index), and the scanner's regular geometry with the crystal a ray reaches. */
#ifndef PET_SIM_INTERNAL_H
#define PET_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "pet_scanner.h"

#ifdef __cplusplus
extern "C" {
#endif

/* splitmix64: a counter-based stream per event (per photon pair) */
typedef struct pet_sim_rng {
  uint64_t state;
} pet_sim_rng;

static inline uint64_t pet_sim_mix(uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/** The stream of event `event` of a simulation seeded `seed`. */
static inline pet_sim_rng pet_sim_rng_of(uint64_t seed, uint64_t event)
{
  pet_sim_rng r;
  r.state = pet_sim_mix(pet_sim_mix(seed + 0x9E3779B97F4A7C15ull) ^
                        (event * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull));
  return r;
}

/** Uniform in [0, 1). */
static inline double pet_sim_uniform(pet_sim_rng *r)
{
  r->state += 0x9E3779B97F4A7C15ull;
  return (double)(pet_sim_mix(r->state) >> 11) * (1.0 / 9007199254740992.0);
}

/* The scanner's regular geometry, as pet_scanner_create lays out its LUT. */
typedef struct pet_sim_geom {
  double rc;        /* plane of the crystal centres: scanner_radius + crystal_depth / 2 */
  double dang;      /* angle between blocks */
  double block_len; /* crystals x crystal_size_trans */
  double half_fov, z_gap;
  int32_t num_blocks, dets_per_block, dets_per_ring, num_rings;
} pet_sim_geom;

pet_sim_geom pet_sim_geom_of(const pet_scanner_params *p);

/** The crystal that the ray from p along u (s > 0) reaches: the block whose centre angle is
 *  nearest the ray's crossing of the radius rc, then the crystal of that block's face plane it
 *  crosses. False through a gap between blocks, past either end of the axial FOV, along z, or
 *  from a point outside the radius rc. */
bool pet_sim_geom_hit(const pet_sim_geom *g, const double p[3], const double u[3], int32_t *det);

/* Monte-Carlo scatter physics (pet_scatter_mc.c), here for its tests. */
/** Klein-Nishina differential cross-section of a photon of energy k (units of m_e c^2) at
 *  scatter angle cos_t, in units of r_e^2 / 2 per steradian:
 *  eps^2 (eps + 1/eps - sin^2), eps = E'/E = 1 / (1 + k (1 - cos_t)). */
double pet_scatter_mc_kn(double k, double cos_t);
/** The cosine of a Compton scatter angle drawn from the Klein-Nishina distribution at k
 *  (rejection from a uniform cos_t, accepted with pet_scatter_mc_kn / 2). */
double pet_scatter_mc_kn_cos(pet_sim_rng *r, double k);
/** Water's total attenuation at e_kev relative to 511 keV (NIST XCOM mass attenuation,
 *  log-log interpolation; 1 at 511). */
double pet_scatter_mc_mu_ratio(double e_kev);

#ifdef __cplusplus
}
#endif
#endif /* PET_SIM_INTERNAL_H */
