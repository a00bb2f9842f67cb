#!/usr/bin/env bash
# Strong and weak scaling of `petrel recon` over CPU ranks (host MPI path), driving the CLI
# with --json under mpirun. Prints one JSON line per run: time per iteration, its split into
# the phases that pet_osem_progress reports (project, reduce, update, gather; summed over the
# subsets of an iteration, slowest phases as rank 0 saw them), the I/O and sensitivity time
# of the run, and the efficiency:
#   strong (fixed data):      E(N) = t(1) / (N t(N))
#   weak (events ∝ ranks):    E(N) = t(1) / t(N)
# Data: list-mode from `petrel demo` (its work is exactly proportional to the events).
# usage: bench/scaling.sh PETREL [MAX_RANKS=4] > scaling.jsonl
#   env: EVENTS (strong, default 1e6), EVENTS_PER_RANK (weak, default 5e5), ITERATIONS (2),
#        SUBSETS (4), REDUCE ("allreduce slab"), THREADS (OMP_NUM_THREADS per rank, 1),
#        REPEAT (3: each point is the fastest of REPEAT runs, against other load on the machine),
#        MODES ("strong weak")
set -euo pipefail
PETREL=$(readlink -f "${1:?usage: bench/scaling.sh PETREL [MAX_RANKS]}")
MAX=${2:-4}
EVENTS=${EVENTS:-1e6}
EVENTS_PER_RANK=${EVENTS_PER_RANK:-5e5}
ITERATIONS=${ITERATIONS:-2}
SUBSETS=${SUBSETS:-4}
REDUCE=${REDUCE:-allreduce slab}
REPEAT=${REPEAT:-3}
MODES=${MODES:-strong weak}
cores=$(nproc --all) # before OMP_NUM_THREADS is set: nproc honours it
export OMP_NUM_THREADS=${THREADS:-1}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=${MPIRUN:-mpirun --allow-run-as-root --oversubscribe --bind-to none}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

make_data() { # counts dir
  "$PETREL" demo --quiet --counts "$1" --iterations 1 --subsets 1 --out "$2/demo" --save-data "$2" > "$2.log" 2>&1
}

# one point: the fastest of REPEAT runs (mode ranks counts dir reduce) -> a JSON line
run() {
  for ((r = 0; r < REPEAT; ++r)); do run_once "$@"; done |
    python3 -c 'import json, sys; print(json.dumps(min((json.loads(l) for l in sys.stdin), key=lambda d: d["iter_s"])))'
}

run_once() {
  local mode=$1 n=$2 counts=$3 dir=$4 reduce=$5
  $MPIRUN -np "$n" "$PETREL" recon --config "$dir/recon.json" --data "$dir/listmode.h5" \
    --iterations "$ITERATIONS" --subsets "$SUBSETS" --output "$T/out.nii.gz" --json --reduce "$reduce" \
    > "$T/run.jsonl" 2> "$T/run.err"
  python3 - "$mode" "$n" "$counts" "$reduce" "$cores" "$OMP_NUM_THREADS" "$T/run.jsonl" << 'EOF'
import json, sys
mode, n, counts, reduce, cores, threads, path = sys.argv[1:]
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
iters = done["iterations"]
phase = lambda k: sum(s[k] for s in subs) / iters
print(json.dumps({
    "bench": "scaling", "mode": mode, "ranks": int(n), "reduce": reduce, "events": int(float(counts)),
    "cores": int(cores), "threads_per_rank": int(threads), "image": layout.get("image"),
    "iterations": iters, "subsets": done["subsets"],
    "iter_s": round(done["osem_s"] / iters, 5),
    "project_s": round(phase("project_s"), 5), "reduce_s": round(phase("reduce_s"), 5),
    "update_s": round(phase("update_s"), 5), "gather_s": round(phase("gather_s"), 5),
    "io_s": done["io_s"], "sens_s": done["sens_s"], "total_s": done["seconds"]}))
EOF
}

ranks=()
for ((n = 1; n <= MAX; n *= 2)); do ranks+=("$n"); done

mkdir -p "$T/strong"
[[ " $MODES " == *" strong "* ]] && make_data "$EVENTS" "$T/strong"
for reduce in $REDUCE; do
  for n in "${ranks[@]}"; do
    [[ " $MODES " == *" strong "* ]] || continue
    [ "$n" = 1 ] && [ "$reduce" != allreduce ] && continue
    run strong "$n" "$EVENTS" "$T/strong" "$reduce"
  done
  for n in "${ranks[@]}"; do
    [[ " $MODES " == *" weak "* ]] || continue
    counts=$(python3 -c "print('%g' % ($EVENTS_PER_RANK * $n))")
    [ -d "$T/weak$n" ] || { mkdir -p "$T/weak$n" && make_data "$counts" "$T/weak$n"; }
    [ "$n" = 1 ] && [ "$reduce" != allreduce ] && continue
    run weak "$n" "$counts" "$T/weak$n" "$reduce"
  done
done | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
base = {r["mode"]: r["iter_s"] for r in rows if r["ranks"] == 1}
for r in rows:
    t1 = base[r["mode"]]
    r["efficiency"] = round(t1 / (r["ranks"] * r["iter_s"]) if r["mode"] == "strong" else t1 / r["iter_s"], 3)
    print(json.dumps(r))
'
