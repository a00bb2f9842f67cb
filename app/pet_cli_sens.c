/* The sensitivity for the subcommands, with progress lines: pet_osem_sensitivity agrees on a
 * status after every subset, so a reducer that forwards to the real one and counts those calls
 * reports progress without a hook in the library. Sensitivity-only data (no counts) is computed
 * in chunks (as subsets, whose images sum to the whole A^T m) so that a long run reports too. */
#include <stdlib.h>
#include <string.h>

#include "pet_cli_signal.h"
#include "pet_cli_util.h"

typedef struct counting_reducer {
  const pet_reducer *inner;
  pet_cli_eta eta;
  int64_t done, total;
  bool report;
} counting_reducer;

static pet_status count_agree(void *ctx, pet_status local)
{
  counting_reducer *c = ctx;
  ++c->done;
  if (c->report) pet_cli_eta_report(&c->eta, c->done, c->total);
  return c->inner && c->inner->agree ? c->inner->agree(c->inner->ctx, local) : local;
}

static pet_status count_sum(void *ctx, float *buf, int64_t n, pet_memspace space)
{
  counting_reducer *c = ctx;
  return c->inner && c->inner->allreduce_sum ? c->inner->allreduce_sum(c->inner->ctx, buf, n, space) : PET_OK;
}

enum { SENS_CHUNKS = 8 };

pet_status pet_cli_sensitivity(const pet_osem_data *d, const pet_osem_opts *o, pet_image **sens, int nsens,
                               const pet_config *cfg, int rank)
{
  counting_reducer cr;
  memset(&cr, 0, sizeof cr);
  cr.inner = o->reducer;
  cr.report = rank == 0;
  (void)pet_cli_batch_cb(&cr.eta, "sensitivity", "subsets", cfg->quiet && !cfg->json_lines, cfg->json_lines);
  pet_reducer r;
  memset(&r, 0, sizeof r);
  r.ctx = &cr;
  r.rank = o->reducer ? o->reducer->rank : 0;
  r.size = o->reducer ? o->reducer->size : 1;
  r.allreduce_sum = count_sum;
  r.agree = count_agree;
  pet_osem_opts oc = *o;
  oc.reducer = &r;
  const bool chunk = nsens == 1 && !d->histogram && !d->listmode;
  if (!chunk) {
    cr.total = nsens;
    return pet_osem_sensitivity(d, &oc, sens, nsens);
  }
  pet_image *part[SENS_CHUNKS];
  memset(part, 0, sizeof part);
  pet_status st = PET_OK;
  for (int k = 0; k < SENS_CHUNKS && st == PET_OK; ++k) st = pet_image_create_owned(&part[k], sens[0]->params, PET_HOST);
  oc.subsets = SENS_CHUNKS;
  cr.total = SENS_CHUNKS;
  cr.eta.unit = "parts";
  if (st == PET_OK) st = pet_osem_sensitivity(d, &oc, part, SENS_CHUNKS);
  if (st == PET_OK) {
    const int64_t nv = pet_image_num_voxels(sens[0]);
    float *out = sens[0]->data;
    for (int64_t v = 0; v < nv; ++v) {
      float sum = 0.0f;
      for (int k = 0; k < SENS_CHUNKS; ++k) sum += part[k]->data[v];
      out[v] = sum;
    }
  }
  for (int k = 0; k < SENS_CHUNKS; ++k) pet_image_destroy(&part[k]);
  return st;
}
