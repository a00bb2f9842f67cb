#!/usr/bin/env bash
# The floors of petrel's tree, lowest first: a file may include headers of its own floor and
# the floors below it, never above (core < kernels < gpu < mpi < io < recon < config < job < app).
# Each folder's own headers are already invisible to the floors below it (CMake: a floor
# links only the floors under it); this checks the public headers in include/petrel/, which
# every floor sees, by the floor each one belongs to. Usage: check_layering.sh [source root]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
declare -A floor_of=(
  [core]=0 [kernels]=1 [gpu]=2 [mpi]=3 [io]=4 [recon]=5 [config]=6 [job]=7 [app]=8 [python]=8)
# the floor of each public header
declare -A header_floor=(
  [pet_status.h]=0 [pet_image.h]=0 [pet_scanner.h]=0 [pet_histogram.h]=0 [pet_listmode.h]=0
  [pet_hd.h]=0 [pet_devmem.h]=0 [pet_reducer.h]=0 [pet_version.h]=0 [pet_progress.h]=0
  [pet_storage.h]=0 [pet_bin_map.h]=0
  [pet_projector.h]=1 [pet_osem_backend.h]=1 [pet_fov.h]=1 [pet_prior.h]=1
  [pet_gpu.h]=2
  [pet_comm.h]=3
  [pet_nifti.h]=4 [pet_png.h]=4 [pet_yrt_io.h]=4 [pet_h5.h]=4
  [pet_osem.h]=5 [pet_plan.h]=5 [pet_recon.h]=5 [pet_dynamic.h]=5 [pet_phantom.h]=5
  [pet_simulate.h]=5 [pet_dyn_recon.h]=5 [pet_project_batch.h]=5 [pet_scatter.h]=5
  [pet_config.h]=6 [pet_job.h]=7 [petrel.h]=8)
declare -A dir_floor=(
  [src/core]=0 [src/kernels]=1 [gpu]=2 [mpi]=3 [src/io]=4 [src/recon]=5 [config]=6 [src/job]=7 [app]=8
  [python]=8)
names=(core kernels gpu mpi io recon config job app)
bad=0
for h in "$root"/include/petrel/*.h "$root"/include/petrel/*.h.in; do
  b=$(basename "$h" .in)
  if [ -z "${header_floor[$b]+x}" ]; then
    echo "layering: include/petrel/$b has no floor in tests/check_layering.sh"; bad=1
  fi
done
check_file() { # file, its floor
  local f=$1 fl=$2 inc dd
  while read -r inc; do
    local hf=""
    if [ -n "${header_floor[$inc]+x}" ]; then hf=${header_floor[$inc]}
    else
      for dd in "${!dir_floor[@]}"; do
        [ -f "$root/$dd/$inc" ] && { hf=${dir_floor[$dd]}; break; }
      done
    fi
    [ -z "$hf" ] && continue # a system header or a file of the same folder not found elsewhere
    if [ "$hf" -gt "$fl" ]; then
      echo "layering: ${f#$root/} (floor ${names[$fl]}) includes $inc (floor ${names[$hf]})"; bad=1
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
}
for d in "${!dir_floor[@]}"; do
  for f in "$root/$d"/*.c "$root/$d"/*.h "$root/$d"/*.cu "$root/$d"/*.cuh; do
    [ -f "$f" ] && check_file "$f" "${dir_floor[$d]}"
  done
done
for h in "$root"/include/petrel/*.h; do check_file "$h" "${header_floor[$(basename "$h")]}"; done
[ "$bad" -eq 0 ] && echo "layering: ok (every include points down or sideways)"
exit "$bad"
