#!/usr/bin/env bash
# Signals: SIGINT/SIGTERM/SIGUSR1 stop petrel recon at a subset boundary with a checkpoint (the
# default <output>.ckpt.h5) and the exact --resume command, which continues bit for bit; a second
# signal exits at once (130) leaving no output and no temporary file; sens, fwd, back and the demo
# stop within 2 s with 128+signal and no output; under mpirun every rank exits 3.
# usage: cli_signals.sh PETREL FIXTURES_DIR
set -u
PETREL=$(readlink -f "$1")
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
now() { date +%s%3N; } # milliseconds (bash arithmetic: no bc needed)
# waits (at most 30 s) until file $1 contains the regex $2
wait_for() { for _ in $(seq 1 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
no_temps() { [ -z "$(find . -name '*.tmp*' -print -quit)" ]; }

timeout 120 "$PETREL" demo --quiet --counts 3e6 --iterations 2 --subsets 4 --out demo --save-data in > demo.log 2>&1
check "demo inputs" test -s in/data.h5 -a -s in/recon.json
timeout 120 "$PETREL" recon --config in/recon.json --iterations 4 --output full.nii.gz --quiet
check "uninterrupted reference" test -s full.nii.gz

# Ctrl-C without a "checkpoint" field: checkpoint at <output>.ckpt.h5, exit 3, the --resume command
"$PETREL" recon --config in/recon.json --iterations 4 --output int.nii.gz > int.log 2>&1 &
pid=$!
wait_for int.log "subset 2/"
kill -INT $pid; wait $pid; rc=$?
if [ $rc -eq 0 ]; then ok "recon finished before SIGINT arrived (machine too fast)"; else
  check "SIGINT: exit 3 (rc=$rc)" test $rc -eq 3
  check "SIGINT: checkpoint at the default <output>.ckpt.h5" test -s int.nii.gz.ckpt.h5
  check "SIGINT: no output image" test ! -e int.nii.gz
  check "SIGINT: no temporary file left" no_temps
  cmd=$(grep -A1 "to continue from the checkpoint" int.log | tail -1)
  check "SIGINT: the message gives the --resume command ($cmd)" grep -q -- "--resume$" <<< "$cmd"
  eval "timeout 120 $cmd --quiet" > resume.log 2>&1
  check "the printed --resume command continues to the end" test -s int.nii.gz
  check "resumed after SIGINT == uninterrupted (bit for bit)" "$PETREL" diff full.nii.gz int.nii.gz --tol 0
  check "checkpoint removed after the resumed run" test ! -e int.nii.gz.ckpt.h5
fi

# a second Ctrl-C exits at once with 130: no output, no save_every image, no temporary file
# (one subset per iteration: it lasts long enough for both signals to land inside it)
"$PETREL" recon --config in/recon.json --iterations 6 --subsets 1 --save_every 1 --output two.nii.gz > two.log 2>&1 &
pid=$!
for _ in $(seq 1 2400); do [ -e two_it1.nii.gz ] && break; sleep 0.05; done
kill -INT $pid; sleep 0.2; kill -INT $pid; wait $pid; rc=$?
if [ $rc -eq 0 ]; then ok "recon finished before the signals (machine too fast)"; else
  check "second SIGINT: exit 130 (rc=$rc)" test $rc -eq 130
  check "second SIGINT: no output, no save_every image" test ! -e two.nii.gz -a ! -e two_it1.nii.gz
  check "second SIGINT: no temporary file" no_temps
fi

# a failed run leaves none of its save_every images: once fail_it1 is written, a folder takes the
# output's name, so only the last write fails
"$PETREL" recon --config in/recon.json --iterations 4 --subsets 1 --save_every 1 --output fail.nii.gz > fail.log 2>&1 &
pid=$!
for _ in $(seq 1 2400); do [ -e fail_it1.nii.gz ] && break; sleep 0.05; done
mkdir fail.nii.gz
wait $pid; rc=$?
check "a run whose output cannot be written fails (rc=$rc)" test $rc -eq 1
check "... and its save_every images are removed" test ! -e fail_it1.nii.gz -a ! -e fail_it2.nii.gz
check "... and no temporary file is left" no_temps
check "... and its error is printed once" test "$(grep -c 'error:' fail.log)" -eq 1

# sens: SIGTERM exits within 2 s with 143, no output (a slow projector makes the work long)
"$PETREL" sens --config in/recon.json --projector MRS --num_rays 32 --save_sensitivity sens.nii.gz > sens.log 2>&1 &
pid=$!
wait_for sens.log "ETA"
check "sens: progress with an ETA on long work" grep -q "sensitivity: .*ETA" sens.log
t0=$(now); kill -TERM $pid; wait $pid; rc=$?; dt=$(( $(now) - t0 ))
if [ $rc -eq 0 ]; then ok "sens finished before SIGTERM (machine too fast)"; else
  check "sens: SIGTERM exits 143 (rc=$rc) within 2 s (${dt} ms)" test $rc -eq 143 -a "$dt" -lt 2000
  check "sens: no output, no temporary file" test ! -e sens.nii.gz
  check "sens: no temporary file" no_temps
fi

# fwd: progress lines with an ETA, then SIGTERM: exit 143 within 2 s, no output
"$PETREL" fwd --scanner in/scanner.json --image demo/truth.nii.gz --projector MRS --num_rays 32 --out slow.h5 > fwd.log 2>&1 &
pid=$!
wait_for fwd.log "ETA"
check "fwd: progress with an ETA on long work" grep -q "fwd: .*ETA" fwd.log
t0=$(now); kill -TERM $pid; wait $pid; rc=$?; dt=$(( $(now) - t0 ))
if [ $rc -eq 0 ]; then ok "fwd finished before SIGTERM (machine too fast)"; else
  check "fwd: SIGTERM exits 143 (rc=$rc) within 2 s (${dt} ms)" test $rc -eq 143 -a "$dt" -lt 2000
  check "fwd: no output" test ! -e slow.h5
  check "fwd: no temporary file" no_temps
fi

# back: the same
"$PETREL" back --scanner in/scanner.json --data in/data.h5 --projector MRS --num_rays 32 --out slowb.nii.gz > back.log 2>&1 &
pid=$!
sleep 1.5
t0=$(now); kill -TERM $pid; wait $pid; rc=$?; dt=$(( $(now) - t0 ))
if [ $rc -eq 0 ]; then ok "back finished before SIGTERM (machine too fast)"; else
  check "back: SIGTERM exits 143 (rc=$rc) within 2 s (${dt} ms)" test $rc -eq 143 -a "$dt" -lt 2000
  check "back: no output, no temporary file" test ! -e slowb.nii.gz
fi

# the clinical demo prints progress while it simulates, and a signal stops it with no outputs
"$PETREL" demo --clinical --out cdemo --save-data cin > cdemo.log 2>&1 &
pid=$!
wait_for cdemo.log "simulating.*ETA"
check "clinical demo: progress with an ETA during the simulation" grep -q "demo: simulating: .*ETA" cdemo.log
t0=$(now); kill -TERM $pid; wait $pid; rc=$?; dt=$(( $(now) - t0 ))
check "demo: SIGTERM exits 143 (rc=$rc) within 2 s (${dt} ms)" test $rc -eq 143 -a "$dt" -lt 2000
check "demo: no outputs, no temporary file" test -z "$(ls cdemo cin 2>/dev/null)"
check "demo: no temporary file" no_temps

# under mpirun: SIGUSR1 (forwarded to every rank) stops every rank with 3, so mpirun returns 3
# (a build without MPI runs each process as rank 0 of 1: there is no rank 1 to check)
if "$PETREL" info | grep -q "^mpi: none"; then
  echo "skip (no MPI in this build): mpirun checks"
else
$MPIRUN -np 2 "$PETREL" recon --config in/recon.json --iterations 4 --output m.nii.gz > m.log 2>&1 &
pid=$!
wait_for m.log "subset 2/"
kill -USR1 $pid; wait $pid; rc=$?
if [ $rc -eq 0 ]; then ok "mpirun finished before SIGUSR1 (machine too fast)"; else
  check "mpirun: a signal stop returns 3 (rc=$rc)" test $rc -eq 3
  check "mpirun: rank 1 says the stop came from a signal" grep -q "petrel\[1\]: stopped by a signal on rank 0" m.log
  check "mpirun: no empty 'rank 0 failed' message" test -z "$(grep 'failed: *$' m.log)"
  check "mpirun: checkpoint written" test -s m.nii.gz.ckpt.h5
fi
fi

echo "cli_signals: $pass passed, $fail failed"
[ $fail -eq 0 ]
