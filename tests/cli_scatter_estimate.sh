#!/usr/bin/env bash
# The petrel command with scatter = "estimate": recon logs each estimate and writes the final
# one (scatter_output), petrel scatter writes an estimate from an image, the estimate reads back
# as a per-bin scatter file, and bad inputs exit 2 naming the field (nothing written).
# usage: cli_scatter_estimate.sh PETREL FIXTURES_DIR
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
export OMP_NUM_THREADS=2

timeout 300 "$PETREL" demo --quiet --counts 3e5 --iterations 1 --subsets 4 --out demo --save-data in > demo.log 2>&1
check "demo writes its inputs" test -s in/data.h5 -a -s in/mu.nii.gz
# the demo's config gives per-bin attenuation: replace it by the mu-map
sed 's/"attenuation": "data.h5",/"attenuation_image": "mu.nii.gz", "scatter": "estimate", "scatter_iterations": 1,/' \
  in/recon.json > in/sss.json
timeout 600 "$PETREL" recon --config in/sss.json --iterations 2 --subsets 4 --output sss.nii.gz \
  --scatter_output sss_scatter.h5 > sss.log 2>&1; rc=$?
check "recon with scatter estimate exits 0 (rc=$rc)" test $rc -eq 0
check "recon logs the estimate" grep -q "scatter estimate after iteration 1: scale" sss.log
check "recon writes the image and the estimate" test -s sss.nii.gz -a -s sss_scatter.h5
timeout 600 "$PETREL" scatter --config in/sss.json --image sss.nii.gz --output est.h5 > sc.log 2>&1; rc=$?
check "petrel scatter exits 0 (rc=$rc)" test $rc -eq 0
check "petrel scatter writes the estimate" test -s est.h5
sed 's/"attenuation": "data.h5",/"attenuation_image": "mu.nii.gz",/' in/recon.json > in/given.json
timeout 600 "$PETREL" recon --config in/given.json --scatter "$PWD/est.h5" --iterations 1 --output given.nii.gz \
  --quiet > given.log 2>&1; rc=$?
check "the estimate reads back as field scatter (rc=$rc)" test $rc -eq 0 -a -s given.nii.gz

# list-mode (the demo's listmode.h5 holds the histogram's counts as events): the events are binned
# for the tail fit, so the estimate from the same image has the same scale
sed 's/"data": "data.h5"/"data": "listmode.h5"/' in/sss.json > in/sss_lm.json
timeout 600 "$PETREL" scatter --config in/sss.json --image sss.nii.gz --output h.h5 > sh.log 2>&1
timeout 600 "$PETREL" scatter --config in/sss_lm.json --image sss.nii.gz --output l.h5 > sl.log 2>&1; rc=$?
sh=$(grep -o "scale [^ ]*" sh.log); sl=$(grep -o "scale [^ ]*" sl.log)
if [ $rc -eq 0 ] && [ -n "$sh" ] && [ "$sh" = "$sl" ] && [ -s l.h5 ]; then ok "list-mode estimate: $sl == histogram's";
else bad "list-mode estimate: rc=$rc '$sl' vs '$sh' $(tail -1 sl.log)"; fi

# bad inputs: exit 2 naming the field, nothing written
"$PETREL" recon --config in/sss.json --scatter_iterations 0 --output never.nii.gz > bad.log 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q '"scatter_iterations"' bad.log && [ ! -e never.nii.gz ]; then ok "scatter_iterations 0: exit 2";
else bad "scatter_iterations 0: rc=$rc $(tail -1 bad.log)"; fi
"$PETREL" recon --config in/sss.json --iterations 2 --scatter_iterations 3 --output never.nii.gz > bad.log 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q '"scatter_iterations"' bad.log && [ ! -e never.nii.gz ]; then ok "scatter_iterations > iterations: exit 2";
else bad "scatter_iterations > iterations: rc=$rc $(tail -1 bad.log)"; fi
"$PETREL" recon --config in/recon.json --scatter estimate --output never.nii.gz > bad.log 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q '"attenuation_image"' bad.log && [ ! -e never.nii.gz ]; then ok "no mu-map: exit 2 naming attenuation_image";
else bad "no mu-map: rc=$rc $(tail -1 bad.log)"; fi
"$PETREL" scatter --config in/sss.json --output never.h5 > bad.log 2>&1; rc=$?
if [ $rc -eq 2 ] && [ ! -e never.h5 ]; then ok "petrel scatter without --image: exit 2"; else bad "scatter without --image: rc=$rc"; fi
echo "cli_scatter: $pass passed, $fail failed"
[ $fail -eq 0 ]
