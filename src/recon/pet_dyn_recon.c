#include "pet_dyn_recon.h"

#include <stdlib.h>
#include <string.h>

static pet_status run_frame(const pet_osem_data *tmpl, const pet_osem_opts *o, pet_image *const *sens,
                            const pet_dyn_opts *dy, const pet_dyn_source *src, int f, const pet_reducer *red,
                            float *add_buf, pet_image *x, int64_t *events, pet_image **gsens,
                            bool *gsens_ready)
{
  pet_osem_data d = *tmpl;
  d.histogram = NULL;
  PET_TRY(src->load(src->ctx, f, &d));
  pet_status st = PET_OK;
  if (tmpl->add && dy->add_duration_s > 0) {
    /* randoms + scatter in counts over the whole acquisition: this frame's share */
    const float s = (float)(dy->frames[f].duration_s / dy->add_duration_s);
    for (int64_t i = 0; i < tmpl->layout->num_bins; ++i) add_buf[i] = tmpl->add[i] * s;
    d.add = add_buf;
  }
  *events = d.lm_count < 0 ? pet_osem_data_num_events(&d) : d.lm_count;
  pet_osem_opts fo = *o;
  fo.reducer = red;
  fo.start_iteration = 0;
  fo.start_subset = 0;
  fo.should_stop = NULL;
  fo.on_interrupt = NULL;
  fo.on_iteration = NULL;
  st = pet_image_fill(x, 1.0f);
  /* the sensitivity is computed once: by the caller (sens), or on this rank's (group's) first
   * frame, by the frame's backend and over the group, then kept for the later ones */
  if (st == PET_OK && !(sens && sens[0]) && !*gsens_ready) {
    st = pet_osem_sensitivity(&d, &fo, gsens, 1);
    *gsens_ready = st == PET_OK;
  }
  if (st == PET_OK) st = pet_osem_run(&d, &fo, sens && sens[0] ? sens : gsens, x);
  if (src->release) src->release(src->ctx, f);
  if (st != PET_OK) return st;
  const float scale = (float)pet_dyn_frame_scale(&dy->frames[f], dy->half_life_s);
  for (int64_t v = 0; v < pet_image_num_voxels(x); ++v) x->data[v] *= scale;
  return PET_OK;
}

pet_status pet_dyn_reconstruct(pet_comm *comm, const pet_osem_data *tmpl, const pet_osem_opts *o,
                               pet_image *const *sens, const pet_dyn_opts *dy, const pet_dyn_source *src,
                               pet_image *const *out, pet_dyn_plan *plan_out)
{
  PET_CHECK(comm && tmpl && o && dy && src && src->load && out && dy->frames && dy->num_frames >= 1, PET_ERR_ARG,
            "dynamic: NULL argument");
  const int F = dy->num_frames;
  const int rank = pet_comm_rank(comm), size = pet_comm_size(comm);
  pet_dyn_plan plan;
  PET_TRY(pet_dyn_plan_make(F, size, rank, &plan));
  if (plan_out) *plan_out = plan;
  const pet_image_params ip = out[0]->params;
  const int64_t nv = pet_image_num_voxels(out[0]);
  pet_status st = PET_OK;
  pet_comm *group = NULL;
  pet_image *x = NULL, *gsens = NULL;
  bool gsens_ready = false;
  float *all = NULL, *add_buf = NULL;
  pet_reducer red;
  const pet_reducer *redp = NULL;

  if (plan.regime == PET_DYN_RANKS_PER_FRAME) {
    st = pet_comm_split(comm, plan.group, &group);
    PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
    red = pet_comm_reducer(group);
    redp = &red;
  }
  all = calloc((size_t)F * (size_t)nv, sizeof *all);
  if (all == NULL) st = PET_ERROR(PET_ERR_NOMEM, "dynamic: no memory for %d frames of %lld voxels", F, (long long)nv);
  if (st == PET_OK) st = pet_image_create_owned(&x, ip, PET_HOST);
  if (st == PET_OK && !(sens && sens[0])) st = pet_image_create_owned(&gsens, ip, PET_HOST);
  if (st == PET_OK && tmpl->add && dy->add_duration_s > 0)
    st = pet_histo_layout_check_array(tmpl->layout, sizeof(float), "dynamic: the per-frame additive term");
  if (st == PET_OK && tmpl->add && dy->add_duration_s > 0) {
    add_buf = malloc((size_t)tmpl->layout->num_bins * sizeof *add_buf);
    if (!add_buf) st = PET_ERROR(PET_ERR_NOMEM, "dynamic: no memory for the per-frame additive term");
  }
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);

  /* a group is collective within itself only: agree within the group per frame, and over
   * everyone once all frames are done (groups may have different amounts of work) */
  for (int f = 0; f < F; ++f) {
    if (!pet_dyn_plan_has_frame(&plan, f)) continue;
    const double t0 = pet_comm_wtime();
    int64_t events = 0;
    st = run_frame(tmpl, o, sens, dy, src, f, redp, add_buf, x, &events, &gsens, &gsens_ready);
    if (group) st = pet_comm_agree(group, st);
    if (st != PET_OK) break;
    if (plan.group_rank == 0) {
      memcpy(all + (size_t)f * (size_t)nv, x->data, (size_t)nv * sizeof(float));
      if (dy->on_frame) dy->on_frame(dy->cb_ctx, f, events, pet_comm_wtime() - t0);
    }
  }
  PET_TRY_GOTO(st, pet_comm_agree(comm, st), out);
  /* each frame is non-zero on exactly one rank (its group's rank 0): the sum is a gather */
  PET_TRY_GOTO(st, pet_comm_allreduce_sum(comm, all, (int64_t)F * nv, PET_HOST), out);
  for (int f = 0; f < F; ++f) memcpy(out[f]->data, all + (size_t)f * (size_t)nv, (size_t)nv * sizeof(float));
out:
  free(all);
  free(add_buf);
  pet_image_destroy(&x);
  pet_image_destroy(&gsens);
  pet_comm_finalize(&group);
  return st;
}
