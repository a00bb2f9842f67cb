#!/usr/bin/env bash
# End-to-end tests of dynamic reconstruction: petrel demo --dynamic, petrel recon --frames with
# 1, 2 and 4 ranks (frames > ranks and ranks > frames), outside events logged, per-frame files,
# a YRT-PET .dyn framing file, the sidecar and the TAC outputs, refusals.
# usage: cli_dynamic.sh PETREL FIXTURES_DIR
set -u
PETREL=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
MPIRUN="mpirun --allow-run-as-root --oversubscribe"
export OMP_NUM_THREADS=1
# a build without MPI (PET_ENABLE_MPI=OFF) runs every process as rank 0 of 1: the results
# still agree, but the plan's multi-rank log lines are not there to check
NO_MPI=0
"$PETREL" info | grep -q "^mpi: none" && NO_MPI=1
check_ranks() { if [ "$NO_MPI" -eq 1 ]; then echo "skip (no MPI in this build): $1"; else check "$@"; fi; }

timeout 120 "$PETREL" demo --dynamic --events 2e5 --frames 4x15,2x30 --iterations 1 --subsets 2 --out d > demo.log 2>&1
check "demo --dynamic writes inputs and outputs" test -s d/listmode.h5 -a -s d/dynamic.nii.gz -a -s d/dynamic.json \
  -a -s d/dynamic_tac.csv -a -s d/dynamic_tac.png -a -s d/truth_tac.csv -a -s d/recon_dynamic.json
check "demo logs the plan" grep -q "frames >= ranks" demo.log
check "sidecar has BIDS frame timing" grep -q '"FrameTimesStart": \[0, 15, 30, 45, 60, 90\]' d/dynamic.json
check "sidecar has durations" grep -q '"FrameDuration": \[15, 15, 15, 15, 30, 30\]' d/dynamic.json
check "TAC CSV: header and one row per frame" test "$(head -1 d/dynamic_tac.csv)" = "frame,start_s,duration_s,mid_s,roi_1,roi_2,roi_3" -a "$(wc -l < d/dynamic_tac.csv)" = 7

run() { # run NP FRAMES OUT
  timeout 180 $MPIRUN -np "$1" "$PETREL" recon --config d/recon_dynamic.json --frames "$2" --frame_files true \
    --tac_mask "" --output "$3.nii.gz" > "$3.log" 2>&1
}
same() { # same A B N: frame files A_frame000.. == B_frame000..
  local i
  for ((i = 0; i < $3; ++i)); do
    f=$(printf "_frame%03d.nii.gz" "$i")
    "$PETREL" diff "$1$f" "$2$f" --tol 1e-5 > /dev/null || return 1
  done
}
# 5 frames leave 60-120 s out: frames > ranks at np 1, 2, 4
F5="0-10,10-20,20-30,30-45,45-60"
run 1 "$F5" a1; run 2 "$F5" a2; run 4 "$F5" a4
check "per-frame files written" test -s a1_frame000.nii.gz -a -s a1_frame004.nii.gz -a ! -e a1_frame005.nii.gz
check "frames > ranks: 2 ranks == 1 rank" same a1 a2 5
check "frames > ranks: 4 ranks == 1 rank" same a1 a4 5
check_ranks "4 ranks, 5 frames: plan says frames >= ranks" grep -q "5 frame(s) over 4 rank(s): frames >= ranks" a4.log
check "events outside every frame are counted in the log" grep -Eq "[1-9][0-9]* outside every frame \(ignored\)" a1.log
# 2 frames at np 4: groups of 2 ranks per frame
F2="0-40,40-120"
run 1 "$F2" b1; run 4 "$F2" b4
check "ranks > frames: 4 ranks == 1 rank" same b1 b4 2
check_ranks "4 ranks, 2 frames: plan says ranks > frames" grep -q "ranks > frames, so the ranks are split into 2 groups" b4.log
check "all events inside the frames: 0 outside" grep -q " 0 outside every frame" b1.log

# a YRT-PET framing file (ms) gives the same frames as the equivalent text
printf "0 40000\n120000\n" > f.dyn
run 1 "$T/f.dyn" c1
check ".dyn framing file == start-end text" same b1 c1 2

# refusals
timeout 60 "$PETREL" recon --config d/recon_dynamic.json --frames "0-10,5-20" --output x.nii.gz > e1.log 2>&1
check "overlapping frames are refused (exit 2)" test $? -eq 2
check "... with a message" grep -q "overlap" e1.log
"$PETREL" demo --save-data h --quiet --counts 1e4 --iterations 1 --subsets 1 --out hd > /dev/null 2>&1
timeout 60 "$PETREL" recon --config h/recon.json --frames 2x10 --output x.nii.gz > e2.log 2>&1
check "frames on a histogram are refused" test $? -ne 0
check "... with a message" grep -q "needs list-mode" e2.log

# on a GPU node: the GPU frames (sensitivity computed once on the device) equal the CPU ones
if "$PETREL" info | grep -q "device 0"; then
  timeout 180 "$PETREL" recon --config d/recon_dynamic.json --frames "$F5" --frame_files true --tac_mask "" \
    --output g1.nii.gz --gpu > g1.log 2>&1
  sameg() { local i; for ((i = 0; i < 5; ++i)); do f=$(printf "_frame%03d.nii.gz" "$i");
    "$PETREL" diff "a1$f" "g1$f" --tol 1e-3 || return 1; done; }
  check "GPU frames == CPU frames (1e-3)" sameg
fi

echo "cli_dynamic: $pass passed, $fail failed"
test "$fail" -eq 0
