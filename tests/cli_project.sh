#!/usr/bin/env bash
# petrel fwd / back / convert on the YRT-PET small fixture scanner: round trips, adjointness of
# the command-line projections, list-mode histogramming, clear errors. usage: PETREL FIXTURES
set -u
PETREL=$1
FIX=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
pass=0; fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
export OMP_NUM_THREADS=2
SC=$FIX/small/scanner.json
for f in small/scanner.json small/scanner.lut clinical/scanner.json clinical/scanner.lut; do
  [ -r "$FIX/$f" ] || { echo "FAIL: YRT-PET fixture $FIX/$f is missing (tests/fixtures/yrtpet/README.md)"; exit 1; }
done

"$PETREL" demo --quiet --counts 2e6 --iterations 1 --subsets 2 --out demo --save-data in > /dev/null 2>&1
check "demo inputs" test -s in/listmode.h5 -a -s demo/truth.nii.gz

# fwd of the truth, to .his and to .h5: same values
"$PETREL" fwd --scanner in/scanner.json --image demo/truth.nii.gz --out p.his --quiet
"$PETREL" fwd --scanner in/scanner.json --image demo/truth.nii.gz --out p.h5 --quiet
check "fwd writes .his and .h5" test -s p.his -a -s p.h5
"$PETREL" convert --scanner in/scanner.json --in p.h5 --out p2.his --quiet
check "fwd .h5 -> convert .his == fwd .his (byte for byte)" cmp -s p.his p2.his
"$PETREL" convert --scanner in/scanner.json --in p2.his --out p3.h5 --quiet
"$PETREL" convert --scanner in/scanner.json --in p3.h5 --out p4.his --quiet
check ".his -> .h5 -> .his round trip is byte-identical" cmp -s p.his p4.his

# list-mode: .h5 -> .lmDat -> .h5 -> histogram; histogramming equals the demo's counts
"$PETREL" convert --scanner in/scanner.json --in in/listmode.h5 --out lm.lmDat --quiet
"$PETREL" convert --scanner in/scanner.json --in lm.lmDat --out lm2.h5 --quiet
"$PETREL" convert --scanner in/scanner.json --in lm2.h5 --out lm3.lmDat --quiet
check ".lmDat -> .h5 -> .lmDat round trip is byte-identical" cmp -s lm.lmDat lm3.lmDat
"$PETREL" convert --scanner in/scanner.json --in lm.lmDat --out counts.his --quiet
"$PETREL" convert --scanner in/scanner.json --in in/data.h5 --out data.his --quiet
check "list-mode histogrammed == the histogram it was drawn from" cmp -s counts.his data.his

# back-projection of the histogram and of the list-mode of the same counts agree
"$PETREL" back --scanner in/scanner.json --data data.his --like demo/truth.nii.gz --out bh.nii.gz --quiet
"$PETREL" back --scanner in/scanner.json --data lm.lmDat --like demo/truth.nii.gz --out bl.nii.gz --quiet
check "back(histogram) == back(list-mode of it)" "$PETREL" diff bh.nii.gz bl.nii.gz --tol 1e-4

# the fixture scanner (with its LUT) works end to end
"$PETREL" fwd --scanner "$SC" --image demo/truth.nii.gz --out fix.his --projector DD --quiet
check "fwd with DD on the YRT-PET fixture scanner (LUT file)" test -s fix.his

# errors: clear, non-zero, nothing left behind
"$PETREL" fwd --scanner in/scanner.json --image /nonexistent.nii --out e1.his > e.log 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q nonexistent e.log && [ ! -e e1.his ]; then ok "missing image"; else bad "missing image rc=$rc"; fi
"$PETREL" fwd --scanner in/scanner.json --image demo/truth.nii.gz --out e2.txt > e.log 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q "e2.txt" e.log && [ ! -e e2.txt ]; then ok "bad output extension"; else bad "bad ext rc=$rc"; fi
"$PETREL" back --scanner "$FIX/clinical/scanner.json" --data data.his --out e3.nii > e.log 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q data.his e.log && [ ! -e e3.nii ]; then ok "histogram of another scanner rejected"; else bad "mismatch rc=$rc $(cat e.log)"; fi
head -c 1000 lm.lmDat > trunc.lmDat
"$PETREL" back --scanner in/scanner.json --data trunc.lmDat --out e4.nii > e.log 2>&1; rc=$?
if [ $rc -ne 0 ] && grep -q trunc.lmDat e.log && [ ! -e e4.nii ]; then ok "truncated list-mode rejected"; else bad "truncated rc=$rc $(cat e.log)"; fi
"$PETREL" fwd --scanner in/scanner.json --image demo/truth.nii.gz --out g.his --gpu > e.log 2>&1; rc=$?
if "$PETREL" info | grep -q 'device 0'; then
  check "fwd --gpu runs where a GPU is visible (values: test_gpu_*)" test $rc -eq 0 -a -s g.his
elif [ $rc -ne 0 ] && [ ! -e g.his ] && grep -qiE "cuda|device" e.log; then ok "--gpu without a GPU: clear error, no output";
else bad "--gpu without GPU rc=$rc $(cat e.log)"; fi

echo "cli_project: $pass passed, $fail failed"
[ $fail -eq 0 ]
