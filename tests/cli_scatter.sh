#!/usr/bin/env bash
# petrel demo --scatter: the Monte-Carlo single scatter in the simulation, written to the
# inputs (/corrections/scatter) so that petrel recon corrects for it (recon.json) or not
# (recon_no_scatter.json); bad scatter options.
# usage: cli_scatter.sh PETREL FIXTURES_DIR
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
TO=${PET_CLI_TIMEOUT:-600}

timeout $TO "$PETREL" demo --scatter --scatter-photons 2e6 --counts 1e6 --iterations 1 --subsets 2 --out demo \
  --save-data in > demo.log 2>&1
check "demo --scatter writes its images and inputs" test -s demo/recon.nii.gz -a -s in/data.h5 -a -s in/recon.json \
  -a -s in/recon_no_scatter.json
check "... it reports the scatter fraction" grep -q "single scatter (fraction [0-9.]*%, corrected)" demo.log
check "... and the Monte Carlo's pairs/s" grep -q "scatter Monte Carlo: 2000000 photon pairs .* pairs/s" demo.log
check "recon.json reads the scatter, recon_no_scatter.json does not" \
  bash -c 'grep -q "\"scatter\": \"data.h5\"" in/recon.json && ! grep -q scatter in/recon_no_scatter.json'
timeout $TO "$PETREL" recon --config in/recon.json --output r1.nii.gz --quiet
check "recon with the scatter equals the demo's reconstruction" "$PETREL" diff demo/recon.nii.gz r1.nii.gz --tol 1e-5
timeout $TO "$PETREL" recon --config in/recon_no_scatter.json --output r0.nii.gz --quiet
check "recon without it differs" bash -c "test -s r0.nii.gz && ! '$PETREL' diff demo/recon.nii.gz r0.nii.gz --tol 1e-3 > /dev/null 2>&1"

# the demo's default has no scatter
timeout $TO "$PETREL" demo --counts 1e5 --iterations 1 --subsets 2 --out d0 --save-data in0 > d0.log 2>&1
check "the demo without --scatter: no scatter" bash -c 'test -s in0/recon.json && ! grep -qi scatter d0.log && ! grep -q scatter in0/recon.json && test ! -e in0/recon_no_scatter.json'

timeout 60 "$PETREL" demo --no-scatter-correction --out d1 > b1.log 2>&1
check "--no-scatter-correction without --scatter: exit 2 naming it" \
  bash -c "test $? -eq 2 && grep -q 'no-scatter-correction needs --scatter' b1.log && test ! -e d1"
timeout 60 "$PETREL" demo --scatter --scatter-photons 0 --out d2 > b2.log 2>&1
check "--scatter-photons 0: exit 2 naming it" bash -c "test $? -eq 2 && grep -q 'scatter-photons' b2.log"
timeout 60 "$PETREL" demo --scatter --scatter-photons 1.5e6x --out d3 > b3.log 2>&1
check "--scatter-photons not a number: exit 2" test $? -eq 2

echo "$pass passed, $fail failed"
test "$fail" -eq 0
