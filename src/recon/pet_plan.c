#include "pet_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* [*lo, *hi) of n items for rank of size: contiguous, as equal as possible. */
static void share(int64_t n, int rank, int size, int64_t *lo, int64_t *hi)
{
  *lo = n * rank / size;
  *hi = n * (rank + 1) / size;
}

/* Histogram shares are whole z-bins (the same for every subset), so that a rank's data is one
 * contiguous range of bins in the file: [z0 * num_phi * num_r, z1 * num_phi * num_r). In
 * subset-local items: z-bins z0..z1 of the subset's (phi, r) per z-bin. */
static void histo_share(const pet_histo_layout *L, int rank, int size, int32_t S, int32_t s,
                        int64_t *lo, int64_t *hi)
{
  int64_t z0, z1;
  share(L->num_zbin, rank, size, &z0, &z1);
  const int64_t per_z = pet_histo_subset_size(L->num_phi, L->num_r, 1, S, s);
  *lo = z0 * per_z;
  *hi = z1 * per_z;
}

void pet_plan_rank_bins(const pet_histo_layout *L, int rank, int size, int64_t *first, int64_t *count)
{
  int64_t z0, z1;
  share(L->num_zbin, rank, size, &z0, &z1);
  *first = z0 * L->num_phi * L->num_r;
  *count = (z1 - z0) * L->num_phi * L->num_r;
}

void pet_plan_rank_events(int64_t num_events, int32_t S, int32_t s, int rank, int size, int64_t *first,
                          int64_t *count)
{
  int64_t beg, end, lo, hi;
  pet_listmode_subset_range(num_events, S, s, &beg, &end);
  share(end - beg, rank, size, &lo, &hi);
  *first = beg + lo;
  *count = hi - lo;
}

void pet_plan_rank_slab(int32_t nz, int rank, int size, int32_t *z0, int32_t *z1)
{
  *z0 = (int32_t)((int64_t)nz * rank / size);
  *z1 = (int32_t)((int64_t)nz * (rank + 1) / size);
}

void pet_plan_free(pet_plan *p)
{
  if (p == NULL) return;
  free(p->lo);
  free(p->hi);
  free(p->ev_base);
  free(p->sens_lo);
  free(p->sens_hi);
  free(p->slab_counts);
  memset(p, 0, sizeof *p);
}

pet_status pet_plan_make(pet_plan *p, const pet_osem_data *d, const pet_osem_opts *o,
                         const pet_image_params *g, int64_t bytes_per_item, int64_t budget_bytes)
{
  PET_CHECK(p != NULL && d != NULL && o != NULL && g != NULL, PET_ERR_ARG, "plan: NULL argument");
  memset(p, 0, sizeof *p);
  const pet_reducer *r = o->reducer;
  p->rank = r ? r->rank : 0;
  p->size = r && r->size > 0 ? r->size : 1;
  p->listmode = pet_osem_data_is_listmode(d);
  p->subsets = o->subsets;
  const pet_histo_layout *L = d->layout;
  const int64_t ev_first = p->listmode && d->lm_count >= 0 ? d->lm_first : 0;
  p->num_items = p->listmode ? (d->lm_count < 0 ? pet_osem_data_num_events(d) : d->lm_count) : L->num_bins;
  p->sens_subsets = p->listmode ? 1 : o->subsets;
  const size_t S = (size_t)o->subsets, SS = (size_t)p->sens_subsets;
  p->lo = calloc(S, sizeof(int64_t));
  p->hi = calloc(S, sizeof(int64_t));
  p->ev_base = calloc(S, sizeof(int64_t));
  p->sens_lo = calloc(SS, sizeof(int64_t));
  p->sens_hi = calloc(SS, sizeof(int64_t));
  p->slab_counts = calloc((size_t)p->size, sizeof(int64_t));
  if (!p->lo || !p->hi || !p->ev_base || !p->sens_lo || !p->sens_hi || !p->slab_counts) {
    pet_plan_free(p);
    return PET_ERROR(PET_ERR_NOMEM, "plan: out of memory");
  }
  for (int32_t s = 0; s < p->sens_subsets; ++s) {
    histo_share(L, p->rank, p->size, p->sens_subsets, s, &p->sens_lo[s], &p->sens_hi[s]);
    if (p->sens_hi[s] - p->sens_lo[s] > p->max_share) p->max_share = p->sens_hi[s] - p->sens_lo[s];
  }
  for (int32_t s = 0; s < o->subsets; ++s) {
    if (p->listmode) {
      int64_t beg, end;
      pet_listmode_subset_range(p->num_items, o->subsets, s, &beg, &end);
      share(end - beg, p->rank, p->size, &p->lo[s], &p->hi[s]);
      p->ev_base[s] = ev_first + beg;
    } else {
      histo_share(L, p->rank, p->size, o->subsets, s, &p->lo[s], &p->hi[s]);
    }
    if (p->hi[s] - p->lo[s] > p->max_share) p->max_share = p->hi[s] - p->lo[s];
  }
  /* batches: the budget's worth of items, else o->batch_lors; never more than a share */
  p->bytes_per_item = bytes_per_item;
  p->budget_bytes = budget_bytes;
  int64_t cap = o->batch_lors > 0 ? o->batch_lors : ((int64_t)1 << 20);
  if (budget_bytes > 0) {
    cap = bytes_per_item > 0 ? budget_bytes / bytes_per_item : cap;
    if (cap < 1) {
      pet_plan_free(p);
      return PET_ERROR(PET_ERR_ARG, "plan: a memory budget of %lld bytes holds no LOR (%lld bytes each); raise "
                       "--vram-budget", (long long)budget_bytes, (long long)bytes_per_item);
    }
  }
  p->batch_items = cap < p->max_share ? cap : (p->max_share > 0 ? p->max_share : 1);
  /* the slab update */
  p->slab = o->slab_update && p->size > 1 && r != NULL && r->reduce_scatter_sum != NULL &&
            r->allgather != NULL && o->psf_fwhm_mm <= 0;
  const int64_t plane = (int64_t)g->nx * g->ny;
  for (int rk = 0; rk < p->size; ++rk) {
    int32_t a, b;
    pet_plan_rank_slab(g->nz, rk, p->size, &a, &b);
    p->slab_counts[rk] = p->slab ? (int64_t)(b - a) * plane : (rk == 0 ? (int64_t)g->nz * plane : 0);
  }
  if (p->slab) {
    pet_plan_rank_slab(g->nz, p->rank, p->size, &p->z0, &p->z1);
  } else {
    p->z0 = 0;
    p->z1 = g->nz;
  }
  p->slab_offset = (int64_t)p->z0 * plane;
  return PET_OK;
}

void pet_plan_describe(const pet_plan *p, char *buf, size_t len)
{
  int64_t batches = 0;
  for (int32_t s = 0; s < p->subsets; ++s)
    batches += (p->hi[s] - p->lo[s] + p->batch_items - 1) / p->batch_items;
  snprintf(buf, len,
           "%d rank(s), %lld %s in %d subset(s), up to %lld per rank and pass, %lld-item batches "
           "(%lld per iteration on rank %d), %s",
           p->size, (long long)p->num_items, p->listmode ? "events" : "bins", p->subsets,
           (long long)p->max_share, (long long)p->batch_items, (long long)batches, p->rank,
           p->slab ? "slab update (reduce-scatter, each rank its z-slab, allgather)" : "allreduce update");
}
