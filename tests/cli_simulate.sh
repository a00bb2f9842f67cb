#!/usr/bin/env bash
# petrel simulate and petrel demo --total-body: the same events for a seed whatever the threads,
# the chunk size and the compression; another seed, other events; the file read back by the
# other commands; clear errors (exit 2) for bad flags. usage: PETREL FIXTURES
set -u
PETREL=$1
FIX=$2
ROOT=$(cd "$FIX/../../.." && pwd)
SC=$ROOT/config/examples/total_body.json
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
pass=0; fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
expect_rc() { local want=$1 what=$2; shift 2; "$@" > out.txt 2> err.txt; local rc=$?
  if [ "$rc" = "$want" ]; then ok "$what (exit $rc)"; else bad "$what: exit $rc, expected $want"; cat err.txt; fi; }
[ -r "$SC" ] || { echo "FAIL: $SC is missing"; exit 1; }

expect_rc 0 "simulate 30000 TOF events, 1 thread, chunks of 7000" \
  "$PETREL" simulate --events 30000 --tof --seed 5 --chunk 7000 --threads 1 --output a.h5
check "a progress bar on stderr, the summary on stdout" grep -q "30000/30000 events" err.txt
check "summary" grep -q "wrote 30000 events to a.h5" out.txt
expect_rc 0 "the same, 2 threads, one chunk, deflate 3" \
  "$PETREL" simulate --events 30000 --tof --seed 5 --threads 2 --compress 3 --output b.h5 --quiet
expect_rc 0 "another seed" "$PETREL" simulate --events 30000 --tof --seed 6 --output c.h5 --quiet
for f in a b c; do "$PETREL" convert --scanner "$SC" --in $f.h5 --out $f.lmDat --quiet || bad "convert $f.h5"; done
check "the same events for a seed (threads, chunks, compression): byte-identical .lmDat" cmp -s a.lmDat b.lmDat
check "another seed gives other events" test "$(cmp -s a.lmDat c.lmDat; echo $?)" = 1
check "16 bytes an event (time, d1, d2, TOF)" test "$(wc -c < a.lmDat)" = 480000
check "deflate makes the file smaller" test "$(wc -c < b.h5)" -lt "$(wc -c < a.h5)"
expect_rc 0 "petrel back reads the file on the total-body scanner" \
  "$PETREL" back --scanner "$SC" --data b.h5 --tof --out bp.nii.gz --grid 24,24,40,684,684,1938 --quiet
expect_rc 0 "--json: one JSON line" "$PETREL" simulate --events 1000 --output j.h5 --json --scanner small
check "JSON summary" grep -q '"event":"simulate","scanner":"MYSCANNER","events":1000' out.txt

expect_rc 2 "--events missing" "$PETREL" simulate --output x.h5
expect_rc 2 "--events -5" "$PETREL" simulate --events -5 --output x.h5
expect_rc 2 "--events 1.5" "$PETREL" simulate --events 1.5 --output x.h5
expect_rc 2 "--compress 10" "$PETREL" simulate --events 10 --compress 10 --output x.h5
check "names the flag" grep -q -- "--compress" err.txt
expect_rc 2 "--output with another extension" "$PETREL" simulate --events 10 --output x.txt
expect_rc 2 "--output in a missing folder" "$PETREL" simulate --events 10 --output no/such/x.h5
expect_rc 2 "--tof on a scanner without TOF" "$PETREL" simulate --events 10 --tof --scanner small --output x.h5
check "says why" grep -q "tofResolution_ps" err.txt
expect_rc 1 "--scanner missing.json" "$PETREL" simulate --events 10 --scanner missing.json --output x.h5
check "names the file" grep -q "missing.json" err.txt
expect_rc 2 "unknown flag" "$PETREL" simulate --events 10 --output x.h5 --bogus
check "nothing left behind by the failures" test ! -e x.h5

expect_rc 0 "demo --total-body --help" "$PETREL" demo --total-body --help
expect_rc 0 "demo --total-body, 20000 events" "$PETREL" demo --total-body --events 20000 --out tb --quiet
check "demo outputs" test -s tb/listmode.h5 -a -s tb/backprojection.nii.gz -a -s tb/montage.png
check "demo says what a reconstruction needs" grep -q "needs its sensitivity image" out.txt
expect_rc 2 "demo --total-body --sensitivity on another grid" \
  "$PETREL" demo --total-body --events 2000 --out tb2 --sensitivity bp.nii.gz --quiet
check "names the flag and both grids" grep -q -- "--sensitivity bp.nii.gz: grid 24x24x40" err.txt

echo "cli_simulate: $pass passed, $fail failed"
[ "$fail" = 0 ]
