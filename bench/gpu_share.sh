#!/usr/bin/env bash
# N ranks sharing one GPU (issue 16): `mpirun -np N petrel recon --gpu` on one device, the
# ranks' back projections summed through host MPI (NCCL needs one GPU per rank), timed against
# 1 rank, with the image compared. Data: TOF list-mode of the clinical scanner (the fixture's
# geometry with a 400 ps TOF resolution) written by `petrel simulate`; the sensitivity is
# computed once (petrel sens --gpu) and given to every run, so the runs time OSEM alone.
# Prints one JSON line per rank count: seconds per iteration (osem_s / iterations), the
# per-subset phases summed over an iteration (project, reduce, update; rank 0's), the events/s,
# and the relative L2 difference of the image to the 1-rank one (petrel diff).
# usage: bench/gpu_share.sh PETREL [RANKS="1 2 4"] > share.jsonl
#   env: EVENTS (1e8), ITERATIONS (1), SUBSETS (12), REDUCE (allreduce), STREAM (true),
#        GPU (true; false runs the same on CPU ranks)
set -euo pipefail
PETREL=$(readlink -f "${1:?usage: bench/gpu_share.sh PETREL [RANKS]}")
RANKS=${2:-1 2 4}
EVENTS=${EVENTS:-1e8}
ITERATIONS=${ITERATIONS:-1}
SUBSETS=${SUBSETS:-12}
REDUCE=${REDUCE:-allreduce}
STREAM=${STREAM:-true}
GPU=${GPU:-true}
HERE=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=${MPIRUN:-mpirun --allow-run-as-root --oversubscribe --bind-to none}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# the clinical fixture's geometry (its LUT is the generated one), with TOF
python3 - "$HERE/tests/fixtures/yrtpet/clinical/scanner.json" "$T/scanner.json" << 'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
s.pop("detCoord", None)
s["tofResolution_ps"] = 400.0
json.dump(s, open(sys.argv[2], "w"), indent=1)
EOF
"$PETREL" simulate --scanner "$T/scanner.json" --tof --events "$EVENTS" --output "$T/lm.h5" --quiet
cat > "$T/recon.json" << EOF
{"scanner": "$T/scanner.json", "tof": true, "gpu": $GPU,
 "iterations": $ITERATIONS, "subsets": $SUBSETS, "stream": $STREAM}
EOF
"$PETREL" sens --config "$T/recon.json" --save_sensitivity "$T/sens.nii.gz" --quiet

for n in $RANKS; do
  $MPIRUN -np "$n" "$PETREL" recon --config "$T/recon.json" --sensitivity "$T/sens.nii.gz" --data "$T/lm.h5" \
    --output "$T/out$n.nii.gz" --reduce "$REDUCE" --json > "$T/run$n.jsonl" 2> "$T/run$n.err" ||
    { cat "$T/run$n.err" >&2; exit 1; }
  diff=0
  if [ "$n" != "$(echo $RANKS | cut -d' ' -f1)" ]; then
    diff=$("$PETREL" diff "$T/out$(echo $RANKS | cut -d' ' -f1).nii.gz" "$T/out$n.nii.gz" 2>&1 |
      awk '$1 == "relative_l2" { print $2 }')
  fi
  python3 - "$n" "$EVENTS" "$REDUCE" "$diff" "$GPU" "$T/run$n.jsonl" << 'EOF'
import json, sys
n, events, reduce, diff, gpu, path = sys.argv[1:]
subs, done, layout = [], None, {}
for line in open(path):
    if not line.startswith("{"):
        continue
    d = json.loads(line)
    if d.get("event") == "subset":
        subs.append(d)
    elif d.get("event") == "done":
        done = d
    elif d.get("event") == "layout":
        layout = d
it = done["iterations"]
ph = lambda k: round(sum(s.get(k, 0.0) for s in subs) / it, 4)
t = done["osem_s"] / it
print(json.dumps({"bench": "gpu_share", "ranks": int(n), "gpus": 1 if gpu == "true" else 0, "reduce": reduce,
                  "events": int(float(events)), "image": layout.get("image"), "iterations": it,
                  "subsets": done["subsets"], "iter_s": round(t, 4), "events_per_s": float("%.3g" % (float(events) / t)),
                  "project_s": ph("project_s"), "reduce_s": ph("reduce_s"), "update_s": ph("update_s"),
                  "read_wait_s": ph("read_wait_s"), "rel_l2_vs_first": float(diff)}))
EOF
done
